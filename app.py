"""MNIST digit demo: draw a digit and watch a small CNN read it.

python app.py                        # the shipped model, offline
MODEL_REPO=user/mnist-cnn python app.py
python app.py --share                # a public link (needs the internet)
"""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

import gradio as gr
import numpy as np

from mnist_cnn.bundle import (
    CALIBRATION_FILE,
    CARD_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    RELIABILITY_PLOT,
    SAMPLES_FILE,
    LoadedBundle,
)
from mnist_cnn.explain import explain_input, explain_prediction, why
from mnist_cnn.hub import load_model_source
from mnist_cnn.number import (
    NumberReading,
    draw_reading,
    fields_side_by_side,
    number_markdown,
    read_digit_or_number,
    read_number,
)
from mnist_cnn.pad import APPLY_RESULT_JS, drawing_pad, png_data_url, read_frame
from mnist_cnn.predict import EMPTY_MESSAGE, Prediction, Predictor
from mnist_cnn.serving import ServingLimits
from mnist_cnn.sketch import SketchError, load_image
from mnist_cnn.views import BundleView, model_markdown, to_uint8

PHOTO_PROMPT = "Upload, paste or take a photo of a digit or a number"
BEST_GUESS = -1
EXPLAIN_CHOICES = [("its best guess", BEST_GUESS)] + [(str(digit), digit) for digit in range(10)]
PAGE_CSS = Path(__file__).resolve().parent / "mnist_cnn" / "pad" / "page.css"


def build_demo(bundle: LoadedBundle, limits: ServingLimits | None = None) -> gr.Blocks:
    limits = limits or ServingLimits.from_env()
    limits.configure()
    predictor = Predictor.from_bundle(bundle)
    view = BundleView(bundle)

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
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        pad = drawing_pad(elem_id="drawing-pad")
                        # shown only when the pad holds a number (page.css hides it while it is empty)
                        number_boxes = gr.Image(label="Digits found", interactive=False, format="png", height=240,
                                                elem_id="number-boxes")  # fmt: skip
                    with gr.Column(scale=2, min_width=300):
                        status = gr.Markdown(f"**{EMPTY_MESSAGE}**", elem_id="status")
                        label = gr.Label(num_top_classes=3, label="Prediction", elem_id="prediction")
                        with gr.Row():
                            seen = gr.Image(label="What the model sees (28x28)", interactive=False, format="png",
                                            height=240, min_width=140, elem_id="model-input")  # fmt: skip
                            why_image = gr.Image(label="Why: red for, blue against", interactive=False, format="png",
                                                 height=240, min_width=140, elem_id="why-image")  # fmt: skip
                        explain_digit = gr.Dropdown(EXPLAIN_CHOICES, value=BEST_GUESS, label="Explain which digit",
                                                    elem_id="explain-digit")  # fmt: skip
                        why_text = gr.Markdown(elem_id="why-text")
                # Not shown: the live answer on its way to the page, and the public API's image file.
                live_answer = gr.JSON(visible=False)
                # type="binary": Gradio hands over the upload's bytes (a "filepath" File leaves an empty
                # temporary file in the cache on every call, which the cache clean-up never removes)
                api_image = gr.File(visible=False, file_types=["image"], type="binary")
                number_file = gr.File(visible=False, file_types=["image"], type="binary")
                number_json = gr.JSON(visible=False, label="reading")
                explain_file = gr.File(visible=False, file_types=["image"], type="binary")
                explain_target = gr.Number(None, precision=0, minimum=0, maximum=9, visible=False, label="digit")
            with gr.Tab("Photo or scan", id="photo"):
                gr.Markdown("A digit or a number written on paper: upload a photo or a scan, paste an image, or "
                            "use the webcam. Below, the preprocessing step by step, as for the pad.")  # fmt: skip
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        # filepath, no image_mode: Gradio passes the upload on undecoded, and the app's own
                        # reader checks its size before decoding it
                        photo = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath", height=400,
                                         label="Photo, scan or pasted image", elem_id="photo-input")  # fmt: skip
                    with gr.Column(scale=2, min_width=300):
                        photo_status = gr.Markdown(f"**{PHOTO_PROMPT}**", elem_id="photo-status")
                        photo_reading = gr.Image(label="What was read", interactive=False, format="png",
                                                 elem_id="photo-reading")  # fmt: skip
                # a short label: a long one wraps over the first row of images on a phone (each caption
                # names its step)
                photo_steps = gr.Gallery(label="Preprocessing, step by step", columns=4, height="auto",
                                         object_fit="contain", allow_preview=False, elem_id="photo-steps")  # fmt: skip
            with gr.Tab("Test samples", id="samples"):
                bundle_notice(view, SAMPLES_FILE)
                first_set = view.random_indices()
                with gr.Column(visible=view.samples is not None):  # nothing to browse without samples
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
                    with gr.Row():
                        chosen = gr.Label(num_top_classes=3, label="Probabilities of the selected image",
                                          elem_id="chosen-probabilities")  # fmt: skip
                        with gr.Column():
                            sample_why = gr.Image(label="Why: red for, blue against", interactive=False,
                                                  format="png", height=240, elem_id="sample-why")  # fmt: skip
                            sample_why_text = gr.Markdown()
                shown = gr.State(first_set)  # per visitor: which sample-pack images the gallery shows
            with gr.Tab("Confusion matrix", id="confusion"):
                bundle_notice(view, METRICS_FILE, "confusion_matrix.png", SAMPLES_FILE)
                gr.Markdown(view.accuracy_markdown())
                confusion = gr.Dataframe(view.confusion_table(), label="Confusion matrix (test set): click a cell",
                                         interactive=False, elem_id="confusion-table")  # fmt: skip
                with gr.Column(visible=view.samples is not None):
                    pair_items, pair_indices, pair_caption = view.pair_gallery(4, 9)
                    pair_text = gr.Markdown(pair_caption)
                    pair = gr.Gallery(pair_items, label="Those test images (sample pack)", columns=8, height=320,
                                      object_fit="contain", allow_preview=False, elem_id="pair-images")  # fmt: skip
                    pair_shown = gr.State(pair_indices)
                    with gr.Row():
                        why_read = gr.Image(label="Evidence for the digit it was read as", interactive=False,
                                            format="png", height=240, elem_id="pair-why-predicted")  # fmt: skip
                        why_not = gr.Image(label="Evidence for the true digit", interactive=False, format="png",
                                           height=240, elem_id="pair-why-true")  # fmt: skip
                    pair_why_text = gr.Markdown(elem_id="pair-why-text")
                with gr.Row():
                    gr.Dataframe(view.per_class_table(), label="Per class", interactive=False, elem_id="per-class")
                    with gr.Accordion("The same matrix as train.py drew it", open=False):
                        plot_image(view, "confusion_matrix.png", label="Confusion matrix (test set)",
                                   elem_id="confusion-image")  # fmt: skip
            with gr.Tab("Training", id="training"):
                bundle_notice(view, "loss_curves.png", HISTORY_FILE, METRICS_FILE, RELIABILITY_PLOT, CALIBRATION_FILE)
                plot_image(view, "loss_curves.png", label="Loss and accuracy by epoch", elem_id="loss-curves")
                gr.Markdown(view.training_markdown())
                with gr.Row():  # side by side on a desktop, stacked on a phone
                    with gr.Column(min_width=300):
                        plot_image(view, RELIABILITY_PLOT, label="Reliability of the confidence shown",
                                   elem_id="reliability")  # fmt: skip
                    with gr.Column(min_width=300):
                        gr.Markdown(view.calibration_markdown(), elem_id="calibration")
            with gr.Tab("Model", id="model"):
                bundle_notice(view, CARD_FILE)
                gr.Markdown(model_markdown(bundle))

        def read_drawing(frame) -> dict:
            """The live path: a frame from the pad, read into what the page shows (applied by APPLY_RESULT_JS)."""
            try:
                seq, image = read_frame(frame)
            except SketchError as err:
                return {"seq": -1, "label": {}, "image": None, "status": f"**{err}**"}
            single, number = read_digit_or_number(predictor, image)
            if number is not None:  # a number: each digit's box and reading
                views, boxes = to_uint8(fields_side_by_side(number)), draw_reading(image, number)
                return {"seq": seq, "label": {}, "image": data_image(views), "status": number_markdown(number),
                        "boxes": data_image(boxes)}  # fmt: skip
            confidences, model_input, markdown = outputs(single)  # one digit: as it always was
            label_data = label.postprocess(confidences)  # the top 3, as gr.Label shows them
            return {
                "seq": seq,
                "label": label_data.model_dump() if label_data else {},
                "image": None if model_input is None else data_image(model_input),
                "status": markdown,
                "boxes": None,
            }

        def show_sample(shown: list[int], event: gr.SelectData):
            """A gallery image picked: its probabilities, and why the model read it as it did."""
            if (index := view.sample_at(shown, event.index)) is None:
                return None, None, ""
            read_as, truth = int(view.predictions[index]), int(view.labels[index])
            picture, text = why(predictor.model, view.field_of(index), read_as, read_as)
            verdict = "right" if read_as == truth else f"wrong: it is a {truth}"
            return view.probabilities_of(shown, event.index), picture, f"{text} (Read as {read_as}, {verdict}.)"

        def pick_pair(event: gr.SelectData):
            """A confusion cell clicked: the test images of that true digit read as that prediction."""
            row, column = event.index
            if column == 0:  # the column naming the rows
                return gr.skip(), gr.skip(), gr.skip()
            return view.pair_gallery(row, column - 1)

        def explain_pair(shown: list[int], event: gr.SelectData):
            """A confusion-pair image picked: evidence for the digit it was read as, and for the true digit."""
            if (index := view.sample_at(shown, event.index)) is None:
                return None, None, ""
            read_as, truth = int(view.predictions[index]), int(view.labels[index])
            field = view.field_of(index)
            read_picture, _ = why(predictor.model, field, read_as, read_as)
            true_picture, _ = why(predictor.model, field, truth, read_as)
            return read_picture, true_picture, (
                f"Test image #{index}, a **{truth}** read as **{read_as}**. Left: red pixels spoke for {read_as}; "
                f"right: red pixels spoke for {truth}. Blue pixels spoke against."
            )

        def explain_drawing(frame, digit: int):
            """After each live answer: why the drawing on the pad reads as it does (or as ``digit``)."""
            try:
                _, image = read_frame(frame)
            except SketchError:
                return None, ""
            single, number = read_digit_or_number(predictor, image)
            if number is not None:
                return None, "Explanations are for one digit: draw a single digit to see why it reads as it does."
            overlay, text = explain_prediction(predictor.model, single, None if digit == BEST_GUESS else digit)
            return overlay, text if overlay is not None else ""

        def read_photo(path: str | None):
            """A photo, scan or pasted image: the reading drawn on it, the status line and the steps."""
            if path is None:
                return None, f"**{PHOTO_PROMPT}**", []
            try:
                image = load_image(path)  # decoded once (size checked first), then read twice below
                reading = read_number(predictor, image)
            except SketchError as err:
                return None, f"**{err}**", []
            if not reading.digits:
                return None, f"**No digit found: {reading.message}.**", []
            if len(reading.digits) == 1:  # one digit: the status line of the pad and `predict`
                status_line = outputs(predictor(image))[2]
            else:
                status_line = number_markdown(reading)
            return draw_reading(image, reading), status_line, preprocessing_gallery(reading)

        def read_number_api(image: bytes | None) -> dict:
            """The public API: every digit in an uploaded image, left to right (the CLI's `--number` JSON)."""
            try:
                return read_number(predictor, image).to_json()
            except SketchError as err:
                return {"number": None, "digits": [], "error": str(err)}

        def explain(image: bytes | None, digit: float | None):
            """The public API: an uploaded image file and a digit (default: the model's best guess)."""
            return explain_input(predictor, image, None if digit is None else int(digit))

        def predict(image: bytes | None):
            """The public API: one uploaded image file (Gradio refuses a file that was not uploaded)."""
            return outputs(predictor(image))

        # The live pad and the API share one pool of model workers (concurrency_id "model").
        model_pool = {"concurrency_id": "model", "concurrency_limit": limits.model_workers}
        live = pad.change(read_drawing, pad, live_answer, trigger_mode="always_last", show_progress="hidden",
                          api_visibility="private", **model_pool)  # fmt: skip
        live.success(None, [live_answer, pad], [label, seen, status, number_boxes], js=APPLY_RESULT_JS,
                     show_progress="hidden")  # fmt: skip
        api_image.upload(predict, api_image, [label, seen, status], api_name="predict", **model_pool)
        photo.change(read_photo, photo, [photo_reading, photo_status, photo_steps], api_visibility="private",
                     **model_pool)  # fmt: skip
        number_file.upload(read_number_api, number_file, number_json, api_name="read_number", **model_pool)
        gr.on([shuffle.click, only_mistakes.change], view.shuffle, only_mistakes, [gallery, shown],
              api_visibility="private")  # fmt: skip
        # Explanations have their own worker: they never hold up the live pad or `predict`.
        explain_pool = {"concurrency_id": "explain", "concurrency_limit": 1}
        gr.on([live_answer.change, explain_digit.change], explain_drawing, [pad, explain_digit], [why_image, why_text],
              trigger_mode="always_last", show_progress="hidden", api_visibility="private", **explain_pool)  # fmt: skip
        explain_file.upload(explain, [explain_file, explain_target], [why_image, why_text], api_name="explain",
                            **explain_pool)  # fmt: skip
        gallery.select(show_sample, shown, [chosen, sample_why, sample_why_text], api_visibility="private",
                       **explain_pool)  # fmt: skip
        confusion.select(pick_pair, None, [pair, pair_shown, pair_text], api_visibility="private")
        pair.select(explain_pair, pair_shown, [why_read, why_not, pair_why_text], api_visibility="private",
                    **explain_pool)  # fmt: skip
    # max_size: past it a request is refused at once (503 "Queue is full") rather than left waiting
    demo.queue(max_size=limits.queue_size)
    return demo


def preprocessing_gallery(reading: NumberReading) -> list[tuple]:
    """Gallery items for each step of the preprocessing: the ink found, then each digit's."""
    items = [(square_tile(reading.digits[0].steps.ink_found), "1. ink found (paper removed)")]
    for n, d in enumerate(reading.digits, start=1):
        which = f"digit {n}: " if len(reading.digits) > 1 else ""
        read_as = "?" if d.digit is None else d.digit
        items += [(square_tile(d.steps.crop), f"2. {which}cropped to its ink"),
                  (square_tile(d.steps.scaled), f"3. {which}scaled to 20 px"),
                  (square_tile(d.steps.field), f"4. {which}centred in 28x28: read as {read_as}")]  # fmt: skip
    return items


def square_tile(image: np.ndarray, side: int = 224) -> np.ndarray:
    """A step's image (float, white on black) centred on a black square, small ones enlarged with crisp
    pixels: every step shows whole, at one size, in the gallery."""
    height, width = image.shape
    factor = max(1, side // max(height, width))  # whole pixels only: the 28x28 grid stays visible
    big = np.kron(to_uint8(image), np.ones((factor, factor), dtype=np.uint8)) if factor > 1 else to_uint8(image)
    square = np.zeros((max(big.shape),) * 2, dtype=np.uint8)
    top, left = (square.shape[0] - big.shape[0]) // 2, (square.shape[1] - big.shape[1]) // 2
    square[top : top + big.shape[0], left : left + big.shape[1]] = big
    return square


def data_image(image) -> dict:
    """An image sent inside the live answer (a data URL: no file written), as gr.Image takes it."""
    return {"url": png_data_url(image), "orig_name": "image.png"}


def plot_image(view: BundleView, name: str, **kwargs) -> gr.Image:
    """A plot of the bundle; hidden (the tab's notice says why) when the file is missing or unreadable."""
    path = view.plot_path(name)
    return gr.Image(path, interactive=False, visible=path is not None, **kwargs)


def bundle_notice(view: BundleView, *names: str) -> None:
    """At the top of a tab: which of the files it shows are missing or unreadable, if any."""
    if text := view.notice(*names):
        gr.Markdown(text, elem_classes="bundle-notice")


def outputs(result: Prediction) -> tuple[dict[str, float] | None, object | None, str]:
    """Label confidences, the 28x28 image the model saw (uint8) and the status line; None where empty."""
    if result.model_input is None:
        return None, None, f"**{result.message}**"
    return result.label_confidences(), to_uint8(result.model_input), result.status_markdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, help="port (default 7860, or the next free one)")
    parser.add_argument("--share", action="store_true", help="also open a public share link (needs the internet)")
    parser.add_argument("--model", help="Hub repo id or bundle folder (default: $MODEL_REPO, else the shipped model)")
    parser.add_argument("--revision", help="Hub branch, tag or commit (default: $MODEL_REVISION)")
    args = parser.parse_args()
    limits = ServingLimits.from_env()
    demo = build_demo(load_model_source(args.model, args.revision), limits)
    # torch, Gradio and the bundle are ~450k long-lived objects: a full garbage collection walks them all
    # (~0.2 s with everything else stopped). Frozen, they are left out, and requests are not stalled.
    gc.freeze()
    # show_error: a refused request (a file that was not uploaded, a malformed payload) is told why
    # limits.launch_options: the upload size limit, and uploads and generated images deleted once
    # they are limits.cache_seconds old
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css_paths=[PAGE_CSS], show_error=True,
                **limits.launch_options(demo))  # fmt: skip


if __name__ == "__main__":
    main()
