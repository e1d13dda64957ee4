"""Identity embeddings: dlib's ResNet (128-d) and ArcFace-style ONNX models.

"Same person" thresholds (each recogniser has its own scale; never compare
vectors from different models):

- dlib ResNet (`dlib_face_recognition_resnet_model_v1.dat`): Euclidean
  :func:`facekit.face.identity.euclidean_distance` < 0.6 means the same person (dlib's published
  operating point, 99.38% on LFW).
- ArcFace w600k_r50 (InsightFace buffalo_l): cosine :func:`facekit.face.identity.cosine_similarity` above
  about 0.3-0.4 is the range commonly used for "same person"; unrelated
  faces are usually near 0.
- MobileFaceNet test model (`mobilefacenet_test.onnx`, mean 127.5, std 128),
  measured on InsightFace's sample photos (see tests/test_embed.py), cosine:
  a face vs the same face mirrored 0.86-0.96 with SCRFD's 5 points (0.69-0.93
  with YuNet's, which are less precise), vs a 0.75x rescale 0.94-1.00, the
  aligned Tom_Hanks_54745.png vs its mirror 0.96; the 15 pairs of different
  people in t1.jpg -0.18..0.42 (SCRFD points) / -0.10..0.34 (YuNet points).
  A threshold near 0.55 separates these; it is a small sample, not a
  calibrated operating point.
"""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import onnxruntime as ort

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.dlib_models import (
    dlib_rectangle_for,
    load_face_recognition_model,
    load_shape_predictor,
    to_rgb,
)
from facekit.adapters.registry import PerChannel
from facekit.face.align import TEMPLATES, warp
from facekit.face.identity import l2_normalise
from facekit.face.types import Face

COLOURS = ("rgb", "bgr")


class DlibResnetEmbedder:
    """dlib's ResNet face descriptor (128-d, not normalised; compare with :func:`facekit.face.identity.euclidean_distance`).

    The face is aligned by dlib from the points of the given shape predictor
    (the 5-point or the 68-point file both work), run in the box dlib expects
    (rebuilt from the face's 5 points, see `dlib_rectangle_for`).
    Measured on t1.jpg with the 5-point file and SCRFD faces: a face vs its
    mirror image 0.16-0.27, vs a 0.75x rescale 0.07-0.12; the 15 pairs of
    different people 0.65-0.90 (threshold 0.6).
    """

    thread_safe = False  # dlib models keep working buffers: the engine serialises calls

    def __init__(
        self,
        predictor_path: str | Path,
        resnet_path: str | Path,
        num_jitters: int = 0,
        padding: float = 0.25,
    ) -> None:
        self._predictor, _ = load_shape_predictor(predictor_path)
        self._model = load_face_recognition_model(resnet_path)
        self._num_jitters = num_jitters
        self._padding = padding

    def embed(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        return self.embed_faces(image_bgr, [face])[0]

    def embed_faces(self, image_bgr: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, 128), dtype=np.float32)
        rgb = to_rgb(image_bgr)
        shapes = dlib.full_object_detections()
        for face in faces:
            shapes.append(self._predictor(rgb, dlib_rectangle_for(face)))
        vectors = self._model.compute_face_descriptor(rgb, shapes, self._num_jitters, self._padding)
        return np.array([np.array(v) for v in vectors], dtype=np.float32)

    def embed_batches(self, batches: list[tuple[np.ndarray, list[Face]]]) -> list[np.ndarray]:
        """Faces of several images in one dlib call (one array per image, in order)."""
        images = [to_rgb(image) for image, _ in batches]
        shapes = []
        for rgb, (_, faces) in zip(images, batches, strict=True):
            detections = dlib.full_object_detections()
            for face in faces:
                detections.append(self._predictor(rgb, dlib_rectangle_for(face)))
            shapes.append(detections)
        kept = [i for i, (_, faces) in enumerate(batches) if faces]
        if not kept:
            return [np.zeros((0, 128), dtype=np.float32) for _ in batches]
        vectors = self._model.compute_face_descriptor(
            [images[i] for i in kept], [shapes[i] for i in kept], self._num_jitters, self._padding
        )
        result = [np.zeros((0, 128), dtype=np.float32) for _ in batches]
        for i, rows in zip(kept, vectors, strict=True):
            result[i] = np.array([np.array(v) for v in rows], dtype=np.float32)
        return result


class ArcFaceEmbedder:
    """An ArcFace-style recogniser on a session: aligned crop in, L2-normalised vector out.

    The crop is warped onto `template` at `size` x `size` from the face's 5
    points, converted to `colour` ("rgb" or "bgr") and normalised as
    (x - mean) / std. The output dimension is whatever the model gives (512 for
    w600k_r50, 128 for the MobileFaceNet test model). The normalised vector is
    also what inswapper's source input needs before its emap projection.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        mean: PerChannel,
        std: PerChannel,
        colour: str = "rgb",
        template: str = "arcface_112_v2",
        size: int = 112,
        name: str | None = None,
    ) -> None:
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS}, got {colour!r}")
        if template not in TEMPLATES:
            raise ValueError(f"unknown alignment template {template!r}; known: {', '.join(TEMPLATES)}")
        label = checks.model_label(session, name)
        self._input_name, _ = checks.image_input(session, label, size=(size, size))
        self._output_name, width = checks.single_output(session, label)
        self._width = width if isinstance(width, int) and width > 0 else 0
        batch = session.get_inputs()[0].shape[0]
        self._batch = batch if checks.is_fixed(batch) else None
        self._session = session
        self._mean = np.asarray(mean, dtype=np.float32)
        self._std = np.asarray(std, dtype=np.float32)
        self._colour = colour
        self._template = template
        self._size = size

    def embed(self, image_bgr: np.ndarray, face: Face) -> np.ndarray:
        return self.embed_faces(image_bgr, [face])[0]

    def embed_faces(self, image_bgr: np.ndarray, faces: list[Face]) -> np.ndarray:
        crops = [warp(image_bgr, face.landmarks_5, self._template, self._size)[0] for face in faces]
        return self.embed_aligned(crops)

    def embed_batches(self, batches: list[tuple[np.ndarray, list[Face]]]) -> list[np.ndarray]:
        """Faces of several images through the network together (one array per image, in order)."""
        crops = [warp(image, face.landmarks_5, self._template, self._size)[0] for image, faces in batches for face in faces]
        vectors = self.embed_aligned(crops)
        bounds = np.cumsum([0] + [len(faces) for _, faces in batches])
        return [vectors[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]

    def embed_aligned(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """Embed crops already aligned to this model's template and size (BGR uint8)."""
        if not crops_bgr:
            return np.zeros((0, self._width), dtype=np.float32)
        blob = self._blob(np.stack(crops_bgr))
        step = self._batch or len(blob)
        parts = [self._session.run([self._output_name], {self._input_name: blob[i : i + step]})[0] for i in range(0, len(blob), step)]
        return l2_normalise(np.concatenate(parts).reshape(len(blob), -1))

    def _blob(self, crops_bgr: np.ndarray) -> np.ndarray:
        return pixels.to_blob(crops_bgr, self._colour, self._mean, self._std)
