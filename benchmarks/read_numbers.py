"""How well whole numbers are read: numbers of 2 to 4 digits built from real handwriting.

    .venv/bin/python benchmarks/read_numbers.py [--dev ../shared/data/pen-dev] [--numbers 600] [--seed 0]

Each number is made of ``pen_digits/`` canvases by one writer: each digit's ink is cropped, scaled to a
height that varies a little around the number's own, and placed side by side on a wide white canvas
with random gaps and a slight baseline wobble. The set is built here, seeded, never trained on. A second
set does the same with digits that touch (gaps of 0 to -6 px: strokes meet or overlap slightly).
Prints whole numbers read exactly right and digits right (same position; a wrong count of digits makes
every digit of that number wrong). Targets: >= 95% of whole numbers, >= 98% of digits (separate digits).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.number import read_number
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import load_image, to_paper_grayscale

NUMBER_SETS = {"separate digits (gaps 8-40 px)": (8, 40), "touching digits (gaps 0 to -6 px)": (-6, 0)}


def ink_of(path: Path) -> np.ndarray:
    """A canvas's digit as dark-on-white uint8, cropped to its ink."""
    gray = to_paper_grayscale(load_image(path))
    rows, cols = np.flatnonzero((gray < 128).any(axis=1)), np.flatnonzero((gray < 128).any(axis=0))
    return gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def compose(inks: list[np.ndarray], rng: np.random.Generator, gaps: tuple[int, int]) -> np.ndarray:
    """Digits side by side on white: heights around a common one, random gaps, a slight baseline wobble."""
    from PIL import Image

    height = rng.uniform(90, 150)
    scaled = []
    for ink in inks:
        h = height * rng.uniform(0.88, 1.12)
        w = max(1, round(ink.shape[1] * h / ink.shape[0]))
        scaled.append(np.asarray(Image.fromarray(ink).resize((w, round(h)), Image.Resampling.LANCZOS)))
    margin = 40
    width = sum(s.shape[1] for s in scaled) + margin * 2 + max(0, gaps[1]) * len(scaled)
    canvas = np.full((round(height * 1.12) + 2 * margin + 20, width), 255, dtype=np.uint8)
    x = margin
    for s in scaled:
        y = margin + int(rng.integers(-8, 9)) + (canvas.shape[0] - 2 * margin - s.shape[0]) // 2
        region = canvas[y : y + s.shape[0], x : x + s.shape[1]]
        np.minimum(region, s, out=region)  # ink over ink where strokes touch
        x += s.shape[1] + int(rng.integers(gaps[0], gaps[1] + 1))
    return canvas[:, : x + margin]


def pen_digit_files(dev: Path) -> dict[str, list[tuple[Path, int]]]:
    """``pen_digits/``'s canvases and labels, by writer (its manifest)."""
    folder = dev / "pen_digits"
    files: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    with open(folder / "manifest.csv", newline="") as manifest:
        for row in csv.DictReader(manifest):
            files[row["writer"]].append((folder / row["file"], int(row["label"])))
    return files


def numbers(
    files: dict[str, list[tuple[Path, int]]],
    count: int,
    seed: int,
    gaps: tuple[int, int],
) -> Iterator[tuple[list[tuple[Path, int]], np.ndarray]]:
    """``count`` numbers of 2-4 digits by one writer each: the canvases picked, and the number's canvas."""
    rng = np.random.default_rng(seed)
    writers = sorted(files)
    for _ in range(count):
        writer = writers[int(rng.integers(len(writers)))]
        picks = [files[writer][int(i)] for i in rng.integers(0, len(files[writer]), size=int(rng.integers(2, 5)))]
        yield picks, compose([ink_of(path) for path, _ in picks], rng, gaps)


def number_pngs(dev: Path, sets: dict[str, tuple[int, int]], count: int, seed: int) -> tuple[list[bytes], list[str]]:
    """``count`` numbers of each set as PNG files, and their names (the set, the number's index and truth)."""
    import io

    from PIL import Image

    pngs, names = [], []
    for name, gaps in sets.items():
        for i, (picks, canvas) in enumerate(numbers(pen_digit_files(dev), count, seed, gaps)):
            buffer = io.BytesIO()
            Image.fromarray(canvas).save(buffer, format="PNG")
            pngs.append(buffer.getvalue())
            names.append(f"{name} #{i} ({''.join(str(label) for _, label in picks)})")
    return pngs, names


def measure(
    predictor: Predictor,
    files: dict[str, list[tuple[Path, int]]],
    count: int,
    seed: int,
    gaps: tuple[int, int],
) -> dict:
    exact = digits_right = digits_total = exact_alone = 0
    wrong_counts = 0
    mistakes: Counter = Counter()
    seconds = []
    for picks, canvas in numbers(files, count, seed, gaps):
        truth = "".join(str(label) for _, label in picks)
        started = time.perf_counter()
        reading = read_number(predictor, canvas).number or ""
        seconds.append(time.perf_counter() - started)
        exact += reading == truth
        # the ceiling set by the model: each digit read alone, from its own original canvas
        alone = "".join("?" if (p := predictor(path)).digit is None else str(p.digit) for path, _ in picks)
        exact_alone += alone == truth
        digits_total += len(truth)
        if len(reading) == len(truth):
            digits_right += sum(a == b for a, b in zip(reading, truth, strict=True))
            mistakes.update(f"{b}->{a}" for a, b in zip(reading, truth, strict=True) if a != b)
        else:
            wrong_counts += 1
    return {
        "exact": exact / count,
        "exact_alone": exact_alone / count,
        "digits": digits_right / digits_total,
        "wrong_counts": wrong_counts,
        "count": count,
        "mistakes": mistakes.most_common(8),
        "ms": 1000 * float(np.median(seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dev = os.environ.get("PEN_DEV_DIR") or ROOT.parent / "shared" / "data" / "pen-dev"
    parser.add_argument("--dev", type=Path, default=Path(default_dev), help="folder holding pen_digits/")
    parser.add_argument("--numbers", type=int, default=600, help="numbers in each set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = pen_digit_files(args.dev)
    if not files:
        sys.exit(f"No pen_digits manifest under {args.dev}")
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    for name, gaps in NUMBER_SETS.items():
        r = measure(predictor, files, args.numbers, args.seed, gaps)
        print(f"{name}: {r['count']} numbers of 2-4 digits, {len(files)} writers")
        print(
            f"  whole numbers exactly right {100 * r['exact']:.1f}%, digits right {100 * r['digits']:.1f}%, "
            f"wrong digit count {r['wrong_counts']}; median {r['ms']:.1f} ms per number"
        )
        print(
            f"  the same digits each read alone from its own canvas: {100 * r['exact_alone']:.1f}% of the numbers "
            "right (what the model allows with perfect splitting)"
        )
        print(f"  commonest mistakes (true->read): {r['mistakes']}")
    print("targets: separate digits >= 95% of whole numbers and >= 98% of digits; touching digits: reported")


if __name__ == "__main__":
    main()
