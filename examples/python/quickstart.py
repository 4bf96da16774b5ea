"""tensorquant in a few lines: quantize an array, run the bundled LeNet
under a map, and rank its layers by sensitivity.

    .venv/bin/python examples/python/quickstart.py
"""
import os

import numpy as np

import tensorquant as tq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LENET = os.path.join(ROOT, "models", "lenet-fashion-mnist.onnx")

x = np.random.default_rng(0).standard_normal(8).astype(np.float32) * 4
print("x              ", x)
print("nearest,8,4    ", tq.quantize(x, "nearest,8,4"))
print("fp8e4m3        ", tq.quantize(x, "fp8e4m3"))
print("stochastic,4,2 ", tq.quantize(x, "stochastic,4,2", seed=1))

with tq.Model(LENET) as model:
    test = tq.Dataset("fashion-mnist")
    images, labels = test.arrays(np.arange(16))
    for maps in ({}, {"extr": "nearest,8,4", "weights": "nearest,8,6"}):
        probs = model.run(images, **maps)["probabilities"]
        print(maps or "float", "correct:", int((probs.argmax(1) == labels).sum()), "of 16")
    ranked = tq.sensitivity(model, test, specs="nearest,4,auto", limit=1000)
    for r in ranked[:3]:
        print(f"{r['rank']}. {r['layers']:40s} top-1 {100 * r['top1']:.2f} % "
              f"({100 * r['delta_top1']:+.2f})")
