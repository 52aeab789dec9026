"""The answer rule: "is it a digit" and "which digit" kept apart, so that two competing digits are named
("**1**, or maybe 7") and "not sure this is a digit" comes only from the non-digit side. In the predictor,
the command line, number reading and the running app, with a bundle whose calibration.json holds the rule."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from conftest import ROOT, RunningApp, draw_digit
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.number import read_number
from mnist_cnn.reading.predict import UNSURE_MESSAGE, AnswerRule, Predictor

TWO_QUESTIONS = {"abstain_below": 0.0, "not_a_digit_above": 0.5, "digits_below": 0.5, "alternative_below": 0.8}


def probabilities(digits: dict[int, float], not_a_digit: float = 0.0) -> np.ndarray:
    probs = np.zeros(11)
    for digit, p in digits.items():
        probs[digit] = p
    probs[10] = not_a_digit
    return probs


def test_one_question_rule_is_the_older_answer():
    """A bundle that stores only abstain_below keeps the answer it was made with: a digit or "not sure"."""
    rule = AnswerRule.from_calibration({"temperature": 0.5, "abstain_below": 0.65})
    assert rule == AnswerRule(abstain_below=0.65)
    assert rule.answer(probabilities({4: 0.9, 9: 0.1})) == (4, None)
    assert rule.answer(probabilities({4: 0.55, 9: 0.45})) == (None, None)


def test_two_questions_name_competing_digits_and_refuse_only_non_digits():
    rule = AnswerRule(**TWO_QUESTIONS)
    assert rule.answer(probabilities({4: 0.95, 9: 0.05})) == (4, None)  # sure: one digit
    assert rule.answer(probabilities({4: 0.55, 9: 0.40}, 0.05)) == (4, 9)  # two compete: both, likelier first
    assert rule.answer(probabilities({9: 0.50, 4: 0.45}, 0.05)) == (9, 4)
    assert rule.answer(probabilities({4: 0.3, 9: 0.1}, 0.6)) == (None, None)  # probably not a digit
    spread = probabilities({d: 0.1 for d in range(10)})
    assert rule.answer(spread) == (None, None)  # no digit stands out: not a digit either


def hesitant_one(bar: int = 68) -> Image.Image:
    """A 1 whose top bar is growing into a 7's: the shipped model hesitates between 1 and 7 here."""
    image = Image.new("RGBA", (400, 400), (255, 255, 255, 255))
    ImageDraw.Draw(image).line([(200 - bar, 70), (200, 70), (200, 330)], fill=(0, 0, 0, 255), width=24)
    return image


def bundle_with_rule(folder: Path, rule: dict) -> Path:
    """The shipped model and temperature with ``rule`` as its calibration.json's thresholds."""
    for path in SHIPPED_BUNDLE.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    temperature = json.loads((folder / "calibration.json").read_text())["temperature"]
    (folder / "calibration.json").write_text(json.dumps({"temperature": temperature, **rule}))
    return folder


@pytest.fixture(scope="module")
def two_question_bundle(tmp_path_factory) -> Path:
    """The shipped model with a two-question rule."""
    return bundle_with_rule(tmp_path_factory.mktemp("two-questions"), TWO_QUESTIONS)


@pytest.fixture(scope="module")
def one_question_bundle(tmp_path_factory) -> Path:
    """The shipped model with the older one-question rule it had before issue 19 ("not sure" below 65%)."""
    return bundle_with_rule(tmp_path_factory.mktemp("one-question"), {"abstain_below": 0.65})


def test_a_1_growing_into_a_7_is_named_with_its_runner_up(two_question_bundle, one_question_bundle):
    shipped = Predictor.from_bundle(load_bundle_folder(one_question_bundle))
    both = Predictor.from_bundle(load_bundle_folder(two_question_bundle))
    hesitant = [bar for bar in range(0, 200, 2) if shipped(hesitant_one(bar)).digit is None]
    assert hesitant, "the model never hesitated between 1 and 7"
    for bar in hesitant:  # "not sure" before; now the likelier digit and the other one
        answer = both(hesitant_one(bar))
        assert {answer.digit, answer.alternative} == {1, 7} and answer.message == ""
        assert f"**{answer.digit}**, or maybe {answer.alternative} (" in answer.status_markdown()
    assert both(hesitant_one(0)).digit == 1 and both(hesitant_one(0)).alternative is None  # a plain 1
    scribble = Image.new("RGBA", (400, 400), (255, 255, 255, 255))
    draw = ImageDraw.Draw(scribble)
    for i in range(12):  # hatching: no digit at all
        draw.line([(40, 40 + 28 * i), (360, 60 + 26 * i)], fill=(0, 0, 0, 255), width=8)
        draw.line([(40 + 28 * i, 40), (60 + 26 * i, 360)], fill=(0, 0, 0, 255), width=8)
    refused = both(scribble)
    assert refused.digit is None and refused.message == UNSURE_MESSAGE


def test_a_number_reads_a_hesitant_digit_instead_of_a_question_mark(two_question_bundle, one_question_bundle):
    number = Image.new("RGBA", (820, 400), (255, 255, 255, 255))
    number.paste(draw_digit(4, transparent=False), (0, 0))
    number.paste(hesitant_one(62), (420, 0))  # in a number its part is cropped alone: the model hesitates at 62
    shipped = read_number(Predictor.from_bundle(load_bundle_folder(one_question_bundle)), number)
    both = read_number(Predictor.from_bundle(load_bundle_folder(two_question_bundle)), number)
    assert shipped.number == "4?"
    assert both.number in ("41", "47"), both.number
    now = read_number(Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE)), number)
    assert now.number in ("41", "47"), now.number  # the shipped rule is a two-question one


def test_command_line_gives_the_alternative(two_question_bundle, tmp_path):
    clear, hesitant = tmp_path / "seven.png", tmp_path / "one-or-seven.png"
    draw_digit(7).save(clear)
    hesitant_one().save(hesitant)
    result = subprocess.run(
        [sys.executable, "-m", "mnist_cnn", "predict", str(clear), str(hesitant), "--model", str(two_question_bundle)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seven, one_or_seven = (json.loads(line) for line in result.stdout.splitlines())
    assert seven["digit"] == 7 and seven["alternative"] is None
    assert {one_or_seven["digit"], one_or_seven["alternative"]} == {1, 7}


def test_the_app_names_both_digits(two_question_bundle, tmp_path):
    hesitant = tmp_path / "one-or-seven.png"
    hesitant_one().save(hesitant)
    app = RunningApp({"HF_HUB_OFFLINE": "1", "MODEL_REPO": str(two_question_bundle)})
    try:
        label, _, status = Client(app.url, verbose=False).predict(handle_file(str(hesitant)), api_name="/predict")
    finally:
        app.stop()
    assert ", or maybe " in status and "Not sure" not in status
    assert {c["label"] for c in label["confidences"][:2]} == {"1", "7"}
