"""Predict digits from drawings and image files: sketch preprocessing, then the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_cnn.bundle import CALIBRATION_THRESHOLDS, LoadedBundle
from mnist_cnn.classes import NOT_A_DIGIT_LABEL, NUM_DIGITS

from .sketch import SketchError, sketch_to_mnist

ABSTAIN_BELOW = 0.5  # below this top probability the answer is "not sure", not a made-up digit
EMPTY_MESSAGE = "Draw a digit"
UNSURE_MESSAGE = "Not sure this is a digit"


@dataclass(frozen=True)
class AnswerRule:
    """How calibrated probabilities become an answer, keeping two questions apart: is it a digit at all,
    and which one. The thresholds are chosen on the dev folders and stored in ``calibration.json``; a
    bundle that stores only ``abstain_below`` gets the rule it was made with (a digit, or "not sure")."""

    abstain_below: float = ABSTAIN_BELOW  # the best digit below this: "not sure" (the older, one-question rule)
    not_a_digit_above: float = 1.0  # P("not a digit") above this: not a digit (1: never)
    digits_below: float = 0.0  # the two best digits together below this: not a digit either
    alternative_below: float = 0.0  # a digit whose probability is below this is named with its runner-up

    @classmethod
    def from_calibration(cls, calibration: dict[str, Any] | None) -> AnswerRule:
        calibration = calibration or {}
        return cls(**{key: float(calibration[key]) for key in CALIBRATION_THRESHOLDS if key in calibration})

    def answer(self, probs: np.ndarray) -> tuple[int | None, int | None]:
        """``(digit, alternative)`` from the calibrated probabilities of every output (digits 0-9 first):
        ``(None, None)`` for "not a digit"; an ``alternative`` only when two digits compete.

        JavaScript twin: ``answer in mnist_cnn/web/pad/browser/answer.mjs``.
        """
        digits = probs[:NUM_DIGITS]
        best, second = (int(i) for i in np.argsort(-digits, kind="stable")[:2])
        if (
            digits[best] < self.abstain_below
            or float(probs[NUM_DIGITS:].sum()) > self.not_a_digit_above
            or digits[best] + digits[second] < self.digits_below
        ):
            return None, None
        return best, (second if digits[best] < self.alternative_below else None)

    def describe(self) -> str:
        """The rule in a sentence or two, for the model card and the Model tab."""
        refusals = []
        if self.abstain_below > 0:
            refusals.append(f"the best digit is below {100 * self.abstain_below:.0f}%")
        if self.not_a_digit_above < 1:
            refusals.append(f'"not a digit" is above {100 * self.not_a_digit_above:.0f}%')
        if self.digits_below > 0:
            refusals.append(f"the two best digits together are below {100 * self.digits_below:.0f}%")
        text = f'"{UNSURE_MESSAGE}" when {", or ".join(refusals)}.' if refusals else "A digit is always named."
        if self.alternative_below > 0:
            text += (
                f" When the best digit is below {100 * self.alternative_below:.0f}%, the runner-up is named too "
                '("4, or maybe 9").'
            )
        return text


@dataclass
class Prediction:
    digit: int | None  # None when the canvas is empty, the input unreadable, or the model unsure
    confidence: float
    probabilities: list[float] = field(default_factory=lambda: [0.0] * 10)  # calibrated, digits 0-9
    not_a_digit: float = 0.0  # calibrated probability of the "not a digit" output (0 for a 10-class model)
    model_input: np.ndarray | None = None  # the 28x28 image the model saw
    message: str = ""  # why there is no digit
    error: str | None = None  # set when the input could not be read as an image at all
    alternative: int | None = None  # the runner-up, named when it competes with ``digit``

    def status_markdown(self) -> str:
        """One line for people: the digit and how sure (with its runner-up when two compete), or why there
        is none.

        JavaScript twin: ``statusMarkdown in mnist_cnn/web/pad/browser/answer.mjs``.
        """
        if self.digit is not None and self.alternative is not None:
            runner_up = self.probabilities[self.alternative]
            return (
                f"**{self.digit}**, or maybe {self.alternative} ({100 * self.confidence:.0f}% / {100 * runner_up:.0f}%)"
            )
        if self.digit is not None:
            return f"**{self.digit}** ({100 * self.confidence:.0f}% sure)"
        if self.model_input is None:
            return f"**{self.message}**"
        best = int(np.argmax(self.probabilities))
        return f"**{self.message}** (best guess {best}, {100 * self.confidence:.0f}%)"

    def label_confidences(self) -> dict[str, float]:
        """``{"0": p0, ..., "not a digit": p}``, the form gr.Label takes.

        JavaScript twin: ``labelValue in mnist_cnn/web/pad/browser/answer.mjs, with gr.Label's top 3``.
        """
        confidences = {str(d): p for d, p in enumerate(self.probabilities)}
        if self.not_a_digit > 0:
            confidences[NOT_A_DIGIT_LABEL] = self.not_a_digit
        return confidences


class Predictor:
    """Preprocess and classify one image at a time, for interactive use.

    ``temperature`` divides the logits before the softmax (temperature scaling, fitted on the
    validation split by train.py) so that the confidence shown is a calibrated probability.
    """

    def __init__(
        self,
        model: nn.Module,
        temperature: float = 1.0,
        abstain_below: float = ABSTAIN_BELOW,
        rule: AnswerRule | None = None,
    ):
        """``rule``: the whole answer rule; without it, "not sure" below ``abstain_below`` alone."""
        rule = rule or AnswerRule(abstain_below=abstain_below)
        thresholds = [getattr(rule, key) for key in CALIBRATION_THRESHOLDS]
        if not (temperature > 0 and all(0 <= t <= 1 for t in thresholds)):
            raise ValueError(f"need temperature > 0 and thresholds in [0, 1], got {temperature}, {rule}")
        # channels_last runs these convolutions ~20% faster on one CPU thread, even for a single image
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.temperature = float(temperature)
        self.rule = rule

    @property
    def abstain_below(self) -> float:
        return self.rule.abstain_below

    @classmethod
    def from_bundle(cls, bundle: LoadedBundle) -> Predictor:
        """A predictor with the bundle's stored calibration and answer rule (temperature 1 and the default
        threshold without)."""
        calibration = bundle.calibration or {}
        return cls(bundle.model, calibration.get("temperature", 1.0), rule=AnswerRule.from_calibration(calibration))

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities from logits ``(N, classes)``.

        JavaScript twin: ``calibrated in mnist_cnn/web/pad/browser/answer.mjs``.
        """
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
        """The answer for one 28x28 image from its calibrated probabilities: the digit (and its runner-up
        when two compete), or "not sure this is a digit"."""
        top = int(probs[:NUM_DIGITS].argmax())
        digit, alternative = self.rule.answer(probs)
        return Prediction(
            digit=digit,
            confidence=float(probs[top]),
            probabilities=[float(p) for p in probs[:NUM_DIGITS]],
            not_a_digit=float(probs[NUM_DIGITS:].sum()),
            model_input=field28,
            message="" if digit is not None else UNSURE_MESSAGE,
            alternative=alternative,
        )
