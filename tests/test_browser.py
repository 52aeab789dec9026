"""The app in a real browser: Playwright driving Debian's Chromium, headless, with mouse strokes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from conftest import DIGIT_STROKES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless Chromium on a machine with no network beyond loopback: nothing in the background.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def page(app_server, tmp_path_factory):
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: scripts/test.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(app_server.url)
        page.wait_for_selector("#sketchpad canvas", timeout=60_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: $SCREENSHOT_DIR (the README's come from there), else a temporary folder."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def draw(page: Page, digit: int) -> None:
    """Mouse strokes of ``digit`` (given on a 400x400 grid) over the middle of the visible canvas."""
    box = page.locator("#sketchpad canvas").first.bounding_box()
    side = 0.8 * (min(box["width"], box["height"]) - 60)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for stroke in DIGIT_STROKES[digit]:
        points = [(cx + (x - 200) / 400 * side, cy + (y - 200) / 400 * side) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=12)
        page.mouse.up()


def wait_for_images(page: Page, selector: str) -> None:
    """Galleries load lazily: wait until every visible image has its pixels."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{selector} img')].every(img => img.complete && img.naturalWidth > 0)",
        timeout=20_000,
    )


def top_label(page: Page) -> str:
    lines = [line.strip() for line in page.locator("#prediction").inner_text().splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else ""


def settled_top_label(page: Page, expected: str, timeout_s: float = 20) -> str:
    """The label's top class once it shows ``expected`` (or whatever it shows when time runs out)."""
    deadline = time.monotonic() + timeout_s
    while (label := top_label(page)) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return label


def test_draw_digits_and_clear(page, shots):
    expect(page.locator("#status")).to_contain_text("Draw a digit")
    page.get_by_role("button", name="Brush").click()
    for digit in (7, 1, 4, 0):
        draw(page, digit)
        expect(page.locator("#status")).to_contain_text(f"{digit} (", timeout=20_000)
        assert settled_top_label(page, str(digit)) == str(digit)
        expect(page.locator("#model-input img")).to_be_visible()
        if digit == 7:
            page.screenshot(path=str(shots / "draw.png"))
        page.locator("#clear-button").click()
        expect(page.locator("#status")).to_contain_text("Draw a digit", timeout=10_000)
        assert settled_top_label(page, "") == ""
        expect(page.locator("#model-input img")).to_have_count(0)


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


def test_confusion_tab(page, shots):
    page.get_by_role("tab", name="Confusion matrix").click()
    expect(page.locator("#confusion-image img")).to_be_visible(timeout=20_000)
    expect(page.locator("#per-class")).to_contain_text("precision")
    expect(page.get_by_text("Test accuracy")).to_be_visible()
    expect(page.locator("#pair-images img")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("were read as 9")).to_be_visible()
    page.screenshot(path=str(shots / "confusion.png"), full_page=True)


def test_training_and_model_tabs(page, shots):
    page.get_by_role("tab", name="Training").click()
    expect(page.locator("#loss-curves img")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Best validation accuracy")).to_be_visible()
    page.screenshot(path=str(shots / "training.png"), full_page=True)
    page.get_by_role("tab", name="Model").click()
    expect(page.get_by_text("Weights from")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(shots / "model.png"))
