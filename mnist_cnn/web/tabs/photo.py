"""The Photo or scan tab: a digit or a number on paper, its reading drawn on it, and each preprocessing step."""

from __future__ import annotations

import functools
from typing import Any

import gradio as gr
import numpy as np

from mnist_cnn.reading.number import NumberReading, draw_reading, number_markdown, read_number
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.reading.sketch import SketchError, load_image
from mnist_cnn.web.serving import ServingLimits
from mnist_cnn.web.views import to_uint8

from .common import model_pool, output_image, outputs, thumbnail_gallery

PHOTO_PROMPT = "Upload, paste or take a photo of a digit or a number"


def read_photo(predictor: Predictor, path: str | None) -> tuple[Any, str, list[tuple]]:
    """A photo, scan or pasted image: the reading drawn on it, the status line and the steps."""
    if path is None:
        return None, f"**{PHOTO_PROMPT}**", []
    try:
        image = load_image(path)  # decoded once (size checked first), then read twice below
        reading = read_number(predictor, image)
    except SketchError as err:
        return None, f"**{err}**", []
    if not reading.digits:
        return None, f"**No digit found: {reading.message}.**", []
    if len(reading.digits) == 1:  # one digit: the status line of the pad and `predict`
        status_line = outputs(predictor(image))[2]
    else:
        status_line = number_markdown(reading)
    return draw_reading(image, reading), status_line, preprocessing_gallery(reading)


def preprocessing_gallery(reading: NumberReading) -> list[tuple]:
    """Gallery items for each step of the preprocessing: the ink found, then each digit's."""
    items = [(square_tile(reading.digits[0].steps.ink_found), "1. ink found (paper removed)")]
    for n, d in enumerate(reading.digits, start=1):
        which = f"digit {n}: " if len(reading.digits) > 1 else ""
        read_as = "?" if d.digit is None else d.digit
        items += [
            (square_tile(d.steps.crop), f"2. {which}cropped to its ink"),
            (square_tile(d.steps.scaled), f"3. {which}scaled to 20 px"),
            (square_tile(d.steps.field), f"4. {which}centred in 28x28: read as {read_as}"),
        ]
    return items


def square_tile(image: np.ndarray, side: int = 224) -> np.ndarray:
    """A step's image (float, white on black) centred on a black square, small ones enlarged with crisp
    pixels: every step shows whole, at one size, in the gallery."""
    height, width = image.shape
    factor = max(1, side // max(height, width))  # whole pixels only: the 28x28 grid stays visible
    big = np.kron(to_uint8(image), np.ones((factor, factor), dtype=np.uint8)) if factor > 1 else to_uint8(image)
    square = np.zeros((max(big.shape),) * 2, dtype=np.uint8)
    top, left = (square.shape[0] - big.shape[0]) // 2, (square.shape[1] - big.shape[1]) // 2
    square[top : top + big.shape[0], left : left + big.shape[1]] = big
    return square


def build(predictor: Predictor, limits: ServingLimits) -> None:
    """The Photo or scan tab's layout, then its event."""
    gr.Markdown(
        "A digit or a number written on paper: upload a photo or a scan, paste an image, or use the webcam. "
        "Below, the preprocessing step by step, as for the pad."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            # filepath, no image_mode: Gradio passes the upload on undecoded, and the app's own reader
            # checks its size before decoding it
            photo = gr.Image(
                sources=["upload", "clipboard", "webcam"],
                type="filepath",
                height=400,
                label="Photo, scan or pasted image",
                elem_id="photo-input",
            )
        with gr.Column(scale=2, min_width=300):
            photo_status = gr.Markdown(f"**{PHOTO_PROMPT}**", elem_id="photo-status")
            photo_reading = output_image("What was read", "photo-reading")
    # a short label: a long one wraps over the first row of images on a phone (each caption names its step)
    photo_steps = thumbnail_gallery(None, "Preprocessing, step by step", "photo-steps", columns=4, height="auto")

    photo.change(
        functools.partial(read_photo, predictor),
        photo,
        [photo_reading, photo_status, photo_steps],
        api_visibility="private",
        **model_pool(limits),
    )
