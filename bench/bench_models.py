"""Model inference benchmark: tq against ONNX Runtime and PyTorch, same run.

For each model and batch size: median latency and images/s of
  - tq (float), tq with --fast-conv (Winograd F(4x4, 3x3)), tq with
    --extr/--weights quantization,
  - ONNX Runtime (PyPI onnxruntime, CPU provider, all graph optimizations),
  - PyTorch (Debian python3-torch, eval mode, no_grad),
each at the same thread count, each in its own process so that peak RSS is
its own. Prints a table with ratios against tq float.

  .venv/bin/python bench/bench_models.py --tq build/tq [--threads 2]
      [--batch 1 16] [--models resnet18] [--repeat 20] [--rounds 3]

Every engine runs --rounds times, interleaved, and the median counts.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SNIPPET = r"""
import json, sys, time
import numpy as np
engine, path, name, batch, threads, repeat = sys.argv[1:7]
batch, threads, repeat = int(batch), int(threads), int(repeat)
shape = (batch, 3, 224, 224) if name != "tiny_cnn" else (batch, 1, 28, 28)
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
if engine == "ort":
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    run = lambda: s.run(None, {"input": x})
else:
    import torch
    sys.path.insert(0, sys.argv[7])
    from model_check import make_model
    torch.set_num_threads(threads)
    m, _ = make_model(name)
    t = torch.from_numpy(x)
    def run():
        with torch.no_grad():
            return m(t)
for _ in range(3):
    run()
ts = []
for _ in range(repeat):
    t0 = time.perf_counter(); run(); ts.append(time.perf_counter() - t0)
ts.sort()
med = ts[len(ts) // 2]
# VmHWM: ru_maxrss would include the parent's peak (kept across exec).
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"latency_median_s": med, "images_per_s": batch / med,
                  "peak_rss_bytes": int(hwm.split()[1]) * 1024}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tq", default="build/tq")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--models", nargs="+", default=["resnet18"])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of every engine, interleaved; the median counts")
    ap.add_argument("--spec", default="nearest,8,4")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    tests_py = os.path.join(here, "..", "tests", "python")
    sys.path.insert(0, tests_py)
    from model_check import make_model, export
    work = tempfile.mkdtemp(prefix="tq-bench-")
    rows = []
    for name in args.models:
        model, shape = make_model(name)
        path = os.path.join(work, name + ".onnx")
        export(model, shape, path, 13)
        for batch in args.batch:
            def tq(extra):
                out = subprocess.run([args.tq, "bench", path, "--batch", str(batch),
                                      "--threads", str(args.threads), "--repeat",
                                      str(args.repeat), "--json", *extra],
                                     capture_output=True, text=True, check=True)
                return json.loads(out.stdout)
            def other(engine):
                out = subprocess.run([sys.executable, "-c", SNIPPET, engine, path, name,
                                      str(batch), str(args.threads), str(args.repeat),
                                      tests_py], capture_output=True, text=True, check=True)
                return json.loads(out.stdout.strip().splitlines()[-1])
            engines = (("tq float", lambda: tq([])),
                       ("tq --fast-conv", lambda: tq(["--fast-conv"])),
                       ("tq extr+weights", lambda: tq(["--extr", args.spec,
                                                       "--weights", args.spec])),
                       ("ONNX Runtime", lambda: other("ort")),
                       ("PyTorch", lambda: other("torch")))
            # Interleaved rounds: a machine whose speed drifts (a VM with
            # busy neighbours) slows every engine alike.
            runs = {key: [] for key, _ in engines}
            for _ in range(args.rounds):
                for key, fn in engines:
                    runs[key].append(fn())
            res = {}
            for key, rs in runs.items():
                rs.sort(key=lambda r: r["latency_median_s"])
                res[key] = dict(rs[len(rs) // 2])
                res[key]["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in rs)
            base = res["tq float"]["latency_median_s"]
            for key, r in res.items():
                rows.append((name, batch, key, r["latency_median_s"] * 1e3,
                             r["images_per_s"], r["latency_median_s"] / base,
                             r["peak_rss_bytes"] / 2**20))
    version = subprocess.run([args.tq, "--version"], capture_output=True,
                             text=True).stdout.strip()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    print(version)
    print("OPENBLAS_CORETYPE=%s (set in the environment: OpenBLAS, and PyTorch's "
          "BLAS, use that core)" % forced if forced else
          "OPENBLAS_CORETYPE not set: OpenBLAS picked its core from CPUID")
    print(f"threads = {args.threads}, median of {args.repeat} runs after warm-up, "
          f"median of {args.rounds} interleaved rounds; "
          f"'time / tq' > 1 means slower than tq float")
    print(f"{'model':12s}{'batch':>6s}  {'engine':18s}{'ms':>10s}{'img/s':>10s}"
          f"{'time / tq':>11s}{'peak MiB':>10s}")
    for r in rows:
        print(f"{r[0]:12s}{r[1]:>6d}  {r[2]:18s}{r[3]:>10.2f}{r[4]:>10.1f}"
              f"{r[5]:>11.2f}{r[6]:>10.0f}")


if __name__ == "__main__":
    main()
