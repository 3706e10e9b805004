/* SPDX-License-Identifier: MIT */
/* train.h — one job: init, epochs of minibatch SGD with dropout, L2 and L1,
 * clean evaluation after every epoch, recorded masks and weights.
 *
 * A job is a pure function of (settings, hyperparameters, dataset): its key
 * is the seed and every draw is addressed by a counter (rng.h), so the
 * result does not depend on threads, SIMD path or job order.  The
 * hyperparameters keep_prob, l2 and l1 are not part of any counter: jobs that
 * differ only in them share init, data order and the uniform draws behind
 * the masks (common random numbers).
 *
 * This module knows nothing of HDF5, YAML or the sweep; it never prints.
 */
#ifndef RS_TRAIN_H
#define RS_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "regsweep/data.h"
#include "regsweep/kernels.h"
#include "regsweep/nn.h"
#include "regsweep/rng.h"

typedef enum rs_init { RS_INIT_HE_NORMAL = 0, RS_INIT_NORMAL = 1 } rs_init;

/* How the l1 penalty enters the update (the spec's reg.l1_mode):
 *   RS_L1_SUBGRADIENT: l1 * sign(w) is added to the gradient (rs_sgd_update);
 *   RS_L1_PROXIMAL: the gradient step leaves l1 out and each weight is then
 *     soft-thresholded by lr * l1 (rs_sgd_update_proximal), so weights
 *     reach exactly zero. */
typedef enum rs_l1_mode { RS_L1_SUBGRADIENT = 0, RS_L1_PROXIMAL = 1 } rs_l1_mode;

/* The spec's `reg` section: regularisers that are fixed for a sweep (the
 * per-job l2, l1 and keep_prob are hyperparameters).  All zero is plain
 * training, bit for bit as before the section existed. */
typedef struct rs_reg_settings {
    rs_l1_mode l1_mode;
    float max_norm;          /* > 0: rs_max_norm after every step; 0 off */
    float input_noise_sd;    /* > 0: rs_input_noise_ref on every training
                                minibatch before the forward pass; 0 off */
    rs_noise_kind noise;     /* the dropout multipliers (rs_noise_mask_ref);
                                masks are recorded for bernoulli and
                                three_point (nonzero pattern) only */
    float dropconnect_keep[RS_MAX_LAYERS]; /* per hidden layer h: in (0, 1):
                                DropConnect on W_{h+1} (the weights fed by
                                hidden layer h), one rs_dropconnect_mask_ref
                                per step; 0 or 1: off for that layer */
    uint32_t early_stopping_patience; /* > 0: stop once the validation loss
                                has not improved for this many epochs and
                                return the best epoch's weights (see
                                rs_job_result_t); needs a validation split;
                                0: off */
    double early_stopping_min_delta; /* >= 0: an epoch improves on the best
                                only if its validation loss is below the
                                best minus this (Keras's min_delta); 0:
                                any decrease counts */
} rs_reg_settings_t;

/* Which (epoch, step) pairs get their dropout masks recorded. */
typedef struct rs_record_sel {
    int all;                 /* every epoch/step; else the lists below   */
    uint32_t n_epochs, n_steps;
    const uint32_t *epochs;  /* sorted, unique; n_epochs == 0 with all=0 */
    const uint32_t *steps;   /* and n_steps == 0: the every-value wildcard */
    int epochs_all, steps_all;
} rs_record_sel_t;

/* The settings shared by every job of a sweep. */
typedef struct rs_train_settings {
    rs_arch_t arch;
    rs_init init;
    float init_sd;           /* RS_INIT_NORMAL: N(0, init_sd)            */
    float lr;
    uint32_t epochs;
    uint32_t batch_size;     /* >= 1; >= n_train means full batch        */
    int shuffle;             /* reshuffle the training rows every epoch  */
    int record_masks;        /* 0: none, 1: per mask_sel                 */
    rs_record_sel_t mask_sel;
    int eval_train;          /* evaluate the whole train set per epoch   */
    rs_reg_settings_t reg;
    int record_zero_frac;    /* fill rs_curves_t.zero_frac               */
    uint32_t mc_samples;     /* > 0: fill rs_curves_t.test_loss_mc and
                                test_acc_mc (MC dropout, T passes); 0 off */
    int record_act_var;      /* 0: none, 1: fill rs_job_result_t.act_var
                                at the steps act_var_sel selects          */
    rs_record_sel_t act_var_sel;
    int record_dc_masks;     /* 0: none, 1: record the DropConnect masks
                                at the steps dc_mask_sel selects          */
    rs_record_sel_t dc_mask_sel;
} rs_train_settings_t;

/* One job's hyperparameters. */
typedef struct rs_hparams {
    uint64_t seed;
    float keep_prob[RS_MAX_LAYERS]; /* per hidden layer (n_layers - 1)  */
    float l2, l1;
} rs_hparams_t;

/* Per-epoch curves: entry e (0..epochs) is measured after e epochs, so
 * entry 0 is the initial model.  Accuracies are NaN for regression;
 * train_* are NaN when eval_train is off; val_* are NaN without a
 * validation split. */
typedef struct rs_curves {
    uint32_t n;              /* epochs + 1                               */
    double *train_loss, *test_loss, *val_loss;
    double *train_acc, *test_acc, *val_acc;
    double *train_loss_dropout; /* mean training loss seen by SGD during
                                   epoch e (with dropout); entry 0 is NaN */
    /* With record_zero_frac (else NULL): n x n_layers, row-major; entry
     * (e, l) is the share of the weights of W_l (not biases) that compare
     * equal to 0.0f (so -0.0f counts) after e epochs. */
    uint32_t n_layers;
    double *zero_frac;
    /* With mc_samples = T (else NULL): the test split evaluated by MC
     * dropout (Gal and Ghahramani 2016) after e epochs: T forward passes
     * with the job's dropout noise drawn at counters
     * (rs_ctr0(RS_PURPOSE_MC_DROPOUT, l), e, t, row*G + u/4), the outputs
     * (regression) or softmax probabilities (classification) averaged
     * (float sums in t order, then / T), and the loss and accuracy of that
     * mean prediction.  DropConnect is not sampled. */
    double *test_loss_mc, *test_acc_mc;
} rs_curves_t;

/* The recorded masks of one hidden layer: n_records x rows x row_bytes
 * bytes (rows = batch size; a short last batch is zero-padded), and for each
 * record its epoch, step and number of valid rows.  DropConnect masks use
 * the same record: rows = the weight matrix's inputs, n_units its outputs
 * (bit u%8 of byte u/8 of row i: weight (i, u) kept), n_rows NULL. */
typedef struct rs_mask_record {
    uint32_t n_records, rows, row_bytes, n_units;
    uint8_t *bits;
    uint32_t *epoch, *step, *n_rows;
} rs_mask_record_t;

/* The activation variances of the recorded steps (record.act_var): for
 * record r and hidden layer l, v[RS_AV_*][r * n_hidden + l] is rs_act_var
 * (nn.h) of layer l's activations in the training forward pass of step
 * step[r] of epoch epoch[r] (n_rows[r] rows), with noise_var[l] =
 * rs_noise_var(reg.noise, keep_prob[l]).  A measurement only: it reads the
 * activations training computed and draws nothing. */
typedef struct rs_act_var_record {
    uint32_t n_records, n_hidden;
    uint32_t *epoch, *step, *n_rows;
    double *v[RS_AV_N];
    double noise_var[RS_MAX_LAYERS];
} rs_act_var_record_t;

typedef struct rs_job_result {
    size_t n_params;
    float *params_init, *params_final;
    rs_curves_t curves;
    int n_hidden;
    rs_mask_record_t masks[RS_MAX_LAYERS];
    /* record.dropconnect_masks: dc_masks[h] is W_{h+1}'s (hidden layer h's
     * outgoing weights); n_records 0 where not recorded or not masked */
    rs_mask_record_t dc_masks[RS_MAX_LAYERS];
    rs_act_var_record_t act_var; /* n_records 0 without record_act_var  */
    uint64_t steps_done;
    /* Divergence: after epoch diverged_epoch (0: the initial model) a loss
     * or a weight was not finite, and training stopped there.  The curves
     * hold every epoch up to it (later entries NaN), params_final the
     * weights of that moment, the masks the steps that ran. */
    int diverged;
    uint32_t diverged_epoch;
    const char *diverged_quantity; /* static: "weights", "training loss
                                      (with dropout)", "train loss",
                                      "test loss" or "validation loss" */
    /* Early stopping (early_stopping_patience > 0): after epoch
     * stopped_epoch the validation loss had not fallen below its minimum,
     * first reached at returned_epoch, for patience epochs, so training
     * stopped and params_final are the weights of returned_epoch.  Curve
     * entries after stopped_epoch describe that returned model (copies of
     * entry returned_epoch; train_loss_dropout NaN: no step was taken).
     * A run that reaches the last epoch is not stopped (and keeps its
     * last weights). */
    int stopped;
    uint32_t stopped_epoch, returned_epoch;
    /* volatile timings (monotonic clock), never part of the results:
     * epoch_train_s[e] is the training time of epoch e (entry 0 is 0),
     * eval_s the total time spent on the clean evaluations */
    double *epoch_train_s;
    double eval_s;
    void *storage;           /* owned; freed by rs_job_result_free       */
} rs_job_result_t;

/* Checks that settings and dataset fit together (layer sizes match the data,
 * counters cannot overflow: batch * ceil(units/4) <= 2^32, epochs and steps
 * below 2^32).  RS_EINPUT with a message otherwise. */
rs_status rs_train_check(const rs_train_settings_t *s, const rs_dataset_t *d,
                         rs_error_t *err);

/* Runs one job.  k: the kernel table; n_threads: threads for this job's
 * GEMMs (results identical for any value); stop: when non-NULL and set
 * non-zero (e.g. by a signal handler), training stops at the next step and
 * RS_EINTR is returned.  On success *out owns its arrays; a run whose
 * loss or weights become non-finite is a success with out->diverged set
 * (it stops at that epoch).  Errors: RS_EINPUT (from rs_train_check),
 * RS_ENOMEM, RS_EINTR. */
rs_status rs_train_job(const rs_train_settings_t *s, const rs_hparams_t *hp,
                       const rs_dataset_t *d, const rs_kernels_t *k,
                       int n_threads, volatile sig_atomic_t *stop,
                       rs_job_result_t *out, rs_error_t *err);

void rs_job_result_free(rs_job_result_t *r);

/* The number of minibatch steps per epoch for n training rows. */
uint32_t rs_train_steps_per_epoch(const rs_train_settings_t *s, uint32_t n);

/* 1 if (epoch, step) is selected by sel. */
int rs_record_selected(const rs_record_sel_t *sel, uint32_t epoch,
                       uint32_t step);

/* Draws the initial parameters of a model into params:
 * W_l[i] = sd_l * z, z from rs_fill_normal(key(seed),
 *   rs_ctr0(RS_PURPOSE_INIT, l), 0, ...), sd_l = sqrt(2 / n[l]) (He) or
 * init_sd; biases are zero. */
void rs_train_init_params(const rs_train_settings_t *s, uint64_t seed,
                          float *params);

/* The mean loss of one minibatch (rows x: nb x n_in; targets y for
 * regression or labels for classification) and its gradient with respect
 * to every parameter (grads mirrors params), with the dropout scale masks
 * masks[l] (nb x n[l+1], NULL: layer l not dropped; masks itself NULL: no
 * dropout).  The same forward and backward code as training; exposed so
 * tests can check backpropagation against finite differences.
 * Errors: RS_ENOMEM. */
rs_status rs_train_batch_grad(const rs_train_settings_t *s,
                              const rs_kernels_t *k, const float *params,
                              const float *x, const float *y,
                              const uint8_t *labels, uint32_t nb,
                              float *const *masks, float *grads, double *loss,
                              rs_error_t *err);

/* As rs_train_batch_grad, with DropConnect masks as training applies them:
 * weight_masks[l] (n[l] x n[l+1] floats, 0 or 1/keep; NULL: W_l not
 * masked; weight_masks itself NULL: none) multiplies W_l elementwise in the
 * forward pass (Wm = W * mask), the input gradient flows through Wm, and
 * the gradient returned for W_l is (X^T dY) * mask, the derivative with
 * respect to the unmasked weights.  Errors: RS_ENOMEM. */
rs_status rs_train_batch_grad_dropconnect(const rs_train_settings_t *s,
                                          const rs_kernels_t *k,
                                          const float *params, const float *x,
                                          const float *y, const uint8_t *labels,
                                          uint32_t nb, float *const *masks,
                                          float *const *weight_masks,
                                          float *grads, double *loss,
                                          rs_error_t *err);

#endif
