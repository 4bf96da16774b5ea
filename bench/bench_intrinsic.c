/* Intrinsic quantization against the float GEMM it replaces.
 *
 * For the im2col'ed convolutions of LeNet and ResNet-18 (M = output
 * channels, K = input channels x kernel height x kernel width, N = output
 * height x width x batch), times OpenBLAS sgemm and tq_intrinsic_gemm with
 *   TensorQuant form   "nearest,16,8"
 *   accumulator, wrap  {product: nearest,16,8, accumulator: nearest,24,8,
 *                       overflow=wrap}
 *   accumulator, sat   {..., accumulator: nearest,24,8}
 * and prints the times and their ratios to sgemm. Best of --repeat runs.
 *
 *   bench_intrinsic [--threads T] [--repeat R] [--check] [--extra]
 *                   [--isa scalar|avx2]
 *
 * --check also runs the scalar reference on the smallest shape and
 * compares bits (a sanity check; tests/test_intrinsic.c is the real one).
 * --extra adds configurations that take the slower paths (stochastic
 * rounding, float formats, rounding at every accumulator step). --isa
 * caps the kernel set below the CPU's best, to compare implementations.
 * docs/intrinsic.md lists measured figures. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/context_internal.h"
#include "ops/op_internal.h"
#include "quant/quant_internal.h"
#include "tensorquant/tensorquant.h"

typedef struct shape {
  const char *name;
  int M, K, N;
} shape;

/* Conv layers as GEMMs. LeNet (TensorQuant's, 'same' padding) with a batch
 * of 8 images; ResNet-18 on 224 x 224, batch 1, one 3x3 conv per stage. */
static const shape SHAPES[] = {
    {"lenet.conv1 (20x1x5x5, 28x28, b8)", 20, 25, 8 * 784},
    {"lenet.conv2 (50x20x5x5, 14x14, b8)", 50, 500, 8 * 196},
    {"resnet18.conv1 (64x3x7x7, 112x112)", 64, 147, 12544},
    {"resnet18.layer1 (64x64x3x3, 56x56)", 64, 576, 3136},
    {"resnet18.layer2 (128x128x3x3, 28x28)", 128, 1152, 784},
    {"resnet18.layer3 (256x256x3x3, 14x14)", 256, 2304, 196},
    {"resnet18.layer4 (512x512x3x3, 7x7)", 512, 4608, 49},
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static void fill(float *v, size_t n, float lo, float hi, uint64_t seed) {
  for (size_t i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * (float)(splitmix(&seed) >> 40) * 0x1p-24f;
}

/* An intrinsic configuration: a spec string (TensorQuant form) when only
 * `product` is given with string = 1, else an object. */
typedef struct spec {
  const char *label;
  int string;
  const char *product, *sum, *acc;
} spec;

static const spec SPECS[] = {
    {"[1] \"nearest,16,8\"", 1, "nearest,16,8", NULL, NULL},
    {"[2] {product: nearest,16,8, accumulator: nearest,24,8,overflow=wrap}", 0,
     "nearest,16,8", NULL, "nearest,24,8,overflow=wrap"},
    {"[3] {product: nearest,16,8, accumulator: nearest,24,8}", 0,
     "nearest,16,8", NULL, "nearest,24,8"},
    /* --extra: the slower paths. */
    {"[4] \"stochastic,16,8\"", 1, "stochastic,16,8", NULL, NULL},
    {"[5] \"fp16\"", 1, "fp16", NULL, NULL},
    {"[6] {product: nearest,16,12, accumulator: nearest,24,8} (rounds at "
     "every step)",
     0, "nearest,16,12", NULL, "nearest,24,8"},
    {"[7] {accumulator: nearest,32,16} (exact products of unquantized data)", 0,
     NULL, NULL, "nearest,32,16"},
    {"[8] {product: fp16, accumulator: float,8,23}", 0, "fp16", NULL,
     "float,8,23"},
    {"[9] {product: fp16, accumulator: fp16}", 0, "fp16", NULL, "fp16"},
};
enum { MAIN_SPECS = 3 };

static int parse(tq_context *ctx, const char *s, tq_quantizer **q) {
  *q = NULL;
  if (!s || tq_quantizer_parse(ctx, s, q) == TQ_OK) return 0;
  fprintf(stderr, "bad spec %s: %s\n", s, tq_context_last_error(ctx));
  return 1;
}

int main(int argc, char **argv) {
  int threads = 2, repeat = 5, check = 0, extra = 0, isa = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--check"))
      check = 1;
    else if (!strcmp(argv[i], "--extra"))
      extra = 1;
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      const char *name = argv[++i];
      for (int k = 0; k < TQ_ISA_COUNT; k++)
        if (!strcmp(name, tq_isa_name((tq_isa)k))) isa = k;
      if (isa < 0) {
        fprintf(stderr, "bench_intrinsic: unknown --isa '%s'\n", name);
        return 2;
      }
    } else {
      fprintf(stderr,
              "usage: bench_intrinsic [--threads T] [--repeat R] [--check] "
              "[--extra] [--isa scalar|avx2]\n");
      return 2;
    }
  }
  if (threads < 1 || repeat < 1) return 2;
  tq_context *ctx;
  if (tq_context_create(&ctx) != TQ_OK) return 1;
  tq_context_set_isa_cap(ctx, isa);
  openblas_set_num_threads(threads);

  const int nspecs = extra ? (int)(sizeof SPECS / sizeof *SPECS) : MAIN_SPECS;
  tq_quantizer *q[sizeof SPECS / sizeof *SPECS][3];
  tq_qmap_value v[sizeof SPECS / sizeof *SPECS];
  for (int i = 0; i < nspecs; i++) {
    if (parse(ctx, SPECS[i].product, &q[i][0]) ||
        parse(ctx, SPECS[i].sum, &q[i][1]) ||
        parse(ctx, SPECS[i].acc, &q[i][2]))
      return 1;
    tq_qmap_value x = {
        .product = q[i][0], .sum = q[i][1], .accumulator = q[i][2]};
    if (SPECS[i].string) x.quantizer = x.sum = q[i][0];
    v[i] = x;
  }

  printf("intrinsic GEMM vs OpenBLAS sgemm, %d threads, best of %d (%s)\n",
         threads, repeat, tq_isa_name(tq_isa_for(ctx)));
  for (int i = 0; i < nspecs; i++) printf("  %s\n", SPECS[i].label);
  printf("\n%-38s %5s %5s %6s %9s", "shape", "M", "K", "N", "sgemm ms");
  for (int i = 0; i < nspecs; i++) printf("   [%d] ms (ratio)", i + 1);
  printf("\n");
  int status = 0;
  for (size_t s = 0; s < sizeof SHAPES / sizeof *SHAPES; s++) {
    const shape *sh = &SHAPES[s];
    size_t na = (size_t)sh->M * sh->K, nb = (size_t)sh->K * sh->N,
           nc = (size_t)sh->M * sh->N;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    float *C = malloc(nc * sizeof *C), *R = malloc(nc * sizeof *R);
    float *bias = malloc((size_t)sh->M * sizeof *bias);
    if (!A || !B || !C || !R || !bias) return 1;
    /* Weights in [-0.25, 0.25), activations (post-ReLU) in [0, 2): the
     * products and sums use a good part of the 16- and 24-bit ranges. */
    fill(A, na, -0.25f, 0.25f, 1 + s);
    fill(B, nb, 0.0f, 2.0f, 100 + s);
    fill(bias, (size_t)sh->M, -0.5f, 0.5f, 200 + s);
    double best = INFINITY;
    for (int r = 0; r < repeat + 1; r++) {
      double t0 = now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sh->M, sh->N,
                  sh->K, 1.0f, A, sh->K, B, sh->N, 0.0f, C, sh->N);
      double t = now() - t0;
      if (r > 0 && t < best) best = t; /* run 0 warms up */
    }
    double sgemm = best;
    printf("%-38s %5d %5d %6d %9.3f", sh->name, sh->M, sh->K, sh->N,
           1e3 * sgemm);
    for (int i = 0; i < nspecs; i++) {
      tq_intrinsic_gemm_args a = {.M = sh->M,
                                  .N = sh->N,
                                  .K = sh->K,
                                  .A = A,
                                  .lda = (size_t)sh->K,
                                  .B = B,
                                  .ldb = (size_t)sh->N,
                                  .bias = bias,
                                  .bias_rs = 1,
                                  .C = C,
                                  .ldc = (size_t)sh->N,
                                  .iq = &v[i],
                                  .seed = 1,
                                  .threads = threads};
      best = INFINITY;
      for (int r = 0; r < repeat + 1; r++) {
        double t0 = now();
        if (tq_intrinsic_gemm(ctx, &a) != TQ_OK) {
          fprintf(stderr, "%s\n", tq_context_last_error(ctx));
          return 1;
        }
        double t = now() - t0;
        if (r > 0 && t < best) best = t;
      }
      printf(" %8.3f (%5.1fx)", 1e3 * best, best / sgemm);
      fflush(stdout);
      if (check && s == 0) {
        a.C = R;
        tq_intrinsic_gemm_ref(ctx, &a);
        if (memcmp(C, R, nc * sizeof *C) != 0) {
          printf(" MISMATCH");
          status = 1;
        }
      }
    }
    printf("\n");
    free(A);
    free(B);
    free(C);
    free(R);
    free(bias);
  }
  for (int i = 0; i < nspecs; i++)
    for (int k = 0; k < 3; k++) tq_quantizer_destroy(q[i][k]);
  tq_context_destroy(ctx);
  return status;
}
