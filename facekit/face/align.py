"""Alignment: templates, the least-squares five-point fit, crops (warp / whole-pixel windows) and paste-back."""

from __future__ import annotations

import cv2
import numpy as np

from facekit.errors import DegenerateFaceError

_MIN_POINT_VARIANCE = 1e-6  # px^2: points closer together than this are one point


def _template(points: list[tuple[float, float]]) -> np.ndarray:
    array = np.array(points, dtype=np.float32)
    array.setflags(write=False)
    return array


# Normalised (x, y) of left eye, right eye, nose, left and right mouth corner
# (image left/right); multiply by the crop size. Values from models.md.
TEMPLATES: dict[str, np.ndarray] = {
    "arcface_112_v1": _template(
        [(0.35473214, 0.45658929), (0.64526786, 0.45658929), (0.5, 0.61154464),
         (0.37913393, 0.776875), (0.62086607, 0.776875)]
    ),
    "arcface_112_v2": _template(
        [(0.34191607, 0.46157411), (0.65653393, 0.45983393), (0.500225, 0.64050536),
         (0.37097589, 0.82469196), (0.63151696, 0.82325089)]
    ),
    "arcface_128": _template(
        [(0.36167656, 0.40387734), (0.63696719, 0.40235469), (0.50019687, 0.56044219),
         (0.38710391, 0.72160547), (0.61507734, 0.72034453)]
    ),
    "ffhq_512": _template(
        [(0.37691676, 0.46864664), (0.62285697, 0.46912813), (0.50123859, 0.61331904),
         (0.39308822, 0.725411), (0.61150205, 0.72490465)]
    ),
    "mtcnn_512": _template(
        [(0.36562865, 0.46733799), (0.63305391, 0.46585885), (0.50019127, 0.61942959),
         (0.39032951, 0.77598822), (0.61178945, 0.77476328)]
    ),
}


def template_points(template: str, size: int) -> np.ndarray:
    """The template's five points in pixels of a `size` x `size` crop."""
    if template not in TEMPLATES:
        raise ValueError(f"Unknown alignment template {template!r}; known: {', '.join(TEMPLATES)}.")
    return TEMPLATES[template] * np.float32(size)


def landmarks_5_from_68(landmarks_68: np.ndarray) -> np.ndarray:
    """Five points (eye centres, nose tip, mouth corners) from 68 iBUG points."""
    points = np.asarray(landmarks_68, dtype=np.float32).reshape(68, 2)
    return np.stack(
        [
            points[36:42].mean(axis=0),
            points[42:48].mean(axis=0),
            points[30],
            points[48],
            points[54],
        ]
    ).astype(np.float32)


def transform_points(points: np.ndarray, affine_matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to Nx2 points."""
    array = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.transform(array, np.asarray(affine_matrix, dtype=np.float64)).reshape(-1, 2)


def similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 similarity (rotation, uniform scale, shift) taking Nx2 `source` onto `target`.

    Umeyama's closed form (IEEE TPAMI 13(4), 1991): every point counts, none
    is dropped as an outlier (as InsightFace's `SimilarityTransform` does).
    Raises DegenerateFaceError when the points are not finite or coincide.
    """
    src = np.asarray(source, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(target, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"similarity_fit needs two equal Nx2 point sets (N >= 2), got {src.shape} and {dst.shape}.")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise DegenerateFaceError("The face's landmarks are not finite numbers.", "The face is skipped; check the detector's output.")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_centred, dst_centred = src - src_mean, dst - dst_mean
    src_variance = float((src_centred**2).sum() / len(src))
    if src_variance < _MIN_POINT_VARIANCE:
        raise DegenerateFaceError(
            "The face's landmarks all sit on one spot, so no alignment fits them.", "The face is skipped; it is too small or misdetected."
        )
    covariance = dst_centred.T @ src_centred / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.diag([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) >= 0 else -1.0])
    rotation = u @ reflection @ vt
    scale = float(np.trace(np.diag(singular) @ reflection)) / src_variance
    shift = dst_mean - scale * rotation @ src_mean
    return np.column_stack([scale * rotation, shift])


def estimate_affine(landmarks_5: np.ndarray, template: str, size: int) -> np.ndarray:
    """2x3 similarity taking the five points onto the template: the least-squares fit on all five."""
    source = np.asarray(landmarks_5, dtype=np.float64).reshape(5, 2)
    return similarity_fit(source, template_points(template, size))


def warp(
    image: np.ndarray, landmarks_5: np.ndarray, template: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crop a `size` x `size` face aligned to `template`; returns (crop, affine_matrix)."""
    matrix = estimate_affine(landmarks_5, template, size)
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop, matrix


def _pasted_box(
    crop_shape: tuple[int, ...], inverse: np.ndarray, image_shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """Integer box (x1, y1, x2, y2) covering the inverse-warped crop, clipped to the image."""
    height, width = crop_shape[:2]
    corners = np.array([(0, 0), (width, 0), (0, height), (width, height)], dtype=np.float32)
    placed = transform_points(corners, inverse)
    x1, y1 = np.floor(placed.min(axis=0)).astype(int)
    x2, y2 = np.ceil(placed.max(axis=0)).astype(int) + 1
    image_height, image_width = image_shape[:2]
    return max(x1, 0), max(y1, 0), min(x2, image_width), min(y2, image_height)


def paste_back(
    image: np.ndarray, crop: np.ndarray, affine_matrix: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Blend `crop` back into a copy of `image` through `mask` (float 0..1, crop-sized).

    The blended pixels are rounded to the nearest grey level (FaceFusion
    truncates, a -0.085 level bias on average; FaceKit keeps rounding, issue 17.5).

    Only the bounding box of the warped crop is touched; pixels where the mask
    is 0 keep their exact original values.
    """
    result = image.copy()
    inverse = cv2.invertAffineTransform(np.asarray(affine_matrix, dtype=np.float64))
    x1, y1, x2, y2 = _pasted_box(crop.shape, inverse, image.shape)
    if x2 <= x1 or y2 <= y1:
        return result
    shifted = inverse.copy()
    shifted[:, 2] -= (x1, y1)
    box_size = (x2 - x1, y2 - y1)
    placed_crop = cv2.warpAffine(crop, shifted, box_size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    placed_mask = cv2.warpAffine(mask.astype(np.float32), shifted, box_size,
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=0.0)
    placed_mask = np.clip(placed_mask, 0.0, 1.0)
    if image.ndim == 3:
        placed_mask = placed_mask[..., None]
    region = result[y1:y2, x1:x2].astype(np.float32)
    blended = placed_mask * placed_crop.astype(np.float32) + (1.0 - placed_mask) * region
    result[y1:y2, x1:x2] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return result


def _integer_window(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice] | None:
    """The image window a crop covers when `matrix` is a whole-pixel shift that stays inside the image, else None."""
    if not np.array_equal(matrix[:, :2], np.eye(2)) or not np.array_equal(matrix[:, 2], np.round(matrix[:, 2])):
        return None
    x, y = int(-matrix[0, 2]), int(-matrix[1, 2])
    width, height = size
    if x < 0 or y < 0 or x + width > image.shape[1] or y + height > image.shape[0]:
        return None
    return slice(y, y + height), slice(x, x + width)


#: Resampling names the family table uses (facekit/adapters/families.py) -> OpenCV flags. Learned models get the
#: crop they were trained on: bilinear for inswapper (InsightFace's norm_crop2, FaceFusion), GFPGAN, ArcFace...
RESAMPLING: dict[str, int] = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


def crop_face(
    image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], interpolation: int = cv2.INTER_CUBIC
) -> np.ndarray:
    """The (width, height) crop `matrix` maps to: a plain copy for whole-pixel shifts, else a warp (edges replicated)."""
    window = _integer_window(image, matrix, size)
    if window is not None:
        return image[window].copy()
    return cv2.warpAffine(image, matrix, size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)


def paste_face(image: np.ndarray, crop: np.ndarray, matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`paste_back`, with a direct blend into the window for whole-pixel shifts (same result, no resampling)."""
    window = _integer_window(image, matrix, (crop.shape[1], crop.shape[0]))
    if window is None:
        return paste_back(image, crop, matrix, mask)
    result = image.copy()
    weight = np.clip(mask, 0.0, 1.0)[..., None]
    region = result[window].astype(np.float32)
    result[window] = np.clip(np.rint(region + weight * (crop.astype(np.float32) - region)), 0, 255).astype(np.uint8)
    return result
