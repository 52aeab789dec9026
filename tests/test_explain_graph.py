"""explain.onnx: Integrated Gradients as one ONNX graph, against captum; the bundle's check, the push and
the app's start with a bundle written before bundles held it."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import ROOT, pen_dev_dir
from mnist_cnn.bundle import EXPLAIN_ONNX_FILE, SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.learning.checks import bundle_matches_model, explain_graph_matches_weights
from mnist_cnn.learning.training import digit_predictions, predict_logits
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.explain import explain, overlay, why
from mnist_cnn.reading.explain_graph import (
    MIN_OVERLAY_SHARE,
    IntegratedGradientsGraph,
    check_explain_graph,
    export_explain_graph,
    graph_inputs,
    overlay_share,
)
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import sketch_to_mnist
from mnist_cnn.web.pad.reader import PadReader


@pytest.fixture(scope="module")
def shipped():
    return load_bundle_folder(SHIPPED_BUNDLE)


def dev_fields(count: int) -> list[np.ndarray]:
    files = sorted((pen_dev_dir() / "pen_digits").glob("*.png"))
    assert files, f"no pen_digits/*.png under {pen_dev_dir()}: the dev folders are required"
    return [sketch_to_mnist(path) for path in files[:: max(1, len(files) // count)][:count]]


def test_the_graph_is_captums_integrated_gradients(shipped, real_mnist):
    """In PyTorch first (the backward written as forward operations), for the best guess and another digit,
    on MNIST test images and real pen drawings: captum's up to rounding (a ReLU mask or a max-pool's near-tie
    can flip at one step: see explain_graph's OVERLAY_TOLERANCE), and the same overlay."""
    graph = IntegratedGradientsGraph(shipped.model).eval()
    fields = [image.numpy().astype(np.float32) / 255 for image in real_mnist.test_images[:4]]
    fields += dev_fields(4)
    relative = []
    for n, field in enumerate(fields):
        for digit in (n % 10, (n + 5) % 10):
            inputs = {name: torch.from_numpy(value) for name, value in graph_inputs(field, digit).items()}
            with torch.no_grad():
                got = graph(*inputs.values())[0, 0].numpy()
            expected = explain(shipped.model, field, digit).attributions
            relative.append(np.abs(got - expected).max() / np.abs(expected).max())
            assert relative[-1] < 0.05, (n, digit)
            assert overlay_share(field, got, expected) >= MIN_OVERLAY_SHARE, (n, digit)
    assert np.median(relative) < 1e-4  # most are equal but for rounding


def test_the_shipped_graph_runs_in_onnxruntime_as_captum(shipped, real_mnist):
    fields = np.stack([image.numpy().astype(np.float32) / 255 for image in real_mnist.test_images[:3]] + dev_fields(3))
    check = check_explain_graph(SHIPPED_BUNDLE / EXPLAIN_ONNX_FILE, shipped.model, fields)
    assert check.passed and check.max_relative_difference < 0.05, check.summary()
    session = ort.InferenceSession(str(SHIPPED_BUNDLE / EXPLAIN_ONNX_FILE))
    assert [i.name for i in session.get_inputs()] == ["image", "target", "alphas", "step_weights"]
    # the steps are an input: a share of them gives its share of the sum (the browser splits them)
    inputs = graph_inputs(fields[0], 4)
    (whole,) = session.run(None, inputs)
    halves = [
        session.run(None, inputs | {"alphas": inputs["alphas"][k::2], "step_weights": inputs["step_weights"][k::2]})[0]
        for k in (0, 1)
    ]
    assert np.allclose(halves[0] + halves[1], whole, atol=1e-6)


def test_the_bundle_check_refuses_a_graph_of_other_weights(tmp_path, shipped, real_mnist):
    folder = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    images = real_mnist.test_images[:100]
    val = (real_mnist.train_images[:50], real_mnist.train_labels[:50])
    predictions = digit_predictions(predict_logits(shipped.model, images)).numpy()
    assert explain_graph_matches_weights(folder / EXPLAIN_ONNX_FILE, shipped.model, images)
    other = MnistCNN(num_classes=shipped.model.classifier[-1].out_features).eval()  # random weights
    export_explain_graph(other, folder / EXPLAIN_ONNX_FILE)
    assert not explain_graph_matches_weights(folder / EXPLAIN_ONNX_FILE, shipped.model, images)
    assert not bundle_matches_model(folder, predictions, images, val)
    (folder / EXPLAIN_ONNX_FILE).write_bytes(b"not an onnx graph")
    assert not explain_graph_matches_weights(folder / EXPLAIN_ONNX_FILE, shipped.model, images)


def test_an_older_bundle_gets_its_graph_when_the_app_starts(tmp_path, shipped):
    older = tmp_path / "older"
    shutil.copytree(SHIPPED_BUNDLE, older, ignore=shutil.ignore_patterns(EXPLAIN_ONNX_FILE))
    bundle = load_bundle_folder(older)
    assert bundle.explain_onnx_file is None
    reader = PadReader.from_bundle(bundle)
    served = reader.files[EXPLAIN_ONNX_FILE].path
    assert served.is_file() and served.parent != older  # exported beside, the bundle left as it was
    assert not (older / EXPLAIN_ONNX_FILE).exists()
    settings = reader.settings()
    assert settings is None or settings["explain"]["model"].startswith("pad-reader/explain.onnx?v=")
    fields = shipped.samples["images"][:2].numpy().astype(np.float32) / 255
    assert check_explain_graph(served, shipped.model, fields).passed


def test_the_browsers_overlay_is_explain_py_s(shipped, real_mnist):
    """explain.mjs (Node) draws the overlay explain.overlay draws, from the same attributions: captum's on
    MNIST test images and real pen drawings, and edge cases (no attributions; one pixel), and words "why" as
    explain.why does."""
    node = shutil.which("node")
    assert node, "Node is required (scripts/test.sh installs it)"
    fields = [image.numpy().astype(np.float32) / 255 for image in real_mnist.test_images[:6]] + dev_fields(6)
    cases = [(field, explain(shipped.model, field, n % 10).attributions) for n, field in enumerate(fields)]
    cases.append((fields[0], np.zeros((28, 28), dtype=np.float32)))
    single = np.zeros((28, 28), dtype=np.float32)
    single[14, 14] = -0.5
    cases.append((fields[1], single))
    settings = reading_settings_for_test()
    payload = {
        "style": settings["explain"],
        "messages": settings["messages"],
        "cases": [{"field": f.ravel().tolist(), "attributions": a.ravel().tolist()} for f, a in cases],
    }
    result = subprocess.run(
        [node, str(ROOT / "tests" / "js" / "draw_overlays.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(result.stdout)
    for (field, attributions), got in zip(cases, answer["overlays"], strict=True):
        expected = overlay(field, attributions, transparent=True)[::10, ::10].astype(int)
        assert np.abs(np.asarray(got).reshape(28, 28, 4) - expected).max() <= 1
    assert answer["why"] == why(shipped.model, fields[0], 4, 4)[1]
    assert answer["whyNot"] == why(shipped.model, fields[0], 9, 4)[1]


def reading_settings_for_test() -> dict:
    """The settings the page gets (the explanation's part without served files)."""
    from mnist_cnn.web.pad.reader import explain_settings, reading_settings

    return reading_settings(Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))) | {
        "explain": explain_settings("modules", "graph")
    }
