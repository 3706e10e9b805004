/* SPDX-License-Identifier: MIT */
/* kernels.c — CPU detection, the dispatch table, the reference GEMM, the
 * portable GEMM path, packing of transposed B and the split over threads.
 *
 * Compiled without any -m flag: nothing here may assume more than the
 * baseline ISA.  The SIMD block functions live in kernels_avx2.c and
 * kernels_avx512.c and are only called after rs_simd_detect() approved them.
 */
#include "regsweep/kernels.h"

#include <math.h>
#include <string.h>

#include "kernels_impl.h"

#ifdef _OPENMP
#include <omp.h>
#define RS_OMP(directive) _Pragma(#directive)
#else
#define RS_OMP(directive)
#endif

/* ---------------------------------------------------------------- CPU -- */

/* Without the SIMD files in the build, no CPU can run more than scalar. */
#ifdef RS_HAVE_X86
#include <cpuid.h>

/* XCR0, the state components the OS saves (needs CPUID.1:ECX.OSXSAVE). */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

rs_simd rs_simd_detect(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return RS_SIMD_SCALAR;
    /* CPUID.1:ECX bit 12 FMA, bit 27 OSXSAVE, bit 28 AVX. */
    const unsigned fma_osxsave_avx = (1u << 12) | (1u << 27) | (1u << 28);
    if ((ecx & fma_osxsave_avx) != fma_osxsave_avx)
        return RS_SIMD_SCALAR;
    uint64_t xcr0 = read_xcr0();
    /* XCR0 bits 1, 2: SSE and AVX (upper ymm) state. */
    if ((xcr0 & 0x6) != 0x6)
        return RS_SIMD_SCALAR;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return RS_SIMD_SCALAR;
    /* CPUID.7.0:EBX bit 5 AVX2. */
    if (!(ebx & (1u << 5)))
        return RS_SIMD_SCALAR;
    /* CPUID.7.0:EBX bits 16 AVX512F, 17 DQ, 30 BW, 31 VL; XCR0 bits 5-7:
     * opmask, upper halves of zmm0-15, zmm16-31. */
    const unsigned f_dq_bw_vl = (1u << 16) | (1u << 17) | (1u << 30) |
                                (1u << 31);
    if ((ebx & f_dq_bw_vl) == f_dq_bw_vl && (xcr0 & 0xE0) == 0xE0)
        return RS_SIMD_AVX512;
    return RS_SIMD_AVX2;
}
#else
rs_simd rs_simd_detect(void)
{
    return RS_SIMD_SCALAR;
}
#endif

int rs_simd_parse(const char *name, rs_simd *out)
{
    if (!name || !name[0] || !strcmp(name, "avx512"))
        *out = RS_SIMD_AVX512;
    else if (!strcmp(name, "avx2"))
        *out = RS_SIMD_AVX2;
    else if (!strcmp(name, "scalar"))
        *out = RS_SIMD_SCALAR;
    else
        return -1;
    return 0;
}

const char *rs_simd_name(rs_simd simd)
{
    switch (simd) {
    case RS_SIMD_SCALAR: return "scalar";
    case RS_SIMD_AVX2: return "avx2";
    case RS_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}

/* ---------------------------------------------------------- reference -- */

void rs_gemm_ref(rs_trans ta, rs_trans tb, int M, int N, int K,
                 const float *A, int lda, const float *B, int ldb,
                 const float *bias, int flags, float *C, int ldc,
                 float *work, int n_threads)
{
    (void)work;
    (void)n_threads;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float *out = &C[(ptrdiff_t)i * ldc + j];
            float c = flags & RS_GEMM_ACCUMULATE ? *out : bias ? bias[j] : 0.0f;
            for (int k = 0; k < K; k++) {
                float a = ta == RS_TRANS ? A[(ptrdiff_t)k * lda + i]
                                         : A[(ptrdiff_t)i * lda + k];
                float b = tb == RS_TRANS ? B[(ptrdiff_t)j * ldb + k]
                                         : B[(ptrdiff_t)k * ldb + j];
                c = fmaf(a, b, c);
            }
            *out = flags & RS_GEMM_RELU ? (c > 0.0f ? c : 0.0f) : c;
        }
    }
}

/* ------------------------------------------------------ portable path -- */

/* One output row segment at a time, k outer and j inner: C[i][j] holds the
 * partial chain between k steps (a float, exactly what the reference keeps
 * in its local), so the order of the fmaf calls per output is unchanged. */
static void block_c(const rs_gemm_args_t *g, int i0, int i1, int j0, int j1)
{
    for (int i = i0; i < i1; i++) {
        for (int jp = j0; jp < j1; jp += RS_GEMM_PANEL) {
            const int nj = j1 - jp < RS_GEMM_PANEL ? j1 - jp : RS_GEMM_PANEL;
            float *c = g->C + (ptrdiff_t)i * g->ldc + jp;
            if (!(g->flags & RS_GEMM_ACCUMULATE))
                for (int jj = 0; jj < nj; jj++)
                    c[jj] = g->bias ? g->bias[jp + jj] : 0.0f;
            const float *a = g->A + (ptrdiff_t)i * g->a_rs;
            const float *b =
                g->b_trans ? g->packed + (ptrdiff_t)(jp / RS_GEMM_PANEL) *
                                             g->K * RS_GEMM_PANEL
                           : g->B + jp;
            const ptrdiff_t b_ks = g->b_trans ? RS_GEMM_PANEL : g->ldb;
            for (int k = 0; k < g->K; k++) {
                const float ak = a[k * g->a_ks];
                const float *bk = b + k * b_ks;
                for (int jj = 0; jj < nj; jj++)
                    c[jj] = fmaf(ak, bk[jj], c[jj]);
            }
            if (g->flags & RS_GEMM_RELU)
                for (int jj = 0; jj < nj; jj++)
                    c[jj] = c[jj] > 0.0f ? c[jj] : 0.0f;
        }
    }
}

/* ------------------------------------------------------------- driver -- */

/* Copies op(B) = B^T (B stored N x K, row stride ldb) for panels [p0, p1)
 * into dst: panel p holds columns 32p .. 32p+31 as K rows of 32 floats,
 * zeros past column N. */
static void pack_bt(const float *B, ptrdiff_t ldb, int N, int K, int p0,
                    int p1, float *dst)
{
    for (int p = p0; p < p1; p++) {
        float *panel = dst + (ptrdiff_t)p * K * RS_GEMM_PANEL;
        for (int jj = 0; jj < RS_GEMM_PANEL; jj++) {
            const int j = p * RS_GEMM_PANEL + jj;
            if (j < N) {
                const float *src = B + (ptrdiff_t)j * ldb;
                for (int k = 0; k < K; k++)
                    panel[(ptrdiff_t)k * RS_GEMM_PANEL + jj] = src[k];
            } else {
                for (int k = 0; k < K; k++)
                    panel[(ptrdiff_t)k * RS_GEMM_PANEL + jj] = 0.0f;
            }
        }
    }
}

/* The start of part t of n when [0, total) is cut into n near-equal parts. */
static int part_start(int total, int n, int t)
{
    return (int)((int64_t)total * t / n);
}

/* Threads worth starting: at most n_threads, with at least 2^17 FMAs each
 * (about 2 us at AVX-512 peak, the order of an OpenMP fork-join).  The
 * choice changes only the speed: any split gives the same bits. */
static int threads_for(int M, int N, int K, int n_threads)
{
    const double min_fma_per_thread = 131072.0;
    double fmas = (double)M * N * (K > 0 ? K : 1);
    int t = n_threads < 1 ? 1 : n_threads;
    if (fmas / min_fma_per_thread < t)
        t = fmas < min_fma_per_thread ? 1 : (int)(fmas / min_fma_per_thread);
    return t;
}

/* The outputs of thread t of nt: whole column panels when there are enough
 * of them to share evenly, else row ranges cut at multiples of row_unit. */
static void thread_block(int M, int N, int row_unit, int t, int nt, int *i0,
                         int *i1, int *j0, int *j1)
{
    const int n_panels = (N + RS_GEMM_PANEL - 1) / RS_GEMM_PANEL;
    if (nt == 1) {
        *i0 = 0, *i1 = M, *j0 = 0, *j1 = N;
    } else if (n_panels % nt == 0 || n_panels >= 4 * nt) {
        int p0 = part_start(n_panels, nt, t);
        int p1 = part_start(n_panels, nt, t + 1);
        *i0 = 0, *i1 = M;
        *j0 = p0 * RS_GEMM_PANEL;
        *j1 = p1 * RS_GEMM_PANEL < N ? p1 * RS_GEMM_PANEL : N;
    } else {
        int units = (M + row_unit - 1) / row_unit;
        int u0 = part_start(units, nt, t), u1 = part_start(units, nt, t + 1);
        *i0 = u0 * row_unit < M ? u0 * row_unit : M;
        *i1 = u1 * row_unit < M ? u1 * row_unit : M;
        *j0 = 0, *j1 = N;
    }
}

/* K == 0: every output is its initial value. */
static void gemm_init_only(int M, int N, const float *bias, int flags,
                           float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = &C[(ptrdiff_t)i * ldc + j];
            if (!(flags & RS_GEMM_ACCUMULATE))
                *c = bias ? bias[j] : 0.0f;
            if (flags & RS_GEMM_RELU)
                *c = *c > 0.0f ? *c : 0.0f;
        }
}

/* What the driver needs of a path. */
typedef struct gemm_path {
    rs_gemm_block_fn block;
    rs_gemm_pack_fn pack;
    int row_unit; /* rows per thread are cut at multiples of this */
} gemm_path_t;

/* The work space: packed op(B) (when B is transposed), then op(A)^T (when
 * rs_gemm_needs_at); both parts are multiples of 16 floats, so each starts
 * 64-byte aligned when work does. */
static size_t work_packed_floats(rs_trans tb, int N, int K)
{
    if (tb != RS_TRANS || N <= 0 || K <= 0)
        return 0;
    size_t n_panels = ((size_t)N + RS_GEMM_PANEL - 1) / RS_GEMM_PANEL;
    return n_panels * RS_GEMM_PANEL * (size_t)K;
}

/* Row stride of op(A)^T: M rounded up to 16, plus 16 when that is an even
 * multiple of 16, so that rows are an odd number of 64-byte lines apart
 * and K consecutive rows spread over all L1 sets (a stride of 512 floats
 * put them all in 2 sets and halved the speed). */
static size_t work_at_ld(int M)
{
    size_t ld = ((size_t)(M > 0 ? M : 0) + 15) & ~(size_t)15;
    return ld / 16 % 2 ? ld : ld + 16;
}

static size_t work_at_floats(rs_trans ta, int M, int N, int K)
{
    if (!rs_gemm_needs_at(ta == RS_TRANS, N) || M <= 0 || K <= 0)
        return 0;
    return work_at_ld(M) * (size_t)K;
}

static void gemm_drive(const gemm_path_t *path, rs_trans ta, rs_trans tb,
                       int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, const float *bias,
                       int flags, float *C, int ldc, float *work,
                       int n_threads)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        gemm_init_only(M, N, bias, flags, C, ldc);
        return;
    }
    rs_gemm_args_t g = {
        .M = M, .N = N, .K = K,
        .a_trans = ta == RS_TRANS, .A = A,
        .a_rs = ta == RS_TRANS ? 1 : lda, .a_ks = ta == RS_TRANS ? lda : 1,
        .b_trans = tb == RS_TRANS, .B = B, .ldb = ldb,
        .packed = tb == RS_TRANS ? work : NULL,
        .at = work_at_floats(ta, M, N, K)
                  ? work + work_packed_floats(tb, N, K)
                  : NULL,
        .at_ld = (ptrdiff_t)work_at_ld(M),
        .bias = bias, .flags = flags, .C = C, .ldc = ldc};
    const int row_unit = path->row_unit;
    const int n_panels = (N + RS_GEMM_PANEL - 1) / RS_GEMM_PANEL;
    int want = threads_for(M, N, K, n_threads);
#ifdef _OPENMP
    /* A region nested deeper than the caller allows would run on one
     * thread anyway; entering it costs a few hundred ns even so. */
    if (want > 1 && omp_get_active_level() >= omp_get_max_active_levels())
        want = 1;
#endif
    if (want == 1) {
        if (g.b_trans)
            path->pack(B, ldb, N, K, 0, n_panels, work);
        path->block(&g, 0, M, 0, N);
        return;
    }
    RS_OMP(omp parallel num_threads(want))
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        if (g.b_trans) {
            path->pack(B, ldb, N, K, part_start(n_panels, nt, t),
                       part_start(n_panels, nt, t + 1), work);
            if (nt > 1) {
                RS_OMP(omp barrier)
            }
        }
        int i0, i1, j0, j1;
        thread_block(M, N, row_unit, t, nt, &i0, &i1, &j0, &j1);
        if (i0 < i1 && j0 < j1)
            path->block(&g, i0, i1, j0, j1);
    }
}

size_t rs_gemm_work_floats(rs_trans ta, rs_trans tb, int M, int N, int K,
                           int n_threads)
{
    (void)n_threads;
    if (M <= 0 || N <= 0 || K <= 0)
        return 0;
    return work_packed_floats(tb, N, K) + work_at_floats(ta, M, N, K);
}

/* ----------------------------------------------------------- dispatch -- */

static void gemm_scalar(rs_trans ta, rs_trans tb, int M, int N, int K,
                        const float *A, int lda, const float *B, int ldb,
                        const float *bias, int flags, float *C, int ldc,
                        float *work, int n_threads)
{
    static const gemm_path_t path = {block_c, pack_bt, 4};
    gemm_drive(&path, ta, tb, M, N, K, A, lda, B, ldb, bias, flags, C,
               ldc, work, n_threads);
}

#ifdef RS_HAVE_X86
static void gemm_avx2(rs_trans ta, rs_trans tb, int M, int N, int K,
                      const float *A, int lda, const float *B, int ldb,
                      const float *bias, int flags, float *C, int ldc,
                      float *work, int n_threads)
{
    /* Rows per thread in multiples of 24: whole 6- and 12-row tiles and
     * whole 8-row transposes of the narrow path. */
    static const gemm_path_t path = {rs_gemm_block_avx2,
                                     rs_gemm_pack_bt_avx2, 24};
    gemm_drive(&path, ta, tb, M, N, K, A, lda, B, ldb, bias, flags, C,
               ldc, work, n_threads);
}

static void gemm_avx512(rs_trans ta, rs_trans tb, int M, int N, int K,
                        const float *A, int lda, const float *B, int ldb,
                        const float *bias, int flags, float *C, int ldc,
                        float *work, int n_threads)
{
    /* Rows per thread in multiples of 16: whole 8- and 16-row tiles and
     * whole 16-row transposes of the narrow path. */
    static const gemm_path_t path = {rs_gemm_block_avx512,
                                     rs_gemm_pack_bt_avx512, 16};
    gemm_drive(&path, ta, tb, M, N, K, A, lda, B, ldb, bias, flags, C,
               ldc, work, n_threads);
}
#endif

rs_simd rs_kernels_init(rs_kernels_t *k, rs_simd cap)
{
    rs_simd best = rs_simd_detect();
    rs_simd use = cap < best ? cap : best;
    k->simd = RS_SIMD_SCALAR;
    k->gemm = gemm_scalar;
    k->dropout_mask = rs_dropout_mask_ref;
#ifdef RS_HAVE_X86
    if (use >= RS_SIMD_AVX2) {
        k->simd = RS_SIMD_AVX2;
        k->gemm = gemm_avx2;
        k->dropout_mask = rs_dropout_mask_avx2;
    }
    if (use >= RS_SIMD_AVX512) {
        k->simd = RS_SIMD_AVX512;
        k->gemm = gemm_avx512;
        k->dropout_mask = rs_dropout_mask_avx512;
    }
#else
    (void)use;
#endif
    return k->simd;
}
