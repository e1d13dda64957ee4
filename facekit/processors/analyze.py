"""The analyze job: faces, landmarks and pose per image; similarity between faces; annotated drawings."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facekit.analysis import Analysis, AnalysisOptions, EmbedderChoice, FaceAnalyser, compare
from facekit.engine import Engine
from facekit.face.pose import mean_shape_3d, solve_head_pose
from facekit.face.types import Face

_BOX_COLOUR = (0, 200, 0)
_POINT_COLOUR = (0, 255, 255)
_FIVE_COLOUR = (0, 0, 255)
_AXIS_COLOURS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # x red, y green, z blue (BGR)
_NOSE_TIP = 30


@dataclass
class AnalysedImage:
    """One image's analysis with the name it is reported under."""

    name: str
    image: np.ndarray
    analysis: Analysis

    def as_dict(self) -> dict[str, object]:
        return analysis_record(self)


@dataclass
class AnalyzePipeline:
    """The analyze job with its analyser passed in: faces, landmarks and pose per image; similarity across them."""

    analyser: FaceAnalyser
    options: AnalysisOptions = AnalysisOptions()
    embedder: EmbedderChoice = EmbedderChoice()  # for `similarity`

    @classmethod
    def from_engine(
        cls, engine: Engine, options: AnalysisOptions = AnalysisOptions(), embedder: EmbedderChoice = EmbedderChoice()
    ) -> AnalyzePipeline:
        return cls(FaceAnalyser(engine), options, embedder)

    def __call__(self, name: str, image_bgr: np.ndarray) -> AnalysedImage:
        """1. detect, 2. landmarks, 3. pose (the analyser's steps) for one image."""
        return AnalysedImage(name=name, image=image_bgr, analysis=self.analyser.analyze(image_bgr, self.options))

    def similarity(self, items: list[AnalysedImage]) -> dict[str, object]:
        """Pairwise identity scores between every face of `items` (see :func:`similarity_matrix`)."""
        return similarity_matrix(self.analyser, items, self.embedder)


def _points(points: np.ndarray | None) -> list[list[float]] | None:
    return None if points is None else [[round(float(x), 2), round(float(y), 2)] for x, y in points]


def face_record(face: Face) -> dict[str, object]:
    return {
        "index": face.index,
        "box": [round(float(v), 2) for v in face.box],
        "score": round(float(face.score), 4),
        "landmarks_5": _points(face.landmarks_5),
        "landmarks_68": _points(face.landmarks_68),
        "pose": face.pose.as_dict() if face.pose is not None else None,
    }


def analysis_record(item: AnalysedImage) -> dict[str, object]:
    """The JSON object `analyze --json` prints for one image."""
    analysis = item.analysis
    return {
        "image": item.name,
        "width": analysis.width,
        "height": analysis.height,
        "models": analysis.models,
        "timings_ms": analysis.timings_ms,
        "faces": [face_record(face) for face in analysis.faces],
        "notes": analysis.notes,
    }


def similarity_matrix(analyser: FaceAnalyser, items: list[AnalysedImage], choice: EmbedderChoice) -> dict[str, object]:
    """Pairwise scores between every face of every image, with the model's same-person rule."""
    _, label, match = analyser.embedder(choice)
    names: list[str] = []
    vectors: list[np.ndarray] = []
    for item in items:
        embeddings = analyser.embed(item.image, item.analysis.faces, choice)
        names.extend(f"{item.name}#{face.index}" for face in item.analysis.faces)
        vectors.extend(embedding.vector for embedding in embeddings)
    scores = [[compare(a, b, match)[0] for b in vectors] for a in vectors]
    return {
        "model": label,
        "metric": match.metric,
        "score": match.scale.kind,  # "distance" or "similarity"
        "direction": match.scale.direction,
        "threshold": match.threshold,
        "same_person_when": match.scale.rule_text(match.threshold),
        "faces": names,
        "matrix": [[round(score, 4) for score in row] for row in scores],
        "same_person": [[match.same_person(score) for score in row] for row in scores],
    }


def draw_analysis(image_bgr: np.ndarray, analysis: Analysis) -> np.ndarray:
    """A copy of the image with boxes, scores, 5 and 68 points, and pose axes."""
    canvas = image_bgr.copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 600))
    for face in analysis.faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _BOX_COLOUR, thickness)
        cv2.putText(canvas, f"#{face.index} {face.score:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, _BOX_COLOUR, thickness, cv2.LINE_AA)
        if face.landmarks_68 is not None:
            for x, y in face.landmarks_68:
                cv2.circle(canvas, (int(round(x)), int(round(y))), thickness, _POINT_COLOUR, -1, cv2.LINE_AA)
            _draw_pose_axes(canvas, face, thickness)
        for x, y in face.landmarks_5:
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, _FIVE_COLOUR, -1, cv2.LINE_AA)
    return canvas


def _draw_pose_axes(canvas: np.ndarray, face: Face, thickness: int) -> None:
    assert face.landmarks_68 is not None
    height, width = canvas.shape[:2]
    head = solve_head_pose(face.landmarks_68, (width, height))
    shape = mean_shape_3d()
    length = float(np.ptp(shape[:, 0])) * 0.5
    origin = shape[_NOSE_TIP]
    axes = np.array([origin, origin + [length, 0, 0], origin + [0, -length, 0], origin + [0, 0, -length]], dtype=np.float64)
    projected, _ = cv2.projectPoints(axes, head.rvec, head.tvec, head.camera_matrix, None)
    start, *ends = [tuple(int(round(v)) for v in point.ravel()) for point in projected]
    for end, colour in zip(ends, _AXIS_COLOURS, strict=True):
        cv2.arrowedLine(canvas, start, end, colour, thickness + 1, cv2.LINE_AA, tipLength=0.15)
