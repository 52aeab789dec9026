"""The drawing pad's live path: answers while the pen moves, their latency, server events per stroke, the
reader's start and download, and the server CPU per live update.

    .venv/bin/python benchmarks/live_pad.py [--strokes 7] [--frames 300]

1. In headless Chromium (Debian's), mouse strokes of two seconds on the pad of `python app.py`, once with
   the in-browser reader and once with the server reading every frame (the same app with its runtime files
   hidden: PAD_RUNTIME_DIR pointing at an empty folder), in this run: the answers that reach the page
   before the button is released (per second of stroke), the time from each pointer event to the next
   answer on the page, the events sent to the server per stroke, and the time from pointer-up to the
   final answer (the browser: its "pad-final" measure, from the pointer-up handler to the answer handed to
   the page) and to the why overlay on the page; and, with the in-browser reader, the answers per second of
   a stroke begun at a pen-up, while that drawing's explanation runs in the workers. Medians over the
   strokes (latencies: over every pointer event).
   Also, on a first visit (empty cache): when the reader is ready (data-engine="browser") after the page's
   load event, and the bytes downloaded, by kind.
2. Server CPU seconds per live update (from /proc/<pid>/stat), for `app.py` and for the trivial
   `benchmarks/echo_app.py` (same pad, same event, a constant answer), each sent the same frames over raw
   HTTP (the queue protocol the page uses), one after another, in the same run: what each pen movement
   cost the server before the reader moved into the browser.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS, DIGIT_STROKES, RunningApp, draw_digit, pad_event, pad_frame_body
from mnist_cnn.web.pad import png_data_url

# Installed before the page's own scripts: when the reader became ready; each pointer event (when it was
# made and when the page handled it); each change of the answer on the page (the label, the 28x28 view,
# the status); and each answer from the server (its frame number). The pad itself marks each reading in
# the browser ("pad-read": when it started, how long it took) and each frame sent ("pad-frame").
WATCH = """(() => {
    window.watch = { readyAt: null, loadAt: null, events: [], changes: [], served: [], down: false, upAt: null,
                     whyAt: [] };
    const w = window.watch;
    window.addEventListener('load', () => { w.loadAt = performance.now(); });
    const pointer = (e) => { if (w.down) w.events.push([e.timeStamp, performance.now()]); };
    window.addEventListener('pointerdown', (e) => { w.down = true; pointer(e); }, true);
    // the pad takes its points from pointerrawupdate where the browser has it (sooner than pointermove)
    window.addEventListener('onpointerrawupdate' in window ? 'pointerrawupdate' : 'pointermove', pointer, true);
    window.addEventListener('pointerup', () => { w.down = false; w.upAt = performance.now(); }, true);
    window.addEventListener('pad-answer', (e) => { w.served.push([e.detail.seq, performance.now()]); });
    new MutationObserver((records) => {
        for (const r of records) {
            const target = r.target instanceof Element ? r.target : r.target.parentElement;
            if (r.type === 'attributes' && r.attributeName === 'data-engine' && target.dataset.engine === 'browser') {
                w.readyAt ??= performance.now();
            }
            if (target?.closest?.('#status, #model-input, #prediction')) { w.changes.push(performance.now()); return; }
            if (target?.closest?.('#why-image')) w.whyAt.push(performance.now());
        }
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})()"""

TIMELINE = """() => ({
    reads: performance.getEntriesByName('pad-read').map(e => [e.startTime, e.startTime + e.duration]),
    frames: performance.getEntriesByName('pad-frame').map(e => [e.detail, e.startTime]),
    finals: performance.getEntriesByName('pad-final').map(e => e.duration),
})"""


def answer_latencies(watch: dict, timeline: dict, engine: str) -> list[float]:
    """For each pointer event, the time until the page shows an answer that includes its ink.

    In the browser: the first reading that started after the event was handled; it is on the page at the
    first change of the answer after the reading ended (or at its end, when the page already showed the
    same). On the server: the first frame sent after the event was handled; its answer, or a later
    frame's, is on the page when it arrives."""
    changes = sorted(watch["changes"])
    latencies = []
    if engine == "browser":
        reads = sorted(timeline["reads"])
        for made, handled in watch["events"]:
            later = [(start, end) for start, end in reads if start >= handled]
            if not later:
                continue
            start, end = later[0]
            following = [t for t, _ in reads if t > start]
            shown = [t for t in changes if end <= t < (following[0] if following else float("inf"))]
            latencies.append((shown[0] if shown else end) - made)
    else:
        frames, served = timeline["frames"], sorted(watch["served"], key=lambda s: s[1])
        for made, handled in watch["events"]:
            sent = [seq for seq, at in frames if at >= handled]
            arrived = [at for seq, at in served if sent and seq >= sent[0]]
            if arrived:
                latencies.append(arrived[0] - made)
    return latencies


def kind_of(url: str) -> str:
    if "/pad-reader/model.onnx" in url:
        return "model"
    if "/pad-reader/explain.onnx" in url:
        return "explanation graph"
    if "/pad-reader/ort" in url:
        return "runtime"
    if "/pad-reader/" in url:
        return "reader.mjs"
    return "page"


def first_visit(browser, url: str) -> dict:
    """A visit with an empty cache: bytes downloaded by kind, and when the reader became ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    downloaded: dict[str, int] = {}
    cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))

    def finished(event: dict) -> None:
        kind = kind_of(urls.get(event["requestId"], ""))
        downloaded[kind] = downloaded.get(kind, 0) + int(event["encodedDataLength"])

    cdp.on("Network.loadingFinished", finished)
    page.add_init_script(WATCH)
    page.goto(url)
    page.wait_for_selector('#drawing-pad[data-engine="browser"]', timeout=60_000)
    page.wait_for_selector('#drawing-pad[data-explainer="browser"]', timeout=60_000)
    page.wait_for_timeout(3000)  # the gallery's requests come later: let them finish
    watch = page.evaluate("window.watch")
    context.close()
    return {
        "downloaded": downloaded,
        "ready_after_load_ms": watch["readyAt"] - watch["loadAt"],
        "ready_ms": watch["readyAt"],
        "load_ms": watch["loadAt"],
    }


def strokes_on(browser, url: str, strokes: int, engine: str) -> dict:
    """Two-second strokes of a 0; the first warms the page and the server up and is not counted."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sent: list[float] = []
    page.on("request", lambda r: sent.append(time.monotonic()) if "queue/join" in r.url else None)
    page.add_init_script(WATCH)
    page.goto(url)
    page.wait_for_selector(f'#drawing-pad[data-engine="{engine}"]', timeout=60_000)
    page.wait_for_timeout(2500 if engine == "server" else 500)  # the reader would have loaded by now
    assert page.locator("#drawing-pad").get_attribute("data-engine") == engine
    box = page.locator("#drawing-pad canvas").bounding_box()
    outline = DIGIT_STROKES[0][0]  # a 0: one long stroke
    path = [
        (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
        for a, b in zip(outline, outline[1:], strict=False)
        for t in np.linspace(0, 1, 16)[1:]
    ]
    rates, finals, latencies, events, whys, rates_explaining = [], [], [], [], [], []
    for stroke in range(strokes + 1):
        if page.locator("#clear-button").is_enabled():
            page.locator("#clear-button").click()
        page.wait_for_timeout(1000)
        page.evaluate("() => { Object.assign(window.watch, { events: [], changes: [], served: [] }); }")
        page.evaluate(
            "() => { ['pad-read', 'pad-final'].forEach((m) => performance.clearMeasures(m)); "
            "performance.clearMarks('pad-frame'); }"
        )
        sent_before = len(sent)
        page.mouse.move(box["x"] + path[0][0] / 400 * box["width"], box["y"] + path[0][1] / 400 * box["height"])
        answers_before = int(page.locator("#drawing-pad").get_attribute("data-answers"))
        page.mouse.down()
        down_at = page.evaluate("performance.now()")
        stroke_ms = 2000
        for i, (x, y) in enumerate(path):  # evenly over two seconds of page time
            page.mouse.move(box["x"] + x / 400 * box["width"], box["y"] + y / 400 * box["height"])
            wait = down_at + stroke_ms * (i + 1) / len(path) - page.evaluate("performance.now()")
            if wait > 0:
                page.wait_for_timeout(wait)
        answers_during = int(page.locator("#drawing-pad").get_attribute("data-answers")) - answers_before
        up_at = page.evaluate("performance.now()")
        page.mouse.up()
        page.wait_for_timeout(2000)  # the final answer and its explanation
        watch, timeline = page.evaluate("window.watch"), page.evaluate(TIMELINE)
        if stroke == 0:
            continue
        rates.append(answers_during / ((up_at - down_at) / 1000))
        after = [t for t in watch["changes"] if t > watch["upAt"]]
        if engine == "browser":  # the final answer is often what the page already shows: no change to see
            finals.append(timeline["finals"][0])
        else:
            finals.append((after[0] if after else float("nan")) - watch["upAt"])
        why = [t for t in watch["whyAt"] if t > up_at]
        whys.append((why[0] if why else float("nan")) - up_at)
        latencies += answer_latencies(watch, timeline, engine)
        events.append(len(sent) - sent_before)
    for _ in range(strokes if engine == "browser" else 0):  # a stroke at once after a pen-up
        page.locator("#clear-button").click()
        page.wait_for_timeout(1000)
        draw_quick_stroke(page, box)
        rates_explaining.append(stroke_while_explaining(page, box))
    page.close()
    return {
        "rates": rates,
        "finals": finals,
        "latencies": latencies,
        "events": events,
        "whys": whys,
        "rates_explaining": rates_explaining,
    }


def draw_quick_stroke(page, box: dict) -> None:
    """A 1 drawn in a quarter of a second: its pen-up starts an explanation."""
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.15 * box["height"])
    page.mouse.down()
    for i in range(1, 9):
        page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + (0.15 + 0.07 * i) * box["height"])
        page.wait_for_timeout(30)
    page.mouse.up()


def stroke_while_explaining(page, box: dict) -> float:
    """Right after a pen-up (its explanation now runs in the workers), a one-second stroke: the answers per
    second it gets while the workers compute."""
    started = page.evaluate("performance.now()")
    answers_before = int(page.locator("#drawing-pad").get_attribute("data-answers"))
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.8 * box["height"])
    page.mouse.down()
    for i in range(1, 31):
        page.mouse.move(box["x"] + (0.3 + 0.013 * i) * box["width"], box["y"] + 0.8 * box["height"])
        wait = started + 1000 * i / 30 - page.evaluate("performance.now()")
        if wait > 0:
            page.wait_for_timeout(wait)
    answers = int(page.locator("#drawing-pad").get_attribute("data-answers")) - answers_before
    seconds = (page.evaluate("performance.now()") - started) / 1000
    page.mouse.up()
    return answers / seconds


def browser_part(reader_url: str, server_url: str, strokes: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        visit = first_visit(browser, reader_url)
        runs = {
            "in-browser reader": strokes_on(browser, reader_url, strokes, "browser"),
            "server reads every frame": strokes_on(browser, server_url, strokes, "server"),
        }
        browser.close()
    mb = {kind: size / 1e6 for kind, size in sorted(visit["downloaded"].items())}
    print("first visit (empty cache), downloaded: " + ", ".join(f"{kind} {size:.2f} MB" for kind, size in mb.items()))
    print(
        f"  in all {sum(mb.values()):.2f} MB; before the explanation's graph (which loads after the reader) "
        f"{sum(size for kind, size in mb.items() if kind != 'explanation graph'):.2f} MB"
    )
    print(
        f"  reader ready {visit['ready_after_load_ms']:.0f} ms after the page's load event "
        f"({visit['ready_ms']:.0f} ms after navigation started; load event at {visit['load_ms']:.0f} ms)"
    )
    print(f"{strokes} two-second strokes on the pad (headless Chromium):")
    for name, run in runs.items():
        lat = run["latencies"]
        print(f"  {name}:")
        print(
            f"    answers before pointer-up: median {statistics.median(run['rates']):.1f} per second "
            f"(min {min(run['rates']):.1f}, max {max(run['rates']):.1f})"
        )
        print(
            f"    pointer event to an answer that includes it, on the page: p50 {np.percentile(lat, 50):.1f} ms, "
            f"p90 {np.percentile(lat, 90):.1f} ms ({len(lat)} events)"
        )
        print(
            f"    events sent to the server per stroke: median {statistics.median(run['events']):.0f} "
            f"(min {min(run['events'])}, max {max(run['events'])})"
        )
        print(
            f"    pointer-up to the final answer: median {statistics.median(run['finals']):.0f} ms "
            f"(min {min(run['finals']):.0f}, max {max(run['finals']):.0f})"
        )
        print(
            f"    pointer-up to the why overlay on the page: median {np.nanmedian(run['whys']):.0f} ms "
            f"(min {np.nanmin(run['whys']):.0f}, max {np.nanmax(run['whys']):.0f})"
        )
        if run["rates_explaining"]:
            rates = run["rates_explaining"]
            print(
                f"    answers per second in a stroke started at the pen-up, while the explanation runs: "
                f"median {statistics.median(rates):.1f} (min {min(rates):.1f})"
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
    no_runtime = tempfile.mkdtemp(prefix="no-runtime-")  # an empty runtime folder: the server reads
    app, echo = RunningApp(offline), RunningApp(offline, script="benchmarks/echo_app.py")
    server_only = RunningApp({**offline, "PAD_RUNTIME_DIR": no_runtime})
    try:
        browser_part(app.url, server_only.url, args.strokes)
        server_only.stop()
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
        server_only.stop()


if __name__ == "__main__":
    main()
