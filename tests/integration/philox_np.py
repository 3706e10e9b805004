# SPDX-License-Identifier: MIT
"""Philox4x32-10 and regsweep's dropout-mask mapping in numpy, written from
the published algorithm (Salmon et al., SC'11) and docs/FORMAT.md alone.

It shares no code with regsweep: tests use it as the independent
implementation that must regenerate the masks stored in results files.
"""
import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)   # round multipliers
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)   # Weyl key increments
MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(ctr, key):
    """ctr: uint32 array (..., 4); key: two ints.  Returns uint32 (..., 4)."""
    x = [ctr[..., i].astype(np.uint64) for i in range(4)]
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    for r in range(10):
        if r:
            k0 = np.uint32((int(k0) + int(W0)) & 0xFFFFFFFF)
            k1 = np.uint32((int(k1) + int(W1)) & 0xFFFFFFFF)
        p0 = M0 * x[0]
        p1 = M1 * x[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK32
        x = [hi1 ^ x[1] ^ np.uint64(k0), lo1, hi0 ^ x[3] ^ np.uint64(k1), lo0]
    return np.stack([v.astype(np.uint32) for v in x], axis=-1)


def key_of_seed(seed):
    return (seed & 0xFFFFFFFF, seed >> 32)


def keep_threshold(keep_prob):
    """ceil(keep * 2^24) with keep rounded to float32 (exact in float64)."""
    return int(np.ceil(np.float64(np.float32(keep_prob)) * 2.0**24))


def dropout_bits(seed, layer, epoch, step, n_rows, n_units, keep_prob):
    """Packed mask rows (n_rows x ceil(n_units/8) bytes, LSB first)."""
    groups = (n_units + 3) // 4
    b, g = np.meshgrid(np.arange(n_rows), np.arange(groups), indexing="ij")
    ctr = np.zeros((n_rows, groups, 4), np.uint32)
    ctr[..., 0] = 4 | (layer << 8)
    ctr[..., 1] = epoch
    ctr[..., 2] = step
    ctr[..., 3] = (b * groups + g).astype(np.uint32)
    words = philox4x32_10(ctr, key_of_seed(seed)).reshape(n_rows, groups * 4)
    keep = (words[:, :n_units] >> np.uint32(8)) < keep_threshold(keep_prob)
    return np.packbits(keep, axis=1, bitorder="little")


TWO_PI_F = np.float32(6.28318548202514648438)   # 2pi rounded to float32


def box_muller(words):
    """N(0,1) float32 draws from uint32 words (..., 4): words (0,1) and
    (2,3) are pairs, u1 = ((w_even >> 8) + 1) * 2^-24, u2 = (w_odd >> 8) *
    2^-24, r = sqrt(-2 log u1), t = 2pi * u2, z_even = r cos t, z_odd =
    r sin t (numpy's float32 log/cos/sin: within an ulp or so of regsweep's
    detmath)."""
    scale = np.float32(2.0**-24)
    u1 = ((words[..., 0::2] >> np.uint32(8)) + np.uint32(1)).astype(np.float32) * scale
    u2 = (words[..., 1::2] >> np.uint32(8)).astype(np.float32) * scale
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    t = TWO_PI_F * u2
    z = np.empty(words.shape, np.float32)
    z[..., 0::2] = r * np.cos(t)
    z[..., 1::2] = r * np.sin(t)
    return z


def input_noise(seed, epoch, step, n_rows, n_features):
    """The N(0,1) draws behind reg.input_noise_sd for one minibatch
    (n_rows x n_features, rows in batch order): purpose 7, counter
    (7, epoch, step, b*G + f/4) with G = ceil(n_features/4), word f%4."""
    groups = (n_features + 3) // 4
    b, g = np.meshgrid(np.arange(n_rows), np.arange(groups), indexing="ij")
    ctr = np.zeros((n_rows, groups, 4), np.uint32)
    ctr[..., 0] = 7
    ctr[..., 1] = epoch
    ctr[..., 2] = step
    ctr[..., 3] = (b * groups + g).astype(np.uint32)
    words = philox4x32_10(ctr, key_of_seed(seed))
    return box_muller(words).reshape(n_rows, groups * 4)[:, :n_features]


def noise_multipliers(kind, seed, layer, epoch, step, n_rows, n_units, keep_prob,
                      purpose=4, row0=0):
    """The reg.noise multipliers of one layer and step (n_rows x n_units,
    float32) from the dropout counters (purpose 4), word u%4 of block
    (4 | layer<<8, epoch, step, (row0 + b)*G + u/4):
      bernoulli:   1/p if kept, else 0 (the dropout mask);
      three_point: 0 if dropped (as Bernoulli), else gamma if the word's
                   low bit is 1, gamma/2 if 0; gamma = 4 / (3p) in float32;
      gaussian:    1 + sqrt((1-p)/p) * z, z from box_muller.
    MC-dropout evaluation draws the same way from purpose 9, with epoch the
    curve entry, step the pass and row0 the first row of the split."""
    groups = (n_units + 3) // 4
    b, g = np.meshgrid(np.arange(n_rows), np.arange(groups), indexing="ij")
    ctr = np.zeros((n_rows, groups, 4), np.uint32)
    ctr[..., 0] = purpose | (layer << 8)
    ctr[..., 1] = epoch
    ctr[..., 2] = step
    ctr[..., 3] = ((row0 + b) * groups + g).astype(np.uint32)
    words = philox4x32_10(ctr, key_of_seed(seed))
    p = np.float32(keep_prob)
    if kind == "bernoulli":
        w = words.reshape(n_rows, groups * 4)[:, :n_units]
        keep = (w >> np.uint32(8)) < keep_threshold(keep_prob)
        return np.where(keep, np.float32(1.0) / p, np.float32(0))
    if kind == "three_point":
        w = words.reshape(n_rows, groups * 4)[:, :n_units]
        gamma = np.float32(4.0) / (np.float32(3.0) * p)
        half = gamma * np.float32(0.5)
        keep = (w >> np.uint32(8)) < keep_threshold(keep_prob)
        return np.where(keep, np.where(w & np.uint32(1), gamma, half), np.float32(0))
    if kind == "gaussian":
        sigma = np.sqrt((np.float32(1.0) - p) / p)
        z = box_muller(words).reshape(n_rows, groups * 4)[:, :n_units]
        return np.float32(1.0) + sigma * z
    raise ValueError(kind)


def dropconnect_keep(seed, layer, epoch, step, n_weights, keep_prob):
    """Which weights of W_layer (row-major, flattened) DropConnect keeps at
    one step: purpose 8, counter (8 | layer<<8, epoch, step, i/4), word
    i%4, kept iff (word >> 8) < keep_threshold(keep_prob)."""
    groups = (n_weights + 3) // 4
    ctr = np.zeros((groups, 4), np.uint32)
    ctr[:, 0] = 8 | (layer << 8)
    ctr[:, 1] = epoch
    ctr[:, 2] = step
    ctr[:, 3] = np.arange(groups, dtype=np.uint32)
    words = philox4x32_10(ctr, key_of_seed(seed)).reshape(-1)[:n_weights]
    return (words >> np.uint32(8)) < keep_threshold(keep_prob)
