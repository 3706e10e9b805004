/* SPDX-License-Identifier: MIT */
/* store.c — writing and reading the HDF5 results format (version 2).
 *
 * Objects are created with timestamps off (H5Pset_obj_track_times(..., 0)),
 * so the same content gives the same bytes.  Files use the HDF5 1.8 file
 * format structures (superblock v2, object header v2: every piece of
 * metadata carries a checksum that HDF5 verifies on read) and no newer ones
 * than HDF5 1.10 knows, so h5py 3.7, R hdf5r and the 1.10 tools open them.
 * In OUT.h5, datasets of 1 KiB or more are chunked, shuffled, deflated and
 * Fletcher-32 checksummed.
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

#include <dirent.h>
#include <hdf5_hl.h>

#include "regsweep/sha256.h"
#include "regsweep/version.h"

/* The root group, like every object, without timestamps (the 1.8 format
 * stores them in the root's object header otherwise). */
static hid_t file_create(void)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_obj_track_times(fcpl, 0);
    return fcpl;
}

/* The file access properties of every file regsweep creates: the 1.8
 * format (metadata checksums) up to the 1.10 one; core: in memory. */
static hid_t file_access(int core)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (core)
        H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110);
    return fapl;
}

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

/* The length of out_path without its extension .h5, .hdf5 or .he5. */
static size_t stem_len(const char *out_path)
{
    size_t len = strlen(out_path);
    static const char *const exts[] = {".h5", ".hdf5", ".he5"};
    for (int i = 0; i < 3; i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcmp(out_path + len - el, exts[i]) == 0)
            return len - el;
    }
    return len;
}

int rs_store_jobs_dir(const char *out_path, char *dir, size_t n_bytes)
{
    int n = snprintf(dir, n_bytes, "%.*s.jobs", (int)stem_len(out_path),
                     out_path);
    return n < 0 || (size_t)n >= n_bytes ? -1 : 0;
}

int rs_store_part_path(const char *out_path, uint32_t index, uint32_t count,
                       char *buf, size_t n_bytes)
{
    int n = snprintf(buf, n_bytes, "%.*s.shard-%u-of-%u.h5",
                     (int)stem_len(out_path), out_path, index, count);
    return n < 0 || (size_t)n >= n_bytes ? -1 : 0;
}

/* ---- HDF5 writing helpers: the first failure is kept in w->st ---------- */

typedef struct h5w {
    hid_t ocpl_g, ocpl_d;   /* group / dataset creation: no timestamps */
    rs_status st;
    const char *path;
    rs_error_t *err;
    int in_memory;          /* a core-driver file: writes cannot hit the disk */
    int packed;             /* OUT.h5: chunk, shuffle, deflate, checksum  */
    int no_meta;            /* copying: no units/description from ds_metas */
} h5w;

static void h5w_open(h5w *w, const char *path, rs_error_t *err)
{
    w->path = path;
    w->err = err;
    w->st = RS_OK;
    w->in_memory = 0;
    w->packed = 0;
    w->no_meta = 0;
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

/* ---- what each dataset is: its units and description attributes -------- *
 *
 * Keyed by "<group>/<name>" (the group's last path component) with a
 * trailing '*' matching any suffix.  Units follow CF/UDUNITS: "1" for a
 * pure number, "s" for seconds, "" for text. */
typedef struct ds_meta {
    const char *key, *units, *description;
} ds_meta_t;

#define LOSS_WHAT "mean loss (regression: squared error; classification: " \
                  "cross-entropy in nats)"
static const ds_meta_t ds_metas[] = {
    {"curves/epoch", "1", "epochs completed (0: the initial model); the "
                          "dimension of every curve"},
    {"curves/train_loss", "1", LOSS_WHAT " on the whole training set after "
                               "the epoch, no dropout"},
    {"curves/test_loss", "1", LOSS_WHAT " on the test set after the epoch"},
    {"curves/val_loss", "1", LOSS_WHAT " on the validation split after the "
                             "epoch"},
    {"curves/train_acc", "1", "fraction of training rows classified right "
                              "after the epoch, no dropout"},
    {"curves/test_acc", "1", "fraction of test rows classified right after "
                             "the epoch"},
    {"curves/val_acc", "1", "fraction of validation rows classified right "
                            "after the epoch"},
    {"curves/train_loss_dropout", "1", LOSS_WHAT " seen by SGD during the "
                                       "epoch (with dropout), weighted by "
                                       "rows; NaN at epoch 0"},
    {"init/W*", "1", "initial weights of layer l, [inputs, outputs]: W[i, j] "
                     "connects input i to unit j"},
    {"init/b*", "1", "initial biases of layer l"},
    {"final/W*", "1", "final weights of layer l, [inputs, outputs]: W[i, j] "
                      "connects input i to unit j"},
    {"final/b*", "1", "final biases of layer l"},
    {"masks/layer*", "1", "dropout masks of hidden layer l: records x batch "
                          "rows x ceil(units/8) bytes, bit u%8 of byte u/8 "
                          "is unit u, 1 = kept"},
    {"masks/epoch", "1", "the epoch (0-based) of each mask record"},
    {"masks/step", "1", "the step within its epoch (0-based) of each mask "
                        "record"},
    {"masks/n_rows", "1", "rows of the batch of each mask record (later rows "
                          "are zero padding)"},
    {"dropconnect_masks/W*", "1", "DropConnect masks of the weights W_l: "
                                  "records x n[l] x ceil(n[l+1]/8) bytes, "
                                  "bit u%8 of byte u/8 of row i is weight "
                                  "(i, u), 1 = kept"},
    {"dropconnect_masks/epoch", "1", "the epoch (0-based) of each "
                                     "DropConnect mask record"},
    {"dropconnect_masks/step", "1", "the step within its epoch (0-based) of "
                                    "each DropConnect mask record"},
    {"act_var/epoch", "1", "the epoch (0-based) of each activation-variance "
                           "record"},
    {"act_var/step", "1", "the step within its epoch (0-based) of each "
                          "activation-variance record"},
    {"act_var/n_rows", "1", "rows of the minibatch of each activation-variance "
                            "record"},
    {"act_var/clean_var", "1", "[record, hidden layer]: variance of the clean "
                               "activations h over the minibatch's rows and "
                               "the layer's units"},
    {"act_var/dropout_var", "1", "[record, hidden layer]: variance of the "
                                 "activations after dropout, a = m h, over "
                                 "the minibatch's rows and the layer's units"},
    {"act_var/noise_var", "1", "[record, hidden layer]: empirical variance "
                               "the dropout noise adds, mean over rows and "
                               "units of (a - h)^2"},
    {"act_var/noise_var_theory", "1", "[record, hidden layer]: its expected "
                                      "value, noise_var_factor (the "
                                      "multiplier's variance) times the mean "
                                      "of h^2"},
    {"jobs/job", "1", "job index 0..n_jobs-1, the row order of /jobs; the "
                      "dimension of every column"},
    {"jobs/id", "", "job id: the first 12 hex digits of the SHA-256 of the "
                    "job's settings; names /runs/<id>"},
    {"jobs/seed", "1", "the job's seed (Philox key)"},
    {"jobs/keep_prob_*", "1", "keep probability of hidden layer l (1: no "
                              "dropout)"},
    {"jobs/l2", "1", "L2 penalty strength: loss + l2/2 * sum(W^2)"},
    {"jobs/l1", "1", "L1 penalty strength: loss + l1 * sum(|W|)"},
    /* extra axes (docs/SPEC.md): one column per axis the spec has, named
     * by its dotted key, holding each job's value as written */
    {"jobs/dataset.n_train", "1", "axis: training points (dataset.n_train)"},
    {"jobs/dataset.n_test", "1", "axis: test points (dataset.n_test)"},
    {"jobs/dataset.n_val", "1", "axis: validation rows (dataset.n_val)"},
    {"jobs/dataset.noise_sd", "1", "axis: sd of the training targets' noise "
                                   "(dataset.noise_sd)"},
    {"jobs/dataset.classes", "1", "axis: number of classes (dataset.classes)"},
    {"jobs/dataset.max_train", "1", "axis: training rows kept, 0 all "
                                    "(dataset.max_train)"},
    {"jobs/dataset.max_test", "1", "axis: test rows kept, 0 all "
                                   "(dataset.max_test)"},
    {"jobs/model.layers", "", "axis: layer sizes, input first, joined by '-' "
                              "(model.layers)"},
    {"jobs/model.activation", "", "axis: hidden activation (model.activation)"},
    {"jobs/model.init", "", "axis: weight initialisation (model.init)"},
    {"jobs/model.init_sd", "1", "axis: sd of normal initial weights "
                                "(model.init_sd)"},
    {"jobs/model.loss", "", "axis: loss (model.loss)"},
    {"jobs/train.lr", "1", "axis: SGD learning rate (train.lr)"},
    {"jobs/train.epochs", "1", "axis: epochs (train.epochs)"},
    {"jobs/train.batch_size", "", "axis: minibatch rows or full "
                                  "(train.batch_size)"},
    {"jobs/train.shuffle", "", "axis: true or false: rows reshuffled every "
                               "epoch (train.shuffle)"},
    {"jobs/reg.l1_mode", "", "axis: subgradient or proximal (reg.l1_mode)"},
    {"jobs/reg.max_norm", "1", "axis: max-norm bound, 0 off (reg.max_norm)"},
    {"jobs/reg.input_noise_sd", "1", "axis: sd of Gaussian input noise, 0 "
                                     "off (reg.input_noise_sd)"},
    {"jobs/reg.noise", "", "axis: dropout noise kind (reg.noise)"},
    {"jobs/reg.dropconnect_keep", "", "axis: DropConnect keep probability "
                                      "of every hidden layer's outgoing "
                                      "weights (a number), or per hidden "
                                      "layer (0.8/0.5); 1 off "
                                      "(reg.dropconnect_keep)"},
    {"jobs/reg.dropconnect_keep_prob", "1", "axis: DropConnect keep "
                                            "probability, 1 off "
                                            "(reg.dropconnect_keep_prob, the "
                                            "older spelling of "
                                            "reg.dropconnect_keep)"},
    {"jobs/reg.early_stopping_patience", "1", "axis: early-stopping patience "
                                              "in epochs, 0 off "
                                              "(reg.early_stopping_patience)"},
    {"jobs/status", "", "missing, done, failed or diverged"},
    {"jobs/train_loss", "1", "final " LOSS_WHAT " on the training set"},
    {"jobs/test_loss", "1", "final " LOSS_WHAT " on the test set"},
    {"jobs/gap", "1", "final test_loss - train_loss"},
    {"jobs/train_acc", "1", "final training accuracy"},
    {"jobs/test_acc", "1", "final test accuracy"},
    {"jobs/gap_acc", "1", "final train_acc - test_acc"},
    {"jobs/val_loss", "1", "final validation loss"},
    {"jobs/val_acc", "1", "final validation accuracy"},
    {"jobs/best_epoch", "1", "the first epoch of smallest validation loss "
                             "(NaN: none finite)"},
    {"jobs/best_val_loss", "1", "validation loss at best_epoch"},
    {"jobs/best_test_loss", "1", "test loss at best_epoch"},
    {"jobs/best_train_loss", "1", "training loss at best_epoch"},
    {"jobs/best_gap", "1", "best_test_loss - best_train_loss"},
    {"jobs/best_train_acc", "1", "training accuracy at best_epoch"},
    {"jobs/best_test_acc", "1", "test accuracy at best_epoch"},
    {"jobs/best_gap_acc", "1", "best_train_acc - best_test_acc"},
    {"jobs/diverged_epoch", "1", "the epoch after which a loss or weight was "
                                 "non-finite (NaN: did not diverge)"},
    {"jobs/diverged_quantity", "", "what went non-finite (empty: did not "
                                   "diverge)"},
    {"spec/yaml", "", "the spec's YAML text as given"},
    {"spec/overrides", "", "command-line overrides key=value, in order"},
    {"provenance/job_wall_s", "s", "wall time of each job (volatile)"},
    {"provenance/job_finished", "", "when each job finished, ISO 8601 UTC "
                                    "(volatile)"},
    {"history/*", "", "one row per regsweep run invocation (volatile)"},
};

static const ds_meta_t *find_meta(hid_t loc, const char *name)
{
    char group[256] = "";
    ssize_t n = H5Iget_name(loc, group, sizeof group);
    const char *g = n > 0 ? strrchr(group, '/') : NULL;
    g = g ? g + 1 : group;
    size_t gl = strlen(g);
    for (size_t i = 0; i < sizeof ds_metas / sizeof *ds_metas; i++) {
        const char *k = ds_metas[i].key, *slash = strchr(k, '/');
        size_t kl = strlen(slash + 1);
        if ((size_t)(slash - k) != gl || strncmp(k, g, gl))
            continue;
        if (slash[kl] == '*' ? !strncmp(slash + 1, name, kl - 1)
                             : !strcmp(slash + 1, name))
            return &ds_metas[i];
    }
    return NULL;
}

static void attr_str(h5w *w, hid_t loc, const char *name, const char *v);

/* Creation properties for a packed dataset: datasets of 1 KiB or more are
 * chunked (about 64 KiB a chunk, whole leading-dimension slices, so one
 * mask record or one curve is one or a few chunks), shuffled (floats),
 * deflated and Fletcher-32 checksummed; smaller ones stay contiguous. */
static hid_t packed_dcpl(hid_t base, hid_t file_type, int rank,
                         const hsize_t *dims)
{
    size_t elem = H5Tget_size(file_type);
    hsize_t total = 1, inner = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    for (int i = 1; i < rank; i++)
        inner *= dims[i];
    if (rank < 1 || total * elem < 1024 || H5Tis_variable_str(file_type) > 0)
        return H5Pcopy(base);
    hid_t p = H5Pcopy(base);
    hsize_t chunk[8];
    hsize_t lead = (65536 / elem) / (inner ? inner : 1);
    chunk[0] = lead < 1 ? 1 : lead > dims[0] ? dims[0] : lead;
    for (int i = 1; i < rank; i++)
        chunk[i] = dims[i];
    H5Pset_chunk(p, rank, chunk);
    if (elem > 1)
        H5Pset_shuffle(p);
    H5Pset_deflate(p, 4);
    H5Pset_fletcher32(p);
    return p;
}

static void h5w_dataset(h5w *w, hid_t loc, const char *name, hid_t mem_type,
                        hid_t file_type, int rank, const hsize_t *dims,
                        const void *data)
{
    if (w->st)
        return;
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR)
                         : H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = w->packed ? packed_dcpl(w->ocpl_d, file_type, rank, dims)
                           : H5Pcopy(w->ocpl_d);
    hid_t d = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, dcpl,
                         H5P_DEFAULT);
    H5Pclose(dcpl);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    if (d < 0 || (total > 0 && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL,
                                        H5P_DEFAULT, data) < 0))
        h5w_fail(w, "write dataset", name);
    const ds_meta_t *m = d >= 0 && !w->no_meta ? find_meta(loc, name) : NULL;
    if (m) {
        attr_str(w, d, "units", m->units);
        attr_str(w, d, "description", m->description);
    }
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
    hid_t fapl = file_access(0), fcpl = file_create();
    hid_t f = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl);
    if (f < 0 && unlink(path) == 0)
        f = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
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
    hid_t fapl = file_access(1), fcpl = file_create();
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (f < 0)
        rs_error_set(err, RS_ENOMEM, name, 0, 0,
                     "HDF5 cannot create the file in memory");
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

/* HDF5 1.10.8's H5Fget_file_image clears the superblock's status flags
 * ("open for writing") in the image it returns but keeps the checksum
 * computed with them set, so no HDF5 could open the image of a file with
 * a version 2 or 3 superblock.  This recomputes that checksum (lookup3 of
 * the superblock's bytes before it); right images are left as they are. */
static void fix_superblock_checksum(uint8_t *img, size_t n)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (n < 12 || memcmp(img, sig, 8) || img[8] < 2 || img[8] > 3)
        return;
    /* signature, version, sizes of offsets and lengths, flags, then four
     * addresses (base, extension, end of file, root object header) */
    size_t body = 12 + 4 * (size_t)img[9];
    if (img[9] < 2 || img[9] > 8 || n < body + 4)
        return;
    uint32_t c = rs_lookup3(img, body, 0);
    for (int i = 0; i < 4; i++)
        img[body + i] = (uint8_t)(c >> (8 * i));
}

/* Takes the image of the in-memory file f and closes f (in every case). */
static rs_status take_image(hid_t f, const char *final, void **out_buf,
                            size_t *n_out, rs_error_t *err)
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
                            "out of memory taking the file image (%zd bytes) "
                            "from HDF5", n);
    }
    H5Fclose(f);
    fix_superblock_checksum(buf, (size_t)n);
    *out_buf = buf;
    *n_out = (size_t)n;
    return RS_OK;
}

/* Writes n bytes to tmp, fsyncs, renames tmp to final and fsyncs the
 * directory.  Calls no HDF5: workers do it outside the HDF5 lock. */
static rs_status save_bytes(const void *buf, size_t n, const char *tmp,
                            const char *final, rs_error_t *err)
{
    rs_status st = write_bytes(tmp, buf, n, err);
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

/* Closes an in-memory file f after writing its image to tmp, then moves tmp
 * to final.  f is closed in every case. */
static rs_status save_mem_file(hid_t f, const char *tmp, const char *final,
                               rs_error_t *err)
{
    void *buf = NULL;
    size_t n = 0;
    rs_status st = take_image(f, final, &buf, &n, err);
    if (st)
        return st;
    st = save_bytes(buf, n, tmp, final, err);
    free(buf);
    return st;
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
static uint64_t file_bytes(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
}

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

/* The quantities a job of a spec can have: curves and /jobs columns of
 * the others are not stored (they would be all NaN). */
enum {
    Q_TRAIN = 1,   /* train.eval_train: the clean training-set evaluation */
    Q_ACC = 2,     /* classification (idx data): accuracies               */
    Q_VAL = 4      /* dataset.n_val > 0: the validation split             */
};
static const unsigned curve_needs[7] = {Q_TRAIN, 0, Q_VAL, Q_TRAIN | Q_ACC,
                                        Q_ACC, Q_VAL | Q_ACC, 0};

static unsigned spec_quantities(const rs_spec_t *spec)
{
    return (spec->settings.eval_train ? Q_TRAIN : 0) |
           (spec->data_kind != RS_DATA_SIN ? Q_ACC : 0) |
           (rs_spec_n_val(spec) ? Q_VAL : 0);
}

static int has_quantities(unsigned q, unsigned needs)
{
    return (needs & ~q) == 0;
}

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

/* The records of every hidden layer's masks into group g: the record
 * index all layers share (epoch, step and, for dropout masks, n_rows) and
 * one dataset per recorded layer, with its attributes: masks/layer<l>
 * (dropout) or dropconnect_masks/W<l+1> (DropConnect). */
static void write_mask_records(h5w *w, hid_t g, const rs_job_t *job,
                               const rs_mask_record_t *ms, int n_hidden,
                               int dropconnect)
{
    const rs_mask_record_t *first = NULL;
    for (int l = 0; l < n_hidden && !first; l++)
        if (ms[l].n_records)
            first = &ms[l];
    if (!first)
        return;
    hsize_t n_rec = first->n_records;
    h5w_dataset(w, g, "epoch", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n_rec,
                first->epoch);
    h5w_dataset(w, g, "step", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n_rec,
                first->step);
    if (!dropconnect)
        h5w_dataset(w, g, "n_rows", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1,
                    &n_rec, first->n_rows);
    for (int l = 0; l < n_hidden && !w->st; l++) {
        const rs_mask_record_t *m = &ms[l];
        if (!m->n_records)
            continue;
        char name[32];
        if (dropconnect)
            snprintf(name, sizeof name, "W%d", l + 1);
        else
            snprintf(name, sizeof name, "layer%d", l);
        hsize_t dims[3] = {m->n_records, m->rows, m->row_bytes};
        h5w_dataset(w, g, name, H5T_NATIVE_UINT8, H5T_STD_U8LE, 3, dims,
                    m->bits);
        if (w->st)
            break;
        /* the keep as written (dropout) or as training uses it (float) */
        float keep = dropconnect ? job->settings.reg.dropconnect_keep[l]
                                 : job->hp.keep_prob[l];
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        attr_i32(w, d, "layer", dropconnect ? l + 1 : l);
        attr_u64(w, d, "n_units", m->n_units);
        attr_f64(w, d, "keep_prob", dropconnect ? keep : job->keep[l]);
        attr_u64(w, d, "threshold", rs_keep_threshold(keep));
        H5Dclose(d);
    }
}

static void write_masks(h5w *w, hid_t file, const rs_job_t *job,
                        const rs_job_result_t *r)
{
    hid_t g = h5w_group(w, file, "masks");
    if (g < 0)
        return;
    attr_str(w, g, "bit_order", "little");
    attr_str(w, g, "layout", "records x batch rows x ceil(units/8) bytes; "
                             "bit u%8 of byte u/8 is unit u, 1 = kept");
    write_mask_records(w, g, job, r->masks, r->n_hidden, 0);
    H5Gclose(g);
}

/* record.dropconnect_masks (docs/FORMAT.md): the group dropconnect_masks,
 * written only when the spec records them and some layer is masked. */
static void write_dc_masks(h5w *w, hid_t file, const rs_job_t *job,
                           const rs_job_result_t *r)
{
    int masked = 0;
    for (int h = 0; h < r->n_hidden; h++)
        masked |= r->dc_masks[h].bits != NULL;
    if (!job->settings.record_dc_masks || !masked)
        return;
    hid_t g = h5w_group(w, file, "dropconnect_masks");
    if (g < 0)
        return;
    attr_str(w, g, "bit_order", "little");
    attr_str(w, g, "layout", "W<l>: records x n[l] x ceil(n[l+1]/8) bytes; "
                             "bit u%8 of byte u/8 of row i is weight (i, u) "
                             "of W<l>, 1 = kept");
    write_mask_records(w, g, job, r->dc_masks, r->n_hidden, 1);
    H5Gclose(g);
}

/* The names of the act_var statistics, in rs_act_var's RS_AV_* order. */
static const char *const act_var_names[RS_AV_N] = {
    "clean_var", "dropout_var", "noise_var", "noise_var_theory"};

/* record.act_var (docs/FORMAT.md): the group act_var with the recorded
 * steps and one (records x hidden layers) dataset per statistic; written
 * only when the spec records them, its datasets only when a step was. */
static void write_act_var(h5w *w, hid_t file, const rs_job_t *job,
                          const rs_job_result_t *r)
{
    const rs_act_var_record_t *av = &r->act_var;
    if (!job->settings.record_act_var || av->n_hidden == 0)
        return;
    hid_t g = h5w_group(w, file, "act_var");
    if (g < 0)
        return;
    static const char *const kinds[] = {"bernoulli", "three_point", "gaussian"};
    attr_str(w, g, "noise", kinds[job->settings.reg.noise]);
    attr_f64v(w, g, "noise_var_factor", av->noise_var, av->n_hidden);
    attr_str(w, g, "layout", "records x hidden layers; h the clean "
                             "activations, a = m h after the dropout noise, "
                             "over the minibatch's rows and the layer's "
                             "units");
    if (av->n_records) {
        hsize_t n = av->n_records, dims[2] = {av->n_records, av->n_hidden};
        h5w_dataset(w, g, "epoch", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n,
                    av->epoch);
        h5w_dataset(w, g, "step", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n,
                    av->step);
        h5w_dataset(w, g, "n_rows", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n,
                    av->n_rows);
        for (int i = 0; i < RS_AV_N; i++)
            h5w_dataset(w, g, act_var_names[i], H5T_NATIVE_DOUBLE,
                        H5T_IEEE_F64LE, 2, dims, av->v[i]);
    }
    H5Gclose(g);
}

static int content_sha256(hid_t loc, char hex[65]);
static int content_digest(hid_t loc, uint8_t d[32]);
static int verify_content(hid_t loc, const char *path, rs_error_t *err);

/* Makes the 1-D dataset `scale` of loc the dimension scale `dim` of every
 * other 1-D dataset of loc with as many elements (xarray and netCDF
 * readers then see a named dimension with its values). */
static void attach_scale(h5w *w, hid_t loc, const char *scale,
                         const char *const *names, int n_names)
{
    if (w->st)
        return;
    hid_t ds = H5Dopen2(loc, scale, H5P_DEFAULT);
    if (ds < 0 || H5DSset_scale(ds, scale) < 0)
        h5w_fail(w, "make a dimension scale of", scale);
    for (int i = 0; !w->st && i < n_names; i++) {
        hid_t d = H5Dopen2(loc, names[i], H5P_DEFAULT);
        if (d < 0 || H5DSattach_scale(d, ds, 0) < 0)
            h5w_fail(w, "attach the dimension scale to", names[i]);
        if (d >= 0)
            H5Dclose(d);
    }
    if (ds >= 0)
        H5Dclose(ds);
}

/* The curves a job of this spec has, and `epoch`, their dimension scale. */
static void write_curves(h5w *w, hid_t g, const rs_curves_t *c, unsigned q)
{
    double *v[7];
    curve_arrays(c, v);
    hsize_t n = c->n;
    const char *written[10];
    int n_written = 0;
    for (int i = 0; i < 7; i++)
        if (has_quantities(q, curve_needs[i])) {
            ds_f64(w, g, curve_names[i], v[i], n);
            written[n_written++] = curve_names[i];
        }
    /* the reg section's optional curves (docs/FORMAT.md): epochs x layers
     * shares of exact zeros, Monte-Carlo dropout test curves */
    if (c->zero_frac) {
        hsize_t dims[2] = {n, c->n_layers};
        h5w_dataset(w, g, "zero_frac", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2,
                    dims, c->zero_frac);
        written[n_written++] = "zero_frac";
    }
    if (c->test_loss_mc) {
        ds_f64(w, g, "test_loss_mc", c->test_loss_mc, n);
        written[n_written++] = "test_loss_mc";
        if (has_quantities(q, Q_ACC)) {
            ds_f64(w, g, "test_acc_mc", c->test_acc_mc, n);
            written[n_written++] = "test_acc_mc";
        }
    }
    uint32_t *epoch = malloc(n * sizeof *epoch);
    if (!epoch) {
        if (!w->st)
            w->st = rs_error_set(w->err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        return;
    }
    for (uint32_t e = 0; e < n; e++)
        epoch[e] = e;
    h5w_dataset(w, g, "epoch", H5T_NATIVE_UINT32, H5T_STD_U32LE, 1, &n, epoch);
    free(epoch);
    attach_scale(w, g, "epoch", written, n_written);
}

static rs_status build_job_unguarded(const char *jobs_dir, const rs_spec_t *spec,
                                     const rs_job_t *job, const rs_job_result_t *r,
                                     rs_job_image_t *img, rs_error_t *err)
{
    char final[RS_PATH_BUF], tmp[RS_PATH_JOIN];
    memset(img, 0, sizeof *img);
    snprintf(final, sizeof final, "%s/%s.h5", jobs_dir, job->id);
    tmp_name(final, tmp, sizeof tmp);
    hid_t f = create_mem_file(tmp, err);
    if (f < 0)
        return RS_ENOMEM;
    h5w w;
    h5w_open(&w, tmp, err);
    w.in_memory = 1;
    const rs_arch_t *a = &job->settings.arch;
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
    /* the extra axes' values, named by their dotted keys, typed as their
     * /jobs columns */
    for (int x = 0; x < spec->n_axes; x++) {
        const rs_axis_t *ax = &spec->axes[x];
        const rs_axis_value_t *v = &ax->values[job->i_axis[x]];
        if (ax->type == RS_AXIS_NUMBER)
            attr_f64(&w, f, ax->key, v->num);
        else
            attr_str(&w, f, ax->key, v->text);
    }
    attr_str(&w, f, "status", r->diverged ? "diverged" : "done");
    attr_u64(&w, f, "steps", r->steps_done);
    if (r->diverged) {
        attr_u64(&w, f, "diverged_epoch", r->diverged_epoch);
        attr_str(&w, f, "diverged_quantity",
                 r->diverged_quantity ? r->diverged_quantity : "");
    }
    /* ---- issue 12 (reg.early_stopping_patience) ---- */
    if (r->stopped) {
        attr_u64(&w, f, "stopped_epoch", r->stopped_epoch);
        attr_u64(&w, f, "returned_epoch", r->returned_epoch);
    }
    /* ---- end issue 12 ---- */

    hid_t g = h5w_group(&w, f, "curves");
    if (g >= 0) {
        write_curves(&w, g, &r->curves, spec_quantities(spec));
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
    write_masks(&w, f, job, r);
    write_dc_masks(&w, f, job, r);
    write_act_var(&w, f, job, r);
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
    snprintf(img->final, sizeof img->final, "%s", final);
    snprintf(img->tmp, sizeof img->tmp, "%s", tmp);
    return take_image(f, final, &img->bytes, &img->n, err);
}

/* the builder above, with allocation failures inside HDF5 reported as such */
rs_status rs_store_build_job(const char *jobs_dir, const rs_spec_t *spec,
                             const rs_job_t *job, const rs_job_result_t *r,
                             rs_job_image_t *img, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(build_job_unguarded(jobs_dir, spec, job, r, img, err), err);
}

rs_status rs_store_save_job(rs_job_image_t *img, rs_error_t *err)
{
    rs_status st = save_bytes(img->bytes, img->n, img->tmp, img->final, err);
    rs_store_image_free(img);
    return st;
}

void rs_store_image_adopt(rs_job_image_t *img, const char *jobs_dir,
                          const rs_job_t *job, void *bytes, size_t n)
{
    snprintf(img->final, sizeof img->final, "%s/%s.h5", jobs_dir, job->id);
    tmp_name(img->final, img->tmp, sizeof img->tmp);
    img->bytes = bytes;
    img->n = n;
}

void rs_store_image_free(rs_job_image_t *img)
{
    free(img->bytes);
    img->bytes = NULL;
    img->n = 0;
}

rs_status rs_store_write_job(const char *jobs_dir, const rs_spec_t *spec,
                             const rs_job_t *job, const rs_job_result_t *r,
                             rs_error_t *err)
{
    rs_job_image_t img;
    rs_status st = rs_store_build_job(jobs_dir, spec, job, r, &img, err);
    return st ? st : rs_store_save_job(&img, err);
}


/* ---- reading helpers ---------------------------------------------------------- */

/* HDF5 writes every element an attribute or dataset holds into the
 * caller's buffer, however many the file says there are: a value read into
 * one C variable must first be checked to hold exactly one (a crafted file
 * with a 4-element 'format' attribute overran the stack). */
static int holds_one(hid_t space)
{
    return space >= 0 && H5Sget_simple_extent_npoints(space) == 1;
}

static int read_attr_str(hid_t loc, const char *name, char *out, size_t n)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = str_type();
    char *s = NULL;
    int rc = -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 &&
        holds_one(sp) && H5Aread(a, t, &s) >= 0 && s) {
        snprintf(out, n, "%s", s);
        rc = 0;
    }
    if (s) {
        hid_t one = H5Screate(H5S_SCALAR);
        H5Dvlen_reclaim(t, one, H5P_DEFAULT, &s);
        H5Sclose(one);
    }
    if (sp >= 0)
        H5Sclose(sp);
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
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = H5Tget_class(ft) == H5T_INTEGER && holds_one(sp) &&
                     H5Aread(a, H5T_NATIVE_INT64, out) >= 0
                 ? 0 : -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
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
    char path[RS_PATH_JOIN];     /* for messages: "file" or "file:/runs/<id>" */
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
 * root's own content_sha256 and the dimension-scale references
 * DIMENSION_LIST and REFERENCE_LIST: objects visited by name (H5Ovisit, names in
 * increasing order), each contributing its path, then its attributes by
 * name (name, and the value: numbers as little-endian bytes of their stored
 * width, strings as their bytes, a fixed-length one up to its first NUL), then, for a dataset, its elements in the
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
    if (cls == H5T_STRING) {
        /* fixed-length (the CLASS and NAME of a dimension scale): each
         * element's bytes up to its first NUL */
        size_t size = H5Tget_size(ftype);
        if (size == 0 || size > 4096 || n > 1024)
            return -1;
        char *buf = malloc((size_t)n * size + 1);
        int rc = buf && H5Aread(obj, ftype, buf) >= 0 && is_attr ? 0 : -1;
        for (hssize_t i = 0; !rc && i < n; i++) {
            const char *e = buf + (size_t)i * size;
            hash_tagged(h, 's', e, strnlen(e, size));
        }
        free(buf);
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
    /* a dimension scale's bookkeeping holds object addresses, which differ
     * between a job file and its copy in OUT.h5: not content */
    if (!strcmp(name, "DIMENSION_LIST") || !strcmp(name, "REFERENCE_LIST"))
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
static int content_digest(hid_t loc, uint8_t d[32])
{
    content_hash_t h;
    memset(&h, 0, sizeof h);
    rs_sha256_init(&h.sha);
    if (H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, hash_object, &h,
                  H5O_INFO_BASIC) < 0)
        return -1;
    rs_sha256_final(&h.sha, d);
    return 0;
}

static int content_sha256(hid_t loc, char hex[65])
{
    uint8_t d[32];
    if (content_digest(loc, d))
        return -1;
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
    if (read_attr_i64(jl->loc, "format_version", &version))
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "damaged job file: no readable format_version "
                            "(one integer)"), -1;
    if (version != RS_FORMAT_VERSION)
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
/* The checks every opened job passes before use: our format, this spec,
 * this job, and (verify) its content checksum.  Closes jl on failure. */
static int check_opened_job(job_loc *jl, const rs_spec_t *spec,
                            const rs_job_t *job, int verify, rs_error_t *err)
{
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

/* Opens /runs/<id> of the open results file f (named `where`); jl does not
 * own f.  0, 1 if the job is not there, -1/-2 as open_job_how. */
static int open_run(hid_t f, const char *where, const rs_spec_t *spec,
                    const rs_job_t *job, job_loc *jl, int verify,
                    rs_error_t *err)
{
    jl->file = jl->loc = -1;
    snprintf(jl->path, sizeof jl->path, "%s:/runs/%s", where, job->id);
    char link[64];
    snprintf(link, sizeof link, "runs/%s", job->id);
    htri_t has_runs = H5Lexists(f, "runs", H5P_DEFAULT);
    htri_t has_job = has_runs > 0 ? H5Lexists(f, link, H5P_DEFAULT) : has_runs;
    if (has_runs < 0 || has_job < 0)   /* damaged, not the same as "not run" */
        return rs_error_set(err, RS_EINPUT, where, 0, 0,
                            "damaged: /runs cannot be read"), -1;
    if (!has_job)
        return 1;
    jl->loc = H5Gopen2(f, link, H5P_DEFAULT);
    if (jl->loc < 0)
        return rs_error_set(err, RS_EINPUT, where, 0, 0,
                            "cannot open /runs/%s", job->id), -1;
    return check_opened_job(jl, spec, job, verify, err);
}

static int open_job_how(const char *where, int from_top, const rs_spec_t *spec,
                        const rs_job_t *job, job_loc *jl, int verify,
                        rs_error_t *err)
{
    jl->file = jl->loc = -1;
    if (from_top) {
        hid_t f = H5Fopen(where, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0)
            return rs_error_set(err, RS_EINPUT, where, 0, 0,
                                "HDF5 cannot open it"), -1;
        int rc = open_run(f, where, spec, job, jl, verify, err);
        if (rc)
            H5Fclose(f);
        else
            jl->file = f;
        return rc;
    }
    snprintf(jl->path, sizeof jl->path, "%s/%s.h5", where, job->id);
    struct stat sb;
    if (stat(jl->path, &sb) != 0)
        return 1;
    jl->file = jl->loc = H5Fopen(jl->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (jl->file < 0 && stat(jl->path, &sb) != 0 && errno == ENOENT)
        return 1;   /* packed and deleted since the stat: not here now */
    if (jl->file < 0)
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "not a readable HDF5 file (damaged job file?)"), -1;
    return check_opened_job(jl, spec, job, verify, err);
}

static int open_job(const char *where, int from_top, const rs_spec_t *spec,
                    const rs_job_t *job, job_loc *jl, rs_error_t *err)
{
    return open_job_how(where, from_top, spec, job, jl, 1, err);
}

/* The curves a job of a spec with quantities q has; the others are NaN.
 * The MC-dropout curves only when the caller gives their arrays (the job
 * must have them: eval.mc_samples > 0); regression has no accuracy. */
static int read_curves(hid_t f, unsigned q, rs_curves_t *c)
{
    hid_t g = H5Gopen2(f, "curves", H5P_DEFAULT);
    if (g < 0)
        return -1;
    double *v[7];
    curve_arrays(c, v);
    int rc = 0;
    for (int i = 0; i < 7 && rc == 0; i++) {
        if (has_quantities(q, curve_needs[i]))
            rc = read_ds(g, curve_names[i], H5T_NATIVE_DOUBLE, v[i], c->n);
        else
            for (uint32_t e = 0; e < c->n; e++)
                v[i][e] = NAN;
    }
    if (rc == 0 && c->test_loss_mc)
        rc = read_ds(g, "test_loss_mc", H5T_NATIVE_DOUBLE, c->test_loss_mc, c->n);
    if (rc == 0 && c->test_acc_mc) {
        if (has_quantities(q, Q_ACC))
            rc = read_ds(g, "test_acc_mc", H5T_NATIVE_DOUBLE, c->test_acc_mc, c->n);
        else
            for (uint32_t e = 0; e < c->n; e++)
                c->test_acc_mc[e] = NAN;
    }
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
    uint32_t n = job->settings.epochs + 1;
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
    rc = read_curves(jl.loc, spec_quantities(spec), &r.curves);
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

/* The curves of a job open_job gave rc and jl for; closes jl. */
static rs_status read_opened_curves(int rc, job_loc *jl, const rs_spec_t *spec,
                                    rs_curves_t *c, rs_error_t *err)
{
    if (rc == 1)
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0, "no such job");
    if (rc < 0)
        return rc == -2 ? RS_EMISMATCH : RS_EINPUT;
    rc = read_curves(jl->loc, spec_quantities(spec), c);
    close_job(jl);
    if (rc)
        return rs_error_set(err, RS_EINPUT, jl->path, 0, 0,
                            "no readable curves of %u epochs", c->n);
    return RS_OK;
}

static rs_status store_read_curves_unguarded(const char *where, int from_top,
                               const rs_spec_t *spec, const rs_job_t *job,
                               rs_curves_t *c, rs_error_t *err)
{
    job_loc jl;
    int rc = open_job(where, from_top, spec, job, &jl, err);
    return read_opened_curves(rc, &jl, spec, c, err);
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
    char dir[RS_PATH_BUF];
    job_loc jl;
    int rc = open_job(out_path, 1, spec, job, &jl, err);
    if (rc == 1 && rs_store_jobs_dir(out_path, dir, sizeof dir) == 0)
        rc = open_job(dir, 0, spec, job, &jl, err);
    /* a pack may have moved it from its job file into OUT.h5 meanwhile */
    if (rc == 1)
        rc = open_job(out_path, 1, spec, job, &jl, err);
    return read_opened_curves(rc, &jl, spec, c, err);
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

/* The metric columns of /jobs, each stored only where a job of the spec
 * can have it (see enum Q_*). */
typedef struct metric_col {
    const char *name;
    unsigned needs;
    size_t off;        /* offset of the double in rs_job_summary_t, or    */
    int epoch;         /* 1: best_epoch, 2: diverged_epoch (uint32)       */
} metric_col_t;

#define MCOL(n, q) {#n, q, offsetof(rs_job_summary_t, n), 0}
static const metric_col_t metric_cols[] = {
    MCOL(train_loss, Q_TRAIN), MCOL(test_loss, 0), MCOL(gap, Q_TRAIN),
    MCOL(train_acc, Q_TRAIN | Q_ACC), MCOL(test_acc, Q_ACC),
    MCOL(gap_acc, Q_TRAIN | Q_ACC), MCOL(val_loss, Q_VAL),
    MCOL(val_acc, Q_VAL | Q_ACC), {"best_epoch", Q_VAL, 0, 1},
    MCOL(best_val_loss, Q_VAL), MCOL(best_test_loss, Q_VAL),
    MCOL(best_train_loss, Q_VAL | Q_TRAIN), MCOL(best_gap, Q_VAL | Q_TRAIN),
    MCOL(best_train_acc, Q_VAL | Q_TRAIN | Q_ACC),
    MCOL(best_test_acc, Q_VAL | Q_ACC),
    MCOL(best_gap_acc, Q_VAL | Q_TRAIN | Q_ACC), {"diverged_epoch", 0, 0, 2}};
#define N_METRIC_COLS (sizeof metric_cols / sizeof *metric_cols)

static double metric_get(const rs_job_summary_t *r, const metric_col_t *c)
{
    if (c->epoch) {
        uint32_t e = c->epoch == 1 ? r->best_epoch : r->diverged_epoch;
        return e == RS_NO_EPOCH ? NAN : (double)e;
    }
    double v;
    memcpy(&v, (const char *)r + c->off, sizeof v);
    return v;
}

static void metric_set(rs_job_summary_t *r, const metric_col_t *c, double v)
{
    if (c->epoch) {
        uint32_t e = isfinite(v) && v >= 0 && v < 4294967295.0 ? (uint32_t)v
                                                               : RS_NO_EPOCH;
        *(c->epoch == 1 ? &r->best_epoch : &r->diverged_epoch) = e;
        return;
    }
    memcpy((char *)r + c->off, &v, sizeof v);
}

static void write_jobs_table(h5w *w, hid_t f, const rs_spec_t *spec,
                             const rs_job_summary_t *rows)
{
    hid_t g = h5w_group(w, f, "jobs");
    if (g < 0)
        return;
    hsize_t n = spec->n_jobs;
    int h = rs_spec_n_hidden(spec);
    unsigned q = spec_quantities(spec);
    /* columns: l2, l1, then keep_prob per hidden layer; reused for metrics */
    size_t n_num = 2 + (size_t)h;
    double *num = malloc(n * n_num * sizeof *num);
    uint64_t *u64 = malloc(2 * n * sizeof *u64);
    char (*ids)[13] = malloc(n * sizeof *ids);
    const char **idp = malloc(n * sizeof *idp), **stp = malloc(n * sizeof *stp);
    uint32_t *axis_i = malloc((n * (size_t)spec->n_axes + 1) * sizeof *axis_i);
    char names[RS_MAX_LAYERS + RS_SPEC_MAX_AXES + N_METRIC_COLS + 8][48];
    const char *cols[RS_MAX_LAYERS + RS_SPEC_MAX_AXES + N_METRIC_COLS + 8];
    int n_cols = 0;
    if (!num || !u64 || !ids || !idp || !stp || !axis_i) {
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
        for (int x = 0; x < spec->n_axes; x++)
            axis_i[(size_t)x * n + i] = job.i_axis[x];
    }
#define COL(nm) snprintf(names[n_cols], sizeof names[n_cols], "%s", nm), \
                cols[n_cols] = names[n_cols], n_cols++
    h5w_dataset(w, g, "job", H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, &n, u64);
    ds_strings(w, g, "id", idp, n);
    COL("id");
    h5w_dataset(w, g, "seed", H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, &n, u64 + n);
    COL("seed");
    for (int l = 0; l < h; l++) {
        char name[32];
        snprintf(name, sizeof name, "keep_prob_%d", l + 1);
        ds_f64(w, g, name, num + (2 + (size_t)l) * n, n);
        COL(name);
    }
    ds_f64(w, g, "l2", num, n);
    COL("l2");
    ds_f64(w, g, "l1", num + n, n);
    COL("l1");
    /* one column per extra axis, in the order of the spec's axes */
    for (int x = 0; x < spec->n_axes; x++) {
        const rs_axis_t *ax = &spec->axes[x];
        for (uint64_t i = 0; i < n; i++) {
            const rs_axis_value_t *v = &ax->values[axis_i[(size_t)x * n + i]];
            if (ax->type == RS_AXIS_NUMBER)
                num[i] = v->num;
            else
                stp[i] = v->text;
        }
        if (ax->type == RS_AXIS_NUMBER)
            ds_f64(w, g, ax->key, num, n);
        else
            ds_strings(w, g, ax->key, stp, n);
        COL(ax->key);
    }
    for (uint64_t i = 0; i < n; i++)
        stp[i] = rs_job_status_name(rows[i].status);
    ds_strings(w, g, "status", stp, n);
    COL("status");
    /* metrics: NaN where the job has not finished */
    for (size_t c = 0; c < N_METRIC_COLS; c++) {
        if (!has_quantities(q, metric_cols[c].needs))
            continue;
        for (uint64_t i = 0; i < n; i++)
            num[i] = rs_job_finished(rows[i].status)
                         ? metric_get(&rows[i], &metric_cols[c]) : NAN;
        ds_f64(w, g, metric_cols[c].name, num, n);
        COL(metric_cols[c].name);
    }
    for (uint64_t i = 0; i < n; i++)
        stp[i] = rows[i].status == RS_JOB_DIVERGED ? rows[i].diverged_quantity : "";
    ds_strings(w, g, "diverged_quantity", stp, n);
    COL("diverged_quantity");
#undef COL
    attach_scale(w, g, "job", cols, n_cols);
    attr_str(w, g, "description",
             "one row per job in index order; 1-D columns of equal length "
             "along the dimension scale `job`; metrics NaN until the job "
             "finishes; only the quantities a job of this spec can have "
             "(docs/FORMAT.md)");
    /* the extra axes' columns in the spec's order (readers list a group's
     * members by name); absent without extra axes */
    if (spec->n_axes) {
        const char *keys[RS_SPEC_MAX_AXES];
        for (int x = 0; x < spec->n_axes; x++)
            keys[x] = spec->axes[x].key;
        hid_t t = str_type();
        h5w_attr(w, g, "axes", t, t, spec->n_axes, keys);
        H5Tclose(t);
    }
out:
    free(num);
    free(u64);
    free(ids);
    free(idp);
    free(stp);
    free(axis_i);
    H5Gclose(g);
}

/* Reads a 1-D float column of n rows (any stored float or integer type);
 * 1 if it does not exist, -1 if it is not n numbers. */
static int read_column(hid_t g, const char *name, double *out, hsize_t n)
{
    htri_t e = H5Lexists(g, name, H5P_DEFAULT);
    if (e == 0)
        return 1;
    if (e < 0)
        return -1;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    H5T_class_t cls = H5Tget_class(t);
    int rc = (cls == H5T_FLOAT || cls == H5T_INTEGER) &&
             H5Sget_simple_extent_ndims(sp) == 1 &&
             H5Sget_simple_extent_npoints(sp) == (hssize_t)n &&
             (n == 0 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, out) >= 0) ? 0 : -1;
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

/* Reads a 1-D column of n variable-length strings into a malloc'ed array
 * of malloc'ed strings (NULL entries refused: damage); -1 on damage. */
static int read_strings(hid_t g, const char *name, hsize_t n, char ***out)
{
    *out = NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t t = str_type(), ft = H5Dget_type(d), sp = H5Dget_space(d);
    char **v = NULL;
    int rc = -1;
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 &&
        H5Sget_simple_extent_ndims(sp) == 1 &&
        H5Sget_simple_extent_npoints(sp) == (hssize_t)n &&
        (v = calloc(n + 1, sizeof *v)) &&
        (n == 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)) {
        rc = 0;
        for (hsize_t i = 0; i < n; i++)
            if (!v[i])
                rc = -1;
    }
    if (rc && v) {
        for (hsize_t i = 0; i < n; i++)
            free(v[i]);   /* HDF5 1.10 allocates vlen strings with malloc */
        free(v);
        v = NULL;
    }
    H5Sclose(sp);
    H5Tclose(ft);
    H5Tclose(t);
    H5Dclose(d);
    *out = v;
    return rc;
}

static void free_strings(char **v, hsize_t n)
{
    for (hsize_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* rows from OUT.h5's /jobs table (its status and metric columns); a
 * finished row must have its /runs/<id>.  *has_table = 0 when the file
 * has no table (rows all missing). */
static rs_status read_table_rows(hid_t f, const char *out_path,
                                 const rs_spec_t *spec, rs_job_summary_t *rows,
                                 rs_error_t *err)
{
    hsize_t n = spec->n_jobs;
    for (uint64_t i = 0; i < n; i++) {
        memset(&rows[i], 0, sizeof rows[i]);
        rows[i].status = RS_JOB_MISSING;
    }
    htri_t has = H5Lexists(f, "jobs", H5P_DEFAULT);
    if (has < 0)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "damaged: /jobs cannot be read");
    if (!has)
        return RS_OK;
    hid_t g = H5Gopen2(f, "jobs", H5P_DEFAULT);
    if (g < 0)
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                            "damaged: /jobs cannot be opened");
    rs_status st = RS_OK;
    char **status = NULL, **quantity = NULL;
    double *col = malloc((n + 1) * sizeof *col);
    if (!col) {
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    if (read_strings(g, "status", n, &status)) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "damaged /jobs/status (expected %llu strings)",
                          (unsigned long long)n);
        goto out;
    }
    for (uint64_t i = 0; i < n && !st; i++) {
        int k = 0;
        while (k < 4 && strcmp(status[i], rs_job_status_name((rs_job_status)k)))
            k++;
        if (k == 4)
            st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                              "damaged /jobs/status: row %llu is '%.40s'",
                              (unsigned long long)i, status[i]);
        rows[i].status = (rs_job_status)k;
    }
    unsigned q = spec_quantities(spec);
    for (size_t c = 0; c < N_METRIC_COLS && !st; c++) {
        int rc = has_quantities(q, metric_cols[c].needs)
                     ? read_column(g, metric_cols[c].name, col, n) : 1;
        if (rc < 0 || (rc == 1 && has_quantities(q, metric_cols[c].needs)))
            st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                              "damaged /jobs/%s (expected %llu numbers)",
                              metric_cols[c].name, (unsigned long long)n);
        for (uint64_t i = 0; i < n && !st; i++)
            metric_set(&rows[i], &metric_cols[c], rc == 0 ? col[i] : NAN);
    }
    if (!st && read_strings(g, "diverged_quantity", n, &quantity))
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "damaged /jobs/diverged_quantity");
    for (uint64_t i = 0; i < n && !st; i++)
        snprintf(rows[i].diverged_quantity, sizeof rows[i].diverged_quantity,
                 "%s", quantity[i]);
    /* a finished row without its copy is damage, not "not run" */
    htri_t has_runs = st ? 0 : H5Lexists(f, "runs", H5P_DEFAULT);
    if (has_runs < 0)
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "damaged: /runs cannot be read");
    for (uint64_t i = 0; i < n && !st; i++) {
        if (!rs_job_finished(rows[i].status))
            continue;
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        char link[64];
        snprintf(link, sizeof link, "runs/%s", job.id);
        if (has_runs <= 0 || H5Lexists(f, link, H5P_DEFAULT) <= 0)
            st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                              "damaged: /jobs marks job %s %s, but /runs does "
                              "not hold it", job.id,
                              rs_job_status_name(rows[i].status));
    }
out:
    free(col);
    free_strings(status, status ? n : 0);
    free_strings(quantity, quantity ? n : 0);
    H5Gclose(g);
    return st;
}

/* ---- packing: job files (and an earlier OUT.h5) into one OUT.h5 -------- *
 *
 * Each finished job is copied object by object into /runs/<id> (never with
 * H5Ocopy of unverified objects: its content checksum is verified first),
 * its datasets re-chunked and compressed.  The groups weights/init and
 * masks of a job are shared: each distinct content (by its content
 * SHA-256) is stored once under /init/<k> or /masks/<k> and hard-linked
 * into every job that has it; jobs differing only in l2, l1 or lr share
 * their initial weights and their masks. */

typedef struct shared_obj {
    uint8_t hash[32];
    char path[48];
} shared_obj_t;

typedef struct pack {
    h5w *w;
    hid_t f;
    hid_t g_kind[3];          /* /init, /masks, /dropconnect_masks
                                 (created when first used)               */
    uint64_t n_kind[3];
    shared_obj_t *objs;       /* open-addressing table by hash            */
    size_t cap, n;
} pack_t;

static const char *const shared_kinds[3] = {"init", "masks",
                                            "dropconnect_masks"};

static int copy_attrs(h5w *w, hid_t src, hid_t dst, int skip_scale)
{
    H5O_info_t info;
    if (H5Oget_info2(src, &info, H5O_INFO_NUM_ATTRS) < 0)
        return -1;
    for (hsize_t i = 0; i < info.num_attrs && !w->st; i++) {
        char name[256];
        if (H5Aget_name_by_idx(src, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                               sizeof name, H5P_DEFAULT) < 0)
            return -1;
        if (!strcmp(name, "DIMENSION_LIST") || !strcmp(name, "REFERENCE_LIST") ||
            (skip_scale && (!strcmp(name, "CLASS") || !strcmp(name, "NAME"))))
            continue;   /* recreated by attach_scale */
        hid_t a = H5Aopen(src, name, H5P_DEFAULT);
        hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
        hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        size_t size = t >= 0 ? H5Tget_size(t) : 0;
        void *buf = n >= 0 && size && (size_t)n < ((size_t)1 << 30) / size
                        ? calloc((size_t)n + 1, size) : NULL;
        int ok = buf && H5Aread(a, t, buf) >= 0;
        if (ok) {
            hid_t b = H5Acreate2(dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
            if (b < 0 || H5Awrite(b, t, buf) < 0)
                h5w_fail(w, "copy attribute", name);
            if (b >= 0)
                H5Aclose(b);
            if (H5Tis_variable_str(t) > 0)
                H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
        }
        free(buf);
        if (sp >= 0)
            H5Sclose(sp);
        if (t >= 0)
            H5Tclose(t);
        if (a >= 0)
            H5Aclose(a);
        if (!ok)
            return -1;
    }
    return 0;
}

static int copy_dataset(h5w *w, hid_t src, const char *name, hid_t dst)
{
    hid_t d = H5Dopen2(src, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    size_t size = H5Tget_size(t);
    int rc = -1;
    void *buf = NULL;
    if (rank >= 0 && rank <= 8 && n >= 0 && size &&
        H5Sget_simple_extent_dims(sp, dims, NULL) == rank &&
        (size_t)n < ((size_t)1 << 34) / size &&
        (buf = malloc((size_t)n * size + 1)) &&
        (n == 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)) {
        w->no_meta = 1;   /* the source's own attributes are copied */
        h5w_dataset(w, dst, name, t, t, rank, dims, buf);
        w->no_meta = 0;
        hid_t e = w->st ? -1 : H5Dopen2(dst, name, H5P_DEFAULT);
        htri_t is_scale = H5DSis_scale(d);   /* < 0: an error, not "no" */
        if (e >= 0 && is_scale >= 0) {
            rc = copy_attrs(w, d, e, is_scale > 0);
            H5Dclose(e);
        }
        if (H5Tis_variable_str(t) > 0 && n > 0)
            H5Dvlen_reclaim(t, sp, H5P_DEFAULT, buf);
    }
    free(buf);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

static int copy_tree(pack_t *p, hid_t src, hid_t dst, const char *rel);

/* The shared copy of src/name (content hash `hash`): found, or made. */
static int link_shared(pack_t *p, int kind, hid_t src, const char *name,
                       hid_t dst)
{
    hid_t g = H5Gopen2(src, name, H5P_DEFAULT);
    uint8_t hash[32];
    if (g < 0 || content_digest(g, hash)) {
        if (g >= 0)
            H5Gclose(g);
        return -1;
    }
    hash[0] ^= (uint8_t)kind;   /* the kinds never match each other */
    if (2 * (p->n + 1) > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        shared_obj_t *t = calloc(cap, sizeof *t);
        if (!t) {
            H5Gclose(g);
            return -1;
        }
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->objs[i].path[0])
                continue;
            uint64_t k;
            memcpy(&k, p->objs[i].hash, 8);
            size_t j = (size_t)k & (cap - 1);
            while (t[j].path[0])
                j = (j + 1) & (cap - 1);
            t[j] = p->objs[i];
        }
        free(p->objs);
        p->objs = t;
        p->cap = cap;
    }
    uint64_t k;
    memcpy(&k, hash, 8);
    size_t j = (size_t)k & (p->cap - 1);
    while (p->objs[j].path[0] && memcmp(p->objs[j].hash, hash, 32))
        j = (j + 1) & (p->cap - 1);
    int rc = 0;
    if (!p->objs[j].path[0]) {
        if (p->g_kind[kind] < 0)
            p->g_kind[kind] = h5w_group(p->w, p->f, shared_kinds[kind]);
        char sub[24];
        snprintf(sub, sizeof sub, "%llu", (unsigned long long)p->n_kind[kind]);
        hid_t s = h5w_group(p->w, p->g_kind[kind], sub);
        rc = s < 0 || copy_attrs(p->w, g, s, 0) || copy_tree(p, g, s, "-");
        if (s >= 0)
            H5Gclose(s);
        memcpy(p->objs[j].hash, hash, 32);
        snprintf(p->objs[j].path, sizeof p->objs[j].path, "/%s/%s",
                 shared_kinds[kind], sub);
        p->n_kind[kind]++;
        p->n++;
    }
    H5Gclose(g);
    if (!rc && H5Lcreate_hard(p->f, p->objs[j].path, dst, name, H5P_DEFAULT,
                              H5P_DEFAULT) < 0)
        rc = h5w_fail(p->w, "link", p->objs[j].path);
    return rc;
}

/* Copies the links of group src into dst, in name order; rel is src's
 * path below the job's root ("" at the root, "-" inside a shared group). */
static int copy_tree(pack_t *p, hid_t src, hid_t dst, const char *rel)
{
    H5G_info_t gi;
    if (H5Gget_info(src, &gi) < 0 || gi.nlinks > 100000)
        return -1;
    char (*names)[64] = calloc(gi.nlinks + 1, sizeof *names);
    if (!names)
        return -1;
    int rc = 0;
    for (hsize_t i = 0; i < gi.nlinks && !rc; i++)
    {
        ssize_t len = H5Lget_name_by_idx(src, ".", H5_INDEX_NAME, H5_ITER_INC,
                                         i, names[i], sizeof names[i],
                                         H5P_DEFAULT);
        if (len <= 0 || len >= (ssize_t)sizeof names[i])
            rc = -1;   /* regsweep's names are short: damage */
    }
    const char *scales[64];
    int n_scales = 0;
    for (hsize_t i = 0; i < gi.nlinks && !rc && !p->w->st; i++) {
        H5O_info_t oi;
        if (H5Oget_info_by_name2(src, names[i], &oi, H5O_INFO_BASIC,
                                 H5P_DEFAULT) < 0) {
            rc = -1;
            break;
        }
        char sub[160];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        if (oi.type == H5O_TYPE_GROUP) {
            int kind = !strcmp(sub, "weights/init")        ? 0
                       : !strcmp(sub, "masks")             ? 1
                       : !strcmp(sub, "dropconnect_masks") ? 2 : -1;
            if (kind >= 0) {
                rc = link_shared(p, kind, src, names[i], dst);
                continue;
            }
            hid_t s = H5Gopen2(src, names[i], H5P_DEFAULT);
            hid_t d = s < 0 ? -1 : h5w_group(p->w, dst, names[i]);
            rc = d < 0 || copy_attrs(p->w, s, d, 0) ||
                 copy_tree(p, s, d, !strcmp(rel, "-") ? "-" : sub);
            if (d >= 0)
                H5Gclose(d);
            if (s >= 0)
                H5Gclose(s);
        } else if (oi.type == H5O_TYPE_DATASET) {
            rc = copy_dataset(p->w, src, names[i], dst);
            hid_t d = rc ? -1 : H5Dopen2(src, names[i], H5P_DEFAULT);
            htri_t is_scale = d >= 0 ? H5DSis_scale(d) : -1;
            if (!rc && (is_scale < 0 || (is_scale > 0 && n_scales == 64)))
                rc = -1;   /* an error (e.g. out of memory), not "no" */
            else if (is_scale > 0)
                scales[n_scales++] = names[i];
            if (d >= 0)
                H5Dclose(d);
        } else {
            rc = -1;   /* regsweep writes no other kind of object */
        }
    }
    /* dimension scales: attach in dst what was attached in src */
    for (int k = 0; k < n_scales && !rc && !p->w->st; k++) {
        const char *att[64];
        int n_att = 0;
        hid_t sc = H5Dopen2(src, scales[k], H5P_DEFAULT);
        if (sc < 0)
            rc = -1;
        for (hsize_t i = 0; sc >= 0 && !rc && i < gi.nlinks; i++) {
            if (!strcmp(names[i], scales[k]))
                continue;
            hid_t d = H5Oopen(src, names[i], H5P_DEFAULT);
            if (d < 0) {
                rc = -1;
                break;
            }
            if (H5Iget_type(d) == H5I_DATASET) {
                /* every answer is checked: an error (out of memory inside
                 * HDF5) must not pass for "not attached" */
                htri_t at = H5DSis_attached(d, sc, 0);
                if (at < 0 || (at > 0 && n_att == 64))
                    rc = -1;
                else if (at > 0)
                    att[n_att++] = names[i];
            }
            H5Oclose(d);
        }
        if (sc >= 0)
            H5Dclose(sc);
        if (rc)
            break;
        attach_scale(p->w, dst, scales[k], att, n_att);
    }
    free(names);
    return rc || p->w->st ? -1 : 0;
}
/* Copies every finished job into /runs/<id>: from its job file when there
 * is one, else from /runs/<id> of the earlier OUT.h5 (old_path, or NULL).
 * from_file[i] = 1 for the jobs taken from job files (removed once the
 * new file is in place). */
/* Where a merge finds the jobs of its parts: src[i] = p + 1 when job i
 * comes from parts[p] (its journal, else its packed /runs), 0 otherwise. */
typedef struct merge_src {
    int n_parts;
    const char *const *parts;
    const uint16_t *src;
} merge_src;

/* Opens job from a results file `where` (OUT.h5 or a part): its job file
 * in the journal beside it, else its /runs copy.  0, 1 (in neither), -1. */
static int open_job_anywhere(const char *where, const rs_spec_t *spec,
                             const rs_job_t *job, job_loc *jl, int verify,
                             rs_error_t *err)
{
    char dir[RS_PATH_BUF];
    if (rs_store_jobs_dir(where, dir, sizeof dir))
        return rs_error_set(err, RS_EINPUT, where, 0, 0, "path too long"), -1;
    struct stat sb;
    int rc = open_job_how(dir, 0, spec, job, jl, verify, err);
    if (rc == 1 && stat(where, &sb) == 0 && S_ISREG(sb.st_mode))
        rc = open_job_how(where, 1, spec, job, jl, verify, err);
    return rc;
}

static void pack_runs(h5w *w, hid_t f, const rs_spec_t *spec,
                      const rs_job_summary_t *rows, const char *jobs_dir,
                      const char *old_path, const merge_src *m,
                      uint8_t *from_file)
{
    hid_t g = h5w_group(w, f, "runs");
    if (g < 0)
        return;
    pack_t p = {.w = w, .f = f, .g_kind = {-1, -1, -1}};
    for (uint64_t i = 0; i < spec->n_jobs && !w->st; i++) {
        if (!rs_job_finished(rows[i].status))
            continue;
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        job_loc jl;
        rs_error_t jerr;
        rs_error_clear(&jerr);
        /* integrity before trust: open_job verifies the content checksum
         * (H5Ocopy or reads of damaged objects can crash libhdf5 1.10.8) */
        int rc = open_job(jobs_dir, 0, spec, &job, &jl, &jerr);
        from_file[i] = rc == 0;
        if (rc == 1 && old_path)
            rc = open_job(old_path, 1, spec, &job, &jl, &jerr);
        if (rc == 1 && m && m->src[i])   /* a merge: from its part */
            rc = open_job_anywhere(m->parts[m->src[i] - 1], spec, &job, &jl,
                                   1, &jerr);
        if (rc == 1) {
            /* it was there when the job finished: something removed it */
            char path[RS_PATH_JOIN];
            snprintf(path, sizeof path, "%s/%s.h5", jobs_dir, job.id);
            w->st = rs_error_set(w->err, RS_EIO, path, 0, 0,
                                 "finished job %s vanished: its job file is "
                                 "gone and the results file does not hold "
                                 "it (was the folder cleaned while the sweep "
                                 "ran?); run --resume recomputes it", job.id);
            break;
        }
        if (rc < 0) {
            *w->err = jerr;
            w->st = jerr.code ? jerr.code : RS_EINPUT;
            break;
        }
        hid_t d = h5w_group(w, g, job.id);
        if (d >= 0 && (copy_attrs(w, jl.loc, d, 0) || copy_tree(&p, jl.loc, d, "")))
            h5w_fail(w, "copy the job", job.id);
        if (d >= 0)
            H5Gclose(d);
        close_job(&jl);
    }
    static const char *const kind_text[3] = {
        "initial weights, each distinct set once; /runs/<id>/weights/init "
        "is a hard link to one",
        "recorded dropout masks, each distinct set once; /runs/<id>/masks "
        "is a hard link to one",
        "recorded DropConnect masks, each distinct set once; "
        "/runs/<id>/dropconnect_masks is a hard link to one"};
    for (int k = 0; k < 3; k++) {
        if (p.g_kind[k] < 0)
            continue;
        attr_str(w, p.g_kind[k], "description", kind_text[k]);
        H5Gclose(p.g_kind[k]);
    }
    free(p.objs);
    attr_str(w, g, "description",
             "one group per finished job, named by its id: the job's "
             "curves, weights and masks (docs/FORMAT.md)");
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
        if (p->shard[0])
            attr_str(w, g, "shard", p->shard);
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

static rs_status write_analysis_file(const char *path, rs_error_t *err);

static rs_status write_top(const char *out_path, const rs_spec_t *spec,
                           const rs_job_summary_t *rows,
                           const rs_provenance_t *prov, const merge_src *m,
                           rs_error_t *err)
{
    char tmp[RS_PATH_JOIN], jobs_dir[RS_PATH_BUF], target[RS_PATH_BUF];
    char side[RS_PATH_BUF];
    rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir);
    if (write_target(out_path, target, sizeof target, err))
        return RS_EINPUT;
    out_path = target;
    if (rs_store_analysis_path(out_path, side, sizeof side))
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "path too long");
    tmp_name(out_path, tmp, sizeof tmp);
    /* the earlier OUT.h5 holds the jobs packed before */
    struct stat sb;
    const char *old = stat(out_path, &sb) == 0 && S_ISREG(sb.st_mode) ? out_path
                                                                      : NULL;
    /* built in memory when that costs little (see create_mem_file), else
     * written by HDF5 after checking there is room for it */
    uint64_t estimate = top_size_estimate(spec, rows, jobs_dir) +
                        (old ? (uint64_t)sb.st_size : 0);
    for (int p = 0; m && p < m->n_parts; p++) {   /* a merge: at most all */
        char dir[RS_PATH_BUF];                    /* of every part       */
        estimate += file_bytes(m->parts[p]);
        if (rs_store_jobs_dir(m->parts[p], dir, sizeof dir) == 0)
            estimate += top_size_estimate(spec, rows, dir);
    }
    int in_memory = estimate <= RS_TOP_IN_MEMORY_MAX;
    if (!in_memory) {
        rs_status room = check_room(tmp, estimate, err);
        if (room)
            return room;
    }
    uint8_t *from_file = calloc(spec->n_jobs + 1, 1);
    if (!from_file)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    hid_t f = in_memory ? create_mem_file(tmp, err) : create_file(tmp, err);
    if (f < 0) {
        free(from_file);
        return in_memory ? RS_ENOMEM : RS_EIO;
    }
    h5w w;
    h5w_open(&w, tmp, err);
    w.in_memory = in_memory;
    w.packed = 1;
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
    pack_runs(&w, f, spec, rows, jobs_dir, old, m, from_file);
    write_provenance(&w, f, spec, prov, jobs_dir);
    /* /analysis: an external link to OUT.analysis.h5 beside it, which
     * report replaces whole at the cost of the analysis alone */
    const char *side_base = strrchr(side, '/');
    side_base = side_base ? side_base + 1 : side;
    if (!w.st && H5Lcreate_external(side_base, "/analysis", f, "analysis",
                                    H5P_DEFAULT, H5P_DEFAULT) < 0)
        h5w_fail(&w, "link", "/analysis");
    h5w_close(&w);
    rs_status st = w.st;
    /* the packed jobs' analysis is stale: an empty one replaces it */
    if (!st)
        st = write_analysis_file(side, err);
    if (in_memory) {
        if (st)
            H5Fclose(f);
        else
            st = save_mem_file(f, tmp, out_path, err);
    } else {
        if (H5Fclose(f) < 0 && st == RS_OK)
            st = rs_error_set(err, RS_EIO, tmp, 0, 0,
                              "HDF5 could not close the file (disk full?)");
        if (st)
            unlink(tmp);
        else
            st = commit_file(tmp, out_path, err);
    }
    /* OUT.h5 now holds every finished job: their job files go (a crash
     * before this leaves duplicates, which the next pack removes) */
    int removed = 0;
    for (uint64_t i = 0; !st && i < spec->n_jobs; i++) {
        if (!from_file[i])
            continue;
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        char path[RS_PATH_JOIN];
        snprintf(path, sizeof path, "%s/%s.h5", jobs_dir, job.id);
        removed += unlink(path) == 0;
    }
    if (removed)
        fsync_path(jobs_dir, 1, NULL);
    free(from_file);
    return st;
}

static rs_status store_write_top_unguarded(const char *out_path, const rs_spec_t *spec,
                             const rs_job_summary_t *rows,
                             const rs_provenance_t *prov, rs_error_t *err)
{
    rs_status st = write_top(out_path, spec, rows, prov, NULL, err);
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

/* The number of variable-length strings dataset d holds (a list: 1-D; a
 * value: one element, scalar or 1-D), -1 if it holds anything else or more
 * than an int counts (rs_spec_parse's n_overrides), so that the read that
 * follows fits the buffer sized from it. */
static hssize_t vlen_strings(hid_t d, int list)
{
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0 ||
        (list ? rank != 1 : n != 1) || n < 0 || n > INT_MAX)
        n = -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    return n;
}

/* ---- merge ---------------------------------------------------------------- */

static rs_status store_read_spec_unguarded(const char *out_path, rs_spec_t *spec,
                                           rs_error_t *err);

/* The content checksum that job's copy in `where` (OUT.h5 or a part: its
 * job file, else its /runs) was written with; "" if neither holds it. */
static int stored_digest(const char *where, const rs_spec_t *spec,
                         const rs_job_t *job, char hex[65], rs_error_t *err)
{
    job_loc jl;
    hex[0] = '\0';
    int rc = open_job_anywhere(where, spec, job, &jl, 0, err);
    if (rc)
        return rc < 0 ? -1 : 0;
    if (read_attr_str(jl.loc, "content_sha256", hex, 65)) {
        rs_error_set(err, RS_EINPUT, jl.path, 0, 0, "has no content checksum");
        rc = -1;
    }
    close_job(&jl);
    return rc;
}

/* A part must be a results file of this spec made by this regsweep. */
static rs_status check_part(const char *part, const rs_spec_t *spec,
                            rs_error_t *err)
{
    rs_spec_t ps;
    rs_status st = store_read_spec_unguarded(part, &ps, err);
    if (st)
        return st;
    char theirs[65];
    memcpy(theirs, ps.sha256, sizeof theirs);
    rs_spec_free(&ps);
    if (strcmp(theirs, spec->sha256))
        return rs_error_set(err, RS_EINPUT, part, 0, 0,
                            "is a part of another sweep: its spec or "
                            "overrides differ (sha256 %.12s..., the merge's "
                            "%.12s...); merge only the parts of one spec",
                            theirs, spec->sha256);
    char version[64] = "";
    hid_t f = H5Fopen(part, H5F_ACC_RDONLY, H5P_DEFAULT);
    int bad = f < 0 || read_attr_str(f, "regsweep_version", version,
                                      sizeof version);
    if (f >= 0)
        H5Fclose(f);
    if (bad || strcmp(version, RS_VERSION))
        return rs_error_set(err, RS_EINPUT, part, 0, 0,
                            "was made by regsweep %s, this is %s: results "
                            "are only the same bits with the same version; "
                            "merge with the regsweep that ran the shards",
                            version[0] ? version : "(unknown)", RS_VERSION);
    return RS_OK;
}

static rs_status read_rows_unguarded(const char *out_path, const rs_spec_t *spec,
                                     int verify, rs_job_summary_t *rows,
                                     uint8_t *damaged, uint64_t *n_journal,
                                     rs_error_t *err);

/* Takes part p's finished jobs that rows lacks (src[i] = p + 1); a job both
 * hold must be the same bits (the same content checksum). */
static rs_status take_part(const char *out_path, const rs_spec_t *spec,
                           const char *const *parts, int p,
                           rs_job_summary_t *rows, rs_job_summary_t *prow,
                           uint16_t *src, uint64_t *taken, rs_error_t *err)
{
    uint64_t n_journal;
    rs_status st = read_rows_unguarded(parts[p], spec, 0, prow, NULL,
                                       &n_journal, err);
    for (uint64_t i = 0; !st && i < spec->n_jobs; i++) {
        if (!rs_job_finished(prow[i].status)) {
            if (prow[i].status == RS_JOB_FAILED && rows[i].status == RS_JOB_MISSING)
                rows[i].status = RS_JOB_FAILED;
            continue;
        }
        if (!rs_job_finished(rows[i].status)) {
            rows[i] = prow[i];
            src[i] = (uint16_t)(p + 1);
            (*taken)++;
            continue;
        }
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        char a[65], b[65];
        const char *holder = src[i] ? parts[src[i] - 1] : out_path;
        if (stored_digest(holder, spec, &job, a, err) ||
            stored_digest(parts[p], spec, &job, b, err))
            return err && err->code ? err->code : RS_EINPUT;
        if (strcmp(a, b))
            return rs_error_set(err, RS_EMISMATCH, parts[p], 0, 0,
                                "job %s differs from its copy in %s (content "
                                "%.12s... vs %.12s...): the same job of the "
                                "same spec and version gave different bits; "
                                "check both with regsweep rerun", job.id,
                                holder, b, a);
    }
    return st;
}

static rs_status merge_unguarded(const char *out_path, const rs_spec_t *spec,
                                 int n_parts, const char *const *parts,
                                 const rs_provenance_t *prov,
                                 rs_job_summary_t *rows, uint64_t *taken,
                                 rs_error_t *err)
{
    uint64_t n = spec->n_jobs, n_journal;
    rs_status st = read_rows_unguarded(out_path, spec, 0, rows, NULL,
                                       &n_journal, err);
    if (st)
        return st;
    uint16_t *src = calloc(n + 1, sizeof *src);
    rs_job_summary_t *prow = malloc((n + 1) * sizeof *prow);
    if (!src || !prow) {
        free(src);
        free(prow);
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (int p = 0; !st && p < n_parts; p++) {
        taken[p] = 0;
        st = check_part(parts[p], spec, err);
        if (!st)
            st = take_part(out_path, spec, parts, p, rows, prow, src,
                           &taken[p], err);
    }
    merge_src m = {n_parts, parts, src};
    if (!st)
        st = write_top(out_path, spec, rows, prov, &m, err);
    H5garbage_collect();
    free(src);
    free(prow);
    return st;
}

rs_status rs_store_merge(const char *out_path, const rs_spec_t *spec,
                         int n_parts, const char *const *parts,
                         const rs_provenance_t *prov, rs_job_summary_t *rows,
                         uint64_t *taken, rs_error_t *err)
{
    if (n_parts > UINT16_MAX - 1)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0, "at most %d parts in "
                            "one merge", UINT16_MAX - 1);
    h5_oom_clear();
    return h5_oom_guard(merge_unguarded(out_path, spec, n_parts, parts, prov,
                                        rows, taken, err), err);
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
    if (read_attr_i64(f, "format_version", &version)) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "damaged results file: no readable format_version "
                          "(one integer)");
        goto out;
    }
    if (version != RS_FORMAT_VERSION) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "results format version %lld; this regsweep reads "
                          "version %d", (long long)version, RS_FORMAT_VERSION);
        goto out;
    }
    g = H5Gopen2(f, "spec", H5P_DEFAULT);
    d = g < 0 ? -1 : H5Dopen2(g, "yaml", H5P_DEFAULT);
    if (d < 0 || vlen_strings(d, 0) != 1 ||
        H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0 || !text) {
        st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                          "no readable /spec/yaml (one string)");
        goto out;
    }
    H5Dclose(d);
    d = H5Dopen2(g, "overrides", H5P_DEFAULT);
    if (d >= 0) {
        hssize_t n = vlen_strings(d, 1);
        over = n >= 0 ? calloc((size_t)n + 1, sizeof *over) : NULL;
        n_over = over ? (hsize_t)n : 0;
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

static rs_status compare_curves(hid_t f, const char *path, unsigned q,
                                const rs_curves_t *c, double *buf,
                                rs_error_t *err)
{
    double *v[7];
    curve_arrays(c, v);
    for (int i = 0; i < 7; i++) {
        if (!has_quantities(q, curve_needs[i]))
            continue;
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
    /* ---- issue 12 (reg section): the optional curves, when recorded ---- */
    const struct { const char *name; const double *v; size_t width; } extra[3] = {
        {"curves/zero_frac", c->zero_frac, c->n_layers},
        {"curves/test_loss_mc", c->test_loss_mc, 1},
        {"curves/test_acc_mc", c->test_acc_mc, 1}};
    for (int x = 0; x < 3; x++) {
        if (!extra[x].v || (x == 2 && !has_quantities(q, Q_ACC)))
            continue;   /* regression stores no accuracy */
        size_t n = (size_t)c->n * extra[x].width;
        double *stored = malloc(n * sizeof *stored);
        if (!stored)
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        int bad = read_ds(f, extra[x].name, H5T_NATIVE_DOUBLE, stored, n);
        size_t i = 0;
        while (!bad && i < n && memcmp(&stored[i], &extra[x].v[i], sizeof *stored) == 0)
            i++;
        double was = i < n ? stored[i] : 0;
        free(stored);
        if (bad)
            return rs_error_set(err, RS_EINPUT, path, 0, 0, "cannot read %s",
                                extra[x].name);
        if (i < n && extra[x].width > 1)
            return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                "%s differs first at epoch %zu, layer %zu: "
                                "stored %.17g, recomputed %.17g", extra[x].name,
                                i / extra[x].width, i % extra[x].width, was,
                                extra[x].v[i]);
        if (i < n)
            return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                "%s differs first at epoch %zu: stored %.17g, "
                                "recomputed %.17g", extra[x].name, i, was,
                                extra[x].v[i]);
    }
    /* ---- end issue 12 ---- */
    return RS_OK;
}

/* The recorded masks of every hidden layer, bit for bit: dropout masks
 * (masks/layer<l>) or DropConnect masks (dropconnect_masks/W<l+1>). */
static rs_status compare_masks(hid_t f, const char *path,
                               const rs_job_result_t *r, int dropconnect,
                               rs_error_t *err)
{
    const char *group = dropconnect ? "dropconnect_masks" : "masks";
    for (int l = 0; l < r->n_hidden; l++) {
        const rs_mask_record_t *m = dropconnect ? &r->dc_masks[l] : &r->masks[l];
        char name[64];
        if (dropconnect)
            snprintf(name, sizeof name, "dropconnect_masks/W%d", l + 1);
        else
            snprintf(name, sizeof name, "masks/layer%d", l);
        htri_t exists = H5Lexists(f, group, H5P_DEFAULT) > 0 &&
                        H5Lexists(f, name, H5P_DEFAULT) > 0;
        if (!m->n_records) {
            if (exists)
                return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                    "%s is stored but the rerun records no "
                                    "mask for it", name);
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

/* record.act_var: the recorded steps and every statistic, bit for bit. */
static rs_status compare_act_var(hid_t f, const char *path,
                                 const rs_job_result_t *r, rs_error_t *err)
{
    const rs_act_var_record_t *av = &r->act_var;
    int stored = H5Lexists(f, "act_var", H5P_DEFAULT) > 0 &&
                 H5Lexists(f, "act_var/noise_var", H5P_DEFAULT) > 0;
    if (!av->n_records) {
        if (stored)
            return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                "act_var is stored but the rerun records no "
                                "activation variance");
        return RS_OK;
    }
    if (!stored)
        return rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                            "act_var is missing from the stored job");
    size_t n = (size_t)av->n_records * av->n_hidden;
    size_t n_buf = n > 3 * (size_t)av->n_records ? n : 3 * (size_t)av->n_records;
    double *buf = malloc(n_buf * sizeof *buf);
    if (!buf)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    rs_status st = RS_OK;
    uint32_t *ubuf = (uint32_t *)buf;
    const char *const index_names[3] = {"act_var/epoch", "act_var/step",
                                        "act_var/n_rows"};
    const uint32_t *index[3] = {av->epoch, av->step, av->n_rows};
    for (int i = 0; i < 3 && !st; i++) {
        if (read_ds(f, index_names[i], H5T_NATIVE_UINT32, ubuf, av->n_records))
            st = rs_error_set(err, RS_EINPUT, path, 0, 0, "cannot read %s "
                              "with %u records", index_names[i], av->n_records);
        for (uint32_t k = 0; !st && k < av->n_records; k++)
            if (ubuf[k] != index[i][k])
                st = rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                  "%s differs first at record %u: stored %u, "
                                  "recomputed %u", index_names[i], k, ubuf[k],
                                  index[i][k]);
    }
    for (int i = 0; i < RS_AV_N && !st; i++) {
        char name[64];
        snprintf(name, sizeof name, "act_var/%s", act_var_names[i]);
        if (read_ds(f, name, H5T_NATIVE_DOUBLE, buf, n)) {
            st = rs_error_set(err, RS_EINPUT, path, 0, 0, "cannot read %s "
                              "with %u records x %u layers", name,
                              av->n_records, av->n_hidden);
            break;
        }
        for (size_t k = 0; k < n; k++)
            if (memcmp(&buf[k], &av->v[i][k], sizeof *buf) != 0) {
                size_t rec = k / av->n_hidden;
                st = rs_error_set(err, RS_EMISMATCH, path, 0, 0,
                                  "%s differs first at record %zu (epoch %u, "
                                  "step %u), layer %zu: stored %.17g, "
                                  "recomputed %.17g", name, rec, av->epoch[rec],
                                  av->step[rec], k % av->n_hidden, buf[k],
                                  av->v[i][k]);
                break;
            }
    }
    free(buf);
    return st;
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
    const rs_arch_t *a = &job->settings.arch;
    if (!st)
        st = compare_weights(jl.loc, jl.path, "init", a, r->params_init, buf, err);
    if (!st)
        st = compare_curves(jl.loc, jl.path, spec_quantities(spec), &r->curves,
                            buf, err);
    if (!st)
        st = compare_masks(jl.loc, jl.path, r, 0, err);
    if (!st)
        st = compare_masks(jl.loc, jl.path, r, 1, err);
    if (!st)
        st = compare_act_var(jl.loc, jl.path, r, err);
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

/* Reads a whole small text file (NULL if absent or unreadable). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0, n = 0, k;
    char chunk[8192];
    while (f && (k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + k + 1 > cap) {
            size_t nc = cap ? 2 * cap : 16384;
            while (nc < n + k + 1)
                nc *= 2;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        memcpy(buf + n, chunk, k);
        n += k;
    }
    if (f)
        fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

/* The set of a text's lines, to ask whether it holds a line: open
 * addressing over pointers to the lines' starts (linear probing). */
typedef struct line_set {
    const char **slot;
    size_t mask;
} line_set;

static size_t line_len(const char *l)
{
    const char *e = strchr(l, '\n');
    return e ? (size_t)(e - l) : strlen(l);
}

static uint64_t line_hash(const char *l, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)l[i]) * 1099511628211ull;
    return h;
}

/* Finds l's slot: the one holding an equal line, or the empty one where
 * it would go. */
static const char **line_slot(const line_set *set, const char *l, size_t n)
{
    size_t i = (size_t)line_hash(l, n) & set->mask;
    while (set->slot[i] && !(line_len(set->slot[i]) == n &&
                             memcmp(set->slot[i], l, n) == 0))
        i = (i + 1) & set->mask;
    return &set->slot[i];
}

/* The lines of text (may be NULL); -1 out of memory. */
static int line_set_build(line_set *set, const char *text)
{
    size_t n = 0;
    for (const char *p = text; p && *p; p += line_len(p) + (p[line_len(p)] != 0))
        n++;
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    set->mask = cap - 1;
    if (!(set->slot = calloc(cap, sizeof *set->slot)))
        return -1;
    for (const char *p = text; p && *p; p += line_len(p) + (p[line_len(p)] != 0))
        *line_slot(set, p, line_len(p)) = p;
    return 0;
}

/* Appends to dir/name the complete lines of from/name it lacks (a merge
 * run again adds nothing).  Linear in the two files' sizes. */
static rs_status adopt_lines(const char *dir, const char *from, const char *name,
                             rs_error_t *err)
{
    char src[RS_PATH_JOIN], dst[RS_PATH_JOIN];
    snprintf(src, sizeof src, "%s/%s", from, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    size_t n_new = 0, n_old = 0;
    char *add = slurp(src, &n_new), *have = slurp(dst, &n_old);
    line_set set = {NULL, 0};
    rs_status st = RS_OK;
    if (add && line_set_build(&set, have))
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    int fd = add && !st ? open(dst, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                        : -1;
    if (add && !st && fd < 0)
        st = rs_error_set(err, RS_EIO, dst, 0, 0, "cannot open: %s",
                          strerror(errno));
    for (const char *line = add; !st && line && *line;) {
        size_t len = line_len(line);
        int complete = line[len] == '\n';
        const char **slot = line_slot(&set, line, len);
        if (complete && !*slot &&
            write(fd, line, len + 1) != (ssize_t)(len + 1))
            st = rs_error_set(err, RS_EIO, dst, 0, 0, "cannot append: %s",
                              strerror(errno));
        line += len + complete;
    }
    if (fd >= 0 && fsync(fd) != 0 && !st)
        st = rs_error_set(err, RS_EIO, dst, 0, 0, "cannot fsync: %s",
                          strerror(errno));
    if (fd >= 0)
        close(fd);
    free(set.slot);
    free(add);
    free(have);
    return st;
}

rs_status rs_store_adopt_logs(const char *jobs_dir, const char *part_jobs_dir,
                              rs_error_t *err)
{
    rs_status st = adopt_lines(jobs_dir, part_jobs_dir, "runs.tsv", err);
    return st ? st : adopt_lines(jobs_dir, part_jobs_dir, "provenance.tsv", err);
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

/* ---- /analysis ------------------------------------------------------------- *
 *
 * The report's tables live in OUT.analysis.h5 beside OUT.h5, under its
 * group /analysis; OUT.h5's /analysis is an external link to it, made when
 * OUT.h5 is written.  report replaces that small file whole (built in
 * memory, tmp + fsync + rename), so storing an analysis costs what the
 * analysis costs, never a rewrite of the results, and a kill at any moment
 * leaves either the old or the new analysis. */

int rs_store_analysis_path(const char *out_path, char *buf, size_t n_bytes)
{
    char jobs[RS_PATH_BUF];
    if (rs_store_jobs_dir(out_path, jobs, sizeof jobs))
        return -1;
    size_t len = strlen(jobs) - strlen(".jobs");
    int k = snprintf(buf, n_bytes, "%.*s.analysis.h5", (int)len, jobs);
    return k < 0 || (size_t)k >= n_bytes ? -1 : 0;
}

struct rs_analysis {
    hid_t file, group;
    h5w w;
    char path[RS_PATH_BUF], tmp[RS_PATH_JOIN];
};

static rs_status analysis_create(const char *side, const char *description,
                                 rs_analysis_t **out, rs_error_t *err)
{
    *out = NULL;
    rs_analysis_t *a = calloc(1, sizeof *a);
    if (!a)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    snprintf(a->path, sizeof a->path, "%s", side);
    tmp_name(a->path, a->tmp, sizeof a->tmp);
    a->group = -1;
    a->file = create_mem_file(a->tmp, err);
    if (a->file < 0) {
        free(a);
        return RS_ENOMEM;
    }
    h5w_open(&a->w, a->tmp, err);
    a->w.in_memory = 1;
    a->w.packed = 1;
    attr_str(&a->w, a->file, "format", "regsweep-analysis");
    attr_i32(&a->w, a->file, "format_version", RS_FORMAT_VERSION);
    a->group = h5w_group(&a->w, a->file, "analysis");
    if (a->group >= 0)
        attr_str(&a->w, a->group, "description", description);
    rs_status st = a->w.st;
    if (st) {
        rs_store_analysis_abort(&a);
        return st;
    }
    *out = a;
    return RS_OK;
}

static rs_status analysis_commit(rs_analysis_t **pa, rs_error_t *err);

static rs_status write_analysis_file(const char *path, rs_error_t *err)
{
    rs_analysis_t *a;
    rs_status st = analysis_create(path, "empty: no report since the results "
                                         "last changed (regsweep report "
                                         "writes it)", &a, err);
    return st ? st : analysis_commit(&a, err);
}

static rs_status analysis_begin_unguarded(const char *out_path,
                                          rs_analysis_t **out, rs_error_t *err)
{
    char target[RS_PATH_BUF], side[RS_PATH_BUF];
    *out = NULL;
    if (write_target(out_path, target, sizeof target, err))
        return RS_EINPUT;
    if (rs_store_analysis_path(target, side, sizeof side))
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "path too long");
    return analysis_create(side, "written by regsweep report; replaced by "
                                 "an empty one whenever the results change",
                           out, err);
}

/* The steps of storing an analysis are public, so each is guarded: HDF5
 * building the file in memory can run out of it, and report must then say
 * out of memory, not that OUT.h5 is damaged. */
rs_status rs_store_analysis_begin(const char *out_path, rs_analysis_t **out,
                                  rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(analysis_begin_unguarded(out_path, out, err), err);
}

static rs_status analysis_table_unguarded(rs_analysis_t *a, const char *table,
                                          const rs_table_col_t *cols,
                                          int n_cols, uint64_t n_rows,
                                          const char *description,
                                          rs_error_t *err)
{
    a->w.err = err;
    hid_t g = h5w_group(&a->w, a->group, table);
    if (g >= 0) {
        for (int c = 0; c < n_cols && !a->w.st; c++) {
            if (cols[c].is_text)
                ds_strings(&a->w, g, cols[c].name, cols[c].text, n_rows);
            else
                ds_f64(&a->w, g, cols[c].name, cols[c].num, n_rows);
            hid_t d = a->w.st ? -1 : H5Dopen2(g, cols[c].name, H5P_DEFAULT);
            if (d >= 0) {
                char desc[160];
                snprintf(desc, sizeof desc, "column '%s' of the report's %s "
                         "table (docs/ANALYSIS.md)", cols[c].name, table);
                attr_str(&a->w, d, "units", cols[c].is_text ? "" : "1");
                attr_str(&a->w, d, "description", desc);
                H5Dclose(d);
            }
        }
        attr_str(&a->w, g, "description", description);
        H5Gclose(g);
    }
    return a->w.st;
}

rs_status rs_store_analysis_table(rs_analysis_t *a, const char *table,
                                  const rs_table_col_t *cols, int n_cols,
                                  uint64_t n_rows, const char *description,
                                  rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(analysis_table_unguarded(a, table, cols, n_cols, n_rows,
                                                 description, err), err);
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

/* unguarded: write_top calls it inside its own guard */
static rs_status analysis_commit(rs_analysis_t **pa, rs_error_t *err)
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

rs_status rs_store_analysis_commit(rs_analysis_t **pa, rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(analysis_commit(pa, err), err);
}

/* ---- the state of a sweep -------------------------------------------------- */

typedef struct id_index {
    char id[13];
    uint64_t index;
} id_index_t;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const id_index_t *)a)->id, ((const id_index_t *)b)->id);
}

static rs_status read_rows_once(const char *out_path, const rs_spec_t *spec,
                                int verify, rs_job_summary_t *rows,
                                uint8_t *damaged, uint64_t *n_journal,
                                uint64_t *n_vanished, rs_error_t *err);

/* A pack that runs meanwhile replaces OUT.h5 and then deletes job files,
 * so a job file listed but gone by the time it is read has moved into the
 * new OUT.h5: read again (a pack is rare; three reads always suffice in
 * practice, and the last one's answer is a valid, if older, state). */
static rs_status read_rows_unguarded(const char *out_path, const rs_spec_t *spec,
                                     int verify, rs_job_summary_t *rows,
                                     uint8_t *damaged, uint64_t *n_journal,
                                     rs_error_t *err)
{
    uint64_t vanished = 0;
    rs_status st;
    int tries = 0;
    do
        st = read_rows_once(out_path, spec, verify, rows, damaged, n_journal,
                            &vanished, err);
    while (st == RS_OK && vanished && ++tries < 3);
    return st;
}

static rs_status read_rows_once(const char *out_path, const rs_spec_t *spec,
                                int verify, rs_job_summary_t *rows,
                                uint8_t *damaged, uint64_t *n_journal,
                                uint64_t *n_vanished, rs_error_t *err)
{
    *n_vanished = 0;
    uint64_t n = spec->n_jobs;
    *n_journal = 0;
    for (uint64_t i = 0; i < n; i++) {
        memset(&rows[i], 0, sizeof rows[i]);
        rows[i].status = RS_JOB_MISSING;
        if (damaged)
            damaged[i] = 0;
    }
    struct stat sb;
    rs_status st = RS_OK;
    if (stat(out_path, &sb) == 0) {
        hid_t f = H5Fopen(out_path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0)
            return rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                                "HDF5 cannot open it (damaged?)");
        st = read_table_rows(f, out_path, spec, rows, err);
        /* with verify, every packed job's content against its checksum */
        for (uint64_t i = 0; verify && !st && i < n; i++) {
            if (!rs_job_finished(rows[i].status))
                continue;
            rs_job_t job;
            rs_spec_job(spec, i, &job);
            job_loc jl;
            int rc = open_run(f, out_path, spec, &job, &jl, 1, err);
            if (rc == 1)   /* read_table_rows found it a moment ago */
                st = rs_error_set(err, RS_EINPUT, out_path, 0, 0,
                                  "cannot open /runs/%s", job.id);
            else if (rc)
                st = RS_EINPUT;
            else
                close_job(&jl);
        }
        H5Fclose(f);
        if (st)
            return st;
    }
    /* job files: the jobs finished since the last pack */
    char jobs_dir[RS_PATH_BUF];
    if (rs_store_jobs_dir(out_path, jobs_dir, sizeof jobs_dir))
        return rs_error_set(err, RS_EINPUT, out_path, 0, 0, "path too long");
    DIR *d = opendir(jobs_dir);
    if (!d)
        return RS_OK;
    id_index_t *map = NULL;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len != 15 || strcmp(e->d_name + 12, ".h5") ||
            strspn(e->d_name, "0123456789abcdef") != 12)
            continue;
        if (!map) {
            map = malloc((n + 1) * sizeof *map);
            if (!map) {
                st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
                break;
            }
            for (uint64_t i = 0; i < n; i++) {
                rs_job_t job;
                rs_spec_job(spec, i, &job);
                memcpy(map[i].id, job.id, 13);
                map[i].index = i;
            }
            qsort(map, n, sizeof *map, cmp_id);
        }
        id_index_t key;
        memcpy(key.id, e->d_name, 12);
        key.id[12] = '\0';
        const id_index_t *hit = bsearch(&key, map, n, sizeof *map, cmp_id);
        if (!hit)
            continue;   /* not a job of this spec: not ours to judge */
        rs_job_t job;
        rs_spec_job(spec, hit->index, &job);
        rs_job_summary_t row;
        rs_error_t jerr;
        rs_error_clear(&jerr);
        rs_status js = rs_store_read_summary(jobs_dir, 0, spec, &job, &row, &jerr);
        if (js == RS_EMISMATCH && damaged) {
            damaged[hit->index] = 1;
            continue;
        }
        if (js) {
            *err = jerr;
            st = js;
            break;
        }
        if (row.status != RS_JOB_MISSING) {
            rows[hit->index] = row;
            (*n_journal)++;
        } else {
            (*n_vanished)++;   /* listed, then gone: packed meanwhile */
        }
    }
    closedir(d);
    free(map);
    return st;
}

rs_status rs_store_read_rows(const char *out_path, const rs_spec_t *spec,
                             int verify, rs_job_summary_t *rows,
                             uint8_t *damaged, uint64_t *n_journal,
                             rs_error_t *err)
{
    h5_oom_clear();
    return h5_oom_guard(read_rows_unguarded(out_path, spec, verify, rows, damaged,
                                            n_journal, err), err);
}

/* ---- size up front ------------------------------------------------------- */

/* HDF5's own bytes per job (object headers, B-trees, heaps), measured on
 * job files of this version, rounded up. */
#define JOB_OVERHEAD 20480u

/* The (epoch, step) pairs rs_record_selected selects among epochs x steps:
 * a product, because the selection is epochs x steps (the lists are
 * sorted and unique), so a long epochs axis costs no epochs x steps loop
 * per combination. */
static uint64_t selected_records(const rs_record_sel_t *sel, uint32_t epochs,
                                 uint32_t steps)
{
    if (sel->all)
        return (uint64_t)epochs * steps;
    uint64_t n_e = 0, n_s = 0;
    if (sel->epochs_all)
        n_e = epochs;
    else
        for (uint32_t i = 0; i < sel->n_epochs; i++)
            n_e += sel->epochs[i] < epochs;
    if (sel->steps_all)
        n_s = steps;
    else
        for (uint32_t i = 0; i < sel->n_steps; i++)
            n_s += sel->steps[i] < steps;
    return n_e * n_s;
}

void rs_store_estimate(const rs_spec_t *spec, const uint32_t *n_train,
                       const rs_job_summary_t *rows, rs_size_estimate_t *e)
{
    memset(e, 0, sizeof *e);
    unsigned q = spec_quantities(spec);
    int n_curves = 1;
    for (int i = 0; i < 7; i++)
        n_curves += has_quantities(q, curve_needs[i]);
    /* the sizes depend on the job's own settings (extra axes): computed
     * once per combination of the extra axes, which is the slowest-varying
     * part of the index */
    uint64_t per_combo = spec->n_jobs / spec->n_combos;
    uint64_t P = 0, curves = 0, records = 0, B = 0, act_var = 0, dc = 0;
    for (uint64_t i = 0; i < spec->n_jobs; i++) {
        rs_job_t job;
        rs_spec_job(spec, i, &job);
        const rs_train_settings_t *s = &job.settings;
        const rs_arch_t *a = &s->arch;
        if (i % per_combo == 0) {
            uint32_t n = n_train[job.combo];
            uint32_t steps = rs_train_steps_per_epoch(s, n);
            B = s->batch_size >= n ? n : s->batch_size;
            records = s->record_masks ? selected_records(&s->mask_sel, s->epochs,
                                                         steps) : 0;
            P = rs_arch_n_params(a);
            curves = (uint64_t)n_curves * (s->epochs + 1) * 8;
            /* record.act_var: 3 u32 and 4 f64 per hidden layer a record */
            act_var = s->record_act_var
                          ? selected_records(&s->act_var_sel, s->epochs, steps) *
                                (12 + 32 * (uint64_t)(a->n_layers - 1))
                          : 0;
            curves += act_var;
            /* record.dropconnect_masks: a bit per masked weight a record */
            dc = 0;
            uint64_t dc_rec = s->record_dc_masks
                                  ? selected_records(&s->dc_mask_sel, s->epochs,
                                                     steps) : 0;
            for (int l = 0; dc_rec && l + 1 < a->n_layers; l++)
                if (s->reg.dropconnect_keep[l] > 0.0f &&
                    s->reg.dropconnect_keep[l] < 1.0f)
                    dc += dc_rec * (a->sizes[l + 1] *
                                    (uint64_t)((a->sizes[l + 2] + 7) / 8));
            dc += dc ? 8 * dc_rec : 0;
            if (dc > e->dc_masks_max)
                e->dc_masks_max = dc;
            if (2 * P * 4 > e->weights_per_job)
                e->weights_per_job = 2 * P * 4;
            if (curves > e->curves_per_job)
                e->curves_per_job = curves;
            if (records > e->records)
                e->records = records;
        }
        uint64_t masks = 0;
        for (int l = 0; l + 1 < a->n_layers; l++)
            if (job.hp.keep_prob[l] < 1.0f)
                masks += records * (B * ((a->sizes[l + 1] + 7) / 8) + 12);
        uint64_t bytes = 2 * P * 4 + curves + masks + dc + JOB_OVERHEAD;
        e->all_job_files += bytes;
        if (!rows || !rs_job_finished(rows[i].status)) {
            e->todo_job_files += bytes;
            e->n_todo++;
        }
        e->masks_max = masks > e->masks_max ? masks : e->masks_max;
        /* the packed file stores each (seed, keep_prob) mask set once and
         * each seed's initial weights once per combination: an upper
         * estimate without compression, counting a job's masks when it is
         * the first job of its seed and keep_prob in its combination
         * (index order runs l1 and l2 inside) */
        uint64_t k = i % per_combo;
        e->packed += P * 4 + curves + JOB_OVERHEAD + 512;   /* + its row */
        if (k % ((uint64_t)spec->n_l1 * spec->n_l2 * spec->n_seeds) <
            spec->n_seeds)
            e->packed += masks + (k < spec->n_seeds ? P * 4 + dc : 0);
    }
    e->packed += (64u << 10) + spec->text_len;   /* spec, provenance */
    e->peak = e->todo_job_files + e->packed;
}
