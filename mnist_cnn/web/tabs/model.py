"""The Model tab: where the weights came from, and the model card."""

from __future__ import annotations

import gradio as gr

from mnist_cnn.bundle import CARD_FILE
from mnist_cnn.web.views import BundleView, model_markdown

from .common import bundle_notice


def build(view: BundleView) -> None:
    """The Model tab's layout (it has no events)."""
    bundle_notice(view, CARD_FILE)
    gr.Markdown(model_markdown(view.bundle))
