"""tensorquant.torch: TensorQuant's quantizers in PyTorch training loops.

Imports only where PyTorch is installed. The values come from the C
kernels (through the tensors' own buffers, without copies); the gradients
follow the spec's straight-through estimator (``ste=identity``: unchanged,
``ste=clipped``: zero where the input lies outside the quantizer's range).

    import tensorquant.torch as tqt
    y = tqt.quantize(x, "nearest,8,4")             # an autograd function
    handle = tqt.apply_map(model, {"extrinsic": {"Conv1": "nearest,12,11"},
                                   "weights": {"Conv1": "nearest,32,16"}})
    opt = tqt.QuantizedOptimizer(torch.optim.Adam(model.parameters()), handle)
    ...
    handle.remove()
"""
import functools
import json

try:
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError("tensorquant.torch needs PyTorch (pip install torch, or "
                      "Debian's python3-torch)") from e
from torch.nn.utils import parametrize as _parametrize

import tensorquant as _tq

__all__ = ["quantize", "apply_map", "MapHandle", "QuantizedOptimizer", "stream_id"]

# Random streams: the kind in the top bits, the module's index and a slot
# below, as the library numbers a graph's quantizers (docs/design.md §3).
_KINDS = {"extrinsic": 0, "weights": 1, "gradients": 3, "updates": 4}


def stream_id(kind, module_index, slot=0):
    """The stochastic-rounding stream apply_map gives a module's quantizer
    of kind ("extrinsic", "weights", "gradients", "updates") and slot."""
    return (_KINDS[kind] << 60) | (module_index << 8) | slot


@functools.lru_cache(maxsize=512)
def _quantizer(spec):
    q = _tq.Quantizer(spec)
    return q, q.params["ste"] == "clipped", q.range


def _check(t, what):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, not {type(t).__name__}")
    if t.device.type != "cpu" or t.dtype != torch.float32:
        raise TypeError(f"{what} must be a CPU float32 tensor, got {t.dtype} on "
                        f"{t.device} (use .float().cpu())")


def _forward(x, q, seed, stream, offset):
    """q(x) by the C kernels, read from and written to the tensors' buffers."""
    src = x.detach()
    if not src.is_contiguous():
        src = src.contiguous()
    out = torch.empty_like(src, memory_format=torch.contiguous_format)
    _tq.quantize(src.numpy(), q, seed=seed, stream=stream, offset=offset,
                 out=out.numpy())
    return out


class _Quantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, spec, seed, stream, offset):
        q, clipped, rng = _quantizer(spec)
        ctx.clipped, ctx.range = clipped, rng
        if clipped:
            ctx.save_for_backward(x)
        return _forward(x, q, seed, stream, offset)

    @staticmethod
    def backward(ctx, grad):
        if ctx.clipped:
            (x,) = ctx.saved_tensors
            lo, hi = ctx.range
            # the range is the library's; NaN inputs compare false: zero
            grad = grad * ((x >= lo) & (x <= hi)).to(grad.dtype)
        return grad, None, None, None, None


def quantize(t, spec, *, seed=0, stream=0, offset=0):
    """Quantizes the CPU float32 tensor t with spec (a spec string), as
    tensorquant.quantize does, as an autograd function: the backward pass
    is the spec's straight-through estimator. Stochastic rounding of
    element i uses u(seed, stream, offset + i)."""
    _check(t, "t")
    if isinstance(spec, _tq.Quantizer):
        spec = spec.spec
    return _Quantize.apply(t, spec, seed, stream, offset)


# ---- maps on modules -------------------------------------------------------------

_SECTIONS = ("extrinsic", "weights", "intrinsic", "gradients", "updates")


def _maps(map, kinds):
    """One tensorquant.Map per kind from a sectioned map (a dict, JSON text
    or a file) and flat maps given per kind; None where a kind has none."""
    out = {k: None for k in _KINDS}
    if map is not None:
        if isinstance(map, dict):
            unknown = set(map) - set(_SECTIONS)
            if unknown:
                raise ValueError(f"map: unknown sections {sorted(unknown)} (a sectioned "
                                 f"map has {', '.join(_SECTIONS)}; pass flat maps as "
                                 f"extr=, weights=, ...)")
            if "intrinsic" in map:
                raise ValueError("map: intrinsic quantization has no PyTorch "
                                 "form here (it emulates the arithmetic inside "
                                 "Conv/Gemm); run the model with tensorquant.Model")
            map = json.dumps(map)
        for kind in _KINDS:
            m = _tq.Map(map, kind)
            out[kind] = m if len(m) else None
    for kind, source in kinds.items():
        if source is not None:
            out[kind] = _tq.Map(source, kind)
    return out


def _spec(m, name, weight_names=()):
    hit = m.resolve(name, weight_names) if m is not None else None
    return hit["value"]["spec"] if hit else None


class _WeightQuantizer(torch.nn.Module):
    """A parametrization: the weight a module computes with is its float
    master quantized, with straight-through gradients to the master."""

    def __init__(self, spec, seed, stream):
        super().__init__()
        self.spec, self.seed, self.stream, self.calls = spec, seed, stream, 0

    def forward(self, w):
        offset = self.calls * w.numel()  # fresh random numbers per step
        self.calls += 1
        return quantize(w, self.spec, seed=self.seed, stream=self.stream,
                        offset=offset)


def _quantize_outputs(out, spec, seed, stream, offset):
    if isinstance(out, torch.Tensor) and out.dtype == torch.float32:
        return quantize(out, spec, seed=seed, stream=stream, offset=offset)
    if isinstance(out, tuple):
        return tuple(_quantize_outputs(o, spec, seed, stream + k, offset)
                     for k, o in enumerate(out))
    return out


class MapHandle:
    """What apply_map installed: ``layers`` lists (kind, module name, spec);
    ``quantize_updates()`` applies the updates map (QuantizedOptimizer calls
    it after each step); ``remove()`` takes everything out again and leaves
    the float masters as the modules' weights."""

    def __init__(self, seed):
        self.seed, self.layers, self.steps = seed, [], 0
        self._hooks, self._params, self._updates = [], [], []

    def remove(self):
        for h in self._hooks:
            h.remove()
        for module, name in self._params:
            if _parametrize.is_parametrized(module, name):
                _parametrize.remove_parametrizations(module, name,
                                                     leave_parametrized=False)
        self._hooks, self._params, self._updates = [], [], []

    @torch.no_grad()
    def quantize_updates(self):
        """Quantizes the weights the updates map names, in place (after an
        optimizer step: the weights are stored in that format)."""
        for p, spec, stream in self._updates:
            q, _, _ = _quantizer(spec)
            data = p.data
            if not data.is_contiguous():
                raise ValueError("updates: a weight is not contiguous")
            _tq.quantize(data.numpy(), q, seed=self.seed, stream=stream,
                         offset=self.steps * data.numel(), out=data.numpy())
        self.steps += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def apply_map(module, map=None, *, extr=None, weights=None, gradients=None,
              updates=None, seed=0):
    """TensorQuant's maps on a PyTorch module: every submodule whose
    qualified name (``features.0``, ``Block.Conv1``) or one of whose weight
    names (``Block.Conv1.weight``) a map key matches — the library's rules:
    substring, ``re:`` regular expressions, first entry in file order —
    gets its quantizers:

    - extrinsic: the outputs of leaf modules (forward hooks);
    - weights: the module's own parameters, quantized from a float master
      copy at every forward (a parametrization: the optimizer updates the
      master, gradients pass straight through);
    - gradients: the gradients flowing back out of the module, to its
      inputs and to its parameters (backward hooks);
    - updates: the parameters after each optimizer step, in place (through
      QuantizedOptimizer or handle.quantize_updates()).

    map: a sectioned map (a dict {"extrinsic": {...}, "weights": {...}},
    JSON text or a file); extr/weights/gradients/updates: flat maps (dicts,
    JSON text, files or one spec). Stochastic rounding: seed, and per
    quantizer the stream stream_id(kind, module index in
    module.named_modules(), slot), fresh numbers every call. Returns a
    MapHandle; handle.remove() undoes it all."""
    maps = _maps(map, {"extrinsic": extr, "weights": weights,
                       "gradients": gradients, "updates": updates})
    handle = MapHandle(seed)
    try:
        # A snapshot: parametrizations add modules while we install.
        for index, (name, mod) in enumerate(list(module.named_modules())):
            _install(handle, maps, index, name, mod, seed)
    except BaseException:
        handle.remove()
        raise
    return handle


def _install(handle, maps, index, name, mod, seed):
    params = [(p, t) for p, t in mod.named_parameters(recurse=False)
              if t.dtype == torch.float32]
    weight_names = tuple(f"{name}.{p}" if name else p for p, _ in params)
    leaf = not any(True for _ in mod.children())
    spec = _spec(maps["extrinsic"], name, weight_names)
    if spec and leaf:
        stream, calls = stream_id("extrinsic", index), [0]

        def out_hook(m, inputs, out, spec=spec, stream=stream, calls=calls):
            calls[0] += 1
            n = out.numel() if isinstance(out, torch.Tensor) else 0
            return _quantize_outputs(out, spec, seed, stream, (calls[0] - 1) * n)

        handle._hooks.append(mod.register_forward_hook(out_hook))
        handle.layers.append(("extrinsic", name, spec))
    spec = _spec(maps["gradients"], name, weight_names)
    if spec and (leaf or params):
        _install_gradients(handle, mod, name, index, params, spec, seed, leaf)
    spec = _spec(maps["updates"], name, weight_names)
    if spec and params:
        for slot, (_, t) in enumerate(params):
            handle._updates.append((t, spec, stream_id("updates", index, slot)))
        handle.layers.append(("updates", name, spec))
    spec = _spec(maps["weights"], name, weight_names)
    if spec and params:
        for slot, (pname, _) in enumerate(params):
            _parametrize.register_parametrization(
                mod, pname, _WeightQuantizer(spec, seed,
                                             stream_id("weights", index, slot)))
            handle._params.append((mod, pname))
        handle.layers.append(("weights", name, spec))


def _install_gradients(handle, mod, name, index, params, spec, seed, leaf):
    calls = [0]
    if leaf:
        def grad_hook(m, grad_in, grad_out):
            calls[0] += 1
            return tuple(
                quantize(g, spec, seed=seed, stream=stream_id("gradients", index, k),
                         offset=(calls[0] - 1) * g.numel())
                if isinstance(g, torch.Tensor) and g.dtype == torch.float32 else g
                for k, g in enumerate(grad_in))

        handle._hooks.append(mod.register_full_backward_hook(grad_hook))
    for slot, (_, t) in enumerate(params):
        stream, pcalls = stream_id("gradients", index, 128 + slot), [0]

        def param_hook(g, stream=stream, pcalls=pcalls):
            pcalls[0] += 1
            return quantize(g, spec, seed=seed, stream=stream,
                            offset=(pcalls[0] - 1) * g.numel())

        handle._hooks.append(t.register_hook(param_hook))
    handle.layers.append(("gradients", name, spec))


class QuantizedOptimizer:
    """An optimizer whose step() is followed by the map's updates
    quantization: ``QuantizedOptimizer(torch.optim.SGD(...), handle)``.
    Everything else (zero_grad, param_groups, state_dict) is the wrapped
    optimizer's."""

    def __init__(self, optimizer, handle):
        self.optimizer, self.handle = optimizer, handle

    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        self.handle.quantize_updates()
        return loss

    def __getattr__(self, name):
        return getattr(self.optimizer, name)
