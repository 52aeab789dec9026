"""Train the MNIST CNN, evaluate it on the test set and write the model bundle.

    python train.py --data-dir ../shared/data/mnist --out runs/mnist-cnn        # the default recipe
    python train.py --recipe quick --out runs/quick                             # a fast look (< 1 min)
    python train.py --lr 1e-3 3e-3 1e-2 --out runs/sweep                        # short run per LR, then the best
    python train.py --extra-data user/mnist-feedback --out runs/with-feedback    # plus visitors' corrections

Settings below are the defaults; every one can be changed from the command line (see --help).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from mnist_cnn import bundle
from mnist_cnn.classes import NUM_CLASSES
from mnist_cnn.learning import corrections, handwriting, training
from mnist_cnn.learning.checks import bundle_matches_model
from mnist_cnn.learning.data import DATA_DIR_ENV, MnistDataError, load_mnist, split_train_validation
from mnist_cnn.learning.metrics import DevRuleChoice, RunInfo, evaluate_model
from mnist_cnn.learning.output import write_run_bundle
from mnist_cnn.learning.push import push_after_training
from mnist_cnn.model import MnistCNN
from mnist_cnn.reading.predict import AnswerRule

# -----------------------------------------------------------------------------------------------
# Recipes: the default one (the shipped model) and a quick one for a fast look.
RECIPES = {
    "default": dict(channels=(40, 80, 160), dropout=0.25, epochs=20, batch_size=128, lr=3e-3),
    "quick": dict(channels=(16, 32, 64), dropout=0.1, epochs=5, batch_size=128, lr=5e-3),
}
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.1
EMA_DECAY = 0.999
# Without --dev-dir: "not sure" below 50% calibrated probability; the runner-up is named too below 80%.
DEFAULT_RULE = AnswerRule(abstain_below=0.5, alternative_below=0.8)
LETTERS_BUDGET = 0.05  # with it: the rule reading most dev digits right while naming a digit for <= 5% of letters
VALIDATION_SIZE = 5000  # held out from the 60,000 training images
SWEEP_EPOCHS = 3  # length of each learning-rate sweep run
SAMPLE_PACK_SIZE = 1000  # random test images for the app, plus every mistake
SEED = 0
DEV_DIR_ENV = "PEN_DEV_DIR"  # folders of real handwriting, never trained on (several joined by os.pathsep)
DEV_DIRS = [Path(p) for p in os.environ.get(DEV_DIR_ENV, "").split(os.pathsep) if p]
EXTRA_REPEAT = 1  # times each visitor's correction is seen per epoch
# times each real digit, and each real letter or symbol, of --handwriting-dir is seen per epoch
REAL_DIGITS_REPEAT = 16
REAL_NON_DIGITS_REPEAT = 1
AUGMENTATIONS = {  # training.TrainConfig field: default, what it sets (mnist_cnn/learning/synthetic.py, redraw.py)
    "style_strokes": (0.35, "share of 0s, 1s and 7s given a slash, a flag or a bar"),
    "negatives": (0.4, "generated non-digits added to each batch, as a share of its digits"),
    "restroke": (0.0, "share of digits redrawn from their skeleton with a round pen of random width"),
    "scan_like": (0.0, "share of digits rendered thick and blurred, like an enlarged 10-16 px scan"),
    "elastic": (0.0, "share of images given an elastic distortion (Simard et al., 2003)"),
    "font_letters": (0.0, "share of the generated letters taken from fonts, restroked and bent like handwriting"),
}
# -----------------------------------------------------------------------------------------------

log = logging.getLogger("train")
Images = tuple[torch.Tensor, torch.Tensor]  # images and their labels
Real = handwriting.Handwriting | None
DATA_ERRORS = (bundle.BundleExistsError, bundle.BundleWriteError, MnistDataError, corrections.CorrectionsError)
DATA_ERRORS += (handwriting.HandwritingError,)


class Stop(Exception):
    """The run ends early with this exit status (the reason is logged where it is raised)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--recipe", choices=sorted(RECIPES), default="default", help="preset: 'default' or 'quick' (~1 min)")
    add("--epochs", type=int, help=f"training epochs (recipe default: {RECIPES['default']['epochs']})")
    add("--batch-size", type=int, help="mini-batch size (recipe default: 128)")
    add("--lr", type=float, nargs="+", help="peak learning rate; several run a short sweep and train with the best")
    for name, (default, text) in AUGMENTATIONS.items():
        add(f"--{name.replace('_', '-')}", type=float, default=default, help=f"{text} (0: none)")
    add("--ema-decay", type=float, default=EMA_DECAY, help="decay of the weight average kept (0: the raw weights)")
    add("--sweep-epochs", type=int, default=SWEEP_EPOCHS, help="epochs of each sweep run")
    add("--seed", type=int, default=SEED, help="random seed (same seed, same machine: same model)")
    add("--out", type=Path, default=Path("runs/mnist-cnn"), help="bundle folder to write")
    add("--overwrite", action="store_true", help="replace the --out folder if it already has files")
    add("--data-dir", help=f"a folder with the four MNIST files (default: ${DATA_DIR_ENV}, else a download)")
    add("--data-root", type=Path, default=Path("data"), help="where torchvision keeps its MNIST copy")
    add("--dev-dir", type=Path, nargs="+", default=DEV_DIRS, help=f"choose the answer rule on these (${DEV_DIR_ENV})")
    add("--extra-data", metavar="REPO_OR_FOLDER", help="visitors' corrections to train on (a Hub dataset or a folder)")
    add("--extra-revision", help="branch, tag or commit of the --extra-data repo (default: main)")
    add("--extra-repeat", type=int, default=EXTRA_REPEAT, help="times each correction is seen per epoch")
    add("--handwriting-dir", type=Path, help=f"real handwriting to train on (${handwriting.HANDWRITING_DIR_ENV})")
    add("--real-digits", type=int, default=REAL_DIGITS_REPEAT, help="times each real pen digit is seen per epoch")
    add("--real-non-digits", type=int, default=REAL_NON_DIGITS_REPEAT, help="times each real non-digit is seen")
    add("--val-size", type=int, default=VALIDATION_SIZE, help="validation images held out of training")
    add("--limit-train", type=int, help="train on only this many images (smoke tests)")
    add("--limit-test", type=int, help="evaluate on only this many test images (smoke tests)")
    add("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    add("--threads", type=int, default=os.cpu_count(), help="CPU threads for PyTorch")
    add("--push-to-hub", metavar="REPO_ID", help="push the bundle to this Hub model repo (token: HF_TOKEN or hf login)")
    add("--hub-private", action="store_true", help="create the Hub repo as private")
    add("--hub-revision", help="branch of the Hub repo to push to (default: main)")
    add("--space-url", help="URL of the demo Space, linked from the pushed model card")
    add("--no-progress", action="store_true", help="no progress bars (logs only)")
    args = parser.parse_args(argv)
    if args.extra_repeat < 1 or min(args.real_digits, args.real_non_digits) < 0:  # before anything is loaded
        parser.error("--extra-repeat must be at least 1, --real-digits and --real-non-digits at least 0")
    return args


def training_settings(args: argparse.Namespace) -> tuple[training.TrainConfig, dict]:
    """The training configuration and the model's arguments that the command line asks for."""
    recipe = RECIPES[args.recipe]
    cfg = training.TrainConfig(
        epochs=args.epochs or recipe["epochs"],
        batch_size=args.batch_size or recipe["batch_size"],
        lr=(args.lr or [recipe["lr"]])[0],
        weight_decay=WEIGHT_DECAY,
        label_smoothing=LABEL_SMOOTHING,
        ema_decay=args.ema_decay,
        **{name: getattr(args, name) for name in AUGMENTATIONS},
        seed=args.seed,
    )
    model_config = dict(channels=list(recipe["channels"]), dropout=recipe["dropout"], num_classes=NUM_CLASSES)
    return cfg, model_config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C must stop training cleanly even when started from a shell that ignores SIGINT (nohup, &);
    # SIGTERM (a scheduler, `docker stop`, `kill`) stops it the same way: the best weights are saved.
    signal.signal(signal.SIGINT, training.stop_requested)
    signal.signal(signal.SIGTERM, training.stop_requested)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("onnxscript").setLevel(logging.WARNING)  # the ONNX exporter's every optimisation pass
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # huggingface_hub's every request (--extra-data)
    if args.no_progress:
        corrections.quiet_progress_bars(reading_corrections=bool(args.extra_data))
    command = shlex.join(["python", "train.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args, command)
    except Stop as stop:
        return stop.args[0]
    except KeyboardInterrupt:
        # Training itself stops at the next batch and keeps its best weights (fit); this is a stop at any
        # other moment before the bundle is in place (loading data, a half-written bundle is rolled back).
        log.error("Interrupted before the bundle was written; nothing saved.")
        return 130


def run(args: argparse.Namespace, command: str) -> int:
    """Data, fit, calibrate and evaluate, measure on the dev folders, write the bundle, check it, push it."""
    cfg, model_config = training_settings(args)
    torch.set_num_threads(args.threads)
    cfg = replace(cfg, device=device_for(args.device))
    train, val, test, extra, real = load_data(args)
    models = partial(new_model, model_config, cfg.seed)
    sweep = sweep_learning_rates(models, train, val, cfg, args) if args.lr and len(args.lr) > 1 else {}
    cfg = replace(cfg, lr=max(sweep, key=sweep.get)) if sweep else cfg
    result = training.fit(models(), train, val, cfg, progress=not args.no_progress)
    if not result.history:
        log.error("Interrupted before the first epoch ended; nothing to save.")
        return 130
    model = result.model.to(memory_format=torch.contiguous_format)
    choice = DevRuleChoice(args.dev_dir, LETTERS_BUDGET, DEFAULT_RULE)
    evaluation = evaluate_model(model, val, test, cfg, choice, real.kept_out if real else None)
    extra_data = {**extra.summary(), "repeat": args.extra_repeat} if extra else None
    device = training.describe_device(cfg.device)
    run = RunInfo(args.recipe, model_config, cfg, command, device, len(train[0]), len(val[0]), extra_data, sweep)
    run.handwriting = real.describe(training.generated_per_epoch(cfg, len(train[0]))) if real else None
    try:
        write_run_bundle(args.out, args.overwrite, model, result, evaluation, run, train, test[0], SAMPLE_PACK_SIZE)
    except bundle.BundleExistsError as err:
        log.error("%s", err)
        return 2
    log.info("Bundle written to %s", args.out)
    try:
        if not bundle_matches_model(args.out, evaluation.report.predictions, test[0], val):
            return 1
        print(f"\nTest accuracy {evaluation.report.summary()}, {result.summary()} -> {args.out}")
        pushed = push_after_training(args.out, args.push_to_hub, args.hub_private, args.hub_revision, args.space_url)
        return pushed or (130 if result.interrupted else 0)
    except KeyboardInterrupt:
        log.error("Interrupted after the bundle was written to %s (not checked or pushed).", args.out)
        return 130


def device_for(name: str) -> str:
    try:
        device = str(training.resolve_device(name))
    except ValueError as err:
        log.error("%s", err)
        raise Stop(2) from err
    log.info("Training on %s", device)
    return device


def load_data(args: argparse.Namespace) -> tuple[Images, Images, Images, corrections.Corrections | None, Real]:
    """Training (with real handwriting and visitors' corrections, if asked), validation and test images, each
    ``(x, y)``; the corrections and the real handwriting read."""
    try:
        bundle.check_writable(args.out, args.overwrite)  # fail now, not after ten minutes of training
        bundle.check_room_for_bundle(args.out)
        data = load_mnist(args.data_root, args.data_dir)
        train, val = split_train_validation(data.train_images, data.train_labels, args.val_size)
        if args.limit_train:
            train = (train[0][: args.limit_train], train[1][: args.limit_train])
        asked = args.handwriting_dir, args.real_digits, args.real_non_digits
        real = handwriting.read_for_training(*asked, progress=not args.no_progress)
        if real is not None:
            train = handwriting.with_handwriting(train, real)
        extra = corrections.load_corrections(args.extra_data, args.extra_revision) if args.extra_data else None
        if extra is not None:
            train = corrections.with_corrections(train, extra, args.extra_repeat)
    except DATA_ERRORS as err:
        log.error("%s", err)
        raise Stop(2) from err
    test = data.test_images[: args.limit_test], data.test_labels[: args.limit_test]
    log.info("train %d, validation %d, test %d images", len(train[0]), len(val[0]), len(test[0]))
    return train, val, test, extra, real


def new_model(model_config: dict, seed: int) -> MnistCNN:
    torch.manual_seed(seed)
    # channels_last is ~15% faster for these convolutions on CPU
    return MnistCNN(**model_config).to(memory_format=torch.channels_last)


def sweep_learning_rates(models, train: Images, val: Images, cfg: training.TrainConfig, args) -> dict[float, float]:
    """A short run per learning rate, printed as a table: each one's best validation accuracy."""
    sweep = training.sweep_learning_rates(models, train, val, cfg, args.lr, args.sweep_epochs, not args.no_progress)
    if sweep is None:
        log.error("Interrupted during the learning-rate sweep; nothing saved.")
        raise Stop(130)
    print("\n  learning rate | validation accuracy")
    for lr, acc in sweep.items():
        print(f"  {lr:13g} | {100 * acc:.2f}%{'  <- best' if acc == max(sweep.values()) else ''}")
    log.info("Training with the best learning rate, %g", max(sweep, key=sweep.get))
    return sweep


if __name__ == "__main__":
    sys.exit(main())
