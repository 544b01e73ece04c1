#include "ckernels.h"
#include "mergemath.h"
#include <immintrin.h>
#include <math.h>

// Products of a large row-major matrix A with a panel of l columns (the passes of the randomized
// SVD), read from A in place: a general GEMM first copies (packs) A, which for a few dozen columns
// costs a visible part of the arithmetic. Every output element is one fused multiply-add chain
// over the inner index in increasing order, started from +0, whichever loop forms it (tile, column
// tail, row tail, portable): fma is exactly specified, so all give the same bits as the plain loop.
//
// The AVX2 tile is 6 rows × 16 columns: 12 accumulators, two panel vectors and one broadcast fill
// the 16 registers, and each panel load serves six rows. A remainder of 8 columns gets a 6 × 8
// tile, fewer than 8 the scalar chain, which is why callers pad panels to a multiple of 8 columns.

// Inner-index block of y = A·P: 6 rows × NN_BLOCK floats of A (12 KB) stay in L1 while the panel's
// column strips pass over them, the panel block (NN_BLOCK × l floats) stays in L2, and y goes through
// the cache once per block (512 measured faster than 256 for m = 5632, 1024 no faster still).
#define NN_BLOCK 512
// Rows of A per block of h = Aᵀ·X: a 6-column tile of A over these rows is IB cache lines, reused
// from L1 by every 16-column strip of X.
#define TN_BLOCK 128

static inline long min_long(long a, long b) { return a < b ? a : b; }

// y[r][c] for rows r < rows (a: rows of A, lda apart), columns [c, c + width) of the panel, inner
// indices [j0, j0 + count): the scalar chain, continuing from y unless `first`.
static inline void nn_scalar(const float *a, long rows, long lda, const float *p, long l, long j0, long count, long c, long width,
                             int first, float *y) {
    for (long r = 0; r < rows; r++)
        for (long cc = c; cc < c + width; cc++) {
            float s = first ? 0.0f : y[r * l + cc];
            for (long j = j0; j < j0 + count; j++) s = fmaf(a[r * lda + j], p[j * l + cc], s);
            y[r * l + cc] = s;
        }
}

static inline void tn_scalar(const float *a, long lda, const float *x, long l, long i0, long count, long j, long columns, long c,
                             long width, int first, float *h) {
    for (long jj = j; jj < j + columns; jj++)
        for (long cc = c; cc < c + width; cc++) {
            float s = first ? 0.0f : h[jj * l + cc];
            for (long i = i0; i < i0 + count; i++) s = fmaf(a[i * lda + jj], x[i * l + cc], s);
            h[jj * l + cc] = s;
        }
}

static void nn_portable(const float *a, long m, long n, long lda, const float *p, long l, float *y) {
    for (long j0 = 0; j0 < n; j0 += NN_BLOCK) nn_scalar(a, m, lda, p, l, j0, min_long(NN_BLOCK, n - j0), 0, l, j0 == 0, y);
}

static void tn_portable(const float *a, long m, long lda, long j0, long j1, const float *x, long l, float *h) {
    for (long i0 = 0; i0 < m; i0 += TN_BLOCK) tn_scalar(a, lda, x, l, i0, min_long(TN_BLOCK, m - i0), j0, j1 - j0, 0, l, i0 == 0, h);
}

#define LOAD2(s0, s1, at) \
    do { if (first) { s0 = _mm256_setzero_ps(); s1 = _mm256_setzero_ps(); } else { s0 = _mm256_loadu_ps(at); s1 = _mm256_loadu_ps((at) + 8); } } while (0)
#define LOAD1(s0, at) do { s0 = first ? _mm256_setzero_ps() : _mm256_loadu_ps(at); } while (0)
#define STORE2(s0, s1, at) do { _mm256_storeu_ps(at, s0); _mm256_storeu_ps((at) + 8, s1); } while (0)
#define STEP(b, s0, s1) do { s0 = _mm256_fmadd_ps(b, v0, s0); s1 = _mm256_fmadd_ps(b, v1, s1); } while (0)

__attribute__((target("avx2,fma")))
static void nn_avx2(const float *a, long m, long n, long lda, const float *p, long l, long c0, float *y) {
    const long strips = c0 + (l - c0) / 16 * 16, eights = c0 + (l - c0) / 8 * 8;
    for (long j0 = 0; j0 < n; j0 += NN_BLOCK) {
        const long count = min_long(NN_BLOCK, n - j0);
        const int first = j0 == 0;
        long i = 0;
        for (; i + 6 <= m; i += 6) {
            const float *a0 = a + i * lda + j0, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda;
            float *yi = y + i * l;
            for (long c = c0; c < strips; c += 16) {
                __m256 s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51;
                LOAD2(s00, s01, yi + c); LOAD2(s10, s11, yi + l + c); LOAD2(s20, s21, yi + 2 * l + c);
                LOAD2(s30, s31, yi + 3 * l + c); LOAD2(s40, s41, yi + 4 * l + c); LOAD2(s50, s51, yi + 5 * l + c);
                const float *pj = p + j0 * l + c;
                for (long j = 0; j < count; j++, pj += l) {
                    const __m256 v0 = _mm256_loadu_ps(pj), v1 = _mm256_loadu_ps(pj + 8);
                    STEP(_mm256_broadcast_ss(a0 + j), s00, s01);
                    STEP(_mm256_broadcast_ss(a1 + j), s10, s11);
                    STEP(_mm256_broadcast_ss(a2 + j), s20, s21);
                    STEP(_mm256_broadcast_ss(a3 + j), s30, s31);
                    STEP(_mm256_broadcast_ss(a4 + j), s40, s41);
                    STEP(_mm256_broadcast_ss(a5 + j), s50, s51);
                }
                STORE2(s00, s01, yi + c); STORE2(s10, s11, yi + l + c); STORE2(s20, s21, yi + 2 * l + c);
                STORE2(s30, s31, yi + 3 * l + c); STORE2(s40, s41, yi + 4 * l + c); STORE2(s50, s51, yi + 5 * l + c);
            }
            if (eights > strips) {
                __m256 s0, s1, s2, s3, s4, s5;
                LOAD1(s0, yi + strips); LOAD1(s1, yi + l + strips); LOAD1(s2, yi + 2 * l + strips);
                LOAD1(s3, yi + 3 * l + strips); LOAD1(s4, yi + 4 * l + strips); LOAD1(s5, yi + 5 * l + strips);
                const float *pj = p + j0 * l + strips;
                for (long j = 0; j < count; j++, pj += l) {
                    const __m256 v0 = _mm256_loadu_ps(pj);
                    s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + j), v0, s0);
                    s1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + j), v0, s1);
                    s2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a2 + j), v0, s2);
                    s3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a3 + j), v0, s3);
                    s4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a4 + j), v0, s4);
                    s5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a5 + j), v0, s5);
                }
                _mm256_storeu_ps(yi + strips, s0); _mm256_storeu_ps(yi + l + strips, s1); _mm256_storeu_ps(yi + 2 * l + strips, s2);
                _mm256_storeu_ps(yi + 3 * l + strips, s3); _mm256_storeu_ps(yi + 4 * l + strips, s4); _mm256_storeu_ps(yi + 5 * l + strips, s5);
            }
            if (eights < l) nn_scalar(a + i * lda, 6, lda, p, l, j0, count, eights, l - eights, first, yi);
        }
        for (; i < m; i++) {
            const float *ai = a + i * lda + j0;
            float *yi = y + i * l;
            for (long c = c0; c < strips; c += 16) {
                __m256 s0, s1;
                LOAD2(s0, s1, yi + c);
                const float *pj = p + j0 * l + c;
                for (long j = 0; j < count; j++, pj += l) {
                    const __m256 v0 = _mm256_loadu_ps(pj), v1 = _mm256_loadu_ps(pj + 8);
                    STEP(_mm256_broadcast_ss(ai + j), s0, s1);
                }
                STORE2(s0, s1, yi + c);
            }
            if (eights > strips) {
                __m256 s0;
                LOAD1(s0, yi + strips);
                const float *pj = p + j0 * l + strips;
                for (long j = 0; j < count; j++, pj += l) s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + j), _mm256_loadu_ps(pj), s0);
                _mm256_storeu_ps(yi + strips, s0);
            }
            if (eights < l) nn_scalar(a + i * lda, 1, lda, p, l, j0, count, eights, l - eights, first, yi);
        }
    }
}

__attribute__((target("avx2,fma")))
static void tn_avx2(const float *a, long m, long lda, long j0, long j1, const float *x, long l, long c0, float *h) {
    const long strips = c0 + (l - c0) / 16 * 16, eights = c0 + (l - c0) / 8 * 8;
    for (long i0 = 0; i0 < m; i0 += TN_BLOCK) {
        const long count = min_long(TN_BLOCK, m - i0);
        const int first = i0 == 0;
        long j = j0;
        for (; j + 6 <= j1; j += 6) {
            float *hj = h + j * l;
            for (long c = c0; c < strips; c += 16) {
                __m256 s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51;
                LOAD2(s00, s01, hj + c); LOAD2(s10, s11, hj + l + c); LOAD2(s20, s21, hj + 2 * l + c);
                LOAD2(s30, s31, hj + 3 * l + c); LOAD2(s40, s41, hj + 4 * l + c); LOAD2(s50, s51, hj + 5 * l + c);
                const float *ai = a + i0 * lda + j, *xi = x + i0 * l + c;
                for (long i = 0; i < count; i++, ai += lda, xi += l) {
                    const __m256 v0 = _mm256_loadu_ps(xi), v1 = _mm256_loadu_ps(xi + 8);
                    STEP(_mm256_broadcast_ss(ai), s00, s01);
                    STEP(_mm256_broadcast_ss(ai + 1), s10, s11);
                    STEP(_mm256_broadcast_ss(ai + 2), s20, s21);
                    STEP(_mm256_broadcast_ss(ai + 3), s30, s31);
                    STEP(_mm256_broadcast_ss(ai + 4), s40, s41);
                    STEP(_mm256_broadcast_ss(ai + 5), s50, s51);
                }
                STORE2(s00, s01, hj + c); STORE2(s10, s11, hj + l + c); STORE2(s20, s21, hj + 2 * l + c);
                STORE2(s30, s31, hj + 3 * l + c); STORE2(s40, s41, hj + 4 * l + c); STORE2(s50, s51, hj + 5 * l + c);
            }
            if (eights > strips) {
                __m256 s0, s1, s2, s3, s4, s5;
                LOAD1(s0, hj + strips); LOAD1(s1, hj + l + strips); LOAD1(s2, hj + 2 * l + strips);
                LOAD1(s3, hj + 3 * l + strips); LOAD1(s4, hj + 4 * l + strips); LOAD1(s5, hj + 5 * l + strips);
                const float *ai = a + i0 * lda + j, *xi = x + i0 * l + strips;
                for (long i = 0; i < count; i++, ai += lda, xi += l) {
                    const __m256 v0 = _mm256_loadu_ps(xi);
                    s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai), v0, s0);
                    s1 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 1), v0, s1);
                    s2 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 2), v0, s2);
                    s3 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 3), v0, s3);
                    s4 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 4), v0, s4);
                    s5 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + 5), v0, s5);
                }
                _mm256_storeu_ps(hj + strips, s0); _mm256_storeu_ps(hj + l + strips, s1); _mm256_storeu_ps(hj + 2 * l + strips, s2);
                _mm256_storeu_ps(hj + 3 * l + strips, s3); _mm256_storeu_ps(hj + 4 * l + strips, s4); _mm256_storeu_ps(hj + 5 * l + strips, s5);
            }
            if (eights < l) tn_scalar(a, lda, x, l, i0, count, j, 6, eights, l - eights, first, h);
        }
        for (; j < j1; j++) {
            float *hj = h + j * l;
            for (long c = c0; c < strips; c += 16) {
                __m256 s0, s1;
                LOAD2(s0, s1, hj + c);
                const float *ai = a + i0 * lda + j, *xi = x + i0 * l + c;
                for (long i = 0; i < count; i++, ai += lda, xi += l) {
                    const __m256 v0 = _mm256_loadu_ps(xi), v1 = _mm256_loadu_ps(xi + 8);
                    STEP(_mm256_broadcast_ss(ai), s0, s1);
                }
                STORE2(s0, s1, hj + c);
            }
            if (eights > strips) {
                __m256 s0;
                LOAD1(s0, hj + strips);
                const float *ai = a + i0 * lda + j, *xi = x + i0 * l + strips;
                for (long i = 0; i < count; i++, ai += lda, xi += l) s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai), _mm256_loadu_ps(xi), s0);
                _mm256_storeu_ps(hj + strips, s0);
            }
            if (eights < l) tn_scalar(a, lda, x, l, i0, count, j, 1, eights, l - eights, first, h);
        }
    }
}

// The AVX-512 tile is 6 rows × 32 columns (12 of the 32 registers): where 512-bit FMAs run at full
// width (Zen 5, Intel server cores) twice the work per instruction of the AVX2 tile. Columns past
// the last multiple of 32 go to the AVX2 loops, which form the same chains.
#define LOAD2W(s0, s1, at) \
    do { if (first) { s0 = _mm512_setzero_ps(); s1 = _mm512_setzero_ps(); } else { s0 = _mm512_loadu_ps(at); s1 = _mm512_loadu_ps((at) + 16); } } while (0)
#define STORE2W(s0, s1, at) do { _mm512_storeu_ps(at, s0); _mm512_storeu_ps((at) + 16, s1); } while (0)
#define STEPW(b, s0, s1) do { s0 = _mm512_fmadd_ps(b, v0, s0); s1 = _mm512_fmadd_ps(b, v1, s1); } while (0)

__attribute__((target("avx512f,avx2,fma")))
static void nn_avx512(const float *a, long m, long n, long lda, const float *p, long l, float *y) {
    const long wide = l / 32 * 32;
    for (long j0 = 0; j0 < n; j0 += NN_BLOCK) {
        const long count = min_long(NN_BLOCK, n - j0);
        const int first = j0 == 0;
        long i = 0;
        for (; i + 6 <= m; i += 6) {
            const float *a0 = a + i * lda + j0, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda, *a4 = a3 + lda, *a5 = a4 + lda;
            float *yi = y + i * l;
            for (long c = 0; c < wide; c += 32) {
                __m512 s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51;
                LOAD2W(s00, s01, yi + c); LOAD2W(s10, s11, yi + l + c); LOAD2W(s20, s21, yi + 2 * l + c);
                LOAD2W(s30, s31, yi + 3 * l + c); LOAD2W(s40, s41, yi + 4 * l + c); LOAD2W(s50, s51, yi + 5 * l + c);
                const float *pj = p + j0 * l + c;
                for (long j = 0; j < count; j++, pj += l) {
                    const __m512 v0 = _mm512_loadu_ps(pj), v1 = _mm512_loadu_ps(pj + 16);
                    STEPW(_mm512_set1_ps(a0[j]), s00, s01);
                    STEPW(_mm512_set1_ps(a1[j]), s10, s11);
                    STEPW(_mm512_set1_ps(a2[j]), s20, s21);
                    STEPW(_mm512_set1_ps(a3[j]), s30, s31);
                    STEPW(_mm512_set1_ps(a4[j]), s40, s41);
                    STEPW(_mm512_set1_ps(a5[j]), s50, s51);
                }
                STORE2W(s00, s01, yi + c); STORE2W(s10, s11, yi + l + c); STORE2W(s20, s21, yi + 2 * l + c);
                STORE2W(s30, s31, yi + 3 * l + c); STORE2W(s40, s41, yi + 4 * l + c); STORE2W(s50, s51, yi + 5 * l + c);
            }
        }
        for (; i < m; i++) {
            const float *ai = a + i * lda + j0;
            float *yi = y + i * l;
            for (long c = 0; c < wide; c += 32) {
                __m512 s0, s1;
                LOAD2W(s0, s1, yi + c);
                const float *pj = p + j0 * l + c;
                for (long j = 0; j < count; j++, pj += l) {
                    const __m512 v0 = _mm512_loadu_ps(pj), v1 = _mm512_loadu_ps(pj + 16);
                    STEPW(_mm512_set1_ps(ai[j]), s0, s1);
                }
                STORE2W(s0, s1, yi + c);
            }
        }
    }
    if (wide < l) nn_avx2(a, m, n, lda, p, l, wide, y);
}

__attribute__((target("avx512f,avx2,fma")))
static void tn_avx512(const float *a, long m, long lda, long j0, long j1, const float *x, long l, float *h) {
    const long wide = l / 32 * 32;
    for (long i0 = 0; i0 < m; i0 += TN_BLOCK) {
        const long count = min_long(TN_BLOCK, m - i0);
        const int first = i0 == 0;
        long j = j0;
        for (; j + 6 <= j1; j += 6) {
            float *hj = h + j * l;
            for (long c = 0; c < wide; c += 32) {
                __m512 s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51;
                LOAD2W(s00, s01, hj + c); LOAD2W(s10, s11, hj + l + c); LOAD2W(s20, s21, hj + 2 * l + c);
                LOAD2W(s30, s31, hj + 3 * l + c); LOAD2W(s40, s41, hj + 4 * l + c); LOAD2W(s50, s51, hj + 5 * l + c);
                const float *ai = a + i0 * lda + j, *xi = x + i0 * l + c;
                for (long i = 0; i < count; i++, ai += lda, xi += l) {
                    const __m512 v0 = _mm512_loadu_ps(xi), v1 = _mm512_loadu_ps(xi + 16);
                    STEPW(_mm512_set1_ps(ai[0]), s00, s01);
                    STEPW(_mm512_set1_ps(ai[1]), s10, s11);
                    STEPW(_mm512_set1_ps(ai[2]), s20, s21);
                    STEPW(_mm512_set1_ps(ai[3]), s30, s31);
                    STEPW(_mm512_set1_ps(ai[4]), s40, s41);
                    STEPW(_mm512_set1_ps(ai[5]), s50, s51);
                }
                STORE2W(s00, s01, hj + c); STORE2W(s10, s11, hj + l + c); STORE2W(s20, s21, hj + 2 * l + c);
                STORE2W(s30, s31, hj + 3 * l + c); STORE2W(s40, s41, hj + 4 * l + c); STORE2W(s50, s51, hj + 5 * l + c);
            }
        }
        for (; j < j1; j++) {
            float *hj = h + j * l;
            for (long c = 0; c < wide; c += 32) {
                __m512 s0, s1;
                LOAD2W(s0, s1, hj + c);
                const float *ai = a + i0 * lda + j, *xi = x + i0 * l + c;
                for (long i = 0; i < count; i++, ai += lda, xi += l) {
                    const __m512 v0 = _mm512_loadu_ps(xi), v1 = _mm512_loadu_ps(xi + 16);
                    STEPW(_mm512_set1_ps(*ai), s0, s1);
                }
                STORE2W(s0, s1, hj + c);
            }
        }
    }
    if (wide < l) tn_avx2(a, m, lda, j0, j1, x, l, wide, h);
}

static int use_avx512(void) {
    static int fast = -1;
    if (fast < 0) {
        __builtin_cpu_init();
        fast = has_avx2_fma() && __builtin_cpu_supports("avx512f");
    }
    return fast;
}

void ckpt_panel_nn(const float *a, long m, long n, long lda, const float *p, long l, float *y) {
    if (m <= 0 || l <= 0) return;
    if (n <= 0) {
        for (long i = 0; i < m * l; i++) y[i] = 0.0f;
        return;
    }
    if (use_avx512()) nn_avx512(a, m, n, lda, p, l, y);
    else if (has_avx2_fma()) nn_avx2(a, m, n, lda, p, l, 0, y);
    else nn_portable(a, m, n, lda, p, l, y);
}

void ckpt_panel_tn(const float *a, long m, long lda, long j0, long j1, const float *x, long l, float *h) {
    if (j1 <= j0 || l <= 0) return;
    if (m <= 0) {
        for (long i = j0 * l; i < j1 * l; i++) h[i] = 0.0f;
        return;
    }
    if (use_avx512()) tn_avx512(a, m, lda, j0, j1, x, l, h);
    else if (has_avx2_fma()) tn_avx2(a, m, lda, j0, j1, x, l, 0, h);
    else tn_portable(a, m, lda, j0, j1, x, l, h);
}
