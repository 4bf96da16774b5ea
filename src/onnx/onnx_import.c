/* ONNX import: a ModelProto (protobuf-c code generated from onnx.proto)
 * turned into a tq_graph through the builder API.
 *
 * Every byte of the file is untrusted. protobuf-c checks the wire format;
 * everything ONNX-level (types, sizes, names, references between values)
 * is checked here before it reaches the builder, and every size is checked
 * against the data actually present before anything is allocated for it,
 * so a small file cannot make the loader allocate much more than a small
 * multiple of its own size.
 *
 * Order of work: structural checks (IR version, opset, operators, names,
 * references, topological order) come first because they are cheap and
 * their messages are the most useful; tensor data is converted last. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/bytes.h"
#include "core/error.h"
#include "core/tensor_internal.h"
#include "graph/graph_internal.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_lowbit.h"
#include "tensorquant/onnx.h"

/* Names quoted in messages are cut to 120 bytes ("%.120s"), op types and
 * attribute names to 60, so that one huge (or hostile) name cannot push
 * the rest of the message out of the context's fixed-size buffer. */

/* Deepest nesting of protobuf messages accepted. protobuf-c unpacks
 * recursively; a crafted file of a few kilobytes could otherwise nest
 * deeply enough to exhaust the stack. Real models nest a few levels (plus
 * a few per level of subgraph). */
#define MAX_NESTING 100

/* The unsupported-operator report is cut after this many characters (the
 * context keeps 1024), with a count of what was left out. */
#define OP_REPORT_MAX 760

static const char *str_or_empty(const char *s) {
  return s ? s : "";
}

/* ---- ONNX element types ---------------------------------------------------*/

/* Short names for TensorProto.DataType codes. */
enum {
  T_FLOAT = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
  T_UINT8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
  T_INT8 = ONNX__TENSOR_PROTO__DATA_TYPE__INT8,
  T_UINT16 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT16,
  T_INT16 = ONNX__TENSOR_PROTO__DATA_TYPE__INT16,
  T_INT32 = ONNX__TENSOR_PROTO__DATA_TYPE__INT32,
  T_INT64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
  T_BOOL = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL,
  T_FLOAT16 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16,
  T_DOUBLE = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE,
  T_UINT32 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT32,
  T_UINT64 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT64,
  T_BFLOAT16 = ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16,
  /* quantized models (onnx_lowbit.h) */
  T_FLOAT8E4M3FN = 17,
  T_FLOAT8E4M3FNUZ = 18,
  T_FLOAT8E5M2 = 19,
  T_FLOAT8E5M2FNUZ = 20,
  T_UINT4 = 21,
  T_INT4 = 22,
};

/* Which typed field holds values of a type when raw_data is absent
 * (onnx.proto, TensorProto). */
typedef enum typed_field {
  FIELD_FLOAT,
  FIELD_INT32,
  FIELD_INT64,
  FIELD_DOUBLE,
  FIELD_UINT64
} typed_field;

static const char *const typed_field_names[] = {
    "float_data", "int32_data", "int64_data", "double_data", "uint64_data"};

typedef struct onnx_type {
  int code;
  const char *name;
  size_t size; /* bytes per element in raw_data */
  tq_dtype dtype;
  typed_field field;
  int own;
  int packed; /* 4-bit: two elements per byte (raw_data and int32_data) */
} onnx_type;

/* Each element type and the tensor dtype it loads as: its own where the
 * runtime has it; int16, uint16 and uint32 widened to int64 (exact);
 * uint64 as int64 (a value above 2^63 - 1 is an error). `own` says the
 * dtype is the type itself: only those may be graph inputs. */
static const onnx_type onnx_types[] = {
    {T_FLOAT, "FLOAT", 4, TQ_DTYPE_FLOAT32, FIELD_FLOAT, 1, 0},
    {T_UINT8, "UINT8", 1, TQ_DTYPE_UINT8, FIELD_INT32, 1, 0},
    {T_INT8, "INT8", 1, TQ_DTYPE_INT8, FIELD_INT32, 1, 0},
    {T_UINT16, "UINT16", 2, TQ_DTYPE_INT64, FIELD_INT32, 0, 0},
    {T_INT16, "INT16", 2, TQ_DTYPE_INT64, FIELD_INT32, 0, 0},
    {T_INT32, "INT32", 4, TQ_DTYPE_INT32, FIELD_INT32, 1, 0},
    {T_INT64, "INT64", 8, TQ_DTYPE_INT64, FIELD_INT64, 1, 0},
    {T_BOOL, "BOOL", 1, TQ_DTYPE_BOOL, FIELD_INT32, 1, 0},
    {T_FLOAT16, "FLOAT16", 2, TQ_DTYPE_FLOAT16, FIELD_INT32, 1, 0},
    {T_DOUBLE, "DOUBLE", 8, TQ_DTYPE_FLOAT64, FIELD_DOUBLE, 1, 0},
    {T_UINT32, "UINT32", 4, TQ_DTYPE_INT64, FIELD_UINT64, 0, 0},
    {T_UINT64, "UINT64", 8, TQ_DTYPE_INT64, FIELD_UINT64, 0, 0},
    {T_BFLOAT16, "BFLOAT16", 2, TQ_DTYPE_BFLOAT16, FIELD_INT32, 1, 0},
    /* Quantized models' initializers, widened exactly: float8 to float32,
     * int4/uint4 to int8/uint8. */
    {T_FLOAT8E4M3FN, "FLOAT8E4M3FN", 1, TQ_DTYPE_FLOAT32, FIELD_INT32, 0, 0},
    {T_FLOAT8E4M3FNUZ, "FLOAT8E4M3FNUZ", 1, TQ_DTYPE_FLOAT32, FIELD_INT32, 0,
     0},
    {T_FLOAT8E5M2, "FLOAT8E5M2", 1, TQ_DTYPE_FLOAT32, FIELD_INT32, 0, 0},
    {T_FLOAT8E5M2FNUZ, "FLOAT8E5M2FNUZ", 1, TQ_DTYPE_FLOAT32, FIELD_INT32, 0,
     0},
    {T_UINT4, "UINT4", 1, TQ_DTYPE_UINT8, FIELD_INT32, 0, 1},
    {T_INT4, "INT4", 1, TQ_DTYPE_INT8, FIELD_INT32, 0, 1},
};

static const onnx_type *find_type(int64_t code) {
  for (size_t i = 0; i < sizeof onnx_types / sizeof onnx_types[0]; i++)
    if (onnx_types[i].code == code) return &onnx_types[i];
  return NULL;
}

/* Name of any ONNX element type, for messages. */
static const char *type_name(int64_t code) {
  static const char *const names[] = {
      "UNDEFINED",      "FLOAT",        "UINT8",          "INT8",
      "UINT16",         "INT16",        "INT32",          "INT64",
      "STRING",         "BOOL",         "FLOAT16",        "DOUBLE",
      "UINT32",         "UINT64",       "COMPLEX64",      "COMPLEX128",
      "BFLOAT16",       "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
      "FLOAT8E5M2FNUZ", "UINT4",        "INT4",           "FLOAT4E2M1"};
  if (code >= 0 && (uint64_t)code < sizeof names / sizeof names[0])
    return names[code];
  return "an unknown type";
}

#define SUPPORTED_TYPES                                                  \
  "FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT64, INT32, INT8, UINT8, BOOL, "  \
  "and INT16, UINT16, UINT32, UINT64 (held as int64), the FLOAT8 types " \
  "(as float32) and INT4, UINT4 (as int8, uint8)"

#define INPUT_TYPES \
  "FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT64, INT32, INT8, UINT8 and BOOL"

/* ---- element decoding
 * -------------------------------------------------------*/

static double double_from_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* Stores element i of dst (type t) from u, its bits as raw_data holds
 * them (or as the typed field holds the value: two's complement integers,
 * 16-bit floats as their bit patterns). Returns 1 when a UINT64 value
 * does not fit in int64 (*bad receives it). */
static int store_bits(const onnx_type *t, void *dst, size_t i, uint64_t u,
                      uint64_t *bad) {
  switch (t->code) {
    case T_FLOAT: ((float *)dst)[i] = float_from_bits((uint32_t)u); break;
    case T_DOUBLE: ((double *)dst)[i] = double_from_bits(u); break;
    case T_FLOAT16:
    case T_BFLOAT16: ((uint16_t *)dst)[i] = (uint16_t)(u & 0xffffu); break;
    case T_FLOAT8E4M3FN:
    case T_FLOAT8E4M3FNUZ:
    case T_FLOAT8E5M2:
    case T_FLOAT8E5M2FNUZ:
      ((float *)dst)[i] = tq_onnx_fp8_to_float(t->code, (uint8_t)(u & 0xffu));
      break;
    case T_UINT8: ((uint8_t *)dst)[i] = (uint8_t)(u & 0xffu); break;
    case T_INT8: ((int8_t *)dst)[i] = (int8_t)signed_from_bits(u, 8); break;
    /* Any non-zero value is true, as in NumPy. */
    case T_BOOL: ((uint8_t *)dst)[i] = (u & 0xffffffffu) != 0; break;
    case T_INT16: ((int64_t *)dst)[i] = signed_from_bits(u, 16); break;
    case T_UINT16: ((int64_t *)dst)[i] = (int64_t)(u & 0xffffu); break;
    case T_INT32: ((int32_t *)dst)[i] = (int32_t)signed_from_bits(u, 32); break;
    case T_UINT32: ((int64_t *)dst)[i] = (int64_t)(u & 0xffffffffu); break;
    case T_INT64: ((int64_t *)dst)[i] = signed_from_bits(u, 64); break;
    case T_UINT64:
      if (u > (uint64_t)INT64_MAX) {
        *bad = u;
        return 1;
      }
      ((int64_t *)dst)[i] = (int64_t)u;
      break;
    default: break;
  }
  return 0;
}

/* Decodes n little-endian elements of type t from src into dst starting at
 * element `at`. Returns 0, or 1 when a UINT64 value does not fit in int64
 * (*bad receives it). Values are decoded with explicit byte loads, so this
 * works for any host byte order and any alignment of src. */
static int decode_raw(const onnx_type *t, const unsigned char *src, size_t n,
                      tq_tensor *dst, size_t at, uint64_t *bad) {
  for (size_t i = 0; i < n; i++) {
    const unsigned char *e = src + i * t->size;
    uint64_t u = t->size == 1   ? e[0]
                 : t->size == 2 ? load_le16(e)
                 : t->size == 4 ? load_le32(e)
                                : load_le64(e);
    if (store_bits(t, dst->data, at + i, u, bad)) return 1;
  }
  return 0;
}

/* Decodes the typed field of tp (numel values, count already checked). */
static int decode_typed(const onnx_type *t, const Onnx__TensorProto *tp,
                        tq_tensor *dst, size_t numel, uint64_t *bad) {
  for (size_t i = 0; i < numel; i++) {
    uint64_t u = 0;
    switch (t->field) {
      case FIELD_FLOAT: {
        uint32_t b;
        memcpy(&b, &tp->float_data[i], sizeof b);
        u = b;
        break;
      }
      case FIELD_DOUBLE: memcpy(&u, &tp->double_data[i], sizeof u); break;
      case FIELD_INT32: u = (uint32_t)tp->int32_data[i]; break;
      case FIELD_INT64: u = (uint64_t)tp->int64_data[i]; break;
      case FIELD_UINT64: u = tp->uint64_data[i]; break;
    }
    if (store_bits(t, dst->data, i, u, bad)) return 1;
  }
  return 0;
}

/* Unpacks a 4-bit tensor (size checked) from raw_data or int32_data. */
static void decode_packed(const onnx_type *t, const Onnx__TensorProto *tp,
                          tq_tensor *dst) {
  const int is_signed = t->code == T_INT4;
  for (size_t i = 0; i < dst->numel; i++) {
    const uint8_t b = tp->has_raw_data ? tp->raw_data.data[i / 2]
                                       : (uint8_t)tp->int32_data[i / 2];
    const int v = tq_onnx_nibble(&b, i % 2, is_signed);
    if (is_signed)
      ((int8_t *)dst->data)[i] = (int8_t)v;
    else
      ((uint8_t *)dst->data)[i] = (uint8_t)v;
  }
}

static size_t typed_count(const Onnx__TensorProto *tp, typed_field field) {
  switch (field) {
    case FIELD_FLOAT: return tp->n_float_data;
    case FIELD_INT32: return tp->n_int32_data;
    case FIELD_INT64: return tp->n_int64_data;
    case FIELD_DOUBLE: return tp->n_double_data;
    case FIELD_UINT64: return tp->n_uint64_data;
  }
  return 0;
}

/* ---- value names ----------------------------------------------------------*/

typedef enum name_kind {
  NAME_INITIALIZER,
  NAME_CONSTANT, /* output of a Constant node (index: node) */
  NAME_INPUT,
  NAME_NODE /* output of a node (index: node) */
} name_kind;

typedef struct name_entry {
  const char *name; /* NULL: empty slot */
  name_kind kind;
  size_t index;
} name_entry;

/* Open addressing, linear probing; the capacity is a power of two kept at
 * least twice the number of entries. */
typedef struct name_map {
  name_entry *slots;
  size_t cap, count;
} name_map;

static uint64_t hash_name(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

static name_entry *map_slot(const name_map *m, const char *name) {
  size_t i = (size_t)hash_name(name) & (m->cap - 1);
  while (m->slots[i].name && strcmp(m->slots[i].name, name) != 0)
    i = (i + 1) & (m->cap - 1);
  return &m->slots[i];
}

static const name_entry *map_find(const name_map *m, const char *name) {
  if (!m->cap) return NULL;
  const name_entry *e = map_slot(m, name);
  return e->name ? e : NULL;
}

static int map_grow(name_map *m) {
  size_t cap = m->cap ? m->cap : 16;
  while (cap / 2 <= m->count + 1) {
    if (cap > SIZE_MAX / 2 / sizeof(name_entry)) return -1;
    cap *= 2;
  }
  if (cap == m->cap) return 0;
  name_entry *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  name_map bigger = {slots, cap, 0};
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].name) {
      *map_slot(&bigger, m->slots[i].name) = m->slots[i];
      bigger.count++;
    }
  free(m->slots);
  *m = bigger;
  return 0;
}

/* Inserts name; returns the entry already there (and inserts nothing) when
 * the name is taken, NULL after inserting. *nomem is set on allocation
 * failure. */
static const name_entry *map_insert(name_map *m, const char *name,
                                    name_kind kind, size_t index, int *nomem) {
  if (map_grow(m) != 0) {
    *nomem = 1;
    return NULL;
  }
  name_entry *e = map_slot(m, name);
  if (e->name) return e;
  e->name = name;
  e->kind = kind;
  e->index = index;
  m->count++;
  return NULL;
}

/* ---- the loader -----------------------------------------------------------*/

typedef struct loader {
  tq_context *ctx;
  const char *src;      /* file name (or "<memory>") for messages */
  const char *base_dir; /* directory for external data; NULL: none */
  /* malloc/free explicitly (rather than protobuf-c's default, which is
   * the same today) because convert_tensor frees raw_data early. */
  ProtobufCAllocator alloc;
  Onnx__ModelProto *model;
  const Onnx__GraphProto *graph;
  tq_graph *g;
  int64_t opset;
  name_map names;
  /* Per node: output names after dropping trailing "" and naming
   * non-trailing "" ones (those point into `generated`). */
  const char ***outs;
  size_t *n_outs;
  char **generated;
  size_t n_generated;
  size_t *order; /* nodes in topological order (non-Constant ones) */
  size_t n_order;
} loader;

static tq_status fail(loader *L, tq_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tq_status fail(loader *L, tq_status st, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tq_error(L->ctx, st, L->src, 0, 0, "%s", msg);
}

static tq_status nomem(loader *L) {
  return tq_error_nomem(L->ctx);
}

/* What messages call a node: its ID as the graph will have it (the name,
 * else the first output's name, per graph.h). */
static const char *node_label(const Onnx__NodeProto *n) {
  if (n->name && *n->name) return n->name;
  for (size_t i = 0; i < n->n_output; i++)
    if (n->output[i] && *n->output[i]) return n->output[i];
  return "(unnamed)";
}

static int is_constant(const Onnx__NodeProto *n) {
  return tq_op_domain_is_default(n->domain) && n->op_type &&
         strcmp(n->op_type, "Constant") == 0;
}

/* Formats dims as "[2, 3]" (cut with "..." when long). */
static void format_dims(const int64_t *dims, size_t n, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (size_t i = 0; i < n; i++) {
    if (cap - used < 32) { /* room for "...]" and then some */
      snprintf(buf + used, cap - used, "...]");
      return;
    }
    int k = snprintf(buf + used, cap - used, i ? ", %" PRId64 : "%" PRId64,
                     dims[i]);
    used += k > 0 ? (size_t)k : 0;
  }
  snprintf(buf + used, cap - used, "]");
}

/* ---- model-level checks ---------------------------------------------------*/

static tq_status check_versions(loader *L) {
  const Onnx__ModelProto *m = L->model;
  if (!m->has_ir_version)
    return fail(L, TQ_ERR_FORMAT,
                "not a valid ONNX model: ir_version is missing");
  if (m->ir_version < TQ_ONNX_MIN_IR_VERSION ||
      m->ir_version > TQ_ONNX_MAX_IR_VERSION)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "ONNX IR version %" PRId64
                " is not supported (versions %d to %d are)%s",
                m->ir_version, TQ_ONNX_MIN_IR_VERSION, TQ_ONNX_MAX_IR_VERSION,
                m->ir_version > TQ_ONNX_MAX_IR_VERSION
                    ? "; the model is newer than this build understands"
                    : "; convert it with onnx.version_converter");
  if (!m->graph)
    return fail(L, TQ_ERR_FORMAT, "not a valid ONNX model: it has no graph");
  L->graph = m->graph;

  int found = 0;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *op = m->opset_import[i];
    if (!tq_op_domain_is_default(op->domain)) continue;
    int64_t v = op->has_version ? op->version : 0;
    if (found && v != L->opset)
      return fail(L, TQ_ERR_FORMAT,
                  "the model imports the default ONNX domain twice, at "
                  "opsets %" PRId64 " and %" PRId64,
                  L->opset, v);
    L->opset = v;
    found = 1;
  }
  if (!found) {
    /* A graph without default-domain nodes needs no opset; others do. */
    for (size_t i = 0; i < L->graph->n_node; i++)
      if (tq_op_domain_is_default(L->graph->node[i]->domain))
        return fail(L, TQ_ERR_FORMAT,
                    "the model declares no opset for the default ONNX "
                    "domain (opset_import has no entry for \"\" or "
                    "\"ai.onnx\")");
    L->opset = TQ_ONNX_MAX_OPSET;
    return TQ_OK;
  }
  if (L->opset < TQ_ONNX_MIN_OPSET || L->opset > TQ_ONNX_MAX_OPSET)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "opset %" PRId64
                " of the default ONNX domain is not supported (opsets %d "
                "to %d are)%s",
                L->opset, TQ_ONNX_MIN_OPSET, TQ_ONNX_MAX_OPSET,
                L->opset < TQ_ONNX_MIN_OPSET
                    ? "; convert the model with "
                      "onnx.version_converter.convert_version"
                    : "");
  return TQ_OK;
}

/* Appends to a growing report; keeps count of what no longer fits. */
typedef struct report {
  char text[OP_REPORT_MAX + 1];
  size_t used;
  size_t items, dropped;
} report;

static void report_add(report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report_add(report *r, const char *fmt, ...) {
  char item[512];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(item, sizeof item, fmt, ap);
  va_end(ap);
  size_t len = k > 0 ? (size_t)k : 0;
  if (len >= sizeof item) len = sizeof item - 1;
  const char *sep = r->items ? "; " : "";
  r->items++;
  if (r->dropped || r->used + strlen(sep) + len > OP_REPORT_MAX) {
    r->dropped++;
    return;
  }
  r->used += (size_t)snprintf(r->text + r->used, sizeof r->text - r->used,
                              "%s%s", sep, item);
}

/* Lists every node whose operator this build cannot run (unknown op types
 * and other domains), so that one load shows the whole gap. */
static tq_status check_operators(loader *L) {
  report r = {.used = 0};
  for (size_t i = 0; i < L->graph->n_node; i++) {
    const Onnx__NodeProto *n = L->graph->node[i];
    const char *op = str_or_empty(n->op_type);
    if (!*op)
      return fail(L, TQ_ERR_FORMAT, "node '%.120s' (node %zu) has no op_type",
                  node_label(n), i);
    if (!tq_op_domain_is_default(n->domain)) {
      if (!tq_graph_lookup_op(L->g, n->domain, op))
        report_add(&r,
                   "node '%.120s' (%.60s, domain '%.60s': besides the default "
                   "ONNX domain only com.microsoft's quantized operators "
                   "(QLinear*, QGemm, ...) and its LayerNormalization, "
                   "SkipLayerNormalization, FastGelu and BiasGelu are "
                   "supported)",
                   node_label(n), op, n->domain);
      continue;
    }
    if (is_constant(n)) continue; /* becomes an initializer */
    if (!tq_graph_lookup_op(L->g, NULL, op))
      report_add(&r, "node '%.120s' (%.60s, opset %" PRId64 ")", node_label(n),
                 op, L->opset);
  }
  if (!r.items) return TQ_OK;
  char more[64] = "";
  if (r.dropped) snprintf(more, sizeof more, "; and %zu more", r.dropped);
  return fail(L, TQ_ERR_UNSUPPORTED,
              "%zu node%s use%s operators this build does not support: %s%s",
              r.items, r.items == 1 ? "" : "s", r.items == 1 ? "s" : "", r.text,
              more);
}

/* ---- names and references -------------------------------------------------*/

static const char *kind_text(const loader *L, const name_entry *e, char *buf,
                             size_t cap) {
  switch (e->kind) {
    case NAME_INITIALIZER: snprintf(buf, cap, "an initializer"); break;
    case NAME_INPUT: snprintf(buf, cap, "a graph input"); break;
    case NAME_CONSTANT:
    case NAME_NODE:
      snprintf(buf, cap, "an output of node '%.120s'",
               node_label(L->graph->node[e->index]));
      break;
  }
  return buf;
}

static tq_status define(loader *L, const char *name, name_kind kind,
                        size_t index, const char *what) {
  int oom = 0;
  const name_entry *prev = map_insert(&L->names, name, kind, index, &oom);
  if (oom) return nomem(L);
  if (!prev) return TQ_OK;
  char had[200];
  return fail(L, TQ_ERR_FORMAT,
              "duplicate value name '%.120s': %s, but already %s", name, what,
              kind_text(L, prev, had, sizeof had));
}

/* A name for a non-trailing empty output: unused, but the builder needs
 * every output named. Unique by construction against existing names. */
static tq_status generate_name(loader *L, const Onnx__NodeProto *n, size_t out,
                               const char **result) {
  const char *label = node_label(n);
  size_t cap = strlen(label) + 64;
  char *s = malloc(cap);
  if (!s) return nomem(L);
  for (unsigned k = 0;; k++) {
    snprintf(s, cap, k ? "%s:unused_output_%zu_%u" : "%s:unused_output_%zu",
             label, out, k);
    if (!map_find(&L->names, s)) break;
  }
  char **grown = realloc(L->generated, (L->n_generated + 1) * sizeof *grown);
  if (!grown) {
    free(s);
    return nomem(L);
  }
  L->generated = grown;
  L->generated[L->n_generated++] = s;
  *result = s;
  return TQ_OK;
}

/* Registers every value name (initializers, Constant outputs, real graph
 * inputs, node outputs), rejecting duplicates. */
static tq_status register_names(loader *L) {
  const Onnx__GraphProto *gp = L->graph;
  tq_status st;
  if (gp->n_sparse_initializer)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "sparse initializers are not supported (the graph has %zu)",
                gp->n_sparse_initializer);
  if (gp->n_node > (size_t)INT_MAX / 4 ||
      gp->n_initializer > (size_t)INT_MAX / 4)
    return fail(L, TQ_ERR_RANGE,
                "the graph has too many nodes or initializers");
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const char *name = str_or_empty(gp->initializer[i]->name);
    if (!*name) return fail(L, TQ_ERR_FORMAT, "initializer %zu has no name", i);
    if ((st = define(L, name, NAME_INITIALIZER, i, "an initializer")) != TQ_OK)
      return st;
  }
  L->outs = calloc(gp->n_node ? gp->n_node : 1, sizeof *L->outs);
  L->n_outs = calloc(gp->n_node ? gp->n_node : 1, sizeof *L->n_outs);
  if (!L->outs || !L->n_outs) return nomem(L);
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *n = gp->node[i];
    size_t k = n->n_output;
    /* Trailing "" outputs are optional outputs the model does not use. */
    while (k > 0 && !*str_or_empty(n->output[k - 1])) k--;
    if (k == 0)
      return fail(L, TQ_ERR_FORMAT, "node '%.120s' (%.60s) has no outputs%s",
                  node_label(n), str_or_empty(n->op_type),
                  n->n_output ? " (all its output names are empty)" : "");
    L->n_outs[i] = k;
    L->outs[i] = malloc(k * sizeof *L->outs[i]);
    if (!L->outs[i]) return nomem(L);
    for (size_t j = 0; j < k; j++) L->outs[i][j] = str_or_empty(n->output[j]);
    if (is_constant(n)) {
      if (k != 1 || n->n_input != 0)
        return fail(L, TQ_ERR_FORMAT,
                    "Constant node '%.120s' must have no inputs and one "
                    "output (it has %zu and %zu)",
                    node_label(n), n->n_input, k);
      if ((st = define(L, L->outs[i][0], NAME_CONSTANT, i,
                       "the output of a Constant node")) != TQ_OK)
        return st;
    }
  }
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *name = str_or_empty(gp->input[i]->name);
    if (!*name) return fail(L, TQ_ERR_FORMAT, "graph input %zu has no name", i);
    const name_entry *e = map_find(&L->names, name);
    /* Exporters for IR < 4 list initializers among the inputs too: those
     * are constants, not inputs. */
    if (e && e->kind == NAME_INITIALIZER) continue;
    if ((st = define(L, name, NAME_INPUT, i, "a graph input")) != TQ_OK)
      return st;
  }
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *n = gp->node[i];
    if (is_constant(n)) continue;
    for (size_t j = 0; j < L->n_outs[i]; j++) {
      if (!*L->outs[i][j]) continue; /* named below, once all are known */
      char what[200];
      snprintf(what, sizeof what, "an output of node '%.120s'", node_label(n));
      if ((st = define(L, L->outs[i][j], NAME_NODE, i, what)) != TQ_OK)
        return st;
    }
  }
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t j = 0; j < L->n_outs[i]; j++) {
      if (*L->outs[i][j]) continue;
      if ((st = generate_name(L, gp->node[i], j, &L->outs[i][j])) != TQ_OK ||
          (st = define(L, L->outs[i][j], NAME_NODE, i, "a generated name")) !=
              TQ_OK)
        return st;
    }
  return TQ_OK;
}

/* A binary min-heap of node indices: Kahn's algorithm taking the earliest
 * ready node keeps the file's order when it is already topological. */
typedef struct heap {
  size_t *v;
  size_t n;
} heap;

static void heap_push(heap *h, size_t x) {
  size_t i = h->n++;
  while (i > 0 && h->v[(i - 1) / 2] > x) {
    h->v[i] = h->v[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->v[i] = x;
}

static size_t heap_pop(heap *h) {
  size_t top = h->v[0], x = h->v[--h->n], i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && h->v[c + 1] < h->v[c]) c++;
    if (h->v[c] >= x) break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (h->n) h->v[i] = x;
  return top;
}

/* Checks that every input refers to a defined value and orders the nodes
 * so that producers come before consumers (ONNX requires the file to be
 * sorted; not every exporter obeys). Leftover nodes form a cycle. */
static tq_status sort_nodes(loader *L) {
  const Onnx__GraphProto *gp = L->graph;
  size_t n = gp->n_node, n_edges = 0;
  for (size_t i = 0; i < n; i++) {
    const Onnx__NodeProto *nd = gp->node[i];
    if (is_constant(nd)) continue;
    for (size_t j = 0; j < nd->n_input; j++) {
      const char *in = str_or_empty(nd->input[j]);
      if (!*in) continue; /* absent optional input */
      const name_entry *e = map_find(&L->names, in);
      if (!e)
        return fail(L, TQ_ERR_FORMAT,
                    "node '%.120s' (%.60s): input '%.120s' is not defined (it "
                    "is no graph input, initializer or "
                    "node output)",
                    node_label(nd), str_or_empty(nd->op_type), in);
      if (e->kind == NAME_NODE) n_edges++;
    }
  }
  size_t *pending = calloc(n + 1, sizeof *pending);
  size_t *start = calloc(n + 2, sizeof *start); /* consumers, CSR */
  size_t *cons = malloc((n_edges ? n_edges : 1) * sizeof *cons);
  heap h = {malloc((n ? n : 1) * sizeof(size_t)), 0};
  L->order = malloc((n ? n : 1) * sizeof *L->order);
  tq_status st = TQ_OK;
  if (!pending || !start || !cons || !h.v || !L->order) {
    st = nomem(L);
    goto done;
  }
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      const Onnx__NodeProto *nd = gp->node[i];
      if (is_constant(nd)) continue;
      for (size_t j = 0; j < nd->n_input; j++) {
        const char *in = str_or_empty(nd->input[j]);
        const name_entry *e = *in ? map_find(&L->names, in) : NULL;
        if (!e || e->kind != NAME_NODE) continue;
        if (pass == 0) {
          start[e->index + 1]++;
          pending[i]++;
        } else {
          cons[start[e->index]++] = i;
        }
      }
    }
    if (pass == 0)
      for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
  }
  /* Pass 1 advanced each start to its end: shift back. */
  for (size_t i = n; i > 0; i--) start[i] = start[i - 1];
  start[0] = 0;
  for (size_t i = 0; i < n; i++)
    if (!is_constant(gp->node[i]) && pending[i] == 0) heap_push(&h, i);
  size_t n_real = 0;
  for (size_t i = 0; i < n; i++) n_real += !is_constant(gp->node[i]);
  while (h.n) {
    size_t i = heap_pop(&h);
    L->order[L->n_order++] = i;
    for (size_t k = start[i]; k < start[i + 1]; k++)
      if (--pending[cons[k]] == 0) heap_push(&h, cons[k]);
  }
  if (L->n_order < n_real) {
    report r = {.used = 0};
    for (size_t i = 0; i < n; i++)
      if (!is_constant(gp->node[i]) && pending[i])
        report_add(&r, "'%.120s' (%.60s)", node_label(gp->node[i]),
                   str_or_empty(gp->node[i]->op_type));
    char more[64] = "";
    if (r.dropped) snprintf(more, sizeof more, "; and %zu more", r.dropped);
    st = fail(L, TQ_ERR_FORMAT,
              "the graph has a cycle: %zu nodes depend on each other's "
              "outputs: %s%s",
              n_real - L->n_order, r.text, more);
  }
done:
  free(pending);
  free(start);
  free(cons);
  free(h.v);
  return st;
}

/* ---- tensors --------------------------------------------------------------*/

/* Parses a decimal uint64 (the external_data offset and length). */
static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return -1;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* The external data location must stay inside the model's directory: a
 * model file is data, and must not be able to make the loader read
 * arbitrary files (/etc/..., ../../secret). */
static tq_status check_location(loader *L, const char *what, const char *name,
                                const char *loc) {
  if (!*loc)
    return fail(L, TQ_ERR_FORMAT,
                "%s '%.120s': external data has an empty location", what, name);
  if (loc[0] == '/' || loc[0] == '\\')
    return fail(L, TQ_ERR_FORMAT,
                "%s '%.120s': external data location '%.120s' is an absolute "
                "path; only paths relative to the model's "
                "directory are allowed",
                what, name, loc);
  const char *p = loc;
  while (*p) {
    size_t len = strcspn(p, "/\\");
    if (len == 2 && p[0] == '.' && p[1] == '.')
      return fail(L, TQ_ERR_FORMAT,
                  "%s '%.120s': external data location '%.120s' leaves the "
                  "model's directory ('..' is not allowed)",
                  what, name, loc);
    p += len;
    if (*p) p++;
  }
  return TQ_OK;
}

/* Reads the external data of tp into t (need bytes of type ty). */
static tq_status read_external(loader *L, const Onnx__TensorProto *tp,
                               const char *what, const char *name,
                               const onnx_type *ty, size_t need, tq_tensor *t) {
  const char *loc = NULL;
  uint64_t offset = 0, length = 0;
  int has_length = 0;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = str_or_empty(tp->external_data[i]->key);
    const char *v = str_or_empty(tp->external_data[i]->value);
    if (strcmp(k, "location") == 0) {
      loc = v;
    } else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
      uint64_t *dst = k[0] == 'o' ? &offset : &length;
      if (parse_u64(v, dst) != 0)
        return fail(L, TQ_ERR_FORMAT,
                    "%s '%.120s': external data %s '%.40s' is not a "
                    "non-negative integer",
                    what, name, k, v);
      if (k[0] == 'l') has_length = 1;
    }
  }
  if (!loc)
    return fail(L, TQ_ERR_FORMAT,
                "%s '%.120s': external data has no 'location' entry", what,
                name);
  tq_status st = check_location(L, what, name, loc);
  if (st != TQ_OK) return st;
  if (!L->base_dir)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "%s '%.120s': external data ('%.120s') cannot be read when a "
                "model is parsed from memory; load "
                "it from its file",
                what, name, loc);
  size_t blen = strlen(L->base_dir), llen = strlen(loc);
  char *path = malloc(blen + llen + 2);
  if (!path) return nomem(L);
  snprintf(path, blen + llen + 2, "%s/%s", L->base_dir, loc);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    st = fail(L, TQ_ERR_IO,
              "%s '%.120s': cannot open external data file '%.120s': %s", what,
              name, path, strerror(errno));
    free(path);
    return st;
  }
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = fail(L, TQ_ERR_IO,
              "%s '%.120s': external data file '%.120s' is not a regular file",
              what, name, path);
    goto done;
  }
  uint64_t size = (uint64_t)sb.st_size;
  if (offset > size) {
    st = fail(L, TQ_ERR_FORMAT,
              "%s '%.120s': external data offset %" PRIu64
              " is beyond the end of '%.120s' (%" PRIu64 " bytes)",
              what, name, offset, path, size);
    goto done;
  }
  if (!has_length) length = size - offset;
  if (length != need) {
    st = fail(L, TQ_ERR_FORMAT,
              "%s '%.120s' (%s): expected %zu bytes of external data, found "
              "%" PRIu64 " (%s in '%.120s')",
              what, name, ty->name, need, length,
              has_length ? "its length entry" : "the rest of the file", path);
    goto done;
  }
  if (length > size - offset) {
    st = fail(L, TQ_ERR_FORMAT,
              "%s '%.120s': external data [%" PRIu64 ", +%" PRIu64
              ") goes beyond the end of '%.120s' (%" PRIu64
              " bytes; truncated file?)",
              what, name, offset, length, path, size);
    goto done;
  }
  if ((uint64_t)(off_t)offset != offset ||
      fseeko(fp, (off_t)offset, SEEK_SET) != 0) {
    st = fail(L, TQ_ERR_IO, "%s '%.120s': cannot seek in '%.120s': %s", what,
              name, path, strerror(errno));
    goto done;
  }
  /* Chunks that hold whole elements of every size. */
  enum { CHUNK = 1 << 16 };
  unsigned char *chunk = malloc(CHUNK);
  if (!chunk) {
    st = nomem(L);
    goto done;
  }
  size_t per = CHUNK / ty->size, numel = need / ty->size;
  for (size_t at = 0; at < numel && st == TQ_OK; at += per) {
    size_t k = numel - at < per ? numel - at : per;
    uint64_t bad = 0;
    if (fread(chunk, ty->size, k, fp) != k)
      st = fail(L, TQ_ERR_IO,
                "%s '%.120s': cannot read external data from '%.120s'%s", what,
                name, path, ferror(fp) ? "" : ": the file ended early");
    else if (decode_raw(ty, chunk, k, t, at, &bad))
      st = fail(L, TQ_ERR_RANGE,
                "%s '%.120s': UINT64 value %" PRIu64 " does not fit in int64",
                what, name, bad);
  }
  free(chunk);
done:
  fclose(fp); /* read-only: nothing to lose */
  free(path);
  return st;
}

/* Converts a TensorProto (an initializer, a Constant's value or a tensor
 * attribute: what says which) into a new tensor. When release is set the
 * proto's raw_data is freed once converted, so that a large model is not
 * held in memory twice over. */
static tq_status convert_tensor(loader *L, Onnx__TensorProto *tp,
                                const char *what, const char *name, int release,
                                tq_tensor **out) {
  *out = NULL;
  int64_t code = tp->has_data_type ? tp->data_type : 0;
  const onnx_type *ty = find_type(code);
  if (!ty)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "%s '%.120s' has element type %s (%" PRId64
                "), which is not supported (supported: " SUPPORTED_TYPES ")",
                what, name, type_name(code), code);
  if (tp->segment)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "%s '%.120s' is split into segments, which is not supported",
                what, name);
  if (tp->n_dims > TQ_TENSOR_MAX_DIMS)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "%s '%.120s' has %zu dimensions; at most %d are supported",
                what, name, tp->n_dims, TQ_TENSOR_MAX_DIMS);
  char dims[160];
  format_dims(tp->dims, tp->n_dims, dims, sizeof dims);
  tq_shape shape = {.ndim = (int)tp->n_dims};
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0)
      return fail(L, TQ_ERR_FORMAT,
                  "%s '%.120s' has a negative dimension: dims %s", what, name,
                  dims);
    shape.dims[i] = tp->dims[i];
  }
  int overflow = 0;
  size_t numel = tq_shape_numel(&shape, &overflow);
  if (overflow || numel > SIZE_MAX / 8)
    return fail(L, TQ_ERR_RANGE, "%s '%.120s': dims %s are too large", what,
                name, dims);
  /* Packed 4-bit types store (numel + 1) / 2 bytes, in raw_data or one
   * byte per int32_data entry. */
  const size_t stored = ty->packed ? numel / 2 + numel % 2 : numel;
  size_t need = stored * ty->size;
  int external =
      tp->has_data_location &&
      tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (external && ty->packed)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "%s '%.120s' (%s): external data of packed 4-bit types is not "
                "supported yet",
                what, name, ty->name);
  size_t typed = typed_count(tp, ty->field);
  /* Check the data is there before allocating for it. */
  if (!external) {
    if (tp->has_raw_data) {
      if (tp->raw_data.len != need)
        return fail(L, TQ_ERR_FORMAT,
                    "%s '%.120s' (%s, dims %s): raw_data has the wrong size: "
                    "expected %zu bytes, found %zu",
                    what, name, ty->name, dims, need, tp->raw_data.len);
    } else if (typed != stored) {
      return fail(L, TQ_ERR_FORMAT,
                  "%s '%.120s' (%s, dims %s): expected %zu values in %s, "
                  "found %zu%s",
                  what, name, ty->name, dims, stored,
                  typed_field_names[ty->field], typed,
                  typed == 0 ? " (and no raw_data)" : "");
    }
  }
  tq_tensor *t = NULL;
  tq_status st = tq_tensor_create(L->ctx, ty->dtype, &shape, &t);
  if (st != TQ_OK) return st;
  uint64_t bad = 0;
  if (external) {
    st = read_external(L, tp, what, name, ty, need, t);
  } else if (ty->packed) {
    decode_packed(ty, tp, t);
  } else if (tp->has_raw_data) {
    if (decode_raw(ty, tp->raw_data.data, numel, t, 0, &bad))
      st = fail(L, TQ_ERR_RANGE,
                "%s '%.120s': UINT64 value %" PRIu64 " does not fit in int64",
                what, name, bad);
    if (release) {
      /* Unpacked with the malloc allocator (loader.alloc): each bytes
       * field is its own allocation, and free_unpacked skips NULL. */
      free(tp->raw_data.data);
      tp->raw_data.data = NULL;
      tp->raw_data.len = 0;
      tp->has_raw_data = 0;
    }
  } else if (decode_typed(ty, tp, t, numel, &bad)) {
    st = fail(L, TQ_ERR_RANGE,
              "%s '%.120s': UINT64 value %" PRIu64 " does not fit in int64",
              what, name, bad);
  }
  if (st != TQ_OK) {
    tq_tensor_destroy(t);
    return st;
  }
  *out = t;
  return TQ_OK;
}

/* A scalar or 1-d tensor from Constant's value_float(s)/value_int(s). */
static tq_status list_tensor(loader *L, tq_dtype dtype, int scalar,
                             const void *values, size_t n, tq_tensor **out) {
  tq_shape shape = {.ndim = scalar ? 0 : 1, .dims = {(int64_t)n}};
  tq_status st = tq_tensor_create(L->ctx, dtype, &shape, out);
  if (st != TQ_OK) return st;
  if (n) memcpy(tq_tensor_data(*out), values, n * tq_dtype_size(dtype));
  return TQ_OK;
}

/* The value of a Constant node, from whichever attribute holds it. */
static tq_status constant_value(loader *L, const Onnx__NodeProto *n,
                                tq_tensor **out) {
  *out = NULL;
  const char *label = node_label(n);
  if (n->n_attribute != 1)
    return fail(L, TQ_ERR_FORMAT,
                "Constant node '%.120s' must have exactly one attribute (the "
                "value), it has %zu",
                label, n->n_attribute);
  Onnx__AttributeProto *a = n->attribute[0];
  const char *an = str_or_empty(a->name);
  if (strcmp(an, "value") == 0 && a->t)
    return convert_tensor(L, a->t, "Constant node", label, 1, out);
  if (strcmp(an, "value_float") == 0 && a->has_f)
    return list_tensor(L, TQ_DTYPE_FLOAT32, 1, &a->f, 1, out);
  if (strcmp(an, "value_floats") == 0)
    return list_tensor(L, TQ_DTYPE_FLOAT32, 0, a->floats, a->n_floats, out);
  if (strcmp(an, "value_int") == 0 && a->has_i)
    return list_tensor(L, TQ_DTYPE_INT64, 1, &a->i, 1, out);
  if (strcmp(an, "value_ints") == 0)
    return list_tensor(L, TQ_DTYPE_INT64, 0, a->ints, a->n_ints, out);
  if (strcmp(an, "value_string") == 0 || strcmp(an, "value_strings") == 0 ||
      strcmp(an, "sparse_value") == 0)
    return fail(L, TQ_ERR_UNSUPPORTED,
                "Constant node '%.120s': attribute '%s' is not supported "
                "(only numeric dense values are)",
                label, an);
  return fail(L, TQ_ERR_FORMAT,
              "Constant node '%.120s' has attribute '%.60s', which holds no "
              "value of the kind its name says",
              label, an);
}

static tq_status add_initializers(loader *L) {
  const Onnx__GraphProto *gp = L->graph;
  tq_status st;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];
    tq_tensor *t = NULL;
    if ((st = convert_tensor(L, tp, "initializer", tp->name, 1, &t)) != TQ_OK)
      return st;
    st = tq_graph_add_initializer(L->ctx, L->g, tp->name, t);
    tq_tensor_destroy(t);
    if (st != TQ_OK) return st;
  }
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *n = gp->node[i];
    if (!is_constant(n)) continue;
    tq_tensor *t = NULL;
    if ((st = constant_value(L, n, &t)) != TQ_OK) return st;
    st = tq_graph_add_initializer(L->ctx, L->g, L->outs[i][0], t);
    tq_tensor_destroy(t);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* ---- inputs and outputs ---------------------------------------------------*/

static tq_status add_inputs(loader *L) {
  const Onnx__GraphProto *gp = L->graph;
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const name_entry *e = map_find(&L->names, vi->name);
    if (!e || e->kind != NAME_INPUT || e->index != i) continue;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !tp->tensor_type)
      return fail(L, TQ_ERR_UNSUPPORTED,
                  "graph input '%.120s' is not a tensor (or has no type); "
                  "only tensor inputs are supported",
                  vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int64_t et = tt->has_elem_type ? tt->elem_type : 0;
    const onnx_type *ty = find_type(et);
    if (!ty || !ty->own)
      return fail(L, TQ_ERR_UNSUPPORTED,
                  "graph input '%.120s' has element type %s; graph inputs "
                  "may be " INPUT_TYPES,
                  vi->name, type_name(et));
    if (!tt->shape)
      return fail(L, TQ_ERR_UNSUPPORTED,
                  "graph input '%.120s' has no shape (unknown rank); give it "
                  "one, with symbolic dims where sizes vary",
                  vi->name);
    if (tt->shape->n_dim > TQ_TENSOR_MAX_DIMS)
      return fail(L, TQ_ERR_UNSUPPORTED,
                  "graph input '%.120s' has %zu dimensions; at most %d are "
                  "supported",
                  vi->name, tt->shape->n_dim, TQ_TENSOR_MAX_DIMS);
    tq_shape shape = {.ndim = (int)tt->shape->n_dim};
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
      const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
      int64_t v = -1; /* dim_param or nothing: dynamic */
      if (dim->value_case ==
          ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
        v = dim->dim_value;
        /* Some exporters write -1 for "unknown" in dim_value. */
        if (v < -1)
          return fail(L, TQ_ERR_FORMAT,
                      "graph input '%.120s': dimension %zu is %" PRId64,
                      vi->name, d, v);
      }
      shape.dims[d] = v;
    }
    tq_status st =
        tq_graph_add_input_typed(L->ctx, L->g, vi->name, ty->dtype, &shape);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

static tq_status add_outputs(loader *L) {
  const Onnx__GraphProto *gp = L->graph;
  if (gp->n_output == 0)
    return fail(L, TQ_ERR_FORMAT, "the graph has no outputs");
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = str_or_empty(gp->output[i]->name);
    if (!*name)
      return fail(L, TQ_ERR_FORMAT, "graph output %zu has no name", i);
    if (!map_find(&L->names, name))
      return fail(L, TQ_ERR_FORMAT,
                  "graph output '%.120s' is not produced by any node (nor an "
                  "input or initializer)",
                  name);
    tq_status st = tq_graph_add_output(L->ctx, L->g, name);
    if (st != TQ_OK) return st;
  }
  return TQ_OK;
}

/* ---- nodes ----------------------------------------------------------------*/

static const char *attr_type_name(Onnx__AttributeProto__AttributeType t) {
  switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
      return "SPARSE_TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "TYPE_PROTO";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
      return "SPARSE_TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
      return "TYPE_PROTOS";
    default: return "UNDEFINED";
  }
}

/* The attribute's type; models older than IR 3 may leave it out, and then
 * it follows from which field is set. */
static Onnx__AttributeProto__AttributeType attr_type(
    const Onnx__AttributeProto *a) {
  if (a->has_type &&
      a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
    return a->type;
  if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
  if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
  if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
  if (a->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
  return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

/* What one node's attributes need to live until tq_graph_add_node copies
 * them. */
typedef struct node_attrs {
  tq_attr *a;
  char **strings; /* NUL-terminated copies of STRING values */
  tq_tensor **tensors;
  size_t n;
} node_attrs;

static void node_attrs_free(node_attrs *na) {
  for (size_t i = 0; i < na->n; i++) {
    if (na->strings) free(na->strings[i]);
    if (na->tensors) tq_tensor_destroy(na->tensors[i]);
  }
  free(na->a);
  free(na->strings);
  free(na->tensors);
  memset(na, 0, sizeof *na);
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static tq_status convert_attrs(loader *L, const Onnx__NodeProto *n,
                               node_attrs *na) {
  const char *label = node_label(n), *op = str_or_empty(n->op_type);
  size_t k = n->n_attribute;
  na->a = calloc(k ? k : 1, sizeof *na->a);
  na->strings = calloc(k ? k : 1, sizeof *na->strings);
  na->tensors = calloc(k ? k : 1, sizeof *na->tensors);
  if (!na->a || !na->strings || !na->tensors) return nomem(L);
  na->n = k;
  for (size_t i = 0; i < k; i++) {
    Onnx__AttributeProto *a = n->attribute[i];
    const char *an = str_or_empty(a->name);
    if (!*an)
      return fail(L, TQ_ERR_FORMAT,
                  "node '%.120s' (%.60s): attribute %zu has no name", label, op,
                  i);
    if (a->ref_attr_name && *a->ref_attr_name)
      return fail(L, TQ_ERR_UNSUPPORTED,
                  "node '%.120s' (%.60s): attribute '%.60s' refers to a "
                  "function attribute, which is not supported",
                  label, op, an);
    tq_attr *t = &na->a[i];
    t->name = an;
    Onnx__AttributeProto__AttributeType ty = attr_type(a);
    switch (ty) {
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        t->type = TQ_ATTR_INT;
        t->i = a->i;
        break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        t->type = TQ_ATTR_FLOAT;
        t->f = a->f;
        break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        size_t len = a->s.len;
        if (len && memchr(a->s.data, '\0', len))
          return fail(L, TQ_ERR_FORMAT,
                      "node '%.120s' (%.60s): string attribute '%.60s' "
                      "contains a NUL byte",
                      label, op, an);
        char *s = malloc(len + 1);
        if (!s) return nomem(L);
        if (len) memcpy(s, a->s.data, len);
        s[len] = '\0';
        na->strings[i] = s;
        t->type = TQ_ATTR_STRING;
        t->s = s;
        break;
      }
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        t->type = TQ_ATTR_INTS;
        t->ints = a->ints;
        t->count = a->n_ints;
        break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        t->type = TQ_ATTR_FLOATS;
        t->floats = a->floats;
        t->count = a->n_floats;
        break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        if (!a->t)
          return fail(L, TQ_ERR_FORMAT,
                      "node '%.120s' (%.60s): tensor attribute '%.60s' has no "
                      "tensor",
                      label, op, an);
        char what[200];
        snprintf(what, sizeof what, "attribute '%.60s' of node", an);
        tq_status st = convert_tensor(L, a->t, what, label, 0, &na->tensors[i]);
        if (st != TQ_OK) return st;
        t->type = TQ_ATTR_TENSOR;
        t->t = na->tensors[i];
        break;
      }
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
        return fail(L, TQ_ERR_UNSUPPORTED,
                    "node '%.120s' (%.60s): attribute '%.60s' is a subgraph "
                    "(%s); control flow with subgraphs is not supported",
                    label, op, an, attr_type_name(ty));
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED:
        return fail(L, TQ_ERR_FORMAT,
                    "node '%.120s' (%.60s): attribute '%.60s' has no type and "
                    "no value",
                    label, op, an);
      default:
        return fail(L, TQ_ERR_UNSUPPORTED,
                    "node '%.120s' (%.60s): attribute '%.60s' has type %s, "
                    "which is not supported (INT, FLOAT, STRING, INTS, "
                    "FLOATS and TENSOR are)",
                    label, op, an, attr_type_name(ty));
    }
  }
  /* Duplicates, by sorting the names: a crafted node may carry many
   * thousands of attributes, too many to compare pairwise. */
  const char **names = malloc((k ? k : 1) * sizeof *names);
  if (!names) return nomem(L);
  for (size_t i = 0; i < k; i++) names[i] = na->a[i].name;
  qsort(names, k, sizeof *names, compare_names);
  tq_status st = TQ_OK;
  for (size_t i = 1; i < k && st == TQ_OK; i++)
    if (strcmp(names[i - 1], names[i]) == 0)
      st = fail(L, TQ_ERR_FORMAT,
                "node '%.120s' (%.60s): attribute '%.60s' is given twice",
                label, op, names[i]);
  free(names);
  return st;
}

/* The ONNX element type of value `name` when it is an initializer or a
 * Constant's output; 0 otherwise. */
static int64_t constant_type(const loader *L, const char *name) {
  const name_entry *e = map_find(&L->names, name);
  if (!e) return 0;
  const Onnx__TensorProto *tp = NULL;
  if (e->kind == NAME_INITIALIZER) {
    tp = L->graph->initializer[e->index];
  } else if (e->kind == NAME_CONSTANT) {
    const Onnx__NodeProto *c = L->graph->node[e->index];
    if (c->n_attribute == 1) tp = c->attribute[0]->t;
  }
  return tp && tp->has_data_type ? tp->data_type : 0;
}

/* QuantizeLinear's output type is its zero point's ONNX type (or the
 * output_dtype attribute of opset 21). The runtime holds int16 and int4
 * zero points in wider dtypes, so the type travels to the operator as
 * output_dtype, added here where the file leaves it to the zero point. */
static tq_status qdq_type_attr(loader *L, const Onnx__NodeProto *n,
                               node_attrs *na) {
  if (!tq_op_domain_is_default(n->domain) ||
      strcmp(str_or_empty(n->op_type), "QuantizeLinear") != 0 ||
      n->n_input < 3 || !n->input[2] || !*n->input[2])
    return TQ_OK;
  for (size_t i = 0; i < na->n; i++)
    if (strcmp(na->a[i].name, "output_dtype") == 0) return TQ_OK;
  const int64_t code = constant_type(L, n->input[2]);
  if (!code) return TQ_OK;
  tq_attr *a = realloc(na->a, (na->n + 1) * sizeof *a);
  if (!a) return nomem(L);
  na->a = a;
  char **s = realloc(na->strings, (na->n + 1) * sizeof *s);
  if (s) na->strings = s;
  tq_tensor **t = s ? realloc(na->tensors, (na->n + 1) * sizeof *t) : NULL;
  if (t) na->tensors = t;
  if (!s || !t) return nomem(L);
  na->strings[na->n] = NULL;
  na->tensors[na->n] = NULL;
  na->a[na->n++] =
      (tq_attr){.name = "output_dtype", .type = TQ_ATTR_INT, .i = code};
  return TQ_OK;
}

static tq_status add_nodes(loader *L) {
  const Onnx__GraphProto *gp = L->graph;
  size_t cap = 0;
  const char **ins = NULL;
  tq_status st = TQ_OK;
  for (size_t o = 0; o < L->n_order && st == TQ_OK; o++) {
    size_t i = L->order[o];
    const Onnx__NodeProto *n = gp->node[i];
    if (n->n_input > cap) {
      const char **grown = realloc(ins, n->n_input * sizeof *grown);
      if (!grown) {
        st = nomem(L);
        break;
      }
      ins = grown;
      cap = n->n_input;
    }
    for (size_t j = 0; j < n->n_input; j++) ins[j] = str_or_empty(n->input[j]);
    node_attrs na = {0};
    st = convert_attrs(L, n, &na);
    if (st == TQ_OK) st = qdq_type_attr(L, n, &na);
    if (st == TQ_OK)
      st = tq_graph_add_node_in(
          L->ctx, L->g, tq_op_domain_is_default(n->domain) ? NULL : n->domain,
          n->op_type, str_or_empty(n->name), ins, n->n_input, L->outs[i],
          L->n_outs[i], na.a, na.n);
    node_attrs_free(&na);
  }
  free(ins);
  return st;
}

/* ---- nesting guard --------------------------------------------------------*/

static int read_varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
    uint8_t c = b[(*pos)++];
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

/* Walks the wire format iteratively, following the schema only far enough
 * to know which length-delimited fields are nested messages, and refuses
 * nesting deeper than MAX_NESTING. Anything malformed is left to protobuf-c
 * to reject (returns 0). Every read stops at the end of the message being
 * walked, so pos never passes it. */
static int nesting_too_deep(const uint8_t *b, size_t len) {
  struct frame {
    const ProtobufCMessageDescriptor *desc;
    size_t end;
  } stack[MAX_NESTING + 1];
  int depth = 0;
  size_t pos = 0;
  stack[0].desc = &onnx__model_proto__descriptor;
  stack[0].end = len;
  for (;;) {
    while (pos == stack[depth].end) {
      if (depth == 0) return 0;
      depth--;
    }
    const size_t end = stack[depth].end;
    uint64_t tag, v;
    if (read_varint(b, end, &pos, &tag) != 0) return 0;
    switch (tag & 7) {
      case PROTOBUF_C_WIRE_TYPE_VARINT:
        if (read_varint(b, end, &pos, &v) != 0) return 0;
        break;
      case PROTOBUF_C_WIRE_TYPE_64BIT:
        if (end - pos < 8) return 0;
        pos += 8;
        break;
      case PROTOBUF_C_WIRE_TYPE_32BIT:
        if (end - pos < 4) return 0;
        pos += 4;
        break;
      case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED: {
        if (read_varint(b, end, &pos, &v) != 0 || v > end - pos) return 0;
        uint64_t field = tag >> 3;
        const ProtobufCFieldDescriptor *fd =
            field <= UINT_MAX ? protobuf_c_message_descriptor_get_field(
                                    stack[depth].desc, (unsigned)field)
                              : NULL;
        if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
          if (depth == MAX_NESTING) return 1;
          depth++;
          stack[depth].desc = fd->descriptor;
          stack[depth].end = pos + (size_t)v;
        } else {
          pos += (size_t)v;
        }
        break;
      }
      default: return 0; /* groups: protobuf-c rejects them */
    }
  }
}

/* ---- entry points ---------------------------------------------------------*/

static void *pb_alloc(void *data, size_t size) {
  (void)data;
  return malloc(size ? size : 1);
}

static void pb_free(void *data, void *p) {
  (void)data;
  free(p);
}

static void loader_free(loader *L) {
  if (L->outs)
    for (size_t i = 0; i < L->graph->n_node; i++) free(L->outs[i]);
  free(L->outs);
  free(L->n_outs);
  for (size_t i = 0; i < L->n_generated; i++) free(L->generated[i]);
  free(L->generated);
  free(L->order);
  free(L->names.slots);
  tq_graph_destroy(L->g);
  /* Last: the names above point into it. */
  if (L->model) onnx__model_proto__free_unpacked(L->model, &L->alloc);
}

/* Builds the graph from L->model. */
static tq_status build(loader *L) {
  tq_status st;
  if ((st = check_versions(L)) != TQ_OK) return st;
  if ((st = tq_graph_create(L->ctx, &L->g)) != TQ_OK) return st;
  tq_graph_set_opset(L->g, L->opset);
  /* Kept for export (graph_internal.h: the graph owns name). */
  if (L->graph->name && *L->graph->name) {
    size_t n = strlen(L->graph->name) + 1;
    if (!(L->g->name = malloc(n))) return nomem(L);
    memcpy(L->g->name, L->graph->name, n);
  }
  if ((st = check_operators(L)) != TQ_OK) return st;
  if ((st = register_names(L)) != TQ_OK) return st;
  if ((st = sort_nodes(L)) != TQ_OK) return st;
  if ((st = add_initializers(L)) != TQ_OK) return st;
  if ((st = add_inputs(L)) != TQ_OK) return st;
  if ((st = add_nodes(L)) != TQ_OK) return st;
  if ((st = add_outputs(L)) != TQ_OK) return st;
  return tq_graph_validate(L->ctx, L->g);
}

/* The builder's messages carry no file name; this adds it, so that every
 * message of the loader starts with the model's name. */
static tq_status with_source(const loader *L, tq_status st) {
  if (st == TQ_OK || st == TQ_ERR_NO_MEMORY) return st;
  const tq_error_info *e = tq_context_error_info(L->ctx);
  if (!e || e->source[0]) return st;
  char msg[sizeof e->message];
  snprintf(msg, sizeof msg, "%s", e->message);
  return tq_error(L->ctx, st, L->src, 0, 0, "%s", msg);
}

/* Parses bytes and builds the graph. owned (may be NULL) is the caller's
 * buffer holding bytes, freed as soon as protobuf-c has copied what it
 * keeps, so that a large model is not held in memory twice over. */
static tq_status load_bytes(tq_context *ctx, const void *bytes, size_t len,
                            const char *src, const char *base_dir, void *owned,
                            tq_graph **out) {
  loader L = {.ctx = ctx,
              .src = src,
              .base_dir = base_dir,
              .alloc = {pb_alloc, pb_free, NULL}};
  tq_status st = TQ_OK;
  if (len == 0)
    st = tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                  "not a valid ONNX model: the file is empty");
  else if (nesting_too_deep(bytes, len))
    st = tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                  "not a valid ONNX model: messages are nested more than %d "
                  "levels deep",
                  MAX_NESTING);
  else if (!(L.model = onnx__model_proto__unpack(&L.alloc, len, bytes)))
    st = tq_error(ctx, TQ_ERR_FORMAT, src, 0, 0,
                  "not a valid ONNX model (protobuf parse failed; %zu bytes): "
                  "the file is truncated, corrupt or not an ONNX model",
                  len);
  free(owned);
  if (st != TQ_OK) return st;
  st = with_source(&L, build(&L));
  if (st == TQ_OK) {
    *out = L.g;
    L.g = NULL;
  }
  loader_free(&L);
  return st;
}

tq_status tq_onnx_parse(tq_context *ctx, const void *bytes, size_t len,
                        const char *source, tq_graph **out) {
  const char *src = source ? source : "<memory>";
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "onnx: out must not be NULL");
  *out = NULL;
  if (!bytes && len)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, src, 0, 0,
                    "onnx: bytes is NULL but len is %zu", len);
  return load_bytes(ctx, bytes, len, src, NULL, NULL, out);
}

/* Reads a whole file into memory. */
static tq_status slurp(tq_context *ctx, const char *path, unsigned char **data,
                       size_t *len) {
  *data = NULL;
  *len = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot open for reading: %s",
                    strerror(errno));
  tq_status st = TQ_OK;
  struct stat sb;
  size_t cap = 1 << 16, used = 0;
  unsigned char *buf = NULL;
  if (fstat(fileno(fp), &sb) != 0) {
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot stat: %s",
                  strerror(errno));
    goto done;
  }
  if (S_ISDIR(sb.st_mode)) {
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0,
                  "is a directory, not an ONNX model");
    goto done;
  }
  /* Regular files: one allocation of the right size (plus one byte to
   * notice growth); pipes and the like grow as they are read. */
  if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
    if ((uint64_t)sb.st_size >= SIZE_MAX) {
      st = tq_error(ctx, TQ_ERR_RANGE, path, 0, 0,
                    "the file is too large to load");
      goto done;
    }
    cap = (size_t)sb.st_size + 1;
  }
  buf = malloc(cap);
  if (!buf) {
    st = tq_error_nomem(ctx);
    goto done;
  }
  for (;;) {
    if (used == cap) {
      unsigned char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (!grown) {
        st = tq_error_nomem(ctx);
        goto done;
      }
      buf = grown;
      cap *= 2;
    }
    size_t got = fread(buf + used, 1, cap - used, fp);
    used += got;
    if (got == 0) break;
  }
  if (ferror(fp))
    st = tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot read: %s",
                  strerror(errno));
done:
  fclose(fp); /* read-only: nothing to lose */
  if (st != TQ_OK) {
    free(buf);
    return st;
  }
  *data = buf;
  *len = used;
  return TQ_OK;
}

tq_status tq_onnx_load(tq_context *ctx, const char *path, tq_graph **out) {
  if (!out)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "onnx: out must not be NULL");
  *out = NULL;
  if (!path || !*path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "onnx: path must be a non-empty string");
  /* External data paths are relative to the model's directory. */
  const char *slash = strrchr(path, '/');
  size_t dlen = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
  char *dir = malloc(dlen + 1);
  if (!dir) return tq_error_nomem(ctx);
  memcpy(dir, slash ? path : ".", dlen);
  dir[dlen] = '\0';
  unsigned char *bytes = NULL;
  size_t len = 0;
  tq_status st = slurp(ctx, path, &bytes, &len);
  if (st == TQ_OK) st = load_bytes(ctx, bytes, len, path, dir, bytes, out);
  free(dir);
  return st;
}
