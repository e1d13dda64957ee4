"""Real identity embeddings: dlib ResNet and the MobileFaceNet test model."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import face_recognition_models
import numpy as np
import pytest

from facekit.adapters.embed import ArcFaceEmbedder, DlibResnetEmbedder
from facekit.adapters.scrfd import ScrfdDetector
from facekit.errors import ModelLoadError
from facekit.face.identity import cosine_similarity as similarity
from facekit.face.identity import euclidean_distance as dlib_distance
from facekit.face.identity import l2_normalise
from facekit.face.types import Face
from helpers import SAMPLES, open_session

DLIB_SAME_PERSON = 0.6  # Euclidean distance below this: same person
MOBILEFACENET_SAME_PERSON = 0.55  # cosine above this: same person (measured, see embed.py)


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> ScrfdDetector:
    return ScrfdDetector(open_session(models_dir, "scrfd_2.5g_kps_test.onnx"))


@pytest.fixture(scope="module")
def mobilefacenet_embedder(models_dir: Path) -> ArcFaceEmbedder:
    return ArcFaceEmbedder(open_session(models_dir, "mobilefacenet_test.onnx"), mean=127.5, std=128.0)


@pytest.fixture(scope="module")
def dlib_resnet() -> DlibResnetEmbedder:
    return DlibResnetEmbedder(
        face_recognition_models.pose_predictor_five_point_model_location(),
        face_recognition_models.face_recognition_model_location(),
    )


@pytest.fixture(scope="module")
def views(t1: np.ndarray, detector: ScrfdDetector) -> dict[str, tuple[np.ndarray, list[Face]]]:
    """t1, its mirror and a 0.75x copy, each with its faces in t1's order."""
    mirror = np.ascontiguousarray(t1[:, ::-1])
    smaller = cv2.resize(t1, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    original = detector.detect(t1)
    width = t1.shape[1]
    return {
        "original": (t1, original),
        "mirror": (mirror, in_order(original, detector.detect(mirror), lambda b: [width - b[2], b[1], width - b[0], b[3]])),
        "smaller": (smaller, in_order(original, detector.detect(smaller), lambda b: np.asarray(b) * 0.75)),
    }


def in_order(reference: list[Face], faces: list[Face], map_box) -> list[Face]:
    """`faces` reordered so that faces[i] is the same person as reference[i] (nearest box centre)."""
    centres = np.array([[(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2] for f in faces])
    ordered = []
    for face in reference:
        box = map_box(face.box)
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        ordered.append(faces[int(np.argmin(np.linalg.norm(centres - centre, axis=1)))])
    assert len({id(face) for face in ordered}) == len(reference)
    return ordered


def embeddings(embedder, views, name: str) -> np.ndarray:
    image, faces = views[name]
    return embedder.embed_faces(image, faces)


def test_dlib_same_person_under_mirror_and_rescale(dlib_resnet: DlibResnetEmbedder, views) -> None:
    original = embeddings(dlib_resnet, views, "original")
    assert original.shape == (6, 128)
    for other in ("mirror", "smaller"):
        distances = [dlib_distance(a, b) for a, b in zip(original, embeddings(dlib_resnet, views, other), strict=True)]
        assert max(distances) < DLIB_SAME_PERSON, (other, distances)


def test_dlib_six_people_are_different(dlib_resnet: DlibResnetEmbedder, views) -> None:
    vectors = embeddings(dlib_resnet, views, "original")
    distances = [dlib_distance(vectors[i], vectors[j]) for i, j in itertools.combinations(range(6), 2)]
    assert min(distances) > DLIB_SAME_PERSON, distances


def test_mobilefacenet_same_person_under_mirror_and_rescale(mobilefacenet_embedder: ArcFaceEmbedder, views) -> None:
    original = embeddings(mobilefacenet_embedder, views, "original")
    assert original.shape == (6, 128)
    np.testing.assert_allclose(np.linalg.norm(original, axis=1), 1.0, atol=1e-5)
    for other in ("mirror", "smaller"):
        scores = [similarity(a, b) for a, b in zip(original, embeddings(mobilefacenet_embedder, views, other), strict=True)]
        assert min(scores) > MOBILEFACENET_SAME_PERSON, (other, scores)


def test_mobilefacenet_six_people_are_different(mobilefacenet_embedder: ArcFaceEmbedder, views) -> None:
    vectors = embeddings(mobilefacenet_embedder, views, "original")
    scores = [similarity(vectors[i], vectors[j]) for i, j in itertools.combinations(range(6), 2)]
    assert max(scores) < MOBILEFACENET_SAME_PERSON, scores


def test_mobilefacenet_on_an_aligned_crop(mobilefacenet_embedder: ArcFaceEmbedder, views) -> None:
    hanks = cv2.imread(str(SAMPLES / "Tom_Hanks_54745.png"))
    assert hanks.shape == (112, 112, 3)
    own, mirrored = mobilefacenet_embedder.embed_aligned([hanks, np.ascontiguousarray(hanks[:, ::-1])])
    assert similarity(own, mirrored) > MOBILEFACENET_SAME_PERSON
    others = embeddings(mobilefacenet_embedder, views, "original")
    assert max(similarity(own, other) for other in others) < MOBILEFACENET_SAME_PERSON


def test_batch_and_single_embeddings_agree(mobilefacenet_embedder: ArcFaceEmbedder, dlib_resnet, views) -> None:
    image, faces = views["original"]
    for embedder in (mobilefacenet_embedder, dlib_resnet):
        batch = embedder.embed_faces(image, faces)
        np.testing.assert_allclose(batch[3], embedder.embed(image, faces[3]), atol=1e-4)
    assert mobilefacenet_embedder.embed_faces(image, []).shape == (0, 128)
    assert dlib_resnet.embed_faces(image, []).shape == (0, 128)


def test_bgr_colour_changes_the_input(models_dir: Path, mobilefacenet_embedder: ArcFaceEmbedder, views) -> None:
    bgr = ArcFaceEmbedder(open_session(models_dir, "mobilefacenet_test.onnx"), 127.5, 128.0, colour="bgr")
    image, faces = views["original"]
    assert similarity(bgr.embed(image, faces[0]), mobilefacenet_embedder.embed(image, faces[0])) < 0.9999
    with pytest.raises(ValueError, match="colour"):
        ArcFaceEmbedder(open_session(models_dir, "mobilefacenet_test.onnx"), 127.5, 128.0, colour="hsv")


def test_session_that_is_not_a_recogniser_is_rejected(models_dir: Path) -> None:
    with pytest.raises(ModelLoadError) as error:
        ArcFaceEmbedder(open_session(models_dir, "face_detection_yunet_2023mar.onnx"), 127.5, 127.5)
    message = str(error.value)
    assert "face_detection_yunet_2023mar.onnx" in message
    assert "expected one image input [N,3,112,112]" in message
    assert "input[1,3,640,640]" in message
    with pytest.raises(ModelLoadError, match=r"\[N,3,128,128\]"):
        ArcFaceEmbedder(open_session(models_dir, "mobilefacenet_test.onnx"), 127.5, 128.0, size=128)
    with pytest.raises(ModelLoadError, match="does not exist"):
        DlibResnetEmbedder(face_recognition_models.pose_predictor_model_location(), models_dir / "missing.dat")


def test_similarity_and_distance_maths() -> None:
    a = np.array([3.0, 4.0])
    assert similarity(a, 2 * a) == pytest.approx(1.0)
    assert similarity(a, -a) == pytest.approx(-1.0)
    assert similarity(a, np.array([-4.0, 3.0])) == pytest.approx(0.0)
    assert dlib_distance(a, np.zeros(2)) == pytest.approx(5.0)
    np.testing.assert_allclose(l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0.0, 0.0]])
