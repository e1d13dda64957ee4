"""The face detector interface and the box handling every detector shares.

Detectors live in their own modules: :mod:`facekit.adapters.dlib_models`
(`DlibHogDetector`), :mod:`facekit.adapters.yunet` (`YuNetDetector`) and
:mod:`facekit.adapters.scrfd` (`ScrfdDetector`).
"""

from __future__ import annotations

import cv2
import numpy as np

from facekit.face.types import Face, sort_faces


def letterbox(image_bgr: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio to fit width x height, pad bottom/right with black.

    Returns the canvas and the scale from image to canvas coordinates.
    """
    rows, cols = image_bgr.shape[:2]
    scale = min(width / cols, height / rows)
    new_cols = max(1, min(width, round(cols * scale)))
    new_rows = max(1, min(height, round(rows * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image_bgr, (new_cols, new_rows), interpolation=interpolation)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_rows, :new_cols] = resized
    return canvas, scale


def faces_from_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    landmarks_5: np.ndarray,
    score_threshold: float,
    nms_threshold: float,
    max_faces: int | None,
    landmarks_68: np.ndarray | None = None,
) -> list[Face]:
    """Threshold, suppress overlaps, cap the count and build sorted `Face` records.

    `boxes` is Nx4 (x1, y1, x2, y2), `scores` N, `landmarks_5` Nx5x2 and the
    optional `landmarks_68` Nx68x2, all in image coordinates.
    """
    keep = kept_indices(boxes, scores, score_threshold, nms_threshold, max_faces)
    faces = [
        Face(
            box=boxes[i].astype(np.float32),
            score=float(scores[i]),
            landmarks_5=landmarks_5[i].astype(np.float32),
            landmarks_68=None if landmarks_68 is None else landmarks_68[i].astype(np.float32),
        )
        for i in keep
    ]
    return sort_faces(faces)


def kept_indices(
    boxes: np.ndarray, scores: np.ndarray, score_threshold: float, nms_threshold: float, max_faces: int | None
) -> list[int]:
    """Which boxes survive the threshold, overlap suppression and the cap, highest score first.

    Detectors whose landmarks are costly (dlib's 68 points) call this first and compute points only for these.
    """
    keep = _drop_nested(boxes, _nms(boxes, scores, score_threshold, nms_threshold))
    return keep if max_faces is None else keep[: max(0, max_faces)]


def _nms(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, nms_threshold: float) -> list[int]:
    """Indices kept by OpenCV's NMS, highest score first."""
    if len(boxes) == 0:
        return []
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float32)
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(np.float32).tolist(), float(score_threshold), float(nms_threshold))
    order = np.asarray(kept, dtype=np.int64).reshape(-1)
    return sorted(order.tolist(), key=lambda i: -float(scores[i]))


#: a box that lies this much inside a higher-scoring kept box is the same face (a part of it), not another one
NESTED_FRACTION = 0.6


def _drop_nested(boxes: np.ndarray, order: list[int]) -> list[int]:
    """Drop boxes mostly inside a better one (`order` is highest score first).

    IoU alone keeps a small box inside a large one (their IoU is small), so at
    low thresholds every face came back with several windows on its parts.
    """
    if not order:
        return []
    ranked = boxes[order].astype(np.float64)
    areas = np.maximum(ranked[:, 2] - ranked[:, 0], 0) * np.maximum(ranked[:, 3] - ranked[:, 1], 0)
    kept: list[int] = []
    for position in range(len(order)):
        if kept:
            others = ranked[kept]
            width = np.minimum(ranked[position, 2], others[:, 2]) - np.maximum(ranked[position, 0], others[:, 0])
            height = np.minimum(ranked[position, 3], others[:, 3]) - np.maximum(ranked[position, 1], others[:, 1])
            overlap = np.clip(width, 0, None) * np.clip(height, 0, None)
            smaller = np.maximum(np.minimum(areas[position], areas[kept]), 1e-9)
            if np.any(overlap / smaller >= NESTED_FRACTION):
                continue
        kept.append(position)
    return [order[position] for position in kept]
