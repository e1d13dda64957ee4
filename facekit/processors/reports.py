"""Typed per-face reports of each job, and the JSON each prints (`.as_dict()`; keys in docs/reports.md).

Identity fields are named for what they hold: a Euclidean score (dlib ResNet)
is a *distance* (lower = more alike) and goes under `..._distance`; a cosine
score (ArcFace) is a *similarity* (higher = more alike) and goes under
`..._similarity`. Every record that carries one also says its metric and
direction, so no reader has to know which recogniser ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facekit.face.identity import IdentityScore
from facekit.face.types import Pose

JsonDict = dict[str, object]


class FaceReport(Protocol):
    """What every job's per-face report offers."""

    index: int

    def as_dict(self) -> JsonDict: ...


def box_list(box: np.ndarray | tuple[float, ...], digits: int) -> list[float]:
    return [round(float(v), digits) for v in box]


def identity_key(prefix: str, score: IdentityScore) -> str:
    """'identity_distance', 'source_similarity', ...: the field a score goes under."""
    return f"{prefix}_{score.kind}"


@dataclass
class RestoreFaceReport:
    """One restored face: where it is, how long it took, and (when asked) its identity before vs after."""

    index: int
    box: np.ndarray
    seconds: float
    repairs: dict[str, object] | None = None  # classic: the damage it measured and what it repaired
    skipped: str | None = None  # why this face was left as it was (its data was unusable)
    identity: IdentityScore | None = None  # restored face vs the same face before

    @property
    def same_person(self) -> bool | None:
        return None if self.identity is None else self.identity.same_person

    def as_dict(self) -> JsonDict:
        record: JsonDict = {"index": self.index, "box": box_list(self.box, 1), "seconds": round(self.seconds, 3)}
        if self.repairs is not None:
            record["repairs"] = self.repairs
        if self.skipped is not None:
            record["skipped"] = self.skipped
        if self.identity is not None:
            record.update(
                {
                    identity_key("identity", self.identity): round(self.identity.value, 4),
                    "identity_metric": self.identity.metric,
                    "identity_direction": self.identity.direction,
                    "identity_threshold": self.identity.threshold,
                    "same_person": self.identity.same_person,
                    "embedder": self.identity.model,
                }
            )
        return record


@dataclass
class SwapFaceReport:
    """One swapped face: which identity it got and how close the result is to the source and to the original."""

    index: int
    box: np.ndarray
    source: str  # which source photo(s) and face(s) made the identity
    to_source: IdentityScore | None = None
    to_target: IdentityScore | None = None  # vs the original face at this place
    restore: RestoreFaceReport | None = None
    skipped: str | None = None  # why this face was left as it was (its data was unusable)

    @property
    def closer_to_source(self) -> bool | None:
        if self.to_source is None or self.to_target is None:
            return None
        return self.to_source.is_better(self.to_target)

    @property
    def status(self) -> str:
        """"skipped", "poor" (the result is nearer the original person than the source), "ok", or "unscored"."""
        if self.skipped is not None:
            return "skipped"
        closer = self.closer_to_source
        return "unscored" if closer is None else ("ok" if closer else "poor")

    def as_dict(self) -> JsonDict:
        record: JsonDict = {"index": self.index, "box": box_list(self.box, 2), "source": self.source, "status": self.status}
        if self.status == "poor":
            record["message"] = "poor: the swapped face is nearer the original person than the source (identity moved the wrong way)"
        if self.skipped is not None:
            record["skipped"] = self.skipped
        if self.to_source is not None and self.to_target is not None:
            record.update(
                {
                    identity_key("source", self.to_source): round(self.to_source.value, 4),
                    identity_key("target", self.to_target): round(self.to_target.value, 4),
                    "identity_embedder": self.to_source.model,
                    "identity_metric": self.to_source.metric,
                    "identity_direction": self.to_source.direction,
                    "same_person_as_source": self.to_source.same_person,
                    "closer_to_source": self.closer_to_source,
                }
            )
        if self.restore is not None:
            record["restore"] = {key: value for key, value in self.restore.as_dict().items() if key != "index"}
        return record


def identity_record(score: IdentityScore) -> JsonDict:
    """A score as its own JSON object (frontalize's `identity`)."""
    return {
        "model": score.model,
        "metric": score.metric,
        score.kind: round(score.value, 4),
        "direction": score.direction,
        "threshold": score.threshold,
        "same_person": score.same_person,
    }


@dataclass
class FrontalMeasure:
    """What a fresh detection on the frontal output found: its pose, and the identity vs the input face."""

    pose_after: Pose | None = None
    identity: IdentityScore | None = None
    note: str | None = None  # why nothing was measured (no face found on the output)

    def as_dict(self) -> JsonDict:
        if self.note is not None:
            return {"pose_after": None, "identity": None, "measure_note": self.note}
        assert self.pose_after is not None and self.identity is not None
        return {
            "pose_after": {"yaw": round(self.pose_after.yaw, 2), "pitch": round(self.pose_after.pitch, 2)},
            "identity": identity_record(self.identity),
        }


@dataclass
class FrontalizeFaceReport:
    """One selected face of the frontalize job: frontalized ("ok"), frontalized but failing its checks ("poor", with the
    reason in `message`), or skipped with the reason."""

    index: int
    status: str  # "ok", "poor" or "skipped"
    box: np.ndarray
    pose_before: Pose | None
    message: str | None = None  # why the face was skipped
    fill_fraction: float | None = None
    visible_fraction: float | None = None
    symmetry: float | None = None
    symmetry_before: float | None = None
    size: int | None = None
    template: str | None = None
    frontalize_ms: float | None = None
    measure: FrontalMeasure | None = None  # None when measuring was switched off
    file: str | None = None  # set by the CLI once the face's image is written

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> JsonDict:
        record: JsonDict = {"index": self.index, "status": self.status}
        if self.message is not None:
            record["message"] = self.message
        record["box"] = box_list(self.box, 2)
        record["pose_before"] = self.pose_before.as_dict() if self.pose_before is not None else None
        if self.status != "skipped":
            record.update(
                {
                    "fill_fraction": None if self.fill_fraction is None else round(self.fill_fraction, 4),
                    "visible_fraction": self.visible_fraction,
                    "symmetry": None if self.symmetry is None else round(self.symmetry, 4),
                    "symmetry_before": None if self.symmetry_before is None else round(self.symmetry_before, 4),
                    "size": self.size,
                    "template": self.template,
                    "frontalize_ms": None if self.frontalize_ms is None else round(self.frontalize_ms, 1),
                }
            )
        if self.measure is not None:
            record.update(self.measure.as_dict())
        if self.file is not None:
            record["file"] = self.file
        return record
