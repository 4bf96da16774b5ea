/* Chunked and data-parallel training steps (tq_trainer_set_chunks,
 * tq_trainer_shard, tq_trainer_set_comm): a step split into K chunks gives
 * the same bits on 1, 2 or 3 ranks. The ranks here are threads of this
 * process joined by an in-memory tq_comm, so the library's part is tested
 * without MPI (tests/cli/mpi_train.sh runs the same with mpirun). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* ---- an in-process communicator: ranks are threads ----------------------*/

enum { MAX_RANKS = 4 };

typedef struct shared_comm {
  int size;
  pthread_barrier_t barrier;
  const void *send[MAX_RANKS];
  size_t bytes[MAX_RANKS];
} shared_comm;

typedef struct rank_comm {
  tq_comm comm;
  shared_comm *shared;
} rank_comm;

static tq_status fake_allgatherv(void *user, const void *send, size_t bytes,
                                 void *recv, size_t recv_cap,
                                 size_t *recv_bytes) {
  rank_comm *rc = user;
  shared_comm *sh = rc->shared;
  sh->send[rc->comm.rank] = send;
  sh->bytes[rc->comm.rank] = bytes;
  pthread_barrier_wait(&sh->barrier);
  size_t total = 0;
  for (int r = 0; r < sh->size; r++) total += sh->bytes[r];
  tq_status st = total <= recv_cap ? TQ_OK : TQ_ERR_RANGE;
  for (int r = 0, at = 0; st == TQ_OK && r < sh->size; r++) {
    memcpy((char *)recv + at, sh->send[r], sh->bytes[r]);
    recv_bytes[r] = sh->bytes[r];
    at += (int)sh->bytes[r];
  }
  pthread_barrier_wait(&sh->barrier); /* senders' buffers stay until here */
  return st;
}

/* Sums in rank order (what tools/tq/comm_mpi.c guarantees too). */
#define FAKE_ALLREDUCE(name, type)                                          \
  static tq_status name(void *user, type *data, size_t n) {                 \
    rank_comm *rc = user;                                                   \
    type *all = malloc((size_t)rc->shared->size * n * sizeof *all);         \
    size_t sizes[MAX_RANKS];                                                \
    tq_status st =                                                          \
        fake_allgatherv(user, data, n * sizeof *data, all,                  \
                        (size_t)rc->shared->size * n * sizeof *all, sizes); \
    for (size_t i = 0; st == TQ_OK && i < n; i++) {                         \
      type s = all[i];                                                      \
      for (int r = 1; r < rc->shared->size; r++) s += all[r * n + i];       \
      data[i] = s;                                                          \
    }                                                                       \
    free(all);                                                              \
    return st;                                                              \
  }
FAKE_ALLREDUCE(fake_allreduce_f32, float)
FAKE_ALLREDUCE(fake_allreduce_f64, double)

/* ---- training on one rank -----------------------------------------------*/

typedef struct run_spec {
  const char *model;
  const char *maps; /* JSON or NULL */
  int chunks;       /* 0: one per rank */
  int steps;
  size_t batch;
} run_spec;

typedef struct rank_job {
  const run_spec *spec;
  tq_comm *comm; /* NULL: alone */
  float *weights;
  size_t n_weights;
  double last_loss;
  tq_status status;
  char error[512];
} rank_job;

/* Global batch s: images in [0, 1), labels in [0, 10), the same on every
 * rank (a rank copies out its own samples). */
static void global_batch(size_t n, uint64_t seed, float *x, int64_t *labels) {
  for (size_t i = 0; i < n * 28 * 28; i++)
    x[i] = (float)((tq_test_rand(&seed) >> 40) * 0x1p-24);
  for (size_t i = 0; i < n; i++)
    labels[i] = (int64_t)(tq_test_rand(&seed) % 10);
}

#define TRY(call)                 \
  do {                            \
    if ((job->status = (call))) { \
      goto done;                  \
    }                             \
  } while (0)

static void *train_rank(void *arg) {
  rank_job *job = arg;
  const run_spec *sp = job->spec;
  tq_context *ctx = NULL;
  tq_graph *g = NULL;
  tq_trainer *t = NULL;
  tq_qmap_set *maps = NULL;
  tq_tensor *x = NULL;
  float *gx = malloc(sp->batch * 28 * 28 * sizeof *gx);
  int64_t *gl = malloc(sp->batch * sizeof *gl);
  if ((job->status = tq_context_create(&ctx))) return NULL;
  TRY(gx && gl ? TQ_OK : TQ_ERR_NO_MEMORY);
  TRY(tq_model_build(ctx, sp->model, 7, &g));
  tq_train_config cfg;
  tq_train_config_default(&cfg);
  cfg.optimizer = TQ_OPTIMIZER_SGD;
  cfg.lr = 0.05;
  cfg.momentum = 0.9;
  TRY(tq_trainer_create(ctx, g, &cfg, &t));
  tq_trainer_set_seed(t, 3);
  tq_trainer_set_comm(t, job->comm);
  TRY(tq_trainer_set_chunks(ctx, t, sp->chunks));
  if (sp->maps)
    TRY(tq_qmap_set_parse_json(ctx, sp->maps, strlen(sp->maps), "maps", &maps));
  TRY(tq_trainer_set_maps(ctx, t, maps));
  size_t first, count, chunk;
  TRY(tq_trainer_shard(ctx, t, sp->batch, &first, &count, &chunk));
  tq_shape s = {.ndim = 4, .dims = {(int64_t)count, 1, 28, 28}};
  TRY(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &s, &x));
  for (int step = 0; step < sp->steps; step++) {
    global_batch(sp->batch, 500 + (uint64_t)step, gx, gl);
    memcpy(tq_tensor_data(x), gx + first * 28 * 28,
           count * 28 * 28 * sizeof *gx);
    tq_step_result r;
    TRY(tq_trainer_step(ctx, t, x, gl + first,
                        (uint64_t)step * sp->batch + first, &r));
    job->last_loss = r.loss;
  }
  size_t total = 0;
  for (size_t i = 0; i < tq_graph_initializer_count(g); i++)
    total += tq_tensor_numel(
        tq_graph_initializer(g, tq_graph_initializer_name(g, i)));
  job->weights = malloc(total * sizeof(float));
  job->n_weights = total;
  float *p = job->weights;
  for (size_t i = 0; p && i < tq_graph_initializer_count(g); i++) {
    const tq_tensor *w =
        tq_graph_initializer(g, tq_graph_initializer_name(g, i));
    memcpy(p, tq_tensor_cdata(w), tq_tensor_numel(w) * sizeof *p);
    p += tq_tensor_numel(w);
  }
done:
  if (job->status)
    snprintf(job->error, sizeof job->error, "%s", tq_context_last_error(ctx));
  tq_tensor_destroy(x);
  tq_trainer_destroy(t);
  tq_qmap_set_destroy(maps);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
  free(gx);
  free(gl);
  return NULL;
}

/* Trains on `ranks` threads (1: no communicator at all); returns rank 0's
 * final weights after checking that every rank has the same. */
static float *train_on(const run_spec *sp, int ranks, size_t *n, double *loss) {
  shared_comm sh = {.size = ranks};
  rank_comm rc[MAX_RANKS];
  rank_job jobs[MAX_RANKS];
  pthread_t th[MAX_RANKS];
  assert_true(ranks <= MAX_RANKS);
  pthread_barrier_init(&sh.barrier, NULL, (unsigned)ranks);
  for (int r = 0; r < ranks; r++) {
    rc[r].shared = &sh;
    rc[r].comm = (tq_comm){.rank = r,
                           .size = ranks,
                           .user = &rc[r],
                           .allgatherv = fake_allgatherv,
                           .allreduce_sum_f32 = fake_allreduce_f32,
                           .allreduce_sum_f64 = fake_allreduce_f64};
    jobs[r] = (rank_job){.spec = sp, .comm = ranks > 1 ? &rc[r].comm : NULL};
    assert_int_equal(pthread_create(&th[r], NULL, train_rank, &jobs[r]), 0);
  }
  for (int r = 0; r < ranks; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&sh.barrier);
  for (int r = 0; r < ranks; r++)
    if (jobs[r].status)
      fail_msg("%s on %d ranks, rank %d: %s: %s", sp->model, ranks, r,
               tq_status_str(jobs[r].status), jobs[r].error);
  for (int r = 1; r < ranks; r++) {
    assert_int_equal(jobs[r].n_weights, jobs[0].n_weights);
    assert_memory_equal(jobs[r].weights, jobs[0].weights,
                        jobs[0].n_weights * sizeof(float));
    assert_true(jobs[r].last_loss == jobs[0].last_loss);
    free(jobs[r].weights);
  }
  *n = jobs[0].n_weights;
  *loss = jobs[0].last_loss;
  return jobs[0].weights;
}

static const char *const quantized_maps =
    "{\"extrinsic\": {\"Conv\": \"stochastic,12,8\"}, \"weights\": "
    "{\"Dense\": \"nearest,8,6\"}, \"gradients\": {\"\": "
    "\"stochastic,16,20\"}, \"updates\": {\"Conv\": \"stochastic,16,12\"}}";

/* K chunks on 1, 2 and 3 ranks: the same bits. LeNet float and quantized
 * (stochastic rounding everywhere, including parameter gradients), and
 * ResNet-8 (BatchNormalization: per-chunk statistics, running statistics
 * averaged over the chunks). */
static void test_same_bits_on_any_rank_count(void **state) {
  (void)state;
  const run_spec specs[] = {
      {"lenet", NULL, 6, 2, 24},
      {"lenet", quantized_maps, 4, 2, 16},
      {"resnet8", NULL, 4, 2, 16},
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    size_t n1, n2, n3;
    double l1, l2, l3;
    float *w1 = train_on(&specs[i], 1, &n1, &l1);
    float *w2 = train_on(&specs[i], 2, &n2, &l2);
    float *w3 = train_on(&specs[i], 3, &n3, &l3);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(w1, w2, n1 * sizeof *w1);
    assert_memory_equal(w1, w3, n1 * sizeof *w1);
    assert_true(l1 == l2 && l1 == l3);
    assert_true(isfinite(l1));
    free(w1);
    free(w2);
    free(w3);
  }
}

/* Without --chunks, N ranks use N chunks: the single process with N
 * chunks, not the single process with one. The chunks really change the
 * arithmetic of a BatchNormalization model (per-chunk statistics), so the
 * comparison with one chunk can tell. */
static void test_default_one_chunk_per_rank(void **state) {
  (void)state;
  const run_spec by_rank = {"resnet8", NULL, 0, 2, 16};
  const run_spec two = {"resnet8", NULL, 2, 2, 16};
  const run_spec one = {"resnet8", NULL, 1, 2, 16};
  size_t na, nb, nc;
  double la, lb, lc;
  float *a = train_on(&by_rank, 2, &na, &la);
  float *b = train_on(&two, 1, &nb, &lb);
  float *c = train_on(&one, 1, &nc, &lc);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na * sizeof *a);
  assert_true(memcmp(a, c, na * sizeof *a) != 0);
  free(a);
  free(b);
  free(c);
}

/* Which samples a rank takes, and the batches that do not split. */
static void test_shard(void **state) {
  (void)state;
  tq_context *ctx;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  tq_graph *g = NULL;
  tq_trainer *t = NULL;
  assert_int_equal(tq_model_build(ctx, "lenet", 1, &g), TQ_OK);
  assert_int_equal(tq_trainer_create(ctx, g, NULL, &t), TQ_OK);
  size_t first, count, chunk;
  /* alone: the whole batch, one chunk */
  assert_int_equal(tq_trainer_shard(ctx, t, 47, &first, &count, &chunk), TQ_OK);
  assert_true(first == 0 && count == 47 && chunk == 47);
  /* 7 chunks of 6 on 3 ranks: 3 + 2 + 2 chunks */
  tq_comm comm = {.rank = 0, .size = 3};
  tq_trainer_set_comm(t, &comm);
  assert_int_equal(tq_trainer_set_chunks(ctx, t, 7), TQ_OK);
  const size_t want_first[3] = {0, 18, 30}, want_count[3] = {18, 12, 12};
  for (int r = 0; r < 3; r++) {
    comm.rank = r;
    assert_int_equal(tq_trainer_shard(ctx, t, 42, &first, &count, &chunk),
                     TQ_OK);
    assert_int_equal(first, want_first[r]);
    assert_int_equal(count, want_count[r]);
    assert_int_equal(chunk, 6);
  }
  assert_int_equal(tq_trainer_shard(ctx, t, 43, &first, &count, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx), "7 equal chunks"));
  assert_int_equal(tq_trainer_shard(ctx, t, 2, &first, &count, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx), "smaller than the 3"));
  assert_int_equal(tq_trainer_set_chunks(ctx, t, 2), TQ_OK);
  assert_int_equal(tq_trainer_shard(ctx, t, 42, &first, &count, NULL),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(tq_context_last_error(ctx), "fewer than the 3"));
  assert_int_equal(tq_trainer_set_chunks(ctx, t, -1), TQ_ERR_INVALID_ARGUMENT);
  /* a step whose input is not the rank's whole chunks */
  tq_trainer_set_comm(t, NULL);
  assert_int_equal(tq_trainer_set_chunks(ctx, t, 4), TQ_OK);
  tq_shape s = {.ndim = 4, .dims = {6, 1, 28, 28}};
  tq_tensor *x = NULL;
  assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &s, &x), TQ_OK);
  int64_t labels[6] = {0};
  tq_step_result r;
  assert_int_equal(tq_trainer_step(ctx, t, x, labels, 0, &r), TQ_ERR_SHAPE);
  assert_non_null(strstr(tq_context_last_error(ctx), "4 chunks"));
  tq_tensor_destroy(x);
  tq_trainer_destroy(t);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shard),
      cmocka_unit_test(test_same_bits_on_any_rank_count),
      cmocka_unit_test(test_default_one_chunk_per_rank),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
