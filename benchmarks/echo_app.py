"""A trivial Gradio app for comparison: the same sketch input as app.py, an endpoint that echoes it.

python benchmarks/echo_app.py --port 7870
"""

import argparse
import sys
from pathlib import Path

import gradio as gr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import DigitSketchpad  # noqa: E402


def echo(sketch):
    """The sketch straight back, with a constant label: the same input and output types as app.py."""
    return {"0": 1.0}, sketch["composite"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()
    with gr.Blocks() as demo:
        sketch = DigitSketchpad(canvas_size=(400, 400), type="numpy", image_mode="RGBA")
        label, image = gr.Label(), gr.Image(format="png")
        sketch.change(echo, sketch, [label, image], api_name="predict")
    demo.launch(server_port=args.port)
