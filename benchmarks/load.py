"""Load on a public link, over raw HTTP: API clients, drawing visitors, and an overload.

    .venv/bin/python benchmarks/load.py [--clients 16] [--seconds 60] [--visitors 20] [--readers 200]
                                        [--overload 300] [--only api visitors readers overload]

1. API: N clients, each in a loop: upload a drawing (POST /gradio_api/upload), call `predict`
   (POST /gradio_api/call/predict), read the event stream to its end. Against `python app.py` and against
   `benchmarks/echo_app.py` (same inputs, outputs and queue, handlers that do no work), one after the
   other in this run. Prints answers/s, latency p50/p99, errors (HTTP errors, error events, wrong digits)
   and the server's CPU seconds per answer (from /proc/<pid>/stat).
2. Drawing visitors: each draws digits stroke by stroke, producing a pad frame 10 times a second, and
   sends them as the page does (the pad's queue event; while one frame is being read, only the newest
   waits: trigger_mode="always_last"). Prints the update latency and whether every finished drawing
   got the right digit.
3. Overload: bursts of far more clients than the queue holds, all at once, each with a timeout (API
   calls with uploads, and pad frames, in turn). Prints how many
   were answered, refused with 503 "Queue is full" (and how fast), timed out or failed; the server's RSS
   before, after and at its peak; and whether a normal prediction works afterwards.
4. Visitors whose browser reads the drawing (the in-browser reader): each fetches the page's assets once
   (the page, the assets its HTML names, the config, the reader's module, runtime, gzipped .wasm and
   model), then sends the frame of a finished drawing every 2 s, as the pad does on pen-up. Prints the
   final answer's latency p50/p99, errors, whether each was read right, the server CPU per drawn stroke
   and, when part 2 ran too, the same beside a stroke's cost when the server reads every frame.
5. Visitors whose browser answers and explains (the pad today): N visitors arriving evenly over the run's
   first 60 s. Each fetches the page's assets once (as part 4, and every module of the reader and the
   explanation, and explain.onnx), keeps the page's heartbeat stream open as a browser does, and draws a
   digit or a number every 2 s: in the browser, so no request. Prints errors, refusals, the first visit's
   download time (p50, p99) and the server's CPU per visitor and per drawing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_reader import pad_reader_settings
from live_pad import cpu_seconds

from conftest import DIGIT_STROKES, RunningApp, draw_digit, pad_event, pad_frame_body, top_label
from mnist_cnn.web.pad import png_data_url
from mnist_cnn.web.pad.reader import MODULE_NAMES

FILE_META = {"_type": "gradio.FileData"}


# --- the server process, from /proc ----------------------------------------------------------------


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS now, peak RSS since the process started) in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


# --- the HTTP protocol -----------------------------------------------------------------------------


def png_bytes(digit: int) -> bytes:
    buffer = io.BytesIO()
    draw_digit(digit).save(buffer, format="PNG")
    return buffer.getvalue()


async def read_stream(response: httpx.Response) -> tuple[str, object]:
    """The last event of a server-sent event stream that matters: ("complete", data) or ("error", data)."""
    kind = None
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind in ("complete", "error"):
            return kind, json.loads(line.split(":", 1)[1])
    return "closed", None


async def predict_once(
    http: httpx.AsyncClient,
    png: bytes,
    session: str | None = None,
    call_started: list[float] | None = None,
) -> tuple[str, object]:
    """Upload, call, read: ("complete", outputs), ("error", message), ("http <status>", body).

    ``session``: the session hash to send, as gradio_client and the page do (one per client); without
    it, each call is a new session, as with curl.
    """
    uploaded = await http.post("gradio_api/upload", files={"files": ("digit.png", png, "image/png")})
    if uploaded.status_code != 200:
        return f"http {uploaded.status_code}", uploaded.text
    [path] = uploaded.json()
    file_data = {"path": path, "orig_name": "digit.png", "meta": FILE_META}
    if call_started is not None:
        call_started.append(time.perf_counter())
    posted = await http.post("gradio_api/call/predict", json={"data": [file_data], "session_hash": session})
    if posted.status_code != 200:
        return f"http {posted.status_code}", posted.text
    async with http.stream("GET", f"gradio_api/call/predict/{posted.json()['event_id']}") as stream:
        return await read_stream(stream)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# --- 1. API clients --------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def api_clients(url: str, clients: int, seconds: float, check_digit: bool, sessions: bool = True) -> Tally:
    pngs = {digit: png_bytes(digit) for digit in DIGIT_STROKES}
    tally = Tally()
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=2 * clients)

    async def client(number: int) -> None:
        digits = list(pngs)
        session = uuid.uuid4().hex if sessions else None
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            i = number
            while time.perf_counter() < stop_at:
                digit = digits[i % len(digits)]
                i += 1
                started = time.perf_counter()
                try:
                    kind, data = await predict_once(http, pngs[digit], session)
                except httpx.HTTPError as err:
                    tally.error(type(err).__name__)
                    continue
                if kind != "complete":
                    tally.error(kind)
                elif check_digit and top_label(data) != str(digit):
                    tally.error("wrong digit")
                else:
                    tally.latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return tally


def run_api(
    app: RunningApp,
    name: str,
    clients: int,
    seconds: float,
    check_digit: bool,
    sessions: bool,
) -> dict[str, float]:
    asyncio.run(api_clients(app.url, 2, 3, check_digit))  # warm-up
    cpu0 = cpu_seconds(app.process.pid)
    started = time.perf_counter()
    tally = asyncio.run(api_clients(app.url, clients, seconds, check_digit, sessions))
    wall = time.perf_counter() - started
    cpu = cpu_seconds(app.process.pid) - cpu0
    answers = len(tally.latencies)
    row = {
        "answers/s": answers / wall,
        "p50 ms": 1000 * pct(tally.latencies, 50),
        "p99 ms": 1000 * pct(tally.latencies, 99),
        "errors": sum(tally.errors.values()),
        "server CPU ms/answer": 1000 * cpu / max(1, answers),
    }
    print(
        f"  {name:8s} {answers} answers in {wall:.0f} s: {row['answers/s']:.1f}/s, p50 {row['p50 ms']:.0f} ms, "
        f"p99 {row['p99 ms']:.0f} ms, errors {row['errors']} {tally.errors or ''}, "
        f"server CPU {row['server CPU ms/answer']:.1f} ms per answer"
    )
    return row


# --- 2. drawing visitors ---------------------------------------------------------------------------


def stroke_frames(digit: int, frames: int) -> list[str]:
    """Data URLs of a drawing growing from nothing to the whole digit, as the pad sends them."""
    from PIL import Image, ImageDraw

    points = [(stroke_index, p) for stroke_index, stroke in enumerate(DIGIT_STROKES[digit]) for p in stroke]
    out = []
    for f in range(1, frames + 1):
        shown = max(2, round(len(points) * f / frames))
        image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        for stroke_index in range(len(DIGIT_STROKES[digit])):
            stroke = [p for s, p in points[:shown] if s == stroke_index]
            if len(stroke) >= 2:
                draw.line(stroke, fill=(0, 0, 0, 255), width=26, joint="curve")
        out.append(png_data_url(image))
    return out


async def send_frame(
    http: httpx.AsyncClient,
    fn_index: int,
    pad_id: int,
    session: str,
    frame: dict,
    joined_at: list[float] | None = None,
) -> tuple[str, object]:
    """One pad frame through the queue, as the page sends it: ("complete", answer), ("error", message)
    or ("http <status>", body)."""
    body = pad_frame_body(frame, fn_index, pad_id, session)
    if joined_at is not None:
        joined_at.append(time.perf_counter())
    joined = await http.post("gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return f"http {joined.status_code}", joined.text
    async with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                if message.get("success"):
                    return "complete", message["output"]["data"][0]
                return "error", message.get("output", {}).get("error")
    return "closed", None


async def visitor(
    url: str,
    fn_index: int,
    pad_id: int,
    frames: dict[int, list[str]],
    seconds: float,
    number: int,
    results: dict,
) -> None:
    """One visitor: draws digits at 10 frames a second, always_last, and checks each finished drawing."""
    session = uuid.uuid4().hex
    seq = 0
    stop_at = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def send(image: str) -> tuple[tuple[str, object], float]:
            started = time.perf_counter()
            outcome = await join_and_read(image)
            return outcome, time.perf_counter() - started

        async def join_and_read(image: str) -> tuple[str, object]:
            nonlocal seq
            seq += 1
            return await send_frame(http, fn_index, pad_id, session, {"image": image, "seq": seq, "floor": 0})

        digits = list(frames)
        d = number
        while time.perf_counter() < stop_at:
            digit = digits[d % len(digits)]
            d += 1
            drawing = frames[digit]
            started = time.perf_counter()
            in_flight: asyncio.Task | None = None
            for i, frame in enumerate(drawing):
                # a new frame every 100 ms; while one is being read, newer ones replace each other
                await asyncio.sleep(max(0.0, started + 0.1 * i - time.perf_counter()))
                if in_flight is not None and not in_flight.done():
                    continue
                if in_flight is not None:
                    record(results, *in_flight.result(), None)
                in_flight = asyncio.create_task(send(frame))
            if in_flight is not None:
                record(results, *(await in_flight), None)
            # the pointer-up frame: the finished drawing, sent once the last answer is in
            record(results, *(await send(drawing[-1])), str(digit))
            await asyncio.sleep(0.3)


def record(results: dict, outcome: tuple[str, object], latency: float, expected: str | None) -> None:
    kind, answer = outcome
    if kind != "complete":
        results["errors"].append(kind)
        return
    results["latencies"].append(latency)
    if expected is not None:
        results["finals"].append(top_label(answer) == expected)


def run_visitors(app: RunningApp, visitors: int, seconds: float) -> float:
    """Returns the server CPU seconds per visitor per second of drawing."""
    fn_index, pad_id = pad_event(app.url)
    frames = {digit: stroke_frames(digit, 20) for digit in DIGIT_STROKES}  # 2 s of drawing per digit
    results: dict[str, list] = {"latencies": [], "errors": [], "finals": []}
    cpu0 = cpu_seconds(app.process.pid)

    async def everyone() -> None:
        await asyncio.gather(
            *(visitor(app.url, fn_index, pad_id, frames, seconds, n, results) for n in range(visitors))
        )

    started = time.perf_counter()
    asyncio.run(everyone())
    wall = time.perf_counter() - started
    cpu = cpu_seconds(app.process.pid) - cpu0
    lat, finals = results["latencies"], results["finals"]
    print(
        f"  {visitors} visitors for {wall:.0f} s: {len(lat)} updates answered ({len(lat) / wall:.1f}/s, "
        f"{len(lat) / wall / visitors:.1f}/s per visitor), update latency p50 {1000 * pct(lat, 50):.0f} ms, "
        f"p99 {1000 * pct(lat, 99):.0f} ms; errors {len(results['errors'])}; finished drawings read right: "
        f"{sum(finals)}/{len(finals)}; server CPU {1000 * cpu / max(1, len(lat)):.1f} ms per update, "
        f"{1000 * cpu / wall / visitors:.0f} ms per visitor per second of drawing"
    )
    return cpu / wall / visitors


# --- 4. visitors whose browser reads the drawing ---------------------------------------------------


async def first_visit_assets(http: httpx.AsyncClient) -> int:
    """What a first visit fetched before the page answered on pen-up: the page, the assets its HTML names,
    the config, and the in-browser reader's files (module, runtime, .wasm gzipped, model). Returns the bytes
    received."""
    return await first_visit(
        http, lambda reader: [reader["module"], reader["runtime"], reader["wasm"], reader["model"]]
    )


async def first_visit(http: httpx.AsyncClient, reader_files: Callable[[dict], list[str]]) -> int:
    """A first visit: the page, the assets its HTML names, the config, then the files ``reader_files`` names
    from the pad's reader settings, over a browser's six connections. Returns the bytes received."""
    page = await http.get("")
    page.raise_for_status()
    names = set(re.findall(r'(?:src|href)="(?:\./|/)?(assets/[^"]+)"', page.text))
    config = await http.get("config")
    config.raise_for_status()
    urls = [*sorted(names), *reader_files(pad_reader_settings(config.json()))]
    # a browser's six connections per origin, each fetching its share of the files one after the other
    shares = [urls[n::BROWSER_CONNECTIONS] for n in range(BROWSER_CONNECTIONS)]
    base = httpx.URL(str(http.base_url))
    sizes = await asyncio.gather(*(raw_downloads(base, share) for share in shares if share))
    return len(page.content) + len(config.content) + sum(sizes)


BROWSER_CONNECTIONS = 6


async def reading_visitor(
    url: str,
    fn_index: int,
    pad_id: int,
    drawings: dict[int, str],
    seconds: float,
    number: int,
    visitors: int,
    results: dict,
) -> None:
    """One visitor whose browser reads while the pen moves: the page's assets once, then a finished
    drawing sent every 2 s (the frame of pen-up), each answer checked."""
    session = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await asyncio.sleep(2.0 * number / visitors)  # visitors arrive spread out, not all at once
        try:
            results["asset_bytes"].append(await first_visit_assets(http))
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, StopIteration, KeyError) as err:
            results["errors"].append(f"assets: {type(err).__name__}")
            return
        digits = list(drawings)
        seq = 0
        started = time.perf_counter()
        stop_at = started + seconds
        while time.perf_counter() < stop_at:
            digit = digits[(number + seq) % len(digits)]
            seq += 1
            sent = time.perf_counter()
            try:
                outcome = await send_frame(
                    http, fn_index, pad_id, session, {"image": drawings[digit], "seq": seq, "floor": 0}
                )
            except httpx.HTTPError as err:
                outcome = (f"transport {type(err).__name__}", None)
            record(results, outcome, time.perf_counter() - sent, str(digit))
            await asyncio.sleep(max(0.0, started + 2.0 * seq - time.perf_counter()))


def run_reading_visitors(app: RunningApp, visitors: int, seconds: float) -> float:
    """Returns the server CPU seconds per drawn stroke."""
    fn_index, pad_id = pad_event(app.url)
    drawings = {digit: stroke_frames(digit, 20)[-1] for digit in DIGIT_STROKES}
    results: dict[str, list] = {"latencies": [], "errors": [], "finals": [], "asset_bytes": []}
    cpu0, client0 = cpu_seconds(app.process.pid), cpu_seconds(os.getpid())

    async def everyone() -> None:
        await asyncio.gather(
            *(
                reading_visitor(app.url, fn_index, pad_id, drawings, seconds, n, visitors, results)
                for n in range(visitors)
            )
        )

    started = time.perf_counter()
    asyncio.run(everyone())
    wall = time.perf_counter() - started
    cpu, client = cpu_seconds(app.process.pid) - cpu0, cpu_seconds(os.getpid()) - client0
    lat, finals = results["latencies"], results["finals"]
    per_stroke = cpu / max(1, len(lat))
    errors = {kind: results["errors"].count(kind) for kind in sorted(set(results["errors"]))}
    assets = results["asset_bytes"]
    print(
        f"  {visitors} visitors for {wall:.0f} s: {len(lat)} drawings answered ({len(lat) / wall:.1f}/s); "
        f"final answer p50 {1000 * pct(lat, 50):.0f} ms, p99 {1000 * pct(lat, 99):.0f} ms (target <= 1000); "
        f"errors {len(results['errors'])} {errors}; read right: {sum(finals)}/{len(finals)}"
    )
    print(
        f"  CPU over the run: server {cpu:.1f} s ({cpu / wall:.2f} cores), this load generator {client:.1f} s "
        f"({client / wall:.2f} cores), on {os.cpu_count()} cores"
    )
    print(
        f"  server CPU {1000 * per_stroke:.1f} ms per drawn stroke (the whole run, page assets included: "
        f"{cpu:.1f} s); a first visit fetched {statistics.median(assets) / 1e6:.2f} MB from the server"
        if assets
        else f"  server CPU {1000 * per_stroke:.1f} ms per drawn stroke"
    )
    return per_stroke


# --- 5. visitors whose browser answers and explains ------------------------------------------------


async def answering_assets(http: httpx.AsyncClient) -> int:
    """A first visit today: the page, its assets, the config, every module of the reader and the
    explanation, the runtime, the model and the explanation's graph. Returns the bytes received."""

    def reader_files(reader: dict) -> list[str]:
        folder = reader["module"].rsplit("/", 1)[0]
        modules = [f"{folder}/{name}" for name in MODULE_NAMES]
        return [*modules, reader["runtime"], reader["wasm"], reader["model"], reader["explain"]["model"]]

    return await first_visit(http, reader_files)


async def raw_downloads(base: httpx.URL, paths: list[str]) -> int:
    """GET each path over one kept-alive HTTP/1.1 connection, gzip accepted, and count the bytes of the
    bodies. The bodies are read with asyncio's streams and dropped: httpx, in this one Python process,
    spends more CPU per byte than the server does, and on 2 cores the load generator, not the server,
    became the bottleneck (its core saturated while the server's sat idle)."""
    reader, writer = await asyncio.open_connection(base.host, base.port)
    received = 0
    try:
        for path in paths:
            target = base.path.rstrip("/") + "/" + path
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {base.host}:{base.port}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
            )
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(head[0].split()[1])
            fields = (line.split(": ", 1) for line in head[1:] if ": " in line)
            headers = {name.lower(): value for name, value in fields}
            if status != 200:
                raise httpx.HTTPStatusError(
                    f"{path}: HTTP {status}", request=httpx.Request("GET", target), response=httpx.Response(status)
                )
            if headers.get("transfer-encoding") == "chunked":
                received += await read_chunked(reader)
            else:
                received += await read_exactly(reader, int(headers["content-length"]))
    finally:
        writer.close()
    return received


async def read_exactly(reader: asyncio.StreamReader, length: int) -> int:
    """Read ``length`` bytes of a body and drop them."""
    left = length
    while left:
        chunk = await reader.read(min(left, 1 << 20))
        if not chunk:
            raise httpx.RemoteProtocolError("the connection closed mid-body")
        left -= len(chunk)
    return length


async def read_chunked(reader: asyncio.StreamReader) -> int:
    """Read a chunked body (its sizes in hex, each chunk then CRLF, a zero-size chunk last) and drop it."""
    received = 0
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        received += await read_exactly(reader, size)
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")  # no trailers: the empty line that ends the body
    return received


async def heartbeat(http: httpx.AsyncClient, session: str, stop: asyncio.Event, results: dict) -> None:
    """The page's heartbeat stream, open until the visitor leaves (Gradio's page keeps one per tab)."""
    try:
        async with http.stream("GET", f"gradio_api/heartbeat/{session}", timeout=None) as response:
            if response.status_code != 200:
                results["errors"].append(f"heartbeat HTTP {response.status_code}")
                return
            async for _ in response.aiter_lines():
                if stop.is_set():
                    return
    except httpx.HTTPError as err:
        if not stop.is_set():
            results["errors"].append(f"heartbeat {type(err).__name__}")


async def answering_visitor(url: str, arrive: float, seconds: float, results: dict) -> None:
    """One visitor: arrives at ``arrive`` s, downloads the page once, keeps its stream open and draws every
    2 s for ``seconds`` s (in the browser: nothing is sent)."""
    await asyncio.sleep(arrive)
    session = uuid.uuid4().hex
    limits = httpx.Limits(max_connections=6)  # as a browser, per origin
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        started = time.perf_counter()
        try:
            results["asset_bytes"].append(await answering_assets(http))
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, KeyError, TypeError) as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            results["refused" if status in (429, 503) else "errors"].append(f"assets: {type(err).__name__} {status}")
            return
        results["download_s"].append(time.perf_counter() - started)
        stop = asyncio.Event()
        beat = asyncio.create_task(heartbeat(http, session, stop, results))
        drawn_until = time.perf_counter() + seconds
        while time.perf_counter() < drawn_until:
            await asyncio.sleep(2.0)
            results["drawings"] += 1
        stop.set()
        beat.cancel()


def run_answering_visitors(app: RunningApp, visitors: int, seconds: float) -> None:
    results: dict = {"errors": [], "refused": [], "download_s": [], "asset_bytes": [], "drawings": 0}
    cpu0, client0 = cpu_seconds(app.process.pid), cpu_seconds(os.getpid())

    async def everyone() -> None:
        arrivals = [60.0 * n / visitors for n in range(visitors)]
        await asyncio.gather(*(answering_visitor(app.url, arrive, seconds, results) for arrive in arrivals))

    started = time.perf_counter()
    asyncio.run(everyone())
    wall = time.perf_counter() - started
    cpu, client = cpu_seconds(app.process.pid) - cpu0, cpu_seconds(os.getpid()) - client0
    downloads = results["download_s"]
    errors = {kind: results["errors"].count(kind) for kind in sorted(set(results["errors"]))}
    print(
        f"  {visitors} visitors over {wall:.0f} s: {len(downloads)} first visits, {results['drawings']} drawings "
        f"answered in their browsers; errors {len(results['errors'])} {errors}; refused {len(results['refused'])}"
    )
    if downloads:
        print(
            f"  a first visit's downloads: p50 {pct(downloads, 50):.2f} s, p99 {pct(downloads, 99):.2f} s "
            f"(target <= 2 s), {statistics.median(results['asset_bytes']) / 1e6:.2f} MB each"
        )
    print(
        f"  server CPU {cpu:.1f} s ({cpu / wall:.2f} cores): {1000 * cpu / max(1, visitors):.0f} ms per visitor, "
        f"{1000 * cpu / max(1, results['drawings']):.1f} ms per drawing, all of it the page's downloads and "
        f"streams (before: 33.7 ms per drawing for the final answer + 100 ms for its explanation); this load "
        f"generator {client:.1f} s ({client / wall:.2f} cores), on {os.cpu_count()} cores"
    )


# --- 3. overload -----------------------------------------------------------------------------------


async def overload(url: str, clients: int, timeout: float, pad: tuple[int, int] | None) -> dict[str, list[float]]:
    """Everyone at once. ``pad``: (fn_index, component id) to send pad frames (no upload) instead of API calls."""
    png = png_bytes(4)
    frame = {"image": png_data_url(draw_digit(4)), "seq": 1, "floor": 0}
    outcomes: dict[str, list[float]] = {}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:

        async def one() -> None:
            started = time.perf_counter()
            call_started: list[float] = []  # when the call was posted, after the upload
            try:
                if pad is None:
                    call = predict_once(http, png, None, call_started)
                else:
                    call = send_frame(http, *pad, uuid.uuid4().hex, frame, call_started)
                kind, data = await asyncio.wait_for(call, timeout)
                if kind == "complete":
                    got = top_label(data)
                    kind = "answered" if got == "4" else "wrong digit"
                elif kind == "http 503" and "Queue is full" in str(data):
                    kind = "refused: queue full (503)"
                    started = call_started[0]  # how long the refusal itself took
            except TimeoutError:
                kind = "timed out"
            except httpx.HTTPError as err:
                kind = type(err).__name__
            outcomes.setdefault(kind, []).append(time.perf_counter() - started)

        await asyncio.gather(*(one() for _ in range(clients)))
    return outcomes


def run_overload(app: RunningApp, clients: int, timeout: float, bursts: int) -> None:
    """``bursts`` bursts one after the other: memory that only grows would show from one to the next.
    Each call is a new session (no session hash, as curl does), the costliest case for the server.
    Odd bursts are API calls (an upload each), even bursts pad frames (the frame inside the request)."""
    rss_start, _ = memory_mb(app.process.pid)
    pad = pad_event(app.url)
    print(
        f"  {bursts} bursts of {clients} clients at once (queue holds {os.environ.get('APP_QUEUE_SIZE', 64)}), "
        f"timeout {timeout:.0f} s; server RSS {rss_start:.0f} MB at the start"
    )
    for burst in range(1, bursts + 1):
        started = time.perf_counter()
        outcomes = asyncio.run(overload(app.url, clients, timeout, None if burst % 2 else pad))
        wall = time.perf_counter() - started
        rss, peak = memory_mb(app.process.pid)
        parts = []
        for kind, times in sorted(outcomes.items()):
            what = "from posting the call" if kind.startswith("refused") else "from the start"
            parts.append(
                f"{kind} {len(times)} (median {1000 * pct(times, 50):.0f} ms, max {1000 * max(times):.0f} ms {what})"
            )
        kind = "API calls" if burst % 2 else "pad frames"
        print(
            f"  burst {burst} ({kind}): done in {wall:.1f} s; "
            + "; ".join(parts)
            + f"; RSS {rss:.0f} MB, peak {peak:.0f} MB"
        )
    after = asyncio.run(api_clients(app.url, 1, 2, check_digit=True))
    print(
        f"  afterwards: {len(after.latencies)} normal predictions right, errors {after.errors or 0}, "
        f"p50 {1000 * pct(after.latencies, 50):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="API clients at once")
    parser.add_argument("--seconds", type=float, default=60, help="length of the API and visitor runs")
    parser.add_argument("--visitors", type=int, default=20, help="drawing visitors at once (0: skip)")
    parser.add_argument("--overload", type=int, default=300, help="clients sent at once in the overload (0: skip)")
    parser.add_argument("--timeout", type=float, default=30, help="overload: a request's timeout in seconds")
    parser.add_argument("--bursts", type=int, default=8, help="overload: bursts one after the other")
    parser.add_argument(
        "--session-per-call",
        action="store_true",
        help="API clients send no session hash (each call a new session, as curl does)",
    )
    parser.add_argument(
        "--readers",
        type=int,
        default=200,
        help="visitors whose browser reads the drawing (one frame per stroke; 0: skip)",
    )
    parser.add_argument(
        "--answering",
        type=int,
        default=1000,
        help="visitors whose browser answers and explains, arriving over 60 s (0: skip)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["api", "visitors", "readers", "answering", "overload"],
        help="run only these parts",
    )
    args = parser.parse_args()
    env = {"HF_HUB_OFFLINE": "1"}
    app = RunningApp(env)
    try:
        print(f"app.py (pid {app.process.pid}); limits: {json.dumps(limits_of(app))}")
        if args.only is None or "api" in args.only:
            echo = RunningApp(env, script="benchmarks/echo_app.py")
            try:
                kind = "a new session per call, as curl" if args.session_per_call else "one session per client"
                print(f"1. {args.clients} API clients for {args.seconds:.0f} s each (raw HTTP, {kind}):")
                sessions = not args.session_per_call
                ours = run_api(app, "app", args.clients, args.seconds, True, sessions)
                trivial = run_api(echo, "trivial", args.clients, args.seconds, False, sessions)
            finally:
                echo.stop()
            print(
                f"  ratios app/trivial: throughput {ours['answers/s'] / trivial['answers/s']:.2f}x (target >= 0.8), "
                f"p99 {ours['p99 ms'] / trivial['p99 ms']:.2f}x (target <= 1.5), "
                f"server CPU {ours['server CPU ms/answer'] / trivial['server CPU ms/answer']:.2f}x"
            )
        today = None
        if (args.only is None or "visitors" in args.only) and args.visitors:
            print(f"2. drawing visitors, the server reading 10 frames/s each, for {args.seconds:.0f} s:")
            today = run_visitors(app, args.visitors, args.seconds)
        if (args.only is None or "readers" in args.only) and args.readers:
            print(
                f"4. {args.readers} visitors whose browser reads the drawing: the page's assets once, then a "
                f"finished drawing every 2 s, for {args.seconds:.0f} s:"
            )
            per_stroke = run_reading_visitors(app, args.readers, args.seconds)
            if today is not None:  # a 2-second stroke, as part 2 draws them
                print(
                    f"  server CPU per 2-second stroke: {1000 * per_stroke:.0f} ms with the reader in the "
                    f"browser, {2000 * today:.0f} ms when the server reads every frame "
                    f"({2 * today / per_stroke:.1f}x)"
                )
        if (args.only is None or "answering" in args.only) and args.answering:
            print(
                f"5. {args.answering} visitors whose browser answers and explains, arriving over 60 s, each "
                f"drawing every 2 s for {args.seconds:.0f} s:"
            )
            run_answering_visitors(app, args.answering, args.seconds)
        if (args.only is None or "overload" in args.only) and args.overload:
            print("3. overload:")
            run_overload(app, args.overload, args.timeout, args.bursts)
    finally:
        app.stop()


def limits_of(app: RunningApp) -> dict:
    config = httpx.get(f"{app.url}config", timeout=30).json()
    return {"max_file_size": config.get("max_file_size")}


if __name__ == "__main__":
    main()
