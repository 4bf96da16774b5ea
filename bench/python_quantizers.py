"""Speed of the Python package against the tool and PyTorch, in one run.

  PYTHONPATH=build/python:python .venv/bin/python bench/python_quantizers.py \
      --tq build/tq [--size 64] [--threads 2] [--repeat 5] [--rounds 3] [--model]

1. tq.quantize on a --size MiB float32 array against `tq bench quantizers`
   (same specs, size, threads, repeats, best time): GB/s = 2 * 4 bytes per
   element / time / 1e9 on both sides. Target: >= 0.9x the tool.
2. The same quantizers as PyTorch tensor expressions
   (bench/torch_quantizers.py's formulations), same array, same threads.
   Target: >= 10x.
3. Call overhead: tq.quantize on a 1 KiB array (256 floats) with out=,
   the mean over many calls. Target: <= 5 us.
4. With --model: Model.run on ResNet-18 at batch 16 against `tq bench`'s
   median latency on the same ONNX file and thread count. Target: <= 2 %
   more.

Rounds interleave the two sides so that both see the same state of a
shared machine; the median of the per-round ratios counts.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))

import tensorquant as tq  # noqa: E402


def best_time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def gbps(n, seconds):
    return 2 * 4 * n / seconds / 1e9


def tool_quantizers(args):
    out = subprocess.run([args.tq, "bench", "quantizers", "--json", "--quiet",
                          "--size", str(args.size), "--threads", str(args.threads),
                          "--repeat", str(args.repeat)],
                         check=True, capture_output=True, text=True).stdout
    return {r["spec"]: r["gbps"] for r in json.loads(out)}


def python_quantizers(args, specs, x, y):
    return {s: gbps(x.size, best_time(lambda s=s: tq.quantize(
        x, s, seed=1, out=y, threads=args.threads), args.repeat)) for s in specs}


def torch_quantizers(args, x):
    try:
        import torch
        from torch_quantizers import formulations
    except ImportError:
        return {}
    torch.set_num_threads(args.threads)
    t = torch.from_numpy(x)
    return {spec: gbps(x.size, best_time(lambda f=f: f(t), args.repeat))
            for _, spec, _, f in formulations(torch)}


def overhead_us(calls=200_000):
    x = np.random.default_rng(0).standard_normal(256).astype(np.float32)
    y = np.empty_like(x)
    for _ in range(1000):
        tq.quantize(x, "nearest,8,4", out=y)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls // 5):
            tq.quantize(x, "nearest,8,4", out=y)
        runs.append((time.perf_counter() - t0) / (calls // 5) * 1e6)
    return min(runs), statistics.median(runs)


def model_rounds(args):
    import torch  # noqa: F401  (the export needs it)
    from model_check import export, make_model
    work = tempfile.mkdtemp(prefix="tq-pybench-")
    path = os.path.join(work, "resnet18.onnx")
    m, _ = make_model("resnet18")
    export(m, (2, 3, 224, 224), path, 13)
    x = np.random.default_rng(0).standard_normal((16, 3, 224, 224)).astype(np.float32)
    model = tq.Model(path, threads=args.threads)
    ratios = []
    for r in range(args.rounds):
        tool = json.loads(subprocess.run(
            [args.tq, "bench", path, "--batch", "16", "--threads", str(args.threads),
             "--repeat", str(args.model_repeat), "--json"],
            check=True, capture_output=True, text=True).stdout)
        for _ in range(2):
            model.run(x)
        ts = []
        for _ in range(args.model_repeat):
            t0 = time.perf_counter()
            model.run(x)
            ts.append(time.perf_counter() - t0)
        py = statistics.median(ts)
        ratios.append(py / tool["latency_median_s"])
        print(f"  round {r + 1}: tq bench {1e3 * tool['latency_median_s']:.1f} ms, "
              f"Model.run {1e3 * py:.1f} ms, ratio {ratios[-1]:.3f}", flush=True)
    model.close()
    return statistics.median(ratios)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tq", default="build/tq")
    ap.add_argument("--size", type=float, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", action="store_true", help="also ResNet-18 at batch 16")
    ap.add_argument("--model-repeat", type=int, default=10)
    args = ap.parse_args()
    n = int(args.size * (1 << 20) / 4)
    x = (np.random.default_rng(1).standard_normal(n) * 6).astype(np.float32)
    y = np.zeros_like(x)
    print(f"tensorquant {tq.__version__}, kernels {tq.kernel_isa()}, {args.size:g} MiB, "
          f"{args.threads} threads, best of {args.repeat}, {args.rounds} rounds")
    vs_tool, vs_torch = {}, {}
    for r in range(args.rounds):
        tool = tool_quantizers(args)
        py = python_quantizers(args, list(tool), x, y)
        torch_gbps = torch_quantizers(args, x)
        for s in tool:
            vs_tool.setdefault(s, []).append(py[s] / tool[s])
            if s in torch_gbps:
                vs_torch.setdefault(s, []).append(py[s] / torch_gbps[s])
        print(f"  round {r + 1} done", flush=True)
    print(f"\n{'spec':32s} {'python/tool':>11s} {'python/torch':>12s}")
    for s in vs_tool:
        t = f"{statistics.median(vs_torch[s]):12.1f}" if s in vs_torch else f"{'-':>12s}"
        print(f"{s:32s} {statistics.median(vs_tool[s]):11.3f} {t}")
    lo = min(statistics.median(v) for v in vs_tool.values())
    print(f"\nlowest python/tool ratio: {lo:.3f} (target >= 0.9)")
    best, med = overhead_us()
    print(f"call overhead, 1 KiB with out=: best {best:.2f} us, median {med:.2f} us "
          f"(target <= 5 us)")
    if args.model:
        ratio = model_rounds(args)
        print(f"Model.run / tq bench, ResNet-18 batch 16: {ratio:.3f} (target <= 1.02)")


if __name__ == "__main__":
    main()
