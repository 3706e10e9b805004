/* SPDX-License-Identifier: MIT */
/* sha256.c — SHA-256 as specified in FIPS 180-4, section 6.2. */
#include "regsweep/sha256.h"

#include <string.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4, 4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 |
               (uint32_t)block[4 * t + 2] << 8 | block[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                      ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                      ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void rs_sha256_init(rs_sha256_t *c)
{
    /* Fractional parts of the square roots of the first 8 primes (4.2.2). */
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->n_bytes = 0;
    c->n_buf = 0;
}

void rs_sha256_update(rs_sha256_t *c, const void *data, size_t n_bytes)
{
    const uint8_t *p = data;
    c->n_bytes += n_bytes;
    while (n_bytes) {
        size_t take = 64 - c->n_buf < n_bytes ? 64 - c->n_buf : n_bytes;
        memcpy(c->buf + c->n_buf, p, take);
        c->n_buf += take;
        p += take;
        n_bytes -= take;
        if (c->n_buf == 64) {
            compress(c->h, c->buf);
            c->n_buf = 0;
        }
    }
}

void rs_sha256_final(rs_sha256_t *c, uint8_t digest[32])
{
    uint64_t bits = c->n_bytes * 8;
    uint8_t pad = 0x80;
    rs_sha256_update(c, &pad, 1);
    pad = 0;
    while (c->n_buf != 56)
        rs_sha256_update(c, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    rs_sha256_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(c->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void rs_sha256_hex(const void *data, size_t n_bytes, char hex[65])
{
    rs_sha256_t c;
    uint8_t d[32];
    rs_sha256_init(&c);
    rs_sha256_update(&c, data, n_bytes);
    rs_sha256_final(&c, d);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[d[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
    }
    hex[64] = '\0';
}

/* ---- lookup3 ----------------------------------------------------------- *
 * hashlittle() of Bob Jenkins' lookup3.c (public domain), byte by byte, so
 * it reads no byte past the end and does not depend on alignment. */
#define RS_ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

uint32_t rs_lookup3(const void *data, size_t n_bytes, uint32_t initval)
{
    const uint8_t *k = data;
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)n_bytes + initval;
    while (n_bytes > 12) {
        a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
        b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
        c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
        /* mix */
        a -= c; a ^= RS_ROT(c, 4);  c += b;
        b -= a; b ^= RS_ROT(a, 6);  a += c;
        c -= b; c ^= RS_ROT(b, 8);  b += a;
        a -= c; a ^= RS_ROT(c, 16); c += b;
        b -= a; b ^= RS_ROT(a, 19); a += c;
        c -= b; c ^= RS_ROT(b, 4);  b += a;
        n_bytes -= 12;
        k += 12;
    }
    switch (n_bytes) {   /* the last 1..12 bytes; 0: no final mix */
    case 12: c += (uint32_t)k[11] << 24; /* fall through */
    case 11: c += (uint32_t)k[10] << 16; /* fall through */
    case 10: c += (uint32_t)k[9] << 8;   /* fall through */
    case 9:  c += k[8];                  /* fall through */
    case 8:  b += (uint32_t)k[7] << 24;  /* fall through */
    case 7:  b += (uint32_t)k[6] << 16;  /* fall through */
    case 6:  b += (uint32_t)k[5] << 8;   /* fall through */
    case 5:  b += k[4];                  /* fall through */
    case 4:  a += (uint32_t)k[3] << 24;  /* fall through */
    case 3:  a += (uint32_t)k[2] << 16;  /* fall through */
    case 2:  a += (uint32_t)k[1] << 8;   /* fall through */
    case 1:  a += k[0];
        break;
    case 0:
        return c;
    }
    /* final */
    c ^= b; c -= RS_ROT(b, 14);
    a ^= c; a -= RS_ROT(c, 11);
    b ^= a; b -= RS_ROT(a, 25);
    c ^= b; c -= RS_ROT(b, 16);
    a ^= c; a -= RS_ROT(c, 4);
    b ^= a; b -= RS_ROT(a, 14);
    c ^= b; c -= RS_ROT(b, 24);
    return c;
}
