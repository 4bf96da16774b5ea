/* tq info: what a model is made of, so that users can write maps. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model_util.h"

static const char help[] =
    "usage: tq info MODEL.onnx [--batch N] [--layers] [--json]\n"
    "\n"
    "Prints a table of the model's nodes: ID (what quantizer map keys\n"
    "match), operator, input and output shapes, parameter count and the\n"
    "names of the weights the node owns (map keys also match these); the\n"
    "model's inputs and outputs with their dtypes and shapes (what tq run\n"
    "-i NAME=FILE and -o NAME=FILE take); then totals: parameters and\n"
    "multiply-accumulates (MACs) per input sample. With --layers, also the\n"
    "framework layers the nodes form (what keys address under --map-view\n"
    "layers): each layer's ID, its nodes, the node giving its output and\n"
    "its parameters; layout nodes (Transpose, Reshape, ...) belong to none.\n"
    "\n"
    "options:\n"
    "  --batch N   batch size used for dynamic dimensions (default 1)\n"
    "  --layers    also list the framework layers (JSON: always)\n"
    "  --json      one JSON object instead of the table\n"
    "\n"
    "examples:\n"
    "  tq info resnet18.onnx\n"
    "  tq info models/lenet-fashion-mnist.onnx --json | jq '.nodes[].id'\n";

static void shape_str(const tq_shape *s, char *buf, size_t n) {
  if (!s)
    snprintf(buf, n, "?");
  else
    tq_shape_format(s, buf, n);
}

typedef struct info_args {
  const char *path;
  long batch;
  int json;
  int layers;
} info_args;

static int parse_args(const char *cmd, int argc, char **argv, info_args *o) {
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--batch")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(cmd, "--batch", v, 1, 1 << 20, &o->batch))
        return 0;
    } else if (!strcmp(argv[i], "--json")) {
      o->json = 1;
    } else if (!strcmp(argv[i], "--layers")) {
      o->layers = 1;
    } else if (argv[i][0] == '-' || o->path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq info --help)",
                   argv[i]);
      return 0;
    } else {
      o->path = argv[i];
    }
  }
  if (!o->path) {
    tq_cli_error(cmd, "which model? usage: tq info MODEL.onnx");
    return 0;
  }
  return 1;
}

/* Node i as a table row, or (jnodes not NULL) as an object appended to
 * jnodes; adds its parameters and MACs to the totals. */
static void describe_node(const tq_graph *g, const tq_session *s, size_t i,
                          json_t *jnodes, double *total_params,
                          double *total_macs) {
  tq_node_info info;
  tq_graph_node_info(g, i, &info);
  double params = 0;
  for (size_t k = 0; k < info.n_weights; k++) {
    const tq_tensor *w = tq_graph_initializer(g, info.weights[k]);
    if (w) params += (double)tq_tensor_numel(w);
  }
  const double macs = tq_cli_node_macs(g, s, i);
  *total_params += params;
  *total_macs += macs;
  char in[128] = "", out[128] = "";
  if (info.n_inputs && info.inputs[0][0])
    shape_str(tq_session_value_shape(s, info.inputs[0]), in, sizeof in);
  shape_str(tq_session_value_shape(s, info.outputs[0]), out, sizeof out);
  /* Imported quantization nodes: the quantizer they equal. */
  char qdq[256] = "";
  tq_onnx_qdq_describe(g, i, qdq, sizeof qdq);
  if (jnodes) {
    json_t *jw = json_array();
    for (size_t k = 0; k < info.n_weights; k++)
      json_array_append_new(jw, json_string(info.weights[k]));
    json_array_append_new(
        jnodes, json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:o}", "id", info.id,
                          "op", info.op_type, "input", in, "output", out,
                          "params", params, "macs", macs, "weights", jw));
    if (qdq[0])
      json_object_set_new(json_array_get(jnodes, json_array_size(jnodes) - 1),
                          "quantizer", json_string(qdq));
    return;
  }
  printf("%-4zu %-40s %-18s %-26s %-20s %10.0f  ", i, info.id, info.op_type, in,
         out, params);
  for (size_t k = 0; k < info.n_weights; k++)
    printf("%s%s", k ? ", " : "", info.weights[k]);
  if (qdq[0]) printf("%s%s", info.n_weights ? "; " : "", qdq);
  printf("\n");
}

/* The model's inputs (as declared) and outputs (as planned), or as JSON
 * arrays into root. */
static void describe_io(const tq_graph *g, const tq_session *s, long batch,
                        json_t *root) {
  json_t *lists[2] = {root ? json_array() : NULL, root ? json_array() : NULL};
  for (int out = 0; out < 2; out++) {
    const size_t n = out ? tq_graph_output_count(g) : tq_graph_input_count(g);
    if (!root)
      printf(out ? "\noutputs (planned for batch %ld):\n"
                 : "\ninputs (-1: any size):\n",
             batch);
    for (size_t i = 0; i < n; i++) {
      const char *name =
          out ? tq_graph_output_name(g, i) : tq_graph_input_name(g, i);
      const tq_dtype dt =
          out ? tq_session_value_dtype(s, name) : tq_graph_input_dtype(g, i);
      const tq_shape *sh =
          out ? tq_session_value_shape(s, name) : tq_graph_input_shape(g, i);
      char shape[128];
      shape_str(sh, shape, sizeof shape);
      if (!root) {
        printf("  %-32s %-9s %s\n", name, tq_dtype_name(dt), shape);
        continue;
      }
      json_t *dims = json_array();
      for (int d = 0; sh && d < sh->ndim; d++)
        json_array_append_new(dims, json_integer((json_int_t)sh->dims[d]));
      json_array_append_new(lists[out],
                            json_pack("{s:s, s:s, s:o}", "name", name, "dtype",
                                      tq_dtype_name(dt), "shape", dims));
    }
  }
  if (root) {
    json_object_set_new(root, "inputs", lists[0]);
    json_object_set_new(root, "outputs", lists[1]);
  }
}

static void print_totals(const tq_graph *g, double params, double macs,
                         long batch) {
  printf("\n%zu nodes, %zu inputs (", tq_graph_node_count(g),
         tq_graph_input_count(g));
  for (size_t i = 0; i < tq_graph_input_count(g); i++) {
    char buf[128];
    tq_shape_format(tq_graph_input_shape(g, i), buf, sizeof buf);
    printf("%s%s %s", i ? ", " : "", tq_graph_input_name(g, i), buf);
  }
  printf("), %zu outputs\n", tq_graph_output_count(g));
  printf("parameters: %.0f (%.2f M)\n", params, params / 1e6);
  printf("MACs per input sample: %.0f (%.3f G)\n", macs / (double)batch,
         macs / (double)batch / 1e9);
}

/* The framework layers (docs/maps.md): a table, or (root not NULL) a
 * "layers" array in root and each node's layer in its object of jnodes. */
static void describe_layers(const tq_graph *g, const tq_session *s,
                            json_t *root, json_t *jnodes) {
  json_t *jl = root ? json_array() : NULL;
  if (!root)
    printf(
        "\nframework layers (keys address these under --map-view "
        "layers):\n%-4s %-40s %-6s %-44s %s\n",
        "#", "layer ID", "nodes", "output node", "parameters");
  for (size_t l = 0; l < tq_session_layer_count(s); l++) {
    tq_layer_info li;
    tq_node_info out;
    tq_session_layer(s, l, &li);
    tq_graph_node_info(g, li.output_node, &out);
    if (!root) {
      printf("%-4zu %-40s %-6zu %-44s ", l, li.id, li.n_nodes, out.id);
      for (size_t k = 0; k < li.n_params; k++)
        printf("%s%s", k ? ", " : "", li.params[k]);
      printf("\n");
      continue;
    }
    json_t *nodes = json_array(), *params = json_array();
    for (size_t m = 0; m < li.n_nodes; m++) {
      tq_node_info ni;
      tq_graph_node_info(g, li.nodes[m], &ni);
      json_array_append_new(nodes, json_string(ni.id));
    }
    for (size_t k = 0; k < li.n_params; k++)
      json_array_append_new(params, json_string(li.params[k]));
    json_array_append_new(
        jl, json_pack("{s:s, s:o, s:s, s:o}", "id", li.id, "nodes", nodes,
                      "output", out.id, "params", params));
  }
  if (!root) return;
  for (size_t i = 0; i < json_array_size(jnodes); i++) {
    const long l = tq_session_node_layer(s, i);
    tq_layer_info li;
    json_object_set_new(json_array_get(jnodes, i), "layer",
                        l >= 0 && tq_session_layer(s, (size_t)l, &li) == TQ_OK
                            ? json_string(li.id)
                            : json_null());
  }
  json_object_set_new(root, "layers", jl);
}

static void print_json(const info_args *o, const tq_graph *g,
                       const tq_session *s, json_t *jnodes, double params,
                       double macs) {
  json_t *root =
      json_pack("{s:s, s:i, s:o, s:f, s:f}", "model", o->path, "batch",
                (json_int_t)o->batch, "nodes", jnodes, "params", params,
                "macs_per_sample", macs / (double)o->batch);
  describe_io(g, s, o->batch, root);
  describe_layers(g, s, root, jnodes);
  char *text = json_dumps(root, JSON_INDENT(2));
  if (text) puts(text);
  free(text);
  json_decref(root);
}

/* Plans s for the batch (dynamic dimensions of the inputs set). */
static int plan(const char *cmd, tq_context *ctx, const tq_graph *g,
                tq_session *s, long batch) {
  tq_shape shapes[16];
  if (tq_graph_input_count(g) > 16) {
    tq_cli_error(cmd, "more than 16 model inputs");
    return 0;
  }
  tq_cli_input_shapes(g, batch, shapes);
  const tq_status st = tq_session_plan(ctx, s, shapes, tq_graph_input_count(g));
  if (st != TQ_OK) tq_cli_status_error(cmd, ctx, st);
  return st == TQ_OK;
}

static int run(int argc, char **argv) {
  const char *cmd = "info";
  info_args o = {.batch = 1};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) return TQ_EXIT_FAILURE;
  tq_graph *g = NULL;
  tq_session *s = NULL;
  int rc = TQ_EXIT_FAILURE;
  if (tq_cli_open_model(cmd, ctx, o.path, &g, &s) &&
      plan(cmd, ctx, g, s, o.batch)) {
    double params = 0, macs = 0;
    json_t *jnodes = o.json ? json_array() : NULL;
    if (!o.json)
      printf("%-4s %-40s %-18s %-26s %-20s %10s  %s\n", "#", "node ID", "op",
             "input", "output", "params", "weights");
    for (size_t i = 0; i < tq_graph_node_count(g); i++)
      describe_node(g, s, i, jnodes, &params, &macs);
    if (o.json) {
      print_json(&o, g, s, jnodes, params, macs);
    } else {
      if (o.layers) describe_layers(g, s, NULL, NULL);
      describe_io(g, s, o.batch, NULL);
      print_totals(g, params, macs, o.batch);
    }
    rc = TQ_EXIT_OK;
  }
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_info = {
    "info", "list a model's nodes, shapes, weights, parameters and MACs", run,
    help};
