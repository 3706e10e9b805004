/* SPDX-License-Identifier: MIT */
/* bench_kernels.c — GFLOP/s of each GEMM path at the shapes training uses,
 * at 1 and 2 threads, and mask words/s of each dropout path.  Prints a
 * table; asserts nothing about speed (timings depend on the machine and on
 * what else runs on it).
 *
 * usage: bench_kernels [repeats [shape-filter [lowest-path]]]
 *   repeats: batches per figure (default 7; the median is printed);
 *   shape-filter: only the GEMM shapes whose name contains it, and no
 *   workload or mask benchmark ("-": everything);
 *   lowest-path: scalar (default), avx2 or avx512: skip the slower paths.
 *
 * Each figure is "median/best" over `repeats` batches; a batch repeats the
 * call until it has run for at least 5 ms (a single call for slow ones).
 * 1-thread GEMM and all mask figures are timed in thread CPU time, 2-thread
 * GEMM figures in wall time: on a machine shared with other work, wall-time
 * medians at 2 threads are noisy, and the best batch is the figure least
 * disturbed by it.
 * Before timing, each path's output is checked against rs_gemm_ref /
 * rs_dropout_mask_ref, so a fast but wrong path cannot be reported.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "regsweep/kernels.h"
#include "regsweep/rng.h"

/* 1-thread figures use this thread's CPU time, which the time slices
 * given to other processes on a shared machine do not inflate (the cores'
 * caches are still shared); 2-thread figures must use wall time. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t lcg_state = 1;
static float rand_float(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (float)((int32_t)(lcg_state >> 40) - (1 << 23)) * 0x1p-23f;
}

static void *xalloc(size_t n_bytes)
{
    void *p = aligned_alloc(64, (n_bytes + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    return p;
}

typedef struct shape {
    const char *what;
    rs_trans ta, tb;
    int M, N, K;
    int bias;
} shape_t;

static const shape_t SHAPES[] = {
    {"fmnist fwd L1", RS_NOTRANS, RS_NOTRANS, 256, 256, 784, 1},
    {"fmnist fwd L2", RS_NOTRANS, RS_NOTRANS, 256, 256, 256, 1},
    {"fmnist fwd L3", RS_NOTRANS, RS_NOTRANS, 256, 10, 256, 1},
    {"fmnist dX L2", RS_NOTRANS, RS_TRANS, 256, 256, 256, 0},
    {"fmnist dX L3", RS_NOTRANS, RS_TRANS, 256, 256, 10, 0},
    {"fmnist dW L1", RS_TRANS, RS_NOTRANS, 784, 256, 256, 0},
    {"fmnist dW L2", RS_TRANS, RS_NOTRANS, 256, 256, 256, 0},
    {"fmnist dW L3", RS_TRANS, RS_NOTRANS, 256, 10, 256, 0},
    {"fmnist eval L1", RS_NOTRANS, RS_NOTRANS, 10000, 256, 784, 1},
    {"sin fwd L1", RS_NOTRANS, RS_NOTRANS, 100, 64, 1, 1},
    {"sin fwd L2", RS_NOTRANS, RS_NOTRANS, 100, 64, 64, 1},
    {"sin fwd L3", RS_NOTRANS, RS_NOTRANS, 100, 1, 64, 1},
    {"sin eval L2", RS_NOTRANS, RS_NOTRANS, 500, 64, 64, 1},
    {"sin eval L3", RS_NOTRANS, RS_NOTRANS, 500, 1, 64, 1},
    {"sin dX L2", RS_NOTRANS, RS_TRANS, 100, 64, 64, 0},
    {"sin dX L3", RS_NOTRANS, RS_TRANS, 100, 64, 1, 0},
    {"sin dW L1", RS_TRANS, RS_NOTRANS, 1, 64, 100, 0},
    {"sin dW L2", RS_TRANS, RS_NOTRANS, 64, 64, 100, 0},
    {"sin dW L3", RS_TRANS, RS_NOTRANS, 64, 1, 100, 0},
};

/* Seconds per call: median and best of `repeats` batches of >= 5 ms. */
static void time_gemm(const rs_kernels_t *k, const shape_t *s,
                        const float *A, const float *B, const float *bias,
                        float *C, float *work, int n_threads, int repeats,
                        double *median, double *best)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double t[64];
    int calls = 1;
    for (;;) { /* calibrate */
        double t0 = now_s();
        for (int c = 0; c < calls; c++)
            k->gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb,
                    s->bias ? bias : NULL, 0, C, s->N, work, n_threads);
        double dt = now_s() - t0;
        if (dt >= 0.005 || calls >= (1 << 24))
            break;
        calls = dt < 0.002 ? calls * 10 : calls * 2;
    }
    for (int r = 0; r < repeats; r++) {
        double t0 = now_s();
        for (int c = 0; c < calls; c++)
            k->gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb,
                    s->bias ? bias : NULL, 0, C, s->N, work, n_threads);
        t[r] = (now_s() - t0) / calls;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    *median = t[repeats / 2];
    *best = t[0];
}

static int lowest_path = RS_SIMD_SCALAR;

static void bench_gemm(int repeats, const char *filter)
{
    rs_simd best = rs_simd_detect();
    printf("GEMM GFLOP/s (2*M*N*K / time per call, median/best; 1T: thread "
           "CPU time, 2T: wall time), paths up to %s\n",
           rs_simd_name(best));
    printf("%-15s %-2s %5s %4s %4s", "shape", "op", "M", "N", "K");
    for (int p = lowest_path; p <= (int)best; p++)
        printf(" | %6s 1T %6s 2T", rs_simd_name((rs_simd)p), "");
    printf("\n");
    for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
        const shape_t *s = &SHAPES[i];
        if (filter && !strstr(s->what, filter))
            continue;
        size_t a_n = (size_t)s->M * s->K, b_n = (size_t)s->K * s->N;
        size_t c_n = (size_t)s->M * s->N;
        float *A = xalloc(a_n * sizeof(float));
        float *B = xalloc(b_n * sizeof(float));
        float *bias = xalloc((size_t)s->N * sizeof(float));
        float *C = xalloc(c_n * sizeof(float));
        float *C_ref = xalloc(c_n * sizeof(float));
        size_t w_n = rs_gemm_work_floats(s->ta, s->tb, s->M, s->N, s->K, 2);
        float *work = xalloc((w_n ? w_n : 1) * sizeof(float));
        for (size_t j = 0; j < a_n; j++)
            A[j] = rand_float();
        for (size_t j = 0; j < b_n; j++)
            B[j] = rand_float();
        for (int j = 0; j < s->N; j++)
            bias[j] = rand_float();
        int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
        int check = (double)s->M * s->N * s->K < 1e9;
        if (check)
            rs_gemm_ref(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb,
                        s->bias ? bias : NULL, 0, C_ref, s->N, NULL, 1);
        printf("%-15s %c%c %5d %4d %4d", s->what, s->ta ? 'T' : 'N',
               s->tb ? 'T' : 'N', s->M, s->N, s->K);
        for (int p = lowest_path; p <= (int)best; p++) {
            rs_kernels_t k;
            rs_kernels_init(&k, (rs_simd)p);
            for (int th = 1; th <= 2; th++) {
                if (check) {
                    memset(C, 0xFF, c_n * sizeof(float));
                    k.gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb,
                           s->bias ? bias : NULL, 0, C, s->N, work, th);
                    if (memcmp(C, C_ref, c_n * sizeof(float))) {
                        printf(" | %22s", "MISMATCH");
                        continue;
                    }
                }
                int reps = p == RS_SIMD_SCALAR && s->M >= 1000 ? 1 : repeats;
                double med, best_t;
                bench_clock =
                    th == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
                time_gemm(&k, s, A, B, bias, C, work, th, reps, &med, &best_t);
                bench_clock = CLOCK_THREAD_CPUTIME_ID;
                double flop = 2.0 * s->M * s->N * s->K * 1e-9;
                printf("%s%5.1f/%5.1f", th == 1 ? " | " : " ", flop / med,
                       flop / best_t);
            }
            fflush(stdout);
        }
        printf("\n");
        free(A);
        free(B);
        free(bias);
        free(C);
        free(C_ref);
        free(work);
    }
}

/* The GEMM calls of one training step or epoch, in nn.c's layouts. */
typedef struct call {
    rs_trans ta, tb;
    int M, N, K, bias;
} call_t;

/* ch311 (1-64-64-1, 100 train points, 500 test points), one epoch: the
 * training step (forward, then dW and dX per layer, no dX for layer 1),
 * then clean evaluation on the train and the test set. */
static const call_t SIN_EPOCH[] = {
    {RS_NOTRANS, RS_NOTRANS, 100, 64, 1, 1},
    {RS_NOTRANS, RS_NOTRANS, 100, 64, 64, 1},
    {RS_NOTRANS, RS_NOTRANS, 100, 1, 64, 1},
    {RS_TRANS, RS_NOTRANS, 64, 1, 100, 0},
    {RS_NOTRANS, RS_TRANS, 100, 64, 1, 0},
    {RS_TRANS, RS_NOTRANS, 64, 64, 100, 0},
    {RS_NOTRANS, RS_TRANS, 100, 64, 64, 0},
    {RS_TRANS, RS_NOTRANS, 1, 64, 100, 0},
    {RS_NOTRANS, RS_NOTRANS, 100, 64, 1, 1},
    {RS_NOTRANS, RS_NOTRANS, 100, 64, 64, 1},
    {RS_NOTRANS, RS_NOTRANS, 100, 1, 64, 1},
    {RS_NOTRANS, RS_NOTRANS, 500, 64, 1, 1},
    {RS_NOTRANS, RS_NOTRANS, 500, 64, 64, 1},
    {RS_NOTRANS, RS_NOTRANS, 500, 1, 64, 1}};

/* Fashion-MNIST (784-256-256-10, batch 256), one training step. */
static const call_t FMNIST_STEP[] = {
    {RS_NOTRANS, RS_NOTRANS, 256, 256, 784, 1},
    {RS_NOTRANS, RS_NOTRANS, 256, 256, 256, 1},
    {RS_NOTRANS, RS_NOTRANS, 256, 10, 256, 1},
    {RS_TRANS, RS_NOTRANS, 256, 10, 256, 0},
    {RS_NOTRANS, RS_TRANS, 256, 256, 10, 0},
    {RS_TRANS, RS_NOTRANS, 256, 256, 256, 0},
    {RS_NOTRANS, RS_TRANS, 256, 256, 256, 0},
    {RS_TRANS, RS_NOTRANS, 784, 256, 256, 0}};

/* Median and best seconds for one pass over calls[0 .. n). */
static void time_sequence(const rs_kernels_t *k, const call_t *calls, int n,
                          int n_threads, int repeats, double *median,
                          double *best)
{
    size_t big = 784 * 256 + 64, w_n = 0;
    for (int i = 0; i < n; i++) {
        size_t w = rs_gemm_work_floats(calls[i].ta, calls[i].tb, calls[i].M,
                                       calls[i].N, calls[i].K, n_threads);
        w_n = w > w_n ? w : w_n;
    }
    float *A = xalloc(big * sizeof(float)), *B = xalloc(big * sizeof(float));
    float *C = xalloc(big * sizeof(float)), *bias = xalloc(256 * sizeof(float));
    float *work = xalloc((w_n + 1) * sizeof(float));
    for (size_t j = 0; j < big; j++) {
        A[j] = rand_float();
        B[j] = rand_float();
    }
    for (int j = 0; j < 256; j++)
        bias[j] = rand_float();
    double t[64];
    int passes = 1;
    for (;;) {
        double t0 = now_s();
        for (int p = 0; p < passes; p++)
            for (int i = 0; i < n; i++) {
                const call_t *c = &calls[i];
                k->gemm(c->ta, c->tb, c->M, c->N, c->K, A, c->ta ? c->M : c->K,
                        B, c->tb ? c->K : c->N, c->bias ? bias : NULL, 0, C,
                        c->N, work, n_threads);
            }
        double dt = now_s() - t0;
        if (dt >= 0.005)
            break;
        passes = dt < 0.0005 ? passes * 10 : passes * 2;
    }
    for (int r = 0; r < repeats; r++) {
        double t0 = now_s();
        for (int p = 0; p < passes; p++)
            for (int i = 0; i < n; i++) {
                const call_t *c = &calls[i];
                k->gemm(c->ta, c->tb, c->M, c->N, c->K, A, c->ta ? c->M : c->K,
                        B, c->tb ? c->K : c->N, c->bias ? bias : NULL, 0, C,
                        c->N, work, n_threads);
            }
        t[r] = (now_s() - t0) / passes;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    *median = t[repeats / 2];
    *best = t[0];
    free(A);
    free(B);
    free(C);
    free(bias);
    free(work);
}

static void bench_workloads(int repeats)
{
    rs_simd best = rs_simd_detect();
    double sin_flop = 0, fm_flop = 0;
    int n_sin = (int)(sizeof SIN_EPOCH / sizeof *SIN_EPOCH);
    int n_fm = (int)(sizeof FMNIST_STEP / sizeof *FMNIST_STEP);
    for (int i = 0; i < n_sin; i++)
        sin_flop += 2.0 * SIN_EPOCH[i].M * SIN_EPOCH[i].N * SIN_EPOCH[i].K;
    for (int i = 0; i < n_fm; i++)
        fm_flop += 2.0 * FMNIST_STEP[i].M * FMNIST_STEP[i].N * FMNIST_STEP[i].K;
    printf("\nWorkloads (median/best): the GEMM calls of one ch311 epoch "
           "(%.2f MFLOP, 1 thread, us) and of one Fashion-MNIST training step "
           "(%.1f MFLOP, us at 1 and 2 threads)\n",
           sin_flop * 1e-6, fm_flop * 1e-6);
    for (int p = lowest_path; p <= (int)best; p++) {
        rs_kernels_t k;
        rs_kernels_init(&k, (rs_simd)p);
        double med, bst, med2, bst2, med3, bst3;
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
        time_sequence(&k, SIN_EPOCH, n_sin, 1, repeats, &med, &bst);
        time_sequence(&k, FMNIST_STEP, n_fm, 1, repeats, &med2, &bst2);
        bench_clock = CLOCK_MONOTONIC;
        time_sequence(&k, FMNIST_STEP, n_fm, 2, repeats, &med3, &bst3);
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
        printf("%-7s ch311 epoch %8.1f/%8.1f us (%5.1f GFLOP/s, 500 epochs "
               "%6.1f ms) | fmnist step 1T %7.0f/%7.0f us, 2T %7.0f/%7.0f "
               "us\n",
               rs_simd_name(k.simd), med * 1e6, bst * 1e6,
               sin_flop / med * 1e-9, 500 * med * 1e3, med2 * 1e6,
               bst2 * 1e6, med3 * 1e6, bst3 * 1e6);
    }
}

static void bench_masks(int repeats)
{
    static const struct {
        const char *what;
        uint32_t B, H;
    } cases[] = {{"fmnist 256x256", 256, 256},
                 {"sin 100x64", 100, 64},
                 {"odd 255x257", 255, 257}};
    rs_simd best = rs_simd_detect();
    printf("\nDropout masks, million mask words per second (median/best), "
           "scale mask + bits, then scale mask only\n");
    printf("%-16s", "case");
    printf(" | %23s", "ref");
    for (int p = RS_SIMD_SCALAR + 1; p <= (int)best; p++)
        printf(" | %23s", rs_simd_name((rs_simd)p));
    printf("\n");
    rs_key_t key = rs_key_from_seed(42);
    const uint32_t thr = rs_keep_threshold(0.7f);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint32_t B = cases[c].B, H = cases[c].H;
        size_t n_bits = (size_t)B * ((H + 7) / 8);
        float *mask = xalloc((size_t)B * H * sizeof(float));
        float *mask_ref = xalloc((size_t)B * H * sizeof(float));
        uint8_t *bits = xalloc(n_bits), *bits_ref = xalloc(n_bits);
        uint64_t kept_ref = rs_dropout_mask_ref(key, 0, 1, 0, B, H, thr,
                                                1.0f / 0.7f, mask_ref,
                                                bits_ref);
        printf("%-16s", cases[c].what);
        for (int p = RS_SIMD_SCALAR; p <= (int)best; p++) {
            rs_kernels_t k;
            rs_kernels_init(&k, (rs_simd)p);
            memset(mask, 0xFF, (size_t)B * H * sizeof(float));
            memset(bits, 0xA5, n_bits);
            if (k.dropout_mask(key, 0, 1, 0, B, H, thr, 1.0f / 0.7f, mask,
                               bits) != kept_ref ||
                memcmp(mask, mask_ref, (size_t)B * H * sizeof(float)) ||
                memcmp(bits, bits_ref, n_bits)) {
                printf(" | %23s", "MISMATCH");
                continue;
            }
            for (int with_bits = 1; with_bits >= 0; with_bits--) {
                double t[64];
                int calls = 1;
                for (;;) {
                    double t0 = now_s();
                    for (int i = 0; i < calls; i++)
                        k.dropout_mask(key, 0, 1, (uint32_t)i, B, H, thr,
                                       1.0f / 0.7f, mask,
                                       with_bits ? bits : NULL);
                    double dt = now_s() - t0;
                    if (dt >= 0.005)
                        break;
                    calls = dt < 0.002 ? calls * 10 : calls * 2;
                }
                for (int r = 0; r < repeats; r++) {
                    double t0 = now_s();
                    for (int i = 0; i < calls; i++)
                        k.dropout_mask(key, 0, 1, (uint32_t)i, B, H, thr,
                                       1.0f / 0.7f, mask,
                                       with_bits ? bits : NULL);
                    t[r] = (now_s() - t0) / calls;
                }
                qsort(t, (size_t)repeats, sizeof *t, cmp_double);
                printf("%s%5.0f/%5.0f", with_bits ? " | " : " ",
                       (double)B * H / t[repeats / 2] * 1e-6,
                       (double)B * H / t[0] * 1e-6);
            }
        }
        printf("\n");
        free(mask);
        free(mask_ref);
        free(bits);
        free(bits_ref);
    }
    /* One Fashion-MNIST epoch: 235 steps x 2 layers of 256 x 256 words
     * (the last step has 96 rows), 60000 x 512 words in all. */
    printf("\nOne Fashion-MNIST epoch of masks (60000 x 512 words), ms "
           "(median/best):");
    for (int p = RS_SIMD_SCALAR; p <= (int)best; p++) {
        rs_kernels_t k;
        rs_kernels_init(&k, (rs_simd)p);
        float *mask = xalloc((size_t)256 * 256 * sizeof(float));
        double t[64];
        for (int r = 0; r < repeats; r++) {
            double t0 = now_s();
            for (uint32_t step = 0; step < 235; step++)
                for (uint32_t layer = 0; layer < 2; layer++)
                    k.dropout_mask(key, layer, 0, step, step < 234 ? 256 : 96,
                                   256, thr, 1.0f / 0.7f, mask, NULL);
            t[r] = now_s() - t0;
        }
        qsort(t, (size_t)repeats, sizeof *t, cmp_double);
        printf("  %s %.1f/%.1f", rs_simd_name((rs_simd)p),
               t[repeats / 2] * 1e3, t[0] * 1e3);
        free(mask);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 7;
    const char *filter = argc > 2 ? argv[2] : NULL;
    rs_simd lowest = RS_SIMD_SCALAR;
    if (repeats < 1 || repeats > 64 || argc > 4 ||
        (argc > 3 && rs_simd_parse(argv[3], &lowest))) {
        fprintf(stderr, "usage: bench_kernels [repeats 1..64 [shape-filter "
                        "[scalar|avx2|avx512]]]\n");
        return 2;
    }
    lowest_path = (int)lowest;
    bench_clock = CLOCK_THREAD_CPUTIME_ID;
    bench_gemm(repeats, filter && strcmp(filter, "-") ? filter : NULL);
    if (!filter || !strcmp(filter, "-")) {
        bench_workloads(repeats);
        bench_masks(repeats);
    }
    return 0;
}
