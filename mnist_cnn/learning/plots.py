"""The bundle's figures, drawn with matplotlib and seaborn and saved as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

from mnist_cnn.bundle import LR_SWEEP_PLOT

from .evaluation import TestReport

# Files only; no display on servers and CI. pyplot picks its backend at the first figure, so this still
# applies after the import.
matplotlib.use("Agg")

MISTAKE_COLOR = "#d62728"


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    colors: Sequence[str],
    columns: int,
    title: str,
) -> plt.Figure:
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.35 + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, text, color in zip(axes.flat, images, titles, colors, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(text, fontsize=8, color=color)
        if color == MISTAKE_COLOR:
            ax.add_patch(plt.Rectangle((-0.5, -0.5), 28, 28, fill=False, edgecolor=color, linewidth=2.5))
    fig.suptitle(title)
    return fig


def plot_samples(images: np.ndarray, labels: np.ndarray, path: Path, columns: int = 10) -> Path:
    """The exploratory grid: training images with their labels."""
    titles = [f"label {y}" for y in labels]
    fig = _image_grid(images, titles, ["black"] * len(images), columns, "MNIST training samples")
    return _save(fig, path)


def plot_predictions(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, path: Path, title: str) -> Path:
    """Test images titled predicted / true; mistakes in red with a red frame."""
    titles = [f"pred {p} / true {y}" for p, y in zip(predictions, labels, strict=True)]
    colors = [MISTAKE_COLOR if p != y else "black" for p, y in zip(predictions, labels, strict=True)]
    return _save(_image_grid(images, titles, colors, columns=8, title=title), path)


def plot_loss_curves(history: dict[str, list[float]], path: Path) -> Path:
    """Train and validation loss and accuracy by epoch."""
    epochs = history["epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["train_loss"], "o-", label="train (augmented, smoothed labels)")
    ax_loss.plot(epochs, history["val_loss"], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_acc.plot(epochs, [100 * a for a in history["train_accuracy"]], "o-", label="train (augmented)")
    ax_acc.plot(epochs, [100 * a for a in history["val_accuracy"]], "o-", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy", ylim=(97, 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_confusion_matrix(confusion: np.ndarray, path: Path, title: str = "Confusion matrix (test set)") -> Path:
    """Seaborn heatmap of counts; the colour scale is logarithmic so off-diagonal mistakes show."""
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    sns.heatmap(
        confusion,
        annot=True,
        fmt="d",
        cmap="Blues",
        norm=matplotlib.colors.LogNorm(vmin=1, vmax=max(2, int(confusion.max()))),
        mask=confusion == 0,
        cbar_kws={"label": "images (log scale)"},
        linewidths=0.5,
        linecolor="#eeeeee",
        ax=ax,
    )
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return _save(fig, path)


def plot_lr_sweep(sweep: dict[float, float], path: Path) -> Path:
    """Validation accuracy of the short run for each learning rate."""
    lrs = sorted(sweep)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, [100 * sweep[lr] for lr in lrs], "o-")
    best = max(lrs, key=lambda lr: sweep[lr])
    ax.plot([best], [100 * sweep[best]], "*", markersize=16, color=MISTAKE_COLOR, label=f"best: {best:g}")
    ax.set(xscale="log", xlabel="peak learning rate", ylabel="validation accuracy (%)", title="Learning-rate sweep")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_reliability(curves: dict[str, list[dict[str, float]]], path: Path) -> Path:
    """Reliability diagram: per confidence bin, how often the top digit was right, for each named set.

    ``curves`` maps a set's name (with its ECE, say) to ``mnist_cnn.learning.devsets.reliability_table`` rows.
    """
    fig, (ax, ax_count) = plt.subplots(2, 1, figsize=(6, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], "--", color="#888888", label="perfectly calibrated")
    for name, rows in curves.items():
        confidence = [r["confidence"] for r in rows]
        ax.plot(confidence, [r["accuracy"] for r in rows], "o-", label=name)
        ax_count.plot(confidence, [r["count"] for r in rows], "o-")
    ax.set(ylabel="share right", title="Reliability of the confidence shown (15 bins)", xlim=(0, 1.01), ylim=(0, 1.01))
    ax_count.set(xlabel="confidence shown (calibrated)", ylabel="images", yscale="log")
    for axis in (ax, ax_count):
        axis.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def write_plots(
    folder: Path,
    train: tuple[torch.Tensor, torch.Tensor],
    test_images: torch.Tensor,
    report: TestReport,
    history: dict[str, list[float]],
    sweep: dict[float, float] | None,
    seed: int,
) -> None:
    """A run's figures in its bundle: training samples, test predictions and mistakes, the confusion
    matrix, the loss curves and (after a sweep) the learning rates tried."""
    rng = np.random.default_rng(seed)
    images = test_images.numpy()
    eda = rng.choice(len(train[0]), size=min(50, len(train[0])), replace=False)
    plot_samples(train[0][eda].numpy(), train[1][eda].numpy(), folder / "samples.png")
    shown = rng.choice(len(images), size=min(48, len(images)), replace=False)
    title = "Random test images: predicted / true (mistakes in red)"
    plot_predictions(images[shown], report.labels[shown], report.predictions[shown], folder / "predictions.png", title)
    wrong = report.misclassified[:64]
    title = f"Misclassified test images ({len(report.misclassified)} in all; first {len(wrong)})"
    plot_predictions(
        images[wrong], report.labels[wrong], report.predictions[wrong], folder / "misclassified.png", title
    )
    plot_confusion_matrix(report.confusion, folder / "confusion_matrix.png")
    plot_loss_curves(history, folder / "loss_curves.png")
    if sweep:
        plot_lr_sweep(sweep, folder / LR_SWEEP_PLOT)
