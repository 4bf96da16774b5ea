/* One tq_context per Python thread, and the library's errors as Python
 * exceptions. */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

#include "tq_py.h"

static pthread_key_t context_key;
static pthread_once_t context_once = PTHREAD_ONCE_INIT;
static int context_key_ok;

/* A thread's context dies with the thread. */
static void destroy_context(void *ctx) {
  tq_context_destroy(ctx);
}

static void make_key(void) {
  context_key_ok = pthread_key_create(&context_key, destroy_context) == 0;
}

tq_context *tq_py_context(void) {
  pthread_once(&context_once, make_key);
  if (!context_key_ok) {
    PyErr_SetString(PyExc_RuntimeError,
                    "tensorquant: no thread-local storage for contexts");
    return NULL;
  }
  tq_context *ctx = pthread_getspecific(context_key);
  if (ctx) return ctx;
  if (tq_context_create(&ctx) != TQ_OK ||
      pthread_setspecific(context_key, ctx) != 0) {
    tq_context_destroy(ctx);
    PyErr_NoMemory();
    return NULL;
  }
  return ctx;
}

/* Whether the file an error names is missing: then FileNotFoundError. */
static int source_missing(const tq_error_info *info) {
  struct stat sb;
  return info && info->source[0] && stat(info->source, &sb) != 0 &&
         errno == ENOENT;
}

static PyObject *exception_class(tq_status st, const tq_error_info *info) {
  switch (st) {
    case TQ_ERR_IO:
      return source_missing(info) ? PyExc_FileNotFoundError : PyExc_OSError;
    case TQ_ERR_NOT_FOUND:
      return source_missing(info) ? PyExc_FileNotFoundError : PyExc_ValueError;
    case TQ_ERR_INVALID_ARGUMENT:
    case TQ_ERR_PARSE:
    case TQ_ERR_RANGE:
    case TQ_ERR_FORMAT:
    case TQ_ERR_SHAPE: return PyExc_ValueError;
    case TQ_ERR_NO_MEMORY: return PyExc_MemoryError;
    case TQ_ERR_INTERRUPTED: return PyExc_KeyboardInterrupt;
    case TQ_ERR_UNSUPPORTED: return PyExc_NotImplementedError;
    default: return PyExc_RuntimeError;
  }
}

/* Sets name on exc (errors ignored: the exception itself matters). */
static void set_attr(PyObject *exc, const char *name, PyObject *value) {
  if (value && PyObject_SetAttrString(exc, name, value) != 0) PyErr_Clear();
  Py_XDECREF(value);
}

PyObject *tq_py_raise(tq_context *ctx, tq_status st) {
  if (PyErr_Occurred()) return NULL;
  const tq_error_info *info = ctx ? tq_context_error_info(ctx) : NULL;
  const char *msg = tq_context_last_error(ctx);
  if (!msg || !*msg) msg = tq_status_str(st);
  PyObject *cls = exception_class(st, info);
  PyObject *exc = PyObject_CallFunction(cls, "s", msg);
  if (!exc) return NULL;
  set_attr(exc, "status", PyUnicode_FromString(tq_status_str(st)));
  set_attr(exc, "source",
           PyUnicode_FromString(info && info->source[0] ? info->source : ""));
  set_attr(exc, "line", PyLong_FromLong(info ? info->line : 0));
  set_attr(exc, "column", PyLong_FromLong(info ? info->column : 0));
  PyErr_SetObject(cls, exc);
  Py_DECREF(exc);
  return NULL;
}
