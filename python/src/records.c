/* Results as plain records: dicts of numbers and strings that
 * pandas.DataFrame takes as they are. */
#include <stdlib.h>

#include "tq_py.h"

PyObject *tq_py_eval_record(const tq_eval_result *r) {
  return Py_BuildValue("{s:n, s:d, s:d, s:d, s:d, s:d}", "n", (Py_ssize_t)r->n,
                       "top1", r->top1, "top5", r->top5, "loss", r->loss,
                       "seconds", r->seconds, "images_per_s", r->images_per_s);
}

PyObject *tq_py_list(size_t n, tq_py_item_fn make, const void *data) {
  PyObject *list = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; list && i < n; i++) {
    PyObject *item = make(data, i);
    if (!item)
      Py_CLEAR(list);
    else
      PyList_SET_ITEM(list, (Py_ssize_t)i, item);
  }
  return list;
}

static PyObject *string_item(const void *items, size_t i) {
  return PyUnicode_FromString(((const char *const *)items)[i]);
}

PyObject *tq_py_strings(const char *const *items, size_t n) {
  return tq_py_list(n, string_item, items);
}

/* Adds key: value to d, taking value; 0 on failure (d then freed). */
static int put(PyObject **d, const char *key, PyObject *value) {
  if (*d && value && PyDict_SetItemString(*d, key, value) == 0) {
    Py_DECREF(value);
    return 1;
  }
  Py_XDECREF(value);
  Py_CLEAR(*d);
  return 0;
}

PyObject *tq_py_config_record(const tq_config_result *r,
                              const tq_config_result *flt) {
  PyObject *d = tq_py_eval_record(&r->eval);
  put(&d, "sqnr_db", PyFloat_FromDouble(r->sqnr_db));
  put(&d, "changed", PyLong_FromUnsignedLongLong(r->changed));
  put(&d, "start_node", PyLong_FromSize_t(r->start_node));
  if (flt)
    put(&d, "delta_top1", PyFloat_FromDouble(r->eval.top1 - flt->eval.top1));
  return d;
}

PyObject *tq_py_row_record(const tq_analysis_row *row,
                           const tq_config_result *flt) {
  PyObject *d = Py_BuildValue(
      "{s:s, s:s, s:s, s:i, s:n, s:N, s:N}", "what",
      tq_analysis_kind_name(row->kind), "layers", row->layers, "spec",
      row->spec, "bits", row->bits, "n_layers", (Py_ssize_t)row->n_layers,
      "layer_ids", tq_py_strings(row->layer_ids, row->n_layers), "resolved",
      tq_py_strings(row->resolved, row->n_layers));
  PyObject *r = d ? tq_py_config_record(&row->result, flt) : NULL;
  if (r && PyDict_Update(d, r) != 0) Py_CLEAR(d);
  if (!r) Py_CLEAR(d);
  Py_XDECREF(r);
  return d;
}

/* ---- statistics -----------------------------------------------------------
 */

static PyObject *stats_entry(const void *data, size_t i) {
  const tq_stats *st = data;
  const tq_stats_entry *e = tq_stats_get(st, i);
  PyObject *d = Py_BuildValue(
      "{s:s, s:s, s:s, s:s, s:n, s:n, s:O, s:N, s:K, s:K, s:K, s:K, s:K, s:K, "
      "s:d, s:d, s:d, s:d, s:d}",
      "layer", e->layer, "value", e->value, "op", e->op, "kind",
      tq_stats_kind_name(e->kind), "node", (Py_ssize_t)e->node, "slot",
      (Py_ssize_t)e->slot, "quantized", e->quantized ? Py_True : Py_False,
      "shape", tq_py_shape_tuple(&e->shape), "count",
      (unsigned long long)e->count, "finite", (unsigned long long)e->finite,
      "nan", (unsigned long long)e->nan, "pos_inf",
      (unsigned long long)e->pos_inf, "neg_inf", (unsigned long long)e->neg_inf,
      "zeros", (unsigned long long)e->zeros, "min", e->min, "max", e->max,
      "mean", e->mean, "std", e->std, "max_abs", e->max_abs);
  /* The percentiles and fractional bits every report lists (the names
   * are the percentiles, as the library writes them). */
  const char *const *pn = tq_stats_percentile_names();
  const char *const *an = tq_stats_abs_percentile_names();
  char key[48];
  for (int k = 0; d && k < TQ_STATS_N_PERCENTILES; k++) {
    snprintf(key, sizeof key, "p%s", pn[k]);
    put(&d, key,
        PyFloat_FromDouble(tq_stats_percentile(st, i, strtod(pn[k], NULL))));
  }
  for (int k = 0; d && k < TQ_STATS_N_ABS_PERCENTILES; k++) {
    snprintf(key, sizeof key, "abs_p%s", an[k]);
    put(&d, key,
        PyFloat_FromDouble(
            tq_stats_abs_percentile(st, i, strtod(an[k], NULL))));
  }
  size_t nw;
  const int *widths = tq_stats_widths(st, &nw);
  for (size_t k = 0; d && k < nw; k++) {
    snprintf(key, sizeof key, "frac_bits_%d", widths[k]);
    put(&d, key, PyLong_FromLong(tq_fixed_frac_bits(e->max_abs, widths[k])));
  }
  return d;
}

PyObject *tq_py_stats_records(const tq_stats *st) {
  return tq_py_list(tq_stats_count(st), stats_entry, st);
}

/* ---- search
 * ------------------------------------------------------------------ */

static PyObject *int_item(const void *v, size_t i) {
  return PyLong_FromLong(((const int *)v)[i]);
}

static PyObject *double_item(const void *v, size_t i) {
  return PyFloat_FromDouble(((const double *)v)[i]);
}

static PyObject *size_item(const void *v, size_t i) {
  return PyLong_FromSize_t(((const size_t *)v)[i]);
}

/* Knob k (a layer and kind) with the format chosen. */
static PyObject *search_layer(const void *data, size_t k) {
  const tq_search_layer *l = &((const tq_search_result *)data)->layers[k];
  /* bits: word widths (rounded up for formats); cost_bits: bits per
   * element with the scale overhead, what the cost counts (4.25: MXFP4) */
  return Py_BuildValue(
      "{s:s, s:s, s:n, s:s, s:i, s:d, s:d, s:d, s:N, s:N, s:N, s:N}", "layer",
      l->layer, "what", tq_analysis_kind_name(l->kind), "node",
      (Py_ssize_t)l->node, "spec", l->candidates[l->chosen], "bits",
      l->bits[l->chosen], "cost_bits", l->cost_bits[l->chosen], "weight",
      l->weight, "alone_loss_pp", l->alone_loss_pp[l->chosen], "candidates",
      tq_py_strings(l->candidates, l->n_candidates), "candidate_bits",
      tq_py_list(l->n_candidates, int_item, l->bits), "candidate_cost_bits",
      tq_py_list(l->n_candidates, double_item, l->cost_bits),
      "candidate_alone_loss_pp",
      tq_py_list(l->n_candidates, double_item, l->alone_loss_pp));
}

PyObject *tq_py_search_records(const tq_search_result *r) {
  return tq_py_list(r->n_layers, search_layer, r);
}

/* Allocation i tried jointly. */
static PyObject *search_step(const void *data, size_t i) {
  const tq_search_result *r = data;
  const tq_search_step *s = &r->steps[i];
  return Py_BuildValue(
      "{s:d, s:d, s:N, s:N, s:N, s:O, s:O, s:O}", "gamma", s->gamma,
      "total_bits", s->total_bits, "positions",
      tq_py_list(r->n_layers, size_item, s->positions), "search",
      tq_py_config_record(&s->search, &r->float_search), "validation",
      tq_py_config_record(&s->validation, &r->float_validation), "accepted",
      s->accepted ? Py_True : Py_False, "chosen",
      i == r->chosen ? Py_True : Py_False, "pareto",
      s->pareto ? Py_True : Py_False);
}

PyObject *tq_py_search_steps(const tq_search_result *r) {
  return tq_py_list(r->n_steps, search_step, r);
}
