/* llama.cpp's blocks q8_0, q4_0, q4_1, q5_0 and q5_1 (docs/design.md
 * §2.10): 32 consecutive elements of the last axis share an fp16 scale
 * (and, for the _1 types, an fp16 minimum), with ggml's own float32
 * arithmetic: bit-identical, after dequantization, to its
 * quantize_row_*_ref and dequantize_row_*. The last axis must be a
 * multiple of 32, so blocks are consecutive 32-element pieces of the
 * buffer and the kernels are element-wise ones over whole blocks. */
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "quant/grouped.h"
#include "quant/spec_internal.h"

enum { GGML_BLOCK = 32 };

#define GGML_ROW(nm, w, mode, desc)                                          \
  {                                                                          \
    {nm, nm, desc}, TQ_QUANT_GGML, 0, 0, 0, TQ_ROUND_NEAREST, 0, 0, 0, 0, w, \
        mode                                                                 \
  }

static const tq_spec_row rows[] = {
    GGML_ROW("q8_0", 8, TQ_INT_SYM,
             "llama.cpp Q8_0: blocks of 32 along the last axis, 8-bit "
             "integers, fp16 scale (8.5 bits)"),
    GGML_ROW("q4_0", 4, TQ_INT_SYM,
             "llama.cpp Q4_0: blocks of 32 along the last axis, 4-bit, fp16 "
             "scale from the signed largest element (4.5 bits)"),
    GGML_ROW("q4_1", 4, TQ_INT_ASYM,
             "llama.cpp Q4_1: blocks of 32 along the last axis, 4-bit, fp16 "
             "scale and minimum (5 bits)"),
    GGML_ROW("q5_0", 5, TQ_INT_SYM,
             "llama.cpp Q5_0: blocks of 32 along the last axis, 5-bit, fp16 "
             "scale from the signed largest element (5.5 bits)"),
    GGML_ROW("q5_1", 5, TQ_INT_ASYM,
             "llama.cpp Q5_1: blocks of 32 along the last axis, 5-bit, fp16 "
             "scale and minimum (6 bits)"),
};
enum { ROW_COUNT = sizeof rows / sizeof rows[0] };

static const tq_spec_row *row_of(const tq_quant_params *p) {
  for (size_t i = 0; i < ROW_COUNT; i++)
    if (rows[i].width == p->width && rows[i].int_mode == p->int_mode)
      return &rows[i];
  return NULL;
}

static void format(const tq_quant_params *p, char *buf, size_t size) {
  tq_spec_append(buf, size, "%s", row_of(p)->info.name);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  if (!row_of(p))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "llama.cpp blocks are q8_0, q4_0, q5_0 (width 8, 4, 5; "
                    "sym) and q4_1, q5_1 (width 4, 5; asym), not width %d %s",
                    p->width, tq_int_mode_name(p->int_mode));
  if (p->axis_mode || p->group || p->scale || p->scale_round || p->is_static)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "llama.cpp blocks are fixed: 32 along the last axis");
  return TQ_OK;
}

/* The fp16 scale, and the fp16 minimum of the _1 types. */
static double bits(const tq_quant_params *p) {
  return p->width + (p->int_mode == TQ_INT_ASYM ? 32.0 : 16.0) / GGML_BLOCK;
}

/* GGML_FP32_TO_FP16 then back: IEEE half, nearest even, overflow to inf
 * (the F16C conversion; ggml's bit trick equals it on every non-NaN). */
static float fp16(float x) {
  return tq_fp16_round(x);
}

/* C's conversion of a float to int8_t as x86-64 compilers emit it (through
 * a 32-bit truncation): in range it truncates toward zero; ggml only
 * reaches the out-of-range case with NaN or infinite products, which
 * x86-64 turns into 0 (as does gguf's numpy). */
static float to_int8(float v) {
  if (!(fabsf(v) < 2147483648.0f)) return 0.0f;
  return (float)(int8_t)(uint8_t)((int64_t)v & 0xff);
}

tq_ggml_scale tq_ggml_scale_of(const tq_quantizer *q, float a, float b) {
  int w = q->p.width;
  float d;
  tq_ggml_scale sc = {0.0f, 0.0f, 0.0f};
  if (q->p.int_mode == TQ_INT_ASYM) {
    d = (b - a) / (float)((1 << w) - 1);
    sc.mh = fp16(a);
  } else {
    d = w == 8 ? a / 127.0f : a / -(float)(1 << (w - 1));
  }
  sc.id = d != 0.0f ? 1.0f / d : 0.0f;
  sc.dh = fp16(d);
  return sc;
}

/* One block of 32, as ggml's reference does it; NaN anywhere makes the
 * whole block NaN (ggml's C is undefined there, gguf gives this). */
static void block_ref(const tq_quantizer *q, const float *x, float *y) {
  for (int j = 0; j < GGML_BLOCK; j++)
    if (isnan(x[j])) {
      for (int k = 0; k < GGML_BLOCK; k++) y[k] = NAN;
      return;
    }
  int w = q->p.width;
  if (q->p.int_mode == TQ_INT_ASYM) {
    float mn = 3.40282347e38f, mx = -3.40282347e38f;
    for (int j = 0; j < GGML_BLOCK; j++) {
      if (x[j] < mn) mn = x[j];
      if (x[j] > mx) mx = x[j];
    }
    tq_ggml_scale sc = tq_ggml_scale_of(q, mn, mx);
    for (int j = 0; j < GGML_BLOCK; j++) {
      float r = to_int8((x[j] - mn) * sc.id + 0.5f);
      if (w == 4 && r > 15.0f) r = 15.0f; /* q5_1 has no clamp */
      y[j] = r * sc.dh + sc.mh;
    }
    return;
  }
  if (w == 8) {
    float amax = 0.0f;
    for (int j = 0; j < GGML_BLOCK; j++) {
      float v = fabsf(x[j]);
      amax = amax > v ? amax : v;
    }
    tq_ggml_scale sc = tq_ggml_scale_of(q, amax, 0.0f);
    for (int j = 0; j < GGML_BLOCK; j++)
      y[j] = to_int8(roundf(x[j] * sc.id)) * sc.dh;
    return;
  }
  /* q4_0, q5_0: the scale comes from the largest element with its sign
   * (the first of equal magnitudes). */
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < GGML_BLOCK; j++)
    if (amax < fabsf(x[j])) {
      amax = fabsf(x[j]);
      max = x[j];
    }
  tq_ggml_scale sc = tq_ggml_scale_of(q, max, 0.0f);
  float half = (float)(1 << (w - 1)), top = 2.0f * half - 1.0f;
  for (int j = 0; j < GGML_BLOCK; j++) {
    float r = to_int8(x[j] * sc.id + (half + 0.5f));
    if (r > top) r = top;
    y[j] = (r - half) * sc.dh;
  }
}

/* Whole blocks: tq_quantize_tensor checks the last axis, and chunks hold
 * whole blocks. */
static void kernel_ref(const tq_quantizer *q, const float *in, float *out,
                       size_t n, tq_rng_pos rng, double threshold) {
  (void)rng, (void)threshold;
  float y[GGML_BLOCK];
  for (size_t b = 0; b + GGML_BLOCK <= n; b += GGML_BLOCK) {
    block_ref(q, in + b, y);
    for (int j = 0; j < GGML_BLOCK; j++) out[b + j] = y[j];
  }
}

static const tq_group_traits groups = {
    .block_only = 1,
    .default_group = GGML_BLOCK,
    .last_axis_only = 1,
};

const tq_kind_traits tq_kind_ggml = {
    .kind = TQ_QUANT_GGML,
    .name = "ggml",
    .rows = rows,
    .row_count = ROW_COUNT,
    .format = format,
    .validate = validate,
    .bits = bits,
    .kernels = {[TQ_ISA_SCALAR] = kernel_ref, [TQ_ISA_AVX2] = tq_avx2_ggml},
    .groups = &groups,
    .vec_form = TQ_VEC_GENERIC,
    .intrinsic_unsupported = tq_group_intrinsic,
};
