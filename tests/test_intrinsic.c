/* Intrinsic quantization of a GEMM (docs/design.md §3, docs/intrinsic.md).
 *
 *  - tq_intrinsic_gemm (fast, and with each lower kernel set the CPU has)
 *    equals tq_intrinsic_gemm_ref bit for bit on random GEMMs (sizes 1..70,
 *    random leading dimensions, bias absent, per row, per column or full)
 *    for every rounding x overflow x signedness of fixed point in every
 *    form (string, product+sum, product+accumulator on and off the
 *    accumulator's grid, accumulator without product), float formats, the
 *    other quantizer kinds, stochastic rounding, at 1 and 2 threads; the
 *    data make wrap and mid-sum saturation happen, and the test asserts
 *    that they did;
 *  - hand-computed cases pin the definition itself: the order of the
 *    float32 sum, wrap and saturation inside the accumulator, the bias
 *    step, the random-number indices;
 *  - tq_quantize_double_one agrees with the independent float32 model
 *    (ref_independent.c) on float inputs and rounds doubles without a
 *    detour through float32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context_internal.h"
#include "ops/op_internal.h"
#include "quant/quant_internal.h"
#include "ref_independent.h"
#include "testutil.h"

static tq_context *ctx_;

static const char *const ROUND_NAMES[TQ_ROUND_COUNT] = {
    "nearest", "even", "half_up", "half_down", "half_zero",
    "down",    "up",   "zero",    "away",      "stochastic"};
static const char *const OVERFLOW_NAMES[TQ_OVERFLOW_COUNT] = {"sat", "sat_sym",
                                                              "wrap"};

static int setup(void **state) {
  (void)state;
  return tq_context_create(&ctx_) == TQ_OK ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  tq_context_destroy(ctx_);
  return 0;
}

static tq_quantizer *parse(const char *spec) {
  if (!spec) return NULL;
  tq_quantizer *q = NULL;
  tq_status st = tq_quantizer_parse(ctx_, spec, &q);
  if (st != TQ_OK)
    printf("spec '%s' rejected: %s\n", spec, tq_context_last_error(ctx_));
  assert_int_equal(st, TQ_OK);
  return q;
}

/* An intrinsic configuration: a spec string (TensorQuant form) or an
 * object with product / sum / accumulator. */
typedef struct config {
  tq_quantizer *qs, *qp, *qa;
  tq_qmap_value v;
  char name[400];
} config;

static void config_string(config *c, const char *spec) {
  memset(c, 0, sizeof *c);
  c->qs = parse(spec);
  c->v.quantizer = c->v.product = c->v.sum = c->qs;
  snprintf(c->name, sizeof c->name, "\"%s\"", spec ? spec : "");
}

static void config_object(config *c, const char *product, const char *sum,
                          const char *acc) {
  memset(c, 0, sizeof *c);
  c->qp = parse(product);
  c->qs = parse(sum);
  c->qa = parse(acc);
  c->v.product = c->qp;
  c->v.sum = c->qs;
  c->v.accumulator = c->qa;
  snprintf(c->name, sizeof c->name, "{product: %s, %s: %s}",
           product ? product : "-", acc ? "accumulator" : "sum",
           acc   ? acc
           : sum ? sum
                 : "-");
}

static void config_free(config *c) {
  tq_quantizer_destroy(c->qs);
  tq_quantizer_destroy(c->qp);
  tq_quantizer_destroy(c->qa);
}

/* ---- random problems ------------------------------------------------------*/

enum data_kind {
  DATA_GRID,    /* small integers times 2^-e: products on grids, many ties */
  DATA_RANDOM,  /* full-precision floats from 2^-6 to 2^6 */
  DATA_SPECIAL, /* grid values with zeros, subnormals, huge values, inf, NaN */
  DATA_COUNT
};

typedef struct problem {
  tq_intrinsic_gemm_args a;
  float *A, *B, *bias, *C_fast, *C_ref;
  size_t c_size;
} problem;

static float random_value(uint64_t *rng, enum data_kind kind) {
  uint64_t r = tq_test_rand(rng);
  float v;
  if (kind == DATA_RANDOM) {
    double mag = 1.0 + (double)(r >> 40) / 16777216.0;
    v = (float)ldexp(mag, (int)((r >> 8) % 13) - 6);
  } else {
    v = (float)ldexp((double)((r >> 8) % 41) - 20.0, -(int)((r >> 16) % 4));
    if (kind == DATA_SPECIAL && (r >> 24) % 16 == 0) {
      static const float SPECIALS[] = {0.0f,       -0.0f,     0x1p-149f,
                                       -0x1p-140f, 1e30f,     -3e38f,
                                       INFINITY,   -INFINITY, NAN};
      v = SPECIALS[(r >> 32) % (sizeof SPECIALS / sizeof *SPECIALS)];
    }
  }
  return (r >> 63) ? -v : v;
}

/* Sizes from min_dim to max_dim. */
static void problem_make_sized(problem *p, uint64_t seed, enum data_kind kind,
                               int min_dim, int max_dim) {
  uint64_t rng = seed;
  memset(p, 0, sizeof *p);
  tq_intrinsic_gemm_args *a = &p->a;
  uint64_t span = (uint64_t)(max_dim - min_dim + 1);
  a->M = min_dim + (int)(tq_test_rand(&rng) % span);
  a->N = min_dim + (int)(tq_test_rand(&rng) % span);
  a->K = min_dim + (int)(tq_test_rand(&rng) % span);
  a->lda = (size_t)a->K + tq_test_rand(&rng) % 3;
  a->ldb = (size_t)a->N + tq_test_rand(&rng) % 3;
  a->ldc = (size_t)a->N + tq_test_rand(&rng) % 3;
  size_t na = a->lda * (size_t)a->M, nb = a->ldb * (size_t)a->K;
  p->A = malloc(na * sizeof *p->A);
  p->B = malloc(nb * sizeof *p->B);
  assert_non_null(p->A);
  assert_non_null(p->B);
  /* Random data at a random scale per matrix, so that some sums fall
   * into the subnormal ranges of the small float formats. */
  float sa = 1.0f, sb = 1.0f;
  if (kind == DATA_RANDOM) {
    sa = ldexpf(1.0f, -(int)(tq_test_rand(&rng) % 10));
    sb = ldexpf(1.0f, -(int)(tq_test_rand(&rng) % 10));
  }
  for (size_t i = 0; i < na; i++) p->A[i] = sa * random_value(&rng, kind);
  for (size_t i = 0; i < nb; i++) p->B[i] = sb * random_value(&rng, kind);
  switch (tq_test_rand(&rng) % 4) {
    case 0: break;
    case 1: a->bias_rs = 1; break; /* per row (output channel) */
    case 2: a->bias_cs = 1; break; /* per column */
    default:
      a->bias_rs = (ptrdiff_t)a->N;
      a->bias_cs = 1;
      break;
  }
  if (a->bias_rs || a->bias_cs) {
    size_t n = (size_t)a->M * (size_t)a->N;
    p->bias = malloc(n * sizeof *p->bias);
    assert_non_null(p->bias);
    for (size_t i = 0; i < n; i++)
      p->bias[i] = random_value(&rng, kind == DATA_SPECIAL ? DATA_GRID : kind);
  }
  p->c_size = a->ldc * (size_t)a->M;
  p->C_fast = malloc(p->c_size * sizeof *p->C_fast);
  p->C_ref = malloc(p->c_size * sizeof *p->C_ref);
  assert_non_null(p->C_fast);
  assert_non_null(p->C_ref);
  a->A = p->A;
  a->B = p->B;
  a->bias = p->bias;
  a->seed = tq_test_rand(&rng);
  a->stream = tq_test_rand(&rng) % 1000;
  a->index_base = tq_test_rand(&rng) % 100000;
}

static void problem_make(problem *p, uint64_t seed, enum data_kind kind,
                         int max_dim) {
  problem_make_sized(p, seed, kind, 1, max_dim);
}

static void problem_free(problem *p) {
  free(p->A);
  free(p->B);
  free(p->bias);
  free(p->C_fast);
  free(p->C_ref);
}

/* Runs ref into C_ref and fast into C_fast (threads given); the padding
 * between rows of C must be left alone by both. */
static void run_both(problem *p, const tq_qmap_value *v, int threads) {
  const float PAD = -12345.0f;
  for (size_t i = 0; i < p->c_size; i++) p->C_ref[i] = p->C_fast[i] = PAD;
  tq_intrinsic_gemm_args a = p->a;
  a.iq = v;
  a.threads = threads;
  a.C = p->C_ref;
  assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
  a.C = p->C_fast;
  tq_status st = tq_intrinsic_gemm(ctx_, &a);
  if (st != TQ_OK) printf("error: %s\n", tq_context_last_error(ctx_));
  assert_int_equal(st, TQ_OK);
  for (int m = 0; m < a.M; m++)
    for (size_t n = (size_t)a.N; n < a.ldc; n++) {
      assert_true(p->C_ref[(size_t)m * a.ldc + n] == PAD);
      assert_true(p->C_fast[(size_t)m * a.ldc + n] == PAD);
    }
}

static unsigned long mismatches_reported;

/* Fast == reference, bit for bit. */
static void compare(const problem *p, const config *c, const char *what,
                    int threads) {
  const tq_intrinsic_gemm_args *a = &p->a;
  size_t bad = 0;
  for (int m = 0; m < a->M; m++)
    for (int n = 0; n < a->N; n++) {
      size_t i = (size_t)m * a->ldc + (size_t)n;
      uint32_t r = tq_test_bits(p->C_ref[i]), f = tq_test_bits(p->C_fast[i]);
      if (r == f) continue;
      if (bad++ == 0 && mismatches_reported++ < 20)
        printf(
            "MISMATCH %s [%s] threads=%d M=%d N=%d K=%d at (%d,%d): ref "
            "%a (0x%08x) fast %a (0x%08x)\n",
            c->name, what, threads, a->M, a->N, a->K, m, n, (double)p->C_ref[i],
            r, (double)p->C_fast[i], f);
    }
  assert_int_equal(bad, 0);
}

/* Runs one configuration on `cases` random problems of every data kind at
 * 1 and 2 threads, then with each lower kernel set the CPU has (forced
 * through the context's cap). */
static void check_config(const config *c, uint64_t seed, int cases,
                         int max_dim) {
  static const char *const KIND_NAMES[DATA_COUNT] = {"grid", "random",
                                                     "special"};
  for (int kind = 0; kind < DATA_COUNT; kind++)
    for (int i = 0; i < cases; i++) {
      problem p;
      problem_make(&p, seed * 1000003u + (uint64_t)(kind * 100 + i),
                   (enum data_kind)kind, max_dim);
      for (int threads = 1; threads <= 2; threads++) {
        run_both(&p, &c->v, threads);
        compare(&p, c, KIND_NAMES[kind], threads);
      }
      for (int isa = (int)tq_isa_detect() - 1; isa >= 0; isa--) {
        char what[64];
        snprintf(what, sizeof what, "%s, isa=%s", KIND_NAMES[kind],
                 tq_isa_name((tq_isa)isa));
        tq_context_set_isa_cap(ctx_, isa);
        run_both(&p, &c->v, 2);
        compare(&p, c, what, 2);
        tq_context_set_isa_cap(ctx_, -1);
      }
      problem_free(&p);
    }
}

/* ---- fast == reference ---------------------------------------------------*/

static void fixed_spec(char *buf, size_t size, int r, int o, int is_signed,
                       int w, int f) {
  snprintf(buf, size, "%s,%d,%d,overflow=%s,signed=%s", ROUND_NAMES[r], w, f,
           OVERFLOW_NAMES[o], is_signed ? "true" : "false");
}

/* The value of every output under a wide (32-bit, saturating) version of
 * the accumulator: where the narrow one differs, it wrapped or saturated.
 * `inside` counts outputs whose wide value lies inside the narrow range
 * and still differ: an overflow in the middle of the sum. */
static void count_overflows(const problem *p, const char *product,
                            const char *narrow, const char *wide, double lo,
                            double hi, size_t *differ, size_t *inside) {
  config n, w;
  config_object(&n, product, NULL, narrow);
  config_object(&w, product, NULL, wide);
  tq_intrinsic_gemm_args a = p->a;
  float *cn = malloc(p->c_size * sizeof *cn), *cw = malloc(p->c_size * 4);
  assert_non_null(cn);
  assert_non_null(cw);
  a.threads = 1;
  a.iq = &n.v;
  a.C = cn;
  assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
  a.iq = &w.v;
  a.C = cw;
  assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
  for (int m = 0; m < a.M; m++)
    for (int k = 0; k < a.N; k++) {
      size_t i = (size_t)m * a.ldc + (size_t)k;
      if (isnan(cw[i]) || cn[i] == cw[i]) continue;
      (*differ)++;
      if (cw[i] >= lo && cw[i] <= hi) (*inside)++;
    }
  free(cn);
  free(cw);
  config_free(&n);
  config_free(&w);
}

/* Every rounding x overflow x signedness, in every form. Small widths and
 * grid data make products and sums overflow. */
static void test_fixed_all_modes(void **state) {
  (void)state;
  size_t wraps = 0, wraps_inside = 0, sats = 0, sats_inside = 0;
  for (int r = 0; r < TQ_ROUND_COUNT; r++)
    for (int o = 0; o < TQ_OVERFLOW_COUNT; o++)
      for (int sg = 0; sg <= 1; sg++) {
        if (o == TQ_OVERFLOW_SAT_SYM && !sg) continue;
        uint64_t seed = (uint64_t)(r * 100 + o * 10 + sg);
        char s1[96], s2[96], s3[96], s4[96];
        config c;
        /* TensorQuant form: products and the sum on a 6-bit grid. */
        fixed_spec(s1, sizeof s1, r, o, sg, 6, 2);
        config_string(&c, s1);
        check_config(&c, seed, 2, 40);
        config_free(&c);
        /* product + sum, different grids. */
        fixed_spec(s2, sizeof s2, r, o, sg, 8, 3);
        fixed_spec(s3, sizeof s3, r, o, sg, 7, 1);
        config_object(&c, s2, s3, NULL);
        check_config(&c, seed + 1, 1, 40);
        config_free(&c);
        /* product on the accumulator's grid (exact integer path). */
        fixed_spec(s2, sizeof s2, r, o, sg, 7, 1);
        fixed_spec(s3, sizeof s3, r, o, sg, 8, 2);
        config_object(&c, s2, NULL, s3);
        check_config(&c, seed + 2, 2, 50);
        config_free(&c);
        /* Mixed overflow modes: a wrapping product into a saturating
         * accumulator and the other way round. */
        fixed_spec(s2, sizeof s2, r, o, sg, 7, 1);
        fixed_spec(s4, sizeof s4, r,
                   o == TQ_OVERFLOW_WRAP ? TQ_OVERFLOW_SAT : TQ_OVERFLOW_WRAP,
                   sg, 8, 2);
        config_object(&c, s2, NULL, s4);
        check_config(&c, seed + 9, 1, 50);
        config_free(&c);
        /* product finer than the accumulator (rounds at every step). */
        fixed_spec(s2, sizeof s2, r, o, sg, 9, 4);
        fixed_spec(s4, sizeof s4, r, o, sg, 7, 1);
        config_object(&c, s2, NULL, s4);
        check_config(&c, seed + 3, 1, 40);
        config_free(&c);
        /* no product quantizer: exact products. */
        config_object(&c, NULL, NULL, s3);
        check_config(&c, seed + 4, 2, 50);
        config_free(&c);
        /* A coarse product grid (f < 0): tiny products underflow when
         * scaled, which the directed modes must still see as nonzero. */
        fixed_spec(s2, sizeof s2, r, o, sg, 6, -1);
        config_string(&c, s2);
        check_config(&c, seed + 6, 1, 30);
        config_free(&c);
        /* 32 bits, unsigned included: the widest wrap. */
        fixed_spec(s2, sizeof s2, r, o, sg, 32, 4);
        fixed_spec(s4, sizeof s4, r, o, sg, 32, 6);
        config_object(&c, s2, NULL, s4);
        check_config(&c, seed + 7, 1, 30);
        config_free(&c);
        config_string(&c, s4);
        check_config(&c, seed + 8, 1, 30);
        config_free(&c);
        /* A 32-bit unsigned wrapping accumulator after a small product. */
        fixed_spec(s2, sizeof s2, r, o, sg, 8, 2);
        fixed_spec(s4, sizeof s4, r, TQ_OVERFLOW_WRAP, 0, 32, 4);
        config_object(&c, s2, NULL, s4);
        check_config(&c, seed + 10, 1, 30);
        config_free(&c);
        /* accumulator wider than 24 bits, product wrapping at 25 bits. */
        fixed_spec(s2, sizeof s2, r, o, sg, 25, 3);
        fixed_spec(s4, sizeof s4, r, o, sg, 31, 3);
        config_object(&c, s2, NULL, s4);
        check_config(&c, seed + 5, 1, 30);
        config_free(&c);

        /* Did the accumulator really overflow? */
        if (r != TQ_ROUND_NEAREST && r != TQ_ROUND_DOWN) continue;
        char wide[96];
        fixed_spec(wide, sizeof wide, r, TQ_OVERFLOW_SAT, 1, 32, 2);
        double qlo = sg ? -32.0 : 0.0, qhi = 31.75 + (sg ? 0 : 32);
        for (int i = 0; i < 4; i++) {
          problem p;
          problem_make(&p, 777 + (uint64_t)i, DATA_GRID, 60);
          size_t d = 0, in = 0;
          count_overflows(&p, NULL, s3, wide, qlo, qhi, &d, &in);
          if (o == TQ_OVERFLOW_WRAP) {
            wraps += d;
            wraps_inside += in;
          } else {
            sats += d;
            sats_inside += in;
          }
          problem_free(&p);
        }
      }
  printf(
      "accumulator overflows seen: wrap %zu (%zu mid-sum), saturation %zu "
      "(%zu mid-sum)\n",
      wraps, wraps_inside, sats, sats_inside);
  assert_true(wraps > 100 && wraps_inside > 10);
  assert_true(sats > 100 && sats_inside > 10);
}

static void test_float_formats(void **state) {
  (void)state;
  static const char *const P[] = {"fp8e4m3",
                                  "fp16",
                                  "bf16",
                                  "float,3,2,round=stochastic",
                                  "fp8e5m2",
                                  "float,4,3,round=zero,sat",
                                  "float,5,2,subnormals=false",
                                  "float,8,22"};
  config c;
  for (size_t i = 0; i < sizeof P / sizeof *P; i++) {
    config_string(&c, P[i]);
    check_config(&c, 10 + i, 2, 40);
    config_free(&c);
    config_object(&c, P[i], "fp16", NULL);
    check_config(&c, 20 + i, 1, 40);
    config_free(&c);
    /* IEEE float32 accumulator (plain float32 addition), bf16 and fp16
     * accumulators (the reference's double quantizer per lane). */
    config_object(&c, P[i], NULL, "float,8,23");
    check_config(&c, 30 + i, 1, 40);
    config_free(&c);
    config_object(&c, P[i], NULL, "fp16");
    check_config(&c, 40 + i, 1, 30);
    config_free(&c);
    /* Float products into a fixed-point accumulator. */
    config_object(&c, P[i], NULL, "nearest,16,8,overflow=wrap");
    check_config(&c, 50 + i, 1, 40);
    config_free(&c);
  }
  /* Accumulators of every float rounding mode and option. */
  static const char *const A[] = {"float,8,23",
                                  "bf16",
                                  "fp8e4m3",
                                  "fp8e5m2,round=down",
                                  "float,5,4,round=stochastic",
                                  "float,8,23,round=up",
                                  "float,4,3,round=nearest,sat",
                                  "float,5,2,round=zero,subnormals=false",
                                  "fp6e2m3",
                                  "float,3,5,round=up,fn"};
  for (size_t i = 0; i < sizeof A / sizeof *A; i++) {
    config_object(&c, NULL, NULL, A[i]);
    check_config(&c, 60 + i, 2, 40);
    config_free(&c);
    config_object(&c, "nearest,10,4", NULL, A[i]);
    check_config(&c, 70 + i, 1, 40);
    config_free(&c);
  }
}

static void test_other_kinds(void **state) {
  (void)state;
  static const char *const Q[] = {"logarithmic", "sparse,0.5",    "binary",
                                  "binary,0.25", "ternary,1,0.3", "none"};
  config c;
  for (size_t i = 0; i < sizeof Q / sizeof *Q; i++) {
    config_string(&c, Q[i]);
    check_config(&c, 80 + i, 1, 40);
    config_free(&c);
    config_object(&c, Q[i], NULL, "nearest,12,4");
    check_config(&c, 90 + i, 1, 40);
    config_free(&c);
    config_object(&c, "nearest,10,4", NULL, Q[i]);
    check_config(&c, 100 + i, 1, 40);
    config_free(&c);
    config_object(&c, NULL, Q[i], NULL);
    check_config(&c, 110 + i, 1, 40);
    config_free(&c);
  }
  /* No quantizer at all: float32 products, float32 sum in k order. */
  problem p;
  problem_make(&p, 5, DATA_RANDOM, 40);
  tq_qmap_value none = {0};
  run_both(&p, &none, 2);
  config dummy = {.name = "{}"};
  compare(&p, &dummy, "empty", 2);
  problem_free(&p);
}

static void test_stochastic(void **state) {
  (void)state;
  static const char *const SPECS[][3] = {
      {"stochastic,8,3", NULL, NULL},
      {"stochastic,6,2,overflow=wrap", NULL, NULL},
      {"stochastic,8,3,seed=99", "stochastic,8,1", NULL},
      {"stochastic,8,3", NULL, "stochastic,10,3"},
      {"stochastic,8,4", NULL, "stochastic,8,2,overflow=wrap"},
      {NULL, NULL, "stochastic,9,2"},
      {NULL, NULL, "float,4,3,round=stochastic"},
      {"float,4,3,round=stochastic", NULL, "stochastic,12,3,seed=5"},
      {"bf16,round=stochastic", "stochastic,10,2", NULL},
      {"nearest,8,3", "stochastic,8,1,seed=3", NULL},
  };
  config c;
  for (size_t i = 0; i < sizeof SPECS / sizeof *SPECS; i++) {
    if (!SPECS[i][1] && !SPECS[i][2])
      config_string(&c, SPECS[i][0]);
    else
      config_object(&c, SPECS[i][0], SPECS[i][1], SPECS[i][2]);
    check_config(&c, 200 + i, 2, 50);
    config_free(&c);
  }
}

/* Larger problems: several panel groups and row blocks, and enough work
 * that the fast path really runs in parallel; every path once. */
static void test_larger(void **state) {
  (void)state;
  static const char *const SPECS[][3] = {
      {"nearest,16,8", NULL, NULL},
      {"nearest,6,2", NULL, NULL},
      {"nearest,16,8", NULL, "nearest,24,8,overflow=wrap"},
      {"nearest,16,8", NULL, "nearest,24,8"},
      {"nearest,8,2", NULL, "nearest,10,3"},
      {"stochastic,12,6", NULL, "nearest,20,8"},
      {"nearest,12,6", NULL, "stochastic,12,4"},
      {NULL, NULL, "nearest,16,4"},
      {"fp16", NULL, "float,8,23"},
      {"fp8e4m3", "bf16", NULL},
      {"float,3,2,round=stochastic", NULL, "bf16"},
  };
  config c;
  for (size_t i = 0; i < sizeof SPECS / sizeof *SPECS; i++) {
    if (!SPECS[i][1] && !SPECS[i][2])
      config_string(&c, SPECS[i][0]);
    else
      config_object(&c, SPECS[i][0], SPECS[i][1], SPECS[i][2]);
    problem p;
    problem_make_sized(&p, 300 + i, i % 3 ? DATA_GRID : DATA_SPECIAL, 70, 150);
    for (int threads = 1; threads <= 3; threads++) {
      run_both(&p, &c.v, threads);
      compare(&p, &c, "large", threads);
    }
    problem_free(&p);
    config_free(&c);
  }
}

/* ---- the definition, by hand ----------------------------------------------*/

/* out = one output of a 1 x 1 GEMM with K = n (x = xs, w = ws). Both
 * implementations must give `expect`. */
static void expect_one(const char *product, const char *sum, const char *acc,
                       int string_form, const float *xs, const float *ws, int n,
                       const float *bias, float expect) {
  config c;
  if (string_form)
    config_string(&c, product);
  else
    config_object(&c, product, sum, acc);
  float out[2];
  tq_intrinsic_gemm_args a = {.M = 1,
                              .N = 1,
                              .K = n,
                              .A = xs,
                              .lda = (size_t)n,
                              .B = ws,
                              .ldb = 1,
                              .bias = bias,
                              .C = out,
                              .ldc = 1,
                              .iq = &c.v,
                              .threads = 1};
  assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
  a.C = out + 1;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_OK);
  if (out[0] != expect || out[1] != expect)
    printf("%s: expected %a, ref %a, fast %a\n", c.name, (double)expect,
           (double)out[0], (double)out[1]);
  assert_true(out[0] == expect);
  assert_true(out[1] == expect);
  config_free(&c);
}

static void test_hand_computed(void **state) {
  (void)state;
  const float ones[] = {1, 1, 1, 1};
  /* 4-bit signed wrapping accumulator [-8, 7]: 5, 5 + 6 = 11 -> -5,
   * -5 - 3 = -8. */
  const float x1[] = {5, 6, -3};
  expect_one(NULL, NULL, "nearest,4,0,overflow=wrap", 0, x1, ones, 3, NULL,
             -8.0f);
  /* The same with saturation: 5, 11 -> 7, 7 - 3 = 4: the sum saturated in
   * the middle and came back (the unsaturated sum would be 8 -> 7). */
  expect_one(NULL, NULL, "nearest,4,0", 0, x1, ones, 3, NULL, 4.0f);
  /* Unsigned 3-bit wrap [0, 7]: 5 -> 5, 11 -> 3, 0 -> 0. */
  expect_one(NULL, NULL, "nearest,3,0,overflow=wrap,signed=false", 0, x1, ones,
             3, NULL, 0.0f);
  /* sat_sym [-7, 7]: -3 - 3 - 3 = -9 -> -7 (sat would give -8). */
  const float x2[] = {-3, -3, -3};
  expect_one(NULL, NULL, "nearest,4,0,overflow=sat_sym", 0, x2, ones, 3, NULL,
             -7.0f);
  /* TensorQuant form, nearest,4,1 (step 0.5, range [-4, 3.5]): products
   * 0.3 -> 0.5, 1.2 -> 1.0, 2.9 -> 3.0; sum 4.5 -> 3.5; + bias 0.25 after
   * the quantization. */
  const float x3[] = {0.3f, 1.2f, 2.9f};
  const float b3 = 0.25f;
  expect_one("nearest,4,1", NULL, NULL, 1, x3, ones, 3, &b3, 3.75f);
  /* Product + accumulator, bias quantized by the accumulator: products
   * 0.3 -> 0.5 (step 0.5), 1.2 -> 1.0; 1.5 + 0.3 = 1.8 -> 1.75 (step
   * 0.25). */
  const float b4 = 0.3f;
  expect_one("nearest,4,1", NULL, "nearest,8,2", 0, x3, ones, 2, &b4, 1.75f);
  /* Mid-sum rounding: a 0-fraction accumulator rounds 0.5 + 0.5 step by
   * step: 0.5 -> 1 (ties away), 1.5 -> 2; "even": 0.5 -> 0, 0.5 -> 0. */
  const float x5[] = {0.5f, 0.5f};
  expect_one(NULL, NULL, "nearest,8,0", 0, x5, ones, 2, NULL, 2.0f);
  expect_one(NULL, NULL, "even,8,0", 0, x5, ones, 2, NULL, 0.0f);

  /* A float accumulator without subnormals flushes 2^-15 (below fp16's
   * 2^-14) to zero, one with subnormals keeps it. */
  const float x9[] = {0x1p-15f, 0x1p-17f};
  expect_one(NULL, NULL, "float,5,2,subnormals=false", 0, x9, ones, 1, NULL,
             0.0f);
  expect_one(NULL, NULL, "float,5,2", 0, x9, ones, 1, NULL, 0x1p-15f);
  /* ... and rounds 2^-15 + 2^-17 to its subnormal quantum 2^-16 (a tie:
   * to even, 2^-15). */
  expect_one(NULL, NULL, "float,5,2", 0, x9, ones, 2, NULL, 0x1p-15f);

  /* The documented order: the float32 sum runs k = 0, 1, 2.
   * (2^25 + 1) rounds to 2^25 in float32, so the sum is 0; any other
   * order would give 1. The accumulator form adds exactly. */
  const float x6[] = {0x1p25f, 1.0f, -0x1p25f};
  expect_one(NULL, NULL, NULL, 0, x6, ones, 3, NULL, 0.0f);
  expect_one(NULL, NULL, "none", 0, x6, ones, 3, NULL, 1.0f);
  /* Products are float32 in the sum form, exact in the accumulator form
   * without P: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24, which float32 rounds to
   * 1 + 2^-11 (tie to even); "up" then sees an exact grid value. */
  const float x7[] = {1.0f + 0x1p-12f};
  const float w7[] = {1.0f + 0x1p-12f};
  expect_one("up,24,11", NULL, NULL, 1, x7, w7, 1, NULL, 1.0f + 0x1p-11f);
  expect_one(NULL, NULL, "up,24,11", 0, x7, w7, 1, NULL, 1.0f + 0x1p-10f);
  /* The accumulator rounds the exact double sum, not a float32 of it:
   * with step 2, 2^24 + 1 is a tie that "nearest" takes away from zero,
   * to 2^24 + 2; a float32 sum would have rounded it to even (2^24)
   * first. */
  const float x8[] = {0x1p24f, 1.0f};
  expect_one(NULL, NULL, "nearest,32,-1", 0, x8, ones, 2, NULL, 0x1p24f + 2.0f);
}

/* Element index of output (m, n), step k: index_base + (m*N + n)*(K+1) + k;
 * the sum's quantization and the accumulator's bias step use k = K. */
static void test_random_indices(void **state) {
  (void)state;
  tq_quantizer *q = parse("stochastic,8,0");
  const int M = 2, N = 3, K = 2;
  float A[4] = {0.3f, 0.6f, 0.45f, 0.1f}; /* 2 x 2 */
  float B[6] = {1, 1, 1, 1, 1, 1};        /* 2 x 3 */
  float bias[6] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
  float C[6], F[6];
  for (uint64_t seed = 0; seed < 40; seed++) {
    const uint64_t stream = 3, base = 1000 + seed;
    /* Products only: step k of (m, n) rounds A[m][k] up iff
     * u(index) >= 1 - A[m][k]. */
    tq_qmap_value v = {.product = q};
    tq_intrinsic_gemm_args a = {.M = M,
                                .N = N,
                                .K = K,
                                .A = A,
                                .lda = 2,
                                .B = B,
                                .ldb = 3,
                                .C = C,
                                .ldc = 3,
                                .iq = &v,
                                .seed = seed,
                                .stream = stream,
                                .index_base = base,
                                .threads = 1};
    assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
    a.C = F;
    assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_OK);
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        float e = 0;
        for (int k = 0; k < K; k++) {
          uint64_t i = base + (uint64_t)((m * N + n) * (K + 1) + k);
          float u = tq_stochastic_u(seed, stream, i);
          e += (double)u >= 1.0 - (double)A[m * 2 + k] ? 1.0f : 0.0f;
        }
        assert_true(C[m * N + n] == e);
        assert_true(F[m * N + n] == e);
      }
    /* Accumulator with bias: the bias step uses k = K. Products exact. */
    tq_qmap_value va = {.accumulator = q};
    a.iq = &va;
    a.bias = bias;
    a.bias_cs = 1;
    a.C = C;
    assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
    a.C = F;
    assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_OK);
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        double acc = 0;
        uint64_t i0 = base + (uint64_t)((m * N + n) * (K + 1));
        for (int k = 0; k <= K; k++) {
          double add = k < K ? A[m * 2 + k] : 0.2f;
          double t = acc + add, fl = floor(t);
          double u = tq_stochastic_u(seed, stream, i0 + (uint64_t)k);
          acc = fl + (t - fl >= 1.0 - u ? 1.0 : 0.0);
        }
        assert_true(C[m * N + n] == (float)acc);
        assert_true(F[m * N + n] == (float)acc);
      }
    /* Sum form: the sum's quantization uses k = K. */
    tq_qmap_value vs = {.sum = q};
    a.iq = &vs;
    a.bias = NULL;
    a.C = C;
    assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
    a.C = F;
    assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_OK);
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        float s = A[m * 2] + A[m * 2 + 1];
        float fl = floorf(s);
        uint64_t i = base + (uint64_t)((m * N + n) * (K + 1) + K);
        float u = tq_stochastic_u(seed, stream, i);
        float e = fl + ((double)(s - fl) >= 1.0 - (double)u ? 1.0f : 0.0f);
        assert_true(C[m * N + n] == e);
        assert_true(F[m * N + n] == e);
      }
  }
  tq_quantizer_destroy(q);
}

/* Stochastic rounding exactly at its boundary: floor(t + u) with the
 * fraction of t equal to u (t < 0) or to 1 - u (t > 0). */
static void test_stochastic_boundary(void **state) {
  (void)state;
  tq_quantizer *q = parse("stochastic,8,0");
  const uint64_t seed = 11, stream = 2, base = 500;
  for (int acc_form = 0; acc_form <= 1; acc_form++) {
    /* Output (0, n) of a 1 x 16 GEMM with K = 1 uses index base + 2n. */
    float A[1] = {1.0f}, B[16], C[16], F[16];
    for (int n = 0; n < 16; n++) {
      float u = tq_stochastic_u(seed, stream, base + 2 * (uint64_t)n);
      B[n] = n % 2 ? -u : 1.0f - u; /* both exact in float32 */
    }
    tq_qmap_value v = {.product = q};
    tq_qmap_value va = {.accumulator = q};
    tq_intrinsic_gemm_args a = {.M = 1,
                                .N = 16,
                                .K = 1,
                                .A = A,
                                .lda = 1,
                                .B = B,
                                .ldb = 16,
                                .C = C,
                                .ldc = 16,
                                .iq = acc_form ? &va : &v,
                                .seed = seed,
                                .stream = stream,
                                .index_base = base,
                                .threads = 1};
    assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_OK);
    a.C = F;
    assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_OK);
    for (int n = 0; n < 16; n++) {
      /* -u + u = 0 stays 0; (1 - u) + u = 1 rounds up. */
      float e = n % 2 ? 0.0f : 1.0f;
      assert_true(C[n] == e);
      assert_true(F[n] == e);
    }
  }
  tq_quantizer_destroy(q);
}

static void test_errors(void **state) {
  (void)state;
  tq_quantizer *t = parse("ternary");
  float A[1] = {1}, B[1] = {1}, C[1];
  tq_qmap_value v = {.quantizer = t, .product = t, .sum = t};
  tq_intrinsic_gemm_args a = {.M = 1,
                              .N = 1,
                              .K = 1,
                              .A = A,
                              .lda = 1,
                              .B = B,
                              .ldb = 1,
                              .C = C,
                              .ldc = 1,
                              .iq = &v};
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_ERR_UNSUPPORTED);
  assert_non_null(strstr(tq_context_last_error(ctx_), "threshold"));
  assert_int_equal(tq_intrinsic_gemm_ref(ctx_, &a), TQ_ERR_UNSUPPORTED);
  tq_qmap_value va = {.accumulator = t};
  a.iq = &va;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_ERR_UNSUPPORTED);
  a.iq = NULL;
  a.lda = 0;
  a.M = 2;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_ERR_INVALID_ARGUMENT);
  a.M = -1;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_ERR_INVALID_ARGUMENT);
  a.M = 2;
  a.lda = 1;
  a.ldc = 0; /* < N */
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_ERR_INVALID_ARGUMENT);
  a.M = 1;
  a.ldc = 1;
  /* A sum and an accumulator at once. */
  tq_quantizer *f = parse("nearest,8,4");
  tq_qmap_value both = {.sum = f, .accumulator = f};
  a.iq = &both;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_ERR_INVALID_ARGUMENT);
  /* Only .quantizer given: the string form. */
  float x[3] = {0.3f, 1.2f, 2.9f}, w[3] = {1, 1, 1}, r[2];
  tq_qmap_value only = {.quantizer = f};
  tq_qmap_value full = {.quantizer = f, .product = f, .sum = f};
  tq_intrinsic_gemm_args g = {.M = 1,
                              .N = 1,
                              .K = 3,
                              .A = x,
                              .lda = 3,
                              .B = w,
                              .ldb = 1,
                              .C = r,
                              .ldc = 1,
                              .iq = &only};
  assert_int_equal(tq_intrinsic_gemm(ctx_, &g), TQ_OK);
  g.iq = &full;
  g.C = r + 1;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &g), TQ_OK);
  assert_true(r[0] == r[1] && r[0] == 4.375f); /* 0.3125 + 1.1875 + 2.875 */
  a.iq = NULL;
  tq_quantizer_destroy(f);
  assert_int_equal(tq_intrinsic_gemm(ctx_, NULL), TQ_ERR_INVALID_ARGUMENT);
  /* Empty problems are fine, K = 0 gives the bias (or 0). */
  a.M = 1;
  a.lda = 1;
  a.K = 0;
  float b = 2.5f;
  a.bias = &b;
  assert_int_equal(tq_intrinsic_gemm(ctx_, &a), TQ_OK);
  assert_true(C[0] == 2.5f);
  tq_quantizer_destroy(t);
}

/* ---- the double quantizer
 * ---------------------------------------------------*/

static void test_quantize_double(void **state) {
  (void)state;
  /* On float inputs it is the float32 quantizer (after rounding its exact
   * result to float32): compared with the independent model, since the
   * library's scalar reference kernel is this function on float32. */
  uint64_t rng = 42;
  for (int r = 0; r < TQ_ROUND_COUNT; r++)
    for (int o = 0; o < TQ_OVERFLOW_COUNT; o++) {
      char spec[96];
      fixed_spec(spec, sizeof spec, r, o, 1, 2 + r * 3, r - 3);
      tq_quantizer *q = parse(spec);
      for (int i = 0; i < 20000; i++) {
        uint64_t bits = tq_test_rand(&rng);
        float x = i % 2 ? tq_test_float((uint32_t)bits)
                        : (float)ldexp((double)(bits % 4096) - 2048, -5);
        double u = ldexp((double)((bits >> 40) & 0xffffff), -24);
        float a = (float)tq_quantize_double_one(q, x, u);
        float b = tqref_fixed(tq_quantizer_params(q), x, u);
        assert_true(tq_test_bits(a) == tq_test_bits(b) ||
                    (isnan(a) && isnan(b)));
      }
      tq_quantizer_destroy(q);
    }
  static const char *const F[] = {"fp16",
                                  "bf16",
                                  "fp8e4m3",
                                  "fp8e5m2",
                                  "float,3,2,round=stochastic",
                                  "float,5,4,round=up,sat",
                                  "fp4e2m1"};
  for (size_t s = 0; s < sizeof F / sizeof *F; s++) {
    tq_quantizer *q = parse(F[s]);
    for (int i = 0; i < 20000; i++) {
      uint64_t bits = tq_test_rand(&rng);
      float x = tq_test_float((uint32_t)bits);
      double u = ldexp((double)((bits >> 40) & 0xffffff), -24);
      float a = (float)tq_quantize_double_one(q, x, u);
      float b = tqref_float(tq_quantizer_params(q), x, u);
      assert_true(tq_test_bits(a) == tq_test_bits(b) || (isnan(a) && isnan(b)));
    }
    tq_quantizer_destroy(q);
  }
  /* Doubles are rounded directly, not through float32. */
  tq_quantizer *even = parse("even,8,0"), *bf = parse("bf16");
  tq_quantizer *wrap = parse("nearest,8,0,overflow=wrap");
  tq_quantizer *big = parse("nearest,32,0,signed=false");
  assert_true(tq_quantize_double_one(even, 2.5, 0) == 2.0);
  assert_true(tq_quantize_double_one(even, 2.5 + 0x1p-40, 0) == 3.0);
  assert_true(tq_quantize_double_one(bf, 1 + 0x1p-8, 0) == 1.0);
  assert_true(tq_quantize_double_one(bf, 1 + 0x1p-8 + 0x1p-30, 0) ==
              1 + 0x1p-7);
  assert_true(tq_quantize_double_one(wrap, 300.0, 0) == 44.0);
  assert_true(tq_quantize_double_one(wrap, 0x1p80, 0) == 0.0);
  assert_true(tq_quantize_double_one(wrap, 1e300, 0) == 0.0);
  assert_true(tq_quantize_double_one(wrap, INFINITY, 0) == 127.0);
  assert_true(tq_quantize_double_one(wrap, -INFINITY, 0) == -128.0);
  assert_true(isnan(tq_quantize_double_one(wrap, NAN, 0)));
  /* Exact: 2^32 - 1 is no float32, but the accumulator keeps it. */
  assert_true(tq_quantize_double_one(big, 0x1p40, 0) == 0x1p32 - 1);
  assert_true(tq_quantize_double_one(big, -1e-300, 0) == 0.0);
  assert_false(signbit(tq_quantize_double_one(big, -1e-300, 0)));
  tq_quantizer_destroy(even);
  tq_quantizer_destroy(bf);
  tq_quantizer_destroy(wrap);
  tq_quantizer_destroy(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_computed),
      cmocka_unit_test(test_random_indices),
      cmocka_unit_test(test_stochastic_boundary),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_quantize_double),
      cmocka_unit_test(test_fixed_all_modes),
      cmocka_unit_test(test_float_formats),
      cmocka_unit_test(test_other_kinds),
      cmocka_unit_test(test_stochastic),
      cmocka_unit_test(test_larger),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
