/* The model zoo (models.h): LeNet exactly as the seed's example, and a
 * small residual network with BatchNormalization for 28x28 inputs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tensorquant/models.h"
#include "tensorquant/quantizer.h"
#include "tensorquant/tensor.h"

/* Fashion-MNIST training-set pixel statistics (of pixel / 255). */
#define FMNIST_MEAN 0.2860f
#define FMNIST_STD 0.3530f

/* What the builders share: the graph, the seed and a counter that gives
 * every parameter its own random stream. */
typedef struct builder {
  tq_context *ctx;
  tq_graph *g;
  uint64_t seed, stream;
  tq_status st;
  const char *prefix; /* of parameter names ("Block1."), or "" */
} builder;

static tq_shape shape_of(int nd, const int64_t *dims) {
  tq_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = nd;
  for (int d = 0; d < nd; d++) s.dims[d] = dims[d];
  return s;
}

/* An initializer: uniform in [-bound, bound] (bound 0: all `fill`). */
static void param(builder *b, const char *name, int nd, const int64_t *dims,
                  double bound, float fill) {
  if (b->st != TQ_OK) return;
  tq_shape s = shape_of(nd, dims);
  tq_tensor *t = NULL;
  if ((b->st = tq_tensor_create(b->ctx, TQ_DTYPE_FLOAT32, &s, &t))) return;
  float *p = tq_tensor_data(t);
  const uint64_t stream = b->stream++;
  for (size_t i = 0; i < tq_tensor_numel(t); i++)
    p[i] =
        bound > 0
            ? (float)((2.0 * tq_stochastic_u(b->seed, stream, i) - 1.0) * bound)
            : fill;
  b->st = tq_graph_add_initializer(b->ctx, b->g, name, t);
  tq_tensor_destroy(t);
}

static void node(builder *b, const char *op, const char *name,
                 const char *const *in, size_t n_in, const char *out,
                 const tq_attr *attrs, size_t n_attrs) {
  if (b->st != TQ_OK) return;
  b->st = tq_graph_add_node(b->ctx, b->g, op, name, in, n_in, &out, 1, attrs,
                            n_attrs);
}

static void scope(builder *b, const char *name) {
  if (b->st == TQ_OK) b->st = tq_graph_push_scope(b->ctx, b->g, name);
}

static void unscope(builder *b) {
  if (b->st == TQ_OK) b->st = tq_graph_pop_scope(b->ctx, b->g);
}

/* Conv k x k, `pad` on every side, stride s, named `name` (weights
 * name.weight, name.bias when bias). */
static void conv(builder *b, const char *name, const char *x, const char *y,
                 int64_t cin, int64_t cout, int64_t k, int64_t s, int64_t pad,
                 int bias) {
  char w[128], bn[128];
  snprintf(w, sizeof w, "%s%s.weight", b->prefix, name);
  snprintf(bn, sizeof bn, "%s%s.bias", b->prefix, name);
  const int64_t wd[] = {cout, cin, k, k};
  param(b, w, 4, wd, sqrt(6.0 / (double)(cin * k * k)), 0.0f);
  if (bias) param(b, bn, 1, &cout, 0.0, 0.0f);
  const int64_t ks[] = {k, k}, st[] = {s, s}, pads[] = {pad, pad, pad, pad};
  const tq_attr attrs[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = ks, .count = 2},
      {.name = "strides", .type = TQ_ATTR_INTS, .ints = st, .count = 2},
      {.name = "pads", .type = TQ_ATTR_INTS, .ints = pads, .count = 4},
  };
  const char *in[] = {x, w, bn};
  node(b, "Conv", name, in, bias ? 3 : 2, y, attrs, 3);
}

/* Dense: Gemm with W [out, in] (transB = 1, as PyTorch's Linear). */
static void dense(builder *b, const char *name, const char *x, const char *y,
                  int64_t in_f, int64_t out_f, int relu_init) {
  char w[128], bn[128];
  snprintf(w, sizeof w, "%s%s.weight", b->prefix, name);
  snprintf(bn, sizeof bn, "%s%s.bias", b->prefix, name);
  const int64_t wd[] = {out_f, in_f};
  param(b, w, 2, wd, sqrt((relu_init ? 6.0 : 3.0) / (double)in_f), 0.0f);
  param(b, bn, 1, &out_f, 0.0, 0.0f);
  const tq_attr attrs[] = {{.name = "transB", .type = TQ_ATTR_INT, .i = 1}};
  const char *in[] = {x, w, bn};
  node(b, "Gemm", name, in, 3, y, attrs, 1);
}

static void unary(builder *b, const char *op, const char *name, const char *x,
                  const char *y) {
  node(b, op, name, &x, 1, y, NULL, 0);
}

static void maxpool2(builder *b, const char *name, const char *x,
                     const char *y) {
  const int64_t k[] = {2, 2};
  const tq_attr attrs[] = {
      {.name = "kernel_shape", .type = TQ_ATTR_INTS, .ints = k, .count = 2},
      {.name = "strides", .type = TQ_ATTR_INTS, .ints = k, .count = 2},
  };
  node(b, "MaxPool", name, &x, 1, y, attrs, 2);
}

static void batchnorm(builder *b, const char *name, const char *x,
                      const char *y, int64_t ch) {
  char n[4][128];
  static const char *const suffix[] = {"weight", "bias", "running_mean",
                                       "running_var"};
  for (int i = 0; i < 4; i++) {
    snprintf(n[i], sizeof n[i], "%s%s.%s", b->prefix, name, suffix[i]);
    param(b, n[i], 1, &ch, 0.0, i == 0 || i == 3 ? 1.0f : 0.0f);
  }
  const tq_attr attrs[] = {
      {.name = "epsilon", .type = TQ_ATTR_FLOAT, .f = 1e-5f},
      {.name = "momentum", .type = TQ_ATTR_FLOAT, .f = 0.9f},
  };
  const char *in[] = {x, n[0], n[1], n[2], n[3]};
  node(b, "BatchNormalization", name, in, 5, y, attrs, 2);
}

/* The input scaling every model starts with: (x - mean) / std. */
static void normalize(builder *b, const char *x, const char *y) {
  const int64_t one = 1;
  param(b, "input.mean", 1, &one, 0.0, FMNIST_MEAN);
  param(b, "input.inv_std", 1, &one, 0.0, 1.0f / FMNIST_STD);
  scope(b, "Input");
  const char *sub_in[] = {x, "input.mean"};
  node(b, "Sub", "Center", sub_in, 2, "input_centered", NULL, 0);
  const char *mul_in[] = {"input_centered", "input.inv_std"};
  node(b, "Mul", "Scale", mul_in, 2, y, NULL, 0);
  unscope(b);
}

static void add_input(builder *b) {
  if (b->st != TQ_OK) return;
  const int64_t d[] = {-1, 1, 28, 28};
  tq_shape s = shape_of(4, d);
  b->st = tq_graph_add_input(b->ctx, b->g, "input", &s);
}

/* The seed's LeNet: Conv 20@5x5 same + ReLU, MaxPool 2, Conv 50@5x5 same
 * + ReLU, MaxPool 2, Dense 500 + ReLU, Dense 10 + softmax. Each layer's
 * activation is a node of its own inside the layer's name ("Conv1/Relu"),
 * so a map key "Conv1" covers the layer's output as in the original. */
static void build_lenet(builder *b) {
  add_input(b);
  normalize(b, "input", "x");
  scope(b, "LeNet");
  scope(b, "Convolution_Block");
  conv(b, "Conv1", "x", "conv1", 1, 20, 5, 1, 2, 1);
  unary(b, "Relu", "Conv1/Relu", "conv1", "conv1_relu");
  maxpool2(b, "MaxPool1", "conv1_relu", "pool1");
  conv(b, "Conv2", "pool1", "conv2", 20, 50, 5, 1, 2, 1);
  unary(b, "Relu", "Conv2/Relu", "conv2", "conv2_relu");
  maxpool2(b, "MaxPool2", "conv2_relu", "pool2");
  unscope(b);
  scope(b, "Dense_Block");
  unary(b, "Flatten", "Flatten", "pool2", "flat");
  dense(b, "Dense3", "flat", "dense3", 50 * 7 * 7, 500, 1);
  unary(b, "Relu", "Dense3/Relu", "dense3", "dense3_relu");
  dense(b, "Dense4", "dense3_relu", "logits", 500, 10, 0);
  unary(b, "Softmax", "Dense4/Softmax", "logits", "probabilities");
  unscope(b);
  unscope(b);
  if (b->st == TQ_OK)
    b->st = tq_graph_add_output(b->ctx, b->g, "probabilities");
}

/* A basic residual block: conv3x3-BN-ReLU-conv3x3-BN plus the shortcut
 * (1x1 conv + BN when the shape changes), added, then ReLU. */
static void basic_block(builder *b, const char *name, const char *x,
                        const char *y, int64_t cin, int64_t cout,
                        int64_t stride) {
  char v[6][160];
  for (int i = 0; i < 6; i++) snprintf(v[i], sizeof v[i], "%s_v%d", name, i);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "%s.", name);
  b->prefix = prefix;
  scope(b, name);
  conv(b, "Conv1", x, v[0], cin, cout, 3, stride, 1, 0);
  batchnorm(b, "BN1", v[0], v[1], cout);
  unary(b, "Relu", "Relu1", v[1], v[2]);
  conv(b, "Conv2", v[2], v[3], cout, cout, 3, 1, 1, 0);
  batchnorm(b, "BN2", v[3], v[4], cout);
  const char *shortcut = x;
  char sc[160], scb[160];
  if (stride != 1 || cin != cout) {
    snprintf(sc, sizeof sc, "%s_sc", name);
    snprintf(scb, sizeof scb, "%s_scbn", name);
    conv(b, "Shortcut", x, sc, cin, cout, 1, stride, 0, 0);
    batchnorm(b, "ShortcutBN", sc, scb, cout);
    shortcut = scb;
  }
  const char *add_in[] = {v[4], shortcut};
  node(b, "Add", "Add", add_in, 2, v[5], NULL, 0);
  unary(b, "Relu", "Relu2", v[5], y);
  unscope(b);
  b->prefix = "";
}

/* ResNet-8 for 28x28: stem conv3x3 16 + BN + ReLU, three basic blocks
 * (16, 32 stride 2, 64 stride 2), global average pool, Dense 10. */
static void build_resnet8(builder *b) {
  add_input(b);
  normalize(b, "input", "x");
  scope(b, "ResNet8");
  scope(b, "Stem");
  b->prefix = "Stem.";
  conv(b, "Conv", "x", "stem_conv", 1, 16, 3, 1, 1, 0);
  batchnorm(b, "BN", "stem_conv", "stem_bn", 16);
  unary(b, "Relu", "Relu", "stem_bn", "stem");
  b->prefix = "";
  unscope(b);
  basic_block(b, "Block1", "stem", "block1", 16, 16, 1);
  basic_block(b, "Block2", "block1", "block2", 16, 32, 2);
  basic_block(b, "Block3", "block2", "block3", 32, 64, 2);
  scope(b, "Head");
  unary(b, "GlobalAveragePool", "Pool", "block3", "pooled");
  unary(b, "Flatten", "Flatten", "pooled", "features");
  b->prefix = "Head.";
  dense(b, "Dense", "features", "logits", 64, 10, 0);
  b->prefix = "";
  unary(b, "Softmax", "Dense/Softmax", "logits", "probabilities");
  unscope(b);
  unscope(b);
  if (b->st == TQ_OK)
    b->st = tq_graph_add_output(b->ctx, b->g, "probabilities");
}

typedef struct zoo_entry {
  const char *name, *description;
  void (*build)(builder *b);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"lenet",
     "the seed's LeNet: 2 conv (20, 50 @5x5) + 2 dense (500, 10), 431k "
     "parameters",
     build_lenet},
    {"resnet8",
     "residual net: stem + 3 basic blocks (16, 32, 64) with BatchNorm, 78k "
     "parameters",
     build_resnet8},
};
enum { ZOO_COUNT = sizeof zoo / sizeof zoo[0] };

size_t tq_model_count(void) {
  return ZOO_COUNT;
}
const char *tq_model_name(size_t i) {
  return i < ZOO_COUNT ? zoo[i].name : NULL;
}
const char *tq_model_description(size_t i) {
  return i < ZOO_COUNT ? zoo[i].description : NULL;
}

tq_status tq_model_build(tq_context *ctx, const char *name, uint64_t seed,
                         tq_graph **out) {
  if (!name || !out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_model_build: NULL argument");
  *out = NULL;
  const zoo_entry *e = NULL;
  for (size_t i = 0; i < ZOO_COUNT; i++)
    if (!strcmp(zoo[i].name, name)) e = &zoo[i];
  if (!e) {
    char list[256] = "";
    for (size_t i = 0; i < ZOO_COUNT; i++) {
      strncat(list, zoo[i].name, sizeof list - strlen(list) - 1);
      if (i + 1 < ZOO_COUNT)
        strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                    "unknown model '%s' (the zoo has: %s)", name, list);
  }
  builder b = {
      .ctx = ctx, .seed = seed, .stream = 0, .st = TQ_OK, .prefix = ""};
  if ((b.st = tq_graph_create(ctx, &b.g))) return b.st;
  e->build(&b);
  if (b.st == TQ_OK) b.st = tq_graph_validate(ctx, b.g);
  if (b.st != TQ_OK) {
    tq_graph_destroy(b.g);
    return b.st;
  }
  *out = b.g;
  return TQ_OK;
}
