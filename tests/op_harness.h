/* Shared by the operator tests: build tensors and attributes, run an
 * operator's parse, infer and forward as the executor does, check results
 * and error messages. */
#ifndef TQ_TEST_OP_HARNESS_H
#define TQ_TEST_OP_HARNESS_H

#include "ops/op_internal.h"
#include "testutil.h"

extern tq_context *g_ctx;
/* 1: calls are evaluated at plan time, 0: at run time. */
extern int g_plan_time;

int setup(void **state);
int teardown(void **state);
tq_shape mkshape(int nd, const int64_t *dims);
tq_tensor *tf(int nd, const int64_t *dims, const float *data);
tq_tensor *ti(int nd, const int64_t *dims, const int64_t *data);
/* A tensor of any dtype holding v[0..numel) converted as Cast does (NULL:
 * zeros). */
tq_tensor *tt(tq_dtype dtype, int nd, const int64_t *dims, const double *v);
tq_tensor *trand(int nd, const int64_t *dims, uint64_t seed);
tq_attr_store a_int(const char *name, int64_t v);
tq_attr_store a_float(const char *name, float v);
tq_attr_store a_str(const char *name, const char *v);
/* The descriptor of the default-domain operator op at opset (fails the
 * test when there is none). */
const tq_op_desc *op_desc(const char *op, int64_t opset);
/* A call built by hand (desc, attributes, inputs, outputs set): parse,
 * infer and forward, as a session plans and runs a node. */
tq_status run_call(tq_op_call *c);
tq_status run_op_n(const char *op, int64_t opset, const tq_tensor *const *in,
                   size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
                   tq_tensor **out, size_t n_out, int threads);
tq_tensor *run1(const char *op, int64_t opset, const tq_tensor *const *in,
                size_t n_in, const tq_attr_store *attrs, size_t n_attrs);
void run_fail(const char *op, int64_t opset, const tq_tensor *const *in,
              size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
              tq_status want, const char *needle);
void check_shape(const tq_tensor *t, int nd, const int64_t *dims);
void check_f(const tq_tensor *t, const float *want, size_t n, float tol);
void check_i(const tq_tensor *t, const int64_t *want, size_t n);
/* t has dtype and the values want[0..n) exactly (as doubles; -0 and NaN
 * must match too). */
void check_t(const tq_tensor *t, tq_dtype dtype, const double *want, size_t n);
tq_attr_store a_ints(const char *name, const int64_t *v, size_t n);
tq_attr_store a_floats(const char *name, const float *v, size_t n);

#endif
