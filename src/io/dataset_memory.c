/* Datasets from arrays in memory (tq_dataset_from_memory): what a language
 * binding hands over instead of files. The samples and labels are copied
 * and checked exactly as the NPY pair source checks its files (dataset.c),
 * so a dataset behaves the same whichever way it arrived. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/dataset_internal.h"
#include "tensorquant/data.h"

#define MEMORY_NAME "<memory>"

/* Copies x (the whole [N, ...] array) and labels into ds as its one
 * float32 input, checked. */
static tq_status fill(tq_context *ctx, const float *x, const tq_shape *shape,
                      const int64_t *labels, size_t n_labels, tq_dataset *ds) {
  tq_dataset_input *in = calloc(1, sizeof *in);
  if (!in) return tq_error_nomem(ctx);
  ds->inputs = in;
  ds->n_inputs = 1;
  in->dtype = TQ_DTYPE_FLOAT32;
  in->name = calloc(1, 1);
  in->file = malloc(strlen(ds->name) + 1);
  if (!in->name || !in->file) return tq_error_nomem(ctx);
  memcpy(in->file, ds->name, strlen(ds->name) + 1);
  tq_status st = tq_dataset_set_sample_shape(ctx, ds->name, shape->dims,
                                             shape->ndim, 1, in, &ds->n);
  if (st != TQ_OK) return st;
  if (n_labels != ds->n)
    return tq_error(ctx, TQ_ERR_SHAPE, ds->name, 0, 0,
                    "%zu samples but %zu labels: the counts must be equal",
                    ds->n, n_labels);
  const size_t total = ds->n * in->sample_numel;
  if (ds->n && (total / ds->n != in->sample_numel ||
                total > SIZE_MAX / sizeof(float)))
    return tq_error(ctx, TQ_ERR_RANGE, ds->name, 0, 0,
                    "the samples array is too large for this machine");
  in->data = malloc((total ? total : 1) * sizeof(float));
  ds->labels = malloc((ds->n ? ds->n : 1) * sizeof *ds->labels);
  if (!in->data || !ds->labels) return tq_error_nomem(ctx);
  memcpy(in->data, x, total * sizeof(float));
  /* Labels arrive as integers; through a double they are exact up to the
   * largest label any source allows. */
  for (size_t i = 0; st == TQ_OK && i < ds->n; i++)
    st = tq_dataset_take_label(ctx, ds->name, i, (double)labels[i],
                               TQ_DATASET_LABEL_MAX, ds);
  return st == TQ_OK ? tq_dataset_check_finite(ctx, ds, in) : st;
}

tq_status tq_dataset_from_memory(tq_context *ctx, const float *x,
                                 const tq_shape *shape, const int64_t *labels,
                                 size_t n_labels, const char *name,
                                 tq_dataset **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, name, 0, 0,
                    "tq_dataset_from_memory: out must not be NULL");
  *out = NULL;
  if (!x || !shape || !labels)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, name, 0, 0,
                    "tq_dataset_from_memory: x, shape and labels must not be "
                    "NULL");
  for (int d = 0; d < shape->ndim && d < TQ_MAX_DIMS; d++)
    if (shape->dims[d] < 0)
      return tq_error(ctx, TQ_ERR_SHAPE, name, 0, 0,
                      "tq_dataset_from_memory: dimension %d is negative "
                      "(%lld)",
                      d, (long long)shape->dims[d]);
  tq_dataset *ds = calloc(1, sizeof *ds);
  const char *given = name && *name ? name : MEMORY_NAME;
  if (!ds || !(ds->name = malloc(strlen(given) + 1))) {
    free(ds);
    return tq_error_nomem(ctx);
  }
  memcpy(ds->name, given, strlen(given) + 1);
  ds->split = TQ_SPLIT_TEST; /* one set of arrays: no parts to choose */
  const tq_status st = fill(ctx, x, shape, labels, n_labels, ds);
  if (st != TQ_OK) {
    tq_dataset_destroy(ds);
    return st;
  }
  *out = ds;
  return TQ_OK;
}
