/* Internal to src/qmap: what qmap.c, match.c and qmap_json.c share. */
#ifndef TQ_QMAP_INTERNAL_H
#define TQ_QMAP_INTERNAL_H

#include <regex.h>
#include <stddef.h>

#include "tensorquant/qmap.h"

/* Where an entry came from, for error messages. Both fields may be NULL
 * (entries added through the API have neither). */
typedef struct tq_qmap_origin {
  const char *source;  /* file name or JSON source name */
  const char *section; /* section of a sectioned file */
} tq_qmap_origin;

/* Records an error about one key: "source: key 'K' in section 'S': ...". */
tq_status tq_qmap_key_error(tq_context *ctx, const tq_qmap_origin *origin,
                            tq_status status, const char *key, const char *fmt,
                            ...) __attribute__((format(printf, 5, 6)));

/* How a key matches a name (docs/maps.md, "Matching"). */
typedef enum tq_qmap_key_form {
  TQ_KEY_SUBSTRING = 0, /* anywhere in the name (TensorQuant's rule) */
  TQ_KEY_REGEX,         /* "re:": unanchored POSIX extended regex search */
  TQ_KEY_SEGMENTS       /* "=": whole name segments (see tq_qmap_key_matches) */
} tq_qmap_key_form;

/* A key ready for matching. */
typedef struct tq_qmap_key {
  char *text; /* as written, prefix included */
  tq_qmap_key_form form;
  const char *body; /* text without its prefix (points into text) */
  regex_t re;       /* valid when form is TQ_KEY_REGEX */
} tq_qmap_key;

/* Longest "re:" pattern accepted (without the prefix). */
#define TQ_QMAP_REGEX_MAX_LEN 1000

/* Screens a "re:" pattern (without the prefix) before regcomp: returns
 * NULL and writes the pattern to compile into out (TQ_QMAP_REGEX_MAX_LEN
 * + 1 bytes, or strlen(pattern) + 1; redundant "?" removed, same matches),
 * or returns why the pattern is refused (too long or big, or a shape on
 * which regcomp takes exponential time) without writing out. */
const char *tq_qmap_regex_prepare(const char *pattern, char *out);

/* Copies and (for "re:" keys) compiles text into *key. On failure *key
 * holds nothing to free. */
tq_status tq_qmap_key_init(tq_context *ctx, const tq_qmap_origin *origin,
                           const char *text, tq_qmap_key *key);
void tq_qmap_key_free(tq_qmap_key *key);

/* Whether key matches name: substring, unanchored regex search, or for
 * "=" keys an occurrence of the body that starts and ends at segment
 * boundaries (the name's start or end, or one of '/', '.', ':'), so "=Conv2"
 * matches "LeNet/Conv2/BiasAdd" and "Conv2.weight" but not "Conv2D" and
 * "=layer1" matches "layer1.0.conv1.weight" but not "layer10". */
int tq_qmap_key_matches(const tq_qmap_key *key, const char *name);

/* The candidate nearest to word (case-insensitive edit distance, with
 * transpositions), or NULL when none is within max_distance. */
const char *tq_qmap_nearest(const char *word, const char *const *candidates,
                            size_t n, size_t max_distance);

/* Internal forms of tq_qmap_add and tq_qmap_add_intrinsic that name the
 * entry's origin in their error messages. */
tq_status tq_qmap_add_at(tq_context *ctx, tq_qmap *map,
                         const tq_qmap_origin *origin, const char *key,
                         const char *spec);
tq_status tq_qmap_add_intrinsic_at(tq_context *ctx, tq_qmap *map,
                                   const tq_qmap_origin *origin,
                                   const char *key, const char *product,
                                   const char *sum, const char *accumulator);

/* The name through which entry `entry` of map matches a layer (layer_id or
 * one of weight_names), or NULL when it does not match. */
const char *tq_qmap_entry_matches(const tq_qmap *map, size_t entry,
                                  const char *layer_id,
                                  const char *const *weight_names,
                                  size_t n_weights);

/* Removes the map of a kind from the set and hands it to the caller (NULL
 * when the set has none). */
tq_qmap *tq_qmap_set_take(tq_qmap_set *set, tq_map_kind kind);

#endif
