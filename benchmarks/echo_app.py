"""A trivial Gradio app for comparison: app.py's inputs and outputs around handlers that do no work.

python benchmarks/echo_app.py --port 7870

`predict` takes an uploaded image file and returns a constant label, the file back as the image and a
status line; the pad's change event returns a constant answer of the live path's shape.
"""

import argparse
import sys
from pathlib import Path

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_cnn.pad import drawing_pad  # noqa: E402

ANSWER = {"label": {"label": "0", "confidences": [{"label": "0", "confidence": 1.0}]}, "image": None, "status": "**0**"}


def echo_file(path):
    return {"0": 1.0}, path, "**0**"


def echo_frame(frame):
    return {"seq": frame.get("seq", -1) if isinstance(frame, dict) else -1, **ANSWER}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()
    with gr.Blocks() as demo:
        pad = drawing_pad(elem_id="drawing-pad")
        answer = gr.JSON(visible=False)
        image_file = gr.File(visible=False, file_types=["image"])
        label, image, status = gr.Label(), gr.Image(format="png"), gr.Markdown()
        pad.change(echo_frame, pad, answer, trigger_mode="always_last", api_visibility="private")
        image_file.upload(echo_file, image_file, [label, image, status], api_name="predict")
    demo.launch(server_port=args.port)
