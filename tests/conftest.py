from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Debian's Chromium, headless, on a machine with no network beyond loopback: nothing in the background.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    """Write a uint8 array in MNIST's IDX format (big-endian header, magic 0x0000080N)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tiny learnable images: a bright bar whose position encodes the label, plus noise."""
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[4 + 2 * label : 6 + 2 * label, 4:24] = 255
    return images, labels


def make_mnist_folder(folder: Path, n_train: int = 600, n_test: int = 200, compress: bool = True, seed: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = synthetic_digits(n, rng)
        write_idx(folder / f"{split}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels, compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture
def mnist_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mnist-src"
    make_mnist_folder(folder)
    return folder


def shared_mnist_dir() -> Path | None:
    """The real MNIST files: $MNIST_DATA_DIR when set (it must then exist), else ../shared/data/mnist."""
    value = os.environ.get("MNIST_DATA_DIR")
    if value:
        return Path(value)
    default = ROOT.parent / "shared" / "data" / "mnist"
    return default if default.is_dir() else None


def pytest_addoption(parser):
    parser.addoption(
        "--without-mnist",
        action="store_true",
        help="skip the tests that need the real MNIST files instead of failing them (not for CI)",
    )


@pytest.fixture(scope="session")
def real_mnist(request, tmp_path_factory):
    """The full, real MNIST set, unpacked once per test session. Missing files fail the test with a message
    saying where to put them, unless the run opts out with --without-mnist."""
    from mnist_cnn.learning.data import load_mnist

    source = shared_mnist_dir()
    if source is None or not source.is_dir():
        where = f"MNIST_DATA_DIR={source} does not exist" if source else "no MNIST files found"
        message = (
            f"{where}: put the four MNIST files (train/t10k images and labels, .gz) in ../shared/data/mnist "
            "beside the repository or set MNIST_DATA_DIR to their folder; to skip these tests on purpose, "
            "run with --without-mnist"
        )
        if request.config.getoption("--without-mnist"):
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    return load_mnist(tmp_path_factory.mktemp("mnist-root"), source)


def pen_dev_dir() -> Path:
    """Real handwriting that is not MNIST: $PEN_DEV_DIR when set, else ../shared/data/pen-dev."""
    return Path(os.environ.get("PEN_DEV_DIR") or ROOT.parent / "shared" / "data" / "pen-dev")


def scan_dev_dir() -> Path:
    """USPS scans drawn as canvases (``usps_digits/``): $SCAN_DEV_DIR when set, else ../shared/data/scan-dev."""
    return Path(os.environ.get("SCAN_DEV_DIR") or ROOT.parent / "shared" / "data" / "scan-dev")


def handwriting_train_dir() -> Path:
    """Real handwriting that training may use: $HANDWRITING_TRAIN_DIR when set, else
    ../shared/data/handwriting-train; a test that needs it fails without it."""
    folder = Path(os.environ.get("HANDWRITING_TRAIN_DIR") or ROOT.parent / "shared" / "data" / "handwriting-train")
    assert folder.is_dir(), f"the real handwriting folder is missing at {folder}: put ../shared beside the repository"
    return folder


def free_port() -> int:
    """A port free a moment ago; another process may take it before it is used (RunningApp retries)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_port_url():
    """A loopback URL where connections are refused for the whole test: the port is bound by this socket,
    which never listens, so no other process can take it meanwhile."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class RunningApp:
    """``python app.py`` (or another Gradio script taking ``--port``) in a subprocess, until stopped."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        script: str = "app.py",
        args: tuple[str, ...] = (),
    ):
        # Visitors' corrections in a folder of their own (removed at stop), never in the repository's data/,
        # unless the test names one.
        self.own_feedback_dir = None if "FEEDBACK_DIR" in (env or {}) else tempfile.mkdtemp(prefix="feedback-")
        if self.own_feedback_dir:
            env = {**(env or {}), "FEEDBACK_DIR": self.own_feedback_dir}
        # The port is picked free, but another process may take it before the app binds it: then try another.
        for attempt in range(3):
            if self._start(env, timeout, script, args) or attempt == 2:
                return

    def _start(self, env: dict[str, str] | None, timeout: float, script: str, args: tuple[str, ...]) -> bool:
        import subprocess
        import threading

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        base = {k: v for k, v in os.environ.items() if k not in ("MODEL_REPO", "MODEL_REVISION", "FEEDBACK_REPO")}
        self.process = subprocess.Popen(
            [sys.executable, script, "--port", str(self.port), *args],
            cwd=ROOT,
            env={**base, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        # The deadline holds even if the app hangs silently: the timer ends the process and the loop below.
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                self.output.append(line)
                if "Running on local URL" in line:
                    break
        finally:
            timer.cancel()
        if not any("Running on local URL" in line for line in self.output):
            self.stop()
            text = "".join(self.output)
            if "Cannot find empty port" in text or "address already in use" in text.lower():
                return False
            raise RuntimeError(f"{script} did not start within {timeout:.0f} s:\n" + text)
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()
        return True

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:
            self.process.kill()
        if self.own_feedback_dir:
            shutil.rmtree(self.own_feedback_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app_server():
    """The app on the shipped model, offline."""
    app = RunningApp({"HF_HUB_OFFLINE": "1"})
    yield app
    app.stop()


def component_event(base_url: str, elem_id: str, event: str = "submit") -> tuple[int, int]:
    """(fn_index, component id) of the ``event`` of the component with ``elem_id``, read from a running
    app's config."""
    import httpx

    config = httpx.get(f"{base_url}config", timeout=30).json()
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    fn_index = next(d["id"] for d in config["dependencies"] if [component, event] in d["targets"])
    return fn_index, component


def pad_event(base_url: str) -> tuple[int, int]:
    """(fn_index, component id) of the drawing pad's submit event (a frame for the server to read)."""
    return component_event(base_url, "drawing-pad")


def queue_join_body(data: list, fn_index: int, trigger_id: int, session: str) -> dict:
    """The body of ``POST /gradio_api/queue/join`` for one event, as the page sends it."""
    return {"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": trigger_id, "event_data": None}


def pad_frame_body(frame, fn_index: int, pad_id: int, session: str) -> dict:
    """The body of ``POST /gradio_api/queue/join`` for one pad frame."""
    return queue_join_body([frame], fn_index, pad_id, session)


def top_label(outputs) -> str | None:
    """The top class of an answer: ``predict``'s outputs (gradio_client's tuple or the raw JSON list, whose
    first item is the label) or a live pad answer (a dict with a "label"); None when there is none."""
    try:
        label = outputs.get("label") if isinstance(outputs, dict) else outputs[0]
        return label.get("label") if isinstance(label, dict) else None
    except (TypeError, KeyError, IndexError):
        return None


def draw_digit(digit: int, size: int = 400, transparent: bool = True, width: int = 26):
    """A canvas-style drawing (black strokes, transparent or white background) of 0, 1, 4 or 7."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    s = size / 400
    ink = (0, 0, 0, 255)
    for stroke in DIGIT_STROKES[digit]:
        draw.line([(x * s, y * s) for x, y in stroke], fill=ink, width=int(width * s), joint="curve")
    return image


# Mouse strokes on a 400x400 canvas, shared by the API and browser tests.
DIGIT_STROKES = {
    1: [[(200, 70), (200, 330)]],
    7: [[(120, 90), (280, 90), (190, 330)]],
    4: [[(230, 70), (130, 230), (290, 230)], [(240, 150), (240, 330)]],
    0: [[(200, 70), (140, 110), (120, 200), (140, 290), (200, 330), (260, 290), (280, 200), (260, 110), (200, 70)]],
}


def draw_number(digits: list[int], gap: int = 30, width: int = 14):
    """Several digits side by side on a transparent canvas: ``draw_digit``'s strokes at half size (about
    85x130 pixels each), ``gap`` pixels apart (negative: pushed into each other)."""
    from PIL import Image, ImageDraw

    scale, cell = 0.5, 90
    image = Image.new("RGBA", (60 + len(digits) * (cell + max(gap, 0)), 220), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for k, digit in enumerate(digits):
        left = 30 + k * (cell + gap)
        for stroke in DIGIT_STROKES[digit]:
            points = [(left + (x - 115) * scale, 40 + (y - 70) * scale) for x, y in stroke]
            draw.line(points, fill=(0, 0, 0, 255), width=width, joint="curve")
    return image


def photo_of(drawing, seed: int = 0):
    """A phone-photo-like RGB picture of a drawing's ink on paper: uneven light, a warm tint, sensor noise,
    a little blur, three times the drawing's size."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    ink = np.asarray(drawing.convert("RGBA").getchannel("A"), dtype=np.float32) / 255
    h, w = ink.shape
    light = 200 + 30 * np.linspace(0, 1, w)[None, :] - 20 * np.linspace(0, 1, h)[:, None]
    paper = light * (1 - 0.8 * ink) + rng.normal(0, 4, size=(h, w))
    rgb = np.stack([paper, paper * 0.97, paper * 0.9], axis=2).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.2)).resize((3 * w, 3 * h), Image.Resampling.BICUBIC)


# The browser tests' fixtures (test_browser.py, test_network_view_browser.py): Debian's Chromium, the app
# in a page, where screenshots go, and a blog-like page embedding the app.


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is required: scripts/test.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_app(browser, url: str, **context_options) -> Page:
    page = browser.new_context(**({"viewport": {"width": 1280, "height": 900}} | context_options)).new_page()
    page.goto(url)
    page.wait_for_selector("#drawing-pad canvas", timeout=60_000)
    # Gradio mounts each kind of component once its code has loaded: under load the 28x28 view (a gr.Image)
    # can come after the pad, and tests that watch it need it there.
    page.wait_for_selector("#model-input", state="attached", timeout=60_000)
    return page


def page_without_webassembly(browser, url: str) -> Page:
    """The app in a browser without WebAssembly (the in-browser reader cannot run): a page still loading."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script("delete window.WebAssembly")
    page = context.new_page()
    page.goto(url)
    return page


@pytest.fixture
def page(browser, app_server):
    page = open_app(browser, app_server.url)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: $SCREENSHOT_DIR (the README's come from there), else a temporary folder."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def frontend_bundle() -> str:
    """The hashed file name of Gradio's frontend entry, as the package's gradio.js imports it."""
    import gradio

    text = (Path(gradio.__file__).parent / "templates" / "frontend" / "gradio.js").read_text()
    return text.split('"./')[1].split('"')[0]


@pytest.fixture
def embedding_page(app_server, tmp_path):
    """A blog-like page on another local origin with the app twice: a <gradio-app> element and an iframe."""
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>A blog post</title>
<script type="module" src="{app_server.url}{frontend_bundle()}"></script></head>
<body><h1>A blog post with a digit demo</h1><p>Draw in either.</p>
<gradio-app src="{app_server.url}"></gradio-app>
<iframe id="embedded" src="{app_server.url}" width="100%" height="900" style="border: 0"></iframe>
</body></html>"""
    (tmp_path / "index.html").write_text(html)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: the kernel picks a free one
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
