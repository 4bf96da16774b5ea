"""Transformer inference benchmark: tq bench beside ONNX Runtime, same run.

Models (random weights, exported by torch.onnx at opset 17 into --cache):
  vit_b_16   torchvision's, images [N, 3, 224, 224]; images/s
  encoder12  a BERT-base-sized encoder: Embedding (30522 x 768) and
             positions, 12 x nn.TransformerEncoderLayer (768 wide, 12 heads,
             3072 feed-forward, GELU), int64 input_ids and attention_mask
             [N, 128]; tokens/s = N * 128 / latency
For each model and batch: tq's median latency (`tq bench --json`, which
feeds random floats and ones for integer inputs: every token id 1, every
mask bit kept) and ONNX Runtime's (CPU provider, all graph optimizations,
the same inputs, the same intra-op thread count, in its own process), each
--rounds times interleaved; the median counts. Prints a table with the
ratio tq / ONNX Runtime.

  .venv/bin/python bench/bench_transformers.py --tq build/tq [--threads 2]
      [--models vit_b_16,encoder12] [--batch 1 8] [--repeat 5] [--rounds 3]
"""
import argparse
import json
import os
import subprocess
import sys

SEQ = 128

ORT = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
path, batch, threads, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
feed = {}
rng = np.random.default_rng(0)
for i in s.get_inputs():
    shape = [batch if not isinstance(d, int) else d for d in i.shape]
    if i.type == "tensor(float)":
        feed[i.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    else:
        feed[i.name] = np.ones(shape, np.int64)
for _ in range(2):
    s.run(None, feed)
ts = []
for _ in range(repeat):
    t0 = time.perf_counter(); s.run(None, feed); ts.append(time.perf_counter() - t0)
ts.sort()
print(json.dumps({"latency_median_s": ts[len(ts) // 2]}))
"""


def export(name, path):
    import torch
    torch.manual_seed(0)
    if name == "vit_b_16":
        import torchvision
        m = torchvision.models.vit_b_16(weights=None).eval()
        args, names = (torch.randn(1, 3, 224, 224),), ["x"]
    else:
        nn = torch.nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(30522, 768)
                self.pos = nn.Embedding(512, 768)
                layer = nn.TransformerEncoderLayer(
                    768, 12, 3072, dropout=0.0, batch_first=True,
                    activation="gelu")
                self.enc = nn.TransformerEncoder(layer, 12,
                                                 enable_nested_tensor=False)

            def forward(self, input_ids, attention_mask):
                pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
                h = self.emb(input_ids) + self.pos(pos)
                return self.enc(h, src_key_padding_mask=attention_mask == 0)

        m = Encoder().eval()
        ids = torch.ones(1, SEQ, dtype=torch.int64)
        args, names = (ids, torch.ones_like(ids)), ["input_ids",
                                                   "attention_mask"]
    torch.onnx.export(m, args, path, input_names=names, output_names=["y"],
                      opset_version=17,
                      dynamic_axes={k: {0: "batch"} for k in names})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tq", default="build/tq")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="vit_b_16,encoder12")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--encoder-batch", type=int, nargs="+", default=[1])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache", default="/tmp/tq_bench_transformers")
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    rows = []
    for name in a.models.split(","):
        path = os.path.join(a.cache, f"{name}.onnx")
        if not os.path.exists(path):
            export(name, path)
        per = SEQ if name == "encoder12" else 1
        unit = "tokens/s" if per > 1 else "images/s"
        for batch in (a.encoder_batch if per > 1 else a.batch):
            tq_t, ort_t = [], []
            for _ in range(a.rounds):
                r = subprocess.run(
                    [a.tq, "bench", path, "--batch", str(batch), "--threads",
                     str(a.threads), "--repeat", str(a.repeat), "--json"],
                    capture_output=True, text=True, check=True)
                tq_t.append(json.loads(r.stdout)["latency_median_s"])
                r = subprocess.run(
                    [sys.executable, "-c", ORT, path, str(batch),
                     str(a.threads), str(a.repeat)],
                    capture_output=True, text=True, check=True)
                ort_t.append(json.loads(r.stdout)["latency_median_s"])
            tq_s = sorted(tq_t)[len(tq_t) // 2]
            ort_s = sorted(ort_t)[len(ort_t) // 2]
            rows.append((name, batch, unit, batch * per / tq_s,
                         batch * per / ort_s))
            print(f"{name:10s} batch {batch:2d}: tq {batch * per / tq_s:9.1f}"
                  f" {unit}, ONNX Runtime {batch * per / ort_s:9.1f}",
                  flush=True)
    print(f"\n{'model':10s} {'batch':>5s} {'unit':>9s} {'tq':>10s} "
          f"{'ORT':>10s} {'tq/ORT':>7s}   ({a.threads} threads)")
    for name, batch, unit, t, o in rows:
        print(f"{name:10s} {batch:5d} {unit:>9s} {t:10.1f} {o:10.1f} "
              f"{t / o:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
