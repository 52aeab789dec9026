"""The network view (#network-view) in Chromium: live while the pen moves with no request to the server,
the same numbers as torch, a map opened by click or keyboard with its kernel and dataset examples (fetched
only then), the phone, dark mode, an embed, the view hidden, and the server's stages when the browser cannot
read."""

from __future__ import annotations

import numpy as np
import torch
from playwright.sync_api import Page, expect
from test_browser import PAD, PHONE, ServerEvents, draw, draw_stroke, expect_engine, expect_top_label, touch_stroke

from conftest import DIGIT_STROKES, open_app, page_without_webassembly
from mnist_cnn.bundle import SHIPPED_BUNDLE, load_bundle_folder
from mnist_cnn.reading.layers import stages_of

VIEW = "#network-view"
STAGES = ["conv1", "pool1", "conv2", "conv3", "pool2", "conv4", "conv5", "pool3"]


def updates(scope) -> int:
    return int(scope.locator(VIEW).get_attribute("data-updates"))


def expect_view_ready(scope) -> None:
    expect(scope.locator(VIEW)).to_have_attribute("data-ready", "true", timeout=30_000)
    expect_engine(scope)


def canvas_pixels(page: Page, layer: str) -> str:
    return page.locator(f"{VIEW} [data-layer={layer}] canvas").evaluate("canvas => canvas.toDataURL()")


def test_the_view_follows_the_pen_with_no_server_request(page, shots):
    expect_view_ready(page)
    view = page.locator(VIEW)
    expect(view).to_have_attribute("data-visible", "true")  # open, under the pad, on a desktop-width page
    layers = [view.locator(f"[data-layer={name}]") for name in ["input", *STAGES, "output"]]
    shapes = [layer.get_attribute("data-shape") for layer in layers]
    assert shapes == ["1x28x28", "40x28x28", "40x14x14", "80x14x14", "80x14x14", "80x7x7"] + [
        "160x7x7",
        "160x7x7",
        "160x3x3",
        "11",
    ]
    blank = {name: canvas_pixels(page, name) for name in STAGES}
    events = ServerEvents(page)
    before = updates(page)
    draw_stroke(page, DIGIT_STROKES[7][0], release=False)
    during = updates(page) - before
    assert during >= 10, f"{during} updates for a whole stroke"
    page.mouse.up()
    expect_top_label(page, "7")
    assert events.sent == []
    assert all(canvas_pixels(page, name) != blank[name] for name in STAGES)
    bars = view.locator("[data-layer=output] li")
    expect(bars).to_have_count(11)
    expect(bars.nth(7)).to_have_class("top")
    expect(bars.nth(10)).to_contain_text("not a digit")
    label = view.locator("[data-layer=conv2] button").nth(4).get_attribute("aria-label")
    assert label.startswith("conv2, channel 4 of 80: peak "), label
    view.screenshot(path=str(shots / "network-view-live.png"))


def test_the_maps_are_torchs_activations_for_the_same_drawing(page):
    expect_view_ready(page)
    draw(page, 4)
    expect_top_label(page, "4")
    page.wait_for_timeout(500)
    stages = page.locator(VIEW).evaluate(
        "view => Object.fromEntries(Object.entries(view.stages.stages).map(([k, v]) => [k, Array.from(v)]))"
    )
    probabilities = page.locator(VIEW).evaluate("view => Array.from(view.stages.probabilities)")
    model = load_bundle_folder(SHIPPED_BUNDLE).model
    field = torch.tensor(stages["input"], dtype=torch.float32).reshape(1, 1, 28, 28)
    truth = stages_of(model, field)
    for name in STAGES:
        expected = truth[name][0].numpy().ravel()
        got = np.array(stages[name], dtype=np.float32)
        assert got.shape == expected.shape, name
        assert np.abs(got - expected).max() <= 1e-4, name
    assert int(np.argmax(probabilities)) == 4 and abs(sum(probabilities) - 1) < 1e-4


def test_a_map_opens_with_its_kernel_and_examples(page, shots):
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if "dataset_examples" in request.url else None)
    expect_view_ready(page)
    draw(page, 7)
    expect_top_label(page, "7")
    assert fetched == []  # nothing until a map is opened
    view = page.locator(VIEW)
    view.locator("[data-layer=conv1] button").nth(5).click()
    detail = view.locator(".map-detail")
    expect(detail).to_be_visible()
    expect(detail.locator(".detail-title")).to_contain_text("conv1 · channel 5 of 40")
    expect(detail.locator(".kernel-cell")).to_have_count(9)
    expect(detail).to_have_attribute("data-examples", "9", timeout=20_000)
    expect(detail.locator(".example canvas")).to_have_count(9)
    assert len(fetched) == 2  # the examples' data and picture, once
    view.screenshot(path=str(shots / "network-view.png"))
    # by keyboard: a later layer's maps, the arrow keys, Enter; Escape closes and gives the focus back
    detail.locator(".detail-close").click()
    expect(detail).to_be_hidden()
    first = view.locator("[data-layer=pool2] button").first
    first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(detail).to_be_visible()
    columns = int(view.locator("[data-layer=pool2] .stage-maps").evaluate("e => e.style.getPropertyValue('--columns')"))
    expect(detail.locator(".detail-title")).to_contain_text(f"pool2 · channel {1 + columns} of 80")
    expect(detail.locator(".detail-kernel")).to_be_hidden()  # kernels are shown for the first layer
    expect(detail).to_have_attribute("data-examples", "9")
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused.startswith(f"pool2, channel {1 + columns} of 80: peak"), focused
    expect(page.locator(PAD)).to_be_visible()
    expect_top_label(page, "7")  # Escape in the map did not clear the pad


def test_a_hidden_view_asks_for_no_stages(page):
    expect_view_ready(page)
    page.locator(f"{VIEW} summary").click()  # folded
    expect(page.locator(VIEW)).to_have_attribute("data-visible", "false")
    before = updates(page)
    draw(page, 1)
    expect_top_label(page, "1")
    assert updates(page) == before
    page.locator(f"{VIEW} summary").click()  # open again: it shows the drawing at once
    expect(page.locator(VIEW)).to_have_attribute("data-visible", "true")
    expect(page.locator(VIEW)).not_to_have_attribute("data-updates", str(before), timeout=10_000)


def test_the_view_on_a_phone_scrolls_sideways(browser, app_server, shots):
    page = open_app(browser, app_server.url, **PHONE)
    try:
        expect_view_ready(page)
        fold = page.locator(f"{VIEW} details")
        assert fold.evaluate("details => details.open") is False  # folded: the answer stays near the pad
        page.locator(f"{VIEW} summary").click()
        stages = page.locator(f"{VIEW} .network-stages")
        assert stages.evaluate("e => e.scrollWidth > e.clientWidth + 100")  # the stages scroll sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # not the page
        page.locator(PAD).scroll_into_view_if_needed()
        cdp = page.context.new_cdp_session(page)
        before = updates(page)
        for stroke in DIGIT_STROKES[7]:
            touch_stroke(page, cdp, stroke)
        expect_top_label(page, "7")
        if page.locator(VIEW).get_attribute("data-visible") == "true":
            assert updates(page) > before
        page.wait_for_timeout(600)  # a person's next tap, not a double tap
        page.locator(f"{VIEW} [data-layer=conv1] button").nth(0).tap()
        expect(page.locator(f"{VIEW} .map-detail")).to_have_attribute("data-examples", "9", timeout=20_000)
        page.locator(VIEW).screenshot(path=str(shots / "network-view-phone.png"))
    finally:
        page.context.close()


def test_the_view_in_dark_mode(browser, app_server, shots):
    page = open_app(browser, app_server.url + "?__theme=dark")
    try:
        expect_view_ready(page)
        draw(page, 4)
        expect_top_label(page, "4")
        text = page.locator(f"{VIEW} .stage-name").first.evaluate("e => getComputedStyle(e).color")
        channels = [int(c) for c in text[text.index("(") + 1 : text.index(")")].split(",")[:3]]
        assert min(channels) > 150, text  # light text on the dark page
        page.locator(VIEW).screenshot(path=str(shots / "network-view-dark.png"))
    finally:
        page.context.close()


def test_the_view_in_an_embed(browser, embedding_page):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        page.goto(embedding_page)
        scope = page.locator("gradio-app")
        scope.locator(PAD).wait_for(timeout=60_000)
        scope.locator(PAD).scroll_into_view_if_needed()
        expect_view_ready(scope)
        before = updates(scope)
        draw(page, 7, scope)
        expect_top_label(scope, "7")
        assert updates(scope) - before >= 10
        scope.locator(f"{VIEW} [data-layer=conv1] button").nth(2).click()
        expect(scope.locator(f"{VIEW} .map-detail")).to_have_attribute("data-examples", "9", timeout=20_000)
    finally:
        page.context.close()


def test_without_webassembly_the_server_sends_the_stages_on_pen_up(browser, app_server):
    page = page_without_webassembly(browser, app_server.url)
    try:
        expect(page.locator(VIEW)).to_have_attribute("data-ready", "true", timeout=60_000)
        page.wait_for_timeout(2000)  # the time the reader would take to load
        expect_engine(page, "server")
        before = updates(page)
        draw_stroke(page, DIGIT_STROKES[7][0], release=False)
        assert updates(page) == before  # the server sends no stages while the pen moves
        page.mouse.up()
        expect_top_label(page, "7")
        expect(page.locator(VIEW)).not_to_have_attribute("data-updates", str(before), timeout=20_000)
        names = page.locator(VIEW).evaluate("view => Object.keys(view.stages.stages)")
        assert names == ["input", *STAGES]
        expect(page.locator(f"{VIEW} [data-layer=output] li").nth(7)).to_have_class("top")
    finally:
        page.context.close()
