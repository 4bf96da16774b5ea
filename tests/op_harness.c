#include "op_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

tq_context *g_ctx;
int g_plan_time = 1;

int setup(void **state) {
  (void)state;
  return tq_context_create(&g_ctx) == TQ_OK ? 0 : -1;
}

int teardown(void **state) {
  (void)state;
  tq_context_destroy(g_ctx);
  return 0;
}

tq_shape mkshape(int nd, const int64_t *dims) {
  tq_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = nd;
  for (int d = 0; d < nd; d++) s.dims[d] = dims[d];
  return s;
}

tq_tensor *tf(int nd, const int64_t *dims, const float *data) {
  tq_shape s = mkshape(nd, dims);
  tq_tensor *t = NULL;
  assert_int_equal(tq_tensor_create(g_ctx, TQ_DTYPE_FLOAT32, &s, &t), TQ_OK);
  if (data) memcpy(tq_tensor_data(t), data, t->numel * sizeof(float));
  return t;
}

tq_tensor *ti(int nd, const int64_t *dims, const int64_t *data) {
  tq_shape s = mkshape(nd, dims);
  tq_tensor *t = NULL;
  assert_int_equal(tq_tensor_create(g_ctx, TQ_DTYPE_INT64, &s, &t), TQ_OK);
  if (data) memcpy(tq_tensor_data(t), data, t->numel * sizeof(int64_t));
  return t;
}

tq_tensor *tt(tq_dtype dtype, int nd, const int64_t *dims, const double *v) {
  tq_shape s = mkshape(nd, dims);
  tq_tensor *t = NULL;
  assert_int_equal(tq_tensor_create(g_ctx, dtype, &s, &t), TQ_OK);
  for (size_t i = 0; v && i < t->numel; i++)
    tq_store_f64(dtype, t->data, i, v[i]);
  return t;
}

/* Deterministic values in [-4, 4) with some exact zeros. */
tq_tensor *trand(int nd, const int64_t *dims, uint64_t seed) {
  tq_tensor *t = tf(nd, dims, NULL);
  float *p = tq_f32(t);
  for (size_t i = 0; i < t->numel; i++) {
    uint64_t r = tq_test_rand(&seed);
    p[i] =
        (r % 17 == 0) ? 0.0f : (float)((double)(r >> 11) * 0x1p-53 * 8.0 - 4.0);
  }
  return t;
}

tq_attr_store a_int(const char *name, int64_t v) {
  tq_attr_store s;
  memset(&s, 0, sizeof s);
  s.a.name = name;
  s.a.type = TQ_ATTR_INT;
  s.a.i = v;
  return s;
}

tq_attr_store a_float(const char *name, float v) {
  tq_attr_store s;
  memset(&s, 0, sizeof s);
  s.a.name = name;
  s.a.type = TQ_ATTR_FLOAT;
  s.a.f = v;
  return s;
}

tq_attr_store a_str(const char *name, const char *v) {
  tq_attr_store s;
  memset(&s, 0, sizeof s);
  s.a.name = name;
  s.a.type = TQ_ATTR_STRING;
  s.a.s = v;
  return s;
}

const tq_op_desc *op_desc(const char *op, int64_t opset) {
  const tq_op_desc *d = tq_op_lookup("", op, opset);
  if (!d) d = tq_op_lookup(TQ_DOMAIN_MS, op, 1); /* QOperator ops */
  if (!d)
    fail_msg("operator %s (opset %lld) is not registered", op,
             (long long)opset);
  return d;
}

tq_status run_call(tq_op_call *c) {
  void *params = NULL;
  tq_context_clear_error(c->ctx);
  tq_status st = tq_op_call_parse(c, &params);
  if (st == TQ_OK) st = tq_op_check_types(c, NULL);
  if (st == TQ_OK) st = c->desc->infer(c);
  if (st == TQ_OK) st = c->desc->forward(c);
  c->params = NULL;
  free(params);
  return st;
}

/* Runs op (parse, infer, then forward) on inputs; creates n_out outputs. */
tq_status run_op_n(const char *op, int64_t opset, const tq_tensor *const *in,
                   size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
                   tq_tensor **out, size_t n_out, int threads) {
  const tq_op_desc *e = op_desc(op, opset);
  tq_shape s0 = mkshape(0, NULL);
  for (size_t i = 0; i < n_out; i++)
    assert_int_equal(tq_tensor_create(g_ctx, TQ_DTYPE_FLOAT32, &s0, &out[i]),
                     TQ_OK);
  tq_op_call c;
  memset(&c, 0, sizeof c);
  c.ctx = g_ctx;
  c.desc = e;
  c.node_id = "net/node7";
  c.op_type = op;
  c.opset = opset;
  c.attrs = attrs;
  c.n_attrs = n_attrs;
  c.in = in;
  c.n_in = n_in;
  c.out = out;
  c.n_out = n_out;
  c.threads = threads;
  c.plan_time = g_plan_time;
  return run_call(&c);
}

tq_tensor *run1(const char *op, int64_t opset, const tq_tensor *const *in,
                size_t n_in, const tq_attr_store *attrs, size_t n_attrs) {
  /* The counts the executor checks against the table. */
  const tq_op_desc *e = op_desc(op, opset);
  assert_true((int)n_in >= e->min_inputs);
  assert_true(e->max_inputs < 0 || (int)n_in <= e->max_inputs);
  assert_true(e->min_outputs <= 1);
  tq_tensor *out = NULL;
  tq_status st = run_op_n(op, opset, in, n_in, attrs, n_attrs, &out, 1, 4);
  if (st != TQ_OK) fail_msg("%s: %s", op, tq_context_last_error(g_ctx));
  return out;
}

/* Expects failure with status st and a message naming the node and
 * containing needle. */
void run_fail(const char *op, int64_t opset, const tq_tensor *const *in,
              size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
              tq_status want, const char *needle) {
  tq_tensor *out = NULL;
  tq_status st = run_op_n(op, opset, in, n_in, attrs, n_attrs, &out, 1, 1);
  const char *msg = tq_context_last_error(g_ctx);
  if (st != want) fail_msg("%s: status %d, wanted %d (%s)", op, st, want, msg);
  if (!strstr(msg, "net/node7") || !strstr(msg, op) || !strstr(msg, needle))
    fail_msg("%s: message '%s' lacks the node, op or '%s'", op, msg, needle);
  tq_tensor_destroy(out);
}

void check_shape(const tq_tensor *t, int nd, const int64_t *dims) {
  tq_shape s = mkshape(nd, dims);
  if (!tq_shape_equal(&t->shape, &s)) {
    char a[96], b[96];
    tq_shape_format(&t->shape, a, sizeof a);
    tq_shape_format(&s, b, sizeof b);
    fail_msg("shape %s, expected %s", a, b);
  }
}

void check_f(const tq_tensor *t, const float *want, size_t n, float tol) {
  assert_int_equal(t->dtype, TQ_DTYPE_FLOAT32);
  assert_int_equal(t->numel, n);
  for (size_t i = 0; i < n; i++) {
    float g = tq_cf32(t)[i];
    int ok = (isnan(want[i]) && isnan(g)) || g == want[i] ||
             fabsf(g - want[i]) <= tol * fmaxf(1.0f, fabsf(want[i]));
    if (!ok) fail_msg("element %zu: got %.9g, expected %.9g", i, g, want[i]);
  }
}

void check_i(const tq_tensor *t, const int64_t *want, size_t n) {
  assert_int_equal(t->dtype, TQ_DTYPE_INT64);
  assert_int_equal(t->numel, n);
  for (size_t i = 0; i < n; i++)
    if (tq_ci64(t)[i] != want[i])
      fail_msg("element %zu: got %lld, expected %lld", i,
               (long long)tq_ci64(t)[i], (long long)want[i]);
}

void check_t(const tq_tensor *t, tq_dtype dtype, const double *want, size_t n) {
  if (t->dtype != dtype)
    fail_msg("dtype %s, expected %s", tq_dtype_name(t->dtype),
             tq_dtype_name(dtype));
  assert_int_equal(t->numel, n);
  for (size_t i = 0; i < n; i++) {
    const double g = tq_load_f64(t->dtype, t->data, i);
    if (isnan(g) && isnan(want[i])) continue; /* any NaN */
    if (g != want[i] || signbit(g) != signbit(want[i]))
      fail_msg("element %zu: got %.17g, expected %.17g", i, g, want[i]);
  }
}

tq_attr_store a_ints(const char *name, const int64_t *v, size_t n) {
  tq_attr_store s;
  memset(&s, 0, sizeof s);
  s.a.name = name;
  s.a.type = TQ_ATTR_INTS;
  s.a.ints = v;
  s.a.count = n;
  return s;
}

tq_attr_store a_floats(const char *name, const float *v, size_t n) {
  tq_attr_store s;
  memset(&s, 0, sizeof s);
  s.a.name = name;
  s.a.type = TQ_ATTR_FLOATS;
  s.a.floats = v;
  s.a.count = n;
  return s;
}
