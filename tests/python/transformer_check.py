#!/usr/bin/env python3
"""Fidelity of tq on transformers exported from PyTorch (random weights, no
downloads): each model is exported by torch.onnx at opset 17, and converted
with the onnx package's version converter (onnx 1.19 from VENV/onnx-1.19,
scripts/setup-venv.sh) to the highest opset it reaches (24 down to 18);
tq run's float outputs must lie within 1e-4 of the largest |output| of
PyTorch's. Prints one table row per model and opset, and a last line
'N passed, N failed'.

Models:
  encoder      token classifier: Embedding + positions + 2-layer
               nn.TransformerEncoder with a padding mask from int64
               attention_mask (second row padded), int64 input_ids
  decoder      decoder-only LM: Embedding + 2 causal layers (nn.Transformer's
               square subsequent mask) + tied LM head; input_ids only
  vit_small    torchvision VisionTransformer at 64x64, 2 layers, width 64
  vit_b_16     torchvision vit_b_16 (224x224, 86 M parameters; --all)
  swin_t       torchvision swin_t (--all)
  maxvit_t     torchvision maxvit_t (--all)
The heads of torchvision's ViTs start at zero: they get random weights.

Usage: transformer_check.py TQ [--all] [--models a,b] [--keep DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4


def build(name, torch):
    """(module, {input name: tensor}, output names)."""
    torch.manual_seed(0)
    nn = torch.nn
    if name == "encoder":
        class Encoder(nn.Module):
            def __init__(self, vocab=1000, dim=64, heads=4, layers=2,
                         classes=5):
                super().__init__()
                self.emb = nn.Embedding(vocab, dim)
                self.pos = nn.Embedding(128, dim)
                layer = nn.TransformerEncoderLayer(
                    dim, heads, 4 * dim, dropout=0.0, batch_first=True,
                    activation="gelu")
                self.enc = nn.TransformerEncoder(layer, layers,
                                                 enable_nested_tensor=False)
                self.cls = nn.Linear(dim, classes)

            def forward(self, input_ids, attention_mask):
                pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
                h = self.emb(input_ids) + self.pos(pos)
                h = self.enc(h, src_key_padding_mask=attention_mask == 0)
                return self.cls(h)

        ids = torch.randint(0, 1000, (2, 16))
        mask = torch.ones(2, 16, dtype=torch.int64)
        mask[1, 11:] = 0
        return Encoder(), {"input_ids": ids, "attention_mask": mask}, \
            ["logits"]
    if name == "decoder":
        class Decoder(nn.Module):
            def __init__(self, vocab=1000, dim=64, heads=4, layers=2):
                super().__init__()
                self.emb = nn.Embedding(vocab, dim)
                self.pos = nn.Embedding(128, dim)
                layer = nn.TransformerEncoderLayer(
                    dim, heads, 4 * dim, dropout=0.0, batch_first=True,
                    norm_first=True)
                self.dec = nn.TransformerEncoder(layer, layers,
                                                 enable_nested_tensor=False)
                self.norm = nn.LayerNorm(dim)

            def forward(self, input_ids):
                n = input_ids.shape[1]
                pos = torch.arange(n).unsqueeze(0)
                h = self.emb(input_ids) + self.pos(pos)
                causal = torch.triu(torch.full((n, n), float("-inf")), 1)
                h = self.dec(h, mask=causal)
                return self.norm(h) @ self.emb.weight.t()

        ids = torch.randint(0, 1000, (2, 16))
        return Decoder(), {"input_ids": ids}, ["logits"]
    import torchvision
    if name == "vit_small":
        m = torchvision.models.VisionTransformer(
            image_size=64, patch_size=16, num_layers=2, num_heads=4,
            hidden_dim=64, mlp_dim=128, num_classes=10)
        size = 64
    else:
        m = getattr(torchvision.models, name)(weights=None)
        size = 224
    if hasattr(m, "heads"):  # ViT: the head starts at zero
        with torch.no_grad():
            for p in m.heads.parameters():
                p.normal_(0, 0.02)
    return m, {"x": torch.randn(1, 3, size, size)}, ["logits"]


def export(torch, model, inputs, outs, path):
    dyn = {k: {0: "batch"} for k in inputs}
    torch.onnx.export(model, tuple(inputs.values()), path,
                      input_names=list(inputs), output_names=outs,
                      opset_version=17, dynamic_axes=dyn,
                      do_constant_folding=True)


def convert(onnx, path, out):
    """Converts to the highest opset (24 down to 18) the converter reaches;
    returns it, or None."""
    from onnx import version_converter
    m = onnx.load(path)
    for target in range(24, 17, -1):
        try:
            c = version_converter.convert_version(m, target)
            onnx.checker.check_model(c)
        except Exception:  # noqa: BLE001 - try the next lower opset
            continue
        onnx.save(c, out)
        return target
    return None


def run_tq(tq, path, inputs, np, tmp):
    args = [tq, "run", path]
    for k, v in inputs.items():
        p = os.path.join(tmp, f"in_{k}.npy")
        np.save(p, v.numpy())
        args += ["-i", f"{k}={p}"]
    y = os.path.join(tmp, "y.npy")
    r = subprocess.run(args + ["-o", y], capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()[-400:]
    return np.load(y), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tq")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--models", default="")
    ap.add_argument("--onnx-dir", default=os.path.join(sys.prefix,
                                                       "onnx-1.19"))
    ap.add_argument("--keep", default="")
    a = ap.parse_args()
    sys.path.insert(0, a.onnx_dir)
    import numpy as np
    import onnx
    try:
        import torch
    except ImportError:
        print("SKIP: no torch")
        return 0
    names = ["encoder", "decoder", "vit_small"]
    if a.all:
        names += ["vit_b_16", "swin_t", "maxvit_t"]
    if a.models:
        names = a.models.split(",")
    tq = os.path.abspath(a.tq)
    passed = failed = 0
    print(f"{'model':10s} {'opset':>5s} {'max |tq - torch|':>17s} "
          f"{'max |torch|':>11s} {'ratio':>9s}  verdict")
    with tempfile.TemporaryDirectory() as tmp:
        work = a.keep or tmp
        os.makedirs(work, exist_ok=True)
        for name in names:
            model, inputs, outs = build(name, torch)
            model.eval()
            with torch.no_grad():
                want = model(*inputs.values()).numpy()
            p17 = os.path.join(work, f"{name}_17.onnx")
            export(torch, model, inputs, outs, p17)
            files = [(17, p17)]
            pn = os.path.join(work, f"{name}_max.onnx")
            target = convert(onnx, p17, pn)
            if target:
                files.append((target, pn))
            else:
                print(f"{name:10s}   (the version converter reached no "
                      f"opset above 17)")
            for opset, path in files:
                got, err = run_tq(tq, path, inputs, np, tmp)
                if got is None:
                    print(f"{name:10s} {opset:5d}  tq run failed: {err}")
                    failed += 1
                    continue
                big = float(np.abs(want).max())
                if got.shape != want.shape:
                    print(f"{name:10s} {opset:5d}  shape {got.shape} != "
                          f"{want.shape}")
                    failed += 1
                    continue
                diff = float(np.abs(got.astype(np.float64) - want).max())
                ok = diff <= TOL * big
                passed += ok
                failed += not ok
                print(f"{name:10s} {opset:5d} {diff:17.3e} {big:11.4g} "
                      f"{diff / big:9.2e}  {'ok' if ok else 'FAIL'}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
