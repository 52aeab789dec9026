"""Visitors' corrections: saved on disk in an image-folder layout, pushed to a Hub dataset repo (the test Hub
on 127.0.0.1, the real huggingface_hub client over HTTP, in the app's process), refused when abused, and
read back for training.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from hub_server import Hub, Repo, start_hub
from PIL import Image, ImageDraw
from test_api_security import events
from test_hub import TOKEN, hub_env

from conftest import ROOT, RunningApp, component_event, draw_digit, make_mnist_folder, queue_join_body
from mnist_cnn.web.feedback.guard import CorrectionGuard, CorrectionLimits, client_address
from mnist_cnn.web.feedback.store import LABELS, METADATA_FILE, Correction, FeedbackConfig, FeedbackStore, drawing_png
from mnist_cnn.web.pad import png_data_url

REPO = "alice/mnist-feedback"
DATASET = f"datasets/{REPO}"


# --- helpers ------------------------------------------------------------------------------------


def scribble(seed: int) -> Image.Image:
    """A pad-like drawing that no other seed gives: a few random strokes on a transparent 400x400 canvas."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        points = [tuple(p) for p in rng.integers(60, 340, size=(4, 2)).tolist()]
        draw.line(points, fill=(0, 0, 0, 255), width=24, joint="curve")
    return image


def png_frame(image: Image.Image) -> dict:
    """A pad frame holding ``image``."""
    return {"image": png_data_url(image), "seq": 1}


def correction_body(event: tuple[int, int], label, frame, session: str, request: int = 1) -> dict:
    """The queue/join body of one click on the buttons (``event``: their submit event's fn_index and id)."""
    return queue_join_body([{"label": label, "seq": 1, "request": request}, frame], *event, session)


def outcome(stream: httpx.Response) -> dict:
    """The buttons' new value from a queue/data event stream ({request, saved, message})."""
    for _kind, message in events(stream):
        if isinstance(message, dict) and message.get("msg") == "process_completed":
            assert message.get("success"), message
            return message["output"]["data"][0]
    raise AssertionError(f"no answer in {stream.text[-500:]}")


def send_correction(base: str, label, image_or_frame, session: str | None = None, address: str | None = None) -> dict:
    """Post one correction as the page does (raw HTTP: join the queue, read the event stream)."""
    frame = png_frame(image_or_frame) if isinstance(image_or_frame, Image.Image) else image_or_frame
    session = session or uuid.uuid4().hex
    headers = {"X-Forwarded-For": address} if address else {}
    with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
        body = correction_body(component_event(base, "feedback"), label, frame, session)
        joined = http.post("gradio_api/queue/join", json=body)
        assert joined.status_code == 200, joined.text
        return outcome(http.get("gradio_api/queue/data", params={"session_hash": session}))


def pushed_rows(hub: Hub, repo: str = DATASET) -> list[dict]:
    """Every row in the repo's metadata files, each checked to have both its images, with its folder."""
    if repo not in hub.repos:
        return []
    files = hub.files(repo)
    rows = []
    for path, content in files.items():
        if path.endswith(METADATA_FILE):
            folder = path.rsplit("/", 1)[0]
            for line in content.decode().splitlines():
                row = json.loads(line) | {"folder": folder}
                assert f"{folder}/{row['file_name']}" in files and f"{folder}/{row['mnist_file_name']}" in files
                rows.append(row)
    return rows


def wait_for(condition, timeout: float = 60, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} not met within {timeout:.0f} s")


def feedback_env(hub_url: str, home: Path, **extra: str) -> dict[str, str]:
    return hub_env(hub_url, home, FEEDBACK_REPO=REPO, HF_HUB_DISABLE_PROGRESS_BARS="1", **extra)


# --- in-process: the guard and the store --------------------------------------------------------


def test_rate_limits_and_repeated_drawings():
    guard = CorrectionGuard(CorrectionLimits(per_session_minute=3, per_address_hour=5))
    assert all(guard.admit("s1", "a", f"d{i}".encode(), now=100 + i) is None for i in range(3))
    assert "at most 3 a minute" in guard.admit("s1", "a", b"d3", now=103)
    assert guard.admit("s1", "a", b"d3", now=161) is None  # the first of the three is a minute old
    assert "already saved" in guard.admit("s2", "b", b"d3", now=162)  # from anyone
    assert guard.admit("s2", "a", b"d4", now=163) is None  # the address's 5th
    assert "your network: at most 5 an hour" in guard.admit("s3", "a", b"d5", now=164)
    assert guard.admit("s3", "b", b"d5", now=164) is None  # another address
    guard.release(b"d5")  # not saved after all: it may come again
    assert guard.admit("s4", "c", b"d5", now=165) is None
    assert guard.admit("s5", "a", b"d6", now=165 + 3600 + 1) is None  # an hour after the last
    assert len(guard.sessions) == 1 and len(guard.addresses) == 1  # the rest swept from memory
    assert not any(b"a" == key for key in guard.addresses)  # addresses are kept as keyed hashes


def test_client_address_trusts_only_the_proxies_it_is_told_of():
    class Request:
        client = type("Client", (), {"host": "10.1.1.1"})()
        headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.7"}  # the client's own say, then the proxy's

    assert client_address(Request(), 0) == "10.1.1.1"
    assert client_address(Request(), 1) == "203.0.113.7"
    assert client_address(Request(), 3) == "10.1.1.1"  # fewer entries than proxies: the connection


def test_the_store_writes_an_image_folder_that_datasets_reads(tmp_path):
    from datasets import load_dataset

    model = {
        "model_source": "mnist_cnn/pretrained",
        "model_revision": "",
        "model_commit": "",
        "model_weights_sha256": "",
    }
    store = FeedbackStore(FeedbackConfig(folder=tmp_path), model)
    assert not store.pushes and store.destination_html() == "It is kept on this server only."
    field = np.zeros((28, 28), np.uint8)
    field[4:24, 12:16] = 255
    big = draw_digit(1, size=1200)
    big.info["comment"] = "secret"
    for k, label in enumerate(LABELS):
        store.save(Correction(label, big if k == 0 else scribble(k), field, {"model_answer": "1"}))
    with pytest.raises(ValueError):
        store.save(Correction("11", big, field, {}))
    (folder,) = (tmp_path / "data").iterdir()
    rows = [json.loads(line) for line in (folder / METADATA_FILE).read_text().splitlines()]
    assert [row["label"] for row in rows] == list(LABELS)
    drawing = Image.open(folder / rows[0]["file_name"])
    assert drawing.format == "PNG" and drawing.mode == "L" and drawing.size == (256, 256)
    assert not drawing.info and drawing.getexif() == {}  # nothing but pixels
    assert np.asarray(drawing).min() < 50 and np.median(drawing) == 255  # dark ink on white paper
    assert np.array_equal(np.asarray(Image.open(folder / rows[0]["mnist_file_name"])), field)
    # a process killed in the middle of a row: the next start cuts the torn row off
    with (folder / METADATA_FILE).open("a") as file:
        file.write('{"file_name": "torn')
    FeedbackStore(FeedbackConfig(folder=tmp_path), model)
    assert (folder / METADATA_FILE).read_text().endswith("}\n")
    data = load_dataset("imagefolder", data_dir=str(tmp_path), split="train")
    assert data.num_rows == 11 and sorted(data["label"]) == sorted(LABELS)
    assert data[0]["image"].size == (256, 256) and data[0]["mnist"].size == (28, 28)


def test_a_folder_that_cannot_be_written_is_said_not_raised(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    store = FeedbackStore(FeedbackConfig(folder=blocked / "feedback", repo_id=REPO), {})
    assert not store.writable and not store.pushes and "cannot store corrections" in store.destination_html()
    with pytest.raises(OSError):  # the handler turns it into a sentence for the page
        store.save(Correction("7", scribble(0), np.zeros((28, 28), np.uint8), {}))
    assert store.close(1)


# --- the running app, pushing to the test Hub --------------------------------------------------


@pytest.fixture(scope="module")
def hub():
    store, server, url = start_hub({TOKEN: "alice"})
    store.url = url
    yield store
    server.shutdown()


@pytest.fixture(scope="module")
def feedback_app(hub, tmp_path_factory):
    """The app pushing corrections every 3 s, behind one proxy (X-Forwarded-For names the visitor), with at
    most 40 corrections an hour from one address."""
    env = feedback_env(
        hub.url,
        tmp_path_factory.mktemp("hf-home"),
        FEEDBACK_EVERY_MINUTES="0.05",
        FEEDBACK_PROXY_HOPS="1",
        FEEDBACK_ADDRESS_PER_HOUR="40",
    )
    app = RunningApp(env)
    yield app
    app.stop()


def test_a_correction_clicked_in_the_browser_reaches_the_dataset(hub, feedback_app, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    from test_browser import PHONE, draw, open_app, touch_stroke

    from conftest import CHROMIUM, CHROMIUM_ARGS, DIGIT_STROKES

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)  # the README's come from docs/screenshots
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = open_app(browser, feedback_app.url)
        feedback = page.locator("#feedback")
        expect(feedback).to_contain_text("Tell it what you drew:")
        # what is saved, and where, is said before any click
        expect(feedback).to_contain_text("your drawing as a small image, and the digit you chose; nothing about you")
        expect(feedback).to_contain_text("added to a private Hugging Face dataset")
        buttons = feedback.get_by_role("button")
        expect(buttons).to_have_text([*(str(d) for d in range(10)), "not a digit"])
        expect(feedback.get_by_role("button", name="7", exact=True)).to_be_disabled()  # nothing drawn yet
        draw(page, 7)
        seven = feedback.get_by_role("button", name="7", exact=True)
        expect(seven).to_be_enabled(timeout=20_000)
        seven.click()
        expect(feedback.locator(".outcome")).to_contain_text("Saved: 7", timeout=20_000)
        for k in range(11):  # the same drawing cannot be saved twice
            expect(buttons.nth(k)).to_be_disabled()
        page.screenshot(path=str(shots / "feedback.png"))
        page.locator("#clear-button").click()
        draw(page, 1)
        expect(seven).to_be_enabled(timeout=20_000)  # a new drawing: the buttons are back
        expect(feedback.locator(".outcome")).to_be_empty()
        page.context.close()

        # on a phone, with a finger, in dark mode
        page = open_app(browser, feedback_app.url + "?__theme=dark", **PHONE)
        cdp = page.context.new_cdp_session(page)
        for stroke in DIGIT_STROKES[4]:
            touch_stroke(page, cdp, stroke)
        four = page.locator("#feedback").get_by_role("button", name="4", exact=True)
        expect(four).to_be_enabled(timeout=20_000)
        box = four.bounding_box()
        assert box["width"] >= 40 and box["height"] >= 44, box  # big enough for a finger
        four.tap()
        expect(page.locator("#feedback .outcome")).to_contain_text("Saved: 4", timeout=20_000)
        page.locator("#prediction").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "feedback-phone.png"))
        page.context.close()
        browser.close()

    def ours() -> list[dict]:
        rows = [r for r in pushed_rows(hub) if r["label"] in ("7", "4")]
        return rows if len(rows) >= 2 else []

    rows = wait_for(ours, what="two rows pushed")
    assert sorted(row["label"] for row in rows) == ["4", "7"]
    files = hub.files(DATASET)
    for row in rows:
        assert row["model_answer"] == row["label"] and row["model_digit"] == int(row["label"])
        assert row["model_source"] == "mnist_cnn/pretrained" and len(row["model_weights_sha256"]) == 64
        assert set(row) >= {"model_confidence", "model_probabilities", "created_at"}
        assert not {"ip", "session", "session_hash", "user", "cookie"} & set(row)
        assert Image.open(io.BytesIO(files[f"{row['folder']}/{row['file_name']}"])).mode == "L"
        assert Image.open(io.BytesIO(files[f"{row['folder']}/{row['mnist_file_name']}"])).size == (28, 28)
        assert (DATASET, f"{row['folder']}/{row['file_name']}") in hub.lfs_pointers  # images through LFS
    assert hub.repos[DATASET].private
    assert all(TOKEN.encode() not in content for content in files.values())


def test_500_corrections_from_20_sessions_each_reach_the_repo_once(hub, feedback_app, tmp_path):
    from datasets import load_dataset

    drawings = [scribble(1000 + k) for k in range(500)]
    event = component_event(feedback_app.url, "feedback")

    async def visitor(number: int) -> list[dict]:
        session, address = uuid.uuid4().hex, f"10.0.0.{number}"
        answers = []
        async with httpx.AsyncClient(
            base_url=feedback_app.url, timeout=120, headers={"X-Forwarded-For": address}
        ) as http:
            for k in range(number, 500, 20):
                body = correction_body(event, LABELS[k % 11], png_frame(drawings[k]), session)
                joined = await http.post("gradio_api/queue/join", json=body)
                assert joined.status_code == 200, joined.text
                stream = await http.get("gradio_api/queue/data", params={"session_hash": session})
                answers.append(outcome(stream))
        return answers

    async def crowd() -> list[list[dict]]:
        return await asyncio.gather(*(visitor(n) for n in range(20)))

    started = time.monotonic()
    answers = [answer for visitor_answers in asyncio.run(crowd()) for answer in visitor_answers]
    print(f"500 corrections answered in {time.monotonic() - started:.1f} s")
    assert all(answer["saved"] for answer in answers), [a for a in answers if not a["saved"]][:3]
    expected = {hashlib.sha256(drawing_png(d)).hexdigest(): k for k, d in enumerate(drawings)}

    def ours() -> list[dict]:
        files = hub.files(DATASET) if DATASET in hub.repos else {}
        rows = [
            r
            for r in pushed_rows(hub)
            if hashlib.sha256(files[f"{r['folder']}/{r['file_name']}"]).hexdigest() in expected
        ]
        return rows if len(rows) >= 500 else []

    rows = wait_for(ours, timeout=90, what="500 rows pushed")
    files = hub.files(DATASET)
    # the repo had no card: the first push added one, which says what a row holds and how to use them
    card = files["README.md"].decode()
    assert "pretty_name: 'MNIST digit demo: visitors'' corrections'" in card and "image-classification" in card
    assert f'load_dataset("{REPO}", split="train")' in card and f"train.py --extra-data {REPO}" in card
    assert "no IP address, user name, cookie or session id" in card
    found = [expected[hashlib.sha256(files[f"{r['folder']}/{r['file_name']}"]).hexdigest()] for r in rows]
    assert sorted(found) == list(range(500)), "a row missing or pushed twice"
    assert all(row["label"] == LABELS[expected_k % 11] for row, expected_k in zip(rows, found, strict=True))

    # the pushed folder, as a downloaded copy of the repo, read by the datasets library
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    data = load_dataset("imagefolder", data_dir=str(tmp_path), split="train")
    assert data.num_rows == len(pushed_rows(hub)) >= 500
    assert data.features["image"].__class__.__name__ == "Image" and data[0]["mnist"].size == (28, 28)


def test_refusals_get_a_clear_message(feedback_app):
    base = feedback_app.url
    drawing = scribble(7)
    # labels other than the 11 choices
    for label in ("11", "seven", None, 7, ["7"], "not a digit "):
        answer = send_correction(base, label, drawing, address="192.0.2.1")
        assert not answer["saved"] and "Not one of the choices" in answer["message"], (label, answer)
    # frames that are not a pad's PNG, or too large, or empty
    jpeg = io.BytesIO()
    draw_digit(7).convert("RGB").save(jpeg, format="JPEG")
    frames = {
        "JPEG": {"image": "data:image/jpeg;base64," + base64.b64encode(jpeg.getvalue()).decode(), "seq": 1},
        "not PNG bytes": {
            "image": "data:image/png;base64," + base64.b64encode(b"GIF89a" + b"0" * 100).decode(),
            "seq": 1,
        },
        "a server path": {"image": "/etc/passwd", "seq": 1},
        "too many pixels": png_frame(Image.new("L", (3000, 40), 255)),
        "too many bytes": {"image": "data:image/png;base64," + "A" * 1_100_000, "seq": 1},
        "not a frame": "data:image/png;base64,AAAA",
    }
    for name, frame in frames.items():
        answer = send_correction(base, "7", frame, address="192.0.2.1")
        assert not answer["saved"] and "drawing" in answer["message"].lower(), (name, answer)
    for frame in ({"image": None, "seq": 1}, png_frame(Image.new("RGBA", (400, 400), (0, 0, 0, 0)))):
        answer = send_correction(base, "7", frame, address="192.0.2.1")
        assert not answer["saved"] and "Draw something first" in answer["message"]
    # an identical repeat, from the same page or another
    assert send_correction(base, "7", drawing, address="192.0.2.1")["saved"]
    answer = send_correction(base, "1", drawing, address="192.0.2.2")
    assert not answer["saved"] and "already saved" in answer["message"]
    # 30 a minute from one session
    session = uuid.uuid4().hex
    answers = [send_correction(base, "3", scribble(100 + k), session, "192.0.2.3") for k in range(31)]
    assert all(a["saved"] for a in answers[:30]) and "at most 30 a minute" in answers[30]["message"]
    # 40 an hour from one address (this app's setting), whatever the session; the client's own
    # X-Forwarded-For entries count for nothing: the proxy's last entry is the address
    answers = [send_correction(base, "5", scribble(200 + k), address=f"6.6.6.{k}, 192.0.2.4") for k in range(41)]
    assert all(a["saved"] for a in answers[:40]) and "at most 40 an hour" in answers[40]["message"]
    assert send_correction(base, "5", scribble(300), address="192.0.2.5")["saved"]  # another address
    assert "Traceback" not in "".join(feedback_app.output)


# --- SIGTERM, restarts and a Hub that is down ---------------------------------------------------


def folder_rows(feedback_dir: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in feedback_dir.glob(f"data/*/{METADATA_FILE}"))


def connected(app: RunningApp) -> None:
    """Wait until the app's scheduler is made; its first push (of what was there at start) runs at once."""
    wait_for(lambda: "Corrections are pushed to the dataset" in "".join(app.output), what="the scheduler started")
    time.sleep(1)


def test_sigterm_pushes_pending_rows_and_a_restart_pushes_only_what_never_was(hub, tmp_path):
    feedback_dir = tmp_path / "feedback"
    env = feedback_env(hub.url, tmp_path / "hf", FEEDBACK_DIR=str(feedback_dir), FEEDBACK_EVERY_MINUTES="60")
    env["FEEDBACK_REPO"] = repo = "alice/restarts"
    key = f"datasets/{repo}"

    # the repo exists, with its owner's own card: it is never replaced
    owner_card = b"# Alice's corrections\n\nMy own words.\n"
    hub.repos[key] = Repo(
        "alice", private=True, branches={"main": "0" * 40}, commits={"0" * 40: {"README.md": owner_card}}
    )

    # 1. a 60-minute schedule: nothing would be pushed for an hour, but SIGTERM pushes the 3 rows first
    app = RunningApp(env)
    connected(app)
    for k in range(3):
        assert send_correction(app.url, str(k), scribble(500 + k))["saved"]
    app.process.send_signal(signal.SIGTERM)
    assert app.process.wait(timeout=60) == 0
    assert len(pushed_rows(hub, key)) == 3
    commits_before = set(hub.repos[key].commits)

    # 2. killed outright (no push): its 2 rows stay on disk
    app = RunningApp(env)
    connected(app)
    for k in range(2):
        assert send_correction(app.url, "not a digit", scribble(600 + k))["saved"]
    app.process.kill()
    app.process.wait(timeout=30)
    assert folder_rows(feedback_dir) == 5 and len(pushed_rows(hub, key)) == 3

    # 3. the next start pushes those 2, and only the files that never reached the Hub
    app = RunningApp(env)
    try:
        rows = wait_for(lambda: len(pushed_rows(hub, key)) == 5 and pushed_rows(hub, key), what="5 rows pushed")
    finally:
        app.stop()
    assert sorted(r["label"] for r in rows) == ["0", "1", "2", "not a digit", "not a digit"]
    new_commits = [sha for sha in hub.repos[key].commits if sha not in commits_before]
    written = [path for sha in new_commits for path in hub.repos[key].changes.get(sha, [])]
    first_folder = next(r["folder"] for r in rows if r["label"] == "0")
    assert written and not any(path.startswith(first_folder) for path in written), written
    assert hub.files(key)["README.md"] == owner_card
    assert not any("README.md" in paths for paths in hub.repos[key].changes.values())
    assert TOKEN not in "".join(app.output)


def test_a_hub_that_is_down_or_refuses_keeps_the_rows_on_disk_then_gets_them(hub, tmp_path):
    feedback_dir = tmp_path / "feedback"
    env = feedback_env(hub.url, tmp_path / "hf", FEEDBACK_DIR=str(feedback_dir), FEEDBACK_EVERY_MINUTES="0.05")
    env["FEEDBACK_REPO"] = repo = "alice/outage"
    key = f"datasets/{repo}"
    hub.fault = "down"
    app = RunningApp(env)
    try:
        for k in range(4):
            assert send_correction(app.url, str(k), scribble(700 + k))["saved"]
        time.sleep(4)  # more than a push interval: every try is refused
        assert key not in hub.repos and folder_rows(feedback_dir) == 4
        assert "Could not reach the dataset alice/outage (the Hub answered 503)" in "".join(app.output)
        hub.fault = None
        rows = wait_for(lambda: len(pushed_rows(hub, key)) == 4 and pushed_rows(hub, key), what="4 rows pushed")
        assert sorted(r["label"] for r in rows) == ["0", "1", "2", "3"]
        # then a Hub that refuses the pushes (403): new rows wait on disk, then go
        hub.fault = "refuse"
        assert send_correction(app.url, "9", scribble(710))["saved"]
        time.sleep(4)
        assert len(pushed_rows(hub, key)) == 4 and folder_rows(feedback_dir) == 5
        hub.fault = None
        wait_for(lambda: len(pushed_rows(hub, key)) == 5, what="the 5th row pushed")
    finally:
        hub.fault = None
        app.stop()
    assert TOKEN not in "".join(app.output)


# --- back to training ---------------------------------------------------------------------------


def test_training_with_corrections_from_a_hub_dataset(hub, tmp_path):
    """A short run with 330 generated corrections, pushed to a dataset repo: they join the training images
    (never validation or test), the run says how many, and the card names the dataset and its revision."""
    corrections = tmp_path / "corrections"
    model = {"model_source": "test", "model_revision": "", "model_commit": "", "model_weights_sha256": ""}
    store = FeedbackStore(FeedbackConfig(folder=corrections), model)
    rng = np.random.default_rng(0)
    for k in range(330):
        field = (rng.random((28, 28)) * 60).astype(np.uint8)
        label = LABELS[k % 11]
        if label != "not a digit":  # the same learnable bars as the synthetic MNIST below
            field[4 + 2 * int(label) : 6 + 2 * int(label), 4:24] = 255
        store.save(Correction(label, scribble(900 + k), field, {"model_answer": "?"}))
    env = hub_env(hub.url, tmp_path / "hf")
    upload = (
        "from huggingface_hub import HfApi; api = HfApi(); "
        f"api.create_repo('alice/corrections', repo_type='dataset', exist_ok=True); "
        f"print(api.upload_folder(repo_id='alice/corrections', repo_type='dataset', folder_path='{corrections}', "
        "allow_patterns=['data/*/*']).oid)"
    )
    uploaded = subprocess.run([sys.executable, "-c", upload], env=env, capture_output=True, text=True, timeout=120)
    assert uploaded.returncode == 0, uploaded.stderr
    revision = uploaded.stdout.strip().splitlines()[-1]

    mnist = tmp_path / "mnist"
    make_mnist_folder(mnist)
    out = tmp_path / "bundle"
    args = ["train.py", "--recipe", "quick", "--epochs", "1", "--data-dir", str(mnist), "--val-size", "100"]
    args += ["--out", str(out), "--no-progress", "--ema-decay", "0", "--extra-data", "alice/corrections"]
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "330 corrections (300 digits, 30 not a digit) from alice/corrections" in result.stdout + result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_size"] == 500 + 330 and metrics["validation_size"] == 100  # 600 - 100 held out
    assert metrics["test_size"] == 200
    assert metrics["extra_data"]["rows"] == 330 and metrics["extra_data"]["revision"] == revision
    card = (out / "README.md").read_text()
    assert "alice/corrections" in card and revision[:10] in card
