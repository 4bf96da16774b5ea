/* Internal: batches for the loops that run a model over a dataset
 * (evaluation, statistics, the multi-configuration engine). */
#ifndef TQ_IO_DATASET_INTERNAL_H
#define TQ_IO_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/data.h"
#include "tensorquant/tensor.h"

/* Gathers the samples at positions [first, first + count) of idx (idx
 * NULL: samples first .. first + count - 1) into *x, a float tensor of
 * shape [count, sample shape] — created, or re-created when its batch
 * size differs (the last, shorter batch) — and their labels (may be
 * NULL). On failure *x may be NULL; the caller destroys it either way. */
tq_status tq_dataset_gather_batch(tq_context *ctx, const tq_dataset *ds,
                                  const size_t *idx, size_t first, size_t count,
                                  tq_tensor **x, int64_t *labels);

#endif
