"""Animated GIF, WebP and APNG, read through Pillow (FFmpeg cannot decode animated WebP) and written frame by frame.

Frames come out composited (Pillow applies each frame's disposal), as BGR
uint8 on white where they are transparent, each with its display time in
milliseconds.

Writing streams: `AnimationWriter.add` encodes each frame as it comes and
keeps no decoded frame.
- GIF: Pillow's frame-level GIF writer (`getheader` / `getdata`), one
  adaptive palette per frame (a local colour table), written to the file at once.
- APNG: each frame PNG-encoded by OpenCV and its image data written as the
  frame's IDAT / fdAT chunks; the frame count in `acTL` is filled in on close.
- WebP: libwebp's animation encoder (through Pillow), which keeps the
  *compressed* frames until it assembles the file on close (a few kB per
  frame; the frame and pixel limits bound it). Decoded frames are not kept.
Provenance: a GIF comment, PNG text chunks, WebP XMP.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
from PIL import GifImagePlugin, Image, ImageSequence

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


class AnimationWriter:
    """Writes an animated GIF / WebP / APNG one frame at a time (`add`), finished by `close`; nothing decoded is kept."""

    def __init__(self, path: Path, kind: str, metadata: dict[str, str]) -> None:
        if kind not in PILLOW_FORMATS:
            raise ValueError(f"unknown animation kind {kind!r}")
        self.kind = kind
        self.metadata = metadata
        self.frames = 0
        self.comment = metadata.get("Description", "AI-edited with FaceKit")
        self.file: IO[bytes] = open(path, "wb")  # noqa: SIM115  # closed by close()
        self._apng_actl = 0
        self._sequence = 0
        self._webp: Any = None
        self._elapsed_ms = 0

    def add(self, image_bgr: np.ndarray, duration_ms: int) -> None:
        """Append one BGR frame shown for `duration_ms` (at least 10 ms)."""
        duration = max(10, int(duration_ms))
        if self.kind == "gif":
            self._add_gif(image_bgr, duration)
        elif self.kind == "apng":
            self._add_apng(image_bgr, duration)
        else:
            self._add_webp(image_bgr, duration)
        self.frames += 1

    def close(self) -> None:
        """Finish the file (trailer, frame count or the assembled WebP) and close it."""
        try:
            if self.kind == "gif":
                self.file.write(b";")
            elif self.kind == "apng":
                self.file.write(_png_chunk(b"IEND", b""))
                self.file.seek(self._apng_actl)
                self.file.write(_png_chunk(b"acTL", struct.pack(">II", self.frames, 0)))
            elif self._webp is not None:
                self._webp.add(None, self._elapsed_ms, False, 90, 100, 0)
                self.file.write(self._webp.assemble("", "", _xmp(self.comment)))
        finally:
            self.file.close()

    def abort(self) -> None:
        self.file.close()

    def _add_gif(self, image_bgr: np.ndarray, duration: int) -> None:
        picture = Image.fromarray(np.ascontiguousarray(image_bgr[..., ::-1])).convert("P", palette=Image.Palette.ADAPTIVE)
        if self.frames == 0:
            header, _ = GifImagePlugin.getheader(picture, info={"loop": 0, "comment": self.comment.encode("utf-8")})
            self.file.write(b"".join(header))
        for data in GifImagePlugin.getdata(picture, duration=duration, include_color_table=True):
            self.file.write(bytes(data))

    def _add_apng(self, image_bgr: np.ndarray, duration: int) -> None:
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image_bgr))
        if not ok:
            raise OSError("OpenCV could not PNG-encode a frame")
        chunks = _png_chunks(encoded.tobytes())
        if self.frames == 0:
            self.file.write(PNG_SIGNATURE + _png_chunk(b"IHDR", chunks[0][1]))
            self._apng_actl = self.file.tell()
            self.file.write(_png_chunk(b"acTL", struct.pack(">II", 0, 0)))  # the frame count is written on close
            for key, value in self.metadata.items():
                self.file.write(_png_text(key, value))
        height, width = image_bgr.shape[:2]
        sequence = self._apng_sequence()
        control = struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, min(duration, 65535), 1000, 0, 0)
        self.file.write(_png_chunk(b"fcTL", control))
        for kind, data in chunks:
            if kind != b"IDAT":
                continue
            if self.frames == 0:
                self.file.write(_png_chunk(b"IDAT", data))
            else:
                self.file.write(_png_chunk(b"fdAT", struct.pack(">I", self._apng_sequence()) + data))

    def _apng_sequence(self) -> int:
        """APNG's running sequence number over fcTL and fdAT chunks."""
        self._sequence += 1
        return self._sequence - 1

    def _add_webp(self, image_bgr: np.ndarray, duration: int) -> None:
        picture = Image.fromarray(np.ascontiguousarray(image_bgr[..., ::-1]))
        if self._webp is None:
            from PIL import _webp  # libwebp's WebPAnimEncoder, as Pillow's own WebP writer uses it

            self._webp = _webp.WebPAnimEncoder(picture.size, 0xFFFFFFFF, 0, False, 3, 5, False, False)
        self._webp.add(picture.getim(), self._elapsed_ms, False, 90, 100, 0)
        self._elapsed_ms += duration


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk of a PNG file."""
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        chunks.append((kind, png[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def _png_text(key: str, value: str) -> bytes:
    """A tEXt chunk, or iTXt (UTF-8) when the value is not Latin-1."""
    try:
        return _png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def _xmp(description: str) -> bytes:
    text = description.replace("&", "&amp;").replace("<", "&lt;")
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>'
        f"{text}</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
