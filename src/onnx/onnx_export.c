/* ONNX export: a tq_graph written as a ModelProto.
 *
 * The protobuf-c structures are filled with pointers into the graph (names,
 * attribute arrays and, on little-endian hosts, tensor data) plus small
 * allocations kept in an arena, and packed straight into the output file
 * through a ProtobufCBuffer, so a model is never held in memory twice. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/tensor_internal.h"
#include "graph/graph_internal.h"
#include "onnx.pb-c.h"
#include "tensorquant/onnx.h"
#include "tensorquant/session.h"
#include "tensorquant/version.h"

/* Graphs built with the API follow this opset unless told otherwise. */
#define DEFAULT_OPSET 17

/* protobuf messages are limited to 2 GiB (signed 32-bit sizes in every
 * implementation); bigger models need external data, which the exporter
 * does not write. */
#define MAX_MODEL_BYTES ((size_t)INT32_MAX)

/* ---- an arena for the small allocations of one export ---------------------*/

typedef struct arena {
  void **blocks;
  size_t n, cap;
  int failed;
} arena;

/* Zeroed memory freed with the arena; NULL (and failed set) when out of
 * memory, so that callers may check once at the end. */
static void *arena_alloc(arena *a, size_t count, size_t size) {
  if (a->failed) return NULL;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    void **grown = realloc(a->blocks, cap * sizeof *grown);
    if (!grown) {
      a->failed = 1;
      return NULL;
    }
    a->blocks = grown;
    a->cap = cap;
  }
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) {
    a->failed = 1;
    return NULL;
  }
  a->blocks[a->n++] = p;
  return p;
}

static char *arena_strdup(arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = arena_alloc(a, n, 1);
  if (p) memcpy(p, s, n);
  return p;
}

static void arena_free(arena *a) {
  for (size_t i = 0; i < a->n; i++) free(a->blocks[i]);
  free(a->blocks);
}

/* protobuf-c declares string fields char * but never writes through them
 * when packing; this keeps the one cast in one place. */
static char *str(const char *s) {
  return (char *)(uintptr_t)s;
}

/* ---- tensors --------------------------------------------------------------*/

static int host_is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

/* The ONNX element type of a dtype. */
static int32_t onnx_elem_type(tq_dtype dtype) {
  switch (dtype) {
    case TQ_DTYPE_INT64: return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    case TQ_DTYPE_INT32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    case TQ_DTYPE_INT8: return ONNX__TENSOR_PROTO__DATA_TYPE__INT8;
    case TQ_DTYPE_UINT8: return ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    case TQ_DTYPE_BOOL: return ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    case TQ_DTYPE_FLOAT64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    case TQ_DTYPE_FLOAT16: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    case TQ_DTYPE_BFLOAT16: return ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
    default: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  }
}

/* Fills tp with t as raw_data (little-endian, as ONNX requires). */
static void fill_tensor(arena *a, Onnx__TensorProto *tp, const char *name,
                        const tq_tensor *t) {
  const tq_shape *shape = tq_tensor_shape(t);
  size_t numel = tq_tensor_numel(t);
  size_t size = tq_dtype_size(tq_tensor_dtype(t));
  onnx__tensor_proto__init(tp);
  tp->name = str(name);
  tp->has_data_type = 1;
  tp->data_type = onnx_elem_type(tq_tensor_dtype(t));
  tp->n_dims = (size_t)shape->ndim;
  tp->dims = arena_alloc(a, tp->n_dims, sizeof *tp->dims);
  if (tp->dims)
    for (int i = 0; i < shape->ndim; i++) tp->dims[i] = shape->dims[i];
  tp->has_raw_data = 1;
  tp->raw_data.len = numel * size;
  const unsigned char *src = tq_tensor_cdata(t);
  if (host_is_little_endian()) {
    /* The tensor's bytes are already what the file needs. */
    tp->raw_data.data = (uint8_t *)(uintptr_t)src;
    return;
  }
  unsigned char *dst = arena_alloc(a, numel, size);
  if (!dst) return;
  for (size_t i = 0; i < numel; i++)
    for (size_t k = 0; k < size; k++)
      dst[i * size + k] = src[i * size + (size - 1 - k)];
  tp->raw_data.data = dst;
}

/* ---- graph parts ----------------------------------------------------------*/

static Onnx__AttributeProto *make_attr(arena *a, const tq_attr *at) {
  Onnx__AttributeProto *p = arena_alloc(a, 1, sizeof *p);
  if (!p) return NULL;
  onnx__attribute_proto__init(p);
  p->name = str(at->name);
  p->has_type = 1;
  switch (at->type) {
    case TQ_ATTR_INT:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
      p->has_i = 1;
      p->i = at->i;
      break;
    case TQ_ATTR_FLOAT:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
      p->has_f = 1;
      p->f = at->f;
      break;
    case TQ_ATTR_STRING:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
      p->has_s = 1;
      p->s.data = (uint8_t *)(uintptr_t)(at->s ? at->s : "");
      p->s.len = at->s ? strlen(at->s) : 0;
      break;
    case TQ_ATTR_INTS:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
      p->n_ints = at->count;
      p->ints = (int64_t *)(uintptr_t)at->ints;
      break;
    case TQ_ATTR_FLOATS:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
      p->n_floats = at->count;
      p->floats = (float *)(uintptr_t)at->floats;
      break;
    case TQ_ATTR_TENSOR:
      p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
      p->t = arena_alloc(a, 1, sizeof *p->t);
      if (p->t && at->t) fill_tensor(a, p->t, NULL, at->t);
      break;
    default: return NULL; /* make_nodes reports it */
  }
  return p;
}

/* The importer gives QuantizeLinear its zero point's type as output_dtype
 * (onnx_import.c), an attribute ONNX has from opset 21 only. */
static int internal_attr(const tq_graph *g, const char *op, const char *name) {
  return g->opset < 21 && !strcmp(op, "QuantizeLinear") &&
         !strcmp(name, "output_dtype");
}

/* The domain node i is written in: the one it was imported with, else its
 * operator's (a com.microsoft operator added without a domain); NULL for
 * the default domain. */
static const char *node_domain(const tq_graph *g, size_t i) {
  const char *d = tq_graph_node_domain(g, i);
  if (d) return d;
  const tq_op_desc *desc = tq_graph_lookup_op(g, NULL, g->nodes[i].op_type);
  return desc && desc->domain[0] ? desc->domain : NULL;
}

static tq_status make_nodes(tq_context *ctx, arena *a, const tq_graph *g,
                            const char *path, Onnx__GraphProto *gp) {
  size_t n = tq_graph_node_count(g);
  gp->n_node = n;
  gp->node = arena_alloc(a, n, sizeof *gp->node);
  for (size_t i = 0; i < n && !a->failed; i++) {
    tq_node_info info;
    tq_status st = tq_graph_node_info(g, i, &info);
    if (st != TQ_OK)
      return tq_error(ctx, st, path, 0, 0, "onnx: cannot read node %zu", i);
    Onnx__NodeProto *np = arena_alloc(a, 1, sizeof *np);
    if (!np) break;
    onnx__node_proto__init(np);
    gp->node[i] = np;
    np->name = str(info.id);
    np->op_type = str(info.op_type);
    const char *domain = node_domain(g, i);
    if (domain) np->domain = str(domain);
    np->n_input = info.n_inputs;
    np->input = (char **)(uintptr_t)info.inputs;
    np->n_output = info.n_outputs;
    np->output = (char **)(uintptr_t)info.outputs;
    const tq_attr_store *attrs = NULL;
    size_t n_attrs = 0;
    tq_graph_node_attrs(g, i, &attrs, &n_attrs);
    np->attribute = arena_alloc(a, n_attrs, sizeof *np->attribute);
    for (size_t k = 0; k < n_attrs && np->attribute; k++) {
      if (internal_attr(g, info.op_type, attrs[k].a.name)) continue;
      np->attribute[np->n_attribute] = make_attr(a, &attrs[k].a);
      if (!np->attribute[np->n_attribute++] && !a->failed)
        return tq_error(ctx, TQ_ERR_INTERNAL, path, 0, 0,
                        "onnx: node '%s': attribute '%s' has an unknown type "
                        "(%d)",
                        info.id, attrs[k].a.name, (int)attrs[k].a.type);
    }
  }
  return TQ_OK;
}

/* Dims >= 0 are written as dim_value; -1 as the dim_param "N" (the batch
 * size every input and output shares: equal dim_params mean equal sizes in
 * ONNX); -2 as a dim_param of its own, "<name>_dim<d>". shape NULL: no
 * shape at all (unknown rank). */
static Onnx__TypeProto *tensor_type(arena *a, int32_t elem,
                                    const tq_shape *shape, const char *name) {
  Onnx__TypeProto *tp = arena_alloc(a, 1, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = arena_alloc(a, 1, sizeof *tt);
  if (!tp || !tt) return NULL;
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = elem;
  if (!shape) return tp;
  Onnx__TensorShapeProto *sp = arena_alloc(a, 1, sizeof *sp);
  if (!sp) return NULL;
  onnx__tensor_shape_proto__init(sp);
  tt->shape = sp;
  sp->n_dim = (size_t)shape->ndim;
  sp->dim = arena_alloc(a, sp->n_dim, sizeof *sp->dim);
  for (int d = 0; d < shape->ndim && sp->dim; d++) {
    Onnx__TensorShapeProto__Dimension *dim = arena_alloc(a, 1, sizeof *dim);
    if (!dim) return NULL;
    onnx__tensor_shape_proto__dimension__init(dim);
    sp->dim[d] = dim;
    int64_t v = shape->dims[d];
    if (v >= 0) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = v;
      continue;
    }
    dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    if (v == -1) {
      dim->dim_param = arena_strdup(a, "N");
    } else {
      size_t len = strlen(name) + 32;
      char *s = arena_alloc(a, len, 1);
      if (s) snprintf(s, len, "%s_dim%d", name, d);
      dim->dim_param = s;
    }
  }
  return tp;
}

/* ---- output shapes --------------------------------------------------------*/

/* Shapes of the outputs after planning with every dynamic input dim set
 * to size; 0 when planning fails (unknown or user ops, shapes that
 * need real sizes). */
static int plan_outputs(tq_context *pc, tq_session *s, const tq_graph *g,
                        int64_t size, tq_shape *in, tq_shape *out,
                        tq_dtype *dtypes) {
  size_t n_in = tq_graph_input_count(g), n_out = tq_graph_output_count(g);
  for (size_t i = 0; i < n_in; i++) {
    in[i] = *tq_graph_input_shape(g, i);
    for (int d = 0; d < in[i].ndim; d++)
      if (in[i].dims[d] < 0) in[i].dims[d] = size;
  }
  if (tq_session_plan(pc, s, in, n_in) != TQ_OK) return 0;
  for (size_t i = 0; i < n_out; i++) {
    const char *name = tq_graph_output_name(g, i);
    const tq_shape *sh = tq_session_value_shape(s, name);
    if (!sh) return 0;
    out[i] = *sh;
    dtypes[i] = tq_session_value_dtype(s, name);
  }
  return 1;
}

/* Shapes of the graph outputs, as tensor_type writes them, found by
 * planning the graph twice (dynamic input dims 1, then 2): dims that
 * differ are dynamic, and those that follow a batch-only dynamic input
 * exactly are "N" too. Returns 0 (shapes unknown) when the graph cannot
 * be planned: the outputs are then written without shapes, which ONNX
 * Runtime accepts (onnx.checker does not). */
static int output_shapes(const tq_graph *g, tq_shape *out, tq_dtype *dtypes) {
  size_t n_in = tq_graph_input_count(g), n_out = tq_graph_output_count(g);
  int dynamic = 0, batch_only = 1;
  for (size_t i = 0; i < n_in; i++) {
    const tq_shape *sh = tq_graph_input_shape(g, i);
    for (int d = 0; d < sh->ndim; d++)
      if (sh->dims[d] < 0) {
        dynamic = 1;
        if (d) batch_only = 0;
      }
  }
  /* Failures here are not the caller's: a context of its own keeps the
   * caller's last error as it was. */
  tq_context *pc = NULL;
  if (tq_context_create(&pc) != TQ_OK) return 0;
  tq_session *s = NULL;
  tq_shape *in = calloc(n_in ? n_in : 1, sizeof *in);
  tq_shape *two = calloc(n_out ? n_out : 1, sizeof *two);
  int ok = in && two && tq_session_create(pc, g, &s) == TQ_OK &&
           plan_outputs(pc, s, g, 1, in, out, dtypes) &&
           (!dynamic || plan_outputs(pc, s, g, 2, in, two, dtypes));
  for (size_t i = 0; ok && dynamic && i < n_out; i++) {
    if (out[i].ndim != two[i].ndim) {
      ok = 0;
      break;
    }
    for (int d = 0; d < out[i].ndim; d++) {
      int64_t x = out[i].dims[d], y = two[i].dims[d];
      if (x != y) out[i].dims[d] = batch_only && x == 1 && y == 2 ? -1 : -2;
    }
  }
  tq_session_destroy(s);
  tq_context_destroy(pc);
  free(in);
  free(two);
  return ok;
}

static Onnx__ValueInfoProto *value_info(arena *a, const char *name,
                                        Onnx__TypeProto *type) {
  Onnx__ValueInfoProto *vi = arena_alloc(a, 1, sizeof *vi);
  if (!vi) return NULL;
  onnx__value_info_proto__init(vi);
  vi->name = str(name);
  vi->type = type;
  return vi;
}

/* ---- writing --------------------------------------------------------------*/

typedef struct file_buffer {
  ProtobufCBuffer base; /* first: protobuf-c sees only this */
  FILE *fp;
  int err;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
  file_buffer *fb = (file_buffer *)b;
  if (fb->err || len == 0) return;
  if (fwrite(data, 1, len, fb->fp) != len) fb->err = errno ? errno : EIO;
}

static int write_model(FILE *fp, void *user) {
  const Onnx__ModelProto *m = user;
  file_buffer fb = {{file_append}, fp, 0};
  protobuf_c_message_pack_to_buffer(&m->base, &fb.base);
  return fb.err;
}

static int64_t ir_version_for(int64_t opset) {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  if (opset <= 23) return 11;
  return 12;
}

tq_status tq_onnx_save(tq_context *ctx, const tq_graph *g, const char *path) {
  if (!path || !*path)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "onnx: path must be a non-empty string");
  if (!g)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                    "onnx: the graph must not be NULL");
  arena a = {0};
  int64_t opset = g->opset > 0 ? g->opset : DEFAULT_OPSET;

  Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
  Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
  Onnx__OperatorSetIdProto op = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  /* com.microsoft at its opset 1, when a node uses it */
  Onnx__OperatorSetIdProto ms = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  Onnx__OperatorSetIdProto *ops[2] = {&op, &ms};
  op.domain = str("");
  op.has_version = 1;
  op.version = opset;
  ms.domain = str(TQ_DOMAIN_MS);
  ms.has_version = 1;
  ms.version = 1;
  model.has_ir_version = 1;
  model.ir_version = ir_version_for(opset);
  model.n_opset_import = 1;
  model.opset_import = ops;
  model.producer_name = str("tensorquant");
  model.producer_version = str(TQ_VERSION_STRING);
  model.graph = &graph;
  graph.name = str(g->name && *g->name ? g->name : "tensorquant");

  tq_status st = make_nodes(ctx, &a, g, path, &graph);
  if (st != TQ_OK) goto done;
  /* com.microsoft is imported when a written node is in it */
  for (size_t i = 0; graph.node && i < graph.n_node; i++)
    if (graph.node[i] && graph.node[i]->domain && *graph.node[i]->domain)
      model.n_opset_import = 2;

  size_t n_init = tq_graph_initializer_count(g);
  graph.n_initializer = n_init;
  graph.initializer = arena_alloc(&a, n_init, sizeof *graph.initializer);
  for (size_t i = 0; i < n_init && graph.initializer; i++) {
    const char *name = tq_graph_initializer_name(g, i);
    const tq_tensor *t = name ? tq_graph_initializer(g, name) : NULL;
    if (!t) {
      st = tq_error(ctx, TQ_ERR_INTERNAL, path, 0, 0,
                    "onnx: initializer %zu has no value", i);
      goto done;
    }
    graph.initializer[i] = arena_alloc(&a, 1, sizeof(Onnx__TensorProto));
    if (graph.initializer[i]) fill_tensor(&a, graph.initializer[i], name, t);
  }

  size_t n_in = tq_graph_input_count(g);
  graph.n_input = n_in;
  graph.input = arena_alloc(&a, n_in, sizeof *graph.input);
  for (size_t i = 0; i < n_in && graph.input; i++) {
    const char *name = tq_graph_input_name(g, i);
    tq_shape sh = *tq_graph_input_shape(g, i);
    for (int d = 1; d < sh.ndim; d++)
      if (sh.dims[d] < 0) sh.dims[d] = -2; /* not the batch: own name */
    graph.input[i] = value_info(
        &a, name,
        tensor_type(&a, onnx_elem_type(tq_graph_input_dtype(g, i)), &sh, name));
  }

  size_t n_out = tq_graph_output_count(g);
  graph.n_output = n_out;
  graph.output = arena_alloc(&a, n_out, sizeof *graph.output);
  tq_shape *shapes = arena_alloc(&a, n_out, sizeof *shapes);
  tq_dtype *dtypes = arena_alloc(&a, n_out, sizeof *dtypes);
  int known = shapes && dtypes && output_shapes(g, shapes, dtypes);
  for (size_t i = 0; i < n_out && graph.output; i++) {
    const char *name = tq_graph_output_name(g, i);
    /* Element types come from planning; when the graph cannot be planned,
     * outputs are float unless they are constants. */
    const tq_tensor *init = tq_graph_initializer(g, name);
    const int32_t elem = onnx_elem_type(known  ? dtypes[i]
                                        : init ? tq_tensor_dtype(init)
                                               : TQ_DTYPE_FLOAT32);
    graph.output[i] = value_info(
        &a, name, tensor_type(&a, elem, known ? &shapes[i] : NULL, name));
  }

  if (a.failed) {
    st = tq_error_nomem(ctx);
    goto done;
  }
  size_t size = onnx__model_proto__get_packed_size(&model);
  if (size > MAX_MODEL_BYTES) {
    st = tq_error(ctx, TQ_ERR_UNSUPPORTED, path, 0, 0,
                  "onnx: the model needs %zu bytes, more than the 2 GiB a "
                  "protobuf message can hold (external data is not written)",
                  size);
    goto done;
  }
  st = tq_atomic_write_file(ctx, path, write_model, &model);
done:
  arena_free(&a);
  return st;
}
