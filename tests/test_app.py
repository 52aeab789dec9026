"""The app's API through gradio_client, against the real server started by the test."""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageOps

from conftest import RunningApp, draw_digit, draw_number, top_label


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server.url, verbose=False)


@pytest.mark.parametrize("digit", [0, 1, 4, 7])
@pytest.mark.parametrize("transparent", [True, False])
def test_predicts_canvas_drawings(client, tmp_path, digit, transparent):
    path = tmp_path / f"{digit}.png"
    draw_digit(digit, transparent=transparent).save(path)
    result = client.predict(handle_file(str(path)), api_name="/predict")
    assert top_label(result) == str(digit), result
    confidences = result[0]["confidences"]
    assert len(confidences) == 3 and confidences[0]["confidence"] >= 0.5
    assert f"**{digit}**" in result[2]
    assert Image.open(result[1]).size == (28, 28)  # what the model sees


def test_jpeg_coloured_ink_and_mnist_style_images(client, tmp_path):
    jpeg = tmp_path / "seven.jpg"
    draw_digit(7, transparent=False).convert("RGB").save(jpeg, quality=70)
    assert top_label(client.predict(handle_file(str(jpeg)), api_name="/predict")) == "7"
    blue = tmp_path / "blue-four.png"
    drawing = np.asarray(draw_digit(4, size=300, transparent=False).convert("RGB")).copy()
    drawing[(drawing < 128).all(axis=2)] = (30, 60, 200)  # blue ink on white
    Image.fromarray(drawing).save(blue)
    assert top_label(client.predict(handle_file(str(blue)), api_name="/predict")) == "4"
    mnist_style = tmp_path / "mnist-style-one.png"
    ImageOps.invert(draw_digit(1, size=112, transparent=False).convert("L")).save(mnist_style)  # white on black
    assert top_label(client.predict(handle_file(str(mnist_style)), api_name="/predict")) == "1"


def test_blank_image_and_no_file(client, tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(path)
    for value in (handle_file(str(path)), None):
        result = client.predict(value, api_name="/predict")
        assert not result[0] or not result[0].get("confidences")
        assert result[1] is None and "Draw a digit" in result[2]


def test_huge_image(client, tmp_path):
    path = tmp_path / "huge.png"
    draw_digit(1, size=4000).save(path)
    assert top_label(client.predict(handle_file(str(path)), api_name="/predict")) == "1"


def test_non_image_file_gets_a_message_and_the_server_keeps_serving(client, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not an image")
    result = client.predict(handle_file(str(notes)), api_name="/predict")  # read, and found to be no image
    assert "Not a readable image" in result[2] and not result[0]
    fake = tmp_path / "fake.png"
    fake.write_text("this is not an image either")
    result = client.predict(handle_file(str(fake)), api_name="/predict")  # read, and found unreadable
    assert "Not a readable image" in result[2] and not result[0]
    good = tmp_path / "one.png"
    draw_digit(1).save(good)
    assert top_label(client.predict(handle_file(str(good)), api_name="/predict")) == "1"


def test_api_lists_only_the_public_endpoints(client):
    # the pad's live event, the explanations on the page and the galleries stay private
    assert sorted(client.view_api(return_format="dict")["named_endpoints"]) == ["/explain", "/predict", "/read_number"]


def test_app_starts_with_the_hub_unreachable(tmp_path, closed_port_url):
    env = {
        "MODEL_REPO": "alice/mnist-cnn",
        "HF_ENDPOINT": closed_port_url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_ETAG_TIMEOUT": "2",
        "HF_HUB_DOWNLOAD_TIMEOUT": "2",
    }
    app = RunningApp(env)
    try:
        config = urllib.request.urlopen(app.url + "config", timeout=30).read().decode()
        assert "Using the model shipped with the app" in config
        path = tmp_path / "four.png"
        draw_digit(4).save(path)
        assert top_label(Client(app.url, verbose=False).predict(handle_file(str(path)), api_name="/predict")) == "4"
    finally:
        app.stop()
    assert "Could not load alice/mnist-cnn" in "".join(app.output)


def test_read_number_and_explain(client, tmp_path):
    number, four = tmp_path / "1047.png", tmp_path / "four.png"
    draw_number([1, 0, 4, 7]).save(number)
    draw_digit(4).save(four)
    reading = client.predict(handle_file(str(number)), api_name="/read_number")
    assert reading["number"] == "1047" and [d["digit"] for d in reading["digits"]] == [1, 0, 4, 7]
    assert all(len(d["box"]) == 4 for d in reading["digits"])
    assert client.predict(handle_file(str(four)), api_name="/read_number")["number"] == "4"
    overlay, text = client.predict(handle_file(str(four)), None, api_name="/explain")
    picture = np.asarray(Image.open(overlay).convert("RGB")).astype(int)
    assert picture.shape == (280, 280, 3) and "Why **4**" in text
    red = (picture[..., 0] > 180) & (picture[..., 1] < 120) & (picture[..., 2] < 120)
    assert red.sum() > 500  # evidence for the 4, in red
    _, text = client.predict(handle_file(str(four)), 9, api_name="/explain")
    assert "Why not **9**" in text


def test_explain_with_the_image_alone_explains_the_best_guess(client, tmp_path):
    four = tmp_path / "four.png"
    draw_digit(4).save(four)
    parameters = client.view_api(return_format="dict")["named_endpoints"]["/explain"]["parameters"]
    digit = next(p for p in parameters if p["parameter_name"] == "digit")
    assert digit["parameter_has_default"] and digit["parameter_default"] is None
    overlay, text = client.predict(handle_file(str(four)), api_name="/explain")
    assert "Why **4**" in text
    assert Image.open(overlay).convert("RGB").size == (280, 280)


def test_app_start_survives_a_port_taken_meanwhile(monkeypatch):
    """free_port() picks a port free a moment ago; if another process takes it before the app binds it,
    RunningApp tries another port instead of failing the test run."""
    import socket

    import conftest

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    real_free_port = conftest.free_port
    monkeypatch.setattr(conftest, "free_port", lambda: next(ports, None) or real_free_port())
    try:
        app = RunningApp({"HF_HUB_OFFLINE": "1"})
        try:
            assert app.port != taken.getsockname()[1]
            assert urllib.request.urlopen(app.url + "config", timeout=30).status == 200
        finally:
            app.stop()
    finally:
        taken.close()
