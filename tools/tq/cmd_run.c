/* tq run: run a model on named, typed inputs, float or quantized; write
 * any of its outputs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_util.h"
#include "run_batches.h"

static const char help[] =
    "usage: tq run MODEL.onnx -i [NAME=]X.npy ... [-o [NAME=]Y.npy ...]\n"
    "              [--outputs DIR] [options]\n"
    "\n"
    "Runs the model on the inputs in the .npy files (first dimension =\n"
    "batch) and writes its outputs, in float or under quantizer maps. Each\n"
    "input's file must hold the dtype the model declares (a float32 input\n"
    "takes any file, converted); tq info lists them. Nothing is\n"
    "written when the run fails.\n"
    "\n"
    "options:\n"
    "  -i, --input [NAME=]FILE   an input .npy; NAME= binds the model input\n"
    "                     NAME, a bare FILE the first input no NAME= names\n"
    "                     (repeat for each input; a path with '=' in it:\n"
    "                     write ./a=b.npy)\n"
    "  -o, --output [NAME=]FILE  write output NAME (bare: the first output\n"
    "                     no NAME= names) to FILE, in its dtype, atomically\n"
    "      --outputs DIR  write every output as DIR/<name>.npy (names made\n"
    "                     file-safe as --dump does; DIR is "
    "created)\n" TQ_CLI_MAPS_HELP
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
    "      --compare REF  compare the first output written (or the model's\n"
    "                     first output) with REF.npy: max and mean absolute\n"
    "                     error, argmax agreement\n"
    "\n"
    "examples:\n"
    "  tq run resnet18.onnx -i images.npy -o logits.npy\n"
    "  tq run resnet18.onnx -i images.npy -o q.npy --extr nearest,8,4 \\\n"
    "      --weights nearest,8,6 --compare logits.npy\n"
    "  tq run lenet.onnx -i x.npy -o y.npy --map maps.json --dump layers/\n"
    "  tq run bert.onnx -i input_ids=ids.npy -i attention_mask=mask.npy \\\n"
    "      -o logits.npy --outputs all/\n";

typedef struct run_args {
  const char *path, *outputs_dir, *dump_dir, *ref_path;
  tq_run_io in[TQ_RUN_MAX_IO], out[TQ_RUN_MAX_IO];
  size_t n_in, n_out;
  tq_cli_maps maps;
  uint64_t seed;
  long threads, batch;
  int fast_conv;
  const char *conv_impl;
} run_args;

typedef struct dump_ctx {
  const char *dir;
  tq_context *ctx;
  int failed;
} dump_ctx;

static int dump_value(void *user, size_t node, const char *id, size_t k,
                      const char *value, const tq_tensor *t) {
  (void)node, (void)value;
  dump_ctx *d = user;
  char name[512], path[1024];
  tq_run_safe_name(id, name, sizeof name);
  if (k)
    snprintf(path, sizeof path, "%s/%s__%zu.npy", d->dir, name, k);
  else
    snprintf(path, sizeof path, "%s/%s.npy", d->dir, name);
  if (tq_npy_write_tensor(d->ctx, path, t) != TQ_OK) {
    d->failed = 1;
    return 1;
  }
  return 0;
}

static void compare(const tq_tensor *out, const char *ref_path,
                    tq_context *ctx) {
  float *r = NULL;
  tq_shape rs;
  tq_tensor *yf = NULL;
  tq_status st = tq_npy_read(ctx, ref_path, &r, &rs);
  if (st == TQ_OK) st = tq_tensor_cast(ctx, out, TQ_DTYPE_FLOAT32, &yf);
  if (st != TQ_OK) {
    tq_cli_status_error("run", ctx, st);
    tq_free(r);
    return;
  }
  const float *y = tq_tensor_cdata(yf);
  const tq_shape *ys = tq_tensor_shape(yf);
  size_t n = tq_tensor_numel(yf), rn = tq_shape_numel(&rs, NULL);
  if (n != rn) {
    tq_cli_error("run", "--compare: %s has %zu values, the output %zu",
                 ref_path, rn, n);
    tq_free(r);
    tq_tensor_destroy(yf);
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
  tq_tensor_destroy(yf);
}

/* -i/-o: 1 taken, 0 not one of them, -1 an error (printed). */
static int io_option(const char *cmd, run_args *o, int argc, char **argv,
                     int *i) {
  const char *a = argv[*i];
  const int is_in = !strcmp(a, "-i") || !strcmp(a, "--input");
  if (!is_in && strcmp(a, "-o") && strcmp(a, "--output")) return 0;
  size_t *n = is_in ? &o->n_in : &o->n_out;
  if (!tq_cli_value(cmd, argc, argv, i)) return -1;
  if (*n == TQ_RUN_MAX_IO) {
    tq_cli_error(cmd, "more than %d %s arguments", TQ_RUN_MAX_IO, a);
    return -1;
  }
  (is_in ? o->in : o->out)[(*n)++] = tq_run_io_parse(argv[*i]);
  return 1;
}

/* An option of tq run other than the map options: 1 taken, 0 not one, -1
 * a bad value (error printed). */
static int run_option(const char *cmd, run_args *o, int argc, char **argv,
                      int *i) {
  const char *a = argv[*i], *v;
  const int io = io_option(cmd, o, argc, argv, i);
  if (io) return io;
  const char **dir = !strcmp(a, "--outputs")     ? &o->outputs_dir
                     : !strcmp(a, "--dump")      ? &o->dump_dir
                     : !strcmp(a, "--compare")   ? &o->ref_path
                     : !strcmp(a, "--conv-impl") ? &o->conv_impl
                                                 : NULL;
  if (dir) return (*dir = tq_cli_value(cmd, argc, argv, i)) ? 1 : -1;
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
  if (!o->path || !o->n_in || (!o->n_out && !o->outputs_dir && !o->ref_path)) {
    tq_cli_error(cmd,
                 "needs MODEL.onnx, -i X.npy and -o Y.npy or --outputs DIR "
                 "(see tq run --help)");
    return 0;
  }
  return 1;
}

/* The outputs to compute: those -o names, then (--outputs) every other one,
 * or the first output for --compare alone. *n_named: how many -o gave. */
static int output_list(const char *cmd, tq_context *ctx, const tq_graph *g,
                       const run_args *o, size_t *index, size_t *n) {
  const char *names[TQ_RUN_MAX_IO];
  for (size_t i = 0; i < o->n_out; i++) names[i] = o->out[i].name;
  tq_status st = tq_graph_bind_outputs(ctx, g, names, o->n_out, index);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  *n = o->n_out;
  const size_t all = tq_graph_output_count(g);
  if (o->outputs_dir && all > TQ_RUN_MAX_IO) {
    tq_cli_error(cmd, "--outputs: the model has more than %d outputs",
                 TQ_RUN_MAX_IO);
    return 0;
  }
  for (size_t k = 0; k < all && (o->outputs_dir || (!*n && k == 0)); k++) {
    int have = 0;
    for (size_t i = 0; i < *n; i++) have |= index[i] == k;
    if (!have) index[(*n)++] = k;
  }
  return 1;
}

/* Writes -o files, then --outputs DIR/<name>.npy. */
static int write_outputs(const char *cmd, tq_context *ctx, const tq_graph *g,
                         const run_args *o, const size_t *index,
                         tq_tensor *const *y, size_t n) {
  for (size_t i = 0; i < o->n_out; i++) {
    tq_status st = tq_npy_write_tensor(ctx, o->out[i].path, y[i]);
    if (st != TQ_OK) {
      tq_cli_status_error(cmd, ctx, st);
      return 0;
    }
  }
  if (!o->outputs_dir) return 1;
  if (mkdir(o->outputs_dir, 0777) != 0 && errno != EEXIST) {
    tq_cli_error(cmd, "cannot create --outputs directory %s: %s",
                 o->outputs_dir, strerror(errno));
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char name[512], path[1024];
    tq_run_safe_name(tq_graph_output_name(g, index[i]), name, sizeof name);
    snprintf(path, sizeof path, "%s/%s.npy", o->outputs_dir, name);
    tq_status st = tq_npy_write_tensor(ctx, path, y[i]);
    if (st != TQ_OK) {
      tq_cli_status_error(cmd, ctx, st);
      return 0;
    }
  }
  return 1;
}

/* Two outputs whose file-safe names collide would overwrite each other. */
static int distinct_files(const char *cmd, const tq_graph *g,
                          const size_t *index, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      char a[512], b[512];
      tq_run_safe_name(tq_graph_output_name(g, index[i]), a, sizeof a);
      tq_run_safe_name(tq_graph_output_name(g, index[j]), b, sizeof b);
      if (strcmp(a, b) == 0) {
        tq_cli_error(cmd,
                     "--outputs: outputs '%s' and '%s' would both be "
                     "written as %s.npy",
                     tq_graph_output_name(g, index[i]),
                     tq_graph_output_name(g, index[j]), a);
        return 0;
      }
    }
  return 1;
}

/* Everything after the model is open: inputs, the run, the files. */
static int run_model(const char *cmd, tq_context *ctx, const run_args *o,
                     tq_session *s) {
  const tq_graph *g = tq_session_graph(s);
  const size_t n_in = tq_graph_input_count(g);
  tq_tensor *x[TQ_RUN_MAX_IO] = {NULL}, *y[TQ_RUN_MAX_IO] = {NULL};
  size_t index[TQ_RUN_MAX_IO], n_out = 0;
  dump_ctx dump = {o->dump_dir, ctx, 0};
  int ok = n_in <= TQ_RUN_MAX_IO;
  if (!ok)
    tq_cli_error(cmd, "the model has more than %d inputs", TQ_RUN_MAX_IO);
  ok = ok && output_list(cmd, ctx, g, o, index, &n_out) &&
       (!o->outputs_dir || distinct_files(cmd, g, index, n_out)) &&
       tq_run_read_inputs(cmd, ctx, g, o->in, o->n_in, x);
  if (ok && o->dump_dir && mkdir(o->dump_dir, 0777) != 0 && errno != EEXIST) {
    tq_cli_error(cmd, "cannot create --dump directory %s: %s", o->dump_dir,
                 strerror(errno));
    ok = 0;
  }
  ok = ok && tq_run_batches(cmd, ctx, s, x, o->batch, index, n_out,
                            o->dump_dir ? dump_value : NULL, &dump, y);
  if (dump.failed) {
    tq_cli_status_error(cmd, ctx, TQ_ERR_IO);
    ok = 0;
  }
  ok = ok && write_outputs(cmd, ctx, g, o, index, y, n_out);
  if (ok && o->ref_path) compare(y[0], o->ref_path, ctx);
  for (size_t k = 0; k < n_in && k < TQ_RUN_MAX_IO; k++)
    tq_tensor_destroy(x[k]);
  for (size_t j = 0; j < n_out; j++) tq_tensor_destroy(y[j]);
  return ok;
}

static int run(int argc, char **argv) {
  const char *cmd = "run";
  run_args o;
  memset(&o, 0, sizeof o);
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_context *ctx = tq_cli_context(o.threads);
  if (!ctx) return TQ_EXIT_FAILURE;
  if (!tq_cli_conv_impls(cmd, ctx, o.conv_impl, o.fast_conv)) {
    tq_context_destroy(ctx);
    return TQ_EXIT_USAGE;
  }
  tq_graph *g = NULL;
  tq_session *s = NULL;
  tq_qmap_set *set = NULL;
  const int ok =
      tq_cli_open_quantized(cmd, ctx, o.path, &o.maps, o.seed, &g, &s, &set) &&
      run_model(cmd, ctx, &o, s);
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  return ok ? TQ_EXIT_OK : TQ_EXIT_FAILURE;
}

const tq_command tq_cmd_run = {
    "run", "run a model on named inputs, float or quantized", run, help};
