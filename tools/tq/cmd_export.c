/* tq export: write a model back as ONNX, optionally with quantized weights
 * baked in. */
#include <stdlib.h>
#include <string.h>

#include "model_util.h"

static const char help[] =
    "usage: tq export MODEL.onnx -o OUT.onnx [--weights MAP | --map FILE]\n"
    "\n"
    "Writes the model as a valid ONNX file (atomically). With a weights\n"
    "map, every weight the map selects is replaced by its quantized values\n"
    "(still float32), so any ONNX runtime computes with the quantized\n"
    "weights.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE  the ONNX file to write\n"
    "      --weights MAP  a flat JSON weights map or one spec for all layers\n"
    "      --map FILE     a sectioned map file (its weights section is used)\n"
    "      --seed N       seed for stochastic rounding of weights\n"
    "\n"
    "examples:\n"
    "  tq export resnet18.onnx -o resnet18-w8.onnx --weights nearest,8,6\n"
    "  tq export lenet.onnx -o lenet-q.onnx --map maps.json\n";

static int run(int argc, char **argv) {
  const char *cmd = "export", *path = NULL, *out_path = NULL;
  tq_cli_maps maps = {0};
  uint64_t seed = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "--extr") || !strcmp(a, "--intr")) {
      tq_cli_error(cmd, "%s does not apply: only weights can be baked into "
                        "an ONNX file",
                   a);
      return TQ_EXIT_USAGE;
    }
    int m = tq_cli_maps_option(cmd, &maps, argc, argv, &i);
    if (m < 0) return TQ_EXIT_USAGE;
    if (m) continue;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(out_path = tq_cli_value(cmd, argc, argv, &i))) return TQ_EXIT_USAGE;
    } else if (!strcmp(a, "--seed")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_u64(cmd, a, v, &seed))
        return TQ_EXIT_USAGE;
    } else if (a[0] == '-' || path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq export --help)", a);
      return TQ_EXIT_USAGE;
    } else {
      path = a;
    }
  }
  if (!path || !out_path) {
    tq_cli_error(cmd, "needs MODEL.onnx and -o OUT.onnx (see tq export --help)");
    return TQ_EXIT_USAGE;
  }
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) return TQ_EXIT_FAILURE;
  int rc = TQ_EXIT_FAILURE;
  tq_graph *g = NULL;
  tq_session *s = NULL;
  tq_qmap_set *set = NULL;
  tq_status st = TQ_OK;
  /* The session quantizes the weights exactly as tq run does (same
   * streams, same seed); bake its copies into the graph. */
  if (!tq_cli_open_quantized(cmd, ctx, path, &maps, seed, &g, &s, &set))
    goto done;
  size_t baked = 0;
  for (size_t i = 0; i < tq_graph_node_count(g); i++) {
    tq_node_info info;
    tq_graph_node_info(g, i, &info);
    for (size_t k = 1; k < info.n_inputs; k++) {
      const tq_tensor *q = tq_session_quantized_weight(s, i, k);
      if (!q) continue;
      if ((st = tq_graph_set_initializer(ctx, g, info.inputs[k], q)) != TQ_OK)
        goto fail;
      baked++;
    }
  }
  if ((st = tq_onnx_save(ctx, g, out_path)) != TQ_OK) goto fail;
  printf("wrote %s (%zu nodes, %zu weight tensors quantized)\n", out_path,
         tq_graph_node_count(g), baked);
  rc = TQ_EXIT_OK;
  goto done;
fail:
  tq_cli_status_error(cmd, ctx, st);
done:
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_export = {
    "export", "write a model as ONNX, optionally with quantized weights", run,
    help};
