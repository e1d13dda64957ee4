"""Fuzz the one image decoder every entry point uses: any bytes give an image or an ImageDecodeError.

Seeds: a small real file of every format Pillow (and pillow-heif) can write,
plus CUR and DCX built by hand; each is mutated (one byte changed, a tail cut)
so the fuzzer reaches every plugin's header and pixel decoder. Bounded: a few
hundred examples of at most a few KB, about ten seconds.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facekit.errors import ImageDecodeError
from facekit.imageio import decode_image

# (Pillow format, mode to save in)
WRITABLE = [
    ("PNG", "RGB"), ("JPEG", "RGB"), ("WEBP", "RGB"), ("AVIF", "RGB"), ("BMP", "RGB"), ("DDS", "RGB"), ("GIF", "P"),
    ("ICO", "RGBA"), ("IM", "RGB"), ("JPEG2000", "RGB"), ("MSP", "1"), ("PCX", "RGB"), ("PPM", "RGB"), ("QOI", "RGB"),
    ("SGI", "RGB"), ("SPIDER", "F"), ("TGA", "RGB"), ("TIFF", "RGB"), ("XBM", "1"), ("BLP", "P"),
]


def _picture() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))


def _saved(image_format: str, mode: str) -> bytes | None:
    buffer = io.BytesIO()
    try:
        _picture().convert(mode).save(buffer, format=image_format)
    except (OSError, KeyError, ValueError):  # a codec this Pillow build lacks
        return None
    return buffer.getvalue()


def _icns() -> bytes:
    png = _saved("PNG", "RGBA")
    assert png is not None
    block = b"ic07" + struct.pack(">I", len(png) + 8) + png
    return b"icns" + struct.pack(">I", len(block) + 8) + block


def _cur() -> bytes:
    buffer = io.BytesIO()
    _picture().save(buffer, format="ICO", bitmap_format="bmp")
    ico = bytearray(buffer.getvalue())
    ico[2] = 2  # the same directory with type 2 is a cursor
    return bytes(ico)


def _dcx() -> bytes:
    pcx = _saved("PCX", "RGB") or b""
    return struct.pack("<II", 987654321, 12) + struct.pack("<I", 0) + pcx


def _heif() -> bytes | None:
    try:
        import pillow_heif
    except ImportError:
        return None
    buffer = io.BytesIO()
    pillow_heif.from_pillow(_picture()).save(buffer, format="HEIF", quality=50)
    return buffer.getvalue()


SEEDS = {name: data for name, data in [(f, _saved(f, m)) for f, m in WRITABLE] if data}
SEEDS.update(ICNS=_icns(), CUR=_cur(), DCX=_dcx())
if (heif := _heif()) is not None:
    SEEDS["HEIF"] = heif


def _check(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=4_000_000)
    except ImageDecodeError as error:
        assert str(error)  # a sentence, never empty
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= 4_000_000


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_decodes_unmutated(name: str) -> None:
    """Each seed is a real file of its format that FaceKit reads (so the mutations start from valid data)."""
    image = decode_image(SEEDS[name])
    assert image.shape[2] == 3 and image.shape[0] >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 400),
)
def test_mutated_real_images(name: str, changes: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(SEEDS[name])
    for position, value in changes:
        data[position % len(data)] = value
    _check(bytes(data[: max(1, len(data) - cut)]))
