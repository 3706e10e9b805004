/* SPDX-License-Identifier: MIT */
/* stats.h — the statistics `regsweep report` uses to compare generalisation
 * gaps across seeds (DESIGN.md, "Statistics").
 *
 * Pure numerics in double precision: no I/O, no printing, no global state.
 * This module is NOT part of the bit-exact training path, so it uses libm
 * (erfc, lgamma, exp, log, log1p, tan, fma) and its results may differ in the
 * last bits between C libraries.  The bootstrap is the exception that is
 * exactly reproducible: its resampling is a pure function of (seed, stream,
 * replicate, i) through Philox4x32-10 (see rs_bootstrap_mean_ci).
 *
 * Two kinds of functions:
 *   - distribution functions (rs_norm_*, rs_t_*, rs_beta_inc) are total:
 *     they return a double and signal a bad argument by returning NaN;
 *   - estimators and tests return an rs_status and fill a result record
 *     owned by the caller.  RS_EINPUT: a NULL pointer, n < 1 (n < 1 per
 *     sample), a level outside the open interval (0, 1), a non-finite data
 *     value, or an argument outside the range stated with the function.
 *     RS_ENOMEM: a scratch allocation failed.  On any status other than RS_OK
 *     the record is left with NaN numbers and flags 0.
 *
 * Degenerate data are not errors: they give RS_OK and a record whose flags
 * say what could not be computed; the fields that could not be computed are
 * NaN (never garbage, never a division by zero that traps).
 */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/common.h"

/* ---------------------------------------------------------------------------
 * Distributions
 * ------------------------------------------------------------------------ */

/* Standard normal CDF Phi(x) = P(Z <= x).  Phi(-inf) = 0, Phi(+inf) = 1,
 * NaN -> NaN.  Computed as erfc(|x|/sqrt 2)/2 with the rounding error of
 * |x|/sqrt 2 corrected to first order, so the lower tail (x < 0) keeps about
 * 3e-16 relative accuracy down to x = -37.5 (below, the result is
 * subnormal and loses relative precision, 0 below about -38.5); for x > 0
 * the result is 1 - (that tail), accurate to about 1e-16 absolute. */
double rs_norm_cdf(double x);

/* Standard normal quantile: the z with Phi(z) = p (Wichura 1988, algorithm
 * AS 241, PPND16: within 6e-16 relative of mpmath over 300 random p from
 * 1e-300 to 1 - 1e-12).  p = 0 -> -inf, p = 1 -> +inf; p outside [0, 1]
 * or NaN -> NaN.  For p near 1 the answer can be no better than p itself:
 * to get an upper-tail quantile accurately, pass the small tail
 * probability q and negate (z_{1-q} = -rs_norm_quantile(q)). */
double rs_norm_quantile(double p);

/* Regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b),
 * by its continued fraction (modified Lentz, written so that x near 1 with
 * large a loses nothing to cancellation), using the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) when x > (a + 1) / (a + b + 2).
 * Requires 0 <= x <= 1, a > 0, b > 0 (finite); otherwise NaN.  Also NaN if
 * the fraction has not converged after 100000 terms (never seen).
 * Accuracy against mpmath over 300 random (x, a, b), a, b in [0.1, 1e4]:
 * within 7e-15 relative wherever I >= 1e-10; deeper in the tail the error
 * grows like |log I| * 1e-16 (2e-13 at I = 1e-260).  Where the symmetry
 * is used the result is 1 - (the other side): accurate to a few 1e-16
 * absolute, so not relatively when it is small. */
double rs_beta_inc(double x, double a, double b);

/* Student t with df degrees of freedom, df > 0 real (non-integer df, as
 * Welch's test produces, is fine); df = +inf, and any df > 1e25 (where
 * the two agree to double precision), is the standard normal.
 * rs_t_cdf(t, df) = P(T <= t); rs_t_sf(t, df) = P(T > t) (= rs_t_cdf(-t)).
 * Each is computed from I_{df/(df+t^2)}(df/2, 1/2) without subtracting from
 * 1 in its own small tail, so rs_t_cdf keeps its relative accuracy for
 * t << 0 and rs_t_sf for t >> 0.  Against mpmath (400 random t, df from 0.2
 * to 1e6): within 6e-15 relative where the tail is >= 1e-10, growing like
 * |log P| * 1e-16 beyond (3e-14 at P = 1e-43); the other side within
 * 3e-16 absolute.  df <= 0 or NaN arguments -> NaN; t = -inf / +inf give
 * 0 / 1 (cdf). */
double rs_t_cdf(double t, double df);
double rs_t_sf(double t, double df);

/* Student t quantile: the t with rs_t_cdf(t, df) = p, df > 0 real or +inf
 * (df > 1e25: the normal quantile, see above).
 * p = 0 -> -inf, p = 1 -> +inf, p = 0.5 -> 0; p outside [0, 1], df <= 0 or
 * NaN -> NaN.  Found by safeguarded Newton iteration in log t, on
 * P(T > |t|) for tail probabilities below 1/4 and on P(0 < T < |t|)
 * otherwise (so p near 1/2 is as accurate as p allows), started from the
 * better of a Cornish-Fisher and a tail-asymptotic guess.  Relative
 * accuracy about 1e-15 (3e-15 for df < 1; in extreme tails, the error of
 * rs_t_cdf divided by |d log P / d log t|, which is at least df).  Returns
 * +-inf where the quantile exceeds the double range (tiny p with df < 1).
 * Like rs_norm_quantile, pass a small p for an accurate upper quantile:
 * t_{1-q} = -rs_t_quantile(q, df). */
double rs_t_quantile(double p, double df);

/* ---------------------------------------------------------------------------
 * Result records
 * ------------------------------------------------------------------------ */

/* Flags: what a result could not compute, or how it was computed. */
enum rs_stats_flag {
    RS_STATS_TOO_FEW = 1u << 0,   /* fewer than 2 values (in some sample):
                                     sd, se, t, df, p and the CI are NaN  */
    RS_STATS_CONSTANT = 1u << 1,  /* zero variance (all values exactly
                                     equal): sd = se = 0, the t-interval is
                                     [estimate, estimate], t and p are NaN
                                     (t is 0/0 or +-inf: no test)        */
    RS_STATS_ALL_ZERO = 1u << 2,  /* Wilcoxon: every difference is 0; no
                                     test: statistics and p are NaN       */
    RS_STATS_ZEROS = 1u << 3,     /* Wilcoxon: zero differences dropped   */
    RS_STATS_TIES = 1u << 4,      /* Wilcoxon: tied |d| (midranks used)   */
    RS_STATS_NORMAL_APPROX = 1u << 5 /* Wilcoxon: p from the normal
                                     approximation, not the exact law     */
};

/* n values summarised: mean, sample sd and a t-interval of the mean. */
typedef struct rs_summary {
    size_t n;
    double mean;
    double sd;     /* sample sd, divisor n - 1; NaN if n < 2             */
    double se;     /* sd / sqrt(n); NaN if n < 2                          */
    double level;  /* confidence level of [ci_lo, ci_hi], e.g. 0.95       */
    double ci_lo;  /* mean -+ t_{1-(1-level)/2, n-1} * se; NaN if n < 2   */
    double ci_hi;
    unsigned flags; /* RS_STATS_TOO_FEW, RS_STATS_CONSTANT                */
} rs_summary_t;

/* A t-test and the matching t-interval. */
typedef struct rs_ttest {
    double estimate; /* one-sample: mean(x); Welch: mean(a) - mean(b)     */
    double se;       /* standard error of the estimate                    */
    double t;        /* (estimate - mu) / se                               */
    double df;       /* n - 1, or the Welch-Satterthwaite df               */
    double p;        /* two-sided p = P(|T_df| >= |t|)                     */
    double level;
    double ci_lo;    /* estimate -+ t_{1-(1-level)/2, df} * se             */
    double ci_hi;
    unsigned flags;  /* RS_STATS_TOO_FEW, RS_STATS_CONSTANT               */
} rs_ttest_t;

/* Wilcoxon signed-rank test of the differences d against 0, with the
 * conventions of R's wilcox.test(d, mu = 0, exact = NULL, correct = TRUE):
 * zero differences are dropped (Wilcoxon's convention, not Pratt's); the
 * remaining |d| are ranked 1..n_used, ties getting their mean rank;
 * v_plus = the sum of the ranks of the positive d (R's statistic V).
 * Exact p iff n_used < 50 and there are no ties and no zeros: the null law
 * of v_plus (each sign +- with probability 1/2 independently) is counted by
 * dynamic programming, p = min(1, 2 * min(P(V <= v_plus), P(V >= v_plus))).
 * Otherwise the normal approximation with tie and continuity corrections:
 *   mu = n(n+1)/4,  sigma^2 = n(n+1)(2n+1)/24 - sum over tie groups of
 *   (t^3 - t)/48,  z = (v_plus - mu - 0.5 sign(v_plus - mu)) / sigma,
 *   p = 2 * min(Phi(z), 1 - Phi(z))   (n = n_used). */
typedef struct rs_wilcoxon {
    size_t n_used;   /* nonzero differences                               */
    size_t n_zero;   /* zero differences dropped                          */
    double v_plus;   /* sum of ranks of positive differences; NaN if none */
    double z;        /* normal-approximation statistic; NaN when exact    */
    double p;        /* two-sided; NaN when RS_STATS_ALL_ZERO             */
    unsigned flags;  /* RS_STATS_ALL_ZERO, _ZEROS, _TIES, _NORMAL_APPROX  */
} rs_wilcoxon_t;

/* How to draw the bootstrap: seed -> Philox key by rs_key_from_seed; stream
 * (< 2^24) separates independent bootstraps under one seed (e.g. one per
 * comparison); n_replicates >= 2 (1000-10000 is usual; 0 in
 * rs_paired_compare means "no bootstrap"). */
typedef struct rs_bootstrap_spec {
    uint64_t seed;
    uint32_t stream;
    uint32_t n_replicates;
} rs_bootstrap_spec_t;

/* Everything regsweep reports for config A against a baseline B, paired by
 * seed: d_i = a_i - b_i. */
typedef struct rs_paired {
    size_t n;               /* pairs                                       */
    double level;
    double mean_diff;       /* mean(d)                                     */
    double sd_diff;         /* sd(d), divisor n - 1; NaN if n < 2          */
    rs_ttest_t ttest;       /* one-sample t-test of d against 0, with the
                               t-interval of mean(d)                       */
    double cohen_dz;        /* mean(d) / sd(d); NaN if n < 2 or sd(d) = 0  */
    double prob_superiority;/* P(A > B) estimated per pair:
                               (#{d_i > 0} + #{d_i = 0} / 2) / n           */
    rs_wilcoxon_t wilcoxon; /* signed-rank test of d                       */
    double boot_lo;         /* bootstrap percentile CI of mean(d) (see     */
    double boot_hi;         /* rs_bootstrap_mean_ci); NaN if not asked for */
} rs_paired_t;

/* ---------------------------------------------------------------------------
 * Estimators and tests
 * ------------------------------------------------------------------------ */

/* n, mean, sample sd and the level t-interval of the mean of x[0..n-1].
 * x: n finite values (read only).  n >= 1, 0 < level < 1.
 * The mean and variance use the corrected two-pass algorithm; when all
 * values are exactly equal, mean = x[0] and sd = 0 exactly (CONSTANT).
 * n = 1: mean only, TOO_FEW.  Returns RS_OK or RS_EINPUT. */
rs_status rs_summarize(const double *x, size_t n, double level,
                       rs_summary_t *out, rs_error_t *err);

/* One-sample t-test of H0: E[x] = mu (two-sided) and the t-interval of the
 * mean; estimate = mean(x), df = n - 1.  Constraints and degenerate cases as
 * rs_summarize (CONSTANT: t and p NaN, CI [mean, mean]).  For the paired
 * test pass the differences d = a - b and mu = 0. */
rs_status rs_ttest_one_sample(const double *x, size_t n, double mu,
                              double level, rs_ttest_t *out,
                              rs_error_t *err);

/* Welch's unpaired t-test of H0: E[a] = E[b] (two-sided), estimate =
 * mean(a) - mean(b), se = sqrt(s_a^2/n_a + s_b^2/n_b),
 * df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)).
 * n_a, n_b >= 1; TOO_FEW if either is 1.  If both samples are constant
 * (se = 0): CONSTANT, df, t and p NaN, CI [estimate, estimate].
 * Returns RS_OK or RS_EINPUT. */
rs_status rs_ttest_welch(const double *a, size_t n_a, const double *b,
                         size_t n_b, double level, rs_ttest_t *out,
                         rs_error_t *err);

/* Wilcoxon signed-rank test of the n differences d (finite, n >= 1) against
 * 0; the conventions are documented at rs_wilcoxon_t.  If every d is 0:
 * RS_STATS_ALL_ZERO, n_used = 0, v_plus, z and p NaN.
 * Returns RS_OK, RS_EINPUT or RS_ENOMEM (scratch: n ranks, and for the
 * exact law n(n+1)/2 + 1 <= 1226 counts). */
rs_status rs_wilcoxon_signed_rank(const double *d, size_t n,
                                  rs_wilcoxon_t *out, rs_error_t *err);

/* Seeded percentile-bootstrap CI of the mean of x[0..n-1].
 * Resampling (this mapping is part of the results format; it never changes):
 *   key = rs_key_from_seed(spec->seed);
 *   replicate r (0 <= r < n_replicates), resample position i (0 <= i < n):
 *     w = word i % 4 of rs_philox4x32_10(
 *           (rs_ctr0(RS_PURPOSE_BOOTSTRAP, spec->stream), r, i / 4, 0), key)
 *     index = rs_bounded(w, n)
 *   m_r = (x[index_0] + x[index_1] + ... + x[index_{n-1}]) / n, summed in
 *   that order in double, then one division by (double)n.
 * Interval: sort m_0..m_{R-1} ascending into s_0 <= ... <= s_{R-1}; with
 *   p_lo = (1 - level) / 2 and p_hi = 1 - p_lo (in double),
 *   Q(p) = s_j + g * (s_{j+1} - s_j),  h = (R - 1) * p, j = floor(h),
 *   g = h - j (Hyndman-Fan type 7, R's quantile() default; s_{j+1} read as
 *   s_j when j = R - 1);  *ci_lo = Q(p_lo), *ci_hi = Q(p_hi).
 * x: n finite values, 1 <= n <= UINT32_MAX.  spec: stream < 2^24,
 * n_replicates >= 2.  replicate_means: NULL, or room for n_replicates
 * doubles that receive m_r in replicate order (unsorted).
 * Returns RS_OK, RS_EINPUT or RS_ENOMEM (scratch: n_replicates doubles). */
rs_status rs_bootstrap_mean_ci(const double *x, size_t n, double level,
                               const rs_bootstrap_spec_t *spec,
                               double *ci_lo, double *ci_hi,
                               double *replicate_means, rs_error_t *err);

/* The paired comparison of a against b (a[i] and b[i] come from the same
 * seed): d = a - b, then everything in rs_paired_t.  boot: NULL or
 * boot->n_replicates == 0 for no bootstrap (boot_lo/hi NaN), else as
 * rs_bootstrap_mean_ci.  n >= 1, values finite, 0 < level < 1.
 * Returns RS_OK, RS_EINPUT or RS_ENOMEM. */
rs_status rs_paired_compare(const double *a, const double *b, size_t n,
                            double level, const rs_bootstrap_spec_t *boot,
                            rs_paired_t *out, rs_error_t *err);

/* Holm's (1979) step-down adjustment of m p-values for the family-wise
 * error rate.  With the k-th smallest p-value p_(k) (k = 1..m, ties in
 * input order): adj_(k) = min(1, max over j <= k of (m - j + 1) p_(j)), so
 * the adjusted values are monotone in p and capped at 1 (equal to R's
 * p.adjust(p, "holm")).  NaN entries are "not tested": they stay NaN in
 * p_adj and are not counted in m.  p: m values in [0, 1] or NaN; p_adj:
 * room for m (may be the same array as p).  m = 0 is allowed (nothing to
 * do).  Returns RS_OK, RS_EINPUT (a value outside [0, 1]) or RS_ENOMEM. */
rs_status rs_holm_adjust(const double *p, size_t m, double *p_adj,
                         rs_error_t *err);

#endif
