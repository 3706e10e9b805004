/* SPDX-License-Identifier: MIT */
/* nn.c — dense layers, activations, dropout, losses and the SGD update. */
#include "regsweep/nn.h"

#include <math.h>
#include <string.h>

#include "regsweep/detmath.h"

/* Elementwise loops are exact whatever the vector width (no reductions), so
 * on x86-64 they are compiled for AVX-512, AVX2 and the baseline and chosen
 * by the loader (ifunc): speed only, the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define RS_ELEMENTWISE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RS_ELEMENTWISE
#endif

/* d where c > 0, else +0: a select written with bit operations so that
 * compilers vectorise it (a ?: on floats inside a loop often stays a
 * branch). */
static inline float keep_if_positive(float c, float d)
{
    uint32_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits &= -(uint32_t)(c > 0.0f);
    memcpy(&d, &bits, sizeof d);
    return d;
}

size_t rs_arch_weight_offset(const rs_arch_t *a, int layer)
{
    size_t off = 0;
    for (int l = 0; l < layer; l++)
        off += (size_t)a->sizes[l] * a->sizes[l + 1] + a->sizes[l + 1];
    return off;
}

size_t rs_arch_bias_offset(const rs_arch_t *a, int layer)
{
    return rs_arch_weight_offset(a, layer) +
           (size_t)a->sizes[layer] * a->sizes[layer + 1];
}

size_t rs_arch_n_params(const rs_arch_t *a)
{
    return rs_arch_weight_offset(a, a->n_layers);
}

void rs_dense_forward(const rs_kernels_t *k, float *out, const float *inp,
                      const float *W, const float *bias, int B, int n_in,
                      int n_out, int fuse_relu, float *work, int n_threads)
{
    k->gemm(RS_NOTRANS, RS_NOTRANS, B, n_out, n_in, inp, n_in, W, n_out, bias,
            fuse_relu ? RS_GEMM_RELU : 0, out, n_out, work, n_threads);
}

void rs_dense_backward(const rs_kernels_t *k, float *dinp, float *dW,
                       float *dbias, const float *dout, const float *inp,
                       const float *W, int B, int n_in, int n_out, float *work,
                       int n_threads)
{
    /* dW = inp^T dout: inp is stored B x n_in, i.e. K x M for op(A). */
    k->gemm(RS_TRANS, RS_NOTRANS, n_in, n_out, B, inp, n_in, dout, n_out, NULL,
            0, dW, n_out, work, n_threads);
    for (int j = 0; j < n_out; j++)
        dbias[j] = 0.0f;
    for (int b = 0; b < B; b++) {
        const float *row = dout + (size_t)b * n_out;
        for (int j = 0; j < n_out; j++)
            dbias[j] += row[j];
    }
    /* dinp = dout W^T: W is stored n_in x n_out, i.e. N x K for op(B). */
    if (dinp)
        k->gemm(RS_NOTRANS, RS_TRANS, B, n_in, n_out, dout, n_out, W, n_out,
                NULL, 0, dinp, n_in, work, n_threads);
}

RS_ELEMENTWISE void rs_act_forward(rs_act act, float *out, const float *inp, size_t n)
{
    switch (act) {
    case RS_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = keep_if_positive(inp[i], inp[i]);
        break;
    case RS_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            out[i] = rs_tanhf(inp[i]);
        break;
    case RS_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            out[i] = rs_sigmoidf(inp[i]);
        break;
    }
}

RS_ELEMENTWISE void rs_act_backward(rs_act act, float *dinp, const float *dout,
                     const float *pre, const float *post, size_t n)
{
    switch (act) {
    case RS_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            dinp[i] = keep_if_positive(pre ? pre[i] : post[i], dout[i]);
        break;
    case RS_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dinp[i] = dout[i] * (1.0f - post[i] * post[i]);
        break;
    case RS_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            dinp[i] = dout[i] * (post[i] * (1.0f - post[i]));
        break;
    }
}

RS_ELEMENTWISE void rs_dropout_forward(float *out, const float *inp, const float *mask,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] * mask[i];
}

RS_ELEMENTWISE void rs_dropout_backward(float *dinp, const float *dout, const float *mask,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        dinp[i] = dout[i] * mask[i];
}

RS_ELEMENTWISE void rs_act_dropout_forward(rs_act act, float *h, float *a, const float *z,
                            const float *mask, size_t n)
{
    if (act == RS_ACT_RELU && mask) {
        for (size_t i = 0; i < n; i++) {
            float v = z[i] > 0.0f ? z[i] : 0.0f;
            h[i] = v;
            a[i] = v * mask[i];
        }
        return;
    }
    rs_act_forward(act, h, z, n);
    if (mask)
        rs_dropout_forward(a, h, mask, n);
}

RS_ELEMENTWISE void rs_dropout_act_backward(rs_act act, float *dz, const float *da,
                             const float *mask, const float *h, size_t n)
{
    switch (act) {
    case RS_ACT_RELU:
        if (mask)
            for (size_t i = 0; i < n; i++)
                dz[i] = keep_if_positive(h[i], da[i] * mask[i]);
        else
            for (size_t i = 0; i < n; i++)
                dz[i] = keep_if_positive(h[i], da[i]);
        break;
    case RS_ACT_TANH:
    case RS_ACT_SIGMOID:
        if (mask)
            rs_dropout_backward(dz, da, mask, n);
        rs_act_backward(act, dz, mask ? dz : da, NULL, h, n);
        break;
    }
}

double rs_mse_forward_backward(float *dpred, const float *pred,
                               const float *target, int B, int n_out)
{
    double sum = 0.0;
    float denom = (float)((int64_t)B * n_out);
    for (int b = 0; b < B; b++) {
        double row = 0.0;
        for (int j = 0; j < n_out; j++) {
            size_t i = (size_t)b * n_out + j;
            float diff = pred[i] - target[i];
            row += (double)diff * diff;
            if (dpred)
                dpred[i] = (2.0f * diff) / denom;
        }
        sum += row / n_out;
    }
    return sum;
}

double rs_softmax_ce_forward_backward(float *dlogits, const float *logits,
                                      const uint8_t *labels, int B, int C,
                                      uint64_t *n_correct)
{
    double sum = 0.0;
    uint64_t correct = 0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        int argmax = 0;
        for (int j = 1; j < C; j++)
            if (z[j] > z[argmax])
                argmax = j;
        float m = z[argmax];
        float s = 0.0f;
        /* e_j is kept in the gradient row (when there is one) so that each
         * exp is computed once */
        float *d = dlogits ? dlogits + (size_t)b * C : NULL;
        for (int j = 0; j < C; j++) {
            float e = rs_expf(z[j] - m);
            if (d)
                d[j] = e;
            s += e;
        }
        int y = labels[b];
        float loss = (m - z[y]) + rs_logf(s);
        sum += loss;
        correct += (uint64_t)(argmax == y);
        if (d)
            for (int j = 0; j < C; j++)
                d[j] = (d[j] / s - (j == y ? 1.0f : 0.0f)) / (float)B;
    }
    if (n_correct)
        *n_correct = correct;
    return sum;
}

/* One flat loop per tensor, written so compilers vectorise it: sign(w) as
 * the difference of two comparisons (no branch), the float operations in
 * the documented order. */
RS_ELEMENTWISE static void sgd_weights(float *restrict w, const float *restrict g, size_t n,
                        float lr, float l2, float l1)
{
    for (size_t i = 0; i < n; i++) {
        float sign = (float)((w[i] > 0.0f) - (w[i] < 0.0f));
        float g2 = g[i] + l2 * w[i];
        float g3 = g2 + l1 * sign;
        w[i] = w[i] - lr * g3;
    }
}

RS_ELEMENTWISE static void sgd_biases(float *restrict b, const float *restrict g, size_t n,
                       float lr)
{
    for (size_t i = 0; i < n; i++)
        b[i] = b[i] - lr * g[i];
}

void rs_sgd_update(const rs_arch_t *a, float *params, const float *grads,
                   float lr, float l2, float l1)
{
    for (int l = 0; l < a->n_layers; l++) {
        size_t w0 = rs_arch_weight_offset(a, l), b0 = rs_arch_bias_offset(a, l);
        sgd_weights(params + w0, grads + w0,
                    (size_t)a->sizes[l] * a->sizes[l + 1], lr, l2, l1);
        sgd_biases(params + b0, grads + b0, a->sizes[l + 1], lr);
    }
}

/* sign(v) * max(|v| - t, 0), +0.0f for zero; bit operations for |v| and the
 * sign, so that the loop below vectorises and calls no libm. */
static inline float soft_threshold(float v, float t)
{
    uint32_t bits, sign;
    memcpy(&bits, &v, sizeof bits);
    sign = bits & 0x80000000u;
    bits &= 0x7fffffffu;
    float mag;
    memcpy(&mag, &bits, sizeof mag);
    float shrunk = mag - t;
    if (shrunk <= 0.0f)
        return 0.0f;           /* +0: the weight is exactly zero */
    /* shrunk > 0, or NaN (a NaN v stays NaN, so divergence is seen) */
    memcpy(&bits, &shrunk, sizeof bits);
    bits |= sign;
    memcpy(&shrunk, &bits, sizeof shrunk);
    return shrunk;
}

RS_ELEMENTWISE static void prox_weights(float *restrict w, const float *restrict g,
                                        size_t n, float lr, float l2, float t)
{
    for (size_t i = 0; i < n; i++) {
        float g2 = g[i] + l2 * w[i];
        float v = w[i] - lr * g2;
        w[i] = soft_threshold(v, t);
    }
}

float rs_soft_threshold(float v, float t)
{
    return soft_threshold(v, t);
}

void rs_sgd_update_proximal(const rs_arch_t *a, float *params,
                            const float *grads, float lr, float l2, float l1)
{
    const float t = lr * l1;
    for (int l = 0; l < a->n_layers; l++) {
        size_t w0 = rs_arch_weight_offset(a, l), b0 = rs_arch_bias_offset(a, l);
        prox_weights(params + w0, grads + w0,
                     (size_t)a->sizes[l] * a->sizes[l + 1], lr, l2, t);
        sgd_biases(params + b0, grads + b0, a->sizes[l + 1], lr);
    }
}

uint64_t rs_max_norm(const rs_arch_t *a, float *params, float c, float *work)
{
    uint64_t rescaled = 0;
    for (int l = 0; l + 1 < a->n_layers; l++) {
        float *W = params + rs_arch_weight_offset(a, l);
        const size_t n_in = a->sizes[l], n_out = a->sizes[l + 1];
        /* squared norms: one fmaf chain per column, rows in order (the
         * loops run row by row for memory order; each column's chain is
         * still k = 0, 1, ...) */
        for (size_t j = 0; j < n_out; j++)
            work[j] = 0.0f;
        for (size_t k = 0; k < n_in; k++) {
            const float *row = W + k * n_out;
            for (size_t j = 0; j < n_out; j++)
                work[j] = fmaf(row[j], row[j], work[j]);
        }
        /* work[j] becomes the column's factor: c / norm, or 1 (exact).  A
         * squared norm that overflowed (|w| around 1.8e19) would give
         * c / inf = 0 and silently zero a diverging column: NaN instead,
         * so the job is reported as diverged (weights). */
        for (size_t j = 0; j < n_out; j++) {
            float norm = rs_sqrtf(work[j]);
            int over = norm > c;
            work[j] = !over ? 1.0f : norm == INFINITY ? NAN : c / norm;
            rescaled += (uint64_t)over;
        }
        for (size_t k = 0; k < n_in; k++) {
            float *row = W + k * n_out;
            for (size_t j = 0; j < n_out; j++)
                row[j] = row[j] * work[j];
        }
    }
    return rescaled;
}

void rs_act_var(double out[RS_AV_N], const float *h, const float *a, size_t n,
                double noise_var)
{
    double sum_h = 0.0, sum_a = 0.0, sum_hh = 0.0, sum_noise = 0.0;
    for (size_t i = 0; i < n; i++) {
        double hi = h[i], ai = a[i], d = ai - hi;
        sum_h += hi;
        sum_a += ai;
        sum_hh += hi * hi;
        sum_noise += d * d;
    }
    /* two passes for the spreads: no cancellation of mean(x^2) - mean^2 */
    double mean_h = sum_h / (double)n, mean_a = sum_a / (double)n;
    double ss_h = 0.0, ss_a = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dh = (double)h[i] - mean_h, da = (double)a[i] - mean_a;
        ss_h += dh * dh;
        ss_a += da * da;
    }
    out[RS_AV_CLEAN] = ss_h / (double)n;
    out[RS_AV_DROPOUT] = ss_a / (double)n;
    out[RS_AV_NOISE] = sum_noise / (double)n;
    out[RS_AV_NOISE_THEORY] = noise_var * (sum_hh / (double)n);
}
