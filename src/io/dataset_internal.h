/* Internal: the dataset's representation, shared by dataset.c (IDX
 * directories, the accessors, gather) and dataset_npy.c (NPY file lists);
 * graph/feed.c reads it to feed a model. */
#ifndef TQ_IO_DATASET_INTERNAL_H
#define TQ_IO_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tensorquant/data.h"
#include "tensorquant/tensor.h"

/* One input of a dataset: n samples of one shape and dtype. */
typedef struct tq_dataset_input {
  char *name;     /* what the spec named it, "" when bare */
  char *file;     /* for messages */
  tq_dtype dtype; /* of data */
  int scale_u8;   /* IDX ubyte images: pixel / 255 when gathered */
  tq_shape sample_shape;
  size_t sample_numel;
  void *data; /* n * sample_numel elements */
} tq_dataset_input;

struct tq_dataset {
  char *name;
  tq_data_split split;
  size_t n;
  int classes;
  int64_t *labels;
  tq_dataset_input *inputs; /* at least one */
  size_t n_inputs;
  float *mean, *std; /* normalization of input 0: norm_channels values each */
  size_t norm_channels;
};

/* Checks one label value and stores it as label i. file names the label
 * file; max is the largest exact label of its source. */
tq_status tq_dataset_take_label(tq_context *ctx, const char *file, size_t i,
                                double v, double max, tq_dataset *ds);

/* Largest label: classes = max + 1 must fit in an int. */
#define TQ_DATASET_LABEL_MAX 2147483646.0
/* Labels read through the float32 NPY reader are exact up to 2^24. */
#define TQ_DATASET_NPY_LABEL_MAX 16777216.0

/* Sets in's sample shape from the dims of the whole array (dims[0] = the
 * sample count, returned in *n). image: a 3-d [N,H,W] array gets a channel
 * dimension, [1,H,W]. Errors name file. */
tq_status tq_dataset_set_sample_shape(tq_context *ctx, const char *file,
                                      const int64_t *dims, int ndim, int image,
                                      tq_dataset_input *in, size_t *n);

/* Float samples must be finite (as float32); the message names the sample
 * and the element. */
tq_status tq_dataset_check_finite(tq_context *ctx, const tq_dataset *ds,
                                  const tq_dataset_input *in);

/* "N samples in X but M labels in Y". */
tq_status tq_dataset_count_mismatch(tq_context *ctx, const char *xfile,
                                    size_t nx, const char *yfile, size_t ny);

/* Opens "X.npy,y.npy" or "NAME=a.npy,NAME=b.npy,labels=y.npy"
 * (dataset_npy.c). */
tq_status tq_dataset_open_npy(tq_context *ctx, const char *spec,
                              tq_dataset *ds);

#endif
