#ifndef CKPT_CKERNELS_H
#define CKPT_CKERNELS_H

/// out[j] = fma(u[r-1], v[r-1][j], … fma(u[1], v[1][j], u[0] * v[0][j])) for j < n: one rank-r row
/// of U·V with a fused multiply-add chain in k order (each step rounded once, as IEEE fma defines),
/// so the result is the same bit for bit on every CPU. `v` is r rows of `ldv` floats.
void ckpt_lowrank_row_fma(const float *u, int r, const float *v, long ldv, long n, float *out);

/// `rows` consecutive rows of U·V (u: `rows` × r, out: `rows` × n) by `ckpt_lowrank_row_fma`'s chains,
/// four rows sharing each load of V: the same bits, less memory traffic.
void ckpt_lowrank_rows_fma(const float *u, int r, long rows, const float *v, long ldv, long n, float *out);

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

/// y = A·P for A m×n (rows `lda` floats apart), P n×l and y m×l row-major, read from A in place (no
/// packing copy). Each y element is fmaf(a[i][n-1], p[n-1][c], … fmaf(a[i][0], p[0][c], +0)): the
/// same bits on every CPU and whatever rows a call is given, so callers may split rows over threads.
void ckpt_panel_nn(const float *a, long m, long n, long lda, const float *p, long l, float *y);

/// Rows [j0, j1) of h = Aᵀ·X for A m×(≥ j1) (rows `lda` floats apart), X m×l and h row-major with l
/// columns (h points at row 0). Each element is the fmaf chain over i = 0 … m-1 from +0, so splitting
/// [0, n) over threads gives the bits of one call, with no reduction between them.
void ckpt_panel_tn(const float *a, long m, long lda, long j0, long j1, const float *x, long l, float *h);

/// dst[j × ldd + i] = src[i × lds + j] for i < rows, j < columns (a transposed copy, in tiles).
void ckpt_transpose(const float *src, long rows, long columns, long lds, float *dst, long ldd);

/// Element layouts `ckpt_merge_lowrank_row` reads and writes.
enum { CKPT_ROW_F32 = 0, CKPT_ROW_BF16 = 1 };

/// `ckpt_merge_row` for `rows` consecutive rows with everything around it fused, a cache-sized chunk
/// of columns at a time: decodes w (`w_kind`: f32 or bf16 bits, rows n elements apart), forms each
/// p = (row of u, r floats)·V exactly as `ckpt_lowrank_row_fma` does (four rows share each load of
/// V), merges as `ckpt_merge_row` does (round to odd for a bf16 output) and encodes into `out_kind`
/// (bf16: nearest even, NaN quieted, as the codecs do). Same bits and energies (added row by row)
/// as those steps in sequence, without the rows leaving the cache. Returns -1, or row × n + column
/// of the first element that is not finite where w is (the output is then incomplete).
long ckpt_merge_lowrank_rows(const void *w, int w_kind, const float *u, int r, const float *v, long ldv, float scale, double sign,
                             long n, long rows, void *out, int out_kind, double *base_energy, double *change_energy);

#endif
