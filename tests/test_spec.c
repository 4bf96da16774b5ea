/* Spec strings: parsing, canonical forms, and every kind of bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "quant/philox.h"
#include "testutil.h"

static tq_quantizer *parse_ok(const char *spec) {
  tq_context *ctx;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_quantizer *q = NULL;
  tq_status st = tq_quantizer_parse(ctx, spec, &q);
  if (st != TQ_OK) fail_msg("'%s': %s", spec, tq_context_last_error(ctx));
  tq_context_destroy(ctx);
  return q;
}

static void test_canonical_forms(void **state) {
  (void)state;
  static const char *const cases[][2] = {
      {"nearest,16,8", "nearest,16,8"},
      {" nearest , 16 , 8 ", "nearest,16,8"},
      {"even,8,4,overflow=wrap", "even,8,4,overflow=wrap"},
      {"even,8,4,overflow=sat", "even,8,4"},
      {"even,8,8,signed=false", "even,8,8,signed=false"},
      {"stochastic,8,4,seed=7", "stochastic,8,4,seed=7"},
      {"stochastic,8,4,seed=0x10", "stochastic,8,4,seed=16"},
      {"down,12,-3,signed=false,overflow=wrap",
       "down,12,-3,overflow=wrap,signed=false"},
      {"float,5,10", "fp16"},
      {"float,8,7", "bf16"},
      {"float,4,3,fn", "fp8e4m3"},
      {"float,4,3", "float,4,3"},
      {"float,2,1,finite", "fp4e2m1"},
      {"float,5,2,round=stochastic,seed=3", "fp8e5m2,round=stochastic,seed=3"},
      {"bf16,sat,subnormals=false", "bf16,sat,subnormals=false"},
      {"fp8e4m3,round=even", "fp8e4m3"},
      {"fp4e2m1,sat", "fp4e2m1"},
      {"float,6,9,round=up,sat", "float,6,9,round=up,sat"},
      {"logarithmic", "logarithmic"},
      {"sparse,0.1", "sparse,0.1"},
      {"sparse,1e-3", "sparse,0.001"},
      {"binary", "binary"},
      {"binary,1", "binary"},
      {"binary,0.25", "binary,0.25"},
      {"ternary", "ternary"},
      {"ternary,2", "ternary,2"},
      {"ternary,1,0.05", "ternary,1,0.05"},
      {"none", "none"},
      {"nearest,8,4,ste=clipped", "nearest,8,4,ste=clipped"},
      {"nearest,8,4,ste=identity", "nearest,8,4"},
      {"binary,ste=clipped", "binary,ste=clipped"},
      {"fp8e4m3,ste=clipped,sat", "fp8e4m3,sat,ste=clipped"},
      {"none,ste=clipped", "none,ste=clipped"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tq_quantizer *q = parse_ok(cases[i][0]);
    assert_string_equal(tq_quantizer_spec(q), cases[i][1]);
    /* The canonical form parses back to the same parameters. */
    tq_quantizer *q2 = parse_ok(tq_quantizer_spec(q));
    assert_memory_equal(tq_quantizer_params(q), tq_quantizer_params(q2),
                        sizeof(tq_quant_params));
    tq_quantizer_destroy(q);
    tq_quantizer_destroy(q2);
  }
}

static void test_params(void **state) {
  (void)state;
  tq_quantizer *q = parse_ok("half_down,12,-3,signed=false,overflow=wrap");
  const tq_quant_params *p = tq_quantizer_params(q);
  assert_int_equal(p->kind, TQ_QUANT_FIXED);
  assert_int_equal(p->round, TQ_ROUND_HALF_DOWN);
  assert_int_equal(p->width, 12);
  assert_int_equal(p->frac, -3);
  assert_int_equal(p->is_signed, 0);
  assert_int_equal(p->overflow, TQ_OVERFLOW_WRAP);
  double lo, hi;
  tq_quantizer_range(q, &lo, &hi);
  assert_true(lo == 0.0 && hi == 4095.0 * 8);
  tq_quantizer_destroy(q);

  q = parse_ok("fp8e4m3");
  p = tq_quantizer_params(q);
  assert_int_equal(p->exp_bits, 4);
  assert_int_equal(p->man_bits, 3);
  assert_true(p->finite_nan);
  tq_quantizer_range(q, &lo, &hi);
  assert_true(hi == 448.0 && lo == -448.0);
  tq_quantizer_destroy(q);

  static const struct {
    const char *spec;
    double max;
  } maxes[] = {
      {"fp16", 65504.0}, {"fp8e5m2", 57344.0}, {"fp6e3m2", 28.0},
      {"fp6e2m3", 7.5},  {"fp4e2m1", 6.0},     {"bf16", 0x1.fep127},
  };
  for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
    q = parse_ok(maxes[i].spec);
    tq_quantizer_range(q, &lo, &hi);
    assert_true(hi == maxes[i].max);
    tq_quantizer_destroy(q);
  }
  q = parse_ok("nearest,8,4");
  tq_quantizer_range(q, &lo, &hi);
  assert_true(lo == -8.0 && hi == 7.9375);
  tq_quantizer_destroy(q);
  q = parse_ok("nearest,8,4,overflow=sat_sym");
  tq_quantizer_range(q, &lo, &hi);
  assert_true(lo == -7.9375 && hi == 7.9375);
  tq_quantizer_destroy(q);
}

/* Each bad spec: the status, and phrases the message must contain. */
static void test_bad_specs(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    tq_status status;
    const char *phrase1, *phrase2;
  } cases[] = {
      {"", TQ_ERR_PARSE, "empty", NULL},
      {"nearst,8,4", TQ_ERR_PARSE, "unknown quantizer 'nearst'",
       "did you mean 'nearest'"},
      {"fp8e4m2", TQ_ERR_PARSE, "unknown quantizer", "did you mean"},
      {"NEAREST,8,4", TQ_ERR_PARSE, "unknown quantizer", "'nearest'"},
      {"nearest,8", TQ_ERR_PARSE, "takes 2 numeric arguments, got 1", "usage"},
      {"nearest", TQ_ERR_PARSE, "takes 2 numeric arguments, got 0", NULL},
      {"nearest,8,4,2", TQ_ERR_PARSE, "takes 2 numeric arguments, got 3",
       "position 13"},
      {"nearest,8,x", TQ_ERR_PARSE, "takes 2 numeric arguments, got 1",
       "position 11"},
      {"nearest,8.5,4", TQ_ERR_PARSE, "must be an integer", "'8.5'"},
      {"nearest,8,4x", TQ_ERR_PARSE, "must be an integer", "'4x'"},
      {"nearest,0,4", TQ_ERR_RANGE, "between 1 and 32", "got 0"},
      {"nearest,33,4", TQ_ERR_RANGE, "between 1 and 32", "got 33"},
      {"nearest,8,65", TQ_ERR_RANGE, "between -64 and 64", "got 65"},
      {"nearest,8,-65", TQ_ERR_RANGE, "between -64 and 64", NULL},
      {"nearest,99999999999999999999,4", TQ_ERR_PARSE, "must be an integer",
       NULL},
      {"nearest,8,4,overflow=wrapp", TQ_ERR_PARSE, "unknown overflow mode",
       "did you mean 'wrap'"},
      {"nearest,8,4,overflw=wrap", TQ_ERR_PARSE, "unknown option 'overflw'",
       "did you mean 'overflow'"},
      {"nearest,8,4,overflow", TQ_ERR_PARSE, "needs a value", NULL},
      {"nearest,8,4,overflow=wrap,overflow=sat", TQ_ERR_PARSE, "given twice",
       NULL},
      {"nearest,8,4,signed=maybe", TQ_ERR_PARSE, "true or false", NULL},
      {"nearest,8,4,round=even", TQ_ERR_PARSE, "does not apply", NULL},
      {"nearest,8,4,seed=3", TQ_ERR_PARSE, "does not apply", NULL},
      {"stochastic,8,4,seed=-1", TQ_ERR_PARSE, "seed must be", NULL},
      {"stochastic,8,4,seed=abc", TQ_ERR_PARSE, "seed must be", NULL},
      {"nearest,8,4,signed=false,overflow=sat_sym", TQ_ERR_RANGE,
       "needs a signed format", NULL},
      {"nearest,8,4,", TQ_ERR_PARSE, "empty field", "trailing comma"},
      {"nearest,,4", TQ_ERR_PARSE, "empty field", "position 9"},
      {"nearest,8 4", TQ_ERR_PARSE, "unexpected character", NULL},
      {"nearest,8,4,wrap", TQ_ERR_PARSE, "unknown option 'wrap'", NULL},
      {"float,1,3", TQ_ERR_RANGE, "exponent bits", "between 2 and 8"},
      {"float,9,3", TQ_ERR_RANGE, "exponent bits", NULL},
      {"float,5,24", TQ_ERR_RANGE, "mantissa bits", "between 0 and 23"},
      {"float,5,2,round=half_up", TQ_ERR_PARSE, "floating point supports",
       NULL},
      {"float,5,2,round=evn", TQ_ERR_PARSE, "unknown rounding mode",
       "did you mean 'even'"},
      {"float,4,3,fn,finite", TQ_ERR_PARSE, "exclude each other", NULL},
      {"float,4,0,fn", TQ_ERR_RANGE, "at least one mantissa bit", NULL},
      {"float,8,3,fn", TQ_ERR_RANGE, "e <= 7", NULL},
      {"float,8,3,finite", TQ_ERR_RANGE, "beyond float32", NULL},
      {"fp16,overflow=wrap", TQ_ERR_PARSE, "does not apply", NULL},
      {"fp16,3", TQ_ERR_PARSE, "takes 0 numeric arguments", NULL},
      {"fp16,sat=maybe", TQ_ERR_PARSE, "true or false", NULL},
      {"bf16,seed=4", TQ_ERR_PARSE, "only applies to stochastic", NULL},
      {"sparse", TQ_ERR_PARSE, "takes 1 numeric argument, got 0", NULL},
      {"sparse,-1", TQ_ERR_RANGE, "threshold", NULL},
      {"sparse,abc", TQ_ERR_PARSE, "takes 1 numeric argument, got 0",
       "position 8"},
      {"sparse,1e999", TQ_ERR_PARSE, "finite number", NULL},
      {"binary,0", TQ_ERR_RANGE, "positive", NULL},
      {"binary,-1", TQ_ERR_RANGE, "positive", NULL},
      {"binary,1e39", TQ_ERR_RANGE, "float32", NULL},
      {"ternary,1,2,3", TQ_ERR_PARSE, "takes 0 to 2 numeric arguments", NULL},
      {"ternary,1,-0.5", TQ_ERR_RANGE, "threshold", NULL},
      {"logarithmic,2", TQ_ERR_PARSE, "takes 0 numeric arguments", NULL},
      {"none,sat", TQ_ERR_PARSE, "does not apply", NULL},
      {"none,foo", TQ_ERR_PARSE, "takes no arguments", NULL},
      {"nearest,8,4,ste=clip", TQ_ERR_PARSE, "straight-through", "clipped"},
      {"nearest,8,4,ste", TQ_ERR_PARSE, "needs a value", NULL},
      {"nearest,8,4,a,b,c,d,e,f,g,h,i,j,k,l,m,n", TQ_ERR_PARSE,
       "too many fields", NULL},
      {"nearest\x01,8,4", TQ_ERR_PARSE, "unexpected character", NULL},
  };
  tq_context *ctx;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tq_quantizer *q = (tq_quantizer *)&ctx; /* must be reset to NULL */
    tq_status st = tq_quantizer_parse(ctx, cases[i].spec, &q);
    const char *msg = tq_context_last_error(ctx);
    if (st != cases[i].status)
      fail_msg("'%s': status %s, expected %s (%s)", cases[i].spec,
               tq_status_str(st), tq_status_str(cases[i].status), msg);
    assert_null(q);
    if (!strstr(msg, cases[i].phrase1) ||
        (cases[i].phrase2 && !strstr(msg, cases[i].phrase2)))
      fail_msg("'%s': message lacks '%s'/'%s': %s", cases[i].spec,
               cases[i].phrase1, cases[i].phrase2 ? cases[i].phrase2 : "", msg);
    /* Every message quotes the spec it rejects. */
    char quoted[160];
    snprintf(quoted, sizeof quoted, "'%s'", cases[i].spec);
    if (cases[i].spec[0] && !strchr(cases[i].spec, '\x01') &&
        !strstr(msg, quoted))
      fail_msg("'%s': message does not quote the spec: %s", cases[i].spec, msg);
    assert_int_equal(tq_context_error_info(ctx)->status, st);
  }
  /* A very long spec is rejected, not truncated. */
  char *long_spec = malloc(5000);
  memset(long_spec, '1', 4999);
  long_spec[4999] = '\0';
  memcpy(long_spec, "nearest,8,", 10);
  tq_quantizer *q;
  assert_int_equal(tq_quantizer_parse(ctx, long_spec, &q), TQ_ERR_PARSE);
  free(long_spec);
  assert_int_equal(tq_quantizer_parse(ctx, NULL, &q), TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_quantizer_parse(NULL, "nearst", &q), TQ_ERR_PARSE);
  tq_context_destroy(ctx);
}

static void test_create_from_params(void **state) {
  (void)state;
  tq_quant_params p = TQ_QUANT_PARAMS_INIT;
  p.kind = TQ_QUANT_FIXED;
  p.width = 6;
  p.frac = 2;
  p.is_signed = 1;
  p.round = TQ_ROUND_AWAY;
  tq_quantizer *q;
  assert_int_equal(tq_quantizer_create(NULL, &p, &q), TQ_OK);
  assert_string_equal(tq_quantizer_spec(q), "away,6,2");
  tq_quantizer_destroy(q);
  p.width = 40;
  assert_int_equal(tq_quantizer_create(NULL, &p, &q), TQ_ERR_RANGE);
  assert_null(q);
}

static void test_formats_table(void **state) {
  (void)state;
  size_t n = tq_format_count();
  assert_true(n >= 22);
  for (size_t i = 0; i < n; i++) {
    const tq_format_info *f = tq_format_get(i);
    assert_non_null(f->name);
    assert_non_null(strstr(f->usage, f->name));
    assert_true(strlen(f->description) > 10);
  }
  assert_null(tq_format_get(n));
}

/* Philox4x32-10 known-answer vectors (Random123's kat_vectors). */
static void test_philox_kat(void **state) {
  (void)state;
  uint32_t w[4];
  tq_philox_block(0, 0, 0, w);
  assert_int_equal(w[0], 0x6627e8d5u);
  assert_int_equal(w[1], 0xe169c58du);
  assert_int_equal(w[2], 0xbc57ac4cu);
  assert_int_equal(w[3], 0x9b00dbd8u);
  tq_philox_block(~0ull, ~0ull, ~0ull, w);
  assert_int_equal(w[0], 0x408f276du);
  assert_int_equal(w[1], 0x41c83b0eu);
  assert_int_equal(w[2], 0xa20bc7c6u);
  assert_int_equal(w[3], 0x6d5451fdu);
  /* u is the top 24 bits of the element's word. */
  assert_true(tq_stochastic_u(0, 0, 1) == (float)(0xe169c58du >> 8) * 0x1p-24f);
  uint32_t u24[9];
  tq_philox_fill_u24(0, 0, 1, u24, 3);
  assert_int_equal(u24[0], 0xe169c58du >> 8);
  assert_int_equal(u24[2], 0x9b00dbd8u >> 8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canonical_forms),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_bad_specs),
      cmocka_unit_test(test_create_from_params),
      cmocka_unit_test(test_formats_table),
      cmocka_unit_test(test_philox_kat),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
