"""Latency of the demo: cold start, in-process prediction, and the API against a trivial endpoint.

    .venv/bin/python benchmarks/app_latency.py

Both servers are started by the tests' own helper (tests/conftest.py RunningApp: same environment, start
deadline). The trivial endpoint (benchmarks/echo_app.py) takes the same upload and returns the same three
outputs (label, 28x28 image, status) through the same queue. Cold starts come first, each after emptying
the page cache when running as root. Prints medians and tail percentiles from this one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import DIGIT_STROKES, RunningApp, draw_digit

OFFLINE = {"HF_HUB_OFFLINE": "1"}  # the shipped model, as the tests run the app


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def in_process(n: int) -> None:
    from mnist_cnn.hub import load_model_source
    from mnist_cnn.reading.predict import Predictor

    torch.set_num_threads(1)  # as in app.py
    predictor = Predictor.from_bundle(load_model_source())
    canvases = [draw_digit(d) for d in DIGIT_STROKES]  # 400x400 RGBA, as the pad sends
    for canvas in canvases * 5:  # warm-up
        predictor(canvas)
    times = []
    for i in range(n):
        start = time.perf_counter()
        predictor(canvases[i % len(canvases)])
        times.append(time.perf_counter() - start)
    ms = [1000 * t for t in times]
    p50, p90, p99 = (percentile(ms, q) for q in (50, 90, 99))
    print(f"in-process predict (preprocessing + model), {n} calls:")
    print(f"  p50 {p50:.2f} ms, p90 {p90:.2f} ms, p99 {p99:.2f} ms")


def huge_image(n: int) -> None:
    """A 4000x4000 photo-sized canvas: the preprocessing reduces it first (tests check only its reading)."""
    from PIL import Image, ImageDraw

    from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
    from mnist_cnn.reading.predict import Predictor

    torch.set_num_threads(1)
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    image = Image.new("RGBA", (4000, 4000), (255, 255, 255, 255))
    ImageDraw.Draw(image).line([(2000, 500), (2000, 3500)], fill=(0, 0, 0, 255), width=200)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        assert predictor(image).digit == 1
        times.append(1000 * (time.perf_counter() - start))
    print(
        f"in-process predict of a 4000x4000 canvas ({n} calls): median {statistics.median(times):.0f} ms, "
        f"max {max(times):.0f} ms"
    )


def api(n: int, files: list[str]) -> None:
    """predict through gradio_client against the trivial endpoint with the same input, outputs and queue."""
    from gradio_client import Client, handle_file

    app, echo = RunningApp(OFFLINE), RunningApp(OFFLINE, script="benchmarks/echo_app.py")
    try:
        clients = {"app": Client(app.url, verbose=False), "echo": Client(echo.url, verbose=False)}
        times: dict[str, list[float]] = {"app": [], "echo": []}
        for i in range(n + 5):
            for name, client in clients.items():  # interleaved, so both see the same machine
                start_time = time.perf_counter()
                outputs = client.predict(handle_file(files[i % len(files)]), api_name="/predict")
                if i >= 5:
                    times[name].append(1000 * (time.perf_counter() - start_time))
                assert len(outputs) == 3, outputs  # label, 28x28 image, status: the same shape from both
        p50 = {name: statistics.median(ms) for name, ms in times.items()}
        for name, ms in times.items():
            print(
                f"API {name:4s} ({n} calls, gradio_client on loopback): p50 {p50[name]:.1f} ms, "
                f"p90 {percentile(ms, 90):.1f} ms"
            )
        print(f"API p50 ratio app / trivial echo endpoint: {p50['app'] / p50['echo']:.3f}")
    finally:
        app.stop()
        echo.stop()


def drop_page_cache() -> bool:
    """Empty the kernel's page cache (root only), so a start reads torch, Gradio and the weights from disk."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def cold_start(files: list[str], runs: int) -> None:
    """python app.py to the first answered prediction, each start on an emptied page cache when allowed."""
    from gradio_client import Client, handle_file

    results, dropped = [], []
    for _ in range(runs):
        dropped.append(drop_page_cache())
        started = time.perf_counter()
        app = RunningApp(OFFLINE)  # the tests' helper: same environment, start deadline enforced
        try:
            Client(app.url, verbose=False).predict(handle_file(files[0]), api_name="/predict")
            results.append(time.perf_counter() - started)
        finally:
            app.stop()
    cache = "page cache emptied before each" if all(dropped) else "page cache NOT emptied (needs root): warm starts"
    print(
        f"cold start, python app.py to first answered prediction ({runs} runs, {cache}): "
        f"median {statistics.median(results):.2f} s, min {min(results):.2f} s, max {max(results):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="in-process calls")
    parser.add_argument("--huge-calls", type=int, default=10, help="in-process calls on a 4000x4000 canvas")
    parser.add_argument("--api-calls", type=int, default=100, help="API calls per endpoint")
    parser.add_argument("--cold-starts", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    files = []
    for digit in DIGIT_STROKES:
        path = folder / f"{digit}.png"
        draw_digit(digit).save(path)
        files.append(str(path))
    # a count of 0 skips that part
    if args.cold_starts:
        cold_start(files, args.cold_starts)  # first, before the other parts warm anything
    if args.calls:
        in_process(args.calls)
    if args.huge_calls:
        huge_image(args.huge_calls)
    if args.api_calls:
        api(args.api_calls, files)


if __name__ == "__main__":
    main()
