"""The pad's in-browser reader against the server's, on image files: shared by tests/test_browser.py and
benchmarks/reader_parity.py.

The page loads ``reader.mjs`` from the running app, as the pad does, decodes each PNG (no colour
conversion, alpha kept as it is) and reads it; the server's side is ``sketch_to_mnist`` and the
``Predictor`` of the same bundle.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import sketch_to_mnist

FIELD_TOLERANCE = 2 / 255
BATCH = 40

LOAD_READER = """async ([settings, base]) => {
    const { Reader, preprocess, answer } = await import(new URL(settings.module, base).href);
    window.parityReader = await Reader.load(settings, base);
    window.parityTools = { preprocess, answer };
    return true;
}"""

READ_FILES = """async (files) => {
    const reader = window.parityReader;
    const { preprocess, answer } = window.parityTools;
    const out = [];
    for (const encoded of files) {
        const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }),
            { premultiplyAlpha: "none", colorSpaceConversion: "none" });
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(bitmap, 0, 0);
        const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const started = performance.now();
        const steps = preprocess(pixels, bitmap.width, bitmap.height, reader.settings);
        if (!steps) { out.push(null); continue; }
        const probs = await reader.probabilities(steps.field);
        const read = answer(probs, reader.settings.rule, reader.settings.classes);
        out.push({ field: Array.from(steps.field), digit: read.digit, alternative: read.alternative,
                   ms: performance.now() - started });
    }
    return out;
}"""


@dataclass
class Parity:
    drawings: int = 0
    fields_within: int = 0  # JavaScript's 28x28 field within FIELD_TOLERANCE of sketch_to_mnist's
    answers_equal: int = 0  # the same digit, pair or "not sure"
    worst_difference: float = 0.0
    browser_ms: list[float] = field(default_factory=list)  # preprocessing and model, per drawing
    disagreements: list[str] = field(default_factory=list)

    @property
    def fields_share(self) -> float:
        return self.fields_within / self.drawings

    @property
    def answers_share(self) -> float:
        return self.answers_equal / self.drawings

    def summary(self) -> str:
        return (
            f"{self.drawings} drawings: 28x28 field within 2/255 for {self.fields_within} "
            f"({100 * self.fields_share:.2f}%, largest difference {self.worst_difference:.2e}); "
            f"same answer for {self.answers_equal} ({100 * self.answers_share:.2f}%); "
            f"browser preprocessing and model p50 {np.median(self.browser_ms):.2f} ms"
        )


def pad_reader_settings(config: dict) -> dict | None:
    """The pad's reader settings in an app's config (None when it has no in-browser reader)."""
    pad = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "drawing-pad")
    return pad["props"]["props"]["reader"]


def reader_settings(app_url: str) -> dict | None:
    """``pad_reader_settings`` of a running app."""
    return pad_reader_settings(httpx.get(f"{app_url}config", timeout=30).json())


def compare_on_files(page, app_url: str, files: list[Path]) -> Parity:
    """Read ``files`` in ``page`` (a page of the running app) and on the server side; count agreements."""
    page.evaluate(LOAD_READER, [reader_settings(app_url), app_url])
    predictor = Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))
    result = Parity()
    for start in range(0, len(files), BATCH):
        batch = files[start : start + BATCH]
        encoded = [base64.b64encode(path.read_bytes()).decode("ascii") for path in batch]
        for path, browser in zip(batch, page.evaluate(READ_FILES, encoded), strict=True):
            with Image.open(path) as image:
                server_field = sketch_to_mnist(image)
            result.drawings += 1
            if server_field is None or browser is None:
                same = server_field is None and browser is None
                result.fields_within += same
                result.answers_equal += same
                continue
            prediction = predictor.prediction(server_field, predictor.probabilities(server_field))
            difference = float(np.abs(np.asarray(browser["field"], dtype=np.float32) - server_field.ravel()).max())
            result.worst_difference = max(result.worst_difference, difference)
            result.fields_within += difference <= FIELD_TOLERANCE
            same = (browser["digit"], browser["alternative"]) == (prediction.digit, prediction.alternative)
            result.answers_equal += same
            result.browser_ms.append(browser["ms"])
            if not same or difference > FIELD_TOLERANCE:
                result.disagreements.append(
                    f"{path.name}: field difference {difference:.3f}, browser {browser['digit']}/"
                    f"{browser['alternative']}, server {prediction.digit}/{prediction.alternative}"
                )
    return result
