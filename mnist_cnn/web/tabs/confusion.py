"""The Confusion matrix tab: the test set's matrix, its cells clickable, and "why was this 4 read as 9?"."""

from __future__ import annotations

from typing import Any

import gradio as gr

from mnist_cnn.bundle import METRICS_FILE, SAMPLES_FILE
from mnist_cnn.reading.explain import why
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.web.views import BundleView

from .common import EXPLAIN_POOL, bundle_notice, compact_figure, plot_image, thumbnail_gallery

FIRST_PAIR = (4, 9)  # the pair shown before a cell is clicked: true 4, read as 9


class ConfusionHandlers:
    """The tab's handlers, around the model and the bundle's sample pack."""

    def __init__(self, predictor: Predictor, view: BundleView):
        self.predictor = predictor
        self.view = view

    def pick_pair(self, event: gr.SelectData) -> tuple[Any, Any, Any]:
        """A confusion cell clicked: the test images of that true digit read as that prediction."""
        row, column = event.index
        if column == 0:  # the column naming the rows
            return gr.skip(), gr.skip(), gr.skip()
        return self.view.pair_gallery(row, column - 1)

    def explain_pair(self, shown: list[int], event: gr.SelectData) -> tuple[Any, Any, str]:
        """A confusion-pair image picked: evidence for the digit it was read as, and for the true digit."""
        view = self.view
        if (index := view.sample_at(shown, event.index)) is None:
            return None, None, ""
        read_as, truth = int(view.predictions[index]), int(view.labels[index])
        field = view.field_of(index)
        read_picture, _ = why(self.predictor.model, field, read_as, read_as, transparent=True)
        true_picture, _ = why(self.predictor.model, field, truth, read_as, transparent=True)
        return (
            read_picture,
            true_picture,
            f"Test image #{index}, a **{truth}** read as **{read_as}**. Left: red pixels spoke for {read_as}; "
            f"right: red pixels spoke for {truth}. Blue pixels spoke against.",
        )


def build(predictor: Predictor, view: BundleView) -> None:
    """The Confusion matrix tab's layout, then its events."""
    bundle_notice(view, METRICS_FILE, "confusion_matrix.png", SAMPLES_FILE)
    gr.Markdown(view.accuracy_markdown())
    confusion = gr.Dataframe(
        view.confusion_table(),
        label="Confusion matrix (test set): click a cell",
        interactive=False,
        elem_id="confusion-table",
    )
    with gr.Column(visible=view.samples is not None):
        pair_items, pair_indices, pair_caption = view.pair_gallery(*FIRST_PAIR)
        pair_text = gr.Markdown(pair_caption)
        pair = thumbnail_gallery(pair_items, "Those test images (sample pack)", "pair-images", columns=8, height=320)
        pair_shown = gr.State(pair_indices)
        with gr.Row():
            why_read = compact_figure("Evidence for the digit it was read as", "pair-why-predicted")
            why_not = compact_figure("Evidence for the true digit", "pair-why-true")
        pair_why_text = gr.Markdown(elem_id="pair-why-text")
    with gr.Row():
        gr.Dataframe(view.per_class_table(), label="Per class", interactive=False, elem_id="per-class")
        with gr.Accordion("The same matrix as train.py drew it", open=False):
            plot_image(view, "confusion_matrix.png", label="Confusion matrix (test set)", elem_id="confusion-image")

    handlers = ConfusionHandlers(predictor, view)
    confusion.select(handlers.pick_pair, None, [pair, pair_shown, pair_text], api_visibility="private")
    pair.select(
        handlers.explain_pair,
        pair_shown,
        [why_read, why_not, pair_why_text],
        api_visibility="private",
        **EXPLAIN_POOL,
    )
