"""SCRFD / InsightFace detectors (`det_10g.onnx`, `scrfd_*_kps.onnx`) on an ONNX Runtime session.

Decoding is InsightFace's own (`insightface.model_zoo.scrfd.SCRFD.forward`:
RGB, (x-127.5)/128, distance-times-stride boxes and keypoints); this module
letterboxes the image to the model's input (640 by default), runs that
decoder, scales the results back to the image and applies FaceKit's NMS.

Colour order: SCRFD is fed RGB, as InsightFace's own decoder does
(`swapRB=True`). FaceFusion feeds it BGR; FaceKit keeps InsightFace's
convention on purpose (issue 17.5), so boxes and points can differ slightly
from FaceFusion's on the same photo.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from insightface.model_zoo.scrfd import SCRFD

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.detect import faces_from_detections, letterbox
from facekit.face.types import Face

# Output layouts with keypoints that InsightFace's SCRFD decoder supports:
# 3 strides x 2 anchors (9 outputs) or 5 strides x 1 anchor (15 outputs),
# ordered scores, boxes, keypoints with last dimensions 1, 4 and 10.
_KPS_OUTPUT_COUNTS = (9, 15)


class ScrfdDetector:
    """SCRFD with 5 keypoints on a session; works on any image size."""

    def __init__(self, session: ort.InferenceSession, input_size: int = 640, name: str | None = None) -> None:
        label = checks.model_label(session, name)
        _, fixed = checks.image_input(session, label)
        _check_outputs(session, label)
        self._canvas = fixed if fixed is not None else (input_size, input_size)
        self._model = SCRFD(model_file=None, session=session)

    def detect(
        self,
        image_bgr: np.ndarray,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        max_faces: int | None = None,
    ) -> list[Face]:
        pixels.check_bgr(image_bgr, "image")
        height, width = self._canvas
        canvas, scale = letterbox(image_bgr, width, height)
        scores, boxes, keypoints = self._model.forward(canvas, score_threshold)
        return faces_from_detections(
            np.concatenate(boxes) / scale,
            np.concatenate(scores).reshape(-1),
            np.concatenate(keypoints).reshape(-1, 5, 2) / scale,
            score_threshold,
            nms_threshold,
            max_faces,
        )


def _check_outputs(session: ort.InferenceSession, label: str) -> None:
    outputs = session.get_outputs()
    expected = "9 or 15 outputs (scores, boxes, keypoints per stride; last dims 1, 4, 10)"
    if len(outputs) not in _KPS_OUTPUT_COUNTS:
        raise checks.mismatch(session, label, expected)
    per_kind = len(outputs) // 3
    widths = [1] * per_kind + [4] * per_kind + [10] * per_kind
    if any(out.shape[-1] != width for out, width in zip(outputs, widths, strict=True)):
        raise checks.mismatch(session, label, expected)
