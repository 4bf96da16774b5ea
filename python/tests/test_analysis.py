"""tq.evaluate, tq.stats, tq.sweep, tq.sensitivity, tq.search and
tq.report: the same numbers and documents as the tq tool, on the bundled
LeNet and a slice of Fashion-MNIST (or the same slice as NumPy arrays)."""
import json

import numpy as np
import pytest

import tensorquant as tq
from conftest import LENET, document

N = 600
OPTS = dict(limit=N, batch=128, progress=False)
TOOL = ["--limit", N, "--batch", 128, "-q"]


@pytest.fixture(scope="module")
def arrays(fashion_mnist):
    return tq.Dataset(fashion_mnist).arrays(np.arange(N))


def test_evaluate_as_the_tool(fashion_mnist, run_tq, arrays):
    want = json.loads(run_tq("eval", LENET, "--data", fashion_mnist, "--json",
                             "--weights", "fp8e4m3", *TOOL))
    for data in (fashion_mnist, arrays, tq.Dataset(arrays)):
        (rec,) = tq.evaluate(LENET, data, weights="fp8e4m3", **OPTS)
        assert {k: rec[k] for k in ("n", "top1", "top5", "loss")} == \
            {k: want[k] for k in ("n", "top1", "top5", "loss")}
    (flt,) = tq.evaluate(tq.Model(LENET), fashion_mnist, **OPTS)
    assert flt["top1"] > 0.85 and flt["split"] == "test"


def test_stats_as_the_tool(fashion_mnist, run_tq):
    want = run_tq("stats", LENET, "--data", fashion_mnist, "--json",
                  "--extr", "nearest,8,4", "--widths", "4,8", *TOOL)
    r = tq.stats(LENET, fashion_mnist, extr="nearest,8,4", widths=[4, 8], **OPTS)
    assert document(r.document) == document(want)
    conv1 = next(e for e in r if e["layer"] == "LeNet/Convolution_Block/Conv1"
                 and e["kind"] == "activation")
    assert conv1["quantized"] and conv1["count"] == N * 20 * 28 * 28
    assert conv1["max_abs"] <= 8 and {"p99.9", "abs_p99", "frac_bits_8"} <= set(conv1)


def test_sweep_as_the_tool(fashion_mnist, run_tq):
    specs = "nearest,{6,8},{auto}"
    want = run_tq("sweep", LENET, "--data", fashion_mnist, "--json", "--layers",
                  "Conv1,Dense3", "--specs", specs, "--calib", 256, *TOOL)
    r = tq.sweep(LENET, fashion_mnist, specs=specs, layers=["Conv1", "Dense3"],
                 calib=256, **OPTS)
    assert document(r.document) == document(want)
    assert [(x["layers"], x["spec"]) for x in r] == [
        ("Conv1", "nearest,6,auto"), ("Conv1", "nearest,8,auto"),
        ("Dense3", "nearest,6,auto"), ("Dense3", "nearest,8,auto")]
    assert r.float["top1"] > 0.85
    assert all(x["delta_top1"] == x["top1"] - r.float["top1"] for x in r)


def test_sensitivity_report_and_csv(fashion_mnist, run_tq, tmp_path):
    args = ["--what", "extr,weights", "--specs", "nearest,4,auto"]
    want = run_tq("sensitivity", LENET, "--data", fashion_mnist, "--json",
                  "-o", tmp_path / "tool.csv", *args, *TOOL)
    progress = []
    r = tq.sensitivity(LENET, fashion_mnist, what=["extr", "weights"],
                       specs="nearest,4,auto", **dict(OPTS, progress=lambda *a:
                                                      progress.append(a)))
    assert document(r.document) == document(want)
    assert [x["rank"] for x in r] == list(range(1, len(r) + 1))
    assert r[0]["top1"] <= r[-1]["top1"]
    assert {s for s, _, _ in progress} >= {"statistics", "sensitivity"}
    assert r.to_csv() == (tmp_path / "tool.csv").read_text()
    # the report of a document is the tool's, byte for byte
    (tmp_path / "doc.json").write_text(r.document)
    run_tq("report", tmp_path / "doc.json", "-o", tmp_path / "tool.html")
    tq.report(r, tmp_path / "py.html")
    assert (tmp_path / "py.html").read_bytes() == (tmp_path / "tool.html").read_bytes()
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(r)
    assert len(df) == len(r) and {"layers", "what", "top1", "sqnr_db"} <= set(df.columns)


def test_search_as_the_tool(fashion_mnist, run_tq, tmp_path):
    want = run_tq("search", LENET, "--data", fashion_mnist, "--json", "--budget",
                  1.0, "--widths", "8,6,4", "-o", tmp_path / "map.json", *TOOL,
                  check=False)
    r = tq.search(LENET, fashion_mnist, budget=1.0, widths=[8, 6, 4], **OPTS)
    assert document(r.document) == document(want)
    assert r.map_json == (tmp_path / "map.json").read_text()
    assert r.map == json.loads(r.map_json)
    assert len(r) == len(r.map["extrinsic"]) + len(r.map["weights"])
    assert sum(s["chosen"] for s in r.steps) == 1
    # the map runs as it is
    (rec,) = tq.evaluate(LENET, fashion_mnist, map=r.map, **OPTS)
    assert rec["n"] == N


def test_errors(fashion_mnist, arrays, tmp_path):
    with pytest.raises(ValueError, match="NoSuchLayer"):
        tq.sweep(LENET, fashion_mnist, specs="nearest,8,4", layers="NoSuchLayer", **OPTS)
    with pytest.raises(ValueError, match="without '}'") as e:
        tq.sweep(LENET, fashion_mnist, specs="nearest,{4..", **OPTS)
    assert e.value.column == 9
    with pytest.raises(ValueError, match="unknown kind .outputs."):
        tq.sensitivity(LENET, fashion_mnist, specs="nearest,8,4", what="outputs", **OPTS)
    with pytest.raises(ZeroDivisionError):  # a progress function stops the run
        tq.evaluate(LENET, fashion_mnist, limit=N, progress=lambda *a: 1 / 0)
    with pytest.raises(FileNotFoundError):
        tq.evaluate(LENET, str(tmp_path / "nothing-here"), **OPTS)
    x, y = arrays
    with pytest.raises(TypeError, match="integers"):
        tq.Dataset((x, y.astype(np.float32)))
    with pytest.raises(ValueError, match="600 samples but 599 labels"):
        tq.Dataset((x, y[:-1]))
    bad = x.copy()
    bad[3, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="sample 3 holds NaN"):
        tq.Dataset((bad, y))
    with pytest.raises(ValueError, match="split"):
        tq.Dataset(fashion_mnist, split="validation")
    with pytest.raises(TypeError, match="model must be"):
        tq.evaluate(42, fashion_mnist, **OPTS)
