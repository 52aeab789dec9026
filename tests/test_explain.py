"""Why this digit: Integrated Gradients on the shipped model, and the overlay drawn from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import draw_digit
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.explain import explain, explain_input, overlay
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import sketch_to_mnist


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))


@pytest.mark.parametrize("digit", [0, 1, 4, 7])
def test_attributions_add_up_to_the_logit_difference_and_stay_on_the_ink(predictor, digit):
    field = sketch_to_mnist(draw_digit(digit))
    explanation = explain(predictor.model, field, digit)
    with torch.no_grad():
        logits = predictor.model(torch.from_numpy(np.stack([field, np.zeros_like(field)])[:, None]))
    difference = float(logits[0, digit] - logits[1, digit])
    assert difference > 1  # the drawing speaks for its digit
    # completeness: IG's attributions sum to the logit difference from the blank baseline, up to the
    # integration error that captum reports as delta
    assert explanation.attributions.sum() - difference == pytest.approx(explanation.delta, abs=1e-3)
    assert abs(explanation.delta) < 0.1 * abs(difference)
    # against a blank baseline, a pixel with no ink gets no attribution
    assert np.all(explanation.attributions[field == 0] == 0)
    assert explanation.attributions.sum() > 0 and explanation.attributions.max() > 0


def test_another_digit_gets_its_own_evidence(predictor):
    field = sketch_to_mnist(draw_digit(4))
    for_four, for_nine = explain(predictor.model, field, 4), explain(predictor.model, field, 9)
    assert for_four.attributions.sum() > for_nine.attributions.sum()
    assert not np.allclose(for_four.attributions, for_nine.attributions)
    with pytest.raises(ValueError):
        explain(predictor.model, field, 10)


def test_overlay_is_red_for_blue_against_and_keeps_the_digit():
    field = np.zeros((28, 28), dtype=np.float32)
    field[4:24, 12:16] = 1.0  # a bar of ink
    attributions = np.zeros((28, 28), dtype=np.float32)
    attributions[4:10, 12:16] = 1.0  # top of the bar: for
    attributions[18:24, 12:16] = -1.0  # bottom: against
    picture = overlay(field, attributions, scale=10).astype(int)
    assert picture.shape == (280, 280, 3)
    red, blue, middle, paper = picture[60, 140], picture[210, 140], picture[140, 140], picture[140, 20]
    assert red[0] > 200 and red[2] < 80, red
    assert blue[2] > 200 and blue[0] < 80, blue
    assert tuple(paper) == (255, 255, 255)  # no ink, no evidence: white paper
    assert abs(middle[0] - middle[2]) < 30 and middle[0] < 250  # ink with no evidence: grey, neither colour


def test_transparent_overlay_is_the_same_picture_on_any_background():
    """The page's overlay (RGBA, see-through paper) is the API's overlay once laid on white, and on a dark
    page stays dark where there is neither ink nor evidence."""
    field = np.zeros((28, 28), dtype=np.float32)
    field[4:24, 12:16] = 1.0
    attributions = np.zeros((28, 28), dtype=np.float32)
    attributions[4:10, 12:16], attributions[18:24, 12:16] = 1.0, -1.0
    rgb = overlay(field, attributions).astype(float)
    rgba = overlay(field, attributions, transparent=True).astype(float)
    assert rgba.shape == (280, 280, 4)
    colour, alpha = rgba[..., :3], rgba[..., 3:] / 255
    on_white = alpha * colour + (1 - alpha) * 255
    assert np.abs(on_white - rgb).max() <= 1.5  # rounding only
    assert rgba[140, 20, 3] == 0  # the paper: see-through
    on_dark = alpha * colour + (1 - alpha) * 30
    assert tuple(on_dark[140, 20]) == (30, 30, 30)
    assert on_dark[60, 140, 0] > 200 and on_dark[210, 140, 2] > 200  # red and blue as on white
    assert on_dark[140, 140].mean() > 30  # the ink shows, lighter than the dark page


def test_explain_input_says_why_there_is_nothing_to_explain(predictor):
    picture, text = explain_input(predictor, draw_digit(7))
    assert picture.shape == (280, 280, 3) and "Why **7**" in text
    picture, text = explain_input(predictor, draw_digit(7), 1)
    assert "Why not **1**" in text and "read 7" in text
    blank = np.zeros((400, 400, 4), dtype=np.uint8)
    assert explain_input(predictor, blank) == (None, "**Draw a digit**")
    picture, text = explain_input(predictor, b"not an image")
    assert picture is None and "Not a readable image" in text
