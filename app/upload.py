"""The image input every tab uses.

Gradio writes a type stub (upload.pyi) beside any module that defines a
component class; it is ignored by git and ruff.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, ImageOps

from app.common import image_from_upload, rgb
from facekit.errors import FaceKitError

#: the example photo the API page shows (InsightFace's six-person sample, the same file as the app's examples)
EXAMPLE_PHOTO_URL = "https://raw.githubusercontent.com/deepinsight/insightface/master/python-package/insightface/data/images/t1.jpg"


def example_photo() -> dict[str, Any]:
    """FileData for the API page's examples: a photo with faces (Gradio's own example is a bus)."""
    return {"path": EXAMPLE_PHOTO_URL, "url": EXAMPLE_PHOTO_URL, "orig_name": "t1.jpg", "meta": {"_type": "gradio.FileData"}}


#: longest side of an example photo's thumbnail in the examples table
EXAMPLE_THUMBNAIL_SIDE = 160


def thumbnail_data_url(path: str, side: int = EXAMPLE_THUMBNAIL_SIDE) -> str:
    """A small JPEG of an example photo as a data: URL, so the page config names no file on the server."""
    with Image.open(path) as opened:
        thumbnail = ImageOps.exif_transpose(opened).convert("RGB")
    thumbnail.thumbnail((side, side))
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class ImageUpload(gr.Image):
    """An image input that hands the uploaded file's path to FaceKit's own decoder untouched.

    gr.Image would open the file with Pillow before the handler runs, so a
    broken upload would fail inside Gradio with a generic message, and EXIF,
    pixel limits and colour modes would be handled twice. This keeps the
    gr.Image front end (Gradio's `is_template` mechanism) and lets
    `facekit.imageio.decode_image` judge every file.
    """

    is_template = True  # Gradio's mechanism for subclasses: the front end renders the parent gr.Image

    def preprocess(self, payload: Any) -> str | None:
        if payload is None:
            return None
        if getattr(payload, "path", None) and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)

    def example_inputs(self) -> Any:
        return example_photo()

    def process_example(self, value: Any) -> Any:
        """What the examples table shows: a thumbnail inside the page config, not Gradio's cached copy.

        gr.Image would copy the photo into Gradio's cache and put that server
        path (and a file= URL naming it) into /config. Clicking an example
        still loads the photo itself: Gradio sends it from the server then.
        """
        if value is None:
            return None
        return {"url": thumbnail_data_url(str(value)), "orig_name": Path(str(value)).name}


class PhotoFiles(gr.File):
    """gr.File for several photos, whose API example is a photo with faces (gr.File's is a PDF)."""

    is_template = True

    def example_inputs(self) -> Any:
        return [example_photo()]


def image_upload(label: str, elem_id: str) -> ImageUpload:
    """An upload box whose handler receives the file's path (or None)."""
    return ImageUpload(label=label, elem_id=elem_id, type="filepath", image_mode=None, format="png")


#: what every browser shows as it is (Pillow format names and modes); anything else is previewed as FaceKit decoded it
BROWSER_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})
BROWSER_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})


def browser_shows(path: str) -> bool:
    """Whether a browser can display the file as uploaded (PPM, TIFF, HEIC, 16-bit and CMYK files it cannot)."""
    try:
        with Image.open(path) as opened:
            return opened.format in BROWSER_FORMATS and opened.mode in BROWSER_MODES
    except Exception:  # not for Pillow alone (HEIC, broken files): the decoder decides
        return False


def decoded_preview(upload: Any) -> Any:
    """The upload box's new value: the file itself when a browser shows it, else a PNG of what FaceKit decoded.

    An unreadable file is removed from the box with a warning that says why (the same sentence a job would give).
    """
    if upload is None or browser_shows(str(upload)):
        return gr.skip()
    try:
        return rgb(image_from_upload(upload))
    except FaceKitError as error:
        gr.Warning(error.text("app"))
        return None


def on_new_upload(upload: ImageUpload, results: list[gr.components.Component]) -> None:
    """On a new upload: show what FaceKit decoded (browser-safe PNG) and clear the old results beside it."""

    def refresh(value: Any) -> tuple[Any, ...]:
        return (decoded_preview(value), *(None for _ in results))

    upload.upload(refresh, inputs=upload, outputs=[upload, *results], api_visibility="private", show_progress="hidden")
