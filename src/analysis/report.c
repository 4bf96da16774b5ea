/* HTML reports: validation of "tq-report/1" documents and rendering of the
 * self-contained page (its style and script: report/page.css, page.js). */
#include "tensorquant/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report_page.h"
#include "core/atomic_file.h"
#include "core/error.h"

/* Chart.js is about 200 KB; anything beyond this is not it. */
#define MAX_CHARTJS_BYTES (64u << 20)

/* ---- validation ---------------------------------------------------------- */

/* Accepted JSON types of a field, as a bit set. */
enum {
  T_STR = 1,
  T_NUM = 2, /* integer or real */
  T_INT = 4,
  T_BOOL = 8,
  T_NULL = 16,
  T_OBJ = 32,
  T_ARR = 64
};

typedef struct validator {
  tq_context *ctx;
  const char *source;
} validator;

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "an unknown value";
}

static int type_ok(const json_t *v, int types) {
  if ((types & T_STR) && json_is_string(v)) return 1;
  if ((types & T_NUM) && json_is_number(v)) return 1;
  if ((types & T_INT) && json_is_integer(v)) return 1;
  if ((types & T_BOOL) && json_is_boolean(v)) return 1;
  if ((types & T_NULL) && json_is_null(v)) return 1;
  if ((types & T_OBJ) && json_is_object(v)) return 1;
  if ((types & T_ARR) && json_is_array(v)) return 1;
  return 0;
}

/* "a string or null" from a type set. */
static void describe_types(int types, char *buf, size_t size) {
  static const struct {
    int bit;
    const char *name;
  } names[] = {{T_STR, "a string"},   {T_NUM, "a number"},
               {T_INT, "an integer"}, {T_BOOL, "a boolean"},
               {T_OBJ, "an object"},  {T_ARR, "an array"},
               {T_NULL, "null"}};
  size_t used = 0;
  buf[0] = '\0';
  int first = 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(types & names[i].bit)) continue;
    int k = snprintf(buf + used, size - used, "%s%s", first ? "" : " or ",
                     names[i].name);
    if (k < 0 || (size_t)k >= size - used) return;
    used += (size_t)k;
    first = 0;
  }
}

/* Checks obj[key] (path names obj in messages). A missing key is fine
 * unless required. On success *out (when non-NULL) is the value or NULL. */
static tq_status check_field(const validator *v, const json_t *obj,
                             const char *path, const char *key, int types,
                             int required, json_t **out) {
  json_t *value = json_object_get(obj, key);
  if (out) *out = value;
  const char *dot = *path ? "." : "";
  if (!value) {
    if (!required) return TQ_OK;
    return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                    "not a report document: %s%s\"%s\" is missing", path, dot,
                    key);
  }
  if (type_ok(value, types)) return TQ_OK;
  char want[128];
  describe_types(types, want, sizeof want);
  return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                  "%s%s%s: expected %s, got %s", path, dot, key, want,
                  type_name(value));
}

/* A list of (key, types) checks applied to one object. */
typedef struct field_rule {
  const char *key;
  int types;
} field_rule;

static tq_status check_fields(const validator *v, const json_t *obj,
                              const char *path, const field_rule *rules,
                              size_t count) {
  for (size_t i = 0; i < count; i++) {
    tq_status st =
        check_field(v, obj, path, rules[i].key, rules[i].types, 0, NULL);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* Checks that every element of the array arr (at path) is an object
 * following rules. */
static tq_status check_rows(const validator *v, const json_t *arr,
                            const char *path, const field_rule *rules,
                            size_t count) {
  size_t i;
  json_t *row;
  json_array_foreach(arr, i, row) {
    char where[160];
    snprintf(where, sizeof where, "%s[%zu]", path, i);
    if (!json_is_object(row))
      return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                      "%s: expected an object, got %s", where, type_name(row));
    tq_status st = check_fields(v, row, where, rules, count);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* An array of numbers (or null: gaps) at obj[key], if present; *len gets
 * its length (0 when absent). */
static tq_status check_number_array(const validator *v, const json_t *obj,
                                    const char *path, const char *key,
                                    size_t *len) {
  json_t *arr;
  *len = 0;
  tq_status st = check_field(v, obj, path, key, T_ARR, 1, &arr);
  if (st != TQ_OK) return st;
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    if (!json_is_number(x))
      return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                      "%s.%s[%zu]: expected a number, got %s", path, key, i,
                      type_name(x));
  }
  *len = json_array_size(arr);
  return TQ_OK;
}

/* Every value of obj (at path) must be a number or null. */
static tq_status check_number_map(const validator *v, const json_t *obj,
                                  const char *path) {
  const char *key;
  json_t *x;
  json_object_foreach((json_t *)obj, key, x) {
    if (!json_is_number(x) && !json_is_null(x))
      return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                      "%s.%s: expected a number, got %s", path, key,
                      type_name(x));
  }
  return TQ_OK;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static tq_status check_stats_layer(const validator *v, const json_t *layer,
                                   const char *path) {
  static const field_rule rules[] = {{"layer", T_STR},
                                     {"value", T_STR},
                                     {"op", T_STR},
                                     {"kind", T_STR},
                                     {"count", T_NUM},
                                     {"min", T_NUM | T_NULL},
                                     {"max", T_NUM | T_NULL},
                                     {"mean", T_NUM | T_NULL},
                                     {"std", T_NUM | T_NULL},
                                     {"zeros", T_NUM | T_NULL},
                                     {"max_abs", T_NUM | T_NULL},
                                     {"percentiles", T_OBJ},
                                     {"frac_bits", T_OBJ},
                                     {"histogram", T_OBJ},
                                     {"log2_histogram", T_OBJ}};
  tq_status st = check_fields(v, layer, path, rules, COUNT(rules));
  if (st != TQ_OK) return st;
  json_t *sub;
  char where[200];
  if ((sub = json_object_get(layer, "percentiles"))) {
    snprintf(where, sizeof where, "%s.percentiles", path);
    if ((st = check_number_map(v, sub, where)) != TQ_OK) return st;
  }
  if ((sub = json_object_get(layer, "frac_bits"))) {
    snprintf(where, sizeof where, "%s.frac_bits", path);
    if ((st = check_number_map(v, sub, where)) != TQ_OK) return st;
  }
  if ((sub = json_object_get(layer, "histogram"))) {
    snprintf(where, sizeof where, "%s.histogram", path);
    size_t edges, counts;
    if ((st = check_number_array(v, sub, where, "edges", &edges)) != TQ_OK ||
        (st = check_number_array(v, sub, where, "counts", &counts)) != TQ_OK)
      return st;
    /* The page labels bin i with the centre of edges i and i+1. */
    if (edges != counts + 1)
      return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                      "%s: %zu counts need %zu edges, got %zu", where, counts,
                      counts + 1, edges);
  }
  if ((sub = json_object_get(layer, "log2_histogram"))) {
    snprintf(where, sizeof where, "%s.log2_histogram", path);
    size_t exps, counts;
    if ((st = check_number_array(v, sub, where, "exponents", &exps)) != TQ_OK ||
        (st = check_number_array(v, sub, where, "counts", &counts)) != TQ_OK)
      return st;
    if (exps != counts)
      return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                      "%s: %zu exponents but %zu counts (one count per "
                      "exponent expected)",
                      where, exps, counts);
    if ((st = check_field(v, sub, where, "zeros", T_NUM | T_NULL, 0, NULL)) !=
        TQ_OK)
      return st;
  }
  return TQ_OK;
}

static tq_status check_document(const validator *v, const json_t *root) {
  json_t *schema, *command, *part;
  tq_status st = check_field(v, root, "", "schema", T_STR, 1, &schema);
  if (st != TQ_OK) return st;
  if (strcmp(json_string_value(schema), TQ_REPORT_SCHEMA) != 0)
    return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                    "unsupported report schema \"%s\" (expected \"%s\")",
                    json_string_value(schema), TQ_REPORT_SCHEMA);
  if ((st = check_field(v, root, "", "command", T_STR, 1, &command)) != TQ_OK)
    return st;
  if (json_string_length(command) == 0)
    return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                    "\"command\" is empty (expected sweep, sensitivity, "
                    "search or stats)");

  static const field_rule top[] = {
      {"title", T_STR},  {"created_by", T_STR}, {"model", T_STR},
      {"data", T_STR},   {"split", T_STR},      {"n", T_NUM | T_NULL},
      {"float", T_OBJ},  {"results", T_ARR},    {"sensitivity", T_ARR},
      {"search", T_OBJ}, {"stats", T_OBJ}};
  if ((st = check_fields(v, root, "", top, COUNT(top))) != TQ_OK) return st;

  if ((part = json_object_get(root, "float"))) {
    static const field_rule rules[] = {{"top1", T_NUM | T_NULL},
                                       {"top5", T_NUM | T_NULL},
                                       {"loss", T_NUM | T_NULL}};
    if ((st = check_fields(v, part, "float", rules, COUNT(rules))) != TQ_OK)
      return st;
  }
  if ((part = json_object_get(root, "results"))) {
    static const field_rule rules[] = {{"what", T_STR},
                                       {"layers", T_STR},
                                       {"spec", T_STR},
                                       {"bits", T_NUM | T_NULL},
                                       {"top1", T_NUM | T_NULL},
                                       {"top5", T_NUM | T_NULL},
                                       {"loss", T_NUM | T_NULL},
                                       {"delta_top1", T_NUM | T_NULL},
                                       {"sqnr_db", T_NUM | T_NULL}};
    if ((st = check_rows(v, part, "results", rules, COUNT(rules))) != TQ_OK)
      return st;
  }
  if ((part = json_object_get(root, "sensitivity"))) {
    static const field_rule rules[] = {{"rank", T_NUM},
                                       {"layer", T_STR},
                                       {"what", T_STR},
                                       {"spec", T_STR},
                                       {"delta_top1", T_NUM | T_NULL},
                                       {"sqnr_db", T_NUM | T_NULL}};
    if ((st = check_rows(v, part, "sensitivity", rules, COUNT(rules))) != TQ_OK)
      return st;
  }
  if ((part = json_object_get(root, "search"))) {
    static const field_rule rules[] = {{"budget_pp", T_NUM},
                                       {"cost", T_STR},
                                       {"family", T_STR},
                                       {"met", T_BOOL},
                                       {"search_n", T_NUM},
                                       {"validation_n", T_NUM},
                                       {"float_top1", T_NUM | T_NULL},
                                       {"top1", T_NUM | T_NULL},
                                       {"loss_pp", T_NUM | T_NULL},
                                       {"total_bits", T_NUM},
                                       {"float_bits", T_NUM},
                                       {"compression", T_NUM | T_NULL},
                                       {"layers", T_ARR},
                                       {"trace", T_ARR}};
    if ((st = check_fields(v, part, "search", rules, COUNT(rules))) != TQ_OK)
      return st;
    static const field_rule layer_rules[] = {{"layer", T_STR},
                                             {"what", T_STR},
                                             {"spec", T_STR},
                                             {"bits", T_NUM | T_NULL},
                                             {"size", T_NUM | T_NULL}};
    json_t *arr = json_object_get(part, "layers");
    if (arr && (st = check_rows(v, arr, "search.layers", layer_rules,
                                COUNT(layer_rules))) != TQ_OK)
      return st;
    static const field_rule trace_rules[] = {{"step", T_NUM},
                                             {"total_bits", T_NUM},
                                             {"top1", T_NUM | T_NULL},
                                             {"accepted", T_BOOL},
                                             {"note", T_STR}};
    arr = json_object_get(part, "trace");
    if (arr && (st = check_rows(v, arr, "search.trace", trace_rules,
                                COUNT(trace_rules))) != TQ_OK)
      return st;
  }
  if ((part = json_object_get(root, "stats"))) {
    json_t *layers;
    if ((st = check_field(v, part, "stats", "layers", T_ARR, 0, &layers)) !=
        TQ_OK)
      return st;
    size_t i;
    json_t *layer;
    json_array_foreach(layers, i, layer) {
      char where[64];
      snprintf(where, sizeof where, "stats.layers[%zu]", i);
      if (!json_is_object(layer))
        return tq_error(v->ctx, TQ_ERR_FORMAT, v->source, 0, 0,
                        "%s: expected an object, got %s", where,
                        type_name(layer));
      if ((st = check_stats_layer(v, layer, where)) != TQ_OK) return st;
    }
  }
  return TQ_OK;
}

/* Parses and validates; *out gets the document (caller decrefs). */
static tq_status load_document(tq_context *ctx, const char *json_text,
                               const char *source, json_t **out) {
  *out = NULL;
  if (!json_text)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "report: json_text is NULL");
  validator v = {ctx, source && *source ? source : "report"};
  json_error_t err;
  json_t *root =
      json_loads(json_text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
  if (!root)
    return tq_error(ctx, TQ_ERR_PARSE, v.source, err.line > 0 ? err.line : 0,
                    err.column > 0 ? err.column : 0, "invalid JSON: %s",
                    err.text);
  tq_status st;
  if (!json_is_object(root))
    st = tq_error(ctx, TQ_ERR_FORMAT, v.source, 0, 0,
                  "not a report document: expected a JSON object with "
                  "\"schema\": \"%s\" at the top level, got %s",
                  TQ_REPORT_SCHEMA, type_name(root));
  else
    st = check_document(&v, root);
  if (st != TQ_OK) {
    json_decref(root);
    return st;
  }
  *out = root;
  return TQ_OK;
}

tq_status tq_report_validate(tq_context *ctx, const char *json_text,
                             const char *source) {
  json_t *root;
  tq_status st = load_document(ctx, json_text, source, &root);
  json_decref(root);
  return st;
}

/* ---- Chart.js --------------------------------------------------------------
 */

/* Whether text has a line starting with word (an ES module's import or
 * export statement). */
static int has_line_starting(const char *text, size_t len, const char *word) {
  size_t n = strlen(word);
  for (size_t i = 0; i + n <= len; i++)
    if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, word, n) == 0)
      return 1;
  return 0;
}

/* Case-insensitive search of needle (lower case) in text. */
static int contains_nocase(const char *text, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++) {
    size_t k = 0;
    while (k < n) {
      char c = text[i + k];
      if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
      if (c != needle[k]) break;
      k++;
    }
    if (k == n) return 1;
  }
  return 0;
}

/* Reads the Chart.js file into *out (NUL-terminated, caller frees). */
static tq_status read_chartjs(tq_context *ctx, const char *path, char **out,
                              size_t *len) {
  *out = NULL;
  *len = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    int err = errno;
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0,
                    "cannot read Chart.js (%s): install Debian's "
                    "libjs-chart.js (apt-get install libjs-chart.js), or name "
                    "the UMD build chart.min.js with tq report --chartjs PATH "
                    "or the environment variable TQ_CHARTJS",
                    strerror(err));
  }
  size_t cap = 256u << 10, used = 0;
  char *buf = malloc(cap + 1);
  tq_status st = TQ_OK;
  while (buf) {
    if (used == cap) {
      if (cap >= MAX_CHARTJS_BYTES) {
        st = tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                      "is larger than %u MiB: not Chart.js",
                      MAX_CHARTJS_BYTES >> 20);
        break;
      }
      char *grown = realloc(buf, 2 * cap + 1);
      if (!grown) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
    size_t got = fread(buf + used, 1, cap - used, fp);
    used += got;
    if (got == 0) {
      if (ferror(fp))
        st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "reading Chart.js failed: %s",
                      strerror(errno));
      break;
    }
  }
  fclose(fp);
  if (!buf) return tq_error_nomem(ctx);
  if (st != TQ_OK) {
    free(buf);
    return st;
  }
  buf[used] = '\0';
  if (!strstr(buf, "Chart"))
    st = tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                  "does not look like Chart.js (no \"Chart\" in it); use "
                  "%s from libjs-chart.js",
                  TQ_REPORT_CHARTJS_DEFAULT);
  else if (has_line_starting(buf, used, "import ") ||
           has_line_starting(buf, used, "export "))
    st = tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                  "is an ES module build of Chart.js, which a plain <script> "
                  "cannot load; use the UMD build (%s)",
                  TQ_REPORT_CHARTJS_DEFAULT);
  else if (contains_nocase(buf, used, "</script") ||
           contains_nocase(buf, used, "<!--"))
    /* Inlined in a <script> element, either would end or confuse it. */
    st = tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                  "contains \"</script\" or \"<!--\" and cannot be inlined in "
                  "the page; use %s from libjs-chart.js",
                  TQ_REPORT_CHARTJS_DEFAULT);
  if (st != TQ_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *len = used;
  return TQ_OK;
}

/* ---- the page --------------------------------------------------------------
 */

/* Whether root is a search whose trace marks its Pareto front. */
static int has_pareto(const json_t *root) {
  const json_t *trace =
      json_object_get(json_object_get(root, "search"), "trace");
  const json_t *row = json_array_get(trace, 0);
  return row && json_object_get(row, "pareto") != NULL;
}

typedef struct page {
  const char *title; /* from the document, or a default */
  const char *data;  /* the document as JSON, safe inside <script> */
  const char *chartjs;
  size_t chartjs_len;
  int pareto; /* a search whose trace marks the Pareto front */
} page;

/* Writes text with &, <, >, " escaped (for <title>). */
static void put_html_text(FILE *fp, const char *text) {
  for (const char *p = text; *p; p++) {
    switch (*p) {
      case '&': fputs("&amp;", fp); break;
      case '<': fputs("&lt;", fp); break;
      case '>': fputs("&gt;", fp); break;
      case '"': fputs("&quot;", fp); break;
      default: fputc(*p, fp);
    }
  }
}

static int write_page(FILE *fp, void *user) {
  const page *pg = user;
  fputs(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, "
      "initial-scale=1\">\n"
      /* Nothing may be fetched: the page is complete as it is. */
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
      "img-src data:\">\n<title>",
      fp);
  put_html_text(fp, pg->title);
  fputs("</title>\n<style>\n", fp);
  fputs(tq_report_page_css, fp);
  fputs(
      "</style>\n</head>\n<body>\n<div id=\"app\"><noscript>This report "
      "draws its tables and charts with JavaScript; please enable "
      "it.</noscript></div>\n"
      "<script type=\"application/json\" id=\"tq-report-data\">",
      fp);
  fputs(pg->data, fp);
  fputs("</script>\n<script>\n", fp);
  fwrite(pg->chartjs, 1, pg->chartjs_len, fp);
  fputs("\n</script>\n<script>\n", fp);
  fputs(tq_report_page_js, fp);
  if (pg->pareto) {
    fputs("</script>\n<script>\n", fp);
    fputs(tq_report_pareto_js, fp);
  }
  fputs("</script>\n</body>\n</html>\n", fp);
  return ferror(fp) ? EIO : 0;
}

/* The document as compact JSON in which <, > and & appear only as \u
 * escapes, so that the text can never end the <script> element it sits in
 * (no "</script>", no "<!--") whatever the strings in it hold. JSON allows
 * these characters only inside strings, where \u003c means the same. */
static char *embeddable_json(const json_t *root) {
  char *text = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (!text) return NULL;
  size_t extra = 0;
  for (const char *p = text; *p; p++)
    if (*p == '<' || *p == '>' || *p == '&') extra += 5;
  char *out = malloc(strlen(text) + extra + 1);
  if (out) {
    char *q = out;
    for (const char *p = text; *p; p++) {
      if (*p == '<' || *p == '>' || *p == '&') {
        q += sprintf(q, "\\u%04x", (unsigned)*p);
      } else {
        *q++ = *p;
      }
    }
    *q = '\0';
  }
  free(text);
  return out;
}

/* Everything write_page needs; release with page_free. */
typedef struct page_parts {
  page pg;
  json_t *root;
  char *data, *chartjs, *title;
} page_parts;

static void page_free(page_parts *p) {
  json_decref(p->root);
  free(p->data);
  free(p->chartjs);
  free(p->title);
}

static tq_status page_prepare(tq_context *ctx, const char *json_text,
                              const char *source, const char *chartjs_path,
                              page_parts *p) {
  memset(p, 0, sizeof *p);
  tq_status st = load_document(ctx, json_text, source, &p->root);
  if (st != TQ_OK) return st;
  if (!chartjs_path || !*chartjs_path) chartjs_path = TQ_REPORT_CHARTJS_DEFAULT;
  size_t chart_len;
  if ((st = read_chartjs(ctx, chartjs_path, &p->chartjs, &chart_len)) != TQ_OK)
    return st;
  const char *title = json_string_value(json_object_get(p->root, "title"));
  const char *command = json_string_value(json_object_get(p->root, "command"));
  if (title && *title) {
    p->title = strdup(title);
  } else {
    size_t n = strlen(command) + sizeof " report - TensorQuant";
    if ((p->title = malloc(n)))
      snprintf(p->title, n, "%s report - TensorQuant", command);
  }
  p->data = embeddable_json(p->root);
  if (!p->title || !p->data) return tq_error_nomem(ctx);
  p->pg.title = p->title;
  p->pg.data = p->data;
  p->pg.chartjs = p->chartjs;
  p->pg.chartjs_len = chart_len;
  p->pg.pareto = has_pareto(p->root);
  return TQ_OK;
}

tq_status tq_report_render_html(tq_context *ctx, const char *json_text,
                                const char *source, const char *chartjs_path,
                                char **html, size_t *len) {
  if (!html || !len)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_report_render_html: html and len must not be NULL");
  *html = NULL;
  *len = 0;
  page_parts p;
  tq_status st = page_prepare(ctx, json_text, source, chartjs_path, &p);
  if (st == TQ_OK) {
    char *buf = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&buf, &size);
    if (!fp) {
      st = tq_error_nomem(ctx);
    } else {
      int err = write_page(fp, &p.pg);
      if (fclose(fp) != 0 || err || !buf) {
        free(buf);
        st = tq_error_nomem(ctx);
      } else {
        *html = buf;
        *len = size;
      }
    }
  }
  page_free(&p);
  return st;
}

tq_status tq_report_write_html(tq_context *ctx, const char *json_text,
                               const char *source, const char *html_path,
                               const char *chartjs_path) {
  if (!html_path || !*html_path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_report_write_html: no output path");
  page_parts p;
  tq_status st = page_prepare(ctx, json_text, source, chartjs_path, &p);
  if (st == TQ_OK) st = tq_atomic_write_file(ctx, html_path, write_page, &p.pg);
  page_free(&p);
  return st;
}
