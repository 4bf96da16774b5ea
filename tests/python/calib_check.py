"""Checks `tq calibrate` against ONNX Runtime's calibrators on real models.

  calib_check.py MODEL... --tq TQ --dir DIR [--samples N]

MODEL is a model name model_check.py knows (tiny_cnn, or a torchvision
architecture with random weights). For each, the same random images go to
`tq calibrate` and to ONNX Runtime's create_calibrator (collect_data once
with all batches, as docs/analysis.md describes), and every layer's range
is compared: minmax within float summation noise (1e-5 of the layer's
largest magnitude: convolutions sum in another order), percentile (99.999,
symmetric) and entropy (num_bins 2048) within two histogram bins. Prints
the largest differences measured.
"""
import argparse
import json
import os
import subprocess
import sys

import types

import numpy as np
import onnx

# Debian's onnx (1.12) lacks onnx.reference and the newer TensorProto
# types, which onnxruntime's quantization package imports for features
# the calibrators do not use: stand-ins let it load.
try:
    import onnx.reference  # noqa: F401
except ImportError:
    stub = types.ModuleType("onnx.reference")
    stub.ReferenceEvaluator = None
    sys.modules["onnx.reference"] = stub
for _name, _code in (("FLOAT8E4M3FN", 17), ("FLOAT8E4M3FNUZ", 18),
                     ("FLOAT8E5M2", 19), ("FLOAT8E5M2FNUZ", 20),
                     ("UINT4", 21), ("INT4", 22), ("FLOAT4E2M1", 23)):
    if not hasattr(onnx.TensorProto, _name):
        setattr(onnx.TensorProto, _name, _code)
from onnxruntime.quantization import (CalibrationDataReader,
                                      CalibrationMethod, create_calibrator)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_check  # noqa: E402


class Reader(CalibrationDataReader):
    def __init__(self, batches):
        self.it = iter([{"input": b} for b in batches])

    def get_next(self):
        return next(self.it, None)


METHODS = {"minmax": (CalibrationMethod.MinMax, {}),
           "percentile": (CalibrationMethod.Percentile,
                          {"num_bins": 2048, "percentile": 99.999}),
           "entropy": (CalibrationMethod.Entropy, {"num_bins": 2048})}


def ort_ranges(model, batches, method, work):
    kind, extra = METHODS[method]
    c = create_calibrator(model, op_types_to_calibrate=None,
                          augmented_model_path=os.path.join(work, "aug.onnx"),
                          calibrate_method=kind, extra_options=extra)
    c.collect_data(Reader(batches))
    td = c.compute_data()
    return {name: (float(np.asarray(r.range_value[0]).reshape(-1)[0]),
                   float(np.asarray(r.range_value[1]).reshape(-1)[0]))
            for name, r in td.data.items()}


def layer_tensors(model):
    """tq's layer ID (the node name, else its first output) -> output 0."""
    g = onnx.load(model).graph
    return {(n.name or n.output[0]): n.output[0] for n in g.node}


def tq_ranges(tq, model, data, method, out):
    cmd = [tq, "calibrate", model, "--data", data, "--method", method,
           "-o", out, "--batch", "7"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.load(open(out))["layers"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--tq", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--samples", type=int, default=12, help="a multiple of 4")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    bad = 0
    for name in a.models:
        m, shape = model_check.make_model(name)
        path = os.path.join(a.dir, f"{name}-calib.onnx")
        model_check.export(m, shape, path, 13)
        rng = np.random.default_rng(7)
        x = rng.standard_normal((a.samples, *shape[1:])).astype(np.float32)
        xp, yp = (os.path.join(a.dir, f"{name}-{s}.npy") for s in "xy")
        np.save(xp, x)
        np.save(yp, np.zeros(a.samples, np.int64))
        # equal batches: ORT stacks them into one array
        batches = [x[i:i + 4] for i in range(0, a.samples, 4)]
        tensors = layer_tensors(path)
        for method in METHODS:
            ours = tq_ranges(a.tq, path, f"{xp},{yp}", method,
                             os.path.join(a.dir, f"{name}-{method}.json"))
            ref = ort_ranges(path, batches, method, a.dir)
            worst, compared, exact = 0.0, 0, 0
            for layer, r in ours.items():
                t = tensors.get(layer)
                if t not in ref:
                    continue
                lo, hi = ref[t]
                amax = max(abs(lo), abs(hi), 1e-30)
                if method == "minmax":
                    unit = 1e-5 * amax  # float summation noise
                else:
                    # one histogram bin: of |x| (percentile, from its
                    # minimum, bounded by amax) or of [-T, T] (entropy)
                    layer_amax = max(abs(ours[layer]["min"]),
                                     abs(ours[layer]["max"]), amax)
                    unit = (layer_amax if method == "percentile"
                            else 2 * layer_amax) / 2048
                d = max(abs(r["min"] - lo), abs(r["max"] - hi)) / unit
                exact += (np.float32(r["min"]) == np.float32(lo) and
                          np.float32(r["max"]) == np.float32(hi))
                worst = max(worst, d)
                compared += 1
                limit = 1.0 if method == "minmax" else 2.0
                if d > limit:
                    bad += 1
                    print(f"FAIL {name} {method} {layer}: tq [{r['min']!r}, "
                          f"{r['max']!r}], ORT [{lo!r}, {hi!r}]")
            if compared < max(1, len(ours) // 2):
                bad += 1
                print(f"FAIL {name} {method}: only {compared} of {len(ours)} "
                      "layers matched ORT's tensors")
            what = "x 1e-5 of amax" if method == "minmax" else "bins"
            print(f"{name} {method}: {compared} layers ({exact} bit for bit), "
                  f"largest difference {worst:.3g} {what}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
