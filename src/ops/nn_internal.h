/* Internal: what the neural-network operators (conv.c, gemm.c, pool.c,
 * norm.c) share: sliding-window geometry, the threaded float GEMM and the
 * numbering of intrinsic random numbers. nn_common.c holds the group
 * table. */
#ifndef TQ_OPS_NN_INTERNAL_H
#define TQ_OPS_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ops/op_internal.h"

/* Spatial dimensions handled by Conv, ConvTranspose and the pools. */
#define TQ_NN_MAX_SPATIAL 3

/* Geometry of a sliding window over 1 to 3 spatial dimensions, always
 * stored as 3 (depth, height, width): lower-rank cases get leading unit
 * dimensions (size 1, kernel 1, stride 1, no padding), so that one set of
 * loops serves 1-D, 2-D and 3-D. */
typedef struct tq_nn_window {
  int nsp; /* spatial dimensions of the node: 1..3 */
  int64_t in[3], out[3], kernel[3], stride[3], dil[3];
  int64_t pad_lo[3], pad_hi[3];
} tq_nn_window;

typedef enum tq_nn_window_kind {
  TQ_NN_WIN_CONV, /* floor division, SAME pads with the dilated kernel */
  TQ_NN_WIN_POOL, /* ceil_mode, windows starting in the right pad dropped */
} tq_nn_window_kind;

/* Reads strides, dilations, pads, auto_pad (and ceil_mode for pools) for
 * nsp spatial dimensions of sizes in_dims and kernel sizes kernel, checks
 * them and computes the output sizes. Errors name the attribute. */
tq_status tq_nn_window_read(tq_op_call *c, tq_nn_window_kind kind, int nsp,
                            const int64_t *in_dims, const int64_t *kernel,
                            tq_nn_window *w);

/* Reads an ints attribute that must hold exactly n values, each >= lo
 * (dflt for every value when absent). */
tq_status tq_nn_read_ints(tq_op_call *c, const char *name, int n, int64_t dflt,
                          int64_t lo, int64_t *out);

/* The auto_pad attribute: 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID. */
enum { TQ_NN_NOTSET = 0, TQ_NN_SAME_UPPER, TQ_NN_SAME_LOWER, TQ_NN_VALID };
tq_status tq_nn_auto_pad(tq_op_call *c, int *mode);

/* Checks that input i is present and float32 with a rank in [lo, hi]. */
tq_status tq_nn_check_input(tq_op_call *c, size_t i, const char *what, int lo,
                            int hi);

/* The thread count of the call (>= 1). */
int tq_nn_threads(const tq_op_call *c);

/* C = alpha op(A) op(B) + beta C (row major, as cblas_sgemm), cut into
 * tiles whose bounds depend on M, N and K only and spread over threads;
 * each tile is one single-threaded OpenBLAS call, so results are the same
 * bits at any thread count (OpenBLAS's own threading would not give
 * that: its split changes which kernels compute which elements). */
void tq_nn_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float beta, float *C, int64_t ldc, int threads);

/* One single-threaded OpenBLAS GEMM (for callers that thread themselves:
 * it must run inside an OpenMP parallel region that called
 * tq_nn_blas_single_thread()). */
void tq_nn_sgemm1(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float beta, float *C, int64_t ldc);

/* Called at the start of each thread of a parallel region that calls
 * OpenBLAS: keeps OpenBLAS from starting threads of its own there. */
void tq_nn_blas_single_thread(void);

/* Intrinsic quantization numbers its random numbers per output element:
 * term k (k = K: the bias step) of the element at flat index e of the
 * output uses index (sample_offset * S + e) * (K + 1) + k, where S is the
 * number of output elements per sample (numel / dim 0; numel for outputs
 * of rank < 2). So a sample gets the same numbers in any batch. This
 * gives index_base for a GEMM whose element (0, 0) is output element e0
 * and whose rows follow each other in the output (row m, column n at
 * e0 + m * N + n). */
uint64_t tq_nn_index_base(const tq_op_call *c, const tq_shape *out, uint64_t e0,
                          int64_t K);

/* Operators of the group (defined in conv.c, gemm.c, pool.c, norm.c). */
tq_status tq_nn_conv_infer(tq_op_call *c);
tq_status tq_nn_conv_forward(tq_op_call *c);
tq_status tq_nn_conv_transpose_infer(tq_op_call *c);
tq_status tq_nn_conv_transpose_forward(tq_op_call *c);
tq_status tq_nn_gemm_infer(tq_op_call *c);
tq_status tq_nn_gemm_forward(tq_op_call *c);
tq_status tq_nn_matmul_infer(tq_op_call *c);
tq_status tq_nn_matmul_forward(tq_op_call *c);
tq_status tq_nn_maxpool_infer(tq_op_call *c);
tq_status tq_nn_maxpool_forward(tq_op_call *c);
tq_status tq_nn_avgpool_infer(tq_op_call *c);
tq_status tq_nn_avgpool_forward(tq_op_call *c);
tq_status tq_nn_global_pool_infer(tq_op_call *c);
tq_status tq_nn_global_avgpool_forward(tq_op_call *c);
tq_status tq_nn_global_maxpool_forward(tq_op_call *c);
tq_status tq_nn_batchnorm_infer(tq_op_call *c);
tq_status tq_nn_batchnorm_forward(tq_op_call *c);
tq_status tq_nn_instancenorm_infer(tq_op_call *c);
tq_status tq_nn_instancenorm_forward(tq_op_call *c);
tq_status tq_nn_layernorm_infer(tq_op_call *c);
tq_status tq_nn_layernorm_forward(tq_op_call *c);

/* Backward of the group (tq_op_backward_fn; backward_nn.c lists them). */
tq_status tq_nn_conv_backward(tq_op_call *c, const tq_tensor *const *gout,
                              tq_tensor **gin);
tq_status tq_nn_conv_transpose_backward(tq_op_call *c,
                                        const tq_tensor *const *gout,
                                        tq_tensor **gin);
tq_status tq_nn_gemm_backward(tq_op_call *c, const tq_tensor *const *gout,
                              tq_tensor **gin);
tq_status tq_nn_matmul_backward(tq_op_call *c, const tq_tensor *const *gout,
                                tq_tensor **gin);
tq_status tq_nn_maxpool_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin);
tq_status tq_nn_avgpool_backward(tq_op_call *c, const tq_tensor *const *gout,
                                 tq_tensor **gin);
tq_status tq_nn_global_avgpool_backward(tq_op_call *c,
                                        const tq_tensor *const *gout,
                                        tq_tensor **gin);
tq_status tq_nn_global_maxpool_backward(tq_op_call *c,
                                        const tq_tensor *const *gout,
                                        tq_tensor **gin);
tq_status tq_nn_batchnorm_backward(tq_op_call *c, const tq_tensor *const *gout,
                                   tq_tensor **gin);

/* tq_intrinsic_gemm, its error reported against the node. */
tq_status tq_nn_run_intrinsic(tq_op_call *c, const tq_intrinsic_gemm_args *a);

#endif
