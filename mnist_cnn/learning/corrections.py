"""Visitors' corrections read back for training (``train.py --extra-data``): a Hub dataset repo, downloaded
with ``snapshot_download``, or a local folder in the same layout (the app's ``FEEDBACK_DIR``), read with
``datasets``' image-folder builder, as the Hub's dataset viewer reads it.

The 28x28 image the model saw is what is trained on; digits keep their labels, "not a digit" becomes the
11th class. Rows whose label or image is not what the app writes are skipped and counted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnist_cnn.classes import CLASS_LABELS, NOT_A_DIGIT
from mnist_cnn.web.feedback.store import DATA_FOLDER, METADATA_FILE

log = logging.getLogger(__name__)


class CorrectionsError(RuntimeError):
    """The corrections could not be found, downloaded or read; the message says what to do."""


@dataclass
class Corrections:
    images: torch.Tensor  # uint8 (N, 28, 28)
    labels: torch.Tensor  # int64 (N,): 0-9, or NOT_A_DIGIT
    source: str  # the repo id or the folder
    revision: str  # the repo's commit, or a hash of the folder's rows
    on_hub: bool  # source is a Hub dataset repo (else a local folder)
    skipped: int = 0

    def summary(self) -> dict:
        """For the metrics and the model card."""
        not_digits = int((self.labels == NOT_A_DIGIT).sum())
        return {
            "source": self.source,
            "revision": self.revision,
            "on_hub": self.on_hub,
            "rows": len(self.labels),
            "digits": len(self.labels) - not_digits,
            "not_a_digit": not_digits,
            "skipped": self.skipped,
        }

    def describe(self) -> str:
        s = self.summary()
        return (
            f"{s['rows']} corrections ({s['digits']} digits, {s['not_a_digit']} not a digit) from {self.source} "
            f"at revision {self.revision[:12]}" + (f"; {self.skipped} rows skipped" if self.skipped else "")
        )


def download(repo_id: str, revision: str | None) -> tuple[Path, str]:
    """A Hub dataset repo's data folders in the local cache; its folder and commit."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    try:
        folder = Path(
            snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=[f"{DATA_FOLDER}/*"])
        )
    except (HfHubHTTPError, HFValidationError, LocalEntryNotFoundError, OSError) as err:
        raise CorrectionsError(
            f"Could not download the dataset {repo_id!r} ({type(err).__name__}: {str(err).splitlines()[0]}). "
            "Check the repo id, your token (HF_TOKEN) and the connection, or pass a local folder."
        ) from err
    return folder, folder.name  # snapshots are named by their commit


def folder_revision(folder: Path) -> str:
    """A local folder's rows, hashed: the same rows, the same revision."""
    digest = hashlib.sha256()
    for metadata in sorted(folder.rglob(METADATA_FILE)):
        digest.update(metadata.read_bytes())
    return "sha256:" + digest.hexdigest()[:16]


def load_corrections(source: str, revision: str | None = None) -> Corrections:
    """Every correction in ``source``: a folder in the app's layout, else a Hub dataset repo id."""
    from datasets import load_dataset

    on_hub = not Path(source).expanduser().is_dir()
    if not on_hub:
        folder = Path(source).expanduser()
        revision = folder_revision(folder)
    else:
        folder, revision = download(source, revision)
    if not any(folder.rglob(METADATA_FILE)):
        raise CorrectionsError(f"{source} holds no {METADATA_FILE}: it is not a folder of corrections.")
    try:
        rows = load_dataset("imagefolder", data_dir=str(folder), split="train")
    except Exception as err:  # datasets raises many kinds for a layout it cannot read
        raise CorrectionsError(f"Could not read the corrections in {folder}: {err}") from err
    images, labels, skipped = [], [], 0
    for row in rows.select_columns(["mnist", "label"]):
        image = row["mnist"]
        if row["label"] not in CLASS_LABELS or image is None or image.size != (28, 28):
            skipped += 1
            continue
        images.append(np.asarray(image.convert("L"), dtype=np.uint8))
        labels.append(CLASS_LABELS.index(row["label"]))  # "not a digit" is the 11th: NOT_A_DIGIT
    if skipped:
        log.warning("Skipped %d rows of %s: a label or an image that the app does not write", skipped, source)
    return Corrections(
        images=torch.from_numpy(np.stack(images)) if images else torch.zeros((0, 28, 28), dtype=torch.uint8),
        labels=torch.tensor(labels, dtype=torch.int64),
        source=source,
        revision=revision,
        on_hub=on_hub,
        skipped=skipped,
    )


def with_corrections(
    train: tuple[torch.Tensor, torch.Tensor],
    extra: Corrections,
    repeat: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images with the visitors' corrections appended (``repeat`` times each); validation and
    test are left as they are, so that every run is judged on the same images."""
    if repeat < 1:
        raise CorrectionsError(f"each correction must be seen at least once per epoch, not {repeat} times")
    log.info("Training on %s, each seen %dx per epoch", extra.describe(), repeat)
    images = torch.cat([train[0], extra.images.repeat(repeat, 1, 1)])
    labels = torch.cat([train[1], extra.labels.repeat(repeat)])
    return images, labels


def quiet_progress_bars(reading_corrections: bool) -> None:
    """No progress bars from huggingface_hub (downloads, uploads) nor, when the corrections are read, from
    datasets (imported only then: it is slow to import)."""
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    if reading_corrections:
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
