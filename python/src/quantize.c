/* tq.quantize, tq.Quantizer, tq.formats: the quantizer core on NumPy
 * arrays, zero-copy for C-contiguous float32, the GIL released while the
 * kernels run. */
#include "tq_py.h"

typedef struct quantizer_object {
  PyObject_HEAD tq_quantizer *q;
} quantizer_object;

tq_status tq_py_quantize_buffer(tq_context *ctx, const tq_quantizer *q,
                                const float *in, float *out, size_t n,
                                const tq_shape *shape,
                                const tq_quant_opts *opts) {
  /* Scaled and block formats take their groups from the array's shape
   * (blocks and axis=channel along the last axis, as tq quantize). */
  tq_quant_site site = TQ_QUANT_SITE_INIT;
  site.rank = shape->ndim;
  site.dims = shape->dims;
  return tq_quantize_tensor(ctx, q, in, out, n, &site, opts);
}

/* ---- specs to quantizers, cached --------------------------------------- */

/* Parsed quantizers by spec string: parsing costs more than quantizing a
 * small array. Bounded; quantizers are immutable, so sharing is safe. */
static PyObject *spec_cache;
enum { SPEC_CACHE_MAX = 512 };

static PyObject *new_quantizer(PyTypeObject *type, const char *spec) {
  tq_context *ctx = tq_py_context();
  if (!ctx) return NULL;
  tq_quantizer *q = NULL;
  const tq_status st = tq_quantizer_parse(ctx, spec, &q);
  if (st != TQ_OK) return tq_py_raise(ctx, st);
  quantizer_object *self = (quantizer_object *)type->tp_alloc(type, 0);
  if (!self) {
    tq_quantizer_destroy(q);
    return NULL;
  }
  self->q = q;
  return (PyObject *)self;
}

/* The Quantizer object for spec (a str or a Quantizer), a new reference:
 * the caller keeps it alive while the kernels run without the GIL, even
 * if another thread empties the cache meanwhile. */
static PyObject *quantizer_for(PyObject *spec) {
  if (PyObject_TypeCheck(spec, &tq_py_quantizer_type)) {
    Py_INCREF(spec);
    return spec;
  }
  if (!PyUnicode_Check(spec)) {
    PyErr_Format(PyExc_TypeError,
                 "spec must be a str or a tensorquant.Quantizer, not %.80s",
                 Py_TYPE(spec)->tp_name);
    return NULL;
  }
  if (!spec_cache && !(spec_cache = PyDict_New())) return NULL;
  PyObject *hit = PyDict_GetItemWithError(spec_cache, spec);
  if (hit) {
    Py_INCREF(hit);
    return hit;
  }
  if (PyErr_Occurred()) return NULL;
  const char *text = PyUnicode_AsUTF8(spec);
  PyObject *made = text ? new_quantizer(&tq_py_quantizer_type, text) : NULL;
  if (!made) return NULL;
  if (PyDict_GET_SIZE(spec_cache) >= SPEC_CACHE_MAX) PyDict_Clear(spec_cache);
  if (PyDict_SetItem(spec_cache, spec, made) != 0) Py_CLEAR(made);
  return made;
}

/* ---- quantizing arrays ------------------------------------------------- */

/* The options of a quantization call, as Python objects (NULL: absent). */
typedef struct call_args {
  PyObject *seed, *stream, *offset, *threads;
} call_args;

static PyObject *quantize_array(const tq_quantizer *q, PyObject *x,
                                PyObject *out, const call_args *a) {
  tq_quant_opts opts = {0};
  if (!tq_py_u64(a->seed, "seed", &opts.seed) ||
      !tq_py_u64(a->stream, "stream", &opts.stream) ||
      !tq_py_u64(a->offset, "offset", &opts.offset) ||
      !tq_py_threads(a->threads, &opts.threads))
    return NULL;
  PyArrayObject *in = tq_py_float_array(x, "x");
  if (!in) return NULL;
  PyArrayObject *dst = NULL;
  if (out && out != Py_None) {
    if (tq_py_check_out(in, out)) dst = (PyArrayObject *)out;
    Py_XINCREF(dst);
  } else {
    dst = (PyArrayObject *)PyArray_SimpleNew(PyArray_NDIM(in), PyArray_DIMS(in),
                                             NPY_FLOAT32);
  }
  tq_context *ctx = dst ? tq_py_context() : NULL;
  if (!ctx) {
    Py_DECREF(in);
    Py_XDECREF(dst);
    return NULL;
  }
  tq_shape shape = {.ndim = 1, .dims = {(int64_t)PyArray_SIZE(in)}};
  if (PyArray_NDIM(in) <= TQ_MAX_DIMS) tq_py_array_shape(in, &shape);
  const float *src = PyArray_DATA(in);
  float *res = PyArray_DATA(dst);
  const size_t n = (size_t)PyArray_SIZE(in);
  tq_status st;
  Py_BEGIN_ALLOW_THREADS;
  st = tq_py_quantize_buffer(ctx, q, src, res, n, &shape, &opts);
  Py_END_ALLOW_THREADS;
  Py_DECREF(in);
  if (st != TQ_OK) {
    Py_DECREF(dst);
    return tq_py_raise(ctx, st);
  }
  return (PyObject *)dst;
}

PyObject *tq_py_quantize(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *names[] = {"x",   "spec",    "seed",   "stream",
                          "out", "threads", "offset", NULL};
  PyObject *x, *spec, *out = NULL;
  call_args a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$OOOOO:quantize", names, &x,
                                   &spec, &a.seed, &a.stream, &out, &a.threads,
                                   &a.offset))
    return NULL;
  PyObject *q = quantizer_for(spec);
  if (!q) return NULL;
  PyObject *res = quantize_array(((quantizer_object *)q)->q, x, out, &a);
  Py_DECREF(q);
  return res;
}

/* ---- tq.Quantizer ------------------------------------------------------ */

static PyObject *quantizer_new(PyTypeObject *type, PyObject *args,
                               PyObject *kw) {
  static char *names[] = {"spec", NULL};
  const char *spec;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s:Quantizer", names, &spec))
    return NULL;
  return new_quantizer(type, spec);
}

static void quantizer_dealloc(quantizer_object *self) {
  tq_quantizer_destroy(self->q);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *quantizer_call(quantizer_object *self, PyObject *args,
                                PyObject *kw) {
  static char *names[] = {"x",       "seed",   "stream", "out",
                          "threads", "offset", NULL};
  PyObject *x, *out = NULL;
  call_args a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOOOO:Quantizer", names, &x,
                                   &a.seed, &a.stream, &out, &a.threads,
                                   &a.offset))
    return NULL;
  return quantize_array(self->q, x, out, &a);
}

static PyObject *quantizer_repr(quantizer_object *self) {
  return PyUnicode_FromFormat("tensorquant.Quantizer('%s')",
                              tq_quantizer_spec(self->q));
}

static PyObject *quantizer_spec(quantizer_object *self, void *unused) {
  (void)unused;
  return PyUnicode_FromString(tq_quantizer_spec(self->q));
}

static PyObject *quantizer_range(quantizer_object *self, void *unused) {
  (void)unused;
  double lo, hi;
  tq_quantizer_range(self->q, &lo, &hi);
  return Py_BuildValue("(dd)", lo, hi);
}

static PyObject *quantizer_bits(quantizer_object *self, void *unused) {
  (void)unused;
  return PyFloat_FromDouble(tq_quantizer_bits(self->q));
}

static const char *const kind_names[TQ_QUANT_KIND_COUNT] = {
    "none",    "fixed", "float", "logarithmic", "sparse", "binary",
    "ternary", "int",   "mx",    "nvfp4",       "bfp",    "ggml"};
static const char *const int_mode_names[TQ_INT_MODE_COUNT] = {"sym", "asym",
                                                              "unsigned"};
static const char *const scale_names[TQ_SCALE_FORMAT_COUNT] = {
    "fp32", "bf16", "fp16", "fp8e4m3", "e8m0", "po2"};
static const char *const scale_round_names[TQ_SCALE_ROUND_COUNT] = {"floor",
                                                                    "ceil"};
static const char *const round_names[TQ_ROUND_COUNT] = {
    "nearest", "even", "half_up", "half_down", "half_zero",
    "down",    "up",   "zero",    "away",      "stochastic"};
static const char *const overflow_names[TQ_OVERFLOW_COUNT] = {"sat", "sat_sym",
                                                              "wrap"};
static const char *const ste_names[TQ_STE_COUNT] = {"identity", "clipped"};

/* names[v], or "other" for a value the table does not name (a kind added
 * to the library later: .spec still says what it is). */
static const char *name_of(const char *const *names, int count, int v) {
  return v >= 0 && v < count && names[v] ? names[v] : "other";
}

/* The parsed parameters as a dict: the fields that apply to the kind. */
static PyObject *quantizer_params(quantizer_object *self, void *unused) {
  (void)unused;
  const tq_quant_params *p = tq_quantizer_params(self->q);
  PyObject *d = Py_BuildValue("{s:s, s:s}", "kind",
                              name_of(kind_names, TQ_QUANT_KIND_COUNT, p->kind),
                              "ste", name_of(ste_names, TQ_STE_COUNT, p->ste));
  if (!d) return NULL;
  PyObject *more = NULL;
  if (p->kind == TQ_QUANT_FIXED)
    more = Py_BuildValue(
        "{s:i, s:i, s:O, s:s, s:s}", "width", p->width, "frac", p->frac,
        "signed", p->is_signed ? Py_True : Py_False, "overflow",
        name_of(overflow_names, TQ_OVERFLOW_COUNT, p->overflow), "round",
        name_of(round_names, TQ_ROUND_COUNT, p->round));
  else if (p->kind == TQ_QUANT_FLOAT)
    more = Py_BuildValue("{s:i, s:i, s:O, s:O, s:O, s:O, s:s}", "exp_bits",
                         p->exp_bits, "man_bits", p->man_bits, "saturate",
                         p->saturate ? Py_True : Py_False, "finite_nan",
                         p->finite_nan ? Py_True : Py_False, "finite_only",
                         p->finite_only ? Py_True : Py_False, "subnormals",
                         p->subnormals ? Py_True : Py_False, "round",
                         name_of(round_names, TQ_ROUND_COUNT, p->round));
  else if (p->kind == TQ_QUANT_SPARSE)
    more = Py_BuildValue("{s:d}", "threshold", p->threshold);
  else if (p->kind == TQ_QUANT_BINARY)
    more = Py_BuildValue("{s:d}", "magnitude", p->magnitude);
  else if (p->kind == TQ_QUANT_TERNARY)
    more = p->has_threshold
               ? Py_BuildValue("{s:d, s:d}", "magnitude", p->magnitude,
                               "threshold", p->threshold)
               : Py_BuildValue("{s:d, s:O}", "magnitude", p->magnitude,
                               "threshold", Py_None);
  /* scaled and block formats: how groups and scales are formed */
  const int grouped = p->kind >= TQ_QUANT_INT || p->scaled;
  if (grouped && d && !more) {
    PyObject *axis =
        p->axis_mode == TQ_AXIS_INDEX
            ? PyLong_FromLong(p->axis)
            : PyUnicode_FromString(p->axis_mode == TQ_AXIS_CHANNEL ? "channel"
                                                                   : "default");
    more = axis ? Py_BuildValue(
                      "{s:i, s:s, s:O, s:N, s:L, s:s, s:s, s:O, s:s}", "width",
                      p->width, "int_mode",
                      name_of(int_mode_names, TQ_INT_MODE_COUNT, p->int_mode),
                      "narrow", p->narrow ? Py_True : Py_False, "axis", axis,
                      "group", (long long)p->group, "scale",
                      name_of(scale_names, TQ_SCALE_FORMAT_COUNT, p->scale),
                      "scale_round",
                      name_of(scale_round_names, TQ_SCALE_ROUND_COUNT,
                              p->scale_round),
                      "static", p->is_static ? Py_True : Py_False, "round",
                      name_of(round_names, TQ_ROUND_COUNT, p->round))
                : NULL;
  } else if (grouped && d && more) {
    PyObject *extra = Py_BuildValue(
        "{s:O, s:L, s:O}", "scaled", p->scaled ? Py_True : Py_False, "group",
        (long long)p->group, "static", p->is_static ? Py_True : Py_False);
    if (!extra || PyDict_Update(more, extra) != 0) Py_CLEAR(more);
    Py_XDECREF(extra);
  }
  if (p->has_seed && d) {
    PyObject *seed = PyLong_FromUnsignedLongLong(p->seed);
    if (!seed || PyDict_SetItemString(d, "seed", seed) != 0) Py_CLEAR(d);
    Py_XDECREF(seed);
  }
  if (more && d && PyDict_Update(d, more) != 0) Py_CLEAR(d);
  if (!more && PyErr_Occurred()) Py_CLEAR(d);
  Py_XDECREF(more);
  return d;
}

static PyObject *quantizer_reduce(quantizer_object *self, PyObject *unused) {
  (void)unused;
  return Py_BuildValue("(O(s))", Py_TYPE(self), tq_quantizer_spec(self->q));
}

static PyGetSetDef quantizer_getset[] = {
    {"spec", (getter)quantizer_spec, NULL,
     "the canonical spec string (parsing it gives the same quantizer)", NULL},
    {"params", (getter)quantizer_params, NULL,
     "the parsed parameters, as a dict", NULL},
    {"range", (getter)quantizer_range, NULL,
     "(lo, hi): the smallest and largest finite outputs (+-inf: unbounded)",
     NULL},
    {"bits", (getter)quantizer_bits, NULL,
     "bits of storage per element (0 where the format has no fixed-size "
     "code)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef quantizer_methods[] = {
    {"__reduce__", (PyCFunction)quantizer_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

PyTypeObject tq_py_quantizer_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tensorquant.Quantizer",
    .tp_basicsize = sizeof(quantizer_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Quantizer(spec): a parsed quantizer (immutable, shareable "
        "between threads).\n\nq(x, *, seed=0, stream=0, out=None, "
        "threads=None) quantizes x as tq.quantize does.",
    .tp_new = quantizer_new,
    .tp_dealloc = (destructor)quantizer_dealloc,
    .tp_call = (ternaryfunc)quantizer_call,
    .tp_repr = (reprfunc)quantizer_repr,
    .tp_getset = quantizer_getset,
    .tp_methods = quantizer_methods,
};

/* ---- the grammar and helpers ------------------------------------------- */

static PyObject *format_item(const void *unused, size_t i) {
  (void)unused;
  const tq_format_info *f = tq_format_get(i);
  return Py_BuildValue("{s:s, s:s, s:s}", "name", f->name, "usage", f->usage,
                       "description", f->description);
}

PyObject *tq_py_formats(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  return tq_py_list(tq_format_count(), format_item, NULL);
}

PyObject *tq_py_stochastic_u(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *seed, *stream, *index;
  uint64_t s, t, i;
  if (!PyArg_ParseTuple(args, "OOO:stochastic_u", &seed, &stream, &index) ||
      !tq_py_u64(seed, "seed", &s) || !tq_py_u64(stream, "stream", &t) ||
      !tq_py_u64(index, "index", &i))
    return NULL;
  return PyFloat_FromDouble((double)tq_stochastic_u(s, t, i));
}

PyObject *tq_py_kernel_isa(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  return PyUnicode_FromString(tq_kernel_isa());
}
