"""A widget of the page: a ``gr.HTML`` made of three files beside its module, ``NAME.html``, ``NAME.css`` and
``NAME.js`` (run by Gradio once the component is on the page), without Gradio's default styles. The pad, the
network view and the feedback buttons are made this way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr


def html_widget(folder: Path, name: str, js_prefix: str = "", **props: Any) -> gr.HTML:
    """The widget ``name`` from ``folder``; ``js_prefix``: code put in front of its script (``APP_ROOT_JS``);
    ``props``: its settings (``props.*`` in the script) and the component's own arguments."""
    return gr.HTML(
        value=None,
        html_template=(folder / f"{name}.html").read_text(),
        css_template=(folder / f"{name}.css").read_text(),
        js_on_load=js_prefix + (folder / f"{name}.js").read_text(),
        apply_default_css=False,
        **props,
    )
