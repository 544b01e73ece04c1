#ifndef CKPT_CKERNELS_H
#define CKPT_CKERNELS_H

/// out[j] = fma(u[r-1], v[r-1][j], … fma(u[1], v[1][j], u[0] * v[0][j])) for j < n: one rank-r row
/// of U·V with a fused multiply-add chain in k order (each step rounded once, as IEEE fma defines),
/// so the result is the same bit for bit on every CPU. `v` is r rows of `ldv` floats.
void ckpt_lowrank_row_fma(const float *u, int r, const float *v, long ldv, long n, float *out);

/// One merged (sign = 1) or unmerged (sign = -1) row of a single plain LoRA step, fused:
/// out[j] = round(w[j] + sign * (float)(p[j] * scale)), with W + ΔW formed exactly in double and
/// rounded to float either to nearest-even (Float32 output) or to odd (`round_to_odd`, for a second,
/// exact rounding into a 16-bit dtype). Adds Σ w² and Σ ΔW² to the two energies (partial sums in a
/// fixed lane order: deterministic). Returns the first j whose result is NaN or infinite where w[j]
/// is finite, or -1.
long ckpt_merge_row(const float *w, const float *p, float scale, double sign, long n, int round_to_odd,
                    float *out, double *base_energy, double *change_energy);

/// y = A·G for A m×n (rows `lda` floats apart) and G n×8 row-major; y m×8 row-major. One streaming
/// pass over A, no packing copy (for 8 columns, a general GEMM's packing costs more than its arithmetic).
void ckpt_skinny8_nn(const float *a, long m, long n, long lda, const float *g, float *y);

/// h += Aᵀ·X for A m×n (rows `lda` floats apart) and X m×8 row-major; h n×8 row-major.
void ckpt_skinny8_tn(const float *a, long m, long n, long lda, const float *x, float *h);

#endif
