/* A search over formats: the candidates ordered by cost (bits per element,
 * scale overhead included: tq_quantizer_bits), and the presets. */
#include "analysis/search_formats.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensorquant/analysis.h"
#include "tensorquant/quantizer.h"

static const struct {
  const char *name, *list;
} presets[] = {
    /* OCP MX: 8.25, 6.25, 6.25 and 4.25 bits */
    {"mx", "mxfp8e4m3;mxfp6e3m2;mxfp6e2m3;mxfp4"},
    /* scaled integers: per channel (8, 6), per block of 32 (5), int4
     * per channel (4) */
    {"int",
     "int,8,axis=channel;int,6,axis=channel;int,4,group=32;"
     "int,4,axis=channel"},
    /* what deployments mix: 8-bit MX, per-channel int8, MXFP6, NVFP4,
     * MXFP4 */
    {"mixed", "int,8,axis=channel;mxfp8e4m3;mxfp6e2m3;nvfp4;mxfp4"},
};

const char *tq_search_format_preset(const char *name) {
  for (size_t i = 0; name && i < sizeof presets / sizeof *presets; i++)
    if (!strcmp(name, presets[i].name)) return presets[i].list;
  return NULL;
}

void tq_format_candidates_free(tq_format_candidates *c) {
  for (size_t i = 0; c->specs && i < c->n; i++) free(c->specs[i]);
  free(c->specs);
  free(c->bits);
  memset(c, 0, sizeof *c);
}

tq_status tq_format_candidates_make(tq_context *ctx, const char *const *formats,
                                    size_t n, tq_format_candidates *out) {
  memset(out, 0, sizeof *out);
  out->specs = calloc(n ? n : 1, sizeof *out->specs);
  out->bits = calloc(n ? n : 1, sizeof *out->bits);
  if (!out->specs || !out->bits) return tq_error_nomem(ctx);
  for (size_t i = 0; i < n; i++) {
    tq_quantizer *q = NULL;
    tq_status st = tq_quantizer_parse(ctx, formats[i], &q);
    if (st != TQ_OK) return st;
    const double bits = tq_quantizer_bits(q);
    tq_quantizer_destroy(q);
    if (!(bits > 0))
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "format '%s' has no fixed size per element to search "
                      "by",
                      formats[i]);
    /* insertion after every candidate that costs as much or more */
    size_t j = 0;
    while (j < out->n && out->bits[j] > bits) j++;
    if (j < out->n && out->bits[j] == bits) continue; /* the first kept */
    char *copy = malloc(strlen(formats[i]) + 1);
    if (!copy) return tq_error_nomem(ctx);
    strcpy(copy, formats[i]);
    memmove(out->specs + j + 1, out->specs + j,
            (out->n - j) * sizeof *out->specs);
    memmove(out->bits + j + 1, out->bits + j, (out->n - j) * sizeof *out->bits);
    out->specs[j] = copy;
    out->bits[j] = bits;
    out->n++;
  }
  if (out->n == 0)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "an empty list of formats");
  return TQ_OK;
}
