"""The pad's in-browser reader against the server's, on image files: shared by tests/test_browser.py and
benchmarks/reader_parity.py.

The page loads ``reader.mjs`` (and ``explainer.mjs``) from the running app, as the pad does, decodes each PNG
(no colour conversion, alpha kept as it is) and reads it; the server's side is ``sketch_to_mnist``, the
``Predictor`` of the same bundle, ``read_digit_or_number`` for the final answer and captum for "why".
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.classes import NUM_DIGITS
from mnist_cnn.reading.explain import explain
from mnist_cnn.reading.number import number_markdown, read_digit_or_number
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import sketch_to_mnist

FIELD_TOLERANCE = 2 / 255
BATCH = 40

LOAD_READER = """async ([settings, base]) => {
    if (window.parityReader) return true;
    const { Reader, preprocess, answer } = await import(new URL(settings.module, base).href);
    window.parityReader = await Reader.load(settings, base);
    window.parityTools = { preprocess, answer };
    window.decodePng = async (encoded) => {
        const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }),
            { premultiplyAlpha: "none", colorSpaceConversion: "none" });
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(bitmap, 0, 0);
        return { canvas, width: bitmap.width, height: bitmap.height,
                 pixels: ctx.getImageData(0, 0, bitmap.width, bitmap.height).data };
    };
    if (settings.explain) {
        const { Explainer } = await import(new URL(settings.explain.module, base).href);
        window.parityExplainer = await Explainer.load(settings, base);
    }
    return true;
}"""

READ_FILES = """async (files) => {
    const reader = window.parityReader;
    const { preprocess, answer } = window.parityTools;
    const out = [];
    for (const encoded of files) {
        const { width, height, pixels } = await window.decodePng(encoded);
        const bitmap = { width, height };
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


# The final answer, as the pad shows it on pen-up: readFinal, reduced to what is compared
READ_FINAL = """async (files) => {
    const out = [];
    for (const encoded of files) {
        const { canvas, width, height, pixels } = await window.decodePng(encoded);
        const started = performance.now();
        const final = await window.parityReader.readFinal(pixels, width, height, canvas);
        const ms = performance.now() - started;
        let answer;
        if (final.number) {
            const text = final.number.digits.map((d) => (d.digit === null ? "?" : String(d.digit))).join("");
            answer = ["number", text, final.number.digits.map((d) => d.box)];
        } else if (final.explain) answer = ["digit", final.digit, final.alternative];
        else answer = ["empty"];
        out.push({ answer, status: final.status, ms });
    }
    return out;
}"""

# "Why": the overlay explainer.mjs draws for the best guess, every 10th pixel (the picture is 28x28 squares)
EXPLAIN_FILES = """async (files) => {
    const reader = window.parityReader;
    const { preprocess, answer } = window.parityTools;
    const out = [];
    for (const encoded of files) {
        const { width, height, pixels } = await window.decodePng(encoded);
        const steps = preprocess(pixels, width, height, reader.settings);
        if (!steps) { out.push(null); continue; }
        const probs = await reader.probabilities(steps.field);
        const { best } = answer(probs, reader.settings.rule, reader.settings.classes);
        const started = performance.now();
        const why = await window.parityExplainer.why(steps.field, best, best);
        const ms = performance.now() - started;
        const small = [];
        for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
            const at = 4 * ((y * 10) * why.side + x * 10);
            small.push(...why.picture.slice(at, at + 4));
        }
        out.push({ picture: small, text: why.text, ms });
    }
    return out;
}"""


def server_final(predictor: Predictor, image) -> tuple[list, str]:
    """What DrawHandlers.read_drawing answers, reduced as READ_FINAL reduces the browser's: the answer
    (a number with its boxes, a digit and its runner-up, or empty) and the status line."""
    single, number = read_digit_or_number(predictor, image)
    if number is not None:
        return ["number", number.number, [list(d.box) for d in number.digits]], number_markdown(number)
    if single.model_input is None:
        return ["empty"], f"**{single.message}**"
    return ["digit", single.digit, single.alternative], single.status_markdown()


@dataclass
class Agreement:
    """How often the browser's final answers (or overlays) are the server's."""

    total: int = 0
    equal: int = 0
    browser_ms: list[float] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.equal / self.total

    def summary(self, what: str = "the same final answer") -> str:
        return (
            f"{what} for {self.equal} of {self.total} ({100 * self.share:.2f}%); "
            f"browser p50 {np.median(self.browser_ms):.1f} ms"
        )


def compare_finals(page, predictor: Predictor, images: list[bytes], names: list[str]) -> Agreement:
    """The final answer (digit, pair, "not sure" or the number with the same boxes, and the status line) of
    each PNG in ``images``, in the page (loaded by LOAD_READER) and on the server."""
    result = Agreement()
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH]
        encoded = [base64.b64encode(png).decode("ascii") for png in batch]
        named = names[start : start + BATCH]
        for name, png, browser in zip(named, batch, page.evaluate(READ_FINAL, encoded), strict=True):
            with Image.open(io.BytesIO(png)) as image:
                expected, status = server_final(predictor, image)
            result.total += 1
            same = browser["answer"] == expected and browser["status"] == status
            result.equal += same
            result.browser_ms.append(browser["ms"])
            if not same:
                result.disagreements.append(
                    f"{name}: browser {browser['answer']} {browser['status']!r}, server {expected} {status!r}"
                )
    return result


def compare_explanations(page, predictor: Predictor, files: list[Path]) -> Agreement:
    """The overlay of "why" for the best guess, in the page (explain.onnx in workers, explain.mjs) and on
    the server (captum, explain.overlay): ``equal`` counts the pixels within 2/255 in all four channels."""
    result = Agreement()
    for start in range(0, len(files), BATCH // 4):
        batch = files[start : start + BATCH // 4]
        encoded = [base64.b64encode(path.read_bytes()).decode("ascii") for path in batch]
        for path, browser in zip(batch, page.evaluate(EXPLAIN_FILES, encoded), strict=True):
            field28 = sketch_to_mnist(path)
            if field28 is None or browser is None:
                assert field28 is None and browser is None, path
                continue
            best = int(np.argmax(predictor.probabilities(field28)[:NUM_DIGITS]))
            expected = explain(predictor.model, field28, best).overlay(field28, transparent=True)[::10, ::10]
            got = np.asarray(browser["picture"], dtype=int).reshape(28, 28, 4)
            within = (np.abs(got - expected.astype(int)) <= 2).all(axis=2)
            result.total += within.size
            result.equal += int(within.sum())
            result.browser_ms.append(browser["ms"])
            if within.mean() < 0.99:
                result.disagreements.append(f"{path.name}: {100 * within.mean():.1f}% of the overlay's pixels")
    return result


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
