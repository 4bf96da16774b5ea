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

/* C = alpha op(A) op(B) + beta C (row major, as cblas_sgemm) over
 * `threads` threads. With AVX2: the packed GEMM below. Else OpenBLAS, cut
 * into tiles whose bounds depend on M, N and K only, each one
 * single-threaded call (OpenBLAS's own threading, or any other split,
 * changes which of its kernels computes which element, and so the bits).
 * Either way the results are the same bits at any thread count. Returns 0
 * when out of memory. */
int tq_nn_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B,
                int64_t ldb, float beta, float *C, int64_t ldc, int threads);

/* The same on the calling thread only (for callers that thread
 * themselves, from inside a parallel region that called
 * tq_nn_blas_single_thread()). Returns 0 when out of memory. */
int tq_nn_sgemm1(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float beta, float *C, int64_t ldc);

/* Called at the start of each thread of a parallel region that calls
 * OpenBLAS: keeps OpenBLAS from starting threads of its own there. */
void tq_nn_blas_single_thread(void);

/* ---- the AVX2 GEMM (nn_gemm_avx2.c) ------------------------------------
 * C = alpha A B + beta C with A packed once (shared by tiles and threads)
 * and B packed per block. Each element's arithmetic is fixed (see the file),
 * so results do not depend on how callers split the work. */
#define TQ_NN_GEMM_KC 256  /* terms per block: bounds fixed from k = 0 */
#define TQ_NN_GEMM_NC 2048 /* columns of B packed at once */
#define TQ_NN_GEMM_MR 4    /* rows per packed A sliver */
#define TQ_NN_GEMM_NR 24   /* columns per packed B sliver */

/* 1 when the CPU runs the AVX2 GEMM (AVX2 and FMA, as tq_kernel_isa). */
int tq_nn_gemm_avx2_ok(void);

/* Floats of packed A for M x K. */
size_t tq_nn_packa_floats(int64_t M, int64_t K);
/* Packs slivers [s0, s1) (of MR rows each) of A (M x K, or K x M stored
 * when trans_a) into dst (tq_nn_packa_floats). */
void tq_nn_packa(int64_t M, int64_t K, const float *A, int64_t lda, int trans_a,
                 float *dst, int64_t s0, int64_t s1);
/* Rows [m0, m1) of C (m0 a multiple of MR) for packed A of M rows; B is
 * K x N (N x K stored when trans_b); bbuf: tq_nn_bbuf_floats(N) floats,
 * 32-byte aligned. */
void tq_nn_gemm_packed(int64_t M, int64_t m0, int64_t m1, int64_t N, int64_t K,
                       float alpha, const float *ap, const float *B,
                       int64_t ldb, int trans_b, float beta, float *C,
                       int64_t ldc, float *bbuf);
/* Floats of the B buffer of tq_nn_gemm_packed for N columns. */
size_t tq_nn_bbuf_floats(int64_t N);
/* tq_nn_gemm_packed over `threads` threads (split by columns, or by rows
 * when the columns are few). Returns 0 when out of memory. */
int tq_nn_gemm_packed_mt(int64_t M, int64_t N, int64_t K, float alpha,
                         const float *ap, const float *B, int64_t ldb,
                         int trans_b, float beta, float *C, int64_t ldc,
                         int threads);

/* 64-byte aligned floats (free with free()), or NULL. */
float *tq_nn_alloc(size_t floats);

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

#endif
