"""The training loop: one epoch of augmented mini-batches, validation, and best-on-validation keeping."""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from .data import augment_batch, to_float

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
    seed: int = 0


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits for uint8 images ``(N, 28, 28)``, in evaluation mode."""
    was_training = model.training
    model.eval()
    logits = torch.cat([model(to_float(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return logits


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on uint8 images."""
    logits = predict_logits(model, images)
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return loss, accuracy


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
    generator = torch.Generator().manual_seed(cfg.seed)
    train_x, train_y = train
    steps_per_epoch = len(train_x) // cfg.batch_size  # drop the ragged last batch: BN dislikes tiny ones
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.2
    )
    averaged = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        if cfg.ema_decay > 0
        else None
    )
    scored = averaged.module if averaged is not None else model

    result = FitResult(model=copy.deepcopy(scored).eval())
    start = time.perf_counter()
    try:
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            lr = scheduler.get_last_lr()[0]
            order = torch.randperm(len(train_x), generator=generator)
            total_loss, correct, seen = 0.0, 0, 0
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress, leave=False)
            for step in bar:
                idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                x, y = to_float(train_x[idx]), train_y[idx]
                if cfg.augment:
                    x = augment_batch(x, generator)
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                if averaged is not None:
                    averaged.update_parameters(model)
                total_loss += loss.item() * len(y)
                correct += (logits.argmax(1) == y).sum().item()
                seen += len(y)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{total_loss / seen:.4f}")
            bar.close()
            val_loss, val_accuracy = evaluate(scored, *val)
            record = EpochRecord(
                epoch=epoch,
                train_loss=total_loss / seen,
                train_accuracy=correct / seen,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                lr=lr,
                seconds=time.perf_counter() - epoch_start,
            )
            result.history.append(record)
            # Ties go to the later epoch: same validation accuracy, more training.
            if val_accuracy >= result.best_val_accuracy:
                result.best_epoch, result.best_val_accuracy = epoch, val_accuracy
                result.model = copy.deepcopy(scored).eval()
            log.info(
                "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  lr %.2e  %.1fs",
                epoch, cfg.epochs, record.train_loss, record.train_accuracy, val_loss, val_accuracy, lr, record.seconds,
            )  # fmt: skip
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        result.interrupted = True
        log.warning("Interrupted: keeping the best weights so far (epoch %d).", result.best_epoch)
    result.train_seconds = time.perf_counter() - start
    return result
