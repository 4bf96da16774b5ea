/* Internal to the tq tool: what a map's specs resolve to at a model's
 * layers (tq map check --model): the axis and group of each quantized
 * tensor, from the session's default axes (docs/design.md §3). */
#ifndef TQ_TOOL_MAP_SITES_H
#define TQ_TOOL_MAP_SITES_H

#include <jansson.h>
#include <stdio.h>

#include "tq.h"

typedef struct tq_cli_map_model {
  tq_graph *g;
  tq_session *s; /* planned for one sample */
} tq_cli_map_model;

/* Loads path and plans it for one sample. Prints errors; returns 1 on
 * success. Close mm either way. */
int tq_cli_map_model_open(const char *cmd, tq_context *ctx, const char *path,
                          tq_cli_map_model *mm);
void tq_cli_map_model_close(tq_cli_map_model *mm);

/* The node with this layer ID, or -1 (an error printed). */
long tq_cli_map_model_node(const char *cmd, const tq_cli_map_model *mm,
                           const char *id);

/* Prints, for kind's quantizer q at node, one line per tensor it
 * quantizes: "at <tensor> [shape]: <groups>". */
void tq_cli_print_sites(tq_context *ctx, const tq_cli_map_model *mm,
                        size_t node, tq_map_kind kind, const tq_quantizer *q);

/* The same as a JSON array of {"tensor", "shape", "axis", "group"}
 * (NULL when out of memory). */
json_t *tq_cli_sites_json(tq_context *ctx, const tq_cli_map_model *mm,
                          size_t node, tq_map_kind kind, const tq_quantizer *q);

#endif
