#include "ckernels.h"
#include "mergemath.h"

static long finish(const float *w, const float *p, float scale, double sign, long n, int bad,
                   const double *eb, const double *ec, double *base_energy, double *change_energy) {
    for (int l = 0; l < LANES; l++) { *base_energy += eb[l]; *change_energy += ec[l]; }
    return bad ? first_bad(w, p, scale, sign, n) : -1;
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

__attribute__((target("avx2,fma")))
static long merge_row_avx2(const float *w, const float *p, float scale, double sign, long n, int odd,
                           float *out, double *base_energy, double *change_energy) {
    const __m128 vscale = _mm_set1_ps(scale);
    const __m256d vsign = _mm256_set1_pd(sign);
    __m256d eb = _mm256_setzero_pd(), ec = _mm256_setzero_pd(), badmask = _mm256_setzero_pd();
    long j = 0;
    for (; j + 4 <= n; j += 4)
        _mm_storeu_ps(out + j, merge4(_mm_loadu_ps(w + j), _mm_loadu_ps(p + j), vscale, vsign, odd, &eb, &ec, &badmask));
    double eb_lanes[LANES], ec_lanes[LANES];
    _mm256_storeu_pd(eb_lanes, eb);
    _mm256_storeu_pd(ec_lanes, ec);
    int bad = _mm256_movemask_pd(badmask) != 0;
    for (; j < n; j++) out[j] = merge_one(w, p, j, scale, sign, odd, &eb_lanes[0], &ec_lanes[0], &bad);
    return finish(w, p, scale, sign, n, bad, eb_lanes, ec_lanes, base_energy, change_energy);
}

long ckpt_merge_row(const float *w, const float *p, float scale, double sign, long n, int round_to_odd_flag,
                    float *out, double *base_energy, double *change_energy) {
    return has_avx2_fma() ? merge_row_avx2(w, p, scale, sign, n, round_to_odd_flag, out, base_energy, change_energy)
                : merge_row_portable(w, p, scale, sign, n, round_to_odd_flag, out, base_energy, change_energy);
}
