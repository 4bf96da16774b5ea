#!/usr/bin/python3
"""Quantizer throughput: TensorQuant (tq) against PyTorch as users write it.

Times the quantizers the way a PyTorch user writes them (element-wise tensor
expressions such as torch.clamp(torch.round(x * 2**f), lo, hi) / 2**f) on a
float32 tensor of --size MiB at 1 and 2 threads, runs
`tq bench quantizers --json` with the same size, threads and repeats, and
prints both side by side with the speed-up of tq over torch. Each torch
quantizer is timed twice: as the plain expression (new tensors for every
operator, as users write it) and in an `out=` form (in-place operators on a
preallocated buffer), which leaves out torch's allocation and page-fault
cost.

GB/s is counted the same way on both sides: (bytes read + bytes written) of
the tensor, i.e. 2 * 4 bytes per element, over the time of one quantization,
divided by 1e9. Temporaries torch allocates inside an expression are not
counted as traffic: they are part of its cost, as they are for its users.

Run with Debian's interpreter, which sees Debian's python3-torch:

    /usr/bin/python3 bench/torch_quantizers.py --tq build/tq --size 64

See bench/README.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# Fixed point: w = 8 bits, f = 4 fractional bits, as the tq specs "*,8,4".
WIDTH, FRAC = 8, 4
SCALE = float(2 ** FRAC)
QLO, QHI = float(-(2 ** (WIDTH - 1))), float(2 ** (WIDTH - 1) - 1)


def formulations(torch):
    """(name, tq spec, torch expression as text, function) for every pair.

    The expressions are what a PyTorch user writes, clamping in the integer
    domain like tq's default overflow mode, sat. torch.round rounds ties to
    even, so it is tq's `even`; tq's `nearest` rounds ties away from zero,
    which a user writes with sign, abs and floor(t + 0.5).
    """
    s, lo, hi = SCALE, QLO, QHI

    def ternary_mean(x):
        t = 0.7 * x.abs().mean()
        return torch.where(x > t, 1.0, torch.where(x < -t, -1.0, 0.0))

    rows = [
        ("even", "even,8,4",
         "clamp(round(x*s), lo, hi) / s",
         lambda x: torch.clamp(torch.round(x * s), lo, hi) / s),
        ("nearest", "nearest,8,4",
         "clamp(sign(x)*floor(abs(x)*s + 0.5), lo, hi) / s",
         lambda x: torch.clamp(torch.sign(x) * torch.floor(torch.abs(x) * s
                                                           + 0.5),
                               lo, hi) / s),
        ("down", "down,8,4",
         "clamp(floor(x*s), lo, hi) / s",
         lambda x: torch.clamp(torch.floor(x * s), lo, hi) / s),
        ("zero", "zero,8,4",
         "clamp(trunc(x*s), lo, hi) / s",
         lambda x: torch.clamp(torch.trunc(x * s), lo, hi) / s),
        ("stochastic", "stochastic,8,4",
         "clamp(floor(x*s + rand_like(x)), lo, hi) / s",
         lambda x: torch.clamp(torch.floor(x * s + torch.rand_like(x)),
                               lo, hi) / s),
        ("fp16", "fp16", "x.half().float()", lambda x: x.half().float()),
        ("bf16", "bf16", "x.bfloat16().float()",
         lambda x: x.bfloat16().float()),
    ]
    # float8 dtypes exist from torch 2.1 on; older ones have no fp8 at all.
    if hasattr(torch, "float8_e5m2"):
        rows.append(("fp8e5m2", "fp8e5m2", "x.to(float8_e5m2).float()",
                     lambda x: x.to(torch.float8_e5m2).float()))
    if hasattr(torch, "float8_e4m3fn"):
        rows.append(("fp8e4m3", "fp8e4m3", "x.to(float8_e4m3fn).float()",
                     lambda x: x.to(torch.float8_e4m3fn).float()))
    rows += [
        ("logarithmic", "logarithmic",
         "sign(x) * exp2(floor(log2(abs(x))))",
         lambda x: torch.sign(x) * torch.exp2(torch.floor(torch.log2(
             torch.abs(x))))),
        ("binary", "binary", "where(x >= 0, 1, -1)",
         lambda x: torch.where(x >= 0, 1.0, -1.0)),
        ("ternary", "ternary",
         "T = 0.7*abs(x).mean(); where(x > T, 1, where(x < -T, -1, 0))",
         ternary_mean),
        ("ternary,T", "ternary,1,0.5",
         "where(x > 0.5, 1, where(x < -0.5, -1, 0))",
         lambda x: torch.where(x > 0.5, 1.0,
                               torch.where(x < -0.5, -1.0, 0.0))),
        ("sparse", "sparse,0.1", "where(abs(x) < 0.1, 0, x)",
         lambda x: torch.where(x.abs() < 0.1, 0.0, x)),
    ]
    return rows


def tuned_formulations(torch, x):
    """{name: (expression as text, function)}: the same quantizers written
    by a user who avoids allocations: in-place operators on an output
    buffer allocated (and touched) once, as tq's benchmark does. Fresh
    64 MiB tensors come from mmap and pay page faults on first write, which
    often costs more than the arithmetic; this column shows torch's kernels
    without that cost."""
    s, lo, hi = SCALE, QLO, QHI
    n = x.numel()
    y = torch.zeros(n, dtype=torch.float32)
    b = torch.zeros(n, dtype=torch.bool)
    h = torch.zeros(n, dtype=torch.float16)
    hb = torch.zeros(n, dtype=torch.bfloat16)
    one, mone = torch.tensor(1.0), torch.tensor(-1.0)

    def fixed(rounder):
        def fn(x):
            torch.mul(x, s, out=y)
            rounder(y)
            return y.clamp_(lo, hi).div_(s)
        return fn

    def nearest(x):
        torch.abs(x, out=y)
        y.mul_(s).add_(0.5).floor_().copysign_(x)
        return y.clamp_(lo, hi).div_(s)

    def stochastic(x):
        torch.rand(n, out=y)
        y.add_(x, alpha=s).floor_()
        return y.clamp_(lo, hi).div_(s)

    def via(buf):
        def fn(x):
            buf.copy_(x)
            return y.copy_(buf)
        return fn

    def logarithmic(x):
        torch.abs(x, out=y)
        return y.log2_().floor_().exp2_().copysign_(x)

    def binary(x):
        torch.ge(x, 0, out=b)
        return torch.where(b, one, mone, out=y)

    def ternary(t):
        def fn(x):
            tt = t if t is not None else \
                0.7 * float(torch.linalg.vector_norm(x, 1)) / n
            y.zero_()
            torch.gt(x, tt, out=b)
            y.masked_fill_(b, 1.0)
            torch.lt(x, -tt, out=b)
            return y.masked_fill_(b, -1.0)
        return fn

    def sparse(x):
        torch.abs(x, out=y)
        torch.lt(y, 0.1, out=b)
        return y.copy_(x).masked_fill_(b, 0.0)

    fx = "mul(x, s, out=y); y.%s_().clamp_(lo, hi).div_(s)"
    tern = ("y.zero_(); gt(x, T, out=b); y.masked_fill_(b, 1); "
            "lt(x, -T, out=b); y.masked_fill_(b, -1)")
    return {
        "even": (fx % "round", fixed(lambda v: v.round_())),
        "nearest": ("abs(x, out=y); y.mul_(s).add_(0.5).floor_()"
                    ".copysign_(x).clamp_(lo, hi).div_(s)", nearest),
        "down": (fx % "floor", fixed(lambda v: v.floor_())),
        "zero": (fx % "trunc", fixed(lambda v: v.trunc_())),
        "stochastic": ("rand(n, out=y); y.add_(x, alpha=s).floor_()"
                       ".clamp_(lo, hi).div_(s)", stochastic),
        "fp16": ("h.copy_(x); y.copy_(h)   (h: float16 buffer)", via(h)),
        "bf16": ("h.copy_(x); y.copy_(h)   (h: bfloat16 buffer)", via(hb)),
        "logarithmic": ("abs(x, out=y); y.log2_().floor_().exp2_()"
                        ".copysign_(x)", logarithmic),
        "binary": ("ge(x, 0, out=b); where(b, 1, -1, out=y)", binary),
        "ternary": ("T = 0.7*vector_norm(x, 1)/n; " + tern, ternary(None)),
        "ternary,T": (tern.replace("T", "0.5"), ternary(0.5)),
        "sparse": ("abs(x, out=y); lt(y, 0.1, out=b); "
                   "y.copy_(x).masked_fill_(b, 0)", sparse),
    }


def time_torch(fn, x, repeat, stat):
    """Seconds for one call of fn(x): a warm-up call, then the best or
    median of `repeat` timed calls. time.perf_counter is monotonic."""
    y = fn(x)
    del y
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        y = fn(x)
        t1 = time.perf_counter()
        del y
        times.append(t1 - t0)
    return min(times) if stat == "best" else statistics.median(times)


def run_tq(tq, size, threads, repeat, stat):
    """{spec: row} from `tq bench quantizers --json` at one thread count."""
    cmd = [tq, "bench", "quantizers", "--json", "--size", str(size),
           "--threads", str(threads), "--repeat", str(repeat),
           "--stat", stat]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
    return {row["spec"]: row for row in json.loads(res.stdout)}


def parse_args():
    p = argparse.ArgumentParser(
        description="Quantizer throughput of tq against PyTorch element-wise "
                    "formulations, in GB/s of (read + write) tensor bytes.",
        epilog="example: /usr/bin/python3 bench/torch_quantizers.py "
               "--tq build/tq --size 64 --repeat 5")
    p.add_argument("--size", type=float, default=64.0,
                   help="tensor size in MiB (default 64)")
    p.add_argument("--threads", type=int, action="append",
                   help="thread count; repeatable (default: 1 and 2)")
    p.add_argument("--repeat", type=int, default=5,
                   help="timed runs after one warm-up (default 5)")
    p.add_argument("--stat", choices=("best", "median"), default="best",
                   help="which timed run counts (default best)")
    p.add_argument("--tq", default="build/tq",
                   help="path to the tq binary (default build/tq)")
    p.add_argument("--no-tq", action="store_true",
                   help="time torch only")
    args = p.parse_args()
    if args.size <= 0 or args.repeat < 1:
        p.error("--size must be positive and --repeat at least 1")
    if args.threads and min(args.threads) < 1:
        p.error("--threads must be at least 1")
    return args


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        print("torch not available for %s (apt install python3-torch)"
              % sys.executable)
        return 0
    if not args.no_tq and not os.access(args.tq, os.X_OK):
        print("%s: tq binary '%s' not found or not executable (build it, or "
              "pass --tq PATH or --no-tq)" % (sys.argv[0], args.tq),
              file=sys.stderr)
        return 1
    threads_list = args.threads or [1, 2]
    n = int(args.size * 1048576 / 4)
    nbytes = 2 * 4 * n  # read + write

    # Normal values with standard deviation 6, as tq's bench tensor: many
    # beyond the +-8 of the 8,4 fixed-point range, most spread over its steps.
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, generator=gen, dtype=torch.float32) * 6.0
    forms = formulations(torch)
    tuned = tuned_formulations(torch, x)

    # (name, spec, threads, tq row or None, torch GB/s, tuned GB/s or None)
    results = []
    for threads in threads_list:
        tq_rows = {}
        if not args.no_tq:
            try:
                tq_rows = run_tq(args.tq, args.size, threads, args.repeat,
                                 args.stat)
            except (subprocess.CalledProcessError, OSError,
                    ValueError) as e:
                print("%s: running tq failed: %s" % (sys.argv[0], e),
                      file=sys.stderr)
                return 1
        torch.set_num_threads(threads)
        for name, spec, _, fn in forms:
            if sys.stderr.isatty():
                print("\rtorch: %-14s %d thread(s)   " % (name, threads),
                      end="", file=sys.stderr, flush=True)
            sec = time_torch(fn, x, args.repeat, args.stat)
            tuned_gbps = None
            if name in tuned:
                tsec = time_torch(tuned[name][1], x, args.repeat, args.stat)
                tuned_gbps = nbytes / tsec / 1e9
            results.append((name, spec, threads, tq_rows.get(spec),
                            nbytes / sec / 1e9, tuned_gbps))
        if sys.stderr.isatty():
            print("\r%-50s\r" % "", end="", file=sys.stderr, flush=True)

    print("tq vs torch %s quantizers: %g MiB float32 (%d elements), %s of "
          "%d runs after a warm-up" % (torch.__version__, args.size, n,
                                       args.stat, args.repeat))
    print("GB/s = (bytes read + written) / time / 1e9 on both sides; "
          "speed-up = tq GB/s / torch GB/s;")
    print("torch = expressions as users write them (new tensors); "
          "torch out= = in-place on a")
    print("preallocated buffer; copy = tq's plain parallel copy loop, the "
          "memory-speed ceiling")
    if not hasattr(torch, "float8_e4m3fn"):
        print("(this torch has no float8 dtypes: fp8 rows left out)")
    print()
    print("mapping (s = 2^%d, lo = %d, hi = %d; clamping as tq's sat):"
          % (FRAC, QLO, QHI))
    wname = max(len(f[0]) for f in forms)
    wspec = max(len(f[1]) for f in forms)
    for name, spec, text, _ in forms:
        print("  %-*s  %-*s  %s" % (wname, name, wspec, spec, text))
        if name in tuned:
            print("  %-*s  %-*s  out=: %s" % (wname, "", wspec, "",
                                              tuned[name][0]))
    print()
    print("%-*s  %-*s  %7s  %7s  %6s  %8s  %6s  %8s  %6s"
          % (wname, "torch", wspec, "tq spec", "threads", "tq GB/s",
             "torch", "speed-up", "out=", "speed-up", "copy"))

    def ratio(a, b):
        return "%.2fx" % (a / b) if a is not None and b else "n/a"

    for name, spec, threads, tq_row, torch_gbps, tuned_gbps in results:
        tq_gbps = tq_row["gbps"] if tq_row else None
        print("%-*s  %-*s  %7d  %7s  %6.2f  %8s  %6s  %8s  %6s"
              % (wname, name, wspec, spec, threads,
                 "%.2f" % tq_gbps if tq_row else "n/a", torch_gbps,
                 ratio(tq_gbps, torch_gbps),
                 "%.2f" % tuned_gbps if tuned_gbps else "n/a",
                 ratio(tq_gbps, tuned_gbps),
                 "%.2f" % tq_row["copy_gbps"] if tq_row else "n/a"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
