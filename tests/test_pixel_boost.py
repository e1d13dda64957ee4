"""Pixel boost helpers (facekit/face/pixel_boost.py): exact interleave round trip and the scaled crop matrix."""

from __future__ import annotations

import numpy as np
import pytest

from facekit.face.align import estimate_affine, template_points
from facekit.face.pixel_boost import boost_factor, explode, implode


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_explode_takes_every_kth_pixel_and_implode_inverts_it_exactly(k: int) -> None:
    crop = np.random.default_rng(k).integers(0, 256, size=(128 * k, 128 * k, 3), dtype=np.uint8)
    tiles = explode(crop, k)
    assert tiles.shape == (k * k, 128, 128, 3)
    for i in range(k):
        for j in range(k):
            np.testing.assert_array_equal(tiles[i * k + j], crop[i::k, j::k])
    np.testing.assert_array_equal(implode(tiles, k), crop)


def test_bad_shapes_and_resolutions_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be split into 3x3"):
        explode(np.zeros((256, 256, 3), np.uint8), 3)
    with pytest.raises(ValueError, match="cannot be re-interleaved"):
        implode(np.zeros((3, 128, 128, 3), np.uint8), 2)
    with pytest.raises(ValueError, match="must be one of 128, 256, 384, 512"):
        boost_factor(200)
    assert [boost_factor(r) for r in (128, 256, 384, 512)] == [1, 2, 3, 4]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_k_times_the_128_matrix_is_the_template_fit_at_k_times_128(k: int) -> None:
    """The job scales the swapper's matrix by k: the same as fitting the family's template at k*128."""
    points = template_points("arcface_128", 128) * 1.7 + np.array([300.0, 120.0]) + np.random.default_rng(0).normal(0, 2, (5, 2))
    np.testing.assert_allclose(estimate_affine(points, "arcface_128", 128) * k, estimate_affine(points, "arcface_128", 128 * k), atol=1e-4)
