#!/usr/bin/env python3
"""Train the image network `img-mlp-p` (spec/MODELS.md §7.12) and export it as an
nzip model package (arch "img-mlp-v1").

Input: decision records written by `cargo run --release --example img_records`
(one record per binary decision of a sampled sub-pixel: the 48 int8 features of
§7.12, the node number, the bit, the probability the adaptive model gave it).
The network maps the features to one logit per node; it is trained with binary
cross-entropy on the records, then quantised to int8 weights, int32 biases and
power-of-two scales (optionally followed by `--qat N` epochs of quantisation-aware
fine-tuning, the integer network emulated in float with straight-through
gradients), and the integer network (exactly the Rust arithmetic) is evaluated
on the held-out records before the package is written.

    python3 codec/train/train_img_mlp.py --train /tmp/img-train.bin \
        --dev /tmp/img-dev.bin --hidden 32 --out codec/weights/img-mlp-p.safetensors

PyTorch 2.x, numpy and safetensors; 2 threads; about 5 minutes on this
project's 2-core machine (8 epochs over 25M records). The exact command and data
of the shipped package are in codec/weights/README.md.
"""
import argparse
import json
import time

import numpy as np
import torch
from safetensors.numpy import save_file

NF = 48  # features
NODES = 64
H = 32  # hidden units per layer
REC = NF + 4


def load(path, limit=None, seed=0):
    a = np.fromfile(path, dtype=np.uint8)
    a = a[: len(a) // REC * REC].reshape(-1, REC)
    if limit and len(a) > limit:
        idx = np.random.default_rng(seed).choice(len(a), limit, replace=False)
        a = a[np.sort(idx)]
    x = np.ascontiguousarray(a[:, :NF]).view(np.int8)
    node = a[:, NF].astype(np.int64)
    bit = a[:, NF + 1].astype(np.float64)
    p = (a[:, NF + 2].astype(np.int64) | (a[:, NF + 3].astype(np.int64) << 8)) / 65536.0
    return x, node, bit, p


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(NF, H)
        self.l2 = torch.nn.Linear(H, H)
        self.out = torch.nn.Linear(H, NODES)

    def hidden(self, x):
        return torch.relu(self.l2(torch.relu(self.l1(x))))

    def forward(self, x, node):
        return self.out(self.hidden(x)).gather(1, node[:, None])[:, 0]


def bits(bit, p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-(bit * np.log2(p) + (1 - bit) * np.log2(1 - p)).sum())


def stretch(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def mixed(bit, p, lg):
    """Bits of the best global logistic mix a·stretch(p) + b·logit + c (fitted
    on these records: the offline stand-in for the coder's adaptive mixer)."""
    f = torch.tensor(np.stack([stretch(p), lg, np.ones(len(p))], 1), dtype=torch.float64)
    y = torch.tensor(bit, dtype=torch.float64)
    w = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=50)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(f @ w, y, reduction="sum")
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(torch.nn.functional.binary_cross_entropy_with_logits(f @ w, y, reduction="sum")) / np.log(2)


def scales(net, x_sample):
    """The power-of-two scales of spec §7.12's integer network: weights of each
    layer ×2^k (k1, k2, ko: the largest that keeps them within int8) and hidden
    activations ×2^m (m1, m2: 127 covers their 99.99th percentile)."""

    def wscale(w):
        return int(np.floor(np.log2(127.0 / w.detach().abs().max().item())))

    with torch.no_grad():
        xs = torch.from_numpy(x_sample).float() / 64.0
        h1 = torch.relu(net.l1(xs)).numpy()
        h2 = net.hidden(xs).numpy()

    def ascale(h):
        return int(np.floor(np.log2(127.0 / max(np.quantile(h, 0.9999), 1e-3))))

    return wscale(net.l1.weight), wscale(net.l2.weight), wscale(net.out.weight), ascale(h1), ascale(h2)


def quantise(net, sc):
    """Integer parameters at scales `sc` (see `scales`): int8 weights, int32
    biases, and the right shifts of spec §7.12."""
    k1, k2, ko, m1, m2 = sc
    s1, s2, so = k1 + 6 - m1, k2 + m1 - m2, ko + m2 - 8
    assert min(s1, s2, so) >= 0, (s1, s2, so)

    def w8(w, k):
        return np.clip(np.round(w.detach().double().numpy() * 2.0**k), -127, 127).astype(np.int8)

    def b32(b, k):
        return np.round(b.detach().double().numpy() * 2.0**k).astype(np.int32)

    q = {
        "w1": w8(net.l1.weight, k1),
        "b1": b32(net.l1.bias, k1 + 6),
        "w2": w8(net.l2.weight, k2),
        "b2": b32(net.l2.bias, k2 + m1),
        "wo": w8(net.out.weight, ko),
        "bo": b32(net.out.bias, ko + m2),
    }
    return q, {"s1": s1, "s2": s2, "so": so}


def ste(x, f):
    """`f(x)` forward, the identity backward (straight-through estimator)."""
    return x + (f(x) - x).detach()


def qforward(net, x, node, sc):
    """The integer network of spec §7.12 emulated in float, with
    straight-through gradients: for quantisation-aware fine-tuning. `x` is
    the features / 64; returns the logit (nats) that `int_logits` / 256 gives."""
    k1, k2, ko, m1, m2 = sc

    def qw(w, k):
        return torch.clamp(ste(w * 2.0**k, torch.round), -127, 127) / 2.0**k

    def qb(b, k):
        return ste(b * 2.0**k, torch.round) / 2.0**k

    h1 = torch.clamp(ste((x @ qw(net.l1.weight, k1).T + qb(net.l1.bias, k1 + 6)) * 2.0**m1, torch.floor), 0, 127) / 2.0**m1
    h2 = torch.clamp(ste((h1 @ qw(net.l2.weight, k2).T + qb(net.l2.bias, k2 + m1)) * 2.0**m2, torch.floor), 0, 127) / 2.0**m2
    wo, bo = qw(net.out.weight, ko)[node], qb(net.out.bias, ko + m2)[node]
    o = (h2 * wo).sum(1) + bo
    return torch.clamp(ste(o * 256.0, torch.floor), -2047, 2047) / 256.0


def int_logits(q, sh, x, node):
    """The integer network of spec §7.12 (what the Rust code computes): the
    mixer input, a logit in 1/256 units clamped to ±2047."""
    x = x.astype(np.int64)
    a1 = x @ q["w1"].astype(np.int64).T + q["b1"]
    h1 = np.clip(a1 >> sh["s1"], 0, 127)
    a2 = h1 @ q["w2"].astype(np.int64).T + q["b2"]
    h2 = np.clip(a2 >> sh["s2"], 0, 127)
    o = (h2 * q["wo"].astype(np.int64)[node]).sum(1) + q["bo"][node]
    return np.clip(o >> sh["so"], -2047, 2047)


def main():
    global H
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--records", type=int, default=30_000_000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=H, choices=[32, 64])
    ap.add_argument("--name", default="img-mlp-p", help="the package's name")
    ap.add_argument(
        "--residual",
        action="store_true",
        help="train the network as a correction to the adaptive model's logit "
        "(loss on stretch(p) + network) instead of on its own",
    )
    ap.add_argument("--float-out", help="also save the float network (torch state dict) here")
    ap.add_argument("--from-float", help="skip training: quantise this saved float network")
    ap.add_argument("--qat", type=int, default=0, help="epochs of quantisation-aware fine-tuning after training")
    a = ap.parse_args()
    H = a.hidden
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    x, node, bit, p = load(a.train, a.records)
    dx, dnode, dbit, dp = load(a.dev)
    X = torch.from_numpy(x)
    Nd = torch.tensor(node)
    Y = torch.tensor(bit, dtype=torch.float32)
    S = torch.tensor(stretch(p) if a.residual else np.zeros(len(p)), dtype=torch.float32)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    bce = torch.nn.BCEWithLogitsLoss()
    base = bits(dbit, dp)
    if a.from_float:
        net.load_state_dict(torch.load(a.from_float))
    for ep in range(0 if a.from_float else a.epochs):
        t = time.time()
        perm = torch.randperm(len(Y))
        for i in range(0, len(Y), 2048):
            j = perm[i : i + 2048]
            loss = bce(S[j] + net(X[j].float() / 64.0, Nd[j]), Y[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
        for g in opt.param_groups:
            g["lr"] *= 0.6
        with torch.no_grad():
            lg = torch.cat(
                [
                    net(torch.from_numpy(dx[i : i + 500000]).float() / 64.0, torch.from_numpy(dnode[i : i + 500000]))
                    for i in range(0, len(dbit), 500000)
                ]
            ).double().numpy()
        print(
            f"epoch {ep}: {time.time() - t:.0f} s; held-out: network {bits(dbit, 1 / (1 + np.exp(-lg))) / base:.4f}, "
            f"mixed {mixed(dbit, dp, lg) / base:.4f} of the adaptive model",
            flush=True,
        )
    if a.float_out:
        torch.save(net.state_dict(), a.float_out)
    sc = scales(net, x[:2_000_000])

    def report(what):
        q, sh = quantise(net, sc)
        il = np.concatenate([int_logits(q, sh, dx[i : i + 1000000], dnode[i : i + 1000000]) for i in range(0, len(dnode), 1000000)]) / 256.0
        with torch.no_grad():  # the float emulation agrees (but for float rounding at floor boundaries)
            em = qforward(net.double(), torch.from_numpy(dx[:100000]).double() / 64.0, torch.from_numpy(dnode[:100000]), sc)
            net.float()
        agree = float(np.mean(np.abs(em.numpy() - il[:100000]) < 1.5 / 256))
        print(
            f"{what}: {bits(dbit, 1 / (1 + np.exp(-il))) / base:.4f}, mixed {mixed(dbit, dp, il) / base:.4f} "
            f"of the adaptive model on held-out records (float emulation within 1/256 on {agree:.2%})",
            flush=True,
        )
        return q, sh

    q, sh = report("integer network")
    if a.qat:
        # Quantisation-aware fine-tuning at the scales just chosen: the float
        # weights learn to do well once rounded (straight-through gradients).
        opt = torch.optim.Adam(net.parameters(), lr=2e-4)
        for ep in range(a.qat):
            t = time.time()
            perm = torch.randperm(len(Y))
            for i in range(0, len(Y), 2048):
                j = perm[i : i + 2048]
                loss = bce(S[j] + qforward(net, X[j].float() / 64.0, Nd[j], sc), Y[j])
                opt.zero_grad()
                loss.backward()
                opt.step()
            for g in opt.param_groups:
                g["lr"] *= 0.5
            q, sh = report(f"quantisation-aware epoch {ep} ({time.time() - t:.0f} s), integer network")
    # A check vector: the integer logits of the first held-out records for every node.
    meta = {
        "arch": "img-mlp-v1",
        "name": a.name,
        "features": NF,
        "hidden": H,
        "nodes": NODES,
        **sh,
        "trained": "codec/train/train_img_mlp.py on records of the corpus train split's photos",
    }
    save_file(q, a.out, metadata={"nzip": json.dumps(meta, sort_keys=True)})
    print("wrote", a.out, meta)


if __name__ == "__main__":
    main()
