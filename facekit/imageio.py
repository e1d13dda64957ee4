"""The one image decoder every FaceKit entry point uses (and, re-exported from image_encode, its writer).

`decode_image` turns a path, bytes, a numpy array or a Pillow image into a
contiguous BGR uint8 HxWx3 array. Sizes are checked before any pixel data is
decoded; EXIF orientation is applied; transparency is composited onto WHITE
(not dropped); 16-bit data is scaled to 8 bits; animations give their first
frame. Every failure is an :class:`ImageDecodeError` that names the problem.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from facekit.errors import ImageDecodeError
from facekit.image_encode import encode_png, write_image_atomic
from facekit.image_probe import describe_tiff, embedded_sizes, is_tiff

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "ImageSource", "decode_image", "encode_png", "write_image_atomic"]

ImageSource = bytes | bytearray | memoryview | str | os.PathLike | np.ndarray | Image.Image

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
# Formats Pillow can open but FaceKit refuses: EPS is decoded by running Ghostscript on the file.
_REFUSED_FORMATS = {"EPS": "an EPS (PostScript) file, which is decoded by running a program FaceKit does not run on uploads"}


def _sentence(error: BaseException) -> str:
    """An exception's text without a trailing full stop, for embedding in a sentence."""
    return str(error).strip().rstrip(".")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _read_file(path: Path, max_bytes: int) -> bytes:
    """Bytes of an image file, after checking it exists, is a file and is small enough."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ImageDecodeError(
            f"No image file at {path}.", "Check the path and file name.", "The uploaded file is no longer on the server: upload it again."
        ) from None
    except OSError as error:
        raise ImageDecodeError(
            f"Cannot read {path}: {error.strerror}.", "Check the path and its permissions."
        ) from None
    if not path.is_file():
        raise ImageDecodeError(f"{path} is not a file.", "Pass the path of an image file.")
    if stat.st_size == 0:
        raise ImageDecodeError(f"{path.name} is empty (0 bytes).", "Re-export or re-download the image.")
    if stat.st_size > max_bytes:
        raise ImageDecodeError(
            f"{path.name} is too large ({_megabytes(stat.st_size)}; the limit is {_megabytes(max_bytes)}).",
            "Resize or recompress the image, or {control:max_bytes}.",
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise ImageDecodeError(
            f"Cannot read {path.name}: {error.strerror}.", "Check the file's permissions."
        ) from None


def _check_bytes(data: bytes, name: str, max_bytes: int) -> None:
    if not data:
        raise ImageDecodeError(f"{name} is empty (0 bytes).", "Re-export or re-download the image.")
    if len(data) > max_bytes:
        raise ImageDecodeError(
            f"{name} is too large ({_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}).",
            "Resize or recompress the image, or {control:max_bytes}.",
        )


def _check_pixels(width: int, height: int, name: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"{name} has no pixels ({width}x{height}).", "Use a non-empty image.")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"{name} is too large: {width}x{height} pixels is over the limit of {max_pixels:,} pixels.",
            "Downscale the image first ({control:max_pixels}).",
        )


def _bomb_error(name: str, error: BaseException) -> ImageDecodeError:
    return ImageDecodeError(
        f"{name} is too large to decode safely: Pillow refused it ({_sentence(error)}).",
        "Downscale the image first; very large headers often mean a decompression bomb.",
    )


def _unreadable(data: bytes, name: str) -> ImageDecodeError:
    if is_tiff(data):
        variant = describe_tiff(data)
        return ImageDecodeError(
            f"{name} is a TIFF variant Pillow cannot decode" + (f" ({variant})." if variant else "."),
            "Save it as an 8- or 16-bit greyscale or RGB TIFF (or as PNG or JPEG).",
        )
    return ImageDecodeError(
        f"{name} is not an image format FaceKit can read.",
        "Use a JPEG, PNG, WebP, BMP, TIFF, GIF or HEIC file.",
    )


def _failure_text(error: BaseException) -> str:
    text = _sentence(error)[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_embedded(data: bytes, name: str, max_pixels: int) -> None:
    """ICO/CUR/ICNS hold whole images whose real size their directory may hide: check each one's own header."""
    for width, height in embedded_sizes(data):
        if width * height > max_pixels:
            raise ImageDecodeError(
                f"{name} holds an embedded image of {width}x{height} pixels, over the limit of {max_pixels:,} pixels "
                "(checked before decoding it).",
                "Use an icon with smaller images, or convert the picture you need to PNG.",
            )


def _open(data: bytes, name: str) -> Image.Image:
    """Open lazily: reads the header only, no pixel data."""
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _bomb_error(name, error) from None
    except Image.UnidentifiedImageError:
        raise _unreadable(data, name) from None
    except Exception as error:  # Pillow's plugins raise many types on corrupt headers
        raise ImageDecodeError(
            f"{name} has a corrupt image header ({_failure_text(error)}).", "Re-export or re-download the image."
        ) from None
    if image.format in _REFUSED_FORMATS:
        image.close()
        raise ImageDecodeError(f"{name} is {_REFUSED_FORMATS[image.format]}.", "Convert it to PNG or JPEG first.")
    return image


def _load(image: Image.Image, name: str) -> None:
    """Decode all pixel data now, so truncated files fail here."""
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _bomb_error(name, error) from None
    except Exception as error:  # corrupt AVIF, DDS, ... raise RuntimeError, NotImplementedError and more
        raise ImageDecodeError(
            f"{name} is truncated or corrupt and could not be decoded ({_failure_text(error)}).",
            "Re-export or re-download the image.",
        ) from None


def _upright(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation; unreadable EXIF leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - documented: unreadable EXIF leaves the image as stored
        return image


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _wide_grey_to_uint8(image: Image.Image) -> np.ndarray:
    """8-bit grey from 16-bit ('I;16*'), 32-bit int ('I') or float ('F') data.

    'I;16*' is always scaled by 1/257. 'I' is scaled the same way when any
    value exceeds 255 (taken as 16-bit range), else used as is. 'F' is taken
    as 0..1 when its maximum is at most 1, else as 0..255.
    """
    values = np.asarray(image)
    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and values.max(initial=0) > 255):
        return _sixteen_to_eight(values)
    if image.mode == "F" and values.max(initial=0.0) <= 1.0:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _composite_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _pil_to_rgb(image: Image.Image, name: str) -> np.ndarray:
    """RGB uint8 HxWx3 from any Pillow mode."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        return _grey_to_rgb(_wide_grey_to_uint8(image))
    try:
        if image.mode in _ALPHA_MODES or "transparency" in image.info:
            image = _composite_on_white(image)
        elif image.mode != "RGB":
            image = image.convert("RGB")
    except ValueError as error:
        raise ImageDecodeError(
            f"{name} uses the colour mode {image.mode}, which cannot be converted to RGB ({_sentence(error)}).",
            "Convert the image to RGB (sRGB) and try again.",
        ) from None
    return np.asarray(image, dtype=np.uint8)


def _decode_pil(image: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    _check_pixels(image.width, image.height, name, max_pixels)
    _load(image, name)
    try:
        return _pil_to_rgb(_upright(image), name)
    except ImageDecodeError:
        raise
    except Exception as error:  # a mode Pillow opened but cannot convert
        raise ImageDecodeError(
            f"{name} ({image.format or 'image'}, mode {image.mode}) could not be converted to RGB ({_failure_text(error)}).",
            "Convert the image to 8-bit RGB (sRGB) and try again.",
        ) from None


def _decode_opened(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """Open encoded bytes lazily, check the size, then decode fully."""
    if _is_heif(data):
        return _decode_heif(data, name, max_pixels)
    _check_embedded(data, name, max_pixels)
    with _open(data, name) as image:
        return _decode_pil(image, name, max_pixels)


_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def _is_heif(data: bytes) -> bool:
    """HEIC/HEIF photos (phones) start with an ISO-BMFF 'ftyp' box naming a HEIF brand."""
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _decode_heif(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """HEIC/HEIF through pillow-heif, without registering it in Pillow (no process-wide change)."""
    try:
        import pillow_heif
    except ImportError:
        raise ImageDecodeError(
            f"{name} is a HEIC/HEIF photo and the pillow-heif package is not installed.",
            "Run `pip install pillow-heif`, or convert the photo to JPEG.",
        ) from None
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        _check_pixels(heif.size[0], heif.size[1], name, max_pixels)  # before any pixel is decoded
        image = heif.to_pillow()  # libheif applies the file's rotation and mirroring itself
    except ImageDecodeError:
        raise
    except Exception as error:  # libheif reports corrupt files with several exception types
        raise ImageDecodeError(
            f"{name} is a HEIC/HEIF file that could not be decoded ({_sentence(error)}).", "Re-export the photo as JPEG."
        ) from None
    return _pil_to_rgb(image, name)


def _array_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return _sixteen_to_eight(array)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    raise ImageDecodeError(
        f"The image array has dtype {array.dtype}; FaceKit reads uint8 (or uint16) arrays.",
        "Convert it with array.astype(numpy.uint8) after scaling to 0..255.",
    )


def _array_to_rgb(array: np.ndarray, colour: Literal["bgr", "rgb"], max_pixels: int) -> np.ndarray:
    """RGB uint8 HxWx3 from an HxW, HxWx1, HxWx3 or HxWx4 array in `colour` order."""
    if colour not in ("bgr", "rgb"):
        raise ValueError(f"array_colour must be 'bgr' or 'rgb', not {colour!r}.")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageDecodeError(
            f"The image array has shape {array.shape}; expected HxW, HxWx3 or HxWx4.",
            "Pass a single image, not a batch or a planar (CxHxW) array.",
        )
    _check_pixels(array.shape[1], array.shape[0], "The image array", max_pixels)
    pixels = _array_to_uint8(array)
    if pixels.ndim == 2:
        return _grey_to_rgb(pixels)
    colours = pixels[..., :3] if colour == "rgb" else pixels[..., 2::-1]
    if pixels.shape[2] == 3:
        return colours
    alpha = pixels[..., 3:].astype(np.float32) / 255.0
    blended = colours.astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def decode_image(
    source: ImageSource,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    array_colour: Literal["bgr", "rgb"] = "bgr",
) -> np.ndarray:
    """Decode `source` to a contiguous BGR uint8 HxWx3 array.

    `source` is a path, encoded bytes, a Pillow image, or a numpy array whose
    channel order `array_colour` gives (HxW grey and HxWx4 with alpha last are
    accepted). Alpha is composited onto white. Raises ImageDecodeError.
    """
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source, array_colour, max_pixels)
    elif isinstance(source, Image.Image):
        rgb = _decode_pil(source, "The given image", max_pixels)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_bytes(data, "The image data", max_bytes)
        rgb = _decode_opened(data, "The image data", max_pixels)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        data = _read_file(path, max_bytes)
        rgb = _decode_opened(data, path.name, max_pixels)
    else:
        raise ImageDecodeError(
            f"Cannot read an image from a {type(source).__name__}.",
            "Pass a file path, encoded bytes, a numpy array or a Pillow image.",
        )
    return np.ascontiguousarray(rgb[..., ::-1])
