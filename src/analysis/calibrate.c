/* tq_calibrate: a float run over a dataset's samples, observing every
 * layer's output; pass 1 finds the exact extremes, pass 2 (histogram
 * methods) bins the values in the range pass 1 found - so the histogram
 * is the single one over all values that ONNX Runtime builds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/calib_hist.h"
#include "analysis/calib_internal.h"
#include "core/error.h"
#include "core/tensor_internal.h"
#include "graph/feed_internal.h"
#include "tensorquant/analysis.h"

static const char *const method_names[TQ_CALIB_METHOD_COUNT] = {
    "minmax", "percentile", "entropy", "mse"};

tq_status tq_calib_method_parse(tq_context *ctx, const char *text,
                                tq_calib_opts *o) {
  for (int m = 0; m < TQ_CALIB_METHOD_COUNT; m++) {
    const size_t len = strlen(method_names[m]);
    if (strncmp(text, method_names[m], len) != 0) continue;
    if (text[len] == '\0') {
      o->method = (tq_calib_method)m;
      return TQ_OK;
    }
    if (m == TQ_CALIB_PERCENTILE && text[len] == '=') {
      char *end = NULL;
      const double p = strtod(text + len + 1, &end);
      if (end == text + len + 1 || *end || !(p > 0 && p <= 100))
        return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                        "method '%s': P must be a number in (0, 100]", text);
      o->method = TQ_CALIB_PERCENTILE;
      o->percentile = p;
      return TQ_OK;
    }
  }
  return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                  "unknown calibration method '%s'; expected minmax, "
                  "percentile[=P], entropy or mse",
                  text);
}

/* o with its defaults filled in. */
static tq_calib_opts with_defaults(const tq_calib_opts *o) {
  tq_calib_opts d = {0};
  if (o) d = *o;
  if (d.percentile == 0) d.percentile = 99.999;
  if (d.num_bins <= 0) d.num_bins = 2048;
  if (d.num_quantized_bins <= 0) d.num_quantized_bins = 128;
  if (d.batch <= 0) d.batch = 64;
  return d;
}

static int needs_histogram(tq_calib_method m) {
  return m != TQ_CALIB_MINMAX;
}

/* The method as calib.json names it. */
static void method_text(const tq_calib_opts *o, char *buf, size_t cap) {
  if (o->method == TQ_CALIB_PERCENTILE)
    snprintf(buf, cap, "percentile=%.10g", o->percentile);
  else
    snprintf(buf, cap, "%s", method_names[o->method]);
}

/* int,8,static: what mse calibrates for where no static spec is given. */
static tq_status default_mse_spec(tq_context *ctx, tq_quantizer **q) {
  return tq_quantizer_parse(ctx, "int,8,static", q);
}

tq_status tq_calibrate_values(tq_context *ctx, const float *x, size_t n,
                              const tq_calib_opts *opts,
                              const tq_quantizer *spec, double *lo,
                              double *hi) {
  const tq_calib_opts o = with_defaults(opts);
  tq_calib_hist h = {0};
  tq_calib_hist_scan(&h, x, n);
  tq_quantizer *own = NULL;
  tq_status st = TQ_OK;
  if (o.method == TQ_CALIB_MSE && !spec) {
    st = default_mse_spec(ctx, &own);
    spec = own;
  }
  if (st == TQ_OK && spec && o.method == TQ_CALIB_MSE &&
      !tq_quantizer_params(spec)->is_static)
    st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                  "mse calibrates a static spec; '%s' is not",
                  tq_quantizer_spec(spec));
  if (st == TQ_OK && h.count && needs_histogram(o.method)) {
    if (!tq_calib_hist_start(&h, o.method, o.num_bins))
      st = tq_error_nomem(ctx);
    else
      tq_calib_hist_add(&h, x, n);
  }
  if (st == TQ_OK) st = tq_calib_hist_range(ctx, &h, &o, spec, lo, hi);
  tq_calib_hist_free(&h);
  tq_quantizer_destroy(own);
  return st;
}

/* ---- over a model ---------------------------------------------------------*/

typedef struct calib_run {
  tq_calib_hist *h; /* per node */
  unsigned char *layer;
  int pass;
} calib_run;

static int observe(void *user, size_t node, const char *node_id, size_t k,
                   const char *value_name, const tq_tensor *value) {
  (void)node_id;
  (void)value_name;
  calib_run *r = user;
  if (k != 0 || !r->layer[node] || value->dtype != TQ_DTYPE_FLOAT32) return 0;
  if (r->pass == 1)
    tq_calib_hist_scan(&r->h[node], tq_cf32(value), value->numel);
  else if (r->h[node].counts)
    tq_calib_hist_add(&r->h[node], tq_cf32(value), value->numel);
  return 0;
}

/* Runs s over the first n samples of feed, in batches. */
static tq_status run_all(tq_context *ctx, tq_session *s, const tq_feed *feed,
                         size_t n, size_t batch) {
  tq_tensor **xs = calloc(feed->n ? feed->n : 1, sizeof *xs);
  if (!xs) return tq_error_nomem(ctx);
  tq_status st = TQ_OK;
  for (size_t done = 0; st == TQ_OK && done < n;) {
    const size_t b = n - done < batch ? n - done : batch;
    st = tq_feed_gather(ctx, feed, NULL, done, b, xs, NULL);
    tq_tensor *out = NULL;
    tq_run_opts ro = {.sample_offset = done};
    if (st == TQ_OK)
      st = tq_session_run(ctx, s, (const tq_tensor *const *)xs, feed->n, &out,
                          0, &ro);
    tq_tensor_destroy(out);
    done += b;
  }
  for (size_t k = 0; k < feed->n; k++) tq_tensor_destroy(xs[k]);
  free(xs);
  return st;
}

/* The static spec mse calibrates layer `node` for: its extrinsic spec in
 * o->maps when that is static, else *fallback. */
static const tq_quantizer *mse_spec(const tq_session *s, size_t node,
                                    const tq_quantizer *fallback) {
  tq_qmap_match m;
  if (tq_session_node_match(s, node, TQ_MAP_EXTRINSIC, &m) &&
      m.value->quantizer && tq_quantizer_params(m.value->quantizer)->is_static)
    return m.value->quantizer;
  return fallback;
}

/* Fills c from the statistics of the layers. */
static tq_status collect_ranges(tq_context *ctx, const tq_session *s,
                                const calib_run *r, const tq_calib_opts *o,
                                const tq_quantizer *fallback,
                                tq_calibration *c) {
  const tq_graph *g = tq_session_graph(s);
  for (size_t i = 0; i < tq_graph_node_count(g); i++) {
    if (!r->layer[i]) continue;
    tq_node_info info;
    tq_status st = tq_graph_node_info(g, i, &info);
    double lo = 0, hi = 0;
    if (st == TQ_OK)
      st = tq_calib_hist_range(ctx, &r->h[i], o, mse_spec(s, i, fallback), &lo,
                               &hi);
    if (st != TQ_OK) return st;
    const size_t len = strlen(info.id) + 1;
    if (!(c->layers[c->n] = malloc(len))) return tq_error_nomem(ctx);
    memcpy(c->layers[c->n], info.id, len);
    c->lo[c->n] = lo;
    c->hi[c->n] = hi;
    c->n++;
  }
  return TQ_OK;
}

/* Plans s for ds's batches and marks the layers calibrated. */
static tq_status plan_layers(tq_context *ctx, tq_session *s,
                             const tq_feed *feed, size_t batch, calib_run *r,
                             size_t *n_layers) {
  tq_shape shapes[16];
  if (feed->n > 16)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "calibration takes models of at most 16 inputs");
  tq_feed_shapes(feed, batch, shapes);
  tq_status st = tq_session_plan(ctx, s, shapes, feed->n);
  const size_t nn = tq_graph_node_count(tq_session_graph(s));
  *n_layers = 0;
  for (size_t i = 0; st == TQ_OK && i < nn; i++) {
    r->layer[i] =
        (unsigned char)tq_session_node_quantizable(s, i, TQ_MAP_EXTRINSIC);
    *n_layers += r->layer[i];
  }
  return st;
}

tq_status tq_calibrate(tq_context *ctx, const tq_graph *g, const tq_dataset *ds,
                       const tq_calib_opts *opts, tq_calibration **out) {
  *out = NULL;
  const tq_calib_opts o = with_defaults(opts);
  size_t n = tq_dataset_size(ds);
  if (o.limit && o.limit < n) n = o.limit;
  const size_t batch = (size_t)o.batch < n ? (size_t)o.batch : n;
  const size_t nn = tq_graph_node_count(g);
  calib_run r = {.h = calloc(nn ? nn : 1, sizeof *r.h),
                 .layer = calloc(nn ? nn : 1, 1)};
  tq_session *s = NULL;
  tq_quantizer *fallback = NULL;
  tq_calibration *c = NULL;
  tq_feed feed;
  tq_status st = tq_feed_init(ctx, &feed, ds, g);
  if (st == TQ_OK && (!r.h || !r.layer)) st = tq_error_nomem(ctx);
  if (st == TQ_OK) st = tq_session_create(ctx, g, &s);
  if (st == TQ_OK && o.maps) st = tq_session_set_maps(ctx, s, o.maps);
  size_t n_layers = 0;
  if (st == TQ_OK) st = plan_layers(ctx, s, &feed, batch, &r, &n_layers);
  /* The maps only chose mse's specs: the run itself is float. */
  if (st == TQ_OK && o.maps) st = tq_session_set_maps(ctx, s, NULL);
  if (st == TQ_OK && o.method == TQ_CALIB_MSE)
    st = default_mse_spec(ctx, &fallback);
  if (st == TQ_OK) {
    tq_session_set_observer(s, observe, &r);
    r.pass = 1;
    st = run_all(ctx, s, &feed, n, batch);
  }
  for (size_t i = 0; st == TQ_OK && i < nn; i++)
    if (r.layer[i] && r.h[i].count && needs_histogram(o.method) &&
        !tq_calib_hist_start(&r.h[i], o.method, o.num_bins))
      st = tq_error_nomem(ctx);
  if (st == TQ_OK && needs_histogram(o.method)) {
    r.pass = 2;
    st = run_all(ctx, s, &feed, n, batch);
  }
  char method[64];
  method_text(&o, method, sizeof method);
  if (st == TQ_OK) st = tq_calibration_new(ctx, method, n_layers, &c);
  if (st == TQ_OK) {
    c->samples = n;
    if (o.maps) st = tq_session_set_maps(ctx, s, o.maps);
  }
  if (st == TQ_OK) st = collect_ranges(ctx, s, &r, &o, fallback, c);
  for (size_t i = 0; r.h && i < nn; i++) tq_calib_hist_free(&r.h[i]);
  free(r.h);
  free(r.layer);
  tq_feed_free(&feed);
  tq_session_destroy(s);
  tq_quantizer_destroy(fallback);
  if (st != TQ_OK) {
    tq_calibration_destroy(c);
    return st;
  }
  *out = c;
  return TQ_OK;
}
