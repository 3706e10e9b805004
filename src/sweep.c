/* sweep.c — OpenMP scheduling of jobs, resume, progress, signals. */
#include "regsweep/sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int path_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* The output's directory must exist and be writable. */
static rs_status check_out_dir(const char *out_path, rs_error_t *err)
{
    char dir[1024];
    struct stat sb;
    rs_path_dir(out_path, dir, sizeof dir);
    if (stat(dir, &sb) != 0)
        return rs_error_set(err, RS_EINPUT, dir, 0, 0,
                            "output directory does not exist (for %s)",
                            out_path);
    if (!S_ISDIR(sb.st_mode))
        return rs_error_set(err, RS_EINPUT, dir, 0, 0, "is not a directory");
    if (access(dir, W_OK | X_OK) != 0)
        return rs_error_set(err, RS_EINPUT, dir, 0, 0,
                            "output directory is not writable: %s",
                            strerror(errno));
    return RS_OK;
}

/* The first line where two texts differ, for the resume guard's message. */
static void first_difference(const char *a, const char *b, char *out, size_t n)
{
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++, b++;
    }
    int wa = (int)strcspn(la, "\n"), wb = (int)strcspn(lb, "\n");
    snprintf(out, n, "line %d: stored '%.*s', given '%.*s'", line,
             wa > 120 ? 120 : wa, la, wb > 120 ? 120 : wb, lb);
}

static rs_status check_same_spec(const char *out_path, const rs_spec_t *spec,
                                 rs_error_t *err)
{
    rs_spec_t stored;
    rs_status st = rs_store_read_spec(out_path, &stored, err);
    if (st)
        return st;
    if (strcmp(stored.sha256, spec->sha256) != 0) {
        char diff[400];
        if (stored.text_len != spec->text_len ||
            memcmp(stored.text, spec->text, spec->text_len) != 0)
            first_difference(stored.text, spec->text, diff, sizeof diff);
        else
            snprintf(diff, sizeof diff, "same YAML, different overrides "
                                        "(stored %d, given %d)",
                     stored.n_overrides, spec->n_overrides);
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "cannot resume: it was made by a different spec "
                          "(sha256 %.12s..., given %.12s...); %s. Resume "
                          "with the same spec and overrides, or write to a "
                          "new output", stored.sha256, spec->sha256, diff);
    }
    rs_spec_free(&stored);
    return st;
}

/* An exclusive lock on OUT.jobs/.lock for the life of the process (the
 * descriptor is kept open; the kernel drops the lock if we die). */
static rs_status lock_jobs_dir(const char *jobs_dir, int *fd_out,
                               rs_error_t *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/.lock", jobs_dir);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot open: %s",
                            strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return rs_error_set(err, RS_EINPUT, jobs_dir, 0, 0,
                            "another regsweep process is writing this "
                            "sweep (lock held on %s)", path);
    }
    *fd_out = fd;
    return RS_OK;
}

/* Leftover <id>.h5.tmp files of a killed run are incomplete: remove. */
static void remove_stale_tmp(const char *jobs_dir)
{
    DIR *d = opendir(jobs_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
            char p[1400];
            snprintf(p, sizeof p, "%s/%s", jobs_dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

static rs_status scan_jobs(const char *jobs_dir, const rs_spec_t *spec,
                           rs_job_summary_t *rows, uint64_t *n_done,
                           rs_error_t *err)
{
    *n_done = 0;
    for (uint64_t i = 0; i < spec->n_jobs; i++) {
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        rs_status st = rs_store_read_summary(jobs_dir, 0, spec, &job, &rows[i], err);
        if (st)
            return st;
        *n_done += rows[i].status == RS_JOB_DONE;
    }
    return RS_OK;
}

static void fill_provenance(rs_provenance_t *p, const rs_spec_t *spec,
                            const rs_sweep_opts_t *o, const char *simd,
                            int tpj)
{
    memset(p, 0, sizeof *p);
    gethostname(p->host, sizeof p->host - 1);
    rs_store_now_iso(p->started, sizeof p->started);
    snprintf(p->command, sizeof p->command, "%s", o->command ? o->command : "");
    snprintf(p->spec_path, sizeof p->spec_path, "%s", spec->path);
    snprintf(p->build, sizeof p->build, "%s; %s; OpenMP %s",
#if defined(__clang__)
             "clang " __clang_version__,
#elif defined(__GNUC__)
             "gcc " __VERSION__,
#else
             "unknown compiler",
#endif
#ifdef NDEBUG
             "release",
#else
             "debug",
#endif
#ifdef _OPENMP
             "on"
#else
             "off"
#endif
    );
    snprintf(p->simd, sizeof p->simd, "%s", simd);
    p->threads = o->threads;
    p->threads_per_job = tpj;
}

typedef struct sweep_state {
    const rs_spec_t *spec;
    const rs_sweep_opts_t *o;
    const char *jobs_dir;
    rs_job_summary_t *rows;
    const uint64_t *todo;
    uint64_t n_todo, next, done, failed, skipped;
    const rs_dataset_t *shared_data;   /* NULL: per-job data (sin, no seed) */
    rs_kernels_t kernels;
    int outer, inner;
    double t0, last_top, top_cost_s;
    rs_provenance_t prov;
    rs_status fatal;                   /* first write error: stop all      */
    rs_error_t fatal_err;
    volatile sig_atomic_t local_stop;  /* set on fatal or fail_fast       */
} sweep_state;

static void report(sweep_state *s, rs_sweep_event ev, const rs_job_t *job,
                   const rs_error_t *job_err, double job_wall)
{
    if (!s->o->progress)
        return;
    rs_sweep_progress_t p = {0};
    p.event = ev;
    p.total = s->spec->n_jobs;
    p.skipped = s->skipped;
    p.done = s->done;
    p.failed = s->failed;
    p.todo = s->n_todo;
    p.elapsed_s = now_s() - s->t0;
    uint64_t finished = s->done + s->failed;
    p.jobs_per_s = p.elapsed_s > 0 ? finished / p.elapsed_s : 0;
    p.eta_s = p.jobs_per_s > 0 ? (s->n_todo - finished) / p.jobs_per_s : -1;
    p.outer_threads = s->outer;
    p.threads_per_job = s->inner;
    p.job = job;
    p.job_err = job_err;
    p.job_wall_s = job_wall;
    s->o->progress(s->o->progress_ctx, &p);
}

static int should_stop(const sweep_state *s)
{
    return (s->o->stop && *s->o->stop) || s->local_stop;
}

/* Runs job todo[k] on this thread; called by each worker in turn. */
static void run_one(sweep_state *s, uint64_t k, int worker)
{
    rs_job_t job;
    rs_spec_job(s->spec, s->todo[k], &job);
    rs_error_t err;
    rs_error_clear(&err);
    double t = now_s();
    rs_dataset_t own;
    const rs_dataset_t *data = s->shared_data;
    rs_status st = RS_OK;
    if (!data) {
        st = rs_spec_load_data(s->spec, job.hp.seed, &own, &err);
        data = &own;
    }
    rs_job_result_t res;
    memset(&res, 0, sizeof res);
    if (!st)
        st = rs_train_job(&s->spec->settings, &job.hp, data, &s->kernels,
                          s->inner, s->o->abort_jobs, &res, &err);
    if (!s->shared_data && data == &own)
        rs_data_free(&own);
    double wall = now_s() - t;
#pragma omp critical(rs_hdf5)
    {
        if (st == RS_OK && s->fatal == RS_OK) {
            rs_status wst = rs_store_write_job(s->jobs_dir, s->spec, &job, &res,
                                               &err);
            if (wst == RS_OK) {
                rs_store_summarise(&res, &s->rows[job.index]);
                s->done++;
                rs_store_log_job(s->jobs_dir, &job, wall, worker, s->inner,
                                 NULL);
                report(s, RS_EV_JOB_DONE, &job, NULL, wall);
            } else {
                s->fatal = wst;
                s->fatal_err = err;
                s->local_stop = 1;
            }
        } else if (st == RS_EINTR) {
            /* abandoned by a second signal: not a failure, not written */
        } else if (st != RS_OK) {
            s->rows[job.index].status = RS_JOB_FAILED;
            s->failed++;
            report(s, RS_EV_JOB_FAILED, &job, &err, wall);
            if (s->o->fail_fast)
                s->local_stop = 1;
        }
        /* rewrite OUT.h5 every 30 s, but never spend more than a tenth of
         * the time on it: its cost grows with the jobs it copies, and the
         * other workers wait for this lock meanwhile */
        double every = s->o->top_every_s > 0 ? s->o->top_every_s : 30.0;
        if (every < 10 * s->top_cost_s)
            every = 10 * s->top_cost_s;
        if (s->fatal == RS_OK && now_s() - s->last_top > every) {
            double t_top = now_s();
            s->last_top = t_top;
            rs_store_now_iso(s->prov.written, sizeof s->prov.written);
            s->prov.wall_s = now_s() - s->t0;
            rs_error_t terr;
            rs_status tst = rs_store_write_top(s->o->out_path, s->spec, s->rows,
                                               &s->prov, &terr);
            s->top_cost_s = now_s() - t_top;
            if (tst) {
                s->fatal = tst;
                s->fatal_err = terr;
                s->local_stop = 1;
            }
        }
    }
    rs_job_result_free(&res);
}

static void worker_loop(sweep_state *s, int worker)
{
    /* a thread-safe HDF5 keeps its error-printing switch per thread */
    rs_store_init();
    for (;;) {
        uint64_t k;
        if (should_stop(s))
            break;
#pragma omp atomic capture
        k = s->next++;
        if (k >= s->n_todo)
            break;
        run_one(s, k, worker);
    }
}

/* Does dir hold any finished job file (<id>.h5)? */
static int has_job_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        found = n > 3 && strcmp(e->d_name + n - 3, ".h5") == 0;
    }
    closedir(d);
    return found;
}

/* Checks what is already at the output, creating nothing.  A jobs folder
 * without finished job files (a run stopped before its first job) does not
 * block a fresh run; --resume without OUT.h5 rebuilds it from the job
 * files, which carry the spec hash they were made with. */
static rs_status check_output(const rs_spec_t *spec, const rs_sweep_opts_t *o,
                              const char *jobs_dir, rs_error_t *err)
{
    rs_status st = check_out_dir(o->out_path, err);
    if (st)
        return st;
    if (!o->resume) {
        if (path_exists(o->out_path))
            return rs_error_set(err, RS_EINPUT, o->out_path, 0, 0,
                                "already exists; use --resume to continue "
                                "it, or choose another output with -o");
        if (has_job_files(jobs_dir))
            return rs_error_set(err, RS_EINPUT, jobs_dir, 0, 0,
                                "holds job files of an earlier sweep; use "
                                "--resume, or remove it");
        return RS_OK;
    }
    if (path_exists(o->out_path))
        return check_same_spec(o->out_path, spec, err);
    if (!path_exists(jobs_dir))
        return rs_error_set(err, RS_EINPUT, o->out_path, 0, 0,
                            "cannot resume: no such results file (and no "
                            "%s)", jobs_dir);
    return RS_OK;
}

/* Loads the shared dataset (or checks one job's, for per-job sin data) and
 * that the model fits it; a mismatch points at model.layers in the spec. */
static rs_status load_and_check_data(const rs_spec_t *spec,
                                     rs_dataset_t *data, int *shared,
                                     rs_error_t *err)
{
    rs_status st;
    *shared = spec->data_kind != RS_DATA_SIN || spec->data_seed_set;
    if (*shared) {
        if ((st = rs_spec_load_data(spec, 0, data, err)))
            return st;
        if ((st = rs_train_check(&spec->settings, data, err)))
            rs_data_free(data);
    } else {
        rs_dataset_t probe;
        if ((st = rs_spec_load_data(spec, spec->seeds[0], &probe, err)))
            return st;
        st = rs_train_check(&spec->settings, &probe, err);
        rs_data_free(&probe);
    }
    if (st == RS_EINPUT && err && !err->path[0]) {
        snprintf(err->path, sizeof err->path, "%s", spec->layers_src);
        err->line = spec->layers_line;
        err->column = spec->layers_col;
    }
    return st;
}

rs_status rs_sweep_run(const rs_spec_t *spec, const rs_sweep_opts_t *o,
                       rs_error_t *err)
{
    char jobs_dir[1024];
    if (rs_store_jobs_dir(o->out_path, jobs_dir, sizeof jobs_dir))
        return rs_error_set(err, RS_EINPUT, o->out_path, 0, 0,
                            "output path too long");
    rs_status st = check_output(spec, o, jobs_dir, err);
    if (st)
        return st;
    /* the dataset is loaded once and shared read-only, unless each job
     * draws its own (sin data without a fixed seed); bad data stop the run
     * before anything is created */
    rs_dataset_t data;
    memset(&data, 0, sizeof data);
    int shared = 0;
    if ((st = load_and_check_data(spec, &data, &shared, err)))
        return st;
    if (!path_exists(jobs_dir) && mkdir(jobs_dir, 0755) != 0) {
        rs_data_free(&data);
        return rs_error_set(err, RS_EIO, jobs_dir, 0, 0, "cannot create: %s",
                            strerror(errno));
    }
    int lock_fd = -1;
    if ((st = lock_jobs_dir(jobs_dir, &lock_fd, err))) {
        rs_data_free(&data);
        return st;
    }
    remove_stale_tmp(jobs_dir);

    sweep_state s;
    memset(&s, 0, sizeof s);
    s.spec = spec;
    s.o = o;
    s.jobs_dir = jobs_dir;
    s.shared_data = shared ? &data : NULL;
    rs_kernels_init(&s.kernels, o->simd_cap);
    uint64_t *todo = NULL;
    s.rows = calloc(spec->n_jobs, sizeof *s.rows);
    if (!s.rows) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    if ((st = scan_jobs(jobs_dir, spec, s.rows, &s.skipped, err)))
        goto out;
    todo = malloc((spec->n_jobs - s.skipped + 1) * sizeof *todo);
    if (!todo) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < spec->n_jobs; i++)
        if (s.rows[i].status != RS_JOB_DONE) {
            s.rows[i].status = RS_JOB_MISSING;
            todo[s.n_todo++] = i;
        }
    s.todo = todo;
    int threads = o->threads > 0 ? o->threads : 1;
    s.outer = s.n_todo < (uint64_t)threads ? (int)(s.n_todo ? s.n_todo : 1)
                                           : threads;
    s.inner = threads / s.outer;
    fill_provenance(&s.prov, spec, o, rs_simd_name(s.kernels.simd), s.inner);
    s.t0 = now_s();
    s.last_top = s.t0;
    /* write the top-level file first: the spec is then safe on disk */
    rs_store_now_iso(s.prov.written, sizeof s.prov.written);
    if ((st = rs_store_write_top(o->out_path, spec, s.rows, &s.prov, err)))
        goto out;
    report(&s, RS_EV_START, NULL, NULL, 0);
#ifdef _OPENMP
    /* one worker: run it on this thread, so that a job's GEMM threads form
     * a first-level team instead of a nested one */
    if (s.outer == 1) {
        worker_loop(&s, 0);
    } else {
        if (s.inner > 1)
            omp_set_max_active_levels(2);
#pragma omp parallel num_threads(s.outer)
        worker_loop(&s, omp_get_thread_num());
    }
#else
    worker_loop(&s, 0);
#endif
    rs_store_now_iso(s.prov.written, sizeof s.prov.written);
    s.prov.wall_s = now_s() - s.t0;
    if (s.fatal) {
        *err = s.fatal_err;
        st = s.fatal;
        /* keep the earlier, intact top-level file when writing fails */
        rs_error_t ignore;
        rs_store_write_top(o->out_path, spec, s.rows, &s.prov, &ignore);
        goto out;
    }
    if ((st = rs_store_write_top(o->out_path, spec, s.rows, &s.prov, err)))
        goto out;
    report(&s, RS_EV_END, NULL, NULL, 0);
    if (o->stop && *o->stop && s.done + s.failed < s.n_todo)
        st = rs_error_set(err, RS_EINTR, o->out_path, 0, 0,
                          "stopped after %llu of %llu jobs",
                          (unsigned long long)(s.skipped + s.done),
                          (unsigned long long)spec->n_jobs);
    else if (s.failed)
        st = rs_error_set(err, RS_EMISMATCH, o->out_path, 0, 0,
                          "%llu jobs failed; --resume retries them",
                          (unsigned long long)s.failed);
    else if (s.local_stop && s.done + s.failed < s.n_todo)
        st = rs_error_set(err, RS_EMISMATCH, o->out_path, 0, 0,
                          "stopped at the first failure (--fail-fast)");
out:
    free(todo);
    free(s.rows);
    rs_data_free(&data);
    if (lock_fd >= 0)
        close(lock_fd);
    return st;
}

rs_status rs_sweep_rerun(const char *out_path, const rs_spec_t *spec,
                         const rs_job_t *job, rs_simd simd_cap, int threads,
                         rs_error_t *err)
{
    rs_kernels_t k;
    rs_kernels_init(&k, simd_cap);
    rs_dataset_t data;
    rs_status st = rs_spec_load_data(spec, job->hp.seed, &data, err);
    if (st)
        return st;
    rs_job_result_t res;
    st = rs_train_job(&spec->settings, &job->hp, &data, &k,
                      threads > 0 ? threads : 1, NULL, &res, err);
    rs_data_free(&data);
    if (st)
        return st;
    st = rs_store_compare_job(out_path, 1, spec, job, &res, err);
    rs_job_result_free(&res);
    return st;
}

rs_status rs_sweep_rebuild(const char *out_path, const rs_spec_t *spec,
                           rs_error_t *err)
{
    char jobs_dir[1024];
    rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir);
    rs_job_summary_t *rows = calloc(spec->n_jobs, sizeof *rows);
    if (!rows)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    uint64_t done;
    rs_status st = scan_jobs(jobs_dir, spec, rows, &done, err);
    if (!st)
        st = rs_store_write_top(out_path, spec, rows, NULL, err);
    free(rows);
    return st;
}
