/* The machinery the tensor operators share: numpy broadcasting (shapes,
 * and a plan that runs a row function over the broadcast output),
 * chunked parallel loops and contiguous copies.
 *
 * Broadcasting is planned once per call: the output's dimensions are
 * collapsed wherever every input continues contiguously (or stays
 * broadcast), so a same-shape Add becomes one long row and a per-channel
 * bias [1,C,1,1] on [N,C,H,W] becomes N*C rows of H*W elements against one
 * scalar each. The innermost loops then see only "vector op vector",
 * "vector op scalar" or "scalar op vector", which the compiler vectorizes:
 * residual Adds in ResNets run at memory speed. */
#include <stdint.h>
#include <string.h>

#include "core/threads.h"
#include "ops/elementwise.h"

/* ---- shared helpers
 * --------------------------------------------------------*/

int tq_ew_threads(const tq_op_call *c) {
  return c->threads > 0 ? c->threads : 1;
}

void tq_ew_for_chunks(size_t n, int threads, tq_ew_chunk_fn fn, void *arg) {
  size_t chunks = tq_chunk_count(n);
  if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (size_t k = 0; k < chunks; k++) {
    size_t first = k * TQ_CHUNK_ELEMS;
    size_t len = n - first < TQ_CHUNK_ELEMS ? n - first : TQ_CHUNK_ELEMS;
    fn(arg, first, len);
  }
}

tq_status tq_ew_one_float_input(tq_op_call *c) {
  if (c->n_in != 1 || !c->in[0])
    return tq_call_error(c, TQ_ERR_INVALID_ARGUMENT,
                         "expects one input, got %zu", c->n_in);
  if (c->in[0]->dtype != TQ_DTYPE_FLOAT32)
    return tq_call_error(c, TQ_ERR_UNSUPPORTED,
                         "expects a float32 input, got %s",
                         tq_dtype_name(c->in[0]->dtype));
  return TQ_OK;
}

static void shape_str(const tq_shape *s, char *buf, size_t size) {
  tq_shape_format(s, buf, size);
}

tq_status tq_ew_broadcast_shape(tq_op_call *c, const tq_shape *a,
                                const tq_shape *b, const char *what,
                                tq_shape *out) {
  int r = a->ndim > b->ndim ? a->ndim : b->ndim;
  tq_shape o;
  memset(&o, 0, sizeof o);
  o.ndim = r;
  for (int d = 0; d < r; d++) {
    int da = d - (r - a->ndim), db = d - (r - b->ndim);
    int64_t x = da >= 0 ? a->dims[da] : 1;
    int64_t y = db >= 0 ? b->dims[db] : 1;
    if (x != y && x != 1 && y != 1) {
      char sa[96], sb[96];
      shape_str(a, sa, sizeof sa);
      shape_str(b, sb, sizeof sb);
      return tq_call_error(c, TQ_ERR_SHAPE,
                           "%s of shapes %s and %s do not broadcast "
                           "(dimension %d: %lld vs %lld)",
                           what, sa, sb, d, (long long)x, (long long)y);
    }
    o.dims[d] = x == 1 ? y : x;
  }
  *out = o;
  return TQ_OK;
}

/* ---- broadcasting plan
 * -----------------------------------------------------*/

void tq_ew_plan_build(tq_ew_plan *p, const tq_shape *out,
                      const tq_shape *const *in, int k) {
  int64_t full[TQ_EW_MAXIN][TQ_MAX_DIMS];
  int r = out->ndim;
  for (int j = 0; j < k; j++) {
    int off = r - in[j]->ndim;
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
      int64_t dim = d >= off ? in[j]->dims[d - off] : 1;
      full[j][d] = dim == 1 ? 0 : s;
      s *= dim;
    }
  }
  p->k = k;
  p->nd = 0;
  for (int d = 0; d < r; d++) {
    int64_t n = out->dims[d];
    if (n == 1) continue; /* size-1 dims contribute nothing */
    int merge = p->nd > 0;
    for (int j = 0; j < k && merge; j++)
      if (p->st[j][p->nd - 1] != full[j][d] * n) merge = 0;
    if (merge) {
      p->dims[p->nd - 1] *= n;
      for (int j = 0; j < k; j++) p->st[j][p->nd - 1] = full[j][d];
    } else {
      p->dims[p->nd] = n;
      for (int j = 0; j < k; j++) p->st[j][p->nd] = full[j][d];
      p->nd++;
    }
  }
  if (p->nd == 0) { /* every dim is 1: one element */
    p->nd = 1;
    p->dims[0] = 1;
    for (int j = 0; j < k; j++) p->st[j][0] = 1;
  }
}

/* Position in the rows (all collapsed dims but the innermost). */
typedef struct ew_iter {
  int64_t idx[TQ_MAX_DIMS];
  int64_t off[TQ_EW_MAXIN];
} ew_iter;

static void ew_iter_seek(const tq_ew_plan *p, ew_iter *it, size_t row) {
  for (int j = 0; j < p->k; j++) it->off[j] = 0;
  for (int d = p->nd - 2; d >= 0; d--) {
    it->idx[d] = (int64_t)(row % (size_t)p->dims[d]);
    row /= (size_t)p->dims[d];
    for (int j = 0; j < p->k; j++) it->off[j] += it->idx[d] * p->st[j][d];
  }
}

static void ew_iter_next(const tq_ew_plan *p, ew_iter *it) {
  for (int d = p->nd - 2; d >= 0; d--) {
    it->idx[d]++;
    for (int j = 0; j < p->k; j++) it->off[j] += p->st[j][d];
    if (it->idx[d] < p->dims[d]) return;
    for (int j = 0; j < p->k; j++) it->off[j] -= p->st[j][d] * p->dims[d];
    it->idx[d] = 0;
  }
}

/* Tasks of about TQ_CHUNK_ELEMS elements: several short rows per task, or
 * a long row cut into chunks. */
void tq_ew_run(const tq_ew_plan *p, int threads, tq_ew_row_fn fn, void *arg) {
  size_t inner = (size_t)p->dims[p->nd - 1];
  size_t rows = 1;
  for (int d = 0; d < p->nd - 1; d++) rows *= (size_t)p->dims[d];
  if (!inner || !rows) return;
  size_t ich = inner < TQ_CHUNK_ELEMS ? inner : TQ_CHUNK_ELEMS;
  size_t nic = (inner + ich - 1) / ich;
  size_t rpb = inner < TQ_CHUNK_ELEMS ? TQ_CHUNK_ELEMS / inner : 1;
  size_t nrb = (rows + rpb - 1) / rpb;
  size_t tasks = nrb * nic;
  int64_t step[TQ_EW_MAXIN];
  for (int j = 0; j < p->k; j++) step[j] = p->st[j][p->nd - 1];
  if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (tasks > 1)
  for (size_t t = 0; t < tasks; t++) {
    size_t r0 = (t / nic) * rpb;
    size_t r1 = r0 + rpb < rows ? r0 + rpb : rows;
    size_t i0 = (t % nic) * ich;
    size_t len = inner - i0 < ich ? inner - i0 : ich;
    ew_iter it;
    ew_iter_seek(p, &it, r0);
    for (size_t r = r0; r < r1; r++) {
      int64_t first[TQ_EW_MAXIN];
      for (int j = 0; j < p->k; j++)
        first[j] = it.off[j] + (int64_t)i0 * step[j];
      fn(arg, r * inner + i0, first, step, len);
      if (r + 1 < r1) ew_iter_next(p, &it);
    }
  }
}

/* Broadcast copy: one input. */
typedef struct copy_arg {
  const unsigned char *src;
  unsigned char *dst;
  size_t esize;
} copy_arg;

static void copy_row(void *arg, size_t of, const int64_t *first,
                     const int64_t *step, size_t n) {
  const copy_arg *g = arg;
  unsigned char *o = g->dst + of * g->esize;
  const unsigned char *s = g->src + (size_t)first[0] * g->esize;
  if (step[0]) {
    memcpy(o, s, n * g->esize);
  } else if (g->esize == sizeof(float)) {
    float v;
    memcpy(&v, s, sizeof v);
    float *of32 = (float *)(void *)o;
    for (size_t i = 0; i < n; i++) of32[i] = v;
  } else {
    for (size_t i = 0; i < n; i++) memcpy(o + i * g->esize, s, g->esize);
  }
}

void tq_ew_broadcast_copy(const void *src, const tq_shape *src_shape, void *dst,
                          const tq_shape *dst_shape, size_t esize,
                          int threads) {
  tq_ew_plan p;
  const tq_shape *ins[1] = {src_shape};
  tq_ew_plan_build(&p, dst_shape, ins, 1);
  copy_arg g = {src, dst, esize};
  tq_ew_run(&p, threads, copy_row, &g);
}

static void copy_chunk(void *arg, size_t first, size_t n) {
  const copy_arg *g = arg;
  memcpy(g->dst + first * g->esize, g->src + first * g->esize, n * g->esize);
}

void tq_ew_copy(const void *src, void *dst, size_t n, size_t esize,
                int threads) {
  if (src == dst || !n) return;
  copy_arg g = {src, dst, esize};
  tq_ew_for_chunks(n, threads, copy_chunk, &g);
}
