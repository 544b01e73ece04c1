#include "ckernels.h"
#include <math.h>
#include <string.h>
#include <stdint.h>

#define LANES 8

static inline float round_to_odd(double a) {
    float nearest = (float)a;
    double back = (double)nearest;
    uint32_t bits;
    memcpy(&bits, &nearest, 4);
    // Inexact, finite and even: one step towards a, which is +1 in the bit pattern when a lies further
    // from zero than the rounded value (either sign) and −1 otherwise. Written without branches.
    uint32_t inexact = (uint32_t)(back != a) & (uint32_t)(fabs(back) <= 3.4028234663852886e38);
    uint32_t even = (bits & 1u) ^ 1u;
    uint32_t away = (uint32_t)(fabs(a) > fabs(back));
    bits += (inexact & even) * (2u * away - 1u);
    memcpy(&nearest, &bits, 4);
    return nearest;
}

static inline int finite_double(double x) { return fabs(x) <= 1.7976931348623157e308; }

// The loop body once, compiled for AVX2 and portably (identical arithmetic, IEEE, no fast-math).
#define MERGE_ROW_BODY(ROUND)                                                                         \
    double eb[LANES] = {0}, ec[LANES] = {0};                                                   \
    int bad = 0;                                                                               \
    long j = 0;                                                                                \
    for (; j + LANES <= n; j += LANES) {                                                       \
        for (int l = 0; l < LANES; l++) {                                                      \
            double before = w[j + l];                                                          \
            double delta = sign * (double)(p[j + l] * scale);                                  \
            double after = before + delta;                                                     \
            bad |= (finite_double(after) ^ 1) & finite_double(before);                                        \
            eb[l] += before * before;                                                          \
            ec[l] += delta * delta;                                                            \
            out[j + l] = ROUND(after);               \
        }                                                                                      \
    }                                                                                          \
    for (; j < n; j++) {                                                                       \
        double before = w[j];                                                                  \
        double delta = sign * (double)(p[j] * scale);                                          \
        double after = before + delta;                                                         \
        bad |= (finite_double(after) ^ 1) & finite_double(before);                                            \
        eb[0] += before * before;                                                              \
        ec[0] += delta * delta;                                                                \
        out[j] = ROUND(after);                       \
    }                                                                                          \
    for (int l = 0; l < LANES; l++) { *base_energy += eb[l]; *change_energy += ec[l]; }        \
    if (bad) {                                                                                 \
        for (long k = 0; k < n; k++) {                                                         \
            double before = w[k], after = before + sign * (double)(p[k] * scale);              \
            if (!finite_double(after) && finite_double(before)) return k;                                \
        }                                                                                      \
    }                                                                                          \
    return -1;

__attribute__((target("avx2,fma")))
static long merge_row_avx2(const float *w, const float *p, float scale, double sign, long n, int round_to_odd_flag,
                           float *out, double *base_energy, double *change_energy) {
    if (round_to_odd_flag) { MERGE_ROW_BODY(round_to_odd) } else { MERGE_ROW_BODY((float)) }
}

static long merge_row_portable(const float *w, const float *p, float scale, double sign, long n, int round_to_odd_flag,
                               float *out, double *base_energy, double *change_energy) {
    if (round_to_odd_flag) { MERGE_ROW_BODY(round_to_odd) } else { MERGE_ROW_BODY((float)) }
}

long ckpt_merge_row(const float *w, const float *p, float scale, double sign, long n, int round_to_odd_flag,
                    float *out, double *base_energy, double *change_energy) {
    static int fast = -1;
    if (fast < 0) {
        __builtin_cpu_init();
        fast = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return fast ? merge_row_avx2(w, p, scale, sign, n, round_to_odd_flag, out, base_energy, change_energy)
                : merge_row_portable(w, p, scale, sign, n, round_to_odd_flag, out, base_energy, change_energy);
}
