"""The page in headless Chromium: upload a photo, run a job, wait for the result, take screenshots.

Screenshots go to a temporary folder; with FACEKIT_SCREENSHOTS=docs/screenshots
they are written there (that is how the ones in docs/ were made), and the app is
the one `python launch.py` starts on a fresh checkout: online (an empty models
folder, so the learned models show as downloads), the default face cap, only the
embedded models used (each job picks `classic` / `mesh`, so nothing is fetched).
Without it the app is offline and caps faces at 8 (the tests check the cap).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from facekit.analysis import DEFAULT_MAX_FACES
from facekit.engine import Engine, EngineConfig
from helpers import REPO, insightface_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

#: screenshots show the app a user gets (launch.py's defaults); the tests' own app is offline with a small face cap
USER_APP = bool(os.environ.get("FACEKIT_SCREENSHOTS"))
APP_MAX_FACES = DEFAULT_MAX_FACES if USER_APP else 8

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/setup_tests.sh installs it as root)")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("browser")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from app import build_demo

    engine = Engine(EngineConfig(models_dir=base / "models", offline=not USER_APP))
    demo = build_demo(engine, max_faces=None if USER_APP else APP_MAX_FACES)
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


#: the docs keep screenshots small: a 256-colour palette, fewer colours while a file is over the limit
SCREENSHOT_BYTES = 300_000


def shoot(page, path: Path, full_page: bool = True) -> None:
    """A screenshot; those written for the docs (FACEKIT_SCREENSHOTS) are reduced to a palette PNG under 300 KB."""
    page.screenshot(path=str(path), full_page=full_page)
    if not USER_APP:
        return
    from PIL import Image

    picture = Image.open(path).convert("RGB")
    for colours in (256, 128, 64):
        picture.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size < SCREENSHOT_BYTES:
            return


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def upload(page, elem_id: str, image_name: str) -> None:
    upload_file(page, elem_id, insightface_image(image_name))


def upload_file(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def toast_text(page) -> str:
    """The text of the toasts shown now (warnings and errors), once one is there."""
    page.locator("[data-testid=toast-body]").first.wait_for(state="visible")
    return page.locator(".toast-wrap").inner_text()


def close_toasts(page) -> None:
    for close in page.locator("[data-testid=toast-close]").all():
        close.click()


def shown_width(page, elem_id: str, width: int) -> None:
    """Wait until the upload box shows an image `width` px wide (decoded and loaded, not a broken icon)."""
    page.wait_for_function(
        "([id, width]) => [...document.querySelectorAll(`#${id} img`)].some(img => img.complete && img.naturalWidth === width)",
        arg=[elem_id, width],
    )


def choose(page, elem_id: str, label: str) -> list[str]:
    """Pick `label` in a dropdown (an embedded model: nothing is downloaded, online or not); the choices it offered, in order."""
    page.locator(f"#{elem_id} input").click()
    options = page.get_by_role("option")
    options.first.wait_for(state="visible")
    labels = [text.strip() for text in options.all_inner_texts()]
    page.get_by_role("option", name=label).click()
    return labels


def status_text(page, elem_id: str, wanted: str) -> str:
    """The status line under a Run button, once it says `wanted`."""
    page.wait_for_function("([id, text]) => document.querySelector(`#${id}`)?.innerText.includes(text)", arg=[elem_id, wanted])
    return page.locator(f"#{elem_id}").inner_text()



def loaded_width(page, image) -> int:
    """The natural width of an <img> once its pixels have arrived (a visible <img> may not have loaded yet)."""
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return image.evaluate("img => img.naturalWidth")

def test_restore_tab_in_the_browser(page, tmp_path_factory) -> None:
    """Model labels are short, ready ones first, the licence line follows the choice (16.10); a status line under the
    button says what was done (16.14); a new upload clears the old result (16.14)."""
    open_tab(page, "Restore")
    assert not any(title.is_visible() for title in page.get_by_text("Diffusion refinement").all())  # none listed (16.9)
    licence = page.locator("#restore-model-licence")
    assert licence.inner_text().startswith("Empty: ")
    if not USER_APP:  # offline: the learned models are named as not available, not offered
        assert "Not available here: gfpgan_1.4" in licence.inner_text()
    labels = choose(page, "restore-model", "classic · ready")
    assert labels[0] == "classic · ready" and all(" · download " in label for label in labels[1:])
    assert all(len(label) <= 45 for label in labels) and (USER_APP or len(labels) == 1)
    page.wait_for_function("() => document.querySelector('#restore-model-licence').innerText.includes('classic: licence MIT')")
    upload(page, "restore-image", "t1.jpg")
    page.locator("#restore-run").click()
    result = page.locator("#restore-result img").last
    result.wait_for(state="visible")
    assert loaded_width(page, result) == 1280
    assert "Done: 6 faces restored" in status_text(page, "restore-status", "Done")
    last = page.locator("#restore-faces").get_by_text("seconds").first.bounding_box()
    assert last is not None and last["x"] + last["width"] <= 1400  # every column in view (16.8)
    shoot(page, screenshot_dir(tmp_path_factory) / "restore.png")
    upload(page, "restore-image", "Tom_Hanks_54745.png")
    page.wait_for_function("() => document.querySelectorAll('#restore-result img').length === 0")
    assert page.locator("#restore-status").inner_text().strip() == ""


def test_swap_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Swap")
    choose(page, "swap-model", "mesh · ready")
    upload(page, "swap-source", "Tom_Hanks_54745.png")
    upload(page, "swap-target", "t1.jpg")
    page.locator("#swap-consent input[type=checkbox]").check()
    page.locator("#swap-run").click()
    result = page.locator("#swap-result img").last
    result.wait_for(state="visible")
    assert "Done: 6 faces swapped" in status_text(page, "swap-status", "Done")
    assert "source photo face 0" in page.locator("#swap-faces").inner_text()  # which source face was used
    assert page.locator("#swap-source-face input, #swap-source-face textarea").first.input_value() == "largest"
    table = page.get_by_text("closer to source").first.bounding_box()
    assert table is not None and table["x"] + table["width"] <= 1400  # every column in view
    assert loaded_width(page, result) == 1280
    shoot(page, screenshot_dir(tmp_path_factory) / "swap.png")


def test_frontalize_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Frontalize")
    upload(page, "frontalize-image", "t1.jpg")
    page.locator("#frontalize-run").click()
    first = page.locator("#frontalize-result img").first
    first.wait_for(state="visible")
    assert "Done: 6 faces turned to the front" in status_text(page, "frontalize-status", "Done")
    table = page.locator("#frontalize-faces").get_by_text("same person").first.bounding_box()
    assert table is not None and table["x"] + table["width"] <= 1400  # the last column in view (16.8)
    assert page.locator("#frontalize-result img").count() >= 6
    shoot(page, screenshot_dir(tmp_path_factory) / "frontalize.png")


def test_batch_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Batch")
    page.locator("#batch-files input[type=file]").set_input_files(
        [str(insightface_image("t1.jpg")), str(insightface_image("Tom_Hanks_54745.png"))]
    )
    page.locator("#batch-run").click()
    page.locator("#batch-result a").first.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#batch-summary')?.innerText.includes('2 ok, 0 failed')")
    assert "Done: 2 ok, 0 failed" in status_text(page, "batch-status", "Done")
    shoot(page, screenshot_dir(tmp_path_factory) / "batch.png")


def test_analyze_tab_in_the_browser(page, tmp_path_factory) -> None:
    open_tab(page, "Analyze")
    upload(page, "analyze-image", "t1.jpg")
    page.locator("#analyze-run").click()
    result = page.locator("#analyze-result img")
    result.wait_for(state="visible")
    assert loaded_width(page, result) == 1280
    assert "faces found: 6 in the photo" in status_text(page, "analyze-status", "Done")
    assert page.locator("#analyze-detector-licence").inner_text().startswith("Empty: dlib_hog, the best ready")
    shoot(page, screenshot_dir(tmp_path_factory) / "analyze.png")


def test_models_tab_in_the_browser(page, tmp_path_factory) -> None:
    """Licence in view at 1400 px; a failed (offline) download keeps the table (only the message box shows the error)."""
    open_tab(page, "Models")
    table = page.locator("#models-table")
    table.wait_for(state="visible")
    assert "dlib_hog" in table.inner_text() and ("not downloaded" if USER_APP else "unavailable") in table.inner_text()  # short
    licence = table.get_by_text("commercial use").first.bounding_box()
    assert licence is not None and licence["x"] + licence["width"] <= 1400
    shoot(page, screenshot_dir(tmp_path_factory) / "models.png")
    if USER_APP:
        return  # online, a download would really fetch 324 MB
    page.locator("#models-choice input").click()
    page.get_by_role("option", name="gfpgan_1.4").click()
    page.locator("#models-download").click()
    assert "offline" in toast_text(page)
    assert "dlib_hog" in table.inner_text()  # the table stays
    close_toasts(page)


def test_video_tab_in_the_browser(page, tmp_path, tmp_path_factory) -> None:
    """A generated phone-like clip (rotated, with sound) restored from the Video tab: the result plays in the page."""
    from clips import moving_face_frames, write_clip

    portrait = moving_face_frames(8, width=240, height=320)  # upright 240x320, coded 320x240 turned by 90° (a phone)
    clip = write_clip(tmp_path / "clip.mp4", portrait, fps=8, audio_seconds=1.0, rotation=90)
    open_tab(page, "Video")
    upload_file(page, "video-input", clip)
    page.locator("#video-input").get_by_text("clip.mp4").first.wait_for(state="visible")
    page.locator("#video-restore").click()
    video = page.locator("#video-result video")
    video.wait_for(state="attached", timeout=180_000)
    page.wait_for_function("() => document.querySelector('#video-result video')?.readyState >= 1", timeout=60_000)
    shown = video.evaluate("v => [v.videoWidth, v.videoHeight, v.duration]")
    assert shown[:2] == [240, 320] and shown[2] > 0.9, shown  # portrait: the rotation was kept and applied by the player
    page.screenshot(path=str(screenshot_dir(tmp_path_factory) / "video.png"), full_page=True)


def test_api_page_examples(page, app_url) -> None:
    """The API page: optional inputs show defaults, the examples are a photo with faces (not a bus or a PDF)."""
    page.get_by_text("Use via API").click()
    page.get_by_text("API name: /swap").first.wait_for(state="visible")
    sections = {part.split()[0]: part for part in page.locator("body").inner_text().split("API name: ")[1:]}
    for name in ("/restore", "/swap", "/frontalize", "/analyze", "/batch"):
        assert "t1.jpg" in sections[name] and "bus.png" not in sections[name] and ".pdf" not in sections[name], name
    for name in ("/video_restore", "/video_swap", "/video_preview"):  # a video file name, never a PDF
        assert "phone_clip.mp4" in sections[name] and ".pdf" not in sections[name], name
    assert "t1.jpg" in sections["/video_swap"] and "Only `video` is required" in sections["/video_restore"]
    assert "restore=None" in sections["/swap"] and "must be True" in sections["/swap"]  # consent: what it needs
    page.goto(app_url)


# ----------------------------------------------------------------- issue 16: what a newcomer met


def test_analyze_at_the_lowest_threshold_stays_usable(page) -> None:
    """0.05 used to give ~480 faces, a 478-column table and a crashed tab; now capped with a warning."""
    if USER_APP:
        pytest.skip("the cap is checked by the tests' own app (8 faces); at 64 faces a loaded CPU needs minutes")
    open_tab(page, "Analyze")
    upload(page, "analyze-image", "t1.jpg")
    number = page.locator("#analyze-threshold input[type=number]")
    number.fill("0.05")
    number.press("Enter")
    page.locator("#analyze-run").click()
    assert f"More than {APP_MAX_FACES} faces were found" in toast_text(page)
    page.locator("#analyze-result img").first.wait_for(state="visible")
    rows = page.locator("#analyze-pairs tbody tr")
    assert 0 < rows.count() <= 30
    table = page.locator("#analyze-pairs").bounding_box()
    assert table is not None and table["x"] + table["width"] <= 1400  # the pair table fits the page
    close_toasts(page)
    number.fill("0.5")
    number.press("Enter")


def test_uploads_browsers_cannot_show_are_previewed_as_decoded(page, tmp_path) -> None:
    """PPM, TIFF, 16-bit, CMYK and HEIC uploads used to show a broken-image icon in a collapsed box."""
    import numpy as np
    import pillow_heif
    from PIL import Image

    photo = Image.open(insightface_image("t1.jpg")).convert("RGB").resize((320, 221))
    files = {"photo.ppm": photo, "photo.tiff": photo, "photo_cmyk.tiff": photo.convert("CMYK")}
    sixteen = Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    files["photo_16bit.png"] = sixteen
    for name, picture in files.items():
        picture.save(tmp_path / name)
    pillow_heif.from_pillow(photo).save(tmp_path / "photo.heic")
    open_tab(page, "Analyze")
    for name in [*files, "photo.heic"]:
        upload_file(page, "analyze-second", tmp_path / name)
        shown_width(page, "analyze-second", 320)
        box = page.locator("#analyze-second").bounding_box()
        assert box is not None and box["height"] > 150, name  # not collapsed to a strip
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    upload_file(page, "analyze-second", broken)
    assert "not an image format FaceKit can read" in toast_text(page)
    close_toasts(page)


def test_analyze_draws_both_photos_and_opens_the_json(page) -> None:
    open_tab(page, "Analyze")
    upload(page, "analyze-image", "t1.jpg")
    upload(page, "analyze-second", "Tom_Hanks_54745.png")
    page.locator("#analyze-run").click()
    page.wait_for_function(  # both drawn and loaded (an <img> exists before its pixels arrive: naturalWidth 0)
        "() => { const imgs = [...document.querySelectorAll('#analyze-result img')];"
        " return imgs.length === 2 && imgs.every(img => img.complete && img.naturalWidth > 0); }"
    )
    widths = page.locator("#analyze-result img").evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
    assert sorted(widths) == [112, 1280]
    json_text = page.locator("#analyze-json").inner_text()
    assert '"landmarks_5"' in json_text and '"second"' in json_text  # expanded, both photos


def test_no_face_is_said_plainly(page, tmp_path) -> None:
    """Restoring a face-less photo used to return it unchanged, labelled as AI-edited, with an empty table."""
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (180, 180, 180)).save(blank)
    open_tab(page, "Restore")
    choose(page, "restore-model", "classic · ready")
    upload_file(page, "restore-image", blank)
    page.locator("#restore-run").click()
    assert "No face was found" in toast_text(page)
    assert page.locator("#restore-result img").count() == 0
    assert "Not done" in status_text(page, "restore-status", "Not done")  # not a success line
    close_toasts(page)


def test_phone_screens(page, app_url, tmp_path_factory) -> None:
    """At 390x844 the page fits the width (no sideways scrolling), a restore result can be reached, and a status line
    right under the button says it is done (the result itself is below the fold)."""
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        screen = phone.new_page()
        screen.set_default_timeout(60_000)
        screen.goto(app_url)
        folder = screenshot_dir(tmp_path_factory)
        open_tab(screen, "Restore")
        choose(screen, "restore-model", "classic · ready")
        upload(screen, "restore-image", "Tom_Hanks_54745.png")
        screen.locator("#restore-run").click()
        screen.locator("#restore-result img").last.wait_for(state="visible")
        assert screen.evaluate("() => document.documentElement.scrollWidth") <= 400
        assert "Done: 1 face restored - see the result below" in status_text(screen, "restore-status", "Done")
        button, status = screen.locator("#restore-run").bounding_box(), screen.locator("#restore-status").bounding_box()
        assert button is not None and status is not None and 0 <= status["y"] - (button["y"] + button["height"]) < 100
        screen.locator("#restore-run").scroll_into_view_if_needed()
        shoot(screen, folder / "phone_status.png", full_page=False)  # what the screen shows right after the tap
        shoot(screen, folder / "phone_restore.png")
    finally:
        phone.close()
