"""MNIST digit demo: draw a digit and watch a small CNN read it.

python app.py                        # the shipped model, offline
MODEL_REPO=user/mnist-cnn python app.py
python app.py --share                # a public link (needs the internet)
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal

import gradio as gr

from mnist_cnn.bundle import LoadedBundle
from mnist_cnn.feedback.guard import CorrectionGuard, CorrectionLimits
from mnist_cnn.feedback.store import FeedbackConfig, FeedbackStore, model_fields
from mnist_cnn.hub import load_model_source
from mnist_cnn.pad import PAGE_CSS
from mnist_cnn.pad.reader import PadReader
from mnist_cnn.predict import Predictor
from mnist_cnn.serving import ServingLimits
from mnist_cnn.tabs import confusion, draw, model, photo, samples, training
from mnist_cnn.views import BundleView


def build_demo(
    bundle: LoadedBundle,
    feedback: FeedbackStore,
    limits: ServingLimits | None = None,
    reader: PadReader | None = None,
) -> gr.Blocks:
    """The page: a title, the fallback notice if any, and one tab per module of mnist_cnn.tabs. ``feedback``:
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
                draw.build(predictor, limits, reader.settings(), feedback, guard)
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
    # torch, Gradio and the bundle are ~450k long-lived objects: a full garbage collection walks them all
    # (~0.2 s with everything else stopped). Frozen, they are left out, and requests are not stalled.
    gc.freeze()
    # show_error: a refused request (a file that was not uploaded, a malformed payload) is told why.
    # launch_options: the upload size limit, uploads and generated images deleted once they are
    # limits.cache_seconds old, and the in-browser reader's files.
    # SIGTERM (a Space restarting, `docker stop`) ends the server as Ctrl-C does, so that the corrections
    # not pushed yet are pushed below before the process exits.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            css_paths=[PAGE_CSS],
            show_error=True,
            **limits.launch_options(demo, reader.routes()),
        )
    except KeyboardInterrupt:
        pass  # stopped while still starting (once running, Gradio itself catches it and closes the server)
    finally:
        pushed = feedback.close(feedback_config.flush_seconds)
    if not pushed:
        # A push still running would hold the interpreter's exit past the deadline (its thread is joined):
        # leave now. What it was sending is on disk and goes with the next start's first push.
        logging.shutdown()
        os._exit(0)


if __name__ == "__main__":
    main()
