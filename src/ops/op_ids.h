/* Internal: the ID of every built-in operator, grouped by the family file
 * that defines its descriptor. The executor and the trainer test and
 * dispatch on these (tq_op_desc.id), never on op_type strings. */
#ifndef TQ_OPS_OP_IDS_H
#define TQ_OPS_OP_IDS_H

typedef enum tq_op_id {
  TQ_OP_USER = 0, /* a user-defined operator (tq_graph_register_op) */
  /* conv.c */
  TQ_OP_CONV,
  TQ_OP_CONV_TRANSPOSE,
  /* gemm.c */
  TQ_OP_GEMM,
  TQ_OP_MATMUL,
  /* pool.c */
  TQ_OP_MAX_POOL,
  TQ_OP_AVERAGE_POOL,
  TQ_OP_GLOBAL_AVERAGE_POOL,
  TQ_OP_GLOBAL_MAX_POOL,
  /* norm.c */
  TQ_OP_BATCH_NORMALIZATION,
  TQ_OP_INSTANCE_NORMALIZATION,
  TQ_OP_LAYER_NORMALIZATION,
  /* binary.c: two inputs, numpy broadcasting */
  TQ_OP_ADD,
  TQ_OP_SUB,
  TQ_OP_MUL,
  TQ_OP_DIV,
  TQ_OP_POW,
  TQ_OP_MOD,
  TQ_OP_EQUAL,
  TQ_OP_LESS,
  TQ_OP_GREATER,
  TQ_OP_LESS_OR_EQUAL,
  TQ_OP_GREATER_OR_EQUAL,
  TQ_OP_AND,
  TQ_OP_OR,
  TQ_OP_XOR,
  TQ_OP_PRELU,
  /* variadic.c */
  TQ_OP_SUM,
  TQ_OP_MEAN,
  TQ_OP_MIN,
  TQ_OP_MAX,
  /* unary.c */
  TQ_OP_SQRT,
  TQ_OP_EXP,
  TQ_OP_LOG,
  TQ_OP_ABS,
  TQ_OP_NEG,
  TQ_OP_RECIPROCAL,
  TQ_OP_FLOOR,
  TQ_OP_CEIL,
  TQ_OP_ROUND,
  TQ_OP_SIGN,
  TQ_OP_ERF,
  TQ_OP_SIN,
  TQ_OP_COS,
  TQ_OP_NOT,
  /* identity.c */
  TQ_OP_IDENTITY,
  TQ_OP_DROPOUT,
  /* cast.c */
  TQ_OP_CAST,
  TQ_OP_CAST_LIKE,
  /* where.c */
  TQ_OP_WHERE,
  /* activation.c: pointwise activations and Clip */
  TQ_OP_RELU,
  TQ_OP_LEAKY_RELU,
  TQ_OP_SIGMOID,
  TQ_OP_TANH,
  TQ_OP_HARD_SIGMOID,
  TQ_OP_HARD_SWISH,
  TQ_OP_ELU,
  TQ_OP_SELU,
  TQ_OP_CELU,
  TQ_OP_SOFTPLUS,
  TQ_OP_SOFTSIGN,
  TQ_OP_GELU,
  TQ_OP_MISH,
  TQ_OP_THRESHOLDED_RELU,
  TQ_OP_CLIP,
  /* softmax.c */
  TQ_OP_SOFTMAX,
  TQ_OP_LOG_SOFTMAX,
  TQ_OP_HARDMAX,
  /* shape.c */
  TQ_OP_SHAPE,
  TQ_OP_SIZE,
  /* constant.c */
  TQ_OP_CONSTANT,
  TQ_OP_CONSTANT_OF_SHAPE,
  TQ_OP_RANGE,
  /* reshape.c */
  TQ_OP_FLATTEN,
  TQ_OP_RESHAPE,
  TQ_OP_SQUEEZE,
  TQ_OP_UNSQUEEZE,
  /* transpose.c */
  TQ_OP_TRANSPOSE,
  /* concat.c */
  TQ_OP_CONCAT,
  TQ_OP_SPLIT,
  /* slice.c */
  TQ_OP_SLICE,
  /* gather.c */
  TQ_OP_GATHER,
  TQ_OP_SCATTER_ND,
  /* expand.c */
  TQ_OP_EXPAND,
  TQ_OP_TILE,
  /* pad.c */
  TQ_OP_PAD,
  /* reduce.c */
  TQ_OP_REDUCE_SUM,
  TQ_OP_REDUCE_MEAN,
  TQ_OP_REDUCE_MAX,
  TQ_OP_REDUCE_MIN,
  TQ_OP_REDUCE_PROD,
  TQ_OP_REDUCE_L1,
  TQ_OP_REDUCE_L2,
  TQ_OP_REDUCE_SUM_SQUARE,
  TQ_OP_REDUCE_LOG_SUM_EXP,
  /* resize.c */
  TQ_OP_RESIZE,
  TQ_OP_UPSAMPLE,
  /* cumsum.c */
  TQ_OP_CUMSUM,
  /* argmax.c */
  TQ_OP_ARG_MAX,
  TQ_OP_ARG_MIN,
  /* transformer operators (issue 13): norm.c */
  TQ_OP_RMS_NORMALIZATION,
  /* classify.c */
  TQ_OP_IS_NAN,
  TQ_OP_IS_INF,
  /* trilu.c */
  TQ_OP_TRILU,
  /* elements.c */
  TQ_OP_GATHER_ELEMENTS,
  TQ_OP_SCATTER_ELEMENTS,
  TQ_OP_SCATTER,
  /* topk.c */
  TQ_OP_TOPK,
  /* einsum.c */
  TQ_OP_EINSUM,
  /* attention.c */
  TQ_OP_ATTENTION,
  /* rotary.c */
  TQ_OP_ROTARY_EMBEDDING,
  /* com.microsoft (ONNX Runtime's contrib operators): norm.c */
  TQ_OP_MS_LAYER_NORMALIZATION,
  TQ_OP_SKIP_LAYER_NORMALIZATION,
  /* contrib_gelu.c */
  TQ_OP_FAST_GELU,
  TQ_OP_BIAS_GELU,
  /* qdq.c */
  TQ_OP_QUANTIZE_LINEAR,
  TQ_OP_DEQUANTIZE_LINEAR,
  TQ_OP_DYNAMIC_QUANTIZE_LINEAR,
  /* qlinear.c */
  TQ_OP_MATMUL_INTEGER,
  TQ_OP_QLINEAR_MATMUL,
  TQ_OP_CONV_INTEGER,
  TQ_OP_QLINEAR_CONV,
  TQ_OP_QGEMM,
  TQ_OP_QLINEAR_ADD,
  TQ_OP_QLINEAR_MUL,
  TQ_OP_QLINEAR_LEAKY_RELU,
  TQ_OP_QLINEAR_SIGMOID,
  TQ_OP_QLINEAR_GLOBAL_AVERAGE_POOL,
  TQ_OP_QLINEAR_CONCAT,
  TQ_OP_QLINEAR_AVERAGE_POOL,
  TQ_OP_COUNT
} tq_op_id;

#endif
