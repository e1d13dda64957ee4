"""The analyze job end to end: engine -> adapters -> analyser -> CLI output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from facekit.analysis import AnalysisOptions, EmbedderChoice, FaceAnalyser
from facekit.cli import main
from facekit.errors import FaceKitError, ModelLoadError
from helpers import insightface_image

T1 = str(insightface_image("t1.jpg"))


def test_default_analysis_uses_the_embedded_models(mirrored_engine, t1) -> None:
    analysis = FaceAnalyser(mirrored_engine).analyze(t1)
    assert analysis.models["detector"] == "dlib_hog"
    assert len(analysis.faces) == 6
    assert [face.index for face in analysis.faces] == list(range(6))
    assert all(face.landmarks_68 is not None and face.landmarks_68.shape == (68, 2) for face in analysis.faces)
    assert all(face.pose is not None and abs(face.pose.yaw) < 60 for face in analysis.faces)


def test_yunet_faces_get_dlib_landmarks_and_pose(mirrored_engine, t1) -> None:
    analysis = FaceAnalyser(mirrored_engine).analyze(t1, AnalysisOptions(detector="yunet_2023mar"))
    assert analysis.models == {"detector": "yunet_2023mar", "landmarks": "dlib_68"}
    assert len(analysis.faces) == 6
    for face in analysis.faces:
        x1, y1, x2, y2 = face.box
        inside = (face.landmarks_68[:, 0] > x1 - 0.3 * (x2 - x1)) & (face.landmarks_68[:, 0] < x2 + 0.3 * (x2 - x1))
        assert inside.mean() > 0.9
        assert face.pose is not None


def test_embeddings_are_cached_per_model(mirrored_engine, t1, shared_models) -> None:
    analyser = FaceAnalyser(mirrored_engine)
    faces = analyser.analyze(t1).faces
    dlib_vectors = analyser.embed(t1, faces)
    assert dlib_vectors[0].model_id == "dlib_resnet" and dlib_vectors[0].vector.shape == (128,)
    choice = EmbedderChoice(file=shared_models / "mobilefacenet_test.onnx")
    mobile = analyser.embed(t1, faces, choice)
    assert mobile[0].model_id == "file:mobilefacenet_test.onnx"
    assert set(faces[0].embeddings) == {"dlib_resnet", "file:mobilefacenet_test.onnx"}
    assert analyser.embed(t1, faces, choice)[0] is mobile[0]  # not recomputed


def test_wrong_model_for_the_task_is_a_clear_error(mirrored_engine, t1, shared_models) -> None:
    with pytest.raises(FaceKitError, match="does the task 'embed', not 'detect'"):
        FaceAnalyser(mirrored_engine).analyze(t1, AnalysisOptions(detector="dlib_resnet"))
    with pytest.raises(FaceKitError, match="gives 106 points"):
        FaceAnalyser(mirrored_engine).analyze(t1, AnalysisOptions(detector="yunet_2023mar", landmarks="2d106det"))
    with pytest.raises(ModelLoadError):
        mirrored_engine.adapter_for_file(shared_models / "face_detection_yunet_2023mar.onnx", "arcface")


def test_offline_missing_model_names_the_file(mirrored_engine, t1) -> None:
    with pytest.raises(FaceKitError, match="scrfd_2.5g.onnx") as caught:
        FaceAnalyser(mirrored_engine).analyze(t1, AnalysisOptions(detector="scrfd_2.5g"))
    assert "offline" in str(caught.value)


def test_cli_json_and_similarity(tmp_path, shared_models, capsys) -> None:
    flags = ["--models-dir", str(tmp_path / "models"), "--mirror", str(shared_models), "--offline"]
    code = main(["analyze", T1, "--json", "--similarity", "--detector", "yunet_2023mar", *flags])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    record, similarity = lines[0], lines[1]["similarity"]
    assert record["image"] == T1 and (record["width"], record["height"]) == (1280, 886)
    assert record["models"]["detector"] == "yunet_2023mar"
    face = record["faces"][0]
    assert set(face) >= {"index", "box", "score", "landmarks_5", "landmarks_68", "pose"}
    assert len(face["landmarks_5"]) == 5 and len(face["landmarks_68"]) == 68
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert similarity["model"] == "dlib_resnet" and similarity["metric"] == "euclidean"
    same = np.array(similarity["same_person"])
    assert same.shape == (6, 6) and same.diagonal().all() and same.sum() == 6  # six different people


def test_cli_draw_and_bad_inputs(tmp_path, capsys) -> None:
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    out = tmp_path / "drawn"
    code = main(["analyze", T1, str(not_an_image), "--draw", str(out), "--offline", "--models-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "notes.txt" in captured.err and "Traceback" not in captured.err
    drawn = Image.open(out / "t1_analysis.png")
    assert drawn.size == (1280, 886) and "FaceKit" in drawn.info.get("Software", "")


def test_cli_rejects_an_oversized_image(tmp_path, capsys) -> None:
    Image.new("RGB", (400, 300)).save(tmp_path / "big.png")
    assert main(["analyze", str(tmp_path / "big.png"), "--max-pixels", "1000", "--offline"]) == 1
    assert "big.png" in capsys.readouterr().err
