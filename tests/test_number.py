"""Reading numbers: splitting the ink into digits, left to right, and "?" rather than an invented digit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import ROOT, draw_digit, draw_number
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.number import digit_candidates, read_digit_or_number, read_number
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import SketchError


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))


@pytest.mark.parametrize("digits", [[1, 0, 4, 7], [7, 0], [4, 4, 1], [0, 1, 7, 4, 0, 1]])
def test_numbers_are_read_left_to_right_with_boxes(predictor, digits):
    image = draw_number(digits)
    reading = read_number(predictor, image)
    assert reading.number == "".join(map(str, digits))
    boxes = [d.box for d in reading.digits]
    assert all(0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height for x0, y0, x1, y1 in boxes)
    assert all(a[2] <= b[0] for a, b in zip(boxes, boxes[1:], strict=False))  # left to right, apart
    alpha = np.asarray(image.getchannel("A"))
    for x0, y0, x1, y1 in boxes:  # each box holds ink right up to its edges
        inside = alpha[y0:y1, x0:x1] > 128
        assert inside[:, 0].any() and inside[:, -1].any() and inside[0].any() and inside[-1].any()
    assert reading.to_json()["digits"][0]["box"] == list(boxes[0])


def test_a_single_digit_reads_as_before(predictor):
    for digit in (0, 1, 4, 7):
        reading = read_number(predictor, draw_digit(digit))
        alone = predictor(draw_digit(digit))
        assert reading.number == str(digit) and len(reading.digits) == 1
        assert reading.digits[0].confidence == pytest.approx(alone.confidence, abs=1e-3)


def test_a_digit_in_separate_strokes_stays_one_digit(predictor):
    # a 4 whose stem does not touch its first stroke, and a 0 with a gap in its loop
    image = Image.new("L", (400, 400), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(230, 70), (130, 230), (220, 230)], fill=0, width=24, joint="curve")
    draw.line([(262, 120), (262, 330)], fill=0, width=24)
    assert read_number(predictor, image).number == "4"
    ring = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(ring).arc((110, 60, 290, 340), start=100, end=420, fill=0, width=24)  # open at the top
    ImageDraw.Draw(ring).arc((110, 60, 290, 340), start=70, end=90, fill=0, width=24)  # a loose piece
    assert len(digit_candidates(np.asarray(ring) < 128)) == 1


def test_touching_digits_are_cut_apart(predictor):
    image = draw_number([4, 0], gap=-20)  # the 4's bar runs into the 0
    alpha = np.asarray(image.getchannel("A")) > 0
    assert len(digit_candidates(alpha)) == 1, "the test needs digits that touch"
    assert read_number(predictor, image).number == "40"


def test_a_scribble_is_a_question_mark_not_a_digit(predictor):
    image = draw_number([4, 1])
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(0)
    left = image.width - 40
    points = [(left + 60 + float(x), 120 + float(y)) for x, y in rng.uniform(0, 160, size=(25, 2))]
    image = image.resize((image.width + 260, image.height)) if False else image
    wide = Image.new("RGBA", (image.width + 260, image.height), (0, 0, 0, 0))
    wide.paste(image)
    ImageDraw.Draw(wide).line(points, fill=(0, 0, 0, 255), width=14)  # a hatched scribble after "41"
    del draw
    reading = read_number(predictor, wide)
    assert reading.number == "41?", reading.to_json()
    assert reading.digits[-1].digit is None


def test_big_images_get_boxes_in_their_own_pixels(predictor):
    small = draw_number([7, 1])
    big = small.resize((small.width * 4, small.height * 4), Image.Resampling.LANCZOS)  # read at 1/4
    small_boxes = [d.box for d in read_number(predictor, small).digits]
    big_reading = read_number(predictor, big)
    assert big_reading.number == "71"
    for (a0, b0, a1, b1), (c0, d0, c1, d1) in zip(small_boxes, [d.box for d in big_reading.digits], strict=True):
        assert abs(c0 - 4 * a0) <= 12 and abs(d0 - 4 * b0) <= 12 and abs(c1 - 4 * a1) <= 12 and abs(d1 - 4 * b1) <= 12


def test_blank_unreadable_and_confetti(predictor):
    blank = read_number(predictor, Image.new("RGB", (300, 200), "white"))
    assert blank.number is None and blank.digits == [] and "no ink" in blank.message
    with pytest.raises(SketchError):
        read_number(predictor, b"not an image")
    confetti = Image.new("L", (600, 200), 255)
    for k in range(20):  # twenty separate dots of ink is no number
        ImageDraw.Draw(confetti).ellipse((10 + 29 * k, 80, 30 + 29 * k, 100), fill=0)
    reading = read_number(predictor, confetti)
    assert reading.number is None and "not a number" in reading.message


def test_predict_number_cli(tmp_path):
    number, blank, text = tmp_path / "1047.png", tmp_path / "blank.png", tmp_path / "notes.txt"
    draw_number([1, 0, 4, 7]).save(number)
    Image.new("RGB", (300, 300), "white").save(blank)
    text.write_text("not an image")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_cnn",
            "predict",
            "--number",
            str(number),
            str(blank),
            str(text),
            "--model",
            str(SHIPPED_BUNDLE),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    first, second, third = (json.loads(line) for line in result.stdout.splitlines())
    assert first["path"] == str(number) and first["number"] == "1047"
    assert [d["digit"] for d in first["digits"]] == [1, 0, 4, 7]
    assert all(len(d["box"]) == 4 and 0.5 <= d["confidence"] <= 1 for d in first["digits"])
    assert second["number"] is None and second["digits"] == []
    assert third["number"] is None and "Not a readable image" in third["error"]


def test_a_long_dash_is_not_cut_into_digits(predictor):
    # the first stroke of a 7 is a bar: it must not flash up as a number while the 7 is being drawn
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(120, 90), (280, 90)], fill=(0, 0, 0, 255), width=26)
    assert len(read_number(predictor, image).digits) == 1


def test_the_pad_reads_one_digit_exactly_as_predict_does(predictor):
    for image in (draw_digit(7), draw_digit(0, transparent=False), draw_number([1, 4])):
        single, number = read_digit_or_number(predictor, image)
        alone = predictor(image)
        assert single.probabilities == alone.probabilities and np.array_equal(single.model_input, alone.model_input)
    assert read_digit_or_number(predictor, draw_digit(7))[1] is None
    assert read_digit_or_number(predictor, draw_number([1, 4]))[1].number == "14"
    blank, number = read_digit_or_number(predictor, Image.new("RGB", (50, 50), "white"))
    assert blank.message == "Draw a digit" and number is None
    broken, number = read_digit_or_number(predictor, b"not an image")
    assert "Not a readable image" in broken.error and number is None
