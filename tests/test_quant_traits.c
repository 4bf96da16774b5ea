/* The quantizer trait table (src/quant/dispatch.c, kind_*.c) and the
 * dispatch around it:
 *  - every entry is complete and agrees with itself: its rows parse to its
 *    kind, the canonical form parses back to the same parameters, bits
 *    and the intrinsic form are consistent, the scalar reference kernel is
 *    the double definition on float32, and the kernel of every set the
 *    CPU has gives the reference's bits (edge cases and random patterns);
 *  - forced kernel sets: with the context's cap at each set the CPU has,
 *    tq_quantize gives the reference's bits for every family and option;
 *  - the dispatch rules: the cap, the fallback to a lower set, the names;
 *  - the size-versioned tq_quant_params: tq_quantizer_create rejects a
 *    struct without a valid struct_size, or one that sets fields this
 *    library lacks, with a clear error. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/context_internal.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"
#include "testutil.h"

enum { N_INPUTS = 6000 };

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
  tq_status st = tq_quantizer_parse(ctx_, spec, &q);
  if (st != TQ_OK) fail_msg("'%s': %s", spec, tq_context_last_error(ctx_));
  return q;
}

/* Specials (zeros, subnormals, extremes, inf, NaN with payloads), values
 * on and between the grids of small formats (ties), and random bit
 * patterns. */
static void make_inputs(float *x, size_t n, uint64_t seed) {
  static const float SPECIAL[] = {
      0.0f,     -0.0f,  0x1p-149f, -0x1p-149f, 0x1p-126f, -0x1.fffffcp-127f,
      1.0f,     -1.0f,  0.5f,      -2.5f,      448.0f,    465.0f,
      65520.0f, -7.75f, 3e38f,     -3e38f,     INFINITY,  -INFINITY,
      NAN,      -NAN};
  size_t ns = sizeof SPECIAL / sizeof *SPECIAL, i = 0;
  for (; i < ns && i < n; i++) x[i] = SPECIAL[i];
  x[i++] = tq_test_float(0x7f800001u); /* signalling NaN: payload kept */
  x[i++] = tq_test_float(0xffc01234u);
  uint64_t rng = seed;
  for (; i < n; i++) {
    uint64_t r = tq_test_rand(&rng);
    if (i % 3 == 0) {
      x[i] = tq_test_float((uint32_t)r);
    } else {
      double k = (double)((r >> 8) % 4001) - 2000.0; /* halves: ties */
      x[i] = (float)ldexp(k / 2.0, -(int)((r >> 40) % 12));
    }
  }
}

/* Same bits, or NaN both where the kind may change a NaN's payload. */
static size_t count_differences(const char *spec, const char *what,
                                const float *in, const float *want,
                                const float *got, size_t n, int exact_nan) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (tq_test_bits(want[i]) == tq_test_bits(got[i])) continue;
    if (!exact_nan && isnan(want[i]) && isnan(got[i])) continue;
    if (bad++ < 3)
      printf("MISMATCH %s [%s] in=0x%08x want=0x%08x got=0x%08x\n", spec, what,
             tq_test_bits(in[i]), tq_test_bits(want[i]), tq_test_bits(got[i]));
  }
  return bad;
}

/* The kernel of every set the CPU has equals the scalar reference, and the
 * reference is the definition applied to float32 (NaN passed through). */
static size_t check_kernels(const tq_kind_traits *tr, const tq_quantizer *q) {
  const tq_quant_params *p = tq_quantizer_params(q);
  float *in = malloc(N_INPUTS * sizeof *in);
  float *ref = malloc(N_INPUTS * sizeof *ref);
  float *got = malloc(N_INPUTS * sizeof *got);
  assert_non_null(in);
  assert_non_null(ref);
  assert_non_null(got);
  make_inputs(in, N_INPUTS, 0x7A17u + (uint64_t)p->kind);
  double threshold = p->has_threshold ? p->threshold : 0.375;
  int stochastic = tq_quantizer_stochastic(q);
  size_t bad = 0;
  /* Random numbers from inside a Philox block, then from a block start
   * (the AVX2 kernels keep those in registers). */
  for (uint64_t first = 1001; first <= 1024; first += 23) {
    tq_rng_pos rng = {11, 3, first};
    tq_kind_kernel(tr, TQ_ISA_SCALAR)(q, in, ref, N_INPUTS, rng, threshold);
    for (size_t i = 0; i < N_INPUTS; i++) {
      double u = stochastic ? tq_stochastic_u(rng.seed, rng.stream,
                                              rng.first + (uint64_t)i)
                            : 0.0;
      got[i] = isnan(in[i]) ? in[i] : (float)tr->define(q, in[i], u, threshold);
    }
    bad += count_differences(tq_quantizer_spec(q), "define", in, got, ref,
                             N_INPUTS, 1);
    /* The whole buffer, and one whose tail is no whole vector (masked or
     * padded): nothing may be written past its end. */
    for (int isa = 1; isa <= (int)tq_isa_detect(); isa++)
      for (size_t n = N_INPUTS; n >= N_INPUTS - 7; n -= 7) {
        for (size_t i = 0; i < N_INPUTS; i++) got[i] = -1234.5f;
        tq_kind_kernel(tr, (tq_isa)isa)(q, in, got, n, rng, threshold);
        bad += count_differences(tq_quantizer_spec(q), tq_isa_name((tq_isa)isa),
                                 in, ref, got, n, p->kind == TQ_QUANT_NONE);
        for (size_t i = n; i < N_INPUTS; i++)
          bad += tq_test_bits(got[i]) != tq_test_bits(-1234.5f);
      }
  }
  free(in);
  free(ref);
  free(got);
  return bad;
}

/* A spec for a row: its name and min_args arguments of "2" (valid for
 * every kind: w = f = 2, e = m = 2, T = 2). */
static void row_spec(const tq_spec_row *row, char *buf, size_t size) {
  snprintf(buf, size, "%s", row->info.name);
  for (int a = 0; a < row->min_args; a++)
    snprintf(buf + strlen(buf), size - strlen(buf), ",2");
}

static void test_every_entry_complete(void **state) {
  (void)state;
  size_t rows_total = 0, bad = 0;
  for (int k = 0; k < TQ_QUANT_KIND_COUNT; k++) {
    const tq_kind_traits *tr = tq_kind_traits_get((tq_quant_kind)k);
    assert_non_null(tr);
    assert_int_equal(tr->kind, k);
    assert_non_null(tr->name);
    assert_non_null(tr->rows);
    assert_true(tr->row_count >= 1);
    assert_non_null(tr->format);
    assert_non_null(tr->bits);
    /* Element-wise kinds define one element; scaled ones a group's scale
     * (their traits' param), llama.cpp's a block (its kernel). */
    if (tr->kernels[TQ_ISA_SCALAR] == tq_ref_kernel)
      assert_non_null(tr->define);
    assert_true(tr->kernels[TQ_ISA_SCALAR] != NULL ||
                tr->grouped[TQ_ISA_SCALAR] != NULL);
    if (tr->grouped[TQ_ISA_SCALAR])
      assert_true(tr->groups && tr->groups->param);
    if (!tr->kernels[TQ_ISA_SCALAR]) assert_non_null(tr->intrinsic_unsupported);
    /* The inline intrinsic forms read the constants derive() sets. */
    if (tr->vec_form == TQ_VEC_FIXED || tr->vec_form == TQ_VEC_FLOAT)
      assert_non_null(tr->derive);
    /* Stochastic rounding needs a rounding mode. */
    if (tr->vec_form == TQ_VEC_FIXED || tr->vec_form == TQ_VEC_FLOAT)
      assert_true(tr->flags & TQ_KIND_ROUNDS);
    for (size_t r = 0; r < tr->row_count; r++) {
      const tq_spec_row *row = &tr->rows[r];
      assert_int_equal(row->kind, k);
      assert_true(row->min_args <= row->max_args);
      if (row->max_args > 0) assert_non_null(tr->parse_args);
      assert_non_null(row->info.description);
      assert_int_equal(
          strncmp(row->info.usage, row->info.name, strlen(row->info.name)), 0);
      char spec[96];
      row_spec(row, spec, sizeof spec);
      tq_quantizer *q = parse(spec);
      const tq_quant_params *p = tq_quantizer_params(q);
      assert_int_equal(p->kind, k);
      assert_true(p->struct_size == sizeof *p);
      tq_quantizer *again = parse(tq_quantizer_spec(q));
      assert_memory_equal(tq_quantizer_params(again), p, sizeof *p);
      assert_string_equal(tq_quantizer_spec(again), tq_quantizer_spec(q));
      tq_quantizer_destroy(again);
      assert_true(tq_quantizer_bits(q) == tr->bits(p));
      if (tr->kernels[TQ_ISA_SCALAR] && !tq_quantizer_grouped(q))
        bad += check_kernels(tr, q);
      tq_quantizer_destroy(q);
    }
    rows_total += tr->row_count;
  }
  assert_int_equal(bad, 0);
  /* `tq formats` lists every row once; names are unique. */
  assert_int_equal(rows_total, tq_format_count());
  for (size_t i = 0; i < rows_total; i++)
    for (size_t j = i + 1; j < rows_total; j++)
      assert_true(strcmp(tq_format_get(i)->name, tq_format_get(j)->name));
  assert_null(tq_format_get(rows_total));
}

/* Options and modes the rows alone do not reach, through every kernel. */
static const char *const VARIANTS[] = {
    "stochastic,8,4",
    "stochastic,16,12,overflow=wrap,signed=false",
    "even,8,4,overflow=wrap",
    "nearest,32,16",
    "half_up,6,-3,overflow=sat_sym",
    "away,12,40,signed=false",
    "float,4,3,round=stochastic",
    "bf16,round=stochastic,seed=5",
    "fp8e4m3,sat",
    "float,5,2,round=up",
    "float,5,2,round=down,sat",
    "bf16,round=zero",
    "float,6,0,round=nearest",
    "float,6,4,subnormals=false",
    "fp6e3m2,round=stochastic",
    "sparse,0",
    "binary,0.25",
    "ternary,2",
    "ternary,1,0.05",
    "nearest,8,4,ste=clipped",
};
enum { N_VARIANTS = sizeof VARIANTS / sizeof *VARIANTS };

static void test_variants_every_isa(void **state) {
  (void)state;
  size_t bad = 0;
  for (size_t i = 0; i < N_VARIANTS; i++) {
    tq_quantizer *q = parse(VARIANTS[i]);
    bad += check_kernels(tq_kind_traits_get(tq_quantizer_params(q)->kind), q);
    tq_quantizer_destroy(q);
  }
  assert_int_equal(bad, 0);
}

/* tq_quantize with the context capped at each set the CPU has gives the
 * bits of the scalar reference (force_reference), ternary's tensor-wide
 * threshold included, across chunk boundaries. */
static void test_forced_isa(void **state) {
  (void)state;
  const size_t n = 40000; /* three chunks */
  float *in = malloc(n * sizeof *in), *ref = malloc(n * sizeof *ref);
  float *got = malloc(n * sizeof *got);
  assert_non_null(in);
  assert_non_null(ref);
  assert_non_null(got);
  size_t bad = 0;
  for (size_t i = 0; i < N_VARIANTS + 3; i++) {
    const char *spec = i < N_VARIANTS        ? VARIANTS[i]
                       : i == N_VARIANTS     ? "ternary"
                       : i == N_VARIANTS + 1 ? "fp16"
                                             : "logarithmic";
    tq_quantizer *q = parse(spec);
    make_inputs(in, n, 0xF0CEu + i);
    /* Ternary without T: finite data, so that T is finite. */
    if (i == N_VARIANTS)
      for (size_t j = 0; j < n; j++)
        if (!isfinite(in[j])) in[j] = 0.25f;
    tq_quant_opts ro = {
        .seed = 9, .stream = 4, .offset = 77, .force_reference = 1};
    assert_int_equal(tq_quantize(ctx_, q, in, ref, n, &ro), TQ_OK);
    for (int isa = 0; isa <= (int)tq_isa_detect(); isa++) {
      tq_context_set_isa_cap(ctx_, isa);
      assert_int_equal(tq_isa_for(ctx_), isa);
      tq_quant_opts o = {.seed = 9, .stream = 4, .offset = 77, .threads = 2};
      tq_status st = tq_quantize(ctx_, q, in, got, n, &o);
      tq_context_set_isa_cap(ctx_, -1);
      assert_int_equal(st, TQ_OK);
      bad +=
          count_differences(spec, tq_isa_name((tq_isa)isa), in, ref, got, n, 0);
    }
    tq_quantizer_destroy(q);
  }
  free(in);
  free(ref);
  free(got);
  assert_int_equal(bad, 0);
}

static void test_isa_dispatch(void **state) {
  (void)state;
  tq_isa best = tq_isa_detect();
  assert_true(best < TQ_ISA_COUNT);
  assert_string_equal(tq_kernel_isa(), tq_isa_name(best));
  for (int i = 0; i < TQ_ISA_COUNT; i++)
    for (int j = i + 1; j < TQ_ISA_COUNT; j++)
      assert_true(strcmp(tq_isa_name((tq_isa)i), tq_isa_name((tq_isa)j)));
  assert_string_equal(tq_isa_name(TQ_ISA_SCALAR), "scalar");
  /* No cap: the CPU's best; a cap lowers, never raises. */
  assert_int_equal(tq_isa_for(NULL), best);
  assert_int_equal(tq_context_isa_cap(NULL), -1);
  tq_context *ctx;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  assert_int_equal(tq_context_isa_cap(ctx), -1);
  assert_int_equal(tq_isa_for(ctx), best);
  tq_context_set_isa_cap(ctx, TQ_ISA_SCALAR);
  assert_int_equal(tq_context_isa_cap(ctx), TQ_ISA_SCALAR);
  assert_int_equal(tq_isa_for(ctx), TQ_ISA_SCALAR);
  tq_context_set_isa_cap(ctx, TQ_ISA_COUNT + 3);
  assert_int_equal(tq_isa_for(ctx), best);
  tq_context_set_isa_cap(ctx, -1);
  assert_int_equal(tq_isa_for(ctx), best);
  tq_context_destroy(ctx);
  /* A kind without a kernel for a set runs the next lower set's. */
  tq_kind_traits partial = *tq_kind_traits_get(TQ_QUANT_FIXED);
  for (int i = 1; i < TQ_ISA_COUNT; i++) partial.kernels[i] = NULL;
  for (int i = 0; i < TQ_ISA_COUNT; i++)
    assert_true(tq_kind_kernel(&partial, (tq_isa)i) == tq_ref_kernel);
  assert_null(tq_kind_traits_get(TQ_QUANT_KIND_COUNT));
}

/* The tensor-wide statistic and intrinsic support: ternary without T only. */
static void test_tensor_rules(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    int tensor_wide;
  } CASES[] = {{"ternary", 1},     {"ternary,2", 1},   {"ternary,1,0.5", 0},
               {"nearest,8,4", 0}, {"binary", 0},      {"sparse,0.5", 0},
               {"fp16", 0},        {"logarithmic", 0}, {"none", 0}};
  for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
    tq_quantizer *q = parse(CASES[i].spec);
    const tq_quant_params *p = tq_quantizer_params(q);
    const tq_kind_traits *tr = tq_kind_traits_get(p->kind);
    double factor = 0;
    int wide = tr->mean_abs_threshold && tr->mean_abs_threshold(p, &factor);
    assert_int_equal(wide, CASES[i].tensor_wide);
    if (wide) assert_true(factor == 0.7);
    const char *why =
        tr->intrinsic_unsupported ? tr->intrinsic_unsupported(p) : NULL;
    assert_int_equal(why != NULL, CASES[i].tensor_wide);
    tq_quantizer_destroy(q);
  }
}

static void test_bits(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    double bits;
  } CASES[] = {{"nearest,8,4", 8},   {"stochastic,32,0", 32},
               {"even,1,0", 1},      {"fp16", 16},
               {"bf16", 16},         {"tf32", 19},
               {"fp8e4m3", 8},       {"fp8e5m2", 8},
               {"fp6e2m3", 6},       {"fp4e2m1", 4},
               {"float,6,9", 16},    {"binary,0.5", 1},
               {"ternary,1,0.5", 2}, {"none", 0},
               {"logarithmic", 0},   {"sparse,0.1", 0}};
  for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
    tq_quantizer *q = parse(CASES[i].spec);
    if (tq_quantizer_bits(q) != CASES[i].bits)
      fail_msg("%s: %g bits, want %g", CASES[i].spec, tq_quantizer_bits(q),
               CASES[i].bits);
    tq_quantizer_destroy(q);
  }
  assert_true(tq_quantizer_bits(NULL) == 0);
}

/* A caller's struct that is larger than the library's: its fields, then
 * fields a newer header might have added. */
typedef struct newer_params {
  tq_quant_params p;
  uint64_t later_field;
} newer_params;

static void test_params_struct_size(void **state) {
  (void)state;
  tq_quant_params p = TQ_QUANT_PARAMS_INIT;
  assert_true(p.struct_size == sizeof p);
  tq_quant_params q2;
  memset(&q2, 0x5A, sizeof q2);
  tq_quant_params_init(&q2);
  assert_memory_equal(&p, &q2, sizeof p);
  tq_quant_params_init(NULL); /* allowed, does nothing */

  p.kind = TQ_QUANT_FIXED;
  p.width = 8;
  p.frac = 4;
  p.is_signed = 1;
  tq_quantizer *q = NULL;
  assert_int_equal(tq_quantizer_create(ctx_, &p, &q), TQ_OK);
  assert_string_equal(tq_quantizer_spec(q), "nearest,8,4");
  assert_true(tq_quantizer_params(q)->struct_size == sizeof p);
  tq_quantizer_destroy(q);

  /* Not initialised: struct_size 0, or too small for the first version. */
  static const size_t BAD[] = {0, 4, offsetof(tq_quant_params, ste), 1u << 20};
  for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
    tq_quant_params b = p;
    b.struct_size = BAD[i];
    q = (tq_quantizer *)&b; /* must be reset to NULL */
    assert_int_equal(tq_quantizer_create(ctx_, &b, &q),
                     TQ_ERR_INVALID_ARGUMENT);
    assert_null(q);
    const char *msg = tq_context_last_error(ctx_);
    assert_non_null(strstr(msg, "struct_size"));
    assert_non_null(strstr(msg, "tq_quant_params_init"));
  }

  /* A newer caller: accepted while the fields this library lacks are 0. */
  newer_params n;
  memset(&n, 0, sizeof n);
  n.p = p;
  n.p.struct_size = sizeof n;
  assert_int_equal(tq_quantizer_create(ctx_, &n.p, &q), TQ_OK);
  assert_string_equal(tq_quantizer_spec(q), "nearest,8,4");
  assert_true(tq_quantizer_params(q)->struct_size == sizeof p);
  tq_quantizer_destroy(q);
  n.later_field = 3;
  assert_int_equal(tq_quantizer_create(ctx_, &n.p, &q), TQ_ERR_UNSUPPORTED);
  assert_null(q);
  assert_non_null(strstr(tq_context_last_error(ctx_), "does not have"));

  /* The smallest valid size (a caller built against the first version). */
  tq_quant_params v1 = p;
  v1.struct_size = offsetof(tq_quant_params, ste) + sizeof v1.ste;
  assert_int_equal(tq_quantizer_create(ctx_, &v1, &q), TQ_OK);
  tq_quantizer_destroy(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_entry_complete),
      cmocka_unit_test(test_variants_every_isa),
      cmocka_unit_test(test_forced_isa),
      cmocka_unit_test(test_isa_dispatch),
      cmocka_unit_test(test_tensor_rules),
      cmocka_unit_test(test_bits),
      cmocka_unit_test(test_params_struct_size),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
