"""Shared fixtures of the tensorquant tests: the tq tool to compare with
(TQ_BIN, set by CTest; else <repo>/build/tq), the bundled LeNet, the
golden suite's spec and map lists, Fashion-MNIST when installed."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.environ.get("TQ_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
import golden  # noqa: E402  (SPECS, LENET_INTR, MAPS_JSON, strip_timing)

LENET = os.path.join(ROOT, "models", "lenet-fashion-mnist.onnx")
FMNIST = os.environ.get("TQ_FASHION_MNIST_DIR") or golden.FMNIST


@pytest.fixture(scope="session")
def tq_bin():
    path = os.environ.get("TQ_BIN") or os.path.join(ROOT, "build", "tq")
    if not os.access(path, os.X_OK):
        pytest.skip("no tq tool to compare with (set TQ_BIN)")
    return path


@pytest.fixture(scope="session")
def run_tq(tq_bin):
    """Runs tq with arguments; returns its stdout (fails the test on an
    error exit)."""
    def run(*args, check=True):
        r = subprocess.run([tq_bin, *map(str, args)], capture_output=True,
                           text=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
        if check and r.returncode != 0:
            pytest.fail(f"tq {' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
        return r.stdout
    return run


@pytest.fixture(scope="session")
def fashion_mnist():
    if not os.path.isdir(FMNIST):
        pytest.skip("Fashion-MNIST not installed (Debian's dataset-fashion-mnist)")
    return "fashion-mnist"


def sample_array(n=4096, seed=0):
    """Normal values with standard deviation 6 plus the edge cases every
    quantizer must handle: zeros of both signs, ties, infinities, NaN,
    subnormals, the largest floats."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 6).astype(np.float32)
    edges = np.array([0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 0.03125, np.inf, -np.inf,
                      np.nan, 1e-45, -1e-40, 3.4e38, -3.4e38, 7.96875, 8.0],
                     dtype=np.float32)
    x[:len(edges)] = edges
    return x


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def document(text):
    """A tq-report/1 document without timing fields, where it was made
    (created_by) and the model's path as given."""
    doc = golden.strip_timing(json.loads(text) if isinstance(text, str) else text)
    doc.pop("created_by", None)
    doc.pop("model", None)
    return doc
