/* Backward of the neural-network operators: Conv and ConvTranspose (1-D to
 * 3-D, strides, dilations, pads, auto_pad, groups, bias), Gemm (every
 * transposition, alpha, beta, every shape of C), MatMul (batches,
 * broadcasting, 1-D operands), MaxPool (tiled and general paths),
 * AveragePool, the global pools and BatchNormalization (training and
 * inference) against finite differences (gradcheck); exact ties of the max
 * pools; BatchNormalization's running statistics; large cases (batches cut
 * into several chunks, tiled GEMMs) against references in double and at
 * several thread counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"

/* Finite-difference settings: h rounds to 2^-7. Max pools see inputs whose
 * values are 0.1 apart, far more than 2h. */
#define H 1e-2
#define ATOL 2e-3
#define RTOL 2e-3

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Values in [-1, 1). */
static tq_tensor *tu(int nd, const int64_t *dims, uint64_t seed) {
  tq_shape s = mkshape(nd, dims);
  return grad_rand(&s, 5000 + seed);
}

static tq_tensor *tsep(int nd, const int64_t *dims, uint64_t seed) {
  return grad_distinct(nd, dims, seed * 7919u + 3u, 0.0f);
}

static void destroy_all(tq_tensor **t, size_t n) {
  for (size_t i = 0; i < n; i++) tq_tensor_destroy(t[i]);
}

static void run_ok(tq_status st, const char *op) {
  if (st != TQ_OK) fail_msg("%s: %s", op, tq_context_last_error(g_ctx));
}

/* |got - want| <= tol (want in double); names the element on failure. */
static void near(const char *what, size_t i, double got, double want,
                 double tol) {
  if (!(fabs(got - want) <= tol))
    fail_msg("%s element %zu: got %.9g, expected %.9g (tolerance %.3g)", what,
             i, got, want, tol);
}

/* ---- Conv and ConvTranspose
 * -------------------------------------------------*/

/* One Conv or ConvTranspose node: X and W of rank nd, attributes present
 * when set (strides, dilations, output_padding, output_shape: first value
 * not 0; pads: has_pads). */
typedef struct conv_case {
  int nd;
  int64_t x[5], w[5];
  int bias;
  int64_t strides[3], dil[3];
  int has_pads;
  int64_t pads[6];
  int64_t group; /* 0: absent */
  const char *auto_pad;
  int64_t opad[3], oshape[3];
} conv_case;

static size_t conv_attrs(const conv_case *k, tq_attr_store *at) {
  const size_t nsp = (size_t)k->nd - 2;
  size_t n = 0;
  if (k->strides[0]) at[n++] = a_ints("strides", k->strides, nsp);
  if (k->dil[0]) at[n++] = a_ints("dilations", k->dil, nsp);
  if (k->has_pads) at[n++] = a_ints("pads", k->pads, 2 * nsp);
  if (k->group) at[n++] = a_int("group", k->group);
  if (k->auto_pad) at[n++] = a_str("auto_pad", k->auto_pad);
  if (k->opad[0]) at[n++] = a_ints("output_padding", k->opad, nsp);
  if (k->oshape[0]) at[n++] = a_ints("output_shape", k->oshape, nsp);
  return n;
}

/* gradcheck of dX, dW and (with a bias) dB; masks: extra single-input
 * checks (gin NULL for the others) when set. */
static void conv_check(const char *op, const conv_case *k, uint64_t seed,
                       int masks) {
  const int transpose = !strcmp(op, "ConvTranspose");
  const int64_t g = k->group ? k->group : 1;
  const int64_t M = transpose ? k->w[1] * g : k->w[0];
  tq_tensor *x = tu(k->nd, k->x, seed), *w = tu(k->nd, k->w, seed + 1);
  tq_tensor *b = k->bias ? tu(1, &M, seed + 2) : NULL;
  const tq_tensor *in[3] = {x, w, b};
  tq_attr_store at[8];
  const size_t na = conv_attrs(k, at);
  const size_t n_in = k->bias ? 3 : 2;
  gradcheck(op, 11, in, n_in, at, na, 1, k->bias ? 7u : 3u, H, ATOL, RTOL, 1);
  if (masks)
    for (unsigned m = 1; m < (1u << n_in); m <<= 1)
      gradcheck(op, 11, in, n_in, at, na, 1, m, H, ATOL, RTOL, 1);
  destroy_all((tq_tensor *[]){x, w, b}, 3);
}

static void test_conv(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* 1-D: plain with bias; stride 2, dilation 2, asymmetric pads */
      {.nd = 3, .x = {2, 3, 9}, .w = {4, 3, 3}, .bias = 1},
      {.nd = 3,
       .x = {2, 2, 11},
       .w = {3, 2, 3},
       .strides = {2},
       .dil = {2},
       .has_pads = 1,
       .pads = {1, 2}},
      /* 2-D: plain; stride 2 with pads; dilation 2 with asymmetric pads */
      {.nd = 4, .x = {2, 3, 6, 6}, .w = {4, 3, 3, 3}, .bias = 1},
      {.nd = 4,
       .x = {2, 3, 7, 7},
       .w = {4, 3, 3, 3},
       .bias = 1,
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {1, 1, 1, 1}},
      {.nd = 4,
       .x = {1, 2, 8, 8},
       .w = {3, 2, 3, 3},
       .dil = {2, 2},
       .has_pads = 1,
       .pads = {2, 1, 0, 2}},
      {.nd = 4,
       .x = {2, 2, 6, 7},
       .w = {2, 2, 2, 3},
       .bias = 1,
       .strides = {1, 2},
       .has_pads = 1,
       .pads = {0, 1, 2, 1}},
      /* auto_pad: SAME_UPPER / SAME_LOWER with stride 2 (odd total pad on
       * one axis), VALID */
      {.nd = 4,
       .x = {1, 2, 7, 6},
       .w = {3, 2, 3, 3},
       .bias = 1,
       .strides = {2, 2},
       .auto_pad = "SAME_UPPER"},
      {.nd = 4,
       .x = {1, 2, 7, 6},
       .w = {3, 2, 2, 3},
       .strides = {2, 2},
       .auto_pad = "SAME_LOWER"},
      {.nd = 4,
       .x = {1, 2, 7, 8},
       .w = {2, 2, 3, 2},
       .bias = 1,
       .strides = {2, 2},
       .auto_pad = "VALID"},
      /* groups 2, with and without bias */
      {.nd = 4,
       .x = {2, 4, 5, 5},
       .w = {6, 2, 3, 3},
       .bias = 1,
       .group = 2,
       .has_pads = 1,
       .pads = {1, 1, 1, 1}},
      {.nd = 4,
       .x = {2, 4, 6, 5},
       .w = {4, 2, 2, 2},
       .group = 2,
       .strides = {2, 1}},
      /* depthwise (groups = C), multiplier 1 and 2 */
      {.nd = 4,
       .x = {2, 4, 6, 6},
       .w = {4, 1, 3, 3},
       .bias = 1,
       .group = 4,
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {1, 1, 1, 1}},
      {.nd = 4,
       .x = {2, 3, 5, 5},
       .w = {6, 1, 3, 3},
       .group = 3,
       .dil = {2, 1},
       .has_pads = 1,
       .pads = {1, 0, 2, 1}},
      /* 1x1 (the forward multiplies X directly) */
      {.nd = 4, .x = {2, 3, 4, 4}, .w = {5, 3, 1, 1}, .bias = 1},
      /* 3-D */
      {.nd = 5,
       .x = {1, 2, 4, 5, 5},
       .w = {3, 2, 2, 3, 3},
       .bias = 1,
       .strides = {1, 2, 1},
       .has_pads = 1,
       .pads = {0, 1, 1, 1, 0, 1}},
      {.nd = 5,
       .x = {2, 4, 5, 4, 4},
       .w = {4, 2, 2, 2, 2},
       .group = 2,
       .dil = {2, 1, 1}},
  };
  /* The stride-2 case also one input at a time. */
  for (size_t k = 0; k < COUNT(cases); k++)
    conv_check("Conv", &cases[k], 10 * k, k == 3);
}

/* N = 20 small images: the backward cuts the batch into chunks of 3
 * images (the last one short) over 7 slots. */
static void test_conv_batch_chunks(void **state) {
  (void)state;
  const conv_case k = {.nd = 4,
                       .x = {20, 2, 5, 5},
                       .w = {3, 2, 3, 3},
                       .bias = 1,
                       .has_pads = 1,
                       .pads = {1, 1, 1, 1}};
  conv_check("Conv", &k, 300, 0);
  const conv_case k1 = {.nd = 3,
                        .x = {20, 4, 6},
                        .w = {4, 2, 3},
                        .bias = 1,
                        .group = 2,
                        .strides = {2}};
  conv_check("Conv", &k1, 310, 0);
}

/* Reference Conv backward in double (2-D, pads, strides, groups). Each
 * gradient element gets a tolerance from the sum of its terms' sizes. */
static void conv_reference_check(const tq_tensor *x, const tq_tensor *w,
                                 const tq_tensor *dy, int64_t group,
                                 int64_t stride, int64_t pad,
                                 tq_tensor *const *gin) {
  const int64_t N = x->shape.dims[0], C = x->shape.dims[1];
  const int64_t IH = x->shape.dims[2], IW = x->shape.dims[3];
  const int64_t M = w->shape.dims[0], Cg = w->shape.dims[1];
  const int64_t KH = w->shape.dims[2], KW = w->shape.dims[3];
  const int64_t OH = dy->shape.dims[2], OW = dy->shape.dims[3];
  const int64_t Mg = M / group;
  const float *xv = tq_cf32(x), *wv = tq_cf32(w), *g = tq_cf32(dy);
  double *acc = calloc((size_t)(2 * (x->numel + w->numel) + 2 * M), 8);
  assert_non_null(acc);
  double *dx = acc, *dxa = dx + x->numel, *dw = dxa + x->numel,
         *dwa = dw + w->numel, *db = dwa + w->numel, *dba = db + M;
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++) {
      const int64_t c0 = m / Mg * Cg;
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          const double gv = g[((n * M + m) * OH + oh) * OW + ow];
          db[m] += gv;
          dba[m] += fabs(gv);
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t i = 0; i < KH; i++) {
              const int64_t ih = oh * stride - pad + i;
              if (ih < 0 || ih >= IH) continue;
              for (int64_t j = 0; j < KW; j++) {
                const int64_t iw = ow * stride - pad + j;
                if (iw < 0 || iw >= IW) continue;
                const int64_t xi = ((n * C + c0 + c) * IH + ih) * IW + iw;
                const int64_t wi = ((m * Cg + c) * KH + i) * KW + j;
                dx[xi] += wv[wi] * gv;
                dxa[xi] += fabs(wv[wi] * gv);
                dw[wi] += xv[xi] * gv;
                dwa[wi] += fabs(xv[xi] * gv);
              }
            }
        }
    }
  for (size_t i = 0; i < x->numel; i++)
    near("Conv dX", i, tq_cf32(gin[0])[i], dx[i], 1e-5 * dxa[i] + 1e-6);
  for (size_t i = 0; i < w->numel; i++)
    near("Conv dW", i, tq_cf32(gin[1])[i], dw[i], 1e-5 * dwa[i] + 1e-6);
  for (int64_t i = 0; i < M; i++)
    near("Conv dB", (size_t)i, tq_cf32(gin[2])[i], db[i], 1e-5 * dba[i] + 1e-6);
  free(acc);
}

/* A batch of 20 images large enough that each chunk holds one image: 20
 * chunks over 8 slots (several chunks per slot). Checked against the
 * reference, and for the same bits at 1, 2 and 3 threads. */
static void test_conv_big_batch(void **state) {
  (void)state;
  const int64_t xd[4] = {20, 16, 96, 96}, wd[4] = {4, 8, 3, 3}, bd[1] = {4};
  tq_tensor *x = tu(4, xd, 400), *w = tu(4, wd, 401), *b = tu(1, bd, 402);
  const tq_tensor *in[3] = {x, w, b};
  tq_attr_store at[2] = {a_int("group", 2),
                         a_ints("pads", (const int64_t[]){1, 1, 1, 1}, 4)};
  grad_deterministic("Conv", 11, in, 3, at, 2, 1, 7u, 1);
  const int64_t yd[4] = {20, 4, 96, 96};
  tq_shape ys = mkshape(4, yd);
  tq_tensor *dy = grad_rand(&ys, 403), *out[1], *gin[3];
  const tq_tensor *gout[1] = {dy};
  run_ok(grad_run("Conv", 11, in, 3, at, 2, out, 1, gout, 7u, gin, 2, 1, 0),
         "Conv");
  check_shape(out[0], 4, yd);
  conv_reference_check(x, w, dy, 2, 1, 1, gin);
  destroy_all((tq_tensor *[]){x, w, b, dy, out[0], gin[0], gin[1], gin[2]}, 8);
  /* Stride 2, no groups, several threads. */
  const int64_t xd2[4] = {9, 6, 20, 20}, wd2[4] = {5, 6, 3, 3};
  x = tu(4, xd2, 410);
  w = tu(4, wd2, 411);
  b = tu(1, (const int64_t[]){5}, 412);
  const tq_tensor *in2[3] = {x, w, b};
  tq_attr_store at2[2] = {a_ints("strides", (const int64_t[]){2, 2}, 2),
                          a_ints("pads", (const int64_t[]){1, 1, 1, 1}, 4)};
  grad_deterministic("Conv", 11, in2, 3, at2, 2, 1, 7u, 1);
  const int64_t yd2[4] = {9, 5, 10, 10};
  ys = mkshape(4, yd2);
  dy = grad_rand(&ys, 413);
  gout[0] = dy;
  run_ok(grad_run("Conv", 11, in2, 3, at2, 2, out, 1, gout, 7u, gin, 3, 1, 0),
         "Conv");
  check_shape(out[0], 4, yd2);
  conv_reference_check(x, w, dy, 1, 2, 1, gin);
  destroy_all((tq_tensor *[]){x, w, b, dy, out[0], gin[0], gin[1], gin[2]}, 8);
}

static void test_conv_transpose(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* stride 2, asymmetric pads, output_padding, bias */
      {.nd = 4,
       .x = {2, 3, 4, 3},
       .w = {3, 2, 3, 3},
       .bias = 1,
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {1, 0, 0, 1},
       .opad = {1, 1}},
      /* groups 2 */
      {.nd = 4,
       .x = {2, 4, 3, 3},
       .w = {4, 3, 2, 2},
       .bias = 1,
       .group = 2,
       .strides = {2, 2}},
      {.nd = 4,
       .x = {1, 4, 3, 4},
       .w = {4, 1, 3, 2},
       .group = 2,
       .has_pads = 1,
       .pads = {1, 1, 0, 1}},
      /* dilation and unequal strides with output_padding */
      {.nd = 4,
       .x = {1, 2, 3, 4},
       .w = {2, 2, 3, 2},
       .strides = {2, 3},
       .dil = {2, 1},
       .opad = {1, 2}},
      /* depthwise */
      {.nd = 4,
       .x = {2, 3, 3, 3},
       .w = {3, 1, 3, 3},
       .bias = 1,
       .group = 3,
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {1, 1, 1, 1}},
      /* auto_pad and output_shape */
      {.nd = 4,
       .x = {1, 2, 3, 3},
       .w = {2, 2, 3, 3},
       .bias = 1,
       .strides = {2, 2},
       .auto_pad = "SAME_UPPER"},
      {.nd = 4,
       .x = {1, 2, 3, 3},
       .w = {2, 1, 3, 3},
       .strides = {2, 2},
       .oshape = {6, 7}},
      /* 1-D and 3-D */
      {.nd = 3,
       .x = {2, 2, 5},
       .w = {2, 3, 3},
       .bias = 1,
       .strides = {2},
       .has_pads = 1,
       .pads = {1, 1}},
      {.nd = 5,
       .x = {1, 2, 2, 3, 3},
       .w = {2, 2, 2, 2, 2},
       .bias = 1,
       .strides = {2, 1, 2},
       .opad = {1, 0, 1}},
      /* 10 images over 8 slots */
      {.nd = 4,
       .x = {10, 2, 3, 3},
       .w = {2, 2, 3, 3},
       .bias = 1,
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {0, 1, 1, 0}},
  };
  /* The first case also one input at a time. */
  for (size_t k = 0; k < COUNT(cases); k++)
    conv_check("ConvTranspose", &cases[k], 500 + 10 * k, k == 0);
  /* Same bits at any thread count on a larger case. */
  const int64_t xd[4] = {12, 8, 16, 16}, wd[4] = {8, 3, 3, 3}, bd[1] = {6};
  tq_tensor *x = tu(4, xd, 600), *w = tu(4, wd, 601), *b = tu(1, bd, 602);
  const tq_tensor *in[3] = {x, w, b};
  tq_attr_store at[3] = {a_ints("strides", (const int64_t[]){2, 2}, 2),
                         a_ints("pads", (const int64_t[]){1, 1, 0, 0}, 4),
                         a_int("group", 2)};
  grad_deterministic("ConvTranspose", 11, in, 3, at, 3, 1, 7u, 1);
  destroy_all((tq_tensor *[]){x, w, b}, 3);
}

/* ---- Gemm and MatMul
 * --------------------------------------------------------*/

static void test_gemm(void **state) {
  (void)state;
  const int64_t M = 3, K = 4, N = 5;
  /* C: absent (nd -1), [N], [1,N], [M,1], [M,N], scalar, [1,1], [1] */
  static const struct {
    int nd;
    int64_t d[2];
  } cshapes[] = {{-1, {0}},   {1, {5}}, {2, {1, 5}}, {2, {3, 1}},
                 {2, {3, 5}}, {0, {0}}, {2, {1, 1}}, {1, {1}}};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      const int64_t ad[2] = {ta ? K : M, ta ? M : K};
      const int64_t bd[2] = {tb ? N : K, tb ? K : N};
      tq_tensor *a = tu(2, ad, 700 + 2 * ta + tb), *b = tu(2, bd, 710 + ta);
      for (size_t k = 0; k < COUNT(cshapes); k++) {
        tq_tensor *c =
            cshapes[k].nd < 0 ? NULL : tu(cshapes[k].nd, cshapes[k].d, 720 + k);
        const tq_tensor *in[3] = {a, b, c};
        const size_t n_in = c ? 3 : 2;
        const unsigned mask = c ? 7u : 3u;
        tq_attr_store at[4] = {a_int("transA", ta), a_int("transB", tb),
                               a_float("alpha", 0.7f), a_float("beta", -1.3f)};
        gradcheck("Gemm", 13, in, n_in, at, 4, 1, mask, H, ATOL, RTOL, 1);
        /* alpha and beta absent (1) */
        gradcheck("Gemm", 13, in, n_in, at, 2, 1, mask, H, ATOL, RTOL, 1);
        tq_tensor_destroy(c);
      }
      destroy_all((tq_tensor *[]){a, b}, 2);
    }
  /* beta = 0: C does not reach the output; its gradient is 0. One input at
   * a time (the others get no buffer). */
  const int64_t ad[2] = {M, K}, bd[2] = {K, N}, cd[2] = {M, N};
  tq_tensor *a = tu(2, ad, 730), *b = tu(2, bd, 731), *c = tu(2, cd, 732);
  const tq_tensor *in[3] = {a, b, c};
  tq_attr_store at[2] = {a_float("alpha", 2.5f), a_float("beta", 0.0f)};
  gradcheck("Gemm", 13, in, 3, at, 2, 1, 7u, H, ATOL, RTOL, 1);
  for (unsigned m = 1; m < 8u; m <<= 1)
    gradcheck("Gemm", 13, in, 3, at, 2, 1, m, H, ATOL, RTOL, 1);
  destroy_all((tq_tensor *[]){a, b, c}, 3);
}

/* Large Gemms (the threaded GEMM cuts them into tiles, transposed operands
 * included): the same bits at 1, 2 and 3 threads, and the values of a
 * reference in double. */
static void test_gemm_big(void **state) {
  (void)state;
  const int64_t M = 300, K = 70, N = 260;
  const float alpha = 0.75f, beta = 1.5f;
  const int64_t cd[1] = {N};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      const int64_t ad[2] = {ta ? K : M, ta ? M : K};
      const int64_t bd[2] = {tb ? N : K, tb ? K : N};
      tq_tensor *a = tu(2, ad, 740 + ta), *b = tu(2, bd, 742 + tb),
                *c = tu(1, cd, 744);
      const tq_tensor *in[3] = {a, b, c};
      tq_attr_store at[4] = {a_int("transA", ta), a_int("transB", tb),
                             a_float("alpha", alpha), a_float("beta", beta)};
      grad_deterministic("Gemm", 13, in, 3, at, 4, 1, 7u, 1);
      const int64_t yd[2] = {M, N};
      tq_shape ys = mkshape(2, yd);
      tq_tensor *dy = grad_rand(&ys, 745), *out[1], *gin[3];
      const tq_tensor *gout[1] = {dy};
      run_ok(grad_run("Gemm", 13, in, 3, at, 4, out, 1, gout, 7u, gin, 2, 1, 0),
             "Gemm");
      const float *A = tq_cf32(a), *B = tq_cf32(b), *g = tq_cf32(dy);
      /* op(A)[m][k], op(B)[k][n] */
#define OPA(m, k) A[ta ? (k)*M + (m) : (m)*K + (k)]
#define OPB(k, n) B[tb ? (n)*K + (k) : (k)*N + (n)]
      for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
          double s = 0, sa = 0;
          for (int64_t n = 0; n < N; n++) {
            s += (double)g[m * N + n] * OPB(k, n);
            sa += fabs((double)g[m * N + n] * OPB(k, n));
          }
          const size_t at_i = (size_t)(ta ? k * M + m : m * K + k);
          near("Gemm dA", at_i, tq_f32(gin[0])[at_i], alpha * s,
               1e-5 * sa + 1e-6);
        }
      for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) {
          double s = 0, sa = 0;
          for (int64_t m = 0; m < M; m++) {
            s += (double)OPA(m, k) * g[m * N + n];
            sa += fabs((double)OPA(m, k) * g[m * N + n]);
          }
          const size_t at_i = (size_t)(tb ? n * K + k : k * N + n);
          near("Gemm dB", at_i, tq_f32(gin[1])[at_i], alpha * s,
               1e-5 * sa + 1e-6);
        }
#undef OPA
#undef OPB
      for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t m = 0; m < M; m++) s += g[m * N + n];
        near("Gemm dC", (size_t)n, tq_f32(gin[2])[n], beta * s, 1e-5);
      }
      destroy_all((tq_tensor *[]){a, b, c, dy, out[0], gin[0], gin[1], gin[2]},
                  8);
    }
}

static void test_matmul(void **state) {
  (void)state;
  static const struct {
    int na;
    int64_t a[4];
    int nb;
    int64_t b[4];
  } cases[] = {
      {2, {3, 4}, 2, {4, 5}},          /* 2-D */
      {3, {2, 3, 4}, 3, {2, 4, 5}},    /* batched */
      {4, {2, 1, 3, 4}, 3, {3, 4, 5}}, /* broadcast batch both ways */
      {3, {2, 3, 4}, 2, {4, 5}},       /* B shared by the batch */
      {2, {3, 4}, 3, {2, 4, 5}},       /* A shared */
      {3, {1, 3, 4}, 4, {2, 3, 4, 2}}, /* A's unit batch dims */
      {1, {4}, 2, {4, 5}},             /* 1-D A */
      {2, {3, 4}, 1, {4}},             /* 1-D B */
      {1, {4}, 3, {2, 4, 5}},          /* 1-D A, batched B */
      {3, {2, 3, 4}, 1, {4}},          /* batched A, 1-D B */
      {1, {4}, 1, {4}},                /* dot product */
      {2, {1, 6}, 2, {6, 1}},          /* 1 x 1 result */
  };
  for (size_t k = 0; k < COUNT(cases); k++) {
    tq_tensor *a = tu(cases[k].na, cases[k].a, 800 + k),
              *b = tu(cases[k].nb, cases[k].b, 820 + k);
    const tq_tensor *in[2] = {a, b};
    gradcheck("MatMul", 13, in, 2, NULL, 0, 1, 3u, H, ATOL, RTOL, 1);
    gradcheck("MatMul", 13, in, 2, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
    gradcheck("MatMul", 13, in, 2, NULL, 0, 1, 2u, H, ATOL, RTOL, 1);
    destroy_all((tq_tensor *[]){a, b}, 2);
  }
  /* Larger: tiled GEMMs per batch, broadcast sums; same bits at any thread
   * count. */
  const int64_t a1[3] = {6, 150, 48}, b1[2] = {48, 140};
  const int64_t a2[4] = {5, 1, 40, 30}, b2[3] = {3, 30, 300};
  tq_tensor *x1 = tu(3, a1, 840), *y1 = tu(2, b1, 841), *x2 = tu(4, a2, 842),
            *y2 = tu(3, b2, 843);
  const tq_tensor *in1[2] = {x1, y1}, *in2[2] = {x2, y2};
  grad_deterministic("MatMul", 13, in1, 2, NULL, 0, 1, 3u, 1);
  grad_deterministic("MatMul", 13, in2, 2, NULL, 0, 1, 3u, 1);
  destroy_all((tq_tensor *[]){x1, y1, x2, y2}, 4);
}

/* ---- pools
 * ------------------------------------------------------------------*/

/* A pool node's attributes; kernel always, the others when set. */
typedef struct pool_case {
  int nd;
  int64_t x[5];
  int64_t kernel[3], strides[3], dil[3];
  int has_pads;
  int64_t pads[6];
  int ceil;
  const char *auto_pad;
} pool_case;

static size_t pool_attrs(const pool_case *k, tq_attr_store *at) {
  const size_t nsp = (size_t)k->nd - 2;
  size_t n = 0;
  at[n++] = a_ints("kernel_shape", k->kernel, nsp);
  if (k->strides[0]) at[n++] = a_ints("strides", k->strides, nsp);
  if (k->dil[0]) at[n++] = a_ints("dilations", k->dil, nsp);
  if (k->has_pads) at[n++] = a_ints("pads", k->pads, 2 * nsp);
  if (k->ceil) at[n++] = a_int("ceil_mode", 1);
  if (k->auto_pad) at[n++] = a_str("auto_pad", k->auto_pad);
  return n;
}

static const pool_case maxpool_cases[] = {
    /* non-overlapping: the tiled path (2-D, with leftover rows and
     * columns, 1-D, 3-D) */
    {.nd = 4, .x = {2, 3, 6, 6}, .kernel = {2, 2}, .strides = {2, 2}},
    {.nd = 4, .x = {1, 2, 5, 7}, .kernel = {2, 2}, .strides = {2, 2}},
    {.nd = 4, .x = {1, 2, 6, 6}, .kernel = {3, 2}, .strides = {3, 2}},
    {.nd = 3, .x = {2, 3, 8}, .kernel = {2}, .strides = {2}},
    {.nd = 5, .x = {1, 2, 4, 4, 4}, .kernel = {2, 2, 2}, .strides = {2, 2, 2}},
    /* overlapping with padding: the general path */
    {.nd = 4,
     .x = {2, 2, 7, 7},
     .kernel = {3, 3},
     .strides = {2, 2},
     .has_pads = 1,
     .pads = {1, 1, 1, 1}},
    {.nd = 4,
     .x = {1, 2, 6, 5},
     .kernel = {3, 2},
     .has_pads = 1,
     .pads = {0, 1, 1, 0}},
    /* ceil_mode: the last windows reach past the input */
    {.nd = 4,
     .x = {1, 2, 6, 6},
     .kernel = {3, 3},
     .strides = {2, 2},
     .ceil = 1},
    {.nd = 4,
     .x = {1, 2, 5, 5},
     .kernel = {2, 2},
     .strides = {2, 2},
     .ceil = 1},
    {.nd = 4,
     .x = {1, 1, 6, 7},
     .kernel = {3, 3},
     .strides = {2, 2},
     .has_pads = 1,
     .pads = {1, 1, 1, 1},
     .ceil = 1},
    /* dilation */
    {.nd = 4, .x = {1, 2, 6, 6}, .kernel = {2, 2}, .dil = {2, 2}},
    {.nd = 4,
     .x = {1, 2, 7, 6},
     .kernel = {2, 3},
     .strides = {2, 1},
     .dil = {2, 2},
     .has_pads = 1,
     .pads = {1, 1, 1, 1}},
    /* auto_pad, 1-D and 3-D with padding */
    {.nd = 4,
     .x = {1, 2, 6, 5},
     .kernel = {3, 3},
     .strides = {2, 2},
     .auto_pad = "SAME_UPPER"},
    {.nd = 3,
     .x = {2, 2, 9},
     .kernel = {3},
     .strides = {2},
     .has_pads = 1,
     .pads = {1, 1}},
    {.nd = 5,
     .x = {1, 1, 5, 5, 5},
     .kernel = {3, 3, 3},
     .strides = {2, 2, 2},
     .has_pads = 1,
     .pads = {1, 1, 1, 1, 1, 1}},
};

static void test_maxpool(void **state) {
  (void)state;
  for (size_t k = 0; k < COUNT(maxpool_cases); k++) {
    const pool_case *p = &maxpool_cases[k];
    tq_tensor *x = tsep(p->nd, p->x, 900 + k);
    const tq_tensor *in[1] = {x};
    tq_attr_store at[6];
    const size_t na = pool_attrs(p, at);
    gradcheck("MaxPool", 12, in, 1, at, na, 1, 1u, H, ATOL, RTOL, 1);
    tq_tensor_destroy(x);
  }
}

/* Max-pool gradient by definition: each output's gradient goes to the
 * first tap, in window order (depth, row, column), holding the largest
 * value; taps outside the input do not count. 2-D or 3-D windows given per
 * axis (leading axes of lower ranks: size 1, kernel 1). Sums in output
 * order. */
static void maxpool_reference(const pool_case *p, const tq_tensor *x,
                              const tq_tensor *y, const tq_tensor *dy,
                              float *dx) {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1},
          s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, lo[3] = {0, 0, 0};
  const int nsp = p->nd - 2, o = 3 - nsp;
  for (int i = 0; i < nsp; i++) {
    in[o + i] = x->shape.dims[2 + i];
    out[o + i] = y->shape.dims[2 + i];
    k[o + i] = p->kernel[i];
    if (p->strides[0]) s[o + i] = p->strides[i];
    if (p->dil[0]) d[o + i] = p->dil[i];
    if (p->has_pads) lo[o + i] = p->pads[i];
    if (p->auto_pad) { /* SAME_*: out = ceil(in / stride) */
      int64_t total = (out[o + i] - 1) * s[o + i] + (k[o + i] - 1) * d[o + i] +
                      1 - in[o + i];
      if (total < 0) total = 0;
      lo[o + i] =
          strcmp(p->auto_pad, "SAME_UPPER") ? total - total / 2 : total / 2;
    }
  }
  const int64_t planes = x->shape.dims[0] * x->shape.dims[1];
  const int64_t pin = in[0] * in[1] * in[2], pout = out[0] * out[1] * out[2];
  memset(dx, 0, (size_t)(planes * pin) * sizeof *dx);
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t a = 0; a < out[0]; a++)
      for (int64_t b = 0; b < out[1]; b++)
        for (int64_t c = 0; c < out[2]; c++) {
          int64_t best = -1;
          for (int64_t i = 0; i < k[0]; i++)
            for (int64_t j = 0; j < k[1]; j++)
              for (int64_t l = 0; l < k[2]; l++) {
                const int64_t z = a * s[0] - lo[0] + i * d[0],
                              h = b * s[1] - lo[1] + j * d[1],
                              w = c * s[2] - lo[2] + l * d[2];
                if (z < 0 || z >= in[0] || h < 0 || h >= in[1] || w < 0 ||
                    w >= in[2])
                  continue;
                const int64_t at = pl * pin + (z * in[1] + h) * in[2] + w;
                if (best < 0 || tq_cf32(x)[at] > tq_cf32(x)[best]) best = at;
              }
          const int64_t oi = pl * pout + (a * out[1] + b) * out[2] + c;
          assert_true(best >= 0);
          assert_float_equal(tq_cf32(y)[oi], tq_cf32(x)[best], 0);
          dx[best] += tq_cf32(dy)[oi];
        }
}

/* Ties: the first maximum in window order gets the gradient, on the tiled
 * and the general path alike. */
static void test_maxpool_ties(void **state) {
  (void)state;
  /* Windows {1, 3 | 3, 2} and {5, 5 | 5, 4}: (0,1) and (0,2) win. */
  const int64_t d[4] = {1, 1, 2, 4};
  const float xv[8] = {1, 3, 5, 5, 3, 2, 5, 4}, gv[2] = {10, 20};
  const float want[8] = {0, 10, 20, 0, 0, 0, 0, 0};
  tq_tensor *x = tf(4, d, xv), *g = tf(4, (const int64_t[]){1, 1, 1, 2}, gv);
  const tq_tensor *in[1] = {x}, *gout[1] = {g};
  const int64_t k2[2] = {2, 2}, pads_hi[4] = {0, 0, 0, 1};
  /* tiled; then pads at the end (never reached): the general path */
  tq_attr_store at[3] = {a_ints("kernel_shape", k2, 2),
                         a_ints("strides", k2, 2), a_ints("pads", pads_hi, 4)};
  for (size_t na = 2; na <= 3; na++) {
    tq_tensor *out[1], *gin[1];
    run_ok(
        grad_run("MaxPool", 12, in, 1, at, na, out, 1, gout, 1u, gin, 1, 1, 0),
        "MaxPool");
    check_shape(out[0], 4, (const int64_t[]){1, 1, 1, 2});
    check_f(out[0], (const float[]){3, 5}, 2, 0);
    check_f(gin[0], want, 8, 0);
    destroy_all((tq_tensor *[]){out[0], gin[0]}, 2);
  }
  /* A NaN wins (the first of them). */
  const float xn[8] = {1, NAN, 5, 7, NAN, 2, 6, NAN};
  const float wn[8] = {0, 10, 0, 0, 0, 0, 0, 20};
  tq_tensor *xnan = tf(4, d, xn);
  const tq_tensor *inn[1] = {xnan};
  for (size_t na = 2; na <= 3; na++) {
    tq_tensor *out[1], *gin[1];
    run_ok(
        grad_run("MaxPool", 12, inn, 1, at, na, out, 1, gout, 1u, gin, 1, 1, 0),
        "MaxPool");
    assert_true(isnan(tq_f32(out[0])[0]) && isnan(tq_f32(out[0])[1]));
    check_f(gin[0], wn, 8, 0);
    destroy_all((tq_tensor *[]){out[0], gin[0]}, 2);
  }
  destroy_all((tq_tensor *[]){x, g, xnan}, 3);
  /* Many ties (values 0, 1, 2), every case, against the definition; the
   * output gradients are small integers, so sums are exact in any order. */
  for (size_t k = 0; k < COUNT(maxpool_cases); k++) {
    const pool_case *p = &maxpool_cases[k];
    tq_tensor *xt = tf(p->nd, p->x, NULL);
    uint64_t st = 77 + k;
    for (size_t i = 0; i < xt->numel; i++)
      tq_f32(xt)[i] = (float)(tq_test_rand(&st) % 3);
    const tq_tensor *it[1] = {xt};
    tq_attr_store pa[6];
    const size_t na = pool_attrs(p, pa);
    tq_tensor *y = run1("MaxPool", 12, it, 1, pa, na);
    tq_tensor *dy = tf(y->shape.ndim, y->shape.dims, NULL);
    for (size_t i = 0; i < dy->numel; i++)
      tq_f32(dy)[i] = (float)((int)(i % 7) - 3);
    const tq_tensor *go[1] = {dy};
    tq_tensor *out[1], *gin[1];
    run_ok(grad_run("MaxPool", 12, it, 1, pa, na, out, 1, go, 1u, gin, 2, 1, 0),
           "MaxPool");
    float *ref = malloc(xt->numel * sizeof *ref);
    assert_non_null(ref);
    maxpool_reference(p, xt, y, dy, ref);
    for (size_t i = 0; i < xt->numel; i++)
      if (tq_f32(gin[0])[i] != ref[i])
        fail_msg(
            "MaxPool case %zu: ties, element %zu: gradient %g, "
            "expected %g",
            k, i, (double)tq_f32(gin[0])[i], (double)ref[i]);
    free(ref);
    destroy_all((tq_tensor *[]){xt, y, dy, out[0], gin[0]}, 5);
  }
}

static void test_avgpool(void **state) {
  (void)state;
  static const pool_case cases[] = {
      {.nd = 4, .x = {2, 3, 6, 6}, .kernel = {2, 2}, .strides = {2, 2}},
      {.nd = 4,
       .x = {1, 2, 7, 7},
       .kernel = {3, 3},
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {1, 1, 1, 1}},
      {.nd = 4,
       .x = {1, 2, 6, 5},
       .kernel = {3, 2},
       .strides = {2, 1},
       .has_pads = 1,
       .pads = {0, 1, 2, 0}},
      /* ceil_mode: windows past the input, and past the padding */
      {.nd = 4,
       .x = {1, 2, 6, 6},
       .kernel = {3, 3},
       .strides = {2, 2},
       .ceil = 1},
      {.nd = 4,
       .x = {1, 1, 6, 7},
       .kernel = {3, 3},
       .strides = {2, 2},
       .has_pads = 1,
       .pads = {1, 1, 1, 1},
       .ceil = 1},
      {.nd = 4,
       .x = {1, 2, 6, 6},
       .kernel = {2, 2},
       .strides = {2, 2},
       .dil = {2, 2},
       .has_pads = 1,
       .pads = {1, 1, 1, 1}},
      {.nd = 4,
       .x = {1, 2, 6, 5},
       .kernel = {3, 3},
       .strides = {2, 2},
       .auto_pad = "SAME_LOWER"},
      {.nd = 3,
       .x = {2, 2, 9},
       .kernel = {3},
       .strides = {2},
       .has_pads = 1,
       .pads = {2, 1}},
      {.nd = 5,
       .x = {1, 1, 4, 5, 5},
       .kernel = {2, 3, 3},
       .strides = {2, 2, 2},
       .has_pads = 1,
       .pads = {0, 1, 1, 1, 1, 0},
       .ceil = 1},
  };
  for (size_t k = 0; k < COUNT(cases); k++) {
    tq_tensor *x = tu(cases[k].nd, cases[k].x, 1000 + k);
    const tq_tensor *in[1] = {x};
    for (int cip = 0; cip < 2; cip++) {
      tq_attr_store at[7];
      size_t na = pool_attrs(&cases[k], at);
      at[na++] = a_int("count_include_pad", cip);
      gradcheck("AveragePool", 19, in, 1, at, na, 1, 1u, H, ATOL, RTOL, 1);
    }
    tq_tensor_destroy(x);
  }
  /* count_include_pad by hand: a 1 x 3 input, kernel 3, pads 1 + 1, dy = 6
   * everywhere: outputs 0 and 2 average 2 taps (0) or 3 (1). */
  const int64_t d[3] = {1, 1, 3};
  tq_tensor *x = tu(3, d, 1010), *g = tf(3, d, (const float[]){6, 6, 6});
  const tq_tensor *in[1] = {x}, *gout[1] = {g};
  const int64_t k3[1] = {3}, p11[2] = {1, 1};
  for (int cip = 0; cip < 2; cip++) {
    tq_attr_store at[3] = {a_ints("kernel_shape", k3, 1),
                           a_ints("pads", p11, 2),
                           a_int("count_include_pad", cip)};
    tq_tensor *out[1], *gin[1];
    run_ok(grad_run("AveragePool", 19, in, 1, at, 3, out, 1, gout, 1u, gin, 1,
                    1, 0),
           "AveragePool");
    const float w0[3] = {3 + 2, 3 + 2 + 3, 2 + 3},
                w1[3] = {2 + 2, 2 + 2 + 2, 2 + 2};
    check_f(gin[0], cip ? w1 : w0, 3, 1e-6f);
    destroy_all((tq_tensor *[]){out[0], gin[0]}, 2);
  }
  destroy_all((tq_tensor *[]){x, g}, 2);
}

static void test_global_pools(void **state) {
  (void)state;
  static const struct {
    int nd;
    int64_t d[5];
  } shapes[] = {{4, {2, 3, 4, 5}},
                {3, {2, 3, 7}},
                {5, {1, 2, 2, 3, 2}},
                {4, {2, 2, 1, 1}},
                {2, {3, 4}}};
  for (size_t k = 0; k < COUNT(shapes); k++) {
    tq_tensor *x = tu(shapes[k].nd, shapes[k].d, 1100 + k);
    tq_tensor *xs = tsep(shapes[k].nd, shapes[k].d, 1110 + k);
    const tq_tensor *in[1] = {x}, *ins[1] = {xs};
    gradcheck("GlobalAveragePool", 1, in, 1, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
    gradcheck("GlobalMaxPool", 1, ins, 1, NULL, 0, 1, 1u, H, ATOL, RTOL, 1);
    destroy_all((tq_tensor *[]){x, xs}, 2);
  }
  /* Ties: the first maximum; a NaN wins. */
  const int64_t d[4] = {1, 3, 2, 2}, dg[4] = {1, 3, 1, 1};
  const float xv[12] = {1, 3, 3, 2, -1, -1, -1, -1, 0, NAN, 4, NAN};
  const float want[12] = {0, 5, 0, 0, 6, 0, 0, 0, 0, 7, 0, 0};
  tq_tensor *x = tf(4, d, xv), *g = tf(4, dg, (const float[]){5, 6, 7});
  const tq_tensor *in[1] = {x}, *gout[1] = {g};
  tq_tensor *out[1], *gin[1];
  run_ok(grad_run("GlobalMaxPool", 1, in, 1, NULL, 0, out, 1, gout, 1u, gin, 1,
                  1, 0),
         "GlobalMaxPool");
  check_f(gin[0], want, 12, 0);
  destroy_all((tq_tensor *[]){x, g, out[0], gin[0]}, 4);
}

/* Same bits at any thread count, planes spread over the threads. */
static void test_pool_threads(void **state) {
  (void)state;
  const int64_t d[4] = {8, 16, 32, 32};
  tq_tensor *x = tsep(4, d, 1200);
  const tq_tensor *in[1] = {x};
  const int64_t k2[2] = {2, 2}, k3[2] = {3, 3}, p1[4] = {1, 1, 1, 1};
  tq_attr_store tiled[2] = {a_ints("kernel_shape", k2, 2),
                            a_ints("strides", k2, 2)};
  tq_attr_store general[3] = {a_ints("kernel_shape", k3, 2),
                              a_ints("strides", k2, 2), a_ints("pads", p1, 4)};
  grad_deterministic("MaxPool", 12, in, 1, tiled, 2, 1, 1u, 1);
  grad_deterministic("MaxPool", 12, in, 1, general, 3, 1, 1u, 1);
  grad_deterministic("AveragePool", 19, in, 1, general, 3, 1, 1u, 1);
  grad_deterministic("GlobalAveragePool", 1, in, 1, NULL, 0, 1, 1u, 1);
  grad_deterministic("GlobalMaxPool", 1, in, 1, NULL, 0, 1, 1u, 1);
  tq_tensor_destroy(x);
}

/* ---- BatchNormalization
 * -----------------------------------------------------*/

/* X of rank nd with C = dims[1], values in [-1, 1); scale in [-1.5, 1.5),
 * bias and running mean in [-1, 1), running variance in [0.5, 2.5). */
static void bn_inputs(int nd, const int64_t *dims, uint64_t seed,
                      tq_tensor **t) {
  const int64_t C = dims[1];
  t[0] = tu(nd, dims, seed);
  for (int i = 1; i < 5; i++) t[i] = tu(1, &C, seed + (uint64_t)i);
  for (int64_t c = 0; c < C; c++) tq_f32(t[4])[c] += 1.5f;
  for (int64_t c = 0; c < C; c++) tq_f32(t[1])[c] += 0.5f * (c % 2 ? 1 : -1);
}

static void test_batchnorm(void **state) {
  (void)state;
  static const struct {
    int nd;
    int64_t d[5];
  } shapes[] = {
      {3, {3, 2, 4}}, {4, {2, 3, 3, 3}}, {2, {6, 3}}, {5, {2, 2, 2, 2, 3}}};
  tq_attr_store eps = a_float("epsilon", 1e-3f);
  for (size_t k = 0; k < COUNT(shapes); k++) {
    tq_tensor *t[5];
    bn_inputs(shapes[k].nd, shapes[k].d, 1300 + 10 * k, t);
    const tq_tensor *in[5] = {t[0], t[1], t[2], t[3], t[4]};
    /* Training: batch statistics. The running statistics get zeros (the
     * output does not depend on them). */
    gradcheck("BatchNormalization", 15, in, 5, NULL, 0, 1, 31u, H, ATOL, RTOL,
              1);
    gradcheck("BatchNormalization", 15, in, 5, &eps, 1, 1, 7u, H, ATOL, RTOL,
              1);
    gradcheck("BatchNormalization", 15, in, 5, NULL, 0, 1, 1u, H, ATOL, RTOL,
              1);
    gradcheck("BatchNormalization", 15, in, 5, NULL, 0, 1, 6u, H, ATOL, RTOL,
              1);
    /* Inference: the running statistics are constants. */
    gradcheck("BatchNormalization", 15, in, 5, NULL, 0, 1, 7u, H, ATOL, RTOL,
              0);
    gradcheck("BatchNormalization", 15, in, 5, &eps, 1, 1, 7u, H, ATOL, RTOL,
              0);
    gradcheck("BatchNormalization", 15, in, 5, NULL, 0, 1, 2u, H, ATOL, RTOL,
              0);
    destroy_all(t, 5);
  }
  /* The running statistics are state: zeros, never a gradient, in both
   * modes. */
  tq_tensor *t[5];
  const int64_t d[4] = {2, 3, 2, 2};
  bn_inputs(4, d, 1400, t);
  const tq_tensor *in[5] = {t[0], t[1], t[2], t[3], t[4]};
  tq_tensor *g = grad_rand(&t[0]->shape, 1401);
  const tq_tensor *gout[1] = {g};
  for (int training = 0; training < 2; training++) {
    tq_tensor *out[1], *gin[5];
    run_ok(grad_run("BatchNormalization", 15, in, 5, NULL, 0, out, 1, gout, 31u,
                    gin, 1, training, 0),
           "BatchNormalization");
    for (int i = 3; i < 5; i++) check_f(gin[i], (const float[]){0, 0, 0}, 3, 0);
    destroy_all(out, 1);
    destroy_all(gin, 5);
  }
  destroy_all(t, 5);
  tq_tensor_destroy(g);
  /* Same bits at any thread count. */
  const int64_t db[4] = {16, 32, 8, 8};
  bn_inputs(4, db, 1410, t);
  const tq_tensor *inb[5] = {t[0], t[1], t[2], t[3], t[4]};
  grad_deterministic("BatchNormalization", 15, inb, 5, NULL, 0, 1, 31u, 1);
  grad_deterministic("BatchNormalization", 15, inb, 5, NULL, 0, 1, 7u, 0);
  destroy_all(t, 5);
}

/* A forward as the executor runs a training step: the running mean and
 * variance passed as state (the same tensors as inputs 3 and 4). */
static void bn_forward(tq_tensor *const *t, const tq_attr_store *at, size_t na,
                       int training, int with_state, tq_tensor **y) {
  const tq_op_desc *e = op_desc("BatchNormalization", 15);
  tq_shape s0 = mkshape(0, NULL);
  assert_int_equal(tq_tensor_create(g_ctx, TQ_DTYPE_FLOAT32, &s0, y), TQ_OK);
  const tq_tensor *in[5] = {t[0], t[1], t[2], t[3], t[4]};
  tq_tensor *state[5] = {NULL, NULL, NULL, t[3], t[4]};
  tq_op_call c;
  memset(&c, 0, sizeof c);
  c.ctx = g_ctx;
  c.desc = e;
  c.node_id = "net/bn3";
  c.op_type = "BatchNormalization";
  c.opset = 15;
  c.attrs = at;
  c.n_attrs = na;
  c.in = in;
  c.n_in = 5;
  c.out = y;
  c.n_out = 1;
  c.threads = 2;
  c.training = training;
  c.state = with_state ? state : NULL;
  run_ok(run_call(&c), "BatchNormalization");
}

/* Training forward: Y from the batch's mean and biased variance; the
 * running statistics move as running = momentum * running + (1 -
 * momentum) * batch (unbiased variance; momentum 0.9 by default), only
 * with state and training. */
static void test_batchnorm_running_stats(void **state) {
  (void)state;
  const int64_t d[4] = {4, 3, 2, 2}, C = 3, inner = 4, m = 16;
  tq_tensor *t[5];
  bn_inputs(4, d, 1500, t);
  for (int64_t c = 0; c < C; c++) /* channels far from standard */
    for (int64_t n = 0; n < d[0]; n++)
      for (int64_t i = 0; i < inner; i++) {
        float *v = tq_f32(t[0]) + (n * C + c) * inner + i;
        *v = *v * (float)(c + 1) + 2.0f * (float)c - 1.0f;
      }
  double mean[3], var[3];
  for (int64_t c = 0; c < C; c++) {
    double s = 0, v = 0;
    for (int64_t n = 0; n < d[0]; n++)
      for (int64_t i = 0; i < inner; i++)
        s += tq_f32(t[0])[(n * C + c) * inner + i];
    mean[c] = s / (double)m;
    for (int64_t n = 0; n < d[0]; n++)
      for (int64_t i = 0; i < inner; i++) {
        const double e = tq_f32(t[0])[(n * C + c) * inner + i] - mean[c];
        v += e * e;
      }
    var[c] = v / (double)m; /* biased */
  }
  static const struct {
    int has_momentum;
    float momentum, eps;
  } cases[] = {{0, 0.9f, 1e-5f}, {1, 0.5f, 1e-2f}, {1, 0.0f, 1e-5f}};
  for (size_t k = 0; k < COUNT(cases); k++) {
    const double mom = cases[k].momentum;
    tq_attr_store at[2] = {a_float("epsilon", cases[k].eps),
                           a_float("momentum", cases[k].momentum)};
    const size_t na = cases[k].has_momentum ? 2 : 1;
    tq_tensor *s[5] = {t[0], t[1], t[2], NULL, NULL};
    assert_int_equal(tq_tensor_clone(g_ctx, t[3], &s[3]), TQ_OK);
    assert_int_equal(tq_tensor_clone(g_ctx, t[4], &s[4]), TQ_OK);
    double rm[3], rv[3];
    for (int64_t c = 0; c < C; c++) {
      rm[c] = tq_f32(t[3])[c];
      rv[c] = tq_f32(t[4])[c];
    }
    /* Two steps: the second starts from the first's statistics. */
    for (int step = 0; step < 2; step++) {
      tq_tensor *y;
      bn_forward(s, at, na, 1, 1, &y);
      for (int64_t c = 0; c < C; c++) {
        rm[c] = mom * rm[c] + (1.0 - mom) * mean[c];
        rv[c] = mom * rv[c] + (1.0 - mom) * var[c] * (double)m / (m - 1);
        near("running mean", (size_t)c, tq_f32(s[3])[c], rm[c],
             2e-6 * fmax(1.0, fabs(rm[c])));
        near("running var", (size_t)c, tq_f32(s[4])[c], rv[c],
             2e-6 * fmax(1.0, fabs(rv[c])));
        const double a = tq_f32(t[1])[c] / sqrt(var[c] + cases[k].eps);
        for (int64_t n = 0; n < d[0]; n++)
          for (int64_t i = 0; i < inner; i++) {
            const size_t at_i = (size_t)((n * C + c) * inner + i);
            const double want =
                (tq_f32(t[0])[at_i] - mean[c]) * a + tq_f32(t[2])[c];
            near("training Y", at_i, tq_f32(y)[at_i], want, 1e-5);
          }
      }
      tq_tensor_destroy(y);
    }
    destroy_all(s + 3, 2);
  }
  /* No state, or inference: the running statistics stay; inference
   * normalizes with them. */
  tq_tensor *rm0, *rv0;
  assert_int_equal(tq_tensor_clone(g_ctx, t[3], &rm0), TQ_OK);
  assert_int_equal(tq_tensor_clone(g_ctx, t[4], &rv0), TQ_OK);
  for (int k = 0; k < 2; k++) {
    tq_tensor *y;
    bn_forward(t, NULL, 0, k == 0, k == 1, &y);
    assert_memory_equal(tq_f32(t[3]), tq_f32(rm0), C * sizeof(float));
    assert_memory_equal(tq_f32(t[4]), tq_f32(rv0), C * sizeof(float));
    if (k == 1)
      for (size_t i = 0; i < t[0]->numel; i++) {
        const int64_t c = (int64_t)(i / inner) % C;
        const double want = (tq_f32(t[0])[i] - tq_f32(rm0)[c]) /
                                sqrt(tq_f32(rv0)[c] + 1e-5) * tq_f32(t[1])[c] +
                            tq_f32(t[2])[c];
        near("inference Y", i, tq_f32(y)[i], want, 1e-5);
      }
    tq_tensor_destroy(y);
  }
  destroy_all((tq_tensor *[]){rm0, rv0}, 2);
  destroy_all(t, 5);
}

/* ---- the table
 * ---------------------------------------------------------------*/

static void test_registry(void **state) {
  (void)state;
  static const char *const ops[] = {"Conv",
                                    "ConvTranspose",
                                    "Gemm",
                                    "MatMul",
                                    "MaxPool",
                                    "AveragePool",
                                    "GlobalAveragePool",
                                    "GlobalMaxPool",
                                    "BatchNormalization"};
  for (size_t i = 0; i < COUNT(ops); i++) {
    const tq_op_desc *e = op_desc(ops[i], 17);
    if (!e->backward) fail_msg("%s has no backward", ops[i]);
    assert_int_equal(e->state_inputs,
                     i == COUNT(ops) - 1 ? (1u << 3) | (1u << 4) : 0u);
  }
}

int main(void) {
  g_plan_time = 0; /* run1: calls at run time, as in training */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_conv),
      cmocka_unit_test(test_conv_batch_chunks),
      cmocka_unit_test(test_conv_big_batch),
      cmocka_unit_test(test_conv_transpose),
      cmocka_unit_test(test_gemm),
      cmocka_unit_test(test_gemm_big),
      cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_maxpool),
      cmocka_unit_test(test_maxpool_ties),
      cmocka_unit_test(test_avgpool),
      cmocka_unit_test(test_global_pools),
      cmocka_unit_test(test_pool_threads),
      cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_batchnorm_running_stats),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
