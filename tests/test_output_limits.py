"""Issue 18.8: the output of an upscale is capped, and the refusal comes before any work."""

from __future__ import annotations

import numpy as np
import pytest

from facekit.analysis import FaceAnalyser
from facekit.errors import FaceKitError
from facekit.processors.restore import RestoreOptions, check_output_size, restore_image


@pytest.fixture
def no_analysis(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the photo was analysed before the size was checked")

    monkeypatch.setattr(FaceAnalyser, "analyze", refuse)


def test_an_upscale_over_the_limit_is_refused_before_analysis(engine, no_analysis) -> None:
    photo = np.zeros((2100, 2100, 3), dtype=np.uint8)  # x4: 8400x8400 = 71 MP > 64 MP
    with pytest.raises(FaceKitError, match=r"would make 8400x8400 \(71 MP\), over the limit of 64 MP.*upscale of 3.5 or less"):
        restore_image(engine, photo, RestoreOptions(upscale=4))


def test_a_stricter_limit_names_the_largest_factor_that_fits(engine, no_analysis) -> None:
    photo = np.zeros((1100, 1100, 3), dtype=np.uint8)
    with pytest.raises(FaceKitError, match=r"over the limit of 16 MP\. Use an upscale of 3.5 or less"):
        restore_image(engine, photo, RestoreOptions(upscale=4, max_output_pixels=16_000_000))


def test_within_the_limit_nothing_is_refused() -> None:
    check_output_size((4000, 4000, 3), RestoreOptions(upscale=2))  # exactly 64 MP
    check_output_size((1000, 1000, 3), RestoreOptions(upscale=4, max_output_pixels=16_000_000))
