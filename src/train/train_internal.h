/* Internal: the trainer's state, shared by trainer.c (forward, backward),
 * optimizer.c (parameter updates) and checkpoint.c. */
#ifndef TQ_TRAIN_INTERNAL_H
#define TQ_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "graph/session_internal.h"
#include "tensorquant/data.h"
#include "tensorquant/train.h"

typedef struct tq_param {
  int value;          /* value index of the initializer */
  int init;           /* initializer index in the graph */
  size_t node, input; /* first consumer: the maps that apply to it */
  float *m, *v;       /* optimizer state: SGD momentum buffer; Adam moments */
} tq_param;

struct tq_trainer {
  tq_graph *g;
  tq_session *s; /* plans the graph, resolves maps, quantizes weights */
  tq_train_config cfg;
  double lr;
  uint64_t seed, steps;
  tq_param *params;
  size_t n_params;
  int *param_of_value; /* per value: parameter index or -1 */
  /* loss head */
  int logits_value;
  int head_node; /* Softmax/LogSoftmax folded into the loss, or -1 */
  /* per plan */
  int planned;
  tq_shape plan_shape;
  unsigned char *needs_grad; /* per value */
  int *consumers;            /* per value: reading slots on the grad path */
  tq_tensor **pre;           /* per value: float output before extrinsic */
  tq_tensor **grad;          /* per value: dLoss/dvalue */
  tq_tensor ***scratch;      /* per node and input: gradient scratch */
  /* chunked and data-parallel steps (chunks.c) */
  const tq_comm *comm; /* NULL: this process alone */
  int chunks;          /* chunks per global batch; 0: one per rank */
  size_t slot_floats;  /* one chunk's gradients and running statistics */
  size_t state_floats; /* the running statistics alone */
  float *chunk_buf;    /* this rank's chunks, slot_floats each */
  float *recv_buf;     /* every chunk (several ranks) */
  float *state_start;  /* running statistics at the step's start */
  size_t chunk_cap, recv_cap, state_cap; /* floats allocated */
};

/* Whether a float initializer is value v; the inputs of node `node` a
 * training forward updates as state (BatchNormalization's running
 * statistics), as its descriptor says. */
int tq_train_is_float_init(const tq_graph *g, int v);
unsigned tq_train_state_inputs(const tq_trainer *t, size_t node);

/* ---- chunks.c: chunked and data-parallel steps ----------------------------
 * A global batch is split into tq_train_chunk_count equal chunks; each
 * rank computes the gradients of its run of chunks one by one, and the
 * chunks' gradients are added in chunk order wherever they came from. */
int tq_train_distributed(const tq_trainer *t);
int tq_train_chunk_count(const tq_trainer *t);
/* This rank's run of chunks: the first n % size ranks get one more. */
void tq_train_local_chunks(const tq_trainer *t, int *first, int *count);
/* Before the first of `local` chunks: sizes the chunk buffers and keeps
 * the running statistics as they are at the step's start. */
tq_status tq_train_chunks_begin(tq_context *ctx, tq_trainer *t, int local);
/* Before each later chunk: the running statistics of the step's start. */
tq_status tq_train_chunk_start(tq_context *ctx, tq_trainer *t);
/* After chunk j's backward: keeps its parameter gradients and running
 * statistics. */
tq_status tq_train_chunk_save(tq_context *ctx, tq_trainer *t, int j);
/* Several ranks: every rank's per-chunk (loss sum, hits) pairs into all
 * (2 per chunk, chunk order); a failure on any rank (mine: this rank's
 * status) fails the step on every rank with the failing rank's message. */
tq_status tq_train_exchange_losses(tq_context *ctx, tq_trainer *t,
                                   tq_status mine, const double *local,
                                   int n_local, double *all);
/* The parameter gradients: the sum of every chunk's, in chunk order; the
 * running statistics: the mean of every chunk's. Gathers the chunks of
 * all ranks first. */
tq_status tq_train_reduce_chunks(tq_context *ctx, tq_trainer *t, int n_local);

/* What a classifier's first output holds: probabilities (a Softmax makes
 * it), log-probabilities (LogSoftmax) or logits (anything else). For the
 * first two, *head_node is that node (its input holds the logits), else
 * -1. Training folds the head into the loss; evaluation computes the loss
 * accordingly. */
typedef enum tq_score_kind {
  TQ_SCORES_LOGITS,
  TQ_SCORES_PROBS,
  TQ_SCORES_LOG_PROBS
} tq_score_kind;
tq_score_kind tq_output_scores(const tq_graph *g, int *head_node);

/* log(sum_k exp(z_k)) in double, shifted by the maximum (NaNs ignored). */
double tq_log_sum_exp(const float *z, int64_t n);

/* What every evaluation over a dataset checks first: no more samples than
 * the dataset has (tq_feed_init binds its inputs to the model's). */
tq_status tq_eval_check(tq_context *ctx, const tq_graph *g,
                        const tq_dataset *ds, size_t n);

/* Cross-entropy of one row of K scores for label y. */
double tq_row_loss(tq_score_kind kind, const float *z, int64_t K, int64_t y);

/* Rank of the label's score: how many classes score strictly higher (ties
 * count against the label only from lower indices, as argmax). */
int64_t tq_label_rank(const float *z, int64_t K, int64_t y);

/* Applies one optimizer step to every parameter (gradients in t->grad). */
void tq_optimizer_step(tq_trainer *t, int threads);

#endif
