/* SPDX-License-Identifier: MIT */
/* data.h — datasets: the ch311 sin regression, IDX files (MNIST and
 * Fashion-MNIST), and a deterministic validation split.
 *
 * A dataset is loaded once and then only read: jobs running in parallel
 * share one rs_dataset_t.  Images are kept as bytes (a quarter of the memory
 * of floats) and turned into floats row by row when a minibatch is gathered:
 * feature = byte / 255.0f, one correctly rounded division, so the value is
 * the same everywhere.
 */
#ifndef RS_DATA_H
#define RS_DATA_H

#include <stdint.h>

#include "regsweep/common.h"
#include "regsweep/rng.h"

typedef enum rs_task { RS_TASK_REGRESSION = 0, RS_TASK_CLASSIFICATION = 1 } rs_task;

/* One split (train, validation or test); the pointers point into the
 * dataset's storage.  Exactly one of x and x_u8 is non-NULL; exactly one of
 * y (regression) and label (classification) is non-NULL when n > 0. */
typedef struct rs_split {
    uint32_t n;             /* samples                                  */
    const float *x;         /* n x n_in features                        */
    const uint8_t *x_u8;    /* n x n_in bytes; feature = byte / 255.0f  */
    const float *y;         /* n x n_out regression targets             */
    const uint8_t *label;   /* n class labels, each < n_out             */
} rs_split_t;

typedef struct rs_dataset {
    rs_task task;
    uint32_t n_in;          /* features per sample                      */
    uint32_t n_out;         /* regression outputs, or number of classes */
    rs_split_t train, val, test; /* val.n == 0: no validation split    */
    void *storage;          /* owned; freed by rs_data_free             */
} rs_dataset_t;

/* The ch311 sin regression: x ~ U[-pi, pi), y = sin(x) + noise_sd * z with
 * z ~ N(0,1) for training and validation points; test points are
 * noiseless.  Point i of split s (0 = train, 1 = test, 2 = validation)
 * uses the words w of
 *   philox((rs_ctr0(RS_PURPOSE_DATA, s), i, 0, 0), key(seed)):
 *   x = 2pi_f * rs_u01(w[0]) - pi_f   (2pi_f, pi_f: 2pi and pi as floats),
 *   z = first output of rs_normal_pair(w[2], w[3]),
 *   y = rs_sinf(x) + noise_sd * z     (test: y = rs_sinf(x)).
 * The points of one split do not depend on the size of another: adding a
 * validation split changes no training or test point. */
typedef struct rs_sin_params {
    uint32_t n_train, n_test;
    uint32_t n_val;          /* 0: no validation split                  */
    float noise_sd;
    uint64_t seed;
} rs_sin_params_t;

/* One allocation holds all six arrays.  n_test may be 0 (test.n == 0,
 * its pointers NULL).  Errors: RS_EINPUT for n_train == 0 or a noise_sd
 * that is negative or not finite, RS_ENOMEM; on failure *out is zeroed. */
rs_status rs_data_sin(const rs_sin_params_t *p, rs_dataset_t *out,
                      rs_error_t *err);

/* IDX files (LeCun's MNIST format), plain or gzip-compressed (detected by
 * the gzip magic, not the name).  Images: magic 0x00000803, unsigned bytes,
 * dims n x rows x cols; labels: magic 0x00000801, dims n.  The data of one
 * file (the product of its dims) may be at most RS_IDX_MAX_BYTES.  All four
 * headers are validated before any data is allocated: wrong magic or type,
 * zero or overflowing dimensions, data above RS_IDX_MAX_BYTES, an
 * image/label count mismatch, test images of another size than the training
 * images.  Buffers then grow as the data arrives (never sized from a header
 * alone), so a file that is shorter than its header claims costs little
 * memory before it is rejected.  The content (the decompressed stream for
 * gzip) must end exactly where its header says: a short file, a cut-off
 * gzip stream (a missing CRC/length trailer included), a bad gzip CRC and
 * trailing bytes in the content are errors; bytes after the last gzip
 * member that do not start a new member are ignored, as zlib and gzip -d
 * do.  Every label in the file (not only the rows kept) must be
 * < n_classes.  Errors:
 *   RS_EINPUT   a bad, truncated, missing or unreadable-as-IDX file (err->path
 *               names it, err->msg says what was expected and found), a
 *               directory given as a file, n_classes outside 2..256, or
 *               n_val >= the training rows kept;
 *   RS_EIO      a read the system refused;
 *   RS_ENOMEM   an allocation failed.
 * On failure *out is zeroed.
 *
 * n_val > 0 carves a validation split from the training set:
 *   p = rs_permutation(key(split_seed), rs_ctr0(RS_PURPOSE_SPLIT, 0), 0, n),
 *   the first n_val entries of p (sorted ascending) are the validation rows,
 *   the rest (sorted ascending) the training rows.
 * max_train / max_test > 0 keep only the first rows of a split (applied
 * before the validation split): for small test sweeps. */
typedef struct rs_idx_params {
    const char *train_images, *train_labels;
    const char *test_images, *test_labels;
    uint32_t n_classes;     /* 10 for (Fashion-)MNIST */
    uint32_t n_val;
    uint64_t split_seed;
    uint32_t max_train, max_test;
} rs_idx_params_t;

/* The most data bytes one IDX file may declare (2 GiB; Fashion-MNIST's
 * training images are 47,040,000). */
#define RS_IDX_MAX_BYTES ((uint64_t)1 << 31)

rs_status rs_data_idx(const rs_idx_params_t *p, rs_dataset_t *out,
                      rs_error_t *err);

/* Frees what a loader allocated and zeroes *d.  NULL and a zeroed dataset
 * are accepted. */
void rs_data_free(rs_dataset_t *d);

/* Copies rows rows[0..n-1] of split s into a minibatch, converting bytes to
 * floats: x_out (n x n_in), y_out (n x n_out, regression) or label_out (n,
 * classification); outputs that do not apply may be NULL.  rows == NULL
 * means rows first, first+1, ..., first+n-1.  Every row must be < s->n
 * (not checked). */
void rs_data_gather(const rs_dataset_t *d, const rs_split_t *s,
                    const uint32_t *rows, uint32_t first, uint32_t n,
                    float *x_out, float *y_out, uint8_t *label_out);

#endif
