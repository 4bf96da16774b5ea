/* Internal: the accumulator behind tq_stats (stats.h), shared by the
 * collection (stats.c) and the report writers (stats_report.c). */
#ifndef TQ_ANALYSIS_STATS_INTERNAL_H
#define TQ_ANALYSIS_STATS_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "tensorquant/stats.h"

/* Fine bins: a float's sign, its 8 exponent bits and the top FINE_BITS of
 * its 23 stored mantissa bits. Counts live in one block of FINE_PER_EXP
 * per (sign, exponent) pair, allocated when the first value lands there,
 * since real tensors use a few dozen of the 2 x 255 binades. */
#define FINE_BITS 10
#define FINE_SHIFT (23 - FINE_BITS)
#define FINE_PER_EXP (1u << FINE_BITS)
#define FINE_EXPS 255 /* exponent fields 0..254; 255 is inf/NaN */

typedef struct stats_acc {
  uint64_t *fine[2][FINE_EXPS]; /* [sign][exponent field] */
  /* Subnormals per binade: |x| in [2^(-149+k), 2^(-148+k)), k = 0..22;
   * their fine bins do not see the binade when the leading one is low. */
  uint64_t sub_log2[23];
  uint64_t count, finite, zeros, nan, pos_inf, neg_inf;
  float min, max; /* of the finite values; +inf/-inf while there are none */
  /* Moments of the finite values, merged unit by unit (a sample, or a
   * whole weight tensor) in a fixed order: count, mean, sum of squared
   * deviations (Chan, Golub and LeVeque's pairwise update). */
  double n, mean, m2;
} stats_acc;

typedef struct stats_entry {
  tq_stats_entry pub;
  stats_acc acc;
  char *layer, *value, *op; /* owned copies */
} stats_entry;

struct tq_stats {
  stats_entry *e;
  size_t n, cap;
  int widths[TQ_STATS_MAX_WIDTHS];
  size_t n_widths;
  size_t bins;
  size_t samples;
};

/* The schema's "stats" object: {"widths": [...], "bins": N, "layers":
 * [...]} (NULL when out of memory); the caller owns the reference. */
json_t *tq_stats_json_object(const tq_stats *st);

#endif
