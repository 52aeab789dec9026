import gzip
import subprocess
import sys

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST

from conftest import ROOT, make_mnist_folder
from mnist_cnn.learning.data import (
    DATA_DIR_ENV,
    MnistDataError,
    augment_batch,
    load_mnist,
    split_train_validation,
    to_float,
)


@pytest.mark.parametrize("compress", [True, False])
def test_local_folder_is_staged_for_torchvision(tmp_path, compress):
    arrays = make_mnist_folder(tmp_path / "src", n_train=120, n_test=40, compress=compress)
    data = load_mnist(tmp_path / "root", tmp_path / "src")
    assert data.train_images.shape == (120, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.test_labels.shape == (40,) and data.test_labels.dtype == torch.int64
    np.testing.assert_array_equal(data.train_images.numpy(), arrays["train"][0])
    np.testing.assert_array_equal(data.test_labels.numpy(), arrays["t10k"][1])
    # torchvision itself now finds the files where it expects them
    assert len(MNIST(tmp_path / "root", train=False, download=False)) == 40


def test_environment_variable_is_the_default_source(tmp_path, monkeypatch):
    make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "src"))
    assert len(load_mnist(tmp_path / "root").test_images) == 20


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(MnistDataError, match="does not exist") as err:
        load_mnist(tmp_path / "root", tmp_path / "nowhere")
    assert "--data-dir" in str(err.value) and DATA_DIR_ENV in str(err.value)


def test_missing_file_is_named(tmp_path):
    make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    (tmp_path / "src" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistDataError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "root", tmp_path / "src")


def test_truncated_gzip_is_reported(tmp_path):
    make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    path = tmp_path / "src" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(MnistDataError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path / "root", tmp_path / "src")


@pytest.mark.parametrize(
    "payload, message",
    [(b"\x00\x00\x09\x03" + bytes(12), "magic"), (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x05" + bytes(8), "28x28")],
)
def test_corrupt_idx_is_reported(tmp_path, payload, message):
    make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    (tmp_path / "src" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(payload))
    with pytest.raises(MnistDataError, match=message):
        load_mnist(tmp_path / "root", tmp_path / "src")


def test_size_mismatch_is_reported(tmp_path):
    make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    path = tmp_path / "src" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))
    with pytest.raises(MnistDataError, match="truncated or corrupt"):
        load_mnist(tmp_path / "root", tmp_path / "src")


def test_labels_outside_0_to_9_are_refused(tmp_path):
    from conftest import write_idx

    arrays = make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    labels = arrays["t10k"][1].copy()
    labels[7] = 11
    write_idx(tmp_path / "src" / "t10k-labels-idx1-ubyte", labels, compress=True)
    with pytest.raises(MnistDataError, match="labels outside 0-9"):
        load_mnist(tmp_path / "root", tmp_path / "src")


def test_image_and_label_counts_must_match(tmp_path):
    """Two well-formed files that disagree: 50 training images but 49 labels."""
    from conftest import write_idx

    arrays = make_mnist_folder(tmp_path / "src", n_train=50, n_test=20)
    write_idx(tmp_path / "src" / "train-labels-idx1-ubyte", arrays["train"][1][:49], compress=True)
    with pytest.raises(MnistDataError, match="train has 50 images but 49 labels"):
        load_mnist(tmp_path / "root", tmp_path / "src")


def test_failed_download_says_what_to_do(tmp_path, monkeypatch, closed_port_url):
    # torchvision's real download code, aimed at a local port where nothing listens
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(MNIST, "mirrors", [closed_port_url + "/"])
    with pytest.raises(MnistDataError, match="Could not download MNIST") as err:
        load_mnist(tmp_path / "root")
    assert DATA_DIR_ENV in str(err.value)


def test_train_script_reports_missing_data_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "train.py", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "MNIST_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_validation_split_is_fixed_and_disjoint():
    images = torch.arange(1000).view(1000, 1, 1).expand(1000, 28, 28).contiguous()
    labels = torch.arange(1000) % 10
    (tx, ty), (vx, vy) = split_train_validation(images, labels, 100)
    (tx2, _), (vx2, _) = split_train_validation(images, labels, 100)
    assert len(tx) == 900 and len(vx) == 100
    assert torch.equal(vx, vx2) and torch.equal(tx, tx2)
    assert not set(tx[:, 0, 0].tolist()) & set(vx[:, 0, 0].tolist())
    with pytest.raises(ValueError, match="--val-size"):
        split_train_validation(images, labels, 1000)


def test_augmentation_is_batched_seeded_and_in_range():
    x = to_float(torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8))
    a = augment_batch(x, torch.Generator().manual_seed(1))
    b = augment_batch(x, torch.Generator().manual_seed(1))
    c = augment_batch(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_augmentation_varies_stroke_width():
    x = torch.zeros(200, 1, 28, 28)
    x[:, :, 8:20, 13:15] = 1.0  # a 2-px vertical stroke
    ink = augment_batch(
        x,
        torch.Generator().manual_seed(0),
        max_rotation_deg=0,
        max_scale=0,
        max_shift_px=0,
        max_shear=0,
        stroke_prob=1.0,
    ).sum(dim=(1, 2, 3))
    base = x[0].sum()
    assert (ink > base * 1.3).any() and (ink < base * 0.7).any()
