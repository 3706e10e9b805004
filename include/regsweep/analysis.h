/* SPDX-License-Identifier: MIT */
/* analysis.h — what a sweep's results say: per-config summaries over
 * seeds, comparisons against a baseline config paired by seed, the gap per
 * epoch; one result struct with one row type per table.  `regsweep report`
 * prints and stores it; this module neither reads files nor prints.
 *
 * The choices that decide what a reader may conclude, fixed here:
 *   - A config is a grid point without its seed.  Its statistics use the
 *     jobs with status done and a finite value; missing, failed and
 *     diverged jobs are counted per config and never averaged in.
 *   - Epochs: final, or with at_best each job's epoch of smallest
 *     *validation* loss (rs_job_summary_t.best_*); test data choose
 *     nothing.  at_best without a validation split is refused.
 *   - Gap = test loss - train loss (clean, no dropout): positive means the
 *     model fits its training data better than unseen data (overfitting).
 *     With noisy training targets and clean test targets (ch311) it is
 *     negative by construction, so configs are ranked by test loss unless
 *     the caller asks otherwise.
 *   - One primary test per comparison: the paired t-test of the per-seed
 *     differences when at least RS_ANALYSIS_MIN_PAIRS seeds pair; Welch's
 *     test when the seeds do not pair but each side has that many values;
 *     otherwise no test (p NaN) and the reason.  The Wilcoxon signed-rank
 *     test is a sensitivity check, reported beside it, never instead.  Holm
 *     adjusts the primary p-values over every row that has one (one
 *     family), and the Wilcoxon p-values over the paired rows (a second).
 *   - The percentile bootstrap under-covers at small n: it is computed only
 *     from RS_ANALYSIS_MIN_BOOT pairs on (NaN and a note below).
 *   - Weight scaling against MC dropout (configs whose jobs evaluate
 *     eval.mc_samples = T > 0 thinned networks and drop something: with
 *     keep_prob 1 in every hidden layer each pass is the network itself,
 *     so those configs have no rows): per seed, d = the test
 *     loss by weight scaling (curves/test_loss) - by MC dropout
 *     (curves/test_loss_mc) of the same job at the same epoch (final, or
 *     the best-validation epoch under at_best), and for classifiers the
 *     same for accuracy.  Both come from one job, so the seeds always
 *     pair: the one-sample t-test of d from RS_ANALYSIS_MIN_PAIRS seeds
 *     on, else the estimate and its t-interval only; Holm over these rows
 *     (a family of its own: they answer another question than the
 *     comparisons with the baseline).
 */
#ifndef RS_ANALYSIS_H
#define RS_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/common.h"
#include "regsweep/spec.h"
#include "regsweep/stats.h"
#include "regsweep/store.h"

#define RS_ANALYSIS_MIN_PAIRS 5   /* fewer: no test (t at n < 5 is fragile) */
#define RS_ANALYSIS_MIN_BOOT 10   /* fewer pairs: no bootstrap interval     */

typedef enum rs_metric {
    RS_M_TRAIN_LOSS, RS_M_TEST_LOSS, RS_M_GAP,
    RS_M_TRAIN_ACC, RS_M_TEST_ACC, RS_M_GAP_ACC,
    RS_N_METRICS
} rs_metric;

/* "train_loss", "test_loss", "gap", "train_acc", "test_acc", "gap_acc". */
const char *rs_metric_name(rs_metric m);

typedef enum rs_rank_by {
    RS_RANK_TEST_LOSS = 0,   /* mean test loss, smallest first            */
    RS_RANK_GAP,             /* mean gap, smallest (most negative) first  */
    RS_RANK_ABS_GAP          /* |mean gap|, smallest first                */
} rs_rank_by;

typedef struct rs_analysis_opts {
    int at_best;             /* each job's best-validation epoch          */
    double level;            /* confidence level, e.g. 0.95               */
    rs_rank_by rank_by;
    const char *baseline;    /* "keep_prob=1,l2=0,l1=0" (keep_prob_N for one
                                layer), and extra axes by their dotted
                                keys ("train.lr=0.1", "model.layers=1-64-1"
                                or "=[1,64,1]"); what it does not name
                                comes from the spec's report.baseline,
                                else keep 1, l2 0, l1 0 and each extra
                                axis at its first value; NULL: all of it,
                                when that config is in the grid          */
    int no_trajectory;       /* 1: no trajectory even with a curves reader
                                (which the MC-dropout table needs)        */
} rs_analysis_opts_t;

typedef struct rs_config_row {
    uint32_t i_keep, i_l2, i_l1;       /* indices into the spec's axes     */
    uint64_t combo;                    /* the extra axes' combination and  */
    uint32_t i_axis[RS_SPEC_MAX_AXES]; /* each one's value index           */
    uint32_t epochs;                   /* its jobs' train.epochs           */
    uint32_t mc_samples;               /* its jobs' eval.mc_samples (0: no
                                          MC-dropout curves)               */
    char label[512];                   /* "keep 0.8/0.5, L2 0.001, L1 0",
                                          then ", train.lr 0.5" per extra
                                          axis                             */
    int is_baseline;
    uint32_t n_seeds;                  /* jobs of this config in the grid  */
    uint32_t n_done, n_diverged, n_failed, n_missing;
    uint32_t n_used;                   /* done with a finite gap           */
    rs_summary_t sum[RS_N_METRICS];    /* over the finite values; n = 0:
                                          mean and CI NaN                  */
    uint32_t rank;                     /* 1 = best by rank_by; 0: no value */
} rs_config_row_t;

typedef enum rs_test_kind {
    RS_TEST_NONE = 0,
    RS_TEST_PAIRED_T = 1,
    RS_TEST_WELCH = 2
} rs_test_kind;

/* Notes on a comparison row (bits). */
enum {
    RS_NOTE_FEW = 1u << 0,      /* too few pairs/values for a test       */
    RS_NOTE_UNPAIRED = 1u << 1, /* seeds do not pair: Welch              */
    RS_NOTE_W_FLOOR = 1u << 2,  /* the Wilcoxon p cannot fall below 0.05 at
                                   this n (exact law: p >= 2 / 2^n)       */
    RS_NOTE_NO_BOOT = 1u << 3,  /* fewer than RS_ANALYSIS_MIN_BOOT pairs  */
    RS_NOTE_CONSTANT = 1u << 4  /* every difference equal: no test       */
};

typedef struct rs_comparison_row {
    uint32_t config;            /* index into configs                    */
    rs_metric metric;           /* d = config - baseline of this metric  */
    rs_test_kind test;
    const char *reason;         /* static: why this test, or why none    */
    unsigned notes;
    size_t n;                   /* pairs (paired/none) or values of the
                                   config (Welch; n_baseline beside it)  */
    size_t n_baseline;          /* Welch only; else = n                  */
    double mean_diff, sd_diff;  /* mean and sd of d (Welch: difference of
                                   means; sd NaN)                         */
    double ci_lo, ci_hi;        /* t-interval of the difference (NaN when
                                   fewer than 2 values on a side)        */
    double t, df, p, p_holm;    /* the primary test; NaN without one     */
    double w_v_plus, w_p, w_p_holm, w_p_min; /* Wilcoxon (paired rows)    */
    double boot_lo, boot_hi;    /* NaN below RS_ANALYSIS_MIN_BOOT pairs  */
    double cohen_dz, prob_superiority;
} rs_comparison_row_t;

/* Weight scaling against MC dropout for one config and metric. */
typedef struct rs_mc_row {
    uint32_t config;            /* index into configs                    */
    rs_metric metric;           /* RS_M_TEST_LOSS or RS_M_TEST_ACC        */
    uint32_t mc_samples;        /* T, the thinned networks averaged      */
    const char *reason;         /* static: the test, or why none         */
    unsigned notes;             /* RS_NOTE_FEW, RS_NOTE_CONSTANT         */
    size_t n;                   /* seeds with both values finite         */
    double mean_ws, mean_mc;    /* the two means over those seeds        */
    double mean_diff, sd_diff;  /* d = weight scaling - MC dropout        */
    double ci_lo, ci_hi;        /* t-interval of mean(d); NaN if n < 2   */
    double t, df, p, p_holm;    /* one-sample t of d; NaN without a test */
} rs_mc_row_t;

typedef struct rs_trajectory_row {
    uint32_t config, epoch, n;  /* n: seeds with a finite gap            */
    double mean, ci_lo, ci_hi;  /* gap (test - train loss) at the epoch  */
} rs_trajectory_row_t;

typedef struct rs_analysis_result {
    int at_best, classifier, hidden;
    double level;
    rs_rank_by rank_by;
    uint64_t n_jobs, n_done, n_diverged, n_failed, n_missing;
    uint32_t n_configs;
    rs_config_row_t *configs;   /* in grid order (extra axes, keep, l2, l1) */
    uint32_t *order;            /* configs by rank, unranked last         */
    int baseline;               /* index into configs, -1: none           */
    uint32_t n_comparisons;
    rs_comparison_row_t *comparisons;
    uint32_t n_family_t;        /* rows with a primary p (Holm family)   */
    uint32_t n_family_w;        /* rows with a Wilcoxon p                */
    uint64_t boot_seed;
    uint32_t n_boot;
    size_t n_trajectory;
    rs_trajectory_row_t *trajectory; /* config-major, each config's epochs
                                        0..its train.epochs; NULL when not
                                        asked                            */
    uint32_t n_mc;              /* rows of mc: the configs with
                                   mc_samples > 0 and a keep_prob < 1, in
                                   grid order, test loss then (classifiers)
                                   accuracy; 0 without a curves reader   */
    rs_mc_row_t *mc;
    uint32_t n_family_mc;       /* mc rows with a p (their Holm family)  */
} rs_analysis_result_t;

/* Reads one finished job's curves into c (arrays of c->n allocated by the
 * caller; the MC-dropout curves too when their arrays are not NULL, as
 * rs_store_read_curves).  The analysis calls it for the trajectory and the
 * MC-dropout table, once per done job. */
typedef rs_status (*rs_curves_reader)(void *ctx, const rs_job_t *job,
                                      rs_curves_t *c, rs_error_t *err);

/* Analyses a sweep: rows has spec->n_jobs entries in job index order (the
 * /jobs table).  read_curves NULL: no trajectory and no MC-dropout table.  On success *out owns its
 * arrays (free with rs_analysis_free).  Errors: RS_EINPUT (a baseline that
 * does not parse or is not in the grid; at_best without a validation
 * split), RS_ENOMEM, and what read_curves returns. */
rs_status rs_analysis_run(const rs_spec_t *spec, const rs_job_summary_t *rows,
                          const rs_analysis_opts_t *opts,
                          rs_curves_reader read_curves, void *ctx,
                          rs_analysis_result_t *out, rs_error_t *err);

/* One row of the MC-dropout table from per-seed values: ws[i] and mc[i]
 * are seed i's value by weight scaling and by MC dropout (NaN: none; only
 * seeds with both count).  Fills n, the means, d's mean, sd and level
 * t-interval, and the one-sample t-test of d from RS_ANALYSIS_MIN_PAIRS
 * seeds on (reason and notes say why there is none); leaves config,
 * metric, mc_samples and p_holm to the caller.  Errors: RS_EINPUT (a level
 * outside (0, 1)), RS_ENOMEM. */
rs_status rs_analysis_mc_compare(const double *ws, const double *mc,
                                 size_t n_seeds, double level,
                                 rs_mc_row_t *out, rs_error_t *err);

/* Frees what rs_analysis_run allocated; NULL and a zeroed struct are
 * accepted. */
void rs_analysis_free(rs_analysis_result_t *r);

#endif
