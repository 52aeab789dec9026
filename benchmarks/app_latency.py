"""Latency of the demo: in-process prediction, the API against a trivial endpoint, and cold start.

    .venv/bin/python benchmarks/app_latency.py

Prints medians and tail percentiles; all figures come from this one run on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import DIGIT_STROKES, draw_digit, free_port  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def in_process(n: int) -> None:
    from mnist_cnn.hub import load_model_source
    from mnist_cnn.predict import Predictor

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


def start(command: list[str], port: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("MODEL_REPO", None)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *command, "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    for line in process.stdout:
        if "Running on local URL" in line:
            break
    return process, started


def api(n: int, files: list[str]) -> None:
    from gradio_client import Client, handle_file

    app_port, echo_port = free_port(), free_port()
    app, _ = start(["app.py"], app_port)
    echo, _ = start(["benchmarks/echo_app.py"], echo_port)
    try:
        clients = {"app": Client(f"http://127.0.0.1:{app_port}/", verbose=False),
                   "echo": Client(f"http://127.0.0.1:{echo_port}/", verbose=False)}  # fmt: skip
        times: dict[str, list[float]] = {"app": [], "echo": []}
        for i in range(n + 5):
            for name, client in clients.items():  # interleaved, so both see the same machine
                start_time = time.perf_counter()
                client.predict(handle_file(files[i % len(files)]), api_name="/predict")
                if i >= 5:
                    times[name].append(1000 * (time.perf_counter() - start_time))
        p50 = {name: statistics.median(ms) for name, ms in times.items()}
        for name, ms in times.items():
            print(f"API {name:4s} ({n} calls, gradio_client on loopback): p50 {p50[name]:.1f} ms, "
                  f"p90 {percentile(ms, 90):.1f} ms")  # fmt: skip
        print(f"API p50 ratio app / trivial echo endpoint: {p50['app'] / p50['echo']:.3f}")
    finally:
        for process in (app, echo):
            process.terminate()


def cold_start(files: list[str], runs: int) -> None:
    from gradio_client import Client, handle_file

    results = []
    for _ in range(runs):
        port = free_port()
        process, started = start(["app.py"], port)
        try:
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(files[0]), api_name="/predict")
            results.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait()
    print(f"cold start, python app.py to first answered prediction ({runs} runs): "
          f"median {statistics.median(results):.2f} s, max {max(results):.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="in-process calls")
    parser.add_argument("--api-calls", type=int, default=100, help="API calls per endpoint")
    parser.add_argument("--cold-starts", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    files = []
    for digit in DIGIT_STROKES:
        path = folder / f"{digit}.png"
        draw_digit(digit).save(path)
        files.append(str(path))
    in_process(args.calls)
    api(args.api_calls, files)
    cold_start(files, args.cold_starts)


if __name__ == "__main__":
    main()
