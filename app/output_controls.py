"""The Output file control the Restore, Swap and Frontalize tabs share: PNG, JPEG or WebP, and a quality.

In the API these are the last two inputs of /restore, /swap and /frontalize
(`output_format`: "png" (default), "jpeg" or "webp"; `quality`: 1..100, used
by JPEG and WebP). The download gets the format's suffix, with the
provenance in PNG text chunks or in XMP and EXIF.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from facekit.errors import FaceKitError
from facekit.image_encode import JPEG_QUALITY, OutputFormat

FORMAT_CHOICES = [("PNG (lossless)", "png"), ("JPEG (small file)", "jpeg"), ("WebP (small file)", "webp")]


def output_controls() -> tuple[gr.Dropdown, gr.Slider]:
    """The Output format dropdown and the Quality slider, in a closed accordion."""
    with gr.Accordion("Output file", open=False):
        kind = gr.Dropdown(choices=FORMAT_CHOICES, value="png", label="Output format (each carries the AI-edited label)")
        quality = gr.Slider(1, 100, value=JPEG_QUALITY, step=1, label="Quality (JPEG and WebP only)")
    return kind, quality


def format_from_controls(kind: Any = "png", quality: Any = JPEG_QUALITY) -> OutputFormat:
    """The OutputFormat the controls (or an API call) ask for; PNG ignores the quality slider."""
    if not isinstance(kind, str):
        raise FaceKitError(f"The output format must be text; got {type(kind).__name__}.", "Choose {control:format} png, jpeg or webp.")
    chosen = kind.strip().lower()
    if chosen == "png":
        return OutputFormat("png")
    if isinstance(quality, float) and quality.is_integer():
        quality = int(quality)
    return OutputFormat(chosen, quality)
