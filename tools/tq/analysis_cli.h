/* Internal to the tq tool: what tq sweep, tq sensitivity and tq search
 * share — their options, opening the model, the data and the library's
 * analysis (analysis.h) with a progress bar, and writing the result
 * document (JSON, CSV, HTML report). The analyses themselves are library
 * calls. */
#ifndef TQ_TOOL_ANALYSIS_CLI_H
#define TQ_TOOL_ANALYSIS_CLI_H

#include "tensorquant/analysis.h"
#include "tq.h"

enum { TQ_CLI_AN_MAX_LISTS = 32 };

typedef struct tq_cli_an {
  const char *cmd;
  /* options */
  const char *model, *out, *report, *what;
  tq_cli_data d; /* --data, --split, --normalize, --limit, --batch, ... */
  const char *specs[TQ_CLI_AN_MAX_LISTS];
  size_t n_specs;
  size_t n_layer_options;
  char **layers; /* the items of every --layers option */
  size_t n_layers;
  long memory_mb, calib;
  const char *calib_file;       /* --calib FILE (not a count): calib.json */
  tq_calibration *calibration; /* loaded from it */
  int json, quiet, no_reuse;
  int needs_specs; /* set by the command: --specs is required */
  /* state after tq_cli_an_open */
  tq_context *ctx;
  tq_graph *g;
  tq_dataset *ds;
  tq_analysis *an;
  int root; /* prints and writes files */
  tq_progress bar;
  const char *stage; /* what the bar shows */
} tq_cli_an;

/* Help text of the options tq_cli_an_option takes. */
#define TQ_CLI_AN_COMMON_HELP                                                \
  "  -d, --data D       fashion-mnist, a directory of IDX files, or\n"       \
  "                     X.npy,y.npy, or one .npy per model input and the\n"  \
  "                     labels: NAME=a.npy,NAME=b.npy,labels=y.npy\n"        \
  "                     (see docs/data.md)\n"                                \
  "      --split S      test (default) or train\n"                           \
  "      --limit N      use the first N samples only\n"                      \
  "      --normalize M:S[,M:S...]  feed (x - M) / S per channel\n"           \
  "      --batch N      samples per run (default 256)\n"                     \
  "      --calib N      samples for the statistics `auto` uses (default\n"   \
  "                     1000)\n"                                             \
  "      --calib FILE   calib.json (tq calibrate; any value that is not a\n" \
  "                     count): the ranges of `static` activation specs\n"  \
  "      --seed N       seed for stochastic rounding (default 0)\n"          \
  "      --threads N    threads to use\n"                                    \
  "      --memory MB    float values kept for reuse (default 1024)\n"        \
  "      --no-reuse     run every configuration through the whole network\n" \
  "                     (same results, slower: for comparisons)\n"           \
  "  -o, --output FILE  write the results: FILE.json or FILE.csv\n"          \
  "      --report FILE  write a self-contained HTML report with charts\n"    \
  "      --json         print the results document (JSON) on stdout\n"       \
  "  -q, --quiet        no progress display\n"

/* A command's own options: if argv[*i] is one, takes it (and its value,
 * advancing *i): 1; not one: 0; a bad value: -1 (error printed). */
typedef int (*tq_cli_an_own_option)(tq_cli_an *a, void *user, int argc,
                                    char **argv, int *i);

/* Parses the command line: the shared options, own's (may be NULL) and
 * MODEL.onnx. Prints errors; returns 1 on success. */
int tq_cli_an_parse(tq_cli_an *a, int argc, char **argv,
                    tq_cli_an_own_option own, void *user);

/* Parses --what ("extr", "weights", "intr" or a comma list of them, at
 * most 3) into kinds; without --what, *n is left as it is (the caller's
 * default). Prints errors; returns 1 on success. */
int tq_cli_an_kinds(const tq_cli_an *a, tq_map_kind *kinds, size_t *n);

/* Checks the options, creates the context, loads the model and the data
 * and prepares the analysis; then, when the command needs them, that
 * --specs were given. Prints errors; returns 1 on success. */
int tq_cli_an_open(tq_cli_an *a);
void tq_cli_an_close(tq_cli_an *a);

/* Ends the progress bar of an analysis call; prints the library's error
 * when st is not TQ_OK. Returns st == TQ_OK. */
int tq_cli_an_done(tq_cli_an *a, tq_status st);

/* Writes the -o, --report and --json outputs of a result document (rank 0
 * only). Returns 1 on success. */
int tq_cli_an_write(tq_cli_an *a, const char *doc);

/* The end of a command: when ok, writes the document's outputs
 * (tq_cli_an_write); frees doc, closes a. Returns the exit status. */
int tq_cli_an_finish(tq_cli_an *a, int ok, char *doc);

/* The "float: top-1 ..." line above the tables. */
void tq_cli_an_print_float(const tq_cli_an *a, const tq_config_result *flt);

/* Whether tables go to stdout: rank 0 without --json. */
int tq_cli_an_prints(const tq_cli_an *a);

/* "12.34" percent or "-" for NaN; "12.3" dB, "inf" or "nan". */
const char *tq_cli_an_pct(double fraction, char *buf, size_t cap);
const char *tq_cli_an_db(double db, char *buf, size_t cap);

#endif
