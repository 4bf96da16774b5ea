/* Bit-exact comparison of the library's quantizers with the independent
 * model in ref_independent.c, written from docs/design.md §2 without
 * reading src/quant/.
 *
 * For every quantizer family and a grid of parameters, the spec string is
 * parsed (its params are checked against the ones expected), then the
 * library's output is compared bit for bit with the model's (NaN outputs
 * compare as "both NaN", except for `none`, which must copy payloads) on
 *  (a) hand-picked edge cases: ties at the rounding position, zeros,
 *      float32 subnormals, values around qmax / qmin and the wrap points,
 *      around each float format's max and subnormal range, inf and NaN;
 *  (b) random float32 bit patterns and random values near the grid.
 * Each buffer goes through every execution path: the default (fast)
 * kernels, force_reference, every kernel set the CPU has (forced through
 * the context's cap), threads = 1 and 2, two pieces with opts.offset, and
 * in place. A mismatch prints the spec, the path, the
 * input bits and both outputs, so that a failure is a ready reproducer. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context_internal.h"
#include "quant/quant_internal.h"
#include "ref_independent.h"
#include "testutil.h"

/* Options of every call in this file (stochastic specs use them). */
#define CALL_SEED 0x5EEDull
#define CALL_STREAM 7ull
#define CALL_OFFSET 1000ull

enum { REPORTS_PER_SPEC = 3, REPORTS_TOTAL = 300 };

static tq_context *ctx_;
static unsigned long reports_printed;

static const char *const ROUND_NAMES[TQ_ROUND_COUNT] = {
    "nearest", "even", "half_up", "half_down", "half_zero",
    "down",    "up",   "zero",    "away",      "stochastic"};
static const char *const OVERFLOW_NAMES[TQ_OVERFLOW_COUNT] = {"sat", "sat_sym",
                                                              "wrap"};

/* ---- input buffers ------------------------------------------------------- */

typedef struct {
  float *v;
  size_t n, cap;
} floatvec;

static void fv_push(floatvec *fv, float x) {
  if (fv->n == fv->cap) {
    fv->cap = fv->cap ? 2 * fv->cap : 1024;
    fv->v = realloc(fv->v, fv->cap * sizeof *fv->v);
    assert_non_null(fv->v);
  }
  fv->v[fv->n++] = x;
}

/* The float32 nearest to d and its two neighbours, with both signs: this
 * puts inputs exactly on, just below and just above a boundary. */
static void fv_push_near(floatvec *fv, double d) {
  float x = (float)d;
  fv_push(fv, x);
  fv_push(fv, nextafterf(x, INFINITY));
  fv_push(fv, nextafterf(x, -INFINITY));
  fv_push(fv, -x);
  fv_push(fv, -nextafterf(x, INFINITY));
  fv_push(fv, -nextafterf(x, -INFINITY));
}

static void fv_free(floatvec *fv) {
  free(fv->v);
  fv->v = NULL;
  fv->n = fv->cap = 0;
}

/* Zeros, subnormals, FLT_MIN, FLT_MAX, infinities, quiet and signalling
 * NaNs of both signs, and a few small values with ties. */
static const uint32_t SPECIAL_BITS[] = {
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x00000002, 0x00000003,
    0x80000003, 0x00400000, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
    0x00800001, 0x7f7fffff, 0xff7fffff, 0x7f7ffffe, 0x7f000000, 0xff000000,
    0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001,
    0x7fffffff, 0x7fa00000, 0x3f800000, 0xbf800000, 0x3f000000, 0xbf000000,
    0x3fc00000, 0xbfc00000, 0x40200000, 0xc0200000, 0x3effffff, 0x3f000001,
    0x3e800000, 0xbe800000, 0x3f400000, 0xbf400000, 0x4b000000, 0x4b800000,
    0xcb000000, 0xcb800000, 0x4f000000, 0xcf000000, 0x4f800000, 0x5f800000};

/* Boundaries of the named float formats (docs/design.md §2):
 * e4m3fn max 448 and its NaN code 480, e5m2 max 57344 and its overflow
 * tie 61440, fp16 max 65504 and its overflow tie 65520, the OCP MX maxima
 * 28, 7.5 and 6 with the values rounding to them. */
static const float FORMAT_EDGES[] = {
    447.0f,   448.0f,   449.0f,   456.0f,   463.99f,  464.0f,   465.0f,
    479.0f,   480.0f,   496.0f,   512.0f,   240.0f,   247.0f,   248.0f,
    256.0f,   57344.0f, 61439.0f, 61440.0f, 61441.0f, 65504.0f, 65519.99f,
    65520.0f, 65536.0f, 28.0f,    29.99f,   30.0f,    32.0f,    7.5f,
    7.75f,    8.0f,     6.0f,     6.5f,     7.0f,     5.5f,     3.0f,
    0.25f,    0.125f,   0.0625f,  1.0f / 3, 1.0e-10f, 1.0e30f,  3.0e38f};

static void push_specials(floatvec *fv) {
  for (size_t i = 0; i < sizeof SPECIAL_BITS / sizeof *SPECIAL_BITS; i++)
    fv_push(fv, tq_test_float(SPECIAL_BITS[i]));
  for (size_t i = 0; i < sizeof FORMAT_EDGES / sizeof *FORMAT_EDGES; i++) {
    fv_push(fv, FORMAT_EDGES[i]);
    fv_push(fv, -FORMAT_EDGES[i]);
  }
}

static void push_random_bits(floatvec *fv, uint64_t *rng, size_t count) {
  for (size_t i = 0; i < count; i++)
    fv_push(fv, tq_test_float((uint32_t)tq_test_rand(rng)));
}

/* A random fraction for "near the grid" values: an exact tie, zero, or
 * 24 random bits. */
static double random_fraction(uint64_t *rng) {
  uint64_t r = tq_test_rand(rng);
  switch (r & 3) {
    case 0: return 0.0;
    case 1: return 0.5;
    default: return ldexp((double)((r >> 8) & 0xFFFFFF), -24);
  }
}

/* Fixed point edge cases for (w, f, signed): integers and ties k + 1/2
 * around 0, qmin, qmax, the wrap points +-2^(w-1), +-2^w, 3 2^(w-1), all
 * scaled by 2^-f, each with its float32 neighbours, and powers of two over
 * the whole float32 range (huge t must still saturate / wrap exactly). */
static void push_fixed_edges(floatvec *fv, int w, int f, int is_signed) {
  tq_quant_params p =
      tqref_fixed_params(w, f, TQ_ROUND_EVEN, TQ_OVERFLOW_SAT, is_signed);
  double qmin, qmax;
  tqref_fixed_limits(&p, &qmin, &qmax);
  double half = ldexp(1.0, w - 1), full = ldexp(1.0, w);
  const double bases[] = {0.0,      1.0,       2.0,       3.0,      qmax,
                          qmin,     qmax + 1,  qmin - 1,  half,     -half,
                          half + 1, -half - 1, full,      -full,    full + 1,
                          2 * full, 3 * half,  -3 * half, full - 1, -full + 1};
  const double deltas[] = {-1.0, -0.5, 0.0, 0.5, 1.0};
  for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
    for (size_t d = 0; d < sizeof deltas / sizeof *deltas; d++)
      fv_push_near(fv, ldexp(bases[b] + deltas[d], -f));
  for (int j = -150; j <= 127; j += 7) fv_push_near(fv, ldexp(1.0, j));
  fv_push_near(fv, ldexp(1.0, 64 - f));
  fv_push_near(fv, ldexp(1.0, w - f));
}

static void push_fixed_random(floatvec *fv, uint64_t *rng, int w, int f,
                              int is_signed, size_t count) {
  tq_quant_params p =
      tqref_fixed_params(w, f, TQ_ROUND_EVEN, TQ_OVERFLOW_SAT, is_signed);
  double qmin, qmax;
  tqref_fixed_limits(&p, &qmin, &qmax);
  uint64_t span = (uint64_t)(qmax - qmin) + 9; /* qmin - 4 .. qmax + 4 */
  for (size_t i = 0; i < count; i++) {
    uint64_t r = tq_test_rand(rng);
    double k;
    if (r & 1)
      k = qmin - 4 + (double)((r >> 1) % span);
    else
      k = (double)((int64_t)((r >> 1) % 33) - 16); /* near zero */
    double v = ldexp(k + random_fraction(rng), -f);
    if (tq_test_rand(rng) & 1) v = -v;
    fv_push(fv, (float)v);
  }
}

/* Float format edge cases: for exponents E in the subnormal range, around
 * 1 and at the top, points 2^E + {0, Q/4, Q/2, Q, 3Q/2} and 2^(E+1) -
 * {Q/2, Q, 3Q/2, 2Q, 5Q/2} where Q is the format's quantum at E (ties,
 * the last values before the next binade, max and the ties above it). */
static void push_float_edges(floatvec *fv, const tq_quant_params *p) {
  int m = p->man_bits, emin = tqref_float_emin(p);
  int etop = ilogb(tqref_float_max(p));
  int ranges[3][2] = {{emin - m - 2, emin + 1}, {-1, 1}, {etop - 1, etop + 2}};
  for (int r = 0; r < 3; r++)
    for (int e = ranges[r][0]; e <= ranges[r][1]; e++) {
      if (e < -151 || e > 127) continue;
      double quantum = ldexp(1.0, (e > emin ? e : emin) - m);
      double base = ldexp(1.0, e), next = ldexp(1.0, e + 1);
      const double points[] = {base,
                               base + quantum / 4,
                               base + quantum / 2,
                               base + quantum,
                               base + 1.5 * quantum,
                               next - quantum / 2,
                               next - quantum,
                               next - 1.5 * quantum,
                               next - 2 * quantum,
                               next - 2.5 * quantum};
      for (size_t i = 0; i < sizeof points / sizeof *points; i++)
        if (points[i] > 0) fv_push_near(fv, points[i]);
    }
}

static void push_float_random(floatvec *fv, uint64_t *rng,
                              const tq_quant_params *p, size_t count) {
  int m = p->man_bits, emin = tqref_float_emin(p);
  int etop = ilogb(tqref_float_max(p));
  int lo = emin - m - 3, hi = etop + 2;
  if (lo < -151) lo = -151;
  if (hi > 127) hi = 127;
  for (size_t i = 0; i < count; i++) {
    uint64_t r = tq_test_rand(rng);
    int e = lo + (int)(r % (uint64_t)(hi - lo + 1));
    int q = (e > emin ? e : emin) - m;
    double j = (double)((r >> 20) % ((uint64_t)1 << (m + 1)));
    double v = ldexp(j + random_fraction(rng), q);
    if (r >> 63) v = -v;
    fv_push(fv, (float)v);
  }
}

/* ---- comparison ---------------------------------------------------------- */

/* Same bits, or both NaN when NaN payloads are not specified. */
static int same_value(float want, float got, int exact_nan) {
  if (!exact_nan && isnan(want) && isnan(got)) return 1;
  return tq_test_bits(want) == tq_test_bits(got);
}

static size_t compare_outputs(const char *spec, const char *path,
                              const float *in, const float *want,
                              const float *got, size_t n, int exact_nan) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (same_value(want[i], got[i], exact_nan)) continue;
    if (bad < REPORTS_PER_SPEC && reports_printed < REPORTS_TOTAL) {
      reports_printed++;
      printf(
          "MISMATCH spec='%s' path=%s index=%zu in=0x%08x (%.9g) "
          "want=0x%08x (%.9g) got=0x%08x (%.9g)\n",
          spec, path, i, (unsigned)tq_test_bits(in[i]), (double)in[i],
          (unsigned)tq_test_bits(want[i]), (double)want[i],
          (unsigned)tq_test_bits(got[i]), (double)got[i]);
    }
    bad++;
  }
  if (bad && reports_printed < REPORTS_TOTAL)
    printf("  spec='%s' path=%s: %zu of %zu values differ\n", spec, path, bad,
           n);
  return bad;
}

/* The parser must produce the params the model was given. */
static size_t compare_params(const char *spec, const tq_quant_params *got,
                             const tq_quant_params *want) {
  size_t bad = 0;
#define CHECK_FIELD(field)                                              \
  do {                                                                  \
    if (got->field != want->field) {                                    \
      printf("PARAMS spec='%s': %s is %g, expected %g\n", spec, #field, \
             (double)got->field, (double)want->field);                  \
      bad++;                                                            \
    }                                                                   \
  } while (0)
  CHECK_FIELD(kind);
  switch (want->kind) {
    case TQ_QUANT_FIXED:
      CHECK_FIELD(width);
      CHECK_FIELD(frac);
      CHECK_FIELD(is_signed);
      CHECK_FIELD(overflow);
      CHECK_FIELD(round);
      CHECK_FIELD(has_seed);
      if (want->has_seed) CHECK_FIELD(seed);
      break;
    case TQ_QUANT_FLOAT:
      CHECK_FIELD(exp_bits);
      CHECK_FIELD(man_bits);
      CHECK_FIELD(round);
      CHECK_FIELD(finite_nan);
      CHECK_FIELD(finite_only);
      CHECK_FIELD(subnormals);
      /* finite formats always saturate; whether the flag says so is free */
      if (!want->finite_only) CHECK_FIELD(saturate);
      CHECK_FIELD(has_seed);
      if (want->has_seed) CHECK_FIELD(seed);
      break;
    case TQ_QUANT_SPARSE: CHECK_FIELD(threshold); break;
    case TQ_QUANT_BINARY: CHECK_FIELD(magnitude); break;
    case TQ_QUANT_TERNARY:
      CHECK_FIELD(magnitude);
      CHECK_FIELD(has_threshold);
      if (want->has_threshold) CHECK_FIELD(threshold);
      break;
    default: break;
  }
#undef CHECK_FIELD
  return bad;
}

typedef struct {
  const char *name;
  int threads;
  int force_reference;
  int isa; /* cap on the context's kernel set; -1: none (the CPU's best) */
} exec_path;

/* Every kernel set the CPU has is reached through the context's cap. */
static const exec_path PATHS[] = {
    {"default", 0, 0, -1},
    {"force_reference", 0, 1, -1},
    {"threads=1", 1, 0, -1},
    {"threads=2", 2, 0, -1},
    {"force_reference,threads=2", 2, 1, -1},
    {"isa=scalar", 0, 0, TQ_ISA_SCALAR},
    {"isa=avx2,threads=2", 2, 0, TQ_ISA_AVX2},
    {"isa=avx512,threads=2", 2, 0, TQ_ISA_AVX512}};

/* Runs spec over in[0..n) on every execution path and compares with the
 * model given the expected params. Returns the number of differences
 * (params, statuses and values); prints the first few. */
static size_t check_spec(const char *spec, const tq_quant_params *want,
                         const float *in, size_t n) {
  tq_quantizer *q = NULL;
  tq_status st = tq_quantizer_parse(ctx_, spec, &q);
  if (st != TQ_OK) {
    printf("PARSE spec='%s' rejected: %s\n", spec, tq_context_last_error(ctx_));
    return 1;
  }
  size_t bad = compare_params(spec, tq_quantizer_params(q), want);
  int exact_nan = want->kind == TQ_QUANT_NONE;
  float *expect = malloc(n * sizeof *expect);
  float *got = malloc(n * sizeof *got);
  assert_non_null(expect);
  assert_non_null(got);
  tqref_quantize(want, in, expect, n, CALL_SEED, CALL_STREAM, CALL_OFFSET);

  for (size_t k = 0; k < sizeof PATHS / sizeof *PATHS; k++) {
    if (PATHS[k].isa > (int)tq_isa_detect()) continue;
    tq_quant_opts opts = {CALL_SEED, CALL_STREAM, CALL_OFFSET, PATHS[k].threads,
                          PATHS[k].force_reference};
    memset(got, 0xA5, n * sizeof *got);
    tq_context_set_isa_cap(ctx_, PATHS[k].isa);
    st = tq_quantize(ctx_, q, in, got, n, &opts);
    tq_context_set_isa_cap(ctx_, -1);
    if (st != TQ_OK) {
      printf("STATUS spec='%s' path=%s: %s\n", spec, PATHS[k].name,
             tq_status_str(st));
      bad++;
      continue;
    }
    bad += compare_outputs(spec, PATHS[k].name, in, expect, got, n, exact_nan);
  }

  /* Two pieces with opts.offset give the bits of one call. Not for ternary
   * without T, whose threshold is a property of the whole buffer. */
  if (!(want->kind == TQ_QUANT_TERNARY && !want->has_threshold)) {
    size_t cut = n / 3;
    tq_quant_opts a = {CALL_SEED, CALL_STREAM, CALL_OFFSET, 0, 0};
    tq_quant_opts b = {CALL_SEED, CALL_STREAM, CALL_OFFSET + cut, 0, 0};
    memset(got, 0xA5, n * sizeof *got);
    st = tq_quantize(ctx_, q, in, got, cut, &a);
    if (st == TQ_OK)
      st = tq_quantize(ctx_, q, in + cut, got + cut, n - cut, &b);
    if (st != TQ_OK) {
      printf("STATUS spec='%s' path=pieces: %s\n", spec, tq_status_str(st));
      bad++;
    } else {
      bad += compare_outputs(spec, "pieces", in, expect, got, n, exact_nan);
    }
  }

  /* In place (in == out is allowed). */
  memcpy(got, in, n * sizeof *got);
  tq_quant_opts opts = {CALL_SEED, CALL_STREAM, CALL_OFFSET, 0, 0};
  st = tq_quantize(ctx_, q, got, got, n, &opts);
  if (st != TQ_OK) {
    printf("STATUS spec='%s' path=in-place: %s\n", spec, tq_status_str(st));
    bad++;
  } else {
    bad += compare_outputs(spec, "in-place", in, expect, got, n, exact_nan);
  }

  free(expect);
  free(got);
  tq_quantizer_destroy(q);
  return bad;
}

/* ---- fixed point --------------------------------------------------------- */

static const int WIDTHS[] = {1, 2, 3, 7, 8, 12, 16, 23, 24, 25, 31, 32};
static const int FRACS[] = {-64, -10, -1, 0, 1, 4, 8, 16, 31, 40, 64};

/* Writes the spec of a fixed-point quantizer into buf. The spelling varies
 * with `variant` (spaces after commas, explicit defaults, a seed) so that
 * the grammar is exercised along the way; *p is set to match. */
static void fixed_spec(char *buf, size_t size, tq_quant_params *p,
                       unsigned variant) {
  const char *sep = variant % 5 == 1 ? ", " : ",";
  int len = snprintf(buf, size, "%s%s%d%s%d", ROUND_NAMES[p->round], sep,
                     p->width, sep, p->frac);
  if (p->overflow != TQ_OVERFLOW_SAT || variant % 7 == 3)
    len += snprintf(buf + len, size - (size_t)len, "%soverflow=%s", sep,
                    OVERFLOW_NAMES[p->overflow]);
  if (!p->is_signed)
    len += snprintf(buf + len, size - (size_t)len, "%ssigned=false", sep);
  else if (variant % 3 == 2)
    len += snprintf(buf + len, size - (size_t)len, "%ssigned=true", sep);
  if (p->round == TQ_ROUND_STOCHASTIC && variant % 4 == 1) {
    /* A seed in the spec overrides the call's seed. */
    p->has_seed = 1;
    p->seed = 1000u + variant;
    snprintf(buf + len, size - (size_t)len, "%sseed=%llu", sep,
             (unsigned long long)p->seed);
  }
}

/* Signed w = 1 with sat_sym clamps to [-0, 0]: every output is 0. The
 * library may reject that spec as useless (it does, with TQ_ERR_RANGE);
 * when it accepts it, the outputs are checked like any other. */
static int parses(const char *spec) {
  tq_quantizer *q = NULL;
  tq_status st = tq_quantizer_parse(ctx_, spec, &q);
  tq_quantizer_destroy(q);
  if (st != TQ_OK) assert_true(st == TQ_ERR_RANGE || st == TQ_ERR_PARSE);
  return st == TQ_OK;
}

static void test_fixed_round(void **state) {
  tq_round round = *(const tq_round *)*state;
  uint64_t rng = 0xF1ED0000u + (uint64_t)round;
  size_t bad = 0, values = 0, specs = 0;
  unsigned variant = 0;
  for (size_t wi = 0; wi < sizeof WIDTHS / sizeof *WIDTHS; wi++)
    for (size_t fi = 0; fi < sizeof FRACS / sizeof *FRACS; fi++)
      for (int is_signed = 1; is_signed >= 0; is_signed--) {
        int w = WIDTHS[wi], f = FRACS[fi];
        floatvec in = {0};
        push_specials(&in);
        push_fixed_edges(&in, w, f, is_signed);
        push_random_bits(&in, &rng, 512);
        push_fixed_random(&in, &rng, w, f, is_signed, 512);
        for (int ov = 0; ov < TQ_OVERFLOW_COUNT; ov++) {
          if (ov == TQ_OVERFLOW_SAT_SYM && !is_signed) continue;
          tq_quant_params p =
              tqref_fixed_params(w, f, round, (tq_overflow)ov, is_signed);
          char spec[128];
          fixed_spec(spec, sizeof spec, &p, variant++);
          if (w == 1 && ov == TQ_OVERFLOW_SAT_SYM && !parses(spec))
            continue; /* may be rejected: see parses() */
          bad += check_spec(spec, &p, in.v, in.n);
          values += in.n;
          specs++;
        }
        fv_free(&in);
      }
  printf("fixed %s: %zu specs, %zu values, %zu differences\n",
         ROUND_NAMES[round], specs, values, bad);
  assert_int_equal(bad, 0);
}

/* ---- floating point ------------------------------------------------------ */

static const char *const FLOAT_ROUND_NAMES[] = {
    "even", "nearest", "zero", "down", "up", "stochastic"};
static const tq_round FLOAT_ROUNDS[] = {TQ_ROUND_EVEN, TQ_ROUND_NEAREST,
                                        TQ_ROUND_ZERO, TQ_ROUND_DOWN,
                                        TQ_ROUND_UP,   TQ_ROUND_STOCHASTIC};
enum { FLOAT_ROUND_COUNT = 6 };

/* Option sets for float,e,m. */
typedef struct {
  const char *text;
  int saturate, finite_nan, finite_only, subnormals;
} float_options;

static const float_options FLOAT_OPTIONS[] = {
    {"", 0, 0, 0, 1},
    {",sat", 1, 0, 0, 1},
    {",fn", 0, 1, 0, 1},
    {",finite", 0, 0, 1, 1},
    {",subnormals=false", 0, 0, 0, 0},
    {",sat,subnormals=false", 1, 0, 0, 0},
    {",fn,sat", 1, 1, 0, 1},
    {",fn,subnormals=false", 0, 1, 0, 0},
    {",finite,subnormals=false", 0, 0, 1, 0}};

/* Whether an option set is meaningful for (e, m). fn needs m >= 1 (with
 * m = 0 the top binade has no finite code, and the max formula of the
 * decisions gives 0); fn and finite need e <= 7 (with e = 8 their top
 * binade, 2^128, is beyond float32). Both cases are left out here. */
static int float_options_apply(const float_options *o, int e, int m) {
  if ((o->finite_nan || o->finite_only) && e == 8) return 0;
  if (o->finite_nan && m == 0) return 0;
  return 1;
}

static size_t check_float(const char *spec, const tq_quant_params *p,
                          uint64_t *rng, size_t *values) {
  floatvec in = {0};
  push_specials(&in);
  push_float_edges(&in, p);
  push_random_bits(&in, rng, 512);
  push_float_random(&in, rng, p, 512);
  size_t bad = check_spec(spec, p, in.v, in.n);
  *values += in.n;
  fv_free(&in);
  return bad;
}

/* Every (e, m) with the default options: IEEE-style, round to nearest
 * even. float,8,23 is the identity on float32 and float,5,10 is fp16. */
static void test_float_all_shapes(void **state) {
  (void)state;
  uint64_t rng = 0xF10A7001u;
  size_t bad = 0, values = 0, specs = 0;
  for (int e = 2; e <= 8; e++)
    for (int m = 0; m <= 23; m++) {
      tq_quant_params p = tqref_float_params(e, m, TQ_ROUND_EVEN);
      char spec[64];
      snprintf(spec, sizeof spec, (e + m) % 3 ? "float,%d,%d" : "float, %d, %d",
               e, m);
      bad += check_float(spec, &p, &rng, &values);
      specs++;
    }
  printf("float shapes: %zu specs, %zu values, %zu differences\n", specs,
         values, bad);
  assert_int_equal(bad, 0);
}

/* Every rounding mode with every option set, on a subset of shapes. */
static void test_float_modes_options(void **state) {
  (void)state;
  static const int MANTISSAS[] = {0, 1, 2, 3, 5, 7, 10, 15, 22, 23};
  uint64_t rng = 0xF10A7002u;
  size_t bad = 0, values = 0, specs = 0;
  for (int e = 2; e <= 8; e++)
    for (size_t mi = 0; mi < sizeof MANTISSAS / sizeof *MANTISSAS; mi++)
      for (int r = 0; r < FLOAT_ROUND_COUNT; r++)
        for (size_t o = 0; o < sizeof FLOAT_OPTIONS / sizeof *FLOAT_OPTIONS;
             o++) {
          int m = MANTISSAS[mi];
          const float_options *opt = &FLOAT_OPTIONS[o];
          if (!float_options_apply(opt, e, m)) continue;
          tq_quant_params p = tqref_float_params(e, m, FLOAT_ROUNDS[r]);
          p.saturate = opt->saturate;
          p.finite_nan = opt->finite_nan;
          p.finite_only = opt->finite_only;
          p.subnormals = opt->subnormals;
          char spec[96];
          if (FLOAT_ROUNDS[r] == TQ_ROUND_EVEN && specs % 2)
            snprintf(spec, sizeof spec, "float,%d,%d%s", e, m, opt->text);
          else
            snprintf(spec, sizeof spec, "float,%d,%d,round=%s%s", e, m,
                     FLOAT_ROUND_NAMES[r], opt->text);
          bad += check_float(spec, &p, &rng, &values);
          specs++;
        }
  printf("float modes x options: %zu specs, %zu values, %zu differences\n",
         specs, values, bad);
  assert_int_equal(bad, 0);
}

/* The named formats, alone and with options after the name. */
static void test_float_named(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int e, m, fn, finite;
  } NAMED[] = {{"fp16", 5, 10, 0, 0},   {"bf16", 8, 7, 0, 0},
               {"tf32", 8, 10, 0, 0},   {"fp8e5m2", 5, 2, 0, 0},
               {"fp8e4m3", 4, 3, 1, 0}, {"fp6e3m2", 3, 2, 0, 1},
               {"fp6e2m3", 2, 3, 0, 1}, {"fp4e2m1", 2, 1, 0, 1}};
  uint64_t rng = 0xF10A7003u;
  size_t bad = 0, values = 0, specs = 0;
  for (size_t i = 0; i < sizeof NAMED / sizeof *NAMED; i++) {
    for (int r = -1; r < FLOAT_ROUND_COUNT + 2; r++) {
      tq_quant_params p =
          tqref_float_params(NAMED[i].e, NAMED[i].m, TQ_ROUND_EVEN);
      p.finite_nan = NAMED[i].fn;
      p.finite_only = NAMED[i].finite;
      char spec[96];
      if (r < 0) { /* the bare name */
        snprintf(spec, sizeof spec, "%s", NAMED[i].name);
      } else if (r < FLOAT_ROUND_COUNT) {
        p.round = FLOAT_ROUNDS[r];
        snprintf(spec, sizeof spec, "%s,round=%s", NAMED[i].name,
                 FLOAT_ROUND_NAMES[r]);
        if (p.round == TQ_ROUND_STOCHASTIC) {
          p.has_seed = 1;
          p.seed = 42;
          snprintf(spec, sizeof spec, "%s,round=stochastic,seed=42",
                   NAMED[i].name);
        }
      } else if (r == FLOAT_ROUND_COUNT) {
        p.subnormals = 0;
        snprintf(spec, sizeof spec, "%s,subnormals=false", NAMED[i].name);
      } else {
        p.saturate = 1;
        p.round = TQ_ROUND_UP;
        snprintf(spec, sizeof spec, "%s , sat , round=up", NAMED[i].name);
      }
      bad += check_float(spec, &p, &rng, &values);
      specs++;
    }
  }
  printf("float named: %zu specs, %zu values, %zu differences\n", specs, values,
         bad);
  assert_int_equal(bad, 0);
}

/* ---- the other quantizers ------------------------------------------------ */

/* Inputs for the non-grid quantizers: specials, powers of two across the
 * whole range, values around the thresholds and magnitudes used, random
 * bit patterns and random normal-sized values. */
static void push_other_inputs(floatvec *fv, uint64_t *rng) {
  push_specials(fv);
  for (int j = -149; j <= 127; j++) fv_push_near(fv, ldexp(1.0, j));
  const double around[] = {0.05, 0.7, 1.0, 1e-40, 1e-39, 3.5e38, 0.1, 100};
  for (size_t i = 0; i < sizeof around / sizeof *around; i++)
    fv_push_near(fv, around[i]);
  push_random_bits(fv, rng, 2048);
  for (int i = 0; i < 2048; i++) {
    uint64_t r = tq_test_rand(rng);
    double v = ldexp((double)(r >> 40) / 16777216.0, (int)(r % 12) - 6);
    fv_push(fv, (float)((r >> 39) & 1 ? -v : v));
  }
}

static void test_others(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    tq_quant_kind kind;
    double threshold, magnitude;
    int has_threshold;
  } OTHERS[] = {
      {"none", TQ_QUANT_NONE, 0, 0, 0},
      {"logarithmic", TQ_QUANT_LOGARITHMIC, 0, 0, 0},
      {"sparse,0", TQ_QUANT_SPARSE, 0, 0, 0},
      {"sparse,0.05", TQ_QUANT_SPARSE, 0.05, 0, 0},
      /* 0.7f = 0.699999988 < 0.7: zeroed under the exact comparison */
      {"sparse,0.7", TQ_QUANT_SPARSE, 0.7, 0, 0},
      {"sparse, 1", TQ_QUANT_SPARSE, 1, 0, 0},
      {"sparse,1e-40", TQ_QUANT_SPARSE, 1e-40, 0, 0},
      {"sparse,3.5e38", TQ_QUANT_SPARSE, 3.5e38, 0, 0},
      {"binary", TQ_QUANT_BINARY, 0, 1, 0},
      {"binary,0.5", TQ_QUANT_BINARY, 0, 0.5, 0},
      {"binary,3", TQ_QUANT_BINARY, 0, 3, 0},
      {"binary,0.1", TQ_QUANT_BINARY, 0, 0.1, 0},
      {"ternary,1,0.05", TQ_QUANT_TERNARY, 0.05, 1, 1},
      {"ternary,2,0.7", TQ_QUANT_TERNARY, 0.7, 2, 1},
      {"ternary,0.5,0", TQ_QUANT_TERNARY, 0, 0.5, 1},
      {"ternary,1,1e-39", TQ_QUANT_TERNARY, 1e-39, 1, 1},
      {"ternary, 0.25, 100", TQ_QUANT_TERNARY, 100, 0.25, 1},
      /* Without T: the threshold comes from the buffer (all of it, which
       * holds infinities, so T = inf and everything finite gives 0). */
      {"ternary", TQ_QUANT_TERNARY, 0, 1, 0},
      {"ternary,2", TQ_QUANT_TERNARY, 0, 2, 0},
  };
  uint64_t rng = 0x07E45u;
  floatvec in = {0};
  push_other_inputs(&in, &rng);
  size_t bad = 0;
  for (size_t i = 0; i < sizeof OTHERS / sizeof *OTHERS; i++) {
    tq_quant_params p = TQ_QUANT_PARAMS_INIT;
    p.kind = OTHERS[i].kind;
    p.threshold = OTHERS[i].threshold;
    p.magnitude = OTHERS[i].magnitude;
    p.has_threshold = OTHERS[i].has_threshold;
    bad += check_spec(OTHERS[i].spec, &p, in.v, in.n);
  }
  fv_free(&in);
  assert_int_equal(bad, 0);
}

/* Ternary without T on finite buffers, where the threshold matters: random
 * data (with NaNs, which are left out of the mean), and crafted buffers
 * with elements right at the threshold they produce. */
static void test_ternary_auto_threshold(void **state) {
  (void)state;
  tq_quant_params p = TQ_QUANT_PARAMS_INIT;
  p.kind = TQ_QUANT_TERNARY;
  p.magnitude = 1;
  uint64_t rng = 0x7E47u;
  size_t bad = 0;

  /* Random sizes across the 16384-element chunk boundary. */
  static const size_t SIZES[] = {1, 7, 1000, 16383, 16384, 16385, 50000};
  for (size_t s = 0; s < sizeof SIZES / sizeof *SIZES; s++) {
    floatvec in = {0};
    for (size_t i = 0; i < SIZES[s]; i++) {
      uint64_t r = tq_test_rand(&rng);
      double v = ldexp((double)(r >> 40) / 16777216.0, (int)(r % 8) - 4);
      if (r % 97 == 0) v = NAN;
      fv_push(&in, (float)((r >> 39) & 1 ? -v : v));
    }
    bad += check_spec("ternary", &p, in.v, in.n);
    fv_free(&in);
  }

  /* {3, -3, 2, -2, 1, -1, y, -y}: T = 0.7 (12 + 2y) / 8, so y close to the
   * fixed point 1.05 / 0.825 sits right at the threshold. */
  float y0 = (float)(1.05 / 0.825);
  for (int step = -4; step <= 4; step++) {
    float y = y0;
    for (int k = 0; k < abs(step); k++)
      y = nextafterf(y, step > 0 ? INFINITY : 0);
    const float in[] = {3, -3, 2, -2, 1, -1, y, -y};
    bad += check_spec("ternary", &p, in, 8);
  }
  /* All zeros and all NaN except one: T = 0 or T from one element. */
  const float zeros[] = {0, -0.0f, 0, 0};
  bad += check_spec("ternary", &p, zeros, 4);
  const float one[] = {NAN, 2.0f, NAN, -NAN};
  bad += check_spec("ternary", &p, one, 4);
  assert_int_equal(bad, 0);
}

/* ---- whole-library paths ------------------------------------------------- */

/* Buffers large enough to be split across threads and kernels' vector
 * tails: every path must match the model bit for bit. */
static void test_large_buffers(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    int fixed;
    int w, f, is_signed;
    tq_round round;
    tq_overflow overflow;
    int e, m, fn;
  } LARGE[] = {
      {"nearest,8,4", 1, 8, 4, 1, TQ_ROUND_NEAREST, TQ_OVERFLOW_SAT, 0, 0, 0},
      {"stochastic,8,4", 1, 8, 4, 1, TQ_ROUND_STOCHASTIC, TQ_OVERFLOW_SAT, 0, 0,
       0},
      {"even,16,8,overflow=wrap", 1, 16, 8, 1, TQ_ROUND_EVEN, TQ_OVERFLOW_WRAP,
       0, 0, 0},
      {"zero,32,40,signed=false", 1, 32, 40, 0, TQ_ROUND_ZERO, TQ_OVERFLOW_SAT,
       0, 0, 0},
      {"fp8e4m3", 0, 0, 0, 0, TQ_ROUND_EVEN, 0, 4, 3, 1},
      {"float,5,2,round=stochastic", 0, 0, 0, 0, TQ_ROUND_STOCHASTIC, 0, 5, 2,
       0},
      {"bf16", 0, 0, 0, 0, TQ_ROUND_EVEN, 0, 8, 7, 0},
      {"fp16", 0, 0, 0, 0, TQ_ROUND_EVEN, 0, 5, 10, 0},
  };
  enum { LARGE_N = (1 << 20) + 37 };
  uint64_t rng = 0x1A96Eu;
  floatvec in = {0};
  for (size_t i = 0; i < LARGE_N; i++) {
    uint64_t r = tq_test_rand(&rng);
    if (r & 1) {
      fv_push(&in, tq_test_float((uint32_t)(r >> 32)));
    } else {
      double v = ldexp((double)(r >> 40) / 16777216.0, (int)(r % 24) - 12);
      fv_push(&in, (float)((r >> 39) & 1 ? -v : v));
    }
  }
  size_t bad = 0;
  for (size_t i = 0; i < sizeof LARGE / sizeof *LARGE; i++) {
    tq_quant_params p;
    if (LARGE[i].fixed) {
      p = tqref_fixed_params(LARGE[i].w, LARGE[i].f, LARGE[i].round,
                             LARGE[i].overflow, LARGE[i].is_signed);
    } else {
      p = tqref_float_params(LARGE[i].e, LARGE[i].m, LARGE[i].round);
      p.finite_nan = LARGE[i].fn;
    }
    bad += check_spec(LARGE[i].spec, &p, in.v, in.n);
  }
  /* The same for the others, on finite data (ternary's T stays finite). */
  for (size_t i = 0; i < in.n; i++)
    if (!isfinite(in.v[i])) in.v[i] = 0.5f;
  tq_quant_params t = TQ_QUANT_PARAMS_INIT;
  t.kind = TQ_QUANT_TERNARY;
  t.magnitude = 1;
  bad += check_spec("ternary", &t, in.v, in.n);
  t.kind = TQ_QUANT_LOGARITHMIC;
  bad += check_spec("logarithmic", &t, in.v, in.n);
  fv_free(&in);
  assert_int_equal(bad, 0);
}

/* opts == NULL means seed 0, stream 0, offset 0 and the context's threads. */
static void test_null_opts(void **state) {
  (void)state;
  static const char *const SPECS[] = {"stochastic,8,4",
                                      "float,4,3,round=stochastic"};
  uint64_t rng = 0x0B75u;
  floatvec in = {0};
  push_random_bits(&in, &rng, 4096);
  for (int i = 0; i < 4096; i++)
    fv_push(&in, (float)((double)(tq_test_rand(&rng) >> 40) / 1048576.0));
  float *want = malloc(in.n * sizeof *want), *got = malloc(in.n * sizeof *got);
  assert_non_null(want);
  assert_non_null(got);
  for (int s = 0; s < 2; s++) {
    tq_quant_params p = s == 0 ? tqref_fixed_params(8, 4, TQ_ROUND_STOCHASTIC,
                                                    TQ_OVERFLOW_SAT, 1)
                               : tqref_float_params(4, 3, TQ_ROUND_STOCHASTIC);
    tq_quantizer *q = NULL;
    assert_int_equal(tq_quantizer_parse(ctx_, SPECS[s], &q), TQ_OK);
    tqref_quantize(&p, in.v, want, in.n, 0, 0, 0);
    assert_int_equal(tq_quantize(ctx_, q, in.v, got, in.n, NULL), TQ_OK);
    assert_int_equal(
        compare_outputs(SPECS[s], "opts=NULL", in.v, want, got, in.n, 0), 0);
    tq_quantizer_destroy(q);
  }
  free(want);
  free(got);
  fv_free(&in);
}

/* tq_quantizer_create() from params gives the quantizer the parser gives. */
static void test_create_from_params(void **state) {
  (void)state;
  tq_quant_params list[4];
  list[0] = tqref_fixed_params(12, 5, TQ_ROUND_HALF_DOWN, TQ_OVERFLOW_WRAP, 1);
  list[1] = tqref_fixed_params(25, -3, TQ_ROUND_AWAY, TQ_OVERFLOW_SAT, 0);
  list[2] = tqref_float_params(4, 3, TQ_ROUND_UP);
  list[2].finite_nan = 1;
  list[3] = tqref_float_params(3, 2, TQ_ROUND_STOCHASTIC);
  list[3].finite_only = 1;
  list[3].saturate = 1;
  uint64_t rng = 0xC4EA7Eu;
  floatvec in = {0};
  push_specials(&in);
  push_random_bits(&in, &rng, 4096);
  float *want = malloc(in.n * sizeof *want), *got = malloc(in.n * sizeof *got);
  assert_non_null(want);
  assert_non_null(got);
  for (size_t i = 0; i < 4; i++) {
    tq_quantizer *q = NULL;
    assert_int_equal(tq_quantizer_create(ctx_, &list[i], &q), TQ_OK);
    tq_quant_opts opts = {CALL_SEED, CALL_STREAM, CALL_OFFSET, 0, 0};
    tqref_quantize(&list[i], in.v, want, in.n, CALL_SEED, CALL_STREAM,
                   CALL_OFFSET);
    assert_int_equal(tq_quantize(ctx_, q, in.v, got, in.n, &opts), TQ_OK);
    assert_int_equal(compare_outputs(tq_quantizer_spec(q), "create", in.v, want,
                                     got, in.n, 0),
                     0);
    /* The canonical spec parses back to the same quantizer. */
    tq_quantizer *again = NULL;
    assert_int_equal(tq_quantizer_parse(ctx_, tq_quantizer_spec(q), &again),
                     TQ_OK);
    assert_int_equal(compare_params(tq_quantizer_spec(q),
                                    tq_quantizer_params(again), &list[i]),
                     0);
    tq_quantizer_destroy(again);
    tq_quantizer_destroy(q);
  }
  free(want);
  free(got);
  fv_free(&in);
}

/* Specs the decisions reject: the status and a message naming the token. */
static void test_spec_errors(void **state) {
  (void)state;
  static const struct {
    const char *spec;
    const char *token;
    tq_status status; /* TQ_OK here: either PARSE or RANGE is right */
  } BAD[] = {
      {"nearest,33,4", "33", TQ_ERR_RANGE},
      {"nearest,0,4", "0", TQ_ERR_RANGE},
      {"nearest,8,65", "65", TQ_ERR_RANGE},
      {"nearest,8,-65", "-65", TQ_ERR_RANGE},
      {"neerest,8,4", "neerest", TQ_ERR_PARSE},
      {"nearest,8,4,overflow=clamp", "clamp", TQ_ERR_PARSE},
      {"nearest,8,4,bogus=1", "bogus", TQ_ERR_PARSE},
      {"nearest,8,4,overflow=sat_sym,signed=false", "sat_sym", TQ_OK},
      {"nearest,8", "nearest", TQ_ERR_PARSE},
      {"float,9,3", "9", TQ_ERR_RANGE},
      {"float,1,3", "1", TQ_ERR_RANGE},
      {"float,4,24", "24", TQ_ERR_RANGE},
      {"float,4,3,round=half_up", "half_up", TQ_OK},
  };
  for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
    static char sentinel;
    tq_quantizer *q = (tq_quantizer *)(void *)&sentinel; /* reset to NULL */
    tq_status st = tq_quantizer_parse(ctx_, BAD[i].spec, &q);
    const char *msg = tq_context_last_error(ctx_);
    printf("spec '%s' -> %s: %s\n", BAD[i].spec, tq_status_str(st), msg);
    assert_null(q);
    if (BAD[i].status == TQ_OK)
      assert_true(st == TQ_ERR_PARSE || st == TQ_ERR_RANGE);
    else
      assert_int_equal(st, BAD[i].status);
    /* sat_sym + signed=false may name either token. */
    if (strcmp(BAD[i].token, "sat_sym") == 0)
      assert_true(strstr(msg, "sat_sym") || strstr(msg, "signed"));
    else
      assert_non_null(strstr(msg, BAD[i].token));
  }
}

/* ---- main ---------------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state; /* leave the group state NULL so that prestates reach tests */
  return tq_context_create(&ctx_) == TQ_OK ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  tq_context_destroy(ctx_);
  return 0;
}

static const tq_round ROUNDS[TQ_ROUND_COUNT] = {
    TQ_ROUND_NEAREST,   TQ_ROUND_EVEN,      TQ_ROUND_HALF_UP,
    TQ_ROUND_HALF_DOWN, TQ_ROUND_HALF_ZERO, TQ_ROUND_DOWN,
    TQ_ROUND_UP,        TQ_ROUND_ZERO,      TQ_ROUND_AWAY,
    TQ_ROUND_STOCHASTIC};

#define FIXED_TEST(i, label) \
  { "test_fixed_" label, test_fixed_round, NULL, NULL, (void *)&ROUNDS[i] }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_errors),
      FIXED_TEST(0, "nearest"),
      FIXED_TEST(1, "even"),
      FIXED_TEST(2, "half_up"),
      FIXED_TEST(3, "half_down"),
      FIXED_TEST(4, "half_zero"),
      FIXED_TEST(5, "down"),
      FIXED_TEST(6, "up"),
      FIXED_TEST(7, "zero"),
      FIXED_TEST(8, "away"),
      FIXED_TEST(9, "stochastic"),
      cmocka_unit_test(test_float_all_shapes),
      cmocka_unit_test(test_float_modes_options),
      cmocka_unit_test(test_float_named),
      cmocka_unit_test(test_others),
      cmocka_unit_test(test_ternary_auto_threshold),
      cmocka_unit_test(test_large_buffers),
      cmocka_unit_test(test_null_opts),
      cmocka_unit_test(test_create_from_params),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
