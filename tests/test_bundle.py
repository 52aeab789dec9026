"""The bundle on disk: written all at once or not at all, and shown by the app's views when incomplete."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_cnn.bundle import SHIPPED_BUNDLE, BundleExistsError, load_bundle_folder, staged_bundle
from mnist_cnn.web.views import BundleView


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_write_that_fails_midway_leaves_the_old_bundle_untouched(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    before = snapshot(folder)
    with pytest.raises(OSError, match="No space left"):
        with staged_bundle(folder, overwrite=True) as staging:
            (staging / "model.safetensors").write_bytes(b"half a new model")
            (staging / "config.json").write_text("{}")
            raise OSError(28, "No space left on device")  # the disk fills up half-way through the bundle
    assert snapshot(folder) == before  # the old bundle, whole
    assert leftovers(tmp_path) == []  # no staging folder left behind


def test_a_complete_write_replaces_the_bundle_at_once(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    with staged_bundle(folder, overwrite=True) as staging:
        (staging / "model.safetensors").write_bytes(b"new")
        assert (folder / "metrics.json").is_file()  # the old bundle stays readable while the new one is written
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors"]
    assert (folder / "model.safetensors").read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_a_bundle_that_appears_during_the_write_is_not_overwritten(tmp_path):
    """Without --overwrite, a folder someone else filled while we trained is kept, and ours is dropped."""
    folder = tmp_path / "bundle"
    with pytest.raises(BundleExistsError):
        with staged_bundle(folder, overwrite=False) as staging:
            (staging / "model.safetensors").write_bytes(b"ours")
            folder.mkdir()
            (folder / "model.safetensors").write_bytes(b"theirs")
    assert (folder / "model.safetensors").read_bytes() == b"theirs"
    assert leftovers(tmp_path) == []


@pytest.fixture
def bare_bundle(tmp_path):
    """The shipped model with neither its sample pack nor its metrics."""
    folder = tmp_path / "bare"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    (folder / "samples.safetensors").unlink()
    (folder / "metrics.json").unlink()
    return load_bundle_folder(folder)


def test_views_of_a_bundle_without_samples_or_metrics(bare_bundle):
    view = BundleView(bare_bundle, seed=0)
    assert bare_bundle.samples is None and bare_bundle.metrics is None
    assert view.shuffle(only_mistakes=False) == ([], []) and view.shuffle(only_mistakes=True) == ([], [])
    assert view.probabilities_of([], 0) is None and view.sample_at([3], 0) is None
    items, indices, caption = view.pair_gallery(4, 9)
    assert items == [] and indices == [] and "No test samples" in caption
    table = view.confusion_table()
    assert isinstance(table, pd.DataFrame) and len(table) == 0 and len(table.columns) == 11
    assert view.per_class_table().empty
    assert view.accuracy_text == "accuracy not recorded"
    assert "no recorded test metrics" in view.accuracy_markdown()
    assert "No training record" in view.training_markdown()
    assert "no calibration" in view.calibration_markdown()
    notice = view.notice("samples.safetensors", "metrics.json")
    assert "samples.safetensors" in notice and "metrics.json" in notice and str(bare_bundle.folder) not in notice
    assert view.plot_path("confusion_matrix.png") is not None  # what is there is still shown


def test_views_of_the_shipped_bundle():
    """The same calls on a complete bundle give real content (so the test above can tell the difference)."""
    view = BundleView(load_bundle_folder(SHIPPED_BUNDLE), seed=0)
    items, indices = view.shuffle(only_mistakes=True)
    assert items and all(view.predictions[i] != view.labels[i] for i in indices)
    assert view.notice("samples.safetensors", "metrics.json") is None
    gallery, shown, caption = view.pair_gallery(4, 9)
    assert all(view.labels[i] == 4 and view.predictions[i] == 9 for i in shown) and "read as 9" in caption
    assert np.asarray(view.confusion_table().data.iloc[:, 1:]).sum() == 10_000
    assert len(view.per_class_table()) == 10 and "Test accuracy" in view.accuracy_markdown()
