/* SPDX-License-Identifier: MIT */
/* fuzz_idx.c — libFuzzer target for the IDX loader (rs_data_idx).
 *
 * Input: one option byte, then up to four file contents separated by the
 * line "\n@@\n": train images, train labels, test images, test labels.
 * Files not given get small valid defaults (8 training and 4 test images
 * of 2 x 3 pixels, 3 classes), so that the fuzzer can reach the data, the
 * gzip trailer checks and the validation split, not only the headers.  The
 * option byte sets n_val (bits 0-1), max_train (bits 2-3) and max_test
 * (bits 4-5); bit 6 sets n_classes to 2.  The files live in a private
 * temporary directory, rewritten for each input.
 *
 * Contracts checked (trap when broken): failure is RS_EINPUT, RS_EIO or
 * RS_ENOMEM with a message, and leaves the dataset zeroed; success gives
 * splits whose sizes respect max_train/max_test/n_val, labels below
 * n_classes and a feature count equal to rows x cols; every byte of every
 * split is read (ASan sees an out-of-bounds split).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regsweep/data.h"

static char g_dir[64];
static char g_path[4][96];

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A valid default file: images n x 2 x 3 or labels n (class i % 3). */
static size_t default_file(int which, uint8_t *out)
{
    uint32_t n = which < 2 ? 8 : 4;
    int is_images = which % 2 == 0;
    out[0] = out[1] = 0;
    out[2] = 0x08;
    out[3] = is_images ? 3 : 1;
    put_be32(out + 4, n);
    size_t at = 8;
    if (is_images) {
        put_be32(out + 8, 2);
        put_be32(out + 12, 3);
        at = 16;
        for (uint32_t i = 0; i < n * 6; i++)
            out[at++] = (uint8_t)(i * 41);
    } else {
        for (uint32_t i = 0; i < n; i++)
            out[at++] = (uint8_t)(i % 3);
    }
    return at;
}

/* A fresh file each time: truncating and rewriting a file makes ext4 flush
 * it on close (auto_da_alloc), which cost ~8 ms per input. */
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
    /* memory-backed /dev/shm when there is one: the files are rewritten
     * for every input */
    const char *tmp = getenv("TMPDIR");
    if (!tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_dir, sizeof g_dir, "%.40s/rs-fuzz-idx-XXXXXX", tmp);
    if (!mkdtemp(g_dir))
        abort();
    static const char *const names[4] = {"train-images", "train-labels",
                                          "test-images", "test-labels"};
    for (int i = 0; i < 4; i++)
        snprintf(g_path[i], sizeof g_path[i], "%s/%s", g_dir, names[i]);
    return 0;
}

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
    if (!g_dir[0])
        return;
    for (int i = 0; i < 4; i++)
        unlink(g_path[i]);
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    size_t pos = 1;          /* start of the next part; > size: none left */
    static const uint8_t SEP[] = "\n@@\n";
    for (int i = 0; i < 4; i++) {
        size_t stop = size;
        int have = pos <= size;
        if (have)
            for (size_t q = pos; q + 4 <= size; q++)
                if (memcmp(data + q, SEP, 4) == 0) {
                    stop = q;
                    break;
                }
        int rc;
        if (have && (stop > pos || i == 0)) {
            rc = write_file(g_path[i], data + pos, stop - pos);
        } else {
            uint8_t def[128];
            rc = write_file(g_path[i], def, default_file(i, def));
        }
        if (rc != 0)
            abort();
        pos = have && stop < size ? stop + 4 : size + 1;
    }

    rs_idx_params_t prm = {
        .train_images = g_path[0], .train_labels = g_path[1],
        .test_images = g_path[2], .test_labels = g_path[3],
        .n_classes = opt & 0x40 ? 2 : 3,
        .n_val = opt & 3,
        .split_seed = opt,
        .max_train = (opt >> 2) & 3,
        .max_test = (opt >> 4) & 3,
    };
    rs_dataset_t d;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_data_idx(&prm, &d, &err);
    if (st != RS_OK) {
        check(st == RS_EINPUT || st == RS_EIO || st == RS_ENOMEM);
        check(err.code == st && err.msg[0] != '\0');
        check(d.storage == NULL && d.train.n == 0);
        return 0;
    }
    check(d.task == RS_TASK_CLASSIFICATION && d.n_out == prm.n_classes);
    check(d.val.n == prm.n_val);
    check(d.train.n >= 1);
    if (prm.max_train)
        check(d.train.n + d.val.n <= prm.max_train);
    if (prm.max_test)
        check(d.test.n <= prm.max_test);
    const rs_split_t *splits[3] = {&d.train, &d.val, &d.test};
    unsigned sum = 0;
    for (int k = 0; k < 3; k++) {
        const rs_split_t *s = splits[k];
        for (size_t i = 0; i < (size_t)s->n * d.n_in; i++)
            sum += s->x_u8[i];
        for (uint32_t i = 0; i < s->n; i++)
            check(s->label[i] < d.n_out);
    }
    /* one gathered minibatch, as training reads it */
    uint32_t rows = d.train.n < 4 ? d.train.n : 4;
    float *x = malloc((size_t)rows * d.n_in * sizeof *x + 1);
    uint8_t lab[4];
    if (x) {
        rs_data_gather(&d, &d.train, NULL, 0, rows, x, NULL, lab);
        for (size_t i = 0; i < (size_t)rows * d.n_in; i++)
            check(x[i] >= 0.0f && x[i] <= 1.0f);
        free(x);
    }
    (void)sum;
    rs_data_free(&d);
    check(d.storage == NULL);
    return 0;
}
