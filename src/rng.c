/* SPDX-License-Identifier: MIT */
/* rng.c — Philox4x32-10 and the draws built on it (scalar reference). */
#include "regsweep/rng.h"

#include "regsweep/detmath.h"

/* Round multipliers and Weyl key increments from Salmon et al. (SC'11),
 * as in Random123's philox.h: PHILOX_M4x32_0/1, PHILOX_W32_0/1
 * (the golden ratio and sqrt(3)-1, as 32-bit fixed point). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void rs_philox4x32_10(const uint32_t ctr[4], rs_key_t key, uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, x0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, x2, &hi1);
        uint32_t y0 = hi1 ^ x1 ^ k0, y2 = hi0 ^ x3 ^ k1;
        x0 = y0;
        x1 = lo1;
        x2 = y2;
        x3 = lo0;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* 2pi rounded to float32 (0x40C90FDB). */
#define RS_TWO_PI_F 6.28318548202514648438f

void rs_normal_pair(uint32_t w0, uint32_t w1, float *z0, float *z1)
{
    float u1 = rs_u01_nonzero(w0), u2 = rs_u01(w1);
    float r = rs_sqrtf(-2.0f * rs_logf(u1));
    float t = RS_TWO_PI_F * u2;
    *z0 = r * rs_cosf(t);
    *z1 = r * rs_sinf(t);
}

void rs_fill_normal(rs_key_t key, uint32_t ctr0, uint32_t ctr1, float sd,
                    float *out, uint32_t n)
{
    for (uint32_t g = 0; 4 * (uint64_t)g < n; g++) {
        uint32_t ctr[4] = {ctr0, ctr1, g, 0}, w[4];
        float z[4];
        rs_philox4x32_10(ctr, key, w);
        rs_normal_pair(w[0], w[1], &z[0], &z[1]);
        rs_normal_pair(w[2], w[3], &z[2], &z[3]);
        for (uint32_t j = 0; j < 4 && 4 * g + j < n; j++)
            out[4 * g + j] = z[j] * sd;
    }
}

void rs_permutation(rs_key_t key, uint32_t ctr0, uint32_t ctr1, uint32_t *p,
                    uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = i;
    uint32_t w[4], block = UINT32_MAX;
    for (uint32_t j = n ? n - 1 : 0; j >= 1; j--) {
        if (j / 4 != block) {
            block = j / 4;
            uint32_t ctr[4] = {ctr0, ctr1, block, 0};
            rs_philox4x32_10(ctr, key, w);
        }
        uint32_t k = rs_bounded(w[j % 4], j + 1);
        uint32_t t = p[j];
        p[j] = p[k];
        p[k] = t;
    }
}

uint32_t rs_keep_threshold(float keep_prob)
{
    if (!(keep_prob > 0.0f))
        return 0;
    if (keep_prob >= 1.0f)
        return 1u << 24;
    /* keep_prob * 2^24 is exact (a power-of-two scaling of a float in
     * (0,1)), so the ceiling is exact too. */
    float scaled = keep_prob * 0x1p24f;
    uint32_t t = (uint32_t)scaled;
    return (float)t < scaled ? t + 1 : t;
}

uint64_t rs_dropout_mask_ref(rs_key_t key, uint32_t layer, uint32_t epoch,
                             uint32_t step, uint32_t n_samples,
                             uint32_t n_units, uint32_t threshold, float scale,
                             float *scale_mask, uint8_t *bits)
{
    uint32_t groups = (n_units + 3) / 4, row_bytes = (n_units + 7) / 8;
    uint64_t kept = 0;
    for (uint32_t b = 0; b < n_samples; b++) {
        if (bits)
            for (uint32_t i = 0; i < row_bytes; i++)
                bits[(uint64_t)b * row_bytes + i] = 0;
        for (uint32_t g = 0; g < groups; g++) {
            uint32_t ctr[4] = {rs_ctr0(RS_PURPOSE_DROPOUT, layer), epoch, step,
                               b * groups + g};
            uint32_t w[4];
            rs_philox4x32_10(ctr, key, w);
            for (uint32_t j = 0; j < 4; j++) {
                uint32_t u = 4 * g + j;
                if (u >= n_units)
                    break;
                int keep = (w[j] >> 8) < threshold;
                kept += (uint64_t)keep;
                if (scale_mask)
                    scale_mask[(uint64_t)b * n_units + u] = keep ? scale : 0.0f;
                if (bits && keep)
                    bits[(uint64_t)b * row_bytes + u / 8] |=
                        (uint8_t)(1u << (u % 8));
            }
        }
    }
    return kept;
}

void rs_input_noise_ref(rs_key_t key, uint32_t epoch, uint32_t step,
                        uint32_t n_rows, uint32_t n_features, float sd,
                        float *x)
{
    uint32_t groups = (n_features + 3) / 4;
    for (uint32_t b = 0; b < n_rows; b++) {
        float *row = x + (uint64_t)b * n_features;
        for (uint32_t g = 0; g < groups; g++) {
            uint32_t ctr[4] = {rs_ctr0(RS_PURPOSE_INPUT_NOISE, 0), epoch, step,
                               b * groups + g};
            uint32_t w[4];
            float z[4];
            rs_philox4x32_10(ctr, key, w);
            rs_normal_pair(w[0], w[1], &z[0], &z[1]);
            rs_normal_pair(w[2], w[3], &z[2], &z[3]);
            for (uint32_t j = 0; j < 4 && 4 * g + j < n_features; j++)
                row[4 * g + j] = row[4 * g + j] + sd * z[j];
        }
    }
}

/* The multipliers of every kind at counters (ctr0, ctr1, ctr2,
 * (row0 + b)*G + g); bits as rs_dropout_mask_ref (not for gaussian). */
static uint64_t noise_mask(rs_noise_kind kind, rs_key_t key, uint32_t ctr0,
                           uint32_t ctr1, uint32_t ctr2, uint32_t row0,
                           uint32_t n_samples, uint32_t n_units,
                           float keep_prob, float *mask, uint8_t *bits)
{
    uint32_t threshold = rs_keep_threshold(keep_prob);
    const float scale = 1.0f / keep_prob;
    const float gamma = 4.0f / (3.0f * keep_prob), half = gamma * 0.5f;
    const float sigma = rs_sqrtf((1.0f - keep_prob) / keep_prob);
    uint32_t groups = (n_units + 3) / 4, row_bytes = (n_units + 7) / 8;
    uint64_t nonzero = 0;
    if (kind == RS_NOISE_GAUSSIAN)
        bits = NULL;
    for (uint32_t b = 0; b < n_samples; b++) {
        if (bits)
            for (uint32_t i = 0; i < row_bytes; i++)
                bits[(uint64_t)b * row_bytes + i] = 0;
        for (uint32_t g = 0; g < groups; g++) {
            uint32_t ctr[4] = {ctr0, ctr1, ctr2, (row0 + b) * groups + g};
            uint32_t w[4];
            float z[4];
            rs_philox4x32_10(ctr, key, w);
            if (kind == RS_NOISE_GAUSSIAN) {
                rs_normal_pair(w[0], w[1], &z[0], &z[1]);
                rs_normal_pair(w[2], w[3], &z[2], &z[3]);
            }
            for (uint32_t j = 0; j < 4; j++) {
                uint32_t u = 4 * g + j;
                if (u >= n_units)
                    break;
                float m;
                if (kind == RS_NOISE_GAUSSIAN) {
                    m = 1.0f + sigma * z[j];
                } else {
                    int keep = (w[j] >> 8) < threshold;
                    m = !keep ? 0.0f
                        : kind == RS_NOISE_BERNOULLI ? scale
                        : (w[j] & 1u) ? gamma : half;
                    if (bits && keep)
                        bits[(uint64_t)b * row_bytes + u / 8] |=
                            (uint8_t)(1u << (u % 8));
                }
                nonzero += (uint64_t)(m != 0.0f);
                mask[(uint64_t)b * n_units + u] = m;
            }
        }
    }
    return nonzero;
}

uint64_t rs_noise_mask_ref(rs_noise_kind kind, rs_key_t key, uint32_t layer,
                           uint32_t epoch, uint32_t step, uint32_t n_samples,
                           uint32_t n_units, float keep_prob, float *mask,
                           uint8_t *bits)
{
    if (kind == RS_NOISE_BERNOULLI)
        return rs_dropout_mask_ref(key, layer, epoch, step, n_samples, n_units,
                                   rs_keep_threshold(keep_prob),
                                   1.0f / keep_prob, mask, bits);
    return noise_mask(kind, key, rs_ctr0(RS_PURPOSE_DROPOUT, layer), epoch,
                      step, 0, n_samples, n_units, keep_prob, mask, bits);
}

double rs_noise_var(rs_noise_kind kind, float keep_prob)
{
    if (!(keep_prob < 1.0f))
        return 0.0;
    double p = (double)keep_prob;
    switch (kind) {
    case RS_NOISE_THREE_POINT:
        return 10.0 / (9.0 * p) - 1.0;
    case RS_NOISE_BERNOULLI:
    case RS_NOISE_GAUSSIAN:
    default:
        return (1.0 - p) / p;
    }
}

uint64_t rs_noise_mask_at(rs_noise_kind kind, rs_key_t key, uint32_t ctr0,
                          uint32_t ctr1, uint32_t ctr2, uint32_t row0,
                          uint32_t n_samples, uint32_t n_units, float keep_prob,
                          float *mask)
{
    return noise_mask(kind, key, ctr0, ctr1, ctr2, row0, n_samples, n_units,
                      keep_prob, mask, NULL);
}

uint64_t rs_dropconnect_mask_ref(rs_key_t key, uint32_t layer, uint32_t epoch,
                                 uint32_t step, uint32_t n_rows,
                                 uint32_t n_cols, uint32_t threshold,
                                 float scale, float *mask, uint8_t *bits)
{
    const uint64_t n_weights = (uint64_t)n_rows * n_cols;
    const uint32_t row_bytes = (n_cols + 7) / 8;
    uint64_t kept = 0;
    for (uint64_t i = 0; bits && i < (uint64_t)n_rows * row_bytes; i++)
        bits[i] = 0;
    for (uint64_t g = 0; 4 * g < n_weights; g++) {
        uint32_t ctr[4] = {rs_ctr0(RS_PURPOSE_DROPCONNECT, layer), epoch, step,
                           (uint32_t)g};
        uint32_t w[4];
        rs_philox4x32_10(ctr, key, w);
        for (uint32_t j = 0; j < 4 && 4 * g + j < n_weights; j++) {
            uint64_t i = 4 * g + j;
            int keep = (w[j] >> 8) < threshold;
            kept += (uint64_t)keep;
            mask[i] = keep ? scale : 0.0f;
            if (bits && keep)
                bits[i / n_cols * row_bytes + i % n_cols / 8] |=
                    (uint8_t)(1u << (i % n_cols % 8));
        }
    }
    return kept;
}
