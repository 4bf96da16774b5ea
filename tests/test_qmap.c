/* Quantizer maps: matching rules, JSON loading, sections, errors. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmap/qmap_internal.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static int setup(void **state) {
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return -1;
  *state = ctx;
  return 0;
}

static int teardown(void **state) {
  tq_context_destroy(*state);
  return 0;
}

static void assert_contains(const char *haystack, const char *needle) {
  if (!haystack || !strstr(haystack, needle))
    fail_msg("expected \"%s\" in \"%s\"", needle, haystack ? haystack : "");
}

static tq_qmap *parse_ok(tq_context *ctx, const char *json, tq_map_kind kind) {
  tq_qmap *map = NULL;
  tq_status st =
      tq_qmap_parse_json(ctx, json, strlen(json), "test.json", kind, &map);
  if (st != TQ_OK) fail_msg("unexpected error: %s", tq_context_last_error(ctx));
  assert_non_null(map);
  return map;
}

/* Parses json expecting failure; returns the context's message. */
static const char *parse_fails(tq_context *ctx, const char *json,
                               tq_map_kind kind, tq_status expected) {
  tq_qmap *map = (tq_qmap *)&map; /* must be reset to NULL */
  tq_status st =
      tq_qmap_parse_json(ctx, json, strlen(json), "test.json", kind, &map);
  if (st == TQ_OK) fail_msg("no error for %s", json);
  assert_int_equal(st, expected);
  assert_null(map);
  const char *msg = tq_context_last_error(ctx);
  assert_true(msg[0] != '\0');
  return msg;
}

/* Key of the entry that resolves layer (with its weight names), or NULL. */
static const char *resolved_key(const tq_qmap *map, const char *layer,
                                const char *const *weights, size_t n) {
  tq_qmap_match m;
  int hit = tq_qmap_resolve(map, layer, weights, n, &m);
  assert_int_equal(hit, m.matched);
  return hit ? m.key : NULL;
}

static char *write_file(const char *name, const char *content) {
  char *path = tq_test_tmp_path(name);
  assert_non_null(path);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
  assert_int_equal(fclose(f), 0);
  return path;
}

/* The spec parser's own message for a bad spec. */
static char *spec_error(tq_context *ctx, const char *spec) {
  tq_quantizer *q = NULL;
  assert_int_not_equal(tq_quantizer_parse(ctx, spec, &q), TQ_OK);
  char *msg = strdup(tq_context_last_error(ctx));
  assert_non_null(msg);
  assert_true(msg[0] != '\0');
  return msg;
}

/* The canonical form of a valid spec. */
static char *canonical(tq_context *ctx, const char *spec) {
  tq_quantizer *q = NULL;
  assert_int_equal(tq_quantizer_parse(ctx, spec, &q), TQ_OK);
  char *s = strdup(tq_quantizer_spec(q));
  assert_non_null(s);
  tq_quantizer_destroy(q);
  return s;
}

static void assert_quantizer_is(tq_context *ctx, const tq_quantizer *q,
                                const char *spec) {
  assert_non_null(q);
  char *want = canonical(ctx, spec);
  assert_string_equal(tq_quantizer_spec(q), want);
  free(want);
}

/* ---- building maps through the API --------------------------------------- */

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(tq_map_kind_name(TQ_MAP_EXTRINSIC), "extrinsic");
  assert_string_equal(tq_map_kind_name(TQ_MAP_WEIGHTS), "weights");
  assert_string_equal(tq_map_kind_name(TQ_MAP_INTRINSIC), "intrinsic");
  assert_string_equal(tq_map_kind_name(TQ_MAP_GRADIENTS), "gradients");
  assert_string_equal(tq_map_kind_name(TQ_MAP_UPDATES), "updates");
  assert_null(tq_map_kind_name(TQ_MAP_KIND_COUNT));
  assert_null(tq_map_kind_name((tq_map_kind)-1));
}

static void test_create_add_entry(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_WEIGHTS, &map), TQ_OK);
  assert_int_equal(tq_qmap_kind(map), TQ_MAP_WEIGHTS);
  assert_int_equal(tq_qmap_size(map), 0);
  assert_int_equal(tq_qmap_add(ctx, map, "Conv1", "nearest,8,4"), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, map, "", "fp16"), TQ_OK);
  assert_int_equal(tq_qmap_size(map), 2);

  const char *key = NULL;
  const tq_qmap_value *v = NULL;
  assert_int_equal(tq_qmap_entry(map, 0, &key, &v), TQ_OK);
  assert_string_equal(key, "Conv1");
  assert_quantizer_is(ctx, v->quantizer, "nearest,8,4");
  /* Only intrinsic maps fill product and sum. */
  assert_null(v->product);
  assert_null(v->sum);
  assert_null(v->accumulator);
  assert_int_equal(tq_qmap_entry(map, 1, &key, &v), TQ_OK);
  assert_string_equal(key, "");
  assert_quantizer_is(ctx, v->quantizer, "fp16");
  assert_int_equal(tq_qmap_entry(map, 2, &key, &v), TQ_ERR_RANGE);
  assert_int_equal(tq_qmap_entry(NULL, 0, &key, &v), TQ_ERR_INVALID_ARGUMENT);
  tq_qmap_destroy(map);

  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_KIND_COUNT, &map),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_null(map);
  assert_int_equal(tq_qmap_size(NULL), 0);
  tq_qmap_destroy(NULL);
}

static void test_add_errors(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_EXTRINSIC, &map), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, map, NULL, "fp16"),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_qmap_add(ctx, map, "k", NULL), TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_qmap_add(ctx, NULL, "k", "fp16"),
                   TQ_ERR_INVALID_ARGUMENT);

  char *parser_msg = spec_error(ctx, "nearst,8,4");
  tq_status st = tq_qmap_add(ctx, map, "block1/Conv", "nearst,8,4");
  assert_true(st == TQ_ERR_PARSE || st == TQ_ERR_RANGE);
  const char *msg = tq_context_last_error(ctx);
  assert_contains(msg, "'block1/Conv'");
  assert_contains(msg, parser_msg);
  free(parser_msg);

  /* Intrinsic objects only in intrinsic maps. */
  assert_int_equal(
      tq_qmap_add_intrinsic(ctx, map, "k", "nearest,8,4", NULL, NULL),
      TQ_ERR_INVALID_ARGUMENT);
  assert_contains(tq_context_last_error(ctx), "intrinsic");
  assert_int_equal(tq_qmap_size(map), 0);
  tq_qmap_destroy(map);
}

static void test_add_intrinsic(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_INTRINSIC, &map), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, map, "Conv", "nearest,8,4"), TQ_OK);
  assert_int_equal(tq_qmap_add_intrinsic(ctx, map, "Dense", "nearest,8,4", NULL,
                                         "nearest,24,8,overflow=wrap"),
                   TQ_OK);
  assert_int_equal(
      tq_qmap_add_intrinsic(ctx, map, "Gemm", NULL, "nearest,16,8", NULL),
      TQ_OK);

  const tq_qmap_value *v = NULL;
  assert_int_equal(tq_qmap_entry(map, 0, NULL, &v), TQ_OK);
  /* String form: TensorQuant's one quantizer for products and sum. */
  assert_non_null(v->quantizer);
  assert_ptr_equal(v->product, v->quantizer);
  assert_ptr_equal(v->sum, v->quantizer);
  assert_null(v->accumulator);

  assert_int_equal(tq_qmap_entry(map, 1, NULL, &v), TQ_OK);
  assert_null(v->quantizer);
  assert_quantizer_is(ctx, v->product, "nearest,8,4");
  assert_null(v->sum);
  assert_quantizer_is(ctx, v->accumulator, "nearest,24,8,overflow=wrap");

  assert_int_equal(tq_qmap_entry(map, 2, NULL, &v), TQ_OK);
  assert_null(v->quantizer);
  assert_null(v->product);
  assert_quantizer_is(ctx, v->sum, "nearest,16,8");
  assert_null(v->accumulator);

  assert_int_equal(
      tq_qmap_add_intrinsic(ctx, map, "X", NULL, "nearest,8,4", "nearest,8,4"),
      TQ_ERR_FORMAT);
  assert_contains(tq_context_last_error(ctx), "not both");
  assert_int_equal(tq_qmap_add_intrinsic(ctx, map, "Y", NULL, NULL, NULL),
                   TQ_ERR_FORMAT);
  assert_contains(tq_context_last_error(ctx), "'Y'");

  char *parser_msg = spec_error(ctx, "nearest,8");
  assert_int_not_equal(
      tq_qmap_add_intrinsic(ctx, map, "Z", NULL, NULL, "nearest,8"), TQ_OK);
  assert_contains(tq_context_last_error(ctx), "'Z'");
  assert_contains(tq_context_last_error(ctx), "accumulator");
  assert_contains(tq_context_last_error(ctx), parser_msg);
  free(parser_msg);
  assert_int_equal(tq_qmap_size(map), 3);
  tq_qmap_destroy(map);
}

/* Pointers to entries stay valid while a map grows. */
static void test_pointers_survive_growth(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_EXTRINSIC, &map), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, map, "first", "fp16"), TQ_OK);
  const char *key0 = NULL;
  const tq_qmap_value *v0 = NULL;
  assert_int_equal(tq_qmap_entry(map, 0, &key0, &v0), TQ_OK);
  for (int i = 0; i < 500; i++) {
    char key[32];
    snprintf(key, sizeof key, "layer%d/", i);
    assert_int_equal(tq_qmap_add(ctx, map, key, "nearest,8,4"), TQ_OK);
  }
  const char *key = NULL;
  const tq_qmap_value *v = NULL;
  assert_int_equal(tq_qmap_entry(map, 0, &key, &v), TQ_OK);
  assert_ptr_equal(key, key0);
  assert_ptr_equal(v, v0);
  assert_string_equal(key0, "first");
  /* The trailing '/' keeps "layer4/" from matching inside "layer499/". */
  assert_string_equal(resolved_key(map, "net/layer499/conv", NULL, 0),
                      "layer499/");
  tq_qmap_destroy(map);
}

/* ---- matching ------------------------------------------------------------ */

static void test_first_match_in_file_order(void **state) {
  tq_context *ctx = *state;
  /* Not alphabetical, and both keys match "Block/Conv1": the first wins. */
  tq_qmap *map = parse_ok(ctx,
                          "{\"Conv1\": \"nearest,8,4\", \"Block\": \"fp16\", "
                          "\"Conv\": \"nearest,16,8\"}",
                          TQ_MAP_EXTRINSIC);
  tq_qmap_match m;
  assert_int_equal(tq_qmap_resolve(map, "Block/Conv1", NULL, 0, &m), 1);
  assert_int_equal(m.entry, 0);
  assert_string_equal(m.key, "Conv1");
  assert_quantizer_is(ctx, m.value->quantizer, "nearest,8,4");
  assert_string_equal(resolved_key(map, "Block/Conv2", NULL, 0), "Block");
  assert_string_equal(resolved_key(map, "Other/Conv2", NULL, 0), "Conv");
  tq_qmap_destroy(map);

  /* Same keys, other order: the other key wins. */
  map = parse_ok(ctx, "{\"Block\": \"fp16\", \"Conv1\": \"nearest,8,4\"}",
                 TQ_MAP_EXTRINSIC);
  assert_string_equal(resolved_key(map, "Block/Conv1", NULL, 0), "Block");
  tq_qmap_destroy(map);
}

/* jansson must hand us keys in file order, not hash order: 300 keys in a
 * scrambled order come back exactly as written, and the last written of
 * several matching keys never wins. */
static void test_many_keys_keep_file_order(void **state) {
  tq_context *ctx = *state;
  enum { N = 300 };
  char *json = malloc(N * 40 + 64);
  assert_non_null(json);
  size_t used = 0;
  used += (size_t)sprintf(json + used, "{");
  for (int i = 0; i < N; i++) {
    int id = (i * 7919) % 1000; /* a scrambled, duplicate-free order */
    used += (size_t)sprintf(json + used, "%s\"k%03d\": \"nearest,8,4\"",
                            i ? ", " : "", id);
  }
  sprintf(json + used, "}");
  tq_qmap *map = parse_ok(ctx, json, TQ_MAP_EXTRINSIC);
  free(json);
  assert_int_equal(tq_qmap_size(map), N);
  for (int i = 0; i < N; i++) {
    char want[16];
    snprintf(want, sizeof want, "k%03d", (i * 7919) % 1000);
    const char *key = NULL;
    assert_int_equal(tq_qmap_entry(map, (size_t)i, &key, NULL), TQ_OK);
    assert_string_equal(key, want);
  }
  /* A layer containing every key: the first key written wins. */
  char layer[N * 5 + 1];
  size_t n = 0;
  for (int i = N - 1; i >= 0; i--)
    n += (size_t)sprintf(layer + n, "k%03d/", (i * 7919) % 1000);
  char first[16];
  snprintf(first, sizeof first, "k%03d", 0);
  assert_string_equal(resolved_key(map, layer, NULL, 0), first);
  tq_qmap_destroy(map);
}

/* "=" keys match whole segments between '/', '.' and ':' (docs/maps.md,
 * "Exact segments"): Conv2 no longer hits Conv1 through TensorFlow's
 * Conv2D op name, layer1 no longer hits layer10. */
static void test_exact_segments(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map =
      parse_ok(ctx,
               "{\"=Conv2\": \"nearest,8,4\", \"=layer1\": \"fp16\", "
               "\"=a/b.c\": \"bf16\"}",
               TQ_MAP_WEIGHTS);
  const char *const tf_conv1[] = {"LeNet/Conv1/Conv2D/ReadVariableOp:0"};
  assert_null(resolved_key(map, "LeNet/Conv1", tf_conv1, 1));
  assert_string_equal(resolved_key(map, "LeNet/Conv2", NULL, 0), "=Conv2");
  assert_string_equal(resolved_key(map, "LeNet/Conv2/BiasAdd", NULL, 0),
                      "=Conv2");
  const char *const torch_w[] = {"Conv2.weight"};
  assert_string_equal(resolved_key(map, "/Conv_3", torch_w, 1), "=Conv2");
  assert_string_equal(resolved_key(map, "x:Conv2", NULL, 0), "=Conv2");
  assert_null(resolved_key(map, "LeNet/Conv22", NULL, 0));
  assert_null(resolved_key(map, "LeNet/xConv2", NULL, 0));
  assert_null(resolved_key(map, "LeNet/Conv2_1", NULL, 0));
  /* A later occurrence at boundaries counts after an earlier one that is
   * not at boundaries. */
  assert_string_equal(resolved_key(map, "Conv2D/Conv2", NULL, 0), "=Conv2");
  const char *const l1[] = {"layer1.0.conv1.weight"};
  assert_string_equal(resolved_key(map, "/Conv_9", l1, 1), "=layer1");
  const char *const l10[] = {"layer10.0.conv1.weight"};
  assert_null(resolved_key(map, "/layer10/layer10.0/conv1/Conv", l10, 1));
  /* Several segments at once, separators as written. */
  assert_string_equal(resolved_key(map, "x/a/b.c/d", NULL, 0), "=a/b.c");
  assert_null(resolved_key(map, "x/a/b.cd", NULL, 0));
  assert_null(resolved_key(map, "xa/b.c", NULL, 0));
  tq_qmap_destroy(map);

  /* "=" alone names nothing. */
  assert_contains(
      parse_fails(ctx, "{\"=\": \"fp16\"}", TQ_MAP_EXTRINSIC, TQ_ERR_PARSE),
      "an exact-segment key needs a name after '='");
}

static void test_substring_layer_and_weights(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = parse_ok(ctx,
                          "{\"layer1.0.conv1\": \"nearest,8,4\", "
                          "\"Convolution_Block\": \"fp16\"}",
                          TQ_MAP_WEIGHTS);
  /* ONNX exporters give nodes meaningless names; the weight name helps. */
  const char *const weights[] = {"onnx::Conv_193", "layer1.0.conv1.weight"};
  tq_qmap_match m;
  assert_int_equal(
      tq_qmap_resolve(map, "/layer1/layer1.0/conv1/Conv", weights, 2, &m), 1);
  assert_int_equal(m.entry, 0);
  assert_string_equal(m.key, "layer1.0.conv1");
  assert_ptr_equal(m.via, weights[1]);
  assert_quantizer_is(ctx, m.value->quantizer, "nearest,8,4");

  /* Without the weight names nothing matches. */
  assert_int_equal(
      tq_qmap_resolve(map, "/layer1/layer1.0/conv1/Conv", NULL, 0, &m), 0);
  assert_int_equal(m.matched, 0);

  /* A scope name matches every layer inside it, via the layer ID. */
  const char *id = "LeNet/Convolution_Block/Conv1";
  assert_int_equal(tq_qmap_resolve(map, id, weights, 1, &m), 1);
  assert_string_equal(m.key, "Convolution_Block");
  assert_ptr_equal(m.via, id);

  /* Matching is case-sensitive and needs the whole key. */
  assert_null(resolved_key(map, "lenet/convolution_block/conv1", NULL, 0));
  assert_null(resolved_key(map, "layer1.0.conv", NULL, 0));
  /* NULL names are skipped, not dereferenced. */
  const char *const holes[] = {NULL, "layer1.0.conv1.bias"};
  assert_string_equal(resolved_key(map, NULL, holes, 2), "layer1.0.conv1");
  tq_qmap_destroy(map);
}

/* An earlier key matching only a weight name beats a later key matching
 * the layer ID: order decides, not what matched. */
static void test_order_beats_match_kind(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = parse_ok(ctx, "{\"fc.weight\": \"fp16\", \"Gemm\": \"bf16\"}",
                          TQ_MAP_EXTRINSIC);
  const char *const w[] = {"fc.weight", "fc.bias"};
  tq_qmap_match m;
  assert_int_equal(tq_qmap_resolve(map, "/fc/Gemm", w, 2, &m), 1);
  assert_string_equal(m.key, "fc.weight");
  assert_ptr_equal(m.via, w[0]);
  tq_qmap_destroy(map);
}

static void test_empty_key_fallback(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = parse_ok(ctx, "{\"Conv1\": \"nearest,12,11\", \"\": \"fp16\"}",
                          TQ_MAP_EXTRINSIC);
  tq_qmap_match m;
  assert_int_equal(tq_qmap_resolve(map, "LeNet/Conv1", NULL, 0, &m), 1);
  assert_int_equal(m.entry, 0);
  assert_int_equal(tq_qmap_resolve(map, "LeNet/Dense", NULL, 0, &m), 1);
  assert_int_equal(m.entry, 1);
  assert_string_equal(m.key, "");
  assert_quantizer_is(ctx, m.value->quantizer, "fp16");
  /* "" even matches an empty layer ID. */
  assert_int_equal(tq_qmap_resolve(map, "", NULL, 0, &m), 1);
  tq_qmap_destroy(map);

  map = parse_ok(ctx, "{\"Conv1\": \"nearest,12,11\"}", TQ_MAP_EXTRINSIC);
  assert_int_equal(tq_qmap_resolve(map, "LeNet/Dense", NULL, 0, &m), 0);
  assert_int_equal(m.matched, 0);
  assert_null(m.value);
  assert_null(m.key);
  tq_qmap_destroy(map);
  /* No map at all: every layer stays float. */
  assert_int_equal(tq_qmap_resolve(NULL, "LeNet/Dense", NULL, 0, &m), 0);
  assert_int_equal(tq_qmap_resolve(NULL, "LeNet/Dense", NULL, 0, NULL), 0);
}

static void test_regex_keys(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = parse_ok(ctx,
                          "{\"re:^LeNet/.*Conv[0-9]+$\": \"nearest,8,4\", "
                          "\"re:conv[12]\": \"fp16\", "
                          "\"re:\\\\.bias$\": \"bf16\", "
                          "\"(plain)\": \"nearest,16,8\"}",
                          TQ_MAP_EXTRINSIC);
  assert_string_equal(resolved_key(map, "LeNet/Block/Conv12", NULL, 0),
                      "re:^LeNet/.*Conv[0-9]+$");
  assert_null(resolved_key(map, "LeNet/Block/Conv12/Relu", NULL, 0));
  /* Unanchored search, anywhere in the name. */
  assert_string_equal(resolved_key(map, "net/conv2/x", NULL, 0), "re:conv[12]");
  assert_null(resolved_key(map, "net/conv3/x", NULL, 0));
  const char *const w[] = {"fc.weight", "fc.bias"};
  tq_qmap_match m;
  assert_int_equal(tq_qmap_resolve(map, "/fc/Gemm", w, 2, &m), 1);
  assert_string_equal(m.key, "re:\\.bias$");
  assert_ptr_equal(m.via, w[1]);
  /* Without "re:" a key is a plain substring, metacharacters and all. */
  assert_string_equal(resolved_key(map, "a/(plain)/b", NULL, 0), "(plain)");
  assert_null(resolved_key(map, "a/plain/b", NULL, 0));
  tq_qmap_destroy(map);
}

/* What layer-name patterns use stays allowed; a "?" on something that
 * already matches the empty string (".*?") is dropped, which changes no
 * match. */
static void test_regex_redundant_dropped(void **state) {
  tq_context *ctx = *state;
  static const struct {
    const char *in, *out;
  } kept[] = {
      {"^/layer[0-9]+/.*?conv(_[0-9]+)?$", "^/layer[0-9]+/.*conv(_[0-9]+)?$"},
      {"((a|b)*c)*x", "((a|b)*c)*x"},
      {"((ab*)c)*?", "((ab*)c)*"},
      {"(ab)?{1}(cd){0,1}?x*{,1}", "(ab)?(cd){0,1}x*"},
      {"(a*){0}", NULL}, /* {0} is not redundant: refused */
      {"(^|/)conv(1|2)$", "(^|/)conv(1|2)$"},
      {"*a", "*a"}, /* regcomp's own error */
      {"[*?]?", "[*?]?"},
      {"a{,}b{,2}?", "a{,}b{,2}"}, /* {,} is glibc's {0,} */
      {"a\\??", "a\\??"}};
  for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
    char out[64];
    const char *reason = tq_qmap_regex_prepare(kept[i].in, out);
    if (!kept[i].out) {
      assert_non_null(reason);
      continue;
    }
    if (reason) fail_msg("%s refused: %s", kept[i].in, reason);
    assert_string_equal(out, kept[i].out);
  }
  tq_qmap *lazy =
      parse_ok(ctx,
               "{\"re:^/layer[0-9]+/.*?conv(_[0-9]+)?$\": \"fp16\", "
               "\"re:((a|b)*c)*x\": \"fp16\", \"re:(ab*){2}\": \"fp16\"}",
               TQ_MAP_EXTRINSIC);
  assert_string_equal(resolved_key(lazy, "/layer12/blockconv_3", NULL, 0),
                      "re:^/layer[0-9]+/.*?conv(_[0-9]+)?$");
  assert_null(resolved_key(lazy, "/layerX/conv", NULL, 0));
  assert_string_equal(resolved_key(lazy, "abcbx", NULL, 0), "re:((a|b)*c)*x");
  assert_string_equal(resolved_key(lazy, "abbba", NULL, 0), "re:(ab*){2}");
  tq_qmap_destroy(lazy);
}

static void test_regex_errors(void **state) {
  tq_context *ctx = *state;
  const char *msg =
      parse_fails(ctx, "{\"ok\": \"fp16\", \"re:conv(\": \"fp16\"}",
                  TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "test.json");
  assert_contains(msg, "'re:conv('");
  assert_contains(msg, "regular expression");
  /* The message carries regerror's own explanation. */
  regex_t re;
  int rc = regcomp(&re, "conv(", REG_EXTENDED | REG_NOSUB);
  assert_int_not_equal(rc, 0);
  char why[256];
  regerror(rc, &re, why, sizeof why);
  assert_contains(msg, why);

  msg = parse_fails(ctx, "{\"re:(a)\\\\1\": \"fp16\"}", TQ_MAP_EXTRINSIC,
                    TQ_ERR_PARSE);
  assert_contains(msg, "back-reference");
  /* Patterns that would make regcomp blow up are refused up front. */
  msg = parse_fails(ctx, "{\"re:(a{999}){999}\": \"fp16\"}", TQ_MAP_EXTRINSIC,
                    TQ_ERR_PARSE);
  assert_contains(msg, "too large");
  /* Shapes on which regcomp takes exponential time are refused (found by
   * fuzz_qmap: "^L" and 70 stars ran past libFuzzer's 20-minute timeout). */
  static const struct {
    const char *key, *why;
  } refused[] = {{"re:^L***", "empty string"},
                 {"re:(a*)*?", "empty string"},
                 {"re:a*?+", "empty string"},
                 {"re:((a*)*)*", "empty string"},
                 {"re:(a|b*)*?", "empty string"},
                 {"re:^(a?)*(a?)*", "empty string"},
                 {"re:()*{0,30}", "empty groups"},
                 {"re:((a|)*){0,30}", "empty groups"},
                 {"re:(()*){0,5}", "empty groups"},
                 {"re:(|)*+", "empty groups"},
                 {"re:^()+", "empty groups"},
                 {"re:(^)*", "empty string"},
                 {"re:(^|a){2}", "empty string"},
                 {"re:(a{1,2})*+", "empty string"},
                 {"re:(x+){2}?", "more than 2"},
                 {"re:(a(b(c)?)?)?", "more than 2"},
                 {"re:((a+)b)+?", "more than 2"},
                 {"re:a+++", "more than 2"},
                 {"re:((a|b)*c?)*x", "empty string"},
                 {"re:a|", "empty groups"},
                 {"re:|a", "empty groups"},
                 {"re:(a||b)", "empty groups"},
                 {"re:^a*{,}", "empty string"},
                 {"re:(^|/)?conv", "empty string"},
                 {"re:^a$|^b$|^c$|^d$|^e$", "more than 8 anchors"},
                 {"re:()(()|^)", "empty groups"}};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    char json[64];
    snprintf(json, sizeof json, "{\"%s\": \"fp16\"}", refused[i].key);
    msg = parse_fails(ctx, json, TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
    assert_contains(msg, refused[i].key);
    assert_contains(msg, refused[i].why);
  }
  msg = parse_fails(ctx, "{\"re:\\\\ba\": \"fp16\"}", TQ_MAP_EXTRINSIC,
                    TQ_ERR_PARSE);
  assert_contains(msg, "GNU extensions");
  msg = parse_fails(ctx, "{\"re:(ab){501}\": \"fp16\"}", TQ_MAP_EXTRINSIC,
                    TQ_ERR_PARSE);
  assert_contains(msg, "too large");
  /* glibc's {,n} (= {0,n}) counts too (found by fuzz_qmap: 2.3 GB) */
  msg = parse_fails(ctx, "{\"re:^LeN(ab)4{,31113}z\": \"fp16\"}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "too large");
  tq_qmap_destroy(
      parse_ok(ctx, "{\"re:^L(ab){,3}z\": \"fp16\"}", TQ_MAP_EXTRINSIC));
  char deep[200];
  snprintf(deep, sizeof deep, "{\"re:%.40s%.40s\": \"fp16\"}",
           "((((((((((((((((((((((((((((((((((((((((",
           "))))))))))))))))))))))))))))))))))))))))");
  msg = parse_fails(ctx, deep, TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "nested");
  /* But ordinary bounded repetition is fine. */
  tq_qmap *map =
      parse_ok(ctx, "{\"re:^(ab){2,3}c+\": \"fp16\"}", TQ_MAP_EXTRINSIC);
  assert_non_null(resolved_key(map, "ababc", NULL, 0));
  assert_null(resolved_key(map, "abc", NULL, 0));
  tq_qmap_destroy(map);
  /* x, (a) up to 998 times, y: exactly the limit of 1000 elements. */
  map = parse_ok(ctx, "{\"re:x(a){1,998}y\": \"fp16\"}", TQ_MAP_EXTRINSIC);
  assert_non_null(resolved_key(map, "xaay", NULL, 0));
  tq_qmap_destroy(map);
}

/* ---- JSON files ---------------------------------------------------------- */

static void test_load_file_and_spec_fallback(void **state) {
  tq_context *ctx = *state;
  char *path = write_file("qmap_flat.json",
                          "{\n  \"Conv1\": \"nearest,12,11\",\n"
                          "  \"Dense\": \"nearest,16,8\"\n}\n");
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_EXTRINSIC, &map), TQ_OK);
  assert_int_equal(tq_qmap_size(map), 2);
  assert_int_equal(tq_qmap_kind(map), TQ_MAP_EXTRINSIC);
  assert_string_equal(resolved_key(map, "LeNet/Dense", NULL, 0), "Dense");
  tq_qmap_destroy(map);
  /* A flat file is whatever kind the caller asks for. */
  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_GRADIENTS, &map), TQ_OK);
  assert_int_equal(tq_qmap_kind(map), TQ_MAP_GRADIENTS);
  assert_int_equal(tq_qmap_size(map), 2);
  tq_qmap_destroy(map);
  free(path);

  /* Not a file: one spec for every layer, as {"": spec}. */
  assert_int_equal(tq_qmap_load(ctx, "nearest,8,4", TQ_MAP_WEIGHTS, &map),
                   TQ_OK);
  assert_int_equal(tq_qmap_size(map), 1);
  const char *key = NULL;
  const tq_qmap_value *v = NULL;
  assert_int_equal(tq_qmap_entry(map, 0, &key, &v), TQ_OK);
  assert_string_equal(key, "");
  assert_quantizer_is(ctx, v->quantizer, "nearest,8,4");
  assert_string_equal(resolved_key(map, "anything/at/all", NULL, 0), "");
  tq_qmap_destroy(map);

  /* Intrinsic spec strings are TensorQuant's form. */
  assert_int_equal(tq_qmap_load(ctx, "nearest,8,4", TQ_MAP_INTRINSIC, &map),
                   TQ_OK);
  assert_int_equal(tq_qmap_entry(map, 0, NULL, &v), TQ_OK);
  assert_ptr_equal(v->product, v->quantizer);
  assert_ptr_equal(v->sum, v->quantizer);
  tq_qmap_destroy(map);
}

static void test_load_neither_file_nor_spec(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = (tq_qmap *)&map;
  char *parser_msg = spec_error(ctx, "maps/missing.json");
  assert_int_not_equal(
      tq_qmap_load(ctx, "maps/missing.json", TQ_MAP_EXTRINSIC, &map), TQ_OK);
  assert_null(map);
  const char *msg = tq_context_last_error(ctx);
  assert_contains(msg, "maps/missing.json");
  assert_contains(msg, "neither a readable map file");
  assert_contains(msg, "No such file");
  assert_contains(msg, "nor a valid quantizer spec");
  assert_contains(msg, parser_msg);
  free(parser_msg);

  /* A directory is not a map file either. */
  assert_int_equal(tq_qmap_load(ctx, TQ_TEST_TMP_DIR, TQ_MAP_EXTRINSIC, &map),
                   TQ_ERR_IO);
  assert_contains(tq_context_last_error(ctx), "a directory");

  assert_int_equal(tq_qmap_load(ctx, NULL, TQ_MAP_EXTRINSIC, &map),
                   TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_qmap_load(ctx, "fp16", TQ_MAP_KIND_COUNT, &map),
                   TQ_ERR_INVALID_ARGUMENT);
}

static void test_malformed_json_location(void **state) {
  tq_context *ctx = *state;
  /* The missing ':' is on line 3; jansson points at the '1' in column 11. */
  char *path = write_file(
      "qmap_bad.json", "{\n  \"Conv1\": \"nearest,8,4\",\n  \"Dense\" 1\n}\n");
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_EXTRINSIC, &map),
                   TQ_ERR_PARSE);
  assert_null(map);
  const tq_error_info *info = tq_context_error_info(ctx);
  assert_int_equal(info->line, 3);
  assert_int_equal(info->column, 11);
  assert_string_equal(info->source, path);
  char where[512];
  snprintf(where, sizeof where, "%s:3:11:", path);
  assert_contains(info->message, where);
  assert_contains(info->message, "invalid JSON");
  assert_contains(info->message, "':' expected");

  /* The set loader reports the same way. */
  tq_qmap_set *set = NULL;
  assert_int_equal(tq_qmap_set_load(ctx, path, &set), TQ_ERR_PARSE);
  assert_null(set);
  assert_contains(tq_context_last_error(ctx), where);
  free(path);

  const char *msg = parse_fails(ctx, "", TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "test.json:1:");
  msg = parse_fails(ctx, "{\"a\": \"fp16\",\n\"a\": \"fp16\"}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "test.json:2:");
  assert_contains(msg, "duplicate");
  msg = parse_fails(ctx, "{\"a\": \"fp16\"} trailing", TQ_MAP_EXTRINSIC,
                    TQ_ERR_PARSE);
  assert_contains(msg, "end of file expected");
}

static void test_structure_errors(void **state) {
  tq_context *ctx = *state;
  const char *msg =
      parse_fails(ctx, "[\"nearest,8,4\"]", TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "test.json");
  assert_contains(msg, "JSON object");
  assert_contains(msg, "an array");

  msg = parse_fails(ctx, "{\"Conv1\": 8}", TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "'Conv1'");
  assert_contains(msg, "spec string");
  assert_contains(msg, "a number");
  msg = parse_fails(ctx, "{\"a\": \"fp16\", \"Conv1\": null}", TQ_MAP_WEIGHTS,
                    TQ_ERR_FORMAT);
  assert_contains(msg, "'Conv1'");
  assert_contains(msg, "null");
  msg = parse_fails(ctx, "{\"Conv1\": [\"fp16\"]}", TQ_MAP_INTRINSIC,
                    TQ_ERR_FORMAT);
  assert_contains(msg, "an array");
  msg = parse_fails(ctx, "{\"Conv1\": {\"product\": \"fp16\"}}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "only allowed in intrinsic maps");

  /* jansson refuses NUL in keys and (by default) in strings. */
  static const char nul_key[] = "{\"a\\u0000b\": \"fp16\"}";
  msg = parse_fails(ctx, nul_key, TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "NUL");
  static const char nul_value[] = "{\"a\": \"fp16\\u0000\"}";
  parse_fails(ctx, nul_value, TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  /* A raw NUL byte inside the text. */
  static const char raw[] = "{\"a\": \"fp\0\"}";
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_parse_json(ctx, raw, sizeof raw - 1, "raw",
                                      TQ_MAP_EXTRINSIC, &map),
                   TQ_ERR_PARSE);
  assert_null(map);

  assert_int_equal(
      tq_qmap_parse_json(ctx, NULL, 0, "x", TQ_MAP_EXTRINSIC, &map),
      TQ_ERR_INVALID_ARGUMENT);
}

static void test_deep_and_huge(void **state) {
  tq_context *ctx = *state;
  enum { DEPTH = 100000 };
  char *deep = malloc(2 * DEPTH + 1);
  assert_non_null(deep);
  memset(deep, '[', DEPTH);
  memset(deep + DEPTH, ']', DEPTH);
  deep[2 * DEPTH] = '\0';
  parse_fails(ctx, deep, TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  for (int i = 0; i < DEPTH; i++) deep[i] = i % 2 ? '[' : '{';
  tq_qmap *map = NULL;
  assert_int_not_equal(
      tq_qmap_parse_json(ctx, deep, DEPTH, "deep", TQ_MAP_EXTRINSIC, &map),
      TQ_OK);
  assert_null(map);
  free(deep);

  /* A 65 MiB file (sparse, so cheap to make) is refused without reading. */
  char *path = tq_test_tmp_path("qmap_huge.json");
  assert_non_null(path);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), (off_t)65 << 20), 0);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_EXTRINSIC, &map),
                   TQ_ERR_RANGE);
  assert_null(map);
  assert_contains(tq_context_last_error(ctx), "too large");
  remove(path);
  free(path);
}

static void test_bad_spec_names_file_and_key(void **state) {
  tq_context *ctx = *state;
  char *parser_msg = spec_error(ctx, "nearest,8");
  const char *msg = parse_fails(
      ctx, "{\"Conv1\": \"nearest,8,4\", \"LeNet/Dense\": \"nearest,8\"}",
      TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "test.json");
  assert_contains(msg, "'LeNet/Dense'");
  assert_contains(msg, parser_msg);
  assert_string_equal(tq_context_error_info(ctx)->source, "test.json");
  free(parser_msg);

  parser_msg = spec_error(ctx, "");
  tq_status empty_status = tq_context_error_info(ctx)->status;
  msg = parse_fails(ctx, "{\"x\": \"\"}", TQ_MAP_EXTRINSIC, empty_status);
  assert_contains(msg, "'x'");
  assert_contains(msg, parser_msg);
  free(parser_msg);

  /* In a sectioned file the section is named too. */
  parser_msg = spec_error(ctx, "nearst,8,4");
  msg = parse_fails(ctx,
                    "{\"extrinsic\": {\"a\": \"fp16\"}, "
                    "\"weights\": {\"Conv1\": \"nearst,8,4\"}}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_PARSE);
  assert_contains(msg, "'Conv1'");
  assert_contains(msg, "section 'weights'");
  assert_contains(msg, parser_msg);
  free(parser_msg);
}

/* ---- sections ------------------------------------------------------------ */

static const char sectioned_json[] =
    "{\n"
    "  \"weights\": {\"Conv1\": \"nearest,8,4\", \"\": \"nearest,16,8\"},\n"
    "  \"extrinsic\": {\"Dense\": \"fp16\"},\n"
    "  \"intrinsic\": {\n"
    "    \"Conv\": \"nearest,12,6\",\n"
    "    \"Dense\": {\"product\": \"nearest,8,4\",\n"
    "              \"accumulator\": \"nearest,24,8,overflow=wrap\"},\n"
    "    \"Gemm\": {\"product\": \"nearest,8,4\", \"sum\": \"nearest,16,8\"},\n"
    "    \"MatMul\": {\"accumulator\": \"nearest,32,8\"}\n"
    "  }\n"
    "}\n";

static void test_sectioned_file(void **state) {
  tq_context *ctx = *state;
  char *path = write_file("qmap_sections.json", sectioned_json);
  tq_qmap *map = NULL;
  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_WEIGHTS, &map), TQ_OK);
  assert_int_equal(tq_qmap_kind(map), TQ_MAP_WEIGHTS);
  assert_int_equal(tq_qmap_size(map), 2);
  assert_string_equal(resolved_key(map, "LeNet/Conv1", NULL, 0), "Conv1");
  assert_string_equal(resolved_key(map, "LeNet/Dense", NULL, 0), "");
  tq_qmap_destroy(map);

  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_EXTRINSIC, &map), TQ_OK);
  assert_int_equal(tq_qmap_size(map), 1);
  assert_null(resolved_key(map, "LeNet/Conv1", NULL, 0));
  tq_qmap_destroy(map);

  /* A section the file does not have gives an empty map. */
  assert_int_equal(tq_qmap_load(ctx, path, TQ_MAP_UPDATES, &map), TQ_OK);
  assert_int_equal(tq_qmap_kind(map), TQ_MAP_UPDATES);
  assert_int_equal(tq_qmap_size(map), 0);
  assert_null(resolved_key(map, "LeNet/Conv1", NULL, 0));
  tq_qmap_destroy(map);

  tq_qmap_set *set = NULL;
  assert_int_equal(tq_qmap_set_load(ctx, path, &set), TQ_OK);
  assert_int_equal(tq_qmap_size(tq_qmap_set_get(set, TQ_MAP_WEIGHTS)), 2);
  assert_int_equal(tq_qmap_size(tq_qmap_set_get(set, TQ_MAP_EXTRINSIC)), 1);
  assert_int_equal(tq_qmap_size(tq_qmap_set_get(set, TQ_MAP_INTRINSIC)), 4);
  assert_null(tq_qmap_set_get(set, TQ_MAP_GRADIENTS));
  assert_null(tq_qmap_set_get(set, TQ_MAP_UPDATES));
  assert_null(tq_qmap_set_get(set, TQ_MAP_KIND_COUNT));
  assert_int_equal(tq_qmap_kind(tq_qmap_set_get(set, TQ_MAP_INTRINSIC)),
                   TQ_MAP_INTRINSIC);
  tq_qmap_set_destroy(set);
  free(path);
}

static void test_intrinsic_objects(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = NULL;
  assert_int_equal(
      tq_qmap_parse_json(ctx, sectioned_json, strlen(sectioned_json), "s.json",
                         TQ_MAP_INTRINSIC, &map),
      TQ_OK);
  tq_qmap_match m;
  assert_int_equal(tq_qmap_resolve(map, "net/Conv", NULL, 0, &m), 1);
  assert_quantizer_is(ctx, m.value->quantizer, "nearest,12,6");
  assert_ptr_equal(m.value->product, m.value->quantizer);
  assert_ptr_equal(m.value->sum, m.value->quantizer);
  assert_null(m.value->accumulator);

  assert_int_equal(tq_qmap_resolve(map, "net/Dense", NULL, 0, &m), 1);
  assert_null(m.value->quantizer);
  assert_quantizer_is(ctx, m.value->product, "nearest,8,4");
  assert_null(m.value->sum);
  assert_quantizer_is(ctx, m.value->accumulator, "nearest,24,8,overflow=wrap");

  assert_int_equal(tq_qmap_resolve(map, "net/Gemm", NULL, 0, &m), 1);
  assert_null(m.value->quantizer);
  assert_quantizer_is(ctx, m.value->product, "nearest,8,4");
  assert_quantizer_is(ctx, m.value->sum, "nearest,16,8");
  assert_null(m.value->accumulator);

  /* Without "product", products are exact. */
  assert_int_equal(tq_qmap_resolve(map, "net/MatMul", NULL, 0, &m), 1);
  assert_null(m.value->product);
  assert_null(m.value->sum);
  assert_quantizer_is(ctx, m.value->accumulator, "nearest,32,8");
  tq_qmap_destroy(map);
}

static void test_intrinsic_object_errors(void **state) {
  tq_context *ctx = *state;
  const char *msg = parse_fails(
      ctx,
      "{\"Conv\": {\"product\": \"nearest,8,4\", \"sum\": \"nearest,16,8\", "
      "\"accumulator\": \"nearest,24,8\"}}",
      TQ_MAP_INTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "'Conv'");
  assert_contains(msg, "not both");

  msg = parse_fails(ctx, "{\"Conv\": {\"prodcut\": \"nearest,8,4\"}}",
                    TQ_MAP_INTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "'prodcut'");
  assert_contains(msg, "did you mean \"product\"");

  msg = parse_fails(ctx, "{\"Conv\": {\"zzzzzzzz\": \"nearest,8,4\"}}",
                    TQ_MAP_INTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "'zzzzzzzz'");
  assert_null(strstr(msg, "did you mean"));

  msg = parse_fails(ctx, "{\"Conv\": {}}", TQ_MAP_INTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "'Conv'");
  assert_contains(msg, "at least one");

  msg = parse_fails(ctx, "{\"Conv\": {\"sum\": 16}}", TQ_MAP_INTRINSIC,
                    TQ_ERR_FORMAT);
  assert_contains(msg, "'sum' must be a spec string");

  char *parser_msg = spec_error(ctx, "nearest,8");
  msg = parse_fails(ctx,
                    "{\"intrinsic\": {\"Conv\": {\"product\": \"nearest,8\"}}}",
                    TQ_MAP_WEIGHTS, TQ_ERR_PARSE);
  assert_contains(msg, "'Conv' in section 'intrinsic'");
  assert_contains(msg, "'product'");
  assert_contains(msg, parser_msg);
  free(parser_msg);

  /* Objects belong in the intrinsic section only. */
  msg = parse_fails(ctx,
                    "{\"weights\": {\"Conv\": {\"product\": \"nearest,8,4\"}}}",
                    TQ_MAP_WEIGHTS, TQ_ERR_FORMAT);
  assert_contains(msg, "section 'weights'");
  assert_contains(msg, "only allowed in intrinsic maps");
}

static void test_section_errors(void **state) {
  tq_context *ctx = *state;
  const char *msg = parse_fails(ctx,
                                "{\"extrinsic\": {\"a\": \"fp16\"}, "
                                "\"weigths\": {\"Conv1\": \"nearest,8,4\"}}",
                                TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "test.json");
  assert_contains(msg, "'weigths'");
  assert_contains(msg, "did you mean \"weights\"");

  /* A lone misspelt section is caught too, not taken as a flat map. */
  msg = parse_fails(ctx, "{\"Extrinsic\": {\"Conv1\": \"nearest,8,4\"}}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "did you mean \"extrinsic\"");

  /* Layer keys beside sections. */
  msg = parse_fails(ctx,
                    "{\"extrinsic\": {\"a\": \"fp16\"}, \"Conv1\": \"fp16\"}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "'Conv1'");
  assert_contains(msg, "layer keys go inside");

  msg = parse_fails(ctx,
                    "{\"weights\": {\"a\": \"fp16\"}, \"extrinsic\": \"fp16\"}",
                    TQ_MAP_EXTRINSIC, TQ_ERR_FORMAT);
  assert_contains(msg, "section 'extrinsic' must be an object");

  /* A flat intrinsic map whose object values look like intrinsic fields is
   * not mistaken for sections. */
  tq_qmap *map = parse_ok(
      ctx, "{\"weights\": {\"product\": \"fp16\"}, \"Conv\": \"fp16\"}",
      TQ_MAP_INTRINSIC);
  assert_int_equal(tq_qmap_size(map), 2);
  tq_qmap_destroy(map);
}

static void test_set_api(void **state) {
  tq_context *ctx = *state;
  tq_qmap_set *set = NULL;
  assert_int_equal(tq_qmap_set_create(ctx, &set), TQ_OK);
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    assert_null(tq_qmap_set_get(set, (tq_map_kind)k));

  tq_qmap *a = NULL, *b = NULL;
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_GRADIENTS, &a), TQ_OK);
  assert_int_equal(tq_qmap_add(ctx, a, "", "fp16"), TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, a), TQ_OK);
  assert_ptr_equal(tq_qmap_set_get(set, TQ_MAP_GRADIENTS), a);
  /* Replacing frees the old map (valgrind checks that). */
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_GRADIENTS, &b), TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, set, b), TQ_OK);
  assert_ptr_equal(tq_qmap_set_get(set, TQ_MAP_GRADIENTS), b);
  assert_int_equal(tq_qmap_size(tq_qmap_set_get(set, TQ_MAP_GRADIENTS)), 0);
  assert_null(tq_qmap_set_get(set, TQ_MAP_EXTRINSIC));

  /* The set owns the map even when put fails. */
  assert_int_equal(tq_qmap_create(ctx, TQ_MAP_UPDATES, &a), TQ_OK);
  assert_int_equal(tq_qmap_set_put(ctx, NULL, a), TQ_ERR_INVALID_ARGUMENT);
  assert_int_equal(tq_qmap_set_put(ctx, set, NULL), TQ_ERR_INVALID_ARGUMENT);
  tq_qmap_set_destroy(set);
  tq_qmap_set_destroy(NULL);
}

static void test_set_parse(void **state) {
  tq_context *ctx = *state;
  tq_qmap_set *set = NULL;
  assert_int_equal(
      tq_qmap_set_parse_json(ctx, sectioned_json, strlen(sectioned_json),
                             "s.json", &set),
      TQ_OK);
  assert_int_equal(tq_qmap_size(tq_qmap_set_get(set, TQ_MAP_INTRINSIC)), 4);
  tq_qmap_set_destroy(set);

  /* A flat map does not say which kind it is. */
  static const char flat[] = "{\"Conv1\": \"nearest,8,4\"}";
  set = (tq_qmap_set *)&set;
  assert_int_equal(
      tq_qmap_set_parse_json(ctx, flat, strlen(flat), "flat.json", &set),
      TQ_ERR_FORMAT);
  assert_null(set);
  assert_contains(tq_context_last_error(ctx), "flat.json");
  assert_contains(tq_context_last_error(ctx), "flat map");

  /* An empty object is a set without maps. */
  assert_int_equal(tq_qmap_set_parse_json(ctx, "{}", 2, NULL, &set), TQ_OK);
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    assert_null(tq_qmap_set_get(set, (tq_map_kind)k));
  tq_qmap_set_destroy(set);

  /* Sections may be empty objects. */
  static const char empty_section[] = "{\"updates\": {}}";
  assert_int_equal(tq_qmap_set_parse_json(ctx, empty_section,
                                          strlen(empty_section), NULL, &set),
                   TQ_OK);
  assert_non_null(tq_qmap_set_get(set, TQ_MAP_UPDATES));
  assert_int_equal(tq_qmap_size(tq_qmap_set_get(set, TQ_MAP_UPDATES)), 0);
  tq_qmap_set_destroy(set);

  /* Errors name the default source when none is given. */
  assert_int_equal(tq_qmap_set_parse_json(ctx, "{", 1, NULL, &set),
                   TQ_ERR_PARSE);
  assert_contains(tq_context_last_error(ctx), "<json>");

  set = (tq_qmap_set *)&set;
  assert_int_equal(tq_qmap_set_load(ctx, "no/such/file.json", &set), TQ_ERR_IO);
  assert_null(set);
  assert_contains(tq_context_last_error(ctx), "no/such/file.json");
  assert_contains(tq_context_last_error(ctx), "No such file");
}

/* Once loaded, maps are immutable and resolution touches no shared state:
 * resolving the same layer twice gives the same pointers. */
static void test_resolve_is_pure(void **state) {
  tq_context *ctx = *state;
  tq_qmap *map = parse_ok(ctx, "{\"re:a+b\": \"fp16\", \"c\": \"bf16\"}",
                          TQ_MAP_EXTRINSIC);
  tq_qmap_match m1, m2;
  const char *const w[] = {"xc"};
  assert_int_equal(tq_qmap_resolve(map, "zz", w, 1, &m1), 1);
  assert_int_equal(tq_qmap_resolve(map, "zz", w, 1, &m2), 1);
  assert_memory_equal(&m1, &m2, sizeof m1);
  assert_int_equal(m1.entry, 1);
  tq_qmap_destroy(map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_create_add_entry),
      cmocka_unit_test(test_add_errors),
      cmocka_unit_test(test_add_intrinsic),
      cmocka_unit_test(test_pointers_survive_growth),
      cmocka_unit_test(test_first_match_in_file_order),
      cmocka_unit_test(test_many_keys_keep_file_order),
      cmocka_unit_test(test_substring_layer_and_weights),
      cmocka_unit_test(test_exact_segments),
      cmocka_unit_test(test_order_beats_match_kind),
      cmocka_unit_test(test_empty_key_fallback),
      cmocka_unit_test(test_regex_keys),
      cmocka_unit_test(test_regex_redundant_dropped),
      cmocka_unit_test(test_regex_errors),
      cmocka_unit_test(test_load_file_and_spec_fallback),
      cmocka_unit_test(test_load_neither_file_nor_spec),
      cmocka_unit_test(test_malformed_json_location),
      cmocka_unit_test(test_structure_errors),
      cmocka_unit_test(test_deep_and_huge),
      cmocka_unit_test(test_bad_spec_names_file_and_key),
      cmocka_unit_test(test_sectioned_file),
      cmocka_unit_test(test_intrinsic_objects),
      cmocka_unit_test(test_intrinsic_object_errors),
      cmocka_unit_test(test_section_errors),
      cmocka_unit_test(test_set_api),
      cmocka_unit_test(test_set_parse),
      cmocka_unit_test(test_resolve_is_pure),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
