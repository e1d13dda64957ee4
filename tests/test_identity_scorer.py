"""The one identity scorer: before/after with one recogniser, batched, reusing embeddings already on the faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facekit.analysis import EmbedderChoice, FaceAnalyser
from facekit.face.types import Face
from facekit.processors.identity import IdentityScorer


class CountingEmbedder:
    """Wraps an embedder and counts the faces each call embeds."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def embed_faces(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        self.calls.append(len(faces))
        return self.inner.embed_faces(image, faces)

    def embed_batches(self, batches):
        self.calls.append(sum(len(faces) for _, faces in batches))
        return self.inner.embed_batches(batches)


@pytest.fixture(scope="module")
def two_faces(engine, t1) -> list[Face]:
    return FaceAnalyser(engine).analyze(t1).faces[:2]


def test_before_and_after_is_one_batched_call_and_before_is_reused(engine, t1, two_faces) -> None:
    scorer = IdentityScorer(FaceAnalyser(engine))
    counting = CountingEmbedder(scorer.adapter)
    scorer.adapter = counting
    faces = [Face(box=f.box, score=f.score, landmarks_5=f.landmarks_5, landmarks_68=f.landmarks_68, index=f.index) for f in two_faces]
    blurred = cv2.GaussianBlur(t1, (0, 0), 3.0)
    scores = scorer.compare_faces(t1, blurred, faces)
    assert counting.calls == [4]  # 2 before + 2 after in one recogniser call
    assert [s.model for s in scores] == ["dlib_resnet", "dlib_resnet"] and all(s.kind == "distance" for s in scores)
    assert all(0.0 < s.value < 0.6 and s.same_person for s in scores)  # blurred, still the same people
    again = scorer.compare_faces(t1, t1, faces)
    assert counting.calls == [4, 2]  # the "before" embeddings were kept on the faces
    assert all(s.value < 1e-5 for s in again)


def test_embed_batches_equals_one_image_at_a_time(engine, t1, two_faces, models_dir: Path) -> None:
    flipped = np.ascontiguousarray(t1[::-1])
    for choice in (EmbedderChoice(), EmbedderChoice(file=models_dir / "mobilefacenet_test.onnx", family="arcface")):
        adapter, _, _ = FaceAnalyser(engine).embedder(choice)
        together = adapter.embed_batches([(t1, two_faces), (flipped, []), (flipped, two_faces[:1])])
        assert [len(v) for v in together] == [2, 0, 1]
        np.testing.assert_allclose(together[0], adapter.embed_faces(t1, two_faces), atol=1e-5)
        np.testing.assert_allclose(together[2], adapter.embed_faces(flipped, two_faces[:1]), atol=1e-5)
