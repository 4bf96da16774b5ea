/* Attention (opset 23; 24's nonpad_kv_seqlen input too), float32:
 * Y = softmax(softcap(scale · Q·Kᵀ + bias)) · V per batch and head.
 *
 * Q, K, V are 4-D (batch, heads, sequence, head size) or 3-D (batch,
 * sequence, heads · head size, with q_num_heads and kv_num_heads), read in
 * place through strides. past_key/past_value (4-D) are prepended to K and
 * V (present_key/present_value outputs). Grouped-query attention: query
 * head h uses key/value head h / (q_num_heads / kv_num_heads). The bias is
 * attn_mask (bool: false masks; float: added; broadcast numpy-style to
 * (batch, q heads, q sequence, total sequence); a last dimension shorter
 * than the total sequence masks the rest, as the ONNX reference pads),
 * is_causal (key j is masked for query i when j > past length + i, the
 * reference's upper-left alignment) and nonpad_kv_seqlen (keys from that
 * length on are masked). A row whose keys are all masked gives NaN, as the
 * reference. qk_matmul_output (output 3) holds, per
 * qk_matmul_output_mode, the scaled Q·Kᵀ (0), plus the bias (1), after
 * softcap (2) or after softmax (3).
 *
 * Arithmetic: Q·Kᵀ and P·V as single-threaded OpenBLAS GEMMs per (batch,
 * head), the (batch, head) pairs split over threads (same bits at any
 * thread count); scores times scale in float32; softmax with the row
 * maximum, expf, the sum in double and one division per element.
 * softmax_precision is accepted and ignored (float32 throughout). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "ops/nn_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

typedef struct attention_params {
  int causal, qk_mode;
  int64_t q_heads, kv_heads;
  float scale, softcap; /* scale 0: 1/sqrt(head size) */
} attention_params;

static tq_status attention_parse(const tq_op_parse *p, void *params) {
  attention_params *ap = params;
  ap->causal = tq_parse_int(p, "is_causal", 0) != 0;
  ap->qk_mode = (int)tq_parse_int(p, "qk_matmul_output_mode", 0);
  ap->q_heads = tq_parse_int(p, "q_num_heads", 0);
  ap->kv_heads = tq_parse_int(p, "kv_num_heads", 0);
  ap->scale = tq_parse_float(p, "scale", 0.0f);
  ap->softcap = tq_parse_float(p, "softcap", 0.0f);
  if (ap->qk_mode < 0 || ap->qk_mode > 3)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "qk_matmul_output_mode %d is not 0 to 3",
                          ap->qk_mode);
  return TQ_OK;
}

/* One of Q, K, V as (batch, heads, rows, cols) with strides. */
typedef struct att_view {
  const float *data;
  int64_t heads, rows, cols;
  int64_t bs, hs, rs; /* strides of batch, head, row (columns: 1) */
} att_view;

typedef struct att_geom {
  int64_t B, Hq, Hkv, Sq, Skv, P, T, D, Dv;
  int three_d;
  att_view q, k, v;
} att_geom;

static tq_status att_view_of(tq_op_call *c, int i, int64_t heads,
                             const char *what, att_view *v) {
  const tq_tensor *t = c->in[i];
  const tq_shape *s = &t->shape;
  v->data = tq_cf32(t);
  if (s->ndim == 4) {
    v->heads = s->dims[1];
    v->rows = s->dims[2];
    v->cols = s->dims[3];
    v->rs = v->cols;
    v->hs = v->rows * v->cols;
    v->bs = v->heads * v->hs;
    return TQ_OK;
  }
  if (heads <= 0 || s->dims[2] % heads)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "3-D %s needs %s num_heads > 0 dividing its last "
                         "dimension (%lld)",
                         what, i == 0 ? "q" : "kv", (long long)s->dims[2]);
  v->heads = heads;
  v->rows = s->dims[1];
  v->cols = s->dims[2] / heads;
  v->rs = s->dims[2];
  v->hs = v->cols;
  v->bs = v->rows * v->rs;
  return TQ_OK;
}

static tq_status att_geometry(tq_op_call *c, att_geom *g) {
  const attention_params *ap = c->params;
  tq_status st;
  static const char *const names[] = {"Q", "K", "V"};
  for (int i = 0; i < 3; i++)
    if ((st = tq_shape_need_input(c, (size_t)i, names[i])) != TQ_OK) return st;
  const int nd = c->in[0]->shape.ndim;
  if ((nd != 3 && nd != 4) || c->in[1]->shape.ndim != nd ||
      c->in[2]->shape.ndim != nd)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "Q, K and V must all be 3-D or all 4-D");
  g->three_d = nd == 3;
  if ((st = att_view_of(c, 0, ap->q_heads, "Q", &g->q)) ||
      (st = att_view_of(c, 1, ap->kv_heads, "K", &g->k)) ||
      (st = att_view_of(c, 2, ap->kv_heads, "V", &g->v)))
    return st;
  g->B = c->in[0]->shape.dims[0];
  g->Hq = g->q.heads;
  g->Hkv = g->k.heads;
  g->Sq = g->q.rows;
  g->Skv = g->k.rows;
  g->D = g->q.cols;
  g->Dv = g->v.cols;
  if (c->in[1]->shape.dims[0] != g->B || c->in[2]->shape.dims[0] != g->B ||
      g->v.heads != g->Hkv || g->v.rows != g->Skv || g->k.cols != g->D)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "K and V must match Q's batch and each other's "
                         "heads and sequence, K Q's head size");
  if (g->Hkv <= 0 || g->Hq % g->Hkv)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "q heads (%lld) must be a multiple of kv heads "
                         "(%lld)",
                         (long long)g->Hq, (long long)g->Hkv);
  g->P = 0;
  const int past_k = tq_shape_has_input(c, 4),
            past_v = tq_shape_has_input(c, 5);
  if (past_k != past_v)
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "past_key and past_value come together");
  if (past_k) {
    const tq_shape *pk = &c->in[4]->shape, *pv = &c->in[5]->shape;
    if (pk->ndim != 4 || pv->ndim != 4 || pk->dims[0] != g->B ||
        pk->dims[1] != g->Hkv || pk->dims[3] != g->D || pv->dims[0] != g->B ||
        pv->dims[1] != g->Hkv || pv->dims[2] != pk->dims[2] ||
        pv->dims[3] != g->Dv)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "past_key/past_value must be (batch, kv heads, "
                           "past, head size)");
    g->P = pk->dims[2];
  }
  g->T = g->P + g->Skv;
  if (tq_shape_has_input(c, 3)) {
    const tq_shape *m = &c->in[3]->shape;
    if (m->ndim < 2 || m->ndim > 4 || m->dims[m->ndim - 1] > g->T)
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "attn_mask must have rank 2 to 4 and at most %lld "
                           "columns",
                           (long long)g->T);
    const int64_t want[4] = {g->B, g->Hq, g->Sq, g->T};
    for (int d = 0; d < m->ndim - 1; d++) {
      const int64_t md = m->dims[d], wd = want[4 - m->ndim + d];
      if (md != 1 && md != wd)
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "attn_mask dim %d (%lld) does not broadcast to "
                             "%lld",
                             d, (long long)md, (long long)wd);
    }
  }
  if (tq_shape_has_input(c, 6) && c->in[6]->numel != (size_t)g->B)
    return tq_call_error(c, TQ_ERR_SHAPE,
                         "nonpad_kv_seqlen must hold one length per batch");
  return TQ_OK;
}

static tq_status attention_infer(tq_op_call *c) {
  att_geom g;
  tq_status st = att_geometry(c, &g);
  if (st != TQ_OK) return st;
  tq_shape y = tq_shape_of_rank(g.three_d ? 3 : 4);
  if (g.three_d) {
    y.dims[0] = g.B, y.dims[1] = g.Sq, y.dims[2] = g.Hq * g.Dv;
  } else {
    y.dims[0] = g.B, y.dims[1] = g.Hq, y.dims[2] = g.Sq, y.dims[3] = g.Dv;
  }
  if ((st = tq_call_set_output(c, 0, TQ_DTYPE_FLOAT32, &y))) return st;
  tq_shape pk = tq_shape_of_rank(4);
  pk.dims[0] = g.B, pk.dims[1] = g.Hkv, pk.dims[2] = g.T, pk.dims[3] = g.D;
  if (c->n_out > 1 && c->out[1] &&
      (st = tq_call_set_output(c, 1, TQ_DTYPE_FLOAT32, &pk)))
    return st;
  pk.dims[3] = g.Dv;
  if (c->n_out > 2 && c->out[2] &&
      (st = tq_call_set_output(c, 2, TQ_DTYPE_FLOAT32, &pk)))
    return st;
  tq_shape qk = tq_shape_of_rank(4);
  qk.dims[0] = g.B, qk.dims[1] = g.Hq, qk.dims[2] = g.Sq, qk.dims[3] = g.T;
  if (c->n_out > 3 && c->out[3] &&
      (st = tq_call_set_output(c, 3, TQ_DTYPE_FLOAT32, &qk)))
    return st;
  return TQ_OK;
}

/* present = concat(past, new) along the sequence, (B, Hkv, T, cols). */
static void att_present(const att_geom *g, const tq_tensor *past,
                        const att_view *nv, float *dst) {
  const int64_t cols = nv->cols;
  for (int64_t b = 0; b < g->B; b++)
    for (int64_t h = 0; h < g->Hkv; h++) {
      float *o = dst + (b * g->Hkv + h) * g->T * cols;
      if (past)
        memcpy(o, tq_cf32(past) + (b * g->Hkv + h) * g->P * cols,
               (size_t)(g->P * cols) * sizeof *o);
      for (int64_t s = 0; s < g->Skv; s++)
        memcpy(o + (g->P + s) * cols,
               nv->data + b * nv->bs + h * nv->hs + s * nv->rs,
               (size_t)cols * sizeof *o);
    }
}

/* The bias of query row i of (b, h) over the T keys, into row. */
static void att_bias_row(const tq_op_call *c, const att_geom *g, int64_t b,
                         int64_t h, int64_t i, float *row) {
  const attention_params *ap = c->params;
  for (int64_t j = 0; j < g->T; j++) row[j] = 0.0f;
  if (tq_shape_has_input(c, 3)) {
    const tq_tensor *m = c->in[3];
    const tq_shape *s = &m->shape;
    const int64_t cols = s->dims[s->ndim - 1];
    const int64_t idx[3] = {b, h, i};
    int64_t off = 0, stride = cols;
    for (int d = s->ndim - 2; d >= 0; d--) {
      const int64_t at = idx[3 - (s->ndim - 1) + d];
      if (s->dims[d] != 1) off += at * stride;
      stride *= s->dims[d];
    }
    for (int64_t j = 0; j < g->T; j++) {
      if (j >= cols) {
        row[j] = -INFINITY;
      } else if (m->dtype == TQ_DTYPE_BOOL) {
        if (!((const uint8_t *)m->data)[off + j]) row[j] = -INFINITY;
      } else {
        row[j] = tq_cf32(m)[off + j];
      }
    }
  }
  if (ap->causal)
    for (int64_t j = g->P + i + 1; j < g->T; j++) row[j] += -INFINITY;
  if (tq_shape_has_input(c, 6)) {
    const int64_t n = tq_load_i64(c->in[6]->dtype, c->in[6]->data, (size_t)b);
    for (int64_t j = n < 0 ? 0 : n; j < g->T; j++) row[j] += -INFINITY;
  }
}

static void att_softmax_row(float *s, int64_t n) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; j++) mx = s[j] > mx || s[j] != s[j] ? s[j] : mx;
  double sum = 0.0;
  for (int64_t j = 0; j < n; j++) {
    s[j] = expf(s[j] - mx);
    sum += s[j];
  }
  const float total = (float)sum;
  for (int64_t j = 0; j < n; j++) s[j] /= total;
}

static tq_status attention_forward(tq_op_call *c) {
  const attention_params *ap = c->params;
  att_geom g;
  tq_status st = att_geometry(c, &g);
  if (st != TQ_OK) return st;
  /* K and V with the past: the present outputs, or scratch. */
  const int have_past = tq_shape_has_input(c, 4);
  float *own_k = NULL, *own_v = NULL;
  att_view k = g.k, v = g.v;
  if (have_past || (c->n_out > 1 && c->out[1]) || (c->n_out > 2 && c->out[2])) {
    float *pk = c->n_out > 1 && c->out[1] ? tq_f32(c->out[1]) : NULL;
    float *pv = c->n_out > 2 && c->out[2] ? tq_f32(c->out[2]) : NULL;
    if (!pk) pk = own_k = malloc((size_t)(g.B * g.Hkv * g.T * g.D + 1) * 4);
    if (!pv) pv = own_v = malloc((size_t)(g.B * g.Hkv * g.T * g.Dv + 1) * 4);
    if (!pk || !pv) {
      free(own_k);
      free(own_v);
      return tq_error_nomem(c->ctx);
    }
    att_present(&g, have_past ? c->in[4] : NULL, &g.k, pk);
    att_present(&g, have_past ? c->in[5] : NULL, &g.v, pv);
    k = (att_view){pk, g.Hkv, g.T, g.D, g.Hkv * g.T * g.D, g.T * g.D, g.D};
    v = (att_view){pv, g.Hkv, g.T, g.Dv, g.Hkv * g.T * g.Dv, g.T * g.Dv, g.Dv};
  }
  const float scale =
      ap->scale != 0.0f ? ap->scale : (float)(1.0 / sqrt((double)g.D));
  const int64_t group = g.Hq / g.Hkv, pairs = g.B * g.Hq;
  const int biased =
      tq_shape_has_input(c, 3) || ap->causal || tq_shape_has_input(c, 6);
  const size_t per = (size_t)(g.Sq * g.T + g.T);
  int nt = tq_nn_threads(c);
  if (nt > pairs) nt = (int)(pairs > 0 ? pairs : 1);
  float *scratch = malloc(per * (size_t)nt * sizeof *scratch + 1);
  if (!scratch) {
    free(own_k);
    free(own_v);
    return tq_error_nomem(c->ctx);
  }
  float *y = tq_f32(c->out[0]);
  float *qk_out = c->n_out > 3 && c->out[3] ? tq_f32(c->out[3]) : NULL;
  /* Y's layout: (B, Hq, Sq, Dv) or (B, Sq, Hq * Dv). */
  const int64_t y_rs = g.three_d ? g.Hq * g.Dv : g.Dv;
  const int64_t y_hs = g.three_d ? g.Dv : g.Sq * g.Dv;
  const int64_t y_bs = g.Hq * g.Sq * g.Dv;
#pragma omp parallel num_threads(nt)
  {
    tq_nn_blas_single_thread();
#ifdef _OPENMP
    float *s = scratch + per * (size_t)omp_get_thread_num();
#else
    float *s = scratch;
#endif
    float *bias = s + g.Sq * g.T;
#pragma omp for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < pairs; bh++) {
      const int64_t b = bh / g.Hq, h = bh % g.Hq, hk = h / group;
      const float *qp = g.q.data + b * g.q.bs + h * g.q.hs;
      const float *kp = k.data + b * k.bs + hk * k.hs;
      const float *vp = v.data + b * v.bs + hk * v.hs;
      tq_nn_sgemm1(0, 1, g.Sq, g.T, g.D, scale, qp, g.q.rs, kp, k.rs, 0.0f, s,
                   g.T);
      float *qo = qk_out ? qk_out + bh * g.Sq * g.T : NULL;
      for (int64_t i = 0; i < g.Sq; i++) {
        float *row = s + i * g.T;
        if (qo && ap->qk_mode == 0)
          memcpy(qo + i * g.T, row, (size_t)g.T * sizeof *row);
        if (biased) {
          att_bias_row(c, &g, b, h, i, bias);
          for (int64_t j = 0; j < g.T; j++) row[j] += bias[j];
        }
        if (qo && ap->qk_mode == 1)
          memcpy(qo + i * g.T, row, (size_t)g.T * sizeof *row);
        if (ap->softcap > 0.0f)
          for (int64_t j = 0; j < g.T; j++)
            row[j] = tanhf(row[j] / ap->softcap) * ap->softcap;
        if (qo && ap->qk_mode == 2)
          memcpy(qo + i * g.T, row, (size_t)g.T * sizeof *row);
        att_softmax_row(row, g.T);
        if (qo && ap->qk_mode == 3)
          memcpy(qo + i * g.T, row, (size_t)g.T * sizeof *row);
      }
      tq_nn_sgemm1(0, 0, g.Sq, g.Dv, g.T, 1.0f, s, g.T, vp, v.rs, 0.0f,
                   y + b * y_bs + h * y_hs, y_rs);
    }
  }
  free(scratch);
  free(own_k);
  free(own_v);
  return TQ_OK;
}

const tq_op_desc tq_ops_attention[] = {
    {TQ_OP_ONNX_FROM(TQ_OP_ATTENTION, "Attention", 23), TQ_OP_ARITY(3, 7, 1, 4),
     TQ_OP_TYPES(TQ_DTM_F32, TQ_DTM_F32, TQ_DTM_F32, TQ_DTM_F32 | TQ_DTM_BOOL,
                 TQ_DTM_F32, TQ_DTM_F32, TQ_DTM_INDEX),
     TQ_OP_PARAMS(attention_params, attention_parse), .infer = attention_infer,
     .forward = attention_forward},
};
const size_t tq_ops_attention_count = TQ_OP_COUNT_OF(tq_ops_attention);
