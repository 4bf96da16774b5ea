/* Internal: AVX2 building blocks shared by the quantizer kernels
 * (kernels_avx2.c) and the intrinsic GEMM (src/ops/intrinsic_avx2.c).
 * Include only from files compiled with -mavx2 -mfma -mf16c (*_avx2.c). */
#ifndef TQ_QUANT_AVX2_SHARED_H
#define TQ_QUANT_AVX2_SHARED_H

#include <immintrin.h>
#include <math.h>

#include "quant/quant_internal.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Any float(e, m) with round to nearest even (sat, fn, finite and flushing
 * allowed). Where the target is normal its quantum equals float32's ulp
 * scaled by 2^(23-m), so round to nearest even is an integer add on the
 * bit pattern (a carry out of the mantissa moves to the next binade, or to
 * inf); below 2^emin the quantum is the fixed 2^(emin-m), and adding
 * C = 2^(emin-m+23) makes the float32 adder round to exactly that quantum,
 * ties to even (C is an even multiple of it), before C is subtracted again
 * exactly. Infinities go through the integer trick unchanged and land in
 * the overflow test. Needs 1 <= m < 23 (with m = 0 the bit above the cut
 * is the exponent's, not the significand's parity). */
typedef struct rne_vec {
  __m256i bias, keep;
  int sh, flush;
  __m256 min_normal, magic, max_f, over, flush_below;
} rne_vec;

static inline void rne_init(rne_vec *c, const tq_quantizer *q) {
  const tq_quant_params *p = &q->p;
  int sh = 23 - p->man_bits;
  float over = (p->saturate || p->finite_only) ? q->fl.max_f
               : p->finite_nan                 ? NAN
                                               : INFINITY;
  c->bias = _mm256_set1_epi32((1 << (sh - 1)) - 1);
  c->keep = _mm256_set1_epi32((int)(~0u << sh));
  c->sh = sh;
  c->min_normal = _mm256_set1_ps(ldexpf(1.0f, q->fl.emin));
  c->magic = _mm256_set1_ps(ldexpf(1.0f, q->fl.emin - p->man_bits + 23));
  c->max_f = _mm256_set1_ps(q->fl.max_f);
  c->over = _mm256_set1_ps(over);
  c->flush_below = _mm256_set1_ps(q->fl.min_normal);
  c->flush = !p->subnormals;
}

ALWAYS_INLINE __m256 rne_ps(const rne_vec *c, __m256 x) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 ax = _mm256_andnot_ps(sign_bit, x);
  __m256i b = _mm256_castps_si256(ax);
  __m256i lsb =
      _mm256_and_si256(_mm256_srli_epi32(b, c->sh), _mm256_set1_epi32(1));
  __m256 normal = _mm256_castsi256_ps(_mm256_and_si256(
      _mm256_add_epi32(_mm256_add_epi32(b, c->bias), lsb), c->keep));
  __m256 sub = _mm256_sub_ps(_mm256_add_ps(ax, c->magic), c->magic);
  __m256 mag = _mm256_blendv_ps(normal, sub,
                                _mm256_cmp_ps(ax, c->min_normal, _CMP_LT_OQ));
  mag =
      _mm256_blendv_ps(mag, c->over, _mm256_cmp_ps(mag, c->max_f, _CMP_GT_OQ));
  if (c->flush)
    mag = _mm256_andnot_ps(_mm256_cmp_ps(mag, c->flush_below, _CMP_LT_OQ), mag);
  __m256 y = _mm256_or_ps(mag, _mm256_and_ps(x, sign_bit));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

#endif
