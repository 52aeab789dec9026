import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard

from conftest import ROOT
from mnist_cnn.bundle import REQUIRED_FILES, load_sample_pack
from mnist_cnn.model import MnistCNN

SMOKE = ["--recipe", "quick", "--epochs", "1", "--val-size", "100", "--no-progress", "--threads", "2"]


def run_train(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "train.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_bundle(tmp_path_factory):
    """One short epoch on synthetic data, through the real command line."""
    from conftest import make_mnist_folder

    base = tmp_path_factory.mktemp("smoke")
    make_mnist_folder(base / "src", n_train=600, n_test=200)
    out = base / "bundle"
    result = run_train(*SMOKE, "--data-dir", str(base / "src"), "--data-root", str(base / "root"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return base, out, result


def test_smoke_run_writes_the_complete_bundle(smoke_bundle):
    _, out, result = smoke_bundle
    for name in REQUIRED_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_size"] == 200
    assert np.array(metrics["confusion_matrix"]).shape == (10, 10)
    assert np.array(metrics["confusion_matrix"]).sum() == 200
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    assert {"precision", "recall", "f1", "support"} <= set(metrics["per_class"]["3"])
    quick = MnistCNN(channels=(16, 32, 64), num_classes=11)
    assert metrics["num_parameters"] == sum(p.numel() for p in quick.parameters())
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["temperature"] > 0 and calibration["temperature"] == metrics["temperature"]
    assert 0 <= metrics["test_ece"] <= 1 and "fitted_on" in calibration
    assert "Training on cpu" in result.stderr
    assert metrics["seed"] == 0 and "train.py" in metrics["command"] and "--epochs 1" in metrics["command"]
    assert metrics["train_seconds"] > 0
    history = json.loads((out / "history.json").read_text())
    for key in ("epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
        assert len(history[key]) == 1, key
    assert "Test accuracy" in result.stdout and "identical test predictions" in result.stderr
    assert not list(out.parent.glob(".bundle.*")), "staging folder left behind"


def test_sample_pack_holds_random_images_and_every_mistake(smoke_bundle):
    _, out, _ = smoke_bundle
    pack = load_sample_pack(out / "samples.safetensors")
    metrics = json.loads((out / "metrics.json").read_text())
    n = len(pack["labels"])
    assert pack["images"].shape == (n, 28, 28) and pack["images"].dtype == torch.uint8
    assert pack["probabilities"].shape == (n, 11)  # ten digits and "not a digit"
    torch.testing.assert_close(pack["probabilities"].sum(1), torch.ones(n))
    mistakes = int((pack["predictions"] != pack["labels"]).sum())
    assert mistakes == metrics["test_errors"]
    assert torch.equal(pack["predictions"], pack["probabilities"][:, :10].argmax(1))


def test_model_card_has_model_index(smoke_bundle):
    _, out, _ = smoke_bundle
    card = ModelCard.load(out / "README.md")
    metrics = json.loads((out / "metrics.json").read_text())
    (result,) = card.data.eval_results
    assert result.task_type == "image-classification" and result.dataset_split == "test"
    assert result.metric_type == "accuracy"
    assert result.metric_value == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert card.data.license == "mit" and card.data.library_name == "pytorch"
    assert metrics["command"] in card.text and "confusion_matrix.png" in card.text


def test_bundle_loads_strictly_with_identical_predictions(smoke_bundle):
    _, out, _ = smoke_bundle
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
    base, out, _ = smoke_bundle
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = run_train(*SMOKE, "--data-dir", str(base / "src"), "--data-root", str(base / "root"), "--out", str(out))
    assert result.returncode == 2
    assert "--overwrite" in result.stderr and "Traceback" not in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_overwrite_replaces_the_bundle(tmp_path, mnist_folder):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    args = [*SMOKE, "--data-dir", str(mnist_folder), "--data-root", str(tmp_path / "root"), "--out", str(out)]
    assert run_train(*args).returncode == 2 and (out / "stale.txt").exists()
    result = run_train(*args, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()


def test_learning_rate_sweep_picks_the_best_on_validation(tmp_path, mnist_folder):
    out = tmp_path / "bundle"
    result = run_train(*SMOKE, "--lr", "1e-4", "5e-3", "--sweep-epochs", "1", "--data-dir", str(mnist_folder),
                       "--data-root", str(tmp_path / "root"), "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "learning rate | validation accuracy" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    sweep = metrics["lr_sweep"]
    assert set(sweep) == {"0.0001", "0.005"}
    assert metrics["config"]["lr"] == float(max(sweep, key=sweep.get))
    assert (out / "lr_sweep.png").is_file()


def test_same_seed_same_model(tmp_path, mnist_folder):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = [*SMOKE, "--data-dir", str(mnist_folder), "--data-root", str(tmp_path / "root"), "--out", str(out)]
        assert run_train(*args).returncode == 0
        outs.append(MnistCNN.from_pretrained(out).state_dict())
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_saves_the_best_weights_so_far(tmp_path, mnist_folder, stop):
    """Ctrl-C, and SIGTERM as a scheduler or `docker stop` sends it, both end training with a saved bundle."""
    out = tmp_path / "bundle"
    args = ["--recipe", "quick", "--epochs", "500", "--val-size", "100", "--no-progress", "--threads", "2",
            "--data-dir", str(mnist_folder), "--data-root", str(tmp_path / "root"), "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    deadline = time.monotonic() + 180
    for line in proc.stderr:
        if "epoch 2/500" in line or time.monotonic() > deadline:
            break
    proc.send_signal(stop)
    _, rest = proc.communicate(timeout=180)
    assert proc.returncode == 130, rest
    assert "Interrupted" in rest and "Traceback" not in rest
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 2 <= metrics["epochs_run"] < 500
    MnistCNN.from_pretrained(out, strict=True)


def test_no_room_for_the_bundle_fails_before_training(tmp_path, mnist_folder):
    """A disk that cannot take the bundle (a 1 MB file-size limit stands in for a full disk) or an --out
    that cannot be a folder fails at once, with a message, and leaves nothing behind."""
    import resource

    out = tmp_path / "bundle"
    args = [sys.executable, "train.py", *SMOKE, "--data-dir", str(mnist_folder), "--out", str(out),
            "--data-root", str(tmp_path / "root")]  # fmt: skip
    started = time.monotonic()
    full = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20)))  # fmt: skip
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
