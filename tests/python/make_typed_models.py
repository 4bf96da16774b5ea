"""A tiny language-model-shaped ONNX model with typed inputs, for
tests/cli/typed_models.sh, built with the onnx helper API, and what ONNX
Runtime computes on it.

Usage: make_typed_models.py OUTDIR

Writes OUTDIR/tiny_lm.onnx: int64 inputs input_ids and attention_mask
[N, 8]; token embeddings (Gather with run-time ids) plus position
embeddings (Range over the sequence length); a padding mask computed with
Equal, Cast and Where; masked attention pooling (Softmax over the
sequence); a classifier. Outputs: logits float32 [N, 4], prediction int64
[N] (ArgMax), pad bool [N, 8] (attention_mask == 0), positions int64
[N, 8] (CumSum of the mask, times the mask).

Then random inputs OUTDIR/ids.npy, OUTDIR/mask.npy (every row has at least
one token) and labels.npy, and ONNX Runtime's outputs OUTDIR/ort_<name>.npy
(skipped, with a note, when onnxruntime cannot be imported).

OUTDIR/identities.onnx passes an input of every dtype through an Identity
(in_<dtype> -> out_<dtype>), with the inputs OUTDIR/in_<dtype>.npy as NumPy
and ml_dtypes save them.

When PyTorch can be imported, also OUTDIR/encoder.onnx: an nn.Embedding
plus position embeddings, one nn.TransformerEncoderLayer with
src_key_padding_mask = (attention_mask == 0) and a masked mean-pool
classifier, exported by torch.onnx at opset 17 with dynamic batch and
sequence; its inputs enc_ids.npy, enc_mask.npy (the second row padded) and
PyTorch's outputs torch_logits.npy, torch_hidden.npy.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(1307)
V, D, S, C = 50, 6, 8, 4


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


inits = [
    const("tok_emb", rng.standard_normal((V, D)).astype(np.float32)),
    const("pos_emb", rng.standard_normal((S, D)).astype(np.float32)),
    const("w_score", rng.standard_normal((D, 1)).astype(np.float32)),
    const("w_cls", rng.standard_normal((D, C)).astype(np.float32)),
    const("b_cls", rng.standard_normal((C,)).astype(np.float32)),
    const("zero", np.array(0, np.int64)),
    const("one", np.array(1, np.int64)),
    const("idx1", np.array(1, np.int64)),
    const("axis1", np.array([1], np.int64)),
    const("axis2", np.array([2], np.int64)),
    const("neg_big", np.array(-1e4, np.float32)),
    const("zero_f", np.array(0.0, np.float32)),
]
nodes = [
    # Token and position embeddings.
    helper.make_node("Gather", ["tok_emb", "input_ids"], ["tok"], name="embed/tokens"),
    helper.make_node("Shape", ["input_ids"], ["ids_shape"], name="embed/shape"),
    helper.make_node("Gather", ["ids_shape", "idx1"], ["seq_len"], name="embed/seq_len"),
    helper.make_node("Range", ["zero", "seq_len", "one"], ["pos"], name="embed/range"),
    helper.make_node("Gather", ["pos_emb", "pos"], ["pe"], name="embed/positions"),
    helper.make_node("Add", ["tok", "pe"], ["h"], name="embed/add"),
    # The padding mask: Equal -> Where (and Cast for the float mask).
    helper.make_node("Equal", ["attention_mask", "zero"], ["pad"], name="mask/is_pad"),
    helper.make_node("Where", ["pad", "neg_big", "zero_f"], ["bias"], name="mask/bias"),
    helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT,
                     name="mask/cast"),
    # Position ids as exporters compute them: cumsum(mask) * mask.
    helper.make_node("CumSum", ["attention_mask", "idx1"], ["csum"], name="mask/cumsum"),
    helper.make_node("Mul", ["csum", "attention_mask"], ["positions"], name="mask/positions"),
    # Masked attention pooling.
    helper.make_node("MatMul", ["h", "w_score"], ["s3"], name="pool/score"),
    helper.make_node("Squeeze", ["s3", "axis2"], ["s"], name="pool/squeeze"),
    helper.make_node("Add", ["s", "bias"], ["sm"], name="pool/mask"),
    helper.make_node("Softmax", ["sm"], ["attn"], axis=-1, name="pool/softmax"),
    helper.make_node("Mul", ["attn", "mask_f"], ["attn_m"], name="pool/keep"),
    helper.make_node("Unsqueeze", ["attn_m", "axis2"], ["a3"], name="pool/unsqueeze"),
    helper.make_node("Mul", ["h", "a3"], ["weighted"], name="pool/weight"),
    helper.make_node("ReduceSum", ["weighted", "axis1"], ["pooled"], keepdims=0,
                     name="pool/sum"),
    # The classifier and its prediction.
    helper.make_node("MatMul", ["pooled", "w_cls"], ["z"], name="cls/matmul"),
    helper.make_node("Add", ["z", "b_cls"], ["logits"], name="cls/bias"),
    helper.make_node("ArgMax", ["logits"], ["prediction"], axis=1, keepdims=0,
                     name="cls/argmax"),
]
graph = helper.make_graph(
    nodes, "tiny_lm",
    [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", S]),
     helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", S])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", C]),
     helper.make_tensor_value_info("prediction", TensorProto.INT64, ["N"]),
     helper.make_tensor_value_info("pad", TensorProto.BOOL, ["N", S]),
     helper.make_tensor_value_info("positions", TensorProto.INT64, ["N", S])],
    initializer=inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                          producer_name="make_typed_models")
model.ir_version = 7
onnx.checker.check_model(model)
path = os.path.join(OUT, "tiny_lm.onnx")
onnx.save(model, path)

n = 5
ids = rng.integers(0, V, size=(n, S)).astype(np.int64)
mask = (rng.random((n, S)) < 0.7).astype(np.int64)
mask[:, 0] = 1
labels = rng.integers(0, C, size=(n,)).astype(np.int64)
np.save(os.path.join(OUT, "ids.npy"), ids)
np.save(os.path.join(OUT, "mask.npy"), mask)
np.save(os.path.join(OUT, "labels.npy"), labels)


# Every dtype through the runtime and back: one Identity per input, inputs
# written by NumPy (bfloat16 by ml_dtypes), so tq's outputs must be the same
# files byte for byte.
DTYPES = [("float32", TensorProto.FLOAT, np.float32),
          ("float64", TensorProto.DOUBLE, np.float64),
          ("float16", TensorProto.FLOAT16, np.float16),
          ("int64", TensorProto.INT64, np.int64),
          ("int32", TensorProto.INT32, np.int32),
          ("int8", TensorProto.INT8, np.int8),
          ("uint8", TensorProto.UINT8, np.uint8),
          ("bool", TensorProto.BOOL, np.bool_)]
try:
    import ml_dtypes
    DTYPES.append(("bfloat16", TensorProto.BFLOAT16, ml_dtypes.bfloat16))
except ImportError:
    print("NOTE: no ml_dtypes: no bfloat16 round trip")
values = np.array([[0, 1.5, -2.5], [100, -0.0, 3]])
ident = helper.make_graph(
    [helper.make_node("Identity", [f"in_{n}"], [f"out_{n}"], name=f"id_{n}")
     for n, _, _ in DTYPES], "identities",
    [helper.make_tensor_value_info(f"in_{n}", t, ["N", 3]) for n, t, _ in DTYPES],
    [helper.make_tensor_value_info(f"out_{n}", t, ["N", 3]) for n, t, _ in DTYPES])
idm = helper.make_model(ident, opset_imports=[helper.make_opsetid("", 14)],
                        producer_name="make_typed_models")
idm.ir_version = 7
onnx.checker.check_model(idm)
onnx.save(idm, os.path.join(OUT, "identities.onnx"))
for n, _, np_type in DTYPES:
    v = np.abs(values) if n == "uint8" else values
    np.save(os.path.join(OUT, f"in_{n}.npy"), v.astype(np_type))


def export_encoder():
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, vocab=100, dim=32, heads=4, classes=3):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, dim)
            self.pos = torch.nn.Embedding(64, dim)
            self.layer = torch.nn.TransformerEncoderLayer(
                dim, heads, 64, dropout=0.0, batch_first=True)
            self.cls = torch.nn.Linear(dim, classes)

        def forward(self, input_ids, attention_mask):
            pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
            h = self.emb(input_ids) + self.pos(pos)
            h = self.layer(h, src_key_padding_mask=attention_mask == 0)
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return self.cls((h * m).sum(1) / m.sum(1)), h

    torch.manual_seed(0)
    model = Encoder().eval()
    eids = torch.randint(0, 100, (2, 12))
    emask = torch.ones(2, 12, dtype=torch.int64)
    emask[1, 8:] = 0
    torch.onnx.export(
        model, (eids, emask), os.path.join(OUT, "encoder.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits", "hidden"], opset_version=17,
        dynamic_axes={"input_ids": {0: "N", 1: "S"},
                      "attention_mask": {0: "N", 1: "S"}})
    np.save(os.path.join(OUT, "enc_ids.npy"), eids.numpy())
    np.save(os.path.join(OUT, "enc_mask.npy"), emask.numpy())
    with torch.no_grad():
        logits, hidden = model(eids, emask)
    np.save(os.path.join(OUT, "torch_logits.npy"), logits.numpy())
    np.save(os.path.join(OUT, "torch_hidden.npy"), hidden.numpy())


try:
    export_encoder()
except ImportError:
    print("NOTE: no torch: no exported encoder")

try:
    import onnxruntime as ort
except ImportError:
    print("NOTE: no onnxruntime: no reference outputs")
    sys.exit(0)
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
outs = sess.run(None, {"input_ids": ids, "attention_mask": mask})
for o, v in zip(sess.get_outputs(), outs):
    np.save(os.path.join(OUT, f"ort_{o.name}.npy"), v)
