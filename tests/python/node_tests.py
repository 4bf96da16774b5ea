#!/usr/bin/env python3
"""Runs the ONNX backend node tests (onnx/backend/test/data/node/test_*) of
every operator docs/ops.md claims with `tq run`, as they are: every graph
input fed at run time by name (input_*.pb converted to .npy), every output
compared with output_*.pb.

A test belongs to the operators of its nodes; it runs when docs/ops.md
claims all of them (the default ONNX domain only). Comparison:
  - dtype and shape exactly;
  - integers and bools exactly; NaN where NaN is expected;
  - floats within  4 eps |want| + 2 (K + 1) eps S  per element, where eps
    is the output dtype's machine epsilon, S the largest magnitude among
    the inputs and the expected output, and K the length of the longest
    sum behind one output element: the largest input's size over the
    output's for reductions and products (MatMul, Conv, Reduce*, pooling),
    the largest input's size for operators that normalize over statistics
    (the NORMALIZING set) and for tests of several nodes (expanded
    functions, whose intermediate sums the reference rounds to float32),
    0 otherwise. That is a few roundings of the value itself (libm against
    NumPy's functions) plus one rounding of magnitude S per term of a sum
    evaluated in another order, and one for the reference's own rounding
    of intermediates as large as S (exp(x) - 1 in float32 for Elu).

Tests that fail for a documented reason are listed in KNOWN (docs/onnx.md,
"Backend node tests", repeats the list); any other failure of a claimed
operator fails the run. Prints pass/fail counts per operator and a last
line 'N passed, N failed'.

Usage: node_tests.py TQ [--onnx-dir DIR] [--jobs N] [-k SUBSTRING] [-v]
The node tests come from the onnx package in the venv's onnx-1.19 folder
(scripts/setup-venv.sh) unless --onnx-dir names a folder holding onnx/.
"""
import argparse
import concurrent.futures as cf
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# Failures that follow from a documented limit, recognized by tq's error
# message (docs/onnx.md, "Backend node tests", lists them with the counts):
# (regular expression, reason).
KNOWN_ERRORS = [
    (r"must be a constant",
     "a shape-like input fed at run time: shapes are static, shape-like "
     "inputs must be constants (docs/ops.md, Tensor and shape operators)"),
    (r"graph input '[^']*' has element type (INT16|UINT16|UINT32|UINT64|"
     r"STRING|FLOAT8\w*|FLOAT4E2M1|INT4|UINT4|an unknown type)",
     "a dtype tq does not hold at run time (docs/ops.md, Types)"),
    (r"Cast to ONNX data type (17|18|19|20|21|22|23|24|25) is not supported",
     "a float8, int4 or float4 Cast target (docs/ops.md, Types)"),
    (r"opset [1-6] of the default ONNX domain is not supported",
     "opsets below 7 (docs/onnx.md)"),
    (r"\(Resize\): (mode 'cubic'|coordinate_transformation_mode "
     r"'(tf_crop_and_resize|half_pixel_symmetric)'|antialias|the 'axes'|"
     r"keep_aspect_ratio_policy)", "a Resize mode docs/ops.md lists as rejected"),
    (r"training_mode = 1 is not supported",
     "BatchNormalization is inference only (docs/ops.md)"),
    (r"second output of MaxPool \(Indices\) is not supported",
     "MaxPool's Indices output (docs/ops.md)"),
    (r"\): input \d+ \('[^']*'\) is \w+; \w+ takes ",
     "a dtype the operator does not take (docs/ops.md, Types: operators "
     "without a dtypes entry compute in float32)"),
    (r"graph input '[^']*' has \d+ dimensions",
     "a rank above tq's limit (docs/ops.md)"),
    (r"needs MODEL.onnx, -i X.npy",
     "a model without inputs: tq run needs one"),
    (r"^not a tensor", "sequence and optional types are not tensors"),
]

# Failures of single tests: test name -> reason.
KNOWN = {
    "test_clip_min_greater_than_max":
        "Clip with min > max gives min where ONNX gives max "
        "(docs/ops.md, Clip)",
    "test_averagepool_2d_ceil_last_window_starts_on_pad":
        "AveragePool with ceil_mode: a last window that starts in the "
        "padding (opset 19 reference) is averaged differently; not yet "
        "investigated",
    "test_convtranspose_output_shape":
        "ConvTranspose output_shape beyond the unpadded size is refused "
        "instead of padded at the end",
    "test_training_dropout":
        "Dropout is inference-only at run time: training_mode is ignored",
    "test_training_dropout_default":
        "Dropout is inference-only at run time: training_mode is ignored",
    "test_training_dropout_default_mask":
        "Dropout is inference-only at run time: training_mode is ignored",
    "test_training_dropout_mask":
        "Dropout is inference-only at run time: training_mode is ignored",
}

# Operators whose outputs depend on statistics over many inputs.
NORMALIZING = {"LayerNormalization", "RMSNormalization", "Softmax",
               "LogSoftmax", "InstanceNormalization", "BatchNormalization",
               "MeanVarianceNormalization", "Attention", "Hardmax"}


def expanded_key(test, ops, claimed):
    """'Op (expanded)' for a test of several nodes named after Op (an
    operator's function body); else the operators joined."""
    best = ""
    for op in claimed:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()
        if test.startswith("test_" + snake) and len(op) > len(best):
            best = op
    return f"{best} (expanded)" if best else "+".join(ops)


def known_error(why):
    for pattern, reason in KNOWN_ERRORS:
        if re.search(pattern, why):
            return reason
    return None


def claimed_ops(doc):
    """Operator names in the first column of docs/ops.md's operator tables."""
    ops, in_table = set(), False
    for line in open(doc, encoding="utf-8"):
        if line.startswith("| operator |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if in_table and not line.startswith("|---"):
            cell = line.split("|")[1]
            for name in cell.split(","):
                name = name.strip().strip("`")
                if re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
                    ops.add(name)
    return ops


def test_ops(model):
    ops = set()
    for n in model.graph.node:
        ops.add((n.domain if n.domain not in ("", "ai.onnx") else "",
                 n.op_type))
    return ops


def largest(np, a):
    if a.dtype.kind not in "fiu" and a.dtype != np.bool_:
        a = a.astype(np.float64)  # bfloat16
    a = np.abs(a.astype(np.float64)).reshape(-1)
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else 0.0


def tolerance(np, want, inputs, ops):
    eps = float(np.finfo(want.dtype).eps)
    out_n = max(want.size, 1)
    big = max([a.size for a in inputs] + [0])
    if len(ops) > 1 or ops & NORMALIZING:
        k = float(big)
    else:
        k = big / out_n if big > out_n else 0.0
    s = max([largest(np, a) for a in inputs] + [largest(np, want)])
    return (4 * eps * np.abs(want.astype(np.float64)) +
            2 * (k + 1) * eps * s)


def compare(np, name, got, want, inputs, ops):
    if got.dtype.kind == "V" and want.dtype.name == "bfloat16":
        got = got.view(want.dtype)  # tq writes bfloat16 as |V2 (ml_dtypes)
    if want.dtype.name == "bfloat16":
        got, want = got.astype(np.float32), want.astype(np.float32)
        eps_dtype = "bfloat16"
    else:
        eps_dtype = None
    if got.dtype != want.dtype:
        return f"{name}: dtype {got.dtype}, expected {want.dtype}"
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "biu" or want.dtype == np.bool_:
        bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
        if bad.size:
            i = bad[0]
            return (f"{name}: {bad.size} of {want.size} differ, first at "
                    f"{i}: {got.reshape(-1)[i]} != {want.reshape(-1)[i]}")
        return None
    g = got.astype(np.float64).reshape(-1)
    w = want.astype(np.float64).reshape(-1)
    tol = tolerance(np, want, inputs, ops).reshape(-1)
    if eps_dtype:
        tol = tol * 2.0**16  # bfloat16's eps over float32's
    nan_w, nan_g = np.isnan(w), np.isnan(g)
    with np.errstate(invalid="ignore"):
        diff = np.abs(g - w)
        bad = (nan_w != nan_g) | (~nan_w & ~(diff <= tol) & (g != w))
    if bad.any():
        i = np.flatnonzero(bad)[0]
        return (f"{name}: {int(bad.sum())} of {want.size} beyond tolerance, "
                f"first at {i}: {g[i]!r} != {w[i]!r} (tol {tol[i]:.3g})")
    return None


def run_test(tq, d, np, onnx, numpy_helper, ops):
    """None on success, else the reason."""
    model = onnx.load(os.path.join(d, "model.onnx"))
    ds = os.path.join(d, "test_data_set_0")
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    outs = [o.name for o in model.graph.output]

    def load(kind, k):
        t = onnx.TensorProto()
        with open(os.path.join(ds, f"{kind}_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        return numpy_helper.to_array(t)

    for v in list(model.graph.input) + list(model.graph.output):
        if not v.type.HasField("tensor_type"):
            return f"not a tensor: {v.name}"
    inputs = []
    with tempfile.TemporaryDirectory() as tmp:
        args = [tq, "run", os.path.join(d, "model.onnx")]
        for k, name in enumerate(names):
            if not os.path.exists(os.path.join(ds, f"input_{k}.pb")):
                break  # an optional input left out
            a = load("input", k)
            inputs.append(a)
            p = os.path.join(tmp, f"in{k}.npy")
            np.save(p, a)
            args += ["-i", f"{name}={p}"]
        od = os.path.join(tmp, "out")
        args += ["--outputs", od, "--threads", "1"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            return "tq run failed: " + (r.stderr.strip().splitlines() or
                                        ["(no message)"])[-1][:300]
        fails = []
        for k, name in enumerate(outs):
            if not name or not os.path.exists(
                    os.path.join(ds, f"output_{k}.pb")):
                continue
            want = load("output", k)
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
            p = os.path.join(od, safe + ".npy")
            if not os.path.exists(p):
                fails.append(f"{name}: not written")
                continue
            why = compare(np, name, np.load(p), want, inputs, ops)
            if why:
                fails.append(why)
        return "; ".join(fails) or None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tq")
    ap.add_argument("--onnx-dir", default=os.path.join(
        sys.prefix, "onnx-1.19"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, a.onnx_dir)
    import numpy as np
    import onnx
    from onnx import numpy_helper
    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test",
                        "data", "node")
    if not os.path.isdir(root):
        print(f"SKIP: no node tests under {root}")
        return 0
    claimed = claimed_ops(os.path.join(ROOT, "docs", "ops.md"))
    tests = []
    for t in sorted(os.listdir(root)):
        if a.k not in t:
            continue
        d = os.path.join(root, t)
        try:
            ops = test_ops(onnx.load(os.path.join(d, "model.onnx"),
                                     load_external_data=False))
        except Exception:  # noqa: BLE001 - an unreadable test is not ours
            continue
        if ops and all(dom == "" and op in claimed for dom, op in ops):
            tests.append((t, d, sorted(op for _, op in ops)))
    tq = os.path.abspath(a.tq)
    with cf.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        futs = {ex.submit(run_test, tq, d, np, onnx, numpy_helper,
                          set(ops)): (t, ops)
                for t, d, ops in tests}
        results = {}
        for f in cf.as_completed(futs):
            t, ops = futs[f]
            try:
                results[t] = (ops, f.result())
            except Exception as e:  # noqa: BLE001
                results[t] = (ops, f"runner error: {e}")
    per_op, reasons = {}, {}
    passed = failed = known = 0
    for t in sorted(results):
        ops, why = results[t]
        key = ops[0] if len(ops) == 1 else expanded_key(t, ops, claimed)
        s = per_op.setdefault(key, [0, 0, 0])
        if why is None:
            s[0] += 1
            passed += 1
            if t in KNOWN:
                print(f"FIXED (remove from KNOWN): {t}")
        elif t in KNOWN or known_error(why):
            s[2] += 1
            known += 1
            r = KNOWN.get(t) or known_error(why)
            reasons[r] = reasons.get(r, 0) + 1
            if a.v:
                print(f"known  {t}: {KNOWN.get(t) or known_error(why)}")
        else:
            s[1] += 1
            failed += 1
            print(f"FAIL {t}: {why}")
    print(f"{'operator':40s} pass fail known")
    for op in sorted(per_op):
        p, f, k = per_op[op]
        print(f"{op:40s} {p:4d} {f:4d} {k:5d}")
    print("known deviations by reason:")
    for r in sorted(reasons, key=lambda r: -reasons[r]):
        print(f"  {reasons[r]:4d}  {r}")
    print(f"node tests: {len(results)} of claimed operators, {known} known "
          f"deviations")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
