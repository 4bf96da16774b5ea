"""Calls from several Python threads at once give the same bits as one
thread: one context per thread, the GIL released while kernels and models
run."""
import threading

import numpy as np

import tensorquant as tq
from conftest import LENET, same_bits

SPECS = ["stochastic,8,4", "nearest,6,3", "float,4,3,round=stochastic", "ternary"]


def run_threads(fn, n=4):
    results, errors = [None] * n, []

    def body(i):
        try:
            results[i] = fn(i)
        except BaseException as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_quantize_from_threads():
    x = np.random.default_rng(2).standard_normal(1 << 18).astype(np.float32) * 6
    want = {s: tq.quantize(x, s, seed=9) for s in SPECS}

    def work(i):
        return [tq.quantize(x, s, seed=9, threads=1 + i % 2) for s in SPECS * 5]
    for got in run_threads(work):
        for s, y in zip(SPECS * 5, got):
            assert same_bits(y, want[s]), s


def test_errors_stay_in_their_thread():
    def work(i):
        msgs = []
        for k in range(50):
            try:
                tq.quantize(np.zeros(4, np.float32), f"nearest,{40 + i},4")
            except ValueError as e:
                msgs.append(str(e))
        return msgs
    for i, msgs in enumerate(run_threads(work)):
        assert all(f"nearest,{40 + i},4" in m for m in msgs)


def test_models_from_threads():
    x = np.random.default_rng(3).random((4, 1, 28, 28), dtype=np.float32)
    maps = [dict(extr="stochastic,8,4", seed=5), dict(weights="nearest,6,5"), {}]
    with tq.Model(LENET) as m:
        want = [m.run(x, **kw)["probabilities"] for kw in maps]
    shared = tq.Model(LENET)

    def work(i):
        own = tq.Model(LENET)
        out = []
        for _ in range(3):
            for kw in maps:
                out.append(own.run(x, **kw)["probabilities"])
                out.append(shared.run(x, **kw)["probabilities"])
        own.close()
        return out
    for got in run_threads(work):
        for k, y in enumerate(got):
            assert same_bits(y, want[(k // 2) % len(maps)])
    shared.close()
