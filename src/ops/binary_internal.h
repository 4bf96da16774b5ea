/* Internal: the row kernels of the binary operators (binary.c), which the
 * variadic ones (variadic.c) fold their inputs with, pairwise. */
#ifndef TQ_OPS_BINARY_INTERNAL_H
#define TQ_OPS_BINARY_INTERNAL_H

#include "ops/elementwise.h"

/* What a row kernel computes. */
enum {
  TQ_EW_ADD,
  TQ_EW_SUB,
  TQ_EW_MUL,
  TQ_EW_DIV,
  TQ_EW_POW,
  TQ_EW_MOD,
  TQ_EW_MIN,
  TQ_EW_MAX,
  TQ_EW_PRELU,
  TQ_EW_SQUARE, /* Pow with exponent 2 (as ONNX Runtime: x*x, exact) */
  TQ_EW_CUBE,   /* Pow with exponent 3 */
  TQ_EW_EQ,
  TQ_EW_LT,
  TQ_EW_GT,
  TQ_EW_LE,
  TQ_EW_GE,
  TQ_EW_AND,
  TQ_EW_OR,
  TQ_EW_XOR,
};

/* The argument of the row kernels (tq_ew_row_fn): o = op(a, b). */
typedef struct tq_ew_bin_arg {
  int op;
  int fmod_attr;
  tq_dtype dt;     /* a's dtype (generic path: it decides the arithmetic) */
  tq_dtype dt_b;   /* b's dtype (generic path; Pow's exponent may differ) */
  tq_dtype out_dt; /* output dtype (generic path) */
  void *o;
  const void *a, *b;
  const float *bf; /* float path: b as float (Pow: an integer exponent) */
  int err;         /* generic path: 1 division by zero */
  int relu;        /* float path: Relu on each row once computed */
} tq_ew_bin_arg;

/* Float arithmetic (ADD ... CUBE): the hot path. */
void tq_ew_bin_row_f32(void *arg, size_t of, const int64_t *first,
                       const int64_t *step, size_t n);
/* Everything but float32 arithmetic: comparisons and logic (bool
 * results), integers in int64 wrapped to their width (run serially: it
 * records division by zero in err), float64/float16/bfloat16 in double,
 * rounded once to out_dt. */
void tq_ew_bin_row_generic(void *arg, size_t of, const int64_t *first,
                           const int64_t *step, size_t n);

#endif
