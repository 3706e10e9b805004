/* SPDX-License-Identifier: MIT */
/* analysis.c — configs, paired comparisons and trajectories of a sweep
 * (the contract is in analysis.h). */
#include "regsweep/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rs_metric_name(rs_metric m)
{
    static const char *const names[RS_N_METRICS] = {
        "train_loss", "test_loss", "gap", "train_acc", "test_acc", "gap_acc"};
    return (unsigned)m < RS_N_METRICS ? names[m] : "?";
}

/* metrics compared with the baseline (the rest are only summarised) */
static const rs_metric COMPARED[] = {RS_M_TEST_LOSS, RS_M_GAP, RS_M_TEST_ACC,
                                     RS_M_GAP_ACC};

static double metric_of(const rs_job_summary_t *r, rs_metric m, int at_best)
{
    switch (m) {
    case RS_M_TRAIN_LOSS: return at_best ? r->best_train_loss : r->train_loss;
    case RS_M_TEST_LOSS: return at_best ? r->best_test_loss : r->test_loss;
    case RS_M_GAP: return at_best ? r->best_gap : r->gap;
    case RS_M_TRAIN_ACC: return at_best ? r->best_train_acc : r->train_acc;
    case RS_M_TEST_ACC: return at_best ? r->best_test_acc : r->test_acc;
    default: return at_best ? r->best_gap_acc : r->gap_acc;
    }
}

static int metric_applies(const rs_analysis_result_t *a, rs_metric m)
{
    return a->classifier ||
           (m != RS_M_TRAIN_ACC && m != RS_M_TEST_ACC && m != RS_M_GAP_ACC);
}

/* A setting as a reader writes it: 0.5, 1, 0.01, 1e-3, 2.5e-4. */
static void fmt_setting(char *buf, size_t n, double v)
{
    if (v == 0 || fabs(v) >= 0.01) {
        snprintf(buf, n, "%g", v);
        return;
    }
    char m[32];
    snprintf(m, sizeof m, "%.2e", v);          /* "-2.50e-04" */
    char *e = strchr(m, 'e');
    int exp10 = e ? atoi(e + 1) : 0;
    if (e)
        *e = '\0';
    size_t len = strlen(m);                    /* "2.50" -> "2.5", "1.00" -> "1" */
    while (len && m[len - 1] == '0')
        m[--len] = '\0';
    if (len && m[len - 1] == '.')
        m[--len] = '\0';
    snprintf(buf, n, "%.20se%d", m, exp10);
}

/* "keep 0.8/0.5, L2 1e-3" (+ ", L1 1e-4" when the grid has L1), then each
 * extra axis: ", train.lr 0.5, model.layers 1-64-64-1". */
static void config_label(const rs_spec_t *s, const rs_config_row_t *g,
                         char *buf, size_t n)
{
    int h = rs_spec_n_hidden(s), width = h > 0 ? h : 1;
    const double *keep = s->keep + (size_t)g->i_keep * width;
    int same = 1;
    for (int l = 1; l < h; l++)
        same &= keep[l] == keep[0];
    char k[128] = "-";
    if (h > 0) {
        k[0] = '\0';
        for (int l = 0; l < (same ? 1 : h); l++) {
            char one[32];
            fmt_setting(one, sizeof one, keep[l]);
            if (l)
                strncat(k, "/", sizeof k - strlen(k) - 1);
            strncat(k, one, sizeof k - strlen(k) - 1);
        }
    }
    int has_l1 = s->n_l1 > 1 || s->l1[0] != 0;
    char l2[32], l1[32];
    fmt_setting(l2, sizeof l2, s->l2[g->i_l2]);
    fmt_setting(l1, sizeof l1, s->l1[g->i_l1]);
    int len = snprintf(buf, n, "keep %s, L2 %s", k, l2);
    if (has_l1 && len > 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, ", L1 %s", l1);
    for (int a = 0; a < s->n_axes && len > 0 && (size_t)len < n; a++) {
        const rs_axis_value_t *v = &s->axes[a].values[g->i_axis[a]];
        char one[128];
        if (s->axes[a].type == RS_AXIS_NUMBER)
            fmt_setting(one, sizeof one, v->num);
        else
            snprintf(one, sizeof one, "%s", v->text);
        len += snprintf(buf + len, n - (size_t)len, ", %s %s", s->axes[a].key, one);
    }
}

/* The values of metric m for config c by seed; NaN where the job is not
 * done or the value is not finite.  Returns the number of finite values. */
static uint32_t values_by_seed(const rs_spec_t *s, const rs_job_summary_t *rows,
                               uint32_t c, rs_metric m, int at_best, double *v)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_seeds; i++) {
        const rs_job_summary_t *row = &rows[(uint64_t)c * s->n_seeds + i];
        v[i] = row->status == RS_JOB_DONE ? metric_of(row, m, at_best) : NAN;
        if (isfinite(v[i]))
            n++;
        else
            v[i] = NAN;
    }
    return n;
}

static void summarise_configs(const rs_spec_t *s, const rs_job_summary_t *rows,
                              rs_analysis_result_t *a, double *vals, double *buf)
{
    for (uint32_t c = 0; c < a->n_configs; c++) {
        rs_config_row_t *g = &a->configs[c];
        /* its first job gives its indices (the seed varies fastest) */
        rs_job_t job;
        rs_spec_job(s, (uint64_t)c * s->n_seeds, &job);
        g->i_l1 = job.i_l1;
        g->i_l2 = job.i_l2;
        g->i_keep = job.i_keep;
        g->combo = job.combo;
        memcpy(g->i_axis, job.i_axis, sizeof g->i_axis);
        g->epochs = job.settings.epochs;
        g->mc_samples = job.settings.mc_samples;
        config_label(s, g, g->label, sizeof g->label);
        g->n_seeds = s->n_seeds;
        for (uint32_t i = 0; i < s->n_seeds; i++) {
            rs_job_status st = rows[(uint64_t)c * s->n_seeds + i].status;
            g->n_done += st == RS_JOB_DONE;
            g->n_diverged += st == RS_JOB_DIVERGED;
            g->n_failed += st == RS_JOB_FAILED;
            g->n_missing += st == RS_JOB_MISSING;
        }
        for (int m = 0; m < RS_N_METRICS; m++) {
            rs_summary_t *sm = &g->sum[m];
            memset(sm, 0, sizeof *sm);
            sm->mean = sm->sd = sm->se = sm->ci_lo = sm->ci_hi = NAN;
            sm->level = a->level;
            uint32_t n = values_by_seed(s, rows, c, (rs_metric)m, a->at_best, vals);
            if (m == RS_M_GAP)
                g->n_used = n;
            uint32_t k = 0;
            for (uint32_t i = 0; i < s->n_seeds; i++)
                if (!isnan(vals[i]))
                    buf[k++] = vals[i];
            if (n >= 1)
                rs_summarize(buf, n, a->level, sm, NULL);
        }
    }
}

static double rank_key(const rs_analysis_result_t *a, const rs_config_row_t *g)
{
    switch (a->rank_by) {
    case RS_RANK_GAP: return g->sum[RS_M_GAP].mean;
    case RS_RANK_ABS_GAP: return fabs(g->sum[RS_M_GAP].mean);
    default: return g->sum[RS_M_TEST_LOSS].mean;
    }
}

/* Stable insertion sort by the rank key, NaN last (configs are few). */
static void rank_configs(rs_analysis_result_t *a)
{
    uint32_t *o = a->order;
    for (uint32_t i = 0; i < a->n_configs; i++)
        o[i] = i;
    for (uint32_t i = 1; i < a->n_configs; i++)
        for (uint32_t j = i; j > 0; j--) {
            double x = rank_key(a, &a->configs[o[j - 1]]);
            double y = rank_key(a, &a->configs[o[j]]);
            if (!(isnan(x) && !isnan(y)) && !(x > y))
                break;
            uint32_t t = o[j];
            o[j] = o[j - 1];
            o[j - 1] = t;
        }
    for (uint32_t i = 0; i < a->n_configs; i++)
        a->configs[o[i]].rank = isnan(rank_key(a, &a->configs[o[i]])) ? 0 : i + 1;
}

/* Splits "a=1,model.layers=[1,8,1],b=2" at the commas outside brackets
 * (in place); returns the number of pieces (at most max). */
static int split_pairs(char *buf, char **out, int max)
{
    int n = 0, depth = 0;
    char *start = buf;
    for (char *c = buf;; c++) {
        if (*c == '[')
            depth++;
        else if (*c == ']' && depth)
            depth--;
        else if ((*c == ',' && depth == 0) || *c == '\0') {
            int end = *c == '\0';
            *c = '\0';
            if (n < max)
                out[n++] = start;
            if (end)
                break;
            start = c + 1;
        }
    }
    return n;
}

/* The baseline config's index, -1 if none is named and the default is not
 * in the grid, -2 on error (err filled).  Keys: keep_prob, keep_prob_N,
 * l2, l1 and any extra axis by its dotted key; what is not named comes
 * from the spec's report.baseline, else keep 1, l2 0, l1 0 and each extra
 * axis at its first value. */
static int find_baseline(const rs_spec_t *s, const rs_analysis_result_t *a,
                         const char *given, rs_error_t *err)
{
    double keep[RS_MAX_LAYERS], l2 = s->baseline_l2, l1 = s->baseline_l1;
    int axis[RS_SPEC_MAX_AXES];
    for (int l = 0; l < RS_MAX_LAYERS; l++)
        keep[l] = s->baseline_keep[l];
    for (int x = 0; x < s->n_axes; x++)
        axis[x] = s->baseline_axis[x] >= 0 ? s->baseline_axis[x] : 0;
    if (given) {
        char buf[1024];
        char *pairs[64];
        snprintf(buf, sizeof buf, "%s", given);
        int n_pairs = split_pairs(buf, pairs, 64);
        for (int i = 0; i < n_pairs; i++) {
            char *kv = pairs[i];
            char *eq = strchr(kv, '=');
            if (eq && strchr(kv, '.') && strchr(kv, '.') < eq) {
                *eq = '\0';
                int x = rs_spec_axis_find(s, kv);
                if (x < 0) {
                    rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                 "--baseline: '%s' is not an axis of this "
                                 "spec", kv);
                    return -2;
                }
                int j = rs_spec_axis_value_index(s, x, eq + 1);
                if (j < 0) {
                    char vals[256] = "";
                    for (uint32_t k = 0; k < s->axes[x].n && strlen(vals) < 200; k++) {
                        char one[128];
                        if (s->axes[x].type == RS_AXIS_NUMBER)
                            snprintf(one, sizeof one, "%g", s->axes[x].values[k].num);
                        else
                            snprintf(one, sizeof one, "%s", s->axes[x].values[k].text);
                        strncat(vals, k ? ", " : "", sizeof vals - strlen(vals) - 1);
                        strncat(vals, one, sizeof vals - strlen(vals) - 1);
                    }
                    rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                 "--baseline: %s=%s is not a value of the "
                                 "axis (%s)", kv, eq + 1, vals);
                    return -2;
                }
                axis[x] = j;
                continue;
            }
            char *end = NULL;
            double v = eq ? strtod(eq + 1, &end) : NAN;
            if (!eq || !end || *end || !isfinite(v)) {
                rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                             "--baseline: expected key=value pairs such as "
                             "keep_prob=1,l2=0,l1=0 or train.lr=0.1; got '%s'",
                             kv);
                return -2;
            }
            *eq = '\0';
            if (!strcmp(kv, "keep_prob"))
                for (int l = 0; l < RS_MAX_LAYERS; l++)
                    keep[l] = v;
            else if (!strncmp(kv, "keep_prob_", 10) && atoi(kv + 10) >= 1 &&
                     atoi(kv + 10) <= a->hidden)
                keep[atoi(kv + 10) - 1] = v;
            else if (!strcmp(kv, "l2"))
                l2 = v;
            else if (!strcmp(kv, "l1"))
                l1 = v;
            else {
                rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                             "--baseline: unknown key '%s' (keep_prob, "
                             "keep_prob_N, l2, l1, or an axis by its dotted "
                             "key)", kv);
                return -2;
            }
        }
    }
    int width = a->hidden > 0 ? a->hidden : 1;
    for (uint32_t c = 0; c < a->n_configs; c++) {
        const rs_config_row_t *g = &a->configs[c];
        int same = (float)s->l2[g->i_l2] == (float)l2 &&
                   (float)s->l1[g->i_l1] == (float)l1;
        for (int l = 0; l < a->hidden; l++)
            same &= (float)s->keep[(size_t)g->i_keep * width + l] == (float)keep[l];
        for (int x = 0; x < s->n_axes; x++)
            same &= (int)g->i_axis[x] == axis[x];
        if (same)
            return (int)c;
    }
    if (given || s->has_baseline) {
        char extra[512] = "";
        for (int x = 0; x < s->n_axes; x++) {
            size_t len = strlen(extra);
            snprintf(extra + len, sizeof extra - len, ", %s=%s", s->axes[x].key,
                     s->axes[x].values[axis[x]].text);
        }
        rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                     "the baseline (keep_prob=%g, l2=%g, l1=%g%s) is not a "
                     "config of this grid", keep[0], l2, l1, extra);
        return -2;
    }
    return -1;
}

/* One comparison: config c against the baseline b on metric m. */
static rs_status compare_one(const rs_spec_t *s, const rs_job_summary_t *rows,
                             rs_analysis_result_t *a, uint32_t c, rs_metric m,
                             double *va, double *vb, double *pa, double *pb,
                             rs_comparison_row_t *x, rs_error_t *err)
{
    memset(x, 0, sizeof *x);
    x->config = c;
    x->metric = m;
    x->mean_diff = x->sd_diff = x->ci_lo = x->ci_hi = NAN;
    x->t = x->df = x->p = x->p_holm = NAN;
    x->w_v_plus = x->w_p = x->w_p_holm = x->w_p_min = NAN;
    x->boot_lo = x->boot_hi = x->cohen_dz = x->prob_superiority = NAN;
    values_by_seed(s, rows, c, m, a->at_best, va);
    values_by_seed(s, rows, (uint32_t)a->baseline, m, a->at_best, vb);
    size_t n = 0, na = 0, nb = 0;
    for (uint32_t i = 0; i < s->n_seeds; i++) {
        if (!isnan(va[i]) && !isnan(vb[i])) {
            pa[n] = va[i];
            pb[n] = vb[i];
            n++;
        }
        na += !isnan(va[i]);
        nb += !isnan(vb[i]);
    }
    rs_status st;
    if (n >= RS_ANALYSIS_MIN_PAIRS || (n >= 1 && (na < RS_ANALYSIS_MIN_PAIRS ||
                                                   nb < RS_ANALYSIS_MIN_PAIRS))) {
        /* paired: the estimate and its interval from any pairs; the test
         * only from RS_ANALYSIS_MIN_PAIRS on */
        rs_bootstrap_spec_t boot = {s->boot_seed, (uint32_t)a->n_comparisons,
                                    n >= RS_ANALYSIS_MIN_BOOT ? s->n_boot : 0};
        rs_paired_t pr;
        if ((st = rs_paired_compare(pa, pb, n, a->level, &boot, &pr, err)))
            return st;
        x->n = x->n_baseline = n;
        x->mean_diff = pr.mean_diff;
        x->sd_diff = pr.sd_diff;
        x->ci_lo = pr.ttest.ci_lo;
        x->ci_hi = pr.ttest.ci_hi;
        x->cohen_dz = pr.cohen_dz;
        x->prob_superiority = pr.prob_superiority;
        x->boot_lo = pr.boot_lo;
        x->boot_hi = pr.boot_hi;
        if (n < RS_ANALYSIS_MIN_BOOT)
            x->notes |= RS_NOTE_NO_BOOT;
        if (n < RS_ANALYSIS_MIN_PAIRS) {
            x->notes |= RS_NOTE_FEW;
            x->reason = "fewer than 5 pairs of seeds: no test";
            return RS_OK;
        }
        if (pr.ttest.flags & RS_STATS_CONSTANT) {
            x->notes |= RS_NOTE_CONSTANT;
            x->reason = "every difference is the same: no test";
            return RS_OK;
        }
        x->test = RS_TEST_PAIRED_T;
        x->reason = "paired by seed (common random numbers)";
        x->t = pr.ttest.t;
        x->df = pr.ttest.df;
        x->p = pr.ttest.p;
        x->w_v_plus = pr.wilcoxon.v_plus;
        x->w_p = pr.wilcoxon.p;
        double n_used = (double)pr.wilcoxon.n_used;
        x->w_p_min = n_used > 0 ? fmin(1.0, 2.0 * pow(0.5, n_used)) : NAN;
        if (!(x->w_p_min < 0.05))
            x->notes |= RS_NOTE_W_FLOOR;
        return RS_OK;
    }
    /* the seeds do not pair, but each side has enough values */
    if (na >= RS_ANALYSIS_MIN_PAIRS && nb >= RS_ANALYSIS_MIN_PAIRS) {
        size_t ia = 0, ib = 0;
        for (uint32_t i = 0; i < s->n_seeds; i++) {
            if (!isnan(va[i]))
                pa[ia++] = va[i];
            if (!isnan(vb[i]))
                pb[ib++] = vb[i];
        }
        rs_ttest_t w;
        if ((st = rs_ttest_welch(pa, ia, pb, ib, a->level, &w, err)))
            return st;
        x->n = ia;
        x->n_baseline = ib;
        x->mean_diff = w.estimate;
        x->ci_lo = w.ci_lo;
        x->ci_hi = w.ci_hi;
        x->notes |= RS_NOTE_UNPAIRED | RS_NOTE_NO_BOOT;
        if (w.flags & RS_STATS_CONSTANT) {
            x->notes |= RS_NOTE_CONSTANT;
            x->reason = "both sides constant: no test";
            return RS_OK;
        }
        x->test = RS_TEST_WELCH;
        x->reason = "seeds do not pair (jobs missing): Welch's unpaired test";
        x->t = w.t;
        x->df = w.df;
        x->p = w.p;
        return RS_OK;
    }
    x->n = n;
    x->n_baseline = n;
    x->notes |= RS_NOTE_FEW | RS_NOTE_NO_BOOT;
    x->reason = n == 0 ? "no seed has a value on both sides: no estimate"
                       : "fewer than 5 values on a side: no test";
    return RS_OK;
}

static rs_status compare_all(const rs_spec_t *s, const rs_job_summary_t *rows,
                             rs_analysis_result_t *a, double *scratch,
                             rs_error_t *err)
{
    if (a->baseline < 0)
        return RS_OK;
    size_t ns = s->n_seeds;
    for (uint32_t c = 0; c < a->n_configs; c++) {
        if ((int)c == a->baseline)
            continue;
        for (size_t k = 0; k < sizeof COMPARED / sizeof *COMPARED; k++) {
            if (!metric_applies(a, COMPARED[k]))
                continue;
            rs_comparison_row_t *x = &a->comparisons[a->n_comparisons];
            rs_status st = compare_one(s, rows, a, c, COMPARED[k], scratch,
                                       scratch + ns, scratch + 2 * ns,
                                       scratch + 3 * ns, x, err);
            if (st)
                return st;
            a->n_comparisons++;
        }
    }
    /* Holm, once over the primary p-values and once over the Wilcoxon
     * ones; rows without a p are not in the family (NaN stays NaN) */
    double *p = malloc((a->n_comparisons + 1) * sizeof *p);
    if (!p)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (int which = 0; which < 2; which++) {
        uint32_t family = 0;
        for (uint32_t i = 0; i < a->n_comparisons; i++) {
            p[i] = which ? a->comparisons[i].w_p : a->comparisons[i].p;
            family += !isnan(p[i]);
        }
        rs_status st = rs_holm_adjust(p, a->n_comparisons, p, err);
        if (st) {
            free(p);
            return st;
        }
        for (uint32_t i = 0; i < a->n_comparisons; i++)
            *(which ? &a->comparisons[i].w_p_holm : &a->comparisons[i].p_holm) = p[i];
        *(which ? &a->n_family_w : &a->n_family_t) = family;
    }
    free(p);
    return RS_OK;
}

/* ---- weight scaling against MC dropout ----------------------------------- */

#define STR_(x) #x
#define STR(x) STR_(x)

rs_status rs_analysis_mc_compare(const double *ws, const double *mc,
                                 size_t n_seeds, double level,
                                 rs_mc_row_t *x, rs_error_t *err)
{
    x->reason = NULL;
    x->notes = 0;
    x->n = 0;
    x->mean_ws = x->mean_mc = x->mean_diff = x->sd_diff = NAN;
    x->ci_lo = x->ci_hi = x->t = x->df = x->p = x->p_holm = NAN;
    if (!(level > 0 && level < 1))
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "confidence level %g is not in (0, 1)", level);
    double *a = malloc((2 * n_seeds + 1) * sizeof *a), *b = a + n_seeds;
    if (!a)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    size_t n = 0;
    double sum_a = 0, sum_b = 0;
    for (size_t i = 0; i < n_seeds; i++)
        if (isfinite(ws[i]) && isfinite(mc[i])) {
            sum_a += a[n] = ws[i];
            sum_b += b[n] = mc[i];
            n++;
        }
    x->n = n;
    rs_status st = RS_OK;
    rs_paired_t pr;
    if (n == 0) {
        x->notes = RS_NOTE_FEW;
        x->reason = "no seed has both values: no estimate";
    } else if (!(st = rs_paired_compare(a, b, n, level, NULL, &pr, err))) {
        x->mean_ws = sum_a / (double)n;
        x->mean_mc = sum_b / (double)n;
        x->mean_diff = pr.mean_diff;
        x->sd_diff = pr.sd_diff;
        x->ci_lo = pr.ttest.ci_lo;
        x->ci_hi = pr.ttest.ci_hi;
        if (n < RS_ANALYSIS_MIN_PAIRS) {
            x->notes = RS_NOTE_FEW;
            x->reason = "fewer than " STR(RS_ANALYSIS_MIN_PAIRS)
                        " seeds with both values: no test";
        } else if (pr.ttest.flags & RS_STATS_CONSTANT) {
            /* e.g. accuracies that the average changes on no test row */
            x->notes = RS_NOTE_CONSTANT;
            x->reason = "every difference is the same: no test";
        } else {
            x->reason = "one-sample t of the per-seed differences (same job)";
            x->t = pr.ttest.t;
            x->df = pr.ttest.df;
            x->p = pr.ttest.p;
        }
    }
    free(a);
    return st;
}

/* Seed i's values at the report's epoch: v[0], v[1] the test loss by
 * weight scaling and by MC dropout, v[2], v[3] the accuracies (NaN for
 * regression, and where the job has no best epoch under at_best). */
static void mc_values(const rs_analysis_result_t *a, const rs_job_summary_t *row,
                      const rs_curves_t *cv, uint32_t i, double *const v[4])
{
    uint32_t e = a->at_best ? row->best_epoch : cv->n - 1;
    int ok = e < cv->n;   /* RS_NO_EPOCH: no finite validation loss */
    v[0][i] = ok ? cv->test_loss[e] : NAN;
    v[1][i] = ok ? cv->test_loss_mc[e] : NAN;
    v[2][i] = ok && a->classifier ? cv->test_acc[e] : NAN;
    v[3][i] = ok && a->classifier ? cv->test_acc_mc[e] : NAN;
}

/* Appends config c's rows of the MC-dropout table. */
static rs_status mc_rows(rs_analysis_result_t *a, uint32_t c,
                         double *const v[4], size_t n_seeds, rs_error_t *err)
{
    for (int k = 0; k < (a->classifier ? 2 : 1); k++) {
        rs_mc_row_t *x = &a->mc[a->n_mc];
        x->config = c;
        x->metric = k ? RS_M_TEST_ACC : RS_M_TEST_LOSS;
        x->mc_samples = a->configs[c].mc_samples;
        rs_status st = rs_analysis_mc_compare(v[2 * k], v[2 * k + 1], n_seeds,
                                              a->level, x, err);
        if (st)
            return st;
        a->n_mc++;
    }
    return RS_OK;
}

/* Holm over the MC-dropout rows with a p (their own family). */
static rs_status mc_holm(rs_analysis_result_t *a, rs_error_t *err)
{
    double *p = malloc((a->n_mc + 1) * sizeof *p);
    if (!p)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    a->n_family_mc = 0;
    for (uint32_t i = 0; i < a->n_mc; i++) {
        p[i] = a->mc[i].p;
        a->n_family_mc += !isnan(p[i]);
    }
    rs_status st = rs_holm_adjust(p, a->n_mc, p, err);
    for (uint32_t i = 0; !st && i < a->n_mc; i++)
        a->mc[i].p_holm = p[i];
    free(p);
    return st;
}

/* ---- the curves pass: trajectory and MC dropout ---------------------------- */

/* Config c's trajectory rows from the gaps of its n jobs read (n x e1). */
static void trajectory_rows(rs_analysis_result_t *a, uint32_t c,
                            const double *gaps, uint32_t n, uint32_t e1,
                            double *col, size_t *row)
{
    for (uint32_t e = 0; e < e1; e++) {
        rs_trajectory_row_t *t = &a->trajectory[(*row)++];
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            if (isfinite(gaps[(size_t)i * e1 + e]))
                col[k++] = gaps[(size_t)i * e1 + e];
        rs_summary_t sm = {.mean = NAN, .ci_lo = NAN, .ci_hi = NAN};
        if (k)
            rs_summarize(col, k, a->level, &sm, NULL);
        *t = (rs_trajectory_row_t){c, e, k, sm.mean, sm.ci_lo, sm.ci_hi};
    }
}

/* Scratch of the curves pass, sized for the longest config. */
typedef struct pass_buf {
    double *cbuf;     /* 9 curves of E1 entries: one job's              */
    double *gaps;     /* n_seeds x E1                                    */
    double *col;      /* n_seeds                                         */
    double *v[4];     /* n_seeds each: mc_values                         */
} pass_buf;

/* Whether config c's jobs evaluate MC dropout with noise to draw: with
 * keep_prob 1 in every hidden layer each of the T passes is the network
 * itself (no noise kind draws at keep 1), so d would be float rounding
 * and its rows would only grow the Holm family. */
static int config_has_mc(const rs_spec_t *s, const rs_config_row_t *g)
{
    int h = rs_spec_n_hidden(s), width = h > 0 ? h : 1, noisy = 0;
    for (int l = 0; l < h; l++)
        noisy |= s->keep[(size_t)g->i_keep * width + l] < 1.0;
    return g->mc_samples > 0 && noisy;
}

/* The sizes of the outputs: trajectory rows (when asked) and MC rows;
 * the longest config's epochs + 1 into *E1. */
static void pass_sizes(const rs_spec_t *s, rs_analysis_result_t *a,
                       int want_traj, uint32_t *E1, size_t *n_mc)
{
    *E1 = 0;
    *n_mc = 0;
    a->n_trajectory = 0;
    for (uint32_t c = 0; c < a->n_configs; c++) {
        uint32_t e1 = a->configs[c].epochs + 1;
        a->n_trajectory += want_traj ? e1 : 0;
        *E1 = e1 > *E1 ? e1 : *E1;
        *n_mc += config_has_mc(s, &a->configs[c]) ? (a->classifier ? 2 : 1) : 0;
    }
}

/* Reads config c's done jobs once each: the gaps for the trajectory, the
 * values for the MC-dropout table. */
static rs_status pass_config(const rs_spec_t *s, const rs_job_summary_t *rows,
                             rs_analysis_result_t *a, uint32_t c, int want_traj,
                             rs_curves_reader read, void *ctx, pass_buf *b,
                             size_t *row, rs_error_t *err)
{
    uint32_t e1 = a->configs[c].epochs + 1;
    int want_mc = config_has_mc(s, &a->configs[c]);
    if (!want_traj && !want_mc)
        return RS_OK;   /* nothing to read it for */
    rs_curves_t cv = {.n = e1};
    double **slots[9] = {&cv.train_loss, &cv.test_loss, &cv.val_loss,
                         &cv.train_acc, &cv.test_acc, &cv.val_acc,
                         &cv.train_loss_dropout, &cv.test_loss_mc,
                         &cv.test_acc_mc};
    for (int i = 0; i < (want_mc ? 9 : 7); i++)
        *slots[i] = b->cbuf + (size_t)i * e1;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_seeds; i++) {
        uint64_t idx = (uint64_t)c * s->n_seeds + i;
        for (int k = 0; k < 4; k++)
            b->v[k][i] = NAN;
        if (rows[idx].status != RS_JOB_DONE)
            continue;
        rs_job_t job;
        rs_spec_job(s, idx, &job);
        rs_status st = read(ctx, &job, &cv, err);
        if (st)
            return st;
        for (uint32_t e = 0; want_traj && e < e1; e++)
            b->gaps[(size_t)n * e1 + e] = cv.test_loss[e] - cv.train_loss[e];
        n++;
        if (want_mc)
            mc_values(a, &rows[idx], &cv, i, b->v);
    }
    if (want_traj)
        trajectory_rows(a, c, b->gaps, n, e1, b->col, row);
    return want_mc ? mc_rows(a, c, b->v, s->n_seeds, err) : RS_OK;
}

/* The trajectory (when asked: the mean gap per config and epoch over the
 * seeds whose gap is finite; a config's epochs are its own, train.epochs
 * may be an axis) and the MC-dropout table, from the curves of the done
 * jobs, each read once. */
static rs_status curves_pass(const rs_spec_t *s, const rs_job_summary_t *rows,
                             rs_analysis_result_t *a, int want_traj,
                             rs_curves_reader read, void *ctx, rs_error_t *err)
{
    uint32_t E1;
    size_t n_mc, ns = s->n_seeds;
    pass_sizes(s, a, want_traj, &E1, &n_mc);
    if (!want_traj && !n_mc)
        return RS_OK;
    pass_buf b = {malloc(9 * (size_t)E1 * sizeof(double)),
                  malloc((ns * E1 + 1) * sizeof(double)),
                  malloc((5 * ns + 1) * sizeof(double)), {NULL}};
    if (want_traj)
        a->trajectory = calloc(a->n_trajectory + 1, sizeof *a->trajectory);
    a->mc = calloc(n_mc + 1, sizeof *a->mc);
    rs_status st = RS_OK;
    if (!b.cbuf || !b.gaps || !b.col || !a->mc || (want_traj && !a->trajectory)) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    for (int k = 0; k < 4; k++)
        b.v[k] = b.col + (size_t)(k + 1) * ns;
    size_t row = 0;
    for (uint32_t c = 0; c < a->n_configs && !st; c++)
        st = pass_config(s, rows, a, c, want_traj, read, ctx, &b, &row, err);
    if (!st)
        st = mc_holm(a, err);
out:
    free(b.cbuf);
    free(b.gaps);
    free(b.col);
    return st;
}

rs_status rs_analysis_run(const rs_spec_t *s, const rs_job_summary_t *rows,
                          const rs_analysis_opts_t *o,
                          rs_curves_reader read_curves, void *ctx,
                          rs_analysis_result_t *a, rs_error_t *err)
{
    memset(a, 0, sizeof *a);
    a->baseline = -1;
    if (o->at_best && rs_spec_n_val(s) == 0)
        return rs_error_set(err, RS_EINPUT, s->path, 0, 0,
                            "--at best selects each job's epoch of smallest "
                            "validation loss, and this spec has no validation "
                            "split (dataset.n_val); report the final epoch, or "
                            "run the sweep with dataset.n_val > 0");
    a->at_best = o->at_best;
    a->level = o->level > 0 && o->level < 1 ? o->level : 0.95;
    a->rank_by = o->rank_by;
    a->hidden = rs_spec_n_hidden(s);
    a->classifier = s->settings.arch.loss == RS_LOSS_SOFTMAX_CE;
    a->n_jobs = s->n_jobs;
    a->boot_seed = s->boot_seed;
    a->n_boot = s->n_boot;
    for (uint64_t i = 0; i < s->n_jobs; i++) {
        a->n_done += rows[i].status == RS_JOB_DONE;
        a->n_diverged += rows[i].status == RS_JOB_DIVERGED;
        a->n_failed += rows[i].status == RS_JOB_FAILED;
        a->n_missing += rows[i].status == RS_JOB_MISSING;
    }
    a->n_configs = (uint32_t)rs_spec_n_configs(s);
    size_t ns = s->n_seeds;
    a->configs = calloc(a->n_configs, sizeof *a->configs);
    a->order = calloc(a->n_configs, sizeof *a->order);
    a->comparisons = calloc((size_t)a->n_configs *
                                (sizeof COMPARED / sizeof *COMPARED) + 1,
                            sizeof *a->comparisons);
    double *scratch = malloc((4 * ns + 1) * sizeof *scratch);
    rs_status st = RS_OK;
    if (!a->configs || !a->order || !a->comparisons || !scratch) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    summarise_configs(s, rows, a, scratch, scratch + ns);
    rank_configs(a);
    a->baseline = find_baseline(s, a, o->baseline, err);
    if (a->baseline == -2) {
        st = RS_EINPUT;
        goto out;
    }
    if (a->baseline >= 0)
        a->configs[a->baseline].is_baseline = 1;
    if ((st = compare_all(s, rows, a, scratch, err)))
        goto out;
    if (read_curves)
        st = curves_pass(s, rows, a, !o->no_trajectory, read_curves, ctx, err);
out:
    free(scratch);
    if (st)
        rs_analysis_free(a);
    return st;
}

void rs_analysis_free(rs_analysis_result_t *a)
{
    if (!a)
        return;
    free(a->configs);
    free(a->order);
    free(a->comparisons);
    free(a->trajectory);
    free(a->mc);
    memset(a, 0, sizeof *a);
    a->baseline = -1;
}
