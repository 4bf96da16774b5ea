/* The seed's LeNet example, in C: build LeNet with the builder API, set
 * the same quantizer maps as TensorQuant's README example, train one epoch
 * on Fashion-MNIST and evaluate on the test set.
 *
 *   example_lenet [--data fashion-mnist] [--limit N] [--test-limit N]
 *
 * --limit trains on the first N training images (default: all 60000);
 * --test-limit evaluates the first N test images (default: all 10000).
 * Exits 77 (skipped) when the dataset is not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorquant/tensorquant.h"

/* The maps of the seed's example: quantized Conv1 activations, quantized
 * Conv1 and Dense3 weights. */
static const char extrinsic_map[] = "{\"Conv1\": \"nearest,12,11\"}";
static const char weights_map[] =
    "{\"Conv1\": \"nearest,32,16\", \"Dense3\": \"nearest,32,16\"}";

#define CHECK(call)                                            \
  do {                                                         \
    tq_status st_ = (call);                                    \
    if (st_ != TQ_OK) {                                        \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__,   \
              tq_status_str(st_), tq_context_last_error(ctx)); \
      goto cleanup;                                            \
    }                                                          \
  } while (0)

/* Adds an initializer of shape dims drawn uniformly from [-bound, bound]
 * (a small LCG is enough for an example; the library's zoo uses Philox). */
static tq_status add_param(tq_context *ctx, tq_graph *g, const char *name,
                           int ndim, const int64_t *dims, double bound,
                           uint64_t *rng) {
  tq_shape s = {.ndim = ndim};
  for (int d = 0; d < ndim; d++) s.dims[d] = dims[d];
  tq_tensor *t = NULL;
  tq_status st = tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &s, &t);
  if (st != TQ_OK) return st;
  float *p = tq_tensor_data(t);
  for (size_t i = 0; i < tq_tensor_numel(t); i++) {
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = (double)(*rng >> 11) * 0x1p-53;
    p[i] = (float)((2.0 * u - 1.0) * bound);
  }
  st = tq_graph_add_initializer(ctx, g, name, t);
  tq_tensor_destroy(t);
  return st;
}

/* One layer: a Conv or Gemm node called name, with its weight and bias,
 * optionally followed by an activation node "<name>/<act>". */
static tq_status layer(tq_context *ctx, tq_graph *g, const char *op,
                       const char *name, const char *x, const char *y,
                       const int64_t *wdims, int wrank, const tq_attr *attrs,
                       size_t n_attrs, const char *act, uint64_t *rng) {
  char w[64], b[64], pre[64], act_name[64];
  snprintf(w, sizeof w, "%s.weight", name);
  snprintf(b, sizeof b, "%s.bias", name);
  snprintf(pre, sizeof pre, "%s_out", name);
  int64_t fan_in = 1;
  for (int d = 1; d < wrank; d++) fan_in *= wdims[d];
  tq_status st = add_param(ctx, g, w, wrank, wdims, sqrt(6.0 / fan_in), rng);
  if (st == TQ_OK) st = add_param(ctx, g, b, 1, wdims, 0.0, rng);
  const char *in[] = {x, w, b};
  const char *out = act ? pre : y;
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, g, op, name, in, 3, &out, 1, attrs, n_attrs);
  if (st == TQ_OK && act) {
    snprintf(act_name, sizeof act_name, "%s/%s", name, act);
    st = tq_graph_add_node(ctx, g, act, act_name, &out, 1, &y, 1, NULL, 0);
  }
  return st;
}

static tq_status build_lenet(tq_context *ctx, tq_graph **out) {
  tq_graph *g = NULL;
  uint64_t rng = 42;
  tq_status st = tq_graph_create(ctx, &g);
  const int64_t in_dims[] = {-1, 1, 28, 28};
  tq_shape in_shape = {.ndim = 4};
  memcpy(in_shape.dims, in_dims, sizeof in_dims);
  const int64_t k5[] = {5, 5}, p2[] = {2, 2, 2, 2}, k2[] = {2, 2};
  const tq_attr conv_attrs[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k5, .count = 2},
      {.name = "pads", .type = TQ_ATTR_INTS, .ints = p2, .count = 4}};
  const tq_attr pool_attrs[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k2, .count = 2},
      {.name = "strides", .type = TQ_ATTR_INTS, .ints = k2, .count = 2}};
  const tq_attr dense_attrs[] = {
      {.name = "transB", .type = TQ_ATTR_INT, .i = 1}};
  const int64_t w1[] = {20, 1, 5, 5}, w2[] = {50, 20, 5, 5};
  const int64_t w3[] = {500, 2450}, w4[] = {10, 500};
  const char *pool1 = "pool1", *pool2 = "pool2", *flat = "flat";
  const char *probs = "probabilities", *relu1 = "conv1", *relu2 = "conv2";
  const char *logits = "logits";
  if (st == TQ_OK) st = tq_graph_add_input(ctx, g, "input", &in_shape);
  if (st == TQ_OK) st = tq_graph_push_scope(ctx, g, "LeNet");
  if (st == TQ_OK) st = tq_graph_push_scope(ctx, g, "Convolution_Block");
  if (st == TQ_OK)
    st = layer(ctx, g, "Conv", "Conv1", "input", relu1, w1, 4, conv_attrs, 2,
               "Relu", &rng);
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, g, "MaxPool", "MaxPool1", &relu1, 1, &pool1, 1,
                           pool_attrs, 2);
  if (st == TQ_OK)
    st = layer(ctx, g, "Conv", "Conv2", pool1, relu2, w2, 4, conv_attrs, 2,
               "Relu", &rng);
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, g, "MaxPool", "MaxPool2", &relu2, 1, &pool2, 1,
                           pool_attrs, 2);
  if (st == TQ_OK) st = tq_graph_pop_scope(ctx, g);
  if (st == TQ_OK) st = tq_graph_push_scope(ctx, g, "Dense_Block");
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, g, "Flatten", "Flatten", &pool2, 1, &flat, 1,
                           NULL, 0);
  if (st == TQ_OK)
    st = layer(ctx, g, "Gemm", "Dense3", flat, "dense3", w3, 2, dense_attrs, 1,
               "Relu", &rng);
  if (st == TQ_OK)
    st = layer(ctx, g, "Gemm", "Dense4", "dense3", logits, w4, 2, dense_attrs,
               1, NULL, &rng);
  if (st == TQ_OK)
    st = tq_graph_add_node(ctx, g, "Softmax", "Dense4/Softmax", &logits, 1,
                           &probs, 1, NULL, 0);
  if (st == TQ_OK) st = tq_graph_pop_scope(ctx, g);
  if (st == TQ_OK) st = tq_graph_pop_scope(ctx, g);
  if (st == TQ_OK) st = tq_graph_add_output(ctx, g, probs);
  if (st != TQ_OK) {
    tq_graph_destroy(g);
    return st;
  }
  *out = g;
  return TQ_OK;
}

int main(int argc, char **argv) {
  const char *data = "fashion-mnist";
  long limit = 0, test_limit = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--data"))
      data = argv[i + 1];
    else if (!strcmp(argv[i], "--limit"))
      limit = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--test-limit"))
      test_limit = atol(argv[i + 1]);
  }
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return 1;
  int rc = 1;
  tq_graph *g = NULL;
  tq_trainer *tr = NULL;
  tq_session *s = NULL;
  tq_qmap_set *maps = NULL;
  tq_qmap *extr = NULL, *weights = NULL;
  tq_dataset *train = NULL, *test = NULL;
  tq_tensor *x = NULL;
  int64_t labels[64];
  size_t idx[64], *order = NULL;

  /* The library reads no environment: an application passes the
   * directory itself, here as the tq tool does. */
  const tq_dataset_dirs dirs = {.fashion_mnist = getenv("TQ_FASHION_MNIST_DIR"),
                                .fashion_mnist_from = "TQ_FASHION_MNIST_DIR"};
  if (tq_dataset_open_in(ctx, data, TQ_SPLIT_TRAIN, &dirs, &train) != TQ_OK) {
    fprintf(stderr, "skipped: %s\n", tq_context_last_error(ctx));
    rc = 77;
    goto cleanup;
  }
  CHECK(tq_dataset_open_in(ctx, data, TQ_SPLIT_TEST, &dirs, &test));
  CHECK(build_lenet(ctx, &g));

  /* The maps, as the seed's example sets them. */
  CHECK(tq_qmap_parse_json(ctx, extrinsic_map, strlen(extrinsic_map),
                           "extrinsic map", TQ_MAP_EXTRINSIC, &extr));
  CHECK(tq_qmap_parse_json(ctx, weights_map, strlen(weights_map), "weights map",
                           TQ_MAP_WEIGHTS, &weights));
  CHECK(tq_qmap_set_create(ctx, &maps));
  tq_qmap *put = extr;
  extr = NULL; /* the set owns it from here on, even on failure */
  CHECK(tq_qmap_set_put(ctx, maps, put));
  put = weights;
  weights = NULL;
  CHECK(tq_qmap_set_put(ctx, maps, put));

  /* One epoch of Adam, batch 64, in a seeded order. */
  tq_train_config cfg;
  tq_train_config_default(&cfg);
  CHECK(tq_trainer_create(ctx, g, &cfg, &tr));
  CHECK(tq_trainer_set_maps(ctx, tr, maps));
  size_t n = tq_dataset_size(train);
  if (limit > 0 && (size_t)limit < n) n = (size_t)limit;
  order = malloc(n * sizeof *order);
  if (!order) goto cleanup;
  for (size_t i = 0; i < n; i++) order[i] = i;
  tq_shuffle_indices(1, 0, order, n);
  const tq_shape batch_shape = tq_dataset_batch_shape(train, 64);
  CHECK(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &batch_shape, &x));
  double loss = 0.0;
  size_t correct = 0, seen = 0;
  for (size_t first = 0; first + 64 <= n; first += 64) {
    memcpy(idx, order + first, sizeof idx);
    CHECK(tq_dataset_gather(ctx, train, idx, 64, tq_tensor_data(x), labels));
    tq_step_result r;
    CHECK(tq_trainer_step(ctx, tr, x, labels, first, &r));
    loss += r.loss * (double)r.count;
    correct += r.correct;
    seen += r.count;
  }
  printf("trained 1 epoch on %zu images: loss %.4f, accuracy %.2f %%\n", seen,
         loss / (double)seen, 100.0 * (double)correct / (double)seen);

  /* Evaluate with the same maps (the trained weights quantized again). */
  CHECK(tq_session_create(ctx, g, &s));
  CHECK(tq_session_set_maps(ctx, s, maps));
  size_t nt = tq_dataset_size(test);
  if (test_limit > 0 && (size_t)test_limit < nt) nt = (size_t)test_limit;
  tq_eval_result er;
  CHECK(tq_evaluate(ctx, s, test, NULL, nt, 256, NULL, NULL, NULL, &er));
  printf("test: top-1 %.2f %%, top-5 %.2f %%, loss %.4f on %zu images\n",
         100.0 * er.top1, 100.0 * er.top5, er.loss, er.n);
  rc = 0;
cleanup:
  free(order);
  tq_tensor_destroy(x);
  tq_session_destroy(s);
  tq_trainer_destroy(tr);
  tq_qmap_destroy(extr);
  tq_qmap_destroy(weights);
  tq_qmap_set_destroy(maps);
  tq_graph_destroy(g);
  tq_dataset_destroy(train);
  tq_dataset_destroy(test);
  tq_context_destroy(ctx);
  return rc;
}
