#include "ckernels.h"

// In 16 × 16 tiles: the tile's 16 destination rows (and source rows) stay in L1 while it is copied,
// where a row-at-a-time copy of a tall matrix touches a new cache line for every element written.
void ckpt_transpose(const float *src, long rows, long columns, long lds, float *dst, long ldd) {
    for (long i0 = 0; i0 < rows; i0 += 16) {
        const long i1 = i0 + 16 < rows ? i0 + 16 : rows;
        for (long j0 = 0; j0 < columns; j0 += 16) {
            const long j1 = j0 + 16 < columns ? j0 + 16 : columns;
            for (long i = i0; i < i1; i++)
                for (long j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
        }
    }
}
