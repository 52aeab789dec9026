"""What a public link meets: oversized uploads, image bombs and odd formats, a growing cache, a full
queue, fuzzed payloads, a broken bundle or a slow Hub. Raw HTTP against the real server throughout."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps
from test_api_security import FILE_META, call_predict, events

from conftest import RunningApp, draw_digit, pad_event, top_label
from mnist_cnn.bundle import SHIPPED_BUNDLE


def upload_bytes(base: str, data: bytes, name: str = "digit.png") -> dict | str:
    """Upload raw bytes under a file name: the FileData to call with, or the refusal's text."""
    response = httpx.post(f"{base}gradio_api/upload", files={"files": (name, data, "image/png")}, timeout=60)
    if response.status_code != 200:
        return f"{response.status_code} {response.text}"
    [path] = response.json()
    return {"path": path, "orig_name": name, "meta": FILE_META}


def predict_bytes(base: str, data: bytes, name: str = "digit.png") -> tuple[str, object]:
    file_data = upload_bytes(base, data, name)
    return ("rejected", file_data) if isinstance(file_data, str) else call_predict(base, file_data)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def still_serving(base: str) -> None:
    kind, outputs = predict_bytes(base, encode(draw_digit(7)))
    assert kind == "complete" and top_label(outputs) == "7", (kind, outputs)


# --- upload and image limits -----------------------------------------------------------------------


def test_uploads_over_the_size_limit_are_refused(app_server):
    config = httpx.get(f"{app_server.url}config", timeout=30).json()
    assert config["max_file_size"] == 8 * 2**20
    started = time.monotonic()
    refused = upload_bytes(app_server.url, b"\0" * (12 * 2**20), "big.png")
    assert isinstance(refused, str) and refused.startswith("413")
    assert "File size exceeded maximum allowed size" in refused
    assert time.monotonic() - started < 10
    still_serving(app_server.url)


def image_cases() -> dict[str, tuple[bytes, str, str]]:
    """name -> (file bytes, file name, what must happen: a digit, or words of the message)."""
    seven = draw_digit(7, transparent=False)
    truncated = encode(seven)[:1500]
    bomb = encode(Image.new("1", (30_000, 30_000), 1), optimize=True)  # ~1 MB file, 900 megapixels decoded
    sixteen = np.asarray(seven.convert("L"), dtype=np.uint16) * 257
    cmyk = encode(seven.convert("CMYK"), "JPEG", quality=90)
    palette = draw_digit(4).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)  # index 0: transparent
    palette_png = encode(palette, transparency=int(np.asarray(palette)[0, 0]))
    frames = [draw_digit(1, transparent=False).convert("P"), draw_digit(7, transparent=False).convert("P")]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    # A phone photo stored sideways with an EXIF "rotate 90" tag: read upright, it is a 7.
    sideways = ImageOps.exif_transpose(seven.convert("RGB")).rotate(90, expand=True)
    exif = sideways.getexif()
    exif[0x0112] = 6  # rotate 270 (clockwise 90) to display
    photo = encode(sideways, "JPEG", quality=92, exif=exif)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><text y="20">7</text></svg>'
    return {
        "truncated PNG": (truncated, "digit.png", "Not a readable image"),
        "PNG bomb": (bomb, "bomb.png", "too large"),
        "16-bit grayscale PNG": (encode(Image.fromarray(sixteen)), "scan.png", "7"),
        "CMYK JPEG": (cmyk, "print.jpg", "7"),
        "palette with transparency": (palette_png, "four.png", "4"),
        "animated GIF": (gif.getvalue(), "one.gif", "1"),
        "EXIF-rotated photo": (photo, "photo.jpg", "7"),
        "SVG": (svg, "seven.svg", "Not a readable image"),
        "empty file": (b"", "empty.png", "Not a readable image"),
    }


@pytest.mark.parametrize("case", list(image_cases()))
def test_odd_images_get_a_right_answer_or_a_clear_message(app_server, case):
    data, name, expected = image_cases()[case]
    started = time.monotonic()
    kind, outputs = predict_bytes(app_server.url, data, name)
    elapsed = time.monotonic() - started
    assert kind == "complete", (kind, outputs)
    label, seen, status = outputs
    if expected.isdigit():
        assert label["label"] == expected and f"**{expected}**" in status, outputs
    else:
        assert not label and seen is None and expected in status, outputs
    assert "Traceback" not in json.dumps(outputs)
    assert elapsed < 10, f"{case} took {elapsed:.1f} s"  # the bomb is refused from its header, not decoded
    still_serving(app_server.url)


# --- cache and queue, on an app with small limits --------------------------------------------------


@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    """The app with a 4-second cache lifetime and a queue of 4, its cache in a folder of its own."""
    cache = tmp_path_factory.mktemp("gradio-cache")
    env = {
        "HF_HUB_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(cache),
        "APP_CACHE_SECONDS": "4",
        "APP_QUEUE_SIZE": "4",
        "APP_MODEL_WORKERS": "1",
    }
    app = RunningApp(env)
    app.cache = cache
    yield app
    app.stop()


def cache_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file())


def test_the_cache_does_not_grow_without_bound(small_app):
    """300 requests or more, over 20 s or more, each upload different (as real drawings are), against a
    cache lifetime of 4 s (a clean-up pass every 2 s): the cache holds only what recent requests wrote,
    and drains when they stop. Without clean-up it would keep every upload and every answer's image."""
    base, rng = small_app.url, np.random.default_rng(0)
    at_start = cache_files(small_app.cache)
    done: list[float] = []  # when each request finished
    over = []  # samples where the cache held more than the last few seconds' requests can explain
    started = time.monotonic()
    while len(done) < 300 or time.monotonic() - started < 20:
        canvas = np.asarray(draw_digit([0, 1, 4, 7][len(done) % 4])).copy()
        canvas[rng.integers(0, 400, 20), rng.integers(0, 400, 20), 3] = 255
        kind, _ = predict_bytes(base, encode(Image.fromarray(canvas)))
        assert kind == "complete"
        done.append(time.monotonic())
        if len(done) % 25 == 0:
            recent = sum(1 for t in done if t > done[-1] - (4 + 2 + 3))  # age + pass interval + slack
            held = cache_files(small_app.cache) - at_start
            if held > 2 * recent + 10:  # each request: the upload and its answer's 28x28 image
                over.append((round(done[-1] - started, 1), held, recent))
    time.sleep(4 + 2 + 1)  # older than the age, and one more clean-up pass
    settled = cache_files(small_app.cache) - at_start
    assert not over, f"the cache held more than recent requests wrote (s, files, requests): {over}"
    assert settled <= 10, settled  # the sample gallery and plots stay; nothing else
    assert 2 * len(done) > 50 * max(settled, 1)


def test_a_full_queue_refuses_at_once_and_recovers(small_app):
    """Far more requests than the queue holds: the excess gets 503 "Queue is full" quickly, none hangs."""
    png = encode(draw_digit(4))

    async def one(http: httpx.AsyncClient) -> tuple[str, float]:
        started = time.monotonic()
        uploaded = await http.post("gradio_api/upload", files={"files": ("d.png", png, "image/png")})
        file_data = {"path": uploaded.json()[0], "orig_name": "d.png", "meta": FILE_META}
        posted = await http.post("gradio_api/call/predict", json={"data": [file_data]})
        if posted.status_code != 200:
            return f"{posted.status_code} {posted.json().get('detail', '')[:13]}", time.monotonic() - started
        stream = await http.get(f"gradio_api/call/predict/{posted.json()['event_id']}")
        return events(stream)[-1][0], time.monotonic() - started

    async def crowd() -> list[tuple[str, float]]:
        async with httpx.AsyncClient(base_url=small_app.url, timeout=30) as http:
            return await asyncio.gather(*(one(http) for _ in range(60)))

    outcomes = asyncio.run(crowd())
    kinds = {kind for kind, _ in outcomes}
    assert kinds <= {"complete", "503 Queue is full"}, kinds
    refused = [seconds for kind, seconds in outcomes if kind.startswith("503")]
    assert refused and max(refused) < 10
    still_serving(small_app.url)


# --- fuzzing the HTTP API --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
file_data = st.fixed_dictionaries(
    {"path": st.text(max_size=80) | st.sampled_from(["/etc/passwd", "../../app.py", "file:///etc/passwd", "."])},
    optional={
        "meta": st.just(FILE_META) | json_values,
        "url": st.text(max_size=40),
        "orig_name": st.text(max_size=20),
        "size": st.integers(),
        "is_stream": st.booleans(),
        "mime_type": json_values,
    },
)
payloads = st.one_of(
    json_values,
    file_data,
    st.lists(file_data, max_size=3),
    st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=8), st.integers(2_000, 300_000)),  # huge
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),  # any unicode
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(payload=payloads, wrap=st.sampled_from(["data", "bare", "extra"]))
def test_fuzzed_payloads_get_an_answer_or_an_error_never_a_broken_server(app_server, payload, wrap):
    body = {"data": [payload]} if wrap == "data" else payload if wrap == "bare" else {"data": [payload, payload]}
    with httpx.Client(base_url=app_server.url, timeout=60) as http:
        posted = http.post("gradio_api/call/predict", json=body)
        assert posted.status_code < 500 or posted.status_code == 503, posted.text
        if posted.status_code == 200:
            stream = http.get(f"gradio_api/call/predict/{posted.json()['event_id']}")
            kind, data = events(stream)[-1]
            assert kind in ("complete", "error"), (kind, data)
            assert "Traceback" not in json.dumps(data)
        # the pad's private event, with the same payload as its frame
        pad_fn_index, _ = pad_event(app_server.url)
        joined = http.post(
            "gradio_api/queue/join",
            json={"data": [payload], "fn_index": pad_fn_index, "session_hash": "fuzz"},
        )
        assert joined.status_code < 500 or joined.status_code == 503, joined.text
    assert httpx.get(f"{app_server.url}config", timeout=30).status_code == 200


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.binary(max_size=5000), name=st.sampled_from(["a.png", "b.jpg", "c.gif", "d.webp", "e.bmp", "f.tiff"]))
def test_fuzzed_bytes_with_image_names_get_a_message(app_server, data, name):
    kind, outputs = predict_bytes(app_server.url, data, name)
    assert kind in ("complete", "error"), (kind, outputs)
    if kind == "complete":
        assert isinstance(outputs[2], str) and "Traceback" not in outputs[2]


def test_the_server_still_answers_after_the_fuzzing(app_server):
    still_serving(app_server.url)


# --- a broken bundle, a slow Hub -------------------------------------------------------------------


def test_app_starts_on_a_broken_bundle_and_each_tab_says_what_is_missing(tmp_path):
    bundle = tmp_path / "broken"
    shutil.copytree(SHIPPED_BUNDLE, bundle)
    (bundle / "samples.safetensors").unlink()
    (bundle / "metrics.json").write_text('{"test_accuracy": ')
    (bundle / "history.json").write_text("[1, 2]")
    (bundle / "loss_curves.png").write_bytes((bundle / "loss_curves.png").read_bytes()[:2000])
    (bundle / "confusion_matrix.png").unlink()
    app = RunningApp({"HF_HUB_OFFLINE": "1", "MODEL_REPO": str(bundle)})
    try:
        config = httpx.get(f"{app.url}config", timeout=30).json()
        notices = [
            c["props"]["value"]
            for c in config["components"]
            if "bundle-notice" in (c["props"].get("elem_classes") or [])
        ]
        assert len(notices) == 3, notices  # test samples, confusion matrix, training
        text = "\n".join(notices)
        for name in (
            "samples.safetensors` is missing",
            "metrics.json` is unreadable",
            "history.json` is unreadable",
            "loss_curves.png` is unreadable",
            "confusion_matrix.png` is missing",
        ):
            assert name in text, text
        assert str(tmp_path) not in text  # the page never says where the server keeps its files
        hidden = {c["props"].get("elem_id") for c in config["components"] if c["props"].get("visible") is False}
        assert {"loss-curves", "confusion-image"} <= hidden  # no empty frames where the plots were
        still_serving(app.url)
    finally:
        app.stop()


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    from mnist_cnn.bundle import BundleLoadError, load_bundle_folder
    from mnist_cnn.hub import load_model_source

    bundle = tmp_path / "mismatch"
    shutil.copytree(SHIPPED_BUNDLE, bundle)
    config = json.loads((bundle / "config.json").read_text())
    config["channels"] = [c // 2 for c in config["channels"]]
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleLoadError, match="does not match the model config"):
        load_bundle_folder(bundle)
    fallen_back = load_model_source(str(bundle))
    assert "does not match the model config" in fallen_back.fallback_reason
    assert fallen_back.folder == SHIPPED_BUNDLE


def test_app_starts_in_its_usual_time_when_the_hub_is_very_slow(tmp_path):
    from hub_server import start_hub
    from test_hub import TOKEN, hub_env, push

    hub, server, url = start_hub({TOKEN: "alice"})
    try:
        assert push(SHIPPED_BUNDLE, "alice/mnist-cnn", hub_env(url, tmp_path / "hf")).returncode == 0
        hub.fault = "trickle"
        env = {
            **hub_env(url, tmp_path / "fresh-cache", token=None),
            "MODEL_REPO": "alice/mnist-cnn",
            "MODEL_DOWNLOAD_TIMEOUT": "5",
        }
        started = time.monotonic()
        app = RunningApp(env, timeout=90)
        slow_start = time.monotonic() - started
        try:
            config = httpx.get(f"{app.url}config", timeout=30).text
            assert "did not send the files within 5 s" in config and "Using the model shipped" in config
            still_serving(app.url)
        finally:
            app.stop()
        started = time.monotonic()
        RunningApp({"HF_HUB_OFFLINE": "1"}).stop()
        usual = time.monotonic() - started
        assert slow_start < usual + 5 + 10, (slow_start, usual)  # the usual start, the deadline, some noise
    finally:
        server.shutdown()
