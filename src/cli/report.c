/* SPDX-License-Identifier: MIT */
/* report.c — `regsweep report`: parses its arguments, runs the analysis
 * (src/analysis.c) and prints or stores its tables.
 *
 * Every table is built once as columns (name, kind, text header) and every
 * format is written from those columns: text, md, csv, json and the
 * /analysis groups of OUT.h5 cannot drift apart.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "regsweep/analysis.h"
#include "regsweep/spec.h"
#include "regsweep/stats.h"
#include "regsweep/store.h"
#include "regsweep/sweep.h"

typedef enum { F_TEXT, F_MD, F_CSV, F_JSON } fmt_t;

/* ---- column tables ----------------------------------------------------------- */

typedef enum { K_TEXT, K_INT, K_NUM, K_P } kind_t;

#define MAX_COLS (64 + RS_SPEC_MAX_AXES)

typedef struct col {
    char name[48];          /* csv / json / HDF5 name                       */
    kind_t kind;
    const char *header;     /* text and md header; NULL: not shown there    */
    int ci;                 /* text: an estimate whose lo and hi are the
                               next two columns, shown as "m [lo, hi]"      */
    unsigned view;          /* text: which printed table shows it (bits)    */
    double *num;            /* K_INT, K_NUM, K_P: n_rows values             */
    const char **text;      /* K_TEXT: n_rows strings                       */
} col_t;

typedef struct table {
    const char *name, *description;
    size_t n_rows;
    int n_cols;
    col_t cols[MAX_COLS];
} table_t;

static void table_free(table_t *t)
{
    for (int c = 0; c < t->n_cols; c++) {
        free(t->cols[c].num);
        free(t->cols[c].text);
    }
    t->n_cols = 0;
}

/* Adds a column; its values are filled by the caller (NULL on no memory). */
static col_t *add_col(table_t *t, const char *name, kind_t kind,
                      const char *header, unsigned view)
{
    if (t->n_cols >= MAX_COLS)
        return NULL;
    col_t *c = &t->cols[t->n_cols];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->kind = kind;
    c->header = header;
    c->view = view;
    if (kind == K_TEXT)
        c->text = calloc(t->n_rows + 1, sizeof *c->text);
    else
        c->num = calloc(t->n_rows + 1, sizeof *c->num);
    if (!c->text && !c->num)
        return NULL;
    t->n_cols++;
    return c;
}

/* ---- cell formatting ------------------------------------------------------------ */

/* Decimals that show the CI's half-width to two significant digits; the
 * estimate and the bounds share them. */
static int ci_decimals(double lo, double hi)
{
    double half = (hi - lo) / 2;
    if (!(half > 0) || !isfinite(half))
        return 4;
    int d = 1 - (int)floor(log10(half));
    return d < 0 ? 0 : d > 8 ? 8 : d;
}

static void fmt_value(char *buf, size_t n, double v, int decimals)
{
    if (isnan(v))
        snprintf(buf, n, "n/a");
    else if (fabs(v) >= 1e6 || (v != 0 && decimals >= 8 && fabs(v) < 1e-6))
        snprintf(buf, n, "%.2g", v);   /* too large or too small for fixed */
    else
        snprintf(buf, n, "%.*f", decimals, v);
}

static void fmt_cell(const col_t *c, size_t r, char *buf, size_t n)
{
    if (c->kind == K_TEXT) {
        snprintf(buf, n, "%s", c->text[r] ? c->text[r] : "");
        return;
    }
    double v = c->num[r];
    if (c->ci) {
        double lo = c[1].num[r], hi = c[2].num[r];
        int d = ci_decimals(lo, hi);
        char m[40], a[40], b[40];
        fmt_value(m, sizeof m, v, d);
        if (isnan(lo) || isnan(hi)) {
            snprintf(buf, n, "%s", m);
            return;
        }
        fmt_value(a, sizeof a, lo, d);
        fmt_value(b, sizeof b, hi, d);
        snprintf(buf, n, "%s [%s, %s]", m, a, b);
    } else if (isnan(v)) {
        snprintf(buf, n, "n/a");
    } else if (c->kind == K_INT) {
        snprintf(buf, n, "%.0f", v);
    } else if (c->kind == K_P) {
        if (v < 0.001)
            snprintf(buf, n, "<0.001");
        else
            snprintf(buf, n, "%.3f", v);
    } else {
        snprintf(buf, n, "%.4g", v);
    }
}

/* ---- text and markdown ----------------------------------------------------------- */

/* Prints the columns of view; only the rows with show[r] (NULL: all). */
static void print_text_table(const table_t *t, unsigned view, fmt_t f,
                             const uint8_t *show)
{
    int idx[MAX_COLS], n = 0;
    char cell[256];
    for (int c = 0; c < t->n_cols; c++) {
        if (!t->cols[c].header || !(t->cols[c].view & view))
            continue;
        /* a text column with nothing in it (no markers) is left out */
        int empty = t->cols[c].kind == K_TEXT;
        for (size_t r = 0; empty && r < t->n_rows; r++)
            empty = (show && !show[r]) || !t->cols[c].text[r] || !t->cols[c].text[r][0];
        if (!empty)
            idx[n++] = c;
    }
    size_t width[MAX_COLS];
    for (int k = 0; k < n; k++) {
        width[k] = strlen(t->cols[idx[k]].header);
        for (size_t r = 0; r < t->n_rows; r++) {
            if (show && !show[r])
                continue;
            fmt_cell(&t->cols[idx[k]], r, cell, sizeof cell);
            if (strlen(cell) > width[k])
                width[k] = strlen(cell);
        }
    }
    if (f == F_MD) {
        printf("|");
        for (int k = 0; k < n; k++)
            printf(" %s |", t->cols[idx[k]].header);
        printf("\n|");
        for (int k = 0; k < n; k++)
            printf("%s|", t->cols[idx[k]].kind == K_TEXT ? "---" : "---:");
        printf("\n");
    } else {
        for (int k = 0; k < n; k++)
            printf("%s%-*s", k ? "  " : "", (int)width[k], t->cols[idx[k]].header);
        printf("\n");
    }
    for (size_t r = 0; r < t->n_rows; r++) {
        if (show && !show[r])
            continue;
        if (f == F_MD)
            printf("|");
        for (int k = 0; k < n; k++) {
            const col_t *c = &t->cols[idx[k]];
            fmt_cell(c, r, cell, sizeof cell);
            if (f == F_MD)
                printf(" %s |", cell);
            else if (c->kind == K_TEXT)
                printf("%s%-*s", k ? "  " : "", k + 1 < n ? (int)width[k] : 0, cell);
            else
                printf("%s%*s", k ? "  " : "", (int)width[k], cell);
        }
        printf("\n");
    }
}

/* ---- csv ---------------------------------------------------------------------------- */

static void csv_text(const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const table_t *t)
{
    for (int c = 0; c < t->n_cols; c++) {
        if (c)
            putchar(',');
        csv_text(t->cols[c].name);
    }
    putchar('\n');
    for (size_t r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            const col_t *col = &t->cols[c];
            if (c)
                putchar(',');
            if (col->kind == K_TEXT)
                csv_text(col->text[r] ? col->text[r] : "");
            else if (isnan(col->num[r]))
                ;  /* empty: missing */
            else if (col->kind == K_INT)
                printf("%.0f", col->num[r]);
            else
                printf("%.17g", col->num[r]);
        }
        putchar('\n');
    }
}

/* ---- json ------------------------------------------------------------------------------ */

/* A JSON string: quotes, backslash and control characters escaped (RFC
 * 8259 section 7); other bytes, UTF-8 included, pass as they are. */
static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        }
    }
    putchar('"');
}

static void json_num(double v, kind_t kind)
{
    if (!isfinite(v))
        fputs("null", stdout);   /* JSON has no NaN or infinity */
    else if (kind == K_INT)
        printf("%.0f", v);
    else
        printf("%.17g", v);
}

static void print_json_rows(const table_t *t)
{
    printf("[");
    for (size_t r = 0; r < t->n_rows; r++) {
        printf("%s\n   {", r ? "," : "");
        for (int c = 0; c < t->n_cols; c++) {
            const col_t *col = &t->cols[c];
            printf("%s", c ? ", " : "");
            json_str(col->name);
            printf(": ");
            if (col->kind == K_TEXT)
                json_str(col->text[r] ? col->text[r] : "");
            else
                json_num(col->num[r], col->kind);
        }
        printf("}");
    }
    printf("%s]", t->n_rows ? "\n  " : "");
}

/* ---- HDF5 ------------------------------------------------------------------------------- */

static rs_status store_table(rs_analysis_t *an, const table_t *t, rs_error_t *err)
{
    rs_table_col_t cols[MAX_COLS];
    for (int c = 0; c < t->n_cols; c++)
        cols[c] = (rs_table_col_t){t->cols[c].name, t->cols[c].kind == K_TEXT,
                                   t->cols[c].num,
                                   (const char *const *)t->cols[c].text};
    return rs_store_analysis_table(an, t->name, cols, t->n_cols, t->n_rows,
                                   t->description, err);
}

/* ---- building the tables ------------------------------------------------------------------ */

enum { V_LOSS = 1, V_ACC = 2 };

typedef struct report {
    rs_spec_t spec;
    const char *out;
    rs_analysis_result_t a;
    char desc[4][1200];
} report;

static const char *test_name(rs_test_kind k)
{
    return k == RS_TEST_PAIRED_T ? "paired_t" : k == RS_TEST_WELCH ? "welch" : "none";
}

/* The axis columns of a config: keep_prob_1..H, l2, l1 (numeric), then
 * one per extra axis by its dotted key (numbers, or text as in /jobs). */
static int add_axis_cols(table_t *t, const report *r, const uint32_t *cfg)
{
    const rs_spec_t *s = &r->spec;
    int h = r->a.hidden, width = h > 0 ? h : 1;
    for (int l = 0; l < h; l++) {
        char name[32];
        snprintf(name, sizeof name, "keep_prob_%d", l + 1);
        col_t *c = add_col(t, name, K_NUM, NULL, 0);
        if (!c)
            return -1;
        for (size_t i = 0; i < t->n_rows; i++)
            c->num[i] = s->keep[(size_t)r->a.configs[cfg[i]].i_keep * width + l];
    }
    col_t *c2 = add_col(t, "l2", K_NUM, NULL, 0), *c1 = add_col(t, "l1", K_NUM, NULL, 0);
    if (!c2 || !c1)
        return -1;
    for (size_t i = 0; i < t->n_rows; i++) {
        c2->num[i] = s->l2[r->a.configs[cfg[i]].i_l2];
        c1->num[i] = s->l1[r->a.configs[cfg[i]].i_l1];
    }
    for (int x = 0; x < s->n_axes; x++) {
        const rs_axis_t *ax = &s->axes[x];
        col_t *c = add_col(t, ax->key, ax->type == RS_AXIS_NUMBER ? K_NUM : K_TEXT,
                           NULL, 0);
        if (!c)
            return -1;
        for (size_t i = 0; i < t->n_rows; i++) {
            const rs_axis_value_t *v = &ax->values[r->a.configs[cfg[i]].i_axis[x]];
            if (ax->type == RS_AXIS_NUMBER)
                c->num[i] = v->num;
            else
                c->text[i] = v->text;
        }
    }
    return 0;
}

static const char *const METRIC_HEADER[RS_N_METRICS] = {
    "train loss", "test loss", "gap (test - train)", "train acc", "test acc",
    "gap (train - test acc)"};

/* Fills column c (just added; NULL: out of memory) row by row: x is row
 * i of ROWS, of type TYPE, and EXPR stores its value. */
#define FILL_COL(TYPE, ROW, EXPR)                   \
    do {                                            \
        if (!c)                                     \
            return -1;                              \
        for (size_t i = 0; i < t->n_rows; i++) {    \
            const TYPE *x = &ROW;                   \
            (void)x;                                \
            EXPR;                                   \
        }                                           \
    } while (0)

/* Configs in rank order. */
static int build_configs(const report *r, table_t *t, char (*nlabels)[24])
{
    const rs_analysis_result_t *a = &r->a;
    t->name = "configs";
    t->n_rows = a->n_configs;
    uint32_t *cfg = a->order;
    col_t *c;
#define FILL(EXPR) FILL_COL(rs_config_row_t, a->configs[cfg[i]], EXPR)
    c = add_col(t, "rank", K_INT, "rank", V_LOSS | V_ACC);
    FILL(c->num[i] = x->rank ? x->rank : NAN);
    c = add_col(t, "config", K_TEXT, "config", V_LOSS | V_ACC);
    FILL(c->text[i] = x->label);
    if (add_axis_cols(t, r, cfg))
        return -1;
    c = add_col(t, "is_baseline", K_INT, NULL, 0);
    FILL(c->num[i] = x->is_baseline);
    c = add_col(t, "seeds", K_TEXT, "seeds", V_LOSS);
    FILL({
        snprintf(nlabels[i], sizeof nlabels[i], "%u/%u%s%s", x->n_used, x->n_seeds,
                 x->n_diverged + x->n_failed + x->n_missing ? "*" : "",
                 x->is_baseline ? " B" : "");
        c->text[i] = nlabels[i];
    });
    c = add_col(t, "n_seeds", K_INT, NULL, 0);
    FILL(c->num[i] = x->n_seeds);
    c = add_col(t, "n_used", K_INT, NULL, 0);
    FILL(c->num[i] = x->n_used);
    c = add_col(t, "n_done", K_INT, NULL, 0);
    FILL(c->num[i] = x->n_done);
    c = add_col(t, "n_diverged", K_INT, NULL, 0);
    FILL(c->num[i] = x->n_diverged);
    c = add_col(t, "n_failed", K_INT, NULL, 0);
    FILL(c->num[i] = x->n_failed);
    c = add_col(t, "n_missing", K_INT, NULL, 0);
    FILL(c->num[i] = x->n_missing);
    static const rs_metric order[RS_N_METRICS] = {RS_M_TEST_LOSS, RS_M_GAP,
        RS_M_TRAIN_LOSS, RS_M_TEST_ACC, RS_M_GAP_ACC, RS_M_TRAIN_ACC};
    for (int k = 0; k < RS_N_METRICS; k++) {
        rs_metric m = order[k];
        if (!a->classifier && m >= RS_M_TRAIN_ACC)
            continue;
        const char *mn = rs_metric_name(m);
        unsigned view = m == RS_M_TEST_LOSS || m == RS_M_GAP ? V_LOSS
                      : m == RS_M_TEST_ACC || m == RS_M_GAP_ACC ? V_ACC : 0;
        char name[40];
        snprintf(name, sizeof name, "%s_mean", mn);
        c = add_col(t, name, K_NUM, view ? METRIC_HEADER[m] : NULL, view);
        FILL(c->num[i] = x->sum[m].mean);
        if (c)
            c->ci = 1;
        snprintf(name, sizeof name, "%s_ci_lo", mn);
        c = add_col(t, name, K_NUM, NULL, 0);
        FILL(c->num[i] = x->sum[m].ci_lo);
        snprintf(name, sizeof name, "%s_ci_hi", mn);
        c = add_col(t, name, K_NUM, NULL, 0);
        FILL(c->num[i] = x->sum[m].ci_hi);
        snprintf(name, sizeof name, "%s_sd", mn);
        c = add_col(t, name, K_NUM, NULL, 0);
        FILL(c->num[i] = x->sum[m].sd);
        snprintf(name, sizeof name, "%s_n", mn);
        c = add_col(t, name, K_INT, NULL, 0);
        FILL(c->num[i] = (double)x->sum[m].n);
    }
#undef FILL
    return 0;
}

static const char *notes_text(unsigned notes, char *buf, size_t n)
{
    buf[0] = '\0';
    static const struct { unsigned bit; const char *word; } w[] = {
        {RS_NOTE_FEW, "few"}, {RS_NOTE_UNPAIRED, "unpaired"},
        {RS_NOTE_CONSTANT, "constant"}, {RS_NOTE_W_FLOOR, "wilcoxon_floor"},
        {RS_NOTE_NO_BOOT, "no_bootstrap"}};
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        if (notes & w[i].bit) {
            if (buf[0])
                strncat(buf, ";", n - strlen(buf) - 1);
            strncat(buf, w[i].word, n - strlen(buf) - 1);
        }
    return buf;
}

/* The text markers of a row: a few, u unpaired, c constant, f floor. */
static const char *markers(unsigned notes, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s", notes & RS_NOTE_FEW ? "a" : "",
             notes & RS_NOTE_UNPAIRED ? "u" : "", notes & RS_NOTE_CONSTANT ? "c" : "",
             notes & RS_NOTE_W_FLOOR ? "f" : "");
    return buf;
}

static int build_comparisons(const report *r, table_t *t, char (*note)[80],
                             char (*mark)[8], uint32_t *cfg)
{
    const rs_analysis_result_t *a = &r->a;
    t->name = "comparisons";
    t->n_rows = a->n_comparisons;
    for (size_t i = 0; i < t->n_rows; i++)
        cfg[i] = a->comparisons[i].config;
    col_t *c;
#define FILL(EXPR) FILL_COL(rs_comparison_row_t, a->comparisons[i], EXPR)
    c = add_col(t, "config", K_TEXT, "config", 1);
    FILL(c->text[i] = a->configs[x->config].label);
    if (add_axis_cols(t, r, cfg))
        return -1;
    c = add_col(t, "metric", K_TEXT, NULL, 0);
    FILL(c->text[i] = rs_metric_name(x->metric));
    c = add_col(t, "test", K_TEXT, NULL, 0);
    FILL(c->text[i] = test_name(x->test));
    c = add_col(t, "reason", K_TEXT, NULL, 0);
    FILL(c->text[i] = x->reason ? x->reason : "");
    c = add_col(t, "notes", K_TEXT, NULL, 0);
    FILL(c->text[i] = notes_text(x->notes, note[i], sizeof note[i]));
    c = add_col(t, "n", K_INT, "n", 1);
    FILL(c->num[i] = (double)x->n);
    c = add_col(t, "n_baseline", K_INT, NULL, 0);
    FILL(c->num[i] = (double)x->n_baseline);
    c = add_col(t, "mean_diff", K_NUM, "mean d [95% CI]", 1);
    FILL(c->num[i] = x->mean_diff);
    if (c)
        c->ci = 1;
    c = add_col(t, "ci_lo", K_NUM, NULL, 0);
    FILL(c->num[i] = x->ci_lo);
    c = add_col(t, "ci_hi", K_NUM, NULL, 0);
    FILL(c->num[i] = x->ci_hi);
    c = add_col(t, "sd_diff", K_NUM, NULL, 0);
    FILL(c->num[i] = x->sd_diff);
    c = add_col(t, "t", K_NUM, NULL, 0);
    FILL(c->num[i] = x->t);
    c = add_col(t, "df", K_NUM, NULL, 0);
    FILL(c->num[i] = x->df);
    c = add_col(t, "p", K_P, NULL, 0);
    FILL(c->num[i] = x->p);
    c = add_col(t, "p_holm", K_P, "p (t, Holm)", 1);
    FILL(c->num[i] = x->p_holm);
    c = add_col(t, "wilcoxon_v", K_NUM, NULL, 0);
    FILL(c->num[i] = x->w_v_plus);
    c = add_col(t, "wilcoxon_p", K_P, NULL, 0);
    FILL(c->num[i] = x->w_p);
    c = add_col(t, "wilcoxon_p_holm", K_P, "p (Wilcoxon, Holm)", 1);
    FILL(c->num[i] = x->w_p_holm);
    c = add_col(t, "wilcoxon_p_min", K_P, NULL, 0);
    FILL(c->num[i] = x->w_p_min);
    c = add_col(t, "boot_lo", K_NUM, NULL, 0);
    FILL(c->num[i] = x->boot_lo);
    c = add_col(t, "boot_hi", K_NUM, NULL, 0);
    FILL(c->num[i] = x->boot_hi);
    c = add_col(t, "cohen_dz", K_NUM, NULL, 0);
    FILL(c->num[i] = x->cohen_dz);
    c = add_col(t, "prob_superiority", K_NUM, NULL, 0);
    FILL(c->num[i] = x->prob_superiority);
    c = add_col(t, "marks", K_TEXT, "notes", 1);
    FILL(c->text[i] = markers(x->notes, mark[i], sizeof mark[i]));
#undef FILL
    return 0;
}

static int build_trajectory(const report *r, table_t *t, uint32_t *cfg)
{
    const rs_analysis_result_t *a = &r->a;
    t->name = "trajectory";
    t->n_rows = a->n_trajectory;
    for (size_t i = 0; i < t->n_rows; i++)
        cfg[i] = a->trajectory[i].config;
    col_t *c;
#define FILL(EXPR) FILL_COL(rs_trajectory_row_t, a->trajectory[i], EXPR)
    c = add_col(t, "config", K_TEXT, NULL, 0);
    FILL(c->text[i] = a->configs[x->config].label);
    if (add_axis_cols(t, r, cfg))
        return -1;
    c = add_col(t, "epoch", K_INT, NULL, 0);
    FILL(c->num[i] = x->epoch);
    c = add_col(t, "n", K_INT, NULL, 0);
    FILL(c->num[i] = x->n);
    c = add_col(t, "gap_mean", K_NUM, NULL, 0);
    FILL(c->num[i] = x->mean);
    c = add_col(t, "gap_ci_lo", K_NUM, NULL, 0);
    FILL(c->num[i] = x->ci_lo);
    c = add_col(t, "gap_ci_hi", K_NUM, NULL, 0);
    FILL(c->num[i] = x->ci_hi);
#undef FILL
    return 0;
}

/* Weight scaling against MC dropout: one row per config with MC-dropout
 * curves and metric (test loss, then accuracy for classifiers). */
static int build_mc(const report *r, table_t *t, char (*note)[80], char (*mark)[8],
                    uint32_t *cfg)
{
    const rs_analysis_result_t *a = &r->a;
    t->name = "mc_dropout";
    t->n_rows = a->n_mc;
    int same_t = 1;
    for (size_t i = 0; i < t->n_rows; i++) {
        cfg[i] = a->mc[i].config;
        same_t &= a->mc[i].mc_samples == a->mc[0].mc_samples;
    }
    col_t *c;
#define FILL(EXPR) FILL_COL(rs_mc_row_t, a->mc[i], EXPR)
    c = add_col(t, "config", K_TEXT, "config", 1);
    FILL(c->text[i] = a->configs[x->config].label);
    if (add_axis_cols(t, r, cfg))
        return -1;
    c = add_col(t, "metric", K_TEXT, NULL, 0);
    FILL(c->text[i] = rs_metric_name(x->metric));
    /* the title names T when every config has the same */
    c = add_col(t, "mc_samples", K_INT, same_t ? NULL : "passes", 1);
    FILL(c->num[i] = x->mc_samples);
    c = add_col(t, "test", K_TEXT, NULL, 0);
    FILL(c->text[i] = test_name(isnan(x->p) ? RS_TEST_NONE : RS_TEST_PAIRED_T));
    c = add_col(t, "reason", K_TEXT, NULL, 0);
    FILL(c->text[i] = x->reason ? x->reason : "");
    c = add_col(t, "notes", K_TEXT, NULL, 0);
    FILL(c->text[i] = notes_text(x->notes, note[i], sizeof note[i]));
    c = add_col(t, "n", K_INT, "n", 1);
    FILL(c->num[i] = (double)x->n);
    c = add_col(t, "weight_scaling_mean", K_NUM, "weight scaling", 1);
    FILL(c->num[i] = x->mean_ws);
    c = add_col(t, "mc_mean", K_NUM, "MC dropout", 1);
    FILL(c->num[i] = x->mean_mc);
    c = add_col(t, "mean_diff", K_NUM, "mean d [95% CI]", 1);
    FILL(c->num[i] = x->mean_diff);
    if (c)
        c->ci = 1;
    c = add_col(t, "ci_lo", K_NUM, NULL, 0);
    FILL(c->num[i] = x->ci_lo);
    c = add_col(t, "ci_hi", K_NUM, NULL, 0);
    FILL(c->num[i] = x->ci_hi);
    c = add_col(t, "sd_diff", K_NUM, NULL, 0);
    FILL(c->num[i] = x->sd_diff);
    c = add_col(t, "t", K_NUM, NULL, 0);
    FILL(c->num[i] = x->t);
    c = add_col(t, "df", K_NUM, NULL, 0);
    FILL(c->num[i] = x->df);
    c = add_col(t, "p", K_P, "p (t)", 1);
    FILL(c->num[i] = x->p);
    c = add_col(t, "p_holm", K_P, "p (t, Holm)", 1);
    FILL(c->num[i] = x->p_holm);
    c = add_col(t, "marks", K_TEXT, "notes", 1);
    FILL(c->text[i] = markers(x->notes, mark[i], sizeof mark[i]));
#undef FILL
    return 0;
}

/* ---- text pieces ------------------------------------------------------------------------- */

static const char *rank_name(rs_rank_by k)
{
    return k == RS_RANK_GAP ? "gap" : k == RS_RANK_ABS_GAP ? "abs_gap" : "test_loss";
}

static void print_header(const report *r)
{
    const rs_analysis_result_t *a = &r->a;
    const rs_spec_t *s = &r->spec;
    printf("%s: %llu jobs: %llu done, %llu diverged, %llu failed, %llu missing; "
           "%u configs x %u seeds\n", s->name, (unsigned long long)a->n_jobs,
           (unsigned long long)a->n_done, (unsigned long long)a->n_diverged,
           (unsigned long long)a->n_failed, (unsigned long long)a->n_missing,
           a->n_configs, s->n_seeds);
    printf("At %s.\ngap = test loss - train loss (clean, no dropout): positive "
           "means overfitting%s.\n",
           a->at_best ? "each job's epoch of smallest validation loss"
                      : "the final epoch",
           a->classifier ? ";\ngap (acc) = train accuracy - test accuracy" : "");
    printf("Ranked by mean %s (%s first).  mean [%d%% t-interval] over the seeds "
           "used.\n\n", rank_name(a->rank_by),
           a->rank_by == RS_RANK_ABS_GAP ? "closest to 0" : "smallest",
           (int)(100 * a->level + 0.5));
}

static void print_config_legend(const report *r)
{
    int any = 0;
    for (uint32_t c = 0; c < r->a.n_configs; c++)
        any |= r->a.configs[c].n_diverged + r->a.configs[c].n_failed +
               r->a.configs[c].n_missing > 0;
    printf("seeds: used/in the grid; B = the baseline");
    if (any)
        printf("; * = some jobs diverged, failed or are missing (not averaged in;"
               " csv/json give the counts)");
    printf(".\n");
}

static void print_comparison_legend(const report *r)
{
    const rs_analysis_result_t *a = &r->a;
    unsigned all = 0;
    for (uint32_t i = 0; i < a->n_comparisons; i++)
        all |= a->comparisons[i].notes;
    printf("\nd = config - baseline, per seed (common random numbers).  The "
           "test is the paired\nt-test of d; Holm adjusts its p over the %u rows "
           "that have one (one family).\nThe Wilcoxon signed-rank test is a "
           "sensitivity check, Holm over its %u rows.\n", a->n_family_t,
           a->n_family_w);
    if (all & RS_NOTE_FEW)
        printf("a: fewer than %d pairs of seeds: no test (the estimate and its "
               "t-interval only).\n", RS_ANALYSIS_MIN_PAIRS);
    if (all & RS_NOTE_UNPAIRED)
        printf("u: the seeds do not pair (jobs missing): Welch's unpaired test; "
               "n = the config's values.\n");
    if (all & RS_NOTE_CONSTANT)
        printf("c: every difference is the same: no test.\n");
    if (all & RS_NOTE_W_FLOOR)
        printf("f: with so few pairs the exact Wilcoxon p cannot fall below "
               "0.05 (smallest p = 2/2^n).\n");
    if (all & RS_NOTE_NO_BOOT)
        printf("Bootstrap intervals (csv, json, HDF5) need %d pairs: the "
               "percentile bootstrap under-covers below.\n",
               RS_ANALYSIS_MIN_BOOT);
}

/* Weight scaling against MC dropout: one table per metric, then what d
 * and the markers mean. */
static void print_mc(const report *r, const table_t *t, fmt_t f)
{
    const rs_analysis_result_t *a = &r->a;
    uint8_t *show = calloc(a->n_mc + 1, 1);
    int same_t = 1;
    unsigned all = 0;
    for (uint32_t i = 0; i < a->n_mc; i++) {
        same_t &= a->mc[i].mc_samples == a->mc[0].mc_samples;
        all |= a->mc[i].notes;
    }
    char passes[48] = "T passes per config";
    if (same_t)
        snprintf(passes, sizeof passes, "%u passes", a->mc[0].mc_samples);
    for (int k = 0; show && k < 2; k++) {
        rs_metric m = k ? RS_M_TEST_ACC : RS_M_TEST_LOSS;
        int any = 0;
        for (uint32_t i = 0; i < a->n_mc; i++)
            any |= show[i] = a->mc[i].metric == m;
        if (!any)
            continue;
        printf("\nweight scaling vs MC dropout (%s), %s:\n", passes,
               k ? "test accuracy" : "test loss");
        print_text_table(t, 1, f, show);
    }
    free(show);
    printf("\nd = weight scaling - MC dropout, per seed: the same job at the same "
           "epoch.  On the test\nloss d > 0 means the average of the thinned "
           "networks predicts better%s.\nThe test is the one-sample t-test of d; "
           "Holm adjusts its p over the %u rows that\nhave one (a family of its "
           "own).  Configs with keep_prob 1 are left out: there\nevery thinned "
           "network is the network.\n", a->classifier ? "; on the accuracy,\nd "
           "> 0 means weight scaling does" : "", a->n_family_mc);
    if (all & RS_NOTE_FEW)
        printf("a: fewer than %d seeds with both values: no test (the estimate "
               "and its t-interval only).\n", RS_ANALYSIS_MIN_PAIRS);
    if (all & RS_NOTE_CONSTANT)
        printf("c: every difference is the same: no test.\n");
}

/* ---- curves for the trajectory ------------------------------------------------------------ */

static rs_status read_curves(void *ctx, const rs_job_t *job, rs_curves_t *c,
                             rs_error_t *err)
{
    const report *r = ctx;
    return rs_store_read_curves_live(r->out, &r->spec, job, c, err);
}

/* ---- the command ------------------------------------------------------------------------------ */

static int parse_rank_by(const char *v, rs_rank_by *out)
{
    if (!strcmp(v, "test_loss"))
        *out = RS_RANK_TEST_LOSS;
    else if (!strcmp(v, "gap"))
        *out = RS_RANK_GAP;
    else if (!strcmp(v, "abs_gap"))
        *out = RS_RANK_ABS_GAP;
    else
        return -1;
    return 0;
}

int rs_cli_report(int argc, char **argv)
{
    const char *out = NULL, *baseline = NULL, *table_name = NULL, *v;
    fmt_t f = F_TEXT;
    int at_best = 0, no_store = 0, traj = 0, rc;
    rs_rank_by rank_by = RS_RANK_TEST_LOSS;
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
        } else if ((rc = rs_cli_value(argc, argv, &i, "--rank-by", NULL, &v))) {
            if (rc < 0 || parse_rank_by(v, &rank_by))
                return rs_cli_usage_error("%s needs test_loss, gap or abs_gap",
                                          "--rank-by");
        } else if ((rc = rs_cli_value(argc, argv, &i, "--table", NULL, &v))) {
            if (rc < 0 || (strcmp(v, "configs") && strcmp(v, "comparisons") &&
                           strcmp(v, "trajectory") && strcmp(v, "mc_dropout")))
                return rs_cli_usage_error("%s needs configs, comparisons, "
                                          "trajectory or mc_dropout", "--table");
            table_name = v;
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
    if (!out)
        return rs_cli_usage_error("%s", "report: which results file?");
    if (table_name && !strcmp(table_name, "trajectory"))
        traj = 1;
    int store = !no_store;
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
    if (rs_store_read_spec(out, &r.spec, &err)) {
        rs_sweep_unlock(&lock_fd);
        return rs_cli_fail(&err);
    }
    const rs_spec_t *s = &r.spec;
    int code = 0;
    table_t tc = {0}, tx = {0}, tt = {0}, tm = {0};
    char (*nlabels)[24] = NULL, (*notes)[80] = NULL, (*marks)[8] = NULL;
    uint32_t *cfg = NULL;
    rs_job_summary_t *rows = calloc(s->n_jobs + 1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "regsweep: out of memory\n");
        code = 1;
        goto out;
    }
    /* the finished jobs from OUT.h5's table and a running sweep's job
     * files (verified); the failed ones from the table */
    uint64_t n_journal;
    if (rs_store_read_rows(out, s, 1, rows, NULL, &n_journal, &err)) {
        code = rs_cli_fail(&err);
        goto out;
    }
    /* the curves serve the trajectory and, where the jobs have MC-dropout
     * curves, its table (the analysis reads only what these need) */
    rs_analysis_opts_t o = {.at_best = at_best, .level = 0.95,
                            .rank_by = rank_by, .baseline = baseline,
                            .no_trajectory = !(traj || store)};
    if (rs_analysis_run(s, rows, &o, read_curves, &r, &r.a, &err)) {
        code = rs_cli_fail(&err);
        goto out;
    }
    const rs_analysis_result_t *a = &r.a;
    size_t n_cfg_rows = a->n_configs + a->n_comparisons + a->n_trajectory +
                        a->n_mc + 1;
    /* notes and marks: the comparisons' rows, then the MC rows' */
    nlabels = calloc(a->n_configs + 1, sizeof *nlabels);
    notes = calloc(a->n_comparisons + a->n_mc + 1, sizeof *notes);
    marks = calloc(a->n_comparisons + a->n_mc + 1, sizeof *marks);
    cfg = calloc(n_cfg_rows, sizeof *cfg);
    if (!nlabels || !notes || !marks || !cfg || build_configs(&r, &tc, nlabels) ||
        build_comparisons(&r, &tx, notes, marks, cfg) ||
        (a->trajectory && build_trajectory(&r, &tt, cfg + a->n_comparisons)) ||
        build_mc(&r, &tm, notes + a->n_comparisons, marks + a->n_comparisons,
                 cfg + a->n_comparisons + a->n_trajectory)) {
        fprintf(stderr, "regsweep: out of memory\n");
        code = 1;
        goto out;
    }
    const char *base = a->baseline >= 0 ? a->configs[a->baseline].label : "";
    snprintf(r.desc[0], sizeof r.desc[0],
             "per config over seeds at %s; gap = test_loss - train_loss "
             "(positive = overfitting); mean, sd, %d%% t-interval over the "
             "seeds used (status done, finite value); rows in rank order by "
             "mean %s", at_best ? "each job's epoch of smallest validation loss"
                                : "the final epoch",
             (int)(100 * a->level + 0.5), rank_name(rank_by));
    snprintf(r.desc[1], sizeof r.desc[1],
             "each config against the baseline '%s': d = config - baseline per "
             "seed; test: paired t (>= %d pairs), welch (seeds do not pair), "
             "none (reason); p_holm: Holm over the %u rows with a p; wilcoxon_*: "
             "signed-rank sensitivity check, Holm over its %u rows; bootstrap "
             "(>= %d pairs) seed %llu, %u replicates, stream = row", base,
             RS_ANALYSIS_MIN_PAIRS, a->n_family_t, a->n_family_w,
             RS_ANALYSIS_MIN_BOOT, (unsigned long long)a->boot_seed, a->n_boot);
    snprintf(r.desc[2], sizeof r.desc[2],
             "mean clean gap (test - train loss) per config and epoch over the "
             "done seeds with a finite gap, with its %d%% t-interval",
             (int)(100 * a->level + 0.5));
    snprintf(r.desc[3], sizeof r.desc[3],
             "weight scaling against MC dropout (eval.mc_samples = mc_samples "
             "thinned networks averaged) per config with MC-dropout curves and "
             "a keep_prob < 1 (at keep_prob 1 every thinned network is the "
             "network), at "
             "%s: d = weight scaling - MC dropout (curves/test_loss - "
             "curves/test_loss_mc, and test_acc - test_acc_mc for classifiers) "
             "per done seed, the same job; mean, sd, %d%% t-interval; test: "
             "one-sample t of d (>= %d seeds), else none (reason); p_holm: "
             "Holm over the %u rows with a p",
             at_best ? "each job's epoch of smallest validation loss"
                     : "the final epoch",
             (int)(100 * a->level + 0.5), RS_ANALYSIS_MIN_PAIRS, a->n_family_mc);
    tc.description = r.desc[0];
    tx.description = r.desc[1];
    tt.description = r.desc[2];
    tm.description = r.desc[3];

    if (f == F_CSV) {
        const table_t *t = !table_name || !strcmp(table_name, "configs") ? &tc
                         : !strcmp(table_name, "comparisons") ? &tx
                         : !strcmp(table_name, "mc_dropout") ? &tm : &tt;
        print_csv(t);
    } else if (f == F_JSON) {
        printf("{\"name\": ");
        json_str(s->name);
        printf(", \"at\": \"%s\", \"level\": %g, \"rank_by\": \"%s\",\n"
               " \"gap\": \"test_loss - train_loss; positive = overfitting\",\n"
               " \"n_jobs\": %llu, \"n_done\": %llu, \"n_diverged\": %llu, "
               "\"n_failed\": %llu, \"n_missing\": %llu,\n \"baseline\": ",
               at_best ? "best" : "final", a->level, rank_name(rank_by),
               (unsigned long long)a->n_jobs, (unsigned long long)a->n_done,
               (unsigned long long)a->n_diverged, (unsigned long long)a->n_failed,
               (unsigned long long)a->n_missing);
        if (a->baseline >= 0)
            json_str(base);
        else
            printf("null");
        printf(",\n \"holm\": {\"primary\": {\"test\": \"paired t, or Welch "
               "where seeds do not pair\", \"rows\": %u}, \"wilcoxon\": "
               "{\"rows\": %u}},\n \"configs\": ", a->n_family_t, a->n_family_w);
        print_json_rows(&tc);
        printf(",\n \"comparisons\": ");
        print_json_rows(&tx);
        if (traj) {
            printf(",\n \"trajectory\": ");
            print_json_rows(&tt);
        }
        if (a->n_mc) {
            printf(",\n \"mc_dropout\": ");
            print_json_rows(&tm);
        }
        printf("}\n");
    } else {
        print_header(&r);
        print_text_table(&tc, V_LOSS, f, NULL);
        if (a->classifier) {
            printf("\n");
            print_text_table(&tc, V_ACC, f, NULL);
        }
        print_config_legend(&r);
        if (a->baseline < 0) {
            printf("\nNo baseline config (keep_prob 1, l2 0, l1 0%s) in this "
                   "grid: no comparisons. Name one with --baseline keep_prob=...,"
                   "l2=...,l1=...%s or report.baseline in the spec.\n",
                   s->n_axes ? ", each extra axis at its first value" : "",
                   s->n_axes ? " (and any axis by its key: train.lr=...)" : "");
        } else {
            /* one table per metric: the rows of one Holm family side by
             * side, and the text fits 100 columns */
            uint8_t *show = calloc(a->n_comparisons + 1, 1);
            for (int m = 0; show && m < RS_N_METRICS; m++) {
                int any = 0;
                for (uint32_t i = 0; i < a->n_comparisons; i++)
                    any |= show[i] = a->comparisons[i].metric == (rs_metric)m;
                if (!any)
                    continue;
                printf("\n%s against the baseline %s:\n", METRIC_HEADER[m], base);
                print_text_table(&tx, 1, f, show);
            }
            free(show);
            print_comparison_legend(&r);
        }
        if (a->n_mc)
            print_mc(&r, &tm, f);
        if (traj && a->trajectory) {
            /* configs may have their own epochs (train.epochs as an
             * axis): columns up to the longest, n/a past a config's end */
            uint32_t E1 = 0;
            for (uint32_t c = 0; c < a->n_configs; c++)
                E1 = a->configs[c].epochs + 1 > E1 ? a->configs[c].epochs + 1 : E1;
            uint32_t step = E1 > 7 ? (E1 - 1) / 6 : 1;
            int lw = 30;
            for (uint32_t c = 0; c < a->n_configs; c++)
                lw = (int)strlen(a->configs[c].label) > lw
                         ? (int)strlen(a->configs[c].label) : lw;
            printf("\nMean gap (test - train loss) by epoch:\n%-*s", lw, "config");
            for (uint32_t e = 0; e < E1; e += step)
                printf(" %8u", e);
            printf("\n");
            size_t row = 0;
            for (uint32_t c = 0; c < a->n_configs; c++) {
                uint32_t e1 = a->configs[c].epochs + 1;
                printf("%-*s", lw, a->configs[c].label);
                for (uint32_t e = 0; e < E1; e += step) {
                    double m = e < e1 ? a->trajectory[row + e].mean : NAN;
                    if (isnan(m))
                        printf(" %8s", "n/a");
                    else
                        printf(" %8.4f", m);
                }
                printf("\n");
                row += e1;
            }
        }
        if (a->n_missing || a->n_failed)
            printf("\n%llu jobs have no result yet (missing or failed): run "
                   "--resume completes the sweep.\n",
                   (unsigned long long)(a->n_missing + a->n_failed));
    }
    fflush(stdout);
    rs_analysis_t *an = NULL;
    if (store && (rs_store_analysis_begin(out, &an, &err) ||
                  store_table(an, &tc, &err) ||
                  (a->baseline >= 0 && store_table(an, &tx, &err)) ||
                  (a->trajectory && store_table(an, &tt, &err)) ||
                  (a->n_mc && store_table(an, &tm, &err)) ||
                  rs_store_analysis_commit(&an, &err))) {
        rs_store_analysis_abort(&an);
        code = rs_cli_fail(&err);
        goto out;
    }
out:
    table_free(&tc);
    table_free(&tx);
    table_free(&tt);
    table_free(&tm);
    free(nlabels);
    free(notes);
    free(marks);
    free(cfg);
    free(rows);
    rs_analysis_free(&r.a);
    rs_spec_free(&r.spec);
    rs_sweep_unlock(&lock_fd);
    return code;
}
