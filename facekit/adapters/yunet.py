"""YuNet face detector (OpenCV zoo, 2023mar) decoded from an ONNX Runtime session.

Conventions (the same as OpenCV's `cv2.FaceDetectorYN`): input is the raw BGR
image as float 0..255; for each stride 8/16/32 there is one anchor per cell
with outputs `cls_<s>`, `obj_<s>`, `bbox_<s>` (dx, dy, log w, log h) and
`kps_<s>` (5 points as cell offsets); score = sqrt(cls * obj), exactly as
OpenCV's `FaceDetectorYN` computes it (kept as is, issue 17.5).
The 5 points come out as image-left eye, image-right eye, nose tip,
image-left mouth corner, image-right mouth corner, which is FaceKit's order.
"""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.detect import faces_from_detections, letterbox
from facekit.face.types import Face

STRIDES = (8, 16, 32)


class YuNetDetector:
    """YuNet on a session; works on any image size.

    A model with a fixed input (the 2023mar file is 640x640) gets the image
    letterboxed to that size; a dynamic-size model gets the image scaled so
    its long side is `input_size`, padded to a multiple of 32.
    """

    def __init__(self, session: ort.InferenceSession, input_size: int = 640, name: str | None = None) -> None:
        label = checks.model_label(session, name)
        self._input_name, self._fixed_size = checks.image_input(session, label)
        self._output_names = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]
        checks.require_outputs(session, label, self._output_names)
        self._session = session
        self._input_size = input_size

    def detect(
        self,
        image_bgr: np.ndarray,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        max_faces: int | None = None,
    ) -> list[Face]:
        pixels.check_bgr(image_bgr, "image")
        height, width = self._canvas_size(image_bgr.shape[0], image_bgr.shape[1])
        canvas, scale = letterbox(image_bgr, width, height)
        blob = canvas.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
        outputs = dict(zip(self._output_names, self._session.run(self._output_names, {self._input_name: blob}), strict=True))
        boxes, scores, landmarks = _decode(outputs, height, width, score_threshold)
        return faces_from_detections(boxes / scale, scores, landmarks / scale, score_threshold, nms_threshold, max_faces)

    def _canvas_size(self, rows: int, cols: int) -> tuple[int, int]:
        if self._fixed_size is not None:
            return self._fixed_size
        scale = self._input_size / max(rows, cols)
        return _multiple_of_32(rows * scale), _multiple_of_32(cols * scale)


def _decode(outputs: dict[str, np.ndarray], height: int, width: int, score_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchors scoring at least `score_threshold` as boxes Nx4, scores N, landmarks Nx5x2 (canvas coords)."""
    boxes, scores, landmarks = [], [], []
    for stride in STRIDES:
        cols = width // stride
        rows = height // stride
        cells = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1).reshape(-1, 2).astype(np.float32)
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        hits = score >= score_threshold
        cells = cells[hits]
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[hits]
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[hits]
        centre = (cells + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:]) * stride
        boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
        scores.append(score[hits])
        landmarks.append((kps + cells[:, np.newaxis, :]) * stride)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(landmarks)


def _multiple_of_32(value: float) -> int:
    return max(32, 32 * math.ceil(value / 32))
