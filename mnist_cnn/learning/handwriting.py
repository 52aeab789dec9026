"""Real handwriting that training may use (``../shared/data/handwriting-train``), as 28x28 training images.

Four folders, each with a ``manifest.csv`` (file, label and where it came from):

- ``pen_digits``: digits drawn on a tablet by 55 writers, as 400x400 pad canvases: trained as digits;
- ``pen_letters``: letters by the same writers, same canvases: "not a digit";
- ``scan_letters``: scanned capitals, 28x28 dark on white (no writer named): "not a digit";
- ``mouse_symbols``: characters of eight alphabets drawn with a mouse, 105x105 1-bit, strokes ~2 px:
  "not a digit", except the characters people write as digits (``DIGIT_LIKE_SYMBOLS``).

Every file reaches the model the way a visitor's drawing does: through ``sketch_to_mnist``. The canvases
already carry a pen of the pad's width; the 1-bit symbols are redrawn along their skeleton with a round
pen whose width, relative to the drawing's size, is drawn from the pen folders' own manifests (the pad's
10-26 px brush on drawings 30-85% of the canvas high). Some writers and drawers of each folder that names
them are kept out of training (``is_kept_out``), so the model can be measured on people it never saw.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import distance_transform_edt
from skimage.morphology import skeletonize
from tqdm.auto import tqdm

from mnist_cnn.classes import NOT_A_DIGIT
from mnist_cnn.reading.sketch import sketch_to_mnist

log = logging.getLogger(__name__)

HANDWRITING_DIR_ENV = "HANDWRITING_TRAIN_DIR"
DIGIT_FOLDERS = ("pen_digits",)
NON_DIGIT_FOLDERS = ("pen_letters", "scan_letters", "mouse_symbols")
# Kept out of training, to measure on: one writer in five of the pen folders (w04, w09, ... w54: 11 of
# 55) and four of the twenty people who drew each symbol. scan_letters names no writer: all of it trains.
KEPT_OUT_WRITER_EVERY = 5
KEPT_OUT_DRAWERS = frozenset({17, 18, 19, 20})
# Characters of mouse_symbols that people write as digits, left out of "not a digit" (never trained on):
# those whose drawings the model trained without them (weights of 2026-11-25) named one same digit for
# at least half of the 20 drawers, each then looked at (benchmarks/digit_like_symbols.py prints both).
DIGIT_LIKE_SYMBOLS: frozenset[tuple[str, str]] = frozenset(
    {
        *(("Balinese", f"character{n}") for n in ("05", "14")),
        *(("Early_Aramaic", f"character{n}") for n in ("03", "04", "05", "06", "10", "12", "16", "17", "20")),
        *(("Greek", f"character{n}") for n in ("11",)),
        *(("Japanese_(katakana)", f"character{n}") for n in ("08", "24", "27", "38", "46")),
        *(("Korean", f"character{n}") for n in ("05", "07", "10", "12", "21", "22", "33", "37")),
        *(("Tagalog", f"character{n}") for n in ("03", "16")),
    }
)
SYMBOL_UPSCALE = 4  # the 105x105 symbols are redrawn at 420x420, the pad's canvas size
SYMBOL_SEED = 20261205  # the pens the symbols are redrawn with do not move with the training seed
MEDIAN_PEN_RATIO = 0.078  # the pen folders' median pen width over drawing height (kept-out symbols use it)


class HandwritingError(RuntimeError):
    """The handwriting folder is missing or unreadable; the message says which file."""


@dataclass(frozen=True)
class Sample:
    """One file of a handwriting folder: its label (a digit, or ``NOT_A_DIGIT``) and who wrote it."""

    folder: str
    path: Path
    label: int
    person: str  # writer or drawer, "" where the manifest names none
    character: str  # the letter, or alphabet/character for a symbol


@dataclass
class Handwriting:
    """The folders as training images, and the files kept out of training for measuring."""

    images: torch.Tensor  # uint8 (N, 28, 28), as sketch_to_mnist reads each file
    labels: torch.Tensor  # int64 (N,): digits and NOT_A_DIGIT
    folders: list[str]  # each image's folder
    kept_out: dict[str, list[Sample]] = field(default_factory=dict)
    source: Path | None = None  # the folder read
    digits_repeat: int = 1  # times each real digit is seen per epoch
    non_digits_repeat: int = 1  # times each real non-digit is seen per epoch
    left_out_symbols: int = 0  # digit-like symbols, used neither to train nor to measure
    duplicates: int = 0  # files listed twice, read once

    def of(self, names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels of some folders."""
        chosen = torch.tensor([name in names for name in self.folders], dtype=torch.bool)
        return self.images[chosen], self.labels[chosen]

    def describe(self, generated_per_epoch: int) -> dict[str, Any]:
        """What a run trained on, for the metrics and the card: with the real non-digits' share of all the
        non-digits an epoch sees (the rest, ``generated_per_epoch``, are generated in each batch)."""
        real_non_digits = len(self.of(NON_DIGIT_FOLDERS)[0]) * self.non_digits_repeat
        return dict(
            source=str(self.source),
            folders=self.summary(),
            digits_repeat=self.digits_repeat,
            non_digits_repeat=self.non_digits_repeat,
            real_share_of_non_digits=real_non_digits / max(1, real_non_digits + generated_per_epoch),
            digit_like_symbols_left_out=self.left_out_symbols,
            duplicates_left_out=self.duplicates,
        )

    def summary(self) -> dict[str, dict[str, int]]:
        """Per folder: images trained on and files kept out."""
        names = [*DIGIT_FOLDERS, *NON_DIGIT_FOLDERS]
        return {
            name: dict(trained=self.folders.count(name), kept_out=len(self.kept_out.get(name, [])))
            for name in names
            if name in self.folders or self.kept_out.get(name)
        }


def resolve_handwriting_dir(folder: str | os.PathLike | None) -> Path | None:
    """The handwriting folder: the explicit argument, else ``$HANDWRITING_TRAIN_DIR``, else None."""
    value = folder if folder else os.environ.get(HANDWRITING_DIR_ENV)
    return Path(value).expanduser() if value else None


def person_number(sample: Sample) -> int | None:
    """The writer's (``w33``) or drawer's (``0667_02``: the second person to draw character 667) number."""
    if not sample.person:
        return None
    digits = sample.person.split("_")[-1].lstrip("w")
    return int(digits) if digits.isdigit() else None


def is_kept_out(sample: Sample) -> bool:
    """Whether the sample's writer or drawer is one kept out of training."""
    number = person_number(sample)
    if number is None:
        return False
    if sample.folder == "mouse_symbols":
        return number in KEPT_OUT_DRAWERS
    return number % KEPT_OUT_WRITER_EVERY == KEPT_OUT_WRITER_EVERY - 1


def read_manifest(root: Path, folder: str) -> list[Sample]:
    """Every file of ``root/folder`` as its manifest lists it."""
    manifest = root / folder / "manifest.csv"
    try:
        with manifest.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise HandwritingError(f"Cannot read {manifest}: {err}") from err
    samples = []
    for row in rows:
        try:
            label = int(row["label"]) if folder in DIGIT_FOLDERS else NOT_A_DIGIT
            person = row.get("writer") or row.get("drawing") or ""
            character = f"{row['alphabet']}/{row['character']}" if "alphabet" in row else row["label"]
            samples.append(Sample(folder, root / folder / row["file"], label, person, character))
        except (KeyError, ValueError) as err:
            raise HandwritingError(f"{manifest}: a row without a usable file, label or source ({row})") from err
    return samples


def pen_ratios(root: Path) -> np.ndarray:
    """The pad's pen width over the drawing's height, for every canvas of the pen folders' manifests (the
    median pen where there are none)."""
    ratios = []
    for folder in ("pen_digits", "pen_letters"):
        manifest = root / folder / "manifest.csv"
        if manifest.is_file():
            with manifest.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            try:
                ratios += [float(r["brush_px"]) / (float(r["height_frac"]) * 400) for r in rows]
            except (KeyError, ValueError) as err:
                raise HandwritingError(f"{manifest}: a row without a usable brush_px or height_frac") from err
    return np.asarray(ratios or [MEDIAN_PEN_RATIO])


def redraw_symbol(path: Path, pen_ratio: float) -> Image.Image:
    """A thin 1-bit symbol redrawn along its skeleton with a round pen ``pen_ratio`` times its size wide, at
    the pad's resolution, dark on white (as ``synthetic.pen_ink`` draws: a pixel of anti-aliasing)."""
    with Image.open(path) as image:
        strokes = np.asarray(image.convert("L")) < 128
    big = strokes.repeat(SYMBOL_UPSCALE, axis=0).repeat(SYMBOL_UPSCALE, axis=1)
    skeleton = skeletonize(big)
    if not skeleton.any():
        return Image.new("L", big.shape[::-1], 255)
    rows, cols = np.flatnonzero(big.any(axis=1)), np.flatnonzero(big.any(axis=0))
    size = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    distance = distance_transform_edt(~skeleton)
    ink = np.clip(pen_ratio * size / 2 + 0.5 - distance, 0.0, 1.0)
    return Image.fromarray(np.round(255 * (1 - ink)).astype(np.uint8))


def read_sample(sample: Sample, pen_ratio: float) -> np.ndarray | None:
    """The 28x28 float image the model sees for one file (a symbol redrawn with the given pen)."""
    if sample.folder == "mouse_symbols":
        return sketch_to_mnist(redraw_symbol(sample.path, pen_ratio))
    return sketch_to_mnist(sample.path)


@dataclass
class Split:
    """A handwriting folder's files by what training does with them."""

    train: list[Sample] = field(default_factory=list)
    kept_out: dict[str, list[Sample]] = field(default_factory=dict)  # per folder, for measuring
    digit_like: int = 0  # symbols people write as digits: neither trained on nor measured
    duplicates: int = 0  # the same drawing listed twice (Omniglot's two small sets share Greek and Latin)


def samples_to_train(root: Path, folders: tuple[str, ...]) -> Split:
    """The samples of ``folders`` to train on, those kept out, and those left out."""
    split, seen = Split(), set()
    for folder in folders:
        for sample in read_manifest(root, folder):
            drawing = (folder, sample.person) if folder == "mouse_symbols" else (folder, sample.path)
            if drawing in seen:
                split.duplicates += 1
            elif folder == "mouse_symbols" and tuple(sample.character.split("/")) in DIGIT_LIKE_SYMBOLS:
                split.digit_like += 1
            elif is_kept_out(sample):
                split.kept_out.setdefault(folder, []).append(sample)
            else:
                split.train.append(sample)
            seen.add(drawing)
    return split


def load_handwriting(
    root: str | os.PathLike,
    folders: tuple[str, ...] = (*DIGIT_FOLDERS, *NON_DIGIT_FOLDERS),
    progress: bool = True,
) -> Handwriting:
    """Read ``folders`` of the handwriting folder ``root`` into training images (about a minute on 2 cores)."""
    root = Path(root)
    if not root.is_dir():
        raise HandwritingError(f"Handwriting folder {root} does not exist.")
    split = samples_to_train(root, folders)
    redrawn = any(sample.folder == "mouse_symbols" for sample in split.train)
    ratios = pen_ratios(root) if redrawn else np.array([MEDIAN_PEN_RATIO])
    pens = np.random.default_rng(SYMBOL_SEED).choice(ratios, size=len(split.train))
    images, labels, names = [], [], []
    for sample, pen in zip(tqdm(split.train, desc="real handwriting", disable=not progress), pens, strict=True):
        try:
            field28 = read_sample(sample, float(pen))
        except (OSError, ValueError) as err:
            raise HandwritingError(f"Cannot read {sample.path}: {err}") from err
        if field28 is None:  # a blank file teaches nothing
            continue
        images.append(np.round(field28 * 255).astype(np.uint8))
        labels.append(sample.label)
        names.append(sample.folder)
    log.info(
        "Real handwriting: %d images from %s; %d digit-like symbols and %d duplicates left out",
        len(images),
        root,
        split.digit_like,
        split.duplicates,
    )
    return Handwriting(
        images=torch.from_numpy(np.stack(images)) if images else torch.zeros((0, 28, 28), dtype=torch.uint8),
        labels=torch.tensor(labels, dtype=torch.int64),
        folders=names,
        kept_out=split.kept_out,
        source=root,
        left_out_symbols=split.digit_like,
        duplicates=split.duplicates,
    )


def read_for_training(
    folder: str | os.PathLike | None, digits_repeat: int, non_digits_repeat: int, progress: bool = True
) -> Handwriting | None:
    """The real handwriting a run asks for, or None: neither kind to be seen, or no folder (a warning)."""
    if not (digits_repeat or non_digits_repeat):
        return None
    root = resolve_handwriting_dir(folder)
    if root is None:
        log.warning("No handwriting folder (--handwriting-dir or $%s): training without it.", HANDWRITING_DIR_ENV)
        return None
    folders = DIGIT_FOLDERS * bool(digits_repeat) + NON_DIGIT_FOLDERS * bool(non_digits_repeat)
    real = load_handwriting(root, folders, progress)
    real.digits_repeat, real.non_digits_repeat = digits_repeat, non_digits_repeat
    return real


def kept_out_inputs(samples: list[Sample]) -> Iterator[tuple[object, str]]:
    """Kept-out files as the app gets them (a symbol redrawn with the median pen), with their labels."""
    for sample in samples:
        image = redraw_symbol(sample.path, MEDIAN_PEN_RATIO) if sample.folder == "mouse_symbols" else sample.path
        yield image, str(sample.label) if sample.label != NOT_A_DIGIT else sample.character


def with_handwriting(train: tuple[torch.Tensor, torch.Tensor], real: Handwriting) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images with the real digits appended ``real.digits_repeat`` times and the real non-digits
    ``real.non_digits_repeat`` times (0: not at all)."""
    digits, non_digits = real.of(DIGIT_FOLDERS), real.of(NON_DIGIT_FOLDERS)
    repeats = real.digits_repeat, real.non_digits_repeat
    images = [train[0], digits[0].repeat(repeats[0], 1, 1), non_digits[0].repeat(repeats[1], 1, 1)]
    labels = [train[1], digits[1].repeat(repeats[0]), non_digits[1].repeat(repeats[1])]
    log.info(
        "Training on %d real digits x%d and %d real non-digits x%d",
        len(digits[0]),
        repeats[0],
        len(non_digits[0]),
        repeats[1],
    )
    return torch.cat(images), torch.cat(labels)
