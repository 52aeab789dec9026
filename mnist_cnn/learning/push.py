"""Push a model bundle to a Hugging Face Hub model repo (train.py --push-to-hub, python -m mnist_cnn push).

The model card is built anew for the repo, and a bundle written before bundles held ``model.onnx`` or
``explain.onnx`` gets them exported for the push. Tokens are resolved by ``huggingface_hub`` itself
(``HF_TOKEN`` or the ``hf auth login`` file); this module never reads, prints or stores one. The app's
side, downloading a bundle, is ``mnist_cnn.hub``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from mnist_cnn.bundle import (
    CARD_FILE,
    EXPLAIN_ONNX_FILE,
    METRICS_FILE,
    ONNX_FILE,
    REQUIRED_FILES,
    SAMPLES_FILE,
    BundleLoadError,
    load_bundle_folder,
    load_sample_pack,
    read_json,
)
from mnist_cnn.hub import repo_id_problem
from mnist_cnn.reading.explain_graph import ExplainGraphError, exported_graph_copy

from .card import build_model_card
from .checks import EXPLAIN_CHECK_IMAGES
from .onnx_export import OnnxCheckError, exported_copy

log = logging.getLogger(__name__)


class HubPushError(RuntimeError):
    """A push failed; the message says what happened and what to do. Local files are untouched."""


def push_bundle(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    space_url: str | None = None,
) -> str:
    """Upload every file of a bundle folder to a Hub model repo in one commit; return the repo URL."""
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise HubPushError(f"{folder} is not a complete model bundle: it lacks {', '.join(missing)}.")
    if problem := repo_id_problem(repo_id):
        raise HubPushError(f"'{repo_id}' is not a valid repo id ({problem}). Use 'your-username/model-name'.")
    if get_token() is None:
        raise HubPushError(
            "No Hugging Face token found. Log in with `hf auth login`, or set HF_TOKEN to a write token."
        )

    metrics = read_json(folder / METRICS_FILE)
    card = build_model_card(metrics, model_source=repo_id, space_url=space_url)
    operations = [
        CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=path)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != CARD_FILE and not path.name.startswith(".")
    ]
    operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(card).encode()))
    message = commit_message or f"Upload MNIST CNN (test accuracy {100 * metrics['test_accuracy']:.2f}%)"
    onnx_copy = None if (folder / ONNX_FILE).is_file() else onnx_for_older_bundle(folder)
    if onnx_copy is not None:
        operations.append(CommitOperationAdd(path_in_repo=ONNX_FILE, path_or_fileobj=onnx_copy))
    graph_copy = None if (folder / EXPLAIN_ONNX_FILE).is_file() else graph_for_older_bundle(folder)
    if graph_copy is not None:
        operations.append(CommitOperationAdd(path_in_repo=EXPLAIN_ONNX_FILE, path_or_fileobj=graph_copy))

    api = HfApi()
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        api.create_commit(repo_id, operations, commit_message=message, revision=revision)
    except HfHubHTTPError as err:
        raise HubPushError(_explain_http_error(err, repo_id)) from err
    except (httpx2.TransportError, OSError) as err:
        raise HubPushError(
            f"Could not reach the Hugging Face Hub at {api.endpoint} ({type(err).__name__}). "
            "Check your internet connection (or HF_ENDPOINT) and push again."
        ) from err
    finally:
        for copy in (onnx_copy, graph_copy):
            if copy is not None:
                shutil.rmtree(copy.parent, ignore_errors=True)
    url = str(repo_url)
    return f"{url}/tree/{revision}" if revision else url


def push_after_training(
    folder: Path, repo_id: str | None, private: bool, revision: str | None, space_url: str | None
) -> int:
    """train.py's push, if ``repo_id`` is given: 0, or 3 when it failed (the bundle is safe on disk, and the
    log says how to push it later)."""
    if not repo_id:
        return 0
    try:
        url = push_bundle(folder, repo_id, private=private, revision=revision, space_url=space_url)
    except HubPushError as err:
        log.error("Push failed: %s", err)
        log.error(
            "The bundle is safe in %s; push it later with: python -m mnist_cnn push %s %s", folder, folder, repo_id
        )
        return 3
    print(f"Pushed to {url}")
    return 0


def onnx_for_older_bundle(folder: Path) -> Path:
    """A bundle written before bundles held ``model.onnx``: export it from the weights (into a temporary
    folder: the bundle itself is left as it is) and check it on the bundle's test samples."""
    try:
        log.info("%s has no %s: exporting one from its weights", folder, ONNX_FILE)
        return exported_copy(folder)
    except (BundleLoadError, OnnxCheckError, OSError, ValueError) as err:
        raise HubPushError(f"{folder} has no {ONNX_FILE}, and exporting one failed: {err}") from err


def graph_for_older_bundle(folder: Path) -> Path:
    """A bundle written before bundles held ``explain.onnx``: export it from the weights (into a temporary
    folder) and check it against captum on the bundle's first test samples."""
    try:
        log.info("%s has no %s: exporting one from its weights", folder, EXPLAIN_ONNX_FILE)
        fields = load_sample_pack(folder / SAMPLES_FILE)["images"][:EXPLAIN_CHECK_IMAGES].float().numpy() / 255
        return exported_graph_copy(load_bundle_folder(folder).model, fields)
    except (BundleLoadError, ExplainGraphError, OSError, ValueError, KeyError) as err:
        raise HubPushError(f"{folder} has no {EXPLAIN_ONNX_FILE}, and exporting one failed: {err}") from err


def _explain_http_error(err: HfHubHTTPError, repo_id: str) -> str:
    status = err.response.status_code if err.response is not None else None
    detail = f" The Hub said: {err.server_message.strip()}" if err.server_message else ""
    if status == 401:
        return (
            "The Hub rejected the token (401 Unauthorized): it is invalid or expired. "
            f"Log in again with `hf auth login` or set a valid HF_TOKEN.{detail}"
        )
    if status == 403:
        return (
            f"The token has no write access to '{repo_id}' (403 Forbidden). "
            f"Use a token with write permission, or a repo under your own namespace.{detail}"
        )
    if status == 400 or status == 422:
        return f"The Hub refused the upload to '{repo_id}' ({status}).{detail}"
    return f"The Hub answered {status} while pushing to '{repo_id}'.{detail} Try again later."
