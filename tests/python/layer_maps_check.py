#!/usr/bin/env python3
"""Maps on framework layers of exported models (issue 16, docs/maps.md).

The seed's LeNet (layers Conv1, Conv2, Dense3, Dense4) is built in PyTorch,
Keras 2 (tf_keras) and Keras 3, exported to ONNX (torch.onnx, tf2onnx), and
run by tq under the layer view with the seed's maps and a map naming every
layer. The reference is the framework's own model with exactly the intended
tensors quantized: each layer's output after its activation, every
parameter of the layer (kernel and bias), never the model input. tq's dump of
each layer's output must equal the reference's (up to rounding flips from
float differences between the frameworks), and no other tensor is quantized.

  layer_maps_check.py export-torch DIR        (needs torch)
  layer_maps_check.py export-keras {keras2,keras3} DIR  (tensorflow, tf2onnx)
  layer_maps_check.py check --tq TQ DIR FRAMEWORK...    (numpy only)

Exports write DIR/<framework>.onnx and DIR/<framework>.npz (input and the
reference's layer outputs per map case).
"""
import json
import os
import subprocess
import sys

import numpy as np

LAYERS = ["Conv1", "Conv2", "Dense3", "Dense4"]

# The seed's maps (examples/lenet.c), then one entry per layer; the exact
# segment form ("=Conv2") so that Conv2 does not match Conv2D.
CASES = {
    "seed": {"extrinsic": {"Conv1": "nearest,12,11"},
             "weights": {"Conv1": "nearest,32,16", "Dense3": "nearest,32,16"}},
    "per_layer": {
        "extrinsic": {"=Conv1": "nearest,8,4", "=Conv2": "nearest,8,3",
                      "Dense3": "nearest,8,2", "Dense4": "nearest,8,7"},
        "weights": {"Conv1": "nearest,8,6", "=Conv2": "nearest,8,7",
                    "Dense3": "nearest,8,7", "=Dense4": "nearest,8,6"}},
}


def quantize(a, spec):
    """tq's nearest,W,F: round to nearest, ties away from zero, saturate."""
    name, w, f = spec.split(",")
    assert name == "nearest"
    w, f = int(w), int(f)
    s = 2.0 ** f
    q = np.sign(a) * np.floor(np.abs(a.astype(np.float64)) * s + 0.5)
    q = np.clip(q, -(2.0 ** (w - 1)), 2.0 ** (w - 1) - 1)
    return (q / s).astype(np.float32)


def key_matches(key, name):
    """A key against a framework layer name, as docs/maps.md defines it."""
    if key.startswith("="):
        parts = name.replace(".", "/").split("/")
        return key[1:] in parts
    return key in name


def spec_for(section, layer):
    for key, spec in section.items():
        if key_matches(key, layer):
            return spec
    return None


def case_specs(case):
    m = CASES[case]
    return ({l: spec_for(m.get("extrinsic", {}), l) for l in LAYERS},
            {l: spec_for(m.get("weights", {}), l) for l in LAYERS})


def q_or_same(a, spec):
    return quantize(a, spec) if spec else a


# ---- PyTorch ----------------------------------------------------------------

def export_torch(out_dir):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.Conv1 = nn.Conv2d(1, 20, 5, padding=2)
            self.Conv2 = nn.Conv2d(20, 50, 5, padding=2)
            self.Dense3 = nn.Linear(2450, 500)
            self.Dense4 = nn.Linear(500, 10)

        def forward(self, x, extr=None):
            q = (lambda t, l: t) if extr is None else (
                lambda t, l: torch.from_numpy(q_or_same(t.numpy(), extr[l])))
            x = F.max_pool2d(q(F.relu(self.Conv1(x)), "Conv1"), 2)
            x = F.max_pool2d(q(F.relu(self.Conv2(x)), "Conv2"), 2)
            x = q(F.relu(self.Dense3(torch.flatten(x, 1))), "Dense3")
            return q(F.softmax(self.Dense4(x), dim=1), "Dense4")

    torch.manual_seed(0)
    m = LeNet().eval()
    x = torch.rand(4, 1, 28, 28)
    torch.onnx.export(m, x[:1], os.path.join(out_dir, "torch.onnx"),
                      opset_version=13, input_names=["input"],
                      output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    ref = {"x": x.numpy()}
    for case in CASES:
        extr, wts = case_specs(case)
        qm = LeNet().eval()
        qm.load_state_dict(m.state_dict())
        with torch.no_grad():
            for name, p in qm.named_parameters():
                layer = name.split(".")[0]
                p.copy_(torch.from_numpy(q_or_same(p.numpy(), wts[layer])))
            outs = {}
            for layer in LAYERS:  # each layer's output, through hooks
                getattr(qm, layer).register_forward_hook(
                    lambda mod, i, o, l=layer: outs.setdefault(l, o))
            y = qm(x, extr)
        # The hooks saw pre-activation outputs; the reference layer output
        # is after the activation and its quantizer: recompute from them.
        acts = {"Conv1": torch.relu, "Conv2": torch.relu,
                "Dense3": torch.relu, "Dense4": lambda t: torch.softmax(t, 1)}
        for layer in LAYERS:
            v = acts[layer](outs[layer]).numpy()
            ref[f"{case}:{layer}"] = q_or_same(v, extr[layer])
        ref[f"{case}:output"] = y.numpy()
    np.savez(os.path.join(out_dir, "torch.npz"), **ref)


# ---- Keras ------------------------------------------------------------------

def export_keras(which, out_dir):
    if which == "keras2":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx
    if which == "keras2":
        import tf_keras as K
    else:
        import keras as K
    K.utils.set_random_seed(0)
    L = K.layers
    # Random biases: Keras starts them at zero, and tf2onnx drops zero Adds.
    b = {"bias_initializer": K.initializers.RandomNormal(stddev=0.1, seed=1)}
    m = K.Sequential([
        K.Input((28, 28, 1), name="input"),
        L.Conv2D(20, 5, padding="same", activation="relu", name="Conv1", **b),
        L.MaxPooling2D(2, name="MaxPool1"),
        L.Conv2D(50, 5, padding="same", activation="relu", name="Conv2", **b),
        L.MaxPooling2D(2, name="MaxPool2"),
        L.Flatten(name="Flatten"),
        L.Dense(500, activation="relu", name="Dense3", **b),
        L.Dense(10, activation="softmax", name="Dense4", **b)], name="LeNet")
    spec = (tf.TensorSpec((None, 28, 28, 1), tf.float32, name="input"),)
    fn = tf.function(lambda x: m(x, training=False), input_signature=spec)
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=13,
                                  output_path=os.path.join(out_dir, which + ".onnx"))
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    ref = {"x": x}
    float_weights = [l.get_weights() for l in m.layers]
    for case in CASES:
        extr, wts = case_specs(case)
        h = x
        for layer, w in zip(m.layers, float_weights):
            if layer.name in LAYERS:
                layer.set_weights([q_or_same(a, wts[layer.name]) for a in w])
            h = np.asarray(layer(h, training=False))
            if layer.name in LAYERS:
                h = q_or_same(h, extr[layer.name])
                v = h if h.ndim == 2 else h.transpose(0, 3, 1, 2)  # NCHW
                ref[f"{case}:{layer.name}"] = v
            layer.set_weights(w)
        ref[f"{case}:output"] = h
    np.savez(os.path.join(out_dir, which + ".npz"), **ref)


# ---- the check --------------------------------------------------------------

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def tq(tq_bin, *args, ok=True):
    r = subprocess.run([tq_bin, *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise RuntimeError(f"tq {' '.join(args)} failed:\n{r.stderr}")
    return r


def layer_table(tq_bin, model):
    """tq info's layers: name (last ID segment) -> (output node, nodes)."""
    doc = json.loads(tq(tq_bin, "info", model, "--json").stdout)
    return {l["id"].split("/")[-1]: (l["output"], l["nodes"]) for l in doc["layers"]}, doc


def dump_name(node_id):
    return node_id.replace("/", "_").replace(":", "_") + ".npy"


def agree(got, want, spec):
    """got equals want but for rounding flips: float differences between
    the frameworks move a few values across a rounding boundary (one step),
    and those move later values a little."""
    d = np.abs(got.astype(np.float64) - want)
    tol = 1e-4 * (1 + np.abs(want).max())
    step = 2.0 ** -int(spec.split(",")[2]) if spec else 0
    far = np.mean(d > tol)
    return far <= 0.01 and d.max() <= 2 * step + tol, far, d.max()


def on_grid(a, spec):
    return np.array_equal(quantize(a, spec), a)


def check_framework(tq_bin, work, fw):
    model = os.path.join(work, fw + ".onnx")
    ref = np.load(os.path.join(work, fw + ".npz"))
    table, info = layer_table(tq_bin, model)
    found = all(l in table for l in LAYERS)
    check(found, f"{fw}: tq finds layers {LAYERS}: {sorted(table)}")
    if not found:
        return
    x = os.path.join(work, fw + "_x.npy")
    np.save(x, ref["x"])
    first = info["nodes"][0]
    for case in CASES:
        extr, wts = case_specs(case)
        maps = os.path.join(work, f"{fw}_{case}.json")
        with open(maps, "w") as f:
            json.dump(CASES[case], f)
        dump = os.path.join(work, f"{fw}_{case}_dump")
        out = os.path.join(work, f"{fw}_{case}.npy")
        r = tq(tq_bin, "run", model, "-i", x, "-o", out, "--dump", dump,
               "--map", maps, "--map-view", "layers", "--strict")
        check("warning" not in r.stderr, f"{fw}/{case}: every key applies ({r.stderr.strip()})")
        for layer in LAYERS:
            node, nodes = table[layer]
            got = np.load(os.path.join(dump, dump_name(node)))
            ok, far, worst = agree(got, ref[f"{case}:{layer}"], extr[layer])
            check(ok, f"{fw}/{case}: {layer}'s output ({node}) is the reference's "
                      f"({far:.4%} differ, by at most {worst:.3g})")
            if extr[layer]:
                check(on_grid(got, extr[layer]), f"{fw}/{case}: {layer}'s output is quantized ({extr[layer]})")
                # Only the layer's output: the node before it keeps its float values.
                for n in nodes:
                    if n == node:
                        continue
                    v = np.load(os.path.join(dump, dump_name(n)))
                    check(not on_grid(v, extr[layer]),
                          f"{fw}/{case}: {n} inside {layer} is not quantized")
        ok, far, worst = agree(np.load(out), ref[f"{case}:output"], extr["Dense4"])
        check(ok, f"{fw}/{case}: output is the reference's ({far:.4%} differ, by at most {worst:.3g})")
        if case == "per_layer":  # the reference tells the node view apart
            tq(tq_bin, "run", model, "-i", x, "-o", out, "--map", maps)
            ok, far, worst = agree(np.load(out), ref[f"{case}:output"], extr["Dense4"])
            check(not ok, f"{fw}/{case}: under the node view the output is not the "
                          f"reference's ({far:.4%} differ, by at most {worst:.3g})")
        # The model input is never quantized: the first node (the exporter's
        # layout Reshape/Transpose, or Conv1) reads it unchanged.
        v = np.load(os.path.join(dump, dump_name(first["id"])))
        if first["op"] in ("Transpose", "Reshape"):
            check(np.array_equal(np.sort(v.ravel()), np.sort(ref["x"].ravel())),
                  f"{fw}/{case}: the input reaches {first['id']} unquantized")


def check_warnings(tq_bin, work, fw):
    """A key that matches nothing: a warning naming it, an error with --strict."""
    model = os.path.join(work, fw + ".onnx")
    x = os.path.join(work, fw + "_x.npy")
    out = os.path.join(work, "w.npy")
    args = ["run", model, "-i", x, "-o", out, "--map-view", "layers",
            "--extr", '{"Nope": "nearest,4,2", "Conv1": "nearest,8,4"}']
    r = tq(tq_bin, *args)
    check('key "Nope" in section extrinsic matches no layer' in r.stderr,
          f"{fw}: unmatched key warned about: {r.stderr.strip()}")
    r = tq(tq_bin, *args, "--strict", ok=False)
    check(r.returncode == 1 and "--strict" in r.stderr, f"{fw}: --strict refuses it")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "export-torch":
        export_torch(sys.argv[2])
    elif cmd == "export-keras":
        export_keras(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        assert sys.argv[2] == "--tq"
        tq_bin, work, fws = sys.argv[3], sys.argv[4], sys.argv[5:]
        for fw in fws:
            check_framework(tq_bin, work, fw)
            check_warnings(tq_bin, work, fw)
        print(f"{len(FAILURES)} failed" if FAILURES else "all layer-map checks passed")
        sys.exit(1 if FAILURES else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
