/* Internal: how the executor calls operators, and what operators may use.
 *
 * Every operator is one descriptor (tq_op_desc): name, domain and opset
 * range, arity, flags, and the functions that parse its attributes into a
 * typed params struct (once, when a session plans the node), infer its
 * outputs, compute them and their gradients. Built-in descriptors live in
 * one file per operator family and are listed in registry.c; user-defined
 * operators (op.h) are wrapped in a descriptor with id TQ_OP_USER. */
#ifndef TQ_OPS_OP_INTERNAL_H
#define TQ_OPS_OP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype_internal.h"
#include "core/tensor_internal.h"
#include "ops/op_ids.h"
#include "tensorquant/op.h"
#include "tensorquant/qmap.h"
#include "tensorquant/quantizer.h"

/* Flags of operators. */
enum {
  TQ_OPF_WEIGHTS = 1,    /* initializer inputs after the first are weights */
  TQ_OPF_INTRINSIC = 2,  /* supports intrinsic quantization */
  TQ_OPF_SHAPE_ONLY = 4, /* output depends on input shapes only (Shape):
                           evaluated at plan time */
  TQ_OPF_INPLACE = 16,   /* elementwise: each output element is computed
                            from the input elements at its own index only,
                            so the output may share the buffer of an input
                            of its shape and dtype */
  TQ_OPF_POST_RELU = 32, /* can apply a following Relu to its output while
                            the output is still in the caches
                            (tq_op_call.post_relu) */
};

/* The last opset of descriptors that no later opset changes. */
#define TQ_OPSET_OPEN INT32_MAX

/* A node attribute as stored by the graph (owned copies). */
typedef struct tq_attr_store {
  tq_attr a; /* pointers inside point to the copies below */
  char *name, *s;
  int64_t *ints;
  float *floats;
  tq_tensor *t;
} tq_attr_store;

/* The most inputs whose shapes a tq_op_cache key records. */
#define TQ_OP_CACHE_INPUTS 4

/* Data an operator derives from its constant inputs (transformed or
 * packed weights), kept by the session between runs of the node. The
 * session frees it when the weights may have changed (new maps, a
 * training step) and when it is destroyed. It is keyed by what it was
 * prepared for, because a re-plan (other input shapes) or another
 * implementation choice (a changed context preference) must not reuse it:
 * use tq_op_cache_get and tq_op_cache_put, not the fields. */
typedef struct tq_op_cache {
  void *data; /* NULL: empty */
  void (*free_data)(void *data);
  /* the key: which of the operator's implementations prepared data (an
   * index the operator defines), the shapes of all inputs (ndim -1 for
   * absent ones) and a copy of the parsed attributes (params) */
  int impl;
  size_t n_shapes;
  tq_shape shapes[TQ_OP_CACHE_INPUTS];
  void *params;
  size_t params_size;
} tq_op_cache;

typedef struct tq_op_desc tq_op_desc;

/* What an operator sees during one call. */
struct tq_op_call {
  tq_context *ctx;
  const tq_op_desc *desc; /* the node's operator */
  /* The node's attributes as desc->parse turned them into
   * desc->params_size bytes (NULL when it has none): forward and backward
   * read the same struct, so they cannot disagree. */
  const void *params;
  const char *node_id;
  const char *op_type; /* for messages */
  int64_t opset;       /* the graph's default-domain opset */
  /* The raw attributes: user-defined operators read them (tq_op_attr);
   * built-in ones read params. */
  const tq_attr_store *attrs;
  size_t n_attrs;
  const tq_tensor *const *in; /* NULL entries: absent optional inputs */
  size_t n_in;
  tq_tensor **out;
  size_t n_out;
  /* Intrinsic quantization of this node, or NULL (TQ_OPF_INTRINSIC only):
   * product/sum/accumulator quantizers as in docs/design.md §3. */
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
  /* Set by forward in operators with several implementations (Conv's
   * list): the name of the one that computed the outputs (static). */
  const char *impl;
};

/* What parse sees: one node's attributes, before any input is known. */
typedef struct tq_op_parse {
  tq_context *ctx;
  const tq_op_desc *desc;
  const char *node_id;
  const char *op_type;
  int64_t opset; /* the graph's default-domain opset */
  const tq_attr_store *attrs;
  size_t n_attrs;
  size_t n_in, n_out; /* the node's input and output counts */
} tq_op_parse;

/* Backward of one node. c is the forward call as it ran (same inputs - the
 * quantized weights where a weights map applies -, same params, seed,
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

/* One operator: what the executor, the trainer and the importers need to
 * know about it, in one place. */
struct tq_op_desc {
  tq_op_id id;
  const char *name;           /* ONNX op_type */
  const char *domain;         /* "" (ai.onnx); "com.microsoft" etc. later */
  int min_opset, max_opset;   /* the opsets this descriptor implements */
  int min_inputs, max_inputs; /* max -1: unbounded (Concat) */
  int min_outputs, max_outputs;
  unsigned flags; /* TQ_OPF_* */
  /* The dtypes input k may have (a mask of TQ_DTM_* bits): in_types[k],
   * the last entry for every input after it. n_in_types 0: float32 only
   * for built-in operators (Conv, Gemm, pooling, norms, activations...),
   * any dtype for user-defined ones (they check for themselves). What the
   * operator computes in: a session checks them when it plans the node,
   * before infer (tq_op_check_types), at plan time and at run time alike.
   * Rules between inputs (Add's A and B alike) are infer's. */
  const unsigned *in_types;
  size_t n_in_types;
  size_t params_size; /* bytes of the typed params struct; 0: none */
  /* Attributes -> params (zeroed before the call), once per node when a
   * session plans it; errors name the node and the attribute. Present iff
   * params_size > 0. */
  tq_status (*parse)(const tq_op_parse *p, void *params);
  /* Sets every output's dtype and shape from the inputs (and params). */
  tq_status (*infer)(tq_op_call *c);
  /* Computes the outputs, allocated with the inferred shapes. */
  tq_status (*forward)(tq_op_call *c);
  tq_op_backward_fn backward; /* NULL: no backward */
  /* Bit k: input k is state a training forward updates (through
   * tq_op_call.state), not a trainable parameter (BatchNormalization's
   * running mean and variance). */
  unsigned state_inputs;
  void *user; /* user-defined operators: tq_op_def.user */
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

/* ---- attributes (parse; NULL-safe: absent attributes give the default) -*/
const tq_attr *tq_parse_attr(const tq_op_parse *p, const char *name);
/* The value of an INT attribute; dflt when absent or of another type. */
int64_t tq_parse_int(const tq_op_parse *p, const char *name, int64_t dflt);
/* The value of a FLOAT (or INT) attribute; dflt otherwise. */
float tq_parse_float(const tq_op_parse *p, const char *name, float dflt);
/* The value of a STRING attribute; dflt otherwise. */
const char *tq_parse_string(const tq_op_parse *p, const char *name,
                            const char *dflt);
/* An INTS attribute's values; *n = 0 and NULL when absent or of another
 * type. They live as long as the graph. */
const int64_t *tq_parse_ints(const tq_op_parse *p, const char *name, size_t *n);
/* The index of s in names[0..n), or -1 (string attributes as enums). */
int tq_parse_index(const char *s, const char *const *names, int n);
/* Records "node '<id>' (<op>): message" and returns status. */
tq_status tq_parse_error(const tq_op_parse *p, tq_status status,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses desc's params for one node: *params is a new block of
 * desc->params_size bytes (free() it; NULL when the descriptor has none). */
tq_status tq_op_parse_params(const tq_op_parse *p, void **params);

/* For calls built by hand (tests): parses c->attrs for c->desc like a
 * session does, points c->params at the result and returns it in *params
 * (free() it after the call). */
tq_status tq_op_call_parse(tq_op_call *c, void **params);

/* ---- the operator cache (op_cache.c)
 * ----------------------------------------------*/
/* The cache's data if implementation impl prepared it for exactly c's
 * input shapes and params; NULL otherwise (or when cache is NULL). */
void *tq_op_cache_get(const tq_op_cache *cache, int impl, const tq_op_call *c);
/* Replaces what cache holds by data (non-NULL; freed later with free_data)
 * as prepared by impl for c's input shapes and params. Returns 0 when it
 * cannot record the key (more than TQ_OP_CACHE_INPUTS inputs, no memory):
 * then the cache is empty and the caller still owns data. */
int tq_op_cache_put(tq_op_cache *cache, int impl, const tq_op_call *c,
                    void *data, void (*free_data)(void *data));
/* Frees the data and forgets the key. */
void tq_op_cache_clear(tq_op_cache *cache);

/* ---- errors and outputs
 * ----------------------------------------------------*/
/* Records "node '<id>' (<op>): message" and returns status. */
tq_status tq_call_error(tq_op_call *c, tq_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* In infer: declares output i (allocated by the executor). */
tq_status tq_call_set_output(tq_op_call *c, size_t i, tq_dtype dtype,
                             const tq_shape *shape);
/* Checks the dtype of every input present against c->desc->in_types: an
 * error names the node, the input (its value name from names, when not
 * NULL), its dtype and the dtypes the operator takes there. */
tq_status tq_op_check_types(tq_op_call *c, const char *const *names);
/* Normalizes a possibly negative axis against rank; error if out of range. */
tq_status tq_call_axis(tq_op_call *c, int64_t axis, int rank, int *out);

/* ---- the registry (registry.c)
 * ---------------------------------------------*/
/* ONNX Runtime's contrib domain (QOperator ops of quantized models). */
#define TQ_DOMAIN_MS "com.microsoft"

/* Whether domain names the default ONNX domain: NULL, "" or "ai.onnx" (ONNX
 * writes it either way). */
int tq_op_domain_is_default(const char *domain);

/* The built-in operator called name in domain (NULL, "" or "ai.onnx": the
 * default domain) that implements opset, or NULL. */
const tq_op_desc *tq_op_lookup(const char *domain, const char *name,
                               int64_t opset);
/* All built-in operators (for docs, `tq info` and tests). */
size_t tq_builtin_op_count(void);
const tq_op_desc *tq_builtin_op_at(size_t i);

/* ---- intrinsic quantization (src/ops/intrinsic.c)
 * --------------------------*/

/* One output element's arithmetic, for out = A (M x K) times B (K x N):
 * out[m][n] = sum_k A[m*lda + k] * B[k*ldb + n], products in k order, then
 * bias[m*bias_rs + n*bias_cs] (bias may be NULL), per docs/design.md §3 and the
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
