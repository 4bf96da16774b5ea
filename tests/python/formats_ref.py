"""Independent reference of the scaled and block formats (docs/design.md
§2.10), written from the rules in numpy float32 arithmetic, for
tests/cli/formats.sh.

  formats_ref.py check TQ DIR
      writes inputs to DIR (edge cases: ties, +-0, subnormals, NaN and
      infinite groups, zero groups, groups of one, ragged last blocks, huge
      and tiny scales; and random data over 2^-140 .. 2^100), runs
      `TQ quantize --spec SPEC` on each for every format below and compares
      the outputs with this reference bit for bit (NaN outputs must be NaN
      where the reference is; payloads are not compared). Element rounding
      comes from ml_dtypes (float8/6/4, saturated first, since ml_dtypes
      overflows to NaN or inf) and numpy.float16; llama.cpp's blocks come
      from gguf.quants (quantize then dequantize), which the reference of
      those formats is. Prints one line per format; exits 1 on a mismatch.

Stochastic rounding is not covered here (its random numbers are tested in
the C unit tests, which compare every kernel with the reference).
"""
import os
import subprocess
import sys

import numpy as np

try:
    import ml_dtypes
except ImportError:
    sys.exit("formats_ref.py: ml_dtypes is not installed in this Python")
try:
    from gguf import GGMLQuantizationType as GT
    from gguf import quants as gguf_quants
except ImportError:  # reported by the caller: llama.cpp's blocks are skipped
    gguf_quants = None

F32 = np.float32
FLT_MAX = F32(np.finfo(np.float32).max)

# Element formats: (ml_dtypes or numpy type, largest finite value).
ELEMENTS = {
    "fp16": (np.float16, 65504.0),
    "fp8e5m2": (ml_dtypes.float8_e5m2, 57344.0),
    "fp8e4m3": (ml_dtypes.float8_e4m3fn, 448.0),
    "fp6e3m2": (ml_dtypes.float6_e3m2fn, 28.0),
    "fp6e2m3": (ml_dtypes.float6_e2m3fn, 7.5),
    "fp4e2m1": (ml_dtypes.float4_e2m1fn, 6.0),
}
SCALES = {  # scale= formats rounded to nearest even: type, max, min subnormal
    "bf16": (ml_dtypes.bfloat16, float(ml_dtypes.finfo(ml_dtypes.bfloat16).max), 2.0**-133),
    "fp16": (np.float16, 65504.0, 2.0**-24),
    "fp8e4m3": (ml_dtypes.float8_e4m3fn, 448.0, 2.0**-9),
}


def elem_round(t, name):
    """t (float32) to the element format, nearest even, saturating."""
    dtype, mx = ELEMENTS[name]
    with np.errstate(invalid="ignore"):
        c = np.clip(t, F32(-mx), F32(mx))
    out = c.astype(dtype).astype(F32)
    return np.where(np.isnan(t), t, out)


def pow2(k):
    return np.ldexp(F32(1), np.asarray(k, dtype=np.int32)).astype(F32)


def floor_log2(a):
    """floor(log2 a) for finite a > 0 (float32 frexp is exact)."""
    _, e = np.frexp(a.astype(F32))
    return e.astype(np.int64) - 1


def store_scale(s, fmt):
    s = s.astype(F32)
    if fmt == "fp32":
        s = np.where(s == 0, F32(2.0**-149), s)
        return np.where(np.isinf(s), FLT_MAX, s).astype(F32)
    if fmt in SCALES:
        dtype, mx, tiny = SCALES[fmt]
        r = np.minimum(s, F32(mx)).astype(dtype).astype(F32)
        return np.where(r == 0, F32(tiny), r).astype(F32)
    lo = -127 if fmt == "e8m0" else -149
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = s > 0
        k = np.where(pos & np.isfinite(s), floor_log2(np.where(pos, s, 1)), lo)
        k = k + ((pos & np.isfinite(s)) & (s != pow2(np.clip(k, -149, 127))))
    k = np.where(np.isinf(s), 127, k)
    return pow2(np.clip(k, lo, 127))


def round_int(t, mode):
    """Rounds the float32 t to integers (as float64) by the mode."""
    t = t.astype(np.float64)
    a = np.abs(t)
    ip = np.floor(a)
    fr = a - ip
    neg = np.signbit(t)
    inc = {
        "even": (fr > 0.5) | ((fr == 0.5) & (np.fmod(ip, 2) == 1)),
        "nearest": fr >= 0.5,
        "half_up": np.where(neg, fr > 0.5, fr >= 0.5),
        "half_down": np.where(neg, fr >= 0.5, fr > 0.5),
        "half_zero": fr > 0.5,
        "down": neg & (fr > 0),
        "up": ~neg & (fr > 0),
        "zero": np.zeros_like(fr, dtype=bool),
        "away": fr > 0,
    }[mode]
    m = ip + inc
    return np.where(neg, -m, m)


def parse_spec(spec):
    name, *rest = spec.split(",")
    args, opts = [], {}
    for f in rest:
        if "=" in f:
            k, v = f.split("=")
            opts[k] = v
        elif f[0].isalpha():
            opts[f] = True
        else:
            args.append(int(f))
    return name, args, opts


def groups_view(x, axis, block):
    """x with the group axis last as [..., nb, block] (zero padded), and a
    function that undoes it. axis None: the whole tensor is one group."""
    if axis is None:
        flat = x.reshape(1, -1)
        return flat, lambda y: y.reshape(x.shape)
    xt = np.moveaxis(x, axis, -1)
    d = xt.shape[-1]
    if block is None:  # per channel: [d, everything else]
        g = np.moveaxis(xt, -1, 0).reshape(d, -1)

        def back(y):
            return np.moveaxis(np.moveaxis(y.reshape((d,) + xt.shape[:-1]), 0, -1), -1, axis)

        return g, back
    nb = -(-d // block)
    pad = np.zeros(xt.shape[:-1] + (nb * block - d,), dtype=F32)
    g = np.concatenate([xt, pad], axis=-1).reshape(-1, block)

    def back(y):
        y = y.reshape(xt.shape[:-1] + (nb * block,))[..., :d]
        return np.moveaxis(y, -1, axis)

    return g, back


def quantize(spec, x, rng_range=None):
    """The reference: x (float32 array, any shape) quantized by spec, with
    the defaults of `tq quantize` (channel and block axis the last)."""
    name, args, o = parse_spec(spec)
    x = x.astype(F32)
    last = x.ndim - 1
    elem, default_block, integer = None, None, None
    if name == "int":
        integer = True
    elif name in ELEMENTS:
        elem = name
    elif name.startswith("mx"):
        default_block = 32
        elem = {"mxfp8e4m3": "fp8e4m3", "mxfp8e5m2": "fp8e5m2", "mxfp6e3m2": "fp6e3m2",
                "mxfp6e2m3": "fp6e2m3", "mxfp4": "fp4e2m1", "mxint8": None}[name]
        integer = elem is None
    elif name == "nvfp4":
        default_block, elem = 16, "fp4e2m1"
    elif name == "bfp":
        default_block, integer = 16, True
    block = int(o["group"]) if "group" in o else default_block
    if "axis" in o:
        axis = last if o["axis"] == "channel" else int(o["axis"]) % x.ndim
    else:
        axis = last if block is not None else None
    g, back = groups_view(x, axis, block)
    with np.errstate(all="ignore"):
        finite = np.isfinite(g)
        bad = ~finite.all(axis=1, keepdims=True)
        gf = np.where(finite, g, F32(0))
        amax = np.abs(gf).max(axis=1, keepdims=True).astype(F32)
        gmin = gf.min(axis=1, keepdims=True)
        gmax = gf.max(axis=1, keepdims=True)
        if "static" in o:
            lo, hi = rng_range
            lo, hi = F32(lo), F32(hi)
            amax = np.full_like(amax, max(abs(lo), abs(hi)))
            gmin, gmax = np.full_like(gmin, lo), np.full_like(gmax, hi)
            bad = np.zeros_like(bad)
        lo_q = hi_q = None
        zero_block = np.zeros_like(bad)
        if name == "int":
            b = args[0]
            fmt = o.get("scale", "fp32")
            if "asym" in o:
                full = F32(2.0**b - 1)
                lo = np.minimum(gmin, F32(0))
                hi = np.maximum(gmax, F32(0))
                s = store_scale((hi - lo) / full, fmt)
                zp = np.clip(np.rint(-lo / s), 0, full)  # rint: half to even
                lo_q, hi_q = -zp, full - zp
            elif "unsigned" in o:
                full = F32(2.0**b - 1)
                s = store_scale(amax / full, fmt)
                lo_q, hi_q = 0.0, float(full)
            else:
                qmax = F32(2.0 ** (b - 1) - 1)
                s = store_scale(amax / qmax, fmt)
                lo_q, hi_q = (-float(qmax) if "narrow" in o else -float(qmax) - 1), float(qmax)
        elif name in ELEMENTS:
            s = store_scale(amax / F32(ELEMENTS[name][1]), o.get("scale", "fp32"))
        elif name.startswith("mx"):
            mx = 127.0 / 64.0 if integer else ELEMENTS[elem][1]
            emax = int(np.floor(np.log2(mx)))
            pos = amax > 0
            k = np.where(pos, floor_log2(np.where(pos, amax, 1)) - emax, -127)
            if o.get("scale_round") == "ceil":
                k = k + (pos & (amax.astype(np.float64) > mx * np.ldexp(1.0, k)))
            k = np.clip(k, -127, 127)
            s = pow2(k - 6) if integer else pow2(k)
            lo_q, hi_q = -127.0, 127.0
        elif name == "nvfp4":
            tensor_amax = F32(np.abs(np.where(np.isfinite(x), x, 0)).max()) if x.size else F32(0)
            t = F32(tensor_amax / F32(2688))
            t = F32(2.0**-149) if t == 0 else t
            v = amax / F32(6) / t
            sb = np.minimum(v, F32(448)).astype(ml_dtypes.float8_e4m3fn).astype(F32)
            d = (sb * t).astype(F32)
            zero_block = (amax == 0) | (d == 0)
            s = np.where(zero_block, F32(1), d).astype(F32)
        elif name == "bfp":
            m = args[0]
            pos = amax > 0
            k = np.where(pos, floor_log2(np.where(pos, amax, 1)) - m + 2, -149)
            s = pow2(np.maximum(k, -149))
            q = float(2 ** (m - 1) - 1)
            lo_q, hi_q = -q, q
        s = np.broadcast_to(s, g.shape).astype(F32)
        t = (g / s).astype(F32)
        if integer:
            r = round_int(np.clip(t, F32(-2.0**24), F32(2.0**24)), o.get("round", "even"))
            r = np.clip(r, lo_q, hi_q).astype(F32) + F32(0)
            y = (r * s).astype(F32)
        else:
            y = (elem_round(t, elem) * s).astype(F32)
            y = np.where(zero_block, np.copysign(F32(0), g), y).astype(F32)
        y = np.where(np.isnan(t), np.nan, y).astype(F32)
        y = np.where(bad, np.nan, y).astype(F32)
    return back(y)


def gguf_reference(spec, x):
    """gguf's numpy quantize + dequantize, except one case where it departs
    from ggml's C reference: in a block of zeros only, q4_0/q5_0 start from
    max = +0.0f in C (no element is larger), so d = -0.0 and every output is
    -0.0; gguf takes the signed element itself (-0 gives d = +0)."""
    t = {"q8_0": GT.Q8_0, "q4_0": GT.Q4_0, "q4_1": GT.Q4_1, "q5_0": GT.Q5_0, "q5_1": GT.Q5_1}[spec]
    with np.errstate(all="ignore"):
        y = gguf_quants.dequantize(gguf_quants.quantize(x, t), t).astype(F32)
    if spec in ("q4_0", "q5_0"):
        blocks = x.reshape(-1, 32)
        zero = (blocks == 0).all(axis=1, keepdims=True)
        y = np.where(zero, F32(-0.0), y.reshape(-1, 32)).astype(F32).reshape(x.shape)
    return y


# ---- inputs ----------------------------------------------------------------

def edge_rows(width):
    """Rows of `width` values, each an edge case for a group of the last
    axis."""
    r = np.random.default_rng(5)
    rows = []
    base = r.standard_normal(width).astype(F32)
    rows.append(np.zeros(width, F32))                          # zero group
    rows.append(np.array([-0.0] * width, F32))                 # -0 group
    z = base.copy(); z[3] = np.nan; rows.append(z)             # NaN group
    z = base.copy(); z[1] = np.inf; rows.append(z)             # inf group
    z = base.copy(); z[-1] = -np.inf; rows.append(z)
    rows.append((np.arange(width) - width // 2).astype(F32) / F32(2))  # ties
    rows.append((np.arange(width) - width // 3).astype(F32) * F32(0.25))
    rows.append((base * F32(2.0**-140)).astype(F32))           # subnormals
    rows.append((base * F32(2.0**-128)).astype(F32))
    rows.append((base * F32(2.0**100)).astype(F32))            # huge
    rows.append((base * F32(1e38)).astype(F32))
    rows.append((base * F32(2.0**-60)).astype(F32))            # tiny scales
    z = base.copy(); z[0] = F32(1e30); rows.append(z)          # one large element
    rows.append(np.abs(base))                                  # non-negative
    rows.append(-np.abs(base))                                 # non-positive
    rows.append(np.full(width, F32(3.0)))                      # constant
    z = base.copy(); z[5] = F32(7.0); z[6] = F32(-7.0); rows.append(z)  # equal |max|
    return np.stack(rows).astype(F32)


def random_tensor(shape, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal(shape) * np.exp2(r.integers(-140, 100, size=shape[:-1] + (1,)))
    return x.astype(F32)


def inputs():
    e = edge_rows(64)
    return {
        "edge": e,                                     # [17, 64]
        "edge3": e.reshape(17, 4, 16).transpose(0, 2, 1).copy(),  # blocks on a middle axis
        "ragged": random_tensor((6, 5, 37), 1),        # last axis 37: ragged blocks
        "rand": random_tensor((8, 96), 2),
        "one": random_tensor((3, 1), 3),               # groups of one
    }


SPECS = [
    "int,8", "int,4", "int,8,narrow", "int,8,asym", "int,3,unsigned", "int,16",
    "int,8,axis=0", "int,8,axis=channel", "int,8,asym,axis=channel", "int,5,asym,axis=0", "int,4,axis=1,group=8", "int,4,group=32",
    "int,8,asym,axis=-1,group=5", "int,6,axis=0,group=3", "int,8,group=1",
    "int,4,round=nearest", "int,4,round=zero", "int,4,round=half_down,axis=0",
    "int,4,round=away,group=16", "int,4,round=up,asym", "int,4,round=down,unsigned",
    "int,8,scale=bf16", "int,8,scale=fp16,axis=0", "int,8,scale=fp8e4m3,group=8",
    "int,8,scale=e8m0,axis=0", "int,4,scale=po2,group=16", "int,8,asym,scale=fp8e4m3",
    "int,8,static", "int,8,asym,static",
    "fp8e4m3,scaled", "fp8e4m3,scaled,axis=0", "fp8e5m2,scaled,axis=channel",
    "fp16,scaled,group=16", "fp6e3m2,scaled,group=32", "fp6e2m3,scaled,axis=-1,group=8",
    "fp4e2m1,scaled,group=16", "fp8e4m3,scaled,scale=e8m0,group=32", "fp8e4m3,scaled,static",
    "mxfp8e4m3", "mxfp8e5m2", "mxfp6e3m2", "mxfp6e2m3", "mxfp4", "mxint8",
    "mxfp4,scale_round=ceil", "mxint8,scale_round=ceil", "mxfp8e4m3,scale_round=ceil",
    "mxfp4,axis=0", "mxfp4,group=16", "mxfp6e2m3,axis=1,group=4",
    "nvfp4", "nvfp4,axis=0", "nvfp4,group=32", "nvfp4,axis=1,group=5",
    "bfp,8", "bfp,4", "bfp,8,group=32", "bfp,2,group=3", "bfp,16,axis=0,group=7",
]
GGML = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]
STATIC_RANGE = (-2.5, 3.75)


def same(want, got):
    """Bit-identical, or NaN both."""
    wb, gb = want.view(np.uint32), got.view(np.uint32)
    return (wb == gb) | (np.isnan(want) & np.isnan(got))


def run_tq(tq, spec, inp, out, extra=()):
    p = subprocess.run([tq, "quantize", "--spec", spec, "-i", inp, "-o", out, *extra],
                       capture_output=True, text=True)
    return p.returncode, p.stderr.strip()


def check(tq, d):
    bad = 0
    data = inputs()
    for k, x in data.items():
        np.save(os.path.join(d, k + ".npy"), x)
    cases = [(s, k) for s in SPECS for k in data]
    if gguf_quants is not None:
        cases += [(s, k) for s in GGML for k in data if data[k].shape[-1] % 32 == 0]
    else:
        print("formats_ref: gguf is not installed: llama.cpp blocks skipped")
    per_spec = {}
    for spec, k in cases:
        x = data[k]
        inp, out = os.path.join(d, k + ".npy"), os.path.join(d, "out.npy")
        extra = ("--range", "%r,%r" % STATIC_RANGE) if "static" in spec else ()
        rc, err = run_tq(tq, spec, inp, out, extra)
        if rc != 0:
            print("FAIL %s on %s: tq quantize failed: %s" % (spec, k, err))
            bad += 1
            continue
        got = np.load(out)
        want = gguf_reference(spec, x) if spec in GGML else quantize(spec, x, STATIC_RANGE)
        ok = same(want, got)
        n_bad = int((~ok).sum())
        per_spec.setdefault(spec, [0, 0])
        per_spec[spec][0] += got.size
        per_spec[spec][1] += n_bad
        if n_bad:
            bad += 1
            i = np.flatnonzero(~ok.reshape(-1))[:3]
            for j in i:
                print("FAIL %s on %s [%d]: x=%r want=%r (0x%08x) got=%r (0x%08x)" % (
                    spec, k, j, x.reshape(-1)[j], want.reshape(-1)[j],
                    want.reshape(-1).view(np.uint32)[j], got.reshape(-1)[j],
                    got.reshape(-1).view(np.uint32)[j]))
    for spec, (n, nb) in per_spec.items():
        print("%-40s %7d values, %d differ" % (spec, n, nb))
    # A shape llama.cpp cannot take is refused with the length named.
    if gguf_quants is not None:
        rc, err = run_tq(tq, "q4_0", os.path.join(d, "ragged.npy"), os.path.join(d, "o.npy"))
        if rc == 0 or "not a multiple of 32" not in err or "37" not in err:
            print("FAIL q4_0 on a last axis of 37: %d %s" % (rc, err))
            bad += 1
    return bad


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "check":
        sys.exit(__doc__)
    bad = check(sys.argv[2], sys.argv[3])
    print("formats_ref: %s" % ("all outputs identical" if not bad else "%d case(s) differ" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
