"""The shipped model (mnist_cnn/pretrained/) on the full, real MNIST test set."""

import json

import pytest

from conftest import ROOT, shared_mnist_dir
from mnist_cnn.bundle import REQUIRED_FILES
from mnist_cnn.data import load_mnist
from mnist_cnn.model import MnistCNN
from mnist_cnn.training import predict_logits

PRETRAINED = ROOT / "mnist_cnn" / "pretrained"


def test_shipped_bundle_is_complete_and_small():
    for name in REQUIRED_FILES:
        assert (PRETRAINED / name).is_file(), name
    size = sum(p.stat().st_size for p in PRETRAINED.iterdir())
    assert size < 5 * 2**20, f"{size} bytes"
    metrics = json.loads((PRETRAINED / "metrics.json").read_text())
    assert metrics["config"]["recipe"] == "default" and metrics["seed"] == 0
    assert metrics["command"] in (PRETRAINED / "README.md").read_text()


def test_shipped_model_reaches_target_on_the_full_test_set(tmp_path):
    source = shared_mnist_dir()
    if source is None:
        pytest.skip("no MNIST files: set MNIST_DATA_DIR to a folder with the four IDX files")
    assert source.is_dir(), f"MNIST_DATA_DIR={source} does not exist"
    data = load_mnist(tmp_path, source)
    assert len(data.test_labels) == 10_000
    model = MnistCNN.from_pretrained(PRETRAINED, strict=True)
    predictions = predict_logits(model, data.test_images).argmax(1)
    accuracy = (predictions == data.test_labels).sum().item() / len(data.test_labels)
    print(f"shipped model: test accuracy {100 * accuracy:.2f}%")
    assert accuracy >= 0.9970
    # the recorded figure is the one measured here
    recorded = json.loads((PRETRAINED / "metrics.json").read_text())["test_accuracy"]
    assert recorded == pytest.approx(accuracy, abs=1e-9)
