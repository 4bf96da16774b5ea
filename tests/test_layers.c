/* Framework layers (docs/design.md §3.9): grouping an exporter-shaped graph,
 * the layer view's resolution in the session, and map reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A Keras-style two-Dense model as tf2onnx writes it: a layout Reshape of
 * the input inside the first layer's scope, MatMul + bias Add + activation
 * per layer, TensorFlow op names in the weight names (Dense1's kernel
 * mentions "Dense2Op", as LeNet's Conv1 kernel mentions Conv2D). */
enum {
  NODE_RESHAPE,
  NODE_MM1,
  NODE_ADD1,
  NODE_RELU,
  NODE_MM2,
  NODE_ADD2,
  NODE_SOFTMAX,
  N_NODES
};

static const float b1[6] = {0.3f, -0.7f, 0.11f, 0.5f, -0.26f, 0.9f};

static tq_graph *keras_like(tq_context *ctx) {
  tq_graph *g = NULL;
  assert_int_equal(tq_graph_create(ctx, &g), TQ_OK);
  tq_shape in = {.ndim = 2, .dims = {-1, 8}};
  assert_int_equal(tq_graph_add_input(ctx, g, "x", &in), TQ_OK);
  const int64_t shape_dims[1] = {2};
  const int64_t new_shape[2] = {-1, 8};
  tq_tensor *t = NULL;
  assert_int_equal(
      tq_tensor_create(ctx, TQ_DTYPE_INT64,
                       &(tq_shape){.ndim = 1, .dims = {shape_dims[0]}}, &t),
      TQ_OK);
  memcpy(tq_tensor_data(t), new_shape, sizeof new_shape);
  assert_int_equal(tq_graph_add_initializer(ctx, g, "new_shape__3", t), TQ_OK);
  tq_tensor_destroy(t);
  struct {
    const char *name;
    int64_t rows, cols;
    const float *values;
  } inits[] = {{"M/Dense1/Dense2Op/ReadVariableOp:0", 8, 6, NULL},
               {"M/Dense1/BiasAdd/ReadVariableOp:0", 1, 6, b1},
               {"M/Dense2/MatMul/ReadVariableOp:0", 6, 3, NULL},
               {"M/Dense2/BiasAdd/ReadVariableOp:0", 1, 3, NULL}};
  for (size_t i = 0; i < 4; i++) {
    tq_shape s =
        inits[i].rows == 1
            ? (tq_shape){.ndim = 1, .dims = {inits[i].cols}}
            : (tq_shape){.ndim = 2, .dims = {inits[i].rows, inits[i].cols}};
    assert_int_equal(tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &s, &t), TQ_OK);
    float *d = tq_tensor_data(t);
    for (size_t k = 0; k < tq_tensor_numel(t); k++)
      d[k] = inits[i].values ? inits[i].values[k]
                             : 0.37f * (float)((k * 7 + i) % 11) - 1.7f;
    assert_int_equal(tq_graph_add_initializer(ctx, g, inits[i].name, t), TQ_OK);
    tq_tensor_destroy(t);
  }
  struct {
    const char *op, *name, *in[2], *out;
  } nodes[N_NODES] = {
      {"Reshape", "M/Dense1/MatMul__3", {"x", "new_shape__3"}, "x2"},
      {"MatMul", "M/Dense1/MatMul", {"x2", inits[0].name}, "mm1"},
      {"Add", "M/Dense1/BiasAdd", {"mm1", inits[1].name}, "add1"},
      {"Relu", "M/Dense1/Relu", {"add1", NULL}, "relu1"},
      {"MatMul", "M/Dense2/MatMul", {"relu1", inits[2].name}, "mm2"},
      {"Add", "M/Dense2/BiasAdd", {"mm2", inits[3].name}, "add2"},
      {"Softmax", "M/Dense2/Softmax", {"add2", NULL}, "y"},
  };
  for (size_t i = 0; i < N_NODES; i++)
    assert_int_equal(
        tq_graph_add_node(ctx, g, nodes[i].op, nodes[i].name, nodes[i].in,
                          nodes[i].in[1] ? 2 : 1, &nodes[i].out, 1, NULL, 0),
        TQ_OK);
  assert_int_equal(tq_graph_add_output(ctx, g, "y"), TQ_OK);
  return g;
}

typedef struct fixture {
  tq_context *ctx;
  tq_graph *g;
  tq_session *s;
  tq_qmap_set *set;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f || tq_context_create(&f->ctx) != TQ_OK) return -1;
  f->g = keras_like(f->ctx);
  if (tq_session_create(f->ctx, f->g, &f->s) != TQ_OK) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tq_qmap_set_destroy(f->set);
  tq_session_destroy(f->s);
  tq_graph_destroy(f->g);
  tq_context_destroy(f->ctx);
  free(f);
  return 0;
}

static void set_maps(fixture *f, const char *json) {
  tq_qmap_set_destroy(f->set);
  f->set = NULL;
  assert_int_equal(
      tq_qmap_set_parse_json(f->ctx, json, strlen(json), "test.json", &f->set),
      TQ_OK);
  assert_int_equal(tq_session_set_maps(f->ctx, f->s, f->set), TQ_OK);
}

static void test_grouping(void **state) {
  fixture *f = *state;
  assert_int_equal(tq_session_layer_count(f->s), 2);
  tq_layer_info l;
  assert_int_equal(tq_session_layer(f->s, 0, &l), TQ_OK);
  assert_string_equal(l.id, "M/Dense1");
  assert_int_equal(l.n_nodes, 3); /* MatMul, bias Add, Relu */
  assert_int_equal(l.nodes[0], NODE_MM1);
  assert_int_equal(l.output_node, NODE_RELU);
  assert_int_equal(l.n_params, 2);
  assert_string_equal(l.params[0], "M/Dense1/Dense2Op/ReadVariableOp:0");
  assert_string_equal(l.params[1], "M/Dense1/BiasAdd/ReadVariableOp:0");
  assert_int_equal(l.n_owners, 0); /* TensorFlow names are not owners */
  assert_int_equal(tq_session_layer(f->s, 1, &l), TQ_OK);
  assert_string_equal(l.id, "M/Dense2");
  assert_int_equal(l.output_node, NODE_SOFTMAX);
  /* The exporter's Reshape of the input belongs to no layer. */
  assert_int_equal(tq_session_node_layer(f->s, NODE_RESHAPE), -1);
  assert_int_equal(tq_session_node_layer(f->s, NODE_ADD2), 1);
  assert_int_equal(tq_session_layer(f->s, 2, &l), TQ_ERR_RANGE);
}

static const char maps[] =
    "{\"extrinsic\": {\"Dense1\": \"nearest,8,4\"},"
    " \"weights\": {\"Dense2\": \"nearest,4,2\", \"Dense1\": \"nearest,8,2\"}}";

static void test_layer_view(void **state) {
  fixture *f = *state;
  assert_int_equal(tq_session_map_view(f->s), TQ_MAP_VIEW_NODES);
  assert_int_equal(tq_session_set_map_view(f->ctx, f->s, TQ_MAP_VIEW_LAYERS),
                   TQ_OK);
  set_maps(f, maps);
  /* extrinsic: the layer's output only, never the input's Reshape */
  assert_int_equal(
      tq_session_node_match(f->s, NODE_RESHAPE, TQ_MAP_EXTRINSIC, NULL), 0);
  assert_int_equal(
      tq_session_node_match(f->s, NODE_MM1, TQ_MAP_EXTRINSIC, NULL), 0);
  assert_int_equal(
      tq_session_node_match(f->s, NODE_ADD1, TQ_MAP_EXTRINSIC, NULL), 0);
  assert_int_equal(
      tq_session_node_match(f->s, NODE_RELU, TQ_MAP_EXTRINSIC, NULL), 1);
  /* weights: Dense1's kernel and its separate bias, through the layer ID
   * (not through "Dense2Op" in the kernel's name) */
  tq_qmap_match m;
  assert_int_equal(tq_session_node_match(f->s, NODE_MM1, TQ_MAP_WEIGHTS, &m),
                   1);
  assert_string_equal(m.key, "Dense1");
  const tq_tensor *qb = tq_session_quantized_weight(f->s, NODE_ADD1, 1);
  assert_non_null(qb);
  const float *q = tq_tensor_cdata(qb);
  for (size_t k = 0; k < 6; k++) /* nearest,8,2: steps of 0.25 */
    assert_true(q[k] ==
                (float)((b1[k] < 0 ? -1 : 1) * (int)(fabsf(b1[k]) * 4 + 0.5f)) /
                    4);
  assert_non_null(tq_session_quantized_weight(f->s, NODE_MM1, 1));
  assert_non_null(tq_session_quantized_weight(f->s, NODE_ADD2, 1));
  tq_session_destroy(f->s); /* back to the default view for later tests */
  assert_int_equal(tq_session_create(f->ctx, f->g, &f->s), TQ_OK);
}

static void test_node_view_unchanged(void **state) {
  fixture *f = *state;
  set_maps(f, maps);
  /* Node by node: "Dense1" hits every node of the scope, the Reshape too,
   * and "Dense2" hits Dense1's MatMul through its kernel's name; the bias
   * Add has no weights. */
  assert_int_equal(
      tq_session_node_match(f->s, NODE_RESHAPE, TQ_MAP_EXTRINSIC, NULL), 1);
  assert_int_equal(
      tq_session_node_match(f->s, NODE_MM1, TQ_MAP_EXTRINSIC, NULL), 1);
  tq_qmap_match m;
  assert_int_equal(tq_session_node_match(f->s, NODE_MM1, TQ_MAP_WEIGHTS, &m),
                   1);
  assert_string_equal(m.key, "Dense2");
  assert_null(tq_session_quantized_weight(f->s, NODE_ADD1, 1));
}

static void test_report(void **state) {
  fixture *f = *state;
  const char *json =
      "{\"extrinsic\": {\"Nope\": \"fp16\", \"=Dense1\": \"bf16\", \"\": "
      "\"fp16\","
      " \"Dense\": \"fp8e4m3\"}, \"intrinsic\": {\"MatMul\": \"fp16\"}}";
  /* the session lets go of an earlier test's maps before they are freed */
  assert_int_equal(tq_session_set_maps(f->ctx, f->s, NULL), TQ_OK);
  tq_qmap_set_destroy(f->set);
  f->set = NULL;
  assert_int_equal(
      tq_qmap_set_parse_json(f->ctx, json, strlen(json), "r.json", &f->set),
      TQ_OK);
  assert_int_equal(tq_session_set_map_view(f->ctx, f->s, TQ_MAP_VIEW_LAYERS),
                   TQ_OK);
  tq_map_report *r = NULL;
  assert_int_equal(tq_map_report_create(f->ctx, f->s, f->set, &r), TQ_OK);
  assert_int_equal(tq_map_report_view(r), TQ_MAP_VIEW_LAYERS);
  assert_int_equal(tq_map_report_target_count(r), 2);
  tq_map_key_report k;
  assert_int_equal(tq_map_report_key(r, TQ_MAP_EXTRINSIC, 0, &k), TQ_OK);
  assert_string_equal(k.key, "Nope");
  assert_int_equal(k.n_matched, 0);
  assert_int_equal(tq_map_report_key(r, TQ_MAP_EXTRINSIC, 1, &k), TQ_OK);
  assert_int_equal(k.n_matched, 1);
  assert_int_equal(k.n_applied, 1);
  assert_int_equal(tq_map_report_key(r, TQ_MAP_EXTRINSIC, 2, &k), TQ_OK);
  assert_int_equal(k.n_matched, 2);
  assert_int_equal(k.n_applied, 1);
  assert_int_equal(tq_map_report_key(r, TQ_MAP_EXTRINSIC, 3, &k), TQ_OK);
  assert_int_equal(k.n_matched, 2); /* shadowed everywhere */
  assert_int_equal(k.n_applied, 0);
  assert_int_equal(tq_map_report_matches(r, TQ_MAP_EXTRINSIC, 3, 0), 1);
  assert_int_equal(tq_map_report_applies(r, 0, TQ_MAP_EXTRINSIC), 1);
  assert_int_equal(tq_map_report_applies(r, 1, TQ_MAP_EXTRINSIC), 2);
  /* "MatMul" is no layer's name: layer IDs are scopes, not op names. */
  assert_int_equal(tq_map_report_key(r, TQ_MAP_INTRINSIC, 0, &k), TQ_OK);
  assert_int_equal(k.n_matched, 0);
  assert_int_equal(tq_map_report_unused(r), 3);
  assert_int_equal(tq_map_report_key(r, TQ_MAP_EXTRINSIC, 4, &k), TQ_ERR_RANGE);
  tq_map_target t;
  assert_int_equal(tq_map_report_target(r, 0, &t), TQ_OK);
  assert_string_equal(t.id, "M/Dense1");
  assert_int_equal(t.n_weights, 2);
  assert_true(t.eligible[TQ_MAP_INTRINSIC] && t.eligible[TQ_MAP_WEIGHTS]);
  tq_map_report_destroy(r);

  /* Under the node view the targets are the nodes, and "MatMul" hits both
   * MatMul nodes. */
  assert_int_equal(tq_session_set_map_view(f->ctx, f->s, TQ_MAP_VIEW_NODES),
                   TQ_OK);
  assert_int_equal(tq_map_report_create(f->ctx, f->s, f->set, &r), TQ_OK);
  assert_int_equal(tq_map_report_target_count(r), N_NODES);
  assert_int_equal(tq_map_report_key(r, TQ_MAP_INTRINSIC, 0, &k), TQ_OK);
  assert_int_equal(k.n_applied, 2);
  tq_map_report_destroy(r);
  assert_int_equal(tq_session_set_map_view(f->ctx, f->s, (tq_map_view)7),
                   TQ_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grouping),
      cmocka_unit_test(test_layer_view),
      cmocka_unit_test(test_node_view_unchanged),
      cmocka_unit_test(test_report),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
