"""Look inside encoded image bytes before Pillow decodes them.

Two jobs, both on the raw bytes and without decoding any pixel:

* `embedded_sizes`: the real pixel sizes of the images a container holds
  (ICO and CUR directories, ICNS blocks). Their directories may claim 16x16
  while the embedded PNG is 13000x13000, and Pillow decodes the embedded
  image before anyone can look at its size.
* `describe_tiff`: what kind of TIFF a file is (samples, bits, sample format,
  photometric interpretation, alpha), to say which variant Pillow cannot read.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

from PIL import Image, TiffImagePlugin

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_CODESTREAM = b"\xff\x4f\xff\x51"
_ICO_MAGICS = (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")  # ICO, CUR
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_MAX_CONTAINER_ENTRIES = 4096

_PHOTOMETRIC = {0: "greyscale", 1: "greyscale", 2: "RGB", 3: "palette", 4: "mask", 5: "CMYK", 6: "YCbCr", 8: "CIELab"}
_SAMPLE_FORMAT = {1: "unsigned integer", 2: "signed integer", 3: "floating point", 4: "untyped", 5: "complex integer", 6: "complex float"}


def is_tiff(data: bytes) -> bool:
    return data[:4] in _TIFF_MAGICS


def embedded_sizes(data: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image embedded in an ICO, CUR or ICNS file; [] for other data."""
    if data[:4] in _ICO_MAGICS:
        parts = _ico_parts(data)
    elif data[:4] == b"icns":
        parts = _icns_parts(data)
    else:
        return []
    return [size for part in parts if (size := _image_size(part)) is not None]


def _ico_parts(data: bytes) -> Iterator[bytes]:
    count = struct.unpack_from("<H", data, 4)[0] if len(data) >= 6 else 0
    for number in range(min(count, _MAX_CONTAINER_ENTRIES)):
        start = 6 + 16 * number
        if start + 16 > len(data):
            return
        size, offset = struct.unpack_from("<II", data, start + 8)
        yield data[offset : offset + min(size, 64)]


def _icns_parts(data: bytes) -> Iterator[bytes]:
    position = 8
    for _ in range(_MAX_CONTAINER_ENTRIES):
        if position + 8 > len(data):
            return
        length = struct.unpack_from(">I", data, position + 4)[0]
        if length < 8:
            return
        yield data[position + 8 : position + length]
        position += length


def _image_size(part: bytes) -> tuple[int, int] | None:
    """The size an embedded PNG, JPEG 2000 or BMP (DIB) header declares."""
    if part.startswith(_PNG_SIGNATURE) and len(part) >= 24:
        width, height = struct.unpack_from(">II", part, 16)
        return width, height
    if part.startswith((_JP2_SIGNATURE, _J2K_CODESTREAM)):
        try:
            with Image.open(io.BytesIO(part), formats=["JPEG2000"]) as image:  # header only
                return image.size
        except Exception:  # noqa: BLE001 - an unreadable header is Pillow's to report later
            return None
    if len(part) >= 12 and struct.unpack_from("<I", part, 0)[0] in (12, 40, 52, 56, 64, 108, 124):
        width, height = struct.unpack_from("<ii", part, 4)
        return abs(width), abs(height) // 2  # icon DIBs store colour and mask: twice the height
    return None


def describe_tiff(data: bytes) -> str | None:
    """E.g. '3 samples per pixel (RGB), 32-bit floating point'; None when the header cannot be read."""
    try:
        directory = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
        stream = io.BytesIO(data)
        stream.seek(directory.next)
        directory.load(stream)
    except Exception:  # noqa: BLE001 - any header failure: nothing to describe
        return None
    samples = _first(directory.get(277), 1)
    bits = _first(directory.get(258), 1)
    sample_format = _SAMPLE_FORMAT.get(_first(directory.get(339), 1), "unknown sample format")
    photometric = _PHOTOMETRIC.get(_first(directory.get(262), -1), "unknown colour space")
    alpha = " with alpha" if directory.get(338) else ""
    return f"{samples} samples per pixel ({photometric}{alpha}), {bits}-bit {sample_format}"


def _first(value: object, default: int) -> int:
    if isinstance(value, tuple):
        value = value[0] if value else default
    return int(value) if isinstance(value, int | float) else default
