"""The network view (#network-view): its update rate and the live answer's while the pen moves, with the
view on screen and folded away, the server requests meanwhile, what the dataset examples add to the bundle
and to a visit, and the cost of one update in the page.

    .venv/bin/python benchmarks/network_view.py [--strokes 7]

In headless Chromium (Debian's), on `python app.py` with the shipped model, 1280x900, the in-browser reader:
1. Two-second mouse strokes of a 0 (the first warms up and is not counted), once with the view open (on
   screen under the pad) and once folded, alternating, in this run: the view's updates per second of stroke
   (data-updates), the live answers per second (the pad's data-answers), and the events sent to the server
   during the stroke. Medians over the strokes.
2. Each update's time in the page: the reader's run (the pad's "pad-read" measures, with the stages when
   the view is open) and the view's painting ("network-view-paint"), median and 90th percentile.
3. The dataset examples' files in the bundle; the bytes a first visit downloads for them (with no map
   opened), and what opening the first map downloads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM, CHROMIUM_ARGS, DIGIT_STROKES, RunningApp
from mnist_cnn.bundle import EXAMPLES_IMAGE_FILE, EXAMPLES_JSON_FILE, ONNX_FILE, SHIPPED_BUNDLE

VIEW = "#network-view"
STROKE_MS = 2000


def stroke_path() -> list[tuple[float, float]]:
    outline = DIGIT_STROKES[0][0]  # a 0: one long stroke
    return [
        (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
        for a, b in zip(outline, outline[1:], strict=False)
        for t in np.linspace(0, 1, 16)[1:]
    ]


def one_stroke(page, box: dict, sent: list[str]) -> dict:
    """A two-second stroke: updates and answers per second, server events, and the readings' times."""
    if page.locator("#clear-button").is_enabled():
        page.locator("#clear-button").click()
    page.wait_for_timeout(800)
    page.evaluate("performance.clearMeasures('pad-read'); performance.clearMeasures('network-view-paint')")
    path = stroke_path()
    page.mouse.move(box["x"] + path[0][0] / 400 * box["width"], box["y"] + path[0][1] / 400 * box["height"])
    updates = int(page.locator(VIEW).get_attribute("data-updates"))
    answers = int(page.locator("#drawing-pad").get_attribute("data-answers"))
    events = len(sent)
    page.mouse.down()
    down_at = page.evaluate("performance.now()")
    for i, (x, y) in enumerate(path):  # evenly over two seconds of page time
        page.mouse.move(box["x"] + x / 400 * box["width"], box["y"] + y / 400 * box["height"])
        wait = down_at + STROKE_MS * (i + 1) / len(path) - page.evaluate("performance.now()")
        if wait > 0:
            page.wait_for_timeout(wait)
    seconds = (page.evaluate("performance.now()") - down_at) / 1000
    result = {
        "updates": (int(page.locator(VIEW).get_attribute("data-updates")) - updates) / seconds,
        "answers": (int(page.locator("#drawing-pad").get_attribute("data-answers")) - answers) / seconds,
        "events": len(sent) - events,
        "reads": page.evaluate("performance.getEntriesByName('pad-read').map((m) => m.duration)"),
        "paints": page.evaluate("performance.getEntriesByName('network-view-paint').map((m) => m.duration)"),
    }
    page.mouse.up()
    page.wait_for_timeout(1200)
    return result


def set_open(page, wanted: bool) -> None:
    if page.locator(f"{VIEW} details").evaluate("d => d.open") != wanted:
        page.locator(f"{VIEW} summary").click()
    page.wait_for_selector(f'{VIEW}[data-visible="{str(wanted).lower()}"]', timeout=10_000)


def live_part(browser, url: str, strokes: int) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "queue/join" in r.url else None)
    page.goto(url)
    page.wait_for_selector('#drawing-pad[data-engine="browser"]', timeout=60_000)
    page.wait_for_selector(f'{VIEW}[data-ready="true"]', timeout=60_000)
    box = page.locator("#drawing-pad canvas").bounding_box()
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for stroke in range(strokes + 1):
        for view_open in (True, False):  # alternating: both see the same machine's moments
            set_open(page, view_open)
            result = one_stroke(page, box, sent)
            if stroke:
                runs[view_open].append(result)
    page.close()
    print(f"1-2. {strokes} two-second strokes each, view open and folded alternately (medians):")
    print("  view    | updates/s | live answers/s | server events per stroke | reading p50 / p90 | painting p50 / p90")
    for view_open, name in ((True, "open"), (False, "folded")):
        rows = runs[view_open]
        reads = [t for row in rows for t in row["reads"]]
        paints = [t for row in rows for t in row["paints"]] or [float("nan")]
        print(
            f"  {name:7} | {statistics.median(r['updates'] for r in rows):9.1f} | "
            f"{statistics.median(r['answers'] for r in rows):14.1f} | "
            f"{max(r['events'] for r in rows):24d} | "
            f"{np.percentile(reads, 50):5.1f} / {np.percentile(reads, 90):.1f} ms | "
            f"{np.percentile(paints, 50):.1f} / {np.percentile(paints, 90):.1f} ms"
        )
        per_stroke = ", ".join(f"{row['updates']:.1f}" for row in rows)
        print(f"          updates/s per stroke: {per_stroke}")


def examples_part(browser, url: str) -> None:
    sizes = {name: (SHIPPED_BUNDLE / name).stat().st_size for name in (EXAMPLES_JSON_FILE, EXAMPLES_IMAGE_FILE)}
    print("3. dataset examples in the bundle:")
    for name, size in sizes.items():
        print(f"  {name:24} {size / 1e6:.3f} MB")
    print(
        f"  together                 {sum(sizes.values()) / 1e6:.3f} MB (model.onnx: "
        f"{(SHIPPED_BUNDLE / ONNX_FILE).stat().st_size / 1e6:.2f} MB)"
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    downloaded = {"examples": 0, "all": 0}
    cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))

    def finished(event: dict) -> None:
        size = int(event["encodedDataLength"])
        downloaded["all"] += size
        if "dataset_examples" in urls.get(event["requestId"], ""):
            downloaded["examples"] += size

    cdp.on("Network.loadingFinished", finished)
    page.goto(url)
    page.wait_for_selector('#drawing-pad[data-explainer="browser"]', timeout=60_000)
    page.wait_for_selector(f'{VIEW}[data-ready="true"]', timeout=60_000)
    page.wait_for_timeout(3000)
    first = dict(downloaded)
    page.locator(f"{VIEW} [data-layer=conv2] button").nth(0).click()
    page.wait_for_selector(f'{VIEW} .map-detail[data-examples="9"]', timeout=30_000)
    page.wait_for_timeout(500)
    context.close()
    print(f"  a first visit: {first['all'] / 1e6:.2f} MB in all, of it the examples {first['examples'] / 1e6:.3f} MB")
    print(f"  opening the first map downloads {(downloaded['examples'] - first['examples']) / 1e6:.3f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=7, help="two-second strokes with the view open, and folded")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    app = RunningApp({"HF_HUB_OFFLINE": "1"})
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            live_part(browser, app.url, args.strokes)
            examples_part(browser, app.url)
            browser.close()
    finally:
        app.stop()


if __name__ == "__main__":
    main()
