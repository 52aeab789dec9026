"""The HTTP API as a hostile caller sees it: raw requests, no gradio_client. No request may name a server file."""

from __future__ import annotations

import io
import json
import uuid

import httpx
import pytest
from PIL import Image

from conftest import ROOT, draw_digit, draw_number, pad_event, pad_frame_body, top_label
from mnist_cnn.web.pad import png_data_url as png_url

FILE_META = {"_type": "gradio.FileData"}


def events(response: httpx.Response) -> list[tuple[str, object]]:
    """The (event, data) pairs of a server-sent event stream."""
    found, kind = [], None
    for line in response.text.splitlines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            found.append((kind, json.loads(line.split(":", 1)[1])))
    return found


def call_predict(base: str, payload) -> tuple[str, object]:
    """POST /gradio_api/call/predict, then read its event stream: ("complete", outputs) or ("error", message)."""
    return call_api(base, "predict", [payload])


def call_api(base: str, name: str, data: list) -> tuple[str, object]:
    """POST /gradio_api/call/<name>, then read its event stream: ("complete", outputs) or ("error", message)."""
    with httpx.Client(base_url=base, timeout=60) as http:
        posted = http.post(f"gradio_api/call/{name}", json={"data": data})
        if posted.status_code != 200:
            return "rejected", posted.text
        stream = http.get(f"gradio_api/call/{name}/{posted.json()['event_id']}")
    kind, data = events(stream)[-1]
    return kind, data.get("error") if isinstance(data, dict) else data


def call_api_by_name(base: str, name: str, arguments: dict) -> tuple[str, object]:
    """POST /gradio_api/call/v2/<name> with named arguments (those left out take their defaults), then read
    its event stream, as ``call_api`` does."""
    with httpx.Client(base_url=base, timeout=60) as http:
        posted = http.post(f"gradio_api/call/v2/{name}", json=arguments)
        if posted.status_code != 200:
            return "rejected", posted.text
        stream = http.get(f"gradio_api/call/v2/{name}/{posted.json()['event_id']}")
    kind, data = events(stream)[-1]
    return kind, data.get("error") if isinstance(data, dict) else data


def upload(base: str, image: Image.Image) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    files = {"files": ("digit.png", buffer.getvalue(), "image/png")}
    [path] = httpx.post(f"{base}gradio_api/upload", files=files, timeout=60).json()
    return {"path": path, "orig_name": "digit.png", "meta": FILE_META}


@pytest.fixture(scope="module")
def secret(tmp_path_factory):
    """A file on the server, outside the upload folder, that looks like a digit: reading it would answer 7."""
    path = tmp_path_factory.mktemp("server-files") / "private.png"
    draw_digit(7, transparent=False).save(path)
    return path


def hostile_payloads(secret) -> dict[str, object]:
    upload_folder = "/tmp/gradio"  # Gradio's default (GRADIO_TEMP_DIR is not set for the test app)
    return {
        "absolute path": {"path": str(secret), "meta": FILE_META},
        "absolute path, no meta": {"path": str(secret)},
        "bare string": str(secret),
        "../ out of the upload folder": {"path": f"{upload_folder}/../..{secret}", "meta": FILE_META},
        "relative ../ path": {"path": f"../../../../../../..{secret}", "meta": FILE_META},
        "file:// URL as path": {"path": f"file://{secret}", "meta": FILE_META},
        "file:// URL as url": {"path": "digit.png", "url": f"file://{secret}", "meta": FILE_META},
        "loopback URL (SSRF)": {"path": "http://127.0.0.1:9/digit.png", "meta": FILE_META},
        "wrong type": 12345,
        "nested list": [[{"path": str(secret), "meta": FILE_META}]],
    }


@pytest.mark.parametrize(
    "case",
    [
        "absolute path",
        "absolute path, no meta",
        "bare string",
        "../ out of the upload folder",
        "relative ../ path",
        "file:// URL as path",
        "file:// URL as url",
        "loopback URL (SSRF)",
        "wrong type",
        "nested list",
    ],
)
def test_predict_never_opens_a_file_it_was_not_sent(app_server, secret, case):
    kind, data = call_predict(app_server.url, hostile_payloads(secret)[case])
    assert kind in ("error", "rejected"), f"{case}: the server answered {data}"
    assert isinstance(data, str) and len(data) > 10, f"{case}: no message saying why ({data!r})"
    assert "Traceback" not in data
    # and the server keeps serving
    kind, outputs = call_predict(app_server.url, upload(app_server.url, draw_digit(1, transparent=False)))
    assert kind == "complete" and top_label(outputs) == "1"


def test_predict_over_raw_http_with_an_upload(app_server):
    kind, outputs = call_predict(app_server.url, upload(app_server.url, draw_digit(4)))
    assert kind == "complete"
    label, model_input, status = outputs
    assert label["label"] == "4" and len(label["confidences"]) == 3
    assert model_input["url"] and "**4**" in status


@pytest.mark.parametrize("case", ["absolute path", "../ out of the upload folder", "file:// URL as url", "wrong type"])
def test_explain_never_opens_a_file_it_was_not_sent(app_server, secret, case):
    kind, data = call_api(app_server.url, "explain", [hostile_payloads(secret)[case], None])
    assert kind in ("error", "rejected"), f"{case}: the server answered {data}"
    assert isinstance(data, str) and len(data) > 10 and "Traceback" not in data


def test_explain_over_raw_http(app_server):
    four = upload(app_server.url, draw_digit(4))
    kind, (overlay, text) = call_api(app_server.url, "explain", [four, None])
    assert kind == "complete" and overlay["url"] and "Why **4**" in text
    kind, (overlay, text) = call_api(app_server.url, "explain", [four, 9])
    assert kind == "complete" and "Why not **9**" in text and "read 4" in text
    for digit in (10, -1, "nine"):
        kind, message = call_api(app_server.url, "explain", [four, digit])
        assert kind in ("error", "rejected") and message and "Traceback" not in str(message), (digit, message)


def test_explain_over_raw_http_with_the_image_alone(app_server):
    """The digit is optional: named arguments without it explain the best guess, as with None."""
    four = upload(app_server.url, draw_digit(4))
    kind, (overlay, text) = call_api_by_name(app_server.url, "explain", {"image": four})
    assert kind == "complete" and overlay["url"] and "Why **4**" in text
    kind, (_, text) = call_api_by_name(app_server.url, "explain", {"image": four, "digit": 9})
    assert kind == "complete" and "Why not **9**" in text


# --- the pad's private event, called directly ------------------------------------------------------


def send_frame(base: str, frame) -> tuple[str, object]:
    """Join the queue with one pad frame, as the page does, and read the outcome."""
    fn_index, pad_id = pad_event(base)
    session = uuid.uuid4().hex
    with httpx.Client(base_url=base, timeout=60) as http:
        joined = http.post("gradio_api/queue/join", json=pad_frame_body(frame, fn_index, pad_id, session))
        if joined.status_code != 200:
            return "rejected", joined.text
        stream = http.get("gradio_api/queue/data", params={"session_hash": session})
    for _event, message in events(stream):
        if isinstance(message, dict) and message.get("msg") == "process_completed":
            output = message.get("output") or {}
            if message.get("success"):
                return "complete", output["data"][0]
            return "error", output.get("error")
    return "none", None


def test_pad_frames_are_read(app_server):
    kind, answer = send_frame(app_server.url, {"image": png_url(draw_digit(7)), "seq": 3, "floor": 0})
    assert kind == "complete" and answer["seq"] == 3
    assert top_label(answer) == "7" and answer["image"]["url"].startswith("data:image/png;base64,")
    kind, answer = send_frame(app_server.url, {"image": None, "seq": 4, "floor": 4})
    assert kind == "complete" and answer["label"] == {} and "Draw a digit" in answer["status"]


def test_a_number_on_the_pad_fills_the_prediction_label(app_server):
    """A number gets a label too (the number, and each digit with how sure), never an empty one."""
    kind, answer = send_frame(app_server.url, {"image": png_url(draw_number([1, 0, 4, 7])), "seq": 1, "floor": 0})
    assert kind == "complete" and answer["status"].startswith("Number **1047**")
    assert answer["label"]["label"] == "1047"
    confidences = answer["label"]["confidences"]
    assert [c["label"] for c in confidences] == ["digit 1: 1", "digit 2: 0", "digit 3: 4", "digit 4: 7"]
    assert all(0.5 <= c["confidence"] <= 1 for c in confidences)


@pytest.mark.parametrize(
    "case",
    ["path", "file URL", "FileData", "not a dict", "no seq", "jpeg", "bad base64", "huge dimensions"],
)
def test_hostile_pad_frames_get_a_message(app_server, secret, case):
    bomb = Image.new("L", (10_000, 10_000), 255)  # a few KB as PNG, 100 megapixels decoded
    frame = {
        "path": {"image": str(secret), "seq": 1},
        "file URL": {"image": f"file://{secret}", "seq": 1},
        "FileData": {"image": {"path": str(secret), "meta": FILE_META}, "seq": 1},
        "not a dict": "hello",
        "no seq": {"image": png_url(draw_digit(7))},
        "jpeg": {"image": "data:image/jpeg;base64,/9j/4AAQ", "seq": 1},
        "bad base64": {"image": "data:image/png;base64,@@@@", "seq": 1},
        "huge dimensions": {"image": png_url(bomb), "seq": 1},
    }[case]
    kind, answer = send_frame(app_server.url, frame)
    if kind == "complete":  # read by the app: a message and nothing else
        assert answer["label"] == {} and answer["image"] is None and answer["seq"] == -1
        assert any(word in answer["status"] for word in ("Not a drawing", "could not be read", "too large"))
    else:  # refused by Gradio before the app saw it (a file reference that was not uploaded)
        assert kind == "error" and "not uploaded" in str(answer)
    kind, answer = send_frame(app_server.url, {"image": png_url(draw_digit(1)), "seq": 2})
    assert kind == "complete" and top_label(answer) == "1"


def test_the_reader_routes_serve_only_their_own_files(app_server):
    """The in-browser reader's files are served on fixed routes, with their types; nothing else under
    /pad-reader/ is, however the path is written."""
    from browser_reader import reader_settings

    settings = reader_settings(app_server.url)
    with httpx.Client(base_url=app_server.url, timeout=30) as http:
        for key, media_type in (("module", "text/javascript"), ("runtime", "text/javascript"), ("model", "octet")):
            response = http.get(settings[key])
            assert response.status_code == 200 and media_type in response.headers["content-type"], key
        wasm = http.get(settings["wasm"], headers={"Accept-Encoding": "gzip"})
        assert wasm.headers["content-type"] == "application/wasm" and wasm.headers["content-encoding"] == "gzip"
        assert wasm.content[:4] == b"\0asm"  # httpx undid the gzip: a WebAssembly module
        assert http.get(settings["model"], headers={"Origin": "https://blog.example"}).headers[
            "access-control-allow-origin"
        ] in ("*", "https://blog.example")
        secrets = [(ROOT / name).read_bytes()[:300] for name in ("app.py", "mnist_cnn/web/pad/reader.py")]
        secrets.append((ROOT / "mnist_cnn/pretrained/model.safetensors").read_bytes()[:300])
        for name in ("app.py", "model.safetensors", "VERSION", "ort-wasm-simd-threaded.wasm.gz", "reader.py"):
            assert http.get(f"pad-reader/{name}").status_code == 404, name
        for path in ("pad-reader/../app.py", "pad-reader/%2e%2e/app.py", "pad-reader/..%2Fapp.py"):
            content = http.get(path).content
            assert not any(secret in content for secret in secrets), path
