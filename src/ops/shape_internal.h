/* Internal: what the shape and data-movement operators share
 * (shape_common.c): checks of inputs, shape-like inputs and attributes,
 * axes, strides.
 *
 * Many of these operators take "shape-like" inputs (Reshape's shape,
 * Slice's starts, Pad's pads, ...) whose values decide the output shape.
 * infer reads those values, so they must be constants: initializers or
 * results of nodes that the executor evaluated at plan time (torch exports
 * compute them with Shape -> Gather -> Concat chains, which all run at
 * plan time). Each operator derives its parameters in one function that
 * infer, forward and backward share, so they can never disagree.
 *
 * Data movement handles every dtype alike (element size only), so the
 * same code serves run-time tensors of any dtype and plan-time shape
 * arithmetic. */
#ifndef TQ_OPS_SHAPE_INTERNAL_H
#define TQ_OPS_SHAPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ops/elementwise.h"

/* Shape-like inputs and list attributes hold at most this many values
 * (Pad: 2 per dim). */
enum { TQ_SHAPE_MAXV = 2 * TQ_MAX_DIMS };

/* A list attribute as parsed: present says whether the node has it. */
typedef struct tq_shape_ints {
  int present;
  size_t n;
  int64_t v[TQ_SHAPE_MAXV];
} tq_shape_ints;

/* Parses an integer or integer-list attribute (absent: present 0, n 0);
 * an error names the attribute when it has another type or more than
 * TQ_SHAPE_MAXV values. */
tq_status tq_shape_parse_ints(const tq_op_parse *p, const char *name,
                              tq_shape_ints *out);

/* A shape of rank nd, all dims 0. */
tq_shape tq_shape_of_rank(int nd);

/* Whether input i is present. */
int tq_shape_has_input(const tq_op_call *c, size_t i);

/* Input i must be present ('what' names it in the message). */
tq_status tq_shape_need_input(tq_op_call *c, size_t i, const char *what);

/* Input i must be present and hold values: infer reads it, so it must be
 * a constant (an initializer or a value the executor computed at plan
 * time); values computed from run-time data have no data yet. */
tq_status tq_shape_need_const(tq_op_call *c, size_t i, const char *what);

/* The values of shape-like input i (an integer dtype, rank 0 or 1, a
 * constant, at most max values). */
tq_status tq_shape_input_ints(tq_op_call *c, size_t i, const char *what,
                              int64_t *v, size_t max, size_t *n);

/* Axes of a rank-r tensor, normalized; duplicates are an error. */
tq_status tq_shape_norm_axes(tq_op_call *c, const int64_t *axes, size_t n,
                             int r, int *out);

/* An error when a result would have more dims than a tensor holds. */
tq_status tq_shape_check_rank(tq_op_call *c, int r);

/* Row-major element strides of s. */
void tq_shape_strides(const tq_shape *s, int64_t *st);

/* The element counts before and after axis. */
void tq_shape_outer_inner(const tq_shape *s, int axis, size_t *outer,
                          size_t *inner);

/* The output is the input with a new shape: a contiguous copy (Reshape,
 * Flatten, Squeeze, Unsqueeze; their backward is tq_bw_pass). */
tq_status tq_shape_copy_forward(tq_op_call *c);

/* Moves the elements of a dims-shaped (row-major, nd <= 2 * TQ_MAX_DIMS)
 * index space between the contiguous array contig and the positions
 * base + sum_d i_d * strides_d of strided: gather (scatter 0: contig[i] =
 * strided[...]; Slice, Transpose, Tile and their backward) or scatter
 * (scatter 1; the strided positions must be distinct). Elements of es
 * bytes (1, 2, 4 or 8). Dimensions that continue each other are merged first so
 * the inner loop is as long as possible; rows are split over threads by
 * the shape only. */
void tq_strided_move(void *strided, int64_t base, const int64_t *strides,
                     const int64_t *dims, int nd, void *contig, size_t es,
                     int scatter, int threads);

/* dst (contiguous, dims odims) [i...] = src[base + sum i_d * istride_d]:
 * Slice (strides times steps), Transpose (permuted strides), Tile (stride
 * 0 over the repeats). */
void tq_shape_strided_copy(const tq_op_call *c, const void *src, int64_t base,
                           const int64_t *istride, const int64_t *odims, int nd,
                           void *dst, size_t es);

#endif
