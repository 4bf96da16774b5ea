/* Per-layer statistics of activations and weights (tq stats, docs/stats.md).
 *
 * tq_stats_collect() runs a session over a slice of a dataset and records,
 * for every node's float output (an "activation" entry per output) and for
 * every weight the node owns (a "weight" entry per weight input, docs/design.md
 * §3): element counts (NaN, +inf, -inf and exact zeros counted apart),
 * min, max, mean, std and max |x| of the finite values, and an exact count
 * of the values in fine bins keyed by the float's bit pattern, from which
 * percentiles and histograms are read.
 *
 * With maps on the session, the figures are of the quantized values: the
 * outputs after the extrinsic quantizer, the weights after the weights
 * quantizer (as the session feeds them to the operators).
 *
 * Accuracy (docs/stats.md): counts, min, max and max_abs are exact. A fine
 * bin holds the values that agree in sign, exponent and the top 10 stored
 * mantissa bits (11 significant bits); a percentile is the nearest-rank
 * value truncated toward zero to 11 significant bits, so it is exact for
 * data with at most 11 significant bits (fixed point up to 11 bits, fp16,
 * bf16, fp8 ...) and otherwise within a relative 2^-10 (below 0.1 %) of
 * the exact one, on the side of zero (subnormal floats: within 2^-136
 * absolute). Linear histogram bins take each value at that same
 * truncation. Mean and std are accumulated in double, per sample in index
 * order and then over samples in dataset order, so they are identical at
 * any batch size and thread count.
 *
 * Ownership: tq_stats_collect() gives the caller an object to free with
 * tq_stats_destroy(); entries and their strings belong to it. Strings from
 * tq_stats_to_json() are freed with tq_free(). Thread-safety: a collected
 * object is immutable; any number of threads may read it. Collection uses
 * the session (one thread per session) and its observer slot. */
#ifndef TENSORQUANT_STATS_H
#define TENSORQUANT_STATS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "export.h"
#include "session.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fractional bits of a signed fixed-point word: the largest f such that
 * (2^(width-1) - 1) * 2^-f >= max_abs, i.e. the finest `nearest,width,f`
 * whose largest value still covers max_abs. f may be negative (large
 * values) or exceed width (small ones). Rules for the edge cases:
 *   - max_abs == 0 (nothing to cover): width - 1;
 *   - max_abs < 0: its magnitude is used;
 *   - max_abs +-inf or NaN: treated as FLT_MAX, the largest float32, so
 *     the word covers every finite float32 (infinities saturate anyway);
 *     callers should warn (tq stats does);
 *   - width outside [2, 53]: TQ_FRAC_BITS_INVALID.
 * Exact: no rounding in the computation. Pure function. */
#define TQ_FRAC_BITS_INVALID INT_MIN
TQ_API int tq_fixed_frac_bits(double max_abs, int width);

typedef enum tq_stats_kind {
  TQ_STATS_ACTIVATION = 0, /* a node's output */
  TQ_STATS_WEIGHT = 1,     /* a weight input of a node */
  TQ_STATS_KIND_COUNT
} tq_stats_kind;

/* "activation" or "weight" (NULL if invalid). */
TQ_API const char *tq_stats_kind_name(tq_stats_kind kind);

/* Progress after each batch; return nonzero to stop (TQ_ERR_INTERRUPTED). */
typedef int (*tq_stats_progress)(void *user, size_t done, size_t total);

/* Largest number of word widths an options struct may list. */
#define TQ_STATS_MAX_WIDTHS 16

typedef struct tq_stats_opts {
  /* Word widths for the fractional bits in reports (tq_stats_to_json,
   * CSV), each in [2, 53]; n_widths == 0: {4, 8, 16}. */
  int widths[TQ_STATS_MAX_WIDTHS];
  size_t n_widths;
  size_t bins;          /* linear histogram bins in reports; 0: 64 */
  int skip_activations; /* 1: weights only (no data is run) */
  int skip_weights;     /* 1: activations only */
  tq_stats_progress progress;
  void *user;
} tq_stats_opts;

/* One entry: the statistics of one value. Plain data owned by the stats
 * object. min, max, mean, std and max_abs are over the finite values (NaN
 * when there are none; max_abs 0 then). */
typedef struct tq_stats_entry {
  size_t index;      /* position in the stats object */
  const char *layer; /* node ID */
  const char *value; /* output value name, or the weight's initializer */
  const char *op;    /* op_type */
  tq_stats_kind kind;
  size_t node;   /* node index in the graph */
  size_t slot;   /* output index (activation) or input index (weight) */
  int quantized; /* the values came out of a quantizer */
  /* Activations: the shape of one sample (batch dimension dropped);
   * weights: the tensor's shape. */
  tq_shape shape;
  uint64_t count;  /* every element seen */
  uint64_t finite; /* of which finite */
  uint64_t nan, pos_inf, neg_inf;
  uint64_t zeros;             /* exact zeros (+0 and -0) */
  double min, max, mean, std; /* std: population standard deviation */
  double max_abs;
} tq_stats_entry;

typedef struct tq_stats tq_stats;

/* Collects statistics over samples idx[0..n) of ds (idx NULL: the first n)
 * in batches of `batch` (results do not depend on it), with whatever maps
 * the session has (tq_session_set_maps). The model must have one input
 * that takes the dataset's samples; when its first output is [batch, K]
 * scores, K must cover the dataset's classes (as tq_evaluate). Stochastic
 * rounding of sample position k uses sample offset k. The session's
 * observer is used during the call and cleared afterwards. opts may be
 * NULL (defaults). n == 0 is TQ_ERR_RANGE unless opts->skip_activations.
 * Entries are in node order; within a node, outputs first, then weights,
 * each by slot. */
TQ_API tq_status tq_stats_collect(tq_context *ctx, tq_session *s,
                                  const tq_dataset *ds, const size_t *idx,
                                  size_t n, int batch,
                                  const tq_stats_opts *opts, tq_stats **out);

TQ_API void tq_stats_destroy(tq_stats *st);

/* Samples run (0 for weights-only collections). */
TQ_API size_t tq_stats_samples(const tq_stats *st);

TQ_API size_t tq_stats_count(const tq_stats *st);
/* Entry i (NULL when i >= count). */
TQ_API const tq_stats_entry *tq_stats_get(const tq_stats *st, size_t i);

/* The first entry of a layer (exact node ID) and kind: the first output's
 * activation, or the first weight input (its weight kernel, before the
 * bias); NULL when there is none. */
TQ_API const tq_stats_entry *tq_stats_find(const tq_stats *st,
                                           const char *layer_id,
                                           tq_stats_kind kind);

/* The entry of a value (output or initializer name) and kind, or NULL. */
TQ_API const tq_stats_entry *tq_stats_find_value(const tq_stats *st,
                                                 const char *value,
                                                 tq_stats_kind kind);

/* Largest max_abs over every entry of a layer and kind: all of its
 * outputs, or all of its weight inputs (kernel and bias together).
 * TQ_ERR_NOT_FOUND (recorded on ctx, which may be NULL) when the layer
 * has no such entry. */
TQ_API tq_status tq_stats_layer_max_abs(tq_context *ctx, const tq_stats *st,
                                        const char *layer_id,
                                        tq_stats_kind kind, double *max_abs);

/* The p-th percentile (p in [0, 100]) of entry i's finite values: the
 * nearest-rank value, the smallest v with at least ceil(p/100 * finite)
 * values <= v (at least one), at the accuracy in the header comment. NaN
 * when p is out of range, i is invalid or there are no finite values. */
TQ_API double tq_stats_percentile(const tq_stats *st, size_t i, double p);

/* Same for |x| (the magnitudes of the finite values). */
TQ_API double tq_stats_abs_percentile(const tq_stats *st, size_t i, double p);

/* Linear histogram of entry i's finite values: `bins` equal bins over
 * [min, max] (edges: bins + 1 values, edges[bins] == max; a value equal to
 * max goes into the last bin). When min == max, every bin edge is min and
 * all counts go to the first bin. Values are binned at the truncation
 * percentiles use. Errors: TQ_ERR_INVALID_ARGUMENT (bins == 0, NULL
 * arrays, bad i), TQ_ERR_RANGE (no finite values). */
TQ_API tq_status tq_stats_histogram(tq_context *ctx, const tq_stats *st,
                                    size_t i, size_t bins, double *edges,
                                    uint64_t *counts);

/* Log2 histogram of |x| over the nonzero finite values of entry i:
 * counts[e - TQ_STATS_LOG2_MIN] = number of values with 2^e <= |x| <
 * 2^(e+1), e in [TQ_STATS_LOG2_MIN, TQ_STATS_LOG2_MAX] (exact, subnormals
 * included). Exact zeros are entry->zeros. Returns 0, or -1 for a bad i. */
#define TQ_STATS_LOG2_MIN (-149)
#define TQ_STATS_LOG2_MAX 127
#define TQ_STATS_LOG2_BINS (TQ_STATS_LOG2_MAX - TQ_STATS_LOG2_MIN + 1)
TQ_API int tq_stats_log2_histogram(const tq_stats *st, size_t i,
                                   uint64_t counts[TQ_STATS_LOG2_BINS]);

/* The word widths reports use (from the options), n of them. */
TQ_API const int *tq_stats_widths(const tq_stats *st, size_t *n);

/* Percentiles every report lists (JSON keys as written): of x, and of |x|. */
#define TQ_STATS_N_PERCENTILES 9
#define TQ_STATS_N_ABS_PERCENTILES 3
TQ_API const char *const *tq_stats_percentile_names(void); /* "0.1".."99.9" */
TQ_API const char *const *tq_stats_abs_percentile_names(void); /* "99".. */

/* The schema's "stats" object as JSON text ({"layers": [...]}, one object
 * per entry, docs/stats.md), or, when `document` is set, a whole
 * tq-report/1 document with "command": "stats" and the given metadata
 * (any of model, data, split may be NULL; title too: a default is made).
 * Non-finite numbers are written as null. Free *out with tq_free(). */
typedef struct tq_stats_json_opts {
  int document;
  const char *title, *model, *data, *split, *created_by;
  int indent; /* 0: compact, one line */
} tq_stats_json_opts;
TQ_API tq_status tq_stats_to_json(tq_context *ctx, const tq_stats *st,
                                  const tq_stats_json_opts *opts, char **out);

/* CSV text: a header line, then one line per entry (layer, value, op,
 * kind, shape, counts, min, max, mean, std, zeros fraction, max_abs, the
 * percentiles, frac bits per width). Free *out with tq_free(). */
TQ_API tq_status tq_stats_to_csv(tq_context *ctx, const tq_stats *st,
                                 char **out);

/* Writes a report file atomically (temporary file + rename), its format
 * chosen by the extension: ".json" a tq-report/1 document (opts as for
 * tq_stats_to_json, `document` implied; opts may be NULL), ".csv" the CSV
 * text. Other extensions: TQ_ERR_INVALID_ARGUMENT naming the path. */
TQ_API tq_status tq_stats_write(tq_context *ctx, const tq_stats *st,
                                const char *path,
                                const tq_stats_json_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
