"""The app in a real browser: Playwright driving Debian's Chromium, headless: mouse, touch, dark mode, embeds."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from conftest import DIGIT_STROKES, draw_digit, draw_number, open_app, page_without_webassembly, photo_of

PAD = "#drawing-pad canvas"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 3}


def to_screen(box: dict, x: float, y: float) -> tuple[float, float]:
    """A point given on the 400x400 stroke grid, on the pad as it is shown."""
    return box["x"] + x / 400 * box["width"], box["y"] + y / 400 * box["height"]


def wait_until_drawable(pad, box: dict, x: float, y: float) -> None:
    """Wait until the pad itself, not something over it, gets a pointer at (x, y) on the stroke grid. For a
    moment after the canvas is visible, Gradio's loading overlay still covers the app: a stroke started on
    it never reaches the pad. Playwright's hit-target check (a trial hover) waits that out."""
    pad.hover(position={"x": x / 400 * box["width"], "y": y / 400 * box["height"]}, trial=True)


def draw_stroke(page: Page, stroke, scope=None, steps: int = 12, release: bool = True) -> None:
    """One mouse stroke through the points of ``stroke`` (scope: the page, a <gradio-app> or an iframe)."""
    pad = (scope or page).locator(PAD).first
    pad.scroll_into_view_if_needed()  # the whole pad on screen first: the stroke's points are taken from its box
    box = pad.bounding_box()
    wait_until_drawable(pad, box, *stroke[0])
    page.mouse.move(*to_screen(box, *stroke[0]))
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*to_screen(box, *point), steps=steps)
    if release:
        page.mouse.up()


def draw(page: Page, digit: int, scope=None) -> None:
    for stroke in DIGIT_STROKES[digit]:
        draw_stroke(page, stroke, scope)


TOP_CLASS = '#prediction [data-testid="label-output-value"]'  # gr.Label's top class
EMPTY_LABEL = '#prediction [aria-label="Empty value"]'  # gr.Label's empty frame with an icon


def expect_top_label(scope, digit: str, timeout: float = 20_000) -> None:
    """Wait (Playwright's own retrying assertion) until the label's top class is ``digit``."""
    expect(scope.locator(TOP_CLASS)).to_have_text(digit, timeout=timeout)


def expect_empty(scope) -> None:
    expect(scope.locator("#status")).to_contain_text("Draw a digit", timeout=10_000)
    expect(scope.locator("#prediction")).to_have_text("Prediction", timeout=10_000)  # only its header
    expect(scope.locator("#model-input img")).to_have_count(0)


def count_updates(page: Page) -> None:
    """Count the answers that reach the page: each one shows a new 28x28 view."""
    page.evaluate("""() => {
        window.answers = 0;
        let last = null;
        new MutationObserver(() => {
            const src = document.querySelector('#model-input img')?.src ?? null;
            if (src && src !== last) { window.answers++; last = src; }
        }).observe(document.querySelector('#model-input'), {subtree: true, childList: true, attributes: true});
    }""")


def expect_engine(scope, engine: str = "browser") -> None:
    """Wait until the pad says which engine reads the drawing (the reader loads after the page)."""
    expect(scope.locator("#drawing-pad")).to_have_attribute("data-engine", engine, timeout=30_000)


def answers_shown(scope) -> int:
    return int(scope.locator("#drawing-pad").get_attribute("data-answers"))


class ServerEvents:
    """The events the page sends to the server (each one a POST .../queue/join), as they are sent."""

    def __init__(self, page: Page):
        self.sent: list[str] = []
        page.on("request", lambda request: self.sent.append(request.url) if "queue/join" in request.url else None)

    def __len__(self) -> int:
        return len(self.sent)


def test_draw_digits_at_once_with_the_mouse(page, shots):
    expect(page.locator("#status")).to_contain_text("Draw a digit")
    expect(page.get_by_text("Draw a digit here")).to_be_visible()  # the pad's own hint
    for digit in (0, 1, 4, 7):  # no tool to pick: the first stroke draws
        draw(page, digit)
        expect(page.locator("#status")).to_contain_text(f"{digit} (", timeout=20_000)
        expect_top_label(page, str(digit))
        expect(page.locator("#model-input img")).to_be_visible()
        if digit == 7:
            page.screenshot(path=str(shots / "draw.png"))
        page.locator("#clear-button").click()
        expect_empty(page)


def colour_counts(page: Page, selector: str) -> tuple[int, int]:
    """(red, blue) pixel counts of the image shown at ``selector``, fetched as the page fetched it."""
    src = page.locator(selector).get_attribute("src")
    # the browser's own overlay is a data URL; the server's, a file the page fetched
    data = base64.b64decode(src.split(",", 1)[1]) if src.startswith("data:") else page.request.get(src).body()
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 180) & (g < 120) & (b < 120)).sum()), int(((b > 180) & (r < 120) & (g < 120)).sum())


def test_why_this_digit(page, shots):
    draw(page, 4)
    expect(page.locator("#why-text")).to_contain_text("Why 4:", timeout=30_000)
    expect(page.locator("#why-image img")).to_be_visible()
    red, blue = colour_counts(page, "#why-image img")
    assert red > 500, f"no evidence for 4 drawn in red ({red} red, {blue} blue pixels)"
    # "why not 9?": the evidence for another digit, on the same drawing
    page.locator("#explain-digit input").click()
    page.get_by_role("option", name="9", exact=True).click()
    expect(page.locator("#why-text")).to_contain_text("Why not 9", timeout=30_000)
    expect(page.locator("#why-text")).to_contain_text("the model read 4")
    assert colour_counts(page, "#why-image img") != (red, blue)
    page.screenshot(path=str(shots / "why.png"))
    page.locator("#clear-button").click()
    expect_empty(page)
    expect(page.locator("#why-image img")).to_have_count(0, timeout=20_000)


def test_a_number_on_the_pad(page, shots):
    # "41": each digit in its own half of the pad
    for digit, left in ((4, 30), (1, 230)):
        for stroke in DIGIT_STROKES[digit]:
            draw_stroke(page, [(left + (x - 115) * 0.75, 60 + (y - 70) * 1.1) for x, y in stroke])
    expect(page.locator("#status")).to_contain_text("Number 41", timeout=30_000)
    expect(page.locator("#number-boxes img")).to_be_visible()
    # the Prediction box holds the number and each digit with how sure, never an empty frame
    expect_top_label(page, "41")
    expect(page.locator(EMPTY_LABEL)).to_have_count(0)
    expect(page.locator("#prediction")).to_contain_text("digit 1: 4")
    expect(page.locator("#prediction")).to_contain_text("digit 2: 1")
    expect(page.locator("#why-text")).to_contain_text("Explanations are for one digit", timeout=30_000)
    expect(page.locator("#why-image")).to_be_hidden()  # no empty overlay frame beside the digits' views
    page.screenshot(path=str(shots / "number.png"))
    page.keyboard.press("Control+z")  # undo the 1: one digit again, read as always
    expect(page.locator("#status")).to_contain_text("4 (", timeout=30_000)
    expect(page.locator("#number-boxes")).to_be_hidden()
    expect_top_label(page, "4")
    expect(page.locator("#why-image img")).to_be_visible(timeout=30_000)  # one digit: explained again


def test_label_updates_while_the_pen_moves(page):
    count_updates(page)
    zero = DIGIT_STROKES[0][0]
    draw_stroke(page, zero[:1], release=False)  # the pen down at the stroke's first point
    box = page.locator(PAD).bounding_box()
    started = time.monotonic()
    for a, b in zip(zero, zero[1:], strict=False):  # a two-second stroke
        for t in np.linspace(0, 1, 13)[1:]:
            page.mouse.move(*to_screen(box, a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
            page.wait_for_timeout(20)
    elapsed = time.monotonic() - started
    before_release = page.evaluate("window.answers")
    page.mouse.up()
    assert before_release >= 5, f"{before_release} answers in a {elapsed:.1f} s stroke before the button was released"
    expect_top_label(page, "0")


def expect_explainer(scope, explainer: str = "browser") -> None:
    """Wait until the pad says who explains (the explanation's workers load after the reader)."""
    expect(scope.locator("#drawing-pad")).to_have_attribute("data-explainer", explainer, timeout=60_000)


def number_stroke(stroke, left: float) -> list[tuple[float, float]]:
    """A digit's stroke drawn smaller, in the half of the pad that starts at ``left`` (as one digit of two)."""
    return [(left + (x - 115) * 0.75, 60 + (y - 70) * 1.1) for x, y in stroke]


def choose_digit_to_explain(page: Page, name: str) -> None:
    page.locator("#explain-digit input").click()
    page.get_by_role("option", name=name, exact=True).click()


def test_the_browser_answers_and_explains_without_the_server(page):
    """With the reader and the explanation loaded: answers while the pen moves; on pen-up the final answer
    and the overlay; "Explain which digit"; then a number with its boxes; Undo and Clear. Not one request
    reaches the server."""
    expect_engine(page)
    expect_explainer(page)
    events = ServerEvents(page)
    for stroke in DIGIT_STROKES[4]:
        before_answers = answers_shown(page)
        draw_stroke(page, number_stroke(stroke, 30), steps=20, release=False)
        page.wait_for_timeout(100)
        assert answers_shown(page) - before_answers >= 10  # one answer per animation frame with new ink
        page.mouse.up()
    expect_top_label(page, "4")
    expect(page.locator("#why-text")).to_contain_text("Why 4:", timeout=30_000)
    red, blue = colour_counts(page, "#why-image img")
    assert red > 500, f"no evidence for 4 drawn in red ({red} red, {blue} blue pixels)"
    choose_digit_to_explain(page, "9")
    expect(page.locator("#why-text")).to_contain_text("Why not 9", timeout=30_000)
    expect(page.locator("#why-text")).to_contain_text("the model read 4")
    assert colour_counts(page, "#why-image img") != (red, blue)
    choose_digit_to_explain(page, "its best guess")
    expect(page.locator("#why-text")).to_contain_text("Why 4:", timeout=30_000)

    draw_stroke(page, number_stroke(DIGIT_STROKES[1][0], 230))
    expect(page.locator("#status")).to_contain_text("Number 41", timeout=30_000)
    expect(page.locator("#number-boxes img")).to_be_visible()
    expect_top_label(page, "41")
    expect(page.locator("#prediction")).to_contain_text("digit 2: 1")
    expect(page.locator("#why-text")).to_contain_text("Explanations are for one digit", timeout=30_000)
    expect(page.locator("#why-image")).to_be_hidden()
    page.locator("#undo-button").click()
    expect(page.locator("#status")).to_contain_text("4 (", timeout=30_000)
    expect(page.locator("#number-boxes")).to_be_hidden()
    expect(page.locator("#why-image img")).to_be_visible(timeout=30_000)
    page.locator("#clear-button").click()
    expect_empty(page)
    expect(page.locator("#why-image img")).to_have_count(0, timeout=20_000)
    # the visitor's correction still goes to the server, with the drawing
    draw(page, 7)
    expect_top_label(page, "7")
    assert events.sent == [], events.sent
    page.locator("#feedback").get_by_role("button", name="7", exact=True).click()
    expect(page.locator("#feedback .outcome")).to_contain_text("Saved: 7", timeout=20_000)
    assert len(events) == 1


def test_several_digits_are_read_when_the_pen_lifts(page):
    """While a second digit is drawn beside the first, the page does not show a one-digit reading: it says
    the number is read on pen-up, and then the browser reads it."""
    expect_engine(page)
    events = ServerEvents(page)
    for stroke in DIGIT_STROKES[4]:
        draw_stroke(page, [(30 + (x - 115) * 0.75, 60 + (y - 70) * 1.1) for x, y in stroke])
    expect_top_label(page, "4")
    one = [(230 + (x - 115) * 0.75, 60 + (y - 70) * 1.1) for x, y in DIGIT_STROKES[1][0]]
    draw_stroke(page, one, steps=20, release=False)
    expect(page.locator("#status")).to_contain_text("Several digits: the number is read when you lift the pen")
    expect(page.locator(TOP_CLASS)).to_have_count(0)  # no digit named meanwhile
    page.mouse.up()
    expect(page.locator("#status")).to_contain_text("Number 41", timeout=30_000)
    expect_top_label(page, "41")
    assert events.sent == []


def test_undo_clear_and_shortcuts(page):
    first, second = DIGIT_STROKES[4]
    draw_stroke(page, first)
    expect(page.locator("#model-input img")).to_be_visible(timeout=20_000)
    page.wait_for_timeout(500)
    after_one_stroke = page.locator("#status").inner_text()
    assert not after_one_stroke.startswith("4 ")  # one stroke of a 4 is not yet a 4
    draw_stroke(page, second)
    expect_top_label(page, "4")
    page.locator("#undo-button").click()
    expect(page.locator("#status")).to_have_text(after_one_stroke, timeout=10_000)
    page.locator("#clear-button").click()
    expect_empty(page)

    # Shortcuts, with the focus on a button that was just clicked: Ctrl+Z undoes, Escape clears.
    draw(page, 4)
    expect_top_label(page, "4")
    page.keyboard.press("Control+z")
    expect(page.locator("#status")).to_have_text(after_one_stroke, timeout=10_000)
    page.keyboard.press("Escape")
    expect_empty(page)
    draw(page, 7)
    expect_top_label(page, "7")
    page.keyboard.press("Meta+z")
    expect_empty(page)

    # Not while typing in a text field.
    draw(page, 1)
    expect_top_label(page, "1")
    page.evaluate("() => { const f = document.createElement('input'); f.id = 'notes'; document.body.prepend(f); }")
    page.locator("#notes").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+z")
    page.wait_for_timeout(500)  # time for a wrongly handled shortcut to act
    expect(page.locator(TOP_CLASS)).to_have_text("1", timeout=0)


def test_clear_during_a_stroke_leaves_nothing_behind(page):
    """Answers still on their way when Clear is pressed never land after it."""
    landed_after_clear = []
    for _ in range(5):
        draw_stroke(page, DIGIT_STROKES[7][0], steps=4)
        page.evaluate("""() => {
            window.afterClear = [];
            document.querySelector('#clear-button').click();
            new MutationObserver(() => {
                if (document.querySelector('#model-input img')) window.afterClear.push('image');
            }).observe(document.querySelector('#model-input'), {subtree: true, childList: true, attributes: true});
        }""")
        expect_empty(page)
        page.wait_for_timeout(300)
        landed_after_clear += page.evaluate("window.afterClear")
    assert landed_after_clear == []


def touch_stroke(page: Page, cdp, stroke, steps: int = 15, release: bool = True) -> None:
    pad = page.locator(PAD)
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    wait_until_drawable(pad, box, *stroke[0])

    def send(kind: str, x: float = 0, y: float = 0) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    send("touchStart", *to_screen(box, *stroke[0]))
    for a, b in zip(stroke, stroke[1:], strict=False):
        for t in np.linspace(0, 1, steps + 1)[1:]:
            send("touchMove", *to_screen(box, a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
            page.wait_for_timeout(16)
    if release:
        send("touchEnd")


def test_touch_on_a_phone(browser, app_server, shots):
    page = open_app(browser, app_server.url, **PHONE)
    try:
        pad = page.locator(PAD).bounding_box()
        assert pad["width"] >= 280 and abs(pad["width"] - pad["height"]) < 1  # fills a phone's width, square
        cdp = page.context.new_cdp_session(page)
        expect_engine(page)
        expect_explainer(page)
        events = ServerEvents(page)
        scroll_before = page.evaluate("window.scrollY")
        for stroke in DIGIT_STROKES[7]:
            before_events, before_answers = len(events), answers_shown(page)
            touch_stroke(page, cdp, stroke, release=False)
            assert len(events) == before_events and answers_shown(page) - before_answers >= 10
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert page.evaluate("window.scrollY") == scroll_before  # the finger drew; the page did not scroll
        expect_top_label(page, "7")
        expect(page.locator("#why-text")).to_contain_text("Why 7:", timeout=30_000)
        assert events.sent == []  # answered and explained in the phone's browser
        # The pad and the top prediction share the screen: no scrolling needed to see the answer.
        pad = page.locator(PAD).bounding_box()
        label = page.locator("#prediction").bounding_box()
        assert pad["y"] >= 0 and pad["y"] + pad["height"] <= 844
        assert label["y"] + 100 <= 844, label  # the label's header and its top class
        page.screenshot(path=str(shots / "phone.png"))
    finally:
        page.context.close()


def test_dark_mode_ink_is_visible(browser, app_server, shots):
    page = open_app(browser, app_server.url + "?__theme=dark")
    try:
        expect_engine(page)
        before = answers_shown(page)
        draw(page, 7)
        expect_top_label(page, "7")
        assert answers_shown(page) - before >= 10  # read in the browser while drawn
        page.screenshot(path=str(shots / "dark.png"))
        pixels = np.asarray(Image.open(io.BytesIO(page.locator(PAD).screenshot())).convert("L"), dtype=float)
        board = np.median(pixels)
        ink = np.percentile(pixels, 99) if board < 128 else np.percentile(pixels, 1)
        assert board < 80, f"the board is not dark in dark mode (median grey {board})"
        assert abs(ink - board) > 150, f"ink {ink} hardly differs from the board {board}"
    finally:
        page.context.close()


def luminance(png: bytes) -> np.ndarray:
    """Relative luminance (0 black, 1 white) of each pixel of a screenshot."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def test_dark_mode_why_overlay_is_dark(browser, app_server):
    """The "why" overlay lies on the dark page, not on a white square; its red and blue still show."""
    page = open_app(browser, app_server.url + "?__theme=dark")
    try:
        draw(page, 4)
        expect(page.locator("#why-text")).to_contain_text("Why 4:", timeout=30_000)
        wait_for_images(page, "#why-image")
        png = page.locator("#why-image img").screenshot()
        assert np.median(luminance(png)) < 0.3, f"median luminance {np.median(luminance(png)):.2f}"
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        red = (rgb[..., 0] > 180) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)
        assert red.sum() > 200, f"the evidence for 4 does not show in red ({red.sum()} pixels)"
    finally:
        page.context.close()


FIGURES = ("#model-input", "#why-image")  # the two small figures side by side under the label


@pytest.mark.parametrize("width", [390, 1280])
def test_figure_labels_fit_beside_their_buttons(browser, app_server, width):
    """'What the model sees (28x28)' and 'Why: red for, blue against' show whole, on a phone and a desktop:
    not clipped, and not under the figure's buttons."""
    page = open_app(browser, app_server.url, viewport={"width": width, "height": 900})
    try:
        draw(page, 4)
        expect(page.locator("#why-image img")).to_be_visible(timeout=30_000)
        for figure in FIGURES:
            fit = page.locator(figure).evaluate("""block => {
                const label = block.querySelector('[data-testid="block-label"]');
                const box = label.getBoundingClientRect(), outer = block.getBoundingClientRect();
                const under = [...block.querySelectorAll('.icon-button-wrapper button')].some(button => {
                    const b = button.getBoundingClientRect();
                    return b.left < box.right && box.left < b.right && b.top < box.bottom && box.top < b.bottom;
                });
                return {text: label.textContent.trim(), under, inside: box.right <= outer.right + 0.5,
                        clipped: label.scrollWidth > label.clientWidth || label.scrollHeight > label.clientHeight};
            }""")
            assert fit["inside"] and not fit["clipped"] and not fit["under"], (width, figure, fit)
    finally:
        page.context.close()


def test_drawing_works_when_embedded(browser, embedding_page):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        page.goto(embedding_page)
        embeds = ((page.locator("gradio-app"), "gradio-app", 4), (page.frame_locator("#embedded"), "#embedded", 7))
        for scope, holder, digit in embeds:
            scope.locator(PAD).wait_for(timeout=60_000)
            # the holder first: Chromium pauses animation frames in an iframe that is off screen, and
            # Playwright waits for one before it scrolls inside
            page.locator(holder).evaluate("e => e.scrollIntoView()")
            scope.locator(PAD).scroll_into_view_if_needed()
            expect_engine(scope)  # the reader's files come from the app's origin, not the blog's
            expect_explainer(scope)  # its workers too, started from a blob on the blog's page
            before = answers_shown(scope)
            draw(page, digit, scope)
            expect_top_label(scope, str(digit))
            assert answers_shown(scope) - before >= 10, holder
            expect(scope.locator("#why-text")).to_contain_text(f"Why {digit}:", timeout=30_000)
            # the visitor's correction is saved from inside the embed too
            scope.locator("#feedback").get_by_role("button", name=str(digit), exact=True).click()
            expect(scope.locator("#feedback .outcome")).to_contain_text(f"Saved: {digit}", timeout=20_000)
    finally:
        page.context.close()


def wait_for_images(page: Page, selector: str) -> None:
    """Galleries load lazily: wait until every visible image has its pixels."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{selector} img')].every(img => img.complete && img.naturalWidth > 0)",
        timeout=20_000,
    )


def test_photo_tab(page, shots, tmp_path):
    seven, number = tmp_path / "seven.jpg", tmp_path / "410.jpg"
    photo_of(draw_digit(7)).save(seven, quality=80)
    photo_of(draw_number([4, 1, 0]), seed=1).save(number, quality=80)
    page.get_by_role("tab", name="Photo or scan").click()
    expect(page.locator("#photo-status")).to_contain_text("Upload, paste or take a photo")
    page.locator("#photo-input input[type=file]").set_input_files(str(number))
    expect(page.locator("#photo-status")).to_contain_text("Number 410", timeout=30_000)
    expect(page.locator("#photo-reading img")).to_be_visible()
    expect(page.locator("#photo-steps img")).to_have_count(1 + 3 * 3)  # the ink, then 3 steps per digit
    expect(page.locator("#photo-steps")).to_contain_text("centred in 28x28: read as 0")
    wait_for_images(page, "#photo-steps")
    page.screenshot(path=str(shots / "photo.png"), full_page=True)
    page.locator("#photo-input").get_by_role("button", name="Remove Image").click()
    expect(page.locator("#photo-status")).to_contain_text("Upload, paste or take a photo", timeout=20_000)
    page.locator("#photo-input input[type=file]").set_input_files(str(seven))
    expect(page.locator("#photo-status")).to_contain_text("7 (", timeout=30_000)  # one digit: as on the pad
    expect(page.locator("#photo-steps img")).to_have_count(4)


def test_gallery_tab(page, shots):
    page.get_by_role("tab", name="Test samples").click()
    images = page.locator("#sample-gallery img")
    expect(images.first).to_be_visible(timeout=20_000)
    assert images.count() >= 16
    captions = page.locator("#sample-gallery").inner_text()
    assert "pred" in captions and "true" in captions
    wait_for_images(page, "#sample-gallery")
    page.screenshot(path=str(shots / "samples.png"))
    page.get_by_label("Show only the model's mistakes").check()
    expect(page.locator("#sample-gallery")).not_to_contain_text("✓", timeout=20_000)
    assert "✗" in page.locator("#sample-gallery").inner_text()
    page.locator("#sample-gallery img").first.click()
    expect(page.locator("#chosen-probabilities")).to_contain_text("%", timeout=20_000)
    # a mistake picked: why the model read it as it did
    expect(page.locator("#sample-why img")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("wrong: it is a")).to_be_visible()
    assert colour_counts(page, "#sample-why img")[0] > 100


def test_confusion_tab(page, shots):
    page.get_by_role("tab", name="Confusion matrix").click()
    expect(page.locator("#confusion-table")).to_contain_text("1134", timeout=20_000)  # 1s read as 1
    expect(page.locator("#per-class")).to_contain_text("precision")
    expect(page.get_by_text("Test accuracy")).to_be_visible()
    expect(page.locator("#pair-images img")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("was read as 9")).to_be_visible()
    # "why was this 4 read as 9?": evidence for 9 and for 4 on one of those images
    page.locator("#pair-images img").first.click()
    expect(page.locator("#pair-why-text")).to_contain_text("read as 9", timeout=30_000)
    expect(page.locator("#pair-why-predicted img")).to_be_visible()
    expect(page.locator("#pair-why-true img")).to_be_visible()
    page.screenshot(path=str(shots / "confusion.png"), full_page=True)
    # click a cell: true 6 (row 6), read as 0 (the column after the one naming the rows)
    page.locator("#confusion-table div[role=row]").nth(6).get_by_role("gridcell").nth(1).click()
    expect(page.get_by_text("test images of a 6 were read as 0")).to_be_visible(timeout=20_000)
    expect(page.locator("#pair-images img")).to_have_count(3)
    page.get_by_text("The same matrix as train.py drew it").click()
    expect(page.locator("#confusion-image img")).to_be_visible(timeout=20_000)


def test_training_and_model_tabs(page, shots):
    page.get_by_role("tab", name="Training").click()
    expect(page.locator("#loss-curves img")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Best validation accuracy")).to_be_visible()
    page.screenshot(path=str(shots / "training.png"), full_page=True)
    page.get_by_role("tab", name="Model").click()
    expect(page.get_by_text("Weights from")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(shots / "model.png"))


@pytest.fixture(params=["no runtime files", "no model.onnx"])
def server_only_app(request, tmp_path):
    """The app without its in-browser reader: the runtime's files removed, or a bundle without model.onnx."""
    import shutil

    from conftest import RunningApp
    from mnist_cnn.bundle import SHIPPED_BUNDLE

    if request.param == "no runtime files":
        (tmp_path / "runtime").mkdir()
        app = RunningApp({"HF_HUB_OFFLINE": "1", "PAD_RUNTIME_DIR": str(tmp_path / "runtime")})
    else:
        shutil.copytree(SHIPPED_BUNDLE, tmp_path / "bundle", ignore=shutil.ignore_patterns("model.onnx"))
        app = RunningApp({"HF_HUB_OFFLINE": "1"}, args=("--model", str(tmp_path / "bundle")))
    yield app
    app.stop()


def expect_server_reading(page: Page) -> None:
    """The pad as it was before the in-browser reader: frames to the server while the pen moves."""
    page.wait_for_timeout(2000)  # the time the reader would take to load
    expect_engine(page, "server")
    events = ServerEvents(page)
    zero = DIGIT_STROKES[0][0]
    draw_stroke(page, [(x, y) for a, b in zip(zero, zero[1:], strict=False) for x, y in (a, b)], steps=10)
    expect_top_label(page, "0")
    assert len(events) >= 5, f"{len(events)} frames sent for a whole stroke"  # about ten a second
    page.locator("#clear-button").click()
    expect_empty(page)
    draw(page, 7)
    expect_top_label(page, "7")
    expect(page.locator("#why-text")).to_contain_text("Why 7:", timeout=30_000)  # the server explains
    expect_explainer(page, "server")
    choose_digit_to_explain(page, "1")
    expect(page.locator("#why-text")).to_contain_text("Why not 1", timeout=30_000)


def test_without_the_reader_the_server_reads_as_before(browser, server_only_app):
    page = open_app(browser, server_only_app.url)
    try:
        expect_server_reading(page)
    finally:
        page.context.close()


def test_a_browser_without_webassembly_has_the_server_read(browser, app_server):
    page = page_without_webassembly(browser, app_server.url)
    try:
        page.wait_for_selector(PAD, timeout=60_000)
        expect_server_reading(page)
    finally:
        page.context.close()


def test_a_reader_that_fails_to_load_has_the_server_read(browser, app_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/pad-reader/js-*/reader.mjs", lambda route: route.fulfill(status=500, body="broken"))
    page = context.new_page()
    try:
        page.goto(app_server.url)
        page.wait_for_selector(PAD, timeout=60_000)
        expect_server_reading(page)
    finally:
        context.close()


def test_without_the_explanation_graph_the_browser_reads_and_the_server_explains(browser, app_server):
    """explain.onnx fails to load: the browser still gives the final answer, and the server explains, once
    per stroke (the pad's select event)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/pad-reader/explain.onnx*", lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(app_server.url)
        page.wait_for_selector(PAD, timeout=60_000)
        expect_engine(page)
        page.wait_for_timeout(3000)  # the time the explanation would take to load
        expect_explainer(page, "server")
        events = ServerEvents(page)
        draw(page, 4)
        expect_top_label(page, "4")
        expect(page.locator("#why-text")).to_contain_text("Why 4:", timeout=30_000)
        assert 1 <= len(events) <= 2, events.sent  # the explanation of each stroke's drawing, not the reading
        choose_digit_to_explain(page, "9")
        expect(page.locator("#why-text")).to_contain_text("Why not 9", timeout=30_000)
    finally:
        context.close()


def test_the_reader_modules_load_and_read_in_a_page_as_the_server_does(page, app_server):
    """reader.mjs and the modules it imports, loaded from the app with onnxruntime-web in Chromium, on a
    sample of 175 drawings of pen-dev/pen_digits and scan-dev/usps_digits: 28x28 fields within 2/255 for at
    least 99.5%, the same answer for 99.9%, and the same final answer (readFinal) for 99.9%. Every dev
    drawing's field and answer is compared in Node (test_reader_parity.py), and every final answer by
    benchmarks/reader_parity.py."""
    from browser_reader import compare_finals, compare_on_files

    from conftest import pen_dev_dir, scan_dev_dir

    files = sorted((pen_dev_dir() / "pen_digits").glob("*.png")) + sorted(
        (scan_dev_dir() / "usps_digits").glob("*.png")
    )
    assert len(files) == 3500
    expect_engine(page)
    parity = compare_on_files(page, app_server.url, files[::20])
    assert parity.drawings == 175
    assert parity.fields_share >= 0.995, parity.summary() + "\n" + "\n".join(parity.disagreements[:20])
    assert parity.answers_share >= 0.999, parity.summary() + "\n" + "\n".join(parity.disagreements[:20])
    # the final answer, as the pad shows it on pen-up: the same digit, pair, "not sure" or number (with the
    # same boxes), and the same status line
    finals = compare_finals(
        page, parity_predictor(), [f.read_bytes() for f in files[::20]], [f.name for f in files[::20]]
    )
    assert finals.share >= 0.999, finals.summary() + "\n" + "\n".join(finals.disagreements[:20])


def parity_predictor():
    from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
    from mnist_cnn.reading.predict import Predictor

    return Predictor.from_bundle(load_bundle_folder(SHIPPED_BUNDLE))


def test_numbers_and_explanations_in_a_page_as_the_server_gives_them(page, app_server):
    """A sample of benchmarks/read_numbers.py's numbers (separate and touching digits): the browser's final
    answer is the server's, boxes included, for 99.5%; the why overlay of 23 dev drawings, computed by
    explain.onnx in the page's workers, is within 2/255 of captum's on 99% of its pixels.
    benchmarks/reader_parity.py measures them all."""
    import sys

    from browser_reader import LOAD_READER, compare_explanations, compare_finals, reader_settings

    from conftest import ROOT, pen_dev_dir, scan_dev_dir

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from read_numbers import NUMBER_SETS, number_pngs

    expect_engine(page)
    page.evaluate(LOAD_READER, [reader_settings(app_server.url), app_server.url])
    predictor = parity_predictor()
    pngs, names = number_pngs(pen_dev_dir(), NUMBER_SETS, count=40, seed=1)
    numbers = compare_finals(page, predictor, pngs, names)
    assert numbers.total == 80 and numbers.share >= 0.995, numbers.summary() + "\n" + "\n".join(numbers.disagreements)
    files = (
        sorted((pen_dev_dir() / "pen_digits").glob("*.png"))[::100]
        + sorted((scan_dev_dir() / "usps_digits").glob("*.png"))[::250]
    )
    overlays = compare_explanations(page, predictor, files)
    assert len(files) >= 20 and overlays.total == len(files) * 28 * 28
    assert overlays.share >= 0.99, overlays.summary("pixels within 2/255") + "\n" + "\n".join(overlays.disagreements)
