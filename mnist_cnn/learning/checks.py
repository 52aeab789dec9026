"""Checks on a written bundle before it is used or pushed: loaded strictly from disk, its weights and its
``model.onnx`` must read the test set as the trained model did (every stage as torch's hooks see it), and
its ``explain.onnx`` must explain as captum does with those weights."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from mnist_cnn.bundle import EXPLAIN_ONNX_FILE, ONNX_FILE
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.explain_graph import ExplainGraphError, check_explain_graph

from .onnx_export import OnnxCheckError, check_onnx
from .training import digit_predictions, evaluate, predict_logits

log = logging.getLogger(__name__)

EXPLAIN_CHECK_IMAGES = 10


def bundle_matches_model(
    folder: Path,
    predictions: np.ndarray,
    test_images: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
) -> bool:
    """The bundle in ``folder``, reloaded strictly, gives ``predictions`` (the trained model's) on the test
    images, and its ``model.onnx`` and ``explain.onnx`` agree with its weights. Each failure is logged."""
    reloaded = MnistCNN.from_pretrained(folder, strict=True)
    if not np.array_equal(digit_predictions(predict_logits(reloaded, test_images)).numpy(), predictions):
        log.error("The saved bundle's predictions differ from the trained model's. Do not use %s.", folder)
        return False
    _, val_accuracy = evaluate(reloaded, *val)
    log.info("Reloaded %s strictly: identical test predictions, validation accuracy %.2f%%", folder, 100 * val_accuracy)
    return onnx_matches_weights(folder / ONNX_FILE, reloaded, test_images) and explain_graph_matches_weights(
        folder / EXPLAIN_ONNX_FILE, reloaded, test_images
    )


def onnx_matches_weights(path: Path, model: MnistCNN, test_images: torch.Tensor) -> bool:
    """The bundle's ONNX file, run by onnxruntime, must read the test set as the weights do."""
    try:
        check = check_onnx(path, model, test_images)
    except OnnxCheckError as err:
        log.error("%s Do not use it.", err)
        return False
    if not check.passed or not check.has_stages:
        log.error("%s disagrees with the weights: %s. Do not use it.", path, check.summary())
        return False
    log.info("%s run by onnxruntime: %s", path, check.summary())
    return True


def explain_graph_matches_weights(path: Path, model: MnistCNN, test_images: torch.Tensor) -> bool:
    """The bundle's explanation graph, run by onnxruntime, must give captum's Integrated Gradients of the
    weights on the first ``EXPLAIN_CHECK_IMAGES`` test images (for the best guess and another digit)."""
    fields = test_images[:EXPLAIN_CHECK_IMAGES].float().numpy().reshape(-1, 28, 28)
    fields = fields / 255 if test_images.dtype == torch.uint8 else fields
    try:
        check = check_explain_graph(path, model, fields)
    except ExplainGraphError as err:
        log.error("%s Do not use it.", err)
        return False
    if not check.passed:
        log.error("%s disagrees with the weights: %s. Do not use it.", path, check.summary())
        return False
    log.info("%s run by onnxruntime: %s", path, check.summary())
    return True
