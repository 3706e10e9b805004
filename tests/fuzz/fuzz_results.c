/* SPDX-License-Identifier: MIT */
/* fuzz_results.c — libFuzzer target for the results-file and job-file
 * readers of store.h, the code that meets HDF5 files of unknown origin.
 *
 * Input: the bytes of an HDF5 file, written to a private temporary
 * directory and read two ways:
 *   - as a results file OUT.h5: rs_store_read_spec; when that succeeds,
 *     rs_store_read_table_status, then rs_store_read_summary and
 *     rs_store_read_curves (from_top = 1) for each of the spec's first
 *     MAX_JOBS jobs (curves only for specs of at most MAX_EPOCHS epochs);
 *   - as a job file OUT.jobs/<id>.h5 of a fixed spec (SPEC below: the seed
 *     corpus holds real job files of it): the input is linked under the
 *     names of that spec's jobs and rs_store_read_summary and
 *     rs_store_read_curves (from_top = 0) are called for each.
 * The readers verify a job's content checksum before they use any of it
 * (verify before trust), so a fuzzed job mostly stops there; what runs
 * before it — libhdf5 decoding the superblock, object headers, heaps,
 * attributes and datatypes to read and hash the file — is what this
 * target exercises.
 *
 * Contracts checked (trap when broken): a failing reader returns RS_EINPUT
 * or RS_ENOMEM with err.code equal, or RS_EMISMATCH (damaged content) with
 * err.code RS_EINPUT, and a message; a summary
 * read that succeeds has status done, diverged or missing (missing only
 * when the job is not there); a spec read that succeeds has 1 to the
 * grid cap of jobs; the table gives known status codes.
 *
 * Crashes inside libhdf5 1.10.8 on malformed files are known (see
 * docs/RELIABILITY.md): this target finds them too, and the fuzz script
 * reports where they are.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regsweep/spec.h"
#include "regsweep/store.h"

#define MAX_JOBS 8
#define MAX_EPOCHS 100000
#define N_FIXED_JOBS 2

/* The spec of the seeds in tests/fuzz/corpus/results/ (results_tiny.h5 and
 * its two job files, made by `regsweep run` with this spec and -j 1;
 * tools/fuzz.sh -r remakes them): its jobs are the job-file names. */
static const char SPEC[] =
    "name: tiny\n"
    "dataset: {kind: sin, n_train: 8, n_test: 4, noise_sd: 0.5, seed: 1}\n"
    "model: {layers: [1, 4, 3, 1], activation: relu}\n"
    "train: {lr: 0.02, epochs: 2, batch_size: 4, shuffle: true}\n"
    "record: {masks: all}\n"
    "axes:\n"
    "  seed: [0]\n"
    "  keep_prob: [1.0, 0.7]\n";

static char g_dir[64], g_top[96], g_jobs[96];
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
    c->n = n;
    double **slot[7] = {&c->train_loss, &c->test_loss, &c->val_loss,
                        &c->train_acc, &c->test_acc, &c->val_acc,
                        &c->train_loss_dropout};
    for (int i = 0; i < 7; i++)
        *slot[i] = buf + (size_t)i * n;
    return buf;
}

/* The two job readers on job `job` of `spec`, in `where`. */
static void read_job(const char *where, int from_top, const rs_spec_t *spec,
                     const rs_job_t *job)
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
    if (row.status == RS_JOB_MISSING || spec->settings.epochs >= MAX_EPOCHS)
        return;
    rs_curves_t c;
    double *buf = curves_alloc(&c, spec->settings.epochs + 1);
    if (!buf)
        return;
    rs_error_clear(&err);
    st = rs_store_read_curves(where, from_top, spec, job, &c, &err);
    if (st != RS_OK)
        check_failure(st, &err);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as a results file */
    if (write_file(g_top, data, size) != 0)
        abort();
    rs_spec_t spec;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_store_read_spec(g_top, &spec, &err);
    if (st != RS_OK) {
        check_failure(st, &err);
    } else {
        check(spec.n_jobs >= 1 && spec.n_jobs <= RS_SPEC_MAX_JOBS);
        uint8_t *status = malloc(spec.n_jobs);
        if (status) {
            rs_error_clear(&err);
            st = rs_store_read_table_status(g_top, &spec, status, &err);
            if (st != RS_OK)
                check_failure(st, &err);
            else
                for (uint64_t i = 0; i < spec.n_jobs; i++)
                    check(status[i] <= RS_JOB_DIVERGED);
            free(status);
        }
        uint64_t n = spec.n_jobs < MAX_JOBS ? spec.n_jobs : MAX_JOBS;
        for (uint64_t i = 0; i < n; i++) {
            rs_job_t job;
            rs_spec_job(&spec, i, &job);
            read_job(g_top, 1, &spec, &job);
        }
        rs_spec_free(&spec);
    }
    unlink(g_top);

    /* as a job file of the fixed spec, under each of its jobs' names */
    if (write_file(g_job_path[0], data, size) != 0)
        abort();
    for (int i = 1; i < N_FIXED_JOBS; i++) {
        unlink(g_job_path[i]);
        if (link(g_job_path[0], g_job_path[i]) != 0)
            abort();
    }
    for (int i = 0; i < N_FIXED_JOBS; i++)
        read_job(g_jobs, 0, &g_spec, &g_job[i]);
    return 0;
}
