"""The seed's LeNet in PyTorch, trained on Fashion-MNIST under the seed's
quantizer maps with tensorquant.torch.apply_map, against `tq train` with
the same maps.

TensorQuant's README example: activations of Conv1 as nearest,12,11 and
the weights of Conv1 and Dense3 as nearest,32,16. The PyTorch network
names its modules as the bundled model names its layers
(Convolution_Block.Conv1, ...), so the same map keys select the same
layers; Fashion-MNIST comes from the C library (tq.Dataset), scaled to
[0, 1] and normalized inside the network as in the zoo's LeNet. Training:
Adam, learning rate 1e-3, batch 64, 5,000 training images held out, the
last incomplete batch dropped, as `tq train`'s defaults. The test accuracy
is measured under the maps (the hooks stay on).

    .venv/bin/python examples/python/train_lenet.py [--epochs 1]
        [--maps seed|fixed8|none] [--limit N] [--threads 2] [--tq build/tq]

With --tq, the same maps go to `tq train --model lenet` and `tq eval`,
and both test accuracies are printed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

import tensorquant as tq
import tensorquant.torch as tqt

MAPS = {
    "seed": {"extrinsic": {"Conv1": "nearest,12,11"},
             "weights": {"Conv1": "nearest,32,16", "Dense3": "nearest,32,16"}},
    "fixed8": {"extrinsic": {"": "nearest,8,4"}, "weights": {"": "nearest,8,7"}},
    "none": {},
}
MEAN, STD = 0.2860, 0.3530  # the zoo's input normalization


class LeNet(nn.Module):
    """Conv 20@5x5 + ReLU, MaxPool 2, Conv 50@5x5 + ReLU, MaxPool 2,
    Dense 500 + ReLU, Dense 10 (softmax in the loss). Each layer's
    activation has the layer's name in its own ("Conv1_Relu"), as in the
    zoo ("Conv1/Relu"), so a map key "Conv1" covers the layer's output."""

    def __init__(self):
        super().__init__()
        self.Convolution_Block = nn.Sequential(OrderedDict(
            Conv1=nn.Conv2d(1, 20, 5, padding=2), Conv1_Relu=nn.ReLU(),
            MaxPool1=nn.MaxPool2d(2),
            Conv2=nn.Conv2d(20, 50, 5, padding=2), Conv2_Relu=nn.ReLU(),
            MaxPool2=nn.MaxPool2d(2)))
        self.Dense_Block = nn.Sequential(OrderedDict(
            Flatten=nn.Flatten(), Dense3=nn.Linear(50 * 7 * 7, 500),
            Dense3_Relu=nn.ReLU(), Dense4=nn.Linear(500, 10)))
        # the zoo's initialization: uniform, He bounds, zero biases
        for layer, gain in ((self.Convolution_Block.Conv1, 6.0),
                            (self.Convolution_Block.Conv2, 6.0),
                            (self.Dense_Block.Dense3, 6.0), (self.Dense_Block.Dense4, 3.0)):
            fan_in = layer.weight[0].numel()
            nn.init.uniform_(layer.weight, -(gain / fan_in) ** 0.5, (gain / fan_in) ** 0.5)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.Dense_Block(self.Convolution_Block((x - MEAN) / STD))


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / len(x)


def train_torch(args, maps):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    x, y = (torch.from_numpy(a) for a in tq.Dataset("fashion-mnist", split="train").arrays())
    order = np.random.default_rng(args.seed).permutation(len(x))
    val, train = order[:5000], order[5000:]
    if args.limit:
        train = train[:args.limit]
    xt, yt = (torch.from_numpy(a) for a in tq.Dataset("fashion-mnist").arrays())
    model = LeNet()
    handle = tqt.apply_map(model, maps or None, seed=args.seed)
    opt = tqt.QuantizedOptimizer(torch.optim.Adam(model.parameters(), lr=1e-3), handle)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        # cosine schedule per epoch, as tq train's default
        for g in opt.param_groups:
            g["lr"] = 1e-3 * (1 + np.cos(np.pi * epoch / args.epochs)) / 2
        perm = np.random.default_rng([args.seed, epoch]).permutation(train)
        for i in range(0, len(perm) - 63, 64):
            idx = torch.from_numpy(perm[i:i + 64])
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"torch epoch {epoch + 1}: loss {loss.item():.4f}, val "
              f"{100 * accuracy(model, x[val], y[val]):.2f} %, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return accuracy(model, xt, yt), handle.layers


def train_tq(args, maps):
    work = tempfile.mkdtemp(prefix="tq-train-")
    flags = []
    for section, option in (("extrinsic", "--extr"), ("weights", "--weights")):
        if section in maps:
            flags += [option, json.dumps(maps[section])]
    out = os.path.join(work, "lenet.onnx")
    cmd = [args.tq, "train", "--model", "lenet", "--data", "fashion-mnist", "--epochs",
           str(args.epochs), "--threads", str(args.threads), "--seed", str(args.seed),
           "-o", out, "--quiet", *flags]
    if args.limit:  # a quick run: the first images, none held out
        cmd += ["--limit", str(args.limit), "--val-fraction", "0"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    r = json.loads(subprocess.run([args.tq, "eval", out, "--data", "fashion-mnist",
                                   "--json", "-q", *flags], check=True,
                                  capture_output=True, text=True).stdout)
    return r["top1"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--maps", choices=sorted(MAPS), default="seed")
    ap.add_argument("--limit", type=int, default=0, help="training images (default all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tq", help="the tq tool: also train with tq train and compare")
    args = ap.parse_args()
    maps = MAPS[args.maps]
    print(f"maps: {json.dumps(maps)}")
    top1, layers = train_torch(args, maps)
    print(f"quantized layers: {layers}")
    print(f"PyTorch + tensorquant.torch: test top-1 {100 * top1:.2f} %")
    if args.tq:
        tq_top1 = train_tq(args, maps)
        print(f"tq train:                    test top-1 {100 * tq_top1:.2f} %")
        print(f"difference: {100 * (top1 - tq_top1):+.2f} points")
        return 0 if abs(top1 - tq_top1) <= 0.01 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
