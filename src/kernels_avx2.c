/* SPDX-License-Identifier: MIT */
/* kernels_avx2.c — the AVX2 + FMA path (compiled with -mavx2 -mfma; called
 * only when rs_simd_detect() says the CPU and OS support it).
 *
 * GEMM: a register tile of mr rows x 16 columns (two ymm per row), or mr x 8
 * for a last piece of at most 8 columns, held in registers across the whole
 * k loop.  Per k it loads op(B) row k once, broadcasts op(A)[i][k] for each
 * tile row and issues one _mm256_fmadd_ps per vector: lane j is exactly
 * fmaf(opA[i][k], opB[k][j], c[i][j]), so every output is the reference
 * chain in increasing k.  Nothing is summed across lanes or k blocks.
 *
 * Dropout: Philox4x32-10 on 8 counters at once (one block per lane), the
 * words transposed back into unit order, then the scalar rule of
 * rs_dropout_mask_ref: kept iff (word >> 8) < threshold.
 */
#if defined(__x86_64__) && defined(RS_HAVE_X86_SIMD)
#include <immintrin.h>
#include <string.h>

#include "kernels_impl.h"

/* Tile heights: 16 ymm registers hold 6 x 2 accumulators, the two B vectors
 * and the broadcast; Zen 4 / Haswell-class cores retire two 256-bit FMAs
 * per cycle with latency 4, so 8 independent chains are the minimum. */
#define MR2 6  /* rows of an mr x 16 tile                   */
#define MR1 12 /* rows of an mr x 8 tile (last <= 8 columns) */
/* Rows per cache block, a multiple of MR2 and MR1: 48 measured best of 48,
 * 96 and unblocked (98 vs 49 GFLOP/s unblocked at 10000x256x784). */
#define MC 48

#define RS_INLINE static inline __attribute__((always_inline))

/* X(r) for every row a tile can have (MR1 = 12). */
#define FOR_ROWS(X)                                                           \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* All-ones in the first n of 8 lanes (n clamped to 0..8). */
static inline __m256i lanes(int n)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota);
}

/* One tile: rows r < mr, nv vectors of 8 columns, lanes of the last vector
 * limited by m_last (the others full).  a and a_s as in the AVX-512 file:
 * a_kc means op(A) is k-contiguous (row stride a_s), else i-contiguous (k
 * stride a_s).  b is op(B)[0][j0] with row stride b_ks; lanes outside m_last
 * are loaded through masks only when b_masked. */
RS_INLINE void tile(const int mr, const int nv, const int a_kc, int K,
                    const float *a, ptrdiff_t a_s, const float *b,
                    ptrdiff_t b_ks, int b_masked, __m256i m_last, float *c,
                    ptrdiff_t ldc, const float *bias, int flags)
{
    const __m256i m0 = nv == 1 ? m_last : _mm256_set1_epi32(-1);
    const __m256i m1 = m_last;
    /* vmaskmovps stores are slow on AMD cores: plain stores when the last
     * vector is full (the first of two always is). */
    const int last_full =
        _mm256_movemask_ps(_mm256_castsi256_ps(m_last)) == 0xFF;
#define ACC_DECL(r) __m256 c##r##_0 = _mm256_setzero_ps(), c##r##_1 = c##r##_0;
#define ACC_INIT(r)                                                           \
    if (r < mr) {                                                             \
        if (flags & RS_GEMM_ACCUMULATE) {                                                     \
            c##r##_0 = _mm256_maskload_ps(c + r * ldc, m0);                   \
            if (nv == 2)                                                      \
                c##r##_1 = _mm256_maskload_ps(c + r * ldc + 8, m1);           \
        } else if (bias) {                                                    \
            c##r##_0 = _mm256_maskload_ps(bias, m0);                          \
            if (nv == 2)                                                      \
                c##r##_1 = _mm256_maskload_ps(bias + 8, m1);                  \
        }                                                                     \
    }
#define ACC_FMA(r)                                                            \
    if (r < mr) {                                                             \
        __m256 ar = _mm256_broadcast_ss(a_kc ? &a[r * a_s] : &a[r]);          \
        c##r##_0 = _mm256_fmadd_ps(ar, b0, c##r##_0);                         \
        if (nv == 2)                                                          \
            c##r##_1 = _mm256_fmadd_ps(ar, b1, c##r##_1);                     \
    }
#define ACC_STORE(r)                                                          \
    if (r < mr) {                                                             \
        if (nv == 2 || last_full)                                             \
            _mm256_storeu_ps(c + r * ldc, c##r##_0);                          \
        else                                                                  \
            _mm256_maskstore_ps(c + r * ldc, m0, c##r##_0);                   \
        if (nv == 2 && last_full)                                             \
            _mm256_storeu_ps(c + r * ldc + 8, c##r##_1);                      \
        else if (nv == 2)                                                     \
            _mm256_maskstore_ps(c + r * ldc + 8, m1, c##r##_1);               \
    }
    FOR_ROWS(ACC_DECL)
    FOR_ROWS(ACC_INIT)
    for (int k = 0; k < K; k++) {
        __m256 b0, b1 = _mm256_setzero_ps();
        if (nv == 1) {
            b0 = b_masked ? _mm256_maskload_ps(b, m0) : _mm256_loadu_ps(b);
        } else {
            b0 = _mm256_loadu_ps(b);
            b1 = b_masked ? _mm256_maskload_ps(b + 8, m1)
                          : _mm256_loadu_ps(b + 8);
        }
        FOR_ROWS(ACC_FMA)
        a += a_kc ? 1 : a_s;
        b += b_ks;
    }
    /* relu as max(c, +0): MAXPS returns its second operand for NaN and for
     * +-0, so NaN and -0 become +0, as c > 0 ? c : +0 does */
#define ACC_RELU(r)                                                           \
    if (r < mr) {                                                             \
        c##r##_0 = _mm256_max_ps(c##r##_0, _mm256_setzero_ps());                 \
        if (nv == 2)                                                          \
            c##r##_1 = _mm256_max_ps(c##r##_1, _mm256_setzero_ps());             \
    }
    if (flags & RS_GEMM_RELU) {
        FOR_ROWS(ACC_RELU)
    }
#undef ACC_RELU
    FOR_ROWS(ACC_STORE)
#undef ACC_DECL
#undef ACC_INIT
#undef ACC_FMA
#undef ACC_STORE
}

typedef void (*tile_fn)(int K, const float *a, ptrdiff_t a_s, const float *b,
                        ptrdiff_t b_ks, int b_masked, __m256i m_last,
                        float *c, ptrdiff_t ldc, const float *bias,
                        int flags);

/* One instance per constant (mr, nv, a_kc), so the accumulators are
 * registers. */
#define TILE_INSTANCE(mr, nv, kc)                                             \
    static void tile_##mr##_##nv##_##kc(                                      \
        int K, const float *a, ptrdiff_t a_s, const float *b, ptrdiff_t b_ks, \
        int b_masked, __m256i m_last, float *c, ptrdiff_t ldc,                \
        const float *bias, int flags)                                    \
    {                                                                         \
        tile(mr, nv, kc, K, a, a_s, b, b_ks, b_masked, m_last, c, ldc, bias,  \
             flags);                                                     \
    }
#define TILE_ROWS6(nv, kc)                                                    \
    TILE_INSTANCE(1, nv, kc)                                                  \
    TILE_INSTANCE(2, nv, kc)                                                  \
    TILE_INSTANCE(3, nv, kc)                                                  \
    TILE_INSTANCE(4, nv, kc)                                                  \
    TILE_INSTANCE(5, nv, kc)                                                  \
    TILE_INSTANCE(6, nv, kc)
#define TILE_ROWS12(nv, kc)                                                   \
    TILE_ROWS6(nv, kc)                                                        \
    TILE_INSTANCE(7, nv, kc)                                                  \
    TILE_INSTANCE(8, nv, kc)                                                  \
    TILE_INSTANCE(9, nv, kc)                                                  \
    TILE_INSTANCE(10, nv, kc)                                                 \
    TILE_INSTANCE(11, nv, kc)                                                 \
    TILE_INSTANCE(12, nv, kc)

TILE_ROWS6(2, 0)
TILE_ROWS6(2, 1)
TILE_ROWS12(1, 0)
TILE_ROWS12(1, 1)

#define LIST6(nv, kc)                                                         \
    tile_1_##nv##_##kc, tile_2_##nv##_##kc, tile_3_##nv##_##kc,               \
        tile_4_##nv##_##kc, tile_5_##nv##_##kc, tile_6_##nv##_##kc
#define LIST12(nv, kc)                                                        \
    LIST6(nv, kc), tile_7_##nv##_##kc, tile_8_##nv##_##kc,                    \
        tile_9_##nv##_##kc, tile_10_##nv##_##kc, tile_11_##nv##_##kc,         \
        tile_12_##nv##_##kc

/* [a_kc][mr - 1] */
static const tile_fn tiles2[2][MR2] = {{LIST6(2, 0)}, {LIST6(2, 1)}};
static const tile_fn tiles1[2][MR1] = {{LIST12(1, 0)}, {LIST12(1, 1)}};

/* Columns [jq, jq + nj) (nj <= 16) of rows [i0, i1); b = op(B)[0][jq]. */
static void piece(const rs_gemm_args_t *g, int i0, int i1, int jq, int nj,
                  const float *b, ptrdiff_t b_ks, int b_masked)
{
    const int a_kc = !g->a_trans;
    const ptrdiff_t a_s = g->a_trans ? g->a_ks : g->a_rs;
    const float *bias = g->bias ? g->bias + jq : NULL;
    const int nv = nj > 8 ? 2 : 1, mr_max = nv == 2 ? MR2 : MR1;
    const __m256i m_last = lanes(nv == 2 ? nj - 8 : nj);
    for (int i = i0; i < i1; i += mr_max) {
        const int mr = i1 - i < mr_max ? i1 - i : mr_max;
        const float *a = g->A + i * g->a_rs;
        float *c = g->C + i * g->ldc + jq;
        tile_fn f = nv == 2 ? tiles2[a_kc][mr - 1] : tiles1[a_kc][mr - 1];
        f(g->K, a, a_s, b, b_ks, b_masked, m_last, c, g->ldc, bias,
          g->flags);
    }
}

/* dst[c * ds + r] = src[r * ss + c] for r < 8, c < n_cols, where rows
 * r >= n_rows read as zeros (n_rows may be <= 0: src is then not read);
 * only the first store_rows lanes (rows) are written. */
static void transpose8(const float *src, ptrdiff_t ss, int n_rows, int n_cols,
                       float *dst, ptrdiff_t ds, int store_rows)
{
    const __m256i lm = lanes(n_cols), sm = lanes(store_rows);
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = i >= n_rows    ? _mm256_setzero_ps()
               : n_cols >= 8 ? _mm256_loadu_ps(src + i * ss)
                             : _mm256_maskload_ps(src + i * ss, lm);
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* r[4h+q], 128-bit lane L: column 4L+q of rows 4h .. 4h+3. */
    for (int h = 0; h < 2; h++) {
        r[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        r[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        r[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        r[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    for (int q = 0; q < 4; q++) {
        t[q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x20);
        t[4 + q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x31);
    }
    for (int c = 0; c < n_cols; c++) {
        if (store_rows >= 8)
            _mm256_storeu_ps(dst + c * ds, t[c]);
        else
            _mm256_maskstore_ps(dst + c * ds, sm, t[c]);
    }
}

void rs_gemm_pack_bt_avx2(const float *B, ptrdiff_t ldb, int N, int K,
                          int p0, int p1, float *dst)
{
    for (int p = p0; p < p1; p++) {
        float *panel = dst + (ptrdiff_t)p * K * RS_GEMM_PANEL;
        for (int h = 0; h < RS_GEMM_PANEL; h += 8) {
            const int j = p * RS_GEMM_PANEL + h, n_rows = N - j;
            const float *src = n_rows > 0 ? B + (ptrdiff_t)j * ldb : B;
            for (int k0 = 0; k0 < K; k0 += 8)
                transpose8(src + k0, ldb, n_rows, K - k0 < 8 ? K - k0 : 8,
                           panel + (ptrdiff_t)k0 * RS_GEMM_PANEL + h,
                           RS_GEMM_PANEL, 8);
        }
    }
}

/* at[k * at_ld + i] = A[i * lda + k] for i in [i0, i1), k < K: only those
 * rows of at are written (other threads own the others). */
static void fill_at(const rs_gemm_args_t *g, int i0, int i1)
{
    for (int i = i0; i < i1; i += 8) {
        const int n_rows = i1 - i < 8 ? i1 - i : 8;
        for (int k0 = 0; k0 < g->K; k0 += 8)
            transpose8(g->A + i * g->a_rs + k0, g->a_rs, n_rows,
                       g->K - k0 < 8 ? g->K - k0 : 8,
                       g->at + k0 * g->at_ld + i, g->at_ld, n_rows);
    }
}

/* --------------------------------------------------- narrow outputs -- */

/* For N <= 8 (and transposed A with N < 16) a tile is n columns x up to
 * 8 * nvec rows, one vector per 8 rows: lane l of accumulator (v, j) is
 * output (8v + l, j), and per k one fmadd multiplies op(A) column k (8
 * rows, from the i-contiguous copy) by the broadcast op(B)[k][j]: exactly
 * fmaf(opA[i][k], opB[k][j], c) per lane, k increasing. */
#define FOR_J(X, v)                                                           \
    X(v, 0) X(v, 1) X(v, 2) X(v, 3) X(v, 4) X(v, 5) X(v, 6) X(v, 7)
#define FOR_VJ(X)                                                             \
    FOR_J(X, 0) FOR_J(X, 1) FOR_J(X, 2) FOR_J(X, 3) FOR_J(X, 4) FOR_J(X, 5)  \
        FOR_J(X, 6) FOR_J(X, 7)
#define FOR_V(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* Row vectors per tile for n columns: 8 accumulators where the 16 ymm
 * registers allow. */
static inline int narrow_vecs(int n)
{
    return n == 1 ? 8 : n == 2 ? 4 : n <= 4 ? 2 : 1;
}

/* t holds a tile column-major, column j at t + 64 j (rows <= 64): copies
 * C's rows 0 .. rows-1, columns 0 .. n-1 in (gather) or out (scatter).
 * Out of line: unrolled into every tile instance they were most of the
 * code. */
__attribute__((noinline)) static void gather_cols(const float *c,
                                                  ptrdiff_t ldc, int rows,
                                                  int n, float *t)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            t[64 * j + r] = c[r * ldc + j];
    for (int j = 0; j < n; j++) /* lanes past the last row: defined, unused */
        for (int r = rows; r < 64; r++)
            t[64 * j + r] = 0.0f;
}

__attribute__((noinline)) static void scatter_cols(float *c, ptrdiff_t ldc,
                                                   int rows, int n,
                                                   const float *t)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            c[r * ldc + j] = t[64 * j + r];
}

/* at: op(A)[i0][0], i-contiguous, k stride at_ks; rows: valid rows of the
 * tile (1 .. 8 nvec); b: op(B)[0][j0], k stride b_ks; c: C[i0][j0]. */
RS_INLINE void narrow_tile(const int n, const int nvec, int K,
                           const float *at, ptrdiff_t at_ks, int rows,
                           const float *b, ptrdiff_t b_ks, float *c,
                           ptrdiff_t ldc, const float *bias, int flags)
{
    const int last_rows = rows - 8 * (nvec - 1);
    const __m256i m_last = lanes(last_rows);
    float t[64 * 8];
#define N_DECL(v, j) __m256 c##v##_##j = _mm256_setzero_ps();
#define N_LOAD_C(v, j)                                                        \
    if (v < nvec && j < n)                                                    \
        c##v##_##j = _mm256_loadu_ps(t + 64 * j + 8 * v);
#define N_BIAS(v, j)                                                          \
    if (v < nvec && j < n)                                                    \
        c##v##_##j = _mm256_set1_ps(bias[j]);
#define N_LOAD_A(v)                                                           \
    __m256 x##v = _mm256_setzero_ps();                                        \
    if (v < nvec)                                                             \
        x##v = v == nvec - 1 && last_rows < 8                                 \
                   ? _mm256_maskload_ps(at + 8 * v, m_last)                   \
                   : _mm256_loadu_ps(at + 8 * v);
#define N_FMA_J(j)                                                            \
    if (j < n) {                                                              \
        __m256 bj = _mm256_broadcast_ss(b + j);                               \
        FOR_V_J(N_FMA, j)                                                     \
    }
#define N_FMA(v, j)                                                           \
    if (v < nvec)                                                             \
        c##v##_##j = _mm256_fmadd_ps(x##v, bj, c##v##_##j);
#define FOR_V_J(X, j)                                                         \
    X(0, j) X(1, j) X(2, j) X(3, j) X(4, j) X(5, j) X(6, j) X(7, j)
#define N_STORE(v, j)                                                         \
    if (v < nvec && j < n)                                                    \
        _mm256_storeu_ps(t + 64 * j + 8 * v, c##v##_##j);
    FOR_VJ(N_DECL)
    if (flags & RS_GEMM_ACCUMULATE) {
        gather_cols(c, ldc, rows, n, t);
        FOR_VJ(N_LOAD_C)
    } else if (bias) {
        FOR_VJ(N_BIAS)
    }
    for (int k = 0; k < K; k++) {
        FOR_V(N_LOAD_A)
        N_FMA_J(0) N_FMA_J(1) N_FMA_J(2) N_FMA_J(3)
        N_FMA_J(4) N_FMA_J(5) N_FMA_J(6) N_FMA_J(7)
        at += at_ks;
        b += b_ks;
    }
#define N_RELU(v, j)                                                          \
    if (v < nvec && j < n)                                                    \
        c##v##_##j = _mm256_max_ps(c##v##_##j, _mm256_setzero_ps());
    if (flags & RS_GEMM_RELU) {
        FOR_VJ(N_RELU)
    }
#undef N_RELU
    FOR_VJ(N_STORE)
    scatter_cols(c, ldc, rows, n, t);
#undef N_DECL
#undef N_LOAD_C
#undef N_BIAS
#undef N_LOAD_A
#undef N_FMA_J
#undef N_FMA
#undef FOR_V_J
#undef N_STORE
}

typedef void (*narrow_fn)(int K, const float *at, ptrdiff_t at_ks, int rows,
                          const float *b, ptrdiff_t b_ks, float *c,
                          ptrdiff_t ldc, const float *bias, int flags);

#define NARROW_INSTANCE(n, v)                                                 \
    static void narrow_##n##_##v(int K, const float *at, ptrdiff_t at_ks,     \
                                 int rows, const float *b, ptrdiff_t b_ks,    \
                                 float *c, ptrdiff_t ldc, const float *bias,  \
                                 int flags)                              \
    {                                                                         \
        narrow_tile(n, v, K, at, at_ks, rows, b, b_ks, c, ldc, bias,          \
                    flags);                                              \
    }
NARROW_INSTANCE(1, 1) NARROW_INSTANCE(1, 2) NARROW_INSTANCE(1, 3)
NARROW_INSTANCE(1, 4) NARROW_INSTANCE(1, 5) NARROW_INSTANCE(1, 6)
NARROW_INSTANCE(1, 7) NARROW_INSTANCE(1, 8)
NARROW_INSTANCE(2, 1) NARROW_INSTANCE(2, 2) NARROW_INSTANCE(2, 3)
NARROW_INSTANCE(2, 4)
NARROW_INSTANCE(3, 1) NARROW_INSTANCE(3, 2)
NARROW_INSTANCE(4, 1) NARROW_INSTANCE(4, 2)
NARROW_INSTANCE(5, 1) NARROW_INSTANCE(6, 1) NARROW_INSTANCE(7, 1)
NARROW_INSTANCE(8, 1)

/* [n - 1][nvec - 1], nvec <= narrow_vecs(n) */
static const narrow_fn narrow_tiles[8][8] = {
    {narrow_1_1, narrow_1_2, narrow_1_3, narrow_1_4, narrow_1_5, narrow_1_6,
     narrow_1_7, narrow_1_8},
    {narrow_2_1, narrow_2_2, narrow_2_3, narrow_2_4},
    {narrow_3_1, narrow_3_2},
    {narrow_4_1, narrow_4_2},
    {narrow_5_1},
    {narrow_6_1},
    {narrow_7_1},
    {narrow_8_1}};

static int use_narrow(const rs_gemm_args_t *g)
{
    if (g->a_trans)
        return g->N < 16;
    return rs_gemm_needs_at(0, g->N) && g->at;
}

/* Rows per block of the narrow path: op(A)^T of a block is copied just
 * before its tiles run, so it is still in L1. */
#define NARROW_ROWS 64

static void block_narrow(const rs_gemm_args_t *g, int i0, int i1, int j0,
                         int j1)
{
    const float *at = g->a_trans ? g->A : g->at;
    const ptrdiff_t at_ks = g->a_trans ? g->a_ks : g->at_ld;
    for (int ib = i0; ib < i1; ib += NARROW_ROWS) {
        const int ib_end = i1 - ib < NARROW_ROWS ? i1 : ib + NARROW_ROWS;
        if (!g->a_trans)
            fill_at(g, ib, ib_end);
        for (int jg = j0; jg < j1; jg += 8) {
            const int n = j1 - jg < 8 ? j1 - jg : 8;
            const float *b;
            ptrdiff_t b_ks;
            if (g->b_trans) {
                b = g->packed +
                    (ptrdiff_t)(jg / RS_GEMM_PANEL) * g->K * RS_GEMM_PANEL +
                    jg % RS_GEMM_PANEL;
                b_ks = RS_GEMM_PANEL;
            } else {
                b = g->B + jg;
                b_ks = g->ldb;
            }
            const float *bias = g->bias ? g->bias + jg : NULL;
            const int step = 8 * narrow_vecs(n);
            for (int i = ib; i < ib_end; i += step) {
                const int rows = ib_end - i < step ? ib_end - i : step;
                narrow_tiles[n - 1][(rows + 7) / 8 - 1](
                    g->K, at + i, at_ks, rows, b, b_ks,
                    g->C + i * g->ldc + jg, g->ldc, bias, g->flags);
            }
        }
    }
}

void rs_gemm_block_avx2(const rs_gemm_args_t *g, int i0, int i1, int j0,
                        int j1)
{
    if (use_narrow(g)) {
        block_narrow(g, i0, i1, j0, j1);
        return;
    }
    /* Rows in blocks of MC, each block across all columns: the block's
     * op(A) (MC x K) stays in L2 while op(B) streams past. */
    for (int ib = i0; ib < i1; ib += MC) {
        const int ib_end = i1 - ib < MC ? i1 : ib + MC;
        for (int jq = j0; jq < j1; jq += 16) {
            const int nj = j1 - jq < 16 ? j1 - jq : 16;
            if (g->b_trans) {
                /* Packed panels are 32 wide and zero padded: no masks. */
                const int jp = jq - jq % RS_GEMM_PANEL;
                const float *b = g->packed +
                                 (size_t)(jp / RS_GEMM_PANEL) * g->K *
                                     RS_GEMM_PANEL +
                                 (jq - jp);
                piece(g, ib, ib_end, jq, nj, b, RS_GEMM_PANEL, 0);
            } else {
                piece(g, ib, ib_end, jq, nj, g->B + jq, g->ldb, nj < 16);
            }
        }
    }
}

/* ------------------------------------------------------------ dropout -- */

/* Low and high 32 bits of the 32x32-bit products of each lane with m. */
RS_INLINE void mulhilo8(__m256i x, __m256i m, __m256i *lo, __m256i *hi)
{
    __m256i even = _mm256_mul_epu32(x, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    /* 0xB1 swaps the dwords of each qword. */
    *lo = _mm256_blend_epi32(even, _mm256_shuffle_epi32(odd, 0xB1), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xB1), odd, 0xAA);
}

/* Philox4x32-10 on two sets of 8 blocks at once (the two chains hide each
 * other's latency): lane l of x[s][w] is word w of block l of set s.
 * rk0/rk1: the 10 round keys (key, then += the Weyl increments). */
RS_INLINE void philox8x2(__m256i x[2][4], const uint32_t *rk0,
                         const uint32_t *rk1)
{
    const __m256i m0 = _mm256_set1_epi32((int)RS_PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)RS_PHILOX_M1);
    for (int round = 0; round < 10; round++) {
        const __m256i k0 = _mm256_set1_epi32((int)rk0[round]);
        const __m256i k1 = _mm256_set1_epi32((int)rk1[round]);
        for (int s = 0; s < 2; s++) {
            __m256i lo0, hi0, lo1, hi1;
            mulhilo8(x[s][0], m0, &lo0, &hi0);
            mulhilo8(x[s][2], m1, &lo1, &hi1);
            x[s][0] = _mm256_xor_si256(_mm256_xor_si256(hi1, x[s][1]), k0);
            x[s][2] = _mm256_xor_si256(_mm256_xor_si256(hi0, x[s][3]), k1);
            x[s][1] = lo1;
            x[s][3] = lo0;
        }
    }
}

/* Words 0..3 of 8 blocks (SoA, x[w] lane l) into unit order: u[q] lane l
 * is word (8q + l) % 4 of block (8q + l) / 4. */
RS_INLINE void words_in_order(const __m256i x[4], __m256i u[4])
{
    __m256i t0 = _mm256_unpacklo_epi32(x[0], x[1]);
    __m256i t1 = _mm256_unpackhi_epi32(x[0], x[1]);
    __m256i t2 = _mm256_unpacklo_epi32(x[2], x[3]);
    __m256i t3 = _mm256_unpackhi_epi32(x[2], x[3]);
    /* s_p, 128-bit lane c: words 0..3 of block 4c + p. */
    __m256i s0 = _mm256_unpacklo_epi64(t0, t2);
    __m256i s1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i s2 = _mm256_unpacklo_epi64(t1, t3);
    __m256i s3 = _mm256_unpackhi_epi64(t1, t3);
    u[0] = _mm256_permute2x128_si256(s0, s1, 0x20);
    u[1] = _mm256_permute2x128_si256(s2, s3, 0x20);
    u[2] = _mm256_permute2x128_si256(s0, s1, 0x31);
    u[3] = _mm256_permute2x128_si256(s2, s3, 0x31);
}

static inline uint64_t popcount64(uint64_t v)
{
    v = v - ((v >> 1) & 0x5555555555555555u);
    v = (v & 0x3333333333333333u) + ((v >> 2) & 0x3333333333333333u);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Fu;
    return (v * 0x0101010101010101u) >> 56;
}

/* The counters and constants of one mask call. */
typedef struct mask_call {
    uint32_t rk0[10], rk1[10]; /* round keys                          */
    __m256i c0, c1, c2;        /* counter words 0..2, broadcast        */
    __m256i thr;               /* min(threshold, 2^24), broadcast      */
    __m256 scale;              /* scale, broadcast                     */
} mask_call_t;

/* Philox blocks base[s] .. base[s] + 7 for s = 0, 1, in unit order. */
static inline void gen_two_chunks(const mask_call_t *mc, const uint32_t base[2],
                                  __m256i u[2][4])
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i x[2][4];
    for (int s = 0; s < 2; s++) {
        x[s][0] = mc->c0;
        x[s][1] = mc->c1;
        x[s][2] = mc->c2;
        x[s][3] = _mm256_add_epi32(_mm256_set1_epi32((int)base[s]), iota);
    }
    philox8x2(x, mc->rk0, mc->rk1);
    words_in_order(x[0], u[0]);
    words_in_order(x[1], u[1]);
}

/* The first n (1..32) units of a chunk: scale mask floats to out (if not
 * NULL); returns the keep bits, bit i = unit i, zero from bit n on.
 * (w >> 8) < 2^24 always, so with the threshold clamped to 2^24 both sides
 * of the compare fit a signed one. */
static inline uint32_t emit_chunk(const mask_call_t *mc, const __m256i u[4],
                                  int n, float *out)
{
    uint32_t keep_bits = 0;
    for (int q = 0; q < 4 && 8 * q < n; q++) {
        __m256i keep = _mm256_cmpgt_epi32(mc->thr, _mm256_srli_epi32(u[q], 8));
        __m256i valid = lanes(n - 8 * q);
        keep = _mm256_and_si256(keep, valid);
        keep_bits |= (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(keep))
                     << (8 * q);
        if (out) {
            __m256 v = _mm256_and_ps(_mm256_castsi256_ps(keep), mc->scale);
            if (n - 8 * q >= 8)
                _mm256_storeu_ps(out + 8 * q, v);
            else
                _mm256_maskstore_ps(out + 8 * q, valid, v);
        }
    }
    return keep_bits;
}

/* n (1..4) little-endian bytes of v to dst. */
static inline void put_bytes(uint8_t *dst, uint32_t v, uint32_t n)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                     (uint8_t)(v >> 24)};
    memcpy(dst, le, n);
}

/* Rows that fill whole bytes (or no bits wanted) and whole blocks: the
 * masks of all rows are one stream, unit f = b * H + u of the call being
 * word f % 4 of block f / 4, bit f of the bits. */
static uint64_t masks_linear(const mask_call_t *mc, uint64_t n_units,
                             float *scale_mask, uint8_t *bits)
{
    const uint64_t n_chunks = (n_units + 31) / 32;
    uint64_t kept = 0;
    for (uint64_t c = 0; c < n_chunks; c += 2) {
        const uint32_t base[2] = {(uint32_t)(8 * c), (uint32_t)(8 * c + 8)};
        __m256i u[2][4];
        gen_two_chunks(mc, base, u);
        for (int s = 0; s < 2 && c + s < n_chunks; s++) {
            const uint64_t f = 32 * (c + s);
            const int n = n_units - f < 32 ? (int)(n_units - f) : 32;
            uint32_t kb =
                emit_chunk(mc, u[s], n, scale_mask ? scale_mask + f : NULL);
            kept += popcount64(kb);
            if (bits)
                put_bytes(bits + f / 8, kb, (uint32_t)(n + 7) / 8);
        }
    }
    return kept;
}

/* Any H with at least 8 blocks a row: 32-unit chunks within each row (the
 * last one of a row partly used), two chunks at a time. */
static uint64_t masks_by_row(const mask_call_t *mc, uint32_t n_samples,
                             uint32_t n_units, float *scale_mask,
                             uint8_t *bits)
{
    const uint32_t groups = (n_units + 3) / 4, row_bytes = (n_units + 7) / 8;
    const uint32_t per_row = (groups + 7) / 8;
    const uint64_t n_chunks = (uint64_t)n_samples * per_row;
    uint64_t kept = 0;
    for (uint64_t c = 0; c < n_chunks; c += 2) {
        uint32_t b[2], q[2], base[2];
        for (int s = 0; s < 2; s++) {
            uint64_t cs = c + s < n_chunks ? c + s : c;
            b[s] = (uint32_t)(cs / per_row);
            q[s] = (uint32_t)(cs % per_row);
            base[s] = b[s] * groups + 8 * q[s];
        }
        __m256i u[2][4];
        gen_two_chunks(mc, base, u);
        for (int s = 0; s < 2 && c + s < n_chunks; s++) {
            const uint32_t unit0 = 32 * q[s];
            const int n = n_units - unit0 < 32 ? (int)(n_units - unit0) : 32;
            float *out = scale_mask
                             ? scale_mask + (uint64_t)b[s] * n_units + unit0
                             : NULL;
            uint32_t kb = emit_chunk(mc, u[s], n, out);
            kept += popcount64(kb);
            if (bits)
                put_bytes(bits + (uint64_t)b[s] * row_bytes + unit0 / 8, kb,
                          (uint32_t)(n + 7) / 8);
        }
    }
    return kept;
}

/* Narrow rows that do not fill whole bytes: blocks generated 16 at a time
 * over all rows, then placed one word at a time. */
static uint64_t masks_narrow(const mask_call_t *mc, uint32_t n_samples,
                             uint32_t n_units, uint32_t threshold, float scale,
                             float *scale_mask, uint8_t *bits)
{
    const uint32_t groups = (n_units + 3) / 4, row_bytes = (n_units + 7) / 8;
    const uint64_t n_blocks = (uint64_t)n_samples * groups;
    if (bits)
        memset(bits, 0, (size_t)n_samples * row_bytes);
    uint64_t kept = 0;
    uint32_t b = 0, g = 0; /* the row and group of block t */
    for (uint64_t t0 = 0; t0 < n_blocks; t0 += 16) {
        const uint32_t base[2] = {(uint32_t)t0, (uint32_t)t0 + 8};
        __m256i u[2][4];
        uint32_t w[64];
        gen_two_chunks(mc, base, u);
        for (int s = 0; s < 2; s++)
            for (int q = 0; q < 4; q++)
                _mm256_storeu_si256((__m256i *)(w + 32 * s + 8 * q), u[s][q]);
        for (uint32_t l = 0; l < 16 && t0 + l < n_blocks; l++) {
            for (uint32_t j = 0; j < 4 && 4 * g + j < n_units; j++) {
                const uint32_t unit = 4 * g + j;
                const int keep = (w[4 * l + j] >> 8) < threshold;
                kept += (uint64_t)keep;
                if (scale_mask)
                    scale_mask[(uint64_t)b * n_units + unit] =
                        keep ? scale : 0.0f;
                if (bits && keep)
                    bits[(uint64_t)b * row_bytes + unit / 8] |=
                        (uint8_t)(1u << (unit % 8));
            }
            if (++g == groups) {
                g = 0;
                b++;
            }
        }
    }
    return kept;
}

uint64_t rs_dropout_mask_avx2(rs_key_t key, uint32_t layer, uint32_t epoch,
                              uint32_t step, uint32_t n_samples,
                              uint32_t n_units, uint32_t threshold,
                              float scale, float *scale_mask, uint8_t *bits)
{
    if (!n_samples || !n_units)
        return 0;
    mask_call_t mc;
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int r = 0; r < 10; r++) {
        mc.rk0[r] = k0;
        mc.rk1[r] = k1;
        k0 += RS_PHILOX_W0;
        k1 += RS_PHILOX_W1;
    }
    mc.c0 = _mm256_set1_epi32((int)rs_ctr0(RS_PURPOSE_DROPOUT, layer));
    mc.c1 = _mm256_set1_epi32((int)epoch);
    mc.c2 = _mm256_set1_epi32((int)step);
    mc.thr = _mm256_set1_epi32(
        (int)(threshold < (1u << 24) ? threshold : (1u << 24)));
    mc.scale = _mm256_set1_ps(scale);
    if (n_units % 4 == 0 && (!bits || n_units % 8 == 0))
        return masks_linear(&mc, (uint64_t)n_samples * n_units, scale_mask,
                            bits);
    if (n_units > 28)
        return masks_by_row(&mc, n_samples, n_units, scale_mask, bits);
    return masks_narrow(&mc, n_samples, n_units, threshold, scale, scale_mask,
                        bits);
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int rs_kernels_simd_not_built;
#endif /* __x86_64__ && RS_HAVE_X86_SIMD */
