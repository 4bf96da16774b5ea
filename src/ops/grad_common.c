/* What the backward functions share: broadcast gradients summed in a
 * fixed order, gradient checks and fills, and the term buffers of inputs
 * broadcast in the forward.
 *
 * Broadcasting: the gradient of an input broadcast in the forward is the
 * output's gradient summed over the broadcast dimensions (tq_bw_sum_to:
 * each element sums its terms in a fixed order, in double). Inputs that
 * have the output's shape take their gradient directly. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/threads.h"
#include "ops/backward_internal.h"
#include "ops/elementwise.h"

/* ---- shared helpers
 * --------------------------------------------------------*/

typedef struct fill_arg {
  float *dst;
  float v;
} fill_arg;

static void fill_chunk(void *arg, size_t first, size_t n) {
  const fill_arg *g = arg;
  for (size_t i = 0; i < n; i++) g->dst[first + i] = g->v;
}

void tq_bw_fill(float *dst, size_t n, float v, int threads) {
  fill_arg g = {dst, v};
  tq_ew_for_chunks(n, threads, fill_chunk, &g);
}

/* The summing plan: the source's dimensions merged into groups that are
 * kept (appear in the target) or summed, each with its source stride. */
typedef struct sum_plan {
  int nk, nr;
  int64_t kd[TQ_BW_MAXD], ks[TQ_BW_MAXD];
  int64_t rd[TQ_BW_MAXD], rs[TQ_BW_MAXD];
  int inner_kept; /* the innermost group is kept (stride 1) */
} sum_plan;

static void sum_plan_build(sum_plan *p, const int64_t *odims,
                           const int64_t *tdims, int nd) {
  int64_t st[TQ_BW_MAXD], s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    st[d] = s;
    s *= odims[d];
  }
  p->nk = p->nr = 0;
  int last = -1; /* class of the previous group: 0 kept, 1 summed */
  for (int d = 0; d < nd; d++) {
    if (odims[d] == 1) continue;
    int sum = tdims[d] == 1;
    int64_t *gd = sum ? p->rd : p->kd, *gs = sum ? p->rs : p->ks;
    int *cnt = sum ? &p->nr : &p->nk;
    if (last == sum) {
      gd[*cnt - 1] *= odims[d];
      gs[*cnt - 1] = st[d];
    } else {
      gd[*cnt] = odims[d];
      gs[*cnt] = st[d];
      (*cnt)++;
    }
    last = sum;
  }
  p->inner_kept = last == 0;
}

/* Source offset of kept index q over the first m kept groups. */
static int64_t kept_offset(const sum_plan *p, int m, size_t q) {
  int64_t off = 0;
  for (int d = m - 1; d >= 0; d--) {
    off += (int64_t)(q % (size_t)p->kd[d]) * p->ks[d];
    q /= (size_t)p->kd[d];
  }
  return off;
}

/* Advances the row-major odometer over the first m summed groups; 0 when
 * it wraps around (done). */
static int sum_next(const sum_plan *p, int m, int64_t *idx, int64_t *off) {
  for (int d = m - 1; d >= 0; d--) {
    *off += p->rs[d];
    if (++idx[d] < p->rd[d]) return 1;
    *off -= p->rs[d] * p->rd[d];
    idx[d] = 0;
  }
  return 0;
}

void tq_bw_sum_to(const float *src, const int64_t *odims, const int64_t *tdims,
                  int nd, float *dst, int threads) {
  size_t nsrc = 1, ndst = 1;
  for (int d = 0; d < nd; d++) {
    nsrc *= (size_t)odims[d];
    ndst *= (size_t)tdims[d];
  }
  if (ndst == 0) return;
  if (nsrc == 0) { /* a summed dimension is empty */
    tq_bw_fill(dst, ndst, 0.0f, threads);
    return;
  }
  sum_plan p;
  sum_plan_build(&p, odims, tdims, nd);
  if (p.nr == 0) { /* nothing is summed: the same layout */
    tq_ew_copy(src, dst, ndst, sizeof *dst, threads);
    return;
  }
  if (threads < 1) threads = 1;
  if (p.inner_kept) {
    /* Blocks of the innermost kept run, accumulated over every summed
     * index in row-major order. */
    size_t L = (size_t)p.kd[p.nk - 1], q_n = ndst / L;
    size_t blocks = (L + TQ_BW_BLOCK - 1) / TQ_BW_BLOCK, tasks = q_n * blocks;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (nsrc >= TQ_CHUNK_ELEMS && tasks > 1)
    for (size_t t = 0; t < tasks; t++) {
      size_t q = t / blocks, i0 = (t % blocks) * TQ_BW_BLOCK;
      size_t len = L - i0 < TQ_BW_BLOCK ? L - i0 : TQ_BW_BLOCK;
      const float *base = src + kept_offset(&p, p.nk - 1, q) + i0;
      double acc[TQ_BW_BLOCK];
      for (size_t i = 0; i < len; i++) acc[i] = 0.0;
      int64_t idx[TQ_BW_MAXD] = {0}, off = 0;
      do {
        const float *s = base + off;
        for (size_t i = 0; i < len; i++) acc[i] += s[i];
      } while (sum_next(&p, p.nr, idx, &off));
      float *o = dst + q * L + i0;
      for (size_t i = 0; i < len; i++) o[i] = (float)acc[i];
    }
    return;
  }
  /* The innermost summed run is contiguous: one sum per target element. */
  size_t R = (size_t)p.rd[p.nr - 1];
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (nsrc >= TQ_CHUNK_ELEMS && ndst > 1)
  for (size_t j = 0; j < ndst; j++) {
    const float *base = src + kept_offset(&p, p.nk, j);
    double acc = 0.0;
    int64_t idx[TQ_BW_MAXD] = {0}, off = 0;
    do {
      const float *s = base + off;
      for (size_t i = 0; i < R; i++) acc += s[i];
    } while (sum_next(&p, p.nr - 1, idx, &off));
    dst[j] = (float)acc;
  }
}

void tq_bw_sum_to_shape(const float *src, const tq_shape *out,
                        const tq_shape *target, float *dst, int threads) {
  int64_t tdims[TQ_BW_MAXD];
  int off = out->ndim - target->ndim;
  for (int d = 0; d < out->ndim; d++)
    tdims[d] = d >= off ? target->dims[d - off] : 1;
  tq_bw_sum_to(src, out->dims, tdims, out->ndim, dst, threads);
}

static size_t shape_numel(const tq_shape *s) {
  size_t n = 1;
  for (int d = 0; d < s->ndim; d++) n *= (size_t)s->dims[d];
  return n;
}

tq_status tq_bw_check_gin(tq_op_call *c, tq_tensor **gin) {
  for (size_t k = 0; k < c->n_in; k++) {
    if (!gin[k]) continue;
    const tq_tensor *x = c->in[k];
    if (!x || x->dtype != TQ_DTYPE_FLOAT32 ||
        gin[k]->dtype != TQ_DTYPE_FLOAT32 || gin[k]->numel != x->numel)
      return tq_call_error(c, TQ_ERR_INTERNAL,
                           "gradient of input %zu requested for an absent, "
                           "non-float or differently sized input",
                           k);
  }
  return TQ_OK;
}

tq_status tq_bw_pass(tq_op_call *c, const tq_tensor *const *gout,
                     tq_tensor **gin) {
  tq_status st = tq_bw_check_gin(c, gin);
  if (st != TQ_OK || !gin[0]) return st;
  tq_ew_copy(tq_cf32(gout[0]), tq_f32(gin[0]), gin[0]->numel, sizeof(float),
             tq_ew_threads(c));
  return TQ_OK;
}

tq_status tq_bw_bcast(tq_op_call *c, const float *data, const tq_shape *s,
                      const tq_shape *so, size_t n, float **buf,
                      const float **out) {
  if (shape_numel(s) == n) {
    *out = data;
    return TQ_OK;
  }
  *buf = malloc((n ? n : 1) * sizeof **buf);
  if (!*buf) return tq_error_nomem(c->ctx);
  tq_ew_broadcast_copy(data, s, *buf, so, sizeof(float), tq_ew_threads(c));
  *out = *buf;
  return TQ_OK;
}

void tq_bw_finish(tq_op_call *c, const float *d, const tq_shape *so,
                  const tq_shape *sk, tq_tensor *gin) {
  if (d != tq_f32(gin))
    tq_bw_sum_to_shape(d, so, sk, tq_f32(gin), tq_ew_threads(c));
}

tq_status tq_bw_terms(tq_op_call *c, const tq_shape *sk, size_t n,
                      tq_tensor *gin, float **tmp, float **out) {
  if (shape_numel(sk) == n) {
    *out = tq_f32(gin);
    return TQ_OK;
  }
  if (!*tmp) {
    *tmp = malloc((n ? n : 1) * sizeof **tmp);
    if (!*tmp) return tq_error_nomem(c->ctx);
  }
  *out = *tmp;
  return TQ_OK;
}
