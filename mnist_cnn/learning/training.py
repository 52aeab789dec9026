"""The training loop: one epoch of augmented mini-batches, validation, and best-on-validation keeping."""

from __future__ import annotations

import copy
import logging
import math
import platform
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from mnist_cnn.classes import NOT_A_DIGIT

from .data import augment_batch, to_float
from .redraw import elastic, font_letters, redraw_batch, skeleton_distance
from .synthetic import add_style_strokes, letters_among_negatives, make_negatives

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    ema_decay: float = 0.999  # 0 turns the weight average off
    augment: bool = True
    style_strokes: float = 0.5  # share of 0s, 1s and 7s given a slash, a flag or a bar
    negatives: float = 0.25  # generated non-digits per batch, as a share of its digits (needs 11 outputs)
    restroke: float = 0.0  # share of digits whose skeleton is drawn again with a random round pen (redraw.py)
    scan_like: float = 0.0  # share of digits rendered thick and blurred, like a low-resolution scan
    elastic: float = 0.0  # share of images given an elastic distortion (Simard et al., 2003)
    font_letters: float = 0.0  # share of the generated letters taken from fonts and redrawn by pen (redraw.py)
    seed: int = 0
    device: str = "cpu"


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float

    def describe(self) -> str:
        return (
            f"train loss {self.train_loss:.4f} acc {self.train_accuracy:.4f}  val loss {self.val_loss:.4f} "
            f"acc {self.val_accuracy:.4f}  lr {self.lr:.2e}  {self.seconds:.1f}s"
        )


@dataclass
class FitResult:
    model: nn.Module  # the best-on-validation weights, in eval mode
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: float = 0.0
    train_seconds: float = 0.0
    interrupted: bool = False

    def history_dict(self) -> dict[str, list[float]]:
        rows = [asdict(r) for r in self.history]
        return {key: [row[key] for row in rows] for key in asdict(self.history[0])} if rows else {}

    def summary(self) -> str:
        return f"best epoch {self.best_epoch}/{len(self.history)}, {self.train_seconds:.0f} s of training"


# Set by a stop signal. The KeyboardInterrupt the handler raises can land in a finalizer (a tqdm bar's
# __del__), where Python prints it and carries on; the loop then stops at its next step all the same.
STOP = threading.Event()


def stop_requested(signum: int, frame) -> None:
    """Signal handler for Ctrl-C and SIGTERM: stop training (at once, else after the current batch)."""
    STOP.set()
    raise KeyboardInterrupt


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; a named device must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(name.split(":")[0], False):
        raise ValueError(f"device {name!r} is not available here (choose auto, cpu, cuda or mps)")
    return torch.device(name)


@torch.no_grad()
def describe_device(device: str) -> str:
    """The hardware a run used, in words, for the metrics and the model card."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    if device == "mps":
        return f"Apple MPS ({platform.machine()})"
    return f"{torch.get_num_threads()} CPU threads ({platform.machine()})"


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits on the CPU for uint8 ``(N, 28, 28)`` or float ``(N, 1, 28, 28)`` images, in evaluation mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size].to(device)
        chunks.append(model(to_float(batch) if batch.dtype == torch.uint8 else batch).float().cpu())
    model.train(was_training)
    return torch.cat(chunks)


def digit_predictions(logits: torch.Tensor) -> torch.Tensor:
    """The digit read from each row of logits: the best of outputs 0-9 (an 11th output is "not a digit")."""
    return logits[:, :10].argmax(1)


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and digit accuracy on uint8 images."""
    logits = predict_logits(model, images)
    loss = F.cross_entropy(logits, labels.cpu()).item()
    accuracy = (digit_predictions(logits) == labels.cpu()).float().mean().item()
    return loss, accuracy


@torch.no_grad()
def held_out_set(
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: TrainConfig,
    with_negatives: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation images as the model meets them in use: float, with the writing styles and generated
    non-digits of training (fixed by the seed), without the random distortions. For fitting the
    temperature and choosing thresholds."""
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    n_negatives = round(cfg.negatives * len(images)) if with_negatives else 0
    return add_generated(to_float(images), labels.clone(), cfg, n_negatives, generator)


def add_generated(
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    n_negatives: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A float batch with its share of writing styles, and ``n_negatives`` generated non-digits appended."""
    if cfg.style_strokes > 0:
        x = add_style_strokes(x, y, generator, cfg.style_strokes)
    if n_negatives > 0:
        n_drawn = round(cfg.font_letters * letters_among_negatives(n_negatives))
        drawn = font_letters(n_drawn, generator, x.device) if n_drawn else None
        x = torch.cat([x, make_negatives(x, y, n_negatives, generator, drawn)])
        y = torch.cat([y, torch.full((n_negatives,), NOT_A_DIGIT, device=y.device, dtype=y.dtype)])
    return x, y


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T that minimizes the cross-entropy of ``logits / T`` (temperature scaling)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        return F.cross_entropy(logits / math.exp(log_t), labels).item()

    return float(math.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def model_outputs(model: nn.Module) -> int:
    return next(m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear)).out_features


def negatives_per_batch(model: nn.Module, cfg: TrainConfig) -> int:
    """Generated non-digits added to each batch (none for a 10-output model)."""
    return round(cfg.negatives * cfg.batch_size) if cfg.negatives > 0 and model_outputs(model) > NOT_A_DIGIT else 0


def generated_per_epoch(cfg: TrainConfig, train_size: int) -> int:
    """Generated non-digits one epoch of ``train_size`` images sees (for an 11-output model)."""
    return round(cfg.negatives * cfg.batch_size) * (train_size // cfg.batch_size) if cfg.negatives > 0 else 0


def make_optimizer(
    model: nn.Module,
    cfg: TrainConfig,
    steps_per_epoch: int,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, AveragedModel | None]:
    """AdamW, its one-cycle schedule, and the weight average (EMA) that is validated and kept, if any."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=cfg.lr,
        epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=0.2,
    )
    averaged = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        if cfg.ema_decay > 0
        else None
    )
    return optimizer, scheduler, averaged


def training_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: TrainConfig,
    n_negatives: int,
    generator: torch.Generator,
    distances: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 digits as the model trains on them: float, redrawn with other pens or as scans (``distances``:
    their ``skeleton_distance``, for restroking), writing styles, generated non-digits, distortions."""
    x = to_float(images)
    if cfg.restroke > 0 or cfg.scan_like > 0:
        x = redraw_batch(x, distances, generator, cfg.restroke, cfg.scan_like)
    x, y = add_generated(x, labels, cfg, n_negatives, generator)
    if cfg.augment:
        x = augment_batch(x, generator)
    if cfg.elastic > 0:
        distorted = torch.rand(len(x), generator=generator, device=x.device) < cfg.elastic
        x = torch.where(distorted.view(-1, 1, 1, 1), elastic(x, generator), x)
    return x.contiguous(memory_format=torch.channels_last), y


def training_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    averaged: AveragedModel | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step as fit() runs it (forward, loss, backward, AdamW, schedule, weight average)."""
    logits = model(x)
    loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if averaged is not None:
        averaged.update_parameters(model)
    return loss, logits


@dataclass
class EpochBatches:
    """The training images on the device, and what each batch is built with."""

    images: torch.Tensor
    labels: torch.Tensor
    distances: torch.Tensor | None  # skeleton distances, for restroking
    n_negatives: int
    generator: torch.Generator


def train_one_epoch(
    model: nn.Module,
    batches: EpochBatches,
    cfg: TrainConfig,
    optimization: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, AveragedModel | None],
    bar: tqdm,
) -> tuple[float, float]:
    """One pass over the training images in a random order (``bar`` counts its steps); the mean training
    loss and accuracy."""
    model.train()
    device = batches.images.device
    order = torch.randperm(len(batches.images), generator=batches.generator, device=device)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for step in bar:
        if STOP.is_set():
            raise KeyboardInterrupt
        idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        distances = batches.distances[idx] if batches.distances is not None else None
        x, y = training_batch(
            batches.images[idx], batches.labels[idx], cfg, batches.n_negatives, batches.generator, distances
        )
        loss, logits = training_step(model, x, y, cfg, *optimization)
        # Summed on the device; read once per 20 steps, so the GPU is not stalled every step.
        total_loss += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{total_loss.item() / seen:.4f}")
    bar.close()
    return total_loss.item() / seen, correct.item() / seen


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    cfg: TrainConfig,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> FitResult:
    """Train ``model`` on uint8 ``train`` images, validate after each epoch, keep the best weights.

    Ctrl-C stops after the current batch; the best weights so far are still returned.
    """
    seed_everything(cfg.seed)
    device = torch.device(cfg.device)
    if device.type == "cuda":
        # Bitwise repeatable on the same GPU: deterministic kernels (a little slower).
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    # Data, augmentation and model all live on the device: no CPU round trip in the loop.
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    train_x, train_y = train[0].to(device), train[1].to(device)
    # the skeletons to restroke, found once on the CPU (about 4 s for 55,000 digits)
    train_d = skeleton_distance(train[0]).to(device) if cfg.restroke > 0 else None
    model.to(device)
    n_negatives = negatives_per_batch(model, cfg)
    steps_per_epoch = len(train_x) // cfg.batch_size  # drop the ragged last batch: BN dislikes tiny ones
    optimizer, scheduler, averaged = make_optimizer(model, cfg, steps_per_epoch)
    scored = averaged.module if averaged is not None else model

    result = FitResult(model=copy.deepcopy(scored).eval())
    start = time.perf_counter()
    try:
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            lr = scheduler.get_last_lr()[0]
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress, leave=False)
            batches = EpochBatches(train_x, train_y, train_d, n_negatives, generator)
            train_loss, train_accuracy = train_one_epoch(model, batches, cfg, (optimizer, scheduler, averaged), bar)
            val_loss, val_accuracy = evaluate(scored, *val)
            seconds = time.perf_counter() - epoch_start
            record = EpochRecord(epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds)
            result.history.append(record)
            # Ties go to the later epoch: same validation accuracy, more training.
            if val_accuracy >= result.best_val_accuracy:
                result.best_epoch, result.best_val_accuracy = epoch, val_accuracy
                result.model = copy.deepcopy(scored).eval()
            log.info("epoch %d/%d  %s", epoch, cfg.epochs, record.describe())
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        result.interrupted = True
        log.warning("Interrupted: keeping the best weights so far (epoch %d).", result.best_epoch)
    result.train_seconds = time.perf_counter() - start
    result.model = result.model.cpu()
    return result


def sweep_learning_rates(
    new_model: Callable[[], nn.Module],
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    cfg: TrainConfig,
    lrs: list[float],
    epochs: int,
    progress: bool = True,
) -> dict[float, float] | None:
    """A short run of ``epochs`` per learning rate, each on a fresh ``new_model()``: the best validation
    accuracy of each, or None when a run was interrupted."""
    log.info("Learning-rate sweep: %d runs of %d epochs", len(lrs), epochs)
    sweep: dict[float, float] = {}
    for lr in lrs:
        short = fit(new_model(), train, val, replace(cfg, lr=lr, epochs=epochs), progress)
        sweep[lr] = short.best_val_accuracy
        if short.interrupted:
            return None
    return sweep
