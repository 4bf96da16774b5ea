/* Datasets: IDX files (MNIST-style, gzipped or not), Fashion-MNIST by name,
 * and NumPy .npy files (one per model input, and the labels); seeded
 * shuffles and train/validation splits.
 *
 * A dataset is N samples and one integer label per sample. Each sample has
 * one or more inputs (an image; or token ids and an attention mask), each
 * of one shape (NCHW without the N: [C,H,W] for images) and dtype.
 * tq_dataset_gather() copies a batch of the first input out as float32,
 * tq_dataset_gather_input() any input in any dtype. IDX ubyte images are
 * kept in memory as bytes and scaled to [0,1] (pixel / 255) when gathered;
 * every other source is kept in its own dtype and converted as it is
 * gathered (as ONNX Cast converts). Everything is validated when the dataset
 * is opened (sample/label counts, label values, NaN/inf in float images), so
 * that nothing fails half-way through training. See docs/data.md.
 *
 * Ownership: tq_dataset_open() gives the caller a dataset to free with
 * tq_dataset_destroy(); tq_idx_read*() give a tensor to free with
 * tq_tensor_destroy(); tq_dataset_split_indices() gives two arrays to free
 * with free() (or tq_free()). Pointers returned by the accessors belong to
 * the dataset and live as long as it does.
 *
 * Thread-safety: a dataset is immutable once it is opened and configured:
 * any number of threads may call the accessors and tq_dataset_gather() on
 * it at once (each with its own tq_context). tq_dataset_set_normalization()
 * is the one mutator; call it before sharing the dataset. tq_shuffle_indices
 * and tq_dataset_split_indices are pure functions of their arguments. */
#ifndef TENSORQUANT_DATA_H
#define TENSORQUANT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "npy.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The directory "fashion-mnist" names unless the caller gives another
 * (tq_dataset_open_in): where Debian's dataset-fashion-mnist package
 * installs the IDX files. */
#define TQ_FASHION_MNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct tq_dataset tq_dataset; /* opaque, immutable after open */

typedef enum tq_data_split {
  TQ_SPLIT_TRAIN = 0,
  TQ_SPLIT_TEST = 1
} tq_data_split;

/* Opens a dataset.
 *
 * spec is one of
 *   - "fashion-mnist": the IDX files of Debian's dataset-fashion-mnist under
 *     TQ_FASHION_MNIST_DEFAULT_DIR (tq_dataset_open_in names another
 *     directory; the library reads no environment variable);
 *   - a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
 *     t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally
 *     gzipped with a ".gz" suffix (the uncompressed file is preferred when
 *     both exist); write "./fashion-mnist" for a directory of that name;
 *   - "X.npy,y.npy": samples and labels as two .npy files (spaces around
 *     the comma are ignored; paths cannot contain commas). There is no
 *     separate test part: both splits give the same data; use
 *     tq_dataset_split_indices() for a validation set.
 *   - "NAME=a.npy,NAME=b.npy,...,labels=y.npy": one .npy file per model
 *     input, named by the input it feeds (NAME: the text before the first
 *     '=', when it has no '/'), and the labels. Bare entries feed the
 *     inputs no entry names, in the model's order; without labels=, the
 *     last bare entry holds the labels ("X.npy,y.npy" is the case of one
 *     bare input). Inputs keep their file's dtype and shape (samples:
 *     dims[1:]); every file has N rows.
 * split chooses the training ("train-*") or test ("t10k-*") files.
 *
 * Images: IDX files of [N,H,W] (and the NPY X of "X.npy,y.npy", [N,H,W])
 * get a channel dimension: sample shape [1,H,W]. [N,C,H,W] gives [C,H,W],
 * [N,F] gives [F]; samples have 1 to 5 dimensions. IDX ubyte images are
 * scaled to [0,1] on gather; other IDX types are converted to float32, and
 * NPY inputs (uint8 included: NOT rescaled) are gathered as stored,
 * converted to the dtype asked for. Float inputs must be finite as
 * float32 (NaN/inf is an error naming sample and element). Labels: a 1-d
 * array of
 * integers (IDX integer types; NPY integers, or floats holding integral
 * values), each in [0, 2^31 - 2], as many as there are samples. NPY labels
 * pass through the float32 NPY reader, so they must also be at most 2^24.
 *
 * Returns TQ_OK and *out (free with tq_dataset_destroy()), or an error with
 * *out = NULL and a last-error message naming the file: TQ_ERR_NOT_FOUND
 * (no such dataset/files), TQ_ERR_IO, TQ_ERR_FORMAT (malformed files, count
 * mismatch, bad labels, NaN/inf images, empty dataset), TQ_ERR_UNSUPPORTED,
 * TQ_ERR_INVALID_ARGUMENT, TQ_ERR_NO_MEMORY. */
TQ_API tq_status tq_dataset_open(tq_context *ctx, const char *spec,
                                 tq_data_split split, tq_dataset **out);

/* Where the named datasets are, for tq_dataset_open_in. Zero-initialise;
 * unset fields keep the defaults. */
typedef struct tq_dataset_dirs {
  /* The directory "fashion-mnist" names; NULL or "":
   * TQ_FASHION_MNIST_DEFAULT_DIR. */
  const char *fashion_mnist;
  /* Where fashion_mnist came from, for error messages (the tq tool:
   * "TQ_FASHION_MNIST_DIR", the environment variable it reads); NULL:
   * "the directory given". */
  const char *fashion_mnist_from;
} tq_dataset_dirs;

/* tq_dataset_open with the directories of the named datasets given by the
 * caller (dirs NULL: the defaults, as tq_dataset_open). Same results,
 * errors and ownership. */
TQ_API tq_status tq_dataset_open_in(tq_context *ctx, const char *spec,
                                    tq_data_split split,
                                    const tq_dataset_dirs *dirs,
                                    tq_dataset **out);

/* A dataset from arrays in memory, as a language binding holds them: x is
 * the whole samples array of the given shape ([N, ...], 2 to
 * TQ_TENSOR_MAX_DIMS + 1 dims, C order; [N,H,W] gets a channel dimension,
 * as for NPY files), labels its n_labels integer labels (n_labels must be
 * N). Both are copied and checked as tq_dataset_open checks an NPY pair:
 * every sample value finite, every label in [0, 2^31 - 2]; the classes are
 * the largest label + 1. name names the dataset in messages and documents
 * (NULL or "": "<memory>"); the split reads as TQ_SPLIT_TEST. On success
 * *out is freed with tq_dataset_destroy(); on failure it is NULL and the
 * last error says what is wrong: TQ_ERR_INVALID_ARGUMENT (NULL pointers),
 * TQ_ERR_FORMAT (no samples, a bad label, a non-finite value, naming the
 * sample), TQ_ERR_SHAPE (negative dims, label count), TQ_ERR_UNSUPPORTED
 * (too many dims), TQ_ERR_NO_MEMORY. */
TQ_API tq_status tq_dataset_from_memory(tq_context *ctx, const float *x,
                                        const tq_shape *shape,
                                        const int64_t *labels, size_t n_labels,
                                        const char *name, tq_dataset **out);

/* Frees a dataset. NULL is allowed. */
TQ_API void tq_dataset_destroy(tq_dataset *ds);

/* Number of samples (>= 1). */
TQ_API size_t tq_dataset_size(const tq_dataset *ds);

/* Shape of one sample of the first input, e.g. [1,28,28]. Owned by the
 * dataset. */
TQ_API const tq_shape *tq_dataset_sample_shape(const tq_dataset *ds);

/* The inputs of each sample: how many (1 for IDX datasets), what the spec
 * named input i ("" when bare; NULL when i is out of range), the dtype it
 * is gathered in when asked for its own (float32 for IDX images), and the
 * shape of one sample of it. Owned by the dataset. */
TQ_API size_t tq_dataset_input_count(const tq_dataset *ds);
TQ_API const char *tq_dataset_input_name(const tq_dataset *ds, size_t i);
TQ_API tq_dtype tq_dataset_input_dtype(const tq_dataset *ds, size_t i);
TQ_API const tq_shape *tq_dataset_input_shape(const tq_dataset *ds, size_t i);

/* The shape of a batch of n samples of the first input: [n, sample
 * shape...]. */
TQ_API tq_shape tq_dataset_batch_shape(const tq_dataset *ds, size_t n);

/* Number of elements in one sample of the first input. */
TQ_API size_t tq_dataset_sample_numel(const tq_dataset *ds);

/* Number of classes: the largest label + 1 (10 for fashion-mnist). */
TQ_API int tq_dataset_classes(const tq_dataset *ds);

/* Name of the dataset: "fashion-mnist", or the spec it was opened with.
 * Owned by the dataset. */
TQ_API const char *tq_dataset_name(const tq_dataset *ds);

/* Which split was opened. */
TQ_API tq_data_split tq_dataset_split(const tq_dataset *ds);

/* The tq_dataset_size() labels, each in [0, classes). Owned by the
 * dataset. */
TQ_API const int64_t *tq_dataset_labels(const tq_dataset *ds);

/* Copies samples idx[0..n) into x (n * tq_dataset_sample_numel() floats,
 * contiguous, NCHW: sample i at x + i * numel) and their labels into labels
 * (n values; may be NULL). Applies the normalization if one is set.
 * Indices may repeat. Returns TQ_ERR_RANGE (naming the position) when an
 * index is >= tq_dataset_size(), in which case x and labels are left
 * partially written; TQ_ERR_INVALID_ARGUMENT for NULL ds, idx or x with
 * n > 0. n == 0 does nothing. */
TQ_API tq_status tq_dataset_gather(tq_context *ctx, const tq_dataset *ds,
                                   const size_t *idx, size_t n, float *x,
                                   int64_t *labels);

/* tq_dataset_gather for input `input` in any dtype: x receives n samples
 * of tq_dataset_input_shape(ds, input) elements of dtype, converted from
 * the stored dtype as ONNX Cast converts (the normalization applies to
 * input 0 gathered as float32; normalized and IDX ubyte images can only be
 * gathered as floats: TQ_ERR_UNSUPPORTED). Other errors as
 * tq_dataset_gather; an input or dtype out of range is
 * TQ_ERR_INVALID_ARGUMENT. */
TQ_API tq_status tq_dataset_gather_input(tq_context *ctx, const tq_dataset *ds,
                                         size_t input, const size_t *idx,
                                         size_t n, tq_dtype dtype, void *x,
                                         int64_t *labels);

/* Sets the per-channel normalization gather applies after scaling:
 * x' = (x - mean[c]) / std[c], computed in float32, where c is the index
 * along the sample's dim 0. n_channels must equal the sample's dim 0, or be
 * 1 (one mean/std for all channels). Values are copied. mean and std must
 * be finite and std > 0. Passing mean == NULL, std == NULL and
 * n_channels == 0 removes the normalization. Not thread-safe with
 * concurrent gathers on the same dataset. Errors: TQ_ERR_INVALID_ARGUMENT,
 * TQ_ERR_SHAPE (channel count), TQ_ERR_RANGE (non-finite, std <= 0). */
TQ_API tq_status tq_dataset_set_normalization(tq_context *ctx, tq_dataset *ds,
                                              const float *mean,
                                              const float *std,
                                              size_t n_channels);

/* Writes a permutation of 0..n-1 into idx[0..n) (whatever idx held is
 * ignored), determined by (seed, epoch) alone: a Fisher-Yates shuffle
 * driven by Philox4x32-10 (key = seed, counter stream = epoch), with
 * unbiased rejection sampling. Identical on every machine and thread count.
 * n == 0 (or idx == NULL) does nothing. */
TQ_API void tq_shuffle_indices(uint64_t seed, uint64_t epoch, size_t *idx,
                               size_t n);

/* Splits 0..n-1 at random, determined by seed alone, into a training list
 * and a validation list of round(n * val_fraction) indices (rounding half
 * away from zero); each list is sorted ascending, they are disjoint and
 * together hold every index once. val_fraction must be in [0,1) and the
 * training list must not end up empty (n >= 1). On success *train and *val
 * are never NULL (an empty list is a 1-element allocation); the caller
 * frees both with free(). On failure they are NULL and the counts 0.
 * Errors: TQ_ERR_INVALID_ARGUMENT (NULL out-parameters), TQ_ERR_RANGE
 * (val_fraction, empty training list), TQ_ERR_NO_MEMORY. */
TQ_API tq_status tq_dataset_split_indices(tq_context *ctx, size_t n,
                                          double val_fraction, uint64_t seed,
                                          size_t **train, size_t *n_train,
                                          size_t **val, size_t *n_val);

/* Reads an IDX file into a new tensor of dtype want, of the file's shape.
 * The file may be gzipped (recognised by its 1f 8b magic, not its name).
 * IDX types: 0x08 ubyte, 0x09 sbyte, 0x0B short, 0x0C int, 0x0D float,
 * 0x0E double, big-endian; 1 to 6 dimensions, each >= 1. want is
 * TQ_DTYPE_FLOAT32 (values converted as stored, not rescaled; int and
 * double round to nearest even) or TQ_DTYPE_INT64 (integer IDX types only,
 * exact). The whole file is validated: magic, type, ndim, dims, and that
 * the data is exactly as long as the header says; gzip data must be intact
 * (CRC included). On success *out is a tensor the caller frees with
 * tq_tensor_destroy(); on failure *out is NULL and the message names the
 * file. */
TQ_API tq_status tq_idx_read(tq_context *ctx, const char *path, tq_dtype want,
                             tq_tensor **out);

/* Same for size bytes in memory (gzipped or not); name_for_errors names them
 * in messages ("<memory>" when NULL). */
TQ_API tq_status tq_idx_read_memory(tq_context *ctx, const void *data,
                                    size_t size, const char *name_for_errors,
                                    tq_dtype want, tq_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
