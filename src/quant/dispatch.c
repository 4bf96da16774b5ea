/* The one place where quantization calls are dispatched: kind -> trait
 * entry, CPU (and the context's cap) -> instruction set -> kernel, work ->
 * threads (fixed chunks). */
#include <math.h>
#include <pthread.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context_internal.h"
#include "core/error.h"
#include "core/threads.h"
#include "quant/quant_internal.h"

/* One entry per kind; each lives in its kind_*.c. */
static const tq_kind_traits *const kind_traits[] = {
    [TQ_QUANT_NONE] = &tq_kind_none,
    [TQ_QUANT_FIXED] = &tq_kind_fixed,
    [TQ_QUANT_FLOAT] = &tq_kind_float,
    [TQ_QUANT_LOGARITHMIC] = &tq_kind_logarithmic,
    [TQ_QUANT_SPARSE] = &tq_kind_sparse,
    [TQ_QUANT_BINARY] = &tq_kind_binary,
    [TQ_QUANT_TERNARY] = &tq_kind_ternary,
    [TQ_QUANT_INT] = &tq_kind_int,
    [TQ_QUANT_MX] = &tq_kind_mx,
    [TQ_QUANT_NVFP4] = &tq_kind_nvfp4,
    [TQ_QUANT_BFP] = &tq_kind_bfp,
    [TQ_QUANT_GGML] = &tq_kind_ggml,
};
_Static_assert(sizeof kind_traits / sizeof kind_traits[0] ==
                   TQ_QUANT_KIND_COUNT,
               "every quantizer kind needs traits");

const tq_kind_traits *tq_kind_traits_get(tq_quant_kind kind) {
  return (unsigned)kind < TQ_QUANT_KIND_COUNT ? kind_traits[kind] : NULL;
}

tq_kernel_fn tq_kind_kernel(const tq_kind_traits *tr, tq_isa isa) {
  int i = (int)isa;
  while (i > 0 && !tr->kernels[i]) i--;
  return tr->kernels[i];
}

tq_grouped_kernel_fn tq_kind_grouped(const tq_kind_traits *tr, tq_isa isa) {
  int i = (int)isa;
  while (i > 0 && !tr->grouped[i]) i--;
  return tr->grouped[i];
}

/* ---- instruction sets ----------------------------------------------------*/

static const char *const isa_names[] = {[TQ_ISA_SCALAR] = "scalar",
                                        [TQ_ISA_AVX2] = "avx2",
                                        [TQ_ISA_AVX512] = "avx512"};
_Static_assert(sizeof isa_names / sizeof isa_names[0] == TQ_ISA_COUNT,
               "every instruction set needs a name");

const char *tq_isa_name(tq_isa isa) {
  return (unsigned)isa < TQ_ISA_COUNT ? isa_names[isa] : "?";
}

/* AVX2, FMA and F16C, and an OS that saves the YMM registers. */
static int detect_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
      f16c = (c >> 29) & 1;
  if (!(fma && osxsave && avx && f16c)) return 0;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return 0; /* XMM and YMM state enabled */
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 5) & 1;
#else
  return 0;
#endif
}

/* AVX-512 F, BW, DQ and VL (CPUID leaf 7), and an OS that saves the
 * opmask and ZMM state (XCR0 bits 5-7) besides XMM and YMM. Only asked
 * once AVX2 is there. */
static int detect_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  __cpuid_count(7, 0, a, b, c, d);
  int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1,
      vl = (b >> 31) & 1;
  if (!(f && dq && bw && vl)) return 0;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0xe6) == 0xe6;
#else
  return 0;
#endif
}

/* CPUID and XGETBV trap to the hypervisor in a VM (tens of microseconds),
 * so the answer is computed once per process. This is the library's only
 * process-wide state: a fact about the CPU, written once, never changed. */
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static tq_isa isa_best;
static void isa_init(void) {
  isa_best = !detect_avx2()     ? TQ_ISA_SCALAR
             : !detect_avx512() ? TQ_ISA_AVX2
                                : TQ_ISA_AVX512;
}

tq_isa tq_isa_detect(void) {
  pthread_once(&isa_once, isa_init);
  return isa_best;
}

tq_isa tq_isa_for(const tq_context *ctx) {
  tq_isa best = tq_isa_detect();
  int cap = tq_context_isa_cap(ctx);
  return cap >= 0 && cap < (int)best ? (tq_isa)cap : best;
}

tq_status tq_context_set_kernels(tq_context *ctx, const char *isa) {
  if (isa && !strcmp(isa, "best")) {
    tq_context_set_isa_cap(ctx, -1);
    return TQ_OK;
  }
  for (int i = 0; isa && i < TQ_ISA_COUNT; i++)
    if (!strcmp(isa, isa_names[i])) {
      tq_context_set_isa_cap(ctx, i);
      return TQ_OK;
    }
  char names[128] = "";
  for (int i = 0; i < TQ_ISA_COUNT; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s, ",
             isa_names[i]);
  return tq_error(ctx, TQ_ERR_PARSE, NULL, 0, 0,
                  "unknown kernel set '%s': expected %sor best",
                  isa ? isa : "(null)", names);
}

const char *tq_context_kernels(const tq_context *ctx) {
  return tq_isa_name(tq_isa_for(ctx));
}

const char *tq_kernel_isa(void) {
  return tq_isa_name(tq_isa_detect());
}

/* Sum and count of |x| over the non-NaN elements of one chunk, in a fixed
 * order: element j of the chunk goes to double accumulator j mod 8, and the
 * eight are combined pairwise, ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)). The
 * order is part of the definition (docs/quantizers.md), so the threshold is
 * the same on every CPU and at any thread count; tq_avx2_abs_sum computes
 * exactly this with two vectors of four lanes. */
void tq_ref_abs_sum(const float *x, size_t n, double *sum, size_t *count) {
  double acc[8] = {0};
  size_t cnt = 0;
  for (size_t i = 0; i < n; i++) {
    double v = fabs((double)x[i]);
    if (v != v) continue;
    acc[i % 8] += v;
    cnt++;
  }
  *sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
         ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  *count = cnt;
}

/* Mean of |x| over the non-NaN elements: chunk sums added in chunk order,
 * so the ternary threshold does not depend on the thread count. */
static tq_status mean_abs(tq_context *ctx, const float *x, size_t n,
                          int threads, tq_isa isa, double *mean) {
  void (*abs_sum)(const float *, size_t, double *, size_t *) =
      isa >= TQ_ISA_AVX2 ? tq_avx2_abs_sum : tq_ref_abs_sum;
  size_t chunks = tq_chunk_count(n);
  *mean = 0.0;
  if (chunks == 0) return TQ_OK;
  double *part = malloc(chunks * sizeof *part);
  size_t *cnt = malloc(chunks * sizeof *cnt);
  if (!part || !cnt) {
    free(part);
    free(cnt);
    return tq_error_nomem(ctx);
  }
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (size_t c = 0; c < chunks; c++) {
    size_t first = c * TQ_CHUNK_ELEMS;
    size_t len = n - first < TQ_CHUNK_ELEMS ? n - first : TQ_CHUNK_ELEMS;
    abs_sum(x + first, len, &part[c], &cnt[c]);
  }
  double total = 0.0;
  size_t count = 0;
  for (size_t c = 0; c < chunks; c++) total += part[c], count += cnt[c];
  free(part);
  free(cnt);
  *mean = count ? total / (double)count : 0.0;
  return TQ_OK;
}

/* Scaled and block formats quantize a 1-D tensor [n] here; the others go
 * element by element. */
tq_status tq_quantize(tq_context *ctx, const tq_quantizer *q, const float *in,
                      float *out, size_t n, const tq_quant_opts *opts) {
  if (q && tq_quantizer_grouped(q))
    return tq_quantize_tensor(ctx, q, in, out, n, NULL, opts);
  return tq_quantize_elements(ctx, q, in, out, n, opts);
}

tq_status tq_quantize_elements(tq_context *ctx, const tq_quantizer *q,
                               const float *in, float *out, size_t n,
                               const tq_quant_opts *opts) {
  if (!q || (n && (!in || !out)))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantize: NULL quantizer or buffer");
  if (in != out && n && in < out + n && out < in + n)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_quantize: input and output overlap without being "
                    "the same buffer");
  tq_quant_opts o = {0};
  if (opts) o = *opts;
  int threads = o.threads > 0 ? o.threads : tq_context_threads(ctx);
  const tq_kind_traits *tr = tq_kind_traits_get(q->p.kind);
  if (!tr)
    return tq_error(ctx, TQ_ERR_INTERNAL, NULL, 0, 0, "corrupt quantizer");
  tq_isa isa = o.force_reference ? TQ_ISA_SCALAR : tq_isa_for(ctx);
  tq_kernel_fn kernel = tq_kind_kernel(tr, isa);
  if (!kernel)
    return tq_error(ctx, TQ_ERR_UNSUPPORTED, NULL, 0, 0,
                    "tq_quantize: '%s' quantizes whole tensors along an "
                    "axis, not independent elements",
                    q->spec);
  double threshold = q->p.threshold, factor;
  if (tr->mean_abs_threshold && tr->mean_abs_threshold(&q->p, &factor)) {
    double mean;
    tq_status st = mean_abs(ctx, in, n, threads, isa, &mean);
    if (st != TQ_OK) return st;
    threshold = factor * mean;
  }
  uint64_t seed = q->p.has_seed ? q->p.seed : o.seed;
  size_t chunks = tq_chunk_count(n);
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (size_t c = 0; c < chunks; c++) {
    size_t first = c * TQ_CHUNK_ELEMS;
    size_t len = n - first < TQ_CHUNK_ELEMS ? n - first : TQ_CHUNK_ELEMS;
    tq_rng_pos rng = {seed, o.stream, o.offset + first};
    kernel(q, in + first, out + first, len, rng, threshold);
  }
  return TQ_OK;
}
