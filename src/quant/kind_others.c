/* TensorQuant's other quantizers and the identity: logarithmic, sparse,
 * binary, ternary, none (docs/design.md §2, docs/quantizers.md). One entry
 * each; their AVX2 kernels are in kind_others_avx2.c. None of them rounds
 * or takes options besides ste=. */
#include <math.h>

#include "core/error.h"
#include "quant/spec_internal.h"

/* round: what tq_quantizer_params reports (none of these rounds). */
#define ROW(nm, kind, min, max, round, usage, desc) \
  { {nm, usage, desc}, kind, min, max, 0, round, 0, 0, 0, 0, 0, TQ_INT_SYM }

/* ---- none ----------------------------------------------------------------*/

static const tq_spec_row none_rows[] = {ROW("none", TQ_QUANT_NONE, 0, 0,
                                            TQ_ROUND_NEAREST, "none",
                                            "identity: no quantization")};

static void none_format(const tq_quant_params *p, char *buf, size_t size) {
  (void)p;
  tq_spec_append(buf, size, "none");
}

static double no_bits(const tq_quant_params *p) {
  (void)p;
  return 0; /* no fixed-size code */
}

static double none_define(const tq_quantizer *q, double x, double u,
                          double threshold) {
  (void)q, (void)u, (void)threshold;
  return x;
}

/* Float thresholds equivalent to comparing a float with the double T, for
 * the vector kernels: |x| < T <=> |x| < above(T) and x > T <=> x >
 * below(T). */
float tq_float_above(double t) {
  float f = (float)t;
  if ((double)f < t) f = nextafterf(f, INFINITY);
  return f;
}

float tq_float_below(double t) {
  float f = (float)t;
  if ((double)f > t) f = nextafterf(f, -INFINITY);
  return f;
}

const tq_kind_traits tq_kind_none = {
    .kind = TQ_QUANT_NONE,
    .name = "none",
    .rows = none_rows,
    .row_count = 1,
    .format = none_format,
    .bits = no_bits,
    .define = none_define,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_copy,
                [TQ_ISA_AVX2] = tq_avx2_copy,
                [TQ_ISA_AVX512] = tq_avx512_copy},
    .vec_form = TQ_VEC_IDENTITY,
};

/* ---- logarithmic ---------------------------------------------------------*/

static const tq_spec_row log_rows[] = {
    ROW("logarithmic", TQ_QUANT_LOGARITHMIC, 0, 0, TQ_ROUND_DOWN, "logarithmic",
        "power of two: sign(x)*2^floor(log2|x|) (TensorQuant)")};

static void log_format(const tq_quant_params *p, char *buf, size_t size) {
  (void)p;
  tq_spec_append(buf, size, "logarithmic");
}

/* sign(x) 2^floor(log2|x|); +-0 -> +0, +-inf and NaN unchanged. */
static double log_define(const tq_quantizer *q, double x, double u,
                         double threshold) {
  (void)q, (void)u, (void)threshold;
  if (isnan(x) || isinf(x)) return x;
  if (x == 0.0) return 0.0;
  int e2;
  frexp(x, &e2);
  return copysign(ldexp(1.0, e2 - 1), x);
}

const tq_kind_traits tq_kind_logarithmic = {
    .kind = TQ_QUANT_LOGARITHMIC,
    .name = "logarithmic",
    .rows = log_rows,
    .row_count = 1,
    .format = log_format,
    .bits = no_bits,
    .define = log_define,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_kernel,
                [TQ_ISA_AVX2] = tq_avx2_log,
                [TQ_ISA_AVX512] = tq_avx512_log},
    .vec_form = TQ_VEC_GENERIC,
};

/* ---- sparse --------------------------------------------------------------*/

static const tq_spec_row sparse_rows[] = {
    ROW("sparse", TQ_QUANT_SPARSE, 1, 1, TQ_ROUND_NEAREST, "sparse,T",
        "|x| < T becomes 0, else x (TensorQuant)")};

static tq_status sparse_args(tq_spec_parser *ps, const tq_spec_token *args,
                             int nargs, tq_quant_params *p) {
  (void)nargs; /* always 1 */
  return tq_spec_real(ps, &args[0], "threshold T", &p->threshold);
}

static void sparse_format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "sparse,");
  tq_spec_append_real(buf, size, p->threshold);
}

/* A threshold parameter, where one is given: finite and >= 0. */
static tq_status check_threshold(tq_context *ctx, const char *src,
                                 const char *kind, double t) {
  if (!(t >= 0) || isinf(t))
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "%s threshold T must be finite and >= 0, got %g", kind, t);
  return TQ_OK;
}

static tq_status sparse_validate(tq_context *ctx, const tq_quant_params *p,
                                 const char *src) {
  return check_threshold(ctx, src, "sparse", p->threshold);
}

static double sparse_define(const tq_quantizer *q, double x, double u,
                            double threshold) {
  (void)u, (void)threshold; /* T is the parameter */
  return fabs(x) < q->p.threshold ? 0.0 : x;
}

const tq_kind_traits tq_kind_sparse = {
    .kind = TQ_QUANT_SPARSE,
    .name = "sparse",
    .rows = sparse_rows,
    .row_count = 1,
    .parse_args = sparse_args,
    .format = sparse_format,
    .validate = sparse_validate,
    .bits = no_bits,
    .define = sparse_define,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_kernel,
                [TQ_ISA_AVX2] = tq_avx2_sparse,
                [TQ_ISA_AVX512] = tq_avx512_sparse},
    .vec_form = TQ_VEC_GENERIC,
};

/* ---- binary and ternary: +-m ---------------------------------------------*/

/* [M[,T]]: the magnitude, then (ternary) the threshold. */
static tq_status magnitude_args(tq_spec_parser *ps, const tq_spec_token *args,
                                int nargs, tq_quant_params *p) {
  tq_status st = TQ_OK;
  if (nargs >= 1) st = tq_spec_real(ps, &args[0], "magnitude m", &p->magnitude);
  if (st == TQ_OK && nargs >= 2) {
    st = tq_spec_real(ps, &args[1], "threshold T", &p->threshold);
    p->has_threshold = 1;
  }
  return st;
}

/* name[,M][,T]: M left out when it is the default 1 and no T follows. */
static void magnitude_format(const char *name, const tq_quant_params *p,
                             int with_threshold, char *buf, size_t size) {
  tq_spec_append(buf, size, "%s", name);
  if (p->magnitude == 1.0 && !with_threshold) return;
  tq_spec_append(buf, size, ",");
  tq_spec_append_real(buf, size, p->magnitude);
  if (!with_threshold) return;
  tq_spec_append(buf, size, ",");
  tq_spec_append_real(buf, size, p->threshold);
}

static tq_status magnitude_validate(tq_context *ctx, const tq_quant_params *p,
                                    const char *src) {
  if (!(p->magnitude > 0) || !isfinite((float)p->magnitude))
    return tq_error(ctx, TQ_ERR_RANGE, src, 0, 0,
                    "magnitude m must be a positive finite float32, got %g",
                    p->magnitude);
  return TQ_OK;
}

static void magnitude_derive(tq_quantizer *q) {
  q->range_lo = -(double)(float)q->p.magnitude;
  q->range_hi = (double)(float)q->p.magnitude;
}

static const tq_spec_row binary_rows[] = {
    ROW("binary", TQ_QUANT_BINARY, 0, 1, TQ_ROUND_NEAREST, "binary[,M]",
        "x >= 0 -> +M, else -M; M = 1 by default")};

static void binary_format(const tq_quant_params *p, char *buf, size_t size) {
  magnitude_format("binary", p, 0, buf, size);
}

static double binary_bits(const tq_quant_params *p) {
  (void)p;
  return 1;
}

static double binary_define(const tq_quantizer *q, double x, double u,
                            double threshold) {
  (void)u, (void)threshold;
  double m = (float)q->p.magnitude;
  return isnan(x) ? x : x >= 0.0 ? m : -m;
}

const tq_kind_traits tq_kind_binary = {
    .kind = TQ_QUANT_BINARY,
    .name = "binary",
    .rows = binary_rows,
    .row_count = 1,
    .parse_args = magnitude_args,
    .format = binary_format,
    .validate = magnitude_validate,
    .derive = magnitude_derive,
    .bits = binary_bits,
    .define = binary_define,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_kernel,
                [TQ_ISA_AVX2] = tq_avx2_binary,
                [TQ_ISA_AVX512] = tq_avx512_binary},
    .vec_form = TQ_VEC_GENERIC,
};

static const tq_spec_row ternary_rows[] = {
    ROW("ternary", TQ_QUANT_TERNARY, 0, 2, TQ_ROUND_NEAREST, "ternary[,M[,T]]",
        "x > T -> +M, x < -T -> -M, else 0; T = 0.7*mean|x| when omitted")};

static void ternary_format(const tq_quant_params *p, char *buf, size_t size) {
  magnitude_format("ternary", p, p->has_threshold, buf, size);
}

static tq_status ternary_validate(tq_context *ctx, const tq_quant_params *p,
                                  const char *src) {
  tq_status st = magnitude_validate(ctx, p, src);
  if (st == TQ_OK && p->has_threshold)
    st = check_threshold(ctx, src, "ternary", p->threshold);
  return st;
}

static double ternary_bits(const tq_quant_params *p) {
  (void)p;
  return 2;
}

/* threshold: T, given or resolved from the tensor. */
static double ternary_define(const tq_quantizer *q, double x, double u,
                             double threshold) {
  (void)u;
  double m = (float)q->p.magnitude;
  return isnan(x) ? x : x > threshold ? m : x < -threshold ? -m : 0.0;
}

/* Without T: T = 0.7 * mean|x| (TensorQuant's rule). */
static int ternary_mean_abs(const tq_quant_params *p, double *factor) {
  if (p->has_threshold) return 0;
  *factor = 0.7;
  return 1;
}

static const char *ternary_intrinsic(const tq_quant_params *p) {
  if (p->has_threshold) return NULL;
  return "ternary without a threshold takes T = 0.7 * mean|x| over a whole "
         "tensor, and the products and sums inside an operation are no "
         "tensor; give T explicitly (e.g. ternary,1,0.05)";
}

const tq_kind_traits tq_kind_ternary = {
    .kind = TQ_QUANT_TERNARY,
    .name = "ternary",
    .rows = ternary_rows,
    .row_count = 1,
    .parse_args = magnitude_args,
    .format = ternary_format,
    .validate = ternary_validate,
    .derive = magnitude_derive,
    .bits = ternary_bits,
    .define = ternary_define,
    .mean_abs_threshold = ternary_mean_abs,
    .kernels = {[TQ_ISA_SCALAR] = tq_ref_kernel,
                [TQ_ISA_AVX2] = tq_avx2_ternary,
                [TQ_ISA_AVX512] = tq_avx512_ternary},
    .vec_form = TQ_VEC_GENERIC,
    .intrinsic_unsupported = ternary_intrinsic,
};
