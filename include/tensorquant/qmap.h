/* Quantizer maps: which quantizer applies to which layer (docs/design.md §1, §3).
 *
 * A map is an ordered list of (key, value) entries. A key matches a layer
 * when the layer ID contains it as a substring, or when one of the layer's
 * weight names contains it; keys starting with "re:" are POSIX extended
 * regular expressions searched the same way. The first matching entry in
 * file order wins; "" matches every layer.
 *
 * Values are spec strings. Intrinsic maps may also hold objects:
 * {"product": P, "accumulator": A} (hardware accumulator emulation) or
 * {"product": P, "sum": S} (TensorQuant form with separate quantizers).
 *
 * Files: a flat JSON object (the original TensorQuant format, one kind of
 * map per file) or a sectioned object {"extrinsic": {...}, "weights": {...},
 * "intrinsic": {...}, "gradients": {...}, "updates": {...}}. As in
 * TensorQuant, a string that is not a readable file is taken as one spec for
 * all layers ({"": spec}).
 *
 * Ownership: create/load functions give the caller an object to free with
 * the matching destroy. Thread-safety: maps are immutable once loaded (the
 * add functions are the exception, for building) and resolution is a pure
 * function, safe from any number of threads. */
#ifndef TENSORQUANT_QMAP_H
#define TENSORQUANT_QMAP_H

#include <stddef.h>

#include "export.h"
#include "quantizer.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tq_map_kind {
  TQ_MAP_EXTRINSIC = 0, /* a layer's float outputs */
  TQ_MAP_WEIGHTS,       /* a layer's parameters */
  TQ_MAP_INTRINSIC,     /* products and sums inside conv/dense layers */
  TQ_MAP_GRADIENTS,     /* gradients flowing back out of a layer */
  TQ_MAP_UPDATES,       /* weights after each optimizer step */
  TQ_MAP_KIND_COUNT
} tq_map_kind;

/* Section name of a kind: "extrinsic", "weights", ... (NULL if invalid). */
TQ_API const char *tq_map_kind_name(tq_map_kind kind);

/* What one entry maps to. Quantizers are owned by the map. */
typedef struct tq_qmap_value {
  /* A spec string value: the quantizer. In intrinsic maps this is the
   * TensorQuant form, and product and sum are also set to it. */
  const tq_quantizer *quantizer;
  const tq_quantizer *product;     /* NULL: products exact */
  const tq_quantizer *sum;         /* NULL: sum not quantized */
  const tq_quantizer *accumulator; /* non-NULL: accumulator emulation */
} tq_qmap_value;

typedef struct tq_qmap tq_qmap;

/* An empty map of the given kind, to fill with tq_qmap_add*. */
TQ_API tq_status tq_qmap_create(tq_context *ctx, tq_map_kind kind,
                                tq_qmap **out);

/* Appends key -> spec (keys are matched in the order added). */
TQ_API tq_status tq_qmap_add(tq_context *ctx, tq_qmap *map, const char *key,
                             const char *spec);

/* Appends an intrinsic object entry; any spec may be NULL (absent). Giving
 * both sum and accumulator is an error. Only for TQ_MAP_INTRINSIC maps. */
TQ_API tq_status tq_qmap_add_intrinsic(tq_context *ctx, tq_qmap *map,
                                       const char *key, const char *product,
                                       const char *sum,
                                       const char *accumulator);

/* Loads a map of the given kind from a JSON file. A sectioned file gives
 * its section of that kind (an empty map when absent). Text starting with
 * '{' is JSON itself (an inline map, source "<inline map>"). If
 * path_or_spec is not a readable file it is parsed as one spec for all
 * layers; if it is neither, the error says both. JSON errors carry file,
 * line and column. */
TQ_API tq_status tq_qmap_load(tq_context *ctx, const char *path_or_spec,
                              tq_map_kind kind, tq_qmap **out);

/* Same from JSON text in memory; source names it in error messages. */
TQ_API tq_status tq_qmap_parse_json(tq_context *ctx, const char *text,
                                    size_t len, const char *source,
                                    tq_map_kind kind, tq_qmap **out);

TQ_API void tq_qmap_destroy(tq_qmap *map);

TQ_API tq_map_kind tq_qmap_kind(const tq_qmap *map);
TQ_API size_t tq_qmap_size(const tq_qmap *map);

/* Entry i in file order; returns TQ_ERR_RANGE if i >= size. Pointers are
 * owned by the map. */
TQ_API tq_status tq_qmap_entry(const tq_qmap *map, size_t i, const char **key,
                               const tq_qmap_value **value);

/* Result of resolving one layer. */
typedef struct tq_qmap_match {
  int matched;                /* 0: no key matches; the layer stays float */
  size_t entry;               /* index of the winning entry, in file order */
  const char *key;            /* its key as written (owned by the map) */
  const char *via;            /* the name that contained the key: the layer
                                 ID or one of weight_names (caller's) */
  const tq_qmap_value *value; /* owned by the map */
} tq_qmap_match;

/* Which entry applies to a layer: the first entry in file order whose key
 * matches layer_id or any of the n_weights weight names. Pure function.
 * map may be NULL (nothing matches). Returns match->matched. */
TQ_API int tq_qmap_resolve(const tq_qmap *map, const char *layer_id,
                           const char *const *weight_names, size_t n_weights,
                           tq_qmap_match *match);

/* A set of maps, one per kind, as in a sectioned file. */
typedef struct tq_qmap_set tq_qmap_set;

TQ_API tq_status tq_qmap_set_create(tq_context *ctx, tq_qmap_set **out);

/* Loads a sectioned map file (a flat file is rejected: it does not say
 * which kind of map it is). */
TQ_API tq_status tq_qmap_set_load(tq_context *ctx, const char *path,
                                  tq_qmap_set **out);
TQ_API tq_status tq_qmap_set_parse_json(tq_context *ctx, const char *text,
                                        size_t len, const char *source,
                                        tq_qmap_set **out);

/* Puts map into the set as its kind's map, replacing (and freeing) any map
 * of that kind. The set takes ownership of map, also on failure. */
TQ_API tq_status tq_qmap_set_put(tq_context *ctx, tq_qmap_set *set,
                                 tq_qmap *map);

/* The map of a kind, or NULL when the set has none. Owned by the set. */
TQ_API const tq_qmap *tq_qmap_set_get(const tq_qmap_set *set, tq_map_kind kind);

TQ_API void tq_qmap_set_destroy(tq_qmap_set *set);

#ifdef __cplusplus
}
#endif
#endif
