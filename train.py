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
import platform
import shlex
import signal
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from mnist_cnn.bundle import (
    CALIBRATION_FILE,
    CARD_FILE,
    HISTORY_FILE,
    LR_SWEEP_PLOT,
    METRICS_FILE,
    ONNX_FILE,
    RELIABILITY_PLOT,
    SAMPLES_FILE,
    BundleExistsError,
    BundleWriteError,
    check_room_for_bundle,
    check_writable,
    save_sample_pack,
    staged_bundle,
    write_json,
)
from mnist_cnn.card import build_model_card
from mnist_cnn.data import DATA_DIR_ENV, MnistDataError, load_mnist, split_train_validation
from mnist_cnn.devsets import (
    choose_rule,
    concatenate_reports,
    expected_calibration_error,
    measure_folder,
    reliability_table,
    with_rule,
)
from mnist_cnn.evaluation import TestReport, build_sample_pack, evaluate_test_set
from mnist_cnn.feedback.dataset import Corrections, CorrectionsError, load_corrections
from mnist_cnn.hub import HubPushError, push_bundle
from mnist_cnn.model import MnistCNN
from mnist_cnn.onnx_export import OnnxCheckError, check_onnx, export_onnx
from mnist_cnn.plots import (
    plot_confusion_matrix,
    plot_loss_curves,
    plot_lr_sweep,
    plot_predictions,
    plot_reliability,
    plot_samples,
)
from mnist_cnn.predict import AnswerRule, Predictor
from mnist_cnn.training import (
    FitResult,
    TrainConfig,
    digit_predictions,
    evaluate,
    fit,
    fit_temperature,
    held_out_set,
    predict_logits,
    resolve_device,
)

# -----------------------------------------------------------------------------------------------
# Recipes: the default one (the shipped model) and a quick one for a fast look.
RECIPES = {
    "default": dict(channels=(40, 80, 160), dropout=0.25, epochs=20, batch_size=128, lr=3e-3),
    "quick": dict(channels=(16, 32, 64), dropout=0.1, epochs=5, batch_size=128, lr=5e-3),
}
NUM_CLASSES = 11  # the ten digits and "not a digit", learned from generated non-digits
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.1
EMA_DECAY = 0.999
STYLE_STROKES = 0.35  # share of 0s, 1s and 7s given a slash, a flag or a bar (mnist_cnn/synthetic.py)
NEGATIVES = 0.4  # generated non-digits added to each batch, as a share of its digits
RESTROKE = 0.0  # share of digits redrawn from their skeleton with a random round pen (mnist_cnn/redraw.py)
SCAN_LIKE = 0.0  # share of digits rendered thick and blurred, like an enlarged 10-16 px scan
ELASTIC = 0.0  # share of images given an elastic distortion (Simard et al., 2003)
FONT_LETTERS = 0.0  # share of the generated letters taken from fonts and redrawn with a pen (mnist_cnn/redraw.py)
ABSTAIN_BELOW = 0.5  # the app says "not sure" below this calibrated probability, unless chosen on --dev-dir:
LETTERS_BUDGET = 0.10  # then the answer rule reading most dev digits right while naming a digit for <= 10% of letters
ALTERNATIVE_BELOW = 0.8  # below this probability for the best digit, the app names the runner-up too
VALIDATION_SIZE = 5000  # held out from the 60,000 training images
SWEEP_EPOCHS = 3  # length of each learning-rate sweep run
SAMPLE_PACK_SIZE = 1000  # random test images for the app, plus every mistake
SEED = 0
DEV_DIR_ENV = "PEN_DEV_DIR"
EXTRA_REPEAT = 1  # times each visitor's correction is seen per epoch
# -----------------------------------------------------------------------------------------------

log = logging.getLogger("train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="default",
        help="preset: 'default' (best model, ~10 min on 2 CPU cores) or 'quick' (~1 min)",
    )
    parser.add_argument("--epochs", type=int, help=f"training epochs (recipe default: {RECIPES['default']['epochs']})")
    parser.add_argument("--batch-size", type=int, help="mini-batch size (recipe default: 128)")
    parser.add_argument(
        "--lr",
        type=float,
        nargs="+",
        help="peak learning rate of the one-cycle schedule; several values run a short sweep "
        f"and train with the best on validation (recipe default: {RECIPES['default']['lr']:g})",
    )
    parser.add_argument(
        "--style-strokes",
        type=float,
        default=STYLE_STROKES,
        help="share of 0s, 1s and 7s given a slash, flag or bar (0: none)",
    )
    parser.add_argument(
        "--negatives",
        type=float,
        default=NEGATIVES,
        help="generated non-digits per batch, as a share of its digits (0: none)",
    )
    parser.add_argument(
        "--restroke",
        type=float,
        default=RESTROKE,
        help="share of digits redrawn from their skeleton with a round pen of random width (0: none)",
    )
    parser.add_argument(
        "--scan-like",
        type=float,
        default=SCAN_LIKE,
        help="share of digits rendered thick and blurred, like a low-resolution scan (0: none)",
    )
    parser.add_argument(
        "--elastic",
        type=float,
        default=ELASTIC,
        help="share of images given an elastic distortion, Simard et al. 2003 (0: none)",
    )
    parser.add_argument(
        "--font-letters",
        type=float,
        default=FONT_LETTERS,
        help="share of the generated non-digit letters taken from fonts, restroked and bent like handwriting (0: none)",
    )
    parser.add_argument(
        "--ema-decay",
        type=float,
        default=EMA_DECAY,
        help="decay of the weight average validated and saved (0: the raw weights)",
    )
    parser.add_argument("--sweep-epochs", type=int, default=SWEEP_EPOCHS, help="epochs of each sweep run")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (same seed, same machine: same model)")
    parser.add_argument("--out", type=Path, default=Path("runs/mnist-cnn"), help="bundle folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace the --out folder if it already has files")
    parser.add_argument(
        "--data-dir",
        help="offline source: a folder with the four MNIST IDX files (.gz or not); "
        f"defaults to ${DATA_DIR_ENV}, else torchvision downloads MNIST",
    )
    parser.add_argument("--data-root", type=Path, default=Path("data"), help="where torchvision keeps its MNIST copy")
    parser.add_argument(
        "--dev-dir",
        type=Path,
        nargs="+",
        default=[Path(p) for p in os.environ.get(DEV_DIR_ENV, "").split(os.pathsep) if p],
        help="folders of real handwriting to measure on and choose the answer rule on, never trained on: each "
        "subfolder of *_<label>.png files (pen_digits/, usps_digits/, pen_letters/) is measured; the figures go "
        f"into the metrics and the model card (default: ${DEV_DIR_ENV}, several joined by {os.pathsep!r})",
    )
    parser.add_argument(
        "--extra-data",
        metavar="REPO_OR_FOLDER",
        help="visitors' corrections to add to the training images (never to validation or test): a Hub dataset "
        "repo written by the app (FEEDBACK_REPO) or a folder in its layout (FEEDBACK_DIR); 'not a digit' "
        "joins the 11th class",
    )
    parser.add_argument("--extra-revision", help="branch, tag or commit of the --extra-data repo (default: main)")
    parser.add_argument(
        "--extra-repeat",
        type=int,
        default=EXTRA_REPEAT,
        help="times each correction is seen per epoch (a few hundred among 55,000 images weigh little)",
    )
    parser.add_argument("--val-size", type=int, default=VALIDATION_SIZE, help="validation images held out of training")
    parser.add_argument("--limit-train", type=int, help="train on only this many images (smoke tests)")
    parser.add_argument("--limit-test", type=int, help="evaluate on only this many test images (smoke tests)")
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps (default: auto)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for PyTorch")
    parser.add_argument(
        "--push-to-hub",
        metavar="REPO_ID",
        help="after training, push the bundle to this Hub model repo (token: HF_TOKEN or hf login)",
    )
    parser.add_argument("--hub-private", action="store_true", help="create the Hub repo as private")
    parser.add_argument("--hub-revision", help="branch of the Hub repo to push to (default: main)")
    parser.add_argument("--space-url", help="URL of the demo Space, linked from the pushed model card")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    return parser.parse_args(argv)


def training_settings(args: argparse.Namespace) -> tuple[TrainConfig, dict]:
    """The training configuration and the model's arguments that the command line asks for."""
    recipe = RECIPES[args.recipe]
    cfg = TrainConfig(
        epochs=args.epochs or recipe["epochs"],
        batch_size=args.batch_size or recipe["batch_size"],
        lr=(args.lr or [recipe["lr"]])[0],
        weight_decay=WEIGHT_DECAY,
        label_smoothing=LABEL_SMOOTHING,
        ema_decay=args.ema_decay,
        style_strokes=args.style_strokes,
        negatives=args.negatives,
        restroke=args.restroke,
        scan_like=args.scan_like,
        elastic=args.elastic,
        font_letters=args.font_letters,
        seed=args.seed,
    )
    model_config = dict(channels=list(recipe["channels"]), dropout=recipe["dropout"], num_classes=NUM_CLASSES)
    return cfg, model_config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C must stop training cleanly even when started from a shell that ignores SIGINT (nohup, &);
    # SIGTERM (a scheduler, `docker stop`, `kill`) stops it the same way: the best weights are saved.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("onnxscript").setLevel(logging.WARNING)  # the ONNX exporter's every optimisation pass
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # huggingface_hub's every request (--extra-data)
    if args.no_progress:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()  # downloads (--extra-data) and uploads (--push-to-hub)
        if args.extra_data:
            from datasets.utils.logging import disable_progress_bar

            disable_progress_bar()  # reading the corrections
    command = shlex.join(["python", "train.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        return train_evaluate_save(args, command)
    except KeyboardInterrupt:
        # Training itself stops at the next batch and keeps its best weights (fit); this is a stop at any
        # other moment before the bundle is in place (loading data, a half-written bundle is rolled back).
        log.error("Interrupted before the bundle was written; nothing saved.")
        return 130


def train_evaluate_save(args: argparse.Namespace, command: str) -> int:
    """Train, calibrate, evaluate and write the bundle, then check and push it; the exit status."""
    cfg, model_config = training_settings(args)
    lrs = args.lr or [cfg.lr]
    torch.set_num_threads(args.threads)

    try:
        cfg = replace(cfg, device=str(resolve_device(args.device)))
    except ValueError as err:
        log.error("%s", err)
        return 2
    if cfg.device == "cuda":
        # Bitwise repeatable on the same GPU: deterministic kernels (a little slower).
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    log.info("Training on %s", cfg.device)

    try:
        check_writable(args.out, args.overwrite)  # fail now, not after ten minutes of training
        check_room_for_bundle(args.out)
        data = load_mnist(args.data_root, args.data_dir)
    except (BundleExistsError, BundleWriteError, MnistDataError) as err:
        log.error("%s", err)
        return 2
    train, val = split_train_validation(data.train_images, data.train_labels, args.val_size)
    if args.limit_train:
        train = (train[0][: args.limit_train], train[1][: args.limit_train])
    extra = None
    if args.extra_data:
        if args.extra_repeat < 1:
            log.error("--extra-repeat must be at least 1, got %d", args.extra_repeat)
            return 2
        try:
            extra = load_corrections(args.extra_data, args.extra_revision)
        except CorrectionsError as err:
            log.error("%s", err)
            return 2
        train = with_corrections(train, extra, args.extra_repeat)
    test_images, test_labels = data.test_images[: args.limit_test], data.test_labels[: args.limit_test]
    log.info("train %d, validation %d, test %d images", len(train[0]), len(val[0]), len(test_images))

    def new_model() -> MnistCNN:
        torch.manual_seed(cfg.seed)
        # channels_last is ~15% faster for these convolutions on CPU
        return MnistCNN(**model_config).to(memory_format=torch.channels_last)

    sweep: dict[float, float] = {}
    if len(lrs) > 1:
        log.info("Learning-rate sweep: %d runs of %d epochs", len(lrs), args.sweep_epochs)
        for lr in lrs:
            short = fit(new_model(), train, val, replace(cfg, lr=lr, epochs=args.sweep_epochs), not args.no_progress)
            sweep[lr] = short.best_val_accuracy
            if short.interrupted:
                log.error("Interrupted during the learning-rate sweep; nothing saved.")
                return 130
        print("\n  learning rate | validation accuracy")
        for lr, acc in sweep.items():
            print(f"  {lr:13g} | {100 * acc:.2f}%{'  <- best' if acc == max(sweep.values()) else ''}")
        cfg = replace(cfg, lr=max(sweep, key=sweep.get))
        log.info("Training with the best learning rate, %g", cfg.lr)

    result = fit(new_model(), train, val, cfg, progress=not args.no_progress)
    if not result.history:
        log.error("Interrupted before the first epoch ended; nothing to save.")
        return 130
    model = result.model.to(memory_format=torch.contiguous_format)

    # Temperature scaling on held-out data only: the confidence shown becomes a calibrated probability.
    held_x, held_y = held_out_set(*val, cfg, with_negatives=True)
    temperature = fit_temperature(predict_logits(model, held_x), held_y)
    log.info("Temperature %.3f (fitted on the validation split)", temperature)

    report = evaluate_test_set(model, test_images, test_labels, temperature)
    confidence, correct = report.confidence, report.predictions == report.labels
    test_ece = expected_calibration_error(confidence, correct)
    reliability = {f"MNIST test (ECE {100 * test_ece:.2f} points)": reliability_table(confidence, correct)}
    log.info(
        "Test accuracy %.2f%% (%d errors), loss %.4f, ECE %.2f points",
        100 * report.accuracy,
        len(report.misclassified),
        report.loss,
        100 * test_ece,
    )
    dev_sets, rule, chosen_on = measure_dev_sets(Predictor(model, temperature, 0.0), args.dev_dir, reliability)
    calibration = dict(
        temperature=temperature,
        **asdict(rule),
        fitted_on=f"validation split ({len(val[0])} digits, with styles and generated non-digits)",
        answer_rule_chosen_on=chosen_on,
    )
    metrics = dict(
        test_accuracy=report.accuracy,
        test_loss=report.loss,
        test_errors=int(len(report.misclassified)),
        test_size=len(report.labels),
        test_answered_right=float(
            np.mean([rule.answer(p)[0] == label for p, label in zip(report.probabilities, report.labels, strict=True)])
        ),
        test_ece=test_ece,
        temperature=temperature,
        abstain_below=rule.abstain_below,
        answer_rule=rule.describe(),
        dev_sets=dev_sets,
        per_class=report.per_class,
        confusion_matrix=report.confusion.tolist(),
        num_parameters=model.num_parameters,
        train_seconds=round(result.train_seconds, 1),
        best_epoch=result.best_epoch,
        best_val_accuracy=result.best_val_accuracy,
        epochs_run=len(result.history),
        interrupted=result.interrupted,
        validation_size=len(val[0]),
        train_size=len(train[0]),
        extra_data=None if extra is None else {**extra.summary(), "repeat": args.extra_repeat},
        lr_sweep={f"{lr:g}": acc for lr, acc in sweep.items()} or None,
        config={"recipe": args.recipe, **model_config, **asdict(cfg)},
        seed=cfg.seed,
        command=command,
        hardware=describe_device(cfg.device),
        torch_version=torch.__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )

    try:
        with staged_bundle(args.out, args.overwrite) as folder:
            model.save_pretrained(folder)  # model.safetensors + config.json
            export_onnx(model, folder / ONNX_FILE)  # the same weights for onnxruntime and the browser
            write_json(folder / CALIBRATION_FILE, calibration)
            write_json(folder / METRICS_FILE, metrics)
            history = result.history_dict()
            write_json(folder / HISTORY_FILE, history)
            pack = build_sample_pack(test_images, report, n_random=SAMPLE_PACK_SIZE, seed=cfg.seed)
            save_sample_pack(pack, folder / SAMPLES_FILE)
            write_plots(folder, train, test_images, report, history, sweep, cfg.seed)
            plot_reliability(reliability, folder / RELIABILITY_PLOT)
            build_model_card(metrics).save(folder / CARD_FILE)  # replaces the mixin's generic card
    except BundleExistsError as err:
        log.error("%s", err)
        return 2
    log.info("Bundle written to %s", args.out)

    try:
        return check_and_push(args, result, report, test_images, val)
    except KeyboardInterrupt:
        log.error("Interrupted after the bundle was written to %s (not checked or pushed).", args.out)
        return 130


def check_and_push(
    args: argparse.Namespace,
    result: FitResult,
    report: TestReport,
    test_images: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor],
) -> int:
    """Reload the written bundle strictly, check it predicts as the trained model did, then push it if asked."""
    # Sanity check: the bundle on disk, loaded strictly, must give the same test predictions.
    reloaded = MnistCNN.from_pretrained(args.out, strict=True)
    same = np.array_equal(digit_predictions(predict_logits(reloaded, test_images)).numpy(), report.predictions)
    if not same:
        log.error("The saved bundle's predictions differ from the trained model's. Do not use %s.", args.out)
        return 1
    val_loss, val_acc = evaluate(reloaded, *val)
    log.info("Reloaded %s strictly: identical test predictions, validation accuracy %.2f%%", args.out, 100 * val_acc)
    if not onnx_matches_weights(args.out / ONNX_FILE, reloaded, test_images):
        return 1
    errors = f"{len(report.misclassified)} errors / {len(report.labels)}"
    epochs = f"best epoch {result.best_epoch}/{len(result.history)}"
    took = f"{result.train_seconds:.0f} s of training"
    print(f"\nTest accuracy {100 * report.accuracy:.2f}% ({errors}), {epochs}, {took} -> {args.out}")
    if args.push_to_hub:
        try:
            options = {"private": args.hub_private, "revision": args.hub_revision, "space_url": args.space_url}
            url = push_bundle(args.out, args.push_to_hub, **options)
        except HubPushError as err:
            log.error("Push failed: %s", err)
            log.error(
                "The bundle is safe in %s; push it later with: python -m mnist_cnn push %s %s",
                args.out,
                args.out,
                args.push_to_hub,
            )
            return 3
        print(f"Pushed to {url}")
    return 130 if result.interrupted else 0


def onnx_matches_weights(path: Path, model: MnistCNN, test_images: torch.Tensor) -> bool:
    """The bundle's ONNX file, run by onnxruntime, must read the test set as the weights do."""
    try:
        check = check_onnx(path, model, test_images)
    except OnnxCheckError as err:
        log.error("%s Do not use it.", err)
        return False
    if not check.passed:
        log.error("%s disagrees with the weights: %s. Do not use it.", path, check.summary())
        return False
    log.info("%s run by onnxruntime: %s", path, check.summary())
    return True


def measure_dev_sets(
    predictor: Predictor,
    dev_dirs: list[Path],
    reliability: dict,
) -> tuple[dict | None, AnswerRule, str]:
    """The app's answers on the folders of real handwriting in ``dev_dirs``, under the answer rule chosen on
    them: figures for the metrics and the card, the rule, and where it was chosen. ``predictor`` must not
    abstain (threshold 0). Without a folder of digits and one of letters, the default rule."""
    folders = [f for d in dev_dirs for f in sorted(Path(d).iterdir()) if f.is_dir() and any(f.glob("*_?.png"))]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the app
    reports = {folder.name: measure_folder(predictor, folder) for folder in folders}
    torch.set_num_threads(threads)
    digits = {name: r for name, r in reports.items() if r.holds_digits}
    letters = {name: r for name, r in reports.items() if name not in digits}
    if not digits or not letters:
        if dev_dirs:
            log.warning("No folders of digits and of letters in %s: not measuring real handwriting.", dev_dirs)
        return None, AnswerRule(abstain_below=ABSTAIN_BELOW, alternative_below=ALTERNATIVE_BELOW), "default"
    rule = choose_rule(
        list(digits.values()), concatenate_reports(list(letters.values())), LETTERS_BUDGET, ALTERNATIVE_BELOW
    )
    chosen_on = (
        f"{', '.join(str(d) for d in dev_dirs)}: of the one- and two-question rules naming a digit for at most "
        f"{100 * LETTERS_BUDGET:.0f}% of {', '.join(letters)}, the one reading most of {', '.join(digits)} right"
    )
    results = {}
    for name, report in reports.items():
        report = with_rule(report, rule)
        if name in digits:
            results[name] = dict(
                files=len(report.labels),
                accuracy=report.accuracy,
                best_guess_right=float(report.top_correct.mean()),
                abstained=report.abstained,
                ece=report.ece,
                summary=f"{100 * report.accuracy:.1f}% right ({100 * report.abstained:.1f}% not sure, counted "
                f"wrong), best guess right {100 * report.top_correct.mean():.1f}%, ECE {100 * report.ece:.2f} "
                f"points, {len(report.labels)} drawings",
            )
            reliability[f"{name} (ECE {100 * report.ece:.2f} points)"] = reliability_table(
                report.confidence[report.best >= 0],
                report.top_correct[report.best >= 0],
            )
        else:
            results[name] = dict(
                files=len(report.labels),
                named_a_digit=report.named_a_digit,
                summary=f"a digit named for {100 * report.named_a_digit:.1f}% of {len(report.labels)} letters",
            )
    log.info("Answer rule: %s (chosen on %s)", rule.describe(), chosen_on)
    for name, row in results.items():
        log.info("%s: %s", name, row["summary"])
    return results, rule, chosen_on


def with_corrections(
    train: tuple[torch.Tensor, torch.Tensor],
    extra: Corrections,
    repeat: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images with the visitors' corrections appended (``repeat`` times each); validation and
    test are left as they are, so that every run is judged on the same images."""
    print(f"Training on {extra.describe()}, each seen {repeat}x per epoch")
    images = torch.cat([train[0], extra.images.repeat(repeat, 1, 1)])
    labels = torch.cat([train[1], extra.labels.repeat(repeat)])
    return images, labels


def describe_device(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    if device == "mps":
        return f"Apple MPS ({platform.machine()})"
    return f"{torch.get_num_threads()} CPU threads ({platform.machine()})"


def write_plots(folder: Path, train, test_images, report, history, sweep, seed: int) -> None:
    rng = np.random.default_rng(seed)
    images = test_images.numpy()
    eda = rng.choice(len(train[0]), size=min(50, len(train[0])), replace=False)
    plot_samples(train[0][eda].numpy(), train[1][eda].numpy(), folder / "samples.png")
    shown = rng.choice(len(images), size=min(48, len(images)), replace=False)
    plot_predictions(
        images[shown],
        report.labels[shown],
        report.predictions[shown],
        folder / "predictions.png",
        "Random test images: predicted / true (mistakes in red)",
    )
    wrong = report.misclassified[:64]
    plot_predictions(
        images[wrong],
        report.labels[wrong],
        report.predictions[wrong],
        folder / "misclassified.png",
        f"Misclassified test images ({len(report.misclassified)} in all; first {len(wrong)})",
    )
    plot_confusion_matrix(report.confusion, folder / "confusion_matrix.png")
    plot_loss_curves(history, folder / "loss_curves.png")
    if sweep:
        plot_lr_sweep(sweep, folder / LR_SWEEP_PLOT)


if __name__ == "__main__":
    sys.exit(main())
