/* SPDX-License-Identifier: MIT */
/* train.c — one training job.
 *
 * Memory: one allocation per job for the working set (llm.c style), sized
 * from the architecture, batch size and evaluation chunk; pointers are carved
 * from it.  Nothing is allocated inside the epoch loop.
 */
#include "regsweep/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "regsweep/detmath.h"

/* Rows per forward pass when evaluating a whole split: large enough for
 * efficient GEMMs, small enough to stay in cache.  The results do not depend
 * on it (rows are independent and losses are summed in row order). */
#define RS_EVAL_CHUNK 1024u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint32_t rs_train_steps_per_epoch(const rs_train_settings_t *s, uint32_t n)
{
    uint32_t b = s->batch_size >= n ? n : s->batch_size;
    return b ? (n + b - 1) / b : 0;
}

static uint32_t effective_batch(const rs_train_settings_t *s, uint32_t n)
{
    return s->batch_size >= n ? n : s->batch_size;
}

static int in_list(const uint32_t *v, uint32_t n, uint32_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return 1;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int rs_record_selected(const rs_record_sel_t *sel, uint32_t epoch,
                       uint32_t step)
{
    if (sel->all)
        return 1;
    int e_ok = sel->epochs_all || in_list(sel->epochs, sel->n_epochs, epoch);
    int s_ok = sel->steps_all || in_list(sel->steps, sel->n_steps, step);
    return e_ok && s_ok;
}

rs_status rs_train_check(const rs_train_settings_t *s, const rs_dataset_t *d,
                         rs_error_t *err)
{
    const rs_arch_t *a = &s->arch;
    if (a->n_layers < 1 || a->n_layers > RS_MAX_LAYERS)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "model: 1 to %d dense layers expected, got %d",
                            RS_MAX_LAYERS, a->n_layers);
    if (a->sizes[0] != d->n_in)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "model.layers: the first size must be the "
                            "dataset's %u input features, got %u",
                            d->n_in, a->sizes[0]);
    if (a->sizes[a->n_layers] != d->n_out)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "model.layers: the last size must be the "
                            "dataset's %u %s, got %u", d->n_out,
                            d->task == RS_TASK_CLASSIFICATION ? "classes"
                                                              : "outputs",
                            a->sizes[a->n_layers]);
    if ((a->loss == RS_LOSS_SOFTMAX_CE) != (d->task == RS_TASK_CLASSIFICATION))
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "model.loss: %s does not fit a %s dataset",
                            a->loss == RS_LOSS_MSE ? "mse"
                                                   : "softmax_cross_entropy",
                            d->task == RS_TASK_CLASSIFICATION
                                ? "classification"
                                : "regression");
    if (d->train.n == 0 || d->test.n == 0)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "dataset: the train and test splits must not be "
                            "empty");
    if (s->reg.early_stopping_patience && d->val.n == 0)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "reg.early_stopping_patience needs a validation "
                            "split (dataset.n_val > 0)");
    uint32_t B = effective_batch(s, d->train.n);
    if (B == 0)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "train.batch_size must be at least 1");
    if (s->reg.input_noise_sd > 0.0f &&
        (uint64_t)B * ((a->sizes[0] + 3u) / 4u) > (1ull << 32))
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "batch_size %u x %u input features overflows the "
                            "32-bit input-noise counter", B, a->sizes[0]);
    for (int l = 0; s->mc_samples && l + 1 < a->n_layers; l++)
        if ((uint64_t)d->test.n * ((a->sizes[l + 1] + 3u) / 4u) > (1ull << 32))
            return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                "%u test rows x %u units of layer %d overflow "
                                "the 32-bit MC-dropout counter", d->test.n,
                                a->sizes[l + 1], l);
    for (int l = 0; l + 1 < a->n_layers; l++) {
        uint64_t groups = (a->sizes[l + 1] + 3u) / 4u;
        if ((uint64_t)B * groups > (1ull << 32))
            return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                                "batch_size %u x %u units of layer %d "
                                "overflows the 32-bit dropout counter",
                                B, a->sizes[l + 1], l);
    }
    return RS_OK;
}

/* The per-job working set, carved from one allocation. */
typedef struct workspace {
    float *params, *grads;
    float *x, *y;               /* R x n0, R x n_out                      */
    uint8_t *labels;            /* R                                      */
    float *z[RS_MAX_LAYERS];    /* pre-activations, R x n[l+1]           */
    float *h[RS_MAX_LAYERS];    /* activations, R x n[l+1] (hidden)       */
    float *a[RS_MAX_LAYERS];    /* after dropout, R x n[l+1] (hidden)     */
    float *mask[RS_MAX_LAYERS]; /* B x n[l+1] scale masks (hidden)        */
    float *d0, *d1;             /* gradient buffers, R x max n            */
    uint32_t *order;            /* n_train                                */
    float *work;                /* GEMM scratch                           */
    /* DropConnect (NULL when off): masks and masked weights, laid out like
     * params (only the weights of layers 1 .. L-1 are used); dc_on[l]:
     * layer l's forward and backward use wdc instead of params */
    float *wmask, *wdc;
    int dc_on[RS_MAX_LAYERS];
    float *best;                /* early stopping: the best epoch's params */
    float *mc_sum;              /* MC dropout: R x n_out sums of the passes */
    void *block;
} workspace_t;

static size_t round_up16(size_t n) { return (n + 15) & ~(size_t)15; }

static size_t gemm_work_max(const rs_arch_t *a, uint32_t R, int n_threads)
{
    size_t w = 0;
    for (int l = 0; l < a->n_layers; l++) {
        int n_in = (int)a->sizes[l], n_out = (int)a->sizes[l + 1];
        size_t c[3] = {
            rs_gemm_work_floats(RS_NOTRANS, RS_NOTRANS, (int)R, n_out, n_in,
                                n_threads),
            rs_gemm_work_floats(RS_TRANS, RS_NOTRANS, n_in, n_out, (int)R,
                                n_threads),
            rs_gemm_work_floats(RS_NOTRANS, RS_TRANS, (int)R, n_in, n_out,
                                n_threads)};
        for (int i = 0; i < 3; i++)
            w = c[i] > w ? c[i] : w;
    }
    return w;
}

/* DropConnect masks hidden layer h's outgoing weights W_{h+1} for a keep
 * probability strictly between 0 and 1. */
static int dropconnect_layer_on(const rs_train_settings_t *s, int h)
{
    float keep = s->reg.dropconnect_keep[h];
    return keep > 0.0f && keep < 1.0f;
}

static int dropconnect_on(const rs_train_settings_t *s)
{
    for (int h = 0; h + 1 < s->arch.n_layers; h++)
        if (dropconnect_layer_on(s, h))
            return 1;
    return 0;
}

static rs_status workspace_alloc(workspace_t *ws, const rs_train_settings_t *s,
                                 const rs_dataset_t *d, uint32_t B, uint32_t R,
                                 int n_threads, int with_dc, rs_error_t *err)
{
    const rs_arch_t *a = &s->arch;
    uint32_t max_n = 0;
    for (int l = 0; l <= a->n_layers; l++)
        max_n = a->sizes[l] > max_n ? a->sizes[l] : max_n;
    size_t P = rs_arch_n_params(a);
    size_t n_floats = 2 * round_up16(P) + round_up16((size_t)R * a->sizes[0]) +
                      round_up16((size_t)R * d->n_out) +
                      2 * round_up16((size_t)R * max_n) +
                      round_up16(gemm_work_max(a, R, n_threads)) +
                      (with_dc ? 2 * round_up16(P) : 0) +
                      (s->reg.early_stopping_patience ? round_up16(P) : 0) +
                      (s->mc_samples ? round_up16((size_t)R * d->n_out) : 0);
    /* MC dropout draws masks for evaluation chunks of R rows */
    const size_t mask_rows = s->mc_samples ? R : B;
    for (int l = 0; l < a->n_layers; l++) {
        size_t width = a->sizes[l + 1];
        n_floats += round_up16(R * width);
        if (l + 1 < a->n_layers)
            n_floats += 2 * round_up16(R * width) + round_up16(mask_rows * width);
    }
    size_t n_bytes = n_floats * sizeof(float) + round_up16(R) +
                     (size_t)d->train.n * sizeof(uint32_t) + 64;
    ws->block = aligned_alloc(64, (n_bytes + 63) & ~(size_t)63);
    if (!ws->block)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "cannot allocate %zu bytes for a job", n_bytes);
    float *p = ws->block;
#define CARVE(n) (p += round_up16(n), p - round_up16(n))
    ws->params = CARVE(P);
    ws->grads = CARVE(P);
    ws->x = CARVE((size_t)R * a->sizes[0]);
    ws->y = CARVE((size_t)R * d->n_out);
    ws->d0 = CARVE((size_t)R * max_n);
    ws->d1 = CARVE((size_t)R * max_n);
    ws->work = CARVE(gemm_work_max(a, R, n_threads));
    if (with_dc) {
        ws->wmask = CARVE(P);
        ws->wdc = CARVE(P);
    }
    if (s->reg.early_stopping_patience)
        ws->best = CARVE(P);
    if (s->mc_samples)
        ws->mc_sum = CARVE((size_t)R * d->n_out);
    for (int l = 0; l < a->n_layers; l++) {
        size_t width = a->sizes[l + 1];
        ws->z[l] = CARVE(R * width);
        if (l + 1 < a->n_layers) {
            ws->h[l] = CARVE(R * width);
            ws->a[l] = CARVE(R * width);
            ws->mask[l] = CARVE(mask_rows * width);
        }
    }
#undef CARVE
    ws->labels = (uint8_t *)p;
    ws->order = (uint32_t *)(ws->labels + round_up16(R));
    return RS_OK;
}

void rs_train_init_params(const rs_train_settings_t *s, uint64_t seed,
                          float *params)
{
    const rs_arch_t *a = &s->arch;
    rs_key_t key = rs_key_from_seed(seed);
    for (int l = 0; l < a->n_layers; l++) {
        float sd = s->init == RS_INIT_HE_NORMAL
                       ? rs_sqrtf(2.0f / (float)a->sizes[l])
                       : s->init_sd;
        uint32_t n_w = a->sizes[l] * a->sizes[l + 1];
        rs_fill_normal(key, rs_ctr0(RS_PURPOSE_INIT, (uint32_t)l), 0, sd,
                       params + rs_arch_weight_offset(a, l), n_w);
        float *bias = params + rs_arch_bias_offset(a, l);
        for (uint32_t i = 0; i < a->sizes[l + 1]; i++)
            bias[i] = 0.0f;
    }
}

/* The weights layer l computes with: the DropConnect-masked copy while a
 * training step has it on, else the parameters. */
static const float *layer_weights(const workspace_t *ws, const rs_arch_t *a,
                                  int l)
{
    size_t off = rs_arch_weight_offset(a, l);
    return ws->dc_on[l] ? ws->wdc + off : ws->params + off;
}

/* Forward pass over nb rows already gathered into ws->x.  Hidden layer l
 * is multiplied by ws->mask[l] where dropped[l] (training); dropped == NULL
 * is the clean network (evaluation).  Returns the output layer's buffer. */
static float *forward(const rs_train_settings_t *s, workspace_t *ws,
                      const rs_kernels_t *k, const float *x, uint32_t nb,
                      const int *dropped, int n_threads)
{
    const rs_arch_t *a = &s->arch;
    const float *inp = x;
    for (int l = 0; l < a->n_layers; l++) {
        int n_in = (int)a->sizes[l], n_out = (int)a->sizes[l + 1];
        const float *W = layer_weights(ws, a, l);
        const float *bias = ws->params + rs_arch_bias_offset(a, l);
        int hidden = l + 1 < a->n_layers;
        /* ReLU is fused into the product's store: h directly, no z */
        int fuse = hidden && a->act == RS_ACT_RELU;
        rs_dense_forward(k, fuse ? ws->h[l] : ws->z[l], inp, W, bias, (int)nb,
                         n_in, n_out, fuse, ws->work, n_threads);
        if (!hidden)
            break;
        size_t n = (size_t)nb * n_out;
        int drop = dropped && dropped[l];
        if (!fuse)
            rs_act_forward(a->act, ws->h[l], ws->z[l], n);
        if (drop)
            rs_dropout_forward(ws->a[l], ws->h[l], ws->mask[l], n);
        inp = drop ? ws->a[l] : ws->h[l];
    }
    return ws->z[a->n_layers - 1];
}

/* Backward pass for a batch of nb rows whose output gradient is in ws->d0;
 * fills ws->grads. */
static void backward(const rs_train_settings_t *s, workspace_t *ws,
                     const rs_kernels_t *k, uint32_t nb, const int *dropped,
                     int n_threads)
{
    const rs_arch_t *a = &s->arch;
    float *dout = ws->d0, *dinp = ws->d1;
    for (int l = a->n_layers - 1; l >= 0; l--) {
        int n_in = (int)a->sizes[l], n_out = (int)a->sizes[l + 1];
        const float *inp = l == 0 ? ws->x : (dropped[l - 1] ? ws->a[l - 1]
                                                             : ws->h[l - 1]);
        const float *W = layer_weights(ws, a, l);
        float *dW = ws->grads + rs_arch_weight_offset(a, l);
        float *db = ws->grads + rs_arch_bias_offset(a, l);
        rs_dense_backward(k, l == 0 ? NULL : dinp, dW, db, dout, inp, W,
                          (int)nb, n_in, n_out, ws->work, n_threads);
        if (ws->dc_on[l]) {
            /* Wm = W * mask, so dL/dW = dL/dWm * mask */
            const float *m = ws->wmask + rs_arch_weight_offset(a, l);
            size_t n_w = (size_t)n_in * n_out;
            for (size_t i = 0; i < n_w; i++)
                dW[i] = dW[i] * m[i];
        }
        if (l == 0)
            break;
        size_t n = (size_t)nb * n_in;
        rs_dropout_act_backward(a->act, dinp, dinp,
                                dropped[l - 1] ? ws->mask[l - 1] : NULL,
                                ws->h[l - 1], n);
        float *t = dout;
        dout = dinp;
        dinp = t;
    }
}

/* Loss (sum over rows) and, if want_grad, its gradient into ws->d0. */
static double batch_loss(const rs_train_settings_t *s, workspace_t *ws,
                         const float *pred, const float *y,
                         const uint8_t *labels, uint32_t nb, int want_grad,
                         uint64_t *n_correct)
{
    const rs_arch_t *a = &s->arch;
    int n_out = (int)a->sizes[a->n_layers];
    if (a->loss == RS_LOSS_MSE) {
        if (n_correct)
            *n_correct = 0;
        return rs_mse_forward_backward(want_grad ? ws->d0 : NULL, pred, y,
                                       (int)nb, n_out);
    }
    return rs_softmax_ce_forward_backward(want_grad ? ws->d0 : NULL, pred,
                                          labels, (int)nb, n_out,
                                          n_correct);
}

/* Rows first..first+nb-1 of a split: float data are read in place, bytes
 * are converted into the workspace. */
static void chunk_rows(workspace_t *ws, const rs_dataset_t *d,
                       const rs_split_t *split, uint32_t first, uint32_t nb,
                       const float **x, const float **y, const uint8_t **labels)
{
    if (split->x) {
        *x = split->x + (size_t)first * d->n_in;
        *y = split->y ? split->y + (size_t)first * d->n_out : NULL;
        *labels = split->label ? split->label + first : NULL;
        return;
    }
    rs_data_gather(d, split, NULL, first, nb, ws->x, ws->y, ws->labels);
    *x = ws->x;
    *y = ws->y;
    *labels = ws->labels;
}

/* Clean loss and accuracy over a whole split, in chunks of R rows. */
static void evaluate(const rs_train_settings_t *s, workspace_t *ws,
                     const rs_kernels_t *k, const rs_dataset_t *d,
                     const rs_split_t *split, uint32_t R, int n_threads,
                     double *loss, double *acc)
{
    double sum = 0.0;
    uint64_t correct = 0;
    for (uint32_t first = 0; first < split->n; first += R) {
        uint32_t nb = split->n - first < R ? split->n - first : R;
        const float *x, *y;
        const uint8_t *labels;
        chunk_rows(ws, d, split, first, nb, &x, &y, &labels);
        float *pred = forward(s, ws, k, x, nb, NULL, n_threads);
        uint64_t c = 0;
        sum += batch_loss(s, ws, pred, y, labels, nb, 0, &c);
        correct += c;
    }
    *loss = sum / split->n;
    *acc = d->task == RS_TASK_CLASSIFICATION ? (double)correct / split->n
                                             : NAN;
}

/* The test split by MC dropout after e epochs (rs_curves_t.test_loss_mc):
 * for each chunk of R rows, T = s->mc_samples forward passes with the
 * job's dropout noise (rs_noise_mask_at at (MC_DROPOUT | l<<8, e, t,
 * row*G + u/4), rows numbered within the split, so chunks do not matter),
 * the outputs (MSE) or softmax probabilities (cross-entropy) summed in
 * float in pass order and divided by T; then the loss of that mean
 * prediction per row (MSE as rs_mse_forward_backward; cross-entropy
 * -logf(mean p_y)), summed in double in row order, and the accuracy of
 * its first maximal entry. */
static void evaluate_mc(const rs_train_settings_t *s, const rs_hparams_t *hp,
                        workspace_t *ws, const rs_kernels_t *k,
                        const rs_dataset_t *d, const int *dropped,
                        rs_key_t key, uint32_t e, uint32_t R, int n_threads,
                        double *loss, double *acc)
{
    const rs_arch_t *a = &s->arch;
    const rs_split_t *split = &d->test;
    const int n_out = (int)a->sizes[a->n_layers];
    const float T = (float)s->mc_samples;
    double sum = 0.0;
    uint64_t correct = 0;
    for (uint32_t first = 0; first < split->n; first += R) {
        uint32_t nb = split->n - first < R ? split->n - first : R;
        const float *x, *y;
        const uint8_t *labels;
        chunk_rows(ws, d, split, first, nb, &x, &y, &labels);
        float *acc_sum = ws->mc_sum;
        size_t n_vals = (size_t)nb * n_out;
        for (size_t i = 0; i < n_vals; i++)
            acc_sum[i] = 0.0f;
        for (uint32_t t = 0; t < s->mc_samples; t++) {
            for (int l = 0; l + 1 < a->n_layers; l++)
                if (dropped[l])
                    rs_noise_mask_at(s->reg.noise, key,
                                     rs_ctr0(RS_PURPOSE_MC_DROPOUT, (uint32_t)l),
                                     e, t, first, nb, a->sizes[l + 1],
                                     hp->keep_prob[l], ws->mask[l]);
            const float *pred = forward(s, ws, k, x, nb, dropped, n_threads);
            if (a->loss == RS_LOSS_MSE) {
                for (size_t i = 0; i < n_vals; i++)
                    acc_sum[i] = acc_sum[i] + pred[i];
                continue;
            }
            for (uint32_t b = 0; b < nb; b++) {
                const float *z = pred + (size_t)b * n_out;
                float *row = acc_sum + (size_t)b * n_out;
                int argmax = 0;
                for (int j = 1; j < n_out; j++)
                    if (z[j] > z[argmax])
                        argmax = j;
                float m = z[argmax], den = 0.0f;
                for (int j = 0; j < n_out; j++)
                    den += rs_expf(z[j] - m);
                for (int j = 0; j < n_out; j++)
                    row[j] = row[j] + rs_expf(z[j] - m) / den;
            }
        }
        for (uint32_t b = 0; b < nb; b++) {
            const float *row = acc_sum + (size_t)b * n_out;
            if (a->loss == RS_LOSS_MSE) {
                double row_loss = 0.0;
                for (int j = 0; j < n_out; j++) {
                    float diff = row[j] / T - y[(size_t)b * n_out + j];
                    row_loss += (double)diff * diff;
                }
                sum += row_loss / n_out;
                continue;
            }
            int argmax = 0;
            for (int j = 1; j < n_out; j++)
                if (row[j] > row[argmax])
                    argmax = j;
            sum += (double)-rs_logf(row[labels[b]] / T);
            correct += (uint64_t)(argmax == labels[b]);
        }
    }
    *loss = sum / split->n;
    *acc = d->task == RS_TASK_CLASSIFICATION ? (double)correct / split->n
                                             : NAN;
}

/* The (epoch, step) pairs sel selects in a run of s->epochs epochs. */
static uint32_t count_records(const rs_train_settings_t *s,
                              const rs_record_sel_t *sel, uint32_t steps)
{
    uint32_t n = 0;
    for (uint32_t e = 0; e < s->epochs; e++)
        for (uint32_t st = 0; st < steps; st++)
            n += (uint32_t)rs_record_selected(sel, e, st);
    return n;
}

/* The bytes of n records of rows x ceil(n_units/8) mask bytes with their
 * epoch, step and (with_n_rows, dropout masks) n_rows indices, aligned. */
static size_t mask_record_bytes(uint32_t n, uint32_t rows, uint32_t n_units,
                                int with_n_rows)
{
    return (size_t)n * rows * ((n_units + 7) / 8) +
           (2 + (size_t)with_n_rows) * n * sizeof(uint32_t) + 3;
}

/* Sets m's shape and, for n > 0 records, points its indices and bits into
 * cp (mask_record_bytes of it); returns the end. */
static char *mask_record_carve(rs_mask_record_t *m, uint32_t n, uint32_t rows,
                               uint32_t n_units, int with_n_rows, char *cp)
{
    m->rows = rows;
    m->n_units = n_units;
    m->row_bytes = (n_units + 7) / 8;
    if (!n)
        return cp;
    m->n_records = n;
    m->epoch = (uint32_t *)(cp + (4 - (uintptr_t)cp % 4) % 4);
    m->step = m->epoch + n;
    m->n_rows = with_n_rows ? m->step + n : NULL;
    m->bits = (uint8_t *)(m->step + (1 + (size_t)with_n_rows) * n);
    return (char *)m->bits + (size_t)n * rows * m->row_bytes;
}

/* Records of hidden layer h's dropout masks (0: keep 1 or not binary) and
 * of its outgoing weights' DropConnect masks (0: not masked). */
static uint32_t dropout_records(const rs_train_settings_t *s,
                                const rs_hparams_t *hp, int h, uint32_t n)
{
    /* gaussian multipliers have no binary mask to record */
    return hp->keep_prob[h] < 1.0f && s->reg.noise != RS_NOISE_GAUSSIAN ? n : 0;
}

static uint32_t dc_records(const rs_train_settings_t *s, int h, uint32_t n)
{
    return dropconnect_layer_on(s, h) ? n : 0;
}

/* Allocates the result arrays in one block. */
static rs_status result_alloc(rs_job_result_t *r, const rs_train_settings_t *s,
                              const rs_hparams_t *hp, uint32_t B,
                              uint32_t n_records, uint32_t n_av, uint32_t n_dc,
                              rs_error_t *err)
{
    const rs_arch_t *a = &s->arch;
    memset(r, 0, sizeof *r);
    r->n_params = rs_arch_n_params(a);
    r->n_hidden = a->n_layers - 1;
    r->curves.n = s->epochs + 1;
    size_t n_curve = r->curves.n;
    size_t n_zero_frac = s->record_zero_frac ? n_curve * (size_t)a->n_layers : 0;
    size_t n_mc = s->mc_samples ? 2 * n_curve : 0;
    if (r->n_hidden == 0)
        n_av = 0;   /* no hidden layer: no activation to measure */
    /* the statistics, then epoch, step and n_rows (3 n_av u32, in as many
     * doubles as they fill, so what follows stays 8-byte aligned) */
    size_t n_av_values = (size_t)n_av * r->n_hidden * RS_AV_N +
                         (3 * (size_t)n_av + 1) / 2;
    size_t n_bytes = 2 * r->n_params * sizeof(float) +
                     (8 * n_curve + n_zero_frac + n_mc + n_av_values) *
                         sizeof(double);
    for (int l = 0; l < r->n_hidden; l++)
        n_bytes += mask_record_bytes(dropout_records(s, hp, l, n_records), B,
                                     a->sizes[l + 1], 1) +
                   mask_record_bytes(dc_records(s, l, n_dc), a->sizes[l + 1],
                                     a->sizes[l + 2], 0);
    char *p = calloc(1, n_bytes + 64);
    if (!p)
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0,
                            "cannot allocate %zu bytes for a job's results",
                            n_bytes);
    r->storage = p;
    double *dp = (double *)p;
    double **curves[7] = {&r->curves.train_loss, &r->curves.test_loss,
                          &r->curves.val_loss, &r->curves.train_acc,
                          &r->curves.test_acc, &r->curves.val_acc,
                          &r->curves.train_loss_dropout};
    for (int i = 0; i < 7; i++) {
        *curves[i] = dp;
        for (size_t e = 0; e < n_curve; e++)
            dp[e] = NAN;
        dp += n_curve;
    }
    r->epoch_train_s = dp;
    memset(dp, 0, n_curve * sizeof *dp);
    dp += n_curve;
    r->curves.n_layers = (uint32_t)a->n_layers;
    if (n_zero_frac) {
        r->curves.zero_frac = dp;
        for (size_t i = 0; i < n_zero_frac; i++)
            dp[i] = NAN;
        dp += n_zero_frac;
    }
    if (n_mc) {
        r->curves.test_loss_mc = dp;
        r->curves.test_acc_mc = dp + n_curve;
        for (size_t i = 0; i < n_mc; i++)
            dp[i] = NAN;
        dp += n_mc;
    }
    rs_act_var_record_t *av = &r->act_var;
    av->n_hidden = (uint32_t)r->n_hidden;
    if (n_av) {
        av->n_records = n_av;
        for (int i = 0; i < RS_AV_N; i++) {
            av->v[i] = dp;
            dp += (size_t)n_av * r->n_hidden;
        }
        av->epoch = (uint32_t *)dp;
        av->step = av->epoch + n_av;
        av->n_rows = av->step + n_av;
        dp += (3 * (size_t)n_av + 1) / 2;
    }
    for (int l = 0; l < r->n_hidden; l++)
        av->noise_var[l] = rs_noise_var(s->reg.noise, hp->keep_prob[l]);
    float *fp = (float *)dp;
    r->params_init = fp;
    r->params_final = fp + r->n_params;
    char *cp = (char *)(fp + 2 * r->n_params);
    for (int l = 0; l < r->n_hidden; l++) {
        cp = mask_record_carve(&r->masks[l], dropout_records(s, hp, l, n_records),
                               B, a->sizes[l + 1], 1, cp);
        cp = mask_record_carve(&r->dc_masks[l], dc_records(s, l, n_dc),
                               a->sizes[l + 1], a->sizes[l + 2], 0, cp);
    }
    return RS_OK;
}

void rs_job_result_free(rs_job_result_t *r)
{
    if (!r)
        return;
    free(r->storage);
    memset(r, 0, sizeof *r);
}

/* What first became non-finite after epoch e, or NULL: the losses
 * measured for it, then the weights.  The order is fixed, so the same run
 * names the same quantity everywhere. */
static const char *first_nonfinite(const rs_train_settings_t *s,
                                   const rs_dataset_t *d, const rs_curves_t *c,
                                   uint32_t e, const float *params,
                                   size_t n_params)
{
    if (e > 0 && !isfinite(c->train_loss_dropout[e]))
        return "training loss (with dropout)";
    if (s->eval_train && !isfinite(c->train_loss[e]))
        return "train loss";
    if (d->test.n && !isfinite(c->test_loss[e]))
        return "test loss";
    if (d->val.n && !isfinite(c->val_loss[e]))
        return "validation loss";
    for (size_t i = 0; i < n_params; i++)
        if (!isfinite(params[i]))
            return "weights";
    return NULL;
}

/* DropConnect for one step: the mask of each masked W_l (l = h + 1 for
 * hidden layer h) from its counters and the masked copy Wm = W * mask (one
 * float product each), which this step's forward and backward use; with
 * rec, the bits also go to record `record` of rec[h] (out->dc_masks). */
static void dropconnect_step(const rs_train_settings_t *s, workspace_t *ws,
                             rs_key_t key, uint32_t epoch, uint32_t step,
                             rs_mask_record_t *rec, uint32_t record)
{
    const rs_arch_t *a = &s->arch;
    for (int h = 0; h + 1 < a->n_layers; h++) {
        int l = h + 1;
        ws->dc_on[l] = dropconnect_layer_on(s, h);
        if (!ws->dc_on[l])
            continue;
        const float keep = s->reg.dropconnect_keep[h];
        size_t off = rs_arch_weight_offset(a, l);
        uint64_t n_w = (uint64_t)a->sizes[l] * a->sizes[l + 1];
        uint8_t *bits = NULL;
        if (rec && rec[h].bits) {
            bits = rec[h].bits + (size_t)record * rec[h].rows * rec[h].row_bytes;
            rec[h].epoch[record] = epoch;
            rec[h].step[record] = step;
        }
        rs_dropconnect_mask_ref(key, (uint32_t)l, epoch, step, a->sizes[l],
                                a->sizes[l + 1], rs_keep_threshold(keep),
                                1.0f / keep, ws->wmask + off, bits);
        for (uint64_t i = 0; i < n_w; i++)
            ws->wdc[off + i] = ws->params[off + i] * ws->wmask[off + i];
    }
}

/* The parameter update of one step: SGD with the penalties as the spec's
 * reg section says, then the max-norm projection (docs/FORMAT.md,
 * "Arithmetic"). */
static void update(const rs_train_settings_t *s, const rs_hparams_t *hp,
                   workspace_t *ws)
{
    const rs_arch_t *a = &s->arch;
    if (s->reg.l1_mode == RS_L1_PROXIMAL)
        rs_sgd_update_proximal(a, ws->params, ws->grads, s->lr, hp->l2, hp->l1);
    else
        rs_sgd_update(a, ws->params, ws->grads, s->lr, hp->l2, hp->l1);
    /* the gradients are spent: d0 (R x max n floats) is the scratch */
    if (s->reg.max_norm > 0.0f)
        rs_max_norm(a, ws->params, s->reg.max_norm, ws->d0);
}

/* Row e of the zero_frac curve: per layer, the share of weights == 0.0f. */
static void record_zero_frac(const rs_arch_t *a, const float *params,
                             double *row)
{
    for (int l = 0; l < a->n_layers; l++) {
        const float *W = params + rs_arch_weight_offset(a, l);
        size_t n = (size_t)a->sizes[l] * a->sizes[l + 1], zeros = 0;
        for (size_t i = 0; i < n; i++)
            zeros += W[i] == 0.0f;
        row[l] = (double)zeros / (double)n;
    }
}

/* Early stopping after epoch e (Goodfellow, Bengio and Courville 2016,
 * algorithm 7.1): *best is the first epoch with the smallest validation
 * loss so far (epoch 0, the initial model, included; a later epoch counts
 * as smaller only by more than early_stopping_min_delta), and ws->best holds
 * its parameters.  Once e - *best reaches the patience before the last
 * epoch, the parameters of *best are restored, the curves after e are
 * filled with that model's (the same evaluation of the same weights gives
 * the same bits, so they are copied) and 1 is returned: training stops. */
static int early_stop(const rs_train_settings_t *s, workspace_t *ws,
                      rs_job_result_t *out, uint32_t e, uint32_t *best)
{
    rs_curves_t *c = &out->curves;
    const size_t P = out->n_params;
    if (e == 0 ||
        c->val_loss[e] < c->val_loss[*best] - s->reg.early_stopping_min_delta) {
        *best = e;
        memcpy(ws->best, ws->params, P * sizeof(float));
        return 0;
    }
    if (e - *best < s->reg.early_stopping_patience || e == s->epochs)
        return 0;
    memcpy(ws->params, ws->best, P * sizeof(float));
    double *curves[6] = {c->train_loss, c->test_loss, c->val_loss,
                         c->train_acc, c->test_acc, c->val_acc};
    for (uint32_t f = e + 1; f < c->n; f++) {
        for (int i = 0; i < 6; i++)
            curves[i][f] = curves[i][*best];
        if (c->test_loss_mc) {
            c->test_loss_mc[f] = c->test_loss_mc[*best];
            c->test_acc_mc[f] = c->test_acc_mc[*best];
        }
        if (c->zero_frac)
            memcpy(c->zero_frac + (size_t)f * c->n_layers,
                   c->zero_frac + (size_t)*best * c->n_layers,
                   c->n_layers * sizeof(double));
    }
    out->stopped = 1;
    out->stopped_epoch = e;
    out->returned_epoch = *best;
    return 1;
}

rs_status rs_train_job(const rs_train_settings_t *s, const rs_hparams_t *hp,
                       const rs_dataset_t *d, const rs_kernels_t *k,
                       int n_threads, volatile sig_atomic_t *stop,
                       rs_job_result_t *out, rs_error_t *err)
{
    rs_status st = rs_train_check(s, d, err);
    if (st)
        return st;
    const rs_arch_t *a = &s->arch;
    const uint32_t n = d->train.n, B = effective_batch(s, n);
    const uint32_t steps = rs_train_steps_per_epoch(s, n);
    uint32_t R = B > RS_EVAL_CHUNK ? B : RS_EVAL_CHUNK;
    workspace_t ws;
    memset(&ws, 0, sizeof ws);
    const int dc = dropconnect_on(s);
    if ((st = workspace_alloc(&ws, s, d, B, R, n_threads, dc, err)))
        return st;
    uint32_t n_records = s->record_masks ? count_records(s, &s->mask_sel, steps)
                                         : 0;
    uint32_t n_av = s->record_act_var ? count_records(s, &s->act_var_sel, steps)
                                      : 0;
    uint32_t n_dc = dc && s->record_dc_masks
                        ? count_records(s, &s->dc_mask_sel, steps) : 0;
    if ((st = result_alloc(out, s, hp, B, n_records, n_av, n_dc, err))) {
        free(ws.block);
        return st;
    }

    rs_key_t key = rs_key_from_seed(hp->seed);
    const int n_hidden = a->n_layers - 1;
    int dropped[RS_MAX_LAYERS] = {0};
    uint32_t threshold[RS_MAX_LAYERS];
    float scale[RS_MAX_LAYERS];
    for (int l = 0; l < n_hidden; l++) {
        dropped[l] = hp->keep_prob[l] < 1.0f;
        threshold[l] = rs_keep_threshold(hp->keep_prob[l]);
        scale[l] = 1.0f / hp->keep_prob[l];
    }

    rs_train_init_params(s, hp->seed, ws.params);
    memcpy(out->params_init, ws.params, out->n_params * sizeof(float));
    rs_curves_t *c = &out->curves;
    uint32_t record = 0, av_record = 0, dc_record = 0, best_epoch = 0;
    rs_act_var_record_t *av = &out->act_var;

    for (uint32_t e = 0; e <= s->epochs; e++) {
        double t_epoch = now_s();
        if (e > 0) {
            uint32_t epoch = e - 1;
            if (s->shuffle)
                rs_permutation(key, rs_ctr0(RS_PURPOSE_SHUFFLE, 0), epoch,
                               ws.order, n);
            else
                for (uint32_t i = 0; i < n; i++)
                    ws.order[i] = i;
            double seen = 0.0;
            for (uint32_t step = 0; step < steps; step++) {
                if (stop && *stop) {
                    free(ws.block);
                    rs_job_result_free(out);
                    return rs_error_set(err, RS_EINTR, NULL, 0, 0,
                                        "stopped at epoch %u step %u", epoch,
                                        step);
                }
                uint32_t first = step * B, nb = n - first < B ? n - first : B;
                rs_data_gather(d, &d->train, ws.order + first, 0, nb, ws.x,
                               ws.y, ws.labels);
                if (s->reg.input_noise_sd > 0.0f)
                    rs_input_noise_ref(key, epoch, step, nb, a->sizes[0],
                                       s->reg.input_noise_sd, ws.x);
                int rec = s->record_masks &&
                          rs_record_selected(&s->mask_sel, epoch, step);
                for (int l = 0; l < n_hidden; l++) {
                    if (!dropped[l])
                        continue;
                    rs_mask_record_t *m = &out->masks[l];
                    uint8_t *bits = NULL;
                    if (rec && m->bits) {
                        bits = m->bits + (size_t)record * m->rows * m->row_bytes;
                        m->epoch[record] = epoch;
                        m->step[record] = step;
                        m->n_rows[record] = nb;
                    }
                    if (s->reg.noise == RS_NOISE_BERNOULLI)
                        k->dropout_mask(key, (uint32_t)l, epoch, step, nb,
                                        a->sizes[l + 1], threshold[l], scale[l],
                                        ws.mask[l], bits);
                    else
                        rs_noise_mask_ref(s->reg.noise, key, (uint32_t)l, epoch,
                                          step, nb, a->sizes[l + 1],
                                          hp->keep_prob[l], ws.mask[l], bits);
                }
                record += (uint32_t)rec;
                if (dc) {
                    int dc_rec = n_dc &&
                                 rs_record_selected(&s->dc_mask_sel, epoch, step);
                    dropconnect_step(s, &ws, key, epoch, step,
                                     dc_rec ? out->dc_masks : NULL, dc_record);
                    dc_record += (uint32_t)dc_rec;
                }
                float *pred = forward(s, &ws, k, ws.x, nb, dropped, n_threads);
                if (av->n_records &&
                    rs_record_selected(&s->act_var_sel, epoch, step)) {
                    /* a measurement of this step's activations only */
                    for (int l = 0; l < n_hidden; l++) {
                        double v[RS_AV_N];
                        rs_act_var(v, ws.h[l], dropped[l] ? ws.a[l] : ws.h[l],
                                   (size_t)nb * a->sizes[l + 1],
                                   av->noise_var[l]);
                        for (int i = 0; i < RS_AV_N; i++)
                            av->v[i][(size_t)av_record * n_hidden + l] = v[i];
                    }
                    av->epoch[av_record] = epoch;
                    av->step[av_record] = step;
                    av->n_rows[av_record] = nb;
                    av_record++;
                }
                seen += batch_loss(s, &ws, pred, ws.y, ws.labels, nb, 1, NULL);
                backward(s, &ws, k, nb, dropped, n_threads);
                memset(ws.dc_on, 0, sizeof ws.dc_on);   /* evaluation: W */
                update(s, hp, &ws);
                out->steps_done++;
            }
            c->train_loss_dropout[e] = seen / n;
            out->epoch_train_s[e] = now_s() - t_epoch;
        }
        double t_eval = now_s();
        if (s->eval_train)
            evaluate(s, &ws, k, d, &d->train, R, n_threads, &c->train_loss[e],
                     &c->train_acc[e]);
        evaluate(s, &ws, k, d, &d->test, R, n_threads, &c->test_loss[e],
                 &c->test_acc[e]);
        if (c->test_loss_mc)
            evaluate_mc(s, hp, &ws, k, d, dropped, key, e, R, n_threads,
                        &c->test_loss_mc[e], &c->test_acc_mc[e]);
        if (d->val.n)
            evaluate(s, &ws, k, d, &d->val, R, n_threads, &c->val_loss[e],
                     &c->val_acc[e]);
        out->eval_s += now_s() - t_eval;
        if (c->zero_frac)
            record_zero_frac(a, ws.params, c->zero_frac + (size_t)e * a->n_layers);
        const char *what = first_nonfinite(s, d, c, e, ws.params, out->n_params);
        if (what) {
            out->diverged = 1;
            out->diverged_epoch = e;
            out->diverged_quantity = what;
            break;
        }
        if (s->reg.early_stopping_patience &&
            early_stop(s, &ws, out, e, &best_epoch))
            break;
    }
    /* a diverged or stopped run recorded only the steps it ran */
    for (int l = 0; l < n_hidden; l++)
        if (dropped[l] && out->masks[l].bits)
            out->masks[l].n_records = record;
    if (av->n_records)
        av->n_records = av_record;
    for (int l = 0; l < n_hidden; l++)
        if (out->dc_masks[l].bits)
            out->dc_masks[l].n_records = dc_record;
    memcpy(out->params_final, ws.params, out->n_params * sizeof(float));
    free(ws.block);
    return RS_OK;
}

rs_status rs_train_batch_grad(const rs_train_settings_t *s,
                              const rs_kernels_t *k, const float *params,
                              const float *x, const float *y,
                              const uint8_t *labels, uint32_t nb,
                              float *const *masks, float *grads, double *loss,
                              rs_error_t *err)
{
    return rs_train_batch_grad_dropconnect(s, k, params, x, y, labels, nb,
                                           masks, NULL, grads, loss, err);
}

rs_status rs_train_batch_grad_dropconnect(const rs_train_settings_t *s,
                                          const rs_kernels_t *k,
                                          const float *params, const float *x,
                                          const float *y, const uint8_t *labels,
                                          uint32_t nb, float *const *masks,
                                          float *const *weight_masks,
                                          float *grads, double *loss,
                                          rs_error_t *err)
{
    const rs_arch_t *a = &s->arch;
    rs_dataset_t d;
    memset(&d, 0, sizeof d);
    d.n_in = a->sizes[0];
    d.n_out = a->sizes[a->n_layers];
    d.train.n = nb;
    workspace_t ws;
    memset(&ws, 0, sizeof ws);
    rs_status st = workspace_alloc(&ws, s, &d, nb, nb, 1, weight_masks != NULL,
                                   err);
    if (st)
        return st;
    size_t P = rs_arch_n_params(a);
    memcpy(ws.params, params, P * sizeof(float));
    for (int l = 0; weight_masks && l < a->n_layers; l++) {
        if (!weight_masks[l])
            continue;
        size_t off = rs_arch_weight_offset(a, l);
        size_t n_w = (size_t)a->sizes[l] * a->sizes[l + 1];
        for (size_t i = 0; i < n_w; i++) {
            ws.wmask[off + i] = weight_masks[l][i];
            ws.wdc[off + i] = ws.params[off + i] * weight_masks[l][i];
        }
        ws.dc_on[l] = 1;
    }
    memcpy(ws.x, x, (size_t)nb * d.n_in * sizeof(float));
    if (a->loss == RS_LOSS_MSE)
        memcpy(ws.y, y, (size_t)nb * d.n_out * sizeof(float));
    else
        memcpy(ws.labels, labels, nb);
    int dropped[RS_MAX_LAYERS] = {0};
    for (int l = 0; l + 1 < a->n_layers; l++)
        if (masks && masks[l]) {
            dropped[l] = 1;
            memcpy(ws.mask[l], masks[l],
                   (size_t)nb * a->sizes[l + 1] * sizeof(float));
        }
    float *pred = forward(s, &ws, k, ws.x, nb, dropped, 1);
    *loss = batch_loss(s, &ws, pred, ws.y, ws.labels, nb, 1, NULL) / nb;
    backward(s, &ws, k, nb, dropped, 1);
    memcpy(grads, ws.grads, P * sizeof(float));
    free(ws.block);
    return RS_OK;
}
