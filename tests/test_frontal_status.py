"""Honest frontalize status: "ok" only when the output passes its checks, else "poor" with the reason, off the sheet."""

from __future__ import annotations

import facekit.processors.frontalize as frontalize_module
from facekit.face.identity import IdentityScore
from facekit.face.types import Pose
from facekit.processors.frontalize import FrontalizeOptions, FrontalizePipeline, poor_reason
from facekit.processors.reports import FrontalMeasure


def score(same: bool) -> IdentityScore:
    return IdentityScore(value=0.3 if same else 0.8, metric="euclidean", threshold=0.6, model="dlib_resnet")


def test_poor_reasons() -> None:
    assert poor_reason(None) is None  # not measured: nothing to judge
    assert "no face" in poor_reason(FrontalMeasure(note="no face was detected on the output"))
    assert "not the same person" in poor_reason(FrontalMeasure(pose_after=Pose(1.0, 0.0, 0.0), identity=score(False)))
    assert "still turned +20.0" in poor_reason(FrontalMeasure(pose_after=Pose(20.0, 0.0, 0.0), identity=score(True)))
    assert poor_reason(FrontalMeasure(pose_after=Pose(3.0, 0.0, 0.0), identity=score(True))) is None


def test_torn_turned_faces_are_poor(engine, t1) -> None:
    result = FrontalizePipeline.from_engine(engine, FrontalizeOptions(faces=frontalize_module.FaceSelection.parse("4")))(t1)
    (face,) = result.faces
    assert face.status == "poor" and "mirrored side" in face.message  # yaw -48: 29% filled, seam and doubled ear
    assert any("poor" in warning for warning in result.warnings)  # the sheet shows it anyway, saying so


def test_t1_faces_are_ok_and_poor_ones_leave_the_sheet(engine, t1, monkeypatch) -> None:
    options = FrontalizeOptions(faces=frontalize_module.FaceSelection.parse("0,5"))
    result = FrontalizePipeline.from_engine(engine, options)(t1)
    assert [face.status for face in result.faces] == ["ok", "ok"]  # re-measured |yaw| under 2, same person
    monkeypatch.setattr(frontalize_module, "MAX_FRONTAL_YAW", 1.0)  # face 0 re-measures 1.5 degrees, face 5 0.75
    strict = FrontalizePipeline.from_engine(engine, options)(t1)
    assert [face.status for face in strict.faces] == ["poor", "ok"]
    assert "still turned" in strict.faces[0].as_dict()["message"] and strict.faces[0].as_dict()["pose_after"] is not None
    only_face_1 = FrontalizePipeline.from_engine(engine, FrontalizeOptions(faces=frontalize_module.FaceSelection.parse("5")))(t1)
    assert strict.image.shape == only_face_1.image.shape  # only the ok face is on the sheet
    asked = FrontalizePipeline.from_engine(engine, FrontalizeOptions(faces=options.faces, sheet_poor=True))(t1)
    assert asked.image.shape[0] == result.image.shape[0]


def test_a_swap_whose_identity_moved_the_wrong_way_is_poor() -> None:
    import numpy as np

    from facekit.processors.reports import SwapFaceReport

    near_source = SwapFaceReport(index=0, box=np.zeros(4), source="s", to_source=score(True), to_target=score(False))
    near_target = SwapFaceReport(index=0, box=np.zeros(4), source="s", to_source=score(False), to_target=score(True))
    assert near_source.as_dict()["status"] == "ok" and "message" not in near_source.as_dict()
    assert near_target.status == "poor" and "wrong way" in near_target.as_dict()["message"]
    assert SwapFaceReport(index=0, box=np.zeros(4), source="s").status == "unscored"
