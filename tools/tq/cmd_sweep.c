/* tq sweep: accuracy of a model with groups of layers quantized by each
 * spec of a list — the paper's experiments in one command. */
#include <stdlib.h>
#include <string.h>

#include "analysis_cli.h"

static const char help[] =
    "usage: tq sweep MODEL.onnx --data D --what extr|weights|intr\n"
    "                --layers P1,P2,... --specs LIST [options]\n"
    "\n"
    "For every layer pattern and every spec of LIST, quantizes the layers\n"
    "the pattern matches (all other layers stay float) and evaluates the\n"
    "model: top-1, top-5, loss, change against float, output SQNR. Prints\n"
    "a table; -o writes CSV or JSON, --report an HTML report.\n"
    "\n"
    "LIST holds specs separated by ';' with ranges and alternatives in\n"
    "braces: 'nearest,{4..16},{auto}' is 13 specs, 'nearest,8,{2..6..2}'\n"
    "three, '{nearest,stochastic},8,4' two. `auto` as the fractional bits\n"
    "picks, per layer, the most that still cover the largest magnitude\n"
    "seen on the first --calib samples (see tq stats).\n"
    "\n"
    "A pattern is a map key (docs/maps.md): a substring of layer IDs or\n"
    "weight names, or re:REGEX; without --layers, each layer separately.\n"
    "\n"
    "options:\n"
    "      --what W       which quantization: extr (layer outputs, default),\n"
    "                     weights, intr (products and sums inside\n"
    "                     Conv/Gemm/MatMul)\n"
    "  -l, --layers P,... layer patterns, one group each (repeatable)\n"
    "  -s, --specs LIST   the specs (repeatable)\n" TQ_AN_COMMON_HELP
    "\n"
    "The float network runs once per batch; each configuration runs only\n"
    "from the first layer it quantizes. Under mpirun, batches are spread\n"
    "over the ranks; results are identical to one process.\n"
    "\n"
    "examples:\n"
    "  tq sweep models/lenet-fashion-mnist.onnx --data fashion-mnist \\\n"
    "      --what extr --layers Conv1,Dense3 --specs 'nearest,{4..12},{auto}'\n"
    "  tq sweep model.onnx -d x.npy,y.npy --what weights --layers re:.* \\\n"
    "      --specs 'nearest,{2..8},{auto};fp8e4m3;fp8e5m2' -o sweep.csv \\\n"
    "      --report sweep.html\n";

typedef struct group {
  char *label; /* the pattern, or the layer ID */
  size_t *nodes;
  size_t n;
} group;

static int run(int argc, char **argv) {
  tq_an_cli a = {.cmd = "sweep"};
  for (int i = 1; i < argc; i++) {
    int m = tq_an_option(&a, argc, argv, &i);
    if (m < 0) return TQ_EXIT_USAGE;
    if (m) continue;
    if (argv[i][0] == '-' || a.model) {
      tq_cli_error(a.cmd, "unexpected argument '%s' (see tq sweep --help)",
                   argv[i]);
      return TQ_EXIT_USAGE;
    }
    a.model = argv[i];
  }
  tq_map_kind kinds[3];
  size_t n_kinds = 1;
  kinds[0] = TQ_MAP_EXTRINSIC;
  if (a.what &&
      (!tq_an_parse_what(a.cmd, a.what, kinds, &n_kinds) || n_kinds != 1)) {
    if (n_kinds != 1) tq_cli_error(a.cmd, "--what takes one kind here");
    return TQ_EXIT_USAGE;
  }
  const tq_map_kind kind = kinds[0];
  int rc = TQ_EXIT_FAILURE;
  char **specs = NULL;
  size_t n_specs = 0, n_groups = 0, n_cfg = 0, n_patterns = 0;
  char **patterns = NULL;
  group *groups = NULL;
  tq_qmap_set **cfg = NULL;
  tq_config_result *res = NULL, flt;
  json_t *doc = NULL;
  if (!tq_an_open(&a) || !tq_an_specs(&a, &specs, &n_specs)) goto done;
  /* Groups: each pattern, or each layer when none is given. */
  if (!tq_an_patterns(&a, &patterns, &n_patterns)) goto done;
  const size_t nn = tq_graph_node_count(a.g);
  groups = calloc(n_patterns ? n_patterns : nn + 1, sizeof *groups);
  if (!groups) goto done;
  if (n_patterns) {
    for (; n_groups < n_patterns; n_groups++) {
      group *gr = &groups[n_groups];
      gr->label = strdup(patterns[n_groups]);
      gr->nodes = malloc((nn ? nn : 1) * sizeof *gr->nodes);
      if (!gr->label || !gr->nodes ||
          !tq_an_match(&a, kind, patterns[n_groups], gr->nodes, &gr->n)) {
        n_groups++;
        goto done;
      }
    }
  } else {
    size_t *all, n_all;
    if (!tq_an_select_layers(&a, kind, &all, &n_all)) goto done;
    for (size_t k = 0; k < n_all; k++) {
      tq_node_info info;
      tq_graph_node_info(a.g, all[k], &info);
      group *gr = &groups[n_groups++];
      gr->label = strdup(info.id);
      gr->nodes = malloc(sizeof *gr->nodes);
      if (!gr->label || !gr->nodes) {
        free(all);
        goto done;
      }
      gr->nodes[0] = all[k];
      gr->n = 1;
    }
    free(all);
  }
  n_cfg = n_groups * n_specs;
  cfg = calloc(n_cfg ? n_cfg : 1, sizeof *cfg);
  res = calloc(n_cfg ? n_cfg : 1, sizeof *res);
  if (!cfg || !res) goto done;
  for (size_t gi = 0; gi < n_groups; gi++)
    for (size_t si = 0; si < n_specs; si++) {
      tq_qmap_set **set = &cfg[gi * n_specs + si];
      if (tq_qmap_set_create(a.ctx, set) != TQ_OK) goto done;
      for (size_t k = 0; k < groups[gi].n; k++) {
        char spec[600];
        if (!tq_an_resolve(&a, specs[si], groups[gi].nodes[k], kind, spec,
                           sizeof spec) ||
            !tq_an_add(&a, *set, kind, groups[gi].nodes[k], spec))
          goto done;
      }
    }
  if (!tq_an_evaluate(&a, "sweep", NULL, 0, 0, (const tq_qmap_set *const *)cfg,
                      n_cfg, &flt, res))
    goto done;
  char title[512];
  snprintf(title, sizeof title, "Sweep of %s (%s)", a.model,
           tq_an_what_name(kind));
  doc = tq_an_document(&a, "sweep", title, &flt);
  json_t *rows = json_array();
  json_object_set_new(doc, "results", rows);
  if (a.root && !a.json) {
    tq_an_print_float(&a, &flt);
    printf("%-40s %-28s %4s %8s %8s %8s %8s %8s\n", "layers", "spec", "bits",
           "top-1 %", "change", "top-5 %", "loss", "SQNR dB");
  }
  for (size_t gi = 0; gi < n_groups; gi++)
    for (size_t si = 0; si < n_specs; si++) {
      const tq_config_result *r = &res[gi * n_specs + si];
      const int bits = tq_an_bits(&a, specs[si]);
      json_t *row = tq_an_result_row(tq_an_what_name(kind), groups[gi].label,
                                     specs[si], bits, r, &flt);
      json_array_append_new(rows, row);
      /* the layers and the exact specs they got (`auto` resolved) */
      json_t *resolved = json_object();
      json_object_set_new(row, "resolved", resolved);
      for (size_t k = 0; k < groups[gi].n; k++) {
        char spec[600];
        tq_node_info info;
        tq_graph_node_info(a.g, groups[gi].nodes[k], &info);
        if (!tq_an_resolve(&a, specs[si], groups[gi].nodes[k], kind, spec,
                           sizeof spec))
          goto done;
        json_object_set_new(resolved, info.id, json_string(spec));
      }
      if (a.root && !a.json) {
        char b1[32], b2[32], b3[32];
        printf("%-40s %-28s %4d %8s %+8.2f %8s %8.4f %8s\n", groups[gi].label,
               specs[si], bits, tq_an_pct(r->eval.top1, b1, sizeof b1),
               100.0 * (r->eval.top1 - flt.eval.top1),
               tq_an_pct(r->eval.top5, b2, sizeof b2), r->eval.loss,
               tq_an_db(r->sqnr_db, b3, sizeof b3));
      }
    }
  if (!tq_an_write(&a, doc)) goto done;
  rc = TQ_EXIT_OK;
done:
  json_decref(doc);
  for (size_t i = 0; cfg && i < n_cfg; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(res);
  for (size_t i = 0; groups && i < n_groups; i++) {
    free(groups[i].label);
    free(groups[i].nodes);
  }
  free(groups);
  tq_spec_list_free(specs, n_specs);
  tq_spec_list_free(patterns, n_patterns);
  tq_an_close(&a);
  return rc;
}

const tq_command tq_cmd_sweep = {"sweep",
                                 "accuracy of layer groups under each spec "
                                 "of a list (ranges, auto)",
                                 run, help};
