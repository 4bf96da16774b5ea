"""Checks `tq run` against PyTorch and ONNX Runtime on real models.

  model_check.py float MODEL...   tq run in float vs PyTorch: max |diff| must
                                  stay within 1e-4 of the largest |output|
  model_check.py quant MODEL...   tq run --extr S --weights S vs ONNX Runtime
                                  running the same model with the same
                                  quantizer written in ONNX ops after every
                                  node and on every weight

MODEL is a torchvision classification architecture name (random weights),
or `tiny_cnn` (a small CNN defined here). Needs torch, torchvision,
onnx and onnxruntime (the project venv, scripts/setup-venv.sh).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torchvision
from onnx import helper, numpy_helper, TensorProto

# Ops whose initializer inputs after the first are weights (docs/design.md §3).
WEIGHT_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization",
              "InstanceNormalization", "LayerNormalization", "PRelu"}


class TinyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 5, padding=2)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
        self.fc = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


def make_model(name):
    torch.manual_seed(0)
    if name == "tiny_cnn":
        m, shape = TinyCNN(), (2, 1, 28, 28)
    else:
        m = getattr(torchvision.models, name)(weights=None)
        shape = (2, 3, 299, 299) if name.startswith("inception") else (2, 3, 224, 224)
    m.eval()
    # Random BatchNorm statistics, so that BN is not the identity.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m, shape


def export(model, shape, path, opset, fold=True):
    x = torch.randn(*shape)
    # fold=False keeps the exporter's constant subgraphs (and BatchNorm
    # nodes) in the file, as other export settings produce them.
    torch.onnx.export(model, x, path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      do_constant_folding=fold,
                      training=torch.onnx.TrainingMode.EVAL if fold
                      else torch.onnx.TrainingMode.PRESERVE)


def tq_run(tq, model, x, out, extra=()):
    inp = out + ".in.npy"
    np.save(inp, x)
    cmd = [tq, "run", model, "-i", inp, "-o", out, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return np.load(out)


def quant_ops(spec):
    """The fixed-point quantizer `even,W,F` in ONNX ops: ONNX Round is round
    half to even, x*2^F and /2^F are exact, so this is bit-exact."""
    name, w, f = spec.split(",")
    assert name == "even", "the ONNX reference expresses even,W,F only"
    w, f = int(w), int(f)
    return 2.0 ** f, -(2.0 ** (w - 1)), 2.0 ** (w - 1) - 1


def quantize_np(a, spec):
    s, lo, hi = quant_ops(spec)
    return (np.clip(np.round(a.astype(np.float32) * np.float32(s)), lo, hi)
            / np.float32(s)).astype(np.float32)


def reference_model(path, spec, out_path):
    """The model with every float node output and every weight quantized."""
    m = onnx.load(path)
    m = onnx.shape_inference.infer_shapes(m)
    g = m.graph
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in list(g.value_info) + list(g.output) + list(g.input)}
    inits = {i.name: i for i in g.initializer}
    for node in g.node:
        if node.op_type in WEIGHT_OPS:
            for name in node.input[1:]:
                if name in inits and inits[name].data_type == TensorProto.FLOAT:
                    t = inits[name]
                    q = quantize_np(numpy_helper.to_array(t), spec)
                    t.CopyFrom(numpy_helper.from_array(q, name))
    s, lo, hi = quant_ops(spec)
    consts = [numpy_helper.from_array(np.array(v, np.float32), n)
              for v, n in ((s, "q_scale"), (lo, "q_lo"), (hi, "q_hi"))]
    new_nodes = []
    renames = {}
    for node in g.node:
        node = onnx.NodeProto.FromString(node.SerializeToString())
        for i, name in enumerate(node.input):
            node.input[i] = renames.get(name, name)
        new_nodes.append(node)
        for o in node.output:
            if types.get(o, TensorProto.FLOAT) != TensorProto.FLOAT:
                continue
            q = o + "__q"
            new_nodes += [
                helper.make_node("Mul", [o, "q_scale"], [q + "1"]),
                helper.make_node("Round", [q + "1"], [q + "2"]),
                helper.make_node("Clip", [q + "2", "q_lo", "q_hi"], [q + "3"]),
                helper.make_node("Div", [q + "3", "q_scale"], [q]),
            ]
            renames[o] = q
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(consts)
    for o in g.output:
        o.name = renames.get(o.name, o.name)
    onnx.save(m, out_path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["float", "quant"])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--tq", required=True)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--spec", default="even,16,10")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--no-fold", action="store_true",
                    help="export without constant folding, BatchNorm kept")
    args = ap.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="tq-models-")
    os.makedirs(work, exist_ok=True)
    failures = 0
    for name in args.models:
        model, shape = make_model(name)
        tag = "-nofold" if args.no_fold else ""
        path = os.path.join(work, f"{name}-op{args.opset}{tag}.onnx")
        if not os.path.exists(path):
            export(model, shape, path, args.opset, fold=not args.no_fold)
        rng = np.random.default_rng(7)
        x = rng.standard_normal(shape).astype(np.float32)
        if args.mode == "float":
            with torch.no_grad():
                ref = model(torch.from_numpy(x)).numpy()
            got = tq_run(args.tq, path, x, os.path.join(work, name + ".out.npy"))
            tol = 1e-4 * float(np.abs(ref).max())
            err = float(np.abs(got - ref).max())
            ok = got.shape == ref.shape and err <= tol
            print(f"{name:20s} float: max |tq - torch| = {err:.3g} "
                  f"(limit {tol:.3g})  {'ok' if ok else 'FAIL'}")
        else:
            import onnxruntime as ort
            qpath = os.path.join(work, f"{name}-q.onnx")
            reference_model(path, args.spec, qpath)
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            sess = ort.InferenceSession(qpath, so, providers=["CPUExecutionProvider"])
            ref = sess.run(None, {"input": x})[0]
            got = tq_run(args.tq, path, x, os.path.join(work, name + ".q.npy"),
                         ["--extr", args.spec, "--weights", args.spec])
            step = 2.0 ** -int(args.spec.split(",")[2])
            diff = np.abs(got - ref)
            same = float((diff == 0).mean())
            # Float summation order (GEMM blocking differs between engines)
            # may move a value across a rounding boundary: one step there,
            # which later layers can carry along, but not amplify much.
            ok = got.shape == ref.shape and same >= 0.5 and diff.max() <= 4 * step
            print(f"{name:20s} quant {args.spec}: {100 * same:.2f}% identical, "
                  f"max diff {diff.max():.3g} ({diff.max() / step:.1f} steps) "
                  f" {'ok' if ok else 'FAIL'}")
        failures += not ok
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
