"""Integrated Gradients as one ONNX graph (``explain.onnx``), so that the visitor's browser can explain.

``torch.onnx`` cannot export autograd, and captum's Integrated Gradients cannot be exported either. This
network's backward pass is ordinary forward operations, though, and is written out here:
- each convolution and its BatchNorm run as PyTorch runs them in eval mode (the convolution, then a scale and
  a shift per channel), so that the ReLU masks and the max-pools' choices are the model's own, bit for bit;
  the backward pass uses the two folded into one convolution;
- a ReLU passes the gradient where its input was positive (the mask of the forward pass);
- a 2x2 max-pool passes it to the first largest pixel of each window, as PyTorch's max-pool does; the rows
  and columns a pool drops (7 -> 3) get none;
- a convolution's gradient is the transposed convolution with the same weights, computed as a convolution
  with the kernels flipped and their channels swapped (onnxruntime's convolutions are faster than its
  transposed ones);
- the linear layer's is its weight row for the target (no bias, no dropout: the model in eval mode).

The graph takes the image ``(1, 1, 28, 28)``, the ``target`` digit ``(1,)`` int64 and the quadrature
``alphas`` and ``step_weights`` ``(steps,)``, and returns the ``attributions`` ``(1, 1, 28, 28)``: what
``explain.explain`` computes with captum (baseline: a blank field; captum's default Gauss-Legendre rule).
The browser draws them with ``explain.mjs``, the twin of ``explain.overlay``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn.bundle import EXPLAIN_ONNX_FILE
from mnist_cnn.model import MnistCNN

from .explain import STEPS, explain, overlay

log = logging.getLogger(__name__)

INPUT_NAMES = ("image", "target", "alphas", "step_weights")
OUTPUT_NAME = "attributions"
# The graph's attributions are captum's up to rounding, but not bit for bit: PyTorch's BatchNorm kernel fuses
# its multiply and add, and onnxruntime's convolutions round differently, so a pre-activation within rounding
# of zero can flip a ReLU's mask at one step, or a max-pool's near-tie go the other way. What a visitor sees
# must not change: the overlays drawn from the two agree within OVERLAY_TOLERANCE on at least
# MIN_OVERLAY_SHARE of their pixels, for every image checked.
OVERLAY_TOLERANCE = 2  # of 255
MIN_OVERLAY_SHARE = 0.99


def quadrature(steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Captum's Gauss-Legendre points on [0, 1] and their weights (``approximation_methods``), float32."""
    points, weights = np.polynomial.legendre.leggauss(steps)
    return (0.5 * (1 + points)).astype(np.float32), (0.5 * weights).astype(np.float32)


class IntegratedGradientsGraph(nn.Module):
    """``MnistCNN``'s Integrated Gradients as forward operations (see the module's docstring)."""

    def __init__(self, model: MnistCNN):
        super().__init__()
        model = model.eval().cpu()
        self.plan: list[str] = []  # "conv" and "pool", in the order of model.features
        self.conv_weights = nn.ParameterList()  # the convolutions' own, for the forward pass
        self.norm_scales = nn.ParameterList()  # BatchNorm in eval mode: x * scale + shift, per channel
        self.norm_shifts = nn.ParameterList()
        self.folded_weights = nn.ParameterList()  # the two as one, for the backward pass
        layers = list(model.features)
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.Conv2d):
                norm = layers[i + 1]
                assert layer.bias is None, "MnistCNN's convolutions have no bias (BatchNorm follows)"
                scale = 1 / torch.sqrt(norm.running_var + norm.eps) * norm.weight  # as aten's batch_norm does
                shift = norm.bias - norm.running_mean * scale
                for params, value in (
                    (self.conv_weights, layer.weight),
                    (self.norm_scales, scale.view(1, -1, 1, 1)),
                    (self.norm_shifts, shift.view(1, -1, 1, 1)),
                    (self.folded_weights, layer.weight * scale[:, None, None, None]),
                ):
                    params.append(nn.Parameter(value.detach().clone(), requires_grad=False))
                self.plan.append("conv")
            elif isinstance(layer, nn.MaxPool2d):
                self.plan.append("pool")
        linear = model.classifier[-1]
        self.linear_weight = nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
        self.register_buffer("mean", model.mean.clone())
        self.register_buffer("std", model.std.clone())

    def forward(
        self,
        image: torch.Tensor,
        target: torch.Tensor,
        alphas: torch.Tensor,
        step_weights: torch.Tensor,
    ) -> torch.Tensor:
        hidden = (alphas.view(-1, 1, 1, 1) * image - self.mean) / self.std  # every step's input, normalised
        saved: list[tuple[str, object]] = []
        convs = iter(zip(self.conv_weights, self.norm_scales, self.norm_shifts, self.folded_weights, strict=True))
        for step in self.plan:
            if step == "conv":
                weight, scale, shift, folded = next(convs)
                hidden = F.conv2d(hidden, weight, padding=1) * scale + shift
                positive = (hidden > 0).to(hidden.dtype)
                saved.append(("conv", (folded, positive)))
                hidden = hidden * positive
            else:
                hidden, choice = _pool_forward(hidden)
                saved.append(("pool", choice))
        grad = torch.index_select(self.linear_weight, 0, target)  # (1, features): the same at every step
        grad = grad.expand(hidden.shape[0], -1).reshape(hidden.shape)
        for kind, value in reversed(saved):
            if kind == "conv":
                weight, positive = value
                # conv_transpose2d(grad, weight, padding=1), as a convolution
                grad = F.conv2d(grad * positive, weight.transpose(0, 1).flip(2, 3), padding=1)
            else:
                grad = _pool_backward(grad, value)
        grad = grad / self.std
        return image * (step_weights.view(-1, 1, 1, 1) * grad).sum(dim=0, keepdim=True)


def _pool_forward(hidden: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """A 2x2 max-pool (stride 2, odd rows and columns dropped) and, for its backward, which pixel of each
    window was taken: the first largest in the order top-left, top-right, bottom-left, bottom-right."""
    height, width = hidden.shape[-2] // 2 * 2, hidden.shape[-1] // 2 * 2
    corners = [hidden[..., row:height:2, column:width:2] for row in (0, 1) for column in (0, 1)]
    largest = torch.maximum(torch.maximum(corners[0], corners[1]), torch.maximum(corners[2], corners[3]))
    taken = []
    free = torch.ones_like(largest, dtype=torch.bool)
    for corner in corners[:3]:
        chosen = (corner == largest) & free
        taken.append(chosen)
        free = free & ~chosen
    taken.append(free)
    return largest, (taken, hidden.shape[-2] - height, hidden.shape[-1] - width)


def _pool_backward(grad: torch.Tensor, choice: tuple) -> torch.Tensor:
    """The pool's gradient: each window's gradient to the pixel taken, the dropped rows and columns none."""
    taken, extra_rows, extra_columns = choice
    zero = torch.zeros_like(grad)
    a, b, c, d = (torch.where(mask, grad, zero) for mask in taken)
    n, channels, rows, columns = grad.shape
    top = torch.stack([a, b], dim=-1).reshape(n, channels, rows, 2 * columns)
    bottom = torch.stack([c, d], dim=-1).reshape(n, channels, rows, 2 * columns)
    full = torch.stack([top, bottom], dim=-2).reshape(n, channels, 2 * rows, 2 * columns)
    return F.pad(full, (0, extra_columns, 0, extra_rows)) if extra_rows or extra_columns else full


def graph_inputs(field28: np.ndarray, digit: int, steps: int = STEPS) -> dict[str, np.ndarray]:
    """The graph's inputs for one 28x28 field in [0, 1] and a digit, as onnxruntime takes them."""
    alphas, weights = quadrature(steps)
    return {
        "image": np.ascontiguousarray(field28, dtype=np.float32).reshape(1, 1, 28, 28),
        "target": np.array([digit], dtype=np.int64),
        "alphas": alphas,
        "step_weights": weights,
    }


def export_explain_graph(model: MnistCNN, path: str | os.PathLike) -> Path:
    """Write ``model``'s Integrated Gradients graph to ``path`` (one ONNX file, the steps axis dynamic)."""
    path = Path(path)
    graph = IntegratedGradientsGraph(model).eval()
    example = {name: torch.from_numpy(value) for name, value in graph_inputs(np.zeros((28, 28)), 0).items()}
    steps = torch.export.Dim("steps")
    torch.onnx.export(
        graph,
        tuple(example.values()),
        str(path),
        dynamo=True,
        external_data=False,
        input_names=list(INPUT_NAMES),
        output_names=[OUTPUT_NAME],
        dynamic_shapes={"image": None, "target": None, "alphas": {0: steps}, "step_weights": {0: steps}},
        verbose=False,
    )
    log.info("Exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


class ExplainGraphError(RuntimeError):
    """The explanation graph does not compute what captum computes with the weights (or cannot run)."""


@dataclass(frozen=True)
class ExplainGraphCheck:
    images: int
    max_relative_difference: float  # largest |graph - captum| over the attributions' largest size
    worst_overlay_share: float  # the lowest share of overlay pixels within OVERLAY_TOLERANCE, over the images

    @property
    def passed(self) -> bool:
        return self.worst_overlay_share >= MIN_OVERLAY_SHARE

    def summary(self) -> str:
        return (
            f"{self.images} images: overlays within {OVERLAY_TOLERANCE}/255 of captum's on at least "
            f"{100 * self.worst_overlay_share:.2f}% of their pixels ({100 * MIN_OVERLAY_SHARE:.0f}% needed); "
            f"attributions within {self.max_relative_difference:.1e} of captum's, relative to their largest size"
        )


def overlay_share(field28: np.ndarray, attributions: np.ndarray, expected: np.ndarray) -> float:
    """The share of the overlay's pixels (all four channels) within OVERLAY_TOLERANCE of ``expected``'s."""
    got = overlay(field28, attributions, transparent=True).astype(int)
    want = overlay(field28, expected, transparent=True).astype(int)
    return float((np.abs(got - want) <= OVERLAY_TOLERANCE).all(axis=2).mean())


def check_explain_graph(path: str | os.PathLike, model: MnistCNN, fields: np.ndarray) -> ExplainGraphCheck:
    """Run ``path`` with onnxruntime on ``fields`` (``(N, 28, 28)`` in [0, 1]), each for its best guess and
    another digit, and compare with captum's Integrated Gradients of ``model``."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for bad files
        raise ExplainGraphError(f"{path}: not a graph onnxruntime can run ({str(err).splitlines()[0]}).") from err
    worst, worst_share = 0.0, 1.0
    model = model.eval().cpu()
    for n, field28 in enumerate(fields):
        with torch.no_grad():
            best = int(model(torch.from_numpy(field28.astype(np.float32)).view(1, 1, 28, 28))[0, :10].argmax())
        for digit in (best, (best + 1 + n) % 10):
            expected = explain(model, field28, digit).attributions
            try:
                (got,) = session.run([OUTPUT_NAME], graph_inputs(field28, digit))
            except Exception as err:
                raise ExplainGraphError(f"{path}: onnxruntime could not run it ({str(err).splitlines()[0]}).") from err
            scale = max(float(np.abs(expected).max()), 1e-6)
            worst = max(worst, float(np.abs(got[0, 0] - expected).max()) / scale)
            worst_share = min(worst_share, overlay_share(field28, got[0, 0], expected))
            if worst_share < MIN_OVERLAY_SHARE:  # failed: the rest would not change that
                return ExplainGraphCheck(n + 1, worst, worst_share)
    return ExplainGraphCheck(len(fields), worst, worst_share)


def export_checked_graph(model: MnistCNN, path: str | os.PathLike, fields: np.ndarray) -> ExplainGraphCheck:
    """Export the graph to ``path`` and check it on ``fields``; ExplainGraphError (and no file) if it
    disagrees with captum."""
    path = Path(path)
    export_explain_graph(model, path)
    result = check_explain_graph(path, model, fields)
    if not result.passed:
        path.unlink(missing_ok=True)
        raise ExplainGraphError(f"The exported {path.name} disagrees with the weights: {result.summary()}.")
    return result


def exported_graph_copy(model: MnistCNN, fields: np.ndarray) -> Path:
    """The graph of a bundle that has none (written before bundles held it), checked, in a new temporary
    folder (the caller keeps or removes it); the bundle is left as it is."""
    path = Path(tempfile.mkdtemp(prefix="mnist-explain-")) / EXPLAIN_ONNX_FILE
    export_checked_graph(model, path, fields)
    return path
