"""tq.quantize and tq.Quantizer: bit-identical to `tq quantize` for every
quantizer family, zero-copy and in place, and errors."""
import tracemalloc

import numpy as np
import pytest

import tensorquant as tq
from conftest import golden, same_bits, sample_array


@pytest.mark.parametrize("spec", golden.SPECS)
def test_same_bits_as_the_tool(spec, run_tq, tmp_path):
    x = sample_array(5000, seed=len(spec)).reshape(50, 100)
    np.save(tmp_path / "x.npy", x)
    run_tq("quantize", "--spec", spec, "--seed", 7, "--stream", 3,
           "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    want = np.load(tmp_path / "y.npy")
    assert same_bits(tq.quantize(x, spec, seed=7, stream=3), want)
    assert same_bits(tq.Quantizer(spec)(x, seed=7, stream=3), want)
    # any thread count, in place, and in pieces with offsets: the same bits
    y = x.copy()
    assert tq.quantize(y, spec, seed=7, stream=3, out=y, threads=1) is y
    assert same_bits(y, want)


SCALED = ["int,8", "int,4,group=32", "int,8,asym,axis=channel", "int,6,round=stochastic",
          "fp8e4m3,scaled", "fp4e2m1,scaled,group=16", "mxfp4", "mxfp8e4m3", "mxint8",
          "nvfp4", "bfp,8", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]


@pytest.mark.parametrize("spec", SCALED)
def test_scaled_formats_use_the_shape(spec, run_tq, tmp_path):
    """Groups come from the array's shape, as tq quantize takes it from the
    NPY: blocks and axis=channel along the last axis."""
    x = sample_array(5120, seed=len(spec)).reshape(40, 128)
    np.save(tmp_path / "x.npy", x)
    run_tq("quantize", "--spec", spec, "--seed", 7, "-i", tmp_path / "x.npy",
           "-o", tmp_path / "y.npy")
    want = np.load(tmp_path / "y.npy")
    assert same_bits(tq.quantize(x, spec, seed=7), want)
    # per-channel scales need the shape: the flat array is one channel
    if "axis=channel" in spec:
        flat = tq.quantize(x.reshape(-1), spec, seed=7).reshape(x.shape)
        assert not same_bits(flat, want)


@pytest.mark.parametrize("spec", ["stochastic,8,4", "float,4,3,round=stochastic"])
def test_offsets_split_a_tensor(spec):
    x = sample_array(10000)
    whole = tq.quantize(x, spec, seed=5)
    parts = [tq.quantize(x[i:i + 1000], spec, seed=5, offset=i)
             for i in range(0, 10000, 1000)]
    assert same_bits(np.concatenate(parts), whole)
    u = tq.stochastic_u(5, 0, 123)
    assert 0.0 <= u < 1.0


def test_quantizer_object():
    q = tq.Quantizer("even,8,4,overflow=wrap")
    assert q.spec == "even,8,4,overflow=wrap"
    assert q.params == {"kind": "fixed", "ste": "identity", "width": 8, "frac": 4,
                        "signed": True, "overflow": "wrap", "round": "even"}
    assert q.range == (-8.0, 7.9375)
    assert q.bits == 8.0
    assert tq.Quantizer("fp8e4m3").bits == 8.0
    assert tq.Quantizer("ternary").params["threshold"] is None
    assert tq.Quantizer("none").range == (-np.inf, np.inf)
    assert repr(q) == "tensorquant.Quantizer('even,8,4,overflow=wrap')"
    import pickle
    assert pickle.loads(pickle.dumps(q)).spec == q.spec
    x = sample_array()
    assert same_bits(q(x), tq.quantize(x, "even,8,4,overflow=wrap"))
    assert same_bits(tq.quantize(x, q), q(x))


def test_formats_lists_every_name():
    names = {f["name"] for f in tq.formats()}
    assert {"nearest", "stochastic", "float", "fp8e4m3", "ternary"} <= names
    assert all(f["usage"] and f["description"] for f in tq.formats())
    assert tq.kernel_isa() in ("avx512", "avx2", "scalar")


def test_zero_copy_and_in_place():
    x = sample_array(1 << 20)
    out = np.empty_like(x)
    tq.quantize(x, "nearest,8,4", out=out)  # warm up
    tracemalloc.start()
    r = tq.quantize(x, "nearest,8,4", out=out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r is out
    assert peak < 64 * 1024, f"{peak} bytes allocated: the input was copied"
    y = x.copy()
    assert tq.quantize(y, "nearest,8,4", out=y) is y
    assert same_bits(y, out)
    # a new array otherwise, of the input's shape; the input is untouched
    x2 = x.reshape(1024, 1024)
    before = x2.copy()
    z = tq.quantize(x2, "nearest,8,4")
    assert z.shape == (1024, 1024) and z.dtype == np.float32
    assert not np.shares_memory(z, x2) and same_bits(x2, before)


def test_non_contiguous_input_is_copied_first():
    x = sample_array(4096).reshape(64, 64)
    t = x.T  # Fortran order
    assert same_bits(tq.quantize(t, "nearest,6,3"),
                     tq.quantize(np.ascontiguousarray(t), "nearest,6,3"))
    s = x[:, ::2]
    assert same_bits(tq.quantize(s, "nearest,6,3"),
                     tq.quantize(np.ascontiguousarray(s), "nearest,6,3"))
    # lists and scalars are array-likes
    assert same_bits(tq.quantize([0.3, -1.2], "nearest,8,2"),
                     np.array([0.25, -1.25], np.float32))


def test_errors():
    x = sample_array(64)
    with pytest.raises(ValueError, match=r"unknown quantizer 'nearst' at position 1") as e:
        tq.quantize(x, "nearst,8,4")
    assert e.value.status == "parse error" and e.value.column == 1
    with pytest.raises(ValueError, match="position"):
        tq.Quantizer("nearest,8,4,overflow=wrp")
    with pytest.raises(ValueError):
        tq.quantize(x, "nearest,80,4")
    with pytest.raises(TypeError, match=r"float64.*astype"):
        tq.quantize(x.astype(np.float64), "nearest,8,4")
    with pytest.raises(TypeError, match="int32"):
        tq.quantize(np.arange(4, dtype=np.int32), "nearest,8,4")
    with pytest.raises(TypeError, match="spec must be"):
        tq.quantize(x, 8)
    with pytest.raises(ValueError, match="shape"):
        tq.quantize(x, "nearest,8,4", out=np.empty(63, np.float32))
    with pytest.raises(TypeError, match="float32"):
        tq.quantize(x, "nearest,8,4", out=np.empty(64, np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        tq.quantize(x[::2], "nearest,8,4", out=np.empty(64, np.float32)[::2])
    ro = np.empty(64, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        tq.quantize(x, "nearest,8,4", out=ro)
    buf = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        tq.quantize(buf[:64], "nearest,8,4", out=buf[10:74])
    with pytest.raises(ValueError, match="seed"):
        tq.quantize(x, "nearest,8,4", seed=-1)
    with pytest.raises(ValueError, match="threads"):
        tq.quantize(x, "nearest,8,4", threads=0)
    with pytest.raises(TypeError):
        tq.quantize(x, "nearest,8,4", bogus=1)
