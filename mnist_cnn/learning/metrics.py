"""What a training run records in its bundle: ``calibration.json`` (the temperature and the answer rule)
and ``metrics.json`` (test figures, the dev folders, the run itself), which the model card, the app's
Training and Model tabs and the benchmarks read."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_cnn.reading.predict import AnswerRule, Predictor

from .devsets import (
    DevMeasurement,
    digit_figures,
    expected_calibration_error,
    measure_dev_dirs,
    measure_inputs,
    non_digit_figures,
    reliability_table,
)
from .evaluation import TestReport, evaluate_test_set
from .handwriting import Sample, kept_out_inputs
from .training import FitResult, TrainConfig, fit_temperature, held_out_set, predict_logits

log = logging.getLogger(__name__)


@dataclass
class RunInfo:
    """How the model was made: for the metrics, the card and reproducing the run."""

    recipe: str
    model_config: dict[str, Any]
    cfg: TrainConfig
    command: str
    hardware: str
    train_size: int
    validation_size: int
    extra_data: dict[str, Any] | None = None  # the visitors' corrections trained on, if any
    lr_sweep: dict[float, float] | None = None  # learning rate: best validation accuracy
    handwriting: dict[str, Any] | None = None  # the real handwriting trained on, if any


@dataclass
class Evaluation:
    """A trained model's calibration and figures: the test set, and the dev folders the rule was chosen on."""

    temperature: float
    report: TestReport
    dev: DevMeasurement
    kept_out: dict[str, dict] | None = None  # real handwriting by people kept out of training, per folder

    @property
    def correct(self) -> np.ndarray:
        return self.report.predictions == self.report.labels

    @property
    def test_ece(self) -> float:
        return expected_calibration_error(self.report.confidence, self.correct)

    @property
    def reliability(self) -> dict[str, list[dict[str, float]]]:
        """The reliability curves of the test set and of each dev folder of digits, for the plot."""
        test = {
            f"MNIST test (ECE {100 * self.test_ece:.2f} points)": reliability_table(
                self.report.confidence, self.correct
            )
        }
        return {**test, **self.dev.reliability}

    def answered_right(self) -> float:
        """Share of the test set the app answers right under the rule ("not sure" counts wrong)."""
        answers = [self.dev.rule.answer(p)[0] for p in self.report.probabilities]
        return float(np.mean([answer == label for answer, label in zip(answers, self.report.labels, strict=True)]))

    def calibration(self, validation_size: int) -> dict[str, Any]:
        """``calibration.json``: the temperature, the answer rule's thresholds and where each was chosen."""
        return dict(
            temperature=self.temperature,
            **asdict(self.dev.rule),
            fitted_on=f"validation split ({validation_size} digits, with styles and generated non-digits)",
            answer_rule_chosen_on=self.dev.chosen_on,
        )

    def metrics(self, result: FitResult, run: RunInfo) -> dict[str, Any]:
        """``metrics.json``: the test set's figures under the chosen rule, the dev folders, and the run."""
        report, rule = self.report, self.dev.rule
        return dict(
            test_accuracy=report.accuracy,
            test_loss=report.loss,
            test_errors=int(len(report.misclassified)),
            test_size=len(report.labels),
            test_answered_right=self.answered_right(),
            test_ece=self.test_ece,
            temperature=self.temperature,
            abstain_below=rule.abstain_below,
            answer_rule=rule.describe(),
            dev_sets=self.dev.results,
            kept_out_handwriting=self.kept_out,
            per_class=report.per_class,
            confusion_matrix=report.confusion.tolist(),
            num_parameters=result.model.num_parameters,
            train_seconds=round(result.train_seconds, 1),
            best_epoch=result.best_epoch,
            best_val_accuracy=result.best_val_accuracy,
            epochs_run=len(result.history),
            interrupted=result.interrupted,
            validation_size=run.validation_size,
            train_size=run.train_size,
            extra_data=run.extra_data,
            handwriting=run.handwriting,
            lr_sweep={f"{lr:g}": acc for lr, acc in run.lr_sweep.items()} if run.lr_sweep else None,
            config={"recipe": run.recipe, **run.model_config, **asdict(run.cfg)},
            seed=run.cfg.seed,
            command=run.command,
            hardware=run.hardware,
            torch_version=torch.__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )


@dataclass(frozen=True)
class DevRuleChoice:
    """Where and how the answer rule is chosen: the dev folders (never trained on), the share of letters that
    may be named a digit, and the rule used without the folders (its runner-up threshold is kept)."""

    dev_dirs: list[Path]
    letters_budget: float
    default_rule: AnswerRule


def evaluate_model(
    model: nn.Module,
    val: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    cfg: TrainConfig,
    choice: DevRuleChoice,
    kept_out: dict[str, list[Sample]] | None = None,
) -> Evaluation:
    """Calibrate on the validation split, evaluate on the test set, measure on the dev folders and choose the
    answer rule there, then measure the real handwriting ``kept_out`` of training under it; each figure is
    logged."""
    # Temperature scaling on held-out data only: the confidence shown becomes a calibrated probability.
    held_x, held_y = held_out_set(*val, cfg, with_negatives=True)
    temperature = fit_temperature(predict_logits(model, held_x), held_y)
    log.info("Temperature %.3f (fitted on the validation split)", temperature)
    report = evaluate_test_set(model, *test, temperature)
    test_ece = expected_calibration_error(report.confidence, report.predictions == report.labels)
    log.info("Test accuracy %s, loss %.4f, ECE %.2f points", report.summary(), report.loss, 100 * test_ece)
    predictor = Predictor(model, temperature, 0.0)  # no abstention: the rule is chosen on its answers
    dev = measure_dev_dirs(predictor, choice.dev_dirs, choice.letters_budget, choice.default_rule)
    if choice.dev_dirs and dev.results is None:
        log.warning("No folders of digits and of letters in %s: not measuring real handwriting.", choice.dev_dirs)
    log.info("Answer rule: %s (chosen on %s)", dev.rule.describe(), dev.chosen_on)
    for name, row in (dev.results or {}).items():
        log.info("%s: %s", name, row["summary"])
    kept_out_figures = measure_kept_out(Predictor(model, temperature, rule=dev.rule), kept_out) if kept_out else None
    for name, row in (kept_out_figures or {}).items():
        log.info("%s, writers kept out of training: %s", name, row["summary"])
    return Evaluation(temperature, report, dev, kept_out_figures)


def measure_kept_out(predictor: Predictor, kept_out: dict[str, list[Sample]]) -> dict[str, dict]:
    """Per handwriting folder, the app's answers (under its rule) on the files whose writers were kept out."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the app
    try:
        figures = {}
        for name, samples in kept_out.items():
            report = measure_inputs(predictor, kept_out_inputs(samples))
            people = len({sample.person.split("_")[-1] for sample in samples})
            what = "letters" if name.endswith("letters") else "symbols"
            row = digit_figures(report) if report.holds_digits else non_digit_figures(report, what)
            figures[name] = {**row, "people": people, "summary": f"{row['summary']} by {people} people"}
        return figures
    finally:
        torch.set_num_threads(threads)
