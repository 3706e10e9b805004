/* SPDX-License-Identifier: MIT */
/* test_spec.c — spec parsing, validation messages with their locations,
 * overrides, and the job grid. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "regsweep/sha256.h"
#include "regsweep/spec.h"

static const char *BASE =
    "name: t\n"                                  /* 1 */
    "dataset:\n"                                 /* 2 */
    "  kind: sin\n"                              /* 3 */
    "  n_train: 50\n"                            /* 4 */
    "  seed: 1\n"                                /* 5 */
    "model:\n"                                   /* 6 */
    "  layers: [1, 8, 8, 1]\n"                   /* 7 */
    "train:\n"                                   /* 8 */
    "  lr: 0.01\n"                               /* 9 */
    "  epochs: 5\n"                              /* 10 */
    "axes:\n"                                    /* 11 */
    "  seed: {from: 0, to: 2}\n"                 /* 12 */
    "  keep_prob: [1.0, 0.5, [0.8, 0.6]]\n"      /* 13 */
    "  l2: [0, 0.001]\n";                        /* 14 */

static rs_status parse(const char *text, rs_spec_t *s, rs_error_t *err)
{
    return rs_spec_parse(text, strlen(text), "t.yaml", 0, NULL, s, err);
}

/* Replaces the first occurrence of `from` in BASE by `to`. */
static const char *edit(const char *from, const char *to)
{
    static char buf[4096];
    const char *at = strstr(BASE, from);
    cr_assert_not_null(at, "test bug: '%s' not in BASE", from);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - BASE), BASE, to,
             at + strlen(from));
    return buf;
}

static void expect_error(const char *text, int line, int col, const char *needle)
{
    rs_spec_t s;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = parse(text, &s, &err);
    cr_assert_eq(st, RS_EINPUT, "accepted:\n%s", text);
    char msg[2048];
    rs_error_format(&err, msg, sizeof msg);
    cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", msg, needle);
    cr_assert_str_eq(err.path, "t.yaml", "%s", msg);
    if (line)
        cr_assert_eq(err.line, line, "%s", msg);
    if (col)
        cr_assert_eq(err.column, col, "%s", msg);
}

Test(spec, base_spec_parses_into_the_grid)
{
    rs_spec_t s;
    rs_error_t err;
    cr_assert_eq(parse(BASE, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_seeds, 3);
    cr_assert_eq(s.n_keep, 3);
    cr_assert_eq(s.n_l2, 2);
    cr_assert_eq(s.n_l1, 1);
    cr_assert_eq(s.n_jobs, 18);
    cr_assert_eq(s.settings.arch.n_layers, 3);
    cr_assert_eq(s.settings.batch_size, UINT32_MAX);
    /* seed varies fastest, then l1, l2, keep_prob */
    rs_job_t j;
    rs_spec_job(&s, 7, &j);   /* 7 = ((1*2 + 0)*1 + 0)*3 + 1 */
    cr_assert_eq(j.i_seed, 1);
    cr_assert_eq(j.i_l2, 0);
    cr_assert_eq(j.i_keep, 1);
    cr_assert_eq(j.hp.seed, 1);
    cr_assert_eq(j.hp.keep_prob[0], 0.5f);
    cr_assert_eq(j.hp.keep_prob[1], 0.5f);
    rs_spec_job(&s, 17, &j);
    cr_assert_eq(j.hp.keep_prob[0], 0.8f);
    cr_assert_eq(j.hp.keep_prob[1], 0.6f);
    cr_assert_eq(j.hp.l2, 0.001f);
    rs_spec_free(&s);
}

/* A job's id is the first 12 hex digits of the SHA-256 of its canonical
 * settings, computed here independently of rs_spec_job. */
Test(spec, job_id_is_hash_of_canonical_settings)
{
    rs_spec_t s;
    cr_assert_eq(parse(BASE, &s, NULL), RS_OK);
    rs_job_t j;
    rs_spec_job(&s, 17, &j);
    const char *canon = "seed=2;keep_prob=0.80000000000000004,"
                        "0.59999999999999998;l2=0.001;l1=0";
    char hex[65];
    rs_sha256_hex(canon, strlen(canon), hex);
    cr_assert_eq(strncmp(j.id, hex, 12), 0, "%s vs %.12s", j.id, hex);
    rs_spec_free(&s);
}

/* Growing the grid does not rename existing jobs. */
Test(spec, job_ids_survive_a_larger_grid)
{
    rs_spec_t a, b;
    cr_assert_eq(parse(BASE, &a, NULL), RS_OK);
    cr_assert_eq(parse(edit("to: 2", "to: 5"), &b, NULL), RS_OK);
    for (uint64_t i = 0; i < a.n_jobs; i++) {
        rs_job_t ja, jb;
        rs_spec_job(&a, i, &ja);
        cr_assert_eq(rs_spec_find_job(&b, ja.id, &jb), 0, "job %s lost", ja.id);
        cr_assert_eq(jb.hp.seed, ja.hp.seed);
    }
    rs_spec_free(&a);
    rs_spec_free(&b);
}

Test(spec, overrides_apply_and_change_the_hash)
{
    rs_spec_t a, b;
    char *over[] = {"train.lr=0.05", "axes.seed=[4, 5]", "record.masks=none"};
    cr_assert_eq(parse(BASE, &a, NULL), RS_OK);
    rs_error_t err;
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 3, over, &b, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(b.settings.lr, 0.05f);
    cr_assert_eq(b.n_seeds, 2);
    cr_assert_eq(b.seeds[0], 4);
    cr_assert_eq(b.settings.record_masks, 0);
    cr_assert_neq(strcmp(a.sha256, b.sha256), 0);
    rs_spec_free(&a);
    rs_spec_free(&b);
}

Test(spec, bad_override_names_itself)
{
    rs_spec_t s;
    rs_error_t err;
    char *over[] = {"train.lr=fast"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over, &s, &err),
                 RS_EINPUT);
    cr_assert(strstr(err.path, "train.lr=fast"), "%s", err.path);
    cr_assert(strstr(err.msg, "train.lr"), "%s", err.msg);
    char *over2[] = {"noequals"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over2, &s, &err),
                 RS_EINPUT);
    char *over3[] = {"train.lrr=0.1"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over3, &s, &err),
                 RS_EINPUT);
    cr_assert(strstr(err.msg, "did you mean 'lr'"), "%s", err.msg);
}

Test(spec, unknown_key_with_suggestion)
{
    expect_error(edit("  epochs: 5", "  epoch: 5"), 10, 3, "did you mean 'epochs'");
    expect_error(edit("name: t", "nmae: t"), 1, 1, "did you mean 'name'");
    expect_error(edit("  seed: 1\n", "  seed: 1\n  colour: red\n"), 6, 3,
                 "unknown key 'colour'");
}

Test(spec, wrong_types)
{
    expect_error(edit("lr: 0.01", "lr: fast"), 9, 7, "train.lr");
    expect_error(edit("epochs: 5", "epochs: 2.5"), 10, 11, "integer");
    expect_error(edit("lr: 0.01", "lr: \"0.01\""), 9, 7, "quoted");
    expect_error(edit("layers: [1, 8, 8, 1]", "layers: 8"), 7, 11, "list");
    expect_error(edit("kind: sin", "kind: cos"), 3, 9, "one of sin, idx");
}

Test(spec, out_of_range_values)
{
    expect_error(edit("[1.0, 0.5,", "[1.0, 0.0,"), 13, 20, "in (0, 1]");
    expect_error(edit("[1.0, 0.5,", "[1.5, 0.5,"), 13, 15, "in (0, 1]");
    expect_error(edit("l2: [0, 0.001]", "l2: [0, -0.001]"), 14, 11, ">= 0");
    expect_error(edit("lr: 0.01", "lr: .nan"), 9, 7, "finite");
    expect_error(edit("lr: 0.01", "lr: -.inf"), 9, 7, "finite");
    expect_error(edit("lr: 0.01", "lr: 1e999"), 9, 7, "> 0");
    expect_error(edit("[0.8, 0.6]", "[0.8, 0.6, 0.5]"), 13, 25, "per-layer");
}

Test(spec, empty_and_duplicate_axis_values)
{
    expect_error(edit("l2: [0, 0.001]", "l2: []"), 14, 7, "empty");
    expect_error(edit("l2: [0, 0.001]", "l2: [0.001, 0.001]"), 14, 15, "repeats");
    expect_error(edit("{from: 0, to: 2}", "[3, 1, 3]"), 12, 16, "twice");
    expect_error(edit("{from: 0, to: 2}", "{from: 5, to: 2}"), 12, 23, "from 5");
}

Test(spec, yaml_level_errors)
{
    expect_error(edit("name: t\n", "name: t\nname: u\n"), 2, 1, "duplicate key 'name'");
    expect_error(edit("  lr: 0.01", "\tlr: 0.01"), 9, 1, "tab");
    expect_error(edit("  lr: 0.01", "  lr: &x 0.01"), 9, 7, "anchors");
    expect_error(edit("  epochs: 5", "  epochs: *x"), 10, 11, "aliases");
    expect_error(edit("  epochs: 5\n", "  epochs: 5\n---\n"), 11, 1, "single YAML document");
    expect_error(edit("  lr: 0.01", "  lr: [0.01"), 0, 0, "YAML syntax error");
    expect_error("", 1, 1, "empty spec");
    expect_error("- a\n- b\n", 1, 1, "mapping");
}

Test(spec, non_utf8_is_refused)
{
    expect_error(edit("name: t", "name: t\xff\xfe"), 0, 0, "UTF-8");
}

Test(spec, deep_nesting_is_refused)
{
    char text[2048];
    snprintf(text, sizeof text, "%s  l1: ", BASE);
    for (int i = 0; i < 100; i++)
        strcat(text, "[");
    expect_error(text, 15, 0, "nesting deeper");
}

/* The billion-laughs pattern is refused at its first anchor, long before
 * anything could be expanded. */
Test(spec, billion_laughs_is_refused)
{
    const char *bomb =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";
    expect_error(bomb, 1, 4, "anchors");
}

Test(spec, grid_cap)
{
    /* 100000 seeds x 3 keep x 2 l2 = 600000 jobs is allowed ... */
    rs_spec_t s;
    cr_assert_eq(parse(edit("{from: 0, to: 2}", "{from: 0, to: 99999}"), &s, NULL), RS_OK);
    cr_assert_eq(s.n_jobs, 600000);
    rs_spec_free(&s);
    /* ... 100000 x 3 x 4 = 1.2 million is not; one axis may not exceed 1e5 */
    char text[2048];
    snprintf(text, sizeof text, "%s  l1: [0, 1, 2, 3]\n",
             edit("{from: 0, to: 2}", "{from: 0, to: 99999}"));
    expect_error(text, 12, 3, "more than 1000000 jobs");
    expect_error(edit("{from: 0, to: 2}", "{from: 0, to: 100000}"), 12, 9, "at most 100000");
}

Test(spec, missing_required_keys)
{
    expect_error(edit("  lr: 0.01\n", ""), 9, 3, "missing required key 'lr'");
    expect_error(edit("model:\n  layers: [1, 8, 8, 1]\n", ""), 1, 1, "missing required key 'model'");
}

Test(spec, mask_volume_is_capped_with_advice)
{
    const char *big =
        "dataset: {kind: sin, n_train: 100000}\n"
        "model: {layers: [1, 4096, 4096, 1]}\n"
        "train: {lr: 0.01, epochs: 100}\n"
        "axes: {seed: 0, keep_prob: 0.5}\n";
    expect_error(big, 0, 0, "MiB per job");
}

Test(spec, load_reports_missing_file)
{
    rs_spec_t s;
    rs_error_t err;
    cr_assert_eq(rs_spec_load("/nonexistent/spec.yaml", 0, NULL, &s, &err), RS_EINPUT);
    cr_assert_str_eq(err.path, "/nonexistent/spec.yaml");
    cr_assert_eq(rs_spec_load("/", 0, NULL, &s, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "directory"), "%s", err.msg);
}

/* record.masks.epochs may count from the end: -1 is the last epoch, and a
 * repeat (0 and -1 with one epoch) selects once. */
Test(spec, mask_epochs_count_from_the_end)
{
    rs_spec_t s;
    rs_error_t err;
    char text[2048];
    snprintf(text, sizeof text, "%srecord: {masks: {epochs: [-1, 0, 2], steps: [0]}}\n", BASE);
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.settings.mask_sel.n_epochs, 3);
    cr_assert_eq(s.mask_epochs[0], 0);
    cr_assert_eq(s.mask_epochs[1], 2);
    cr_assert_eq(s.mask_epochs[2], 4);   /* epochs: 5 */
    rs_spec_free(&s);
    char *over[] = {"train.epochs=1"};
    cr_assert_eq(rs_spec_parse(text, strlen(text), "t.yaml", 1, over, &s, &err),
                 RS_EINPUT);           /* 2 is out of range for one epoch */
    snprintf(text, sizeof text, "%srecord: {masks: {epochs: [0, -1]}}\n", BASE);
    cr_assert_eq(rs_spec_parse(text, strlen(text), "t.yaml", 1, over, &s, &err), RS_OK);
    cr_assert_eq(s.settings.mask_sel.n_epochs, 1);
    rs_spec_free(&s);
    snprintf(text, sizeof text, "%srecord: {masks: {epochs: [-6]}}\n", BASE);
    expect_error(text, 15, 27, "from -5 to 4");
}

/* The reg section: defaults are today's training; keys are checked with
 * their location; reg settings change the spec's hash (the text) but no
 * job id (ids hash seed, keep_prob, l2 and l1 only). */
Test(spec, reg_section_parses_and_keeps_job_ids)
{
    rs_spec_t a, b;
    rs_error_t err;
    cr_assert_eq(parse(BASE, &a, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(a.settings.reg.l1_mode, RS_L1_SUBGRADIENT);
    cr_assert_eq(a.settings.record_zero_frac, 0);
    char text[4096];
    snprintf(text, sizeof text, "%sreg:\n  l1_mode: proximal\n", BASE);
    cr_assert_eq(parse(text, &b, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(b.settings.reg.l1_mode, RS_L1_PROXIMAL);
    cr_assert_eq(b.settings.record_zero_frac, 1, "proximal records zero_frac");
    cr_assert_neq(strcmp(a.sha256, b.sha256), 0);
    for (uint64_t i = 0; i < a.n_jobs; i++) {
        rs_job_t ja, jb;
        rs_spec_job(&a, i, &ja);
        rs_spec_job(&b, i, &jb);
        cr_assert_str_eq(ja.id, jb.id);
    }
    rs_spec_free(&b);
    /* record.zero_frac overrides the default either way */
    char *over[] = {"reg.l1_mode=subgradient", "record.zero_frac=true"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 2, over, &b, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(b.settings.reg.l1_mode, RS_L1_SUBGRADIENT);
    cr_assert_eq(b.settings.record_zero_frac, 1);
    cr_assert_eq(b.settings.reg.max_norm, 0.0f);
    rs_spec_free(&b);
    char *over3[] = {"dataset.n_val=10", "reg.early_stopping_patience=4"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 2, over3, &b, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(b.settings.reg.early_stopping_patience, 4);
    rs_spec_free(&b);
    char *over2[] = {"reg.max_norm=3.5"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over2, &b, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(b.settings.reg.max_norm, 3.5f);
    cr_assert_eq(b.settings.reg.input_noise_sd, 0.0f);
    cr_assert_eq(b.settings.reg.noise, RS_NOISE_BERNOULLI);
    cr_assert_eq(b.settings.reg.dropconnect_keep[0], 0.0f, "0: off");
    cr_assert_eq(b.settings.reg.early_stopping_patience, 0);
    cr_assert_eq(b.settings.mc_samples, 0);
    rs_spec_free(&b);
    rs_spec_free(&a);
}

/* reg.dropconnect_keep: one number for every hidden layer or one per
 * hidden layer; dropconnect_keep_prob (the older spelling) means the
 * same; as an axis a value may be either, its /jobs column is f64 while
 * every value is a number and str ("0.8/0.5") once one is a list, and
 * 0.5 and [0.5, 0.5] are one setting. */
Test(spec, dropconnect_keep_per_layer_and_as_axis)
{
    rs_spec_t a, b;
    rs_error_t err;
    char text[4096];
    snprintf(text, sizeof text, "%sreg: {dropconnect_keep: [0.8, 0.5]}\n", BASE);
    cr_assert_eq(parse(text, &a, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(a.settings.reg.dropconnect_keep[0], 0.8f);
    cr_assert_eq(a.settings.reg.dropconnect_keep[1], 0.5f);
    rs_spec_free(&a);
    snprintf(text, sizeof text, "%sreg: {dropconnect_keep_prob: 0.7}\n", BASE);
    cr_assert_eq(parse(text, &a, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(a.settings.reg.dropconnect_keep[0], 0.7f);
    cr_assert_eq(a.settings.reg.dropconnect_keep[1], 0.7f);
    rs_spec_free(&a);

    snprintf(text, sizeof text, "%s  reg.dropconnect_keep: [1, 0.5]\n", BASE);
    cr_assert_eq(parse(text, &a, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(a.n_axes, 1);
    cr_assert_eq(a.axes[0].type, RS_AXIS_NUMBER);
    rs_job_t j;
    rs_spec_job(&a, a.n_jobs - 1, &j);
    cr_assert_eq(j.settings.reg.dropconnect_keep[0], 0.5f);
    cr_assert_eq(j.settings.reg.dropconnect_keep[1], 0.5f);
    cr_assert(strstr(j.id, "") && j.id[12] == '\0');
    char canon[512];
    rs_job_canonical(&a, &j, canon, sizeof canon);
    cr_assert(strstr(canon, ";reg.dropconnect_keep=0.5"), "%s", canon);
    rs_spec_free(&a);

    snprintf(text, sizeof text, "%s  reg.dropconnect_keep: [1, [0.8, 0.50], 0.5]\n",
             BASE);
    cr_assert_eq(parse(text, &b, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(b.axes[0].type, RS_AXIS_TEXT);
    cr_assert_str_eq(b.axes[0].values[1].text, "0.8/0.5");
    cr_assert_str_eq(b.axes[0].values[2].text, "0.5");
    uint64_t per = b.n_jobs / 3;
    rs_spec_job(&b, per, &j);      /* the first job of the second value */
    cr_assert_eq(j.settings.reg.dropconnect_keep[0], 0.8f);
    cr_assert_eq(j.settings.reg.dropconnect_keep[1], 0.5f);
    rs_job_canonical(&b, &j, canon, sizeof canon);
    cr_assert(strstr(canon, ";reg.dropconnect_keep=0.8/0.5"), "%s", canon);
    int a0 = rs_spec_axis_find(&b, "reg.dropconnect_keep");
    cr_assert_eq(rs_spec_axis_value_index(&b, a0, "0.8/0.5"), 1);
    cr_assert_eq(rs_spec_axis_value_index(&b, a0, "[0.8, 0.5]"), 1);
    cr_assert_eq(rs_spec_axis_value_index(&b, a0, "0.5"), 2);
    cr_assert_eq(rs_spec_axis_value_index(&b, a0, "0.5/0.5"), 2);
    cr_assert_eq(rs_spec_axis_value_index(&b, a0, "0.8"), -1);
    cr_assert_eq(rs_spec_axis_value_index(&b, a0, "0.8/0.5/1"), -1);
    rs_spec_free(&b);

    /* one spelling per value: the shortest decimal, in ids and columns */
    snprintf(text, sizeof text, "%s  reg.dropconnect_keep: [0.80, [0.8, 0.5]]\n", BASE);
    cr_assert_eq(parse(text, &b, &err), RS_OK, "%s", err.msg);
    cr_assert_str_eq(b.axes[0].values[0].text, "0.8");
    rs_spec_free(&b);
    snprintf(text, sizeof text, "%s  reg.dropconnect_keep: [0.5, [0.5, 0.5]]\n", BASE);
    expect_error(text, 15, 31, "entry 2 (0.5/0.5) repeats entry 1 (equal as float32 in every layer)");
    snprintf(text, sizeof text, "%s  reg.dropconnect_keep: [[0.5, 0.5, 1]]\n", BASE);
    expect_error(text, 15, 26, "a per-layer list needs 2 values");
}

Test(spec, reg_section_errors_say_where)
{
    char text[4096];
    snprintf(text, sizeof text, "%sreg:\n  l1_mode: proxmial\n", BASE);
    expect_error(text, 16, 12, "reg.l1_mode: expected one of subgradient, proximal");
    snprintf(text, sizeof text, "%sreg:\n  l1mode: proximal\n", BASE);
    expect_error(text, 16, 3, "did you mean 'l1_mode'");
    snprintf(text, sizeof text, "%sreg:\n  max_norm: -1\n", BASE);
    expect_error(text, 16, 13, "reg.max_norm (0: off): expected a number >= 0");
    snprintf(text, sizeof text, "%sreg:\n  max_norm: [3]\n", BASE);
    expect_error(text, 16, 13, "reg.max_norm");
    snprintf(text, sizeof text, "%sreg:\n  input_noise_sd: .nan\n", BASE);
    expect_error(text, 16, 19, "reg.input_noise_sd (0: off): expected a finite number");
    snprintf(text, sizeof text, "%sreg: {noise: uniform}\n", BASE);
    expect_error(text, 15, 14, "reg.noise: expected one of bernoulli, three_point, gaussian");
    snprintf(text, sizeof text, "%sreg: {dropconnect_keep_prob: 0}\n", BASE);
    expect_error(text, 15, 30, "reg.dropconnect_keep_prob (1: off): expected a number in (0, 1]");
    snprintf(text, sizeof text, "%sreg: {dropconnect_keep: [0.5]}\n", BASE);
    expect_error(text, 15, 25, "reg.dropconnect_keep: a per-layer list needs 2 values");
    snprintf(text, sizeof text, "%sreg: {dropconnect_keep: [0.5, 1.5]}\n", BASE);
    expect_error(text, 15, 31, "reg.dropconnect_keep (1: off): expected a number in (0, 1], got 1.5");
    snprintf(text, sizeof text, "%sreg:\n  dropconnect_keep: 0.5\n  dropconnect_keep_prob: 0.5\n", BASE);
    expect_error(text, 17, 26, "older spelling of reg.dropconnect_keep (line 16)");
    snprintf(text, sizeof text, "%srecord: {dropconnect_masks: sometimes}\n", BASE);
    expect_error(text, 15, 29, "record.dropconnect_masks: expected none, all");
    snprintf(text, sizeof text, "%sreg: {early_stopping_patience: 3}\n", BASE);
    expect_error(text, 15, 32, "set dataset.n_val");
    snprintf(text, sizeof text, "%sreg: {early_stopping_patience: -1}\n", BASE);
    expect_error(text, 15, 32, "reg.early_stopping_patience (0: off)");
    snprintf(text, sizeof text, "%srecord: {mc_dropout_samples: 20000}\n", BASE);
    expect_error(text, 15, 30, "record.mc_dropout_samples (0: off): expected an integer from 0 to 10000");
    snprintf(text, sizeof text, "%sreg: proximal\n", BASE);
    expect_error(text, 15, 6, "reg: expected a mapping");
    snprintf(text, sizeof text, "%srecord: {zero_frac: maybe}\n", BASE);
    expect_error(text, 15, 21, "record.zero_frac");
}

/* ---- extra axes: any key of dataset, model, train, reg or eval ---------- */

/* Ids that regsweep 0.2.0 (main before extra axes) gave BASE's jobs: a spec
 * without extra axes keeps its ids. */
Test(spec, four_axis_ids_are_unchanged)
{
    rs_spec_t s;
    cr_assert_eq(parse(BASE, &s, NULL), RS_OK);
    static const struct { uint64_t index; const char *id; } known[] = {
        {0, "a7cb8c449e16"}, {7, "ada4685999c1"}, {11, "caefcd4fc0e1"},
        {17, "eddfc8a66f70"}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        rs_job_t j;
        rs_spec_job(&s, known[i].index, &j);
        cr_assert_str_eq(j.id, known[i].id, "job %llu",
                         (unsigned long long)known[i].index);
    }
    cr_assert_eq(s.n_axes, 0);
    cr_assert_eq(s.n_combos, 1);
    rs_spec_free(&s);
}

static const char *AX =
    "name: t\n"                                          /* 1 */
    "dataset:\n"                                         /* 2 */
    "  kind: sin\n"                                      /* 3 */
    "  n_train: 50\n"                                    /* 4 */
    "  seed: 1\n"                                        /* 5 */
    "model:\n"                                           /* 6 */
    "  activation: relu\n"                               /* 7 */
    "train:\n"                                           /* 8 */
    "  epochs: 5\n"                                      /* 9 */
    "axes:\n"                                            /* 10 */
    "  seed: {from: 0, to: 2}\n"                         /* 11 */
    "  keep_prob: [1.0, 0.5, [0.8, 0.6]]\n"              /* 12 */
    "  l2: [0, 0.001]\n"                                 /* 13 */
    "  train.lr: [0.1, 0.5]\n"                           /* 14 */
    "  model.layers: [[1, 8, 8, 1], [1, 16, 16, 1]]\n";  /* 15 */

static const char *edit_of(const char *base, const char *from, const char *to)
{
    static char buf[4096];
    const char *at = strstr(base, from);
    cr_assert_not_null(at, "test bug: '%s' not in the spec", from);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - base), base, to,
             at + strlen(from));
    return buf;
}

static const char *append(const char *base, const char *more)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s%s", base, more);
    return buf;
}

/* New axes vary slower than keep x l2 x l1 x seed, the first given
 * slowest; each job carries its own settings. */
Test(spec, extra_axes_grid_order_and_settings)
{
    rs_spec_t s;
    rs_error_t err;
    cr_assert_eq(parse(AX, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_axes, 2);
    cr_assert_str_eq(s.axes[0].key, "train.lr");
    cr_assert_str_eq(s.axes[1].key, "model.layers");
    cr_assert_eq(s.axes[0].type, RS_AXIS_NUMBER);
    cr_assert_eq(s.axes[1].type, RS_AXIS_TEXT);
    cr_assert_str_eq(s.axes[1].values[1].text, "1-16-16-1");
    cr_assert_eq(s.n_combos, 4);
    cr_assert_eq(s.n_jobs, 72);
    cr_assert_eq(rs_spec_n_configs(&s), 24);
    /* the spec's own settings are the first values */
    cr_assert_eq(s.settings.lr, 0.1f);
    cr_assert_eq(s.settings.arch.sizes[1], 8);
    /* index = ((i_lr * 2 + i_layers) * 3 + i_keep) * 2 + i_l2) * 3 + i_seed */
    rs_job_t j;
    rs_spec_job(&s, 18 * 3 + 7, &j);
    cr_assert_eq(j.i_axis[0], 1);
    cr_assert_eq(j.i_axis[1], 1);
    cr_assert_eq(j.combo, 3);
    cr_assert_eq(j.i_keep, 1);
    cr_assert_eq(j.i_l2, 0);
    cr_assert_eq(j.i_seed, 1);
    cr_assert_eq(j.settings.lr, 0.5f);
    cr_assert_eq(j.settings.arch.n_layers, 3);
    cr_assert_eq(j.settings.arch.sizes[1], 16);
    cr_assert_eq(j.settings.arch.sizes[2], 16);
    cr_assert_eq(j.settings.epochs, 5);
    rs_spec_job(&s, 18 * 2 + 7, &j);   /* lr 0.5, layers 1-8-8-1 */
    cr_assert_eq(j.settings.lr, 0.5f);
    cr_assert_eq(j.settings.arch.sizes[1], 8);
    rs_spec_job(&s, 18 + 7, &j);       /* lr 0.1, layers 1-16-16-1 */
    cr_assert_eq(j.settings.lr, 0.1f);
    cr_assert_eq(j.settings.arch.sizes[1], 16);
    rs_spec_free(&s);
}

/* The canonical string appends ";key=value" per extra axis, sorted by
 * key; the id is computed here independently of rs_spec_job. */
Test(spec, extra_axes_canonical_string_and_id)
{
    rs_spec_t s;
    cr_assert_eq(parse(AX, &s, NULL), RS_OK);
    rs_job_t j;
    rs_spec_job(&s, 18 * 3 + 7, &j);
    const char *canon = "seed=1;keep_prob=0.5,0.5;l2=0;l1=0;"
                        "model.layers=1-16-16-1;train.lr=0.5";
    char buf[512];
    rs_job_canonical(&s, &j, buf, sizeof buf);
    cr_assert_str_eq(buf, canon);
    char hex[65];
    rs_sha256_hex(canon, strlen(canon), hex);
    cr_assert_eq(strncmp(j.id, hex, 12), 0, "%s vs %.12s", j.id, hex);
    rs_spec_free(&s);
}

/* Swapping the axes in the spec changes indices, not ids. */
Test(spec, extra_axes_ids_do_not_depend_on_axis_order)
{
    rs_spec_t a, b;
    const char *swapped =
        edit_of(AX, "  train.lr: [0.1, 0.5]\n  model.layers: [[1, 8, 8, 1], [1, 16, 16, 1]]\n",
                "  model.layers: [[1, 8, 8, 1], [1, 16, 16, 1]]\n  train.lr: [0.1, 0.5]\n");
    cr_assert_eq(parse(AX, &a, NULL), RS_OK);
    cr_assert_eq(parse(swapped, &b, NULL), RS_OK);
    cr_assert_str_eq(b.axes[0].key, "model.layers");
    int moved = 0;
    for (uint64_t i = 0; i < a.n_jobs; i++) {
        rs_job_t ja, jb;
        rs_spec_job(&a, i, &ja);
        cr_assert_eq(rs_spec_find_job(&b, ja.id, &jb), 0, "job %s lost", ja.id);
        cr_assert_eq(jb.settings.lr, ja.settings.lr);
        cr_assert_eq(jb.settings.arch.sizes[1], ja.settings.arch.sizes[1]);
        cr_assert_eq(jb.hp.seed, ja.hp.seed);
        moved += jb.index != ja.index;
    }
    cr_assert_gt(moved, 0, "the swap reorders the grid");
    rs_spec_free(&a);
    rs_spec_free(&b);
}

/* Each axis value is checked as its key would be in its section: the
 * same message, at the value's line and column in `axes`. */
Test(spec, extra_axes_errors_say_where)
{
    expect_error(edit_of(AX, "[0.1, 0.5]", "[0.1, fast]"), 14, 19,
                 "train.lr: expected a number > 0, got 'fast'");
    expect_error(edit_of(AX, "[0.1, 0.5]", "[0.1, 0.10]"), 14, 19,
                 "axes.train.lr: value 0.10 repeats an earlier value");
    expect_error(edit_of(AX, "[1, 16, 16, 1]]", "[1, 0, 16, 1]]"), 15, 36,
                 "model.layers: expected an integer from 1 to 65536, got 0");
    expect_error(edit_of(AX, "[1, 16, 16, 1]]", "[1, 16, 1]]"), 15, 32,
                 "every value needs 4 layer sizes");
    expect_error(edit_of(AX, "[[1, 8, 8, 1], [1, 16, 16, 1]]", "[1, 8, 8, 1]"), 15, 17,
                 "expected a list of layer lists");
    expect_error(edit_of(AX, "  epochs: 5\n", "  epochs: 5\n  lr: 0.01\n"), 10, 3,
                 "train.lr is given in train and as an axis (axes, line 15)");
    expect_error(edit_of(AX, "train.lr:", "train.lrr:"), 14, 3,
                 "did you mean 'train.lr'");
    expect_error(append(AX, "  dataset.seed: [1, 2]\n"), 16, 3,
                 "dataset.seed cannot be an axis: it is a Philox key");
    expect_error(append(AX, "  dataset.dir: [a, b]\n"), 16, 3, "cannot be an axis");
    expect_error(append(AX, "  record.masks: [none, all]\n"), 16, 3,
                 "only keys of dataset, model, train, reg and eval");
    expect_error(append(AX, "  train: {lr: [1]}\n"), 16, 3, "dotted path");
    expect_error(append(AX, "  reg.noise: [bernoulli, uniform]\n"), 16, 26,
                 "reg.noise: expected one of bernoulli, three_point, gaussian");
    expect_error(append(AX, "  reg.early_stopping_patience: [0, 3]\n"), 16, 36,
                 "set dataset.n_val");
    expect_error(append(AX, "  dataset.n_val: [10, 0]\n"), 16, 23, "values >= 1");
    expect_error(append(AX, "  model.init: [normal, normal]\n"), 16, 24,
                 "entry 2 (normal) repeats entry 1");
    expect_error(append(AX, "  model.activation: [tanh]\n"), 7, 3,
                 "model.activation is given in model and as an axis");
    expect_error(append(AX, "  train.batch_size: [full, 0]\n"), 16, 28,
                 "train.batch_size (or full)");
}

/* Names, booleans, batch sizes and dataset keys as axes. */
Test(spec, extra_axes_of_every_kind)
{
    rs_spec_t s;
    rs_error_t err;
    const char *text = append(AX, "  reg.noise: [bernoulli, three_point]\n"
                                  "  train.batch_size: [full, 16]\n"
                                  "  train.shuffle: [true, False]\n"
                                  "  dataset.noise_sd: [0.5, 0.1]\n");
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_axes, 6);
    cr_assert_eq(s.n_jobs, 72 * 16);
    cr_assert_str_eq(s.axes[3].values[0].text, "full");
    cr_assert_str_eq(s.axes[4].values[1].text, "false");
    cr_assert(rs_spec_data_per_job(&s));
    rs_job_t j;
    rs_spec_job(&s, s.n_jobs - 1, &j);
    cr_assert_eq(j.settings.reg.noise, RS_NOISE_THREE_POINT);
    cr_assert_eq(j.settings.batch_size, 16);
    cr_assert_eq(j.settings.shuffle, 0);
    cr_assert_eq(j.sin.noise_sd, 0.1f);
    char buf[512];
    rs_job_canonical(&s, &j, buf, sizeof buf);
    cr_assert(strstr(buf, ";dataset.noise_sd=0.10000000000000001;model.layers="
                          "1-16-16-1;reg.noise=three_point;train.batch_size=16;"
                          "train.lr=0.5;train.shuffle=false"), "%s", buf);
    cr_assert_eq(rs_spec_axis_value_index(&s, 1, "[1, 16, 16, 1]"), 1);
    cr_assert_eq(rs_spec_axis_value_index(&s, 1, "1-8-8-1"), 0);
    cr_assert_eq(rs_spec_axis_value_index(&s, 0, "0.5"), 1);
    cr_assert_eq(rs_spec_axis_value_index(&s, 0, "0.50000001"), 1, "as float32");
    cr_assert_eq(rs_spec_axis_value_index(&s, 0, "0.3"), -1);
    cr_assert_eq(rs_spec_axis_value_index(&s, 2, "three_point"), 1);
    cr_assert_eq(rs_spec_axis_find(&s, "train.shuffle"), 4);
    rs_spec_free(&s);
}

/* Hydra-style comma sweeps: a list for a section key makes it an axis
 * (and takes it out of its section); a single value removes the axis. */
Test(spec, comma_sweeps_on_the_command_line)
{
    rs_spec_t s;
    rs_error_t err;
    char *over[] = {"train.lr=0.1,0.5"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over, &s, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_axes, 1);
    cr_assert_str_eq(s.axes[0].key, "train.lr");
    cr_assert_eq(s.axes[0].n, 2);
    cr_assert_eq(s.n_jobs, 36);
    rs_spec_free(&s);
    char *over2[] = {"model.layers=[1,4,4,1],[1,8,8,1]", "axes.train.epochs=[2, 3]",
                     "axes.l2=0,0.1,0.2"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 3, over2, &s, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_axes, 2);
    cr_assert_str_eq(s.axes[0].values[1].text, "1-8-8-1");
    cr_assert_str_eq(s.axes[1].key, "train.epochs");
    cr_assert_eq(s.n_l2, 3);
    cr_assert_eq(s.n_jobs, 3 * 3 * 3 * 2 * 2);
    rs_spec_free(&s);
    /* a single value replaces the spec's axis */
    char *over3[] = {"train.lr=0.2"};
    cr_assert_eq(rs_spec_parse(AX, strlen(AX), "t.yaml", 1, over3, &s, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_axes, 1);
    cr_assert_str_eq(s.axes[0].key, "model.layers");
    cr_assert_eq(s.settings.lr, 0.2f);
    rs_spec_free(&s);
    /* a bad value names the override */
    char *over4[] = {"train.lr=0.1,-1"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over4, &s, &err),
                 RS_EINPUT);
    cr_assert(strstr(err.path, "train.lr=0.1,-1"), "%s", err.path);
    cr_assert(strstr(err.msg, "train.lr: expected a number > 0"), "%s", err.msg);
}

/* record.masks.epochs counts from the end of each job's own epochs. */
Test(spec, mask_epochs_follow_an_epochs_axis)
{
    rs_spec_t s;
    rs_error_t err;
    const char *text = append(edit_of(BASE, "  epochs: 5\n", ""),
                              "  train.epochs: [2, 5]\n"
                              "record: {masks: {epochs: [0, -1], steps: [0]}}\n");
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    rs_job_t j;
    rs_spec_job(&s, 0, &j);
    cr_assert_eq(j.settings.epochs, 2);
    cr_assert_eq(j.settings.mask_sel.n_epochs, 2);
    cr_assert_eq(j.settings.mask_sel.epochs[1], 1);
    rs_spec_job(&s, 18, &j);
    cr_assert_eq(j.settings.epochs, 5);
    cr_assert_eq(j.settings.mask_sel.epochs[1], 4);
    rs_spec_free(&s);
    text = append(edit_of(BASE, "  epochs: 5\n", ""),
                  "  train.epochs: [5, 2]\n"
                  "record: {masks: {epochs: [3]}}\n");
    expect_error(text, 15, 27, "with train.epochs = 2, a value of its axis");
}

Test(spec, report_baseline_names_extra_axes)
{
    rs_spec_t s;
    rs_error_t err;
    const char *text = append(AX, "report: {baseline: {keep_prob: 1, train.lr: 0.5}}\n");
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.baseline_axis[0], 1);
    cr_assert_eq(s.baseline_axis[1], -1);
    rs_spec_free(&s);
    expect_error(append(AX, "report: {baseline: {train.lr: 0.3}}\n"), 16, 31,
                 "report.baseline.train.lr: 0.29999999999999999 is not a value of the axis");
    expect_error(append(AX, "report: {baseline: {train.epochs: 3}}\n"), 16, 21,
                 "'train.epochs' is not an axis");
}

/* A job's cost follows its own settings: epochs and layer sizes may be
 * axes.  [1, 8, 8, 1]: forward 2 (1*8 + 8*8 + 8*1) = 160 FLOPs a row; 50
 * training rows, 500 test rows, the training set evaluated too:
 * E (3*160*50 + 160*550) + 160*550 = 112000 E + 88000. */
Test(spec, job_cost_uses_the_jobs_own_settings)
{
    rs_spec_t s;
    rs_error_t err;
    const char *text = append(edit_of(BASE, "  epochs: 5\n", ""),
                              "  train.epochs: [2, 5]\n"
                              "  model.layers: [[1, 8, 8, 1], [1, 16, 16, 1]]\n");
    text = edit_of(text, "  layers: [1, 8, 8, 1]\n", "  activation: relu\n");
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    rs_job_t j;
    rs_spec_job(&s, 0, &j);                 /* 2 epochs, 1-8-8-1 */
    cr_assert_eq(rs_job_cost(&s, &j), 112000.0 * 2 + 88000.0);
    rs_spec_job(&s, 2 * 18, &j);            /* 5 epochs, 1-8-8-1 */
    cr_assert_eq(rs_job_cost(&s, &j), 112000.0 * 5 + 88000.0);
    rs_spec_job(&s, 18, &j);                /* 2 epochs, 1-16-16-1: 576 a row */
    cr_assert_eq(rs_job_cost(&s, &j), 2 * (3.0 * 576 * 50 + 576 * 550) + 576 * 550);
    rs_spec_free(&s);
}

/* record.act_var: off by default; none, all or {epochs, steps} like
 * record.masks, with its own lists (epochs counting from the end of each
 * job's own epochs) and its own messages. */
Test(spec, act_var_selection)
{
    rs_spec_t s;
    rs_error_t err;
    char text[2048];
    cr_assert_eq(parse(BASE, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.settings.record_act_var, 0);
    rs_spec_free(&s);
    snprintf(text, sizeof text, "%srecord: {act_var: all, masks: none}\n", BASE);
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.settings.record_act_var, 1);
    cr_assert_eq(s.settings.act_var_sel.all, 1);
    cr_assert_eq(s.settings.record_masks, 0);
    rs_spec_free(&s);
    snprintf(text, sizeof text,
             "%srecord: {act_var: {epochs: [-1, 0], steps: [0]}, "
             "masks: {epochs: [1]}}\n", BASE);
    cr_assert_eq(parse(text, &s, &err), RS_OK, "%s", err.msg);
    cr_assert_eq(s.settings.act_var_sel.n_epochs, 2);
    cr_assert_eq(s.settings.act_var_sel.epochs[1], 4);   /* epochs: 5 */
    cr_assert_eq(s.settings.act_var_sel.n_steps, 1);
    cr_assert_eq(s.settings.mask_sel.n_epochs, 1);
    cr_assert_eq(s.settings.mask_sel.epochs[0], 1);
    cr_assert(s.settings.mask_sel.steps_all);
    rs_spec_free(&s);
    snprintf(text, sizeof text, "%srecord: {act_var: {epochs: [-6]}}\n", BASE);
    expect_error(text, 15, 29, "record.act_var.epochs: expected an integer from -5 to 4");
    snprintf(text, sizeof text, "%srecord: {act_var: some}\n", BASE);
    expect_error(text, 15, 19, "record.act_var: expected none, all, or a mapping");
    snprintf(text, sizeof text, "%srecord: {act_var: {epoch: [0]}}\n", BASE);
    expect_error(text, 15, 20, "unknown key 'epoch' in record.act_var");
    const char *ax = append(edit_of(BASE, "  epochs: 5\n", ""),
                            "  train.epochs: [2, 5]\n"
                            "record: {act_var: {epochs: [-1]}}\n");
    cr_assert_eq(parse(ax, &s, &err), RS_OK, "%s", err.msg);
    rs_job_t j;
    rs_spec_job(&s, 0, &j);
    cr_assert_eq(j.settings.act_var_sel.epochs[0], 1);
    rs_spec_job(&s, 18, &j);
    cr_assert_eq(j.settings.act_var_sel.epochs[0], 4);
    cr_assert(j.settings.mask_sel.all, "masks keep their default");
    rs_spec_free(&s);
}

/* ---- eval.mc_samples and its older spelling record.mc_dropout_samples ---- */

/* The two spellings give the same settings, the same cost and the ids a
 * spec without either has (fixed settings are not in a job's id). */
Test(spec, eval_mc_samples_is_record_mc_dropout_samples)
{
    static const char *const ids[] = {"a7cb8c449e16", "ada4685999c1"};
    static const uint64_t at[] = {0, 7};
    rs_spec_t now, old, none;
    rs_error_t err;
    cr_assert_eq(parse(append(BASE, "eval: {mc_samples: 20}\n"), &now, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(parse(append(BASE, "record: {mc_dropout_samples: 20}\n"), &old,
                       &err), RS_OK, "%s", err.msg);
    cr_assert_eq(parse(append(BASE, "eval: {}\n"), &none, &err), RS_OK, "%s",
                 err.msg);
    cr_assert_eq(now.settings.mc_samples, 20);
    cr_assert_eq(old.settings.mc_samples, 20);
    cr_assert_eq(none.settings.mc_samples, 0);
    cr_assert_eq(now.n_axes, 0);
    cr_assert_eq(now.n_jobs, old.n_jobs);
    for (size_t i = 0; i < 2; i++) {
        rs_job_t a, b, c;
        rs_spec_job(&now, at[i], &a);
        rs_spec_job(&old, at[i], &b);
        rs_spec_job(&none, at[i], &c);
        cr_assert_str_eq(a.id, ids[i]);
        cr_assert_str_eq(b.id, ids[i]);
        cr_assert_eq(a.settings.mc_samples, 20);
        cr_assert_eq(b.settings.mc_samples, 20);
        cr_assert_eq(rs_job_cost(&now, &a), rs_job_cost(&old, &b));
        /* 500 test rows evaluated 1 + 20 times instead of once */
        cr_assert_gt(rs_job_cost(&now, &a), rs_job_cost(&none, &c));
    }
    rs_spec_free(&now);
    rs_spec_free(&old);
    rs_spec_free(&none);
}

/* BASE ends on line 14: what is appended starts on line 15. */
Test(spec, eval_section_errors_say_where)
{
    expect_error(append(BASE, "eval: {mc_samples: 10001}\n"), 15, 20,
                 "eval.mc_samples (0: off): expected an integer from 0 to 10000, got 10001");
    expect_error(append(BASE, "eval: {mc_samples: -1}\n"), 15, 20,
                 "eval.mc_samples (0: off): expected an integer from 0 to 10000");
    expect_error(append(BASE, "eval: {mc_samples: 2.5}\n"), 15, 20,
                 "eval.mc_samples (0: off): expected an integer, got '2.5'");
    expect_error(append(BASE, "eval: {mc_sample: 3}\n"), 15, 8,
                 "unknown key 'mc_sample' in eval (did you mean 'mc_samples'?)");
    expect_error(append(BASE, "eval: 20\n"), 15, 7, "eval: expected a mapping");
    /* both spellings: at the older one, naming where the other is */
    expect_error(append(BASE, "eval: {mc_samples: 20}\n"
                              "record: {mc_dropout_samples: 20}\n"), 16, 10,
                 "record.mc_dropout_samples is the older name of eval.mc_samples, "
                 "which is given too (t.yaml, line 15, column 8): keep one");
    expect_error(append(BASE, "  eval.mc_samples: [0, 20]\n"
                              "record: {mc_dropout_samples: 20}\n"), 16, 10,
                 "which is given too (t.yaml, line 15, column 3)");
}

Test(spec, eval_mc_samples_axis_errors_say_where)
{
    expect_error(append(BASE, "  eval.mc_samples: [0, 20000]\n"), 15, 24,
                 "eval.mc_samples (0: off): expected an integer from 0 to 10000");
    expect_error(append(BASE, "  eval.mc_samples: [20, 20]\n"), 15, 25,
                 "axes.eval.mc_samples: entry 2 (20) repeats entry 1");
    expect_error(append(BASE, "  eval.mc_sample: [0, 20]\n"), 15, 3,
                 "did you mean 'eval.mc_samples'");
    expect_error(append(BASE, "  record.mc_dropout_samples: [0, 20]\n"), 15, 3,
                 "record.mc_dropout_samples cannot be an axis; its current name "
                 "eval.mc_samples can");
    expect_error(append(BASE, "  eval.mc_samples: [0, 20]\neval: {mc_samples: 3}\n"),
                 16, 8, "eval.mc_samples is given in eval and as an axis");
    expect_error(append(BASE, "  eval: {mc_samples: [0, 20]}\n"), 15, 3,
                 "name the key by its dotted path, e.g. eval.mc_samples");
    expect_error(append(BASE, "  record.masks: [none, all]\n"), 15, 3,
                 "only keys of dataset, model, train, reg and eval can");
}

/* An axis over eval.mc_samples: the slowest axis, each job with its own
 * value, named in the id; the command line's comma sweep is the same
 * axis, and an override of either spelling replaces the other. */
Test(spec, eval_mc_samples_axis_gives_jobs_their_settings)
{
    rs_spec_t s, o;
    rs_error_t err;
    cr_assert_eq(parse(append(BASE, "  eval.mc_samples: [0, 20]\n"), &s, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(s.n_axes, 1);
    cr_assert_str_eq(s.axes[0].key, "eval.mc_samples");
    cr_assert_eq(s.axes[0].type, RS_AXIS_NUMBER);
    cr_assert_eq(s.n_jobs, 36);
    cr_assert_eq(s.settings.mc_samples, 0, "the spec's: the first value");
    for (uint64_t i = 0; i < s.n_jobs; i++) {
        rs_job_t j;
        rs_spec_job(&s, i, &j);
        cr_assert_eq(j.settings.mc_samples, i < 18 ? 0u : 20u, "job %llu",
                     (unsigned long long)i);
        cr_assert_eq(j.i_axis[0], i < 18 ? 0u : 1u);
    }
    rs_job_t j;
    rs_spec_job(&s, 18, &j);
    char buf[512];
    rs_job_canonical(&s, &j, buf, sizeof buf);
    cr_assert_str_eq(buf, "seed=0;keep_prob=1,1;l2=0;l1=0;eval.mc_samples=20");
    cr_assert_eq(rs_spec_axis_value_index(&s, 0, "20"), 1);
    char *over[] = {"eval.mc_samples=0,20"};
    cr_assert_eq(rs_spec_parse(BASE, strlen(BASE), "t.yaml", 1, over, &o, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(o.n_jobs, s.n_jobs);
    for (uint64_t i = 0; i < s.n_jobs; i++) {
        rs_job_t a, b;
        rs_spec_job(&s, i, &a);
        rs_spec_job(&o, i, &b);
        cr_assert_str_eq(a.id, b.id);
        cr_assert_eq(a.settings.mc_samples, b.settings.mc_samples);
    }
    rs_spec_free(&o);
    /* the older spelling on the command line replaces the axis */
    char *over2[] = {"record.mc_dropout_samples=7"};
    const char *text = append(BASE, "  eval.mc_samples: [0, 20]\n");
    cr_assert_eq(rs_spec_parse(text, strlen(text), "t.yaml", 1, over2, &o, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(o.n_axes, 0);
    cr_assert_eq(o.settings.mc_samples, 7);
    rs_spec_free(&o);
    /* and the current one replaces the older */
    char *over3[] = {"eval.mc_samples=5"};
    text = append(BASE, "record: {mc_dropout_samples: 20}\n");
    cr_assert_eq(rs_spec_parse(text, strlen(text), "t.yaml", 1, over3, &o, &err),
                 RS_OK, "%s", err.msg);
    cr_assert_eq(o.settings.mc_samples, 5);
    rs_spec_free(&o);
    rs_spec_free(&s);
}
