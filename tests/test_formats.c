/* The scaled and block formats (docs/design.md §2.10), in the library:
 *  - every fast path (the fast driver with the scalar passes, and with the
 *    AVX2 passes, at each instruction set the CPU has) gives the bits of
 *    the reference (every group gathered, force_reference) on edge cases and
 * random data, for every kind, grouping (per tensor, per channel, blocks along
 * the last and an inner axis, ragged, groups of one) and rounding mode;
 *  - the bits do not depend on the thread count, in == out works, and
 *    tq_quantize is the 1-D tensor;
 *  - spec errors, canonical forms, bits per element, tq_quantizer_resolve,
 *    the site's struct_size, static ranges;
 *  - bfp,8,group=32 equals mxint8 wherever a block's amax >= 2^-120;
 *  - hand-computed values of each kind. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/context_internal.h"
#include "quant/grouped.h"
#include "testutil.h"

static tq_context *ctx_;

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
  tq_quantizer *q = NULL;
  if (tq_quantizer_parse(ctx_, spec, &q) != TQ_OK)
    fail_msg("'%s': %s", spec, tq_context_last_error(ctx_));
  return q;
}

/* Rows of 64 with an edge case each (zeros, -0, NaN, inf, ties, subnormal
 * and huge magnitudes, one outlier, signs, constants), then random data
 * with magnitudes 2^-140 .. 2^100 per row of 64. */
static void make_inputs(float *x, size_t n, uint64_t seed) {
  uint64_t rng = seed;
  for (size_t i = 0; i < n; i++) {
    size_t row = i / 64 % 24, j = i % 64;
    uint64_t r = tq_test_rand(&rng);
    double g = ((double)(r >> 11) * 0x1p-53 - 0.5) * 4.0;
    float v;
    switch (row) {
      case 0: v = 0.0f; break;
      case 1: v = -0.0f; break;
      case 2: v = j == 3 ? NAN : (float)g; break;
      case 3: v = j == 1 ? INFINITY : (float)g; break;
      case 4: v = j == 63 ? -INFINITY : (float)g; break;
      case 5: v = ((float)j - 32.0f) / 2.0f; break;
      case 6: v = ((float)j - 21.0f) * 0.25f; break;
      case 7: v = (float)(g * 0x1p-140); break;
      case 8: v = (float)(g * 0x1p-128); break;
      case 9: v = (float)(g * 0x1p100); break;
      case 10: v = (float)(g * 1e38); break;
      case 11: v = j == 0 ? 1e30f : (float)g; break;
      case 12: v = (float)fabs(g); break;
      case 13: v = 3.0f; break;
      case 14: v = j == 5 ? 7.0f : j == 6 ? -7.0f : (float)g; break;
      case 15: v = tq_test_float((uint32_t)r); break; /* any bit pattern */
      default: v = (float)ldexp(g, (int)((i / 64 * 2654435761u) % 240) - 140);
    }
    x[i] = v;
  }
}

/* Same bits, or NaN both. */
static size_t differences(const char *spec, const char *what, const float *in,
                          const float *want, const float *got, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (tq_test_bits(want[i]) == tq_test_bits(got[i])) continue;
    if (isnan(want[i]) && isnan(got[i])) continue;
    if (bad++ < 3)
      printf("MISMATCH %s [%s] at %zu: in=%a want=%a got=%a\n", spec, what, i,
             (double)in[i], (double)want[i], (double)got[i]);
  }
  return bad;
}

typedef struct shape {
  int rank;
  int64_t dims[4];
} shape;

static const shape SHAPES[] = {
    {2, {24, 64}},      /* rows of edge cases, blocks along the last axis */
    {3, {4, 37, 9}},    /* ragged blocks, short inner runs */
    {3, {6, 16, 96}},   /* long inner runs (per channel on axis 1) */
    {2, {3, 1}},        /* groups of one */
    {1, {40000}},       /* 1-D across chunk boundaries */
    {4, {2, 5, 3, 70}}, /* blocks on an inner axis with wide rows */
};

static size_t numel(const shape *s) {
  size_t n = 1;
  for (int d = 0; d < s->rank; d++) n *= (size_t)s->dims[d];
  return n;
}

static const char *const SPECS[] = {
    "int,8",
    "int,4,narrow",
    "int,8,asym",
    "int,5,unsigned",
    "int,16",
    "int,8,axis=0",
    "int,8,axis=channel",
    "int,8,asym,axis=-1",
    "int,6,asym,axis=0",
    "int,4,axis=1",
    "int,4,axis=-2",
    "int,4,group=16",
    "int,4,asym,axis=1,group=5",
    "int,6,axis=0,group=3",
    "int,8,group=1",
    "int,4,round=nearest",
    "int,4,round=half_up,axis=1",
    "int,4,round=half_down,group=8",
    "int,4,round=half_zero",
    "int,4,round=down,asym",
    "int,4,round=up,unsigned,axis=0",
    "int,4,round=zero,group=32",
    "int,4,round=away,axis=-1,group=7",
    "int,4,round=stochastic,seed=3",
    "int,8,round=stochastic,axis=1",
    "int,3,round=stochastic,asym,axis=1,group=4",
    "int,8,round=stochastic,group=32",
    "int,8,scale=bf16",
    "int,8,scale=fp16,axis=0",
    "int,8,scale=fp8e4m3,group=8",
    "int,8,scale=e8m0,axis=1",
    "int,4,scale=po2,group=16",
    "fp8e4m3,scaled",
    "fp8e5m2,scaled,axis=0",
    "fp16,scaled,axis=channel",
    "fp6e3m2,scaled,group=32",
    "fp4e2m1,scaled,axis=1,group=4",
    "float,5,0,scaled,group=8",
    "fp8e4m3,scaled,round=stochastic,group=16",
    "fp8e4m3,scaled,round=zero,axis=1",
    "fp8e4m3,scaled,subnormals=false,group=16",
    "mxfp8e4m3",
    "mxfp8e5m2",
    "mxfp6e3m2",
    "mxfp6e2m3",
    "mxfp4",
    "mxint8",
    "mxfp4,scale_round=ceil",
    "mxint8,scale_round=ceil,axis=1",
    "mxfp4,axis=0,group=5",
    "nvfp4",
    "nvfp4,axis=1",
    "nvfp4,group=7",
    "bfp,8",
    "bfp,2,group=3",
    "bfp,16,axis=1,group=32",
};
enum { N_SPECS = sizeof SPECS / sizeof *SPECS };

/* The fast paths against the reference, for every spec and shape. */
static void test_fast_equals_reference(void **state) {
  (void)state;
  size_t bad = 0, cmax = 40000;
  float *in = malloc(cmax * sizeof *in), *ref = malloc(cmax * sizeof *ref);
  float *got = malloc(cmax * sizeof *got);
  assert_non_null(in);
  assert_non_null(ref);
  assert_non_null(got);
  for (size_t si = 0; si < N_SPECS; si++) {
    tq_quantizer *q = parse(SPECS[si]);
    for (size_t hi = 0; hi < sizeof SHAPES / sizeof *SHAPES; hi++) {
      const shape *sh = &SHAPES[hi];
      size_t n = numel(sh);
      make_inputs(in, n, 0x5EEDu + si * 31 + hi);
      tq_quant_site site = TQ_QUANT_SITE_INIT;
      site.rank = sh->rank;
      site.dims = sh->dims;
      tq_quant_opts ro = {
          .seed = 9, .stream = 2, .offset = 5, .force_reference = 1};
      tq_status st = tq_quantize_tensor(ctx_, q, in, ref, n, &site, &ro);
      if (st != TQ_OK) {
        /* An axis beyond a small rank: refused the same by both. */
        assert_int_equal(st, TQ_ERR_SHAPE);
        continue;
      }
      char what[64];
      for (int isa = 0; isa <= (int)tq_isa_detect(); isa++) {
        tq_context_set_isa_cap(ctx_, isa);
        for (int threads = 1; threads <= 3; threads += 2) {
          tq_quant_opts o = {
              .seed = 9, .stream = 2, .offset = 5, .threads = threads};
          for (size_t i = 0; i < n; i++) got[i] = -1234.5f;
          assert_int_equal(tq_quantize_tensor(ctx_, q, in, got, n, &site, &o),
                           TQ_OK);
          snprintf(what, sizeof what, "%s, %d threads, shape %zu",
                   tq_isa_name((tq_isa)isa), threads, hi);
          bad += differences(SPECS[si], what, in, ref, got, n);
        }
        tq_context_set_isa_cap(ctx_, -1);
      }
      /* In place. */
      for (size_t i = 0; i < n; i++) got[i] = in[i];
      tq_quant_opts o = {.seed = 9, .stream = 2, .offset = 5};
      assert_int_equal(tq_quantize_tensor(ctx_, q, got, got, n, &site, &o),
                       TQ_OK);
      bad += differences(SPECS[si], "in place", in, ref, got, n);
    }
    tq_quantizer_destroy(q);
  }
  free(in);
  free(ref);
  free(got);
  assert_int_equal(bad, 0);
}

/* llama.cpp's blocks: every kernel set gives the reference's bits, and
 * tq_quantize is the 1-D tensor. */
static void test_ggml_kernels(void **state) {
  (void)state;
  static const char *const G[] = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1"};
  size_t n = 24 * 64 * 3;
  float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref);
  float *got = malloc(n * sizeof *got);
  assert_non_null(in);
  assert_non_null(ref);
  assert_non_null(got);
  make_inputs(in, n, 77);
  size_t bad = 0;
  for (size_t k = 0; k < sizeof G / sizeof *G; k++) {
    tq_quantizer *q = parse(G[k]);
    tq_quant_opts ro = {.force_reference = 1};
    assert_int_equal(tq_quantize(ctx_, q, in, ref, n, &ro), TQ_OK);
    for (int isa = 0; isa <= (int)tq_isa_detect(); isa++) {
      tq_context_set_isa_cap(ctx_, isa);
      tq_quant_opts o = {.threads = 2};
      assert_int_equal(tq_quantize(ctx_, q, in, got, n, &o), TQ_OK);
      tq_context_set_isa_cap(ctx_, -1);
      bad += differences(G[k], tq_isa_name((tq_isa)isa), in, ref, got, n);
    }
    /* 1-D: n must be a multiple of 32. */
    assert_int_equal(tq_quantize(ctx_, q, in, got, 48, NULL), TQ_ERR_SHAPE);
    assert_non_null(
        strstr(tq_context_last_error(ctx_), "not a multiple of 32"));
    tq_quantizer_destroy(q);
  }
  free(in);
  free(ref);
  free(got);
  assert_int_equal(bad, 0);
}

/* tq_quantize on a grouped kind = tq_quantize_tensor of [n]. */
static void test_quantize_is_1d(void **state) {
  (void)state;
  size_t n = 1000;
  float *in = malloc(n * sizeof *in), *a = malloc(n * sizeof *a);
  float *b = malloc(n * sizeof *b);
  assert_non_null(in);
  assert_non_null(a);
  assert_non_null(b);
  make_inputs(in, n, 3);
  static const char *const S[] = {"int,8", "mxfp4", "nvfp4", "bfp,4",
                                  "int,4,round=stochastic,group=32"};
  int64_t dims[1] = {(int64_t)n};
  for (size_t k = 0; k < sizeof S / sizeof *S; k++) {
    tq_quantizer *q = parse(S[k]);
    tq_quant_opts o = {.seed = 1, .offset = 7};
    tq_quant_site site = TQ_QUANT_SITE_INIT;
    site.rank = 1;
    site.dims = dims;
    assert_int_equal(tq_quantize(ctx_, q, in, a, n, &o), TQ_OK);
    assert_int_equal(tq_quantize_tensor(ctx_, q, in, b, n, &site, &o), TQ_OK);
    assert_int_equal(differences(S[k], "1-D", in, a, b, n), 0);
    assert_int_equal(tq_quantize_tensor(ctx_, q, in, b, n, NULL, &o), TQ_OK);
    assert_int_equal(differences(S[k], "NULL site", in, a, b, n), 0);
    tq_quantizer_destroy(q);
  }
  free(in);
  free(a);
  free(b);
}

/* Hand-computed values, one per rule. */
static void test_values(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    int n;
    float in[8], want[8];
  } CASES[] = {
      /* amax 127: s = 1; ties to even; -0 -> +0 (integer grid). */
      {"int,8", 6, {127, 2.5f, -3.5f, -0.0f, 0.4f, 1}, {127, 2, -4, 0, 0, 1}},
      /* s = 134/127 stored as E4M3 1.0: -134 clamps at qmin = -128, or at
       * -127 with narrow. */
      {"int,8,scale=fp8e4m3", 2, {-134, 1}, {-128, 1}},
      {"int,8,narrow,scale=fp8e4m3", 2, {-134, 1}, {-127, 1}},
      /* asym: lo 0, hi 255 -> s 1, zp 0; negatives clamp to 0. */
      {"int,8,asym", 3, {255, 3.5f, 0}, {255, 4, 0}},
      /* asym: [-64, 191] -> s = 1, zp = 64; the grid 0..255 is -64..191. */
      {"int,8,asym", 4, {-64, 191, 3.5f, 0}, {-64, 191, 4, 0}},
      /* zero group -> zeros; NaN group -> NaN. */
      {"int,4", 3, {0, -0.0f, 0}, {0, 0, 0}},
      /* mxfp4: amax 7.9 -> X = 2^(2-2) = 1, 7.9 saturates to 6. */
      {"mxfp4", 4, {7.9f, 2.5f, -0.25f, 0.75f}, {6, 2, -0.0f, 1}},
      /* ceil: X = 2, 7.9/2 = 3.95 -> 4 -> 8. */
      {"mxfp4,scale_round=ceil", 2, {7.9f, 2.5f}, {8, 2}},
      /* mxint8: amax 1 -> X = 1, q = round_even(x * 64) / 64. */
      {"mxint8", 3, {1, 0.5f / 64, 1.5f / 64}, {1, 0, 2.0f / 64}},
      /* bfp,4: amax 3 -> e = 1, step 2^(1-4+2) = 0.5, q within +-7. */
      {"bfp,4", 4, {3, 1.25f, -0.75f, 0.1f}, {3, 1, -1, 0}},
      /* nvfp4: t = 6/2688, sb = e4m3(1 / t) = 448, d = 448 t = 1. */
      {"nvfp4", 3, {6, 2.5f, -0.75f}, {6, 2, -1}},
      /* fp8e4m3 scaled: s = 448/448 = 1; 465 is no input here. */
      {"fp8e4m3,scaled", 3, {448, 17, -0.0f}, {448, 16, -0.0f}},
  };
  float got[8];
  for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
    tq_quantizer *q = parse(CASES[k].spec);
    assert_int_equal(
        tq_quantize(ctx_, q, CASES[k].in, got, (size_t)CASES[k].n, NULL),
        TQ_OK);
    for (int i = 0; i < CASES[k].n; i++)
      if (tq_test_bits(got[i]) != tq_test_bits(CASES[k].want[i]))
        fail_msg("%s [%d]: %a -> %a, want %a", CASES[k].spec, i,
                 (double)CASES[k].in[i], (double)got[i],
                 (double)CASES[k].want[i]);
    tq_quantizer_destroy(q);
  }
  /* NaN or inf anywhere in a group: the group's outputs are NaN. */
  float x[4] = {1, NAN, 2, 3}, y[4];
  tq_quantizer *q = parse("int,8,group=2");
  assert_int_equal(tq_quantize(ctx_, q, x, y, 4, NULL), TQ_OK);
  assert_true(isnan(y[0]) && isnan(y[1]) && !isnan(y[2]) && !isnan(y[3]));
  tq_quantizer_destroy(q);
  x[1] = INFINITY;
  q = parse("mxfp8e4m3,group=2");
  assert_int_equal(tq_quantize(ctx_, q, x, y, 4, NULL), TQ_OK);
  assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 2 && y[3] == 3);
  tq_quantizer_destroy(q);
}

/* bfp,8,group=32 and mxint8 agree where every block's amax >= 2^-120. */
static void test_bfp_is_mxint8(void **state) {
  (void)state;
  size_t n = 32 * 2000;
  float *in = malloc(n * sizeof *in), *a = malloc(n * sizeof *a);
  float *b = malloc(n * sizeof *b);
  assert_non_null(in);
  assert_non_null(a);
  assert_non_null(b);
  uint64_t rng = 42;
  for (size_t i = 0; i < n; i++) {
    uint64_t r = tq_test_rand(&rng);
    int e = (int)((i / 32 * 7919) % 245) - 120; /* 2^-120 .. 2^124 */
    double g = (double)(r >> 11) * 0x1p-53 * 2.0 - 1.0;
    in[i] = (float)ldexp(g, e);
    if (i % 32 == 0) in[i] = (float)ldexp(1.0 + fabs(g) / 2, e);
    if (i % 997 == 0) in[i] = (float)ldexp((double)(i % 9) - 4.5, e - 6);
  }
  tq_quantizer *p = parse("bfp,8,group=32"), *m = parse("mxint8");
  assert_int_equal(tq_quantize(ctx_, p, in, a, n, NULL), TQ_OK);
  assert_int_equal(tq_quantize(ctx_, m, in, b, n, NULL), TQ_OK);
  assert_int_equal(differences("bfp,8,group=32 vs mxint8", "", in, a, b, n), 0);
  tq_quantizer_destroy(p);
  tq_quantizer_destroy(m);
  free(in);
  free(a);
  free(b);
}

static void test_spec_errors(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    tq_status st;
    const char *msg;
  } BAD[] = {
      {"int", TQ_ERR_PARSE, "takes 1 numeric argument"},
      {"int,1", TQ_ERR_RANGE,
       "integer bits B must be between 2 and 16, got 1 at position 5"},
      {"int,8,grp=2", TQ_ERR_PARSE, "unknown option 'grp' at position 7"},
      {"int,8,group=0", TQ_ERR_RANGE, "group must be between 1"},
      {"int,8,group=x", TQ_ERR_PARSE,
       "group must be a positive integer, got 'x'"},
      {"int,8,axis=1.5", TQ_ERR_PARSE, "axis must be an integer or 'channel'"},
      {"int,8,axis=99", TQ_ERR_RANGE, "axis must be between -64 and 63"},
      {"int,8,asym,narrow", TQ_ERR_PARSE, "applies to sym only"},
      {"int,8,asym,unsigned", TQ_ERR_PARSE, "exclude each other"},
      {"int,8,asym=1", TQ_ERR_PARSE, "takes no value"},
      {"int,8,scale=fp64", TQ_ERR_PARSE, "unknown scale format 'fp64'"},
      {"int,8,static,group=4", TQ_ERR_PARSE, "excludes axis= and group="},
      {"int,8,scale_round=ceil", TQ_ERR_PARSE, "does not apply to 'int'"},
      {"bf16,scaled", TQ_ERR_RANGE, "at most 5 bits, got 8"},
      {"float,6,3,scaled", TQ_ERR_RANGE, "at most 5 bits, got 6"},
      {"fp8e4m3,group=32", TQ_ERR_PARSE, "add the option scaled"},
      {"fp8e4m3,axis=0", TQ_ERR_PARSE, "add the option scaled"},
      {"mxfp4,axis=channel", TQ_ERR_PARSE,
       "axis must be an integer, got 'channel'"},
      {"mxfp4,scale=fp16", TQ_ERR_PARSE, "does not apply to 'mxfp4'"},
      {"mxfp4,scale_round=up", TQ_ERR_PARSE, "unknown scale rounding 'up'"},
      {"nvfp4,round=zero", TQ_ERR_PARSE, "does not apply to 'nvfp4'"},
      {"bfp,8,static", TQ_ERR_PARSE, "does not apply to 'bfp'"},
      {"bfp,17", TQ_ERR_RANGE, "element bits M must be between 2 and 16"},
      {"q4_0,group=16", TQ_ERR_PARSE, "does not apply to 'q4_0'"},
      {"nearest,8,4,group=4", TQ_ERR_PARSE, "does not apply to 'nearest'"},
  };
  for (size_t k = 0; k < sizeof BAD / sizeof *BAD; k++) {
    tq_quantizer *q = NULL;
    tq_status st = tq_quantizer_parse(ctx_, BAD[k].spec, &q);
    const char *msg = tq_context_last_error(ctx_);
    if (st != BAD[k].st || !strstr(msg, BAD[k].msg) ||
        !strstr(msg, BAD[k].spec))
      fail_msg("'%s': status %d, message '%s'; want %d and '%s'", BAD[k].spec,
               (int)st, msg, (int)BAD[k].st, BAD[k].msg);
    assert_null(q);
  }
}

static void test_canonical(void **state) {
  (void)state;
  static const struct {
    const char *spec, *canon;
  } C[] = {
      {"int,8,sym", "int,8"},
      {"int,8,round=even,scale=fp32", "int,8"},
      {"int,4,group=32,asym,round=zero", "int,4,asym,group=32,round=zero"},
      {"int,8,axis=channel,narrow", "int,8,narrow,axis=channel"},
      {"int,8,static,scale=po2", "int,8,scale=po2,static"},
      {"float,4,3,fn,scaled,axis=-1", "fp8e4m3,scaled,axis=-1"},
      {"fp8e4m3,scaled,sat", "fp8e4m3,scaled"},
      {"mxfp4,group=32", "mxfp4"},
      {"mxfp4,scale_round=floor,axis=0", "mxfp4,axis=0"},
      {"nvfp4,group=16", "nvfp4"},
      {"bfp,8,group=16", "bfp,8"},
      {"bfp,8,group=32", "bfp,8,group=32"},
      {"q5_1", "q5_1"},
  };
  for (size_t k = 0; k < sizeof C / sizeof *C; k++) {
    tq_quantizer *q = parse(C[k].spec);
    assert_string_equal(tq_quantizer_spec(q), C[k].canon);
    tq_quantizer *again = parse(C[k].canon);
    assert_memory_equal(tq_quantizer_params(again), tq_quantizer_params(q),
                        sizeof(tq_quant_params));
    tq_quantizer_destroy(again);
    tq_quantizer_destroy(q);
  }
}

static void test_bits(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    double bits;
  } B[] = {
      {"int,8", 8},
      {"int,8,axis=0", 8},
      {"int,4,group=32", 5},                  /* 4 + 32/32 */
      {"int,4,asym,group=32", 4 + 36.0 / 32}, /* + a 4-bit zero point */
      {"int,4,group=32,scale=fp16", 4.5},
      {"int,4,group=16,scale=e8m0", 4.5},
      {"fp8e4m3,scaled", 8},
      {"fp8e4m3,scaled,group=32", 9},
      {"mxfp4", 4.25},
      {"mxfp6e2m3", 6.25},
      {"mxfp8e5m2", 8.25},
      {"mxint8", 8.25},
      {"mxfp4,group=16", 4.5},
      {"nvfp4", 4.5},
      {"bfp,8", 8.5},
      {"bfp,8,group=32", 8.25},
      {"q8_0", 8.5},
      {"q4_0", 4.5},
      {"q4_1", 5},
      {"q5_0", 5.5},
      {"q5_1", 6},
  };
  for (size_t k = 0; k < sizeof B / sizeof *B; k++) {
    tq_quantizer *q = parse(B[k].spec);
    if (tq_quantizer_bits(q) != B[k].bits)
      fail_msg("%s: %g bits, want %g", B[k].spec, tq_quantizer_bits(q),
               B[k].bits);
    tq_quantizer_destroy(q);
  }
}

static void test_resolve(void **state) {
  (void)state;
  int64_t dims[4] = {8, 16, 3, 3};
  tq_quant_site site = TQ_QUANT_SITE_INIT;
  site.rank = 4;
  site.dims = dims;
  site.channel_axis = 0;
  site.block_axis = 1;
  static const struct {
    const char *spec;
    int axis;
    int64_t group;
  } R[] = {
      {"fp16", -1, 1},           {"nearest,8,4", -1, 1},
      {"int,8", -1, 0},          {"int,8,axis=channel", 0, 0},
      {"int,8,axis=-1", 3, 0},   {"int,4,group=32", 1, 32},
      {"mxfp4", 1, 32},          {"mxfp4,axis=-1", 3, 32},
      {"nvfp4", 1, 16},          {"bfp,8,group=8", 1, 8},
      {"fp8e4m3,scaled", -1, 0}, {"q4_0", 3, 32},
  };
  for (size_t k = 0; k < sizeof R / sizeof *R; k++) {
    tq_quantizer *q = parse(R[k].spec);
    int axis = 99;
    int64_t group = 99;
    tq_status st = tq_quantizer_resolve(ctx_, q, &site, &axis, &group);
    if (!strcmp(R[k].spec, "q4_0")) {
      /* The last axis (3) is no multiple of 32. */
      assert_int_equal(st, TQ_ERR_SHAPE);
    } else {
      assert_int_equal(st, TQ_OK);
      if (axis != R[k].axis || group != R[k].group)
        fail_msg("%s: axis %d group %lld, want %d %lld", R[k].spec, axis,
                 (long long)group, R[k].axis, (long long)R[k].group);
    }
    tq_quantizer_destroy(q);
  }
  /* Defaults: the last axis; NULL site: 1-D. */
  tq_quantizer *q = parse("int,8,axis=channel");
  tq_quant_site def = TQ_QUANT_SITE_INIT;
  def.rank = 4;
  def.dims = dims;
  int axis;
  int64_t group;
  assert_int_equal(tq_quantizer_resolve(ctx_, q, &def, &axis, &group), TQ_OK);
  assert_int_equal(axis, 3);
  assert_int_equal(tq_quantizer_resolve(ctx_, q, NULL, &axis, NULL), TQ_OK);
  assert_int_equal(axis, 0);
  tq_quantizer_destroy(q);
  /* Beyond the rank: the error names the spec and the axis. */
  q = parse("int,8,axis=4");
  assert_int_equal(tq_quantizer_resolve(ctx_, q, &site, &axis, &group),
                   TQ_ERR_SHAPE);
  const char *msg = tq_context_last_error(ctx_);
  assert_non_null(strstr(msg, "'int,8,axis=4'"));
  assert_non_null(
      strstr(msg, "axis 4 is beyond the rank-4 tensor [8, 16, 3, 3]"));
  tq_quantizer_destroy(q);
  q = parse("mxfp4");
  site.block_axis = -5;
  assert_int_equal(tq_quantizer_resolve(ctx_, q, &site, &axis, &group),
                   TQ_ERR_SHAPE);
  assert_non_null(strstr(tq_context_last_error(ctx_), "site's block axis -5"));
  tq_quantizer_destroy(q);
}

static void test_site_checks(void **state) {
  (void)state;
  tq_quantizer *q = parse("int,8");
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
  int64_t dims[2] = {2, 3};
  tq_quant_site s = TQ_QUANT_SITE_INIT;
  s.rank = 2;
  s.dims = dims;
  assert_int_equal(tq_quantize_tensor(ctx_, q, x, y, 5, &s, NULL),
                   TQ_ERR_SHAPE);
  assert_non_null(
      strstr(tq_context_last_error(ctx_), "has 6 elements, the buffer 5"));
  tq_quant_site bad = s;
  bad.struct_size = 8;
  assert_int_equal(tq_quantize_tensor(ctx_, q, x, y, 6, &bad, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx_), "tq_quant_site_init"));
  tq_quant_site z;
  memset(&z, 0x77, sizeof z);
  tq_quant_site_init(&z);
  assert_int_equal(z.struct_size, sizeof z);
  assert_int_equal(z.channel_axis, -1);
  assert_int_equal(z.block_axis, -1);
  assert_int_equal(z.has_range, 0);
  tq_quantizer_destroy(q);
  /* static: the scale from the range, elements never NaN from others. */
  q = parse("int,8,static");
  assert_int_equal(tq_quantize_tensor(ctx_, q, x, y, 6, &s, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx_), "int,8,static"));
  s.has_range = 1;
  s.range_lo = -1;
  s.range_hi = 12.7;
  x[1] = NAN;
  x[2] = INFINITY;
  assert_int_equal(tq_quantize_tensor(ctx_, q, x, y, 6, &s, NULL), TQ_OK);
  float sc = 12.7f / 127.0f;
  assert_true(y[0] == 10.0f * sc && isnan(y[1]) && y[2] == 127.0f * sc &&
              y[5] == 60.0f * sc);
  s.range_lo = 2;
  s.range_hi = 1;
  assert_int_equal(tq_quantize_tensor(ctx_, q, x, y, 6, &s, NULL),
                   TQ_ERR_RANGE);
  tq_quantizer_destroy(q);
  /* Element-wise kinds take a site too, and ignore its axes. */
  q = parse("nearest,8,4");
  s.has_range = 0;
  assert_int_equal(tq_quantize_tensor(ctx_, q, x, y, 6, &s, NULL), TQ_OK);
  assert_true(y[0] == 1.0f && y[3] == 4.0f);
  tq_quantizer_destroy(q);
}

/* The intrinsic GEMM and the accumulator refuse shared scales. */
static void test_not_intrinsic(void **state) {
  (void)state;
  static const char *const S[] = {"int,8", "fp8e4m3,scaled", "mxfp4",
                                  "nvfp4", "bfp,8",          "q8_0"};
  for (size_t k = 0; k < sizeof S / sizeof *S; k++) {
    tq_quantizer *q = parse(S[k]);
    const tq_quant_params *p = tq_quantizer_params(q);
    const tq_kind_traits *tr = tq_kind_traits_get(p->kind);
    assert_non_null(tr->intrinsic_unsupported);
    assert_non_null(tr->intrinsic_unsupported(p));
    assert_true(tq_quantizer_grouped(q));
    double lo, hi;
    tq_quantizer_range(q, &lo, &hi);
    assert_true(isinf(lo) && isinf(hi)); /* the range follows the data */
    tq_quantizer_destroy(q);
  }
  tq_quantizer *q = parse("fp8e4m3");
  assert_false(tq_quantizer_grouped(q));
  tq_quantizer_destroy(q);
}

/* NVFP4's E4M3 rounding on the bit pattern equals the float kind's
 * definition of fp8e4m3,sat: on every midpoint between neighbouring codes
 * and its float32 neighbours (the ties), and on float32s by a stride. */
static size_t e4m3_check(const tq_quantizer *q, float v) {
  const tq_kind_traits *tr = tq_kind_traits_get(TQ_QUANT_FLOAT);
  float want = (float)tr->define(q, v, 0.0, 0.0), got = tq_e4m3_sat(v);
  if (tq_test_bits(want) == tq_test_bits(got)) return 0;
  printf("e4m3 %a: want %a got %a\n", (double)v, (double)want, (double)got);
  return 1;
}

static void test_e4m3_helper(void **state) {
  (void)state;
  tq_quantizer *q = parse("fp8e4m3,sat");
  size_t bad = 0;
  for (uint32_t b = 0; b < 0x7f800000u; b += 61)
    bad += e4m3_check(q, tq_test_float(b));
  float prev = 0.0f;
  for (int k = -9; k <= 9; k++)
    for (int m = 0; m < 8; m++) {
      float code =
          k == -9 ? (float)ldexp(m, -9) : (float)ldexp(1.0 + m / 8.0, k);
      float mid = (prev + code) / 2; /* exact: both on the 2^-10 grid */
      bad += e4m3_check(q, mid) + e4m3_check(q, nextafterf(mid, 0)) +
             e4m3_check(q, nextafterf(mid, INFINITY)) + e4m3_check(q, code);
      if (code > prev) prev = code;
    }
  tq_quantizer_destroy(q);
  assert_int_equal(bad, 0);
}

/* llama.cpp's fp16 scale rounding on the bit pattern equals the float
 * kind's fp16 on float32s by a stride and around every fp16 tie. */
static void test_fp16_helper(void **state) {
  (void)state;
  tq_quantizer *q = parse("fp16");
  const tq_kind_traits *tr = tq_kind_traits_get(TQ_QUANT_FLOAT);
  size_t bad = 0;
  for (uint32_t b = 0; b < 0xff800000u; b += 331) {
    float v = tq_test_float(b);
    if (isnan(v)) continue;
    float want = (float)tr->define(q, v, 0.0, 0.0), got = tq_fp16_round(v);
    float mid = (float)ldexp(1.0 + (double)(b % 1024) / 1024 + 1.0 / 2048,
                             (int)(b % 40) - 24);
    float want2 = (float)tr->define(q, mid, 0.0, 0.0);
    if (tq_test_bits(want) != tq_test_bits(got) ||
        tq_test_bits(want2) != tq_test_bits(tq_fp16_round(mid)))
      if (bad++ < 3) printf("fp16 %a / %a\n", (double)v, (double)mid);
  }
  tq_quantizer_destroy(q);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fast_equals_reference),
      cmocka_unit_test(test_ggml_kernels),
      cmocka_unit_test(test_quantize_is_1d),
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_bfp_is_mxint8),
      cmocka_unit_test(test_spec_errors),
      cmocka_unit_test(test_canonical),
      cmocka_unit_test(test_bits),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_site_checks),
      cmocka_unit_test(test_not_intrinsic),
      cmocka_unit_test(test_e4m3_helper),
      cmocka_unit_test(test_fp16_helper),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
