/* SPDX-License-Identifier: MIT */
/* spec.c — YAML spec -> validated rs_spec_t -> grid of jobs. */
#include "regsweep/spec.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "regsweep/sha256.h"
#include "yamltree.h"

/* ---- scalar helpers ---------------------------------------------------- */

static const char *type_name(const yt_node *n)
{
    if (n->type == YT_SEQ)
        return "a list";
    if (n->type == YT_MAP)
        return "a mapping";
    if (!n->quoted && (n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
                       strcmp(n->value, "null") == 0))
        return "nothing (null)";
    return n->quoted ? "a quoted string" : "a scalar";
}

static int is_null(const yt_node *n)
{
    return n->type == YT_SCALAR && !n->quoted &&
           (n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
            strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
            strcmp(n->value, "NULL") == 0);
}

static rs_status want_scalar(const yt_node *n, const char *what,
                             const char *expected, rs_error_t *err)
{
    if (n->type != YT_SCALAR || is_null(n) || n->quoted) {
        char buf[160];
        snprintf(buf, sizeof buf, "%s", expected);
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected %s, got %s", what, buf,
                            type_name(n));
    }
    return RS_OK;
}

/* Decimal integer, optional sign, no spaces, no underscores. */
static rs_status get_i64(const yt_node *n, const char *what, int64_t lo,
                         int64_t hi, int64_t *out, rs_error_t *err)
{
    rs_status st = want_scalar(n, what, "an integer", err);
    if (st)
        return st;
    const char *s = n->value;
    const char *d = s + (*s == '-' || *s == '+');
    if (!*d)
        goto bad;
    for (const char *c = d; *c; c++)
        if (*c < '0' || *c > '9')
            goto bad;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected an integer from %lld to %lld, "
                            "got %s", what, (long long)lo, (long long)hi, s);
    *out = v;
    return RS_OK;
bad:
    return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                        "%s: expected an integer, got '%s'", what, s);
}

static rs_status get_u32(const yt_node *n, const char *what, uint32_t lo,
                         uint32_t hi, uint32_t *out, rs_error_t *err)
{
    int64_t v;
    rs_status st = get_i64(n, what, lo, hi, &v, err);
    if (!st)
        *out = (uint32_t)v;
    return st;
}

/* A decimal number: [+-] digits [. digits] [e [+-] digits]; YAML's .inf and
 * .nan and C's inf/nan are refused: a spec value must be finite. */
static int looks_decimal(const char *s)
{
    const char *c = s + (*s == '-' || *s == '+');
    int digits = 0;
    while (*c >= '0' && *c <= '9')
        c++, digits++;
    if (*c == '.') {
        c++;
        while (*c >= '0' && *c <= '9')
            c++, digits++;
    }
    if (!digits)
        return 0;
    if (*c == 'e' || *c == 'E') {
        c++;
        c += (*c == '-' || *c == '+');
        if (*c < '0' || *c > '9')
            return 0;
        while (*c >= '0' && *c <= '9')
            c++;
    }
    return *c == '\0';
}

typedef struct range {
    double lo, hi;
    int lo_open, hi_open;
    const char *text;   /* e.g. "in (0, 1]" */
} range;

static rs_status get_f64(const yt_node *n, const char *what, range r,
                         double *out, rs_error_t *err)
{
    rs_status st = want_scalar(n, what, "a number", err);
    if (st)
        return st;
    const char *s = n->value;
    if (!looks_decimal(s)) {
        const char *t = s + (*s == '-' || *s == '+');
        int nonfinite = strcasecmp(t, ".inf") == 0 ||
                        strcasecmp(t, ".nan") == 0 ||
                        strcasecmp(t, "inf") == 0 ||
                        strcasecmp(t, "nan") == 0 ||
                        strcasecmp(t, "infinity") == 0;
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected a %snumber %s, got '%s'", what,
                            nonfinite ? "finite " : "", r.text, s);
    }
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE && fabs(v) > 1.0)
        v = INFINITY;
    int below = r.lo_open ? !(v > r.lo) : !(v >= r.lo);
    int above = r.hi_open ? !(v < r.hi) : !(v <= r.hi);
    if (!isfinite(v) || below || above)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected a number %s, got %s", what, r.text,
                            s);
    /* Training uses every number as a float32: 1e300 would become inf and
     * 1e-60 would become 0 (a keep_prob of 0 divides by zero), so nonzero
     * magnitudes must lie in float32's normal range. */
    if (v != 0.0 && !(fabs(v) >= FLT_MIN && fabs(v) <= FLT_MAX))
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: %s is outside float32's range (training "
                            "is float32: nonzero magnitudes from %.9g to "
                            "%.9g)", what, s, (double)FLT_MIN,
                            (double)FLT_MAX);
    *out = v;
    return RS_OK;
}

static rs_status get_bool(const yt_node *n, const char *what, int *out,
                          rs_error_t *err)
{
    rs_status st = want_scalar(n, what, "true or false", err);
    if (st)
        return st;
    const char *s = n->value;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = 0;
    else
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected true or false, got '%s'", what, s);
    return RS_OK;
}

static rs_status get_string(const yt_node *n, const char *what, char *out,
                            size_t n_bytes, rs_error_t *err)
{
    if (n->type != YT_SCALAR || is_null(n))
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected a string, got %s", what,
                            type_name(n));
    if (strlen(n->value) >= n_bytes)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: longer than %zu characters", what,
                            n_bytes - 1);
    strcpy(out, n->value);
    return RS_OK;
}

static rs_status get_enum(const yt_node *n, const char *what,
                          const char *const *names, int *out, rs_error_t *err)
{
    if (n->type == YT_SCALAR && !is_null(n))
        for (int i = 0; names[i]; i++)
            if (strcmp(n->value, names[i]) == 0) {
                *out = i;
                return RS_OK;
            }
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    if (n->type != YT_SCALAR || is_null(n))
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected one of %s, got %s", what, list,
                            type_name(n));
    return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                        "%s: expected one of %s, got '%s'", what, list,
                        n->value);
}

/* ---- mapping helpers --------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

/* Every key of map must be in allowed (with skip_dotted, keys with a dot
 * are left to the caller: extra axes); else an error naming the nearest
 * allowed key when one is close. */
static rs_status check_keys_how(const yt_node *map, const char *section,
                                const char *const *allowed, int skip_dotted,
                                rs_error_t *err)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const yt_node *k = map->kids[i];
        if (skip_dotted && strchr(k->value, '.'))
            continue;
        int ok = 0;
        const char *best = NULL;
        size_t best_d = 3;
        for (int j = 0; allowed[j]; j++) {
            if (strcmp(k->value, allowed[j]) == 0)
                ok = 1;
            size_t d = edit_distance(k->value, allowed[j]);
            if (d < best_d) {
                best_d = d;
                best = allowed[j];
            }
        }
        if (ok)
            continue;
        char list[512] = "";
        for (int j = 0; allowed[j]; j++) {
            strncat(list, j ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, allowed[j], sizeof list - strlen(list) - 1);
        }
        if (best)
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "unknown key '%s' in %s (did you mean "
                                "'%s'?)", k->value, section, best);
        return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                            "unknown key '%s' in %s; expected one of: %s",
                            k->value, section, list);
    }
    return RS_OK;
}

static rs_status check_keys(const yt_node *map, const char *section,
                            const char *const *allowed, rs_error_t *err)
{
    return check_keys_how(map, section, allowed, 0, err);
}

static rs_status want_map(const yt_node *n, const char *what, rs_error_t *err)
{
    if (n->type != YT_MAP)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected a mapping (key: value lines), got "
                            "%s", what, type_name(n));
    return RS_OK;
}

static rs_status required(const yt_node *map, const char *key,
                          const char *what, const yt_node **out,
                          rs_error_t *err)
{
    *out = rs_yt_get(map, key);
    if (!*out)
        return rs_error_set(err, RS_EINPUT, map->src, map->line, map->col,
                            "missing required key '%s' in %s", key, what);
    return RS_OK;
}

/* ---- sections ----------------------------------------------------------- */

static const range R_POS = {0, INFINITY, 1, 1, "> 0"};
static const range R_NONNEG = {0, INFINITY, 0, 1, ">= 0"};
static const range R_KEEP = {0, 1, 1, 0, "in (0, 1]"};

/* MC-dropout passes per test evaluation (eval.mc_samples): each multiplies
 * the test evaluation's cost */
#define RS_MC_SAMPLES_MAX 10000
/* its two spellings: the older is kept so stored specs parse */
#define NEW_MC_KEY "eval.mc_samples"
#define OLD_MC_KEY "record.mc_dropout_samples"

#define TRY(x)               \
    do {                     \
        rs_status st_ = (x); \
        if (st_)             \
            return st_;      \
    } while (0)

static rs_status parse_dataset(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const kinds[] = {"sin", "idx", "fashion_mnist", NULL};
    static const char *const sin_keys[] = {"kind", "n_train", "n_test",
                                           "n_val", "noise_sd", "seed", NULL};
    static const char *const idx_keys[] = {
        "kind", "dir", "train_images", "train_labels", "test_images",
        "test_labels", "classes", "n_val", "split_seed", "max_train",
        "max_test", NULL};
    const yt_node *v;
    int kind;
    TRY(want_map(n, "dataset", err));
    TRY(required(n, "kind", "dataset", &v, err));
    TRY(get_enum(v, "dataset.kind", kinds, &kind, err));
    s->data_kind = kind == 0 ? RS_DATA_SIN : RS_DATA_IDX;
    if (s->data_kind == RS_DATA_SIN) {
        TRY(check_keys(n, "dataset (kind: sin)", sin_keys, err));
        s->sin.n_train = 100;
        s->sin.n_test = 500;
        s->sin.noise_sd = 0.5f;
        if ((v = rs_yt_get(n, "n_train")))
            TRY(get_u32(v, "dataset.n_train", 1, 10000000, &s->sin.n_train, err));
        if ((v = rs_yt_get(n, "n_test")))
            TRY(get_u32(v, "dataset.n_test", 1, 10000000, &s->sin.n_test, err));
        if ((v = rs_yt_get(n, "n_val")))
            TRY(get_u32(v, "dataset.n_val", 0, 10000000, &s->sin.n_val, err));
        if ((v = rs_yt_get(n, "noise_sd"))) {
            double x;
            TRY(get_f64(v, "dataset.noise_sd", R_NONNEG, &x, err));
            s->sin.noise_sd = (float)x;
        }
        if ((v = rs_yt_get(n, "seed"))) {
            int64_t x;
            TRY(get_i64(v, "dataset.seed", 0, INT64_MAX, &x, err));
            s->sin.seed = (uint64_t)x;
            s->data_seed_set = 1;
        }
        return RS_OK;
    }
    TRY(check_keys(n, "dataset (kind: idx)", idx_keys, err));
    static const char *const defaults[4] = {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    static const char *const file_keys[4] = {"train_images", "train_labels",
                                             "test_images", "test_labels"};
    snprintf(s->idx_dir, sizeof s->idx_dir, "%s",
             "/usr/share/datasets/fashion-mnist");
    if ((v = rs_yt_get(n, "dir")))
        TRY(get_string(v, "dataset.dir", s->idx_dir, sizeof s->idx_dir, err));
    for (int i = 0; i < 4; i++) {
        snprintf(s->idx_files[i], sizeof s->idx_files[i], "%s", defaults[i]);
        if ((v = rs_yt_get(n, file_keys[i]))) {
            char what[64];
            snprintf(what, sizeof what, "dataset.%s", file_keys[i]);
            TRY(get_string(v, what, s->idx_files[i], sizeof s->idx_files[i],
                           err));
        }
    }
    s->idx.n_classes = 10;
    if ((v = rs_yt_get(n, "classes")))
        TRY(get_u32(v, "dataset.classes", 2, 256, &s->idx.n_classes, err));
    if ((v = rs_yt_get(n, "n_val")))
        TRY(get_u32(v, "dataset.n_val", 0, 100000000, &s->idx.n_val, err));
    if ((v = rs_yt_get(n, "split_seed"))) {
        int64_t x;
        TRY(get_i64(v, "dataset.split_seed", 0, INT64_MAX, &x, err));
        s->idx.split_seed = (uint64_t)x;
    }
    if ((v = rs_yt_get(n, "max_train")))
        TRY(get_u32(v, "dataset.max_train", 0, 100000000, &s->idx.max_train, err));
    if ((v = rs_yt_get(n, "max_test")))
        TRY(get_u32(v, "dataset.max_test", 0, 100000000, &s->idx.max_test, err));
    return RS_OK;
}

static rs_status parse_model(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"layers", "activation", "init",
                                       "init_sd", "loss", NULL};
    static const char *const acts[] = {"relu", "tanh", "sigmoid", NULL};
    static const char *const inits[] = {"he_normal", "normal", NULL};
    static const char *const losses[] = {"mse", "softmax_cross_entropy", NULL};
    rs_train_settings_t *t = &s->settings;
    const yt_node *v;
    TRY(want_map(n, "model", err));
    TRY(check_keys(n, "model", keys, err));
    TRY(required(n, "layers", "model", &v, err));
    if (v->type != YT_SEQ || v->n < 2 || v->n > RS_MAX_LAYERS + 1)
        return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                            "model.layers: expected a list of 2 to %d layer "
                            "sizes, e.g. [1, 64, 64, 1]", RS_MAX_LAYERS + 1);
    t->arch.n_layers = (int)v->n - 1;
    snprintf(s->layers_src, sizeof s->layers_src, "%s", v->src ? v->src : "");
    s->layers_line = v->line;
    s->layers_col = v->col;
    for (size_t i = 0; i < v->n; i++)
        TRY(get_u32(v->kids[i], "model.layers", 1, 65536, &t->arch.sizes[i], err));
    int x = 0;
    if ((v = rs_yt_get(n, "activation")))
        TRY(get_enum(v, "model.activation", acts, &x, err));
    t->arch.act = (rs_act)x;
    x = 0;
    if ((v = rs_yt_get(n, "init")))
        TRY(get_enum(v, "model.init", inits, &x, err));
    t->init = (rs_init)x;
    t->init_sd = 0.01f;
    if ((v = rs_yt_get(n, "init_sd"))) {
        double sd;
        TRY(get_f64(v, "model.init_sd", R_POS, &sd, err));
        t->init_sd = (float)sd;
    }
    x = s->data_kind == RS_DATA_SIN ? 0 : 1;
    if ((v = rs_yt_get(n, "loss")))
        TRY(get_enum(v, "model.loss", losses, &x, err));
    t->arch.loss = (rs_loss)x;
    return RS_OK;
}

static rs_status parse_train(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"lr", "epochs", "batch_size", "shuffle",
                                       NULL};
    rs_train_settings_t *t = &s->settings;
    const yt_node *v;
    double lr;
    TRY(want_map(n, "train", err));
    TRY(check_keys(n, "train", keys, err));
    TRY(required(n, "lr", "train", &v, err));
    TRY(get_f64(v, "train.lr", R_POS, &lr, err));
    t->lr = (float)lr;
    TRY(required(n, "epochs", "train", &v, err));
    TRY(get_u32(v, "train.epochs", 1, RS_SPEC_MAX_EPOCHS, &t->epochs, err));
    t->batch_size = UINT32_MAX;   /* full batch */
    if ((v = rs_yt_get(n, "batch_size"))) {
        if (!(v->type == YT_SCALAR && !v->quoted && strcmp(v->value, "full") == 0))
            TRY(get_u32(v, "train.batch_size (or full)", 1, 100000000,
                        &t->batch_size, err));
    }
    t->shuffle = 1;
    if ((v = rs_yt_get(n, "shuffle")))
        TRY(get_bool(v, "train.shuffle", &t->shuffle, err));
    return RS_OK;
}

/* reg.dropconnect_keep: one keep probability for every hidden layer's
 * outgoing weights, or a list of one per hidden layer (as keep_prob);
 * dropconnect_keep_prob, its older spelling, takes a number only. */
static rs_status parse_dropconnect(const yt_node *n, rs_spec_t *s,
                                   rs_error_t *err)
{
    const yt_node *now = rs_yt_get(n, "dropconnect_keep");
    const yt_node *old = rs_yt_get(n, "dropconnect_keep_prob");
    const yt_node *v = now ? now : old;
    const char *what = now ? "reg.dropconnect_keep (1: off)"
                           : "reg.dropconnect_keep_prob (1: off)";
    float *keep = s->settings.reg.dropconnect_keep;
    int h = rs_spec_n_hidden(s);
    double x;
    if (now && old)
        return rs_error_set(err, RS_EINPUT, old->src, old->line, old->col,
                            "reg.dropconnect_keep_prob is the older spelling "
                            "of reg.dropconnect_keep (line %d): keep one",
                            now->line);
    if (!v)
        return RS_OK;
    if (now && v->type == YT_SEQ) {
        if ((int)v->n != h)
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "reg.dropconnect_keep: a per-layer list needs "
                                "%d values (one per hidden layer: the weights "
                                "it feeds), got %zu", h, v->n);
        for (int l = 0; l < h; l++) {
            TRY(get_f64(v->kids[l], what, R_KEEP, &x, err));
            keep[l] = (float)x;
        }
        return RS_OK;
    }
    TRY(get_f64(v, what, R_KEEP, &x, err));
    for (int l = 0; l < h; l++)
        keep[l] = (float)x;
    return RS_OK;
}

/* The `reg` section: regularisers fixed for the whole sweep.  Absent keys
 * keep today's training (t->reg is zeroed by rs_spec_parse). */
static rs_status parse_reg(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"l1_mode", "max_norm",
                                       "input_noise_sd", "noise",
                                       "dropconnect_keep",
                                       "dropconnect_keep_prob",
                                       "early_stopping_patience",
                                       "early_stopping_min_delta", NULL};
    static const char *const l1_modes[] = {"subgradient", "proximal", NULL};
    static const char *const noises[] = {"bernoulli", "three_point",
                                         "gaussian", NULL};
    rs_reg_settings_t *r = &s->settings.reg;
    const yt_node *v;
    TRY(want_map(n, "reg", err));
    TRY(check_keys(n, "reg", keys, err));
    if ((v = rs_yt_get(n, "l1_mode"))) {
        int x;
        TRY(get_enum(v, "reg.l1_mode", l1_modes, &x, err));
        r->l1_mode = (rs_l1_mode)x;
    }
    if ((v = rs_yt_get(n, "max_norm"))) {
        double c;
        TRY(get_f64(v, "reg.max_norm (0: off)", R_NONNEG, &c, err));
        r->max_norm = (float)c;
    }
    if ((v = rs_yt_get(n, "input_noise_sd"))) {
        double sd;
        TRY(get_f64(v, "reg.input_noise_sd (0: off)", R_NONNEG, &sd, err));
        r->input_noise_sd = (float)sd;
    }
    if ((v = rs_yt_get(n, "noise"))) {
        int x;
        TRY(get_enum(v, "reg.noise", noises, &x, err));
        r->noise = (rs_noise_kind)x;
    }
    TRY(parse_dropconnect(n, s, err));
    if ((v = rs_yt_get(n, "early_stopping_patience"))) {
        TRY(get_u32(v, "reg.early_stopping_patience (0: off)", 0,
                    RS_SPEC_MAX_EPOCHS, &r->early_stopping_patience, err));
        if (r->early_stopping_patience && rs_spec_n_val(s) == 0)
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "reg.early_stopping_patience: early stopping "
                                "watches the validation loss; set "
                                "dataset.n_val (a validation split) too");
    }
    if ((v = rs_yt_get(n, "early_stopping_min_delta")))
        TRY(get_f64(v, "reg.early_stopping_min_delta", R_NONNEG,
                    &r->early_stopping_min_delta, err));
    return RS_OK;
}

/* The `eval` section: how the test split is evaluated besides the weight-
 * scaled network.  Optional; absent keys evaluate as before it existed. */
static rs_status parse_eval(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"mc_samples", NULL};
    const yt_node *v;
    TRY(want_map(n, "eval", err));
    TRY(check_keys(n, "eval", keys, err));
    if ((v = rs_yt_get(n, "mc_samples")))
        TRY(get_u32(v, "eval.mc_samples (0: off)", 0, RS_MC_SAMPLES_MAX,
                    &s->settings.mc_samples, err));
    return RS_OK;
}

/* A list of distinct non-negative integers below limit, or "all". */
static rs_status parse_index_list(const yt_node *n, const char *what,
                                  uint32_t limit, int allow_negative,
                                  uint32_t **out, uint32_t *n_out, int *all,
                                  rs_error_t *err)
{
    if (n->type == YT_SCALAR && !n->quoted && strcmp(n->value, "all") == 0) {
        *all = 1;
        return RS_OK;
    }
    if (n->type != YT_SEQ || n->n == 0)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected all or a non-empty list of "
                            "indices, got %s", what, type_name(n));
    uint32_t *v = calloc(n->n, sizeof *v);
    if (!v)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    *out = v;
    /* negative indices count from the end when allowed: -1 is the last
     * epoch, so a spec keeps meaning the same under train.epochs=... */
    for (size_t i = 0; i < n->n; i++) {
        int64_t x;
        TRY(get_i64(n->kids[i], what, allow_negative ? -(int64_t)limit : 0,
                    (int64_t)limit - 1, &x, err));
        v[i] = (uint32_t)(x < 0 ? x + (int64_t)limit : x);
    }
    /* sort (insertion: lists are short) and refuse duplicates */
    for (size_t i = 1; i < n->n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint32_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    /* a selection: repeats (e.g. 0 and -1 with one epoch) select once */
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++)
        if (k == 0 || v[i] != v[k - 1])
            v[k++] = v[i];
    *n_out = (uint32_t)k;
    return RS_OK;
}

/* A step selection (record.masks, record.act_var): none, all, or
 * {epochs: ..., steps: ...}, each list or all (epochs may count from the
 * end).  *on is 0 for none; the lists are owned by the spec. */
static rs_status parse_selection(const yt_node *v, const char *what,
                                 uint32_t n_epochs, int *on,
                                 rs_record_sel_t *sel, uint32_t **epochs,
                                 uint32_t **steps, rs_error_t *err)
{
    static const char *const sel_keys[] = {"epochs", "steps", NULL};
    char name[64];
    if (v->type == YT_SCALAR && !v->quoted && strcmp(v->value, "none") == 0) {
        *on = 0;
        return RS_OK;
    }
    *on = 1;
    if (v->type == YT_SCALAR && !v->quoted && strcmp(v->value, "all") == 0) {
        sel->all = 1;
        return RS_OK;
    }
    if (v->type != YT_MAP)
        return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                            "%s: expected none, all, or a mapping "
                            "{epochs: ..., steps: ...}, got %s", what,
                            type_name(v));
    TRY(check_keys(v, what, sel_keys, err));
    sel->all = 0;
    sel->epochs_all = sel->steps_all = 1;
    const yt_node *e = rs_yt_get(v, "epochs"), *st = rs_yt_get(v, "steps");
    if (e) {
        sel->epochs_all = 0;
        snprintf(name, sizeof name, "%s.epochs", what);
        TRY(parse_index_list(e, name, n_epochs, 1, epochs, &sel->n_epochs,
                             &sel->epochs_all, err));
    }
    if (st) {
        sel->steps_all = 0;
        snprintf(name, sizeof name, "%s.steps", what);
        TRY(parse_index_list(st, name, UINT32_MAX, 0, steps, &sel->n_steps,
                             &sel->steps_all, err));
    }
    sel->epochs = *epochs;
    sel->steps = *steps;
    return RS_OK;
}

static rs_status parse_record(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"masks", "train_eval", "zero_frac",
                                       "mc_dropout_samples", "act_var",
                                       "dropconnect_masks", NULL};
    rs_train_settings_t *t = &s->settings;
    const yt_node *v;
    TRY(want_map(n, "record", err));
    TRY(check_keys(n, "record", keys, err));
    if ((v = rs_yt_get(n, "train_eval")))
        TRY(get_bool(v, "record.train_eval", &t->eval_train, err));
    if ((v = rs_yt_get(n, "zero_frac"))) {
        TRY(get_bool(v, "record.zero_frac", &t->record_zero_frac, err));
        s->zero_frac_set = 1;
    }
    /* the older spelling of eval.mc_samples, kept: stored results keep
     * their spec text, and verify and rerun parse it again */
    if ((v = rs_yt_get(n, "mc_dropout_samples")))
        TRY(get_u32(v, "record.mc_dropout_samples (0: off)", 0,
                    RS_MC_SAMPLES_MAX, &t->mc_samples, err));
    if ((v = rs_yt_get(n, "act_var")))
        TRY(parse_selection(v, "record.act_var", t->epochs, &t->record_act_var,
                            &t->act_var_sel, &s->act_var_epochs,
                            &s->act_var_steps, err));
    if ((v = rs_yt_get(n, "masks")))
        TRY(parse_selection(v, "record.masks", t->epochs, &t->record_masks,
                            &t->mask_sel, &s->mask_epochs, &s->mask_steps,
                            err));
    if ((v = rs_yt_get(n, "dropconnect_masks")))
        TRY(parse_selection(v, "record.dropconnect_masks", t->epochs,
                            &t->record_dc_masks, &t->dc_mask_sel,
                            &s->dc_mask_epochs, &s->dc_mask_steps, err));
    return RS_OK;
}

/* ---- axes ---------------------------------------------------------------- */

/* Duplicate detection in O(n log n): an axis may list 1e5 values, and a
 * pairwise check took seconds on such a list (minutes under ASan).  Each
 * entry is keyed by its value(s) as used in training (float32 bits, with -0
 * folded into +0, or the seed) and sorted by (key, position). */
typedef struct axis_entry {
    uint64_t key[RS_MAX_LAYERS];
    int width;
    size_t index;               /* position in the list */
} axis_entry;

static int cmp_axis_entry(const void *pa, const void *pb)
{
    const axis_entry *a = pa, *b = pb;
    for (int l = 0; l < a->width; l++)
        if (a->key[l] != b->key[l])
            return a->key[l] < b->key[l] ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static uint64_t float32_key(double v)
{
    float f = (float)v;
    uint32_t bits;
    if (f == 0.0f)
        f = 0.0f;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* Sorts e and returns the smallest position that repeats an earlier entry
 * (*earlier: the first position with that value), or n if all differ. */
static size_t first_repeat(axis_entry *e, size_t n, size_t *earlier)
{
    qsort(e, n, sizeof *e, cmp_axis_entry);
    size_t best = n, group = 0;
    for (size_t i = 1; i < n; i++) {
        if (memcmp(e[i].key, e[i - 1].key, (size_t)e[i].width * sizeof e[i].key[0])) {
            group = i;
            continue;
        }
        if (i == group + 1 && e[i].index < best) {
            best = e[i].index;
            *earlier = e[group].index;
        }
    }
    return best;
}

static rs_status parse_seeds(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    if (n->type == YT_MAP) {
        static const char *const keys[] = {"from", "to", NULL};
        const yt_node *a, *b;
        int64_t lo, hi;
        TRY(check_keys(n, "axes.seed", keys, err));
        TRY(required(n, "from", "axes.seed", &a, err));
        TRY(required(n, "to", "axes.seed", &b, err));
        TRY(get_i64(a, "axes.seed.from", 0, INT64_MAX, &lo, err));
        TRY(get_i64(b, "axes.seed.to", lo, INT64_MAX, &hi, err));
        if ((uint64_t)(hi - lo) >= RS_SPEC_MAX_AXIS)
            return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                                "axes.seed: %llu seeds; at most %u per axis",
                                (unsigned long long)(hi - lo) + 1,
                                RS_SPEC_MAX_AXIS);
        s->n_seeds = (uint32_t)(hi - lo + 1);
        s->seeds = calloc(s->n_seeds, sizeof *s->seeds);
        if (!s->seeds)
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        for (uint32_t i = 0; i < s->n_seeds; i++)
            s->seeds[i] = (uint64_t)lo + i;
        return RS_OK;
    }
    size_t count = n->type == YT_SEQ ? n->n : 1;
    if (count == 0)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "axes.seed: empty list; give at least one seed");
    if (count > RS_SPEC_MAX_AXIS)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "axes.seed: %zu values; at most %u per axis",
                            count, RS_SPEC_MAX_AXIS);
    s->seeds = calloc(count, sizeof *s->seeds);
    if (!s->seeds)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    s->n_seeds = (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        const yt_node *v = n->type == YT_SEQ ? n->kids[i] : n;
        int64_t x;
        TRY(get_i64(v, "axes.seed", 0, INT64_MAX, &x, err));
        s->seeds[i] = (uint64_t)x;
    }
    axis_entry *e = calloc(count, sizeof *e);
    if (!e)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < count; i++)
        e[i] = (axis_entry){.key = {s->seeds[i]}, .width = 1, .index = i};
    size_t earlier = 0, dup = first_repeat(e, count, &earlier);
    free(e);
    if (dup < count) {
        const yt_node *v = n->kids[dup];
        return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                            "axes.seed: seed %llu is listed twice",
                            (unsigned long long)s->seeds[dup]);
    }
    return RS_OK;
}

/* A scalar or a list of doubles in range, all distinct. */
static rs_status parse_number_axis(const yt_node *n, const char *what,
                                   range r, double **out, uint32_t *n_out,
                                   rs_error_t *err)
{
    size_t count = n->type == YT_SEQ ? n->n : 1;
    if (n->type == YT_MAP)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: expected a number or a list of numbers, got "
                            "a mapping", what);
    if (count == 0)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: empty list; give at least one value", what);
    if (count > RS_SPEC_MAX_AXIS)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: %zu values; at most %u per axis", what, count,
                            RS_SPEC_MAX_AXIS);
    double *v = calloc(count, sizeof *v);
    if (!v)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    *out = v;
    *n_out = (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        const yt_node *k = n->type == YT_SEQ ? n->kids[i] : n;
        TRY(get_f64(k, what, r, &v[i], err));
    }
    axis_entry *e = calloc(count, sizeof *e);
    if (!e)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < count; i++)
        e[i] = (axis_entry){.key = {float32_key(v[i])}, .width = 1, .index = i};
    size_t earlier = 0, dup = first_repeat(e, count, &earlier);
    free(e);
    if (dup < count) {
        const yt_node *k = n->kids[dup];
        return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                            "%s: value %s repeats an earlier value "
                            "(equal as float32)", what, k->value);
    }
    return RS_OK;
}

/* keep_prob: a number (all hidden layers), or a list whose entries are
 * numbers (all hidden layers) or per-layer lists of n_hidden numbers. */
static rs_status parse_keep(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    int h = rs_spec_n_hidden(s);
    size_t count = n->type == YT_SEQ ? n->n : 1;
    if (n->type == YT_MAP)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "axes.keep_prob: expected a number or a list, "
                            "got a mapping");
    if (count == 0)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "axes.keep_prob: empty list; give at least one "
                            "value");
    if (count > RS_SPEC_MAX_AXIS)
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "axes.keep_prob: %zu values; at most %u per axis",
                            count, RS_SPEC_MAX_AXIS);
    int width = h > 0 ? h : 1;
    s->keep = calloc(count * width, sizeof *s->keep);
    if (!s->keep)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    s->n_keep = (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        const yt_node *k = n->type == YT_SEQ ? n->kids[i] : n;
        double *row = s->keep + i * width;
        if (k->type == YT_SEQ) {
            if ((int)k->n != h)
                return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                    "axes.keep_prob: a per-layer entry needs "
                                    "%d values (one per hidden layer), got "
                                    "%zu", h, k->n);
            for (int l = 0; l < h; l++)
                TRY(get_f64(k->kids[l], "axes.keep_prob", R_KEEP, &row[l], err));
        } else {
            TRY(get_f64(k, "axes.keep_prob", R_KEEP, &row[0], err));
            for (int l = 1; l < width; l++)
                row[l] = row[0];
        }
        if (h == 0 && row[0] != 1.0)
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "axes.keep_prob: the model has no hidden "
                                "layer to drop; only 1 is allowed");
    }
    axis_entry *e = calloc(count, sizeof *e);
    if (!e)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < count; i++) {
        e[i].width = width;
        e[i].index = i;
        for (int l = 0; l < width; l++)
            e[i].key[l] = float32_key(s->keep[i * width + l]);
    }
    size_t earlier = 0, dup = first_repeat(e, count, &earlier);
    free(e);
    if (dup < count) {
        const yt_node *k = n->kids[dup];
        return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                            "axes.keep_prob: entry %zu repeats entry %zu",
                            dup + 1, earlier + 1);
    }
    return RS_OK;
}

/* ---- extra axes: any key of dataset, model, train, reg or eval ---------- *
 *
 * An extra axis names a key by its dotted path (train.lr) and lists values
 * for it.  Each value is validated by the section's own parser, run on the
 * section with the axis's key set to that value (and the section's other
 * axes at their first values), so it gets the messages and the location
 * (the value in `axes`) that the key would get in its section.  A job's
 * settings are the spec's (parsed with every axis at its first value) with
 * the job's axis values applied (axis_apply). */

enum section { SEC_DATASET, SEC_MODEL, SEC_TRAIN, SEC_REG, SEC_EVAL,
               N_SECTIONS };
static const char *const section_names[N_SECTIONS] = {"dataset", "model",
                                                      "train", "reg", "eval"};

enum setting {
    X_N_TRAIN, X_N_TEST, X_N_VAL, X_NOISE_SD, X_CLASSES, X_MAX_TRAIN,
    X_MAX_TEST, X_LAYERS, X_ACTIVATION, X_INIT, X_INIT_SD, X_LOSS, X_LR,
    X_EPOCHS, X_BATCH_SIZE, X_SHUFFLE, X_L1_MODE, X_MAX_NORM,
    X_INPUT_NOISE_SD, X_NOISE, X_DROPCONNECT, X_DC_KEEP, X_PATIENCE,
    X_MIN_DELTA, X_MC_SAMPLES, X_REFUSED
};

typedef struct axis_key {
    const char *key;
    int id, section;
    rs_axis_type type;
    int is_float;          /* used as a float32: values equal as float32
                              repeat (else integers or names, exactly)    */
    const char *refused;   /* why it cannot be an axis; NULL: it can      */
} axis_key_t;

#define AX_NUM(k, id, sec, fl) {k, id, sec, RS_AXIS_NUMBER, fl, NULL}
#define AX_TXT(k, id, sec) {k, id, sec, RS_AXIS_TEXT, 0, NULL}
#define AX_NO(k, sec, why) {k, X_REFUSED, sec, RS_AXIS_TEXT, 0, why}
#define WHY_FILES "the data files are read once for the sweep and their " \
                  "content is not part of a job's id; write one spec per data set"
static const axis_key_t axis_keys[] = {
    AX_NUM("dataset.n_train", X_N_TRAIN, SEC_DATASET, 0),
    AX_NUM("dataset.n_test", X_N_TEST, SEC_DATASET, 0),
    AX_NUM("dataset.n_val", X_N_VAL, SEC_DATASET, 0),
    AX_NUM("dataset.noise_sd", X_NOISE_SD, SEC_DATASET, 1),
    AX_NUM("dataset.classes", X_CLASSES, SEC_DATASET, 0),
    AX_NUM("dataset.max_train", X_MAX_TRAIN, SEC_DATASET, 0),
    AX_NUM("dataset.max_test", X_MAX_TEST, SEC_DATASET, 0),
    AX_TXT("model.layers", X_LAYERS, SEC_MODEL),
    AX_TXT("model.activation", X_ACTIVATION, SEC_MODEL),
    AX_TXT("model.init", X_INIT, SEC_MODEL),
    AX_NUM("model.init_sd", X_INIT_SD, SEC_MODEL, 1),
    AX_TXT("model.loss", X_LOSS, SEC_MODEL),
    AX_NUM("train.lr", X_LR, SEC_TRAIN, 1),
    AX_NUM("train.epochs", X_EPOCHS, SEC_TRAIN, 0),
    AX_TXT("train.batch_size", X_BATCH_SIZE, SEC_TRAIN),
    AX_TXT("train.shuffle", X_SHUFFLE, SEC_TRAIN),
    AX_TXT("reg.l1_mode", X_L1_MODE, SEC_REG),
    AX_NUM("reg.max_norm", X_MAX_NORM, SEC_REG, 1),
    AX_NUM("reg.input_noise_sd", X_INPUT_NOISE_SD, SEC_REG, 1),
    AX_TXT("reg.noise", X_NOISE, SEC_REG),
    /* a number (f64 column) unless a value is a per-layer list (str) */
    {"reg.dropconnect_keep", X_DC_KEEP, SEC_REG, RS_AXIS_NUMBER, 1, NULL},
    AX_NUM("reg.dropconnect_keep_prob", X_DROPCONNECT, SEC_REG, 1),
    AX_NUM("reg.early_stopping_patience", X_PATIENCE, SEC_REG, 0),
    AX_NUM("reg.early_stopping_min_delta", X_MIN_DELTA, SEC_REG, 1),
    AX_NUM("eval.mc_samples", X_MC_SAMPLES, SEC_EVAL, 0),
    AX_NO("dataset.kind", SEC_DATASET, "the kind decides which dataset keys "
          "exist and what the model is; write one spec per kind"),
    AX_NO("dataset.seed", SEC_DATASET, "it is a Philox key: it fixes one data "
          "set for every job; leave it out and each job's seed (axes.seed) "
          "draws its own data"),
    AX_NO("dataset.split_seed", SEC_DATASET, "it is a Philox key: the "
          "validation split is fixed for a sweep; vary seeds with axes.seed"),
    AX_NO("dataset.dir", SEC_DATASET, WHY_FILES),
    AX_NO("dataset.train_images", SEC_DATASET, WHY_FILES),
    AX_NO("dataset.train_labels", SEC_DATASET, WHY_FILES),
    AX_NO("dataset.test_images", SEC_DATASET, WHY_FILES),
    AX_NO("dataset.test_labels", SEC_DATASET, WHY_FILES),
};
#define N_AXIS_KEYS (sizeof axis_keys / sizeof *axis_keys)
#undef AX_NUM
#undef AX_TXT
#undef AX_NO
#undef WHY_FILES

/* Where each extra axis is in the YAML tree (while parsing). */
typedef struct parse_ctx {
    const yt_node *root, *axes;
    const yt_node *key[RS_SPEC_MAX_AXES], *val[RS_SPEC_MAX_AXES];
} parse_ctx;

static int axis_section(const rs_spec_t *s, int a)
{
    return axis_keys[s->axes[a].setting].section;
}

static const char *axis_leaf(const rs_spec_t *s, int a)
{
    return strchr(s->axes[a].key, '.') + 1;
}

/* Value j of an axis given as a list (or its only value, a scalar). */
static const yt_node *axis_value_node(const yt_node *v, uint32_t j)
{
    return v->type == YT_SEQ ? v->kids[j] : v;
}

static rs_status parse_section(int sec, const yt_node *n, rs_spec_t *s,
                               rs_error_t *err);

/* Parses section sec of the spec into *into (a copy of s, or s itself) with
 * each of the section's extra axes set to its value sel[a], or, for axis
 * `over` (>= 0), to the node over_node.  A spec without the section but
 * with axes for it parses an empty mapping plus those keys. */
static rs_status parse_section_at(const parse_ctx *cx, int sec,
                                  const rs_spec_t *s, const uint32_t *sel,
                                  int over, const yt_node *over_node,
                                  rs_spec_t *into, rs_error_t *err)
{
    const yt_node *base = rs_yt_get(cx->root, section_names[sec]);
    int here = 0;
    for (int a = 0; a < s->n_axes; a++)
        here += axis_section(s, a) == sec;
    if (!here) {
        if (!base && (sec == SEC_REG || sec == SEC_EVAL))
            return RS_OK;   /* optional sections */
        if (!base)
            return rs_error_set(err, RS_EINPUT, cx->root->src, cx->root->line,
                                cx->root->col, "missing required key '%s' in "
                                "the spec", section_names[sec]);
        return parse_section(sec, base, into, err);
    }
    if (base)
        TRY(want_map(base, section_names[sec], err));
    yt_node map = base ? *base
                       : (yt_node){.type = YT_MAP, .src = cx->axes->src,
                                   .line = cx->axes->line, .col = cx->axes->col};
    size_t n0 = base ? base->n : 0;
    yt_node **kids = malloc((n0 + 2 * (size_t)here) * sizeof *kids);
    yt_node keys[RS_SPEC_MAX_AXES];
    if (!kids)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    if (n0)
        memcpy(kids, base->kids, n0 * sizeof *kids);
    size_t n = n0;
    int k = 0;
    for (int a = 0; a < s->n_axes; a++) {
        if (axis_section(s, a) != sec)
            continue;
        const yt_node *at = cx->key[a];
        keys[k] = (yt_node){.type = YT_SCALAR, .src = at->src,
                            .line = at->line, .col = at->col,
                            .value = (char *)axis_leaf(s, a)};
        kids[n++] = &keys[k++];
        kids[n++] = (yt_node *)(a == over ? over_node
                                          : axis_value_node(cx->val[a], sel[a]));
    }
    map.kids = kids;
    map.n = map.cap = n;
    rs_status st = parse_section(sec, &map, into, err);
    free(kids);
    return st;
}

static rs_status parse_section(int sec, const yt_node *n, rs_spec_t *s,
                               rs_error_t *err)
{
    switch (sec) {
    case SEC_DATASET: return parse_dataset(n, s, err);
    case SEC_MODEL: return parse_model(n, s, err);
    case SEC_TRAIN: return parse_train(n, s, err);
    case SEC_REG: return parse_reg(n, s, err);
    default: return parse_eval(n, s, err);
    }
}

/* The nearest axis key to a misspelled one (edit distance < 3), or NULL. */
static const char *nearest_axis_key(const char *key)
{
    static const char *const short_names[] = {"seed", "keep_prob", "l2", "l1"};
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < N_AXIS_KEYS + 4; i++) {
        const char *k = i < N_AXIS_KEYS ? axis_keys[i].key
                                        : short_names[i - N_AXIS_KEYS];
        if (i < N_AXIS_KEYS && axis_keys[i].refused)
            continue;
        size_t d = edit_distance(key, k);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

/* The dotted keys of `axes`: which settings, refusals, conflicts with the
 * sections.  Fills s->axes[].key/setting/type and cx. */
static rs_status find_axes(parse_ctx *cx, rs_spec_t *s, rs_error_t *err)
{
    const yt_node *axes = cx->axes;
    for (size_t i = 0; i + 1 < axes->n; i += 2) {
        const yt_node *k = axes->kids[i], *v = axes->kids[i + 1];
        const char *dot = strchr(k->value, '.');
        if (!dot) {
            for (int sec = 0; sec < N_SECTIONS; sec++)
                if (!strcmp(k->value, section_names[sec]))
                    return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                        "axes.%s: name the key by its dotted "
                                        "path, e.g. %s: [...]", k->value,
                                        sec == SEC_MODEL ? "model.layers"
                                        : sec == SEC_TRAIN ? "train.lr"
                                        : sec == SEC_REG ? "reg.noise"
                                        : sec == SEC_EVAL ? "eval.mc_samples"
                                                         : "dataset.n_train");
            continue;   /* a short name: parse_axes checks it */
        }
        int sec = 0;
        while (sec < N_SECTIONS &&
               (strlen(section_names[sec]) != (size_t)(dot - k->value) ||
                strncmp(section_names[sec], k->value, (size_t)(dot - k->value))))
            sec++;
        if (sec == N_SECTIONS && !strcmp(k->value, OLD_MC_KEY))
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "axes: %s cannot be an axis; its current "
                                "name %s can", OLD_MC_KEY, NEW_MC_KEY);
        if (sec == N_SECTIONS)
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "axes: '%s' cannot be an axis: only keys of "
                                "dataset, model, train, reg and eval can "
                                "(record, report and name are the same for "
                                "every job of a sweep)", k->value);
        size_t x = 0;
        while (x < N_AXIS_KEYS && strcmp(axis_keys[x].key, k->value))
            x++;
        if (x == N_AXIS_KEYS) {
            const char *best = nearest_axis_key(k->value);
            if (best)
                return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                    "unknown key '%s' in axes (did you mean "
                                    "'%s'?)", k->value, best);
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "unknown key '%s' in axes: an axis names a "
                                "key of dataset, model, train, reg or eval "
                                "(docs/SPEC.md lists them)", k->value);
        }
        if (axis_keys[x].refused)
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "axes: %s cannot be an axis: %s", k->value,
                                axis_keys[x].refused);
        const yt_node *section = rs_yt_get(cx->root, section_names[sec]);
        const yt_node *given = section && section->type == YT_MAP
                                   ? rs_yt_get(section, dot + 1) : NULL;
        if (given) {
            /* the key node of the section's entry, for its location */
            const yt_node *gk = given;
            for (size_t j = 1; j < section->n; j += 2)
                if (section->kids[j] == given)
                    gk = section->kids[j - 1];
            return rs_error_set(err, RS_EINPUT, gk->src, gk->line, gk->col,
                                "%s is given in %s and as an axis (axes, "
                                "line %d): keep one", k->value,
                                section_names[sec], k->line);
        }
        if (s->n_axes == RS_SPEC_MAX_AXES)
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "axes: more than %d axes besides seed, "
                                "keep_prob, l2 and l1", RS_SPEC_MAX_AXES);
        /* the shape of the list: the sections are parsed with each axis
         * at its first value, so it must have one */
        if (v->type == YT_MAP)
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "axes.%s: expected a value or a list of "
                                "values, got a mapping", k->value);
        if (v->type == YT_SEQ && v->n == 0)
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "axes.%s: empty list; give at least one value",
                                k->value);
        if (v->type == YT_SEQ && v->n > RS_SPEC_MAX_AXIS)
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "axes.%s: %zu values; at most %u per axis",
                                k->value, v->n, RS_SPEC_MAX_AXIS);
        if (axis_keys[x].id == X_LAYERS &&
            (v->type != YT_SEQ || v->kids[0]->type != YT_SEQ))
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "axes.%s: expected a list of layer lists, "
                                "e.g. [[1, 64, 64, 1], [1, 256, 256, 1]]",
                                k->value);
        rs_axis_t *a = &s->axes[s->n_axes];
        snprintf(a->key, sizeof a->key, "%s", k->value);
        a->setting = (int)x;
        a->type = axis_keys[x].type;
        cx->key[s->n_axes] = k;
        cx->val[s->n_axes] = v;
        s->n_axes++;
    }
    return RS_OK;
}

/* The shortest %g text that reads back as x: 0.8, not 0.80000000000000004
 * (one spelling per value, so job ids do not depend on how it was typed). */
static void fmt_shortest(double x, char *buf, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* Fills v from a section parsed with the value node n (into tmp). */
static void axis_value_from(const axis_key_t *x, const rs_spec_t *tmp,
                            const yt_node *n, rs_axis_value_t *v)
{
    const rs_train_settings_t *t = &tmp->settings;
    memset(v, 0, sizeof *v);
    if (x->id == X_DC_KEEP || x->id == X_DROPCONNECT)
        for (int l = 0; l < t->arch.n_layers - 1; l++)
            v->keep[l] = t->reg.dropconnect_keep[l];
    if (x->id == X_DC_KEEP && n->type == YT_SEQ) {
        /* per hidden layer: 0.8/0.5, as report labels write keep_prob */
        for (size_t l = 0; l < n->n; l++) {
            size_t len = strlen(v->text);
            char num[32];
            fmt_shortest(strtod(n->kids[l]->value, NULL), num, sizeof num);
            snprintf(v->text + len, sizeof v->text - len, "%s%s",
                     l ? "/" : "", num);
        }
        v->per_layer = 1;
        return;
    }
    if (x->id == X_DC_KEEP) {
        /* shortest text: the column is str once another value is a list */
        v->num = strtod(n->value, NULL);
        fmt_shortest(v->num, v->text, sizeof v->text);
        return;
    }
    if (x->type == RS_AXIS_NUMBER) {
        /* the section's parser accepted it: a decimal number */
        v->num = strtod(n->value, NULL);
        snprintf(v->text, sizeof v->text, "%.17g", v->num);
        return;
    }
    switch (x->id) {
    case X_LAYERS:
        v->n_layers = t->arch.n_layers + 1;
        for (int l = 0; l < v->n_layers; l++) {
            size_t len = strlen(v->text);
            v->layers[l] = t->arch.sizes[l];
            snprintf(v->text + len, sizeof v->text - len, "%s%u", l ? "-" : "",
                     t->arch.sizes[l]);
        }
        return;
    case X_BATCH_SIZE:
        v->num = t->batch_size;
        if (t->batch_size == UINT32_MAX)
            snprintf(v->text, sizeof v->text, "full");
        else
            snprintf(v->text, sizeof v->text, "%u", t->batch_size);
        return;
    case X_SHUFFLE:
        v->num = t->shuffle;
        snprintf(v->text, sizeof v->text, "%s", t->shuffle ? "true" : "false");
        return;
    case X_ACTIVATION: v->num = t->arch.act; break;
    case X_INIT: v->num = t->init; break;
    case X_LOSS: v->num = t->arch.loss; break;
    case X_L1_MODE: v->num = t->reg.l1_mode; break;
    default: v->num = t->reg.noise; break;   /* X_NOISE */
    }
    /* a name: the section's parser matched it exactly */
    snprintf(v->text, sizeof v->text, "%s", n->value);
}

/* What makes two values the same job setting: float32 bits for float
 * settings, else the canonical text. */
static void axis_value_key(const axis_key_t *x, const rs_axis_value_t *v,
                           char *buf, size_t n)
{
    if (x->id == X_DC_KEEP) {
        /* per layer as trained: 0.5 and [0.5, 0.5] are one setting */
        size_t k = (size_t)snprintf(buf, n, "d");
        for (int l = 0; l + 1 < RS_MAX_LAYERS && k < n; l++)
            k += (size_t)snprintf(buf + k, n - k, "%08llx",
                                  (unsigned long long)float32_key(v->keep[l]));
    } else if (x->is_float)
        snprintf(buf, n, "f%08llx", (unsigned long long)float32_key(v->num));
    else
        snprintf(buf, n, "%s", v->text);
}

/* Sets the settings of job (already the spec's) for its axis values. */
static void axis_apply(const rs_spec_t *s, int a, const rs_axis_value_t *v,
                       rs_job_t *job)
{
    rs_train_settings_t *t = &job->settings;
    uint32_t u = (uint32_t)v->num;
    float f = (float)v->num;
    switch (axis_keys[s->axes[a].setting].id) {
    case X_N_TRAIN: job->sin.n_train = u; break;
    case X_N_TEST: job->sin.n_test = u; break;
    case X_N_VAL:
        if (s->data_kind == RS_DATA_SIN)
            job->sin.n_val = u;
        else
            job->idx.n_val = u;
        break;
    case X_NOISE_SD: job->sin.noise_sd = f; break;
    case X_CLASSES: job->idx.n_classes = u; break;
    case X_MAX_TRAIN: job->idx.max_train = u; break;
    case X_MAX_TEST: job->idx.max_test = u; break;
    case X_LAYERS:
        t->arch.n_layers = v->n_layers - 1;
        memcpy(t->arch.sizes, v->layers, sizeof t->arch.sizes);
        break;
    case X_ACTIVATION: t->arch.act = (rs_act)u; break;
    case X_INIT: t->init = (rs_init)u; break;
    case X_INIT_SD: t->init_sd = f; break;
    case X_LOSS: t->arch.loss = (rs_loss)u; break;
    case X_LR: t->lr = f; break;
    case X_EPOCHS:
        t->epochs = u;
        if (v->mask_epochs) {
            t->mask_sel.epochs = v->mask_epochs;
            t->mask_sel.n_epochs = v->n_mask_epochs;
        }
        if (v->act_var_epochs) {
            t->act_var_sel.epochs = v->act_var_epochs;
            t->act_var_sel.n_epochs = v->n_act_var_epochs;
        }
        if (v->dc_mask_epochs) {
            t->dc_mask_sel.epochs = v->dc_mask_epochs;
            t->dc_mask_sel.n_epochs = v->n_dc_mask_epochs;
        }
        break;
    case X_BATCH_SIZE: t->batch_size = u; break;
    case X_SHUFFLE: t->shuffle = (int)u; break;
    case X_L1_MODE:
        t->reg.l1_mode = (rs_l1_mode)u;
        if (!s->zero_frac_set)
            t->record_zero_frac = t->reg.l1_mode == RS_L1_PROXIMAL;
        break;
    case X_MAX_NORM: t->reg.max_norm = f; break;
    case X_INPUT_NOISE_SD: t->reg.input_noise_sd = f; break;
    case X_NOISE: t->reg.noise = (rs_noise_kind)u; break;
    case X_DROPCONNECT:
    case X_DC_KEEP:
        for (int l = 0; l < RS_MAX_LAYERS; l++)
            t->reg.dropconnect_keep[l] = (float)v->keep[l];
        break;
    case X_PATIENCE: t->reg.early_stopping_patience = u; break;
    case X_MIN_DELTA: t->reg.early_stopping_min_delta = v->num; break;
    case X_MC_SAMPLES: t->mc_samples = u; break;
    default: break;
    }
}

/* The job's settings for extra-axis combination combo: the spec's, then
 * each axis's value. */
static void job_settings(const rs_spec_t *s, uint64_t combo, rs_job_t *job)
{
    job->combo = combo;
    job->settings = s->settings;
    job->sin = s->sin;
    job->idx = s->idx;
    for (int a = s->n_axes - 1; a >= 0; a--) {
        job->i_axis[a] = (uint32_t)(combo % s->axes[a].n);
        combo /= s->axes[a].n;
    }
    for (int a = 0; a < s->n_axes; a++)
        axis_apply(s, a, &s->axes[a].values[job->i_axis[a]], job);
}

/* "train.lr=0.5, model.layers=1-64-1": a combination, for messages. */
static void combo_text(const rs_spec_t *s, const rs_job_t *job, char *buf,
                       size_t n)
{
    buf[0] = '\0';
    for (int a = 0; a < s->n_axes; a++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s=%s", a ? ", " : "", s->axes[a].key,
                 s->axes[a].values[job->i_axis[a]].text);
    }
}

typedef struct key_entry {
    char key[128];
    size_t index;
} key_entry;

static int cmp_key_entry(const void *pa, const void *pb)
{
    const key_entry *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Parses the values of extra axis a: each through its section's parser;
 * distinct as used; model.layers of one depth; n_val >= 1. */
static rs_status parse_extra_axis(const parse_ctx *cx, rs_spec_t *s, int a,
                                  rs_error_t *err)
{
    rs_axis_t *ax = &s->axes[a];
    const axis_key_t *x = &axis_keys[ax->setting];
    const yt_node *v = cx->val[a];
    char what[64];
    snprintf(what, sizeof what, "axes.%s", ax->key);
    size_t count = v->type == YT_SEQ ? v->n : 1;
    ax->values = calloc(count, sizeof *ax->values);
    if (!ax->values)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    ax->n = (uint32_t)count;
    uint32_t sel[RS_SPEC_MAX_AXES] = {0};
    for (size_t j = 0; j < count; j++) {
        const yt_node *n = axis_value_node(v, (uint32_t)j);
        rs_spec_t tmp = *s;
        sel[a] = (uint32_t)j;
        TRY(parse_section_at(cx, x->section, s, sel, -1, NULL, &tmp, err));
        axis_value_from(x, &tmp, n, &ax->values[j]);
        if (x->id == X_LAYERS && ax->values[j].n_layers != ax->values[0].n_layers)
            return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                                "%s: every value needs %d layer sizes, as the "
                                "first (%s): keep_prob and the /jobs "
                                "keep_prob columns are per hidden layer", what,
                                ax->values[0].n_layers, ax->values[0].text);
        if (x->id == X_N_VAL && ax->values[j].num < 1)
            return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                                "%s: an axis over n_val needs values >= 1 "
                                "(whether a validation split exists decides "
                                "which curves and /jobs columns the sweep "
                                "has), got %s", what, n->value);
    }
    /* reg.dropconnect_keep with a per-layer list: a str column */
    for (size_t j = 0; j < count; j++)
        if (ax->values[j].per_layer)
            ax->type = RS_AXIS_TEXT;
    key_entry *e = calloc(count, sizeof *e);
    if (!e)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t j = 0; j < count; j++) {
        axis_value_key(x, &ax->values[j], e[j].key, sizeof e[j].key);
        e[j].index = j;
    }
    qsort(e, count, sizeof *e, cmp_key_entry);
    /* sorted by (key, position): the second of each run repeats the
     * run's first; report the repeat that comes first in the list */
    size_t dup = count, earlier = 0, group = 0;
    for (size_t j = 1; j < count; j++) {
        if (strcmp(e[j].key, e[j - 1].key)) {
            group = j;
            continue;
        }
        if (j == group + 1 && e[j].index < dup) {
            dup = e[j].index;
            earlier = e[group].index;
        }
    }
    free(e);
    if (dup < count) {
        const yt_node *n = axis_value_node(v, (uint32_t)dup);
        if (x->is_float && x->id != X_DC_KEEP)
            return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                                "%s: value %s repeats an earlier value "
                                "(equal as float32)", what, n->value);
        return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                            "%s: entry %zu (%s) repeats entry %zu%s", what,
                            dup + 1, ax->values[dup].text, earlier + 1,
                            x->id == X_DC_KEEP ? " (equal as float32 in "
                                                 "every layer)" : "");
    }
    return RS_OK;
}

/* With train.epochs as an axis, record.masks.epochs,
 * record.act_var.epochs and record.dropconnect_masks.epochs (which may
 * count from the end) are resolved for each number of epochs. */
static rs_status resolve_sel_epochs(const parse_ctx *cx, rs_spec_t *s,
                                    const char *key, rs_error_t *err)
{
    char what[64];
    snprintf(what, sizeof what, "record.%s.epochs", key);
    const yt_node *r = rs_yt_get(cx->root, "record");
    const yt_node *m = r && r->type == YT_MAP ? rs_yt_get(r, key) : NULL;
    const yt_node *e = m && m->type == YT_MAP ? rs_yt_get(m, "epochs") : NULL;
    if (!e || (e->type == YT_SCALAR && !e->quoted && !strcmp(e->value, "all")))
        return RS_OK;
    const int which = !strcmp(key, "masks") ? 0 : !strcmp(key, "act_var") ? 1 : 2;
    for (int a = 0; a < s->n_axes; a++) {
        rs_axis_t *ax = &s->axes[a];
        if (axis_keys[ax->setting].id != X_EPOCHS)
            continue;
        for (uint32_t j = 0; j < ax->n; j++) {
            rs_axis_value_t *v = &ax->values[j];
            int all = 0;
            uint32_t **list[3] = {&v->mask_epochs, &v->act_var_epochs,
                                  &v->dc_mask_epochs};
            uint32_t *n_list[3] = {&v->n_mask_epochs, &v->n_act_var_epochs,
                                   &v->n_dc_mask_epochs};
            rs_status st = parse_index_list(e, what, (uint32_t)v->num, 1,
                                            list[which], n_list[which], &all,
                                            err);
            if (st) {
                if (err && st == RS_EINPUT) {
                    size_t len = strlen(err->msg);
                    snprintf(err->msg + len, sizeof err->msg - len,
                             " (with train.epochs = %s, a value of its axis)",
                             v->text);
                }
                return st;
            }
        }
    }
    return RS_OK;
}

static int cmp_axis_key(const rs_spec_t *s, int a, int b)
{
    return strcmp(s->axes[a].key, s->axes[b].key);
}

/* The extra axes' values, the grid's size with them, the canonical order. */
static rs_status parse_extra_axes(const parse_ctx *cx, rs_spec_t *s,
                                  rs_error_t *err)
{
    s->n_combos = 1;
    for (int a = 0; a < s->n_axes; a++) {
        TRY(parse_extra_axis(cx, s, a, err));
        s->n_combos *= s->axes[a].n;
        if (s->n_combos * s->n_jobs > RS_SPEC_MAX_JOBS)
            return rs_error_set(err, RS_EINPUT, cx->axes->src, cx->axes->line,
                                cx->axes->col, "axes: the grid has more than "
                                "%u jobs (the cap); split the sweep into "
                                "several specs", RS_SPEC_MAX_JOBS);
    }
    s->n_jobs *= s->n_combos;
    for (int a = 0; a < s->n_axes; a++) {
        int j = a;
        while (j > 0 && cmp_axis_key(s, s->axis_by_key[j - 1], a) > 0) {
            s->axis_by_key[j] = s->axis_by_key[j - 1];
            j--;
        }
        s->axis_by_key[j] = a;
    }
    TRY(resolve_sel_epochs(cx, s, "masks", err));
    TRY(resolve_sel_epochs(cx, s, "dropconnect_masks", err));
    return resolve_sel_epochs(cx, s, "act_var", err);
}

static rs_status parse_axes(const yt_node *n, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"seed", "keep_prob", "l2", "l1", NULL};
    const yt_node *v;
    TRY(want_map(n, "axes", err));
    TRY(check_keys_how(n, "axes", keys, 1, err));
    TRY(required(n, "seed", "axes", &v, err));
    TRY(parse_seeds(v, s, err));
    yt_node one = {.type = YT_SCALAR, .value = "1", .src = n->src,
                   .line = n->line, .col = n->col};
    yt_node zero = one;
    zero.value = "0";
    TRY(parse_keep((v = rs_yt_get(n, "keep_prob")) ? v : &one, s, err));
    TRY(parse_number_axis((v = rs_yt_get(n, "l2")) ? v : &zero, "axes.l2",
                          R_NONNEG, &s->l2, &s->n_l2, err));
    TRY(parse_number_axis((v = rs_yt_get(n, "l1")) ? v : &zero, "axes.l1",
                          R_NONNEG, &s->l1, &s->n_l1, err));
    uint64_t jobs = s->n_seeds;
    const uint32_t dims[3] = {s->n_keep, s->n_l2, s->n_l1};
    for (int i = 0; i < 3; i++) {
        jobs *= dims[i];   /* each factor <= 1e5, so no overflow before the check */
        if (jobs > RS_SPEC_MAX_JOBS)
            return rs_error_set(err, RS_EINPUT, n->src, n->line, n->col,
                                "axes: the grid has more than %u jobs (the "
                                "cap); split the sweep into several specs",
                                RS_SPEC_MAX_JOBS);
    }
    s->n_jobs = jobs;
    return RS_OK;
}

static rs_status parse_report(const parse_ctx *cx, const yt_node *n,
                              rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"baseline", "n_boot", "boot_seed", NULL};
    static const char *const bkeys[] = {"keep_prob", "l2", "l1", NULL};
    const yt_node *v;
    TRY(want_map(n, "report", err));
    TRY(check_keys(n, "report", keys, err));
    if ((v = rs_yt_get(n, "n_boot")))
        TRY(get_u32(v, "report.n_boot", 100, 10000000, &s->n_boot, err));
    if ((v = rs_yt_get(n, "boot_seed"))) {
        int64_t x;
        TRY(get_i64(v, "report.boot_seed", 0, INT64_MAX, &x, err));
        s->boot_seed = (uint64_t)x;
    }
    const yt_node *b = rs_yt_get(n, "baseline");
    if (!b)
        return RS_OK;
    TRY(want_map(b, "report.baseline", err));
    TRY(check_keys_how(b, "report.baseline", bkeys, 1, err));
    int h = rs_spec_n_hidden(s);
    s->has_baseline = 1;
    for (int l = 0; l < RS_MAX_LAYERS; l++)
        s->baseline_keep[l] = 1.0;
    if ((v = rs_yt_get(b, "keep_prob"))) {
        if (v->type == YT_SEQ) {
            if ((int)v->n != h)
                return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                    "report.baseline.keep_prob: expected %d "
                                    "values, got %zu", h, v->n);
            for (int l = 0; l < h; l++)
                TRY(get_f64(v->kids[l], "report.baseline.keep_prob", R_KEEP,
                            &s->baseline_keep[l], err));
        } else {
            TRY(get_f64(v, "report.baseline.keep_prob", R_KEEP,
                        &s->baseline_keep[0], err));
            for (int l = 1; l < RS_MAX_LAYERS; l++)
                s->baseline_keep[l] = s->baseline_keep[0];
        }
    }
    if ((v = rs_yt_get(b, "l2")))
        TRY(get_f64(v, "report.baseline.l2", R_NONNEG, &s->baseline_l2, err));
    if ((v = rs_yt_get(b, "l1")))
        TRY(get_f64(v, "report.baseline.l1", R_NONNEG, &s->baseline_l1, err));
    /* an extra axis by its dotted key: one of the axis's values, validated
     * as the axis's values are */
    for (size_t i = 0; i + 1 < b->n; i += 2) {
        const yt_node *k = b->kids[i], *val = b->kids[i + 1];
        if (!strchr(k->value, '.'))
            continue;
        int a = rs_spec_axis_find(s, k->value);
        if (a < 0)
            return rs_error_set(err, RS_EINPUT, k->src, k->line, k->col,
                                "report.baseline: '%s' is not an axis of this "
                                "spec", k->value);
        const axis_key_t *x = &axis_keys[s->axes[a].setting];
        uint32_t sel[RS_SPEC_MAX_AXES] = {0};
        rs_spec_t tmp = *s;
        TRY(parse_section_at(cx, x->section, s, sel, a, val, &tmp, err));
        rs_axis_value_t got;
        axis_value_from(x, &tmp, val, &got);
        char want[128], have[128];
        axis_value_key(x, &got, want, sizeof want);
        s->baseline_axis[a] = -1;
        for (uint32_t j = 0; j < s->axes[a].n && s->baseline_axis[a] < 0; j++) {
            axis_value_key(x, &s->axes[a].values[j], have, sizeof have);
            if (!strcmp(want, have))
                s->baseline_axis[a] = (int)j;
        }
        if (s->baseline_axis[a] < 0)
            return rs_error_set(err, RS_EINPUT, val->src, val->line, val->col,
                                "report.baseline.%s: %s is not a value of "
                                "the axis", k->value, got.text);
    }
    return RS_OK;
}

/* Mask bytes one job would record: refused above this (per job). */
#define RS_MAX_MASK_BYTES (256ull << 20)

/* An upper bound of the steps sel selects (steps per epoch given). */
static uint64_t sel_steps(const rs_record_sel_t *sel, uint32_t epochs,
                          uint64_t steps)
{
    uint64_t n_e = sel->all || sel->epochs_all ? epochs : sel->n_epochs;
    uint64_t n_s = sel->all || sel->steps_all ? steps : sel->n_steps;
    return n_e * n_s;
}

/* The mask bytes a job with these settings records: dropout masks (batch
 * rows x units bits a step) and DropConnect masks (a bit per weight of each
 * masked matrix a step: large, hence their own selection). */
static uint64_t mask_volume(const rs_spec_t *s, const rs_job_t *job,
                            uint64_t *dc_bytes)
{
    const rs_train_settings_t *t = &job->settings;
    int h = t->arch.n_layers - 1;
    *dc_bytes = 0;
    if (h == 0)
        return 0;
    uint64_t n_train = s->data_kind == RS_DATA_SIN ? job->sin.n_train : 60000;
    if (s->data_kind == RS_DATA_IDX && job->idx.max_train)
        n_train = job->idx.max_train;
    uint64_t B = t->batch_size < n_train ? t->batch_size : n_train;
    uint64_t steps = (n_train + B - 1) / B;
    uint64_t row = 0, weights = 0;
    for (int l = 0; l < h; l++) {
        row += (t->arch.sizes[l + 1] + 7) / 8;
        float keep = t->reg.dropconnect_keep[l];
        if (keep > 0.0f && keep < 1.0f)
            weights += (uint64_t)t->arch.sizes[l + 1] *
                       ((t->arch.sizes[l + 2] + 7) / 8);
    }
    if (t->record_dc_masks)
        *dc_bytes = sel_steps(&t->dc_mask_sel, t->epochs, steps) * weights;
    uint64_t drop = t->record_masks
                        ? sel_steps(&t->mask_sel, t->epochs, steps) * B * row
                        : 0;
    return drop + *dc_bytes;
}

/* Every combination of the extra axes records at most RS_MAX_MASK_BYTES
 * of masks per job. */
static rs_status check_mask_volume(const yt_node *root, rs_spec_t *s,
                                   rs_error_t *err)
{
    for (uint64_t c = 0; c < s->n_combos; c++) {
        rs_job_t job;
        job_settings(s, c, &job);
        uint64_t dc = 0, bytes = mask_volume(s, &job, &dc);
        if (bytes <= RS_MAX_MASK_BYTES)
            continue;
        char with[512] = "";
        if (s->n_axes) {
            char combo[480];
            combo_text(s, &job, combo, sizeof combo);
            snprintf(with, sizeof with, " (with %s)", combo);
        }
        const yt_node *r = rs_yt_get(root, "record");
        const yt_node *at = r ? r : root;
        if (dc)
            return rs_error_set(err, RS_EINPUT, at->src, at->line, at->col,
                                "record: recording these masks takes %.0f "
                                "MiB per job%s (cap %llu MiB), %.0f MiB of "
                                "them DropConnect masks (a bit per masked "
                                "weight a step); choose epochs and steps, "
                                "e.g. record: {dropconnect_masks: {epochs: "
                                "[0, %u], steps: [0]}}", bytes / 1048576.0,
                                with, RS_MAX_MASK_BYTES >> 20, dc / 1048576.0,
                                job.settings.epochs - 1);
        return rs_error_set(err, RS_EINPUT, at->src, at->line, at->col,
                            "record.masks: recording these masks takes %.0f "
                            "MiB per job%s (cap %llu MiB); choose epochs and "
                            "steps, e.g. record: {masks: {epochs: [0, %u], "
                            "steps: [0]}}, or masks: none",
                            bytes / 1048576.0, with, RS_MAX_MASK_BYTES >> 20,
                            job.settings.epochs - 1);
    }
    return RS_OK;
}

/* The key node of map's entry key (for its location), or NULL. */
static const yt_node *key_node(const yt_node *map, const char *key)
{
    for (size_t i = 0; map && map->type == YT_MAP && i + 1 < map->n; i += 2)
        if (map->kids[i]->type == YT_SCALAR && !strcmp(map->kids[i]->value, key))
            return map->kids[i];
    return NULL;
}

/* record.mc_dropout_samples and eval.mc_samples (in eval or as an axis)
 * are one setting: a spec gives it once, or which one counts would depend
 * on the order the sections are read in. */
static rs_status check_mc_spellings(const yt_node *root, rs_error_t *err)
{
    const yt_node *old = key_node(rs_yt_get(root, "record"), "mc_dropout_samples");
    const yt_node *now = key_node(rs_yt_get(root, "eval"), "mc_samples");
    if (!now)
        now = key_node(rs_yt_get(root, "axes"), NEW_MC_KEY);
    if (!old || !now)
        return RS_OK;
    return rs_error_set(err, RS_EINPUT, old->src, old->line, old->col,
                        "%s is the older name of %s, which is given too (%s, "
                        "line %d, column %d): keep one", OLD_MC_KEY,
                        NEW_MC_KEY, now->src ? now->src : "?", now->line,
                        now->col);
}

static rs_status parse_root(const yt_node *root, rs_spec_t *s, rs_error_t *err)
{
    static const char *const keys[] = {"name", "dataset", "model", "train",
                                       "reg", "eval", "record", "axes",
                                       "report", NULL};
    const yt_node *v;
    if (!root)
        return rs_error_set(err, RS_EINPUT, s->path, 1, 1,
                            "empty spec: expected a mapping with dataset, "
                            "model, train and axes");
    TRY(want_map(root, "the spec", err));
    TRY(check_keys(root, "the spec", keys, err));
    TRY(check_mc_spellings(root, err));
    if ((v = rs_yt_get(root, "name"))) {
        TRY(get_string(v, "name", s->name, sizeof s->name, err));
        /* the name becomes a file name (results/<name>.h5 without -o) */
        if (!s->name[0] || strchr(s->name, '/') || !strcmp(s->name, ".") ||
            !strcmp(s->name, ".."))
            return rs_error_set(err, RS_EINPUT, v->src, v->line, v->col,
                                "name: '%s' cannot be a file name (it "
                                "names results/<name>.h5): no '/', not "
                                "empty, '.' or '..'", s->name);
    }
    /* the extra axes first: the sections are parsed with each at its
     * first value (a key that is an axis is absent from its section) */
    parse_ctx cx = {.root = root, .axes = rs_yt_get(root, "axes")};
    if (cx.axes) {
        TRY(want_map(cx.axes, "axes", err));
        TRY(find_axes(&cx, s, err));
    }
    uint32_t first[RS_SPEC_MAX_AXES] = {0};
    for (int sec = 0; sec < N_SECTIONS; sec++)
        TRY(parse_section_at(&cx, sec, s, first, -1, NULL, s, err));
    s->settings.record_masks = 1;
    s->settings.mask_sel.all = 1;
    s->settings.eval_train = 1;
    /* the zero-weight curve is what proximal L1 is for; recorded by
     * default only then, so a spec without reg writes the same file */
    s->settings.record_zero_frac = s->settings.reg.l1_mode == RS_L1_PROXIMAL;
    if ((v = rs_yt_get(root, "record")))
        TRY(parse_record(v, s, err));
    TRY(required(root, "axes", "the spec", &v, err));
    TRY(parse_axes(v, s, err));
    TRY(parse_extra_axes(&cx, s, err));
    s->n_boot = 10000;
    for (int a = 0; a < RS_SPEC_MAX_AXES; a++)
        s->baseline_axis[a] = -1;
    if ((v = rs_yt_get(root, "report")))
        TRY(parse_report(&cx, v, s, err));
    if (!s->has_baseline)
        for (int l = 0; l < RS_MAX_LAYERS; l++)
            s->baseline_keep[l] = 1.0;
    return check_mask_volume(root, s, err);
}

/* ---- overrides ------------------------------------------------------------ */

/* 1 if a value has a comma outside brackets, braces and quotes: a
 * Hydra-style list ("0.1,0.5" is [0.1, 0.5]). */
static int top_level_comma(const char *v)
{
    int depth = 0;
    char quote = 0;
    for (; *v; v++) {
        if (quote) {
            if (*v == '\\' && quote == '"' && v[1])
                v++;
            else if (*v == quote)
                quote = 0;
        } else if (*v == '"' || *v == '\'') {
            quote = *v;
        } else if (*v == '[' || *v == '{') {
            depth++;
        } else if ((*v == ']' || *v == '}') && depth) {
            depth--;
        } else if (*v == ',' && depth == 0) {
            return 1;
        }
    }
    return 0;
}

/* The section (dataset, model, train, reg, eval) a dotted key belongs to,
 * or -1. */
static int key_section(const char *key)
{
    const char *dot = strchr(key, '.');
    for (int sec = 0; dot && sec < N_SECTIONS; sec++)
        if (strlen(section_names[sec]) == (size_t)(dot - key) &&
            !strncmp(section_names[sec], key, (size_t)(dot - key)))
            return sec;
    return -1;
}

/* The mapping root[name] into *out, created empty when absent; RS_EINPUT
 * when it is something else. */
static rs_status child_map(yt_node *root, const char *name, const char *label,
                           const char *arg, yt_node **out, rs_error_t *err)
{
    yt_node *m = rs_yt_get(root, name);
    if (m && m->type != YT_MAP)
        return rs_error_set(err, RS_EINPUT, label, 0, 0, "cannot set '%s': "
                            "'%s' is not a mapping", arg, name);
    if (!m) {
        if (!(m = rs_yt_new_map(label, 1, 1)))
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        if (rs_yt_set(root, name, m, label, 1, 1)) {
            rs_yt_free(m);
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        }
    }
    *out = m;
    return RS_OK;
}

/* An override of a setting that has two names (eval.mc_samples and its
 * older record.mc_dropout_samples) removes the other name's entry, in its
 * section or as an axis: the last word on the setting is the command
 * line's, as it is for a key with one name. */
static void drop_other_name(yt_node *root, const char *key)
{
    static const char *const pairs[][2] = {{NEW_MC_KEY, OLD_MC_KEY}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        for (int j = 0; j < 2; j++) {
            if (strcmp(key, pairs[i][j]))
                continue;
            const char *other = pairs[i][1 - j], *dot = strchr(other, '.');
            char sec[32];
            snprintf(sec, sizeof sec, "%.*s", (int)(dot - other), other);
            yt_node *m = rs_yt_get(root, sec), *axes = rs_yt_get(root, "axes");
            if (m)
                rs_yt_remove(m, dot + 1);
            if (axes)
                rs_yt_remove(axes, other);
        }
}

/* key=value on the command line.  The value is YAML; one with a comma at
 * its top level is a list (Hydra's sweep syntax).  axes.<key>=... sets
 * the axis <key> (a dotted key such as train.lr stays one key); a list
 * for a key of dataset, model, train, reg or eval makes that key an axis:
 * train.lr=0.1,0.5 is axes: {train.lr: [0.1, 0.5]}.  Either way the key
 * leaves its section, and a single value for such a key (train.lr=0.1)
 * removes its axis: the last word on a key is the command line's. */
static rs_status apply_override(yt_node *root, const char *arg,
                                const char *label, rs_error_t *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return rs_error_set(err, RS_EINPUT, label, 0, 0,
                            "expected key=value (e.g. train.lr=0.05), got "
                            "'%s'", arg);
    size_t klen = (size_t)(eq - arg);
    char key[256];
    if (klen >= sizeof key)
        return rs_error_set(err, RS_EINPUT, label, 0, 0, "key too long");
    memcpy(key, arg, klen);
    key[klen] = '\0';
    const char *value = eq + 1;
    char *listed = NULL;
    int is_list = top_level_comma(value);
    if (is_list) {
        size_t n = strlen(value);
        if (!(listed = malloc(n + 3)))
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        listed[0] = '[';
        memcpy(listed + 1, value, n);
        memcpy(listed + 1 + n, "]", 2);
        value = listed;
    }
    yt_node *v;
    rs_status st = rs_yt_parse(value, strlen(value), label, RS_SPEC_MAX_DEPTH,
                            RS_SPEC_MAX_NODES, &v, err);
    free(listed);
    if (st)
        return st;
    if (!v)
        return rs_error_set(err, RS_EINPUT, label, 0, 0,
                            "no value after '=' in '%s'", arg);
    const char *axis = !strncmp(key, "axes.", 5) && key[5] ? key + 5
                     : is_list && key_section(key) >= 0 ? key : NULL;
    drop_other_name(root, axis ? axis : key);
    if (axis) {
        yt_node *axes = NULL;
        if ((st = child_map(root, "axes", label, arg, &axes, err))) {
            rs_yt_free(v);
            return st;
        }
        int sec = key_section(axis);
        yt_node *section = sec >= 0 ? rs_yt_get(root, section_names[sec]) : NULL;
        if (section && section->type == YT_MAP)
            rs_yt_remove(section, strchr(axis, '.') + 1);
        if (rs_yt_set(axes, axis, v, label, 1, 1)) {
            rs_yt_free(v);
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        }
        return RS_OK;
    }
    if (key_section(key) >= 0) {
        yt_node *axes = rs_yt_get(root, "axes");
        if (axes && axes->type == YT_MAP)
            rs_yt_remove(axes, key);
    }
    yt_node *map = root;
    char *save = NULL, *seg = strtok_r(key, ".", &save);
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            if (rs_yt_set(map, seg, v, label, 1, 1)) {
                rs_yt_free(v);
                return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
            }
            return RS_OK;
        }
        yt_node *child = rs_yt_get(map, seg);
        if (!child) {
            child = rs_yt_new_map(label, 1, 1);
            if (!child || rs_yt_set(map, seg, child, label, 1, 1)) {
                rs_yt_free(v);
                return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
            }
        } else if (child->type != YT_MAP) {
            rs_yt_free(v);
            return rs_error_set(err, RS_EINPUT, label, 0, 0,
                                "cannot set '%.*s': '%s' is not a mapping",
                                (int)klen, arg, seg);
        }
        map = child;
        seg = next;
    }
    rs_yt_free(v);
    return rs_error_set(err, RS_EINPUT, label, 0, 0,
                        "expected a dotted key before '=' in '%s'", arg);
}

/* ---- public --------------------------------------------------------------- */

static void hash_spec(rs_spec_t *s)
{
    rs_sha256_t c;
    uint8_t d[32];
    rs_sha256_init(&c);
    rs_sha256_update(&c, s->text, s->text_len);
    for (int i = 0; i < s->n_overrides; i++) {
        rs_sha256_update(&c, s->overrides[i], strlen(s->overrides[i]));
        rs_sha256_update(&c, "\n", 1);
    }
    rs_sha256_final(&c, d);
    for (int i = 0; i < 32; i++)
        snprintf(s->sha256 + 2 * i, 3, "%02x", d[i]);
}

static void default_name(rs_spec_t *s, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(s->name, sizeof s->name, "%.127s", base);
    char *dot = strrchr(s->name, '.');
    if (dot && dot != s->name)
        *dot = '\0';
}

/* The spec's YAML tree with its overrides applied.  *labels receives the
 * overrides' names for messages (the tree's nodes point into them: free
 * them after the tree). */
static rs_status spec_tree(const rs_spec_t *s, yt_node **root,
                           char (**labels)[320], rs_error_t *err)
{
    *root = NULL;
    *labels = calloc((size_t)s->n_overrides + 1, sizeof **labels);
    if (!*labels)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    for (int i = 0; i < s->n_overrides; i++)
        snprintf((*labels)[i], sizeof (*labels)[i],
                 "command-line override '%.280s'", s->overrides[i]);
    rs_status st = rs_yt_parse(s->text, s->text_len, s->path, RS_SPEC_MAX_DEPTH,
                               RS_SPEC_MAX_NODES, root, err);
    for (int i = 0; st == RS_OK && i < s->n_overrides; i++) {
        if (!*root && !(*root = rs_yt_new_map(s->path, 1, 1)))
            st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        else if ((*root)->type != YT_MAP)
            st = want_map(*root, "the spec", err);
        else
            st = apply_override(*root, s->overrides[i], (*labels)[i], err);
    }
    return st;
}

rs_status rs_spec_effective_yaml(const rs_spec_t *s, char **text, size_t *len,
                                 rs_error_t *err)
{
    *text = NULL;
    *len = 0;
    yt_node *root = NULL;
    char (*labels)[320] = NULL;
    rs_status st = spec_tree(s, &root, &labels, err);
    if (st == RS_OK && !root && !(root = rs_yt_new_map(s->path, 1, 1)))
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    /* the name defaults to the spec file's; written out, it must not
     * change with the name of the file the text is saved to */
    if (st == RS_OK && root->type == YT_MAP && !rs_yt_get(root, "name")) {
        yt_node *name = calloc(1, sizeof *name);
        if (name)
            name->value = strdup(s->name);
        if (!name || !name->value || rs_yt_set(root, "name", name, s->path, 1, 1)) {
            if (name)
                free(name->value);
            free(name);
            st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        } else {
            name->quoted = 1;
            /* put it first, where a reader looks */
            yt_node *k = root->kids[root->n - 2], *v = root->kids[root->n - 1];
            memmove(root->kids + 2, root->kids, (root->n - 2) * sizeof *root->kids);
            root->kids[0] = k;
            root->kids[1] = v;
        }
    }
    if (st == RS_OK)
        st = rs_yt_emit(root, text, len, err);
    rs_yt_free(root);
    free(labels);
    return st;
}

rs_status rs_spec_parse(const char *text, size_t text_len, const char *path,
                        int n_overrides, char *const *overrides,
                        rs_spec_t *out, rs_error_t *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path ? path : "<spec>");
    if (text_len > RS_SPEC_MAX_BYTES)
        return rs_error_set(err, RS_EINPUT, out->path, 0, 0,
                            "spec is %zu bytes; at most %u are accepted",
                            text_len, RS_SPEC_MAX_BYTES);
    out->text = malloc(text_len + 1);
    out->overrides = calloc((size_t)n_overrides + 1, sizeof *out->overrides);
    if (!out->text || !out->overrides) {
        rs_spec_free(out);
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(out->text, text, text_len);
    out->text[text_len] = '\0';
    out->text_len = text_len;
    for (int i = 0; i < n_overrides; i++) {
        out->overrides[i] = strdup(overrides[i]);
        if (!out->overrides[i]) {
            rs_spec_free(out);
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        }
        out->n_overrides = i + 1;
    }
    hash_spec(out);
    default_name(out, path ? path : "<spec>");   /* not the copy: it may be cut */

    yt_node *root = NULL;
    char (*labels)[320] = NULL;
    rs_status st = spec_tree(out, &root, &labels, err);
    if (st == RS_OK)
        st = parse_root(root, out, err);
    rs_yt_free(root);
    free(labels);
    if (st)
        rs_spec_free(out);
    return st;
}

rs_status rs_spec_load(const char *path, int n_overrides,
                       char *const *overrides, rs_spec_t *out, rs_error_t *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)   /* ENOMEM: fopen's own buffer, not the spec's fault */
        return rs_error_set(err, errno == ENOMEM ? RS_ENOMEM : RS_EINPUT, path,
                            0, 0, "cannot open the spec: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "is a directory, not a spec file");
    }
    char *buf = malloc(RS_SPEC_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    size_t n = fread(buf, 1, RS_SPEC_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    rs_status st;
    if (bad)
        st = rs_error_set(err, RS_EINPUT, path, 0, 0, "cannot read the spec");
    else if (n > RS_SPEC_MAX_BYTES)
        st = rs_error_set(err, RS_EINPUT, path, 0, 0,
                          "spec larger than %u bytes", RS_SPEC_MAX_BYTES);
    else
        st = rs_spec_parse(buf, n, path, n_overrides, overrides, out, err);
    free(buf);
    return st;
}

void rs_spec_free(rs_spec_t *s)
{
    if (!s)
        return;
    free(s->text);
    for (int i = 0; s->overrides && i < s->n_overrides; i++)
        free(s->overrides[i]);
    free(s->overrides);
    free(s->mask_epochs);
    free(s->mask_steps);
    free(s->act_var_epochs);
    free(s->act_var_steps);
    free(s->dc_mask_epochs);
    free(s->dc_mask_steps);
    free(s->seeds);
    free(s->keep);
    free(s->l2);
    free(s->l1);
    for (int a = 0; a < s->n_axes; a++) {
        for (uint32_t j = 0; s->axes[a].values && j < s->axes[a].n; j++)
        {
            free(s->axes[a].values[j].mask_epochs);
            free(s->axes[a].values[j].act_var_epochs);
            free(s->axes[a].values[j].dc_mask_epochs);
        }
        free(s->axes[a].values);
    }
    memset(s, 0, sizeof *s);
}

void rs_spec_job(const rs_spec_t *s, uint64_t index, rs_job_t *job)
{
    memset(job, 0, sizeof *job);
    job->index = index;
    uint64_t i = index;
    job->i_seed = (uint32_t)(i % s->n_seeds);
    i /= s->n_seeds;
    job->i_l1 = (uint32_t)(i % s->n_l1);
    i /= s->n_l1;
    job->i_l2 = (uint32_t)(i % s->n_l2);
    i /= s->n_l2;
    job->i_keep = (uint32_t)(i % s->n_keep);
    i /= s->n_keep;
    job_settings(s, i, job);
    int h = rs_spec_n_hidden(s), width = h > 0 ? h : 1;
    for (int l = 0; l < h; l++) {
        job->keep[l] = s->keep[(size_t)job->i_keep * width + l];
        job->hp.keep_prob[l] = (float)job->keep[l];
    }
    job->l2 = s->l2[job->i_l2];
    job->l1 = s->l1[job->i_l1];
    job->hp.seed = s->seeds[job->i_seed];
    job->hp.l2 = (float)job->l2;
    job->hp.l1 = (float)job->l1;
    char canon[4096];
    int n = rs_job_canonical(s, job, canon, sizeof canon);
    char hex[65];
    rs_sha256_hex(canon, (size_t)n < sizeof canon ? (size_t)n : sizeof canon - 1,
                  hex);
    memcpy(job->id, hex, 12);
    job->id[12] = '\0';
}

int rs_job_canonical(const rs_spec_t *s, const rs_job_t *job, char *buf,
                     size_t n_bytes)
{
    int h = rs_spec_n_hidden(s);
    size_t used = 0;
    int n = snprintf(buf, n_bytes, "seed=%llu;keep_prob=",
                     (unsigned long long)job->hp.seed);
    used = (size_t)n;
#define AT buf + (used < n_bytes ? used : n_bytes), \
           used < n_bytes ? n_bytes - used : 0
    for (int l = 0; l < h; l++) {
        n = snprintf(AT, "%s%.17g", l ? "," : "", job->keep[l]);
        used += (size_t)n;
    }
    n = snprintf(AT, ";l2=%.17g;l1=%.17g", job->l2, job->l1);
    used += (size_t)n;
    /* extra axes by key: the order of the axes in the spec does not
     * matter, and a spec without them keeps its ids */
    for (int k = 0; k < s->n_axes; k++) {
        int a = s->axis_by_key[k];
        n = snprintf(AT, ";%s=%s", s->axes[a].key,
                     s->axes[a].values[job->i_axis[a]].text);
        used += (size_t)n;
    }
#undef AT
    return (int)used;
}

/* Rows of each split of a job's data (IDX files: Fashion-MNIST's sizes
 * unless capped; the files are not opened for an estimate). */
static void split_rows(const rs_spec_t *s, const rs_job_t *job, double *train,
                       double *eval)
{
    if (s->data_kind == RS_DATA_SIN) {
        *train = job->sin.n_train;
        *eval = (double)job->sin.n_test + job->sin.n_val;
    } else {
        double n_val = job->idx.n_val;
        *train = job->idx.max_train ? job->idx.max_train : 60000.0 - n_val;
        *eval = (job->idx.max_test ? job->idx.max_test : 10000.0) + n_val;
    }
}

double rs_job_cost(const rs_spec_t *s, const rs_job_t *job)
{
    /* the job's own settings: epochs, layers and data sizes may be axes */
    const rs_train_settings_t *t = &job->settings;
    double fwd = 0, train, eval;
    for (int l = 0; l < t->arch.n_layers; l++)
        fwd += 2.0 * t->arch.sizes[l] * t->arch.sizes[l + 1];
    split_rows(s, job, &train, &eval);
    eval *= 1.0 + t->mc_samples;
    if (t->eval_train)
        eval += train;
    /* backward costs about twice the forward pass */
    return (double)t->epochs * (3.0 * fwd * train + fwd * eval) + fwd * eval;
}

int rs_spec_find_job(const rs_spec_t *s, const char *id_or_index,
                     rs_job_t *job)
{
    const char *c = id_or_index;
    int all_digits = *c != '\0';
    for (; *c; c++)
        all_digits &= *c >= '0' && *c <= '9';
    if (all_digits && strlen(id_or_index) < 12) {
        unsigned long long i = strtoull(id_or_index, NULL, 10);
        if (i >= s->n_jobs)
            return -1;
        rs_spec_job(s, i, job);
        return 0;
    }
    for (uint64_t i = 0; i < s->n_jobs; i++) {
        rs_spec_job(s, i, job);
        if (strcmp(job->id, id_or_index) == 0)
            return 0;
    }
    return -1;
}

static rs_status load_data(const rs_spec_t *s, const rs_sin_params_t *sin,
                           const rs_idx_params_t *idx, uint64_t job_seed,
                           rs_dataset_t *out, rs_error_t *err)
{
    if (s->data_kind == RS_DATA_SIN) {
        rs_sin_params_t p = *sin;
        if (!s->data_seed_set)
            p.seed = job_seed;
        return rs_data_sin(&p, out, err);
    }
    char paths[4][1024];
    for (int i = 0; i < 4; i++) {
        if (s->idx_files[i][0] == '/')
            snprintf(paths[i], sizeof paths[i], "%s", s->idx_files[i]);
        else
            snprintf(paths[i], sizeof paths[i], "%s/%s", s->idx_dir,
                     s->idx_files[i]);
    }
    rs_idx_params_t p = *idx;
    p.train_images = paths[0];
    p.train_labels = paths[1];
    p.test_images = paths[2];
    p.test_labels = paths[3];
    return rs_data_idx(&p, out, err);
}

rs_status rs_spec_load_data(const rs_spec_t *s, uint64_t job_seed,
                            rs_dataset_t *out, rs_error_t *err)
{
    return load_data(s, &s->sin, &s->idx, job_seed, out, err);
}

rs_status rs_spec_load_job_data(const rs_spec_t *s, const rs_job_t *job,
                                rs_dataset_t *out, rs_error_t *err)
{
    return load_data(s, &job->sin, &job->idx, job->hp.seed, out, err);
}

int rs_spec_data_per_job(const rs_spec_t *s)
{
    if (s->data_kind == RS_DATA_SIN && !s->data_seed_set)
        return 1;
    for (int a = 0; a < s->n_axes; a++)
        if (axis_section(s, a) == SEC_DATASET)
            return 1;
    return 0;
}

rs_status rs_spec_check_data(const rs_spec_t *s, rs_dataset_t *keep,
                             uint32_t *n_train, rs_error_t *err)
{
    int per_job = rs_spec_data_per_job(s), loaded = 0;
    rs_dataset_t d;
    memset(&d, 0, sizeof d);
    rs_sin_params_t last_sin;
    rs_idx_params_t last_idx;
    rs_status st = RS_OK;
    for (uint64_t c = 0; c < s->n_combos && st == RS_OK; c++) {
        rs_job_t job;
        memset(&job, 0, sizeof job);
        job_settings(s, c, &job);
        job.hp.seed = s->seeds[0];
        /* combinations that differ only in training settings share data */
        if (!loaded || memcmp(&job.sin, &last_sin, sizeof last_sin) ||
            memcmp(&job.idx, &last_idx, sizeof last_idx)) {
            if (loaded)
                rs_data_free(&d);
            loaded = 0;
            if ((st = rs_spec_load_job_data(s, &job, &d, err)))
                break;
            loaded = 1;
            last_sin = job.sin;
            last_idx = job.idx;
        }
        if (n_train)
            n_train[c] = d.train.n;
        st = rs_train_check(&job.settings, &d, err);
        if (st == RS_EINPUT && err) {
            if (!err->path[0]) {   /* a size that does not fit the data */
                snprintf(err->path, sizeof err->path, "%s", s->layers_src);
                err->line = s->layers_line;
                err->column = s->layers_col;
            }
            if (s->n_axes) {
                char combo[480];
                size_t len = strlen(err->msg);
                combo_text(s, &job, combo, sizeof combo);
                snprintf(err->msg + len, sizeof err->msg - len, " (with %s)",
                         combo);
            }
        }
    }
    if (st == RS_OK && keep && !per_job)
        *keep = d;
    else if (loaded)
        rs_data_free(&d);
    return st;
}

int rs_spec_axis_find(const rs_spec_t *s, const char *key)
{
    for (int a = 0; a < s->n_axes; a++)
        if (!strcmp(s->axes[a].key, key))
            return a;
    return -1;
}

/* The value of a reg.dropconnect_keep axis written as text: a number (every
 * layer) or one per hidden layer, as 0.8/0.5, 0.8,0.5 or [0.8, 0.5];
 * compared as float32, as training uses them. */
static int dc_keep_index(const rs_spec_t *s, const rs_axis_t *ax,
                         const char *text)
{
    int h = rs_spec_n_hidden(s), n = 0;
    double keep[RS_MAX_LAYERS];
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, "[]/, ", &save); t;
         t = strtok_r(NULL, "[]/, ", &save)) {
        if (n == h || !looks_decimal(t))
            return -1;
        keep[n++] = strtod(t, NULL);
    }
    if (n == 1)
        for (int l = 1; l < h; l++)
            keep[l] = keep[0];
    else if (n != h)
        return -1;
    for (uint32_t j = 0; j < ax->n; j++) {
        int l = 0;
        while (l < h && float32_key(keep[l]) == float32_key(ax->values[j].keep[l]))
            l++;
        if (l == h)
            return (int)j;
    }
    return -1;
}

int rs_spec_axis_value_index(const rs_spec_t *s, int a, const char *text)
{
    if (a < 0 || a >= s->n_axes)
        return -1;
    const rs_axis_t *ax = &s->axes[a];
    const axis_key_t *x = &axis_keys[ax->setting];
    char norm[128];
    size_t k = 0;
    if (x->id == X_DC_KEEP)
        return dc_keep_index(s, ax, text);
    if (x->type == RS_AXIS_NUMBER) {
        if (!looks_decimal(text))
            return -1;
        double v = strtod(text, NULL);
        for (uint32_t j = 0; j < ax->n; j++)
            if (x->is_float ? float32_key(v) == float32_key(ax->values[j].num)
                            : v == ax->values[j].num)
                return (int)j;
        return -1;
    }
    /* a layer list may be written [1, 64, 1] or 1-64-1 */
    for (const char *c = text; *c && k + 1 < sizeof norm; c++) {
        if (x->id == X_LAYERS && (*c == '[' || *c == ']' || *c == ' '))
            continue;
        norm[k++] = x->id == X_LAYERS && *c == ',' ? '-' : *c;
    }
    norm[k] = '\0';
    for (uint32_t j = 0; j < ax->n; j++)
        if (!strcmp(norm, ax->values[j].text))
            return (int)j;
    return -1;
}
