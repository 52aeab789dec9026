"""Measuring on folders of real handwriting: calibration error, thresholds, labelled files."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_cnn.learning.devsets import (
    FolderReport,
    choose_threshold,
    expected_calibration_error,
    labelled_files,
    measure_folder,
    reliability_table,
    with_threshold,
)


def test_ece_is_zero_when_confidence_matches_accuracy_and_measures_the_gap():
    confidence = np.array([0.8] * 10)
    assert expected_calibration_error(confidence, np.array([1] * 8 + [0] * 2)) == pytest.approx(0.0)
    # Says 90% and is right half the time: a 40-point gap.
    assert expected_calibration_error(np.array([0.9] * 4), np.array([1, 0, 1, 0])) == pytest.approx(0.4)
    # Two bins of equal size, gaps 0.1 (says 60%, right 50%) and 0.3 (says 70%, always right): their mean.
    confidence = np.array([0.6, 0.6, 0.7, 0.7])
    assert expected_calibration_error(confidence, np.array([1, 0, 1, 1])) == pytest.approx(0.2)
    rows = reliability_table(np.array([0.05, 0.95, 0.97]), np.array([0, 1, 1]))
    assert [r["count"] for r in rows] == [1, 2] and rows[1]["accuracy"] == 1.0


def test_threshold_is_the_lowest_within_the_budget():
    letters = FolderReport(
        labels=list("abcd"),
        digits=[1, 2, 3, 4],
        confidence=np.array([0.55, 0.65, 0.75, 0.95]),
        best=np.array([1, 2, 3, 4]),
    )
    assert choose_threshold(letters, budget=0.5) == pytest.approx(0.7)  # 0.75 and 0.95 left: 2 of 4
    assert choose_threshold(letters, budget=1.0) == pytest.approx(0.5)
    assert choose_threshold(letters, budget=0.0) == pytest.approx(0.95)  # none within: the grid's highest
    stricter = with_threshold(letters, 0.7)
    assert stricter.digits == [None, None, 3, 4] and stricter.named_a_digit == 0.5


def test_measure_folder_counts_abstentions_as_wrong(tmp_path):
    class Always7:  # a stand-in predictor with the real result type
        def __call__(self, path):
            from mnist_cnn.reading.predict import Prediction

            sure = "00001" not in str(path)
            probabilities = [0.0] * 10
            probabilities[7] = 0.9 if sure else 0.3
            return Prediction(
                digit=7 if sure else None,
                confidence=probabilities[7],
                probabilities=probabilities,
                model_input=np.zeros((28, 28), np.float32),
            )

    for name in ("00000_7.png", "00001_7.png", "00002_1.png", "notes.txt"):
        image = Image.new("L", (40, 40), 255)
        ImageDraw.Draw(image).line([(20, 5), (20, 35)], fill=0, width=4)
        image.save(tmp_path / name, format="PNG")
    assert [label for _, label in labelled_files(tmp_path)] == ["7", "7", "1"]
    report = measure_folder(Always7(), tmp_path)
    assert report.accuracy == pytest.approx(1 / 3)  # one right, one abstained, one wrong
    assert report.abstained == pytest.approx(1 / 3) and report.top_correct.tolist() == [True, True, False]
    with pytest.raises(FileNotFoundError):
        labelled_files(tmp_path / "missing")


def report_of(rows: list[tuple[str, dict[int, float], float]]) -> FolderReport:
    """A folder's report from (label, digit probabilities, P(not a digit)) per file."""
    probabilities = np.zeros((len(rows), 11))
    for i, (_, digits, not_a_digit) in enumerate(rows):
        for digit, p in digits.items():
            probabilities[i, digit] = p
        probabilities[i, 10] = not_a_digit
    best = probabilities[:, :10].argmax(axis=1)
    confidence = probabilities[:, :10].max(axis=1)
    return FolderReport([r[0] for r in rows], [int(b) for b in best], confidence, best, probabilities)


def test_answer_rule_is_chosen_within_the_letters_budget():
    from mnist_cnn.learning.devsets import choose_answer_rule, with_rule
    from mnist_cnn.reading.predict import AnswerRule

    digits = report_of(
        [("4", {4: 0.95}, 0.0), ("4", {4: 0.55, 9: 0.40}, 0.05), ("7", {7: 0.5, 1: 0.2}, 0.3), ("1", {1: 0.9}, 0.1)]
    )
    letters = report_of(
        [("a", {6: 0.2, 0: 0.1}, 0.7), ("y", {4: 0.3, 9: 0.3}, 0.4), ("h", {4: 0.5}, 0.5), ("U", {7: 0.7}, 0.1)]
    )
    rule = choose_answer_rule([digits], letters, budget=0.0, alternative_below=0.8)
    # refusing the U (a 7 at 70%, hardly "not a digit") costs the 7 whose two best digits make 70%; the
    # hesitant 4 is still read
    assert rule == AnswerRule(0.0, 1.0, 0.71, 0.8)
    assert choose_answer_rule([digits], letters, budget=0.0, alternative_below=0.8, step=0.05) == AnswerRule(
        0.0, 1.0, 0.75, 0.8
    )
    assert with_rule(letters, rule).named_a_digit == 0.0
    assert with_rule(digits, rule).digits == [4, 4, None, 1]
    loose = choose_answer_rule([digits], letters, budget=1.0)
    assert with_rule(digits, loose).accuracy == 1.0 and loose == AnswerRule(0.0, 1.0, 0.0, 0.0)  # refuses nothing
