#!/usr/bin/env python3
"""Describe, split and verify the corpus against corpus/MANIFEST.tsv (python3 stdlib only).

    manifest.py verify  [--data DIR] [--manifest FILE] [--quiet]
    manifest.py update  [--data DIR] [--manifest FILE]
    manifest.py summary [--manifest FILE]

`verify` recomputes every row from the files and compares it with the manifest: a missing,
extra or changed file (bytes, sha256, split) is an error (exit 1). A differing source
(a Debian point release with identical content) is only a warning.
`update` rewrites the manifest from the files (after a deliberate change of sources).
`summary` prints file counts, bytes and split counts per category.

The train/test split (documented in corpus/README.md) is a pure function of the paths:
- split groups are the categories, with images/photo split into native/ and jpeg_downscaled/;
- within a group, files are ranked by sha256(path) (hex, ascending) and the first
  max(1, min(n - 1, round(n / 3))) are test, the rest train;
- images/mnist: MNIST and Fashion-MNIST keep their standard sets (t10k-* test, train-* train);
  the other digit sets there are split whole, by the same rank rule over their folders.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import struct
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
COLUMNS = ("path", "bytes", "sha256", "split", "format", "source", "origin", "license", "notes")
STRICT = ("bytes", "sha256", "split", "format")
PROVENANCE = ".provenance.tsv"
STANDARD_SPLIT_SETS = ("mnist", "fashion-mnist")


# --------------------------------------------------------------------------- formats


def describe(path: Path) -> str:
    """A short human-readable format description, from the file's own headers."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return describe_png(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return describe_wav(path)
    if "idx" in path.name and head[:2] == b"\0\0" and head[2] == 0x08:
        return describe_idx(head)
    if path.suffix == ".tar":
        with tarfile.open(path) as tar:
            return f"tar {len(tar.getmembers())} files"
    return describe_text(path)


PNG_COLOR = {0: "gray", 2: "rgb", 3: "palette", 4: "gray+alpha", 6: "rgba"}


def describe_png(head: bytes) -> str:
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    text = f"png {width}x{height} {PNG_COLOR.get(color, color)} {depth}-bit"
    return text + (" interlaced" if interlace else "")


def wav_chunks(data: bytes) -> dict[bytes, bytes]:
    """The top-level chunks of a RIFF/WAVE file (first occurrence of each id)."""
    chunks, pos = {}, 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.setdefault(cid, data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    return chunks


def wav_format(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(format tag, channels, rate, bits, PCM data) of a WAV file's bytes."""
    chunks = wav_chunks(data)
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", chunks[b"fmt "][:16])
    return tag, channels, rate, bits, chunks[b"data"]


def describe_wav(path: Path) -> str:
    tag, channels, rate, bits, pcm = wav_format(path.read_bytes())
    frames = len(pcm) // (channels * bits // 8)
    kind = {1: "pcm", 3: "float", 0xFFFE: "extensible"}.get(tag, f"tag{tag}")
    return f"wav {kind} {rate}Hz {channels}ch {bits}-bit {frames / rate:.2f}s"


def describe_idx(head: bytes) -> str:
    ndim = head[3]
    dims = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    return "idx u8 " + "x".join(map(str, dims))


def describe_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        encoding = "utf-8" if max(data, default=0) >= 0x80 else "ascii"
    except UnicodeDecodeError:
        encoding = "8-bit"
    lines = data.count(b"\n")
    return f"text {encoding} {lines} lines"


# --------------------------------------------------------------------------- split


def split_group(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:3] if parts[:2] == ["images", "photo"] else parts[:2])


def split_unit(path: str) -> str:
    """What the rank rule splits: a file, or for images/mnist a dataset folder."""
    parts = path.split("/")
    return "/".join(parts[:3]) if parts[:2] == ["images", "mnist"] else path


def standard_split(path: str) -> str | None:
    parts = path.split("/")
    if parts[:2] != ["images", "mnist"] or parts[2] not in STANDARD_SPLIT_SETS:
        return None
    return "test" if parts[-1].startswith("t10k-") else "train"


def assign_splits(paths: list[str]) -> dict[str, str]:
    """Map every path to 'train' or 'test' (see the module docstring)."""
    split = {p: s for p in paths if (s := standard_split(p))}
    units_by_group: dict[str, set[str]] = defaultdict(set)
    for p in paths:
        if p not in split:
            units_by_group[split_group(p)].add(split_unit(p))
    test_units = set()
    for units in units_by_group.values():
        ranked = sorted(units, key=lambda u: hashlib.sha256(u.encode()).hexdigest())
        n_test = max(1, min(len(ranked) - 1, round(len(ranked) / 3)))
        test_units.update(ranked[:n_test])
    for p in paths:
        split.setdefault(p, "test" if split_unit(p) in test_units else "train")
    return split


# --------------------------------------------------------------------------- rows


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_files(data: Path) -> list[str]:
    return sorted(
        p.relative_to(data).as_posix()
        for p in data.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data).parts)
    )


def read_tsv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {row["path"]: row for row in csv.DictReader(f, delimiter="\t")}


def compute_rows(data: Path) -> dict[str, dict[str, str]]:
    paths = corpus_files(data)
    prov = read_tsv(data / PROVENANCE) if (data / PROVENANCE).exists() else {}
    splits = assign_splits(paths)
    rows = {}
    for p in paths:
        f = data / p
        extra = prov.get(p, {})
        rows[p] = {
            "path": p, "bytes": str(f.stat().st_size), "sha256": sha256_file(f), "split": splits[p],
            "format": describe(f), "source": extra.get("source", ""), "origin": extra.get("origin", ""),
            "license": extra.get("license", ""), "notes": extra.get("notes", ""),
        }
    return rows


def write_manifest(rows: dict[str, dict[str, str]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        for p in sorted(rows):
            w.writerow(rows[p])


# --------------------------------------------------------------------------- commands


def verify(data: Path, manifest: Path, quiet: bool) -> int:
    want, got = read_tsv(manifest), compute_rows(data)
    errors, warnings = [], []
    for p in sorted(set(want) - set(got)):
        errors.append(f"missing: {p}")
    for p in sorted(set(got) - set(want)):
        errors.append(f"not in the manifest: {p}")
    for p in sorted(set(want) & set(got)):
        for col in STRICT:
            if want[p][col] != got[p][col]:
                errors.append(f"{p}: {col} is {got[p][col]!r}, the manifest says {want[p][col]!r}")
        if got[p]["source"] and want[p]["source"] != got[p]["source"]:
            warnings.append(f"{p}: source is {got[p]['source']!r}, the manifest says {want[p]['source']!r}")
    for line in warnings:
        print(f"manifest: warning: {line}", file=sys.stderr)
    for line in errors:
        print(f"manifest: MISMATCH: {line}", file=sys.stderr)
    if errors:
        print(f"manifest: {len(errors)} mismatches against {manifest}", file=sys.stderr)
        return 1
    if not quiet:
        print(f"manifest: all {len(got)} files match {manifest}", file=sys.stderr)
    return 0


def update(data: Path, manifest: Path) -> int:
    rows = compute_rows(data)
    write_manifest(rows, manifest)
    print(f"manifest: wrote {len(rows)} rows to {manifest}", file=sys.stderr)
    return 0


def category(path: str) -> str:
    return split_group(path)


def summary(manifest: Path) -> int:
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in read_tsv(manifest).values():
        for key in (category(row["path"]), "total"):
            t = table[key]
            size = int(row["bytes"])
            t[0] += 1
            t[1] += size
            t[2 if row["split"] == "train" else 3] += 1
            t[4] += size if row["split"] == "test" else 0
    print(f"{'category':32} {'files':>5} {'MB':>8} {'train':>5} {'test':>5} {'test MB':>8}")
    for key in sorted(table, key=lambda k: (k == "total", k)):
        n, size, train, test, test_size = table[key]
        print(f"{key:32} {n:5d} {size / 1e6:8.2f} {train:5d} {test:5d} {test_size / 1e6:8.2f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=("verify", "update", "summary"))
    ap.add_argument("--data", type=Path, default=CORPUS_DIR / "data")
    ap.add_argument("--manifest", type=Path, default=CORPUS_DIR / "MANIFEST.tsv")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.command == "summary":
        return summary(args.manifest)
    if not args.data.is_dir():
        print(f"manifest: no corpus at {args.data} (run corpus/fetch.sh)", file=sys.stderr)
        return 1
    if args.command == "update":
        return update(args.data, args.manifest)
    if not args.manifest.exists():
        print(f"manifest: {args.manifest} does not exist", file=sys.stderr)
        return 1
    return verify(args.data, args.manifest, args.quiet)


if __name__ == "__main__":
    sys.exit(main())
