/* NumPy arrays in and out: float32 inputs without copies where possible,
 * outputs that view the library's tensors. */
#include "tq_py.h"

PyArrayObject *tq_py_float_array(PyObject *x, const char *what) {
  if (PyArray_Check(x)) {
    PyArrayObject *a = (PyArrayObject *)x;
    if (PyArray_TYPE(a) != NPY_FLOAT32) {
      PyObject *dt = PyObject_Str((PyObject *)PyArray_DESCR(a));
      PyErr_Format(PyExc_TypeError,
                   "%s has dtype %s: tensorquant works on float32 (convert "
                   "explicitly, e.g. x.astype(np.float32))",
                   what, dt ? PyUnicode_AsUTF8(dt) : "?");
      Py_XDECREF(dt);
      return NULL;
    }
    if (PyArray_IS_C_CONTIGUOUS(a) && PyArray_ISALIGNED(a) &&
        PyArray_ISNOTSWAPPED(a)) {
      Py_INCREF(a);
      return a;
    }
    /* Another layout: one C-ordered copy to read from. */
    return (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER);
  }
  /* Lists, scalars and other array-likes become float32 arrays. */
  PyArray_Descr *f32 = PyArray_DescrFromType(NPY_FLOAT32);
  PyObject *a = PyArray_FromAny(
      x, f32, 0, 0,
      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
  if (!a) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError,
                 "%s must be a float32 array or array-like, not %.80s", what,
                 Py_TYPE(x)->tp_name);
  }
  return (PyArrayObject *)a;
}

int tq_py_check_out(PyArrayObject *in, PyObject *out) {
  if (!PyArray_Check(out)) {
    PyErr_Format(PyExc_TypeError, "out must be a NumPy array, not %.80s",
                 Py_TYPE(out)->tp_name);
    return 0;
  }
  PyArrayObject *o = (PyArrayObject *)out;
  if (PyArray_TYPE(o) != NPY_FLOAT32) {
    PyErr_SetString(PyExc_TypeError, "out must have dtype float32");
    return 0;
  }
  if (!PyArray_IS_C_CONTIGUOUS(o) || !PyArray_ISALIGNED(o) ||
      !PyArray_ISNOTSWAPPED(o) || !PyArray_ISWRITEABLE(o)) {
    PyErr_SetString(PyExc_ValueError,
                    "out must be a writeable, C-contiguous float32 array "
                    "(results are written into it in place)");
    return 0;
  }
  if (!PyArray_SAMESHAPE(in, o)) {
    PyErr_SetString(PyExc_ValueError, "out must have the input's shape");
    return 0;
  }
  /* In place (the same buffer) is allowed; any other overlap is not. */
  const char *a = PyArray_BYTES(in), *b = PyArray_BYTES(o);
  const size_t bytes = (size_t)PyArray_NBYTES(in);
  if (a != b && bytes && a < b + bytes && b < a + bytes) {
    PyErr_SetString(PyExc_ValueError,
                    "out overlaps the input without being the same buffer; "
                    "pass out=x for in place, or a separate array");
    return 0;
  }
  return 1;
}

static void destroy_tensor(PyObject *capsule) {
  tq_tensor_destroy(PyCapsule_GetPointer(capsule, "tensorquant.tensor"));
}

PyArray_Descr *tq_py_descr(tq_dtype dtype) {
  static const int types[TQ_DTYPE_COUNT] = {
      [TQ_DTYPE_FLOAT32] = NPY_FLOAT32, [TQ_DTYPE_INT64] = NPY_INT64,
      [TQ_DTYPE_INT32] = NPY_INT32,     [TQ_DTYPE_INT8] = NPY_INT8,
      [TQ_DTYPE_UINT8] = NPY_UINT8,     [TQ_DTYPE_BOOL] = NPY_BOOL,
      [TQ_DTYPE_FLOAT64] = NPY_FLOAT64, [TQ_DTYPE_FLOAT16] = NPY_FLOAT16};
  if (dtype == TQ_DTYPE_BFLOAT16) {
    /* NumPy has no bfloat16: ml_dtypes' (as tq's NPY files follow it). */
    PyObject *mod = PyImport_ImportModule("ml_dtypes");
    PyObject *bf = mod ? PyObject_GetAttrString(mod, "bfloat16") : NULL;
    PyArray_Descr *d = NULL;
    if (bf && !PyArray_DescrConverter(bf, &d)) d = NULL;
    Py_XDECREF(bf);
    Py_XDECREF(mod);
    if (!d && PyErr_ExceptionMatches(PyExc_ImportError)) {
      PyErr_Clear();
      PyErr_SetString(PyExc_ImportError,
                      "bfloat16 arrays need the ml_dtypes package "
                      "(pip install ml_dtypes)");
    }
    return d;
  }
  if ((unsigned)dtype >= TQ_DTYPE_COUNT) {
    PyErr_Format(PyExc_TypeError, "no NumPy dtype for tq dtype %d", (int)dtype);
    return NULL;
  }
  return PyArray_DescrFromType(types[dtype]);
}

PyObject *tq_py_tensor_array(tq_tensor *t) {
  const tq_shape *s = tq_tensor_shape(t);
  npy_intp dims[TQ_MAX_DIMS];
  for (int d = 0; d < s->ndim; d++) dims[d] = (npy_intp)s->dims[d];
  PyArray_Descr *descr = tq_py_descr(tq_tensor_dtype(t));
  if (!descr) {
    tq_tensor_destroy(t);
    return NULL;
  }
  PyObject *owner = PyCapsule_New(t, "tensorquant.tensor", destroy_tensor);
  if (!owner) {
    Py_DECREF(descr);
    tq_tensor_destroy(t);
    return NULL;
  }
  /* NewFromDescr steals the descr reference. */
  PyObject *a = PyArray_NewFromDescr(&PyArray_Type, descr, s->ndim, dims, NULL,
                                     tq_tensor_data(t), NPY_ARRAY_CARRAY, NULL);
  if (!a || PyArray_SetBaseObject((PyArrayObject *)a, owner) != 0) {
    Py_XDECREF(a);
    Py_DECREF(owner);
    return NULL;
  }
  return a;
}

int tq_py_array_shape(PyArrayObject *a, tq_shape *shape) {
  const int nd = PyArray_NDIM(a);
  if (nd > TQ_MAX_DIMS) {
    PyErr_Format(PyExc_ValueError,
                 "arrays of at most %d dimensions are supported, not %d",
                 TQ_MAX_DIMS, nd);
    return 0;
  }
  shape->ndim = nd;
  for (int d = 0; d < nd; d++) shape->dims[d] = (int64_t)PyArray_DIM(a, d);
  return 1;
}

PyObject *tq_py_shape_tuple(const tq_shape *shape) {
  PyObject *t = PyTuple_New(shape->ndim);
  for (int d = 0; t && d < shape->ndim; d++) {
    PyObject *v = shape->dims[d] < 0 ? (Py_INCREF(Py_None), Py_None)
                                     : PyLong_FromLongLong(shape->dims[d]);
    if (!v) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, d, v);
  }
  return t;
}
