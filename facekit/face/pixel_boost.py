"""Pixel boost: run a 128 px swapper on a k*128 crop as k*k interleaved sub-images (pure numpy).

FaceFusion's answer to the blurry 128 px swap: the crop is warped at k times
the model's size, split into k*k sub-images that each take every k-th pixel
(``sub[i * k + j] = crop[i::k, j::k]``), each sub-image is swapped, and the
results are re-interleaved into the big crop. `explode` and `implode` are exact
inverses.
"""

from __future__ import annotations

import numpy as np

RESOLUTIONS = (128, 256, 384, 512)  # --swap-resolution choices; k = resolution // 128
BASE_SIZE = 128


def boost_factor(resolution: int) -> int:
    """128 -> 1, 256 -> 2, 384 -> 3, 512 -> 4; anything else is refused."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"swap resolution must be one of {', '.join(map(str, RESOLUTIONS))}, not {resolution}")
    return resolution // BASE_SIZE


def explode(crop: np.ndarray, k: int) -> np.ndarray:
    """(H, W, ...) -> (k*k, H/k, W/k, ...): sub-image i*k+j is crop[i::k, j::k]."""
    height, width = crop.shape[:2]
    if k < 1 or height % k or width % k:
        raise ValueError(f"a {height}x{width} crop cannot be split into {k}x{k} interleaved sub-images")
    rest = crop.shape[2:]
    blocks = crop.reshape(height // k, k, width // k, k, *rest)
    order = (1, 3, 0, 2, *range(4, blocks.ndim))
    return np.ascontiguousarray(blocks.transpose(order).reshape(k * k, height // k, width // k, *rest))


def implode(tiles: np.ndarray, k: int) -> np.ndarray:
    """The inverse of :func:`explode`: (k*k, h, w, ...) -> (k*h, k*w, ...)."""
    count, height, width = tiles.shape[:3]
    if k < 1 or count != k * k:
        raise ValueError(f"{count} sub-images cannot be re-interleaved as {k}x{k}")
    rest = tiles.shape[3:]
    blocks = tiles.reshape(k, k, height, width, *rest)
    order = (2, 0, 3, 1, *range(4, blocks.ndim))
    return np.ascontiguousarray(blocks.transpose(order).reshape(height * k, width * k, *rest))
