/* Tests for ONNX import and export: graphs built with the API, saved and
 * loaded back; hand-encoded protobuf bytes for every error the loader
 * reports (and for inputs that must not crash it); and, when the CLI test
 * tests/cli/onnx_models.sh points TQ_ONNX_MODELS_DIR at models made with
 * the Python onnx package, those models against what onnx and ONNX Runtime
 * say about them. Also leaves models under TQ_TEST_TMP_DIR for that script
 * to run in ONNX Runtime. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/graph_internal.h"
#include "testutil.h"
#include "tensorquant/graph.h"
#include "tensorquant/onnx.h"
#include "tensorquant/session.h"
#include "tensorquant/tensor.h"

/* ---- helpers --------------------------------------------------------------*/

static tq_context *new_ctx(void) {
  tq_context *ctx = NULL;
  assert_int_equal(tq_context_create(&ctx), TQ_OK);
  return ctx;
}

static void expect_ok(tq_context *ctx, tq_status st) {
  if (st != TQ_OK)
    fail_msg("expected success, got %s: %s", tq_status_str(st),
             tq_context_last_error(ctx));
}

/* st must be want and the message must contain every phrase (NULL ends). */
static void expect_error(tq_context *ctx, tq_status st, tq_status want, ...) {
  const char *msg = tq_context_last_error(ctx);
  if (st != want)
    fail_msg("expected %s, got %s: %s", tq_status_str(want), tq_status_str(st),
             msg);
  va_list ap;
  va_start(ap, want);
  for (const char *p = va_arg(ap, const char *); p;
       p = va_arg(ap, const char *))
    if (!strstr(msg, p)) {
      va_end(ap);
      fail_msg("expected \"%s\" in the message: %s", p, msg);
    }
  va_end(ap);
}

static tq_tensor *float_tensor(tq_context *ctx, int ndim, const int64_t *dims,
                               const float *values) {
  tq_shape shape = {.ndim = ndim};
  for (int i = 0; i < ndim; i++) shape.dims[i] = dims[i];
  tq_tensor *t = NULL;
  expect_ok(ctx, tq_tensor_from_floats(ctx, &shape, values, &t));
  return t;
}

static tq_tensor *int_tensor(tq_context *ctx, int ndim, const int64_t *dims,
                             const int64_t *values) {
  tq_shape shape = {.ndim = ndim};
  for (int i = 0; i < ndim; i++) shape.dims[i] = dims[i];
  tq_tensor *t = NULL;
  expect_ok(ctx, tq_tensor_create(ctx, TQ_DTYPE_INT64, &shape, &t));
  memcpy(tq_tensor_data(t), values, tq_tensor_numel(t) * sizeof(int64_t));
  return t;
}

static void add_init(tq_context *ctx, tq_graph *g, const char *name,
                     tq_tensor *t) {
  expect_ok(ctx, tq_graph_add_initializer(ctx, g, name, t));
  tq_tensor_destroy(t);
}

/* Tensors equal bit for bit (dtype, shape, values). */
static void expect_same_tensor(const tq_tensor *a, const tq_tensor *b) {
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(tq_tensor_dtype(a), tq_tensor_dtype(b));
  const tq_shape *sa = tq_tensor_shape(a), *sb = tq_tensor_shape(b);
  assert_int_equal(sa->ndim, sb->ndim);
  for (int i = 0; i < sa->ndim; i++) assert_int_equal(sa->dims[i], sb->dims[i]);
  size_t bytes =
      tq_tensor_numel(a) * (tq_tensor_dtype(a) == TQ_DTYPE_FLOAT32 ? 4 : 8);
  assert_int_equal(tq_tensor_numel(a), tq_tensor_numel(b));
  assert_memory_equal(tq_tensor_cdata(a), tq_tensor_cdata(b), bytes);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  size_t cap = 1 << 16, n = 0;
  unsigned char *b = malloc(cap);
  assert_non_null(b);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      b = realloc(b, cap);
      assert_non_null(b);
    }
    size_t got = fread(b + n, 1, cap - n, fp);
    n += got;
    if (!got) break;
  }
  fclose(fp);
  *len = n;
  return b;
}

static void write_file(const char *path, const void *bytes, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(bytes, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

/* A graph as the tests build it: x [-1, 4] -> PRelu(slope) -> Mul(scale)
 * -> Relu (unnamed) -> y, with a scoped node and an int64 initializer. */
static tq_graph *small_graph(tq_context *ctx) {
  tq_graph *g = NULL;
  expect_ok(ctx, tq_graph_create(ctx, &g));
  tq_shape in = {.ndim = 2, .dims = {-1, 4}};
  expect_ok(ctx, tq_graph_add_input(ctx, g, "x", &in));
  const int64_t d4[] = {4}, d1[] = {1}, d2[] = {2};
  const float slope[] = {0.25f, -0.5f, 1e-30f, 3.0f};
  const float scale[] = {1.5f};
  const int64_t shape[] = {-1, 4};
  add_init(ctx, g, "act.slope", float_tensor(ctx, 1, d4, slope));
  add_init(ctx, g, "scale", float_tensor(ctx, 1, d1, scale));
  add_init(ctx, g, "target_shape", int_tensor(ctx, 1, d2, shape));
  const char *in1[] = {"x", "act.slope"}, *out1[] = {"a"};
  expect_ok(ctx, tq_graph_push_scope(ctx, g, "Block"));
  expect_ok(
      ctx, tq_graph_add_node(ctx, g, "PRelu", "act", in1, 2, out1, 1, NULL, 0));
  expect_ok(ctx, tq_graph_pop_scope(ctx, g));
  const char *in2[] = {"a", "scale"}, *out2[] = {"m"};
  expect_ok(ctx,
            tq_graph_add_node(ctx, g, "Mul", "mul", in2, 2, out2, 1, NULL, 0));
  const char *in3[] = {"m"}, *out3[] = {"y"};
  expect_ok(ctx,
            tq_graph_add_node(ctx, g, "Relu", "", in3, 1, out3, 1, NULL, 0));
  expect_ok(ctx, tq_graph_add_output(ctx, g, "y"));
  return g;
}

/* Same structure: nodes, values, initializers, inputs, outputs. */
static void expect_same_graph(const tq_graph *a, const tq_graph *b) {
  assert_int_equal(tq_graph_node_count(a), tq_graph_node_count(b));
  for (size_t i = 0; i < tq_graph_node_count(a); i++) {
    tq_node_info x, y;
    assert_int_equal(tq_graph_node_info(a, i, &x), TQ_OK);
    assert_int_equal(tq_graph_node_info(b, i, &y), TQ_OK);
    assert_string_equal(x.id, y.id);
    assert_string_equal(x.op_type, y.op_type);
    assert_int_equal(x.n_inputs, y.n_inputs);
    assert_int_equal(x.n_outputs, y.n_outputs);
    for (size_t k = 0; k < x.n_inputs; k++)
      assert_string_equal(x.inputs[k], y.inputs[k]);
    for (size_t k = 0; k < x.n_outputs; k++)
      assert_string_equal(x.outputs[k], y.outputs[k]);
    assert_int_equal(x.n_weights, y.n_weights);
    for (size_t k = 0; k < x.n_weights; k++)
      assert_string_equal(x.weights[k], y.weights[k]);
  }
  assert_int_equal(tq_graph_initializer_count(a),
                   tq_graph_initializer_count(b));
  for (size_t i = 0; i < tq_graph_initializer_count(a); i++) {
    const char *name = tq_graph_initializer_name(a, i);
    expect_same_tensor(tq_graph_initializer(a, name),
                       tq_graph_initializer(b, name));
  }
  assert_int_equal(tq_graph_input_count(a), tq_graph_input_count(b));
  for (size_t i = 0; i < tq_graph_input_count(a); i++) {
    assert_string_equal(tq_graph_input_name(a, i), tq_graph_input_name(b, i));
    const tq_shape *sa = tq_graph_input_shape(a, i);
    const tq_shape *sb = tq_graph_input_shape(b, i);
    assert_int_equal(sa->ndim, sb->ndim);
    for (int d = 0; d < sa->ndim; d++)
      assert_int_equal(sa->dims[d], sb->dims[d]);
  }
  assert_int_equal(tq_graph_output_count(a), tq_graph_output_count(b));
  for (size_t i = 0; i < tq_graph_output_count(a); i++)
    assert_string_equal(tq_graph_output_name(a, i), tq_graph_output_name(b, i));
}

/* ---- a minimal protobuf encoder for hand-made models ----------------------*/

typedef struct pb {
  unsigned char *b;
  size_t n, cap;
} pb;

static void pb_raw(pb *p, const void *d, size_t n) {
  if (p->n + n > p->cap) {
    p->cap = (p->n + n) * 2 + 64;
    p->b = realloc(p->b, p->cap);
    assert_non_null(p->b);
  }
  if (n) memcpy(p->b + p->n, d, n);
  p->n += n;
}

static void pb_varint(pb *p, uint64_t v) {
  unsigned char buf[10];
  size_t k = 0;
  do {
    buf[k++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  pb_raw(p, buf, k);
}

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void pb_tag(pb *p, unsigned field, unsigned wt) {
  pb_varint(p, (uint64_t)field << 3 | wt);
}

static void pb_int(pb *p, unsigned field, int64_t v) {
  pb_tag(p, field, WT_VARINT);
  pb_varint(p, (uint64_t)v);
}

static void pb_bytes(pb *p, unsigned field, const void *d, size_t n) {
  pb_tag(p, field, WT_LEN);
  pb_varint(p, n);
  pb_raw(p, d, n);
}

static void pb_str(pb *p, unsigned field, const char *s) {
  pb_bytes(p, field, s, strlen(s));
}

/* Embeds sub as field and frees it. */
static void pb_msg(pb *p, unsigned field, pb *sub) {
  pb_bytes(p, field, sub->b, sub->n);
  free(sub->b);
  memset(sub, 0, sizeof *sub);
}

static void pb_float(pb *p, unsigned field, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                        (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
  pb_tag(p, field, WT_I32);
  pb_raw(p, b, 4);
}

/* ONNX field numbers (onnx.proto). */
enum {
  MODEL_IR_VERSION = 1,
  MODEL_GRAPH = 7,
  MODEL_OPSET_IMPORT = 8,
  OPSET_DOMAIN = 1,
  OPSET_VERSION = 2,
  GRAPH_NODE = 1,
  GRAPH_NAME = 2,
  GRAPH_INITIALIZER = 5,
  GRAPH_INPUT = 11,
  GRAPH_OUTPUT = 12,
  NODE_INPUT = 1,
  NODE_OUTPUT = 2,
  NODE_NAME = 3,
  NODE_OP_TYPE = 4,
  NODE_ATTRIBUTE = 5,
  NODE_DOMAIN = 7,
  ATTR_NAME = 1,
  ATTR_F = 2,
  ATTR_I = 3,
  ATTR_S = 4,
  ATTR_T = 5,
  ATTR_G = 6,
  ATTR_FLOATS = 7,
  ATTR_INTS = 8,
  ATTR_TYPE = 20,
  TENSOR_DIMS = 1,
  TENSOR_DATA_TYPE = 2,
  TENSOR_FLOAT_DATA = 4,
  TENSOR_INT32_DATA = 5,
  TENSOR_INT64_DATA = 7,
  TENSOR_NAME = 8,
  TENSOR_RAW_DATA = 9,
  TENSOR_DOUBLE_DATA = 10,
  TENSOR_EXTERNAL_DATA = 13,
  TENSOR_DATA_LOCATION = 14,
  ENTRY_KEY = 1,
  ENTRY_VALUE = 2,
  VI_NAME = 1,
  VI_TYPE = 2,
  TYPE_TENSOR = 1,
  TT_ELEM_TYPE = 1,
  TT_SHAPE = 2,
  SHAPE_DIM = 1,
  DIM_VALUE = 1,
  DIM_PARAM = 2,
};

enum {
  T_FLOAT = 1,
  T_UINT8 = 2,
  T_INT8 = 3,
  T_UINT16 = 4,
  T_INT32 = 6,
  T_INT64 = 7,
  T_STRING = 8,
  T_BOOL = 9,
  T_FLOAT16 = 10,
  T_DOUBLE = 11
};

/* A tensor header: name (may be NULL), type, dims. */
static pb tensor_head(const char *name, int type, size_t nd,
                      const int64_t *dims) {
  pb t = {0};
  for (size_t i = 0; i < nd; i++) pb_int(&t, TENSOR_DIMS, dims[i]);
  pb_int(&t, TENSOR_DATA_TYPE, type);
  if (name) pb_str(&t, TENSOR_NAME, name);
  return t;
}

static void add_raw_float_init(pb *g, const char *name, size_t nd,
                               const int64_t *dims, const float *v, size_t n) {
  pb t = tensor_head(name, T_FLOAT, nd, dims);
  pb_bytes(&t, TENSOR_RAW_DATA, v, n * 4); /* little-endian host */
  pb_msg(g, GRAPH_INITIALIZER, &t);
}

/* A node; attrs (may be NULL) holds encoded AttributeProto messages
 * already wrapped as field NODE_ATTRIBUTE. */
static void add_node(pb *g, const char *op, const char *name,
                     const char *const *ins, size_t ni, const char *const *outs,
                     size_t no, pb *attrs) {
  pb n = {0};
  for (size_t i = 0; i < ni; i++) pb_str(&n, NODE_INPUT, ins[i]);
  for (size_t i = 0; i < no; i++) pb_str(&n, NODE_OUTPUT, outs[i]);
  if (name) pb_str(&n, NODE_NAME, name);
  pb_str(&n, NODE_OP_TYPE, op);
  if (attrs && attrs->n) pb_raw(&n, attrs->b, attrs->n);
  if (attrs) {
    free(attrs->b);
    memset(attrs, 0, sizeof *attrs);
  }
  pb_msg(g, GRAPH_NODE, &n);
}

/* A value info: dims >= 0 are dim_value, -1 a dim_param "N", -2 an empty
 * dimension; nd < 0: no shape. */
static void add_value_info(pb *g, unsigned field, const char *name, int elem,
                           int nd, const int64_t *dims) {
  pb tt = {0}, shape = {0}, ty = {0}, vi = {0};
  pb_int(&tt, TT_ELEM_TYPE, elem);
  if (nd >= 0) {
    for (int i = 0; i < nd; i++) {
      pb d = {0};
      if (dims[i] >= 0) pb_int(&d, DIM_VALUE, dims[i]);
      if (dims[i] == -1) pb_str(&d, DIM_PARAM, "N");
      pb_msg(&shape, SHAPE_DIM, &d);
    }
    pb_msg(&tt, TT_SHAPE, &shape);
  }
  pb_msg(&ty, TYPE_TENSOR, &tt);
  pb_str(&vi, VI_NAME, name);
  pb_msg(&vi, VI_TYPE, &ty);
  pb_msg(g, field, &vi);
}

/* Wraps a graph into a model (frees graph); returns the bytes. */
static unsigned char *make_model(pb *graph, int64_t ir, int64_t opset,
                                 size_t *len) {
  pb m = {0}, op = {0};
  if (ir >= 0) pb_int(&m, MODEL_IR_VERSION, ir);
  if (opset >= 0) {
    pb_str(&op, OPSET_DOMAIN, "");
    pb_int(&op, OPSET_VERSION, opset);
    pb_msg(&m, MODEL_OPSET_IMPORT, &op);
  }
  if (graph) {
    pb_str(graph, GRAPH_NAME, "g");
    pb_msg(&m, MODEL_GRAPH, graph);
  }
  *len = m.n;
  return m.b;
}

/* The standard body: input x [N, 2], y = Relu(x), output y. */
static pb relu_graph(void) {
  pb g = {0};
  const int64_t dims[] = {-1, 2};
  add_value_info(&g, GRAPH_INPUT, "x", T_FLOAT, 2, dims);
  add_value_info(&g, GRAPH_OUTPUT, "y", T_FLOAT, -1, NULL);
  const char *in[] = {"x"}, *out[] = {"y"};
  add_node(&g, "Relu", "relu", in, 1, out, 1, NULL);
  return g;
}

/* Parses bytes; returns the status, leaving the graph in *g (or NULL). */
static tq_status parse(tq_context *ctx, const unsigned char *b, size_t n,
                       tq_graph **g) {
  *g = NULL;
  tq_status st = tq_onnx_parse(ctx, b, n, "model.onnx", g);
  if (st != TQ_OK) assert_null(*g);
  return st;
}

/* Parses a model and expects an error with the given phrases; frees b. */
#define EXPECT_PARSE_ERROR(ctx, b, n, status, ...)              \
  do {                                                          \
    tq_graph *g_ = NULL;                                        \
    tq_status st_ = parse(ctx, b, n, &g_);                      \
    expect_error(ctx, st_, status, "model.onnx: ", __VA_ARGS__, \
                 (const char *)NULL);                           \
    free(b);                                                    \
  } while (0)

/* ---- export and import round trips ----------------------------------------*/

static void test_roundtrip_structure(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = small_graph(ctx);
  char *path = tq_test_tmp_path("onnx_roundtrip.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  tq_graph *h = NULL;
  expect_ok(ctx, tq_onnx_load(ctx, path, &h));
  expect_same_graph(g, h);
  /* IDs: scope path + name; an unnamed node takes its first output's. */
  tq_node_info info;
  assert_int_equal(tq_graph_node_info(h, 0, &info), TQ_OK);
  assert_string_equal(info.id, "Block/act");
  assert_int_equal(info.n_weights, 1);
  assert_string_equal(info.weights[0], "act.slope");
  assert_int_equal(tq_graph_node_info(h, 2, &info), TQ_OK);
  assert_string_equal(info.id, "y");
  /* The dynamic batch dim survives as a symbolic dim. */
  assert_int_equal(tq_graph_input_shape(h, 0)->dims[0], -1);
  tq_graph_destroy(h);

  /* Saving the loaded graph again gives the same bytes. */
  size_t n1 = 0, n2 = 0;
  unsigned char *b1 = slurp(path, &n1);
  assert_non_null(b1);
  expect_ok(ctx, tq_onnx_load(ctx, path, &h));
  expect_ok(ctx, tq_onnx_save(ctx, h, path));
  unsigned char *b2 = slurp(path, &n2);
  assert_non_null(b2);
  assert_int_equal(n1, n2);
  assert_memory_equal(b1, b2, n1);
  free(b1);
  free(b2);
  tq_graph_destroy(h);
  tq_graph_destroy(g);
  free(path);
  tq_context_destroy(ctx);
}

/* Typed inputs, initializers of every dtype and typed outputs survive a
 * save and a load; the saved file runs to the same values. */
static void test_roundtrip_typed(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = NULL;
  expect_ok(ctx, tq_graph_create(ctx, &g));
  const tq_shape ids_shape = {2, {-1, 3}};
  expect_ok(
      ctx, tq_graph_add_input_typed(ctx, g, "ids", TQ_DTYPE_INT64, &ids_shape));
  static const tq_dtype dts[] = {
      TQ_DTYPE_INT32,   TQ_DTYPE_INT8,    TQ_DTYPE_UINT8,   TQ_DTYPE_BOOL,
      TQ_DTYPE_FLOAT64, TQ_DTYPE_FLOAT16, TQ_DTYPE_BFLOAT16};
  for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
    const tq_shape s = {1, {2}};
    tq_tensor *t = NULL;
    expect_ok(ctx, tq_tensor_create(ctx, dts[k], &s, &t));
    /* Distinct bytes per dtype (a bool is 0 or 1). */
    memset(tq_tensor_data(t), dts[k] == TQ_DTYPE_BOOL ? 1 : (int)(k + 1),
           2 * tq_dtype_size(dts[k]));
    char name[32];
    snprintf(name, sizeof name, "c_%s", tq_dtype_name(dts[k]));
    expect_ok(ctx, tq_graph_add_initializer(ctx, g, name, t));
    tq_tensor_destroy(t);
  }
  const tq_shape zs = {0, {0}};
  tq_tensor *zero = NULL;
  expect_ok(ctx, tq_tensor_create(ctx, TQ_DTYPE_INT64, &zs, &zero));
  expect_ok(ctx, tq_graph_add_initializer(ctx, g, "zero", zero));
  tq_tensor_destroy(zero);
  const char *eq_in[] = {"ids", "zero"}, *eq_out[] = {"pad"};
  expect_ok(ctx, tq_graph_add_node(ctx, g, "Equal", "is_pad", eq_in, 2, eq_out,
                                   1, NULL, 0));
  const char *cs_out[] = {"pos"};
  const char *cs_in[] = {"ids"};
  const tq_attr to32 = {.name = "to", .type = TQ_ATTR_INT, .i = 6};
  expect_ok(ctx, tq_graph_add_node(ctx, g, "Cast", "narrow", cs_in, 1, cs_out,
                                   1, &to32, 1));
  expect_ok(ctx, tq_graph_add_output(ctx, g, "pad"));
  expect_ok(ctx, tq_graph_add_output(ctx, g, "pos"));
  char *path = tq_test_tmp_path("onnx_ort_typed.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  tq_graph *h = NULL;
  expect_ok(ctx, tq_onnx_load(ctx, path, &h));
  assert_int_equal(tq_graph_input_dtype(h, 0), TQ_DTYPE_INT64);
  assert_int_equal(tq_graph_input_shape(h, 0)->dims[1], 3);
  for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
    char name[32];
    snprintf(name, sizeof name, "c_%s", tq_dtype_name(dts[k]));
    const tq_tensor *a = tq_graph_initializer(g, name),
                    *b = tq_graph_initializer(h, name);
    assert_non_null(b);
    assert_int_equal(tq_tensor_dtype(b), dts[k]);
    assert_memory_equal(tq_tensor_cdata(a), tq_tensor_cdata(b),
                        2 * tq_dtype_size(dts[k]));
  }
  /* It runs, giving a bool and an int32 output. */
  tq_session *s = NULL;
  expect_ok(ctx, tq_session_create(ctx, h, &s));
  const tq_shape rs = {2, {1, 3}};
  tq_tensor *ids = NULL;
  expect_ok(ctx, tq_tensor_create(ctx, TQ_DTYPE_INT64, &rs, &ids));
  const int64_t iv[3] = {0, 7, 0};
  memcpy(tq_tensor_data(ids), iv, sizeof iv);
  tq_tensor *out[2] = {NULL, NULL};
  const tq_tensor *in[1] = {ids};
  expect_ok(ctx,
            tq_session_run_named(ctx, s, NULL, in, 1,
                                 (const char *[]){"pos", "pad"}, out, 2, NULL));
  assert_int_equal(tq_tensor_dtype(out[1]), TQ_DTYPE_BOOL);
  const uint8_t *pv = tq_tensor_cdata(out[1]);
  assert_true(pv[0] == 1 && pv[1] == 0 && pv[2] == 1);
  assert_int_equal(tq_tensor_dtype(out[0]), TQ_DTYPE_INT32);
  assert_int_equal(((const int32_t *)tq_tensor_cdata(out[0]))[1], 7);
  tq_tensor_destroy(out[0]);
  tq_tensor_destroy(out[1]);
  tq_tensor_destroy(ids);
  tq_session_destroy(s);
  tq_graph_destroy(h);
  tq_graph_destroy(g);
  free(path);
  tq_context_destroy(ctx);
}

static void test_roundtrip_attributes(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = NULL;
  expect_ok(ctx, tq_graph_create(ctx, &g));
  tq_shape in = {.ndim = 4, .dims = {-1, 3, -1, 7}};
  expect_ok(ctx, tq_graph_add_input(ctx, g, "img", &in));
  const int64_t ints[] = {1, -2, INT64_MAX, INT64_MIN};
  const float floats[] = {0.5f, -0.0f, INFINITY};
  const int64_t d2[] = {2};
  const float tv[] = {1.25f, -7.0f};
  tq_tensor *tens = float_tensor(ctx, 1, d2, tv);
  tq_attr attrs[] = {
      {.name = "i", .type = TQ_ATTR_INT, .i = -42},
      {.name = "f", .type = TQ_ATTR_FLOAT, .f = 0.1f},
      {.name = "s", .type = TQ_ATTR_STRING, .s = "NOTSET"},
      {.name = "empty", .type = TQ_ATTR_STRING, .s = ""},
      {.name = "is", .type = TQ_ATTR_INTS, .ints = ints, .count = 4},
      {.name = "fs", .type = TQ_ATTR_FLOATS, .floats = floats, .count = 3},
      {.name = "none", .type = TQ_ATTR_INTS, .ints = NULL, .count = 0},
      {.name = "t", .type = TQ_ATTR_TENSOR, .t = tens},
  };
  const size_t n_attrs = sizeof attrs / sizeof attrs[0];
  const char *ins[] = {"img"}, *outs[] = {"out"};
  expect_ok(ctx, tq_graph_add_node(ctx, g, "Relu", "r", ins, 1, outs, 1, attrs,
                                   n_attrs));
  tq_tensor_destroy(tens);
  expect_ok(ctx, tq_graph_add_output(ctx, g, "out"));
  char *path = tq_test_tmp_path("onnx_attrs.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  tq_graph *h = NULL;
  expect_ok(ctx, tq_onnx_load(ctx, path, &h));
  expect_same_graph(g, h);
  const tq_shape *s = tq_graph_input_shape(h, 0);
  assert_int_equal(s->ndim, 4);
  assert_int_equal(s->dims[0], -1);
  assert_int_equal(s->dims[2], -1);
  assert_int_equal(s->dims[3], 7);
  /* Attributes, through the view the executor has of them. */
  const tq_attr_store *got = NULL;
  size_t n_got = 0;
  tq_graph_node_attrs(h, 0, &got, &n_got);
  assert_int_equal(n_got, n_attrs);
  for (size_t i = 0; i < n_attrs; i++) {
    const tq_attr *x = &attrs[i], *y = &got[i].a;
    assert_string_equal(x->name, y->name);
    assert_int_equal(x->type, y->type);
    switch (x->type) {
      case TQ_ATTR_INT: assert_true(x->i == y->i); break;
      case TQ_ATTR_FLOAT: assert_true(x->f == y->f); break;
      case TQ_ATTR_STRING: assert_string_equal(x->s, y->s); break;
      case TQ_ATTR_INTS:
        assert_int_equal(x->count, y->count);
        if (x->count)
          assert_memory_equal(x->ints, y->ints, x->count * sizeof *x->ints);
        break;
      case TQ_ATTR_FLOATS:
        assert_int_equal(x->count, y->count);
        assert_memory_equal(x->floats, y->floats, x->count * sizeof *x->floats);
        break;
      case TQ_ATTR_TENSOR: {
        tq_tensor *want = float_tensor(ctx, 1, d2, tv);
        expect_same_tensor(want, y->t);
        tq_tensor_destroy(want);
        break;
      }
      default: fail();
    }
  }
  tq_graph_destroy(h);
  tq_graph_destroy(g);
  free(path);
  tq_context_destroy(ctx);
}

static void test_save_baked_weights(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = small_graph(ctx);
  const int64_t d4[] = {4};
  const float q[] = {0.25f, -0.5f, 0.0f, 3.0f}; /* "quantized" slope */
  tq_tensor *t = float_tensor(ctx, 1, d4, q);
  expect_ok(ctx, tq_graph_set_initializer(ctx, g, "act.slope", t));
  char *path = tq_test_tmp_path("onnx_baked.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  tq_graph *h = NULL;
  expect_ok(ctx, tq_onnx_load(ctx, path, &h));
  expect_same_tensor(tq_graph_initializer(h, "act.slope"), t);
  tq_tensor_destroy(t);
  tq_graph_destroy(h);
  tq_graph_destroy(g);
  free(path);
  tq_context_destroy(ctx);
}

static void test_save_atomic(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = small_graph(ctx);
  char *bad = tq_test_tmp_path("no_such_dir/model.onnx");
  expect_error(ctx, tq_onnx_save(ctx, g, bad), TQ_ERR_IO, "no_such_dir",
               (const char *)NULL);
  struct stat sb;
  assert_int_not_equal(stat(bad, &sb), 0);
  /* Replacing a file: the old contents until the rename, then the new. */
  char *path = tq_test_tmp_path("onnx_replace.onnx");
  write_file(path, "old", 3);
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  tq_graph *h = NULL;
  expect_ok(ctx, tq_onnx_load(ctx, path, &h));
  tq_graph_destroy(h);
  /* A failure after the temporary file exists (the rename onto a
   * directory) removes it again. */
  char *dir_target = tq_test_tmp_path("onnx_dir_target");
  mkdir(dir_target, 0755);
  expect_error(ctx, tq_onnx_save(ctx, g, dir_target), TQ_ERR_IO,
               "onnx_dir_target", (const char *)NULL);
  DIR *d = opendir(TQ_TEST_TMP_DIR);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d));)
    if (strncmp(e->d_name, "onnx_dir_target.tmp", 19) == 0)
      fail_msg("temporary file %s left behind", e->d_name);
  closedir(d);
  free(dir_target);
  expect_error(ctx, tq_onnx_save(ctx, NULL, path), TQ_ERR_INVALID_ARGUMENT,
               (const char *)NULL);
  expect_error(ctx, tq_onnx_save(ctx, g, ""), TQ_ERR_INVALID_ARGUMENT,
               (const char *)NULL);
  free(bad);
  free(path);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* Models for tests/cli/onnx_models.sh to run in ONNX Runtime: a Gemm
 * network with a dynamic batch, and the PRelu graph with baked weights. */
static void test_save_for_onnxruntime(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = NULL;
  expect_ok(ctx, tq_graph_create(ctx, &g));
  tq_shape in = {.ndim = 2, .dims = {-1, 4}};
  expect_ok(ctx, tq_graph_add_input(ctx, g, "x", &in));
  const int64_t dw[] = {3, 4}, db[] = {3};
  float w[12], b[3];
  for (int i = 0; i < 12; i++) w[i] = (float)(i % 5) * 0.25f - 0.5f;
  for (int i = 0; i < 3; i++) b[i] = 0.125f * (float)i;
  add_init(ctx, g, "fc.weight", float_tensor(ctx, 2, dw, w));
  add_init(ctx, g, "fc.bias", float_tensor(ctx, 1, db, b));
  const char *in1[] = {"x", "fc.weight", "fc.bias"}, *out1[] = {"h"};
  tq_attr trans = {.name = "transB", .type = TQ_ATTR_INT, .i = 1};
  expect_ok(
      ctx, tq_graph_add_node(ctx, g, "Gemm", "fc", in1, 3, out1, 1, &trans, 1));
  const char *in2[] = {"h"}, *out2[] = {"y"};
  expect_ok(
      ctx, tq_graph_add_node(ctx, g, "Relu", "relu", in2, 1, out2, 1, NULL, 0));
  expect_ok(ctx, tq_graph_add_output(ctx, g, "y"));
  char *path = tq_test_tmp_path("onnx_ort_gemm.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  free(path);
  tq_graph_destroy(g);

  g = small_graph(ctx);
  path = tq_test_tmp_path("onnx_ort_prelu.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  free(path);
  tq_graph_destroy(g);
  tq_context_destroy(ctx);
}

/* ---- hand-made models: what loads -----------------------------------------*/

static void test_typed_initializers(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  pb g = relu_graph();
  const int64_t d3[] = {3}, d2[] = {2};
  pb t = tensor_head("f_typed", T_FLOAT, 1, d3);
  pb packed = {0};
  const float fv[] = {1.5f, -2.0f, 3.25f};
  pb_raw(&packed, fv, sizeof fv);
  pb_msg(&t, TENSOR_FLOAT_DATA, &packed);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  /* int64_data unpacked (proto2 parsers accept both encodings). */
  t = tensor_head("i64", T_INT64, 1, d2);
  pb_int(&t, TENSOR_INT64_DATA, -5);
  pb_int(&t, TENSOR_INT64_DATA, INT64_MAX);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("i32", T_INT32, 1, d2);
  pb_int(&t, TENSOR_INT32_DATA, -7); /* negative int32: 10-byte varint */
  pb_int(&t, TENSOR_INT32_DATA, 2147483647);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("dbl", T_DOUBLE, 1, d2);
  pb dd = {0};
  const double dv[] = {0.1, -1e300};
  pb_raw(&dd, dv, sizeof dv);
  pb_msg(&t, TENSOR_DOUBLE_DATA, &dd);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("half", T_FLOAT16, 1, d3);
  pb_int(&t, TENSOR_INT32_DATA, 0x3c00); /* 1.0 */
  pb_int(&t, TENSOR_INT32_DATA, 0xc000); /* -2.0 */
  pb_int(&t, TENSOR_INT32_DATA, 0x0001); /* 2^-24 */
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("half_raw", T_FLOAT16, 1, d2);
  const unsigned char hr[] = {0x00, 0x7c, 0x00, 0x38}; /* inf, 0.5 */
  pb_bytes(&t, TENSOR_RAW_DATA, hr, 4);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("bools", T_BOOL, 1, d3);
  const unsigned char bv[] = {0, 1, 7};
  pb_bytes(&t, TENSOR_RAW_DATA, bv, 3);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("i8", T_INT8, 1, d2);
  const unsigned char i8[] = {0xff, 0x80};
  pb_bytes(&t, TENSOR_RAW_DATA, i8, 2);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("u8", T_UINT8, 1, d2);
  pb_bytes(&t, TENSOR_RAW_DATA, i8, 2);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("scalar", T_FLOAT, 0, NULL);
  pb_float(&t, TENSOR_FLOAT_DATA, 42.0f); /* unpacked float */
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  t = tensor_head("empty", T_FLOAT, 1, (const int64_t[]){0});
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  size_t n;
  unsigned char *b = make_model(&g, 8, 13, &n);
  tq_graph *gr = NULL;
  expect_ok(ctx, parse(ctx, b, n, &gr));
  free(b);
  const tq_tensor *x;
  x = tq_graph_initializer(gr, "f_typed");
  assert_memory_equal(tq_tensor_cdata(x), fv, sizeof fv);
  x = tq_graph_initializer(gr, "i64");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_INT64);
  assert_true(((const int64_t *)tq_tensor_cdata(x))[0] == -5);
  assert_true(((const int64_t *)tq_tensor_cdata(x))[1] == INT64_MAX);
  /* Every element type loads as its own dtype. */
  x = tq_graph_initializer(gr, "i32");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_INT32);
  assert_true(((const int32_t *)tq_tensor_cdata(x))[0] == -7);
  assert_true(((const int32_t *)tq_tensor_cdata(x))[1] == 2147483647);
  x = tq_graph_initializer(gr, "dbl");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_FLOAT64);
  assert_true(((const double *)tq_tensor_cdata(x))[0] == 0.1);
  assert_true(((const double *)tq_tensor_cdata(x))[1] == -1e300);
  x = tq_graph_initializer(gr, "half");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_FLOAT16);
  const uint16_t *hq = tq_tensor_cdata(x);
  assert_true(hq[0] == 0x3c00 && hq[1] == 0xc000 && hq[2] == 0x0001);
  x = tq_graph_initializer(gr, "half_raw");
  hq = tq_tensor_cdata(x);
  assert_true(hq[0] == 0x7c00 && hq[1] == 0x3800); /* inf, 0.5 */
  x = tq_graph_initializer(gr, "bools");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_BOOL);
  const uint8_t *bq = tq_tensor_cdata(x);
  assert_true(bq[0] == 0 && bq[1] == 1 && bq[2] == 1);
  x = tq_graph_initializer(gr, "i8");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_INT8);
  const int8_t *iq = tq_tensor_cdata(x);
  assert_true(iq[0] == -1 && iq[1] == -128);
  x = tq_graph_initializer(gr, "u8");
  assert_int_equal(tq_tensor_dtype(x), TQ_DTYPE_UINT8);
  const uint8_t *uq = tq_tensor_cdata(x);
  assert_true(uq[0] == 255 && uq[1] == 128);
  x = tq_graph_initializer(gr, "scalar");
  assert_int_equal(tq_tensor_shape(x)->ndim, 0);
  assert_true(((const float *)tq_tensor_cdata(x))[0] == 42.0f);
  x = tq_graph_initializer(gr, "empty");
  assert_int_equal(tq_tensor_numel(x), 0);
  tq_graph_destroy(gr);
  tq_context_destroy(ctx);
}

static void test_constants_inputs_order(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  pb g = {0};
  const int64_t dims[] = {-1, -2, 2};
  add_value_info(&g, GRAPH_INPUT, "x", T_FLOAT, 3, dims);
  /* An initializer listed among the inputs (IR 3 exporters): a constant. */
  const float wv[] = {2.0f, 3.0f};
  const int64_t d2[] = {2};
  add_raw_float_init(&g, "w", 1, d2, wv, 2);
  add_value_info(&g, GRAPH_INPUT, "w", T_FLOAT, 1, d2);
  add_value_info(&g, GRAPH_OUTPUT, "y", T_FLOAT, -1, NULL);
  /* Nodes out of order: Mul uses c before the Constant making it, and
   * the Relu consuming m comes before the Mul producing it. */
  const char *rin[] = {"m"}, *rout[] = {"y"};
  add_node(&g, "Relu", "relu", rin, 1, rout, 1, NULL);
  const char *min[] = {"x", "c"}, *mout[] = {"m"};
  add_node(&g, "Mul", "mul", min, 2, mout, 1, NULL);
  pb a = {0}, at = {0};
  pb_str(&at, ATTR_NAME, "value");
  pb_int(&at, ATTR_TYPE, 4);
  pb t = tensor_head(NULL, T_FLOAT, 1, d2);
  pb_bytes(&t, TENSOR_RAW_DATA, wv, 8);
  pb_msg(&at, ATTR_T, &t);
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  const char *cout[] = {"c"};
  add_node(&g, "Constant", "const", NULL, 0, cout, 1, &a);
  pb_str(&at, ATTR_NAME, "value_ints");
  pb_int(&at, ATTR_TYPE, 7);
  pb_int(&at, ATTR_INTS, 3);
  pb_int(&at, ATTR_INTS, -1);
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  const char *cout2[] = {"ci"};
  add_node(&g, "Constant", NULL, NULL, 0, cout2, 1, &a);
  pb_str(&at, ATTR_NAME, "value_float");
  pb_float(&at, ATTR_F, 0.5f); /* no type field: inferred */
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  const char *cout3[] = {"cf"};
  add_node(&g, "Constant", NULL, NULL, 0, cout3, 1, &a);
  size_t n;
  unsigned char *b = make_model(&g, 3, 7, &n);
  tq_graph *gr = NULL;
  expect_ok(ctx, parse(ctx, b, n, &gr));
  free(b);
  assert_int_equal(tq_graph_input_count(gr), 1);
  const tq_shape *s = tq_graph_input_shape(gr, 0);
  assert_int_equal(s->ndim, 3);
  assert_int_equal(s->dims[0], -1);
  assert_int_equal(s->dims[1], -1);
  assert_int_equal(s->dims[2], 2);
  assert_int_equal(tq_graph_node_count(gr), 2);
  tq_node_info info;
  assert_int_equal(tq_graph_node_info(gr, 0, &info), TQ_OK);
  assert_string_equal(info.id, "mul");
  assert_int_equal(tq_graph_node_info(gr, 1, &info), TQ_OK);
  assert_string_equal(info.id, "relu");
  assert_int_equal(tq_graph_initializer_count(gr), 4);
  assert_memory_equal(tq_tensor_cdata(tq_graph_initializer(gr, "c")), wv, 8);
  const tq_tensor *ci = tq_graph_initializer(gr, "ci");
  assert_int_equal(tq_tensor_dtype(ci), TQ_DTYPE_INT64);
  assert_true(((const int64_t *)tq_tensor_cdata(ci))[1] == -1);
  const tq_tensor *cf = tq_graph_initializer(gr, "cf");
  assert_int_equal(tq_tensor_shape(cf)->ndim, 0);
  assert_true(((const float *)tq_tensor_cdata(cf))[0] == 0.5f);
  tq_graph_destroy(gr);
  tq_context_destroy(ctx);
}

static void test_external_data(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  char *dir = tq_test_tmp_path("onnx_ext");
  mkdir(dir, 0755);
  char *sub = tq_test_tmp_path("onnx_ext/weights");
  mkdir(sub, 0755);
  char *data = tq_test_tmp_path("onnx_ext/weights/w.bin");
  const float wv[] = {9.0f, 1.0f, 2.0f, 3.0f, 4.0f, 9.0f};
  write_file(data, wv, sizeof wv);
  char *model = tq_test_tmp_path("onnx_ext/model.onnx");

  /* Builds a model whose initializer w [2, 2] is external data at loc
   * with the given offset and length entries (NULL: absent). */
  for (int variant = 0; variant < 7; variant++) {
    static const struct {
      const char *loc, *offset, *length;
      tq_status want;
      const char *phrase;
    } v[] = {
        {"weights/w.bin", "4", "16", TQ_OK, NULL},
        {"./weights//w.bin", "4", "16", TQ_OK, NULL},
        {"../onnx_ext/weights/w.bin", "4", "16", TQ_ERR_FORMAT,
         "leaves the model's directory"},
        {"/etc/passwd", NULL, NULL, TQ_ERR_FORMAT, "absolute path"},
        {"weights/w.bin", "4", "12", TQ_ERR_FORMAT,
         "expected 16 bytes of external data, found 12"},
        {"weights/w.bin", "20", "16", TQ_ERR_FORMAT, "goes beyond the end"},
        {"weights/missing.bin", NULL, NULL, TQ_ERR_IO, "cannot open"},
    };
    pb g = relu_graph();
    const int64_t d22[] = {2, 2};
    pb t = tensor_head("w", T_FLOAT, 2, d22);
    const char *keys[] = {"location", "offset", "length"};
    const char *vals[] = {v[variant].loc, v[variant].offset, v[variant].length};
    for (int k = 0; k < 3; k++) {
      if (!vals[k]) continue;
      pb e = {0};
      pb_str(&e, ENTRY_KEY, keys[k]);
      pb_str(&e, ENTRY_VALUE, vals[k]);
      pb_msg(&t, TENSOR_EXTERNAL_DATA, &e);
    }
    pb_int(&t, TENSOR_DATA_LOCATION, 1);
    pb_msg(&g, GRAPH_INITIALIZER, &t);
    size_t n;
    unsigned char *b = make_model(&g, 8, 13, &n);
    write_file(model, b, n);
    tq_graph *gr = NULL;
    tq_status st = tq_onnx_load(ctx, model, &gr);
    if (v[variant].want == TQ_OK) {
      expect_ok(ctx, st);
      assert_memory_equal(tq_tensor_cdata(tq_graph_initializer(gr, "w")),
                          wv + 1, 16);
      tq_graph_destroy(gr);
      /* From memory there is no directory to resolve it against. */
      expect_error(ctx, parse(ctx, b, n, &gr), TQ_ERR_UNSUPPORTED,
                   "external data", "parsed from memory", (const char *)NULL);
    } else {
      expect_error(ctx, st, v[variant].want, model, "initializer 'w'",
                   v[variant].phrase, (const char *)NULL);
      assert_null(gr);
    }
    free(b);
  }
  free(model);
  free(data);
  free(sub);
  free(dir);
  tq_context_destroy(ctx);
}

/* ---- hand-made models: errors ---------------------------------------------*/

static void test_truncated_and_garbage(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  tq_graph *g = small_graph(ctx);
  char *path = tq_test_tmp_path("onnx_trunc.onnx");
  expect_ok(ctx, tq_onnx_save(ctx, g, path));
  tq_graph_destroy(g);
  size_t n = 0;
  unsigned char *b = slurp(path, &n);
  assert_non_null(b);
  /* Every prefix fails cleanly (some parse as protobuf, missing parts). */
  for (size_t k = 0; k < n; k++) {
    tq_graph *h = NULL;
    tq_status st = parse(ctx, b, k, &h);
    assert_int_not_equal(st, TQ_OK);
  }
  /* Cut inside the initializer's raw_data: the wire format breaks. */
  tq_graph *h = NULL;
  expect_error(ctx, parse(ctx, b, n - 3, &h), TQ_ERR_FORMAT,
               "model.onnx: not a valid ONNX model (protobuf parse failed",
               (const char *)NULL);
  char size_text[64];
  snprintf(size_text, sizeof size_text, "%zu bytes", n - 3);
  assert_non_null(strstr(tq_context_last_error(ctx), size_text));
  /* Every single-byte corruption: no crash, no leak (run under ASan). */
  for (size_t k = 0; k < n; k++) {
    unsigned char saved = b[k];
    b[k] ^= 0xa5;
    if (parse(ctx, b, n, &h) == TQ_OK) tq_graph_destroy(h);
    b[k] = saved;
  }
  free(b);
  uint64_t rng = 12345;
  unsigned char junk[512];
  for (int round = 0; round < 200; round++) {
    for (size_t i = 0; i < sizeof junk; i++)
      junk[i] = (unsigned char)tq_test_rand(&rng);
    if (parse(ctx, junk, 1 + round * 2, &h) == TQ_OK) tq_graph_destroy(h);
  }
  expect_error(ctx, parse(ctx, (const unsigned char *)"", 0, &h), TQ_ERR_FORMAT,
               "the file is empty", (const char *)NULL);
  char *missing = tq_test_tmp_path("no_such_model.onnx");
  expect_error(ctx, tq_onnx_load(ctx, missing, &h), TQ_ERR_IO, missing,
               "cannot open", (const char *)NULL);
  free(missing);
  char *dir = tq_test_tmp_path("");
  expect_error(ctx, tq_onnx_load(ctx, dir, &h), TQ_ERR_IO, "directory",
               (const char *)NULL);
  free(dir);
  free(path);
  tq_context_destroy(ctx);
}

static void test_wrong_field_types(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  /* graph (a message) as a varint. */
  pb m = {0};
  pb_int(&m, MODEL_IR_VERSION, 8);
  pb_int(&m, MODEL_GRAPH, 5);
  tq_graph *g = NULL;
  expect_error(ctx, parse(ctx, m.b, m.n, &g), TQ_ERR_FORMAT,
               "protobuf parse failed", (const char *)NULL);
  free(m.b);
  /* ir_version (a varint) as a string. */
  memset(&m, 0, sizeof m);
  pb_str(&m, MODEL_IR_VERSION, "eight");
  expect_error(ctx, parse(ctx, m.b, m.n, &g), TQ_ERR_FORMAT,
               "protobuf parse failed", (const char *)NULL);
  free(m.b);
  /* A length running past the end. */
  const unsigned char overrun[] = {0x3a, 0x7f, 0x0a, 0x00};
  expect_error(ctx, parse(ctx, overrun, sizeof overrun, &g), TQ_ERR_FORMAT,
               "protobuf parse failed", (const char *)NULL);
  /* A node's output as a varint inside an otherwise valid model. */
  pb gr = relu_graph();
  pb n = {0};
  pb_str(&n, NODE_INPUT, "x");
  pb_int(&n, NODE_OUTPUT, 3);
  pb_str(&n, NODE_OP_TYPE, "Relu");
  pb_msg(&gr, GRAPH_NODE, &n);
  size_t len;
  unsigned char *b = make_model(&gr, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "protobuf parse failed");
  tq_context_destroy(ctx);
}

static void test_model_level_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  size_t n;
  unsigned char *b = make_model(NULL, 8, 13, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_FORMAT, "has no graph");
  pb g = relu_graph();
  b = make_model(&g, -1, 13, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_FORMAT, "ir_version is missing");
  g = relu_graph();
  b = make_model(&g, 2, 13, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_UNSUPPORTED, "IR version 2");
  g = relu_graph();
  b = make_model(&g, 99, 13, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_UNSUPPORTED, "IR version 99", "newer");
  g = relu_graph();
  b = make_model(&g, 8, -1, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_FORMAT, "declares no opset");
  g = relu_graph();
  b = make_model(&g, 8, 6, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_UNSUPPORTED, "opset 6",
                     "version_converter");
  g = relu_graph();
  b = make_model(&g, 8, 99, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_UNSUPPORTED, "opset 99");
  /* What onnx 1.19 writes (IR 12, opset 24) loads; the next ones do not. */
  g = relu_graph();
  b = make_model(&g, 12, 24, &n);
  tq_graph *newest = NULL;
  assert_int_equal(parse(ctx, b, n, &newest), TQ_OK);
  tq_graph_destroy(newest);
  free(b);
  g = relu_graph();
  b = make_model(&g, 13, 24, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_UNSUPPORTED, "IR version 13", "newer");
  g = relu_graph();
  b = make_model(&g, 12, 25, &n);
  EXPECT_PARSE_ERROR(ctx, b, n, TQ_ERR_UNSUPPORTED, "opset 25");
  /* opset_import with "ai.onnx" counts as the default domain; another
   * domain's import alone is fine when no node uses it. */
  g = relu_graph();
  pb m = {0}, op = {0};
  pb_int(&m, MODEL_IR_VERSION, 8);
  pb_str(&op, OPSET_DOMAIN, "ai.onnx.ml");
  pb_int(&op, OPSET_VERSION, 3);
  pb_msg(&m, MODEL_OPSET_IMPORT, &op);
  pb_str(&op, OPSET_DOMAIN, "ai.onnx");
  pb_int(&op, OPSET_VERSION, 11);
  pb_msg(&m, MODEL_OPSET_IMPORT, &op);
  pb_msg(&m, MODEL_GRAPH, &g);
  tq_graph *gr = NULL;
  expect_ok(ctx, parse(ctx, m.b, m.n, &gr));
  tq_graph_destroy(gr);
  free(m.b);
  tq_context_destroy(ctx);
}

static void test_unsupported_ops_listed(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  pb g = relu_graph();
  const char *in1[] = {"y"}, *o1[] = {"z1"}, *o2[] = {"z2"}, *o3[] = {"z3"};
  add_node(&g, "FancyOpA", "first_node", in1, 1, o1, 1, NULL);
  add_node(&g, "FancyOpB", "second_node", in1, 1, o2, 1, NULL);
  add_node(&g, "FancyOpA", NULL, in1, 1, o3, 1, NULL); /* ID from output */
  pb n = {0};
  pb_str(&n, NODE_INPUT, "y");
  pb_str(&n, NODE_OUTPUT, "z4");
  pb_str(&n, NODE_NAME, "ms_node");
  pb_str(&n, NODE_OP_TYPE, "FusedConv");
  pb_str(&n, NODE_DOMAIN, "com.microsoft");
  pb_msg(&g, GRAPH_NODE, &n);
  size_t len;
  unsigned char *b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "4 nodes use operators",
                     "node 'first_node' (FancyOpA, opset 13)",
                     "node 'second_node' (FancyOpB, opset 13)",
                     "node 'z3' (FancyOpA, opset 13)",
                     "node 'ms_node' (FusedConv, domain 'com.microsoft'");
  /* Many unknown nodes: the message is cut with a count, not truncated
   * mid-word. */
  g = relu_graph();
  for (int i = 0; i < 100; i++) {
    char out[32], name[32];
    snprintf(out, sizeof out, "u%d", i);
    snprintf(name, sizeof name, "unknown_number_%d", i);
    const char *outs[] = {out};
    add_node(&g, "NoSuchOp", name, in1, 1, outs, 1, NULL);
  }
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "100 nodes use",
                     "unknown_number_0", "more");
  tq_context_destroy(ctx);
}

static void test_reference_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  size_t len;
  unsigned char *b;
  /* Missing initializer. */
  pb g = relu_graph();
  const char *in[] = {"y", "missing_w"}, *out[] = {"z"};
  add_node(&g, "Mul", "scale_node", in, 2, out, 1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "node 'scale_node' (Mul)",
                     "input 'missing_w' is not defined");
  /* Two producers of one value. */
  g = relu_graph();
  const char *in2[] = {"x"}, *out2[] = {"y"};
  add_node(&g, "Relu", "again", in2, 1, out2, 1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "duplicate value name 'y'",
                     "node 'relu'");
  /* Initializer twice. */
  g = relu_graph();
  const float v[] = {1.0f};
  const int64_t d1[] = {1};
  add_raw_float_init(&g, "w", 1, d1, v, 1);
  add_raw_float_init(&g, "w", 1, d1, v, 1);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "duplicate value name 'w'");
  /* A cycle. */
  g = relu_graph();
  const char *ca[] = {"y", "q"}, *co[] = {"p"}, *cb[] = {"p"}, *cq[] = {"q"};
  add_node(&g, "Add", "cyc_a", ca, 2, co, 1, NULL);
  add_node(&g, "Relu", "cyc_b", cb, 1, cq, 1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "cycle", "'cyc_a' (Add)",
                     "'cyc_b' (Relu)");
  /* A node with only empty outputs. */
  g = relu_graph();
  const char *eo[] = {""};
  add_node(&g, "Relu", "mute", in2, 1, eo, 1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "node 'mute' (Relu)",
                     "no outputs");
  /* A graph output nobody produces. */
  g = relu_graph();
  add_value_info(&g, GRAPH_OUTPUT, "ghost", T_FLOAT, -1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "graph output 'ghost'");
  tq_context_destroy(ctx);
}

static void test_tensor_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  size_t len;
  unsigned char *b;
  const int64_t d23[] = {2, 3};
  /* raw_data of the wrong size. */
  pb g = relu_graph();
  pb t = tensor_head("conv1.weight", T_FLOAT, 2, d23);
  pb_bytes(&t, TENSOR_RAW_DATA, "01234567890123456789", 20);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "initializer 'conv1.weight'",
                     "expected 24 bytes", "found 20");
  /* Too few typed values. */
  g = relu_graph();
  t = tensor_head("few", T_FLOAT, 2, d23);
  pb_float(&t, TENSOR_FLOAT_DATA, 1.0f);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "initializer 'few'",
                     "expected 6 values in float_data, found 1");
  /* No data at all. */
  g = relu_graph();
  t = tensor_head("nodata", T_INT64, 2, d23);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "initializer 'nodata'",
                     "int64_data", "no raw_data");
  /* Strings. */
  g = relu_graph();
  t = tensor_head("labels", T_STRING, 0, NULL);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "initializer 'labels'",
                     "STRING");
  /* Negative and overflowing dims. */
  g = relu_graph();
  const int64_t neg[] = {2, -3};
  t = tensor_head("neg", T_FLOAT, 2, neg);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "initializer 'neg'",
                     "negative dimension");
  g = relu_graph();
  const int64_t huge[] = {INT64_MAX, INT64_MAX, 4};
  t = tensor_head("huge", T_FLOAT, 3, huge);
  pb_bytes(&t, TENSOR_RAW_DATA, "abcd", 4);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_RANGE, "initializer 'huge'",
                     "too large");
  g = relu_graph();
  const int64_t big[] = {1 << 30, 1 << 30};
  t = tensor_head("big", T_FLOAT, 2, big);
  pb_bytes(&t, TENSOR_RAW_DATA, "abcd", 4);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "initializer 'big'",
                     "expected 4611686018427387904 bytes, found 4");
  g = relu_graph();
  const int64_t deep[] = {1, 1, 1, 1, 1, 1, 1};
  t = tensor_head("deep", T_FLOAT, 7, deep);
  pb_bytes(&t, TENSOR_RAW_DATA, "abcd", 4);
  pb_msg(&g, GRAPH_INITIALIZER, &t);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "initializer 'deep'",
                     "7 dimensions");
  tq_context_destroy(ctx);
}

static void test_input_and_attribute_errors(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  size_t len;
  unsigned char *b;
  const int64_t d2[] = {1, 2};
  /* An input type the runtime holds only widened (uint16 as int64). */
  pb g = {0};
  add_value_info(&g, GRAPH_INPUT, "ids", T_UINT16, 2, d2);
  add_value_info(&g, GRAPH_OUTPUT, "y", T_FLOAT, -1, NULL);
  const char *in[] = {"ids"}, *out[] = {"y"};
  add_node(&g, "Relu", "r", in, 1, out, 1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "graph input 'ids'",
                     "UINT16", "graph inputs may be FLOAT, DOUBLE");
  /* Input without a shape. */
  g = (pb){0};
  add_value_info(&g, GRAPH_INPUT, "ids", T_FLOAT, -1, NULL);
  add_value_info(&g, GRAPH_OUTPUT, "y", T_FLOAT, -1, NULL);
  add_node(&g, "Relu", "r", in, 1, out, 1, NULL);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "graph input 'ids'",
                     "no shape");
  /* A GRAPH attribute. */
  g = relu_graph();
  pb a = {0}, at = {0}, sub = relu_graph();
  pb_str(&at, ATTR_NAME, "then_branch");
  pb_int(&at, ATTR_TYPE, 5);
  pb_msg(&at, ATTR_G, &sub);
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  const char *in2[] = {"y"}, *out2[] = {"z"};
  add_node(&g, "Relu", "with_subgraph", in2, 1, out2, 1, &a);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED,
                     "node 'with_subgraph' (Relu)",
                     "attribute 'then_branch' is a subgraph (GRAPH)");
  /* A STRINGS attribute. */
  g = relu_graph();
  pb_str(&at, ATTR_NAME, "names");
  pb_int(&at, ATTR_TYPE, 8);
  pb_str(&at, 9, "a");
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  add_node(&g, "Relu", "strs", in2, 1, out2, 1, &a);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED, "node 'strs'", "STRINGS");
  /* A duplicated attribute and one without a type or value. */
  g = relu_graph();
  pb_str(&at, ATTR_NAME, "alpha");
  pb_float(&at, ATTR_F, 1.0f);
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  pb_str(&at, ATTR_NAME, "alpha");
  pb_float(&at, ATTR_F, 2.0f);
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  add_node(&g, "Relu", "twice", in2, 1, out2, 1, &a);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "node 'twice'",
                     "'alpha' is given twice");
  g = relu_graph();
  pb_str(&at, ATTR_NAME, "vague");
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  add_node(&g, "Relu", "untyped", in2, 1, out2, 1, &a);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "node 'untyped'",
                     "no type and no value");
  /* Constant with a string value. */
  g = relu_graph();
  pb_str(&at, ATTR_NAME, "value_string");
  pb_int(&at, ATTR_TYPE, 3);
  pb_str(&at, ATTR_S, "hello");
  pb_msg(&a, NODE_ATTRIBUTE, &at);
  const char *cout[] = {"c"};
  add_node(&g, "Constant", "strconst", NULL, 0, cout, 1, &a);
  b = make_model(&g, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_UNSUPPORTED,
                     "Constant node 'strconst'", "value_string");
  tq_context_destroy(ctx);
}

/* Subgraphs nested thousands deep are refused before protobuf-c recurses
 * into them. */
static void test_deep_nesting(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  pb inner = relu_graph();
  for (int depth = 0; depth < 2000; depth++) {
    pb at = {0}, node = {0}, g = {0};
    pb_str(&at, ATTR_NAME, "body");
    pb_msg(&at, ATTR_G, &inner);
    pb_str(&node, NODE_OP_TYPE, "Loop");
    pb_msg(&node, NODE_ATTRIBUTE, &at);
    pb_msg(&g, GRAPH_NODE, &node);
    inner = g;
  }
  size_t len;
  unsigned char *b = make_model(&inner, 8, 13, &len);
  EXPECT_PARSE_ERROR(ctx, b, len, TQ_ERR_FORMAT, "nested more than");
  tq_context_destroy(ctx);
}

/* A field whose tag and length run past the end of the enclosing message:
 * the nesting guard used to compute end - pos with pos > end, and this
 * length (2^64 - 11) sent pos back to the tag, forever (found by
 * fuzz_onnx). */
static void test_length_past_enclosing_end(void **state) {
  (void)state;
  tq_context *ctx = new_ctx();
  static const unsigned char bytes[] = {0x3a, 0x01, /* graph, 1 byte long */
                                        0x12,       /* graph.name */
                                        0xf5, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, /* length 2^64 - 11 */
                                        0xff, 0x01};
  unsigned char *b = malloc(sizeof bytes);
  assert_non_null(b);
  memcpy(b, bytes, sizeof bytes);
  EXPECT_PARSE_ERROR(ctx, b, sizeof bytes, TQ_ERR_FORMAT,
                     "protobuf parse failed");
  tq_context_destroy(ctx);
}

/* ---- models made by the Python onnx package (tests/cli/onnx_models.sh) ----*/

/* Values of an initializer as listed by make_onnx_models.py: "name DTYPE
 * v...", exact (floats as doubles, integers in decimal). */
static void check_init_line(const tq_graph *g, const char *model, char *line) {
  char *save = NULL;
  const char *name = strtok_r(line, " \t\n", &save);
  const char *kind = strtok_r(NULL, " \t\n", &save);
  if (!name || !kind) return;
  const tq_tensor *t = tq_graph_initializer(g, name);
  if (!t) fail_msg("%s: initializer '%s' is missing", model, name);
  tq_dtype want_dt;
  if (tq_dtype_from_name(kind, &want_dt) != 0)
    fail_msg("%s: unknown dtype '%s'", model, kind);
  if (tq_tensor_dtype(t) != want_dt)
    fail_msg("%s: initializer '%s' is %s, expected %s", model, name,
             tq_dtype_name(tq_tensor_dtype(t)), kind);
  /* As doubles: exact for every dtype the script writes (its integers are
   * below 2^53). */
  tq_tensor *d = NULL;
  tq_context *ctx = new_ctx();
  expect_ok(ctx, tq_tensor_cast(ctx, t, TQ_DTYPE_FLOAT64, &d));
  size_t i = 0;
  for (const char *tok; (tok = strtok_r(NULL, " \t\n", &save)); i++) {
    if (i >= tq_tensor_numel(t))
      fail_msg("%s: initializer '%s' has only %zu values", model, name,
               tq_tensor_numel(t));
    const double want = strtod(tok, NULL);
    const double got = ((const double *)tq_tensor_cdata(d))[i];
    if (!(got == want || (isnan(got) && isnan(want))))
      fail_msg("%s: initializer '%s'[%zu] = %.17g, expected %.17g", model, name,
               i, got, want);
  }
  assert_int_equal(i, tq_tensor_numel(t));
  tq_tensor_destroy(d);
  tq_context_destroy(ctx);
}

/* Runs the model on dir/<stem>.in.npy and compares with what ONNX Runtime
 * computed (dir/<stem>.out.npy). */
static void check_run(tq_context *ctx, const tq_graph *g, const char *dir,
                      const char *stem) {
  char in_path[1024], out_path[1024];
  snprintf(in_path, sizeof in_path, "%s/%s.in.npy", dir, stem);
  snprintf(out_path, sizeof out_path, "%s/%s.out.npy", dir, stem);
  float *x = NULL, *want = NULL;
  tq_shape xs, ws;
  expect_ok(ctx, tq_npy_read(ctx, in_path, &x, &xs));
  expect_ok(ctx, tq_npy_read(ctx, out_path, &want, &ws));
  tq_tensor *xt = NULL, *yt = NULL;
  expect_ok(ctx, tq_tensor_from_floats(ctx, &xs, x, &xt));
  tq_session *s = NULL;
  expect_ok(ctx, tq_session_create(ctx, g, &s));
  const tq_tensor *ins[] = {xt};
  expect_ok(ctx, tq_session_run(ctx, s, ins, 1, &yt, 1, NULL));
  assert_int_equal(tq_tensor_numel(yt), tq_shape_numel(&ws, NULL));
  const float *y = tq_tensor_cdata(yt);
  for (size_t i = 0; i < tq_tensor_numel(yt); i++)
    if (!(fabsf(y[i] - want[i]) <= 1e-5f + 1e-5f * fabsf(want[i])))
      fail_msg("%s: output[%zu] = %.9g, ONNX Runtime says %.9g", stem, i,
               (double)y[i], (double)want[i]);
  tq_session_destroy(s);
  tq_tensor_destroy(xt);
  tq_tensor_destroy(yt);
  tq_free(x);
  tq_free(want);
}

/* manifest.tsv: "file<TAB>ok<TAB>key=value ..." or
 * "file<TAB>error<TAB>phrase". ok keys: opset, nodes, inits, inputs,
 * input0 (dims joined by 'x', -1 dynamic), run (1: check_run). */
static void test_python_models(void **state) {
  (void)state;
  const char *dir = getenv("TQ_ONNX_MODELS_DIR");
  if (!dir || !*dir) skip();
  tq_context *ctx = new_ctx();
  char path[1024];
  snprintf(path, sizeof path, "%s/manifest.tsv", dir);
  FILE *fp = fopen(path, "r");
  if (!fp) fail_msg("cannot open %s: %s", path, strerror(errno));
  char line[4096];
  int models = 0;
  while (fgets(line, sizeof line, fp)) {
    char *save = NULL;
    char *file = strtok_r(line, "\t\n", &save);
    char *expect = strtok_r(NULL, "\t\n", &save);
    char *rest = strtok_r(NULL, "\n", &save);
    if (!file || !expect || file[0] == '#') continue;
    models++;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    tq_graph *g = NULL;
    tq_status st = tq_onnx_load(ctx, path, &g);
    if (strcmp(expect, "error") == 0) {
      if (st == TQ_OK) fail_msg("%s: loaded, expected an error", file);
      if (rest && !strstr(tq_context_last_error(ctx), rest))
        fail_msg("%s: expected \"%s\" in: %s", file, rest,
                 tq_context_last_error(ctx));
      print_message("  %-28s error as expected: %s\n", file,
                    tq_context_last_error(ctx));
      continue;
    }
    if (st != TQ_OK) fail_msg("%s: %s", file, tq_context_last_error(ctx));
    char stem[256];
    snprintf(stem, sizeof stem, "%s", file);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';
    for (char *kv = rest ? strtok_r(rest, " ", &save) : NULL; kv;
         kv = strtok_r(NULL, " ", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) continue;
      *eq = '\0';
      const char *key = kv, *val = eq + 1;
      if (strcmp(key, "nodes") == 0)
        assert_int_equal(tq_graph_node_count(g), strtoul(val, NULL, 10));
      else if (strcmp(key, "inits") == 0)
        assert_int_equal(tq_graph_initializer_count(g), strtoul(val, NULL, 10));
      else if (strcmp(key, "inputs") == 0)
        assert_int_equal(tq_graph_input_count(g), strtoul(val, NULL, 10));
      else if (strcmp(key, "input0") == 0) {
        const tq_shape *s = tq_graph_input_shape(g, 0);
        char text[256] = "";
        size_t used = 0;
        for (int d = 0; d < s->ndim; d++)
          used += (size_t)snprintf(text + used, sizeof text - used,
                                   d ? "x%lld" : "%lld", (long long)s->dims[d]);
        if (strcmp(text, val) != 0)
          fail_msg("%s: input 0 has dims %s, expected %s", file, text, val);
      } else if (strcmp(key, "run") == 0 && strcmp(val, "1") == 0) {
        check_run(ctx, g, dir, stem);
      }
    }
    /* Initializer values, as numpy computed them. */
    char ipath[1024];
    snprintf(ipath, sizeof ipath, "%s/%s.inits.txt", dir, stem);
    FILE *ip = fopen(ipath, "r");
    if (ip) {
      char buf[8192];
      while (fgets(buf, sizeof buf, ip)) check_init_line(g, file, buf);
      fclose(ip);
    }
    print_message("  %-28s loaded: %zu nodes, %zu initializers\n", file,
                  tq_graph_node_count(g), tq_graph_initializer_count(g));
    tq_graph_destroy(g);
  }
  fclose(fp);
  assert_true(models > 0);
  tq_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_structure),
      cmocka_unit_test(test_roundtrip_typed),
      cmocka_unit_test(test_roundtrip_attributes),
      cmocka_unit_test(test_save_baked_weights),
      cmocka_unit_test(test_save_atomic),
      cmocka_unit_test(test_save_for_onnxruntime),
      cmocka_unit_test(test_typed_initializers),
      cmocka_unit_test(test_constants_inputs_order),
      cmocka_unit_test(test_external_data),
      cmocka_unit_test(test_truncated_and_garbage),
      cmocka_unit_test(test_wrong_field_types),
      cmocka_unit_test(test_model_level_errors),
      cmocka_unit_test(test_unsupported_ops_listed),
      cmocka_unit_test(test_reference_errors),
      cmocka_unit_test(test_tensor_errors),
      cmocka_unit_test(test_input_and_attribute_errors),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_length_past_enclosing_end),
      cmocka_unit_test(test_python_models),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
