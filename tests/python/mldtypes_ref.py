"""Reference conversions for tests/cli/mldtypes.sh, from ml_dtypes and numpy.

  mldtypes_ref.py generate IN.npy
      writes float32 inputs: specials, every code of each compared format
      with the midpoints between neighbouring codes (ties) and their float32
      neighbours, and random float32 bit patterns.
  mldtypes_ref.py compare FORMAT IN.npy OUT.npy
      compares `tq quantize --spec FORMAT` output OUT.npy with the float32 ->
      format -> float32 conversion of IN.npy by ml_dtypes (numpy.float16 for
      fp16), bit for bit. Prints one summary line; exits 1 on any mismatch.

NaN inputs: our output must be NaN. ml_dtypes converts NaN to +-0 for the
OCP MX types float6_e3m2fn, float6_e2m3fn and float4_e2m1fn, which have no
NaN code; TensorQuant keeps NaN as NaN for every quantizer (docs/design.md §2,
"NaN stays NaN"), so NaN inputs are compared only as "output is NaN". Where
both sides are NaN the payloads are not compared.
"""
import sys

import numpy as np

try:
    import ml_dtypes
except ImportError:  # the shell script installs it; say so if it did not
    sys.exit("mldtypes_ref.py: ml_dtypes is not installed in this Python")

FORMATS = {
    "fp8e5m2": ml_dtypes.float8_e5m2,
    "fp8e4m3": ml_dtypes.float8_e4m3fn,
    "fp6e3m2": ml_dtypes.float6_e3m2fn,
    "fp6e2m3": ml_dtypes.float6_e2m3fn,
    "fp4e2m1": ml_dtypes.float4_e2m1fn,
    "bf16": ml_dtypes.bfloat16,
    "fp16": np.float16,
}

SPECIAL_BITS = [
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF,
    0x00800000, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
    0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x3F800000,
]
EDGES = [447, 448, 449, 464, 465, 480, 57344, 61439, 61440, 65504,
         65519.99, 65520, 28, 30, 32, 7.5, 7.75, 8, 6, 6.5, 7]


def format_values(dtype):
    """Every finite value of a format, as float64, sorted and unique."""
    bits = np.dtype(dtype).itemsize * 8
    codes = np.arange(2 ** bits, dtype=np.uint64).astype(
        np.uint8 if bits == 8 else np.uint16)
    with np.errstate(invalid="ignore"):  # the NaN codes
        values = codes.view(dtype).astype(np.float64)
    return np.unique(values[np.isfinite(values)])


def generate(path):
    rng = np.random.default_rng(20240611)
    parts = [np.array(SPECIAL_BITS, dtype=np.uint32).view(np.float32)]
    edges = np.array(EDGES, dtype=np.float32)
    parts += [edges, -edges]
    for dtype in FORMATS.values():
        v = format_values(dtype)
        mid = (v[:-1] + v[1:]) / 2  # exact in float64: the ties
        above = v[-1] + (v[-1] - v[-2]) / 2  # the tie above max
        with np.errstate(over="ignore"):  # 2 max of bf16 is inf in float32
            grid = np.concatenate([v, mid, [above, 2 * v[-1]]]).astype(
                np.float32)
        parts += [grid, np.nextafter(grid, np.float32(np.inf)),
                  np.nextafter(grid, np.float32(-np.inf))]
    # float32 subnormals and tiny normals, where the formats flush to zero
    tiny = np.arange(1, 4096, dtype=np.uint32)
    parts += [tiny.view(np.float32), (tiny | 0x80000000).view(np.float32),
              (tiny << 19).view(np.float32)]
    parts.append(rng.integers(0, 2 ** 32, size=1 << 20,
                              dtype=np.uint64).astype(np.uint32)
                 .view(np.float32))
    x = np.concatenate([p.astype(np.float32) for p in parts])
    np.save(path, x.reshape(-1, 16) if x.size % 16 == 0 else x)


def compare(fmt, in_path, out_path):
    x = np.load(in_path)
    got = np.load(out_path)
    if got.dtype != np.float32 or got.shape != x.shape:
        print(f"{fmt}: output is {got.dtype}{got.shape}, expected "
              f"float32{x.shape}")
        return 1
    x, got = x.ravel(), got.ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        want = x.astype(FORMATS[fmt]).astype(np.float32)
    nan_in = np.isnan(x)
    same = (want.view(np.uint32) == got.view(np.uint32)) | (
        np.isnan(want) & np.isnan(got))
    bad_values = ~nan_in & ~same
    bad_nan = nan_in & ~np.isnan(got)
    bad = np.flatnonzero(bad_values | bad_nan)
    print(f"{fmt}: {x.size} values, {nan_in.sum()} NaN inputs, "
          f"{bad.size} mismatches")
    for i in bad[:10]:
        print(f"  in=0x{x.view(np.uint32)[i]:08x} ({x[i]!r}) "
              f"ml_dtypes=0x{want.view(np.uint32)[i]:08x} ({want[i]!r}) "
              f"tq=0x{got.view(np.uint32)[i]:08x} ({got[i]!r})")
    return 1 if bad.size else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "generate":
        generate(argv[2])
        return 0
    if len(argv) == 5 and argv[1] == "compare" and argv[2] in FORMATS:
        return compare(argv[2], argv[3], argv[4])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
