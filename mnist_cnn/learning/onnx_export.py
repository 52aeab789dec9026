"""The model as ONNX: one self-contained ``model.onnx`` that the visitor's browser runs with onnxruntime-web.

It is exported with ``torch.onnx.export`` (the dynamo exporter), weights inside the file, the batch axis
dynamic, the input named ``image`` (``(N, 1, 28, 28)`` floats in [0, 1]) and the output ``logits``, then
every inner stage as an output of its own name (``conv1`` ... ``pool3``, ``mnist_cnn.reading.layers``):
the network view reads them from the same run as the answer. ``check_onnx`` runs the file with onnxruntime
and compares it with the torch model: the same predictions, logits within ``MAX_LOGIT_DIFFERENCE``, and
every stage within ``MAX_STAGE_DIFFERENCE`` of what torch's forward hooks see.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mnist_cnn.bundle import ONNX_FILE, SAMPLES_FILE, load_bundle_folder, load_sample_pack
from mnist_cnn.reading.layers import LOGITS, WithStages, stage_activations, stage_names

from .data import to_float

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = LOGITS
MAX_LOGIT_DIFFERENCE = 1e-4
MAX_STAGE_DIFFERENCE = 1e-4
CHECK_BATCH = 500


class OnnxCheckError(RuntimeError):
    """The ONNX file does not compute what the weights compute (or cannot be run at all)."""


@dataclass(frozen=True)
class OnnxCheck:
    images: int
    max_logit_difference: float
    same_predictions: bool
    stages: tuple[str, ...] = ()  # the inner stages the file gives, each checked against torch
    max_stage_difference: float = 0.0
    missing_stages: tuple[str, ...] = ()  # the model's stages the file lacks (a file from an older bundle)

    @property
    def passed(self) -> bool:
        logits = self.same_predictions and self.max_logit_difference <= MAX_LOGIT_DIFFERENCE
        return logits and self.max_stage_difference <= MAX_STAGE_DIFFERENCE

    @property
    def has_stages(self) -> bool:
        """The file gives every inner stage, for the network view."""
        return bool(self.stages) and not self.missing_stages

    def summary(self) -> str:
        same = "identical predictions" if self.same_predictions else "DIFFERENT predictions"
        text = f"{same} on {self.images} images, largest logit difference {self.max_logit_difference:.1e}"
        if self.stages:
            text += f", {len(self.stages)} stages within {self.max_stage_difference:.1e} of torch's hooks"
        if self.missing_stages:
            text += f", no {', '.join(self.missing_stages)} output"
        return text


def export_onnx(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model`` (on the CPU, in eval mode) to ``path`` as one ONNX file, its logits then every inner
    stage as outputs; return the path."""
    path = Path(path)
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    example = torch.rand(2, 1, 28, 28)
    torch.onnx.export(
        WithStages(model).eval(),
        (example,),
        str(path),
        dynamo=True,
        external_data=False,  # one file: the browser fetches it in one request
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME, *stage_names(model)],
        dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
        verbose=False,
    )
    log.info("Exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


@torch.inference_mode()
def check_onnx(path: str | os.PathLike, model: nn.Module, images: torch.Tensor) -> OnnxCheck:
    """Run ``path`` with onnxruntime on ``images`` (uint8 ``(N, 28, 28)``, or floats in [0, 1]) and compare
    it with ``model``."""
    import onnxruntime as ort  # imported here: only training and pushing need it, not the app

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for bad files
        raise OnnxCheckError(f"{path}: not a model onnxruntime can run ({str(err).splitlines()[0]}).") from err
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    given = {output.name for output in session.get_outputs()}
    names = [name for name in stage_names(model) if name in given]
    missing = tuple(name for name in stage_names(model) if name not in given)
    worst, worst_stage, same = 0.0, 0.0, True
    for start in range(0, len(images), CHECK_BATCH):
        batch = images[start : start + CHECK_BATCH]
        batch = (to_float(batch) if batch.dtype == torch.uint8 else batch.float()).reshape(-1, 1, 28, 28)
        expected = stage_activations(model, batch)
        try:
            got, *stages = session.run([OUTPUT_NAME, *names], {INPUT_NAME: batch.numpy()})
        except Exception as err:
            raise OnnxCheckError(f"{path}: onnxruntime could not run it ({str(err).splitlines()[0]}).") from err
        for name, value in zip([OUTPUT_NAME, *names], [got, *stages], strict=True):
            if value.shape != expected[name].shape:
                shape = tuple(expected[name].shape)
                raise OnnxCheckError(f"{path}: {name} of shape {value.shape}, the weights give {shape}.")
        logits = expected[OUTPUT_NAME].numpy()
        worst = max(worst, float(np.abs(got - logits).max()))
        for name, value in zip(names, stages, strict=True):
            worst_stage = max(worst_stage, float(np.abs(value - expected[name].numpy()).max()))
        same = same and bool((got.argmax(axis=1) == logits.argmax(axis=1)).all())
    return OnnxCheck(len(images), worst, same, tuple(names), worst_stage, missing)


def export_checked(model: nn.Module, path: str | os.PathLike, images: torch.Tensor) -> OnnxCheck:
    """Export ``model`` to ``path`` and check the file on ``images``; OnnxCheckError if they disagree (the
    file is then removed)."""
    path = Path(path)
    export_onnx(model, path)
    result = check_onnx(path, model, images)
    if not result.passed or not result.has_stages:
        path.unlink(missing_ok=True)
        raise OnnxCheckError(f"The exported {path.name} disagrees with the weights: {result.summary()}.")
    return result


def export_bundle(folder: Path, path: str | os.PathLike) -> OnnxCheck:
    """Export a bundle folder's weights to ``path``, checked on the bundle's test samples (for a bundle
    written before bundles held ``model.onnx``). Raises BundleLoadError, OnnxCheckError, OSError or
    ValueError when it cannot."""
    bundle = load_bundle_folder(folder)
    return export_checked(bundle.model, path, load_sample_pack(folder / SAMPLES_FILE)["images"])


def exported_copy(folder: Path) -> Path:
    """``export_bundle`` into a new temporary folder (the caller removes it): the bundle is left as it is."""
    copy = Path(tempfile.mkdtemp(prefix="mnist-onnx-")) / ONNX_FILE
    export_bundle(folder, copy)
    return copy
