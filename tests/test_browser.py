"""The page in headless Chromium: upload a photo, run a job, wait for the result, take screenshots.

Screenshots go to a temporary folder; with FACEKIT_SCREENSHOTS=docs/screenshots
they are written there (that is how the ones in docs/ were made).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from facekit.engine import Engine, EngineConfig
from helpers import REPO, insightface_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/setup_tests.sh installs it as root)")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("browser")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from app import build_demo

    engine = Engine(EngineConfig(models_dir=base / "models", offline=True))
    demo = build_demo(engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory) -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(app_url)
        yield page
        browser.close()


def screenshot_dir(tmp_path_factory) -> Path:
    wanted = os.environ.get("FACEKIT_SCREENSHOTS")
    folder = REPO / wanted if wanted else tmp_path_factory.mktemp("screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page, elem_id: str, image_name: str) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(insightface_image(image_name)))


def test_restore_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Restore")
    upload(page, "restore-image", "t1.jpg")
    page.locator("#restore-run").click()
    result = page.locator("#restore-result img").last
    result.wait_for(state="visible")
    assert result.evaluate("img => img.naturalWidth") == 1280
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "restore.png"), full_page=True)


def test_swap_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Swap")
    upload(page, "swap-source", "Tom_Hanks_54745.png")
    upload(page, "swap-target", "t1.jpg")
    page.locator("#swap-consent input[type=checkbox]").check()
    page.locator("#swap-run").click()
    result = page.locator("#swap-result img").last
    result.wait_for(state="visible")
    assert result.evaluate("img => img.naturalWidth") == 1280
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "swap.png"), full_page=True)


def test_frontalize_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Frontalize")
    upload(page, "frontalize-image", "t1.jpg")
    page.locator("#frontalize-run").click()
    first = page.locator("#frontalize-result img").first
    first.wait_for(state="visible")
    assert page.locator("#frontalize-result img").count() >= 6
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "frontalize.png"), full_page=True)


def test_batch_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Batch")
    page.locator("#batch-files input[type=file]").set_input_files(
        [str(insightface_image("t1.jpg")), str(insightface_image("Tom_Hanks_54745.png"))]
    )
    page.locator("#batch-run").click()
    page.locator("#batch-result a").first.wait_for(state="visible")
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "batch.png"), full_page=True)


def test_analyze_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Analyze")
    upload(page, "analyze-image", "t1.jpg")
    page.locator("#analyze-run").click()
    result = page.locator("#analyze-result img")
    result.wait_for(state="visible")
    assert result.evaluate("img => img.naturalWidth") == 1280
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "analyze.png"), full_page=True)


def test_models_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Models")
    table = page.locator("#models-table")
    table.wait_for(state="visible")
    assert "yunet_2023mar" in table.inner_text()
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "models.png"), full_page=True)
