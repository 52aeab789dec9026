"""MNIST digit demo: draw a digit and watch a small CNN read it.

python app.py                        # the shipped model, offline
MODEL_REPO=user/mnist-cnn python app.py
python app.py --share                # a public link (needs the internet)
"""

from __future__ import annotations

import argparse

import gradio as gr
import torch
from gradio.components.image_editor import EditorData

from mnist_cnn.bundle import LoadedBundle
from mnist_cnn.hub import load_model_source
from mnist_cnn.predict import EMPTY_MESSAGE, Predictor
from mnist_cnn.views import BundleView, model_markdown, to_uint8

torch.set_num_threads(1)  # one small request at a time: lowest latency beside the web server

# The canvas's own "Clear canvas" (it fires the change event, so the empty state shows), then the
# brush again: clearing deselects it, and the next finger stroke should draw.
CLEAR_CANVAS_JS = """() => {
    const button = (name) => document.querySelector(`#sketchpad button[aria-label="${name}"]`);
    button("Clear canvas")?.click();
    setTimeout(() => button("Brush")?.click(), 100);
}"""

# "What the model sees" arrives as 28x28 pixels (cheap to send); the page enlarges it, crisply.
CSS = "#model-input img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"


class SketchOrImage(EditorData):
    """The Sketchpad's value, or a plain image file (``gradio_client.handle_file``) sent by API callers."""

    path: str | None = None
    orig_name: str | None = None
    meta: dict | None = None


class DigitSketchpad(gr.ImageEditor):
    """A sketchpad whose API also takes a bare image file, and hands over files undecoded.

    Files (not the browser's in-memory canvas) are passed on as paths, so an unreadable upload
    becomes a clear message from the preprocessing instead of an error inside Gradio.
    """

    data_model = SketchOrImage
    is_template = True  # drawn by the browser as its parent, the ImageEditor

    def preprocess(self, payload: SketchOrImage | None):
        if payload is None or payload.id is not None:
            return super().preprocess(payload)
        file = payload.composite or payload.background
        path = file.path if file is not None else payload.path
        return {"background": None, "layers": [], "composite": path}


def build_demo(bundle: LoadedBundle) -> gr.Blocks:
    predictor = Predictor(bundle.model)
    view = BundleView(bundle)

    def predict(sketch):
        result = predictor(sketch)
        if result.model_input is None:
            return None, None, f"**{result.message}**"
        return result.label_confidences(), to_uint8(result.model_input), result.status_markdown()

    def show_probabilities(shown: list[int], event: gr.SelectData):
        return view.probabilities_of(shown, event.index)

    with gr.Blocks(title="MNIST digit demo") as demo:
        gr.Markdown(
            "# ✍️ MNIST digit demo\n"
            f"Draw a digit from 0 to 9. A {view.num_parameters:,}-parameter CNN reads it: "
            f"{view.accuracy_text} on the 10,000 MNIST test images."
        )
        if bundle.fallback_reason:
            gr.Markdown(f"⚠️ {bundle.fallback_reason}", elem_id="fallback-notice")
        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        sketch = DigitSketchpad(
                            label="Draw a digit here (mouse, pen or finger)",
                            sources=(),
                            canvas_size=(400, 400),
                            height=480,
                            fixed_canvas=True,
                            brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                            layers=False,
                            transforms=(),
                            type="numpy",
                            image_mode="RGBA",
                            elem_id="sketchpad",
                        )
                        clear = gr.Button("Clear", elem_id="clear-button")
                    with gr.Column(scale=2):
                        status = gr.Markdown(f"**{EMPTY_MESSAGE}**", elem_id="status")
                        label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
                        seen = gr.Image(
                            label="What the model sees (28x28)",
                            interactive=False,
                            format="png",
                            height=280,
                            width=240,
                            elem_id="model-input",
                        )
            with gr.Tab("Test samples", id="samples"):
                first_set = view.random_indices()
                with gr.Row():
                    shuffle = gr.Button("New random set", variant="primary")
                    only_mistakes = gr.Checkbox(label="Show only the model's mistakes")
                gallery = gr.Gallery(
                    value=view.gallery(first_set),
                    label="Random test images: predicted / true (mistakes framed in red)",
                    columns=8,
                    height=560,
                    object_fit="contain",
                    allow_preview=False,
                    elem_id="sample-gallery",
                )
                shown = gr.State(first_set)  # per visitor: which sample-pack images the gallery shows
                chosen = gr.Label(num_top_classes=3, label="Probabilities of the selected image",
                                  elem_id="chosen-probabilities")  # fmt: skip
            with gr.Tab("Confusion matrix", id="confusion"):
                gr.Markdown(view.accuracy_markdown())
                with gr.Row():
                    gr.Image(view.plot_path("confusion_matrix.png"), label="Confusion matrix (test set)",
                             interactive=False, elem_id="confusion-image")  # fmt: skip
                    gr.Dataframe(view.per_class_table(), label="Per class", interactive=False, elem_id="per-class")
                with gr.Row():
                    true_digit = gr.Dropdown(list(range(10)), value=4, label="True digit")
                    predicted_digit = gr.Dropdown(list(range(10)), value=9, label="Predicted digit")
                pair_image, pair_caption = view.pair_montage(4, 9)
                pair_text = gr.Markdown(pair_caption)
                pair = gr.Image(pair_image, label="Those test images (sample pack)", interactive=False,
                                height=300, elem_id="pair-images")  # fmt: skip
            with gr.Tab("Training", id="training"):
                gr.Image(view.plot_path("loss_curves.png"), label="Loss and accuracy by epoch", interactive=False,
                         elem_id="loss-curves")  # fmt: skip
                gr.Markdown(view.training_markdown())
            with gr.Tab("Model", id="model"):
                gr.Markdown(model_markdown(bundle))

        predicting = sketch.change(predict, sketch, [label, seen, status], api_name="predict",
                                   trigger_mode="always_last", show_progress="hidden")  # fmt: skip
        # Cancel a prediction still in flight, so a stale answer never lands on the cleared canvas.
        clear.click(lambda: (None, None, f"**{EMPTY_MESSAGE}**"), None, [label, seen, status], js=CLEAR_CANVAS_JS,
                    cancels=[predicting], api_visibility="private")  # fmt: skip
        gr.on([shuffle.click, only_mistakes.change], view.shuffle, only_mistakes, [gallery, shown],
              api_visibility="private")  # fmt: skip
        gallery.select(show_probabilities, shown, chosen, api_visibility="private")
        pair_changed = [true_digit.change, predicted_digit.change]
        gr.on(pair_changed, view.pair_montage, [true_digit, predicted_digit], [pair, pair_text],
              api_visibility="private")  # fmt: skip
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, help="port (default 7860, or the next free one)")
    parser.add_argument("--share", action="store_true", help="also open a public share link (needs the internet)")
    parser.add_argument("--model", help="Hub repo id or bundle folder (default: $MODEL_REPO, else the shipped model)")
    parser.add_argument("--revision", help="Hub branch, tag or commit (default: $MODEL_REVISION)")
    args = parser.parse_args()
    demo = build_demo(load_model_source(args.model, args.revision))
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css=CSS)


if __name__ == "__main__":
    main()
