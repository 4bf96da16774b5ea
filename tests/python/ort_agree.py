"""Checks that ONNX Runtime and tq agree on a trained Fashion-MNIST model.

  ort_agree.py MODEL.onnx PRED_SOURCE... [--limit N] [--threshold T]

Runs ONNX Runtime (CPU provider) on the Fashion-MNIST test images (pixels
/ 255 as float32, [N, 1, 28, 28]; the first --limit of them, default all
10000) and compares the argmax of its output with that of each
PRED_SOURCE:

  - a tq executable: runs `TQ run MODEL.onnx -i X.npy -o Y.npy` (plus
    --tq-args) on the same images;
  - an existing .npy file: outputs computed elsewhere, [N, classes].

Prints, for each source, the fraction of identical argmax predictions,
the accuracy of ONNX Runtime and of the source against the labels, and
the largest absolute output difference. Exit status 1 when the agreement
of any source is below --threshold (default 0.999), 2 on bad arguments or
a failed tq run.

The images come from --data-dir, else $TQ_FASHION_MNIST_DIR, else
/usr/share/datasets/fashion-mnist (IDX files, optionally .gz). Needs numpy
and onnxruntime (the project venv, scripts/setup-venv.sh).
"""
import argparse
import gzip
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An unsigned-byte IDX file (optionally gzip-compressed) as an array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_test(directory, limit):
    def find(base):
        for name in (base, base + ".gz"):
            p = os.path.join(directory, name)
            if os.path.isfile(p):
                return p
        raise FileNotFoundError(f"{directory} has neither {base} nor {base}.gz")
    x = read_idx(find("t10k-images-idx3-ubyte"))
    y = read_idx(find("t10k-labels-idx1-ubyte"))
    if limit:
        x, y = x[:limit], y[:limit]
    x = (x.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    return np.ascontiguousarray(x), y.astype(np.int64)


def run_ort(model, x, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x[i:i + 1000]})[0]
            for i in range(0, x.shape[0], 1000)]
    return np.concatenate(outs)


def run_tq(tq, model, x_path, work, extra):
    out = os.path.join(work, "tq_out.npy")
    cmd = [tq, "run", model, "-i", x_path, "-o", out, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"ort_agree: {' '.join(cmd)} failed (status {r.returncode}):\n"
              f"{r.stderr}", file=sys.stderr)
        sys.exit(2)
    return np.load(out)


def main():
    ap = argparse.ArgumentParser(
        description="argmax agreement of ONNX Runtime and tq on Fashion-MNIST")
    ap.add_argument("model", help="the trained model (.onnx)")
    ap.add_argument("sources", nargs="+", metavar="PRED_SOURCE",
                    help="a tq executable (runs `tq run`) or an outputs .npy")
    ap.add_argument("--limit", type=int, default=0,
                    help="the first N test images (default: all)")
    ap.add_argument("--threshold", type=float, default=0.999,
                    help="least fraction of identical predictions (0.999)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--threads", type=int, default=2,
                    help="ONNX Runtime threads (default 2)")
    ap.add_argument("--tq-args", default="--batch 500",
                    help="extra arguments of tq run (default '--batch 500')")
    args = ap.parse_args()
    if args.limit < 0:
        ap.error("--limit must be >= 0")
    data_dir = (args.data_dir or os.environ.get("TQ_FASHION_MNIST_DIR")
                or DEFAULT_DIR)
    x, y = load_test(data_dir, args.limit)
    n = x.shape[0]
    ref = run_ort(args.model, x, args.threads)
    ref_pred = ref.argmax(1)
    ort_acc = float((ref_pred == y).mean())
    failed = 0
    with tempfile.TemporaryDirectory(prefix="tq-ort-agree-") as work:
        x_path = os.path.join(work, "x.npy")
        np.save(x_path, x)
        for src in args.sources:
            if src.endswith(".npy"):
                got = np.load(src)
            elif os.path.isfile(src) and os.access(src, os.X_OK):
                got = run_tq(src, args.model, x_path, work,
                             shlex.split(args.tq_args))
            else:
                print(f"ort_agree: {src} is neither an executable nor a .npy "
                      f"file", file=sys.stderr)
                sys.exit(2)
            if got.shape != ref.shape:
                print(f"{src}: output shape {got.shape}, ONNX Runtime "
                      f"{ref.shape}  FAIL")
                failed += 1
                continue
            pred = got.argmax(1)
            agree = float((pred == ref_pred).mean())
            acc = float((pred == y).mean())
            diff = float(np.abs(got.astype(np.float64) - ref).max())
            ok = agree >= args.threshold
            print(f"{os.path.basename(args.model)} on {n} test images: "
                  f"agreement {100 * agree:.2f}% "
                  f"({int((pred != ref_pred).sum())} differ; threshold "
                  f"{100 * args.threshold:.2f}%), accuracy ORT "
                  f"{100 * ort_acc:.2f}%, {os.path.basename(src)} "
                  f"{100 * acc:.2f}%, max |diff| {diff:.3g}  "
                  f"{'ok' if ok else 'FAIL'}")
            failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
