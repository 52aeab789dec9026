"""Where a training step's time goes, for the step ``fit()`` really runs.

    .venv/bin/python benchmarks/train_step.py --data-dir ../shared/data/mnist [--recipe default]

The settings are train.py's own (its command line, parsed the same way), and the two halves are the
functions ``fit()`` calls: ``training_batch`` (indexing, uint8 to float, writing styles, generated
non-digits, distortions) and ``training_step`` (forward, loss, backward, AdamW, the one-cycle schedule
and the weight-average update). Prints the median of each, the total per step and the epoch it implies.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_cnn.learning.data import load_mnist, split_train_validation
from mnist_cnn.learning.training import make_optimizer, negatives_per_batch, training_batch, training_step
from mnist_cnn.model import MnistCNN
from train import RECIPES, VALIDATION_SIZE, parse_args, training_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $MNIST_DATA_DIR)")
    parser.add_argument("--recipe", default="default", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg, model_config = training_settings(parse_args(["--recipe", args.recipe]))
    data = load_mnist("data", args.data_dir)
    (train_x, train_y), _ = split_train_validation(data.train_images, data.train_labels, VALIDATION_SIZE)
    torch.manual_seed(cfg.seed)
    model = MnistCNN(**model_config).to(memory_format=torch.channels_last).train()
    steps_per_epoch = len(train_x) // cfg.batch_size
    optimizer, scheduler, averaged = make_optimizer(model, cfg, steps_per_epoch)
    n_negatives = negatives_per_batch(model, cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(train_x), generator=generator)
    prep, step = [], []
    for i in range(args.steps):
        t0 = time.perf_counter()
        idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
        x, y = training_batch(train_x[idx], train_y[idx], cfg, n_negatives, generator)
        t1 = time.perf_counter()
        training_step(model, x, y, cfg, optimizer, scheduler, averaged)
        t2 = time.perf_counter()
        if i >= 10:  # warm-up
            prep.append(t1 - t0)
            step.append(t2 - t1)
    p, s = statistics.median(prep), statistics.median(step)
    print(
        f"recipe {args.recipe}: batch {cfg.batch_size} digits + {n_negatives} generated non-digits, "
        f"EMA {cfg.ema_decay}, {args.threads} threads, {len(prep)} steps measured"
    )
    print(f"batch preparation    median {1000 * p:7.2f} ms  ({100 * p / (p + s):.1f}% of a step)")
    print(f"optimization step    median {1000 * s:7.2f} ms  (forward, backward, AdamW, schedule, weight average)")
    print(f"total per step              {1000 * (p + s):7.2f} ms")
    print(f"estimated epoch             {(p + s) * steps_per_epoch:7.1f} s  ({steps_per_epoch} steps)")


if __name__ == "__main__":
    main()
