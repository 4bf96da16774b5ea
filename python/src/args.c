/* Converting Python arguments to the C API's types, with messages that
 * name the argument. */
#include "tq_py.h"

int tq_py_u64(PyObject *o, const char *name, uint64_t *out) {
  *out = 0;
  if (!o || o == Py_None) return 1;
  if (!PyLong_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", name,
                 Py_TYPE(o)->tp_name);
    return 0;
  }
  const unsigned long long v = PyLong_AsUnsignedLongLong(o);
  if (v == (unsigned long long)-1 && PyErr_Occurred()) {
    PyErr_Format(PyExc_ValueError, "%s must be in [0, 2**64)", name);
    return 0;
  }
  *out = (uint64_t)v;
  return 1;
}

int tq_py_threads(PyObject *o, int *out) {
  *out = 0;
  if (!o || o == Py_None) return 1;
  const long v = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
  if (v < 1 || v > 4096) {
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
      PyErr_Clear();
      PyErr_SetString(PyExc_ValueError,
                      "threads must be an int from 1 to 4096 (or None)");
    }
    return 0;
  }
  *out = (int)v;
  return 1;
}

int tq_py_str(PyObject *o, const char *name, int allow_none, const char **out) {
  *out = NULL;
  if (allow_none && (!o || o == Py_None)) return 1;
  if (!o || !PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must be a str%s, not %.80s", name,
                 allow_none ? " or None" : "",
                 o ? Py_TYPE(o)->tp_name : "nothing");
    return 0;
  }
  *out = PyUnicode_AsUTF8(o);
  return *out != NULL;
}

int tq_py_str_list(PyObject *seq, const char *name, PyObject **keep,
                   const char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  *keep = NULL;
  if (!seq || seq == Py_None) return 1;
  *keep = PyUnicode_Check(seq) ? PyTuple_Pack(1, seq) : PySequence_Tuple(seq);
  if (!*keep) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s must be a str or a sequence of str",
                 name);
    return 0;
  }
  const Py_ssize_t count = PyTuple_GET_SIZE(*keep);
  if (count == 0) return 1;
  *out = PyMem_Calloc((size_t)count, sizeof **out);
  if (!*out) {
    PyErr_NoMemory();
    return 0;
  }
  for (Py_ssize_t i = 0; i < count; i++)
    if (!tq_py_str(PyTuple_GET_ITEM(*keep, i), name, 0, &(*out)[i])) {
      PyMem_Free(*out);
      *out = NULL;
      return 0;
    }
  *n = (size_t)count;
  return 1;
}

int tq_py_widths(PyObject *seq, int lo, int hi, size_t max, int *out,
                 size_t *n) {
  *n = 0;
  if (!seq || seq == Py_None) return 1;
  PyObject *fast = PySequence_Fast(seq, "widths must be a sequence of ints");
  if (!fast) return 0;
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(fast);
  int ok = count >= 1 && (size_t)count <= max;
  for (Py_ssize_t i = 0; ok && i < count; i++) {
    const long w = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
    ok = w >= lo && w <= hi && !PyErr_Occurred();
    out[i] = (int)w;
  }
  Py_DECREF(fast);
  if (!ok) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError,
                 "widths must be 1 to %zu word widths from "
                 "%d to %d",
                 max, lo, hi);
    return 0;
  }
  *n = (size_t)count;
  return 1;
}
