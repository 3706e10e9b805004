/* SPDX-License-Identifier: MIT */
/* rng.h — Philox4x32-10 and every draw regsweep makes from it.
 *
 * The generator is a pure function: out = philox4x32_10(counter, key).  There
 * is no state.  A job's key is its seed; each draw is addressed by a counter
 * that says what the draw is for (see enum rs_purpose and docs/FORMAT.md,
 * "Random numbers"), so no draw depends on how many draws came before it, on
 * the thread that makes it or on the order jobs run in.
 *
 * Counter word 0 holds the purpose in its low 8 bits and a sub-index (the
 * layer, or the data split) in its high 24 bits; words 1..3 are given per
 * purpose below.
 */
#ifndef RS_RNG_H
#define RS_RNG_H

#include <stdint.h>

#include "regsweep/common.h"

/* Philox4x32 key: two 32-bit words. */
typedef struct rs_key {
    uint32_t k[2];
} rs_key_t;

/* key = (seed mod 2^32, seed div 2^32). */
static inline rs_key_t rs_key_from_seed(uint64_t seed)
{
    rs_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    return key;
}

/* What a draw is for: the low byte of counter word 0. */
enum rs_purpose {
    RS_PURPOSE_INIT = 1,      /* (1 | layer<<8, tensor, i/4, 0)            */
    RS_PURPOSE_DATA = 2,      /* (2 | split<<8, point, 0, 0)               */
    RS_PURPOSE_SHUFFLE = 3,   /* (3, epoch, j/4, 0)                        */
    RS_PURPOSE_DROPOUT = 4,   /* (4 | layer<<8, epoch, step, b*G + u/4)    */
    RS_PURPOSE_BOOTSTRAP = 5, /* (5 | stream<<8, replicate, i/4, 0)        */
    RS_PURPOSE_SPLIT = 6,     /* (6, 0, j/4, 0)                            */
    RS_PURPOSE_INPUT_NOISE = 7, /* (7, epoch, step, b*G + f/4), G = ceil(F/4) */
    RS_PURPOSE_DROPCONNECT = 8, /* (8 | layer<<8, epoch, step, i/4)        */
    RS_PURPOSE_MC_DROPOUT = 9   /* (9 | layer<<8, entry, sample, i*G + u/4) */
};

/* Philox4x32 with 10 rounds (Salmon, Moraes, Dror, Shaw, SC'11), exactly as
 * Random123's philox4x32_R(10, ctr, key).  ctr and out may alias. */
void rs_philox4x32_10(const uint32_t ctr[4], rs_key_t key, uint32_t out[4]);

/* Counter word 0 for a purpose and its sub-index (sub < 2^24). */
static inline uint32_t rs_ctr0(enum rs_purpose purpose, uint32_t sub)
{
    return (uint32_t)purpose | (sub << 8);
}

/* The top 24 bits of w as a float in [0, 1): (w >> 8) * 2^-24.  Exact. */
static inline float rs_u01(uint32_t w)
{
    return (float)(w >> 8) * 0x1p-24f;
}

/* As rs_u01 but in (0, 1]: ((w >> 8) + 1) * 2^-24.  Exact. */
static inline float rs_u01_nonzero(uint32_t w)
{
    return (float)((w >> 8) + 1) * 0x1p-24f;
}

/* An integer in [0, n): floor(w * n / 2^32).  No rejection step, so an
 * index is favoured by at most n / 2^32 (below 1.4e-5 for n = 60000). */
static inline uint32_t rs_bounded(uint32_t w, uint32_t n)
{
    return (uint32_t)(((uint64_t)w * n) >> 32);
}

/* Two N(0,1) draws from two words by Box-Muller in float32 with detmath:
 *   u1 = rs_u01_nonzero(w0), u2 = rs_u01(w1),
 *   r = sqrtf(-2 * rs_logf(u1)), t = 2pi * u2 (2pi rounded to float),
 *   z0 = r * rs_cosf(t), z1 = r * rs_sinf(t). */
void rs_normal_pair(uint32_t w0, uint32_t w1, float *z0, float *z1);

/* n draws N(0,1) * sd into out, element i from the block
 *   philox((ctr0, ctr1, i/4, 0), key), slot i%4: slots (0,1) and (2,3) are
 * Box-Muller pairs, even slot the cosine branch. */
void rs_fill_normal(rs_key_t key, uint32_t ctr0, uint32_t ctr1, float sd,
                    float *out, uint32_t n);

/* A permutation of 0..n-1 by Fisher-Yates: p = identity; for j = n-1 down to
 * 1: k = rs_bounded(w_j, j+1), swap p[j], p[k], where w_j is word j%4 of
 * philox((ctr0, ctr1, j/4, 0), key).  Used for the per-epoch shuffle
 * (ctr0 = RS_PURPOSE_SHUFFLE, ctr1 = epoch) and the validation split. */
void rs_permutation(rs_key_t key, uint32_t ctr0, uint32_t ctr1, uint32_t *p,
                    uint32_t n);

/* Dropout keep threshold for a keep probability rounded to float32:
 * ceil(keep_prob * 2^24).  A unit is kept iff (w >> 8) < threshold, which is
 * the same as rs_u01(w) < keep_prob.  keep_prob 1 keeps every unit, and the
 * units kept at a smaller keep_prob are a subset of those kept at a larger. */
uint32_t rs_keep_threshold(float keep_prob);

/* The dropout mask of one layer at one training step (scalar reference;
 * the fast paths are in kernels.h and give identical output).
 *   layer < 2^24 is the dense layer whose activations are dropped (0-based);
 *   units: H, samples: B (the rows of the minibatch, in batch order);
 *   G = ceil(H/4); requires B * G <= 2^32.
 * Word j of philox((rs_ctr0(RS_PURPOSE_DROPOUT, layer), epoch, step,
 * b*G + g), key) decides unit u = 4g + j of sample b (words for u >= H are
 * unused): kept iff (word >> 8) < threshold.
 * Outputs (either may be NULL):
 *   scale_mask[b*H + u] = kept ? scale : 0.0f   (B x H floats)
 *   bits: row b starts at byte b * ceil(H/8); unit u is bit (u % 8) of byte
 *         u / 8 (LSB first), 1 = kept; padding bits are 0.
 * Returns the number of kept units. */
uint64_t rs_dropout_mask_ref(rs_key_t key, uint32_t layer, uint32_t epoch,
                             uint32_t step, uint32_t n_samples,
                             uint32_t n_units, uint32_t threshold, float scale,
                             float *scale_mask, uint8_t *bits);

/* The distribution of the dropout multipliers (reg.noise).  Each has mean
 * 1, so the expected activation is the clean one, as for inverted
 * dropout. */
typedef enum rs_noise_kind {
    RS_NOISE_BERNOULLI = 0,   /* 0 or 1/p: rs_dropout_mask_ref             */
    RS_NOISE_THREE_POINT = 1, /* 0, gamma/2 or gamma, gamma = 4 / (3p)      */
    RS_NOISE_GAUSSIAN = 2     /* 1 + sqrt((1-p)/p) z, z ~ N(0, 1)           */
} rs_noise_kind;

/* The multipliers of one layer at one training step for every kind of
 * noise, from the dropout counters: word j of
 *   philox((rs_ctr0(RS_PURPOSE_DROPOUT, layer), epoch, step, b*G + g), key),
 *   G = ceil(H/4), belongs to unit u = 4g + j of sample b, exactly as for
 * Bernoulli dropout (same words, so the same common random numbers).  With
 * p = keep_prob (a float in (0, 1)) and T = rs_keep_threshold(p):
 *   bernoulli:   m = (w >> 8) < T ? 1.0f / p : 0          (the reference
 *                dropout mask; Var m = 1/p - 1)
 *   three_point: gamma = 4.0f / (3.0f * p), half = gamma * 0.5f;
 *                m = (w >> 8) >= T ? 0 : (w & 1) ? gamma : half
 *                P(0) = 1 - p, P(gamma/2) = P(gamma) = p/2 (the low bit is
 *                independent of the top 24), E m = (p/2)(3 gamma / 2) = 1,
 *                Var m = (p/2)(5 gamma^2 / 4) - 1 = 10 / (9p) - 1;
 *                the nonzero units are exactly those Bernoulli keeps
 *   gaussian:    sigma = sqrtf((1.0f - p) / p);  m = 1.0f + sigma * z,
 *                z the Box-Muller draw of word j (pairs (0,1) and (2,3),
 *                even slot the cosine branch, as rs_normal_pair);
 *                E m = 1, Var m = (1-p)/p, Bernoulli's variance
 *                (Srivastava et al., JMLR 2014, section 10); m may be
 *                negative
 * mask: n_samples x n_units floats.  bits (may be NULL): for bernoulli and
 * three_point the packed nonzero pattern as rs_dropout_mask_ref writes it;
 * never written for gaussian (every multiplier is nonzero).  Returns the
 * number of nonzero multipliers. */
uint64_t rs_noise_mask_ref(rs_noise_kind kind, rs_key_t key, uint32_t layer,
                           uint32_t epoch, uint32_t step, uint32_t n_samples,
                           uint32_t n_units, float keep_prob, float *mask,
                           uint8_t *bits);

/* The variance of one multiplier of `kind` with keep probability
 * keep_prob (the float the job trains with, widened to double), from the
 * parametrisation above: bernoulli (1 - p) / p, three_point 10 / (9p) - 1,
 * gaussian (1 - p) / p; 0 when keep_prob >= 1 (no noise).  Given a clean
 * activation h, the noisy one m * h has mean h and variance h^2 times
 * this (record.act_var's noise_var_theory, docs/FORMAT.md).  It is the
 * variance of the documented distribution; the float32 multipliers (1/p,
 * gamma rounded) and the threshold's 2^-24 grid make the implemented one
 * differ by a relative 1e-7 or less. */
double rs_noise_var(rs_noise_kind kind, float keep_prob);

/* The multipliers of rs_noise_mask_ref at any counter: unit u = 4g + j of
 * sample b takes word j of philox((ctr0, ctr1, ctr2, (row0 + b)*G + g),
 * key), G = ceil(H/4), mapped as rs_noise_mask_ref maps it for `kind`
 * (bernoulli: kept ? 1.0f / keep_prob : 0.0f).  rs_noise_mask_ref is this
 * with (rs_ctr0(RS_PURPOSE_DROPOUT, layer), epoch, step) and row0 = 0;
 * MC-dropout evaluation uses (rs_ctr0(RS_PURPOSE_MC_DROPOUT, layer), curve
 * entry, sample, row of the split).  Requires (row0 + n_samples) * G <=
 * 2^32.  Returns the number of nonzero multipliers. */
uint64_t rs_noise_mask_at(rs_noise_kind kind, rs_key_t key, uint32_t ctr0,
                          uint32_t ctr1, uint32_t ctr2, uint32_t row0,
                          uint32_t n_samples, uint32_t n_units, float keep_prob,
                          float *mask);

/* The DropConnect mask of the weights W_layer (n_rows x n_cols) at one
 * training step (reg.dropconnect_keep; one mask per step, shared by the
 * rows of the minibatch).  Element i = row * n_cols + col of W_layer
 * (i < 2^34) takes word i%4 of philox((rs_ctr0(RS_PURPOSE_DROPCONNECT,
 * layer), epoch, step, i/4), key) and is kept iff (word >> 8) < threshold
 * (rs_keep_threshold of the keep probability):
 *   mask[i] = kept ? scale : 0.0f   (scale = 1.0f / keep_prob)
 * bits (NULL: none) gets the recorded form, n_rows rows of ceil(n_cols/8)
 * bytes: bit col%8 of byte col/8 of a row is set iff kept.  Returns the
 * number of kept weights. */
uint64_t rs_dropconnect_mask_ref(rs_key_t key, uint32_t layer, uint32_t epoch,
                                 uint32_t step, uint32_t n_rows,
                                 uint32_t n_cols, uint32_t threshold,
                                 float scale, float *mask, uint8_t *bits);

/* Gaussian noise on the inputs of one training step (reg.input_noise_sd):
 * x (n_rows x n_features, the minibatch's rows in batch order) gets
 *   x[b][f] = x[b][f] + sd * z   (float product, then float sum)
 * where z is the N(0,1) draw of word f%4 of
 *   philox((RS_PURPOSE_INPUT_NOISE, epoch, step, b*G + f/4), key),
 *   G = ceil(n_features/4); requires n_rows * G <= 2^32:
 * words (0,1) and (2,3) are Box-Muller pairs as in rs_normal_pair, the
 * even slot the cosine branch (the draws of rs_fill_normal, counter
 * words 2 and 3 swapped for (step, block)).  Words for f >= n_features are
 * unused. */
void rs_input_noise_ref(rs_key_t key, uint32_t epoch, uint32_t step,
                        uint32_t n_rows, uint32_t n_features, float sd,
                        float *x);

#endif
