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

/// Eight elements of merge_one without double-precision steps. t = w + Float32(p·scale) in Float32 is
/// the exact sum rounded once to nearest: what merge4 gives a Float32 output (the double sum of two
/// floats is exact or so far below w's last bit that both roundings return w). For a bfloat16 output
/// (`to_bf16`), t rounds to the same bfloat16 as the exact sum unless t lies exactly on a bfloat16
/// midpoint (low 16 bits 0x8000), where the Float32 rounding may have made the tie. Those lanes
/// (about one in 65,536 on random data) are redone by merge_one's round-to-odd path, so the bits
/// equal merge4's; `merged` then holds floats that round to them. Energies go into the lanes as two
/// merge4 steps would add them. Returns the mask of lanes that are not finite where w is.
__attribute__((target("avx2,fma")))
static inline __attribute__((always_inline)) int merge8(const float *w, const float *p, __m256 vscale, __m256 signbit, float scale, double sign, int to_bf16,
                         __m256d *eb, __m256d *ec, float *merged) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF), largest = _mm256_set1_epi32(0x7F7FFFFF);
    const __m256i low16 = _mm256_set1_epi32(0xFFFF), midpoint = _mm256_set1_epi32(0x8000);
    const __m256 w8 = _mm256_loadu_ps(w);
    const __m256 d8 = _mm256_xor_ps(_mm256_mul_ps(_mm256_loadu_ps(p), vscale), signbit);
    const __m256 t = _mm256_add_ps(w8, d8);
    const __m256d w_low = _mm256_cvtps_pd(_mm256_castps256_ps128(w8)), w_high = _mm256_cvtps_pd(_mm256_extractf128_ps(w8, 1));
    const __m256d d_low = _mm256_cvtps_pd(_mm256_castps256_ps128(d8)), d_high = _mm256_cvtps_pd(_mm256_extractf128_ps(d8, 1));
    *eb = _mm256_add_pd(*eb, _mm256_mul_pd(w_low, w_low));
    *ec = _mm256_add_pd(*ec, _mm256_mul_pd(d_low, d_low));
    *eb = _mm256_add_pd(*eb, _mm256_mul_pd(w_high, w_high));
    *ec = _mm256_add_pd(*ec, _mm256_mul_pd(d_high, d_high));
    // W + ΔW leaves the finite doubles only through a non-finite ΔW (two finite floats cannot).
    const __m256i w_finite = _mm256_cmpgt_epi32(_mm256_add_epi32(largest, _mm256_set1_epi32(1)), _mm256_and_si256(_mm256_castps_si256(w8), magnitude));
    const __m256i d_infinite = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_castps_si256(d8), magnitude), largest);
    const int bad = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(w_finite, d_infinite)));
    _mm256_storeu_ps(merged, t);
    const int ties = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(t), low16), midpoint)));
    if (to_bf16 && ties) {
        for (int l = 0; l < 8; l++)
            if (ties & (1 << l)) merged[l] = round_to_odd((double)w[l] + sign * (double)(p[l] * scale));
    }
    return bad;
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
