/* Datasets: IDX directories (Fashion-MNIST by name), NPY files
 * (dataset_npy.c), shuffles and train/validation splits.
 *
 * Everything that could stop a training run half-way is checked when a
 * dataset is opened: sample and label counts, label values, empty data,
 * NaN/inf in float images. After that a dataset is read-only, and gather is
 * a plain copy (plus the ubyte scaling and the optional normalization). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dtype_internal.h"
#include "core/error.h"
#include "io/dataset_internal.h"
#include "io/idx_internal.h"
#include "quant/philox.h"
#include "tensorquant/data.h"

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* dir + "/" + base + suffix, or NULL when out of memory. */
static char *join_path(const char *dir, const char *base, const char *suffix) {
  size_t n = strlen(dir) + strlen(base) + strlen(suffix) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s%s", dir, base, suffix);
  return p;
}

static int is_regular(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int is_directory(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

void tq_dataset_destroy(tq_dataset *ds) {
  if (!ds) return;
  free(ds->name);
  free(ds->labels);
  for (size_t k = 0; k < ds->n_inputs; k++) {
    free(ds->inputs[k].name);
    free(ds->inputs[k].file);
    free(ds->inputs[k].data);
  }
  free(ds->inputs);
  free(ds->mean);
  free(ds->std);
  free(ds);
}

/* ---- validation shared by every source ------------------------------------*/

tq_status tq_dataset_take_label(tq_context *ctx, const char *file, size_t i,
                                double v, double max, tq_dataset *ds) {
  if (!isfinite(v))
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "the label of sample %zu is %g: labels must be "
                    "integers",
                    i, v);
  if (v != floor(v))
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "the label of sample %zu is %.9g: labels must be "
                    "integers",
                    i, v);
  if (v < 0)
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "the label of sample %zu is negative (%.0f): labels "
                    "must be in [0, classes)",
                    i, v);
  if (v > TQ_DATASET_LABEL_MAX)
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "the label of sample %zu is %.0f: labels must be below "
                    "2^31 - 1 (the class count must fit in an int)",
                    i, v);
  if (v > max)
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "the label of sample %zu is %.0f: .npy labels are read "
                    "as float32, which is exact only up to 2^24 = 16777216",
                    i, v);
  int64_t label = (int64_t)v;
  ds->labels[i] = label;
  if (label + 1 > ds->classes) ds->classes = (int)(label + 1);
  return TQ_OK;
}

tq_status tq_dataset_check_finite(tq_context *ctx, const tq_dataset *ds,
                                  const tq_dataset_input *in) {
  if (!tq_dtype_is_float(in->dtype)) return TQ_OK;
  const size_t total = ds->n * in->sample_numel;
  for (size_t k = 0; k < total; k++) {
    const float v = (float)tq_load_f64(in->dtype, in->data, k);
    if (!isfinite(v))
      return tq_error(ctx, TQ_ERR_FORMAT, in->file, 0, 0,
                      "sample %zu holds %s (element %zu of the sample, as "
                      "float32): images must be finite",
                      k / in->sample_numel,
                      isnan(v) ? "NaN"
                      : v > 0  ? "+inf"
                               : "-inf",
                      k % in->sample_numel);
  }
  return TQ_OK;
}

tq_status tq_dataset_set_sample_shape(tq_context *ctx, const char *file,
                                      const int64_t *dims, int ndim, int image,
                                      tq_dataset_input *in, size_t *n_out) {
  if (ndim < 2)
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "the samples array has %d dimension%s: expected [N, H, W] "
                    "images or [N, ...] samples (at least 2 dimensions)",
                    ndim, ndim == 1 ? "" : "s");
  if (ndim > TQ_TENSOR_MAX_DIMS)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, file, 0, 0,
                    "the samples array has %d dimensions: at most %d are "
                    "supported",
                    ndim, TQ_TENSOR_MAX_DIMS);
  tq_shape s = {0};
  if (ndim == 3 && image) {
    s.ndim = 3;
    s.dims[0] = 1;
    s.dims[1] = dims[1];
    s.dims[2] = dims[2];
  } else {
    s.ndim = ndim - 1;
    for (int i = 1; i < ndim; i++) s.dims[i - 1] = dims[i];
  }
  in->sample_shape = s;
  *n_out = (size_t)dims[0];
  int overflow = 0;
  in->sample_numel = tq_shape_numel(&s, &overflow);
  if (*n_out == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "empty dataset: there are no samples");
  if (overflow || in->sample_numel == 0)
    return tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                    "empty dataset: the samples have no elements");
  return TQ_OK;
}

tq_status tq_dataset_count_mismatch(tq_context *ctx, const char *xfile,
                                    size_t nx, const char *yfile, size_t ny) {
  return tq_error(ctx, TQ_ERR_FORMAT, xfile, 0, 0,
                  "%zu samples in %s but %zu labels in %s: the counts must "
                  "be equal",
                  nx, xfile, ny, yfile);
}

/* ---- IDX directories ------------------------------------------------------*/

/* Finds dir/base or dir/base.gz (preferring the uncompressed file). */
static tq_status find_idx(tq_context *ctx, const char *dir, const char *base,
                          char **path) {
  *path = join_path(dir, base, "");
  if (!*path) return tq_error_nomem(ctx);
  if (is_regular(*path)) return TQ_OK;
  free(*path);
  *path = join_path(dir, base, ".gz");
  if (!*path) return tq_error_nomem(ctx);
  if (is_regular(*path)) return TQ_OK;
  free(*path);
  *path = NULL;
  return tq_error(ctx, TQ_ERR_NOT_FOUND, dir, 0, 0,
                  "the directory has neither %s nor %s.gz", base, base);
}

static tq_status open_idx_dir(tq_context *ctx, const char *dir,
                              tq_data_split split, tq_dataset *ds) {
  const char *prefix = split == TQ_SPLIT_TRAIN ? "train" : "t10k";
  char images_base[64], labels_base[64];
  snprintf(images_base, sizeof images_base, "%s-images-idx3-ubyte", prefix);
  snprintf(labels_base, sizeof labels_base, "%s-labels-idx1-ubyte", prefix);
  char *yfile = NULL;
  tq_idx_raw x = {0}, y = {0};
  tq_dataset_input *in = calloc(1, sizeof *in);
  if (!in) return tq_error_nomem(ctx);
  ds->inputs = in;
  ds->n_inputs = 1;
  tq_status st = (in->name = dup_string("")) ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK) st = find_idx(ctx, dir, images_base, &in->file);
  if (st == TQ_OK) st = find_idx(ctx, dir, labels_base, &yfile);
  if (st == TQ_OK) st = tq_idx_load_raw(ctx, in->file, &x);
  if (st == TQ_OK) st = tq_idx_load_raw(ctx, yfile, &y);
  if (st == TQ_OK)
    st = tq_dataset_set_sample_shape(ctx, in->file, x.dims, x.ndim, 1, in,
                                     &ds->n);
  const char *xfile = in->file;
  if (st == TQ_OK && y.ndim != 1)
    st = tq_error(ctx, TQ_ERR_FORMAT, yfile, 0, 0,
                  "labels must be a 1-d array, found %d dimensions", y.ndim);
  if (st == TQ_OK && (size_t)y.dims[0] != ds->n)
    st = tq_dataset_count_mismatch(ctx, xfile, ds->n, yfile, (size_t)y.dims[0]);
  if (st == TQ_OK && !(ds->labels = malloc(ds->n * sizeof *ds->labels)))
    st = tq_error_nomem(ctx);
  for (size_t i = 0; st == TQ_OK && i < ds->n; i++)
    st = tq_dataset_take_label(ctx, yfile, i, tq_idx_raw_value(&y, i),
                               TQ_DATASET_LABEL_MAX, ds);
  if (st == TQ_OK) {
    if (x.type == TQ_IDX_UBYTE) {
      in->data = x.data; /* kept as bytes: 1/4 of the memory of floats */
      in->dtype = TQ_DTYPE_UINT8;
      in->scale_u8 = 1;
      x.data = NULL;
    } else if (!(in->data = malloc(x.numel * sizeof(float)))) {
      st = tq_error_nomem(ctx);
    } else {
      in->dtype = TQ_DTYPE_FLOAT32;
      tq_idx_raw_to_floats(&x, 0, x.numel, in->data);
      st = tq_dataset_check_finite(ctx, ds, in);
    }
  }
  tq_idx_raw_free(&x);
  tq_idx_raw_free(&y);
  free(yfile);
  return st;
}

/* ---- opening --------------------------------------------------------------*/

#define SPEC_HELP                                                      \
  "a dataset is \"fashion-mnist\", a directory of IDX files "          \
  "(train-images-idx3-ubyte, train-labels-idx1-ubyte, "                \
  "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally "   \
  ".gz), \"X.npy,y.npy\" or named .npy files per model input and the " \
  "labels, \"input_ids=ids.npy,attention_mask=m.npy,labels=y.npy\""

tq_status tq_dataset_open(tq_context *ctx, const char *spec,
                          tq_data_split split, tq_dataset **out) {
  return tq_dataset_open_in(ctx, spec, split, NULL, out);
}

/* Opens Fashion-MNIST from dirs' directory, or the default one. */
static tq_status open_fashion_mnist(tq_context *ctx, const char *spec,
                                    const tq_dataset_dirs *dirs,
                                    tq_dataset *ds) {
  const char *dir = dirs ? dirs->fashion_mnist : NULL;
  const char *from = dirs && dirs->fashion_mnist_from ? dirs->fashion_mnist_from
                                                      : "the directory given";
  if (!dir || !*dir) {
    dir = TQ_FASHION_MNIST_DEFAULT_DIR;
    from = "the default location";
  }
  if (!is_directory(dir))
    return tq_error(ctx, TQ_ERR_NOT_FOUND, spec, 0, 0,
                    "no Fashion-MNIST directory %s (%s): install Debian's "
                    "dataset-fashion-mnist package, or set "
                    "TQ_FASHION_MNIST_DIR to a directory holding its IDX "
                    "files",
                    dir, from);
  return open_idx_dir(ctx, dir, ds->split, ds);
}

tq_status tq_dataset_open_in(tq_context *ctx, const char *spec,
                             tq_data_split split, const tq_dataset_dirs *dirs,
                             tq_dataset **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                    "tq_dataset_open: out must not be NULL");
  *out = NULL;
  if (!spec || !*spec)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_dataset_open: the spec is empty; " SPEC_HELP);
  if (split != TQ_SPLIT_TRAIN && split != TQ_SPLIT_TEST)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                    "tq_dataset_open: unknown split %d (TQ_SPLIT_TRAIN or "
                    "TQ_SPLIT_TEST)",
                    (int)split);
  tq_dataset *ds = calloc(1, sizeof *ds);
  if (!ds || !(ds->name = dup_string(spec))) {
    free(ds);
    return tq_error_nomem(ctx);
  }
  ds->split = split;
  tq_status st;
  if (strchr(spec, ',')) {
    st = tq_dataset_open_npy(ctx, spec, ds);
  } else if (strcmp(spec, "fashion-mnist") == 0) {
    st = open_fashion_mnist(ctx, spec, dirs, ds);
  } else if (is_directory(spec)) {
    st = open_idx_dir(ctx, spec, split, ds);
  } else {
    struct stat sb;
    if (stat(spec, &sb) == 0)
      st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                    "not a directory; " SPEC_HELP
                    " (for .npy files name both, separated by a comma)");
    else
      st = tq_error(ctx, TQ_ERR_NOT_FOUND, spec, 0, 0,
                    "no such dataset or directory (%s); " SPEC_HELP,
                    strerror(errno));
  }
  if (st != TQ_OK) {
    tq_dataset_destroy(ds);
    return st;
  }
  *out = ds;
  return TQ_OK;
}

/* ---- accessors ------------------------------------------------------------*/

size_t tq_dataset_size(const tq_dataset *ds) {
  return ds ? ds->n : 0;
}

const tq_shape *tq_dataset_sample_shape(const tq_dataset *ds) {
  return tq_dataset_input_shape(ds, 0);
}

size_t tq_dataset_input_count(const tq_dataset *ds) {
  return ds ? ds->n_inputs : 0;
}

const char *tq_dataset_input_name(const tq_dataset *ds, size_t i) {
  return ds && i < ds->n_inputs ? ds->inputs[i].name : NULL;
}

tq_dtype tq_dataset_input_dtype(const tq_dataset *ds, size_t i) {
  if (!ds || i >= ds->n_inputs) return TQ_DTYPE_COUNT;
  /* Scaled images are gathered as floats. */
  return ds->inputs[i].scale_u8 ? TQ_DTYPE_FLOAT32 : ds->inputs[i].dtype;
}

const tq_shape *tq_dataset_input_shape(const tq_dataset *ds, size_t i) {
  return ds && i < ds->n_inputs ? &ds->inputs[i].sample_shape : NULL;
}

tq_shape tq_dataset_batch_shape(const tq_dataset *ds, size_t n) {
  tq_shape b;
  memset(&b, 0, sizeof b);
  const tq_shape *ss = &ds->inputs[0].sample_shape;
  b.ndim = ss->ndim + 1; /* samples have at most TQ_TENSOR_MAX_DIMS - 1 */
  b.dims[0] = (int64_t)n;
  memcpy(b.dims + 1, ss->dims, (size_t)ss->ndim * sizeof b.dims[0]);
  return b;
}

size_t tq_dataset_sample_numel(const tq_dataset *ds) {
  return ds ? ds->inputs[0].sample_numel : 0;
}

int tq_dataset_classes(const tq_dataset *ds) {
  return ds ? ds->classes : 0;
}

const char *tq_dataset_name(const tq_dataset *ds) {
  return ds ? ds->name : "";
}

tq_data_split tq_dataset_split(const tq_dataset *ds) {
  return ds ? ds->split : TQ_SPLIT_TRAIN;
}

const int64_t *tq_dataset_labels(const tq_dataset *ds) {
  return ds ? ds->labels : NULL;
}

/* ---- normalization and gather ---------------------------------------------*/

tq_status tq_dataset_set_normalization(tq_context *ctx, tq_dataset *ds,
                                       const float *mean, const float *std,
                                       size_t n_channels) {
  if (!ds)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_dataset_set_normalization: ds is NULL");
  if (!mean && !std && n_channels == 0) {
    free(ds->mean);
    free(ds->std);
    ds->mean = ds->std = NULL;
    ds->norm_channels = 0;
    return TQ_OK;
  }
  if (!mean || !std || n_channels == 0)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, ds->name, 0, 0,
                    "normalization needs mean, std and a channel count "
                    "(or NULL, NULL, 0 to remove it)");
  const tq_shape *sample = &ds->inputs[0].sample_shape;
  size_t channels = (size_t)sample->dims[0];
  if (n_channels != 1 && n_channels != channels) {
    char text[160];
    tq_shape_format(sample, text, sizeof text);
    return tq_error(ctx, TQ_ERR_SHAPE, ds->name, 0, 0,
                    "normalization for %zu channels, but samples of shape "
                    "%s have %zu (dim 0); give %zu values or 1",
                    n_channels, text, channels, channels);
  }
  for (size_t c = 0; c < n_channels; c++) {
    if (!isfinite(mean[c]) || !isfinite(std[c]) || !(std[c] > 0))
      return tq_error(ctx, TQ_ERR_RANGE, ds->name, 0, 0,
                      "normalization of channel %zu: mean %g and std %g "
                      "must be finite and std > 0",
                      c, (double)mean[c], (double)std[c]);
  }
  float *m = malloc(n_channels * sizeof *m),
        *s = malloc(n_channels * sizeof *s);
  if (!m || !s) {
    free(m);
    free(s);
    return tq_error_nomem(ctx);
  }
  memcpy(m, mean, n_channels * sizeof *m);
  memcpy(s, std, n_channels * sizeof *s);
  free(ds->mean);
  free(ds->std);
  ds->mean = m;
  ds->std = s;
  ds->norm_channels = n_channels;
  return TQ_OK;
}

tq_status tq_dataset_gather(tq_context *ctx, const tq_dataset *ds,
                            const size_t *idx, size_t n, float *x,
                            int64_t *labels) {
  return tq_dataset_gather_input(ctx, ds, 0, idx, n, TQ_DTYPE_FLOAT32, x,
                                 labels);
}

/* Sample src of in into dst as dtype, for gather. */
static void gather_sample(const tq_dataset *ds, const tq_dataset_input *in,
                          size_t src, tq_dtype dtype, void *dst) {
  const size_t numel = in->sample_numel;
  if (in->scale_u8) {
    const unsigned char *p = (const unsigned char *)in->data + src * numel;
    float *f = dtype == TQ_DTYPE_FLOAT32 ? dst : NULL;
    for (size_t k = 0; k < numel; k++) {
      const float v = (float)p[k] / 255.0f;
      if (f)
        f[k] = v; /* the common case, without a conversion per element */
      else
        tq_store_f64(dtype, dst, k, v);
    }
  } else {
    tq_dtype_convert(in->dtype,
                     (const unsigned char *)in->data +
                         src * numel * tq_dtype_size(in->dtype),
                     dtype, dst, numel);
  }
  if (in != ds->inputs || dtype != TQ_DTYPE_FLOAT32) return;
  /* With one mean/std for all channels, the whole sample is one block. */
  const size_t block =
      ds->norm_channels > 1 ? numel / ds->norm_channels : numel;
  for (size_t c = 0; c < ds->norm_channels; c++) {
    const float m = ds->mean[c], s = ds->std[c];
    float *p = (float *)dst + c * block;
    for (size_t k = 0; k < block; k++) p[k] = (p[k] - m) / s;
  }
}

tq_status tq_dataset_gather_input(tq_context *ctx, const tq_dataset *ds,
                                  size_t input, const size_t *idx, size_t n,
                                  tq_dtype dtype, void *x, int64_t *labels) {
  if (!ds)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_dataset_gather: ds is NULL");
  if (input >= ds->n_inputs || (unsigned)dtype >= TQ_DTYPE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, ds->name, 0, 0,
                    "gather: input %zu or dtype %d does not exist (the "
                    "dataset has %zu inputs)",
                    input, (int)dtype, ds->n_inputs);
  const tq_dataset_input *in = &ds->inputs[input];
  if (in->scale_u8 && !tq_dtype_is_float(dtype))
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, in->file, 0, 0,
                    "the samples are images scaled to [0, 1]; they cannot be "
                    "gathered as %s",
                    tq_dtype_name(dtype));
  if (input == 0 && ds->norm_channels && dtype != TQ_DTYPE_FLOAT32)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, ds->name, 0, 0,
                    "normalized samples are gathered as float32, not %s",
                    tq_dtype_name(dtype));
  if (n == 0) return TQ_OK;
  if (!idx || !x)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, ds->name, 0, 0,
                    "tq_dataset_gather: idx and x must not be NULL");
  const size_t bytes = in->sample_numel * tq_dtype_size(dtype);
  for (size_t i = 0; i < n; i++) {
    size_t j = idx[i];
    if (j >= ds->n)
      return tq_error(ctx, TQ_ERR_RANGE, ds->name, 0, 0,
                      "gather: index %zu at position %zu is out of range "
                      "(the dataset has %zu samples)",
                      j, i, ds->n);
    gather_sample(ds, in, j, dtype, (unsigned char *)x + i * bytes);
    if (labels) labels[i] = ds->labels[j];
  }
  return TQ_OK;
}

/* ---- shuffles and splits --------------------------------------------------*/

/* 64-bit random words from Philox4x32-10 (key = seed, counter = {block,
 * stream}), two per block, blocks counted up from first_block. */
typedef struct rng64 {
  uint64_t seed, stream, block;
  uint32_t w[4];
  int used; /* 64-bit words taken from w: 0, 1 or 2 (2 = refill) */
} rng64;

static uint64_t rng_next(rng64 *r) {
  if (r->used == 2) {
    tq_philox_block(r->seed, r->stream, r->block++, r->w);
    r->used = 0;
  }
  const uint32_t *p = r->w + 2 * r->used++;
  return (uint64_t)p[0] | (uint64_t)p[1] << 32;
}

/* Uniform in [0, bound), bound >= 1, without modulo bias: words below
 * 2^64 mod bound are rejected, leaving a range whose length is a multiple
 * of bound. */
static uint64_t rng_below(rng64 *r, uint64_t bound) {
  uint64_t reject = (0 - bound) % bound;
  for (;;) {
    uint64_t x = rng_next(r);
    if (x >= reject) return x % bound;
  }
}

/* Shuffles use blocks from 0, splits from 2^63: the two never share
 * random numbers, whatever the seed and epoch. */
#define SPLIT_FIRST_BLOCK ((uint64_t)1 << 63)

static void permutation(uint64_t seed, uint64_t stream, uint64_t first_block,
                        size_t *idx, size_t n) {
  rng64 r = {seed, stream, first_block, {0}, 2};
  for (size_t i = 0; i < n; i++) idx[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)rng_below(&r, (uint64_t)i);
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

void tq_shuffle_indices(uint64_t seed, uint64_t epoch, size_t *idx, size_t n) {
  if (!idx || n == 0) return;
  permutation(seed, epoch, 0, idx, n);
}

tq_status tq_dataset_split_indices(tq_context *ctx, size_t n,
                                   double val_fraction, uint64_t seed,
                                   size_t **train, size_t *n_train,
                                   size_t **val, size_t *n_val) {
  if (!train || !n_train || !val || !n_val)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_dataset_split_indices: train, n_train, val and "
                    "n_val must not be NULL");
  *train = *val = NULL;
  *n_train = *n_val = 0;
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                    "validation fraction %g is out of range: it must be in "
                    "[0, 1)",
                    val_fraction);
  size_t nv = (size_t)round((double)n * val_fraction);
  if (nv >= n)
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                    "a validation fraction of %g of %zu samples leaves no "
                    "training samples",
                    val_fraction, n);
  size_t nt = n - nv;
  size_t *perm = malloc(n * sizeof *perm);
  unsigned char *in_val = calloc(n, 1);
  size_t *t = malloc(nt * sizeof *t);
  size_t *v = malloc((nv ? nv : 1) * sizeof *v);
  if (!perm || !in_val || !t || !v) {
    free(perm);
    free(in_val);
    free(t);
    free(v);
    return tq_error_nomem(ctx);
  }
  permutation(seed, 0, SPLIT_FIRST_BLOCK, perm, n);
  for (size_t k = 0; k < nv; k++) in_val[perm[k]] = 1;
  size_t a = 0, b = 0;
  for (size_t i = 0; i < n; i++) {
    if (in_val[i])
      v[b++] = i;
    else
      t[a++] = i;
  }
  free(perm);
  free(in_val);
  *train = t;
  *n_train = nt;
  *val = v;
  *n_val = nv;
  return TQ_OK;
}
