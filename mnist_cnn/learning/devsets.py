"""Measure the model on labelled folders of real drawings (such as ``../shared/data/pen-dev``).

File names end in ``_<label>.png``: a digit for digit sets, a letter for the "not a digit" sets.
These folders are for measuring and choosing thresholds only, never for training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mnist_cnn.reading.predict import AnswerRule, Predictor

LABEL_IN_NAME = re.compile(r"_([0-9A-Za-z])\.png$")
ECE_BINS = 15


def reliability_table(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> list[dict[str, float]]:
    """Per non-empty equal-width bin: its range, mean confidence, accuracy and count.

    ``(0, 1/bins]`` is the first bin; a confidence of 0 falls in it too.
    """
    confidence, correct = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        members = which == b
        if members.any():
            rows.append(
                dict(
                    low=b / bins,
                    high=(b + 1) / bins,
                    confidence=float(confidence[members].mean()),
                    accuracy=float(correct[members].mean()),
                    count=int(members.sum()),
                )
            )
    return rows


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with equal-width confidence bins: the mean |accuracy - confidence| gap, weighted by bin size."""
    rows = reliability_table(confidence, correct, bins)
    total = sum(row["count"] for row in rows)
    return sum(row["count"] * abs(row["accuracy"] - row["confidence"]) for row in rows) / total if total else 0.0


def labelled_files(folder: Path) -> list[tuple[Path, str]]:
    """``(path, label)`` for every ``*_<label>.png`` in ``folder``, sorted by name."""
    files = [(path, m.group(1)) for path in sorted(folder.glob("*.png")) if (m := LABEL_IN_NAME.search(path.name))]
    if not files:
        raise FileNotFoundError(f"{folder} holds no files named like 00000_<label>.png")
    return files


@dataclass
class FolderReport:
    labels: list[str]
    digits: list[int | None]  # the app's answer; None when it abstains or finds no ink
    confidence: np.ndarray  # the confidence shown for the top digit
    best: np.ndarray  # the top digit, abstaining or not
    probabilities: np.ndarray | None = None  # (N, 11) calibrated, digits then "not a digit"; 0 without ink

    @property
    def holds_digits(self) -> bool:
        """Whether every file is labelled with a digit (else the folder is one of non-digits)."""
        return all(label.isdigit() for label in self.labels)

    @property
    def named_a_digit(self) -> float:
        """The share of files for which the app names a digit."""
        return float(np.mean([d is not None for d in self.digits]))

    @property
    def accuracy(self) -> float:
        """The share answered with the right digit; an abstention counts as wrong."""
        return float(np.mean([str(d) == label for d, label in zip(self.digits, self.labels, strict=True)]))

    @property
    def abstained(self) -> float:
        return 1.0 - self.named_a_digit

    @property
    def top_correct(self) -> np.ndarray:
        return np.array([str(b) == label for b, label in zip(self.best, self.labels, strict=True)])

    @property
    def ece(self) -> float:
        """Calibration of the shown confidence against whether the top digit is right."""
        return expected_calibration_error(self.confidence, self.top_correct)


def concatenate_reports(reports: list[FolderReport]) -> FolderReport:
    """Several folders' reports as one, in order."""
    return FolderReport(
        [label for r in reports for label in r.labels],
        [d for r in reports for d in r.digits],
        np.concatenate([r.confidence for r in reports]),
        np.concatenate([r.best for r in reports]),
        np.concatenate([r.probabilities for r in reports])
        if all(r.probabilities is not None for r in reports)
        else None,
    )


def with_threshold(report: FolderReport, abstain_below: float) -> FolderReport:
    """The same answers under another "not sure" threshold (measured once with ``abstain_below=0``)."""
    digits = [
        int(b) if b >= 0 and c >= abstain_below else None for b, c in zip(report.best, report.confidence, strict=True)
    ]
    return FolderReport(report.labels, digits, report.confidence, report.best)


def choose_threshold(letters: FolderReport, budget: float, grid: np.ndarray | None = None) -> float:
    """The lowest threshold at which at most ``budget`` of the non-digits get a digit named.

    Lower thresholds answer more real digits, so the lowest one within the budget is the best; if
    none is, the highest of the grid.
    """
    grid = np.round(np.arange(0.5, 0.951, 0.05), 2) if grid is None else grid
    for threshold in grid:
        if with_threshold(letters, float(threshold)).named_a_digit <= budget:
            return float(threshold)
    return float(grid[-1])


def measure_folder(predictor: Predictor, folder: Path) -> FolderReport:
    """Run every labelled file through the app's path (preprocessing, model, abstention)."""
    return measure_inputs(predictor, labelled_files(folder))


def measure_inputs(predictor: Predictor, inputs: Iterable[tuple[Any, str]]) -> FolderReport:
    """Run each ``(image or path, label)`` through the app's path (preprocessing, model, abstention)."""
    labels, digits, confidence, best, probabilities = [], [], [], [], []
    for path, label in inputs:
        result = predictor(path)
        labels.append(label)
        digits.append(result.digit)
        confidence.append(result.confidence)
        best.append(int(np.argmax(result.probabilities)) if result.model_input is not None else -1)
        probabilities.append([*result.probabilities, result.not_a_digit])
    return FolderReport(labels, digits, np.array(confidence), np.array(best), np.array(probabilities))


def with_rule(report: FolderReport, rule: AnswerRule) -> FolderReport:
    """The same files answered under another answer rule (from their stored probabilities)."""
    digits = [rule.answer(p)[0] if b >= 0 else None for p, b in zip(report.probabilities, report.best, strict=True)]
    return FolderReport(report.labels, digits, report.confidence, report.best, report.probabilities)


def choose_answer_rule(
    digit_reports: list[FolderReport],
    letters: FolderReport,
    budget: float,
    alternative_below: float = 0.0,
    step: float = 0.01,
) -> AnswerRule:
    """The two-question rule (``not_a_digit_above``, ``digits_below``; no one-question threshold) that
    answers the most digits right, averaged over ``digit_reports``, while naming a digit for at most
    ``budget`` of ``letters``; ties go to the rule that refuses least. A grid of ``step``, searched with
    whole-folder array operations (about a second for the dev folders)."""

    def columns(report: FolderReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        digits = np.sort(report.probabilities[:, :10], axis=1)
        readable = report.best >= 0  # files without ink are never answered
        right = readable & report.top_correct
        return report.probabilities[:, 10:].sum(axis=1), digits[:, -1] + digits[:, -2], np.where(readable, right, -1)

    letter_cols, digit_cols = columns(letters), [columns(r) for r in digit_reports]

    def answered(cols, not_a_digit_above: float, digits_below: float) -> np.ndarray:
        not_a_digit, two_best, right = cols
        return (right >= 0) & (not_a_digit <= not_a_digit_above) & (two_best >= digits_below)

    best_rule, best_score = None, -1.0
    for not_a_digit_above in [*np.round(np.arange(0.2, 1.0 - step / 2, step), 4), 1.0]:
        for digits_below in np.round(np.arange(0.0, 1.0 - step / 2, step), 4)[::-1]:
            if answered(letter_cols, not_a_digit_above, digits_below).mean() > budget:
                continue
            score = float(
                np.mean([np.mean(answered(c, not_a_digit_above, digits_below) & (c[2] == 1)) for c in digit_cols])
            )
            if score >= best_score:
                best_rule = AnswerRule(0.0, float(not_a_digit_above), float(digits_below), alternative_below)
                best_score = score
    return best_rule or AnswerRule(abstain_below=1.0, alternative_below=alternative_below)


def choose_rule(
    digit_reports: list[FolderReport],
    letters: FolderReport,
    budget: float,
    alternative_below: float = 0.0,
) -> AnswerRule:
    """Of the one-question rule (``choose_threshold``) and the two-question rule (``choose_answer_rule``),
    each naming a digit for at most ``budget`` of ``letters``, the one reading more of ``digit_reports``
    right (ties: the one-question rule), naming the runner-up below ``alternative_below``."""
    one_question = AnswerRule(abstain_below=choose_threshold(letters, budget))
    two_questions = choose_answer_rule(digit_reports, letters, budget)

    def digits_right(rule: AnswerRule) -> float:
        return float(np.mean([with_rule(r, rule).accuracy for r in digit_reports]))

    return replace(max((one_question, two_questions), key=digits_right), alternative_below=alternative_below)


@dataclass
class DevMeasurement:
    """The app's answers on folders of real handwriting, under the answer rule chosen on them."""

    rule: AnswerRule
    chosen_on: str  # where and how the rule was chosen ("default" without the folders)
    results: dict[str, dict] | None = None  # per folder: its figures and a one-line summary
    reliability: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # per digit folder, for the plot


def dev_folders(dev_dirs: list[Path]) -> list[Path]:
    """The subfolders of ``dev_dirs`` holding ``*_<label>.png`` files."""
    return [f for d in dev_dirs for f in sorted(Path(d).iterdir()) if f.is_dir() and any(f.glob("*_?.png"))]


def measure_dev_dirs(
    predictor: Predictor,
    dev_dirs: list[Path],
    letters_budget: float,
    default_rule: AnswerRule,
) -> DevMeasurement:
    """Measure every folder of ``dev_dirs`` and choose the answer rule on them: of the rules naming a digit
    for at most ``letters_budget`` of the letters, the one reading most digits right (its
    ``alternative_below`` is ``default_rule``'s). ``predictor`` must not abstain (threshold 0). Without a
    folder of digits and one of letters, ``default_rule`` and no figures."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the app
    try:
        reports = {folder.name: measure_folder(predictor, folder) for folder in dev_folders(dev_dirs)}
    finally:
        torch.set_num_threads(threads)
    digits = {name: r for name, r in reports.items() if r.holds_digits}
    letters = {name: r for name, r in reports.items() if name not in digits}
    if not digits or not letters:
        return DevMeasurement(default_rule, "default")
    rule = choose_rule(
        list(digits.values()),
        concatenate_reports(list(letters.values())),
        letters_budget,
        default_rule.alternative_below,
    )
    chosen_on = (
        f"{', '.join(str(d) for d in dev_dirs)}: of the one- and two-question rules naming a digit for at most "
        f"{100 * letters_budget:.0f}% of {', '.join(letters)}, the one reading most of {', '.join(digits)} right"
    )
    measurement = DevMeasurement(rule, chosen_on, {})
    for name, report in reports.items():
        report = with_rule(report, rule)
        if name in digits:
            measurement.results[name] = digit_figures(report)
            measurement.reliability[f"{name} (ECE {100 * report.ece:.2f} points)"] = reliability_table(
                report.confidence[report.best >= 0], report.top_correct[report.best >= 0]
            )
        else:
            measurement.results[name] = non_digit_figures(report)
    return measurement


def non_digit_figures(report: FolderReport, what: str = "letters") -> dict:
    """A folder of non-digits' figures: how often a digit is named."""
    return dict(
        files=len(report.labels),
        named_a_digit=report.named_a_digit,
        summary=f"a digit named for {100 * report.named_a_digit:.1f}% of {len(report.labels)} {what}",
    )


def digit_figures(report: FolderReport) -> dict:
    """A folder of digits' figures, as the metrics and the model card keep them."""
    best_guess = float(report.top_correct.mean())
    return dict(
        files=len(report.labels),
        accuracy=report.accuracy,
        best_guess_right=best_guess,
        abstained=report.abstained,
        ece=report.ece,
        summary=f"{100 * report.accuracy:.1f}% right ({100 * report.abstained:.1f}% not sure, counted wrong), "
        f"best guess right {100 * best_guess:.1f}%, ECE {100 * report.ece:.2f} points, {len(report.labels)} drawings",
    )
