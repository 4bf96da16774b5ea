/* tq run's data path: typed inputs from .npy files bound by name, batched
 * runs, outputs concatenated (run_batches.h). */
#include "run_batches.h"

#include <stdlib.h>
#include <string.h>

tq_run_io tq_run_io_parse(char *arg) {
  tq_run_io io = {NULL, arg};
  char *eq = strchr(arg, '=');
  if (eq && eq != arg && !memchr(arg, '/', (size_t)(eq - arg))) {
    *eq = '\0';
    io.name = arg;
    io.path = eq + 1;
  }
  return io;
}

void tq_run_safe_name(const char *name, char *buf, size_t size) {
  size_t n = 0;
  for (const char *p = name; *p && n + 1 < size && n < 400; p++) {
    char c = *p;
    int safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    buf[n++] = safe ? c : '_';
  }
  buf[n] = '\0';
  if (n == 0 || buf[0] == '.') buf[0] = '_';
  if (n == 0 && size > 1) buf[1] = '\0';
}

/* Reads one file for graph input k. */
static int read_input(const char *cmd, tq_context *ctx, const tq_graph *g,
                      size_t k, const char *path, tq_tensor **out) {
  const char *name = tq_graph_input_name(g, k);
  const tq_dtype want = tq_graph_input_dtype(g, k);
  tq_tensor *t = NULL;
  tq_status st = tq_npy_read_tensor(ctx, path, &t);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  const tq_dtype got = tq_tensor_dtype(t);
  if (got == want) {
    *out = t;
    return 1;
  }
  /* Images and features come in any dtype: converted as tq_npy_read does. */
  if (want == TQ_DTYPE_FLOAT32) {
    st = tq_tensor_cast(ctx, t, want, out);
    tq_tensor_destroy(t);
    if (st != TQ_OK) tq_cli_status_error(cmd, ctx, st);
    return st == TQ_OK;
  }
  tq_cli_error(cmd,
               "input '%s' is declared %s, but %s holds %s: save the array "
               "as %s",
               name, tq_dtype_name(want), path, tq_dtype_name(got),
               tq_dtype_name(want));
  tq_tensor_destroy(t);
  return 0;
}

int tq_run_read_inputs(const char *cmd, tq_context *ctx, const tq_graph *g,
                       const tq_run_io *in, size_t n, tq_tensor **x) {
  const char *names[TQ_RUN_MAX_IO] = {NULL};
  size_t index[TQ_RUN_MAX_IO];
  for (size_t i = 0; i < n; i++) names[i] = in[i].name;
  tq_status st = tq_graph_bind_inputs(ctx, g, names, n, index);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (!read_input(cmd, ctx, g, index[i], in[i].path, &x[index[i]])) return 0;
  return 1;
}

/* Rows [first, first + count) of t (dimension 0) as a new tensor. */
static tq_status rows_of(tq_context *ctx, const tq_tensor *t, size_t first,
                         size_t count, tq_tensor **out) {
  tq_shape s = *tq_tensor_shape(t);
  const size_t row = s.dims[0] ? tq_tensor_numel(t) / (size_t)s.dims[0] : 0;
  const size_t es = tq_dtype_size(tq_tensor_dtype(t));
  s.dims[0] = (int64_t)count;
  tq_status st = tq_tensor_create(ctx, tq_tensor_dtype(t), &s, out);
  if (st == TQ_OK && count && row)
    memcpy(tq_tensor_data(*out),
           (const unsigned char *)tq_tensor_cdata(t) + first * row * es,
           count * row * es);
  return st;
}

/* Appends the batch output b (count rows) to the whole output *y of total
 * rows, created from the first batch. */
static int append_rows(const char *cmd, tq_context *ctx, const char *name,
                       const tq_tensor *b, size_t first, size_t count,
                       size_t total, tq_tensor **y) {
  const tq_shape *bs = tq_tensor_shape(b);
  if (bs->ndim < 1 || bs->dims[0] != (int64_t)count) {
    tq_cli_error(cmd,
                 "output '%s' does not have the batch as its first "
                 "dimension; run without --batch",
                 name);
    return 0;
  }
  const size_t es = tq_dtype_size(tq_tensor_dtype(b));
  const size_t row = count ? tq_tensor_numel(b) / count : 0;
  if (!*y) {
    tq_shape s = *bs;
    s.dims[0] = (int64_t)total;
    tq_status st = tq_tensor_create(ctx, tq_tensor_dtype(b), &s, y);
    if (st != TQ_OK) {
      tq_cli_status_error(cmd, ctx, st);
      return 0;
    }
  }
  const tq_shape *ys = tq_tensor_shape(*y);
  int same = ys->ndim == bs->ndim;
  for (int d = 1; same && d < bs->ndim; d++) same = ys->dims[d] == bs->dims[d];
  if (!same || tq_tensor_dtype(*y) != tq_tensor_dtype(b)) {
    tq_cli_error(cmd, "output '%s' changes its shape between batches", name);
    return 0;
  }
  if (count && row)
    memcpy((unsigned char *)tq_tensor_data(*y) + first * row * es,
           tq_tensor_cdata(b), count * row * es);
  return 1;
}

/* The number of samples: dimension 0, the same for every input. */
static int sample_count(const char *cmd, const tq_graph *g, tq_tensor *const *x,
                        size_t *total) {
  for (size_t k = 0; k < tq_graph_input_count(g); k++) {
    const tq_shape *s = tq_tensor_shape(x[k]);
    if (s->ndim < 1) {
      tq_cli_error(cmd, "--batch: input '%s' has no batch dimension",
                   tq_graph_input_name(g, k));
      return 0;
    }
    if (k && (size_t)s->dims[0] != *total) {
      tq_cli_error(cmd,
                   "--batch: inputs '%s' and '%s' have %zu and %lld samples",
                   tq_graph_input_name(g, 0), tq_graph_input_name(g, k), *total,
                   (long long)s->dims[0]);
      return 0;
    }
    *total = (size_t)s->dims[0];
  }
  return 1;
}

int tq_run_batches(const char *cmd, tq_context *ctx, tq_session *s,
                   tq_tensor *const *x, long batch, const size_t *out_index,
                   size_t n_out, tq_value_observer dump, void *dump_user,
                   tq_tensor **y) {
  const tq_graph *g = tq_session_graph(s);
  const size_t n_in = tq_graph_input_count(g);
  const char *out_names[TQ_RUN_MAX_IO];
  for (size_t j = 0; j < n_out; j++) {
    y[j] = NULL;
    out_names[j] = tq_graph_output_name(g, out_index[j]);
  }
  size_t total = 1;
  if (batch && !sample_count(cmd, g, x, &total)) return 0;
  const size_t step = batch ? (size_t)batch : total;
  int ok = 1;
  for (size_t first = 0; ok && (first < total || first == 0); first += step) {
    const size_t count =
        batch ? (total - first < step ? total - first : step) : total;
    tq_tensor *xb[TQ_RUN_MAX_IO] = {NULL}, *yb[TQ_RUN_MAX_IO] = {NULL};
    tq_status st = TQ_OK;
    for (size_t k = 0; batch && k < n_in && st == TQ_OK; k++)
      st = rows_of(ctx, x[k], first, count, &xb[k]);
    tq_session_set_observer(s, first == 0 ? dump : NULL, dump_user);
    tq_run_opts ro = {.sample_offset = first};
    if (st == TQ_OK)
      st = tq_session_run_named(ctx, s, NULL,
                                (const tq_tensor *const *)(batch ? xb : x),
                                n_in, out_names, yb, n_out, &ro);
    if (st != TQ_OK) {
      tq_cli_status_error(cmd, ctx, st);
      ok = 0;
    }
    for (size_t j = 0; ok && j < n_out; j++) {
      if (!batch) { /* one run: the outputs as they are */
        y[j] = yb[j];
        yb[j] = NULL;
        continue;
      }
      ok = append_rows(cmd, ctx, out_names[j], yb[j], first, count, total,
                       &y[j]);
    }
    for (size_t k = 0; k < n_in; k++) tq_tensor_destroy(xb[k]);
    for (size_t j = 0; j < n_out; j++) tq_tensor_destroy(yb[j]);
    if (total == 0 || !batch) break;
  }
  tq_session_set_observer(s, NULL, NULL);
  return ok;
}
