/* RotaryEmbedding (opset 23), float32: rotates pairs of each head's first
 * rotary_embedding_dim values (all of the head by default) by the angles
 * whose cosines and sines the caches hold.
 *
 * Input 4-D (batch, heads, sequence, head size) or 3-D (batch, sequence,
 * heads · head size, with num_heads). With position_ids (batch, sequence;
 * int64, an id out of the caches' range is an error naming the node) the
 * caches are (positions, rotary_dim / 2) and row position_ids[b, s] is
 * used; without, they are (batch, sequence, rotary_dim / 2). Pairs are
 * (x[i], x[i + rotary_dim/2]) or, interleaved, (x[2i], x[2i+1]); each
 * becomes (cos·x1 − sin·x2, sin·x1 + cos·x2) in float32, rounded after
 * each product and sum as the ONNX reference computes it. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

typedef struct rotary_params {
  int interleaved;
  int64_t rot_dim, num_heads;
} rotary_params;

static tq_status rotary_parse(const tq_op_parse *p, void *params) {
  rotary_params *rp = params;
  rp->interleaved = tq_parse_int(p, "interleaved", 0) != 0;
  rp->rot_dim = tq_parse_int(p, "rotary_embedding_dim", 0);
  rp->num_heads = tq_parse_int(p, "num_heads", 0);
  return TQ_OK;
}

typedef struct rot_geom {
  int64_t B, H, S, D, R; /* R: the rotary dim */
  int64_t bs, hs, ss;    /* strides of batch, head, sequence position */
} rot_geom;

static tq_status rotary_geometry(tq_op_call *c, rot_geom *g) {
  const rotary_params *rp = c->params;
  tq_status st;
  if ((st = tq_shape_need_input(c, 0, "input")) ||
      (st = tq_shape_need_input(c, 1, "cos_cache")) ||
      (st = tq_shape_need_input(c, 2, "sin_cache")))
    return st;
  const tq_shape *x = &c->in[0]->shape;
  if (x->ndim == 4) {
    g->B = x->dims[0], g->H = x->dims[1], g->S = x->dims[2], g->D = x->dims[3];
    g->ss = g->D, g->hs = g->S * g->D, g->bs = g->H * g->hs;
  } else if (x->ndim == 3) {
    if (rp->num_heads <= 0 || x->dims[2] % rp->num_heads)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "a 3-D input needs num_heads > 0 dividing its "
                           "last dimension (%lld)",
                           (long long)x->dims[2]);
    g->B = x->dims[0], g->S = x->dims[1], g->H = rp->num_heads;
    g->D = x->dims[2] / g->H;
    g->hs = g->D, g->ss = x->dims[2], g->bs = g->S * g->ss;
  } else {
    return tq_call_error(c, TQ_ERR_SHAPE, "input must be 3-D or 4-D");
  }
  g->R = rp->rot_dim > 0 ? rp->rot_dim : g->D;
  if (g->R > g->D || g->R % 2)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "rotary_embedding_dim %lld must be even and at most "
                         "the head size %lld",
                         (long long)g->R, (long long)g->D);
  const int ids = tq_shape_has_input(c, 3);
  for (int i = 1; i <= 2; i++) {
    const tq_shape *s = &c->in[i]->shape;
    const int ok = ids ? s->ndim == 2 && s->dims[1] == g->R / 2
                       : s->ndim == 3 && s->dims[0] == g->B &&
                             s->dims[1] == g->S && s->dims[2] == g->R / 2;
    if (!ok)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "%s must be %s with rotary_dim / 2 = %lld columns",
                           i == 1 ? "cos_cache" : "sin_cache",
                           ids ? "(positions, R/2)"
                               : "(batch, sequence, R/2) without position_ids",
                           (long long)(g->R / 2));
  }
  if (!tq_shape_equal(&c->in[1]->shape, &c->in[2]->shape))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "cos_cache and sin_cache must have one shape");
  if (ids && (c->in[3]->shape.ndim != 2 || c->in[3]->shape.dims[0] != g->B ||
              c->in[3]->shape.dims[1] != g->S))
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "position_ids must be (batch, sequence)");
  return TQ_OK;
}

static tq_status rotary_infer(tq_op_call *c) {
  rot_geom g = {0};
  tq_status st = rotary_geometry(c, &g);
  if (st != TQ_OK) return st;
  return tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &c->in[0]->shape);
}

static tq_status rotary_forward(tq_op_call *c) {
  const rotary_params *rp = c->params;
  rot_geom g = {0};
  tq_status st = rotary_geometry(c, &g);
  if (st != TQ_OK) return st;
  const float *x = tq_cf32(c->in[0]), *cc = tq_cf32(c->in[1]),
              *sc = tq_cf32(c->in[2]);
  float *y = tq_f32(c->out[0]);
  memcpy(y, x, c->in[0]->numel * sizeof *y);
  const int64_t half = g.R / 2;
  const tq_tensor *ids = tq_shape_has_input(c, 3) ? c->in[3] : NULL;
  const int64_t n_pos = ids ? c->in[1]->shape.dims[0] : 0;
  for (int64_t b = 0; b < g.B; b++)
    for (int64_t s = 0; s < g.S; s++) {
      int64_t row = b * g.S + s;
      if (ids) {
        row = tq_load_i64(ids->dtype, ids->data, (size_t)(b * g.S + s));
        if (row < 0 || row >= n_pos)
          return tq_call_error(c, TQ_ERR_RANGE,
                               "position id %lld at [%lld, %lld] is out of "
                               "range for caches of %lld positions",
                               (long long)row, (long long)b, (long long)s,
                               (long long)n_pos);
      }
      const float *cr = cc + row * half, *sr = sc + row * half;
      for (int64_t h = 0; h < g.H; h++) {
        const int64_t base = b * g.bs + h * g.hs + s * g.ss;
        for (int64_t i = 0; i < half; i++) {
          const int64_t i1 = rp->interleaved ? 2 * i : i;
          const int64_t i2 = rp->interleaved ? 2 * i + 1 : i + half;
          const float x1 = x[base + i1], x2 = x[base + i2];
          const float a = cr[i] * x1, bb = sr[i] * x2;
          const float c2 = sr[i] * x1, d2 = cr[i] * x2;
          y[base + i1] = a - bb;
          y[base + i2] = c2 + d2;
        }
      }
    }
  return TQ_OK;
}

const tq_op_desc tq_ops_rotary[] = {
    {TQ_OP_ONNX_FROM(TQ_OP_ROTARY_EMBEDDING, "RotaryEmbedding", 23),
     TQ_OP_ARITY(3, 4, 1, 1),
     TQ_OP_TYPES(TQ_DTM_F32, TQ_DTM_F32, TQ_DTM_F32, TQ_DTM_INDEX),
     TQ_OP_PARAMS(rotary_params, rotary_parse), .infer = rotary_infer,
     .forward = rotary_forward},
};
const size_t tq_ops_rotary_count = TQ_OP_COUNT_OF(tq_ops_rotary);
