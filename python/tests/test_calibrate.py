"""tq.calibrate: the dict `tq calibrate` writes as calib.json, for every
method, from the training split by default; tq.evaluate(calibration=...)
gives static specs those ranges as `tq eval --calib` does."""
import json

import numpy as np
import pytest

import tensorquant as tq
from conftest import LENET

N = 300
CONV1 = "LeNet/Convolution_Block/Conv1"


@pytest.mark.parametrize("method", ["minmax", "percentile=99.9", "entropy",
                                    "mse"])
def test_calibrate_as_the_tool(fashion_mnist, run_tq, tmp_path, method):
    out = tmp_path / "calib.json"
    run_tq("calibrate", LENET, "--data", fashion_mnist, "--limit", N,
           "--method", method, "-o", out)
    want = json.loads(out.read_text())
    got = tq.calibrate(LENET, fashion_mnist, method=method, limit=N,
                       progress=False)
    assert got == want
    assert got["method"] == method and got["samples"] == N
    assert len(got["layers"]) == 13
    r = got["layers"][CONV1]
    assert r["min"] < 0 < r["max"]


def test_split_and_arrays(fashion_mnist):
    train = tq.calibrate(LENET, fashion_mnist, limit=N, progress=False)
    test = tq.calibrate(LENET, fashion_mnist, limit=N, split="test",
                        progress=False)
    assert train["layers"] != test["layers"]
    # the same samples as arrays: the same ranges
    x, y = tq.Dataset(fashion_mnist, split="train").arrays(np.arange(N))
    assert tq.calibrate(LENET, (x, y), progress=False)["layers"] == \
        train["layers"]


def test_evaluate_with_calibration(fashion_mnist, run_tq, tmp_path):
    cal = tq.calibrate(LENET, fashion_mnist, limit=N, progress=False)
    path = tmp_path / "calib.json"
    path.write_text(json.dumps(cal))
    want = json.loads(run_tq("eval", LENET, "--data", fashion_mnist, "--limit",
                             N, "--extr", "int,8,static", "--calib", path,
                             "--json", "-q"))
    for c in (cal, path, str(path)):
        (rec,) = tq.evaluate(LENET, fashion_mnist, extr="int,8,static",
                             calibration=c, limit=N, progress=False)
        assert (rec["top1"], rec["loss"]) == (want["top1"], want["loss"])
    with pytest.raises(ValueError, match="layer 'Input/Center'.*static"):
        tq.evaluate(LENET, fashion_mnist, extr="int,8,static", limit=10,
                    progress=False)


def test_bad_arguments(fashion_mnist):
    with pytest.raises(ValueError, match="unknown calibration method 'kl'"):
        tq.calibrate(LENET, fashion_mnist, method="kl", limit=10,
                     progress=False)
    with pytest.raises(TypeError):
        tq.calibrate(LENET, fashion_mnist, method=3, progress=False)
    with pytest.raises(ValueError, match="layer 'Nope'"):
        tq.evaluate(LENET, fashion_mnist, extr="int,8,static", limit=10,
                    calibration={"method": "minmax", "samples": 1, "layers": {
                        "Nope": {"min": 0, "max": 1}}}, progress=False)
