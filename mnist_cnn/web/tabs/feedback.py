"""The Draw tab's "Tell it what you drew": buttons under the answer that save the drawing on the pad with the
visitor's label (``mnist_cnn.web.feedback``), checked like every request from a public link."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr
import numpy as np

from mnist_cnn.classes import NOT_A_DIGIT_LABEL
from mnist_cnn.reading.number import read_digit_or_number
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import SketchError
from mnist_cnn.web.feedback.guard import CorrectionGuard, client_address
from mnist_cnn.web.feedback.store import LABELS, Correction, FeedbackStore
from mnist_cnn.web.feedback.widget import feedback_buttons
from mnist_cnn.web.pad import read_frame
from mnist_cnn.web.views import to_uint8

log = logging.getLogger(__name__)

BAD_LABEL = f"Not one of the choices: pick a digit from 0 to 9, or “{NOT_A_DIGIT_LABEL}”."
EMPTY_PAD = "Draw something first: the pad is empty."
DISK_FAILED = "It could not be saved (the server's disk refused it): nothing was kept. Try again later."


class FeedbackHandlers:
    """Saves a visitor's correction: the label checked, the frame checked and re-encoded, the limits of
    ``guard``, then the store."""

    def __init__(self, predictor: Predictor, store: FeedbackStore, guard: CorrectionGuard):
        self.predictor = predictor
        self.store = store
        self.guard = guard

    def save_correction(self, choice: Any, frame: Any, request: gr.Request) -> dict[str, Any]:
        """``choice``: the buttons' ``{label, seq, request}``; ``frame``: the pad's value. The buttons' new
        value: ``{request, saved, message}``, ``saved`` true only once the row is on disk."""
        choice = choice if isinstance(choice, dict) else {}
        request_id = choice.get("request")

        def answer(saved: bool, message: str) -> dict[str, Any]:
            echo = request_id if isinstance(request_id, int) and not isinstance(request_id, bool) else None
            return {"request": echo, "saved": saved, "message": message}

        label = choice.get("label")
        if not isinstance(label, str) or label not in LABELS:
            return answer(False, BAD_LABEL)
        try:
            _, image = read_frame(frame)
        except SketchError as err:
            return answer(False, str(err))
        if image is None:
            return answer(False, EMPTY_PAD)
        single, number = read_digit_or_number(self.predictor, image)
        if single.model_input is None:
            return answer(False, EMPTY_PAD if single.error is None else single.error)
        pixels = image.convert("RGBA").tobytes() + repr(image.size).encode()
        address = client_address(request, self.guard.limits.proxy_hops)
        refusal = self.guard.admit(getattr(request, "session_hash", None) or "", address, pixels)
        if refusal is not None:
            return answer(False, refusal)
        reading = model_reading(single, number)
        try:
            self.store.save(Correction(label, image, to_uint8(single.model_input), reading))
        except OSError:
            self.guard.release(pixels)
            log.exception("Could not save a correction")
            return answer(False, DISK_FAILED)
        read_as = reading["model_answer"]
        if read_as == label:
            return answer(True, f"Saved: {label}, as the model read it. Thank you!")
        model_said = "the model was not sure" if read_as == "not sure" else f"the model read {read_as}"
        return answer(True, f"Saved: {label} ({model_said}). Thank you!")


def model_reading(single: Any, number: Any) -> dict[str, Any]:
    """What the model made of the drawing, for the row: the answer the page showed (a digit, a number, or
    "not sure"), and the single-digit reading of the whole drawing that goes with the 28x28 image."""
    answer = number.number if number is not None else ("not sure" if single.digit is None else str(single.digit))
    return {
        "model_answer": answer,
        "model_digit": int(np.argmax(single.probabilities)),
        "model_confidence": round(single.confidence, 6),
        "model_not_a_digit": round(single.not_a_digit, 6),
        "model_probabilities": [round(p, 6) for p in single.probabilities],
    }


def build(predictor: Predictor, store: FeedbackStore, guard: CorrectionGuard, pad: gr.HTML, pool: dict) -> None:
    """The buttons (under the answer, where this is called), then their event: the buttons' value and the
    pad's frame go to the server, whose answer comes back into the buttons. ``pool``: the model workers'
    event options (saving reads the drawing with the model)."""
    buttons = feedback_buttons(store.destination_html(), elem_id="feedback")

    handlers = FeedbackHandlers(predictor, store, guard)
    buttons.submit(
        handlers.save_correction,
        [buttons, pad],
        buttons,
        show_progress="hidden",
        api_visibility="private",
        **pool,
    )
