/* Quantizer maps: tq.Map (one map, with the library's matching) and the map
 * sets that models run under. */
#include <string.h>

#include "tq_py.h"

typedef struct map_object {
  PyObject_HEAD tq_qmap *map;
} map_object;

int tq_py_map_kind(const char *name, int analysis_only, tq_map_kind *kind) {
  const int last = analysis_only ? TQ_MAP_INTRINSIC : TQ_MAP_KIND_COUNT - 1;
  for (int k = 0; k <= last; k++)
    if (!strcmp(name, tq_map_kind_name((tq_map_kind)k)) ||
        (k <= TQ_MAP_INTRINSIC &&
         !strcmp(name, tq_analysis_kind_name((tq_map_kind)k)))) {
      *kind = (tq_map_kind)k;
      return 1;
    }
  PyErr_Format(PyExc_ValueError, "unknown kind '%s' (%s)", name,
               analysis_only ? "extr, weights or intr"
                             : "extrinsic, weights, intrinsic, gradients or "
                               "updates");
  return 0;
}

/* A map of kind from a source: inline JSON, a file, or one spec. */
static tq_qmap *load_map(const char *source, tq_map_kind kind) {
  tq_context *ctx = tq_py_context();
  if (!ctx) return NULL;
  tq_qmap *map = NULL;
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  st = tq_qmap_load(ctx, source, kind, &map);
  Py_END_ALLOW_THREADS;
  if (st != TQ_OK) tq_py_raise(ctx, st);
  return map;
}

static PyObject *map_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  static char *names[] = {"source", "kind", NULL};
  const char *source, *kind_name = "extrinsic";
  tq_map_kind kind;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|s:Map", names, &source,
                                   &kind_name) ||
      !tq_py_map_kind(kind_name, 0, &kind))
    return NULL;
  tq_qmap *map = load_map(source, kind);
  if (!map) return NULL;
  map_object *self = (map_object *)type->tp_alloc(type, 0);
  if (!self) {
    tq_qmap_destroy(map);
    return NULL;
  }
  self->map = map;
  return (PyObject *)self;
}

static void map_dealloc(map_object *self) {
  tq_qmap_destroy(self->map);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *spec_or_none(const tq_quantizer *q) {
  if (q) return PyUnicode_FromString(tq_quantizer_spec(q));
  Py_RETURN_NONE;
}

/* An entry's value: {"spec", "product", "sum", "accumulator"} (None where
 * absent). */
static PyObject *value_dict(const tq_qmap_value *v) {
  return Py_BuildValue("{s:N, s:N, s:N, s:N}", "spec",
                       spec_or_none(v->quantizer), "product",
                       spec_or_none(v->product), "sum", spec_or_none(v->sum),
                       "accumulator", spec_or_none(v->accumulator));
}

static PyObject *map_resolve(map_object *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"layer", "weight_names", NULL};
  const char *layer;
  PyObject *weights = NULL, *keep = NULL;
  const char **wn = NULL;
  size_t nw = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O:resolve", names, &layer,
                                   &weights) ||
      !tq_py_str_list(weights, "weight_names", &keep, &wn, &nw)) {
    Py_XDECREF(keep);
    return NULL;
  }
  tq_qmap_match m;
  PyObject *res = NULL;
  if (!tq_qmap_resolve(self->map, layer, wn, nw, &m)) {
    res = Py_None;
    Py_INCREF(res);
  } else {
    res = Py_BuildValue("{s:s, s:n, s:s, s:N}", "key", m.key, "entry",
                        (Py_ssize_t)m.entry, "via", m.via, "value",
                        value_dict(m.value));
  }
  PyMem_Free(wn);
  Py_XDECREF(keep);
  return res;
}

static Py_ssize_t map_len(map_object *self) {
  return (Py_ssize_t)tq_qmap_size(self->map);
}

static PyObject *entry_item(const void *map, size_t i) {
  const char *key;
  const tq_qmap_value *v;
  tq_qmap_entry(map, i, &key, &v);
  return Py_BuildValue("(sN)", key, value_dict(v));
}

static PyObject *map_entries(map_object *self, PyObject *unused) {
  (void)unused;
  return tq_py_list(tq_qmap_size(self->map), entry_item, self->map);
}

static PyObject *map_kind(map_object *self, void *unused) {
  (void)unused;
  return PyUnicode_FromString(tq_map_kind_name(tq_qmap_kind(self->map)));
}

static PyMethodDef map_methods[] = {
    {"resolve", (PyCFunction)(void (*)(void))map_resolve,
     METH_VARARGS | METH_KEYWORDS,
     "resolve(layer, weight_names=()) -> dict or None\n\nThe entry that "
     "applies to a layer: the first whose key is a substring of the layer "
     "ID or of one of its weight names (\"re:\" keys: regular expressions), "
     "as the library matches model layers. None when nothing matches."},
    {"entries", (PyCFunction)map_entries, METH_NOARGS,
     "entries() -> [(key, value), ...] in file order"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef map_getset[] = {{"kind", (getter)map_kind, NULL,
                                    "extrinsic, weights, intrinsic, ...", NULL},
                                   {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods map_sequence = {.sq_length = (lenfunc)map_len};

PyTypeObject tq_py_map_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorquant._tensorquant.Map",
    .tp_basicsize = sizeof(map_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Map(source, kind='extrinsic'): a quantizer map from JSON "
        "text, a JSON file or one spec for every layer.",
    .tp_new = map_new,
    .tp_dealloc = (destructor)map_dealloc,
    .tp_methods = map_methods,
    .tp_getset = map_getset,
    .tp_as_sequence = &map_sequence,
};

/* ---- map sets ----------------------------------------------------------- */

/* The sectioned source into a new set (an empty set when None). */
static tq_status load_sections(tq_context *ctx, const char *text,
                               tq_qmap_set **set) {
  if (!text) return tq_qmap_set_create(ctx, set);
  if (text[0] == '{')
    return tq_qmap_set_parse_json(ctx, text, strlen(text), "<inline map>", set);
  return tq_qmap_set_load(ctx, text, set);
}

int tq_py_map_set(PyObject *sectioned, PyObject *const flat[3],
                  tq_qmap_set **out) {
  static const tq_map_kind kinds[3] = {TQ_MAP_EXTRINSIC, TQ_MAP_WEIGHTS,
                                       TQ_MAP_INTRINSIC};
  static const char *const names[3] = {"extr", "weights", "intr"};
  *out = NULL;
  const char *text = NULL, *sources[3];
  if (!tq_py_str(sectioned, "map", 1, &text)) return 0;
  int any = text != NULL;
  for (int k = 0; k < 3; k++) {
    if (!tq_py_str(flat[k], names[k], 1, &sources[k])) return 0;
    any |= sources[k] != NULL;
  }
  if (!any) return 1;
  tq_context *ctx = tq_py_context();
  if (!ctx) return 0;
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  st = load_sections(ctx, text, out);
  for (int k = 0; st == TQ_OK && k < 3; k++) {
    tq_qmap *map = NULL;
    if (!sources[k]) continue;
    st = tq_qmap_load(ctx, sources[k], kinds[k], &map);
    if (st == TQ_OK) st = tq_qmap_set_put(ctx, *out, map);
  }
  Py_END_ALLOW_THREADS;
  if (st == TQ_OK) return 1;
  tq_qmap_set_destroy(*out);
  *out = NULL;
  tq_py_raise(ctx, st);
  return 0;
}
