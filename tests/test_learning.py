"""Training's library code, as train.py uses it: the device description, the corrections joining the
training images, the dev measurement and the rule chosen there, what a run records (calibration and
metrics), the figures, and the checks on a written bundle."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import pen_dev_dir, scan_dev_dir
from mnist_cnn.bundle import ONNX_FILE, SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.classes import NOT_A_DIGIT, NUM_CLASSES
from mnist_cnn.learning.checks import bundle_matches_model
from mnist_cnn.learning.corrections import Corrections, CorrectionsError, with_corrections
from mnist_cnn.learning.devsets import measure_dev_dirs
from mnist_cnn.learning.evaluation import evaluate_test_set
from mnist_cnn.learning.metrics import DevRuleChoice, RunInfo, evaluate_model
from mnist_cnn.learning.plots import write_plots
from mnist_cnn.learning.training import FitResult, TrainConfig, describe_device, digit_predictions, predict_logits
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.predict import AnswerRule, Predictor

DEFAULT_RULE = AnswerRule(abstain_below=0.5, alternative_below=0.8)


@pytest.fixture(scope="module")
def shipped():
    return load_bundle_folder(SHIPPED_BUNDLE)


@pytest.fixture(scope="module")
def small_dev(tmp_path_factory) -> Path:
    """A dev folder of 60 pen digits and 60 pen letters, plus 60 USPS digits in another."""
    root = tmp_path_factory.mktemp("dev")
    for source, name in (
        (pen_dev_dir(), "pen_digits"),
        (pen_dev_dir(), "pen_letters"),
        (scan_dev_dir(), "usps_digits"),
    ):
        (root / name).mkdir()
        for path in sorted((source / name).glob("*.png"))[:60]:
            shutil.copy(path, root / name / path.name)
    return root


def test_the_device_is_described_for_the_card():
    assert describe_device("cpu") == f"{torch.get_num_threads()} CPU threads ({platform.machine()})"
    assert describe_device("mps").startswith("Apple MPS")


def test_corrections_join_the_training_images_only_as_often_as_asked():
    train = (torch.zeros(5, 28, 28, dtype=torch.uint8), torch.arange(5))
    extra = Corrections(torch.full((2, 28, 28), 7, dtype=torch.uint8), torch.tensor([3, NOT_A_DIGIT]), "a/b", "c", True)
    images, labels = with_corrections(train, extra, repeat=3)
    assert images.shape == (11, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4] + [3, NOT_A_DIGIT] * 3
    assert (images[5:] == 7).all()
    with pytest.raises(CorrectionsError, match="at least once"):
        with_corrections(train, extra, repeat=0)


def test_the_dev_measurement_returns_its_figures_and_the_rule_chosen_there(shipped, small_dev):
    predictor = Predictor(shipped.model, shipped.calibration["temperature"], 0.0)
    dev = measure_dev_dirs(predictor, [small_dev], 0.10, DEFAULT_RULE)
    assert set(dev.results) == {"pen_digits", "pen_letters", "usps_digits"}
    assert dev.results["pen_digits"]["files"] == 60 and 0.8 < dev.results["pen_digits"]["accuracy"] <= 1
    assert dev.results["pen_letters"]["named_a_digit"] <= 0.10  # the budget the rule was chosen under
    assert dev.rule != DEFAULT_RULE and dev.rule.alternative_below == DEFAULT_RULE.alternative_below
    assert str(small_dev) in dev.chosen_on and len(dev.reliability) == 2  # one curve per folder of digits
    # without a folder of letters, nothing to choose on: the default rule and no figures
    alone = measure_dev_dirs(predictor, [], 0.10, DEFAULT_RULE)
    assert alone.rule == DEFAULT_RULE and alone.results is None and alone.chosen_on == "default"


def test_an_evaluation_records_calibration_and_metrics(shipped, small_dev, real_mnist):
    images, labels = real_mnist.test_images[:300], real_mnist.test_labels[:300]
    cfg = TrainConfig(epochs=1, batch_size=64, lr=1e-3)
    val = (real_mnist.train_images[:200], real_mnist.train_labels[:200])
    evaluation = evaluate_model(
        shipped.model, val, (images, labels), cfg, DevRuleChoice([small_dev], 0.1, DEFAULT_RULE)
    )
    assert 0 < evaluation.temperature < 5 and evaluation.report.accuracy > 0.95
    calibration = evaluation.calibration(validation_size=200)
    assert calibration["temperature"] == evaluation.temperature and "200 digits" in calibration["fitted_on"]
    assert AnswerRule.from_calibration(calibration) == evaluation.dev.rule
    result = FitResult(model=shipped.model, best_epoch=1, best_val_accuracy=0.99, train_seconds=12.34)
    run = RunInfo("quick", {"channels": [40, 80, 160]}, cfg, "python train.py", "2 CPU threads", 100, 200)
    metrics = evaluation.metrics(result, run)
    json.dumps(metrics)  # written as JSON
    assert metrics["test_size"] == 300 and metrics["test_errors"] == len(evaluation.report.misclassified)
    answered = [evaluation.dev.rule.answer(p)[0] for p in evaluation.report.probabilities]
    assert metrics["test_answered_right"] == pytest.approx(np.mean(np.array(answered, dtype=object) == labels.numpy()))
    assert metrics["dev_sets"] == evaluation.dev.results and metrics["train_seconds"] == 12.3
    assert metrics["config"]["recipe"] == "quick" and metrics["config"]["channels"] == [40, 80, 160]
    assert list(evaluation.reliability)[0].startswith("MNIST test (ECE ")


def test_a_run_draws_its_figures(tmp_path, real_mnist):
    model = MnistCNN(channels=(8, 16, 32), num_classes=NUM_CLASSES).eval()
    images, labels = real_mnist.test_images[:100], real_mnist.test_labels[:100]
    report = evaluate_test_set(model, images, labels)
    history = {
        "epoch": [1, 2],
        "train_loss": [1.0, 0.5],
        "val_loss": [0.9, 0.6],
        "train_accuracy": [0.5, 0.8],
        "val_accuracy": [0.6, 0.7],
    }
    write_plots(tmp_path, (images, labels), images, report, history, {1e-3: 0.5, 3e-3: 0.6}, seed=0)
    names = {"samples.png", "predictions.png", "misclassified.png", "confusion_matrix.png", "loss_curves.png"}
    assert names | {"lr_sweep.png"} == {path.name for path in tmp_path.iterdir()}
    assert all((tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in names)


def test_a_written_bundle_is_checked_against_the_trained_model(tmp_path, shipped, real_mnist):
    folder = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    images = real_mnist.test_images[:200]
    val = (real_mnist.train_images[:100], real_mnist.train_labels[:100])
    predictions = digit_predictions(predict_logits(shipped.model, images)).numpy()
    assert bundle_matches_model(folder, predictions, images, val)
    assert not bundle_matches_model(folder, (predictions + 1) % 10, images, val)  # other predictions
    (folder / ONNX_FILE).write_bytes(b"not an onnx model")
    assert not bundle_matches_model(folder, predictions, images, val)  # an ONNX file that does not run
