/* libFuzzer target: quantizer map JSON (flat and sectioned) and resolution.
 * The input is JSON text; its first bytes also serve as a layer name, so
 * that regular-expression keys meet arbitrary names. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensorquant/tensorquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const layer_ids[] = {"", "LeNet/Convolution_Block/Conv1",
                                        "/layer1/layer1.0/conv1/Conv",
                                        "/fc/Gemm", "Dense"};
static const char *const weight_names[] = {"layer1.0.conv1.weight", "fc.bias",
                                           ""};

static void touch_value(const tq_qmap_value *v) {
  const tq_quantizer *qs[4] = {v->quantizer, v->product, v->sum,
                               v->accumulator};
  for (size_t i = 0; i < 4; i++)
    if (qs[i] && tq_quantizer_spec(qs[i])[0] == '\0') __builtin_trap();
}

static void exercise(const tq_qmap *map, const char *name) {
  size_t n = tq_qmap_size(map);
  for (size_t i = 0; i < n; i++) {
    const char *key = NULL;
    const tq_qmap_value *v = NULL;
    if (tq_qmap_entry(map, i, &key, &v) != TQ_OK || !key || !v)
      __builtin_trap();
    touch_value(v);
  }
  if (tq_qmap_entry(map, n, NULL, NULL) != TQ_ERR_RANGE) __builtin_trap();
  const size_t n_layers = sizeof layer_ids / sizeof layer_ids[0];
  for (size_t i = 0; i <= n_layers; i++) {
    const char *id = i < n_layers ? layer_ids[i] : name;
    tq_qmap_match m;
    int hit = tq_qmap_resolve(map, id, weight_names, 3, &m);
    if (hit != m.matched || (hit && (m.entry >= n || !m.key || !m.via)))
      __builtin_trap();
    if (hit) touch_value(m.value);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return 0;
  char name[65];
  size_t name_len = size < 64 ? size : 64;
  memcpy(name, data, name_len);
  name[name_len] = '\0';

  const char *text = (const char *)data;
  /* Intrinsic maps accept everything extrinsic ones do, and objects. */
  const tq_map_kind kinds[2] = {TQ_MAP_EXTRINSIC, TQ_MAP_INTRINSIC};
  for (size_t k = 0; k < 2; k++) {
    tq_qmap *map = NULL;
    if (tq_qmap_parse_json(ctx, text, size, "fuzz", kinds[k], &map) == TQ_OK) {
      if (tq_qmap_kind(map) != kinds[k]) __builtin_trap();
      exercise(map, name);
    } else if (map || tq_context_last_error(ctx)[0] == '\0') {
      __builtin_trap(); /* failures leave no map and always say why */
    }
    tq_qmap_destroy(map);
  }

  tq_qmap_set *set = NULL;
  if (tq_qmap_set_parse_json(ctx, text, size, "fuzz", &set) == TQ_OK) {
    for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
      const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
      if (map) exercise(map, name);
    }
  } else if (set || tq_context_last_error(ctx)[0] == '\0') {
    __builtin_trap();
  }
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  return 0;
}
