/* Internal: the families of built-in operators, one file each under
 * src/ops/, each defining an array of descriptors tq_ops_<family> and its
 * length tq_ops_<family>_count. registry.c lists them all. */
#ifndef TQ_OPS_OP_FAMILIES_H
#define TQ_OPS_OP_FAMILIES_H

#include "ops/op_internal.h"

/* X(family) for each family, in the order `tq info` and the docs list
 * operators. */
#define TQ_OP_FAMILIES(X) \
  X(conv)                 \
  X(gemm)                 \
  X(pool)                 \
  X(norm)                 \
  X(binary)               \
  X(variadic)             \
  X(unary)                \
  X(identity)             \
  X(cast)                 \
  X(where)                \
  X(activation)           \
  X(softmax)              \
  X(shape)                \
  X(constant)             \
  X(reshape)              \
  X(transpose)            \
  X(concat)               \
  X(slice)                \
  X(gather)               \
  X(expand)               \
  X(pad)                  \
  X(reduce)               \
  X(resize)               \
  X(cumsum)               \
  X(argmax)               \
  X(classify)             \
  X(trilu)                \
  X(elements)             \
  X(topk)                 \
  X(einsum)               \
  X(attention)            \
  X(rotary)               \
  X(contrib_gelu)          \
  X(qdq)                  \
  X(qlinear)

#define TQ_OP_FAMILY_DECLARE(family)         \
  extern const tq_op_desc tq_ops_##family[]; \
  extern const size_t tq_ops_##family##_count;
TQ_OP_FAMILIES(TQ_OP_FAMILY_DECLARE)
#undef TQ_OP_FAMILY_DECLARE

/* The fields of a default-domain descriptor (opsets 1 and up; max_opset
 * narrows when a later opset changes the operator). */
#define TQ_OP_ONNX(op_id, op_name)                                \
  .id = (op_id), .name = (op_name), .domain = "", .min_opset = 1, \
  .max_opset = TQ_OPSET_OPEN
/* The same for an operator that first appeared in opset `from`. */
#define TQ_OP_ONNX_FROM(op_id, op_name, from)                          \
  .id = (op_id), .name = (op_name), .domain = "", .min_opset = (from), \
  .max_opset = TQ_OPSET_OPEN
/* Input and output counts (max_in -1: unbounded). */
#define TQ_OP_ARITY(min_in, max_in, min_out, max_out)                       \
  .min_inputs = (min_in), .max_inputs = (max_in), .min_outputs = (min_out), \
  .max_outputs = (max_out)
/* The dtypes of the inputs (tq_op_desc.in_types): one TQ_DTM_* mask per
 * input, the last for the inputs after it. */
#define TQ_OP_TYPES(...)                       \
  .in_types = (const unsigned[]){__VA_ARGS__}, \
  .n_in_types = sizeof((const unsigned[]){__VA_ARGS__}) / sizeof(unsigned)
/* A params struct and the function that fills it. */
#define TQ_OP_PARAMS(type, parse_fn) \
  .params_size = sizeof(type), .parse = (parse_fn)

/* Element counts of a descriptor array. */
#define TQ_OP_COUNT_OF(family) (sizeof family / sizeof family[0])

#endif
