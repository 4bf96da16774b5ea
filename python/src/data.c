/* tq.Dataset: a dataset the library opened (Fashion-MNIST by name, IDX
 * directories, NPY pairs) or took from NumPy arrays. */
#include <string.h>

#include "tq_py.h"

/* Samples of any real dtype, converted to float32 as stored (as the NPY
 * source does); labels of an integer dtype. */
static tq_status from_arrays(tq_context *ctx, PyObject *pair, const char *name,
                             tq_dataset **ds) {
  PyObject *x = NULL, *y = NULL;
  if (!PyArg_ParseTuple(pair, "OO:Dataset", &x, &y))
    return TQ_ERR_INVALID_ARGUMENT;
  PyArrayObject *xa = (PyArrayObject *)PyArray_FROMANY(
      x, NPY_FLOAT32, 0, 0,
      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
  PyArrayObject *ya = NULL;
  if (xa) {
    PyArrayObject *yin =
        (PyArrayObject *)PyArray_FROMANY(y, NPY_NOTYPE, 0, 0, 0);
    if (yin && !PyArray_ISINTEGER(yin))
      PyErr_SetString(PyExc_TypeError,
                      "labels must be an array of integers (e.g. "
                      "y.astype(np.int64))");
    else if (yin)
      ya = (PyArrayObject *)PyArray_FROMANY(
          (PyObject *)yin, NPY_INT64, 1, 1,
          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    Py_XDECREF(yin);
  }
  tq_shape shape;
  tq_status st = TQ_ERR_INVALID_ARGUMENT;
  if (xa && ya && tq_py_array_shape(xa, &shape)) {
    const float *xp = PyArray_DATA(xa);
    const int64_t *yp = PyArray_DATA(ya);
    const size_t n = (size_t)PyArray_SIZE(ya);
    Py_BEGIN_ALLOW_THREADS;
    st = tq_dataset_from_memory(ctx, xp, &shape, yp, n, name, ds);
    Py_END_ALLOW_THREADS;
  }
  Py_XDECREF(xa);
  Py_XDECREF(ya);
  return st;
}

/* normalize: a sequence of (mean, std) pairs, one per channel or one for
 * all. */
static tq_status normalize(tq_context *ctx, tq_dataset *ds, PyObject *pairs) {
  PyObject *seq = PySequence_Fast(pairs,
                                  "normalize must be a sequence of "
                                  "(mean, std) pairs");
  if (!seq) return TQ_ERR_INVALID_ARGUMENT;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  float *mean = PyMem_Calloc((size_t)n + 1, sizeof *mean);
  float *std = PyMem_Calloc((size_t)n + 1, sizeof *std);
  tq_status st = mean && std ? TQ_OK : TQ_ERR_NO_MEMORY;
  if (st != TQ_OK) PyErr_NoMemory();
  for (Py_ssize_t i = 0; st == TQ_OK && i < n; i++) {
    double m, s;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "dd", &m, &s)) {
      PyErr_Clear();
      PyErr_SetString(PyExc_TypeError,
                      "normalize must be a sequence of (mean, std) pairs");
      st = TQ_ERR_INVALID_ARGUMENT;
    }
    mean[i] = (float)m;
    std[i] = (float)s;
  }
  if (st == TQ_OK)
    st = tq_dataset_set_normalization(ctx, ds, mean, std, (size_t)n);
  PyMem_Free(mean);
  PyMem_Free(std);
  Py_DECREF(seq);
  return st;
}

static PyObject *dataset_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  static char *names[] = {"source", "split", "normalize", "fashion_mnist_dir",
                          "name",   NULL};
  PyObject *source, *norm = Py_None, *fmdir = Py_None;
  const char *split = "test", *dir = NULL, *name = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$sOOz:Dataset", names, &source,
                                   &split, &norm, &fmdir, &name) ||
      !tq_py_str(fmdir, "fashion_mnist_dir", 1, &dir))
    return NULL;
  if (strcmp(split, "test") && strcmp(split, "train")) {
    PyErr_Format(PyExc_ValueError, "split must be 'test' or 'train', not '%s'",
                 split);
    return NULL;
  }
  tq_context *ctx = tq_py_context();
  if (!ctx) return NULL;
  tq_dataset *ds = NULL;
  tq_status st;
  if (PyUnicode_Check(source)) {
    const char *spec = PyUnicode_AsUTF8(source);
    if (!spec) return NULL;
    const tq_dataset_dirs dirs = {.fashion_mnist = dir,
                                  .fashion_mnist_from = "fashion_mnist_dir"};
    const tq_data_split sp =
        strcmp(split, "train") ? TQ_SPLIT_TEST : TQ_SPLIT_TRAIN;
    Py_BEGIN_ALLOW_THREADS;
    st = tq_dataset_open_in(ctx, spec, sp, &dirs, &ds);
    Py_END_ALLOW_THREADS;
  } else if (PyTuple_Check(source) || PyList_Check(source)) {
    PyObject *pair = PySequence_Tuple(source);
    st = pair ? from_arrays(ctx, pair, name, &ds) : TQ_ERR_INVALID_ARGUMENT;
    Py_XDECREF(pair);
  } else {
    PyErr_Format(PyExc_TypeError,
                 "a dataset is a name or path (str) or a pair (x, y) of "
                 "arrays, not %.80s",
                 Py_TYPE(source)->tp_name);
    return NULL;
  }
  if (st == TQ_OK && norm != Py_None) st = normalize(ctx, ds, norm);
  if (st != TQ_OK) {
    tq_dataset_destroy(ds);
    return tq_py_raise(ctx, st);
  }
  tq_py_dataset *self = (tq_py_dataset *)type->tp_alloc(type, 0);
  if (!self || !(self->split = PyUnicode_FromString(split))) {
    Py_XDECREF(self);
    tq_dataset_destroy(ds);
    return NULL;
  }
  self->ds = ds;
  return (PyObject *)self;
}

static void dataset_dealloc(tq_py_dataset *self) {
  tq_dataset_destroy(self->ds);
  Py_XDECREF(self->split);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t dataset_len(tq_py_dataset *self) {
  return (Py_ssize_t)tq_dataset_size(self->ds);
}

/* arrays(indices=None) -> (x, y): the samples as the model sees them. */
static PyObject *dataset_arrays(tq_py_dataset *self, PyObject *args,
                                PyObject *kw) {
  static char *names[] = {"indices", NULL};
  PyObject *indices = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:arrays", names, &indices))
    return NULL;
  PyArrayObject *idx = NULL;
  size_t n = tq_dataset_size(self->ds);
  if (indices != Py_None) {
    idx = (PyArrayObject *)PyArray_FROMANY(
        indices, NPY_INTP, 1, 1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (!idx) return NULL;
    n = (size_t)PyArray_SIZE(idx);
    const npy_intp *p = PyArray_DATA(idx);
    for (size_t i = 0; i < n; i++)
      if (p[i] < 0) {
        Py_DECREF(idx);
        PyErr_Format(PyExc_IndexError, "index %zd at position %zu is negative",
                     (Py_ssize_t)p[i], i);
        return NULL;
      }
  }
  const tq_shape bs = tq_dataset_batch_shape(self->ds, n);
  npy_intp dims[TQ_MAX_DIMS], ny = (npy_intp)n;
  for (int d = 0; d < bs.ndim; d++) dims[d] = (npy_intp)bs.dims[d];
  PyArrayObject *x =
      (PyArrayObject *)PyArray_SimpleNew(bs.ndim, dims, NPY_FLOAT32);
  PyArrayObject *y = (PyArrayObject *)PyArray_SimpleNew(1, &ny, NPY_INT64);
  size_t *all = idx ? NULL : PyMem_Malloc((n ? n : 1) * sizeof *all);
  tq_context *ctx = tq_py_context();
  tq_status st = TQ_ERR_NO_MEMORY;
  if (x && y && ctx && (idx || all)) {
    for (size_t i = 0; all && i < n; i++) all[i] = i;
    const size_t *which = idx ? (const size_t *)PyArray_DATA(idx) : all;
    float *xp = PyArray_DATA(x);
    int64_t *yp = PyArray_DATA(y);
    Py_BEGIN_ALLOW_THREADS;
    st = tq_dataset_gather(ctx, self->ds, which, n, xp, yp);
    Py_END_ALLOW_THREADS;
  }
  PyMem_Free(all);
  Py_XDECREF(idx);
  if (st != TQ_OK) {
    Py_XDECREF(x);
    Py_XDECREF(y);
    return PyErr_Occurred() ? NULL
           : ctx            ? tq_py_raise(ctx, st)
                            : PyErr_NoMemory();
  }
  return Py_BuildValue("(NN)", x, y);
}

static PyObject *dataset_get(tq_py_dataset *self, void *which) {
  const tq_dataset *ds = self->ds;
  switch ((int)(intptr_t)which) {
    case 0: return PyUnicode_FromString(tq_dataset_name(ds));
    case 1: return PyLong_FromLong(tq_dataset_classes(ds));
    case 2: return tq_py_shape_tuple(tq_dataset_sample_shape(ds));
    default: Py_INCREF(self->split); return self->split;
  }
}

static PyObject *dataset_repr(tq_py_dataset *self) {
  return PyUnicode_FromFormat("tensorquant.Dataset('%s', %zu samples)",
                              tq_dataset_name(self->ds),
                              tq_dataset_size(self->ds));
}

static PyMethodDef dataset_methods[] = {
    {"arrays", (PyCFunction)(void (*)(void))dataset_arrays,
     METH_VARARGS | METH_KEYWORDS,
     "arrays(indices=None) -> (x, y): the samples (float32, [n, ...], "
     "scaled and normalized as models get them) and labels (int64)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef dataset_getset[] = {
    {"name", (getter)dataset_get, NULL, "the dataset's name", (void *)0},
    {"classes", (getter)dataset_get, NULL, "the largest label + 1", (void *)1},
    {"sample_shape", (getter)dataset_get, NULL, "the shape of one sample",
     (void *)2},
    {"split", (getter)dataset_get, NULL, "'test' or 'train'", (void *)3},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods dataset_sequence = {.sq_length = (lenfunc)dataset_len};

PyTypeObject tq_py_dataset_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorquant.Dataset",
    .tp_basicsize = sizeof(tq_py_dataset),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Dataset(source, *, split='test', normalize=None, "
        "fashion_mnist_dir=None, name=None)\n\nsource: "
        "'fashion-mnist', a directory of IDX files, 'X.npy,y.npy', or "
        "a pair (x, y) of arrays (x converted to float32 as stored, y "
        "integers). normalize: [(mean, std), ...] per channel.",
    .tp_new = dataset_new,
    .tp_dealloc = (destructor)dataset_dealloc,
    .tp_methods = dataset_methods,
    .tp_getset = dataset_getset,
    .tp_as_sequence = &dataset_sequence,
    .tp_repr = (reprfunc)dataset_repr,
};
