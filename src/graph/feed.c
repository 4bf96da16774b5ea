/* A dataset's inputs as a graph's inputs (feed_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/feed_internal.h"
#include "graph/graph_internal.h"
#include "io/dataset_internal.h"

/* Graph input k takes dataset input j: shape and dtype. */
static tq_status check_input(tq_context *ctx, const tq_feed *f, size_t k,
                             size_t j) {
  const tq_dataset_input *in = &f->ds->inputs[j];
  const tq_shape *want = &f->g->input_shapes[k], *got = &in->sample_shape;
  const char *name = f->g->values[f->g->inputs[k]].name;
  int ok = want->ndim == got->ndim + 1;
  for (int d = 0; ok && d < got->ndim; d++)
    ok = want->dims[d + 1] < 0 || want->dims[d + 1] == got->dims[d];
  if (!ok) {
    char a[128], b[128];
    tq_shape_format(want, a, sizeof a);
    tq_shape_format(got, b, sizeof b);
    return tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "the dataset '%s' has samples of shape %s for input "
                    "'%s', but the model's input takes %s (first dim: the "
                    "batch; -1: any size)",
                    tq_dataset_name(f->ds), b, name, a);
  }
  const tq_dtype want_dt = f->g->input_dtypes[k];
  const tq_dtype got_dt = tq_dataset_input_dtype(f->ds, j);
  if (got_dt == want_dt || want_dt == TQ_DTYPE_FLOAT32) return TQ_OK;
  return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, in->file, 0, 0,
                  "holds %s, but the model declares input '%s' %s: save the "
                  "array as %s",
                  tq_dtype_name(got_dt), name, tq_dtype_name(want_dt),
                  tq_dtype_name(want_dt));
}

tq_status tq_feed_init(tq_context *ctx, tq_feed *f, const tq_dataset *ds,
                       const tq_graph *g) {
  memset(f, 0, sizeof *f);
  f->ds = ds;
  f->g = g;
  f->n = g->n_inputs;
  const size_t nd = tq_dataset_input_count(ds);
  f->src = calloc(f->n ? f->n : 1, sizeof *f->src);
  const char **names = calloc(nd ? nd : 1, sizeof *names);
  size_t *at = calloc(nd ? nd : 1, sizeof *at);
  tq_status st = f->src && names && at ? TQ_OK : tq_error_nomem(ctx);
  for (size_t j = 0; j < nd && st == TQ_OK; j++)
    names[j] = tq_dataset_input_name(ds, j);
  if (st == TQ_OK) st = tq_graph_bind_inputs(ctx, g, names, nd, at);
  for (size_t j = 0; j < nd && st == TQ_OK; j++) f->src[at[j]] = j;
  for (size_t k = 0; k < f->n && st == TQ_OK; k++)
    st = check_input(ctx, f, k, f->src[k]);
  free(names);
  free(at);
  return st;
}

void tq_feed_free(tq_feed *f) {
  free(f->src);
  f->src = NULL;
}

void tq_feed_shapes(const tq_feed *f, size_t batch, tq_shape *shapes) {
  for (size_t k = 0; k < f->n; k++) {
    const tq_shape *s = tq_dataset_input_shape(f->ds, f->src[k]);
    memset(&shapes[k], 0, sizeof shapes[k]);
    shapes[k].ndim = s->ndim + 1;
    shapes[k].dims[0] = (int64_t)batch;
    memcpy(shapes[k].dims + 1, s->dims, (size_t)s->ndim * sizeof s->dims[0]);
  }
}

tq_status tq_feed_gather(tq_context *ctx, const tq_feed *f, const size_t *idx,
                         size_t first, size_t count, tq_tensor **xs,
                         int64_t *labels) {
  size_t *order = malloc((count ? count : 1) * sizeof *order);
  tq_shape *shapes = malloc((f->n ? f->n : 1) * sizeof *shapes);
  tq_status st = order && shapes ? TQ_OK : tq_error_nomem(ctx);
  for (size_t i = 0; i < count && st == TQ_OK; i++)
    order[i] = idx ? idx[first + i] : first + i;
  if (st == TQ_OK) tq_feed_shapes(f, count, shapes);
  for (size_t k = 0; k < f->n && st == TQ_OK; k++) {
    const tq_dtype dt = f->g->input_dtypes[k];
    if (xs[k] && (tq_tensor_dtype(xs[k]) != dt ||
                  !tq_shape_equal(tq_tensor_shape(xs[k]), &shapes[k]))) {
      tq_tensor_destroy(xs[k]);
      xs[k] = NULL;
    }
    if (!xs[k]) st = tq_tensor_create(ctx, dt, &shapes[k], &xs[k]);
    if (st == TQ_OK)
      st = tq_dataset_gather_input(ctx, f->ds, f->src[k], order, count, dt,
                                   tq_tensor_data(xs[k]), k ? NULL : labels);
  }
  free(order);
  free(shapes);
  return st;
}
