#!/usr/bin/python3
"""Training throughput: `tq train` against PyTorch, LeNet on Fashion-MNIST.

Both engines train the zoo's LeNet (tq's `--model lenet`; here the same
network as a torch.nn.Module, input normalization included) with softmax
cross-entropy, Adam at a constant lr of 1e-3, batch 64, on the first
--samples training images of Fashion-MNIST (default 12800), at the same
thread count (default 2), for --epochs epochs (default 1), in the same
run. --rounds R repeats tq-then-PyTorch R times (default 1), from fresh
weights each time.

  - tq: `tq train --model lenet --data DIR --limit N --val-fraction 0
    --epochs E --schedule constant --json --quiet --threads T`; its
    images_per_s per epoch (the epoch loop: batch gathering, forward,
    backward and update; not data loading, validation or checkpoints).
  - PyTorch: the images as one float tensor in memory, a shuffled index per
    epoch, index_select for each batch, no DataLoader; timed the same way
    (the epoch loop only), torch.set_num_threads(T).

Both drop the last partial batch, so an epoch is N // 64 steps of 64
images. With several epochs or rounds the best epoch counts (the least
disturbed one on a shared machine). The table gives images/s, the time a
full 60000-image epoch would take at that rate, and tq's images/s over
PyTorch's (> 1: tq is faster). Loss and training accuracy of the last epoch
are shown as a sanity check that both train the same network; the initial
weights have the same distribution (He-uniform, zero biases), not the same
values.

Run with Debian's interpreter, which sees Debian's python3-torch (or the
project venv, which sees it too):

    /usr/bin/python3 bench/bench_train.py --tq build/tq
    /usr/bin/python3 bench/bench_train.py --rounds 3 --json

See bench/README.md.
"""

import argparse
import gzip
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

MEAN, STD = 0.2860, 0.3530  # src/models/zoo.c: FMNIST_MEAN, FMNIST_STD
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
EPOCH_IMAGES = 60000


def read_idx(path):
    """An IDX file (optionally gzip-compressed) as a numpy array: the
    unsigned-byte type only, which is what Fashion-MNIST uses."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_idx(directory, base):
    for name in (base, base + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{directory} has neither {base} nor {base}.gz")


def load_train(directory, n):
    x = read_idx(find_idx(directory, "train-images-idx3-ubyte"))[:n]
    y = read_idx(find_idx(directory, "train-labels-idx1-ubyte"))[:n]
    return x, y


def make_lenet(torch):
    nn = torch.nn

    class LeNet(nn.Module):
        """The zoo's LeNet (src/models/zoo.c build_lenet): (x - 0.2860) *
        (1 / 0.3530), Conv 20@5x5 pad 2 + ReLU, MaxPool 2, Conv 50@5x5 pad 2
        + ReLU, MaxPool 2, Flatten, Dense 2450 -> 500 + ReLU, Dense 500 ->
        10. The final Softmax is folded into the loss (cross_entropy on the
        logits), as tq train does."""

        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor([MEAN], dtype=torch.float32))
            self.register_buffer("inv_std",
                                 torch.tensor([1.0 / STD], dtype=torch.float32))
            self.conv1 = nn.Conv2d(1, 20, 5, padding=2)
            self.conv2 = nn.Conv2d(20, 50, 5, padding=2)
            self.dense3 = nn.Linear(50 * 7 * 7, 500)
            self.dense4 = nn.Linear(500, 10)
            # The zoo's initialization: uniform in +-sqrt(6 / fan_in) (ReLU
            # layers) or +-sqrt(3 / fan_in) (the last layer), zero biases.
            with torch.no_grad():
                for layer, gain in ((self.conv1, 6.0), (self.conv2, 6.0),
                                    (self.dense3, 6.0), (self.dense4, 3.0)):
                    fan_in = layer.weight[0].numel()
                    bound = math.sqrt(gain / fan_in)
                    layer.weight.uniform_(-bound, bound)
                    layer.bias.zero_()

        def forward(self, x):
            f = torch.nn.functional
            x = (x - self.mean) * self.inv_std
            x = f.max_pool2d(f.relu(self.conv1(x)), 2)
            x = f.max_pool2d(f.relu(self.conv2(x)), 2)
            x = f.relu(self.dense3(torch.flatten(x, 1)))
            return self.dense4(x)

    return LeNet()


def run_torch(torch, images, labels, batch, epochs, lr, threads, seed):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    f = torch.nn.functional
    x_all = torch.from_numpy(images.astype(np.float32) / np.float32(255.0))
    x_all = x_all.unsqueeze(1).contiguous()  # [N, 1, 28, 28]
    y_all = torch.from_numpy(labels.astype(np.int64))
    model = make_lenet(torch)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = x_all.shape[0]
    steps = n // batch
    rows = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for s in range(steps):
            idx = perm[s * batch:(s + 1) * batch]
            xb = x_all.index_select(0, idx)
            yb = y_all.index_select(0, idx)
            logits = model(xb)
            loss = f.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach().double()
            correct += (logits.detach().argmax(1) == yb).sum()
        seconds = time.perf_counter() - t0
        count = steps * batch
        rows.append({"epoch": epoch + 1, "seconds": seconds,
                     "images_per_s": count / seconds,
                     "loss": float(loss_sum) / steps,
                     "train_top1": int(correct) / count})
    return rows


def run_tq(tq, data_dir, samples, batch, epochs, lr, threads, seed):
    with tempfile.TemporaryDirectory(prefix="tq-bench-train-") as work:
        out = os.path.join(work, "lenet.onnx")
        cmd = [tq, "train", "--model", "lenet", "--data", data_dir,
               "--limit", str(samples), "--val-fraction", "0",
               "--epochs", str(epochs), "--batch", str(batch),
               "--optimizer", "adam", "--lr", repr(lr),
               "--schedule", "constant", "--seed", str(seed),
               "--threads", str(threads), "--json", "--quiet", "-o", out]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"bench_train: {' '.join(cmd)} failed "
                     f"(status {res.returncode}):\n{res.stderr}")
    rows = []
    for line in res.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows.append({k: r[k] for k in ("epoch", "seconds", "images_per_s",
                                           "loss", "train_top1")})
    if len(rows) != epochs:
        sys.exit(f"bench_train: expected {epochs} JSON epoch lines from tq "
                 f"train, got {len(rows)}:\n{res.stdout}")
    return rows, cmd


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(
        description="LeNet training throughput: tq train against PyTorch")
    ap.add_argument("--tq", default="build/tq", help="the tq binary")
    ap.add_argument("--data-dir", default=None,
                    help="Fashion-MNIST IDX directory (default "
                         "$TQ_FASHION_MNIST_DIR or " + DEFAULT_DIR + ")")
    ap.add_argument("--samples", type=int, default=12800,
                    help="train on the first N training images (default 12800)")
    ap.add_argument("--epochs", type=int, default=1,
                    help="epochs per engine; the best one counts (default 1)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds of tq then PyTorch; the best epoch of all "
                         "rounds counts (default 1)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true",
                    help="print one JSON object instead of the table")
    args = ap.parse_args()
    if args.samples < args.batch:
        ap.error("--samples must be at least one batch")
    if args.epochs < 1 or args.rounds < 1:
        ap.error("--epochs and --rounds must be at least 1")
    try:
        import torch
    except ImportError:
        print(f"torch not available for {sys.executable} "
              "(apt install python3-torch)")
        return 0
    data_dir = (args.data_dir or os.environ.get("TQ_FASHION_MNIST_DIR")
                or DEFAULT_DIR)
    images, labels = load_train(data_dir, args.samples)
    if images.shape[0] < args.samples:
        sys.exit(f"bench_train: {data_dir} has only {images.shape[0]} "
                 f"training images")

    # Rounds alternate the engines, so that both see the same load on a
    # shared machine; every round starts from fresh weights.
    load_before = os.getloadavg()
    tq_rows, torch_rows = [], []
    for rnd in range(args.rounds):
        rows, tq_cmd = run_tq(args.tq, data_dir, args.samples, args.batch,
                              args.epochs, args.lr, args.threads, args.seed)
        tq_rows += [dict(r, round=rnd + 1) for r in rows]
        rows = run_torch(torch, images, labels, args.batch, args.epochs,
                         args.lr, args.threads, args.seed)
        torch_rows += [dict(r, round=rnd + 1) for r in rows]
    load_after = os.getloadavg()

    def summary(engine, rows):
        best = max(rows, key=lambda r: r["images_per_s"])
        return {"engine": engine, "images_per_s": best["images_per_s"],
                "seconds_per_60000": EPOCH_IMAGES / best["images_per_s"],
                "loss": rows[-1]["loss"], "train_top1": rows[-1]["train_top1"],
                "epochs": rows}

    results = [summary("tq", tq_rows), summary("PyTorch", torch_rows)]
    ref = results[1]["images_per_s"]
    for r in results:
        r["ratio_tq_over_pytorch"] = (results[0]["images_per_s"] / ref
                                      if r["engine"] == "tq" else 1.0)
    meta = {"model": "lenet", "data": data_dir, "samples": args.samples,
            "steps_per_epoch": args.samples // args.batch,
            "batch": args.batch, "optimizer": "adam", "lr": args.lr,
            "threads": args.threads, "epochs": args.epochs,
            "rounds": args.rounds,
            "loadavg_1min_before_after": [load_before[0], load_after[0]],
            "torch_version": torch.__version__, "cpu": cpu_name(),
            "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
            "tq_command": " ".join(tq_cmd)}
    if args.json:
        print(json.dumps({**meta, "results": results}, indent=1))
        return 0
    print(f"LeNet training on the first {args.samples} Fashion-MNIST "
          f"training images ({meta['steps_per_epoch']} steps of "
          f"{args.batch}), Adam lr {args.lr:g}, {args.threads} threads, "
          f"best of {args.rounds} x {args.epochs} epoch(s)")
    print(f"torch {torch.__version__}, {meta['cpu']}, {meta['cpus']} CPUs, "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} "
          f"after")
    print(f"{'engine':10s}{'images/s':>10s}{'s / 60000':>11s}{'tq/PyTorch':>12s}"
          f"{'loss':>9s}{'train acc':>11s}")
    for r in results:
        print(f"{r['engine']:10s}{r['images_per_s']:>10.1f}"
              f"{r['seconds_per_60000']:>11.1f}{r['ratio_tq_over_pytorch']:>12.2f}"
              f"{r['loss']:>9.4f}{100 * r['train_top1']:>10.2f}%")
    print("tq/PyTorch = tq images/s over PyTorch images/s (> 1: tq is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
