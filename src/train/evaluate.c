/* Classifier evaluation over a dataset (evaluate.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "graph/feed_internal.h"
#include "tensorquant/evaluate.h"
#include "train/train_internal.h"

tq_score_kind tq_output_scores(const tq_graph *g, int *head_node) {
  const int p = g->values[g->outputs[0]].producer;
  *head_node = -1;
  if (p < 0 || g->nodes[p].n_in != 1) return TQ_SCORES_LOGITS;
  const tq_score_kind kind =
      !strcmp(g->nodes[p].op_type, "Softmax")      ? TQ_SCORES_PROBS
      : !strcmp(g->nodes[p].op_type, "LogSoftmax") ? TQ_SCORES_LOG_PROBS
                                                   : TQ_SCORES_LOGITS;
  if (kind != TQ_SCORES_LOGITS) *head_node = p;
  return kind;
}

double tq_log_sum_exp(const float *z, int64_t n) {
  double mx = -INFINITY;
  for (int64_t k = 0; k < n; k++) mx = z[k] > mx ? z[k] : mx;
  double se = 0.0;
  for (int64_t k = 0; k < n; k++) se += exp(z[k] - mx);
  return mx + log(se);
}

tq_status tq_eval_check(tq_context *ctx, const tq_graph *g,
                        const tq_dataset *ds, size_t n) {
  (void)g; /* the inputs are bound by tq_feed_init */
  if (n > tq_dataset_size(ds))
    return tq_error(ctx, TQ_ERR_RANGE, NULL, 0, 0,
                    "asked for %zu samples; the dataset has %zu", n,
                    tq_dataset_size(ds));
  return TQ_OK;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double tq_row_loss(tq_score_kind kind, const float *z, int64_t K, int64_t y) {
  if (kind == TQ_SCORES_PROBS) return -log((double)z[y] > 1e-30 ? z[y] : 1e-30);
  if (kind == TQ_SCORES_LOG_PROBS) return -(double)z[y];
  return tq_log_sum_exp(z, K) - z[y];
}

int64_t tq_label_rank(const float *z, int64_t K, int64_t y) {
  int64_t r = 0;
  for (int64_t k = 0; k < K; k++)
    if (z[k] > z[y] || (z[k] == z[y] && k < y)) r++;
  return r;
}

tq_status tq_evaluate(tq_context *ctx, tq_session *s, const tq_dataset *ds,
                      const size_t *idx, size_t n, int batch,
                      tq_eval_progress progress, void *user,
                      int64_t *predictions, tq_eval_result *res) {
  if (!s || !ds || !res || batch < 1)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_evaluate: NULL argument or batch < 1");
  memset(res, 0, sizeof *res);
  const tq_graph *g = tq_session_graph(s);
  tq_status st0 = tq_eval_check(ctx, g, ds, n);
  if (st0 != TQ_OK) return st0;
  const size_t bmax = (size_t)batch < n ? (size_t)batch : (n ? n : 1);
  tq_feed feed;
  tq_status st = tq_feed_init(ctx, &feed, ds, g);
  tq_tensor **xs = calloc(feed.n ? feed.n : 1, sizeof *xs);
  int64_t *labels = malloc(bmax * sizeof *labels);
  if (st == TQ_OK && (!labels || !xs)) st = tq_error_nomem(ctx);
  int head;
  const tq_score_kind kind = tq_output_scores(g, &head);
  double loss = 0.0;
  size_t hit1 = 0, hit5 = 0, done = 0;
  const double t0 = now_s();
  while (st == TQ_OK && done < n) {
    const size_t b = n - done < bmax ? n - done : bmax;
    if ((st = tq_feed_gather(ctx, &feed, idx, done, b, xs, labels))) break;
    tq_tensor *out = NULL;
    tq_run_opts ro = {.sample_offset = done};
    if ((st = tq_session_run(ctx, s, (const tq_tensor *const *)xs, feed.n, &out,
                             1, &ro)))
      break;
    const tq_shape *os = tq_tensor_shape(out);
    const int64_t K = os->ndim == 2 ? os->dims[1] : -1;
    if (os->ndim != 2 || os->dims[0] != (int64_t)b ||
        K < tq_dataset_classes(ds)) {
      char buf[128];
      tq_shape_format(os, buf, sizeof buf);
      st = tq_error(ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "the model's output '%s' has shape %s; the dataset '%s' "
                    "needs [batch, classes] with at least %d classes",
                    g->values[g->outputs[0]].name, buf, tq_dataset_name(ds),
                    tq_dataset_classes(ds));
      tq_tensor_destroy(out);
      break;
    }
    const float *z = tq_tensor_cdata(out);
    for (size_t i = 0; i < b; i++) {
      const float *row = z + (size_t)K * i;
      const int64_t r = tq_label_rank(row, K, labels[i]);
      hit1 += r == 0;
      hit5 += r < 5;
      loss += tq_row_loss(kind, row, K, labels[i]);
      if (predictions) {
        int64_t arg = 0;
        for (int64_t k = 1; k < K; k++)
          if (row[k] > row[arg]) arg = k;
        predictions[done + i] = arg;
      }
    }
    tq_tensor_destroy(out);
    done += b;
    res->n = done;
    res->top1 = (double)hit1 / (double)done;
    res->top5 = (double)hit5 / (double)done;
    res->loss = loss / (double)done;
    res->seconds = now_s() - t0;
    res->images_per_s = res->seconds > 0 ? (double)done / res->seconds : 0.0;
    if (progress && progress(user, done, n, res))
      st = tq_error(ctx, TQ_ERR_INTERRUPTED, NULL, 0, 0,
                    "evaluation stopped after %zu of %zu samples", done, n);
  }
  for (size_t k = 0; xs && k < feed.n; k++) tq_tensor_destroy(xs[k]);
  free(xs);
  tq_feed_free(&feed);
  free(labels);
  return st;
}
