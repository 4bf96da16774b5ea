#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_util.h"

int tq_cli_open_model(const char *cmd, tq_context *ctx, const char *path,
                      tq_graph **g, tq_session **s) {
  *g = NULL;
  *s = NULL;
  tq_status st = tq_onnx_load(ctx, path, g);
  if (st == TQ_OK) st = tq_session_create(ctx, *g, s);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    tq_graph_destroy(*g);
    *g = NULL;
    return 0;
  }
  return 1;
}

int tq_cli_open_quantized(const char *cmd, tq_context *ctx, const char *path,
                          const tq_cli_maps *maps, uint64_t seed, tq_graph **g,
                          tq_session **s, tq_qmap_set **set) {
  *set = NULL;
  if (!tq_cli_open_model(cmd, ctx, path, g, s) ||
      !tq_cli_maps_load(cmd, ctx, maps, set))
    return 0;
  tq_session_set_seed(*s, seed);
  /* Ranges first: setting them after the maps would quantize the weights
   * a second time (the int32 bias rule reads them). */
  return tq_cli_calib_apply(cmd, ctx, maps->calib, *s) &&
         tq_cli_maps_apply(cmd, ctx, *s, maps, *set);
}

tq_context *tq_cli_context(long threads) {
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) return NULL;
  if (threads) tq_context_set_threads(ctx, (int)threads);
  /* TQ_KERNELS=scalar|avx2|avx512|best caps the kernel set (same bits by
   * design: the tests check it by running with the reference kernels). */
  const char *kernels = getenv("TQ_KERNELS");
  if (kernels && *kernels && tq_context_set_kernels(ctx, kernels) != TQ_OK) {
    fprintf(stderr, "tq: TQ_KERNELS: %s\n", tq_context_last_error(ctx));
    tq_context_destroy(ctx);
    return NULL;
  }
  return ctx;
}

int tq_cli_conv_impls(const char *cmd, tq_context *ctx, const char *list,
                      int fast) {
  const tq_status st = tq_context_set_conv_impls(ctx, list);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  if (fast) tq_context_set_fast_conv(ctx, 1);
  return 1;
}

int tq_cli_model_data_open(const char *cmd, const char *path,
                           const tq_cli_maps *maps, const tq_cli_data *d,
                           tq_cli_model_data *md) {
  memset(md, 0, sizeof *md);
  if (!(md->ctx = tq_cli_context(d->threads))) return 0;
  tq_cli_catch_sigint();
  return tq_cli_open_quantized(cmd, md->ctx, path, maps, d->seed, &md->g,
                               &md->s, &md->set) &&
         tq_cli_open_data(cmd, md->ctx, d, &md->ds, &md->n);
}

void tq_cli_model_data_close(tq_cli_model_data *md) {
  tq_dataset_destroy(md->ds);
  tq_qmap_set_destroy(md->set);
  tq_session_destroy(md->s);
  tq_graph_destroy(md->g);
  tq_context_destroy(md->ctx);
}

void tq_cli_input_shapes(const tq_graph *g, int64_t batch, tq_shape *shapes) {
  for (size_t i = 0; i < tq_graph_input_count(g) && i < 16; i++) {
    shapes[i] = *tq_graph_input_shape(g, i);
    for (int d = 0; d < shapes[i].ndim; d++)
      if (shapes[i].dims[d] < 0) shapes[i].dims[d] = d == 0 ? batch : 1;
  }
}

static double numel(const tq_shape *s) {
  double n = 1;
  for (int d = 0; s && d < s->ndim; d++) n *= (double)s->dims[d];
  return s ? n : 0;
}

double tq_cli_node_macs(const tq_graph *g, const tq_session *s, size_t i) {
  tq_node_info info;
  if (tq_graph_node_info(g, i, &info) != TQ_OK || info.n_inputs < 2) return 0;
  const tq_shape *x = tq_session_value_shape(s, info.inputs[0]);
  const tq_shape *w = tq_session_value_shape(s, info.inputs[1]);
  const tq_shape *y = tq_session_value_shape(s, info.outputs[0]);
  if (!x || !w || !y) return 0;
  if (!strcmp(info.op_type, "Conv") && w->ndim >= 3) {
    double per_out = 1;
    for (int d = 1; d < w->ndim; d++) per_out *= (double)w->dims[d];
    return numel(y) * per_out;
  }
  if (!strcmp(info.op_type, "ConvTranspose") && w->ndim >= 3) {
    double per_in = 1;
    for (int d = 1; d < w->ndim; d++) per_in *= (double)w->dims[d];
    return numel(x) * per_in;
  }
  if (!strcmp(info.op_type, "Gemm") && w->ndim == 2 && y->ndim == 2 &&
      y->dims[1] > 0) /* B is K x N or N x K (transB): K = |B| / N */
    return numel(y) * numel(w) / (double)y->dims[1];
  if (!strcmp(info.op_type, "MatMul") && x->ndim >= 1)
    return numel(y) * (double)x->dims[x->ndim - 1];
  return 0;
}
