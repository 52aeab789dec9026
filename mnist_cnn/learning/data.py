"""MNIST as in-memory tensors, with batched augmentation that runs on tensors.

The four original IDX files come either from torchvision's normal download or, offline, from a
local folder (``--data-dir`` or the ``MNIST_DATA_DIR`` environment variable) holding them gzipped
or not. Either way they end up in ``<root>/MNIST/raw/``, where ``torchvision.datasets.MNIST``
reads them.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.datasets import MNIST

log = logging.getLogger(__name__)

DATA_DIR_ENV = "MNIST_DATA_DIR"
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# The split must not move when the training seed does: every run is then judged on the same images.
VALIDATION_SPLIT_SEED = 20251124

HOW_TO_GET_THE_DATA = (
    "Download the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into one folder and pass it with "
    f"--data-dir FOLDER or set {DATA_DIR_ENV}=FOLDER."
)


class MnistDataError(RuntimeError):
    """MNIST could not be found, downloaded or read; the message says what to do."""


class ValidationSizeError(MnistDataError, ValueError):
    """The validation split asked for does not fit the training images."""


@dataclass
class MnistTensors:
    """The whole of MNIST as uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)``."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The offline source folder: the explicit argument, else ``$MNIST_DATA_DIR``, else None."""
    value = data_dir if data_dir else os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def _check_idx_header(path: Path, expected_ndim: int) -> int:
    """Check an IDX file's magic number and size; return its item count."""
    with path.open("rb") as f:
        header = f.read(4 + 4 * expected_ndim)
    size = path.stat().st_size
    if len(header) < 4 + 4 * expected_ndim:
        raise MnistDataError(f"{path} is not an MNIST IDX file: it is only {size} bytes long.")
    zero, dtype_code, ndim = struct.unpack(">HBB", header[:4])
    if zero != 0 or dtype_code != 0x08 or ndim != expected_ndim:
        raise MnistDataError(f"{path} is not an MNIST IDX file (bad magic number {header[:4].hex()}).")
    dims = struct.unpack(f">{ndim}I", header[4:])
    if ndim == 3 and dims[1:] != (28, 28):
        raise MnistDataError(f"{path} holds {dims[1]}x{dims[2]} images, not 28x28.")
    if size != 4 + 4 * ndim + math.prod(dims):
        raise MnistDataError(f"{path} is truncated or corrupt: {size} bytes where its header promises {dims}.")
    return dims[0]


def stage_local_files(data_dir: Path, root: Path) -> Path:
    """Copy (and gunzip) the four IDX files from ``data_dir`` into ``<root>/MNIST/raw/``."""
    if not data_dir.is_dir():
        raise MnistDataError(f"MNIST data folder {data_dir} does not exist. {HOW_TO_GET_THE_DATA}")
    missing = [
        name for name in MNIST_FILES if not (data_dir / name).is_file() and not (data_dir / f"{name}.gz").is_file()
    ]
    if missing:
        raise MnistDataError(
            f"MNIST data folder {data_dir} lacks {', '.join(missing)} (plain or .gz). {HOW_TO_GET_THE_DATA}"
        )
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        source = data_dir / name
        target = raw / name
        partial = raw / f"{name}.partial"
        try:
            if source.is_file():
                shutil.copyfile(source, partial)
            else:
                with gzip.open(data_dir / f"{name}.gz", "rb") as src, partial.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        except (OSError, EOFError, zlib.error) as err:
            partial.unlink(missing_ok=True)
            raise MnistDataError(f"Could not read {source}(.gz): {err}. The file is corrupt; replace it.") from err
        partial.replace(target)
    _validate_raw_folder(raw)
    return raw


def _validate_raw_folder(raw: Path) -> None:
    for split in ("train", "t10k"):
        n_images = _check_idx_header(raw / f"{split}-images-idx3-ubyte", 3)
        n_labels = _check_idx_header(raw / f"{split}-labels-idx1-ubyte", 1)
        if n_images != n_labels:
            raise MnistDataError(f"{raw}: {split} has {n_images} images but {n_labels} labels.")


def load_mnist(root: str | os.PathLike = "data", data_dir: str | os.PathLike | None = None) -> MnistTensors:
    """Load MNIST as tensors, from a local folder of IDX files if one is given, else by download."""
    root = Path(root)
    source = resolve_data_dir(data_dir)
    if source is not None:
        log.info("Using the local MNIST files in %s", source)
        stage_local_files(source, root)
    try:
        train = MNIST(root, train=True, download=source is None)
        test = MNIST(root, train=False, download=source is None)
    except (RuntimeError, OSError) as err:
        raise MnistDataError(f"Could not download MNIST into {root}: {err}\n{HOW_TO_GET_THE_DATA}") from err
    except (AssertionError, ValueError, TypeError) as err:
        raw = root / "MNIST" / "raw"
        raise MnistDataError(f"The MNIST files in {raw} are corrupt ({err!r}); delete them.") from err
    labels_ok = all(int(t.targets.min()) >= 0 and int(t.targets.max()) <= 9 for t in (train, test))
    if not labels_ok:
        raise MnistDataError(f"The MNIST label files in {root / 'MNIST' / 'raw'} hold labels outside 0-9.")
    return MnistTensors(train.data, train.targets, test.data, test.targets)


def split_train_validation(
    images: torch.Tensor,
    labels: torch.Tensor,
    validation_size: int = 5000,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A fixed, seeded hold-out split: ``((train_x, train_y), (val_x, val_y))``."""
    if not 0 < validation_size < len(images):
        raise ValidationSizeError(
            f"The validation split (--val-size) must be between 1 and {len(images) - 1} images, got {validation_size}."
        )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(VALIDATION_SPLIT_SEED))
    val_idx, train_idx = order[:validation_size], order[validation_size:]
    return (images[train_idx], labels[train_idx]), (images[val_idx], labels[val_idx])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` to the model's input: float ``(N, 1, 28, 28)`` in [0, 1]."""
    return images.unsqueeze(1).float().div_(255.0)


def augment_batch(
    images: torch.Tensor,
    generator: torch.Generator,
    max_rotation_deg: float = 12.0,
    max_scale: float = 0.12,
    max_shift_px: float = 2.5,
    max_shear: float = 0.15,
    stroke_prob: float = 0.5,
) -> torch.Tensor:
    """Randomly thicken or thin the strokes, then apply a random affine map, per image.

    Works on a whole float batch ``(N, 1, 28, 28)`` at once: the per-sample PIL pipeline of the
    usual examples costs more than the network itself on a 2-core CPU.
    """
    n, device = images.shape[0], images.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator, device=device) * (high - low) + low

    # Stroke width: people draw with thin and thick brushes. Blend towards a 3x3 dilation or
    # erosion by a random amount, so widths vary continuously.
    dilated = F.max_pool2d(images, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-images, 3, stride=1, padding=1)
    choice = torch.rand(n, generator=generator, device=device)
    amount = uniform(0.0, 1.0).view(n, 1, 1, 1)
    thicker = (choice < stroke_prob / 2).view(n, 1, 1, 1)
    thinner = ((choice >= stroke_prob / 2) & (choice < stroke_prob)).view(n, 1, 1, 1)
    images = torch.where(thicker, torch.lerp(images, dilated, amount), images)
    images = torch.where(thinner, torch.lerp(images, eroded, amount), images)

    # affine_grid maps output to input coordinates, so build the inverse of the wanted map.
    angle = uniform(-max_rotation_deg, max_rotation_deg) * (math.pi / 180)
    scale = uniform(1 - max_scale, 1 + max_scale)
    shear = uniform(-max_shear, max_shear)
    shift = max_shift_px / 14.0  # grid coordinates span [-1, 1] over 28 px
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, uniform(-shift, shift)], dim=1),
            torch.stack([sin, cos + shear * sin, uniform(-shift, shift)], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
