/* tq formats: every quantizer spec with its parameters and options. */
#include <string.h>

#include "tq.h"

static const char help[] =
    "usage: tq formats [--names]\n"
    "\n"
    "Lists every quantizer spec name with its parameters, options and a\n"
    "one-line description. Spec strings are `name,args...[,key=value...]`;\n"
    "spaces around commas are allowed.\n"
    "\n"
    "options:\n"
    "  --names   print only the names, one per line (for scripts)\n"
    "\n"
    "examples:\n"
    "  tq formats\n"
    "  tq quantize --spec \"even,8,4,overflow=wrap\" -i x.npy --stats\n"
    "  tq quantize --spec \"fp8e4m3,round=stochastic,seed=3\" -i x.npy "
    "--stats\n";

static int run(int argc, char **argv) {
  int names_only = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--names")) {
      names_only = 1;
    } else {
      tq_cli_error("formats", "unknown argument '%s' (see tq formats --help)",
                   argv[i]);
      return TQ_EXIT_USAGE;
    }
  }
  size_t n = tq_format_count();
  for (size_t i = 0; i < n; i++) {
    const tq_format_info *f = tq_format_get(i);
    if (names_only) {
      printf("%s\n", f->name);
      continue;
    }
    printf("%-12s %s\n             %s\n", f->name, f->description, f->usage);
    /* Names without arguments parse alone: show their storage. */
    tq_quantizer *q = NULL;
    if (tq_quantizer_parse(NULL, f->name, &q) == TQ_OK && tq_quantizer_bits(q))
      printf("             %g bits per element\n", tq_quantizer_bits(q));
    tq_quantizer_destroy(q);
    printf("\n");
  }
  if (!names_only)
    printf(
        "Fixed point: W = word width 1..32, F = fractional bits -64..64;\n"
        "values are q * 2^-F with q in [-2^(W-1), 2^(W-1)-1] (signed) or\n"
        "[0, 2^W-1] (signed=false). overflow=sat clamps, sat_sym clamps\n"
        "to [-qmax, qmax], wrap wraps modulo 2^W; +-inf saturate.\n"
        "Floating point: E = exponent bits 2..8, M = mantissa bits 0..23;\n"
        "sat clamps overflow to +-max, fn has no infinities (all-ones is\n"
        "NaN), finite has neither, subnormals=false flushes them to zero.\n"
        "seed=N fixes the stochastic rounding seed (else --seed).\n"
        "Scaled and block formats (int, `scaled` floats, MX, NVFP4, bfp,\n"
        "q*_*) share one scale per tensor, channel (axis=K) or block\n"
        "(group=G); bits per element include the scale's share.\n");
  return TQ_EXIT_OK;
}

const tq_command tq_cmd_formats = {
    "formats", "list every quantizer with its parameters and options", run,
    help};
