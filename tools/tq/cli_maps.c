/* The map options every model command takes. */
#include <string.h>

#include "tq.h"

int tq_cli_maps_option(const char *cmd, tq_cli_maps *m, int argc, char **argv,
                       int *i) {
  const char *a = argv[*i];
  const char **slot = !strcmp(a, "--extr")      ? &m->extr
                      : !strcmp(a, "--weights") ? &m->weights
                      : !strcmp(a, "--intr")    ? &m->intr
                      : !strcmp(a, "--map")     ? &m->sectioned
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
