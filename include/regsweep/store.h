/* SPDX-License-Identifier: MIT */
/* store.h — the HDF5 results format (docs/FORMAT.md is its specification).
 *
 * A sweep writes OUT.h5, OUT.analysis.h5 and a directory OUT.jobs/ beside
 * it:
 *   OUT.jobs/<id>.h5  the journal: one file per job finished since the last
 *                     pack, written as <id>.h5.<pid>.tmp, fsync'ed, renamed,
 *                     and the directory fsync'ed: a job file exists iff the
 *                     job finished, whatever kills the process and when;
 *   OUT.jobs/provenance.tsv, runs.tsv  wall times and invocations
 *                     (volatile), appended; OUT.jobs/.lock  the sweep's lock;
 *   OUT.h5            the spec, the /jobs table, /runs/<id> for every job
 *                     packed so far, /provenance; rewritten whole (tmp +
 *                     rename) when a run ends: the pack copies the job files
 *                     (and the earlier OUT.h5's runs) into it, compressed,
 *                     and then deletes those job files, so a finished sweep
 *                     is one copy on disk;
 *   OUT.analysis.h5   the report's tables; OUT.h5's /analysis links to it.
 * Everything outside /provenance is a pure function of the spec text and
 * the regsweep version.  HDF5 is called by one thread at a time: callers
 * serialise (the sweep does it with one critical section); the functions
 * that call no HDF5 say so.
 */
#ifndef RS_STORE_H
#define RS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/common.h"
#include "regsweep/spec.h"
#include "regsweep/train.h"

#define RS_FORMAT_NAME "regsweep-results"
#define RS_JOB_FORMAT_NAME "regsweep-job"
#define RS_FORMAT_VERSION 2

typedef enum rs_job_status {
    RS_JOB_MISSING = 0,   /* not run (yet)                             */
    RS_JOB_DONE = 1,      /* finished; its job file exists              */
    RS_JOB_FAILED = 2,    /* ran and failed; retried on --resume        */
    RS_JOB_DIVERGED = 3   /* finished, but a loss or weight went non-
                             finite and training stopped there; its job
                             file exists; not rerun (it would diverge
                             again, bit for bit)                        */
} rs_job_status;

/* Done or diverged: the job has its job file and is not run again. */
static inline int rs_job_finished(rs_job_status s)
{
    return s == RS_JOB_DONE || s == RS_JOB_DIVERGED;
}

/* The /jobs status names: "missing", "done", "failed", "diverged". */
const char *rs_job_status_name(rs_job_status s);

#define RS_NO_EPOCH UINT32_MAX

/* One row of the /jobs table. */
typedef struct rs_job_summary {
    rs_job_status status;
    double train_loss, test_loss, gap;          /* final (epoch E)      */
    double train_acc, test_acc, gap_acc;        /* NaN for regression   */
    double val_loss, val_acc;                   /* NaN without val      */
    /* best_*: at the epoch of smallest validation loss (selection never
     * looks at test data); RS_NO_EPOCH and NaN without a validation split
     * or when no validation loss is finite */
    uint32_t best_epoch;
    double best_val_loss, best_test_loss, best_train_loss, best_gap;
    double best_train_acc, best_test_acc, best_gap_acc;
    uint32_t diverged_epoch;                    /* RS_NO_EPOCH unless   */
    char diverged_quantity[32];                 /* diverged             */
} rs_job_summary_t;

/* Volatile facts: go under /provenance only. */
typedef struct rs_provenance {
    char host[256];
    char started[40], written[40];   /* ISO 8601 UTC                   */
    char command[2048];
    char spec_path[512];
    char build[256];                 /* compiler, flags, OpenMP        */
    char simd[16];                   /* the SIMD path in use           */
    char version[32], git_revision[64], hdf5[32], libyaml[32];
    char simd_compiled[64];          /* paths built in: "scalar avx2 avx512" */
    char cpu[160];                   /* CPU model name                 */
    int threads, threads_per_job;
    double wall_s;
    char shard[32];                  /* "2/4" for a shard's part, else "" */
} rs_provenance_t;

/* Disables HDF5's automatic error printing (the CLI reports errors). */
void rs_store_init(void);

/* OUT.h5 -> OUT.jobs (the extension .h5, .hdf5 or .he5 is replaced; other
 * names get .jobs appended).  Returns -1 if it does not fit. */
int rs_store_jobs_dir(const char *out_path, char *dir, size_t n_bytes);

/* The part that shard index of count writes for OUT.h5:
 * OUT.shard-<index>-of-<count>.h5 beside it (extension as
 * rs_store_jobs_dir).  Returns -1 if it does not fit. */
int rs_store_part_path(const char *out_path, uint32_t index, uint32_t count,
                       char *buf, size_t n_bytes);

/* Summary of a finished job from its curves. */
void rs_store_summarise(const rs_job_result_t *r, rs_job_summary_t *out);

/* A job file built in memory, not yet on disk. */
typedef struct rs_job_image {
    void *bytes;
    size_t n;
    char final[RS_PATH_BUF], tmp[RS_PATH_JOIN];
} rs_job_image_t;

/* Builds job `job`'s file in memory (HDF5: serialise the calls). */
rs_status rs_store_build_job(const char *jobs_dir, const rs_spec_t *spec,
                             const rs_job_t *job, const rs_job_result_t *r,
                             rs_job_image_t *img, rs_error_t *err);

/* Writes a built job file atomically (tmp, fsync, rename, fsync of the
 * directory) and frees its bytes.  Calls no HDF5: workers run it in
 * parallel. */
rs_status rs_store_save_job(rs_job_image_t *img, rs_error_t *err);
void rs_store_image_free(rs_job_image_t *img);

/* A job file's bytes built elsewhere (another MPI rank), as an image to
 * save into jobs_dir: takes bytes (malloc'ed).  What it holds is verified
 * only by reading it back (rs_store_read_summary) once saved. */
void rs_store_image_adopt(rs_job_image_t *img, const char *jobs_dir,
                          const rs_job_t *job, void *bytes, size_t n);

/* Both: writes one job file atomically into jobs_dir. */
rs_status rs_store_write_job(const char *jobs_dir, const rs_spec_t *spec,
                             const rs_job_t *job, const rs_job_result_t *r,
                             rs_error_t *err);

/* The state of a sweep: rows[i] from OUT.h5's /jobs table (all missing
 * when there is no OUT.h5), then from each job file in OUT.jobs/, whose
 * content checksum is verified.  A job file that fails the check is an
 * error (RS_EMISMATCH, naming it), or, with damaged non-NULL, marked
 * damaged[i] = 1 and skipped.  A table row marked finished whose /runs
 * copy is missing is RS_EINPUT (damage, never "not run").  *n_journal:
 * the job files read.  Costs one read of the table plus one verified read
 * per job file; with verify, also one verified read of every packed job
 * (RS_EINPUT naming the first that fails). */
rs_status rs_store_read_rows(const char *out_path, const rs_spec_t *spec,
                             int verify, rs_job_summary_t *rows,
                             uint8_t *damaged, uint64_t *n_journal,
                             rs_error_t *err);

/* What a sweep will write, from the spec and n_train (spec->n_combos
 * entries: the training rows of each combination of the extra axes, as
 * rs_spec_check_data gives them).  The per-job sizes are the largest over
 * the combinations. */
typedef struct rs_size_estimate {
    uint64_t weights_per_job, curves_per_job, masks_max, records;
    uint64_t dc_masks_max;    /* record.dropconnect_masks, per job        */
    uint64_t all_job_files;   /* the journal of the whole sweep           */
    uint64_t todo_job_files;  /* ... of the jobs not finished in rows     */
    uint64_t n_todo;
    uint64_t packed;          /* OUT.h5 when complete, uncompressed bound */
    uint64_t peak;            /* todo job files + the packed file         */
} rs_size_estimate_t;

void rs_store_estimate(const rs_spec_t *spec, const uint32_t *n_train,
                       const rs_job_summary_t *rows, rs_size_estimate_t *e);

/* OUT.h5 -> OUT.analysis.h5 (as rs_store_jobs_dir).  -1 if too long. */
int rs_store_analysis_path(const char *out_path, char *buf, size_t n_bytes);

/* The reading functions below take `where`: the OUT.jobs directory (its
 * job files: what --resume trusts) or, with from_top, the results file
 * OUT.h5 (its /runs/<id> groups: all a user may have been sent). */

/* Reads the summary of job `job`.  RS_OK and status DONE if the job is
 * there and belongs to this spec; status MISSING if it is not there;
 * RS_EMISMATCH if its content does not match its content checksum, has
 * none, or cannot be read to compute it (err->code is then RS_EINPUT: a
 * damaged file is bad input; --resume recomputes such a job); RS_EINPUT if
 * it is otherwise damaged, of another format version, or made by another
 * spec (hash mismatch); RS_ENOMEM when memory ran out, inside HDF5
 * included. */
rs_status rs_store_read_summary(const char *where, int from_top,
                                const rs_spec_t *spec, const rs_job_t *job,
                                rs_job_summary_t *out, rs_error_t *err);

/* Reads a finished job's curves into c (c->n = epochs + 1 and the seven
 * arrays must be allocated by the caller; with c->test_loss_mc and
 * c->test_acc_mc non-NULL, also the MC-dropout curves, which a job with
 * eval.mc_samples > 0 has: test_acc_mc NaN for regression; NULL: not
 * read).  RS_EINPUT if the job is missing, foreign or damaged;
 * RS_EMISMATCH as rs_store_read_summary. */
rs_status rs_store_read_curves(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               rs_curves_t *c, rs_error_t *err);

/* The same two reads for a results file that a sweep may still be
 * writing: a job that OUT.h5 does not hold yet (a running sweep rewrites
 * it every 30 s or so) is read from its job file in OUT.jobs/ if that
 * exists, so readers see every job finished so far. */
rs_status rs_store_read_summary_live(const char *out_path, const rs_spec_t *spec,
                                     const rs_job_t *job, rs_job_summary_t *out,
                                     rs_error_t *err);
rs_status rs_store_read_curves_live(const char *out_path, const rs_spec_t *spec,
                                    const rs_job_t *job, rs_curves_t *c,
                                    rs_error_t *err);

/* status[i] = the rs_job_status that OUT.h5's /jobs table gives job i
 * (spec->n_jobs entries; all RS_JOB_MISSING when the file has no table
 * yet).  The table is the only record of a failed job (it has no job
 * file), and what readers check /runs against: a job the table marks done
 * must have its copy.  RS_EINPUT when /jobs/status is not n_jobs known
 * status names. */
rs_status rs_store_read_table_status(const char *out_path, const rs_spec_t *spec,
                                     uint8_t *status, rs_error_t *err);

/* Packs OUT.h5 (tmp + fsync + rename + fsync dir): the spec, the /jobs
 * table from rows (n_jobs entries in job index order), /runs/<id> of every
 * finished row copied from its job file or else from the earlier OUT.h5
 * (content verified first), /provenance (prov may be NULL), and an empty
 * OUT.analysis.h5; then deletes the job files it packed.  A finished row
 * found in neither is an error and nothing is replaced. */
rs_status rs_store_write_top(const char *out_path, const rs_spec_t *spec,
                             const rs_job_summary_t *rows,
                             const rs_provenance_t *prov, rs_error_t *err);

/* Merges parts (results files of shards of this spec: their packed /runs
 * and their job files) into OUT.h5, as rs_store_write_top does with the job
 * files: OUT.h5's own jobs and job files are kept, every part's finished
 * jobs are added, each copy's content verified first; a job held twice
 * must be the same bits.  rows (n_jobs entries) receives the merged table,
 * taken[p] the jobs taken from parts[p].  The parts are only read.
 * RS_EINPUT: a part of another spec, format or regsweep version, or
 * damaged; RS_EMISMATCH: a job differs between two copies. */
rs_status rs_store_merge(const char *out_path, const rs_spec_t *spec,
                         int n_parts, const char *const *parts,
                         const rs_provenance_t *prov, rs_job_summary_t *rows,
                         uint64_t *taken, rs_error_t *err);

/* Reads the spec stored in OUT.h5 and parses it (the stored path is used in
 * messages).  RS_EINPUT if the file is not a regsweep results file, has
 * another format version, or its spec does not parse. */
rs_status rs_store_read_spec(const char *out_path, rs_spec_t *spec,
                             rs_error_t *err);

/* Compares a recomputed job with its stored copy bit for bit: weights,
 * masks, curves.  RS_OK if identical; RS_EMISMATCH with err->msg saying
 * where they first differ (dataset, element, both values); RS_EINPUT if the
 * job is missing or damaged. */
rs_status rs_store_compare_job(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               const rs_job_result_t *r, rs_error_t *err);

/* Appends one line to OUT.jobs/provenance.tsv: id, index, wall_s, worker,
 * threads, finished (ISO 8601). */
rs_status rs_store_log_job(const char *jobs_dir, const rs_job_t *job,
                           double wall_s, int worker, int threads,
                           rs_error_t *err);

/* Appends one line for this invocation to OUT.jobs/runs.tsv (fsync'ed):
 * started, host, version, git revision, HDF5, libyaml, compiler/build,
 * CPU, SIMD path, threads, command; tabs and newlines in a field become
 * spaces.  /provenance/history is written from it. */
rs_status rs_store_log_run(const char *jobs_dir, const rs_provenance_t *p,
                           rs_error_t *err);

/* Appends to jobs_dir's runs.tsv and provenance.tsv the lines of a part's
 * (part_jobs_dir) that they lack, so that a merged file keeps the parts'
 * history and job wall times.  Absent files are fine.  Calls no HDF5. */
rs_status rs_store_adopt_logs(const char *jobs_dir, const char *part_jobs_dir,
                              rs_error_t *err);

/* The report's tables: /analysis of OUT.analysis.h5, which OUT.h5's
 * /analysis links to.  begin starts a new one in memory; each table call
 * writes one group of 1-D columns; commit writes it whole (tmp + fsync +
 * rename), abort drops it.  OUT.h5 itself is not touched. */
typedef struct rs_table_col {
    const char *name;
    int is_text;               /* 1: text (vlen UTF-8), 0: float64        */
    const double *num;
    const char *const *text;
} rs_table_col_t;

typedef struct rs_analysis rs_analysis_t;

rs_status rs_store_analysis_begin(const char *out_path, rs_analysis_t **out,
                                  rs_error_t *err);
rs_status rs_store_analysis_table(rs_analysis_t *a, const char *table,
                                  const rs_table_col_t *cols, int n_cols,
                                  uint64_t n_rows, const char *description,
                                  rs_error_t *err);
rs_status rs_store_analysis_commit(rs_analysis_t **a, rs_error_t *err);
void rs_store_analysis_abort(rs_analysis_t **a);

/* The time now as ISO 8601 UTC ("2026-11-23T09:30:44Z"). */
void rs_store_now_iso(char *buf, size_t n_bytes);

#endif
