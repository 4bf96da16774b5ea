/* The elementwise family of built-in operators (elementwise.c,
 * activation.c, dropout.c; backward in backward_elementwise.c). */
#include "ops/backward_internal.h"
#include "ops/elementwise.h"
#include "ops/op_families.h"

/* A descriptor of family fam (tq_<fam>_infer, tq_<fam>_forward) with
 * backward tq_bw_<bw> (NULL: none). */
#define E(op_id, name, fam, flags_, min_in, max_in, min_out, max_out, bw)   \
  {                                                                         \
    TQ_OP_ONNX(op_id, name), TQ_OP_ARITY(min_in, max_in, min_out, max_out), \
        .flags = (flags_), .infer = tq_##fam##_infer,                       \
        .forward = tq_##fam##_forward, .backward = bw                       \
  }
#define I64 TQ_OPF_INT64
#define IP TQ_OPF_INPLACE
#define PR TQ_OPF_POST_RELU
#define NONE NULL

// clang-format off
const tq_op_desc tq_ops_elementwise[] = {
    E(TQ_OP_ADD, "Add", ew_binary, I64 | IP | PR, 2, 2, 1, 1, tq_bw_binary),
    E(TQ_OP_SUB, "Sub", ew_binary, I64 | IP | PR, 2, 2, 1, 1, tq_bw_binary),
    E(TQ_OP_MUL, "Mul", ew_binary, I64 | IP | PR, 2, 2, 1, 1, tq_bw_binary),
    E(TQ_OP_DIV, "Div", ew_binary, I64 | IP | PR, 2, 2, 1, 1, tq_bw_binary),
    E(TQ_OP_POW, "Pow", ew_binary, I64, 2, 2, 1, 1, tq_bw_binary), /* int64 exponents */
    E(TQ_OP_MOD, "Mod", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_EQUAL, "Equal", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_LESS, "Less", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_GREATER, "Greater", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_LESS_OR_EQUAL, "LessOrEqual", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_GREATER_OR_EQUAL, "GreaterOrEqual", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_AND, "And", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_OR, "Or", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_XOR, "Xor", ew_binary, I64, 2, 2, 1, 1, NONE),
    E(TQ_OP_SUM, "Sum", ew_variadic, I64, 1, -1, 1, 1, tq_bw_variadic),
    E(TQ_OP_MEAN, "Mean", ew_variadic, 0, 1, -1, 1, 1, tq_bw_variadic),
    E(TQ_OP_MIN, "Min", ew_variadic, I64, 1, -1, 1, 1, tq_bw_variadic),
    E(TQ_OP_MAX, "Max", ew_variadic, I64, 1, -1, 1, 1, tq_bw_variadic),
    E(TQ_OP_SQRT, "Sqrt", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_EXP, "Exp", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_LOG, "Log", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_ABS, "Abs", ew_unary, I64, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_NEG, "Neg", ew_unary, I64, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_RECIPROCAL, "Reciprocal", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_FLOOR, "Floor", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_CEIL, "Ceil", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_ROUND, "Round", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_SIGN, "Sign", ew_unary, I64, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_ERF, "Erf", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_SIN, "Sin", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_COS, "Cos", ew_unary, 0, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_NOT, "Not", ew_unary, I64, 1, 1, 1, 1, NONE),
    E(TQ_OP_IDENTITY, "Identity", ew_identity, I64, 1, 1, 1, 1, tq_bw_pointwise),
    /* Dropout(data, ratio, training_mode) -> (output, mask): the identity
     * at inference, drops in training (dropout.c). */
    E(TQ_OP_DROPOUT, "Dropout", ew_dropout, I64, 1, 3, 1, 2, tq_dropout_backward),
    E(TQ_OP_CAST, "Cast", ew_cast, I64, 1, 1, 1, 1, tq_bw_cast),
    E(TQ_OP_CAST_LIKE, "CastLike", ew_cast, I64, 2, 2, 1, 1, tq_bw_cast),
    E(TQ_OP_WHERE, "Where", ew_where, I64, 3, 3, 1, 1, tq_bw_where),
    E(TQ_OP_RELU, "Relu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_LEAKY_RELU, "LeakyRelu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_SIGMOID, "Sigmoid", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_TANH, "Tanh", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_HARD_SIGMOID, "HardSigmoid", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_HARD_SWISH, "HardSwish", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_ELU, "Elu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_SELU, "Selu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_CELU, "Celu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_SOFTPLUS, "Softplus", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_SOFTSIGN, "Softsign", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_GELU, "Gelu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_MISH, "Mish", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    E(TQ_OP_THRESHOLDED_RELU, "ThresholdedRelu", act_unary, IP, 1, 1, 1, 1, tq_bw_pointwise),
    /* Clip(input, min, max): int64 at plan time from opset 12. */
    E(TQ_OP_CLIP, "Clip", act_clip, I64, 1, 3, 1, 1, tq_bw_clip),
    E(TQ_OP_SOFTMAX, "Softmax", act_softmax, 0, 1, 1, 1, 1, tq_bw_softmax),
    E(TQ_OP_LOG_SOFTMAX, "LogSoftmax", act_softmax, 0, 1, 1, 1, 1, tq_bw_softmax),
    E(TQ_OP_HARDMAX, "Hardmax", act_softmax, 0, 1, 1, 1, 1, tq_bw_softmax),
    /* PRelu(X, slope): the slope is a weight (docs/design.md §3). */
    E(TQ_OP_PRELU, "PRelu", act_prelu, TQ_OPF_WEIGHTS, 2, 2, 1, 1, tq_bw_prelu),
};
// clang-format on
const size_t tq_ops_elementwise_count = TQ_OP_COUNT_OF(tq_ops_elementwise);
