/* SPDX-License-Identifier: MIT */
/* test_rng.c — Philox4x32-10 against Random123's known answers, and the
 * documented mapping from counters to draws. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/rng.h"

/* Random123 tests/kat_vectors (philox4x32, 10 rounds): counter, key,
 * expected output.  Copied from the published file (commit 9545ff64). */
static const uint32_t KAT[3][10] = {
    {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};

Test(rng, philox4x32_10_known_answers)
{
    for (int i = 0; i < 3; i++) {
        rs_key_t key = {{KAT[i][4], KAT[i][5]}};
        uint32_t out[4] = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
        rs_philox4x32_10(KAT[i], key, out);
        for (int j = 0; j < 4; j++)
            cr_assert_eq(out[j], KAT[i][6 + j], "vector %d word %d: %08x != %08x",
                         i, j, out[j], KAT[i][6 + j]);
    }
}

Test(rng, key_from_seed_splits_words)
{
    rs_key_t k = rs_key_from_seed(0x0123456789abcdefull);
    cr_assert_eq(k.k[0], 0x89abcdefu);
    cr_assert_eq(k.k[1], 0x01234567u);
}

/* keep iff (w >> 8) < threshold must equal keep iff u01(w) < keep_prob, for
 * every one of the 2^24 values the top 24 bits can take. */
Test(rng, keep_threshold_matches_float_comparison)
{
    const float probs[] = {0.5f, 0.7f, 0.9f, 0.2f, 1e-7f, 0.99999994f, 1.0f};
    for (size_t p = 0; p < sizeof probs / sizeof *probs; p++) {
        uint32_t t = rs_keep_threshold(probs[p]);
        for (uint32_t top = 0; top < (1u << 24); top++) {
            uint32_t w = top << 8 | 0xA5;
            int by_int = top < t, by_float = rs_u01(w) < probs[p];
            if (by_int != by_float)
                cr_assert_fail("keep %.9g top %u: int %d float %d", probs[p],
                               top, by_int, by_float);
        }
    }
    /* exact values: 0.5 -> 2^23; 0.7f = 11744051 * 2^-24 -> 11744051 */
    cr_assert_eq(rs_keep_threshold(0.5f), 1u << 23);
    cr_assert_eq(rs_keep_threshold(0.7f), 11744051u);
    cr_assert_eq(rs_keep_threshold(1.0f), 1u << 24);
}

Test(rng, u01_ranges_are_exact)
{
    cr_assert_eq(rs_u01(0), 0.0f);
    cr_assert_eq(rs_u01(0xffffffffu), 1.0f - 0x1p-24f);
    cr_assert_eq(rs_u01_nonzero(0), 0x1p-24f);
    cr_assert_eq(rs_u01_nonzero(0xffffffffu), 1.0f);
}

/* The mask of unit u of sample b must come from word u%4 of the block with
 * counter (4 | layer<<8, epoch, step, b*ceil(H/4) + u/4): recomputed here
 * directly from the formula in docs/FORMAT.md. */
Test(rng, dropout_mask_counter_mapping)
{
    rs_key_t key = rs_key_from_seed(12345);
    const uint32_t B = 7, H = 13, layer = 1, epoch = 3, step = 2;
    float scale = 1.0f / 0.7f;
    uint32_t t = rs_keep_threshold(0.7f);
    float *m = malloc(B * H * sizeof *m);
    uint8_t bits[7 * 2];
    memset(bits, 0xEE, sizeof bits);
    uint64_t kept = rs_dropout_mask_ref(key, layer, epoch, step, B, H, t, scale,
                                        m, bits);
    uint64_t count = 0;
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t u = 0; u < H; u++) {
            uint32_t ctr[4] = {4u | layer << 8, epoch, step, b * 4 + u / 4}, w[4];
            rs_philox4x32_10(ctr, key, w);
            int keep = (w[u % 4] >> 8) < t;
            count += keep;
            cr_assert_eq(m[b * H + u], keep ? scale : 0.0f);
            cr_assert_eq((bits[b * 2 + u / 8] >> (u % 8)) & 1, keep);
        }
    cr_assert_eq(kept, count);
    for (uint32_t b = 0; b < B; b++)   /* padding bits 13..15 are zero */
        cr_assert_eq(bits[b * 2 + 1] >> 5, 0);
    free(m);
}

/* Independent statistical check: the share kept is keep_prob within 6
 * binomial standard deviations, and smaller keep sets are subsets. */
Test(rng, dropout_share_and_subsets)
{
    rs_key_t key = rs_key_from_seed(99);
    const uint32_t B = 256, H = 512;
    uint8_t *lo = malloc(B * H / 8), *hi = malloc(B * H / 8);
    uint64_t k_lo = rs_dropout_mask_ref(key, 0, 0, 0, B, H, rs_keep_threshold(0.5f),
                                        2.0f, NULL, lo);
    uint64_t k_hi = rs_dropout_mask_ref(key, 0, 0, 0, B, H, rs_keep_threshold(0.8f),
                                        1.25f, NULL, hi);
    double n = (double)B * H;
    cr_assert(fabs(k_lo - 0.5 * n) < 6 * sqrt(n * 0.25), "kept %llu", (unsigned long long)k_lo);
    cr_assert(fabs(k_hi - 0.8 * n) < 6 * sqrt(n * 0.16), "kept %llu", (unsigned long long)k_hi);
    for (uint32_t i = 0; i < B * H / 8; i++)
        cr_assert_eq(lo[i] & ~hi[i], 0, "unit kept at 0.5 but dropped at 0.8");
    free(lo);
    free(hi);
}

Test(rng, permutation_is_a_permutation_and_depends_on_epoch)
{
    rs_key_t key = rs_key_from_seed(5);
    const uint32_t n = 1000;
    uint32_t p0[1000], p1[1000];
    rs_permutation(key, rs_ctr0(RS_PURPOSE_SHUFFLE, 0), 0, p0, n);
    rs_permutation(key, rs_ctr0(RS_PURPOSE_SHUFFLE, 0), 1, p1, n);
    uint8_t seen[1000] = {0};
    int same = 0;
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_lt(p0[i], n);
        cr_assert_eq(seen[p0[i]]++, 0, "index %u twice", p0[i]);
        same += p0[i] == p1[i];
    }
    cr_assert_lt(same, 20, "epochs 0 and 1 agree in %d places", same);
    /* the first swap is documented: j = n-1 swaps with
     * rs_bounded(word 3 of block 249, n) */
    uint32_t ctr[4] = {3, 0, (n - 1) / 4, 0}, w[4];
    rs_philox4x32_10(ctr, key, w);
    uint32_t k = (uint32_t)(((uint64_t)w[(n - 1) % 4] * n) >> 32);
    /* after all swaps p[n-1] is never touched again: it holds k */
    cr_assert_eq(p0[n - 1], k);
}

/* Box-Muller in float with detmath against the same formula in double with
 * libm: they agree to a few float ulps. */
Test(rng, normal_pair_matches_double_formula)
{
    rs_key_t key = rs_key_from_seed(2024);
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t ctr[4] = {1, 0, i, 0}, w[4];
        rs_philox4x32_10(ctr, key, w);
        float z0, z1;
        rs_normal_pair(w[0], w[1], &z0, &z1);
        double u1 = ((w[0] >> 8) + 1) * 0x1p-24, u2 = (w[1] >> 8) * 0x1p-24;
        double r = sqrt(-2 * log(u1)), t = 2 * 3.141592653589793 * u2;
        double e0 = r * cos(t), e1 = r * sin(t);
        cr_assert(fabs(z0 - e0) <= 1e-5 * (1 + fabs(e0)), "%g vs %g", z0, e0);
        cr_assert(fabs(z1 - e1) <= 1e-5 * (1 + fabs(e1)), "%g vs %g", z1, e1);
    }
}

/* 400k normal draws: mean, variance and a Kolmogorov-Smirnov distance
 * against Phi computed with libm's erfc. */
static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

Test(rng, fill_normal_is_standard_normal)
{
    const uint32_t n = 400000;
    float *z = malloc(n * sizeof *z);
    rs_fill_normal(rs_key_from_seed(77), rs_ctr0(RS_PURPOSE_INIT, 0), 0, 1.0f, z, n);
    double s = 0, s2 = 0;
    for (uint32_t i = 0; i < n; i++) {
        s += z[i];
        s2 += (double)z[i] * z[i];
    }
    double mean = s / n, var = s2 / n - mean * mean;
    cr_assert(fabs(mean) < 5 / sqrt(n), "mean %g", mean);
    cr_assert(fabs(var - 1) < 5 * sqrt(2.0 / n), "var %g", var);
    qsort(z, n, sizeof *z, cmp_float);
    double d = 0;
    for (uint32_t i = 0; i < n; i++) {
        double f = 0.5 * erfc(-z[i] / sqrt(2.0));
        double a = fabs(f - (double)i / n), b = fabs(f - (double)(i + 1) / n);
        d = fmax(d, fmax(a, b));
    }
    /* KS critical value at alpha = 0.001: 1.95 / sqrt(n) */
    cr_assert(d < 1.95 / sqrt(n), "KS distance %g", d);
    free(z);
}

/* reg.input_noise_sd draws against tests/integration/philox_np.py (an
 * independent numpy Philox and Box-Muller written from docs/FORMAT.md):
 * philox_np.input_noise(42, 3, 5, 2, 6) and
 * philox_np.input_noise(2**32 + 9, 0, 0, 1, 3), printed with %.9e.  numpy's
 * float32 log/cos/sin may differ from detmath by an ulp, hence the
 * tolerance; a wrong counter word would change every value completely. */
Test(rng, input_noise_matches_numpy_reimplementation)
{
    const float want[2][6] = {
        {4.612384140e-01f, -7.166842222e-01f, 3.993584216e-01f, 9.084722400e-01f,
         -1.001690105e-01f, -1.068458796e+00f},
        {-3.373519778e-01f, -9.508640766e-01f, -1.246025339e-01f, 4.774439931e-01f,
         -2.316444814e-01f, 6.886588782e-02f}};
    float x[12] = {0};
    rs_input_noise_ref(rs_key_from_seed(42), 3, 5, 2, 6, 1.0f, x);
    for (int i = 0; i < 12; i++)
        cr_assert(fabsf(x[i] - want[i / 6][i % 6]) <= 1e-6f * (1.0f + fabsf(want[i / 6][i % 6])),
                  "row %d feature %d: %.9g, numpy %.9g", i / 6, i % 6, x[i], want[i / 6][i % 6]);
    const float want2[3] = {5.363405943e-01f, -4.396994710e-01f, -3.334930241e-01f};
    float y[3] = {0};
    rs_input_noise_ref(rs_key_from_seed((1ull << 32) + 9), 0, 0, 1, 3, 1.0f, y);
    for (int i = 0; i < 3; i++)
        cr_assert(fabsf(y[i] - want2[i]) <= 1e-6f * (1.0f + fabsf(want2[i])), "%d: %.9g", i, y[i]);
    /* the noise is added, scaled: x = x + sd * z, one rounding each */
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = 2.0f;
    rs_input_noise_ref(rs_key_from_seed(42), 3, 5, 2, 6, 0.25f, v);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(v[i], 2.0f + 0.25f * x[i], "%d", i);
    /* the draws of a row do not depend on how many rows the batch has */
    float one[6] = {0};
    rs_input_noise_ref(rs_key_from_seed(42), 3, 5, 1, 6, 1.0f, one);
    cr_assert_eq(memcmp(one, x, sizeof one), 0);
}

/* reg.noise multipliers against tests/integration/philox_np.py's
 * noise_multipliers(kind, 42, 1, 2, 3, 2, 5, 0.6), printed with %.9e:
 * three_point exactly (only float division and a halving), gaussian to
 * numpy's float32 log/cos/sin (an ulp or so). */
Test(rng, noise_multipliers_match_numpy_reimplementation)
{
    const float three[10] = {0, 1.111111045e+00f, 0, 1.111111045e+00f, 0,
                             1.111111045e+00f, 2.222222090e+00f, 2.222222090e+00f, 0, 0};
    const float gauss[10] = {9.158075452e-01f, 1.473168015e+00f, 7.397624254e-01f,
                             1.581943989e+00f, 1.253493071e+00f, 2.377211809e+00f,
                             1.019682765e+00f, 2.084509611e+00f, 1.389404535e-01f,
                             1.692143440e+00f};
    float m[10];
    uint8_t bits[2], bern_bits[2];
    rs_key_t key = rs_key_from_seed(42);
    cr_assert_eq(rs_noise_mask_ref(RS_NOISE_THREE_POINT, key, 1, 2, 3, 2, 5, 0.6f, m, bits), 5);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(m[i], three[i], "%d: %.9g", i, m[i]);
    /* the nonzero pattern is Bernoulli dropout's, bit for bit */
    rs_dropout_mask_ref(key, 1, 2, 3, 2, 5, rs_keep_threshold(0.6f), 1.0f / 0.6f, NULL,
                        bern_bits);
    cr_assert_eq(memcmp(bits, bern_bits, 2), 0);
    memset(bits, 0xAB, sizeof bits);
    cr_assert_eq(rs_noise_mask_ref(RS_NOISE_GAUSSIAN, key, 1, 2, 3, 2, 5, 0.6f, m, bits), 10);
    cr_assert_eq(bits[0], 0xAB, "gaussian writes no bits");
    for (int i = 0; i < 10; i++)
        cr_assert(fabsf(m[i] - gauss[i]) <= 1e-6f * (1.0f + fabsf(gauss[i])), "%d: %.9g", i, m[i]);
    /* bernoulli through this entry is the reference dropout mask */
    float a[10], b[10];
    rs_noise_mask_ref(RS_NOISE_BERNOULLI, key, 1, 2, 3, 2, 5, 0.6f, a, NULL);
    rs_dropout_mask_ref(key, 1, 2, 3, 2, 5, rs_keep_threshold(0.6f), 1.0f / 0.6f, b, NULL);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
}

/* Mean 1 and the documented variances over 4 million multipliers:
 * three_point takes only 0, gamma/2, gamma with P(0) = 1-p and
 * P(gamma/2) = P(gamma) = p/2, variance 10/(9p) - 1; gaussian has
 * variance (1-p)/p.  (Standard errors: about 1e-3 on the means.) */
Test(rng, noise_multipliers_have_mean_one)
{
    enum { ROWS = 4096, UNITS = 1000 };
    float *m = malloc(sizeof(float) * ROWS * UNITS);
    const float p = 0.7f;
    const double gamma = 4.0f / (3.0f * p);
    rs_key_t key = rs_key_from_seed(3);
    rs_noise_mask_ref(RS_NOISE_THREE_POINT, key, 0, 0, 0, ROWS, UNITS, p, m, NULL);
    double sum = 0, sq = 0, n0 = 0, nhalf = 0, nfull = 0, n = (double)ROWS * UNITS;
    for (size_t i = 0; i < (size_t)ROWS * UNITS; i++) {
        sum += m[i];
        sq += (double)m[i] * m[i];
        n0 += m[i] == 0.0f;
        nhalf += m[i] == (float)(gamma * 0.5);
        nfull += m[i] == (float)gamma;
    }
    cr_assert_eq(n0 + nhalf + nfull, n, "three_point takes other values");
    cr_assert(fabs(sum / n - 1.0) < 3e-3, "mean %g", sum / n);
    cr_assert(fabs(n0 / n - 0.3) < 2e-3 && fabs(nhalf / n - 0.35) < 2e-3, "%g %g", n0 / n, nhalf / n);
    double var = sq / n - (sum / n) * (sum / n);
    cr_assert(fabs(var - (10.0 / (9.0 * 0.7) - 1.0)) < 5e-3, "var %g", var);
    rs_noise_mask_ref(RS_NOISE_GAUSSIAN, key, 0, 0, 0, ROWS, UNITS, p, m, NULL);
    sum = sq = 0;
    for (size_t i = 0; i < (size_t)ROWS * UNITS; i++) {
        sum += m[i];
        sq += (double)m[i] * m[i];
    }
    var = sq / n - (sum / n) * (sum / n);
    cr_assert(fabs(sum / n - 1.0) < 3e-3, "mean %g", sum / n);
    cr_assert(fabs(var - 0.3 / 0.7) < 5e-3, "var %g", var);
    free(m);
}

/* DropConnect masks against tests/integration/philox_np.py:
 * dropconnect_keep(42, 2, 1, 3, 10, 0.5) = 1 1 0 1 1 1 1 1 0 0 and
 * np.packbits(dropconnect_keep(7, 1, 0, 0, 64, 0.3), bitorder="little") =
 * 76 41 33 143 24 131 163 1; kept weights carry 1/keep, dropped 0.  The
 * recorded bits of that 8 x 8 matrix are those bytes, one per row; of the
 * 2 x 5 one, row r's bits 0..4 are weights 5r .. 5r+4 (11011, 11100). */
Test(rng, dropconnect_mask_matches_numpy_reimplementation)
{
    const int want[10] = {1, 1, 0, 1, 1, 1, 1, 1, 0, 0};
    float m[64];
    uint8_t bits[8];
    cr_assert_eq(rs_dropconnect_mask_ref(rs_key_from_seed(42), 2, 1, 3, 2, 5,
                                         rs_keep_threshold(0.5f), 2.0f, m, bits), 7);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(m[i], want[i] ? 2.0f : 0.0f, "weight %d", i);
    cr_assert_eq(bits[0], 0x1b, "row 0: 1 1 0 1 1");
    cr_assert_eq(bits[1], 0x07, "row 1: 1 1 1 0 0");
    const uint8_t packed[8] = {76, 41, 33, 143, 24, 131, 163, 1};
    rs_dropconnect_mask_ref(rs_key_from_seed(7), 1, 0, 0, 8, 8, rs_keep_threshold(0.3f),
                            1.0f / 0.3f, m, bits);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(m[i] != 0.0f, (packed[i / 8] >> (i % 8)) & 1, "weight %d", i);
    cr_assert_eq(memcmp(bits, packed, 8), 0, "recorded bits");
}
