"""tensorquant: TensorQuant's quantizers, maps, models and analyses in Python.

Every number comes from libtensorquant (the C library of this repository),
through the extension module ``tensorquant._tensorquant``: this package
only converts arguments and shapes the results. See docs/python.md.

    import numpy as np, tensorquant as tq
    x = np.random.default_rng(0).standard_normal(1000, dtype=np.float32)
    y = tq.quantize(x, "nearest,8,4")              # a new array
    tq.quantize(x, "stochastic,8,4", seed=1, out=x)  # in place
"""
import json
import os
import pkgutil
import sys
import time

# In a build tree the extension sits in <build>/python/tensorquant, the
# Python files in <source>/python/tensorquant: one package from both.
__path__ = pkgutil.extend_path(__path__, __name__)

from . import _tensorquant as _tq  # noqa: E402
from ._tensorquant import (Dataset, Quantizer, __version__,  # noqa: E402
                           formats, kernel_isa, quantize, stochastic_u)

__all__ = [
    "Dataset", "Map", "Model", "Quantizer", "Results", "__version__", "calibrate",
    "evaluate", "formats",
    "kernel_isa", "quantize", "report", "search", "sensitivity", "stats",
    "stochastic_u", "sweep",
]


# ---- maps -------------------------------------------------------------------

def _map_text(source, name):
    """A map argument as the text the library takes: JSON text, a file
    path or one spec string (None stays None)."""
    if source is None:
        return None
    if isinstance(source, dict):
        return json.dumps(source)
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    if isinstance(source, str):
        return source
    raise TypeError(f"{name} must be a dict, a JSON string, a file path or a "
                    f"spec string, not {type(source).__name__}")


def _stamp(text):
    """A file's identity for caching: maps are reloaded when it changes."""
    try:
        st = os.stat(text)
        return (st.st_mtime_ns, st.st_size)
    except (OSError, ValueError):
        return None


class Map(_tq.Map):
    """Map(source, kind="extrinsic"): one quantizer map (docs/maps.md).

    source: a dict {key: spec}, JSON text, a JSON file or one spec string
    for every layer. ``resolve(layer, weight_names=())`` says which entry
    applies to a layer, with the library's matching rules (substring of the
    layer ID or a weight name, ``re:`` regular expressions, first match in
    file order)."""

    def __new__(cls, source, kind="extrinsic"):
        return super().__new__(cls, _map_text(source, "source"), kind)

    def __repr__(self):
        return f"tensorquant.Map({self.kind}, {len(self)} entries)"


# ---- models -----------------------------------------------------------------

class Model(_tq.Model):
    """Model(path, *, threads=None, fast_conv=False): an ONNX model.

    ``run(inputs, *, extr=None, weights=None, intr=None, map=None, seed=0,
    dump=False)`` runs it; ``info()`` describes it; ``export(path, ...)``
    writes it back with quantized weights. One call runs at a time per
    model; use one Model per thread for parallel runs. ``close()`` (or a
    ``with`` block) frees it; later calls raise ValueError."""

    def run(self, inputs, *, extr=None, weights=None, intr=None, map=None,
            seed=0, dump=False):
        """Runs the model on ``inputs`` (a dict of float32 arrays by input
        name, or one array for a one-input model) under the maps given
        (each a dict, JSON text, a file or one spec string; ``map``: a
        sectioned map). Returns {output name: array}; with dump=True,
        (outputs, nodes) where nodes maps every node ID to its output
        ("ID:k" for output k > 0). The weights are quantized again only
        when the maps, a map file or the seed change."""
        texts = [_map_text(m, n) for m, n in ((extr, "extr"), (weights, "weights"),
                                              (intr, "intr"), (map, "map"))]
        key = (tuple(texts), tuple(_stamp(t) for t in texts if t), seed)
        return self._run(inputs, key, texts[0], texts[1], texts[2], texts[3],
                         seed, dump)

    def export(self, path, *, weights=None, map=None, seed=0):
        """Writes the model as ONNX to path with its weights quantized by
        ``weights`` (or a sectioned ``map``'s weights section), as `tq
        export` does; the model itself keeps its float weights. Returns how
        many weight tensors were quantized."""
        return self._export(path, _map_text(weights, "weights"),
                            _map_text(map, "map"), seed)

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"tensorquant.Model({self.path!r}, {state})"


# ---- results ------------------------------------------------------------------

class Results(list):
    """Records (a list of dicts: ``pandas.DataFrame(results)`` takes it) with
    the run's tq-report/1 document (``document``, JSON text) and, for the
    analyses, the float model's record (``float``). ``report(path)`` writes
    the HTML report the tool writes; ``to_csv()`` the tool's CSV rows."""

    def __init__(self, records=(), document=None, float_record=None, **extra):
        super().__init__(records)
        self.document = document
        self.float = float_record
        for k, v in extra.items():
            setattr(self, k, v)

    def to_csv(self):
        if self.document is None:
            raise ValueError("these results have no report document")
        return _tq._report_csv(self.document, "results")

    def report(self, path, *, chartjs=None):
        report(self, path, chartjs=chartjs)


class _ProgressBar:
    """A one-line progress bar on stderr (only when it is a terminal)."""

    def __init__(self):
        self.stage, self.start, self.last = None, time.monotonic(), 0.0

    def __call__(self, stage, done, total):
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.start = stage, now
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 24
        filled = done * width // total if total else width
        eta = (now - self.start) * (total - done) / done if done else 0.0
        sys.stderr.write(f"\r\033[K{stage} [{'#' * filled}{'.' * (width - filled)}]"
                         f" {done}/{total}  ETA {eta:.0f}s")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _progress(progress):
    if progress is None:
        progress = sys.stderr is not None and sys.stderr.isatty()
    if progress is True:
        return _ProgressBar()
    if progress is False:
        return None
    if callable(progress):
        return progress
    raise TypeError("progress must be None, a bool or a callable(stage, done, total)")


def _model(model):
    if isinstance(model, _tq.Model):
        return model
    if isinstance(model, (str, os.PathLike)):
        return Model(model)
    raise TypeError(f"model must be a path or a tensorquant.Model, not "
                    f"{type(model).__name__}")


def _dataset(data, split, normalize, fashion_mnist_dir):
    if isinstance(data, Dataset):
        if normalize is not None:
            raise ValueError("normalize applies when the dataset is opened: "
                             "pass it to tensorquant.Dataset")
        return data
    if fashion_mnist_dir is None:
        fashion_mnist_dir = os.environ.get("TQ_FASHION_MNIST_DIR")
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    return Dataset(data, split=split, normalize=normalize,
                   fashion_mnist_dir=fashion_mnist_dir)


def _run_analysis(fn, model, data, common, *args):
    """Opens the model and the data, runs fn with the shared options and a
    progress bar, and closes what it opened."""
    opts = dict(common)
    m = _model(model)
    ds = _dataset(data, opts.pop("split"), opts.pop("normalize"),
                  opts.pop("fashion_mnist_dir"))
    bar = _progress(opts.pop("progress"))
    opts["progress"] = bar
    opts.setdefault("model_name", m.path)
    try:
        return fn(m, ds, opts, *args)
    finally:
        if isinstance(bar, _ProgressBar):
            bar.close()
        if m is not model:
            m.close()


def _common(limit=None, batch=None, seed=0, threads=None, split="test",
            normalize=None, calib=None, memory=None, no_reuse=False,
            progress=None, fashion_mnist_dir=None):
    return dict(limit=limit, batch=batch, seed=seed, threads=threads,
                split=split, normalize=normalize, calib=calib, memory=memory,
                no_reuse=no_reuse, progress=progress,
                fashion_mnist_dir=fashion_mnist_dir)


# ---- analyses -------------------------------------------------------------------

_COMMON_DOC = """
    Shared options (as the tq tool's): limit (first N samples), batch
    (default 256), seed, threads, split ("test" or "train"), normalize
    ([(mean, std), ...] per channel), progress (None: a bar when stderr is
    a terminal; False; True; or a callable(stage, done, total)),
    fashion_mnist_dir (default $TQ_FASHION_MNIST_DIR or Debian's); sweep,
    sensitivity and search also calib, memory (MiB kept for reuse) and
    no_reuse. model: a path or a tensorquant.Model; data: "fashion-mnist",
    a directory of IDX files, "X.npy,y.npy", a pair (x, y) of arrays or a
    tensorquant.Dataset."""


def _calibration_text(calibration):
    """calibration (a dict as calibrate returns, or a calib.json path) as
    (JSON text, source name); None stays (None, None)."""
    if calibration is None:
        return None, None
    if isinstance(calibration, dict):
        return json.dumps(calibration), "calibration"
    if isinstance(calibration, (str, os.PathLike)):
        path = os.fspath(calibration)
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    raise TypeError("calibration must be a dict (as calibrate returns) or "
                    f"a calib.json path, not {type(calibration).__name__}")


def evaluate(model, data, *, extr=None, weights=None, intr=None, map=None,
             calibration=None, **options):
    """Top-1, top-5 and loss of a classifier, float or under maps, as
    `tq eval`: Results with one record. calibration: the ranges of
    `static` specs (a dict as calibrate returns, or a calib.json path), as
    `tq eval --calib`."""
    texts = [_map_text(m, n) for m, n in ((extr, "extr"), (weights, "weights"),
                                          (intr, "intr"), (map, "map"))]
    rec = _run_analysis(_tq._evaluate, model, data, _common(**options), *texts,
                        *_calibration_text(calibration))
    return Results([rec])


def calibrate(model, data, *, method="minmax", limit=None, split="train",
              bins=None, extr=None, map=None, **options):
    """The range of every layer's output on the first `limit` samples of
    the split (the training split by default), as `tq calibrate`: the dict
    calib.json holds, {"method": ..., "samples": N, "layers": {"<layer ID>":
    {"min": lo, "max": hi}}}. method: "minmax", "percentile" or
    "percentile=P", "entropy" or "mse" (which calibrates each layer's static
    spec in extr or map; int,8,static where none); bins: histogram bins
    (default 2048). evaluate(calibration=...) takes it; json.dump writes the
    file `tq ... --calib` takes (docs/analysis.md, "Calibration")."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, not {type(method).__name__}")
    if bins is not None and (not isinstance(bins, int) or bins < 2):
        raise ValueError("bins must be an int >= 2 (or None)")
    common = _common(limit=limit, split=split, **options)
    return _run_analysis(_tq._calibrate, model, data, common, method,
                         bins or 0, _map_text(extr, "extr"),
                         _map_text(map, "map"))


def stats(model, data, *, extr=None, weights=None, intr=None, map=None,
          widths=None, bins=64, weights_only=False, activations_only=False,
          **options):
    """Per-layer statistics of activations and weights, as `tq stats`:
    one record per value (min, max, mean, std, percentiles, fractional
    bits per word width...) and the tq-report/1 document."""
    texts = [_map_text(m, n) for m, n in ((extr, "extr"), (weights, "weights"),
                                          (intr, "intr"), (map, "map"))]
    records, doc = _run_analysis(_tq._stats, model, data, _common(**options),
                                 *texts, widths, bins, weights_only,
                                 activations_only)
    return Results(records, doc)


def sweep(model, data, *, specs, what="extr", layers=None, **options):
    """Accuracy with groups of layers quantized by each spec of a list, as
    `tq sweep`: one record per (layer group, spec). specs: spec lists
    ("nearest,{4..12},{auto}"); layers: patterns, one group each (None:
    every layer alone); what: "extr", "weights" or "intr"."""
    records, flt, doc = _run_analysis(_tq._sweep, model, data,
                                      _common(**options), what, layers, specs)
    return Results(records, doc, flt)


def sensitivity(model, data, *, specs, what="extr", layers=None, **options):
    """One layer at a time, as `tq sensitivity`: one record per (kind,
    layer, spec), most sensitive first (field "rank")."""
    records, flt, doc = _run_analysis(_tq._sensitivity, model, data,
                                      _common(**options), what, layers, specs)
    return Results(records, doc, flt)


def search(model, data, *, budget, margin=0.0, what=("extr", "weights"),
           family="nearest", widths=None, cost="size", validation=None,
           layers=None, formats=None, **options):
    """Per-layer formats with the fewest bits within a top-1 budget
    (percentage points), as `tq search`: one record per layer and kind
    with the format chosen. The Results also carry ``map`` (the sectioned
    map, a dict for Model.run(map=...)), ``map_json`` (what `tq search -o`
    writes), ``met``, ``steps`` and the float records. formats: a search
    over formats, as `tq search --formats` - a preset ("mx", "int",
    "mixed"), a spec list ("mxfp8e4m3;mxfp4") or a list of specs; the
    records' cost_bits are bits per element with the scale overhead."""
    if formats is not None:
        if not isinstance(formats, str):
            formats = ";".join(formats)
        if family != "nearest" or widths is not None:
            raise ValueError("formats replaces family and widths")
        family = None
    r = _run_analysis(_tq._search, model, data, _common(**options),
                      float(budget), float(margin), what, family, widths, cost,
                      validation or 0, layers, formats)
    extra = {k: v for k, v in r.items()
             if k not in ("records", "document", "map", "float")}
    return Results(r["records"], r["document"], r["float"],
                   map=json.loads(r["map"]), map_json=r["map"], **extra)


for _f in (evaluate, stats, sweep, sensitivity, search):
    _f.__doc__ += _COMMON_DOC


def report(results, path, *, chartjs=None):
    """Writes the self-contained HTML report of results (Results of stats,
    sweep, sensitivity or search, or a tq-report/1 document as JSON text or
    a dict) to path, atomically, as the tq tool does. chartjs: the Chart.js
    file to inline (default $TQ_CHARTJS, else Debian's libjs-chart.js)."""
    if isinstance(results, Results):
        doc = results.document
    elif isinstance(results, dict):
        doc = json.dumps(results)
    else:
        doc = results
    if not isinstance(doc, str):
        raise TypeError("results must be Results, a document dict or JSON text")
    if chartjs is None:
        chartjs = os.environ.get("TQ_CHARTJS") or None
    _tq._report(doc, path, chartjs, "report")
