#ifndef CKPT_MERGEMATH_H
#define CKPT_MERGEMATH_H
// The merge arithmetic shared by mergerow.c and mergelowrank.c, so that the plain and the fused
// kernels cannot drift apart by a bit. Private to CKernels.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

// Energies are summed in 4 lanes (element j into lane j mod 4, the tail into lane 0) by every
// version, so the reported norms are the same bits on every CPU too.
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

/// First j < n whose merged value is not finite where w[j] is, or -1.
static inline long first_bad(const float *w, const float *p, float scale, double sign, long n) {
    for (long k = 0; k < n; k++) {
        double before = w[k], after = before + sign * (double)(p[k] * scale);
        if (!finite_double(after) && finite_double(before)) return k;
    }
    return -1;
}

/// Float32 bits → bfloat16 bits, nearest even, NaN quieted with its sign (HalfPrecision.f32BitsToBF16).
static inline uint16_t bf16_from_f32(float value) {
    uint32_t f;
    memcpy(&f, &value, 4);
    uint32_t rounded = (f + 0x7FFFu + ((f >> 16) & 1u)) >> 16;
    uint32_t quiet = ((f >> 16) & 0x8000u) | 0x7FC0u;
    return (uint16_t)((f & 0x7FFFFFFFu) > 0x7F800000u ? quiet : rounded);
}

static inline float f32_from_bf16(uint16_t h) {
    uint32_t f = (uint32_t)h << 16;
    float value;
    memcpy(&value, &f, 4);
    return value;
}

/// Four elements of merge_one at once (AVX2): float product, exact double sum, rounding to nearest
/// (cvtpd_ps under the default MXCSR) then, for round-to-odd, the same one-step correction.
__attribute__((target("avx2,fma")))
static inline __m128 merge4(__m128 w4, __m128 p4, __m128 vscale, __m256d vsign, int odd, __m256d *eb, __m256d *ec, __m256d *badmask) {
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d dmax = _mm256_set1_pd(DOUBLE_MAX), fmax = _mm256_set1_pd(FLOAT_MAX);
    const __m256i low32 = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m128i one = _mm_set1_epi32(1), minus_one = _mm_set1_epi32(-1);
    __m256d before = _mm256_cvtps_pd(w4);
    __m256d delta = _mm256_mul_pd(vsign, _mm256_cvtps_pd(_mm_mul_ps(p4, vscale)));
    __m256d after = _mm256_add_pd(before, delta);
    __m256d finite_after = _mm256_cmp_pd(_mm256_and_pd(after, absmask), dmax, _CMP_LE_OQ);
    __m256d finite_before = _mm256_cmp_pd(_mm256_and_pd(before, absmask), dmax, _CMP_LE_OQ);
    *badmask = _mm256_or_pd(*badmask, _mm256_andnot_pd(finite_after, finite_before));
    *eb = _mm256_add_pd(*eb, _mm256_mul_pd(before, before));
    *ec = _mm256_add_pd(*ec, _mm256_mul_pd(delta, delta));
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
    return nearest;
}

static inline int has_avx2_fma(void) {
    static int fast = -1;
    if (fast < 0) {
        __builtin_cpu_init();
        fast = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return fast;
}

#endif
