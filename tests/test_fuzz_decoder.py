"""Fuzz the one image decoder every entry point uses: any bytes give an image or an ImageDecodeError."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facekit.errors import ImageDecodeError
from facekit.imageio import decode_image


def _small_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def _small_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


SEEDS = [_small_png(), _small_jpeg()]


def _check(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=4_000_000)
    except ImageDecodeError as error:
        assert str(error)  # a sentence, never empty
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= 4_000_000


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=255), st.integers(0, 400))
def test_mutated_real_images(seed: bytes, position: int, value: int, cut: int) -> None:
    data = bytearray(seed)
    data[position % len(data)] = value
    _check(bytes(data[: max(1, len(data) - cut)]))
