#ifndef CKPT_LOWRANKMATH_H
#define CKPT_LOWRANKMATH_H
// Spans of one rank-r row u·V, shared by lowrank.c and mergelowrank.c. Private to CKernels.
#include <immintrin.h>
#include <math.h>

// Every element is the same fused multiply-add chain in k order, started from +0, whichever loop
// forms it: fma is exactly specified, so the vector, scalar and portable loops give the same bits.
// The vector loop keeps 32 columns in four registers for all of k, so p is stored once instead of
// being loaded and stored r times.
__attribute__((target("avx2,fma")))
static inline void lowrank_span_avx2(const float *u, int r, const float *v, long ldv, long j0, long count, float *p) {
    long j = 0;
    for (; j + 32 <= count; j += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        const float *column = v + j0 + j;
        for (int k = 0; k < r; k++) {
            const __m256 uk = _mm256_set1_ps(u[k]);
            const float *row = column + (long)k * ldv;
            a0 = _mm256_fmadd_ps(uk, _mm256_loadu_ps(row), a0);
            a1 = _mm256_fmadd_ps(uk, _mm256_loadu_ps(row + 8), a1);
            a2 = _mm256_fmadd_ps(uk, _mm256_loadu_ps(row + 16), a2);
            a3 = _mm256_fmadd_ps(uk, _mm256_loadu_ps(row + 24), a3);
        }
        _mm256_storeu_ps(p + j, a0);
        _mm256_storeu_ps(p + j + 8, a1);
        _mm256_storeu_ps(p + j + 16, a2);
        _mm256_storeu_ps(p + j + 24, a3);
    }
    for (; j + 8 <= count; j += 8) {
        __m256 a = _mm256_setzero_ps();
        for (int k = 0; k < r; k++) a = _mm256_fmadd_ps(_mm256_set1_ps(u[k]), _mm256_loadu_ps(v + (long)k * ldv + j0 + j), a);
        _mm256_storeu_ps(p + j, a);
    }
    for (; j < count; j++) {
        float a = 0.0f;
        for (int k = 0; k < r; k++) a = __builtin_fmaf(u[k], v[(long)k * ldv + j0 + j], a);
        p[j] = a;
    }
}

// Four rows at once (u holds their r coefficients each, p their spans `ldp` apart): each load of V
// serves four rows, which quarters the traffic from L2 that bounds the one-row loop. Same chains.
__attribute__((target("avx2,fma")))
static inline void lowrank_span4_avx2(const float *u, int r, const float *v, long ldv, long j0, long count, float *p, long ldp) {
    long j = 0;
    for (; j + 16 <= count; j += 16) {
        __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
        __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(), a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
        const float *column = v + j0 + j;
        for (int k = 0; k < r; k++) {
            const float *row = column + (long)k * ldv;
            const __m256 v0 = _mm256_loadu_ps(row), v1 = _mm256_loadu_ps(row + 8);
            __m256 b = _mm256_set1_ps(u[k]);
            a00 = _mm256_fmadd_ps(b, v0, a00);
            a01 = _mm256_fmadd_ps(b, v1, a01);
            b = _mm256_set1_ps(u[r + k]);
            a10 = _mm256_fmadd_ps(b, v0, a10);
            a11 = _mm256_fmadd_ps(b, v1, a11);
            b = _mm256_set1_ps(u[2 * r + k]);
            a20 = _mm256_fmadd_ps(b, v0, a20);
            a21 = _mm256_fmadd_ps(b, v1, a21);
            b = _mm256_set1_ps(u[3 * r + k]);
            a30 = _mm256_fmadd_ps(b, v0, a30);
            a31 = _mm256_fmadd_ps(b, v1, a31);
        }
        _mm256_storeu_ps(p + j, a00);
        _mm256_storeu_ps(p + j + 8, a01);
        _mm256_storeu_ps(p + ldp + j, a10);
        _mm256_storeu_ps(p + ldp + j + 8, a11);
        _mm256_storeu_ps(p + 2 * ldp + j, a20);
        _mm256_storeu_ps(p + 2 * ldp + j + 8, a21);
        _mm256_storeu_ps(p + 3 * ldp + j, a30);
        _mm256_storeu_ps(p + 3 * ldp + j + 8, a31);
    }
    for (int i = 0; i < 4; i++) lowrank_span_avx2(u + (long)i * r, r, v, ldv, j0 + j, count - j, p + (long)i * ldp + j);
}

static inline void lowrank_span_portable(const float *u, int r, const float *v, long ldv, long j0, long count, float *p) {
    for (long j = 0; j < count; j++) p[j] = 0.0f;
    for (int k = 0; k < r; k++) {
        const float a = u[k];
        const float *row = v + (long)k * ldv + j0;
        for (long j = 0; j < count; j++) p[j] = fmaf(a, row[j], p[j]);
    }
}

#endif
