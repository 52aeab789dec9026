"""What saving visitors' corrections costs: in the process, and through the running app to a Hub dataset.

    .venv/bin/python benchmarks/feedback.py [--dev ../shared/data/pen-dev] [--drawings 200] [--sessions 20 --each 25]

1. In the process, on one CPU thread as the app runs it: the whole handler for one correction (the frame
   checked and decoded, the model's reading, the limits, the PNGs re-encoded, images and row written and
   fsync'ed) on the first N canvases of ``pen_digits/``; and the bytes each correction takes on disk.
2. The app (``app.py``) pushing to the test Hub of ``tests/hub_server.py`` on 127.0.0.1 every 3 s: S
   sessions at once, each sending E corrections one after another over raw HTTP (join the queue, read the
   event stream); answers per second, latency, and the time from the last answer until every row is in
   the dataset repo.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hub_server import start_hub

from conftest import RunningApp, component_event, queue_join_body
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.web.feedback.guard import CorrectionGuard, CorrectionLimits
from mnist_cnn.web.feedback.store import LABELS, FeedbackConfig, FeedbackStore, model_fields
from mnist_cnn.web.tabs.feedback import FeedbackHandlers

TOKEN = "hf_benchmark_write_token_0123456789"


class Request:
    """What the handler reads of a ``gr.Request``: the session and the connection's address."""

    def __init__(self, session: str):
        self.session_hash = session
        self.client = type("Client", (), {"host": "127.0.0.1"})()
        self.headers: dict[str, str] = {}


def frame(path: Path) -> dict:
    return {"image": "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode(), "seq": 1}


def in_process(files: list[Path]) -> None:
    torch.set_num_threads(1)
    bundle = load_bundle_folder(SHIPPED_BUNDLE)
    with tempfile.TemporaryDirectory() as folder:
        store = FeedbackStore(FeedbackConfig(folder=Path(folder)), model_fields(bundle))
        guard = CorrectionGuard(CorrectionLimits(per_session_minute=10**6, per_address_hour=10**6))
        handlers = FeedbackHandlers(Predictor.from_bundle(bundle), store, guard)
        seconds = []
        for k, path in enumerate(files):
            label = path.stem.rsplit("_", 1)[-1]
            started = time.perf_counter()
            answer = handlers.save_correction({"label": label, "request": k}, frame(path), Request("bench"))
            seconds.append(time.perf_counter() - started)
            assert answer["saved"], answer
        on_disk = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    ms = 1000 * np.array(seconds)
    print(f"1. In the process: {len(files)} pen_digits canvases, 1 thread, each saved with fsync")
    print(
        f"   per correction: median {np.median(ms):.1f} ms, p90 {np.percentile(ms, 90):.1f} ms, "
        f"max {ms.max():.1f} ms; {on_disk / len(files) / 1024:.1f} KB on disk each (drawing, 28x28, row)"
    )


def through_the_app(files: list[Path], sessions: int, each: int) -> None:
    hub, server, url = start_hub({TOKEN: "bench"})
    home = tempfile.mkdtemp(prefix="hf-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {
        "HF_ENDPOINT": url,
        "HF_HOME": home,
        "HF_TOKEN": TOKEN,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "FEEDBACK_REPO": "bench/corrections",
        "FEEDBACK_EVERY_MINUTES": "0.05",
        "FEEDBACK_ADDRESS_PER_HOUR": str(10 * sessions * each),
    }
    app = RunningApp(env, script="app.py")
    n = min(sessions * each, len(files))  # each correction a canvas of its own: a repeat would be refused
    frames = [frame(path) for path in files[:n]]
    try:
        event = component_event(app.url, "feedback")

        async def visitor(number: int) -> list[float]:
            session, latencies = uuid.uuid4().hex, []
            async with httpx.AsyncClient(base_url=app.url, timeout=120) as http:
                for k in range(number, n, sessions):
                    choice = {"label": LABELS[k % 11], "seq": 1, "request": k}
                    body = queue_join_body([choice, frames[k]], *event, session)
                    started = time.perf_counter()
                    await http.post("gradio_api/queue/join", json=body)
                    stream = await http.get("gradio_api/queue/data", params={"session_hash": session})
                    latencies.append(time.perf_counter() - started)
                    assert '"saved":true' in stream.text.replace(" ", ""), stream.text[-300:]
            return latencies

        async def crowd() -> list[list[float]]:
            return await asyncio.gather(*(visitor(v) for v in range(sessions)))

        started = time.perf_counter()
        latencies = np.array([t for per in asyncio.run(crowd()) for t in per]) * 1000
        answered = time.perf_counter() - started
        key = "datasets/bench/corrections"
        while True:
            files_in_repo = hub.files(key) if key in hub.repos else {}
            rows = sum(c.count(b"\n") for p, c in files_in_repo.items() if p.endswith("metadata.jsonl"))
            if rows >= len(latencies) or time.perf_counter() - started > answered + 120:
                break
            time.sleep(0.1)
        pushed = time.perf_counter() - started - answered
    finally:
        app.stop()
        server.shutdown()
    print(
        f"2. Through the app: {sessions} sessions at once, {len(latencies)} corrections over raw HTTP, pushed every 3 s"
    )
    print(
        f"   {len(latencies) / answered:.1f} corrections/s; latency median {np.median(latencies):.0f} ms, "
        f"p99 {np.percentile(latencies, 99):.0f} ms; all {rows} rows in the dataset repo {pushed:.1f} s after the "
        "last answer"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dev = os.environ.get("PEN_DEV_DIR") or ROOT.parent / "shared" / "data" / "pen-dev"
    parser.add_argument("--dev", type=Path, default=Path(default_dev), help="folder holding pen_digits/")
    parser.add_argument("--drawings", type=int, default=200, help="canvases saved in the process")
    parser.add_argument("--sessions", type=int, default=20, help="sessions at once through the app (0: skip)")
    parser.add_argument("--each", type=int, default=25, help="corrections per session")
    args = parser.parse_args()
    files = sorted((args.dev / "pen_digits").glob("*.png"))
    if not files:
        sys.exit(f"No pen_digits/*.png under {args.dev}")
    in_process(files[: args.drawings])
    if args.sessions:
        through_the_app(files, args.sessions, args.each)


if __name__ == "__main__":
    main()
