/* The extension module tensorquant._tensorquant: its functions and types.
 * The friendly API (tensorquant/__init__.py) is a thin layer over it. */
#define TQ_PY_IMPORT_ARRAY
#include "tensorquant/version.h"
#include "tq_py.h"

static PyMethodDef module_methods[] = {
    {"quantize", (PyCFunction)(void (*)(void))tq_py_quantize,
     METH_VARARGS | METH_KEYWORDS,
     "quantize(x, spec, *, seed=0, stream=0, out=None, threads=None, "
     "offset=0)\n\n"
     "Quantizes the float32 array x with spec (a spec string or a "
     "Quantizer) into a new array, or into out (out=x: in place). "
     "Stochastic rounding of element i uses u(seed, stream, offset + i). "
     "C-contiguous float32 input is read without a copy; other float32 "
     "layouts are copied first; other dtypes raise TypeError."},
    {"formats", tq_py_formats, METH_NOARGS,
     "formats() -> [{'name', 'usage', 'description'}, ...]: every spec name"},
    {"stochastic_u", tq_py_stochastic_u, METH_VARARGS,
     "stochastic_u(seed, stream, index) -> float: the random number "
     "stochastic rounding uses for that element"},
    {"kernel_isa", tq_py_kernel_isa, METH_NOARGS,
     "kernel_isa() -> 'avx512', 'avx2' or 'scalar': the kernels this CPU runs"},
    {"_evaluate", (PyCFunction)(void (*)(void))tq_py_evaluate,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_calibrate", (PyCFunction)(void (*)(void))tq_py_calibrate,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_stats", (PyCFunction)(void (*)(void))tq_py_stats,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_sweep", (PyCFunction)(void (*)(void))tq_py_sweep,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_sensitivity", (PyCFunction)(void (*)(void))tq_py_sensitivity,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_search", (PyCFunction)(void (*)(void))tq_py_search,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_report", (PyCFunction)(void (*)(void))tq_py_report,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"_report_csv", tq_py_report_csv, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tensorquant._tensorquant",
    .m_doc = "libtensorquant's C API for Python (use the tensorquant package)",
    .m_size = -1,
    .m_methods = module_methods,
};

static int add_type(PyObject *m, const char *name, PyTypeObject *type) {
  if (PyType_Ready(type) != 0) return 0;
  Py_INCREF(type);
  if (PyModule_AddObject(m, name, (PyObject *)type) == 0) return 1;
  Py_DECREF(type);
  return 0;
}

PyMODINIT_FUNC PyInit__tensorquant(void); /* the one exported symbol */
PyMODINIT_FUNC PyInit__tensorquant(void) {
  import_array();
  PyObject *m = PyModule_Create(&module_def);
  if (!m) return NULL;
  if (!add_type(m, "Quantizer", &tq_py_quantizer_type) ||
      !add_type(m, "Map", &tq_py_map_type) ||
      !add_type(m, "Model", &tq_py_model_type) ||
      !add_type(m, "Dataset", &tq_py_dataset_type) ||
      PyModule_AddStringConstant(m, "__version__", TQ_VERSION_STRING) != 0 ||
      PyModule_AddStringConstant(m, "CHARTJS_DEFAULT",
                                 TQ_REPORT_CHARTJS_DEFAULT) != 0 ||
      PyModule_AddStringConstant(m, "FASHION_MNIST_DEFAULT_DIR",
                                 TQ_FASHION_MNIST_DEFAULT_DIR) != 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
