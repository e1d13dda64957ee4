"""Face analysis every job stands on: detect -> 68 landmarks -> pose; embeddings on demand.

Models are chosen by id (or a user's file for embeddings); when none is
named, the best ready model of each task is used, and the result says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facekit.adapters.base import Detector, Embedder
from facekit.engine import Engine
from facekit.errors import DegenerateFaceError, FaceKitError
from facekit.face.pose import estimate_pose
from facekit.face.types import Embedding, Face, sort_faces
from facekit.manifest import Match
from facekit.model_ref import ModelRef

#: faces kept per image unless told otherwise (highest scores); a low threshold on a busy photo finds hundreds
DEFAULT_MAX_FACES = 64
#: a detector's smallest findable face (px) above which a photo's small faces (a crowd) are worth a note
NOTABLE_MIN_FACE_PX = 100
#: found faces narrower than this many times that minimum suggest others, smaller, were missed
NEAR_MIN_FACE = 1.5


@dataclass(frozen=True)
class AnalysisOptions:
    """Which models to run and how strict detection is."""

    detector: str | None = None  # a detect model id; None = best ready
    landmarks: str | None = None  # a 68-point landmark model id; None = detector's own points, else best ready
    score_threshold: float = 0.5
    nms_threshold: float = 0.4
    max_faces: int | None = DEFAULT_MAX_FACES  # None = no cap
    pose: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise FaceKitError(f"score threshold {self.score_threshold} is outside 0..1.", "Use a value such as 0.5.")
        if self.max_faces is not None and self.max_faces < 1:
            raise FaceKitError(f"max faces {self.max_faces} must be 1 or more.", "Use a value such as 64.")


@dataclass(frozen=True)
class EmbedderChoice:
    """A manifest embed model, or a user's ONNX file of an embed family."""

    model_id: str | None = None
    file: Path | None = None
    family: str = "arcface"

    @property
    def label(self) -> str:
        return f"file:{self.file.name}" if self.file is not None else (self.model_id or "default")


@dataclass
class Analysis:
    """Faces found in one image and the models that found them."""

    width: int
    height: int
    faces: list[Face]
    models: dict[str, str]
    timings_ms: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # e.g. a face whose landmarks no pose fits
    capped_at: int | None = None  # set when the detector found more faces than `max_faces` and the rest were dropped

    @property
    def notes(self) -> list[str]:
        """Plain sentences about what the analysis left out: the face cap, then the warnings."""
        cap = [] if self.capped_at is None else [
            f"More than {self.capped_at} faces were found; only the {self.capped_at} most confident are used "
            "(raise the detection score threshold, or the face limit)."
        ]
        return [*cap, *self.warnings]


def _small_faces_note(detector: Detector, detector_id: str, shape: tuple[int, ...], faces: list[Face]) -> str | None:
    """Say so when faces may be below the detector's minimum size for this image (issue 18.13).

    That is when none was found, or when the photo is large enough that the
    minimum is notable and the faces found are near it (a crowd where only
    the largest few, if any, were found).
    """
    smallest = getattr(detector, "min_face_size", None)
    if not callable(smallest):
        return None
    minimum = int(smallest(shape))
    near = bool(faces) and minimum >= NOTABLE_MIN_FACE_PX and min(face.width for face in faces) < NEAR_MIN_FACE * minimum
    if faces and not near:
        return None
    return (
        f"{detector_id} finds faces at least ~{minimum} px wide in this {shape[1]}x{shape[0]} image; "
        "smaller faces (a crowd, a distant group) are not detected: choose the yunet_2023mar or scrfd detector."
    )


class FaceAnalyser:
    """Runs detection, landmarks, pose and embeddings with the engine's adapters."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def analyze(self, image_bgr: np.ndarray, options: AnalysisOptions = AnalysisOptions()) -> Analysis:
        height, width = image_bgr.shape[:2]
        detector_id = options.detector or self.engine.default_model("detect").id
        timings: dict[str, float] = {}
        warnings: list[str] = []
        started = time.perf_counter()
        detector = self.engine.detector(detector_id)
        faces, capped_at = _detect_capped(detector, image_bgr, options)
        note = _small_faces_note(detector, detector_id, image_bgr.shape, faces)
        if note:
            warnings.append(note)
        timings["detect"] = _ms_since(started)
        models = {"detector": detector_id}
        landmark_id = self._landmark_model(faces, options)
        if landmark_id is not None:
            started = time.perf_counter()
            landmarker = self.engine.landmarker(landmark_id)
            for face in faces:
                face.landmarks_68 = np.asarray(landmarker.landmarks(image_bgr, face), dtype=np.float32)
            timings["landmarks"] = _ms_since(started)
            models["landmarks"] = landmark_id
        elif faces and faces[0].landmarks_68 is not None:
            models["landmarks"] = f"{detector_id} (68 points from dlib_68)"
        if options.pose:
            started = time.perf_counter()
            for face in faces:
                if face.landmarks_68 is not None:
                    try:
                        face.pose = estimate_pose(face.landmarks_68, (width, height))
                    except DegenerateFaceError as error:  # this face has no pose; the others keep theirs
                        warnings.append(f"face {face.index}: {error.message}")
            timings["pose"] = _ms_since(started)
        return Analysis(
            width=width, height=height, faces=faces, models=models, timings_ms=timings, warnings=warnings, capped_at=capped_at
        )

    def _landmark_model(self, faces: list[Face], options: AnalysisOptions) -> str | None:
        if options.landmarks is not None:
            entry = self.engine.manifest.get(options.landmarks)
            if entry.input.points != 68:
                raise FaceKitError(
                    f"Landmark model {entry.id!r} gives {entry.input.points} points; analysis needs 68.",
                    "Use dlib_68 or 1k3d68.",
                )
            return entry.id
        if not faces or all(face.landmarks_68 is not None for face in faces):
            return None
        return self.engine.default_model("landmarks", accept=lambda entry: entry.input.points == 68).id

    # -------------------------------------------------------------- identity
    def embedder(self, choice: EmbedderChoice) -> tuple[Embedder, str, Match]:
        """The embed adapter, its label and its same-person rule."""
        if choice.file is not None:
            entry = self.engine.family_entry(choice.family)
            if entry is None or entry.task != "embed" or entry.match is None:
                raise FaceKitError(f"Family {choice.family!r} is not an embedding family.", "Use --family arcface.")
            return self.engine.embedder(ModelRef(file=choice.file, family=choice.family)), choice.label, entry.match
        model_id = choice.model_id or self.engine.default_model("embed").id
        entry = self.engine.manifest.get(model_id)
        adapter = self.engine.embedder(model_id)
        assert entry.match is not None  # the manifest requires it for embed models
        return adapter, model_id, entry.match

    def embed(self, image_bgr: np.ndarray, faces: list[Face], choice: EmbedderChoice = EmbedderChoice()) -> list[Embedding]:
        """Embeddings of `faces`, computed once per model and kept on each face."""
        adapter, label, _ = self.embedder(choice)
        missing = [face for face in faces if label not in face.embeddings]
        if missing:
            vectors = adapter.embed_faces(image_bgr, missing)
            for face, vector in zip(missing, vectors, strict=True):
                face.embeddings[label] = Embedding(vector=np.asarray(vector, dtype=np.float32), model_id=label)
        return [face.embeddings[label] for face in faces]


def compare(a: np.ndarray, b: np.ndarray, match: Match) -> tuple[float, bool]:
    """Score two embeddings with the model's metric; (score, same person?)."""
    score = match.scale.score(a, b)
    return score, match.same_person(score)


def _detect_capped(detector: Detector, image_bgr: np.ndarray, options: AnalysisOptions) -> tuple[list[Face], int | None]:
    """Detect at most `options.max_faces` faces (the best scores); say when more were there."""
    limit = options.max_faces
    faces = detector.detect(image_bgr, options.score_threshold, options.nms_threshold, None if limit is None else limit + 1)
    if limit is None or len(faces) <= limit:
        return faces, None
    best = sorted(faces, key=lambda face: -face.score)[:limit]
    return sort_faces(best), limit


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)
