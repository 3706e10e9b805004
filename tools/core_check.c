/* SPDX-License-Identifier: MIT */
/* core_check.c — train one small job with the training core alone and print
 * checksums of its results.
 *
 * It links only the core (rng, detmath, kernels, nn, data, train): no HDF5,
 * libyaml or OpenMP, so it can be cross-compiled (e.g. for aarch64) and run
 * under qemu-user.  The printed SHA-256 of the final weights must be the same
 * on every architecture, compiler and SIMD path; tests/cross_arch.sh compares
 * them.
 *
 * With --reg the job also uses every setting of the spec's reg section
 * (proximal L1, max-norm, input noise, Gaussian dropout noise, DropConnect),
 * which has its own expected checksum.
 *
 * usage: rs_core_check [--simd scalar|avx2|avx512] [--threads N] [--reg]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/data.h"
#include "regsweep/kernels.h"
#include "regsweep/sha256.h"
#include "regsweep/train.h"

static void hex_of_floats(const float *v, size_t n, char hex[65])
{
    /* float32 little-endian bytes, as docs/FORMAT.md defines the checksum */
    unsigned char *b = malloc(4 * n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    rs_sha256_hex(b, 4 * n, hex);
    free(b);
}

int main(int argc, char **argv)
{
    rs_simd cap = RS_SIMD_AVX512;
    int threads = 1, reg = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--simd") && i + 1 < argc) {
            if (rs_simd_parse(argv[++i], &cap)) {
                fprintf(stderr, "rs_core_check: unknown SIMD path '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--reg")) {
            reg = 1;
        } else {
            fprintf(stderr, "usage: rs_core_check [--simd PATH] [--threads N] [--reg]\n");
            return 2;
        }
    }
    /* ch311's model at a third of its length, dropout and both penalties,
     * minibatches with shuffling: every part of the core is exercised. */
    rs_sin_params_t sp = {.n_train = 100, .n_test = 200, .noise_sd = 0.5f, .seed = 1};
    rs_dataset_t d;
    rs_error_t err;
    if (rs_data_sin(&sp, &d, &err)) {
        fprintf(stderr, "rs_core_check: %s\n", err.msg);
        return 1;
    }
    rs_train_settings_t s = {0};
    s.arch.n_layers = 3;
    s.arch.sizes[0] = 1;
    s.arch.sizes[1] = 64;
    s.arch.sizes[2] = 64;
    s.arch.sizes[3] = 1;
    s.arch.act = RS_ACT_TANH;
    s.arch.loss = RS_LOSS_MSE;
    s.init = RS_INIT_HE_NORMAL;
    s.lr = 0.01f;
    s.epochs = 40;
    s.batch_size = 32;
    s.shuffle = 1;
    s.record_masks = 1;
    s.mask_sel.all = 1;
    s.eval_train = 1;
    if (reg) {
        s.reg.l1_mode = RS_L1_PROXIMAL;
        s.reg.max_norm = 1.5f;
        s.reg.input_noise_sd = 0.1f;
        s.reg.noise = RS_NOISE_GAUSSIAN;
        s.reg.dropconnect_keep[0] = s.reg.dropconnect_keep[1] = 0.8f;
        s.record_zero_frac = 1;
    }
    rs_hparams_t hp = {.seed = 7, .keep_prob = {0.7f, 0.9f}, .l2 = 1e-3f, .l1 = 1e-4f};
    rs_kernels_t k;
    rs_simd used = rs_kernels_init(&k, cap);
    rs_job_result_t r;
    if (rs_train_job(&s, &hp, &d, &k, threads, NULL, &r, &err)) {
        fprintf(stderr, "rs_core_check: %s\n", err.msg);
        return 1;
    }
    char hex[65];
    hex_of_floats(r.params_final, r.n_params, hex);
    printf("simd %s\n", rs_simd_name(used));
    printf("final_weights_sha256 %s\n", hex);
    printf("test_loss %.9g\n", r.curves.test_loss[s.epochs]);
    rs_job_result_free(&r);
    rs_data_free(&d);
    return 0;
}
