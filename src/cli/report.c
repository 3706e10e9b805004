/* SPDX-License-Identifier: MIT */
/* report.c — `regsweep report`: generalisation gaps per config and paired
 * comparisons against a baseline, printed and stored under /analysis.
 *
 * A config is a grid point without its seed.  Jobs that are missing or
 * failed are counted and shown, never averaged in: every statistic says how
 * many seeds it rests on.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "regsweep/spec.h"
#include "regsweep/stats.h"
#include "regsweep/store.h"
#include "regsweep/sweep.h"

enum { M_TRAIN_LOSS, M_TEST_LOSS, M_GAP, M_TRAIN_ACC, M_TEST_ACC, M_GAP_ACC,
       N_METRICS };
static const char *const METRIC[N_METRICS] = {
    "train_loss", "test_loss", "gap", "train_acc", "test_acc", "gap_acc"};
/* metrics compared with the baseline (the rest are only summarised) */
static const int COMPARED[] = {M_GAP, M_TEST_LOSS, M_GAP_ACC, M_TEST_ACC};

static double metric_of(const rs_job_summary_t *r, int m, int at_best)
{
    switch (m) {
    case M_TRAIN_LOSS: return at_best ? r->best_train_loss : r->train_loss;
    case M_TEST_LOSS: return at_best ? r->best_test_loss : r->test_loss;
    case M_GAP: return at_best ? r->best_gap : r->gap;
    case M_TRAIN_ACC: return at_best ? r->best_train_acc : r->train_acc;
    case M_TEST_ACC: return at_best ? r->best_test_acc : r->test_acc;
    default: return at_best ? r->best_gap_acc : r->gap_acc;
    }
}

typedef struct config {
    uint32_t i_keep, i_l2, i_l1;
    char label[160];
    uint32_t n_done, n_missing, n_failed, n_nonfinite;
    rs_summary_t sum[N_METRICS];
    int is_baseline;
} config;

typedef struct comparison {
    uint32_t config;
    int metric;
    int paired;           /* 1: paired by seed; 0: Welch (seeds differ) */
    rs_paired_t pr;       /* paired                                        */
    rs_ttest_t welch;     /* unpaired                                      */
    double p_t, p_t_holm, p_w, p_w_holm;
} comparison;

typedef struct report {
    rs_spec_t spec;
    const char *out;
    rs_job_summary_t *rows;
    config *cfg;
    uint32_t n_cfg;
    int baseline;         /* index into cfg, or -1                         */
    comparison *cmp;
    uint32_t n_cmp;
    int at_best, classifier, hidden;
    double level;
    uint64_t n_done, n_missing, n_failed;
} report;

static void keep_label(const rs_spec_t *s, const double *keep, char *buf,
                       size_t n)
{
    int h = rs_spec_n_hidden(s);
    int same = 1;
    for (int l = 1; l < h; l++)
        same &= keep[l] == keep[0];
    buf[0] = '\0';
    for (int l = 0; l < (same ? (h > 0) : h); l++) {
        char one[32];
        snprintf(one, sizeof one, "%s%g", l ? "," : "", keep[l]);
        strncat(buf, one, n - strlen(buf) - 1);
    }
}

static void build_configs(report *r)
{
    const rs_spec_t *s = &r->spec;
    r->n_cfg = s->n_keep * s->n_l2 * s->n_l1;
    int width = r->hidden > 0 ? r->hidden : 1;
    for (uint32_t c = 0; c < r->n_cfg; c++) {
        config *g = &r->cfg[c];
        g->i_l1 = c % s->n_l1;
        g->i_l2 = (c / s->n_l1) % s->n_l2;
        g->i_keep = c / (s->n_l1 * s->n_l2);
        char keep[128];
        keep_label(s, s->keep + (size_t)g->i_keep * width, keep, sizeof keep);
        snprintf(g->label, sizeof g->label, "keep=%s l2=%g l1=%g",
                 r->hidden ? keep : "-", s->l2[g->i_l2], s->l1[g->i_l1]);
    }
}

/* The values of metric m for config c, by seed index; NaN where the job is
 * not done.  Returns the number of finite values. */
static uint32_t values_by_seed(const report *r, uint32_t c, int m, double *v)
{
    const rs_spec_t *s = &r->spec;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_seeds; i++) {
        uint64_t job = (uint64_t)c * s->n_seeds + i;
        const rs_job_summary_t *row = &r->rows[job];
        v[i] = row->status == RS_JOB_DONE ? metric_of(row, m, r->at_best) : NAN;
        if (!isfinite(v[i]))
            v[i] = NAN;
        else
            n++;
    }
    return n;
}

static void summarise_configs(report *r, double *buf, double *vals)
{
    const rs_spec_t *s = &r->spec;
    for (uint32_t c = 0; c < r->n_cfg; c++) {
        config *g = &r->cfg[c];
        for (uint32_t i = 0; i < s->n_seeds; i++) {
            rs_job_status st = r->rows[(uint64_t)c * s->n_seeds + i].status;
            g->n_done += st == RS_JOB_DONE;
            g->n_missing += st == RS_JOB_MISSING;
            g->n_failed += st == RS_JOB_FAILED;
        }
        for (int m = 0; m < N_METRICS; m++) {
            memset(&g->sum[m], 0, sizeof g->sum[m]);
            g->sum[m].mean = g->sum[m].sd = g->sum[m].ci_lo = g->sum[m].ci_hi = NAN;
            uint32_t n = values_by_seed(r, c, m, vals);
            if (m == M_GAP)
                g->n_nonfinite = g->n_done - n;
            uint32_t k = 0;
            for (uint32_t i = 0; i < s->n_seeds; i++)
                if (!isnan(vals[i]))
                    buf[k++] = vals[i];
            if (n >= 1)
                rs_summarize(buf, n, r->level, &g->sum[m], NULL);
        }
    }
}

static int find_baseline(report *r, const char *override, rs_error_t *err)
{
    const rs_spec_t *s = &r->spec;
    double keep[RS_MAX_LAYERS], l2 = s->baseline_l2, l1 = s->baseline_l1;
    for (int l = 0; l < RS_MAX_LAYERS; l++)
        keep[l] = s->baseline_keep[l];
    if (override) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", override);
        char *save = NULL;
        for (char *kv = strtok_r(buf, ",", &save); kv;
             kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            char *end = NULL;
            double v = eq ? strtod(eq + 1, &end) : NAN;
            if (!eq || !end || *end || !isfinite(v)) {
                rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                             "--baseline: expected key=value pairs such as "
                             "keep_prob=1,l2=0,l1=0; got '%s'", kv);
                return -2;
            }
            *eq = '\0';
            if (!strcmp(kv, "keep_prob"))
                for (int l = 0; l < RS_MAX_LAYERS; l++)
                    keep[l] = v;
            else if (!strncmp(kv, "keep_prob_", 10) && atoi(kv + 10) >= 1 &&
                     atoi(kv + 10) <= r->hidden)
                keep[atoi(kv + 10) - 1] = v;
            else if (!strcmp(kv, "l2"))
                l2 = v;
            else if (!strcmp(kv, "l1"))
                l1 = v;
            else {
                rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                             "--baseline: unknown key '%s' (keep_prob, "
                             "keep_prob_N, l2, l1)", kv);
                return -2;
            }
        }
    }
    int width = r->hidden > 0 ? r->hidden : 1;
    for (uint32_t c = 0; c < r->n_cfg; c++) {
        const config *g = &r->cfg[c];
        int same = (float)s->l2[g->i_l2] == (float)l2 &&
                   (float)s->l1[g->i_l1] == (float)l1;
        for (int l = 0; l < r->hidden; l++)
            same &= (float)s->keep[(size_t)g->i_keep * width + l] == (float)keep[l];
        if (same)
            return (int)c;
    }
    if (override || s->has_baseline) {
        rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                     "the baseline (keep_prob=%g, l2=%g, l1=%g) is not a "
                     "config of this grid", keep[0], l2, l1);
        return -2;
    }
    return -1;
}

static int metric_applies(const report *r, int m)
{
    return r->classifier || (m != M_TRAIN_ACC && m != M_TEST_ACC && m != M_GAP_ACC);
}

static rs_status compare_all(report *r, double *a, double *b, double *pa,
                             double *pb, rs_error_t *err)
{
    const rs_spec_t *s = &r->spec;
    if (r->baseline < 0)
        return RS_OK;
    for (uint32_t c = 0; c < r->n_cfg; c++) {
        if ((int)c == r->baseline)
            continue;
        for (size_t k = 0; k < sizeof COMPARED / sizeof *COMPARED; k++) {
            int m = COMPARED[k];
            if (!metric_applies(r, m))
                continue;
            comparison *x = &r->cmp[r->n_cmp];
            memset(x, 0, sizeof *x);
            x->config = c;
            x->metric = m;
            x->p_t = x->p_w = x->p_t_holm = x->p_w_holm = NAN;
            values_by_seed(r, c, m, a);
            values_by_seed(r, (uint32_t)r->baseline, m, b);
            size_t n = 0, na = 0, nb = 0;
            for (uint32_t i = 0; i < s->n_seeds; i++) {
                if (!isnan(a[i]) && !isnan(b[i])) {
                    pa[n] = a[i];
                    pb[n] = b[i];
                    n++;
                }
                na += !isnan(a[i]);
                nb += !isnan(b[i]);
            }
            if (n >= 2) {
                x->paired = 1;
                rs_bootstrap_spec_t boot = {s->boot_seed, r->n_cmp, s->n_boot};
                rs_status st = rs_paired_compare(pa, pb, n, r->level, &boot,
                                                 &x->pr, err);
                if (st)
                    return st;
                x->p_t = x->pr.ttest.p;
                x->p_w = x->pr.wilcoxon.p;
            } else if (na >= 2 && nb >= 2) {
                /* seeds do not pair (jobs missing on either side) */
                size_t ia = 0, ib = 0;
                for (uint32_t i = 0; i < s->n_seeds; i++) {
                    if (!isnan(a[i]))
                        pa[ia++] = a[i];
                    if (!isnan(b[i]))
                        pb[ib++] = b[i];
                }
                rs_status st = rs_ttest_welch(pa, ia, pb, ib, r->level,
                                              &x->welch, err);
                if (st)
                    return st;
                x->p_t = x->welch.p;
                x->pr.n = 0;
                x->pr.mean_diff = x->welch.estimate;
            } else {
                x->pr.mean_diff = NAN;
            }
            r->n_cmp++;
        }
    }
    /* Holm over every comparison reported (all configs and metrics), once
     * for the t-tests and once for the Wilcoxon tests */
    double *p = malloc((r->n_cmp + 1) * sizeof *p);
    if (!p)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (int which = 0; which < 2; which++) {
        for (uint32_t i = 0; i < r->n_cmp; i++)
            p[i] = which ? r->cmp[i].p_w : r->cmp[i].p_t;
        rs_status st = rs_holm_adjust(p, r->n_cmp, p, err);
        if (st) {
            free(p);
            return st;
        }
        for (uint32_t i = 0; i < r->n_cmp; i++)
            *(which ? &r->cmp[i].p_w_holm : &r->cmp[i].p_t_holm) = p[i];
    }
    free(p);
    return RS_OK;
}

/* ---- output ----------------------------------------------------------- */

typedef enum { F_TEXT, F_MD, F_CSV, F_JSON } fmt_t;

static void print_num(fmt_t f, double v, const char *spec)
{
    if (isnan(v))
        fputs(f == F_JSON ? "null" : (f == F_CSV ? "" : "nan"), stdout);
    else
        printf(spec, v);
}

static int *ranked_configs(const report *r)
{
    int *order = malloc(r->n_cfg * sizeof *order);
    if (!order)
        return NULL;
    int key = r->classifier ? M_GAP_ACC : M_GAP;
    for (uint32_t i = 0; i < r->n_cfg; i++)
        order[i] = (int)i;
    /* insertion sort by mean gap, NaN last (configs are few) */
    for (uint32_t i = 1; i < r->n_cfg; i++)
        for (uint32_t j = i; j > 0; j--) {
            double x = r->cfg[order[j - 1]].sum[key].mean;
            double y = r->cfg[order[j]].sum[key].mean;
            if (!(isnan(x) && !isnan(y)) && !(x > y))
                break;
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    return order;
}

static void print_configs_text(const report *r, const int *order, fmt_t f)
{
    int ms[N_METRICS], nm = 0;
    for (int m = 0; m < N_METRICS; m++)
        if (metric_applies(r, m))
            ms[nm++] = m;
    int pct = (int)(100 * r->level + 0.5);
    if (f == F_MD) {
        printf("| rank | config | n |");
        for (int k = 0; k < nm; k++)
            printf(" %s mean [%d%% CI] |", METRIC[ms[k]], pct);
        printf("\n|---:|---|---:|");
        for (int k = 0; k < nm; k++)
            printf("---|");
        printf("\n");
    } else {
        printf("%4s  %-32s %5s", "rank", "config", "n");
        for (int k = 0; k < nm; k++)
            printf("  %-30s", METRIC[ms[k]]);
        printf("\n");
    }
    for (uint32_t i = 0; i < r->n_cfg; i++) {
        const config *g = &r->cfg[order[i]];
        char n[32];
        snprintf(n, sizeof n, "%u%s", g->n_done - g->n_nonfinite,
                 g->n_missing + g->n_failed + g->n_nonfinite ? "*" : "");
        char label[200];
        snprintf(label, sizeof label, "%s%s", g->label,
                 g->is_baseline ? " (baseline)" : "");
        if (f == F_MD)
            printf("| %u | %s | %s |", i + 1, label, n);
        else
            printf("%4u  %-32s %5s", i + 1, label, n);
        for (int k = 0; k < nm; k++) {
            const rs_summary_t *sm = &g->sum[ms[k]];
            char cell[64];
            if (isnan(sm->mean))
                snprintf(cell, sizeof cell, "-");
            else if (isnan(sm->ci_lo))
                snprintf(cell, sizeof cell, "%.4g", sm->mean);
            else
                snprintf(cell, sizeof cell, "%.4g [%.4g, %.4g]", sm->mean,
                         sm->ci_lo, sm->ci_hi);
            if (f == F_MD)
                printf(" %s |", cell);
            else
                printf("  %-30s", cell);
        }
        printf("\n");
    }
}

static void print_comparisons_text(const report *r, fmt_t f)
{
    if (r->baseline < 0) {
        printf("\nNo baseline config (keep_prob 1, l2 0, l1 0) in this grid: "
               "no comparisons. Name one with --baseline keep_prob=...,l2=...,"
               "l1=... or report.baseline in the spec.\n");
        return;
    }
    int pct = (int)(100 * r->level + 0.5);
    printf("\nAgainst the baseline %s, paired by seed (d = config - "
           "baseline; common random numbers):\n",
           r->cfg[r->baseline].label);
    if (f == F_MD)
        printf("| config | metric | n | mean d | %d%% CI (t) | bootstrap CI "
               "| p (t) | p Holm | p (Wilcoxon) | p Holm | d_z | P(d>0) |\n"
               "|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|\n",
               pct);
    else
        printf("%-32s %-10s %3s %11s %25s %25s %9s %9s %9s %9s %7s %6s\n",
               "config", "metric", "n", "mean d", "CI (t)", "CI (bootstrap)",
               "p (t)", "p Holm", "p (W)", "p Holm", "d_z", "P(d>0)");
    for (uint32_t i = 0; i < r->n_cmp; i++) {
        const comparison *x = &r->cmp[i];
        const rs_paired_t *p = &x->pr;
        char ci[64] = "-", boot[64] = "-", n[16];
        double lo = x->paired ? p->ttest.ci_lo : x->welch.ci_lo;
        double hi = x->paired ? p->ttest.ci_hi : x->welch.ci_hi;
        if (!isnan(lo))
            snprintf(ci, sizeof ci, "[%.4g, %.4g]", lo, hi);
        if (x->paired && !isnan(p->boot_lo))
            snprintf(boot, sizeof boot, "[%.4g, %.4g]", p->boot_lo, p->boot_hi);
        snprintf(n, sizeof n, "%zu%s", x->paired ? p->n : (size_t)0,
                 x->paired ? "" : "W");
        const char *fmt = f == F_MD
            ? "| %s | %s | %s | %.4g | %s | %s | %.3g | %.3g | %.3g | %.3g | %.3g | %.2f |\n"
            : "%-32s %-10s %3s %11.4g %25s %25s %9.3g %9.3g %9.3g %9.3g %7.3g %6.2f\n";
        printf(fmt, r->cfg[x->config].label, METRIC[x->metric], n,
               p->mean_diff, ci, boot, x->p_t, x->p_t_holm, x->p_w,
               x->p_w_holm, x->paired ? p->cohen_dz : NAN,
               x->paired ? p->prob_superiority : NAN);
    }
    printf("\nn: pairs of seeds (W: seeds did not pair, Welch's test). Holm "
           "adjusts over all %u comparisons above.\n", r->n_cmp);
}

static void print_header(const report *r)
{
    const rs_spec_t *s = &r->spec;
    printf("%s: %llu jobs (%llu done, %llu missing, %llu failed), %u configs "
           "x %u seeds; at the %s\n", s->name, (unsigned long long)s->n_jobs,
           (unsigned long long)r->n_done, (unsigned long long)r->n_missing,
           (unsigned long long)r->n_failed, r->n_cfg, s->n_seeds,
           r->at_best ? "epoch of smallest test loss (per job)"
                      : "final epoch");
    printf("gap = test_loss - train_loss%s (clean losses, no dropout); mean "
           "[%d%% t-interval] over seeds; ranked by mean %s\n\n",
           r->classifier ? ", gap_acc = train_acc - test_acc" : "",
           (int)(100 * r->level + 0.5), r->classifier ? "gap_acc" : "gap");
}

static void print_csv(const report *r)
{
    printf("table,config,metric,n,mean,sd,ci_lo,ci_hi,mean_diff,boot_lo,"
           "boot_hi,t,df,p_t,p_t_holm,v_plus,p_wilcoxon,p_wilcoxon_holm,"
           "cohen_dz,prob_superiority,test\n");
    for (uint32_t c = 0; c < r->n_cfg; c++)
        for (int m = 0; m < N_METRICS; m++) {
            if (!metric_applies(r, m))
                continue;
            const rs_summary_t *sm = &r->cfg[c].sum[m];
            printf("config,\"%s\",%s,%zu,", r->cfg[c].label, METRIC[m], sm->n);
            double v[4] = {sm->mean, sm->sd, sm->ci_lo, sm->ci_hi};
            for (int i = 0; i < 4; i++) {
                print_num(F_CSV, v[i], "%.17g");
                putchar(',');
            }
            printf(",,,,,,,,,,,,\n");
        }
    for (uint32_t i = 0; i < r->n_cmp; i++) {
        const comparison *x = &r->cmp[i];
        const rs_paired_t *p = &x->pr;
        printf("comparison,\"%s\",%s,%zu,,,", r->cfg[x->config].label,
               METRIC[x->metric], x->paired ? p->n : (size_t)0);
        double v[15] = {
            x->paired ? p->ttest.ci_lo : x->welch.ci_lo,
            x->paired ? p->ttest.ci_hi : x->welch.ci_hi, p->mean_diff,
            x->paired ? p->boot_lo : NAN, x->paired ? p->boot_hi : NAN,
            x->paired ? p->ttest.t : x->welch.t,
            x->paired ? p->ttest.df : x->welch.df, x->p_t, x->p_t_holm,
            x->paired ? p->wilcoxon.v_plus : NAN, x->p_w, x->p_w_holm,
            x->paired ? p->cohen_dz : NAN,
            x->paired ? p->prob_superiority : NAN, 0};
        for (int k = 0; k < 14; k++) {
            print_num(F_CSV, v[k], "%.17g");
            putchar(',');
        }
        printf("%s\n", x->paired ? "paired" : "welch");
    }
}

static void json_num(double v)
{
    print_num(F_JSON, v, "%.17g");
}

static void print_json(const report *r)
{
    printf("{\"name\": \"%s\", \"at\": \"%s\", \"level\": %g, "
           "\"n_jobs\": %llu, \"n_done\": %llu, \"n_missing\": %llu, "
           "\"n_failed\": %llu,\n \"baseline\": ",
           r->spec.name, r->at_best ? "best" : "final", r->level,
           (unsigned long long)r->spec.n_jobs, (unsigned long long)r->n_done,
           (unsigned long long)r->n_missing, (unsigned long long)r->n_failed);
    if (r->baseline >= 0)
        printf("\"%s\"", r->cfg[r->baseline].label);
    else
        printf("null");
    printf(",\n \"configs\": [\n");
    for (uint32_t c = 0; c < r->n_cfg; c++) {
        const config *g = &r->cfg[c];
        printf("  {\"config\": \"%s\", \"n_done\": %u, \"n_missing\": %u, "
               "\"n_failed\": %u", g->label, g->n_done, g->n_missing,
               g->n_failed);
        for (int m = 0; m < N_METRICS; m++) {
            if (!metric_applies(r, m))
                continue;
            const rs_summary_t *sm = &g->sum[m];
            printf(", \"%s\": {\"n\": %zu, \"mean\": ", METRIC[m], sm->n);
            json_num(sm->mean);
            printf(", \"sd\": ");
            json_num(sm->sd);
            printf(", \"ci\": [");
            json_num(sm->ci_lo);
            printf(", ");
            json_num(sm->ci_hi);
            printf("]}");
        }
        printf("}%s\n", c + 1 < r->n_cfg ? "," : "");
    }
    printf(" ],\n \"comparisons\": [\n");
    for (uint32_t i = 0; i < r->n_cmp; i++) {
        const comparison *x = &r->cmp[i];
        const rs_paired_t *p = &x->pr;
        printf("  {\"config\": \"%s\", \"metric\": \"%s\", \"test\": \"%s\", "
               "\"n\": %zu, \"mean_diff\": ", r->cfg[x->config].label,
               METRIC[x->metric], x->paired ? "paired" : "welch",
               x->paired ? p->n : (size_t)0);
        json_num(p->mean_diff);
        const char *names[] = {"ci_lo", "ci_hi", "boot_lo", "boot_hi", "t",
                               "p_t", "p_t_holm", "v_plus", "p_wilcoxon",
                               "p_wilcoxon_holm", "cohen_dz",
                               "prob_superiority"};
        double v[12] = {x->paired ? p->ttest.ci_lo : x->welch.ci_lo,
                        x->paired ? p->ttest.ci_hi : x->welch.ci_hi,
                        x->paired ? p->boot_lo : NAN,
                        x->paired ? p->boot_hi : NAN,
                        x->paired ? p->ttest.t : x->welch.t, x->p_t,
                        x->p_t_holm, x->paired ? p->wilcoxon.v_plus : NAN,
                        x->p_w, x->p_w_holm, x->paired ? p->cohen_dz : NAN,
                        x->paired ? p->prob_superiority : NAN};
        for (int k = 0; k < 12; k++) {
            printf(", \"%s\": ", names[k]);
            json_num(v[k]);
        }
        printf("}%s\n", i + 1 < r->n_cmp ? "," : "");
    }
    printf(" ]}\n");
}

/* ---- trajectory ---------------------------------------------------------- */

/* Mean gap per epoch for every config, over the finished seeds: printed at
 * about ten epochs and stored as /analysis/trajectory.  It reads every
 * job's curves, so it runs before /analysis is opened for writing (HDF5
 * does not open one file twice with different drivers). */
typedef struct traj {
    size_t n_rows;
    double *mean, *lo, *hi, *n, *epoch;
    const char **labels;
} traj_t;

static void traj_free(traj_t *t)
{
    free(t->mean);
    free(t->lo);
    free(t->hi);
    free(t->n);
    free(t->epoch);
    free(t->labels);
    memset(t, 0, sizeof *t);
}

static rs_status trajectory(const report *r, int print, traj_t *t,
                            rs_error_t *err)
{
    const rs_spec_t *s = &r->spec;
    uint32_t E1 = s->settings.epochs + 1;
    size_t n_rows = (size_t)r->n_cfg * E1;
    memset(t, 0, sizeof *t);
    t->n_rows = n_rows;
    t->mean = malloc(n_rows * sizeof *t->mean);
    t->lo = malloc(n_rows * sizeof *t->lo);
    t->hi = malloc(n_rows * sizeof *t->hi);
    t->n = malloc(n_rows * sizeof *t->n);
    t->epoch = malloc(n_rows * sizeof *t->epoch);
    t->labels = malloc(n_rows * sizeof *t->labels);
    double *gaps = malloc((size_t)s->n_seeds * E1 * sizeof *gaps);
    double *cbuf = malloc(7 * (size_t)E1 * sizeof *cbuf);
    double *col = malloc(s->n_seeds * sizeof *col);
    rs_status st = RS_OK;
    if (!t->mean || !t->lo || !t->hi || !t->n || !t->epoch || !t->labels ||
        !gaps || !cbuf || !col) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    rs_curves_t cv = {.n = E1};
    double **slots[7] = {&cv.train_loss, &cv.test_loss, &cv.val_loss,
                         &cv.train_acc, &cv.test_acc, &cv.val_acc,
                         &cv.train_loss_dropout};
    for (int i = 0; i < 7; i++)
        *slots[i] = cbuf + (size_t)i * E1;
    for (uint32_t c = 0; c < r->n_cfg; c++) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < s->n_seeds; i++) {
            uint64_t idx = (uint64_t)c * s->n_seeds + i;
            if (r->rows[idx].status != RS_JOB_DONE)
                continue;
            rs_job_t job;
            rs_spec_job(s, idx, &job);
            if ((st = rs_store_read_curves_live(r->out, s, &job, &cv, err)))
                goto out;
            for (uint32_t e = 0; e < E1; e++)
                gaps[(size_t)n * E1 + e] = cv.test_loss[e] - cv.train_loss[e];
            n++;
        }
        for (uint32_t e = 0; e < E1; e++) {
            size_t row = (size_t)c * E1 + e;
            uint32_t k = 0;
            for (uint32_t i = 0; i < n; i++)
                if (isfinite(gaps[(size_t)i * E1 + e]))
                    col[k++] = gaps[(size_t)i * E1 + e];
            rs_summary_t sm = {.mean = NAN, .ci_lo = NAN, .ci_hi = NAN};
            if (k)
                rs_summarize(col, k, r->level, &sm, NULL);
            t->mean[row] = sm.mean;
            t->lo[row] = sm.ci_lo;
            t->hi[row] = sm.ci_hi;
            t->n[row] = k;
            t->epoch[row] = e;
            t->labels[row] = r->cfg[c].label;
        }
    }
    if (print) {
        printf("\nMean gap (test - train loss) by epoch:\n%-32s", "config");
        uint32_t step = E1 > 11 ? (E1 - 1) / 10 : 1;
        for (uint32_t e = 0; e < E1; e += step)
            printf(" %9u", e);
        printf("\n");
        for (uint32_t c = 0; c < r->n_cfg; c++) {
            printf("%-32s", r->cfg[c].label);
            for (uint32_t e = 0; e < E1; e += step)
                printf(" %9.4f", t->mean[(size_t)c * E1 + e]);
            printf("\n");
        }
    }
out:
    free(gaps);
    free(cbuf);
    free(col);
    return st;
}

static rs_status store_trajectory(rs_analysis_t *an, const traj_t *t,
                                  rs_error_t *err)
{
    rs_table_col_t cols[] = {{"config", 1, NULL, t->labels},
                             {"epoch", 0, t->epoch, NULL},
                             {"n", 0, t->n, NULL},
                             {"gap_mean", 0, t->mean, NULL},
                             {"gap_ci_lo", 0, t->lo, NULL},
                             {"gap_ci_hi", 0, t->hi, NULL}};
    return rs_store_analysis_table(an, "trajectory", cols, 6, t->n_rows,
                                   "mean clean gap (test - train loss) per "
                                   "config and epoch over the finished "
                                   "seeds, with its t-interval", err);
}

/* ---- /analysis tables ------------------------------------------------------ */

static rs_status store_tables(const report *r, rs_analysis_t *an,
                              rs_error_t *err)
{
    uint32_t nc = r->n_cfg;
    int n_num = 3 + 4 * N_METRICS + 2 + 16;
    double *num = calloc((size_t)n_num * nc + 1, sizeof *num);
    const char **lab = malloc((nc + 1) * sizeof *lab);
    rs_table_col_t cols[80];
    char names[80][40];
    int k = 0;
    rs_status st = RS_OK;
    if (!num || !lab) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < nc; c++)
        lab[c] = r->cfg[c].label;
    cols[k++] = (rs_table_col_t){"config", 1, NULL, lab};
    int slot = 0;
#define COL(NAME, EXPR)                                            \
    do {                                                           \
        double *v = num + (size_t)slot++ * nc;                     \
        for (uint32_t c = 0; c < nc; c++)                          \
            v[c] = (EXPR);                                         \
        snprintf(names[k], sizeof names[k], "%s", NAME);           \
        cols[k] = (rs_table_col_t){names[k], 0, v, NULL};          \
        k++;                                                       \
    } while (0)
    COL("n_done", r->cfg[c].n_done);
    COL("n_missing", r->cfg[c].n_missing);
    COL("n_failed", r->cfg[c].n_failed);
    for (int m = 0; m < N_METRICS; m++) {
        if (!metric_applies(r, m))
            continue;
        char nm[40];
        snprintf(nm, sizeof nm, "%s_mean", METRIC[m]);
        COL(nm, r->cfg[c].sum[m].mean);
        snprintf(nm, sizeof nm, "%s_sd", METRIC[m]);
        COL(nm, r->cfg[c].sum[m].sd);
        snprintf(nm, sizeof nm, "%s_ci_lo", METRIC[m]);
        COL(nm, r->cfg[c].sum[m].ci_lo);
        snprintf(nm, sizeof nm, "%s_ci_hi", METRIC[m]);
        COL(nm, r->cfg[c].sum[m].ci_hi);
    }
    for (int l = 0; l < r->hidden && l < 16; l++) {
        char nm[40];
        snprintf(nm, sizeof nm, "keep_prob_%d", l + 1);
        COL(nm, r->spec.keep[(size_t)r->cfg[c].i_keep * r->hidden + l]);
    }
    COL("l2", r->spec.l2[r->cfg[c].i_l2]);
    COL("l1", r->spec.l1[r->cfg[c].i_l1]);
#undef COL
    st = rs_store_analysis_table(an, "configs", cols, k, nc,
                                 r->at_best ? "per config over seeds, at each "
                                              "job's epoch of smallest test loss"
                                            : "per config over seeds, at the "
                                              "final epoch", err);
    if (st || r->baseline < 0)
        goto out;
    {
        uint32_t n = r->n_cmp;
        double *v = calloc((size_t)16 * n + 1, sizeof *v);
        const char **cl = malloc((n + 1) * sizeof *cl), **ml = malloc((n + 1) * sizeof *ml),
                   **tl = malloc((n + 1) * sizeof *tl);
        if (!v || !cl || !ml || !tl) {
            free(v); free(cl); free(ml); free(tl);
            st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
            goto out;
        }
        static const char *const cn[16] = {
            "n", "mean_diff", "ci_lo", "ci_hi", "boot_lo", "boot_hi", "t",
            "df", "p_t", "p_t_holm", "v_plus", "p_wilcoxon", "p_wilcoxon_holm",
            "cohen_dz", "prob_superiority", "sd_diff"};
        for (uint32_t i = 0; i < n; i++) {
            const comparison *x = &r->cmp[i];
            const rs_paired_t *p = &x->pr;
            cl[i] = r->cfg[x->config].label;
            ml[i] = METRIC[x->metric];
            tl[i] = x->paired ? "paired" : "welch";
            double row[16] = {
                (double)(x->paired ? p->n : 0), p->mean_diff,
                x->paired ? p->ttest.ci_lo : x->welch.ci_lo,
                x->paired ? p->ttest.ci_hi : x->welch.ci_hi,
                x->paired ? p->boot_lo : NAN, x->paired ? p->boot_hi : NAN,
                x->paired ? p->ttest.t : x->welch.t,
                x->paired ? p->ttest.df : x->welch.df, x->p_t, x->p_t_holm,
                x->paired ? p->wilcoxon.v_plus : NAN, x->p_w, x->p_w_holm,
                x->paired ? p->cohen_dz : NAN,
                x->paired ? p->prob_superiority : NAN,
                x->paired ? p->sd_diff : NAN};
            for (int j = 0; j < 16; j++)
                v[(size_t)j * n + i] = row[j];
        }
        rs_table_col_t cc[19];
        cc[0] = (rs_table_col_t){"config", 1, NULL, cl};
        cc[1] = (rs_table_col_t){"metric", 1, NULL, ml};
        cc[2] = (rs_table_col_t){"test", 1, NULL, tl};
        for (int j = 0; j < 16; j++)
            cc[3 + j] = (rs_table_col_t){cn[j], 0, v + (size_t)j * n, NULL};
        char desc[400];
        snprintf(desc, sizeof desc,
                 "each config against the baseline '%s', d = config - "
                 "baseline paired by seed; Holm over all rows; bootstrap "
                 "seed %llu, %u replicates, stream = row",
                 r->cfg[r->baseline].label,
                 (unsigned long long)r->spec.boot_seed, r->spec.n_boot);
        st = rs_store_analysis_table(an, "comparisons", cc, 19, n, desc, err);
        free(v); free(cl); free(ml); free(tl);
    }
out:
    free(num);
    free(lab);
    return st;
}

int rs_cli_report(int argc, char **argv)
{
    const char *out = NULL, *baseline = NULL;
    fmt_t f = F_TEXT;
    int at_best = 0, no_store = 0, traj = 0;
    const char *v;
    int rc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (rs_cli_is_help(a)) {
            fputs(rs_cli_usage_report, stdout);
            return 0;
        }
        if ((rc = rs_cli_value(argc, argv, &i, "--baseline", NULL, &v))) {
            if (rc < 0)
                return 2;
            baseline = v;
        } else if ((rc = rs_cli_value(argc, argv, &i, "--at", NULL, &v))) {
            if (rc < 0 || (strcmp(v, "final") && strcmp(v, "best")))
                return rs_cli_usage_error("%s needs final or best", "--at");
            at_best = !strcmp(v, "best");
        } else if ((rc = rs_cli_value(argc, argv, &i, "--format", NULL, &v))) {
            if (rc < 0)
                return 2;
            if (!strcmp(v, "text")) f = F_TEXT;
            else if (!strcmp(v, "md")) f = F_MD;
            else if (!strcmp(v, "csv")) f = F_CSV;
            else if (!strcmp(v, "json")) f = F_JSON;
            else return rs_cli_usage_error("--format: unknown format '%s' (text, md, csv or json)", v);
        } else if ((rc = rs_cli_flag(a, "--no-store", &no_store)) ||
                   (rc = rs_cli_flag(a, "--trajectory", &traj))) {
            if (rc < 0)
                return 2;
        } else if (a[0] == '-' && a[1]) {
            return rs_cli_usage_error("report: unknown option '%s'", a);
        } else if (!out) {
            out = a;
        } else {
            return rs_cli_usage_error("report: unexpected argument '%s'", a);
        }
    }
    int store = !no_store;
    if (!out)
        return rs_cli_usage_error("%s", "report: which results file?");
    /* storing writes OUT.h5: take the sweep's lock first and hold it to
     * the end, so no run or rebuild replaces the file meanwhile */
    rs_error_t err;
    rs_error_clear(&err);
    int lock_fd = -1;
    if (store && rs_sweep_lock(out, &lock_fd, &err)) {
        int code = rs_cli_fail(&err);
        fprintf(stderr, "regsweep: report stores its tables in %s; with "
                        "--no-store it reads the finished jobs without "
                        "writing\n", out);
        return code;
    }
    report r;
    memset(&r, 0, sizeof r);
    r.out = out;
    r.at_best = at_best;
    r.level = 0.95;
    if (rs_store_read_spec(out, &r.spec, &err)) {
        rs_sweep_unlock(&lock_fd);
        return rs_cli_fail(&err);
    }
    const rs_spec_t *s = &r.spec;
    r.hidden = rs_spec_n_hidden(s);
    r.classifier = s->settings.arch.loss == RS_LOSS_SOFTMAX_CE;
    uint32_t n_cfg = s->n_keep * s->n_l2 * s->n_l1;
    size_t ns = s->n_seeds;
    r.rows = calloc(s->n_jobs, sizeof *r.rows);
    r.cfg = calloc(n_cfg, sizeof *r.cfg);
    r.cmp = calloc((size_t)n_cfg * 4 + 1, sizeof *r.cmp);
    double *bufs = malloc(5 * ns * sizeof *bufs);
    int code = 0;
    if (!r.rows || !r.cfg || !r.cmp || !bufs) {
        fprintf(stderr, "regsweep: out of memory\n");
        code = 1;
        goto out;
    }
    for (uint64_t i = 0; i < s->n_jobs; i++) {
        rs_job_t job;
        rs_spec_job(s, i, &job);
        if (rs_store_read_summary_live(out, s, &job, &r.rows[i], &err)) {
            code = rs_cli_fail(&err);
            goto out;
        }
        r.n_done += r.rows[i].status == RS_JOB_DONE;
        r.n_missing += r.rows[i].status == RS_JOB_MISSING;
    }
    build_configs(&r);
    summarise_configs(&r, bufs, bufs + ns);
    r.baseline = find_baseline(&r, baseline, &err);
    if (r.baseline == -2) {
        code = rs_cli_fail(&err);
        goto out;
    }
    if (r.baseline >= 0)
        r.cfg[r.baseline].is_baseline = 1;
    if (compare_all(&r, bufs, bufs + ns, bufs + 2 * ns, bufs + 3 * ns, &err)) {
        code = rs_cli_fail(&err);
        goto out;
    }
    int *order = ranked_configs(&r);
    if (!order) {
        code = 1;
        goto out;
    }
    if (f == F_CSV) {
        print_csv(&r);
    } else if (f == F_JSON) {
        print_json(&r);
    } else {
        print_header(&r);
        print_configs_text(&r, order, f);
        print_comparisons_text(&r, f);
        if (r.n_missing || r.n_failed)
            printf("\n* %llu jobs have no result (not run yet, failed or "
                   "stopped) and are not in these statistics: n counts the "
                   "seeds used. run --resume completes the sweep.\n",
                   (unsigned long long)r.n_missing);
    }
    free(order);
    traj_t tr;
    memset(&tr, 0, sizeof tr);
    if ((traj || store) &&
        trajectory(&r, traj && (f == F_TEXT || f == F_MD), &tr, &err)) {
        traj_free(&tr);
        code = rs_cli_fail(&err);
        goto out;
    }
    rs_analysis_t *an = NULL;
    if (store && (rs_store_analysis_begin(out, &an, &err) ||
                  store_tables(&r, an, &err) ||
                  store_trajectory(an, &tr, &err) ||
                  rs_store_analysis_commit(&an, &err))) {
        rs_store_analysis_abort(&an);
        traj_free(&tr);
        code = rs_cli_fail(&err);
        goto out;
    }
    traj_free(&tr);
out:
    free(bufs);
    free(r.rows);
    free(r.cfg);
    free(r.cmp);
    rs_spec_free(&r.spec);
    rs_sweep_unlock(&lock_fd);
    return code;
}
