/* Writing a model with its quantized weights as ONNX QDQ (tq_onnx_save_qdq;
 * docs/onnx.md "Quantized models"): each weight a weights map quantizes
 * with an `int,B` spec (B <= 8) becomes an int8 (sym) or uint8 (asym,
 * unsigned) initializer with its scales and zero points, read through a
 * DequantizeLinear, so that ONNX Runtime computes with exactly the weights
 * tq run uses. The scales follow the spec's rules (docs/design.md §2.10)
 * from the float weights, and every element is checked: (q - zp) * s in
 * float32 must give the session's quantized value bit for bit, so a file
 * is only written when it computes what tq computes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor_internal.h"
#include "graph/graph_internal.h"
#include "quant/int_grid.h"
#include "tensorquant/onnx.h"
#include "tensorquant/session.h"

/* One weight's QDQ form: quantized values, scales and zero points. */
typedef struct qdq_weight {
  tq_tensor *q, *scale, *zp;
  int axis;      /* -1: per tensor */
  int64_t group; /* 0: per axis (or tensor) */
} qdq_weight;

static void qdq_weight_free(qdq_weight *w) {
  tq_tensor_destroy(w->q);
  tq_tensor_destroy(w->scale);
  tq_tensor_destroy(w->zp);
  memset(w, 0, sizeof *w);
}

/* Splits weight w (quantized as wq by quantizer q) into groups as q
 * resolves them and finds each group's grid; fails, naming the layer, when
 * the values are not (q - zp) * s exactly. */
static tq_status weight_qdq(tq_context *ctx, const char *layer,
                            const char *name, const tq_quantizer *qz,
                            const tq_tensor *w, const tq_tensor *wq,
                            qdq_weight *out) {
  const tq_quant_params *p = tq_quantizer_params(qz);
  const char *spec = tq_quantizer_spec(qz);
  if (p->kind != TQ_QUANT_INT)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "layer '%s', weight '%s': format '%s' cannot be written "
                    "as ONNX QuantizeLinear/DequantizeLinear (int,B "
                    "quantizers can)",
                    layer, name, spec);
  if (p->width > 8 || p->scale != TQ_SCALE_FP32)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "layer '%s', weight '%s': '%s' is not written as QDQ yet "
                    "(int,B with B <= 8 and float32 scales are)",
                    layer, name, spec);
  tq_quant_site site = TQ_QUANT_SITE_INIT;
  site.rank = w->shape.ndim;
  site.dims = w->shape.dims;
  site.channel_axis = 0;
  site.block_axis = w->shape.ndim > 1 ? 1 : 0;
  int axis;
  int64_t group;
  tq_status st = tq_quantizer_resolve(ctx, qz, &site, &axis, &group);
  if (st != TQ_OK) return st;
  size_t outer = 1, dim = w->numel, inner = 1, nb = 1;
  if (axis >= 0) {
    outer = inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)w->shape.dims[d];
    for (int d = axis + 1; d < w->shape.ndim; d++)
      inner *= (size_t)w->shape.dims[d];
    dim = (size_t)w->shape.dims[axis];
    nb = group ? (dim + (size_t)group - 1) / (size_t)group : dim;
  }
  /* scale shape: [] per tensor, [dim] per axis, w's with nb on axis
   * (blocked) */
  tq_shape ss = {.ndim = 0};
  if (axis >= 0 && !group) {
    ss.ndim = 1;
    ss.dims[0] = (int64_t)dim;
  } else if (axis >= 0) {
    ss = w->shape;
    ss.dims[axis] = (int64_t)nb;
  }
  const tq_dtype qt =
      p->int_mode == TQ_INT_SYM ? TQ_DTYPE_INT8 : TQ_DTYPE_UINT8;
  out->axis = axis;
  out->group = group;
  if ((st = tq_tensor_create(ctx, qt, &w->shape, &out->q)) ||
      (st = tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &ss, &out->scale)) ||
      (st = tq_tensor_create(ctx, qt, &ss, &out->zp)))
    return st;
  const size_t n_groups = tq_tensor_numel(out->scale);
  float *v = malloc((w->numel ? w->numel : 1) * sizeof *v);
  size_t *idx = malloc((w->numel ? w->numel : 1) * sizeof *idx);
  size_t *start = calloc(n_groups + 1, sizeof *start);
  if (!v || !idx || !start) {
    free(v);
    free(idx);
    free(start);
    return tq_error_nomem(ctx);
  }
  /* The elements of each group, in order (a counting sort by group): per
   * tensor all; per axis index g of axis; blocked (o, block b, j) with
   * g = (o * nb + b) * inner + j. Group g is idx[start[g], start[g+1]). */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
      for (size_t k = 0; k < n_groups; k++) start[k + 1] += start[k];
    for (size_t o = 0; o < outer; o++)
      for (size_t d = 0; d < dim; d++)
        for (size_t j = 0; j < inner; j++) {
          const size_t g = axis < 0 ? 0
                           : !group ? d
                                    : (o * nb + d / (size_t)group) * inner + j;
          if (pass == 0)
            start[g + 1]++;
          else
            idx[start[g]++] = (o * dim + d) * inner + j;
        }
  }
  /* the fill moved each start[g] to the end of group g */
  const float *x = tq_cf32(w), *y = tq_cf32(wq);
  for (size_t gi = 0; gi < n_groups && st == TQ_OK; gi++) {
    const size_t first = gi ? start[gi - 1] : 0, n = start[gi] - first;
    for (size_t k = 0; k < n; k++) v[k] = x[idx[first + k]];
    float s;
    int64_t zp;
    tq_int_group_grid(p, v, n, &s, &zp);
    tq_f32(out->scale)[gi] = s;
    tq_store_i64(qt, out->zp->data, gi, zp);
    for (size_t k = 0; k < n; k++) {
      const size_t e = idx[first + k];
      const float want = y[e];
      const float qf = nearbyintf(want / s) + (float)zp;
      const int64_t q = (int64_t)qf;
      const int fits =
          qt == TQ_DTYPE_INT8 ? q >= -128 && q <= 127 : q >= 0 && q <= 255;
      const float back = (float)(q - zp) * s;
      if (!fits || memcmp(&back, &want, sizeof back) != 0) {
        st = tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                      "layer '%s', weight '%s' ('%s'): element %zu (%.9g) "
                      "is not on the grid of scale %.9g and zero point %lld "
                      "that ONNX DequantizeLinear would use",
                      layer, name, spec, e, (double)want, (double)s,
                      (long long)zp);
        break;
      }
      tq_store_i64(qt, out->q->data, e, q);
    }
  }
  free(v);
  free(idx);
  free(start);
  return st;
}

/* Adds the QDQ form of weight `name` to ng: initializers name_quantized,
 * name_scale, name_zero_point and a DequantizeLinear giving name_dq. */
static tq_status add_dq(tq_context *ctx, tq_graph *ng, const char *name,
                        const qdq_weight *w, int64_t opset, char *dq,
                        size_t dq_size) {
  if (w->axis >= 0 && opset < (w->group ? 21 : 13))
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "weight '%s': %s quantization needs opset %d in ONNX; "
                    "the model has opset %lld",
                    name, w->group ? "blocked" : "per-axis", w->group ? 21 : 13,
                    (long long)opset);
  const size_t len = strlen(name) + 32;
  char *qn = malloc(len), *sn = malloc(len), *zn = malloc(len),
       *id = malloc(len);
  tq_status st = qn && sn && zn && id ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK) {
    snprintf(qn, len, "%s_quantized", name);
    snprintf(sn, len, "%s_scale", name);
    snprintf(zn, len, "%s_zero_point", name);
    snprintf(id, len, "%s_DequantizeLinear", name);
    snprintf(dq, dq_size, "%s_dq", name);
  }
  if (st == TQ_OK) st = tq_graph_add_initializer(ctx, ng, qn, w->q);
  if (st == TQ_OK) st = tq_graph_add_initializer(ctx, ng, sn, w->scale);
  if (st == TQ_OK) st = tq_graph_add_initializer(ctx, ng, zn, w->zp);
  tq_attr at[2] = {{.name = "axis", .type = TQ_ATTR_INT, .i = w->axis},
                   {.name = "block_size", .type = TQ_ATTR_INT, .i = w->group}};
  const char *ins[3] = {qn, sn, zn}, *outs[1] = {dq};
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, ng, "DequantizeLinear", id, ins, 3, outs, 1, at,
                           w->axis < 0 ? 0
                           : w->group  ? 2
                                       : 1);
  free(qn);
  free(sn);
  free(zn);
  free(id);
  return st;
}

/* Refuses maps QDQ cannot carry yet: activation and intrinsic quantizers. */
static tq_status check_maps(tq_context *ctx, const tq_graph *g,
                            const tq_session *s) {
  for (size_t i = 0; i < g->n_nodes; i++) {
    tq_qmap_match m;
    if (tq_session_node_match(s, i, TQ_MAP_EXTRINSIC, &m) && m.value &&
        m.value->quantizer)
      return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                      "layer '%s': activation quantizer '%s' is not written "
                      "as QDQ yet (QuantizeLinear needs a static scale from a "
                      "calibration)",
                      g->nodes[i].id, tq_quantizer_spec(m.value->quantizer));
    if (tq_session_node_match(s, i, TQ_MAP_INTRINSIC, &m))
      return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                      "layer '%s': intrinsic quantization (products and sums "
                      "inside the layer) cannot be written as ONNX QDQ",
                      g->nodes[i].id);
  }
  return TQ_OK;
}

/* Copies node i of g into ng with its quantized weights read through
 * DequantizeLinear nodes (added first). replaced[v] counts the value's
 * uses that went through a DequantizeLinear. */
static tq_status copy_node(tq_context *ctx, const tq_graph *g,
                           const tq_session *s, size_t i, tq_graph *ng,
                           size_t *replaced) {
  const tq_node *n = &g->nodes[i];
  tq_qmap_match m;
  tq_session_node_match(s, i, TQ_MAP_WEIGHTS, &m);
  const char **ins = calloc(n->n_in ? n->n_in : 1, sizeof *ins);
  char **names = calloc(n->n_in ? n->n_in : 1, sizeof *names);
  tq_attr *at = calloc(n->n_attrs ? n->n_attrs : 1, sizeof *at);
  tq_status st = ins && names && at ? TQ_OK : tq_error_nomem(ctx);
  for (size_t k = 0; st == TQ_OK && k < n->n_in; k++) {
    ins[k] = n->in_names[k];
    const tq_tensor *wq = tq_session_quantized_weight(s, i, k);
    if (!wq || !m.matched) continue;
    const tq_tensor *w = g->inits[g->values[n->in[k]].init_index];
    qdq_weight qw = {0};
    st = weight_qdq(ctx, n->id, n->in_names[k], m.value->quantizer, w, wq, &qw);
    const size_t len = strlen(n->in_names[k]) + 8;
    if (st == TQ_OK && !(names[k] = malloc(len))) st = tq_error_nomem(ctx);
    if (st == TQ_OK)
      st = add_dq(ctx, ng, n->in_names[k], &qw, g->opset, names[k], len);
    qdq_weight_free(&qw);
    if (st == TQ_OK) {
      ins[k] = names[k];
      replaced[n->in[k]]++;
    }
  }
  for (size_t k = 0; k < n->n_attrs && at; k++) at[k] = n->attrs[k].a;
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, ng, n->op_type, n->id, ins, n->n_in,
                           (const char *const *)n->out_names, n->n_out, at,
                           n->n_attrs);
  for (size_t k = 0; names && k < n->n_in; k++) free(names[k]);
  free(names);
  free(ins);
  free(at);
  return st;
}

static tq_status build_qdq(tq_context *ctx, const tq_graph *g,
                           const tq_session *s, tq_graph *ng) {
  tq_status st = check_maps(ctx, g, s);
  if (st != TQ_OK) return st;
  tq_graph_set_opset(ng, g->opset);
  if (g->name && !(ng->name = malloc(strlen(g->name) + 1)))
    return tq_error_nomem(ctx);
  if (g->name) memcpy(ng->name, g->name, strlen(g->name) + 1);
  for (size_t i = 0; st == TQ_OK && i < g->n_inputs; i++)
    st = tq_graph_add_input_typed(ctx, ng, g->values[g->inputs[i]].name,
                                  g->input_dtypes[i], &g->input_shapes[i]);
  /* uses[v]: readers of value v; replaced[v]: those now reading its QDQ
   * form. Initializers every reader replaced are left out. */
  size_t *uses = calloc(g->n_values ? g->n_values : 1, sizeof *uses);
  size_t *replaced = calloc(g->n_values ? g->n_values : 1, sizeof *replaced);
  if (!uses || !replaced) st = tq_error_nomem(ctx);
  for (size_t i = 0; st == TQ_OK && i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) uses[g->nodes[i].in[k]]++;
  /* The float initializers some reader still reads, then the nodes (each
   * adds the QDQ form of its quantized weights before itself). */
  for (size_t i = 0; st == TQ_OK && i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i].n_in; k++)
      if (tq_session_quantized_weight(s, i, k)) replaced[g->nodes[i].in[k]]++;
  for (size_t i = 0; st == TQ_OK && i < g->n_inits; i++) {
    const int v = g->init_values[i];
    if (!uses[v] || replaced[v] < uses[v])
      st = tq_graph_add_initializer(ctx, ng, g->values[v].name, g->inits[i]);
  }
  memset(replaced, 0, (g->n_values ? g->n_values : 1) * sizeof *replaced);
  for (size_t i = 0; st == TQ_OK && i < g->n_nodes; i++)
    st = copy_node(ctx, g, s, i, ng, replaced);
  for (size_t i = 0; st == TQ_OK && i < g->n_outputs; i++)
    st = tq_graph_add_output(ctx, ng, g->values[g->outputs[i]].name);
  free(uses);
  free(replaced);
  return st;
}

tq_status tq_onnx_save_qdq(tq_context *ctx, const tq_session *s,
                           const char *path) {
  if (!ctx || !s || !path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_onnx_save_qdq: session and path are required");
  const tq_graph *g = tq_session_graph(s);
  tq_graph *ng = NULL;
  tq_status st = tq_graph_create(ctx, &ng);
  if (st == TQ_OK) st = build_qdq(ctx, g, s, ng);
  if (st == TQ_OK) st = tq_onnx_save(ctx, ng, path);
  tq_graph_destroy(ng);
  return st;
}
