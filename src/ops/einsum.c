/* Einsum: the equation is parsed once, when the session plans the node
 * (a bad equation is an error naming the node and the place in it);
 * subscripts are letters, "..." stands for the same broadcast dimensions
 * in every term (numpy rules), spaces are ignored, and without "->" the
 * output is the ellipsis then the letters used once, in alphabetical order
 * (ONNX, numpy).
 *
 * Two float32 operands without repeated subscripts in one term or
 * subscripts that only one operand sums (the matmul-like contractions
 * attention exports use) run as transposes and one batched GEMM
 * (OpenBLAS through tq_nn_sgemm): A as [batch, M, K], B as [batch, K, N].
 * Everything else (one operand, three or more, diagonals, other dtypes)
 * runs the scalar definition: every output element the sum, in double and
 * in the order of the summed subscripts, of the products of the operands'
 * elements, rounded once to the dtype. einsum_ref is that definition; the
 * tests compare the GEMM path with it. No backward yet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/einsum_internal.h"
#include "ops/nn_internal.h"
#include "ops/op_families.h"
#include "ops/shape_internal.h"

enum {
  EIN_MAX_TERMS = 8,  /* operands */
  EIN_MAX_SUBS = 16,  /* subscripts of one term, the ellipsis counting 1 */
  EIN_LETTERS = 52,   /* a-z, A-Z */
  EIN_ELLIPSIS = 127, /* the ellipsis as a subscript code */
  EIN_LABELS = EIN_LETTERS + TQ_MAX_DIMS,
};

typedef struct einsum_params {
  int n_terms;
  int len[EIN_MAX_TERMS], out_len;
  signed char sub[EIN_MAX_TERMS][EIN_MAX_SUBS], out[EIN_MAX_SUBS + 1];
} einsum_params;

static int letter_code(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
  return -1;
}

/* Reads one term (letters, at most one "...") up to ',' or '-' or the
 * end; *pos moves past it. */
static tq_status parse_term(const tq_op_parse *p, const char *eq, size_t *pos,
                            signed char *sub, int *len) {
  int ell = 0;
  *len = 0;
  for (;;) {
    const char ch = eq[*pos];
    if (ch == ' ') {
      ++*pos;
      continue;
    }
    if (!ch || ch == ',' || ch == '-') return TQ_OK;
    int code;
    if (ch == '.') {
      if (strncmp(eq + *pos, "...", 3) != 0 || ell++)
        return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                              "equation '%s': a lone '.' or a second "
                              "ellipsis at %zu",
                              eq, *pos);
      code = EIN_ELLIPSIS;
      *pos += 3;
    } else {
      code = letter_code(ch);
      if (code < 0)
        return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                              "equation '%s': '%c' at %zu is not a "
                              "subscript (letters and '...')",
                              eq, ch, *pos);
      ++*pos;
    }
    if (*len >= EIN_MAX_SUBS)
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "equation '%s': a term has more than %d "
                            "subscripts",
                            eq, EIN_MAX_SUBS);
    sub[(*len)++] = (signed char)code;
  }
}

static tq_status einsum_parse(const tq_op_parse *p, void *params) {
  einsum_params *ep = params;
  const char *eq = tq_parse_string(p, "equation", NULL);
  if (!eq)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "the 'equation' attribute is required");
  size_t pos = 0;
  tq_status st;
  for (;;) {
    if (ep->n_terms >= EIN_MAX_TERMS)
      return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                            "equation '%s': more than %d operands", eq,
                            EIN_MAX_TERMS);
    const int t = ep->n_terms++;
    if ((st = parse_term(p, eq, &pos, ep->sub[t], &ep->len[t])) != TQ_OK)
      return st;
    if (eq[pos] != ',') break;
    pos++;
  }
  if ((size_t)ep->n_terms != p->n_in)
    return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                          "equation '%s' has %d operand terms for %zu inputs",
                          eq, ep->n_terms, p->n_in);
  if (eq[pos] == '-') {
    if (eq[pos + 1] != '>')
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "equation '%s': '-' at %zu is not '->'", eq, pos);
    pos += 2;
    if ((st = parse_term(p, eq, &pos, ep->out, &ep->out_len)) != TQ_OK)
      return st;
    if (eq[pos])
      return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                            "equation '%s': '%c' at %zu after the output", eq,
                            eq[pos], pos);
    int seen[EIN_LETTERS + 1] = {0};
    for (int i = 0; i < ep->out_len; i++) {
      const int code = ep->out[i] == EIN_ELLIPSIS ? EIN_LETTERS : ep->out[i];
      int used = code == EIN_LETTERS;
      for (int t = 0; t < ep->n_terms && !used; t++)
        for (int j = 0; j < ep->len[t]; j++) used |= ep->sub[t][j] == code;
      if (seen[code]++ || !used)
        return tq_parse_error(p, TQ_ERR_INVALID_ARGUMENT,
                              "equation '%s': output subscript %d is %s", eq, i,
                              used ? "repeated" : "in no operand");
    }
    return TQ_OK;
  }
  /* Implicit output: the ellipsis, then the letters used once, sorted. */
  int count[EIN_LETTERS] = {0}, ell = 0;
  for (int t = 0; t < ep->n_terms; t++)
    for (int j = 0; j < ep->len[t]; j++)
      if (ep->sub[t][j] == EIN_ELLIPSIS)
        ell = 1;
      else
        count[ep->sub[t][j]]++;
  if (ell) ep->out[ep->out_len++] = EIN_ELLIPSIS;
  for (int code = 0; code < EIN_LETTERS; code++)
    if (count[code] == 1) {
      if (ep->out_len >= EIN_MAX_SUBS)
        return tq_parse_error(p, TQ_ERR_UNSUPPORTED,
                              "equation '%s': too many output subscripts", eq);
      ep->out[ep->out_len++] = (signed char)code;
    }
  return TQ_OK;
}

/* The equation resolved against the operands' shapes: each dimension's
 * label (letters 0..51, the ellipsis dims 52.. right-aligned) and each
 * label's size. */
typedef struct ein_plan {
  int n, rank[EIN_MAX_TERMS], out_rank, n_ell;
  int lab[EIN_MAX_TERMS][TQ_MAX_DIMS], out_lab[TQ_MAX_DIMS];
  int64_t size[EIN_LABELS];
  int in_out[EIN_LABELS]; /* 1: the label is an output dimension */
  int used[EIN_LABELS];
} ein_plan;

static tq_status ein_resolve(tq_op_call *c, ein_plan *pl) {
  const einsum_params *ep = c->params;
  memset(pl, 0, sizeof *pl);
  pl->n = ep->n_terms;
  for (int l = 0; l < EIN_LABELS; l++) pl->size[l] = -1;
  for (int t = 0; t < ep->n_terms; t++) {
    if (!c->in[t])
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT, "input %d is absent", t);
    const tq_shape *s = &c->in[t]->shape;
    int has_ell = 0;
    for (int j = 0; j < ep->len[t]; j++)
      has_ell |= ep->sub[t][j] == EIN_ELLIPSIS;
    const int letters = ep->len[t] - has_ell;
    const int ell = s->ndim - letters;
    if (ell < 0 || (!has_ell && ell != 0))
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "input %d has rank %d; its term has %d "
                           "subscripts%s",
                           t, s->ndim, letters, has_ell ? " and '...'" : "");
    if (has_ell && ell > pl->n_ell) pl->n_ell = ell;
    pl->rank[t] = s->ndim;
    int d = 0;
    for (int j = 0; j < ep->len[t]; j++) {
      if (ep->sub[t][j] != EIN_ELLIPSIS) {
        pl->lab[t][d++] = ep->sub[t][j];
        continue;
      }
      /* -ell..-1 until n_ell is known */
      for (int e = 0; e < ell; e++) pl->lab[t][d++] = -(ell - e);
    }
  }
  /* Ellipsis dims right-aligned: the last one of every term is label
   * EIN_LETTERS + n_ell - 1. */
  for (int t = 0; t < pl->n; t++)
    for (int d = 0; d < pl->rank[t]; d++)
      if (pl->lab[t][d] < 0)
        pl->lab[t][d] = EIN_LETTERS + pl->n_ell + pl->lab[t][d];
  for (int t = 0; t < pl->n; t++) {
    const tq_shape *s = &c->in[t]->shape;
    for (int d = 0; d < pl->rank[t]; d++) {
      const int l = pl->lab[t][d];
      const int64_t n = s->dims[d];
      pl->used[l] = 1;
      if (pl->size[l] < 0 || pl->size[l] == 1)
        pl->size[l] = n > pl->size[l] || pl->size[l] < 0 ? n : pl->size[l];
      else if (n != pl->size[l] && !(n == 1 && l >= EIN_LETTERS))
        return tq_call_error(c, TQ_ERR_SHAPE,
                             "subscript %c has size %lld in input %d and "
                             "%lld elsewhere",
                             l < 26   ? 'a' + l
                             : l < 52 ? 'A' + l - 26
                                      : '.',
                             (long long)n, t, (long long)pl->size[l]);
    }
  }
  int out_rank = 0;
  for (int j = 0; j < ep->out_len; j++)
    out_rank += ep->out[j] == EIN_ELLIPSIS ? pl->n_ell : 1;
  if (out_rank > TQ_MAX_DIMS)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "the output would have rank %d (at most %d)",
                         out_rank, TQ_MAX_DIMS);
  for (int j = 0; j < ep->out_len; j++) {
    if (ep->out[j] != EIN_ELLIPSIS) {
      pl->out_lab[pl->out_rank++] = ep->out[j];
      continue;
    }
    for (int e = 0; e < pl->n_ell; e++)
      pl->out_lab[pl->out_rank++] = EIN_LETTERS + e;
  }
  for (int d = 0; d < pl->out_rank; d++) pl->in_out[pl->out_lab[d]] = 1;
  return TQ_OK;
}

static tq_status einsum_infer(tq_op_call *c) {
  ein_plan pl;
  tq_status st = ein_resolve(c, &pl);
  if (st != TQ_OK) return st;
  for (int t = 1; t < pl.n; t++)
    if (c->in[t]->dtype != c->in[0]->dtype)
      return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                           "input %d's dtype differs from input 0's", t);
  tq_shape o = tq_shape_of_rank(pl.out_rank);
  for (int d = 0; d < pl.out_rank; d++) o.dims[d] = pl.size[pl.out_lab[d]];
  return tq_call_set_output(c, 0, c->in[0]->dtype, &o);
}

/* ---- the definition ------------------------------------------------------*/

/* Strides of each label in operand t (0 for labels it lacks or holds with
 * size 1; repeated labels add up: the diagonal). */
static void label_strides(const ein_plan *pl, const tq_tensor *x, int t,
                          int64_t *st) {
  int64_t s[TQ_MAX_DIMS];
  tq_shape_strides(&x->shape, s);
  for (int l = 0; l < EIN_LABELS; l++) st[l] = 0;
  for (int d = 0; d < pl->rank[t]; d++)
    if (x->shape.dims[d] != 1) st[pl->lab[t][d]] += s[d];
}

tq_status tq_einsum_ref(tq_op_call *c) {
  ein_plan pl;
  tq_status st = ein_resolve(c, &pl);
  if (st != TQ_OK) return st;
  int labels[EIN_LABELS], nl = 0; /* output labels, then summed ones */
  for (int d = 0; d < pl.out_rank; d++) labels[nl++] = pl.out_lab[d];
  const int n_out_labels = nl;
  for (int l = 0; l < EIN_LABELS; l++)
    if (pl.used[l] && !pl.in_out[l]) labels[nl++] = l;
  int64_t(*str)[EIN_LABELS] = malloc(sizeof *str * (size_t)pl.n);
  if (!str) return tq_error_nomem(c->ctx);
  for (int t = 0; t < pl.n; t++) label_strides(&pl, c->in[t], t, str[t]);
  size_t inner = 1;
  for (int i = n_out_labels; i < nl; i++) inner *= (size_t)pl.size[labels[i]];
  tq_tensor *y = c->out[0];
  const tq_dtype dt = y->dtype;
  int64_t idx[EIN_LABELS];
  for (size_t o = 0; o < y->numel; o++) {
    size_t rem = o;
    for (int i = n_out_labels; i-- > 0;) {
      idx[i] = (int64_t)(rem % (size_t)pl.size[labels[i]]);
      rem /= (size_t)pl.size[labels[i]];
    }
    double sum = 0.0;
    int64_t isum = 0;
    for (size_t q = 0; q < inner; q++) {
      rem = q;
      for (int i = nl; i-- > n_out_labels;) {
        idx[i] = (int64_t)(rem % (size_t)pl.size[labels[i]]);
        rem /= (size_t)pl.size[labels[i]];
      }
      double prod = 1.0;
      int64_t iprod = 1;
      for (int t = 0; t < pl.n; t++) {
        int64_t off = 0;
        for (int i = 0; i < nl; i++) off += idx[i] * str[t][labels[i]];
        if (tq_dtype_is_float(dt))
          prod *= tq_load_f64(dt, c->in[t]->data, (size_t)off);
        else
          iprod =
              (int64_t)((uint64_t)iprod *
                        (uint64_t)tq_load_i64(dt, c->in[t]->data, (size_t)off));
      }
      sum += prod;
      isum = (int64_t)((uint64_t)isum + (uint64_t)iprod);
    }
    if (dt == TQ_DTYPE_FLOAT32)
      tq_f32(y)[o] = (float)sum;
    else if (tq_dtype_is_float(dt))
      tq_store_f64(dt, y->data, o, sum);
    else
      tq_store_i64(dt, y->data, o, isum);
  }
  free(str);
  return TQ_OK;
}

/* ---- two float32 operands: transposes and a batched GEMM -----------------*/

/* Whether the GEMM path applies: two float32 operands, no label twice in
 * one term, every label of an operand either in the output or in the
 * other operand. */
static int gemm_applies(const tq_op_call *c, const ein_plan *pl) {
  if (pl->n != 2 || c->in[0]->dtype != TQ_DTYPE_FLOAT32) return 0;
  for (int t = 0; t < 2; t++) {
    int seen[EIN_LABELS] = {0};
    for (int d = 0; d < pl->rank[t]; d++) {
      const int l = pl->lab[t][d];
      if (seen[l]++) return 0;
    }
    for (int d = 0; d < pl->rank[t]; d++) {
      const int l = pl->lab[t][d];
      int other = 0;
      for (int e = 0; e < pl->rank[1 - t]; e++) other |= pl->lab[1 - t][e] == l;
      if (!pl->in_out[l] && !other) return 0;
    }
  }
  return 1;
}

/* Copies operand x into dst laid out as the labels order[0..n) (sizes from
 * the plan; labels x lacks or holds with size 1 repeat). */
static void gather_as(const tq_op_call *c, const ein_plan *pl, int t,
                      const int *order, int n, float *dst) {
  int64_t st[EIN_LABELS], strides[EIN_LABELS], dims[EIN_LABELS];
  label_strides(pl, c->in[t], t, st);
  for (int i = 0; i < n; i++) {
    strides[i] = st[order[i]];
    dims[i] = pl->size[order[i]];
  }
  if (n == 0) {
    dst[0] = tq_cf32(c->in[t])[0];
    return;
  }
  tq_shape_strided_copy(c, c->in[t]->data, 0, strides, dims, n, dst,
                        sizeof(float));
}

static int64_t prod_sizes(const ein_plan *pl, const int *labels, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= pl->size[labels[i]];
  return p;
}

static tq_status einsum_gemm(tq_op_call *c, const ein_plan *pl) {
  int in_a[EIN_LABELS] = {0}, in_b[EIN_LABELS] = {0};
  for (int d = 0; d < pl->rank[0]; d++) in_a[pl->lab[0][d]] = 1;
  for (int d = 0; d < pl->rank[1]; d++) in_b[pl->lab[1][d]] = 1;
  int batch[EIN_LABELS], m[EIN_LABELS], n[EIN_LABELS], k[EIN_LABELS];
  int nb = 0, nm = 0, nn = 0, nk = 0;
  /* In output order, so that the result needs the least moving. */
  for (int d = 0; d < pl->out_rank; d++) {
    const int l = pl->out_lab[d];
    if (in_a[l] && in_b[l])
      batch[nb++] = l;
    else if (in_a[l])
      m[nm++] = l;
    else
      n[nn++] = l;
  }
  for (int l = 0; l < EIN_LABELS; l++)
    if (in_a[l] && in_b[l] && !pl->in_out[l]) k[nk++] = l;
  const int64_t B = prod_sizes(pl, batch, nb), M = prod_sizes(pl, m, nm),
                N = prod_sizes(pl, n, nn), K = prod_sizes(pl, k, nk);
  int order_a[EIN_LABELS], order_b[EIN_LABELS], order_y[EIN_LABELS];
  int na = 0, nbb = 0, ny = 0;
  for (int i = 0; i < nb; i++) order_a[na++] = order_b[nbb++] = batch[i];
  for (int i = 0; i < nm; i++) order_a[na++] = m[i];
  for (int i = 0; i < nk; i++) order_a[na++] = order_b[nbb++] = k[i];
  for (int i = 0; i < nn; i++) order_b[nbb++] = n[i];
  for (int i = 0; i < nb; i++) order_y[ny++] = batch[i];
  for (int i = 0; i < nm; i++) order_y[ny++] = m[i];
  for (int i = 0; i < nn; i++) order_y[ny++] = n[i];
  const size_t sa = (size_t)(B * M * K), sb = (size_t)(B * K * N),
               sy = (size_t)(B * M * N);
  float *buf = malloc((sa + sb + sy + 3) * sizeof *buf);
  if (!buf) return tq_error_nomem(c->ctx);
  float *A = buf, *Bm = buf + sa + 1, *Y = Bm + sb + 1;
  gather_as(c, pl, 0, order_a, na, A);
  gather_as(c, pl, 1, order_b, nbb, Bm);
  const int threads = tq_nn_threads(c);
  for (int64_t b = 0; b < B; b++)
    tq_nn_sgemm(0, 0, M, N, K, 1.0f, A + b * M * K, K, Bm + b * K * N, N, 0.0f,
                Y + b * M * N, N, threads);
  /* Y (batch, m, n order) -> the output's label order. */
  int64_t ystr[EIN_LABELS], s = 1;
  for (int i = ny; i-- > 0;) {
    ystr[order_y[i]] = s;
    s *= pl->size[order_y[i]];
  }
  int64_t strides[EIN_LABELS], dims[EIN_LABELS];
  for (int d = 0; d < pl->out_rank; d++) {
    strides[d] = ystr[pl->out_lab[d]];
    dims[d] = pl->size[pl->out_lab[d]];
  }
  if (pl->out_rank == 0)
    tq_f32(c->out[0])[0] = Y[0];
  else
    tq_shape_strided_copy(c, Y, 0, strides, dims, pl->out_rank, c->out[0]->data,
                          sizeof(float));
  free(buf);
  return TQ_OK;
}

static tq_status einsum_forward(tq_op_call *c) {
  ein_plan pl;
  tq_status st = ein_resolve(c, &pl);
  if (st != TQ_OK) return st;
  if (c->out[0]->numel == 0) return TQ_OK;
  return gemm_applies(c, &pl) ? einsum_gemm(c, &pl) : tq_einsum_ref(c);
}

const tq_op_desc tq_ops_einsum[] = {
    {TQ_OP_ONNX_FROM(TQ_OP_EINSUM, "Einsum", 12), TQ_OP_ARITY(1, -1, 1, 1),
     TQ_OP_TYPES(TQ_DTM_NUM), TQ_OP_PARAMS(einsum_params, einsum_parse),
     .infer = einsum_infer, .forward = einsum_forward},
};
const size_t tq_ops_einsum_count = TQ_OP_COUNT_OF(tq_ops_einsum);
