"""What several tabs share: the worker pools, the answer triple, images sent as data URLs, bundle plots."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from mnist_cnn.reading.predict import Prediction
from mnist_cnn.web.pad import png_data_url
from mnist_cnn.web.serving import ServingLimits
from mnist_cnn.web.views import BundleView, to_uint8

# Explanations have their own worker: they never hold up the live pad, the photos or `predict`.
EXPLAIN_POOL = {"concurrency_id": "explain", "concurrency_limit": 1}


def model_pool(limits: ServingLimits) -> dict[str, Any]:
    """The event options that put a handler in the pool of model workers shared by the live pad, the photo
    tab and the API (``limits.model_workers`` run at once)."""
    return {"concurrency_id": "model", "concurrency_limit": limits.model_workers}


def outputs(result: Prediction) -> tuple[dict[str, float] | None, np.ndarray | None, str]:
    """Label confidences, the 28x28 image the model saw (uint8) and the status line; None where empty."""
    if result.model_input is None:
        return None, None, f"**{result.message}**"
    return result.label_confidences(), to_uint8(result.model_input), result.status_markdown()


def data_image(image: Any) -> dict[str, str]:
    """An image sent inside a live answer (a data URL: no file written), as gr.Image takes it."""
    return {"url": png_data_url(image), "orig_name": "image.png"}


def output_image(label: str, elem_id: str, **kwargs: Any) -> gr.Image:
    """An image the app shows (never an upload), sent as PNG."""
    return gr.Image(label=label, interactive=False, format="png", elem_id=elem_id, **kwargs)


def compact_figure(label: str, elem_id: str) -> gr.Image:
    """A small figure (the 28x28 view, a "why" overlay), 240 px high: only a download button, and a label
    that wraps clear of it (page.css)."""
    return output_image(label, elem_id, height=240, min_width=140, buttons=["download"], elem_classes="compact-figure")


def thumbnail_gallery(items: list | None, label: str, elem_id: str, columns: int, height: int | str) -> gr.Gallery:
    """A gallery of small images that the visitor picks from (no preview: a pick is an event)."""
    return gr.Gallery(
        items,
        label=label,
        columns=columns,
        height=height,
        object_fit="contain",
        allow_preview=False,
        elem_id=elem_id,
    )


def plot_image(view: BundleView, name: str, **kwargs: Any) -> gr.Image:
    """A plot of the bundle; hidden (the tab's notice says why) when the file is missing or unreadable."""
    path = view.plot_path(name)
    return gr.Image(path, interactive=False, visible=path is not None, **kwargs)


def bundle_notice(view: BundleView, *names: str) -> None:
    """At the top of a tab: which of the files it shows are missing or unreadable, if any."""
    if text := view.notice(*names):
        gr.Markdown(text, elem_classes="bundle-notice")
