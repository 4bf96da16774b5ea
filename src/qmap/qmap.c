/* Quantizer maps: building, querying and resolving (docs/design.md §1, §3). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "qmap/qmap_internal.h"

typedef struct qmap_entry {
  tq_qmap_key key;
  tq_qmap_value value;
  /* The distinct quantizers value points to (a string value in an intrinsic
   * map is quantizer, product and sum at once, but owned once). */
  tq_quantizer *owned[3];
} qmap_entry;

struct tq_qmap {
  tq_map_kind kind;
  size_t size, capacity;
  /* One allocation per entry, so that pointers handed out by
   * tq_qmap_entry and tq_qmap_resolve survive later additions. */
  qmap_entry **entries;
};

struct tq_qmap_set {
  tq_qmap *maps[TQ_MAP_KIND_COUNT];
};

static const char *const kind_names[TQ_MAP_KIND_COUNT] = {
    [TQ_MAP_EXTRINSIC] = "extrinsic", [TQ_MAP_WEIGHTS] = "weights",
    [TQ_MAP_INTRINSIC] = "intrinsic", [TQ_MAP_GRADIENTS] = "gradients",
    [TQ_MAP_UPDATES] = "updates",
};

const char *tq_map_kind_name(tq_map_kind kind) {
  if ((unsigned)kind >= TQ_MAP_KIND_COUNT) return NULL;
  return kind_names[kind];
}

tq_status tq_qmap_key_error(tq_context *ctx, const tq_qmap_origin *origin,
                            tq_status status, const char *key, const char *fmt,
                            ...) {
  char detail[sizeof(((tq_error_info *)0)->message)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  const char *source = origin ? origin->source : NULL;
  const char *section = origin ? origin->section : NULL;
  /* Keys can be arbitrarily long; keep room for the detail. */
  return tq_error(ctx, status, source, 0, 0, "key '%.200s'%s%s%s: %s", key,
                  section ? " in section '" : "", section ? section : "",
                  section ? "'" : "", detail);
}

tq_status tq_qmap_create(tq_context *ctx, tq_map_kind kind, tq_qmap **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_create: out is NULL");
  *out = NULL;
  if ((unsigned)kind >= TQ_MAP_KIND_COUNT)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_create: invalid map kind %d", (int)kind);
  tq_qmap *map = calloc(1, sizeof *map);
  if (!map) return tq_error_nomem(ctx);
  map->kind = kind;
  *out = map;
  return TQ_OK;
}

static void entry_destroy(qmap_entry *e) {
  if (!e) return;
  tq_qmap_key_free(&e->key);
  for (size_t i = 0; i < 3; i++) tq_quantizer_destroy(e->owned[i]);
  free(e);
}

void tq_qmap_destroy(tq_qmap *map) {
  if (!map) return;
  for (size_t i = 0; i < map->size; i++) entry_destroy(map->entries[i]);
  free(map->entries);
  free(map);
}

tq_map_kind tq_qmap_kind(const tq_qmap *map) {
  return map ? map->kind : TQ_MAP_KIND_COUNT;
}

size_t tq_qmap_size(const tq_qmap *map) {
  return map ? map->size : 0;
}

tq_status tq_qmap_entry(const tq_qmap *map, size_t i, const char **key,
                        const tq_qmap_value **value) {
  if (!map) return TQ_ERR_INVALID_ARGUMENT;
  if (i >= map->size) return TQ_ERR_RANGE;
  if (key) *key = map->entries[i]->key.text;
  if (value) *value = &map->entries[i]->value;
  return TQ_OK;
}

/* Parses one spec of an entry; field names the intrinsic field or is NULL
 * for a plain spec value. */
static tq_status parse_spec(tq_context *ctx, const tq_qmap_origin *origin,
                            const char *key, const char *field,
                            const char *spec, tq_quantizer **out) {
  tq_status st = tq_quantizer_parse(ctx, spec, out);
  if (st == TQ_OK) return TQ_OK;
  /* The parser's message is in ctx, which the new error overwrites. */
  char msg[sizeof(((tq_error_info *)0)->message)];
  snprintf(msg, sizeof msg, "%s", tq_context_last_error(ctx));
  if (!msg[0])
    snprintf(msg, sizeof msg, "invalid quantizer spec '%.200s' (%s)", spec,
             tq_status_str(st));
  if (st == TQ_ERR_NO_MEMORY) return st;
  return tq_qmap_key_error(ctx, origin, st, key, "%s%s%s%s", field ? "'" : "",
                           field ? field : "", field ? "': " : "", msg);
}

/* Takes ownership of e (freeing it on failure). */
static tq_status append_entry(tq_context *ctx, tq_qmap *map, qmap_entry *e) {
  if (map->size == map->capacity) {
    size_t cap = map->capacity ? 2 * map->capacity : 8;
    if (cap > SIZE_MAX / sizeof *map->entries) {
      entry_destroy(e);
      return tq_error_nomem(ctx);
    }
    qmap_entry **grown = realloc(map->entries, cap * sizeof *grown);
    if (!grown) {
      entry_destroy(e);
      return tq_error_nomem(ctx);
    }
    map->entries = grown;
    map->capacity = cap;
  }
  map->entries[map->size++] = e;
  return TQ_OK;
}

static tq_status new_entry(tq_context *ctx, const tq_qmap_origin *origin,
                           const char *key, qmap_entry **out) {
  qmap_entry *e = calloc(1, sizeof *e);
  if (!e) return tq_error_nomem(ctx);
  tq_status st = tq_qmap_key_init(ctx, origin, key, &e->key);
  if (st != TQ_OK) {
    free(e);
    return st;
  }
  *out = e;
  return TQ_OK;
}

tq_status tq_qmap_add_at(tq_context *ctx, tq_qmap *map,
                         const tq_qmap_origin *origin, const char *key,
                         const char *spec) {
  if (!map || !key || !spec)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_add: map, key and spec must not be NULL");
  qmap_entry *e = NULL;
  tq_status st = new_entry(ctx, origin, key, &e);
  if (st != TQ_OK) return st;
  st = parse_spec(ctx, origin, key, NULL, spec, &e->owned[0]);
  if (st != TQ_OK) {
    entry_destroy(e);
    return st;
  }
  e->value.quantizer = e->owned[0];
  if (map->kind == TQ_MAP_INTRINSIC) {
    /* TensorQuant's form: every product and the sum share the quantizer. */
    e->value.product = e->owned[0];
    e->value.sum = e->owned[0];
  }
  return append_entry(ctx, map, e);
}

tq_status tq_qmap_add(tq_context *ctx, tq_qmap *map, const char *key,
                      const char *spec) {
  return tq_qmap_add_at(ctx, map, NULL, key, spec);
}

tq_status tq_qmap_add_intrinsic_at(tq_context *ctx, tq_qmap *map,
                                   const tq_qmap_origin *origin,
                                   const char *key, const char *product,
                                   const char *sum, const char *accumulator) {
  if (!map || !key)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_add_intrinsic: map and key must not be NULL");
  if (map->kind != TQ_MAP_INTRINSIC)
    return tq_qmap_key_error(ctx, origin, TQ_ERR_INVALID_ARGUMENT, key,
                             "product/sum/accumulator entries belong in "
                             "intrinsic maps, not in %s maps",
                             kind_names[map->kind]);
  if (!product && !sum && !accumulator)
    return tq_qmap_key_error(ctx, origin, TQ_ERR_FORMAT, key,
                             "an intrinsic entry needs at least one of "
                             "\"product\", \"sum\" and \"accumulator\"");
  if (sum && accumulator)
    return tq_qmap_key_error(
        ctx, origin, TQ_ERR_FORMAT, key,
        "give either \"sum\" (quantize the finished sum) or \"accumulator\" "
        "(quantize after every addition), not both");
  qmap_entry *e = NULL;
  tq_status st = new_entry(ctx, origin, key, &e);
  if (st != TQ_OK) return st;
  const char *const fields[3] = {"product", "sum", "accumulator"};
  const char *const specs[3] = {product, sum, accumulator};
  for (size_t i = 0; i < 3; i++) {
    if (!specs[i]) continue;
    st = parse_spec(ctx, origin, key, fields[i], specs[i], &e->owned[i]);
    if (st != TQ_OK) {
      entry_destroy(e);
      return st;
    }
  }
  e->value.product = e->owned[0];
  e->value.sum = e->owned[1];
  e->value.accumulator = e->owned[2];
  return append_entry(ctx, map, e);
}

tq_status tq_qmap_add_intrinsic(tq_context *ctx, tq_qmap *map, const char *key,
                                const char *product, const char *sum,
                                const char *accumulator) {
  return tq_qmap_add_intrinsic_at(ctx, map, NULL, key, product, sum,
                                  accumulator);
}

const char *tq_qmap_entry_matches(const tq_qmap *map, size_t entry,
                                  const char *layer_id,
                                  const char *const *weight_names,
                                  size_t n_weights) {
  if (!map || entry >= map->size) return NULL;
  const tq_qmap_key *key = &map->entries[entry]->key;
  if (layer_id && tq_qmap_key_matches(key, layer_id)) return layer_id;
  for (size_t j = 0; weight_names && j < n_weights; j++)
    if (weight_names[j] && tq_qmap_key_matches(key, weight_names[j]))
      return weight_names[j];
  return NULL;
}

int tq_qmap_resolve(const tq_qmap *map, const char *layer_id,
                    const char *const *weight_names, size_t n_weights,
                    tq_qmap_match *match) {
  if (match) *match = (tq_qmap_match){0};
  if (!map) return 0;
  for (size_t i = 0; i < map->size; i++) {
    const qmap_entry *e = map->entries[i];
    const char *via =
        tq_qmap_entry_matches(map, i, layer_id, weight_names, n_weights);
    if (via) {
      if (match) {
        match->matched = 1;
        match->entry = i;
        match->key = e->key.text;
        match->via = via;
        match->value = &e->value;
      }
      return 1;
    }
  }
  return 0;
}

/* ---- sets ---------------------------------------------------------------- */

tq_status tq_qmap_set_create(tq_context *ctx, tq_qmap_set **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_set_create: out is NULL");
  *out = calloc(1, sizeof **out);
  if (!*out) return tq_error_nomem(ctx);
  return TQ_OK;
}

tq_status tq_qmap_set_put(tq_context *ctx, tq_qmap_set *set, tq_qmap *map) {
  if (!set || !map) {
    tq_qmap_destroy(map);
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_set_put: set and map must not be NULL");
  }
  tq_qmap_destroy(set->maps[map->kind]);
  set->maps[map->kind] = map;
  return TQ_OK;
}

const tq_qmap *tq_qmap_set_get(const tq_qmap_set *set, tq_map_kind kind) {
  if (!set || (unsigned)kind >= TQ_MAP_KIND_COUNT) return NULL;
  return set->maps[kind];
}

tq_qmap *tq_qmap_set_take(tq_qmap_set *set, tq_map_kind kind) {
  if (!set || (unsigned)kind >= TQ_MAP_KIND_COUNT) return NULL;
  tq_qmap *map = set->maps[kind];
  set->maps[kind] = NULL;
  return map;
}

void tq_qmap_set_destroy(tq_qmap_set *set) {
  if (!set) return;
  for (size_t k = 0; k < TQ_MAP_KIND_COUNT; k++) tq_qmap_destroy(set->maps[k]);
  free(set);
}
