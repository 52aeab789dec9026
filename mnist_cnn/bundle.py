"""The model bundle: one folder with the weights, config, metrics, history, plots, samples and card.

It is what ``train.py`` writes, what gets pushed to the Hub and what the app loads.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
SAMPLES_FILE = "samples.safetensors"
CARD_FILE = "README.md"
PLOT_FILES = ("loss_curves.png", "confusion_matrix.png", "predictions.png", "misclassified.png", "samples.png")
LR_SWEEP_PLOT = "lr_sweep.png"
REQUIRED_FILES = (WEIGHTS_FILE, CONFIG_FILE, METRICS_FILE, HISTORY_FILE, SAMPLES_FILE, CARD_FILE, *PLOT_FILES)


class BundleExistsError(FileExistsError):
    """The output folder already holds files and overwriting was not asked for."""


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


def save_sample_pack(pack: dict[str, torch.Tensor], path: Path) -> None:
    save_file({name: tensor.contiguous() for name, tensor in pack.items()}, str(path))


def load_sample_pack(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))
