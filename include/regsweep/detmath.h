/* detmath.h — deterministic transcendental functions, no libm.
 *
 * Each function takes and returns float32 and is computed in IEEE double
 * with + - * / only (plus sqrt where stated), with polynomial coefficients
 * given as exact double literals.  Built with -ffp-contract=off, so every
 * compiler, optimisation level and architecture performs the same operations
 * in the same order and returns the same bits: results do not depend on the
 * platform's libm.  Accuracy against libm (double, rounded to float) is
 * stated per function in docs/PERFORMANCE.md and checked in
 * tests/test_detmath.c.
 *
 * Special values follow C99 Annex F for the float versions (NaN in -> NaN
 * out, overflow -> +inf, underflow -> 0 or a subnormal, log(0) = -inf,
 * log(x<0) = NaN, sin/cos(inf) = NaN).
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
