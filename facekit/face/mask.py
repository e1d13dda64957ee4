"""Blend masks for aligned face crops: float32 HxW in 0..1."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

MaskRegion = Literal["face", "lower_face", "mouth"]

FOREHEAD_LIFT = 0.12  # swap paste mask: brows raised by this fraction of the chin-to-brow distance
HULL_FEATHER = 0.04  # swap paste mask: hull edge Gaussian sigma, fraction of the face width
MASK_WORKING_SIDE = 160  # masks of larger crops are drawn at about this size and scaled up

# iBUG 68 indices whose convex hull outlines each region.
_REGION_POINTS: dict[str, tuple[int, ...]] = {
    "face": tuple(range(0, 27)),
    "lower_face": tuple(range(2, 15)) + tuple(range(29, 36)),
    "mouth": tuple(range(48, 60)),
}


def _width_height(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    width, height = size
    return int(width), int(height)


def box_mask(
    size: int | tuple[int, int],
    blur: float = 0.3,
    padding: tuple[float, float, float, float] = (0, 0, 0, 0),
) -> np.ndarray:
    """Feathered rectangle covering the crop (FaceFusion-style convention).

    `size` is an int or (width, height). `blur` is a fraction of half the crop
    width: the border band that is zeroed is half that many pixels (at least 1)
    and the Gaussian sigma is a quarter of it. `padding` is (top, right,
    bottom, left) in percent of the crop, zeroed when wider than the band.
    """
    width, height = _width_height(size)
    blur_px = int(width * 0.5 * blur)
    band = max(blur_px // 2, 1)
    top, right, bottom, left = (
        max(band, int(height * padding[0] / 100)),
        max(band, int(width * padding[1] / 100)),
        max(band, int(height * padding[2] / 100)),
        max(band, int(width * padding[3] / 100)),
    )
    mask = np.zeros((height, width), dtype=np.float32)
    mask[top:height - bottom, left:width - right] = 1.0
    if blur_px > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur_px * 0.25)
    return mask


def landmark_hull_mask(
    size: int | tuple[int, int],
    landmarks_68_in_crop: np.ndarray,
    region: MaskRegion = "face",
    feather: float = 0.02,
) -> np.ndarray:
    """Convex hull of a landmark region, feathered by a Gaussian.

    `landmarks_68_in_crop` are iBUG 68 points already in crop pixels; `feather`
    is the Gaussian sigma as a fraction of the crop width (0 = hard edge).
    """
    if region not in _REGION_POINTS:
        raise ValueError(f"Unknown mask region {region!r}; known: {', '.join(_REGION_POINTS)}.")
    width, height = _width_height(size)
    points = np.asarray(landmarks_68_in_crop, dtype=np.float32).reshape(68, 2)
    selected = points[list(_REGION_POINTS[region])]
    hull = cv2.convexHull(np.rint(selected).astype(np.int32))
    mask = np.zeros((height, width), dtype=np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA)
    sigma = feather * width
    if sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return np.clip(mask, 0.0, 1.0)


def combine_masks(*masks: np.ndarray) -> np.ndarray:
    """Pixel-wise minimum of same-sized masks."""
    if not masks:
        raise ValueError("combine_masks needs at least one mask.")
    shapes = {mask.shape for mask in masks}
    if len(shapes) != 1:
        raise ValueError(f"Masks differ in size: {sorted(shapes)}.")
    return np.minimum.reduce([mask.astype(np.float32) for mask in masks])


def swap_mask(size: tuple[int, int], points_68: np.ndarray | None, blur: float = 0.3) -> np.ndarray:
    """Feathered box mask, cut to the face hull (brows raised a little, lips always inside) when 68 points are known.

    Large crops get their mask drawn at a reduced size and scaled up: it is
    smooth, and the wide Gaussian blurs would otherwise cost more than the swap.
    """
    shrink = max(1, round(min(size) / MASK_WORKING_SIDE))
    small = (max(1, round(size[0] / shrink)), max(1, round(size[1] / shrink)))
    box = box_mask(small, blur=blur)
    if points_68 is None:
        mask = box
    else:
        points = np.asarray(points_68, dtype=np.float32).reshape(68, 2) * np.float32(small[0] / size[0])
        raised = points.copy()
        raised[17:27] += FOREHEAD_LIFT * (points[17:27].mean(axis=0) - points[8])
        feather = HULL_FEATHER * float(np.ptp(points[:17, 0])) / small[0]
        face = landmark_hull_mask(small, raised, "face", feather=feather)
        mouth = landmark_hull_mask(small, points, "mouth", feather=feather)
        mask = combine_masks(box, np.maximum(face, mouth))
    return mask if small == size else cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
