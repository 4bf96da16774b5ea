/* Identity, and Dropout: the identity at inference; in training
 * (c->training) each element is kept with probability 1 - ratio and
 * scaled by 1 / (1 - ratio). Forward and backward.
 *
 * The element at flat index i of the call is kept iff u >= ratio, where
 * u = tq_stochastic_u(seed, stream, sample_offset * per_sample + i) and
 * per_sample = numel / dims[0]: the numbers depend on the sample's place in
 * the data set, never on the batch split or the thread count, and the
 * backward regenerates the same mask from the same numbers. Dropout's ratio
 * and training_mode get no gradient. */
#include <string.h>

#include "core/error.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"
#include "quant/philox.h"

/* ---- Identity (and Dropout at inference)
 * ---------------------------------*/

static tq_status identity_infer(tq_op_call *c) {
  if (c->n_in < 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "expects an input");
  tq_status st = tq_call_set_output(c, 0, c->in[0]->dtype, &c->in[0]->shape);
  if (st != TQ_OK) return st;
  /* Dropout's optional mask: all true at inference. */
  if (c->n_out > 1 && c->out[1])
    return tq_call_set_output(c, 1, TQ_DTYPE_BOOL, &c->in[0]->shape);
  return TQ_OK;
}

static tq_status identity_forward(tq_op_call *c) {
  const tq_tensor *x = c->in[0];
  tq_ew_copy(x->data, c->out[0]->data, x->numel, tq_dtype_size(x->dtype),
             tq_ew_threads(c));
  if (c->n_out > 1 && c->out[1]) memset(c->out[1]->data, 1, c->out[1]->numel);
  return TQ_OK;
}

/* ---- Dropout
 * ---------------------------------------------------------------*/

/* The ratio attribute (opset < 12; input 1 from 12), default 0.5. */
typedef struct dropout_params {
  float ratio;
} dropout_params;

static tq_status dropout_parse(const tq_op_parse *p, void *params) {
  ((dropout_params *)params)->ratio = tq_parse_float(p, "ratio", 0.5f);
  return TQ_OK;
}

typedef struct drop_p {
  int active;    /* 1: drops (training, ratio > 0, float32 data) */
  float ratio;   /* in [0, 1] */
  float scale;   /* 1 / (1 - ratio); 0 for ratio 1 (everything dropped) */
  uint64_t base; /* random number index of element 0 */
} drop_p;

/* The ratio: input 1 when present, else the attribute. Read only in
 * training (inference ignores it). */
static tq_status drop_params(tq_op_call *c, drop_p *p) {
  const tq_tensor *x = c->in[0];
  memset(p, 0, sizeof *p);
  p->scale = 1.0f;
  if (!c->training || x->dtype != TQ_DTYPE_FLOAT32) return TQ_OK;
  p->ratio = ((const dropout_params *)c->params)->ratio;
  if (c->n_in > 1 && c->in[1]) {
    const tq_tensor *r = c->in[1];
    if (r->dtype != TQ_DTYPE_FLOAT32 || r->numel != 1 || !r->data)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input 1 ('ratio') must be a float32 scalar");
    p->ratio = tq_cf32(r)[0];
  }
  if (!(p->ratio >= 0.0f && p->ratio <= 1.0f))
    return tq_call_error(c, TQ_ERR_RANGE, "ratio %g is outside [0, 1]",
                         (double)p->ratio);
  p->active = p->ratio > 0.0f;
  p->scale = p->ratio < 1.0f ? 1.0f / (1.0f - p->ratio) : 0.0f;
  size_t per_sample = x->numel;
  if (x->shape.ndim >= 1 && x->shape.dims[0] > 0)
    per_sample = x->numel / (size_t)x->shape.dims[0];
  p->base = c->sample_offset * (uint64_t)per_sample;
  return TQ_OK;
}

enum { DROP_BLOCK = 256 };

/* y = x * mask * scale and mask (either may be NULL): the forward with x
 * the data, the backward with x the output's gradient. */
typedef struct drop_arg {
  const drop_p *p;
  uint64_t seed, stream;
  const float *x;
  float *y;
  uint8_t *mask;
} drop_arg;

static void drop_chunk(void *arg, size_t first, size_t n) {
  const drop_arg *g = arg;
  const float ratio = g->p->ratio, scale = g->p->scale;
  uint32_t u[DROP_BLOCK];
  for (size_t i0 = 0; i0 < n; i0 += DROP_BLOCK) {
    size_t m = n - i0 < DROP_BLOCK ? n - i0 : DROP_BLOCK;
    size_t at = first + i0;
    tq_philox_fill_u24(g->seed, g->stream, g->p->base + at, u, m);
    for (size_t j = 0; j < m; j++) {
      /* u exactly as tq_stochastic_u computes it. */
      const float keep = (float)u[j] * 0x1p-24f >= ratio ? 1.0f : 0.0f;
      if (g->y) g->y[at + j] = g->x[at + j] * keep * scale;
      if (g->mask) g->mask[at + j] = keep != 0.0f;
    }
  }
}

static tq_status dropout_forward(tq_op_call *c) {
  drop_p p;
  tq_status st = drop_params(c, &p);
  if (st != TQ_OK) return st;
  if (!p.active) return identity_forward(c);
  const tq_tensor *x = c->in[0];
  drop_arg g = {&p,
                c->seed,
                c->stream,
                tq_cf32(x),
                tq_f32(c->out[0]),
                c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL};
  tq_ew_for_chunks(x->numel, tq_ew_threads(c), drop_chunk, &g);
  return TQ_OK;
}

/* gin[0] = gout[0] * mask * scale (the forward's mask, regenerated). */
static tq_status dropout_backward(tq_op_call *c, const tq_tensor *const *gout,
                                  tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK) return st;
  int threads = tq_ew_threads(c);
  for (size_t k = 1; k < c->n_in; k++)
    if (gin[k]) tq_bw_fill(tq_f32(gin[k]), gin[k]->numel, 0.0f, threads);
  if (!gin[0]) return TQ_OK;
  drop_p p;
  st = drop_params(c, &p);
  if (st != TQ_OK) return st;
  if (!p.active) return tq_bw_pass(c, gout, gin);
  drop_arg a = {&p, c->seed, c->stream, tq_cf32(gout[0]), tq_f32(gin[0]), NULL};
  tq_ew_for_chunks(gout[0]->numel, threads, drop_chunk, &a);
  return TQ_OK;
}

/* ---- descriptors ---------------------------------------------------------*/

const tq_op_desc tq_ops_identity[] = {
    {TQ_OP_ONNX(TQ_OP_IDENTITY, "Identity"), TQ_OP_ARITY(1, 1, 1, 1),
     TQ_OP_TYPES(TQ_DTM_ANY), .infer = identity_infer,
     .forward = identity_forward, .backward = tq_bw_pass},
    /* Dropout(data, ratio, training_mode) -> (output, mask): float32
     * data (what training drops), ratio and a bool mode. */
    {TQ_OP_ONNX(TQ_OP_DROPOUT, "Dropout"), TQ_OP_ARITY(1, 3, 1, 2),
     TQ_OP_TYPES(TQ_DTM_F32, TQ_DTM_F32, TQ_DTM_BOOL),
     TQ_OP_PARAMS(dropout_params, dropout_parse), .infer = identity_infer,
     .forward = dropout_forward, .backward = dropout_backward},
};
const size_t tq_ops_identity_count = TQ_OP_COUNT_OF(tq_ops_identity);
