/* Internal: Einsum's scalar definition (einsum.c), for the tests that
 * compare the GEMM path with it. */
#ifndef TQ_OPS_EINSUM_INTERNAL_H
#define TQ_OPS_EINSUM_INTERNAL_H

#include "ops/op_internal.h"

/* Computes c's output (already allocated with the inferred shape) by the
 * definition: each element the sum, in double and in the order of the
 * summed subscripts, of the products of the operands' elements, rounded
 * once to the dtype (integers: int64 arithmetic, wrapped). */
tq_status tq_einsum_ref(tq_op_call *c);

#endif
