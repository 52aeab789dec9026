"""MNIST digit demo: draw a digit and watch a small CNN read it.

python app.py                        # the shipped model, offline
MODEL_REPO=user/mnist-cnn python app.py
python app.py --share                # a public link (needs the internet)
"""

from __future__ import annotations

import argparse
import logging
import os

import gradio as gr

from mnist_cnn.bundle import LoadedBundle
from mnist_cnn.hub import load_model_source
from mnist_cnn.reading.predict import Predictor
from mnist_cnn.web.feedback.guard import CorrectionGuard, CorrectionLimits
from mnist_cnn.web.feedback.store import FeedbackConfig, FeedbackStore, model_fields
from mnist_cnn.web.pad import PAGE_CSS
from mnist_cnn.web.pad.reader import PadReader
from mnist_cnn.web.serving import ServingLimits, serve
from mnist_cnn.web.tabs import confusion, draw, model, photo, samples, training
from mnist_cnn.web.views import BundleView


def build_demo(
    bundle: LoadedBundle,
    feedback: FeedbackStore,
    limits: ServingLimits | None = None,
    reader: PadReader | None = None,
) -> gr.Blocks:
    """The page: a title, the fallback notice if any, and one tab per module of mnist_cnn.web.tabs. ``feedback``:
    where visitors' corrections go; ``reader``: the pad's in-browser reader, whose routes the launch serves."""
    limits = limits or ServingLimits.from_env()
    reader = reader or PadReader.from_bundle(bundle)
    limits.configure()
    predictor = Predictor.from_bundle(bundle)
    view = BundleView(bundle)
    guard = CorrectionGuard(CorrectionLimits.from_env())  # the corrections' rate limits, in memory
    with gr.Blocks(title="MNIST digit demo") as demo:
        gr.Markdown(
            "# ✍️ MNIST digit demo\n"
            f"Draw a digit from 0 to 9: a {view.num_parameters:,}-parameter CNN reads it as you draw "
            f"({view.accuracy_text} on the 10,000 MNIST test images).",
            elem_id="intro",
        )
        if bundle.fallback_reason:
            gr.Markdown(f"⚠️ {bundle.fallback_reason}", elem_id="fallback-notice")
        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                draw.build(predictor, limits, reader, feedback, guard)
            with gr.Tab("Photo or scan", id="photo"):
                photo.build(predictor, limits)
            with gr.Tab("Test samples", id="samples"):
                samples.build(predictor, view)
            with gr.Tab("Confusion matrix", id="confusion"):
                confusion.build(predictor, view)
            with gr.Tab("Training", id="training"):
                training.build(view)
            with gr.Tab("Model", id="model"):
                model.build(view)
    # max_size: past it a request is refused at once (503 "Queue is full") rather than left waiting
    demo.queue(max_size=limits.queue_size)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, help="port (default 7860, or the next free one)")
    parser.add_argument("--share", action="store_true", help="also open a public share link (needs the internet)")
    parser.add_argument("--model", help="Hub repo id or bundle folder (default: $MODEL_REPO, else the shipped model)")
    parser.add_argument("--revision", help="Hub branch, tag or commit (default: $MODEL_REVISION)")
    args = parser.parse_args()
    # The app's own news (where corrections go, each push) at INFO; other libraries' warnings only.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mnist_cnn").setLevel(logging.INFO)
    limits = ServingLimits.from_env()
    bundle = load_model_source(args.model, args.revision)
    reader = PadReader.from_bundle(bundle)
    feedback_config = FeedbackConfig.from_env()
    feedback = FeedbackStore(feedback_config, model_fields(bundle))
    demo = build_demo(bundle, feedback, limits, reader)
    try:
        serve(demo, limits, reader.routes(), PAGE_CSS, server_name=args.host, server_port=args.port, share=args.share)
    finally:
        pushed = feedback.close(feedback_config.flush_seconds)  # the corrections not pushed yet
    if not pushed:
        # A push still running would hold the interpreter's exit past the deadline (its thread is joined):
        # leave now. What it was sending is on disk and goes with the next start's first push.
        logging.shutdown()
        os._exit(0)


if __name__ == "__main__":
    main()
