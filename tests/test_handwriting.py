"""Real handwriting as training input (mnist_cnn/learning/handwriting.py), on the real handwriting-train files."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, handwriting_train_dir
from mnist_cnn.classes import NOT_A_DIGIT
from mnist_cnn.learning.handwriting import (
    DIGIT_FOLDERS,
    DIGIT_LIKE_SYMBOLS,
    NON_DIGIT_FOLDERS,
    HandwritingError,
    is_kept_out,
    load_handwriting,
    read_manifest,
    redraw_symbol,
    samples_to_train,
    with_handwriting,
)
from mnist_cnn.learning.synthetic import make_negatives
from mnist_cnn.reading.sketch import sketch_to_mnist

FOLDERS = (*DIGIT_FOLDERS, *NON_DIGIT_FOLDERS)


def small_copy(target: Path, per_folder: int = 12) -> Path:
    """A few real files of each folder, with their manifest rows: writers both kept out and trained, and one
    digit-like symbol."""
    source = handwriting_train_dir()
    for folder in FOLDERS:
        with (source / folder / "manifest.csv").open(newline="") as f:
            reader = csv.DictReader(f)
            rows, fields = list(reader), reader.fieldnames
        digit_like = [r for r in rows if (r.get("alphabet"), r.get("character")) in DIGIT_LIKE_SYMBOLS][:1]
        chosen = rows[:per_folder] + digit_like
        (target / folder).mkdir(parents=True)
        with (target / folder / "manifest.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fields)
            writer.writeheader()
            writer.writerows(chosen)
        for row in chosen:
            (target / folder / row["file"]).write_bytes((source / folder / row["file"]).read_bytes())
    return target


def test_every_folder_splits_by_person_and_leaves_digit_like_symbols_out():
    """On the whole folder: every file is trained on, kept out or (a digit-like symbol) left out; no writer or
    drawer is on both sides; one writer in five of the pen folders and 4 of 20 drawers are kept out."""
    root = handwriting_train_dir()
    split = samples_to_train(root, FOLDERS)
    train, kept_out = split.train, split.kept_out
    for folder in FOLDERS:
        total = len(read_manifest(root, folder))
        trained = [s for s in train if s.folder == folder]
        held = kept_out.get(folder, [])
        left = split.digit_like + split.duplicates if folder == "mouse_symbols" else 0
        assert len(trained) + len(held) + left == total, folder
        person = (lambda s: s.person.split("_")[-1]) if folder == "mouse_symbols" else (lambda s: s.person)
        assert not {person(s) for s in trained} & {person(s) for s in held}, folder
        assert all(is_kept_out(s) for s in held) and not any(is_kept_out(s) for s in trained)
    assert len({s.person for s in kept_out["pen_digits"]}) == 11 and len(kept_out["pen_digits"]) == 110
    assert {s.person.split("_")[-1] for s in kept_out["mouse_symbols"]} == {"17", "18", "19", "20"}
    assert "scan_letters" not in kept_out  # its manifest names no writer
    assert split.digit_like == 20 * len(DIGIT_LIKE_SYMBOLS)  # each character once, by its 20 drawers
    symbols = [s for s in [*train, *kept_out["mouse_symbols"]] if s.folder == "mouse_symbols"]
    assert len({s.person for s in symbols}) == len(symbols)  # each drawing once
    assert split.duplicates == 35 * 20  # Greek and Latin are in both of Omniglot's small sets
    assert not any(tuple(s.character.split("/")) in DIGIT_LIKE_SYMBOLS for s in train)
    assert {s.label for s in train if s.folder == "pen_digits"} == set(range(10))
    assert {s.label for s in train if s.folder != "pen_digits"} == {NOT_A_DIGIT}


def test_loaded_images_are_labelled_28x28_and_normalized_like_a_drawing(tmp_path):
    root = small_copy(tmp_path / "hw")
    real = load_handwriting(root, progress=False)
    assert real.images.dtype == torch.uint8 and real.images.shape[1:] == (28, 28)
    assert len(real.images) == len(real.labels) == len(real.folders)
    split = samples_to_train(root, FOLDERS)
    train = split.train
    assert len(real.images) == len(train) and split.digit_like == 1
    assert sum(len(v) for v in split.kept_out.values()) > 0
    for image, label, folder in zip(real.images, real.labels, real.folders, strict=True):
        assert (int(label) in range(10)) == (folder == "pen_digits")
        assert int(label) == NOT_A_DIGIT or folder == "pen_digits"
        ink = image.float() / 255
        assert ink.max() == 1.0  # the strongest ink at full scale, as sketch_to_mnist leaves it
        rows, cols = np.flatnonzero(ink.sum(1) > 0), np.flatnonzero(ink.sum(0) > 0)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # the 20x20 box (plus anti-aliasing)
        ys, xs = np.mgrid[:28, :28]
        centre = ((ink.numpy() * ys).sum() / ink.sum().item(), (ink.numpy() * xs).sum() / ink.sum().item())
        assert abs(centre[0] - 14) < 1.5 and abs(centre[1] - 14) < 1.5
    pen_digit_labels = [int(lbl) for lbl, f in zip(real.labels, real.folders, strict=True) if f == "pen_digits"]
    expected = [s.label for s in train if s.folder == "pen_digits"]
    assert pen_digit_labels == expected
    assert all(int(p.name.split("_")[1][0]) == s.label for s in train if s.folder == "pen_digits" for p in [s.path])


def test_thin_symbols_are_redrawn_with_a_pen_of_the_asked_width():
    """A 1-bit mouse symbol (strokes ~2 px of 105) comes out as wide as the pen asked for, relative to its
    size."""
    path = sorted((handwriting_train_dir() / "mouse_symbols").glob("*.png"))[0]
    widths = []
    for ratio in (0.05, 0.1, 0.2):
        ink = 1 - np.asarray(redraw_symbol(path, ratio), dtype=np.float32) / 255
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        from skimage.morphology import skeletonize

        length = skeletonize(ink > 0.5).sum()
        width = ink.sum() / length  # area over centre-line length: the stroke's width
        size = max(rows[-1] - rows[0], cols[-1] - cols[0])
        widths.append(width / size)
        assert width / size == pytest.approx(ratio, rel=0.35), (ratio, width, size)
    assert widths[0] < widths[1] < widths[2]
    ink = [sketch_to_mnist(redraw_symbol(path, ratio)).sum() for ratio in (0.03, 0.2)]
    assert ink[1] > 1.5 * ink[0]  # in the 28x28 field too: a thin pen and a bold one, as on the pad


def test_repeats_append_real_digits_and_non_digits_to_the_training_images(tmp_path):
    real = load_handwriting(small_copy(tmp_path / "hw"), progress=False)
    mnist = torch.zeros((50, 28, 28), dtype=torch.uint8), torch.arange(50) % 10
    digits, non_digits = len(real.of(DIGIT_FOLDERS)[0]), len(real.of(NON_DIGIT_FOLDERS)[0])
    real.digits_repeat, real.non_digits_repeat = 3, 2
    images, labels = with_handwriting(mnist, real)
    assert len(images) == len(labels) == 50 + 3 * digits + 2 * non_digits
    assert (labels[50 : 50 + 3 * digits] < 10).all() and (labels[50 + 3 * digits :] == NOT_A_DIGIT).all()
    assert torch.equal(images[:50], mnist[0])
    real.digits_repeat, real.non_digits_repeat = 0, 0
    none = with_handwriting(mnist, real)
    assert torch.equal(none[0], mnist[0]) and torch.equal(none[1], mnist[1])


def test_generated_pairs_are_made_of_digits_only():
    """A batch holding real non-digits: the overlaid pairs (a number, "not a digit") never take one."""
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros((40, 1, 28, 28))
    labels = torch.full((40,), NOT_A_DIGIT)
    labels[:8] = 3
    images[:8, :, 10:18, 12:15] = 1.0  # the digits: a bar; the non-digits are blank
    pairs = make_negatives(images, labels, 16, generator)[10:14]  # 5/8 letters, then n // 4 pairs
    assert (pairs.flatten(1).amax(1) > 0.5).all()


def test_a_missing_or_broken_folder_is_a_clear_error(tmp_path):
    with pytest.raises(HandwritingError, match="does not exist"):
        load_handwriting(tmp_path / "nowhere")
    (tmp_path / "pen_digits").mkdir()
    with pytest.raises(HandwritingError, match="manifest.csv"):
        load_handwriting(tmp_path, ("pen_digits",))
    (tmp_path / "pen_digits" / "manifest.csv").write_text("file,label,writer\n00000_5.png,5,w01\n")
    (tmp_path / "pen_digits" / "00000_5.png").write_bytes(b"not a png")
    with pytest.raises(HandwritingError, match="00000_5.png"):
        load_handwriting(tmp_path, ("pen_digits",), progress=False)


def test_train_py_refuses_a_missing_handwriting_folder_before_training(tmp_path, mnist_folder):
    command = [sys.executable, "train.py", "--recipe", "quick", "--data-dir", str(mnist_folder), "--val-size", "100"]
    command += ["--handwriting-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "b"), "--no-progress"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Handwriting folder" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "b").exists()


def test_train_py_trains_on_real_handwriting_and_reports_the_people_kept_out(tmp_path, mnist_folder):
    """--handwriting-dir through a whole (short) run: what was trained on, its share of the non-digits and
    the kept-out writers' figures land in metrics.json and the card."""
    root = small_copy(tmp_path / "hw")
    out = tmp_path / "bundle"
    command = [sys.executable, "train.py", "--recipe", "quick", "--epochs", "1", "--val-size", "100", "--no-progress"]
    command += ["--data-dir", str(mnist_folder), "--data-root", str(tmp_path / "root"), "--out", str(out)]
    command += ["--handwriting-dir", str(root), "--real-digits", "3", "--real-non-digits", "2"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    split = samples_to_train(root, FOLDERS)
    trained, kept_out = split.train, split.kept_out
    recorded = metrics["handwriting"]
    assert (recorded["digits_repeat"], recorded["non_digits_repeat"]) == (3, 2)
    assert recorded["digit_like_symbols_left_out"] == 1
    for folder in FOLDERS:
        assert recorded["folders"][folder]["trained"] == sum(s.folder == folder for s in trained)
    real_digits = recorded["folders"]["pen_digits"]["trained"]
    real_non_digits = sum(recorded["folders"][f]["trained"] for f in NON_DIGIT_FOLDERS)
    assert metrics["train_size"] == 500 + 3 * real_digits + 2 * real_non_digits  # 600 training images, 100 held
    generated = round(0.4 * 128) * (metrics["train_size"] // 128)
    assert recorded["real_share_of_non_digits"] == pytest.approx(
        2 * real_non_digits / (2 * real_non_digits + generated)
    )
    figures = metrics["kept_out_handwriting"]
    assert set(figures) == set(kept_out)
    for folder, row in figures.items():
        assert row["files"] == len(kept_out[folder])
        assert ("accuracy" in row) == (folder == "pen_digits")
    card = (out / "README.md").read_text()
    assert "people kept out" in card and figures["pen_letters"]["summary"] in card
    assert f"{recorded['folders']['scan_letters']['trained']} images" in card
