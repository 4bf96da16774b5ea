#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { GC_MAXIO = 64, GC_MAX_REPORTS = 12 };

tq_tensor *grad_rand(const tq_shape *s, uint64_t seed) {
  tq_tensor *t = tf(s->ndim, s->dims, NULL);
  uint64_t st = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
  for (size_t i = 0; i < t->numel; i++)
    tq_f32(t)[i] =
        (float)((double)(tq_test_rand(&st) >> 11) * 0x1p-52 - 1.0); /* [-1,1) */
  return t;
}

/* A call as the executor makes it. */
static void make_call(tq_op_call *c, const tq_op_desc *e, const char *op,
                      int64_t opset, const tq_tensor *const *in, size_t n_in,
                      const tq_attr_store *attrs, size_t n_attrs,
                      tq_tensor **out, size_t n_out, int threads, int training,
                      uint64_t sample_offset) {
  memset(c, 0, sizeof *c);
  c->ctx = g_ctx;
  c->desc = e;
  c->node_id = "net/grad7";
  c->op_type = op;
  c->opset = opset;
  c->attrs = attrs;
  c->n_attrs = n_attrs;
  c->in = in;
  c->n_in = n_in;
  c->out = out;
  c->n_out = n_out;
  c->seed = GC_SEED;
  c->stream = GC_STREAM;
  c->sample_offset = sample_offset;
  c->threads = threads;
  c->plan_time = 0;
  c->training = training;
}

static const tq_op_desc *entry_of(const char *op, int64_t opset, size_t n_in,
                                  size_t n_out) {
  const tq_op_desc *e = op_desc(op, opset);
  if ((int)n_in < e->min_inputs ||
      (e->max_inputs >= 0 && (int)n_in > e->max_inputs))
    fail_msg("%s: %zu inputs outside the table's range", op, n_in);
  if ((int)n_out < e->min_outputs || (int)n_out > e->max_outputs)
    fail_msg("%s: %zu outputs outside the table's range", op, n_out);
  if (!e->backward) fail_msg("%s has no backward", op);
  return e;
}

static void make_outputs(tq_tensor **out, size_t n_out) {
  tq_shape s0 = mkshape(0, NULL);
  for (size_t k = 0; k < n_out; k++)
    assert_int_equal(tq_tensor_create(g_ctx, TQ_DTYPE_FLOAT32, &s0, &out[k]),
                     TQ_OK);
}

/* Infer and forward of a call whose params are parsed. */
static tq_status forward(tq_op_call *c) {
  tq_context_clear_error(g_ctx);
  tq_status st = c->desc->infer(c);
  if (st == TQ_OK) st = c->desc->forward(c);
  return st;
}

tq_status grad_run(const char *op, int64_t opset, const tq_tensor *const *in,
                   size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
                   tq_tensor **out, size_t n_out, const tq_tensor *const *gout,
                   unsigned grad_mask, tq_tensor **gin, int threads,
                   int training, uint64_t sample_offset) {
  const tq_op_desc *e = entry_of(op, opset, n_in, n_out);
  make_outputs(out, n_out);
  for (size_t k = 0; k < n_in; k++) {
    gin[k] = NULL;
    if (!(grad_mask >> k & 1u)) continue;
    assert_non_null(in[k]);
    gin[k] = tf(in[k]->shape.ndim, in[k]->shape.dims, NULL);
    for (size_t i = 0; i < gin[k]->numel; i++) tq_f32(gin[k])[i] = NAN;
  }
  tq_op_call c;
  make_call(&c, e, op, opset, in, n_in, attrs, n_attrs, out, n_out, threads,
            training, sample_offset);
  void *params = NULL;
  tq_context_clear_error(g_ctx);
  tq_status st = tq_op_call_parse(&c, &params);
  if (st == TQ_OK) st = forward(&c);
  if (st == TQ_OK) st = e->backward(&c, gout, gin);
  free(params);
  return st;
}

/* Everything one check needs: the forward's call and outputs, the output
 * gradients R, the analytic gradients. */
typedef struct gc_state {
  const char *op;
  const tq_op_desc *e;
  tq_op_call c;
  void *params; /* c.params */
  tq_tensor *out[GC_MAXIO], *r[GC_MAXIO], *ana[GC_MAXIO];
  size_t n_in, n_out;
  unsigned mask;
} gc_state;

static void gc_setup(gc_state *s, const char *op, int64_t opset,
                     const tq_tensor *const *in, size_t n_in,
                     const tq_attr_store *attrs, size_t n_attrs, size_t n_out,
                     unsigned check_mask, int training) {
  memset(s, 0, sizeof *s);
  assert_true(n_in <= GC_MAXIO && n_out <= GC_MAXIO);
  s->op = op;
  s->e = entry_of(op, opset, n_in, n_out);
  s->n_in = n_in;
  s->n_out = n_out;
  s->mask = check_mask;
  for (size_t k = 0; k < n_in; k++)
    if (check_mask >> k & 1u) {
      if (!in[k] || in[k]->dtype != TQ_DTYPE_FLOAT32)
        fail_msg("%s: input %zu is checked but not a float32 tensor", op, k);
    }
  make_outputs(s->out, n_out);
  make_call(&s->c, s->e, op, opset, in, n_in, attrs, n_attrs, s->out, n_out, 1,
            training, 0);
  tq_status st = tq_op_call_parse(&s->c, &s->params);
  if (st == TQ_OK) st = forward(&s->c);
  if (st != TQ_OK) fail_msg("%s forward: %s", op, tq_context_last_error(g_ctx));
  for (size_t k = 0; k < n_out; k++) {
    s->r[k] = grad_rand(&s->out[k]->shape, 1000 + k);
    if (s->out[k]->dtype != TQ_DTYPE_FLOAT32) /* not differentiable */
      for (size_t i = 0; i < s->r[k]->numel; i++) tq_f32(s->r[k])[i] = 0.0f;
  }
}

static void gc_free(gc_state *s) {
  free(s->params);
  for (size_t k = 0; k < GC_MAXIO; k++) {
    tq_tensor_destroy(s->out[k]);
    tq_tensor_destroy(s->r[k]);
    tq_tensor_destroy(s->ana[k]);
  }
}

static int same_bits(const tq_tensor *a, const tq_tensor *b) {
  return a->numel == b->numel &&
         memcmp(a->data, b->data, a->numel * tq_dtype_size(a->dtype)) == 0;
}

/* Backward with `threads`, gin prefilled with `fill`; the results in a new
 * array of tensors (NULL where not checked). */
static void gc_backward(gc_state *s, int threads, float fill, tq_tensor **gin) {
  for (size_t k = 0; k < s->n_in; k++) {
    gin[k] = NULL;
    if (!(s->mask >> k & 1u)) continue;
    const tq_tensor *x = s->c.in[k];
    gin[k] = tf(x->shape.ndim, x->shape.dims, NULL);
    for (size_t i = 0; i < gin[k]->numel; i++) tq_f32(gin[k])[i] = fill;
  }
  /* Snapshots: backward must leave the inputs and outputs alone. */
  tq_tensor *snap_in[GC_MAXIO] = {0}, *snap_out[GC_MAXIO] = {0};
  for (size_t k = 0; k < s->n_in; k++)
    if (s->c.in[k])
      assert_int_equal(tq_tensor_clone(g_ctx, s->c.in[k], &snap_in[k]), TQ_OK);
  for (size_t k = 0; k < s->n_out; k++)
    assert_int_equal(tq_tensor_clone(g_ctx, s->out[k], &snap_out[k]), TQ_OK);
  s->c.threads = threads;
  tq_context_clear_error(g_ctx);
  tq_status st = s->e->backward(&s->c, (const tq_tensor *const *)s->r, gin);
  if (st != TQ_OK)
    fail_msg("%s backward (threads %d): %s", s->op, threads,
             tq_context_last_error(g_ctx));
  for (size_t k = 0; k < s->n_in; k++)
    if (snap_in[k] && !same_bits(snap_in[k], s->c.in[k]))
      fail_msg("%s backward changed input %zu", s->op, k);
  for (size_t k = 0; k < s->n_out; k++)
    if (!same_bits(snap_out[k], s->out[k]))
      fail_msg("%s backward changed output %zu", s->op, k);
  for (size_t k = 0; k < GC_MAXIO; k++) {
    tq_tensor_destroy(snap_in[k]);
    tq_tensor_destroy(snap_out[k]);
  }
}

/* Analytic gradients with threads = 1 into s->ana, then the same bits at
 * every thread count of `threads` (gin prefilled differently each time). */
static void gc_analytic(gc_state *s, const int *threads, size_t n_threads) {
  gc_backward(s, 1, NAN, s->ana);
  for (size_t t = 0; t < n_threads; t++) {
    tq_tensor *gin[GC_MAXIO];
    gc_backward(s, threads[t], 7.0f + (float)t, gin);
    for (size_t k = 0; k < s->n_in; k++) {
      if (!gin[k]) continue;
      for (size_t i = 0; i < gin[k]->numel; i++) {
        float a = tq_cf32(s->ana[k])[i], b = tq_cf32(gin[k])[i];
        if (memcmp(&a, &b, sizeof a) != 0)
          fail_msg(
              "%s input %zu element %zu: backward gives %.9g with 1 "
              "thread and %.9g with %d (gin prefilled with NaN and %g: "
              "not deterministic or not overwritten)",
              s->op, k, i, (double)a, (double)b, threads[t], 7.0 + (double)t);
      }
      tq_tensor_destroy(gin[k]);
    }
  }
}

void grad_deterministic(const char *op, int64_t opset,
                        const tq_tensor *const *in, size_t n_in,
                        const tq_attr_store *attrs, size_t n_attrs,
                        size_t n_out, unsigned check_mask, int training) {
  gc_state s;
  gc_setup(&s, op, opset, in, n_in, attrs, n_attrs, n_out, check_mask,
           training);
  static const int threads[] = {2, 3};
  gc_analytic(&s, threads, 2);
  gc_free(&s);
}

/* L = sum_k sum_i R_k[i] out_k[i] for inputs xin, in double. */
static double gc_loss(gc_state *s, const tq_tensor *const *xin,
                      tq_tensor **out) {
  tq_op_call c = s->c;
  c.in = xin;
  c.out = out;
  c.threads = 1;
  tq_status st = forward(&c);
  if (st != TQ_OK)
    fail_msg("%s forward (perturbed): %s", s->op, tq_context_last_error(g_ctx));
  double sum = 0.0;
  for (size_t k = 0; k < s->n_out; k++) {
    if (out[k]->dtype != TQ_DTYPE_FLOAT32) continue;
    assert_int_equal(out[k]->numel, s->r[k]->numel);
    for (size_t i = 0; i < out[k]->numel; i++)
      sum += (double)tq_cf32(s->r[k])[i] * (double)tq_cf32(out[k])[i];
  }
  return sum;
}

void gradcheck(const char *op, int64_t opset, const tq_tensor *const *in,
               size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
               size_t n_out, unsigned check_mask, double h, double atol,
               double rtol, int training) {
  gc_state s;
  gc_setup(&s, op, opset, in, n_in, attrs, n_attrs, n_out, check_mask,
           training);
  static const int threads[] = {2};
  gc_analytic(&s, threads, 1);
  assert_true(h > 0.0);
  const double hh = exp2(floor(log2(h)));
  /* Perturbed copies of the checked inputs. */
  tq_tensor *xc[GC_MAXIO] = {0}, *out2[GC_MAXIO] = {0};
  const tq_tensor *xin[GC_MAXIO];
  for (size_t k = 0; k < n_in; k++) {
    xin[k] = in[k];
    if (check_mask >> k & 1u) {
      assert_int_equal(tq_tensor_clone(g_ctx, in[k], &xc[k]), TQ_OK);
      xin[k] = xc[k];
    }
  }
  make_outputs(out2, n_out);
  size_t bad = 0, checked = 0;
  for (size_t k = 0; k < n_in; k++) {
    if (!xc[k]) continue;
    float *x = tq_f32(xc[k]);
    for (size_t i = 0; i < xc[k]->numel; i++) {
      const float x0 = x[i];
      double f[4];
      static const double steps[4] = {-2.0, -1.0, 1.0, 2.0};
      for (int j = 0; j < 4; j++) {
        x[i] = (float)((double)x0 + steps[j] * hh);
        f[j] = gc_loss(&s, xin, out2);
      }
      x[i] = x0;
      const double num = (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * hh);
      const double ana = tq_cf32(s.ana[k])[i];
      const double tol = atol + rtol * fmax(fabs(ana), fabs(num));
      checked++;
      if (!(fabs(ana - num) <= tol)) {
        if (bad < GC_MAX_REPORTS)
          print_message(
              "%s (opset %lld): input %zu element %zu (x = %.9g): "
              "analytic %.9g, numeric %.9g (tolerance %.3g)\n",
              op, (long long)opset, k, i, (double)x0, ana, num, tol);
        bad++;
      }
    }
  }
  for (size_t k = 0; k < GC_MAXIO; k++) {
    tq_tensor_destroy(xc[k]);
    tq_tensor_destroy(out2[k]);
  }
  gc_free(&s);
  if (bad)
    fail_msg(
        "%s (opset %lld): %zu of %zu gradient elements differ from "
        "finite differences",
        op, (long long)opset, bad, checked);
  if (!checked && check_mask) fail_msg("%s: nothing was checked", op);
}

tq_tensor *grad_distinct(int nd, const int64_t *dims, uint64_t seed,
                         float off) {
  tq_tensor *t = tf(nd, dims, NULL);
  const size_t n = t->numel;
  float *p = tq_f32(t);
  for (size_t i = 0; i < n; i++)
    p[i] = off + 0.1f * ((float)i - (float)(n / 2));
  uint64_t st = seed;
  for (size_t i = n; i > 1; i--) {
    const size_t j = (size_t)(tq_test_rand(&st) % i);
    const float tmp = p[i - 1];
    p[i - 1] = p[j];
    p[j] = tmp;
  }
  return t;
}
