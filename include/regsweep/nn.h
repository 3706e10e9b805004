/* SPDX-License-Identifier: MIT */
/* nn.h — the MLP: dense layers, activations, dropout, losses, as
 * forward/backward pairs in llm.c's argument order (outputs, inputs, dims).
 *
 * Layout: a model with L dense layers has sizes n[0..L]; layer l maps
 * n[l] -> n[l+1] with weights W_l stored row-major as n[l] x n[l+1] (so the
 * forward product X W_l needs no transpose) and bias b_l of n[l+1].  All
 * parameters live in one float array, in the order W_0, b_0, W_1, b_1, ...;
 * the gradients mirror them in a second array of the same shape, so the SGD
 * update is one flat loop.
 *
 * Arithmetic is float32 and every reduction has a fixed order: GEMMs go
 * through the kernels module (one fmaf chain per output in increasing k),
 * bias gradients sum the batch rows in order, losses are summed in double in
 * row order.  Nothing here allocates, reads files or prints.
 */
#ifndef RS_NN_H
#define RS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "regsweep/kernels.h"

#define RS_MAX_LAYERS 16

typedef enum rs_act { RS_ACT_RELU = 0, RS_ACT_TANH = 1, RS_ACT_SIGMOID = 2 } rs_act;
typedef enum rs_loss { RS_LOSS_MSE = 0, RS_LOSS_SOFTMAX_CE = 1 } rs_loss;

/* The shape of a model: sizes[0..n_layers]. */
typedef struct rs_arch {
    int n_layers;                    /* dense layers, 1..RS_MAX_LAYERS   */
    uint32_t sizes[RS_MAX_LAYERS + 1];
    rs_act act;                      /* after every hidden layer         */
    rs_loss loss;
} rs_arch_t;

/* Offsets (in floats) of W_l and b_l inside the parameter array, and the
 * total count. */
size_t rs_arch_weight_offset(const rs_arch_t *a, int layer);
size_t rs_arch_bias_offset(const rs_arch_t *a, int layer);
size_t rs_arch_n_params(const rs_arch_t *a);

/* ---- dense layer -------------------------------------------------------
 * out (B, n_out) = inp (B, n_in) * W (n_in, n_out) + bias (n_out); with
 * fuse_relu, out = relu(that), applied as each output is stored (the same
 * bits as rs_act_forward(RS_ACT_RELU) on the plain output). */
void rs_dense_forward(const rs_kernels_t *k, float *out, const float *inp,
                      const float *W, const float *bias, int B, int n_in,
                      int n_out, int fuse_relu, float *work, int n_threads);

/* dW (n_in, n_out) = inp^T dout; dbias (n_out) = sum over rows of dout (in
 * row order); dinp (B, n_in) = dout W^T unless dinp is NULL.  dW and dbias
 * are overwritten, not accumulated. */
void rs_dense_backward(const rs_kernels_t *k, float *dinp, float *dW,
                       float *dbias, const float *dout, const float *inp,
                       const float *W, int B, int n_in, int n_out, float *work,
                       int n_threads);

/* ---- activations (elementwise over n values) --------------------------
 * relu(x) = x > 0 ? x : 0 (so relu(-0) = +0 and relu(NaN) = 0);
 * derivative 1 where x > 0, else 0.  tanh and sigmoid use detmath. */
void rs_act_forward(rs_act act, float *out, const float *inp, size_t n);

/* dinp = dout * act'(.), written in place of dout allowed (dinp == dout).
 * pre is the pre-activation (relu), post the activation (tanh, sigmoid:
 * tanh' = 1 - post^2, sigmoid' = post * (1 - post)). */
void rs_act_backward(rs_act act, float *dinp, const float *dout,
                     const float *pre, const float *post, size_t n);

/* ---- dropout -----------------------------------------------------------
 * out = inp * mask elementwise, where mask holds 0 or 1/keep_prob (see
 * rs_dropout_mask_ref in rng.h).  A dropped unit is inp * 0.0f (which is
 * -0.0f for a negative input); the same product is used backward:
 * dinp = dout * mask.  Both may work in place. */
void rs_dropout_forward(float *out, const float *inp, const float *mask,
                        size_t n);
void rs_dropout_backward(float *dinp, const float *dout, const float *mask,
                         size_t n);

/* Fused forms used in training (one pass instead of two; the same float
 * operations in the same order, so the same bits as the separate calls):
 *   forward:  h = act(z); a = h * mask           (mask NULL: a untouched)
 *   backward: dz = (da * mask) * act'(h)         (mask NULL: dz = da * act')
 * where relu' is taken from the activation (h > 0 iff z > 0). dz may be
 * da. */
void rs_act_dropout_forward(rs_act act, float *h, float *a, const float *z,
                            const float *mask, size_t n);
void rs_dropout_act_backward(rs_act act, float *dz, const float *da,
                             const float *mask, const float *h, size_t n);

/* ---- activation variance (record.act_var; docs/FORMAT.md) ---------------
 * Statistics of one hidden layer at one training step over its n values
 * (the minibatch's rows x the layer's units): h the clean activations,
 * a = h * m what the next layer receives (a == h when the layer has no
 * noise), noise_var the variance v of one multiplier m (rs_noise_var).
 * Every sum is in double, one accumulator, index order from 0; a and h are
 * widened to double before any operation:
 *   out[RS_AV_CLEAN]        = sum (h_i - mean h)^2 / n   (mean h = sum h_i / n)
 *   out[RS_AV_DROPOUT]      = sum (a_i - mean a)^2 / n
 *   out[RS_AV_NOISE]        = sum (a_i - h_i)^2 / n
 *   out[RS_AV_NOISE_THEORY] = v * (sum h_i^2 / n)
 * The empirical noise variance is the mean over the layer's values of the
 * squared deviation of the dropped-out activation from its clean value,
 * which is also its mean (E m = 1): given h, E[(a_i - h_i)^2] = h_i^2 v,
 * so out[RS_AV_NOISE] estimates out[RS_AV_NOISE_THEORY] without bias, with
 * variance sum h_i^4 (E(m-1)^4 - v^2) / n^2 over the draws of m.  n >= 1. */
enum { RS_AV_CLEAN = 0, RS_AV_DROPOUT = 1, RS_AV_NOISE = 2,
       RS_AV_NOISE_THEORY = 3, RS_AV_N = 4 };
void rs_act_var(double out[RS_AV_N], const float *h, const float *a, size_t n,
                double noise_var);

/* ---- losses -------------------------------------------------------------
 * Each returns the SUM of the per-sample losses over the B rows (double,
 * summed in row order) and, when dpred is not NULL, writes the gradient of
 * the MEAN loss with respect to the predictions.
 *
 * MSE over B rows of n_out targets: loss_b = sum_j (p - y)^2 / n_out, so the
 * mean loss is mean((p - y)^2) over all B * n_out values (the chapter's
 * np.mean); dpred = 2 (p - y) / (B * n_out), computed as
 * (2 * (p - y)) / (float)(B * n_out). */
double rs_mse_forward_backward(float *dpred, const float *pred,
                               const float *target, int B, int n_out);

/* Softmax cross-entropy over C classes: with m = max_j z_j,
 * e_j = rs_expf(z_j - m), s = sum_j e_j (float, j in order),
 * loss_b = (m - z_y) + rs_logf(s) (float), p_j = e_j / s,
 * dlogits = (p_j - [j == y]) / (float)B.  *n_correct counts rows whose
 * first maximal logit is the label (may be NULL). */
double rs_softmax_ce_forward_backward(float *dlogits, const float *logits,
                                      const uint8_t *labels, int B, int C,
                                      uint64_t *n_correct);

/* ---- SGD with L2 and L1 on weights (not biases) --------------------------
 * For each weight w with gradient g:
 *   g2 = g + l2 * w;  g3 = g2 + l1 * sign(w);  w = w - lr * g3
 * (each operation rounded to float, sign(0) = 0): the gradient of
 * data_loss + (l2/2) |W|^2 + l1 |W|_1, as the chapter adds l2*W to dW.
 * Biases: b = b - lr * g. */
void rs_sgd_update(const rs_arch_t *a, float *params, const float *grads,
                   float lr, float l2, float l1);

/* ---- SGD with L2, then L1 as a proximal step (soft-thresholding) --------
 * With t = lr * l1 (rounded to float), for each weight w with gradient g:
 *   g2 = g + l2 * w;  v = w - lr * g2;
 *   w = |v| - t > 0 ? sign(v) * (|v| - t) : +0.0f
 * (each operation rounded to float; |v| and the sign are bit operations, so
 * exact; a NaN v stays NaN).  This is proximal gradient descent (ISTA) on
 * data_loss + (l2/2) |W|^2 + l1 |W|_1: a weight whose step lands within t
 * of zero becomes exactly +0.0f.  Biases: b = b - lr * g, as rs_sgd_update. */
void rs_sgd_update_proximal(const rs_arch_t *a, float *params,
                            const float *grads, float lr, float l2, float l1);

/* ---- max-norm constraint (Srivastava et al., JMLR 2014, section 5.1) -----
 * Every hidden unit's incoming weight vector is kept within a ball of
 * radius c.  For each hidden layer l (l < n_layers - 1; the output layer
 * and all biases are not constrained) and each unit j of it, the vector is
 * column j of W_l, i.e. W_l[k][j] for k = 0 .. n[l]-1:
 *   s = +0.0f;  s = fmaf(W[k][j], W[k][j], s) for k = 0, 1, ... in order;
 *   norm = sqrtf(s) (IEEE: correctly rounded, rs_sqrtf);
 *   if norm > c: scale = c / norm, W[k][j] = W[k][j] * scale for every k
 * (each operation rounded to float).  After rescaling the norm is c up to
 * a few ulp of rounding.  A NaN norm fails "> c" and leaves the column as
 * it is; a squared norm that overflows to inf (entries near 1.8e19) makes
 * the column NaN rather than zero, so a diverging job is seen as one.  work: at least max over hidden l of n[l+1] floats (overwritten).
 * Returns the number of columns rescaled. */
uint64_t rs_max_norm(const rs_arch_t *a, float *params, float c, float *work);

/* The soft-threshold of one value, as rs_sgd_update_proximal applies it:
 * sign(v) * max(|v| - t, 0) with +0.0f for the zero case. */
float rs_soft_threshold(float v, float t);

#endif
