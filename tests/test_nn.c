/* SPDX-License-Identifier: MIT */
/* test_nn.c — every layer's backward pass against finite differences, and
 * the losses and the SGD update against values worked out by hand.
 *
 * Finite differences: for a layer y = f(x) and a fixed random weighting c,
 * the scalar g(x) = sum(c * f(x)) has gradient backward(dout = c).  Each
 * input coordinate is perturbed by +-h and (g(x+h) - g(x-h)) / 2h, summed in
 * double, must match the analytic gradient to the stated tolerance.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/nn.h"
#include "regsweep/rng.h"

static rs_kernels_t K;

static void setup(void) { rs_kernels_init(&K, RS_SIMD_SCALAR); }

/* Deterministic test values in [lo, hi) from the counter RNG. */
static void fill(float *v, size_t n, uint32_t tag, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t ctr[4] = {tag, (uint32_t)i, 0, 0}, w[4];
        rs_philox4x32_10(ctr, rs_key_from_seed(31337), w);
        v[i] = lo + (hi - lo) * rs_u01(w[0]);
    }
}

static double weighted_sum(const float *y, const float *c, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * c[i];
    return s;
}

static void assert_close(double fd, double an, double rtol, double atol,
                         const char *what, size_t i)
{
    cr_assert(fabs(fd - an) <= atol + rtol * fabs(fd),
              "%s[%zu]: finite difference %.7g, backward %.7g", what, i, fd, an);
}

/* Dense layer: gradients w.r.t. input, weights and bias. */
Test(nn, dense_backward_matches_finite_differences, .init = setup)
{
    enum { B = 5, I = 7, O = 6 };
    float x[B * I], W[I * O], b[O], c[B * O], y[B * O];
    float dx[B * I], dW[I * O], db[O];
    fill(x, B * I, 1, -1, 1);
    fill(W, I * O, 2, -1, 1);
    fill(b, O, 3, -1, 1);
    fill(c, B * O, 4, -1, 1);
    static float work[1 << 16];   /* >= rs_gemm_work_floats of any call here */
    cr_assert_leq(rs_gemm_work_floats(RS_TRANS, RS_NOTRANS, I, O, B, 1), 1 << 16);
    cr_assert_leq(rs_gemm_work_floats(RS_NOTRANS, RS_TRANS, B, I, O, 1), 1 << 16);
    rs_dense_backward(&K, dx, dW, db, c, x, W, B, I, O, work, 1);
    const float h = 1e-2f;
    /* the layer is linear in each argument: differences are exact up to
     * float rounding of the outputs */
    float *args[3] = {x, W, b}, *grads[3] = {dx, dW, db};
    size_t sizes[3] = {B * I, I * O, O};
    const char *names[3] = {"dx", "dW", "db"};
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < sizes[a]; i++) {
            float keep = args[a][i];
            args[a][i] = keep + h;
            rs_dense_forward(&K, y, x, W, b, B, I, O, 0, work, 1);
            double up = weighted_sum(y, c, B * O);
            args[a][i] = keep - h;
            rs_dense_forward(&K, y, x, W, b, B, I, O, 0, work, 1);
            double down = weighted_sum(y, c, B * O);
            args[a][i] = keep;
            assert_close((up - down) / (2 * h), grads[a][i], 2e-3, 2e-4,
                         names[a], i);
        }
}

static void check_activation(rs_act act, float lo, float hi)
{
    enum { N = 64 };
    float z[N], c[N], y[N], d[N];
    fill(z, N, 10 + act, lo, hi);
    fill(c, N, 20 + act, -1, 1);
    /* keep ReLU inputs away from its kink at 0 */
    for (int i = 0; i < N && act == RS_ACT_RELU; i++)
        if (fabsf(z[i]) < 0.05f)
            z[i] = 0.5f;
    rs_act_forward(act, y, z, N);
    rs_act_backward(act, d, c, z, y, N);
    const float h = 1e-3f;
    for (int i = 0; i < N; i++) {
        float keep = z[i], yp, ym;
        z[i] = keep + h;
        rs_act_forward(act, &yp, &z[i], 1);
        z[i] = keep - h;
        rs_act_forward(act, &ym, &z[i], 1);
        z[i] = keep;
        double fd = ((double)yp - ym) / (2 * h) * c[i];
        assert_close(fd, d[i], 2e-2, 2e-4, "dz", (size_t)i);
    }
}

Test(nn, relu_backward, .init = setup) { check_activation(RS_ACT_RELU, -2, 2); }
Test(nn, tanh_backward, .init = setup) { check_activation(RS_ACT_TANH, -3, 3); }
Test(nn, sigmoid_backward, .init = setup) { check_activation(RS_ACT_SIGMOID, -5, 5); }

Test(nn, relu_values)
{
    float in[4] = {-1.0f, -0.0f, 0.0f, 2.5f}, out[4];
    rs_act_forward(RS_ACT_RELU, out, in, 4);
    cr_assert_eq(out[0], 0.0f);
    cr_assert(!signbit(out[1]), "relu(-0) must be +0");
    cr_assert_eq(out[3], 2.5f);
}

/* Dropout with a fixed mask is linear: its backward is the mask itself. */
Test(nn, dropout_backward_is_the_mask, .init = setup)
{
    enum { N = 40 };
    float x[N], m[N], c[N], d[N], y[N];
    fill(x, N, 30, -1, 1);
    fill(c, N, 31, -1, 1);
    for (int i = 0; i < N; i++)
        m[i] = (i % 3) ? 1.0f / 0.7f : 0.0f;
    rs_dropout_forward(y, x, m, N);
    rs_dropout_backward(d, c, m, N);
    const float h = 1e-2f;
    for (int i = 0; i < N; i++) {
        float keep = x[i], yp, ym;
        x[i] = keep + h;
        rs_dropout_forward(&yp, &x[i], &m[i], 1);
        x[i] = keep - h;
        rs_dropout_forward(&ym, &x[i], &m[i], 1);
        x[i] = keep;
        assert_close(((double)yp - ym) / (2 * h) * c[i], d[i], 1e-3, 1e-5, "dx",
                     (size_t)i);
        cr_assert_eq(y[i], x[i] * m[i]);
    }
}

/* MSE of predictions (1, 2) against targets (0, 0): the chapter's
 * np.mean((A3 - Y)^2) = (1 + 4) / 2 = 2.5; gradient 2 (p - y) / n = (1, 2). */
Test(nn, mse_by_hand)
{
    float p[2] = {1, 2}, y[2] = {0, 0}, d[2];
    double sum = rs_mse_forward_backward(d, p, y, 2, 1);
    cr_assert_float_eq(sum / 2, 2.5, 1e-12);
    cr_assert_eq(d[0], 1.0f);
    cr_assert_eq(d[1], 2.0f);
    /* two outputs per row: loss per row is the mean over its outputs */
    float p2[4] = {1, 3, 0, 0}, y2[4] = {0, 0, 0, 2}, d2[4];
    sum = rs_mse_forward_backward(d2, p2, y2, 2, 2);
    cr_assert_float_eq(sum, (1 + 9) / 2.0 + 4 / 2.0, 1e-12);
    cr_assert_float_eq(d2[1], 2 * 3 / 4.0, 1e-7);
}

/* Softmax cross-entropy with logits (0, ln 3), label 1: p = (1/4, 3/4),
 * loss = -ln(3/4) = 0.2876820724517809, gradient (p - onehot) / B. */
Test(nn, softmax_ce_by_hand)
{
    float z[4] = {0.0f, 1.0986123f, 5.0f, 5.0f}, d[4];
    uint8_t y[2] = {1, 0};
    uint64_t correct;
    double sum = rs_softmax_ce_forward_backward(d, z, y, 2, 2, &correct);
    /* row 2: equal logits, loss ln 2, argmax is the first class = label */
    cr_assert_float_eq(sum, 0.2876820724517809 + 0.6931471805599453, 1e-6);
    cr_assert_float_eq(d[0], 0.25f / 2, 1e-6);
    cr_assert_float_eq(d[1], -0.25f / 2, 1e-6);
    cr_assert_float_eq(d[2], -0.5f / 2, 1e-6);
    cr_assert_eq(correct, 2);
}

/* Softmax cross-entropy gradient against finite differences, including
 * large logits that would overflow a naive exp. */
Test(nn, softmax_ce_backward_matches_finite_differences)
{
    enum { B = 4, C = 10 };
    float z[B * C], d[B * C];
    uint8_t y[B] = {3, 0, 9, 5};
    fill(z, B * C, 40, -4, 4);
    z[7] = 80.0f;  /* exp(80) overflows float: the max shift must handle it */
    rs_softmax_ce_forward_backward(d, z, y, B, C, NULL);
    const float h = 1e-2f;
    for (int i = 0; i < B * C; i++) {
        float keep = z[i];
        z[i] = keep + h;
        double up = rs_softmax_ce_forward_backward(NULL, z, y, B, C, NULL) / B;
        z[i] = keep - h;
        double down = rs_softmax_ce_forward_backward(NULL, z, y, B, C, NULL) / B;
        z[i] = keep;
        assert_close((up - down) / (2 * h), d[i], 2e-2, 5e-5, "dz", (size_t)i);
    }
}

/* w = 0.5, g = 0.1, l2 = 0.01, l1 = 0.001, lr = 0.1:
 * g2 = 0.1 + 0.005 = 0.105, g3 = 0.106, w' = 0.5 - 0.0106 = 0.4894;
 * a zero weight gets no L1 push (sign(0) = 0); biases only see lr * g. */
Test(nn, sgd_update_by_hand)
{
    rs_arch_t a = {.n_layers = 1, .sizes = {2, 1}};
    float p[3] = {0.5f, 0.0f, 1.0f}, g[3] = {0.1f, 0.1f, 0.1f};
    rs_sgd_update(&a, p, g, 0.1f, 0.01f, 0.001f);
    cr_assert_float_eq(p[0], 0.4894f, 1e-7);
    cr_assert_float_eq(p[1], -0.01f, 1e-8);
    cr_assert_float_eq(p[2], 0.99f, 1e-7);
    /* negative weight: L1 pushes it towards 0 */
    float q[3] = {-0.5f, 0, 0}, gq[3] = {0, 0, 0};
    rs_sgd_update(&a, q, gq, 1.0f, 0.0f, 0.1f);
    cr_assert_float_eq(q[0], -0.4f, 1e-7);
}

/* Proximal L1 on a 3-input, 1-output layer, by hand: lr = 0.1, l2 = 0.01,
 * l1 = 0.05, so the threshold is t = lr * l1 = 0.005.
 *   w = 0.5,   g = 0.1:  g2 = 0.105,  v = 0.4895,   |v| - t = 0.4845
 *   w = 0.003, g = 0.02: g2 = 0.02003, v = 0.000997, |v| - t < 0 -> +0
 *   w = -0.2,  g = -0.5: g2 = -0.502, v = -0.1498,  -> -(0.1498 - 0.005) = -0.1448
 *   w = 0.001 (second call), g = 0.05: v = -0.004 crosses zero, |v| < t -> +0
 * The bias takes the plain step 1 - 0.1 * 0.1 = 0.99. */
static uint32_t bits_of(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

Test(nn, proximal_l1_soft_threshold_by_hand)
{
    rs_arch_t a = {.n_layers = 1, .sizes = {3, 1}};
    float p[4] = {0.5f, 0.003f, -0.2f, 1.0f}, g[4] = {0.1f, 0.02f, -0.5f, 0.1f};
    rs_sgd_update_proximal(&a, p, g, 0.1f, 0.01f, 0.05f);
    cr_assert_float_eq(p[0], 0.4845f, 1e-7, "%.9g", p[0]);
    cr_assert_eq(bits_of(p[1]), 0u, "exactly +0, got %a", p[1]);
    cr_assert_float_eq(p[2], -0.1448f, 1e-7, "%.9g", p[2]);
    cr_assert_float_eq(p[3], 0.99f, 1e-7);
    float q[4] = {0.001f, 0, 0, 0}, gq[4] = {0.05f, 0, 0, 0};
    rs_sgd_update_proximal(&a, q, gq, 0.1f, 0.0f, 0.05f);
    cr_assert_eq(bits_of(q[0]), 0u, "crossing zero gives +0, got %a", q[0]);
    /* the subgradient form never lands on exactly zero here: it overshoots */
    float r[4] = {0.001f, 0, 0, 0};
    rs_sgd_update(&a, r, gq, 0.1f, 0.0f, 0.05f);
    cr_assert_float_eq(r[0], -0.009f, 1e-9, "%.9g", r[0]);
    /* the threshold alone: sign kept, NaN kept, -0 and t = 0 */
    cr_assert_eq(rs_soft_threshold(-3.0f, 1.0f), -2.0f);
    cr_assert_eq(rs_soft_threshold(0.75f, 0.25f), 0.5f);
    cr_assert(isnan(rs_soft_threshold(NAN, 0.5f)));
    float z = rs_soft_threshold(-0.0f, 0.0f);
    cr_assert_eq(bits_of(z), 0u);
    cr_assert_eq(rs_soft_threshold(-1.5f, 0.0f), -1.5f);
    cr_assert_eq(rs_soft_threshold(INFINITY, 2.0f), INFINITY);
}

/* Max-norm on a 4-3-1 net with c = 0.5.  Hidden column 0 is
 * (0.6, -0.7, 0.8, 0.3) (as float32): in double precision its norm is
 * sqrt(1.49) = 1.2206556 and the rescaled column is 0.5 / norm times it =
 * (0.238667192, -0.278445041, 0.318222915, 0.119333596); the documented
 * float32 operations (fmaf chain, sqrtf, c / norm, w * scale), evaluated
 * exactly with Python fractions and rounded to nearest even, give the bits
 * 0x3e74652c, 0xbe8e9059, 0x3ea2ee1d, 0x3df4652c.  Column 1 (0.1 each,
 * norm 0.2) is inside the ball and untouched; column 2 is (3, 4, 12, 0),
 * norm 13 exactly, so it becomes (6.5/13 = 0.5) times itself with c = 6.5
 * in a second call.  The output layer and the biases are never touched. */
Test(nn, max_norm_by_hand)
{
    rs_arch_t a = {.n_layers = 2, .sizes = {4, 3, 1}};
    float p[4 * 3 + 3 + 3 + 1] = {
        0.6f, 0.1f, 3.0f,
        -0.7f, 0.1f, 4.0f,
        0.8f, 0.1f, 12.0f,
        0.3f, 0.1f, 0.0f,
        5.0f, 5.0f, 5.0f,          /* b0 */
        100.0f, -100.0f, 100.0f,   /* W1 */
        7.0f};                     /* b1 */
    float work[3];
    float c = 6.5f;
    cr_assert_eq(rs_max_norm(&a, p, c, work), 1);   /* only column 2 */
    cr_assert_eq(p[2], 1.5f);
    cr_assert_eq(p[5], 2.0f);
    cr_assert_eq(p[8], 6.0f);
    cr_assert_eq(bits_of(p[11]), 0u);
    cr_assert_eq(rs_max_norm(&a, p, 0.5f, work), 2);  /* columns 0 and 2 */
    const uint32_t want[4] = {0x3e74652cu, 0xbe8e9059u, 0x3ea2ee1du, 0x3df4652cu};
    const double ref[4] = {0.23866719185535185, -0.27844504135827425,
                           0.318222914570651, 0.11933359592767592};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(bits_of(p[3 * k]), want[k], "row %d: %a", k, p[3 * k]);
        cr_assert(fabs(p[3 * k] - ref[k]) <= 2e-8, "row %d vs double", k);
        cr_assert_eq(p[3 * k + 1], 0.1f);
    }
    const float rest[7] = {5, 5, 5, 100, -100, 100, 7};
    for (int i = 12; i < 19; i++)
        cr_assert_eq(p[i], rest[i - 12], "parameter %d", i);
    /* NaN columns stay NaN, not scaled to a number */
    p[1] = NAN;
    rs_max_norm(&a, p, 0.5f, work);
    cr_assert(isnan(p[1]));
    cr_assert_eq(p[4], 0.1f);
    /* a squared norm that overflows: NaN, not a silent zero */
    p[2] = 2e19f;
    rs_max_norm(&a, p, 0.5f, work);
    cr_assert(isnan(p[2]) && isnan(p[5]));
}

Test(nn, parameter_layout)
{
    rs_arch_t a = {.n_layers = 3, .sizes = {784, 256, 256, 10}};
    cr_assert_eq(rs_arch_weight_offset(&a, 0), 0);
    cr_assert_eq(rs_arch_bias_offset(&a, 0), 784 * 256);
    cr_assert_eq(rs_arch_weight_offset(&a, 1), 784 * 256 + 256);
    /* 784*256 + 256 + 256*256 + 256 + 256*10 + 10 = 269322 (the D2L MLP) */
    cr_assert_eq(rs_arch_n_params(&a), 269322);
}

/* The fused training forms give the bits of the separate calls. */
Test(nn, fused_forms_equal_separate_calls)
{
    enum { N = 333 };
    float z[N], m[N], da[N];
    fill(z, N, 50, -3, 3);
    fill(da, N, 51, -1, 1);
    for (int i = 0; i < N; i++)
        m[i] = (i % 3) ? 1.0f / 0.7f : 0.0f;
    z[0] = -0.0f;
    for (int act = RS_ACT_RELU; act <= RS_ACT_SIGMOID; act++)
        for (int with_mask = 0; with_mask < 2; with_mask++) {
            const float *mask = with_mask ? m : NULL;
            float h1[N], a1[N], h2[N], a2[N], d1[N], d2[N];
            rs_act_dropout_forward((rs_act)act, h1, a1, z, mask, N);
            rs_act_forward((rs_act)act, h2, z, N);
            if (mask)
                rs_dropout_forward(a2, h2, mask, N);
            cr_assert_eq(memcmp(h1, h2, sizeof h1), 0);
            if (mask)
                cr_assert_eq(memcmp(a1, a2, sizeof a1), 0);
            rs_dropout_act_backward((rs_act)act, d1, da, mask, h1, N);
            if (mask)
                rs_dropout_backward(d2, da, mask, N);
            rs_act_backward((rs_act)act, d2, mask ? d2 : da, z, h2, N);
            cr_assert_eq(memcmp(d1, d2, sizeof d1), 0, "act %d mask %d", act, with_mask);
        }
}

/* rs_act_var on four values worked out by hand: h = (1, 2, 0, 3),
 * m = (2, 0, 2, 0), so a = (2, 0, 0, 0); mean h 1.5, mean a 0.5;
 * clean (0.25 + 0.25 + 2.25 + 2.25) / 4 = 1.25; after dropout
 * (2.25 + 0.25 + 0.25 + 0.25) / 4 = 0.75; noise (1 + 4 + 0 + 9) / 4 = 3.5;
 * theory with v = 0.25: 0.25 * (1 + 4 + 0 + 9) / 4 = 0.875.  Without noise
 * (a = h) the noise terms are 0 and the two spreads equal. */
Test(nn, act_var_by_hand)
{
    const float h[4] = {1, 2, 0, 3}, m[4] = {2, 0, 2, 0};
    float a[4];
    rs_dropout_forward(a, h, m, 4);
    double v[RS_AV_N];
    rs_act_var(v, h, a, 4, 0.25);
    cr_assert_eq(v[RS_AV_CLEAN], 1.25);
    cr_assert_eq(v[RS_AV_DROPOUT], 0.75);
    cr_assert_eq(v[RS_AV_NOISE], 3.5);
    cr_assert_eq(v[RS_AV_NOISE_THEORY], 0.875);
    rs_act_var(v, h, h, 4, 0.0);
    cr_assert_eq(v[RS_AV_CLEAN], 1.25);
    cr_assert_eq(v[RS_AV_DROPOUT], 1.25);
    cr_assert_eq(v[RS_AV_NOISE], 0.0);
    cr_assert_eq(v[RS_AV_NOISE_THEORY], 0.0);
}

/* The multiplier distributions of reg.noise written out value by value
 * (rng.h): values and probabilities, for the moments below.  Returns the
 * number of support points (gaussian: 0, its moments are closed form). */
static int noise_support(rs_noise_kind kind, double p, double val[3],
                         double prob[3])
{
    double gamma = 4.0 / (3.0 * p);
    switch (kind) {
    case RS_NOISE_BERNOULLI:
        val[0] = 0, prob[0] = 1 - p, val[1] = 1 / p, prob[1] = p;
        return 2;
    case RS_NOISE_THREE_POINT:
        val[0] = 0, prob[0] = 1 - p;
        val[1] = gamma / 2, prob[1] = p / 2;
        val[2] = gamma, prob[2] = p / 2;
        return 3;
    default:
        return 0;
    }
}

/* E (m - 1)^2, E (m - 1)^4 and E m^4 (the mean is 1): from the support,
 * or for the gaussian m = 1 + sigma z from E z^2 = 1, E z^4 = 3 (odd
 * moments 0): E m^4 = 1 + 6 sigma^2 + 3 sigma^4. */
static void noise_moments(rs_noise_kind kind, double p, double *m2, double *m4,
                          double *raw4)
{
    double val[3], prob[3];
    int n = noise_support(kind, p, val, prob);
    if (n == 0) {
        double s2 = (1 - p) / p;
        *m2 = s2;
        *m4 = 3 * s2 * s2;
        *raw4 = 1 + 6 * s2 + 3 * s2 * s2;
        return;
    }
    *m2 = *m4 = *raw4 = 0;
    for (int i = 0; i < n; i++) {
        double d = val[i] - 1;
        *m2 += prob[i] * d * d;
        *m4 += prob[i] * d * d * d * d;
        *raw4 += prob[i] * val[i] * val[i] * val[i] * val[i];
    }
}

/* Exercise 3 of the D2L dropout chapter, measured: on a large minibatch
 * (B = 512 rows x H = 256 units, ReLU-like activations, a quarter of them
 * 0), the empirical noise variance mean((a - h)^2) that rs_act_var reports
 * is the formula v * mean(h^2) within the sampling error of its n = B * H
 * terms.  Given h, the terms X_i = h_i^2 (m_i - 1)^2 are independent
 * (each multiplier has its own Philox word) with mean h_i^2 v and variance
 * h_i^4 (E(m-1)^4 - v^2), so mean(X) - v mean(h^2) has standard error
 *   se = sqrt(sum_i h_i^4 (E(m-1)^4 - v^2)) / n
 * and, by the central limit theorem at n = 131072, lies within 5 se with
 * probability 1 - 6e-7.  The draws are fixed by their counters, so the
 * test is deterministic; a wrong variance would fail it: the bound is
 * checked to be tighter than the gap between the three kinds' formulas.
 * (Bernoulli at p = 0.5 has (m - 1)^2 = 1 always: se is 0 and the two
 * agree up to the rounding of the double sums, n eps relative.)
 * rs_noise_var itself is checked against the moments of the support. */
Test(nn, act_var_noise_matches_the_formula_within_sampling_error)
{
    enum { B = 512, H = 256, N = B * H };
    float *h = malloc(N * sizeof *h), *m = malloc(N * sizeof *m),
          *a = malloc(N * sizeof *a);
    cr_assert(h && m && a);
    fill(h, N, 77, -0.5f, 1.5f);
    for (size_t i = 0; i < N; i++)
        h[i] = h[i] > 0.0f ? h[i] : 0.0f;
    double sum_h = 0, sum_h2 = 0, sum_h4 = 0;
    for (size_t i = 0; i < N; i++) {
        double x = (double)h[i] * h[i];
        sum_h += h[i];
        sum_h2 += x;
        sum_h4 += x * x;
    }
    const float keeps[] = {0.9f, 0.5f, 0.2f};
    rs_key_t key = rs_key_from_seed(2024);
    for (int kind = RS_NOISE_BERNOULLI; kind <= RS_NOISE_GAUSSIAN; kind++)
        for (size_t i = 0; i < sizeof keeps / sizeof *keeps; i++) {
            float p = keeps[i];
            double m2, m4, raw4;
            noise_moments((rs_noise_kind)kind, p, &m2, &m4, &raw4);
            double v = rs_noise_var((rs_noise_kind)kind, p);
            cr_assert(fabs(v - m2) <= 1e-12 * m2, "kind %d keep %g: rs_noise_var "
                      "%.17g, moments of the support %.17g", kind, p, v, m2);
            rs_noise_mask_ref((rs_noise_kind)kind, key, 0, (uint32_t)i, 0, B, H,
                              p, m, NULL);
            rs_dropout_forward(a, h, m, N);
            double out[RS_AV_N];
            rs_act_var(out, h, a, N, v);
            double se = sqrt(sum_h4 * (m4 - m2 * m2)) / N;
            double diff = out[RS_AV_NOISE] - out[RS_AV_NOISE_THEORY];
            cr_assert(fabs(out[RS_AV_NOISE_THEORY] - v * sum_h2 / N) <=
                      1e-12 * out[RS_AV_NOISE_THEORY]);
            /* plus the rounding of n double sums (at p = 0.5 Bernoulli's
             * (m - 1)^2 is always 1 and se is 0) */
            double rounding = N * DBL_EPSILON * out[RS_AV_NOISE_THEORY];
            cr_assert(fabs(diff) <= 5 * se + rounding, "kind %d keep %g: empirical %.6g, "
                      "formula %.6g, difference %.3g = %.2f standard errors",
                      kind, p, out[RS_AV_NOISE], out[RS_AV_NOISE_THEORY], diff,
                      diff / se);
            /* power: another kind's formula lies outside the bound */
            for (int other = RS_NOISE_BERNOULLI; other <= RS_NOISE_GAUSSIAN; other++) {
                double vo = rs_noise_var((rs_noise_kind)other, p);
                if (vo != v)
                    cr_assert(fabs(vo - v) * sum_h2 / N > 10 * se,
                              "kind %d keep %g: the bound does not separate "
                              "it from kind %d", kind, p, other);
            }
            /* the spread after dropout is the clean one plus the noise:
             * dropout - clean - theory = [mean(a^2) - (1+v) mean(h^2)]
             * - [mean(a)^2 - mean(h)^2], where the first bracket has
             * standard error sqrt(sum h^4 (E m^4 - (1+v)^2)) / n and
             * mean(a) - mean(h) = mean(h (m-1)) has sqrt(v sum h^2) / n */
            double se_sq = sqrt(sum_h4 * (raw4 - (1 + v) * (1 + v))) / N;
            double se_mean = sqrt(v * sum_h2) / N, mean_h = sum_h / N;
            double bound = 5 * se_sq + 5 * se_mean * (2 * mean_h + 5 * se_mean);
            double spread = out[RS_AV_DROPOUT] - out[RS_AV_CLEAN] -
                            out[RS_AV_NOISE_THEORY];
            cr_assert(fabs(spread) <= bound + rounding, "kind %d keep %g: dropout_var - "
                      "clean_var - theory = %.3g, bound %.3g", kind, p, spread,
                      bound);
        }
    free(h);
    free(m);
    free(a);
}
