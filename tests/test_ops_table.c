/* The table of operator descriptors (src/ops/registry.c): every
 * descriptor is well formed, IDs and (name, domain, opset range) are
 * unique, lookups find each one, params come with a parse function, and
 * the operators that trained before still have a backward. */
#include <string.h>

#include "testutil.h"

#include "ops/op_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const tq_op_desc *at(size_t i) {
  const tq_op_desc *d = tq_builtin_op_at(i);
  if (!d) fail_msg("descriptor %zu of %zu is NULL", i, tq_builtin_op_count());
  return d;
}

static void test_well_formed(void **state) {
  (void)state;
  const size_t n = tq_builtin_op_count();
  assert_null(tq_builtin_op_at(n));
  for (size_t i = 0; i < n; i++) {
    const tq_op_desc *d = at(i);
    if (!d->name || !*d->name || !d->domain)
      fail_msg("descriptor %zu has no name or domain", i);
    if (d->id <= TQ_OP_USER || d->id >= TQ_OP_COUNT)
      fail_msg("%s: ID %d outside the built-in range", d->name, (int)d->id);
    if (d->min_opset < 1 || d->min_opset > d->max_opset)
      fail_msg("%s: opsets %d..%d", d->name, d->min_opset, d->max_opset);
    if (d->min_inputs < 0 ||
        (d->max_inputs >= 0 && d->max_inputs < d->min_inputs))
      fail_msg("%s: inputs %d..%d", d->name, d->min_inputs, d->max_inputs);
    if (d->min_outputs < 1 || d->max_outputs < d->min_outputs)
      fail_msg("%s: outputs %d..%d", d->name, d->min_outputs, d->max_outputs);
    if (!d->infer || !d->forward) fail_msg("%s: no infer or forward", d->name);
    /* Params are parsed iff there are any. */
    if ((d->parse != NULL) != (d->params_size > 0))
      fail_msg("%s: parse %s but params_size %zu", d->name,
               d->parse ? "set" : "NULL", d->params_size);
    /* State inputs are inputs the node can have. */
    if (d->state_inputs &&
        (d->max_inputs < 0 || d->state_inputs >> d->max_inputs))
      fail_msg("%s: state inputs 0x%x beyond %d inputs", d->name,
               d->state_inputs, d->max_inputs);
    /* Intrinsic quantization is for operators with weights; a fused
     * Relu or an in-place output needs exactly one output. */
    if ((d->flags & TQ_OPF_INTRINSIC) && !(d->flags & TQ_OPF_WEIGHTS))
      fail_msg("%s: intrinsic without weights", d->name);
    if ((d->flags & (TQ_OPF_POST_RELU | TQ_OPF_INPLACE)) && d->max_outputs != 1)
      fail_msg("%s: post-Relu or in-place with %d outputs", d->name,
               d->max_outputs);
    /* Input dtypes: one non-empty mask of known dtypes per input listed,
     * no more entries than inputs. */
    if (d->n_in_types &&
        (!d->in_types ||
         (d->max_inputs >= 0 && d->n_in_types > (size_t)d->max_inputs)))
      fail_msg("%s: %zu input types for %d inputs", d->name, d->n_in_types,
               d->max_inputs);
    for (size_t k = 0; k < d->n_in_types; k++)
      if (!d->in_types[k] || (d->in_types[k] & ~(unsigned)TQ_DTM_ANY))
        fail_msg("%s: input %zu has dtype mask 0x%x", d->name, k,
                 d->in_types[k]);
    assert_null(d->user);
  }
}

static void test_unique(void **state) {
  (void)state;
  const size_t n = tq_builtin_op_count();
  int seen[TQ_OP_COUNT] = {0};
  for (size_t i = 0; i < n; i++) {
    const tq_op_desc *d = at(i);
    if (seen[d->id]++) fail_msg("%s: ID %d used twice", d->name, (int)d->id);
    for (size_t j = i + 1; j < n; j++) {
      const tq_op_desc *e = at(j);
      if (!strcmp(d->name, e->name) && !strcmp(d->domain, e->domain) &&
          d->min_opset <= e->max_opset && e->min_opset <= d->max_opset)
        fail_msg(
            "%s (domain '%s'): two descriptors for opsets %d..%d and "
            "%d..%d",
            d->name, d->domain, d->min_opset, d->max_opset, e->min_opset,
            e->max_opset);
    }
  }
  /* Every ID has its descriptor. */
  for (int id = TQ_OP_USER + 1; id < TQ_OP_COUNT; id++)
    if (!seen[id]) fail_msg("ID %d has no descriptor", id);
}

static void test_lookup(void **state) {
  (void)state;
  for (size_t i = 0; i < tq_builtin_op_count(); i++) {
    const tq_op_desc *d = at(i);
    assert_ptr_equal(tq_op_lookup(d->domain, d->name, d->min_opset), d);
    assert_ptr_equal(tq_op_lookup(d->domain, d->name, d->max_opset), d);
    if (!*d->domain) {
      /* 17, or the nearest opset the descriptor covers (Attention from
       * 23, the deprecated Scatter to 10) */
      const int v = d->min_opset > 17   ? d->min_opset
                    : d->max_opset < 17 ? d->max_opset
                                        : 17;
      assert_ptr_equal(tq_op_lookup(NULL, d->name, v), d);
      assert_ptr_equal(tq_op_lookup("ai.onnx", d->name, v), d);
    }
  }
  assert_null(tq_op_lookup("", "NoSuchOp", 17));
  assert_null(tq_op_lookup("", "conv", 17)); /* names are case-sensitive */
  assert_null(tq_op_lookup("com.microsoft", "Conv", 1));
  assert_null(tq_op_lookup("", "Conv", 0)); /* before every opset */
}

/* The operators that had a backward before descriptors existed (the three
 * backward registries): each keeps one, and no other operator gains one
 * unnoticed. */
static void test_backward(void **state) {
  (void)state;
  static const char *const with[] = {
      /* neural network */
      "Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool",
      "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
      /* elementwise */
      "Add", "Sub", "Mul", "Div", "Pow", "Sum", "Mean", "Max", "Min", "Sqrt",
      "Exp", "Log", "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Round",
      "Sign", "Erf", "Sin", "Cos", "Identity", "Dropout", "Cast", "CastLike",
      "Where", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid",
      "HardSwish", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Gelu",
      "Mish", "ThresholdedRelu", "Clip", "Softmax", "LogSoftmax", "Hardmax",
      "PRelu",
      /* shape */
      "Shape", "Size", "Gather", "Concat", "Split", "Slice", "Flatten",
      "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Pad", "ReduceSum",
      "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2",
      "ReduceLogSumExp", "ReduceMax", "ReduceMin", "Expand", "Tile"};
  size_t have = 0;
  for (size_t i = 0; i < tq_builtin_op_count(); i++) {
    const tq_op_desc *d = at(i);
    int listed = 0;
    for (size_t k = 0; k < COUNT(with); k++)
      listed |= !strcmp(with[k], d->name);
    if (listed && !d->backward) fail_msg("%s lost its backward", d->name);
    if (!listed && d->backward)
      fail_msg("%s has a backward that this test does not list", d->name);
    have += d->backward != NULL;
    /* Only BatchNormalization carries state (its running statistics). */
    assert_int_equal(d->state_inputs, d->id == TQ_OP_BATCH_NORMALIZATION
                                          ? (1u << 3) | (1u << 4)
                                          : 0u);
  }
  assert_int_equal(have, COUNT(with));
  /* Every trainable weight of the CNN training path has a backward. */
  static const char *const cnn[] = {"Conv", "Gemm", "MatMul",
                                    "BatchNormalization", "PRelu"};
  for (size_t k = 0; k < COUNT(cnn); k++) {
    const tq_op_desc *d = tq_op_lookup("", cnn[k], 17);
    assert_non_null(d);
    assert_true(d->flags & TQ_OPF_WEIGHTS);
    assert_non_null(d->backward);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_well_formed),
      cmocka_unit_test(test_unique),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_backward),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
