/* SPDX-License-Identifier: MIT */
/* sweep.h — running a spec's jobs in parallel, resuming, progress, signals.
 *
 * Jobs are handed out one at a time from a shared counter (dynamic
 * scheduling) to an OpenMP team; a worker that finishes a job writes its job
 * file inside the one critical section that guards HDF5.  When there are
 * fewer jobs left than threads, each job gets threads / jobs threads for its
 * GEMMs (nested OpenMP); results do not depend on any of this.
 *
 * Stopping: *stop (set by the CLI's signal handler) stops dispatching new
 * jobs and lets running ones finish; *abort_jobs also abandons running jobs
 * at their next training step (nothing of them is written).  Either way the top-level
 * file is rewritten before returning RS_EINTR, and --resume continues.
 */
#ifndef RS_SWEEP_H
#define RS_SWEEP_H

#include <signal.h>
#include <stdint.h>

#include "regsweep/kernels.h"
#include "regsweep/spec.h"
#include "regsweep/store.h"

typedef enum rs_sweep_event {
    RS_EV_START,       /* before the first job: counts are known        */
    RS_EV_JOB_DONE,
    RS_EV_JOB_DIVERGED, /* finished, saved, but a loss or weight went     */
                       /* non-finite: row->diverged_epoch/_quantity     */
    RS_EV_JOB_FAILED,  /* job_err says why; the sweep goes on unless     */
                       /* fail_fast                                       */
    RS_EV_JOB_DAMAGED, /* before START: a job file does not match its    */
                       /* checksum (job_err names it); it is recomputed  */
    RS_EV_RANK_LOST,   /* MPI: a rank runs no jobs (job_err says why:    */
                       /* its spec or data could not be loaded, or its   */
                       /* data differ from rank 0's); the others go on   */
    RS_EV_END
} rs_sweep_event;

typedef struct rs_sweep_progress {
    rs_sweep_event event;
    uint64_t total;        /* jobs in the grid                          */
    uint64_t skipped;      /* already done before this run (resume)     */
    uint64_t done, failed, diverged; /* in this run                     */
    uint64_t todo;         /* to run in this run                        */
    double elapsed_s, jobs_per_s, eta_s;
    int outer_threads, threads_per_job;
    const rs_job_t *job;
    const rs_job_summary_t *row;  /* the job's /jobs row (NULL at START/END) */
    const rs_error_t *job_err;
    double job_wall_s;
} rs_sweep_progress_t;

/* The MPI ranks of a sweep (mpirun -n R regsweep run ...): rank 0 runs
 * rs_sweep_run, dispatches jobs to every rank's threads (its own too) and
 * writes every file; the others run rs_sweep_mpi_worker and write
 * nothing: their job files travel to rank 0 as messages, so no file
 * system needs to be shared. */
typedef struct rs_mpi_team {
    int rank, size;
    int released;      /* rank 0: the others have their spec or a stop   */
} rs_mpi_team_t;

typedef void (*rs_sweep_progress_fn)(void *ctx, const rs_sweep_progress_t *p);

typedef struct rs_sweep_opts {
    const char *out_path;
    int threads;                 /* >= 1                                 */
    int resume;                  /* continue an existing OUT             */
    int fail_fast;               /* stop dispatching at the first failure */
    int allow_diverged;          /* diverged jobs do not make the run fail */
    int no_pack;                 /* leave finished jobs as job files      */
    uint32_t shard_index, shard_count; /* run shard index of count (both
                                    1-based, rs_sweep_shard); 0: all jobs */
    rs_simd simd_cap;
    const char *command;         /* for /provenance                      */
    volatile sig_atomic_t *stop; /* may be NULL                          */
    volatile sig_atomic_t *abort_jobs; /* may be NULL                    */
    rs_mpi_team_t *team;         /* NULL, or MPI ranks (size > 1)         */
    rs_sweep_progress_fn progress;
    void *progress_ctx;
} rs_sweep_opts_t;

/* The sweep's write lock: an exclusive flock(2) on OUT.jobs/.lock, which
 * `run` holds for its whole life and every other command that writes OUT
 * (report storing /analysis, info --rebuild) takes before it writes.
 * *fd is the lock (-1 when OUT.jobs/ does not exist: no sweep wrote there,
 * nothing to exclude).  RS_EINPUT when it is busy, naming the holder's
 * pid and command line (from /proc/locks: taking or probing the lock
 * writes nothing). */
rs_status rs_sweep_lock(const char *out_path, int *fd, rs_error_t *err);
/* Releases a lock from rs_sweep_lock (fd -1 is accepted; *fd becomes -1). */
void rs_sweep_unlock(int *fd);

/* The jobs of shard `index` of `count` (1 <= index <= count): mine[i] = 1
 * for each job it runs (spec->n_jobs entries), *n_mine their number.  Jobs
 * are taken by estimated cost (rs_job_cost), largest first, ties by id, and
 * each goes to the shard with the least cost so far, the lowest number on
 * ties (greedy longest-processing-time-first: the busiest shard gets at
 * most 4/3 of the optimal share).  It depends on the jobs' ids and costs
 * alone, so reordering the spec's axes or values moves no job.  RS_ENOMEM
 * or RS_EINPUT (index out of range). */
rs_status rs_sweep_shard(const rs_spec_t *spec, uint32_t index, uint32_t count,
                         uint8_t *mine, uint64_t *n_mine, rs_error_t *err);

/* Runs every job of spec not yet done in OUT (with shard_count, those of
 * the shard).  Errors: RS_EINPUT (OUT
 * exists without resume, or belongs to another spec/format, or the output
 * directory is missing or not writable, dataset problems), RS_EIO (writing
 * failed: earlier results stay intact), RS_EINTR (stopped), RS_EMISMATCH
 * (some jobs failed, or diverged without allow_diverged; the others are
 * written). */
rs_status rs_sweep_run(const rs_spec_t *spec, const rs_sweep_opts_t *o,
                       rs_error_t *err);

/* Recomputes one job from the spec and compares it with its stored file:
 * RS_OK if bit-identical, RS_EMISMATCH (err says where) otherwise. */
rs_status rs_sweep_rerun(const char *out_path, const rs_spec_t *spec,
                         const rs_job_t *job, rs_simd simd_cap, int threads,
                         rs_error_t *err);

/* Rewrites OUT.h5 from the spec stored in it and the job files (e.g. after
 * it was deleted or is stale). */
rs_status rs_sweep_rebuild(const char *out_path, const rs_spec_t *spec,
                           rs_error_t *err);

/* An MPI rank other than 0: receives the spec from rank 0, loads the data,
 * and runs the jobs rank 0 hands out on o->threads threads until told to
 * stop, sending each job file back.  It opens no file but the data.
 * Returns RS_OK when released; a problem of its own (spec, data) is sent
 * to rank 0, which reports it, and returned too. */
rs_status rs_sweep_mpi_worker(const rs_sweep_opts_t *o, rs_error_t *err);

/* Rank 0: tells every other rank to stop if they were not yet sent the
 * spec (rs_sweep_run returned early); nothing otherwise. */
void rs_sweep_mpi_release(rs_mpi_team_t *team);

/* What a merge produced. */
typedef struct rs_merge_result {
    char spec_sha256[65];
    uint64_t n_jobs, done, diverged, failed, missing; /* in the merged file */
    uint64_t *taken;     /* [n_parts], filled: jobs new from each part    */
} rs_merge_result_t;

/* `regsweep merge`: assembles OUT.h5 from the parts that shards wrote
 * (rs_store_merge), under OUT's lock (created if need be), each part's lock
 * held shared (refused while its shard still runs).  The spec is OUT.h5's
 * when it exists, else the first part's; the parts' runs.tsv and
 * provenance.tsv lines join OUT's, so history and job wall times carry
 * over.  The parts are never modified.  r->taken must have n_parts
 * entries.  Errors as rs_store_merge, plus RS_EINPUT for a part that is
 * missing, not a regular file, OUT itself or named twice, or busy. */
rs_status rs_sweep_merge(const char *out_path, int n_parts,
                         const char *const *parts, const char *command,
                         rs_merge_result_t *r, rs_error_t *err);

#endif
