import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard

from conftest import ROOT
from mnist_cnn.bundle import REQUIRED_FILES, load_sample_pack
from mnist_cnn.learning.data import load_mnist, split_train_validation
from mnist_cnn.learning.training import evaluate
from mnist_cnn.model import MnistCNN

SMOKE = ["--recipe", "quick", "--epochs", "1", "--val-size", "100", "--no-progress", "--threads", "2"]
# Long enough to learn the synthetic digits (about 12 s): 5 epochs of 1,000 images, validated on the raw
# weights (the 0.999 weight average of the real recipe would barely move in 35 steps).
LEARN = "--recipe quick --epochs 5 --ema-decay 0 --val-size 100 --no-progress --threads 2".split()
SMOKE_TEST_IMAGES = 1200  # more than the app's sample pack of 1,000, so "1,000 random plus every mistake" merges


def folders(source: Path, work: Path, out: Path) -> list[str]:
    """train.py's options for the MNIST files in ``source``, unpacked under ``work``, the bundle to ``out``."""
    return ["--data-dir", str(source), "--data-root", str(work / "root"), "--out", str(out)]


def run_train(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "train.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_bundle(tmp_path_factory):
    """A short run on synthetic data that learns, through the real command line; shared by the tests."""
    from conftest import make_mnist_folder

    base = tmp_path_factory.mktemp("smoke")
    arrays = make_mnist_folder(base / "src", n_train=1100, n_test=SMOKE_TEST_IMAGES)
    out = base / "bundle"
    result = run_train(*LEARN, "--data-dir", str(base / "src"), "--data-root", str(base / "root"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return base, out, result, arrays


def test_smoke_run_learns_and_writes_the_complete_bundle(smoke_bundle):
    _, out, result, _ = smoke_bundle
    for name in REQUIRED_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    # it learned: chance is 10%
    assert max(history["val_accuracy"]) >= 0.5 and metrics["test_accuracy"] >= 0.5, history
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert metrics["best_val_accuracy"] == max(history["val_accuracy"])
    assert metrics["test_size"] == SMOKE_TEST_IMAGES
    assert np.array(metrics["confusion_matrix"]).shape == (10, 10)
    assert np.array(metrics["confusion_matrix"]).sum() == SMOKE_TEST_IMAGES
    assert np.trace(np.array(metrics["confusion_matrix"])) == SMOKE_TEST_IMAGES - metrics["test_errors"]
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    assert {"precision", "recall", "f1", "support"} <= set(metrics["per_class"]["3"])
    quick = MnistCNN(channels=(16, 32, 64), num_classes=11)
    assert metrics["num_parameters"] == sum(p.numel() for p in quick.parameters())
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["temperature"] > 0 and calibration["temperature"] == metrics["temperature"]
    assert 0 <= metrics["test_ece"] <= 1 and "fitted_on" in calibration
    assert "Training on cpu" in result.stderr
    assert metrics["seed"] == 0 and "train.py" in metrics["command"] and "--epochs 5" in metrics["command"]
    assert metrics["config"]["ema_decay"] == 0 and metrics["train_seconds"] > 0
    for key in ("epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
        assert len(history[key]) == 5, key
    assert "Test accuracy" in result.stdout and "identical test predictions" in result.stderr
    assert (out / "model.onnx").stat().st_size > 100_000  # the weights inside, not beside it
    assert f"{out / 'model.onnx'} run by onnxruntime: identical predictions on {SMOKE_TEST_IMAGES} images" in (
        result.stderr
    )
    assert not list(out.parent.glob(".bundle.*")), "staging folder left behind"


def test_sample_pack_holds_random_images_and_every_mistake(smoke_bundle):
    _, out, _, arrays = smoke_bundle
    pack = load_sample_pack(out / "samples.safetensors")
    metrics = json.loads((out / "metrics.json").read_text())
    n = len(pack["labels"])
    assert pack["images"].shape == (n, 28, 28) and pack["images"].dtype == torch.uint8
    assert pack["probabilities"].shape == (n, 11)  # ten digits and "not a digit"
    torch.testing.assert_close(pack["probabilities"].sum(1), torch.ones(n))
    assert torch.equal(pack["predictions"], pack["probabilities"][:, :10].argmax(1))
    # the images and labels are the test set's at test_index (sorted, each once)
    index = pack["test_index"].numpy()
    assert (np.diff(index) > 0).all() and index.max() < SMOKE_TEST_IMAGES
    test_images, test_labels = arrays["t10k"]
    np.testing.assert_array_equal(pack["images"].numpy(), test_images[index])
    np.testing.assert_array_equal(pack["labels"].numpy(), test_labels[index])
    # every mistake of the test set is in it, plus 1,000 random images (some of them mistakes too)
    mistakes = int((pack["predictions"] != pack["labels"]).sum())
    assert mistakes == metrics["test_errors"] > 0
    assert 1000 <= n <= 1000 + mistakes and n < SMOKE_TEST_IMAGES
    assert n > 1000, "no mistake outside the random 1,000: the merge was not exercised"


def test_model_card_has_model_index(smoke_bundle):
    _, out, _, _ = smoke_bundle
    card = ModelCard.load(out / "README.md")
    metrics = json.loads((out / "metrics.json").read_text())
    (result,) = card.data.eval_results
    assert result.task_type == "image-classification" and result.dataset_split == "test"
    assert result.metric_type == "accuracy"
    assert result.metric_value == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert card.data.license == "mit" and card.data.library_name == "pytorch"
    assert metrics["command"] in card.text and "confusion_matrix.png" in card.text


def test_bundle_loads_strictly_with_identical_predictions(smoke_bundle):
    _, out, _, _ = smoke_bundle
    model = MnistCNN.from_pretrained(out, strict=True)
    pack = load_sample_pack(out / "samples.safetensors")
    temperature = json.loads((out / "calibration.json").read_text())["temperature"]
    with torch.no_grad():
        probs = (model(pack["images"].unsqueeze(1).float() / 255) / temperature).softmax(1)
    assert torch.equal(probs[:, :10].argmax(1), pack["predictions"])
    torch.testing.assert_close(probs, pack["probabilities"], atol=1e-5, rtol=0)


def test_unavailable_device_is_refused_before_training(tmp_path, mnist_folder):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot be shown here")
    result = run_train(*SMOKE, "--device", "cuda", "--data-dir", str(mnist_folder), "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "not available" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_refuses_to_overwrite_without_asking(smoke_bundle):
    base, out, _, _ = smoke_bundle
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = run_train(*SMOKE, "--data-dir", str(base / "src"), "--data-root", str(base / "root"), "--out", str(out))
    assert result.returncode == 2
    assert "--overwrite" in result.stderr and "Traceback" not in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_overwrite_replaces_the_bundle_with_the_same_model_for_the_same_seed(smoke_bundle, tmp_path):
    """The smoke run again (same data, settings and seed) into a folder holding a file: refused without
    --overwrite; with it, the folder holds only the new bundle, whose weights equal the smoke run's."""
    base, smoke_out, _, _ = smoke_bundle
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    args = [*LEARN, "--data-dir", str(base / "src"), "--data-root", str(base / "root"), "--out", str(out)]
    assert run_train(*args).returncode == 2 and (out / "stale.txt").exists()
    result = run_train(*args, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    again, first = MnistCNN.from_pretrained(out).state_dict(), MnistCNN.from_pretrained(smoke_out).state_dict()
    assert all(torch.equal(again[k], first[k]) for k in first)


def test_redrawn_digits_train_and_are_recorded(tmp_path, mnist_folder):
    """--restroke, --scan-like, --elastic and --font-letters run through a whole (short) training and land in
    the metrics."""
    out = tmp_path / "bundle"
    options = ["--restroke", "0.5", "--scan-like", "0.25", "--elastic", "0.3", "--font-letters", "0.5"]
    result = run_train(*SMOKE, *options, *folders(mnist_folder, tmp_path, out))
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert (config["restroke"], config["scan_like"], config["elastic"], config["font_letters"]) == (0.5, 0.25, 0.3, 0.5)


def test_the_answer_rule_is_chosen_on_the_dev_folders_and_recorded(tmp_path, mnist_folder):
    """--dev-dir with several folders: every labelled subfolder is measured, the rule is chosen on them
    within the letters budget, and calibration.json, metrics.json and the card say so."""
    from conftest import pen_dev_dir, scan_dev_dir

    pen, scan = tmp_path / "pen-dev", tmp_path / "scan-dev"
    for source, target in (
        (pen_dev_dir() / "pen_digits", pen / "pen_digits"),
        (pen_dev_dir() / "pen_letters", pen / "pen_letters"),
        (scan_dev_dir() / "usps_digits", scan / "usps_digits"),
    ):
        target.mkdir(parents=True)
        for file in sorted(source.glob("*.png"))[:40]:
            (target / file.name).write_bytes(file.read_bytes())
    out = tmp_path / "bundle"
    result = run_train(*SMOKE, "--dev-dir", str(pen), str(scan), *folders(mnist_folder, tmp_path, out))
    assert result.returncode == 0, result.stderr
    calibration = json.loads((out / "calibration.json").read_text())
    assert {"abstain_below", "not_a_digit_above", "digits_below", "alternative_below"} <= set(calibration)
    assert calibration["alternative_below"] == 0.8
    assert str(pen) in calibration["answer_rule_chosen_on"] and "usps_digits" in calibration["answer_rule_chosen_on"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["dev_sets"]) == {"pen_digits", "pen_letters", "usps_digits"}
    assert metrics["dev_sets"]["pen_letters"]["named_a_digit"] <= 0.05
    for name in ("pen_digits", "usps_digits"):
        row = metrics["dev_sets"][name]
        assert row["files"] == 40 and 0 <= row["accuracy"] <= row["best_guess_right"] <= 1
    card = (out / "README.md").read_text()
    assert "How the demo answers:" in card and metrics["answer_rule"] in card and "`usps_digits/`" in card


def test_learning_rate_sweep_picks_the_best_on_validation(tmp_path, mnist_folder):
    out = tmp_path / "bundle"
    result = run_train(*SMOKE, "--lr", "1e-4", "5e-3", "--sweep-epochs", "1", *folders(mnist_folder, tmp_path, out))
    assert result.returncode == 0, result.stderr
    assert "learning rate | validation accuracy" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    sweep = metrics["lr_sweep"]
    assert set(sweep) == {"0.0001", "0.005"}
    assert metrics["config"]["lr"] == float(max(sweep, key=sweep.get))
    assert (out / "lr_sweep.png").is_file()


def stop_train_when(args: list[str], ready, stop: int = signal.SIGINT) -> tuple[subprocess.Popen, str]:
    """Run train.py and send ``stop`` (Ctrl-C by default) once ``ready(line)`` is true for a log line (or after
    180 s); return the process, ended, and its whole log."""
    proc = subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline, seen = time.monotonic() + 180, []
    for line in proc.stderr:
        seen.append(line)
        if ready(line) or time.monotonic() > deadline:
            break
    proc.send_signal(stop)
    _, rest = proc.communicate(timeout=180)
    return proc, "".join(seen) + rest


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_saves_the_best_weights_so_far(tmp_path, mnist_folder, stop):
    """Ctrl-C, and SIGTERM as a scheduler or `docker stop` sends it, both end training with a saved bundle."""
    out = tmp_path / "bundle"
    args = "--recipe quick --epochs 500 --lr 0.02 --ema-decay 0 --val-size 100 --no-progress --threads 2".split()
    args += folders(mnist_folder, tmp_path, out)
    # Stop right after an epoch that validated worse than an earlier one (the signal lands during the next,
    # which is then not recorded), so that the best epoch is not simply the last.
    accuracies = []

    def worse_than_before(line: str) -> bool:
        if match := re.search(r"epoch (\d+)/500 .* val loss \S+ acc (\S+)", line):
            accuracies.append(float(match[2]))
            return len(accuracies) >= 30 or (len(accuracies) >= 3 and accuracies[-1] < max(accuracies[:-1]))
        return False

    proc, rest = stop_train_when(args, worse_than_before, stop)
    assert proc.returncode == 130, rest
    assert "Interrupted" in rest and "Traceback" not in rest
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 3 <= metrics["epochs_run"] < 500
    # the saved weights are the best validation epoch's: evaluated again on the same split, they give
    # that epoch's validation loss (which tells epochs apart even when accuracies tie)
    history = json.loads((out / "history.json").read_text())
    best = metrics["best_epoch"]
    print(f"best epoch {best} of {metrics['epochs_run']}: validation accuracy {history['val_accuracy']}")
    assert history["val_accuracy"][best - 1] == max(history["val_accuracy"]) == metrics["best_val_accuracy"]
    data = load_mnist(tmp_path / "root", mnist_folder)
    _, val = split_train_validation(data.train_images, data.train_labels, 100)
    val_loss, val_accuracy = evaluate(MnistCNN.from_pretrained(out, strict=True), *val)
    assert val_accuracy == metrics["best_val_accuracy"]
    assert val_loss == pytest.approx(history["val_loss"][best - 1], abs=1e-5)
    others = [loss for epoch, loss in zip(history["epoch"], history["val_loss"], strict=True) if epoch != best]
    assert all(abs(val_loss - other) > 1e-5 for other in others), "epochs not told apart"


def test_no_room_for_the_bundle_fails_before_training(tmp_path, mnist_folder):
    """A disk that cannot take the bundle (a 1 MB file-size limit stands in for a full disk) or an --out
    that cannot be a folder fails at once, with a message, and leaves nothing behind."""
    import resource

    out = tmp_path / "bundle"
    args = [sys.executable, "train.py", *SMOKE, *folders(mnist_folder, tmp_path, out)]
    started = time.monotonic()
    full = subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20)),
    )
    assert full.returncode == 2, full.stderr
    assert "Cannot write the bundle" in full.stderr and "File too large" in full.stderr
    assert "Traceback" not in full.stderr and "epoch" not in full.stderr
    assert time.monotonic() - started < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist-src"]  # no bundle, no staging folder, no probe

    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    through_a_file = run_train(*SMOKE, "--data-dir", str(mnist_folder), "--out", str(a_file / "bundle"))
    assert through_a_file.returncode == 2 and "Cannot write the bundle" in through_a_file.stderr
    assert "Traceback" not in through_a_file.stderr


def test_ctrl_c_during_the_learning_rate_sweep_saves_nothing(tmp_path, mnist_folder):
    out = tmp_path / "bundle"
    args = [*SMOKE, "--lr", "1e-3", "5e-3", "--sweep-epochs", "300", *folders(mnist_folder, tmp_path, out)]
    proc, log = stop_train_when(args, lambda line: "epoch 2/300" in line)  # inside the first sweep run
    assert proc.returncode == 130, log
    assert "Interrupted during the learning-rate sweep; nothing saved." in log and "Traceback" not in log
    assert not out.exists() and not list(tmp_path.glob(".bundle.*"))


def test_ctrl_c_before_the_first_epoch_ends_saves_nothing(tmp_path):
    """Stopped while the model is set up or in its first epoch (30,000 images: several seconds)."""
    from conftest import make_mnist_folder

    make_mnist_folder(tmp_path / "src", n_train=30_000, n_test=100)
    out = tmp_path / "bundle"
    args = [*SMOKE, *folders(tmp_path / "src", tmp_path, out)]
    proc, log = stop_train_when(args, lambda line: "validation 100, test 100 images" in line)
    assert proc.returncode == 130, log
    assert "Interrupted before" in log and "nothing" in log and "Traceback" not in log
    assert "epoch 1/1" not in log  # no epoch finished
    assert not out.exists() and not list(tmp_path.glob(".bundle.*"))


def test_a_saved_bundle_that_reads_differently_is_reported(tmp_path, mnist_folder, monkeypatch, caplog):
    """train.py reloads what it wrote; if that model's test predictions differ from the trained one's (a
    disk or serialization fault, injected here by reloading another model), it says so and exits 1."""
    import train

    def another_model(cls, *args, **kwargs):
        torch.manual_seed(123)
        return MnistCNN(channels=(16, 32, 64), num_classes=11).eval()

    monkeypatch.setattr(train.MnistCNN, "from_pretrained", classmethod(another_model))
    out = tmp_path / "bundle"
    handlers, threads = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}, torch.get_num_threads()
    try:
        code = train.main([*LEARN, *folders(mnist_folder, tmp_path, out)])
    finally:  # main() sets these for the whole process: give pytest its own back
        for number, handler in handlers.items():
            signal.signal(number, handler)
        torch.set_num_threads(threads)
    assert code == 1
    assert f"The saved bundle's predictions differ from the trained model's. Do not use {out}." in caplog.text


def test_an_onnx_file_that_differs_from_the_weights_is_reported(tmp_path, mnist_folder, monkeypatch, caplog):
    """train.py runs the model.onnx it wrote with onnxruntime; an ONNX file of other weights (injected here
    by exporting another model) fails the check, and train.py exits 1."""
    import train
    from mnist_cnn.learning import output

    real_export = output.export_onnx

    def export_another_model(model, path):
        torch.manual_seed(123)
        return real_export(MnistCNN(channels=(16, 32, 64), num_classes=11).eval(), path)

    monkeypatch.setattr(output, "export_onnx", export_another_model)
    out = tmp_path / "bundle"
    handlers, threads = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}, torch.get_num_threads()
    try:
        code = train.main([*LEARN, *folders(mnist_folder, tmp_path, out)])
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        torch.set_num_threads(threads)
    assert code == 1
    assert f"{out / 'model.onnx'} disagrees with the weights: DIFFERENT predictions" in caplog.text
    assert "Do not use it." in caplog.text


def test_a_stop_that_python_swallows_in_a_finalizer_still_stops_training():
    """A Ctrl-C that lands in some object's __del__ (tqdm's, in a real run) is printed and dropped by Python;
    the flag the signal handler sets still stops fit() at its next step, keeping the best weights so far."""
    from mnist_cnn.learning import training

    class Finalized:
        def __del__(self):
            training.stop_requested(signal.SIGINT, None)

    def stop_inside_a_finalizer(record):
        if record.epoch == 1:
            Finalized()  # collected at once: the KeyboardInterrupt is raised in __del__ and ignored

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (256, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (256,), generator=generator)
    cfg = training.TrainConfig(epochs=4, batch_size=64, ema_decay=0)
    model = MnistCNN(channels=[4, 8, 16], dropout=0.0, num_classes=11)
    try:
        result = training.fit(model, (images, labels), (images[:64], labels[:64]), cfg, False, stop_inside_a_finalizer)
    finally:
        training.STOP.clear()
    assert result.interrupted and len(result.history) == 1 and result.best_epoch == 1
