"""The image input every tab uses.

Gradio writes a type stub (upload.pyi) beside any module that defines a
component class; it is ignored by git and ruff.
"""

from __future__ import annotations

from typing import Any

import gradio as gr


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


def image_upload(label: str, elem_id: str) -> ImageUpload:
    """An upload box whose handler receives the file's path (or None)."""
    return ImageUpload(label=label, elem_id=elem_id, type="filepath", image_mode=None, format="png")
