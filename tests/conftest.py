from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    """Write a uint8 array in MNIST's IDX format (big-endian header, magic 0x0000080N)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tiny learnable images: a bright bar whose position encodes the label, plus noise."""
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[4 + 2 * label : 6 + 2 * label, 4:24] = 255
    return images, labels


def make_mnist_folder(folder: Path, n_train: int = 600, n_test: int = 200, compress: bool = True, seed: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = synthetic_digits(n, rng)
        write_idx(folder / f"{split}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels, compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture
def mnist_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mnist-src"
    make_mnist_folder(folder)
    return folder


def shared_mnist_dir() -> Path | None:
    """The real MNIST files: $MNIST_DATA_DIR when set (it must then exist), else ../shared/data/mnist."""
    value = os.environ.get("MNIST_DATA_DIR")
    if value:
        return Path(value)
    default = ROOT.parent / "shared" / "data" / "mnist"
    return default if default.is_dir() else None
