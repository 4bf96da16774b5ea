/* Evaluating a classifier on a dataset: top-1 and top-5 accuracy and the
 * mean cross-entropy, under whatever maps the session has.
 *
 * The model's first output gives class scores [N, classes]: probabilities
 * when it comes from a Softmax, log-probabilities from a LogSoftmax,
 * logits otherwise (the loss is computed accordingly).
 *
 * Ownership: nothing is kept. Thread-safety: as the session (one thread
 * per session). */
#ifndef TENSORQUANT_EVALUATE_H
#define TENSORQUANT_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "export.h"
#include "session.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tq_eval_result {
  double top1, top5; /* fractions in [0, 1] */
  double loss;       /* mean cross-entropy */
  size_t n;          /* samples evaluated */
  double seconds;    /* wall time */
  double images_per_s;
} tq_eval_result;

/* Called after each batch; return nonzero to stop (TQ_ERR_INTERRUPTED). */
typedef int (*tq_eval_progress)(void *user, size_t done, size_t total,
                                const tq_eval_result *so_far);

/* Evaluates samples idx[0..n) of ds (idx NULL: the first n samples) in
 * batches of `batch` (the last may be smaller). Stochastic rounding of
 * sample idx position k uses sample offset k. Fails before running when
 * the model's output has fewer classes than the dataset's labels need.
 * predictions (may be NULL) receives the top-1 class of each sample. */
TQ_API tq_status tq_evaluate(tq_context *ctx, tq_session *s,
                             const tq_dataset *ds, const size_t *idx, size_t n,
                             int batch, tq_eval_progress progress, void *user,
                             int64_t *predictions, tq_eval_result *res);

#ifdef __cplusplus
}
#endif
#endif
