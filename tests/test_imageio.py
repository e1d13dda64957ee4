"""decode_image on awkward inputs; PNG metadata and atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facekit.imageio import decode_image, encode_png, write_image_atomic
from helpers import decode_error_message, png_header_only


def _encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def test_rgb_png_decodes_to_contiguous_bgr() -> None:
    rgb = np.zeros((5, 7, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    result = decode_image(_encoded(Image.fromarray(rgb), "PNG"))
    assert result.shape == (5, 7, 3) and result.dtype == np.uint8
    assert result.flags["C_CONTIGUOUS"]
    assert tuple(result[0, 0]) == (0, 0, 200)


def test_zero_bytes_is_an_empty_image_error(tmp_path: Path) -> None:
    assert "empty" in decode_error_message(b"")
    empty = tmp_path / "blank.jpg"
    empty.write_bytes(b"")
    message = decode_error_message(empty)
    assert "blank.jpg" in message and "empty" in message


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = tmp_path / "noise.png"
    path.write_bytes(noise)
    message = decode_error_message(path)
    assert "noise.png" in message and "not an image" in message


def test_truncated_jpeg_is_reported(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(pixels), "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    message = decode_error_message(path)
    assert "cut.jpg" in message and "truncated" in message


def test_png_claiming_30000_squared_pixels_is_refused_before_decoding() -> None:
    message = decode_error_message(png_header_only(30000, 30000))
    assert "too large" in message


def test_own_pixel_limit_is_checked_before_decoding() -> None:
    message = decode_error_message(png_header_only(5000, 5000), max_pixels=1_000_000)
    assert "too large" in message and "5000x5000" in message


def test_one_pixel_image() -> None:
    data = _encoded(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG")
    assert decode_image(data).tolist() == [[[30, 20, 10]]]


def test_cmyk_jpeg_is_converted() -> None:
    cmyk = Image.new("RGB", (16, 16), (200, 60, 30)).convert("CMYK")
    result = decode_image(_encoded(cmyk, "JPEG", quality=95))
    np.testing.assert_allclose(result[8, 8], (30, 60, 200), atol=6)


def test_sixteen_bit_png_is_scaled_to_eight_bits() -> None:
    values = np.array([[0, 128 * 257, 65535]], dtype=np.uint16)
    data = _encoded(Image.fromarray(values), "PNG")
    assert data[24] == 16  # IHDR bit depth: the file really is 16-bit
    result = decode_image(data)
    assert result.shape == (1, 3, 3)
    assert result[0, :, 0].tolist() == [0, 128, 255]


def test_palette_gif_gives_its_first_frame() -> None:
    first = Image.new("RGB", (8, 8), (255, 0, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("RGB", (8, 8), (0, 0, 255)).convert("P", palette=Image.Palette.ADAPTIVE)
    data = _encoded(first, "GIF", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert tuple(decode_image(data)[4, 4]) == (0, 0, 255)  # BGR red


def test_rgba_png_is_composited_onto_white() -> None:
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 0)  # fully transparent red
    rgba[0, 1] = (0, 0, 255, 255)  # opaque blue
    rgba[0, 2] = (0, 0, 0, 128)  # half-transparent black
    result = decode_image(_encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(result[0, 0]) == (255, 255, 255)
    assert tuple(result[0, 1]) == (255, 0, 0)
    assert all(abs(int(v) - 127) <= 1 for v in result[0, 2])


def test_greyscale_images_become_three_equal_channels() -> None:
    grey = Image.fromarray(np.full((3, 4), 77, dtype=np.uint8), "L")
    assert np.all(decode_image(_encoded(grey, "PNG")) == 77)
    grey_alpha = Image.fromarray(np.dstack([np.full((3, 4), 77, np.uint8), np.full((3, 4), 255, np.uint8)]), "LA")
    assert np.all(decode_image(_encoded(grey_alpha, "PNG")) == 77)


def test_exif_orientation_is_applied() -> None:
    stored = np.zeros((40, 60, 3), dtype=np.uint8)  # 60 wide, 40 tall as stored
    stored[:8, :8] = 255  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = _encoded(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    result = decode_image(data)
    assert result.shape == (60, 40, 3)  # upright: dimensions swapped
    assert result[:8, -8:].mean() > 200  # marker now at the top-right
    assert result[:8, :8].mean() < 50 and result[-8:, :8].mean() < 50 and result[-8:, -8:].mean() < 50


def test_missing_path_is_named(tmp_path: Path) -> None:
    message = decode_error_message(tmp_path / "nowhere.png")
    assert "No image file" in message and "nowhere.png" in message
    assert "not a file" in decode_error_message(tmp_path)


def test_a_vanished_upload_is_explained_to_the_app_without_its_path(tmp_path: Path) -> None:
    from facekit.errors import ImageDecodeError

    with pytest.raises(ImageDecodeError) as caught:
        decode_image(tmp_path / "gradio" / "photo.png")
    assert str(tmp_path) in caught.value.text("cli")
    app = caught.value.text("app")
    assert str(tmp_path) not in app and "photo.png" in app and "upload it again" in app


def test_file_over_max_bytes_is_refused(tmp_path: Path) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / "big.png"
    path.write_bytes(_encoded(Image.fromarray(pixels), "PNG"))
    message = decode_error_message(str(path), max_bytes=1000)
    assert "big.png" in message and "too large" in message
    assert "too large" in decode_error_message(path.read_bytes(), max_bytes=1000)
    assert decode_image(path).shape == (64, 64, 3)


def test_arrays_pil_images_and_colour_order() -> None:
    bgr = np.zeros((2, 2, 3), dtype=np.uint8)
    bgr[..., 0] = 255
    assert np.array_equal(decode_image(bgr), bgr)
    assert tuple(decode_image(bgr, array_colour="rgb")[0, 0]) == (0, 0, 255)
    assert decode_image(np.full((2, 3), 9, np.uint8)).shape == (2, 3, 3)
    bgra = np.zeros((1, 1, 4), dtype=np.uint8)
    assert tuple(decode_image(bgra)[0, 0]) == (255, 255, 255)  # transparent -> white
    assert decode_image(np.full((1, 1), 65535, np.uint16))[0, 0, 0] == 255
    pil = Image.new("RGB", (3, 2), (1, 2, 3))
    assert tuple(decode_image(pil)[1, 2]) == (3, 2, 1)
    assert "shape" in decode_error_message(np.zeros((2, 2, 2), np.uint8))
    assert "dtype" in decode_error_message(np.zeros((2, 2, 3), np.float32))
    assert "too large" in decode_error_message(np.zeros((100, 100), np.uint8), max_pixels=100)
    assert "Cannot read an image" in decode_error_message(12345)


def test_encode_png_round_trips_metadata() -> None:
    image = np.random.default_rng(3).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    metadata = {"facekit:model": "gfpgan_1.4", "comment": "naïve ☺ text"}
    data = encode_png(image, metadata)
    with Image.open(io.BytesIO(data)) as reopened:
        assert reopened.format == "PNG"
        assert reopened.text == metadata
    assert np.array_equal(decode_image(data), image)


def test_write_image_atomic_leaves_only_the_finished_file(tmp_path: Path) -> None:
    image = np.random.default_rng(4).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    target = tmp_path / "out.png"
    write_image_atomic(target, image, {"source": "test"})
    write_image_atomic(target, image[::-1].copy(), {"source": "second"})
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert np.array_equal(decode_image(target), image[::-1])
    assert Image.open(target).text == {"source": "second"}

    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "out.gif", image, {"source": "not an output format"})
    write_image_atomic(tmp_path / "out.jpg", image)  # metadata in JPEG/WebP: tests/test_encode.py
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg", "out.png"]
    assert decode_image(tmp_path / "out.jpg").shape == (8, 9, 3)


def test_failed_write_removes_its_temporary_file(tmp_path: Path) -> None:
    blocker = tmp_path / "taken.png"
    blocker.mkdir()
    (blocker / "inside").write_text("keeps the directory non-empty")
    with pytest.raises(OSError):
        write_image_atomic(blocker, np.zeros((4, 4, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["taken.png"]


def _heic(image: Image.Image) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=95)
    return buffer.getvalue()


def test_heic_photos_decode() -> None:
    data = _heic(Image.new("RGB", (64, 48), (200, 10, 10)))
    decoded = decode_image(data)
    assert decoded.shape == (48, 64, 3)
    assert np.abs(decoded[24, 32].astype(int) - [10, 10, 200]).max() <= 6  # BGR


def test_heic_pixel_limit_and_corruption() -> None:
    data = _heic(Image.new("RGB", (64, 48), (0, 128, 0)))
    assert "too large" in decode_error_message(data, max_pixels=1000)
    assert "could not be decoded" in decode_error_message(data[: len(data) // 2])
