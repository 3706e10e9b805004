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
