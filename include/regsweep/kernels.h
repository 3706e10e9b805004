/* SPDX-License-Identifier: MIT */
/* kernels.h — GEMM and dropout-mask kernels: a C reference and fast paths,
 * chosen at run time, all bit-identical.
 *
 * Exactness contract (the reason this module exists): every output of a GEMM
 * is one chain of fmaf in increasing k,
 *     c = init;  for k = 0 .. K-1:  c = fmaf(opA[i][k], opB[k][j], c);
 * where init is bias[j], 0, or the existing C[i][j] (accumulate); with
 * RS_GEMM_RELU the stored value is relu(c).  Fast paths
 * vectorise across independent outputs (i, j) and block the loops for the
 * caches, but never split or reorder the k chain, so they return exactly the
 * bits of rs_gemm_ref for every shape, layout and thread count.  Threads
 * split the outputs, never k.  The module never allocates: callers pass the
 * scratch space that rs_gemm_work_floats() asks for.
 *
 * Dispatch: rs_kernels_init() fills a table with the reference functions and
 * overrides them with the best path the CPU supports, capped by the caller
 * (and by the environment variable RS_SIMD=scalar|avx2|avx512, which the CLI
 * reads and passes in).  The table is the caller's; there is no global.
 */
#ifndef RS_KERNELS_H
#define RS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/rng.h"

typedef enum rs_simd {
    RS_SIMD_SCALAR = 0, /* portable C, no intrinsics                 */
    RS_SIMD_AVX2 = 1,   /* x86-64 AVX2 + FMA                         */
    RS_SIMD_AVX512 = 2  /* x86-64 AVX-512F (+ VL/DQ/BW as needed)    */
} rs_simd;

/* Matrix operand layouts. */
typedef enum rs_trans { RS_NOTRANS = 0, RS_TRANS = 1 } rs_trans;

/* C (M x N, row stride ldc) = init + op(A) * op(B), where
 *   op(A) is M x K: A itself (row-major, row stride lda) or, with RS_TRANS,
 *          A stored K x M (row stride lda) read transposed;
 *   op(B) is K x N: B itself (row stride ldb) or B stored N x K, transposed;
 *   init: flags & RS_GEMM_ACCUMULATE ? C[i][j] : (bias ? bias[j] : +0.0f)
 *         (bias is ignored when accumulating); K == 0 leaves every output
 *         at init;
 *   flags & RS_GEMM_RELU: each finished chain c is stored as relu(c) =
 *         c > 0 ? c : +0.0f (NaN -> +0), the activation fused into the
 *         store so that the outputs are not read and written a second time.
 * C must not overlap A, B, bias or work.  M, N, K >= 0; M or N == 0 does
 * nothing.
 * work: at least rs_gemm_work_floats(...) floats, 64-byte aligned (NULL
 * when that is 0); its contents on entry and exit mean nothing.
 * n_threads: at most that many OpenMP threads, each computing a fixed block
 * of outputs.  Fewer are used when the product is small (about 2^17 FMAs a
 * thread at least), and one inside a parallel region that may not nest
 * (omp_get_max_active_levels); without OpenMP it is ignored.  The bits of
 * C never depend on it.
 * Bit-identity is tested for finite inputs.  Where NaNs arise or are input,
 * outputs are NaN in every path, but which NaN payload survives when two
 * NaNs meet in one fmaf may differ between paths. */
enum { RS_GEMM_ACCUMULATE = 1, RS_GEMM_RELU = 2 };

typedef void (*rs_gemm_fn)(rs_trans ta, rs_trans tb, int M, int N, int K,
                           const float *A, int lda, const float *B, int ldb,
                           const float *bias, int flags, float *C, int ldc,
                           float *work, int n_threads);

/* Fills scale_mask and/or bits and returns the kept count exactly as
 * rs_dropout_mask_ref (rng.h), with the same preconditions. */
typedef uint64_t (*rs_dropout_mask_fn)(rs_key_t key, uint32_t layer,
                                       uint32_t epoch, uint32_t step,
                                       uint32_t n_samples, uint32_t n_units,
                                       uint32_t threshold, float scale,
                                       float *scale_mask, uint8_t *bits);

typedef struct rs_kernels {
    rs_simd simd;                    /* the path in use                   */
    rs_gemm_fn gemm;
    rs_dropout_mask_fn dropout_mask;
} rs_kernels_t;

/* The best path this CPU (and OS, via XGETBV) can run. */
rs_simd rs_simd_detect(void);

/* Parses "scalar", "avx2", "avx512" (NULL or "" -> RS_SIMD_AVX512, i.e. no
 * cap).  Returns 0 on success, -1 for an unknown name. */
int rs_simd_parse(const char *name, rs_simd *out);

const char *rs_simd_name(rs_simd simd);

/* Fills k with the best path <= cap that the CPU supports; returns it. */
rs_simd rs_kernels_init(rs_kernels_t *k, rs_simd cap);

/* Scratch floats a GEMM call needs (0 allowed): the same for every path
 * and thread count, so one buffer sized for the largest call of a job
 * serves all of them.  Non-zero when tb == RS_TRANS (op(B) is packed:
 * K x N rounded up to 32) and when ta == RS_NOTRANS with N <= 8 (op(A) is
 * transposed for the narrow-output kernels: about K x M). */
size_t rs_gemm_work_floats(rs_trans ta, rs_trans tb, int M, int N, int K,
                           int n_threads);

/* The naive triple loop: the definition every fast path must match.
 * Single-threaded; work and n_threads are ignored. */
void rs_gemm_ref(rs_trans ta, rs_trans tb, int M, int N, int K,
                 const float *A, int lda, const float *B, int ldb,
                 const float *bias, int flags, float *C, int ldc,
                 float *work, int n_threads);

#endif
