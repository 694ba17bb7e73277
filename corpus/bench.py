#!/usr/bin/env python3
"""nzip benchmark harness: nzip against the reference codecs, per corpus category.

    python3 corpus/bench.py                       # test split, every codec, full effort
    python3 corpus/bench.py --quick               # CI smoke: 2-3 small files per category
    python3 corpus/bench.py --quick --data corpus/samples
    python3 corpus/bench.py --nzip target/release/nzip --nzip-args "-9" --model-bytes 123456

For every file and codec it encodes, decodes and checks losslessness (bytes for nzip and
the text codecs, decoded pixels for image codecs, decoded PCM samples for audio codecs;
for an image that nzip restores through its image model, which writes its own PNG image
data, the decoded pixels and every PNG chunk other than IDAT, in order);
any mismatch or codec failure stops the run (exit 3) unless --keep-going.

Outputs: a markdown report (--md), a JSON file (--json) and a plot (--png, needs
matplotlib: the corpus venv has it). Rates are bits per sub-pixel (images: raw =
W*H*channels bytes), per sample (audio: raw = PCM bytes) and per byte (text); speeds are
raw MB/s (1 MB = 1e6 bytes) measured in this run, wall clock, including process start.

The core uses only the Python standard library; image checks use corpus/pixels.py in the
corpus venv (numpy, pillow), created by `corpus/fetch.sh --venv-only`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
REPO_DIR = CORPUS_DIR.parent
sys.path.insert(0, str(CORPUS_DIR))
import manifest  # noqa: E402  (corpus/manifest.py: split rules and WAV parsing)

VENV_PYTHON = CORPUS_DIR / ".cache" / "venv" / "bin" / "python"
KIND_UNIT = {"image": "sub-pixel", "audio": "sample", "text": "byte"}


# --------------------------------------------------------------------------- codecs


@dataclass(frozen=True)
class Codec:
    """A codec as two command templates.

    Placeholders: {src} the corpus file, {png} / {pnm} the image as PNG / PNM,
    {out} the compressed file, {dec} the decoded file, {name} the input's base name.
    A template whose stdout is the result says so with stdout_encode / stdout_decode.
    """

    name: str
    kind: str  # image | audio | text | any (nzip)
    tool: str
    encode: tuple[str, ...]
    decode: tuple[str, ...] = ()  # empty: decoded by the pixel helper (PNG output)
    ext: str = ".bin"
    check: str = "bytes"  # bytes | pixels | pcm
    stdout_encode: bool = False
    stdout_decode: bool = False
    decoded_ext: str = ""  # "" = the PNM extension of the input (pgm/ppm/pam)
    reference: bool = True


def image_codecs(quick: bool) -> list[Codec]:
    # oxipng: the tool's own advice is `-o max -Z --fast` (without --fast, Zopfli runs once
    # per filter: over 8 minutes for one 2560x1600 image here).
    oxipng = ("-o", "2") if quick else ("-o", "max", "-Z", "--fast")
    effort = "7" if quick else "9"
    webp_z = "6" if quick else "9"
    tag = " [quick]" if quick else ""
    return [
        Codec("oxipng " + " ".join(oxipng) + tag, "image", "oxipng",
              ("{oxipng}", *oxipng, "--strip", "safe", "-q", "-t", "1", "--out", "{out}", "{png}"),
              ext=".png", check="pixels"),
        Codec(f"cjxl -d 0 -e {effort}" + tag, "image", "cjxl",
              ("cjxl", "{pnm}", "{out}", "-d", "0", "-e", effort, "--num_threads=1", "--quiet"),
              ("djxl", "{out}", "{dec}", "--num_threads=1", "--quiet"), ext=".jxl", check="pixels"),
        Codec(f"cwebp -lossless -z {webp_z} -exact" + tag, "image", "cwebp",
              ("cwebp", "-quiet", "-lossless", "-z", webp_z, "-exact", "{pnm}", "-o", "{out}"),
              ("dwebp", "-quiet", "{out}", "-pam", "-o", "{dec}"), ext=".webp", check="pixels",
              decoded_ext=".pam"),
    ]


def audio_codecs() -> list[Codec]:
    ffmpeg = ("ffmpeg", "-nostdin", "-v", "error", "-y")
    to_pcm = (*ffmpeg, "-i", "{out}", "-f", "{pcmfmt}", "-c:a", "pcm_{pcmfmt}", "{dec}")
    return [
        Codec("flac -8 -e -p", "audio", "flac", ("flac", "-8", "-e", "-p", "-s", "-f", "-o", "{out}", "{src}"),
              ("flac", "-d", "-s", "-f", "-o", "{dec}", "{out}"), ext=".flac", check="pcm", decoded_ext=".wav"),
        Codec("wavpack -hh -x6", "audio", "wavpack", ("wavpack", "-hh", "-x6", "-q", "-y", "{src}", "-o", "{out}"),
              ("wvunpack", "-q", "-y", "{out}", "-o", "{dec}"), ext=".wv", check="pcm", decoded_ext=".wav"),
        Codec("ffmpeg alac", "audio", "ffmpeg",
              (*ffmpeg, "-i", "{src}", "-fflags", "+bitexact", "-c:a", "alac", "{out}"), to_pcm,
              ext=".m4a", check="pcm", decoded_ext=".raw"),
        Codec("ffmpeg tta", "audio", "ffmpeg", (*ffmpeg, "-i", "{src}", "-fflags", "+bitexact", "-c:a", "tta", "{out}"),
              to_pcm, ext=".tta", check="pcm", decoded_ext=".raw"),
    ]


def text_codecs() -> list[Codec]:
    return [
        Codec("xz -9e", "text", "xz", ("xz", "-9e", "-T1", "-k", "-c", "{src}"), ("xz", "-d", "-c", "{out}"),
              ext=".xz", stdout_encode=True, stdout_decode=True),
        Codec("zstd --ultra -22 --long=31", "text", "zstd",
              ("zstd", "--ultra", "-22", "--long=31", "-T1", "-q", "-c", "{src}"),
              ("zstd", "-d", "--long=31", "-q", "-c", "{out}"), ext=".zst", stdout_encode=True, stdout_decode=True),
        Codec("brotli -q 11 -w 24", "text", "brotli", ("brotli", "-q", "11", "-w", "24", "-c", "{src}"),
              ("brotli", "-d", "-c", "{out}"), ext=".br", stdout_encode=True, stdout_decode=True),
        Codec("bzip2 -9", "text", "bzip2", ("bzip2", "-9", "-c", "{src}"), ("bzip2", "-d", "-c", "{out}"),
              ext=".bz2", stdout_encode=True, stdout_decode=True),
        Codec("7z PPMd o=32 mem=1g -mx=9", "text", "7zz",
              ("7zz", "a", "-bd", "-bso0", "-bsp0", "-mmt=1", "-m0=PPMd:o=32:mem=1g", "-mx=9", "{out}", "{name}"),
              ("7zz", "e", "-so", "{out}"), ext=".7z", stdout_decode=True),
        Codec("zpaq -m5", "text", "zpaq", ("zpaq", "a", "{out}", "{name}", "-m5", "-t1"),
              ("zpaq", "x", "{out}", "{name}", "-to", "{dec}", "-t1"), ext=".zpaq"),
    ]


def nzip_codecs(binary: str, arg_sets: list[str]) -> list[Codec]:
    codecs = []
    for args in arg_sets or [""]:
        extra = tuple(shlex.split(args))
        codecs.append(Codec(
            ("nzip " + args).strip(), "any", binary, (binary, "compress", "-c", *extra, "{src}"),
            (binary, "decompress", "-c", "{out}"), ext=".nz", stdout_encode=True, stdout_decode=True,
            reference=False))
    return codecs


def find_tool(codec: Codec) -> str | None:
    """Path of the codec's executable (oxipng is looked for in corpus/tools first)."""
    if codec.tool == "oxipng":
        local = CORPUS_DIR / "tools" / "bin" / "oxipng"
        return str(local) if local.exists() else shutil.which("oxipng")
    if not codec.reference:
        path = Path(codec.tool)
        return str(path.resolve()) if path.is_file() and os.access(path, os.X_OK) else shutil.which(codec.tool)
    return shutil.which(codec.tool)


# --------------------------------------------------------------------------- corpus items


@dataclass
class Item:
    """One corpus file to benchmark, with what its raw size is measured in."""

    path: str  # relative to the data directory
    category: str
    kind: str
    file_bytes: int
    raw_bytes: int = 0  # pixel bytes / PCM bytes / file bytes
    units: int = 0  # sub-pixels / samples / bytes
    info: dict = field(default_factory=dict)


def kind_of(category: str) -> str:
    return {"images": "image", "audio": "audio", "text": "text"}[category.split("/")[0]]


def is_label_file(path: str) -> bool:
    return "labels-idx1" in path


def list_items(data: Path, manifest_path: Path, split: str) -> list[Item]:
    """Files of the split (from MANIFEST.tsv), or every file when data is not the corpus."""
    rows = manifest.read_tsv(manifest_path) if manifest_path.exists() else {}
    in_manifest = rows and all((data / p).exists() for p in list(rows)[:5])
    if in_manifest:
        paths = [p for p, r in rows.items() if split == "all" or r["split"] == split]
    else:
        paths = manifest.corpus_files(data)
    items = []
    for p in sorted(paths):
        category = manifest.split_group(p)
        if p.split("/")[0] in ("images", "audio", "text") and not is_label_file(p):
            items.append(Item(p, category, kind_of(category), (data / p).stat().st_size))
    return items


def quick_selection(items: list[Item], per_category: int = 3, min_bytes: int = 2000,
                    max_bytes: int = 400_000) -> list[Item]:
    """The smallest files between min_bytes and max_bytes, a few per category
    (or the smallest file, where none fits)."""
    chosen = []
    for category in sorted({i.category for i in items}):
        pool = sorted((i for i in items if i.category == category), key=lambda i: (i.file_bytes, i.path))
        fitting = [i for i in pool if min_bytes <= i.file_bytes <= max_bytes] or pool[:1]
        chosen += fitting[:per_category]
    return chosen


# --------------------------------------------------------------------------- helpers


class PixelHelper:
    """A `pixels.py serve` process in the corpus venv, one per worker thread."""

    def __init__(self, python: str):
        self.proc = subprocess.Popen([python, str(CORPUS_DIR / "pixels.py"), "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def call(self, **request) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"error": "pixel helper died"}')
        if "error" in reply:
            raise BenchError(f"pixel helper: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def pixel_helper_works(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import numpy, PIL"], capture_output=True).returncode == 0
    except OSError:
        return False


class BenchError(Exception):
    """A codec failed or did not restore its input exactly."""


def run(argv: list[str], cwd: Path, stdout_path: Path | None = None) -> float:
    """Run a command; return its wall-clock seconds; raise BenchError if it fails."""
    start = time.perf_counter()
    with open(stdout_path, "wb") if stdout_path else open(os.devnull, "wb") as out:
        proc = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"{shlex.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def png_layout(data: bytes) -> list[tuple[bytes, bytes]] | None:
    """Every chunk of a PNG but IDAT (type and data, in order, with a marker where the
    image data was) and the bytes after IEND; None if data is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    out, pos, in_idat = [], 8, False
    while pos + 8 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IDAT":
            if not in_idat:
                out.append((b"IDAT", b""))
            in_idat = True
            continue
        in_idat = False
        out.append((kind, body))
        if kind == b"IEND":
            break
    out.append((b"trailer", data[pos:]))
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pcm_of(path: Path) -> tuple[tuple[int, int, int] | None, bytes]:
    """((channels, rate, bits) or None for raw PCM, PCM bytes) of a decoded audio file."""
    data = path.read_bytes()
    if data[:4] == b"RIFF":
        _, channels, rate, bits, pcm = manifest.wav_format(data)
        return (channels, rate, bits), pcm
    return None, data


# --------------------------------------------------------------------------- measuring


@dataclass
class Measurement:
    path: str
    category: str
    codec: str
    raw_bytes: int
    units: int
    compressed: int
    encode_s: float
    decode_s: float


class Bench:
    """Runs every codec on every item and checks each round trip."""

    def __init__(self, args: argparse.Namespace, codecs: list[Codec]):
        self.args = args
        self.codecs = codecs
        self.data = Path(args.data).resolve()
        self.local = threading.local()
        self.helpers: list[PixelHelper] = []
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.oxipng = next((find_tool(c) for c in codecs if c.tool == "oxipng"), None) or "oxipng"

    def helper(self) -> PixelHelper:
        if not hasattr(self.local, "helper"):
            self.local.helper = PixelHelper(self.args.python)
            with self.lock:
                self.helpers.append(self.local.helper)
        return self.local.helper

    def prepare(self, item: Item, work: Path) -> dict:
        """Fill in the item's raw size; return the placeholders for the command templates."""
        src = self.data / item.path
        fields = {"src": str(src), "name": src.name, "oxipng": self.oxipng}
        if item.kind == "image":
            info = self.helper().call(op="prepare", src=str(src), dir=str(work))
            item.units = item.raw_bytes = info["subpixels"]
            item.info = info
            fields.update(png=info["png"], pnm=info["pnm"])
        elif item.kind == "audio":
            _, channels, rate, bits, pcm = manifest.wav_format(src.read_bytes())
            item.raw_bytes, item.units = len(pcm), len(pcm) // (bits // 8)
            item.info = {"params": (channels, rate, bits), "pcm_sha256": sha256_bytes(pcm)}
            fields["pcmfmt"] = {8: "u8", 16: "s16le", 24: "s24le", 32: "s32le"}[bits]
        else:
            item.raw_bytes = item.units = item.file_bytes
        # Codecs that store the input's name (7z, zpaq) read it from the work directory
        # (zpaq skips symbolic links, so this is a hard link, or a copy across devices).
        if item.kind == "text":
            try:
                os.link(src, work / src.name)
            except OSError:
                shutil.copyfile(src, work / src.name)
        return fields

    def measure(self, item: Item, codec: Codec, fields: dict, work: Path) -> Measurement:
        out = work / ("c" + codec.ext)
        dec_ext = codec.decoded_ext or (Path(fields["pnm"]).suffix if item.kind == "image" else ".dec")
        dec = work / ("d" + dec_ext)
        values = {**fields, "out": out.name, "dec": dec.name}
        fill = lambda template: [part.format(**values) for part in template]  # noqa: E731
        encode_s = run(fill(codec.encode), work, out if codec.stdout_encode else None)
        decode_s = 0.0
        if codec.decode:
            # The median of --decode-runs runs: one run of a second or two moves by a
            # third from one minute to the next on a shared VM.
            times = [run(fill(codec.decode), work, dec if codec.stdout_decode else None)
                     for _ in range(max(1, self.args.decode_runs))]
            decode_s = statistics.median(times)
        decode_s += self.check(item, codec, work / (dec.name if codec.decode else out.name))
        m = Measurement(item.path, item.category, codec.name, item.raw_bytes, item.units,
                        out.stat().st_size, encode_s, decode_s)
        out.unlink()
        if dec.exists():
            dec.unlink()
        return m

    def check(self, item: Item, codec: Codec, decoded: Path) -> float:
        """Raise BenchError unless decoded restores item; return any extra decode seconds."""
        if not codec.reference:
            got, want = decoded.read_bytes(), (self.data / item.path).read_bytes()
            if got == want:
                return 0.0
            if item.kind != "image" or png_layout(want) is None:
                raise BenchError(f"MISMATCH: {codec.name} did not restore {item.path} byte for byte")
            # The image model restores pixels and metadata; the PNG's IDAT is its own.
            reply = self.helper().call(op="digest", path=str(decoded))
            if reply["digest"] != item.info["digest"]:
                raise BenchError(f"MISMATCH: {codec.name} changed the pixels of {item.path}")
            if png_layout(got) != png_layout(want):
                raise BenchError(f"MISMATCH: {codec.name} changed the PNG chunks (metadata) of {item.path}")
            return 0.0
        if codec.check == "bytes":
            if decoded.read_bytes() != (self.data / item.path).read_bytes():
                raise BenchError(f"MISMATCH: {codec.name} did not restore {item.path} byte for byte")
            return 0.0
        if codec.check == "pixels":
            reply = self.helper().call(op="digest", path=str(decoded))
            if reply["digest"] != item.info["digest"]:
                raise BenchError(f"MISMATCH: {codec.name} changed the pixels of {item.path}")
            # A PNG is decoded by the helper: that time is the PNG's decode time.
            return reply["decode_s"] if not codec.decode else 0.0
        params, pcm = pcm_of(decoded)
        if (params is not None and params != item.info["params"]) or sha256_bytes(pcm) != item.info["pcm_sha256"]:
            raise BenchError(f"MISMATCH: {codec.name} changed the samples of {item.path}")
        return 0.0

    def bench_item(self, item: Item) -> list[Measurement]:
        results = []
        with tempfile.TemporaryDirectory(prefix="nzip-bench-", dir=self.args.tmp) as tmp:
            work = Path(tmp)
            fields = self.prepare(item, work)
            for codec in self.codecs:
                if codec.kind not in (item.kind, "any"):
                    continue
                try:
                    results.append(self.measure(item, codec, fields, work))
                    if self.args.verbose:
                        m = results[-1]
                        log(f"  {item.path} {codec.name}: {m.compressed:,} B, enc {m.encode_s:.2f} s, "
                            f"dec {m.decode_s:.2f} s")
                except BenchError as exc:
                    if not self.args.keep_going:
                        raise
                    with self.lock:
                        self.errors.append(f"{item.path}: {exc}")
        return results

    def run_all(self, items: list[Item], checkpoint: Path | None, deadline: float | None) -> list[Measurement]:
        """Benchmark items, largest first, `jobs` at a time. Each finished item is appended
        to the checkpoint (JSON lines); no new item starts after the deadline."""
        measurements: list[Measurement] = []
        pending = iter(sorted(items, key=lambda i: (-i.file_bytes, i.path)))
        running: dict[concurrent.futures.Future, Item] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.args.jobs) as pool:
            while True:
                while len(running) < self.args.jobs and (deadline is None or time.time() < deadline):
                    item = next(pending, None)
                    if item is None:
                        break
                    running[pool.submit(self.bench_item, item)] = item
                if not running:
                    break
                finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    results = future.result()  # re-raises BenchError: stop loudly
                    measurements += results
                    save_checkpoint(checkpoint, results)
                    log(f"[{len(measurements)} measurements] {item.path}")
        for helper in self.helpers:
            helper.close()
        return measurements


def save_checkpoint(path: Path | None, results: list[Measurement]) -> None:
    if path is not None:
        with open(path, "a") as f:
            for m in results:
                f.write(json.dumps(asdict(m)) + "\n")


def load_checkpoint(path: Path) -> list[Measurement]:
    if not path.exists():
        return []
    return [Measurement(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- summaries


def totals_by(measurements: list[Measurement], key, args: argparse.Namespace) -> dict[str, dict[str, dict]]:
    """Totals per (key(category), codec) with their rates and speeds; `key` returning None skips."""
    totals: dict[str, dict[str, dict]] = {}
    for m in measurements:
        group = key(m.category)
        if group is None:
            continue
        t = totals.setdefault(group, {}).setdefault(
            m.codec, {"files": 0, "raw_bytes": 0, "units": 0, "compressed": 0, "encode_s": 0.0, "decode_s": 0.0})
        t["files"] += 1
        t["raw_bytes"] += m.raw_bytes
        t["units"] += m.units
        t["compressed"] += m.compressed
        t["encode_s"] += m.encode_s
        t["decode_s"] += m.decode_s
    for rows in totals.values():
        for name, t in rows.items():
            t["ratio"] = t["raw_bytes"] / t["compressed"]
            t["bits_per_unit"] = 8 * t["compressed"] / t["units"]
            t["encode_MBps"] = t["raw_bytes"] / 1e6 / max(t["encode_s"], 1e-9)
            t["decode_MBps"] = t["raw_bytes"] / 1e6 / max(t["decode_s"], 1e-9)
            if model_charge(name, args.model_bytes):
                t["bits_per_unit_with_model"] = 8 * (t["compressed"] + args.model_bytes) / t["units"]
    return totals


def parent_group(categories: set[str]):
    """The parent of a category whose parent holds two or more of the measured categories
    (images/photo for images/photo/native and images/photo/jpeg_downscaled), else None."""
    def parent(category: str) -> str | None:
        return category.rsplit("/", 1)[0] if "/" in category else None
    counts: dict[str, int] = {}
    for c in categories:
        if parent(c) is not None:
            counts[parent(c)] = counts.get(parent(c), 0) + 1
    return lambda c: parent(c) if counts.get(parent(c) or "", 0) >= 2 else None


def summarise(measurements: list[Measurement], args: argparse.Namespace) -> dict:
    """Totals per (category, codec), per parent group of categories, and an overall row."""
    totals = totals_by(measurements, lambda c: c, args)
    groups = totals_by(measurements, parent_group(set(totals)), args)
    return {"categories": totals, "groups": groups, "overall": overall(totals, args)}


def best_reference(rows: dict, reference_names: set[str]) -> tuple[str, dict] | None:
    refs = [(name, t) for name, t in rows.items() if name in reference_names]
    return min(refs, key=lambda nt: nt[1]["compressed"]) if refs else None


def overall(totals: dict, args: argparse.Namespace) -> dict:
    """Sum over categories of the best reference per category, and of each nzip variant."""
    refs = set(args.reference_names)
    out = {"raw_bytes": 0, "best_reference_bytes": 0, "nzip": {}}
    for rows in totals.values():
        best = best_reference(rows, refs)
        if best is None:
            continue
        out["raw_bytes"] += best[1]["raw_bytes"]
        out["best_reference_bytes"] += best[1]["compressed"]
        for name, t in rows.items():
            if name not in refs:
                out["nzip"][name] = out["nzip"].get(name, 0) + t["compressed"]
    return out


# --------------------------------------------------------------------------- reports


def machine() -> dict:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                      if line.startswith("Model name")), "")
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "(no commit)"
    dirty = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": model or platform.processor(), "cores": os.cpu_count(), "os": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
    }


def tool_versions(codecs: list[Codec]) -> dict[str, str]:
    probes = {"oxipng": ["--version"], "cjxl": ["--version"], "cwebp": ["-version"], "flac": ["--version"],
              "wavpack": ["--version"], "ffmpeg": ["-version"], "xz": ["--version"], "zstd": ["--version"],
              "brotli": ["--version"], "bzip2": ["--help"], "7zz": [], "zpaq": []}
    versions = {}
    for codec in codecs:
        path = find_tool(codec)
        if path is None or codec.tool in versions or (not codec.reference and "nzip" in versions):
            continue
        argv = [path] + probes.get(codec.tool, ["--version"])
        label = codec.tool if codec.reference else "nzip"
        try:
            text = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            lines = [ln.strip() for ln in (text.stdout + text.stderr).splitlines() if ln.strip()]
            wanted = [ln for ln in lines if any(c.isdigit() for c in ln)]
            versions[label] = (wanted or lines or ["?"])[0][:80]
        except (OSError, subprocess.TimeoutExpired):
            versions[label] = "?"
    return versions


def fmt_rate(t: dict) -> str:
    return f"{t['bits_per_unit']:.4f}"


def category_table(category: str, rows: dict, refs: list[str], args: argparse.Namespace) -> list[str]:
    kind = kind_of(category)
    best = best_reference(rows, set(refs))
    any_row = next(iter(rows.values()))
    lines = [f"### {category}", "",
             f"{any_row['files']} files, raw {any_row['raw_bytes'] / 1e6:.2f} MB "
             f"({any_row['units']:,} {KIND_UNIT[kind]}s).", "",
             f"| codec | bytes | ratio | bits/{KIND_UNIT[kind]} | vs best ref | enc MB/s | dec MB/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, t in sorted(rows.items(), key=lambda nt: nt[1]["compressed"]):
        rel = f"{t['compressed'] / best[1]['compressed']:.3f}" if best else "-"
        bold = "**" if best and name == best[0] else ""
        lines.append(f"| {bold}{name}{bold} | {t['compressed']:,} | {t['ratio']:.3f} | {fmt_rate(t)} | {rel} | "
                     f"{t['encode_MBps']:.2f} | {t['decode_MBps']:.2f} |")
    lines += nzip_vs_refs(rows, refs, KIND_UNIT[kind], args.model_bytes) + [""]
    return lines


def model_charge(name: str, model_bytes: int) -> int:
    """The model bytes charged to a codec: only nzip variants that use a learned model."""
    return model_bytes if name.startswith("nzip") and "--model" in name else 0


def nzip_vs_refs(rows: dict, refs: list[str], unit: str, model_bytes: int) -> list[str]:
    """For each nzip variant: its size relative to each reference, and the model charge."""
    lines = []
    for name, t in rows.items():
        if name in refs:
            continue
        ratios = ", ".join(f"{ref}: {t['compressed'] / rows[ref]['compressed']:.3f}" for ref in refs if ref in rows)
        if ratios:
            lines += ["", f"{name} size / reference size: {ratios}."]
        if model_charge(name, model_bytes):
            lines.append(f"{name} with its model ({model_bytes:,} bytes) charged to this category: "
                         f"{t['bits_per_unit_with_model']:.4f} bits/{unit}.")
    return lines


def markdown(report: dict) -> str:
    args = report["args"]
    m = report["machine"]
    lines = ["# nzip benchmark results", "",
             f"- machine: {m['cpu']}, {m['cores']} cores ({m['os']})",
             f"- date: {m['date']}; commit: {m['commit']}",
             f"- command: `{report['command']}`",
             f"- split: {args['split']}; data: {args['data']}; files: {report['files']}"
             + ("; **quick mode** (small files; codecs marked [quick] use cheaper settings)" if args["quick"] else ""),
             f"- nzip model size charged: {args['model_bytes']:,} bytes", ""]
    lines += ["Tools:", ""] + [f"- {tool}: {v}" for tool, v in sorted(report["versions"].items())]
    if report["missing"]:
        lines += ["", "**Missing (not run):** " + ", ".join(report["missing"])]
    if report.get("not_measured"):
        lines += ["", f"**PARTIAL: {len(report['not_measured'])} of {report['files']} files were not measured "
                  "(--stop-after); the category totals below cover only the files measured.**"]
    if report["errors"]:
        lines += ["", "**Errors (--keep-going):**", ""] + [f"- {e}" for e in report["errors"]]
    lines += ["", "Losslessness was checked on every file for every codec (bytes, decoded pixels or decoded "
              "samples). Rates count the compressed file, container included. \"vs best ref\" is the size "
              "relative to the smallest reference in the category (bold). Speeds are raw MB/s, wall "
              f"clock including process start, {args['jobs']} file(s) at a time, measured in this run "
              "on a shared machine: compare them as ratios within a table, not across runs. Each "
              f"decode time is the median of {args.get('decode_runs', 1)} run(s) of the decoder.",
              "", "## Per category", ""]
    refs = report["reference_names"]
    for category, rows in report["summary"]["categories"].items():
        lines += category_table(category, rows, refs, argparse.Namespace(**args))
    groups = report["summary"].get("groups", {})
    if groups:
        lines += ["## Per group of categories", "",
                  "The categories above that share a parent, taken together (all their files).", ""]
        for group, rows in groups.items():
            lines += category_table(group, rows, refs, argparse.Namespace(**args))
    lines += overall_lines(report["summary"]["overall"], args)
    return "\n".join(lines) + "\n"


def overall_lines(o: dict, args: dict) -> list[str]:
    if not o["raw_bytes"]:
        return []
    lines = ["## Overall", "", "| | bytes | ratio to raw |", "|---|---:|---:|",
             f"| raw | {o['raw_bytes']:,} | 1.000 |",
             f"| best reference per category | {o['best_reference_bytes']:,} | "
             f"{o['raw_bytes'] / o['best_reference_bytes']:.3f} |"]
    for name, size in o["nzip"].items():
        lines.append(f"| {name} | {size:,} | {o['raw_bytes'] / size:.3f} |")
        if model_charge(name, args["model_bytes"]):
            charged = size + args["model_bytes"]
            lines.append(f"| {name} + model | {charged:,} | {o['raw_bytes'] / charged:.3f} |")
    return lines + [""]


def plot(json_path: Path, png_path: Path, python: str) -> None:
    """Draw the plot with corpus/plot.py in the venv (matplotlib); warn if it cannot."""
    proc = subprocess.run([python, str(CORPUS_DIR / "plot.py"), str(json_path), str(png_path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"no plot ({proc.stderr.strip()[-300:]})")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--data", default=str(CORPUS_DIR / "data"), help="corpus directory (default corpus/data)")
    ap.add_argument("--manifest", default=str(CORPUS_DIR / "MANIFEST.tsv"))
    ap.add_argument("--split", default="test", choices=("test", "train", "all"))
    ap.add_argument("--category", action="append", default=[], help="only these categories (repeatable)")
    ap.add_argument("--codec", action="append", default=[], help="only codecs whose name starts with this")
    ap.add_argument("--nzip", default=str(REPO_DIR / "target" / "release" / "nzip"))
    ap.add_argument("--nzip-args", action="append", default=[], help='e.g. "-9" (repeatable: one run each)')
    ap.add_argument("--no-nzip", action="store_true", help="references only")
    ap.add_argument("--model-bytes", type=int, default=0, help="model size charged to the nzip variants run with --model")
    ap.add_argument("--quick", action="store_true", help="smoke test: a few small files, cheaper slow codecs")
    ap.add_argument("--jobs", type=int, default=1, help="files benchmarked in parallel")
    ap.add_argument("--decode-runs", type=int, default=1,
                    help="decode each file this many times and report the median time (default 1)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every measurement")
    ap.add_argument("--resume", action="store_true",
                    help="keep the files already measured in <json>.partial.jsonl and do the rest")
    ap.add_argument("--stop-after", type=float, default=0, metavar="SECONDS",
                    help="start no new file after this long; the report then says what is missing")
    ap.add_argument("--keep-going", action="store_true", help="record failures instead of stopping")
    ap.add_argument("--python", default=str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable,
                    help="Python with numpy and pillow (default: the corpus venv)")
    ap.add_argument("--tmp", default=None, help="scratch directory (default: system temp)")
    ap.add_argument("--from-json", default=None, metavar="FILE",
                    help="run nothing: re-render the report and plot from an earlier JSON")
    ap.add_argument("--md", default=None, help="markdown report (default corpus/RESULTS.md, quick: none)")
    ap.add_argument("--json", default=None, help="JSON results (default corpus/results.json, quick: none)")
    ap.add_argument("--png", default=None, help="plot (default corpus/results.png, quick: none)")
    args = ap.parse_args(argv)
    for name, default in (("md", "RESULTS.md"), ("json", "results.json"), ("png", "results.png")):
        if getattr(args, name) is None and not args.quick:
            setattr(args, name, str(CORPUS_DIR / default))
    return args


def select_codecs(args: argparse.Namespace) -> tuple[list[Codec], list[str]]:
    codecs = image_codecs(args.quick) + audio_codecs() + text_codecs()
    if not args.no_nzip:
        codecs += nzip_codecs(os.path.abspath(args.nzip), args.nzip_args)
    if args.codec:
        codecs = [c for c in codecs if any(c.name.startswith(p) for p in args.codec)]
    present, missing = [], []
    for codec in codecs:
        (present if find_tool(codec) else missing).append(codec)
    return present, [f"{c.name} ({c.tool} not found)" for c in missing]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.from_json:
        report = json.loads(Path(args.from_json).read_text())
        write_outputs(report, args)
        return 0
    codecs, missing = select_codecs(args)
    for line in missing:
        log(f"missing: {line}")
    items = list_items(Path(args.data), Path(args.manifest), args.split)
    if args.category:
        items = [i for i in items if any(i.category.startswith(c) for c in args.category)]
    if args.quick:
        items = quick_selection(items)
    if any(i.kind == "image" for i in items) and not pixel_helper_works(args.python):
        missing.append(f"all image files ({args.python} lacks numpy/pillow: run corpus/fetch.sh --venv-only)")
        log(f"missing: {missing[-1]}")
        items = [i for i in items if i.kind != "image"]
    if not items:
        log(f"no files to benchmark in {args.data}")
        return 1
    args.reference_names = [c.name for c in codecs if c.reference]
    log(f"{len(items)} files, {len(codecs)} codecs")
    started = time.time()
    checkpoint = Path(args.json + ".partial.jsonl") if args.json else None
    earlier = load_checkpoint(checkpoint) if checkpoint and args.resume else []
    if checkpoint and not args.resume and checkpoint.exists():
        checkpoint.unlink()
    done_paths = {m.path for m in earlier}
    todo = [i for i in items if i.path not in done_paths]
    log(f"{len(items) - len(todo)} files already measured (--resume)" if args.resume else "starting")
    deadline = started + args.stop_after if args.stop_after else None
    bench = Bench(args, codecs)
    try:
        measurements = earlier + bench.run_all(todo, checkpoint, deadline)
    except BenchError as exc:
        log(f"STOPPED: {exc}")
        return 3
    report = {
        "command": shlex.join(["python3", "corpus/bench.py", *argv]),
        "machine": machine(), "args": {k: v for k, v in vars(args).items()}, "files": len(items),
        "elapsed_s": round(time.time() - started, 1), "versions": tool_versions(codecs), "missing": missing,
        "errors": bench.errors, "reference_names": args.reference_names,
        "summary": summarise(sorted(measurements, key=lambda m: (m.category, m.path, m.codec)), args),
        "measurements": [asdict(m) for m in sorted(measurements, key=lambda m: (m.category, m.path, m.codec))],
        "not_measured": sorted({i.path for i in items} - {m.path for m in measurements}),
    }
    write_outputs(report, args)
    if checkpoint and checkpoint.exists() and not report["not_measured"]:
        checkpoint.unlink()
    return 0


def write_outputs(report: dict, args: argparse.Namespace) -> None:
    """Print the markdown report and write the files asked for."""
    text = markdown(report)
    print(text)
    if args.md:
        Path(args.md).write_text(text)
        log(f"wrote {args.md}")
    json_path = Path(args.json) if args.json else None
    if json_path and not (args.from_json and json_path.resolve() == Path(args.from_json).resolve()):
        json_path.write_text(json.dumps(report, indent=1) + "\n")
        log(f"wrote {json_path}")
    source = json_path or (Path(args.from_json) if args.from_json else None)
    if args.png and source:
        plot(source, Path(args.png), args.python)
        log(f"wrote {args.png}")
    log(f"done in {report['elapsed_s']} s")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
