/* Self-contained HTML reports of sweep, sensitivity, search and stats
 * results.
 *
 * Those commands describe their results in a JSON document of schema
 * "tq-report/1" (docs/reports.md). These functions validate such a document
 * and turn it into one HTML file that needs no network: the document is
 * embedded as data, Chart.js (Debian's libjs-chart.js) is inlined, and a
 * small script builds the tables and charts when the page opens.
 *
 * Chart.js is read at run time from the chartjs_path argument, or
 * TQ_REPORT_CHARTJS_DEFAULT when it is NULL or empty (the library reads no
 * environment variable; the tq tool passes $TQ_CHARTJS). It must be the UMD
 * build (chart.min.js or chart.js), not the ES module one.
 *
 * Ownership: strings returned through char ** belong to the caller; free
 * them with tq_free(). Thread-safety: all functions are reentrant (one
 * context per thread, as always). */
#ifndef TENSORQUANT_REPORT_H
#define TENSORQUANT_REPORT_H

#include <stddef.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema string every report document carries. */
#define TQ_REPORT_SCHEMA "tq-report/1"

/* Where Debian's libjs-chart.js installs the UMD build of Chart.js. */
#define TQ_REPORT_CHARTJS_DEFAULT "/usr/share/javascript/chart.js/chart.min.js"

/* Checks that json_text (NUL-terminated) is a well-formed report document:
 * a JSON object with "schema": "tq-report/1", a non-empty string "command",
 * and, where present, parts ("results", "sensitivity", "search", "stats")
 * whose fields have the types docs/reports.md gives. Unknown keys are
 * ignored. source names the text in error messages (e.g. the file name; NULL
 * gives "report"). Returns TQ_ERR_PARSE for malformed JSON (the message
 * gives line:column), TQ_ERR_FORMAT for a document that is not a report
 * (the message names the field, e.g. "results[2].top1"). */
TQ_API tq_status tq_report_validate(tq_context *ctx, const char *json_text,
                                    const char *source);

/* Renders the report in json_text (validated as by tq_report_validate) as a
 * complete HTML page in memory. chartjs_path: the Chart.js file to inline,
 * or NULL for the default (see above). On success *html (owned by the
 * caller, free with tq_free) holds *len bytes plus a terminating NUL; on
 * failure *html is NULL. A missing Chart.js gives TQ_ERR_IO with a message
 * that says to install libjs-chart.js. */
TQ_API tq_status tq_report_render_html(tq_context *ctx, const char *json_text,
                                       const char *source,
                                       const char *chartjs_path, char **html,
                                       size_t *len);

/* Renders as tq_report_render_html and writes the page to html_path,
 * atomically: on any failure no file at html_path is created or changed. */
TQ_API tq_status tq_report_write_html(tq_context *ctx, const char *json_text,
                                      const char *source, const char *html_path,
                                      const char *chartjs_path);

/* The rows of a report document as CSV, as tq sweep, sensitivity and
 * search write them with -o FILE.csv: a header line, then one line per
 * row of "results" (sweep, sensitivity) or, without them, of
 * "search"."layers"; columns what, layers, spec, bits, top1, top5, loss,
 * delta_top1, sqnr_db. Strings are quoted (quotes doubled), numbers
 * written exactly (%.17g), absent or null fields left empty. source names
 * the text in error messages (NULL: "report"). On success *csv (free with
 * tq_free) is NUL-terminated text; malformed JSON is TQ_ERR_PARSE. */
TQ_API tq_status tq_report_csv(tq_context *ctx, const char *json_text,
                               const char *source, char **csv);

#ifdef __cplusplus
}
#endif
#endif
