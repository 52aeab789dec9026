"""Push to and load from a Hub-compatible server on 127.0.0.1, with the real huggingface_hub client.

The client runs in subprocesses: huggingface_hub reads HF_ENDPOINT and friends at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import start_hub
from huggingface_hub import ModelCard

from conftest import ROOT, make_mnist_folder
from mnist_cnn.bundle import REQUIRED_FILES, SHIPPED_BUNDLE

TOKEN = "hf_test_alice_write_0123456789abcdef"
LOAD_SCRIPT = """
import json, sys, torch
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_sample_pack
from mnist_cnn.hub import bundle_summary, load_model_source
bundle = load_model_source(sys.argv[1] or None, sys.argv[2] or None)
pack = load_sample_pack(SHIPPED_BUNDLE / "samples.safetensors")
with torch.no_grad():
    predictions = bundle.model(pack["images"].unsqueeze(1).float() / 255)[:, :10].argmax(1).tolist()
print(json.dumps({**bundle_summary(bundle), "predictions": predictions, "folder": str(bundle.folder),
                  "has_samples": bundle.samples is not None, "has_card": bundle.card is not None,
                  "calibration": bundle.calibration,
                  "onnx": None if bundle.onnx_file is None else bundle.onnx_file.read_bytes().hex()}))
"""


@pytest.fixture
def hub():
    store, server, url = start_hub({TOKEN: "alice"})
    store.url = url
    yield store
    server.shutdown()


def hub_env(endpoint: str, home: Path, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k not in ("MODEL_REPO", "MODEL_REVISION")}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_ETAG_TIMEOUT="3",
        HF_HUB_DOWNLOAD_TIMEOUT="3",
        HF_HUB_DISABLE_XET="1",
        PYTHONUNBUFFERED="1",
    )
    if token:
        env["HF_TOKEN"] = token
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert TOKEN not in result.stdout + result.stderr, "the token leaked into the output"
    return result


def push(bundle: Path, repo_id: str, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    return run(["-m", "mnist_cnn", "push", str(bundle), repo_id, *options], env)


def load(source: str, env: dict[str, str], revision: str = "") -> dict:
    result = run(["-c", LOAD_SCRIPT, source, revision], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]) | {"log": result.stderr}


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def shipped_predictions() -> list[int]:
    from mnist_cnn.bundle import load_sample_pack

    return load_sample_pack(SHIPPED_BUNDLE / "samples.safetensors")["predictions"].tolist()


def test_push_then_load_in_a_fresh_process(hub, tmp_path, shipped_predictions):
    env = hub_env(hub.url, tmp_path / "hf")
    before = snapshot(SHIPPED_BUNDLE)
    result = push(SHIPPED_BUNDLE, "alice/mnist-cnn", env)
    assert result.returncode == 0, result.stderr
    assert f"{hub.url}/alice/mnist-cnn" in result.stdout
    files = hub.files("alice/mnist-cnn")
    assert set(REQUIRED_FILES) <= set(files)
    assert files["model.safetensors"] == (SHIPPED_BUNDLE / "model.safetensors").read_bytes()
    assert snapshot(SHIPPED_BUNDLE) == before
    # binary files travel through the LFS batch API and its upload URL, as on the Hub; text files inline
    lfs_paths = {path for repo_id, path in hub.lfs_pointers if repo_id == "alice/mnist-cnn"}
    assert {"model.safetensors", "samples.safetensors", "confusion_matrix.png", "loss_curves.png"} <= lfs_paths
    assert not lfs_paths & {"config.json", "metrics.json", "README.md"}
    assert hashlib.sha256(files["model.safetensors"]).hexdigest() in hub.lfs_uploads
    assert any(line.startswith("PUT /lfs-upload/") for line in hub.requests)
    assert len(hub.repos["alice/mnist-cnn"].commits) == 2  # the repo's first commit, then one for the bundle

    loaded = load("alice/mnist-cnn", hub_env(hub.url, tmp_path / "hf-reader", token=None))
    assert loaded["fallback_reason"] is None
    assert loaded["commit"] == hub.repos["alice/mnist-cnn"].branches["main"]
    assert loaded["predictions"] == shipped_predictions
    assert loaded["has_samples"] and loaded["has_card"]
    assert loaded["calibration"] == json.loads((SHIPPED_BUNDLE / "calibration.json").read_text())  # same confidences
    # the browser's copy of the model travels too, byte for byte
    assert files["model.onnx"] == (SHIPPED_BUNDLE / "model.onnx").read_bytes()
    assert "model.onnx" in lfs_paths
    assert bytes.fromhex(loaded["onnx"]) == files["model.onnx"]


def test_pushing_a_bundle_without_onnx_exports_it(hub, tmp_path, shipped_predictions):
    """A bundle written before bundles held model.onnx: push exports one from the weights and uploads it,
    leaving the bundle folder as it was; onnxruntime reads the uploaded file as the weights do."""
    import numpy as np
    import onnxruntime as ort

    from mnist_cnn.bundle import load_sample_pack

    older = tmp_path / "older-bundle"
    shutil.copytree(SHIPPED_BUNDLE, older, ignore=shutil.ignore_patterns("model.onnx"))
    before = snapshot(older)
    result = push(older, "alice/older", hub_env(hub.url, tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    assert "has no model.onnx: exporting one from its weights" in result.stderr
    assert snapshot(older) == before  # nothing written into the bundle
    onnx_file = tmp_path / "pushed.onnx"
    onnx_file.write_bytes(hub.files("alice/older")["model.onnx"])
    images = load_sample_pack(older / "samples.safetensors")["images"].numpy()[:, None].astype(np.float32) / 255
    (logits,) = ort.InferenceSession(str(onnx_file)).run(["logits"], {"image": images})
    assert logits[:, :10].argmax(axis=1).tolist() == shipped_predictions


def test_pushed_card_has_the_accuracy_in_model_index(hub, tmp_path):
    env = hub_env(hub.url, tmp_path / "hf")
    space = "https://huggingface.co/spaces/alice/mnist-draw"
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env, "--space-url", space).returncode == 0
    text = hub.files("alice/mnist-cnn")["README.md"].decode()
    card = ModelCard(text)
    metrics = json.loads((SHIPPED_BUNDLE / "metrics.json").read_text())
    (result,) = card.data.eval_results
    assert (result.task_type, result.dataset_split, result.metric_type) == ("image-classification", "test", "accuracy")
    assert result.metric_value == pytest.approx(metrics["test_accuracy"])
    assert card.data.library_name == "pytorch" and card.data.license == "mit" and "mnist" in card.data.tags
    assert card.data.datasets and space in text and 'from_pretrained("alice/mnist-cnn")' in text


def test_second_push_is_a_second_commit(hub, tmp_path):
    env = hub_env(hub.url, tmp_path / "hf")
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env).returncode == 0
    first = hub.repos["alice/mnist-cnn"].branches["main"]
    result = push(SHIPPED_BUNDLE, "alice/mnist-cnn", env, "--commit-message", "Second upload")
    assert result.returncode == 0, result.stderr
    repo = hub.repos["alice/mnist-cnn"]
    assert repo.branches["main"] != first and repo.messages[repo.branches["main"]] == "Second upload"
    assert len(repo.commits) == 3
    # the LFS objects were already stored: the second push sends no binary file again
    assert len(hub.lfs_uploads) == len(set(hub.lfs_uploads))


def test_private_repo_and_branch(hub, tmp_path, shipped_predictions):
    env = hub_env(hub.url, tmp_path / "hf")
    result = push(SHIPPED_BUNDLE, "alice/private-cnn", env, "--private", "--revision", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("/alice/private-cnn/tree/dev")
    repo = hub.repos["alice/private-cnn"]
    assert repo.private and "model.safetensors" in repo.commits[repo.branches["dev"]]
    assert "model.safetensors" not in repo.commits[repo.branches["main"]]
    loaded = load("alice/private-cnn", env, revision="dev")
    assert loaded["fallback_reason"] is None and loaded["source"] == "alice/private-cnn@dev"
    anonymous = load("alice/private-cnn", hub_env(hub.url, tmp_path / "anon", token=None), revision="dev")
    assert "not found" in anonymous["fallback_reason"]


@pytest.mark.parametrize(
    "token, repo_id, message",
    [
        ("hf_not_a_valid_token_zzzzzzzzzzzzzz", "alice/mnist-cnn", "401"),
        (TOKEN, "bob/mnist-cnn", "no write access"),
        (None, "alice/mnist-cnn", "No Hugging Face token"),
        (TOKEN, "alice/not a repo!", "not a valid repo id"),
    ],
)
def test_push_failures_are_clear_and_keep_local_files(hub, tmp_path, token, repo_id, message):
    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, bundle)
    before = snapshot(bundle)
    result = push(bundle, repo_id, hub_env(hub.url, tmp_path / "hf", token=token))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    if token:
        assert token not in result.stdout + result.stderr
    assert snapshot(bundle) == before
    assert not hub.repos.get(repo_id) or len(hub.repos[repo_id].commits) == 1


def test_push_to_unreachable_hub(tmp_path, closed_port_url):
    result = push(SHIPPED_BUNDLE, "alice/mnist-cnn", hub_env(closed_port_url, tmp_path / "hf"))
    assert result.returncode == 2
    assert "Could not reach the Hugging Face Hub" in result.stderr and "Traceback" not in result.stderr


def test_push_refuses_an_incomplete_bundle(hub, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_BUNDLE, bundle)
    (bundle / "metrics.json").unlink()
    result = push(bundle, "alice/mnist-cnn", hub_env(hub.url, tmp_path / "hf"))
    assert result.returncode == 2 and "metrics.json" in result.stderr
    assert "alice/mnist-cnn" not in hub.repos


def test_token_is_never_in_pushed_files_or_logs(hub, tmp_path):
    env = hub_env(hub.url, tmp_path / "hf", HF_DEBUG="1")
    result = push(SHIPPED_BUNDLE, "alice/mnist-cnn", env)  # run() also checks stdout and stderr
    assert result.returncode == 0, result.stderr
    for repo in hub.repos.values():
        for files in repo.commits.values():
            assert all(TOKEN.encode() not in content for content in files.values())
    # the token travels in Authorization headers only
    assert hub.authorized > 0 and not any(TOKEN in line for line in hub.requests)


@pytest.mark.parametrize(
    "case",
    [
        "missing repo",
        "missing revision",
        "unreachable",
        "corrupt weights",
        "bad id",
        "missing file",
        "http error",
        "broken folder",
    ],
)
def test_load_falls_back_to_the_shipped_bundle(hub, tmp_path, shipped_predictions, case, closed_port_url):
    env = hub_env(hub.url, tmp_path / "hf")
    source, revision, expected = "alice/mnist-cnn", "", ""
    if case == "missing repo":
        source, expected = "alice/no-such-model", "not found"
    elif case == "missing revision":
        assert push(SHIPPED_BUNDLE, source, env).returncode == 0
        revision, expected = "v9", "revision 'v9' does not exist"
    elif case == "unreachable":
        env, expected = hub_env(closed_port_url, tmp_path / "hf"), "could not be reached"
    elif case == "corrupt weights":
        bundle = tmp_path / "bundle"
        shutil.copytree(SHIPPED_BUNDLE, bundle)
        (bundle / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
        assert push(bundle, source, env).returncode == 0
        expected = "model.safetensors: corrupt"
    elif case == "bad id":
        source, expected = "not a repo!", "neither a folder nor a valid Hub repo id"
    elif case == "missing file":  # a repo with weights but no config.json
        assert push(SHIPPED_BUNDLE, source, env).returncode == 0
        repo = hub.repos[source]
        del repo.commits[repo.branches["main"]]["config.json"]
        expected = "the repo lacks a required file"
    elif case == "http error":  # the Hub refuses the files with an error that is no 404
        assert push(SHIPPED_BUNDLE, source, env).returncode == 0
        hub.fault = "403"
        expected = "the Hub answered 403: Access to this file has been disabled"
    elif case == "broken folder":
        source = str(tmp_path / "broken")
        shutil.copytree(SHIPPED_BUNDLE, source)
        (Path(source) / "config.json").write_text('{"channels": [40, 80')
        expected = "config.json: not a valid model config"
    loaded = load(source, env, revision)
    assert expected in loaded["fallback_reason"]
    assert "Using the model shipped with the app" in loaded["fallback_reason"]
    assert Path(loaded["folder"]) == SHIPPED_BUNDLE and loaded["predictions"] == shipped_predictions
    assert "Could not load" in loaded["log"] and "Traceback" not in loaded["log"]


def test_offline_mode_uses_the_cache(hub, tmp_path, shipped_predictions, closed_port_url):
    env = hub_env(hub.url, tmp_path / "hf")
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env).returncode == 0
    online = load("alice/mnist-cnn", env)
    hub_url_gone = hub_env(closed_port_url, tmp_path / "hf", HF_HUB_OFFLINE="1")
    offline = load("alice/mnist-cnn", hub_url_gone)
    assert offline["fallback_reason"] is None and offline["commit"] == online["commit"]
    assert offline["predictions"] == shipped_predictions
    empty_cache = load("alice/mnist-cnn", hub_env(hub.url, tmp_path / "empty", HF_HUB_OFFLINE="1"))
    assert "could not be reached" in empty_cache["fallback_reason"]


def test_environment_variables_choose_the_model(hub, tmp_path):
    env = hub_env(hub.url, tmp_path / "hf")
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env, "--revision", "v1").returncode == 0
    loaded = load("", {**env, "MODEL_REPO": "alice/mnist-cnn", "MODEL_REVISION": "v1"})
    assert loaded["source"] == "alice/mnist-cnn@v1" and loaded["fallback_reason"] is None
    default = load("", env)
    assert Path(default["folder"]) == SHIPPED_BUNDLE and default["fallback_reason"] is None


def test_train_push_failure_keeps_the_bundle(hub, tmp_path):
    make_mnist_folder(tmp_path / "src")
    out = tmp_path / "bundle"
    args = [
        "train.py",
        "--recipe",
        "quick",
        "--epochs",
        "1",
        "--val-size",
        "100",
        "--no-progress",
        "--data-dir",
        str(tmp_path / "src"),
        "--data-root",
        str(tmp_path / "root"),
        "--out",
        str(out),
    ]
    failed = run([*args, "--push-to-hub", "alice/mnist-cnn"], hub_env(hub.url, tmp_path / "hf", token="hf_bad_xxxx"))
    assert failed.returncode == 3 and "401" in failed.stderr and "python -m mnist_cnn push" in failed.stderr
    assert all((out / name).is_file() for name in REQUIRED_FILES)
    retried = push(out, "alice/mnist-cnn", hub_env(hub.url, tmp_path / "hf"))
    assert retried.returncode == 0, retried.stderr
    space = "https://huggingface.co/spaces/alice/draw-a-digit"
    ok = run(
        [
            *args,
            "--out",
            str(tmp_path / "b2"),
            "--push-to-hub",
            "alice/cnn-2",
            "--hub-private",
            "--hub-revision",
            "dev",
            "--space-url",
            space,
        ],
        hub_env(hub.url, tmp_path / "hf"),
    )
    assert ok.returncode == 0, ok.stderr
    assert "Pushed to" in ok.stdout and ok.stdout.strip().endswith("/alice/cnn-2/tree/dev")
    repo = hub.repos["alice/cnn-2"]
    assert repo.private  # --hub-private
    assert "model.safetensors" in hub.files("alice/cnn-2", "dev")  # --hub-revision
    assert "model.safetensors" not in hub.files("alice/cnn-2")
    assert space in hub.files("alice/cnn-2", "dev")["README.md"].decode()  # --space-url, linked from the card


def test_app_model_and_revision_options(hub, tmp_path):
    """python app.py --model REPO --revision REV, and --model FOLDER: the Model tab says which weights."""
    import httpx

    from conftest import RunningApp

    env = hub_env(hub.url, tmp_path / "hf")
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env, "--revision", "v1").returncode == 0
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env, "--commit-message", "main moves on").returncode == 0
    v1 = hub.repos["alice/mnist-cnn"].branches["v1"]
    assert v1 != hub.repos["alice/mnist-cnn"].branches["main"]
    folder = tmp_path / "my-bundle"
    shutil.copytree(SHIPPED_BUNDLE, folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    (folder / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": 0.5}))  # tells it apart
    for args, expected in (
        (("--model", "alice/mnist-cnn", "--revision", "v1"), f"revision `v1`, commit `{v1[:10]}`"),
        (("--model", str(folder)), "Test accuracy** 50.00%"),
    ):
        app = RunningApp({**env, "HF_HUB_OFFLINE": "0"}, args=args)
        try:
            config = httpx.get(f"{app.url}config", timeout=30).text
            assert expected in config, args
            assert "Using the model shipped with the app" not in config
        finally:
            app.stop()


class MarkerPickle:
    """Unpickling this creates ``path``: proof that a checkpoint was unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


PICKLE_SCRIPT = """
import json, sys
from mnist_cnn.hub import load_model_source
from mnist_cnn.model import MnistCNN
try:
    MnistCNN.from_pretrained(sys.argv[1])
    refused = None
except Exception as err:
    refused = f"{type(err).__name__}: {err}"
bundle = load_model_source(sys.argv[1])
print(json.dumps({"refused": refused, "fallback_reason": bundle.fallback_reason, "folder": str(bundle.folder)}))
"""


def test_pickle_checkpoints_are_never_opened(hub, tmp_path):
    """A repo or folder holding only a pickle checkpoint (pytorch_model.bin), loaded with
    MnistCNN.from_pretrained and with the app's loader: refused, and the pickle is never unpickled."""
    import pickle

    marker = tmp_path / "unpickled.txt"
    checkpoint = pickle.dumps(MarkerPickle(marker))
    config = (SHIPPED_BUNDLE / "config.json").read_bytes()
    env = hub_env(hub.url, tmp_path / "hf")
    assert push(SHIPPED_BUNDLE, "alice/pickled", env).returncode == 0  # a real repo, then only the pickle in it
    repo = hub.repos["alice/pickled"]
    repo.commits[repo.branches["main"]] = {"config.json": config, "pytorch_model.bin": checkpoint}
    folder = tmp_path / "pickled-folder"
    folder.mkdir()
    (folder / "config.json").write_bytes(config)
    (folder / "pytorch_model.bin").write_bytes(checkpoint)

    refusals = {}
    for source in ("alice/pickled", str(folder)):
        result = run(["-c", PICKLE_SCRIPT, source], env)
        assert result.returncode == 0, result.stderr
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        assert outcome["refused"] is not None, source
        refusals[source] = outcome["refused"]
        assert "Using the model shipped with the app" in outcome["fallback_reason"]
        assert Path(outcome["folder"]) == SHIPPED_BUNDLE
        assert not marker.exists(), f"{source}: the pickle was unpickled"
    assert "pickle checkpoint" in refusals["alice/pickled"]  # the Hub route reached the pickle and refused it
    pickle.loads(checkpoint)  # the marker is live: unpickling really would have left it
    assert marker.exists()


@pytest.mark.parametrize("fault", ["500", "cut", "trickle"])
def test_a_failing_or_slow_hub_falls_back_within_the_deadline(hub, tmp_path, shipped_predictions, fault):
    """The Hub answering 500, a download cut off mid-file, a Hub too slow for any read to time out: the
    shipped model is used, within the download deadline, and nothing half-downloaded is used."""
    import time

    env = hub_env(hub.url, tmp_path / "hf")
    assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", env).returncode == 0
    hub.fault = fault
    started = time.monotonic()
    loaded = load("alice/mnist-cnn", {**env, "MODEL_DOWNLOAD_TIMEOUT": "6"})
    elapsed = time.monotonic() - started
    assert "Using the model shipped with the app" in loaded["fallback_reason"], loaded["log"]
    assert Path(loaded["folder"]) == SHIPPED_BUNDLE and loaded["predictions"] == shipped_predictions
    assert "Traceback" not in loaded["log"]
    assert elapsed < 6 + 30, f"took {elapsed:.0f} s"  # the deadline plus starting Python and torch
    if fault == "trickle":
        assert "did not send the files within 6 s" in loaded["fallback_reason"]
    hub.fault = None  # the Hub recovers: the next start downloads the real files
    assert load("alice/mnist-cnn", env)["fallback_reason"] is None
