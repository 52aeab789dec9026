"""A trivial Gradio app for comparison: app.py's inputs, outputs and queue around handlers that do no work.

python benchmarks/echo_app.py --port 7870

`predict` takes an uploaded image file and returns a constant label, a constant 28x28 image and a status
line, as app.py's `predict` does; the pad's frames (its submit event, as in the app, with no in-browser
reader) get a constant answer of the live path's shape. Both share one worker pool with the limits of
app.py (mnist_cnn.web.serving).
"""

import argparse
import sys
from pathlib import Path

import gradio as gr
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_cnn.web.pad import drawing_pad
from mnist_cnn.web.serving import ServingLimits

ANSWER = {"label": {"label": "0", "confidences": [{"label": "0", "confidence": 1.0}]}, "image": None, "status": "**0**"}
SEEN = np.zeros((28, 28), dtype=np.uint8)


def echo_file(image_bytes):
    return {"0": 1.0}, SEEN, "**0**"


def echo_frame(frame):
    return {"seq": frame.get("seq", -1) if isinstance(frame, dict) else -1, **ANSWER}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()
    limits = ServingLimits.from_env()
    limits.configure()
    with gr.Blocks() as demo:
        pad = drawing_pad(None, elem_id="drawing-pad")
        answer = gr.JSON(visible=False)
        image_file = gr.File(visible=False, file_types=["image"], type="binary")  # as app.py
        label, image, status = gr.Label(num_top_classes=3), gr.Image(format="png"), gr.Markdown()
        model_pool = {"concurrency_id": "model", "concurrency_limit": limits.model_workers}
        pad.submit(echo_frame, pad, answer, trigger_mode="always_last", api_visibility="private", **model_pool)
        image_file.upload(echo_file, image_file, [label, image, status], api_name="predict", **model_pool)
    demo.queue(max_size=limits.queue_size)
    demo.launch(server_port=args.port, **limits.launch_options(demo))
