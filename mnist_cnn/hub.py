"""The app's side of the Hub: resolve a model source (a folder, or a Hub repo and revision) into a loaded
bundle, falling back to the shipped one. Pushing a bundle is training's side: ``mnist_cnn.learning.push``.

Tokens are resolved by ``huggingface_hub`` itself (``HF_TOKEN`` or the ``hf auth login`` file); this
module never reads, prints or stores one. Downloaded files are loaded by ``bundle.load_bundle_folder``
(safetensors only, strict key checks).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from .bundle import (
    CALIBRATION_FILE,
    CARD_FILE,
    CONFIG_FILE,
    EXAMPLES_IMAGE_FILE,
    EXAMPLES_JSON_FILE,
    EXPLAIN_ONNX_FILE,
    HISTORY_FILE,
    LR_SWEEP_PLOT,
    METRICS_FILE,
    ONNX_FILE,
    PLOT_FILES,
    SAMPLES_FILE,
    SHIPPED_BUNDLE,
    WEIGHTS_FILE,
    BundleLoadError,
    LoadedBundle,
    load_bundle_folder,
)

log = logging.getLogger(__name__)

MODEL_REPO_ENV = "MODEL_REPO"
MODEL_REVISION_ENV = "MODEL_REVISION"
DOWNLOAD_TIMEOUT_ENV = "MODEL_DOWNLOAD_TIMEOUT"
# The whole download, every file and retry included: huggingface_hub's own timeouts bound each read, so
# a Hub that trickles bytes or keeps answering 5xx could otherwise hold the app's start for minutes.
DOWNLOAD_TIMEOUT = 20.0
OPTIONAL_FILES = (
    ONNX_FILE,
    EXPLAIN_ONNX_FILE,
    EXAMPLES_JSON_FILE,
    EXAMPLES_IMAGE_FILE,
    CALIBRATION_FILE,
    METRICS_FILE,
    HISTORY_FILE,
    SAMPLES_FILE,
    CARD_FILE,
    *PLOT_FILES,
    LR_SWEEP_PLOT,
)


class HubTimeoutError(TimeoutError):
    """The Hub did not deliver a bundle within the download deadline."""


def repo_id_problem(repo_id: str) -> str | None:
    """Why ``repo_id`` is not an 'owner/name' Hub repo id, or None when it is one."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        return str(err)
    return None if repo_id.count("/") == 1 else "expected 'owner/name'"


def download_bundle(repo_id: str, revision: str | None = None) -> Path:
    """Download (or find in the cache) a bundle's files from the Hub; return the local snapshot folder."""
    weights = Path(hf_hub_download(repo_id, WEIGHTS_FILE, revision=revision))
    hf_hub_download(repo_id, CONFIG_FILE, revision=revision)
    for name in OPTIONAL_FILES:
        try:
            hf_hub_download(repo_id, name, revision=revision)
        except EntryNotFoundError:
            log.info("%s has no %s", repo_id, name)
    return weights.parent  # every file of one commit lands in the same snapshot folder


def download_timeout() -> float:
    """Seconds allowed for the whole download: ``$MODEL_DOWNLOAD_TIMEOUT``, else DOWNLOAD_TIMEOUT."""
    value = os.environ.get(DOWNLOAD_TIMEOUT_ENV, "").strip()
    try:
        return float(value) if value else DOWNLOAD_TIMEOUT
    except ValueError:
        log.warning("Ignoring %s=%r (not a number of seconds)", DOWNLOAD_TIMEOUT_ENV, value)
        return DOWNLOAD_TIMEOUT


def download_within(repo_id: str, revision: str | None, seconds: float) -> Path:
    """``download_bundle`` with a deadline. On timeout the download goes on in the background (a daemon
    thread, finishing into the cache for the next start) and HubTimeoutError is raised."""
    outcome: dict[str, Any] = {}

    def download() -> None:
        try:
            outcome["folder"] = download_bundle(repo_id, revision)
        except BaseException as err:  # handed to the caller's thread below
            outcome["error"] = err

    worker = threading.Thread(target=download, name="hub-download", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise HubTimeoutError(
            f"the Hub could not be reached or did not send the files within {seconds:g} s (${DOWNLOAD_TIMEOUT_ENV})."
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["folder"]


def load_model_source(source: str | None = None, revision: str | None = None) -> LoadedBundle:
    """Resolve a model source to a loaded bundle, falling back to the shipped one on any failure.

    ``source`` is a local bundle folder or a Hub repo id; by default ``$MODEL_REPO`` (with
    ``$MODEL_REVISION``), else the bundle shipped in ``mnist_cnn/pretrained/``. When the Hub cannot
    be reached, the repo, revision or a file is missing, or the weights do not load, the shipped
    bundle is returned with ``fallback_reason`` saying why.
    """
    source = source or os.environ.get(MODEL_REPO_ENV) or str(SHIPPED_BUNDLE)
    revision = revision or os.environ.get(MODEL_REVISION_ENV) or None
    if Path(source).expanduser().is_dir():
        folder = Path(source).expanduser()
        if folder.resolve() == SHIPPED_BUNDLE:
            return load_bundle_folder(folder)
        try:
            return load_bundle_folder(folder)
        except BundleLoadError as err:
            return _fall_back(str(folder), str(err))
    label = f"{source}@{revision}" if revision else source
    try:
        folder = download_within(source, revision, download_timeout())
        bundle = load_bundle_folder(folder)
    except RepositoryNotFoundError:
        return _fall_back(label, f"the Hub repo '{source}' was not found (or is private).")
    except RevisionNotFoundError:
        return _fall_back(label, f"the revision '{revision}' does not exist in '{source}'.")
    except LocalEntryNotFoundError as err:
        return _fall_back(label, _unreachable_reason(err))
    except EntryNotFoundError as err:
        return _fall_back(label, f"the repo lacks a required file ({err.__class__.__name__}).")
    except HFValidationError as err:
        return _fall_back(label, f"'{source}' is neither a folder nor a valid Hub repo id ({err}).")
    except (BundleLoadError, HubTimeoutError) as err:
        return _fall_back(label, str(err))
    except (HfHubHTTPError, httpx2.HTTPError, OSError) as err:
        return _fall_back(label, f"the download failed ({type(err).__name__}: {str(err).splitlines()[0]}).")
    bundle.source, bundle.commit = label, folder.name
    log.info("Loaded %s (commit %s) from the Hub", label, bundle.commit)
    return bundle


def _unreachable_reason(err: LocalEntryNotFoundError) -> str:
    """huggingface_hub reports a Hub that answered with an error, and one it could not reach, the same way
    when nothing is cached; the cause tells them apart."""
    cause = err.__cause__ or err.__context__
    while cause is not None and not isinstance(cause, HfHubHTTPError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None and cause.response is not None:
        detail = (cause.server_message or "").strip().splitlines()
        said = f": {detail[0][:200]}" if detail else ""
        return f"the Hub answered {cause.response.status_code}{said}, and the files are not in the local cache."
    return "the Hub could not be reached and the files are not in the local cache."


def _fall_back(requested: str, reason: str) -> LoadedBundle:
    notice = f"Could not load {requested}: {reason} Using the model shipped with the app instead."
    log.warning("%s", notice)
    bundle = load_bundle_folder(SHIPPED_BUNDLE)
    bundle.fallback_reason = notice
    return bundle


def bundle_summary(bundle: LoadedBundle) -> dict[str, Any]:
    """A small JSON-friendly description of a loaded bundle (for logs, the CLI and the app)."""
    metrics = bundle.metrics or {}
    return {
        "source": bundle.source,
        "commit": bundle.commit,
        "fallback_reason": bundle.fallback_reason,
        "test_accuracy": metrics.get("test_accuracy"),
        "num_parameters": bundle.model.num_parameters,
    }
