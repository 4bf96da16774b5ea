/* Tests for HTML reports: the document embedded in the page cannot end its
 * <script> element whatever its strings hold and reads back unchanged;
 * validation errors name the place; Chart.js problems and failed writes
 * are reported and leave no file; the page's CSS and JavaScript files are
 * embedded as they are; result rows as CSV. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensorquant/report.h"
#include "testutil.h"

#define EVIL "</script><script>alert(1)</script><!--"

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

/* A stand-in for Chart.js (the tests do not run the page). */
static char *fake_chartjs(void) {
  char *path = tq_test_tmp_path("report-fake-chart.js");
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("/* stand-in */ var Chart = function () {};\n", fp);
  assert_int_equal(fclose(fp), 0);
  return path;
}

static size_t count_nocase(const char *text, const char *needle) {
  size_t n = strlen(needle), count = 0;
  for (const char *p = text; *p; p++)
    if (strncasecmp(p, needle, n) == 0) count++;
  return count;
}

/* The text of the data element of a page (caller frees). */
static char *embedded_data(const char *html) {
  const char *open = "<script type=\"application/json\" id=\"tq-report-data\">";
  const char *start = strstr(html, open);
  assert_non_null(start);
  start += strlen(open);
  const char *end = strstr(start, "</script>");
  assert_non_null(end);
  return strndup(start, (size_t)(end - start));
}

static void test_embedding_escapes_script_end(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *chart = fake_chartjs();
  /* The hostile text in a layer name, a title and a key; U+2028 and a
   * non-ASCII character too (both must survive the trip). */
  const char *doc =
      "{\"schema\": \"tq-report/1\", \"command\": \"sensitivity\",\n"
      " \"title\": \"" EVIL
      " & \\u2028 \xc3\xa9\",\n"
      " \"sensitivity\": [{\"rank\": 1, \"layer\": \"" EVIL
      "\", \"delta_top1\": -1.5}],\n"
      " \"" EVIL "\": \"</SCRIPT >\"}";
  char *html = NULL;
  size_t len = 0;
  assert_int_equal(
      tq_report_render_html(ctx, doc, "evil.json", chart, &html, &len), TQ_OK);
  assert_non_null(html);
  assert_int_equal(strlen(html), len);
  /* Exactly the page's three scripts open and close; no comment opens. */
  assert_int_equal(count_nocase(html, "<script"), 3);
  assert_int_equal(count_nocase(html, "</script"), 3);
  assert_null(strstr(html, "<!--"));
  assert_null(strstr(html, "alert(1)</script>"));

  char *data = embedded_data(html);
  assert_null(strpbrk(data, "<>&"));
  assert_non_null(strstr(data, "\\u003c/script\\u003e\\u003cscript\\u003e"));
  /* Reads back as the same document. */
  json_error_t err;
  json_t *back = json_loads(data, 0, &err);
  assert_non_null(back);
  json_t *orig = json_loads(doc, 0, &err);
  assert_non_null(orig);
  assert_true(json_equal(back, orig));
  const char *layer = json_string_value(json_object_get(
      json_array_get(json_object_get(back, "sensitivity"), 0), "layer"));
  assert_string_equal(layer, EVIL);
  assert_string_equal(json_string_value(json_object_get(back, "title")),
                      EVIL " & \xe2\x80\xa8 \xc3\xa9");
  json_decref(back);
  json_decref(orig);
  free(data);

  /* The title is HTML-escaped in <title>. */
  assert_non_null(strstr(html,
                         "<title>&lt;/script&gt;&lt;script&gt;alert(1)"
                         "&lt;/script&gt;&lt;!-- &amp; "));
  tq_free(html);
  free(chart);
  tq_context_destroy(ctx);
}

static void test_page_parts(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *chart = fake_chartjs();
  char *html = NULL;
  size_t len = 0;
  assert_int_equal(
      tq_report_render_html(ctx,
                            "{\"schema\": \"tq-report/1\", \"command\": "
                            "\"stats\", \"unknown\": [1, {\"x\": 2}]}",
                            NULL, chart, &html, &len),
      TQ_OK);
  assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
  assert_non_null(strstr(html, "<title>stats report - TensorQuant</title>"));
  assert_non_null(strstr(html, "/* stand-in */ var Chart"));
  assert_non_null(strstr(html, "default-src 'none'"));
  assert_non_null(strstr(html, "body.dataset.ready = '1'"));
  char *data = embedded_data(html);
  assert_string_equal(data,
                      "{\"schema\":\"tq-report/1\",\"command\":\"stats\","
                      "\"unknown\":[1,{\"x\":2}]}");
  free(data);
  tq_free(html);
  free(chart);
  tq_context_destroy(ctx);
}

/* Validation failure with the status and message expected. */
static void expect_invalid(const char *doc, tq_status status,
                           const char *message) {
  tq_context *ctx = new_ctx();
  tq_status got = tq_report_validate(ctx, doc, "doc.json");
  const char *msg = tq_context_last_error(ctx);
  if (got != status)
    fail_msg("%s: status %d, expected %d (%s)", doc, (int)got, (int)status,
             msg);
  if (!strstr(msg, message)) fail_msg("expected '%s' in '%s'", message, msg);
  tq_context_destroy(ctx);
}

static void test_validation(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  assert_int_equal(tq_report_validate(ctx,
                                      "{\"schema\": \"tq-report/1\", "
                                      "\"command\": \"sweep\", \"results\": "
                                      "[{\"bits\": null, \"sqnr_db\": null}]}",
                                      NULL),
                   TQ_OK);
  /* Malformed JSON: jansson's line and column in the message and info. */
  assert_int_equal(tq_report_validate(ctx,
                                      "{\"schema\": \"tq-report/1\",\n"
                                      "  \"command\": }",
                                      "in.json"),
                   TQ_ERR_PARSE);
  const tq_error_info *info = tq_context_error_info(ctx);
  assert_int_equal(info->line, 2);
  assert_int_equal(info->column, 14);
  assert_non_null(strstr(info->message, "in.json:2:14: invalid JSON"));
  tq_context_destroy(ctx);

  expect_invalid("{\"schema\": \"tq-report/0\", \"command\": \"x\"}",
                 TQ_ERR_FORMAT,
                 "doc.json: unsupported report schema \"tq-report/0\"");
  expect_invalid("{\"command\": \"sweep\"}", TQ_ERR_FORMAT,
                 "\"schema\" is missing");
  expect_invalid("{\"schema\": 1, \"command\": \"sweep\"}", TQ_ERR_FORMAT,
                 "schema: expected a string, got an integer");
  expect_invalid("{\"schema\": \"tq-report/1\", \"command\": \"\"}",
                 TQ_ERR_FORMAT, "\"command\" is empty");
  expect_invalid("\"tq-report/1\"", TQ_ERR_FORMAT,
                 "expected a JSON object with \"schema\"");
  expect_invalid(
      "{\"schema\": \"tq-report/1\", \"command\": \"sweep\", "
      "\"results\": {}}",
      TQ_ERR_FORMAT, "results: expected an array, got an object");
  expect_invalid(
      "{\"schema\": \"tq-report/1\", \"command\": \"sweep\", "
      "\"results\": [{}, 3]}",
      TQ_ERR_FORMAT, "results[1]: expected an object, got an integer");
  expect_invalid(
      "{\"schema\": \"tq-report/1\", \"command\": \"sweep\", "
      "\"search\": {\"trace\": [{\"accepted\": 1}]}}",
      TQ_ERR_FORMAT,
      "search.trace[0].accepted: expected a boolean, got an integer");
  expect_invalid(
      "{\"schema\": \"tq-report/1\", \"command\": \"stats\", "
      "\"stats\": {\"layers\": [{\"log2_histogram\": "
      "{\"exponents\": [1, 2], \"counts\": [1]}}]}}",
      TQ_ERR_FORMAT,
      "stats.layers[0].log2_histogram: 2 exponents but 1 counts");
  expect_invalid(
      "{\"schema\": \"tq-report/1\", \"command\": \"stats\", "
      "\"stats\": {\"layers\": [{\"percentiles\": {\"50\": \"a\"}}]}}",
      TQ_ERR_FORMAT, "stats.layers[0].percentiles.50: expected a number");
  expect_invalid(
      "{\"schema\": \"tq-report/1\", \"command\": \"stats\", "
      "\"schema\": \"tq-report/1\"}",
      TQ_ERR_PARSE, "duplicate");
}

static void test_chartjs_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  const char *doc = "{\"schema\": \"tq-report/1\", \"command\": \"stats\"}";
  char *html = (char *)1;
  size_t len = 1;
  char *missing = tq_test_tmp_path("report-no-such-chart.js");
  assert_int_equal(tq_report_render_html(ctx, doc, NULL, missing, &html, &len),
                   TQ_ERR_IO);
  assert_null(html);
  assert_non_null(strstr(tq_context_last_error(ctx), "libjs-chart.js"));
  assert_non_null(strstr(tq_context_last_error(ctx), missing));

  char *esm = tq_test_tmp_path("report-esm-chart.js");
  FILE *fp = fopen(esm, "w");
  assert_non_null(fp);
  fputs("class Chart {}\nexport { Chart };\n", fp);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(tq_report_render_html(ctx, doc, NULL, esm, &html, &len),
                   TQ_ERR_FORMAT);
  assert_non_null(strstr(tq_context_last_error(ctx), "ES module"));
  remove(esm);
  free(esm);
  free(missing);
  tq_context_destroy(ctx);
}

static void test_write_is_atomic(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *chart = fake_chartjs();
  char *path = tq_test_tmp_path("report-out.html");
  remove(path);
  const char *doc = "{\"schema\": \"tq-report/1\", \"command\": \"stats\"}";
  assert_int_equal(tq_report_write_html(ctx, doc, NULL, path, chart), TQ_OK);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  off_t size = st.st_size;
  assert_true(size > 1000);

  /* A bad document or a missing Chart.js leaves the old file alone. */
  assert_int_equal(tq_report_write_html(ctx, "{", NULL, path, chart),
                   TQ_ERR_PARSE);
  char *missing = tq_test_tmp_path("report-no-such-chart.js");
  assert_int_equal(tq_report_write_html(ctx, doc, NULL, path, missing),
                   TQ_ERR_IO);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, size);
  remove(path);

  /* Nothing is created when the directory does not exist. */
  char *bad = tq_test_tmp_path("report-no-such-dir/out.html");
  assert_int_equal(tq_report_write_html(ctx, doc, NULL, bad, chart), TQ_ERR_IO);
  assert_int_not_equal(stat(bad, &st), 0);

  assert_int_equal(tq_report_write_html(ctx, doc, NULL, NULL, chart),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_report_validate(ctx, NULL, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  free(bad);
  free(missing);
  free(path);
  free(chart);
  tq_context_destroy(ctx);
}

/* The whole contents of a file (caller frees). */
static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  const long n = ftell(fp);
  assert_true(n > 0);
  rewind(fp);
  char *text = malloc((size_t)n + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
  text[n] = 0;
  fclose(fp);
  return text;
}

/* The page carries src/analysis/report/page.css and page.js byte for byte
 * (embedded at build time); Chart.js comes from the argument or the
 * default location, never from the environment. */
static void test_page_files_embedded(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *chart = fake_chartjs();
  const char *doc = "{\"schema\": \"tq-report/1\", \"command\": \"stats\"}";
  char *html = NULL;
  size_t len = 0;
  assert_int_equal(tq_report_render_html(ctx, doc, NULL, chart, &html, &len),
                   TQ_OK);
  static const char *const parts[][3] = {
      {"/../../src/analysis/report/page.css", "<style>\n", "</style>\n"},
      {"/../../src/analysis/report/page.js", "<script>\n",
       "</script>\n</body>\n</html>\n"}};
  for (size_t i = 0; i < 2; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", TQ_TEST_DATA_DIR, parts[i][0]);
    char *file = slurp(path);
    const size_t n = strlen(parts[i][1]) + strlen(file) + strlen(parts[i][2]);
    char *want = malloc(n + 1);
    assert_non_null(want);
    snprintf(want, n + 1, "%s%s%s", parts[i][1], file, parts[i][2]);
    assert_non_null(strstr(html, want));
    free(want);
    free(file);
  }
  tq_free(html);
  /* TQ_CHARTJS names the stand-in, but the library does not look */
  const char *old = getenv("TQ_CHARTJS");
  char *saved = old ? strdup(old) : NULL;
  assert_int_equal(setenv("TQ_CHARTJS", chart, 1), 0);
  html = NULL;
  const tq_status st = tq_report_render_html(ctx, doc, NULL, NULL, &html, &len);
  if (st == TQ_OK)
    assert_null(strstr(html, "stand-in"));
  else
    assert_non_null(
        strstr(tq_context_last_error(ctx), TQ_REPORT_CHARTJS_DEFAULT));
  tq_free(html);
  if (saved)
    setenv("TQ_CHARTJS", saved, 1);
  else
    unsetenv("TQ_CHARTJS");
  free(saved);
  free(chart);
  tq_context_destroy(ctx);
}

/* The rows as CSV: strings quoted, numbers exact, nulls empty; a search
 * document gives its layers. */
static void test_csv(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  const char *sweep =
      "{\"schema\": \"tq-report/1\", \"command\": \"sweep\", \"results\": ["
      "{\"what\": \"extr\", \"layers\": \"a\\\"b\", \"spec\": "
      "\"nearest,8,4\", \"bits\": 8, \"top1\": 0.1, \"top5\": 1.0, "
      "\"loss\": null, \"delta_top1\": -2.5, \"sqnr_db\": 31.25},"
      "{\"what\": \"weights\", \"bits\": null}]}";
  char *csv = NULL;
  assert_int_equal(tq_report_csv(ctx, sweep, NULL, &csv), TQ_OK);
  assert_string_equal(
      csv,
      "what,layers,spec,bits,top1,top5,loss,delta_top1,sqnr_db\n"
      "\"extr\",\"a\"\"b\",\"nearest,8,4\",8,0.10000000000000001,1,,-2.5,"
      "31.25\n"
      "\"weights\",,,,,,,,\n");
  tq_free(csv);
  const char *search =
      "{\"schema\": \"tq-report/1\", \"command\": \"search\", \"search\": "
      "{\"layers\": [{\"layer\": \"L\", \"what\": \"weights\", \"spec\": "
      "\"nearest,4,3\", \"bits\": 4, \"size\": 150.0}]}}";
  assert_int_equal(tq_report_csv(ctx, search, NULL, &csv), TQ_OK);
  assert_string_equal(csv,
                      "what,layers,spec,bits,top1,top5,loss,delta_top1,"
                      "sqnr_db\n\"weights\",,\"nearest,4,3\",4,,,,,\n");
  tq_free(csv);
  csv = (char *)1;
  assert_int_equal(tq_report_csv(ctx, "{\"a\": ", "x.json", &csv),
                   TQ_ERR_PARSE);
  assert_null(csv);
  assert_non_null(strstr(tq_context_last_error(ctx), "x.json:1:"));
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedding_escapes_script_end),
      cmocka_unit_test(test_page_parts),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_chartjs_errors),
      cmocka_unit_test(test_write_is_atomic),
      cmocka_unit_test(test_page_files_embedded),
      cmocka_unit_test(test_csv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
