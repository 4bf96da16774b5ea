/* libFuzzer target: the report document validator (tq_report_validate),
 * and rendering of every document it accepts, with a stand-in for
 * Chart.js. A rendered page must embed the data without a way out of its
 * <script> element. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tensorquant/tensorquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char chartjs[64];

static void make_chartjs(void) {
  if (chartjs[0]) return;
  snprintf(chartjs, sizeof chartjs, "/tmp/tq-fuzz-chart-%ld.js",
           (long)getpid());
  FILE *f = fopen(chartjs, "w");
  if (f) {
    fputs("/* stand-in */ (function(g){g.Chart=function(){};})(this);\n", f);
    fclose(f);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  make_chartjs();
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) {
    free(text);
    return 0;
  }
  if (tq_report_validate(ctx, text, "fuzz") == TQ_OK) {
    char *html = NULL;
    size_t len = 0;
    if (tq_report_render_html(ctx, text, "fuzz", chartjs, &html, &len) ==
        TQ_OK) {
      /* the stand-in's script, the page's data and its code: no more */
      size_t closes = 0;
      for (const char *p = html; (p = strstr(p, "</script")); p++) closes++;
      if (closes > 3) abort();
      tq_free(html);
    }
  }
  tq_context_destroy(ctx);
  free(text);
  return 0;
}
