/* tq run: run a model on an input batch, float or quantized. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_util.h"

static const char help[] =
    "usage: tq run MODEL.onnx -i X.npy -o Y.npy [options]\n"
    "\n"
    "Runs the model on the inputs in X.npy (first dimension = batch) and\n"
    "writes its first output to Y.npy, in float or under quantizer maps.\n"
    "\n"
    "options:\n"
    "  -i, --input FILE   input .npy (any numeric dtype, read as float32)\n"
    "  -o, --output FILE  output .npy (float32), written "
    "atomically\n" TQ_CLI_MAPS_HELP
    "      --seed N       seed for stochastic rounding (default 0)\n"
    "      --threads N    threads to use\n"
    "      --fast-conv    let 3x3 stride-1 convolutions use Winograd\n"
    "                     F(4x4, 3x3) (about 8 % faster on ResNet-18);\n"
    "                     its rounding errors scale with each 6x6 input\n"
    "                     patch, so outputs that are exactly 0 become\n"
    "                     noise of ~1e-5 of the patch's magnitude\n"
    "      --conv-impl LIST\n"
    "                     float convolution implementations in order of\n"
    "                     preference (default: winograd2,depthwise,\n"
    "                     pointwise,im2col; also winograd4; im2col is\n"
    "                     always the last resort; see docs/ops.md)\n"
    "      --batch N      run N samples at a time (default: all at once);\n"
    "                     stochastic rounding does not depend on it, float\n"
    "                     convolutions may round differently per batch size\n"
    "      --dump DIR     write every node's output (first batch) as\n"
    "                     DIR/<node-id>.npy, IDs made file-safe\n"
    "      --compare REF  compare the output with REF.npy: max and mean\n"
    "                     absolute error, argmax agreement\n"
    "\n"
    "examples:\n"
    "  tq run resnet18.onnx -i images.npy -o logits.npy\n"
    "  tq run resnet18.onnx -i images.npy -o q.npy --extr nearest,8,4 \\\n"
    "      --weights nearest,8,6 --compare logits.npy\n"
    "  tq run lenet.onnx -i x.npy -o y.npy --map maps.json --dump layers/\n";

typedef struct dump_ctx {
  const char *dir;
  tq_context *ctx;
  int failed;
} dump_ctx;

static int dump_value(void *user, size_t node, const char *id, size_t k,
                      const char *value, const tq_tensor *t) {
  (void)node, (void)value;
  dump_ctx *d = user;
  if (tq_tensor_dtype(t) != TQ_DTYPE_FLOAT32) return 0;
  char name[512];
  size_t n = 0;
  for (const char *p = id; *p && n + 1 < 400; p++) {
    char c = *p;
    int safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    name[n++] = safe ? c : '_';
  }
  name[n] = '\0';
  if (n == 0 || name[0] == '.') name[0] = '_';
  char path[1024];
  if (k)
    snprintf(path, sizeof path, "%s/%s__%zu.npy", d->dir, name, k);
  else
    snprintf(path, sizeof path, "%s/%s.npy", d->dir, name);
  if (tq_npy_write(d->ctx, path, tq_tensor_cdata(t), tq_tensor_shape(t)) !=
      TQ_OK) {
    d->failed = 1;
    return 1;
  }
  return 0;
}

static void compare(const float *y, const tq_shape *ys, const char *ref_path,
                    tq_context *ctx) {
  float *r = NULL;
  tq_shape rs;
  tq_status st = tq_npy_read(ctx, ref_path, &r, &rs);
  if (st != TQ_OK) {
    tq_cli_status_error("run", ctx, st);
    return;
  }
  size_t n = tq_shape_numel(ys, NULL), rn = tq_shape_numel(&rs, NULL);
  if (n != rn) {
    tq_cli_error("run", "--compare: %s has %zu values, the output %zu",
                 ref_path, rn, n);
    tq_free(r);
    return;
  }
  double max_err = 0, sum_err = 0, max_ref = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)y[i] - (double)r[i]);
    if (e > max_err || isnan(e)) max_err = e;
    sum_err += e;
    if (fabs(r[i]) > max_ref) max_ref = fabs(r[i]);
  }
  printf(
      "compare with %s: max abs error %.6g (%.3g of max |ref| %.6g), "
      "mean abs error %.6g\n",
      ref_path, max_err, max_ref > 0 ? max_err / max_ref : 0.0, max_ref,
      n ? sum_err / (double)n : 0.0);
  if (ys->ndim >= 2 && ys->dims[0] > 0) {
    size_t rows = (size_t)ys->dims[0], cols = n / rows, agree = 0;
    for (size_t i = 0; i < rows; i++) {
      size_t ay = 0, ar = 0;
      for (size_t j = 1; j < cols; j++) {
        if (y[i * cols + j] > y[i * cols + ay]) ay = j;
        if (r[i * cols + j] > r[i * cols + ar]) ar = j;
      }
      agree += ay == ar;
    }
    printf("argmax agreement: %zu of %zu (%.2f %%)\n", agree, rows,
           100.0 * (double)agree / (double)rows);
  }
  tq_free(r);
}

typedef struct run_args {
  const char *path, *in_path, *out_path, *dump_dir, *ref_path;
  tq_cli_maps maps;
  uint64_t seed;
  long threads, batch;
  int fast_conv;
  const char *conv_impl;
} run_args;

/* An option of tq run other than the map options: 1 taken, 0 not one, -1
 * a bad value (error printed). */
static int run_option(const char *cmd, run_args *o, int argc, char **argv,
                      int *i) {
  const char *a = argv[*i], *v;
  const char **file = !strcmp(a, "-i") || !strcmp(a, "--input") ? &o->in_path
                      : !strcmp(a, "-o") || !strcmp(a, "--output")
                          ? &o->out_path
                      : !strcmp(a, "--dump")      ? &o->dump_dir
                      : !strcmp(a, "--compare")   ? &o->ref_path
                      : !strcmp(a, "--conv-impl") ? &o->conv_impl
                                                  : NULL;
  if (file) return (*file = tq_cli_value(cmd, argc, argv, i)) ? 1 : -1;
  if (!strcmp(a, "--fast-conv")) return o->fast_conv = 1;
  if (strcmp(a, "--seed") && strcmp(a, "--threads") && strcmp(a, "--batch"))
    return 0;
  if (!(v = tq_cli_value(cmd, argc, argv, i))) return -1;
  const int ok = !strcmp(a, "--seed") ? tq_cli_parse_u64(cmd, a, v, &o->seed)
                 : !strcmp(a, "--threads")
                     ? tq_cli_parse_int(cmd, a, v, 1, 4096, &o->threads)
                     : tq_cli_parse_int(cmd, a, v, 1, 1 << 24, &o->batch);
  return ok ? 1 : -1;
}

static int parse_args(const char *cmd, int argc, char **argv, run_args *o) {
  for (int i = 1; i < argc; i++) {
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (!m) m = run_option(cmd, o, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (argv[i][0] == '-' || o->path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq run --help)",
                   argv[i]);
      return 0;
    }
    o->path = argv[i];
  }
  if (!o->path || !o->in_path || (!o->out_path && !o->ref_path)) {
    tq_cli_error(cmd,
                 "needs MODEL.onnx, -i X.npy and -o Y.npy (see tq run "
                 "--help)");
    return 0;
  }
  return 1;
}

/* The model with its maps, the inputs, the dump directory. Prints errors;
 * returns 1 on success. */
static int prepare(const char *cmd, tq_context *ctx, const run_args *o,
                   tq_graph **g, tq_session **s, tq_qmap_set **set, float **x,
                   tq_shape *xs) {
  if (!tq_cli_open_model(cmd, ctx, o->path, g, s)) return 0;
  if (tq_graph_input_count(*g) != 1) {
    tq_cli_error(cmd, "%s has %zu inputs; tq run feeds models with one input",
                 o->path, tq_graph_input_count(*g));
    return 0;
  }
  if (!tq_cli_maps_load(cmd, ctx, &o->maps, set)) return 0;
  tq_session_set_seed(*s, o->seed);
  tq_status st = tq_session_set_maps(ctx, *s, *set);
  if (st == TQ_OK) st = tq_npy_read(ctx, o->in_path, x, xs);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  if (xs->ndim < 1 || xs->ndim > TQ_TENSOR_MAX_DIMS) {
    tq_cli_error(cmd, "%s: expected a batch of inputs (rank 1..%d)", o->in_path,
                 TQ_TENSOR_MAX_DIMS);
    return 0;
  }
  if (o->dump_dir && mkdir(o->dump_dir, 0777) != 0 && errno != EEXIST) {
    tq_cli_error(cmd, "cannot create --dump directory %s: %s", o->dump_dir,
                 strerror(errno));
    return 0;
  }
  return 1;
}

/* Runs x ([total, ...]) in batches of o->batch (all at once when 0) into
 * *y (malloc'ed) of shape *ys; the first batch's values are dumped. */
static int run_batches(const char *cmd, tq_context *ctx, const run_args *o,
                       tq_session *s, const float *x, const tq_shape *xs,
                       float **y, tq_shape *ys) {
  dump_ctx dump = {o->dump_dir, ctx, 0};
  size_t total = (size_t)xs->dims[0],
         step = o->batch ? (size_t)o->batch : total;
  size_t per_in = total ? tq_shape_numel(xs, NULL) / total : 0;
  size_t per_out = 0;
  if (step == 0) step = 1;
  tq_status st = TQ_OK;
  for (size_t first = 0; first < total || (total == 0 && first == 0);
       first += step) {
    size_t count = total - first < step ? total - first : step;
    tq_shape bs = *xs;
    bs.dims[0] = (int64_t)count;
    tq_tensor *xt = NULL, *yt = NULL;
    st = tq_tensor_from_floats(ctx, &bs, x + first * per_in, &xt);
    tq_session_set_observer(s, o->dump_dir && first == 0 ? dump_value : NULL,
                            &dump);
    tq_run_opts ro = {.sample_offset = first};
    const tq_tensor *ins[] = {xt};
    if (st == TQ_OK) st = tq_session_run(ctx, s, ins, 1, &yt, 1, &ro);
    const char *problem = NULL;
    if (st == TQ_OK && !*y) {
      *ys = *tq_tensor_shape(yt);
      per_out = count ? tq_tensor_numel(yt) / count : 0;
      if (ys->ndim >= 1) ys->dims[0] = (int64_t)total;
      const size_t out_elems = total * per_out;
      if (!(*y = malloc((out_elems ? out_elems : 1) * sizeof **y)))
        problem = "out of memory for the output";
    }
    if (st == TQ_OK && !problem && tq_tensor_numel(yt) != count * per_out)
      problem = "the output size changes between batches";
    if (st == TQ_OK && !problem)
      memcpy(*y + first * per_out, tq_tensor_cdata(yt),
             count * per_out * sizeof **y);
    tq_tensor_destroy(xt);
    tq_tensor_destroy(yt);
    if (st != TQ_OK || dump.failed) {
      tq_cli_status_error(cmd, ctx, st);
      return 0;
    }
    if (problem) {
      tq_cli_error(cmd, "%s", problem);
      return 0;
    }
    if (total == 0) break;
  }
  return 1;
}

static int run(int argc, char **argv) {
  const char *cmd = "run";
  run_args o = {0};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_context *ctx = tq_cli_context(o.threads);
  if (!ctx) return TQ_EXIT_FAILURE;
  if (!tq_cli_conv_impls(cmd, ctx, o.conv_impl, o.fast_conv)) {
    tq_context_destroy(ctx);
    return TQ_EXIT_USAGE;
  }
  int rc = TQ_EXIT_FAILURE;
  tq_graph *g = NULL;
  tq_session *s = NULL;
  tq_qmap_set *set = NULL;
  float *x = NULL, *y = NULL;
  tq_shape xs, ys = {0};
  if (prepare(cmd, ctx, &o, &g, &s, &set, &x, &xs) &&
      run_batches(cmd, ctx, &o, s, x, &xs, &y, &ys)) {
    const tq_status st =
        o.out_path ? tq_npy_write(ctx, o.out_path, y, &ys) : TQ_OK;
    if (st != TQ_OK) tq_cli_status_error(cmd, ctx, st);
    if (st == TQ_OK && o.ref_path) compare(y, &ys, o.ref_path, ctx);
    if (st == TQ_OK) rc = TQ_EXIT_OK;
  }
  free(y);
  tq_free(x);
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_run = {
    "run", "run a model on an input batch, float or quantized", run, help};
