#include "ckernels.h"
#include "mergemath.h"
#include <immintrin.h>

// 8 × 8 blocks in registers (unpack, shuffle, swap halves: the usual 24 moves), the edges one by one.
// A copy: the same values whichever path moves them.
__attribute__((target("avx2")))
static inline void block8(const float *s, long lds, float *d, long ldd) {
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds), r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
    const __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds), r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5), t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE), u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

__attribute__((target("avx2")))
static void transpose_avx2(const float *src, long rows, long columns, long lds, float *dst, long ldd) {
    const long rows8 = rows / 8 * 8, columns8 = columns / 8 * 8;
    for (long i = 0; i < rows8; i += 8)
        for (long j = 0; j < columns8; j += 8) block8(src + i * lds + j, lds, dst + j * ldd + i, ldd);
    for (long i = 0; i < rows; i++)
        for (long j = i < rows8 ? columns8 : 0; j < columns; j++) dst[j * ldd + i] = src[i * lds + j];
}

// In 16 × 16 tiles: the tile's 16 destination rows (and source rows) stay in L1 while it is copied,
// where a row-at-a-time copy of a tall matrix touches a new cache line for every element written.
static void transpose_portable(const float *src, long rows, long columns, long lds, float *dst, long ldd) {
    for (long i0 = 0; i0 < rows; i0 += 16) {
        const long i1 = i0 + 16 < rows ? i0 + 16 : rows;
        for (long j0 = 0; j0 < columns; j0 += 16) {
            const long j1 = j0 + 16 < columns ? j0 + 16 : columns;
            for (long i = i0; i < i1; i++)
                for (long j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
        }
    }
}

void ckpt_transpose(const float *src, long rows, long columns, long lds, float *dst, long ldd) {
    if (has_avx2_fma()) transpose_avx2(src, rows, columns, lds, dst, ldd);
    else transpose_portable(src, rows, columns, lds, dst, ldd);
}
