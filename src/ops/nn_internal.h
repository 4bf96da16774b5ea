/* Internal: what the neural-network operators (conv.c, gemm.c, pool.c,
 * norm.c) share: window attributes and sliding-window geometry, the
 * threaded float GEMM and the numbering of intrinsic random numbers
 * (nn_common.c). */
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

/* An integer-list attribute as parsed: n is its count (0: absent or
 * empty, which means "the default"); the first TQ_NN_MAX_INTS values are
 * kept (longer lists never fit a node: infer rejects their count). */
enum { TQ_NN_MAX_INTS = 2 * TQ_NN_MAX_SPATIAL };
typedef struct tq_nn_ints {
  size_t n;
  int64_t v[TQ_NN_MAX_INTS];
} tq_nn_ints;

/* The auto_pad attribute. */
enum { TQ_NN_NOTSET = 0, TQ_NN_SAME_UPPER, TQ_NN_SAME_LOWER, TQ_NN_VALID };

/* The window attributes of Conv, ConvTranspose and the pools. */
typedef struct tq_nn_window_attrs {
  tq_nn_ints kernel_shape, strides, dilations, pads;
  int auto_pad;  /* TQ_NN_NOTSET ... */
  int ceil_mode; /* pools */
} tq_nn_window_attrs;

/* Parses an integer-list attribute whose values must lie in
 * [lo, 2^31]; an error names the attribute and the bad value. */
tq_status tq_nn_parse_ints(const tq_op_parse *p, const char *name, int64_t lo,
                           tq_nn_ints *out);
/* kernel_shape, read leniently (another type counts as absent). */
void tq_nn_parse_kernel_shape(const tq_op_parse *p, tq_nn_ints *out);
/* kernel_shape, strides, dilations, pads, auto_pad and, for pools,
 * ceil_mode. */
tq_status tq_nn_parse_window(const tq_op_parse *p, tq_nn_window_kind kind,
                             tq_nn_window_attrs *w);

/* The n values of a parsed list for a node of known rank (dflt for each
 * when the list is empty); an error when its count is not n. */
tq_status tq_nn_ints_get(tq_op_call *c, const tq_nn_ints *a, const char *name,
                         int n, int64_t dflt, int64_t *out);

/* Computes the window of nsp spatial dimensions of sizes in_dims and
 * kernel sizes kernel from the parsed attributes a: checks the counts and
 * the kernel, and computes the output sizes. Errors name the attribute. */
tq_status tq_nn_window_read(tq_op_call *c, const tq_nn_window_attrs *a, int nsp,
                            const int64_t *in_dims, const int64_t *kernel,
                            tq_nn_window *w);

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

/* tq_intrinsic_gemm, its error reported against the node. */
tq_status tq_nn_run_intrinsic(tq_op_call *c, const tq_intrinsic_gemm_args *a);

#endif
