/* Internal to the tq tool: the subcommand table and shared helpers. */
#ifndef TQ_TOOL_H
#define TQ_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensorquant/tensorquant.h"

typedef struct tq_command {
  const char *name;    /* "quantize" */
  const char *summary; /* one line for `tq help` */
  /* argv[0] is the subcommand name; returns the process exit status. */
  int (*run)(int argc, char **argv);
  const char *help; /* full --help text: usage, options, examples */
} tq_command;

extern const tq_command tq_cmd_quantize;
extern const tq_command tq_cmd_formats;
extern const tq_command tq_cmd_map;
extern const tq_command tq_cmd_bench;
extern const tq_command tq_cmd_info;
extern const tq_command tq_cmd_run;
extern const tq_command tq_cmd_export;
extern const tq_command tq_cmd_train;
extern const tq_command tq_cmd_eval;
extern const tq_command tq_cmd_calibrate;
extern const tq_command tq_cmd_report;
extern const tq_command tq_cmd_sweep;
extern const tq_command tq_cmd_sensitivity;
extern const tq_command tq_cmd_search;
extern const tq_command tq_cmd_stats;

/* A progress line on stderr, redrawn in place (only when stderr is a
 * terminal and not quiet): "label [#####.....] done/total  extra". */
typedef struct tq_progress {
  int enabled;
  double start;
  double last_draw;
} tq_progress;
void tq_progress_start(tq_progress *p, int enabled);
void tq_progress_update(tq_progress *p, const char *label, size_t done,
                        size_t total, const char *extra);
void tq_progress_end(tq_progress *p);
/* Seconds on a monotonic clock. */
double tq_cli_now(void);

/* Installs a SIGINT handler that sets a flag (tq_cli_interrupted) instead
 * of killing the process, so long commands can stop cleanly. */
void tq_cli_catch_sigint(void);
int tq_cli_interrupted(void);

/* The name of the kernel set OpenBLAS chose when it was loaded, from
 * OPENBLAS_CORETYPE or CPUID ("Cooperlake", "Haswell", ...): it decides
 * how fast float Conv/Gemm run, so benchmarks report it (cli.c). */
const char *tq_cli_blas_core(void);

/* `tq bench MODEL.onnx ...` (bench_model.c); argv[0] is "bench". */
int tq_bench_model(int argc, char **argv);

/* Quantizer map options shared by every command that takes maps:
 * --extr MAP, --weights MAP, --intr MAP (a flat JSON file or one spec for
 * all layers) and --map FILE (a sectioned file). */
typedef struct tq_cli_maps {
  const char *extr, *weights, *intr, *sectioned;
  /* training only (set `training` to accept --gradients and --updates) */
  int training;
  const char *grads, *updates;
  const char *calib; /* --calib calib.json: ranges of `static` specs */
  /* --map-view layers|nodes: what keys address (NULL: nodes); --strict:
   * a key that applies to nothing is an error, not a warning */
  const char *view;
  int strict;
} tq_cli_maps;

/* If argv[*i] is a map option, takes its value (advancing *i) and returns
 * 1; returns 0 if it is not one; -1 on a missing value (error printed). */
int tq_cli_maps_option(const char *cmd, tq_cli_maps *m, int argc, char **argv,
                       int *i);

/* Loads the maps given (NULL *out when none). Prints errors. */
int tq_cli_maps_load(const char *cmd, tq_context *ctx, const tq_cli_maps *m,
                     tq_qmap_set **out);

/* Loads calib.json at path and gives its ranges to s (the session copies
 * them). path NULL: nothing. Prints errors; returns 1 on success. */
int tq_cli_calib_apply(const char *cmd, tq_context *ctx, const char *path,
                       tq_session *s);

/* Under the view the options ask for, applies set (NULL: none) to s and
 * warns on stderr about each key that applies to no layer (node) of the
 * model, or, with --strict, reports it as an error. Returns 1 on success. */
int tq_cli_maps_apply(const char *cmd, tq_context *ctx, tq_session *s,
                      const tq_cli_maps *m, const tq_qmap_set *set);

/* Prints a warning (an error when strict) for each key of set that
 * applies to no target of r; returns how many. */
size_t tq_cli_maps_warn_unused(const char *cmd, const tq_map_report *r,
                               const tq_qmap_set *set, int strict);

/* Parses a --map-view value ("layers" or "nodes"); prints the error.
 * Returns 1 on success. */
int tq_cli_map_view(const char *cmd, const char *text, tq_map_view *view);

/* Help text lines describing the map options. */
#define TQ_CLI_MAPS_HELP                                                       \
  "      --extr MAP     quantize layer outputs: a flat JSON map file, "        \
  "inline\n"                                                                   \
  "                     JSON ('{\"Conv1\": \"nearest,12,11\"}') or one spec\n" \
  "                     for all layers (e.g. nearest,8,4)\n"                   \
  "      --weights MAP  quantize layer weights (same forms)\n"                 \
  "      --intr MAP     quantize products and sums inside Conv/Gemm/MatMul\n"  \
  "      --map FILE     a sectioned map file: {\"extrinsic\": {...},\n"        \
  "                     \"weights\": {...}, \"intrinsic\": {...}}\n"           \
  "      --calib FILE   calib.json (tq calibrate): the ranges of `static`\n"   \
  "                     activation specs\n"                                    \
  "      --map-view V   what keys address: nodes (ONNX nodes, the default)\n"  \
  "                     or layers (framework layers: tq info lists them)\n"    \
  "      --strict       a map key that applies to no layer is an error\n"      \
  "                     (default: a warning)\n"

#define TQ_CLI_TRAIN_MAPS_HELP                                                \
  "      --gradients MAP quantize the gradients flowing back out of layers\n" \
  "      --updates MAP  store weights through this quantizer after each\n"    \
  "                     optimizer step (quantized SGD/Adam)\n"

/* Exit codes. */
enum { TQ_EXIT_OK = 0, TQ_EXIT_FAILURE = 1, TQ_EXIT_USAGE = 2 };

/* Prints "tq <cmd>: <message>\n" to stderr. */
void tq_cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints the library's last error for a failed call. */
void tq_cli_status_error(const char *cmd, tq_context *ctx, tq_status status);

/* True if arg is -h or --help. */
int tq_cli_is_help(const char *arg);

/* Strict number parsing of option values: the whole string must be a number
 * in [lo, hi]. On failure prints an error naming the option and returns 0. */
int tq_cli_parse_int(const char *cmd, const char *opt, const char *text,
                     long lo, long hi, long *out);
int tq_cli_parse_u64(const char *cmd, const char *opt, const char *text,
                     uint64_t *out);
int tq_cli_parse_double(const char *cmd, const char *opt, const char *text,
                        double lo, double hi, double *out);

/* Returns the value of an option that needs one (argv[*i + 1]), advancing
 * *i; prints an error and returns NULL when it is missing. */
const char *tq_cli_value(const char *cmd, int argc, char **argv, int *i);

/* --normalize MEAN:STD[,MEAN:STD...]: sets the dataset's per-channel
 * normalization (text NULL: nothing). Prints errors; returns 1 on
 * success. */
int tq_cli_apply_normalize(const char *cmd, tq_context *ctx, tq_dataset *ds,
                           const char *text);

/* The options of every command that runs a model over a dataset:
 * -d/--data, --split, --normalize, --limit, --batch, --seed, --threads.
 * Zero-initialise, then call tq_cli_data_option for each argument; unset
 * fields keep their zero (split NULL: test; limit 0: all; batch 0: the
 * default; threads 0: the context's). */
typedef struct tq_cli_data {
  const char *data, *split, *normalize;
  long limit, batch, threads;
  uint64_t seed;
} tq_cli_data;

/* If argv[*i] is one of those options, takes it (and its value): 1; not
 * one: 0; a bad or missing value: -1 (error printed). */
int tq_cli_data_option(const char *cmd, tq_cli_data *d, int argc, char **argv,
                       int *i);

/* tq_dataset_open with the environment variable TQ_FASHION_MNIST_DIR
 * (docs/data.md) naming the Fashion-MNIST directory: the library reads no
 * environment, the tool passes it in. */
tq_status tq_cli_dataset_open(tq_context *ctx, const char *spec,
                              tq_data_split split, tq_dataset **ds);

/* The Chart.js file for HTML reports: given (--chartjs) when set, else the
 * environment variable TQ_CHARTJS (NULL: the library's default). */
const char *tq_cli_chartjs(const char *given);

/* Opens d's dataset (split, --normalize) and sets *n to the samples to use
 * (all, or --limit). Prints errors; returns 1 on success (*ds to free with
 * tq_dataset_destroy). */
int tq_cli_open_data(const char *cmd, tq_context *ctx, const tq_cli_data *d,
                     tq_dataset **ds, size_t *n);

/* Whether stderr is a terminal (progress bars only then). */
int tq_cli_stderr_is_tty(void);

#endif
