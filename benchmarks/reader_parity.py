"""The pad's in-browser reader against the server's, on every drawing of the dev folders.

    .venv/bin/python benchmarks/reader_parity.py [--limit N] [--numbers 600] [--explanations 200]

In headless Chromium (Debian's), on a page of `python app.py`: reader.mjs (the JavaScript preprocessing
and model.onnx through onnxruntime-web) reads each drawing of pen-dev/pen_digits and scan-dev/usps_digits;
`sketch_to_mnist` and the Predictor read the same files. Prints, per folder and in all:
- the share of drawings whose 28x28 fields agree within 2/255 (target >= 99.5%) and whose answers (digit,
  pair or "not sure") are the same (target >= 99.9%), and the browser's time per drawing;
- the final answer as the pad gives it on pen-up (readFinal: a digit, pair, "not sure" or a number with its
  boxes, and the status line) against the server's (read_digit_or_number): target >= 99.9%;
- the same for the numbers of benchmarks/read_numbers.py (both sets, seed 0): target >= 99.5%;
- the why overlay (explain.onnx in the page's workers, explain.mjs) against captum's on the first N
  drawings of every 3500/N: the share of pixels within 2/255 (target >= 99%), and the time per explanation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from browser_reader import Agreement, Parity, compare_explanations, compare_finals, compare_on_files
from read_numbers import NUMBER_SETS, number_pngs

from conftest import CHROMIUM, CHROMIUM_ARGS, RunningApp, pen_dev_dir, scan_dev_dir
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.predict import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="at most this many drawings per folder")
    parser.add_argument("--numbers", type=int, default=600, help="numbers of each set of read_numbers.py")
    parser.add_argument("--explanations", type=int, default=200, help="drawings whose overlays are compared")
    args = parser.parse_args()
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    from playwright.sync_api import sync_playwright

    folders = {"pen_digits": pen_dev_dir() / "pen_digits", "usps_digits": scan_dev_dir() / "usps_digits"}
    app = RunningApp({"HF_HUB_OFFLINE": "1"})
    total, finals = Parity(), Agreement()
    every: list[Path] = []
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
                every += files
                final = compare_finals(page, predictor, [f.read_bytes() for f in files], [f.name for f in files])
                print(f"  final answer: {final.summary()}")
                for line in final.disagreements[:10]:
                    print(f"    {line}")
                finals.total, finals.equal = finals.total + final.total, finals.equal + final.equal
                finals.browser_ms += final.browser_ms
            pngs, names = number_pngs(pen_dev_dir(), NUMBER_SETS, args.numbers, seed=0)
            numbers = compare_finals(page, predictor, pngs, names)
            step = max(1, len(every) // args.explanations)
            overlays = compare_explanations(page, predictor, every[::step][: args.explanations])
            browser.close()
    finally:
        app.stop()
    print(f"all: {total.summary()}")
    print(f"  final answer: {finals.summary()}")
    print(f"numbers of read_numbers.py ({len(pngs)}, both sets): {numbers.summary()}")
    for line in numbers.disagreements[:10]:
        print(f"  {line}")
    print(f"why overlays of {len(overlays.browser_ms)} drawings: {overlays.summary('pixels within 2/255')}")
    for line in overlays.disagreements[:10]:
        print(f"  {line}")
    fields, answers = 100 * total.fields_share, 100 * total.answers_share
    print(
        f"targets: fields >= 99.5% ({fields:.2f}%), answers >= 99.9% ({answers:.2f}%), final answers >= 99.9% "
        f"({100 * finals.share:.2f}%), numbers >= 99.5% ({100 * numbers.share:.2f}%), overlay pixels >= 99% "
        f"({100 * overlays.share:.2f}%)"
    )


if __name__ == "__main__":
    main()
