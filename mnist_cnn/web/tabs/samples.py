"""The Test samples tab: random test images with their readings; one picked shows its probabilities and why."""

from __future__ import annotations

from typing import Any

import gradio as gr

from mnist_cnn.bundle import SAMPLES_FILE
from mnist_cnn.reading.explain import why
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.web.views import BundleView

from .common import EXPLAIN_POOL, bundle_notice, compact_figure, thumbnail_gallery


class SampleHandlers:
    """The tab's handlers, around the model and the bundle's sample pack."""

    def __init__(self, predictor: Predictor, view: BundleView):
        self.predictor = predictor
        self.view = view

    def show_sample(self, shown: list[int], event: gr.SelectData) -> tuple[Any, Any, str]:
        """A gallery image picked: its probabilities, and why the model read it as it did."""
        view = self.view
        if (index := view.sample_at(shown, event.index)) is None:
            return None, None, ""
        read_as, truth = int(view.predictions[index]), int(view.labels[index])
        picture, text = why(self.predictor.model, view.field_of(index), read_as, read_as, transparent=True)
        verdict = "right" if read_as == truth else f"wrong: it is a {truth}"
        return view.probabilities_of(shown, event.index), picture, f"{text} (Read as {read_as}, {verdict}.)"


def build(predictor: Predictor, view: BundleView) -> None:
    """The Test samples tab's layout, then its events."""
    bundle_notice(view, SAMPLES_FILE)
    first_set = view.random_indices()
    with gr.Column(visible=view.samples is not None):  # nothing to browse without samples
        with gr.Row():
            shuffle = gr.Button("New random set", variant="primary")
            only_mistakes = gr.Checkbox(label="Show only the model's mistakes")
        gallery = thumbnail_gallery(
            view.gallery(first_set),
            "Random test images: predicted / true (mistakes framed in red)",
            "sample-gallery",
            columns=8,
            height=560,
        )
        with gr.Row():
            chosen = gr.Label(
                num_top_classes=3,
                label="Probabilities of the selected image",
                elem_id="chosen-probabilities",
            )
            with gr.Column():
                sample_why = compact_figure("Why: red for, blue against", "sample-why")
                sample_why_text = gr.Markdown()
    shown = gr.State(first_set)  # per visitor: which sample-pack images the gallery shows

    handlers = SampleHandlers(predictor, view)
    gr.on(
        [shuffle.click, only_mistakes.change],
        view.shuffle,
        only_mistakes,
        [gallery, shown],
        api_visibility="private",
    )
    gallery.select(
        handlers.show_sample,
        shown,
        [chosen, sample_why, sample_why_text],
        api_visibility="private",
        **EXPLAIN_POOL,
    )
