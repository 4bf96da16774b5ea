/* tq sensitivity: quantize one layer at a time, rank layers by the
 * accuracy they lose. */
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
    "rows\n" TQ_CLI_AN_COMMON_HELP
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

/* --top N: print only the N most sensitive rows. */
static int top_option(tq_cli_an *a, void *user, int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--top")) return 0;
  const char *v = tq_cli_value(a->cmd, argc, argv, i);
  return v && tq_cli_parse_int(a->cmd, "--top", v, 1, 1L << 30, user) ? 1 : -1;
}

static void print_ranking(const tq_cli_an *a, const tq_sensitivity_result *r,
                          long top) {
  const tq_config_result *flt = &r->float_result;
  tq_cli_an_print_float(a, flt);
  printf("%4s  %-40s %-7s %-24s %8s %8s %8s\n", "rank", "layer", "what", "spec",
         "top-1 %", "change", "SQNR dB");
  for (size_t i = 0; i < r->n_rows && (!top || (long)i < top); i++) {
    const tq_analysis_row *row = &r->rows[r->ranking[i]];
    const double top1 = row->result.eval.top1;
    char b1[32], b2[32];
    printf("%4zu  %-40s %-7s %-24s %8s %+8.2f %8s\n", i + 1, row->layers,
           tq_analysis_kind_name(row->kind), row->spec,
           tq_cli_an_pct(top1, b1, sizeof b1), 100.0 * (top1 - flt->eval.top1),
           tq_cli_an_db(row->result.sqnr_db, b2, sizeof b2));
  }
}

static int run(int argc, char **argv) {
  tq_cli_an a = {.cmd = "sensitivity", .needs_specs = 1};
  long top = 0;
  tq_map_kind kinds[3] = {TQ_MAP_EXTRINSIC};
  tq_sensitivity_opts o = {.kinds = kinds, .n_kinds = 1};
  if (!tq_cli_an_parse(&a, argc, argv, top_option, &top) ||
      !tq_cli_an_kinds(&a, kinds, &o.n_kinds)) {
    tq_cli_an_close(&a);
    return TQ_EXIT_USAGE;
  }
  o.layers = (const char *const *)a.layers;
  o.n_layers = a.n_layers;
  o.specs = a.specs;
  o.n_specs = a.n_specs;
  tq_sensitivity_result *r = NULL;
  char *doc = NULL;
  int ok = tq_cli_an_open(&a) &&
           tq_cli_an_done(&a, tq_sensitivity(a.ctx, a.an, &o, &r)) &&
           tq_cli_an_done(&a, tq_sensitivity_document(a.ctx, a.an, r, &doc));
  if (ok && tq_cli_an_prints(&a)) print_ranking(&a, r, top);
  tq_sensitivity_result_destroy(r);
  return tq_cli_an_finish(&a, ok, doc);
}

const tq_command tq_cmd_sensitivity = {
    "sensitivity", "rank layers by the accuracy they lose when quantized", run,
    help};
