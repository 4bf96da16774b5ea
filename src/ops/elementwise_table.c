/* The elementwise group of built-in operators (elementwise.c,
 * activation.c, dropout.c): op_type, functions, flags, input and output counts.
 */
#include "ops/backward_internal.h"
#include "ops/elementwise.h"

/* An entry of family fam (tq_<fam>_infer, tq_<fam>_forward); w: the
 * initializer inputs after the first are weights. */
#define E(name, fam, w, flags, min_in, max_in, min_out, max_out)          \
  {                                                                       \
    {name, w, tq_##fam##_infer, tq_##fam##_forward, NULL}, flags, min_in, \
        max_in, min_out, max_out                                          \
  }
#define I64 TQ_OPF_INT64
#define IP TQ_OPF_INPLACE
#define PR TQ_OPF_POST_RELU

const tq_op_entry tq_ops_elementwise[] = {
    E("Add", ew_binary, 0, I64 | IP | PR, 2, 2, 1, 1),
    E("Sub", ew_binary, 0, I64 | IP | PR, 2, 2, 1, 1),
    E("Mul", ew_binary, 0, I64 | IP | PR, 2, 2, 1, 1),
    E("Div", ew_binary, 0, I64 | IP | PR, 2, 2, 1, 1),
    E("Pow", ew_binary, 0, I64, 2, 2, 1, 1), /* int64 exponents */
    E("Mod", ew_binary, 0, I64, 2, 2, 1, 1),
    E("Equal", ew_binary, 0, I64, 2, 2, 1, 1),
    E("Less", ew_binary, 0, I64, 2, 2, 1, 1),
    E("Greater", ew_binary, 0, I64, 2, 2, 1, 1),
    E("LessOrEqual", ew_binary, 0, I64, 2, 2, 1, 1),
    E("GreaterOrEqual", ew_binary, 0, I64, 2, 2, 1, 1),
    E("And", ew_binary, 0, I64, 2, 2, 1, 1),
    E("Or", ew_binary, 0, I64, 2, 2, 1, 1),
    E("Xor", ew_binary, 0, I64, 2, 2, 1, 1),
    E("Sum", ew_variadic, 0, I64, 1, -1, 1, 1),
    E("Mean", ew_variadic, 0, 0, 1, -1, 1, 1),
    E("Min", ew_variadic, 0, I64, 1, -1, 1, 1),
    E("Max", ew_variadic, 0, I64, 1, -1, 1, 1),
    E("Sqrt", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Exp", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Log", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Abs", ew_unary, 0, I64, 1, 1, 1, 1),
    E("Neg", ew_unary, 0, I64, 1, 1, 1, 1),
    E("Reciprocal", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Floor", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Ceil", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Round", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Sign", ew_unary, 0, I64, 1, 1, 1, 1),
    E("Erf", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Sin", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Cos", ew_unary, 0, 0, 1, 1, 1, 1),
    E("Not", ew_unary, 0, I64, 1, 1, 1, 1),
    E("Identity", ew_identity, 0, I64, 1, 1, 1, 1),
    /* Dropout(data, ratio, training_mode) -> (output, mask): the identity
     * at inference, drops in training (dropout.c). */
    E("Dropout", ew_dropout, 0, I64, 1, 3, 1, 2),
    E("Cast", ew_cast, 0, I64, 1, 1, 1, 1),
    E("CastLike", ew_cast, 0, I64, 2, 2, 1, 1),
    E("Where", ew_where, 0, I64, 3, 3, 1, 1),
    E("Relu", act_unary, 0, IP, 1, 1, 1, 1),
    E("LeakyRelu", act_unary, 0, IP, 1, 1, 1, 1),
    E("Sigmoid", act_unary, 0, IP, 1, 1, 1, 1),
    E("Tanh", act_unary, 0, IP, 1, 1, 1, 1),
    E("HardSigmoid", act_unary, 0, IP, 1, 1, 1, 1),
    E("HardSwish", act_unary, 0, IP, 1, 1, 1, 1),
    E("Elu", act_unary, 0, IP, 1, 1, 1, 1),
    E("Selu", act_unary, 0, IP, 1, 1, 1, 1),
    E("Celu", act_unary, 0, IP, 1, 1, 1, 1),
    E("Softplus", act_unary, 0, IP, 1, 1, 1, 1),
    E("Softsign", act_unary, 0, IP, 1, 1, 1, 1),
    E("Gelu", act_unary, 0, IP, 1, 1, 1, 1),
    E("Mish", act_unary, 0, IP, 1, 1, 1, 1),
    E("ThresholdedRelu", act_unary, 0, IP, 1, 1, 1, 1),
    /* Clip(input, min, max): int64 at plan time from opset 12. */
    E("Clip", act_clip, 0, I64, 1, 3, 1, 1),
    E("Softmax", act_softmax, 0, 0, 1, 1, 1, 1),
    E("LogSoftmax", act_softmax, 0, 0, 1, 1, 1, 1),
    E("Hardmax", act_softmax, 0, 0, 1, 1, 1, 1),
    /* PRelu(X, slope): the slope is a weight (DESIGN.md 3). */
    E("PRelu", act_prelu, 1, TQ_OPF_WEIGHTS, 2, 2, 1, 1),
};
const size_t tq_ops_elementwise_count =
    sizeof tq_ops_elementwise / sizeof tq_ops_elementwise[0];
