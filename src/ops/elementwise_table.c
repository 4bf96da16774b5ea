/* The elementwise group of built-in operators (elementwise.c,
 * activation.c): op_type, functions, flags, input and output counts. */
#include "ops/elementwise.h"

#define BIN(name, flags)                                                 \
  {{name, 0, tq_ew_binary_infer, tq_ew_binary_forward, NULL}, flags, 2, 2, \
   1, 1}
#define VAR(name, flags)                                                     \
  {{name, 0, tq_ew_variadic_infer, tq_ew_variadic_forward, NULL}, flags, 1, \
   -1, 1, 1}
#define UN(name, flags) \
  {{name, 0, tq_ew_unary_infer, tq_ew_unary_forward, NULL}, flags, 1, 1, 1, 1}
#define ACT(name) \
  {{name, 0, tq_act_unary_infer, tq_act_unary_forward, NULL}, 0, 1, 1, 1, 1}

const tq_op_entry tq_ops_elementwise[] = {
    BIN("Add", TQ_OPF_INT64),
    BIN("Sub", TQ_OPF_INT64),
    BIN("Mul", TQ_OPF_INT64),
    BIN("Div", TQ_OPF_INT64),
    BIN("Pow", TQ_OPF_INT64), /* int64 exponents */
    BIN("Mod", TQ_OPF_INT64),
    BIN("Equal", TQ_OPF_INT64),
    BIN("Less", TQ_OPF_INT64),
    BIN("Greater", TQ_OPF_INT64),
    BIN("LessOrEqual", TQ_OPF_INT64),
    BIN("GreaterOrEqual", TQ_OPF_INT64),
    BIN("And", TQ_OPF_INT64),
    BIN("Or", TQ_OPF_INT64),
    BIN("Xor", TQ_OPF_INT64),
    VAR("Sum", TQ_OPF_INT64),
    VAR("Mean", 0),
    VAR("Min", TQ_OPF_INT64),
    VAR("Max", TQ_OPF_INT64),
    UN("Sqrt", 0),
    UN("Exp", 0),
    UN("Log", 0),
    UN("Abs", TQ_OPF_INT64),
    UN("Neg", TQ_OPF_INT64),
    UN("Reciprocal", 0),
    UN("Floor", 0),
    UN("Ceil", 0),
    UN("Round", 0),
    UN("Sign", TQ_OPF_INT64),
    UN("Erf", 0),
    UN("Sin", 0),
    UN("Cos", 0),
    UN("Not", TQ_OPF_INT64),
    {{"Identity", 0, tq_ew_identity_infer, tq_ew_identity_forward, NULL},
     TQ_OPF_INT64, 1, 1, 1, 1},
    /* Dropout(data, ratio, training_mode) -> (output, mask): inference. */
    {{"Dropout", 0, tq_ew_identity_infer, tq_ew_identity_forward, NULL},
     TQ_OPF_INT64, 1, 3, 1, 2},
    {{"Cast", 0, tq_ew_cast_infer, tq_ew_cast_forward, NULL}, TQ_OPF_INT64, 1,
     1, 1, 1},
    {{"CastLike", 0, tq_ew_cast_infer, tq_ew_cast_forward, NULL}, TQ_OPF_INT64,
     2, 2, 1, 1},
    {{"Where", 0, tq_ew_where_infer, tq_ew_where_forward, NULL}, TQ_OPF_INT64,
     3, 3, 1, 1},
    ACT("Relu"),
    ACT("LeakyRelu"),
    ACT("Sigmoid"),
    ACT("Tanh"),
    ACT("HardSigmoid"),
    ACT("HardSwish"),
    ACT("Elu"),
    ACT("Selu"),
    ACT("Celu"),
    ACT("Softplus"),
    ACT("Softsign"),
    ACT("Gelu"),
    ACT("Mish"),
    ACT("ThresholdedRelu"),
    /* Clip(input, min, max): int64 at plan time from opset 12. */
    {{"Clip", 0, tq_act_clip_infer, tq_act_clip_forward, NULL}, TQ_OPF_INT64,
     1, 3, 1, 1},
    {{"Softmax", 0, tq_act_softmax_infer, tq_act_softmax_forward, NULL}, 0, 1,
     1, 1, 1},
    {{"LogSoftmax", 0, tq_act_softmax_infer, tq_act_softmax_forward, NULL}, 0,
     1, 1, 1, 1},
    {{"Hardmax", 0, tq_act_softmax_infer, tq_act_softmax_forward, NULL}, 0, 1,
     1, 1, 1},
    /* PRelu(X, slope): the slope is a weight (DESIGN.md 3). */
    {{"PRelu", 1, tq_act_prelu_infer, tq_act_prelu_forward, NULL},
     TQ_OPF_WEIGHTS, 2, 2, 1, 1},
};
const size_t tq_ops_elementwise_count =
    sizeof tq_ops_elementwise / sizeof tq_ops_elementwise[0];
