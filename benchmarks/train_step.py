"""Where a training step's time goes: batch preparation (indexing, uint8->float, augmentation) vs the
model (forward, backward, optimizer). Prints medians over many steps of the default recipe.

    .venv/bin/python benchmarks/train_step.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_cnn.data import augment_batch, load_mnist, split_train_validation, to_float  # noqa: E402
from mnist_cnn.model import MnistCNN  # noqa: E402
from train import RECIPES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $MNIST_DATA_DIR)")
    parser.add_argument("--recipe", default="default", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = RECIPES[args.recipe]
    data = load_mnist("data", args.data_dir)
    (train_x, train_y), _ = split_train_validation(data.train_images, data.train_labels)
    model = MnistCNN(channels=recipe["channels"], dropout=recipe["dropout"]).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(train_x), generator=generator)
    batch = recipe["batch_size"]
    prep, step = [], []
    for i in range(args.steps):
        t0 = time.perf_counter()
        idx = order[i * batch : (i + 1) * batch]
        x = augment_batch(to_float(train_x[idx]), generator)
        y = train_y[idx]
        t1 = time.perf_counter()
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        if i >= 10:  # warm-up
            prep.append(t1 - t0)
            step.append(t2 - t1)
    p, s = statistics.median(prep), statistics.median(step)
    steps_per_epoch = len(train_x) // batch
    print(f"recipe {args.recipe}, batch {batch}, {args.threads} threads, {len(prep)} steps measured")
    print(f"batch preparation  median {1000 * p:7.2f} ms  ({100 * p / (p + s):.1f}% of a step)")
    print(f"model step         median {1000 * s:7.2f} ms")
    print(f"estimated epoch    {(p + s) * steps_per_epoch:7.1f} s  ({steps_per_epoch} steps)")


if __name__ == "__main__":
    main()
