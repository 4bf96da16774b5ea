"""No leaks: 10,000 calls of each entry point leave Python's traced memory
(tracemalloc) and the process's resident memory (RSS) where they were."""
import gc
import tracemalloc

import numpy as np

import tensorquant as tq
from conftest import LENET

LOOPS = 10_000


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def traced_blocks():
    return len(tracemalloc.take_snapshot().traces)


def check_no_growth(step, loops=LOOPS, rss_limit=8 << 20):
    """A leak leaves blocks behind on every call: after `loops` calls there
    are not `loops` more traced blocks (a few come and go: caches), and the
    resident memory has not grown by more than rss_limit."""
    for _ in range(200):  # warm up: caches, arenas, thread contexts
        step()
    gc.collect()
    tracemalloc.start()
    blocks, rss = traced_blocks(), rss_bytes()
    for _ in range(loops):
        step()
    gc.collect()
    grown_blocks = traced_blocks() - blocks
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    grown = rss_bytes() - rss
    assert grown_blocks < 50, f"{grown_blocks} more Python blocks ({traced} bytes traced)"
    assert grown < rss_limit, f"RSS grew by {grown} bytes"


def test_quantize_does_not_leak():
    x = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
    out = np.empty_like(x)
    q = tq.Quantizer("stochastic,8,4")

    def step():
        tq.quantize(x, "nearest,8,4")
        tq.quantize(x, q, seed=3, out=out)
        q(x.reshape(64, 64).T)  # the copy path
        tq.quantize(x, "even,8,4", seed=1, stream=2, offset=3, threads=1)
    check_no_growth(step)


def test_errors_do_not_leak():
    x = np.zeros(16, np.float32)

    def step():
        for bad in (lambda: tq.quantize(x, "nearst,8,4"),
                    lambda: tq.quantize(x.astype(np.float64), "nearest,8,4"),
                    lambda: tq.quantize(x, "nearest,8,4", out=x[:8])):
            try:
                bad()
            except (ValueError, TypeError):
                pass
    check_no_growth(step)


def test_model_runs_do_not_leak():
    m = tq.Model(LENET, threads=1)
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)

    def step():
        m.run(x, extr="nearest,8,4")
        m.run({"input": x}, weights={"Conv": "nearest,8,6"}, dump=True)
        tq.Map({"Conv1": "nearest,8,4"}).resolve("LeNet/Conv1", ["Conv1.weight"])
    check_no_growth(step, loops=2000)
    m.close()


def test_model_life_cycle_does_not_leak():
    x = np.zeros((1, 1, 28, 28), np.float32)

    def step():
        with tq.Model(LENET, threads=1) as m:
            m.run(x)
    check_no_growth(step, loops=500)
