/* User-defined operators.
 *
 * Register an operator on a graph and use its op_type in tq_graph_add_node
 * like a built-in one. The executor quantizes its outputs (extrinsic map)
 * and, when `weights` is set, its initializer inputs after the first
 * (weights map), with no code in the operator.
 *
 * During infer and forward the operator sees the call through the accessor
 * functions below; the pointers they return are valid for that call only.
 * Thread-safety: forward may run concurrently for different sessions; keep
 * user state read-only or synchronised. */
#ifndef TENSORQUANT_OP_H
#define TENSORQUANT_OP_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "graph.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_op_call tq_op_call;

typedef struct tq_op_def {
  const char *op_type; /* the name nodes use */
  int weights;         /* 1: initializer inputs after the first are weights */
  /* Sets every output's dtype and shape (tq_op_set_output) from the
   * inputs' shapes (and, for int64 inputs, their values). */
  tq_status (*infer)(tq_op_call *call);
  /* Computes the outputs, which are allocated with the inferred shapes. */
  tq_status (*forward)(tq_op_call *call);
  void *user; /* passed through: tq_op_user() */
} tq_op_def;

/* Registers def (copied) on g. Fails if op_type is already defined. */
TQ_API tq_status tq_graph_register_op(tq_context *ctx, tq_graph *g,
                                      const tq_op_def *def);

TQ_API size_t tq_op_input_count(const tq_op_call *call);
/* Input i, or NULL when that optional input is absent. */
TQ_API const tq_tensor *tq_op_input(const tq_op_call *call, size_t i);
TQ_API size_t tq_op_output_count(const tq_op_call *call);
TQ_API tq_tensor *tq_op_output(tq_op_call *call, size_t i);
/* In infer: declares output i. */
TQ_API tq_status tq_op_set_output(tq_op_call *call, size_t i, tq_dtype dtype,
                                  const tq_shape *shape);
/* The node's attribute called name, or NULL. */
TQ_API const tq_attr *tq_op_attr(const tq_op_call *call, const char *name);
TQ_API const char *tq_op_node_id(const tq_op_call *call);
TQ_API void *tq_op_user(const tq_op_call *call);
/* Records an error naming the node; returns status for `return`. */
TQ_API tq_status tq_op_error(tq_op_call *call, tq_status status,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
