#!/usr/bin/env python3
"""What a sensitivity sweep costs against K independent `tq eval` runs.

For LeNet (the bundled model, Fashion-MNIST) and ResNet-18 (torchvision,
random weights, random 3x224x224 inputs as an NPY pair), for --what extr and
--what weights: runs `tq sensitivity` over every layer with one spec, then
the K evaluations it stands for as K separate `tq eval` processes (the
baseline: what a user scripting the loop would run), then the same sweep
with --no-reuse (one process, shared decoding, no prefix reuse). Checks
that every row equals its tq eval, and prints a table with the ratios.

  /usr/bin/python3 bench/bench_sweep.py [--tq build/tq] [--threads 2]
      [--lenet-samples 2000] [--resnet-samples 32]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def run(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, out


def bench(tq, model, data, n, what, spec, threads, batch, label):
    common = ["--data", data, "--limit", str(n), "--threads", str(threads),
              "--batch", str(batch), "-q"]
    t_sweep, out = run([tq, "sensitivity", model, "--what", what,
                        "--specs", spec, "--json"] + common)
    doc = json.loads(out)
    rows = doc["results"]
    t_noreuse, out2 = run([tq, "sensitivity", model, "--what", what, "--specs",
                           spec, "--json", "--no-reuse"] + common)
    assert json.loads(out2)["results"] == rows, "--no-reuse changed results"
    flag = {"extr": "--extr", "weights": "--weights", "intr": "--intr"}[what]
    t_indep = 0.0
    for r in rows:
        key = "re:^" + "".join("\\" + c if c in ".[]()*+?{}|^$\\" else c
                               for c in r["layers"]) + "$"
        t, out = run([tq, "eval", model, flag, json.dumps({key: spec}),
                      "--json"] + common)
        t_indep += t
        e = json.loads(out)
        assert e["loss"] == r["loss"] and e["top1"] == r["top1"], (r, e)
    return {"model": label, "what": what, "K": len(rows), "n": n,
            "indep": t_indep, "sweep": t_sweep, "noreuse": t_noreuse}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tq", default="build/tq")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lenet-samples", type=int, default=2000)
    ap.add_argument("--resnet-samples", type=int, default=32)
    ap.add_argument("--skip-resnet", action="store_true")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..")
    rows = []
    lenet = os.path.join(root, "models", "lenet-fashion-mnist.onnx")
    for what in ("extr", "weights"):
        rows.append(bench(args.tq, lenet, "fashion-mnist", args.lenet_samples,
                          what, "nearest,8,4", args.threads, 256, "LeNet"))
    if not args.skip_resnet:
        sys.path.insert(0, os.path.join(root, "tests", "python"))
        from model_check import make_model, export
        work = tempfile.mkdtemp(prefix="tq-bench-sweep-")
        model, shape = make_model("resnet18")
        path = os.path.join(work, "resnet18.onnx")
        export(model, shape, path, 13)
        rng = np.random.default_rng(0)
        n = args.resnet_samples
        x = rng.standard_normal((n, 3, 224, 224), dtype=np.float32)
        y = rng.integers(0, 1000, size=n).astype(np.int64)
        y[0] = 999  # the dataset's classes: the model's 1000
        np.save(os.path.join(work, "x.npy"), x)
        np.save(os.path.join(work, "y.npy"), y)
        data = os.path.join(work, "x.npy") + "," + os.path.join(work, "y.npy")
        for what in ("weights", "extr"):
            rows.append(bench(args.tq, path, data, n, what, "nearest,8,4",
                              args.threads, 16, "ResNet-18"))
    print(f"{'model':<10} {'what':<8} {'K':>3} {'samples':>7} "
          f"{'K x tq eval':>12} {'sensitivity':>12} {'ratio':>6} "
          f"{'--no-reuse':>11} {'ratio':>6}")
    for r in rows:
        print(f"{r['model']:<10} {r['what']:<8} {r['K']:>3} {r['n']:>7} "
              f"{r['indep']:>11.1f}s {r['sweep']:>11.1f}s "
              f"{r['sweep'] / r['indep']:>6.2f} {r['noreuse']:>10.1f}s "
              f"{r['noreuse'] / r['indep']:>6.2f}")
    print("(every sensitivity row was checked equal to its tq eval; ratios < 1"
          " are savings)")


if __name__ == "__main__":
    main()
