"""Test-set evaluation with scikit-learn metrics, and the compact sample pack the app shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from torch import nn

from mnist_cnn.classes import NUM_DIGITS

from .training import digit_predictions, predict_logits

CLASSES = list(range(NUM_DIGITS))


@dataclass
class TestReport:
    probabilities: np.ndarray  # (N, outputs) float32, calibrated; output 10, if any, is "not a digit"
    predictions: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N,) int64
    loss: float
    accuracy: float
    confusion: np.ndarray  # (10, 10), rows are true labels, columns predictions
    per_class: dict[str, dict[str, float]]  # "0".."9" -> precision, recall, f1, support

    @property
    def misclassified(self) -> np.ndarray:
        return np.flatnonzero(self.predictions != self.labels)

    @property
    def confidence(self) -> np.ndarray:
        """The calibrated probability of each prediction: the confidence the app shows."""
        return self.probabilities[np.arange(len(self.predictions)), self.predictions]

    def summary(self) -> str:
        return f"{100 * self.accuracy:.2f}% ({len(self.misclassified)} errors / {len(self.labels)})"


def evaluate_test_set(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 1.0,
) -> TestReport:
    """Predict every test image once and compute the metrics the bundle records.

    Probabilities are calibrated with ``temperature``; a prediction is the best of the ten digits.
    """
    logits = predict_logits(model, images) / temperature
    loss = F.cross_entropy(logits, labels).item()
    probabilities = logits.softmax(1).numpy().astype(np.float32)
    predictions = digit_predictions(logits).numpy()
    y = labels.numpy()
    precision, recall, f1, support = precision_recall_fscore_support(y, predictions, labels=CLASSES, zero_division=0)
    per_class = {
        str(c): dict(precision=float(precision[c]), recall=float(recall[c]), f1=float(f1[c]), support=int(support[c]))
        for c in CLASSES
    }
    return TestReport(
        probabilities=probabilities,
        predictions=predictions,
        labels=y,
        loss=loss,
        accuracy=float(accuracy_score(y, predictions)),
        confusion=confusion_matrix(y, predictions, labels=CLASSES),
        per_class=per_class,
    )


def build_sample_pack(
    images: torch.Tensor,
    report: TestReport,
    n_random: int = 1000,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """A fixed random ``n_random`` test images plus every misclassified one, for the app.

    Tensors only, so the pack saves as safetensors: ``images`` uint8 (M, 28, 28), ``labels``,
    ``predictions`` and ``test_index`` int64 (M,), ``probabilities`` float32 (M, 10).
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), size=min(n_random, len(images)), replace=False)
    index = np.union1d(chosen, report.misclassified)  # sorted, no duplicates
    return {
        "images": images[torch.from_numpy(index)].contiguous(),
        "labels": torch.from_numpy(report.labels[index]),
        "predictions": torch.from_numpy(report.predictions[index]),
        "probabilities": torch.from_numpy(report.probabilities[index]),
        "test_index": torch.from_numpy(index.astype(np.int64)),
    }
