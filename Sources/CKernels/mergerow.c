#include "ckernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

// Energies are summed in 4 lanes (element j into lane j mod 4, the tail into lane 0) by both
// versions below, so the reported norms are the same bits on every CPU too.
#define LANES 4
#define FLOAT_MAX 3.4028234663852886e38
#define DOUBLE_MAX 1.7976931348623157e308

static inline int finite_double(double x) { return fabs(x) <= DOUBLE_MAX; }

static inline float round_to_odd(double a) {
    float nearest = (float)a;
    double back = (double)nearest;
    uint32_t bits;
    memcpy(&bits, &nearest, 4);
    // Inexact, finite and even: one step towards a, which is +1 in the bit pattern when a lies
    // further from zero than the rounded value (either sign) and −1 otherwise.
    if (back != a && fabs(back) <= FLOAT_MAX && (bits & 1u) == 0) bits += fabs(a) > fabs(back) ? 1u : (uint32_t)-1;
    memcpy(&nearest, &bits, 4);
    return nearest;
}

static inline float merge_one(const float *w, const float *p, long j, float scale, double sign, int odd, double *eb, double *ec, int *bad) {
    double before = w[j];
    double delta = sign * (double)(p[j] * scale);
    double after = before + delta;
    *bad |= !finite_double(after) && finite_double(before);
    *eb += before * before;
    *ec += delta * delta;
    return odd ? round_to_odd(after) : (float)after;
}

static long finish(const float *w, const float *p, float scale, double sign, long n, int bad,
                   const double *eb, const double *ec, double *base_energy, double *change_energy) {
    for (int l = 0; l < LANES; l++) { *base_energy += eb[l]; *change_energy += ec[l]; }
    if (!bad) return -1;
    for (long k = 0; k < n; k++) {
        double before = w[k], after = before + sign * (double)(p[k] * scale);
        if (!finite_double(after) && finite_double(before)) return k;
    }
    return -1;
}

static long merge_row_portable(const float *w, const float *p, float scale, double sign, long n, int odd,
                               float *out, double *base_energy, double *change_energy) {
    double eb[LANES] = {0}, ec[LANES] = {0};
    int bad = 0;
    long j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) out[j + l] = merge_one(w, p, j + l, scale, sign, odd, &eb[l], &ec[l], &bad);
    for (; j < n; j++) out[j] = merge_one(w, p, j, scale, sign, odd, &eb[0], &ec[0], &bad);
    return finish(w, p, scale, sign, n, bad, eb, ec, base_energy, change_energy);
}

// The same arithmetic four elements at a time (AVX2): float product, exact double sum, rounding to
// nearest (cvtpd_ps under the default MXCSR) then, for round-to-odd, the same one-step correction.
__attribute__((target("avx2,fma")))
static long merge_row_avx2(const float *w, const float *p, float scale, double sign, long n, int odd,
                           float *out, double *base_energy, double *change_energy) {
    const __m128 vscale = _mm_set1_ps(scale);
    const __m256d vsign = _mm256_set1_pd(sign);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d dmax = _mm256_set1_pd(DOUBLE_MAX), fmax = _mm256_set1_pd(FLOAT_MAX);
    const __m256i low32 = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m128i one = _mm_set1_epi32(1), minus_one = _mm_set1_epi32(-1);
    __m256d eb = _mm256_setzero_pd(), ec = _mm256_setzero_pd(), badmask = _mm256_setzero_pd();
    long j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d before = _mm256_cvtps_pd(_mm_loadu_ps(w + j));
        __m256d delta = _mm256_mul_pd(vsign, _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(p + j), vscale)));
        __m256d after = _mm256_add_pd(before, delta);
        __m256d finite_after = _mm256_cmp_pd(_mm256_and_pd(after, absmask), dmax, _CMP_LE_OQ);
        __m256d finite_before = _mm256_cmp_pd(_mm256_and_pd(before, absmask), dmax, _CMP_LE_OQ);
        badmask = _mm256_or_pd(badmask, _mm256_andnot_pd(finite_after, finite_before));
        eb = _mm256_add_pd(eb, _mm256_mul_pd(before, before));
        ec = _mm256_add_pd(ec, _mm256_mul_pd(delta, delta));
        __m128 nearest = _mm256_cvtpd_ps(after);
        if (odd) {
            __m256d back = _mm256_cvtps_pd(nearest);
            __m256d back_abs = _mm256_and_pd(back, absmask);
            __m256d inexact = _mm256_and_pd(_mm256_cmp_pd(back, after, _CMP_NEQ_UQ), _mm256_cmp_pd(back_abs, fmax, _CMP_LE_OQ));
            __m256d away = _mm256_cmp_pd(_mm256_and_pd(after, absmask), back_abs, _CMP_GT_OQ);
            __m128i inexact32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(inexact), low32));
            __m128i away32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(away), low32));
            __m128i bits = _mm_castps_si128(nearest);
            __m128i even = _mm_cmpeq_epi32(_mm_and_si128(bits, one), _mm_setzero_si128());
            __m128i step = _mm_blendv_epi8(minus_one, one, away32);
            bits = _mm_add_epi32(bits, _mm_and_si128(_mm_and_si128(inexact32, even), step));
            nearest = _mm_castsi128_ps(bits);
        }
        _mm_storeu_ps(out + j, nearest);
    }
    double eb_lanes[LANES], ec_lanes[LANES];
    _mm256_storeu_pd(eb_lanes, eb);
    _mm256_storeu_pd(ec_lanes, ec);
    int bad = _mm256_movemask_pd(badmask) != 0;
    for (; j < n; j++) out[j] = merge_one(w, p, j, scale, sign, odd, &eb_lanes[0], &ec_lanes[0], &bad);
    return finish(w, p, scale, sign, n, bad, eb_lanes, ec_lanes, base_energy, change_energy);
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
