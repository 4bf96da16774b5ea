/* Many configurations, one pass over the data (analysis.h).
 *
 * Per chunk of batches: decode each batch once, run the float network
 * once keeping the values later nodes read, then run each configuration
 * from its first quantized node on those values. Results are kept per
 * sample so that totals are sums in sample order however the batches were
 * spread (over chunks or ranks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "tensorquant/calibrate.h"
#include "graph/session_internal.h"
#include "graph/feed_internal.h"
#include "tensorquant/analysis.h"
#include "train/train_internal.h"

/* What one sample gave under one configuration. */
typedef struct sample_rec {
  double loss;
  double signal; /* sum of squared float outputs */
  double noise;  /* sum of squared differences to the float outputs */
  uint32_t changed;
  int32_t rank; /* of the label's score: 0 is a top-1 hit */
} sample_rec;

typedef struct batch_slot {
  size_t first, count; /* positions in idx order */
  tq_tensor **xs;      /* per model input */
  tq_tensor *out_float;
  int64_t *labels;
  tq_tensor **kept; /* per value: the float value, or NULL */
} batch_slot;

typedef struct engine {
  tq_context *ctx;
  const tq_graph *g;
  const tq_dataset *ds;
  tq_feed feed; /* its inputs as the model's */
  const size_t *idx;
  size_t n, bmax, n_configs;
  uint64_t offset; /* stochastic-rounding sample offset of position 0 */
  tq_session *sf, *sq;
  size_t *start;         /* per configuration */
  unsigned char *needed; /* per value: kept for some configuration */
  sample_rec *recs;      /* [(n_configs + 1) * n]; row 0: float */
  double *seconds;       /* per configuration (row 0: float) */
  batch_slot *cur;       /* where the observer keeps values */
  tq_score_kind kind;
  int out_of_memory;
} engine;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int keep_value(void *user, size_t node, const char *node_id,
                      size_t output, const char *value_name,
                      const tq_tensor *value) {
  (void)node_id;
  (void)value_name;
  engine *e = user;
  const int v = e->g->nodes[node].out[output];
  if (v < 0 || !e->needed[v]) return 0;
  /* A failed copy stops the run; run_float reports it. */
  e->out_of_memory = tq_tensor_clone(e->ctx, value, &e->cur->kept[v]) != TQ_OK;
  return e->out_of_memory;
}

static void free_slot(const engine *e, batch_slot *b) {
  for (size_t k = 0; b->xs && k < e->feed.n; k++) tq_tensor_destroy(b->xs[k]);
  free(b->xs);
  tq_tensor_destroy(b->out_float);
  free(b->labels);
  if (b->kept)
    for (size_t v = 0; v < e->g->n_values; v++) tq_tensor_destroy(b->kept[v]);
  free(b->kept);
  memset(b, 0, sizeof *b);
}

/* Scores the batch's output into row `row` of the records. */
static tq_status score(engine *e, const batch_slot *b, const tq_tensor *out,
                       size_t row) {
  const tq_shape *os = tq_tensor_shape(out);
  const int64_t K = os->ndim == 2 ? os->dims[1] : -1;
  if (os->ndim != 2 || os->dims[0] != (int64_t)b->count ||
      K < tq_dataset_classes(e->ds)) {
    char buf[128];
    tq_shape_format(os, buf, sizeof buf);
    return tq_error(e->ctx, TQ_ERR_SHAPE, NULL, 0, 0,
                    "the model's output '%s' has shape %s; the dataset '%s' "
                    "needs [batch, classes] with at least %d classes",
                    e->g->values[e->g->outputs[0]].name, buf,
                    tq_dataset_name(e->ds), tq_dataset_classes(e->ds));
  }
  const float *q = tq_tensor_cdata(out);
  const float *f = tq_tensor_cdata(b->out_float ? b->out_float : out);
  sample_rec *r = e->recs + row * e->n + b->first;
  for (size_t i = 0; i < b->count; i++) {
    const float *qi = q + (size_t)K * i, *fi = f + (size_t)K * i;
    double signal = 0.0, noise = 0.0;
    uint32_t changed = 0;
    for (int64_t k = 0; k < K; k++) {
      const double d = (double)qi[k] - (double)fi[k];
      signal += (double)fi[k] * fi[k];
      noise += d * d;
      /* NaN outputs count as changed */
      changed += !(qi[k] == fi[k]) || (qi[k] != qi[k]);
    }
    r[i].loss = tq_row_loss(e->kind, qi, K, b->labels[i]);
    r[i].rank = (int32_t)tq_label_rank(qi, K, b->labels[i]);
    r[i].signal = signal;
    r[i].noise = noise;
    r[i].changed = changed;
  }
  return TQ_OK;
}

/* Decodes batch b and runs the float network on it. */
static tq_status run_float(engine *e, batch_slot *b) {
  tq_context *ctx = e->ctx;
  b->labels = malloc(b->count * sizeof *b->labels);
  b->kept = calloc(e->g->n_values ? e->g->n_values : 1, sizeof *b->kept);
  b->xs = calloc(e->feed.n ? e->feed.n : 1, sizeof *b->xs);
  if (!b->labels || !b->kept || !b->xs) return tq_error_nomem(ctx);
  tq_status st = tq_feed_gather(ctx, &e->feed, e->idx, b->first, b->count,
                                b->xs, b->labels);
  if (st != TQ_OK) return st;
  const double t0 = now_s();
  e->cur = b;
  tq_run_opts ro = {.sample_offset = e->offset + b->first};
  st = tq_session_run(ctx, e->sf, (const tq_tensor *const *)b->xs, e->feed.n,
                      &b->out_float, 1, &ro);
  if (e->out_of_memory) st = tq_error_nomem(ctx);
  if (st == TQ_OK) {
    /* the float row compares the float output with itself */
    tq_tensor *out = b->out_float;
    b->out_float = NULL;
    st = score(e, b, out, 0);
    b->out_float = out;
  }
  e->seconds[0] += now_s() - t0;
  return st;
}

static tq_status run_config(engine *e, size_t c, batch_slot *b) {
  const size_t row = c + 1;
  if (e->start[c] >= e->g->n_nodes) { /* the maps change nothing */
    memcpy(e->recs + row * e->n + b->first, e->recs + b->first,
           b->count * sizeof *e->recs);
    return TQ_OK;
  }
  const double t0 = now_s();
  tq_tensor *out = NULL;
  tq_run_opts ro = {.sample_offset = e->offset + b->first};
  tq_status st = tq_session_run_from(
      e->ctx, e->sq, (const tq_tensor *const *)b->xs, e->feed.n, e->start[c],
      (const tq_tensor *const *)b->kept, &out, 1, &ro);
  if (st == TQ_OK) st = score(e, b, out, row);
  tq_tensor_destroy(out);
  e->seconds[row] += now_s() - t0;
  return st;
}

/* Sends this rank's records and receives everyone's, so every rank holds
 * all samples' records in place. Batch b belongs to rank b % size. */
static tq_status gather_records(engine *e, const tq_comm *comm, size_t nb) {
  const size_t rows = e->n_configs + 1, rec = sizeof(sample_rec);
  size_t mine = 0;
  for (size_t b = (size_t)comm->rank; b < nb; b += (size_t)comm->size) {
    const size_t first = b * e->bmax;
    mine += (first + e->bmax <= e->n ? e->bmax : e->n - first);
  }
  unsigned char *send = malloc((mine ? mine : 1) * rows * rec);
  unsigned char *recv = malloc((e->n ? e->n : 1) * rows * rec);
  size_t *got = calloc((size_t)comm->size, sizeof *got);
  if (!send || !recv || !got) {
    free(send);
    free(recv);
    free(got);
    return tq_error_nomem(e->ctx);
  }
  unsigned char *p = send;
  for (size_t b = (size_t)comm->rank; b < nb; b += (size_t)comm->size) {
    const size_t first = b * e->bmax;
    const size_t cnt = first + e->bmax <= e->n ? e->bmax : e->n - first;
    for (size_t r = 0; r < rows; r++, p += cnt * rec)
      memcpy(p, e->recs + r * e->n + first, cnt * rec);
  }
  tq_status st = comm->allgatherv(comm->user, send, (size_t)(p - send), recv,
                                  e->n * rows * rec, got);
  if (st != TQ_OK)
    st = tq_error(e->ctx, st, NULL, 0, 0,
                  "gathering the per-sample results of %d ranks (%zu bytes "
                  "each way at most) failed: %s",
                  comm->size, e->n * rows * rec, tq_status_str(st));
  else {
    const unsigned char *q = recv;
    for (int k = 0; k < comm->size && st == TQ_OK; k++) {
      const unsigned char *end = q + got[k];
      for (size_t b = (size_t)k; b < nb; b += (size_t)comm->size) {
        const size_t first = b * e->bmax;
        const size_t cnt = first + e->bmax <= e->n ? e->bmax : e->n - first;
        if ((size_t)(end - q) < rows * cnt * rec) break;
        for (size_t r = 0; r < rows; r++, q += cnt * rec)
          memcpy(e->recs + r * e->n + first, q, cnt * rec);
      }
      if (q != end)
        st = tq_error(e->ctx, TQ_ERR_INTERNAL, NULL, 0, 0,
                      "rank %d sent %zu bytes of results, not what its "
                      "batches need (do all ranks run the same command?)",
                      k, got[k]);
    }
  }
  free(send);
  free(recv);
  free(got);
  return st;
}

static void totals(const engine *e, size_t row, double seconds, size_t n_local,
                   tq_config_result *out) {
  const sample_rec *r = e->recs + row * e->n;
  size_t hit1 = 0, hit5 = 0;
  double loss = 0.0, signal = 0.0, noise = 0.0;
  uint64_t changed = 0;
  for (size_t i = 0; i < e->n; i++) {
    hit1 += r[i].rank == 0;
    hit5 += r[i].rank < 5;
    loss += r[i].loss;
    signal += r[i].signal;
    noise += r[i].noise;
    changed += r[i].changed;
  }
  memset(out, 0, sizeof *out);
  const double n = e->n ? (double)e->n : 1.0;
  out->eval.n = e->n;
  out->eval.top1 = (double)hit1 / n;
  out->eval.top5 = (double)hit5 / n;
  out->eval.loss = loss / n;
  out->eval.seconds = seconds;
  out->eval.images_per_s = seconds > 0 ? (double)n_local / seconds : 0.0;
  out->changed = changed;
  out->sqnr_db = noise == 0.0 ? INFINITY
                 : signal != signal || noise != noise
                     ? NAN
                     : 10.0 * log10(signal / noise);
}

tq_status tq_evaluate_configs(tq_context *ctx, const tq_graph *g,
                              const tq_dataset *ds, const size_t *idx, size_t n,
                              const tq_qmap_set *const *configs,
                              size_t n_configs, const tq_multi_eval_opts *opts,
                              tq_config_result *float_result,
                              tq_config_result *results) {
  const tq_multi_eval_opts defaults = {0};
  if (!opts) opts = &defaults;
  if (!g || !ds || (n_configs && (!configs || !results)) || n == 0 ||
      opts->batch < 0)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_evaluate_configs: NULL argument, no samples or a "
                    "negative batch");
  tq_status st0 = tq_eval_check(ctx, g, ds, n);
  if (st0 != TQ_OK) return st0;
  const tq_comm *comm = opts->comm && opts->comm->size > 1 ? opts->comm : NULL;
  const size_t rank = comm ? (size_t)comm->rank : 0;
  const size_t ranks = comm ? (size_t)comm->size : 1;
  engine e = {
      .ctx = ctx, .g = g, .ds = ds, .idx = idx, .n = n, .n_configs = n_configs};
  e.offset = opts->sample_offset;
  e.bmax = opts->batch > 0 ? (size_t)opts->batch : 256;
  if (e.bmax > n) e.bmax = n;
  int head;
  e.kind = tq_output_scores(g, &head);
  const size_t nb = (n + e.bmax - 1) / e.bmax;
  batch_slot *slots = NULL;
  tq_shape *bs = NULL;
  tq_status st = tq_feed_init(ctx, &e.feed, ds, g);
  if (st == TQ_OK) st = tq_session_create(ctx, g, &e.sf);
  if (st == TQ_OK) st = tq_session_create(ctx, g, &e.sq);
  if (st == TQ_OK) st = tq_session_set_calibration(ctx, e.sq, opts->calibration);
  e.start = calloc(n_configs ? n_configs : 1, sizeof *e.start);
  e.needed = calloc(g->n_values ? g->n_values : 1, 1);
  e.recs = calloc((n_configs + 1) * n, sizeof *e.recs);
  e.seconds = calloc(n_configs + 1, sizeof *e.seconds);
  if (st == TQ_OK && (!e.start || !e.needed || !e.recs || !e.seconds))
    st = tq_error_nomem(ctx);
  if (st != TQ_OK) goto done;
  tq_session_set_seed(e.sq, opts->seed);
  tq_session_set_seed(e.sf, opts->seed);

  /* Where each configuration starts, and what the float run must keep. */
  if (!(bs = malloc((e.feed.n ? e.feed.n : 1) * sizeof *bs))) {
    st = tq_error_nomem(ctx);
    goto done;
  }
  tq_feed_shapes(&e.feed, e.bmax, bs);
  /* both planned: what is folded (never run) is known to both */
  if ((st = tq_session_plan(ctx, e.sf, bs, e.feed.n)) != TQ_OK ||
      (st = tq_session_plan(ctx, e.sq, bs, e.feed.n)) != TQ_OK)
    goto done;
  for (size_t c = 0; c < n_configs && st == TQ_OK; c++) {
    if ((st = tq_session_set_maps(ctx, e.sq, configs[c])) != TQ_OK) break;
    e.start[c] = opts->no_reuse && configs[c]
                     ? 0
                     : tq_session_first_quantized_node(e.sq);
  }
  if (st != TQ_OK) goto done;
  size_t kept_bytes = 0;
  for (size_t v = 0; v < g->n_values; v++) {
    for (size_t c = 0; c < n_configs && !e.needed[v]; c++)
      e.needed[v] = e.start[c] > 0 && e.start[c] < g->n_nodes &&
                    tq_session_value_lent(e.sf, v, e.start[c]);
    if (e.needed[v])
      kept_bytes +=
          e.sf->values[v]->numel * tq_dtype_size(e.sf->values[v]->dtype);
  }
  int any_kept = kept_bytes > 0;
  if (any_kept) tq_session_set_observer(e.sf, keep_value, &e);
  const size_t budget = opts->memory_bytes ? opts->memory_bytes : (1u << 30);
  size_t per_chunk = kept_bytes ? budget / kept_bytes : nb;
  if (per_chunk < 1) per_chunk = 1;
  if (per_chunk > nb) per_chunk = nb;
  slots = calloc(per_chunk, sizeof *slots);
  if (!slots) {
    st = tq_error_nomem(ctx);
    goto done;
  }

  size_t mine = 0;
  for (size_t b = rank; b < nb; b += ranks) mine++;
  const size_t units = mine * (n_configs + 1);
  size_t done_units = 0, n_local = 0;
  for (size_t b0 = rank; b0 < nb && st == TQ_OK;) {
    size_t ns = 0;
    for (; ns < per_chunk && b0 < nb && st == TQ_OK; ns++, b0 += ranks) {
      batch_slot *b = &slots[ns];
      b->first = b0 * e.bmax;
      b->count = b->first + e.bmax <= n ? e.bmax : n - b->first;
      n_local += b->count;
      st = run_float(&e, b);
      done_units++;
      if (st == TQ_OK && opts->progress &&
          opts->progress(opts->progress_user, done_units, units))
        st =
            tq_error(ctx, TQ_ERR_INTERRUPTED, NULL, 0, 0, "evaluation stopped");
    }
    for (size_t c = 0; c < n_configs && st == TQ_OK; c++) {
      if (e.start[c] < g->n_nodes)
        st = tq_session_set_maps(ctx, e.sq, configs[c]);
      for (size_t k = 0; k < ns && st == TQ_OK; k++) {
        st = run_config(&e, c, &slots[k]);
        done_units++;
        if (st == TQ_OK && opts->progress &&
            opts->progress(opts->progress_user, done_units, units))
          st = tq_error(ctx, TQ_ERR_INTERRUPTED, NULL, 0, 0,
                        "evaluation stopped");
      }
    }
    for (size_t k = 0; k < ns; k++) free_slot(&e, &slots[k]);
  }
  if (st == TQ_OK && comm) st = gather_records(&e, comm, nb);
  if (st == TQ_OK) {
    if (float_result) {
      totals(&e, 0, e.seconds[0], n_local, float_result);
      float_result->start_node = g->n_nodes;
    }
    for (size_t c = 0; c < n_configs; c++) {
      totals(&e, c + 1, e.seconds[c + 1], n_local, &results[c]);
      results[c].start_node = e.start[c];
    }
  }
done:
  free(slots);
  free(bs);
  tq_feed_free(&e.feed);
  tq_session_destroy(e.sf);
  tq_session_destroy(e.sq);
  free(e.start);
  free(e.needed);
  free(e.recs);
  free(e.seconds);
  return st;
}
