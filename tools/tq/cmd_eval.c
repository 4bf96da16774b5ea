/* tq eval: accuracy and loss of a classifier on a dataset, float or
 * quantized. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "model_util.h"
#include "tensorquant/analysis.h"

static const char help[] =
    "usage: tq eval MODEL.onnx --data D [options]\n"
    "\n"
    "Evaluates a classifier on a dataset: top-1 and top-5 accuracy, mean\n"
    "cross-entropy and throughput, in float or under quantizer maps.\n"
    "\n"
    "options:\n"
    "  -d, --data D       fashion-mnist, a directory of IDX files, or\n"
    "                     X.npy,y.npy, or one .npy per model input and the\n"
    "                     labels: NAME=a.npy,NAME=b.npy,labels=y.npy\n"
    "                     (see docs/data.md)\n"
    "      --split S      test (default) or train\n"
    "      --limit N      evaluate the first N samples only\n"
    "      --normalize M:S[,M:S...]  feed (x - M) / S per channel (models\n"
    "                     that expect normalized inputs)\n"
    "      --batch N      samples per run (default 256); stochastic\n"
    "                     rounding does not depend on it (OpenBLAS's\n"
    "                     float sums for other sizes may round\n"
    "                     differently)\n" TQ_CLI_MAPS_HELP
    "      --seed N       seed for stochastic rounding (default 0)\n"
    "      --threads N    threads to use\n"
    "      --json         print one JSON object (top1, top5, loss, n,\n"
    "                     images_per_s, seconds)\n"

    "  -q, --quiet        no progress display\n"
    "\n"
    "Under mpirun, batches are spread over the ranks and the results\n"
    "gathered on rank 0: the same numbers as one process.\n"
    "\n"
    "examples:\n"
    "  tq eval models/lenet-fashion-mnist.onnx --data fashion-mnist\n"
    "  tq eval lenet.onnx --data fashion-mnist --extr nearest,8,4 \\\n"
    "      --weights nearest,8,6 --json\n"
    "  tq eval model.onnx --data x.npy,y.npy --map maps.json --limit 1000\n";

typedef struct progress_ctx {
  tq_progress bar;
} progress_ctx;

static int on_batch(void *user, size_t done, size_t total,
                    const tq_eval_result *r) {
  progress_ctx *p = user;
  char extra[96];
  snprintf(extra, sizeof extra, "top-1 %.2f %%  %.0f img/s", 100.0 * r->top1,
           r->images_per_s);
  tq_progress_update(&p->bar, "eval", done, total, extra);
  return tq_cli_interrupted();
}

static int on_units(void *user, size_t done, size_t total) {
  progress_ctx *p = user;
  tq_progress_update(&p->bar, "eval", done, total, NULL);
  return tq_cli_interrupted();
}

typedef struct eval_args {
  const char *path;
  tq_cli_maps maps;
  tq_cli_data d;
  int json, quiet;
} eval_args;

static int parse_args(const char *cmd, int argc, char **argv, eval_args *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (!m) m = tq_cli_data_option(cmd, &o->d, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (!strcmp(a, "--json")) {
      o->json = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->quiet = 1;
    } else if (a[0] == '-' || o->path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq eval --help)", a);
      return 0;
    } else {
      o->path = a;
    }
  }
  if (!o->path || !o->d.data) {
    tq_cli_error(cmd, "needs MODEL.onnx and --data D (see tq eval --help)");
    return 0;
  }
  return 1;
}

/* The first n samples under the session's maps (set), with a progress
 * bar; under mpirun spread over the ranks. */
static tq_status evaluate(tq_context *ctx, const eval_args *o, tq_session *s,
                          const tq_qmap_set *set, const tq_dataset *ds,
                          size_t n, tq_eval_result *r) {
  const int batch = o->d.batch ? (int)o->d.batch : 256;
  progress_ctx pc;
  tq_progress_start(&pc.bar, !o->quiet && !o->json && tq_cli_comm_is_root());
  tq_status st;
  if (tq_cli_comm()) {
    /* Several ranks: batches spread over them, results gathered in sample
     * order, so the numbers are those of one process. */
    tq_calibration *cal = NULL; /* the ranges --calib gave the session */
    st = o->maps.calib ? tq_calibration_load(ctx, o->maps.calib, &cal) : TQ_OK;
    tq_multi_eval_opts mo = {.batch = batch,
                             .seed = o->d.seed,
                             .comm = tq_cli_comm(),
                             .progress = on_units,
                             .progress_user = &pc,
                             .calibration = cal};
    tq_config_result cr = {0};
    if (st == TQ_OK)
      st = tq_evaluate_configs(ctx, tq_session_graph(s), ds, NULL, n, &set, 1,
                               &mo, NULL, &cr);
    tq_calibration_destroy(cal);
    *r = cr.eval;
  } else {
    st = tq_evaluate(ctx, s, ds, NULL, n, batch, on_batch, &pc, NULL, r);
  }
  tq_progress_end(&pc.bar);
  return st;
}

static void print_result(const eval_args *o, const tq_dataset *ds,
                         const tq_eval_result *r) {
  const char *split = o->d.split ? o->d.split : "test";
  if (o->json) {
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f}", "model", o->path,
        "data", tq_dataset_name(ds), "split", split, "n", (json_int_t)r->n,
        "top1", r->top1, "top5", r->top5, "loss", r->loss, "images_per_s",
        r->images_per_s, "seconds", r->seconds);
    char *text = j ? json_dumps(j, 0) : NULL;
    if (text) printf("%s\n", text);
    free(text);
    json_decref(j);
    return;
  }
  printf("model     %s\n", o->path);
  printf("data      %s, %s split, %zu samples\n", tq_dataset_name(ds), split,
         r->n);
  printf("top-1     %.2f %%\n", 100.0 * r->top1);
  printf("top-5     %.2f %%\n", 100.0 * r->top5);
  printf("loss      %.4f\n", r->loss);
  printf("speed     %.0f images/s (%.2f s)\n", r->images_per_s, r->seconds);
}

static int run(int argc, char **argv) {
  const char *cmd = "eval";
  eval_args o = {0};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_cli_model_data md;
  int rc = TQ_EXIT_FAILURE;
  if (tq_cli_model_data_open(cmd, o.path, &o.maps, &o.d, &md)) {
    tq_eval_result r;
    const tq_status st = evaluate(md.ctx, &o, md.s, md.set, md.ds, md.n, &r);
    if (st != TQ_OK) {
      tq_cli_status_error(cmd, md.ctx, st);
    } else {
      if (tq_cli_comm_is_root()) print_result(&o, md.ds, &r);
      rc = TQ_EXIT_OK;
    }
  }
  tq_cli_model_data_close(&md);
  return rc;
}

const tq_command tq_cmd_eval = {"eval",
                                "accuracy and loss of a classifier on a "
                                "dataset, float or quantized",
                                run, help};
