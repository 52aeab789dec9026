"""The pad's in-browser reader against the server's, on every drawing of the dev folders.

    .venv/bin/python benchmarks/reader_parity.py [--limit N]

In headless Chromium (Debian's), on a page of `python app.py`: reader.mjs (the JavaScript preprocessing
and model.onnx through onnxruntime-web) reads each drawing of pen-dev/pen_digits and scan-dev/usps_digits;
`sketch_to_mnist` and the Predictor read the same files. Prints, per folder and in all, the share of
drawings whose 28x28 fields agree within 2/255 (target >= 99.5%) and whose answers (digit, pair or "not
sure") are the same (target >= 99.9%), and the browser's time per drawing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_reader import Parity, compare_on_files

from conftest import CHROMIUM, CHROMIUM_ARGS, RunningApp, pen_dev_dir, scan_dev_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="at most this many drawings per folder")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folders = {"pen_digits": pen_dev_dir() / "pen_digits", "usps_digits": scan_dev_dir() / "usps_digits"}
    app = RunningApp({"HF_HUB_OFFLINE": "1"})
    total = Parity()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(app.url)
            page.wait_for_selector('#drawing-pad[data-engine="browser"]', timeout=60_000)
            for name, folder in folders.items():
                files = sorted(folder.glob("*.png"))[: args.limit]
                result = compare_on_files(page, app.url, files)
                print(f"{name}: {result.summary()}")
                for line in result.disagreements[:10]:
                    print(f"  {line}")
                total.drawings += result.drawings
                total.fields_within += result.fields_within
                total.answers_equal += result.answers_equal
                total.worst_difference = max(total.worst_difference, result.worst_difference)
                total.browser_ms += result.browser_ms
            browser.close()
    finally:
        app.stop()
    print(f"all: {total.summary()}")
    fields, answers = 100 * total.fields_share, 100 * total.answers_share
    print(f"targets: fields >= 99.5% ({fields:.2f}%), answers >= 99.9% ({answers:.2f}%)")


if __name__ == "__main__":
    main()
