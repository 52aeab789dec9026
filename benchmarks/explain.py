"""How long "why this digit?" takes, and how exact its Integrated Gradients are, on real handwriting.

    .venv/bin/python benchmarks/explain.py [--dev ../shared/data/pen-dev] [--images 200]

For the first N canvases of ``pen_digits/``, on one CPU thread as the app runs it: the time of a whole
explanation as the app computes it (read the drawing, the model's reading, Integrated Gradients, the
overlay), and the integration error (|sum of attributions - logit difference| / |logit difference|).
Target: under 100 ms for one image.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.explain import STEPS, explain, explain_input
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import sketch_to_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dev = os.environ.get("PEN_DEV_DIR") or ROOT.parent / "shared" / "data" / "pen-dev"
    parser.add_argument("--dev", type=Path, default=Path(default_dev), help="folder holding pen_digits/")
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the app: one thread per worker
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    files = sorted((args.dev / "pen_digits").glob("*.png"))[: args.images]
    if not files:
        sys.exit(f"No pen_digits/*.png under {args.dev}")
    explain_input(predictor, files[0])  # warm-up
    seconds, errors = [], []
    for path in files:
        started = time.perf_counter()
        explain_input(predictor, path)
        seconds.append(time.perf_counter() - started)
        field = sketch_to_mnist(path)
        image = torch.from_numpy(field).view(1, 1, 28, 28)
        with torch.no_grad():
            logits = predictor.model(torch.cat([image, torch.zeros_like(image)]))
        digit = int(logits[0, :10].argmax())
        explanation = explain(predictor.model, field, digit)
        errors.append(abs(explanation.delta) / abs(float(logits[0, digit] - logits[1, digit])))
    ms = 1000 * np.array(seconds)
    print(f"{len(files)} pen_digits drawings, Integrated Gradients with {STEPS} steps, 1 thread:")
    print(
        f"  whole explanation: median {np.median(ms):.0f} ms, p90 {np.percentile(ms, 90):.0f} ms, "
        f"max {ms.max():.0f} ms (target: under 100 ms)"
    )
    print(
        f"  integration error: median {100 * np.median(errors):.1f}%, p90 {100 * np.percentile(errors, 90):.1f}%, "
        f"max {100 * max(errors):.1f}% of the logit difference from a blank canvas"
    )


if __name__ == "__main__":
    main()
