"""What the app shows of a model bundle: sample galleries, tables and text. No Gradio in here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from mnist_cnn.bundle import SHIPPED_BUNDLE, LoadedBundle
from mnist_cnn.classes import CLASS_LABELS, DIGIT_LABELS

GALLERY_SIZE = 32
CONFUSION_CORNER = "true \\ read"
MISTAKE_RGB = (214, 39, 40)
CORRECT_RGB = (90, 90, 90)


def to_uint8(field28: np.ndarray) -> np.ndarray:
    """A 28x28 float image in [0, 1] as uint8; the page enlarges it with crisp pixels (CSS).

    JavaScript twin: ``fieldImage in mnist_cnn/web/pad/browser/reader.mjs``.
    """
    return (np.clip(field28, 0, 1) * 255).astype(np.uint8)


def framed(image28: np.ndarray, mistake: bool, factor: int = 4) -> np.ndarray:
    """An RGB thumbnail of a uint8 test image with a frame: red for a mistake, grey otherwise."""
    big = np.kron(image28, np.ones((factor, factor), dtype=np.uint8))
    rgb = np.repeat(big[:, :, None], 3, axis=2)
    border = 3 if mistake else 1
    color = MISTAKE_RGB if mistake else CORRECT_RGB
    rgb[:border], rgb[-border:], rgb[:, :border], rgb[:, -border:] = color, color, color, color
    return rgb


class BundleView:
    """Galleries and tables from one loaded bundle; every method works when an artifact is missing."""

    def __init__(self, bundle: LoadedBundle, seed: int | None = None):
        self.bundle = bundle
        self.metrics = bundle.metrics or {}
        self.samples = bundle.samples
        self.rng = np.random.default_rng(seed)
        self.num_parameters = bundle.model.num_parameters
        if self.samples is not None:
            self.labels = self.samples["labels"].numpy()
            self.predictions = self.samples["predictions"].numpy()
            self.images = self.samples["images"].numpy()
            self.probabilities = self.samples["probabilities"].numpy()

    @property
    def accuracy_text(self) -> str:
        accuracy = self.metrics.get("test_accuracy")
        return f"{100 * accuracy:.2f}% accuracy" if accuracy is not None else "accuracy not recorded"

    def plot_path(self, name: str) -> str | None:
        path = Path(self.bundle.folder) / name
        return str(path) if path.is_file() and name not in self.bundle.problems else None

    def notice(self, *names: str) -> str | None:
        """A warning for a tab whose artifacts are missing or unreadable (None when all are there)."""
        if problems := self.bundle.problem_text(*names):
            return f"⚠️ This model's bundle is incomplete: {problems}. What depends on it is not shown."
        return None

    # --- galleries ---
    def random_indices(self, only_mistakes: bool = False) -> list[int]:
        if self.samples is None:
            return []
        pool = np.flatnonzero(self.predictions != self.labels) if only_mistakes else np.arange(len(self.labels))
        chosen = self.rng.choice(pool, size=min(GALLERY_SIZE, len(pool)), replace=False) if len(pool) else []
        return [int(i) for i in chosen]

    def gallery(self, indices: list[int]) -> list[tuple[np.ndarray, str]]:
        items = []
        for i in indices:
            mistake = self.predictions[i] != self.labels[i]
            caption = f"{'✗' if mistake else '✓'} pred {self.predictions[i]} / true {self.labels[i]}"
            items.append((framed(self.images[i], mistake), caption))
        return items

    def shuffle(self, only_mistakes: bool) -> tuple[list[tuple[np.ndarray, str]], list[int]]:
        indices = self.random_indices(only_mistakes)
        return self.gallery(indices), indices

    def probabilities_of(self, shown: list[int], position: int | None) -> dict[str, float] | None:
        """The probabilities of the image at ``position`` in the gallery showing ``shown``."""
        if (index := self.sample_at(shown, position)) is None:
            return None
        names = list(CLASS_LABELS)
        return {name: float(p) for name, p in zip(names, self.probabilities[index], strict=False)}

    def pair_gallery(self, true_digit: int | None, predicted_digit: int | None) -> tuple[list, list[int], str]:
        """The sample-pack images with this true and predicted digit (gallery items and their indices),
        and a caption."""
        if self.samples is None or true_digit is None or predicted_digit is None:
            return [], [], "No test samples in this model's bundle."
        hits = np.flatnonzero((self.labels == int(true_digit)) & (self.predictions == int(predicted_digit)))
        count = int(self.metrics.get("confusion_matrix", [[0] * 10] * 10)[int(true_digit)][int(predicted_digit)])
        images_were = "test image of a {} was" if count == 1 else "test images of a {} were"
        caption = f"**{count}** {images_were.format(true_digit)} read as {predicted_digit}"
        if len(hits) == 0:
            return [], [], caption + "."
        caption += f"; {len(hits)} of them are in the sample pack" if len(hits) < count else ""
        indices = [int(i) for i in hits[:GALLERY_SIZE]]
        items = [(framed(self.images[i], true_digit != predicted_digit), f"#{i}") for i in indices]
        return items, indices, caption + ". Pick one to see why."

    def sample_at(self, shown: list[int], position: int | None) -> int | None:
        """The sample-pack index of the image at ``position`` in a gallery showing ``shown``."""
        if self.samples is None or position is None or not 0 <= position < len(shown):
            return None
        return shown[position]

    def field_of(self, index: int) -> np.ndarray:
        """A sample-pack image as the model takes it: 28x28 floats in [0, 1]."""
        return self.images[index].astype(np.float32) / 255

    # --- tables and text ---
    def confusion_table(self) -> pd.DataFrame | Styler:
        """The test set's confusion matrix as a heatmap table (rows: true digits, columns: predictions);
        its first column names the rows, so a clicked cell (row, column) is (true, column - 1)."""
        matrix = self.metrics.get("confusion_matrix")
        if not matrix:
            return pd.DataFrame(columns=[CONFUSION_CORNER, *DIGIT_LABELS])
        counts = np.asarray(matrix)
        digits = list(DIGIT_LABELS)
        frame = pd.DataFrame(counts, columns=digits)
        frame.insert(0, CONFUSION_CORNER, digits)
        # log-scaled shading: the few mistakes stand out beside the ~1,000 right answers of each row
        return frame.style.background_gradient(cmap="Blues", gmap=np.log1p(counts), axis=None, subset=digits)

    def per_class_table(self) -> pd.DataFrame:
        rows = [
            {
                "digit": digit,
                "precision": round(r["precision"], 4),
                "recall": round(r["recall"], 4),
                "F1": round(r["f1"], 4),
                "images": r["support"],
            }
            for digit, r in (self.metrics.get("per_class") or {}).items()
        ]
        return pd.DataFrame(rows, columns=["digit", "precision", "recall", "F1", "images"])

    def accuracy_markdown(self) -> str:
        if "test_accuracy" not in self.metrics:
            return "This model's bundle has no recorded test metrics."
        m = self.metrics
        return (
            f"**Test accuracy {100 * m['test_accuracy']:.2f}%**: {m['test_errors']} errors in {m['test_size']:,} "
            "images. Rows are the true digits, columns the predictions: click a cell to see those test images, "
            "and one of them to see why it was read so."
        )

    def training_markdown(self) -> str:
        m = self.metrics
        if not m:
            return "No training record in this bundle."
        lines = [
            f"Best validation accuracy **{100 * m['best_val_accuracy']:.2f}%** at epoch {m['best_epoch']} of "
            f"{m['epochs_run']}; {m['train_seconds']:.0f} s of training on {m.get('hardware', 'a CPU')}.",
            "",
        ]
        if m.get("lr_sweep"):
            lines += ["| learning rate | validation accuracy |", "| --- | --- |"]
            lines += [f"| {lr} | {100 * acc:.2f}% |" for lr, acc in m["lr_sweep"].items()]
            lines.append("")
        else:
            lines += ["No learning-rate sweep ran for this model (`train.py --lr 1e-3 3e-3 1e-2` runs one).", ""]
        lines += ["| hyperparameter | value |", "| --- | --- |"]
        lines += [f"| {key} | {value} |" for key, value in (m.get("config") or {}).items()]
        lines += ["", f"Command: `{m.get('command', '?')}`"]
        return "\n".join(lines)

    def calibration_markdown(self) -> str:
        m = self.metrics
        if "temperature" not in m:
            return "This bundle has no calibration: the confidence shown is the raw softmax."
        lines = [
            f"The confidence shown is calibrated: logits are divided by a temperature of **{m['temperature']:.3f}**, "
            "fitted on the validation split after training. Expected calibration error (15 bins): "
            f"**{100 * m['test_ece']:.2f} points** on the MNIST test set. "
            + m.get(
                "answer_rule",
                f"Below {100 * m.get('abstain_below', 0.5):.0f}% for the best digit, the app says it is not sure.",
            ),
        ]
        dev = m.get("dev_sets") or {}
        if dev:
            lines += [
                "",
                "Measured on real handwriting that is not MNIST (development folders, never trained on):",
                "",
                "| folder | figure |",
                "| --- | --- |",
            ]
            for name, row in dev.items():
                lines.append(f"| {name} | {row['summary']} |")
        return "\n".join(lines)


def model_markdown(bundle: LoadedBundle) -> str:
    metrics = bundle.metrics or {}
    if bundle.commit:
        repo, _, revision = bundle.source.partition("@")
        where = (
            f"the Hugging Face Hub: [{repo}](https://huggingface.co/{repo}), revision `{revision or 'main'}`, "
            f"commit `{bundle.commit[:10]}`"
        )
    elif Path(bundle.folder).resolve() == SHIPPED_BUNDLE:
        where = "the model shipped with the app (`mnist_cnn/pretrained/`)"
    else:
        where = f"the bundle folder `{bundle.source}`"
    lines = [f"**Weights from** {where}."]
    if bundle.fallback_reason:
        lines.append(f"\n⚠️ {bundle.fallback_reason}")
    if "test_accuracy" in metrics:
        lines.append(f"\n**Test accuracy** {100 * metrics['test_accuracy']:.2f}%")
    lines.append(f"\n**Parameters** {bundle.model.num_parameters:,}")
    if bundle.card:
        lines.append("\n---\n### Model card\n")
        body = bundle.card.split("---", 2)[-1] if bundle.card.startswith("---") else bundle.card
        # the card's figures are files of the bundle, shown in the other tabs
        lines += [line for line in body.splitlines() if not line.startswith("![")]
    return "\n".join(lines)
