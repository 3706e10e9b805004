/* SPDX-License-Identifier: MIT */
/* sweep.c — OpenMP scheduling of jobs, resume, progress, signals. */
#include "regsweep/sweep.h"

#include "regsweep/buildinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
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
    char dir[RS_PATH_BUF];
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

static void suggest_output(const char *out_path, char *buf, size_t n);

static rs_status check_same_spec(const char *out_path, const rs_spec_t *spec,
                                 rs_error_t *err)
{
    rs_spec_t stored;
    rs_status st = rs_store_read_spec(out_path, &stored, err);
    if (st)
        return st;
    if (strcmp(stored.sha256, spec->sha256) != 0) {
        char other[RS_PATH_BUF];
        suggest_output(out_path, other, sizeof other);
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
                          "new output (-o %s)", stored.sha256, spec->sha256,
                          diff, other);
    }
    rs_spec_free(&stored);
    return st;
}

/* Who holds the flock on fd's file, from /proc/locks and the holder's
 * /proc/PID/cmdline (Linux; "" where that cannot be read).  Reading it
 * writes nothing, so a refused command leaves every file as it was. */
static void lock_holder(int fd, char *buf, size_t n)
{
    struct stat sb;
    buf[0] = '\0';
    FILE *f = fstat(fd, &sb) == 0 ? fopen("/proc/locks", "r") : NULL;
    char line[256];
    long pid = -1;
    while (f && pid < 0 && fgets(line, sizeof line, f)) {
        long p;
        unsigned maj, min;
        unsigned long long ino;
        char kind[16];
        if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &p, &maj, &min,
                   &ino) == 5 && !strcmp(kind, "FLOCK") && ino == (unsigned long long)sb.st_ino &&
            maj == major(sb.st_dev) && min == minor(sb.st_dev))
            pid = p;
    }
    if (f)
        fclose(f);
    if (pid < 0)
        return;
    int len = snprintf(buf, n, "pid %ld", pid);
    char path[64], cmd[512];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    int cfd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t k = cfd >= 0 ? read(cfd, cmd, sizeof cmd - 1) : -1;
    if (cfd >= 0)
        close(cfd);
    if (k <= 0 || len < 0 || (size_t)len + 3 >= n)
        return;
    for (ssize_t i = 0; i < k - 1; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    cmd[k] = '\0';
    snprintf(buf + len, n - (size_t)len, ": %s", cmd);
}

/* An exclusive lock on OUT.jobs/.lock for the life of the process (the
 * descriptor is kept open; the kernel drops the lock if we die). */
static rs_status lock_jobs_dir(const char *jobs_dir, int *fd_out,
                               rs_error_t *err)
{
    char path[RS_PATH_BUF];
    snprintf(path, sizeof path, "%s/.lock", jobs_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot open: %s",
                            strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[600];
        lock_holder(fd, holder, sizeof holder);
        close(fd);
        return rs_error_set(err, RS_EINPUT, jobs_dir, 0, 0,
                            "another regsweep process is writing this sweep "
                            "(%s; lock %s): wait for it to finish",
                            holder[0] ? holder : "holder unknown", path);
    }
    *fd_out = fd;
    return RS_OK;
}

rs_status rs_sweep_lock(const char *out_path, int *fd, rs_error_t *err)
{
    char jobs_dir[RS_PATH_BUF];
    struct stat sb;
    *fd = -1;
    if (rs_path_check(out_path, err) ||
        rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir))
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "output path too long");
    if (stat(jobs_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return RS_OK;   /* no sweep has written here: nothing to exclude */
    return lock_jobs_dir(jobs_dir, fd, err);
}

void rs_sweep_unlock(int *fd)
{
    if (fd && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Leftover temporary files of a killed run are incomplete: remove them
 * (under the sweep's lock: nobody else is writing).  In OUT.jobs/ every
 * "*.tmp"; beside OUT.h5 its own "OUT.h5.<pid>.tmp" and "OUT.h5.tmp". */
static void remove_stale_tmp(const char *jobs_dir, const char *out_path)
{
    DIR *d = opendir(jobs_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
            char p[RS_PATH_JOIN];
            snprintf(p, sizeof p, "%s/%s", jobs_dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
    char dir[RS_PATH_BUF];
    rs_path_dir(out_path, dir, sizeof dir);
    const char *base = strrchr(out_path, '/');
    base = base ? base + 1 : out_path;
    size_t nb = strlen(base);
    d = opendir(dir);
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > nb + 4 && strncmp(e->d_name, base, nb) == 0 && e->d_name[nb] == '.' &&
            strcmp(e->d_name + n - 4, ".tmp") == 0 &&
            strspn(e->d_name + nb + 1, "0123456789") + nb + 1 + 4 >= n) {
            char p[RS_PATH_JOIN];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
}

typedef struct sweep_state sweep_state;
static void report(sweep_state *s, rs_sweep_event ev, const rs_job_t *job,
                   const rs_error_t *job_err, double job_wall);

/* The sweep's state (rs_store_read_rows); a job file whose content does not
 * match its checksum is reported (RS_EV_JOB_DAMAGED) and its job
 * recomputed. */
static rs_status scan_jobs(const char *out_path, const rs_spec_t *spec,
                           rs_job_summary_t *rows, uint64_t *n_done,
                           uint64_t *n_journal, sweep_state *s, rs_error_t *err)
{
    *n_done = 0;
    uint8_t *damaged = calloc(spec->n_jobs + 1, 1);
    if (!damaged)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    rs_status st = rs_store_read_rows(out_path, spec, 0, rows, damaged, n_journal,
                                      err);
    char jobs_dir[RS_PATH_BUF];
    rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir);
    for (uint64_t i = 0; !st && i < spec->n_jobs; i++) {
        if (damaged[i] && !rs_job_finished(rows[i].status)) {
            rs_job_t job;
            rs_error_t jerr;
            rs_spec_job(spec, i, &job);
            char path[RS_PATH_JOIN];
            snprintf(path, sizeof path, "%s/%s.h5", jobs_dir, job.id);
            rs_error_set(&jerr, RS_EMISMATCH, path, 0, 0, "damaged: its "
                         "content no longer matches its checksum");
            report(s, RS_EV_JOB_DAMAGED, &job, &jerr, 0);
        }
        *n_done += rs_job_finished(rows[i].status);
    }
    free(damaged);
    return st;
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
    rs_build_info_t b;
    rs_build_info(&b);
    snprintf(p->build, sizeof p->build, "%s; %s; %s", b.compiler,
             b.build_type, b.openmp);
    snprintf(p->version, sizeof p->version, "%s", b.version);
    snprintf(p->git_revision, sizeof p->git_revision, "%s", b.git_revision);
    snprintf(p->hdf5, sizeof p->hdf5, "%s", b.hdf5);
    snprintf(p->libyaml, sizeof p->libyaml, "%s", b.libyaml);
    snprintf(p->simd_compiled, sizeof p->simd_compiled, "%s", b.simd_compiled);
    rs_cpu_model(p->cpu, sizeof p->cpu);
    snprintf(p->simd, sizeof p->simd, "%s", simd);
    p->threads = o->threads;
    p->threads_per_job = tpj;
}

struct sweep_state {
    const rs_spec_t *spec;
    const rs_sweep_opts_t *o;
    const char *jobs_dir;
    rs_job_summary_t *rows;
    const uint64_t *todo;
    uint64_t n_todo, next, done, failed, diverged, skipped;
    const rs_dataset_t *shared_data;   /* NULL: per-job data (sin, no seed) */
    rs_kernels_t kernels;
    int outer, inner;
    double t0;
    rs_provenance_t prov;
    rs_status fatal;                   /* first write error: stop all      */
    rs_error_t fatal_err;
    volatile sig_atomic_t local_stop;  /* set on fatal or fail_fast       */
};

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
    p.diverged = s->diverged;
    p.row = job ? &s->rows[job->index] : NULL;
    p.todo = s->n_todo;
    p.elapsed_s = now_s() - s->t0;
    uint64_t finished = s->done + s->failed + s->diverged;
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
    /* HDF5 (not thread-safe) builds the job file in memory under one lock;
     * writing it and its fsync run in parallel; only the index update is
     * serialised again */
    rs_job_image_t img;
    memset(&img, 0, sizeof img);
    if (st == RS_OK) {
#pragma omp critical(rs_hdf5)
        st = s->fatal ? RS_EINTR : rs_store_build_job(s->jobs_dir, s->spec,
                                                      &job, &res, &img, &err);
        if (st == RS_OK)
            st = rs_store_save_job(&img, &err);
        else
            rs_store_image_free(&img);
        if (st != RS_OK && st != RS_EINTR) {
#pragma omp critical(rs_index)
            if (s->fatal == RS_OK) {
                s->fatal = st;
                s->fatal_err = err;
                s->local_stop = 1;
            }
            st = RS_EINTR;   /* not the job's failure: the store's */
        }
        if (st == RS_OK) {
#pragma omp critical(rs_index)
            {
                rs_store_summarise(&res, &s->rows[job.index]);
                s->done += !res.diverged;
                s->diverged += res.diverged;
                rs_store_log_job(s->jobs_dir, &job, wall, worker, s->inner, NULL);
                report(s, res.diverged ? RS_EV_JOB_DIVERGED : RS_EV_JOB_DONE,
                       &job, NULL, wall);
            }
        }
        rs_job_result_free(&res);
        return;
    }
#pragma omp critical(rs_index)
    {
        if (st == RS_EINTR) {
            /* abandoned by a second signal: not a failure, not written */
        } else {
            s->rows[job.index].status = RS_JOB_FAILED;
            s->failed++;
            report(s, RS_EV_JOB_FAILED, &job, &err, wall);
            if (s->o->fail_fast)
                s->local_stop = 1;
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

/* A free output name beside out_path: NAME-2.h5, NAME-3.h5, ... (neither
 * the file nor its jobs folder exists). */
static void suggest_output(const char *out_path, char *buf, size_t n)
{
    size_t len = strlen(out_path);
    const char *ext = len > 3 && !strcmp(out_path + len - 3, ".h5") ? ".h5" : "";
    int stem = (int)(len - strlen(ext));
    for (int k = 2; k < 1000; k++) {
        char jobs[RS_PATH_BUF];
        snprintf(buf, n, "%.*s-%d%s", stem, out_path, k, ext);
        if (!path_exists(buf) &&
            (rs_store_jobs_dir(buf, jobs, sizeof jobs) || !path_exists(jobs)))
            return;
    }
    snprintf(buf, n, "NEW.h5");
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
        if (path_exists(o->out_path)) {
            char other[RS_PATH_BUF];
            suggest_output(o->out_path, other, sizeof other);
            rs_spec_t stored;
            rs_error_t ignore;
            int same = 0, readable = rs_store_read_spec(o->out_path, &stored, &ignore) == RS_OK;
            if (readable) {
                same = !strcmp(stored.sha256, spec->sha256);
                rs_spec_free(&stored);
            }
            if (same)
                return rs_error_set(err, RS_EINPUT, o->out_path, 0, 0,
                                    "already holds this sweep (same spec and "
                                    "overrides); continue it with --resume, or "
                                    "start a new one with -o %s", other);
            return rs_error_set(err, RS_EINPUT, o->out_path, 0, 0,
                                "already exists and holds %s; it is left as it "
                                "is. Write this sweep elsewhere, e.g. -o %s",
                                readable ? "the results of a different spec or "
                                           "different overrides"
                                         : "something that is not a regsweep "
                                           "results file",
                                other);
        }
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
                                     uint32_t *n_train, rs_error_t *err)
{
    rs_status st;
    *shared = spec->data_kind != RS_DATA_SIN || spec->data_seed_set;
    if (*shared) {
        if ((st = rs_spec_load_data(spec, 0, data, err)))
            return st;
        *n_train = data->train.n;
        if ((st = rs_train_check(&spec->settings, data, err)))
            rs_data_free(data);
    } else {
        rs_dataset_t probe;
        if ((st = rs_spec_load_data(spec, spec->seeds[0], &probe, err)))
            return st;
        *n_train = probe.train.n;
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

/* Refuses to start when the output's file system lacks the room for the
 * job files still to come plus the packed results file (est->peak), or
 * the file-size limit is below the packed file. */
static rs_status check_space(const char *out_path, const rs_size_estimate_t *est,
                             rs_error_t *err)
{
    char dir[RS_PATH_BUF];
    rs_path_dir(out_path, dir, sizeof dir);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail < est->peak)
            return rs_error_set(err, RS_EIO, out_path, 0, 0,
                                "not enough room to run this sweep: %llu "
                                "jobs to go need about %.1f MiB of job files "
                                "and %.1f MiB for the packed results file "
                                "(%.1f MiB at the peak), and %s has %.1f MiB "
                                "free; free some space or write elsewhere "
                                "(-o)", (unsigned long long)est->n_todo,
                                est->todo_job_files / 1048576.0,
                                est->packed / 1048576.0, est->peak / 1048576.0,
                                dir, avail / 1048576.0);
    }
    return RS_OK;
}

rs_status rs_sweep_run(const rs_spec_t *spec, const rs_sweep_opts_t *o,
                       rs_error_t *err)
{
    char jobs_dir[RS_PATH_BUF];
    if (rs_path_check(o->out_path, err))
        return RS_EINPUT;
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
    uint32_t n_train = 0;
    if ((st = load_and_check_data(spec, &data, &shared, &n_train, err)))
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
    remove_stale_tmp(jobs_dir, o->out_path);

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
    uint64_t n_journal = 0;
    if ((st = scan_jobs(o->out_path, spec, s.rows, &s.skipped, &n_journal, &s,
                        err)))
        goto out;
    /* room for the job files still to come and the packed file */
    rs_size_estimate_t est;
    rs_store_estimate(spec, n_train, s.rows, &est);
    if ((st = check_space(o->out_path, &est, err)))
        goto out;
    todo = malloc((spec->n_jobs - s.skipped + 1) * sizeof *todo);
    if (!todo) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < spec->n_jobs; i++)
        if (!rs_job_finished(s.rows[i].status)) {
            s.rows[i].status = RS_JOB_MISSING;
            todo[s.n_todo++] = i;
        }
    s.todo = todo;
    int threads = o->threads > 0 ? o->threads : 1;
    s.outer = s.n_todo < (uint64_t)threads ? (int)(s.n_todo ? s.n_todo : 1)
                                           : threads;
    s.inner = threads / s.outer;
    fill_provenance(&s.prov, spec, o, rs_simd_name(s.kernels.simd), s.inner);
    /* each invocation adds a line to the history; earlier runs' records
     * are kept (a resume does not overwrite the first run's) */
    if ((st = rs_store_log_run(jobs_dir, &s.prov, err)))
        goto out;
    s.t0 = now_s();
    /* a new sweep writes its results file first (the spec is then safe on
     * disk); an existing one is rewritten only when the run ends */
    rs_store_now_iso(s.prov.written, sizeof s.prov.written);
    if (!path_exists(o->out_path) &&
        (st = rs_store_write_top(o->out_path, spec, s.rows, &s.prov, err)))
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
        /* the job files written so far stay: the next run packs them */
        goto out;
    }
    /* the pack: only when something changed (a resume with nothing to do
     * costs the reading of the table) */
    if (!o->no_pack && (s.done || s.diverged || s.failed || n_journal) &&
        (st = rs_store_write_top(o->out_path, spec, s.rows, &s.prov, err)))
        goto out;
    report(&s, RS_EV_END, NULL, NULL, 0);
    uint64_t n_diverged = 0;   /* in the whole sweep, earlier runs too */
    for (uint64_t i = 0; i < spec->n_jobs; i++)
        n_diverged += s.rows[i].status == RS_JOB_DIVERGED;
    uint64_t finished = s.done + s.failed + s.diverged;
    if (o->stop && *o->stop && finished < s.n_todo)
        st = rs_error_set(err, RS_EINTR, o->out_path, 0, 0,
                          "stopped after %llu of %llu jobs",
                          (unsigned long long)(s.skipped + s.done + s.diverged),
                          (unsigned long long)spec->n_jobs);
    else if (s.failed)
        st = rs_error_set(err, RS_EMISMATCH, o->out_path, 0, 0,
                          "%llu jobs failed; --resume retries them",
                          (unsigned long long)s.failed);
    else if (s.local_stop && finished < s.n_todo)
        st = rs_error_set(err, RS_EMISMATCH, o->out_path, 0, 0,
                          "stopped at the first failure (--fail-fast)");
    else if (n_diverged && !o->allow_diverged)
        st = rs_error_set(err, RS_EMISMATCH, o->out_path, 0, 0,
                          "%llu of %llu jobs diverged (a loss or weight went "
                          "non-finite; /jobs status 'diverged'); they are "
                          "saved, but the sweep is not a success "
                          "(--allow-diverged exits 0)",
                          (unsigned long long)n_diverged,
                          (unsigned long long)spec->n_jobs);
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
    int lock_fd = -1;
    rs_status st = rs_sweep_lock(out_path, &lock_fd, err);
    if (st)
        return st;
    rs_job_summary_t *rows = calloc(spec->n_jobs + 1, sizeof *rows);
    if (!rows) {
        rs_sweep_unlock(&lock_fd);
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    /* from what holds the jobs: the packed file's runs and the job files,
     * every one verified; a damaged or unreadable source is an error, so a
     * rebuild never drops a finished job */
    uint64_t n_journal;
    st = rs_store_read_rows(out_path, spec, 0, rows, NULL, &n_journal, err);
    if (st == RS_EINPUT && err && !strcmp(err->path, out_path))
        snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                 "; the rebuild would drop the jobs it holds: move it aside "
                 "to rebuild from the job files alone");
    if (!st)
        st = rs_store_write_top(out_path, spec, rows, NULL, err);
    free(rows);
    rs_sweep_unlock(&lock_fd);
    return st;
}
