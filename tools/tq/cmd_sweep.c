/* tq sweep: accuracy of a model with groups of layers quantized by each
 * spec of a list — the paper's experiments in one command. */
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
    "  -s, --specs LIST   the specs (repeatable)\n" TQ_CLI_AN_COMMON_HELP
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

static void print_table(const tq_cli_an *a, const tq_sweep_result *r) {
  const tq_config_result *flt = &r->float_result;
  tq_cli_an_print_float(a, flt);
  printf("%-40s %-28s %4s %8s %8s %8s %8s %8s\n", "layers", "spec", "bits",
         "top-1 %", "change", "top-5 %", "loss", "SQNR dB");
  for (size_t i = 0; i < r->n_rows; i++) {
    const tq_analysis_row *row = &r->rows[i];
    const tq_eval_result *e = &row->result.eval;
    char b1[32], b2[32], b3[32];
    printf("%-40s %-28s %4d %8s %+8.2f %8s %8.4f %8s\n", row->layers, row->spec,
           row->bits, tq_cli_an_pct(e->top1, b1, sizeof b1),
           100.0 * (e->top1 - flt->eval.top1),
           tq_cli_an_pct(e->top5, b2, sizeof b2), e->loss,
           tq_cli_an_db(row->result.sqnr_db, b3, sizeof b3));
  }
}

/* The one kind --what names (default extr). Prints errors. */
static int sweep_kind(const tq_cli_an *a, tq_map_kind *kind) {
  tq_map_kind kinds[3] = {TQ_MAP_EXTRINSIC};
  size_t n = 1;
  const int ok = tq_cli_an_kinds(a, kinds, &n);
  if (n != 1) tq_cli_error(a->cmd, "--what takes one kind here");
  *kind = kinds[0];
  return ok && n == 1;
}

static int run(int argc, char **argv) {
  tq_cli_an a = {.cmd = "sweep", .needs_specs = 1};
  tq_sweep_opts o = {0};
  if (!tq_cli_an_parse(&a, argc, argv, NULL, NULL) ||
      !sweep_kind(&a, &o.kind)) {
    tq_cli_an_close(&a);
    return TQ_EXIT_USAGE;
  }
  o.layers = (const char *const *)a.layers;
  o.n_layers = a.n_layers;
  o.specs = a.specs;
  o.n_specs = a.n_specs;
  tq_sweep_result *r = NULL;
  char *doc = NULL;
  int ok = tq_cli_an_open(&a) &&
           tq_cli_an_done(&a, tq_sweep(a.ctx, a.an, &o, &r)) &&
           tq_cli_an_done(&a, tq_sweep_document(a.ctx, a.an, r, &doc));
  if (ok && tq_cli_an_prints(&a)) print_table(&a, r);
  tq_sweep_result_destroy(r);
  return tq_cli_an_finish(&a, ok, doc);
}

const tq_command tq_cmd_sweep = {"sweep",
                                 "accuracy of layer groups under each spec "
                                 "of a list (ranges, auto)",
                                 run, help};
