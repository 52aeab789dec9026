"""Visitors' corrections on disk, in the layout the Hub's dataset viewer and ``datasets`` read, pushed to a
Hub dataset repo by ``huggingface_hub``'s ``CommitScheduler``.

    FEEDBACK_DIR/
      data/<date>-<uuid8>/      one folder per process: two replicas or a restart never write one file
        metadata.jsonl          a row per correction; ``file_name`` and ``mnist_file_name`` relative to it
        <id>.png                the drawing, at most 256 px, grayscale, no metadata
        <id>-28x28.png          the image the model saw
      .pushed.json              what has reached the Hub (never uploaded): a restart pushes only the rest

The first push also adds the dataset card (``card.py``) when the repo has no README.md.

Every write happens under one lock, which the scheduler takes while it lists what to push: the images
first, then the row, flushed to disk before the page is told "saved". A Hub that is down or refuses
leaves everything on disk; the next push (or the next start) sends it. The token is huggingface_hub's
own (``HF_TOKEN`` or the saved login): it is never read, logged or written here.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import CommitOperationAdd, CommitScheduler, constants, get_token
from huggingface_hub._commit_scheduler import PartialFileIO  # what CommitScheduler itself uploads appended files with
from huggingface_hub.errors import HfHubHTTPError
from PIL import Image

from mnist_cnn.bundle import SHIPPED_BUNDLE, WEIGHTS_FILE, LoadedBundle
from mnist_cnn.classes import CLASS_LABELS
from mnist_cnn.hub import repo_id_problem
from mnist_cnn.web.env import env_number

from .card import CARD_FILE, dataset_card

log = logging.getLogger(__name__)

LABELS = CLASS_LABELS  # the buttons, and the dataset's labels: one per output of the model
METADATA_FILE = "metadata.jsonl"
STATE_FILE = ".pushed.json"
DATA_FOLDER = "data"
DRAWING_SIDE = 256  # the drawing kept is reduced to at most this many pixels a side
SPACE_STORAGE = Path("/data")  # a Space's persistent storage, when it has some
APP_DATA = Path(__file__).resolve().parents[2] / "data"  # the app's own data folder (git-ignored)


def default_folder() -> Path:
    """A Space's persistent ``/data`` when it has one (a restart keeps what was not pushed), else the app's
    own data folder."""
    if SPACE_STORAGE.is_dir() and os.access(SPACE_STORAGE, os.W_OK):
        return SPACE_STORAGE / "feedback"
    return APP_DATA / "feedback"


@dataclass(frozen=True)
class FeedbackConfig:
    """Where corrections go; every field can be set by an environment variable."""

    folder: Path
    repo_id: str | None = None  # FEEDBACK_REPO: the dataset repo, used when a token can write to it
    private: bool = True  # FEEDBACK_PRIVATE=0 makes a new repo public
    every_minutes: float = 5.0  # FEEDBACK_EVERY_MINUTES between pushes
    flush_seconds: float = 20.0  # FEEDBACK_FLUSH_SECONDS: the last push at shutdown waits this long at most

    @classmethod
    def from_env(cls) -> FeedbackConfig:
        folder = os.environ.get("FEEDBACK_DIR", "").strip()
        return cls(
            folder=Path(folder).expanduser() if folder else default_folder(),
            repo_id=os.environ.get("FEEDBACK_REPO", "").strip() or None,
            private=os.environ.get("FEEDBACK_PRIVATE", "1").strip() != "0",
            every_minutes=max(env_number("FEEDBACK_EVERY_MINUTES", cls.every_minutes, float), 0.01),
            flush_seconds=max(env_number("FEEDBACK_FLUSH_SECONDS", cls.flush_seconds, float), 0.0),
        )


@dataclass(frozen=True)
class Correction:
    """One visitor's answer about one drawing, as it is saved."""

    label: str  # one of LABELS
    drawing: Image.Image  # the pad's image, as drawn
    model_input: np.ndarray  # the uint8 28x28 image the model saw
    reading: dict[str, Any]  # the model's answer: ``model_answer``, ``model_confidence``, ...


def drawing_png(drawing: Image.Image) -> bytes:
    """The drawing as the dataset keeps it: ink composited onto white, grayscale, at most 256 px a side,
    re-encoded as a PNG with nothing but its pixels (no text chunks, no EXIF)."""
    rgba = drawing.convert("RGBA")
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = Image.alpha_composite(paper, rgba).convert("L")
    gray.thumbnail((DRAWING_SIDE, DRAWING_SIDE), Image.Resampling.LANCZOS)
    return png_bytes(gray)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _write_synced(path: Path, data: bytes, mode: str = "wb") -> None:
    with path.open(mode) as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def repair_torn_rows(root: Path) -> None:
    """A process stopped in the middle of appending a row (power cut, kill -9) leaves a partial last line,
    which no JSON reader takes: cut it off, so the rows before it stay readable."""
    for metadata in root.glob(f"{DATA_FOLDER}/*/{METADATA_FILE}"):
        data = metadata.read_bytes()
        if data and not data.endswith(b"\n"):
            log.warning("Cutting a torn last row off %s", metadata)
            with metadata.open("r+b") as file:
                file.truncate(data.rfind(b"\n") + 1)


def model_fields(bundle: LoadedBundle) -> dict[str, Any]:
    """Which model read the drawing, for each row: its Hub repo, revision and commit (or the shipped
    bundle, or a folder's name: never a path on the server), and the SHA-256 of its weights."""
    if bundle.commit:
        source, _, revision = bundle.source.partition("@")
    else:
        shipped = Path(bundle.folder).resolve() == SHIPPED_BUNDLE
        source, revision = ("mnist_cnn/pretrained" if shipped else Path(bundle.folder).name), ""
    weights = Path(bundle.folder) / WEIGHTS_FILE
    # Strings, never null: every folder's rows then have one schema, whichever model wrote them.
    return {
        "model_source": source,
        "model_revision": revision,
        "model_commit": bundle.commit or "",
        "model_weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else "",
    }


# --- pushing ------------------------------------------------------------------------------------


def read_pushed(state_file: Path) -> dict[str, list[int]]:
    """What an earlier process pushed: ``{path in the folder: [size, mtime_ns]}`` (empty if unreadable)."""
    try:
        state = json.loads(state_file.read_text())
        return {str(k): [int(v[0]), int(v[1])] for k, v in state.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        log.warning("Ignoring an unreadable %s: everything in its folder is pushed again", state_file)
        return {}


class FeedbackScheduler(CommitScheduler):
    """A ``CommitScheduler`` (its documented extension point: ``push_to_hub``) that shares the writers' lock
    and remembers, across restarts, what it pushed.

    A file is pushed when its size or modification time differs from what was pushed: rows are appended,
    so the size changes even when two appends fall within the file system's timestamp granularity (the
    base class compares times only). What was pushed is written to ``.pushed.json``, so a restart pushes
    only what never reached the Hub.
    """

    def __init__(self, *, lock: threading.Lock, state_file: Path, **kwargs: Any):
        # Set before CommitScheduler.__init__, whose thread pushes at once.
        self.writers_lock = lock
        self.state_file = state_file
        self.pushed = read_pushed(state_file)
        self.has_card = False  # whether the repo is known to have a README.md (checked at the first push)
        super().__init__(**kwargs)
        self.lock = lock  # the scheduler's lock is the writers' lock

    def pending(self) -> list[tuple[str, Path, int, int]]:
        """``(path in the folder, path, size, mtime_ns)`` of every file under ``data/`` not pushed as it is
        now. Call under the lock: files are then complete (images) or end with a whole row (metadata)."""
        changed = []
        for path in sorted(self.folder_path.glob(f"{DATA_FOLDER}/*/*")):
            if not path.is_file():
                continue
            stat = path.stat()
            relative = path.relative_to(self.folder_path).as_posix()
            if self.pushed.get(relative) != [stat.st_size, stat.st_mtime_ns]:
                changed.append((relative, path, stat.st_size, stat.st_mtime_ns))
        return changed

    def push_to_hub(self) -> Any:
        with self.writers_lock:
            changed = self.pending()
        if not changed:
            return None
        rows = sum(1 for relative, *_ in changed if relative.endswith(METADATA_FILE))
        operations = [
            # Rows are capped at the size listed under the lock: one appended meanwhile goes with the next
            # push. Images never change once written: they go by path, not as open files (a backlog of
            # thousands would otherwise hold as many file descriptors).
            CommitOperationAdd(
                path_in_repo=relative,
                path_or_fileobj=PartialFileIO(path, size_limit=size) if relative.endswith(METADATA_FILE) else path,
            )
            for relative, path, size, _ in changed
        ]
        card = self.missing_card()
        if card is not None:
            operations.append(card)
        info = self.api.create_commit(
            repo_id=self.repo_id,
            repo_type=self.repo_type,
            operations=operations,
            commit_message=f"Visitors' corrections ({len(changed)} files)",
            revision=self.revision,
        )
        self.has_card = True
        with self.writers_lock:
            self.pushed.update({relative: [size, mtime] for relative, _, size, mtime in changed})
            partial = self.state_file.with_suffix(".tmp")
            partial.write_text(json.dumps(self.pushed))
            partial.replace(self.state_file)
        log.info("Pushed %d files (%d metadata files) to the dataset %s", len(changed), rows, self.repo_id)
        return info

    def missing_card(self) -> CommitOperationAdd | None:
        """The dataset card, for a repo that has none yet; None once the repo has one (its owner's stays)."""
        if self.has_card:
            return None
        if self.api.file_exists(self.repo_id, CARD_FILE, repo_type=self.repo_type, revision=self.revision):
            self.has_card = True
            return None
        return CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(dataset_card(self.repo_id)).encode())


# --- the store ----------------------------------------------------------------------------------


class FeedbackStore:
    """Writes corrections into this process's folder and, when a dataset repo and a token are set, pushes
    them with a ``FeedbackScheduler`` (started in the background: a Hub that is down at start is tried
    again until it answers)."""

    def __init__(self, config: FeedbackConfig, model: dict[str, Any]):
        self.config = config
        self.model = model  # model_source, model_revision, model_commit, model_weights_sha256
        self.lock = threading.Lock()
        self.scheduler: FeedbackScheduler | None = None
        self.closed = threading.Event()
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        self.folder = config.folder / DATA_FOLDER / f"{stamp}-{uuid.uuid4().hex[:8]}"
        self.writable = self._prepare_folder()
        self.problem = self._repo_problem()
        if self.pushes:
            threading.Thread(target=self._connect, name="feedback-connect", daemon=True).start()
        elif self.writable:
            log.info("Corrections are kept in %s%s", config.folder, f" ({self.problem})" if self.problem else "")

    def _prepare_folder(self) -> bool:
        """Make the folder and mend what a crash left in it; False (the app still starts, and says that
        corrections cannot be saved) when it cannot be written."""
        try:
            self.config.folder.mkdir(parents=True, exist_ok=True)
            repair_torn_rows(self.config.folder)
            if not os.access(self.config.folder, os.W_OK | os.X_OK):
                raise PermissionError("not writable")
        except OSError as err:
            log.error("FEEDBACK_DIR %s cannot be written (%s): corrections cannot be saved", self.config.folder, err)
            return False
        return True

    @property
    def pushes(self) -> bool:
        """Whether corrections go to a dataset repo (else they stay on this server, if anywhere)."""
        return self.writable and self.config.repo_id is not None and self.problem is None

    def destination_html(self) -> str:
        """Where corrections go, said on the page before anyone clicks (the end of the consent line)."""
        if not self.writable:
            return "(Not now: this server cannot store corrections at the moment.)"
        if not self.pushes:
            return "It is kept on this server only."
        repo = html.escape(self.config.repo_id or "")
        if self.config.private:
            return "It is kept on this server and added to a private Hugging Face dataset, to train the model."
        url = f"{constants.ENDPOINT}/datasets/{repo}"
        return (
            f'It is kept on this server and added to the public dataset <a href="{url}" target="_blank" '
            f'rel="noopener">{repo}</a> on the Hugging Face Hub, to train the model.'
        )

    def _repo_problem(self) -> str | None:
        repo_id = self.config.repo_id
        if repo_id is None:
            return None
        if problem := repo_id_problem(repo_id):
            log.warning(
                "FEEDBACK_REPO=%r is not a dataset repo id (%s): corrections stay on this server", repo_id, problem
            )
            return "FEEDBACK_REPO is not a valid repo id"
        if get_token() is None:
            log.warning("FEEDBACK_REPO is set but no token is (HF_TOKEN): corrections stay on this server")
            return "no token to push with"
        return None

    def _connect(self) -> None:
        """Create the scheduler (it creates the repo, then pushes at once and every few minutes); while the
        Hub is unreachable or refuses, try again, waiting longer each time up to the push interval."""
        interval = max(1.0, 60 * self.config.every_minutes)
        wait = min(5.0, interval)
        while not self.closed.is_set():
            try:
                scheduler = FeedbackScheduler(
                    lock=self.lock,
                    state_file=self.config.folder / STATE_FILE,
                    repo_id=self.config.repo_id,
                    repo_type="dataset",
                    folder_path=self.config.folder,
                    every=self.config.every_minutes,
                    private=self.config.private,
                )
            except Exception as err:  # the Hub is down, refuses the token, or the repo belongs to someone else
                log.warning(
                    "Could not reach the dataset %s (%s); corrections stay in %s and are pushed once it answers",
                    self.config.repo_id,
                    describe_error(err),
                    self.config.folder,
                )
                self.closed.wait(wait)
                wait = min(2 * wait, interval)
                continue
            if self.closed.is_set():  # closed meanwhile: stop it; what is on disk goes with the next start's push
                scheduler.stop()
            self.scheduler = scheduler
            log.info("Corrections are pushed to the dataset %s every %g minutes", scheduler.repo_id, scheduler.every)
            return

    def save(self, correction: Correction) -> str:
        """Write the correction's images, then its row, under the lock, and flush them to disk; its id."""
        if correction.label not in LABELS:
            raise ValueError(f"not a label: {correction.label!r}")
        name = uuid.uuid4().hex[:16]
        drawing, model_input = f"{name}.png", f"{name}-28x28.png"
        row = {
            "file_name": drawing,
            "mnist_file_name": model_input,
            "label": correction.label,
            **correction.reading,
            **self.model,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        drawing_bytes = drawing_png(correction.drawing)
        input_bytes = png_bytes(Image.fromarray(correction.model_input.astype(np.uint8), mode="L"))
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
        with self.lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_synced(self.folder / drawing, drawing_bytes)
            _write_synced(self.folder / model_input, input_bytes)
            _write_synced(self.folder / METADATA_FILE, line, mode="ab")
        return name

    def close(self, timeout: float) -> bool:
        """Push what is pending, waiting ``timeout`` seconds at most, and stop pushing. True when nothing is
        left to push (or nothing is pushed at all); what is left stays on disk for the next start."""
        self.closed.set()
        scheduler = self.scheduler
        if scheduler is None:
            if self.pushes:
                log.warning("%s was never reached: corrections stay in %s", self.config.repo_id, self.folder)
            return not self.pushes
        try:
            scheduler.trigger().result(timeout=timeout)
            done = True
        except FutureTimeout:
            log.warning("The last push did not finish within %g s: what is left is pushed at the next start", timeout)
            done = False
        except Exception as err:
            log.warning("The last push failed (%s): what is left is pushed at the next start", describe_error(err))
            done = False
        scheduler.stop()
        return done


def describe_error(err: BaseException) -> str:
    """An error in a few words, without anything a request carried (no headers, no token)."""
    if isinstance(err, HfHubHTTPError) and err.response is not None:
        return f"the Hub answered {err.response.status_code}"
    return type(err).__name__
