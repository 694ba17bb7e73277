#!/usr/bin/env python3
"""Plot bench.py results: rate against decode speed, one panel per category.

    plot.py results.json results.png      (needs matplotlib; the corpus venv has it)

Each point is a codec's total over the category: x = decode speed (raw MB/s, log scale),
y = bits per sub-pixel / sample / byte. Lower and further right is better.
"""

import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

UNIT = {"images": "sub-pixel", "audio": "sample", "text": "byte"}


def panel(ax, category: str, rows: dict) -> None:
    for name, t in sorted(rows.items()):
        marker = "*" if name.startswith("nzip") else "o"
        size = 140 if marker == "*" else 40
        ax.scatter(t["decode_MBps"], t["bits_per_unit"], marker=marker, s=size)
        ax.annotate(name, (t["decode_MBps"], t["bits_per_unit"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.margins(x=0.35, y=0.12)  # room for the labels
    ax.set_title(category, fontsize=10)
    ax.set_xlabel("decode MB/s (raw)", fontsize=8)
    ax.set_ylabel(f"bits per {UNIT[category.split('/')[0]]}", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, which="both", alpha=0.3)


def main(json_path: str, png_path: str) -> int:
    report = json.load(open(json_path))
    categories = report["summary"]["categories"]
    cols = 3
    rows = max(1, math.ceil(len(categories) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.2 * rows), squeeze=False)
    for ax, (category, table) in zip(axes.flat, categories.items()):
        panel(ax, category, table)
    for ax in list(axes.flat)[len(categories):]:
        ax.axis("off")
    m = report["machine"]
    fig.suptitle(f"nzip bench, {report['args']['split']} split: rate vs decode speed "
                 f"({m['cpu']}, {m['date']})", fontsize=11)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
