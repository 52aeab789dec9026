"""Predict digits from drawings and image files: sketch preprocessing, then the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .bundle import LoadedBundle
from .sketch import SketchError, sketch_to_mnist

ABSTAIN_BELOW = 0.5  # below this top probability the answer is "not sure", not a made-up digit
NOT_A_DIGIT_LABEL = "not a digit"  # the 11th output of a model trained with generated non-digits
EMPTY_MESSAGE = "Draw a digit"
UNSURE_MESSAGE = "Not sure this is a digit"


@dataclass
class Prediction:
    digit: int | None  # None when the canvas is empty, the input unreadable, or the model unsure
    confidence: float
    probabilities: list[float] = field(default_factory=lambda: [0.0] * 10)  # calibrated, digits 0-9
    not_a_digit: float = 0.0  # calibrated probability of the "not a digit" output (0 for a 10-class model)
    model_input: np.ndarray | None = None  # the 28x28 image the model saw
    message: str = ""  # why there is no digit
    error: str | None = None  # set when the input could not be read as an image at all

    def status_markdown(self) -> str:
        """One line for people: the digit and how sure, or why there is none."""
        if self.digit is not None:
            return f"**{self.digit}** ({100 * self.confidence:.0f}% sure)"
        if self.model_input is None:
            return f"**{self.message}**"
        best = int(np.argmax(self.probabilities))
        return f"**{self.message}** (best guess {best}, {100 * self.confidence:.0f}%)"

    def label_confidences(self) -> dict[str, float]:
        """``{"0": p0, ..., "not a digit": p}``, the form gr.Label takes."""
        confidences = {str(d): p for d, p in enumerate(self.probabilities)}
        if self.not_a_digit > 0:
            confidences[NOT_A_DIGIT_LABEL] = self.not_a_digit
        return confidences


class Predictor:
    """Preprocess and classify one image at a time, for interactive use.

    ``temperature`` divides the logits before the softmax (temperature scaling, fitted on the
    validation split by train.py) so that the confidence shown is a calibrated probability.
    """

    def __init__(self, model: nn.Module, temperature: float = 1.0, abstain_below: float = ABSTAIN_BELOW):
        if not (temperature > 0 and 0 <= abstain_below <= 1):
            raise ValueError(f"need temperature > 0 and abstain_below in [0, 1], got {temperature}, {abstain_below}")
        # channels_last runs these convolutions ~20% faster on one CPU thread, even for a single image
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.temperature = float(temperature)
        self.abstain_below = float(abstain_below)

    @classmethod
    def from_bundle(cls, bundle: LoadedBundle) -> Predictor:
        """A predictor with the bundle's stored calibration (temperature 1 and the default threshold without)."""
        calibration = bundle.calibration or {}
        return cls(bundle.model, calibration.get("temperature", 1.0), calibration.get("abstain_below", ABSTAIN_BELOW))

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities from logits ``(N, classes)``."""
        return (logits / self.temperature).softmax(dim=1)

    @torch.inference_mode()
    def probabilities(self, field28: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of every output (10 digits, then "not a digit" if the model has it)."""
        return self.calibrated(self.model(torch.from_numpy(field28).view(1, 1, 28, 28)))[0].numpy()

    @torch.inference_mode()
    def probabilities_batch(self, fields: list[np.ndarray]) -> np.ndarray:
        """``probabilities`` of several 28x28 images in one batch: ``(N, outputs)``."""
        batch = torch.from_numpy(np.stack(fields)).view(len(fields), 1, 28, 28)
        return self.calibrated(self.model(batch)).numpy()

    def __call__(self, image: Any) -> Prediction:
        try:
            field28 = sketch_to_mnist(image)
        except SketchError as err:
            return Prediction(digit=None, confidence=0.0, message=str(err), error=str(err))
        if field28 is None:
            return Prediction(digit=None, confidence=0.0, message=EMPTY_MESSAGE)
        return self.prediction(field28, self.probabilities(field28))

    def prediction(self, field28: np.ndarray, probs: np.ndarray) -> Prediction:
        """The answer for one 28x28 image from its calibrated probabilities: the digit, or "not sure"."""
        top = int(probs[:10].argmax())
        confidence = float(probs[top])
        sure = confidence >= self.abstain_below
        return Prediction(
            digit=top if sure else None,
            confidence=confidence,
            probabilities=[float(p) for p in probs[:10]],
            not_a_digit=float(probs[10:].sum()),
            model_input=field28,
            message="" if sure else UNSURE_MESSAGE,
        )
