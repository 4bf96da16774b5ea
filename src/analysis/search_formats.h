/* Internal: the candidates of a search over formats (tq_search_opts
 * formats): specs ordered by their cost in bits per element. */
#ifndef TQ_ANALYSIS_SEARCH_FORMATS_H
#define TQ_ANALYSIS_SEARCH_FORMATS_H

#include <stddef.h>

#include "tensorquant/status.h"

typedef struct tq_format_candidates {
  char **specs; /* most bits first */
  double *bits; /* bits per element including scale overhead */
  size_t n;
} tq_format_candidates;

/* Orders formats[0..n) by tq_quantizer_bits, most first (a stable sort);
 * of formats with equal cost the first listed is kept: the search steps
 * only to a cheaper one. A spec that does not parse, or one without a
 * fixed size per element (bits 0: none, log, sparse), is an error naming
 * it. Free with tq_format_candidates_free, also on failure. */
tq_status tq_format_candidates_make(tq_context *ctx, const char *const *formats,
                                    size_t n, tq_format_candidates *out);
void tq_format_candidates_free(tq_format_candidates *c);

#endif
