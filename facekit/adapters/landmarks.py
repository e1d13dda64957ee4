"""Dense face landmarks: dlib's 68-point predictor and InsightFace's 2d106det / 1k3d68.

All landmarkers take a BGR image and a detected `Face` (its box) and return
points in image pixel coordinates.

InsightFace landmark models (inputs `data` [1,3,192,192]) see a 192x192 crop
centred on the box centre, scaled so that 1.5 x the box's longer side fills
the crop, no rotation, RGB, (x - mean) / std. They output coordinates in
-1..1 over the crop: 2d106det `fc1` [1,212] = 106 (x, y); 1k3d68 `fc1`
[1,3309] = 1103 (x, y, z) rows of which the last 68 are the iBUG 68 points.
InsightFace's own loader uses mean 0 / std 1 for these mxnet exports
(their graphs normalise internally), so those are the defaults here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.dlib_models import dlib_rectangle_for, load_shape_predictor, shape_points, to_rgb
from facekit.adapters.registry import PerChannel
from facekit.errors import ModelLoadError
from facekit.face.types import Face

CROP_SIZE = 192
BOX_MARGIN = 1.5


class Dlib68Landmarker:
    """dlib's `shape_predictor_68_face_landmarks.dat`: 68 points in iBUG 300-W order.

    The predictor runs in a box rebuilt from the face's 5 points in dlib's
    HOG-box convention (see `dlib_rectangle_for`), so SCRFD and YuNet faces
    get nearly the points dlib's own detector would give: on t1.jpg the mean
    point offset was 1.5-2.5% of the eye-to-mouth distance (worst face 4.5%),
    against 6-10% (worst face 35%) with the detectors' own boxes.
    """

    thread_safe = False  # dlib models keep working buffers: the engine serialises calls

    def __init__(self, predictor_path: str | Path) -> None:
        self._predictor, parts = load_shape_predictor(predictor_path)
        if parts != 68:
            raise ModelLoadError(
                f"{predictor_path} predicts {parts} points; expected a 68-point dlib shape predictor.",
                hint="Use shape_predictor_68_face_landmarks.dat from face-recognition-models.",
            )

    def landmarks(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        return shape_points(self._predictor(to_rgb(image_bgr), dlib_rectangle_for(face)))


class InsightFace106Landmarker:
    """InsightFace `2d106det`: 106 points (InsightFace's own markup, not iBUG).

    No documented mapping from these 106 points to the iBUG 68 exists, so
    callers should leave `Face.landmarks_68` unset when only this model ran.
    """

    def __init__(self, session: ort.InferenceSession, mean: PerChannel = 0.0, std: PerChannel = 1.0, name: str | None = None) -> None:
        self._net = _CropRegressor(session, 212, mean, std, name)

    def landmarks(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        return self._net.points(image_bgr, face.box, dims=2)


class InsightFace3d68Landmarker:
    """InsightFace `1k3d68`: the iBUG 68 points in 3D; `landmarks` gives their (x, y)."""

    def __init__(self, session: ort.InferenceSession, mean: PerChannel = 0.0, std: PerChannel = 1.0, name: str | None = None) -> None:
        self._net = _CropRegressor(session, 3309, mean, std, name)

    def landmarks(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        return self.landmarks_3d(image_bgr, face)[:, :2]

    def landmarks_3d(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        """68x3: x, y in image pixels; z in the same pixel scale (relative depth)."""
        return self._net.points(image_bgr, face.box, dims=3)[-68:]


class _CropRegressor:
    """Runs an InsightFace coordinate-regression model on the box crop and maps points back."""

    def __init__(self, session: ort.InferenceSession, width: int, mean: PerChannel, std: PerChannel, name: str | None) -> None:
        label = checks.model_label(session, name)
        self._input_name, _ = checks.image_input(session, label, size=(CROP_SIZE, CROP_SIZE))
        self._output_name, _ = checks.single_output(session, label, width=width)
        self._session = session
        self._mean = np.asarray(mean, dtype=np.float32)
        self._std = np.asarray(std, dtype=np.float32)

    def points(self, image_bgr: np.ndarray, box: np.ndarray, dims: int) -> np.ndarray:
        matrix = crop_matrix(box, CROP_SIZE)
        crop = cv2.warpAffine(image_bgr, matrix, (CROP_SIZE, CROP_SIZE), borderValue=0)
        blob = pixels.to_blob(crop, "rgb", self._mean, self._std)
        raw = self._session.run([self._output_name], {self._input_name: blob})[0]
        return crop_points_to_image(raw.reshape(-1, dims), matrix, CROP_SIZE)


def crop_matrix(box: np.ndarray, size: int) -> np.ndarray:
    """2x3 affine taking image pixels to the size x size crop InsightFace landmarkers use."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    scale = size / (max(x2 - x1, y2 - y1) * BOX_MARGIN)
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    return np.array([[scale, 0.0, size / 2 - scale * centre_x], [0.0, scale, size / 2 - scale * centre_y]], dtype=np.float64)


def crop_points_to_image(points: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Model outputs in -1..1 over the crop (x, y[, z]) to image pixels; z is scaled like x and y."""
    in_crop = (points.astype(np.float64) + [1.0, 1.0, 0.0][: points.shape[1]]) * (size // 2)
    inverse = cv2.invertAffineTransform(matrix)
    xy = in_crop[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    if points.shape[1] == 2:
        return xy.astype(np.float32)
    z = in_crop[:, 2:] * np.sqrt(inverse[0, 0] ** 2 + inverse[0, 1] ** 2)
    return np.hstack([xy, z]).astype(np.float32)
