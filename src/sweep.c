/* SPDX-License-Identifier: MIT */
/* sweep.c — OpenMP scheduling of jobs, resume, progress, signals. */
#include "regsweep/sweep.h"

#include "regsweep/buildinfo.h"
#include "regsweep/mpi.h"
#include "regsweep/sha256.h"

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

/* ---- shards and the order of jobs -------------------------------------- */

typedef struct costed {
    double cost;
    uint64_t index;
    char id[13];
} costed;

/* largest first; then by id (shards: independent of the grid's order) */
static int cmp_cost_id(const void *a, const void *b)
{
    const costed *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* largest first; then by index (dispatch: the grid's order) */
static int cmp_cost_index(const void *a, const void *b)
{
    const costed *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A min-heap of shards by (load, number). */
typedef struct shard_load {
    double load;
    uint32_t shard;
} shard_load;

static int load_less(const shard_load *a, const shard_load *b)
{
    return a->load < b->load || (a->load == b->load && a->shard < b->shard);
}

static void heap_sift_down(shard_load *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && load_less(&h[l], &h[m]))
            m = l;
        if (r < n && load_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        shard_load t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

rs_status rs_sweep_shard(const rs_spec_t *spec, uint32_t index, uint32_t count,
                         uint8_t *mine, uint64_t *n_mine, rs_error_t *err)
{
    *n_mine = 0;
    if (count == 0 || index == 0 || index > count)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "shard %u/%u: the "
                            "shard number must be 1 to %u", index, count, count);
    uint64_t n = spec->n_jobs;
    costed *c = malloc((n + 1) * sizeof *c);
    shard_load *h = malloc(count * sizeof *h);
    if (!c || !h) {
        free(c);
        free(h);
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (uint64_t i = 0; i < n; i++) {
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        c[i].cost = rs_job_cost(spec, &job);
        c[i].index = i;
        memcpy(c[i].id, job.id, sizeof c[i].id);
    }
    qsort(c, n, sizeof *c, cmp_cost_id);
    for (uint32_t k = 0; k < count; k++)
        h[k] = (shard_load){0.0, k + 1};   /* a valid heap: loads equal */
    for (uint64_t i = 0; i < n; i++) {
        mine[c[i].index] = h[0].shard == index;
        *n_mine += h[0].shard == index;
        h[0].load += c[i].cost;
        heap_sift_down(h, count, 0);
    }
    free(c);
    free(h);
    return RS_OK;
}

/* Sorts todo[0..n) largest job first (rs_job_cost), the grid's order among
 * equals: the last jobs to start are the short ones, so no worker waits on
 * one long job at the end.  Returns -1 out of memory. */
static int order_by_cost(const rs_spec_t *spec, uint64_t *todo, uint64_t n)
{
    costed *c = malloc((n + 1) * sizeof *c);
    if (!c)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        rs_job_t job;
        rs_spec_job(spec, todo[i], &job);
        c[i].cost = rs_job_cost(spec, &job);
        c[i].index = todo[i];
        c[i].id[0] = '\0';
    }
    qsort(c, n, sizeof *c, cmp_cost_index);
    for (uint64_t i = 0; i < n; i++)
        todo[i] = c[i].index;
    free(c);
    return 0;
}

/* SHA-256 of a dataset's shape and values: MPI ranks compare theirs with
 * rank 0's, as data files that differ between nodes would change bits. */
static void hash_split(rs_sha256_t *h, const rs_dataset_t *d, const rs_split_t *p)
{
    uint32_t n = p->n;
    rs_sha256_update(h, &n, sizeof n);
    if (p->x)
        rs_sha256_update(h, p->x, (size_t)n * d->n_in * sizeof *p->x);
    if (p->x_u8)
        rs_sha256_update(h, p->x_u8, (size_t)n * d->n_in);
    if (p->y)
        rs_sha256_update(h, p->y, (size_t)n * d->n_out * sizeof *p->y);
    if (p->label)
        rs_sha256_update(h, p->label, n);
}

static void data_digest(const rs_dataset_t *d, uint8_t out[32])
{
    rs_sha256_t h;
    rs_sha256_init(&h);
    uint32_t shape[3] = {(uint32_t)d->task, d->n_in, d->n_out};
    rs_sha256_update(&h, shape, sizeof shape);
    hash_split(&h, d, &d->train);
    hash_split(&h, d, &d->val);
    hash_split(&h, d, &d->test);
    rs_sha256_final(&h, out);
}

typedef struct sweep_state sweep_state;
static void run_ranks(sweep_state *s);
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
    if (o->shard_count)
        snprintf(p->shard, sizeof p->shard, "%u/%u", o->shard_index,
                 o->shard_count);
}

struct sweep_state {
    const rs_spec_t *spec;
    const rs_sweep_opts_t *o;
    const char *jobs_dir;
    rs_job_summary_t *rows;
    const uint64_t *todo;
    uint64_t total;                    /* jobs of the grid (or shard)     */
    uint64_t n_todo, next, done, failed, diverged, skipped;
    const rs_dataset_t *shared_data;   /* NULL: per-job data (sin, no seed) */
    rs_kernels_t kernels;
    int outer, inner;
    double t0;
    rs_provenance_t prov;
    rs_mpi_team_t *team;               /* MPI ranks, or NULL               */
    uint8_t data_digest[32];           /* of the shared dataset (MPI)      */
    int fatal;                         /* first write error (rs_status):
                                          stop all; atomic (fatal_now)     */
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
    p.total = s->total;
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

/* Trains one job: its own data unless the sweep shares one dataset.  The
 * same for every worker, local or on another MPI rank. */
static rs_status train_one(const rs_spec_t *spec, const rs_job_t *job,
                           const rs_dataset_t *shared,
                           const rs_kernels_t *kernels, int threads,
                           volatile sig_atomic_t *abort_jobs,
                           rs_job_result_t *res, rs_error_t *err)
{
    rs_dataset_t own;
    rs_status st = RS_OK;
    memset(res, 0, sizeof *res);   /* freed by the caller whatever happens */
    if (!shared && (st = rs_spec_load_job_data(spec, job, &own, err)))
        return st;
    st = rs_train_job(&job->settings, &job->hp, shared ? shared : &own,
                      kernels, threads, abort_jobs, res, err);
    if (!shared)
        rs_data_free(&own);
    return st;
}

/* The first write error stops every worker (call under rs_index).  Other
 * threads read s->fatal without that lock (fatal_now), so it is written
 * atomically, after fatal_err: fatal_err is read only once every worker
 * has joined. */
static void set_fatal(sweep_state *s, rs_status st, const rs_error_t *err)
{
    if (s->fatal == RS_OK) {
        s->fatal_err = *err;
#pragma omp atomic write
        s->fatal = (int)st;
        s->local_stop = 1;
    }
}

/* s->fatal read from any thread. */
static rs_status fatal_now(sweep_state *s)
{
    int f;
#pragma omp atomic read
    f = s->fatal;
    return (rs_status)f;
}

/* A job saved as its job file: counted, logged, reported (call under
 * rs_index). */
static void count_finished(sweep_state *s, const rs_job_t *job,
                           const rs_job_summary_t *row, double wall,
                           int worker, int threads)
{
    s->rows[job->index] = *row;
    s->done += row->status == RS_JOB_DONE;
    s->diverged += row->status == RS_JOB_DIVERGED;
    rs_store_log_job(s->jobs_dir, job, wall, worker, threads, NULL);
    report(s, row->status == RS_JOB_DIVERGED ? RS_EV_JOB_DIVERGED
                                             : RS_EV_JOB_DONE,
           job, NULL, wall);
}

/* A job that failed: retried by --resume (call under rs_index). */
static void count_failed(sweep_state *s, const rs_job_t *job,
                         const rs_error_t *err, double wall)
{
    s->rows[job->index].status = RS_JOB_FAILED;
    s->failed++;
    report(s, RS_EV_JOB_FAILED, job, err, wall);
    if (s->o->fail_fast)
        s->local_stop = 1;
}

/* Runs job todo[k] on this thread; called by each worker in turn. */
static void run_one(sweep_state *s, uint64_t k, int worker)
{
    rs_job_t job;
    rs_spec_job(s->spec, s->todo[k], &job);
    rs_error_t err;
    rs_error_clear(&err);
    double t = now_s();
    rs_job_result_t res;
    rs_status st = train_one(s->spec, &job, s->shared_data, &s->kernels,
                             s->inner, s->o->abort_jobs, &res, &err);
    double wall = now_s() - t;
    /* HDF5 (not thread-safe) builds the job file in memory under one lock;
     * writing it and its fsync run in parallel; only the index update is
     * serialised again */
    rs_job_image_t img;
    memset(&img, 0, sizeof img);
    if (st == RS_OK) {
#pragma omp critical(rs_hdf5)
        st = fatal_now(s) ? RS_EINTR : rs_store_build_job(s->jobs_dir, s->spec,
                                                      &job, &res, &img, &err);
        if (st == RS_OK)
            st = rs_store_save_job(&img, &err);
        else
            rs_store_image_free(&img);
        if (st != RS_OK && st != RS_EINTR) {
#pragma omp critical(rs_index)
            set_fatal(s, st, &err);
            st = RS_EINTR;   /* not the job's failure: the store's */
        }
        if (st == RS_OK) {
            rs_job_summary_t row;
            rs_store_summarise(&res, &row);
#pragma omp critical(rs_index)
            count_finished(s, &job, &row, wall, worker, s->inner);
        }
        rs_job_result_free(&res);
        return;
    }
    /* RS_EINTR: abandoned by a second signal, not a failure, not written */
    if (st != RS_EINTR) {
#pragma omp critical(rs_index)
        count_failed(s, &job, &err, wall);
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

/* Loads the shared dataset (unless jobs draw their own) and checks that
 * every combination of settings fits its data (rs_spec_check_data);
 * n_train receives each combination's training rows (malloc'ed). */
static rs_status load_and_check_data(const rs_spec_t *spec,
                                     rs_dataset_t *data, int *shared,
                                     uint32_t **n_train, rs_error_t *err)
{
    *shared = !rs_spec_data_per_job(spec);
    *n_train = calloc(spec->n_combos + 1, sizeof **n_train);
    if (!*n_train)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    rs_status st = rs_spec_check_data(spec, *shared ? data : NULL, *n_train, err);
    if (st) {
        free(*n_train);
        *n_train = NULL;
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

/* check_space over the jobs still to run: all, or those of mine */
static rs_status check_space_for(const rs_spec_t *spec, const uint32_t *n_train,
                                 const rs_job_summary_t *rows,
                                 const uint8_t *mine, const char *out_path,
                                 rs_error_t *err)
{
    rs_size_estimate_t est;
    rs_job_summary_t *view = NULL;
    if (mine) {   /* the others count as finished: not this run's to write */
        if (!(view = malloc((spec->n_jobs + 1) * sizeof *view)))
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        for (uint64_t i = 0; i < spec->n_jobs; i++) {
            view[i] = rows[i];
            if (!mine[i])
                view[i].status = RS_JOB_DONE;
        }
    }
    rs_store_estimate(spec, n_train, view ? view : rows, &est);
    free(view);
    return check_space(out_path, &est, err);
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
    uint32_t *n_train = NULL;
    if ((st = load_and_check_data(spec, &data, &shared, &n_train, err)))
        return st;
    if (!path_exists(jobs_dir) && mkdir(jobs_dir, 0755) != 0) {
        rs_data_free(&data);
        free(n_train);
        return rs_error_set(err, RS_EIO, jobs_dir, 0, 0, "cannot create: %s",
                            strerror(errno));
    }
    int lock_fd = -1;
    /* the check again, under the lock: another run may have written OUT
     * between the first check (which fails fast, before loading data) and
     * the lock */
    if ((st = lock_jobs_dir(jobs_dir, &lock_fd, err)) ||
        (st = check_output(spec, o, jobs_dir, err))) {
        if (lock_fd >= 0)
            close(lock_fd);
        rs_data_free(&data);
        free(n_train);
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
    uint8_t *mine = NULL;
    s.rows = calloc(spec->n_jobs, sizeof *s.rows);
    if (!s.rows) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    uint64_t n_journal = 0;
    if ((st = scan_jobs(o->out_path, spec, s.rows, &s.skipped, &n_journal, &s,
                        err)))
        goto out;
    todo = malloc((spec->n_jobs + 1) * sizeof *todo);
    if (!todo || (o->shard_count && !(mine = calloc(spec->n_jobs + 1, 1)))) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    s.total = spec->n_jobs;
    if (o->shard_count &&
        (st = rs_sweep_shard(spec, o->shard_index, o->shard_count, mine,
                             &s.total, err)))
        goto out;
    s.skipped = 0;
    for (uint64_t i = 0; i < spec->n_jobs; i++) {
        if (mine && !mine[i])
            continue;
        if (rs_job_finished(s.rows[i].status)) {
            s.skipped++;
        } else {
            s.rows[i].status = RS_JOB_MISSING;
            todo[s.n_todo++] = i;
        }
    }
    /* room for the job files still to come and the packed file (for a
     * shard: its jobs' files, and the whole sweep's packed bound) */
    if ((st = check_space_for(spec, n_train, s.rows, mine, o->out_path, err)))
        goto out;
    if (order_by_cost(spec, todo, s.n_todo)) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
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
    if (o->team && o->team->size > 1) {
        s.team = o->team;
        if (shared)
            data_digest(&data, s.data_digest);
        run_ranks(&s);
    } else
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
        st = (rs_status)s.fatal;
        /* the job files written so far stay: the next run packs them */
        goto out;
    }
    /* the pack: only when something changed (a resume with nothing to do
     * costs the reading of the table) */
    if (!o->no_pack && (s.done || s.diverged || s.failed || n_journal) &&
        (st = rs_store_write_top(o->out_path, spec, s.rows, &s.prov, err)))
        goto out;
    report(&s, RS_EV_END, NULL, NULL, 0);
    uint64_t n_diverged = 0;   /* in the sweep or shard, earlier runs too */
    for (uint64_t i = 0; i < spec->n_jobs; i++)
        n_diverged += s.rows[i].status == RS_JOB_DIVERGED && (!mine || mine[i]);
    uint64_t finished = s.done + s.failed + s.diverged;
    if (o->stop && *o->stop && finished < s.n_todo)
        st = rs_error_set(err, RS_EINTR, o->out_path, 0, 0,
                          "stopped after %llu of %llu jobs",
                          (unsigned long long)(s.skipped + s.done + s.diverged),
                          (unsigned long long)s.total);
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
                          (unsigned long long)s.total);
out:
    free(todo);
    free(mine);
    free(s.rows);
    free(n_train);
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
    rs_status st = rs_spec_load_job_data(spec, job, &data, err);
    if (st)
        return st;
    rs_job_result_t res;
    st = rs_train_job(&job->settings, &job->hp, &data, &k,
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

/* ---- merge -------------------------------------------------------------- */

/* A shared lock on a part's OUT.jobs/.lock: refused while its shard runs
 * (run holds it exclusively); -1 in *fd when the part has no jobs folder. */
static rs_status lock_part(const char *part, int *fd, rs_error_t *err)
{
    char dir[RS_PATH_BUF], path[RS_PATH_JOIN];
    *fd = -1;
    if (rs_store_jobs_dir(part, dir, sizeof dir))
        return rs_error_set(err, RS_EINPUT, part, 0, 0, "path too long");
    snprintf(path, sizeof path, "%s/.lock", dir);
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0)
        return RS_OK;   /* no lock file: no run of it is going on */
    if (flock(f, LOCK_SH | LOCK_NB) != 0) {
        char holder[600];
        lock_holder(f, holder, sizeof holder);
        close(f);
        return rs_error_set(err, RS_EINPUT, part, 0, 0,
                            "its shard is still running (%s): merge when it "
                            "has finished", holder[0] ? holder : "holder unknown");
    }
    *fd = f;
    return RS_OK;
}

/* The parts must be regular files, none of them OUT, none twice. */
static rs_status check_parts(const char *out_path, int n_parts,
                             const char *const *parts, rs_error_t *err)
{
    struct stat out_sb, sb, other;
    int have_out = stat(out_path, &out_sb) == 0;
    for (int p = 0; p < n_parts; p++) {
        if (rs_path_check(parts[p], err))
            return RS_EINPUT;
        if (stat(parts[p], &sb) != 0)
            return rs_error_set(err, RS_EINPUT, parts[p], 0, 0,
                                "cannot open: %s", strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return rs_error_set(err, RS_EINPUT, parts[p], 0, 0,
                                "is not a regular file, so not a part");
        if (have_out && sb.st_dev == out_sb.st_dev && sb.st_ino == out_sb.st_ino)
            return rs_error_set(err, RS_EINPUT, parts[p], 0, 0,
                                "is the output itself; name the parts to "
                                "merge into it");
        for (int q = 0; q < p; q++)
            if (stat(parts[q], &other) == 0 && other.st_dev == sb.st_dev &&
                other.st_ino == sb.st_ino)
                return rs_error_set(err, RS_EINPUT, parts[p], 0, 0,
                                    "is named twice (also as %s)", parts[q]);
    }
    return RS_OK;
}

static void count_rows(const rs_spec_t *spec, const rs_job_summary_t *rows,
                       rs_merge_result_t *r)
{
    r->n_jobs = spec->n_jobs;
    for (uint64_t i = 0; i < spec->n_jobs; i++) {
        r->done += rows[i].status == RS_JOB_DONE;
        r->diverged += rows[i].status == RS_JOB_DIVERGED;
        r->failed += rows[i].status == RS_JOB_FAILED;
        r->missing += rows[i].status == RS_JOB_MISSING;
    }
}

/* Takes every lock (OUT's exclusively, the parts' shared), merges, and
 * releases them. */
static rs_status merge_locked(const char *out_path, const char *jobs_dir,
                              const rs_spec_t *spec, int n_parts,
                              const char *const *parts,
                              const rs_provenance_t *prov,
                              rs_merge_result_t *r, rs_error_t *err)
{
    int *fds = malloc(((size_t)n_parts + 1) * sizeof *fds);
    rs_job_summary_t *rows = calloc(spec->n_jobs + 1, sizeof *rows);
    rs_status st = fds && rows ? RS_OK
                               : rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                                              "out of memory");
    int n_locked = 0;
    for (; !st && n_locked < n_parts; n_locked++)
        st = lock_part(parts[n_locked], &fds[n_locked], err);
    if (st && n_locked > 0)
        n_locked--;   /* the one that failed holds nothing */
    for (int p = 0; !st && p < n_parts; p++) {
        char dir[RS_PATH_BUF];
        if (rs_store_jobs_dir(parts[p], dir, sizeof dir) == 0)
            st = rs_store_adopt_logs(jobs_dir, dir, err);
    }
    if (!st)
        st = rs_store_log_run(jobs_dir, prov, err);
    if (!st)
        st = rs_store_merge(out_path, spec, n_parts, parts, prov, rows,
                            r->taken, err);
    if (!st)
        count_rows(spec, rows, r);
    for (int p = 0; p < n_locked; p++)
        rs_sweep_unlock(&fds[p]);
    free(fds);
    free(rows);
    return st;
}

rs_status rs_sweep_merge(const char *out_path, int n_parts,
                         const char *const *parts, const char *command,
                         rs_merge_result_t *r, rs_error_t *err)
{
    char jobs_dir[RS_PATH_BUF];
    memset(r->spec_sha256, 0, sizeof r->spec_sha256);
    r->n_jobs = r->done = r->diverged = r->failed = r->missing = 0;
    if (rs_path_check(out_path, err))
        return RS_EINPUT;
    if (rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir))
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "output path too long");
    if (n_parts < 1)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "no parts to merge");
    rs_status st = check_parts(out_path, n_parts, parts, err);
    if (!st)
        st = check_out_dir(out_path, err);
    if (st)
        return st;
    if (!path_exists(jobs_dir) && mkdir(jobs_dir, 0755) != 0)
        return rs_error_set(err, RS_EIO, jobs_dir, 0, 0, "cannot create: %s",
                            strerror(errno));
    int lock_fd = -1;
    if ((st = lock_jobs_dir(jobs_dir, &lock_fd, err)))
        return st;
    remove_stale_tmp(jobs_dir, out_path);
    /* the spec: OUT's when it exists (the parts must match it), else the
     * first part's; checked only once the lock is held */
    rs_spec_t spec;
    st = rs_store_read_spec(path_exists(out_path) ? out_path : parts[0], &spec,
                            err);
    if (!st) {
        memcpy(r->spec_sha256, spec.sha256, sizeof r->spec_sha256);
        rs_sweep_opts_t o = {.out_path = out_path, .threads = 1,
                             .command = command};
        rs_provenance_t prov;
        fill_provenance(&prov, &spec, &o, "", 0);
        rs_store_now_iso(prov.written, sizeof prov.written);
        st = merge_locked(out_path, jobs_dir, &spec, n_parts, parts, &prov, r,
                          err);
        rs_spec_free(&spec);
    }
    rs_sweep_unlock(&lock_fd);
    return st;
}

/* ---- MPI: rank 0 dispatches and writes, every rank runs jobs ------------ */

/* Message tags.  A rank's thread t gets its replies on TAG_REPLY + t. */
enum { TAG_SPEC = 1, TAG_SPEC_BODY, TAG_HELLO, TAG_HELLO_BODY, TAG_REQ,
       TAG_REQ_BODY, TAG_REPLY = 100 };
/* What a request carries: nothing yet, a job file, a failure, or a job
 * abandoned by a second signal. */
enum { REQ_READY = 0, REQ_RESULT, REQ_FAILED, REQ_ABANDONED };
#define STOP_JOB UINT64_MAX

static void nap(void)
{
    struct timespec t = {0, 1000000};   /* 1 ms */
    nanosleep(&t, NULL);
}

/* rank 0: the spec text, overrides, path and hash, to every other rank */
static void send_spec(const rs_spec_t *spec, rs_mpi_team_t *team)
{
    size_t n = 65 + strlen(spec->path) + 1 + spec->text_len + 1;
    for (int i = 0; i < spec->n_overrides; i++)
        n += strlen(spec->overrides[i]) + 1;
    char *body = malloc(n), *p = body;
    uint64_t hdr[4] = {body != NULL, n, (uint64_t)spec->n_overrides,
                       spec->text_len};
    if (body) {
        memcpy(p, spec->sha256, 65);
        p += 65;
        p = stpcpy(p, spec->path) + 1;
        memcpy(p, spec->text, spec->text_len);
        p += spec->text_len;
        *p++ = '\0';
        for (int i = 0; i < spec->n_overrides; i++)
            p = stpcpy(p, spec->overrides[i]) + 1;
    }
    for (int r = 1; r < team->size; r++) {
        rs_mpi_send(r, TAG_SPEC, hdr, sizeof hdr);
        if (body)
            rs_mpi_send(r, TAG_SPEC_BODY, body, n);
    }
    team->released = 1;
    free(body);
}

void rs_sweep_mpi_release(rs_mpi_team_t *team)
{
    if (!team || team->rank != 0 || team->released || team->size < 2)
        return;
    uint64_t hdr[4] = {0, 0, 0, 0};
    for (int r = 1; r < team->size; r++)
        rs_mpi_send(r, TAG_SPEC, hdr, sizeof hdr);
    team->released = 1;
}

/* Receives a header and its body (malloc'ed; NULL when empty). */
static void *recv_body(int from, int tag, size_t n)
{
    if (n == 0)
        return NULL;
    char *b = malloc(n + 1);
    if (!b) {
        /* still take the message off the wire: a receive of 0 bytes
         * consumes it (truncated; errors return, rs_mpi_init) */
        char none;
        rs_mpi_recv(from, tag, &none, 0, NULL);
        return NULL;
    }
    if (rs_mpi_recv(from, tag, b, n, NULL)) {
        free(b);
        return NULL;
    }
    b[n] = '\0';
    return b;
}

typedef struct rank_book {
    uint64_t hellos, threads, stopped;
    uint8_t *banned;            /* [size]: this rank gets no jobs */
} rank_book;

static void lost_rank(sweep_state *s, int rank, const char *host,
                      const char *why)
{
    rs_error_t e;
    rs_error_set(&e, RS_EINPUT, NULL, 0, 0, "rank %d (%s) runs no jobs: %s",
                 rank, host && *host ? host : "?", why);
#pragma omp critical(rs_index)
    report(s, RS_EV_RANK_LOST, NULL, &e, 0);
}

static void on_hello(sweep_state *s, rank_book *b, int from)
{
    uint64_t hdr[3];
    rs_mpi_recv(from, TAG_HELLO, hdr, sizeof hdr, NULL);
    char *body = recv_body(from, TAG_HELLO_BODY, hdr[1]);
    b->hellos++;
    b->threads += hdr[0];
    const char *host = body && hdr[1] > 32 ? body + 32 : "";
    const char *why = host + strlen(host) + 1;
    if (!body)
        lost_rank(s, from, "", "its greeting was lost (out of memory)");
    else if (hdr[0] == 0)
        lost_rank(s, from, host, why);
    else if (s->shared_data && memcmp(body, s->data_digest, 32) != 0) {
        b->banned[from] = 1;
        lost_rank(s, from, host, "its dataset differs from rank 0's (the "
                  "data files must be the same on every node)");
    }
    free(body);
}

/* A job file from another rank: saved as a local worker saves its own,
 * then read back and verified before it counts. */
static void take_result(sweep_state *s, uint64_t index, void *bytes, size_t n,
                        int worker, double wall)
{
    rs_job_t job;
    rs_spec_job(s->spec, index, &job);
    rs_job_image_t img;
    rs_error_t err;
    rs_error_clear(&err);
    rs_store_image_adopt(&img, s->jobs_dir, &job, bytes, n);
    rs_status st = rs_store_save_job(&img, &err);
    if (st) {
#pragma omp critical(rs_index)
        set_fatal(s, st, &err);
        return;
    }
    rs_job_summary_t row;
#pragma omp critical(rs_hdf5)
    st = rs_store_read_summary(s->jobs_dir, 0, s->spec, &job, &row, &err);
    if (st == RS_OK && !rs_job_finished(row.status))
        st = rs_error_set(&err, RS_EIO, img.final, 0, 0, "vanished");
    if (st != RS_OK)   /* not to be trusted: a failure, rerun by --resume */
        unlink(img.final);
#pragma omp critical(rs_index)
    {
        if (st == RS_OK)
            count_finished(s, &job, &row, wall, worker, 1);
        else
            count_failed(s, &job, &err, wall);
    }
}

static void take_failure(sweep_state *s, uint64_t index, const char *msg,
                         double wall)
{
    rs_job_t job;
    rs_spec_job(s->spec, index, &job);
    rs_error_t err;
    rs_error_set(&err, RS_EINPUT, NULL, 0, 0, "%s", msg ? msg : "failed");
#pragma omp critical(rs_index)
    count_failed(s, &job, &err, wall);
}

/* One request: take what it carries, answer with the next job or stop. */
static void on_request(sweep_state *s, rank_book *b, int from)
{
    uint64_t hdr[6];
    rs_mpi_recv(from, TAG_REQ, hdr, sizeof hdr, NULL);
    void *body = recv_body(from, TAG_REQ_BODY, hdr[3]);
    double wall;
    memcpy(&wall, &hdr[4], sizeof wall);
    int thread = (int)hdr[0];
    if (hdr[2] < s->spec->n_jobs) {
        if (hdr[1] == REQ_RESULT && body) {
            take_result(s, hdr[2], body, hdr[3], from * 1000 + thread, wall);
            body = NULL;   /* taken */
        } else if (hdr[1] == REQ_RESULT) {
            take_failure(s, hdr[2], "its job file was lost on the way (out "
                         "of memory on rank 0)", wall);
        } else if (hdr[1] == REQ_FAILED) {
            take_failure(s, hdr[2], body, wall);
        }
    }
    free(body);
    uint64_t next = STOP_JOB, k;
    if (!b->banned[from] && !should_stop(s) && !fatal_now(s)) {
#pragma omp atomic capture
        k = s->next++;
        if (k < s->n_todo)
            next = s->todo[k];
    }
    b->stopped += next == STOP_JOB;
    rs_mpi_send(from, TAG_REPLY + thread, &next, sizeof next);
}

/* Rank 0's thread 0: serves the other ranks until each of their threads
 * has been told to stop. */
static void coordinator_loop(sweep_state *s)
{
    rs_mpi_team_t *t = s->team;
    rank_book b = {0, 0, 0, calloc((size_t)t->size, 1)};
    if (!b.banned) {
        rs_sweep_mpi_release(t);   /* out of memory: run alone */
        return;
    }
    send_spec(s->spec, t);
    while (b.hellos < (uint64_t)(t->size - 1) || b.stopped < b.threads) {
        int from, tag;
        if (!rs_mpi_poll(-1, &from, &tag))
            nap();
        else if (tag == TAG_HELLO)
            on_hello(s, &b, from);
        else if (tag == TAG_REQ)
            on_request(s, &b, from);
        else   /* a body without its header cannot happen: drop it */
            free(recv_body(from, tag, 1));
    }
    free(b.banned);
}

/* Rank 0: its own threads run jobs beside the coordinator (thread 0). */
static void run_ranks(sweep_state *s)
{
#ifdef _OPENMP
    if (s->inner > 1)
        omp_set_max_active_levels(2);
#pragma omp parallel num_threads(s->outer + 1)
    {
        if (omp_get_thread_num() == 0)
            coordinator_loop(s);
        else
            worker_loop(s, omp_get_thread_num() - 1);
    }
#else
    coordinator_loop(s);   /* no threads: rank 0 only dispatches and writes */
#endif
}

/* ---- the other ranks ---------------------------------------------------- */

typedef struct rank_worker {
    const rs_spec_t *spec;
    const rs_sweep_opts_t *o;
    const rs_dataset_t *shared_data;
    rs_kernels_t kernels;
} rank_worker;

/* Runs one job; fills the request that reports it (kind, body). */
static void rank_job(rank_worker *w, uint64_t index, uint64_t *kind,
                     void **body, size_t *n, double *wall)
{
    rs_job_t job;
    rs_spec_job(w->spec, index, &job);
    rs_error_t err;
    rs_error_clear(&err);
    double t = now_s();
    rs_job_result_t res;
    rs_status st = train_one(w->spec, &job, w->shared_data, &w->kernels, 1,
                             w->o->abort_jobs, &res, &err);
    rs_job_image_t img;
    memset(&img, 0, sizeof img);
    if (!st) {
#pragma omp critical(rs_hdf5)
        st = rs_store_build_job("", w->spec, &job, &res, &img, &err);
    }
    rs_job_result_free(&res);
    *wall = now_s() - t;
    *body = NULL;
    *n = 0;
    if (st == RS_OK) {
        *kind = REQ_RESULT;
        *body = img.bytes;
        *n = img.n;
    } else if (st == RS_EINTR) {
        *kind = REQ_ABANDONED;
    } else {
        char msg[1500];
        rs_error_format(&err, msg, sizeof msg);
        *kind = REQ_FAILED;
        *body = strdup(msg);
        *n = *body ? strlen(msg) + 1 : 0;
    }
}

static void rank_thread(rank_worker *w, int thread)
{
    rs_store_init();
    uint64_t kind = REQ_READY, index = 0, next;
    void *body = NULL;
    size_t n = 0;
    double wall = 0;
    for (;;) {
        uint64_t hdr[6] = {(uint64_t)thread, kind, index, n, 0, 0};
        memcpy(&hdr[4], &wall, sizeof wall);
#pragma omp critical(rs_mpi)
        {
            rs_mpi_send(0, TAG_REQ, hdr, sizeof hdr);
            if (n)
                rs_mpi_send(0, TAG_REQ_BODY, body, n);
            if (rs_mpi_recv(0, TAG_REPLY + thread, &next, sizeof next, NULL))
                next = STOP_JOB;
        }
        free(body);
        body = NULL;
        n = 0;
        if (next == STOP_JOB)
            break;
        index = next;
        rank_job(w, index, &kind, &body, &n, &wall);
    }
}

/* The spec as rank 0 sent it (RS_EINTR: told to stop instead). */
static rs_status recv_spec(rs_spec_t *spec, rs_error_t *err)
{
    uint64_t hdr[4];
    if (rs_mpi_recv(0, TAG_SPEC, hdr, sizeof hdr, NULL))
        return rs_error_set(err, RS_EIO, NULL, 0, 0, "MPI: no spec from rank 0");
    if (hdr[0] == 0)
        return RS_EINTR;
    char *body = recv_body(0, TAG_SPEC_BODY, hdr[1]);
    if (!body)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    const char *sha = body, *path = body + 65;
    const char *text = path + strlen(path) + 1;
    char **over = calloc(hdr[2] + 1, sizeof *over);
    const char *p = text + hdr[3] + 1;
    for (uint64_t i = 0; over && i < hdr[2]; i++) {
        over[i] = (char *)p;
        p += strlen(p) + 1;
    }
    rs_status st = over ? rs_spec_parse(text, hdr[3], path, (int)hdr[2], over,
                                        spec, err)
                        : rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    if (!st && strcmp(spec->sha256, sha)) {
        st = rs_error_set(err, RS_EINPUT, path, 0, 0, "parses to another "
                          "spec here (sha256 %.12s..., rank 0's %.12s...)",
                          spec->sha256, sha);
        rs_spec_free(spec);
    }
    free(over);
    free(body);
    return st;
}

static void send_hello(int threads, const uint8_t digest[32], const char *why)
{
    char host[256];
    rs_mpi_host(host, sizeof host);
    size_t n = 32 + strlen(host) + 1 + strlen(why) + 1;
    char *body = malloc(n);
    uint64_t hdr[3] = {(uint64_t)threads, body ? n : 0, 0};
    if (body) {
        memcpy(body, digest, 32);
        strcpy(stpcpy(body + 32, host) + 1, why);
    }
    rs_mpi_send(0, TAG_HELLO, hdr, sizeof hdr);
    if (body)
        rs_mpi_send(0, TAG_HELLO_BODY, body, n);
    free(body);
}

rs_status rs_sweep_mpi_worker(const rs_sweep_opts_t *o, rs_error_t *err)
{
    rs_spec_t spec;
    memset(&spec, 0, sizeof spec);
    rs_status st = recv_spec(&spec, err);
    if (st == RS_EINTR)
        return RS_OK;   /* rank 0 stopped before it started */
    uint8_t digest[32] = {0};
    rs_dataset_t data;
    memset(&data, 0, sizeof data);
    int shared = 0;
    uint32_t *n_train = NULL;
    if (!st && !(st = load_and_check_data(&spec, &data, &shared, &n_train, err)) &&
        shared)
        data_digest(&data, digest);
    free(n_train);
    if (st) {
        char why[1500];
        rs_error_format(err, why, sizeof why);
        send_hello(0, digest, why);
        rs_spec_free(&spec);
        rs_data_free(&data);
        return st;
    }
    rank_worker w = {&spec, o, shared ? &data : NULL, {0}};
    rs_kernels_init(&w.kernels, o->simd_cap);
    /* rank 0 waits for as many stops as the hello counts threads: the
     * team's real size (OpenMP may give fewer threads than asked) */
#ifdef _OPENMP
#pragma omp parallel num_threads(o->threads > 0 ? o->threads : 1)
    {
#pragma omp single
        send_hello(omp_get_num_threads(), digest, "");
        rank_thread(&w, omp_get_thread_num());
    }
#else
    send_hello(1, digest, "");
    rank_thread(&w, 0);
#endif
    rs_spec_free(&spec);
    rs_data_free(&data);
    return RS_OK;
}
