/* Internal: the grid an `int,B` quantizer puts on one group of values
 * (docs/design.md §2.10), and the int32 bias rule built on it (§3): what
 * the QDQ exporter writes and what the session's weights maps do to
 * biases. */
#ifndef TQ_QUANT_INT_GRID_H
#define TQ_QUANT_INT_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/quantizer.h"

/* The scale *s and zero point *zp int spec p (float32 scales) computes
 * for a group of n values v: sym amax / (2^(B-1) - 1), unsigned amax /
 * (2^B - 1), asym (hi - lo) / (2^B - 1) with zp = round_even(-lo / s)
 * clamped to the grid. A group of zeros gets s = 1 (then q = 0). */
void tq_int_group_grid(const tq_quant_params *p, const float *v, size_t n,
                       float *s, int64_t *zp);

/* ONNX Runtime's int32 bias (quantize_static): bias_scale[c] =
 * float32(in_scale * w_scale[c]) (one w_scale per output channel, or one
 * for all when n_w is 1), q = clamp(round_even(double(b) / double(
 * bias_scale)), int32), out[c] = float32(q) * bias_scale (what its
 * DequantizeLinear computes). n_w is 1 or n. */
void tq_int32_bias(const float *b, size_t n, float in_scale,
                   const float *w_scale, size_t n_w, float *out);

#endif
