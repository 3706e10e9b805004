/* SPDX-License-Identifier: MIT */
/* stats.c — distributions, estimators and tests for `regsweep report`.
 *
 * Not in the bit-exact path: libm is used freely.  The contracts are in
 * include/regsweep/stats.h.
 */
#include "regsweep/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "regsweep/rng.h"

/* Constants (math.h's M_* are not C11). */
/* 1/sqrt(2) split into the nearest double and the rest (mpmath, 40 digits:
 * 1/sqrt(2) - 0x1.6a09e667f3bcdp-1 = -4.833646656726457e-17). */
#define RS_SQRT1_2_HI 0x1.6a09e667f3bcdp-1
#define RS_SQRT1_2_LO (-4.833646656726457e-17)
#define RS_2_SQRTPI 1.12837916709551257390 /* 2/sqrt(pi) */
#define RS_LN_SQRT_2PI 0.91893853320467274178 /* log(sqrt(2 pi)) */

/* The continued fraction stops when two consecutive factors are within
 * this of 1.  C and D are each rounded, so their product has a few ulps
 * of noise: a tighter bound could never be met. */
#define RS_CF_TOL (4.0 * DBL_EPSILON)
#define RS_CF_MAX_TERMS 100000
/* Lentz's guard against a zero denominator. */
#define RS_CF_TINY 1e-300

/* ---------------------------------------------------------------------------
 * Normal distribution
 * ------------------------------------------------------------------------ */

/* P(Z < -ax) for ax >= 0 finite.  u = ax/sqrt2 is rounded; the rounding
 * error delta = ax/sqrt2 - u is recovered exactly enough with fma and a
 * two-word 1/sqrt2, and erfc(u + delta) = erfc(u) - delta * (2/sqrt pi)
 * exp(-u^2) to first order (delta ~ 1e-16 u, the second-order term is
 * ~ u^2 delta^2 relative: negligible). */
static double norm_lower_tail(double ax)
{
    double u = ax * RS_SQRT1_2_HI;
    double delta = fma(ax, RS_SQRT1_2_HI, -u) + ax * RS_SQRT1_2_LO;
    double e = erfc(u);
    if (e == 0.0)
        return 0.0;
    return 0.5 * (e - delta * RS_2_SQRTPI * exp(-u * u));
}

double rs_norm_cdf(double x)
{
    if (isnan(x))
        return x;
    if (isinf(x))
        return x < 0 ? 0.0 : 1.0;
    if (x < 0)
        return norm_lower_tail(-x);
    return 1.0 - norm_lower_tail(x);
}

static double poly7(const double c[8], double r)
{
    double s = c[7];
    for (int k = 6; k >= 0; k--)
        s = s * r + c[k];
    return s;
}

/* Coefficients of Wichura (1988), AS 241 PPND16, Applied Statistics 37(3)
 * 477-484: numerator a/c/e[0..7] and denominator b/d/f[0..7] (leading 1). */
static const double as241_a[8] = {
    3.3871328727963666080e0,  1.3314166789178437745e+2,
    1.9715909503065514427e+3, 1.3731693765509461125e+4,
    4.5921953931549871457e+4, 6.7265770927008700853e+4,
    3.3430575583588128105e+4, 2.5090809287301226727e+3};
static const double as241_b[8] = {
    1.0,                      4.2313330701600911252e+1,
    6.8718700749205790830e+2, 5.3941960214247511077e+3,
    2.1213794301586595867e+4, 3.9307895800092710610e+4,
    2.8729085735721942674e+4, 5.2264952788528545610e+3};
static const double as241_c[8] = {
    1.42343711074968357734e0,  4.63033784615654529590e0,
    5.76949722146069140550e0,  3.64784832476320460504e0,
    1.27045825245236838258e0,  2.41780725177450611770e-1,
    2.27238449892691845833e-2, 7.74545014278341407640e-4};
static const double as241_d[8] = {
    1.0,                       2.05319162663775882187e0,
    1.67638483018380384940e0,  6.89767334985100004550e-1,
    1.48103976427480074590e-1, 1.51986665636164571966e-2,
    5.47593808499534494600e-4, 1.05075007164441684324e-9};
static const double as241_e[8] = {
    6.65790464350110377720e0,  5.46378491116411436990e0,
    1.78482653991729133580e0,  2.96560571828504891230e-1,
    2.65321895265761230930e-2, 1.24266094738807843860e-3,
    2.71155556874348757815e-5, 2.01033439929228813265e-7};
static const double as241_f[8] = {
    1.0,                       5.99832206555887937690e-1,
    1.36929880922735805310e-1, 1.48753612908506148525e-2,
    7.86869131145613259100e-4, 1.84631831751005468180e-5,
    1.42151175831644588870e-7, 2.04426310338993978564e-15};

double rs_norm_quantile(double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0)
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        double r = 0.180625 - q * q; /* 0.425^2 */
        return q * poly7(as241_a, r) / poly7(as241_b, r);
    }
    double r = sqrt(-log(q < 0 ? p : 1.0 - p));
    double z;
    if (r <= 5.0) {
        r -= 1.6;
        z = poly7(as241_c, r) / poly7(as241_d, r);
    } else {
        r -= 5.0;
        z = poly7(as241_e, r) / poly7(as241_f, r);
    }
    return q < 0 ? -z : z;
}

/* ---------------------------------------------------------------------------
 * log Beta and the incomplete beta function
 * ------------------------------------------------------------------------ */

/* lgamma(x) - [(x - 1/2) log x - x + log sqrt(2 pi)] for x >= 10: the
 * Stirling series sum B_2k / (2k (2k-1) x^(2k-1)), k = 1..8; the next term
 * is below 1e-18 at x = 10. */
static double stirling_rest(double x)
{
    static const double coef[8] = {
        1.0 / 12.0,         -1.0 / 360.0,    1.0 / 1260.0, -1.0 / 1680.0,
        1.0 / 1188.0,       -691.0 / 360360.0, 1.0 / 156.0,
        -3617.0 / 122400.0};
    double inv2 = 1.0 / (x * x);
    double s = coef[7];
    for (int k = 6; k >= 0; k--)
        s = s * inv2 + coef[k];
    return s / x;
}

/* log B(a, b) for a, b > 0.  lgamma(a) + lgamma(b) - lgamma(a + b) loses
 * digits by cancellation when a or b is large (log B(5e5, 1/2) is ~ -7 made
 * of terms ~ 6e6), so large arguments go through Stirling's formula with the
 * large parts cancelled analytically. */
static double log_beta(double a, double b)
{
    double p = a < b ? a : b; /* smaller */
    double q = a < b ? b : a; /* larger  */
    double pq = p + q;
    if (q < 10.0)
        return lgamma(p) + lgamma(q) - lgamma(pq);
    double rest = stirling_rest(q) - stirling_rest(pq);
    if (p >= 10.0)
        return (p - 0.5) * log(p / pq) + (q - 0.5) * log1p(-p / pq) -
               0.5 * log(pq) + RS_LN_SQRT_2PI + stirling_rest(p) + rest;
    /* lgamma(q) - lgamma(p + q) = (q - 1/2) log(q/(p+q)) - p log(p+q) + p
     *                             + rest */
    return lgamma(p) + (q - 0.5) * log1p(-p / pq) - p * log(pq) + p + rest;
}

/* log x where y = 1 - x is also known: the one that is not near 1 is the
 * accurate input. */
static double log_of(double x, double y)
{
    return x <= 0.5 ? log(x) : log1p(-y);
}

/* x^a where y = 1 - x is also known.  pow is within an ulp of x^a for the
 * x given; near 1 the rounding of x itself would be multiplied by a, so
 * there x^a = exp(a log1p(-y)) uses the more accurate y. */
static double pow_of(double x, double y, double a)
{
    return x <= 0.5 ? pow(x, a) : exp(a * log1p(-y));
}

/* x^a y^b / B(a, b) for a, b >= 10, centred on the mode x0 = a/(a+b):
 * with Stirling's formula for B(a, b) (see log_beta), its log is
 *   a log(x/x0) + b log(y/y0) + log sqrt(ab / (2 pi (a+b)))
 *   - [rest(a) + rest(b) - rest(a+b)],
 * where x - x0 = y0 - y = (b x - a y)/(a+b).  The two log1p terms cancel to
 * first order in x - x0 instead of a log x + b log y - log B(a, b) cancelling
 * as terms of size a + b: near the mode this keeps ~1e-15 where the plain
 * form loses (a |log x| + b |log y|) * 1e-16. */
static double beta_front_large(double x, double y, double a, double b)
{
    double ab = a + b;
    double dev = (b * x - a * y) / ab;
    double log_kernel = a * log1p(dev * ab / a) + b * log1p(-dev * ab / b);
    double log_scale = 0.5 * log(a * b / ab) - RS_LN_SQRT_2PI -
                       (stirling_rest(a) + stirling_rest(b) -
                        stirling_rest(ab));
    return exp(log_kernel + log_scale);
}

/* x^a y^b / B(a, b).  As a product of powers it avoids the error of exp
 * of a large log (|a log x| * 1e-16 relative); where a factor underflows
 * it falls back to logs.  a, b >= 10 go through beta_front_large. */
static double beta_front(double x, double y, double a, double b)
{
    if (a >= 10.0 && b >= 10.0)
        return beta_front_large(x, y, a, b);
    double log_b = log_beta(a, b);
    double fx = pow_of(x, y, a), fy = pow_of(y, x, b);
    double product = fx * fy;
    if (fx >= DBL_MIN && fy >= DBL_MIN && product >= DBL_MIN &&
        log_b > -700.0) {
        double front = product * exp(-log_b);
        if (front >= DBL_MIN && front <= DBL_MAX)
            return front;
    }
    return exp(a * log_of(x, y) + b * log_of(y, x) - log_b);
}

/* The continued fraction of I_x(a, b) (x < (a+1)/(a+b+2) for fast
 * convergence):  I_x(a,b) = x^a y^b / (a B(a,b)) * 1/(1+ c_1/(1+ c_2/(1+ ...
 *   c_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),   m = 0, 1, ...
 *   c_{2m}   =  m (b-m) x / ((a+2m-1)(a+2m)),         m = 1, 2, ...
 * evaluated forward by the modified Lentz method.  Returns the fraction
 * 1/(1+c_1/(1+...)), or NaN if it has not converged.
 *
 * Accuracy when x is near 1 and a is large (the t distribution with large
 * df): there c_{2m+1} is close to -1, and the Lentz factors 1 + c D and
 * 1 + c/C would lose digits to cancellation (1e-11 at df = 1e6).  So each
 * step is written in terms of 1 + c, computed for the odd terms from y:
 *   (a+2m)(a+2m+1) (1 + c_{2m+1})
 *       = a(2m+1-b) + m(3m+2-b) + (a+m)(a+b+m) y,
 * and of D - 1 and C - 1 where D and C are near 1 (lentz_set):
 *   1 + c D = (1 + c) + c (D - 1),   D' - 1 = -c D D',
 *   C' = 1 + c/C = ((1 + c) + (C - 1)) / C,   C' - 1 = c / C.
 * This brings df = 1e6 from 2e-11 to 6e-16 (checked against mpmath). */
typedef struct lentz {
    double value;  /* the fraction so far */
    double d, d_m1; /* D and D - 1 */
    double c, c_m1; /* C and C - 1 */
} lentz_t;

/* Sets a Lentz variable from the representation that was computed
 * accurately: near 1 its distance from 1, else itself.  Keeping one value
 * (not two that drift apart) keeps the recurrence as stable as Lentz's. */
static void lentz_set(double *v, double *v_m1, double value, double m1)
{
    if (fabs(m1) < 0.5) {
        *v_m1 = m1;
        *v = 1.0 + m1;
    } else {
        *v = value;
        *v_m1 = value - 1.0;
    }
}

/* One Lentz step with coefficient coef and one_plus = 1 + coef; returns
 * C' D' - 1, the relative change of the value. */
static double lentz_step(lentz_t *s, double coef, double one_plus)
{
    /* D' = 1 / (1 + c D),  D' - 1 = -c D D' */
    double den = one_plus + coef * s->d_m1;
    if (fabs(den) < RS_CF_TINY)
        den = RS_CF_TINY;
    double d_new = 1.0 / den;
    lentz_set(&s->d, &s->d_m1, d_new, -coef * s->d * d_new);
    /* C' = 1 + c / C = ((1 + c) + (C - 1)) / C,  C' - 1 = c / C */
    double c_new = (one_plus + s->c_m1) / s->c;
    if (fabs(c_new) < RS_CF_TINY)
        c_new = RS_CF_TINY;
    lentz_set(&s->c, &s->c_m1, c_new, coef / s->c);
    s->value *= s->c * s->d;
    if (fabs(s->c_m1) < 0.5 && fabs(s->d_m1) < 0.5)
        return s->c_m1 + s->d_m1 + s->c_m1 * s->d_m1;
    return fma(s->c, s->d, -1.0); /* C and D far from 1: no cancellation
                                     in the sum form to exploit */
}

/* 1 + c_{2m+1}: from y when x > 1/2 (see above), else directly. */
static double one_plus_odd(double x, double y, double a, double b, double m)
{
    double den = (a + 2.0 * m) * (a + 2.0 * m + 1.0);
    if (x > 0.5)
        return (a * (2.0 * m + 1.0 - b) + m * (3.0 * m + 2.0 - b) +
                (a + m) * (a + b + m) * y) /
               den;
    return 1.0 - (a + m) * (a + b + m) * x / den;
}

static double beta_fraction(double x, double y, double a, double b)
{
    /* The first level by hand: f = D_1 = 1/(1 + c_1), C_1 = 1. */
    double c1 = -(a + b) * x / (a + 1.0);
    double den = one_plus_odd(x, y, a, b, 0.0);
    if (fabs(den) < RS_CF_TINY)
        den = RS_CF_TINY;
    lentz_t s;
    lentz_set(&s.d, &s.d_m1, 1.0 / den, -c1 / den);
    s.c = 1.0;
    s.c_m1 = 0.0;
    s.value = s.d;
    for (int m = 1; m <= RS_CF_MAX_TERMS; m++) {
        double two_m = 2.0 * m;
        double even = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m));
        double change_even = lentz_step(&s, even, 1.0 + even);
        double odd = -(a + m) * (a + b + m) * x /
                     ((a + two_m) * (a + two_m + 1.0));
        double change_odd =
            lentz_step(&s, odd, one_plus_odd(x, y, a, b, (double)m));
        if (fabs(change_even) < RS_CF_TOL && fabs(change_odd) < RS_CF_TOL)
            return s.value;
    }
    return NAN;
}

/* I_x(a, b) with y = 1 - x given separately (so that callers who know y
 * better than 1 - x, like the t distribution, lose nothing).  The fraction
 * is evaluated on the side where it converges fast; on the other side the
 * result is 1 - I_y(b, a). */
static double beta_inc_xy(double x, double y, double a, double b)
{
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    if (x > (a + 1.0) / (a + b + 2.0))
        return 1.0 - beta_front(y, x, b, a) * beta_fraction(y, x, b, a) / b;
    return beta_front(x, y, a, b) * beta_fraction(x, y, a, b) / a;
}

double rs_beta_inc(double x, double a, double b)
{
    if (isnan(x) || isnan(a) || isnan(b) || x < 0.0 || x > 1.0 || !(a > 0) ||
        !(b > 0) || isinf(a) || isinf(b))
        return NAN;
    return beta_inc_xy(x, 1.0 - x, a, b);
}

/* ---------------------------------------------------------------------------
 * Student t
 * ------------------------------------------------------------------------ */

/* The tail for t > 1e150, where t^2 overflows: its asymptote
 * df^(df/2 - 1) t^-df / B(df/2, 1/2) (relative error ~ df/t^2 < 1e-290),
 * as a product of powers (exp of its log would cost |log P| ulps), or
 * through logs where a power is out of range (then P underflows anyway
 * unless df is small). */
static double t_far_tail(double t, double df)
{
    double log_b = log_beta(0.5 * df, 0.5);
    double pt = pow(t, -df), pd = pow(df, 0.5 * df - 1.0);
    double product = pt * pd;
    if (pt >= DBL_MIN && pd >= DBL_MIN && pd <= DBL_MAX &&
        product >= DBL_MIN && product <= DBL_MAX && fabs(log_b) < 700.0)
        return product * exp(-log_b);
    return exp((0.5 * df - 1.0) * log(df) - df * log(t) - log_b);
}

/* P(T > t) for t >= 0, df > 0 finite: I_x(df/2, 1/2) / 2 with
 * x = df/(df+t^2) (t_far_tail beyond 1e150). */
static double t_upper_tail(double t, double df)
{
    if (t > 1e150)
        return t_far_tail(t, df);
    double t2 = t * t;
    double x = df / (df + t2);
    double y = t2 / (df + t2);
    return 0.5 * beta_inc_xy(x, y, 0.5 * df, 0.5);
}

static int t_args_bad(double t, double df)
{
    return isnan(t) || isnan(df) || !(df > 0);
}

/* Beyond this df, t_df is the standard normal to double precision: the
 * leading difference of the tails is relative (t^4 + ...)/(4 df), below
 * 1e-17 for df > 1e25 even at t = 38, where the normal tail underflows.
 * (It also keeps products like (a + 2m)(a + 2m + 1) in the continued
 * fraction finite.) */
#define RS_T_NORMAL_DF 1e25

double rs_t_sf(double t, double df)
{
    if (t_args_bad(t, df))
        return NAN;
    if (df > RS_T_NORMAL_DF)
        return rs_norm_cdf(-t);
    if (isinf(t))
        return t < 0 ? 1.0 : 0.0;
    if (t >= 0)
        return t_upper_tail(t, df);
    return 1.0 - t_upper_tail(-t, df);
}

double rs_t_cdf(double t, double df)
{
    if (t_args_bad(t, df))
        return NAN;
    if (df > RS_T_NORMAL_DF)
        return rs_norm_cdf(t);
    return rs_t_sf(-t, df);
}

/* Density of t_df at t >= 0 (df finite). */
static double t_density(double t, double df)
{
    double log_kernel = t > 1e150 ? -(df + 1.0) * (log(t) - 0.5 * log(df))
                                  : -0.5 * (df + 1.0) * log1p(t * t / df);
    return exp(log_kernel - 0.5 * log(df) - log_beta(0.5 * df, 0.5));
}

/* P(0 < T < t) for t >= 0, df finite: I_y(1/2, df/2) / 2 with
 * y = t^2/(df+t^2), computed directly (no 1/2 - P(T > t)), so it keeps its
 * relative accuracy for small t. */
static double t_central(double t, double df)
{
    if (t > 1e150)
        return 0.5 - t_upper_tail(t, df);
    double t2 = t * t;
    double x = df / (df + t2);
    double y = t2 / (df + t2);
    return 0.5 * beta_inc_xy(y, x, 0.5, 0.5 * df);
}

/* What the quantile search solves: F(t) = target with F the upper tail
 * P(T > t) (central = 0) or the central mass P(0 < T < t) (central = 1),
 * as g(t) = +-log(F(t) / target), signed so that g decreases in t,
 * with slope = dg/d(log t) = -t f(t) / F(t) in both cases. */
typedef struct t_search {
    double df;
    double target;
    int central;
} t_search_t;

static double t_search_g(const t_search_t *ts, double t, double *slope)
{
    double mass = ts->central ? t_central(t, ts->df) : t_upper_tail(t, ts->df);
    if (!(mass > 0)) { /* underflow: far beyond the root on one side */
        *slope = -ts->df;
        return ts->central ? INFINITY : -INFINITY;
    }
    *slope = -t * t_density(t, ts->df) / mass;
    double g = log(mass / ts->target); /* not log(mass) - log(target):
                                          that loses |log target| ulps */
    return ts->central ? -g : g;
}

/* The t > 0 with P(T > t) = q, 0 < q < 1/2, df finite.
 * For q < 1/4 it solves log P(T > t) = log q, else log P(0 < T < t) =
 * log(1/2 - q) (1/2 - q is exact there), by Newton in log t: for large t,
 * P(T > t) ~ C t^-df and for small t, P(0 < T < t) ~ f(0) t, so g is
 * nearly linear in log t at both ends and Newton converges in a few steps
 * even for q = 1e-300.  Steps are applied as t *= exp(-g/slope), so t keeps
 * full relative precision at any magnitude.  A bracket lo < t < hi with
 * g(lo) > 0 > g(hi) is kept; a step that leaves it is replaced by the
 * geometric mean of the bracket (or a factor e while it is open). */
static double t_upper_quantile(double q, double df)
{
    const double e = 2.71828182845904523536;
    t_search_t ts = {df, q < 0.25 ? q : 0.5 - q, q >= 0.25};
    /* Guess 1: Cornish-Fisher from z (good for large df). */
    double z = -rs_norm_quantile(q);
    double z2 = z * z;
    double guess_cf = z + z * (z2 + 1.0) / (4.0 * df) +
                      z * ((5.0 * z2 + 16.0) * z2 + 3.0) / (96.0 * df * df);
    /* Guess 2: the tail asymptote P(T > t) ~ df^(df/2-1) t^-df / B solved
     * for t (good for small df or tiny q). */
    double guess_tail = exp(
        0.5 * log(df) - (log(q) + log(df) + log_beta(0.5 * df, 0.5)) / df);

    double lo = 0.0, hi = INFINITY;
    double guess_t[2] = {guess_cf > 0 ? guess_cf : z,
                         fmin(guess_tail, DBL_MAX)};
    double guess_g[2], guess_slope[2];
    for (int k = 0; k < 2; k++) {
        guess_g[k] = t_search_g(&ts, guess_t[k], &guess_slope[k]);
        if (guess_g[k] > 0 && guess_t[k] > lo)
            lo = guess_t[k];
        if (guess_g[k] < 0 && guess_t[k] < hi)
            hi = guess_t[k];
    }
    int best = fabs(guess_g[0]) <= fabs(guess_g[1]) ? 0 : 1;
    double t = guess_t[best], g = guess_g[best], slope = guess_slope[best];

    for (int iter = 0; iter < 200 && g != 0.0; iter++) {
        double next = isfinite(g) && slope < 0 ? t * exp(-g / slope) : NAN;
        if (!(next > lo && next < hi)) {
            if (lo > 0 && isfinite(hi))
                next = sqrt(lo) * sqrt(hi);
            else if (lo > 0)
                next = lo * e;
            else
                next = hi / e;
        }
        if (!(next <= DBL_MAX)) {
            if (lo >= DBL_MAX)
                return INFINITY;
            next = DBL_MAX;
        }
        double rel_step = fabs(next - t) / t;
        t = next;
        g = t_search_g(&ts, t, &slope);
        if (g > 0)
            lo = t;
        else if (g < 0)
            hi = t;
        if (t == DBL_MAX && g > 0)
            return INFINITY;
        if (rel_step <= 2.0 * DBL_EPSILON || hi - lo <= 2.0 * DBL_EPSILON * t)
            break;
    }
    return t;
}

double rs_t_quantile(double p, double df)
{
    if (isnan(p) || isnan(df) || p < 0.0 || p > 1.0 || !(df > 0))
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    if (p == 0.5)
        return 0.0;
    if (df > RS_T_NORMAL_DF)
        return rs_norm_quantile(p);
    double q = p < 0.5 ? p : 1.0 - p; /* exact for p >= 1/2 (Sterbenz) */
    double t = t_upper_quantile(q, df);
    return p < 0.5 ? -t : t;
}

/* ---------------------------------------------------------------------------
 * Input checks and blank records
 * ------------------------------------------------------------------------ */

static rs_status check_sample(const double *x, size_t n, const char *name,
                              rs_error_t *err)
{
    if (!x)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "%s is NULL", name);
    if (n < 1)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "%s has no values (n = 0)", name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                "%s[%zu] = %g is not finite", name, i, x[i]);
    return RS_OK;
}

static rs_status check_level(double level, rs_error_t *err)
{
    if (!(level > 0.0 && level < 1.0))
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "confidence level %g is not in (0, 1)", level);
    return RS_OK;
}

static void blank_summary(rs_summary_t *s)
{
    s->n = 0;
    s->mean = s->sd = s->se = s->level = s->ci_lo = s->ci_hi = NAN;
    s->flags = 0;
}

static void blank_ttest(rs_ttest_t *t)
{
    t->estimate = t->se = t->t = t->df = t->p = NAN;
    t->level = t->ci_lo = t->ci_hi = NAN;
    t->flags = 0;
}

static void blank_wilcoxon(rs_wilcoxon_t *w)
{
    w->n_used = w->n_zero = 0;
    w->v_plus = w->z = w->p = NAN;
    w->flags = 0;
}

static void blank_paired(rs_paired_t *p)
{
    p->n = 0;
    p->level = p->mean_diff = p->sd_diff = p->cohen_dz = NAN;
    p->prob_superiority = p->boot_lo = p->boot_hi = NAN;
    blank_ttest(&p->ttest);
    blank_wilcoxon(&p->wilcoxon);
}

/* ---------------------------------------------------------------------------
 * Descriptive statistics and t-tests
 * ------------------------------------------------------------------------ */

static int all_equal(const double *x, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0])
            return 0;
    return 1;
}

/* Mean and sample variance by the corrected two-pass algorithm (Chan,
 * Golub, LeVeque 1983): m0 = sum/n, then mean = m0 + sum(x - m0)/n and
 * var = (sum (x - m0)^2 - (sum (x - m0))^2 / n) / (n - 1).  Exactly equal
 * values give var = 0 and mean = x[0]. var is NaN for n = 1. */
static void mean_var(const double *x, size_t n, double *mean, double *var)
{
    if (all_equal(x, n)) {
        *mean = x[0];
        *var = n > 1 ? 0.0 : NAN;
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double m0 = sum / (double)n;
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dev = x[i] - m0;
        s1 += dev;
        s2 += dev * dev;
    }
    *mean = m0 + s1 / (double)n;
    *var = fmax(0.0, (s2 - s1 * s1 / (double)n) / (double)(n - 1));
}

/* t_{1-(1-level)/2, df}, from the small tail probability for accuracy. */
static double t_critical(double level, double df)
{
    return -rs_t_quantile(0.5 * (1.0 - level), df);
}

/* Fills the test and interval fields of t from estimate, se, df. */
static void finish_ttest(rs_ttest_t *t, double estimate, double se,
                         double df, double mu, double level)
{
    t->estimate = estimate;
    t->se = se;
    t->df = df;
    t->level = level;
    if (se == 0.0) {
        t->flags |= RS_STATS_CONSTANT;
        t->ci_lo = t->ci_hi = estimate;
        return; /* t, p stay NaN */
    }
    double half = t_critical(level, df) * se;
    t->ci_lo = estimate - half;
    t->ci_hi = estimate + half;
    t->t = (estimate - mu) / se;
    t->p = fmin(1.0, 2.0 * rs_t_sf(fabs(t->t), df));
}

rs_status rs_summarize(const double *x, size_t n, double level,
                       rs_summary_t *out, rs_error_t *err)
{
    if (!out)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "out is NULL");
    blank_summary(out);
    rs_status st = check_sample(x, n, "x", err);
    if (st == RS_OK)
        st = check_level(level, err);
    if (st != RS_OK)
        return st;
    double mean, var;
    mean_var(x, n, &mean, &var);
    out->n = n;
    out->mean = mean;
    out->level = level;
    if (n < 2) {
        out->flags = RS_STATS_TOO_FEW;
        return RS_OK;
    }
    out->sd = sqrt(var);
    out->se = out->sd / sqrt((double)n);
    if (out->se == 0.0) {
        out->flags = RS_STATS_CONSTANT;
        out->ci_lo = out->ci_hi = mean;
        return RS_OK;
    }
    double half = t_critical(level, (double)(n - 1)) * out->se;
    out->ci_lo = mean - half;
    out->ci_hi = mean + half;
    return RS_OK;
}

rs_status rs_ttest_one_sample(const double *x, size_t n, double mu,
                              double level, rs_ttest_t *out,
                              rs_error_t *err)
{
    if (!out)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "out is NULL");
    blank_ttest(out);
    rs_status st = check_sample(x, n, "x", err);
    if (st == RS_OK)
        st = check_level(level, err);
    if (st == RS_OK && !isfinite(mu))
        st = rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                          "mu = %g is not finite", mu);
    if (st != RS_OK)
        return st;
    double mean, var;
    mean_var(x, n, &mean, &var);
    out->estimate = mean;
    out->level = level;
    if (n < 2) {
        out->flags = RS_STATS_TOO_FEW;
        return RS_OK;
    }
    finish_ttest(out, mean, sqrt(var / (double)n), (double)(n - 1), mu,
                 level);
    return RS_OK;
}

rs_status rs_ttest_welch(const double *a, size_t n_a, const double *b,
                         size_t n_b, double level, rs_ttest_t *out,
                         rs_error_t *err)
{
    if (!out)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "out is NULL");
    blank_ttest(out);
    rs_status st = check_sample(a, n_a, "a", err);
    if (st == RS_OK)
        st = check_sample(b, n_b, "b", err);
    if (st == RS_OK)
        st = check_level(level, err);
    if (st != RS_OK)
        return st;
    double mean_a, var_a, mean_b, var_b;
    mean_var(a, n_a, &mean_a, &var_a);
    mean_var(b, n_b, &mean_b, &var_b);
    double estimate = mean_a - mean_b;
    out->estimate = estimate;
    out->level = level;
    if (n_a < 2 || n_b < 2) {
        out->flags = RS_STATS_TOO_FEW;
        return RS_OK;
    }
    double va = var_a / (double)n_a, vb = var_b / (double)n_b;
    double se2 = va + vb;
    double df = NAN;
    if (se2 > 0)
        df = se2 * se2 /
             (va * va / (double)(n_a - 1) + vb * vb / (double)(n_b - 1));
    finish_ttest(out, estimate, sqrt(se2), df, 0.0, level);
    return RS_OK;
}

/* ---------------------------------------------------------------------------
 * Wilcoxon signed-rank
 * ------------------------------------------------------------------------ */

/* A nonzero difference: its magnitude, its sign, later its rank. */
typedef struct signed_abs {
    double abs;
    int positive;
} signed_abs_t;

static int cmp_signed_abs(const void *pa, const void *pb)
{
    double a = ((const signed_abs_t *)pa)->abs;
    double b = ((const signed_abs_t *)pb)->abs;
    return (a > b) - (a < b);
}

/* P(V <= v) and P(V >= v) under H0 for n untied ranks 1..n, v integer:
 * count[s] = number of subsets of {1..n} with sum s, built one rank at a
 * time (count_k[s] = count_{k-1}[s] + count_{k-1}[s - k]).  n < 50 keeps
 * every count below 2^49, exact in a double. */
static rs_status signrank_exact(size_t n, double v, double *p_le,
                                double *p_ge, rs_error_t *err)
{
    size_t max_sum = n * (n + 1) / 2;
    double *count = calloc(max_sum + 1, sizeof *count);
    if (!count)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "no memory for the signed-rank distribution");
    count[0] = 1.0;
    size_t top = 0;
    for (size_t k = 1; k <= n; k++) {
        top += k;
        for (size_t s = top; s >= k; s--)
            count[s] += count[s - k];
    }
    double le = 0.0, ge = 0.0;
    for (size_t s = 0; s <= max_sum; s++) {
        if ((double)s <= v)
            le += count[s];
        if ((double)s >= v)
            ge += count[s];
    }
    double total = ldexp(1.0, (int)n);
    *p_le = le / total;
    *p_ge = ge / total;
    free(count);
    return RS_OK;
}

rs_status rs_wilcoxon_signed_rank(const double *d, size_t n,
                                  rs_wilcoxon_t *out, rs_error_t *err)
{
    if (!out)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "out is NULL");
    blank_wilcoxon(out);
    rs_status st = check_sample(d, n, "d", err);
    if (st != RS_OK)
        return st;

    signed_abs_t *v = malloc(n * sizeof *v);
    if (!v)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "no memory for %zu ranks", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0.0)
            continue;
        v[m].abs = fabs(d[i]);
        v[m].positive = d[i] > 0;
        m++;
    }
    out->n_used = m;
    out->n_zero = n - m;
    if (m < n)
        out->flags |= RS_STATS_ZEROS;
    if (m == 0) {
        out->flags |= RS_STATS_ALL_ZERO;
        free(v);
        return RS_OK;
    }
    qsort(v, m, sizeof *v, cmp_signed_abs);

    /* Midranks: a run of equal |d| at sorted positions i..j-1 (0-based)
     * shares the rank (i + 1 + j) / 2; tie_sum collects t^3 - t. */
    double v_plus = 0.0, tie_sum = 0.0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && v[j].abs == v[i].abs)
            j++;
        double rank = 0.5 * (double)(i + 1 + j);
        double t = (double)(j - i);
        tie_sum += t * t * t - t;
        for (size_t k = i; k < j; k++)
            if (v[k].positive)
                v_plus += rank;
        i = j;
    }
    free(v);
    out->v_plus = v_plus;
    if (tie_sum > 0)
        out->flags |= RS_STATS_TIES;

    double nm = (double)m;
    if (m < 50 && tie_sum == 0 && m == n) {
        double p_le = NAN, p_ge = NAN;
        st = signrank_exact(m, v_plus, &p_le, &p_ge, err);
        if (st != RS_OK) {
            blank_wilcoxon(out);
            return st;
        }
        out->p = fmin(1.0, 2.0 * fmin(p_le, p_ge));
        return RS_OK;
    }
    out->flags |= RS_STATS_NORMAL_APPROX;
    double centre = v_plus - nm * (nm + 1.0) / 4.0;
    double sigma =
        sqrt(nm * (nm + 1.0) * (2.0 * nm + 1.0) / 24.0 - tie_sum / 48.0);
    double correction = centre > 0 ? 0.5 : centre < 0 ? -0.5 : 0.0;
    double z = (centre - correction) / sigma;
    out->z = z;
    out->p = fmin(1.0, 2.0 * rs_norm_cdf(-fabs(z)));
    return RS_OK;
}

/* ---------------------------------------------------------------------------
 * Bootstrap
 * ------------------------------------------------------------------------ */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The mean of replicate r (the mapping documented in stats.h). */
static double bootstrap_replicate_mean(const double *x, uint32_t n,
                                       rs_key_t key, uint32_t ctr0,
                                       uint32_t r)
{
    double sum = 0.0;
    uint32_t words[4];
    for (uint32_t i = 0; i < n; i++) {
        if (i % 4 == 0) {
            uint32_t ctr[4] = {ctr0, r, i / 4, 0};
            rs_philox4x32_10(ctr, key, words);
        }
        sum += x[rs_bounded(words[i % 4], n)];
    }
    return sum / (double)n;
}

/* Hyndman-Fan type 7 quantile of sorted s[0..count-1]. */
static double quantile_type7(const double *s, size_t count, double prob)
{
    double h = (double)(count - 1) * prob;
    double j = floor(h);
    size_t idx = (size_t)j;
    if (idx >= count - 1)
        return s[count - 1];
    return s[idx] + (h - j) * (s[idx + 1] - s[idx]);
}

rs_status rs_bootstrap_mean_ci(const double *x, size_t n, double level,
                               const rs_bootstrap_spec_t *spec,
                               double *ci_lo, double *ci_hi,
                               double *replicate_means, rs_error_t *err)
{
    if (!ci_lo || !ci_hi || !spec)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "spec, ci_lo or ci_hi is NULL");
    *ci_lo = *ci_hi = NAN;
    rs_status st = check_sample(x, n, "x", err);
    if (st == RS_OK)
        st = check_level(level, err);
    if (st != RS_OK)
        return st;
    if (n > UINT32_MAX)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "bootstrap of %zu values: at most 2^32 - 1", n);
    if (spec->stream >= (1u << 24))
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "bootstrap stream %u is not below 2^24",
                            (unsigned)spec->stream);
    if (spec->n_replicates < 2)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "bootstrap needs at least 2 replicates, got %u",
                            (unsigned)spec->n_replicates);

    size_t count = spec->n_replicates;
    double *sorted = malloc(count * sizeof *sorted);
    if (!sorted)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "no memory for %zu bootstrap replicates", count);
    rs_key_t key = rs_key_from_seed(spec->seed);
    uint32_t ctr0 = rs_ctr0(RS_PURPOSE_BOOTSTRAP, spec->stream);
    for (uint32_t r = 0; r < spec->n_replicates; r++) {
        sorted[r] = bootstrap_replicate_mean(x, (uint32_t)n, key, ctr0, r);
        if (replicate_means)
            replicate_means[r] = sorted[r];
    }
    qsort(sorted, count, sizeof *sorted, cmp_double);
    double p_lo = (1.0 - level) / 2.0;
    double p_hi = 1.0 - p_lo;
    *ci_lo = quantile_type7(sorted, count, p_lo);
    *ci_hi = quantile_type7(sorted, count, p_hi);
    free(sorted);
    return RS_OK;
}

/* ---------------------------------------------------------------------------
 * Paired comparison
 * ------------------------------------------------------------------------ */

rs_status rs_paired_compare(const double *a, const double *b, size_t n,
                            double level, const rs_bootstrap_spec_t *boot,
                            rs_paired_t *out, rs_error_t *err)
{
    if (!out)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "out is NULL");
    blank_paired(out);
    rs_status st = check_sample(a, n, "a", err);
    if (st == RS_OK)
        st = check_sample(b, n, "b", err);
    if (st == RS_OK)
        st = check_level(level, err);
    if (st != RS_OK)
        return st;

    double *d = malloc(n * sizeof *d);
    if (!d)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "no memory for %zu differences", n);
    size_t n_pos = 0, n_zero = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = a[i] - b[i];
        n_pos += d[i] > 0;
        n_zero += d[i] == 0;
    }
    /* Differences of finite values can overflow. */
    st = check_sample(d, n, "a - b", err);
    if (st == RS_OK)
        st = rs_ttest_one_sample(d, n, 0.0, level, &out->ttest, err);
    if (st == RS_OK)
        st = rs_wilcoxon_signed_rank(d, n, &out->wilcoxon, err);
    if (st == RS_OK && boot && boot->n_replicates > 0)
        st = rs_bootstrap_mean_ci(d, n, level, boot, &out->boot_lo,
                                  &out->boot_hi, NULL, err);
    if (st != RS_OK) {
        free(d);
        blank_paired(out);
        return st;
    }
    double mean, var;
    mean_var(d, n, &mean, &var);
    free(d);
    out->n = n;
    out->level = level;
    out->mean_diff = mean;
    out->sd_diff = n > 1 ? sqrt(var) : NAN;
    out->cohen_dz = out->sd_diff > 0 ? mean / out->sd_diff : NAN;
    out->prob_superiority =
        ((double)n_pos + 0.5 * (double)n_zero) / (double)n;
    return RS_OK;
}

/* ---------------------------------------------------------------------------
 * Holm
 * ------------------------------------------------------------------------ */

typedef struct indexed_p {
    double p;
    size_t index;
} indexed_p_t;

/* By p, then by input position: a stable order for qsort. */
static int cmp_indexed_p(const void *pa, const void *pb)
{
    const indexed_p_t *a = pa, *b = pb;
    if (a->p != b->p)
        return a->p < b->p ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

rs_status rs_holm_adjust(const double *p, size_t m, double *p_adj,
                         rs_error_t *err)
{
    if (m == 0)
        return RS_OK;
    if (!p || !p_adj)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "p or p_adj is NULL");
    for (size_t i = 0; i < m; i++)
        if (!isnan(p[i]) && !(p[i] >= 0.0 && p[i] <= 1.0))
            return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                "p[%zu] = %g is not a probability", i, p[i]);
    indexed_p_t *tested = malloc(m * sizeof *tested);
    if (!tested)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "no memory for %zu p-values", m);
    size_t m_tested = 0;
    for (size_t i = 0; i < m; i++) {
        if (isnan(p[i])) {
            p_adj[i] = NAN;
            continue;
        }
        tested[m_tested].p = p[i];
        tested[m_tested].index = i;
        m_tested++;
    }
    qsort(tested, m_tested, sizeof *tested, cmp_indexed_p);
    double running = 0.0;
    for (size_t k = 0; k < m_tested; k++) {
        double scaled = fmin(1.0, (double)(m_tested - k) * tested[k].p);
        running = fmax(running, scaled);
        p_adj[tested[k].index] = running;
    }
    free(tested);
    return RS_OK;
}
