#!/usr/bin/env python3
"""Regenerate corpus/samples/ (committed) from corpus/data (run in the corpus venv).

    corpus/.cache/venv/bin/python corpus/make_samples.py [--data corpus/data]

Each sample is an exact cut of a corpus file whose licence allows redistribution (see
corpus/samples/SOURCES.md): image crops keep the source pixels, WAV cuts keep the source
samples, text excerpts are whole lines. The output is deterministic; tests and CI use
these files and never need the network.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import numpy as np

CORPUS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(CORPUS_DIR))
from build_corpus import png_bytes, wav_bytes  # noqa: E402
from manifest import wav_format  # noqa: E402
from pixels import load  # noqa: E402

OUT = CORPUS_DIR / "samples"


def copy(data: Path, src: str, dest: str) -> None:
    write(dest, (data / src).read_bytes())


def crop_png(data: Path, src: str, dest: str, left: int, top: int, width: int, height: int) -> None:
    pixels = load(data / src)[top : top + height, left : left + width]
    write(dest, png_bytes(pixels if pixels.shape[2] > 1 else pixels[:, :, 0]))


def cut_wav(data: Path, src: str, dest: str, start_s: float, seconds: float) -> None:
    _, channels, rate, bits, pcm = wav_format((data / src).read_bytes())
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    assert bits == 16
    first = round(start_s * rate)
    write(dest, wav_bytes(samples[first : first + round(seconds * rate)], rate, bits))


def text_lines(data: Path, src: str, dest: str, start: int, size: int) -> None:
    """Whole lines: from the first line start at or after `start`, up to `size` bytes."""
    text = (data / src).read_bytes()
    begin = 0 if start == 0 else text.index(b"\n", start - 1) + 1
    end = text.rindex(b"\n", begin, begin + size) + 1
    write(dest, text[begin:end])


def idx_head(data: Path, src: str, dest: str, count: int) -> None:
    raw = (data / src).read_bytes()
    n, rows, cols = struct.unpack(">III", raw[4:16])
    assert raw[:4] == b"\0\0\x08\x03" and count <= n
    write(dest, raw[:4] + struct.pack(">III", count, rows, cols) + raw[16 : 16 + count * rows * cols])


def write(dest: str, content: bytes) -> None:
    path = OUT / dest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    print(f"{len(content):8d}  samples/{dest}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=CORPUS_DIR / "data")
    data = ap.parse_args().data
    copy(data, "images/photo/native/go_video-001.png", "images/photo/native/go_video-001.png")
    crop_png(data, "images/photo/native/skimage_astronaut.png", "images/photo/native/astronaut_crop.png",
             160, 40, 128, 128)
    copy(data, "images/graphics/gnome_shell-top-bar.png", "images/graphics/gnome_shell-top-bar.png")
    copy(data, "images/graphics/skimage_horse.png", "images/graphics/skimage_horse.png")
    idx_head(data, "images/mnist/fashion-mnist/t10k-images-idx3-ubyte",
             "images/mnist/fashion-mnist/t10k-first32-images-idx3-ubyte", 32)
    cut_wav(data, "audio/speech/arctic_a0007.wav", "audio/speech/arctic_a0007_3s.wav", 0.5, 3.0)
    cut_wav(data, "audio/music/sonicpi_loop_amen_full.wav", "audio/music/amen_1s.wav", 1.0, 1.0)
    text_lines(data, "text/prose/canterbury_alice29.txt", "text/prose/alice29_head.txt", 0, 16384)
    text_lines(data, "text/code/sqlite3.c", "text/code/sqlite3_excerpt.c", 2_000_000, 16384)
    text_lines(data, "text/structured/UnicodeData.txt", "text/structured/UnicodeData_head.txt", 0, 16384)
    return 0


if __name__ == "__main__":
    sys.exit(main())
