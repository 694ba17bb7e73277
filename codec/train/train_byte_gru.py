#!/usr/bin/env python3
"""Trains a byte-level GRU language model for nzip's `gru-lm-v1` engine (spec/MODELS.md §4.4)
on the corpus train split, with PyTorch on the CPU, and writes its float parameters in the
engine's base-2 parametrisation as a safetensors file; `cargo run --example import_gru` then
quantises them into the integer package exactly as the Rust trainer's export does.

    python3 codec/train/train_byte_gru.py --hidden 256 --minutes 60 --out /tmp/gru.f32.safetensors

Data: every `text/*` file of corpus/MANIFEST.tsv whose split is `train`, its first 3 MiB; the
last 5% of each file's share is held out (the figures printed are on that part).

Phase 1 trains PyTorch's fused GRU in float (natural-log units); phase 2 (the last
`--qat` fraction of the time) converts it to the engine's form (base-2 sigmoid and tanh,
log2-unit logits) and fine-tunes it with the engine's quantisation simulated: the hidden
state fed to the product rounded to Q7 int8, every weight row to int8 with its own scale,
pre-activations clamped to the tables' range of ±8. Training is float and depends on the
seed and the machine; the exported integer package is what is shipped and named by hash.
"""
import argparse
import json
import math
import os
import random
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LN2 = math.log(2.0)


def load(manifest, corpus, per_file, held):
    train, test = [], []
    names = []
    with open(manifest) as f:
        next(f)
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 4 or not p[0].startswith("text/") or p[3] != "train":
                continue
            b = open(os.path.join(corpus, p[0]), "rb").read()[:per_file]
            cut = len(b) - len(b) // held
            train.append(b[:cut])
            test.append(b[cut:])
            names.append(p[0])
    return names, train, test


class Streams:
    """B contiguous streams over the training text; each restarts at a random place (a
    random file weighted by size, from the zero state) with probability `reset` per batch."""

    def __init__(self, parts, batch, bptt, reset, rng):
        self.parts = [torch.tensor(list(p), dtype=torch.long) for p in parts if len(p) > bptt + 1]
        self.sizes = [len(p) for p in self.parts]
        self.b, self.t, self.reset, self.rng = batch, bptt, reset, rng
        self.pos = [self._start() for _ in range(batch)]

    def _start(self):
        i = self.rng.choices(range(len(self.parts)), weights=self.sizes)[0]
        return [i, self.rng.randrange(0, self.sizes[i] - self.t - 1), True]

    def next(self):
        xs, fresh = [], []
        for k in range(self.b):
            i, o, new = self.pos[k]
            if o + self.t + 1 > self.sizes[i] or (not new and self.rng.random() < self.reset):
                self.pos[k] = self._start()
                i, o, new = self.pos[k]
            xs.append(self.parts[i][o : o + self.t + 1])
            fresh.append(new)
            self.pos[k] = [i, o + self.t, False]
        return torch.stack(xs), torch.tensor(fresh)


class FloatLM(nn.Module):
    def __init__(self, hidden, emb=64):
        super().__init__()
        self.emb = nn.Embedding(256, emb)
        self.gru = nn.GRU(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 256)
        self.hidden = hidden

    def forward(self, x, h):
        # x [B, T]: the logits predicting x[:, t] come from the state before it.
        y, hn = self.gru(self.emb(x), h)
        hs = torch.cat([h.transpose(0, 1), y[:, :-1]], 1)
        return self.out(hs), hn  # natural-log units

    def engine_params(self):
        """The engine's parameters (base-2 units): gx [256, 3H], u [3H, H], b_hn [H],
        v [256, H], b_out [256]."""
        H = self.hidden
        with torch.no_grad():
            w_ih, b_ih = self.gru.weight_ih_l0, self.gru.bias_ih_l0
            w_hh, b_hh = self.gru.weight_hh_l0, self.gru.bias_hh_l0
            gx = self.emb.weight @ w_ih.t() + b_ih
            gx[:, : 2 * H] += b_hh[: 2 * H]
            return {
                "gx": gx / LN2,
                "u": w_hh / LN2,
                "b_hn": b_hh[2 * H :] / LN2,
                "v": self.out.weight / LN2,
                "b_out": self.out.bias / LN2,
            }


def rows_fq(w):
    s = (w.abs().amax(1, keepdim=True) / 127.0).clamp_min(1e-8).detach()
    q = torch.clamp(torch.round(w / s), -127, 127) * s
    return w + (q - w).detach()


def ste_round(x, scale):
    q = torch.round(x * scale) / scale
    return x + (q - x).detach()


class EngineLM(nn.Module):
    """The engine's GRU (spec/MODELS.md §4.4) in float with quantisation simulated."""

    def __init__(self, p):
        super().__init__()
        self.gx = nn.Parameter(p["gx"].clone())
        self.u = nn.Parameter(p["u"].clone())
        self.b_hn = nn.Parameter(p["b_hn"].clone())
        self.v = nn.Parameter(p["v"].clone())
        self.b_out = nn.Parameter(p["b_out"].clone())
        self.hidden = p["u"].shape[1]

    def forward(self, x, h):
        H = self.hidden
        u, v = rows_fq(self.u), rows_fq(self.v)
        gxq = ste_round(self.gx, 256.0).clamp(-127.99, 127.99)
        b_out, b_hn = ste_round(self.b_out, 256.0), ste_round(self.b_hn, 256.0)
        h = h[0]
        outs = []
        lim = 2047.0 / 256.0
        for t in range(x.shape[1]):
            h8 = torch.clamp(ste_round(h, 128.0), -127 / 128, 127 / 128)
            outs.append(ste_round(h8 @ v.t(), 256.0) + b_out)
            hu = ste_round(h8 @ u.t(), 256.0)
            g = gxq[x[:, t]]
            r = torch.sigmoid(LN2 * torch.clamp(g[:, :H] + hu[:, :H], -lim, lim))
            z = torch.sigmoid(LN2 * torch.clamp(g[:, H : 2 * H] + hu[:, H : 2 * H], -lim, lim))
            hn = hu[:, 2 * H :] + b_hn
            n = torch.tanh(LN2 * torch.clamp(g[:, 2 * H :] + r * hn, -lim, lim))
            h = n + z * (h - n)
        return torch.stack(outs, 1) * LN2, h.unsqueeze(0)  # natural-log units for the loss

    def engine_params(self):
        return {k: getattr(self, k).detach().clone() for k in ("gx", "u", "b_hn", "v", "b_out")}


def evaluate(model, tests, limit):
    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for part in tests:
            data = torch.tensor(list(part[:limit]), dtype=torch.long).unsqueeze(0)
            h = torch.zeros(1, 1, model.hidden)
            for o in range(0, data.shape[1], 512):
                x = data[:, o : o + 512]
                logits, h = model(x, h)
                tot += F.cross_entropy(logits[0], x[0], reduction="sum").item()
                n += x.shape[1]
    model.train()
    return tot / n / LN2


def save_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        t = tensors[k].contiguous().float()
        b = struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"nzip": json.dumps(meta, sort_keys=True)}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", default="corpus/MANIFEST.tsv")
    ap.add_argument("--corpus", default="corpus/data")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bptt", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--qat", type=float, default=0.15, help="fraction of the time for phase 2")
    ap.add_argument("--qat-bptt", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-bytes", type=int, default=20000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    names, train, test = load(a.manifest, a.corpus, 3 << 20, 20)
    print(f"{len(names)} files, {sum(map(len, train))} training bytes, {sum(map(len, test))} held out", flush=True)
    model = FloatLM(a.hidden)
    t_end1 = time.time() + 60 * a.minutes * (1 - a.qat)
    t_end2 = time.time() + 60 * a.minutes

    def run(model, bptt, t_end, lr0, tag):
        opt = torch.optim.Adam(model.parameters(), lr=lr0)
        streams = Streams(train, a.batch, bptt, 1 / 256, rng)
        h = torch.zeros(1, a.batch, model.hidden)
        t0, step, seen = time.time(), 0, 0
        span = t_end - t0
        while time.time() < t_end:
            frac = (time.time() - t0) / span
            for g in opt.param_groups:
                g["lr"] = lr0 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
            xy, fresh = streams.next()
            h = h.detach() * (~fresh).float().view(1, -1, 1)
            logits, h = model(xy[:, :-1], h)
            # logits[:, t] predicts x[:, t]; the first target of a stream is predicted
            # from the carried state, like the coder's first symbol from h = 0.
            loss = F.cross_entropy(logits.reshape(-1, 256), xy[:, :-1].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            seen += xy[:, :-1].numel()
            if step % 200 == 0:
                print(f"{tag} step {step} bytes {seen} train {loss.item() / LN2:.4f} b/B "
                      f"{seen / (time.time() - t0) / 1e3:.1f} kB/s", flush=True)
            if step % 2000 == 0:
                print(f"{tag} held-out {evaluate(model, test, a.eval_bytes):.4f} b/B", flush=True)
        return seen

    seen1 = run(model, a.bptt, t_end1, a.lr, "float")
    print(f"float held-out {evaluate(model, test, a.eval_bytes):.4f} b/B", flush=True)
    eng = EngineLM(model.engine_params())
    print(f"engine (quantisation simulated) before fine-tuning {evaluate(eng, test, a.eval_bytes):.4f} b/B", flush=True)
    seen2 = run(eng, a.qat_bptt, t_end2, a.lr * 0.1, "qat")
    print(f"engine after fine-tuning {evaluate(eng, test, a.eval_bytes):.4f} b/B", flush=True)
    meta = {
        "trainer": "codec/train/train_byte_gru.py",
        "command": " ".join(sys.argv),
        "torch": torch.__version__,
        "files": names,
        "per_file": 3 << 20,
        "held_out": "last 5% of each file's share",
        "bytes_seen": seen1 + seen2,
    }
    save_safetensors(a.out, eng.engine_params(), meta)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
