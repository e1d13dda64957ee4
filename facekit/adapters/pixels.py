"""Pixels in and out of a model: the one copy every adapter uses.

- :func:`check_bgr` - the input is an HxWx3 uint8 BGR array (a crop or a photo).
- :func:`to_blob` - uint8 BGR, one image HxWx3 or a batch NxHxWx3, to the
  contiguous [N,3,H,W] tensor ``(x - mean) / std`` in the model's colour order.
- :func:`from_blob` - the first image of a [N,3,H,W] (or [3,H,W]) output back to
  uint8 HxWx3 BGR: ``x * std + mean``, rounded and clipped to 0..255.
- :func:`fit` - resize to a width and height, area when shrinking and cubic
  when enlarging; an image already that size is returned as it is.

`mean` and `std` are per channel (in the model's colour order) or one number.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: A normalisation value: one for every channel, or one per channel (in the model's colour order).
PerChannel = float | Sequence[float] | np.ndarray


def check_bgr(image_bgr: np.ndarray, what: str = "crop") -> None:
    """Raise ValueError unless the array is an HxWx3 uint8 image; `what` names it in the message."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR {what}, got shape {image_bgr.shape} {image_bgr.dtype}")


def to_blob(images_bgr: np.ndarray, colour: str, mean: PerChannel, std: PerChannel, dtype: type = np.float32) -> np.ndarray:
    """uint8 HxWx3 or NxHxWx3 BGR -> contiguous [N,3,H,W] of `dtype`, ``(x - mean) / std`` in `colour` order."""
    pixels = images_bgr[..., ::-1] if colour == "rgb" else images_bgr
    blob = (pixels.astype(dtype) - np.asarray(mean, dtype)) / np.asarray(std, dtype)
    batch = blob[np.newaxis] if blob.ndim == 3 else blob
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def from_blob(tensor: np.ndarray, colour: str, mean: PerChannel, std: PerChannel, dtype: type = np.float32) -> np.ndarray:
    """The first image of a [N,3,H,W] (or [3,H,W]) tensor -> uint8 HxWx3 BGR, ``x * std + mean`` (computed in `dtype`)."""
    planes = np.asarray(tensor, dtype=dtype).reshape(-1, *tensor.shape[-3:])[0]
    pixels = planes.transpose(1, 2, 0) * np.asarray(std, dtype) + np.asarray(mean, dtype)
    image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[..., ::-1] if colour == "rgb" else image)


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` resized to width x height (area when shrinking, cubic when enlarging); the same array if already that size."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = width < image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
