/* SPDX-License-Identifier: MIT */
/* store.c — writing and reading the HDF5 results format.
 *
 * Objects are created with timestamps off (H5Pset_obj_track_times(..., 0))
 * and the default (earliest) file format, so the same content gives the same
 * bytes and every HDF5 1.8+ reader opens the files.
 */
#define _XOPEN_SOURCE 700   /* realpath */
#include "regsweep/store.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "regsweep/sha256.h"
#include "regsweep/version.h"

/* ---- allocation failures inside HDF5 -------------------------------------
 *
 * HDF5 reports a failed allocation as the failure of whatever it was doing
 * (an open, a lookup, a read): taken at its word, a reader would call a
 * good file damaged (exit 2, "bad input").  The error handler that
 * rs_store_init installs (per thread: HDF5's handlers are per thread)
 * notes when a failing HDF5 call ran out of memory — an H5E_NOSPACE or
 * H5E_CANTALLOC entry on its error stack, or errno ENOMEM — and the public
 * readers, wrapped by h5_oom_guard, turn their failure into RS_ENOMEM when
 * that happened during the call. */
static _Thread_local int h5_oom, h5_show;
static int h5_start_oom;    /* HDF5 could not start: out of memory */

static herr_t h5_oom_walk(unsigned n, const H5E_error2_t *e, void *found)
{
    (void)n;
    if (e->min_num == H5E_NOSPACE || e->min_num == H5E_CANTALLOC)
        *(int *)found = 1;
    return 0;
}

static herr_t h5_on_error(hid_t stack, void *data)
{
    (void)data;
    int oom = errno == ENOMEM;
    H5Ewalk2(stack, H5E_WALK_DOWNWARD, h5_oom_walk, &oom);
    if (oom)
        h5_oom = 1;
    if (h5_show)
        H5Eprint2(stack, stderr);
    return 0;
}

static void h5_oom_clear(void)
{
    h5_oom = 0;
    errno = 0;
}

/* st, or RS_ENOMEM ("PATH: out of memory (inside HDF5)") when an
 * allocation failed since h5_oom_clear. */
static rs_status h5_oom_guard(rs_status st, rs_error_t *err)
{
    if (st == RS_OK || st == RS_ENOMEM || st == RS_EINTR ||
        (!h5_oom && !h5_start_oom && errno != ENOMEM) || !err)
        return st;
    char path[RS_PATH_BUF];
    snprintf(path, sizeof path, "%s", err->path);
    return rs_error_set(err, RS_ENOMEM, path[0] ? path : NULL, 0, 0,
                        "out of memory (inside HDF5)");
}

void rs_store_init(void)
{
    /* RS_HDF5_ERRORS=1 keeps HDF5's own error stacks, for debugging */
    const char *show = getenv("RS_HDF5_ERRORS");
    h5_show = show && *show && *show != '0';
    /* no H5_term_library at exit: regsweep closes what it opens, and after
     * an allocation failed inside HDF5 its termination prints "infinite
     * loop closing library" and a list of its packages on stderr */
    H5dont_atexit();
    /* HDF5 starts on its first call; when an allocation fails there,
     * libhdf5 prints its error stack itself (no handler is installed yet)
     * and every later call fails */
    errno = 0;
    if (H5open() < 0 && errno == ENOMEM)
        h5_start_oom = 1;
    H5Eset_auto2(H5E_DEFAULT, h5_on_error, NULL);
}

void rs_store_now_iso(char *buf, size_t n_bytes)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n_bytes, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int rs_store_jobs_dir(const char *out_path, char *dir, size_t n_bytes)
{
    size_t len = strlen(out_path);
    static const char *const exts[] = {".h5", ".hdf5", ".he5"};
    for (int i = 0; i < 3; i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcmp(out_path + len - el, exts[i]) == 0) {
            len -= el;
            break;
        }
    }
    int n = snprintf(dir, n_bytes, "%.*s.jobs", (int)len, out_path);
    return n < 0 || (size_t)n >= n_bytes ? -1 : 0;
}

/* ---- HDF5 writing helpers: the first failure is kept in w->st ---------- */

typedef struct h5w {
    hid_t ocpl_g, ocpl_d;   /* group / dataset creation: no timestamps */
    rs_status st;
    const char *path;
    rs_error_t *err;
    int in_memory;          /* a core-driver file: writes cannot hit the disk */
} h5w;

static void h5w_open(h5w *w, const char *path, rs_error_t *err)
{
    w->path = path;
    w->err = err;
    w->st = RS_OK;
    w->in_memory = 0;
    w->ocpl_g = H5Pcreate(H5P_GROUP_CREATE);
    w->ocpl_d = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(w->ocpl_g, 0);
    H5Pset_obj_track_times(w->ocpl_d, 0);
}

static void h5w_close(h5w *w)
{
    H5Pclose(w->ocpl_g);
    H5Pclose(w->ocpl_d);
}

static int h5w_fail(h5w *w, const char *what, const char *name)
{
    if (w->st == RS_OK && w->in_memory)
        w->st = rs_error_set(w->err, RS_ENOMEM, w->path, 0, 0,
                             "HDF5 could not %s '%s' in memory (out of "
                             "memory?)", what, name);
    else if (w->st == RS_OK)
        w->st = rs_error_set(w->err, RS_EIO, w->path, 0, 0,
                             "HDF5 could not %s '%s' (disk full or "
                             "not writable?)", what, name);
    return -1;
}

static hid_t h5w_group(h5w *w, hid_t loc, const char *name)
{
    if (w->st)
        return -1;
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, w->ocpl_g, H5P_DEFAULT);
    if (g < 0)
        h5w_fail(w, "create group", name);
    return g;
}

static hid_t str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static void h5w_attr(h5w *w, hid_t loc, const char *name, hid_t mem_type,
                     hid_t file_type, int n, const void *data)
{
    if (w->st)
        return;
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, mem_type, data) < 0)
        h5w_fail(w, "write attribute", name);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
}

static void attr_str(h5w *w, hid_t loc, const char *name, const char *v)
{
    hid_t t = str_type();
    h5w_attr(w, loc, name, t, t, -1, &v);
    H5Tclose(t);
}

static void attr_u64(h5w *w, hid_t loc, const char *name, uint64_t v)
{
    h5w_attr(w, loc, name, H5T_NATIVE_UINT64, H5T_STD_U64LE, -1, &v);
}

static void attr_i32(h5w *w, hid_t loc, const char *name, int32_t v)
{
    h5w_attr(w, loc, name, H5T_NATIVE_INT32, H5T_STD_I32LE, -1, &v);
}

static void attr_f64(h5w *w, hid_t loc, const char *name, double v)
{
    h5w_attr(w, loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, -1, &v);
}

static void attr_f64v(h5w *w, hid_t loc, const char *name, const double *v,
                      int n)
{
    h5w_attr(w, loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, n, v);
}

static void h5w_dataset(h5w *w, hid_t loc, const char *name, hid_t mem_type,
                        hid_t file_type, int rank, const hsize_t *dims,
                        const void *data)
{
    if (w->st)
        return;
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR)
                         : H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, w->ocpl_d,
                         H5P_DEFAULT);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    if (d < 0 || (total > 0 && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL,
                                        H5P_DEFAULT, data) < 0))
        h5w_fail(w, "write dataset", name);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
}

static void ds_f64(h5w *w, hid_t loc, const char *name, const double *v,
                   hsize_t n)
{
    h5w_dataset(w, loc, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &n, v);
}

static void ds_strings(h5w *w, hid_t loc, const char *name,
                       const char *const *v, hsize_t n)
{
    hid_t t = str_type();
    h5w_dataset(w, loc, name, t, t, 1, &n, v);
    H5Tclose(t);
}

/* ---- atomic file replacement ------------------------------------------- */

static rs_status fsync_path(const char *path, int is_dir, rs_error_t *err)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot open to sync: %s",
                            strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "fsync failed: %s",
                            strerror(e));
    return RS_OK;
}

/* tmp is complete and closed: make it durable, then move it into place. */
static rs_status commit_file(const char *tmp, const char *final,
                             rs_error_t *err)
{
    rs_status st = fsync_path(tmp, 0, err);
    if (st) {
        unlink(tmp);
        return st;
    }
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        return rs_error_set(err, RS_EIO, final, 0, 0, "cannot rename %s: %s",
                            tmp, strerror(e));
    }
    char dir[RS_PATH_BUF];
    rs_path_dir(final, dir, sizeof dir);
    return fsync_path(dir, 1, err);
}

/* Temporary files: "<final>.<pid>.tmp", beside the file they become.  Only
 * the process holding the sweep's lock writes a given final name, so the
 * pid makes the name unique; whatever already has that name (a dead
 * process's leftover with a reused pid, or something planted: a file or a
 * symlink) is unlinked, which removes a link and never what it points to,
 * and the file is then created with O_EXCL, which never follows a link. */
static void tmp_name(const char *final, char *tmp, size_t n)
{
    snprintf(tmp, n, "%s.%ld.tmp", final, (long)getpid());
}

static int create_exclusive(const char *path)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(path, flags, 0644);
    if (fd < 0 && errno == EEXIST && unlink(path) == 0)
        fd = open(path, flags, 0644);
    return fd;
}

/* The file that an update of path must replace: path itself, or where it
 * points when it is a symbolic link (a linked results file is updated in
 * place of its target, never replaced by a copy that detaches the link).
 * RS_EINPUT for a dangling link. */
static rs_status write_target(const char *path, char *out, size_t n,
                              rs_error_t *err)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISLNK(sb.st_mode)) {
        snprintf(out, n, "%s", path);
        return RS_OK;
    }
    char real[PATH_MAX];
    if (!realpath(path, real) || strlen(real) > RS_PATH_MAX)
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "is a symbolic link whose target cannot be "
                            "resolved: %s", strerror(errno));
    snprintf(out, n, "%s", real);
    return RS_OK;
}

static hid_t create_file(const char *path, rs_error_t *err)
{
    /* H5F_ACC_EXCL: open(O_CREAT | O_EXCL), as create_exclusive */
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 && unlink(path) == 0)
        f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        rs_error_set(err, RS_EIO, path, 0, 0,
                     "cannot create the file (directory missing or not "
                     "writable?)");
    return f;
}

/* Why files are built in memory: when its own writes fail (disk full,
 * ulimit -f), HDF5 1.10.8 can crash (in H5Ocopy, and in its exit handler
 * after a failed H5Fclose).  A file built with the core driver and no
 * backing store never writes; regsweep then writes its bytes itself and
 * reports any failure as an error. */
static hid_t create_mem_file(const char *name, rs_error_t *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        rs_error_set(err, RS_ENOMEM, name, 0, 0,
                     "HDF5 cannot create the file in memory");
    return f;
}

/* Opens an existing file into memory (changes are not written back). */
static hid_t open_mem_copy(const char *path, rs_error_t *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0)
        rs_error_set(err, RS_EINPUT, path, 0, 0,
                     "HDF5 cannot open it (damaged?)");
    return f;
}

/* Writes n bytes to path (created or truncated) and fsyncs it; on failure
 * the partial file is removed and the error names path and the reason. */
static rs_status write_bytes(const char *path, const void *buf, size_t n,
                             rs_error_t *err)
{
    int fd = create_exclusive(path);
    if (fd < 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot create: %s",
                            strerror(errno));
    const char *p = buf;
    size_t done = 0;
    int e = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (e) {
        unlink(path);
        return rs_error_set(err, RS_EIO, path, 0, 0,
                            "write failed after %zu of %zu bytes: %s%s", done,
                            n, strerror(e),
                            e == ENOSPC || e == EDQUOT ? " (disk full)" : "");
    }
    return RS_OK;
}

/* Closes an in-memory file f after writing its image to tmp, then moves tmp
 * to final.  f is closed in every case. */
static rs_status save_mem_file(hid_t f, const char *tmp, const char *final,
                               rs_error_t *err)
{
    /* a failed flush (memory ran out inside HDF5) leaves an incomplete
     * image, and libhdf5 1.10.8's state after it is not to be trusted
     * further than closing */
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
        H5Fclose(f);
        return rs_error_set(err, RS_ENOMEM, final, 0, 0,
                            "out of memory: HDF5 could not complete the file "
                            "in memory");
    }
    ssize_t n = H5Fget_file_image(f, NULL, 0);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || H5Fget_file_image(f, buf, (size_t)n) != n) {
        free(buf);
        H5Fclose(f);
        return rs_error_set(err, RS_ENOMEM, final, 0, 0,
                            "cannot take the file image (%zd bytes) from "
                            "HDF5", n);
    }
    H5Fclose(f);
    rs_status st = write_bytes(tmp, buf, (size_t)n, err);
    free(buf);
    if (st)
        return st;
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        return rs_error_set(err, RS_EIO, final, 0, 0, "cannot rename %s: %s",
                            tmp, strerror(e));
    }
    char dir[RS_PATH_BUF];
    rs_path_dir(final, dir, sizeof dir);
    return fsync_path(dir, 1, err);
}

/* OUT.h5 holds copies of every job and may be too large to build in
 * memory, so it is written by HDF5 directly; to keep HDF5 from meeting a
 * failed write, the space it needs (an upper estimate) is checked first
 * against the free space of its file system and the file-size limit. */
static rs_status check_room(const char *path, uint64_t need, rs_error_t *err)
{
    char dir[RS_PATH_BUF];
    rs_path_dir(path, dir, sizeof dir);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail < need)
            return rs_error_set(err, RS_EIO, path, 0, 0,
                                "No space left on device (disk full): "
                                "writing it needs about %.1f MiB, %.1f MiB "
                                "are free", need / 1048576.0,
                                avail / 1048576.0);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (uint64_t)rl.rlim_cur < need)
        return rs_error_set(err, RS_EIO, path, 0, 0,
                            "File too large: writing it needs about %.1f MiB, "
                            "the file-size limit (ulimit -f) is %.1f MiB",
                            need / 1048576.0, rl.rlim_cur / 1048576.0);
    return RS_OK;
}

/* OUT.h5 up to this size is built in memory (briefly twice its size);
 * larger ones are written by HDF5 after check_room, which keeps the peak
 * memory of a sweep low (a Fashion-MNIST sweep of 30 jobs: 65 MB). */
#define RS_TOP_IN_MEMORY_MAX ((uint64_t)32 << 20)

/* An upper estimate of OUT.h5's size: the job files it copies, plus the
 * table, provenance and spec. */
static uint64_t top_size_estimate(const rs_spec_t *spec,
                                  const rs_job_summary_t *rows,
                                  const char *jobs_dir)
{
    uint64_t bytes = (64u << 10) + spec->text_len + spec->n_jobs * 512;
    for (uint64_t i = 0; i < spec->n_jobs; i++) {
        if (!rs_job_finished(rows[i].status))
            continue;
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        char path[RS_PATH_JOIN];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s.h5", jobs_dir, job.id);
        if (stat(path, &sb) == 0)
            bytes += (uint64_t)sb.st_size + 4096;
    }
    return bytes + bytes / 16;
}

/* ---- summaries ------------------------------------------------------------ */

const char *rs_job_status_name(rs_job_status s)
{
    static const char *const names[4] = {"missing", "done", "failed", "diverged"};
    return (unsigned)s < 4 ? names[s] : "unknown";
}

void rs_store_summarise(const rs_job_result_t *r, rs_job_summary_t *out)
{
    const rs_curves_t *c = &r->curves;
    uint32_t E = c->n - 1;
    memset(out, 0, sizeof *out);
    out->status = r->diverged ? RS_JOB_DIVERGED : RS_JOB_DONE;
    out->diverged_epoch = r->diverged ? r->diverged_epoch : RS_NO_EPOCH;
    if (r->diverged)
        snprintf(out->diverged_quantity, sizeof out->diverged_quantity, "%s",
                 r->diverged_quantity ? r->diverged_quantity : "");
    out->train_loss = c->train_loss[E];
    out->test_loss = c->test_loss[E];
    out->gap = out->test_loss - out->train_loss;
    out->train_acc = c->train_acc[E];
    out->test_acc = c->test_acc[E];
    out->gap_acc = out->train_acc - out->test_acc;
    out->val_loss = c->val_loss[E];
    out->val_acc = c->val_acc[E];
    /* the first epoch with the smallest validation loss (NaN never wins);
     * test data choose nothing */
    uint32_t best = RS_NO_EPOCH;
    for (uint32_t e = 0; e <= E; e++)
        if (isfinite(c->val_loss[e]) &&
            (best == RS_NO_EPOCH || c->val_loss[e] < c->val_loss[best]))
            best = e;
    out->best_epoch = best;
    if (best == RS_NO_EPOCH) {
        out->best_val_loss = out->best_test_loss = out->best_train_loss = NAN;
        out->best_gap = out->best_train_acc = out->best_test_acc = NAN;
        out->best_gap_acc = NAN;
        return;
    }
    out->best_val_loss = c->val_loss[best];
    out->best_test_loss = c->test_loss[best];
    out->best_train_loss = c->train_loss[best];
    out->best_gap = out->best_test_loss - out->best_train_loss;
    out->best_train_acc = c->train_acc[best];
    out->best_test_acc = c->test_acc[best];
    out->best_gap_acc = out->best_train_acc - out->best_test_acc;
}

static const char *const curve_names[7] = {
    "train_loss", "test_loss", "val_loss", "train_acc", "test_acc", "val_acc",
    "train_loss_dropout"};

static double *const *curve_arrays(const rs_curves_t *c, double *v[7])
{
    v[0] = c->train_loss;
    v[1] = c->test_loss;
    v[2] = c->val_loss;
    v[3] = c->train_acc;
    v[4] = c->test_acc;
    v[5] = c->val_acc;
    v[6] = c->train_loss_dropout;
    return v;
}

static void write_weights(h5w *w, hid_t loc, const rs_arch_t *a,
                          const float *params)
{
    for (int l = 0; l < a->n_layers; l++) {
        char name[32];
        hsize_t dims[2] = {a->sizes[l], a->sizes[l + 1]};
        snprintf(name, sizeof name, "W%d", l);
        h5w_dataset(w, loc, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dims,
                    params + rs_arch_weight_offset(a, l));
        snprintf(name, sizeof name, "b%d", l);
        h5w_dataset(w, loc, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1,
                    &dims[1], params + rs_arch_bias_offset(a, l));
    }
}

static void weights_sha256(const rs_job_result_t *r, const float *params,
                           char hex[65])
{
    /* float32 little-endian bytes, the order of the parameter array */
    size_t n = r->n_params * 4;
    uint8_t *bytes = malloc(n ? n : 1);
    if (!bytes) {
        hex[0] = '\0';
        return;
    }
    for (size_t i = 0; i < r->n_params; i++) {
        uint32_t u;
        memcpy(&u, &params[i], 4);
        for (int b = 0; b < 4; b++)
            bytes[4 * i + b] = (uint8_t)(u >> (8 * b));
    }
    rs_sha256_hex(bytes, n, hex);
    free(bytes);
}

static void write_masks(h5w *w, hid_t file, const rs_spec_t *spec,
                        const rs_job_t *job, const rs_job_result_t *r)
{
    hid_t g = h5w_group(w, file, "masks");
    if (g < 0)
        return;
    attr_str(w, g, "bit_order", "little");
    attr_str(w, g, "layout", "records x batch rows x ceil(units/8) bytes; "
                             "bit u%8 of byte u/8 is unit u, 1 = kept");
    const rs_mask_record_t *first = NULL;
    for (int l = 0; l < r->n_hidden; l++)
        if (r->masks[l].n_records && !first)
            first = &r->masks[l];
    hsize_t n_rec = first ? first->n_records : 0;
    /* the record index is shared by every layer */
    if (first) {
        h5w_dataset(w, g, "epoch", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n_rec,
                    first->epoch);
        h5w_dataset(w, g, "step", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n_rec,
                    first->step);
        h5w_dataset(w, g, "n_rows", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1,
                    &n_rec, first->n_rows);
    }
    for (int l = 0; l < r->n_hidden; l++) {
        const rs_mask_record_t *m = &r->masks[l];
        if (!m->n_records)
            continue;
        char name[32];
        snprintf(name, sizeof name, "layer%d", l);
        hsize_t dims[3] = {m->n_records, m->rows, m->row_bytes};
        h5w_dataset(w, g, name, H5T_NATIVE_UINT8, H5T_STD_U8LE, 3, dims,
                    m->bits);
        if (w->st)
            break;
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        attr_i32(w, d, "layer", l);
        attr_u64(w, d, "n_units", m->n_units);
        attr_f64(w, d, "keep_prob", job->keep[l]);
        attr_u64(w, d, "threshold", rs_keep_threshold(job->hp.keep_prob[l]));
        H5Dclose(d);
    }
    (void)spec;
    H5Gclose(g);
}

static int content_sha256(hid_t loc, char hex[65]);
static int verify_content(hid_t loc, const char *path, rs_error_t *err);

static rs_status store_write_job_unguarded(const char *jobs_dir, const rs_spec_t *spec,
                             const rs_job_t *job, const rs_job_result_t *r,
                             rs_error_t *err)
{
    char final[RS_PATH_BUF], tmp[RS_PATH_JOIN];
    snprintf(final, sizeof final, "%s/%s.h5", jobs_dir, job->id);
    tmp_name(final, tmp, sizeof tmp);
    hid_t f = create_mem_file(tmp, err);
    if (f < 0)
        return RS_ENOMEM;
    h5w w;
    h5w_open(&w, tmp, err);
    w.in_memory = 1;
    const rs_arch_t *a = &spec->settings.arch;
    int h = a->n_layers - 1;

    attr_str(&w, f, "format", RS_JOB_FORMAT_NAME);
    attr_i32(&w, f, "format_version", RS_FORMAT_VERSION);
    attr_str(&w, f, "regsweep_version", RS_VERSION);
    attr_str(&w, f, "spec_sha256", spec->sha256);
    attr_str(&w, f, "job_id", job->id);
    attr_u64(&w, f, "job_index", job->index);
    attr_u64(&w, f, "seed", job->hp.seed);
    if (h > 0)
        attr_f64v(&w, f, "keep_prob", job->keep, h);
    attr_f64(&w, f, "l2", job->l2);
    attr_f64(&w, f, "l1", job->l1);
    attr_str(&w, f, "status", r->diverged ? "diverged" : "done");
    attr_u64(&w, f, "steps", r->steps_done);
    if (r->diverged) {
        attr_u64(&w, f, "diverged_epoch", r->diverged_epoch);
        attr_str(&w, f, "diverged_quantity",
                 r->diverged_quantity ? r->diverged_quantity : "");
    }

    hid_t g = h5w_group(&w, f, "curves");
    if (g >= 0) {
        double *v[7];
        curve_arrays(&r->curves, v);
        hsize_t n = r->curves.n;
        for (int i = 0; i < 7; i++)
            ds_f64(&w, g, curve_names[i], v[i], n);
        uint32_t *epoch = malloc(n * sizeof *epoch);
        if (epoch) {
            for (uint32_t e = 0; e < n; e++)
                epoch[e] = e;
            h5w_dataset(&w, g, "epoch", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n,
                        epoch);
            free(epoch);
        }
        H5Gclose(g);
    }
    hid_t gw = h5w_group(&w, f, "weights");
    if (gw >= 0) {
        hid_t gi = h5w_group(&w, gw, "init");
        if (gi >= 0) {
            write_weights(&w, gi, a, r->params_init);
            H5Gclose(gi);
        }
        hid_t gf = h5w_group(&w, gw, "final");
        if (gf >= 0) {
            write_weights(&w, gf, a, r->params_final);
            char hex[65];
            weights_sha256(r, r->params_final, hex);
            attr_str(&w, gf, "sha256", hex);
            H5Gclose(gf);
        }
        H5Gclose(gw);
    }
    write_masks(&w, f, spec, job, r);
    /* the checksum of what was just written, read back from the file */
    char content[65];
    if (w.st == RS_OK && content_sha256(f, content) == 0)
        attr_str(&w, f, "content_sha256", content);
    else if (w.st == RS_OK)
        h5w_fail(&w, "checksum", "the job");
    h5w_close(&w);
    if (w.st) {
        H5Fclose(f);
        return w.st;
    }
    return save_mem_file(f, tmp, final, err);
}

/* the writer above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_write_job(const char *jobs_dir, const rs_spec_t *spec,
                             const rs_job_t *job, const rs_job_result_t *r,
                             rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_write_job_unguarded(jobs_dir, spec, job, r, err), err);
}

/* ---- reading helpers ---------------------------------------------------------- */

static int read_attr_str(hid_t loc, const char *name, char *out, size_t n)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = str_type();
    char *s = NULL;
    int rc = -1;
    hid_t ft = H5Aget_type(a);
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 &&
        H5Aread(a, t, &s) >= 0 && s) {
        snprintf(out, n, "%s", s);
        rc = 0;
    }
    if (s) {
        hid_t sp = H5Screate(H5S_SCALAR);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, &s);
        H5Sclose(sp);
    }
    H5Tclose(ft);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int read_attr_i64(hid_t loc, const char *name, int64_t *out)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = H5Aread(a, H5T_NATIVE_INT64, out) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

/* Reads a 1-D or n-D dataset of exactly n elements of mem_type. */
static int read_ds(hid_t loc, const char *name, hid_t mem_type, void *out,
                   hsize_t n)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    int rc = -1;
    if (count == (hssize_t)n &&
        (n == 0 || H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0))
        rc = 0;
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

/* Where a job's data live: the root of its job file, or the group
 * /runs/<id> of OUT.h5. */
typedef struct job_loc {
    hid_t file, loc;
    char path[RS_PATH_BUF];      /* for messages: "file" or "file:/runs/<id>" */
} job_loc;

static void close_job(job_loc *jl)
{
    if (jl->loc >= 0 && jl->loc != jl->file)
        H5Gclose(jl->loc);
    if (jl->file >= 0)
        H5Fclose(jl->file);
    jl->file = jl->loc = -1;
}

/* Checks that loc holds job `job` of this spec in our format. */
/* ---- content checksums --------------------------------------------------
 *
 * A job's content SHA-256 covers every object below the job's root (the
 * job file's root, or its copy /runs/<id>) and every attribute but the
 * root's own content_sha256: objects visited by name (H5Ovisit, names in
 * increasing order), each contributing its path, then its attributes by
 * name (name, and the value: numbers as little-endian bytes of their stored
 * width, strings as their bytes), then, for a dataset, its elements in the
 * same encoding.  It is computed from the file as written, so the writer
 * and every reader hash the same bytes; docs/FORMAT.md states it. */

typedef struct content_hash {
    rs_sha256_t sha;
    int failed;
    int root;            /* visiting the root object: skip its checksum */
} content_hash_t;

static void hash_tagged(content_hash_t *h, char tag, const void *p, size_t n)
{
    uint64_t len = n;
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(len >> (8 * i));
    rs_sha256_update(&h->sha, &tag, 1);
    rs_sha256_update(&h->sha, le, 8);
    rs_sha256_update(&h->sha, p, n);
}

/* The values of an attribute or dataset (read with read_fn) into the hash:
 * strings as bytes, numbers little-endian at their stored width. */
static int hash_values(content_hash_t *h, hid_t obj, hid_t ftype, hssize_t n,
                       int is_attr)
{
    if (n < 0)
        return -1;
    H5T_class_t cls = H5Tget_class(ftype);
    if (cls == H5T_STRING && H5Tis_variable_str(ftype) > 0) {
        hid_t t = str_type();
        char **v = calloc((size_t)n + 1, sizeof *v);
        int rc = v ? 0 : -1;
        if (!rc)
            rc = (is_attr ? H5Aread(obj, t, v)
                          : H5Dread(obj, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v)) < 0;
        for (hssize_t i = 0; !rc && i < n; i++) {
            if (!v[i])
                rc = -1;   /* a NULL string: damaged */
            else
                hash_tagged(h, 's', v[i], strlen(v[i]));
        }
        for (hssize_t i = 0; v && i < n; i++)
            free(v[i]);
        free(v);
        H5Tclose(t);
        return rc;
    }
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return -1;   /* regsweep writes no other kind */
    hid_t mt = H5Tcopy(ftype);
    H5Tset_order(mt, H5T_ORDER_LE);
    size_t size = H5Tget_size(mt);
    if (size == 0 || size > 16 || (size_t)n > ((size_t)1 << 40) / size) {
        H5Tclose(mt);
        return -1;
    }
    void *buf = malloc((size_t)n * size + 1);
    int rc = buf ? 0 : -1;
    if (!rc)
        rc = (is_attr ? H5Aread(obj, mt, buf)
                      : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) < 0;
    if (!rc)
        hash_tagged(h, cls == H5T_FLOAT ? 'f' : 'i', buf, (size_t)n * size);
    free(buf);
    H5Tclose(mt);
    return rc;
}

static herr_t hash_attr(hid_t loc, const char *name, const H5A_info_t *info,
                        void *op)
{
    (void)info;
    content_hash_t *h = op;
    if (h->root && !strcmp(name, "content_sha256"))
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hash_tagged(h, 'a', name, strlen(name));
    int rc = t < 0 || sp < 0 ? -1 : hash_values(h, a, t, H5Sget_simple_extent_npoints(sp), 1);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return rc ? -1 : 0;
}

static herr_t hash_object(hid_t base, const char *name, const H5O_info_t *info,
                          void *op)
{
    content_hash_t *h = op;
    h->root = !strcmp(name, ".");
    hash_tagged(h, 'o', name, strlen(name));
    hid_t obj = H5Oopen(base, name, H5P_DEFAULT);
    if (obj < 0)
        return -1;
    int rc = H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, hash_attr, h) < 0;
    if (!rc && info->type == H5O_TYPE_DATASET) {
        hid_t t = H5Dget_type(obj), sp = H5Dget_space(obj);
        rc = t < 0 || sp < 0 ? -1 : hash_values(h, obj, t, H5Sget_simple_extent_npoints(sp), 0);
        if (sp >= 0)
            H5Sclose(sp);
        if (t >= 0)
            H5Tclose(t);
    }
    H5Oclose(obj);
    return rc ? -1 : 0;
}

/* The content SHA-256 (hex) of the job at loc; -1 if something in it
 * cannot be read (damaged). */
static int content_sha256(hid_t loc, char hex[65])
{
    content_hash_t h;
    memset(&h, 0, sizeof h);
    rs_sha256_init(&h.sha);
    if (H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, hash_object, &h,
                  H5O_INFO_BASIC) < 0)
        return -1;
    uint8_t d[32];
    rs_sha256_final(&h.sha, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* Compares the stored content checksum with the content: 0, or -2 when
 * the content cannot be trusted (unreadable, not what was written, or no
 * checksum at all: a resume recomputes such a job).  err (code RS_EINPUT:
 * a damaged file is bad input) names the file. */
static int verify_content(hid_t loc, const char *path, rs_error_t *err)
{
    char stored[80], now[65];
    if (read_attr_str(loc, "content_sha256", stored, sizeof stored))
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "has no content checksum (written by a regsweep "
                            "before checksums, or damaged): run --resume on "
                            "the sweep recomputes such jobs"), -2;
    if (content_sha256(loc, now))
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "damaged: part of its content cannot be read"), -2;
    if (strcmp(stored, now) != 0)
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "damaged: its content no longer matches its "
                            "checksum (stored %.12s..., computed %.12s...)",
                            stored, now), -2;
    return 0;
}

static int check_job_attrs(job_loc *jl, const rs_spec_t *spec,
                           const rs_job_t *job, rs_error_t *err)
{
    char fmt[64], hash[80], id[32];
    int64_t version = 0;
    if (read_attr_str(jl->loc, "format", fmt, sizeof fmt) ||
        strcmp(fmt, RS_JOB_FORMAT_NAME) != 0)
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "not a regsweep job"), -1;
    if (read_attr_i64(jl->loc, "format_version", &version) ||
        version != RS_FORMAT_VERSION)
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "job format version %lld; this regsweep reads "
                            "version %d", (long long)version,
                            RS_FORMAT_VERSION), -1;
    if (read_attr_str(jl->loc, "spec_sha256", hash, sizeof hash) ||
        strcmp(hash, spec->sha256) != 0)
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "job was made by another spec (sha256 %.12s..., "
                            "this spec %.12s...)", hash, spec->sha256), -1;
    if (read_attr_str(jl->loc, "job_id", id, sizeof id) || strcmp(id, job->id))
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "holds job '%s', expected '%s'", id, job->id), -1;
    return 0;
}

/* Opens job `job` from its job file in the directory `where`, or (from_top)
 * from /runs/<id> of the results file `where`.  Returns 0 on success, 1 if
 * the job is not there (*jl closed), -1 on error (err filled). */
static int open_job_how(const char *where, int from_top, const rs_spec_t *spec,
                        const rs_job_t *job, job_loc *jl, int verify,
                        rs_error_t *err)
{
    jl->file = jl->loc = -1;
    if (from_top) {
        snprintf(jl->path, sizeof jl->path, "%s:/runs/%s", where, job->id);
        jl->file = H5Fopen(where, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (jl->file < 0)
            return rs_error_set(err, RS_EINPUT, where, 0, 0,
                                "HDF5 cannot open it"), -1;
        char link[64];
        snprintf(link, sizeof link, "runs/%s", job->id);
        htri_t has_runs = H5Lexists(jl->file, "runs", H5P_DEFAULT);
        htri_t has_job = has_runs > 0 ? H5Lexists(jl->file, link, H5P_DEFAULT)
                                      : has_runs;
        if (has_runs < 0 || has_job < 0) {
            /* damaged, which is not the same as "not run" */
            close_job(jl);
            return rs_error_set(err, RS_EINPUT, where, 0, 0,
                                "damaged: /runs cannot be read"), -1;
        }
        if (!has_job) {
            close_job(jl);
            return 1;
        }
        jl->loc = H5Gopen2(jl->file, link, H5P_DEFAULT);
        if (jl->loc < 0) {
            close_job(jl);
            return rs_error_set(err, RS_EINPUT, where, 0, 0,
                                "cannot open /runs/%s", job->id), -1;
        }
    } else {
        snprintf(jl->path, sizeof jl->path, "%s/%s.h5", where, job->id);
        struct stat sb;
        if (stat(jl->path, &sb) != 0)
            return 1;
        jl->file = jl->loc = H5Fopen(jl->path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (jl->file < 0)
            return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                                "not a readable HDF5 file (damaged job "
                                "file?)"), -1;
    }
    if (check_job_attrs(jl, spec, job, err)) {
        close_job(jl);
        return -1;
    }
    /* integrity before trust: nothing of a job is used before its content
     * matches the checksum it was written with */
    int rc = verify ? verify_content(jl->loc, jl->path, err) : 0;
    if (rc)
        close_job(jl);
    return rc;
}

static int open_job(const char *where, int from_top, const rs_spec_t *spec,
                    const rs_job_t *job, job_loc *jl, rs_error_t *err)
{
    return open_job_how(where, from_top, spec, job, jl, 1, err);
}

static int read_curves(hid_t f, rs_curves_t *c)
{
    hid_t g = H5Gopen2(f, "curves", H5P_DEFAULT);
    if (g < 0)
        return -1;
    double *v[7];
    curve_arrays(c, v);
    int rc = 0;
    for (int i = 0; i < 7 && rc == 0; i++)
        rc = read_ds(g, curve_names[i], H5T_NATIVE_DOUBLE, v[i], c->n);
    H5Gclose(g);
    return rc;
}

static rs_status store_read_summary_unguarded(const char *where, int from_top,
                                const rs_spec_t *spec, const rs_job_t *job,
                                rs_job_summary_t *out, rs_error_t *err)
{
    memset(out, 0, sizeof *out);
    job_loc jl;
    int rc = open_job(where, from_top, spec, job, &jl, err);
    if (rc == 1) {
        out->status = RS_JOB_MISSING;
        return RS_OK;
    }
    if (rc < 0)
        return rc == -2 ? RS_EMISMATCH : RS_EINPUT;
    rs_job_result_t r;
    memset(&r, 0, sizeof r);
    uint32_t n = spec->settings.epochs + 1;
    double *buf = malloc(7 * (size_t)n * sizeof *buf);
    if (!buf) {
        close_job(&jl);
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    r.curves.n = n;
    double **slots[7] = {&r.curves.train_loss, &r.curves.test_loss,
                         &r.curves.val_loss, &r.curves.train_acc,
                         &r.curves.test_acc, &r.curves.val_acc,
                         &r.curves.train_loss_dropout};
    for (int i = 0; i < 7; i++)
        *slots[i] = buf + (size_t)i * n;
    rc = read_curves(jl.loc, &r.curves);
    char status[32] = "", quantity[32] = "";
    int64_t epoch = -1;
    if (!rc && (read_attr_str(jl.loc, "status", status, sizeof status) ||
                (strcmp(status, "done") && strcmp(status, "diverged"))))
        rc = 2;
    if (!rc && !strcmp(status, "diverged")) {
        if (read_attr_i64(jl.loc, "diverged_epoch", &epoch) || epoch < 0 ||
            epoch >= (int64_t)n ||
            read_attr_str(jl.loc, "diverged_quantity", quantity, sizeof quantity))
            rc = 3;
        r.diverged = 1;
        r.diverged_epoch = (uint32_t)epoch;
        r.diverged_quantity = quantity;
    }
    close_job(&jl);
    if (rc) {
        free(buf);
        return rs_error_set(err, RS_EINPUT, jl.path, 0, 0,
                            rc == 1 ? "no readable curves of %u epochs"
                                    : rc == 2 ? "no readable status "
                                                "(done or diverged)%.0u"
                                              : "diverged, but no readable "
                                                "epoch and quantity%.0u", n);
    }
    rs_store_summarise(&r, out);
    free(buf);
    return RS_OK;
}

/* the reader above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_read_summary(const char *where, int from_top,
                                const rs_spec_t *spec, const rs_job_t *job,
                                rs_job_summary_t *out, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_read_summary_unguarded(where, from_top, spec, job, out, err), err);
}

static rs_status store_read_curves_unguarded(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               rs_curves_t *c, rs_error_t *err)
{
    job_loc jl;
    int rc = open_job(where, from_top, spec, job, &jl, err);
    if (rc == 1)
        return rs_error_set(err, RS_EINPUT, jl.path, 0, 0, "no such job");
    if (rc < 0)
        return rc == -2 ? RS_EMISMATCH : RS_EINPUT;
    rc = read_curves(jl.loc, c);
    close_job(&jl);
    if (rc)
        return rs_error_set(err, RS_EINPUT, jl.path, 0, 0,
                            "no readable curves of %u epochs", c->n);
    return RS_OK;
}

/* the reader above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_read_curves(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               rs_curves_t *c, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_read_curves_unguarded(where, from_top, spec, job, c, err), err);
}

/* OUT.h5 first; a job it does not hold yet is looked for in OUT.jobs/. */
rs_status rs_store_read_summary_live(const char *out_path, const rs_spec_t *spec,
                                     const rs_job_t *job, rs_job_summary_t *out,
                                     rs_error_t *err)
{
    rs_status st = rs_store_read_summary(out_path, 1, spec, job, out, err);
    char dir[RS_PATH_BUF];
    if (st || out->status != RS_JOB_MISSING ||
        rs_store_jobs_dir(out_path, dir, sizeof dir))
        return st;
    return rs_store_read_summary(dir, 0, spec, job, out, err);
}

static rs_status store_read_curves_live_unguarded(const char *out_path, const rs_spec_t *spec,
                                    const rs_job_t *job, rs_curves_t *c,
                                    rs_error_t *err)
{
    /* one open (and one checksum check) of the copy in OUT.h5; the job
     * file only when OUT.h5 does not hold the job yet */
    job_loc jl;
    int rc = open_job(out_path, 1, spec, job, &jl, err);
    char dir[RS_PATH_BUF];
    if (rc == 1 && rs_store_jobs_dir(out_path, dir, sizeof dir) == 0)
        return rs_store_read_curves(dir, 0, spec, job, c, err);
    if (rc == 1)
        return rs_error_set(err, RS_EINPUT, jl.path, 0, 0, "no such job");
    if (rc < 0)
        return rc == -2 ? RS_EMISMATCH : RS_EINPUT;
    rc = read_curves(jl.loc, c);
    close_job(&jl);
    if (rc)
        return rs_error_set(err, RS_EINPUT, jl.path, 0, 0,
                            "no readable curves of %u epochs", c->n);
    return RS_OK;
}

/* the reader above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_read_curves_live(const char *out_path, const rs_spec_t *spec,
                                    const rs_job_t *job, rs_curves_t *c,
                                    rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_read_curves_live_unguarded(out_path, spec, job, c, err), err);
}

static rs_status store_read_table_status_unguarded(const char *out_path, const rs_spec_t *spec,
                                     uint8_t *status, rs_error_t *err)
{
    memset(status, RS_JOB_MISSING, spec->n_jobs);
    hid_t f = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "HDF5 cannot open it");
    rs_status st = RS_OK;
    htri_t has_jobs = H5Lexists(f, "jobs", H5P_DEFAULT);
    htri_t has_status = has_jobs > 0 ? H5Lexists(f, "jobs/status", H5P_DEFAULT)
                                     : has_jobs;
    if (has_jobs < 0 || has_status < 0) {
        /* a lookup that failed is not "no table" */
        H5Fclose(f);
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "damaged: /jobs cannot be read");
    }
    hid_t d = has_status > 0 ? H5Dopen2(f, "jobs/status", H5P_DEFAULT) : -1;
    if (!has_status) {
        H5Fclose(f);
        return RS_OK;   /* no table yet: nothing failed that we know of */
    }
    if (d < 0) {
        H5Fclose(f);
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "unreadable /jobs/status");
    }
    hid_t t = str_type(), ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char **v = NULL;
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0 ||
        n != (hssize_t)spec->n_jobs) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "damaged /jobs/status (expected %llu strings)",
                          (unsigned long long)spec->n_jobs);
    } else if (!(v = calloc((size_t)n + 1, sizeof *v))) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    } else if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0, "unreadable /jobs/status");
    } else {
        for (hssize_t i = 0; st == RS_OK && i < n; i++) {
            int k = 0;
            while (k < 4 && (!v[i] || strcmp(v[i], rs_job_status_name((rs_job_status)k))))
                k++;
            if (k == 4)
                st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                                  "damaged /jobs/status: row %lld is %s%s%s",
                                  (long long)i, v[i] ? "'" : "not a string",
                                  v[i] ? v[i] : "", v[i] ? "'" : "");
            else
                status[i] = (uint8_t)k;
        }
    }
    for (hssize_t i = 0; v && i < n; i++)
        free(v[i]);   /* HDF5 1.10 allocates vlen strings with malloc */
    free(v);
    H5Sclose(sp);
    H5Tclose(ft);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
    return st;
}

/* the reader above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_read_table_status(const char *out_path, const rs_spec_t *spec,
                                     uint8_t *status, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_read_table_status_unguarded(out_path, spec, status, err), err);
}

/* ---- the top-level file ------------------------------------------------------- */

static void write_spec_group(h5w *w, hid_t f, const rs_spec_t *spec)
{
    hid_t g = h5w_group(w, f, "spec");
    if (g < 0)
        return;
    const char *text = spec->text;
    hid_t t = str_type();
    h5w_dataset(w, g, "yaml", t, t, 0, NULL, &text);
    H5Tclose(t);
    /* no overrides: no dataset (an empty one makes h5diff call two equal
     * files "not comparable" and h5repack fail and drop /spec) */
    if (spec->n_overrides)
        ds_strings(w, g, "overrides", (const char *const *)spec->overrides,
                   (hsize_t)spec->n_overrides);
    attr_str(w, g, "sha256", spec->sha256);
    attr_str(w, g, "sha256_of", "the yaml text, then each override followed "
                                "by a newline");
    H5Gclose(g);
}

static void write_jobs_table(h5w *w, hid_t f, const rs_spec_t *spec,
                             const rs_job_summary_t *rows)
{
    hid_t g = h5w_group(w, f, "jobs");
    if (g < 0)
        return;
    hsize_t n = spec->n_jobs;
    int h = rs_spec_n_hidden(spec);
    /* columns: l2, l1, then keep_prob per hidden layer; reused for metrics */
    size_t n_num = 2 + (size_t)h;
    double *num = malloc(n * n_num * sizeof *num);
    uint64_t *u64 = malloc(2 * n * sizeof *u64);
    char (*ids)[13] = malloc(n * sizeof *ids);
    const char **idp = malloc(n * sizeof *idp), **stp = malloc(n * sizeof *stp);
    if (!num || !u64 || !ids || !idp || !stp) {
        w->st = rs_error_set(w->err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        rs_job_t job;
        rs_spec_job(spec, i, &job);   /* one SHA-256 per job and rewrite */
        memcpy(ids[i], job.id, 13);
        idp[i] = ids[i];
        stp[i] = rs_job_status_name(rows[i].status);
        u64[i] = i;
        u64[n + i] = job.hp.seed;
        num[i] = job.l2;
        num[n + i] = job.l1;
        for (int l = 0; l < h; l++)
            num[(2 + (size_t)l) * n + i] = job.keep[l];
    }
    h5w_dataset(w, g, "index", H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, &n, u64);
    ds_strings(w, g, "id", idp, n);
    h5w_dataset(w, g, "seed", H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, &n, u64 + n);
    for (int l = 0; l < h; l++) {
        char name[32];
        snprintf(name, sizeof name, "keep_prob_%d", l + 1);
        ds_f64(w, g, name, num + (2 + (size_t)l) * n, n);
    }
    ds_f64(w, g, "l2", num, n);
    ds_f64(w, g, "l1", num + n, n);
    ds_strings(w, g, "status", stp, n);
    /* metrics: NaN where the job has no job file */
    static const char *const names[] = {
        "train_loss", "test_loss", "gap", "train_acc", "test_acc", "gap_acc",
        "val_loss", "val_acc", "best_epoch", "best_val_loss", "best_test_loss",
        "best_train_loss", "best_gap", "best_train_acc", "best_test_acc",
        "best_gap_acc", "diverged_epoch"};
    enum { N_COLS = sizeof names / sizeof *names };
    for (int c = 0; c < N_COLS; c++) {
        for (uint64_t i = 0; i < n; i++) {
            const rs_job_summary_t *r = &rows[i];
            double v[N_COLS] = {r->train_loss, r->test_loss, r->gap, r->train_acc,
                            r->test_acc, r->gap_acc, r->val_loss, r->val_acc,
                            r->best_epoch == RS_NO_EPOCH ? NAN : (double)r->best_epoch,
                            r->best_val_loss, r->best_test_loss,
                            r->best_train_loss, r->best_gap,
                            r->best_train_acc, r->best_test_acc,
                            r->best_gap_acc,
                            r->diverged_epoch == RS_NO_EPOCH ? NAN
                                                             : (double)r->diverged_epoch};
            num[i] = rs_job_finished(r->status) ? v[c] : NAN;
        }
        ds_f64(w, g, names[c], num, n);
    }
    for (uint64_t i = 0; i < n; i++)
        stp[i] = rows[i].status == RS_JOB_DIVERGED ? rows[i].diverged_quantity : "";
    ds_strings(w, g, "diverged_quantity", stp, n);
    attr_str(w, g, "description",
             "one row per job in index order; 1-D columns of equal length; "
             "gap = test_loss - train_loss, gap_acc = train_acc - test_acc; "
             "best_* at the epoch of smallest validation loss (NaN without "
             "a validation split); diverged jobs: the epoch and quantity that "
             "went non-finite, later curve entries NaN");
out:
    free(num);
    free(u64);
    free(ids);
    free(idp);
    free(stp);
    H5Gclose(g);
}

/* Copies every finished job's file into /runs/<id>, so OUT.h5 holds all
 * results itself: one file to share, and h5diff compares content (HDF5
 * 1.10's h5diff --follow-symlinks does not: it takes the roots of different
 * linked files, which share an address, for one object seen twice). */
static void copy_runs(h5w *w, hid_t f, const rs_spec_t *spec,
                      const rs_job_summary_t *rows, const char *jobs_dir)
{
    hid_t g = h5w_group(w, f, "runs");
    if (g < 0)
        return;
    for (uint64_t i = 0; i < spec->n_jobs && !w->st; i++) {
        if (!rs_job_finished(rows[i].status))
            continue;
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        char path[RS_PATH_JOIN];
        snprintf(path, sizeof path, "%s/%s.h5", jobs_dir, job.id);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            /* it was there when the job finished: something removed it */
            w->st = rs_error_set(w->err, RS_EIO, path, 0, 0,
                                 "a finished job's file vanished during the "
                                 "run (%s); was OUT.jobs/ cleaned while the "
                                 "sweep ran? run --resume recomputes it",
                                 strerror(errno));
            break;
        }
        hid_t jf = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (jf < 0) {
            w->st = rs_error_set(w->err, RS_EINPUT, path, 0, 0,
                                 "cannot open a finished job's file (damaged?)");
            break;
        }
        /* never copy what does not match its checksum (H5Ocopy of damaged
         * objects can crash libhdf5 1.10.8) */
        if (verify_content(jf, path, w->err)) {
            w->st = RS_EINPUT;
            H5Fclose(jf);
            break;
        }
        if (H5Ocopy(jf, "/", g, job.id, H5P_DEFAULT, H5P_DEFAULT) < 0)
            h5w_fail(w, "copy the job", job.id);
        H5Fclose(jf);
    }
    attr_str(w, g, "description",
             "one group per finished job, named by its id: a copy of the "
             "job file OUT.jobs/<id>.h5");
    H5Gclose(g);
}

/* Per-job lines of provenance.tsv: id -> wall_s, worker, threads, time. */
static void write_history(h5w *w, hid_t g, const char *jobs_dir);

static void write_provenance(h5w *w, hid_t f, const rs_spec_t *spec,
                             const rs_provenance_t *p, const char *jobs_dir)
{
    hid_t g = h5w_group(w, f, "provenance");
    if (g < 0)
        return;
    if (p) {
        attr_str(w, g, "host", p->host);
        attr_str(w, g, "started", p->started);
        attr_str(w, g, "written", p->written);
        attr_str(w, g, "command", p->command);
        attr_str(w, g, "spec_path", p->spec_path);
        attr_str(w, g, "build", p->build);
        attr_str(w, g, "simd", p->simd);
        attr_str(w, g, "simd_compiled", p->simd_compiled);
        attr_str(w, g, "cpu", p->cpu);
        attr_str(w, g, "regsweep_version", p->version);
        attr_str(w, g, "git_revision", p->git_revision);
        attr_str(w, g, "hdf5_version", p->hdf5);
        attr_str(w, g, "libyaml_version", p->libyaml);
        attr_i32(w, g, "threads", p->threads);
        attr_i32(w, g, "threads_per_job", p->threads_per_job);
        attr_f64(w, g, "wall_s", p->wall_s);
    }
    uint64_t n = spec->n_jobs;
    double *wall = malloc(n * sizeof *wall);
    char (*when)[40] = calloc(n, sizeof *when);
    const char **whenp = malloc(n * sizeof *whenp);
    if (!wall || !when || !whenp) {
        free(wall);
        free(when);
        free(whenp);
        H5Gclose(g);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        wall[i] = NAN;
        whenp[i] = when[i];
    }
    char path[RS_PATH_JOIN], line[512];
    snprintf(path, sizeof path, "%s/provenance.tsv", jobs_dir);
    FILE *in = fopen(path, "r");
    while (in && fgets(line, sizeof line, in)) {
        char id[32], t[40];
        unsigned long long idx;
        double ws;
        int worker, threads;
        if (sscanf(line, "%31s %llu %lf %d %d %39s", id, &idx, &ws, &worker,
                   &threads, t) == 6 && idx < n) {
            wall[idx] = ws;
            snprintf(when[idx], sizeof when[idx], "%s", t);
        }
    }
    if (in)
        fclose(in);
    ds_f64(w, g, "job_wall_s", wall, n);
    ds_strings(w, g, "job_finished", whenp, n);
    write_history(w, g, jobs_dir);
    attr_str(w, g, "description",
             "volatile facts (times, host, threads): excluded from result "
             "comparisons; job_* columns are in /jobs row order, NaN/empty "
             "where unknown");
    free(wall);
    free(when);
    free(whenp);
    H5Gclose(g);
}

static rs_status write_top(const char *out_path, const rs_spec_t *spec,
                           const rs_job_summary_t *rows,
                           const rs_provenance_t *prov, rs_error_t *err)
{
    char tmp[RS_PATH_JOIN], jobs_dir[RS_PATH_BUF], target[RS_PATH_BUF];
    rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir);
    if (write_target(out_path, target, sizeof target, err))
        return RS_EINPUT;
    out_path = target;
    tmp_name(out_path, tmp, sizeof tmp);
    /* built in memory when that costs little (see create_mem_file), else
     * written by HDF5 after checking there is room for it */
    uint64_t estimate = top_size_estimate(spec, rows, jobs_dir);
    int in_memory = estimate <= RS_TOP_IN_MEMORY_MAX;
    if (!in_memory) {
        rs_status room = check_room(tmp, estimate, err);
        if (room)
            return room;
    }
    hid_t f = in_memory ? create_mem_file(tmp, err) : create_file(tmp, err);
    if (f < 0)
        return in_memory ? RS_ENOMEM : RS_EIO;
    h5w w;
    h5w_open(&w, tmp, err);
    w.in_memory = in_memory;
    uint64_t done = 0, failed = 0, diverged = 0;
    for (uint64_t i = 0; i < spec->n_jobs; i++) {
        done += rows[i].status == RS_JOB_DONE;
        failed += rows[i].status == RS_JOB_FAILED;
        diverged += rows[i].status == RS_JOB_DIVERGED;
    }
    attr_str(&w, f, "format", RS_FORMAT_NAME);
    attr_i32(&w, f, "format_version", RS_FORMAT_VERSION);
    attr_str(&w, f, "regsweep_version", RS_VERSION);
    attr_str(&w, f, "name", spec->name);
    attr_u64(&w, f, "n_jobs", spec->n_jobs);
    attr_u64(&w, f, "n_done", done);
    attr_u64(&w, f, "n_failed", failed);
    attr_u64(&w, f, "n_diverged", diverged);
    write_spec_group(&w, f, spec);
    write_jobs_table(&w, f, spec, rows);
    copy_runs(&w, f, spec, rows, jobs_dir);
    write_provenance(&w, f, spec, prov, jobs_dir);
    h5w_close(&w);
    if (in_memory) {
        if (w.st) {
            H5Fclose(f);
            return w.st;
        }
        return save_mem_file(f, tmp, out_path, err);
    }
    if (H5Fclose(f) < 0 && w.st == RS_OK)
        w.st = rs_error_set(err, RS_EIO, tmp, 0, 0,
                            "HDF5 could not close the file (disk full?)");
    if (w.st) {
        unlink(tmp);
        return w.st;
    }
    return commit_file(tmp, out_path, err);
}

static rs_status store_write_top_unguarded(const char *out_path, const rs_spec_t *spec,
                             const rs_job_summary_t *rows,
                             const rs_provenance_t *prov, rs_error_t *err)
{
    rs_status st = write_top(out_path, spec, rows, prov, err);
    /* A rewrite copies every finished job: HDF5 keeps the blocks it frees
     * on its own free lists (5 MB after a 9,000-job rewrite), which would
     * hold a sweep's heap at the size of its largest rewrite.  Hand them
     * back to malloc, so that memory between rewrites stays flat. */
    H5garbage_collect();
    return st;
}

/* the writer above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_write_top(const char *out_path, const rs_spec_t *spec,
                             const rs_job_summary_t *rows,
                             const rs_provenance_t *prov, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_write_top_unguarded(out_path, spec, rows, prov, err), err);
}

static rs_status store_read_spec_unguarded(const char *out_path, rs_spec_t *spec,
                             rs_error_t *err)
{
    if (rs_path_check(out_path, err))
        return RS_EINPUT;
    struct stat sb;
    if (stat(out_path, &sb) != 0)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "cannot open: %s",
                            strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "is a directory, not a results file");
    if (!S_ISREG(sb.st_mode))   /* a FIFO would block HDF5's open */
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "is not a regular file (a FIFO, device or "
                            "socket), not a results file");
    if (H5Fis_hdf5(out_path) <= 0)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "not an HDF5 file, so not a regsweep results file");
    hid_t f = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "HDF5 cannot open it (damaged?)");
    char fmt[64];
    int64_t version = 0;
    rs_status st = RS_OK;
    char *text = NULL, **over = NULL;
    hsize_t n_over = 0;
    hid_t g = -1, d = -1, t = str_type();
    if (read_attr_str(f, "format", fmt, sizeof fmt) ||
        strcmp(fmt, RS_FORMAT_NAME) != 0) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "not a regsweep results file (no format='%s' "
                          "attribute)", RS_FORMAT_NAME);
        goto out;
    }
    if (read_attr_i64(f, "format_version", &version) ||
        version != RS_FORMAT_VERSION) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "results format version %lld; this regsweep reads "
                          "version %d", (long long)version, RS_FORMAT_VERSION);
        goto out;
    }
    g = H5Gopen2(f, "spec", H5P_DEFAULT);
    if (g < 0 || (d = H5Dopen2(g, "yaml", H5P_DEFAULT)) < 0 ||
        H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0 || !text) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "no readable /spec/yaml");
        goto out;
    }
    H5Dclose(d);
    d = H5Dopen2(g, "overrides", H5P_DEFAULT);
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        n_over = (hsize_t)H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        over = calloc(n_over + 1, sizeof *over);
        if (!over || (n_over && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                        over) < 0)) {
            st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                              "unreadable /spec/overrides");
            goto out;
        }
    }
    for (hsize_t i = 0; i < n_over; i++)
        if (!over[i]) {
            st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                              "damaged /spec/overrides (entry %llu is not a "
                              "string)", (unsigned long long)i);
            goto out;
        }
    char label[RS_PATH_BUF];
    snprintf(label, sizeof label, "%s:/spec/yaml", out_path);
    st = rs_spec_parse(text, strlen(text), label, (int)n_over, over, spec, err);
out:
    free(text);   /* HDF5 1.10 allocates vlen strings with malloc */
    for (hsize_t i = 0; over && i < n_over; i++)
        free(over[i]);
    free(over);
    if (d >= 0)
        H5Dclose(d);
    if (g >= 0)
        H5Gclose(g);
    H5Tclose(t);
    H5Fclose(f);
    return st;
}

/* the reader above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_read_spec(const char *out_path, rs_spec_t *spec,
                             rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_read_spec_unguarded(out_path, spec, err), err);
}

/* ---- comparison ------------------------------------------------------------- */

static rs_status compare_floats(const char *path, const char *what,
                                const float *stored, const float *fresh,
                                size_t n, rs_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t a, b;
        memcpy(&a, &stored[i], 4);
        memcpy(&b, &fresh[i], 4);
        if (a != b)
            return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                "%s differs first at element %zu: stored "
                                "%.9g (0x%08x), recomputed %.9g (0x%08x)",
                                what, i, stored[i], a, fresh[i], b);
    }
    return RS_OK;
}

static rs_status compare_weights(hid_t f, const char *path, const char *which,
                                 const rs_arch_t *a, const float *fresh,
                                 float *buf, rs_error_t *err)
{
    for (int l = 0; l < a->n_layers; l++) {
        for (int is_b = 0; is_b < 2; is_b++) {
            char name[64];
            snprintf(name, sizeof name, "weights/%s/%c%d", which,
                     is_b ? 'b' : 'W', l);
            size_t n = is_b ? a->sizes[l + 1]
                            : (size_t)a->sizes[l] * a->sizes[l + 1];
            size_t off = is_b ? rs_arch_bias_offset(a, l)
                              : rs_arch_weight_offset(a, l);
            if (read_ds(f, name, H5T_NATIVE_FLOAT, buf, n))
                return rs_error_set(err, RS_EINPUT, path, 0, 0,
                                    "cannot read %s", name);
            rs_status st = compare_floats(path, name, buf, fresh + off, n, err);
            if (st)
                return st;
        }
    }
    return RS_OK;
}

static rs_status compare_curves(hid_t f, const char *path,
                                const rs_curves_t *c, double *buf,
                                rs_error_t *err)
{
    double *v[7];
    curve_arrays(c, v);
    for (int i = 0; i < 7; i++) {
        char name[64];
        snprintf(name, sizeof name, "curves/%s", curve_names[i]);
        if (read_ds(f, name, H5T_NATIVE_DOUBLE, buf, c->n))
            return rs_error_set(err, RS_EINPUT, path, 0, 0,
                                "cannot read %s", name);
        for (uint32_t e = 0; e < c->n; e++)
            if (memcmp(&buf[e], &v[i][e], sizeof(double)) != 0)
                return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                    "%s differs first at epoch %u: stored "
                                    "%.17g, recomputed %.17g", name, e,
                                    buf[e], v[i][e]);
    }
    return RS_OK;
}

static rs_status compare_masks(hid_t f, const char *path,
                               const rs_job_result_t *r, rs_error_t *err)
{
    for (int l = 0; l < r->n_hidden; l++) {
        const rs_mask_record_t *m = &r->masks[l];
        char name[64];
        snprintf(name, sizeof name, "masks/layer%d", l);
        htri_t exists = H5Lexists(f, "masks", H5P_DEFAULT) > 0 &&
                        H5Lexists(f, name, H5P_DEFAULT) > 0;
        if (!m->n_records) {
            if (exists)
                return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                    "%s is stored but the rerun records no "
                                    "mask for layer %d", name, l);
            continue;
        }
        if (!exists)
            return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                "%s is missing from the stored job", name);
        size_t n = (size_t)m->n_records * m->rows * m->row_bytes;
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        if (read_ds(f, name, H5T_NATIVE_UINT8, buf, n)) {
            free(buf);
            return rs_error_set(err, RS_EINPUT, path, 0, 0,
                                "cannot read %s with %u records of %u x %u "
                                "bytes", name, m->n_records, m->rows,
                                m->row_bytes);
        }
        for (size_t i = 0; i < n; i++)
            if (buf[i] != m->bits[i]) {
                size_t per = (size_t)m->rows * m->row_bytes;
                size_t rec = i / per, row = (i % per) / m->row_bytes;
                free(buf);
                return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                    "%s differs first at record %zu (epoch "
                                    "%u, step %u), row %zu, byte %zu", name,
                                    rec, m->epoch[rec], m->step[rec], row,
                                    i % m->row_bytes);
            }
        free(buf);
    }
    return RS_OK;
}

static rs_status store_compare_job_unguarded(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               const rs_job_result_t *r, rs_error_t *err)
{
    /* no checksum check: comparing every stored bit with a recomputation
     * is the stronger test, and it says where they differ */
    job_loc jl;
    int rc = open_job_how(where, from_top, spec, job, &jl, 0, err);
    if (rc == 1)
        return rs_error_set(err, RS_EINPUT, jl.path, 0, 0,
                            "job %s has no stored result (not run yet?)",
                            job->id);
    if (rc < 0)
        return RS_EINPUT;
    size_t nbuf = r->n_params > (size_t)r->curves.n * 2 ? r->n_params
                                                        : (size_t)r->curves.n * 2;
    void *buf = malloc(nbuf * sizeof(float) + 16);
    rs_status st = buf ? RS_OK
                       : rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                                      "out of memory");
    const rs_arch_t *a = &spec->settings.arch;
    if (!st)
        st = compare_weights(jl.loc, jl.path, "init", a, r->params_init, buf, err);
    if (!st)
        st = compare_curves(jl.loc, jl.path, &r->curves, buf, err);
    if (!st)
        st = compare_masks(jl.loc, jl.path, r, err);
    if (!st)
        st = compare_weights(jl.loc, jl.path, "final", a, r->params_final, buf,
                             err);
    free(buf);
    close_job(&jl);
    return st;
}

/* the reader above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_compare_job(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               const rs_job_result_t *r, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_compare_job_unguarded(where, from_top, spec, job, r, err), err);
}

/* The fields of one runs.tsv line, in order (also the names of the
 * /provenance/history columns). */
static const char *const history_cols[] = {
    "started", "host", "regsweep_version", "git_revision", "hdf5_version",
    "libyaml_version", "build", "cpu", "simd", "threads", "command"};
#define N_HISTORY_COLS (sizeof history_cols / sizeof *history_cols)

/* Appends "\t" + v with tabs and newlines made spaces. */
static void tsv_field(char *line, size_t n, const char *v, int first)
{
    size_t len = strlen(line);
    if (!first && len + 1 < n)
        line[len++] = '\t';
    for (; *v && len + 1 < n; v++)
        line[len++] = (*v == '\t' || *v == '\n' || *v == '\r') ? ' ' : *v;
    line[len] = '\0';
}

rs_status rs_store_log_run(const char *jobs_dir, const rs_provenance_t *p,
                           rs_error_t *err)
{
    char path[RS_PATH_JOIN], threads[32], line[4096] = "";
    snprintf(path, sizeof path, "%s/runs.tsv", jobs_dir);
    snprintf(threads, sizeof threads, "%d", p->threads);
    const char *v[N_HISTORY_COLS] = {p->started, p->host, p->version,
        p->git_revision, p->hdf5, p->libyaml, p->build, p->cpu, p->simd,
        threads, p->command};
    for (size_t c = 0; c < N_HISTORY_COLS; c++)
        tsv_field(line, sizeof line - 1, v[c], c == 0);
    strcat(line, "\n");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot open: %s",
                            strerror(errno));
    size_t n = strlen(line);
    ssize_t wr = write(fd, line, n);
    int e = errno;
    int synced = wr == (ssize_t)n && fsync(fd) == 0;
    close(fd);
    if (!synced)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot append: %s",
                            wr < 0 ? strerror(e) : "short write or fsync failed");
    return RS_OK;
}

/* /provenance/history: one row per `run` invocation, from runs.tsv. */
static void write_history(h5w *w, hid_t g, const char *jobs_dir)
{
    char path[RS_PATH_JOIN];
    snprintf(path, sizeof path, "%s/runs.tsv", jobs_dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    size_t n = 0, cap = 0;
    char **lines = NULL, buf[4096];
    while (fgets(buf, sizeof buf, in)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (n == cap) {
            char **t = realloc(lines, (cap = cap ? 2 * cap : 16) * sizeof *t);
            if (!t)
                break;
            lines = t;
        }
        if (!(lines[n] = strdup(buf)))
            break;
        n++;
    }
    fclose(in);
    const char **col = malloc((n ? n : 1) * N_HISTORY_COLS * sizeof *col);
    hid_t h = col && n ? h5w_group(w, g, "history") : -1;
    if (h >= 0) {
        for (size_t r = 0; r < n; r++) {
            char *f = lines[r];
            for (size_t c = 0; c < N_HISTORY_COLS; c++) {
                col[c * n + r] = f ? f : "";
                char *tab = f ? strchr(f, '\t') : NULL;
                if (tab)
                    *tab = '\0';
                f = tab ? tab + 1 : NULL;
            }
        }
        for (size_t c = 0; c < N_HISTORY_COLS; c++)
            ds_strings(w, h, history_cols[c], col + c * n, n);
        attr_str(w, h, "description",
                 "one row per `regsweep run` invocation on this sweep, oldest "
                 "first (the first run, then each --resume)");
        H5Gclose(h);
    }
    free(col);
    for (size_t r = 0; r < n; r++)
        free(lines[r]);
    free(lines);
}

rs_status rs_store_log_job(const char *jobs_dir, const rs_job_t *job,
                           double wall_s, int worker, int threads,
                           rs_error_t *err)
{
    char path[RS_PATH_BUF], when[40], line[256];
    snprintf(path, sizeof path, "%s/provenance.tsv", jobs_dir);
    rs_store_now_iso(when, sizeof when);
    int n = snprintf(line, sizeof line, "%s\t%llu\t%.6f\t%d\t%d\t%s\n", job->id,
                     (unsigned long long)job->index, wall_s, worker, threads,
                     when);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot open: %s",
                            strerror(errno));
    ssize_t wr = write(fd, line, (size_t)n);
    int e = errno;
    close(fd);
    if (wr != n)
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot append: %s",
                            wr < 0 ? strerror(e) : "short write");
    return RS_OK;
}

/* ---- /analysis ------------------------------------------------------------- */


struct rs_analysis {
    hid_t file, group;
    h5w w;
    char path[RS_PATH_BUF], tmp[RS_PATH_JOIN];
};

static rs_status store_analysis_begin_unguarded(const char *out_path, rs_analysis_t **out,
                                  rs_error_t *err)
{
    *out = NULL;
    rs_analysis_t *a = calloc(1, sizeof *a);
    if (!a)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    if (write_target(out_path, a->path, sizeof a->path, err)) {
        free(a);
        return RS_EINPUT;
    }
    tmp_name(a->path, a->tmp, sizeof a->tmp);
    rs_status st;
    /* edited in memory, written back whole (see create_mem_file) */
    a->file = open_mem_copy(out_path, err);
    if (a->file < 0) {
        free(a);
        return RS_EINPUT;
    }
    h5w_open(&a->w, a->tmp, err);
    a->w.in_memory = 1;
    if (H5Lexists(a->file, "analysis", H5P_DEFAULT) > 0)
        H5Ldelete(a->file, "analysis", H5P_DEFAULT);
    a->group = h5w_group(&a->w, a->file, "analysis");
    if (a->group >= 0)
        attr_str(&a->w, a->group, "description",
                 "written by regsweep report; dropped whenever the sweep "
                 "rewrites this file");
    if (a->w.st) {
        st = a->w.st;
        rs_store_analysis_abort(&a);
        return st;
    }
    *out = a;
    return RS_OK;
}

/* the step above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_analysis_begin(const char *out_path, rs_analysis_t **out,
                                  rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_analysis_begin_unguarded(out_path, out, err), err);
}

static rs_status store_analysis_table_unguarded(rs_analysis_t *a, const char *table,
                                  const rs_table_col_t *cols, int n_cols,
                                  uint64_t n_rows, const char *description,
                                  rs_error_t *err)
{
    a->w.err = err;
    hid_t g = h5w_group(&a->w, a->group, table);
    if (g >= 0) {
        for (int c = 0; c < n_cols; c++) {
            if (cols[c].is_text)
                ds_strings(&a->w, g, cols[c].name, cols[c].text, n_rows);
            else
                ds_f64(&a->w, g, cols[c].name, cols[c].num, n_rows);
        }
        attr_str(&a->w, g, "description", description);
        H5Gclose(g);
    }
    return a->w.st;
}

/* the step above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_analysis_table(rs_analysis_t *a, const char *table,
                                  const rs_table_col_t *cols, int n_cols,
                                  uint64_t n_rows, const char *description,
                                  rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_analysis_table_unguarded(a, table, cols, n_cols, n_rows, description, err), err);
}

void rs_store_analysis_abort(rs_analysis_t **pa)
{
    rs_analysis_t *a = *pa;
    if (!a)
        return;
    if (a->group >= 0)
        H5Gclose(a->group);
    h5w_close(&a->w);
    H5Fclose(a->file);
    free(a);
    *pa = NULL;
}

static rs_status store_analysis_commit_unguarded(rs_analysis_t **pa, rs_error_t *err)
{
    rs_analysis_t *a = *pa;
    rs_status st = a->w.st;
    H5Gclose(a->group);
    h5w_close(&a->w);
    if (st == RS_OK)
        st = save_mem_file(a->file, a->tmp, a->path, err);
    else
        H5Fclose(a->file);
    free(a);
    *pa = NULL;
    return st;
}

/* the step above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_analysis_commit(rs_analysis_t **pa, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(store_analysis_commit_unguarded(pa, err), err);
}
