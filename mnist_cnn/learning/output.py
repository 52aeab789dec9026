"""The bundle a training run writes: what goes in which file (the names are ``mnist_cnn.bundle``'s)."""

from __future__ import annotations

from pathlib import Path

import torch

from mnist_cnn.bundle import (
    CALIBRATION_FILE,
    CARD_FILE,
    EXPLAIN_ONNX_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    ONNX_FILE,
    RELIABILITY_PLOT,
    SAMPLES_FILE,
    save_sample_pack,
    staged_bundle,
    write_json,
)
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.explain_graph import export_explain_graph

from .card import build_model_card
from .dataset_examples import write_dataset_examples
from .evaluation import build_sample_pack
from .metrics import Evaluation, RunInfo
from .onnx_export import export_onnx
from .plots import plot_reliability, write_plots
from .training import FitResult


def write_run_bundle(
    out: Path,
    overwrite: bool,
    model: MnistCNN,
    result: FitResult,
    evaluation: Evaluation,
    run: RunInfo,
    train: tuple[torch.Tensor, torch.Tensor],
    test_images: torch.Tensor,
    sample_pack_size: int,
) -> None:
    """Write the bundle into ``out``, whole or not at all (staged beside it, then moved in place): the
    weights and config, ``model.onnx`` (with every stage) and ``explain.onnx``, the network view's dataset
    examples, the calibration, metrics and history, the app's sample pack, the figures and the model card.
    Raises BundleExistsError when ``out`` has files and not ``overwrite``."""
    metrics = evaluation.metrics(result, run)
    report, seed = evaluation.report, run.cfg.seed
    with staged_bundle(out, overwrite) as folder:
        model.save_pretrained(folder)  # model.safetensors + config.json
        export_onnx(model, folder / ONNX_FILE)  # the same weights for onnxruntime and the browser
        export_explain_graph(model, folder / EXPLAIN_ONNX_FILE)  # "why this digit", in the browser
        write_dataset_examples(folder, model, test_images, torch.from_numpy(report.labels))
        write_json(folder / CALIBRATION_FILE, evaluation.calibration(run.validation_size))
        write_json(folder / METRICS_FILE, metrics)
        write_json(folder / HISTORY_FILE, history := result.history_dict())
        save_sample_pack(build_sample_pack(test_images, report, sample_pack_size, seed), folder / SAMPLES_FILE)
        write_plots(folder, train, test_images, report, history, run.lr_sweep, seed)
        plot_reliability(evaluation.reliability, folder / RELIABILITY_PLOT)
        build_model_card(metrics).save(folder / CARD_FILE)  # replaces the mixin's generic card
