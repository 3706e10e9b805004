/* SPDX-License-Identifier: MIT */
/* detmath.c — deterministic float32 transcendental functions, no libm.
 *
 * Every function widens its float argument to double, evaluates with IEEE
 * double + - * / and integer bit operations only, and rounds to float once at
 * the end.  With -ffp-contract=off nothing is fused or reordered, so the bits
 * are the same under any conforming compiler, optimisation level and ISA
 * (x87 and long double are never used).  (Builds that do fuse a*b+c into
 * FMA happened to return the same floats for all 2^32 arguments when
 * measured, but only -ffp-contract=off guarantees it.)  The double evaluation carries a
 * relative error of a few 2^-53, far below half a float ulp (2^-24), so the
 * final rounding gives the correctly rounded float except when the exact
 * value lies within that error of a rounding boundary.  Those arguments were
 * found by evaluating every float and checking each result that lies within
 * 16 double ulps of a boundary against mpmath: one structural family
 * (sigmoid near 0, handled by sigmoid_near_zero) and eight isolated
 * arguments of log, sin and cos whose double result lands exactly on the
 * boundary (listed in the hard-case tables).  With both in place every
 * function is correctly rounded for all 2^32 arguments; the scan and its
 * figures are described in tests/test_detmath.c.
 *
 * NaN policy, chosen so that NaN bits are platform-independent too (hardware
 * default NaNs differ: 0xFFC00000 on x86-64, 0x7FC00000 on aarch64):
 *   - a NaN argument is returned with its quiet bit set (sign and payload kept);
 *   - an invalid operation (log of x < 0, sin/cos of +-inf, sqrt of x < 0)
 *     returns the canonical quiet NaN 0x7FC00000.
 *
 * Where the constants come from: every constant was computed with mpmath at
 * 400 bits and rounded once to the nearest double (or truncated to the stated
 * number of bits where a product must be exact); the polynomials are
 * truncated Taylor series, whose coefficients are the stated rationals
 * (1/n!, 2/(2k+1)) rounded to nearest.  The truncation error of each series
 * on its reduced interval is stated next to it.
 */
#include "regsweep/detmath.h"

#include <stdint.h>
#include <string.h>

#define F32_SIGN 0x80000000u
#define F32_ABS_MASK 0x7FFFFFFFu
#define F32_INF 0x7F800000u
#define F32_QUIET_BIT 0x00400000u
#define F32_CANONICAL_NAN 0x7FC00000u

static inline uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline uint64_t f64_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double f64_from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* x is a NaN: the same NaN, quiet. */
static inline float quiet_nan_of(uint32_t ux)
{
    return f32_from_bits(ux | F32_QUIET_BIT);
}

/* ------------------------------------------------------------------------ */
/* Rounding the double result to float.
 *
 * A hard case is an argument whose exact result lies so close to the middle
 * of two adjacent floats that the double evaluation lands exactly on that
 * midpoint and round-half-to-even picks the wrong float.  Each table holds
 * every such argument of one function (bit pattern of |x|) with its correctly
 * rounded result (mpmath, 200 bits).  The tables belong to this exact
 * sequence of operations: changing a constant or the order of operations
 * requires redoing the scan described in tests/test_detmath.c. */

typedef struct hard_case {
    uint32_t x_bits;
    uint32_t y_bits;
} hard_case;

static const hard_case log_hard_cases[] = {
    {0x3C413D3Au, 0xC08E158Fu}, /* log(0x1.827a74p-7) */
    {0x41178FEBu, 0x400FE5E7u}, /* log(0x1.2f1fd6p+3) */
    {0x4C5D65A5u, 0x418F034Bu}, /* log(0x1.bacb4ap+25) */
    {0x65D890D3u, 0x4254D1F9u}, /* log(0x1.b121a6p+76) */
    {0x6F31A8ECu, 0x42845A89u}, /* log(0x1.6351d8p+95) */
};

static const hard_case sin_hard_cases[] = {
    {0x46199998u, 0xBEB1FA5Du}, /* sin(0x1.333330p+13) */
};

static const hard_case cos_hard_cases[] = {
    {0x5F18B878u, 0x3F7F14BBu}, /* cos(0x1.3170f0p+63) */
    {0x6115CB11u, 0x3F78142Fu}, /* cos(0x1.2b9622p+67) */
};

#define N_HARD(table) (sizeof(table) / sizeof((table)[0]))

/* y is halfway between two normal floats: its 29 low mantissa bits are
 * 1000...0. */
static inline int is_f32_midpoint(double y)
{
    return (f64_bits(y) & 0x1FFFFFFFull) == 0x10000000ull;
}

/* (float)y, except for the listed hard cases (key = bits of |x|). */
static inline float round_checked(double y, uint32_t key, const hard_case *table, size_t n)
{
    if (is_f32_midpoint(y)) {
        for (size_t i = 0; i < n; i++)
            if (table[i].x_bits == key)
                return f32_from_bits(table[i].y_bits);
    }
    return (float)y;
}

/* 2^n for n in [-1022, 1023]. */
static inline double pow2i(int n)
{
    return f64_from_bits((uint64_t)(n + 1023) << 52);
}

/* 1.5 * 2^52: adding and subtracting it rounds a double of magnitude below
 * 2^51 to the nearest integer (ties to even) in the default rounding mode. */
#define ROUND_MAGIC 0x1.8p52

/* ------------------------------------------------------------------------ */
/* exp core: e^y = 2^m * 2^(j/32) * e^r,  k = 32m + j = round(y * 32/ln2),
 * r = y - k*ln2/32, |r| <= ln2/64 * (1 + 2^-40).
 *
 * Contract: y is a float or twice a float (at most 24 significant bits) with
 * |y| <= 120, so |k| <= 5541 < 2^13.  Then k * LN2_32_HI is exact (40 + 13
 * bits), y - k*LN2_32_HI is exact (both are multiples of 2^-45 — y is when
 * k != 0, since then |y| >= 2^-7 — and the difference is below 2^-6), and r
 * carries an absolute error below 2^-60. */

#define INV_LN2_32 0x1.71547652b82fep+5  /* 32/ln2 */
#define LN2_32_HI 0x1.62e42fefa2000p-6   /* ln2/32 truncated to 40 bits */
#define LN2_32_LO 0x1.9ef35793c7673p-46  /* ln2/32 - LN2_32_HI */

/* 2^(j/32) = hi + lo, hi the nearest double, lo the nearest double to the
 * remainder; together they carry about 106 bits. */
static const double exp2_j32[32][2] = {
    {0x1.0000000000000p+0, 0x0.0p+0},
    {0x1.059b0d3158574p+0, 0x1.d73e2a475b465p-55},
    {0x1.0b5586cf9890fp+0, 0x1.8a62e4adc610bp-54},
    {0x1.11301d0125b51p+0, -0x1.6c51039449b3ap-54},
    {0x1.172b83c7d517bp+0, -0x1.19041b9d78a76p-55},
    {0x1.1d4873168b9aap+0, 0x1.e016e00a2643cp-54},
    {0x1.2387a6e756238p+0, 0x1.9b07eb6c70573p-54},
    {0x1.29e9df51fdee1p+0, 0x1.612e8afad1255p-55},
    {0x1.306fe0a31b715p+0, 0x1.6f46ad23182e4p-55},
    {0x1.371a7373aa9cbp+0, -0x1.63aeabf42eae2p-54},
    {0x1.3dea64c123422p+0, 0x1.ada0911f09ebcp-55},
    {0x1.44e086061892dp+0, 0x1.89b7a04ef80d0p-59},
    {0x1.4bfdad5362a27p+0, 0x1.d4397afec42e2p-56},
    {0x1.5342b569d4f82p+0, -0x1.07abe1db13cadp-55},
    {0x1.5ab07dd485429p+0, 0x1.6324c054647adp-54},
    {0x1.6247eb03a5585p+0, -0x1.383c17e40b497p-54},
    {0x1.6a09e667f3bcdp+0, -0x1.bdd3413b26456p-54},
    {0x1.71f75e8ec5f74p+0, -0x1.16e4786887a99p-55},
    {0x1.7a11473eb0187p+0, -0x1.41577ee04992fp-55},
    {0x1.82589994cce13p+0, -0x1.d4c1dd41532d8p-54},
    {0x1.8ace5422aa0dbp+0, 0x1.6e9f156864b27p-54},
    {0x1.93737b0cdc5e5p+0, -0x1.75fc781b57ebcp-57},
    {0x1.9c49182a3f090p+0, 0x1.c7c46b071f2bep-56},
    {0x1.a5503b23e255dp+0, -0x1.d2f6edb8d41e1p-54},
    {0x1.ae89f995ad3adp+0, 0x1.7a1cd345dcc81p-54},
    {0x1.b7f76f2fb5e47p+0, -0x1.5584f7e54ac3bp-56},
    {0x1.c199bdd85529cp+0, 0x1.11065895048ddp-55},
    {0x1.cb720dcef9069p+0, 0x1.503cbd1e949dbp-56},
    {0x1.d5818dcfba487p+0, 0x1.2ed02d75b3707p-55},
    {0x1.dfc97337b9b5fp+0, -0x1.1a5cd4f184b5cp-54},
    {0x1.ea4afa2a490dap+0, -0x1.e9c23179c2893p-54},
    {0x1.f50765b6e4540p+0, 0x1.9d3e12dd8a18bp-54},
};

/* Taylor coefficients 1/n! of e^r - 1.  Degree 6 on |r| <= ln2/64: the
 * first omitted term r^7/7! is below 3.5e-18 (2^-58), relative to e^r. */
#define EXPM1_C2 0x1.0000000000000p-1  /* 1/2! */
#define EXPM1_C3 0x1.5555555555555p-3  /* 1/3! */
#define EXPM1_C4 0x1.5555555555555p-5  /* 1/4! */
#define EXPM1_C5 0x1.1111111111111p-7  /* 1/5! */
#define EXPM1_C6 0x1.6c16c16c16c17p-10 /* 1/6! */

typedef struct exp_parts {
    double scale; /* 2^m */
    double t_hi;  /* 2^(j/32) = t_hi + t_lo */
    double t_lo;
    double pm1;   /* e^r - 1 */
} exp_parts;

static inline exp_parts exp_split(double y)
{
    double kd = (y * INV_LN2_32 + ROUND_MAGIC) - ROUND_MAGIC;
    int k = (int)kd;
    unsigned j = (unsigned)k & 31u;
    int m = (k - (int)j) / 32;
    double r = (y - kd * LN2_32_HI) - kd * LN2_32_LO;
    double p = r + (r * r) * (EXPM1_C2
                    + r * (EXPM1_C3 + r * (EXPM1_C4 + r * (EXPM1_C5 + r * EXPM1_C6))));
    exp_parts e = {pow2i(m), exp2_j32[j][0], exp2_j32[j][1], p};
    return e;
}

/* e^y under exp_split's contract; the result is a normal double. */
static inline double exp_d(double y)
{
    exp_parts e = exp_split(y);
    return e.scale * (e.t_hi + (e.t_lo + e.t_hi * e.pm1));
}

/* e^y - 1 for 0 <= y <= 120 (y a float or twice a float), relative error a
 * few 2^-53.  Since k >= 0, m >= 0 and 2^m * t_hi - 1 is exact: no
 * cancellation is left for the rounded terms. */
static inline double expm1_nonneg(double y)
{
    exp_parts e = exp_split(y);
    return (e.scale * e.t_hi - 1.0) + e.scale * (e.t_lo + e.t_hi * e.pm1);
}

/* ------------------------------------------------------------------------ */

float rs_expf(float x)
{
    uint32_t ux = f32_bits(x);
    if ((ux & F32_ABS_MASK) > F32_INF)
        return quiet_nan_of(ux);
    /* e^89 > FLT_MAX * (1 + 2^-25) rounds to +inf and e^-104 is below half
     * the smallest subnormal (2^-150), so clamping there (which also maps
     * +-inf) leaves every result unchanged. */
    double y = x;
    if (y > 89.0)
        y = 89.0;
    if (y < -104.0)
        y = -104.0;
    return (float)exp_d(y);
}

/* Taylor coefficients of tanh(x/2)/2 = x/4 - x^3/48 + x^5/480 - 17x^7/80640
 * + ...; on |x| < 2^-6 the first omitted term, 31x^9/1451520, is below
 * 2^-61 relative to x/4. */
#define SIGMOID_C3 -0x1.5555555555555p-6 /* -1/48 */
#define SIGMOID_C5 0x1.1111111111111p-9  /* 1/480 */
#define SIGMOID_C7 -0x1.ba1ba1ba1ba1cp-13 /* -17/80640 */

/* sigmoid(x) = 1/2 + x/4 + c(x) for |x| < 2^-6.  Here 1/2 + x/4 often is
 * exactly a float midpoint (x = 3 * 2^-23, for one) and c = -x^3/48 + ...
 * falls below the last bit of a double near 1/2, so 1/(1 + e^-x) in double
 * would land on the midpoint and round the wrong way.  Instead s = 1/2 + x/4
 * is exact (for |x| >= 2^-28; below, the result rounds to 1/2 anyway), r = s + c is
 * rounded and err = c - (r - s) is its exact rounding error (|s| >= |c|);
 * when r is a midpoint, err says on which side the value lies. */
static float sigmoid_near_zero(double x)
{
    double z = x * x;
    double c = x * (z * (SIGMOID_C3 + z * (SIGMOID_C5 + z * SIGMOID_C7)));
    double s = 0.5 + 0.25 * x;
    double r = s + c;
    double err = c - (r - s);
    if (is_f32_midpoint(r) && err != 0.0)
        r = f64_from_bits(f64_bits(r) + (err > 0.0 ? 1 : (uint64_t)-1));
    return (float)r;
}

float rs_sigmoidf(float x)
{
    uint32_t ux = f32_bits(x);
    if ((ux & F32_ABS_MASK) > F32_INF)
        return quiet_nan_of(ux);
    if ((ux & F32_ABS_MASK) < 0x3C800000u) /* |x| < 2^-6 */
        return sigmoid_near_zero((double)x);
    /* For x <= -120 the result (< 2^-173) rounds to 0, for x >= 120 to 1. */
    double y = x;
    if (y > 120.0)
        y = 120.0;
    if (y < -120.0)
        y = -120.0;
    return (float)(1.0 / (1.0 + exp_d(-y)));
}

float rs_tanhf(float x)
{
    uint32_t ux = f32_bits(x);
    uint32_t ax = ux & F32_ABS_MASK;
    if (ax > F32_INF)
        return quiet_nan_of(ux);
    /* |x| < 2^-12: |tanh x - x| < |x|^3/3 < half an ulp of x, so x is the
     * correctly rounded result (this also keeps the sign of -0). */
    if (ax < 0x39800000u)
        return x;
    /* tanh|x| = (e^2|x| - 1) / (e^2|x| + 1); at |x| >= 10, 1 - tanh|x| <
     * 5e-9 < 2^-25 and the result rounds to 1, so clamp there (maps inf). */
    double y = 2.0 * (double)f32_from_bits(ax);
    if (y > 20.0)
        y = 20.0;
    double em = expm1_nonneg(y);
    float t = (float)(em / (em + 2.0));
    return f32_from_bits(f32_bits(t) | (ux & F32_SIGN));
}

/* ------------------------------------------------------------------------ */
/* log: x = 2^e * m with m in [sqrt(1/2), sqrt(2)], f = m - 1 (exact),
 * s = f / (2 + f), so that log m = 2 atanh(s) = 2s + s*R(s^2) with
 * R(z) = sum_{k>=1} 2 z^k / (2k + 1), |s| <= 0.1716, z <= 0.02944.  Since
 * 2s = f - s*f, log m = f - (f^2/2 - s*(f^2/2 + R)): the leading term f is
 * exact and the rounded terms are at most ~f/5.  R is truncated after z^10:
 * the first omitted term, relative to log m, is z^11/23 < 7e-19. */

#define LOG_C1 0x1.5555555555555p-1  /* 2/3 */
#define LOG_C2 0x1.999999999999ap-2  /* 2/5 */
#define LOG_C3 0x1.2492492492492p-2  /* 2/7 */
#define LOG_C4 0x1.c71c71c71c71cp-3  /* 2/9 */
#define LOG_C5 0x1.745d1745d1746p-3  /* 2/11 */
#define LOG_C6 0x1.3b13b13b13b14p-3  /* 2/13 */
#define LOG_C7 0x1.1111111111111p-3  /* 2/15 */
#define LOG_C8 0x1.e1e1e1e1e1e1ep-4  /* 2/17 */
#define LOG_C9 0x1.af286bca1af28p-4  /* 2/19 */
#define LOG_C10 0x1.8618618618618p-4 /* 2/21 */

/* ln 2 = LN2_HI + LN2_LO; LN2_HI has 44 bits so e*LN2_HI is exact for
 * |e| <= 150 (every float, subnormals included, has |e| <= 149). */
#define LN2_HI 0x1.62e42fefa3800p-1
#define LN2_LO 0x1.ef35793c76730p-45

/* Mantissa field of sqrt(2) rounded to double (0x1.6a09e667f3bcdp+0). */
#define SQRT2_MANT_BITS 0x6a09e667f3bcdull

float rs_logf(float x)
{
    uint32_t ux = f32_bits(x);
    /* Specials: +-0, negatives, +-inf, NaN. */
    if (ux == 0 || ux >= F32_INF) {
        uint32_t ax = ux & F32_ABS_MASK;
        if (ax > F32_INF)
            return quiet_nan_of(ux);
        if (ax == 0)
            return f32_from_bits(F32_SIGN | F32_INF); /* log(+-0) = -inf */
        if (ux == F32_INF)
            return x;
        return f32_from_bits(F32_CANONICAL_NAN); /* x < 0 */
    }
    /* (double)x is exact and normal, subnormal floats included. */
    uint64_t bits = f64_bits((double)x);
    int e = (int)(bits >> 52) - 1023;
    uint64_t mant = bits & 0x000FFFFFFFFFFFFFull;
    if (mant > SQRT2_MANT_BITS) {
        e += 1;
        mant |= (uint64_t)1022 << 52; /* m = 1.mant / 2 */
    } else {
        mant |= (uint64_t)1023 << 52;
    }
    double f = f64_from_bits(mant) - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double r = z * (LOG_C1 + z * (LOG_C2 + z * (LOG_C3 + z * (LOG_C4 + z * (LOG_C5
                 + z * (LOG_C6 + z * (LOG_C7 + z * (LOG_C8 + z * (LOG_C9
                 + z * LOG_C10)))))))));
    double hfsq = 0.5 * (f * f);
    double log_m = f - (hfsq - s * (hfsq + r));
    double ed = (double)e;
    double y = ed * LN2_HI + (ed * LN2_LO + log_m);
    return round_checked(y, ux, log_hard_cases, N_HARD(log_hard_cases));
}

/* ------------------------------------------------------------------------ */
/* sin, cos: |x| = q*pi/2 + r with q the nearest integer, |r| <= pi/4, then a
 * Taylor polynomial for sin r or cos r chosen by q mod 4.
 *
 * The reduction is exact in integer arithmetic for every finite float
 * (Payne-Hanek style): |x| = M * 2^E with M < 2^24, E in [-24, 104] for
 * |x| >= pi/4.  Bits of 2/pi at weights 2^-j with j < E - 1 contribute
 * multiples of 4 to |x| * 2/pi and are skipped; the next 160 bits, G, give
 * |x| * 2/pi mod 4 = (M * G mod 2^160) * 2^-158 with an error below 2^-134
 * quarter turns.  The closest float to a multiple of pi/2 is still about
 * 2^-30 quarter turns away from it (x = 0x1.f37c8ap+95, found by scanning
 * every float), so the 115 fraction bits kept leave r with a relative error
 * of a few 2^-53. */

/* 2/pi, bits 1..288 after the binary point (A2F9836E 4E441529 ...), preceded
 * by one zero word standing for the bits at weights 2^31 .. 2^0, which are 0. */
static const uint32_t two_over_pi_bits[10] = {
    0x00000000, 0xA2F9836E, 0x4E441529, 0xFC2757D1, 0xF534DDC0,
    0xDB629599, 0x3C439041, 0xFE5163AB, 0xDEBBC561, 0xB7246E3A,
};

#define PIO2_TIMES_2M62 0x1.921fb54442d18p-62 /* (pi/2) * 2^-62 */
#define PI_OVER_4_F32_BITS 0x3F490FDBu        /* pi/4 rounded to float (up) */

/* ax: bits of a finite float >= pi/4 in magnitude.  Returns q mod 4 and sets
 * *r = |x| - q*pi/2 with q = round(|x| * 2/pi). */
static int reduce_pio2(uint32_t ax, double *r)
{
    uint32_t mant = (ax & 0x007FFFFFu) | 0x00800000u;
    int e = (int)(ax >> 23) - 150;
    /* Bit j = e - 1 of 2/pi sits at bit position e + 30 of the table. */
    int pos = e + 30;
    int w = pos >> 5;
    int sh = pos & 31;
    uint32_t g[5];
    for (int i = 0; i < 5; i++) {
        uint64_t pair = ((uint64_t)two_over_pi_bits[w + i] << 32) | two_over_pi_bits[w + i + 1];
        g[i] = (uint32_t)(pair >> (32 - sh));
    }
    /* p = mant * G mod 2^160, five 32-bit limbs, most significant first. */
    uint32_t p[5];
    uint64_t carry = 0;
    for (int i = 4; i >= 0; i--) {
        uint64_t t = (uint64_t)mant * g[i] + carry;
        p[i] = (uint32_t)t;
        carry = t >> 32;
    }
    uint64_t hi = ((uint64_t)p[0] << 32) | p[1]; /* 2 quadrant bits, 62 fraction bits */
    uint64_t lo = ((uint64_t)p[2] << 32) | p[3];
    uint64_t q = (hi + (1ull << 61)) >> 62;      /* round to nearest, mod 4 */
    uint64_t f = hi - (q << 62);                 /* two's complement, |f| <= 2^61 */
    double f_hi = (f >> 63) ? -(double)(0 - f) : (double)f;
    double f_lo = (double)(lo >> 11) * 0x1p-53;
    *r = (f_hi + f_lo) * PIO2_TIMES_2M62;
    return (int)(q & 3u);
}

/* Taylor coefficients (-1)^n / (2n+1)! of sin, through r^17; on |r| <= pi/4
 * the first omitted term r^19/19! is below 2e-19 relative to sin r. */
#define SIN_S1 -0x1.5555555555555p-3 /* -1/3! */
#define SIN_S2 0x1.1111111111111p-7  /* 1/5! */
#define SIN_S3 -0x1.a01a01a01a01ap-13 /* -1/7! */
#define SIN_S4 0x1.71de3a556c734p-19 /* 1/9! */
#define SIN_S5 -0x1.ae64567f544e4p-26 /* -1/11! */
#define SIN_S6 0x1.6124613a86d09p-33 /* 1/13! */
#define SIN_S7 -0x1.ae7f3e733b81fp-41 /* -1/15! */
#define SIN_S8 0x1.952c77030ad4ap-49 /* 1/17! */

/* Taylor coefficients (-1)^n / (2n)! of cos from r^4 through r^16; the
 * first omitted term r^18/18! is below 3e-18 relative to cos r >= 0.707. */
#define COS_C2 0x1.5555555555555p-5  /* 1/4! */
#define COS_C3 -0x1.6c16c16c16c17p-10 /* -1/6! */
#define COS_C4 0x1.a01a01a01a01ap-16 /* 1/8! */
#define COS_C5 -0x1.27e4fb7789f5cp-22 /* -1/10! */
#define COS_C6 0x1.1eed8eff8d898p-29 /* 1/12! */
#define COS_C7 -0x1.93974a8c07c9dp-37 /* -1/14! */
#define COS_C8 0x1.ae7f3e733b81fp-45 /* 1/16! */

static inline double sin_poly(double r)
{
    double z = r * r;
    double s = SIN_S1 + z * (SIN_S2 + z * (SIN_S3 + z * (SIN_S4 + z * (SIN_S5
                 + z * (SIN_S6 + z * (SIN_S7 + z * SIN_S8))))));
    return r + (r * z) * s;
}

/* 1 - z/2 is split as w + ((1 - w) - z/2), where w is the rounded sum and the
 * bracket its exact rounding error, so the leading terms add without loss. */
static inline double cos_poly(double r)
{
    double z = r * r;
    double c = COS_C2 + z * (COS_C3 + z * (COS_C4 + z * (COS_C5 + z * (COS_C6
                 + z * (COS_C7 + z * COS_C8)))));
    double hz = 0.5 * z;
    double w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + (z * z) * c);
}

/* sin(q*pi/2 + r) by q mod 4: sin r, cos r, -sin r, -cos r.
 * cos(q*pi/2 + r) is sin((q+1)*pi/2 + r). */
static inline double sin_quadrant(int q, double r)
{
    double v = (q & 1) ? cos_poly(r) : sin_poly(r);
    return (q & 2) ? -v : v;
}

/* |x| < 2^-12 */
#define TINY_F32_BITS 0x39800000u

/* sin is computed for |x| and the sign of x applied to the float result:
 * sin_poly is odd bit for bit, so this changes no result. */
float rs_sinf(float x)
{
    uint32_t ux = f32_bits(x);
    uint32_t ax = ux & F32_ABS_MASK;
    /* |sin x - x| < |x|^3/6 < half an ulp of x: x is correctly rounded. */
    if (ax < TINY_F32_BITS)
        return x;
    if (ax >= F32_INF)
        return ax > F32_INF ? quiet_nan_of(ux) : f32_from_bits(F32_CANONICAL_NAN);
    double v;
    if (ax < PI_OVER_4_F32_BITS) {
        v = sin_poly((double)f32_from_bits(ax));
    } else {
        double r;
        int q = reduce_pio2(ax, &r);
        v = sin_quadrant(q, r);
    }
    float y = round_checked(v, ax, sin_hard_cases, N_HARD(sin_hard_cases));
    return f32_from_bits(f32_bits(y) ^ (ux & F32_SIGN));
}

float rs_cosf(float x)
{
    uint32_t ux = f32_bits(x);
    uint32_t ax = ux & F32_ABS_MASK;
    /* 1 - cos x < x^2/2 < 2^-25: rounds to 1. */
    if (ax < TINY_F32_BITS)
        return 1.0f;
    if (ax >= F32_INF)
        return ax > F32_INF ? quiet_nan_of(ux) : f32_from_bits(F32_CANONICAL_NAN);
    double v;
    if (ax < PI_OVER_4_F32_BITS) {
        v = cos_poly((double)x);
    } else {
        double r;
        int q = reduce_pio2(ax, &r);
        v = sin_quadrant(q + 1, r);
    }
    return round_checked(v, ax, cos_hard_cases, N_HARD(cos_hard_cases));
}

/* ------------------------------------------------------------------------ */

float rs_sqrtf(float x)
{
    uint32_t ux = f32_bits(x);
    if ((ux & F32_ABS_MASK) > F32_INF)
        return quiet_nan_of(ux);
    if (ux > F32_SIGN) /* x < 0 (not -0): the hardware NaN differs by ISA */
        return f32_from_bits(F32_CANONICAL_NAN);
    /* IEEE 754 sqrt is correctly rounded; with -fno-math-errno gcc and clang
     * emit the instruction (sqrtss, fsqrt) instead of a libm call. */
    return __builtin_sqrtf(x);
}
