"""Checks on a written bundle before it is used or pushed: loaded strictly from disk, its weights and its
``model.onnx`` must read the test set as the trained model did."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from mnist_cnn.bundle import ONNX_FILE
from mnist_cnn.model import MnistCNN

from .onnx_export import OnnxCheckError, check_onnx
from .training import digit_predictions, evaluate, predict_logits

log = logging.getLogger(__name__)


def bundle_matches_model(
    folder: Path,
    predictions: np.ndarray,
    test_images: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
) -> bool:
    """The bundle in ``folder``, reloaded strictly, gives ``predictions`` (the trained model's) on the test
    images, and its ``model.onnx`` agrees with its weights. Each failure is logged."""
    reloaded = MnistCNN.from_pretrained(folder, strict=True)
    if not np.array_equal(digit_predictions(predict_logits(reloaded, test_images)).numpy(), predictions):
        log.error("The saved bundle's predictions differ from the trained model's. Do not use %s.", folder)
        return False
    _, val_accuracy = evaluate(reloaded, *val)
    log.info("Reloaded %s strictly: identical test predictions, validation accuracy %.2f%%", folder, 100 * val_accuracy)
    return onnx_matches_weights(folder / ONNX_FILE, reloaded, test_images)


def onnx_matches_weights(path: Path, model: MnistCNN, test_images: torch.Tensor) -> bool:
    """The bundle's ONNX file, run by onnxruntime, must read the test set as the weights do."""
    try:
        check = check_onnx(path, model, test_images)
    except OnnxCheckError as err:
        log.error("%s Do not use it.", err)
        return False
    if not check.passed:
        log.error("%s disagrees with the weights: %s. Do not use it.", path, check.summary())
        return False
    log.info("%s run by onnxruntime: %s", path, check.summary())
    return True
