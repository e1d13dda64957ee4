"""Issue 17.6: fast PNG results keep their provenance text chunks; JPEG / WebP results carry it in XMP and EXIF."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facekit.image_encode import encode_lossy, encode_png, read_provenance
from facekit.imageio import decode_image, write_image_atomic
from facekit.provenance import provenance_metadata

METADATA = {**provenance_metadata("swap", {"swapper": "mesh"}, {"visible_label": True}), "note": "café 東京"}


def _idat_zlib_level(png: bytes) -> int:
    """FLEVEL of the first IDAT's zlib header: 0 = fastest ... 3 = maximum compression."""
    position = 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        if kind == b"IDAT":
            return png[position + 9] >> 6
        position += 12 + length
    raise AssertionError("no IDAT chunk")


@pytest.fixture(scope="module")
def photo(t1) -> np.ndarray:
    return t1


def test_png_results_use_the_fast_zlib_level_and_keep_every_text_chunk(photo) -> None:
    png = encode_png(photo, METADATA)
    assert _idat_zlib_level(png) == 0  # Pillow's default (level 6) writes FLEVEL 2
    assert read_provenance(png) == METADATA  # tEXt, and iTXt for the non-Latin-1 note
    assert np.array_equal(decode_image(png), photo)


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3), (6, 5, 4)])
def test_png_round_trips_grey_bgr_and_bgra(shape) -> None:
    pixels = np.random.default_rng(4).integers(0, 256, shape, dtype=np.uint8)
    png = encode_png(pixels, {"k": "v"})
    decoded = np.asarray(Image.open(__import__("io").BytesIO(png)))
    expected = pixels if pixels.ndim == 2 else pixels[..., [2, 1, 0, 3][: shape[2]]]
    assert np.array_equal(decoded, expected)
    crc_ok = all(_chunks_have_valid_crcs(png))
    assert crc_ok


def _chunks_have_valid_crcs(png: bytes):
    position = 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        body = png[position + 4 : position + 8 + length]
        yield struct.unpack(">I", png[position + 8 + length : position + 12 + length])[0] == zlib.crc32(body) & 0xFFFFFFFF
        position += 12 + length


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp"])
def test_jpeg_and_webp_results_carry_the_provenance(tmp_path: Path, photo, suffix) -> None:
    path = tmp_path / f"result{suffix}"
    write_image_atomic(path, photo, METADATA)
    assert read_provenance(path) == METADATA
    with Image.open(path) as picture:
        exif = picture.getexif()
        assert exif[0x010E].startswith("AI-edited image: FaceKit swap") and exif[0x0131].startswith("FaceKit")
    assert path.stat().st_size < len(encode_png(photo, METADATA)) / 3  # the point of the option: small files


def test_jpeg_composites_alpha_on_white() -> None:
    transparent = np.zeros((16, 16, 4), dtype=np.uint8)
    assert decode_image(encode_lossy(transparent, "JPEG")).min() >= 250


def test_files_without_facekit_metadata_have_no_provenance(tmp_path: Path, photo) -> None:
    plain = tmp_path / "plain.jpg"
    Image.fromarray(photo[..., ::-1]).save(plain, format="JPEG")
    assert read_provenance(plain) == {}
