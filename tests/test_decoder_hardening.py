"""Decoder hardening (issue 18 items 4, 9, 11): containers, every Pillow failure, TIFF variants, 16-bit alpha."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from facekit.imageio import decode_image
from helpers import decode_error_message, png_chunk, png_header_only


def _ico(embedded: bytes, kind: int = 1, declared: int = 16) -> bytes:
    """An ICO (kind 1) or CUR (kind 2) directory of one entry that claims `declared` px and holds `embedded`."""
    entry = struct.pack("<BBBBHHII", declared, declared, 0, 0, 1, 32, len(embedded), 6 + 16)
    return struct.pack("<HHH", 0, kind, 1) + entry + embedded


def _icns(embedded: bytes, kind: bytes = b"ic10") -> bytes:
    block = kind + struct.pack(">I", len(embedded) + 8) + embedded
    return b"icns" + struct.pack(">I", len(block) + 8) + block


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail loudly if Pillow is asked to decode pixels."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("pixels were decoded before the size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


def test_ico_hiding_a_huge_png_is_refused_before_decoding(no_pixel_decoding) -> None:
    message = decode_error_message(_ico(png_header_only(13000, 13000)))
    assert "embedded image of 13000x13000" in message


def test_icns_holding_a_20000_squared_png_is_refused() -> None:
    message = decode_error_message(_icns(png_header_only(20000, 20000)))
    assert "embedded image of 20000x20000" in message


def test_cursor_with_a_huge_bitmap_header_is_refused(no_pixel_decoding) -> None:
    dib = struct.pack("<IiiHHIIiiII", 40, 12000, 24000, 1, 32, 0, 0, 0, 0, 0, 0)  # colour + mask: twice the height
    message = decode_error_message(_ico(dib, kind=2))
    assert "embedded image of 12000x12000" in message


def test_small_icons_still_decode() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (32, 32), (10, 200, 30, 255)).save(buffer, format="ICO", sizes=[(32, 32)])
    assert decode_image(buffer.getvalue()).shape == (32, 32, 3)


@pytest.mark.parametrize("failure", [RuntimeError("Failed to decode image"), NotImplementedError("DXT9"), KeyError("x")])
def test_any_pillow_failure_while_decoding_is_a_clear_error(monkeypatch, failure) -> None:
    def broken(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken)
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    message = decode_error_message(png.getvalue())
    assert "could not be decoded" in message and type(failure).__name__ in message


def test_any_pillow_failure_while_opening_is_a_clear_error(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise NotImplementedError("unsupported sub-format")

    monkeypatch.setattr(Image, "open", broken)
    assert "corrupt image header (NotImplementedError" in decode_error_message(b"\x89PNG\r\n\x1a\nrest")


def test_eps_is_refused_without_running_ghostscript() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    assert "EPS (PostScript)" in decode_error_message(eps)


def tiff_bytes(pixels: np.ndarray, photometric: int, sample_format: int, extra_samples: tuple[int, ...] = ()) -> bytes:
    """A minimal little-endian, uncompressed, single-strip TIFF of `pixels` (HxW or HxWxS)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, samples = pixels.shape
    body = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    tags = [
        (256, [width]), (257, [height]), (258, [pixels.dtype.itemsize * 8] * samples), (259, [1]), (262, [photometric]),
        (273, [8]), (277, [samples]), (278, [height]), (279, [len(body)]), (339, [sample_format] * samples),
    ]
    if extra_samples:
        tags.append((338, list(extra_samples)))
    ifd_offset = 8 + len(body)
    overflow_offset = ifd_offset + 2 + 12 * len(tags) + 4
    table, overflow = b"", b""
    for tag, values in sorted(tags):
        kind, code = (4, "I") if tag in (256, 257, 273, 278, 279) else (3, "H")
        packed = struct.pack("<" + code * len(values), *values)
        if len(packed) <= 4:
            table += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
        else:
            table += struct.pack("<HHII", tag, kind, len(values), overflow_offset + len(overflow))
            overflow += packed
    return b"II*\0" + struct.pack("<I", ifd_offset) + body + struct.pack("<H", len(tags)) + table + b"\0\0\0\0" + overflow


UNSUPPORTED_TIFFS = {
    "float RGB": (np.random.default_rng(1).random((8, 8, 3), np.float32), 2, 3, (), "3 samples per pixel (RGB), 32-bit floating point"),
    "float64 grey": (np.random.default_rng(2).random((8, 8)), 1, 3, (), "1 samples per pixel (greyscale), 64-bit floating point"),
    "CMYK + alpha": (np.full((8, 8, 5), 9, np.uint8), 5, 1, (2,), "5 samples per pixel (CMYK with alpha), 8-bit unsigned integer"),
    "16-bit grey + alpha": (np.full((8, 8, 2), 999, np.uint16), 1, 1, (2,), "2 samples per pixel (greyscale with alpha), 16-bit"),
}


@pytest.mark.parametrize("variant", sorted(UNSUPPORTED_TIFFS))
def test_unsupported_tiff_variants_are_named(variant) -> None:
    pixels, photometric, sample_format, extra, description = UNSUPPORTED_TIFFS[variant]
    message = decode_error_message(tiff_bytes(pixels, photometric, sample_format, extra))
    assert "TIFF variant Pillow cannot decode" in message and description in message
    assert "not an image format" not in message


def test_supported_tiffs_still_decode() -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert np.array_equal(decode_image(tiff_bytes(pixels, 2, 1)), pixels[..., ::-1])


def _png_grey_alpha_16(grey: int, alpha: int, size: int = 4) -> bytes:
    row = b"\x00" + struct.pack(">" + "HH" * size, *([grey, alpha] * size))
    header = struct.pack(">IIBBBBB", size, size, 16, 4, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(row * size)) + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("grey", "alpha"), [(0, 0x8000), (0, 0x7FFF), (0x1234, 0x8000), (0xFFFF, 0x0100), (0, 0xFF00)])
def test_sixteen_bit_grey_alpha_png_uses_the_whole_alpha(grey, alpha) -> None:
    """Composited on white with the 16-bit alpha (not its low byte: 0x8000 would be transparent, 0x7FFF opaque)."""
    expected = (grey / 65535 * alpha / 65535 + (1 - alpha / 65535)) * 255
    decoded = decode_image(_png_grey_alpha_16(grey, alpha))
    assert np.abs(decoded.astype(float) - expected).max() <= 1.5
