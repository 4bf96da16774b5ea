/* The rows of a report document as CSV (report.h): what tq sweep,
 * sensitivity and search write with -o FILE.csv. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis/csv.h"
#include "core/error.h"
#include "tensorquant/report.h"

static const char *const columns[] = {"what", "layers",     "spec",
                                      "bits", "top1",       "top5",
                                      "loss", "delta_top1", "sqnr_db"};
enum { N_COLUMNS = sizeof columns / sizeof *columns };

/* One cell: strings quoted (specs hold commas), numbers exact, anything
 * else empty. */
static void cell(tq_csv *b, const json_t *v) {
  char t[40] = "";
  if (json_is_string(v)) {
    tq_csv_quoted(b, json_string_value(v));
    return;
  }
  if (json_is_integer(v))
    snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(t, sizeof t, "%.17g", json_real_value(v));
  tq_csv_str(b, t);
}

tq_status tq_report_csv(tq_context *ctx, const char *json_text,
                        const char *source, char **csv) {
  if (!json_text || !csv)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_report_csv: NULL argument");
  *csv = NULL;
  json_error_t err;
  json_t *doc = json_loads(json_text, 0, &err);
  if (!doc)
    return tq_error(ctx, TQ_ERR_PARSE, source && *source ? source : "report",
                    err.line > 0 ? err.line : 0,
                    err.column > 0 ? err.column : 0, "invalid JSON: %s",
                    err.text);
  json_t *rows = json_object_get(doc, "results");
  if (!json_is_array(rows))
    rows = json_object_get(json_object_get(doc, "search"), "layers");
  tq_csv b = {0};
  for (size_t c = 0; c < N_COLUMNS; c++) {
    if (c) tq_csv_add(&b, ",", 1);
    tq_csv_str(&b, columns[c]);
  }
  tq_csv_add(&b, "\n", 1);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    for (size_t c = 0; c < N_COLUMNS; c++) {
      if (c) tq_csv_add(&b, ",", 1);
      cell(&b, json_object_get(row, columns[c]));
    }
    tq_csv_add(&b, "\n", 1);
  }
  json_decref(doc);
  if (b.oom) {
    free(b.p);
    return tq_error_nomem(ctx);
  }
  *csv = b.p;
  return TQ_OK;
}
