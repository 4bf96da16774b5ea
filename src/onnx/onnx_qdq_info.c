/* How a quantization node of an imported model reads as one of our
 * quantizers (tq_onnx_qdq_describe; docs/onnx.md "Quantized models"). A
 * QuantizeLinear followed by DequantizeLinear is the quantizer
 * `int,B,sym|asym|unsigned[,axis=K[,group=G]],static` whose static grid is
 * the pair's scale and zero point (asym: ONNX's int8 grid with zero point z
 * is our 0..255 grid with zero point z + 128, the same values); float8
 * pairs are `fp8e4m3,sat` or `fp8e5m2[,sat]` of x / scale. */
#include <stdio.h>
#include <string.h>

#include "core/dtype_internal.h"
#include "graph/graph_internal.h"
#include "ops/qdq_internal.h"
#include "tensorquant/onnx.h"

static int64_t attr_int(const tq_node *n, const char *name, int64_t dflt) {
  for (size_t i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].a.name, name) && n->attrs[i].a.type == TQ_ATTR_INT)
      return n->attrs[i].a.i;
  return dflt;
}

static const tq_tensor *input_init(const tq_graph *g, const tq_node *n,
                                   size_t k) {
  return k < n->n_in && n->in[k] >= 0 && g->values[n->in[k]].init_index >= 0
             ? g->inits[g->values[n->in[k]].init_index]
             : NULL;
}

/* The quantized type of a Quantize/DequantizeLinear node: output_dtype,
 * else the zero point's (or the quantized input's) dtype, else uint8. */
static const tq_qtype *node_qtype(const tq_graph *g, const tq_node *n) {
  const int64_t code = attr_int(n, "output_dtype", 0);
  if (code) return tq_qtype_of(code);
  const tq_tensor *zp = input_init(g, n, 2);
  if (zp) return tq_qtype_of_dtype(zp->dtype);
  const tq_tensor *x = input_init(g, n, 0);
  if (x && strcmp(n->op_type, "DequantizeLinear") == 0)
    return tq_qtype_of_dtype(x->dtype);
  return tq_qtype_of(TQ_ONNX_UINT8);
}

/* Writes the spec and the grid of node n (scale and zero point inputs 1
 * and 2) into buf. */
static void describe(const tq_graph *g, const tq_node *n, const tq_qtype *t,
                     const char *what, char *buf, size_t size) {
  const tq_tensor *s = input_init(g, n, 1), *zp = input_init(g, n, 2);
  if (!s) {
    snprintf(buf, size, "%s %s with a computed scale", what, t->name);
    return;
  }
  const int64_t block = attr_int(n, "block_size", 0);
  const int64_t axis = attr_int(n, "axis", 1);
  char layout[64] = "";
  if (block > 0)
    snprintf(layout, sizeof layout, ",axis=%lld,group=%lld", (long long)axis,
             (long long)block);
  else if (s->numel > 1)
    snprintf(layout, sizeof layout, ",axis=%lld", (long long)axis);
  const float *sv = (const float *)s->data;
  float lo = sv[0], hi = sv[0];
  int zero_zp = 1;
  for (size_t i = 0; i < s->numel; i++) {
    lo = sv[i] < lo ? sv[i] : lo;
    hi = sv[i] > hi ? sv[i] : hi;
    if (zp && !t->is_float) zero_zp &= tq_load_i64(zp->dtype, zp->data, i) == 0;
  }
  char grid[96];
  if (s->numel == 1)
    snprintf(grid, sizeof grid, "scale %.9g, zero point %lld", (double)sv[0],
             zp && !t->is_float ? (long long)tq_load_i64(zp->dtype, zp->data, 0)
                                : 0LL);
  else
    snprintf(grid, sizeof grid, "%zu scales in [%.6g, %.6g]%s", s->numel,
             (double)lo, (double)hi, zero_zp ? ", zero points 0" : "");
  if (t->is_float) {
    snprintf(buf, size, "%s %s,scaled%s,static (ONNX %s, %s)", what,
             t->onnx == TQ_ONNX_FLOAT8E4M3FN ? "fp8e4m3,sat" : "fp8e5m2,sat",
             layout, t->name, grid);
    return;
  }
  const char *mode = !zero_zp ? "asym" : t->qmin < 0 ? "sym" : "unsigned";
  snprintf(buf, size, "%s int,%d,%s%s,static (ONNX %s, %s)", what, t->bits,
           mode, layout, t->name, grid);
}

int tq_onnx_qdq_describe(const tq_graph *g, size_t node, char *buf,
                         size_t size) {
  if (!g || node >= g->n_nodes || !buf || !size) return 0;
  const tq_node *n = &g->nodes[node];
  const int is_q = !strcmp(n->op_type, "QuantizeLinear");
  const int is_dq = !strcmp(n->op_type, "DequantizeLinear");
  if (!is_q && !is_dq) return 0;
  const tq_qtype *t = node_qtype(g, n);
  if (!t) return 0;
  if (is_dq) {
    /* Quantized weights: a DequantizeLinear of an initializer. */
    if (!input_init(g, n, 0)) return 0;
    describe(g, n, t, "weights", buf, size);
    return 1;
  }
  /* A pair: every reader of the output is a DequantizeLinear. */
  const int v = n->out[0];
  size_t readers = 0;
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] == v) {
        if (strcmp(g->nodes[i].op_type, "DequantizeLinear") != 0) return 0;
        readers++;
      }
  if (!readers) return 0;
  describe(g, n, t, "QDQ", buf, size);
  return 1;
}
