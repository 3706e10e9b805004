/* SPDX-License-Identifier: MIT */
/* test_kernels.c — the GEMM and dropout-mask paths against their references,
 * bit for bit, and the references against independent truths.
 *
 * In the manner of dav1d's checkasm: outputs are poisoned before each call
 * (NaN bytes, or known values where the call accumulates), every path the
 * CPU supports runs the same inputs as the reference, and the whole output
 * buffer, padding and guard included, is compared with memcmp.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/kernels.h"
#include "regsweep/rng.h"

/* ---------------------------------------------------------- helpers -- */

/* splitmix64 (Steele, Lea, Flood 2014): test data only, independent of the
 * Philox code under test. */
static uint64_t mix_state = 0x9E3779B97F4A7C15u;
static uint64_t next_u64(void)
{
    uint64_t z = (mix_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int rand_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}

/* A float in (-2, 2) with a full 24-bit significand, so products and sums
 * round (and a wrong order or a missed fusion shows up). */
static float rand_float(void)
{
    int32_t m = (int32_t)(next_u64() >> 39) - (1 << 24); /* |m| <= 2^24 */
    return (float)m * 0x1p-23f;
}

/* 0xFF bytes: a NaN in every float. */
static const unsigned char POISON = 0xFF;

static void *xalloc(size_t n_bytes)
{
    void *p = aligned_alloc(64, (n_bytes + 63) & ~(size_t)63);
    cr_assert_not_null(p);
    return p;
}

/* Exactly n_bytes, no rounding: under AddressSanitizer a read past an
 * operand is reported (the kernels load through masks at the edges). */
static void *exact_alloc(size_t n_bytes)
{
    void *p = malloc(n_bytes ? n_bytes : 1);
    cr_assert_not_null(p);
    return p;
}

static const rs_simd ALL_PATHS[] = {RS_SIMD_SCALAR, RS_SIMD_AVX2,
                                    RS_SIMD_AVX512};

/* ------------------------------------------------------------ simd API -- */

Test(kernels, simd_names_and_parse)
{
    rs_simd s;
    cr_assert_eq(rs_simd_parse("scalar", &s), 0);
    cr_assert_eq(s, RS_SIMD_SCALAR);
    cr_assert_eq(rs_simd_parse("avx2", &s), 0);
    cr_assert_eq(s, RS_SIMD_AVX2);
    cr_assert_eq(rs_simd_parse("avx512", &s), 0);
    cr_assert_eq(s, RS_SIMD_AVX512);
    cr_assert_eq(rs_simd_parse(NULL, &s), 0);
    cr_assert_eq(s, RS_SIMD_AVX512);
    cr_assert_eq(rs_simd_parse("", &s), 0);
    cr_assert_eq(s, RS_SIMD_AVX512);
    cr_assert_eq(rs_simd_parse("sse9", &s), -1);
    cr_assert_eq(rs_simd_parse("AVX2", &s), -1);
    cr_assert_str_eq(rs_simd_name(RS_SIMD_SCALAR), "scalar");
    cr_assert_str_eq(rs_simd_name(RS_SIMD_AVX2), "avx2");
    cr_assert_str_eq(rs_simd_name(RS_SIMD_AVX512), "avx512");
}

Test(kernels, init_respects_cap_and_cpu)
{
    rs_simd best = rs_simd_detect();
    for (size_t p = 0; p < 3; p++) {
        rs_kernels_t k;
        memset(&k, 0, sizeof k);
        rs_simd got = rs_kernels_init(&k, ALL_PATHS[p]);
        rs_simd want = ALL_PATHS[p] < best ? ALL_PATHS[p] : best;
        cr_assert_eq(got, want);
        cr_assert_eq(k.simd, want);
        cr_assert_not_null(k.gemm);
        cr_assert_not_null(k.dropout_mask);
    }
}

/* ---------------------------------------------- reference vs. truth -- */

/* Integer-valued entries in [-8, 8] and K <= 64: every product and partial
 * sum is an integer below 2^24 in magnitude, exact in float, so the
 * reference must equal the sum computed in double from the logical
 * (untransposed) matrices, whatever the layout. */
Test(kernels, gemm_ref_exact_on_integers_all_layouts)
{
    enum { M = 7, N = 9, K = 13 };
    float opA[M][K], opB[K][N], bias[N], C0[M][N];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            opA[i][k] = (float)rand_int(-8, 8);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            opB[k][j] = (float)rand_int(-8, 8);
    for (int j = 0; j < N; j++)
        bias[j] = (float)rand_int(-100, 100);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            C0[i][j] = (float)rand_int(-100, 100);
    /* Stored operands, with strides larger than the rows. */
    const int lda_n = K + 3, lda_t = M + 2, ldb_n = N + 1, ldb_t = K + 4;
    const int ldc = N + 5;
    float An[M * (K + 3)], At[K * (M + 2)], Bn[K * (N + 1)], Bt[N * (K + 4)];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            An[i * lda_n + k] = opA[i][k];
            At[k * lda_t + i] = opA[i][k];
        }
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++) {
            Bn[k * ldb_n + j] = opB[k][j];
            Bt[j * ldb_t + k] = opB[k][j];
        }
    for (int layout = 0; layout < 4; layout++) {
        rs_trans ta = layout & 1 ? RS_TRANS : RS_NOTRANS;
        rs_trans tb = layout & 2 ? RS_TRANS : RS_NOTRANS;
        for (int mode = 0; mode < 3; mode++) { /* zero, bias, accumulate */
            float C[M * (N + 5)];
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                    C[i * ldc + j] = C0[i][j];
            rs_gemm_ref(ta, tb, M, N, K, ta ? At : An, ta ? lda_t : lda_n,
                        tb ? Bt : Bn, tb ? ldb_t : ldb_n,
                        mode == 1 ? bias : NULL, mode == 2, C, ldc, NULL, 1);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = mode == 0 ? 0.0 : mode == 1 ? bias[j] : C0[i][j];
                    for (int k = 0; k < K; k++)
                        s += (double)opA[i][k] * opB[k][j];
                    cr_assert_eq((double)C[i * ldc + j], s,
                                 "layout %d mode %d (%d,%d): %g vs %g", layout,
                                 mode, i, j, C[i * ldc + j], s);
                }
        }
    }
}

/* The reference fuses: a = b = 1 + 2^-12 gives a*b = 1 + 2^-11 + 2^-24
 * exactly; fmaf(a, b, -1) = 2^-11 + 2^-24, while a rounded product (the
 * 2^-24 is half an ulp at 1, ties to even) would give 2^-11.  And it runs
 * k upwards: c = fmaf(a0,b0,0) = 1 then fmaf(2^-24, 1, 1) = 1 (tie to even),
 * then fmaf(2^-24, 1, 1) = 1 again -> 1; the other order sums
 * 2^-24 + 2^-24 = 2^-23 first and gives 1 + 2^-23. */
Test(kernels, gemm_ref_fuses_and_runs_k_upwards)
{
    float a = 1.0f + 0x1p-12f, b = a, bias = -1.0f, c = 0.0f;
    rs_gemm_ref(RS_NOTRANS, RS_NOTRANS, 1, 1, 1, &a, 1, &b, 1, &bias, 0, &c,
                1, NULL, 1);
    cr_assert_eq(c, 0x1p-11f + 0x1p-24f);

    float A[3] = {1.0f, 0x1p-24f, 0x1p-24f}, B[3] = {1.0f, 1.0f, 1.0f};
    rs_gemm_ref(RS_NOTRANS, RS_NOTRANS, 1, 1, 3, A, 3, B, 1, NULL, 0, &c, 1,
                NULL, 1);
    cr_assert_eq(c, 1.0f);
    float Ar[3] = {0x1p-24f, 0x1p-24f, 1.0f};
    rs_gemm_ref(RS_NOTRANS, RS_NOTRANS, 1, 1, 3, Ar, 3, B, 1, NULL, 0, &c, 1,
                NULL, 1);
    cr_assert_eq(c, 1.0f + 0x1p-23f);
}

/* ----------------------------------------------- paths vs. reference -- */

typedef struct gemm_case {
    rs_trans ta, tb;
    int M, N, K;
    int lda, ldb, ldc;
    int mode; /* 0: zero init, 1: bias, 2: accumulate */
    int relu; /* RS_GEMM_RELU: the activation fused into the store */
} gemm_case_t;

static int case_flags(const gemm_case_t *t)
{
    return (t->mode == 2 ? RS_GEMM_ACCUMULATE : 0) | (t->relu ? RS_GEMM_RELU : 0);
}

typedef struct gemm_bufs {
    float *A, *B, *bias, *C_init, *C_ref, *C_out, *work;
    size_t a_n, b_n, c_n, work_n;
} gemm_bufs_t;

/* Operands with NaN in the stride padding (a kernel that reads it would
 * turn an output into NaN) and allocated to the exact size; C with
 * NaN-pattern poison (or known values to accumulate onto) and 64 guard
 * floats past the last row, compared too. */
static void gemm_bufs_make(const gemm_case_t *t, gemm_bufs_t *b)
{
    int a_rows = t->ta ? t->K : t->M, a_cols = t->ta ? t->M : t->K;
    int b_rows = t->tb ? t->N : t->K, b_cols = t->tb ? t->K : t->N;
    b->a_n = (size_t)a_rows * t->lda;
    b->b_n = (size_t)b_rows * t->ldb;
    b->c_n = (size_t)t->M * t->ldc + 64;
    b->A = exact_alloc(b->a_n * sizeof(float));
    b->B = exact_alloc(b->b_n * sizeof(float));
    b->bias = exact_alloc((size_t)t->N * sizeof(float));
    b->C_init = xalloc(b->c_n * sizeof(float));
    b->C_ref = xalloc(b->c_n * sizeof(float));
    b->C_out = xalloc(b->c_n * sizeof(float));
    memset(b->A, POISON, b->a_n * sizeof(float));
    memset(b->B, POISON, b->b_n * sizeof(float));
    memset(b->bias, POISON, (size_t)t->N * sizeof(float));
    memset(b->C_init, POISON, b->c_n * sizeof(float));
    for (int r = 0; r < a_rows; r++)
        for (int c = 0; c < a_cols; c++)
            b->A[(size_t)r * t->lda + c] = rand_float();
    for (int r = 0; r < b_rows; r++)
        for (int c = 0; c < b_cols; c++)
            b->B[(size_t)r * t->ldb + c] = rand_float();
    for (int j = 0; j < t->N; j++)
        b->bias[j] = rand_float();
    if (t->mode == 2)
        for (int i = 0; i < t->M; i++)
            for (int j = 0; j < t->N; j++)
                b->C_init[(size_t)i * t->ldc + j] = rand_float();
    b->work_n = rs_gemm_work_floats(t->ta, t->tb, t->M, t->N, t->K, 7);
    b->work = b->work_n ? xalloc(b->work_n * sizeof(float)) : NULL;
    memcpy(b->C_ref, b->C_init, b->c_n * sizeof(float));
    rs_gemm_ref(t->ta, t->tb, t->M, t->N, t->K, b->A, t->lda, b->B, t->ldb,
                t->mode == 1 ? b->bias : NULL, case_flags(t), b->C_ref, t->ldc,
                b->work, 1);
}

static void gemm_bufs_free(gemm_bufs_t *b)
{
    free(b->A);
    free(b->B);
    free(b->bias);
    free(b->C_init);
    free(b->C_ref);
    free(b->C_out);
    free(b->work);
}

static void gemm_check_path(const gemm_case_t *t, gemm_bufs_t *b,
                            const rs_kernels_t *k, int n_threads)
{
    memcpy(b->C_out, b->C_init, b->c_n * sizeof(float));
    if (b->work)
        memset(b->work, POISON, b->work_n * sizeof(float));
    k->gemm(t->ta, t->tb, t->M, t->N, t->K, b->A, t->lda, b->B, t->ldb,
            t->mode == 1 ? b->bias : NULL, case_flags(t), b->C_out, t->ldc,
            b->work, n_threads);
    if (memcmp(b->C_out, b->C_ref, b->c_n * sizeof(float)) != 0) {
        size_t at = 0;
        while (!memcmp(b->C_out + at, b->C_ref + at, sizeof(float)))
            at++;
        cr_assert_fail("%s %c%c M=%d N=%d K=%d lda=%d ldb=%d ldc=%d mode=%d "
                       "threads=%d: first difference at float %zu (row %zu "
                       "col %zu): %a vs ref %a",
                       rs_simd_name(k->simd), t->ta ? 'T' : 'N',
                       t->tb ? 'T' : 'N', t->M, t->N, t->K, t->lda, t->ldb,
                       t->ldc, t->mode, n_threads, at, at / t->ldc,
                       at % t->ldc, b->C_out[at], b->C_ref[at]);
    }
}

static void gemm_case_fill_strides(gemm_case_t *t, int extra)
{
    t->lda = (t->ta ? t->M : t->K) + (extra ? rand_int(0, 17) : 0);
    t->ldb = (t->tb ? t->K : t->N) + (extra ? rand_int(0, 17) : 0);
    t->ldc = t->N + (extra ? rand_int(0, 17) : 0);
}

/* Runs case t on every path the CPU has, at each thread count given. */
static void gemm_check_all_paths(gemm_case_t *t, const int *threads,
                                 int n_threads_list)
{
    gemm_bufs_t b;
    gemm_bufs_make(t, &b);
    for (int p = RS_SIMD_SCALAR; p <= (int)rs_simd_detect(); p++) {
        rs_kernels_t k;
        cr_assert_eq(rs_kernels_init(&k, (rs_simd)p), (rs_simd)p);
        for (int i = 0; i < n_threads_list; i++)
            gemm_check_path(t, &b, &k, threads[i]);
    }
    gemm_bufs_free(&b);
}

/* A dimension: mostly small (every tile remainder), sometimes up to 300. */
static int rand_dim(void)
{
    int r = rand_int(0, 99);
    if (r < 10)
        return 1;
    if (r < 70)
        return rand_int(1, 40);
    return rand_int(1, 300);
}

Test(kernels, gemm_paths_match_ref_random_shapes, .timeout = 600)
{
    static const int threads[] = {1, 2, 3, 4, 7};
    mix_state = 12345;
    for (int n = 0; n < 300; n++) {
        gemm_case_t t;
        t.ta = rand_int(0, 1) ? RS_TRANS : RS_NOTRANS;
        t.tb = rand_int(0, 1) ? RS_TRANS : RS_NOTRANS;
        t.M = rand_dim();
        t.N = rand_dim();
        t.K = rand_dim();
        t.mode = rand_int(0, 2);
        t.relu = rand_int(0, 1);
        gemm_case_fill_strides(&t, rand_int(0, 1));
        int th = threads[rand_int(0, 4)];
        gemm_check_all_paths(&t, &th, 1);
    }
}

/* Every layout x init mode x tile remainder in rows and columns, with
 * strides both tight and loose. */
Test(kernels, gemm_paths_match_ref_edges, .timeout = 600)
{
    static const int dims[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47};
    static const int ks[] = {1, 2, 5, 64};
    static const int one = 1;
    mix_state = 777;
    for (int layout = 0; layout < 4; layout++)
        for (int mode = 0; mode < 3; mode++)
            for (size_t mi = 0; mi < sizeof dims / sizeof *dims; mi++)
                for (size_t ni = 0; ni < sizeof dims / sizeof *dims; ni++) {
                    gemm_case_t t = {
                        .ta = layout & 1 ? RS_TRANS : RS_NOTRANS,
                        .tb = layout & 2 ? RS_TRANS : RS_NOTRANS,
                        .M = dims[mi], .N = dims[ni],
                        .K = ks[(mi + ni) % 4], .mode = mode,
                        .relu = (int)(mi * 5 + ni) % 3 == 0};
                    gemm_case_fill_strides(&t, (int)(mi + ni) % 2);
                    gemm_check_all_paths(&t, &one, 1);
                }
}

/* K = 0: every output is its initial value (no B or A read). */
Test(kernels, gemm_k_zero_is_init)
{
    static const int one = 1;
    for (int mode = 0; mode < 3; mode++)
        for (int layout = 0; layout < 4; layout++) {
            gemm_case_t t = {.ta = layout & 1 ? RS_TRANS : RS_NOTRANS,
                             .tb = layout & 2 ? RS_TRANS : RS_NOTRANS,
                             .M = 5, .N = 19, .K = 0, .mode = mode,
                             .relu = layout == 3};
            t.lda = t.ldb = 1;
            t.ldc = 21;
            gemm_check_all_paths(&t, &one, 1);
        }
}

/* The shapes of the two shipped experiments (forward, dX, dW), at every
 * thread count: the split over threads must not change a bit. */
Test(kernels, gemm_training_shapes_all_thread_counts, .timeout = 600)
{
    static const int threads[] = {1, 2, 3, 4, 7};
    static const struct {
        int ta, tb, M, N, K;
    } shapes[] = {
        /* Fashion-MNIST 784-256-256-10, batch 256 */
        {0, 0, 256, 256, 784}, {0, 0, 256, 256, 256}, {0, 0, 256, 10, 256},
        {0, 1, 256, 256, 256}, {0, 1, 256, 256, 10},
        {1, 0, 784, 256, 256}, {1, 0, 256, 256, 256}, {1, 0, 256, 10, 256},
        /* sin 1-64-64-1, batch 100 and eval 500 */
        {0, 0, 100, 64, 1}, {0, 0, 100, 64, 64}, {0, 0, 100, 1, 64},
        {0, 0, 500, 64, 64}, {0, 1, 100, 64, 64}, {0, 1, 100, 64, 1},
        {1, 0, 1, 64, 100}, {1, 0, 64, 64, 100}, {1, 0, 64, 1, 100},
        /* transposed both, odd sizes */
        {1, 1, 333, 77, 129},
        /* narrow outputs, large enough that every thread gets rows */
        {0, 0, 2000, 1, 100}, {0, 1, 1500, 7, 90}, {1, 0, 1111, 13, 150},
        {1, 1, 900, 3, 200}, {0, 0, 1001, 9, 140}};
    mix_state = 4242;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        gemm_case_t t = {.ta = shapes[s].ta ? RS_TRANS : RS_NOTRANS,
                         .tb = shapes[s].tb ? RS_TRANS : RS_NOTRANS,
                         .M = shapes[s].M, .N = shapes[s].N,
                         .K = shapes[s].K, .mode = (int)(s % 3)};
        gemm_case_fill_strides(&t, (int)(s % 2));
        gemm_check_all_paths(&t, threads, 5);
    }
}

#ifdef _OPENMP
#include <omp.h>

/* Called from inside a parallel region (a sweep's workers), with nested
 * regions allowed or not: every worker still gets the reference bits. */
Test(kernels, gemm_inside_parallel_region, .timeout = 300)
{
    gemm_case_t t = {.ta = RS_NOTRANS, .tb = RS_TRANS, .M = 150, .N = 70,
                     .K = 90, .mode = 1};
    gemm_case_fill_strides(&t, 1);
    mix_state = 99;
    gemm_bufs_t b;
    gemm_bufs_make(&t, &b);
    int saved = omp_get_max_active_levels();
    for (int levels = 1; levels <= 2; levels++) {
        omp_set_max_active_levels(levels);
        for (int p = RS_SIMD_SCALAR; p <= (int)rs_simd_detect(); p++) {
            rs_kernels_t k;
            rs_kernels_init(&k, (rs_simd)p);
            int bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
            {
                /* Each worker its own C and work, as a sweep's jobs have. */
                float *C = malloc(b.c_n * sizeof(float));
                float *work =
                    b.work_n ? aligned_alloc(64, b.work_n * sizeof(float))
                             : NULL;
                if (!C || (b.work_n && !work)) {
                    bad += 1;
                } else {
                    memcpy(C, b.C_init, b.c_n * sizeof(float));
                    k.gemm(t.ta, t.tb, t.M, t.N, t.K, b.A, t.lda, b.B, t.ldb,
                           b.bias, 0, C, t.ldc, work, 3);
                    bad += memcmp(C, b.C_ref, b.c_n * sizeof(float)) != 0;
                }
                free(C);
                free(work);
            }
            cr_assert_eq(bad, 0, "%s, max active levels %d: %d workers differ",
                         rs_simd_name(k.simd), levels, bad);
        }
    }
    omp_set_max_active_levels(saved);
    gemm_bufs_free(&b);
}
#endif

/* ------------------------------------------------------------ dropout -- */

/* Runs one mask call on every path and the reference with poisoned
 * outputs (NaN floats, 0xA5 bytes, guards past the end) and compares the
 * buffers and the kept count. */
static void mask_check(rs_key_t key, uint32_t layer, uint32_t epoch,
                       uint32_t step, uint32_t B, uint32_t H,
                       uint32_t threshold, float scale, int want_mask,
                       int want_bits)
{
    size_t n_mask = (size_t)B * H + 16, n_bits = (size_t)B * ((H + 7) / 8) + 16;
    float *m_ref = xalloc(n_mask * sizeof(float));
    float *m_out = xalloc(n_mask * sizeof(float));
    uint8_t *b_ref = xalloc(n_bits), *b_out = xalloc(n_bits);
    memset(m_ref, POISON, n_mask * sizeof(float));
    memset(b_ref, 0xA5, n_bits);
    uint64_t kept_ref = rs_dropout_mask_ref(key, layer, epoch, step, B, H,
                                            threshold, scale,
                                            want_mask ? m_ref : NULL,
                                            want_bits ? b_ref : NULL);
    for (int p = RS_SIMD_SCALAR; p <= (int)rs_simd_detect(); p++) {
        rs_kernels_t k;
        rs_kernels_init(&k, (rs_simd)p);
        memset(m_out, POISON, n_mask * sizeof(float));
        memset(b_out, 0xA5, n_bits);
        uint64_t kept = k.dropout_mask(key, layer, epoch, step, B, H,
                                       threshold, scale,
                                       want_mask ? m_out : NULL,
                                       want_bits ? b_out : NULL);
        cr_assert_eq(kept, kept_ref, "%s B=%u H=%u thr=%u: kept %llu vs %llu",
                     rs_simd_name(k.simd), B, H, threshold,
                     (unsigned long long)kept, (unsigned long long)kept_ref);
        cr_assert(!memcmp(m_out, m_ref, n_mask * sizeof(float)),
                  "%s B=%u H=%u thr=%u: scale masks differ",
                  rs_simd_name(k.simd), B, H, threshold);
        cr_assert(!memcmp(b_out, b_ref, n_bits),
                  "%s B=%u H=%u thr=%u: bits differ", rs_simd_name(k.simd), B,
                  H, threshold);
    }
    free(m_ref);
    free(m_out);
    free(b_ref);
    free(b_out);
}

Test(kernels, dropout_paths_match_ref, .timeout = 300)
{
    static const uint32_t Bs[] = {1, 2, 3, 7, 33};
    static const uint32_t Hs[] = {1,  2,  3,  4,  5,   7,   8,   9,   12,
                                  15, 16, 17, 31, 32,  33,  63,  64,  65,
                                  127, 128, 129, 255, 256, 257, 511, 512};
    /* 0 drops all; 2^24 and above keep all; ceil(0.7 * 2^24) is the
     * threshold rs_keep_threshold(0.7f) gives. */
    static const uint32_t thresholds[] = {0,          1,        1u << 23,
                                          11744052u,  1u << 24, (1u << 24) + 5,
                                          UINT32_MAX};
    rs_key_t key = rs_key_from_seed(0x0123456789ABCDEFu);
    for (size_t bi = 0; bi < sizeof Bs / sizeof *Bs; bi++)
        for (size_t hi = 0; hi < sizeof Hs / sizeof *Hs; hi++)
            for (size_t ti = 0; ti < sizeof thresholds / sizeof *thresholds;
                 ti++) {
                int outputs = (int)((bi + hi + ti) % 4);
                mask_check(key, (uint32_t)hi, 3, (uint32_t)(7 + bi), Bs[bi],
                           Hs[hi], thresholds[ti], 1.0f / 0.7f, outputs & 1,
                           outputs & 2);
                if (outputs != 3)
                    mask_check(key, 1, 9, 2, Bs[bi], Hs[hi], thresholds[ti],
                               2.0f, 1, 1);
            }
}

/* Large counters and keys: the counter b*G + g crossing 2^16, all-ones and
 * high key words, the top layer and the largest epoch and step exercise
 * the 32-bit arithmetic of the SIMD Philox. */
Test(kernels, dropout_paths_match_ref_large_counters)
{
    rs_key_t key = {{0xFFFFFFFFu, 0xDEADBEEFu}};
    mask_check(key, (1u << 24) - 1, UINT32_MAX, UINT32_MAX, 300, 1000,
               11744052u, 1.0f / 0.7f, 1, 1);
    mask_check(key, 0, 0, 0, 70000, 4, 1u << 23, 2.0f, 1, 1);
}

/* The mask rule applied to words computed here with rs_philox4x32_10: an
 * independent restatement of rng.h's mapping, unit by unit. */
Test(kernels, dropout_mask_follows_documented_counters)
{
    const uint32_t B = 5, H = 10, G = 3, layer = 2, epoch = 4, step = 6;
    const uint32_t thr = 1u << 23;
    rs_key_t key = rs_key_from_seed(99);
    for (int p = RS_SIMD_SCALAR; p <= (int)rs_simd_detect(); p++) {
        rs_kernels_t k;
        rs_kernels_init(&k, (rs_simd)p);
        float mask[5 * 10];
        uint8_t bits[5 * 2];
        k.dropout_mask(key, layer, epoch, step, B, H, thr, 3.0f, mask, bits);
        for (uint32_t b = 0; b < B; b++)
            for (uint32_t u = 0; u < H; u++) {
                uint32_t ctr[4] = {4u | (layer << 8), epoch, step,
                                   b * G + u / 4};
                uint32_t w[4];
                rs_philox4x32_10(ctr, key, w);
                int keep = (w[u % 4] >> 8) < thr;
                cr_assert_eq(mask[b * H + u], keep ? 3.0f : 0.0f);
                cr_assert_eq((bits[b * 2 + u / 8] >> (u % 8)) & 1, keep);
            }
        for (uint32_t b = 0; b < B; b++)
            cr_assert_eq(bits[b * 2 + 1] >> 2, 0, "padding bits must be 0");
    }
}

/* The share of kept units is binomial(n, keep_prob): within 6 standard
 * deviations for keep 0.8, 0.5 and 0.2 on 512 x 256 units. */
Test(kernels, dropout_keep_share_is_binomial)
{
    static const float keeps[] = {0.8f, 0.5f, 0.2f};
    const uint32_t B = 512, H = 256;
    float *mask = xalloc((size_t)B * H * sizeof(float));
    for (int p = RS_SIMD_SCALAR; p <= (int)rs_simd_detect(); p++) {
        rs_kernels_t k;
        rs_kernels_init(&k, (rs_simd)p);
        for (size_t i = 0; i < sizeof keeps / sizeof *keeps; i++) {
            double q = keeps[i], n = (double)B * H;
            uint64_t kept = k.dropout_mask(rs_key_from_seed(5), 0, 1, 2, B, H,
                                           rs_keep_threshold(keeps[i]),
                                           1.0f / keeps[i], mask, NULL);
            double sd = sqrt(n * q * (1 - q));
            cr_assert(fabs((double)kept - n * q) < 6 * sd,
                      "%s keep %g: %llu of %g kept", rs_simd_name(k.simd), q,
                      (unsigned long long)kept, n);
            uint64_t nonzero = 0;
            for (size_t u = 0; u < (size_t)B * H; u++)
                nonzero += mask[u] != 0.0f;
            cr_assert_eq(nonzero, kept);
        }
    }
    free(mask);
}

/* RS_GEMM_RELU stores c > 0 ? c : +0 of each finished chain: checked on the
 * reference against the plain product with the activation applied here,
 * including -0 (a chain of -0 products from a -0 bias) and NaN inputs. */
Test(kernels, gemm_relu_flag_is_the_activation_of_the_chain)
{
    enum { M = 9, N = 7, K = 5 };
    float A[M * K], B[K * N], bias[N], plain[M * N], fused[M * N];
    for (int i = 0; i < M * K; i++)
        A[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < K * N; i++)
        B[i] = (float)((i * 5) % 9) - 4.0f;
    for (int j = 0; j < N; j++)
        bias[j] = (float)j - 3.0f;
    A[0] = A[1] = A[2] = A[3] = A[4] = 0.0f;   /* row 0: chains of bias only */
    bias[1] = -0.0f;
    A[K * 2] = NAN;                            /* row 2: NaN chains */
    rs_gemm_ref(RS_NOTRANS, RS_NOTRANS, M, N, K, A, K, B, N, bias, 0, plain, N, NULL, 1);
    rs_gemm_ref(RS_NOTRANS, RS_NOTRANS, M, N, K, A, K, B, N, bias, RS_GEMM_RELU, fused, N,
                NULL, 1);
    for (int i = 0; i < M * N; i++) {
        float want = plain[i] > 0.0f ? plain[i] : 0.0f;
        cr_assert_eq(memcmp(&fused[i], &want, 4), 0, "element %d: %g vs %g", i,
                     fused[i], want);
    }
    cr_assert(!signbit(fused[1]), "relu(-0) must be +0");
    cr_assert_eq(fused[2 * N], 0.0f, "relu(NaN) is +0");
}
