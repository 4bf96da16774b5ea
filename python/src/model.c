/* tq.Model: an ONNX model and a session that runs it under quantizer maps.
 * One call at a time per model (a lock, taken without the GIL); the maps
 * are resolved and the weights quantized again only when they change. */
#include <stdlib.h>
#include <string.h>

#include "tq_py.h"

/* ---- life cycle ---------------------------------------------------------- */

static PyObject *model_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  static char *names[] = {"path", "threads", "fast_conv", NULL};
  PyObject *path_bytes = NULL, *threads = Py_None;
  int fast_conv = 0, nthreads;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$Op:Model", names,
                                   PyUnicode_FSConverter, &path_bytes, &threads,
                                   &fast_conv) ||
      !tq_py_threads(threads, &nthreads)) {
    Py_XDECREF(path_bytes);
    return NULL;
  }
  tq_py_model *self = (tq_py_model *)type->tp_alloc(type, 0);
  tq_context *ctx = self ? tq_py_context() : NULL;
  if (!ctx || !(self->lock = PyThread_allocate_lock())) {
    Py_XDECREF(self);
    Py_DECREF(path_bytes);
    return ctx ? PyErr_NoMemory() : NULL;
  }
  self->threads = nthreads;
  self->fast_conv = fast_conv;
  self->maps_key = Py_None;
  Py_INCREF(Py_None);
  self->path = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(path_bytes));
  const char *path = PyBytes_AS_STRING(path_bytes);
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  st = tq_onnx_load(ctx, path, &self->g);
  if (st == TQ_OK) st = tq_session_create(ctx, self->g, &self->s);
  Py_END_ALLOW_THREADS;
  Py_DECREF(path_bytes);
  if (st != TQ_OK || !self->path) {
    Py_DECREF(self);
    return st != TQ_OK ? tq_py_raise(ctx, st) : NULL;
  }
  return (PyObject *)self;
}

static void model_free(tq_py_model *self) {
  tq_session_destroy(self->s);
  tq_qmap_set_destroy(self->set);
  tq_graph_destroy(self->g);
  self->s = NULL;
  self->set = NULL;
  self->g = NULL;
}

static void model_dealloc(tq_py_model *self) {
  model_free(self);
  if (self->lock) PyThread_free_lock(self->lock);
  Py_XDECREF(self->maps_key);
  Py_XDECREF(self->path);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

const tq_graph *tq_py_model_acquire(tq_py_model *m) {
  if (!PyThread_acquire_lock(m->lock, NOWAIT_LOCK)) {
    Py_BEGIN_ALLOW_THREADS;
    PyThread_acquire_lock(m->lock, WAIT_LOCK);
    Py_END_ALLOW_THREADS;
  }
  if (m->g) return m->g;
  PyThread_release_lock(m->lock);
  PyErr_SetString(PyExc_ValueError, "the model is closed");
  return NULL;
}

void tq_py_model_release(tq_py_model *m) {
  PyThread_release_lock(m->lock);
}

void tq_py_settings_apply(tq_context *ctx, const tq_py_model *m, int threads,
                          tq_py_settings *saved) {
  saved->threads = tq_context_threads(ctx);
  saved->fast_conv = tq_context_fast_conv(ctx);
  if (!threads && m) threads = m->threads;
  if (threads) tq_context_set_threads(ctx, threads);
  tq_context_set_fast_conv(ctx, m ? m->fast_conv : 0);
}

void tq_py_settings_restore(tq_context *ctx, const tq_py_settings *saved) {
  tq_context_set_threads(ctx, saved->threads);
  tq_context_set_fast_conv(ctx, saved->fast_conv);
}

static PyObject *model_close(tq_py_model *self, PyObject *unused) {
  (void)unused;
  if (tq_py_model_acquire(self)) {
    model_free(self);
    tq_py_model_release(self);
  }
  PyErr_Clear(); /* closing a closed model is fine */
  Py_RETURN_NONE;
}

/* ---- inputs -------------------------------------------------------------- */

/* "a, b, c": the graph's input names, for messages. */
static PyObject *input_names(const tq_graph *g) {
  PyObject *list = PyList_New(0);
  for (size_t i = 0; list && i < tq_graph_input_count(g); i++) {
    PyObject *n = PyUnicode_FromString(tq_graph_input_name(g, i));
    if (!n || PyList_Append(list, n) != 0) Py_CLEAR(list);
    Py_XDECREF(n);
  }
  PyObject *sep = list ? PyUnicode_FromString(", ") : NULL;
  PyObject *text = sep ? PyUnicode_Join(sep, list) : NULL;
  Py_XDECREF(sep);
  Py_XDECREF(list);
  return text;
}

/* Whether array shape s fits the graph input's shape (dynamic dims: any). */
static int shape_fits(const tq_shape *want, const tq_shape *s) {
  if (want->ndim == 0) return 1; /* unknown: the plan checks */
  if (want->ndim != s->ndim) return 0;
  for (int d = 0; d < s->ndim; d++)
    if (want->dims[d] >= 0 && want->dims[d] != s->dims[d]) return 0;
  return 1;
}

/* Input i from the array x, in the dtype the graph declares (the one
 * place where inputs enter the session): float32 inputs take float32
 * arrays (array-likes are converted), other dtypes take arrays of exactly
 * that dtype. NULL with an exception. */
static tq_tensor *input_tensor(tq_context *ctx, const tq_graph *g, size_t i,
                               PyObject *x) {
  const char *name = tq_graph_input_name(g, i);
  const tq_dtype want_dtype = tq_graph_input_dtype(g, i);
  PyArrayObject *a = NULL;
  if (want_dtype == TQ_DTYPE_FLOAT32) {
    a = tq_py_float_array(x, name);
  } else {
    PyArray_Descr *d = tq_py_descr(want_dtype);
    if (!d) return NULL;
    /* bfloat16 also as the void |V2 arrays np.load gives for files that
     * ml_dtypes saved (tq reads those files the same way). */
    const int raw_bf16 = want_dtype == TQ_DTYPE_BFLOAT16 && PyArray_Check(x) &&
                         PyArray_TYPE((PyArrayObject *)x) == NPY_VOID &&
                         PyArray_ITEMSIZE((PyArrayObject *)x) == 2;
    if (!raw_bf16 &&
        (!PyArray_Check(x) ||
         !PyArray_EquivTypes(PyArray_DESCR((PyArrayObject *)x), d))) {
      PyObject *given =
          PyArray_Check(x)
              ? PyObject_Str((PyObject *)PyArray_DESCR((PyArrayObject *)x))
              : PyUnicode_FromString(Py_TYPE(x)->tp_name);
      PyErr_Format(PyExc_TypeError,
                   "input '%s' is declared %s; got %U (convert explicitly, "
                   "e.g. x.astype(%s%s))",
                   name, tq_dtype_name(want_dtype), given,
                   want_dtype == TQ_DTYPE_BFLOAT16 ? "ml_dtypes." : "np.",
                   tq_dtype_name(want_dtype));
      Py_XDECREF(given);
      Py_DECREF(d);
      return NULL;
    }
    Py_DECREF(d);
    a = (PyArrayObject *)PyArray_FromAny(x, NULL, 0, 0, NPY_ARRAY_CARRAY_RO,
                                         NULL);
  }
  tq_shape s;
  if (!a || !tq_py_array_shape(a, &s)) {
    Py_XDECREF(a);
    return NULL;
  }
  const tq_shape *want = tq_graph_input_shape(g, i);
  tq_tensor *t = NULL;
  if (s.ndim > TQ_TENSOR_MAX_DIMS || !shape_fits(want, &s)) {
    char wtext[160], gtext[160];
    tq_shape_format(want, wtext, sizeof wtext);
    tq_shape_format(&s, gtext, sizeof gtext);
    PyErr_Format(PyExc_ValueError,
                 "input '%s' has shape %s; the model expects %s (-1: any "
                 "size)",
                 name, gtext, wtext);
  } else {
    const tq_status st = tq_tensor_create(ctx, want_dtype, &s, &t);
    if (st != TQ_OK)
      tq_py_raise(ctx, st);
    else
      memcpy(tq_tensor_data(t), PyArray_DATA(a),
             tq_tensor_numel(t) * tq_dtype_size(want_dtype));
  }
  Py_DECREF(a);
  return t;
}

/* The graph's inputs from a dict of named arrays (or one array for a
 * model with one input) into ins[0..n). 0 with an exception. */
static int gather_inputs(tq_context *ctx, const tq_graph *g, PyObject *inputs,
                         tq_tensor **ins) {
  const size_t n = tq_graph_input_count(g);
  const int is_dict = PyDict_Check(inputs);
  PyObject *problem = NULL;
  if (!is_dict && n != 1) {
    PyObject *names = input_names(g);
    PyErr_Format(PyExc_ValueError,
                 "the model has %zu inputs (%U): pass a dict of arrays by "
                 "name",
                 n, names);
    Py_XDECREF(names);
    return 0;
  }
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (is_dict && !problem && PyDict_Next(inputs, &pos, &key, &value)) {
    const char *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
    size_t i = 0;
    while (k && i < n && strcmp(k, tq_graph_input_name(g, i))) i++;
    if (i == n) problem = key;
  }
  if (problem) {
    PyObject *names = input_names(g);
    PyErr_Format(PyExc_ValueError, "unknown input %R (the model's inputs: %U)",
                 problem, names);
    Py_XDECREF(names);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    PyObject *x = is_dict
                      ? PyDict_GetItemString(inputs, tq_graph_input_name(g, i))
                      : inputs;
    if (!x) {
      PyObject *names = input_names(g);
      PyErr_Format(PyExc_ValueError,
                   "missing input '%s' (the model's inputs: %U)",
                   tq_graph_input_name(g, i), names);
      Py_XDECREF(names);
      return 0;
    }
    if (!(ins[i] = input_tensor(ctx, g, i, x))) return 0;
  }
  return 1;
}

/* ---- running ------------------------------------------------------------- */

/* Every node's float outputs, copied as the session produces them. */
typedef struct dump_list {
  tq_context *ctx;
  char **keys;
  tq_tensor **values;
  size_t n, cap;
  tq_status st;
} dump_list;

static int dump_value(void *user, size_t node, const char *id, size_t k,
                      const char *value, const tq_tensor *t) {
  (void)node, (void)value;
  dump_list *d = user;
  if (tq_tensor_dtype(t) != TQ_DTYPE_FLOAT32) return 0;
  if (d->n == d->cap) {
    const size_t cap = d->cap ? 2 * d->cap : 64;
    char **keys = realloc(d->keys, cap * sizeof *keys);
    if (keys) d->keys = keys;
    tq_tensor **values = keys ? realloc(d->values, cap * sizeof *values) : NULL;
    if (values) d->values = values;
    if (!values) return (d->st = TQ_ERR_NO_MEMORY), 1;
    d->cap = cap;
  }
  /* Output k > 0 of a node: "ID:k", as tq run --dump names "ID__k". */
  char *key = malloc(strlen(id) + 24);
  if (!key) return (d->st = TQ_ERR_NO_MEMORY), 1;
  if (k)
    sprintf(key, "%s:%zu", id, k);
  else
    strcpy(key, id);
  d->st = tq_tensor_from_floats(d->ctx, tq_tensor_shape(t), tq_tensor_cdata(t),
                                &d->values[d->n]);
  if (d->st != TQ_OK) {
    free(key);
    return 1;
  }
  d->keys[d->n++] = key;
  return 0;
}

static void dump_free(dump_list *d) {
  for (size_t i = 0; i < d->n; i++) {
    free(d->keys[i]);
    tq_tensor_destroy(d->values[i]);
  }
  free(d->keys);
  free(d->values);
}

/* A dict name -> array taking over tensors[0..n) (set to NULL). */
static PyObject *arrays_dict(const char *const *names, tq_tensor **tensors,
                             size_t n) {
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < n; i++) {
    PyObject *a = tq_py_tensor_array(tensors[i]);
    tensors[i] = NULL;
    if (!a || PyDict_SetItemString(d, names[i], a) != 0) Py_CLEAR(d);
    Py_XDECREF(a);
  }
  return d;
}

/* The maps for key: rebuilt only when key differs from the last one. */
static int update_maps(tq_py_model *m, PyObject *key, PyObject *sectioned,
                       PyObject *const flat[3], tq_qmap_set **fresh) {
  *fresh = NULL;
  const int same = PyObject_RichCompareBool(key, m->maps_key, Py_EQ);
  if (same < 0) return 0;
  if (same) return 1;
  return tq_py_map_set(sectioned, flat, fresh);
}

typedef struct run_job {
  tq_tensor **ins, **outs;
  size_t n_in, n_out;
  tq_qmap_set *fresh;
  int new_maps, maps_ok;
  uint64_t seed;
  dump_list *dump;
} run_job;

/* The GIL-free part of a run: maps, seed, the run itself. */
static tq_status run_session(tq_context *ctx, tq_py_model *m, run_job *j) {
  tq_status st = TQ_OK;
  tq_session_set_seed(m->s, j->seed);
  if (j->new_maps) {
    st = tq_session_set_maps(ctx, m->s, j->fresh);
    /* The session now borrows the new set (or none, after a failure). */
    if (st != TQ_OK) tq_session_set_maps(ctx, m->s, NULL);
    tq_qmap_set_destroy(m->set);
    m->set = j->fresh;
    j->fresh = NULL;
    j->maps_ok = st == TQ_OK;
  }
  tq_session_set_observer(m->s, j->dump ? dump_value : NULL, j->dump);
  if (st == TQ_OK)
    st = tq_session_run(ctx, m->s, (const tq_tensor *const *)j->ins, j->n_in,
                        j->outs, j->n_out, NULL);
  tq_session_set_observer(m->s, NULL, NULL);
  if (st == TQ_OK && j->dump && j->dump->st != TQ_OK) st = j->dump->st;
  return st;
}

static PyObject *run_result(const tq_graph *g, run_job *j) {
  const char **names = PyMem_Calloc(j->n_out + 1, sizeof *names);
  if (!names) return PyErr_NoMemory();
  for (size_t i = 0; i < j->n_out; i++) names[i] = tq_graph_output_name(g, i);
  PyObject *outs = arrays_dict(names, j->outs, j->n_out);
  PyMem_Free(names);
  if (!outs || !j->dump) return outs;
  PyObject *nodes = arrays_dict((const char *const *)j->dump->keys,
                                j->dump->values, j->dump->n);
  return nodes ? Py_BuildValue("(NN)", outs, nodes) : (Py_DECREF(outs), NULL);
}

/* _run(inputs, key, extr, weights, intr, map, seed, dump) */
static PyObject *model_run(tq_py_model *self, PyObject *args) {
  PyObject *inputs, *key, *flat[3], *sectioned, *seed_obj;
  int dump_all;
  if (!PyArg_ParseTuple(args, "OOOOOOOp:_run", &inputs, &key, &flat[0],
                        &flat[1], &flat[2], &sectioned, &seed_obj, &dump_all))
    return NULL;
  run_job j = {0};
  if (!tq_py_u64(seed_obj, "seed", &j.seed)) return NULL;
  tq_context *ctx = tq_py_context();
  const tq_graph *g = ctx ? tq_py_model_acquire(self) : NULL;
  if (!g) return NULL;
  j.n_in = tq_graph_input_count(g);
  j.n_out = tq_graph_output_count(g);
  j.ins = PyMem_Calloc(j.n_in + 1, sizeof *j.ins);
  j.outs = PyMem_Calloc(j.n_out + 1, sizeof *j.outs);
  dump_list dump = {.ctx = ctx};
  j.dump = dump_all ? &dump : NULL;
  PyObject *res = NULL;
  tq_status st = TQ_OK;
  if (!j.ins || !j.outs) {
    PyErr_NoMemory();
  } else if (gather_inputs(ctx, g, inputs, j.ins) &&
             update_maps(self, key, sectioned, flat, &j.fresh)) {
    j.new_maps = PyObject_RichCompareBool(key, self->maps_key, Py_EQ) != 1;
    tq_py_settings saved;
    Py_BEGIN_ALLOW_THREADS;
    tq_py_settings_apply(ctx, self, 0, &saved);
    st = run_session(ctx, self, &j);
    tq_py_settings_restore(ctx, &saved);
    Py_END_ALLOW_THREADS;
    if (j.new_maps) { /* the key of what the session now has */
      PyObject *now = j.maps_ok ? key : Py_None;
      Py_INCREF(now);
      Py_SETREF(self->maps_key, now);
    }
    res = st == TQ_OK ? run_result(g, &j) : tq_py_raise(ctx, st);
  }
  for (size_t i = 0; j.ins && i < j.n_in; i++) tq_tensor_destroy(j.ins[i]);
  for (size_t i = 0; j.outs && i < j.n_out; i++) tq_tensor_destroy(j.outs[i]);
  PyMem_Free(j.ins);
  PyMem_Free(j.outs);
  tq_qmap_set_destroy(j.fresh);
  dump_free(&dump);
  tq_py_model_release(self);
  return res;
}

/* ---- inspection ---------------------------------------------------------- */

/* The planned shapes of a node's values (None where unknown). */
typedef struct shapes_of {
  const tq_session *s;
  const char *const *names;
} shapes_of;

static PyObject *shape_item(const void *data, size_t i) {
  const shapes_of *v = data;
  const tq_shape *sh = v->s ? tq_session_value_shape(v->s, v->names[i]) : NULL;
  if (sh) return tq_py_shape_tuple(sh);
  Py_RETURN_NONE;
}

static PyObject *value_shapes(const tq_session *s, const char *const *names,
                              size_t n) {
  const shapes_of v = {s, names};
  return tq_py_list(n, shape_item, &v);
}

/* What info() lists: the graph, planned by the session. */
typedef struct planned {
  const tq_graph *g;
  const tq_session *s;
} planned;

static PyObject *input_item(const void *data, size_t i) {
  const tq_graph *g = ((const planned *)data)->g;
  return Py_BuildValue("{s:s, s:N, s:s}", "name", tq_graph_input_name(g, i),
                       "shape", tq_py_shape_tuple(tq_graph_input_shape(g, i)),
                       "dtype", tq_dtype_name(tq_graph_input_dtype(g, i)));
}

static PyObject *output_item(const void *data, size_t i) {
  const planned *p = data;
  const char *name = tq_graph_output_name(p->g, i);
  const tq_dtype dtype = tq_session_value_dtype(p->s, name);
  return Py_BuildValue(
      "{s:s, s:N, s:s}", "name", name, "shape", value_shapes(p->s, &name, 1),
      "dtype", dtype == TQ_DTYPE_COUNT ? "unknown" : tq_dtype_name(dtype));
}

static PyObject *node_item(const void *data, size_t i) {
  const planned *p = data;
  tq_node_info in;
  tq_graph_node_info(p->g, i, &in);
  return Py_BuildValue("{s:n, s:s, s:s, s:N, s:N, s:N, s:N}", "index",
                       (Py_ssize_t)i, "id", in.id, "op", in.op_type, "inputs",
                       tq_py_strings(in.inputs, in.n_inputs), "outputs",
                       tq_py_strings(in.outputs, in.n_outputs), "weights",
                       tq_py_strings(in.weights, in.n_weights), "shapes",
                       value_shapes(p->s, in.outputs, in.n_outputs));
}

static PyObject *initializer_item(const void *data, size_t i) {
  const tq_graph *g = ((const planned *)data)->g;
  const char *name = tq_graph_initializer_name(g, i);
  const tq_tensor *t = tq_graph_initializer(g, name);
  return Py_BuildValue("{s:s, s:N, s:s}", "name", name, "shape",
                       tq_py_shape_tuple(tq_tensor_shape(t)), "dtype",
                       tq_dtype_name(tq_tensor_dtype(t)));
}

static PyObject *graph_info(const tq_graph *g, const tq_session *s) {
  const planned p = {g, s};
  return Py_BuildValue(
      "{s:N, s:N, s:N, s:N}", "inputs",
      tq_py_list(tq_graph_input_count(g), input_item, &p), "outputs",
      tq_py_list(tq_graph_output_count(g), output_item, &p), "nodes",
      tq_py_list(tq_graph_node_count(g), node_item, &p), "initializers",
      tq_py_list(tq_graph_initializer_count(g), initializer_item, &p));
}

/* info(batch=1): nodes, IDs, weights and every value's shape for a batch. */
static PyObject *model_info(tq_py_model *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"batch", NULL};
  Py_ssize_t batch = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|n:info", names, &batch))
    return NULL;
  if (batch < 1) {
    PyErr_SetString(PyExc_ValueError, "batch must be >= 1");
    return NULL;
  }
  tq_context *ctx = tq_py_context();
  const tq_graph *g = ctx ? tq_py_model_acquire(self) : NULL;
  if (!g) return NULL;
  const size_t ni = tq_graph_input_count(g);
  tq_shape *shapes = PyMem_Calloc(ni + 1, sizeof *shapes);
  tq_session *s = NULL;
  tq_status st = shapes ? TQ_OK : TQ_ERR_NO_MEMORY;
  for (size_t i = 0; shapes && i < ni; i++) {
    shapes[i] = *tq_graph_input_shape(g, i);
    for (int d = 0; d < shapes[i].ndim; d++)
      if (shapes[i].dims[d] < 0) shapes[i].dims[d] = d == 0 ? batch : 1;
  }
  /* A session of its own: the model's keeps its plan and maps. */
  Py_BEGIN_ALLOW_THREADS;
  if (st == TQ_OK) st = tq_session_create(ctx, g, &s);
  if (st == TQ_OK) st = tq_session_plan(ctx, s, shapes, ni);
  Py_END_ALLOW_THREADS;
  PyObject *res = st == TQ_OK ? graph_info(g, s) : tq_py_raise(ctx, st);
  if (res && PyDict_SetItemString(res, "path", self->path) != 0) Py_CLEAR(res);
  tq_session_destroy(s);
  PyMem_Free(shapes);
  tq_py_model_release(self);
  return res;
}

/* ---- export ---------------------------------------------------------------
 */

/* Bakes the weights a session quantized into g, saves g to path and puts
 * the float masters back, so the model itself is unchanged. */
static tq_status bake_and_save(tq_context *ctx, tq_graph *g,
                               const tq_session *s, const char *path,
                               size_t *baked) {
  const size_t nw = tq_graph_initializer_count(g);
  const char **names = calloc(nw + 1, sizeof *names);
  tq_tensor **masters = calloc(nw + 1, sizeof *masters);
  size_t n = 0;
  tq_status st = names && masters ? TQ_OK : TQ_ERR_NO_MEMORY;
  for (size_t i = 0; st == TQ_OK && i < tq_graph_node_count(g); i++) {
    tq_node_info info;
    tq_graph_node_info(g, i, &info);
    for (size_t k = 1; st == TQ_OK && k < info.n_inputs; k++) {
      const tq_tensor *q = tq_session_quantized_weight(s, i, k);
      const tq_tensor *w = q ? tq_graph_initializer(g, info.inputs[k]) : NULL;
      if (!w || n == nw) continue;
      st = tq_tensor_from_floats(ctx, tq_tensor_shape(w), tq_tensor_cdata(w),
                                 &masters[n]);
      if (st == TQ_OK) names[n++] = info.inputs[k];
      if (st == TQ_OK) st = tq_graph_set_initializer(ctx, g, info.inputs[k], q);
    }
  }
  if (st == TQ_OK) st = tq_onnx_save(ctx, g, path);
  for (size_t i = 0; i < n; i++) {
    const tq_status back =
        tq_graph_set_initializer(ctx, g, names[i], masters[i]);
    if (st == TQ_OK) st = back;
    tq_tensor_destroy(masters[i]);
  }
  free(names);
  free(masters);
  *baked = n;
  return st;
}

/* _export(path, weights, map, seed) -> number of weight tensors baked */
static PyObject *model_export(tq_py_model *self, PyObject *args) {
  PyObject *path_bytes = NULL, *weights, *sectioned, *seed_obj;
  uint64_t seed;
  if (!PyArg_ParseTuple(args, "O&OOO:_export", PyUnicode_FSConverter,
                        &path_bytes, &weights, &sectioned, &seed_obj) ||
      !tq_py_u64(seed_obj, "seed", &seed)) {
    Py_XDECREF(path_bytes);
    return NULL;
  }
  PyObject *const flat[3] = {Py_None, weights, Py_None};
  tq_qmap_set *set = NULL;
  tq_context *ctx = tq_py_context();
  const tq_graph *g = NULL;
  if (!ctx || !tq_py_map_set(sectioned, flat, &set) ||
      !(g = tq_py_model_acquire(self))) {
    tq_qmap_set_destroy(set);
    Py_DECREF(path_bytes);
    return NULL;
  }
  const char *path = PyBytes_AS_STRING(path_bytes);
  tq_session *s = NULL;
  size_t baked = 0;
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  st = tq_session_create(ctx, g, &s);
  if (st == TQ_OK) tq_session_set_seed(s, seed);
  if (st == TQ_OK) st = tq_session_set_maps(ctx, s, set);
  /* The model owns g; its weights change only for the time of the save. */
  if (st == TQ_OK) st = bake_and_save(ctx, self->g, s, path, &baked);
  Py_END_ALLOW_THREADS;
  tq_session_destroy(s);
  tq_qmap_set_destroy(set);
  Py_DECREF(path_bytes);
  /* Re-derive the session's weights from the restored masters next run. */
  Py_INCREF(Py_None);
  Py_SETREF(self->maps_key, Py_None);
  tq_py_model_release(self);
  return st == TQ_OK ? PyLong_FromSize_t(baked) : tq_py_raise(ctx, st);
}

/* ---- the type -------------------------------------------------------------
 */

static PyObject *model_enter(PyObject *self, PyObject *unused) {
  (void)unused;
  Py_INCREF(self);
  return self;
}

static PyObject *model_exit(tq_py_model *self, PyObject *args) {
  (void)args;
  return model_close(self, NULL);
}

static PyObject *model_get(tq_py_model *self, void *which) {
  if (which) return PyBool_FromLong(self->g == NULL);
  Py_INCREF(self->path);
  return self->path;
}

static PyMethodDef model_methods[] = {
    {"info", (PyCFunction)(void (*)(void))model_info,
     METH_VARARGS | METH_KEYWORDS,
     "info(batch=1) -> dict: inputs, outputs, nodes (index, id, op, inputs, "
     "outputs, weights, output shapes at this batch), initializers"},
    {"_run", (PyCFunction)model_run, METH_VARARGS, NULL},
    {"_export", (PyCFunction)model_export, METH_VARARGS, NULL},
    {"close", (PyCFunction)model_close, METH_NOARGS,
     "close(): frees the model; later calls raise ValueError"},
    {"__enter__", model_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)model_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef model_getset[] = {
    {"path", (getter)model_get, NULL, "the ONNX file", NULL},
    {"closed", (getter)model_get, NULL, "whether close() was called",
     (void *)1},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject tq_py_model_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorquant._tensorquant.Model",
    .tp_basicsize = sizeof(tq_py_model),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path, *, threads=None, fast_conv=False): an ONNX model",
    .tp_new = model_new,
    .tp_dealloc = (destructor)model_dealloc,
    .tp_methods = model_methods,
    .tp_getset = model_getset,
};
