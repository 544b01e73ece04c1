#include "ckernels.h"
#include "lowrankmath.h"
#include "mergemath.h"

void ckpt_lowrank_row_fma(const float *u, int r, const float *v, long ldv, long n, float *out) {
    if (has_avx2_fma()) lowrank_span_avx2(u, r, v, ldv, 0, n, out);
    else lowrank_span_portable(u, r, v, ldv, 0, n, out);
}

void ckpt_lowrank_rows_fma(const float *u, int r, long rows, const float *v, long ldv, long n, float *out) {
    long i = 0;
    if (has_avx2_fma())
        for (; i + 4 <= rows; i += 4) lowrank_span4_avx2(u + i * r, r, v, ldv, 0, n, out + i * n, n);
    for (; i < rows; i++) ckpt_lowrank_row_fma(u + i * r, r, v, ldv, n, out + i * n);
}
