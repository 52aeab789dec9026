"""The drawing pad: a ``<canvas>`` in a Gradio ``gr.HTML`` component, and the frames it sends.

``pad.html``, ``pad.css`` and ``pad.js`` are the widget. Its value is ``{"image": PNG data URL or None,
"seq": n, "floor": m, "pad": id}``, plus ``"live"`` (the in-browser reading) while the pen moves.
- Its ``submit`` event sends a frame to the server, about ten a second while the pen moves, until the
  in-browser reader (``reader.mjs``, see ``reader.py``) has loaded, or when it cannot load; after that, none.
  ``apply_result.js`` puts the answer on the page unless it answers a frame from before the last Clear or
  Undo (``seq < floor``).
- Its ``input`` event shows what the browser made (``show_live.js``), in the page only: the reading while the
  pen moves, the final answer and "why this digit" on pen-up, Undo and Clear.
- Its ``select`` event asks the server to explain the frame: in the server engine when "Explain which digit"
  changes (``explain_digit.js`` tells the pad), in the browser engine when its explanation is not available.
- Each frame sent is also announced in the page by a ``pad-frame`` DOM event (``{seq, empty}``, bubbling
  from ``#drawing-pad``), which the feedback buttons (``mnist_cnn.web.feedback``) follow.
Frames come from the browser but anyone can post one, so ``read_frame`` checks each.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_cnn.reading.sketch import SketchError
from mnist_cnn.web.widget import html_widget

HERE = Path(__file__).resolve().parent
PNG_PREFIX = "data:image/png;base64,"
MAX_FRAME_CHARS = 1_000_000  # a 400x400 drawing is 5-30 KB as a data URL
MAX_FRAME_SIDE = 2048


def event_function(name: str) -> str:
    """An event's ``js=`` function from its file: an arrow function, without the statement's final ";"
    (Prettier's) since Gradio calls the expression as it is."""
    return (HERE / name).read_text().strip().removesuffix(";")


APPLY_RESULT_JS = event_function("apply_result.js")
APP_ROOT_JS = f"const appRoot = {event_function('app_root.js')};\n"  # put in front of widgets that load files
SHOW_LIVE_JS = event_function("show_live.js")
EXPLAIN_DIGIT_JS = event_function("explain_digit.js")
PAGE_CSS = HERE / "page.css"  # the app's own styles, beside the pad's


def drawing_pad(reader: dict[str, Any] | None, **kwargs: Any) -> gr.HTML:
    """The pad component: ``submit`` fires with each frame for the server, ``input`` with each reading made
    in the browser. ``reader``: the in-browser reader's settings (``PadReader.settings``), None for none."""
    return html_widget(HERE, "pad", APP_ROOT_JS, reader=reader, **kwargs)


def read_frame(value: Any) -> tuple[int, Image.Image | None]:
    """The frame's number and its image (None for an empty pad). Raises SketchError for anything else."""
    if not isinstance(value, dict):
        raise SketchError("Not a drawing from the pad.")
    seq, image = value.get("seq"), value.get("image")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise SketchError("Not a drawing from the pad: no frame number.")
    if image is None:
        return seq, None
    if not isinstance(image, str) or not image.startswith(PNG_PREFIX) or len(image) > MAX_FRAME_CHARS:
        raise SketchError("Not a drawing from the pad: expected a PNG data URL of at most 1 MB.")
    try:
        data = base64.b64decode(image[len(PNG_PREFIX) :], validate=True)
        with Image.open(io.BytesIO(data), formats=["PNG"]) as png:
            if max(png.size) > MAX_FRAME_SIDE:
                raise SketchError(f"The drawing is too large ({png.width}x{png.height} pixels).")
            png.load()
            return seq, png.copy()
    except (binascii.Error, UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise SketchError("The drawing could not be read as a PNG image.") from err


def png_data_url(image: np.ndarray | Image.Image) -> str:
    """An image (PIL, or a uint8 array) as a PNG data URL: the page shows it without a file being written."""
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, format="PNG")
    return PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")
