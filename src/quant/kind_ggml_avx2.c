/* The AVX2 kernel of llama.cpp's blocks (kind_ggml.c has the rest, and
 * the reference): per block of 32, the statistic in vectors, the scale by
 * tq_ggml_scale_of (shared with the reference), the elements in vectors
 * with ggml's operations in ggml's order (separate multiply and add, no
 * FMA). Compiled with -mavx2 -mfma -mf16c and only called after the
 * run-time CPU check; bit for bit the reference (tests/test_formats.c). */
#include <float.h>
#include <immintrin.h>
#include <math.h>

#include "quant/grouped.h"
#include "quant/kernel_loop_avx2.h"

enum { BLOCK = 32 };

/* (int8)v as the reference's to_int8, for the v ggml can reach (finite v
 * within int8, or NaN and infinities, which give 0): t is v rounded toward
 * zero, or by `round` first for q8_0's roundf; + 0 because an integer has
 * no -0. */
ALWAYS_INLINE __m256 int8_of(__m256 v, __m256 t) {
  __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
  __m256 in_range = _mm256_cmp_ps(a, _mm256_set1_ps(0x1p31f), _CMP_LT_OQ);
  return _mm256_add_ps(_mm256_and_ps(t, in_range), _mm256_setzero_ps());
}

ALWAYS_INLINE __m256 trunc8(__m256 v) {
  return int8_of(v, _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
}

/* A block's statistic: a = amax (q8_0), the signed largest element
 * (q4_0, q5_0) or the minimum (q4_1, q5_1), b = the maximum (q4_1, q5_1);
 * nan where the block holds a NaN. */
typedef struct block_stat {
  float a, b;
  int nan;
} block_stat;

static block_stat stat_of(const tq_quantizer *q, const float *x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4], nan = _mm256_setzero_ps();
  for (int k = 0; k < 4; k++) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    nan = _mm256_or_ps(nan, tq_avx2_nan_mask(v[k]));
  }
  block_stat st = {0.0f, 0.0f, _mm256_movemask_ps(nan) != 0};
  if (st.nan) return st;
  if (q->p.int_mode == TQ_INT_ASYM) {
    __m256 mn = _mm256_set1_ps(FLT_MAX), mx = _mm256_set1_ps(-FLT_MAX);
    for (int k = 0; k < 4; k++) {
      mn = _mm256_min_ps(mn, v[k]);
      mx = _mm256_max_ps(mx, v[k]);
    }
    st.a = tq_avx2_hmin_ps(mn);
    st.b = tq_avx2_hmax_ps(mx);
    return st;
  }
  __m256 am = _mm256_setzero_ps();
  for (int k = 0; k < 4; k++)
    am = _mm256_max_ps(am, _mm256_andnot_ps(sign, v[k]));
  float amax = tq_avx2_hmax_ps(am);
  if (q->p.width == 8 || amax == 0.0f) { /* ggml starts from max = 0.0f */
    st.a = q->p.width == 8 ? amax : 0.0f;
    return st;
  }
  /* The first element of largest magnitude, with its sign. */
  __m256 target = _mm256_set1_ps(amax);
  for (int k = 0; k < 4; k++) {
    int m = _mm256_movemask_ps(
        _mm256_cmp_ps(_mm256_andnot_ps(sign, v[k]), target, _CMP_EQ_OQ));
    if (m) {
      st.a = x[8 * k + __builtin_ctz((unsigned)m)];
      break;
    }
  }
  return st;
}

/* tq_ggml_scale_of for eight blocks at once: the same float32 operations
 * in lanes, and the fp16 rounding by F16C (nearest even, overflow to inf,
 * which tq_fp16_round is tested to equal). */
static void scale8(const tq_quantizer *q, const block_stat *st,
                   tq_ggml_scale *sc) {
  int w = q->p.width, asym = q->p.int_mode == TQ_INT_ASYM;
  float a[8], b[8], id[8], dh[8], mh[8];
  for (int j = 0; j < 8; j++) a[j] = st[j].a, b[j] = st[j].b;
  __m256 av = _mm256_loadu_ps(a), d;
  if (asym)
    d = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(b), av),
                      _mm256_set1_ps((float)((1 << w) - 1)));
  else
    d = _mm256_div_ps(av,
                      _mm256_set1_ps(w == 8 ? 127.0f : -(float)(1 << (w - 1))));
  __m256 nz = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_OQ);
  _mm256_storeu_ps(id,
                   _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), d), nz));
  _mm256_storeu_ps(dh, _mm256_cvtph_ps(_mm256_cvtps_ph(
                           d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  _mm256_storeu_ps(mh, _mm256_cvtph_ps(_mm256_cvtps_ph(
                           av, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  for (int j = 0; j < 8; j++)
    sc[j] = (tq_ggml_scale){id[j], dh[j], asym ? mh[j] : 0.0f};
}

/* The 32 outputs of a block from its statistic and scale. */
static void elements(const tq_quantizer *q, const float *x, float *y,
                     const block_stat *st, const tq_ggml_scale *sc) {
  if (st->nan) {
    for (int k = 0; k < 4; k++)
      _mm256_storeu_ps(y + 8 * k, _mm256_set1_ps(NAN));
    return;
  }
  int w = q->p.width;
  __m256 id = _mm256_set1_ps(sc->id), dh = _mm256_set1_ps(sc->dh);
  if (q->p.int_mode == TQ_INT_ASYM) {
    __m256 mh = _mm256_set1_ps(sc->mh), lov = _mm256_set1_ps(st->a);
    for (int k = 0; k < 4; k++) {
      __m256 v = _mm256_loadu_ps(x + 8 * k);
      __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v, lov), id),
                               _mm256_set1_ps(0.5f));
      __m256 r = trunc8(t);
      if (w == 4) r = _mm256_min_ps(r, _mm256_set1_ps(15.0f));
      _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(r, dh), mh));
    }
    return;
  }
  if (w == 8) {
    for (int k = 0; k < 4; k++) {
      __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id);
      __m256 r = int8_of(
          t, tq_avx2_round_ps(t, _mm256_setzero_ps(), TQ_ROUND_NEAREST));
      _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(r, dh));
    }
    return;
  }
  float half = (float)(1 << (w - 1));
  __m256 off = _mm256_set1_ps(half + 0.5f), hv = _mm256_set1_ps(half),
         top = _mm256_set1_ps(2.0f * half - 1.0f);
  for (int k = 0; k < 4; k++) {
    __m256 v = _mm256_loadu_ps(x + 8 * k);
    __m256 r = trunc8(_mm256_add_ps(_mm256_mul_ps(v, id), off));
    r = _mm256_min_ps(r, top);
    _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_sub_ps(r, hv), dh));
  }
}

/* Eight blocks at a time (their scales in lanes), then one by one. */
void tq_avx2_ggml(const tq_quantizer *q, const float *in, float *out, size_t n,
                  tq_rng_pos rng, double threshold) {
  (void)rng, (void)threshold;
  size_t nb = n / BLOCK, b = 0;
  block_stat st[8];
  tq_ggml_scale sc[8];
  for (; b + 8 <= nb; b += 8) {
    /* (A NaN block's a and b are 0: its scale is computed and unused.) */
    for (int j = 0; j < 8; j++) st[j] = stat_of(q, in + (b + j) * BLOCK);
    scale8(q, st, sc);
    for (int j = 0; j < 8; j++)
      elements(q, in + (b + j) * BLOCK, out + (b + j) * BLOCK, &st[j], &sc[j]);
  }
  for (; b < nb; b++) {
    st[0] = stat_of(q, in + b * BLOCK);
    sc[0] = tq_ggml_scale_of(q, st[0].a, st[0].b);
    elements(q, in + b * BLOCK, out + b * BLOCK, &st[0], &sc[0]);
  }
}
