/* SPDX-License-Identifier: MIT */
/* kernels_impl.h — what kernels.c shares with the per-ISA files
 * (kernels_avx2.c, kernels_avx512.c).  Private to src/.
 *
 * Division of labour: kernels.c owns the public API, the reference, the
 * portable path, the work-space layout and the thread split; an ISA file
 * provides a "block" function that computes a rectangle of outputs, a
 * function that packs op(B) = B^T into panels, and a dropout-mask function.
 * A block function must produce, for every output in its rectangle, exactly
 * the fmaf chain of kernels.h.
 */
#ifndef RS_KERNELS_IMPL_H
#define RS_KERNELS_IMPL_H

#include <stddef.h>

#include "regsweep/kernels.h"

/* Columns per panel of packed op(B).  The thread split cuts N only at
 * multiples of this, and block functions see j0 % RS_GEMM_PANEL == 0. */
#define RS_GEMM_PANEL 32

/* Narrow outputs (N <= RS_GEMM_NARROW_N) are computed 16 rows per vector
 * instead of 16 columns per vector, which needs op(A) i-contiguous: read
 * directly when A is transposed, else from a transposed copy (at) in the
 * work space.  Both the work size and the SIMD blocks use this rule. */
#define RS_GEMM_NARROW_N 8
static inline int rs_gemm_needs_at(int a_trans, int N)
{
    return !a_trans && N <= RS_GEMM_NARROW_N;
}

/* One GEMM call, in strides:
 *   op(A)[i][k] = A[i * a_rs + k * a_ks]   (a_ks == 1 iff !a_trans)
 *   op(B)[k][j] = B[k * ldb + j]           when !b_trans (read directly)
 *   op(B)[k][j] = packed[(j / 32) * K * 32 + k * 32 + j % 32]
 *                                          when b_trans (packed before the
 *                                          blocks run; columns >= N are 0)
 *   at: NULL, or room for op(A)^T as K rows of at_ld floats (at_ld >= M,
 *       a multiple of 16), at[k * at_ld + i] = op(A)[i][k]; a block fills
 *       the columns i0..i1 of it that it computes before it reads them.
 *   init = flags & RS_GEMM_ACCUMULATE ? C[i][j] : bias ? bias[j] : +0.0f;
 *   flags & RS_GEMM_RELU: store relu(c) (max(c, +0): NaN and -0 -> +0). */
typedef struct rs_gemm_args {
    int M, N, K;
    int a_trans;
    const float *A;
    ptrdiff_t a_rs, a_ks;
    int b_trans;
    const float *B;
    ptrdiff_t ldb;
    const float *packed;
    float *at;
    ptrdiff_t at_ld;
    const float *bias;
    int flags;
    float *C;
    ptrdiff_t ldc;
} rs_gemm_args_t;

/* Computes C[i][j] for i in [i0, i1), j in [j0, j1); j0 is a multiple of
 * RS_GEMM_PANEL, and j1 is one too or equals N. */
typedef void (*rs_gemm_block_fn)(const rs_gemm_args_t *g, int i0, int i1,
                                 int j0, int j1);

/* Packs panels [p0, p1) of op(B) = B^T (B stored N x K, row stride ldb)
 * into dst, in the layout of rs_gemm_args_t.packed. */
typedef void (*rs_gemm_pack_fn)(const float *B, ptrdiff_t ldb, int N, int K,
                                int p0, int p1, float *dst);

/* The AVX2 and AVX-512 files are built (with their -m flags) only on
 * x86-64 and when the build defines RS_HAVE_X86_SIMD (meson option
 * x86_simd); otherwise only the portable path exists. */
#if defined(__x86_64__) && defined(RS_HAVE_X86_SIMD)
#define RS_HAVE_X86 1
void rs_gemm_block_avx2(const rs_gemm_args_t *g, int i0, int i1, int j0,
                        int j1);
void rs_gemm_pack_bt_avx2(const float *B, ptrdiff_t ldb, int N, int K,
                          int p0, int p1, float *dst);
void rs_gemm_block_avx512(const rs_gemm_args_t *g, int i0, int i1, int j0,
                          int j1);
void rs_gemm_pack_bt_avx512(const float *B, ptrdiff_t ldb, int N, int K,
                            int p0, int p1, float *dst);
uint64_t rs_dropout_mask_avx2(rs_key_t key, uint32_t layer, uint32_t epoch,
                              uint32_t step, uint32_t n_samples,
                              uint32_t n_units, uint32_t threshold,
                              float scale, float *scale_mask, uint8_t *bits);
uint64_t rs_dropout_mask_avx512(rs_key_t key, uint32_t layer, uint32_t epoch,
                                uint32_t step, uint32_t n_samples,
                                uint32_t n_units, uint32_t threshold,
                                float scale, float *scale_mask,
                                uint8_t *bits);
#endif

/* Round multipliers and Weyl key increments of Philox4x32 (Salmon et al.,
 * SC'11; Random123 philox.h PHILOX_M4x32_0/1, PHILOX_W32_0/1), the same
 * constants as src/rng.c. */
#define RS_PHILOX_M0 0xD2511F53u
#define RS_PHILOX_M1 0xCD9E8D57u
#define RS_PHILOX_W0 0x9E3779B9u
#define RS_PHILOX_W1 0xBB67AE85u

#endif
