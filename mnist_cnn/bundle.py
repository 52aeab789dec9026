"""The model bundle: one folder with the weights, config, metrics, history, plots, samples and card.

It is what ``train.py`` writes, what gets pushed to the Hub and what the app loads. Weights are read
from safetensors only, with strict key checks: a pickle checkpoint is never opened.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file

from .model import MnistCNN

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
SAMPLES_FILE = "samples.safetensors"
CARD_FILE = "README.md"
ONNX_FILE = "model.onnx"  # the same weights for onnxruntime and the browser (mnist_cnn.learning.onnx_export)
EXPLAIN_ONNX_FILE = "explain.onnx"  # Integrated Gradients for the browser (mnist_cnn.reading.explain_graph)
# what excites each channel, for the network view (mnist_cnn.learning.dataset_examples)
EXAMPLES_JSON_FILE = "dataset_examples.json"
EXAMPLES_IMAGE_FILE = "dataset_examples.png"
CALIBRATION_FILE = "calibration.json"  # temperature and abstention threshold, fitted after training
RELIABILITY_PLOT = "reliability.png"
PLOT_FILES = (
    "loss_curves.png",
    "confusion_matrix.png",
    RELIABILITY_PLOT,
    "predictions.png",
    "misclassified.png",
    "samples.png",
)
LR_SWEEP_PLOT = "lr_sweep.png"
REQUIRED_FILES = (WEIGHTS_FILE, CONFIG_FILE, CALIBRATION_FILE, METRICS_FILE, HISTORY_FILE, SAMPLES_FILE, CARD_FILE)
REQUIRED_FILES += PLOT_FILES
MODEL_ARGUMENTS = ("channels", "dropout", "num_classes")
SHIPPED_BUNDLE = Path(__file__).resolve().parent / "pretrained"  # the model that ships with the app


class BundleLoadError(RuntimeError):
    """A bundle's weights or config could not be loaded; the message names the file."""


class BundleExistsError(FileExistsError):
    """The output folder already holds files and overwriting was not asked for."""


class BundleWriteError(OSError):
    """A bundle cannot be written where it was asked for: no such folder, no permission, or no room."""


BUNDLE_ROOM = 32 * 2**20  # a bundle is ~3-10 MB; it is staged beside the old one before replacing it


def check_room_for_bundle(folder: Path, room: int = BUNDLE_ROOM) -> None:
    """Write (then delete) ``room`` bytes where the bundle will be staged, before any training.

    A real write is the one test that catches every way this fails: a read-only or missing parent, a
    path through a file, a full disk, a quota.
    """
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent) as probe:
            block = b"\0" * 2**20
            for _ in range(room // len(block)):
                probe.write(block)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        raise BundleWriteError(
            f"Cannot write the bundle to {folder}: {err.strerror or err} "
            f"({room // 2**20} MB are needed in {parent}). Nothing was trained; choose another --out."
        ) from err


def check_writable(folder: Path, overwrite: bool) -> None:
    """Refuse, before any work is done, to replace a non-empty folder unless asked to."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not overwrite:
        raise BundleExistsError(
            f"{folder} already exists and is not empty. Choose another --out folder, or pass --overwrite to replace it."
        )


@contextmanager
def staged_bundle(folder: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; it replaces ``folder`` only if the block succeeds.

    A crash half-way through writing therefore never damages an existing bundle.
    """
    check_writable(folder, overwrite)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield staging
        # mkdtemp and safetensors create owner-only files; a bundle is meant to be shared
        staging.chmod(0o755)
        for path in staging.iterdir():
            path.chmod(0o644)
        if folder.exists():
            check_writable(folder, overwrite)  # it may have appeared while we trained
            backup = staging.with_name(staging.name + ".old")
            folder.rename(backup)
            staging.rename(folder)
            shutil.rmtree(backup)
        else:
            staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


CALIBRATION_THRESHOLDS = ("abstain_below", "not_a_digit_above", "digits_below", "alternative_below")


def read_calibration(path: Path) -> dict[str, float]:
    """``calibration.json``: a positive ``temperature``, an ``abstain_below`` in [0, 1], and optionally the
    other thresholds of the answer rule (``mnist_cnn.reading.predict.AnswerRule``), each in [0, 1]."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    values = {"temperature": data.get("temperature", 1.0), "abstain_below": data.get("abstain_below", 0.5)}
    values |= {key: data[key] for key in CALIBRATION_THRESHOLDS if key in data}
    valid = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values())
    if not (valid and values["temperature"] > 0 and all(0 <= values[k] <= 1 for k in values if k != "temperature")):
        raise ValueError(f"temperature must be > 0 and each threshold in [0, 1], got {values!r}")
    return {**data, **{key: float(value) for key, value in values.items()}}


def save_sample_pack(pack: dict[str, torch.Tensor], path: Path) -> None:
    save_file({name: tensor.contiguous() for name, tensor in pack.items()}, str(path))


SAMPLE_KEYS = ("images", "labels", "predictions", "probabilities")


def load_sample_pack(path: Path) -> dict[str, torch.Tensor]:
    """The test images the app shows; every tensor present and of one length (else ValueError)."""
    pack = load_file(str(path))
    missing = [key for key in SAMPLE_KEYS if key not in pack]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    if len({len(pack[key]) for key in SAMPLE_KEYS}) != 1 or pack["images"].shape[1:] != (28, 28):
        raise ValueError("tensors of different lengths or images that are not 28x28")
    return pack


# --- load ----------------------------------------------------------------------------------------


@dataclass
class LoadedBundle:
    """A model with the artifacts of its bundle, and where it came from."""

    model: MnistCNN
    folder: Path
    source: str  # "user/repo@revision" or a folder
    commit: str | None = None  # the Hub commit the files came from
    metrics: dict[str, Any] | None = None
    history: dict[str, list[float]] | None = None
    samples: dict[str, torch.Tensor] | None = None
    card: str | None = None
    calibration: dict[str, float] | None = None
    fallback_reason: str | None = None  # set when the requested source failed and the shipped model was used
    problems: dict[str, str] = field(default_factory=dict)  # artifact file -> "missing" or why it was unreadable

    @property
    def onnx_file(self) -> Path | None:
        """The bundle's ``model.onnx``, which the pad runs in the visitor's browser; None if it has none."""
        path = self.folder / ONNX_FILE
        return path if path.is_file() else None

    @property
    def explain_onnx_file(self) -> Path | None:
        """The bundle's ``explain.onnx`` (Integrated Gradients for the browser); None if it has none."""
        path = self.folder / EXPLAIN_ONNX_FILE
        return path if path.is_file() else None

    def problem_text(self, *names: str) -> str | None:
        """One line naming the given artifacts that are missing or unreadable, or None if all are fine."""
        found = [f"`{name}` {self.problems[name]}" for name in names if name in self.problems]
        return "; ".join(found) if found else None


def load_bundle_folder(folder: str | os.PathLike) -> LoadedBundle:
    """Load a bundle folder: the model (safetensors, strict) and whichever artifacts it holds."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    try:
        config = read_json(config_path)
        model = MnistCNN(**{key: config[key] for key in MODEL_ARGUMENTS if key in config})
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise BundleLoadError(f"{config_path}: not a valid model config ({err}).") from err
    if not weights_path.is_file():
        raise BundleLoadError(f"{weights_path}: file not found.")
    try:
        load_model(model, weights_path, strict=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BundleLoadError(f"{weights_path}: corrupt or does not match the model config ({first_line}).") from err
    model.eval()

    problems: dict[str, str] = {}

    def optional(name: str, reader):
        path = folder / name
        if not path.is_file():
            problems[name] = "is missing"
            return None
        try:
            return reader(path)
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as err:
            log.warning("Ignoring unreadable %s: %s", path, err)
            # shown on the page: the reason, never where the server keeps its files
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0].replace(str(folder), "")
            problems[name] = f"is unreadable ({reason[:120]})"
            return None

    for name in PLOT_FILES:
        optional(name, check_png)
    return LoadedBundle(
        model=model,
        folder=folder,
        source=str(folder),
        metrics=optional(METRICS_FILE, read_metrics),
        history=optional(HISTORY_FILE, read_history),
        samples=optional(SAMPLES_FILE, load_sample_pack),
        card=optional(CARD_FILE, Path.read_text),
        calibration=optional(CALIBRATION_FILE, read_calibration),
        problems=problems,
    )


def read_metrics(path: Path) -> dict[str, Any]:
    metrics = read_json(path)
    if not isinstance(metrics, dict):
        raise ValueError("not a JSON object")
    return metrics


def read_history(path: Path) -> dict[str, list[float]]:
    history = read_json(path)
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise ValueError("not a JSON object of lists")
    return history


def check_png(path: Path) -> Path:
    """A plot the page will show: it must be a whole image (a truncated file shows as a broken icon)."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, Image.DecompressionBombError) as err:
        raise ValueError("not a readable image") from err
    return path
