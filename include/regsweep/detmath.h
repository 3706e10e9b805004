/* SPDX-License-Identifier: MIT */
/* detmath.h — deterministic transcendental functions, no libm.
 *
 * Each function takes and returns float32 and is computed in IEEE double
 * with + - * / only (plus sqrt where stated) and integer bit operations,
 * with polynomial coefficients given as exact double literals.  Built with
 * -ffp-contract=off, so every compiler, optimisation level and architecture
 * performs the same operations in the same order and returns the same bits:
 * results do not depend on the platform's libm.  Accuracy against libm
 * (double, rounded to float) is stated per function in docs/PERFORMANCE.md
 * and checked in tests/test_detmath.c.
 *
 * Special values follow C99 Annex F for the float versions (NaN in -> NaN
 * out, overflow -> +inf, underflow -> 0 or a subnormal, log(+-0) = -inf,
 * log(x<0) = NaN, log(+inf) = +inf, sin/cos(+-inf) = NaN, tanh(+-inf) = +-1,
 * sigmoid(-inf) = 0, sigmoid(+inf) = 1, sin(-0) = tanh(-0) = -0).  NaN bits
 * are fixed too: a NaN argument comes back with its quiet bit set (sign and
 * payload kept); an invalid operation returns the quiet NaN 0x7FC00000
 * (never the hardware default NaN, which differs between x86-64 and aarch64).
 *
 * Accuracy: at most 1 ulp from the correctly rounded result for every
 * argument (the contract); in fact correctly rounded for all 2^32 arguments
 * of every function (exhaustive scan checked against mpmath, described in
 * tests/test_detmath.c).  sin and cos reduce every finite float exactly (an
 * integer product with 160 bits of 2/pi), so they are accurate up to
 * FLT_MAX.  All functions are pure and thread-safe; the tables are about
 * 0.6 KB of constants.
 *
 * Build requirement: -ffp-contract=off (and no -ffast-math); the
 * identity test in tests/test_detmath.c catches a build that differs.
 */
#ifndef RS_DETMATH_H
#define RS_DETMATH_H

float rs_expf(float x);
float rs_logf(float x);
float rs_tanhf(float x);
float rs_sigmoidf(float x); /* 1 / (1 + exp(-x)) */
float rs_sinf(float x);
float rs_cosf(float x);
float rs_sqrtf(float x);    /* IEEE sqrt: correctly rounded everywhere */

#endif
