#include "ckernels.h"
#include <math.h>

// One loop body compiled twice: for FMA + AVX2 (vectorised, fused) and portable (fmaf from libm).
// Both give identical bits because fma is exactly specified; only speed differs.
#define LOWRANK_ROW_BODY(FMA)                                   \
    for (long j = 0; j < n; j++) out[j] = 0.0f;                 \
    for (int k = 0; k < r; k++) {                               \
        const float a = u[k];                                   \
        const float *row = v + (long)k * ldv;                   \
        for (long j = 0; j < n; j++) out[j] = FMA(a, row[j], out[j]); \
    }

__attribute__((target("avx2,fma")))
static void row_fma_avx2(const float *u, int r, const float *v, long ldv, long n, float *out) {
    LOWRANK_ROW_BODY(__builtin_fmaf)
}

static void row_fma_portable(const float *u, int r, const float *v, long ldv, long n, float *out) {
    LOWRANK_ROW_BODY(fmaf)
}

void ckpt_lowrank_row_fma(const float *u, int r, const float *v, long ldv, long n, float *out) {
    static int fast = -1;
    if (fast < 0) {
        __builtin_cpu_init();
        fast = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    if (fast) row_fma_avx2(u, r, v, ldv, n, out);
    else row_fma_portable(u, r, v, ldv, n, out);
}
