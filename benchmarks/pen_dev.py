"""How the model reads real handwriting that is not MNIST, through the app's own path.

    .venv/bin/python benchmarks/pen_dev.py [--model FOLDER_OR_REPO] [--dev ../shared/data/pen-dev]

Prints, for ``pen_digits/``: accuracy (an abstention counts as wrong), abstentions and the expected
calibration error (15 bins) of the confidence shown; for ``pen_letters/``: how often a digit is
named; and the MNIST test set's accuracy and ECE when the MNIST files are at hand.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_cnn.devsets import expected_calibration_error, measure_folder, with_threshold  # noqa: E402
from mnist_cnn.hub import load_model_source  # noqa: E402
from mnist_cnn.predict import Predictor  # noqa: E402

GOALS = (
    "goals: pen_digits >= 98% right, pen_letters <= 15% named a digit, ECE <= 2 points on pen_digits and MNIST, "
    "MNIST >= 99.75%, bundle < 10 MB (latency: benchmarks/app_latency.py)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="bundle folder or Hub repo (default: the shipped model)")
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "data" / "pen-dev")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR"), help="MNIST files, for the test set")
    parser.add_argument("--sweep", action="store_true", help="also print the figures for other abstention thresholds")
    parser.add_argument("--mistakes", type=int, default=12, help="most common (true -> read) mistakes to list")
    args = parser.parse_args()
    torch.set_num_threads(1)

    bundle = load_model_source(args.model)
    predictor = Predictor.from_bundle(bundle)
    size = sum(path.stat().st_size for path in Path(bundle.folder).iterdir() if path.is_file())
    print(
        f"model: {bundle.source}  (temperature {predictor.temperature:g}, abstain below "
        f"{predictor.abstain_below:g}); bundle {size / 2**20:.2f} MB"
    )

    start = time.perf_counter()
    digits = measure_folder(predictor, args.dev / "pen_digits")
    letters = measure_folder(predictor, args.dev / "pen_letters")
    took = time.perf_counter() - start
    n = len(digits.labels) + len(letters.labels)
    print(
        f"\npen_digits  ({len(digits.labels)} files): {100 * digits.accuracy:.1f}% right, "
        f"{100 * digits.abstained:.1f}% abstained, ECE {100 * digits.ece:.2f} points, "
        f"mean confidence {100 * digits.confidence.mean():.1f}% "
        f"where the top digit is right {100 * digits.top_correct.mean():.1f}%"
    )
    print(f"pen_letters ({len(letters.labels)} files): a digit named for {100 * letters.named_a_digit:.1f}%")
    print(f"({n} files in {took:.1f} s, {1000 * took / n:.2f} ms each)")

    answers = zip(digits.labels, digits.digits, strict=True)
    mistakes = collections.Counter(f"{label}->{'?' if d is None else d}" for label, d in answers if str(d) != label)
    print(
        "\ncommonest pen_digits mistakes (true->answer, ? = abstained):",
        ", ".join(f"{k} x{v}" for k, v in mistakes.most_common(args.mistakes)),
    )
    named = collections.Counter(label for label, d in zip(letters.labels, letters.digits, strict=True) if d is not None)
    total = collections.Counter(letters.labels)
    print(
        "letters named a digit most often:",
        ", ".join(f"{k} {named[k]}/{total[k]}" for k, _ in named.most_common(args.mistakes)),
    )

    if args.sweep:
        print("\nabstain below | pen_digits right | pen_letters named a digit")
        for threshold in np.arange(0.3, 0.95, 0.05):
            right, named = with_threshold(digits, threshold).accuracy, with_threshold(letters, threshold).named_a_digit
            print(f"  {threshold:11.2f} | {100 * right:15.1f}% | {100 * named:.1f}%")

    if args.data_dir:
        from mnist_cnn.data import load_mnist
        from mnist_cnn.evaluation import evaluate_test_set

        data = load_mnist(ROOT / "data", args.data_dir)
        report = evaluate_test_set(bundle.model, data.test_images, data.test_labels, predictor.temperature)
        ece = expected_calibration_error(report.confidence, report.predictions == report.labels)
        abstained = np.mean(report.confidence < predictor.abstain_below)
        print(
            f"\nMNIST test ({len(report.labels)}): {100 * report.accuracy:.2f}% top-1, ECE {100 * ece:.2f} points, "
            f"{100 * abstained:.2f}% would abstain"
        )
    print(f"\n{GOALS}")


if __name__ == "__main__":
    main()
