/* The float GEMM of Conv, ConvTranspose, Gemm and MatMul on CPUs with AVX2
 * and FMA: packed operands and a 4 x 24 micro-kernel (12 accumulators).
 *
 * Why not only OpenBLAS: on the machines we measure, its SGEMM reaches about
 * half of the FMA peak, and its results change with how a product is split
 * into calls. Here each element of C is, in every case, the same chain: for
 * each block of KC terms (fixed bounds from k = 0), acc = fma(a_k, b_k, acc)
 * in k order, then C = alpha * acc + beta * C for the first block and
 * C = C + alpha * acc after; padded rows and columns never touch it. So the
 * result does not depend on tiles, threads or where an element sits in its
 * tile, and the callers may split work any way they like.
 *
 * Compiled with -mavx2 -mfma; called only after tq_nn_gemm_avx2_ok(). */
#include <immintrin.h>
#include <string.h>

#include "ops/nn_internal.h"

#define MR TQ_NN_GEMM_MR
#define NR TQ_NN_GEMM_NR
#define KC TQ_NN_GEMM_KC
#define NC TQ_NN_GEMM_NC
#define MC 96 /* rows of packed A per pass: MC x KC floats stay in L2 */
_Static_assert(MC % MR == 0, "MC must be whole slivers");

size_t tq_nn_packa_floats(int64_t M, int64_t K) {
  const int64_t slivers = (M + MR - 1) / MR;
  return (size_t)(slivers * MR * (K > 0 ? K : 1));
}

void tq_nn_packa(int64_t M, int64_t K, const float *A, int64_t lda, int trans_a,
                 float *dst, int64_t s0, int64_t s1) {
  const int64_t S = (M + MR - 1) / MR;
  for (int64_t pc = 0; pc < K; pc += KC) {
    const int64_t kc = K - pc < KC ? K - pc : KC;
    float *blk = dst + pc * S * MR;
    for (int64_t s = s0; s < s1; s++) {
      float *d = blk + s * kc * MR;
      for (int r = 0; r < MR; r++) {
        const int64_t m = s * MR + r;
        if (m >= M) {
          for (int64_t k = 0; k < kc; k++) d[k * MR + r] = 0.0f;
        } else if (trans_a) {
          const float *src = A + pc * lda + m;
          for (int64_t k = 0; k < kc; k++) d[k * MR + r] = src[k * lda];
        } else {
          const float *src = A + m * lda + pc;
          for (int64_t k = 0; k < kc; k++) d[k * MR + r] = src[k];
        }
      }
    }
  }
}

/* B[pc .. pc+kc) x [jc .. jc+nc) into slivers of NR columns, k-major,
 * zero-padded to whole slivers. */
static void pack_b(const float *B, int64_t ldb, int trans_b, int64_t pc,
                   int64_t kc, int64_t jc, int64_t nc, float *d) {
  for (int64_t j = 0; j < nc; j += NR, d += kc * NR) {
    const int64_t nr = nc - j < NR ? nc - j : NR;
    if (!trans_b) {
      const float *src = B + pc * ldb + jc + j;
      if (nr == NR) {
        for (int64_t k = 0; k < kc; k++)
          for (int v = 0; v < NR; v += 8)
            _mm256_store_ps(d + k * NR + v, _mm256_loadu_ps(src + k * ldb + v));
      } else {
        for (int64_t k = 0; k < kc; k++) {
          int64_t n = 0;
          for (; n < nr; n++) d[k * NR + n] = src[k * ldb + n];
          for (; n < NR; n++) d[k * NR + n] = 0.0f;
        }
      }
    } else {
      const float *src = B + (jc + j) * ldb + pc;
      for (int64_t k = 0; k < kc; k++) {
        int64_t n = 0;
        for (; n < nr; n++) d[k * NR + n] = src[n * ldb + k];
        for (; n < NR; n++) d[k * NR + n] = 0.0f;
      }
    }
  }
}

/* How a block's sums reach C. */
typedef struct upd {
  float alpha, beta;
  int first; /* first K block: C = alpha acc + beta C (beta 0: C unread) */
} upd;

static inline __m256 update(__m256 acc, const float *c, const upd *u) {
  if (u->alpha != 1.0f) acc = _mm256_mul_ps(acc, _mm256_set1_ps(u->alpha));
  if (!u->first) return _mm256_add_ps(_mm256_loadu_ps(c), acc);
  if (u->beta == 0.0f) return acc;
  __m256 old = _mm256_loadu_ps(c);
  if (u->beta != 1.0f) old = _mm256_mul_ps(old, _mm256_set1_ps(u->beta));
  return _mm256_add_ps(acc, old);
}

/* The same update for one element, in the same operations. */
static inline float update1(float acc, const float *c, const upd *u) {
  if (u->alpha != 1.0f) acc = acc * u->alpha;
  if (!u->first) return *c + acc;
  if (u->beta == 0.0f) return acc;
  float old = *c;
  if (u->beta != 1.0f) old = old * u->beta;
  return acc + old;
}

/* C[0..mr) x [0..nr) (+)= the product of one A sliver and one B sliver.
 * 4 x 24 rather than the usual 6 x 16: on Zen 3 the broadcasts compete
 * with the FMAs, and this shape needs 4 of them per 12 FMAs, not 6. */
static void kernel(int64_t kc, const float *a, const float *b, float *c,
                   int64_t ldc, int mr, int nr, const upd *u) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00;
  __m256 c10 = c00, c11 = c00, c12 = c00;
  __m256 c20 = c00, c21 = c00, c22 = c00;
  __m256 c30 = c00, c31 = c00, c32 = c00;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8),
                 b2 = _mm256_load_ps(b + 16);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    c02 = _mm256_fmadd_ps(av, b2, c02);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    c12 = _mm256_fmadd_ps(av, b2, c12);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    c22 = _mm256_fmadd_ps(av, b2, c22);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    c32 = _mm256_fmadd_ps(av, b2, c32);
  }
  const __m256 acc[MR][3] = {
      {c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}};
  if (mr == MR && nr == NR) {
    for (int r = 0; r < MR; r++) {
      float *cr = c + r * ldc;
      for (int v = 0; v < 3; v++)
        _mm256_storeu_ps(cr + 8 * v, update(acc[r][v], cr + 8 * v, u));
    }
    return;
  }
  float t[MR][NR];
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < 3; v++) _mm256_storeu_ps(t[r] + 8 * v, acc[r][v]);
  for (int r = 0; r < mr; r++)
    for (int n = 0; n < nr; n++)
      c[r * ldc + n] = update1(t[r][n], c + r * ldc + n, u);
}

void tq_nn_gemm_packed(int64_t M, int64_t m0, int64_t m1, int64_t N, int64_t K,
                       float alpha, const float *ap, const float *B,
                       int64_t ldb, int trans_b, float beta, float *C,
                       int64_t ldc, float *bbuf) {
  if (m1 <= m0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t m = m0; m < m1; m++)
      for (int64_t n = 0; n < N; n++)
        C[m * ldc + n] = beta == 0.0f ? 0.0f : beta * C[m * ldc + n];
    return;
  }
  const int64_t S = (M + MR - 1) / MR;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = N - jc < NC ? N - jc : NC;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = K - pc < KC ? K - pc : KC;
      const upd u = {alpha, beta, pc == 0};
      pack_b(B, ldb, trans_b, pc, kc, jc, nc, bbuf);
      const float *ablk = ap + pc * S * MR;
      for (int64_t ic = m0; ic < m1; ic += MC) {
        const int64_t mc = m1 - ic < MC ? m1 - ic : MC;
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = (int)(nc - jr < NR ? nc - jr : NR);
          const float *bs = bbuf + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = (int)(mc - ir < MR ? mc - ir : MR);
            const int64_t m = ic + ir;
            kernel(kc, ablk + (m / MR) * kc * MR, bs, C + m * ldc + jc + jr,
                   ldc, mr, nr, &u);
          }
        }
      }
    }
  }
}
