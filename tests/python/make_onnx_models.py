"""Tiny ONNX models made with the onnx package, for tests/cli/onnx_models.sh.

Usage: make_onnx_models.py OUTDIR [--ort]

Writes OUTDIR/*.onnx (plus external data files) and OUTDIR/manifest.tsv,
one line per model that test_onnx (test_python_models) checks:

    file<TAB>ok<TAB>key=value ...     must load; keys: nodes, inits, inputs,
                                      input0 (dims joined by 'x', -1 dynamic),
                                      run=1 (compare with ONNX Runtime)
    file<TAB>error<TAB>phrase         must fail with phrase in the message

and OUTDIR/<stem>.inits.txt with every initializer's expected dtype and
values after loading ("name DTYPE v...", DTYPE as tq_dtype_name writes it),
computed with numpy: every type as itself, except int16, uint16, uint32 and
uint64, which load as int64.

With --ort (needs onnxruntime), models marked run=1 also get
<stem>.in.npy and <stem>.out.npy: a random input and ONNX Runtime's output.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]
WANT_ORT = "--ort" in sys.argv[2:]
os.makedirs(OUT, exist_ok=True)
manifest = []
rng = np.random.default_rng(20240611)


# The dtype each ONNX element type loads as.
DTYPES = {
    TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64",
    TensorProto.FLOAT16: "float16", TensorProto.BFLOAT16: "bfloat16",
    TensorProto.INT64: "int64", TensorProto.INT32: "int32",
    TensorProto.INT8: "int8", TensorProto.UINT8: "uint8",
    TensorProto.BOOL: "bool", TensorProto.INT16: "int64",
    TensorProto.UINT16: "int64", TensorProto.UINT32: "int64",
    TensorProto.UINT64: "int64",
}


def fmt(values, dtype):
    """The values, exactly: floats as float64 reprs, integers in decimal."""
    flat = np.asarray(values).reshape(-1)
    if dtype.startswith("float") or dtype == "bfloat16":
        return " ".join(repr(float(v)) for v in flat)
    return " ".join(str(int(v)) for v in flat)


def expected_values(model):
    """What the loader must produce for each initializer and Constant."""
    lines = []
    graph = model.graph
    tensors = [(t.name, t) for t in graph.initializer]
    for node in graph.node:
        if node.op_type == "Constant":
            attr = node.attribute[0]
            if attr.name == "value":
                tensors.append((node.output[0], attr.t))
            elif attr.name in ("value_float", "value_floats"):
                vals = [attr.f] if attr.name == "value_float" else attr.floats
                lines.append(f"{node.output[0]} float32 "
                             f"{fmt(np.float32(vals), 'float32')}")
            elif attr.name in ("value_int", "value_ints"):
                vals = [attr.i] if attr.name == "value_int" else attr.ints
                lines.append(f"{node.output[0]} int64 {fmt(vals, 'int64')}")
    for name, t in tensors:
        if t.data_location == TensorProto.EXTERNAL:
            arr = numpy_helper.to_array(t, base_dir=OUT)
        else:
            arr = numpy_helper.to_array(t)
        dtype = DTYPES[t.data_type]
        lines.append(f"{name} {dtype} {fmt(arr, dtype)}")
    return lines


def save(model, stem, expect="ok", run=False, check=True, external=None,
         **keys):
    """Writes stem.onnx and its manifest line (keys: see the docstring)."""
    if check:
        onnx.checker.check_model(model)
    path = os.path.join(OUT, stem + ".onnx")
    if external:
        onnx.save_model(model, path, save_as_external_data=True,
                        all_tensors_to_one_file=True, location=external,
                        size_threshold=0)
        model = onnx.load(path, load_external_data=False)
    else:
        onnx.save(model, path)
    if expect != "ok":
        manifest.append(f"{stem}.onnx\terror\t{expect}")
        return
    if run:
        keys["run"] = 1
        if WANT_ORT:
            run_ort(path, stem, model)
    kv = " ".join(f"{k}={v}" for k, v in keys.items())
    manifest.append(f"{stem}.onnx\tok\t{kv}")
    with open(os.path.join(OUT, stem + ".inits.txt"), "w") as f:
        f.write("\n".join(expected_values(model)) + "\n")


def run_ort(path, stem, model):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3  # unused initializers are on purpose
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 2 for d in inp.shape]
    x = rng.standard_normal(shape).astype(np.float32)
    (y,) = sess.run(None, {inp.name: x})
    np.save(os.path.join(OUT, stem + ".in.npy"), x)
    np.save(os.path.join(OUT, stem + ".out.npy"), y.astype(np.float32))


def model_of(nodes, inputs, outputs, inits=(), opset=13, ir=None, name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="make_onnx_models")
    if ir is not None:
        m.ir_version = ir
    return m


def fvi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


X = fvi("x", ["N", 4])
Y = fvi("y", ["N", None])

# ---- initializers: typed fields vs raw_data ---------------------------------
w = rng.standard_normal((4,)).astype(np.float32)
typed = helper.make_tensor("w", TensorProto.FLOAT, [4], w.tolist(), raw=False)
save(model_of([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
              [X], [Y], [typed]),
     "typed_float", nodes=1, inits=1, inputs=1, input0="-1x4", run=True)
raw = numpy_helper.from_array(w, "w")
save(model_of([helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
               helper.make_node("Relu", ["m"], ["y"])],
              [X], [Y], [raw]),
     "raw_float", nodes=2, inits=1, inputs=1, input0="-1x4", run=True)

# int32 / double / float16 / int8 / uint8 / bool, typed and raw.
inits = [
    helper.make_tensor("i32_typed", TensorProto.INT32, [3], [-7, 0, 2**31 - 1]),
    numpy_helper.from_array(np.array([-5, 6], np.int32), "i32_raw"),
    helper.make_tensor("f64_typed", TensorProto.DOUBLE, [2], [0.1, -1e-3]),
    numpy_helper.from_array(np.array([1.0 / 3, 1e39], np.float64), "f64_raw"),
    numpy_helper.from_array(np.array([0.5, -65504, 6e-8], np.float16),
                            "f16_raw"),
    helper.make_tensor("f16_typed", TensorProto.FLOAT16, [2],
                       np.array([1.5, -0.25], np.float16)),
    numpy_helper.from_array(np.array([-128, 127], np.int8), "i8_raw"),
    numpy_helper.from_array(np.array([0, 255], np.uint8), "u8_raw"),
    numpy_helper.from_array(np.array([True, False]), "bool_raw"),
    numpy_helper.from_array(np.array([1, -(2**62)], np.int64), "i64_raw"),
    helper.make_tensor("scalar", TensorProto.FLOAT, [], [2.5]),
]
save(model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
              [X], [Y], inits),
     "int32_double_float16", nodes=1, inits=len(inits), inputs=1)

# ---- external data ----------------------------------------------------------
wbig = rng.standard_normal((4, 4)).astype(np.float32)
b = rng.standard_normal((4,)).astype(np.float32)
ext = model_of([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                helper.make_node("Add", ["h", "b"], ["y"], name="bias")],
               [X], [Y],
               [numpy_helper.from_array(wbig, "w"),
                numpy_helper.from_array(b, "b")])
save(ext, "external", external="external.bin", nodes=2, inits=2, inputs=1,
     input0="-1x4", run=True)

escape = model_of([helper.make_node("Add", ["x", "w"], ["y"])], [X], [Y],
                  [numpy_helper.from_array(w, "w")])
onnx.external_data_helper.convert_model_to_external_data(
    escape, all_tensors_to_one_file=True, location="escape.bin",
    size_threshold=0)
for t in escape.graph.initializer:
    for e in t.external_data:
        if e.key == "location":
            e.value = "../escape.bin"
    t.ClearField("raw_data")
save(escape, "external_escape", check=False,
     expect="leaves the model's directory")

# ---- Constant nodes ---------------------------------------------------------
c_tensor = helper.make_node(
    "Constant", [], ["c"], name="const_t",
    value=numpy_helper.from_array(w, "c_value"))
c_float = helper.make_node("Constant", [], ["cf"], value_float=0.5)
c_floats = helper.make_node("Constant", [], ["cfs"],
                            value_floats=[1.0, 2.0, -3.0, 4.0])
c_ints = helper.make_node("Constant", [], ["ci"], value_ints=[1, -1])
save(model_of([c_tensor, c_float, c_floats, c_ints,
               helper.make_node("Mul", ["x", "c"], ["a"]),
               helper.make_node("Add", ["a", "cf"], ["b2"]),
               helper.make_node("Sub", ["b2", "cfs"], ["y"])],
              [X], [Y], opset=13),
     "constant_nodes", nodes=3, inits=4, inputs=1, input0="-1x4", run=True)

# ---- dynamic dims -------------------------------------------------------------
dyn = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", None, 3])
save(model_of([helper.make_node("Relu", ["x"], ["y"])], [dyn],
              [fvi("y", ["batch", None, 3])]),
     "dynamic_dims", nodes=1, inits=0, inputs=1, input0="-1x-1x3")

# ---- opsets 7, 11, 13, 17 ---------------------------------------------------
gw = rng.standard_normal((3, 4)).astype(np.float32)
gb = rng.standard_normal((3,)).astype(np.float32)
for opset in (7, 11, 13, 17):
    nodes = [helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"],
                              name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["y"], name="relu")]
    # IR 3 (the era of opset 7) lists initializers among the inputs too.
    inputs = [X] + ([fvi("fc.weight", [3, 4]), fvi("fc.bias", [3])]
                    if opset == 7 else [])
    save(model_of(nodes, inputs, [Y],
                  [numpy_helper.from_array(gw, "fc.weight"),
                   numpy_helper.from_array(gb, "fc.bias")],
                  opset=opset, ir=3 if opset == 7 else None),
         f"gemm_opset{opset}", nodes=2, inits=2, inputs=1, input0="-1x4",
         run=True)

# ---- initializers also listed as inputs (IR 3 exporters) --------------------
m = model_of([helper.make_node("Add", ["x", "w"], ["y"])],
             [X, fvi("w", [4])], [Y], [numpy_helper.from_array(w, "w")],
             opset=9, ir=3)
save(m, "init_as_input", nodes=1, inits=1, inputs=1, run=True)

# ---- errors ----------------------------------------------------------------
unsupported = model_of(
    [helper.make_node("Relu", ["x"], ["a"]),
     helper.make_node("FrobnicateA", ["a"], ["b1"], name="frob_one"),
     helper.make_node("FrobnicateB", ["b1"], ["y"], name="frob_two")],
    [X], [Y])
save(unsupported, "unsupported_ops", check=False,
     expect="node 'frob_one' (FrobnicateA, opset 13)")
save(unsupported, "unsupported_ops2", check=False,
     expect="node 'frob_two' (FrobnicateB, opset 13)")

bad = numpy_helper.from_array(np.zeros((2, 3), np.float32), "bad_w")
bad.raw_data = bad.raw_data[:20]
save(model_of([helper.make_node("Add", ["x", "bad_w"], ["y"])], [X], [Y],
              [bad]),
     "bad_raw_size", check=False,
     expect="initializer 'bad_w' (FLOAT, dims [2, 3]): raw_data has the "
            "wrong size: expected 24 bytes, found 20")

# Cut inside the raw_data of the first initializer, so that the wire
# format itself is broken (not just a part missing).
whole = model_of([helper.make_node("Add", ["x", "w"], ["y"])], [X], [Y],
                 [numpy_helper.from_array(np.ones((64,), np.float32), "w")])
data = whole.SerializeToString()
with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
    f.write(data[:data.index(b"\x00\x00\x80\x3f") + 100])
manifest.append("truncated.onnx\terror\tprotobuf parse failed")

with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print(f"make_onnx_models: {len(manifest)} models in {OUT}")
