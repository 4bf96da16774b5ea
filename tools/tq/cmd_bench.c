/* tq bench: performance measurements.
 *
 * `tq bench quantizers` times every quantizer family out of place on a large
 * float32 tensor and sets the result against a plain parallel copy of the
 * same tensor, run the same way at the same thread count: the copy is the
 * memory-bandwidth ceiling a streaming kernel can reach, so the ratio says
 * how close to that ceiling each kernel gets, on any machine.
 *
 * The first positional argument selects the benchmark, so that others (a
 * model: `tq bench MODEL.onnx`) can be added next to this one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model_util.h"
#include "tq.h"

#define CMD "bench"

/* Same split as the library's kernels (src/core/threads.h): 64 KiB chunks,
 * statically scheduled, so the copy reference moves data exactly the way the
 * quantizers do. */
#define BENCH_CHUNK ((size_t)16384)

/* Buffers are aligned to a cache line so that no run pays for a split line
 * the others do not. */
#define BENCH_ALIGN ((size_t)64)

/* The quantizer families measured, one spec per family: every fixed-point
 * rounding mode (with the default overflow, sat), the other overflow modes,
 * the float formats with their default and stochastic rounding, and the
 * others. `ternary` without T also pays for the mean|x| pass over the input
 * that its threshold needs. */
static const char *const quantizer_specs[] = {
    "nearest,8,4",
    "even,8,4",
    "half_up,8,4",
    "half_down,8,4",
    "half_zero,8,4",
    "down,8,4",
    "up,8,4",
    "zero,8,4",
    "away,8,4",
    "stochastic,8,4",
    "nearest,8,4,overflow=sat_sym",
    "nearest,8,4,overflow=wrap",
    "fp16",
    "bf16",
    "fp8e5m2",
    "fp8e4m3",
    "fp4e2m1",
    "float,4,3,round=stochastic",
    "bf16,round=stochastic",
    "logarithmic",
    "binary",
    "ternary",
    "ternary,1,0.5",
    "sparse,0.1",
    /* scaled and block formats (1-D: per tensor, or blocks of the buffer) */
    "int,8",
    "fp8e4m3,scaled",
    "int,4,group=32",
    "mxfp8e4m3",
    "mxfp4",
    "mxint8",
    "nvfp4",
    "bfp,8",
    "q8_0",
    "q4_0",
    "q4_1",
};
enum {
  SPEC_COUNT = sizeof quantizer_specs / sizeof quantizer_specs[0],
  MAX_THREAD_COUNTS = 2,
  MAX_REPEAT = 1000,
  MAX_THREADS = 4096,
};

static const char help[] =
    "usage: tq bench MODEL.onnx [--batch N] [--threads N] [--repeat N]\n"
    "                [--extr MAP] [--weights MAP] [--intr MAP] [--map FILE]\n"
    "                [--warmup N] [--fast-conv] [--conv-impl LIST]\n"
    "                [--profile] [--json]\n"
    "       tq bench quantizers [--size MiB] [--threads N] [--repeat N]\n"
    "                           [--stat best|median] [--json] [--quiet]\n"
    "\n"
    "Measures how fast models and quantizer kernels run on this machine.\n"
    "\n"
    "tq bench MODEL.onnx\n"
    "  Runs the model on a random batch (--batch, default 1), --warmup times\n"
    "  (default 2) and then --repeat times (default 10), float or under the\n"
    "  given maps; prints the median latency, images/s and peak memory\n"
    "  (--json: one object with images_per_s, latency_median_s,\n"
    "  peak_rss_bytes, ...). --profile adds the time per operator type\n"
    "  and of the slowest nodes (each node's forward plus its extrinsic\n"
    "  quantization; Relu is then not fused into the node before it), with\n"
    "  the implementation each Conv used. --fast-conv lets 3x3\n"
    "  convolutions use Winograd F(4x4, 3x3); --conv-impl LIST orders the\n"
    "  float convolution implementations (see tq run --help).\n"
    "\n"
    "tq bench quantizers\n"
    "  Quantizes a float32 tensor of --size MiB (deterministic normal-ish\n"
    "  values, standard deviation 6, so that many fall outside the 8-bit\n"
    "  ranges) out of place, with one quantizer of every family: each fixed\n"
    "  point rounding and overflow mode, fp16, bf16, fp8, fp4, minifloats\n"
    "  with stochastic rounding, logarithmic, binary, ternary and sparse.\n"
    "  Each is run at 1 and at 2 threads (or at --threads N only), once to\n"
    "  warm up and then --repeat times; the best (or median) time counts.\n"
    "  Interleaved with those runs, a plain parallel copy loop over the same\n"
    "  buffers with the same threads and work split gives the memory\n"
    "  bandwidth a streaming kernel can reach at best.\n"
    "\n"
    "  Columns: GB/s = (bytes read + bytes written) / time / 1e9, i.e.\n"
    "  2 * 4 bytes per element; copy GB/s the same for the copy; ratio =\n"
    "  GB/s / copy GB/s (1.0: the kernel runs at memory speed).\n"
    "\n"
    "options:\n"
    "      --size MiB       tensor size in MiB (default 64; fractions are\n"
    "                       allowed)\n"
    "      --threads N      run at N threads only (default: 1 and 2)\n"
    "      --repeat N       timed runs per measurement (default 5)\n"
    "      --stat best|median\n"
    "                       which run counts (default best: the least\n"
    "                       disturbed by other work on the machine)\n"
    "      --json           print a JSON array of objects {\"spec\",\n"
    "                       \"threads\", \"gbps\", \"copy_gbps\", \"ratio\"}\n"
    "                       instead of the table\n"
    "  -q, --quiet          no progress display on stderr\n"
    "\n"
    "A progress line is shown on stderr when it is a terminal (not with\n"
    "--json or --quiet). Exit status: 0 done, 1 failure (e.g. out of\n"
    "memory), 2 usage error.\n"
    "\n"
    "examples:\n"
    "  tq bench resnet18.onnx --batch 16 --threads 2 --profile\n"
    "  tq bench lenet.onnx --extr nearest,8,4 --weights nearest,8,7 --json\n"
    "  tq bench quantizers\n"
    "  tq bench quantizers --size 256 --threads 8 --repeat 9 --stat median\n"
    "  tq bench quantizers --size 16 --json > quantizers.json\n";

typedef enum bench_stat { STAT_BEST = 0, STAT_MEDIAN } bench_stat;

/* Everything the command line says, for every benchmark. */
typedef struct bench_opts {
  const char *name;  /* first positional: which benchmark */
  const char *extra; /* first unexpected further positional, or NULL */
  double size_mib;
  int threads; /* 0: 1 and 2 */
  int repeat;
  bench_stat stat;
  int json;
  int progress; /* show progress on stderr */
} bench_opts;

/* One line of the result table. */
typedef struct bench_row {
  const char *spec;
  int threads;
  double gbps, copy_gbps;
} bench_row;

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static size_t chunk_count(size_t n) {
  return (n + BENCH_CHUNK - 1) / BENCH_CHUNK;
}

/* Deterministic normal-ish values: an Irwin-Hall sum of four 16-bit uniforms
 * from one SplitMix64 output per element (counter based, so the fill runs in
 * parallel and gives the same tensor at any thread count). Standard deviation
 * 6: about 18% of the values lie beyond +-8, outside the 8,4 fixed range,
 * and the rest spread over many of its steps. The parallel fill is also the
 * first touch of the pages, by the threads that will use them. */
static void fill_input(float *x, size_t n, int threads) {
  size_t chunks = chunk_count(n);
  /* a sum of 4 uniforms on [0,1) has mean 2 and variance 4/12 */
  const double scale = 6.0 * sqrt(3.0);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (size_t c = 0; c < chunks; c++) {
    size_t end = (c + 1) * BENCH_CHUNK < n ? (c + 1) * BENCH_CHUNK : n;
    for (size_t i = c * BENCH_CHUNK; i < end; i++) {
      uint64_t r = splitmix64((uint64_t)i);
      double s = 0.0;
      for (int k = 0; k < 4; k++, r >>= 16)
        s += (double)(r & 0xffffu) * (1.0 / 65536.0);
      x[i] = (float)((s - 2.0) * scale);
    }
  }
}

/* First write of the output buffer, so that no timed run takes its page
 * faults. */
static void touch_output(float *x, size_t n, int threads) {
  size_t chunks = chunk_count(n);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (size_t c = 0; c < chunks; c++) {
    size_t first = c * BENCH_CHUNK;
    size_t len = n - first < BENCH_CHUNK ? n - first : BENCH_CHUNK;
    memset(x + first, 0, len * sizeof *x);
  }
}

/* The bandwidth reference: a plain loop copying floats, parallelised as the
 * quantizer kernels are (same chunks, same schedule, same `if`). The buffers
 * come from the caller, which reads the output afterwards, so the compiler
 * can neither drop nor hoist the loop; it may turn the inner loop into
 * memcpy or vector moves, which is the point: the fastest plain copy. */
static void copy_chunks(const float *restrict in, float *restrict out, size_t n,
                        int threads) {
  size_t chunks = chunk_count(n);
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (size_t c = 0; c < chunks; c++) {
    size_t end = (c + 1) * BENCH_CHUNK < n ? (c + 1) * BENCH_CHUNK : n;
    for (size_t i = c * BENCH_CHUNK; i < end; i++) out[i] = in[i];
  }
}

/* A few elements spread over the tensor: enough to catch a copy that did not
 * happen, and the read that makes its result observable. */
static int copy_ok(const float *in, const float *out, size_t n) {
  for (size_t k = 0; k < 8; k++) {
    size_t i = k * (n / 8) + (n / 8) / 2;
    if (i < n && memcmp(&in[i], &out[i], sizeof in[i]) != 0) return 0;
  }
  return memcmp(&in[n - 1], &out[n - 1], sizeof in[0]) == 0;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Best (smallest) or median time of the runs; sorts t. */
static double summarize(double *t, int count, bench_stat stat) {
  qsort(t, (size_t)count, sizeof *t, compare_double);
  if (stat == STAT_BEST) return t[0];
  return count % 2 ? t[count / 2] : 0.5 * (t[count / 2 - 1] + t[count / 2]);
}

static double to_gbps(size_t n, double seconds) {
  /* Read + write: every element is loaded once and stored once. The floor
   * on the time only guards tiny tensors against a zero clock difference
   * (JSON has no infinity). */
  if (seconds < 1e-9) seconds = 1e-9;
  return 2.0 * (double)n * sizeof(float) / seconds / 1e9;
}

static void *alloc_floats(size_t n) {
  size_t bytes = n * sizeof(float);
  bytes = (bytes + BENCH_ALIGN - 1) / BENCH_ALIGN * BENCH_ALIGN;
  return aligned_alloc(BENCH_ALIGN, bytes);
}

static void show_progress(const bench_opts *o, int done, int total,
                          const char *spec, int threads) {
  if (!o->progress) return;
  /* pad so that a shorter line overwrites a longer one */
  fprintf(stderr, "\rtq bench: [%2d/%d] %s, %d thread%s%-24s", done + 1, total,
          spec, threads, threads == 1 ? "" : "s", "");
  fflush(stderr);
}

static void end_progress(const bench_opts *o) {
  if (!o->progress) return;
  fprintf(stderr, "\r%-79s\r", "");
  fflush(stderr);
}

static int print_table(const bench_opts *o, const char *kernels,
                       const bench_row *rows, int count, size_t n) {
  int width = (int)strlen("spec");
  for (int i = 0; i < count; i++) {
    int w = (int)strlen(rows[i].spec);
    if (w > width) width = w;
  }
  printf(
      "tq bench quantizers: kernels %s, %g MiB float32 (%zu elements), "
      "%s of %d run%s after a warm-up\n",
      kernels, o->size_mib, n, o->stat == STAT_BEST ? "best" : "median",
      o->repeat, o->repeat == 1 ? "" : "s");
  printf(
      "GB/s = (bytes read + written) / time / 1e9; copy = plain parallel "
      "copy loop,\nsame buffers and threads; ratio = GB/s / copy GB/s\n\n");
  printf("%-*s  %7s  %8s  %9s  %5s\n", width, "spec", "threads", "GB/s",
         "copy GB/s", "ratio");
  for (int i = 0; i < count; i++)
    printf("%-*s  %7d  %8.2f  %9.2f  %5.2f\n", width, rows[i].spec,
           rows[i].threads, rows[i].gbps, rows[i].copy_gbps,
           rows[i].gbps / rows[i].copy_gbps);
  return 1;
}

static int print_json(const bench_row *rows, int count) {
  json_t *arr = json_array();
  if (!arr) return 0;
  for (int i = 0; i < count; i++) {
    json_t *obj =
        json_pack("{s:s, s:i, s:f, s:f, s:f}", "spec", rows[i].spec, "threads",
                  rows[i].threads, "gbps", rows[i].gbps, "copy_gbps",
                  rows[i].copy_gbps, "ratio", rows[i].gbps / rows[i].copy_gbps);
    if (!obj || json_array_append_new(arr, obj) != 0) {
      json_decref(arr);
      return 0;
    }
  }
  char *text = json_dumps(arr, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
  json_decref(arr);
  if (!text) return 0;
  puts(text);
  free(text);
  return 1;
}

/* Times one quantizer at one thread count: a warm-up run of each, then
 * o->repeat rounds of (copy, quantize), interleaved so that both see the
 * same state of the machine. */
static tq_status time_one(tq_context *ctx, const tq_quantizer *q,
                          const bench_opts *o, int threads, const float *in,
                          float *out, size_t n, double *t_quant, double *t_copy,
                          bench_row *row) {
  tq_quant_opts qo = {0};
  qo.seed = 1;
  qo.threads = threads;
  tq_status st = tq_quantize(ctx, q, in, out, n, &qo);
  if (st != TQ_OK) return st;
  copy_chunks(in, out, n, threads);
  for (int r = 0; r < o->repeat; r++) {
    double t0 = tq_cli_now();
    copy_chunks(in, out, n, threads);
    double t1 = tq_cli_now();
    if (!copy_ok(in, out, n)) {
      tq_cli_error(CMD, "the reference copy produced wrong data");
      return TQ_ERR_INTERNAL;
    }
    double t2 = tq_cli_now();
    st = tq_quantize(ctx, q, in, out, n, &qo);
    double t3 = tq_cli_now();
    if (st != TQ_OK) return st;
    t_copy[r] = t1 - t0;
    t_quant[r] = t3 - t2;
  }
  row->threads = threads;
  row->gbps = to_gbps(n, summarize(t_quant, o->repeat, o->stat));
  row->copy_gbps = to_gbps(n, summarize(t_copy, o->repeat, o->stat));
  return TQ_OK;
}

static int bench_quantizers(const bench_opts *o) {
  if (o->extra) {
    tq_cli_error(CMD,
                 "unexpected argument '%s' after 'quantizers' (see tq "
                 "bench --help)",
                 o->extra);
    return TQ_EXIT_USAGE;
  }
  int thread_list[MAX_THREAD_COUNTS], thread_counts = 0, max_threads = 1;
  if (o->threads > 0) {
    thread_list[thread_counts++] = o->threads;
  } else {
    thread_list[thread_counts++] = 1;
    thread_list[thread_counts++] = 2;
  }
  for (int i = 0; i < thread_counts; i++)
    if (thread_list[i] > max_threads) max_threads = thread_list[i];
  size_t n = (size_t)(o->size_mib * 1048576.0 / sizeof(float));
  if (n == 0) n = 1;
  int row_count = SPEC_COUNT * thread_counts;

  int rc = TQ_EXIT_FAILURE;
  tq_context *ctx = NULL;
  tq_quantizer *quantizers[SPEC_COUNT] = {0};
  float *in = alloc_floats(n), *out = alloc_floats(n);
  double *t_quant = malloc((size_t)o->repeat * sizeof *t_quant);
  double *t_copy = malloc((size_t)o->repeat * sizeof *t_copy);
  bench_row *rows = malloc((size_t)row_count * sizeof *rows);
  if (!in || !out || !t_quant || !t_copy || !rows) {
    tq_cli_error(CMD, "out of memory for two tensors of %g MiB", o->size_mib);
    goto done;
  }
  if (!(ctx = tq_cli_context(0))) goto done;
  tq_status st;
  /* Parse everything first: a spec the library rejects is a bug to report
   * before minutes of timing, not after. */
  for (int s = 0; s < SPEC_COUNT; s++)
    if ((st = tq_quantizer_parse(ctx, quantizer_specs[s], &quantizers[s])) !=
        TQ_OK) {
      tq_cli_status_error(CMD, ctx, st);
      goto done;
    }
  fill_input(in, n, max_threads);
  touch_output(out, n, max_threads);

  int done_rows = 0;
  for (int s = 0; s < SPEC_COUNT; s++)
    for (int t = 0; t < thread_counts; t++) {
      bench_row *row = &rows[done_rows];
      row->spec = quantizer_specs[s];
      show_progress(o, done_rows, row_count, row->spec, thread_list[t]);
      st = time_one(ctx, quantizers[s], o, thread_list[t], in, out, n, t_quant,
                    t_copy, row);
      if (st != TQ_OK) {
        end_progress(o);
        if (st != TQ_ERR_INTERNAL || *tq_context_last_error(ctx))
          tq_cli_status_error(CMD, ctx, st);
        goto done;
      }
      done_rows++;
    }
  end_progress(o);

  int printed =
      o->json ? print_json(rows, row_count)
              : print_table(o, tq_context_kernels(ctx), rows, row_count, n);
  if (!printed) {
    tq_cli_error(CMD, "out of memory while writing the results");
    goto done;
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    tq_cli_error(CMD, "could not write the results to stdout");
    goto done;
  }
  rc = TQ_EXIT_OK;
done:
  for (int s = 0; s < SPEC_COUNT; s++) tq_quantizer_destroy(quantizers[s]);
  tq_context_destroy(ctx);
  free(rows);
  free(t_copy);
  free(t_quant);
  free(out);
  free(in);
  return rc;
}

/* The benchmarks `tq bench` knows, by their selecting positional. */
typedef struct bench_kind {
  const char *name;
  int (*run)(const bench_opts *o);
} bench_kind;

static const bench_kind bench_kinds[] = {
    {"quantizers", bench_quantizers},
};
enum { BENCH_KIND_COUNT = sizeof bench_kinds / sizeof bench_kinds[0] };

static int parse_args(int argc, char **argv, bench_opts *o) {
  long v;
  const char *val;
  int only_positionals = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_positionals || a[0] != '-' || a[1] == '\0') {
      if (!o->name)
        o->name = a;
      else if (!o->extra)
        o->extra = a;
    } else if (!strcmp(a, "--")) {
      only_positionals = 1;
    } else if (!strcmp(a, "--size")) {
      if (!(val = tq_cli_value(CMD, argc, argv, &i)) ||
          !tq_cli_parse_double(CMD, a, val, 1.0 / 1024.0, 1048576.0,
                               &o->size_mib))
        return 0;
    } else if (!strcmp(a, "--threads")) {
      if (!(val = tq_cli_value(CMD, argc, argv, &i)) ||
          !tq_cli_parse_int(CMD, a, val, 1, MAX_THREADS, &v))
        return 0;
      o->threads = (int)v;
    } else if (!strcmp(a, "--repeat")) {
      if (!(val = tq_cli_value(CMD, argc, argv, &i)) ||
          !tq_cli_parse_int(CMD, a, val, 1, MAX_REPEAT, &v))
        return 0;
      o->repeat = (int)v;
    } else if (!strcmp(a, "--stat")) {
      if (!(val = tq_cli_value(CMD, argc, argv, &i))) return 0;
      if (!strcmp(val, "best")) {
        o->stat = STAT_BEST;
      } else if (!strcmp(val, "median")) {
        o->stat = STAT_MEDIAN;
      } else {
        tq_cli_error(CMD, "--stat expects 'best' or 'median', got '%s'", val);
        return 0;
      }
    } else if (!strcmp(a, "--json")) {
      o->json = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->progress = 0;
    } else {
      tq_cli_error(CMD, "unknown option '%s' (see tq bench --help)", a);
      return 0;
    }
  }
  return 1;
}

static int run(int argc, char **argv) {
  /* `tq bench MODEL.onnx ...` is the model benchmark (bench_model.c). */
  if (argc >= 2 && argv[1][0] != '-' && strcmp(argv[1], "quantizers") != 0)
    return tq_bench_model(argc, argv);
  bench_opts o = {0};
  o.size_mib = 64.0;
  o.repeat = 5;
  o.stat = STAT_BEST;
  o.progress = 1;
  if (!parse_args(argc, argv, &o)) return TQ_EXIT_USAGE;
  if (o.json || !tq_cli_stderr_is_tty()) o.progress = 0;
  if (!o.name) {
    tq_cli_error(CMD,
                 "which benchmark? usage: tq bench quantizers "
                 "[options] (see tq bench --help)");
    return TQ_EXIT_USAGE;
  }
  for (int k = 0; k < BENCH_KIND_COUNT; k++)
    if (!strcmp(o.name, bench_kinds[k].name)) return bench_kinds[k].run(&o);
  tq_cli_error(CMD,
               "unknown benchmark '%s': the only one is 'quantizers' "
               "(see tq bench --help)",
               o.name);
  return TQ_EXIT_USAGE;
}

const tq_command tq_cmd_bench = {
    "bench", "measure quantizer or model throughput", run, help};
