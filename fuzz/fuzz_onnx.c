/* libFuzzer target: arbitrary bytes through the ONNX loader.
 *
 * Besides crashes, leaks and sanitizer reports (stack exhaustion from deep
 * nesting included), it checks the loader's contract: on success a graph
 * whose every node, input and initializer can be inspected, on failure no
 * graph and a message that names the source. Seeds: fuzz/corpus/onnx. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensorquant/graph.h"
#include "tensorquant/onnx.h"
#include "tensorquant/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len);

/* Reads every byte the graph claims to hold, so that short allocations and
 * dangling names show up under AddressSanitizer. */
static void walk(const tq_graph *g) {
  uint32_t acc = 0;
  for (size_t i = 0; i < tq_graph_node_count(g); i++) {
    tq_node_info info;
    if (tq_graph_node_info(g, i, &info) != TQ_OK) __builtin_trap();
    acc ^= (uint32_t)strlen(info.id) ^ (uint32_t)strlen(info.op_type);
    for (size_t k = 0; k < info.n_inputs; k++)
      acc ^= (uint32_t)strlen(info.inputs[k]);
    for (size_t k = 0; k < info.n_outputs; k++)
      acc ^= (uint32_t)strlen(info.outputs[k]);
    for (size_t k = 0; k < info.n_weights; k++)
      if (!tq_graph_initializer(g, info.weights[k])) __builtin_trap();
  }
  for (size_t i = 0; i < tq_graph_input_count(g); i++) {
    const tq_shape *s = tq_graph_input_shape(g, i);
    if (!s || s->ndim < 0 || s->ndim > TQ_TENSOR_MAX_DIMS) __builtin_trap();
    acc ^= (uint32_t)strlen(tq_graph_input_name(g, i));
  }
  for (size_t i = 0; i < tq_graph_initializer_count(g); i++) {
    const tq_tensor *t =
        tq_graph_initializer(g, tq_graph_initializer_name(g, i));
    if (!t) __builtin_trap();
    size_t bytes_n = tq_tensor_numel(t) * tq_dtype_size(tq_tensor_dtype(t));
    const unsigned char *p = tq_tensor_cdata(t);
    for (size_t k = 0; k < bytes_n; k++) acc += p[k];
  }
  volatile uint32_t sink = acc;
  (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len) {
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return 0;
  tq_graph *g = NULL;
  tq_status st = tq_onnx_parse(ctx, bytes, len, "fuzz.onnx", &g);
  if (st == TQ_OK) {
    if (!g) __builtin_trap();
    walk(g);
  } else if (g || (st != TQ_ERR_NO_MEMORY &&
                   !strstr(tq_context_last_error(ctx), "fuzz.onnx"))) {
    __builtin_trap();
  }
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
  return 0;
}
