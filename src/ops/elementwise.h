/* Internal: broadcasting and chunked loops shared by the tensor operators
 * (elementwise.c, activation.c, shape.c), and the operator functions that
 * elementwise_table.c lists.
 *
 * Operators of one family share an infer/forward pair and tell their kind
 * apart by c->op_type (looked up once per call), which keeps the table
 * short and lets one broadcasting loop serve every binary operator. */
#ifndef TQ_OPS_ELEMENTWISE_H
#define TQ_OPS_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op_internal.h"

/* ---- shared machinery (elementwise.c)
 * --------------------------------------*/

/* numpy (multidirectional) broadcasting of shapes a and b into *out; an
 * error naming both shapes when they do not fit. what names the operands in
 * the message ("inputs"). */
tq_status tq_ew_broadcast_shape(tq_op_call *c, const tq_shape *a,
                                const tq_shape *b, const char *what,
                                tq_shape *out);

/* Copies src (shape src_shape, broadcastable to dst_shape: every dim equal
 * or 1) into the contiguous dst of shape dst_shape; esize bytes per
 * element. */
void tq_ew_broadcast_copy(const void *src, const tq_shape *src_shape, void *dst,
                          const tq_shape *dst_shape, size_t esize, int threads);

/* Calls fn(arg, first, len) on consecutive chunks covering [0, n), in
 * parallel when n spans several chunks. Chunk boundaries depend on n only. */
typedef void (*tq_ew_chunk_fn)(void *arg, size_t first, size_t len);
void tq_ew_for_chunks(size_t n, int threads, tq_ew_chunk_fn fn, void *arg);

/* Threads an operator call may use (at least 1). */
int tq_ew_threads(const tq_op_call *c);

/* The name of a dtype for messages ("float32", "int64"). */
const char *tq_ew_dtype_name(tq_dtype dtype);

/* Moves the elements of a dims-shaped (row-major, nd <= 2 * TQ_MAX_DIMS)
 * index space between the contiguous array contig and the positions
 * base + sum_d i_d * strides_d of strided: gather (scatter 0: contig[i] =
 * strided[...]; Slice, Transpose, Tile and their backward) or scatter
 * (scatter 1; the strided positions must be distinct). Elements of es
 * bytes (4 or 8). Dimensions that continue each other are merged first so
 * the inner loop is as long as possible; rows are split over threads by
 * the shape only. */
void tq_strided_move(void *strided, int64_t base, const int64_t *strides,
                     const int64_t *dims, int nd, void *contig, size_t es,
                     int scatter, int threads);

/* ---- elementwise.c
 * ---------------------------------------------------------*/

/* Add Sub Mul Div Pow Mod Equal Less Greater LessOrEqual GreaterOrEqual
 * And Or Xor: two inputs, numpy broadcasting. */
tq_status tq_ew_binary_infer(tq_op_call *c);
tq_status tq_ew_binary_forward(tq_op_call *c);
/* Sum Mean Min Max: one or more inputs, numpy broadcasting. */
tq_status tq_ew_variadic_infer(tq_op_call *c);
tq_status tq_ew_variadic_forward(tq_op_call *c);
/* Sqrt Exp Log Abs Neg Reciprocal Floor Ceil Round Sign Erf Not ... */
tq_status tq_ew_unary_infer(tq_op_call *c);
tq_status tq_ew_unary_forward(tq_op_call *c);
/* Identity, Dropout (inference: identity). */
tq_status tq_ew_identity_infer(tq_op_call *c);
tq_status tq_ew_identity_forward(tq_op_call *c);
/* Cast, CastLike. */
tq_status tq_ew_cast_infer(tq_op_call *c);
tq_status tq_ew_cast_forward(tq_op_call *c);
/* Where(condition, x, y). */
tq_status tq_ew_where_infer(tq_op_call *c);
tq_status tq_ew_where_forward(tq_op_call *c);
/* PRelu: slope broadcast to the input (unidirectional); it shares the
 * binary broadcasting loop, so it lives here rather than in activation.c. */
tq_status tq_act_prelu_infer(tq_op_call *c);
tq_status tq_act_prelu_forward(tq_op_call *c);

/* ---- activation.c
 * ----------------------------------------------------------*/

/* Relu LeakyRelu Sigmoid Tanh HardSigmoid HardSwish Elu Selu Celu Softplus
 * Softsign Gelu Mish ThresholdedRelu: one float input, attributes. */
tq_status tq_act_unary_infer(tq_op_call *c);
tq_status tq_act_unary_forward(tq_op_call *c);
/* The parameters an activation operator (Relu ... ThresholdedRelu)
 * computes with: its attributes or their ONNX defaults (HardSwish's fixed
 * constants), and whether Gelu uses the tanh approximation. Returns -1
 * when op_type is not one of them. Shared by forward and backward. */
int tq_act_attrs(const tq_op_call *c, float *alpha, float *beta, float *gamma,
                 int *gelu_tanh);
/* Clip: bounds from attributes (opset < 11) or inputs (opset >= 11). */
tq_status tq_act_clip_infer(tq_op_call *c);
tq_status tq_act_clip_forward(tq_op_call *c);
/* Softmax, LogSoftmax, Hardmax (axis semantics depend on the opset). */
tq_status tq_act_softmax_infer(tq_op_call *c);
tq_status tq_act_softmax_forward(tq_op_call *c);

#endif
