/* tq bench MODEL.onnx: inference throughput and latency. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "model_util.h"

/* Peak resident memory of this process image. VmHWM, not ru_maxrss: Linux
 * carries ru_maxrss across execve, so a tool started by a big parent
 * (Python with torch loaded) would report the parent's peak. */
static double peak_rss_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kib = strtod(line + 6, NULL);
  if (f) fclose(f);
  if (kib < 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    kib = (double)ru.ru_maxrss;
  }
  return kib * 1024.0;
}

/* --profile: the time between consecutive observer calls is the node's
 * time (forward plus its extrinsic quantization), summed per node over
 * the timed runs. */
typedef struct profile {
  double last;
  double *node_s;
  int active;
} profile;

static int on_node(void *user, size_t node, const char *id, size_t k,
                   const char *value, const tq_tensor *t) {
  (void)id, (void)value, (void)t;
  profile *p = user;
  const double now = tq_cli_now();
  if (p->active && k == 0) p->node_s[node] += now - p->last;
  p->last = now;
  return 0;
}

typedef struct op_time {
  const char *op;
  double s;
  int count;
} op_time;

static int cmp_op_time(const void *a, const void *b) {
  const double x = ((const op_time *)a)->s, y = ((const op_time *)b)->s;
  return (x < y) - (x > y);
}

static void print_profile(const tq_session *s, const profile *p, long runs) {
  const tq_graph *g = tq_session_graph(s);
  const size_t n = tq_graph_node_count(g);
  op_time *ops = calloc(n ? n : 1, sizeof *ops);
  size_t n_ops = 0;
  double total = 0.0;
  for (size_t i = 0; ops && i < n; i++) {
    tq_node_info info;
    if (tq_graph_node_info(g, i, &info) != TQ_OK) continue;
    size_t k = 0;
    while (k < n_ops && strcmp(ops[k].op, info.op_type)) k++;
    if (k == n_ops) ops[n_ops++] = (op_time){info.op_type, 0.0, 0};
    ops[k].s += p->node_s[i];
    ops[k].count += p->node_s[i] > 0;
    total += p->node_s[i];
  }
  if (!ops) return;
  qsort(ops, n_ops, sizeof *ops, cmp_op_time);
  printf("\n%-24s %8s %12s %7s\n", "operator", "nodes", "ms per run", "share");
  for (size_t k = 0; k < n_ops && ops[k].s > 0; k++)
    printf("%-24s %8d %12.3f %6.1f%%\n", ops[k].op, ops[k].count,
           1e3 * ops[k].s / (double)runs, 100.0 * ops[k].s / total);
  /* the slowest nodes, reusing ops[] as (node ID, time) pairs */
  n_ops = 0;
  for (size_t i = 0; i < n; i++) {
    tq_node_info info;
    if (p->node_s[i] > 0 && tq_graph_node_info(g, i, &info) == TQ_OK)
      ops[n_ops++] = (op_time){info.id, p->node_s[i], (int)i};
  }
  qsort(ops, n_ops, sizeof *ops, cmp_op_time);
  printf("\n%-5s %-48s %-12s %-10s %10s %7s\n", "#", "slowest nodes", "op",
         "impl", "ms per run", "share");
  for (size_t k = 0; k < n_ops && k < 12; k++) {
    tq_node_info info;
    tq_graph_node_info(g, (size_t)ops[k].count, &info);
    const char *impl = tq_session_node_impl(s, (size_t)ops[k].count);
    printf("%-5d %-48s %-12s %-10s %10.3f %6.1f%%\n", ops[k].count, ops[k].op,
           info.op_type, impl ? impl : "-", 1e3 * ops[k].s / (double)runs,
           100.0 * ops[k].s / total);
  }
  free(ops);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct bench_args {
  const char *path;
  tq_cli_maps maps;
  long batch, threads, repeat, warmup;
  int fast_conv, json, do_profile;
  const char *conv_impl;
} bench_args;

static int parse_args(const char *cmd, int argc, char **argv, bench_args *o) {
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v;
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (!strcmp(a, "--batch")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(cmd, a, v, 1, 1 << 16, &o->batch))
        return 0;
    } else if (!strcmp(a, "--fast-conv")) {
      o->fast_conv = 1;
    } else if (!strcmp(a, "--conv-impl")) {
      if (!(o->conv_impl = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "--threads")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(cmd, a, v, 1, 4096, &o->threads))
        return 0;
    } else if (!strcmp(a, "--repeat")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(cmd, a, v, 1, 100000, &o->repeat))
        return 0;
    } else if (!strcmp(a, "--warmup")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(cmd, a, v, 0, 1000, &o->warmup))
        return 0;
    } else if (!strcmp(a, "--json")) {
      o->json = 1;
    } else if (!strcmp(a, "--profile")) {
      o->do_profile = 1;
    } else {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq bench --help)", a);
      return 0;
    }
  }
  return 1;
}

/* Random inputs in [-1, 1) for every float32 model input, ones for the
 * others (token id 1, a mask keeping every token), dynamic dimensions set
 * to the batch. */
static tq_status make_inputs(tq_context *ctx, const tq_graph *g, long batch,
                             tq_tensor **inputs) {
  tq_shape shapes[16];
  tq_cli_input_shapes(g, batch, shapes);
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < tq_graph_input_count(g); i++) {
    tq_tensor *f = NULL;
    tq_status st = tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &shapes[i], &f);
    if (st != TQ_OK) return st;
    float *d = tq_tensor_data(f);
    const int floats = tq_graph_input_dtype(g, i) == TQ_DTYPE_FLOAT32;
    for (size_t k = 0; k < tq_tensor_numel(f); k++) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      d[k] = floats ? (float)(rng >> 40) * 0x1p-24f * 2.0f - 1.0f : 1.0f;
    }
    st = tq_tensor_cast(ctx, f, tq_graph_input_dtype(g, i), &inputs[i]);
    tq_tensor_destroy(f);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* Warm-up runs, then o->repeat timed runs into times (sorted). */
static tq_status time_runs(tq_context *ctx, tq_session *s, const bench_args *o,
                           tq_tensor *const *inputs, double *times,
                           profile *prof) {
  const tq_graph *g = tq_session_graph(s);
  if (o->do_profile) tq_session_set_observer(s, on_node, prof);
  size_t n_out = tq_graph_output_count(g);
  tq_tensor *outs[16];
  if (n_out > 16) n_out = 16;
  for (long r = -o->warmup; r < o->repeat; r++) {
    double t0 = tq_cli_now();
    prof->active = r >= 0;
    prof->last = t0;
    tq_status st = tq_session_run(ctx, s, (const tq_tensor *const *)inputs,
                                  tq_graph_input_count(g), outs, n_out, NULL);
    double t = tq_cli_now() - t0;
    if (st != TQ_OK) return st;
    for (size_t k = 0; k < n_out; k++) tq_tensor_destroy(outs[k]);
    if (r >= 0) times[r] = t;
  }
  qsort(times, (size_t)o->repeat, sizeof *times, cmp_double);
  return TQ_OK;
}

static void report(tq_context *ctx, const bench_args *o, const tq_session *s,
                   int quantized, const double *times, const profile *prof) {
  const long batch = o->batch, repeat = o->repeat, warmup = o->warmup;
  const char *path = o->path;
  double median = repeat % 2
                      ? times[repeat / 2]
                      : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
  double peak = peak_rss_bytes();
  double ips = (double)batch / median;
  if (o->json) {
    json_t *j =
        json_pack("{s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:b, s:s}", "model",
                  path, "batch", (json_int_t)batch, "threads",
                  (json_int_t)tq_context_threads(ctx), "images_per_s", ips,
                  "latency_median_s", median, "latency_min_s", times[0],
                  "latency_max_s", times[repeat - 1], "peak_rss_bytes", peak,
                  "quantized", quantized, "blas_core", tq_cli_blas_core());
    char *text = json_dumps(j, 0);
    if (text) puts(text);
    free(text);
    json_decref(j);
  } else {
    printf(
        "model %s, batch %ld, %d threads, %s, median of %ld runs after "
        "%ld warm-up, OpenBLAS core %s\n",
        path, batch, tq_context_threads(ctx), quantized ? "quantized" : "float",
        repeat, warmup, tq_cli_blas_core());
    printf(
        "latency median %.3f ms (min %.3f, max %.3f), %.1f images/s, "
        "peak RSS %.1f MiB\n",
        1e3 * median, 1e3 * times[0], 1e3 * times[repeat - 1], ips,
        peak / 1048576.0);
    if (o->do_profile) print_profile(s, prof, repeat);
  }
}

int tq_bench_model(int argc, char **argv) {
  const char *cmd = "bench";
  bench_args o = {.path = argv[1], .batch = 1, .repeat = 10, .warmup = 2};
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
  tq_tensor *inputs[16] = {0};
  double *times = NULL;
  profile prof = {0};
  tq_status st = TQ_OK;
  if (!tq_cli_open_model(cmd, ctx, o.path, &g, &s) ||
      !tq_cli_maps_load(cmd, ctx, &o.maps, &set) ||
      !tq_cli_maps_apply(cmd, ctx, s, &o.maps, set))
    goto done;
  if (tq_graph_input_count(g) > 16) {
    tq_cli_error(cmd, "more than 16 model inputs");
    goto done;
  }
  if ((st = make_inputs(ctx, g, o.batch, inputs)) != TQ_OK) goto fail;
  times = malloc((size_t)o.repeat * sizeof *times);
  prof.node_s = calloc(tq_graph_node_count(g) + 1, sizeof *prof.node_s);
  if (!times || !prof.node_s) goto done;
  if ((st = time_runs(ctx, s, &o, inputs, times, &prof)) != TQ_OK) goto fail;
  report(ctx, &o, s, set != NULL, times, &prof);
  rc = TQ_EXIT_OK;
  goto done;
fail:
  tq_cli_status_error(cmd, ctx, st);
done:
  free(times);
  free(prof.node_s);
  for (size_t i = 0; i < 16; i++) tq_tensor_destroy(inputs[i]);
  tq_session_destroy(s);
  tq_graph_destroy(g);
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  return rc;
}
