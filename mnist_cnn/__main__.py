"""Command line.

python -m mnist_cnn push BUNDLE_DIR REPO_ID     publish a bundle to the Hugging Face Hub
python -m mnist_cnn onnx BUNDLE_DIR             add model.onnx to a bundle written before bundles had one
python -m mnist_cnn examples BUNDLE_DIR         add the network view's dataset examples to a bundle
python -m mnist_cnn predict IMAGE...            predict digits in image files, one JSON line each
python -m mnist_cnn predict --number IMAGE...   read numbers of several digits, one JSON line each
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .bundle import EXAMPLES_IMAGE_FILE, EXAMPLES_JSON_FILE, ONNX_FILE, BundleLoadError, load_bundle_folder
from .hub import load_model_source
from .reading.number import read_number
from .reading.predict import Predictor
from .reading.sketch import SketchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_cnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    push = commands.add_parser(
        "push",
        help="push an existing model bundle to the Hugging Face Hub",
        description="Push a model bundle folder to a Hub model repo in one commit. The token comes from HF_TOKEN "
        "or `hf auth login`; it is never taken on the command line.",
    )
    push.add_argument("bundle_dir", help="bundle folder written by train.py (e.g. mnist_cnn/pretrained)")
    push.add_argument("repo_id", help="target model repo, 'user/name'; created if missing")
    push.add_argument("--private", action="store_true", help="create the repo as private")
    push.add_argument("--revision", help="branch to push to (created from main if missing)")
    push.add_argument("--commit-message", help="commit message (default: names the test accuracy)")
    push.add_argument("--space-url", help="URL of the demo Space, linked from the model card")
    onnx = commands.add_parser(
        "onnx",
        help="export a bundle's weights to model.onnx and check it with onnxruntime",
        description="Write BUNDLE_DIR/model.onnx from the bundle's weights and check it on the bundle's test "
        "samples with onnxruntime (same predictions, logits within 1e-4). An existing model.onnx is kept "
        "unless --overwrite is given.",
    )
    onnx.add_argument("bundle_dir", help="bundle folder written by train.py")
    onnx.add_argument("--overwrite", action="store_true", help="replace an existing model.onnx")
    examples = commands.add_parser(
        "examples",
        help="write the network view's dataset examples into a bundle",
        description="For every channel of every stage, find the MNIST test images that excite it most and write "
        "them into BUNDLE_DIR (dataset_examples.json and .png), as train.py does. Existing ones are kept unless "
        "--overwrite is given.",
    )
    examples.add_argument("bundle_dir", help="bundle folder written by train.py")
    examples.add_argument("--data-dir", help="folder with the MNIST IDX files (default: download them)")
    examples.add_argument("--data-root", default="data", help="where torchvision keeps MNIST (default: data)")
    examples.add_argument("--overwrite", action="store_true", help="replace existing dataset examples")
    predict = commands.add_parser(
        "predict",
        help="predict the digit in image files",
        description="Predict digits with the app's preprocessing and model. Prints one JSON object per image: "
        '{"path", "digit" (null when the model abstains), "alternative" (the runner-up when two digits compete, '
        'else null), "confidence", "probabilities" (calibrated, digits 0-9), '
        '"not_a_digit"}; unreadable files '
        'get an "error" field.',
    )
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    predict.add_argument(
        "--number",
        action="store_true",
        help='read every digit, left to right: {"path", "number" ("20?6"; "?" where the model '
        'is not sure, null without ink), "digits": [{"digit", "confidence", "box": [x0, y0, x1, '
        "y1]}]}",
    )
    predict.add_argument("--model", help="Hub repo id or bundle folder (default: $MODEL_REPO, else the shipped model)")
    predict.add_argument("--revision", help="Hub branch, tag or commit (default: $MODEL_REVISION)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per HTTP request is noise here
    logging.getLogger("onnxscript").setLevel(logging.WARNING)  # the exporter's every optimisation pass

    if args.command == "push":
        return push(args)
    if args.command == "onnx":
        return add_onnx(Path(args.bundle_dir), args.overwrite)
    if args.command == "examples":
        return add_examples(Path(args.bundle_dir), args)
    predictor = Predictor.from_bundle(load_model_source(args.model, args.revision))
    for path in args.images:
        line = number_reading(predictor, path) if args.number else digit_reading(predictor, path)
        print(json.dumps({"path": path, **line}), flush=True)
    return 0


def push(args: argparse.Namespace) -> int:
    from .learning.push import HubPushError, push_bundle  # training's side: loaded for this command only

    options = dict(private=args.private, revision=args.revision, commit_message=args.commit_message)
    try:
        url = push_bundle(args.bundle_dir, args.repo_id, **options, space_url=args.space_url)
    except HubPushError as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"Nothing was changed in {args.bundle_dir}.", file=sys.stderr)
        return 2
    print(f"Pushed {args.bundle_dir} to {url}")
    return 0


def digit_reading(predictor: Predictor, path: str) -> dict:
    result = predictor(path)
    line = {
        "digit": result.digit,
        "alternative": result.alternative,
        "confidence": round(result.confidence, 6),
        "probabilities": [round(p, 6) for p in result.probabilities],
        "not_a_digit": round(result.not_a_digit, 6),
    }
    if result.error:
        line["error"] = result.error
    elif result.model_input is None:
        line["note"] = "blank image: no ink found"
    return line


def add_onnx(folder: Path, overwrite: bool) -> int:
    from .learning.onnx_export import OnnxCheckError, export_bundle  # training's side

    target = folder / ONNX_FILE
    if target.exists() and not overwrite:
        print(f"error: {target} already exists; pass --overwrite to replace it.", file=sys.stderr)
        return 2
    try:
        check = export_bundle(folder, target)
    except (BundleLoadError, OnnxCheckError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Wrote {target}: {check.summary()}")
    return 0


def add_examples(folder: Path, args: argparse.Namespace) -> int:
    from .learning.data import MnistDataError, load_mnist  # training's side
    from .learning.dataset_examples import write_dataset_examples

    if (folder / EXAMPLES_JSON_FILE).exists() and not args.overwrite:
        print(f"error: {folder / EXAMPLES_JSON_FILE} already exists; pass --overwrite to replace it.", file=sys.stderr)
        return 2
    try:
        bundle = load_bundle_folder(folder)
        data = load_mnist(args.data_root, args.data_dir)
        write_dataset_examples(folder, bundle.model, data.test_images, data.test_labels, progress=True)
    except (BundleLoadError, MnistDataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Wrote {folder / EXAMPLES_JSON_FILE} and {folder / EXAMPLES_IMAGE_FILE}")
    return 0


def number_reading(predictor: Predictor, path: str) -> dict:
    try:
        return read_number(predictor, path).to_json()
    except SketchError as err:
        return {"number": None, "digits": [], "error": str(err)}


if __name__ == "__main__":
    sys.exit(main())
