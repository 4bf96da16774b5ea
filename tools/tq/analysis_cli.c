/* What tq sweep, tq sensitivity and tq search share (analysis_cli.h). */
#include "analysis_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "model_util.h"
#include "tensorquant/report.h"
#include "tensorquant/version.h"

/* Appends every comma-separated item of text to the layer patterns. */
static int add_layers(tq_cli_an *a, const char *text) {
  if (a->n_layer_options == TQ_CLI_AN_MAX_LISTS) {
    tq_cli_error(a->cmd, "at most %d --layers options", TQ_CLI_AN_MAX_LISTS);
    return 0;
  }
  a->n_layer_options++;
  char *copy = strdup(text);
  int ok = copy != NULL;
  for (char *save = NULL, *p = ok ? strtok_r(copy, ",", &save) : NULL; ok && p;
       p = strtok_r(NULL, ",", &save)) {
    char **more = realloc(a->layers, (a->n_layers + 1) * sizeof *more);
    if (more) a->layers = more;
    ok = more && (a->layers[a->n_layers] = strdup(p));
    if (ok) a->n_layers++;
  }
  free(copy);
  if (!ok) tq_cli_error(a->cmd, "out of memory for the layer patterns");
  return ok;
}

/* If argv[*i] is a shared option, consumes it (and its value): 1; not
 * one: 0; a bad value: -1 (error printed). */
static int shared_option(tq_cli_an *a, int argc, char **argv, int *i) {
  const char *o = argv[*i], *v = NULL, *cmd = a->cmd;
  const int dm = tq_cli_data_option(cmd, &a->d, argc, argv, i);
  if (dm) return dm;
  static const char *const valued[] = {
      "--calib", "--memory", "-o", "--output", "--report",
      "--what",  "--specs",  "-s", "--layers", "-l"};
  for (size_t k = 0; k < sizeof valued / sizeof *valued; k++)
    if (!strcmp(o, valued[k]) && !(v = tq_cli_value(cmd, argc, argv, i)))
      return -1;
  if (!strcmp(o, "--calib")) { /* a count: samples for `auto`; else a file */
    if (v[strspn(v, "0123456789")] != '\0') {
      a->calib_file = v;
      return 1;
    }
    return tq_cli_parse_int(cmd, o, v, 1, 1L << 40, &a->calib) ? 1 : -1;
  }
  if (!strcmp(o, "--memory"))
    return tq_cli_parse_int(cmd, o, v, 1, 1L << 24, &a->memory_mb) ? 1 : -1;
  if (!strcmp(o, "--specs") || !strcmp(o, "-s")) {
    if (a->n_specs == TQ_CLI_AN_MAX_LISTS) {
      tq_cli_error(cmd, "at most %d --specs options", TQ_CLI_AN_MAX_LISTS);
      return -1;
    }
    a->specs[a->n_specs++] = v;
  } else if (!strcmp(o, "--layers") || !strcmp(o, "-l")) {
    if (!add_layers(a, v)) return -1;
  } else if (!strcmp(o, "-o") || !strcmp(o, "--output")) {
    a->out = v;
  } else if (!strcmp(o, "--report")) {
    a->report = v;
  } else if (!strcmp(o, "--what")) {
    a->what = v;
  } else if (!strcmp(o, "--no-reuse")) {
    a->no_reuse = 1;
  } else if (!strcmp(o, "--json")) {
    a->json = 1;
  } else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) {
    a->quiet = 1;
  } else {
    return 0;
  }
  return 1;
}

int tq_cli_an_parse(tq_cli_an *a, int argc, char **argv,
                    tq_cli_an_own_option own, void *user) {
  for (int i = 1; i < argc; i++) {
    int m = shared_option(a, argc, argv, &i);
    if (!m && own) m = own(a, user, argc, argv, &i);
    if (m < 0) return 0;
    if (m) continue;
    if (argv[i][0] == '-' || a->model) {
      tq_cli_error(a->cmd, "unexpected argument '%s' (see tq %s --help)",
                   argv[i], a->cmd);
      return 0;
    }
    a->model = argv[i];
  }
  return 1;
}

int tq_cli_an_kinds(const tq_cli_an *a, tq_map_kind *kinds, size_t *n) {
  if (!a->what) return 1;
  static const struct {
    const char *name;
    tq_map_kind kind;
  } names[] = {{"extr", TQ_MAP_EXTRINSIC},
               {"extrinsic", TQ_MAP_EXTRINSIC},
               {"weights", TQ_MAP_WEIGHTS},
               {"intr", TQ_MAP_INTRINSIC},
               {"intrinsic", TQ_MAP_INTRINSIC}};
  *n = 0;
  for (const char *p = a->what;;) {
    const char *c = strchr(p, ',');
    const size_t len = c ? (size_t)(c - p) : strlen(p);
    size_t j = 0;
    while (j < sizeof names / sizeof *names &&
           (strlen(names[j].name) != len || strncmp(p, names[j].name, len)))
      j++;
    if (j == sizeof names / sizeof *names) {
      tq_cli_error(a->cmd, "--what '%.*s': expected extr, weights or intr",
                   (int)len, p);
      return 0;
    }
    for (size_t i = 0; i < *n; i++)
      if (kinds[i] == names[j].kind) {
        tq_cli_error(a->cmd, "--what lists '%s' twice",
                     tq_analysis_kind_name(names[j].kind));
        return 0;
      }
    if (*n == 3) return 0;
    kinds[(*n)++] = names[j].kind;
    if (!c) return 1;
    p = c + 1;
  }
}

/* The progress bar: one per stage of the analysis (statistics, the
 * evaluations), on rank 0's terminal unless quiet. */
static int on_progress(void *user, const char *stage, size_t done,
                       size_t total) {
  tq_cli_an *a = user;
  if (!a->stage || strcmp(a->stage, stage)) {
    tq_progress_end(&a->bar);
    tq_progress_start(&a->bar, a->root && !a->quiet && !a->json);
    a->stage = stage;
  }
  tq_progress_update(&a->bar, stage, done, total, NULL);
  return tq_cli_interrupted();
}

static int check_options(const tq_cli_an *a) {
  if (!a->model || !a->d.data) {
    tq_cli_error(a->cmd, "needs MODEL.onnx and --data D (see tq %s --help)",
                 a->cmd);
    return 0;
  }
  const char *dot = a->out ? strrchr(a->out, '.') : NULL;
  if (a->out && (!dot || (strcmp(dot, ".json") && strcmp(dot, ".csv")))) {
    tq_cli_error(a->cmd, "-o %s: the file name must end in .json or .csv",
                 a->out);
    return 0;
  }
  return 1;
}

int tq_cli_an_open(tq_cli_an *a) {
  if (!check_options(a)) return 0;
  a->root = tq_cli_comm_is_root();
  if (!(a->ctx = tq_cli_context(a->d.threads))) return 0;
  tq_cli_catch_sigint();
  tq_status st = tq_onnx_load(a->ctx, a->model, &a->g);
  if (st != TQ_OK) return tq_cli_an_done(a, st);
  size_t n;
  if (!tq_cli_open_data(a->cmd, a->ctx, &a->d, &a->ds, &n)) return 0;
  if (a->calib_file &&
      (st = tq_calibration_load(a->ctx, a->calib_file, &a->calibration)))
    return tq_cli_an_done(a, st);
  const tq_analysis_opts o = {
      .limit = n,
      .batch = (int)a->d.batch,
      .seed = a->d.seed,
      .calib = a->calib > 0 ? (size_t)a->calib : 0,
      .memory_bytes = a->memory_mb > 0 ? (size_t)a->memory_mb << 20 : 0,
      .no_reuse = a->no_reuse,
      .comm = tq_cli_comm(),
      .progress = on_progress,
      .progress_user = a,
      .model = a->model,
      .split = a->d.split ? a->d.split : "test",
      .created_by = "tq " TQ_VERSION_STRING,
      .calibration = a->calibration};
  if (!tq_cli_an_done(a, tq_analysis_create(a->ctx, a->g, a->ds, &o, &a->an)))
    return 0;
  if (a->needs_specs && a->n_specs == 0) {
    tq_cli_error(a->cmd,
                 "needs --specs LIST (e.g. --specs "
                 "'nearest,{4..16},{auto}')");
    return 0;
  }
  return 1;
}

void tq_cli_an_close(tq_cli_an *a) {
  tq_analysis_destroy(a->an);
  tq_calibration_destroy(a->calibration);
  tq_dataset_destroy(a->ds);
  tq_graph_destroy(a->g);
  tq_context_destroy(a->ctx);
  tq_spec_list_free(a->layers, a->n_layers);
}

int tq_cli_an_done(tq_cli_an *a, tq_status st) {
  tq_progress_end(&a->bar);
  a->stage = NULL;
  if (st != TQ_OK) tq_cli_status_error(a->cmd, a->ctx, st);
  return st == TQ_OK;
}

/* -o FILE.json: the document as it is; FILE.csv: its rows. */
static tq_status write_output(tq_cli_an *a, const char *doc) {
  const char *dot = strrchr(a->out, '.');
  char *csv = NULL;
  tq_status st = TQ_OK;
  if (!strcmp(dot, ".csv")) st = tq_report_csv(a->ctx, doc, a->cmd, &csv);
  const char *body = csv ? csv : doc;
  if (st == TQ_OK)
    st = tq_write_file_atomic(a->ctx, a->out, body, strlen(body));
  tq_free(csv);
  return st;
}

int tq_cli_an_write(tq_cli_an *a, const char *doc) {
  if (!a->root) return 1;
  tq_status st = a->out ? write_output(a, doc) : TQ_OK;
  if (st == TQ_OK && a->report) {
    st = tq_report_write_html(a->ctx, doc, a->cmd, a->report,
                              tq_cli_chartjs(NULL));
    if (st == TQ_OK && !a->json && !a->quiet)
      fprintf(stderr, "report: %s\n", a->report);
  }
  if (st != TQ_OK) {
    tq_cli_status_error(a->cmd, a->ctx, st);
    return 0;
  }
  if (a->json) printf("%s\n", doc);
  return 1;
}

int tq_cli_an_finish(tq_cli_an *a, int ok, char *doc) {
  ok = ok && tq_cli_an_write(a, doc);
  tq_free(doc);
  tq_cli_an_close(a);
  return ok ? TQ_EXIT_OK : TQ_EXIT_FAILURE;
}

int tq_cli_an_prints(const tq_cli_an *a) {
  return a->root && !a->json;
}

void tq_cli_an_print_float(const tq_cli_an *a, const tq_config_result *flt) {
  char b1[32], b2[32];
  printf("float: top-1 %s %%  top-5 %s %%  loss %.4f  (%zu samples)\n\n",
         tq_cli_an_pct(flt->eval.top1, b1, sizeof b1),
         tq_cli_an_pct(flt->eval.top5, b2, sizeof b2), flt->eval.loss,
         tq_analysis_sample_count(a->an));
}

const char *tq_cli_an_pct(double fraction, char *buf, size_t cap) {
  if (fraction != fraction)
    snprintf(buf, cap, "-");
  else
    snprintf(buf, cap, "%.2f", 100.0 * fraction);
  return buf;
}

const char *tq_cli_an_db(double db, char *buf, size_t cap) {
  if (db != db)
    snprintf(buf, cap, "nan");
  else if (isinf(db))
    snprintf(buf, cap, "inf");
  else
    snprintf(buf, cap, "%.1f", db);
  return buf;
}
