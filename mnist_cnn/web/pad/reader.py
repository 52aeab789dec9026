"""The pad's in-browser reader, server side: the files the browser loads, and the settings it reads with.

While the pen moves, the visitor's browser reads the drawing itself: the ES modules of ``browser/``
(``reader.mjs`` loads the runtime and reads; ``preprocess.mjs``, ``parts.mjs`` and ``answer.mjs`` mirror
``mnist_cnn.reading``'s sketch, number and predict) and the bundle's ``model.onnx`` through onnxruntime-web.
The app serves those files on fixed routes under ``/pad-reader/``: a request names one of them, never a
path on the server. The modules share one folder in the URL, named by a hash of all of them, so that their
relative imports resolve and a browser never mixes an old module with a new one.
The runtime is what ``scripts/web_runtime.sh`` put in ``runtime/`` (git-ignored). Without the runtime or
without ``model.onnx`` there is no reader, and the pad sends its frames to the server as before.

The network view (``mnist_cnn.web.network``) shows every stage of the same run: ``model.onnx`` gives them
as outputs (exported with them when the app starts, for a bundle written before), and the bundle's dataset
examples are served here too, fetched only when a map is opened.

"Why this digit" runs in the browser too: the bundle's ``explain.onnx`` (``mnist_cnn.reading.explain_graph``;
exported when the app starts for a bundle written before bundles held it) in a Web Worker
(``explainer.mjs``, ``explain_worker.mjs``), drawn by ``explain.mjs``. Without it the server explains.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from mnist_cnn.bundle import EXAMPLES_IMAGE_FILE, EXAMPLES_JSON_FILE, SAMPLES_FILE, LoadedBundle, load_sample_pack
from mnist_cnn.classes import NOT_A_DIGIT_LABEL, class_layout
from mnist_cnn.reading import explain, number, sketch
from mnist_cnn.reading.explain_graph import EXPLAIN_ONNX_FILE, ExplainGraphError, exported_graph_copy, quadrature
from mnist_cnn.reading.layers import stage_names, stage_shapes
from mnist_cnn.reading.predict import EMPTY_MESSAGE, UNSURE_MESSAGE, Predictor

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
RUNTIME_DIR = HERE / "runtime"  # filled by scripts/web_runtime.sh
RUNTIME_DIR_ENV = "PAD_RUNTIME_DIR"
MODULES_DIR = HERE / "browser"  # the reader's ES modules, served as they are
MODULE_NAMES = tuple(sorted(path.name for path in MODULES_DIR.glob("*.mjs")))
ROUTE_PREFIX = "/pad-reader"
RUNTIME_MODULE = "ort.wasm.bundle.min.mjs"  # onnxruntime-web's WebAssembly build, its .mjs loader bundled in
RUNTIME_WASM = "ort-wasm-simd-threaded.wasm"
MODEL_NAME = "model.onnx"
JAVASCRIPT = "text/javascript"
NUMBER_PENDING_MESSAGE = "Several digits: the number is read when you lift the pen"
EXPLAIN_NUMBER_MESSAGE = "Explanations are for one digit: draw a single digit to see why it reads as it does."
GRAPH_CHECK_IMAGES = 4  # test samples an exported explain.onnx is checked on against captum at start


@dataclass(frozen=True)
class ServedFile:
    """One file the browser may fetch: its route's name, where it is, its type and how long it keeps."""

    name: str
    path: Path
    media_type: str
    cache_control: str

    @property
    def version(self) -> str:
        """A short hash of the content: in the URL, so a browser never keeps a stale copy."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]

    @property
    def url(self) -> str:
        """The URL relative to the app's root."""
        return f"{ROUTE_PREFIX.lstrip('/')}/{self.name}?v={self.version}"


def modules_folder() -> str:
    """The reader's modules' folder in the URL: a hash of every module, so a change to any gives new URLs."""
    digest = hashlib.sha256()
    for name in MODULE_NAMES:
        digest.update(name.encode() + b"\0" + (MODULES_DIR / name).read_bytes())
    return f"js-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class ReaderSettings:
    """What ``reader.mjs`` is given: where its files are, the calibration and answer rule, the wording, and
    the preprocessing and number-splitting constants (so that there is one copy of each, here)."""

    module: str  # reader.mjs, which imports the other modules from its own folder
    runtime: str
    wasm: str
    model: str
    temperature: float
    rule: dict[str, float]
    messages: dict[str, str]
    sketch: dict[str, float]
    number: dict[str, float]
    classes: dict[str, Any]  # the model's outputs: mnist_cnn.classes
    explain: dict[str, Any] | None  # the explanation's worker, graph, quadrature and overlay (None: the server's)
    stages: list[str]  # the inner stages model.onnx gives, for the network view (none: the server sends them)


class PadReader:
    """The in-browser reader for one bundle: its routes, and its settings for the page (None when the
    runtime files or the bundle's ``model.onnx`` are missing: the pad then reads on the server)."""

    @classmethod
    def from_bundle(cls, bundle: LoadedBundle) -> PadReader:
        """The bundle's model.onnx with its calibration; the runtime from ``$PAD_RUNTIME_DIR`` if set (a
        Space that keeps it elsewhere), else ``runtime/`` beside this module."""
        runtime_dir = Path(os.environ.get(RUNTIME_DIR_ENV) or RUNTIME_DIR)
        explain_file = bundle.explain_onnx_file
        if explain_file is None and bundle.onnx_file is not None:
            explain_file = graph_for_older_bundle(bundle)
        model_file = bundle.onnx_file
        if model_file is not None and not set(stage_names(bundle.model)) <= set(onnx_outputs(model_file)):
            model_file = stages_for_older_bundle(bundle) or model_file
        examples = [bundle.folder / name for name in (EXAMPLES_JSON_FILE, EXAMPLES_IMAGE_FILE)]
        examples_files = tuple(examples) if all(path.is_file() for path in examples) else None
        return cls(model_file, Predictor.from_bundle(bundle), runtime_dir, explain_file, examples_files)

    def __init__(
        self,
        model_file: Path | None,
        predictor: Predictor,
        runtime_dir: Path = RUNTIME_DIR,
        explain_file: Path | None = None,
        examples_files: tuple[Path, Path] | None = None,
    ):
        year = "public, max-age=31536000, immutable"  # the URL changes with the content
        folder = modules_folder()  # hashed once: the modules do not change while the app runs
        self.modules_url = f"{ROUTE_PREFIX.lstrip('/')}/{folder}"
        self.reader_module = f"{self.modules_url}/reader.mjs"
        self.files = {
            **{
                f"{folder}/{name}": ServedFile(f"{folder}/{name}", MODULES_DIR / name, JAVASCRIPT, year)
                for name in MODULE_NAMES
            },
            RUNTIME_MODULE: ServedFile(RUNTIME_MODULE, runtime_dir / RUNTIME_MODULE, JAVASCRIPT, year),
            RUNTIME_WASM: ServedFile(RUNTIME_WASM, runtime_dir / RUNTIME_WASM, "application/wasm", year),
        }
        binary = "application/octet-stream"
        if model_file is not None:
            self.files[MODEL_NAME] = ServedFile(MODEL_NAME, model_file, binary, year)
        if explain_file is not None:
            self.files[EXPLAIN_ONNX_FILE] = ServedFile(EXPLAIN_ONNX_FILE, explain_file, binary, year)
        if examples_files is not None:
            json_file, image_file = examples_files
            self.files[EXAMPLES_JSON_FILE] = ServedFile(EXAMPLES_JSON_FILE, json_file, "application/json", year)
            self.files[EXAMPLES_IMAGE_FILE] = ServedFile(EXAMPLES_IMAGE_FILE, image_file, "image/png", year)
        self.model_stages = [] if model_file is None else onnx_outputs(model_file)
        self.predictor = predictor
        self.missing = [] if model_file is not None else [f"the bundle's {MODEL_NAME}"]
        self.missing += [name for name, served in self.files.items() if not served.path.is_file()]
        if self.missing:
            log.warning("The pad reads on the server: %s missing (see scripts/web_runtime.sh)", ", ".join(self.missing))

    @property
    def available(self) -> bool:
        return not self.missing

    def settings(self) -> dict[str, Any] | None:
        """The reader's settings as the page gets them, or None when it cannot run in the browser."""
        if not self.available:
            return None
        explain_file = self.files.get(EXPLAIN_ONNX_FILE)
        return asdict(
            ReaderSettings(
                module=self.reader_module,
                runtime=self.files[RUNTIME_MODULE].url,
                wasm=self.files[RUNTIME_WASM].url,
                model=self.files[MODEL_NAME].url,
                **reading_settings(self.predictor),
                explain=None if explain_file is None else explain_settings(self.modules_url, explain_file.url),
                stages=[name for name in stage_names(self.predictor.model) if name in self.model_stages],
            )
        )

    def network_settings(self) -> dict[str, Any]:
        """The network view's settings: its module, every stage's shape, the outputs' labels and the dataset
        examples' files (None when the bundle has none). The view is there whichever engine reads."""
        examples = self.files.get(EXAMPLES_JSON_FILE), self.files.get(EXAMPLES_IMAGE_FILE)
        return {
            "module": f"{self.modules_url}/network_view.mjs",
            "shapes": stage_shapes(self.predictor.model),
            "labels": class_layout()["labels"],
            "examples": None if None in examples else {"data": examples[0].url, "image": examples[1].url},
        }

    def routes(self) -> list[BaseRoute]:
        """One GET route per file (HEAD too), answering 404 when the file is not there."""
        return [
            Route(f"{ROUTE_PREFIX}/{name}", self._endpoint(served), methods=["GET", "HEAD"])
            for name, served in self.files.items()
        ]

    @staticmethod
    def _endpoint(served: ServedFile):
        async def send(request: Request) -> Response:
            if not served.path.is_file():
                return PlainTextResponse(f"{served.name} is not installed on this server.", status_code=404)
            # Public files, fetched from pages on other origins when the app is embedded. The answer
            # varies with the Origin too (Gradio's CORS middleware names it): a copy cached for the app's
            # own page must not be reused for a blog's.
            headers = {
                "Cache-Control": served.cache_control,
                "Access-Control-Allow-Origin": "*",
                "Vary": "Accept-Encoding, Origin",
            }
            gzipped = served.path.with_name(served.path.name + ".gz")
            if gzipped.is_file() and "gzip" in request.headers.get("accept-encoding", ""):
                # the runtime's .wasm is 14 MB, 3.7 MB gzipped: compressed once by web_runtime.sh
                headers["Content-Encoding"] = "gzip"
                return Response(file_bytes(gzipped), media_type=served.media_type, headers=headers)
            return Response(file_bytes(served.path), media_type=served.media_type, headers=headers)

        return send


def file_bytes(path: Path) -> bytes:
    """A served file's bytes, read once while it stays the same file (its modification time and size key the
    cache). Sent in one write: streamed from disk in 64 KB chunks (FileResponse), each a hop to a worker
    thread, a first visit's files cost the server's one event loop ten times the CPU (27 ms against 2.5 ms),
    and under load the loop is what runs out first."""
    stat = path.stat()
    return _file_bytes(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _file_bytes(path: Path, mtime_ns: int, size: int) -> bytes:
    return path.read_bytes()


def reading_settings(predictor: Predictor) -> dict[str, Any]:
    """How the browser reads, as the server does: the calibration and answer rule, the wording, the
    preprocessing and number-splitting constants and the class layout (one copy of each, in Python)."""
    return dict(
        temperature=predictor.temperature,
        rule=asdict(predictor.rule),
        messages={
            "empty": EMPTY_MESSAGE,
            "unsure": UNSURE_MESSAGE,
            "not_a_digit": NOT_A_DIGIT_LABEL,
            "number_pending": NUMBER_PENDING_MESSAGE,
            "explain_number": EXPLAIN_NUMBER_MESSAGE,
            "why": explain.WHY_TEXT,
            "why_not": explain.WHY_NOT_TEXT,
        },
        sketch={
            "field": sketch.FIELD,
            "box": sketch.BOX,
            "center": sketch.CENTER,
            "min_contrast": sketch.MIN_CONTRAST,
            "noise_floor": sketch.NOISE_FLOOR,
        },
        number={
            "merge_overlap": number.MERGE_OVERLAP,
            "fragment": number.FRAGMENT,
            "speck": number.SPECK,
            "wide": number.WIDE,
            "two_wide": number.TWO_WIDE,
            "digit_wide": number.DIGIT_WIDE,
            "cut_tries": number.CUT_TRIES,
            "join_gap": number.JOIN_GAP,
            "join_sure": number.JOIN_SURE,
            "max_digits": number.MAX_DIGITS,
        },
        classes=class_layout(),
    )


def explain_settings(modules_url: str, graph_url: str) -> dict[str, Any]:
    """How the browser explains, as ``explain.py`` does: the worker's modules, the graph, captum's quadrature
    and the overlay's constants (one copy of each, in Python)."""
    alphas, weights = quadrature()
    return {
        "module": f"{modules_url}/explainer.mjs",
        "worker": f"{modules_url}/explain_worker.mjs",
        "model": graph_url,
        "alphas": alphas.tolist(),
        "weights": weights.tolist(),
        "scale": explain.SCALE,
        "ink_grey": explain.INK_GREY,
        "ink_opacity": explain.INK_OPACITY,
        "blur_sigma": explain.BLUR_SIGMA,
        "strength_percentile": explain.STRENGTH_PERCENTILE,
        "for_rgb": explain.FOR_RGB.tolist(),
        "against_rgb": explain.AGAINST_RGB.tolist(),
    }


def onnx_outputs(path: Path) -> list[str]:
    """The names of an ONNX file's outputs (none when it cannot be read: the reader then fails to load, and
    the pad reads on the server). Parsed once while it stays the same file: the app's start asks twice."""
    stat = path.stat()
    return list(_onnx_outputs(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _onnx_outputs(path: Path, mtime_ns: int, size: int) -> tuple[str, ...]:
    import onnx  # here: only the app's start needs it

    try:
        return tuple(output.name for output in onnx.load(str(path), load_external_data=False).graph.output)
    except Exception as err:  # protobuf's DecodeError and onnx's own errors: a corrupt file is a message
        log.warning("%s could not be read (%s)", path, err)
        return ()


def stages_for_older_bundle(bundle: LoadedBundle) -> Path | None:
    """A bundle written before ``model.onnx`` gave the network's stages: export it again with them, into a
    temporary folder (the bundle is left as it is), checked against the weights. None when that fails: the
    old file is used, and the network view stays empty while the browser reads (the reader still answers)."""
    from mnist_cnn.learning.onnx_export import OnnxCheckError, exported_copy  # the exporter and its check

    log.info("%s's %s has no stages for the network view: exporting it again", bundle.source, MODEL_NAME)
    try:
        return exported_copy(bundle.folder)
    except (OnnxCheckError, OSError, ValueError, RuntimeError) as err:
        log.warning("The network view has no stages to show: exporting %s failed (%s)", MODEL_NAME, err)
        return None


def graph_for_older_bundle(bundle: LoadedBundle) -> Path | None:
    """A bundle written before bundles held ``explain.onnx``: export it now, from the weights, into a
    temporary folder (the bundle is left as it is), checked against captum on a few test samples. None (the
    server explains) when that fails."""
    log.info("%s has no %s: exporting it from the weights", bundle.source, EXPLAIN_ONNX_FILE)
    try:
        samples = bundle.samples or load_sample_pack(bundle.folder / SAMPLES_FILE)
        fields = samples["images"][:GRAPH_CHECK_IMAGES].numpy().astype("float32") / 255
        return exported_graph_copy(bundle.model, fields)
    except (ExplainGraphError, OSError, ValueError, RuntimeError, KeyError) as err:
        log.warning("The server explains: exporting %s failed (%s)", EXPLAIN_ONNX_FILE, err)
        return None
