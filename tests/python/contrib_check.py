#!/usr/bin/env python3
"""ONNX Runtime's contrib operators (domain com.microsoft) that tq runs —
LayerNormalization, SkipLayerNormalization (every output), FastGelu (with
and without bias), BiasGelu — in small models built with onnx.helper, run
by tq run --outputs and by ONNX Runtime; every output within 1e-5 of the
largest |value| of ONNX Runtime's (both compute in float32: erf/tanh from
different libms and sums in other orders differ by a few ulps). Then
tq export of the SkipLayerNormalization model keeps the domain: ONNX
Runtime runs the exported file to the same outputs. The contrib
LayerNormalization is compared with ONNX Runtime's ONNX LayerNormalization
(ONNX Runtime 1.32 no longer has the contrib one).

Usage: contrib_check.py TQ DIR   (DIR: scratch folder)
Last line: 'N passed, N failed'.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"


def model(nodes, inputs, outputs, inits):
    g = helper.make_graph(
        nodes, "contrib",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
         for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
         for n in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def cases(rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    x, skip = f(2, 4, 8), f(2, 4, 8)
    g, b, bias = f(8), f(8), f(8)
    yield "SkipLayerNormalization", model(
        [helper.make_node("SkipLayerNormalization",
                          ["x", "skip", "g", "b", "bias"],
                          ["y", "mean", "inv", "sum"], domain=MS,
                          epsilon=1e-5)],
        [("x", [2, 4, 8]), ("skip", [2, 4, 8])], ["y", "sum"],
        {"g": g, "b": b, "bias": bias}), {"x": x, "skip": skip}
    # ONNX Runtime 1.32 no longer registers the contrib LayerNormalization
    # (older optimizers wrote it); it runs ONNX's, whose semantics it has.
    yield "LayerNormalization", model(
        [helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"],
                          domain=MS, axis=-1, epsilon=1e-5)],
        [("x", [2, 4, 8])], ["y"], {"g": g, "b": b}), {"x": x}
    yield "FastGelu", model(
        [helper.make_node("FastGelu", ["x", "bias"], ["y"], domain=MS)],
        [("x", [2, 4, 8])], ["y"], {"bias": bias}), {"x": 3 * x}
    yield "FastGelu_nobias", model(
        [helper.make_node("FastGelu", ["x"], ["y"], domain=MS)],
        [("x", [2, 4, 8])], ["y"], {}), {"x": 3 * x}
    yield "BiasGelu", model(
        [helper.make_node("BiasGelu", ["x", "bias"], ["y"], domain=MS)],
        [("x", [2, 4, 8])], ["y"], {"bias": bias}), {"x": 3 * x}


def compare(name, got, want):
    big = float(np.abs(want).max())
    diff = float(np.abs(got.astype(np.float64) - want).max())
    ok = got.shape == want.shape and diff <= 1e-5 * big
    print(f"{name:32s} max diff {diff:.3g} of {big:.3g}  "
          f"{'ok' if ok else 'FAIL'}")
    return ok


def run_tq(tq, path, feeds, d):
    args = [tq, "run", path, "--outputs", os.path.join(d, "out")]
    for k, v in feeds.items():
        np.save(os.path.join(d, k + ".npy"), v)
        args += ["-i", f"{k}={os.path.join(d, k + '.npy')}"]
    subprocess.run(args, check=True)
    return lambda n: np.load(os.path.join(d, "out", n + ".npy"))


def main():
    tq, d = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    passed = failed = 0
    for name, m, feeds in cases(rng):
        path = os.path.join(d, name + ".onnx")
        onnx.save(m, path)
        ref = path
        if name == "LayerNormalization":
            ref = os.path.join(d, "onnx_ln.onnx")
            m2 = onnx.ModelProto()
            m2.CopyFrom(m)
            m2.graph.node[0].domain = ""
            onnx.save(m2, ref)
        s = ort.InferenceSession(ref, providers=["CPUExecutionProvider"])
        outs = [o.name for o in m.graph.output]
        want = dict(zip(outs, s.run(outs, feeds)))
        got = run_tq(tq, path, feeds, d)
        for o in outs:
            ok = compare(f"{name}:{o}", got(o), want[o])
            passed += ok
            failed += not ok
        if name == "SkipLayerNormalization":
            exported = os.path.join(d, "exported.onnx")
            subprocess.run([tq, "export", path, "-o", exported], check=True)
            e = onnx.load(exported)
            assert any(n.domain == MS for n in e.graph.node), "domain lost"
            s2 = ort.InferenceSession(exported,
                                      providers=["CPUExecutionProvider"])
            again = s2.run([outs[0]], feeds)[0]
            ok = compare("exported SkipLayerNormalization", again,
                         want[outs[0]])
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
