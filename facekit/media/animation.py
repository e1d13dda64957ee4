"""Animated GIF, WebP and APNG through Pillow (FFmpeg cannot decode animated WebP).

Frames come out composited (Pillow applies each frame's disposal), as BGR
uint8 on white where they are transparent, each with its display time in
milliseconds. Writing needs every frame at once (Pillow builds the palette
and frame deltas over the whole animation), so animations are capped by the
same frame and pixel limits as videos and are short by nature.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, PngImagePlugin

ANIMATION_FORMATS = {"GIF": "gif", "WEBP": "webp", "PNG": "apng"}
PILLOW_FORMATS = {"gif": "GIF", "webp": "WEBP", "apng": "PNG"}
DEFAULT_FRAME_MS = 100


def animation_kind(path: Path) -> str | None:
    """'gif', 'webp' or 'apng' for an animated file Pillow reads, else None (including still images)."""
    try:
        with Image.open(path) as image:
            if not getattr(image, "is_animated", False):
                return None
            return ANIMATION_FORMATS.get(image.format or "")
    except (OSError, ValueError, SyntaxError):
        return None


def animation_summary(path: Path) -> tuple[int, int, int, float]:
    """(width, height, frames, seconds) from the headers and frame durations, without decoding pixels."""
    with Image.open(path) as image:
        total_ms = 0
        for frame in ImageSequence.Iterator(image):
            frame.load()  # WebP fills in a frame's duration only when it is loaded
            total_ms += int(frame.info.get("duration") or DEFAULT_FRAME_MS)
        return image.width, image.height, int(getattr(image, "n_frames", 1)), total_ms / 1000.0


def read_animation(path: Path) -> Iterator[tuple[np.ndarray, int, int]]:
    """(BGR frame, start ms, duration ms) per frame, one frame in memory at a time."""
    with Image.open(path) as image:
        start = 0
        for frame in ImageSequence.Iterator(image):
            rgba = frame.convert("RGBA")  # loads the frame, which sets its duration (WebP)
            duration = int(frame.info.get("duration") or DEFAULT_FRAME_MS)
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
            yield np.ascontiguousarray(rgb[..., ::-1]), start, duration
            start += duration


def write_animation(path: Path, kind: str, frames: list[np.ndarray], durations_ms: list[int], metadata: dict[str, str]) -> None:
    """Write BGR frames as an animated GIF / WebP / APNG with their durations and a provenance comment."""
    pictures = [Image.fromarray(np.ascontiguousarray(frame[..., ::-1])) for frame in frames]
    durations = [max(10, int(d)) for d in durations_ms]
    options: dict[str, object] = {"save_all": True, "append_images": pictures[1:], "duration": durations, "loop": 0}
    comment = metadata.get("Description", "AI-edited with FaceKit")
    if kind == "gif":
        options["comment"] = comment.encode("utf-8")
    elif kind == "apng":
        info = PngImagePlugin.PngInfo()
        for key, value in metadata.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    elif kind == "webp":
        options.update(lossless=False, quality=90, xmp=_xmp(comment))
    pictures[0].save(path, format=PILLOW_FORMATS[kind], **options)


def _xmp(description: str) -> bytes:
    text = description.replace("&", "&amp;").replace("<", "&lt;")
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>'
        f"{text}</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
