/* tq stats: per-layer statistics of activations and weights over a
 * dataset (docs/stats.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model_util.h"

static const char help[] =
    "usage: tq stats MODEL.onnx --data D [options]\n"
    "\n"
    "Runs the model over a dataset and reports, per layer, statistics of\n"
    "every node's float output (activations) and of the weights it owns:\n"
    "count, min, max, mean, std, exact zeros, max |x|, percentiles (0.1 ..\n"
    "99.9, and 99, 99.9, 99.99 of |x|), a linear and a log2 histogram, NaN\n"
    "and inf counts, and the fractional bits f of a signed fixed-point word\n"
    "nearest,W,f that covers max |x|. With maps, the figures are of the\n"
    "quantized values.\n"
    "\n"
    "options:\n"
    "  -d, --data D       fashion-mnist, a directory of IDX files, or\n"
    "                     X.npy,y.npy, or one .npy per model input and the\n"
    "                     labels: NAME=a.npy,NAME=b.npy,labels=y.npy\n"
    "                     (see docs/data.md)\n"
    "      --split S      test (default) or train\n"
    "      --limit N      the first N samples only (N >= 1)\n"
    "      --normalize M:S[,M:S...]  feed (x - M) / S per channel\n"
    "      --batch N      samples per run (default 256); stochastic\n"
    "                     rounding does not depend on it (OpenBLAS's\n"
    "                     float sums for other sizes may round\n"
    "                     differently)\n" TQ_CLI_MAPS_HELP
    "      --seed N       seed for stochastic rounding (default 0)\n"
    "      --widths LIST  word widths for the fractional bits, e.g. 4,8,16\n"
    "                     (the default; each from 2 to 53)\n"
    "      --bins N       linear histogram bins in reports (default 64)\n"
    "      --threads N    threads to use (results do not depend on it)\n"
    "      --json         print the tq-report/1 document instead of the table\n"
    "      --with FILE    collect under the maps of a sectioned map file\n"
    "                     (as --map; e.g. the one tq search writes)\n"
    "      --report FILE  also write a self-contained HTML report with a\n"
    "                     histogram per layer\n"
    "  -o, --output FILE  also write FILE.json (tq-report/1, command "
    "\"stats\")\n"
    "                     or FILE.csv (one line per entry), atomically\n"
    "  -q, --quiet        no progress display\n"
    "\n"
    "examples:\n"
    "  tq stats models/lenet-fashion-mnist.onnx --data fashion-mnist\n"
    "  tq stats lenet.onnx --data fashion-mnist --limit 1000 -o stats.json\n"
    "  tq stats lenet.onnx --data fashion-mnist --extr nearest,8,4 \\\n"
    "      --weights nearest,8,6 --widths 6,8,12 -o stats.csv\n";

/* "4,8,16": comma-separated widths in [2, 53]. Prints the error. */
static int parse_widths(const char *cmd, const char *text, tq_stats_opts *o) {
  const char *p = text;
  o->n_widths = 0;
  for (;;) {
    char *end;
    errno = 0;
    long w = strtol(p, &end, 10);
    if (end == p || errno || w < 2 || w > 53 || (*end && *end != ',')) {
      const char *stop = strchr(p, ',');
      int len = stop ? (int)(stop - p) : (int)strlen(p);
      tq_cli_error(cmd,
                   "--widths '%s': item '%.*s' at position %d is not a word "
                   "width from 2 to 53 (expected a list such as 4,8,16)",
                   text, len, p, (int)(p - text) + 1);
      return 0;
    }
    if (o->n_widths == TQ_STATS_MAX_WIDTHS) {
      tq_cli_error(cmd, "--widths '%s': at most %d widths", text,
                   TQ_STATS_MAX_WIDTHS);
      return 0;
    }
    o->widths[o->n_widths++] = (int)w;
    if (!*end) return 1;
    p = end + 1;
  }
}

typedef struct progress_ctx {
  tq_progress bar;
} progress_ctx;

static int on_batch(void *user, size_t done, size_t total) {
  progress_ctx *p = user;
  tq_progress_update(&p->bar, "stats", done, total, NULL);
  return tq_cli_interrupted();
}

/* Non-finite values make the figures partial: say so, once per entry. */
static void warn_non_finite(const char *cmd, const tq_stats *st) {
  for (size_t i = 0; i < tq_stats_count(st); i++) {
    const tq_stats_entry *e = tq_stats_get(st, i);
    if (!e->nan && !e->pos_inf && !e->neg_inf) continue;
    tq_cli_error(cmd,
                 "warning: %s of '%s' ('%s') has %llu NaN, %llu +inf and "
                 "%llu -inf of %llu values; the statistics and fractional "
                 "bits cover the finite values only",
                 tq_stats_kind_name(e->kind), e->layer, e->value,
                 (unsigned long long)e->nan, (unsigned long long)e->pos_inf,
                 (unsigned long long)e->neg_inf, (unsigned long long)e->count);
  }
}

static void print_table(const tq_stats *st, double seconds) {
  size_t wl = 5, wv = 5, ws = 5;
  char shape[96];
  for (size_t i = 0; i < tq_stats_count(st); i++) {
    const tq_stats_entry *e = tq_stats_get(st, i);
    tq_shape_format(&e->shape, shape, sizeof shape);
    if (strlen(e->layer) > wl) wl = strlen(e->layer);
    if (strlen(e->value) > wv) wv = strlen(e->value);
    if (strlen(shape) > ws) ws = strlen(shape);
  }
  size_t nw;
  const int *widths = tq_stats_widths(st, &nw);
  printf("%-*s  %-10s  %-*s  %-*s %12s %11s %11s %11s %11s %7s %11s", (int)wl,
         "layer", "kind", (int)wv, "value", (int)ws, "shape", "count", "min",
         "max", "mean", "std", "zeros%", "p99.9|x|");
  for (size_t k = 0; k < nw; k++) {
    char h[16];
    snprintf(h, sizeof h, "f%d", widths[k]);
    printf(" %5s", h);
  }
  printf("\n");
  for (size_t i = 0; i < tq_stats_count(st); i++) {
    const tq_stats_entry *e = tq_stats_get(st, i);
    tq_shape_format(&e->shape, shape, sizeof shape);
    const double zeros =
        e->count ? 100.0 * (double)e->zeros / (double)e->count : 0.0;
    printf(
        "%-*s  %-10s  %-*s  %-*s %12llu %11.4g %11.4g %11.4g %11.4g %7.2f "
        "%11.4g",
        (int)wl, e->layer, tq_stats_kind_name(e->kind), (int)wv, e->value,
        (int)ws, shape, (unsigned long long)e->count, e->min, e->max, e->mean,
        e->std, zeros, tq_stats_abs_percentile(st, i, 99.9));
    for (size_t k = 0; k < nw; k++)
      printf(" %5d", tq_fixed_frac_bits(e->max_abs, widths[k]));
    printf("%s\n", e->nan || e->pos_inf || e->neg_inf ? "  (NaN/inf!)" : "");
  }
  printf(
      "\n%zu entries, %zu samples, %.2f s; fW: fractional bits of a signed "
      "W-bit word covering max |x|\n",
      tq_stats_count(st), tq_stats_samples(st), seconds);
}

typedef struct stats_args {
  const char *path, *output, *report;
  tq_cli_data d;
  tq_cli_maps maps;
  tq_stats_opts so;
  long bins;
  int json, quiet;
} stats_args;

/* -o: a .json or .csv name. Prints the error. */
static int output_name(const char *cmd, const char *output) {
  const size_t len = strlen(output);
  if ((len >= 5 && !strcmp(output + len - 5, ".json")) ||
      (len >= 4 && !strcmp(output + len - 4, ".csv")))
    return 1;
  tq_cli_error(cmd,
               "-o '%s': the name must end in .json (tq-report/1 "
               "document) or .csv",
               output);
  return 0;
}

/* Options other than the map and data ones: 1 taken, 0 not one, -1 bad. */
static int own_option(const char *cmd, stats_args *o, int argc, char **argv,
                      int *i) {
  const char *a = argv[*i], *v;
  if (!strcmp(a, "--json")) return o->json = 1;
  if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) return o->quiet = 1;
  if (strcmp(a, "--bins") && strcmp(a, "--widths") && strcmp(a, "-o") &&
      strcmp(a, "--output") && strcmp(a, "--with") && strcmp(a, "--report"))
    return 0;
  if (!(v = tq_cli_value(cmd, argc, argv, i))) return -1;
  int ok = 1;
  if (!strcmp(a, "--bins"))
    ok = tq_cli_parse_int(cmd, a, v, 1, 1 << 16, &o->bins);
  else if (!strcmp(a, "--widths"))
    ok = parse_widths(cmd, v, &o->so);
  else if (!strcmp(a, "--with")) /* --map by the name the docs use */
    o->maps.sectioned = v;
  else if (!strcmp(a, "--report"))
    o->report = v;
  else
    ok = output_name(cmd, (o->output = v));
  return ok ? 1 : -1;
}

static int parse_args(const char *cmd, int argc, char **argv, stats_args *o) {
  for (int i = 1; i < argc; i++) {
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (!m) m = tq_cli_data_option(cmd, &o->d, argc, argv, &i);
    if (!m) m = own_option(cmd, o, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (argv[i][0] == '-' || o->path) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq stats --help)",
                   argv[i]);
      return 0;
    }
    o->path = argv[i];
  }
  if (!o->path || !o->d.data) {
    tq_cli_error(cmd, "needs MODEL.onnx and --data D (see tq stats --help)");
    return 0;
  }
  o->so.bins = (size_t)o->bins;
  return 1;
}

/* The outputs: -o, --report, then the document (--json) or the table. */
static tq_status write_outputs(const char *cmd, tq_context *ctx,
                               const stats_args *o, const tq_stats *st,
                               tq_stats_json_opts *jo) {
  tq_status status = TQ_OK;
  char *text = NULL;
  if (o->output && (status = tq_stats_write(ctx, st, o->output, jo)) != TQ_OK)
    return status;
  if (o->report) {
    if ((status = tq_stats_to_json(ctx, st, jo, &text)) == TQ_OK)
      status =
          tq_report_write_html(ctx, text, cmd, o->report, tq_cli_chartjs(NULL));
    tq_free(text);
    text = NULL;
    if (status != TQ_OK) return status;
    if (!o->quiet) fprintf(stderr, "wrote %s\n", o->report);
  }
  if (o->json) {
    jo->indent = 2;
    if ((status = tq_stats_to_json(ctx, st, jo, &text)) != TQ_OK) return status;
    printf("%s\n", text);
    tq_free(text);
  }
  return TQ_OK;
}

/* Collects the statistics over md's samples with a progress bar. */
static tq_status collect(stats_args *o, const tq_cli_model_data *md,
                         tq_stats **st, double *seconds) {
  progress_ctx pc;
  tq_progress_start(&pc.bar, !o->quiet);
  o->so.progress = on_batch;
  o->so.user = &pc;
  const double t0 = tq_cli_now();
  const tq_status status =
      tq_stats_collect(md->ctx, md->s, md->ds, NULL, md->n,
                       o->d.batch ? (int)o->d.batch : 256, &o->so, st);
  *seconds = tq_cli_now() - t0;
  tq_progress_end(&pc.bar);
  return status;
}

static int run(int argc, char **argv) {
  const char *cmd = "stats";
  stats_args o = {.bins = 64};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  tq_cli_model_data md;
  tq_stats *st = NULL;
  int rc = TQ_EXIT_FAILURE;
  if (tq_cli_model_data_open(cmd, o.path, &o.maps, &o.d, &md)) {
    double seconds;
    tq_status status = collect(&o, &md, &st, &seconds);
    const char *split = o.d.split ? o.d.split : "test";
    tq_stats_json_opts jo = {.document = 1,
                             .model = o.path,
                             .data = tq_dataset_name(md.ds),
                             .split = split,
                             .created_by = "tq " TQ_VERSION_STRING};
    if (status == TQ_OK) warn_non_finite(cmd, st);
    if (status == TQ_OK) status = write_outputs(cmd, md.ctx, &o, st, &jo);
    if (status == TQ_OK && !o.json) {
      printf("model     %s%s\n", o.path,
             md.set ? " (quantized: maps given)" : "");
      printf("data      %s, %s split, %zu samples\n\n", tq_dataset_name(md.ds),
             split, md.n);
      print_table(st, seconds);
    }
    if (status == TQ_OK && o.output && !o.quiet)
      fprintf(stderr, "wrote %s\n", o.output);
    if (status == TQ_OK)
      rc = TQ_EXIT_OK;
    else
      tq_cli_status_error(cmd, md.ctx, status);
  }
  tq_stats_destroy(st);
  tq_cli_model_data_close(&md);
  return rc;
}

const tq_command tq_cmd_stats = {
    "stats",
    "per-layer statistics of activations and weights (ranges, "
    "percentiles, histograms, fractional bits)",
    run, help};
