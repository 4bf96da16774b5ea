"""Golden outputs: every output of a set of tq commands (models x maps,
quantizers, training, analysis), hashed, so that a change that must not
change behaviour can prove it did not.

  golden.py record --tq TQ --dir D [--portable]   run every case, write D/manifest.tsv
  golden.py check  --tq TQ --dir D [--portable]   run again, compare with D/manifest.tsv
  golden.py check  --tq TQ --dir D --manifest M --portable

The inputs (arrays, exported models) are made once into D/inputs by the
first `record` and reused by every later run, so that record and check see
the same bytes. JSON documents are compared without their timing fields.

Two sets of cases:
  --portable  only cases whose bits do not depend on the CPU: quantizers
              on edge values and random data, intrinsic emulation of every
              Conv/Gemm of the bundled LeNet, map resolution. Their
              manifest is kept in the repository (tests/golden/
              portable.tsv) and checked by CTest (cli_golden).
  (default)   all cases, including float GEMMs (OpenBLAS picks kernels by
              CPU), training and analysis: for comparing two builds on one
              machine (scripts/golden.sh), as refactors do.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LENET = os.path.join(ROOT, "models", "lenet-fashion-mnist.onnx")
FMNIST = "/usr/share/datasets/fashion-mnist"
TIMING = re.compile(r"(seconds|_per_s|elapsed|_ms$|^ms$|time|created|date|threads$|blas_core)")

# Quantizer specs: every family and option the parser takes.
SPECS = [
    "nearest,8,4", "nearest,8,4,overflow=wrap", "nearest,8,4,overflow=sat_sym",
    "nearest,8,4,signed=false", "nearest,1,0", "nearest,32,16", "nearest,16,-3",
    "nearest,4,40", "even,8,4", "even,16,10", "half_up,6,3", "half_down,6,3",
    "half_zero,6,3", "down,8,4", "up,8,4", "zero,8,4", "away,8,4",
    "zero,12,2,overflow=wrap", "stochastic,8,4", "stochastic,8,4,seed=7",
    "stochastic,16,12,overflow=wrap", "float,5,10", "float,4,3", "float,3,2,sat",
    "float,4,3,fn", "float,5,2,finite", "float,8,23", "float,6,4,subnormals=false",
    "float,5,10,round=nearest", "float,5,10,round=zero", "float,5,10,round=down",
    "float,5,10,round=up", "float,5,10,round=stochastic", "float,4,3,round=stochastic,seed=3",
    "fp16", "bf16", "tf32", "fp8e5m2", "fp8e4m3", "fp6e3m2", "fp6e2m3", "fp4e2m1",
    "bf16,round=zero", "fp8e4m3,sat", "logarithmic", "sparse,0.5", "binary",
    "binary,0.25", "ternary", "ternary,2", "ternary,1,0.3", "none",
    "nearest,8,4,ste=clipped",
]

# LeNet runs (extrinsic, weights, intrinsic maps); every node dumped.
LENET_RUNS = [
    ("float", []),
    ("extr_n84", ["--extr", "nearest,8,4"]),
    ("weights_n86", ["--weights", "nearest,8,6"]),
    ("both_fp8", ["--extr", "fp8e4m3", "--weights", "fp8e4m3"]),
    ("extr_stoch", ["--extr", "stochastic,8,4", "--seed", "7"]),
    ("weights_stoch", ["--weights", "stochastic,6,5", "--seed", "3"]),
    ("weights_ternary", ["--weights", "ternary"]),
    ("weights_binary", ["--weights", "binary"]),
    ("extr_log", ["--extr", "logarithmic"]),
    ("map_sections", ["--map", "@maps.json"]),
]
# Intrinsic emulation on every Conv and Gemm: no float GEMM on the path,
# so these are portable (LeNet's other nodes are exact IEEE operations).
LENET_INTR = [
    ("intr_tq", '{"Conv": "nearest,16,8", "Dense": "nearest,16,8"}'),
    ("intr_acc24", "@" + os.path.join(ROOT, "maps", "accumulator-24.json")),
    ("intr_prod_sum", '{"": {"product": "even,12,8", "sum": "even,16,8"}}'),
    ("intr_stoch", '{"": {"product": "stochastic,12,8", "accumulator": "stochastic,20,8,overflow=wrap"}}'),
    ("intr_fp", '{"": {"product": "bf16", "accumulator": "fp16"}}'),
]

MAPS_JSON = {
    "extrinsic": {"Conv1": "nearest,8,5", "re:Dense[34]$": "even,10,6"},
    "weights": {"Conv": "nearest,8,7", "Dense": "fp8e4m3"},
    "intrinsic": {"Conv2": {"product": "nearest,16,10", "accumulator": "nearest,24,10"}},
}


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def strip_timing(v):
    """v without timing fields, and with paths inside the source tree made
    relative (so that checkouts in different folders compare)."""
    if isinstance(v, dict):
        return {k: strip_timing(x) for k, x in v.items() if not TIMING.search(k)}
    if isinstance(v, list):
        return [strip_timing(x) for x in v]
    if isinstance(v, str):
        return v.replace(ROOT + os.sep, "")
    return v


def round_reals(v, digits=12):
    """Floats to `digits` significant digits: statistics printed through
    libm (log10 in SQNR) may differ in the last bits between glibc's FMA
    and non-FMA variants, which a portable hash must not see."""
    if isinstance(v, float):
        return float("%.*g" % (digits, v))
    if isinstance(v, dict):
        return {k: round_reals(x, digits) for k, x in v.items()}
    if isinstance(v, list):
        return [round_reals(x, digits) for x in v]
    return v


def sha_json(path):
    with open(path) as f:
        doc = json.load(f)
    return hashlib.sha256(json.dumps(strip_timing(doc), sort_keys=True).encode()).hexdigest()


def sha_text(text):
    return hashlib.sha256(text.encode()).hexdigest()


class Runner:
    def __init__(self, tq, d, portable):
        self.tq, self.d, self.portable = tq, d, portable
        self.inp = os.path.join(d, "inputs")
        # A scratch folder per run: several checks may share one D.
        self.work = tempfile.mkdtemp(prefix="work-", dir=d)
        self.results = {}

    def tq_cmd(self, args, what):
        env = dict(os.environ, OMP_NUM_THREADS="2")
        r = subprocess.run([self.tq, *args], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            self.results[what] = "exit%d:%s" % (r.returncode, sha_text(r.stderr))
            return None
        return r

    def add_file(self, key, path):
        if not os.path.exists(path):
            self.results[key] = "missing"
        elif path.endswith(".json"):
            self.results[key] = sha_json(path)
        else:
            self.results[key] = sha(path)

    def add_dir(self, key, d, skip=None):
        for name in sorted(os.listdir(d)):
            if not (skip and skip.search(name)):
                self.add_file(key + "/" + name, os.path.join(d, name))

    # ---- inputs --------------------------------------------------------
    def make_inputs(self):
        if os.path.exists(os.path.join(self.inp, "done")):
            return
        os.makedirs(self.inp, exist_ok=True)
        rng = np.random.default_rng(2026)
        edge = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.17549435e-38,
                3.4028235e38, -3.4028235e38, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5,
                0.03125, 0.09375, -0.09375, 7.96875, 8.0, -8.0, 8.03125, -8.03125,
                448.0, 464.0, 480.0, 57344.0, 65504.0, 65520.0, 6.0, 7.0, 7.5, 28.0,
                30.0, 1e-8, -1e-8, 6.1e-5, 5.96e-8, 2.98e-8]
        for f in range(-2, 12):  # ties of every grid step
            step = 2.0 ** -f
            edge += [(k + 0.5) * step for k in range(-5, 6)]
        x = np.concatenate([np.array(edge, np.float32),
                            rng.standard_normal(4000).astype(np.float32),
                            (rng.standard_normal(2000) * 100).astype(np.float32),
                            (rng.standard_normal(2000) * 1e-3).astype(np.float32),
                            (rng.standard_normal(1000) * 1e-40).astype(np.float32)])
        x = x[: len(x) // 10 * 10]
        np.save(os.path.join(self.inp, "x.npy"), x.reshape(-1, 10))
        with gzip.open(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")) as f:
            img = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        np.save(os.path.join(self.inp, "lenet_x.npy"), (img[:32] / 255.0).astype(np.float32))
        with open(os.path.join(self.inp, "maps.json"), "w") as f:
            json.dump(MAPS_JSON, f)
        if not self.portable:
            self.make_models()
        open(os.path.join(self.inp, "done"), "w").close()

    def make_models(self):
        sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
        import torch
        from model_check import make_model, export
        torch.manual_seed(0)
        for name in ("tiny_cnn", "resnet18", "mobilenet_v2"):
            m, shape = make_model(name)
            export(m, shape, os.path.join(self.inp, name + ".onnx"), 13)
            x = np.random.default_rng(1).standard_normal((2, *shape[1:])).astype(np.float32)
            np.save(os.path.join(self.inp, name + "_x.npy"), x)
        m, shape = make_model("tiny_cnn")
        export(m, shape, os.path.join(self.inp, "tiny_cnn17.onnx"), 17, fold=False)

    # ---- cases ---------------------------------------------------------
    def quantizers(self):
        x = os.path.join(self.inp, "x.npy")
        for spec in SPECS:
            out = os.path.join(self.work, "q.npy")
            if os.path.exists(out):
                os.remove(out)
            r = self.tq_cmd(["quantize", "--spec", spec, "-i", x, "-o", out,
                             "--seed", "11", "--stats", "--json"], "quantize " + spec)
            if r is None:
                continue
            self.add_file("quantize " + spec, out)
            doc = round_reals(strip_timing(json.loads(r.stdout)))
            self.results["quantize-stats " + spec] = sha_text(json.dumps(doc, sort_keys=True))

    def run_model(self, key, model, x, extra):
        extra = [a.replace("@maps.json", os.path.join(self.inp, "maps.json")) for a in extra]
        out = os.path.join(self.work, key.replace("/", "_") + ".npy")
        dump = os.path.join(self.work, key.replace("/", "_") + "-dump")
        r = self.tq_cmd(["run", model, "-i", x, "-o", out, "--dump", dump, *extra],
                        "run " + key)
        if r is None:
            return
        # Portable runs leave out Softmax: glibc's expf has CPU-specific
        # variants (FMA or not) that may differ in the last bit.
        if self.portable:
            self.add_dir("dump " + key, dump, re.compile("Softmax"))
        else:
            self.add_file("run " + key, out)
            self.add_dir("dump " + key, dump)

    def lenet(self):
        x = os.path.join(self.inp, "lenet_x.npy")
        for key, intr in LENET_INTR:
            self.run_model("lenet/" + key, LENET, x, ["--intr", intr.lstrip("@")])
        layers = []
        for node in ("LeNet/Convolution_Block/Conv1", "LeNet/Convolution_Block/Conv2",
                     "LeNet/Dense_Block/Dense3", "LeNet/Dense_Block/Dense4"):
            w = node.rsplit("/", 1)[1]
            layers += ["--layer", node, "--weight", w + ".weight", "--weight", w + ".bias"]
        r = self.tq_cmd(["map", "check", os.path.join(self.inp, "maps.json"), *layers,
                         "--json"], "map check")
        if r is not None:  # the document names the map file: leave its folder out
            self.results["map check"] = sha_text(r.stdout.replace(self.inp, "INPUTS"))
        if self.portable:
            return
        for key, extra in LENET_RUNS:
            self.run_model("lenet/" + key, LENET, x, extra)
        r = self.tq_cmd(["info", LENET], "info lenet")
        if r is not None:
            self.results["info lenet"] = sha_text(r.stdout)

    def torchvision(self):
        for name in ("tiny_cnn", "resnet18", "mobilenet_v2"):
            m = os.path.join(self.inp, name + ".onnx")
            x = os.path.join(self.inp, name + "_x.npy")
            self.run_model(name + "/float", m, x, [])
            self.run_model(name + "/q", m, x, ["--extr", "even,16,10", "--weights", "nearest,8,6"])
            if name != "mobilenet_v2":
                self.run_model(name + "/fast", m, x, ["--fast-conv"])
        x = os.path.join(self.inp, "tiny_cnn_x.npy")
        m17 = os.path.join(self.inp, "tiny_cnn17.onnx")
        self.run_model("tiny_cnn17/q", m17, x, ["--extr", "even,8,4", "--weights", "even,8,6"])
        self.run_model("tiny_cnn/intr", os.path.join(self.inp, "tiny_cnn.onnx"), x,
                       ["--intr", '{"": {"product": "even,12,8", "accumulator": "nearest,20,8"}}'])
        out = os.path.join(self.work, "tiny_exported.onnx")
        if self.tq_cmd(["export", os.path.join(self.inp, "tiny_cnn.onnx"), "-o", out,
                        "--weights", "stochastic,8,5", "--seed", "3"], "export") is not None:
            self.add_file("export tiny_cnn", out)

    def train(self):
        base = ["--data", "fashion-mnist", "--limit", "600", "--epochs", "2",
                "--batch", "32", "-q", "--seed", "5"]
        cases = [
            ("lenet_float", ["--model", "lenet"]),
            ("lenet_q", ["--model", "lenet", "--extr", "nearest,8,4", "--weights", "nearest,8,7",
                         "--gradients", "stochastic,12,10", "--updates", "stochastic,16,12"]),
            ("lenet_adam", ["--model", "lenet", "--optimizer", "adam", "--lr", "0.001"]),
            ("resnet8", ["--model", "resnet8", "--epochs", "1", "--limit", "256"]),
        ]
        for key, extra in cases:
            out = os.path.join(self.work, key + ".onnx")
            r = self.tq_cmd(["train", *extra, *base, "-o", out, "--json"], "train " + key)
            if r is None:
                continue
            self.add_file("train " + key, out)
            lines = [json.dumps(strip_timing(json.loads(l)), sort_keys=True)
                     for l in r.stdout.splitlines() if l.strip()]
            self.results["train-json " + key] = sha_text("\n".join(lines))

    def analysis(self):
        d = ["--data", "fashion-mnist", "--limit", "500", "-q"]
        layers = ["--layers", "re:(Conv|Dense)[0-9]$"]
        cases = [
            ("eval", ["eval", LENET, *d, "--map", os.path.join(self.inp, "maps.json"), "--json"], None),
            ("sweep", ["sweep", LENET, *d, "--what", "weights", *layers,
                       "--specs", "nearest,{4..8},auto"], "sweep.json"),
            ("sensitivity", ["sensitivity", LENET, *d, "--what", "extr,weights", *layers,
                             "--specs", "nearest,{4,6},auto"], "sens.json"),
            ("search", ["search", LENET, *d, "--budget", "1.0", "--what", "extr,weights",
                        *layers, "--widths", "16,8,6,4"], "map.json"),
            ("stats", ["stats", LENET, *d, "--json"], None),
        ]
        for key, args, out in cases:
            o = os.path.join(self.work, out) if out else None
            r = self.tq_cmd([*args, *(["-o", o] if o else [])], key)
            if r is None:
                continue
            if o:
                self.add_file(key, o)
            else:
                self.results[key] = sha_text(json.dumps(strip_timing(json.loads(r.stdout)),
                                                        sort_keys=True))
            if key == "sensitivity":
                html = os.path.join(self.work, "report.html")
                if self.tq_cmd(["report", o, "-o", html], "report") is not None:
                    with open(html) as f:
                        page = re.sub(r'"(seconds|images_per_s)": [0-9.e+-]+', "", f.read())
                    page = page.replace(ROOT + os.sep, "")
                    self.results["report"] = sha_text(page)

    def all(self):
        self.make_inputs()
        if not self.portable:
            # Float results depend on OpenBLAS's kernel set: a check on
            # another one would report differences that are not the change's.
            r = self.tq_cmd(["--version"], "version")
            core = re.search(r"OpenBLAS core: ([^,)]*)", r.stdout if r else "")
            self.results["openblas-core"] = core.group(1) if core else "unknown"
        self.quantizers()
        self.lenet()
        if not self.portable:
            self.torchvision()
            self.train()
            self.analysis()
        return self.results


def write_manifest(path, results):
    with open(path, "w") as f:
        for k in sorted(results):
            f.write("%s\t%s\n" % (k, results[k]))


def read_manifest(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, v = line.rstrip("\n").split("\t")
            out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["record", "check"])
    ap.add_argument("--tq", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--manifest")
    ap.add_argument("--portable", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    manifest = a.manifest or os.path.join(a.dir, "manifest.tsv")
    runner = Runner(os.path.abspath(a.tq), a.dir, a.portable)
    try:
        results = runner.all()
    finally:
        shutil.rmtree(runner.work, ignore_errors=True)
    if a.mode == "record":
        write_manifest(manifest, results)
        print("golden: recorded %d outputs in %s" % (len(results), manifest))
        return 0
    want = read_manifest(manifest)
    bad = [k for k in sorted(set(want) | set(results)) if want.get(k) != results.get(k)]
    for k in bad:
        print("golden: DIFFERS %s (want %s, got %s)" % (k, want.get(k, "-")[:16], results.get(k, "-")[:16]))
    print("golden: %d of %d outputs identical" % (len(want) - len([k for k in bad if k in want]), len(want)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
