/* Internal: how the executor calls operators, and what operators may use.
 *
 * Every operator, built-in or user-defined, is a tq_op_def (op.h) with an
 * infer and a forward function. Built-in ones come in groups (one file per
 * family, each exporting a table) listed in registry.c; the executor looks
 * an op_type up once per node when a session is created. */
#ifndef TQ_OPS_OP_INTERNAL_H
#define TQ_OPS_OP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor_internal.h"
#include "tensorquant/op.h"
#include "tensorquant/qmap.h"
#include "tensorquant/quantizer.h"

/* Flags of built-in operators. */
enum {
  TQ_OPF_WEIGHTS = 1,    /* initializer inputs after the first are weights */
  TQ_OPF_INTRINSIC = 2,  /* supports intrinsic quantization */
  TQ_OPF_SHAPE_ONLY = 4, /* output depends on input shapes only (Shape):
                           evaluated at plan time */
  TQ_OPF_INT64 = 8,      /* forward handles int64 tensors (plan time) */
  TQ_OPF_INPLACE = 16,   /* elementwise: each output element is computed
                            from the input elements at its own index only,
                            so the output may share the buffer of an input
                            of its shape and dtype */
  TQ_OPF_POST_RELU = 32, /* can apply a following Relu to its output while
                            the output is still in the caches
                            (tq_op_call.post_relu) */
};

typedef struct tq_op_entry {
  tq_op_def def;
  unsigned flags;
  int min_inputs, max_inputs; /* max -1: unbounded (Concat) */
  int min_outputs, max_outputs;
} tq_op_entry;

/* A node attribute as stored by the graph (owned copies). */
typedef struct tq_attr_store {
  tq_attr a; /* pointers inside point to the copies below */
  char *name, *s;
  int64_t *ints;
  float *floats;
  tq_tensor *t;
} tq_attr_store;

/* Data an operator derives from its constant inputs (transformed or
 * packed weights), kept by the session between runs of the node. The
 * session frees it when the weights may have changed (new maps, a
 * training step) and when it is destroyed. */
typedef struct tq_op_cache {
  void *data;
  void (*free_data)(void *data);
} tq_op_cache;

/* What an operator sees during one call. */
struct tq_op_call {
  tq_context *ctx;
  const char *node_id;
  const char *op_type;
  int64_t opset; /* the graph's default-domain opset */
  const tq_attr_store *attrs;
  size_t n_attrs;
  const tq_tensor *const *in; /* NULL entries: absent optional inputs */
  size_t n_in;
  tq_tensor **out;
  size_t n_out;
  /* Intrinsic quantization of this node, or NULL (TQ_OPF_INTRINSIC only):
   * product/sum/accumulator quantizers as in DESIGN.md 3. */
  const tq_qmap_value *intrinsic;
  uint64_t seed;          /* stochastic rounding inside the op (intrinsic) */
  uint64_t stream;        /* the node's stream */
  uint64_t sample_offset; /* index of the batch's first sample */
  int threads;
  int plan_time; /* 1: evaluated while planning (inputs are constants) */
  /* Training (src/train): 1 for a training-mode forward or a backward:
   * BatchNormalization normalizes with batch statistics and updates its
   * running statistics, Dropout drops. */
  int training;
  /* Training forward only: mutable views of the inputs that carry state a
   * training forward updates (BatchNormalization: inputs 3 and 4, the
   * running mean and variance); NULL or NULL entries otherwise. */
  tq_tensor *const *state;
  /* The node's cache, or NULL (then derive and free per call). Only set
   * when every input after the first is a constant of the session. */
  tq_op_cache *cache;
  void *user;
  /* TQ_OPF_POST_RELU operators: post_relu asks for Relu (tq_relu_f) on
   * output 0 after it is computed; the operator sets post_relu_done when
   * it did so (some of its paths may not). */
  int post_relu;
  int post_relu_done;
};

/* Relu as the Relu operator computes it: -0 becomes +0, NaN stays NaN.
 * Operators applying a fused Relu (post_relu) use exactly this. */
static inline float tq_relu_f(float v) {
  return v > 0.0f ? v : (v != v ? v : 0.0f);
}
/* tq_relu_f on n floats in place. */
static inline void tq_relu_row(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = tq_relu_f(x[i]);
}

/* ---- attributes (NULL-safe: absent attributes give the default) --------*/
const tq_attr *tq_call_attr(const tq_op_call *c, const char *name);
int64_t tq_attr_int(const tq_op_call *c, const char *name, int64_t dflt);
float tq_attr_float(const tq_op_call *c, const char *name, float dflt);
const char *tq_attr_string(const tq_op_call *c, const char *name,
                           const char *dflt);
/* Integer list: *n = 0 and NULL when absent. */
const int64_t *tq_attr_ints(const tq_op_call *c, const char *name, size_t *n);

/* ---- errors and outputs
 * ----------------------------------------------------*/
/* Records "node <id> (<op>): message" and returns status. */
tq_status tq_call_error(tq_op_call *c, tq_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* In infer: declares output i (allocated by the executor). */
tq_status tq_call_set_output(tq_op_call *c, size_t i, tq_dtype dtype,
                             const tq_shape *shape);
/* Normalizes a possibly negative axis against rank; error if out of range. */
tq_status tq_call_axis(tq_op_call *c, int64_t axis, int rank, int *out);

/* ---- the registry
 * ----------------------------------------------------------*/
/* The built-in operator called op_type, or NULL. */
const tq_op_entry *tq_builtin_op(const char *op_type);
/* All built-in operators (for docs and `tq info`). */
size_t tq_builtin_op_count(void);
const tq_op_entry *tq_builtin_op_at(size_t i);

/* Groups of built-in operators, one per file in src/ops/. */
extern const tq_op_entry tq_ops_nn[]; /* conv.c, gemm.c, pool.c, norm.c */
extern const size_t tq_ops_nn_count;
extern const tq_op_entry tq_ops_elementwise[]; /* elementwise.c, activation.c */
extern const size_t tq_ops_elementwise_count;
extern const tq_op_entry tq_ops_shape[]; /* shape.c, tensor ops */
extern const size_t tq_ops_shape_count;

/* ---- backward (training) ------------------------------------------------- */

/* Backward of one node. c is the forward call as it ran (same inputs - the
 * quantized weights where a weights map applies -, same attributes, seed,
 * stream and sample_offset, training = 1); c->out hold the node's float
 * outputs before extrinsic quantization. gout[k] is the gradient of the
 * loss with respect to output k (never NULL: zeros where nothing flows).
 * For every k with gin[k] != NULL, writes the gradient with respect to
 * input k into gin[k] (float32, already shaped like input k; overwrite, do
 * not accumulate). gin[k] is NULL for inputs that need no gradient (absent,
 * int64, constants). Deterministic: same bits at any thread count. */
typedef tq_status (*tq_op_backward_fn)(tq_op_call *c,
                                       const tq_tensor *const *gout,
                                       tq_tensor **gin);

typedef struct tq_backward_entry {
  const char *op_type;
  tq_op_backward_fn backward;
  /* Bit k: input k is state a training forward updates (through
   * tq_op_call.state), not a trainable parameter (BatchNormalization's
   * running mean and variance). */
  unsigned state_inputs;
} tq_backward_entry;

/* The backward entry of a built-in op_type, or NULL when it has none. */
const tq_backward_entry *tq_builtin_backward(const char *op_type);

/* Backward tables, one per group (src/ops/backward_*.c). */
extern const tq_backward_entry tq_backward_nn[]; /* backward_nn.c */
extern const size_t tq_backward_nn_count;
extern const tq_backward_entry tq_backward_elementwise[];
extern const size_t tq_backward_elementwise_count;
extern const tq_backward_entry tq_backward_shape[];
extern const size_t tq_backward_shape_count;

/* ---- intrinsic quantization (src/ops/intrinsic.c)
 * --------------------------*/

/* One output element's arithmetic, for out = A (M x K) times B (K x N):
 * out[m][n] = sum_k A[m*lda + k] * B[k*ldb + n], products in k order, then
 * bias[m*bias_rs + n*bias_cs] (bias may be NULL), per DESIGN.md 3 and the
 * quantizers of iq (product, sum, accumulator; NULLs = exact/absent).
 * Random numbers of stochastic quantizers: seed, stream and element index
 * index_base + (m*N + n)*(K+1) + k (k = K for the bias step). Results are
 * the same bits at any thread count. */
typedef struct tq_intrinsic_gemm_args {
  int M, N, K;
  const float *A;
  size_t lda;
  const float *B;
  size_t ldb;
  const float *bias;
  ptrdiff_t bias_rs, bias_cs;
  float *C;
  size_t ldc;
  const tq_qmap_value *iq;
  uint64_t seed, stream, index_base;
  int threads;
} tq_intrinsic_gemm_args;

/* Fast version (vectorized, exactness shortcuts). */
tq_status tq_intrinsic_gemm(tq_context *ctx, const tq_intrinsic_gemm_args *a);
/* Scalar reference: the definition the fast one must equal bit for bit. */
tq_status tq_intrinsic_gemm_ref(tq_context *ctx,
                                const tq_intrinsic_gemm_args *a);

#endif
