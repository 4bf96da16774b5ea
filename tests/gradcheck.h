/* Finite-difference checks of operators' backward functions, for the
 * test_grad_*.c programs (linked with op_harness.c; g_ctx from there). */
#ifndef TQ_TEST_GRADCHECK_H
#define TQ_TEST_GRADCHECK_H

#include "op_harness.h"

/* The seed and stream of every call made here (sample_offset: 0 unless
 * given), so tests can recompute random numbers (Dropout's mask). */
#define GC_SEED UINT64_C(0x5eed1234abcd)
#define GC_STREAM UINT64_C(7)

/* Checks op's backward against finite differences. in: the inputs
 * (float32 or int64; NULL for absent); check_mask: bit k set = check the
 * gradient of input k (float32 inputs only). The loss is L = sum_k sum_i
 * R_k[i] * out_k[i] with fixed pseudo-random R_k in [-1,1], evaluated with
 * double-precision accumulation; the numeric derivative of every checked
 * element uses the 4-point central stencil (f(x-2h) - 8f(x-h) + 8f(x+h) -
 * f(x+2h)) / 12h. Passes when |analytic - numeric| <= atol + rtol *
 * max(|analytic|, |numeric|) for every element; on failure prints op,
 * input, element index, both values, and fails the cmocka test. training:
 * value for c->training. Runs the op through infer + forward + backward
 * exactly as the executor does.
 *
 * h is rounded down to a power of two, so that x +- h and x +- 2h are
 * exact in float32 (for |x| < 2^21 h). Only the checked inputs get a
 * gradient buffer (gin[k] is NULL for the others, as the executor passes
 * it for constants). Also checks, every time: backward gives the same bits
 * with threads = 1 and threads = 2, overwrites gin (does not accumulate
 * into it), and changes neither the inputs nor the outputs. */
void gradcheck(const char *op, int64_t opset, const tq_tensor *const *in,
               size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
               size_t n_out, unsigned check_mask, double h, double atol,
               double rtol, int training);

/* The determinism part of gradcheck alone, with threads = 1, 2 and 3: for
 * inputs too large for finite differences (parallel paths start at
 * TQ_CHUNK_ELEMS elements). */
void grad_deterministic(const char *op, int64_t opset,
                        const tq_tensor *const *in, size_t n_in,
                        const tq_attr_store *attrs, size_t n_attrs,
                        size_t n_out, unsigned check_mask, int training);

/* One infer + forward + backward, for exact checks: creates out[0..n_out)
 * and, for each bit k of grad_mask, gin[k] (the others are set to NULL);
 * gout[k] shaped like output k. Returns the first failing status (the
 * message in g_ctx). The caller destroys out and gin. */
tq_status grad_run(const char *op, int64_t opset, const tq_tensor *const *in,
                   size_t n_in, const tq_attr_store *attrs, size_t n_attrs,
                   tq_tensor **out, size_t n_out, const tq_tensor *const *gout,
                   unsigned grad_mask, tq_tensor **gin, int threads,
                   int training, uint64_t sample_offset);

/* The fixed pseudo-random output gradients gradcheck uses: a float32 tensor
 * of shape s with values in [-1, 1] (seed picks the sequence). */
tq_tensor *grad_rand(const tq_shape *s, uint64_t seed);

/* Distinct values on the grid off + 0.1 k (k centred on 0), shuffled by
 * seed: no ties, and no two values within 2h of each other for the usual
 * steps, so finite differences never straddle a kink of Max, MaxPool... */
tq_tensor *grad_distinct(int nd, const int64_t *dims, uint64_t seed, float off);

#endif
