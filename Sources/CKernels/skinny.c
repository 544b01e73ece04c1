#include "ckernels.h"
#include <math.h>

// Products of a large matrix with an 8-column block, streaming over A once without the packing copy
// a general GEMM makes of its operands (for 8 columns that copy costs more than the arithmetic).
// Four rows at a time so each load of the block serves four rows. Written once, compiled for
// AVX2 + FMA and portably; fmaf is exactly specified, so both give the same bits.
#define SKINNY_NN_BODY(FMA)                                                          \
    long i = 0;                                                                      \
    for (; i + 4 <= m; i += 4) {                                                     \
        float s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};                    \
        const float *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda; \
        for (long j = 0; j < n; j++) {                                               \
            const float *gj = g + j * 8;                                             \
            for (int c = 0; c < 8; c++) {                                            \
                s0[c] = FMA(a0[j], gj[c], s0[c]);                                    \
                s1[c] = FMA(a1[j], gj[c], s1[c]);                                    \
                s2[c] = FMA(a2[j], gj[c], s2[c]);                                    \
                s3[c] = FMA(a3[j], gj[c], s3[c]);                                    \
            }                                                                        \
        }                                                                            \
        for (int c = 0; c < 8; c++) {                                                \
            y[i * 8 + c] = s0[c]; y[(i + 1) * 8 + c] = s1[c];                        \
            y[(i + 2) * 8 + c] = s2[c]; y[(i + 3) * 8 + c] = s3[c];                  \
        }                                                                            \
    }                                                                                \
    for (; i < m; i++) {                                                             \
        float s[8] = {0};                                                            \
        const float *ai = a + i * lda;                                               \
        for (long j = 0; j < n; j++)                                                 \
            for (int c = 0; c < 8; c++) s[c] = FMA(ai[j], g[j * 8 + c], s[c]);      \
        for (int c = 0; c < 8; c++) y[i * 8 + c] = s[c];                             \
    }

#define SKINNY_TN_BODY(FMA)                                                          \
    long i = 0;                                                                      \
    for (; i + 4 <= m; i += 4) {                                                     \
        const float *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda; \
        const float *x0 = x + i * 8, *x1 = x0 + 8, *x2 = x1 + 8, *x3 = x2 + 8;       \
        for (long j = 0; j < n; j++) {                                               \
            float *hj = h + j * 8;                                                   \
            for (int c = 0; c < 8; c++)                                              \
                hj[c] = FMA(a3[j], x3[c], FMA(a2[j], x2[c], FMA(a1[j], x1[c], FMA(a0[j], x0[c], hj[c])))); \
        }                                                                            \
    }                                                                                \
    for (; i < m; i++) {                                                             \
        const float *ai = a + i * lda, *xi = x + i * 8;                              \
        for (long j = 0; j < n; j++)                                                 \
            for (int c = 0; c < 8; c++) h[j * 8 + c] = FMA(ai[j], xi[c], h[j * 8 + c]); \
    }

__attribute__((target("avx2,fma")))
static void nn_avx2(const float *a, long m, long n, long lda, const float *g, float *y) { SKINNY_NN_BODY(__builtin_fmaf) }
static void nn_portable(const float *a, long m, long n, long lda, const float *g, float *y) { SKINNY_NN_BODY(fmaf) }
__attribute__((target("avx2,fma")))
static void tn_avx2(const float *a, long m, long n, long lda, const float *x, float *h) { SKINNY_TN_BODY(__builtin_fmaf) }
static void tn_portable(const float *a, long m, long n, long lda, const float *x, float *h) { SKINNY_TN_BODY(fmaf) }

static int use_avx2(void) {
    static int fast = -1;
    if (fast < 0) {
        __builtin_cpu_init();
        fast = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return fast;
}

void ckpt_skinny8_nn(const float *a, long m, long n, long lda, const float *g, float *y) {
    if (use_avx2()) nn_avx2(a, m, n, lda, g, y);
    else nn_portable(a, m, n, lda, g, y);
}

void ckpt_skinny8_tn(const float *a, long m, long n, long lda, const float *x, float *h) {
    if (use_avx2()) tn_avx2(a, m, n, lda, x, h);
    else tn_portable(a, m, n, lda, x, h);
}
