"""The CNN. Input: raw intensities in [0, 1], white digit on black, as in MNIST."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class MnistCNN(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="pytorch",
    pipeline_tag="image-classification",
    license="mit",
    tags=["mnist", "image-classification", "cnn"],
):
    """A VGG-style CNN: three stages of 3x3 conv + BatchNorm + ReLU, each ending in a 2x2 max-pool.

    ``forward`` takes ``(N, 1, 28, 28)`` floats in [0, 1] and returns logits ``(N, 10)``; the MNIST
    normalization happens inside, so callers never need the mean and std.
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128), dropout: float = 0.25, num_classes: int = 10):
        super().__init__()
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            *conv_bn_relu(1, c1),
            nn.MaxPool2d(2),  # 14x14
            *conv_bn_relu(c1, c2),
            *conv_bn_relu(c2, c2),
            nn.MaxPool2d(2),  # 7x7
            *conv_bn_relu(c2, c3),
            *conv_bn_relu(c3, c3),
            nn.MaxPool2d(2),  # 3x3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c3 * 3 * 3, num_classes))
        self.register_buffer("mean", torch.tensor(MNIST_MEAN), persistent=False)
        self.register_buffer("std", torch.tensor(MNIST_STD), persistent=False)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features((x - self.mean) / self.std))

    @classmethod
    def _load_as_pickle(cls, model, model_file, map_location, strict):
        # Security: weights come from model.safetensors only; a pickled checkpoint is never opened.
        raise OSError(f"{model_file} is a pickle checkpoint; MnistCNN loads only model.safetensors.")
