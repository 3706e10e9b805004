/* SPDX-License-Identifier: MIT */
/* test_analysis.c — the analysis module against values computed another
 * way: scipy 1.10.1 (python3-scipy on Debian 12), stated beside each check.
 *
 * The sweep: 10 seeds x keep {1.0, 0.5, 0.7, 0.9} (one hidden layer), L2 0;
 * regression, train loss 0 so that gap = test loss.  Baseline keep 1.0.
 *   C0 keep 1.0: seeds 0-2 missing, 3-9 done:
 *                b = 0.50 0.52 0.47 0.55 0.49 0.51 0.53
 *   C1 keep 0.5: all done: 0.40 0.41 0.42 0.451 0.492 0.403 0.474 0.465
 *                0.446 0.507 -> 7 pairs with C0 (seeds 3-9): paired t
 *   C2 keep 0.7: seed 3 diverged (with a finite loss that must not count),
 *                4-5 failed, 6 and 0-2 missing, 7-9 done: 0.55 0.50 0.56
 *                -> 3 pairs: estimate and t-interval, no test
 *   C3 keep 0.9: seeds 0-6 done: 0.60 0.58 0.62 0.57 0.61 0.59 0.63, 7-9
 *                missing -> 4 pairs, but 7 values on each side: Welch
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "regsweep/analysis.h"

static const char *SPEC =
    "name: an\n"
    "dataset: {kind: sin, n_train: 8, n_test: 8, seed: 1}\n"
    "model: {layers: [1, 4, 1]}\n"
    "train: {lr: 0.1, epochs: 2}\n"
    "axes: {seed: {from: 0, to: 9}, keep_prob: [1.0, 0.5, 0.7, 0.9]}\n";

static rs_spec_t spec;
static rs_job_summary_t rows[40];

static void job(uint32_t config, uint32_t seed, rs_job_status st, double test)
{
    rs_job_summary_t *r = &rows[config * 10 + seed];
    memset(r, 0, sizeof *r);
    r->status = st;
    r->test_loss = test;
    r->train_loss = 0;
    r->gap = test;
    r->train_acc = r->test_acc = r->gap_acc = NAN;
    r->best_epoch = RS_NO_EPOCH;
    r->diverged_epoch = RS_NO_EPOCH;
}

static void setup(void)
{
    rs_error_t err;
    cr_assert_eq(rs_spec_parse(SPEC, strlen(SPEC), "an.yaml", 0, NULL, &spec, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(spec.n_jobs, 40);
    static const double b[10] = {0, 0, 0, 0.50, 0.52, 0.47, 0.55, 0.49, 0.51, 0.53};
    static const double a[10] = {0.40, 0.41, 0.42, 0.451, 0.492, 0.403, 0.474,
                                 0.465, 0.446, 0.507};
    static const double c3[7] = {0.60, 0.58, 0.62, 0.57, 0.61, 0.59, 0.63};
    for (uint32_t i = 0; i < 10; i++) {
        job(0, i, i < 3 ? RS_JOB_MISSING : RS_JOB_DONE, i < 3 ? NAN : b[i]);
        job(1, i, RS_JOB_DONE, a[i]);
        job(3, i, i < 7 ? RS_JOB_DONE : RS_JOB_MISSING, i < 7 ? c3[i] : NAN);
        job(2, i, RS_JOB_MISSING, NAN);
    }
    job(2, 3, RS_JOB_DIVERGED, 0.01);   /* finite, but diverged later */
    job(2, 4, RS_JOB_FAILED, NAN);
    job(2, 5, RS_JOB_FAILED, NAN);
    job(2, 7, RS_JOB_DONE, 0.55);
    job(2, 8, RS_JOB_DONE, 0.50);
    job(2, 9, RS_JOB_DONE, 0.56);
}

static void teardown(void)
{
    rs_spec_free(&spec);
}

static void run(rs_analysis_result_t *a, const rs_analysis_opts_t *o)
{
    rs_error_t err;
    cr_assert_eq(rs_analysis_run(&spec, rows, o, NULL, NULL, a, &err), RS_OK, "%s",
                 err.msg);
}

static const rs_comparison_row_t *row_of(const rs_analysis_result_t *a,
                                         uint32_t config, rs_metric m)
{
    for (uint32_t i = 0; i < a->n_comparisons; i++)
        if (a->comparisons[i].config == config && a->comparisons[i].metric == m)
            return &a->comparisons[i];
    cr_assert_fail("no comparison row for config %u", config);
    return NULL;
}

#define NEAR(x, want, tol) cr_assert(fabs((x) - (want)) <= (tol), \
    "%s = %.17g, expected %.17g", #x, (double)(x), (double)(want))

TestSuite(analysis, .init = setup, .fini = teardown);

Test(analysis, counts_per_config_and_overall)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    cr_assert_eq(a.n_configs, 4);
    cr_assert_eq(a.baseline, 0);
    cr_assert_eq(a.n_done, 7 + 10 + 3 + 7);
    cr_assert_eq(a.n_diverged, 1);
    cr_assert_eq(a.n_failed, 2);
    cr_assert_eq(a.n_missing, 3 + 4 + 3);
    const rs_config_row_t *c2 = &a.configs[2];
    cr_assert_eq(c2->n_done, 3);
    cr_assert_eq(c2->n_diverged, 1);
    cr_assert_eq(c2->n_failed, 2);
    cr_assert_eq(c2->n_missing, 4);
    cr_assert_eq(c2->n_used, 3);
    /* the diverged job's finite 0.01 is not averaged in: (0.55+0.50+0.56)/3 */
    NEAR(c2->sum[RS_M_TEST_LOSS].mean, 0.53666666666666667, 1e-15);
    cr_assert_str_eq(a.configs[1].label, "keep 0.5, L2 0");
    rs_analysis_free(&a);
}

Test(analysis, paired_t_with_wilcoxon_beside_it)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    const rs_comparison_row_t *x = row_of(&a, 1, RS_M_TEST_LOSS);
    cr_assert_eq(x->test, RS_TEST_PAIRED_T);
    cr_assert_eq(x->n, 7);
    /* scipy.stats.ttest_rel(a[3:], b[3:]): t = -5.655622937107144,
     * p = 0.0013122071467173773; mean(d) = -0.047428571428571431,
     * sd(d) = 0.022187512575449157.  The interval uses t_{0.975, 6} =
     * 2.4469118511449692, the root of scipy's t.sf(x, 6) = 0.025 by brentq
     * (R's qt gives the same; scipy 1.10's own t.ppf, 2.4469118487916806,
     * is 1e-9 off, and so is ttest_rel's confidence_interval):
     * [-0.06794859809972864, -0.026908544757414214] */
    NEAR(x->mean_diff, -0.047428571428571431, 1e-15);
    NEAR(x->sd_diff, 0.022187512575449157, 1e-15);
    NEAR(x->t, -5.655622937107144, 1e-12);
    NEAR(x->df, 6, 0);
    NEAR(x->p, 0.0013122071467173773, 1e-13);
    NEAR(x->ci_lo, -0.06794859809972864, 1e-13);
    NEAR(x->ci_hi, -0.026908544757414214, 1e-13);
    /* scipy.stats.wilcoxon(d): statistic 0, p = 0.015625 (exact: all 7
     * differences negative, 2/2^7); the floor 2/2^7 is below 0.05 */
    NEAR(x->w_v_plus, 0, 0);
    NEAR(x->w_p, 0.015625, 1e-15);
    NEAR(x->w_p_min, 0.015625, 0);
    cr_assert_eq(x->notes & RS_NOTE_W_FLOOR, 0);
    /* 7 pairs: no bootstrap interval (it under-covers below 10) */
    cr_assert(isnan(x->boot_lo) && isnan(x->boot_hi));
    cr_assert(x->notes & RS_NOTE_NO_BOOT);
    rs_analysis_free(&a);
}

Test(analysis, welch_when_seeds_do_not_pair)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    const rs_comparison_row_t *x = row_of(&a, 3, RS_M_TEST_LOSS);
    cr_assert_eq(x->test, RS_TEST_WELCH);
    cr_assert(x->notes & RS_NOTE_UNPAIRED);
    cr_assert_eq(x->n, 7);
    cr_assert_eq(x->n_baseline, 7);
    /* scipy.stats.ttest_ind(c3, b, equal_var=False): t = 6.9713700231733329,
     * p = 1.8357420583762676e-05; df (Welch-Satterthwaite) =
     * 11.538461538461538; interval [0.061746351340758038,
     * 0.11825364865924168] around 0.09 */
    NEAR(x->mean_diff, 0.09, 1e-15);
    NEAR(x->t, 6.9713700231733329, 1e-11);
    NEAR(x->df, 11.538461538461538, 1e-11);
    NEAR(x->p, 1.8357420583762676e-05, 1e-15);
    NEAR(x->ci_lo, 0.061746351340758038, 1e-13);
    NEAR(x->ci_hi, 0.11825364865924168, 1e-13);
    cr_assert(isnan(x->w_p));                 /* no Wilcoxon for unpaired */
    rs_analysis_free(&a);
}

Test(analysis, too_few_pairs_gives_an_estimate_and_no_test)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    const rs_comparison_row_t *x = row_of(&a, 2, RS_M_GAP);
    cr_assert_eq(x->test, RS_TEST_NONE);
    cr_assert(x->notes & RS_NOTE_FEW);
    cr_assert_eq(x->n, 3);
    cr_assert(x->reason && strstr(x->reason, "no test"));
    cr_assert(isnan(x->t) && isnan(x->df) && isnan(x->p) && isnan(x->p_holm));
    cr_assert(isnan(x->w_p) && isnan(x->w_p_holm));
    /* d = (0.06, -0.01, 0.03): mean 0.026666666666666689; with
     * t_{0.975, 2} = 4.302652729749463 (the root of scipy's t.sf, as
     * above): [-0.060573382684684665, 0.11390671601801804] */
    NEAR(x->mean_diff, 0.026666666666666689, 1e-15);
    NEAR(x->ci_lo, -0.060573382684684665, 1e-13);
    NEAR(x->ci_hi, 0.11390671601801804, 1e-13);
    rs_analysis_free(&a);
}

Test(analysis, holm_families_are_the_rows_with_a_p)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    cr_assert_eq(a.n_comparisons, 6);       /* 3 configs x (test_loss, gap) */
    cr_assert_eq(a.n_family_t, 4);          /* C1 and C3, two metrics each  */
    cr_assert_eq(a.n_family_w, 2);          /* C1 only                      */
    /* Holm over {p1, p1, p3, p3} (m = 4): p3 sorts first, adj = 4 p3 =
     * 7.3429682335050704e-05; p1: max(3 p3, 2 p1) = 2 p1 =
     * 0.0026244142934347546.  Wilcoxon over {0.015625, 0.015625}: 0.03125 */
    for (int m = RS_M_TEST_LOSS; m <= RS_M_GAP; m++) {
        NEAR(row_of(&a, 1, (rs_metric)m)->p_holm, 0.0026244142934347546, 1e-13);
        NEAR(row_of(&a, 3, (rs_metric)m)->p_holm, 7.3429682335050704e-05, 1e-15);
        NEAR(row_of(&a, 1, (rs_metric)m)->w_p_holm, 0.03125, 1e-15);
    }
    rs_analysis_free(&a);
}

Test(analysis, ranking_by_test_loss_gap_or_abs_gap)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    /* means: C1 0.4468, C0 0.51, C2 0.53667, C3 0.6 */
    cr_assert_eq(a.order[0], 1);
    cr_assert_eq(a.order[1], 0);
    cr_assert_eq(a.order[2], 2);
    cr_assert_eq(a.order[3], 3);
    cr_assert_eq(a.configs[3].rank, 4);
    rs_analysis_free(&a);
    /* make C3's gap the most negative: by gap it comes first, by |gap| last */
    for (uint32_t i = 0; i < 7; i++)
        rows[30 + i].gap = -rows[30 + i].test_loss;
    o.rank_by = RS_RANK_GAP;
    run(&a, &o);
    cr_assert_eq(a.order[0], 3);
    rs_analysis_free(&a);
    o.rank_by = RS_RANK_ABS_GAP;
    run(&a, &o);
    cr_assert_eq(a.order[3], 3);
    cr_assert_eq(a.order[0], 1);
    rs_analysis_free(&a);
}

Test(analysis, wilcoxon_floor_and_all_equal_differences)
{
    /* C1 keeps only 5 pairs (seeds 5-9): the exact Wilcoxon p cannot fall
     * below 2/2^5 = 0.0625 */
    rows[10 + 3].status = RS_JOB_MISSING;
    rows[10 + 4].status = RS_JOB_MISSING;
    /* and C3 equals the baseline on every seed: every difference is 0 */
    for (uint32_t i = 0; i < 10; i++)
        rows[30 + i] = rows[i];
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    run(&a, &o);
    const rs_comparison_row_t *x = row_of(&a, 1, RS_M_TEST_LOSS);
    cr_assert_eq(x->n, 5);
    cr_assert_eq(x->test, RS_TEST_PAIRED_T);
    NEAR(x->w_p_min, 0.0625, 0);
    cr_assert(x->notes & RS_NOTE_W_FLOOR);
    const rs_comparison_row_t *y = row_of(&a, 3, RS_M_TEST_LOSS);
    cr_assert_eq(y->n, 7);
    cr_assert(y->notes & RS_NOTE_CONSTANT);
    cr_assert_eq(y->test, RS_TEST_NONE);
    cr_assert(isnan(y->p) && isnan(y->w_p));
    NEAR(y->mean_diff, 0, 0);
    cr_assert_eq(a.n_family_t, 2);      /* C1's two rows only */
    rs_analysis_free(&a);
}

Test(analysis, best_epoch_needs_a_validation_split)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95, .at_best = 1};
    rs_error_t err;
    cr_assert_eq(rs_analysis_run(&spec, rows, &o, NULL, NULL, &a, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "validation"), "%s", err.msg);
}

Test(analysis, baseline_not_in_the_grid_is_refused)
{
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95, .baseline = "keep_prob=0.3"};
    rs_error_t err;
    cr_assert_eq(rs_analysis_run(&spec, rows, &o, NULL, NULL, &a, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "not a config"), "%s", err.msg);
    o.baseline = "keep_prob=0.5";
    run(&a, &o);
    cr_assert_eq(a.baseline, 1);
    cr_assert(a.configs[1].is_baseline);
    rs_analysis_free(&a);
}

/* Extra axes: configs are every combination but the seed, labelled with
 * each axis; --baseline names any axis by its key. */
Test(analysis, extra_axes_make_configs_and_baselines)
{
    rs_spec_t s;
    rs_error_t err;
    char *over[] = {"train.lr=0.1,0.5"};
    cr_assert_eq(rs_spec_parse(SPEC, strlen(SPEC), "an.yaml", 1, over, &s, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_jobs, 80);
    static rs_job_summary_t r[80];
    for (uint32_t i = 0; i < 80; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].status = RS_JOB_DONE;
        r[i].test_loss = r[i].gap = 0.5 + 0.01 * (i % 10) + (i >= 40 ? 0.1 : 0);
        r[i].train_acc = r[i].test_acc = r[i].gap_acc = NAN;
        r[i].best_epoch = r[i].diverged_epoch = RS_NO_EPOCH;
    }
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95};
    cr_assert_eq(rs_analysis_run(&s, r, &o, NULL, NULL, &a, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(a.n_configs, 8);
    cr_assert_eq(a.baseline, 0, "keep 1, L2 0 and lr at its first value");
    cr_assert_str_eq(a.configs[5].label, "keep 0.5, L2 0, train.lr 0.5");
    cr_assert_eq(a.configs[5].i_axis[0], 1);
    cr_assert_eq(a.configs[5].i_keep, 1);
    /* every lr 0.5 job is 0.1 worse than its lr 0.1 twin, seed by seed */
    const rs_comparison_row_t *x = row_of(&a, 4, RS_M_TEST_LOSS);
    NEAR(x->mean_diff, 0.1, 1e-12);
    rs_analysis_free(&a);
    o.baseline = "train.lr=0.5,keep_prob=0.5";
    cr_assert_eq(rs_analysis_run(&s, r, &o, NULL, NULL, &a, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(a.baseline, 5);
    rs_analysis_free(&a);
    o.baseline = "train.lr=0.3";
    cr_assert_eq(rs_analysis_run(&s, r, &o, NULL, NULL, &a, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "train.lr=0.3 is not a value of the axis (0.1, 0.5)"),
              "%s", err.msg);
    o.baseline = "train.epochs=2";
    cr_assert_eq(rs_analysis_run(&s, r, &o, NULL, NULL, &a, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "not an axis"), "%s", err.msg);
    rs_spec_free(&s);
}

/* ---- weight scaling against MC dropout ------------------------------------ *
 *
 * By hand: ws = 0.30 0.32 0.29 0.35 0.31 (seed 5: none), mc = 0.27 0.30
 * 0.28 0.31 0.28 (0.5) -> d = ws - mc = 0.03 0.02 0.01 0.04 0.03, n = 5,
 * mean 0.026, deviations 0.004 -0.006 -0.016 0.014 0.004, squares summing
 * to 5.2e-4, sd = sqrt(5.2e-4 / 4) = sqrt(1.3e-4) = 0.011401754250991379,
 * se = sqrt(2.6e-5), t = 0.026 / sqrt(2.6e-5) = sqrt(26), df 4.  With 4
 * degrees of freedom the t law has the closed form F(t) = 1/2 + 3a/4 -
 * a^3/4, a = t / sqrt(4 + t^2) (here a^2 = 26/30 = 13/15), so p = 2 (1 -
 * F) = 1 - (16/15) sqrt(13/15) = 0.0069873746653197335 (scipy's
 * ttest_1samp agrees).  Means: 1.57 / 5 = 0.314 and 1.44 / 5 = 0.288.  The
 * interval 0.026 -+ t_{0.975,4} sqrt(2.6e-5), t_{0.975,4} =
 * 2.7764451051977943 (the root of t.sf(x, 4) = 0.025): [0.011842852230177274,
 * 0.040157147769822724]. */
static const double MC_WS[6] = {0.30, 0.32, 0.29, 0.35, 0.31, NAN};
static const double MC_MC[6] = {0.27, 0.30, 0.28, 0.31, 0.28, 0.5};

Test(analysis_mc, one_sample_t_on_the_per_seed_differences)
{
    rs_mc_row_t x;
    rs_error_t err;
    cr_assert_eq(rs_analysis_mc_compare(MC_WS, MC_MC, 6, 0.95, &x, &err), RS_OK,
                 "%s", err.msg);
    cr_assert_eq(x.n, 5);
    cr_assert_eq(x.notes, 0);
    NEAR(x.mean_ws, 0.314, 1e-15);
    NEAR(x.mean_mc, 0.288, 1e-15);
    NEAR(x.mean_diff, 0.026, 1e-15);
    NEAR(x.sd_diff, 0.011401754250991379, 1e-15);
    NEAR(x.t, sqrt(26.0), 1e-12);
    NEAR(x.df, 4, 0);
    NEAR(x.p, 1 - 16.0 / 15.0 * sqrt(13.0 / 15.0), 1e-13);
    NEAR(x.ci_lo, 0.011842852230177274, 1e-13);
    NEAR(x.ci_hi, 0.040157147769822724, 1e-13);
    cr_assert(isnan(x.p_holm), "Holm is the caller's");
}

/* Four seeds: the estimate and its interval, no test (t_{0.975,3} =
 * 3.1824463052837095: d = 0.03 0.02 0.01 0.04, mean 0.025, sd =
 * sqrt(5e-4 / 3), interval 0.025 -+ 3.18244630528371 sd / 2 =
 * [0.0044573974323912115, 0.045542602567608795]); equal differences: no
 * test; no pair: no estimate; a bad level is refused. */
Test(analysis_mc, too_few_constant_and_empty)
{
    rs_mc_row_t x;
    rs_error_t err;
    cr_assert_eq(rs_analysis_mc_compare(MC_WS, MC_MC, 4, 0.95, &x, &err), RS_OK);
    cr_assert_eq(x.n, 4);
    cr_assert_eq(x.notes, RS_NOTE_FEW);
    cr_assert(strstr(x.reason, "fewer than 5 seeds"), "%s", x.reason);
    NEAR(x.mean_diff, 0.025, 1e-15);
    NEAR(x.ci_lo, 0.0044573974323912115, 1e-13);
    NEAR(x.ci_hi, 0.045542602567608795, 1e-13);
    cr_assert(isnan(x.p) && isnan(x.t));
    const double same[5] = {0.3, 0.2, 0.4, 0.3, 0.1};
    cr_assert_eq(rs_analysis_mc_compare(same, same, 5, 0.95, &x, &err), RS_OK);
    cr_assert_eq(x.notes, RS_NOTE_CONSTANT);
    cr_assert_eq(x.mean_diff, 0.0);
    cr_assert(isnan(x.p));
    const double none[3] = {NAN, NAN, NAN};
    cr_assert_eq(rs_analysis_mc_compare(none, MC_MC, 3, 0.95, &x, &err), RS_OK);
    cr_assert_eq(x.n, 0);
    cr_assert_eq(x.notes, RS_NOTE_FEW);
    cr_assert(isnan(x.mean_diff) && isnan(x.mean_ws));
    cr_assert_eq(rs_analysis_mc_compare(MC_WS, MC_MC, 6, 1.5, &x, &err), RS_EINPUT);
}

/* Through rs_analysis_run: 6 seeds (seed 5 missing) x keep {1, 0.5} x
 * eval.mc_samples {0, 3}; a reader that makes up each job's curves.  Only
 * the config with mc_samples 3 and keep 0.5 gets a row (at keep 1 every
 * thinned network is the network), its jobs' MC curves are the only ones
 * read; without the trajectory only its 5 done jobs are read, with it
 * each of the 20 done jobs once; the final epoch gives the
 * hand-computed row above; at_best reads the best epoch (1), where every d
 * is 0.05. */
static const char *MC_SPEC =
    "name: mc\n"
    "dataset: {kind: sin, n_train: 8, n_test: 8, n_val: 4, seed: 1}\n"
    "model: {layers: [1, 4, 1]}\n"
    "train: {lr: 0.1, epochs: 2}\n"
    "axes: {seed: {from: 0, to: 5}, keep_prob: [1.0, 0.5], eval.mc_samples: [0, 3]}\n";

static int mc_reads;

static rs_status fake_curves(void *ctx, const rs_job_t *job, rs_curves_t *c,
                             rs_error_t *err)
{
    (void)ctx;
    (void)err;
    mc_reads++;
    cr_assert_eq(c->n, 3);
    cr_assert_eq(c->test_loss_mc != NULL,
                 job->settings.mc_samples > 0 && job->keep[0] < 1.0,
                 "MC curves asked for exactly the jobs that have them and drop");
    uint32_t i = job->i_seed;
    for (uint32_t e = 0; e < c->n; e++) {
        c->train_loss[e] = 0.1;
        c->test_loss[e] = MC_WS[i] - 0.01 * (2 - e);
        if (!c->test_loss_mc)
            continue;
        double d = e == 2 ? MC_WS[i] - MC_MC[i] : 0.05;
        c->test_loss_mc[e] = c->test_loss[e] - d;
        c->test_acc_mc[e] = NAN;
    }
    return RS_OK;
}

Test(analysis_mc, rows_for_the_configs_with_mc_curves)
{
    rs_spec_t s;
    rs_error_t err;
    cr_assert_eq(rs_spec_parse(MC_SPEC, strlen(MC_SPEC), "mc.yaml", 0, NULL, &s, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_jobs, 24);
    static rs_job_summary_t r[24];
    for (uint32_t i = 0; i < 24; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].status = i % 6 == 5 ? RS_JOB_MISSING : RS_JOB_DONE;
        r[i].test_loss = r[i].gap = r[i].best_test_loss = r[i].best_gap = 0.3;
        r[i].train_acc = r[i].test_acc = r[i].gap_acc = NAN;
        r[i].best_train_acc = r[i].best_test_acc = r[i].best_gap_acc = NAN;
        r[i].best_epoch = 1;
        r[i].diverged_epoch = RS_NO_EPOCH;
    }
    rs_analysis_result_t a;
    rs_analysis_opts_t o = {.level = 0.95, .no_trajectory = 1};
    mc_reads = 0;
    cr_assert_eq(rs_analysis_run(&s, r, &o, fake_curves, NULL, &a, &err), RS_OK,
                 "%s", err.msg);
    cr_assert_eq(mc_reads, 5, "the MC config's done jobs, each once");
    cr_assert_null(a.trajectory);
    cr_assert_eq(a.n_mc, 1, "regression: test loss only, config 3 only");
    const rs_mc_row_t *x = &a.mc[0];
    cr_assert_eq(x->config, 3);
    cr_assert_eq(x->mc_samples, 3);
    cr_assert_eq(x->metric, RS_M_TEST_LOSS);
    cr_assert_eq(x->n, 5);
    NEAR(x->mean_diff, 0.026, 1e-12);
    NEAR(x->t, sqrt(26.0), 1e-9);
    NEAR(x->p, 1 - 16.0 / 15.0 * sqrt(13.0 / 15.0), 1e-10);
    cr_assert_eq(a.n_family_mc, 1);
    cr_assert_eq(x->p_holm, x->p, "a family of one");
    rs_analysis_free(&a);
    /* at the best-validation epoch (1): d = 0.05 for every seed */
    o = (rs_analysis_opts_t){.level = 0.95, .at_best = 1};
    mc_reads = 0;
    cr_assert_eq(rs_analysis_run(&s, r, &o, fake_curves, NULL, &a, &err), RS_OK,
                 "%s", err.msg);
    cr_assert_eq(mc_reads, 20, "each done job once, for both tables");
    cr_assert_not_null(a.trajectory, "asked for (no_trajectory 0)");
    cr_assert_eq(a.n_mc, 1);
    NEAR(a.mc[0].mean_diff, 0.05, 1e-12);
    NEAR(a.mc[0].mean_ws, 0.314 - 0.01, 1e-12);
    cr_assert_eq(a.mc[0].notes, RS_NOTE_CONSTANT);
    cr_assert_eq(a.n_family_mc, 0);
    rs_analysis_free(&a);
    /* no reader: no table */
    cr_assert_eq(rs_analysis_run(&s, r, &o, NULL, NULL, &a, &err), RS_OK);
    cr_assert_eq(a.n_mc, 0);
    cr_assert_null(a.mc);
    rs_analysis_free(&a);
    rs_spec_free(&s);
}
