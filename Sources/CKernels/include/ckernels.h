#ifndef CKPT_CKERNELS_H
#define CKPT_CKERNELS_H

/// out[j] = fma(u[r-1], v[r-1][j], … fma(u[1], v[1][j], u[0] * v[0][j])) for j < n: one rank-r row
/// of U·V with a fused multiply-add chain in k order (each step rounded once, as IEEE fma defines),
/// so the result is the same bit for bit on every CPU. `v` is r rows of `ldv` floats.
void ckpt_lowrank_row_fma(const float *u, int r, const float *v, long ldv, long n, float *out);

#endif
