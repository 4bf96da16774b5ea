/* tq calibrate: the range each layer's output takes on a dataset, for the
 * `static` specs of --calib (docs/analysis.md, "Calibration"). */
#include <stdlib.h>
#include <string.h>

#include "model_util.h"

static const char help[] =
    "usage: tq calibrate MODEL.onnx --data D -o calib.json [options]\n"
    "\n"
    "Runs the float model over samples of a dataset and writes the range\n"
    "of every layer's output - what the layer's extrinsic quantizer sees -\n"
    "as {\"method\": ..., \"samples\": N, \"layers\": {\"<layer ID>\":\n"
    "{\"min\": lo, \"max\": hi}}}. `static` activation specs take their\n"
    "scale from it (--calib calib.json on run, eval, sweep, sensitivity,\n"
    "search, export).\n"
    "\n"
    "options:\n"
    "  -d, --data D       the dataset (see tq eval --help)\n"
    "      --split S      train (default) or test\n"
    "      --limit N      the first N samples only\n"
    "      --normalize M:S[,M:S...]  feed (x - M) / S per channel\n"
    "      --batch N      samples per run (default 64)\n"
    "      --method M     minmax (default): the exact range;\n"
    "                     percentile[=P]: +-T, T the P-th percentile of |x|\n"
    "                     (default 99.999; ONNX Runtime's Percentile);\n"
    "                     entropy: TensorRT's KL method (ONNX Runtime's\n"
    "                     Entropy); mse: the range with the least\n"
    "                     quantization error for the layer's static\n"
    "                     extrinsic spec (--extr/--map; else int,8,static)\n"
    "      --bins N       histogram bins (default 2048)\n"
    "      --extr MAP, --map FILE  the specs mse calibrates for\n"
    "  -o, --output FILE  where to write calib.json (required)\n"
    "      --threads N    threads to use\n"
    "\n"
    "examples:\n"
    "  tq calibrate lenet.onnx --data fashion-mnist --limit 1000 \\\n"
    "      --method percentile=99.99 -o calib.json\n"
    "  tq eval lenet.onnx --data fashion-mnist --extr int,8,static \\\n"
    "      --calib calib.json\n";

typedef struct calib_args {
  const char *path, *method, *out;
  long bins;
  tq_cli_maps maps;
  tq_cli_data d;
} calib_args;

static int parse_args(const char *cmd, int argc, char **argv, calib_args *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (!m) m = tq_cli_data_option(cmd, &o->d, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (!strcmp(a, "--method")) {
      if (!(o->method = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(o->out = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "--bins")) {
      const char *v = tq_cli_value(cmd, argc, argv, &i);
      if (!v || !tq_cli_parse_int(cmd, a, v, 2, 1L << 20, &o->bins)) return 0;
    } else if (a[0] == '-' || o->path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq calibrate --help)",
                   a);
      return 0;
    } else {
      o->path = a;
    }
  }
  if (!o->path || !o->d.data || !o->out) {
    tq_cli_error(cmd,
                 "needs MODEL.onnx, --data D and -o calib.json (see tq "
                 "calibrate --help)");
    return 0;
  }
  if (o->maps.calib) {
    tq_cli_error(cmd, "--calib: calibrate writes a calibration (-o)");
    return 0;
  }
  return 1;
}

static int run(int argc, char **argv) {
  const char *cmd = "calibrate";
  calib_args o = {.d = {.split = "train"}, .method = "minmax"};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_calib_opts co = {.num_bins = (int)o.bins, .batch = (int)o.d.batch};
  tq_context *ctx = tq_cli_context(o.d.threads);
  if (!ctx) return TQ_EXIT_FAILURE;
  tq_status st = tq_calib_method_parse(ctx, o.method, &co);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    tq_context_destroy(ctx);
    return TQ_EXIT_USAGE;
  }
  tq_graph *g = NULL;
  tq_dataset *ds = NULL;
  tq_qmap_set *set = NULL;
  tq_calibration *c = NULL;
  size_t n = 0;
  int rc = TQ_EXIT_FAILURE;
  if ((st = tq_onnx_load(ctx, o.path, &g)) != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
  } else if (tq_cli_maps_load(cmd, ctx, &o.maps, &set) &&
             tq_cli_open_data(cmd, ctx, &o.d, &ds, &n)) {
    co.limit = n;
    co.maps = set;
    st = tq_calibrate(ctx, g, ds, &co, &c);
    if (st == TQ_OK) st = tq_calibration_save(ctx, c, o.out);
    if (st != TQ_OK)
      tq_cli_status_error(cmd, ctx, st);
    else {
      printf("calibrated %zu layers on %zu samples (%s): %s\n",
             tq_calibration_count(c), tq_calibration_samples(c),
             tq_calibration_method(c), o.out);
      rc = TQ_EXIT_OK;
    }
  }
  tq_calibration_destroy(c);
  tq_dataset_destroy(ds);
  tq_qmap_set_destroy(set);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_calibrate = {
    "calibrate",
    "the range of every layer's output on a dataset, for static "
    "specs",
    run, help};
