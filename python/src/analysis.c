/* tq.evaluate, tq.stats, tq.sweep, tq.sensitivity, tq.search and the
 * reports: the library's analyses (analysis.h, stats.h, evaluate.h,
 * report.h) on a model and a dataset, the GIL released while they run,
 * results as records plus the tq-report/1 document the tool writes. */
#include <string.h>

#include "tensorquant/version.h"
#include "tq_py.h"

#define CREATED_BY "tensorquant " TQ_VERSION_STRING " (Python)"

/* What every analysis takes: the model, the data and the options the
 * Python layer gathered in a dict. */
typedef struct common {
  tq_py_model *model;
  tq_py_dataset *data;
  size_t n; /* samples: the limit, or the dataset's size */
  long batch, calib, memory_mb, threads;
  uint64_t seed;
  int no_reuse;
  const char *model_name;
  tq_py_progress progress;
} common;

static int opt_long(PyObject *opts, const char *key, long lo, long *out) {
  PyObject *v = PyDict_GetItemString(opts, key);
  *out = 0;
  if (!v || v == Py_None) return 1;
  *out = PyLong_Check(v) ? PyLong_AsLong(v) : lo - 1;
  if (*out >= lo && !PyErr_Occurred()) return 1;
  PyErr_Clear();
  PyErr_Format(PyExc_ValueError, "%s must be an int >= %ld (or None)", key, lo);
  return 0;
}

static int parse_common(PyObject *model, PyObject *data, PyObject *opts,
                        common *c) {
  memset(c, 0, sizeof *c);
  if (!PyObject_TypeCheck(model, &tq_py_model_type) ||
      !PyObject_TypeCheck(data, &tq_py_dataset_type) || !PyDict_Check(opts)) {
    PyErr_SetString(PyExc_TypeError,
                    "internal: expected (Model, Dataset, dict of options)");
    return 0;
  }
  c->model = (tq_py_model *)model;
  c->data = (tq_py_dataset *)data;
  long limit;
  int threads;
  PyObject *name = PyDict_GetItemString(opts, "model_name");
  PyObject *no_reuse = PyDict_GetItemString(opts, "no_reuse");
  if (!opt_long(opts, "limit", 1, &limit) ||
      !opt_long(opts, "batch", 1, &c->batch) ||
      !opt_long(opts, "calib", 1, &c->calib) ||
      !opt_long(opts, "memory", 1, &c->memory_mb) ||
      !tq_py_threads(PyDict_GetItemString(opts, "threads"), &threads) ||
      !tq_py_u64(PyDict_GetItemString(opts, "seed"), "seed", &c->seed) ||
      !tq_py_str(name, "model_name", 1, &c->model_name))
    return 0;
  c->threads = threads;
  c->n = tq_dataset_size(c->data->ds);
  if (limit > 0 && (size_t)limit < c->n) c->n = (size_t)limit;
  c->no_reuse = no_reuse && PyObject_IsTrue(no_reuse) == 1;
  c->progress.callback = PyDict_GetItemString(opts, "progress");
  return 1;
}

/* `what`: a kind name or a list of them (each at most once) as kinds. */
static int parse_kinds(PyObject *what, tq_map_kind *kinds, size_t *n) {
  PyObject *keep;
  const char **items;
  size_t count;
  int ok = tq_py_str_list(what, "what", &keep, &items, &count);
  if (ok && count > 3) {
    PyErr_SetString(PyExc_ValueError, "what lists at most 3 kinds");
    ok = 0;
  }
  *n = 0;
  for (size_t i = 0; ok && i < count; i++) {
    ok = tq_py_map_kind(items[i], 1, &kinds[i]);
    for (size_t k = 0; ok && k < i; k++)
      if (kinds[k] == kinds[i]) {
        PyErr_Format(PyExc_ValueError, "what lists '%s' twice", items[i]);
        ok = 0;
      }
    *n += ok;
  }
  PyMem_Free(items);
  Py_XDECREF(keep);
  return ok;
}

/* Runs under the model's lock with its thread count; the GIL is released
 * by the caller around the library calls. */
typedef struct locked {
  tq_context *ctx;
  const tq_graph *g;
  tq_py_settings saved;
} locked;

static int lock_model(common *c, locked *l) {
  if (!(l->ctx = tq_py_context())) return 0;
  if (!(l->g = tq_py_model_acquire(c->model))) return 0;
  return 1;
}

static void unlock_model(common *c, locked *l) {
  tq_py_model_release(c->model);
  (void)l;
}

static const char *split_name(const common *c) {
  return PyUnicode_AsUTF8(c->data->split);
}

/* A session of g under set with the seed (the model's own keeps its
 * maps). */
static tq_status open_session(tq_context *ctx, const tq_graph *g,
                              const tq_qmap_set *set, uint64_t seed,
                              tq_session **s) {
  tq_status st = tq_session_create(ctx, g, s);
  if (st == TQ_OK) tq_session_set_seed(*s, seed);
  if (st == TQ_OK) st = tq_session_set_maps(ctx, *s, set);
  return st;
}

/* ---- evaluate --------------------------------------------------------------
 */

/* Gives s the ranges of calib.json text (NULL: none) read from source. */
static tq_status set_calibration(tq_context *ctx, tq_session *s,
                                 const char *text, Py_ssize_t len,
                                 const char *source) {
  if (!text) return TQ_OK;
  tq_calibration *cal = NULL;
  tq_status st = tq_calibration_parse(ctx, text, (size_t)len, source, &cal);
  if (st == TQ_OK) st = tq_session_set_calibration(ctx, s, cal);
  tq_calibration_destroy(cal);
  return st;
}

/* _evaluate(model, data, opts, extr, weights, intr, map, calib_text,
 *           calib_source) -> record */
PyObject *tq_py_evaluate(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  PyObject *model, *data, *opts, *flat[3], *sectioned;
  const char *calib_text, *calib_source;
  Py_ssize_t calib_len = 0;
  common c;
  if (!PyArg_ParseTuple(args, "OOOOOOOz#z:_evaluate", &model, &data, &opts,
                        &flat[0], &flat[1], &flat[2], &sectioned, &calib_text,
                        &calib_len, &calib_source) ||
      !parse_common(model, data, opts, &c))
    return NULL;
  tq_qmap_set *set = NULL;
  locked l;
  if (!tq_py_map_set(sectioned, flat, &set) || !lock_model(&c, &l)) {
    tq_qmap_set_destroy(set);
    return NULL;
  }
  tq_session *s = NULL;
  tq_eval_result r;
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  tq_py_settings_apply(l.ctx, c.model, (int)c.threads, &l.saved);
  st = open_session(l.ctx, l.g, set, c.seed, &s);
  if (st == TQ_OK)
    st = set_calibration(l.ctx, s, calib_text, calib_len, calib_source);
  if (st == TQ_OK)
    st = tq_evaluate(l.ctx, s, c.data->ds, NULL, c.n,
                     c.batch ? (int)c.batch : 256, tq_py_on_eval, &c.progress,
                     NULL, &r);
  tq_py_settings_restore(l.ctx, &l.saved);
  Py_END_ALLOW_THREADS;
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  unlock_model(&c, &l);
  if (st != TQ_OK) return tq_py_raise(l.ctx, st);
  PyObject *rec = tq_py_eval_record(&r);
  PyObject *info =
      Py_BuildValue("{s:z, s:s, s:s}", "model", c.model_name, "data",
                    tq_dataset_name(c.data->ds), "split", split_name(&c));
  if (rec && (!info || PyDict_Update(rec, info) != 0)) Py_CLEAR(rec);
  Py_XDECREF(info);
  return rec;
}

/* ---- calibrate -------------------------------------------------------------
 */

/* A calibration as the dict calib.json holds. */
static PyObject *calibration_dict(const tq_calibration *cal) {
  PyObject *layers = PyDict_New();
  for (size_t i = 0; layers && i < tq_calibration_count(cal); i++) {
    double lo, hi;
    const char *id = tq_calibration_layer(cal, i, &lo, &hi);
    PyObject *r = Py_BuildValue("{s:d, s:d}", "min", lo, "max", hi);
    if (!r || PyDict_SetItemString(layers, id, r) != 0) Py_CLEAR(layers);
    Py_XDECREF(r);
  }
  if (!layers) return NULL;
  return Py_BuildValue("{s:s, s:n, s:N}", "method", tq_calibration_method(cal),
                       "samples", (Py_ssize_t)tq_calibration_samples(cal),
                       "layers", layers);
}

/* _calibrate(model, data, opts, method, bins, extr, map) -> dict */
PyObject *tq_py_calibrate(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  PyObject *model, *data, *opts, *flat[3] = {NULL, Py_None, Py_None},
                                 *sectioned;
  const char *method;
  Py_ssize_t bins;
  common c;
  if (!PyArg_ParseTuple(args, "OOOsnOO:_calibrate", &model, &data, &opts,
                        &method, &bins, &flat[0], &sectioned) ||
      !parse_common(model, data, opts, &c))
    return NULL;
  tq_calib_opts co = {
      .num_bins = (int)bins, .limit = c.n, .batch = (int)c.batch};
  tq_qmap_set *set = NULL;
  locked l;
  if (!tq_py_map_set(sectioned, flat, &set) || !lock_model(&c, &l)) {
    tq_qmap_set_destroy(set);
    return NULL;
  }
  co.maps = set;
  tq_calibration *cal = NULL;
  tq_status st = tq_calib_method_parse(l.ctx, method, &co);
  if (st == TQ_OK) {
    Py_BEGIN_ALLOW_THREADS;
    tq_py_settings_apply(l.ctx, c.model, (int)c.threads, &l.saved);
    st = tq_calibrate(l.ctx, l.g, c.data->ds, &co, &cal);
    tq_py_settings_restore(l.ctx, &l.saved);
    Py_END_ALLOW_THREADS;
  }
  tq_qmap_set_destroy(set);
  unlock_model(&c, &l);
  if (st != TQ_OK) return tq_py_raise(l.ctx, st);
  PyObject *d = calibration_dict(cal);
  tq_calibration_destroy(cal);
  return d;
}

/* ---- stats ----------------------------------------------------------------
 */

/* _stats(model, data, opts, extr, weights, intr, map, widths, bins,
 *        skip_activations, skip_weights) -> (records, document) */
PyObject *tq_py_stats(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  PyObject *model, *data, *opts, *flat[3], *sectioned, *widths;
  Py_ssize_t bins;
  int skip_act, skip_w;
  common c;
  tq_stats_opts so = {0};
  if (!PyArg_ParseTuple(args, "OOOOOOOOnpp:_stats", &model, &data, &opts,
                        &flat[0], &flat[1], &flat[2], &sectioned, &widths,
                        &bins, &skip_act, &skip_w) ||
      !parse_common(model, data, opts, &c) ||
      !tq_py_widths(widths, 2, 53, TQ_STATS_MAX_WIDTHS, so.widths,
                    &so.n_widths))
    return NULL;
  if (bins < 1 || bins > (1 << 16)) {
    PyErr_SetString(PyExc_ValueError, "bins must be from 1 to 65536");
    return NULL;
  }
  so.bins = (size_t)bins;
  so.skip_activations = skip_act;
  so.skip_weights = skip_w;
  so.progress = tq_py_on_stats;
  so.user = &c.progress;
  tq_qmap_set *set = NULL;
  locked l;
  if (!tq_py_map_set(sectioned, flat, &set) || !lock_model(&c, &l)) {
    tq_qmap_set_destroy(set);
    return NULL;
  }
  const tq_stats_json_opts jo = {.document = 1,
                                 .model = c.model_name,
                                 .data = tq_dataset_name(c.data->ds),
                                 .split = split_name(&c),
                                 .created_by = CREATED_BY};
  tq_session *s = NULL;
  tq_stats *st_obj = NULL;
  char *doc = NULL;
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  tq_py_settings_apply(l.ctx, c.model, (int)c.threads, &l.saved);
  st = open_session(l.ctx, l.g, set, c.seed, &s);
  if (st == TQ_OK)
    st = tq_stats_collect(l.ctx, s, c.data->ds, NULL, c.n,
                          c.batch ? (int)c.batch : 256, &so, &st_obj);
  if (st == TQ_OK) st = tq_stats_to_json(l.ctx, st_obj, &jo, &doc);
  tq_py_settings_restore(l.ctx, &l.saved);
  Py_END_ALLOW_THREADS;
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  unlock_model(&c, &l);
  PyObject *res = st == TQ_OK
                      ? Py_BuildValue("(Ns)", tq_py_stats_records(st_obj), doc)
                      : tq_py_raise(l.ctx, st);
  tq_free(doc);
  tq_stats_destroy(st_obj);
  return res;
}

/* ---- sweep, sensitivity, search ---------------------------------------------
 */

/* The analysis of c's model and data, under the model's lock (released by
 * close_analysis). */
static tq_status open_analysis(common *c, locked *l, tq_analysis **an) {
  const tq_analysis_opts o = {.limit = c->n,
                              .batch = (int)c->batch,
                              .seed = c->seed,
                              .calib = (size_t)c->calib,
                              .memory_bytes = (size_t)c->memory_mb << 20,
                              .no_reuse = c->no_reuse,
                              .progress = tq_py_on_analysis,
                              .progress_user = &c->progress,
                              .model = c->model_name,
                              .split = split_name(c),
                              .created_by = CREATED_BY};
  tq_py_settings_apply(l->ctx, c->model, (int)c->threads, &l->saved);
  return tq_analysis_create(l->ctx, l->g, c->data->ds, &o, an);
}

static void close_analysis(common *c, locked *l, tq_analysis *an) {
  tq_analysis_destroy(an);
  tq_py_settings_restore(l->ctx, &l->saved);
  (void)c;
}

/* (layers, specs) string lists, kept alive by keep[2]. */
typedef struct lists {
  PyObject *keep[2];
  const char **layers, **specs;
  size_t n_layers, n_specs;
} lists;

static int parse_lists(PyObject *layers, PyObject *specs, lists *ls) {
  memset(ls, 0, sizeof *ls);
  return tq_py_str_list(layers, "layers", &ls->keep[0], &ls->layers,
                        &ls->n_layers) &&
         tq_py_str_list(specs, "specs", &ls->keep[1], &ls->specs, &ls->n_specs);
}

static void free_lists(lists *ls) {
  PyMem_Free(ls->layers);
  PyMem_Free(ls->specs);
  Py_XDECREF(ls->keep[0]);
  Py_XDECREF(ls->keep[1]);
}

/* The rows of a sweep or sensitivity result, in ranking order when
 * there is one. */
typedef struct rows_of {
  const tq_analysis_row *rows;
  size_t n;
  const size_t *ranking; /* NULL: in order */
  const tq_config_result *flt;
} rows_of;

/* Record i, with its rank when ranked. */
static PyObject *row_item(const void *data, size_t i) {
  const rows_of *r = data;
  PyObject *d =
      tq_py_row_record(&r->rows[r->ranking ? r->ranking[i] : i], r->flt);
  if (d && r->ranking) {
    PyObject *rank = PyLong_FromSize_t(i + 1);
    if (!rank || PyDict_SetItemString(d, "rank", rank) != 0) Py_CLEAR(d);
    Py_XDECREF(rank);
  }
  return d;
}

/* The library calls of a sweep (sensitivity 0) or a sensitivity run: the
 * result's rows and its document, without the GIL. */
typedef struct row_job {
  int sensitivity;
  tq_map_kind kinds[3];
  size_t n_kinds;
  lists ls;
  tq_sweep_result *sweep;
  tq_sensitivity_result *sens;
  rows_of rows;
  char *doc;
} row_job;

static tq_status run_rows(tq_context *ctx, tq_analysis *an, row_job *j) {
  tq_status st;
  if (j->sensitivity) {
    const tq_sensitivity_opts o = {.kinds = j->kinds,
                                   .n_kinds = j->n_kinds,
                                   .layers = j->ls.layers,
                                   .n_layers = j->ls.n_layers,
                                   .specs = j->ls.specs,
                                   .n_specs = j->ls.n_specs};
    st = tq_sensitivity(ctx, an, &o, &j->sens);
    if (st == TQ_OK) st = tq_sensitivity_document(ctx, an, j->sens, &j->doc);
    if (st == TQ_OK)
      j->rows = (rows_of){j->sens->rows, j->sens->n_rows, j->sens->ranking,
                          &j->sens->float_result};
  } else {
    const tq_sweep_opts o = {.kind = j->kinds[0],
                             .layers = j->ls.layers,
                             .n_layers = j->ls.n_layers,
                             .specs = j->ls.specs,
                             .n_specs = j->ls.n_specs};
    st = tq_sweep(ctx, an, &o, &j->sweep);
    if (st == TQ_OK) st = tq_sweep_document(ctx, an, j->sweep, &j->doc);
    if (st == TQ_OK)
      j->rows = (rows_of){j->sweep->rows, j->sweep->n_rows, NULL,
                          &j->sweep->float_result};
  }
  return st;
}

/* _sweep / _sensitivity(model, data, opts, what, layers, specs)
 *   -> (records, float_record, document) */
static PyObject *rows_analysis(PyObject *args, int sensitivity) {
  PyObject *model, *data, *opts, *what, *layers, *specs;
  common c;
  row_job j = {.sensitivity = sensitivity};
  if (!PyArg_ParseTuple(args, "OOOOOO", &model, &data, &opts, &what, &layers,
                        &specs) ||
      !parse_common(model, data, opts, &c) ||
      !parse_kinds(what, j.kinds, &j.n_kinds))
    return NULL;
  if (!sensitivity && j.n_kinds != 1) {
    PyErr_SetString(PyExc_ValueError, "a sweep takes one kind (what=)");
    return NULL;
  }
  locked l;
  if (!parse_lists(layers, specs, &j.ls) || !lock_model(&c, &l)) {
    free_lists(&j.ls);
    return NULL;
  }
  tq_analysis *an = NULL;
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  st = open_analysis(&c, &l, &an);
  if (st == TQ_OK) st = run_rows(l.ctx, an, &j);
  close_analysis(&c, &l, an);
  Py_END_ALLOW_THREADS;
  unlock_model(&c, &l);
  free_lists(&j.ls);
  PyObject *res =
      st == TQ_OK
          ? Py_BuildValue("(NNs)", tq_py_list(j.rows.n, row_item, &j.rows),
                          tq_py_config_record(j.rows.flt, NULL), j.doc)
          : tq_py_raise(l.ctx, st);
  tq_sweep_result_destroy(j.sweep);
  tq_sensitivity_result_destroy(j.sens);
  tq_free(j.doc);
  return res;
}

PyObject *tq_py_sweep(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  return rows_analysis(args, 0);
}

PyObject *tq_py_sensitivity(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  return rows_analysis(args, 1);
}

static int parse_cost(const char *name, tq_search_cost *cost) {
  for (int k = TQ_SEARCH_COST_SIZE; k <= TQ_SEARCH_COST_ACTIVATIONS; k++)
    if (!strcmp(name, tq_search_cost_name((tq_search_cost)k))) {
      *cost = (tq_search_cost)k;
      return 1;
    }
  PyErr_Format(PyExc_ValueError,
               "cost must be size, params or activations, not '%s'", name);
  return 0;
}

static PyObject *search_result(const tq_search_result *r, const char *doc,
                               const char *map) {
  const tq_search_step *pick = &r->steps[r->chosen];
  return Py_BuildValue(
      "{s:N, s:N, s:s, s:s, s:O, s:d, s:d, s:s, s:s, s:n, s:n, s:N, s:N, s:N, "
      "s:d, s:d, s:n}",
      "records", tq_py_search_records(r), "steps", tq_py_search_steps(r),
      "document", doc, "map", map, "met", r->met ? Py_True : Py_False,
      "budget_pp", r->budget_pp, "margin_pp", r->margin_pp, "family", r->family,
      "cost", tq_search_cost_name(r->cost), "search_n", (Py_ssize_t)r->search_n,
      "validation_n", (Py_ssize_t)r->validation_n, "float_search",
      tq_py_config_record(&r->float_search, NULL), "float_validation",
      tq_py_config_record(&r->float_validation, NULL), "float",
      tq_py_config_record(&r->float_all, NULL), "float_bits", r->float_bits,
      "total_bits", pick->total_bits, "chosen_step", (Py_ssize_t)r->chosen);
}

/* _search(model, data, opts, budget, margin, what, family, widths, cost,
 *         validation, layers) -> dict (records, steps, document, map, ...) */
PyObject *tq_py_search(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  PyObject *model, *data, *opts, *what, *widths, *layers;
  double budget, margin;
  const char *family, *cost_name, *formats;
  Py_ssize_t validation;
  common c;
  lists ls;
  tq_map_kind kinds[3];
  int wv[32];
  tq_search_opts o = {0};
  if (!PyArg_ParseTuple(args, "OOOddOzOsnOz:_search", &model, &data, &opts,
                        &budget, &margin, &what, &family, &widths, &cost_name,
                        &validation, &layers, &formats) ||
      !parse_common(model, data, opts, &c) ||
      !parse_kinds(what, kinds, &o.n_kinds) ||
      !parse_cost(cost_name, &o.cost) ||
      !tq_py_widths(widths, 2, 32, 32, wv, &o.n_widths))
    return NULL;
  if (validation < 0) {
    PyErr_SetString(PyExc_ValueError, "validation must be >= 0");
    return NULL;
  }
  locked l;
  if (!parse_lists(layers, Py_None, &ls) || !lock_model(&c, &l)) {
    free_lists(&ls);
    return NULL;
  }
  o.budget_pp = budget;
  o.margin_pp = margin;
  o.kinds = kinds;
  o.layers = ls.layers;
  o.n_layers = ls.n_layers;
  o.family = family;
  o.widths = o.n_widths ? wv : NULL;
  o.validation = (size_t)validation;
  tq_analysis *an = NULL;
  tq_search_result *r = NULL;
  char *doc = NULL, *map = NULL, **fv = NULL;
  size_t n_fv = 0;
  tq_status st = TQ_OK;
  if (formats) { /* a preset's name or a spec list */
    const char *preset = tq_search_format_preset(formats);
    st = tq_spec_list_expand(l.ctx, preset ? preset : formats, &fv, &n_fv);
    o.formats = (const char *const *)fv;
    o.n_formats = n_fv;
  }
  Py_BEGIN_ALLOW_THREADS;
  if (st == TQ_OK) st = open_analysis(&c, &l, &an);
  if (st == TQ_OK) st = tq_search(l.ctx, an, &o, &r);
  if (st == TQ_OK) st = tq_search_document(l.ctx, an, r, &doc);
  if (st == TQ_OK) st = tq_search_map(l.ctx, r, &map);
  close_analysis(&c, &l, an);
  Py_END_ALLOW_THREADS;
  unlock_model(&c, &l);
  free_lists(&ls);
  tq_spec_list_free(fv, n_fv);
  PyObject *res =
      st == TQ_OK ? search_result(r, doc, map) : tq_py_raise(l.ctx, st);
  tq_search_result_destroy(r);
  tq_free(doc);
  tq_free(map);
  return res;
}

/* ---- reports
 * ------------------------------------------------------------------ */

/* _report(document, path, chartjs, source) */
PyObject *tq_py_report(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self, (void)kw;
  const char *doc, *chartjs, *source;
  PyObject *path_bytes;
  if (!PyArg_ParseTuple(args, "sO&zs:_report", &doc, PyUnicode_FSConverter,
                        &path_bytes, &chartjs, &source))
    return NULL;
  tq_context *ctx = tq_py_context();
  tq_status st = TQ_ERR_NO_MEMORY;
  const char *path = PyBytes_AS_STRING(path_bytes);
  if (ctx) {
    Py_BEGIN_ALLOW_THREADS;
    st = tq_report_write_html(ctx, doc, source, path, chartjs);
    Py_END_ALLOW_THREADS;
  }
  Py_DECREF(path_bytes);
  if (!ctx) return NULL;
  if (st != TQ_OK) return tq_py_raise(ctx, st);
  Py_RETURN_NONE;
}

/* _report_csv(document, source) -> str */
PyObject *tq_py_report_csv(PyObject *self, PyObject *args) {
  (void)self;
  const char *doc, *source;
  if (!PyArg_ParseTuple(args, "ss:_report_csv", &doc, &source)) return NULL;
  tq_context *ctx = tq_py_context();
  if (!ctx) return NULL;
  char *csv = NULL;
  const tq_status st = tq_report_csv(ctx, doc, source, &csv);
  if (st != TQ_OK) return tq_py_raise(ctx, st);
  PyObject *res = PyUnicode_FromString(csv);
  tq_free(csv);
  return res;
}
