"""The buttons under the Draw tab's answer: a ``gr.HTML`` widget whose HTML, CSS and JavaScript are the
files beside this module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from mnist_cnn.web.widget import html_widget

from .store import LABELS

HERE = Path(__file__).resolve().parent


def feedback_buttons(destination: str, **kwargs: Any) -> gr.HTML:
    """The buttons 0-9 and "not a digit" with the line saying what is saved and where (``destination``:
    trusted HTML, the end of that line). Its ``submit`` event carries ``{label, seq, request}``; the
    server's answer, ``{request, saved, message}``, becomes its value."""
    return html_widget(HERE, "buttons", labels=list(LABELS), destination=destination, **kwargs)
