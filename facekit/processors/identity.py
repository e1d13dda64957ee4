"""The one identity scorer every job uses: faces before vs after, with one recogniser, batched.

"Before" embeddings are kept on each `Face` (by recogniser) the first time
they are computed, so an embedding the job already needed (a `ref:` face
selection, the analysis) is never computed twice. The output's faces are
scored from the geometry the job already has (no second detection), and all
missing "before" and every "after" embedding go through the recogniser in
one batched call where it supports that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facekit.analysis import EmbedderChoice, FaceAnalyser
from facekit.face.identity import IdentityScore, score_identity
from facekit.face.types import Embedding, Face


class IdentityScorer:
    """Scores pairs of faces with one recogniser (its own metric and same-person threshold)."""

    def __init__(self, analyser: FaceAnalyser, choice: EmbedderChoice = EmbedderChoice()) -> None:
        self.analyser = analyser
        self.choice = choice
        self.adapter, self.label, self.match = analyser.embedder(choice)

    def score(self, a: np.ndarray, b: np.ndarray) -> IdentityScore:
        return score_identity(a, b, self.match, self.label)

    def embeddings(self, image: np.ndarray, faces: Sequence[Face]) -> list[np.ndarray]:
        """Embeddings of faces of `image`, cached on each face (computed once per recogniser)."""
        return [e.vector for e in self.analyser.embed(image, list(faces), self.choice)]

    def before_and_after(
        self, before: np.ndarray, after: np.ndarray, faces: Sequence[Face], after_faces: Sequence[Face] | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(before, after) embeddings of the same faces; `after_faces` where the output geometry differs.

        The "after" vectors are never cached: they describe other pixels.
        """
        faces = list(faces)
        placed = list(after_faces) if after_faces is not None else faces
        missing = [face for face in faces if self.label not in face.embeddings]
        fresh, after_vectors = self._embed_together([(before, missing), (after, placed)])
        for face, vector in zip(missing, fresh, strict=True):
            face.embeddings[self.label] = Embedding(vector=np.asarray(vector, dtype=np.float32), model_id=self.label)
        return [face.embeddings[self.label].vector for face in faces], [np.asarray(v, dtype=np.float32) for v in after_vectors]

    def compare_faces(
        self, before: np.ndarray, after: np.ndarray, faces: Sequence[Face], after_faces: Sequence[Face] | None = None
    ) -> list[IdentityScore]:
        """Each face after the job vs the same face before it."""
        originals, results = self.before_and_after(before, after, faces, after_faces)
        return [self.score(original, result) for original, result in zip(originals, results, strict=True)]

    def _embed_together(self, batches: list[tuple[np.ndarray, list[Face]]]) -> list[np.ndarray]:
        embed_batches = getattr(self.adapter, "embed_batches", None)
        if embed_batches is not None:
            return list(embed_batches(batches))
        return [self.adapter.embed_faces(image, faces) if faces else np.zeros((0, 0), np.float32) for image, faces in batches]
