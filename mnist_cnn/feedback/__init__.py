"""Visitors tell the model what they drew; their drawings become a Hub dataset that training can use.

- ``store``: corrections written to disk in an image-folder layout (``metadata.jsonl`` rows), pushed to a
  Hub dataset repo by a ``CommitScheduler``; nothing is lost when the Hub is down or the app stops.
- ``guard``: rate limits per session and per client address, and drawings already saved.
- ``buttons.html``, ``buttons.css``, ``buttons.js``: the buttons under the Draw tab's answer, a ``gr.HTML``
  widget (``feedback_buttons``); ``mnist_cnn.tabs.feedback`` wires them.
- ``dataset``: corrections read back for training (``train.py --extra-data``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from .store import LABELS

HERE = Path(__file__).resolve().parent


def feedback_buttons(destination: str, **kwargs: Any) -> gr.HTML:
    """The buttons 0-9 and "not a digit" with the line saying what is saved and where (``destination``:
    trusted HTML, the end of that line). Its ``submit`` event carries ``{label, seq, request}``; the
    server's answer, ``{request, saved, message}``, becomes its value."""
    return gr.HTML(
        value=None,
        html_template=(HERE / "buttons.html").read_text(),
        css_template=(HERE / "buttons.css").read_text(),
        js_on_load=(HERE / "buttons.js").read_text(),
        apply_default_css=False,
        labels=list(LABELS),
        destination=destination,
        **kwargs,
    )
