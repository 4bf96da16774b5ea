/* Internal: a dataset's inputs as a graph's inputs, for the loops that run
 * a model over a dataset (evaluation, statistics, the multi-configuration
 * engine): bound by name as tq_graph_bind_inputs binds, checked against
 * the graph's declared shapes and dtypes once, gathered per batch in the
 * dtypes the graph declares. */
#ifndef TQ_GRAPH_FEED_INTERNAL_H
#define TQ_GRAPH_FEED_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/data.h"
#include "tensorquant/graph.h"

typedef struct tq_feed {
  const tq_dataset *ds;
  const tq_graph *g;
  size_t n;    /* the graph's inputs */
  size_t *src; /* per graph input: the dataset input that feeds it */
} tq_feed;

/* Binds ds's inputs to g's: errors name the input and what does not fit
 * (a missing or unknown input, a sample shape other than the declared
 * one, a dtype other than the declared one; float32 inputs take any
 * numeric dtype, converted). Free with tq_feed_free, also on failure. */
tq_status tq_feed_init(tq_context *ctx, tq_feed *f, const tq_dataset *ds,
                       const tq_graph *g);
void tq_feed_free(tq_feed *f);

/* The input shapes of a batch of `batch` samples (f->n of them). */
void tq_feed_shapes(const tq_feed *f, size_t batch, tq_shape *shapes);

/* Gathers the samples at positions [first, first + count) of idx (idx
 * NULL: samples first .. first + count - 1) into xs[0..f->n) (graph input
 * order; each created, or re-created when its batch size differs; the
 * caller destroys them either way) and their labels (may be NULL). */
tq_status tq_feed_gather(tq_context *ctx, const tq_feed *f, const size_t *idx,
                         size_t first, size_t count, tq_tensor **xs,
                         int64_t *labels);

#endif
