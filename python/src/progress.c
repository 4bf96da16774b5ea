/* Progress of long calls: the library's callbacks, run without the GIL,
 * take it to call the Python progress function and to let Ctrl-C stop
 * the call (the library then returns TQ_ERR_INTERRUPTED and the pending
 * KeyboardInterrupt is raised). */
#include "tq_py.h"

int tq_py_progress_call(tq_py_progress *p, const char *stage, size_t done,
                        size_t total) {
  PyGILState_STATE gil = PyGILState_Ensure();
  int stop = PyErr_CheckSignals() != 0;
  if (!stop && p->callback && p->callback != Py_None) {
    PyObject *r = PyObject_CallFunction(p->callback, "snn", stage,
                                        (Py_ssize_t)done, (Py_ssize_t)total);
    stop = r == NULL;
    Py_XDECREF(r);
  }
  p->stopped |= stop;
  PyGILState_Release(gil);
  return stop;
}

int tq_py_on_analysis(void *user, const char *stage, size_t done,
                      size_t total) {
  return tq_py_progress_call(user, stage, done, total);
}

int tq_py_on_eval(void *user, size_t done, size_t total,
                  const tq_eval_result *so_far) {
  (void)so_far;
  return tq_py_progress_call(user, "eval", done, total);
}

int tq_py_on_stats(void *user, size_t done, size_t total) {
  return tq_py_progress_call(user, "statistics", done, total);
}
