"""The drawing pad's live path: answers while the pen moves, time to the final answer, server CPU per update.

    .venv/bin/python benchmarks/live_pad.py [--strokes 7] [--frames 300]

1. In headless Chromium (Debian's), mouse strokes of two seconds on the pad of `python app.py`: the answers
   that reach the page before the button is released (per second of stroke), and the time from pointer-up
   to the answer for the finished drawing. Medians over the strokes.
2. Server CPU seconds per live update (from /proc/<pid>/stat), for `app.py` and for the trivial
   `benchmarks/echo_app.py` (same pad, same event, a constant answer), each sent the same frames over raw
   HTTP (the queue protocol the page uses), one after another, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS, DIGIT_STROKES, RunningApp, draw_digit, pad_event, pad_frame_body  # noqa: E402
from mnist_cnn.pad import png_data_url  # noqa: E402

WATCH_ANSWERS = """() => {
    window.arrivals = [];
    window.upAt = null;
    let last = null;
    window.addEventListener('pointerup', () => { window.upAt = performance.now(); }, true);
    new MutationObserver(() => {
        const src = document.querySelector('#model-input img')?.src ?? null;
        if (src && src !== last) { window.arrivals.push(performance.now()); last = src; }
    }).observe(document.querySelector('#model-input'), {subtree: true, childList: true, attributes: true});
}"""


def browser_strokes(url: str, strokes: int) -> None:
    from playwright.sync_api import sync_playwright

    rates, finals = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("#drawing-pad canvas", timeout=60_000)
        page.evaluate(WATCH_ANSWERS)
        box = page.locator("#drawing-pad canvas").bounding_box()
        outline = DIGIT_STROKES[0][0]  # a 0: one long stroke
        path = [
            (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
            for a, b in zip(outline, outline[1:], strict=False)
            for t in np.linspace(0, 1, 16)[1:]
        ]
        for stroke in range(strokes + 1):  # the first stroke warms the page and the server up: not counted
            if page.locator("#clear-button").is_enabled():
                page.locator("#clear-button").click()
            page.wait_for_timeout(500)
            page.evaluate("() => { window.arrivals = []; }")
            page.mouse.move(box["x"] + path[0][0] / 400 * box["width"], box["y"] + path[0][1] / 400 * box["height"])
            page.mouse.down()
            down_at = page.evaluate("performance.now()")
            stroke_ms = 2000
            for i, (x, y) in enumerate(path):  # evenly over two seconds of page time
                page.mouse.move(box["x"] + x / 400 * box["width"], box["y"] + y / 400 * box["height"])
                wait = down_at + stroke_ms * (i + 1) / len(path) - page.evaluate("performance.now()")
                if wait > 0:
                    page.wait_for_timeout(wait)
            page.mouse.up()
            page.wait_for_timeout(1500)
            arrivals, up_at = page.evaluate("window.arrivals"), page.evaluate("window.upAt")
            if stroke == 0:
                continue
            during = [t for t in arrivals if down_at <= t <= up_at]
            rates.append(len(during) / ((up_at - down_at) / 1000))
            finals.append(arrivals[-1] - up_at)
        browser.close()
    print(f"browser, {strokes} two-second strokes on the pad (headless Chromium):")
    print(
        f"  answers before pointer-up: median {statistics.median(rates):.1f} per second "
        f"(min {min(rates):.1f}, max {max(rates):.1f})"
    )
    print(
        f"  pointer-up to the final answer: median {statistics.median(finals):.0f} ms "
        f"(min {min(finals):.0f}, max {max(finals):.0f})"
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def frames(n: int) -> list[dict]:
    """Pad frames as the page sends them: 400x400 PNG data URLs of digits drawn with growing ink."""
    images = [png_data_url(draw_digit(digit, width=24)) for digit in DIGIT_STROKES]
    return [{"image": images[i % len(images)], "seq": i + 1, "floor": 0} for i in range(n)]


def server_cpu(url: str, pid: int, sent: list[dict]) -> tuple[float, float]:
    """CPU seconds of the server per frame, and the median round trip in ms, sending frames one at a time."""
    fn_index, pad_id = pad_event(url)
    with httpx.Client(base_url=url, timeout=60) as http:
        session = uuid.uuid4().hex
        round_trips = []

        def send(frame: dict) -> None:
            started = time.perf_counter()
            http.post("gradio_api/queue/join", json=pad_frame_body(frame, fn_index, pad_id, session))
            with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                        break
            round_trips.append(1000 * (time.perf_counter() - started))

        for frame in sent[:20]:  # warm-up
            send(frame)
        round_trips.clear()
        before = cpu_seconds(pid)
        for frame in sent:
            send(frame)
        return (cpu_seconds(pid) - before) / len(sent), statistics.median(round_trips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=7, help="two-second strokes in the browser")
    parser.add_argument("--frames", type=int, default=300, help="frames sent to each server for the CPU figure")
    args = parser.parse_args()
    offline = {"HF_HUB_OFFLINE": "1"}
    app, echo = RunningApp(offline), RunningApp(offline, script="benchmarks/echo_app.py")
    try:
        browser_strokes(app.url, args.strokes)
        sent = frames(args.frames)
        app_cpu, app_rtt = server_cpu(app.url, app.process.pid, sent)
        echo_cpu, echo_rtt = server_cpu(echo.url, echo.process.pid, sent)
        print(f"server CPU per live update ({args.frames} frames of a 400x400 drawing, raw HTTP, one at a time):")
        print(f"  app.py         {1000 * app_cpu:.1f} ms CPU, round trip p50 {app_rtt:.1f} ms")
        print(f"  trivial echo   {1000 * echo_cpu:.1f} ms CPU, round trip p50 {echo_rtt:.1f} ms")
        print(f"  ratio app / trivial: CPU {app_cpu / echo_cpu:.2f}x, round trip {app_rtt / echo_rtt:.2f}x")
    finally:
        app.stop()
        echo.stop()


if __name__ == "__main__":
    main()
