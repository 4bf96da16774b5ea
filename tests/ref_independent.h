/* An independent scalar model of every quantizer, for the tests only.
 *
 * Written from docs/design.md §2 and the semantic decisions recorded in
 * tests/ref_independent.c, without looking at src/quant/: the point is that
 * two implementations written apart agree bit for bit. It favours obvious
 * correctness over speed: every arithmetic step is exact in double
 * precision (the comments in the .c file say why), so the only rounding is
 * the one the quantizer itself defines. */
#ifndef TQ_TESTS_REF_INDEPENDENT_H
#define TQ_TESTS_REF_INDEPENDENT_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/quantizer.h"

/* Quantizes n values of in into out (no aliasing) as the library must.
 * seed, stream and offset are the call's tq_quant_opts fields; a seed in
 * the params (has_seed) wins over the call's seed, as in the library. */
void tqref_quantize(const tq_quant_params *p, const float *in, float *out,
                    size_t n, uint64_t seed, uint64_t stream, uint64_t offset);

/* One fixed-point value; u is the stochastic rounding number in [0, 1)
 * (ignored for the other rounding modes). */
float tqref_fixed(const tq_quant_params *p, float x, double u);

/* One float(e, m) value; u as above. */
float tqref_float(const tq_quant_params *p, float x, double u);

/* The other scalar quantizers. */
float tqref_logarithmic(float x);
float tqref_sparse(double threshold, float x);
float tqref_binary(double magnitude, float x);
float tqref_ternary(double magnitude, double threshold, float x);

/* T = 0.7 * mean(|x|) over the non-NaN elements, summed in 16384-element
 * chunks (sequentially inside a chunk), chunk sums added in order. */
double tqref_ternary_threshold(const float *in, size_t n);

/* Fixed point integer limits of p: q in [*qmin, *qmax] (before sat_sym). */
void tqref_fixed_limits(const tq_quant_params *p, double *qmin, double *qmax);

/* Largest finite magnitude of float(e, m) with p's options. */
double tqref_float_max(const tq_quant_params *p);

/* Smallest normal exponent of float(e, m): emin = 1 - bias. */
int tqref_float_emin(const tq_quant_params *p);

/* Constructors of parameter sets, filled the way the parser must fill them
 * (other fields zero; subnormals = 1 for floats). */
tq_quant_params tqref_fixed_params(int width, int frac, tq_round round,
                                   tq_overflow overflow, int is_signed);
tq_quant_params tqref_float_params(int exp_bits, int man_bits, tq_round round);

#endif
