#!/usr/bin/env python3
"""Pixel helper for corpus/bench.py; runs in the corpus venv (numpy, pillow).

bench.py starts `pixels.py serve` and sends one JSON request per line on stdin; each gets
one JSON reply line on stdout:

  {"op": "prepare", "src": FILE, "dir": DIR}
      Decode a corpus image (PNG, or an IDX3 file of images, which is tiled into one gray
      image of ceil(sqrt(N)) tiles per row, zero-padded) and write DIR/in.png (for PNG
      optimisers) and DIR/in.pgm|ppm|pam (raw input for cjxl and cwebp).
      Reply: width, height, channels, subpixels (the raw size: W*H*C, or N*rows*cols for
      IDX), digest, png, pnm, alpha.
  {"op": "digest", "path": FILE}
      Decode any image Pillow reads (PNG, PNM, PAM) and digest its pixels.
      Reply: digest, decode_s (the seconds spent decoding).

Digests are sha256 over the pixels in a canonical form (height, width, RGBA, 8 bits):
gray is replicated to RGB and a missing alpha is 255, so two images digest alike exactly
when every pixel is identical; an opaque alpha channel dropped by a codec is no loss.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

CHANNELS = {"1": 1, "L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def load(path: Path) -> np.ndarray:
    """Decode an image into an (H, W, C) uint8 array, C in 1..4 (palette expanded)."""
    if path.read_bytes()[:3] == b"P7\n":
        return load_pam(path.read_bytes())
    with Image.open(path) as im:
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode == "1":
            im = im.convert("L")
        elif im.mode not in CHANNELS:
            raise ValueError(f"{path}: unsupported image mode {im.mode}")
        a = np.asarray(im)
    return a if a.ndim == 3 else a[:, :, None]


def load_pam(data: bytes) -> np.ndarray:
    """Read an 8-bit PAM (P7) file, which Pillow does not."""
    end = data.index(b"ENDHDR\n") + len(b"ENDHDR\n")
    fields = dict(line.split(" ", 1) for line in data[3:end].decode().splitlines() if " " in line)
    w, h, c = int(fields["WIDTH"]), int(fields["HEIGHT"]), int(fields["DEPTH"])
    if int(fields["MAXVAL"]) != 255:
        raise ValueError("only 8-bit PAM is supported")
    return np.frombuffer(data, dtype=np.uint8, count=w * h * c, offset=end).reshape(h, w, c)


def canonical(a: np.ndarray) -> np.ndarray:
    """(H, W, 4) RGBA with gray replicated and alpha 255 where absent."""
    h, w, c = a.shape
    out = np.full((h, w, 4), 255, dtype=np.uint8)
    color = a[:, :, :1] if c <= 2 else a[:, :, :3]
    out[:, :, :3] = color
    if c in (2, 4):
        out[:, :, 3] = a[:, :, c - 1]
    return out


def digest(a: np.ndarray) -> str:
    c = canonical(a)
    return hashlib.sha256(struct.pack("<II", *c.shape[:2]) + c.tobytes()).hexdigest()


def load_idx3(path: Path) -> tuple[np.ndarray, int]:
    """Tile an IDX3 uint8 file into one gray image; return it and the true pixel count."""
    data = path.read_bytes()
    if data[:4] != b"\0\0\x08\x03":
        raise ValueError(f"{path}: not an IDX3 uint8 file")
    n, rows, cols = struct.unpack(">III", data[4:16])
    images = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    per_row = math.ceil(math.sqrt(n))
    grid_rows = math.ceil(n / per_row)
    padded = np.zeros((grid_rows * per_row, rows, cols), dtype=np.uint8)
    padded[:n] = images
    tiled = padded.reshape(grid_rows, per_row, rows, cols).transpose(0, 2, 1, 3)
    return tiled.reshape(grid_rows * rows, per_row * cols)[:, :, None], n * rows * cols


def write_pnm(a: np.ndarray, stem: Path) -> Path:
    """PGM/PPM for gray/RGB, PAM (with TUPLTYPE) for images with alpha."""
    h, w, c = a.shape
    if c == 1:
        path, header = stem.with_suffix(".pgm"), f"P5\n{w} {h}\n255\n".encode()
    elif c == 3:
        path, header = stem.with_suffix(".ppm"), f"P6\n{w} {h}\n255\n".encode()
    else:
        tupl = "GRAYSCALE_ALPHA" if c == 2 else "RGB_ALPHA"
        path = stem.with_suffix(".pam")
        header = f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH {c}\nMAXVAL 255\nTUPLTYPE {tupl}\nENDHDR\n".encode()
    path.write_bytes(header + np.ascontiguousarray(a).tobytes())
    return path


def prepare(src: str, workdir: str) -> dict:
    src_path, out = Path(src), Path(workdir)
    if src_path.read_bytes()[:4] == b"\0\0\x08\x03":
        a, subpixels = load_idx3(src_path)
        png = out / "in.png"
        Image.fromarray(a[:, :, 0]).save(png, compress_level=1)
    else:
        a = load(src_path)
        subpixels = a.size
        png = src_path
    h, w, c = a.shape
    return {
        "width": w, "height": h, "channels": c, "subpixels": int(subpixels), "digest": digest(a),
        "png": str(png), "pnm": str(write_pnm(a, out / "in")), "alpha": c in (2, 4),
    }


def digest_file(path: str) -> dict:
    start = time.perf_counter()
    a = load(Path(path))
    elapsed = time.perf_counter() - start
    return {"digest": digest(a), "decode_s": elapsed}


def handle(request: dict) -> dict:
    if request["op"] == "prepare":
        return prepare(request["src"], request["dir"])
    if request["op"] == "digest":
        return digest_file(request["path"])
    raise ValueError(f"unknown op {request['op']!r}")


def serve() -> int:
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
        except Exception as exc:  # reported to bench.py, which stops loudly
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.exit(__doc__)
    sys.exit(serve())
