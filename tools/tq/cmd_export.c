/* tq export: write a model back as ONNX, optionally with quantized weights
 * baked in. */
#include <stdlib.h>
#include <string.h>

#include "model_util.h"

static const char help[] =
    "usage: tq export MODEL.onnx -o OUT.onnx [--weights MAP | --map FILE]\n"
    "                 [--qdq]\n"
    "\n"
    "Writes the model as a valid ONNX file (atomically). With a weights\n"
    "map, every weight the map selects is replaced by its quantized values\n"
    "(still float32), so any ONNX runtime computes with the quantized\n"
    "weights. With --qdq, the weights an int,B quantizer selects are\n"
    "written as int8/uint8 tensors read through DequantizeLinear with\n"
    "their scales and zero points (ONNX QDQ, as ONNX Runtime's quantizer\n"
    "writes them); formats ONNX cannot express are refused, naming the\n"
    "layer and the format.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE  the ONNX file to write\n"
    "      --weights MAP  a flat JSON weights map or one spec for all layers\n"
    "      --map FILE     a sectioned map file (its weights section is used)\n"
    "      --seed N       seed for stochastic rounding of weights\n"
    "      --qdq          write int quantizers as QDQ (see above)\n"
    "\n"
    "examples:\n"
    "  tq export resnet18.onnx -o resnet18-w8.onnx --weights nearest,8,6\n"
    "  tq export lenet.onnx -o lenet-q.onnx --map maps.json\n"
    "  tq export lenet.onnx -o lenet-qdq.onnx --weights int,8 --qdq\n";

typedef struct export_args {
  const char *path, *out_path;
  tq_cli_maps maps;
  uint64_t seed;
  int qdq;
} export_args;

static int parse_args(const char *cmd, int argc, char **argv, export_args *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "--extr") || !strcmp(a, "--intr")) {
      tq_cli_error(cmd,
                   "%s does not apply: only weights can be baked into "
                   "an ONNX file",
                   a);
      return 0;
    }
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(o->out_path = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "--qdq")) {
      o->qdq = 1;
    } else if (!strcmp(a, "--calib")) {
      tq_cli_error(cmd,
                   "--calib is not supported yet: activations with static "
                   "scales are not written as QDQ yet");
      return 0;
    } else if (!strcmp(a, "--seed")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_u64(cmd, a, v, &o->seed))
        return 0;
    } else if (a[0] == '-' || o->path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq export --help)", a);
      return 0;
    } else {
      o->path = a;
    }
  }
  if (!o->path || !o->out_path) {
    tq_cli_error(cmd,
                 "needs MODEL.onnx and -o OUT.onnx (see tq export --help)");
    return 0;
  }
  return 1;
}

/* Replaces every weight the session quantized by its quantized copy. */
static tq_status bake(tq_context *ctx, tq_graph *g, const tq_session *s,
                      size_t *baked) {
  for (size_t i = 0; i < tq_graph_node_count(g); i++) {
    tq_node_info info;
    tq_graph_node_info(g, i, &info);
    /* From input 0: under the layer view a bias may come first. */
    for (size_t k = 0; k < info.n_inputs; k++) {
      const tq_tensor *q = tq_session_quantized_weight(s, i, k);
      if (!q) continue;
      tq_status st = tq_graph_set_initializer(ctx, g, info.inputs[k], q);
      if (st != TQ_OK) return st;
      ++*baked;
    }
  }
  return TQ_OK;
}

static int run(int argc, char **argv) {
  const char *cmd = "export";
  export_args o = {0};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_context *ctx = tq_cli_context(0);
  if (!ctx) return TQ_EXIT_FAILURE;
  int rc = TQ_EXIT_FAILURE;
  tq_graph *g = NULL;
  tq_session *s = NULL;
  tq_qmap_set *set = NULL;
  /* The session quantizes the weights exactly as tq run does (same
   * streams, same seed); bake its copies into the graph. */
  if (tq_cli_open_quantized(cmd, ctx, o.path, &o.maps, o.seed, &g, &s, &set)) {
    size_t baked = 0;
    tq_status st =
        o.qdq ? tq_onnx_save_qdq(ctx, s, o.out_path) : bake(ctx, g, s, &baked);
    if (st == TQ_OK && !o.qdq) st = tq_onnx_save(ctx, g, o.out_path);
    if (st != TQ_OK) {
      tq_cli_status_error(cmd, ctx, st);
    } else {
      if (o.qdq)
        printf("wrote %s (QDQ)\n", o.out_path);
      else
        printf("wrote %s (%zu nodes, %zu weight tensors quantized)\n",
               o.out_path, tq_graph_node_count(g), baked);
      rc = TQ_EXIT_OK;
    }
  }
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_export = {
    "export", "write a model as ONNX, optionally with quantized weights", run,
    help};
