/* Internal to the tq tool: what tq sweep, tq sensitivity and tq search
 * share — options, loading, layer selection, `auto` fractional bits,
 * running many configurations with a progress bar, and writing the
 * results (table, JSON, CSV, HTML report). */
#ifndef TQ_TOOL_ANALYSIS_CLI_H
#define TQ_TOOL_ANALYSIS_CLI_H

#include <jansson.h>

#include "tensorquant/analysis.h"
#include "tensorquant/stats.h"
#include "tq.h"

enum { TQ_AN_MAX_LISTS = 32 };

typedef struct tq_an_cli {
  const char *cmd;
  /* options */
  const char *model, *out, *report, *what;
  tq_cli_data d; /* --data, --split, --normalize, --limit, --batch, ... */
  const char *specs[TQ_AN_MAX_LISTS];
  size_t n_specs;
  const char *layers[TQ_AN_MAX_LISTS];
  size_t n_layers;
  long memory_mb, calib;
  int json, quiet, no_reuse;
  /* state after tq_an_open */
  tq_context *ctx;
  tq_graph *g;
  tq_session *s; /* planned for one sample: layer queries */
  tq_dataset *ds;
  size_t n; /* samples evaluated */
  const tq_comm *comm;
  int root;        /* prints and writes files */
  tq_stats *stats; /* for `auto`, collected on first need */
  tq_progress bar;
  const char *bar_label;
} tq_an_cli;

/* Help text of the options tq_an_option takes. */
#define TQ_AN_COMMON_HELP                                                    \
  "  -d, --data D       fashion-mnist, a directory of IDX files, or\n"       \
  "                     X.npy,y.npy (see docs/data.md)\n"                    \
  "      --split S      test (default) or train\n"                           \
  "      --limit N      use the first N samples only\n"                      \
  "      --normalize M:S[,M:S...]  feed (x - M) / S per channel\n"           \
  "      --batch N      samples per run (default 256)\n"                     \
  "      --calib N      samples for the statistics `auto` uses (default\n"   \
  "                     1000)\n"                                             \
  "      --seed N       seed for stochastic rounding (default 0)\n"          \
  "      --threads N    threads to use\n"                                    \
  "      --memory MB    float values kept for reuse (default 1024)\n"        \
  "      --no-reuse     run every configuration through the whole network\n" \
  "                     (same results, slower: for comparisons)\n"           \
  "  -o, --output FILE  write the results: FILE.json or FILE.csv\n"          \
  "      --report FILE  write a self-contained HTML report with charts\n"    \
  "      --json         print the results document (JSON) on stdout\n"       \
  "  -q, --quiet        no progress display\n"

/* If argv[*i] is a shared option, consumes it (and its value): 1; not
 * one: 0; a bad value: -1 (error printed). */
int tq_an_option(tq_an_cli *a, int argc, char **argv, int *i);

/* Checks the options, creates the context, loads the model and the data.
 * Prints errors; returns 1 on success. */
int tq_an_open(tq_an_cli *a);
void tq_an_close(tq_an_cli *a);

/* Parses "extr", "weights", "intr" or a comma list of them (max 3). */
int tq_an_parse_what(const char *cmd, const char *text, tq_map_kind *kinds,
                     size_t *n);
/* "extr", "weights", "intr". */
const char *tq_an_what_name(tq_map_kind kind);

/* The layers the --layers patterns select for kind (every quantizable
 * layer when none was given; for extr, without the final Softmax or
 * LogSoftmax whose probabilities the loss reads). Lists the layers that
 * exist when a pattern matches nothing. *nodes is malloc'ed. */
int tq_an_select_layers(tq_an_cli *a, tq_map_kind kind, size_t **nodes,
                        size_t *n);

/* The --layers patterns: every comma-separated item of every --layers
 * option (*n 0 when none were given). Free with tq_spec_list_free. */
int tq_an_patterns(tq_an_cli *a, char ***patterns, size_t *n);

/* The layers kind can quantize that one pattern matches, into nodes (room
 * for the graph's node count); none is an error that lists the layers
 * that exist. */
int tq_an_match(tq_an_cli *a, tq_map_kind kind, const char *pattern,
                size_t *nodes, size_t *n);

/* The expanded --specs lists (freed with tq_spec_list_free). */
int tq_an_specs(tq_an_cli *a, char ***specs, size_t *n);

/* spec with `auto` resolved for node's values of kind (statistics over
 * the first --calib samples, collected once). */
int tq_an_resolve(tq_an_cli *a, const char *spec, size_t node, tq_map_kind kind,
                  char *out, size_t cap);

/* Adds "exact key of node -> spec" to the map of kind in set. */
int tq_an_add(tq_an_cli *a, tq_qmap_set *set, tq_map_kind kind, size_t node,
              const char *spec);

/* Word width of a spec, `auto` allowed (0 when none). */
int tq_an_bits(tq_an_cli *a, const char *spec);

/* Evaluates the configurations on samples idx[0..n) (idx NULL: the first
 * a->n) with a progress bar; position k rounds stochastically as sample
 * offset + k. */
int tq_an_evaluate(tq_an_cli *a, const char *label, const size_t *idx, size_t n,
                   uint64_t offset, const tq_qmap_set *const *configs,
                   size_t n_configs, tq_config_result *float_result,
                   tq_config_result *results);

/* The report document's header (schema, command, title, model, data...)
 * and its "float" object. */
json_t *tq_an_document(const tq_an_cli *a, const char *command,
                       const char *title, const tq_config_result *flt);

/* One "results" row. */
json_t *tq_an_result_row(const char *what, const char *layers, const char *spec,
                         int bits, const tq_config_result *r,
                         const tq_config_result *flt);

/* Writes -o, --report and --json outputs of the document (root only).
 * Returns 1 on success. */
int tq_an_write(tq_an_cli *a, json_t *doc);

/* The "float: top-1 ..." line above the tables. */
void tq_an_print_float(const tq_an_cli *a, const tq_config_result *flt);

/* "12.34" percent or "-" for NaN into buf. */
const char *tq_an_pct(double fraction, char *buf, size_t cap);
const char *tq_an_db(double db, char *buf, size_t cap);

#endif
