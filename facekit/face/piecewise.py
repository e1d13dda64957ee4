"""Piecewise-affine warps: a triangle-id raster, one affine per triangle, and the `cv2.remap` maps they give.

One copy for the two builtin warps that need it (the `geometric` frontalizer
and the `mesh` swapper). Affines are Tx3x2: `[x, y, 1] @ A[t]` is where a
target pixel of triangle t samples the source.
"""

from __future__ import annotations

import cv2
import numpy as np

_DEGENERATE_DET = 1e-6  # |det| of a triangle's [x, y, 1] matrix (twice its area, px^2) below which it has no affine


def border_points(width: int, height: int) -> np.ndarray:
    """Corners and edge midpoints of a width x height canvas (pixel centres), clockwise from the top left."""
    w, h = width - 1.0, height - 1.0
    return np.array([(0, 0), (w / 2, 0), (w, 0), (w, h / 2), (w, h), (w / 2, h), (0, h), (0, h / 2)], dtype=np.float64)


def rasterise_triangles(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int], fill: int) -> np.ndarray:
    """HxW int32 raster of triangle ids (`fill` where no triangle lands); later triangles win shared edges."""
    width, height = size
    raster = np.full((height, width), fill, dtype=np.int32)
    fixed = np.rint(points * 16.0).astype(np.int32)  # 4 fractional bits
    for index, corners in enumerate(triangles):
        cv2.fillConvexPoly(raster, fixed[corners], index, lineType=cv2.LINE_8, shift=4)
    return raster


def triangle_affines(
    target: np.ndarray, source: np.ndarray, triangles: np.ndarray, fallback: np.ndarray | None = None
) -> np.ndarray:
    """Tx3x2 affines taking each target triangle onto its source triangle.

    A collapsed triangle (degenerate landmarks) gets `fallback` (3x2) when
    given, else the least-squares affine of its corners.
    """
    corners = np.concatenate([target[triangles], np.ones((*triangles.shape, 1))], axis=2).astype(np.float64)
    wanted = np.asarray(source, dtype=np.float64)[triangles]
    good = np.abs(np.linalg.det(corners)) > _DEGENERATE_DET
    affines = np.empty((len(triangles), 3, 2), dtype=np.float64)
    if good.any():
        affines[good] = np.linalg.solve(corners[good], wanted[good])
    if not good.all():
        bad = ~good
        affines[bad] = np.asarray(fallback, dtype=np.float64) if fallback is not None else np.linalg.pinv(corners[bad]) @ wanted[bad]
    return affines


def sampling_maps(ids: np.ndarray, affines: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """map_x, map_y (float32) for cv2.remap from the id raster and a Tx3x2 affine table; `grid` = pixel xs, ys."""
    xs, ys = grid
    coefficients = affines.astype(np.float32)
    maps = []
    for axis in range(2):
        a, b, c = (np.take(coefficients[:, row, axis], ids) for row in range(3))
        maps.append(a * xs + b * ys + c)
    return maps[0], maps[1]


def pixel_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 x and y coordinates of every pixel (broadcastable to HxW)."""
    return np.arange(width, dtype=np.float32)[None, :], np.arange(height, dtype=np.float32)[:, None]
