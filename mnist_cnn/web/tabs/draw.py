"""The Draw tab: the pad read as the pen moves (a digit or a number), what the model sees and why; and the
public API (`predict`, `read_number`, `explain`), whose answers land in the same components."""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.components.label import LabelConfidence, LabelData

from mnist_cnn.reading.explain import explain_input, explain_prediction
from mnist_cnn.reading.number import (
    NumberReading,
    draw_reading,
    fields_side_by_side,
    number_markdown,
    read_digit_or_number,
)
from mnist_cnn.reading.number import read_number as read_number_in
from mnist_cnn.reading.predict import EMPTY_MESSAGE, Predictor
from mnist_cnn.reading.sketch import SketchError
from mnist_cnn.web.feedback.guard import CorrectionGuard
from mnist_cnn.web.feedback.store import FeedbackStore
from mnist_cnn.web.network import network_view, server_stages, wants_stages
from mnist_cnn.web.pad import APPLY_RESULT_JS, EXPLAIN_DIGIT_JS, SHOW_LIVE_JS, drawing_pad, read_frame
from mnist_cnn.web.pad.reader import EXPLAIN_NUMBER_MESSAGE, PadReader
from mnist_cnn.web.serving import ServingLimits
from mnist_cnn.web.views import to_uint8

from . import feedback
from .common import EXPLAIN_POOL, compact_figure, data_image, model_pool, output_image, outputs

BEST_GUESS = -1
EXPLAIN_CHOICES = [("its best guess", BEST_GUESS)] + [(str(digit), digit) for digit in range(10)]


def number_label(reading: NumberReading) -> dict[str, Any]:
    """gr.Label's value for a number: the number as its heading, then each digit, left to right, with how
    sure the model is of it."""
    confidences = []
    for n, digit in enumerate(reading.digits, start=1):
        read_as = digit.digit if digit.digit is not None else "? (not sure)"
        confidences.append(LabelConfidence(label=f"digit {n}: {read_as}", confidence=digit.confidence))
    return LabelData(label=reading.number, confidences=confidences).model_dump()


class DrawHandlers:
    """The Draw tab's handlers and the public API's, around one predictor."""

    def __init__(self, predictor: Predictor, label: gr.Label):
        self.predictor = predictor
        self.label = label  # its postprocess gives the top classes, as the page shows them

    def read_drawing(self, frame: Any) -> dict[str, Any]:
        """The live path: a frame from the pad, read into what the page shows (applied by APPLY_RESULT_JS)."""
        try:
            seq, image = read_frame(frame)
        except SketchError as err:
            return {"seq": -1, "label": {}, "image": None, "status": f"**{err}**"}
        single, number = read_digit_or_number(self.predictor, image)
        # the network view's stages, for a final frame that asks for them (the browser makes its own)
        layers = {"layers": server_stages(self.predictor, single)} if wants_stages(frame) else {}
        if number is not None:  # a number: each digit's box and reading
            return {
                **layers,
                "seq": seq,
                "label": number_label(number),
                "image": data_image(to_uint8(fields_side_by_side(number))),
                "status": number_markdown(number),
                "boxes": data_image(draw_reading(image, number)),
            }
        confidences, model_input, markdown = outputs(single)  # one digit: as it always was
        label_data = self.label.postprocess(confidences)
        return {
            **layers,
            "seq": seq,
            "label": label_data.model_dump() if label_data else {},
            "image": None if model_input is None else data_image(model_input),
            "status": markdown,
            "boxes": None,
        }

    def explain_drawing(self, frame: Any, digit: int) -> tuple[Any, str]:
        """After each live answer: why the drawing on the pad reads as it does (or as ``digit``)."""
        try:
            _, image = read_frame(frame)
        except SketchError:
            return None, ""
        single, number = read_digit_or_number(self.predictor, image)
        if number is not None:
            return None, EXPLAIN_NUMBER_MESSAGE
        which = None if digit == BEST_GUESS else digit
        # transparent paper: the overlay lies on the page's own background, light or dark
        overlay, text = explain_prediction(self.predictor.model, single, which, transparent=True)
        return overlay, text if overlay is not None else ""

    def predict(self, image: bytes | None):
        """The public API: one uploaded image file (Gradio refuses a file that was not uploaded)."""
        return outputs(self.predictor(image))

    def read_number(self, image: bytes | None) -> dict[str, Any]:
        """The public API: every digit in an uploaded image, left to right (the CLI's `--number` JSON)."""
        try:
            return read_number_in(self.predictor, image).to_json()
        except SketchError as err:
            return {"number": None, "digits": [], "error": str(err)}

    def explain(self, image: bytes | None, digit: float | None = None):
        """The public API: an uploaded image file and a digit (default: the model's best guess)."""
        return explain_input(self.predictor, image, None if digit is None else int(digit))


def build(
    predictor: Predictor, limits: ServingLimits, reader: PadReader, store: FeedbackStore, guard: CorrectionGuard
) -> None:
    """The Draw tab's layout, then its events: the live pad (``reader``: the in-browser reader) and why, the
    network view under the pad, the visitors' corrections (``store``, ``guard``; see ``feedback``), the API."""
    # The live pad, the corrections and the API share one pool of model workers; explanations have their own.
    pool = model_pool(limits)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            pad = drawing_pad(reader.settings(), elem_id="drawing-pad")
            # shown only when the pad holds a number (page.css hides it while it is empty)
            number_boxes = output_image("Digits found", "number-boxes", height=240)
            network_view(reader.network_settings(), elem_id="network-view")
        with gr.Column(scale=2, min_width=300):
            status = gr.Markdown(f"**{EMPTY_MESSAGE}**", elem_id="status")
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
            feedback.build(predictor, store, guard, pad, pool)
            with gr.Row():
                seen = compact_figure("What the model sees (28x28)", "model-input")
                why_image = compact_figure("Why: red for, blue against", "why-image")
            explain_digit = gr.Dropdown(
                EXPLAIN_CHOICES, value=BEST_GUESS, label="Explain which digit", elem_id="explain-digit"
            )
            why_text = gr.Markdown(elem_id="why-text")
    live_answer = gr.JSON(visible=False)  # not shown: the live answer on its way to the page

    handlers = DrawHandlers(predictor, label)
    # The browser's readings, final answers and explanations, put on the page in the page only; the server
    # reads each frame it is sent (the server engine), and explains when asked.
    pad.input(
        None, pad, [label, seen, status, number_boxes, why_image, why_text], js=SHOW_LIVE_JS, show_progress="hidden"
    )
    live = pad.submit(
        handlers.read_drawing,
        pad,
        live_answer,
        trigger_mode="always_last",
        show_progress="hidden",
        api_visibility="private",
        **pool,
    )
    live.success(
        None, [live_answer, pad], [label, seen, status, number_boxes], js=APPLY_RESULT_JS, show_progress="hidden"
    )
    explain_digit.change(None, [explain_digit, pad], None, js=EXPLAIN_DIGIT_JS, show_progress="hidden")
    gr.on(
        [live_answer.change, pad.select],
        handlers.explain_drawing,
        [pad, explain_digit],
        [why_image, why_text],
        trigger_mode="always_last",
        show_progress="hidden",
        api_visibility="private",
        **EXPLAIN_POOL,
    )
    public_api(handlers, [label, seen, status], [why_image, why_text], pool)


def public_api(handlers: DrawHandlers, answer: list[gr.Component], why: list[gr.Component], pool: dict) -> None:
    """The public endpoints: hidden file inputs whose uploads are answered in the Draw tab's components
    (``answer``: label, 28x28 view, status; ``why``: overlay and its text)."""
    # type="binary": Gradio hands over the upload's bytes (a "filepath" File leaves an empty temporary file
    # in the cache on every call, which the cache clean-up never removes)
    api_image = gr.File(visible=False, file_types=["image"], type="binary")
    number_file = gr.File(visible=False, file_types=["image"], type="binary")
    number_json = gr.JSON(visible=False, label="reading")
    explain_file = gr.File(visible=False, file_types=["image"], type="binary")
    explain_target = gr.Number(None, precision=0, minimum=0, maximum=9, visible=False, label="digit")

    api_image.upload(handlers.predict, api_image, answer, api_name="predict", **pool)
    number_file.upload(handlers.read_number, number_file, number_json, api_name="read_number", **pool)
    explain_file.upload(handlers.explain, [explain_file, explain_target], why, api_name="explain", **EXPLAIN_POOL)
