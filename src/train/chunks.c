/* Chunked and data-parallel training steps (tq_trainer_set_chunks,
 * tq_trainer_set_comm, docs/mpi.md).
 *
 * A global batch is split into K equal chunks. The trainer computes each
 * chunk's gradient on its own (forward, loss, backward on that chunk
 * alone) and adds the chunks' gradients in chunk order. Ranks own
 * contiguous runs of chunks; the chunks' gradients are gathered, not
 * pre-summed, so every rank adds the same K terms in the same order: the
 * result is the same bits on 1, 2 or K ranks, because no arithmetic
 * depends on where a chunk was computed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/train_internal.h"

int tq_train_distributed(const tq_trainer *t) {
  return t->comm && t->comm->size > 1;
}

static int ranks_of(const tq_trainer *t) {
  return t->comm ? t->comm->size : 1;
}

int tq_train_chunk_count(const tq_trainer *t) {
  return t->chunks > 0 ? t->chunks : ranks_of(t);
}

void tq_train_local_chunks(const tq_trainer *t, int *first, int *count) {
  const int k = tq_train_chunk_count(t), n = ranks_of(t);
  const int r = t->comm ? t->comm->rank : 0;
  const int each = k / n, extra = k % n;
  *first = each * r + (r < extra ? r : extra);
  *count = each + (r < extra);
}

tq_status tq_trainer_set_chunks(tq_context *ctx, tq_trainer *t, int chunks) {
  if (!t || chunks < 0)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_trainer_set_chunks: %s",
                    t ? "the number of chunks must be >= 0 (0: one per rank)"
                      : "NULL trainer");
  t->chunks = chunks;
  return TQ_OK;
}

tq_status tq_trainer_shard(tq_context *ctx, const tq_trainer *t, size_t batch,
                           size_t *first, size_t *count, size_t *chunk) {
  if (!t || !first || !count)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_trainer_shard: NULL argument");
  const int k = tq_train_chunk_count(t), n = ranks_of(t);
  if (batch < (size_t)n)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "a batch of %zu samples is smaller than the %d ranks: "
                    "each needs at least one sample of every batch",
                    batch, n);
  if (k < n)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "%d chunks per batch are fewer than the %d ranks: each "
                    "rank needs at least one chunk",
                    k, n);
  if (batch % (size_t)k)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "a batch of %zu samples does not split into %d equal "
                    "chunks: choose a batch size that is a multiple of the "
                    "number of chunks",
                    batch, k);
  int c0, nc;
  tq_train_local_chunks(t, &c0, &nc);
  const size_t each = batch / (size_t)k;
  *first = (size_t)c0 * each;
  *count = (size_t)nc * each;
  if (chunk) *chunk = each;
  return TQ_OK;
}

/* ---- running statistics ---------------------------------------------------*/

/* Calls fn on every running statistic a training forward updates
 * (BatchNormalization's mean and variance), once each, in node order. */
static tq_status each_state(tq_context *ctx, const tq_trainer *t,
                            void (*fn)(void *, tq_tensor *), void *user) {
  const tq_graph *g = t->g;
  unsigned char *seen = calloc(g->n_inits ? g->n_inits : 1, 1);
  if (!seen) return tq_error_nomem(ctx);
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (t->s->nodes[i].folded) continue;
    const tq_node *n = &g->nodes[i];
    const unsigned smask = tq_train_state_inputs(t, i);
    for (size_t k = 0; smask && k < n->n_in; k++) {
      const int v = n->in[k];
      if (!(smask & (1u << k)) || !tq_train_is_float_init(g, v) ||
          seen[g->values[v].init_index]++)
        continue;
      fn(user, g->inits[g->values[v].init_index]);
    }
  }
  free(seen);
  return TQ_OK;
}

/* A cursor over a float buffer that state tensors are copied to or from. */
typedef struct state_io {
  float *buf;
  size_t at;
  int restore; /* 1: buffer -> tensors */
} state_io;

static void count_state(void *user, tq_tensor *x) {
  ((state_io *)user)->at += x->numel;
}

static void copy_state(void *user, tq_tensor *x) {
  state_io *io = user;
  float *d = tq_f32(x), *b = io->buf + io->at;
  if (io->restore)
    memcpy(d, b, x->numel * sizeof(float));
  else
    memcpy(b, d, x->numel * sizeof(float));
  io->at += x->numel;
}

static tq_status state_copy(tq_context *ctx, const tq_trainer *t, float *buf,
                            int restore) {
  state_io io = {.buf = buf, .restore = restore};
  return each_state(ctx, t, copy_state, &io);
}

/* ---- chunk buffers --------------------------------------------------------*/

static tq_status grow(tq_context *ctx, float **buf, size_t *cap, size_t n) {
  if (n <= *cap) return TQ_OK;
  float *nb = realloc(*buf, n * sizeof(float));
  if (!nb) return tq_error_nomem(ctx);
  *buf = nb;
  *cap = n;
  return TQ_OK;
}

tq_status tq_train_chunks_begin(tq_context *ctx, tq_trainer *t, int local) {
  state_io io = {0};
  tq_status st = each_state(ctx, t, count_state, &io);
  if (st != TQ_OK) return st;
  t->state_floats = io.at;
  size_t grads = 0;
  for (size_t p = 0; p < t->n_params; p++)
    grads += t->grad[t->params[p].value]->numel;
  t->slot_floats = grads + t->state_floats;
  if ((st = grow(ctx, &t->state_start, &t->state_cap, t->state_floats)) ||
      (st = grow(ctx, &t->chunk_buf, &t->chunk_cap,
                 (size_t)local * t->slot_floats)))
    return st;
  return state_copy(ctx, t, t->state_start, 0);
}

tq_status tq_train_chunk_start(tq_context *ctx, tq_trainer *t) {
  return state_copy(ctx, t, t->state_start, 1);
}

tq_status tq_train_chunk_save(tq_context *ctx, tq_trainer *t, int j) {
  float *slot = t->chunk_buf + (size_t)j * t->slot_floats;
  for (size_t p = 0; p < t->n_params; p++) {
    const tq_tensor *gp = t->grad[t->params[p].value];
    memcpy(slot, gp->data, gp->numel * sizeof(float));
    slot += gp->numel;
  }
  return state_copy(ctx, t, slot, 0);
}

/* ---- the exchanges --------------------------------------------------------*/

static tq_status comm_failed(tq_context *ctx, const tq_trainer *t, tq_status st,
                             const char *what) {
  return tq_error(ctx, st, NULL, 0, 0,
                  "training step %llu, rank %d of %d: %s across the ranks "
                  "failed (%s)",
                  (unsigned long long)t->steps + 1, t->comm->rank,
                  t->comm->size, what, tq_status_str(st));
}

/* Some rank failed before the exchange, and every rank knows it: the
 * failing ranks keep their error, the others report the first failing
 * rank's message. */
static tq_status share_failure(tq_context *ctx, const tq_trainer *t,
                               tq_status mine) {
  enum { MSG = 480, ITEM = 4 + MSG };
  const tq_comm *c = t->comm;
  unsigned char send[ITEM] = {0};
  size_t bytes = 0;
  if (mine != TQ_OK) {
    const int32_t code = (int32_t)mine;
    memcpy(send, &code, 4);
    snprintf((char *)send + 4, MSG, "%s", tq_context_last_error(ctx));
    bytes = 4 + strlen((char *)send + 4) + 1;
  }
  unsigned char *all = malloc((size_t)c->size * ITEM);
  size_t *sizes = malloc((size_t)c->size * sizeof *sizes);
  if (!all || !sizes) {
    free(all);
    free(sizes);
    return mine != TQ_OK ? mine : tq_error_nomem(ctx);
  }
  tq_status st =
      c->allgatherv(c->user, send, bytes, all, (size_t)c->size * ITEM, sizes);
  if (st != TQ_OK) {
    if (mine == TQ_OK) comm_failed(ctx, t, st, "sharing an error");
  } else if (mine == TQ_OK) {
    size_t at = 0;
    for (int r = 0; r < c->size; at += sizes[r++]) {
      if (sizes[r] < 5) continue;
      int32_t code;
      memcpy(&code, all + at, 4);
      all[at + sizes[r] - 1] = '\0';
      st = tq_error(ctx, code > 0 ? (tq_status)code : TQ_ERR_INTERNAL, NULL, 0,
                    0, "rank %d of %d failed in training step %llu: %s", r,
                    c->size, (unsigned long long)t->steps + 1,
                    (char *)all + at + 4);
      break;
    }
  }
  free(all);
  free(sizes);
  return mine != TQ_OK ? mine : st;
}

tq_status tq_train_exchange_losses(tq_context *ctx, tq_trainer *t,
                                   tq_status mine, const double *local,
                                   int n_local, double *all) {
  const tq_comm *c = t->comm;
  const int k = tq_train_chunk_count(t);
  /* Each rank sends a failure flag, then (total, hits) per chunk. */
  const size_t send_n = 1 + 2 * (size_t)n_local,
               recv_n = (size_t)c->size + 2 * (size_t)k;
  double *send = malloc(send_n * sizeof *send);
  double *recv = malloc(recv_n * sizeof *recv);
  size_t *sizes = malloc((size_t)c->size * sizeof *sizes);
  tq_status st = send && recv && sizes ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK) {
    send[0] = mine != TQ_OK;
    memcpy(send + 1, local, 2 * (size_t)n_local * sizeof *send);
    st = c->allgatherv(c->user, send, send_n * sizeof *send, recv,
                       recv_n * sizeof *recv, sizes);
    if (st != TQ_OK) st = comm_failed(ctx, t, st, "the sum of the losses");
  }
  int failed = 0;
  size_t at = 0, out = 0;
  for (int r = 0; st == TQ_OK && r < c->size; r++) {
    const size_t n = sizes[r] / sizeof *recv;
    failed |= recv[at] != 0.0;
    memcpy(all + out, recv + at + 1, (n - 1) * sizeof *recv);
    out += n - 1;
    at += n;
  }
  free(send);
  free(recv);
  free(sizes);
  if (st != TQ_OK) return mine != TQ_OK ? mine : st;
  return failed ? share_failure(ctx, t, mine) : TQ_OK;
}

tq_status tq_train_reduce_chunks(tq_context *ctx, tq_trainer *t, int n_local) {
  const int k = tq_train_chunk_count(t);
  const size_t slot = t->slot_floats;
  const float *chunks = t->chunk_buf;
  tq_status st;
  if (tq_train_distributed(t)) {
    const tq_comm *c = t->comm;
    size_t *sizes = malloc((size_t)c->size * sizeof *sizes);
    if (!sizes) return tq_error_nomem(ctx);
    st = grow(ctx, &t->recv_buf, &t->recv_cap, (size_t)k * slot);
    /* Ranks own ascending runs of chunks: rank order is chunk order. */
    if (st == TQ_OK &&
        (st = c->allgatherv(c->user, t->chunk_buf,
                            (size_t)n_local * slot * sizeof(float), t->recv_buf,
                            (size_t)k * slot * sizeof(float), sizes)))
      st = comm_failed(ctx, t, st, "the sum of the gradients");
    free(sizes);
    if (st != TQ_OK) return st;
    chunks = t->recv_buf;
  }
  /* Gradients: chunk 0, then + chunk 1, + chunk 2, ... */
  size_t at = 0;
  for (size_t p = 0; p < t->n_params; p++) {
    tq_tensor *gp = t->grad[t->params[p].value];
    float *acc = tq_f32(gp);
    memcpy(acc, chunks + at, gp->numel * sizeof(float));
    for (int j = 1; j < k; j++) {
      const float *g = chunks + (size_t)j * slot + at;
      for (size_t e = 0; e < gp->numel; e++) acc[e] += g[e];
    }
    at += gp->numel;
  }
  /* Running statistics: the mean of the chunks' (equal weights), added in
   * chunk order, into the snapshot buffer and from there into the graph. */
  const float w = (float)(1.0 / (double)k);
  float *mean = t->state_start;
  for (size_t e = 0; e < t->state_floats; e++) {
    float m = w * chunks[at + e];
    for (int j = 1; j < k; j++) m += w * chunks[(size_t)j * slot + at + e];
    mean[e] = m;
  }
  return state_copy(ctx, t, mean, 1);
}
