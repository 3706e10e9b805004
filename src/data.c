/* SPDX-License-Identifier: MIT */
/* data.c — the ch311 sin regression, IDX loading (plain or gzip) and the
 * deterministic validation split.
 *
 * Memory layout: rs_dataset_t.storage points to a data_storage_t.  The sin
 * dataset lives in one allocation (the struct followed by its four float
 * arrays); an IDX dataset keeps one allocation per array read from a file
 * (so that a large file is read straight into its final place, never
 * copied) plus one for the validation split, listed in block[].
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "regsweep/data.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* RS_NO_ZLIB: the training core without zlib (e.g. cross-compiled for the
 * architecture check): the sin data only; IDX loading reports that. */
#ifndef RS_NO_ZLIB
#include <zlib.h>
#endif

#include "regsweep/detmath.h"

/* 2pi and pi rounded to float32 (0x40C90FDB, 0x40490FDB); 2pi_f == 2 * pi_f
 * exactly, so x = 2pi_f * u - pi_f lies in [-pi_f, pi_f) for u in [0, 1). */
#define RS_TWO_PI_F 6.28318548202514648438f
#define RS_PI_F 3.14159274101257324219f

enum { DATA_MAX_BLOCKS = 5 };

typedef struct data_storage {
    void *block[DATA_MAX_BLOCKS]; /* owned allocations, NULL when unused */
    float values[];               /* the sin dataset's arrays            */
} data_storage_t;

/* ---------------------------------------------------------------- sin -- */

/* Fills n points of split s (0 = train, 1 = test, 2 = validation) as
 * documented in data.h.
 * noisy = 0 gives the noiseless test targets y = rs_sinf(x). */
static void fill_sin_split(rs_key_t key, uint32_t split, uint32_t n,
                           int noisy, float noise_sd, float *x, float *y)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ctr[4] = {rs_ctr0(RS_PURPOSE_DATA, split), i, 0, 0}, w[4];
        rs_philox4x32_10(ctr, key, w);
        float xi = RS_TWO_PI_F * rs_u01(w[0]) - RS_PI_F;
        x[i] = xi;
        if (noisy) {
            float z0, z1;
            rs_normal_pair(w[2], w[3], &z0, &z1);
            y[i] = rs_sinf(xi) + noise_sd * z0;
        } else {
            y[i] = rs_sinf(xi);
        }
    }
}

rs_status rs_data_sin(const rs_sin_params_t *p, rs_dataset_t *out,
                      rs_error_t *err)
{
    if (!p || !out)
        return rs_error_set(err, RS_EINTERNAL, NULL, 0, 0,
                            "rs_data_sin: NULL argument");
    memset(out, 0, sizeof *out);
    if (p->n_train == 0)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "sin data: n_train must be at least 1");
    if (!(p->noise_sd >= 0.0f && p->noise_sd <= FLT_MAX))
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "sin data: noise_sd = %g, expected a finite "
                            "value >= 0", (double)p->noise_sd);

    uint64_t n_values = 2 * ((uint64_t)p->n_train + p->n_test + p->n_val);
    if (n_values > (SIZE_MAX - sizeof(data_storage_t)) / sizeof(float))
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "sin data: %llu points do not fit in memory",
                            (unsigned long long)(n_values / 2));
    data_storage_t *st =
        malloc(sizeof *st + (size_t)n_values * sizeof(float));
    if (!st)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "sin data: cannot allocate %llu points",
                            (unsigned long long)(n_values / 2));
    for (int b = 0; b < DATA_MAX_BLOCKS; b++)
        st->block[b] = NULL;

    float *train_x = st->values, *train_y = train_x + p->n_train;
    float *test_x = train_y + p->n_train, *test_y = test_x + p->n_test;
    float *val_x = test_y + p->n_test, *val_y = val_x + p->n_val;
    rs_key_t key = rs_key_from_seed(p->seed);
    fill_sin_split(key, 0, p->n_train, 1, p->noise_sd, train_x, train_y);
    fill_sin_split(key, 1, p->n_test, 0, 0.0f, test_x, test_y);
    fill_sin_split(key, 2, p->n_val, 1, p->noise_sd, val_x, val_y);

    out->task = RS_TASK_REGRESSION;
    out->n_in = 1;
    out->n_out = 1;
    out->train = (rs_split_t){p->n_train, train_x, NULL, train_y, NULL};
    if (p->n_test > 0)
        out->test = (rs_split_t){p->n_test, test_x, NULL, test_y, NULL};
    if (p->n_val > 0)
        out->val = (rs_split_t){p->n_val, val_x, NULL, val_y, NULL};
    out->storage = st;
    return RS_OK;
}

#ifndef RS_NO_ZLIB

/* ---------------------------------------------------------------- IDX -- */

/* Offsets below count bytes of content: the file itself when plain, the
 * decompressed stream when gzip.  zlib's gzread reads both (it looks for
 * the gzip magic 1f 8b and otherwise reads the bytes as they are), checks
 * the gzip CRC and length at the end of each member, and reads
 * concatenated members as one stream.  Note: bytes after the last gzip
 * member that do not start another member are ignored by zlib (as gzip -d
 * does, with a warning); trailing bytes INSIDE the content are an error. */
typedef struct idx_file {
    const char *path;
    gzFile gz;
    uint64_t pos;        /* content bytes consumed so far                 */
    uint64_t expected;   /* content bytes declared (header + data)        */
    uint32_t n_items;    /* dims[0]: images or labels                     */
    uint32_t dims[3];
    uint64_t item_bytes; /* product of dims[1..]: 1 for labels            */
} idx_file_t;

/* A grown buffer starts at this size and doubles, capped at the size the
 * header declares: a header that lies about a small file costs at most
 * this much memory before the shortfall is found. */
#define IDX_FIRST_ALLOC ((size_t)16 << 20)

static rs_status idx_open(idx_file_t *f, const char *path, rs_error_t *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    /* O_NONBLOCK: a FIFO without a writer must not block the open; the
     * check below refuses it, and a regular file reads as before */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return rs_error_set(err, RS_EINPUT, path, 0, 0, "cannot open: %s",
                            strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rs_error_set(err, RS_EIO, path, 0, 0, "cannot stat: %s",
                            strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "is a directory, expected an IDX file");
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rs_error_set(err, RS_EINPUT, path, 0, 0,
                            "is not a regular file (a FIFO, device or "
                            "socket), expected an IDX file");
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return rs_error_set(err, RS_ENOMEM, path, 0, 0,
                            "cannot allocate a zlib reader");
    }
    gzbuffer(f->gz, 1u << 17); /* fewer, larger reads than the 8 KiB default */
    return RS_OK;
}

static void idx_close(idx_file_t *f)
{
    if (f->gz)
        gzclose_r(f->gz);
    f->gz = NULL;
}

/* gzread returned -1: a decoding error (RS_EINPUT) or a failed read. */
static rs_status idx_read_failed(const idx_file_t *f, rs_error_t *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    /* zlib prefixes its message with the name gzdopen gave the stream,
     * "<fd:N>: ", which means nothing to a user: the path is ours */
    if (strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": "))
        msg = strstr(msg, ": ") + 2;
    if (errnum == Z_ERRNO)
        return rs_error_set(err, RS_EIO, f->path, 0, 0,
                            "read failed after %llu bytes: %s",
                            (unsigned long long)f->pos, msg);
    if (errnum == Z_MEM_ERROR)
        return rs_error_set(err, RS_ENOMEM, f->path, 0, 0,
                            "zlib ran out of memory");
    return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                        "corrupt gzip data after %llu bytes of content: %s",
                        (unsigned long long)f->pos, msg);
}

/* The content ended early.  zlib reports Z_BUF_ERROR when the gzip stream
 * itself was cut off, as opposed to a complete stream that is too short. */
static rs_status idx_truncated(const idx_file_t *f, rs_error_t *err)
{
    int errnum = Z_OK;
    gzerror(f->gz, &errnum);
    if (errnum == Z_BUF_ERROR)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "truncated gzip stream: it ends after %llu "
                            "bytes of content, expected %llu",
                            (unsigned long long)f->pos,
                            (unsigned long long)f->expected);
    if (f->pos == 0)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "empty file, expected an IDX header");
    return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                        "truncated: the content ends after %llu bytes, "
                        "expected %llu", (unsigned long long)f->pos,
                        (unsigned long long)f->expected);
}

/* Reads exactly n bytes of content into buf, or fails naming the file. */
static rs_status idx_read(idx_file_t *f, void *buf, size_t n, rs_error_t *err)
{
    uint8_t *dst = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int got = gzread(f->gz, dst, chunk);
        if (got < 0)
            return idx_read_failed(f, err);
        if (got == 0)
            return idx_truncated(f, err);
        f->pos += (unsigned)got;
        dst += got;
        n -= (size_t)got;
    }
    return RS_OK;
}

/* Reads and discards n bytes of content (rows beyond max_train/max_test:
 * the whole file is still checked). */
static rs_status idx_skip(idx_file_t *f, uint64_t n, rs_error_t *err)
{
    uint8_t scratch[1u << 14];
    while (n > 0) {
        size_t chunk = n > sizeof scratch ? sizeof scratch : (size_t)n;
        rs_status st = idx_read(f, scratch, chunk, err);
        if (st != RS_OK)
            return st;
        n -= chunk;
    }
    return RS_OK;
}

/* The content must end exactly where the header says: one more byte is an
 * error, and so is a gzip stream cut off after the last data byte (its
 * CRC and length trailer missing). */
static rs_status idx_expect_end(idx_file_t *f, rs_error_t *err)
{
    uint8_t extra;
    int got = gzread(f->gz, &extra, 1);
    if (got < 0)
        return idx_read_failed(f, err);
    if (got > 0)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "trailing data: the content goes on past the "
                            "%llu bytes its header declares",
                            (unsigned long long)f->expected);
    int errnum = Z_OK;
    gzerror(f->gz, &errnum);
    if (errnum == Z_BUF_ERROR)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "truncated gzip stream: its end-of-stream "
                            "trailer (CRC and length) is missing");
    return RS_OK;
}

static uint32_t be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           (uint32_t)b[3];
}

/* Reads and checks the header of an unsigned-byte IDX file with n_dims
 * dimensions (3: images n x rows x cols, 1: labels n).  Every dimension
 * must be > 0 and the data (their product) at most RS_IDX_MAX_BYTES; the
 * product is checked against the limit one factor at a time, so it never
 * overflows.  Nothing is allocated from the header here. */
static rs_status idx_read_header(idx_file_t *f, unsigned n_dims,
                                 rs_error_t *err)
{
    const char *what = n_dims == 3 ? "images (n x rows x cols)" : "labels (n)";
    uint32_t want_magic = 0x0800u | n_dims;
    uint8_t head[16];
    f->expected = 4;
    rs_status st = idx_read(f, head, 4, err);
    if (st != RS_OK)
        return st;
    uint32_t magic = be32(head);
    if (head[0] != 0 || head[1] != 0)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "not an IDX file: magic number 0x%08x, expected "
                            "0x%08x (IDX %s)", magic, want_magic, what);
    if (head[2] != 0x08)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "IDX data type 0x%02x, expected 0x08 (unsigned "
                            "byte)", head[2]);
    if (head[3] != n_dims)
        return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                            "IDX file with %u dimensions, expected %u: "
                            "magic 0x%08x, expected 0x%08x (%s)", head[3],
                            n_dims, magic, want_magic, what);

    f->expected = 4 + 4 * (uint64_t)n_dims;
    st = idx_read(f, head + 4, 4 * (size_t)n_dims, err);
    if (st != RS_OK)
        return st;
    uint64_t n_bytes = 1;
    for (unsigned d = 0; d < n_dims; d++) {
        f->dims[d] = be32(head + 4 + 4 * d);
        if (f->dims[d] == 0)
            return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                                "dimension %u of the IDX header is 0, "
                                "expected > 0 (%s)", d, what);
        if (n_bytes > RS_IDX_MAX_BYTES / f->dims[d]) {
            if (n_dims == 3)
                return rs_error_set(
                    err, RS_EINPUT, f->path, 0, 0,
                    "header declares %u x %u x %u bytes of images, more "
                    "than the limit of %llu bytes", be32(head + 4),
                    be32(head + 8), be32(head + 12),
                    (unsigned long long)RS_IDX_MAX_BYTES);
            return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                                "header declares %u labels, more than the "
                                "limit of %llu", be32(head + 4),
                                (unsigned long long)RS_IDX_MAX_BYTES);
        }
        n_bytes *= f->dims[d];
    }
    f->n_items = f->dims[0];
    f->item_bytes = n_bytes / f->n_items;
    f->expected += n_bytes;
    return RS_OK;
}

/* Reads the first n_keep items into a new buffer that grows as the data
 * arrives (capped at n_keep items, at most RS_IDX_MAX_BYTES), then reads
 * and discards the remaining items. */
static rs_status idx_read_items(idx_file_t *f, uint32_t n_keep,
                                uint8_t **out, rs_error_t *err)
{
    *out = NULL;
    size_t need = (size_t)(n_keep * f->item_bytes);
    size_t cap = need < IDX_FIRST_ALLOC ? need : IDX_FIRST_ALLOC;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return rs_error_set(err, RS_ENOMEM, f->path, 0, 0,
                            "cannot allocate %zu bytes", cap);
    size_t have = 0;
    while (have < need) {
        if (have == cap) {
            size_t new_cap = cap > need / 2 ? need : 2 * cap;
            uint8_t *grown = realloc(buf, new_cap);
            if (!grown) {
                free(buf);
                return rs_error_set(err, RS_ENOMEM, f->path, 0, 0,
                                    "cannot allocate %zu bytes", new_cap);
            }
            buf = grown;
            cap = new_cap;
        }
        size_t chunk = cap - have;
        rs_status st = idx_read(f, buf + have, chunk, err);
        if (st != RS_OK) {
            free(buf);
            return st;
        }
        have += chunk;
    }
    rs_status st = idx_skip(f, (f->n_items - n_keep) * f->item_bytes, err);
    if (st != RS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return RS_OK;
}

static rs_status check_labels(const idx_file_t *f, const uint8_t *label,
                              uint32_t n_classes, rs_error_t *err)
{
    for (uint32_t i = 0; i < f->n_items; i++)
        if (label[i] >= n_classes)
            return rs_error_set(err, RS_EINPUT, f->path, 0, 0,
                                "label %u of item %u is out of range, "
                                "expected < %u (n_classes)", label[i], i,
                                n_classes);
    return RS_OK;
}

static uint32_t keep_first(uint32_t n, uint32_t max_rows)
{
    return max_rows > 0 && max_rows < n ? max_rows : n;
}

/* Moves the validation rows of a training split (n rows of row_bytes bytes
 * plus a label each) into a new block: the rows are the first n_val
 * entries of rs_permutation(key(seed), rs_ctr0(RS_PURPOSE_SPLIT, 0), 0, n);
 * both splits keep ascending row order.  The training rows are compacted
 * in place; row i is visited after every row below it, so a validation
 * row has always been copied out before a training row overwrites it. */
static rs_status carve_validation(uint8_t *x, uint8_t *label, uint32_t n,
                                  size_t row_bytes, uint32_t n_val,
                                  uint64_t seed, uint8_t **val_block)
{
    *val_block = NULL;
    uint32_t *perm = malloc((size_t)n * sizeof *perm);
    uint8_t *is_val = calloc(n, 1);
    uint8_t *block = malloc((size_t)n_val * (row_bytes + 1));
    if (!perm || !is_val || !block) {
        free(perm);
        free(is_val);
        free(block);
        return RS_ENOMEM;
    }
    rs_permutation(rs_key_from_seed(seed), rs_ctr0(RS_PURPOSE_SPLIT, 0), 0,
                   perm, n);
    for (uint32_t j = 0; j < n_val; j++)
        is_val[perm[j]] = 1;
    free(perm);

    uint8_t *val_x = block, *val_label = block + (size_t)n_val * row_bytes;
    uint32_t n_v = 0, n_t = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *row = x + (size_t)i * row_bytes;
        if (is_val[i]) {
            memcpy(val_x + (size_t)n_v * row_bytes, row, row_bytes);
            val_label[n_v++] = label[i];
        } else {
            if (n_t != i)
                memcpy(x + (size_t)n_t * row_bytes, row, row_bytes);
            label[n_t++] = label[i];
        }
    }
    free(is_val);
    *val_block = block;
    return RS_OK;
}

/* Shrinks a block to n_bytes when the allocator can; keeps it otherwise. */
static void *shrink(void *p, size_t n_bytes)
{
    void *q = realloc(p, n_bytes ? n_bytes : 1);
    return q ? q : p;
}

enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, N_IDX_FILES };

static rs_status check_params(const rs_idx_params_t *p, rs_error_t *err)
{
    const char *paths[N_IDX_FILES] = {p->train_images, p->train_labels,
                                      p->test_images, p->test_labels};
    static const char *names[N_IDX_FILES] = {"train_images", "train_labels",
                                             "test_images", "test_labels"};
    for (int i = 0; i < N_IDX_FILES; i++)
        if (!paths[i] || !paths[i][0])
            return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                "IDX data: no path given for %s", names[i]);
    if (p->n_classes < 2 || p->n_classes > 256)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "IDX data: n_classes = %u, expected 2..256 "
                            "(labels are bytes)", p->n_classes);
    return RS_OK;
}

/* Opens all four files and checks every header and their agreement before
 * any data is read or allocated. */
static rs_status open_and_check_headers(const rs_idx_params_t *p,
                                        idx_file_t f[N_IDX_FILES],
                                        rs_error_t *err)
{
    const char *paths[N_IDX_FILES] = {p->train_images, p->train_labels,
                                      p->test_images, p->test_labels};
    for (int i = 0; i < N_IDX_FILES; i++) {
        rs_status st = idx_open(&f[i], paths[i], err);
        if (st == RS_OK)
            st = idx_read_header(&f[i], i % 2 == 0 ? 3 : 1, err);
        if (st != RS_OK)
            return st;
    }
    for (int i = 0; i < N_IDX_FILES; i += 2)
        if (f[i + 1].n_items != f[i].n_items)
            return rs_error_set(err, RS_EINPUT, f[i + 1].path, 0, 0,
                                "%u labels, but %s has %u images",
                                f[i + 1].n_items, f[i].path, f[i].n_items);
    const idx_file_t *tr = &f[TRAIN_IMAGES], *te = &f[TEST_IMAGES];
    if (te->dims[1] != tr->dims[1] || te->dims[2] != tr->dims[2])
        return rs_error_set(err, RS_EINPUT, te->path, 0, 0,
                            "images are %u x %u, but the training images "
                            "(%s) are %u x %u", te->dims[1], te->dims[2],
                            tr->path, tr->dims[1], tr->dims[2]);
    uint32_t n_train = keep_first(tr->n_items, p->max_train);
    if (p->n_val >= n_train)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "IDX data: n_val = %u leaves no training rows "
                            "(%u rows kept from %s)", p->n_val, n_train,
                            tr->path);
    return RS_OK;
}

/* Reads the data of one images/labels pair; the rows beyond max_rows are
 * read and checked, then dropped. */
static rs_status read_split(idx_file_t *images, idx_file_t *labels,
                            uint32_t n_keep, uint32_t n_classes,
                            uint8_t **x, uint8_t **label, rs_error_t *err)
{
    rs_status st = idx_read_items(images, n_keep, x, err);
    if (st == RS_OK)
        st = idx_expect_end(images, err);
    if (st == RS_OK)
        st = idx_read_items(labels, labels->n_items, label, err);
    if (st == RS_OK)
        st = idx_expect_end(labels, err);
    if (st == RS_OK)
        st = check_labels(labels, *label, n_classes, err);
    return st;
}

/* Reads the data of the four files (headers already checked) into blk[]:
 * train images, train labels, test images, test labels, validation rows;
 * fills the dataset's splits.  On failure the caller frees blk[]. */
static rs_status read_idx_data(const rs_idx_params_t *p,
                               idx_file_t f[N_IDX_FILES],
                               uint8_t *blk[DATA_MAX_BLOCKS],
                               rs_dataset_t *out, rs_error_t *err)
{
    uint32_t n_train = keep_first(f[TRAIN_IMAGES].n_items, p->max_train);
    uint32_t n_test = keep_first(f[TEST_IMAGES].n_items, p->max_test);
    uint32_t n_val = p->n_val;
    size_t row_bytes = (size_t)f[TRAIN_IMAGES].item_bytes;
    rs_status st = read_split(&f[TRAIN_IMAGES], &f[TRAIN_LABELS], n_train,
                              p->n_classes, &blk[0], &blk[1], err);
    idx_close(&f[TRAIN_IMAGES]);
    idx_close(&f[TRAIN_LABELS]);
    if (st == RS_OK)
        st = read_split(&f[TEST_IMAGES], &f[TEST_LABELS], n_test,
                        p->n_classes, &blk[2], &blk[3], err);
    if (st != RS_OK)
        return st;

    if (n_val > 0) {
        if (carve_validation(blk[0], blk[1], n_train, row_bytes, n_val,
                             p->split_seed, &blk[4]) != RS_OK)
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                                "IDX data: out of memory for the "
                                "validation split");
        n_train -= n_val;
        blk[0] = shrink(blk[0], (size_t)n_train * row_bytes);
        out->val = (rs_split_t){n_val, NULL, blk[4], NULL,
                                blk[4] + (size_t)n_val * row_bytes};
    }
    out->task = RS_TASK_CLASSIFICATION;
    out->n_in = (uint32_t)row_bytes;
    out->n_out = p->n_classes;
    out->train = (rs_split_t){n_train, NULL, blk[0], NULL, blk[1]};
    out->test = (rs_split_t){n_test, NULL, blk[2], NULL, blk[3]};
    return RS_OK;
}

rs_status rs_data_idx(const rs_idx_params_t *p, rs_dataset_t *out,
                      rs_error_t *err)
{
    if (!p || !out)
        return rs_error_set(err, RS_EINTERNAL, NULL, 0, 0,
                            "rs_data_idx: NULL argument");
    memset(out, 0, sizeof *out);
    rs_status st = check_params(p, err);
    if (st != RS_OK)
        return st;

    idx_file_t f[N_IDX_FILES];
    memset(f, 0, sizeof f);
    uint8_t *blk[DATA_MAX_BLOCKS] = {NULL};
    data_storage_t *store = malloc(sizeof *store);
    if (!store)
        st = rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                          "IDX data: out of memory");
    if (st == RS_OK)
        st = open_and_check_headers(p, f, err);
    if (st == RS_OK)
        st = read_idx_data(p, f, blk, out, err);
    for (int i = 0; i < N_IDX_FILES; i++)
        idx_close(&f[i]);
    if (st != RS_OK) {
        for (int b = 0; b < DATA_MAX_BLOCKS; b++)
            free(blk[b]);
        free(store);
        memset(out, 0, sizeof *out);
        return st;
    }
    for (int b = 0; b < DATA_MAX_BLOCKS; b++)
        store->block[b] = blk[b];
    out->storage = store;
    return RS_OK;
}

#else /* RS_NO_ZLIB */

rs_status rs_data_idx(const rs_idx_params_t *p, rs_dataset_t *out,
                      rs_error_t *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    return rs_error_set(err, RS_EINPUT, p ? p->train_images : NULL, 0, 0,
                        "this build of regsweep has no IDX support (built "
                        "without zlib)");
}

#endif /* RS_NO_ZLIB */

/* ------------------------------------------------------------- common -- */

void rs_data_free(rs_dataset_t *d)
{
    if (!d)
        return;
    data_storage_t *st = d->storage;
    if (st) {
        for (int b = 0; b < DATA_MAX_BLOCKS; b++)
            free(st->block[b]);
        free(st);
    }
    memset(d, 0, sizeof *d);
}

/* One row of bytes to features: each is b / 255.0f, one correctly rounded
 * division, so a vectorised loop (x86-64: AVX-512, AVX2 or SSE2 chosen by
 * the loader) gives the bits of the scalar one. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void bytes_to_features(float *restrict dst, const uint8_t *restrict src,
                              size_t n)
{
    for (size_t j = 0; j < n; j++)
        dst[j] = (float)src[j] / 255.0f;
}

void rs_data_gather(const rs_dataset_t *d, const rs_split_t *s,
                    const uint32_t *rows, uint32_t first, uint32_t n,
                    float *x_out, float *y_out, uint8_t *label_out)
{
    size_t n_in = d->n_in, n_out = d->n_out;
    for (uint32_t r = 0; r < n; r++) {
        size_t row = rows ? rows[r] : (size_t)first + r;
        if (x_out && s->x_u8)
            bytes_to_features(x_out + (size_t)r * n_in, s->x_u8 + row * n_in,
                              n_in);
        else if (x_out && s->x)
            memcpy(x_out + (size_t)r * n_in, s->x + row * n_in,
                   n_in * sizeof *x_out);
        if (y_out && s->y)
            memcpy(y_out + (size_t)r * n_out, s->y + row * n_out,
                   n_out * sizeof *y_out);
        if (label_out && s->label)
            label_out[r] = s->label[row];
    }
}
