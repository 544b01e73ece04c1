#include "ckernels.h"
#include "lowrankmath.h"
#include "mergemath.h"

// Columns per step: w, p and the merged floats of a chunk (3 KB) stay in L1 between the steps.
#define CHUNK 256

static inline void load_row(const void *w, int kind, long j0, long count, float *dst) {
    if (kind == CKPT_ROW_BF16) {
        const uint16_t *h = (const uint16_t *)w + j0;
        for (long j = 0; j < count; j++) dst[j] = f32_from_bf16(h[j]);
    } else {
        memcpy(dst, (const float *)w + j0, (size_t)count * 4);
    }
}

static inline void store_row(const float *src, int kind, long j0, long count, void *out) {
    if (kind == CKPT_ROW_BF16) {
        uint16_t *h = (uint16_t *)out + j0;
        for (long j = 0; j < count; j++) h[j] = bf16_from_f32(src[j]);
    } else {
        memcpy((float *)out + j0, src, (size_t)count * 4);
    }
}

__attribute__((target("avx2,fma")))
static inline void load_row_avx2(const void *w, int kind, long j0, long count, float *dst) {
    if (kind != CKPT_ROW_BF16) { load_row(w, kind, j0, count, dst); return; }
    const uint16_t *h = (const uint16_t *)w + j0;
    long j = 0;
    for (; j + 8 <= count; j += 8) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + j)));
        _mm256_storeu_ps(dst + j, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
    }
    for (; j < count; j++) dst[j] = f32_from_bf16(h[j]);
}

// bf16_from_f32 on eight lanes: the same integer steps, then the 16-bit halves packed in order.
__attribute__((target("avx2,fma")))
static inline void store_row_avx2(const float *src, int kind, long j0, long count, void *out) {
    if (kind != CKPT_ROW_BF16) { store_row(src, kind, j0, count, out); return; }
    uint16_t *h = (uint16_t *)out + j0;
    const __m256i one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7FFF), sign = _mm256_set1_epi32(0x8000);
    const __m256i quiet_bits = _mm256_set1_epi32(0x7FC0), magnitude = _mm256_set1_epi32(0x7FFFFFFF), infinity = _mm256_set1_epi32(0x7F800000);
    long j = 0;
    for (; j + 8 <= count; j += 8) {
        __m256i f = _mm256_castps_si256(_mm256_loadu_ps(src + j));
        __m256i high = _mm256_srli_epi32(f, 16);
        __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(f, half), _mm256_and_si256(high, one)), 16);
        __m256i quiet = _mm256_or_si256(_mm256_and_si256(high, sign), quiet_bits);
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(f, magnitude), infinity);
        __m256i bits = _mm256_blendv_epi8(rounded, quiet, nan);
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(bits, bits), 0xD8);
        _mm_storeu_si128((__m128i *)(h + j), _mm256_castsi256_si128(packed));
    }
    for (; j < count; j++) h[j] = bf16_from_f32(src[j]);
}

// Merges one chunk of one row (w and p as floats) into `merged`, adding to the row's lane energies.
// Returns 1 and the row's first bad column in `bad_at` when an element is not finite where w is.
__attribute__((target("avx2,fma")))
static inline int merge_chunk_avx2(const float *wf, const float *p, long j0, long count, long whole, float scale, double sign, int odd,
                                   __m256d *eb, __m256d *ec, float *merged, long *bad_at) {
    const __m128 vscale = _mm_set1_ps(scale);
    const __m256d vsign = _mm256_set1_pd(sign);
    const long vector = j0 + count <= whole ? count : whole - j0;
    // Sums in registers for the loop (through the pointers they would go through memory each step).
    __m256d badmask = _mm256_setzero_pd(), row_eb = *eb, row_ec = *ec;
    if (sign == 1.0 || sign == -1.0) {
        const __m256 vscale8 = _mm256_set1_ps(scale), signbit = _mm256_castsi256_ps(_mm256_set1_epi32(sign < 0 ? (int)0x80000000u : 0));
        long j = 0;
        int bad = 0;
        if (odd) {
            for (; j + 8 <= vector; j += 8) bad |= merge8(wf + j, p + j, vscale8, signbit, scale, sign, 1, &row_eb, &row_ec, merged + j);
        } else {
            for (; j + 8 <= vector; j += 8) bad |= merge8(wf + j, p + j, vscale8, signbit, scale, sign, 0, &row_eb, &row_ec, merged + j);
        }
        if (bad) badmask = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
        for (; j < vector; j += 4)
            _mm_storeu_ps(merged + j, merge4(_mm_loadu_ps(wf + j), _mm_loadu_ps(p + j), vscale, vsign, odd, &row_eb, &row_ec, &badmask));
    } else if (odd) {
        for (long j = 0; j < vector; j += 4)
            _mm_storeu_ps(merged + j, merge4(_mm_loadu_ps(wf + j), _mm_loadu_ps(p + j), vscale, vsign, 1, &row_eb, &row_ec, &badmask));
    } else {
        for (long j = 0; j < vector; j += 4)
            _mm_storeu_ps(merged + j, merge4(_mm_loadu_ps(wf + j), _mm_loadu_ps(p + j), vscale, vsign, 0, &row_eb, &row_ec, &badmask));
    }
    *eb = row_eb;
    *ec = row_ec;
    if (_mm256_movemask_pd(badmask)) { *bad_at = j0 + first_bad(wf, p, scale, sign, count); return 1; }
    if (vector < count) {
        // The row's last n mod 4 elements, into lane 0 as ckpt_merge_row adds them.
        double eb_lanes[LANES], ec_lanes[LANES];
        _mm256_storeu_pd(eb_lanes, *eb);
        _mm256_storeu_pd(ec_lanes, *ec);
        int bad = 0;
        for (long j = vector; j < count; j++) merged[j] = merge_one(wf, p, j, scale, sign, odd, &eb_lanes[0], &ec_lanes[0], &bad);
        if (bad) { *bad_at = j0 + first_bad(wf, p, scale, sign, count); return 1; }
        *eb = _mm256_loadu_pd(eb_lanes);
        *ec = _mm256_loadu_pd(ec_lanes);
    }
    return 0;
}

__attribute__((target("avx2,fma")))
static void add_lanes(__m256d eb, __m256d ec, double *base_energy, double *change_energy) {
    double eb_lanes[LANES], ec_lanes[LANES];
    _mm256_storeu_pd(eb_lanes, eb);
    _mm256_storeu_pd(ec_lanes, ec);
    for (int l = 0; l < LANES; l++) { *base_energy += eb_lanes[l]; *change_energy += ec_lanes[l]; }
}

static inline long row_width(int kind) { return kind == CKPT_ROW_BF16 ? 2 : 4; }

__attribute__((target("avx2,fma")))
static long merge_lowrank_avx2(const void *w, int w_kind, const float *u, int r, const float *v, long ldv, float scale, double sign,
                               long n, void *out, int out_kind, double *base_energy, double *change_energy) {
    float wf[CHUNK], p[CHUNK], merged[CHUNK];
    const int odd = out_kind == CKPT_ROW_BF16;
    __m256d eb = _mm256_setzero_pd(), ec = _mm256_setzero_pd();
    for (long j0 = 0; j0 < n; j0 += CHUNK) {
        const long count = n - j0 < CHUNK ? n - j0 : CHUNK;
        long bad_at;
        lowrank_span_avx2(u, r, v, ldv, j0, count, p);
        load_row_avx2(w, w_kind, j0, count, wf);
        if (merge_chunk_avx2(wf, p, j0, count, n - n % 4, scale, sign, odd, &eb, &ec, merged, &bad_at)) return bad_at;
        store_row_avx2(merged, out_kind, j0, count, out);
    }
    add_lanes(eb, ec, base_energy, change_energy);
    return -1;
}

// Four consecutive rows sharing each chunk's loads of V. Returns 1, having added no energy, when
// any element is bad (the caller redoes the rows one by one to name the first).
__attribute__((target("avx2,fma")))
static int merge_lowrank4_avx2(const char *w, int w_kind, const float *u, int r, const float *v, long ldv, float scale, double sign,
                               long n, char *out, int out_kind, double *base_energy, double *change_energy) {
    float wf[CHUNK], p[4 * CHUNK], merged[CHUNK];
    const int odd = out_kind == CKPT_ROW_BF16;
    const long in_row = n * row_width(w_kind), out_row = n * row_width(out_kind);
    __m256d eb[4], ec[4];
    for (int i = 0; i < 4; i++) { eb[i] = _mm256_setzero_pd(); ec[i] = _mm256_setzero_pd(); }
    for (long j0 = 0; j0 < n; j0 += CHUNK) {
        const long count = n - j0 < CHUNK ? n - j0 : CHUNK;
        lowrank_span4_avx2(u, r, v, ldv, j0, count, p, CHUNK);
        for (int i = 0; i < 4; i++) {
            long bad_at;
            load_row_avx2(w + i * in_row, w_kind, j0, count, wf);
            if (merge_chunk_avx2(wf, p + i * CHUNK, j0, count, n - n % 4, scale, sign, odd, &eb[i], &ec[i], merged, &bad_at)) return 1;
            store_row_avx2(merged, out_kind, j0, count, out + i * out_row);
        }
    }
    for (int i = 0; i < 4; i++) add_lanes(eb[i], ec[i], base_energy, change_energy);
    return 0;
}

static long merge_lowrank_portable(const void *w, int w_kind, const float *u, int r, const float *v, long ldv, float scale, double sign,
                                   long n, void *out, int out_kind, double *base_energy, double *change_energy) {
    float wf[CHUNK], p[CHUNK], merged[CHUNK];
    const int odd = out_kind == CKPT_ROW_BF16;
    double eb[LANES] = {0}, ec[LANES] = {0};
    const long whole = n - n % 4;
    for (long j0 = 0; j0 < n; j0 += CHUNK) {
        const long count = n - j0 < CHUNK ? n - j0 : CHUNK;
        const long vector = j0 + count <= whole ? count : whole - j0;
        lowrank_span_portable(u, r, v, ldv, j0, count, p);
        load_row(w, w_kind, j0, count, wf);
        int bad = 0;
        long j = 0;
        for (; j < vector; j += LANES)
            for (int l = 0; l < LANES; l++) merged[j + l] = merge_one(wf, p, j + l, scale, sign, odd, &eb[l], &ec[l], &bad);
        for (; j < count; j++) merged[j] = merge_one(wf, p, j, scale, sign, odd, &eb[0], &ec[0], &bad);
        if (bad) return j0 + first_bad(wf, p, scale, sign, count);
        store_row(merged, out_kind, j0, count, out);
    }
    for (int l = 0; l < LANES; l++) { *base_energy += eb[l]; *change_energy += ec[l]; }
    return -1;
}

static long merge_lowrank_row(const void *w, int w_kind, const float *u, int r, const float *v, long ldv, float scale, double sign,
                              long n, void *out, int out_kind, double *base_energy, double *change_energy) {
    return has_avx2_fma() ? merge_lowrank_avx2(w, w_kind, u, r, v, ldv, scale, sign, n, out, out_kind, base_energy, change_energy)
                          : merge_lowrank_portable(w, w_kind, u, r, v, ldv, scale, sign, n, out, out_kind, base_energy, change_energy);
}

long ckpt_merge_lowrank_rows(const void *w, int w_kind, const float *u, int r, const float *v, long ldv, float scale, double sign,
                             long n, long rows, void *out, int out_kind, double *base_energy, double *change_energy) {
    const long in_row = n * row_width(w_kind), out_row = n * row_width(out_kind);
    long i = 0;
    if (has_avx2_fma()) {
        // A group with a bad element stops the grouping: the loop below finds the first one in order.
        for (; i + 4 <= rows; i += 4)
            if (merge_lowrank4_avx2((const char *)w + i * in_row, w_kind, u + i * r, r, v, ldv, scale, sign, n, (char *)out + i * out_row, out_kind,
                                    base_energy, change_energy)) break;
    }
    for (; i < rows; i++) {
        long bad = merge_lowrank_row((const char *)w + i * in_row, w_kind, u + i * r, r, v, ldv, scale, sign, n, (char *)out + i * out_row, out_kind,
                                     base_energy, change_energy);
        if (bad >= 0) return i * n + bad;
    }
    return -1;
}
