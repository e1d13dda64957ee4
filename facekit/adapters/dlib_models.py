"""dlib models: file loading, box/shape conversion, and the HOG face detector.

dlib adapters receive file paths (the `.dat` files of the PyPI package
`face-recognition-models`); the HOG detector has no weights file.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import dlib
import numpy as np

from facekit.adapters import pixels
from facekit.adapters.detect import faces_from_detections, kept_indices
from facekit.adapters.face_check import FaceChecker, face_window
from facekit.errors import ModelLoadError
from facekit.face.align import landmarks_5_from_68, transform_points
from facekit.face.types import Face


def load_shape_predictor(path: str | Path) -> tuple[dlib.shape_predictor, int]:
    """Load a dlib shape predictor; return it and how many points it predicts."""
    predictor = _load(dlib.shape_predictor, path, "a dlib shape predictor")
    probe = predictor(np.zeros((64, 64), dtype=np.uint8), dlib.rectangle(8, 8, 56, 56))
    return predictor, probe.num_parts


def load_face_recognition_model(path: str | Path) -> dlib.face_recognition_model_v1:
    """Load dlib's ResNet face recognition model (`dlib_face_recognition_resnet_model_v1.dat`)."""
    return _load(dlib.face_recognition_model_v1, path, "dlib's ResNet face recognition model")


def to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def to_rectangle(box: np.ndarray) -> dlib.rectangle:
    """A FaceKit (x1, y1, x2, y2) box as a dlib rectangle (inclusive integer corners)."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    return dlib.rectangle(x1, y1, x2, y2)


# dlib's predictors were trained on HOG-detector boxes: square, from the
# brows to the chin. Other detectors' boxes (taller, forehead included) shift
# the 68 points by up to a third of the eye-to-mouth distance, so faces are
# re-boxed from their 5 points in dlib's convention. Measured on the HOG boxes
# of t1.jpg and Tom_Hanks_54745.png (7 faces, medians): side = 2.2 x the
# eye-centre-to-mouth-centre distance, centre 0.43 of the way from the eye
# midpoint to the mouth midpoint.
_HOG_SIDE_PER_EYE_MOUTH = 2.2
_HOG_WINDOW = 80  # px: the face size dlib's frontal HOG detector is trained at
_HOG_CENTRE_ALONG_EYE_MOUTH = 0.43


def dlib_rectangle_for(face: Face) -> dlib.rectangle:
    """The box dlib's shape predictors expect for `face`, from its 5 points (its box if they are degenerate)."""
    points = face.landmarks_5
    eyes = (points[0] + points[1]) / 2
    eye_to_mouth = (points[3] + points[4]) / 2 - eyes
    distance = float(np.linalg.norm(eye_to_mouth))
    if distance < 2.0:
        return to_rectangle(face.box)
    centre = eyes + _HOG_CENTRE_ALONG_EYE_MOUTH * eye_to_mouth
    half = _HOG_SIDE_PER_EYE_MOUTH * distance / 2
    return to_rectangle(np.concatenate([centre - half, centre + half]))


def shape_points(shape: dlib.full_object_detection) -> np.ndarray:
    """The points of a dlib shape as an Nx2 float32 array."""
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


_CANDIDATES_PER_FACE = 4  # boxes checked per face asked for (max_faces), best scores first


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector, with 68-point landmarks.

    Detection runs on a copy scaled down so its long side is at most
    `max_side`; dlib then upsamples that copy (0..`max_upsample` times) until
    its long side reaches `upsample_side`, because the HOG window only finds
    faces of about 80 px and up. On t1.jpg (1280x886) the defaults find all
    six ~100 px faces. Boxes are scaled back to the original image.

    Scores: dlib returns an SVM margin (0 is dlib's own decision threshold);
    `Face.score` is the logistic of that margin, so `score_threshold=0.5`
    equals dlib's default and any threshold t maps to margin log(t/(1-t)).

    5 points: dlib's 5-point predictor gives eye corners and the nose base
    but no mouth corners, so the 5 points (left eye, right eye, nose, left
    mouth, right mouth) are derived from a 68-point predictor run on the
    full-resolution image (eye centres = mean of 36-41 / 42-47, nose tip 30,
    mouth corners 48 / 54). The 68 points are kept in `Face.landmarks_68`.
    `shape_predictor_path` must therefore be a 68-point predictor.

    Face check (with `check_predictor_path`, dlib's 5-point model; the
    default build): every detection must pass :class:`FaceChecker` (the two
    landmark models agree and the points stay put when the box moves), which
    rejects 88% of the face-like non-faces HOG finds in textures and
    backgrounds; checked detections scoring up to `rescue_band` under the
    threshold are returned too (tilted or turned faces that HOG scores 0.40-0.50).

    Tilt retry (with the face check only): when no checked face is found, the
    photo is turned by each of `rotations` degrees and searched again, the
    boxes and points turned back. t1's faces 1 and 4 cropped and tilted 20
    degrees more are missed by HOG even at margin -0.5 and found this way
    (tests/test_detect.py). It costs two more HOG passes, only on photos
    where nothing was found (t1 with its six faces never pays it).
    """

    thread_safe = False  # dlib models keep working buffers: the engine serialises calls

    def __init__(
        self,
        shape_predictor_path: str | Path,
        max_side: int = 640,
        upsample_side: int = 1280,
        max_upsample: int = 2,
        check_predictor_path: str | Path | None = None,
        rescue_band: float = 0.1,
        rotations: tuple[float, ...] = (25.0, -25.0),
    ) -> None:
        self._predictor, parts = load_shape_predictor(shape_predictor_path)
        if parts != 68:
            raise ModelLoadError(
                f"{shape_predictor_path} predicts {parts} points; the dlib HOG detector needs a "
                "68-point predictor to derive mouth corners.",
                hint="Use shape_predictor_68_face_landmarks.dat from face-recognition-models.",
            )
        self._detector = dlib.get_frontal_face_detector()
        self._max_side = max_side
        self._upsample_side = upsample_side
        self._max_upsample = max_upsample
        self.checker = None if check_predictor_path is None else FaceChecker(self._predictor, load_shape_predictor(check_predictor_path)[0])
        self._rescue_band = rescue_band if self.checker is not None else 0.0
        self._rotations = rotations

    def detect(
        self,
        image_bgr: np.ndarray,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        max_faces: int | None = None,
    ) -> list[Face]:
        pixels.check_bgr(image_bgr, "image")
        rgb = to_rgb(image_bgr)
        faces = self._detect_rgb(rgb, score_threshold, nms_threshold, max_faces)
        if faces or self.checker is None:
            return faces
        for angle in self._rotations:  # nothing found: a face tilted past HOG's reach (checked faces only)
            faces = self._detect_rotated(rgb, angle, score_threshold, nms_threshold, max_faces)
            if faces:
                return faces
        return []

    def _detect_rotated(
        self, rgb: np.ndarray, angle: float, score_threshold: float, nms_threshold: float, max_faces: int | None
    ) -> list[Face]:
        """Detect on the photo turned by `angle` degrees about its centre; boxes and points turned back."""
        rows, cols = rgb.shape[:2]
        turn = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), angle, 1.0)
        turned = cv2.warpAffine(rgb, turn, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        back = cv2.invertAffineTransform(turn)
        faces = []
        for face in self._detect_rgb(turned, score_threshold, nms_threshold, max_faces):
            assert face.landmarks_68 is not None
            points_68 = transform_points(face.landmarks_68, back)
            x1, y1, x2, y2 = face.box
            corners = transform_points(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32), back)
            box = np.concatenate([corners.min(axis=0), corners.max(axis=0)]).astype(np.float32)
            faces.append(replace(face, box=box, landmarks_5=landmarks_5_from_68(points_68), landmarks_68=points_68))
        return faces

    def _detect_rgb(self, rgb: np.ndarray, score_threshold: float, nms_threshold: float, max_faces: int | None) -> list[Face]:
        small, scale = _scaled_down(rgb, self._max_side)
        upsample = self._upsample_count(max(small.shape[:2]))
        lowest = max(score_threshold - self._rescue_band, 1e-3)
        rects, margins, _ = self._detector.run(small, upsample, _margin(lowest))
        if not rects:
            return []
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], dtype=np.float32) / scale
        scores = 1.0 / (1.0 + np.exp(-np.asarray(margins, dtype=np.float32)))
        # landmarks (and checks) only for the boxes that survive suppression; a few more than the cap, as checks drop some
        candidates = None if max_faces is None else max_faces * _CANDIDATES_PER_FACE
        keep = kept_indices(boxes, scores, lowest, nms_threshold, candidates)
        if not keep:
            return []
        boxes, scores = boxes[keep], scores[keep]
        points_68 = np.stack([self._points_68(rgb, box) for box in boxes])
        if self.checker is None:
            lowest = score_threshold
        else:  # checked faces only; those in the rescue band under the threshold count as found
            passed = np.array([self.checker.check(rgb, box, points).passed for box, points in zip(boxes, points_68, strict=True)])
            if not passed.any():
                return []
            boxes, scores, points_68 = boxes[passed], scores[passed], points_68[passed]
        points_5 = np.stack([landmarks_5_from_68(points) for points in points_68])
        return faces_from_detections(boxes, scores, points_5, lowest, nms_threshold, max_faces, points_68)

    def _points_68(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The 68 points for a box, predicted on the face's window (dlib copies the whole image on every call)."""
        window, offset = face_window(rgb, box)
        shifted = np.asarray(box, dtype=np.float32) - np.tile(offset, 2)
        return shape_points(self._predictor(window, to_rectangle(shifted))) + offset

    def min_face_size(self, shape: tuple[int, ...]) -> int:
        """About the smallest face width (px) this detector finds in an image of `shape`.

        dlib's HOG window is 80 px; the image is first scaled by `scale` to
        `max_side` and then upsampled `u` times, so the smallest face in the
        original is 80 / (scale * 2**u): 80 px on a 1280x886 photo, ~250 px
        on a 4000x3000 one (a crowd of small faces is not detected there).
        """
        rows, cols = shape[:2]
        scale = min(1.0, self._max_side / max(rows, cols, 1))
        small_long_side = max(1, round(max(rows, cols) * scale))
        return math.ceil(_HOG_WINDOW / (scale * 2 ** self._upsample_count(small_long_side)))

    def _upsample_count(self, long_side: int) -> int:
        if long_side >= self._upsample_side:
            return 0
        return min(self._max_upsample, math.ceil(math.log2(self._upsample_side / long_side)))


def _scaled_down(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A copy whose long side is at most `max_side` (each side at least 1 px, for extreme aspect ratios) and its scale."""
    rows, cols = rgb.shape[:2]
    scale = min(1.0, max_side / max(rows, cols))
    if scale == 1.0:
        return rgb, 1.0
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _margin(score_threshold: float) -> float:
    """The SVM margin whose logistic is `score_threshold`."""
    t = min(max(score_threshold, 1e-6), 1 - 1e-6)
    return math.log(t / (1 - t))


def _load(loader: type, path: str | Path, what: str):
    if not Path(path).is_file():
        raise ModelLoadError(f"{path} does not exist; expected {what}.", hint="Check the model path.")
    try:
        return loader(str(path))
    except RuntimeError as error:
        raise ModelLoadError(
            f"{path} could not be loaded as {what}: {error}",
            hint="Check that the file is the right .dat file and is not truncated.",
        ) from error
