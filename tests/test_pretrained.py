"""The shipped model (mnist_cnn/pretrained/) on the full, real MNIST test set."""

import json

import numpy as np
import pytest
import torch

from conftest import pen_dev_dir, scan_dev_dir
from mnist_cnn.bundle import REQUIRED_FILES, SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.learning.devsets import expected_calibration_error, measure_folder
from mnist_cnn.learning.onnx_export import check_onnx
from mnist_cnn.learning.training import digit_predictions, predict_logits
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.predict import Predictor

# Floors under the shipped model's dev figures (an abstention counts as wrong), so that a retrained model
# cannot quietly read real handwriting worse. Issue 19's goals, 99.0% and 99.3%, are not reached yet.
PEN_DIGITS_FLOOR = 0.98
USPS_DIGITS_FLOOR = 0.975


def test_shipped_bundle_is_complete_and_small():
    for name in REQUIRED_FILES:
        assert (SHIPPED_BUNDLE / name).is_file(), name
    size = sum(p.stat().st_size for p in SHIPPED_BUNDLE.iterdir())
    assert size < 10 * 2**20, f"{size} bytes"
    metrics = json.loads((SHIPPED_BUNDLE / "metrics.json").read_text())
    assert metrics["config"]["recipe"] == "default" and metrics["seed"] == 0
    assert metrics["command"] in (SHIPPED_BUNDLE / "README.md").read_text()


def test_shipped_onnx_reads_the_test_set_as_the_weights_do(real_mnist):
    """The browser's model.onnx, run by onnxruntime on all 10,000 test images: the same predictions as the
    safetensors weights, logits within 1e-4."""
    check = check_onnx(SHIPPED_BUNDLE / "model.onnx", MnistCNN.from_pretrained(SHIPPED_BUNDLE), real_mnist.test_images)
    assert check.images == 10_000 and check.same_predictions, check.summary()
    assert check.max_logit_difference <= 1e-4, check.summary()


def test_shipped_model_reaches_target_on_the_full_test_set(real_mnist):
    data = real_mnist
    assert len(data.test_labels) == 10_000
    model = MnistCNN.from_pretrained(SHIPPED_BUNDLE, strict=True)
    logits = predict_logits(model, data.test_images)
    predictions = digit_predictions(logits)
    accuracy = (predictions == data.test_labels).sum().item() / len(data.test_labels)
    bundle = load_bundle_folder(SHIPPED_BUNDLE)
    probabilities = Predictor.from_bundle(bundle).calibrated(logits)
    confidence = probabilities[torch.arange(len(predictions)), predictions].numpy()
    ece = expected_calibration_error(confidence, (predictions == data.test_labels).numpy())
    print(f"shipped model: test accuracy {100 * accuracy:.2f}%, ECE {100 * ece:.2f} points")
    assert accuracy >= 0.9975
    assert ece <= 0.02
    # the recorded figures are the ones measured here
    recorded = json.loads((SHIPPED_BUNDLE / "metrics.json").read_text())
    assert recorded["test_accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert recorded["test_ece"] == pytest.approx(ece, abs=1e-4)
    assert recorded["temperature"] == bundle.calibration["temperature"]


def test_shipped_model_reads_real_handwriting_and_knows_letters_are_not_digits():
    """The shipped model on the development folders of real handwriting, through the app's path and its
    stored answer rule: the card's figures are the ones measured here, and they hold their floors."""
    folders = {
        "pen_digits": pen_dev_dir() / "pen_digits",
        "usps_digits": scan_dev_dir() / "usps_digits",
        "pen_letters": pen_dev_dir() / "pen_letters",
    }
    for folder in folders.values():
        assert folder.is_dir(), (
            f"a development folder of real handwriting is missing at {folder}: put ../shared/data/pen-dev and "
            "../shared/data/scan-dev beside the repository or set PEN_DEV_DIR and SCAN_DEV_DIR"
        )
    torch.set_num_threads(1)
    bundle = load_bundle_folder(SHIPPED_BUNDLE)
    predictor = Predictor.from_bundle(bundle)
    assert predictor.rule.alternative_below > 0  # two competing digits are named, not refused
    reports = {name: measure_folder(predictor, folder) for name, folder in folders.items()}
    pen, usps, letters = reports["pen_digits"], reports["usps_digits"], reports["pen_letters"]
    print(
        f"pen_digits {100 * pen.accuracy:.2f}% right, ECE {100 * pen.ece:.2f}; usps_digits {100 * usps.accuracy:.2f}% "
        f"right, ECE {100 * usps.ece:.2f}; pen_letters named a digit {100 * letters.named_a_digit:.1f}%"
    )
    assert (len(pen.labels), len(usps.labels), len(letters.labels)) == (1500, 2000, 1500)
    assert pen.accuracy >= PEN_DIGITS_FLOOR and usps.accuracy >= USPS_DIGITS_FLOOR
    assert letters.named_a_digit <= 0.10  # the budget the rule was chosen within
    assert pen.ece <= 0.02 and usps.ece <= 0.02
    recorded = json.loads((SHIPPED_BUNDLE / "metrics.json").read_text())["dev_sets"]
    for name in ("pen_digits", "usps_digits"):
        assert recorded[name]["accuracy"] == pytest.approx(reports[name].accuracy, abs=1.5e-3)  # one file
        assert recorded[name]["best_guess_right"] == pytest.approx(reports[name].top_correct.mean(), abs=1.5e-3)
    assert recorded["pen_letters"]["named_a_digit"] == pytest.approx(letters.named_a_digit, abs=1.5e-3)
    assert np.isfinite(pen.confidence).all()
