/* SPDX-License-Identifier: MIT */
/* fuzz_results.c — libFuzzer target for the results-file and job-file
 * readers of store.h (format 2), the code that meets HDF5 files of unknown
 * origin.
 *
 * Input: the bytes of an HDF5 file, written to a private temporary
 * directory and read two ways:
 *   - as a results file OUT.h5 (with an empty OUT.jobs/): rs_store_read_spec;
 *     when that succeeds, rs_store_read_table_status, rs_store_read_rows
 *     with verify (the /jobs table, then every job it marks finished opened
 *     in /runs and checked against its content checksum; specs of at most
 *     MAX_ROWS jobs), then rs_store_read_summary and rs_store_read_curves
 *     (from_top = 1) for each of the spec's first MAX_JOBS jobs (curves only
 *     for specs of at most MAX_EPOCHS epochs);
 *   - as a job file OUT.jobs/<id>.h5 of a fixed spec (SPEC below: the seed
 *     corpus holds real job files of it), with no OUT.h5: under each of
 *     that spec's job names in turn, alone in OUT.jobs/,
 *     rs_store_read_rows reads the journal (rs_store_read_summary of the
 *     job file) and rs_store_read_curves (from_top = 0) reads that job.
 * The readers verify a job's content checksum before they use any of it
 * (verify before trust), so a fuzzed job mostly stops there; what runs
 * before it — libhdf5 decoding the superblock, object headers, heaps,
 * attributes and datatypes to read and hash the file — and the /jobs table,
 * which has no checksum of ours, are what this target exercises.
 *
 * Contracts checked (trap when broken): a failing reader returns RS_EINPUT
 * or RS_ENOMEM with err.code equal, or RS_EMISMATCH (damaged content) with
 * err.code RS_EINPUT, and a message; a spec read that succeeds has 1 to the
 * grid cap of jobs; the table gives known status codes, and read_rows the
 * same ones; every row it gives has a known status, epochs within the
 * spec's (or none) and a terminated diverged_quantity; a job the verified
 * table marks finished is not missing from /runs; a summary read that
 * succeeds has status done, diverged or missing (missing only when the job
 * is not there); the journal holds the one job file there is, or marks it
 * damaged, and no other job.
 *
 * Crashes inside libhdf5 1.10.8 on malformed files are known (see
 * docs/RELIABILITY.md): this target finds them too, and the fuzz script
 * reports where they are.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regsweep/spec.h"
#include "regsweep/store.h"

#define MAX_JOBS 8
#define MAX_ROWS 4096
#define MAX_EPOCHS 100000
#define N_FIXED_JOBS 2

/* The spec of the seeds in tests/fuzz/corpus/results/ (a packed results
 * file, the results file of a --no-pack run, and that run's two job files);
 * tools/fuzz_results_seeds.sh reads this string and remakes them: its jobs
 * are the job-file names. */
static const char SPEC[] =
    "name: tiny\n"
    "dataset: {kind: sin, n_train: 8, n_test: 4, n_val: 4,\n"
    "          noise_sd: 0.5, seed: 1}\n"
    "model: {layers: [1, 4, 3, 1], activation: relu}\n"
    "train: {lr: 0.02, epochs: 2, batch_size: 4, shuffle: true}\n"
    "record: {masks: all}\n"
    "axes:\n"
    "  seed: [0]\n"
    "  keep_prob: [1.0, 0.7]\n";

static char g_dir[64], g_top[96], g_jobs[96], g_input[96];
static char g_job_path[N_FIXED_JOBS][128];
static rs_spec_t g_spec;
static rs_job_t g_job[N_FIXED_JOBS];

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void check_failure(rs_status st, const rs_error_t *err)
{
    /* a job whose content does not match its checksum (or cannot be read
     * to compute it) is RS_EMISMATCH, so that --resume recomputes it, with
     * a message of code RS_EINPUT, so that info and report exit 2 */
    rs_status code = st == RS_EMISMATCH ? RS_EINPUT : st;
    if ((st == RS_EINPUT || st == RS_EMISMATCH || st == RS_ENOMEM) &&
        err->code == code && err->msg[0] != '\0')
        return;
    fprintf(stderr, "fuzz_results: broken contract: status %d, err.code %d, "
            "message '%s'\n", (int)st, (int)err->code, err->msg);
    __builtin_trap();
}

/* A fresh file each time (see fuzz_idx.c: rewriting one costs a flush). */
static int write_file(const char *path, const uint8_t *data, size_t n)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rs_store_init();
    const char *tmp = getenv("TMPDIR");
    if (!tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_dir, sizeof g_dir, "%.40s/rs-fuzz-res-XXXXXX", tmp);
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_top, sizeof g_top, "%s/out.h5", g_dir);
    snprintf(g_jobs, sizeof g_jobs, "%s/out.jobs", g_dir);
    snprintf(g_input, sizeof g_input, "%s/input.h5", g_dir);
    if (mkdir(g_jobs, 0700) != 0)
        abort();
    rs_error_t err;
    if (rs_spec_parse(SPEC, sizeof SPEC - 1, "fuzz_results.c", 0, NULL, &g_spec,
                      &err) != RS_OK || g_spec.n_jobs != N_FIXED_JOBS)
        abort();
    for (int i = 0; i < N_FIXED_JOBS; i++) {
        rs_spec_job(&g_spec, (uint64_t)i, &g_job[i]);
        snprintf(g_job_path[i], sizeof g_job_path[i], "%s/%s.h5", g_jobs,
                 g_job[i].id);
    }
    return 0;
}

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
    if (!g_dir[0])
        return;
    unlink(g_top);
    unlink(g_input);
    for (int i = 0; i < N_FIXED_JOBS; i++)
        unlink(g_job_path[i]);
    rmdir(g_jobs);
    rmdir(g_dir);
    rs_spec_free(&g_spec);
}

/* Curves of n entries in one block; NULL when n is too large. */
static double *curves_alloc(rs_curves_t *c, uint32_t n)
{
    double *buf = malloc(7 * (size_t)n * sizeof *buf);
    if (!buf)
        return NULL;
    memset(c, 0, sizeof *c);
    c->n = n;
    double **slot[7] = {&c->train_loss, &c->test_loss, &c->val_loss,
                        &c->train_acc, &c->test_acc, &c->val_acc,
                        &c->train_loss_dropout};
    for (int i = 0; i < 7; i++)
        *slot[i] = buf + (size_t)i * n;
    return buf;
}

static void read_curves(const char *where, int from_top, const rs_spec_t *spec,
                        const rs_job_t *job)
{
    if (spec->settings.epochs >= MAX_EPOCHS)
        return;
    rs_curves_t c;
    double *buf = curves_alloc(&c, spec->settings.epochs + 1);
    if (!buf)
        return;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_store_read_curves(where, from_top, spec, job, &c, &err);
    if (st != RS_OK)
        check_failure(st, &err);
    free(buf);
}

/* A row as the readers give it: what a caller may index or print with. */
static void check_row(const rs_spec_t *spec, const rs_job_summary_t *row)
{
    uint32_t epochs = spec->settings.epochs;
    check(row->status <= RS_JOB_DIVERGED);
    check(row->best_epoch == RS_NO_EPOCH || row->best_epoch <= epochs);
    check(row->diverged_epoch == RS_NO_EPOCH || row->diverged_epoch <= epochs);
    check(memchr(row->diverged_quantity, '\0',
                 sizeof row->diverged_quantity) != NULL);
}

/* The summary of job `job` of `spec`, then its curves, in `where`;
 * must_exist: the verified table marks it finished. */
static void read_job(const char *where, int from_top, const rs_spec_t *spec,
                     const rs_job_t *job, int must_exist)
{
    rs_error_t err;
    rs_error_clear(&err);
    rs_job_summary_t row;
    rs_status st = rs_store_read_summary(where, from_top, spec, job, &row, &err);
    if (st != RS_OK) {
        check_failure(st, &err);
        return;
    }
    check(row.status == RS_JOB_DONE || row.status == RS_JOB_DIVERGED ||
          row.status == RS_JOB_MISSING);
    check(!must_exist || row.status != RS_JOB_MISSING);
    check_row(spec, &row);
    if (row.status != RS_JOB_MISSING)
        read_curves(where, from_top, spec, job);
}

/* rs_store_read_rows of OUT.h5 (g_top) and OUT.jobs/ for `spec`: the rows
 * (spec->n_jobs), and whether the reader succeeded; NULL when the spec has
 * more than MAX_ROWS jobs.  With damaged, a damaged job file is marked. */
static rs_job_summary_t *read_rows(const rs_spec_t *spec, int verify,
                                   uint8_t *damaged, uint64_t *n_journal,
                                   int *ok)
{
    *ok = 0;
    *n_journal = 0;
    if (spec->n_jobs > MAX_ROWS)
        return NULL;
    rs_job_summary_t *rows = malloc(spec->n_jobs * sizeof *rows);
    if (!rows)
        return NULL;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_store_read_rows(g_top, spec, verify, rows, damaged,
                                      n_journal, &err);
    if (st != RS_OK) {
        check_failure(st, &err);
        return rows;
    }
    *ok = 1;
    for (uint64_t i = 0; i < spec->n_jobs; i++)
        check_row(spec, &rows[i]);
    return rows;
}

/* The input as OUT.h5, with an empty OUT.jobs/. */
static void as_results_file(void)
{
    rs_spec_t spec;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_store_read_spec(g_top, &spec, &err);
    if (st != RS_OK) {
        check_failure(st, &err);
        return;
    }
    check(spec.n_jobs >= 1 && spec.n_jobs <= RS_SPEC_MAX_JOBS);
    uint8_t *status = malloc(spec.n_jobs);
    int table_ok = 0;
    if (status) {
        rs_error_clear(&err);
        st = rs_store_read_table_status(g_top, &spec, status, &err);
        if (st != RS_OK)
            check_failure(st, &err);
        table_ok = st == RS_OK;
        for (uint64_t i = 0; table_ok && i < spec.n_jobs; i++)
            check(status[i] <= RS_JOB_DIVERGED);
    }
    uint64_t n_journal;
    int rows_ok;
    rs_job_summary_t *rows = read_rows(&spec, 1, NULL, &n_journal, &rows_ok);
    if (rows_ok) {
        check(n_journal == 0);
        for (uint64_t i = 0; table_ok && i < spec.n_jobs; i++)
            check(rows[i].status == (rs_job_status)status[i]);
    }
    uint64_t n = spec.n_jobs < MAX_JOBS ? spec.n_jobs : MAX_JOBS;
    for (uint64_t i = 0; i < n; i++) {
        rs_job_t job;
        rs_spec_job(&spec, i, &job);
        read_job(g_top, 1, &spec, &job,
                 rows_ok && rs_job_finished(rows[i].status));
    }
    free(rows);
    free(status);
    rs_spec_free(&spec);
}

/* The input as the job file of fixed job `i`, alone in OUT.jobs/, with no
 * OUT.h5 (a job file names its job: under another job's name it is
 * refused before anything else is read, so each name gets its turn). */
static void as_job_file(int i)
{
    if (unlink(g_job_path[i]) != 0 && errno != ENOENT)
        abort();
    if (link(g_input, g_job_path[i]) != 0)
        abort();
    uint8_t damaged[N_FIXED_JOBS];
    uint64_t n_journal;
    int rows_ok;
    rs_job_summary_t *rows = read_rows(&g_spec, 0, damaged, &n_journal,
                                       &rows_ok);
    if (rows_ok) {
        check(n_journal <= 1);
        for (int j = 0; j < N_FIXED_JOBS; j++) {
            check(!damaged[j] || (j == i && rows[j].status == RS_JOB_MISSING));
            check(j == i || rows[j].status == RS_JOB_MISSING);
        }
        check(rs_job_finished(rows[i].status) == (n_journal == 1));
    }
    free(rows);
    read_curves(g_jobs, 0, &g_spec, &g_job[i]);
    unlink(g_job_path[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (write_file(g_top, data, size) != 0)
        abort();
    as_results_file();
    unlink(g_top);

    if (write_file(g_input, data, size) != 0)
        abort();
    for (int i = 0; i < N_FIXED_JOBS; i++)
        as_job_file(i);
    unlink(g_input);
    return 0;
}
