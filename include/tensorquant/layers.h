/* Framework layers of a model and what a map does to them
 * (docs/maps.md, "Layers of imported models" and "Checking a map against
 * a model").
 *
 * An exporter writes one framework layer (a Keras Dense with its
 * activation, a PyTorch Conv2d) as several ONNX nodes. A session groups
 * them back into layers from their name scopes and topology. Under the
 * layer view, a map key addresses layers: its extrinsic quantizer applies
 * to the layer's final output, its weights quantizer to every parameter of
 * the layer, its intrinsic one to the layer's Conv/Gemm/MatMul. Under the
 * node view (the default) keys address ONNX nodes, as before.
 *
 * A map report tells, for a session's view and a set of maps, which keys
 * hit which layers (or nodes) and which key applies where, so that a key
 * that matches nothing is found before it silently leaves a model float. */
#ifndef TENSORQUANT_LAYERS_H
#define TENSORQUANT_LAYERS_H

#include <stddef.h>

#include "export.h"
#include "qmap.h"
#include "session.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tq_map_view {
  TQ_MAP_VIEW_NODES = 0, /* keys address ONNX nodes (the default) */
  TQ_MAP_VIEW_LAYERS = 1 /* keys address framework layers */
} tq_map_view;

/* Chooses what map keys address and resolves the session's maps again under
 * that view (quantizing the weights again). Returns TQ_ERR_INVALID_ARGUMENT
 * for an unknown view. */
TQ_API tq_status tq_session_set_map_view(tq_context *ctx, tq_session *s,
                                         tq_map_view view);
TQ_API tq_map_view tq_session_map_view(const tq_session *s);

/* One framework layer of the session's graph. Pointers are owned by the
 * session and valid while it lives. */
typedef struct tq_layer_info {
  const char *id;      /* the layer's name: its scope */
  const size_t *nodes; /* member nodes, in graph order */
  size_t n_nodes;
  size_t output_node;        /* the member giving the layer's output */
  const char *const *params; /* its parameters (initializer names) */
  size_t n_params;
  /* modules owning PyTorch-style parameter names ("layer1.0.conv1"), also
   * matched by keys */
  const char *const *owners;
  size_t n_owners;
} tq_layer_info;

/* Number of layers of the session's graph (the same under either view). */
TQ_API size_t tq_session_layer_count(const tq_session *s);

/* Layer i; TQ_ERR_RANGE when i >= tq_session_layer_count. */
TQ_API tq_status tq_session_layer(const tq_session *s, size_t i,
                                  tq_layer_info *info);

/* The layer node i belongs to, or -1 (layout nodes, such as an exporter's
 * Transposes, belong to none; also -1 for i out of range). */
TQ_API long tq_session_node_layer(const tq_session *s, size_t node);

/* ---- map reports ----------------------------------------------------------*/

typedef struct tq_map_report tq_map_report;

/* Resolves maps (NULL: none) against the session's graph under the
 * session's current view, without changing the session. The targets are
 * the layers (layer view) or the nodes (node view). Free with
 * tq_map_report_destroy. */
TQ_API tq_status tq_map_report_create(tq_context *ctx, const tq_session *s,
                                      const tq_qmap_set *maps,
                                      tq_map_report **out);
TQ_API void tq_map_report_destroy(tq_map_report *r);

TQ_API tq_map_view tq_map_report_view(const tq_map_report *r);

/* Number of targets (layers or nodes). */
TQ_API size_t tq_map_report_target_count(const tq_map_report *r);

/* A target: its ID, its weights (parameter names) and for each kind
 * whether it has anything that kind quantizes (extrinsic, gradients: every
 * target; weights, updates: targets with parameters; intrinsic: targets
 * with a Conv/Gemm/MatMul). Pointers are owned by the report's session. */
typedef struct tq_map_target {
  const char *id;
  const char *const *weights;
  size_t n_weights;
  int eligible[TQ_MAP_KIND_COUNT];
} tq_map_target;

TQ_API tq_status tq_map_report_target(const tq_map_report *r, size_t t,
                                      tq_map_target *out);

/* The entry of the kind's map that applies to target t (the first that
 * matches), or -1 when none does or the target is not eligible. */
TQ_API long tq_map_report_applies(const tq_map_report *r, size_t t,
                                  tq_map_kind kind);

/* Whether entry `entry` of the kind's map matches eligible target t,
 * whether or not an earlier entry wins there. */
TQ_API int tq_map_report_matches(const tq_map_report *r, tq_map_kind kind,
                                 size_t entry, size_t t);

/* What one key does: the eligible targets it matches and those where it
 * applies (where no earlier key wins). A key with n_applied 0 changes
 * nothing: tq's commands warn about it, and --strict refuses it. */
typedef struct tq_map_key_report {
  const char *key; /* as written; owned by the map */
  size_t n_matched;
  size_t n_applied;
} tq_map_key_report;

/* Entry `entry` of the kind's map; TQ_ERR_RANGE when the report's maps have
 * no such entry. */
TQ_API tq_status tq_map_report_key(const tq_map_report *r, tq_map_kind kind,
                                   size_t entry, tq_map_key_report *out);

/* Number of entries, over all kinds, that apply to no target. */
TQ_API size_t tq_map_report_unused(const tq_map_report *r);

#ifdef __cplusplus
}
#endif
#endif
