"""The Training tab: the loss curves, the learning-rate sweep and hyperparameters, and the calibration."""

from __future__ import annotations

import gradio as gr

from mnist_cnn.bundle import CALIBRATION_FILE, HISTORY_FILE, METRICS_FILE, RELIABILITY_PLOT
from mnist_cnn.web.views import BundleView

from .common import bundle_notice, plot_image


def build(view: BundleView) -> None:
    """The Training tab's layout (it has no events)."""
    bundle_notice(view, "loss_curves.png", HISTORY_FILE, METRICS_FILE, RELIABILITY_PLOT, CALIBRATION_FILE)
    plot_image(view, "loss_curves.png", label="Loss and accuracy by epoch", elem_id="loss-curves")
    gr.Markdown(view.training_markdown())
    with gr.Row():  # side by side on a desktop, stacked on a phone
        with gr.Column(min_width=300):
            plot_image(view, RELIABILITY_PLOT, label="Reliability of the confidence shown", elem_id="reliability")
        with gr.Column(min_width=300):
            gr.Markdown(view.calibration_markdown(), elem_id="calibration")
