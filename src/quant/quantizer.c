/* Quantizer objects: the checks every kind shares, then the kind's own
 * validation and derived constants (its trait entry), the ABI check of
 * tq_quant_params, accessors. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant_internal.h"

/* The size of the first versioned tq_quant_params (ste last): callers
 * compiled against it pass at least this much. Keep it when fields are
 * appended. */
#define QUANT_PARAMS_V1_SIZE \
  (offsetof(tq_quant_params, ste) + sizeof(((tq_quant_params *)0)->ste))
/* Larger is no struct a caller set up, but garbage: not read past. */
#define VERSIONED_MAX_SIZE 4096

tq_status tq_range_error(tq_context *ctx, const char *source, const char *what,
                         long value, long lo, long hi) {
  return tq_error(ctx, TQ_ERR_RANGE, source, 0, 0,
                  "%s must be between %ld and %ld, got %ld", what, lo, hi,
                  value);
}

static tq_status validate(tq_context *ctx, const tq_quant_params *p,
                          const char *src) {
  const tq_kind_traits *tr = tq_kind_traits_get(p->kind);
  if (!tr)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown quantizer kind %d", (int)p->kind);
  if ((unsigned)p->round >= TQ_ROUND_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown rounding mode %d", (int)p->round);
  if ((unsigned)p->ste >= TQ_STE_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "unknown straight-through estimator %d", (int)p->ste);
  if (p->has_seed && p->round != TQ_ROUND_STOCHASTIC)
    return tq_error(ctx, TQ_ERR_PARSE, src, 0, 0,
                    "seed= only applies to stochastic rounding");
  if (!tr->groups && (p->scaled || p->int_mode || p->narrow || p->axis_mode ||
                      p->group || p->scale || p->scale_round || p->is_static))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "the settings of scaled and block formats (scaled, "
                    "asym/unsigned, narrow, axis=, group=, scale=, "
                    "scale_round=, static) do not apply to %s",
                    tr->name);
  return tr->validate ? tr->validate(ctx, p, src) : TQ_OK;
}

tq_status tq_quantizer_init(tq_context *ctx, const tq_quant_params *params,
                            const char *source, tq_quantizer *q) {
  tq_status st = validate(ctx, params, source);
  if (st != TQ_OK) return st;
  memset(q, 0, sizeof *q);
  q->p = *params;
  q->p.struct_size = sizeof q->p;
  q->range_lo = -INFINITY;
  q->range_hi = INFINITY;
  const tq_kind_traits *tr = tq_kind_traits_get(q->p.kind);
  if (tr->derive) tr->derive(q);
  tq_spec_format(&q->p, q->spec, sizeof q->spec);
  return TQ_OK;
}

void tq_quant_params_init(tq_quant_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
}

tq_status tq_import_versioned(tq_context *ctx, const char *fn, const char *type,
                              const char *init, const void *src, size_t size,
                              size_t v1_size, void *dst, size_t lib_size) {
  if (size < v1_size || size > VERSIONED_MAX_SIZE)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "%s: %sstruct_size is %zu, not between %zu and %zu; "
                    "initialise it with %s",
                    fn, type, size, v1_size, (size_t)VERSIONED_MAX_SIZE, init);
  const unsigned char *bytes = src;
  for (size_t i = lib_size; i < size; i++)
    if (bytes[i])
      return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                      "%s: %sstruct_size is %zu, and this library knows "
                      "the first %zu bytes; byte %zu is set, so the caller "
                      "uses a field this version does not have",
                      fn, type, size, lib_size, i);
  memset(dst, 0, lib_size);
  memcpy(dst, src, size < lib_size ? size : lib_size);
  return TQ_OK;
}

/* The caller's struct as this library's: a shorter one (an older caller)
 * leaves the newer fields zero; a longer one (a newer caller) is accepted
 * only where the fields this library does not know are all zero. */
static tq_status import_params(tq_context *ctx, const tq_quant_params *params,
                               tq_quant_params *out) {
  tq_status st = tq_import_versioned(
      ctx, "tq_quantizer_create", "params->",
      "tq_quant_params_init() or TQ_QUANT_PARAMS_INIT", params,
      params->struct_size, QUANT_PARAMS_V1_SIZE, out, sizeof *out);
  out->struct_size = sizeof *out;
  return st;
}

tq_status tq_quantizer_create(tq_context *ctx, const tq_quant_params *params,
                              tq_quantizer **out) {
  if (!params || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantizer_create: NULL argument");
  *out = NULL;
  tq_quant_params p;
  tq_status st = import_params(ctx, params, &p);
  if (st != TQ_OK) return st;
  tq_quantizer *q = malloc(sizeof *q);
  if (!q) return tq_error_nomem(ctx);
  st = tq_quantizer_init(ctx, &p, "quantizer parameters", q);
  if (st != TQ_OK) {
    free(q);
    return st;
  }
  *out = q;
  return TQ_OK;
}

void tq_quantizer_destroy(tq_quantizer *q) {
  free(q);
}

const char *tq_quantizer_spec(const tq_quantizer *q) {
  return q ? q->spec : "";
}

const tq_quant_params *tq_quantizer_params(const tq_quantizer *q) {
  return q ? &q->p : NULL;
}

void tq_quantizer_range(const tq_quantizer *q, double *lo, double *hi) {
  if (lo) *lo = q ? q->range_lo : -INFINITY;
  if (hi) *hi = q ? q->range_hi : INFINITY;
}

double tq_quantizer_bits(const tq_quantizer *q) {
  return q ? tq_kind_traits_get(q->p.kind)->bits(&q->p) : 0.0;
}
