"""The network's stages, as the Draw tab's network view shows them: the 28x28 input, each convolution
block's output after its ReLU (``conv1`` ... ``conv5``), each max-pool (``pool1`` ... ``pool3``, the last
one the final 3x3 maps), then the outputs.

The names come from the model's own ``features``, in order, so a model with other channels gets the same
view. ``stage_activations`` reads them with forward hooks (the checks' reference); ``WithStages`` returns
them beside the logits, for ``model.onnx`` (``mnist_cnn.learning.onnx_export``), where each is an output of
the same name, and for the server (``stages_of``).
``encode_stages`` packs them for the page when the server reads the drawing (the view's fallback): its twin
in JavaScript is ``decodeStages`` in ``browser/network_data.mjs``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from mnist_cnn.model import MnistCNN

INPUT_STAGE = "input"
LOGITS = "logits"
ENCODED_LEVELS = 255  # the fallback sends each stage as bytes, 0..255 over the stage's largest value


def stage_modules(model: MnistCNN) -> Iterator[tuple[str, nn.Module]]:
    """Each shown stage's name and the module whose output it is, in the order the network runs them."""
    convs = pools = 0
    for module in model.features:
        if isinstance(module, nn.ReLU):
            convs += 1
            yield f"conv{convs}", module
        elif isinstance(module, nn.MaxPool2d):
            pools += 1
            yield f"pool{pools}", module


def stage_names(model: MnistCNN) -> list[str]:
    """The inner stages' names (the input and the outputs are not among them)."""
    return [name for name, _ in stage_modules(model)]


def stage_shapes(model: MnistCNN, side: int = 28) -> dict[str, list[int]]:
    """Every stage's shape for one image, the input and the outputs included: ``[channels, height, width]``
    (``[outputs]`` for the outputs)."""
    with torch.inference_mode():
        stages = stage_activations(model.eval(), torch.zeros(1, 1, side, side))
    return {name: list(value.shape[1:]) for name, value in stages.items()}


@torch.inference_mode()
def stage_activations(model: MnistCNN, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every stage for ``images`` (``(N, 1, 28, 28)`` floats in [0, 1]), read with forward hooks: the input,
    each inner stage by name, then the logits."""
    captured: dict[str, torch.Tensor] = {}

    def keep(name: str):
        # clone: the ReLUs work in place, and a later layer must not change what was kept
        return lambda _module, _inputs, output: captured.__setitem__(name, output.detach().clone())

    handles = [module.register_forward_hook(keep(name)) for name, module in stage_modules(model)]
    try:
        logits = model(images)
    finally:
        for handle in handles:
            handle.remove()
    return {INPUT_STAGE: images.detach().clone(), **captured, LOGITS: logits}


class WithStages(nn.Module):
    """The model for export: its logits, then every inner stage, computed as ``MnistCNN.forward`` does."""

    def __init__(self, model: MnistCNN):
        super().__init__()
        self.model = model
        self.kept = {id(module) for _, module in stage_modules(model)}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        stages = []
        x = (x - self.model.mean) / self.model.std
        for module in self.model.features:
            x = module(x)
            if id(module) in self.kept:
                stages.append(x)
        return (self.model.classifier(x), *stages)


@torch.inference_mode()
def stages_of(model: MnistCNN, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """``stage_activations`` without hooks, through ``WithStages``: safe while other threads run the same
    model (a hook would see their images too). The app's server uses it."""
    logits, *stages = WithStages(model)(images)
    return {INPUT_STAGE: images, **dict(zip(stage_names(model), stages, strict=True)), LOGITS: logits}


def encode_stages(stages: dict[str, torch.Tensor | np.ndarray]) -> dict[str, dict]:
    """One image's stages for the page, small enough to send on pen-up: each as bytes (base64), 0..255 over
    its largest value, with that value and its shape. Every stage shown is at least 0 (the input, the
    ReLUs and their pools). The outputs are left out: the page has them."""
    encoded = {}
    for name, value in stages.items():
        if name == LOGITS:
            continue
        array = np.asarray(value, dtype=np.float32)
        array = array[0] if array.ndim == 4 else array
        largest = float(array.max()) if array.size else 0.0
        scale = largest if largest > 0 else 1.0
        levels = np.clip(np.rint(array / scale * ENCODED_LEVELS), 0, ENCODED_LEVELS).astype(np.uint8)
        encoded[name] = {
            "shape": list(array.shape),
            "scale": scale,
            "data": base64.b64encode(levels.tobytes()).decode("ascii"),
        }
    return encoded
