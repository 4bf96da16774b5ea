/* tq sensitivity: quantize one layer at a time, rank layers by the
 * accuracy they lose. */
#include <stdlib.h>
#include <string.h>

#include "analysis_cli.h"

static const char help[] =
    "usage: tq sensitivity MODEL.onnx --data D --specs LIST [options]\n"
    "\n"
    "Quantizes one layer at a time (all others float) with each spec of\n"
    "LIST and ranks the layers by the top-1 accuracy they lose (ties: by\n"
    "output SQNR). Prints the ranking; -o writes CSV or JSON, --report an\n"
    "HTML report with the sensitivity chart.\n"
    "\n"
    "options:\n"
    "      --what W[,W..] extr (layer outputs, default), weights, intr, or\n"
    "                     several: each layer is tried for each\n"
    "  -l, --layers P,... only the layers these patterns match (default:\n"
    "                     every layer the kind can quantize; for extr, not\n"
    "                     the final Softmax whose probabilities the loss\n"
    "                     reads)\n"
    "  -s, --specs LIST   specs separated by ';', with {a..b} ranges and\n"
    "                     `auto` fractional bits (see tq sweep --help)\n"
    "      --top N        print only the N most sensitive "
    "rows\n" TQ_AN_COMMON_HELP
    "\n"
    "Each configuration runs only from the layer it quantizes, on float\n"
    "values computed once per batch: the sweep costs far less than one\n"
    "evaluation per layer. Under mpirun, batches are spread over the\n"
    "ranks; results are identical to one process.\n"
    "\n"
    "examples:\n"
    "  tq sensitivity models/lenet-fashion-mnist.onnx --data fashion-mnist \\\n"
    "      --what extr,weights --specs 'nearest,4,auto' --report sens.html\n"
    "  tq sensitivity resnet18.onnx -d x.npy,y.npy --what weights \\\n"
    "      --specs 'nearest,{4,6},{auto}' -o sens.csv --json\n";

typedef struct row {
  size_t cfg;
  tq_map_kind kind;
  size_t node, spec;
} row;

static const tq_config_result *g_res; /* qsort has no user pointer */

static int by_loss(const void *pa, const void *pb) {
  const row *a = pa, *b = pb;
  const tq_config_result *ra = &g_res[a->cfg], *rb = &g_res[b->cfg];
  if (ra->eval.top1 != rb->eval.top1)
    return ra->eval.top1 < rb->eval.top1 ? -1 : 1;
  const double sa = ra->sqnr_db == ra->sqnr_db ? ra->sqnr_db : -1e300;
  const double sb = rb->sqnr_db == rb->sqnr_db ? rb->sqnr_db : -1e300;
  if (sa != sb) return sa < sb ? -1 : 1;
  return a->cfg < b->cfg ? -1 : a->cfg > b->cfg;
}

static int run(int argc, char **argv) {
  tq_an_cli a = {.cmd = "sensitivity"};
  long top = 0;
  for (int i = 1; i < argc; i++) {
    int m = tq_an_option(&a, argc, argv, &i);
    if (m < 0) return TQ_EXIT_USAGE;
    if (m) continue;
    if (!strcmp(argv[i], "--top")) {
      const char *v = tq_cli_value(a.cmd, argc, argv, &i);
      if (!v || !tq_cli_parse_int(a.cmd, "--top", v, 1, 1L << 30, &top))
        return TQ_EXIT_USAGE;
      continue;
    }
    if (argv[i][0] == '-' || a.model) {
      tq_cli_error(a.cmd,
                   "unexpected argument '%s' (see tq sensitivity --help)",
                   argv[i]);
      return TQ_EXIT_USAGE;
    }
    a.model = argv[i];
  }
  tq_map_kind kinds[3] = {TQ_MAP_EXTRINSIC};
  size_t n_kinds = 1;
  if (a.what && !tq_an_parse_what(a.cmd, a.what, kinds, &n_kinds))
    return TQ_EXIT_USAGE;
  int rc = TQ_EXIT_FAILURE;
  char **specs = NULL;
  size_t n_specs = 0, n_cfg = 0, n_rows = 0;
  tq_qmap_set **cfg = NULL;
  tq_config_result *res = NULL, flt;
  row *rows = NULL;
  json_t *doc = NULL;
  if (!tq_an_open(&a) || !tq_an_specs(&a, &specs, &n_specs)) goto done;
  size_t *layers[3] = {NULL, NULL, NULL}, n_layers[3] = {0, 0, 0};
  for (size_t k = 0; k < n_kinds; k++) {
    if (!tq_an_select_layers(&a, kinds[k], &layers[k], &n_layers[k]))
      goto free_layers;
    n_cfg += n_layers[k] * n_specs;
  }
  cfg = calloc(n_cfg, sizeof *cfg);
  res = calloc(n_cfg, sizeof *res);
  rows = calloc(n_cfg, sizeof *rows);
  if (!cfg || !res || !rows) goto free_layers;
  for (size_t k = 0; k < n_kinds; k++)
    for (size_t l = 0; l < n_layers[k]; l++)
      for (size_t si = 0; si < n_specs; si++) {
        char spec[600];
        row *r = &rows[n_rows];
        r->cfg = n_rows;
        r->kind = kinds[k];
        r->node = layers[k][l];
        r->spec = si;
        if (tq_qmap_set_create(a.ctx, &cfg[n_rows]) != TQ_OK) goto free_layers;
        n_rows++;
        if (!tq_an_resolve(&a, specs[si], r->node, r->kind, spec,
                           sizeof spec) ||
            !tq_an_add(&a, cfg[n_rows - 1], r->kind, r->node, spec))
          goto free_layers;
      }
  if (!tq_an_evaluate(&a, "sensitivity", NULL, 0, 0,
                      (const tq_qmap_set *const *)cfg, n_cfg, &flt, res))
    goto free_layers;
  char title[512];
  snprintf(title, sizeof title, "Layer sensitivity of %s", a.model);
  doc = tq_an_document(&a, "sensitivity", title, &flt);
  json_t *results = json_array(), *ranking = json_array();
  json_object_set_new(doc, "results", results);
  json_object_set_new(doc, "sensitivity", ranking);
  for (size_t i = 0; i < n_rows; i++) {
    tq_node_info info;
    tq_graph_node_info(a.g, rows[i].node, &info);
    json_t *r = tq_an_result_row(
        tq_an_what_name(rows[i].kind), info.id, specs[rows[i].spec],
        tq_an_bits(&a, specs[rows[i].spec]), &res[rows[i].cfg], &flt);
    json_array_append_new(results, r);
  }
  g_res = res;
  qsort(rows, n_rows, sizeof *rows, by_loss);
  if (a.root && !a.json) {
    tq_an_print_float(&a, &flt);
    printf("%4s  %-40s %-7s %-24s %8s %8s %8s\n", "rank", "layer", "what",
           "spec", "top-1 %", "change", "SQNR dB");
  }
  for (size_t i = 0; i < n_rows; i++) {
    const tq_config_result *r = &res[rows[i].cfg];
    tq_node_info info;
    tq_graph_node_info(a.g, rows[i].node, &info);
    const double delta = 100.0 * (r->eval.top1 - flt.eval.top1);
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:f}", "rank", (json_int_t)(i + 1),
                  "layer", info.id, "what", tq_an_what_name(rows[i].kind),
                  "spec", specs[rows[i].spec], "delta_top1", delta);
    json_object_set_new(o, "sqnr_db",
                        r->sqnr_db == r->sqnr_db && r->sqnr_db < 1e300
                            ? json_real(r->sqnr_db)
                            : json_null());
    json_array_append_new(ranking, o);
    if (a.root && !a.json && (!top || (long)i < top)) {
      char b1[32], b2[32];
      printf("%4zu  %-40s %-7s %-24s %8s %+8.2f %8s\n", i + 1, info.id,
             tq_an_what_name(rows[i].kind), specs[rows[i].spec],
             tq_an_pct(r->eval.top1, b1, sizeof b1), delta,
             tq_an_db(r->sqnr_db, b2, sizeof b2));
    }
  }
  if (tq_an_write(&a, doc)) rc = TQ_EXIT_OK;
free_layers:
  for (size_t k = 0; k < 3; k++) free(layers[k]);
done:
  json_decref(doc);
  for (size_t i = 0; cfg && i < n_cfg; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(res);
  free(rows);
  tq_spec_list_free(specs, n_specs);
  tq_an_close(&a);
  return rc;
}

const tq_command tq_cmd_sensitivity = {
    "sensitivity", "rank layers by the accuracy they lose when quantized", run,
    help};
