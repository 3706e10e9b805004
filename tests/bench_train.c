/* SPDX-License-Identifier: MIT */
/* bench_train.c — training speed: one Fashion-MNIST epoch of the D2L MLP,
 * with 1 and 2 threads in one job and as two 1-thread jobs side by side.
 * Prints figures; asserts nothing about speed.
 *
 * usage: bench_train [epochs [dataset-dir]]   (default 3, Debian's
 * /usr/share/datasets/fashion-mnist)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "regsweep/data.h"
#include "regsweep/train.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static rs_train_settings_t d2l_settings(uint32_t epochs)
{
    rs_train_settings_t s;
    memset(&s, 0, sizeof s);
    s.arch.n_layers = 3;
    s.arch.sizes[0] = 784;
    s.arch.sizes[1] = 256;
    s.arch.sizes[2] = 256;
    s.arch.sizes[3] = 10;
    s.arch.act = RS_ACT_RELU;
    s.arch.loss = RS_LOSS_SOFTMAX_CE;
    s.init = RS_INIT_NORMAL;
    s.init_sd = 0.01f;
    s.lr = 0.5f;
    s.epochs = epochs;
    s.batch_size = 256;
    s.shuffle = 1;
    s.record_masks = 0;
    s.eval_train = 0;   /* the anchors time training and test accuracy */
    return s;
}

/* Median training seconds per epoch (epochs 2.. when there are several:
 * the first epoch warms caches and page-faults the buffers). */
static double epoch_median(const rs_job_result_t *r, uint32_t epochs)
{
    double v[64];
    int n = 0;
    for (uint32_t e = epochs > 1 ? 2 : 1; e <= epochs && n < 64; e++)
        v[n++] = r->epoch_train_s[e];
    return median(v, n);
}

int main(int argc, char **argv)
{
    uint32_t epochs = argc > 1 ? (uint32_t)atoi(argv[1]) : 3;
    const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
    char p[4][512];
    const char *names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 4; i++)
        snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]);
    rs_idx_params_t ip = {p[0], p[1], p[2], p[3], 10, 0, 0, 0, 0};
    rs_dataset_t d;
    rs_error_t err;
    if (rs_data_idx(&ip, &d, &err)) {
        char buf[1200];
        rs_error_format(&err, buf, sizeof buf);
        printf("bench_train: skipped: %s\n", buf);
        return 0;
    }
    rs_kernels_t k;
    rs_simd simd = rs_kernels_init(&k, RS_SIMD_AVX512);
    rs_train_settings_t s = d2l_settings(epochs);
    printf("Fashion-MNIST, 784-256-256-10, batch 256, %u epochs per run, "
           "SIMD %s; seconds per training epoch (median), then test eval\n",
           epochs, rs_simd_name(simd));
    printf("%-40s %10s %12s %10s\n", "case", "s/epoch", "samples/s", "eval s");
    const float keeps[2][2] = {{0.8f, 0.5f}, {1.0f, 1.0f}};
    for (int drop = 0; drop < 2; drop++)
        for (int threads = 1; threads <= 2; threads++) {
            rs_hparams_t hp = {.seed = 0, .keep_prob = {keeps[drop][0], keeps[drop][1]}};
            rs_job_result_t r;
            if (rs_train_job(&s, &hp, &d, &k, threads, NULL, &r, &err)) {
                printf("bench_train: %s\n", err.msg);
                return 1;
            }
            double t = epoch_median(&r, epochs);
            char label[64];
            snprintf(label, sizeof label, "one job, %d thread%s, %s", threads,
                     threads > 1 ? "s" : "", drop ? "no dropout" : "dropout 0.2/0.5");
            printf("%-40s %10.3f %12.0f %10.3f\n", label, t, d.train.n / t,
                   r.eval_s / (epochs + 1));
            rs_job_result_free(&r);
        }
#ifdef _OPENMP
    /* two jobs side by side, one thread each: a sweep on 2 cores */
    double t2[2] = {0, 0};
    int failed = 0;
#pragma omp parallel num_threads(2) reduction(+ : failed)
    {
        int me = omp_get_thread_num();
        rs_hparams_t hp = {.seed = (uint64_t)me, .keep_prob = {0.8f, 0.5f}};
        rs_job_result_t r;
        rs_error_t e2;
        if (rs_train_job(&s, &hp, &d, &k, 1, NULL, &r, &e2)) {
            failed = 1;
        } else {
            t2[me] = epoch_median(&r, epochs);
            rs_job_result_free(&r);
        }
    }
    if (!failed) {
        double worst = t2[0] > t2[1] ? t2[0] : t2[1];
        printf("%-40s %10.3f %12.0f %10s\n", "two 1-thread jobs at once (each)",
               worst, 2 * d.train.n / worst, "");
        printf("  sweep throughput: %.2f epochs/s on 2 cores\n", 2 / worst);
    }
#endif
    rs_data_free(&d);
    return 0;
}
