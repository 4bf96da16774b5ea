/* tq report: a self-contained HTML page (tables and Chart.js charts) from
 * the JSON document of tq sweep, sensitivity, search or stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tensorquant/report.h"
#include "tq.h"

static const char help[] =
    "usage: tq report IN.json -o OUT.html [--chartjs PATH]\n"
    "\n"
    "Turns the JSON document that tq sweep, sensitivity, search or stats\n"
    "write (schema \"tq-report/1\", see docs/reports.md) into one HTML file\n"
    "with tables and charts. The page needs no network: the results and\n"
    "the Chart.js library are inside it. Open it in any browser.\n"
    "\n"
    "options:\n"
    "  -o, --output F     the HTML file to write (written atomically: a\n"
    "                     failed run leaves no partial file)\n"
    "      --chartjs PATH the UMD build of Chart.js to inline (default: the\n"
    "                     environment variable TQ_CHARTJS, else\n"
    "                     " TQ_REPORT_CHARTJS_DEFAULT
    ",\n"
    "                     from Debian's libjs-chart.js)\n"
    "      --check        only validate IN.json, write nothing\n"
    "\n"
    "IN.json may be - for standard input.\n"
    "\n"
    "examples:\n"
    "  tq report sweep.json -o sweep.html\n"
    "  tq report tests/data/report-sample.json -o sample.html\n"
    "  tq report stats.json -o stats.html --chartjs ~/chart.umd.min.js\n"
    "  tq report --check search.json\n";

/* Reads all of fp into a NUL-terminated buffer (caller frees); NULL on
 * failure with errno set. */
static char *read_all(FILE *fp) {
  size_t cap = 1 << 16, used = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (used == cap) {
      char *grown = realloc(buf, 2 * cap + 1);
      if (!grown) {
        free(buf);
        errno = ENOMEM;
        return NULL;
      }
      buf = grown;
      cap *= 2;
    }
    size_t got = fread(buf + used, 1, cap - used, fp);
    used += got;
    if (got == 0) {
      if (ferror(fp)) {
        int err = errno ? errno : EIO;
        free(buf);
        errno = err;
        return NULL;
      }
      break;
    }
  }
  if (!buf) {
    errno = ENOMEM;
    return NULL;
  }
  if (memchr(buf, '\0', used)) {
    /* jansson would stop at the NUL and report a confusing position. */
    free(buf);
    errno = EILSEQ;
    return NULL;
  }
  buf[used] = '\0';
  return buf;
}

typedef struct report_args {
  const char *in, *out, *chartjs;
  int check;
} report_args;

static int parse_args(const char *cmd, int argc, char **argv, report_args *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(o->out = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "--chartjs")) {
      if (!(o->chartjs = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (!strcmp(a, "--check")) {
      o->check = 1;
    } else if ((a[0] == '-' && a[1] != '\0') || o->in) {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq report --help)", a);
      return 0;
    } else {
      o->in = a;
    }
  }
  if (!o->in) {
    tq_cli_error(cmd, "missing IN.json (see tq report --help)");
    return 0;
  }
  if (!o->out && !o->check) {
    tq_cli_error(cmd, "missing -o OUT.html (see tq report --help)");
    return 0;
  }
  return 1;
}

/* The text of IN.json ("-": standard input); prints errors. */
static char *read_input(const char *cmd, const char *in) {
  const int from_stdin = strcmp(in, "-") == 0;
  FILE *fp = from_stdin ? stdin : fopen(in, "rb");
  if (!fp) {
    tq_cli_error(cmd, "cannot open '%s': %s", in, strerror(errno));
    return NULL;
  }
  char *text = read_all(fp);
  int err = errno;
  if (!from_stdin) fclose(fp);
  if (!text)
    tq_cli_error(cmd, "cannot read '%s': %s", in,
                 err == EILSEQ ? "it contains a NUL byte (not JSON text)"
                               : strerror(err));
  return text;
}

static int run(int argc, char **argv) {
  const char *cmd = "report";
  report_args o = {0};
  if (!parse_args(cmd, argc, argv, &o)) return TQ_EXIT_USAGE;
  char *text = read_input(cmd, o.in);
  if (!text) return TQ_EXIT_FAILURE;
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) {
    free(text);
    return TQ_EXIT_FAILURE;
  }
  const char *source = strcmp(o.in, "-") ? o.in : "<stdin>";
  tq_status st = o.check ? tq_report_validate(ctx, text, source)
                         : tq_report_write_html(ctx, text, source, o.out,
                                                tq_cli_chartjs(o.chartjs));
  int rc = TQ_EXIT_OK;
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    rc = TQ_EXIT_FAILURE;
  } else if (o.check) {
    printf("%s: a valid %s document\n", source, TQ_REPORT_SCHEMA);
  } else {
    printf("wrote %s\n", o.out);
  }
  tq_context_destroy(ctx);
  free(text);
  return rc;
}

const tq_command tq_cmd_report = {
    "report", "an HTML page of charts and tables from a tq-report JSON", run,
    help};
