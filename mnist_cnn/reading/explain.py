"""Why the model read a digit: Integrated Gradients (captum) on the 28x28 model input, drawn as an overlay.

Integrated Gradients attributes the difference between the digit's logit on the image and on a blank
field (the baseline: no ink) to the pixels. Positive attributions pushed the model towards the digit
(drawn red), negative ones away from it (blue). The attributions add up to that logit difference, which
``Explanation.delta`` reports as a check of the integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients
from scipy.ndimage import gaussian_filter
from torch import nn

from .predict import Prediction, Predictor

STEPS = 40  # integration steps: see benchmarks/explain.py for the time and the integration error
SCALE = 10  # the overlay is 280x280: each model pixel a 10x10 square
INK_GREY = 0.5  # the digit itself is drawn mid-grey under the colours...
INK_OPACITY = 0.5  # ... half opaque: light grey on white paper, lighter than the page in dark mode
BLUR_SIGMA = 1.0  # in model pixels
STRENGTH_PERCENTILE = 95
FOR_RGB, AGAINST_RGB = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])  # red, blue
WHY_TEXT = "Why **{digit}**: red pixels pushed the model towards {digit}, blue pixels away from it."
WHY_NOT_TEXT = "Why not **{digit}**: red pixels spoke for {digit}, blue pixels against it (the model read {read_as})."


@dataclass
class Explanation:
    digit: int
    attributions: np.ndarray  # 28x28: each pixel's share of the logit difference from a blank field
    delta: float  # how far the attributions' sum is from that difference (integration error)

    def overlay(self, field28: np.ndarray, transparent: bool = False) -> np.ndarray:
        return overlay(field28, self.attributions, transparent=transparent)


def explain(model: nn.Module, field28: np.ndarray, digit: int) -> Explanation:
    """Integrated Gradients of ``digit``'s logit for one 28x28 image in [0, 1] (white on black)."""
    if not 0 <= digit <= 9:
        raise ValueError(f"digit must be 0-9, got {digit}")
    model = model.eval()
    image = torch.from_numpy(np.ascontiguousarray(field28, dtype=np.float32)).view(1, 1, 28, 28)
    ig = IntegratedGradients(model)
    attributions, delta = ig.attribute(
        image,
        baselines=torch.zeros_like(image),
        target=digit,
        n_steps=STEPS,
        return_convergence_delta=True,
    )
    return Explanation(digit, attributions[0, 0].detach().numpy(), float(delta[0]))


def overlay(
    field28: np.ndarray,
    attributions: np.ndarray,
    scale: int = SCALE,
    transparent: bool = False,
) -> np.ndarray:
    """A uint8 picture: the digit in grey, red where pixels spoke for the digit, blue where they spoke against.

    RGB on white paper; with ``transparent``, RGBA whose paper is see-through, so that on a page it lies on
    the page's own background, light or dark. Colours are scaled to the 95th percentile of the attributions'
    size over the pixels that have any (a few extreme pixels would otherwise wash out the rest) and fade out
    where attributions are near zero, so the digit's shape stays visible.

    JavaScript twin: ``overlay in mnist_cnn/web/pad/browser/explain.mjs`` (with ``gaussianFilter`` and
    ``percentile``, scipy's and numpy's)."""
    # Pixel-level gradients alternate sign from one pixel to the next; a light blur shows the regions
    # that spoke for and against (it keeps the attributions' sum).
    attributions = gaussian_filter(attributions, BLUR_SIGMA, mode="constant")
    size = np.abs(attributions)
    strength = float(np.percentile(size[size > 0], STRENGTH_PERCENTILE)) if (size > 0).any() else 0.0
    relative = np.clip(attributions / strength, -1, 1) if strength > 0 else np.zeros_like(attributions)
    evidence = np.where(relative[:, :, None] > 0, FOR_RGB, AGAINST_RGB)
    # opacity |r|^1.5: on white, the same as a blue-white-red colour map at opacity sqrt(|r|), which lets
    # weaker evidence still show
    evidence_alpha = (np.abs(relative) ** 1.5)[:, :, None]
    ink_alpha = INK_OPACITY * np.clip(field28, 0, 1)[:, :, None]
    # the evidence over the ink, as one layer ("over" compositing)
    alpha = evidence_alpha + (1 - evidence_alpha) * ink_alpha
    colour = (evidence_alpha * evidence + (1 - evidence_alpha) * ink_alpha * INK_GREY) / np.maximum(alpha, 1e-12)
    picture = np.concatenate([colour, alpha], axis=2) if transparent else alpha * colour + (1 - alpha)
    big = np.kron(picture, np.ones((scale, scale, 1)))
    return (np.clip(big, 0, 1) * 255).round().astype(np.uint8)


def why(
    model: nn.Module,
    field28: np.ndarray,
    digit: int,
    read_as: int,
    transparent: bool = False,
) -> tuple[np.ndarray, str]:
    """The overlay for ``digit`` and one line saying what it shows (``read_as``: the model's reading);
    ``transparent``: see ``overlay``."""
    picture = explain(model, field28, digit).overlay(field28, transparent)
    return picture, (WHY_TEXT if digit == read_as else WHY_NOT_TEXT).format(digit=digit, read_as=read_as)


def explain_input(predictor: Predictor, image: Any, digit: int | None = None) -> tuple[np.ndarray | None, str]:
    """Read an image as ``predictor`` does and explain ``digit`` (default: the model's best guess).

    No overlay, and the reason, for an empty canvas or an unreadable image."""
    return explain_prediction(predictor.model, predictor(image), digit)


def explain_prediction(
    model: nn.Module,
    result: Prediction,
    digit: int | None = None,
    transparent: bool = False,
) -> tuple[np.ndarray | None, str]:
    """``explain_input`` for an image already read: no overlay, and the reason, when there is no digit."""
    if result.model_input is None:
        return None, f"**{result.message}**"
    best = int(np.argmax(result.probabilities))
    return why(model, result.model_input, best if digit is None else digit, best, transparent)
