/* Status codes, error details and the library context.
 *
 * Every fallible call returns a tq_status and writes its results through
 * out-parameters. Details of the last failure (file, line, column, token,
 * layer) are kept in the tq_context passed to the call.
 *
 * Thread-safety: a tq_context is not safe to use from two threads at once
 * (it records the last error); use one context per thread. Everything else
 * reachable from a context (quantizers, maps) is immutable and shareable. */
#ifndef TENSORQUANT_STATUS_H
#define TENSORQUANT_STATUS_H

#include <stddef.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tq_status {
  TQ_OK = 0,
  TQ_ERR_INVALID_ARGUMENT, /* a NULL or inconsistent argument from the caller */
  TQ_ERR_PARSE,            /* malformed text: spec string, JSON, header */
  TQ_ERR_RANGE,            /* a well-formed value outside its allowed range */
  TQ_ERR_IO,               /* a file could not be opened, read or written */
  TQ_ERR_FORMAT,           /* a file whose content is not what was expected */
  TQ_ERR_UNSUPPORTED,      /* valid input that this build does not handle */
  TQ_ERR_NO_MEMORY,        /* an allocation failed */
  TQ_ERR_SHAPE,            /* tensor shapes that do not fit together */
  TQ_ERR_NOT_FOUND,        /* a named thing (layer, key) does not exist */
  TQ_ERR_INTERNAL,         /* a bug in the library: please report it */
  TQ_ERR_NUMERIC,          /* a computation gave NaN or infinity (training) */
  TQ_ERR_INTERRUPTED,      /* stopped on request (e.g. SIGINT) */
  TQ_STATUS_COUNT
} tq_status;

/* Short, static, human-readable name of a status ("parse error", ...).
 * Never returns NULL; unknown values give "unknown status". */
TQ_API const char *tq_status_str(tq_status status);

/* Where and why the last call on a context failed. Plain data. */
typedef struct tq_error_info {
  tq_status status; /* TQ_OK when no error has been recorded */
  char source[256]; /* file name, spec string or layer ID; "" if none */
  long line;        /* 1-based line in source; 0 if not applicable */
  long column; /* 1-based column (character position in a spec); 0 if n/a */
  char message[1024]; /* complete message, including the location */
} tq_error_info;

typedef struct tq_context tq_context;

/* Creates a context with default settings (threads = number of cores the
 * OpenMP runtime reports). *out is owned by the caller; free it with
 * tq_context_destroy(). */
TQ_API tq_status tq_context_create(tq_context **out);

/* Frees a context. NULL is allowed. */
TQ_API void tq_context_destroy(tq_context *ctx);

/* Number of threads kernels may use for calls made with this context.
 * threads >= 1; returns TQ_ERR_RANGE otherwise. Results never depend on it. */
TQ_API tq_status tq_context_set_threads(tq_context *ctx, int threads);
TQ_API int tq_context_threads(const tq_context *ctx);

/* Which float convolution implementations calls made with ctx may use, in
 * order of preference: a comma-separated list of names. For each Conv
 * (ConvTranspose) node, the first listed implementation that applies to
 * its shapes and attributes computes it; the general one of each operator,
 * im2col (col2im), applies to all and is tried last when the list leaves
 * it out. The names, in the default order:
 *   winograd4  Winograd F(4x4, 3x3) (not in the default list: see
 *              tq_context_set_fast_conv) - 2-D 3x3 stride-1 Conv, one
 *              group, >= 8 input and output channels, >= 16 4x4 tiles
 *              over the batch, transformed kernels of at most 4 MiB
 *   winograd2  Winograd F(2x2, 3x3) - the same convolutions with >= 32
 *              2x2 tiles over the batch
 *   depthwise  direct loops - one input channel and at most 4 outputs
 *              per group
 *   pointwise  GEMM on the input itself - 1x1 kernels, unit strides, no
 *              padding
 *   im2col     im2col + GEMM per group - every Conv
 *   col2im     GEMM + col2im - every ConvTranspose
 * Implementations differ in rounding only (docs/ops.md); intrinsic
 * quantization never uses them. list: NULL or "default" for the default
 * (winograd2,depthwise,pointwise,im2col,col2im); spaces around names are
 * ignored, repeated names count once. TQ_ERR_PARSE for an empty list or an
 * unknown name (the message lists the names); ctx is then unchanged. */
TQ_API tq_status tq_context_set_conv_impls(tq_context *ctx, const char *list);

/* Writes ctx's list (comma-separated names, as set or the default) into
 * buf (size bytes, always NUL-terminated when size > 0; may be NULL when
 * size is 0). Returns the length of the whole list, as snprintf does. */
TQ_API size_t tq_context_conv_impls(const tq_context *ctx, char *buf,
                                    size_t size);

/* Fast float convolutions (default off), shorthand for the list: 1 puts
 * winograd4 first in ctx's list (tq_context_set_conv_impls), 0 removes it.
 * Winograd F(4x4, 3x3) needs 2.25x fewer multiplications than the
 * default F(2x2, 3x3) (ResNet-18 about 8 % faster). Its rounding errors
 * scale with the magnitude of the whole 6x6 input patch of a 4x4 output
 * tile, not with the output's own terms: an output whose exact value is 0
 * (an all-zero window next to nonzero inputs) comes out as noise of about
 * 1e-5 of the patch, which a sign-sensitive quantizer (binary, ternary,
 * up/away rounding) then moves a whole step. Off, every output whose
 * terms are all zero is its bias exactly. enable: 0 or 1. */
TQ_API void tq_context_set_fast_conv(tq_context *ctx, int enable);
/* 1 when ctx's list holds winograd4, else 0. */
TQ_API int tq_context_fast_conv(const tq_context *ctx);

/* The kernel set that quantizers and intrinsic quantization use for calls
 * made with ctx: "scalar" (the reference kernels), "avx2", "avx512", or
 * "best" (the default: the best set this CPU runs). A set the CPU lacks
 * means its best; a kernel a set lacks is the next lower set's.
 * Every set gives the same bits: this is for checking that and for timing
 * the kernels. TQ_ERR_PARSE for another name (the message lists them). */
TQ_API tq_status tq_context_set_kernels(tq_context *ctx, const char *isa);
/* The name of the set calls made with ctx use ("scalar", "avx2",
 * "avx512"). */
TQ_API const char *tq_context_kernels(const tq_context *ctx);

/* Message of the last failure on ctx ("" if none). The pointer stays valid
 * until the next call that uses ctx. A NULL ctx gives "". */
TQ_API const char *tq_context_last_error(const tq_context *ctx);

/* Full details of the last failure on ctx. Never NULL for a non-NULL ctx. */
TQ_API const tq_error_info *tq_context_error_info(const tq_context *ctx);

/* Forgets the last error. */
TQ_API void tq_context_clear_error(tq_context *ctx);

/* Frees memory the library handed to the caller (tensors from NPY reads,
 * strings). NULL is allowed. */
TQ_API void tq_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
