/* The model zoo: networks built with the public builder API, with freshly
 * initialized weights, ready to train (train.h) or export (onnx.h).
 *
 * Every model takes [N, 1, 28, 28] float inputs scaled to [0, 1]
 * (pixel / 255); its first nodes normalize them (Fashion-MNIST mean and
 * standard deviation), so an exported file needs no preprocessing besides
 * the scaling. The output is class probabilities (a final Softmax) of
 * shape [N, 10]; training folds that Softmax into the loss.
 *
 * Ownership: tq_model_build gives the caller a graph to free with
 * tq_graph_destroy. Thread-safety: the functions keep no state. */
#ifndef TENSORQUANT_MODELS_H
#define TENSORQUANT_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "graph.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds zoo model `name` ("lenet", "resnet8"; tq_model_name lists them)
 * with weights drawn from seed (He-uniform for weights, zero biases, unit
 * BatchNormalization scales). Unknown names give TQ_ERR_NOT_FOUND with
 * the list of models. */
TQ_API tq_status tq_model_build(tq_context *ctx, const char *name,
                                uint64_t seed, tq_graph **out);

/* The zoo: count, names and one-line descriptions (static strings; NULL
 * when i is out of range). */
TQ_API size_t tq_model_count(void);
TQ_API const char *tq_model_name(size_t i);
TQ_API const char *tq_model_description(size_t i);

#ifdef __cplusplus
}
#endif
#endif
