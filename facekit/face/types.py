"""The `Face` record every analyser step fills in."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees: yaw (+ = face turned to the image's right), pitch (+ = up), roll."""

    yaw: float
    pitch: float
    roll: float

    def as_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "roll": round(self.roll, 2)}


@dataclass(frozen=True)
class Embedding:
    """An identity vector and the id of the model that produced it."""

    vector: np.ndarray
    model_id: str


@dataclass
class Face:
    """One detected face in image pixel coordinates.

    `box` is (x1, y1, x2, y2); `landmarks_5` is 5x2 in the order left eye,
    right eye, nose, left mouth corner, right mouth corner (image left/right);
    `landmarks_68` is 68x2 in iBUG 300-W order when a landmarker ran.
    `index` is the face's position in the image, left to right.
    """

    box: np.ndarray
    score: float
    landmarks_5: np.ndarray
    landmarks_68: np.ndarray | None = None
    pose: Pose | None = None
    embeddings: dict[str, Embedding] = field(default_factory=dict)
    index: int = 0

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])


def sort_faces(faces: list[Face]) -> list[Face]:
    """Order faces left to right (then top to bottom) and number them."""
    ordered = sorted(faces, key=lambda f: (round(float(f.box[0])), round(float(f.box[1]))))
    for position, face in enumerate(ordered):
        face.index = position
    return ordered
