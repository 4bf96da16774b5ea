/* Internal to the tq tool: tq map check --model's part of the output. */
#ifndef TQ_TOOL_MAP_MODEL_H
#define TQ_TOOL_MAP_MODEL_H

#include <jansson.h>

#include "tq.h"

/* Prints, per key of each section of set, the layers (nodes) it applies to
 * and, per layer (node), which key applies, from report r of session s. */
void tq_map_model_print(const char *model, const tq_map_report *r,
                        const tq_session *s, const tq_qmap_set *set);

/* The same as a JSON object {"path", "view", "unused_keys", "keys":
 * {section: [{entry, key, matched: [ids], applied: [ids]}]}, "targets":
 * [{id, output_node, weights, nodes, applies: {section: entry|null}}]}; NULL
 * when out of memory. The caller owns the result. */
json_t *tq_map_model_json(const char *model, const tq_map_report *r,
                          const tq_session *s, const tq_qmap_set *set);

#endif
