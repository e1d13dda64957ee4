"""A cheap check that a detection is a face: two independent dlib landmark models must agree, and stay put.

dlib's shape predictors regress points from whatever box they are given, so
on a non-face they still draw a face-shaped set of points. Two things give a
non-face away:

- **5-point agreement**: the 5-point model's eye corners and nose base
  (a separately trained predictor) land where the 68-point model put them.
  Distance, mean over the 5 points, as a fraction of the eye distance.
- **Stability**: the 68 points, predicted again from the box shifted by 12%
  of its width to the left and to the right, stay where they were
  on a face (they lock onto eyes, nose and mouth) and follow the box on a
  non-face. Mean displacement of the 51 inner points, fraction of the eye distance.

Measured (HOG detections at a 0.2 threshold; the faces of t1.jpg, its mirror
and 0.8x / 1.5x copies, skimage's astronaut, an upscaled Tom Hanks: 26 faces;
471 non-faces from 14 skimage photos and textures, 12 background crops of
t1.jpg and the four mask photos): faces read at most 0.084 (agreement) and
0.36 (stability); with limits 0.1 and 0.4, all 26 faces pass and 414 of the
471 non-faces fail; the 57 that pass all score under 0.40 with HOG. (Four
box moves instead of two separate no better: 55 pass at 0.3, twice the cost.)
"""

from __future__ import annotations

from dataclasses import dataclass

import dlib
import numpy as np

FIVE_FROM_68 = (45, 42, 36, 39, 33)  # the 68-point indexes of dlib's 5-point model's points
_SHIFTS = ((0.12, 0.0, 1.0), (-0.12, 0.0, 1.0))  # (dx, dy, scale) of the box


@dataclass(frozen=True)
class FaceCheck:
    """What the check measured on one detection."""

    agreement: float  # 5-point vs 68-point, fraction of the eye distance
    stability: float  # 68 points from shifted boxes, fraction of the eye distance
    passed: bool


@dataclass(frozen=True)
class CheckLimits:
    max_agreement: float = 0.1
    max_stability: float = 0.4


class FaceChecker:
    """Runs both measurements with a 68-point and a 5-point dlib predictor."""

    def __init__(self, predictor_68: dlib.shape_predictor, predictor_5: dlib.shape_predictor, limits: CheckLimits = CheckLimits()) -> None:
        self._predictor_68 = predictor_68
        self._predictor_5 = predictor_5
        self.limits = limits

    def check(self, rgb: np.ndarray, box: np.ndarray, points_68: np.ndarray) -> FaceCheck:
        eyes = float(np.linalg.norm(points_68[36:42].mean(axis=0) - points_68[42:48].mean(axis=0)))
        if eyes < 2.0:
            return FaceCheck(agreement=np.inf, stability=np.inf, passed=False)
        window, offset = face_window(rgb, box)  # dlib copies the whole image per call: work on the face's window
        box, points_68 = np.asarray(box, np.float32) - np.tile(offset, 2), points_68 - offset
        five = _points(self._predictor_5(window, _rectangle(box)))
        agreement = float(np.linalg.norm(five - points_68[list(FIVE_FROM_68)], axis=1).mean() / eyes)
        if agreement > self.limits.max_agreement:  # most non-faces stop here, before the costlier stability runs
            return FaceCheck(agreement=agreement, stability=np.nan, passed=False)
        stability = float(np.mean([self._displacement(window, box, points_68, shift) for shift in _SHIFTS]) / eyes)
        passed = stability <= self.limits.max_stability
        return FaceCheck(agreement=agreement, stability=stability, passed=passed)

    def _displacement(self, rgb: np.ndarray, box: np.ndarray, points_68: np.ndarray, shift: tuple[float, float, float]) -> float:
        x1, y1, x2, y2 = (float(v) for v in box)
        width = x2 - x1
        dx, dy, scale = shift
        centre_x, centre_y, half = (x1 + x2) / 2 + dx * width, (y1 + y2) / 2 + dy * width, width * scale / 2
        moved = _points(self._predictor_68(rgb, _rectangle(np.array([centre_x - half, centre_y - half, centre_x + half, centre_y + half]))))
        return float(np.linalg.norm(moved[17:] - points_68[17:], axis=1).mean())


def face_window(rgb: np.ndarray, box: np.ndarray, margin: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """The image around a box (grown by `margin` x its width per side), contiguous, and its top-left offset (x, y)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    pad = margin * max(x2 - x1, y2 - y1)
    left, top = max(0, int(x1 - pad)), max(0, int(y1 - pad))
    right, bottom = min(rgb.shape[1], int(x2 + pad) + 1), min(rgb.shape[0], int(y2 + pad) + 1)
    return np.ascontiguousarray(rgb[top:bottom, left:right]), np.array([left, top], dtype=np.float32)


def _rectangle(box: np.ndarray) -> dlib.rectangle:
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    return dlib.rectangle(x1, y1, x2, y2)


def _points(shape: dlib.full_object_detection) -> np.ndarray:
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
