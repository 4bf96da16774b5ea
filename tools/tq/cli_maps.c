/* The map options every model command takes. */
#include <string.h>

#include "tq.h"

int tq_cli_maps_option(const char *cmd, tq_cli_maps *m, int argc, char **argv,
                       int *i) {
  const char *a = argv[*i];
  if (!strcmp(a, "--strict")) {
    m->strict = 1;
    return 1;
  }
  const char **slot = !strcmp(a, "--extr")                       ? &m->extr
                      : !strcmp(a, "--weights")                  ? &m->weights
                      : !strcmp(a, "--intr")                     ? &m->intr
                      : !strcmp(a, "--map")                      ? &m->sectioned
                      : !strcmp(a, "--map-view")                 ? &m->view
                      : m->training && !strcmp(a, "--gradients") ? &m->grads
                      : m->training && !strcmp(a, "--updates")   ? &m->updates
                      : !strcmp(a, "--calib")                    ? &m->calib
                                                                 : NULL;
  if (!slot) return 0;
  const char *v = tq_cli_value(cmd, argc, argv, i);
  if (!v) return -1;
  *slot = v;
  return 1;
}

int tq_cli_maps_load(const char *cmd, tq_context *ctx, const tq_cli_maps *m,
                     tq_qmap_set **out) {
  *out = NULL;
  if (!m->extr && !m->weights && !m->intr && !m->sectioned && !m->grads &&
      !m->updates)
    return 1;
  tq_status st;
  if (m->sectioned)
    st = tq_qmap_set_load(ctx, m->sectioned, out);
  else
    st = tq_qmap_set_create(ctx, out);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  const char *flat[] = {m->extr, m->weights, m->intr, m->grads, m->updates};
  const tq_map_kind kinds[] = {TQ_MAP_EXTRINSIC, TQ_MAP_WEIGHTS,
                               TQ_MAP_INTRINSIC, TQ_MAP_GRADIENTS,
                               TQ_MAP_UPDATES};
  for (int k = 0; k < 5; k++) {
    if (!flat[k]) continue;
    tq_qmap *map;
    if ((st = tq_qmap_load(ctx, flat[k], kinds[k], &map)) != TQ_OK ||
        (st = tq_qmap_set_put(ctx, *out, map)) != TQ_OK) {
      tq_cli_status_error(cmd, ctx, st);
      tq_qmap_set_destroy(*out);
      *out = NULL;
      return 0;
    }
  }
  return 1;
}

int tq_cli_calib_apply(const char *cmd, tq_context *ctx, const char *path,
                       tq_session *s) {
  if (!path) return 1;
  tq_calibration *c = NULL;
  tq_status st = tq_calibration_load(ctx, path, &c);
  if (st == TQ_OK) st = tq_session_set_calibration(ctx, s, c);
  tq_calibration_destroy(c);
  if (st != TQ_OK) tq_cli_status_error(cmd, ctx, st);
  return st == TQ_OK;
}

int tq_cli_map_view(const char *cmd, const char *text, tq_map_view *view) {
  if (!text || !strcmp(text, "nodes")) {
    *view = TQ_MAP_VIEW_NODES;
    return 1;
  }
  if (!strcmp(text, "layers")) {
    *view = TQ_MAP_VIEW_LAYERS;
    return 1;
  }
  tq_cli_error(cmd, "--map-view: '%s' is not a view (layers or nodes)", text);
  return 0;
}

/* One line about a key that changes nothing; returns whether it is one. */
static int report_unused_key(const char *cmd, const tq_map_report *r,
                             tq_map_kind kind, size_t entry, int strict) {
  tq_map_key_report kr;
  if (tq_map_report_key(r, kind, entry, &kr) != TQ_OK || kr.n_applied) return 0;
  const char *what =
      tq_map_report_view(r) == TQ_MAP_VIEW_LAYERS ? "layer" : "node";
  if (kr.n_matched)
    tq_cli_error(cmd,
                 "%s: key \"%s\" in section %s applies to no %s: every %s it "
                 "matches (%zu) takes an earlier key",
                 strict ? "error" : "warning", kr.key, tq_map_kind_name(kind),
                 what, what, kr.n_matched);
  else
    tq_cli_error(cmd,
                 "%s: key \"%s\" in section %s matches no %s of the model "
                 "(tq map check MAP --model MODEL lists them)",
                 strict ? "error" : "warning", kr.key, tq_map_kind_name(kind),
                 what);
  return 1;
}

size_t tq_cli_maps_warn_unused(const char *cmd, const tq_map_report *r,
                               const tq_qmap_set *set, int strict) {
  size_t unused = 0;
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    for (size_t e = 0; e < tq_qmap_size(map); e++)
      unused += (size_t)report_unused_key(cmd, r, (tq_map_kind)k, e, strict);
  }
  return unused;
}

int tq_cli_maps_apply(const char *cmd, tq_context *ctx, tq_session *s,
                      const tq_cli_maps *m, const tq_qmap_set *set) {
  tq_map_view view;
  if (!tq_cli_map_view(cmd, m->view, &view)) return 0;
  tq_status st = tq_session_set_map_view(ctx, s, view);
  if (st == TQ_OK) st = tq_session_set_maps(ctx, s, set);
  tq_map_report *r = NULL;
  if (st == TQ_OK && set) st = tq_map_report_create(ctx, s, set, &r);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  const size_t unused = r ? tq_cli_maps_warn_unused(cmd, r, set, m->strict) : 0;
  tq_map_report_destroy(r);
  if (unused && m->strict) {
    tq_cli_error(cmd, "%zu map key%s change%s nothing (--strict)", unused,
                 unused == 1 ? "" : "s", unused == 1 ? "s" : "");
    return 0;
  }
  return 1;
}
