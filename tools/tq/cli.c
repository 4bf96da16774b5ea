#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "tq.h"

void tq_cli_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "tq %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void tq_cli_status_error(const char *cmd, tq_context *ctx, tq_status status) {
  const char *msg = tq_context_last_error(ctx);
  if (msg && *msg)
    tq_cli_error(cmd, "%s", msg);
  else
    tq_cli_error(cmd, "%s", tq_status_str(status));
}

int tq_cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int tq_cli_parse_int(const char *cmd, const char *opt, const char *text,
                     long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi) {
    tq_cli_error(cmd, "%s expects an integer from %ld to %ld, got '%s'", opt,
                 lo, hi, text);
    return 0;
  }
  *out = v;
  return 1;
}

int tq_cli_parse_u64(const char *cmd, const char *opt, const char *text,
                     uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 0);
  if (errno || end == text || *end || text[0] == '-') {
    tq_cli_error(cmd, "%s expects a non-negative integer, got '%s'", opt, text);
    return 0;
  }
  *out = (uint64_t)v;
  return 1;
}

int tq_cli_parse_double(const char *cmd, const char *opt, const char *text,
                        double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi) {
    tq_cli_error(cmd, "%s expects a number from %g to %g, got '%s'", opt, lo,
                 hi, text);
    return 0;
  }
  *out = v;
  return 1;
}

const char *tq_cli_value(const char *cmd, int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    tq_cli_error(cmd, "option %s needs a value (see tq %s --help)", argv[*i],
                 cmd);
    return NULL;
  }
  return argv[++*i];
}

int tq_cli_stderr_is_tty(void) {
  return isatty(STDERR_FILENO);
}

int tq_cli_apply_normalize(const char *cmd, tq_context *ctx, tq_dataset *ds,
                           const char *text) {
  if (!text) return 1;
  float mean[64], std[64];
  size_t n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    if (n == 64) {
      tq_cli_error(cmd, "--normalize: more than 64 channels");
      return 0;
    }
    mean[n] = strtof(p, &end);
    if (end == p || *end != ':') {
      tq_cli_error(cmd,
                   "--normalize '%s': expected MEAN:STD[,MEAN:STD...] (one "
                   "pair, or one per channel), at position %d",
                   text, (int)(p - text) + 1);
      return 0;
    }
    p = end + 1;
    std[n] = strtof(p, &end);
    if (end == p || (*end && *end != ',')) {
      tq_cli_error(cmd,
                   "--normalize '%s': expected a number after ':' at position "
                   "%d",
                   text, (int)(p - text) + 1);
      return 0;
    }
    n++;
    p = *end ? end + 1 : end;
  }
  tq_status st = tq_dataset_set_normalization(ctx, ds, mean, std, n);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  return 1;
}

int tq_cli_data_option(const char *cmd, tq_cli_data *d, int argc, char **argv,
                       int *i) {
  const char *o = argv[*i], *v;
  if (!strcmp(o, "-d") || !strcmp(o, "--data")) {
    if (!(d->data = tq_cli_value(cmd, argc, argv, i))) return -1;
  } else if (!strcmp(o, "--split")) {
    if (!(d->split = tq_cli_value(cmd, argc, argv, i))) return -1;
    if (strcmp(d->split, "test") && strcmp(d->split, "train")) {
      tq_cli_error(cmd, "--split must be test or train, got '%s'", d->split);
      return -1;
    }
  } else if (!strcmp(o, "--normalize")) {
    if (!(d->normalize = tq_cli_value(cmd, argc, argv, i))) return -1;
  } else if (!strcmp(o, "--limit")) {
    if (!(v = tq_cli_value(cmd, argc, argv, i)) ||
        !tq_cli_parse_int(cmd, o, v, 1, 1L << 40, &d->limit))
      return -1;
  } else if (!strcmp(o, "--batch")) {
    if (!(v = tq_cli_value(cmd, argc, argv, i)) ||
        !tq_cli_parse_int(cmd, o, v, 1, 1 << 20, &d->batch))
      return -1;
  } else if (!strcmp(o, "--seed")) {
    if (!(v = tq_cli_value(cmd, argc, argv, i)) ||
        !tq_cli_parse_u64(cmd, o, v, &d->seed))
      return -1;
  } else if (!strcmp(o, "--threads")) {
    if (!(v = tq_cli_value(cmd, argc, argv, i)) ||
        !tq_cli_parse_int(cmd, o, v, 1, 4096, &d->threads))
      return -1;
  } else {
    return 0;
  }
  return 1;
}

tq_status tq_cli_dataset_open(tq_context *ctx, const char *spec,
                              tq_data_split split, tq_dataset **ds) {
  const tq_dataset_dirs dirs = {.fashion_mnist = getenv("TQ_FASHION_MNIST_DIR"),
                                .fashion_mnist_from = "TQ_FASHION_MNIST_DIR"};
  return tq_dataset_open_in(ctx, spec, split, &dirs, ds);
}

const char *tq_cli_chartjs(const char *given) {
  return given && *given ? given : getenv("TQ_CHARTJS");
}

int tq_cli_open_data(const char *cmd, tq_context *ctx, const tq_cli_data *d,
                     tq_dataset **ds, size_t *n) {
  const tq_data_split split =
      d->split && !strcmp(d->split, "train") ? TQ_SPLIT_TRAIN : TQ_SPLIT_TEST;
  tq_status st = tq_cli_dataset_open(ctx, d->data, split, ds);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  if (!tq_cli_apply_normalize(cmd, ctx, *ds, d->normalize)) return 0;
  *n = tq_dataset_size(*ds);
  if (d->limit > 0 && (size_t)d->limit < *n) *n = (size_t)d->limit;
  return 1;
}

const char *tq_cli_blas_core(void) {
  const char *core = openblas_get_corename();
  return core ? core : "unknown";
}
