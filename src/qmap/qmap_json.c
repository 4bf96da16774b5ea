/* Quantizer maps from JSON: flat and sectioned files, spec-string fallback.
 *
 * jansson keeps object members in insertion order (since 2.8), so iterating
 * an object visits keys in file order, which first-match-wins relies on. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "qmap/qmap_internal.h"

/* Map files are hand-written or generated lists of layer keys; anything
 * larger is a mistake (a model or data file passed by accident). */
#define MAX_MAP_BYTES ((size_t)64 << 20)

static const char *const intrinsic_fields[3] = {"product", "sum",
                                                "accumulator"};

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "an unknown JSON value";
}

static int section_kind(const char *name) {
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    if (strcmp(name, tq_map_kind_name((tq_map_kind)k)) == 0) return k;
  return -1;
}

static const char *nearest_section(const char *name, size_t max_distance) {
  const char *names[TQ_MAP_KIND_COUNT];
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    names[k] = tq_map_kind_name((tq_map_kind)k);
  return tq_qmap_nearest(name, names, TQ_MAP_KIND_COUNT, max_distance);
}

static tq_status parse_root(tq_context *ctx, const char *text, size_t len,
                            const char *source, json_t **out) {
  *out = NULL;
  if (len > MAX_MAP_BYTES)
    return tq_error(ctx, TQ_ERR_RANGE, source, 0, 0,
                    "map is too large (%zu bytes; the limit is 64 MiB)", len);
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return tq_error(ctx, TQ_ERR_PARSE, source, err.line > 0 ? err.line : 0,
                    err.column > 0 ? err.column : 0, "invalid JSON: %s",
                    err.text);
  if (!json_is_object(root)) {
    tq_status st =
        tq_error(ctx, TQ_ERR_FORMAT, source, 0, 0,
                 "expected a JSON object of layer keys (or of sections such as "
                 "\"extrinsic\") at the top level, got %s",
                 json_type_name(root));
    json_decref(root);
    return st;
  }
  *out = root;
  return TQ_OK;
}

/* Whether an object looks like a section's body (layer keys) rather than
 * an intrinsic {"product", "sum", "accumulator"} value. */
static int has_layer_keys(const json_t *obj) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    int field = 0;
    for (size_t i = 0; i < 3; i++)
      if (strcmp(key, intrinsic_fields[i]) == 0) field = 1;
    if (!field) return 1;
  }
  return 0;
}

/* Decides whether root is a sectioned file. It is iff it is non-empty and
 * all its keys are section names with object values. A file that looks
 * sectioned but is not (a misspelt section, a layer key beside sections)
 * is an error rather than a flat map, which would silently match nothing. */
static tq_status detect_sections(tq_context *ctx, const char *source,
                                 json_t *root, int *sectioned) {
  *sectioned = 0;
  if (json_object_size(root) == 0) return TQ_OK;
  int all = 1, looks = 0;
  const char *key;
  json_t *value;
  json_object_foreach(root, key, value) {
    int is_section = section_kind(key) >= 0;
    if (!is_section || !json_is_object(value)) all = 0;
    if (json_is_object(value) && has_layer_keys(value) &&
        (is_section || nearest_section(key, 2)))
      looks = 1;
  }
  if (all) {
    *sectioned = 1;
    return TQ_OK;
  }
  if (!looks) return TQ_OK;
  json_object_foreach(root, key, value) {
    if (section_kind(key) < 0) {
      const char *near = nearest_section(key, 3);
      char hint[64] = "";
      if (near) snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", near);
      return tq_error(ctx, TQ_ERR_FORMAT, source, 0, 0,
                      "unknown section '%.200s'%s; a sectioned map has only "
                      "the sections extrinsic, weights, intrinsic, gradients "
                      "and updates, and layer keys go inside them",
                      key, hint);
    }
    if (!json_is_object(value))
      return tq_error(ctx, TQ_ERR_FORMAT, source, 0, 0,
                      "section '%s' must be an object of layer keys, got %s",
                      key, json_type_name(value));
  }
  return tq_error(ctx, TQ_ERR_INTERNAL, source, 0, 0,
                  "section detection is inconsistent");
}

static tq_status add_intrinsic_object(tq_context *ctx, tq_qmap *map,
                                      const tq_qmap_origin *origin,
                                      const char *key, json_t *obj) {
  const char *specs[3] = {NULL, NULL, NULL};
  const char *field;
  json_t *value;
  json_object_foreach(obj, field, value) {
    size_t i = 0;
    while (i < 3 && strcmp(field, intrinsic_fields[i]) != 0) i++;
    if (i == 3) {
      const char *near = tq_qmap_nearest(field, intrinsic_fields, 3, 3);
      char hint[64] = "";
      if (near) snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", near);
      return tq_qmap_key_error(ctx, origin, TQ_ERR_FORMAT, key,
                               "unknown field '%.200s'%s; an intrinsic "
                               "object has \"product\", \"sum\" or "
                               "\"accumulator\"",
                               field, hint);
    }
    if (!json_is_string(value))
      return tq_qmap_key_error(ctx, origin, TQ_ERR_FORMAT, key,
                               "'%s' must be a spec string, got %s", field,
                               json_type_name(value));
    specs[i] = json_string_value(value);
  }
  return tq_qmap_add_intrinsic_at(ctx, map, origin, key, specs[0], specs[1],
                                  specs[2]);
}

/* Builds a map of kind from one object of "key": value members. */
static tq_status load_entries(tq_context *ctx, const char *source,
                              const char *section, json_t *obj,
                              tq_map_kind kind, tq_qmap **out) {
  *out = NULL;
  tq_qmap *map = NULL;
  tq_status st = tq_qmap_create(ctx, kind, &map);
  if (st != TQ_OK) return st;
  const tq_qmap_origin origin = {source, section};
  const char *key;
  json_t *value;
  json_object_foreach(obj, key, value) {
    if (json_is_string(value)) {
      st = tq_qmap_add_at(ctx, map, &origin, key, json_string_value(value));
    } else if (json_is_object(value) && kind == TQ_MAP_INTRINSIC) {
      st = add_intrinsic_object(ctx, map, &origin, key, value);
    } else if (json_is_object(value)) {
      st = tq_qmap_key_error(ctx, &origin, TQ_ERR_FORMAT, key,
                             "expected a spec string, got an object "
                             "(product/sum/accumulator objects are only "
                             "allowed in intrinsic maps)");
    } else if (kind == TQ_MAP_INTRINSIC) {
      st = tq_qmap_key_error(ctx, &origin, TQ_ERR_FORMAT, key,
                             "expected a spec string or a product/sum/"
                             "accumulator object, got %s",
                             json_type_name(value));
    } else {
      st = tq_qmap_key_error(ctx, &origin, TQ_ERR_FORMAT, key,
                             "expected a spec string such as "
                             "\"nearest,8,4\", got %s",
                             json_type_name(value));
    }
    if (st != TQ_OK) {
      tq_qmap_destroy(map);
      return st;
    }
  }
  *out = map;
  return TQ_OK;
}

static tq_status load_sections(tq_context *ctx, const char *source,
                               json_t *root, tq_qmap_set **out) {
  *out = NULL;
  tq_qmap_set *set = NULL;
  tq_status st = tq_qmap_set_create(ctx, &set);
  if (st != TQ_OK) return st;
  const char *key;
  json_t *value;
  json_object_foreach(root, key, value) {
    tq_qmap *map = NULL;
    st = load_entries(ctx, source, key, value, (tq_map_kind)section_kind(key),
                      &map);
    if (st == TQ_OK) st = tq_qmap_set_put(ctx, set, map);
    if (st != TQ_OK) {
      tq_qmap_set_destroy(set);
      return st;
    }
  }
  *out = set;
  return TQ_OK;
}

tq_status tq_qmap_parse_json(tq_context *ctx, const char *text, size_t len,
                             const char *source, tq_map_kind kind,
                             tq_qmap **out) {
  if (!out || !text)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_parse_json: text and out must not be NULL");
  *out = NULL;
  if (!tq_map_kind_name(kind))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_parse_json: invalid map kind %d", (int)kind);
  if (!source) source = "<json>";
  json_t *root = NULL;
  tq_status st = parse_root(ctx, text, len, source, &root);
  if (st != TQ_OK) return st;
  int sectioned;
  st = detect_sections(ctx, source, root, &sectioned);
  if (st == TQ_OK && sectioned) {
    /* Every section is checked, so a mistake anywhere in a file is caught
     * whichever map the caller asked for. */
    tq_qmap_set *set = NULL;
    st = load_sections(ctx, source, root, &set);
    if (st == TQ_OK) {
      *out = tq_qmap_set_take(set, kind);
      tq_qmap_set_destroy(set);
      if (!*out) st = tq_qmap_create(ctx, kind, out);
    }
  } else if (st == TQ_OK) {
    st = load_entries(ctx, source, NULL, root, kind, out);
  }
  json_decref(root);
  return st;
}

tq_status tq_qmap_set_parse_json(tq_context *ctx, const char *text, size_t len,
                                 const char *source, tq_qmap_set **out) {
  if (!out || !text)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_set_parse_json: text and out must not be NULL");
  *out = NULL;
  if (!source) source = "<json>";
  json_t *root = NULL;
  tq_status st = parse_root(ctx, text, len, source, &root);
  if (st != TQ_OK) return st;
  int sectioned;
  st = detect_sections(ctx, source, root, &sectioned);
  if (st == TQ_OK && !sectioned && json_object_size(root) > 0)
    st = tq_error(ctx, TQ_ERR_FORMAT, source, 0, 0,
                  "a flat map (layer keys at the top level) does not say "
                  "which kind of map it is; put its entries in sections, "
                  "e.g. {\"extrinsic\": {...}, \"weights\": {...}}");
  /* An empty object is a set with no maps: every layer stays float. */
  if (st == TQ_OK) st = load_sections(ctx, source, root, out);
  json_decref(root);
  return st;
}

/* Opens path if it is a readable regular file; otherwise returns NULL, with
 * the reason in why and whether something exists at path in *exists. Never
 * opens anything else: a FIFO would block. */
static FILE *open_regular(const char *path, char *why, size_t why_size,
                          int *exists) {
  struct stat sb;
  *exists = 0;
  if (stat(path, &sb) != 0) {
    if (strerror_r(errno, why, why_size) != 0)
      snprintf(why, why_size, "error %d", errno);
    return NULL;
  }
  *exists = 1;
  if (!S_ISREG(sb.st_mode)) {
    snprintf(why, why_size, "%s",
             S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (!f && strerror_r(errno, why, why_size) != 0)
    snprintf(why, why_size, "error %d", errno);
  return f;
}

/* Reads all of f (and closes it) into a new buffer. */
static tq_status read_all(tq_context *ctx, FILE *f, const char *path,
                          char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && (size_t)sb.st_size > MAX_MAP_BYTES) {
    fclose(f);
    return tq_error(ctx, TQ_ERR_RANGE, path, 0, 0,
                    "map file is too large (%lld bytes; the limit is 64 MiB)",
                    (long long)sb.st_size);
  }
  size_t cap = 0, used = 0;
  char *buf = NULL;
  tq_status st = TQ_OK;
  for (;;) {
    if (used == cap) {
      if (cap > MAX_MAP_BYTES) {
        st = tq_error(ctx, TQ_ERR_RANGE, path, 0, 0,
                      "map file is too large (over 64 MiB)");
        break;
      }
      size_t grown_cap = cap ? 2 * cap : 4096;
      char *grown = realloc(buf, grown_cap);
      if (!grown) {
        st = tq_error_nomem(ctx);
        break;
      }
      buf = grown;
      cap = grown_cap;
    }
    size_t n = fread(buf + used, 1, cap - used, f);
    used += n;
    if (n == 0) {
      if (ferror(f))
        st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot read map file");
      break;
    }
  }
  fclose(f);
  if (st != TQ_OK) {
    free(buf);
    return st;
  }
  *text = buf;
  *len = used;
  return TQ_OK;
}

tq_status tq_qmap_load(tq_context *ctx, const char *path_or_spec,
                       tq_map_kind kind, tq_qmap **out) {
  if (!out || !path_or_spec)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_load: path_or_spec and out must not be NULL");
  *out = NULL;
  if (!tq_map_kind_name(kind))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_load: invalid map kind %d", (int)kind);
  /* Inline JSON on a command line: --extr '{"Conv1": "nearest,12,11"}' */
  const char *first = path_or_spec;
  while (*first == ' ' || *first == '\t' || *first == '\n') first++;
  if (*first == '{')
    return tq_qmap_parse_json(ctx, path_or_spec, strlen(path_or_spec),
                              "<inline map>", kind, out);
  char why[128];
  int exists;
  FILE *f = open_regular(path_or_spec, why, sizeof why, &exists);
  if (f) {
    char *text = NULL;
    size_t len;
    tq_status st = read_all(ctx, f, path_or_spec, &text, &len);
    if (st != TQ_OK) return st;
    st = tq_qmap_parse_json(ctx, text, len, path_or_spec, kind, out);
    free(text);
    return st;
  }
  /* As in TensorQuant: not a file, so one spec for every layer. */
  tq_quantizer *q = NULL;
  tq_status st = tq_quantizer_parse(ctx, path_or_spec, &q);
  if (st != TQ_OK) {
    if (st == TQ_ERR_NO_MEMORY) return st;
    char msg[sizeof(((tq_error_info *)0)->message)];
    snprintf(msg, sizeof msg, "%s", tq_context_last_error(ctx));
    return tq_error(ctx, exists ? TQ_ERR_IO : st, NULL, 0, 0,
                    "'%.200s' is neither a readable map file (%s) nor a "
                    "valid quantizer spec: %s",
                    path_or_spec, why, msg[0] ? msg : tq_status_str(st));
  }
  tq_quantizer_destroy(q);
  tq_qmap *map = NULL;
  st = tq_qmap_create(ctx, kind, &map);
  if (st == TQ_OK) st = tq_qmap_add(ctx, map, "", path_or_spec);
  if (st != TQ_OK) {
    tq_qmap_destroy(map);
    return st;
  }
  *out = map;
  return TQ_OK;
}

tq_status tq_qmap_set_load(tq_context *ctx, const char *path,
                           tq_qmap_set **out) {
  if (!out || !path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_qmap_set_load: path and out must not be NULL");
  *out = NULL;
  char why[128];
  int exists;
  FILE *f = open_regular(path, why, sizeof why, &exists);
  if (!f)
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot read map file: %s",
                    why);
  char *text = NULL;
  size_t len;
  tq_status st = read_all(ctx, f, path, &text, &len);
  if (st != TQ_OK) return st;
  st = tq_qmap_set_parse_json(ctx, text, len, path, out);
  free(text);
  return st;
}
