"""How much a recipe's test accuracy depends on the seed: train.py once per seed, then a table.

    .venv/bin/python benchmarks/seeds.py --data-dir ../shared/data/mnist                 # quick recipe, seeds 0-2
    .venv/bin/python benchmarks/seeds.py --recipe default --seeds 0 1 2 --data-dir ...   # ~35 min per seed on 2 cores

Each run is the real command line (``python train.py --recipe R --seed S``) writing its bundle to a
temporary folder (or under ``--out``, one folder per seed). Prints, per seed, the test accuracy, errors,
best validation epoch and training time from its metrics.json, then the mean, spread and machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="quick", help="train.py recipe (default: quick)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $MNIST_DATA_DIR)")
    parser.add_argument("--out", type=Path, help="keep the bundles here, one folder per seed (default: temporary)")
    parser.add_argument("--threads", type=int, help="CPU threads for each run (default: train.py's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="seeds-") as scratch:
        base = args.out or Path(scratch)
        rows = []
        for seed in args.seeds:
            out = base / f"{args.recipe}-seed{seed}"
            command = [
                sys.executable,
                "train.py",
                "--recipe",
                args.recipe,
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--no-progress",
            ]
            command += ["--data-dir", args.data_dir] if args.data_dir else []
            command += ["--threads", str(args.threads)] if args.threads else []
            print(f"seed {seed}: {' '.join(command[1:])}", flush=True)
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"seed {seed} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
            rows.append(json.loads((out / "metrics.json").read_text()))

    print(f"\nrecipe {args.recipe}, {len(rows)} seeds, {rows[0]['hardware']}, torch {rows[0]['torch_version']}")
    print("  seed | test accuracy | errors | best epoch | training")
    for m in rows:
        print(
            f"  {m['seed']:4d} | {100 * m['test_accuracy']:12.2f}% | {m['test_errors']:6d} | "
            f"{m['best_epoch']:4d} of {m['epochs_run']:<3d} | {m['train_seconds']:7.0f} s"
        )
    accuracies = [100 * m["test_accuracy"] for m in rows]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(
        f"  mean {statistics.mean(accuracies):.2f}%, standard deviation {spread:.2f} points, "
        f"min {min(accuracies):.2f}%, max {max(accuracies):.2f}%; "
        f"median training time {statistics.median(m['train_seconds'] for m in rows):.0f} s"
    )


if __name__ == "__main__":
    main()
