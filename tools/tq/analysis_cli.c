/* What tq sweep, tq sensitivity and tq search share (analysis_cli.h). */
#include "analysis_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "model_util.h"
#include "tensorquant/report.h"
#include "tensorquant/version.h"

int tq_an_option(tq_an_cli *a, int argc, char **argv, int *i) {
  const char *o = argv[*i], *v;
  const char *cmd = a->cmd;
#define VALUE()                                             \
  do {                                                      \
    if (!(v = tq_cli_value(cmd, argc, argv, i))) return -1; \
  } while (0)
  const int dm = tq_cli_data_option(cmd, &a->d, argc, argv, i);
  if (dm) return dm;
  if (!strcmp(o, "--calib")) {
    VALUE();
    if (!tq_cli_parse_int(cmd, o, v, 1, 1L << 40, &a->calib)) return -1;
  } else if (!strcmp(o, "--memory")) {
    VALUE();
    if (!tq_cli_parse_int(cmd, o, v, 1, 1L << 24, &a->memory_mb)) return -1;
  } else if (!strcmp(o, "--no-reuse")) {
    a->no_reuse = 1;
  } else if (!strcmp(o, "-o") || !strcmp(o, "--output")) {
    VALUE();
    a->out = v;
  } else if (!strcmp(o, "--report")) {
    VALUE();
    a->report = v;
  } else if (!strcmp(o, "--json")) {
    a->json = 1;
  } else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) {
    a->quiet = 1;
  } else if (!strcmp(o, "--what")) {
    VALUE();
    a->what = v;
  } else if (!strcmp(o, "--specs") || !strcmp(o, "-s")) {
    VALUE();
    if (a->n_specs == TQ_AN_MAX_LISTS) {
      tq_cli_error(cmd, "at most %d --specs options", TQ_AN_MAX_LISTS);
      return -1;
    }
    a->specs[a->n_specs++] = v;
  } else if (!strcmp(o, "--layers") || !strcmp(o, "-l")) {
    VALUE();
    if (a->n_layers == TQ_AN_MAX_LISTS) {
      tq_cli_error(cmd, "at most %d --layers options", TQ_AN_MAX_LISTS);
      return -1;
    }
    a->layers[a->n_layers++] = v;
  } else {
    return 0;
  }
#undef VALUE
  return 1;
}

int tq_an_open(tq_an_cli *a) {
  const char *cmd = a->cmd;
  if (!a->model || !a->d.data) {
    tq_cli_error(cmd, "needs MODEL.onnx and --data D (see tq %s --help)", cmd);
    return 0;
  }
  if (a->out) {
    const char *dot = strrchr(a->out, '.');
    if (!dot || (strcmp(dot, ".json") && strcmp(dot, ".csv"))) {
      tq_cli_error(cmd, "-o %s: the file name must end in .json or .csv",
                   a->out);
      return 0;
    }
  }
  a->comm = tq_cli_comm();
  a->root = tq_cli_comm_is_root();
  if (tq_context_create(&a->ctx) != TQ_OK) return 0;
  if (a->d.threads) tq_context_set_threads(a->ctx, (int)a->d.threads);
  tq_cli_catch_sigint();
  if (!tq_cli_open_model(cmd, a->ctx, a->model, &a->g, &a->s)) return 0;
  if (!tq_cli_open_data(cmd, a->ctx, &a->d, &a->ds, &a->n)) return 0;
  if (tq_graph_input_count(a->g) != 1) {
    tq_cli_error(cmd, "%s has %zu inputs; these commands need one", a->model,
                 tq_graph_input_count(a->g));
    return 0;
  }
  const tq_shape one = tq_dataset_batch_shape(a->ds, 1);
  const tq_status st = tq_session_plan(a->ctx, a->s, &one, 1);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, a->ctx, st);
    return 0;
  }
  return 1;
}

void tq_an_close(tq_an_cli *a) {
  tq_stats_destroy(a->stats);
  tq_dataset_destroy(a->ds);
  tq_session_destroy(a->s);
  tq_graph_destroy(a->g);
  tq_context_destroy(a->ctx);
}

static const char *const what_names[TQ_MAP_KIND_COUNT] = {
    [TQ_MAP_EXTRINSIC] = "extr",
    [TQ_MAP_WEIGHTS] = "weights",
    [TQ_MAP_INTRINSIC] = "intr"};

const char *tq_an_what_name(tq_map_kind kind) {
  return (unsigned)kind < TQ_MAP_KIND_COUNT && what_names[kind]
             ? what_names[kind]
             : "?";
}

int tq_an_parse_what(const char *cmd, const char *text, tq_map_kind *kinds,
                     size_t *n) {
  *n = 0;
  const char *p = text;
  for (;;) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    tq_map_kind k = TQ_MAP_KIND_COUNT;
    for (int j = 0; j < TQ_MAP_KIND_COUNT; j++)
      if (what_names[j] && strlen(what_names[j]) == len &&
          !strncmp(p, what_names[j], len))
        k = (tq_map_kind)j;
    if (len == 9 && !strncmp(p, "extrinsic", 9)) k = TQ_MAP_EXTRINSIC;
    if (len == 9 && !strncmp(p, "intrinsic", 9)) k = TQ_MAP_INTRINSIC;
    if (k == TQ_MAP_KIND_COUNT) {
      tq_cli_error(cmd, "--what '%.*s': expected extr, weights or intr",
                   (int)len, p);
      return 0;
    }
    for (size_t i = 0; i < *n; i++)
      if (kinds[i] == k) {
        tq_cli_error(cmd, "--what lists '%s' twice", what_names[k]);
        return 0;
      }
    if (*n == 3) return 0;
    kinds[(*n)++] = k;
    if (!c) break;
    p = c + 1;
  }
  return 1;
}

/* The Softmax/LogSoftmax producing the first output, or -1. */
static long score_head(const tq_graph *g) {
  const char *out = tq_graph_output_name(g, 0);
  for (size_t i = tq_graph_node_count(g); i-- > 0;) {
    tq_node_info info;
    if (tq_graph_node_info(g, i, &info) != TQ_OK) continue;
    for (size_t k = 0; k < info.n_outputs; k++)
      if (!strcmp(info.outputs[k], out))
        return !strcmp(info.op_type, "Softmax") ||
                       !strcmp(info.op_type, "LogSoftmax")
                   ? (long)i
                   : -1;
  }
  return -1;
}

static void list_layers(tq_an_cli *a, tq_map_kind kind) {
  fprintf(stderr, "  layers that %s can quantize:\n", tq_an_what_name(kind));
  size_t shown = 0;
  for (size_t i = 0; i < tq_graph_node_count(a->g); i++) {
    if (!tq_session_node_quantizable(a->s, i, kind)) continue;
    tq_node_info info;
    tq_graph_node_info(a->g, i, &info);
    if (shown++ < 60) fprintf(stderr, "    %s (%s)\n", info.id, info.op_type);
  }
  if (shown > 60) fprintf(stderr, "    ... and %zu more\n", shown - 60);
  if (!shown) fprintf(stderr, "    (none)\n");
}

int tq_an_patterns(tq_an_cli *a, char ***patterns, size_t *n) {
  *patterns = NULL;
  *n = 0;
  for (size_t l = 0; l < a->n_layers; l++) {
    char *copy = strdup(a->layers[l]);
    if (!copy) goto nomem;
    for (char *save = NULL, *p = strtok_r(copy, ",", &save); p;
         p = strtok_r(NULL, ",", &save)) {
      char **more = realloc(*patterns, (*n + 1) * sizeof *more);
      if (!more || !(more[*n] = strdup(p))) {
        if (more) *patterns = more;
        free(copy);
        goto nomem;
      }
      *patterns = more;
      ++*n;
    }
    free(copy);
  }
  return 1;
nomem:
  tq_cli_error(a->cmd, "out of memory for the layer patterns");
  tq_spec_list_free(*patterns, *n);
  *patterns = NULL;
  *n = 0;
  return 0;
}

int tq_an_match(tq_an_cli *a, tq_map_kind kind, const char *pattern,
                size_t *nodes, size_t *n) {
  const tq_status st = tq_session_match_layers(
      a->ctx, a->s, kind, pattern, nodes, tq_graph_node_count(a->g), n);
  if (st != TQ_OK) {
    tq_cli_status_error(a->cmd, a->ctx, st);
    return 0;
  }
  if (*n == 0) {
    tq_cli_error(a->cmd,
                 "the layer pattern '%s' matches no layer that %s can "
                 "quantize",
                 pattern, tq_an_what_name(kind));
    if (a->root) list_layers(a, kind);
    return 0;
  }
  return 1;
}

int tq_an_select_layers(tq_an_cli *a, tq_map_kind kind, size_t **nodes,
                        size_t *n) {
  const size_t nn = tq_graph_node_count(a->g);
  *nodes = calloc(nn ? nn : 1, sizeof **nodes);
  unsigned char *pick = calloc(nn ? nn : 1, 1);
  size_t *found = calloc(nn ? nn : 1, sizeof *found);
  char **patterns = NULL;
  size_t n_patterns = 0;
  *n = 0;
  int ok = *nodes && pick && found && tq_an_patterns(a, &patterns, &n_patterns);
  if (ok && n_patterns == 0) {
    const long head = kind == TQ_MAP_EXTRINSIC ? score_head(a->g) : -1;
    for (size_t i = 0; i < nn; i++)
      pick[i] = tq_session_node_quantizable(a->s, i, kind) && (long)i != head;
  }
  for (size_t l = 0; ok && l < n_patterns; l++) {
    size_t count = 0;
    ok = tq_an_match(a, kind, patterns[l], found, &count);
    for (size_t k = 0; ok && k < count; k++) pick[found[k]] = 1;
  }
  for (size_t i = 0; ok && i < nn; i++)
    if (pick[i]) (*nodes)[(*n)++] = i;
  if (ok && *n == 0) {
    tq_cli_error(a->cmd, "the model has no layer that %s can quantize",
                 tq_an_what_name(kind));
    ok = 0;
  }
  tq_spec_list_free(patterns, n_patterns);
  free(pick);
  free(found);
  if (!ok) {
    free(*nodes);
    *nodes = NULL;
    *n = 0;
  }
  return ok;
}

int tq_an_specs(tq_an_cli *a, char ***specs, size_t *n) {
  *specs = NULL;
  *n = 0;
  if (a->n_specs == 0) {
    tq_cli_error(a->cmd,
                 "needs --specs LIST (e.g. --specs "
                 "'nearest,{4..16},{auto}')");
    return 0;
  }
  for (size_t i = 0; i < a->n_specs; i++) {
    char **more;
    size_t m;
    tq_status st = tq_spec_list_expand(a->ctx, a->specs[i], &more, &m);
    if (st != TQ_OK) {
      tq_cli_status_error(a->cmd, a->ctx, st);
      tq_spec_list_free(*specs, *n);
      *specs = NULL;
      *n = 0;
      return 0;
    }
    char **all = realloc(*specs, (*n + m) * sizeof *all);
    if (!all) {
      tq_cli_error(a->cmd, "out of memory for %zu specs", *n + m);
      tq_spec_list_free(more, m);
      tq_spec_list_free(*specs, *n);
      *specs = NULL;
      *n = 0;
      return 0;
    }
    memcpy(all + *n, more, m * sizeof *more);
    free(more);
    *specs = all;
    *n += m;
  }
  /* Every spec must parse (with `auto` standing in as 0). */
  for (size_t i = 0; i < *n; i++) {
    char probe[600];
    tq_status st =
        tq_spec_resolve_auto(a->ctx, (*specs)[i], 1.0, probe, sizeof probe);
    tq_quantizer *q = NULL;
    if (st == TQ_OK) st = tq_quantizer_parse(a->ctx, probe, &q);
    tq_quantizer_destroy(q);
    if (st != TQ_OK) {
      tq_cli_status_error(a->cmd, a->ctx, st);
      tq_spec_list_free(*specs, *n);
      *specs = NULL;
      *n = 0;
      return 0;
    }
  }
  return 1;
}

static int calib_progress(void *user, size_t done, size_t total) {
  tq_an_cli *a = user;
  tq_progress_update(&a->bar, "statistics", done, total, NULL);
  return tq_cli_interrupted();
}

int tq_an_resolve(tq_an_cli *a, const char *spec, size_t node, tq_map_kind kind,
                  char *out, size_t cap) {
  double max_abs = 0.0;
  if (tq_spec_has_auto(spec)) {
    if (!a->stats) {
      tq_stats_opts so = {0};
      so.progress = calib_progress;
      so.user = a;
      size_t n = a->calib > 0 ? (size_t)a->calib : 1000;
      if (n > a->n) n = a->n;
      tq_progress_start(&a->bar, a->root && !a->quiet && !a->json);
      tq_status st = tq_stats_collect(a->ctx, a->s, a->ds, NULL, n,
                                      a->d.batch > 0 ? (int)a->d.batch : 256,
                                      &so, &a->stats);
      tq_progress_end(&a->bar);
      if (st != TQ_OK) {
        tq_cli_status_error(a->cmd, a->ctx, st);
        return 0;
      }
    }
    tq_node_info info;
    tq_graph_node_info(a->g, node, &info);
    /* weights: the layer's weights; extr: its outputs; intr: products
     * and sums, whose range the layer's outputs stand for */
    tq_status st = tq_stats_layer_max_abs(
        a->ctx, a->stats, info.id,
        kind == TQ_MAP_WEIGHTS ? TQ_STATS_WEIGHT : TQ_STATS_ACTIVATION,
        &max_abs);
    if (st != TQ_OK) {
      tq_cli_status_error(a->cmd, a->ctx, st);
      return 0;
    }
  }
  tq_status st = tq_spec_resolve_auto(a->ctx, spec, max_abs, out, cap);
  if (st != TQ_OK) {
    tq_cli_status_error(a->cmd, a->ctx, st);
    return 0;
  }
  return 1;
}

int tq_an_add(tq_an_cli *a, tq_qmap_set *set, tq_map_kind kind, size_t node,
              const char *spec) {
  tq_node_info info;
  tq_graph_node_info(a->g, node, &info);
  char key[1024];
  if (!tq_exact_layer_key(info.id, key, sizeof key)) {
    tq_cli_error(a->cmd, "layer ID too long: %s", info.id);
    return 0;
  }
  tq_qmap *m = (tq_qmap *)tq_qmap_set_get(set, kind);
  tq_status st = TQ_OK;
  if (!m) {
    tq_qmap *fresh = NULL;
    st = tq_qmap_create(a->ctx, kind, &fresh);
    if (st == TQ_OK) st = tq_qmap_set_put(a->ctx, set, fresh);
    m = (tq_qmap *)tq_qmap_set_get(set, kind);
  }
  if (st == TQ_OK) st = tq_qmap_add(a->ctx, m, key, spec);
  if (st != TQ_OK) {
    tq_cli_status_error(a->cmd, a->ctx, st);
    return 0;
  }
  return 1;
}

int tq_an_bits(tq_an_cli *a, const char *spec) {
  /* the width does not depend on the fractional bits `auto` stands for */
  char probe[600];
  tq_quantizer *q = NULL;
  if (tq_spec_resolve_auto(a->ctx, spec, 1.0, probe, sizeof probe) != TQ_OK ||
      tq_quantizer_parse(a->ctx, probe, &q) != TQ_OK)
    return 0;
  int bits = tq_spec_bits(q);
  tq_quantizer_destroy(q);
  return bits;
}

static int eval_progress(void *user, size_t done, size_t total) {
  tq_an_cli *a = user;
  tq_progress_update(&a->bar, a->bar_label, done, total, NULL);
  return tq_cli_interrupted();
}

int tq_an_evaluate(tq_an_cli *a, const char *label, const size_t *idx, size_t n,
                   uint64_t offset, const tq_qmap_set *const *configs,
                   size_t n_configs, tq_config_result *float_result,
                   tq_config_result *results) {
  tq_multi_eval_opts o = {0};
  o.batch = a->d.batch > 0 ? (int)a->d.batch : 256;
  o.seed = a->d.seed;
  o.memory_bytes = a->memory_mb > 0 ? (size_t)a->memory_mb << 20 : 0;
  o.no_reuse = a->no_reuse;
  o.sample_offset = offset;
  o.comm = a->comm;
  o.progress = eval_progress;
  o.progress_user = a;
  a->bar_label = label;
  tq_progress_start(&a->bar, a->root && !a->quiet && !a->json);
  tq_status st =
      tq_evaluate_configs(a->ctx, a->g, a->ds, idx, idx ? n : a->n, configs,
                          n_configs, &o, float_result, results);
  tq_progress_end(&a->bar);
  if (st != TQ_OK) {
    tq_cli_status_error(a->cmd, a->ctx, st);
    return 0;
  }
  return 1;
}

static json_t *number_or_null(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

json_t *tq_an_document(const tq_an_cli *a, const char *command,
                       const char *title, const tq_config_result *flt) {
  json_t *doc = json_object();
  json_object_set_new(doc, "schema", json_string("tq-report/1"));
  json_object_set_new(doc, "command", json_string(command));
  json_object_set_new(doc, "title", json_string(title));
  json_object_set_new(doc, "created_by", json_string("tq " TQ_VERSION_STRING));
  json_object_set_new(doc, "model", json_string(a->model));
  json_object_set_new(doc, "data", json_string(tq_dataset_name(a->ds)));
  json_object_set_new(doc, "split",
                      json_string(a->d.split ? a->d.split : "test"));
  json_object_set_new(doc, "n", json_integer((json_int_t)a->n));
  if (flt)
    json_object_set_new(
        doc, "float",
        json_pack("{s:f, s:f, s:f}", "top1", flt->eval.top1, "top5",
                  flt->eval.top5, "loss", flt->eval.loss));
  return doc;
}

json_t *tq_an_result_row(const char *what, const char *layers, const char *spec,
                         int bits, const tq_config_result *r,
                         const tq_config_result *flt) {
  json_t *row = json_object();
  json_object_set_new(row, "what", json_string(what));
  json_object_set_new(row, "layers", json_string(layers));
  json_object_set_new(row, "spec", json_string(spec));
  json_object_set_new(row, "bits", bits > 0 ? json_integer(bits) : json_null());
  json_object_set_new(row, "top1", json_real(r->eval.top1));
  json_object_set_new(row, "top5", json_real(r->eval.top5));
  json_object_set_new(row, "loss", number_or_null(r->eval.loss));
  json_object_set_new(row, "delta_top1",
                      json_real(100.0 * (r->eval.top1 - flt->eval.top1)));
  json_object_set_new(row, "sqnr_db", number_or_null(r->sqnr_db));
  return row;
}

/* CSV of the "results" rows (or the search's layers). */
static char *results_csv(json_t *doc) {
  json_t *rows = json_object_get(doc, "results");
  const char *const cols[] = {"what", "layers", "spec",       "bits",   "top1",
                              "top5", "loss",   "delta_top1", "sqnr_db"};
  if (!json_is_array(rows)) {
    json_t *search = json_object_get(doc, "search");
    rows = search ? json_object_get(search, "layers") : NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
    len +=
        (size_t)snprintf(buf + len, cap - len, "%s%s", c ? "," : "", cols[c]);
  buf[len++] = '\n';
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
      char cell[1200] = "";
      json_t *v = json_object_get(row, cols[c]);
      if (json_is_string(v)) {
        /* quote: specs hold commas */
        size_t k = 0;
        cell[k++] = '"';
        for (const char *s = json_string_value(v); *s && k < sizeof cell - 3;
             s++) {
          if (*s == '"') cell[k++] = '"';
          cell[k++] = *s;
        }
        cell[k++] = '"';
        cell[k] = 0;
      } else if (json_is_integer(v)) {
        snprintf(cell, sizeof cell, "%lld", (long long)json_integer_value(v));
      } else if (json_is_real(v)) {
        snprintf(cell, sizeof cell, "%.17g", json_real_value(v));
      }
      size_t need = strlen(cell) + 2;
      if (len + need + 1 > cap) {
        cap = 2 * cap + need;
        char *p = realloc(buf, cap);
        if (!p) {
          free(buf);
          return NULL;
        }
        buf = p;
      }
      len += (size_t)snprintf(buf + len, cap - len, "%s%s", c ? "," : "", cell);
    }
    buf[len++] = '\n';
    buf[len] = 0;
  }
  buf[len] = 0;
  return buf;
}

int tq_an_write(tq_an_cli *a, json_t *doc) {
  if (!a->root) return 1;
  /* The statistics `auto` used (when it did) go along: the report draws
   * their histograms. */
  if (a->stats && !json_object_get(doc, "stats")) {
    tq_stats_json_opts so = {0};
    char *text = NULL;
    if (tq_stats_to_json(a->ctx, a->stats, &so, &text) == TQ_OK) {
      json_t *st = json_loads(text, 0, NULL);
      if (st) json_object_set_new(doc, "stats", st);
    }
    tq_free(text);
  }
  char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
  if (!text) {
    tq_cli_error(a->cmd, "out of memory");
    return 0;
  }
  int ok = 1;
  tq_status st;
  if (a->out) {
    const int csv = !strcmp(strrchr(a->out, '.'), ".csv");
    char *csv_text = csv ? results_csv(doc) : NULL;
    const char *body = csv ? csv_text : text;
    if (!body) {
      tq_cli_error(a->cmd, "out of memory");
      ok = 0;
    } else if ((st = tq_write_file_atomic(a->ctx, a->out, body,
                                          strlen(body))) != TQ_OK) {
      tq_cli_status_error(a->cmd, a->ctx, st);
      ok = 0;
    }
    free(csv_text);
  }
  if (ok && a->report) {
    st = tq_report_write_html(a->ctx, text, a->cmd, a->report, NULL);
    if (st != TQ_OK) {
      tq_cli_status_error(a->cmd, a->ctx, st);
      ok = 0;
    } else if (!a->json && !a->quiet) {
      fprintf(stderr, "report: %s\n", a->report);
    }
  }
  if (ok && a->json) printf("%s\n", text);
  free(text);
  return ok;
}

void tq_an_print_float(const tq_an_cli *a, const tq_config_result *flt) {
  char b1[32], b2[32];
  printf("float: top-1 %s %%  top-5 %s %%  loss %.4f  (%zu samples)\n\n",
         tq_an_pct(flt->eval.top1, b1, sizeof b1),
         tq_an_pct(flt->eval.top5, b2, sizeof b2), flt->eval.loss, a->n);
}

const char *tq_an_pct(double fraction, char *buf, size_t cap) {
  if (fraction != fraction)
    snprintf(buf, cap, "-");
  else
    snprintf(buf, cap, "%.2f", 100.0 * fraction);
  return buf;
}

const char *tq_an_db(double db, char *buf, size_t cap) {
  if (db != db)
    snprintf(buf, cap, "nan");
  else if (isinf(db))
    snprintf(buf, cap, "inf");
  else
    snprintf(buf, cap, "%.1f", db);
  return buf;
}
