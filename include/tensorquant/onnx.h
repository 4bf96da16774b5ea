/* ONNX models: loading into a tq_graph, saving a tq_graph.
 *
 * Loading accepts ONNX files of IR version TQ_ONNX_MIN_IR_VERSION to
 * TQ_ONNX_MAX_IR_VERSION whose nodes use the default ONNX domain ("" or
 * "ai.onnx") at opset TQ_ONNX_MIN_OPSET to TQ_ONNX_MAX_OPSET, or one of the
 * com.microsoft operators docs/ops.md lists (ONNX Runtime's contrib
 * LayerNormalization, SkipLayerNormalization, FastGelu, BiasGelu). Initializers
 * become float32 (FLOAT, DOUBLE, FLOAT16, BFLOAT16) or int64 (every integer
 * type and BOOL) tensors, from raw_data, the typed fields or external data
 * files; Constant nodes become initializers. Node IDs are the ONNX node
 * names (the first output's name for unnamed nodes), and quantizer maps also
 * match a node through the names of its weight initializers (docs/design.md §3).
 * Every problem is reported with the file name and the node, value or
 * initializer concerned; when nodes use operators this build does not
 * implement, the message lists all of them. docs/onnx.md has the details.
 *
 * Ownership: graphs returned through out belong to the caller (free them
 * with tq_graph_destroy). Thread-safety: all functions are reentrant. */
#ifndef TENSORQUANT_ONNX_H
#define TENSORQUANT_ONNX_H

#include <stddef.h>

#include "export.h"
#include "graph.h"
#include "session.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Range of ModelProto.ir_version accepted by the loader. */
#define TQ_ONNX_MIN_IR_VERSION 3
#define TQ_ONNX_MAX_IR_VERSION 12
/* Range of default-domain opsets accepted by the loader. */
#define TQ_ONNX_MIN_OPSET 7
#define TQ_ONNX_MAX_OPSET 24

/* Loads the ONNX model at path. Tensors stored as external data are read
 * from files relative to the model's directory (absolute paths and paths
 * leaving that directory are refused). On failure *out is NULL and the
 * context's last error says what is wrong and where. */
TQ_API tq_status tq_onnx_load(tq_context *ctx, const char *path,
                              tq_graph **out);

/* Same from the bytes of a model in memory; source names it in messages
 * (NULL: "<memory>"). Models with external data are refused, as there is
 * no directory to resolve them against. */
TQ_API tq_status tq_onnx_parse(tq_context *ctx, const void *bytes, size_t len,
                               const char *source, tq_graph **out);

/* Writes g as an ONNX model (IR version 8, or the lowest one that allows
 * the graph's opset; producer "tensorquant"): its nodes, its initializers
 * as held now (so weights replaced with tq_graph_set_initializer, e.g.
 * quantized ones, are baked in) as little-endian raw_data, its inputs with
 * their shapes (dynamic dims as symbolic dims: "N" for the first) and its
 * outputs as float tensors. The file is written atomically: on failure no
 * file at path is created or changed. */
TQ_API tq_status tq_onnx_save(tq_context *ctx, const tq_graph *g,
                              const char *path);

/* Writes the model of session s, whose maps are set, as ONNX QDQ: every
 * weight its weights map quantizes with an `int,B` spec (B <= 8; per
 * tensor, per axis from opset 13, blocked from opset 21) becomes an int8
 * (sym) or uint8 (asym, unsigned) initializer read through a
 * DequantizeLinear with its scales and zero points, so ONNX runtimes
 * compute with exactly the weights tq run uses (docs/onnx.md "Quantized
 * models"). Other formats, activation and intrinsic quantizers are refused
 * with an error naming the layer and the format; so is a weight whose
 * quantized values do not lie exactly on the grid written. Written
 * atomically, like tq_onnx_save. */
TQ_API tq_status tq_onnx_save_qdq(tq_context *ctx, const tq_session *s,
                                  const char *path);

/* Describes node `node` of g when it is an ONNX quantization node, as the
 * quantizer spec it equals (docs/onnx.md "Quantized models"): a
 * QuantizeLinear whose readers are all DequantizeLinear nodes (a QDQ pair,
 * "QDQ int,8,asym,static (ONNX int8, scale 0.0235, zero point -3)") or a
 * DequantizeLinear of an initializer (quantized weights, "weights
 * int,8,sym,axis=0,static (ONNX int8, 16 scales in [...], zero points
 * 0)"). Writes the text into buf (size bytes, truncated and NUL-terminated)
 * and returns 1; returns 0 (buf unchanged) for any other node, and for g
 * or buf NULL. */
TQ_API int tq_onnx_qdq_describe(const tq_graph *g, size_t node, char *buf,
                                size_t size);

#ifdef __cplusplus
}
#endif
#endif
