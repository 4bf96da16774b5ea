/* A calibration as data and as calib.json: creation, accessors, reading
 * (errors name the file, line, column and layer) and writing. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/calib_internal.h"
#include "core/error.h"
#include "tensorquant/analysis.h"

static char *copy_text(const char *s) {
  const size_t n = strlen(s) + 1;
  char *c = malloc(n);
  if (c) memcpy(c, s, n);
  return c;
}

tq_status tq_calibration_new(tq_context *ctx, const char *method, size_t n,
                             tq_calibration **out) {
  *out = NULL;
  tq_calibration *c = calloc(1, sizeof *c);
  if (!c) return tq_error_nomem(ctx);
  c->method = copy_text(method);
  c->source = copy_text("");
  c->layers = calloc(n ? n : 1, sizeof *c->layers);
  c->lo = calloc(n ? n : 1, sizeof *c->lo);
  c->hi = calloc(n ? n : 1, sizeof *c->hi);
  if (!c->method || !c->source || !c->layers || !c->lo || !c->hi) {
    tq_calibration_destroy(c);
    return tq_error_nomem(ctx);
  }
  *out = c;
  return TQ_OK;
}

void tq_calibration_destroy(tq_calibration *c) {
  if (!c) return;
  for (size_t i = 0; c->layers && i < c->n; i++) free(c->layers[i]);
  free(c->layers);
  free(c->lo);
  free(c->hi);
  free(c->method);
  free(c->source);
  free(c);
}

const char *tq_calibration_method(const tq_calibration *c) {
  return c->method;
}

size_t tq_calibration_samples(const tq_calibration *c) {
  return c->samples;
}

const char *tq_calibration_source(const tq_calibration *c) {
  return c->source;
}

size_t tq_calibration_count(const tq_calibration *c) {
  return c->n;
}

const char *tq_calibration_layer(const tq_calibration *c, size_t i, double *lo,
                                 double *hi) {
  if (i >= c->n) return NULL;
  if (lo) *lo = c->lo[i];
  if (hi) *hi = c->hi[i];
  return c->layers[i];
}

/* Reads layer `id`'s {"min": lo, "max": hi} into slot i of c. */
static tq_status read_layer(tq_context *ctx, tq_calibration *c, size_t i,
                            const char *id, const json_t *v) {
  const json_t *mn = json_object_get(v, "min"), *mx = json_object_get(v, "max");
  if (!json_is_object(v) || !json_is_number(mn) || !json_is_number(mx))
    return tq_error(ctx, TQ_ERR_FORMAT, c->source, 0, 0,
                    "layer '%s': expected {\"min\": number, \"max\": number}",
                    id);
  const double lo = json_number_value(mn), hi = json_number_value(mx);
  if (!isfinite(lo) || !isfinite(hi) || lo > hi)
    return tq_error(ctx, TQ_ERR_RANGE, c->source, 0, 0,
                    "layer '%s': the range [%g, %g] is not a finite interval",
                    id, lo, hi);
  if (!(c->layers[i] = copy_text(id))) return tq_error_nomem(ctx);
  c->lo[i] = lo;
  c->hi[i] = hi;
  c->n = i + 1;
  return TQ_OK;
}

static tq_status read_root(tq_context *ctx, const json_t *root,
                           tq_calibration *c) {
  const json_t *method = json_object_get(root, "method"),
               *samples = json_object_get(root, "samples"),
               *layers = json_object_get(root, "layers");
  if (!json_is_object(root) || !json_is_string(method) ||
      !json_is_integer(samples) || json_integer_value(samples) < 0 ||
      !json_is_object(layers))
    return tq_error(
        ctx, TQ_ERR_FORMAT, c->source, 0, 0,
        "expected {\"method\": text, \"samples\": count, "
        "\"layers\": {\"<layer ID>\": {\"min\": lo, \"max\": hi}}}");
  free(c->method);
  if (!(c->method = copy_text(json_string_value(method))))
    return tq_error_nomem(ctx);
  c->samples = (size_t)json_integer_value(samples);
  const char *id;
  const json_t *v;
  size_t i = 0;
  json_object_foreach((json_t *)layers, id, v) {
    tq_status st = read_layer(ctx, c, i++, id, v);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* Reads root (owned by the caller) into a new calibration from source. */
static tq_status from_json(tq_context *ctx, const json_t *root,
                           const char *source, tq_calibration **out) {
  const json_t *layers = json_object_get(root, "layers");
  tq_calibration *c = NULL;
  tq_status st = tq_calibration_new(
      ctx, "", json_is_object(layers) ? json_object_size(layers) : 0, &c);
  if (st == TQ_OK) {
    free(c->source);
    if (!(c->source = copy_text(source))) st = tq_error_nomem(ctx);
  }
  if (st == TQ_OK) st = read_root(ctx, root, c);
  if (st != TQ_OK) {
    tq_calibration_destroy(c);
    return st;
  }
  *out = c;
  return TQ_OK;
}

static tq_status json_error(tq_context *ctx, const json_error_t *err,
                            const char *source) {
  return tq_error(ctx, err->line > 0 ? TQ_ERR_PARSE : TQ_ERR_IO, source,
                  err->line > 0 ? err->line : 0,
                  err->column > 0 ? err->column : 0, "%s", err->text);
}

tq_status tq_calibration_load(tq_context *ctx, const char *path,
                              tq_calibration **out) {
  *out = NULL;
  json_error_t err;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!root) return json_error(ctx, &err, path);
  tq_status st = from_json(ctx, root, path, out);
  json_decref(root);
  return st;
}

tq_status tq_calibration_parse(tq_context *ctx, const char *text, size_t len,
                               const char *source, tq_calibration **out) {
  *out = NULL;
  if (!source) source = "calibration";
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!root) return json_error(ctx, &err, source);
  tq_status st = from_json(ctx, root, source, out);
  json_decref(root);
  return st;
}

tq_status tq_calibration_save(tq_context *ctx, const tq_calibration *c,
                              const char *path) {
  json_t *root = json_object(), *layers = json_object();
  int ok = root && layers &&
           !json_object_set_new(root, "method", json_string(c->method)) &&
           !json_object_set_new(root, "samples",
                                json_integer((json_int_t)c->samples));
  for (size_t i = 0; ok && i < c->n; i++) {
    json_t *r = json_object();
    ok = r && !json_object_set_new(r, "min", json_real(c->lo[i])) &&
         !json_object_set_new(r, "max", json_real(c->hi[i])) &&
         !json_object_set_new(layers, c->layers[i], r);
  }
  ok = ok && !json_object_set(root, "layers", layers);
  /* 17 significant digits: a double read back is the same double. */
  char *text =
      ok ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(layers);
  json_decref(root);
  const size_t len = text ? strlen(text) : 0;
  char *line = text ? realloc(text, len + 2) : NULL;
  if (!line) {
    free(text);
    return tq_error_nomem(ctx);
  }
  line[len] = '\n'; /* a text file ends with a newline */
  tq_status st = tq_write_file_atomic(ctx, path, line, len + 1);
  free(line);
  return st;
}
