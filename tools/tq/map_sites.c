/* tq map check --model: the axis and group a spec resolves to at each
 * tensor of a layer it quantizes (map_sites.h). */
#include "map_sites.h"

#include <string.h>

#include "model_util.h"

int tq_cli_map_model_open(const char *cmd, tq_context *ctx, const char *path,
                          tq_cli_map_model *mm) {
  if (!tq_cli_open_model(cmd, ctx, path, &mm->g, &mm->s)) return 0;
  tq_shape shapes[16];
  const size_t n = tq_graph_input_count(mm->g);
  if (n > 16) {
    tq_cli_error(cmd, "--model: at most 16 inputs");
    return 0;
  }
  tq_cli_input_shapes(mm->g, 1, shapes);
  const tq_status st = tq_session_plan(ctx, mm->s, shapes, n);
  if (st != TQ_OK) tq_cli_status_error(cmd, ctx, st);
  return st == TQ_OK;
}

void tq_cli_map_model_close(tq_cli_map_model *mm) {
  tq_session_destroy(mm->s);
  tq_graph_destroy(mm->g);
  mm->s = NULL;
  mm->g = NULL;
}

long tq_cli_map_model_node(const char *cmd, const tq_cli_map_model *mm,
                           const char *id) {
  for (size_t i = 0; i < tq_graph_node_count(mm->g); i++) {
    tq_node_info info;
    if (tq_graph_node_info(mm->g, i, &info) == TQ_OK && !strcmp(info.id, id))
      return (long)i;
  }
  tq_cli_error(cmd, "--layer '%s' is not a layer of the model", id);
  return -1;
}

/* One tensor q quantizes at node: its name, site and resolved groups.
 * Returns 0 when slot k is not such a tensor. */
typedef struct site_row {
  const char *tensor;
  tq_shape shape;
  int axis;
  int64_t group;
  tq_status st;
} site_row;

static int site_row_get(tq_context *ctx, const tq_cli_map_model *mm,
                        size_t node, tq_map_kind kind, const tq_quantizer *q,
                        size_t k, site_row *r) {
  tq_node_info info;
  if (tq_graph_node_info(mm->g, node, &info) != TQ_OK) return 0;
  const int weights = kind == TQ_MAP_WEIGHTS;
  if (weights ? k == 0 || k >= info.n_inputs : k >= 1) return 0;
  r->tensor = weights ? info.inputs[k] : info.outputs[k];
  if (weights && !tq_graph_initializer(mm->g, r->tensor)) return 0;
  tq_quant_site site;
  r->st = tq_session_quant_site(
      ctx, mm->s, node, weights ? kind : TQ_MAP_EXTRINSIC, k, &site, &r->shape);
  if (r->st == TQ_OK && weights)
    r->shape = *tq_tensor_shape(tq_graph_initializer(mm->g, r->tensor));
  if (r->st == TQ_OK)
    r->st = tq_quantizer_resolve(ctx, q, &site, &r->axis, &r->group);
  return 1;
}

static void describe(const site_row *r, char *buf, size_t cap) {
  if (r->axis < 0)
    snprintf(buf, cap, "%s", r->group == 1 ? "element-wise" : "per tensor");
  else if (r->group == 0)
    snprintf(buf, cap, "per channel along axis %d", r->axis);
  else
    snprintf(buf, cap, "blocks of %lld along axis %d", (long long)r->group,
             r->axis);
}

void tq_cli_print_sites(tq_context *ctx, const tq_cli_map_model *mm,
                        size_t node, tq_map_kind kind, const tq_quantizer *q) {
  site_row r;
  for (size_t k = 0; k < 64; k++) {
    if (!site_row_get(ctx, mm, node, kind, q, k, &r)) continue;
    char shape[128], what[96];
    tq_shape_format(&r.shape, shape, sizeof shape);
    if (r.st != TQ_OK)
      snprintf(what, sizeof what, "error: %s", tq_context_last_error(ctx));
    else
      describe(&r, what, sizeof what);
    printf("             at %s %s: %s\n", r.tensor, shape, what);
  }
}

json_t *tq_cli_sites_json(tq_context *ctx, const tq_cli_map_model *mm,
                          size_t node, tq_map_kind kind,
                          const tq_quantizer *q) {
  json_t *a = json_array();
  site_row r;
  for (size_t k = 0; a && k < 64; k++) {
    if (!site_row_get(ctx, mm, node, kind, q, k, &r)) continue;
    json_t *dims = json_array();
    for (int d = 0; dims && d < r.shape.ndim; d++)
      json_array_append_new(dims, json_integer((json_int_t)r.shape.dims[d]));
    json_t *o =
        r.st == TQ_OK
            ? json_pack("{s:s, s:o, s:i, s:I}", "tensor", r.tensor, "shape",
                        dims, "axis", r.axis, "group", (json_int_t)r.group)
            : json_pack("{s:s, s:o, s:s}", "tensor", r.tensor, "shape", dims,
                        "error", tq_context_last_error(ctx));
    if (!o || json_array_append_new(a, o) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}
