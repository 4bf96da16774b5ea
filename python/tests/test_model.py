"""tq.Model: runs bit-identical to `tq run` under every kind of map, every
node's output as `tq run --dump` writes it, export as `tq export`, and the
errors of bad inputs, maps and closed models."""
import json
import os
import re

import numpy as np
import pytest

import tensorquant as tq
from conftest import LENET, ROOT, golden, same_bits


@pytest.fixture(scope="module")
def lenet():
    with tq.Model(LENET) as m:
        yield m


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((6, 1, 28, 28), dtype=np.float32)


def _case_maps(tmp_path):
    """(name, tq run arguments, Model.run keywords) for every case."""
    maps_file = tmp_path / "maps.json"
    maps_file.write_text(json.dumps(golden.MAPS_JSON))
    cases = []
    for name, args in golden.LENET_RUNS:
        args = [str(maps_file) if a == "@maps.json" else a for a in args]
        kw = {"seed": 0}
        for opt, value in zip(args[::2], args[1::2]):
            key = {"--extr": "extr", "--weights": "weights", "--map": "map",
                   "--seed": "seed"}[opt]
            kw[key] = int(value) if key == "seed" else value
        cases.append((name, args, kw))
    for name, intr in golden.LENET_INTR:
        intr = intr[1:] if intr.startswith("@") else intr
        cases.append((name, ["--intr", intr], {"intr": intr}))
    # maps as Python dicts, too
    cases.append(("dict_maps", ["--map", str(maps_file)], {"map": golden.MAPS_JSON}))
    cases.append(("dict_extr", ["--extr", json.dumps({"Conv": "nearest,8,4"})],
                  {"extr": {"Conv": "nearest,8,4"}}))
    return cases


def _dump_name(node_id, k):
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", node_id)[:399] or "_"
    if safe[0] == ".":
        safe = "_" + safe[1:]
    return f"{safe}__{k}.npy" if k else f"{safe}.npy"


def test_runs_and_dumps_as_the_tool(lenet, images, run_tq, tmp_path):
    np.save(tmp_path / "x.npy", images)
    for name, args, kw in _case_maps(tmp_path):
        dump = tmp_path / f"dump-{name}"
        run_tq("run", LENET, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy",
               "--dump", dump, *args)
        outputs, nodes = lenet.run(images, dump=True, **kw)
        assert list(outputs) == ["probabilities"]
        assert same_bits(outputs["probabilities"], np.load(tmp_path / "y.npy")), name
        files = sorted(os.listdir(dump))
        assert len(files) == len(nodes), name
        for key, value in nodes.items():
            node_id, _, k = key.partition(":")
            want = np.load(dump / _dump_name(node_id, int(k or 0)))
            assert same_bits(value, want), (name, key)
        # the same maps again: no re-quantization, the same bits
        again = lenet.run({"input": images}, **kw)
        assert same_bits(again["probabilities"], outputs["probabilities"]), name


def test_info(lenet):
    info = lenet.info(batch=4)
    assert info["inputs"] == [{"name": "input", "shape": (None, 1, 28, 28),
                               "dtype": "float32"}]
    assert info["outputs"] == [{"name": "probabilities", "shape": [(4, 10)],
                                "dtype": "float32"}]
    ids = [n["id"] for n in info["nodes"]]
    assert "LeNet/Convolution_Block/Conv1" in ids
    conv1 = info["nodes"][ids.index("LeNet/Convolution_Block/Conv1")]
    assert conv1["op"] == "Conv" and conv1["shapes"] == [(4, 20, 28, 28)]
    assert conv1["weights"] == ["Conv1.weight", "Conv1.bias"]
    assert any(w["name"] == conv1["weights"][0] for w in info["initializers"])
    assert info["path"] == LENET


def test_export_as_the_tool(lenet, images, run_tq, tmp_path):
    run_tq("export", LENET, "-o", tmp_path / "tool.onnx", "--weights", "nearest,8,6")
    assert lenet.export(tmp_path / "py.onnx", weights="nearest,8,6") > 0
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "tool.onnx").read_bytes()
    # the model keeps its float weights
    float_run = lenet.run(images)["probabilities"]
    with tq.Model(LENET) as fresh:
        assert same_bits(fresh.run(images)["probabilities"], float_run)
    with tq.Model(tmp_path / "py.onnx") as baked:
        assert same_bits(baked.run(images)["probabilities"],
                         lenet.run(images, weights="nearest,8,6")["probabilities"])


def test_map_files_are_reread_when_changed(lenet, images, tmp_path):
    f = tmp_path / "w.json"
    f.write_text(json.dumps({"Conv": "nearest,4,3"}))
    a = lenet.run(images, weights=str(f))["probabilities"]
    f.write_text(json.dumps({"Conv": "nearest,8,6", "Dense": "nearest,2,1"}))
    os.utime(f, ns=(1, 1))
    b = lenet.run(images, weights=str(f))["probabilities"]
    assert not same_bits(a, b)
    assert same_bits(b, lenet.run(images, weights={"Conv": "nearest,8,6",
                                                   "Dense": "nearest,2,1"})["probabilities"])


def test_bad_input(images, tmp_path):
    m = tq.Model(LENET)
    with pytest.raises(TypeError, match="float64"):
        m.run(images.astype(np.float64))
    with pytest.raises(ValueError, match=r"input 'input' has shape \[6, 28, 28\]"):
        m.run(images[:, 0])
    with pytest.raises(ValueError, match=r"\[6, 3, 28, 28\].*\[-1, 1, 28, 28\]"):
        m.run(np.zeros((6, 3, 28, 28), np.float32))
    with pytest.raises(ValueError, match="unknown input 'x'.*input"):
        m.run({"x": images})
    with pytest.raises(ValueError, match="missing input 'input'"):
        m.run({})
    with pytest.raises(ValueError, match="nearst"):
        m.run(images, extr="nearst,8,4")
    with pytest.raises(ValueError, match="line"):
        m.run(images, map='{"extrinsic": {"Conv": }')
    with pytest.raises(TypeError, match="extr must be"):
        m.run(images, extr=8)
    # after errors the model still runs, and gives the float bits
    good = m.run(images)["probabilities"]
    assert good.shape == (6, 10)
    # non-contiguous inputs are copied first
    wide = np.zeros((6, 1, 28, 56), np.float32)
    wide[..., ::2] = images
    assert same_bits(m.run(wide[..., ::2])["probabilities"], good)
    m.close()
    assert m.closed
    for call in (lambda: m.run(images), m.info, lambda: m.export(tmp_path / "x.onnx"),
                 lambda: tq.evaluate(m, (images.reshape(6, 28, 28), np.zeros(6, np.int64)))):
        with pytest.raises(ValueError, match="closed"):
            call()
    m.close()  # twice is fine
    with pytest.raises(FileNotFoundError):
        tq.Model(os.path.join(ROOT, "no-such-model.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError):
        tq.Model(bad)


def test_typed_inputs_and_outputs(tmp_path, run_tq):
    """A model with int64 input_ids and attention_mask and outputs of
    several dtypes: dict of named arrays in, dict of typed arrays out, the
    same bits as `tq run --outputs`; every dtype through Identity."""
    import subprocess
    import sys
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "python", "make_typed_models.py"),
                    str(tmp_path)], check=True, capture_output=True)
    m = tq.Model(str(tmp_path / "tiny_lm.onnx"))
    info = m.info()
    assert [(i["name"], i["dtype"]) for i in info["inputs"]] == [
        ("input_ids", "int64"), ("attention_mask", "int64")]
    ids, mask = np.load(tmp_path / "ids.npy"), np.load(tmp_path / "mask.npy")
    out = m.run({"input_ids": ids, "attention_mask": mask})
    run_tq("run", tmp_path / "tiny_lm.onnx", "-i", f"input_ids={tmp_path / 'ids.npy'}",
           "-i", f"attention_mask={tmp_path / 'mask.npy'}", "--outputs", tmp_path / "out")
    for name, y in out.items():
        want = np.load(tmp_path / "out" / f"{name}.npy")
        assert y.dtype == want.dtype and same_bits(y, want), name
    assert out["pad"].dtype == np.bool_ and out["prediction"].dtype == np.int64
    with pytest.raises(TypeError, match="declared int64"):
        m.run({"input_ids": ids.astype(np.int32), "attention_mask": mask})
    ident = tq.Model(str(tmp_path / "identities.onnx"))
    feeds = {i["name"]: np.load(tmp_path / f"{i['name']}.npy")
             for i in ident.info()["inputs"]}
    for name, y in ident.run(feeds).items():
        x = feeds["in_" + name[len("out_"):]]
        # bfloat16 comes back as ml_dtypes.bfloat16 (np.load gives |V2)
        assert y.tobytes() == x.tobytes(), name
        assert y.dtype == x.dtype or (name == "out_bfloat16" and y.dtype.name == "bfloat16")
