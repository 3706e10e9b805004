/* SPDX-License-Identifier: MIT */
/* test_train.c — a whole job: backpropagation through the composed network
 * against finite differences, and the reproducibility contract (identical
 * bits for every SIMD path and thread count; common random numbers across
 * hyperparameters). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/data.h"
#include "regsweep/train.h"

static rs_train_settings_t small_settings(rs_act act, int classify)
{
    rs_train_settings_t s;
    memset(&s, 0, sizeof s);
    s.arch.n_layers = 3;
    s.arch.sizes[0] = classify ? 6 : 1;
    s.arch.sizes[1] = 9;
    s.arch.sizes[2] = 7;
    s.arch.sizes[3] = classify ? 4 : 1;
    s.arch.act = act;
    s.arch.loss = classify ? RS_LOSS_SOFTMAX_CE : RS_LOSS_MSE;
    s.init = RS_INIT_HE_NORMAL;
    s.lr = 0.05f;
    s.epochs = 3;
    s.batch_size = 16;
    s.shuffle = 1;
    s.record_masks = 1;
    s.mask_sel.all = 1;
    s.eval_train = 1;
    return s;
}

/* The gradient of the mean minibatch loss through dense, activation and
 * dropout layers (fixed masks) against central differences along every
 * coordinate of a layer.  Relu nets are checked away from kinks by using
 * tanh/sigmoid as well. */
static void check_network_gradient_full(rs_act act, int classify,
                                        rs_noise_kind kind, int dropconnect)
{
    rs_train_settings_t s = small_settings(act, classify);
    rs_kernels_t k;
    rs_kernels_init(&k, RS_SIMD_SCALAR);
    enum { NB = 5 };
    size_t P = rs_arch_n_params(&s.arch);
    float *p = malloc(P * sizeof *p), *g = malloc(P * sizeof *g);
    rs_train_init_params(&s, 3, p);
    /* non-zero biases so every term matters */
    for (int l = 0; l < s.arch.n_layers; l++)
        for (uint32_t i = 0; i < s.arch.sizes[l + 1]; i++)
            p[rs_arch_bias_offset(&s.arch, l) + i] = 0.1f * (float)((int)(i % 5) - 2);
    float x[NB * 6], y[NB];
    uint8_t lab[NB] = {0, 3, 1, 2, 3};
    for (int i = 0; i < NB * 6; i++)
        x[i] = 0.3f * (float)((i * 7) % 11) - 1.4f;
    for (int i = 0; i < NB; i++)
        y[i] = 0.5f * (float)i - 1.0f;
    float m0[NB * 9], m1[NB * 7];
    for (int i = 0; i < NB * 9; i++)
        m0[i] = (i % 4 == 1) ? 0.0f : 1.0f / 0.75f;
    for (int i = 0; i < NB * 7; i++)
        m1[i] = (i % 3 == 2) ? 0.0f : 1.0f / 0.6f;
    if (kind != RS_NOISE_BERNOULLI) {
        /* the multipliers training would draw (three_point: 0, gamma/2,
         * gamma; gaussian: any real, negative ones included) */
        rs_key_t key = rs_key_from_seed(17);
        rs_noise_mask_ref(kind, key, 0, 1, 2, NB, 9, 0.75f, m0, NULL);
        rs_noise_mask_ref(kind, key, 1, 1, 2, NB, 7, 0.6f, m1, NULL);
        int negative = 0;
        for (int i = 0; i < NB * 9; i++)
            negative += m0[i] < 0.0f;
        for (int i = 0; i < NB * 7; i++)
            negative += m1[i] < 0.0f;
        cr_assert(kind != RS_NOISE_GAUSSIAN || negative > 0, "no negative multiplier");
    }
    float *masks[2] = {m0, m1};
    double loss;
    /* DropConnect on W1 (9 x 7) and W2 (7 x out): the masks training would
     * draw at keep 0.7 */
    size_t n_out = s.arch.sizes[3];
    float *w1m = malloc(9 * 7 * sizeof *w1m), *w2m = malloc(7 * n_out * sizeof *w2m);
    rs_dropconnect_mask_ref(rs_key_from_seed(5), 1, 0, 1, 9, 7, rs_keep_threshold(0.7f),
                            1.0f / 0.7f, w1m, NULL);
    rs_dropconnect_mask_ref(rs_key_from_seed(5), 2, 0, 1, 7, (uint32_t)n_out,
                            rs_keep_threshold(0.7f), 1.0f / 0.7f, w2m, NULL);
    /* dropconnect 2: per layer, W1 kept whole (reg.dropconnect_keep [1, p]) */
    float *wmasks_[3] = {NULL, dropconnect == 2 ? NULL : w1m, w2m};
    float *const *wmasks = dropconnect ? wmasks_ : NULL;
    cr_assert_eq(rs_train_batch_grad_dropconnect(&s, &k, p, x, y, lab, NB, masks, wmasks, g,
                                                 &loss, NULL), RS_OK);
    if (dropconnect) {
        /* a dropped weight has no gradient at all; an unmasked layer's
         * weights all have one */
        int l = dropconnect == 2 ? 2 : 1;
        const float *wm = l == 1 ? w1m : w2m;
        size_t off = rs_arch_weight_offset(&s.arch, l), n_zero = 0;
        size_t n_w = (size_t)s.arch.sizes[l] * s.arch.sizes[l + 1];
        for (size_t i = 0; i < n_w; i++)
            if (wm[i] == 0.0f) {
                cr_assert_eq(g[off + i], 0.0f, "dropped weight %zu of W%d", i, l);
                n_zero++;
            }
        cr_assert_gt(n_zero, 1);
        if (dropconnect == 2) {
            size_t off1 = rs_arch_weight_offset(&s.arch, 1), nonzero = 0;
            for (size_t i = 0; i < 9 * 7; i++)
                nonzero += g[off1 + i] != 0.0f;
            cr_assert_gt(nonzero, 9 * 7 / 2, "W1 is not masked");
        }
    }
    const float h = 2e-3f;
    for (size_t i = 0; i < P; i++) {
        float keep = p[i];
        double up, down;
        float *scratch = malloc(P * sizeof *scratch);
        p[i] = keep + h;
        rs_train_batch_grad_dropconnect(&s, &k, p, x, y, lab, NB, masks, wmasks, scratch,
                                        &up, NULL);
        p[i] = keep - h;
        rs_train_batch_grad_dropconnect(&s, &k, p, x, y, lab, NB, masks, wmasks, scratch,
                                        &down, NULL);
        p[i] = keep;
        free(scratch);
        double fd = (up - down) / (2 * h);
        cr_assert(fabs(fd - g[i]) <= 3e-3 + 3e-2 * fabs(fd),
                  "parameter %zu: finite difference %.6g, backprop %.6g", i, fd,
                  g[i]);
    }
    free(p);
    free(g);
    free(w1m);
    free(w2m);
}

static void check_network_gradient_noise(rs_act act, int classify, rs_noise_kind kind)
{
    check_network_gradient_full(act, classify, kind, 0);
}

static void check_network_gradient(rs_act act, int classify)
{
    check_network_gradient_noise(act, classify, RS_NOISE_BERNOULLI);
}

/* reg.dropconnect_keep_prob: the forward pass uses W * mask, the gradient
 * of W is (X^T dY) * mask; with dropout masks too. */
Test(train, gradient_tanh_mse_with_dropconnect)
{
    check_network_gradient_full(RS_ACT_TANH, 0, RS_NOISE_BERNOULLI, 1);
}
Test(train, gradient_sigmoid_softmax_with_dropconnect)
{
    check_network_gradient_full(RS_ACT_SIGMOID, 1, RS_NOISE_BERNOULLI, 1);
}
Test(train, gradient_tanh_softmax_with_dropconnect_and_gaussian_noise)
{
    check_network_gradient_full(RS_ACT_TANH, 1, RS_NOISE_GAUSSIAN, 1);
}
/* reg.dropconnect_keep per layer: W2 masked, W1 not */
Test(train, gradient_tanh_softmax_with_dropconnect_on_w2_only)
{
    check_network_gradient_full(RS_ACT_TANH, 1, RS_NOISE_BERNOULLI, 2);
}

Test(train, gradient_tanh_mse_with_dropout) { check_network_gradient(RS_ACT_TANH, 0); }
Test(train, gradient_sigmoid_softmax_with_dropout) { check_network_gradient(RS_ACT_SIGMOID, 1); }
Test(train, gradient_tanh_softmax_with_dropout) { check_network_gradient(RS_ACT_TANH, 1); }

/* reg.noise: the three-point and Gaussian multipliers enter forward and
 * backward like Bernoulli masks; backpropagation through them matches
 * finite differences. */
Test(train, gradient_tanh_mse_with_three_point_noise)
{
    check_network_gradient_noise(RS_ACT_TANH, 0, RS_NOISE_THREE_POINT);
}
Test(train, gradient_sigmoid_softmax_with_three_point_noise)
{
    check_network_gradient_noise(RS_ACT_SIGMOID, 1, RS_NOISE_THREE_POINT);
}
Test(train, gradient_tanh_mse_with_gaussian_noise)
{
    check_network_gradient_noise(RS_ACT_TANH, 0, RS_NOISE_GAUSSIAN);
}
Test(train, gradient_tanh_softmax_with_gaussian_noise)
{
    check_network_gradient_noise(RS_ACT_TANH, 1, RS_NOISE_GAUSSIAN);
}

/* A dropped unit must not receive gradient through its mask: with every
 * unit of hidden layer 0 dropped, W0 and b0 get exactly zero gradient. */
Test(train, fully_dropped_layer_gets_no_gradient)
{
    rs_train_settings_t s = small_settings(RS_ACT_TANH, 0);
    rs_kernels_t k;
    rs_kernels_init(&k, RS_SIMD_SCALAR);
    size_t P = rs_arch_n_params(&s.arch);
    float *p = malloc(P * sizeof *p), *g = malloc(P * sizeof *g);
    rs_train_init_params(&s, 1, p);
    float x[3] = {0.1f, -0.5f, 0.9f}, y[3] = {1, 0, -1}, m0[27] = {0};
    float *masks[2] = {m0, NULL};
    double loss;
    rs_train_batch_grad(&s, &k, p, x, y, NULL, 3, masks, g, &loss, NULL);
    size_t end = rs_arch_weight_offset(&s.arch, 1);
    for (size_t i = 0; i < end; i++)
        cr_assert_eq(g[i], 0.0f, "parameter %zu of layer 0: %g", i, g[i]);
    free(p);
    free(g);
}

static void run_job(const rs_train_settings_t *s, const rs_hparams_t *hp,
                    const rs_dataset_t *d, rs_simd simd, int threads,
                    rs_job_result_t *r)
{
    rs_kernels_t k;
    rs_kernels_init(&k, simd);
    rs_error_t err;
    cr_assert_eq(rs_train_job(s, hp, d, &k, threads, NULL, r, &err), RS_OK,
                 "%s", err.msg);
}

static void assert_same_result(const rs_job_result_t *a, const rs_job_result_t *b,
                               const char *what)
{
    cr_assert_eq(memcmp(a->params_final, b->params_final, a->n_params * 4), 0,
                 "%s: final weights differ", what);
    const double *ca[3] = {a->curves.train_loss, a->curves.test_loss,
                           a->curves.train_loss_dropout};
    const double *cb[3] = {b->curves.train_loss, b->curves.test_loss,
                           b->curves.train_loss_dropout};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(memcmp(ca[i], cb[i], a->curves.n * sizeof(double)), 0,
                     "%s: curve %d differs", what, i);
    for (int l = 0; l < a->n_hidden; l++) {
        const rs_mask_record_t *ma = &a->masks[l], *mb = &b->masks[l];
        cr_assert_eq(ma->n_records, mb->n_records);
        if (!ma->n_records)
            continue;   /* keep_prob 1 or nothing recorded: bits may be NULL */
        cr_assert_eq(memcmp(ma->bits, mb->bits,
                            (size_t)ma->n_records * ma->rows * ma->row_bytes),
                     0, "%s: masks of layer %d differ", what, l);
    }
    for (int l = 0; l < a->n_hidden; l++) {
        const rs_mask_record_t *ma = &a->dc_masks[l], *mb = &b->dc_masks[l];
        cr_assert_eq(ma->n_records, mb->n_records);
        if (!ma->n_records)
            continue;
        cr_assert_eq(memcmp(ma->bits, mb->bits,
                            (size_t)ma->n_records * ma->rows * ma->row_bytes),
                     0, "%s: DropConnect masks of W%d differ", what, l + 1);
    }
}

/* The same job on every SIMD path this CPU has and on 1, 2 and 3 threads:
 * bit-identical weights, curves and masks.  (With a shuffled minibatch
 * sweep, dropout and both penalties.) */
Test(train, identical_across_simd_paths_and_threads)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.sizes[1] = 64;
    s.arch.sizes[2] = 48;
    s.epochs = 4;
    rs_sin_params_t sp = {.n_train = 100, .n_test = 70, .noise_sd = 0.5f, .seed = 4};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 11, .keep_prob = {0.7f, 0.5f}, .l2 = 1e-3f, .l1 = 1e-4f};
    rs_job_result_t ref, other;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &ref);
    cr_assert_gt(ref.masks[0].n_records, 0);
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads++) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            char what[64];
            snprintf(what, sizeof what, "%s, %d threads", rs_simd_name((rs_simd)simd), threads);
            assert_same_result(&ref, &other, what);
            rs_job_result_free(&other);
        }
    rs_job_result_free(&ref);
    rs_data_free(&d);
}

/* Common random numbers: jobs that differ only in keep_prob, l2 or l1 start
 * from the same weights, and their masks are nested (a unit kept at 0.5 is
 * kept at 0.9 in the same step). */
Test(train, common_random_numbers_across_hyperparameters)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    rs_sin_params_t sp = {.n_train = 40, .n_test = 20, .noise_sd = 0.5f, .seed = 4};
    rs_dataset_t d;
    rs_data_sin(&sp, &d, NULL);
    rs_hparams_t a = {.seed = 5, .keep_prob = {0.5f, 0.5f}};
    rs_hparams_t b = {.seed = 5, .keep_prob = {0.9f, 0.9f}, .l2 = 0.01f, .l1 = 0.001f};
    rs_job_result_t ra, rb;
    run_job(&s, &a, &d, RS_SIMD_AVX512, 1, &ra);
    run_job(&s, &b, &d, RS_SIMD_AVX512, 1, &rb);
    cr_assert_eq(memcmp(ra.params_init, rb.params_init, ra.n_params * 4), 0);
    for (int l = 0; l < 2; l++) {
        size_t n = (size_t)ra.masks[l].n_records * ra.masks[l].rows * ra.masks[l].row_bytes;
        cr_assert_gt(n, 0);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(ra.masks[l].bits[i] & ~rb.masks[l].bits[i], 0);
    }
    rs_job_result_free(&ra);
    rs_job_result_free(&rb);
    rs_data_free(&d);
}

/* He init draws N(0, 2/fan_in): the sample sd of a 784 x 256 layer is
 * sqrt(2/784) = 0.0505 within 2%; biases start at zero. */
Test(train, he_init_scale)
{
    rs_train_settings_t s;
    memset(&s, 0, sizeof s);
    s.arch.n_layers = 1;
    s.arch.sizes[0] = 784;
    s.arch.sizes[1] = 256;
    float *p = malloc(rs_arch_n_params(&s.arch) * sizeof *p);
    rs_train_init_params(&s, 9, p);
    double ss = 0;
    for (int i = 0; i < 784 * 256; i++)
        ss += (double)p[i] * p[i];
    double sd = sqrt(ss / (784 * 256));
    cr_assert(fabs(sd / sqrt(2.0 / 784) - 1) < 0.02, "sd %g", sd);
    for (int i = 0; i < 256; i++)
        cr_assert_eq(p[784 * 256 + i], 0.0f);
    free(p);
}

/* Training must learn: the clean test loss of the sin regression falls
 * well below its initial value within 200 full-batch epochs (lr 0.01 is the
 * chapter's; 0.05 diverges for this init). */
Test(train, sin_regression_learns)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.sizes[1] = 64;
    s.arch.sizes[2] = 64;
    s.epochs = 200;
    s.batch_size = UINT32_MAX;
    s.lr = 0.01f;
    s.record_masks = 0;
    rs_sin_params_t sp = {.n_train = 100, .n_test = 200, .noise_sd = 0.1f, .seed = 2};
    rs_dataset_t d;
    rs_data_sin(&sp, &d, NULL);
    rs_hparams_t hp = {.seed = 1, .keep_prob = {1.0f, 1.0f}};
    rs_job_result_t r;
    run_job(&s, &hp, &d, RS_SIMD_AVX512, 1, &r);
    /* var(sin(x)) on [-pi, pi) is 1/2: a useless model has test MSE ~0.5 */
    cr_assert_lt(r.curves.test_loss[200], 0.3, "test MSE %g", r.curves.test_loss[200]);
    cr_assert_lt(r.curves.test_loss[200], r.curves.test_loss[0] / 3);
    rs_job_result_free(&r);
    rs_data_free(&d);
}

/* A learning rate far too large: the loss overflows.  The job stops at the
 * epoch where a measured loss or a weight first goes non-finite, says which,
 * keeps every curve entry up to there and NaN after, and records only the
 * masks of the steps it ran.  The same bits on every SIMD path and thread
 * count (it is a result like any other). */
Test(train, divergence_stops_and_names_the_epoch_and_quantity)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.epochs = 40;
    s.lr = 50.0f;
    rs_sin_params_t sp = {.n_train = 64, .n_test = 32, .noise_sd = 0.5f, .seed = 3};
    rs_dataset_t d;
    rs_data_sin(&sp, &d, NULL);
    rs_hparams_t hp = {.seed = 5, .keep_prob = {0.5f, 1.0f}};
    rs_job_result_t r, r2;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &r);
    cr_assert(r.diverged);
    uint32_t e = r.diverged_epoch;
    cr_assert(e >= 1 && e < s.epochs, "diverged after epoch %u", e);
    cr_assert_not_null(r.diverged_quantity);
    /* the named quantity is the first non-finite one of that epoch; every
     * earlier epoch was finite */
    for (uint32_t k = 1; k < e; k++) {
        cr_assert(isfinite(r.curves.train_loss_dropout[k]), "epoch %u", k);
        cr_assert(isfinite(r.curves.test_loss[k]) && isfinite(r.curves.train_loss[k]));
    }
    if (!strcmp(r.diverged_quantity, "training loss (with dropout)"))
        cr_assert(!isfinite(r.curves.train_loss_dropout[e]));
    else if (!strcmp(r.diverged_quantity, "train loss"))
        cr_assert(!isfinite(r.curves.train_loss[e]));
    for (uint32_t k = e + 1; k <= s.epochs; k++)
        cr_assert(isnan(r.curves.test_loss[k]) && isnan(r.curves.train_loss_dropout[k]));
    /* masks: 4 steps per epoch (64 rows, batch 16), recorded for epochs
     * 0 .. e-1 only */
    cr_assert_eq(r.masks[0].n_records, 4 * e);
    cr_assert_eq(r.steps_done, 4ull * e);
    /* another path and thread count: the same divergence, bit for bit */
    run_job(&s, &hp, &d, RS_SIMD_AVX512, 3, &r2);
    cr_assert(r2.diverged);
    cr_assert_eq(r2.diverged_epoch, e);
    cr_assert_str_eq(r2.diverged_quantity, r.diverged_quantity);
    cr_assert_eq(memcmp(r.curves.test_loss, r2.curves.test_loss,
                        (s.epochs + 1) * sizeof(double)), 0);
    cr_assert_eq(memcmp(r.params_final, r2.params_final, r.n_params * sizeof(float)), 0);
    rs_job_result_free(&r);
    rs_job_result_free(&r2);
    /* a sane learning rate does not diverge */
    s.lr = 0.01f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &r);
    cr_assert(!r.diverged);
    cr_assert_eq(r.masks[0].n_records, 4 * s.epochs);
    rs_job_result_free(&r);
    rs_data_free(&d);
}

/* reg.l1_mode: proximal.  With a strong L1 the soft-threshold leaves exact
 * zeros, which the zero_frac curve counts (entry 0: He init has none); the
 * subgradient form (same l1) leaves essentially none, because its step
 * jumps over zero instead of landing on it.  With l1 = 0 the two modes take
 * the same steps.  Proximal runs are bit-identical on every SIMD path and
 * thread count. */
Test(train, proximal_l1_gives_exact_zeros_and_counts_them)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.sizes[1] = 32;
    s.arch.sizes[2] = 24;
    s.epochs = 6;
    s.record_zero_frac = 1;
    rs_sin_params_t sp = {.n_train = 64, .n_test = 32, .noise_sd = 0.5f, .seed = 3};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 7, .keep_prob = {0.8f, 1.0f}, .l2 = 1e-3f, .l1 = 0.2f};
    rs_job_result_t prox, sub, other;
    s.reg.l1_mode = RS_L1_PROXIMAL;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &prox);
    s.reg.l1_mode = RS_L1_SUBGRADIENT;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &sub);
    const rs_arch_t *a = &s.arch;
    cr_assert_eq(prox.curves.n_layers, 3);
    for (int l = 0; l < a->n_layers; l++) {
        const float *W = prox.params_final + rs_arch_weight_offset(a, l);
        const float *Ws = sub.params_final + rs_arch_weight_offset(a, l);
        size_t n = (size_t)a->sizes[l] * a->sizes[l + 1], zeros = 0, zeros_sub = 0;
        for (size_t i = 0; i < n; i++) {
            zeros += W[i] == 0.0f;
            zeros_sub += Ws[i] == 0.0f;
        }
        cr_assert_eq(prox.curves.zero_frac[l], 0.0, "init of layer %d has zeros", l);
        cr_assert_eq(prox.curves.zero_frac[6 * 3 + l], (double)zeros / n, "layer %d", l);
        cr_assert_eq(sub.curves.zero_frac[6 * 3 + l], (double)zeros_sub / n);
        /* 6 epochs x 4 steps x t = 0.05 * 0.2 shrink every weight by 0.24 */
        cr_assert_gt(zeros, n / 20, "layer %d: %zu of %zu zero", l, zeros, n);
        cr_assert_leq(zeros_sub, n / 100, "layer %d: %zu of %zu zero", l, zeros_sub, n);
    }
    rs_simd best = rs_simd_detect();
    s.reg.l1_mode = RS_L1_PROXIMAL;
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            assert_same_result(&prox, &other, rs_simd_name((rs_simd)simd));
            cr_assert_eq(memcmp(prox.curves.zero_frac, other.curves.zero_frac,
                                7 * 3 * sizeof(double)), 0);
            rs_job_result_free(&other);
        }
    rs_job_result_free(&prox);
    rs_job_result_free(&sub);
    /* l1 = 0: proximal is plain SGD with L2 */
    hp.l1 = 0.0f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &prox);
    s.reg.l1_mode = RS_L1_SUBGRADIENT;
    s.record_zero_frac = 0;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &sub);
    cr_assert_null(sub.curves.zero_frac);
    assert_same_result(&prox, &sub, "l1 = 0");
    rs_job_result_free(&prox);
    rs_job_result_free(&sub);
    rs_data_free(&d);
}

/* reg.max_norm: after training every hidden unit's incoming weight vector
 * (a column of W_l, l hidden) has norm <= c up to rounding, some sit on
 * the sphere, the output layer is free; bit-identical across SIMD paths
 * and threads; a radius no column reaches changes no bit. */
Test(train, max_norm_keeps_hidden_columns_in_the_ball)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.sizes[1] = 32;
    s.arch.sizes[2] = 24;
    s.epochs = 5;
    s.lr = 0.01f;   /* 0.05 diverges without the constraint */
    rs_sin_params_t sp = {.n_train = 64, .n_test = 32, .noise_sd = 0.5f, .seed = 3};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 8, .keep_prob = {0.8f, 0.9f}, .l2 = 1e-3f, .l1 = 1e-4f};
    rs_job_result_t ref, other;
    s.reg.max_norm = 1.0f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &ref);
    const rs_arch_t *a = &s.arch;
    int on_sphere = 0;
    for (int l = 0; l + 1 < a->n_layers; l++) {
        const float *W = ref.params_final + rs_arch_weight_offset(a, l);
        for (uint32_t j = 0; j < a->sizes[l + 1]; j++) {
            double ss = 0;
            for (uint32_t k = 0; k < a->sizes[l]; k++)
                ss += (double)W[k * a->sizes[l + 1] + j] * W[k * a->sizes[l + 1] + j];
            cr_assert_leq(sqrt(ss), 1.0 + 1e-6, "layer %d unit %u: norm %.9g", l, j, sqrt(ss));
            on_sphere += sqrt(ss) > 0.97;   /* projected, then moved by a step */
        }
    }
    cr_assert_gt(on_sphere, 10, "only %d columns near the sphere", on_sphere);
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            assert_same_result(&ref, &other, rs_simd_name((rs_simd)simd));
            rs_job_result_free(&other);
        }
    rs_job_result_free(&ref);
    s.reg.max_norm = 1e30f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &ref);
    s.reg.max_norm = 0.0f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &other);
    cr_assert(!ref.diverged && !other.diverged);
    assert_same_result(&ref, &other, "max_norm 1e30 vs off");
    /* unconstrained, many columns leave the unit ball */
    int outside = 0;
    for (int l = 0; l + 1 < a->n_layers; l++) {
        const float *W = other.params_final + rs_arch_weight_offset(a, l);
        for (uint32_t j = 0; j < a->sizes[l + 1]; j++) {
            double ss = 0;
            for (uint32_t k = 0; k < a->sizes[l]; k++)
                ss += (double)W[k * a->sizes[l + 1] + j] * W[k * a->sizes[l + 1] + j];
            outside += sqrt(ss) > 1.0;
        }
    }
    cr_assert_gt(outside, 10, "only %d columns outside without max_norm", outside);
    rs_job_result_free(&ref);
    rs_job_result_free(&other);
    rs_data_free(&d);
}

/* reg.input_noise_sd: the same bits on every SIMD path and thread count;
 * the noise changes training but not the initial weights or the masks
 * (its draws have their own purpose, so dropout is untouched). */
Test(train, input_noise_is_reproducible_and_leaves_masks_alone)
{
    rs_train_settings_t s = small_settings(RS_ACT_TANH, 1);
    s.epochs = 3;
    s.reg.input_noise_sd = 0.3f;
    rs_dataset_t d;
    memset(&d, 0, sizeof d);
    rs_sin_params_t sp = {.n_train = 48, .n_test = 16, .noise_sd = 0.5f, .seed = 2};
    s.arch.sizes[0] = 1;
    s.arch.sizes[3] = 1;
    s.arch.loss = RS_LOSS_MSE;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 12, .keep_prob = {0.6f, 0.8f}};
    rs_job_result_t ref, other;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &ref);
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            assert_same_result(&ref, &other, rs_simd_name((rs_simd)simd));
            rs_job_result_free(&other);
        }
    s.reg.input_noise_sd = 0.0f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &other);
    cr_assert_eq(memcmp(ref.params_init, other.params_init, ref.n_params * 4), 0);
    cr_assert_neq(memcmp(ref.params_final, other.params_final, ref.n_params * 4), 0);
    for (int l = 0; l < 2; l++)
        cr_assert_eq(memcmp(ref.masks[l].bits, other.masks[l].bits,
                            (size_t)ref.masks[l].n_records * ref.masks[l].rows *
                                ref.masks[l].row_bytes), 0);
    rs_job_result_free(&ref);
    rs_job_result_free(&other);
    rs_data_free(&d);
}

/* reg.noise in whole jobs: three_point and gaussian are bit-identical on
 * every SIMD path and thread count; three_point records the nonzero
 * pattern, which is Bernoulli dropout's mask bit for bit (same words);
 * gaussian records no mask; both change training. */
Test(train, noise_kinds_reproducible_and_recorded_as_documented)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.epochs = 3;
    rs_sin_params_t sp = {.n_train = 48, .n_test = 16, .noise_sd = 0.5f, .seed = 2};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 21, .keep_prob = {0.6f, 0.8f}};
    rs_job_result_t bern, ref, other;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &bern);
    rs_simd best = rs_simd_detect();
    for (int kind = RS_NOISE_THREE_POINT; kind <= RS_NOISE_GAUSSIAN; kind++) {
        s.reg.noise = (rs_noise_kind)kind;
        run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &ref);
        for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
            for (int threads = 1; threads <= 3; threads += 2) {
                run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
                assert_same_result(&ref, &other, rs_simd_name((rs_simd)simd));
                rs_job_result_free(&other);
            }
        cr_assert_eq(memcmp(ref.params_init, bern.params_init, ref.n_params * 4), 0);
        cr_assert_neq(memcmp(ref.params_final, bern.params_final, ref.n_params * 4), 0);
        for (int l = 0; l < 2; l++) {
            const rs_mask_record_t *m = &ref.masks[l], *mb = &bern.masks[l];
            if (kind == RS_NOISE_GAUSSIAN) {
                cr_assert_eq(m->n_records, 0, "gaussian records no mask");
                continue;
            }
            cr_assert_eq(m->n_records, mb->n_records);
            cr_assert_gt(m->n_records, 0);
            cr_assert_eq(memcmp(m->bits, mb->bits,
                                (size_t)m->n_records * m->rows * m->row_bytes), 0);
        }
        rs_job_result_free(&ref);
    }
    rs_job_result_free(&bern);
    rs_data_free(&d);
}

/* The input-noise counter word 3 is b * ceil(F/4): a batch that would
 * overflow it is refused before training (only the sizes are looked at). */
Test(train, input_noise_counter_overflow_is_refused)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.n_layers = 1;
    s.arch.sizes[0] = 65536;
    s.arch.sizes[1] = 1;
    s.batch_size = 262145;       /* 262145 * 16384 > 2^32 */
    rs_dataset_t d;
    memset(&d, 0, sizeof d);
    d.n_in = 65536;
    d.n_out = 1;
    d.task = RS_TASK_REGRESSION;
    d.train.n = 300000;
    d.test.n = 1;
    rs_error_t err;
    cr_assert_eq(rs_train_check(&s, &d, &err), RS_OK, "%s", err.msg);
    s.reg.input_noise_sd = 0.1f;
    cr_assert_eq(rs_train_check(&s, &d, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "input-noise counter"), "%s", err.msg);
    s.batch_size = 262144;       /* exactly 2^32 words: fits */
    cr_assert_eq(rs_train_check(&s, &d, &err), RS_OK, "%s", err.msg);
}

/* reg.dropconnect_keep in whole jobs: bit-identical on every SIMD path
 * and thread count (per-layer keeps, recorded masks included); keep 1 is
 * off (the same bits as no setting); it changes training but neither the
 * initial weights nor the dropout masks (its draws have their own
 * purpose). */
Test(train, dropconnect_reproducible_and_off_at_keep_one)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.sizes[1] = 40;
    s.arch.sizes[2] = 24;
    s.epochs = 3;
    s.lr = 0.01f;
    rs_sin_params_t sp = {.n_train = 48, .n_test = 16, .noise_sd = 0.5f, .seed = 2};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 30, .keep_prob = {0.8f, 0.9f}, .l2 = 1e-3f};
    rs_job_result_t plain, ref, other;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &plain);
    s.reg.dropconnect_keep[0] = s.reg.dropconnect_keep[1] = 1.0f;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &other);
    assert_same_result(&plain, &other, "dropconnect keep 1");
    rs_job_result_free(&other);
    s.reg.dropconnect_keep[0] = 0.6f;
    s.reg.dropconnect_keep[1] = 0.9f;
    s.record_dc_masks = 1;
    s.dc_mask_sel.all = 1;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &ref);
    cr_assert_eq(ref.dc_masks[0].n_records, 3 * 3, "every step of 3 epochs");
    cr_assert(!ref.diverged);
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            assert_same_result(&ref, &other, rs_simd_name((rs_simd)simd));
            rs_job_result_free(&other);
        }
    cr_assert_eq(memcmp(ref.params_init, plain.params_init, ref.n_params * 4), 0);
    cr_assert_neq(memcmp(ref.params_final, plain.params_final, ref.n_params * 4), 0);
    for (int l = 0; l < 2; l++)
        cr_assert_eq(memcmp(ref.masks[l].bits, plain.masks[l].bits,
                            (size_t)ref.masks[l].n_records * ref.masks[l].rows *
                                ref.masks[l].row_bytes), 0);
    rs_job_result_free(&ref);
    rs_job_result_free(&plain);
    rs_data_free(&d);
}

/* record.dropconnect_masks: record r of W_l's masks is the pattern of
 * rs_dropconnect_mask_ref at the (epoch, step) the record names, for the
 * layer's own keep; a layer kept whole (keep 1) records nothing and leaves
 * the other layer's draws unchanged (they depend on the layer index, not
 * on the other layers' settings); the selection records only its steps. */
Test(train, dropconnect_masks_recorded_per_layer)
{
    rs_train_settings_t s = small_settings(RS_ACT_TANH, 0);
    s.arch.sizes[1] = 12;
    s.arch.sizes[2] = 10;
    s.epochs = 2;
    s.batch_size = 10;
    rs_sin_params_t sp = {.n_train = 40, .n_test = 8, .noise_sd = 0.5f, .seed = 5};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 9, .keep_prob = {1.0f, 1.0f}};
    s.reg.dropconnect_keep[0] = 0.7f;
    s.reg.dropconnect_keep[1] = 1.0f;
    s.record_dc_masks = 1;
    s.dc_mask_sel.all = 1;
    rs_job_result_t one, both;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &one);
    const rs_mask_record_t *m = &one.dc_masks[0];
    cr_assert_eq(m->n_records, 2 * 4);   /* 40 rows, batch 10: 4 steps */
    cr_assert_eq(one.dc_masks[1].n_records, 0);
    cr_assert_eq(m->rows, 12);
    cr_assert_eq(m->n_units, 10);
    cr_assert_eq(m->row_bytes, 2);
    float mask[120];
    rs_key_t key = rs_key_from_seed(9);
    size_t kept = 0;
    for (uint32_t r = 0; r < m->n_records; r++) {
        cr_assert_eq(m->epoch[r], r / 4);
        cr_assert_eq(m->step[r], r % 4);
        rs_dropconnect_mask_ref(key, 1, m->epoch[r], m->step[r], 12, 10,
                                rs_keep_threshold(0.7f), 1.0f / 0.7f, mask, NULL);
        for (uint32_t i = 0; i < 12; i++)
            for (uint32_t u = 0; u < 10; u++) {
                int bit = m->bits[(size_t)r * 24 + i * 2 + u / 8] >> (u % 8) & 1;
                cr_assert_eq(bit, mask[i * 10 + u] != 0.0f,
                             "record %u weight (%u, %u)", r, i, u);
                kept += (size_t)bit;
            }
        for (uint32_t i = 0; i < 12; i++)   /* padding bits stay 0 */
            cr_assert_eq(m->bits[(size_t)r * 24 + i * 2 + 1] & 0xfc, 0);
    }
    /* 960 Bernoulli(0.7) draws: 672 expected, sd 14.2 */
    cr_assert(kept > 672 - 72 && kept < 672 + 72, "kept %zu of 960", kept);
    s.reg.dropconnect_keep[1] = 0.5f;
    uint32_t epochs[1] = {1}, steps[2] = {0, 3};
    s.dc_mask_sel = (rs_record_sel_t){.epochs = epochs, .n_epochs = 1,
                                      .steps = steps, .n_steps = 2};
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &both);
    cr_assert_eq(both.dc_masks[0].n_records, 2);
    cr_assert_eq(both.dc_masks[1].n_records, 2);
    cr_assert_eq(both.dc_masks[1].rows, 10);
    cr_assert_eq(both.dc_masks[1].n_units, 1);
    for (uint32_t r = 0; r < 2; r++) {
        cr_assert_eq(both.dc_masks[0].epoch[r], 1);
        cr_assert_eq(both.dc_masks[0].step[r], steps[r]);
        cr_assert_eq(memcmp(both.dc_masks[0].bits + r * 24,
                            m->bits + (4 + steps[r]) * 24, 24), 0,
                     "W1's masks do not depend on W2's keep");
    }
    cr_assert_neq(memcmp(both.params_final, one.params_final, one.n_params * 4), 0);
    rs_job_result_free(&one);
    rs_job_result_free(&both);
    rs_data_free(&d);
}

/* reg.early_stopping_patience: training stops once the validation loss
 * has not improved for `patience` epochs; the returned weights are those
 * of the best epoch, whose clean losses fill the curves after the stop;
 * steps and masks stop with it.  Bit-identical on every SIMD path and
 * thread count; a patience that never triggers changes nothing. */
Test(train, early_stopping_returns_the_best_epoch)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.arch.sizes[1] = 32;
    s.arch.sizes[2] = 32;
    s.epochs = 300;
    s.reg.early_stopping_patience = 5;
    s.record_zero_frac = 1;
    rs_sin_params_t sp = {.n_train = 64, .n_test = 32, .n_val = 64, .noise_sd = 0.5f,
                          .seed = 3};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 4, .keep_prob = {0.9f, 1.0f}};
    rs_job_result_t r, other;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &r);
    cr_assert(r.stopped && !r.diverged);
    uint32_t e = r.stopped_epoch, b = r.returned_epoch;
    cr_assert_eq(e - b, 5, "stopped after %u, best %u", e, b);
    cr_assert(e < s.epochs);
    for (uint32_t k = 0; k <= e; k++)
        cr_assert(r.curves.val_loss[k] >= r.curves.val_loss[b] &&
                      (k >= b || r.curves.val_loss[k] > r.curves.val_loss[b]),
                  "epoch %u is better than the returned %u", k, b);
    for (uint32_t k = e + 1; k <= s.epochs; k++) {
        cr_assert_eq(r.curves.test_loss[k], r.curves.test_loss[b]);
        cr_assert_eq(r.curves.val_loss[k], r.curves.val_loss[b]);
        cr_assert_eq(r.curves.zero_frac[3 * k + 1], r.curves.zero_frac[3 * b + 1]);
        cr_assert(isnan(r.curves.train_loss_dropout[k]));
    }
    cr_assert_eq(r.steps_done, 4ull * e);
    cr_assert_eq(r.masks[0].n_records, 4 * e);
    /* the returned weights are those of epoch b: rerunning b epochs without
     * early stopping ends on them */
    s.reg.early_stopping_patience = 0;
    s.epochs = b;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &other);
    cr_assert_eq(memcmp(other.params_final, r.params_final, r.n_params * 4), 0);
    cr_assert_eq(other.curves.test_loss[b], r.curves.test_loss[b]);
    rs_job_result_free(&other);
    s.reg.early_stopping_patience = 5;
    s.epochs = 300;
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            assert_same_result(&r, &other, rs_simd_name((rs_simd)simd));
            cr_assert(other.stopped && other.stopped_epoch == e);
            rs_job_result_free(&other);
        }
    rs_job_result_free(&r);
    /* a patience longer than the run: the same bits as without it */
    s.epochs = 20;
    s.reg.early_stopping_patience = 1000;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &r);
    s.reg.early_stopping_patience = 0;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &other);
    cr_assert(!r.stopped);
    assert_same_result(&r, &other, "patience 1000 vs off");
    rs_job_result_free(&r);
    rs_job_result_free(&other);
    /* without a validation split it is refused */
    rs_data_free(&d);
    sp.n_val = 0;
    rs_data_sin(&sp, &d, NULL);
    s.reg.early_stopping_patience = 5;
    rs_kernels_t k;
    rs_kernels_init(&k, RS_SIMD_SCALAR);
    rs_error_t err;
    cr_assert_eq(rs_train_job(&s, &hp, &d, &k, 1, NULL, &r, &err), RS_EINPUT);
    cr_assert(strstr(err.msg, "validation split"), "%s", err.msg);
    rs_data_free(&d);
}

/* record.mc_dropout_samples: without dropout the T passes agree, so for
 * regression with T = 2 (sum 2p and / 2 are exact) the MC test loss is the
 * clean one bit for bit, and for classification (-log of the mean softmax
 * probability vs (m - z_y) + log s) equal to rounding, with the same
 * accuracy.  With dropout it differs, it is bit-identical on every SIMD
 * path and thread count, and recording it changes nothing else. */
Test(train, mc_dropout_curves)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.epochs = 3;
    s.mc_samples = 2;
    rs_sin_params_t sp = {.n_train = 48, .n_test = 40, .noise_sd = 0.5f, .seed = 2};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t clean = {.seed = 9, .keep_prob = {1.0f, 1.0f}};
    rs_job_result_t r, other;
    run_job(&s, &clean, &d, RS_SIMD_SCALAR, 1, &r);
    for (uint32_t e = 0; e <= s.epochs; e++) {
        cr_assert_eq(r.curves.test_loss_mc[e], r.curves.test_loss[e], "epoch %u", e);
        cr_assert(isnan(r.curves.test_acc_mc[e]));
    }
    rs_job_result_free(&r);
    rs_hparams_t hp = {.seed = 9, .keep_prob = {0.5f, 0.7f}};
    s.mc_samples = 5;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &r);
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            assert_same_result(&r, &other, rs_simd_name((rs_simd)simd));
            cr_assert_eq(memcmp(r.curves.test_loss_mc, other.curves.test_loss_mc,
                                4 * sizeof(double)), 0);
            rs_job_result_free(&other);
        }
    for (uint32_t e = 0; e <= s.epochs; e++) {
        cr_assert(isfinite(r.curves.test_loss_mc[e]));
        cr_assert_neq(r.curves.test_loss_mc[e], r.curves.test_loss[e]);
    }
    s.mc_samples = 0;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &other);
    cr_assert_null(other.curves.test_loss_mc);
    assert_same_result(&r, &other, "with and without MC curves");
    rs_job_result_free(&other);
    rs_job_result_free(&r);
    rs_data_free(&d);

    /* classification without dropout, T = 1 */
    rs_train_settings_t c = small_settings(RS_ACT_TANH, 1);
    c.epochs = 2;
    c.mc_samples = 1;
    rs_dataset_t dc;
    memset(&dc, 0, sizeof dc);
    enum { N = 60 };
    float xs[N * 6];
    uint8_t ys[N];
    for (int i = 0; i < N * 6; i++)
        xs[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
    for (int i = 0; i < N; i++)
        ys[i] = (uint8_t)((i * 7) % 4);
    dc.task = RS_TASK_CLASSIFICATION;
    dc.n_in = 6;
    dc.n_out = 4;
    dc.train.n = N;
    dc.train.x = xs;
    dc.train.label = ys;
    dc.test = dc.train;
    run_job(&c, &clean, &dc, RS_SIMD_SCALAR, 1, &r);
    for (uint32_t e = 0; e <= c.epochs; e++) {
        cr_assert(fabs(r.curves.test_loss_mc[e] - r.curves.test_loss[e]) <=
                      1e-5 * r.curves.test_loss[e],
                  "epoch %u: %.9g vs %.9g", e, r.curves.test_loss_mc[e], r.curves.test_loss[e]);
        cr_assert_eq(r.curves.test_acc_mc[e], r.curves.test_acc[e]);
    }
    rs_job_result_free(&r);
}

/* record.act_var: recording changes no training bit; the records are the
 * selected steps and are identical on every SIMD path and thread count;
 * the record of epoch 0, step 0 equals rs_act_var of the first forward
 * pass recomputed here from the initial weights and the first minibatch
 * (no shuffle) with the library's own layers and masks; a layer with
 * keep 1 has no noise (noise and theory 0, the two spreads equal). */
Test(train, act_var_measures_the_training_forward_pass)
{
    rs_train_settings_t s = small_settings(RS_ACT_RELU, 0);
    s.shuffle = 0;
    s.epochs = 4;
    s.reg.noise = RS_NOISE_THREE_POINT;
    rs_sin_params_t sp = {.n_train = 40, .n_test = 20, .noise_sd = 0.5f, .seed = 4};
    rs_dataset_t d;
    cr_assert_eq(rs_data_sin(&sp, &d, NULL), RS_OK);
    rs_hparams_t hp = {.seed = 13, .keep_prob = {0.6f, 1.0f}};
    rs_job_result_t plain, r, other;
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &plain);
    cr_assert_eq(plain.act_var.n_records, 0);
    const uint32_t epochs[] = {0, 3}, steps[] = {0, 2};
    s.record_act_var = 1;
    s.act_var_sel = (rs_record_sel_t){.n_epochs = 2, .n_steps = 2,
                                      .epochs = epochs, .steps = steps};
    run_job(&s, &hp, &d, RS_SIMD_SCALAR, 1, &r);
    assert_same_result(&plain, &r, "with and without act_var");
    const rs_act_var_record_t *av = &r.act_var;
    cr_assert_eq(av->n_records, 4);
    cr_assert_eq(av->n_hidden, 2);
    for (uint32_t i = 0; i < 4; i++) {
        cr_assert_eq(av->epoch[i], epochs[i / 2]);
        cr_assert_eq(av->step[i], steps[i % 2]);
        cr_assert_eq(av->n_rows[i], i % 2 ? 8u : 16u);   /* 40 = 16 + 16 + 8 */
        /* layer 1: keep 1 */
        size_t k = (size_t)i * 2 + 1;
        cr_assert_eq(av->v[RS_AV_NOISE][k], 0.0);
        cr_assert_eq(av->v[RS_AV_NOISE_THEORY][k], 0.0);
        cr_assert_eq(av->v[RS_AV_CLEAN][k], av->v[RS_AV_DROPOUT][k]);
        cr_assert_gt(av->v[RS_AV_NOISE][k - 1], 0.0);
    }
    cr_assert_eq(av->noise_var[0], rs_noise_var(RS_NOISE_THREE_POINT, 0.6f));
    cr_assert_eq(av->noise_var[1], 0.0);
    rs_simd best = rs_simd_detect();
    for (int simd = RS_SIMD_SCALAR; simd <= (int)best; simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            run_job(&s, &hp, &d, (rs_simd)simd, threads, &other);
            for (int i = 0; i < RS_AV_N; i++)
                cr_assert_eq(memcmp(other.act_var.v[i], av->v[i],
                                    4 * 2 * sizeof(double)), 0,
                             "%s, %d threads: statistic %d differs",
                             rs_simd_name((rs_simd)simd), threads, i);
            rs_job_result_free(&other);
        }

    /* epoch 0, step 0 by hand: rows 0..15, initial weights */
    enum { NB = 16 };
    rs_kernels_t k;
    rs_kernels_init(&k, RS_SIMD_SCALAR);
    size_t P = rs_arch_n_params(&s.arch);
    float *p = malloc(P * sizeof *p);
    rs_train_init_params(&s, hp.seed, p);
    float x[NB], y[NB], h0[NB * 9], m0[NB * 9], a0[NB * 9], h1[NB * 7];
    uint8_t lab[NB];
    rs_data_gather(&d, &d.train, NULL, 0, NB, x, y, lab);
    _Alignas(64) float work[4096];
    cr_assert(rs_gemm_work_floats(RS_NOTRANS, RS_NOTRANS, NB, 9, 1, 1) <= 4096);
    rs_dense_forward(&k, h0, x, p + rs_arch_weight_offset(&s.arch, 0),
                     p + rs_arch_bias_offset(&s.arch, 0), NB, 1, 9, 1, work, 1);
    rs_noise_mask_ref(RS_NOISE_THREE_POINT, rs_key_from_seed(hp.seed), 0, 0, 0,
                      NB, 9, 0.6f, m0, NULL);
    rs_dropout_forward(a0, h0, m0, NB * 9);
    rs_dense_forward(&k, h1, a0, p + rs_arch_weight_offset(&s.arch, 1),
                     p + rs_arch_bias_offset(&s.arch, 1), NB, 9, 7, 1, work, 1);
    double v0[RS_AV_N], v1[RS_AV_N];
    rs_act_var(v0, h0, a0, NB * 9, rs_noise_var(RS_NOISE_THREE_POINT, 0.6f));
    rs_act_var(v1, h1, h1, NB * 7, 0.0);
    for (int i = 0; i < RS_AV_N; i++) {
        cr_assert_eq(av->v[i][0], v0[i], "statistic %d of layer 0: %.17g vs %.17g",
                     i, av->v[i][0], v0[i]);
        cr_assert_eq(av->v[i][1], v1[i], "statistic %d of layer 1", i);
    }
    free(p);
    rs_job_result_free(&r);
    rs_job_result_free(&plain);
    rs_data_free(&d);
}
