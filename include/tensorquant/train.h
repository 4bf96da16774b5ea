/* Training with quantization (docs/design.md §3).
 *
 * A trainer runs a graph forward in training mode (BatchNormalization on
 * batch statistics, Dropout active) with the extrinsic, weights and
 * intrinsic maps applied as in inference, computes softmax cross-entropy
 * against integer labels, runs every node's backward, and takes one
 * optimizer step. Quantizers pass gradients straight through (identity,
 * or masked to their range with ste=clipped); the gradients map quantizes
 * the gradient flowing back out of each node; the updates map stores each
 * weight through its quantizer after every step (the original's quantized
 * optimizers).
 *
 * Trainable parameters: the float weight initializers of the operators
 * docs/design.md §3 lists (Conv, ConvTranspose, Gemm, MatMul, normalizations,
 * PRelu; not BatchNormalization's running statistics, which training
 * updates as state), plus a float initializer added to a MatMul's output
 * (the bias of an exported Linear layer). Other constants stay fixed.
 *
 * The loss head: when the graph's first output comes from a Softmax, the
 * loss is computed from that Softmax's input (fused softmax cross-entropy);
 * from a LogSoftmax, it is the negative log-likelihood of its output;
 * otherwise the output is taken as logits.
 *
 * Ownership: the trainer borrows the graph and updates its initializers in
 * place (the graph must outlive it; do not run other sessions on it during
 * a step); maps are borrowed until the next tq_trainer_set_maps.
 * Thread-safety: one thread per trainer. Deterministic: the same graph,
 * data order, seed and configuration give the same bits at any thread
 * count. */
#ifndef TENSORQUANT_TRAIN_H
#define TENSORQUANT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "export.h"
#include "graph.h"
#include "qmap.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tq_optimizer {
  TQ_OPTIMIZER_SGD = 0, /* momentum, Nesterov, weight decay */
  TQ_OPTIMIZER_ADAM,    /* Adam (L2 weight decay added to the gradient) */
  TQ_OPTIMIZER_COUNT
} tq_optimizer;

typedef enum tq_schedule {
  TQ_SCHEDULE_CONSTANT = 0,
  TQ_SCHEDULE_STEP,   /* lr * gamma^floor(epoch / step_epochs) */
  TQ_SCHEDULE_COSINE, /* lr * (1 + cos(pi * epoch / epochs)) / 2 */
  TQ_SCHEDULE_COUNT
} tq_schedule;

typedef struct tq_train_config {
  tq_optimizer optimizer;
  double lr;
  double momentum;               /* SGD */
  int nesterov;                  /* SGD */
  double weight_decay;           /* both */
  double beta1, beta2, adam_eps; /* Adam */
  tq_schedule schedule;
  int step_epochs;   /* step schedule */
  double step_gamma; /* step schedule */
  int epochs;        /* for the cosine schedule */
} tq_train_config;

/* The defaults: Adam, lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay,
 * SGD momentum 0.9 when chosen, constant schedule, step 5 epochs x 0.5. */
TQ_API void tq_train_config_default(tq_train_config *cfg);

/* The learning rate of epoch (0-based) under cfg's schedule. */
TQ_API double tq_train_lr_at(const tq_train_config *cfg, int epoch);

/* Names for the command line: "sgd", "adam"; "constant", "step",
 * "cosine". Parse functions return TQ_ERR_PARSE for unknown names. */
TQ_API const char *tq_optimizer_name(tq_optimizer o);
TQ_API tq_status tq_optimizer_parse(tq_context *ctx, const char *name,
                                    tq_optimizer *out);
TQ_API const char *tq_schedule_name(tq_schedule s);
TQ_API tq_status tq_schedule_parse(tq_context *ctx, const char *name,
                                   tq_schedule *out);

typedef struct tq_trainer tq_trainer;

/* Creates a trainer for g with the given configuration: finds the
 * trainable parameters and the loss head, and checks that every node on
 * the gradient path has a backward (the error lists those that do not). */
TQ_API tq_status tq_trainer_create(tq_context *ctx, tq_graph *g,
                                   const tq_train_config *cfg,
                                   tq_trainer **out);
TQ_API void tq_trainer_destroy(tq_trainer *t);

/* Attaches maps (extrinsic, weights, intrinsic, gradients, updates; NULL:
 * float training). */
TQ_API tq_status tq_trainer_set_maps(tq_context *ctx, tq_trainer *t,
                                     const tq_qmap_set *maps);

/* Seed of stochastic rounding and Dropout (default 0). */
TQ_API void tq_trainer_set_seed(tq_trainer *t, uint64_t seed);

/* Sets the learning rate for the following steps. */
TQ_API void tq_trainer_set_lr(tq_trainer *t, double lr);

/* Number of classes the model's output gives (after the first step or
 * tq_trainer_prepare). */
TQ_API tq_status tq_trainer_prepare(tq_context *ctx, tq_trainer *t,
                                    const tq_shape *input_shape,
                                    int64_t *classes);

typedef struct tq_step_result {
  double loss;    /* mean cross-entropy over the batch */
  size_t correct; /* top-1 hits */
  size_t count;   /* samples */
} tq_step_result;

/* One training step on a batch: x [B, ...] float32, labels [B] in
 * [0, classes) (with chunks or ranks: this rank's samples, see
 * tq_trainer_shard). sample_offset: index of the batch's first sample in the
 * whole run (e.g. epoch * samples_per_epoch + position), so stochastic
 * rounding and Dropout get fresh, reproducible random numbers. A loss
 * that is NaN or infinite fails with TQ_ERR_NUMERIC and changes no
 * parameter. */
TQ_API tq_status tq_trainer_step(tq_context *ctx, tq_trainer *t,
                                 const tq_tensor *x, const int64_t *labels,
                                 uint64_t sample_offset, tq_step_result *res);

/* Chunks: every global batch is split into `chunks` equal chunks (0, the
 * default: one per rank, so 1 in a single process). A step computes each
 * chunk's gradient on its own - forward, loss and backward on that chunk
 * alone, its loss gradient scaled by the global batch size - and adds the
 * chunks' gradients in chunk order; BatchNormalization normalizes with
 * each chunk's statistics (as "ghost" batch normalization does) and keeps
 * the mean of the chunks' running statistics. The gradients map
 * quantizes a parameter's gradient once all chunks are added. With one
 * chunk this is the plain step. Fails for a negative count. */
TQ_API tq_status tq_trainer_set_chunks(tq_context *ctx, tq_trainer *t,
                                       int chunks);

/* Which samples of every global batch of `batch` samples this rank
 * passes to tq_trainer_step: `count` samples starting at position `first`
 * of the batch (this rank's contiguous run of chunks: with K chunks and N
 * ranks, the first K mod N ranks get floor(K/N) + 1 chunks, the others
 * floor(K/N)); chunk (may be NULL) receives the chunk size. Fails when the
 * batch is smaller than the number of ranks, when there are fewer chunks
 * than ranks, or when the batch does not split into equal chunks. */
TQ_API tq_status tq_trainer_shard(tq_context *ctx, const tq_trainer *t,
                                  size_t batch, size_t *first, size_t *count,
                                  size_t *chunk);

/* Data-parallel training over the ranks of comm (NULL, or one rank: this
 * process alone, the default; docs/mpi.md). Each rank calls
 * tq_trainer_step with its own samples of every global batch
 * (tq_trainer_shard) and sample_offset the global position of its first
 * sample, so that stochastic rounding and Dropout draw what a single
 * process would. The ranks exchange every chunk's loss and every chunk's
 * gradients and running statistics, and every rank adds them up in chunk
 * order: the step is the same bits as the single-process step with the
 * same number of chunks (tq_trainer_set_chunks), on any number of ranks,
 * and the parameters stay identical on all ranks. res describes the
 * global batch and is the same on every rank. A failure in the forward
 * pass or the loss of any rank (e.g. a label out of range) fails the step
 * on every rank, with that rank's message. comm is borrowed until the next
 * call. */
TQ_API void tq_trainer_set_comm(tq_trainer *t, const tq_comm *comm);

/* Steps taken so far. */
TQ_API uint64_t tq_trainer_steps(const tq_trainer *t);

/* Trainable parameters: count, and the initializer name of parameter i
 * (owned by the graph). */
TQ_API size_t tq_trainer_param_count(const tq_trainer *t);
TQ_API const char *tq_trainer_param_name(const tq_trainer *t, size_t i);

/* The gradient of parameter i after the last step (before the optimizer
 * used it; owned by the trainer), or NULL. */
TQ_API const tq_tensor *tq_trainer_param_grad(const tq_trainer *t, size_t i);

/* Checkpoints: the graph's float initializers (parameters and running
 * statistics), the optimizer state, the step count, `epoch` (a number the
 * caller chooses, e.g. completed epochs) and `run_tag` (a number the
 * caller chooses to recognise its run: tq train stores a digest of the
 * options that fix the data order, and refuses to resume a different
 * run), written atomically to path. Loading checks that the checkpoint
 * belongs to a graph with the same parameters (names and shapes) and the
 * same optimizer; epoch and run_tag may be NULL. */
TQ_API tq_status tq_trainer_save_checkpoint(tq_context *ctx,
                                            const tq_trainer *t,
                                            const char *path, int epoch,
                                            uint64_t run_tag);
TQ_API tq_status tq_trainer_load_checkpoint(tq_context *ctx, tq_trainer *t,
                                            const char *path, int *epoch,
                                            uint64_t *run_tag);

#ifdef __cplusplus
}
#endif
#endif
