"""Dataset examples (Olah et al., "Feature Visualization", Distill 2017): for every channel of every inner
stage, the test images that excite it most, which the network view shows when a map is opened.

A channel's strength on an image is the mean of its map, the "channel" objective of that article: its
largest value would tie on every image for the many channels that answer the blank paper around a digit.
``strongest_examples`` runs the whole test set through the model once, keeping each channel's
``EXAMPLES_PER_CHANNEL`` strongest images. ``write_dataset_examples`` stores them in the bundle as two
files, fetched by the page only when a map is opened:
- ``dataset_examples.png``: every image chosen, once, in a grid of ``ATLAS_COLUMNS`` (white on black, as MNIST);
- ``dataset_examples.json``: for each stage and channel, the images' places in the grid and their strengths;
  each image's label and test-set index; and the first convolution's 3x3 kernels, drawn beside its maps.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from mnist_cnn.bundle import EXAMPLES_IMAGE_FILE, EXAMPLES_JSON_FILE
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.layers import INPUT_STAGE, LOGITS, stage_activations

from .data import to_float

log = logging.getLogger(__name__)

EXAMPLES_PER_CHANNEL = 9
ATLAS_COLUMNS = 64
BATCH = 500


@dataclass(frozen=True)
class ChannelExamples:
    """One stage's strongest images: ``indices[c]`` and ``strengths[c]``, strongest first, for channel c."""

    indices: np.ndarray  # (channels, k) indices into the images
    strengths: np.ndarray  # (channels, k) the mean of the channel's map for each image


@torch.inference_mode()
def strongest_examples(
    model: MnistCNN, images: torch.Tensor, k: int = EXAMPLES_PER_CHANNEL, progress: bool = False
) -> dict[str, ChannelExamples]:
    """For every inner stage and channel, the ``k`` images (uint8 ``(N, 28, 28)``) with the largest mean of
    the channel's map. Ties go to the earlier image."""
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    best: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for start in tqdm(range(0, len(images), BATCH), desc="dataset examples", disable=not progress):
        batch = to_float(images[start : start + BATCH]).reshape(-1, 1, 28, 28)
        for name, value in stage_activations(model, batch).items():
            if name in (INPUT_STAGE, LOGITS):
                continue
            peaks = value.mean(dim=(2, 3)).T  # (channels, batch)
            indices = torch.arange(start, start + len(batch)).expand_as(peaks)
            if name in best:  # the strongest so far first: on a tie the earlier image stays ahead
                peaks = torch.cat([best[name][0], peaks], dim=1)
                indices = torch.cat([best[name][1], indices], dim=1)
            order = torch.sort(peaks, dim=1, descending=True, stable=True).indices[:, :k]
            best[name] = (peaks.gather(1, order), indices.gather(1, order))
    return {name: ChannelExamples(idx.numpy(), peaks.numpy()) for name, (peaks, idx) in best.items()}


def write_dataset_examples(
    folder: Path, model: MnistCNN, images: torch.Tensor, labels: torch.Tensor, progress: bool = False
) -> dict[str, ChannelExamples]:
    """Write ``dataset_examples.json`` and ``.png`` into ``folder`` for ``model`` over the test set
    (``images`` uint8 ``(N, 28, 28)``, ``labels``); return the examples."""
    examples = strongest_examples(model, images, progress=progress)
    chosen = np.unique(np.concatenate([found.indices.ravel() for found in examples.values()]))
    slot = {int(index): n for n, index in enumerate(chosen)}
    rows = -(-len(chosen) // ATLAS_COLUMNS)
    atlas = np.zeros((rows * 28, ATLAS_COLUMNS * 28), dtype=np.uint8)
    for n, index in enumerate(chosen):
        row, column = divmod(n, ATLAS_COLUMNS)
        atlas[row * 28 : (row + 1) * 28, column * 28 : (column + 1) * 28] = images[index].numpy()
    Image.fromarray(atlas, mode="L").save(folder / EXAMPLES_IMAGE_FILE, optimize=True)
    kernels = model.features[0].weight.detach().cpu().numpy()[:, 0]  # (channels, 3, 3)
    data = {
        "source": f"the MNIST test set ({len(images)} images)",
        "per_channel": EXAMPLES_PER_CHANNEL,
        "atlas": {"file": EXAMPLES_IMAGE_FILE, "columns": ATLAS_COLUMNS, "side": 28, "count": len(chosen)},
        "labels": [int(labels[index]) for index in chosen],
        "test_index": [int(index) for index in chosen],
        "stages": {
            name: {
                "slots": [[slot[int(index)] for index in row] for row in found.indices],
                "strengths": np.round(found.strengths, 4).tolist(),
            }
            for name, found in examples.items()
        },
        "kernels": {"conv1": np.round(kernels, 5).tolist()},
    }
    (folder / EXAMPLES_JSON_FILE).write_text(json.dumps(data, separators=(",", ":")))
    size = sum((folder / name).stat().st_size for name in (EXAMPLES_IMAGE_FILE, EXAMPLES_JSON_FILE))
    channels = sum(len(found.indices) for found in examples.values())
    log.info("Dataset examples: %d test images for %d channels, %.2f MB", len(chosen), channels, size / 1e6)
    return examples
