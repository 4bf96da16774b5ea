/* Internal: counter-based random numbers for stochastic rounding.
 *
 * Element `index` of (seed, stream) uses word (index & 3) of
 * Philox4x32-10(counter = {index>>2 low, index>>2 high, stream low,
 * stream high}, key = {seed low, seed high}); u = (word >> 8) * 2^-24.
 * Nothing but (seed, stream, index) enters, so results do not depend on
 * thread count, vector width or how a tensor is split into calls. */
#ifndef TQ_QUANT_PHILOX_H
#define TQ_QUANT_PHILOX_H

#include <stdint.h>

/* The four 32-bit words of block `block`. */
void tq_philox_block(uint64_t seed, uint64_t stream, uint64_t block,
                     uint32_t out[4]);

/* Fills u[0..n-1] with the 24-bit integers U (u = U * 2^-24) of elements
 * first .. first+n-1. */
void tq_philox_fill_u24(uint64_t seed, uint64_t stream, uint64_t first,
                        uint32_t *u24, size_t n);

#endif
