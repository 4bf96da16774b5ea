/* Per-layer statistics as text: the "stats" part of a tq-report/1 document
 * (JSON), CSV, and atomic report files (stats.h, docs/stats.md). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/csv.h"
#include "analysis/stats_internal.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "tensorquant/version.h"

/* The percentile values every report lists, as numbers. */
static const double pct_values[TQ_STATS_N_PERCENTILES] = {0.1, 1,  5,  25,  50,
                                                          75,  95, 99, 99.9};
static const double abs_pct_values[TQ_STATS_N_ABS_PERCENTILES] = {99, 99.9,
                                                                  99.99};

/* ---- JSON -----------------------------------------------------------------*/

/* JSON has no inf or NaN: those become null. */
static json_t *num(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

static json_t *uint(uint64_t v) {
  return json_integer((json_int_t)v);
}

/* Sets obj[key] = v; returns 0 when anything is missing (out of memory). */
static int put(json_t *obj, const char *key, json_t *v) {
  return v && json_object_set_new(obj, key, v) == 0;
}

static int push(json_t *arr, json_t *v) {
  return v && json_array_append_new(arr, v) == 0;
}

static json_t *shape_json(const tq_shape *s) {
  json_t *a = json_array();
  for (int d = 0; a && d < s->ndim; d++)
    if (!push(a, json_integer((json_int_t)s->dims[d]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static json_t *linear_histogram_json(const tq_stats *st, size_t i) {
  const size_t bins = st->bins;
  double *edges = malloc((bins + 1) * sizeof *edges);
  uint64_t *counts = malloc(bins * sizeof *counts);
  json_t *h = json_object(), *je = json_array(), *jc = json_array();
  int ok = edges && counts && h && je && jc &&
           tq_stats_histogram(NULL, st, i, bins, edges, counts) == TQ_OK;
  for (size_t b = 0; ok && b <= bins; b++) ok = push(je, num(edges[b]));
  for (size_t b = 0; ok && b < bins; b++) ok = push(jc, uint(counts[b]));
  free(edges);
  free(counts);
  ok = ok && put(h, "edges", json_incref(je)) &&
       put(h, "counts", json_incref(jc));
  json_decref(je);
  json_decref(jc);
  if (!ok) {
    json_decref(h);
    return NULL;
  }
  return h;
}

/* Exponents from the smallest to the largest one in use, gaps included
 * (zero counts), so that the list plots as an axis. */
static json_t *log2_histogram_json(const tq_stats *st, size_t i) {
  uint64_t counts[TQ_STATS_LOG2_BINS];
  tq_stats_log2_histogram(st, i, counts);
  int lo = TQ_STATS_LOG2_BINS, hi = -1;
  for (int k = 0; k < TQ_STATS_LOG2_BINS; k++)
    if (counts[k]) {
      if (k < lo) lo = k;
      hi = k;
    }
  json_t *h = json_object(), *je = json_array(), *jc = json_array();
  int ok = h && je && jc;
  for (int k = lo; ok && k <= hi; k++)
    ok = push(je, json_integer(k + TQ_STATS_LOG2_MIN)) &&
         push(jc, uint(counts[k]));
  ok = ok && put(h, "exponents", json_incref(je)) &&
       put(h, "counts", json_incref(jc)) &&
       put(h, "zeros", uint(st->e[i].pub.zeros));
  json_decref(je);
  json_decref(jc);
  if (!ok) {
    json_decref(h);
    return NULL;
  }
  return h;
}

static json_t *entry_json(const tq_stats *st, size_t i) {
  const tq_stats_entry *e = &st->e[i].pub;
  json_t *o = json_object(), *p = json_object(), *ap = json_object(),
         *fb = json_object();
  int ok = o && p && ap && fb;
  ok = ok && put(o, "layer", json_string(e->layer)) &&
       put(o, "value", json_string(e->value)) &&
       put(o, "op", json_string(e->op)) &&
       put(o, "kind", json_string(tq_stats_kind_name(e->kind))) &&
       put(o, "quantized", json_boolean(e->quantized)) &&
       put(o, "shape", shape_json(&e->shape)) &&
       put(o, "count", uint(e->count)) && put(o, "finite", uint(e->finite)) &&
       put(o, "nan", uint(e->nan)) && put(o, "pos_inf", uint(e->pos_inf)) &&
       put(o, "neg_inf", uint(e->neg_inf)) &&
       put(o, "zeros",
           num(e->count ? (double)e->zeros / (double)e->count : 0.0)) &&
       put(o, "zeros_count", uint(e->zeros)) && put(o, "min", num(e->min)) &&
       put(o, "max", num(e->max)) && put(o, "mean", num(e->mean)) &&
       put(o, "std", num(e->std)) && put(o, "max_abs", num(e->max_abs));
  const char *const *pn = tq_stats_percentile_names();
  for (int k = 0; ok && k < TQ_STATS_N_PERCENTILES; k++)
    ok = put(p, pn[k], num(tq_stats_percentile(st, i, pct_values[k])));
  const char *const *an = tq_stats_abs_percentile_names();
  for (int k = 0; ok && k < TQ_STATS_N_ABS_PERCENTILES; k++)
    ok = put(ap, an[k], num(tq_stats_abs_percentile(st, i, abs_pct_values[k])));
  for (size_t k = 0; ok && k < st->n_widths; k++) {
    char key[16];
    snprintf(key, sizeof key, "%d", st->widths[k]);
    ok = put(fb, key,
             json_integer(tq_fixed_frac_bits(e->max_abs, st->widths[k])));
  }
  ok = ok && put(o, "percentiles", json_incref(p)) &&
       put(o, "abs_percentiles", json_incref(ap)) &&
       put(o, "frac_bits", json_incref(fb));
  /* no finite values: no histogram (the renderer needs numbers) */
  if (ok && e->finite) ok = put(o, "histogram", linear_histogram_json(st, i));
  ok = ok && put(o, "log2_histogram", log2_histogram_json(st, i));
  json_decref(p);
  json_decref(ap);
  json_decref(fb);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *tq_stats_json_object(const tq_stats *st) {
  json_t *o = json_object(), *layers = json_array(), *widths = json_array();
  int ok = o && layers && widths;
  for (size_t k = 0; ok && k < st->n_widths; k++)
    ok = push(widths, json_integer(st->widths[k]));
  for (size_t i = 0; ok && i < st->n; i++) ok = push(layers, entry_json(st, i));
  ok = ok && put(o, "widths", json_incref(widths)) &&
       put(o, "bins", uint(st->bins)) && put(o, "layers", json_incref(layers));
  json_decref(layers);
  json_decref(widths);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

tq_status tq_stats_to_json(tq_context *ctx, const tq_stats *st,
                           const tq_stats_json_opts *opts, char **out) {
  if (!st || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_stats_to_json: NULL argument");
  *out = NULL;
  const tq_stats_json_opts none = {0};
  const tq_stats_json_opts *o = opts ? opts : &none;
  json_t *stats = tq_stats_json_object(st), *root = stats;
  int ok = stats != NULL;
  if (ok && o->document) {
    char title[512];
    if (o->title)
      snprintf(title, sizeof title, "%s", o->title);
    else if (o->model)
      snprintf(title, sizeof title, "Per-layer statistics of %s",
               base_name(o->model));
    else
      snprintf(title, sizeof title, "Per-layer statistics");
    root = json_object();
    ok = root && put(root, "schema", json_string("tq-report/1")) &&
         put(root, "command", json_string("stats")) &&
         put(root, "title", json_string(title)) &&
         put(root, "created_by",
             json_string(o->created_by ? o->created_by
                                       : "libtensorquant " TQ_VERSION_STRING));
    if (ok && o->model) ok = put(root, "model", json_string(o->model));
    if (ok && o->data) ok = put(root, "data", json_string(o->data));
    if (ok && o->split) ok = put(root, "split", json_string(o->split));
    ok = ok && put(root, "n", uint(st->samples)) &&
         put(root, "stats", json_incref(stats));
    json_decref(stats);
  }
  const int indent = o->indent < 0 ? 0 : o->indent > 31 ? 31 : o->indent;
  char *text = ok ? json_dumps(root, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII |
                                         JSON_INDENT(indent) |
                                         (indent ? 0 : JSON_COMPACT) |
                                         JSON_REAL_PRECISION(17))
                  : NULL;
  json_decref(root);
  if (!text) return tq_error_nomem(ctx);
  /* jansson's memory is malloc'ed: callers free it with tq_free (free) */
  *out = text;
  return TQ_OK;
}

/* ---- CSV ------------------------------------------------------------------*/

/* ",number" (empty for NaN and inf). */
static void sb_num(tq_csv *b, double v) {
  char t[40] = "";
  if (isfinite(v)) snprintf(t, sizeof t, "%.17g", v);
  tq_csv_add(b, ",", 1);
  tq_csv_str(b, t);
}

static void sb_uint(tq_csv *b, uint64_t v) {
  char t[32];
  snprintf(t, sizeof t, ",%llu", (unsigned long long)v);
  tq_csv_str(b, t);
}

tq_status tq_stats_to_csv(tq_context *ctx, const tq_stats *st, char **out) {
  if (!st || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_stats_to_csv: NULL argument");
  *out = NULL;
  tq_csv b = {0};
  tq_csv_str(&b,
             "layer,value,op,kind,quantized,shape,count,finite,nan,pos_inf,"
             "neg_inf,zeros,zeros_count,min,max,mean,std,max_abs");
  const char *const *pn = tq_stats_percentile_names();
  const char *const *an = tq_stats_abs_percentile_names();
  char t[64];
  for (int k = 0; k < TQ_STATS_N_PERCENTILES; k++) {
    snprintf(t, sizeof t, ",p%s", pn[k]);
    tq_csv_str(&b, t);
  }
  for (int k = 0; k < TQ_STATS_N_ABS_PERCENTILES; k++) {
    snprintf(t, sizeof t, ",abs_p%s", an[k]);
    tq_csv_str(&b, t);
  }
  for (size_t k = 0; k < st->n_widths; k++) {
    snprintf(t, sizeof t, ",frac_bits_%d", st->widths[k]);
    tq_csv_str(&b, t);
  }
  tq_csv_str(&b, "\n");
  for (size_t i = 0; i < st->n; i++) {
    const tq_stats_entry *e = &st->e[i].pub;
    tq_csv_field(&b, e->layer);
    tq_csv_add(&b, ",", 1);
    tq_csv_field(&b, e->value);
    tq_csv_add(&b, ",", 1);
    tq_csv_field(&b, e->op);
    tq_csv_add(&b, ",", 1);
    tq_csv_str(&b, tq_stats_kind_name(e->kind));
    tq_csv_str(&b, e->quantized ? ",1," : ",0,");
    /* shape as 20x1x5x5: no commas to quote */
    for (int d = 0; d < e->shape.ndim; d++) {
      snprintf(t, sizeof t, "%s%lld", d ? "x" : "",
               (long long)e->shape.dims[d]);
      tq_csv_str(&b, t);
    }
    sb_uint(&b, e->count);
    sb_uint(&b, e->finite);
    sb_uint(&b, e->nan);
    sb_uint(&b, e->pos_inf);
    sb_uint(&b, e->neg_inf);
    sb_num(&b, e->count ? (double)e->zeros / (double)e->count : 0.0);
    sb_uint(&b, e->zeros);
    sb_num(&b, e->min);
    sb_num(&b, e->max);
    sb_num(&b, e->mean);
    sb_num(&b, e->std);
    sb_num(&b, e->max_abs);
    for (int k = 0; k < TQ_STATS_N_PERCENTILES; k++)
      sb_num(&b, tq_stats_percentile(st, i, pct_values[k]));
    for (int k = 0; k < TQ_STATS_N_ABS_PERCENTILES; k++)
      sb_num(&b, tq_stats_abs_percentile(st, i, abs_pct_values[k]));
    for (size_t k = 0; k < st->n_widths; k++) {
      snprintf(t, sizeof t, ",%d",
               tq_fixed_frac_bits(e->max_abs, st->widths[k]));
      tq_csv_str(&b, t);
    }
    tq_csv_str(&b, "\n");
  }
  if (b.oom) {
    free(b.p);
    return tq_error_nomem(ctx);
  }
  *out = b.p;
  return TQ_OK;
}

/* ---- files ----------------------------------------------------------------*/

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  if (n < m) return 0;
  for (size_t i = 0; i < m; i++) {
    char c = s[n - m + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != suffix[i]) return 0;
  }
  return 1;
}

tq_status tq_stats_write(tq_context *ctx, const tq_stats *st, const char *path,
                         const tq_stats_json_opts *opts) {
  if (!st || !path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_stats_write: NULL argument");
  char *text = NULL;
  tq_status s;
  if (ends_with(path, ".json")) {
    tq_stats_json_opts o = opts ? *opts : (tq_stats_json_opts){0};
    o.document = 1;
    s = tq_stats_to_json(ctx, st, &o, &text);
  } else if (ends_with(path, ".csv")) {
    s = tq_stats_to_csv(ctx, st, &text);
  } else {
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "cannot tell the report format from the name: use a "
                    ".json (tq-report/1 document) or .csv file");
  }
  if (s == TQ_OK) {
    size_t len = strlen(text);
    /* JSON text has no final line break: put one in place of the NUL
     * (the bytes are written by length) */
    if (len && text[len - 1] != '\n') text[len++] = '\n';
    s = tq_atomic_write_bytes(ctx, path, text, len);
  }
  free(text);
  return s;
}
