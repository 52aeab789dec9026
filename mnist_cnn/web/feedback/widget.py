"""The buttons under the Draw tab's answer: a ``gr.HTML`` widget whose HTML, CSS and JavaScript are the
files beside this module."""

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
