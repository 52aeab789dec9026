"""How the model reads real handwriting that is not MNIST, through the app's own path.

    .venv/bin/python benchmarks/pen_dev.py [FOLDER ...] [--model FOLDER_OR_REPO] [--data-dir MNIST] [--sweep]

Each FOLDER holds files named ``*_<label>.png`` (default: ``pen-dev/pen_digits``,
``scan-dev/usps_digits`` and ``pen-dev/pen_letters`` beside the repository). For a folder of digits it
prints: right (an abstention counts as wrong), best guess right (the top digit, abstaining or not), "not
sure", the expected calibration error (15 bins) of the confidence shown, and the commonest mistakes. For a
folder of letters (not digits): how often a digit is named. With the MNIST files at hand, the test set's
accuracy and ECE too. ``--rules 0.12`` also chooses the answer rules on these folders (see
``mnist_cnn.reading.predict.AnswerRule``) and prints their figures side by side.
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

from mnist_cnn.hub import load_model_source
from mnist_cnn.learning.devsets import (
    FolderReport,
    choose_answer_rule,
    choose_rule,
    choose_threshold,
    expected_calibration_error,
    measure_folder,
    with_rule,
    with_threshold,
)
from mnist_cnn.reading.predict import AnswerRule, Predictor

SHARED = ROOT.parent / "shared" / "data"
DEFAULT_FOLDERS = [
    SHARED / "pen-dev" / "pen_digits",
    SHARED / "scan-dev" / "usps_digits",
    SHARED / "pen-dev" / "pen_letters",
]
GOALS = (
    "goals (issue 29): pen_digits >= 99.0% right, usps_digits >= 99.3%, pen_letters <= 5% named a digit, "
    "ECE <= 1.5 points on each digit folder, MNIST >= 99.75% (latency: benchmarks/app_latency.py)"
)


def print_digits(name: str, report: FolderReport, mistakes: int) -> None:
    print(
        f"{name} ({len(report.labels)} files): {100 * report.accuracy:.2f}% right, best guess right "
        f"{100 * report.top_correct.mean():.2f}%, not sure {100 * report.abstained:.2f}%, "
        f"ECE {100 * report.ece:.2f} points"
    )
    answers = zip(report.labels, report.digits, strict=True)
    wrong = collections.Counter(f"{label}->{'?' if d is None else d}" for label, d in answers if str(d) != label)
    print(
        "  commonest mistakes (true->answer, ? = not sure):",
        ", ".join(f"{k} x{v}" for k, v in wrong.most_common(mistakes)),
    )


def print_letters(name: str, report: FolderReport, mistakes: int) -> None:
    print(f"{name} ({len(report.labels)} files): a digit named for {100 * report.named_a_digit:.2f}%")
    named = collections.Counter(label for label, d in zip(report.labels, report.digits, strict=True) if d is not None)
    total = collections.Counter(report.labels)
    print(
        "  named a digit most often:", ", ".join(f"{k} {named[k]}/{total[k]}" for k, _ in named.most_common(mistakes))
    )


def print_sweep(reports: dict[str, FolderReport]) -> None:
    names = list(reports)
    print("\nabstain below | " + " | ".join(names))
    for threshold in np.arange(0.3, 0.95, 0.05):
        cells = []
        for report in reports.values():
            again = with_threshold(report, threshold)
            cells.append(f"{100 * (again.accuracy if report.holds_digits else again.named_a_digit):.1f}%")
        print(f"  {threshold:11.2f} | " + " | ".join(cells))


def print_rules(reports: dict[str, FolderReport], budget: float) -> None:
    """The best one-question rule and the best two-question rule at the same letters budget, side by side."""
    digit_reports = [r for r in reports.values() if r.holds_digits]
    letters = [r for r in reports.values() if not r.holds_digits]
    if not digit_reports or not letters:
        print("\n--rules needs a folder of digits and one of letters")
        return
    one = AnswerRule(abstain_below=choose_threshold(letters[0], budget))
    two = choose_answer_rule(digit_reports, letters[0], budget)
    kept = choose_rule(digit_reports, letters[0], budget)
    print(f"\nanswer rules naming a digit for at most {100 * budget:.1f}% of {list(reports)[-1]}:")
    for name, rule in (("one question", one), ("two questions", two), ("train.py keeps", kept)):
        cells = [f"{100 * with_rule(r, rule).accuracy:.2f}%" for r in digit_reports]
        named = 100 * with_rule(letters[0], rule).named_a_digit
        print(f"  {name}: {rule}\n    digits right {' / '.join(cells)}, letters named a digit {named:.1f}%")


def print_mnist(bundle, predictor: Predictor, data_dir: str) -> None:
    from mnist_cnn.learning.data import load_mnist
    from mnist_cnn.learning.evaluation import evaluate_test_set

    data = load_mnist(ROOT / "data", data_dir)
    report = evaluate_test_set(bundle.model, data.test_images, data.test_labels, predictor.temperature)
    ece = expected_calibration_error(report.confidence, report.predictions == report.labels)
    abstained = np.mean(report.confidence < predictor.abstain_below)
    print(
        f"\nMNIST test ({len(report.labels)}): {100 * report.accuracy:.2f}% top-1, ECE {100 * ece:.2f} points, "
        f"{100 * abstained:.2f}% would abstain"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, help="labelled folders (default: the three dev folders)")
    parser.add_argument("--model", help="bundle folder or Hub repo (default: the shipped model)")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR"), help="MNIST files, for the test set")
    parser.add_argument("--sweep", action="store_true", help="also print the figures for other abstention thresholds")
    parser.add_argument("--mistakes", type=int, default=12, help="most common (true -> read) mistakes to list")
    parser.add_argument(
        "--rules",
        type=float,
        metavar="BUDGET",
        help="also choose the answer rules (one question, two questions) naming a digit for at most this share "
        "of the letters, and print their figures",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    bundle = load_model_source(args.model)
    predictor = Predictor.from_bundle(bundle)
    size = sum(path.stat().st_size for path in Path(bundle.folder).iterdir() if path.is_file())
    print(
        f"model: {bundle.source}  (temperature {predictor.temperature:g}, abstain below "
        f"{predictor.abstain_below:g}); bundle {size / 2**20:.2f} MB\n"
    )
    reports = {}
    start = time.perf_counter()
    for folder in args.folders or DEFAULT_FOLDERS:
        report = reports[folder.name] = measure_folder(predictor, folder)
        (print_digits if report.holds_digits else print_letters)(folder.name, report, args.mistakes)
    took, files = time.perf_counter() - start, sum(len(r.labels) for r in reports.values())
    print(f"({files} files in {took:.1f} s, {1000 * took / files:.2f} ms each)")
    if args.sweep:
        print_sweep(reports)
    if args.rules is not None:
        print_rules(reports, args.rules)
    if args.data_dir:
        print_mnist(bundle, predictor, args.data_dir)
    print(f"\n{GOALS}")


if __name__ == "__main__":
    main()
