"""dlib 68-point landmarks on real faces; InsightFace 2d106det / 1k3d68 decoding on stand-in ONNX graphs.

The InsightFace landmark weights are not available here, so two stand-in
graphs with the real models' signatures (input `data` [1,3,192,192], output
`fc1` [1,212] or [1,3309]) check the crop and decoding geometry:
- the 106 stand-in finds the brightest red pixel of its input crop and
  reports it, in the models' -1..1 crop coordinates, as all 106 points, so
  the decoded points must land on the red dot in the image;
- the 68 3D stand-in outputs fixed numbers, so the expected image
  coordinates follow from the box alone.
"""

from __future__ import annotations

from pathlib import Path

import face_recognition_models
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from facekit.adapters.dlib_models import DlibHogDetector
from facekit.adapters.landmarks import Dlib68Landmarker, InsightFace3d68Landmarker, InsightFace106Landmarker
from facekit.adapters.scrfd import ScrfdDetector
from facekit.adapters.yunet import YuNetDetector
from facekit.errors import ModelLoadError
from facekit.face.align import landmarks_5_from_68
from facekit.face.types import Face

OPSET = [helper.make_opsetid("", 17)]


@pytest.fixture(scope="module")
def dlib68() -> Dlib68Landmarker:
    return Dlib68Landmarker(face_recognition_models.pose_predictor_model_location())


def session_of(graph: onnx.GraphProto) -> ort.InferenceSession:
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    onnx.checker.check_model(model)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def standin_106_brightest_red() -> ort.InferenceSession:
    """`fc1` [1,212] = (x/96 - 1, y/96 - 1) of the crop's brightest channel-0 pixel, 106 times."""
    const = numpy_helper.from_array
    nodes = [
        helper.make_node("Gather", ["data", "zero"], ["red"], axis=1),
        helper.make_node("Reshape", ["red", "flat_shape"], ["flat"]),
        helper.make_node("ArgMax", ["flat"], ["index"], axis=1, keepdims=1),
        helper.make_node("Mod", ["index", "side"], ["col"]),
        helper.make_node("Div", ["index", "side"], ["row"]),
        helper.make_node("Concat", ["col", "row"], ["xy_int"], axis=1),
        helper.make_node("Cast", ["xy_int"], ["xy"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["xy", "half"], ["xy_half"]),
        helper.make_node("Sub", ["xy_half", "one"], ["xy_norm"]),
        helper.make_node("Tile", ["xy_norm", "repeats"], ["fc1"]),
    ]
    initialisers = [
        const(np.array(0, dtype=np.int64), "zero"),
        const(np.array([1, 192 * 192], dtype=np.int64), "flat_shape"),
        const(np.array(192, dtype=np.int64), "side"),
        const(np.array(96.0, dtype=np.float32), "half"),
        const(np.array(1.0, dtype=np.float32), "one"),
        const(np.array([1, 106], dtype=np.int64), "repeats"),
    ]
    graph = helper.make_graph(
        nodes,
        "standin_2d106det",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 192, 192])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 212])],
        initialisers,
    )
    return session_of(graph)


def standin_constant(width: int, values: np.ndarray) -> ort.InferenceSession:
    """`fc1` [1,width] = `values` (+ 0 x mean of the input, so the input is used)."""
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["values", "nothing"], ["fc1"]),
    ]
    graph = helper.make_graph(
        nodes,
        "standin_constant",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 192, 192])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, width])],
        [
            numpy_helper.from_array(values.reshape(1, width).astype(np.float32), "values"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
        ],
    )
    return session_of(graph)


def face_with_box(box: list[float]) -> Face:
    return Face(box=np.array(box, dtype=np.float32), score=1.0, landmarks_5=np.zeros((5, 2), dtype=np.float32))


def test_dlib68_points_lie_in_their_boxes(t1: np.ndarray, dlib68: Dlib68Landmarker, models_dir: Path) -> None:
    session = ort.InferenceSession(str(models_dir / "scrfd_2.5g_kps_test.onnx"), providers=["CPUExecutionProvider"])
    faces = ScrfdDetector(session).detect(t1)
    assert len(faces) == 6
    for face in faces:
        points = dlib68.landmarks(t1, face)
        assert points.shape == (68, 2) and points.dtype == np.float32
        x1, y1, x2, y2 = face.box
        margin = 0.15 * face.width
        assert np.all((points[:, 0] > x1 - margin) & (points[:, 0] < x2 + margin))
        assert np.all((points[:, 1] > y1 - margin) & (points[:, 1] < y2 + margin))
        # eye centres / nose / mouth corners from the 68 points sit near SCRFD's own 5 points
        offsets = np.linalg.norm(landmarks_5_from_68(points) - face.landmarks_5, axis=1)
        assert offsets.max() < 0.15 * face.width


@pytest.mark.parametrize("detector_file", ["scrfd_2.5g_kps_test.onnx", "face_detection_yunet_2023mar.onnx"])
def test_dlib68_on_other_detectors_matches_dlibs_own_points(
    t1: np.ndarray, dlib68: Dlib68Landmarker, models_dir: Path, detector_file: str
) -> None:
    session = ort.InferenceSession(str(models_dir / detector_file), providers=["CPUExecutionProvider"])
    detector = ScrfdDetector(session) if detector_file.startswith("scrfd") else YuNetDetector(session)
    native = DlibHogDetector(face_recognition_models.pose_predictor_model_location()).detect(t1)
    faces = detector.detect(t1)
    assert len(faces) == len(native) == 6
    for face, reference in zip(faces, native, strict=True):
        eyes_to_mouth = np.linalg.norm(reference.landmarks_5[3:].mean(axis=0) - reference.landmarks_5[:2].mean(axis=0))
        offsets = np.linalg.norm(dlib68.landmarks(t1, face) - reference.landmarks_68, axis=1)
        assert offsets.mean() < 0.05 * eyes_to_mouth


def test_dlib68_falls_back_to_the_box_without_5_points(t1: np.ndarray, dlib68: Dlib68Landmarker) -> None:
    reference = DlibHogDetector(face_recognition_models.pose_predictor_model_location()).detect(t1)[0]
    boxed_only = face_with_box(reference.box.tolist())
    np.testing.assert_allclose(dlib68.landmarks(t1, boxed_only), reference.landmarks_68, atol=1.0)


def test_dlib68_rejects_the_5_point_file() -> None:
    with pytest.raises(ModelLoadError, match="predicts 5 points"):
        Dlib68Landmarker(face_recognition_models.pose_predictor_five_point_model_location())


@pytest.mark.parametrize(
    ("box", "dot"),
    [([100, 50, 180, 170], (131, 97)), ([300.5, 220.25, 420.0, 300.0], (402, 233)), ([0, 0, 40, 60], (5, 50))],
)
def test_106_points_map_back_to_the_image(box: list[float], dot: tuple[int, int]) -> None:
    image = np.full((400, 500, 3), 40, dtype=np.uint8)
    image[dot[1], dot[0]] = (0, 0, 255)  # red in BGR: the stand-in looks at the RGB crop's channel 0
    landmarker = InsightFace106Landmarker(standin_106_brightest_red())
    points = landmarker.landmarks(image, face_with_box(box))
    assert points.shape == (106, 2)
    scale = 192 / (1.5 * max(box[2] - box[0], box[3] - box[1]))
    np.testing.assert_allclose(points, np.tile(dot, (106, 1)), atol=0.5 / scale + 1e-3)


def test_3d68_takes_the_last_68_rows_and_maps_them_to_the_image() -> None:
    xyz = np.column_stack([np.linspace(-0.9, 0.9, 68), np.linspace(0.8, -0.8, 68), np.linspace(-0.5, 0.5, 68)])
    values = np.vstack([np.full((1103 - 68, 3), 9.0), xyz])
    landmarker = InsightFace3d68Landmarker(standin_constant(3309, values))
    box = [100.0, 50.0, 180.0, 170.0]  # centre (140, 110), longer side 120
    half_span = 0.75 * 120  # -1..1 spans 1.5 x the longer side
    points = landmarker.landmarks_3d(np.zeros((300, 300, 3), dtype=np.uint8), face_with_box(box))
    assert points.shape == (68, 3)
    np.testing.assert_allclose(points[:, 0], 140 + xyz[:, 0] * half_span, atol=1e-3)
    np.testing.assert_allclose(points[:, 1], 110 + xyz[:, 1] * half_span, atol=1e-3)
    np.testing.assert_allclose(points[:, 2], xyz[:, 2] * half_span, atol=1e-3)
    flat = landmarker.landmarks(np.zeros((300, 300, 3), dtype=np.uint8), face_with_box(box))
    np.testing.assert_allclose(flat, points[:, :2])


def test_landmark_sessions_are_checked(models_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"expected one output \[N,212\]"):
        InsightFace106Landmarker(standin_constant(3309, np.zeros(3309)))
    with pytest.raises(ModelLoadError, match=r"expected one output \[N,3309\]"):
        InsightFace3d68Landmarker(standin_constant(212, np.zeros(212)), name="1k3d68")
    yunet = ort.InferenceSession(str(models_dir / "face_detection_yunet_2023mar.onnx"), providers=["CPUExecutionProvider"])
    with pytest.raises(ModelLoadError, match=r"\[N,3,192,192\].*input\[1,3,640,640\]"):
        InsightFace106Landmarker(yunet)
