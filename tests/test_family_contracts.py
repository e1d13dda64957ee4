"""One contract test over every family of THE family table (issue 11 item 12).

Battery per family: it loads through `engine.load(task, ref)` and satisfies
its task's Protocol; its main call gives the promised shapes and dtypes;
identity in -> identity out where the stand-in is an identity; a file with
a wrong signature is a clear load error (a built-in family refuses a file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from family_standins import FACTORIES, wrong_signature

from facekit.adapters.base import TASK_PROTOCOLS, FrontalResult, SwapSource, SwapTarget
from facekit.adapters.families import FAMILIES
from facekit.errors import FaceKitError, ModelLoadError
from facekit.face.align import RESAMPLING, crop_face, warp
from facekit.face.mask import FaceParse
from facekit.face.types import Face
from facekit.model_ref import ModelRef


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("family_standins")


@pytest.fixture(scope="module")
def two_t1_faces(engine, t1) -> list[Face]:
    """Two faces of t1 with 68 points (dlib HOG derives them with its 68-point predictor)."""
    found = engine.detector("dlib_hog").detect(t1)[:2]
    assert len(found) == 2 and all(face.landmarks_68 is not None for face in found)
    return found


def test_every_family_has_a_stand_in_factory() -> None:
    assert set(FACTORIES) == set(FAMILIES)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_contract(family, engine, folder, shared_models, t1, two_t1_faces) -> None:
    task = FAMILIES[family].task
    standin = FACTORIES[family]
    adapter = engine.load(task, standin.make(folder, shared_models))
    assert isinstance(adapter, TASK_PROTOCOLS[task])
    BATTERY[task](adapter, t1, two_t1_faces, standin.identity)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_wrong_signature_is_a_clear_load_error(family, engine, folder) -> None:
    task = FAMILIES[family].task
    wrong = wrong_signature(folder / f"wrong_for_{family}.onnx")
    if not FAMILIES[family].model_file:
        with pytest.raises(FaceKitError, match="built-in family|takes a model file"):
            engine.load(task, ModelRef(file=wrong, family=family))
        return
    with pytest.raises(ModelLoadError) as caught:
        engine.load(task, ModelRef(file=wrong, family=family))
    assert f"file:{wrong.name}" in caught.value.message or wrong.name in caught.value.message
    assert "expected" in caught.value.message or "emap" in caught.value.message


# ------------------------------------------------------------------ battery per task
def _detect(adapter, image, faces, identity) -> None:
    found = adapter.detect(image)
    assert found and all(isinstance(face, Face) for face in found)
    for face in found:
        assert face.box.shape == (4,) and face.landmarks_5.shape == (5, 2) and 0.0 <= face.score <= 1.0


def _landmarks(adapter, image, faces, identity) -> None:
    for face in faces:
        points = adapter.landmarks(image, face)
        assert points.ndim == 2 and points.shape[1] == 2 and points.shape[0] in (68, 106) and np.isfinite(points).all()
        assert np.all(points[:, 0] >= face.box[0] - face.width) and np.all(points[:, 0] <= face.box[2] + face.width)


def _embed(adapter, image, faces, identity) -> None:
    vectors = adapter.embed_faces(image, faces)
    assert vectors.shape[0] == len(faces) and vectors.ndim == 2 and np.isfinite(vectors).all()
    assert np.allclose(adapter.embed(image, faces[0]), vectors[0], atol=1e-4)


def _restore(adapter, image, faces, identity) -> None:
    crop, _ = warp(image, faces[0].landmarks_5, adapter.template, adapter.size)
    restored = adapter.restore(crop, 0.5)
    assert restored.shape == crop.shape and restored.dtype == np.uint8
    if identity:
        assert np.array_equal(restored, crop)


def _diffusion(adapter, image, faces, identity) -> None:
    crop, _ = warp(image, faces[0].landmarks_5, "ffhq_512", 64)
    refined = adapter.refine(crop, start=2, steps=4, eta=0.0)
    assert refined.shape == crop.shape and refined.dtype == np.uint8
    assert np.array_equal(adapter.refine(crop, start=0, steps=4), crop)  # identity where it applies: start 0 diffuses nothing


def _swap(adapter, image, faces, identity) -> None:
    target_face, source_face = faces
    matrix, size = adapter.crop_transform(target_face)
    crop = crop_face(image, matrix, size, RESAMPLING[adapter.resampling])
    embedding = None
    if adapter.embedding_family is not None:
        embedding = np.random.default_rng(0).normal(size=adapter.embedding_size or 512).astype(np.float32)
    points = None if target_face.landmarks_68 is None else (target_face.landmarks_68 @ matrix[:, :2].T + matrix[:, 2])
    target = SwapTarget(crop=crop, points_68=points, embedding=embedding, pose=target_face.pose)
    swapped = adapter.swap(target, SwapSource(image=image, face=source_face, embedding=embedding))
    assert swapped.shape == crop.shape and swapped.dtype == np.uint8
    if identity:
        assert np.array_equal(swapped, crop)


def _frontalize(adapter, image, faces, identity) -> None:
    result = adapter.frontalize(image, faces[0])
    assert isinstance(result, FrontalResult)
    assert result.image.shape == (adapter.size, adapter.size, 3) and result.image.dtype == np.uint8


def _parse(adapter, image, faces, identity) -> None:
    parsed = adapter.parse(image, faces[0])
    assert isinstance(parsed, FaceParse)
    assert parsed.classes.shape == (adapter.size, adapter.size) and parsed.classes.dtype == np.uint8


BATTERY = {
    "detect": _detect,
    "landmarks": _landmarks,
    "embed": _embed,
    "restore": _restore,
    "diffusion": _diffusion,
    "swap": _swap,
    "frontalize": _frontalize,
    "parse": _parse,
}
