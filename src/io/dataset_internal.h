/* Internal: the dataset's representation and the checks every source
 * shares (dataset.c opens files, dataset_memory.c takes arrays), and
 * batches for the loops that run a model over a dataset (evaluation,
 * statistics, the multi-configuration engine). */
#ifndef TQ_IO_DATASET_INTERNAL_H
#define TQ_IO_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/data.h"
#include "tensorquant/tensor.h"

struct tq_dataset {
  char *name;
  tq_data_split split;
  size_t n;
  tq_shape sample_shape;
  size_t sample_numel;
  int classes;
  int64_t *labels;
  unsigned char *u8; /* IDX ubyte images, scaled by 1/255 on gather */
  float *f32;        /* every other source, as stored */
  float *mean, *std; /* normalization: norm_channels values each */
  size_t norm_channels;
};

/* Largest label: classes = max + 1 must fit in an int. */
#define TQ_DATASET_LABEL_MAX 2147483646.0
/* Labels read through the float32 NPY reader are exact up to 2^24. */
#define TQ_DATASET_NPY_LABEL_MAX 16777216.0

/* Checks label v (at most max) of sample i, stores it in ds->labels[i] and
 * raises ds->classes to cover it. file names the labels in messages. */
tq_status tq_dataset_take_label(tq_context *ctx, const char *file, size_t i,
                                double v, double max, tq_dataset *ds);

/* Checks that ds->f32 holds only finite values; file names them. */
tq_status tq_dataset_check_finite(tq_context *ctx, const char *file,
                                  const tq_dataset *ds);

/* Sets ds's sample shape and count from the dims of the whole array
 * (dims[0] = N; [N,H,W] gets a channel dimension: [1,H,W]). */
tq_status tq_dataset_set_sample_shape(tq_context *ctx, const char *file,
                                      const int64_t *dims, int ndim,
                                      tq_dataset *ds);

/* Gathers the samples at positions [first, first + count) of idx (idx
 * NULL: samples first .. first + count - 1) into *x, a float tensor of
 * shape [count, sample shape] — created, or re-created when its batch
 * size differs (the last, shorter batch) — and their labels (may be
 * NULL). On failure *x may be NULL; the caller destroys it either way. */
tq_status tq_dataset_gather_batch(tq_context *ctx, const tq_dataset *ds,
                                  const size_t *idx, size_t first, size_t count,
                                  tq_tensor **x, int64_t *labels);

#endif
