/* SPDX-License-Identifier: MIT */
/* test_stats.c — the statistics module against independent truths.
 *
 * Reference values come from (each is named where it is used):
 *   - printed tables and textbook/R-documentation examples;
 *   - closed forms (Cauchy = t_1, t_2, I_x(a,1) = x^a, ...), evaluated here;
 *   - mpmath 1.2.1 at mp.dps = 50 (arbitrary precision), with inputs taken
 *     as the exact values of the doubles used here (mpf(float(v)));
 *     "tail(t, df)" below means
 *       betainc(df/2, mpf(1)/2, 0, df/(df+t*t), regularized=True)/2,
 *     i.e. P(T > t) for t >= 0;
 *   - scipy 1.10.1 (python3-scipy on Debian 12), as a second opinion;
 *   - enumerations written in this file (all 2^n sign patterns for the
 *     signed-rank test; the bootstrap replicates rebuilt word by word from
 *     rs_philox4x32_10).
 * The tests never call Python.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/rng.h"
#include "regsweep/stats.h"

/* |got - want| <= rel * |want| */
static void expect_rel(double got, double want, double rel, const char *what)
{
    cr_expect(fabs(got - want) <= rel * fabs(want),
              "%s: got %.17g, want %.17g (relative error %.3g > %.3g)", what,
              got, want, fabs(got - want) / fabs(want), rel);
}

static void expect_abs(double got, double want, double tol, const char *what)
{
    cr_expect(fabs(got - want) <= tol,
              "%s: got %.17g, want %.17g (error %.3g > %.3g)", what, got,
              want, fabs(got - want), tol);
}

/* ===========================================================================
 * Normal distribution
 * ======================================================================== */

Test(norm, cdf_matches_mpmath)
{
    /* mpmath: ncdf(mpf(x)), mp.dps = 50. */
    static const struct {
        double x, want;
    } ref[] = {
        {-37.5, 4.6053530095819548438e-308},
        {-30.0, 4.9067139271481870595e-198},
        {-20.0, 2.7536241186062336951e-89},
        {-10.0, 7.619853024160526066e-24},
        {-8.5, 9.4795348222033183542e-18},
        {-5.0, 2.8665157187919391167e-7},
        {-3.0, 0.0013498980316300945267},
        {-1.959963984540054, 0.025000000000000013765},
        {-1.0, 0.15865525393145705141},
        {-0.3, 0.38208857781104736269},
        {0.0, 0.5},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "Phi(%g)", ref[i].x);
        expect_rel(rs_norm_cdf(ref[i].x), ref[i].want, 1e-15, what);
    }
    /* Upper half: absolute accuracy (mpmath ncdf again).  Phi(1.96) =
     * 0.9750021048517795 is also the classic table entry 0.9750. */
    expect_abs(rs_norm_cdf(0.3), 0.61791142218895263731, 2e-16, "Phi(0.3)");
    expect_abs(rs_norm_cdf(1.0), 0.84134474606854294859, 2e-16, "Phi(1)");
    expect_abs(rs_norm_cdf(1.96), 0.97500210485177956379, 2e-16,
               "Phi(1.96)");
    expect_abs(rs_norm_cdf(5.0), 0.99999971334842812081, 2e-16, "Phi(5)");
    expect_abs(rs_norm_cdf(8.0), 0.9999999999999993779, 2e-16, "Phi(8)");
}

Test(norm, cdf_edges)
{
    cr_expect_eq(rs_norm_cdf(-INFINITY), 0.0);
    cr_expect_eq(rs_norm_cdf(INFINITY), 1.0);
    cr_expect(isnan(rs_norm_cdf(NAN)));
    cr_expect_eq(rs_norm_cdf(-40.0), 0.0, "underflows to 0, no NaN");
    /* Symmetry Phi(x) + Phi(-x) = 1 (a property, not a reference). */
    for (double x = 0.0; x < 9.0; x += 0.37)
        expect_abs(rs_norm_cdf(x) + rs_norm_cdf(-x), 1.0, 2.3e-16,
                   "Phi(x) + Phi(-x)");
}

Test(norm, quantile_matches_tables_and_mpmath)
{
    /* Standard tables (and R's qnorm(0.975) printed with 16 digits). */
    expect_rel(rs_norm_quantile(0.975), 1.959963984540054, 1e-15,
               "z_0.975");
    /* mpmath: sqrt(2)*erfinv(2*p - 1) for p >= 1e-12, else findroot of
     * log(ncdf(z)) = log(p); p the exact double; mp.dps = 60. */
    static const struct {
        double p, want;
    } ref[] = {
        {1e-300, -37.047096299361199237},
        {1e-100, -21.273453560965324294},
        {1e-20, -9.2623400897984075796},
        {1e-10, -6.3613409024040561991},
        {0.001, -3.0902323061678135354},
        {0.02425, -1.9729610513118848376},
        {0.1, -1.2815515655446004353},
        {0.3, -0.52440051270804081597},
        {0.7, 0.52440051270804065631},
        {0.975, 1.9599639845400538556},
        {0.995, 2.5758293035489004539},
        {0.9999, 3.7190164854557083867},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "z(%g)", ref[i].p);
        expect_rel(rs_norm_quantile(ref[i].p), ref[i].want, 1e-15, what);
    }
}

Test(norm, quantile_edges)
{
    cr_expect_eq(rs_norm_quantile(0.5), 0.0);
    cr_expect(isinf(rs_norm_quantile(0.0)) && rs_norm_quantile(0.0) < 0);
    cr_expect(isinf(rs_norm_quantile(1.0)) && rs_norm_quantile(1.0) > 0);
    cr_expect(isnan(rs_norm_quantile(-0.1)));
    cr_expect(isnan(rs_norm_quantile(1.1)));
    cr_expect(isnan(rs_norm_quantile(NAN)));
}

Test(norm, quantile_inverts_cdf)
{
    /* z(Phi(x)) = x: well conditioned in this direction (an error e in
     * Phi moves z by e / (d log Phi / dx) ~ e / |x|); |x| >= 0.05 so that
     * the rounding of p = Phi(x) itself stays below 1e-15 in x. */
    for (double x = -37.0; x < -0.05; x *= 0.83)
        expect_rel(rs_norm_quantile(rs_norm_cdf(x)), x, 4e-15, "z(Phi(x))");
    for (double p = 0.31; p < 0.999; p += 0.047)
        expect_abs(rs_norm_cdf(rs_norm_quantile(p)), p, 3e-16,
                   "Phi(z(p)) (middle)");
}

/* ===========================================================================
 * Incomplete beta
 * ======================================================================== */

Test(beta, closed_forms)
{
    /* I_x(a, 1) = x^a;  I_x(1, b) = 1 - (1-x)^b;  (above x = (a+1)/(a+b+2)
     * the value is 1 - I_{1-x}(b, a), so a few ulps of the complement)
     * I_x(1/2, 1/2) = (2/pi) asin(sqrt x). */
    for (double x = 0.01; x < 1.0; x += 0.0731) {
        expect_rel(rs_beta_inc(x, 3.7, 1.0), pow(x, 3.7), 5e-15,
                   "I_x(3.7, 1)");
        expect_rel(rs_beta_inc(x, 1.0, 0.4), -expm1(0.4 * log1p(-x)), 5e-15,
                   "I_x(1, 0.4)");
        expect_rel(rs_beta_inc(x, 0.5, 0.5),
                   2.0 / 3.14159265358979323846 * asin(sqrt(x)), 5e-15,
                   "I_x(1/2, 1/2)");
    }
}

Test(beta, matches_mpmath)
{
    /* mpmath: betainc(a, b, 0, x, regularized=True), mp.dps = 50. */
    static const struct {
        double x, a, b, want, rel;
    } ref[] = {
        {0.3, 2.0, 3.0, 0.34829999999999998042, 1e-15},
        {0.001, 5.0, 0.5, 2.4619635502857137551e-16, 2e-15},
        {0.4, 30.5, 29.5, 0.045614271824747971761, 3e-15},
        {1e-5, 0.1, 10.0, 0.41655822619209405028, 1e-15},
        {0.7, 1000.0, 400.0, 0.11898147021920810878, 2e-14},
        /* a |log x| = 100: the exp of a large log costs ~1e-14. */
        {0.999, 1e5, 0.5, 1.9865718783973843039e-45, 3e-14},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char what[80];
        snprintf(what, sizeof what, "I_%g(%g, %g)", ref[i].x, ref[i].a,
                 ref[i].b);
        expect_rel(rs_beta_inc(ref[i].x, ref[i].a, ref[i].b), ref[i].want,
                   ref[i].rel, what);
    }
    /* Near 1: absolute accuracy (same mpmath call). */
    expect_abs(rs_beta_inc(0.5, 200.0, 300.0), 0.99999645651973560746,
               2e-16, "I_0.5(200, 300)");
    expect_abs(rs_beta_inc(0.9, 0.5, 0.5), 0.79516723530086657191, 3e-16,
               "I_0.9(1/2, 1/2)");
}

Test(beta, edges)
{
    cr_expect_eq(rs_beta_inc(0.0, 2.0, 3.0), 0.0);
    cr_expect_eq(rs_beta_inc(1.0, 2.0, 3.0), 1.0);
    cr_expect(isnan(rs_beta_inc(-0.1, 2.0, 3.0)));
    cr_expect(isnan(rs_beta_inc(1.1, 2.0, 3.0)));
    cr_expect(isnan(rs_beta_inc(0.5, 0.0, 3.0)));
    cr_expect(isnan(rs_beta_inc(0.5, 2.0, -1.0)));
    cr_expect(isnan(rs_beta_inc(0.5, INFINITY, 1.0)));
    cr_expect(isnan(rs_beta_inc(NAN, 2.0, 3.0)));
}

/* ===========================================================================
 * Student t
 * ======================================================================== */

Test(t, cdf_closed_forms)
{
    const double pi = 3.14159265358979323846;
    for (double t = 0.05; t < 1e4; t *= 1.7) {
        /* t_1 is Cauchy: P(T > t) = atan(1/t)/pi for t > 0. */
        expect_rel(rs_t_sf(t, 1.0), atan(1.0 / t) / pi, 2e-15, "t_1 sf");
        expect_rel(rs_t_cdf(-t, 1.0), atan(1.0 / t) / pi, 2e-15, "t_1 cdf");
        /* t_2: P(T > t) = (1 - t/sqrt(2+t^2))/2 = 1/(sqrt(2+t^2)
         * (sqrt(2+t^2) + t)), the second form without cancellation. */
        double r = sqrt(2.0 + t * t);
        expect_rel(rs_t_sf(t, 2.0), 1.0 / (r * (r + t)), 2e-15, "t_2 sf");
        /* The other side, absolutely. */
        expect_abs(rs_t_cdf(t, 1.0), 0.5 + atan(t) / pi, 3e-16, "t_1 cdf+");
    }
}

Test(t, cdf_matches_mpmath)
{
    /* want = tail(|t|, df) (mpmath, see the top of the file): the lower
     * tail P(T <= -|t|), compared relatively. */
    static const struct {
        double t, df, want;
    } ref[] = {
        {2.262157162, 9.0, 0.025000000032616059613},
        {3.0, 3.7, 0.022062942805759334117},
        {6.0, 10.0, 0.000066054430177392802118},
        {12.0, 10.0, 1.460704412384993544e-7},
        {4.0, 1e6, 0.00003167351700502405231},
        {1e10, 2.5, 7.1933971908317224147e-26},
        {40.0, 0.5, 0.050704899964747178098},
        {0.5, 3.7, 0.32266781665996599035},
        {1.5, 29.3, 0.072156910447363423731},
        {2.0, 1000.0, 0.022885173246625820024},
        {1.0, 1e6, 0.15865537491678906464},
        {1e-3, 5.0, 0.4996203933860988253},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char what[80];
        snprintf(what, sizeof what, "t cdf(-%g; %g)", ref[i].t, ref[i].df);
        expect_rel(rs_t_cdf(-ref[i].t, ref[i].df), ref[i].want, 5e-15, what);
        snprintf(what, sizeof what, "t sf(%g; %g)", ref[i].t, ref[i].df);
        expect_rel(rs_t_sf(ref[i].t, ref[i].df), ref[i].want, 5e-15, what);
        snprintf(what, sizeof what, "t cdf(%g; %g)", ref[i].t, ref[i].df);
        expect_abs(rs_t_cdf(ref[i].t, ref[i].df), 1.0 - ref[i].want, 3e-16,
                   what);
    }
    /* scipy agrees: scipy.stats.t.cdf(-2.262157162, 9) = 0.02500000003261... */
}

Test(t, cdf_edges)
{
    cr_expect_eq(rs_t_cdf(0.0, 3.0), 0.5);
    cr_expect_eq(rs_t_cdf(-INFINITY, 3.0), 0.0);
    cr_expect_eq(rs_t_cdf(INFINITY, 3.0), 1.0);
    cr_expect_eq(rs_t_sf(INFINITY, 3.0), 0.0);
    cr_expect(isnan(rs_t_cdf(1.0, 0.0)));
    cr_expect(isnan(rs_t_cdf(1.0, -2.0)));
    cr_expect(isnan(rs_t_cdf(NAN, 2.0)));
    cr_expect(isnan(rs_t_sf(1.0, NAN)));
    /* df = inf is the normal (mpmath ncdf(-1.5) = 0.066807201268858066). */
    expect_rel(rs_t_cdf(-1.5, INFINITY), 0.066807201268858066, 1e-15,
               "t_inf");
    /* Huge but finite df (mpmath tail(20, 1e16) = 2.7536241186173031965e-89,
     * visibly not yet the normal 2.7536241186062336951e-89); beyond 1e25
     * the normal itself. */
    expect_rel(rs_t_cdf(-20.0, 1e16), 2.7536241186173031965e-89, 2e-14,
               "t_1e16");
    cr_expect_eq(rs_t_cdf(-20.0, 1e30), rs_norm_cdf(-20.0));
    cr_expect_eq(rs_t_quantile(1e-100, 1e300), rs_norm_quantile(1e-100));
}

Test(t, quantile_matches_tables)
{
    /* Printed t tables, 10 significant digits, so within 5e-10 relative
     * (t_{0.975, 9} = 2.2621571628 is also seen truncated, 2.262157162):
     * t_{0.975, 9} = 2.262157163, t_{0.975, 4} = 2.776445105,
     * t_{0.975, 1} = 12.70620474, t_{0.995, 30} = 2.749995654. */
    expect_rel(rs_t_quantile(0.975, 9.0), 2.262157163, 5e-10, "t.975,9");
    expect_rel(rs_t_quantile(0.975, 4.0), 2.776445105, 5e-10, "t.975,4");
    expect_rel(rs_t_quantile(0.975, 1.0), 12.70620474, 5e-10, "t.975,1");
    expect_rel(rs_t_quantile(0.995, 30.0), 2.749995654, 5e-10, "t.995,30");
}

Test(t, quantile_matches_mpmath)
{
    /* mpmath: findroot of 1 - tail(t, df) = p (or of log(tail(-t, df)) =
     * log(p) for p < 1e-5), p and df the exact doubles, mp.dps = 60. */
    static const struct {
        double p, df, want, rel;
    } ref[] = {
        {0.975, 9.0, 2.2621571627982049992, 1e-15},
        {0.975, 4.0, 2.7764451051977934898, 1e-15},
        {0.975, 1.0, 12.706204736174693314, 1e-15},
        {0.975, 7.3, 2.3450667365477030519, 1e-15},
        {0.025, 17.776, -2.1028213103802216594, 1e-15},
        {0.995, 2.5, 7.1637281389487828791, 1e-15},
        {0.9, 0.7, 5.0099479596464064438, 2e-15},
        {1e-10, 3.0, -2225.7692846830931927, 1e-15},
        {1e-10, 0.5, -10284911563163399369.0, 3e-15},
        {0.6, 12.5, 0.25880287736925083328, 2e-15},
        {0.999, 100.5, 3.1733139222255411249, 1e-15},
        {0.975, 100000.0, 1.9599877075346092587, 2e-15},
        {1e-300, 4.0, -1.3160740129524924526e+75, 2e-15},
        /* p next to 1/2: t ~ 2.6e-7, as accurate as p allows */
        {0.4999999, 6.0, -2.6127890590438904727e-7, 2e-15},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char what[80];
        snprintf(what, sizeof what, "t quantile(%g; %g)", ref[i].p,
                 ref[i].df);
        expect_rel(rs_t_quantile(ref[i].p, ref[i].df), ref[i].want,
                   ref[i].rel, what);
    }
}

Test(t, quantile_closed_forms)
{
    const double pi = 3.14159265358979323846;
    for (double p = 0.0013; p < 1.0; p += 0.0371) {
        /* t_1: tan(pi (p - 1/2));  t_2: (2p - 1) / sqrt(2 p (1 - p)). */
        double want1 = tan(pi * (p - 0.5));
        double want2 = (2.0 * p - 1.0) / sqrt(2.0 * p * (1.0 - p));
        expect_rel(rs_t_quantile(p, 1.0), want1, 3e-14, "t_1 quantile");
        expect_rel(rs_t_quantile(p, 2.0), want2, 3e-14, "t_2 quantile");
    }
}

Test(t, quantile_inverts_cdf)
{
    /* quantile(cdf(t)) = t, the well-conditioned direction (see
     * norm.quantile_inverts_cdf), for |t| from 0.05 out to where the tail
     * nears the underflow. */
    const double dfs[] = {0.3, 0.7, 1.5, 3.3, 9.0, 30.0, 1234.5, 1e5};
    for (size_t k = 0; k < sizeof dfs / sizeof dfs[0]; k++) {
        for (double t = -0.05; t > -1e300; t *= 1.9) {
            double p = rs_t_cdf(t, dfs[k]);
            if (p < 1e-290)
                break;
            char what[80];
            snprintf(what, sizeof what, "quantile(cdf(%g; %g))", t, dfs[k]);
            expect_rel(rs_t_quantile(p, dfs[k]), t, 1e-14, what);
        }
        for (double p = 0.31; p < 0.99; p += 0.047)
            expect_abs(rs_t_cdf(rs_t_quantile(p, dfs[k]), dfs[k]), p, 4e-16,
                       "cdf(quantile(p)) middle");
    }
}

Test(t, quantile_edges)
{
    cr_expect_eq(rs_t_quantile(0.5, 3.0), 0.0);
    cr_expect(isinf(rs_t_quantile(0.0, 3.0)) && rs_t_quantile(0.0, 3.0) < 0);
    cr_expect(isinf(rs_t_quantile(1.0, 3.0)) && rs_t_quantile(1.0, 3.0) > 0);
    cr_expect(isnan(rs_t_quantile(1.5, 3.0)));
    cr_expect(isnan(rs_t_quantile(0.5, 0.0)));
    cr_expect(isnan(rs_t_quantile(NAN, 3.0)));
    /* Beyond the double range: tail ~ t^-0.1, so p = 1e-300 needs
     * t ~ 1e3000. */
    cr_expect(isinf(rs_t_quantile(1e-300, 0.1)));
    /* df = inf is the normal. */
    cr_expect_eq(rs_t_quantile(0.975, INFINITY), rs_norm_quantile(0.975));
}

/* ===========================================================================
 * Summaries
 * ======================================================================== */

Test(summary, textbook_values)
{
    /* x = {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32, sd = sqrt(32/7);
     * t_{0.975,7} = 2.3646242515927847379 (mpmath; tables: 2.365). */
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    rs_summary_t s;
    cr_assert_eq(rs_summarize(x, 8, 0.95, &s, NULL), RS_OK);
    cr_expect_eq(s.n, 8u);
    cr_expect_eq(s.mean, 5.0);
    expect_rel(s.sd, 2.1380899352993950775, 1e-15, "sd");
    expect_rel(s.se, 2.1380899352993950775 / sqrt(8.0), 1e-15, "se");
    double half = 1.7874879182362104386; /* t * sd / sqrt 8, mpmath */
    expect_rel(s.ci_lo, 5.0 - half, 1e-15, "ci_lo");
    expect_rel(s.ci_hi, 5.0 + half, 1e-15, "ci_hi");
    cr_expect_eq(s.flags, 0u);
    cr_expect_eq(s.level, 0.95);
}

Test(summary, large_offset_keeps_variance)
{
    /* Wikipedia, "Algorithms for calculating variance": 1e9 + {4,7,13,16}
     * has sample variance 30 exactly; the textbook one-pass formula
     * sum(x^2) - n mean^2 gets it badly wrong in double. */
    const double x[] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
    rs_summary_t s;
    cr_assert_eq(rs_summarize(x, 4, 0.95, &s, NULL), RS_OK);
    cr_expect_eq(s.mean, 1e9 + 10);
    expect_rel(s.sd * s.sd, 30.0, 1e-14, "variance");
}

Test(summary, degenerate)
{
    rs_summary_t s;
    const double one[] = {3.5};
    cr_assert_eq(rs_summarize(one, 1, 0.95, &s, NULL), RS_OK);
    cr_expect_eq(s.mean, 3.5);
    cr_expect(isnan(s.sd) && isnan(s.se) && isnan(s.ci_lo) &&
              isnan(s.ci_hi));
    cr_expect_eq(s.flags, (unsigned)RS_STATS_TOO_FEW);

    /* 0.1 + 0.1 + 0.1 = 0.30000000000000004, / 3 != 0.1: a careless mean
     * would make the constant look variable. */
    const double same[] = {0.1, 0.1, 0.1};
    cr_assert_eq(rs_summarize(same, 3, 0.95, &s, NULL), RS_OK);
    cr_expect_eq(s.mean, 0.1);
    cr_expect_eq(s.sd, 0.0);
    cr_expect_eq(s.ci_lo, 0.1);
    cr_expect_eq(s.ci_hi, 0.1);
    cr_expect_eq(s.flags, (unsigned)RS_STATS_CONSTANT);
}

Test(summary, bad_input)
{
    const double x[] = {1, 2, 3};
    const double bad[] = {1, NAN, 3};
    const double inf[] = {1, 2, INFINITY};
    rs_summary_t s;
    rs_error_t err;
    rs_error_clear(&err);
    cr_expect_eq(rs_summarize(x, 0, 0.95, &s, &err), RS_EINPUT);
    cr_expect_neq(err.msg[0], '\0', "message filled");
    cr_expect_eq(rs_summarize(NULL, 3, 0.95, &s, NULL), RS_EINPUT);
    cr_expect_eq(rs_summarize(x, 3, 0.95, NULL, NULL), RS_EINPUT);
    cr_expect_eq(rs_summarize(x, 3, 0.0, &s, NULL), RS_EINPUT);
    cr_expect_eq(rs_summarize(x, 3, 1.0, &s, NULL), RS_EINPUT);
    cr_expect_eq(rs_summarize(x, 3, 1.5, &s, NULL), RS_EINPUT);
    cr_expect_eq(rs_summarize(x, 3, NAN, &s, NULL), RS_EINPUT);
    cr_expect(isnan(s.mean), "record blanked on error");
    cr_expect_eq(rs_summarize(bad, 3, 0.95, &s, &err), RS_EINPUT);
    cr_expect(strstr(err.msg, "[1]") != NULL, "names the index: %s",
              err.msg);
    cr_expect_eq(rs_summarize(inf, 3, 0.95, &s, NULL), RS_EINPUT);
}

/* ===========================================================================
 * t-tests
 * ======================================================================== */

/* Student's (1908) sleep data, as in R's datasets::sleep (extra hours of
 * sleep under drug 1 and drug 2, same 10 patients). */
static const double sleep1[10] = {0.7, -1.6, -0.2, -1.2, -0.1,
                                  3.4, 3.7,  0.8,  0.0,  2.0};
static const double sleep2[10] = {1.9, 0.8, 1.1, 0.1, -0.1,
                                  4.4, 5.5, 1.6, 4.6, 3.4};

Test(ttest, paired_sleep)
{
    /* R: t.test(sleep1, sleep2, paired = TRUE) prints t = -4.0621,
     * df = 9, p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean
     * difference -1.58.  Full precision from mpmath on the double-rounded
     * differences (mean, sd, t = mean/(sd/sqrt 10), p = 2 tail(|t|, 9));
     * scipy.stats.ttest_rel(sleep1, sleep2) gives t = -4.062127683382037,
     * p = 0.00283289019738427. */
    double d[10];
    for (int i = 0; i < 10; i++)
        d[i] = sleep1[i] - sleep2[i];
    rs_ttest_t t;
    cr_assert_eq(rs_ttest_one_sample(d, 10, 0.0, 0.95, &t, NULL), RS_OK);
    expect_rel(t.estimate, -1.5800000000000000266, 1e-15, "mean d");
    expect_rel(t.t, -4.0621276833820365078, 1e-14, "t");
    cr_expect_eq(t.df, 9.0);
    expect_rel(t.p, 0.0028328901973842710485, 1e-13, "p");
    expect_rel(t.ci_lo, -2.4598857632769825426, 1e-14, "ci_lo");
    expect_rel(t.ci_hi, -0.70011423672301751069, 1e-14, "ci_hi");
    cr_expect_eq(t.flags, 0u);
}

Test(ttest, one_sample_mu)
{
    /* Shifting the data and mu together changes nothing but the
     * estimate and CI, which shift. */
    double d[10], shifted[10];
    for (int i = 0; i < 10; i++) {
        d[i] = sleep1[i] - sleep2[i];
        shifted[i] = d[i] + 8.0;
    }
    rs_ttest_t a, b;
    cr_assert_eq(rs_ttest_one_sample(d, 10, 0.0, 0.9, &a, NULL), RS_OK);
    cr_assert_eq(rs_ttest_one_sample(shifted, 10, 8.0, 0.9, &b, NULL),
                 RS_OK);
    expect_rel(b.t, a.t, 1e-13, "t");
    expect_rel(b.p, a.p, 1e-12, "p");
    expect_rel(b.ci_lo, a.ci_lo + 8.0, 1e-14, "ci_lo");
}

Test(ttest, welch_sleep)
{
    /* R: t.test(extra ~ group, data = sleep) (Welch) prints t = -1.8608,
     * df = 17.776, p-value = 0.07939, 95% CI -3.3654832 0.2054832.
     * Full precision: mpmath from the doubles (Welch-Satterthwaite df,
     * p = 2 tail(|t|, df), CI with the mpmath t quantile at that df);
     * scipy.stats.ttest_ind(sleep1, sleep2, equal_var=False) gives
     * t = -1.8608134674868526, p = 0.07939414018735823. */
    rs_ttest_t t;
    cr_assert_eq(rs_ttest_welch(sleep1, 10, sleep2, 10, 0.95, &t, NULL),
                 RS_OK);
    expect_rel(t.estimate, -1.58, 1e-14, "difference");
    expect_rel(t.t, -1.8608134674868531017, 1e-14, "t");
    expect_rel(t.df, 17.77647351617849024, 1e-14, "df");
    expect_rel(t.p, 0.079394140187358138217, 1e-13, "p");
    expect_rel(t.ci_lo, -3.3654832307117105882, 1e-14, "ci_lo");
    expect_rel(t.ci_hi, 0.20548323071171058491, 1e-13, "ci_hi");
}

Test(ttest, welch_unequal_n)
{
    /* Made-up samples of sizes 7 and 11.  mpmath as in welch_sleep;
     * scipy.stats.ttest_ind(a, b, equal_var=False) gives
     * t = -4.067391334340951, p = 0.0019373528047222338. */
    const double a[] = {19.1, 21.4, 18.2, 22.7, 20.0, 23.3, 17.9};
    const double b[] = {24.0, 22.5, 25.9, 23.1, 26.4, 21.8,
                        24.7, 25.2, 23.9, 22.6, 27.0};
    rs_ttest_t t;
    cr_assert_eq(rs_ttest_welch(a, 7, b, 11, 0.95, &t, NULL), RS_OK);
    expect_rel(t.t, -4.0673913343409467809, 1e-14, "t");
    expect_rel(t.df, 10.780648751146658887, 1e-14, "df");
    expect_rel(t.p, 0.0019373528047222475713, 1e-13, "p");
    expect_rel(t.ci_lo, -6.0316812816252265011, 1e-14, "ci_lo");
    expect_rel(t.ci_hi, -1.7890979391539944996, 1e-14, "ci_hi");
}

Test(ttest, degenerate)
{
    rs_ttest_t t;
    const double same[] = {0.25, 0.25, 0.25, 0.25};
    cr_assert_eq(rs_ttest_one_sample(same, 4, 0.0, 0.95, &t, NULL), RS_OK);
    cr_expect_eq(t.flags, (unsigned)RS_STATS_CONSTANT);
    cr_expect(isnan(t.t) && isnan(t.p));
    cr_expect_eq(t.se, 0.0);
    cr_expect_eq(t.ci_lo, 0.25);
    cr_expect_eq(t.ci_hi, 0.25);
    cr_expect_eq(t.estimate, 0.25);

    const double one[] = {1.0};
    cr_assert_eq(rs_ttest_one_sample(one, 1, 0.0, 0.95, &t, NULL), RS_OK);
    cr_expect_eq(t.flags, (unsigned)RS_STATS_TOO_FEW);
    cr_expect(isnan(t.p) && isnan(t.ci_lo) && isnan(t.se));
    cr_expect_eq(t.estimate, 1.0);

    /* Welch: one sample of 1 value; both samples constant; one constant
     * (then df = n - 1 of the other and the test is well defined). */
    const double three[] = {1.0, 2.0, 4.0};
    cr_assert_eq(rs_ttest_welch(one, 1, three, 3, 0.95, &t, NULL), RS_OK);
    cr_expect_eq(t.flags, (unsigned)RS_STATS_TOO_FEW);
    cr_expect(isnan(t.p));
    const double other[] = {0.5, 0.5};
    cr_assert_eq(rs_ttest_welch(same, 4, other, 2, 0.95, &t, NULL), RS_OK);
    cr_expect_eq(t.flags, (unsigned)RS_STATS_CONSTANT);
    cr_expect(isnan(t.p) && isnan(t.df));
    cr_expect_eq(t.ci_lo, -0.25);
    cr_assert_eq(rs_ttest_welch(same, 4, three, 3, 0.95, &t, NULL), RS_OK);
    cr_expect_eq(t.flags, 0u);
    expect_rel(t.df, 2.0, 1e-15, "df with one constant sample");

    rs_error_t err;
    cr_expect_eq(rs_ttest_welch(three, 0, three, 3, 0.95, &t, &err),
                 RS_EINPUT);
    cr_expect_eq(rs_ttest_one_sample(three, 3, NAN, 0.95, &t, &err),
                 RS_EINPUT);
}

/* ===========================================================================
 * Wilcoxon signed-rank
 * ======================================================================== */

/* Two-sided exact p by enumerating all 2^n sign patterns of the ranks
 * 1..n (no ties): count patterns whose positive-rank sum is <= v and >= v.
 * A different algorithm from the module's dynamic programme. */
static double brute_force_signrank_p(int n, int v)
{
    uint64_t le = 0, ge = 0;
    for (uint32_t mask = 0; mask < (1u << n); mask++) {
        int sum = 0;
        for (int k = 0; k < n; k++)
            if (mask & (1u << k))
                sum += k + 1;
        le += sum <= v;
        ge += sum >= v;
    }
    double p = 2.0 * (double)(le < ge ? le : ge) / ldexp(1.0, n);
    return p < 1.0 ? p : 1.0;
}

/* splitmix64 (Steele, Lea, Flood 2014): a generator for test data that
 * shares nothing with the code under test. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

Test(wilcoxon, hollander_wolfe_example)
{
    /* Hollander & Wolfe (1973), p. 29, the example in R's ?wilcox.test:
     * wilcox.test(x, y, paired = TRUE, alternative = "greater") gives
     * V = 40, p-value = 0.01953 (= 10/512); two-sided: 20/512. */
    const double x[] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
    const double y[] = {0.878, 0.647, 0.598, 2.05, 1.06,
                        1.29,  1.06,  3.14,  1.29};
    double d[9];
    for (int i = 0; i < 9; i++)
        d[i] = x[i] - y[i];
    rs_wilcoxon_t w;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 9, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 40.0);
    cr_expect_eq(w.p, 20.0 / 512.0);
    cr_expect_eq(w.n_used, 9u);
    cr_expect_eq(w.n_zero, 0u);
    cr_expect_eq(w.flags, 0u, "exact, no ties, no zeros");
    cr_expect(isnan(w.z));
}

Test(wilcoxon, critical_value_table)
{
    /* Signed-rank tables: for n = 10 the two-sided 5% critical value of
     * min(W+, W-) is 8: P(W <= 8) = 25/1024 and P(W <= 9) = 33/1024.
     * Differences with W+ = 8: ranks 1, 3, 4 positive (1 + 3 + 4 = 8). */
    double d[10];
    for (int k = 1; k <= 10; k++)
        d[k - 1] = (k == 1 || k == 3 || k == 4) ? k : -k;
    rs_wilcoxon_t w;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 10, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 8.0);
    cr_expect_eq(w.p, 50.0 / 1024.0);
    d[1] = 2.0; /* positive ranks 1, 2, 3, 4: W+ = 10 > 9 */
    d[3] = -4.0; /* now 1, 2, 3: W+ = 6 */
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 10, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 6.0);
    /* P(W <= 6) for n = 10: subsets with sum <= 6 number 1+1+1+2+2+3+4 =
     * 14. */
    cr_expect_eq(w.p, 28.0 / 1024.0);
    /* All negative: W+ = 0, p = 2/2^10; all positive: same. */
    for (int k = 0; k < 10; k++)
        d[k] = -(k + 1.5);
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 10, &w, NULL), RS_OK);
    cr_expect_eq(w.p, 2.0 / 1024.0);
    for (int k = 0; k < 10; k++)
        d[k] = k + 1.5;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 10, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 55.0);
    cr_expect_eq(w.p, 2.0 / 1024.0);
}

Test(wilcoxon, exact_matches_enumeration)
{
    uint64_t state = 12345;
    for (int trial = 0; trial < 60; trial++) {
        int n = 1 + trial % 18;
        double d[18];
        /* Distinct magnitudes 1..n (in a shuffled order, times 0.37),
         * random signs. */
        int mag[18];
        for (int k = 0; k < n; k++)
            mag[k] = k + 1;
        for (int k = n - 1; k > 0; k--) {
            int j = (int)(splitmix64(&state) % (uint64_t)(k + 1));
            int tmp = mag[k];
            mag[k] = mag[j];
            mag[j] = tmp;
        }
        int v = 0;
        for (int k = 0; k < n; k++) {
            int positive = (int)(splitmix64(&state) >> 63);
            d[k] = (positive ? 0.37 : -0.37) * mag[k];
            if (positive)
                v += mag[k];
        }
        rs_wilcoxon_t w;
        cr_assert_eq(rs_wilcoxon_signed_rank(d, (size_t)n, &w, NULL), RS_OK);
        cr_expect_eq(w.v_plus, (double)v, "n=%d", n);
        cr_expect_eq(w.p, brute_force_signrank_p(n, v), "n=%d v=%d", n, v);
        cr_expect_eq(w.flags, 0u);
    }
}

Test(wilcoxon, exact_below_50_normal_from_50)
{
    /* R's rule: exact iff n < 50 (no ties, no zeros). */
    double d[50];
    for (int k = 0; k < 50; k++)
        d[k] = (k % 3 == 0 ? -1.0 : 1.0) * (k + 1);
    rs_wilcoxon_t w;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 49, &w, NULL), RS_OK);
    cr_expect_eq(w.flags & RS_STATS_NORMAL_APPROX, 0u);
    double p_exact = w.p;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 50, &w, NULL), RS_OK);
    cr_expect_eq(w.flags, (unsigned)RS_STATS_NORMAL_APPROX);
    /* n = 50: mu = 637.5, sigma^2 = 50*51*101/24 = 10731.25; W+ = sum of
     * k+1 over k % 3 != 0, k < 50 = 1275 - (1+4+...+49) = 1275 - 425 =
     * 850; z = (850 - 637.5 - 0.5)/sqrt(10731.25). */
    cr_expect_eq(w.v_plus, 850.0);
    expect_rel(w.z, 212.0 / sqrt(10731.25), 1e-15, "z");
    expect_rel(w.p, 2.0 * rs_norm_cdf(-212.0 / sqrt(10731.25)), 1e-15, "p");
    /* Both p-values are small and of the same order. */
    cr_expect(p_exact > 0 && p_exact < 0.1);
}

Test(wilcoxon, ties_and_zeros_sleep)
{
    /* Sleep data, d = drug1 - drug2: one zero, |d| = 1.3 twice.  R's
     * wilcox.test(sleep1, sleep2, paired = TRUE) gives V = 0,
     * p-value = 0.009091 (with warnings about ties and zeros).  By hand:
     * n = 9 after dropping the zero, one tie group of 2,
     * sigma^2 = 9*10*19/24 - (2^3 - 2)/48 = 71.125,
     * z = (0 - 22.5 + 0.5)/sqrt(71.125) = -2.6086243336065097416,
     * p = 2 Phi(z) = 0.0090906980159250620363 (mpmath ncdf);
     * scipy.stats.wilcoxon(d, zero_method='wilcox', correction=True,
     * method='approx') gives p = 0.009090698015925054. */
    double d[10];
    for (int i = 0; i < 10; i++)
        d[i] = sleep1[i] - sleep2[i];
    rs_wilcoxon_t w;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 10, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 0.0);
    cr_expect_eq(w.n_used, 9u);
    cr_expect_eq(w.n_zero, 1u);
    cr_expect_eq(w.flags, (unsigned)(RS_STATS_ZEROS | RS_STATS_TIES |
                                     RS_STATS_NORMAL_APPROX));
    expect_rel(w.z, -2.6086243336065097416, 1e-15, "z");
    expect_rel(w.p, 0.0090906980159250620363, 1e-14, "p");
}

Test(wilcoxon, midranks)
{
    /* d = {1, -2, 2, 3, -3, 3}: |d| ranks 1, 2.5, 2.5, 5, 5, 5;
     * W+ = 1 + 2.5 + 5 + 5 = 13.5; tie groups of 2 and 3:
     * sigma^2 = 6*7*13/24 - (6 + 24)/48 = 22.75 - 0.625 = 22.125;
     * z = (13.5 - 10.5 - 0.5)/sqrt(22.125). */
    const double d[] = {1, -2, 2, 3, -3, 3};
    rs_wilcoxon_t w;
    cr_assert_eq(rs_wilcoxon_signed_rank(d, 6, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 13.5);
    expect_rel(w.z, 2.5 / sqrt(22.125), 1e-15, "z");
    cr_expect_eq(w.flags, (unsigned)(RS_STATS_TIES | RS_STATS_NORMAL_APPROX));
    /* W+ exactly at its mean: no continuity correction, z = 0, p = 1. */
    const double centred[] = {1, -1, 2, -2};
    cr_assert_eq(rs_wilcoxon_signed_rank(centred, 4, &w, NULL), RS_OK);
    cr_expect_eq(w.z, 0.0);
    cr_expect_eq(w.p, 1.0);
}

Test(wilcoxon, degenerate)
{
    rs_wilcoxon_t w;
    const double zeros[] = {0.0, 0.0, -0.0};
    cr_assert_eq(rs_wilcoxon_signed_rank(zeros, 3, &w, NULL), RS_OK);
    cr_expect_eq(w.flags, (unsigned)(RS_STATS_ALL_ZERO | RS_STATS_ZEROS));
    cr_expect_eq(w.n_used, 0u);
    cr_expect_eq(w.n_zero, 3u);
    cr_expect(isnan(w.p) && isnan(w.v_plus) && isnan(w.z));

    /* One nonzero difference: P(W+ >= 1) = 1/2, so p = min(1, 2 * 1/2). */
    const double single[] = {3.0};
    cr_assert_eq(rs_wilcoxon_signed_rank(single, 1, &w, NULL), RS_OK);
    cr_expect_eq(w.v_plus, 1.0);
    cr_expect_eq(w.p, 1.0);

    cr_expect_eq(rs_wilcoxon_signed_rank(single, 0, &w, NULL), RS_EINPUT);
    cr_expect_eq(rs_wilcoxon_signed_rank(NULL, 2, &w, NULL), RS_EINPUT);
}

/* ===========================================================================
 * Bootstrap
 * ======================================================================== */

/* Replicate r rebuilt from the documented mapping, without the module's
 * helpers: counter (5 | stream << 8, r, i/4, 0), word i % 4, index =
 * floor(word * n / 2^32), summed in order, divided by n. */
static double replicate_by_hand(const double *x, uint32_t n, uint64_t seed,
                                uint32_t stream, uint32_t r)
{
    rs_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ctr[4] = {5u | (stream << 8), r, i / 4, 0};
        uint32_t out[4];
        rs_philox4x32_10(ctr, key, out);
        uint32_t index = (uint32_t)(((uint64_t)out[i % 4] * n) >> 32);
        sum += x[index];
    }
    return sum / (double)n;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const double boot_data[13] = {0.31, -0.12, 0.44, 0.05, 0.27,
                                     0.19, -0.03, 0.38, 0.22, 0.09,
                                     0.51, -0.2,  0.14};

Test(bootstrap, follows_documented_mapping)
{
    const uint64_t seed = 0x123456789abcdefULL;
    const uint32_t stream = 77;
    enum { R = 21 };
    rs_bootstrap_spec_t spec = {seed, stream, R};
    double lo, hi, reps[R];
    cr_assert_eq(rs_bootstrap_mean_ci(boot_data, 13, 0.9, &spec, &lo, &hi,
                                      reps, NULL),
                 RS_OK);
    double sorted[R];
    for (uint32_t r = 0; r < R; r++) {
        sorted[r] = replicate_by_hand(boot_data, 13, seed, stream, r);
        cr_expect_eq(reps[r], sorted[r], "replicate %u", r);
    }
    /* Type 7 at p = 0.05 and 0.95 with R = 21: h = 20 p = 1 and 19
     * (up to rounding of p), so the 2nd and 20th smallest replicates. */
    qsort(sorted, R, sizeof sorted[0], cmp_dbl);
    double h_lo = 20.0 * ((1.0 - 0.9) / 2.0);
    double h_hi = 20.0 * (1.0 - (1.0 - 0.9) / 2.0);
    int j_lo = (int)floor(h_lo), j_hi = (int)floor(h_hi);
    double want_lo = sorted[j_lo] + (h_lo - j_lo) * (sorted[j_lo + 1] -
                                                     sorted[j_lo]);
    double want_hi = sorted[j_hi] + (h_hi - j_hi) * (sorted[j_hi + 1] -
                                                     sorted[j_hi]);
    cr_expect_eq(lo, want_lo);
    cr_expect_eq(hi, want_hi);
    expect_abs(lo, sorted[1], 1e-15, "2nd smallest");
    expect_abs(hi, sorted[19], 1e-15, "20th smallest");
}

Test(bootstrap, interpolates_type7)
{
    /* R = 10, level 0.95: h = 9 * 0.025 = 0.225 -> s0 + 0.225 (s1 - s0);
     * h = 9 * 0.975 = 8.775 -> s8 + 0.775 (s9 - s8). */
    rs_bootstrap_spec_t spec = {42, 0, 10};
    double lo, hi, reps[10];
    cr_assert_eq(rs_bootstrap_mean_ci(boot_data, 13, 0.95, &spec, &lo, &hi,
                                      reps, NULL),
                 RS_OK);
    qsort(reps, 10, sizeof reps[0], cmp_dbl);
    expect_abs(lo, reps[0] + 0.225 * (reps[1] - reps[0]), 1e-15, "lo");
    expect_abs(hi, reps[8] + 0.775 * (reps[9] - reps[8]), 1e-15, "hi");
}

Test(bootstrap, deterministic_and_seeded)
{
    rs_bootstrap_spec_t spec = {2024, 3, 500};
    double lo1, hi1, lo2, hi2, r1[500], r2[500];
    cr_assert_eq(rs_bootstrap_mean_ci(boot_data, 13, 0.95, &spec, &lo1, &hi1,
                                      r1, NULL),
                 RS_OK);
    cr_assert_eq(rs_bootstrap_mean_ci(boot_data, 13, 0.95, &spec, &lo2, &hi2,
                                      r2, NULL),
                 RS_OK);
    cr_expect_eq(memcmp(r1, r2, sizeof r1), 0, "same seed, same draws");
    cr_expect_eq(lo1, lo2);
    cr_expect_eq(hi1, hi2);

    spec.seed = 2025;
    cr_assert_eq(rs_bootstrap_mean_ci(boot_data, 13, 0.95, &spec, &lo2, &hi2,
                                      r2, NULL),
                 RS_OK);
    int same = 0;
    for (int r = 0; r < 500; r++)
        same += r1[r] == r2[r];
    cr_expect(same < 50, "another seed: %d of 500 replicates equal", same);

    spec.seed = 2024;
    spec.stream = 4;
    cr_assert_eq(rs_bootstrap_mean_ci(boot_data, 13, 0.95, &spec, &lo2, &hi2,
                                      r2, NULL),
                 RS_OK);
    same = 0;
    for (int r = 0; r < 500; r++)
        same += r1[r] == r2[r];
    cr_expect(same < 50, "another stream: %d of 500 replicates equal", same);
    /* The CI brackets the sample mean (0.17307...). */
    cr_expect(lo1 < 0.1730769 && hi1 > 0.1730770);
}

/* N(0,1) by Box-Muller in double from splitmix64: test-only data. */
static double test_normal(uint64_t *state)
{
    double u1 = ((double)(splitmix64(state) >> 11) + 1.0) * 0x1p-53;
    double u2 = (double)(splitmix64(state) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586477 * u2);
}

Test(bootstrap, covers_true_mean_at_about_nominal_rate)
{
    /* 400 data sets of n = 20 from N(0.3, 1); 95% percentile interval
     * from 999 replicates each.  The percentile bootstrap of a mean
     * under-covers a little at n = 20 (about 93-94%); the binomial sd of the
     * observed rate is about 0.012.  Also the mean width must be near the
     * normal-theory 2 * 1.96 / sqrt(20) = 0.877, so an interval that is
     * simply too wide cannot pass. */
    const double mu = 0.3;
    int covered = 0;
    double width = 0.0;
    uint64_t state = 99;
    for (int k = 0; k < 400; k++) {
        double x[20];
        for (int i = 0; i < 20; i++)
            x[i] = mu + test_normal(&state);
        rs_bootstrap_spec_t spec = {1000u + (uint64_t)k, 0, 999};
        double lo, hi;
        cr_assert_eq(rs_bootstrap_mean_ci(x, 20, 0.95, &spec, &lo, &hi, NULL,
                                          NULL),
                     RS_OK);
        covered += lo <= mu && mu <= hi;
        width += hi - lo;
    }
    double rate = covered / 400.0;
    width /= 400.0;
    cr_expect(rate >= 0.89 && rate <= 0.985, "coverage %.3f", rate);
    cr_expect(width > 0.70 && width < 0.95, "mean width %.3f", width);
}

Test(bootstrap, degenerate_and_bad_input)
{
    rs_bootstrap_spec_t spec = {1, 0, 100};
    double lo, hi;
    const double one[] = {2.5};
    cr_assert_eq(rs_bootstrap_mean_ci(one, 1, 0.95, &spec, &lo, &hi, NULL,
                                      NULL),
                 RS_OK);
    cr_expect_eq(lo, 2.5);
    cr_expect_eq(hi, 2.5);
    const double same[] = {0.5, 0.5, 0.5, 0.5, 0.5};
    cr_assert_eq(rs_bootstrap_mean_ci(same, 5, 0.95, &spec, &lo, &hi, NULL,
                                      NULL),
                 RS_OK);
    cr_expect_eq(lo, 0.5);
    cr_expect_eq(hi, 0.5);

    rs_error_t err;
    spec.stream = 1u << 24;
    cr_expect_eq(rs_bootstrap_mean_ci(same, 5, 0.95, &spec, &lo, &hi, NULL,
                                      &err),
                 RS_EINPUT);
    cr_expect(isnan(lo) && isnan(hi));
    spec.stream = 0;
    spec.n_replicates = 1;
    cr_expect_eq(rs_bootstrap_mean_ci(same, 5, 0.95, &spec, &lo, &hi, NULL,
                                      &err),
                 RS_EINPUT);
    spec.n_replicates = 100;
    cr_expect_eq(rs_bootstrap_mean_ci(same, 5, 1.0, &spec, &lo, &hi, NULL,
                                      &err),
                 RS_EINPUT);
    cr_expect_eq(rs_bootstrap_mean_ci(same, 5, 0.95, NULL, &lo, &hi, NULL,
                                      &err),
                 RS_EINPUT);
}

/* ===========================================================================
 * Paired comparison
 * ======================================================================== */

Test(paired, sleep_everything)
{
    rs_bootstrap_spec_t boot = {7, 1, 2000};
    rs_paired_t p;
    cr_assert_eq(rs_paired_compare(sleep1, sleep2, 10, 0.95, &boot, &p, NULL),
                 RS_OK);
    cr_expect_eq(p.n, 10u);
    /* mpmath on the differences (see ttest.paired_sleep):
     * sd = 1.229995483279873123, d_z = mean/sd = -1.284557562591054564. */
    expect_rel(p.mean_diff, -1.58, 1e-14, "mean");
    expect_rel(p.sd_diff, 1.229995483279873123, 1e-14, "sd");
    expect_rel(p.cohen_dz, -1.284557562591054564, 1e-14, "d_z");
    expect_rel(p.ttest.p, 0.0028328901973842710485, 1e-13, "t p");
    expect_rel(p.wilcoxon.p, 0.0090906980159250620363, 1e-14, "wilcoxon p");
    /* d: nine negative, one zero -> (0 + 1/2) / 10. */
    cr_expect_eq(p.prob_superiority, 0.05);
    /* The bootstrap part is rs_bootstrap_mean_ci on d. */
    double d[10], lo, hi;
    for (int i = 0; i < 10; i++)
        d[i] = sleep1[i] - sleep2[i];
    cr_assert_eq(rs_bootstrap_mean_ci(d, 10, 0.95, &boot, &lo, &hi, NULL,
                                      NULL),
                 RS_OK);
    cr_expect_eq(p.boot_lo, lo);
    cr_expect_eq(p.boot_hi, hi);
    cr_expect(lo < -1.58 && hi > -1.58 && hi < 0);
}

Test(paired, no_bootstrap_and_degenerate)
{
    rs_paired_t p;
    cr_assert_eq(rs_paired_compare(sleep1, sleep2, 10, 0.95, NULL, &p, NULL),
                 RS_OK);
    cr_expect(isnan(p.boot_lo) && isnan(p.boot_hi));
    rs_bootstrap_spec_t none = {1, 0, 0};
    cr_assert_eq(rs_paired_compare(sleep1, sleep2, 10, 0.95, &none, &p, NULL),
                 RS_OK);
    cr_expect(isnan(p.boot_lo));

    /* Identical configs: every difference 0. */
    cr_assert_eq(rs_paired_compare(sleep1, sleep1, 10, 0.95, NULL, &p, NULL),
                 RS_OK);
    cr_expect_eq(p.mean_diff, 0.0);
    cr_expect_eq(p.sd_diff, 0.0);
    cr_expect(isnan(p.cohen_dz));
    cr_expect(isnan(p.ttest.p));
    cr_expect_eq(p.ttest.flags, (unsigned)RS_STATS_CONSTANT);
    cr_expect(p.wilcoxon.flags & RS_STATS_ALL_ZERO);
    cr_expect_eq(p.prob_superiority, 0.5);

    /* One pair. */
    const double a[] = {1.0}, b[] = {0.25};
    cr_assert_eq(rs_paired_compare(a, b, 1, 0.95, NULL, &p, NULL), RS_OK);
    cr_expect_eq(p.mean_diff, 0.75);
    cr_expect(isnan(p.sd_diff) && isnan(p.cohen_dz));
    cr_expect_eq(p.ttest.flags, (unsigned)RS_STATS_TOO_FEW);
    cr_expect_eq(p.prob_superiority, 1.0);

    /* Differences that overflow are refused. */
    const double big[] = {1e308, 1e308}, neg[] = {-1e308, 0.0};
    rs_error_t err;
    cr_expect_eq(rs_paired_compare(big, neg, 2, 0.95, NULL, &p, &err),
                 RS_EINPUT);
    cr_expect(isnan(p.mean_diff));
}

/* ===========================================================================
 * Holm
 * ======================================================================== */

Test(holm, textbook_example)
{
    /* Wikipedia, "Holm-Bonferroni method", example: p = 0.01, 0.04, 0.03,
     * 0.005 for H1..H4.  Sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03,
     * 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> max(0.06, 0.04) = 0.06.
     * R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06
     * 0.02. */
    const double p[] = {0.01, 0.04, 0.03, 0.005};
    double adj[4];
    cr_assert_eq(rs_holm_adjust(p, 4, adj, NULL), RS_OK);
    expect_rel(adj[0], 0.03, 1e-15, "H1");
    expect_rel(adj[1], 0.06, 1e-15, "H2");
    expect_rel(adj[2], 0.06, 1e-15, "H3");
    expect_rel(adj[3], 0.02, 1e-15, "H4");
}

Test(holm, capped_monotone_in_place)
{
    /* Sorted 0.2 * 3 = 0.6, 0.5 * 2 = 1.0, 0.6 * 1 -> 1.0 (monotone). */
    double p[] = {0.5, 0.6, 0.2};
    cr_assert_eq(rs_holm_adjust(p, 3, p, NULL), RS_OK);
    cr_expect_eq(p[0], 1.0);
    cr_expect_eq(p[1], 1.0);
    expect_rel(p[2], 0.6, 1e-15, "smallest");
    /* Ties: 0.01 * 3 = 0.03 for both, then 0.02 * 1... monotone -> 0.03. */
    double q[] = {0.01, 0.02, 0.01};
    double adj[3];
    cr_assert_eq(rs_holm_adjust(q, 3, adj, NULL), RS_OK);
    expect_rel(adj[0], 0.03, 1e-15, "tie 1");
    expect_rel(adj[2], 0.03, 1e-15, "tie 2");
    expect_rel(adj[1], 0.03, 1e-15, "largest");
}

Test(holm, nan_is_not_tested)
{
    /* m counts only the two real p-values: 0.01 * 2, 0.04 * 1. */
    const double p[] = {0.01, NAN, 0.04};
    double adj[3];
    cr_assert_eq(rs_holm_adjust(p, 3, adj, NULL), RS_OK);
    expect_rel(adj[0], 0.02, 1e-15, "first");
    cr_expect(isnan(adj[1]));
    expect_rel(adj[2], 0.04, 1e-15, "third");
}

Test(holm, bad_input)
{
    const double p[] = {0.01, 1.5};
    double adj[2];
    rs_error_t err;
    cr_expect_eq(rs_holm_adjust(p, 2, adj, &err), RS_EINPUT);
    const double neg[] = {-0.1};
    cr_expect_eq(rs_holm_adjust(neg, 1, adj, &err), RS_EINPUT);
    cr_expect_eq(rs_holm_adjust(NULL, 0, NULL, &err), RS_OK, "m = 0");
    cr_expect_eq(rs_holm_adjust(NULL, 2, adj, &err), RS_EINPUT);
}
