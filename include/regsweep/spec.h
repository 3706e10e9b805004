/* SPDX-License-Identifier: MIT */
/* spec.h — a YAML sweep spec, validated, and its grid of jobs.
 *
 * The spec text (plus any key=value overrides from the command line) is the
 * whole definition of a sweep: together with the regsweep version it
 * determines every result bit.  Parsing is strict: unknown keys (with a
 * suggestion), wrong types, out-of-range values, duplicate keys, anchors and
 * aliases, tabs, non-UTF-8 text and oversized input are all RS_EINPUT with
 * the file, line and column (1-based) of the offending node.
 *
 * The grid is the Cartesian product of the axes: any extra axes (keys of
 * dataset, model, train, reg or eval named by their dotted path, e.g.
 * train.lr), the first given varying slowest, then keep_prob x l2 x l1 x
 * seed, seed varying fastest, so the jobs of one config are contiguous:
 *   combo = (i_ax0 * n_ax1 + i_ax1) * n_ax2 + ...   (0 without extra axes)
 *   index = (((combo * n_keep + i_keep) * n_l2 + i_l2) * n_l1 + i_l1)
 *           * n_seed + i_seed.
 * A job's id is the first 12 hex digits of SHA-256 of its canonical settings
 * (see rs_job_canonical), so it does not change when the grid grows, and a
 * spec without extra axes keeps the ids it always had.
 */
#ifndef RS_SPEC_H
#define RS_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/common.h"
#include "regsweep/data.h"
#include "regsweep/train.h"

#define RS_SPEC_MAX_BYTES (1u << 20)  /* spec files above 1 MiB are refused  */
#define RS_SPEC_MAX_DEPTH 16          /* nesting deeper than this is refused */
#define RS_SPEC_MAX_NODES 100000      /* YAML nodes                          */
#define RS_SPEC_MAX_JOBS 1000000u     /* grid size cap                       */
#define RS_SPEC_MAX_EPOCHS 1000000u
#define RS_SPEC_MAX_AXIS 100000u      /* values in one axis                  */
#define RS_SPEC_MAX_AXES 16           /* axes beyond seed, keep_prob, l2, l1 */

typedef enum rs_data_kind { RS_DATA_SIN = 0, RS_DATA_IDX = 1 } rs_data_kind;

/* How an extra axis's values are stored in /jobs and written in job ids. */
typedef enum rs_axis_type {
    RS_AXIS_NUMBER = 0,   /* a number: f64 column; canonical "%.17g" of the
                             value as written                              */
    RS_AXIS_TEXT = 1      /* a name (relu, bernoulli, true, full), a list
                             of layer sizes ("1-64-64-1") or of per-layer
                             DropConnect keeps ("0.8/0.5"): str column     */
} rs_axis_type;

/* One value of an extra axis, validated as its key is in its section. */
typedef struct rs_axis_value {
    double num;            /* numbers and integers as written; names: their
                              index in the key's list; bools 0/1;
                              batch_size full: UINT32_MAX                 */
    uint32_t layers[RS_MAX_LAYERS + 1]; /* model.layers: the sizes        */
    int n_layers;          /* model.layers: number of sizes given         */
    char text[128];        /* canonical text: the job id's and /jobs'     */
    /* train.epochs with record.masks.epochs (record.act_var.epochs): the
     * selection resolved for this many epochs (negative indices count
     * from the end; owned)                                               */
    uint32_t *mask_epochs, *act_var_epochs, *dc_mask_epochs;
    uint32_t n_mask_epochs, n_act_var_epochs, n_dc_mask_epochs;
    /* reg.dropconnect_keep (and its older spelling): per hidden layer;
     * per_layer: given as a list (text "0.8/0.5", num 0)                */
    double keep[RS_MAX_LAYERS];
    int per_layer;
} rs_axis_value_t;

/* An axis over any scalar or list key of dataset, model, train, reg or
 * eval. */
typedef struct rs_axis {
    char key[48];          /* its dotted path: "train.lr", "model.layers" */
    int setting;           /* which key (spec.c's table of axis keys)     */
    rs_axis_type type;
    uint32_t n;
    rs_axis_value_t *values; /* n, in the order given (owned)             */
} rs_axis_t;

typedef struct rs_spec {
    /* what defines the sweep */
    char *text;                /* the YAML text as read (owned)           */
    size_t text_len;
    int n_overrides;
    char **overrides;          /* "key=value" as given (owned)            */
    char sha256[65];           /* of text, then each override + '\n'      */
    char path[512];            /* where the text came from (for messages) */
    char name[128];

    /* dataset */
    rs_data_kind data_kind;
    rs_sin_params_t sin;       /* seed used only when data_seed_set        */
    int data_seed_set;         /* 0: each job's data uses the job's seed  */
    char idx_dir[512];
    char idx_files[4][256];    /* train images, train labels, test ...    */
    rs_idx_params_t idx;       /* paths filled by rs_spec_idx_params      */

    /* fixed training settings (the mask selection points into this spec) */
    rs_train_settings_t settings;
    uint32_t *mask_epochs, *mask_steps;
    uint32_t *act_var_epochs, *act_var_steps;  /* record.act_var's lists */
    uint32_t *dc_mask_epochs, *dc_mask_steps;  /* record.dropconnect_masks */
    /* where model.layers was given, for errors found once the data are
     * known (a size that does not match them): file (or override), line,
     * column */
    char layers_src[512];
    int layers_line, layers_col;

    int zero_frac_set;         /* record.zero_frac given (else it follows
                                  each job's reg.l1_mode)                 */

    /* axes */
    uint32_t n_seeds, n_keep, n_l2, n_l1;
    uint64_t *seeds;
    double *keep;              /* n_keep x n_hidden, as parsed (double)   */
    double *l2, *l1;
    /* extra axes, in the order given (the first varies slowest); their
     * first values are in settings, sin and idx above */
    int n_axes;
    rs_axis_t axes[RS_SPEC_MAX_AXES];
    int axis_by_key[RS_SPEC_MAX_AXES]; /* axes sorted by key: the order of
                                          the canonical string           */
    uint64_t n_combos;         /* product of the extra axes' sizes (1)    */
    uint64_t n_jobs;

    /* report settings */
    int has_baseline;
    double baseline_keep[RS_MAX_LAYERS], baseline_l2, baseline_l1;
    int baseline_axis[RS_SPEC_MAX_AXES]; /* report.baseline's value index
                                            of each extra axis; -1: not
                                            named (its first value)       */
    uint32_t n_boot;
    uint64_t boot_seed;
} rs_spec_t;

/* One grid point. */
typedef struct rs_job {
    uint64_t index;
    char id[13];               /* 12 hex digits                           */
    uint32_t i_seed, i_keep, i_l2, i_l1;
    double keep[RS_MAX_LAYERS], l2, l1;  /* as parsed                     */
    rs_hparams_t hp;           /* as used: floats                         */
    /* extra axes: the combination (index / (n_keep n_l2 n_l1 n_seeds))
     * and each axis's value index */
    uint64_t combo;
    uint32_t i_axis[RS_SPEC_MAX_AXES];
    /* the job's own settings: the spec's with its axis values applied
     * (mask_sel points into the spec: the spec must outlive the job) */
    rs_train_settings_t settings;
    rs_sin_params_t sin;       /* its dataset parameters (sin seed: as in
                                  the spec; rs_spec_load_job_data picks) */
    rs_idx_params_t idx;       /* (paths unset: rs_spec_load_job_data)    */
} rs_job_t;

/* Parses and validates spec text.  path names the text in messages;
 * overrides are "dotted.key=yaml-value" strings applied on top (Hydra
 * style: e.g. train.lr=0.05, axes.seed=[0,1,2]).  On success *out owns
 * copies of text and overrides.  Errors: RS_EINPUT (with location),
 * RS_ENOMEM. */
rs_status rs_spec_parse(const char *text, size_t text_len, const char *path,
                        int n_overrides, char *const *overrides,
                        rs_spec_t *out, rs_error_t *err);

/* The spec as `regsweep run` should be given it to get this spec's grid:
 * its YAML with the overrides applied and the name written out, into
 * *text (malloc'ed, NUL-terminated, *len bytes; the caller frees it).
 * Comments and the original layout are not kept; the job ids are the same,
 * the spec's sha256 is not (it hashes the text).  RS_ENOMEM on no memory. */
rs_status rs_spec_effective_yaml(const rs_spec_t *s, char **text, size_t *len,
                                 rs_error_t *err);

/* Reads a file and parses it.  Errors as rs_spec_parse, plus RS_EINPUT for a
 * missing, unreadable or oversized file. */
rs_status rs_spec_load(const char *path, int n_overrides,
                       char *const *overrides, rs_spec_t *out,
                       rs_error_t *err);

void rs_spec_free(rs_spec_t *s);

/* The job at index < s->n_jobs. */
void rs_spec_job(const rs_spec_t *s, uint64_t index, rs_job_t *job);

/* The canonical settings string a job id hashes:
 * "seed=<u64>;keep_prob=<k1>,<k2>...;l2=<x>;l1=<x>" with each double
 * printed by "%.17g", then ";<dotted.key>=<text>" for each extra axis in
 * the order of the keys (strcmp), with the value's canonical text
 * (rs_axis_value_t.text).  Only the axes the spec has are named, so the
 * ids of a spec without extra axes are those it always had, and the order
 * of the axes in the spec does not matter.  Returns the length (snprintf
 * semantics). */
int rs_job_canonical(const rs_spec_t *s, const rs_job_t *job, char *buf,
                     size_t n_bytes);

/* Finds a job by id (12 hex digits) or by decimal index.  Returns 0 and
 * fills *job, or -1 if there is no such job. */
int rs_spec_find_job(const rs_spec_t *s, const char *id_or_index,
                     rs_job_t *job);

/* A job's estimated cost in floating-point operations, from its own
 * settings (extra axes: train.epochs, model.layers, the dataset's sizes):
 * epochs x (training rows x forward and backward FLOPs + evaluated rows x
 * forward FLOPs, MC dropout passes included).  Only ratios matter: shards
 * are balanced and jobs dispatched largest first by it.  An estimate
 * (early stopping may end a job sooner); calls nothing that can fail. */
double rs_job_cost(const rs_spec_t *s, const rs_job_t *job);

/* Loads the dataset the spec describes (with the dataset axes, if any, at
 * their first values).  For a sin dataset whose seed is not fixed the data
 * depend on the job: pass its seed (ignored otherwise). */
rs_status rs_spec_load_data(const rs_spec_t *s, uint64_t job_seed,
                            rs_dataset_t *out, rs_error_t *err);

/* Loads job's own dataset: its dataset axis values and, for a sin dataset
 * without a fixed seed, its seed. */
rs_status rs_spec_load_job_data(const rs_spec_t *s, const rs_job_t *job,
                                rs_dataset_t *out, rs_error_t *err);

/* 1 if jobs may differ in their data (sin data without a fixed seed, or a
 * dataset axis), 0 if one dataset serves every job. */
int rs_spec_data_per_job(const rs_spec_t *s);

/* Loads the data of every combination of the extra axes (once when they
 * do not change the data; with seed-dependent sin data, the first seed's)
 * and checks each combination's settings against it (rs_train_check); a
 * size that does not fit the data points at model.layers, and the message
 * names the combination.  n_train (NULL, or s->n_combos entries) receives
 * each combination's training rows.  keep (NULL accepted): when one
 * dataset serves every job (!rs_spec_data_per_job), it is handed over
 * instead of freed.  Errors: those of the loaders and rs_train_check. */
rs_status rs_spec_check_data(const rs_spec_t *s, rs_dataset_t *keep,
                             uint32_t *n_train, rs_error_t *err);

/* The extra axis with this dotted key, or -1. */
int rs_spec_axis_find(const rs_spec_t *s, const char *key);

/* The index of the value of extra axis a that text names, or -1: numbers
 * are compared as training uses them (float32, or exactly for integers),
 * names exactly, layer lists as "1-64-64-1" or "[1, 64, 64, 1]". */
int rs_spec_axis_value_index(const rs_spec_t *s, int a, const char *text);

/* The number of configs: grid points without their seed. */
static inline uint64_t rs_spec_n_configs(const rs_spec_t *s)
{
    return s->n_combos * s->n_keep * s->n_l2 * s->n_l1;
}

/* Number of hidden layers (layers that can have dropout). */
/* The size of the validation split (dataset.n_val; 0: none). */
static inline uint32_t rs_spec_n_val(const rs_spec_t *s)
{
    return s->data_kind == RS_DATA_SIN ? s->sin.n_val : s->idx.n_val;
}

static inline int rs_spec_n_hidden(const rs_spec_t *s)
{
    return s->settings.arch.n_layers - 1;
}

#endif
