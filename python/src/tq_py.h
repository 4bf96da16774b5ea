/* Internal to the Python extension tensorquant._tensorquant: what its
 * files share. Every number comes from libtensorquant; these files only
 * move data between NumPy/Python objects and the C API, release the GIL
 * around the library's work and turn its errors into exceptions. */
#ifndef TQ_PY_H
#define TQ_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifndef TQ_PY_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#define PY_ARRAY_UNIQUE_SYMBOL tq_py_array_api
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "tensorquant/tensorquant.h"

/* ---- contexts and errors (context.c) ---------------------------------- */

/* The calling thread's context (created on first use, freed when the
 * thread ends): a tq_context must not be shared by threads that call at
 * the same time. NULL with MemoryError set on failure. */
tq_context *tq_py_context(void);

/* Raises the exception for a failed call on ctx: ValueError (bad values,
 * specs, maps, shapes, file contents), FileNotFoundError or OSError (I/O),
 * MemoryError, KeyboardInterrupt (stopped), RuntimeError (others), with
 * the library's message and the attributes status, source, line, column.
 * Keeps an exception already set (e.g. raised by a progress callback).
 * Returns NULL. */
PyObject *tq_py_raise(tq_context *ctx, tq_status st);

/* ---- arguments (args.c) ----------------------------------------------- */

/* An unsigned 64-bit argument (None: 0). 0 with an exception on error. */
int tq_py_u64(PyObject *o, const char *name, uint64_t *out);
/* A thread count (None: 0, the context's). 0 with an exception. */
int tq_py_threads(PyObject *o, int *out);
/* A str argument as UTF-8 (None: NULL when allow_none). 0 with an
 * exception. The pointer lives as long as o. */
int tq_py_str(PyObject *o, const char *name, int allow_none, const char **out);
/* A sequence of str as a new array of UTF-8 pointers into the items
 * (free with PyMem_Free; the items live as long as seq). None or an
 * empty sequence: *out NULL, *n 0. A single str counts as one item. */
int tq_py_str_list(PyObject *seq, const char *name, PyObject **keep,
                   const char ***out, size_t *n);

/* A new list of n items, item i made by make(data, i) (a new reference);
 * NULL with an exception when one fails (records.c). */
typedef PyObject *(*tq_py_item_fn)(const void *data, size_t i);
PyObject *tq_py_list(size_t n, tq_py_item_fn make, const void *data);
/* A list of n strings. */
PyObject *tq_py_strings(const char *const *items, size_t n);

/* Word widths (None: *n = 0): a sequence of 1 to max ints in [lo, hi]
 * into out. 0 with ValueError/TypeError. */
int tq_py_widths(PyObject *seq, int lo, int hi, size_t max, int *out,
                 size_t *n);

/* ---- arrays (arrays.c) ------------------------------------------------- */

/* x as a C-contiguous float32 array (new reference): x itself when it is
 * one (no copy); a C-contiguous copy of a float32 array in another layout;
 * array-likes that are not arrays (lists, scalars) converted to float32.
 * Arrays of another dtype: TypeError naming it (use x.astype(np.float32)).
 * `what` names the argument in messages. NULL with an exception. */
PyArrayObject *tq_py_float_array(PyObject *x, const char *what);

/* Checks that out can receive the result for in: a writeable C-contiguous
 * float32 ndarray of in's shape, either in itself or not overlapping it.
 * 0 with ValueError/TypeError. */
int tq_py_check_out(PyArrayObject *in, PyObject *out);

/* A NumPy array viewing tensor t without a copy; the array owns t (it is
 * destroyed with the array). On failure t is destroyed too. */
PyObject *tq_py_tensor_array(tq_tensor *t);
/* The NumPy dtype of a tq dtype (a new reference; bfloat16 from
 * ml_dtypes), or NULL with an exception. */
PyArray_Descr *tq_py_descr(tq_dtype dtype);

/* The shape of an array as a tq_shape. 0 with ValueError when it has more
 * than TQ_MAX_DIMS dimensions. */
int tq_py_array_shape(PyArrayObject *a, tq_shape *shape);

/* (d0, d1, ...) of a shape; dynamic dims (< 0) as None. */
PyObject *tq_py_shape_tuple(const tq_shape *shape);

/* ---- quantizers (quantize.c) ------------------------------------------- */

extern PyTypeObject tq_py_quantizer_type;

/* Quantizes n floats of in (shape `shape`) into out: the one place the
 * binding calls the library's quantization kernels. */
tq_status tq_py_quantize_buffer(tq_context *ctx, const tq_quantizer *q,
                                const float *in, float *out, size_t n,
                                const tq_shape *shape,
                                const tq_quant_opts *opts);

PyObject *tq_py_quantize(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_formats(PyObject *self, PyObject *unused);
PyObject *tq_py_stochastic_u(PyObject *self, PyObject *args);
PyObject *tq_py_kernel_isa(PyObject *self, PyObject *unused);

/* ---- maps (maps.c) ----------------------------------------------------- */

extern PyTypeObject tq_py_map_type;

/* A map kind by the library's names (tq_map_kind_name: "extrinsic", ...,
 * and tq_analysis_kind_name: "extr", "weights", "intr"); with
 * analysis_only, only the kinds analyses take. 0 with ValueError. */
int tq_py_map_kind(const char *name, int analysis_only, tq_map_kind *kind);

/* A map set from a sectioned source (JSON text or a file; None: none) and
 * flat sources for the extrinsic, weights and intrinsic kinds (JSON text, a
 * file or one spec; None: none). *out NULL when every source is None.
 * 0 with an exception. */
int tq_py_map_set(PyObject *sectioned, PyObject *const flat[3],
                  tq_qmap_set **out);

/* ---- models and datasets (model.c, data.c) ----------------------------- */

extern PyTypeObject tq_py_model_type;
extern PyTypeObject tq_py_dataset_type;

typedef struct tq_py_model {
  PyObject_HEAD tq_graph *g;
  tq_session *s;
  tq_qmap_set *set;        /* the maps s runs under (NULL: float) */
  PyObject *maps_key;      /* what set was made from (None: nothing yet) */
  PyThread_type_lock lock; /* one call at a time on g and s */
  PyObject *path;
  int threads, fast_conv;
} tq_py_model;

typedef struct tq_py_dataset {
  PyObject_HEAD tq_dataset *ds;
  PyObject *split; /* "test" or "train" */
} tq_py_dataset;

/* The model's graph, locked for the caller (release with
 * tq_py_model_release); NULL with ValueError when the model is closed. */
const tq_graph *tq_py_model_acquire(tq_py_model *m);
void tq_py_model_release(tq_py_model *m);

/* Applies the model's thread count and convolution choice to ctx for one
 * call; tq_py_settings_restore puts back what was there. */
typedef struct tq_py_settings {
  int threads, fast_conv;
} tq_py_settings;
void tq_py_settings_apply(tq_context *ctx, const tq_py_model *m, int threads,
                          tq_py_settings *saved);
void tq_py_settings_restore(tq_context *ctx, const tq_py_settings *saved);

/* ---- analysis (analysis.c, progress.c, records.c) ---------------------- */

/* Progress of a long call: calls a Python callable (stage, done, total)
 * with the GIL held, and stops the call when it raises or when a signal
 * (Ctrl-C) is pending. */
typedef struct tq_py_progress {
  PyObject *callback; /* borrowed; NULL or None: only signals */
  int stopped;
} tq_py_progress;
int tq_py_progress_call(tq_py_progress *p, const char *stage, size_t done,
                        size_t total);
int tq_py_on_analysis(void *user, const char *stage, size_t done, size_t total);
int tq_py_on_eval(void *user, size_t done, size_t total,
                  const tq_eval_result *so_far);
int tq_py_on_stats(void *user, size_t done, size_t total);

/* Records: plain dicts of a result. */
PyObject *tq_py_eval_record(const tq_eval_result *r);
PyObject *tq_py_config_record(const tq_config_result *r,
                              const tq_config_result *flt);
PyObject *tq_py_row_record(const tq_analysis_row *row,
                           const tq_config_result *flt);
PyObject *tq_py_stats_records(const tq_stats *st);
PyObject *tq_py_search_records(const tq_search_result *r);
PyObject *tq_py_search_steps(const tq_search_result *r);

PyObject *tq_py_evaluate(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_calibrate(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_stats(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_sweep(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_sensitivity(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_search(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_report(PyObject *self, PyObject *args, PyObject *kw);
PyObject *tq_py_report_csv(PyObject *self, PyObject *args);

#endif
