/* Per-layer statistics (stats.h): collection over a dataset, lookups,
 * percentiles and histograms. The JSON and CSV writers are in
 * stats_report.c; docs/stats.md describes the method. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats_internal.h"
#include "core/error.h"
#include "graph/feed_internal.h"
#include "tensorquant/graph.h"

/* ---- fixed-point fractional bits ------------------------------------------*/

int tq_fixed_frac_bits(double max_abs, int width) {
  if (width < 2 || width > 53) return TQ_FRAC_BITS_INVALID;
  /* The largest integer of the signed word; exact in a double for
   * width <= 53, so every comparison below is exact. */
  const double qmax = ldexp(1.0, width - 1) - 1.0;
  double a = fabs(max_abs);
  if (!isfinite(a)) a = FLT_MAX;
  if (a == 0.0) return width - 1;
  /* f = floor(log2(qmax / a)); start from the exponents and correct: a
   * scaled by 2^f stays near qmax, far from overflow and underflow. */
  int f = ilogb(qmax) - ilogb(a);
  while (ldexp(a, f) > qmax) f--;
  while (ldexp(a, f + 1) <= qmax) f++;
  return f;
}

const char *tq_stats_kind_name(tq_stats_kind kind) {
  switch (kind) {
    case TQ_STATS_ACTIVATION: return "activation";
    case TQ_STATS_WEIGHT: return "weight";
    default: return NULL;
  }
}

/* ---- accumulation ---------------------------------------------------------*/

static void acc_free(stats_acc *a) {
  for (int s = 0; s < 2; s++)
    for (int e = 0; e < FINE_EXPS; e++) free(a->fine[s][e]);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s ? s : "", n);
  return d;
}

/* Appends an entry; returns its index, or SIZE_MAX when out of memory. */
static size_t new_entry(tq_stats *st, tq_stats_kind kind, size_t node,
                        size_t slot, const char *layer, const char *value,
                        const char *op, int quantized, const tq_shape *shape) {
  if (st->n == st->cap) {
    size_t cap = st->cap ? 2 * st->cap : 32;
    stats_entry *e = realloc(st->e, cap * sizeof *e);
    if (!e) return SIZE_MAX;
    st->e = e;
    st->cap = cap;
  }
  stats_entry *se = &st->e[st->n];
  memset(se, 0, sizeof *se);
  se->layer = dup_str(layer);
  se->value = dup_str(value);
  se->op = dup_str(op);
  if (!se->layer || !se->value || !se->op) {
    free(se->layer);
    free(se->value);
    free(se->op);
    return SIZE_MAX;
  }
  se->acc.min = INFINITY;
  se->acc.max = -INFINITY;
  tq_stats_entry *e = &se->pub;
  e->layer = se->layer;
  e->value = se->value;
  e->op = se->op;
  e->kind = kind;
  e->node = node;
  e->slot = slot;
  e->quantized = quantized;
  e->shape = *shape;
  return st->n++;
}

/* Counts n values into a: the exact integer counters and fine bins, min
 * and max; returns their sum in double, in index order, and how many were
 * finite. Returns -1 when a bin block cannot be allocated. */
static int tally(stats_acc *a, const float *x, size_t n, double *sum_out,
                 uint64_t *finite_out) {
  double sum = 0.0;
  uint64_t nf = 0, zeros = 0, nan = 0, pinf = 0, ninf = 0;
  float mn = a->min, mx = a->max;
  for (size_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &x[i], sizeof b);
    const uint32_t ex = (b >> 23) & 0xffu, sign = b >> 31;
    if (ex == 0xffu) {
      if (b & 0x7fffffu)
        nan++;
      else if (sign)
        ninf++;
      else
        pinf++;
      continue;
    }
    const float v = x[i];
    nf++;
    sum += v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    const uint32_t mag = b & 0x7fffffffu;
    if (!mag) {
      zeros++;
      continue;
    }
    uint64_t *blk = a->fine[sign][ex];
    if (!blk) {
      if (!(blk = calloc(FINE_PER_EXP, sizeof *blk))) return -1;
      a->fine[sign][ex] = blk;
    }
    blk[(mag >> FINE_SHIFT) & (FINE_PER_EXP - 1)]++;
    if (!ex) a->sub_log2[31 - __builtin_clz(mag)]++;
  }
  a->count += n;
  a->finite += nf;
  a->zeros += zeros;
  a->nan += nan;
  a->pos_inf += pinf;
  a->neg_inf += ninf;
  a->min = mn;
  a->max = mx;
  *sum_out = sum;
  *finite_out = nf;
  return 0;
}

/* The moments of one unit of values (a sample of an activation, or a
 * whole weight tensor): count, mean, and the squared deviations from that
 * mean summed in index order. */
typedef struct unit_moments {
  double n, mean, m2;
} unit_moments;

static void unit_finish(const float *x, size_t n, double sum, uint64_t nf,
                        unit_moments *u) {
  u->n = (double)nf;
  u->mean = nf ? sum / (double)nf : 0.0;
  u->m2 = 0.0;
  if (!nf) return;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      const double d = (double)x[i] - u->mean;
      u->m2 += d * d;
    }
}

/* Merges a unit into the running moments (units in a fixed order). */
static void merge_moments(stats_acc *a, const unit_moments *u) {
  if (u->n == 0.0) return;
  if (a->n == 0.0) {
    a->n = u->n;
    a->mean = u->mean;
    a->m2 = u->m2;
    return;
  }
  const double nt = a->n + u->n, d = u->mean - a->mean;
  a->mean += d * u->n / nt;
  a->m2 += u->m2 + d * d * a->n * u->n / nt;
  a->n = nt;
}

/* Adds src's counts and bins to dst and empties src (its blocks stay
 * allocated for reuse). Integer sums: the order does not matter. */
static int merge_tally(stats_acc *dst, stats_acc *src) {
  for (int s = 0; s < 2; s++)
    for (int e = 0; e < FINE_EXPS; e++) {
      uint64_t *from = src->fine[s][e];
      if (!from) continue;
      uint64_t *to = dst->fine[s][e];
      if (!to) {
        if (!(to = calloc(FINE_PER_EXP, sizeof *to))) return -1;
        dst->fine[s][e] = to;
      }
      for (uint32_t m = 0; m < FINE_PER_EXP; m++) to[m] += from[m];
      memset(from, 0, FINE_PER_EXP * sizeof *from);
    }
  for (int k = 0; k < 23; k++) {
    dst->sub_log2[k] += src->sub_log2[k];
    src->sub_log2[k] = 0;
  }
  dst->count += src->count;
  dst->finite += src->finite;
  dst->zeros += src->zeros;
  dst->nan += src->nan;
  dst->pos_inf += src->pos_inf;
  dst->neg_inf += src->neg_inf;
  if (src->min < dst->min) dst->min = src->min;
  if (src->max > dst->max) dst->max = src->max;
  src->count = src->finite = src->zeros = 0;
  src->nan = src->pos_inf = src->neg_inf = 0;
  src->min = INFINITY;
  src->max = -INFINITY;
  return 0;
}

/* Adds one unit on the calling thread. */
static int acc_unit(stats_entry *se, const float *x, size_t n) {
  double sum;
  uint64_t nf;
  unit_moments u;
  if (tally(&se->acc, x, n, &sum, &nf)) return -1;
  unit_finish(x, n, sum, nf, &u);
  merge_moments(&se->acc, &u);
  return 0;
}

static void finalize(stats_entry *se) {
  tq_stats_entry *e = &se->pub;
  const stats_acc *a = &se->acc;
  e->count = a->count;
  e->finite = a->finite;
  e->zeros = a->zeros;
  e->nan = a->nan;
  e->pos_inf = a->pos_inf;
  e->neg_inf = a->neg_inf;
  if (!e->finite) {
    e->min = e->max = e->mean = e->std = NAN;
    e->max_abs = 0.0;
    return;
  }
  /* -0 and +0 compare equal; report a zero extreme as +0. */
  e->min = a->min == 0.0f ? 0.0 : (double)a->min;
  e->max = a->max == 0.0f ? 0.0 : (double)a->max;
  e->mean = a->mean;
  e->std = sqrt(a->m2 / a->n);
  e->max_abs = fmax(fabs(e->min), fabs(e->max));
}

/* ---- collection -----------------------------------------------------------*/

/* Tensors smaller than this are counted on the calling thread. */
#define PARALLEL_MIN_VALUES ((size_t)1 << 16)

typedef struct collector {
  tq_stats *st;
  const tq_session *s;
  size_t *slot_entry; /* per node output: entry index + 1; 0: none yet */
  size_t *out_base;   /* per node: its first position in slot_entry */
  size_t batch;       /* samples in the current run */
  int threads;        /* the context's thread count */
  stats_acc *scratch; /* per thread: partial tallies, emptied after use */
  int n_scratch;
  unit_moments *moments; /* per sample of the current tensor */
  size_t n_moments;
  int oom;
} collector;

/* Room for `threads` partial tallies and `units` sample moments. */
static int grow_scratch(collector *c, int threads, size_t units) {
  if (threads > c->n_scratch) {
    stats_acc *p = realloc(c->scratch, (size_t)threads * sizeof *p);
    if (!p) return -1;
    for (int i = c->n_scratch; i < threads; i++) {
      memset(&p[i], 0, sizeof p[i]);
      p[i].min = INFINITY;
      p[i].max = -INFINITY;
    }
    c->scratch = p;
    c->n_scratch = threads;
  }
  if (units > c->n_moments) {
    unit_moments *m = realloc(c->moments, units * sizeof *m);
    if (!m) return -1;
    c->moments = m;
    c->n_moments = units;
  }
  return 0;
}

static int observe(void *user, size_t node, const char *node_id, size_t k,
                   const char *value_name, const tq_tensor *t) {
  collector *c = user;
  if (tq_tensor_dtype(t) != TQ_DTYPE_FLOAT32) return 0;
  const tq_shape *shape = tq_tensor_shape(t);
  const size_t numel = tq_tensor_numel(t);
  /* Units of one sample each when dim 0 is the batch, so the moments do
   * not depend on how samples are batched. */
  const int per_sample =
      shape->ndim >= 1 && c->batch > 0 && shape->dims[0] == (int64_t)c->batch;
  size_t *slot = &c->slot_entry[c->out_base[node] + k];
  if (!*slot) {
    tq_shape sample = *shape;
    if (per_sample) {
      sample.ndim--;
      for (int d = 0; d < sample.ndim; d++) sample.dims[d] = shape->dims[d + 1];
    }
    tq_qmap_match m;
    const int q = tq_session_node_match(c->s, node, TQ_MAP_EXTRINSIC, &m) &&
                  m.value && m.value->quantizer;
    tq_node_info info;
    const char *op =
        tq_graph_node_info(tq_session_graph(c->s), node, &info) == TQ_OK
            ? info.op_type
            : "";
    const size_t i = new_entry(c->st, TQ_STATS_ACTIVATION, node, k, node_id,
                               value_name, op, q, &sample);
    if (i == SIZE_MAX) {
      c->oom = 1;
      return 1;
    }
    *slot = i + 1;
  }
  stats_entry *se = &c->st->e[*slot - 1];
  const float *x = tq_tensor_cdata(t);
  const size_t units = per_sample ? c->batch : 1, per = numel / units;
  int threads = c->threads;
  if ((size_t)threads > units) threads = (int)units;
  if (numel < PARALLEL_MIN_VALUES) threads = 1;
  if (threads <= 1) {
    for (size_t u = 0; u < units; u++)
      if (acc_unit(se, x + u * per, per)) {
        c->oom = 1;
        return 1;
      }
    return 0;
  }
  if (grow_scratch(c, threads, units)) {
    c->oom = 1;
    return 1;
  }
  /* Threads count whole samples into their own partial tallies; the
   * per-sample moments go to an array and are merged in sample order
   * below, so the figures do not depend on the split. */
  int oom = 0;
#pragma omp parallel for num_threads(threads) schedule(static) \
    reduction(|                                                \
              : oom)
  for (int tid = 0; tid < threads; tid++) {
    const size_t u0 = units * (size_t)tid / (size_t)threads,
                 u1 = units * (size_t)(tid + 1) / (size_t)threads;
    for (size_t u = u0; u < u1 && !oom; u++) {
      double sum;
      uint64_t nf;
      const float *xu = x + u * per;
      if (tally(&c->scratch[tid], xu, per, &sum, &nf))
        oom = 1;
      else
        unit_finish(xu, per, sum, nf, &c->moments[u]);
    }
  }
  for (int tid = 0; tid < threads && !oom; tid++)
    oom = merge_tally(&se->acc, &c->scratch[tid]);
  for (size_t u = 0; u < units && !oom; u++)
    merge_moments(&se->acc, &c->moments[u]);
  if (oom) {
    c->oom = 1;
    return 1;
  }
  return 0;
}

static int is_weight_input(const tq_node_info *info, size_t k) {
  for (size_t j = 0; j < info->n_weights; j++)
    if (!strcmp(info->weights[j], info->inputs[k])) return 1;
  return 0;
}

static tq_status collect_weights(tq_context *ctx, const tq_session *s,
                                 tq_stats *st) {
  const tq_graph *g = tq_session_graph(s);
  for (size_t i = 0; i < tq_graph_node_count(g); i++) {
    tq_node_info info;
    if (tq_graph_node_info(g, i, &info) != TQ_OK || !info.n_weights) continue;
    for (size_t k = 1; k < info.n_inputs; k++) {
      if (!is_weight_input(&info, k)) continue;
      const tq_tensor *q = tq_session_quantized_weight(s, i, k);
      const tq_tensor *w = q ? q : tq_graph_initializer(g, info.inputs[k]);
      if (!w || tq_tensor_dtype(w) != TQ_DTYPE_FLOAT32) continue;
      const size_t e =
          new_entry(st, TQ_STATS_WEIGHT, i, k, info.id, info.inputs[k],
                    info.op_type, q != NULL, tq_tensor_shape(w));
      if (e == SIZE_MAX ||
          acc_unit(&st->e[e], tq_tensor_cdata(w), tq_tensor_numel(w)))
        return tq_error_nomem(ctx);
    }
  }
  return TQ_OK;
}

/* Scores [batch, K] must cover the dataset's classes (as tq_evaluate):
 * otherwise the data is not what the model was made for. */
static tq_status check_output(tq_context *ctx, const tq_graph *g,
                              const tq_dataset *ds, const tq_tensor *out,
                              size_t b) {
  const tq_shape *os = tq_tensor_shape(out);
  if (os->ndim != 2 || os->dims[0] != (int64_t)b ||
      os->dims[1] >= tq_dataset_classes(ds))
    return TQ_OK;
  char buf[128];
  tq_shape_format(os, buf, sizeof buf);
  return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                  "the model's output '%s' has shape %s: %lld classes, but "
                  "the dataset '%s' has labels up to %d",
                  tq_graph_output_name(g, 0), buf, (long long)os->dims[1],
                  tq_dataset_name(ds), tq_dataset_classes(ds) - 1);
}

static tq_status collect_activations(tq_context *ctx, tq_session *s,
                                     const tq_dataset *ds, const size_t *idx,
                                     size_t n, size_t batch,
                                     const tq_stats_opts *o, tq_stats *st) {
  const tq_graph *g = tq_session_graph(s);
  /* The dataset's samples must fit the model's inputs. */
  tq_feed feed;
  tq_status st_ = tq_feed_init(ctx, &feed, ds, g);
  tq_tensor **xs = calloc(feed.n ? feed.n : 1, sizeof *xs);
  if (st_ == TQ_OK && !xs) st_ = tq_error_nomem(ctx);
  if (st_ != TQ_OK) {
    tq_feed_free(&feed);
    free(xs);
    return st_;
  }
  const size_t nn = tq_graph_node_count(g);
  collector c = {.st = st, .s = s, .threads = tq_context_threads(ctx)};
  c.out_base = malloc((nn + 1) * sizeof *c.out_base);
  size_t slots = 0;
  for (size_t i = 0; c.out_base && i < nn; i++) {
    tq_node_info info;
    c.out_base[i] = slots;
    if (tq_graph_node_info(g, i, &info) == TQ_OK) slots += info.n_outputs;
  }
  c.slot_entry = calloc(slots ? slots : 1, sizeof *c.slot_entry);
  const size_t bmax = batch < n ? batch : n;
  if (!c.out_base || !c.slot_entry) st_ = tq_error_nomem(ctx);
  tq_session_set_observer(s, observe, &c);
  size_t done = 0;
  while (st_ == TQ_OK && done < n) {
    const size_t b = n - done < bmax ? n - done : bmax;
    if ((st_ = tq_feed_gather(ctx, &feed, idx, done, b, xs, NULL))) break;
    c.batch = b;
    tq_tensor *out = NULL;
    tq_run_opts ro = {.sample_offset = done};
    /* The first batch also checks the output against the labels. */
    st_ = tq_session_run(ctx, s, (const tq_tensor *const *)xs, feed.n, &out,
                         done == 0, &ro);
    if (c.oom) {
      st_ = tq_error_nomem(ctx);
    } else if (st_ == TQ_OK && out) {
      st_ = check_output(ctx, g, ds, out, b);
    }
    tq_tensor_destroy(out);
    if (st_ != TQ_OK) break;
    done += b;
    st->samples = done;
    if (o->progress && o->progress(o->user, done, n))
      st_ = tq_error(ctx, TQ_ERR_INTERRUPTED, NULL, 0, 0,
                     "statistics stopped after %zu of %zu samples", done, n);
  }
  tq_session_set_observer(s, NULL, NULL);
  for (size_t k = 0; k < feed.n; k++) tq_tensor_destroy(xs[k]);
  free(xs);
  tq_feed_free(&feed);
  free(c.out_base);
  free(c.slot_entry);
  for (int i = 0; i < c.n_scratch; i++) acc_free(&c.scratch[i]);
  free(c.scratch);
  free(c.moments);
  return st_;
}

static int entry_order(const void *pa, const void *pb) {
  const tq_stats_entry *a = &((const stats_entry *)pa)->pub,
                       *b = &((const stats_entry *)pb)->pub;
  if (a->node != b->node) return a->node < b->node ? -1 : 1;
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  if (a->slot != b->slot) return a->slot < b->slot ? -1 : 1;
  return 0;
}

tq_status tq_stats_collect(tq_context *ctx, tq_session *s, const tq_dataset *ds,
                           const size_t *idx, size_t n, int batch,
                           const tq_stats_opts *opts, tq_stats **out) {
  if (out) *out = NULL;
  const tq_stats_opts defaults = {0};
  const tq_stats_opts *o = opts ? opts : &defaults;
  if (!s || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_stats_collect: NULL session or out");
  if (o->n_widths > TQ_STATS_MAX_WIDTHS)
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                    "tq_stats_collect: %zu word widths (at most %d)",
                    o->n_widths, TQ_STATS_MAX_WIDTHS);
  for (size_t i = 0; i < o->n_widths; i++)
    if (o->widths[i] < 2 || o->widths[i] > 53)
      return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                      "word width %d is out of range: signed fixed-point "
                      "words of 2 to 53 bits",
                      o->widths[i]);
  if (!o->skip_activations) {
    if (!ds || batch < 1)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "tq_stats_collect: NULL dataset or batch < 1");
    if (n == 0)
      return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                      "no samples to collect statistics over (n = 0)");
    if (!idx && n > tq_dataset_size(ds))
      return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                      "asked for %zu samples; the dataset '%s' has %zu", n,
                      tq_dataset_name(ds), tq_dataset_size(ds));
  }
  tq_stats *st = calloc(1, sizeof *st);
  if (!st) return tq_error_nomem(ctx);
  static const int default_widths[] = {4, 8, 16};
  if (o->n_widths) {
    memcpy(st->widths, o->widths, o->n_widths * sizeof *st->widths);
    st->n_widths = o->n_widths;
  } else {
    memcpy(st->widths, default_widths, sizeof default_widths);
    st->n_widths = 3;
  }
  st->bins = o->bins ? o->bins : 64;
  tq_status status = TQ_OK;
  if (!o->skip_weights) status = collect_weights(ctx, s, st);
  if (status == TQ_OK && !o->skip_activations)
    status = collect_activations(ctx, s, ds, idx, n, (size_t)batch, o, st);
  if (status != TQ_OK) {
    tq_stats_destroy(st);
    return status;
  }
  if (st->n) qsort(st->e, st->n, sizeof *st->e, entry_order);
  for (size_t i = 0; i < st->n; i++) {
    st->e[i].pub.index = i;
    finalize(&st->e[i]);
  }
  *out = st;
  return TQ_OK;
}

void tq_stats_destroy(tq_stats *st) {
  if (!st) return;
  for (size_t i = 0; i < st->n; i++) {
    acc_free(&st->e[i].acc);
    free(st->e[i].layer);
    free(st->e[i].value);
    free(st->e[i].op);
  }
  free(st->e);
  free(st);
}

/* ---- lookups --------------------------------------------------------------*/

size_t tq_stats_samples(const tq_stats *st) {
  return st ? st->samples : 0;
}

size_t tq_stats_count(const tq_stats *st) {
  return st ? st->n : 0;
}

const tq_stats_entry *tq_stats_get(const tq_stats *st, size_t i) {
  return st && i < st->n ? &st->e[i].pub : NULL;
}

const tq_stats_entry *tq_stats_find(const tq_stats *st, const char *layer_id,
                                    tq_stats_kind kind) {
  for (size_t i = 0; st && layer_id && i < st->n; i++)
    if (st->e[i].pub.kind == kind && !strcmp(st->e[i].layer, layer_id))
      return &st->e[i].pub;
  return NULL;
}

const tq_stats_entry *tq_stats_find_value(const tq_stats *st, const char *value,
                                          tq_stats_kind kind) {
  for (size_t i = 0; st && value && i < st->n; i++)
    if (st->e[i].pub.kind == kind && !strcmp(st->e[i].value, value))
      return &st->e[i].pub;
  return NULL;
}

tq_status tq_stats_layer_max_abs(tq_context *ctx, const tq_stats *st,
                                 const char *layer_id, tq_stats_kind kind,
                                 double *max_abs) {
  if (!st || !layer_id || !max_abs)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_stats_layer_max_abs: NULL argument");
  int found = 0;
  double m = 0.0;
  for (size_t i = 0; i < st->n; i++) {
    const tq_stats_entry *e = &st->e[i].pub;
    if (e->kind != kind || strcmp(e->layer, layer_id)) continue;
    found = 1;
    m = fmax(m, e->max_abs);
  }
  if (!found)
    return tq_error(ctx, TQ_ERR_NOT_FOUND, layer_id, 0, 0,
                    "no %s statistics for layer '%s'",
                    kind == TQ_STATS_WEIGHT ? "weight" : "activation",
                    layer_id);
  *max_abs = m;
  return TQ_OK;
}

const int *tq_stats_widths(const tq_stats *st, size_t *n) {
  if (n) *n = st ? st->n_widths : 0;
  return st ? st->widths : NULL;
}

const char *const *tq_stats_percentile_names(void) {
  static const char *const names[TQ_STATS_N_PERCENTILES] = {
      "0.1", "1", "5", "25", "50", "75", "95", "99", "99.9"};
  return names;
}

const char *const *tq_stats_abs_percentile_names(void) {
  static const char *const names[TQ_STATS_N_ABS_PERCENTILES] = {"99", "99.9",
                                                                "99.99"};
  return names;
}

/* ---- percentiles and histograms -------------------------------------------*/

/* The value a fine bin stands for: its members truncated toward zero to
 * FINE_BITS stored mantissa bits. */
static double bin_value(uint32_t sign, uint32_t ex, uint32_t m) {
  const uint32_t b = (sign << 31) | (ex << 23) | (m << FINE_SHIFT);
  float v;
  memcpy(&v, &b, sizeof v);
  return v;
}

static double clampd(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Nearest rank of percentile p among n values: ceil(p/100 * n), at least
 * 1, with p taken to 6 decimals so that the rank is exact integer
 * arithmetic (p = 99.9 of 1000 values is rank 999, not 1000). */
static uint64_t nearest_rank(double p, uint64_t n) {
  const uint64_t P = (uint64_t)llround(p * 1e6), D = 100000000u;
  const uint64_t q = n / D, r = n % D;
  uint64_t k = P * q + (P * r + D - 1) / D;
  return k ? k : 1;
}

static int entry_ok(const tq_stats *st, size_t i, double p) {
  return st && i < st->n && p >= 0.0 && p <= 100.0 && st->e[i].pub.finite;
}

double tq_stats_percentile(const tq_stats *st, size_t i, double p) {
  if (!entry_ok(st, i, p)) return NAN;
  const stats_entry *se = &st->e[i];
  const tq_stats_entry *e = &se->pub;
  const uint64_t k = nearest_rank(p, e->finite);
  uint64_t c = 0;
  /* Ascending value order: negatives from the largest magnitude down,
   * zeros, then positives from the smallest magnitude up. */
  for (int ex = FINE_EXPS - 1; ex >= 0; ex--) {
    const uint64_t *blk = se->acc.fine[1][ex];
    for (int m = (int)FINE_PER_EXP - 1; blk && m >= 0; m--)
      if ((c += blk[m]) >= k)
        return clampd(bin_value(1, (uint32_t)ex, (uint32_t)m), e->min, e->max);
  }
  if ((c += e->zeros) >= k) return 0.0;
  for (int ex = 0; ex < FINE_EXPS; ex++) {
    const uint64_t *blk = se->acc.fine[0][ex];
    for (uint32_t m = 0; blk && m < FINE_PER_EXP; m++)
      if ((c += blk[m]) >= k)
        return clampd(bin_value(0, (uint32_t)ex, m), e->min, e->max);
  }
  return e->max;
}

double tq_stats_abs_percentile(const tq_stats *st, size_t i, double p) {
  if (!entry_ok(st, i, p)) return NAN;
  const stats_entry *se = &st->e[i];
  const tq_stats_entry *e = &se->pub;
  const uint64_t k = nearest_rank(p, e->finite);
  uint64_t c = e->zeros;
  if (c >= k) return 0.0;
  for (int ex = 0; ex < FINE_EXPS; ex++) {
    const uint64_t *neg = se->acc.fine[1][ex], *pos = se->acc.fine[0][ex];
    if (!neg && !pos) continue;
    for (uint32_t m = 0; m < FINE_PER_EXP; m++) {
      c += (neg ? neg[m] : 0) + (pos ? pos[m] : 0);
      if (c >= k) return clampd(bin_value(0, (uint32_t)ex, m), 0.0, e->max_abs);
    }
  }
  return e->max_abs;
}

/* Adds cnt values at v to the bin of [edges[k], edges[k+1]) holding it
 * (the last bin also holds edges[bins]). */
static void hist_add(const double *edges, uint64_t *counts, size_t bins,
                     double v, uint64_t cnt) {
  if (!cnt) return;
  const double t =
      floor((v - edges[0]) / (edges[bins] - edges[0]) * (double)bins);
  size_t k = t < 0.0 ? 0 : t >= (double)bins ? bins - 1 : (size_t)t;
  /* the quotient may round across an edge: agree with the edges reported */
  while (k > 0 && v < edges[k]) k--;
  while (k + 1 < bins && v >= edges[k + 1]) k++;
  counts[k] += cnt;
}

tq_status tq_stats_histogram(tq_context *ctx, const tq_stats *st, size_t i,
                             size_t bins, double *edges, uint64_t *counts) {
  if (!st || i >= st->n || !bins || !edges || !counts)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_stats_histogram: bad entry, no bins or NULL arrays");
  const stats_entry *se = &st->e[i];
  const tq_stats_entry *e = &se->pub;
  if (!e->finite)
    return tq_error(ctx, TQ_ERR_RANGE, e->layer, 0, 0,
                    "'%s' has no finite values to make a histogram of",
                    e->value);
  const double lo = e->min, hi = e->max, w = hi - lo;
  memset(counts, 0, bins * sizeof *counts);
  for (size_t b = 0; b <= bins; b++)
    edges[b] = b == bins ? hi : lo + w * (double)b / (double)bins;
  if (!(w > 0.0)) { /* one value: everything in the first bin */
    counts[0] = e->finite;
    return TQ_OK;
  }
  hist_add(edges, counts, bins, 0.0, e->zeros);
  for (uint32_t s = 0; s < 2; s++)
    for (uint32_t ex = 0; ex < FINE_EXPS; ex++) {
      const uint64_t *blk = se->acc.fine[s][ex];
      for (uint32_t m = 0; blk && m < FINE_PER_EXP; m++)
        hist_add(edges, counts, bins, clampd(bin_value(s, ex, m), lo, hi),
                 blk[m]);
    }
  return TQ_OK;
}

int tq_stats_log2_histogram(const tq_stats *st, size_t i,
                            uint64_t counts[TQ_STATS_LOG2_BINS]) {
  if (!st || i >= st->n || !counts) return -1;
  const stats_acc *a = &st->e[i].acc;
  memset(counts, 0, TQ_STATS_LOG2_BINS * sizeof *counts);
  for (int k = 0; k < 23; k++) counts[k] = a->sub_log2[k];
  for (int ex = 1; ex < FINE_EXPS; ex++)
    for (int s = 0; s < 2; s++) {
      const uint64_t *blk = a->fine[s][ex];
      if (!blk) continue;
      uint64_t c = 0;
      for (uint32_t m = 0; m < FINE_PER_EXP; m++) c += blk[m];
      counts[ex - 127 - TQ_STATS_LOG2_MIN] += c;
    }
  return 0;
}
