/* tq search: per-layer formats with the fewest total bits whose accuracy
 * loss stays within a budget. The search itself is the library's
 * (tq_search, src/analysis/search.c); this parses, prints and writes. */
#include <stdlib.h>
#include <string.h>

#include "analysis_cli.h"

static const char help[] =
    "usage: tq search MODEL.onnx --data D --budget PP [options]\n"
    "\n"
    "Finds per-layer formats with the fewest total bits whose top-1\n"
    "accuracy loss against float stays within PP percentage points, on a\n"
    "search slice and on a held-out validation slice of the samples, and\n"
    "writes them as a sectioned map file that tq eval, tq run and tq train\n"
    "take with --map FILE.\n"
    "\n"
    "options:\n"
    "      --budget PP    allowed top-1 loss in percentage points (e.g. 0.5)\n"
    "      --margin PP    hold the loss to budget - PP on both slices: a\n"
    "                     guard for data the search has not seen (default 0)\n"
    "      --what W[,W..] what to quantize: extr,weights (default), intr\n"
    "      --family F     nearest (default), even, stochastic: fixed point\n"
    "                     with `auto` fractional bits per layer; float:\n"
    "                     saturating floats from 16 down to 4 bits\n"
    "      --widths LIST  candidate word widths for fixed point (default\n"
    "                     16,12,10,8,7,6,5,4,3,2)\n"
    "      --formats LIST search over formats instead of a family: the\n"
    "                     candidate specs, separated by ';' as in --specs\n"
    "                     of tq sweep ('mxfp8e4m3;mxfp6e2m3;mxfp4;\n"
    "                     int,4,group=32'), or a preset: mx, int, mixed;\n"
    "                     the cost of a format is its bits per element with\n"
    "                     the scale overhead (MXFP4 4.25)\n"
    "      --cost C       what a bit costs: size (default: each layer's own\n"
    "                     parameters for weights, activation elements per\n"
    "                     sample for extr/intr), params (the layer's\n"
    "                     parameter count), activations (its output size)\n"
    "      --validation N held-out samples (default: half of them); the\n"
    "                     search uses the others\n"
    "  -l, --layers P,... only the layers these patterns match\n"
    "  -o, --output FILE  the sectioned map file to write (JSON)\n"
    "  -d, --data D       fashion-mnist, a directory of IDX files,\n"
    "                     X.npy,y.npy or NAME=a.npy,...,labels=y.npy\n"
    "      --split S      test (default) or train\n"
    "      --limit N      use the first N samples (search + validation)\n"
    "      --normalize M:S[,M:S...]  feed (x - M) / S per channel\n"
    "      --batch N      samples per run (default 256)\n"
    "      --calib N      samples for the statistics `auto` uses\n"
    "      --calib FILE   calib.json (tq calibrate): ranges of static specs\n"
    "      --seed N       seed for stochastic rounding (default 0)\n"
    "      --threads N    threads to use\n"
    "      --memory MB    float values kept for reuse (default 1024)\n"
    "      --report FILE  write a self-contained HTML report with charts\n"
    "      --json         print the results document (JSON) on stdout\n"
    "  -q, --quiet        no progress display\n"
    "\n"
    "The loss is measured on the samples used; on other data it is an\n"
    "estimate. When no allocation meets the budget, tq search says so,\n"
    "reports the most accurate one found, still writes it, and exits 1.\n"
    "\n"
    "examples:\n"
    "  tq search models/lenet-fashion-mnist.onnx --data fashion-mnist \\\n"
    "      --limit 4000 --budget 0.5 -o lenet-map.json --report search.html\n"
    "  tq eval models/lenet-fashion-mnist.onnx --data fashion-mnist \\\n"
    "      --map lenet-map.json\n";

/* The options of tq search beyond the shared ones. */
typedef struct search_args {
  double budget, margin;
  const char *family, *cost, *widths_text, *formats_text;
  long validation;
  int widths[32];
  int family_given;
  char **formats; /* --formats expanded */
  size_t n_formats;
} search_args;

/* A value among names; prints the error. */
static int one_of(const tq_cli_an *a, const char *opt, const char *v,
                  const char *const *names, const char *expected) {
  for (; *names; names++)
    if (!strcmp(v, *names)) return 1;
  tq_cli_error(a->cmd, "%s must be %s, got '%s'", opt, expected, v);
  return 0;
}

static int search_option(tq_cli_an *a, void *user, int argc, char **argv,
                         int *i) {
  static const char *const families[] = {"nearest", "even", "stochastic",
                                         "float", NULL};
  static const char *const costs[] = {"size", "params", "activations", NULL};
  search_args *s = user;
  const char *o = argv[*i], *v;
  if (strcmp(o, "--budget") && strcmp(o, "--margin") && strcmp(o, "--family") &&
      strcmp(o, "--cost") && strcmp(o, "--widths") &&
      strcmp(o, "--validation") && strcmp(o, "--formats"))
    return 0;
  if (!(v = tq_cli_value(a->cmd, argc, argv, i))) return -1;
  int ok = 1;
  if (!strcmp(o, "--budget"))
    ok = tq_cli_parse_double(a->cmd, o, v, 0, 100, &s->budget);
  else if (!strcmp(o, "--margin"))
    ok = tq_cli_parse_double(a->cmd, o, v, 0, 100, &s->margin);
  else if (!strcmp(o, "--family"))
    ok = one_of(a, o, (s->family = v), families,
                "nearest, even, stochastic or float") &&
         (s->family_given = 1);
  else if (!strcmp(o, "--formats"))
    s->formats_text = v;
  else if (!strcmp(o, "--cost"))
    ok = one_of(a, o, (s->cost = v), costs, "size, params or activations");
  else if (!strcmp(o, "--widths"))
    s->widths_text = v;
  else
    ok = tq_cli_parse_int(a->cmd, o, v, 1, 1L << 40, &s->validation);
  return ok ? 1 : -1;
}

/* --widths "16,8,4" into o->widths (the library sorts them). */
static int parse_widths(const tq_cli_an *a, search_args *s, tq_search_opts *o) {
  if (!s->widths_text) return 1;
  for (const char *p = s->widths_text; *p;) {
    char *end;
    long w = strtol(p, &end, 10);
    if (end == p || w < 2 || w > 32 || o->n_widths == 32 ||
        (*end && *end != ','))
      break;
    s->widths[o->n_widths++] = (int)w;
    p = *end ? end + 1 : end;
    if (!*p) {
      o->widths = s->widths;
      return 1;
    }
  }
  tq_cli_error(a->cmd,
               "--widths '%s': expected a comma list of word "
               "widths from 2 to 32",
               s->widths_text);
  return 0;
}

/* --formats: a preset's list or the list given, expanded. */
static int parse_formats(tq_cli_an *a, search_args *s, tq_search_opts *o) {
  if (!s->formats_text) return 1;
  if (s->family_given || s->widths_text) {
    tq_cli_error(a->cmd, "--formats replaces --family and --widths");
    return 0;
  }
  const char *preset = tq_search_format_preset(s->formats_text);
  tq_context *ctx = NULL;
  tq_status st = tq_context_create(&ctx);
  if (st == TQ_OK)
    st = tq_spec_list_expand(ctx, preset ? preset : s->formats_text,
                             &s->formats, &s->n_formats);
  if (st != TQ_OK) tq_cli_status_error(a->cmd, ctx, st);
  tq_context_destroy(ctx);
  o->formats = (const char *const *)s->formats;
  o->n_formats = s->n_formats;
  o->family = NULL;
  return st == TQ_OK;
}

/* The command line into the search's options; prints usage errors. */
static int parse_args(tq_cli_an *a, int argc, char **argv, search_args *s,
                      tq_map_kind *kinds, tq_search_opts *o) {
  if (!tq_cli_an_parse(a, argc, argv, search_option, s)) return 0;
  if (s->widths_text && !strcmp(s->family, "float")) {
    tq_cli_error(a->cmd,
                 "--widths is for the fixed-point families; --family "
                 "float tries float,5,10 down to float,2,1");
    return 0;
  }
  if (s->budget < 0) {
    tq_cli_error(a->cmd,
                 "needs --budget PP (allowed top-1 loss in "
                 "percentage points, see tq search --help)");
    return 0;
  }
  if (!parse_widths(a, s, o)) return 0;
  if (s->margin > s->budget) {
    tq_cli_error(a->cmd, "--margin %.2f exceeds --budget %.2f", s->margin,
                 s->budget);
    return 0;
  }
  o->budget_pp = s->budget;
  o->margin_pp = s->margin;
  o->family = s->family;
  if (!parse_formats(a, s, o)) return 0;
  o->cost = !strcmp(s->cost, "params")        ? TQ_SEARCH_COST_PARAMS
            : !strcmp(s->cost, "activations") ? TQ_SEARCH_COST_ACTIVATIONS
                                              : TQ_SEARCH_COST_SIZE;
  o->validation = s->validation > 0 ? (size_t)s->validation : 0;
  o->kinds = kinds;
  o->layers = (const char *const *)a->layers;
  o->n_layers = a->n_layers;
  return tq_cli_an_kinds(a, kinds, &o->n_kinds);
}

static double loss_pp(const tq_config_result *flt, const tq_config_result *r) {
  return 100.0 * (flt->eval.top1 - r->eval.top1);
}

static void print_result(const tq_search_result *r) {
  const tq_search_step *pick = &r->steps[r->chosen];
  printf(
      "float top-1: %.2f %% (search, %zu samples), %.2f %% "
      "(validation, %zu samples)\n\n",
      100 * r->float_search.eval.top1, r->search_n,
      100 * r->float_validation.eval.top1, r->validation_n);
  printf("%-40s %-8s %-24s %5s %12s %10s\n", "layer", "what", "format", "bits",
         "cost weight", "alone pp");
  for (size_t k = 0; k < r->n_layers; k++) {
    const tq_search_layer *l = &r->layers[k];
    printf("%-40s %-8s %-24s %5g %12.0f %10.2f\n", l->layer,
           tq_analysis_kind_name(l->kind), l->candidates[l->chosen],
           l->cost_bits[l->chosen], l->weight, l->alone_loss_pp[l->chosen]);
  }
  printf(
      "\n%zu allocations tried jointly; chosen: %.4g bits (float: %.4g,"
      " %.1fx smaller)\n",
      r->n_steps, pick->total_bits, r->float_bits,
      pick->total_bits > 0 ? r->float_bits / pick->total_bits : 0.0);
  printf(
      "top-1 loss: %.2f pp on the search slice, %.2f pp on the "
      "validation slice (budget %.2f pp, held to %.2f)\n",
      loss_pp(&r->float_search, &pick->search),
      loss_pp(&r->float_validation, &pick->validation), r->budget_pp,
      r->budget_pp - r->margin_pp);
}

/* The map file (-o), on rank 0. */
static int write_map(tq_cli_an *a, const char *map_out,
                     const tq_search_result *r) {
  if (map_out && a->root) {
    char *map = NULL;
    tq_status st = tq_search_map(a->ctx, r, &map);
    if (st == TQ_OK)
      st = tq_write_file_atomic(a->ctx, map_out, map, strlen(map));
    tq_free(map);
    if (st != TQ_OK) {
      tq_cli_status_error(a->cmd, a->ctx, st);
      return 0;
    }
    if (!a->json && !a->quiet)
      printf("map: %s (use with --map %s)\n", map_out, map_out);
  }
  return 1;
}

static int run(int argc, char **argv) {
  tq_cli_an a = {.cmd = "search"};
  search_args s = {.budget = -1, .family = "nearest", .cost = "size"};
  tq_map_kind kinds[3] = {TQ_MAP_EXTRINSIC, TQ_MAP_WEIGHTS};
  tq_search_opts o = {.n_kinds = 2};
  if (!parse_args(&a, argc, argv, &s, kinds, &o)) {
    tq_spec_list_free(s.formats, s.n_formats);
    tq_cli_an_close(&a);
    return TQ_EXIT_USAGE;
  }
  const char *map_out = a.out;
  a.out = NULL; /* -o is the map here, not the results */
  tq_search_result *r = NULL;
  char *doc = NULL;
  int ok = tq_cli_an_open(&a) &&
           tq_cli_an_done(&a, tq_search(a.ctx, a.an, &o, &r)) &&
           tq_cli_an_done(&a, tq_search_document(a.ctx, a.an, r, &doc));
  if (ok && tq_cli_an_prints(&a)) print_result(r);
  if (ok && !r->met && a.root) {
    const tq_search_step *pick = &r->steps[r->chosen];
    tq_cli_error(a.cmd,
                 "no allocation tried keeps the loss within %.2f pp; the "
                 "most accurate one found loses %.2f pp (search) and %.2f "
                 "pp (validation) and is what was written",
                 r->budget_pp - r->margin_pp,
                 loss_pp(&r->float_search, &pick->search),
                 loss_pp(&r->float_validation, &pick->validation));
  }
  /* not meeting the budget fails, with the best found written */
  const int met = ok && r->met;
  ok = ok && write_map(&a, map_out, r);
  tq_search_result_destroy(r);
  tq_spec_list_free(s.formats, s.n_formats);
  const int rc = tq_cli_an_finish(&a, ok, doc);
  return met ? rc : TQ_EXIT_FAILURE;
}

const tq_command tq_cmd_search = {
    "search",
    "per-layer bit widths with the fewest bits within an accuracy "
    "budget",
    run, help};
