/* tq quantize: quantize every element of an .npy tensor. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_util.h"
#include "tq.h"

static const char help[] =
    "usage: tq quantize --spec SPEC -i IN.npy -o OUT.npy [options]\n"
    "\n"
    "Quantizes every element of IN.npy (any numeric dtype, read as float32)\n"
    "with the quantizer SPEC and writes float32 values of the same shape to\n"
    "OUT.npy (atomically: a failed run leaves no partial file). Scaled and\n"
    "block formats take their groups from the tensor's shape: blocks and\n"
    "axis=channel run along the last axis unless the spec says axis=K.\n"
    "\n"
    "options:\n"
    "  -s, --spec SPEC    quantizer spec string (tq formats lists them)\n"
    "  -i, --input FILE   input .npy file\n"
    "  -o, --output FILE  output .npy file (float32); optional with --stats\n"
    "      --seed N       seed for stochastic rounding (default 0)\n"
    "      --stream N     random stream for stochastic rounding (default 0)\n"
    "      --range LO,HI  calibrated range for `static` specs\n"
    "      --threads N    threads to use (results do not depend on it)\n"
    "      --stats        print error statistics: SQNR, max and mean\n"
    "                     absolute error, fraction saturated and zero,\n"
    "                     number of distinct values\n"
    "      --json         print the statistics as one JSON object\n"
    "\n"
    "examples:\n"
    "  tq quantize --spec nearest,8,4 -i x.npy -o xq.npy --stats\n"
    "  tq quantize --spec stochastic,8,6 --seed 7 -i w.npy -o wq.npy\n"
    "  tq quantize --spec fp8e4m3 -i acts.npy --stats --json\n";

static json_t *finite_or_string(double v) {
  if (isfinite(v)) return json_real(v);
  return json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static void print_stats(const char *spec, const tq_shape *shape,
                        const tq_quant_stats *s, int json) {
  if (json) {
    /* JSON has no infinities or NaN: those become strings. */
    json_t *o = json_object();
    json_object_set_new(o, "spec", json_string(spec));
    json_object_set_new(o, "count", json_integer((json_int_t)s->count));
    json_object_set_new(o, "nan_count", json_integer((json_int_t)s->nan_count));
    json_object_set_new(o, "sqnr_db", finite_or_string(s->sqnr_db));
    json_object_set_new(o, "max_abs_error", finite_or_string(s->max_abs_error));
    json_object_set_new(o, "mean_abs_error",
                        finite_or_string(s->mean_abs_error));
    json_object_set_new(o, "frac_saturated", json_real(s->frac_saturated));
    json_object_set_new(o, "frac_zero", json_real(s->frac_zero));
    json_object_set_new(o, "distinct_values",
                        json_integer((json_int_t)s->distinct_values));
    char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (text) printf("%s\n", text);
    free(text);
    json_decref(o);
    return;
  }
  printf("spec             %s\n", spec);
  printf("shape            (");
  for (int d = 0; d < shape->ndim; d++)
    printf("%s%lld", d ? ", " : "", (long long)shape->dims[d]);
  printf("%s)  %zu elements", shape->ndim == 1 ? "," : "", s->count);
  if (s->nan_count) printf(", %zu NaN", s->nan_count);
  printf("\n");
  if (isinf(s->sqnr_db) && s->sqnr_db > 0)
    printf("SQNR             exact (no error)\n");
  else
    printf("SQNR             %.2f dB\n", s->sqnr_db);
  printf("max abs error    %.6g\n", s->max_abs_error);
  printf("mean abs error   %.6g\n", s->mean_abs_error);
  printf("saturated        %.4f %%\n", 100.0 * s->frac_saturated);
  printf("zero             %.4f %%\n", 100.0 * s->frac_zero);
  printf("distinct values  %zu\n", s->distinct_values);
}

typedef struct quantize_args {
  const char *spec, *in_path, *out_path;
  tq_quant_opts opts;
  tq_quant_site site; /* range for static specs; the shape comes later */
  int want_stats, json;
} quantize_args;

static int parse_args(const char *cmd, int argc, char **argv,
                      quantize_args *o) {
  long threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "-s") || !strcmp(a, "--spec")) {
      if (!(o->spec = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "-i") || !strcmp(a, "--input")) {
      if (!(o->in_path = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(o->out_path = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "--seed") || !strcmp(a, "--stream")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_u64(
              cmd, a, v,
              !strcmp(a, "--seed") ? &o->opts.seed : &o->opts.stream))
        return 0;
    } else if (!strcmp(a, "--threads")) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(cmd, a, v, 1, 4096, &threads))
        return 0;
    } else if (!strcmp(a, "--range")) {
      char end;
      if (!(v = tq_cli_value(cmd, argc, argv, &i))) return 0;
      if (sscanf(v, "%lf,%lf%c", &o->site.range_lo, &o->site.range_hi,
                 &end) != 2) {
        tq_cli_error(cmd, "--range needs LO,HI (two numbers), got '%s'", v);
        return 0;
      }
      o->site.has_range = 1;
    } else if (!strcmp(a, "--stats")) {
      o->want_stats = 1;
    } else if (!strcmp(a, "--json")) {
      o->json = o->want_stats = 1;
    } else {
      tq_cli_error(cmd, "unknown argument '%s' (see tq quantize --help)", a);
      return 0;
    }
  }
  if (!o->spec || !o->in_path || (!o->out_path && !o->want_stats)) {
    tq_cli_error(cmd,
                 "needs --spec, -i and -o (or --stats) "
                 "(see tq quantize --help)");
    return 0;
  }
  o->opts.threads = (int)threads;
  return 1;
}

/* Quantizes the tensor x (shape, n values) into y, printing the
 * statistics when asked. */
static tq_status quantize(tq_context *ctx, const quantize_args *o,
                          const tq_quantizer *q, const float *x, float *y,
                          size_t n, const tq_shape *shape) {
  tq_quant_site site = o->site;
  site.rank = shape->ndim;
  site.dims = shape->dims;
  tq_status st = tq_quantize_tensor(ctx, q, x, y, n, &site, &o->opts);
  if (st != TQ_OK || !o->want_stats) return st;
  tq_quant_stats stats;
  if ((st = tq_compute_stats(ctx, q, x, y, n, &stats)) == TQ_OK)
    print_stats(tq_quantizer_spec(q), shape, &stats, o->json);
  return st;
}

static int run(int argc, char **argv) {
  const char *cmd = "quantize";
  quantize_args o = {.site = TQ_QUANT_SITE_INIT};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_context *ctx = tq_cli_context(0);
  if (!ctx) return TQ_EXIT_FAILURE;
  tq_status st;
  tq_quantizer *q = NULL;
  if ((st = tq_quantizer_parse(ctx, o.spec, &q)) != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    tq_context_destroy(ctx);
    return TQ_EXIT_USAGE;
  }
  int rc = TQ_EXIT_FAILURE;
  float *x = NULL, *y = NULL;
  tq_shape shape;
  size_t n = 0;
  if ((st = tq_npy_read(ctx, o.in_path, &x, &shape)) == TQ_OK) {
    n = tq_shape_numel(&shape, NULL);
    y = malloc(n ? n * sizeof *y : 1);
  }
  if (st == TQ_OK && !y) {
    tq_cli_error(cmd, "out of memory for %zu elements", n);
  } else {
    if (st == TQ_OK) st = quantize(ctx, &o, q, x, y, n, &shape);
    if (st == TQ_OK && o.out_path)
      st = tq_npy_write(ctx, o.out_path, y, &shape);
    if (st != TQ_OK)
      tq_cli_status_error(cmd, ctx, st);
    else
      rc = TQ_EXIT_OK;
  }
  free(y);
  tq_free(x);
  tq_quantizer_destroy(q);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_quantize = {
    "quantize", "quantize an .npy tensor and show the error it makes", run,
    help};
