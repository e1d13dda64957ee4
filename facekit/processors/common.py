"""What every job shares: its result record, progress callbacks and face selection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from facekit.analysis import Analysis, AnalysisOptions, EmbedderChoice, FaceAnalyser, compare
from facekit.errors import FaceKitError, NoFaceError, quote_prefix
from facekit.face.types import Face
from facekit.imageio import decode_image
from facekit.processors.reports import FaceReport
from facekit.weights import ProgressCallback, format_bytes

#: progress(fraction 0..1, message) - the CLI draws a bar, the app passes gr.Progress
JobProgress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """A JobProgress that ignores updates."""


def download_progress(progress: JobProgress) -> ProgressCallback:
    """A weight-store progress callback that reports a download through a job's progress (bytes done of the file's size)."""

    def update(label: str, done: int, total: int | None) -> None:
        fraction = done / total if total else 0.0
        progress(fraction, f"downloading {label}: {format_bytes(done)} of {format_bytes(total)}")

    return update


@dataclass
class JobResult:
    """One job on one image: the output image, a per-face report and the models used."""

    image: np.ndarray
    faces: Sequence[FaceReport]  # typed per job: RestoreFaceReport, SwapFaceReport, FrontalizeFaceReport
    models: dict[str, str]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    extra_images: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. frontal crops per face

    def face_dicts(self) -> list[dict[str, object]]:
        """The per-face reports as the JSON the CLI and API print (keys in docs/reports.md)."""
        return [face.as_dict() for face in self.faces]

    def report(self) -> dict[str, object]:
        return {"faces": self.face_dicts(), "models": self.models, "seconds": round(self.seconds, 3), "warnings": self.warnings}


@dataclass
class PendingResult:
    """A job whose output pixels and models are final and whose identity report is still to run.

    `finish()` scores the faces and returns the JobResult. A caller may encode
    `image` (with provenance from `models` and `faces`' indexes, which `finish` does not change)
    while the report runs, e.g. in a worker thread (issue 17.7).
    """

    image: np.ndarray
    models: dict[str, str]
    faces: Sequence[FaceReport]  # the per-face reports, identity scores still to come
    finish: Callable[[], JobResult]


MAX_SELECTION_CHARS = 1000  # 'all', 'ref:PATH' or up to ~250 indexes
MAX_FACE_INDEX = 9999


@dataclass(frozen=True)
class FaceSelection:
    """Which faces a job touches: all, some indexes, or those matching a reference photo."""

    mode: Literal["all", "indexes", "reference"] = "all"
    indexes: tuple[int, ...] = ()
    reference: Path | None = None
    threshold: float | None = None  # reference mode: score limit; None = the embedder's same-person rule

    @classmethod
    def parse(cls, spec: str | None, threshold: float | None = None, allow_reference: bool = True) -> FaceSelection:
        """'all', '0,2' or 'ref:PATH' (repeated indexes count once).

        `allow_reference=False` (the app and its API: a reference photo is an
        upload there, never a server path) refuses 'ref:'.
        """
        text = (spec or "all").strip()
        if len(text) > MAX_SELECTION_CHARS:
            raise FaceKitError(
                f"The face selection is {len(text):,} characters long; at most {MAX_SELECTION_CHARS} are read.",
                "Use 'all' or a short list of face indexes such as '0,2'.",
            )
        if text == "all":
            return cls()
        if text.startswith("ref:"):
            if not allow_reference:
                raise FaceKitError(
                    "The faces box takes 'all' or face indexes such as '0,2'; 'ref:PATH' is a command-line feature.",
                    "To pick the faces of one person, upload a photo of them as the reference photo.",
                )
            return cls(mode="reference", reference=Path(text[4:]), threshold=threshold)
        try:
            indexes = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise FaceKitError(
                f"Cannot read the face selection {quote_prefix(text)}.", "Use 'all', face indexes such as '0,2', or {control:reference}."
            ) from None
        if not indexes or min(indexes) < 0 or max(indexes) > MAX_FACE_INDEX:
            raise FaceKitError(
                f"Face indexes must be 0 to {MAX_FACE_INDEX}: {quote_prefix(text)}.", "Faces are numbered left to right from 0."
            )
        return cls(mode="indexes", indexes=tuple(dict.fromkeys(indexes)))


def select_faces(
    analyser: FaceAnalyser,
    image: np.ndarray,
    analysis: Analysis,
    selection: FaceSelection,
    embedder: EmbedderChoice = EmbedderChoice(),
) -> list[Face]:
    """The faces of `analysis` that `selection` names (clear errors when it names none)."""
    faces = analysis.faces
    if not faces:
        detector_note = " ".join(note for note in analysis.warnings if "px wide" in note)  # e.g. dlib's minimum face size
        hint = detector_note or "Use a photo where the face is visible and at least ~80 px wide."
        raise NoFaceError("No face was found in the image.", hint)
    if selection.mode == "all":
        return list(faces)
    if selection.mode == "indexes":
        missing = [i for i in selection.indexes if i >= len(faces)]
        if missing:
            raise FaceKitError(
                f"Face index {missing[0]} does not exist: the image has {len(faces)} face(s), numbered 0 to {len(faces) - 1}.",
                "{control:analyze} to see the numbering.",
            )
        return [faces[i] for i in selection.indexes]
    return _faces_like_reference(analyser, image, faces, selection, embedder)


def _faces_like_reference(
    analyser: FaceAnalyser, image: np.ndarray, faces: list[Face], selection: FaceSelection, embedder: EmbedderChoice
) -> list[Face]:
    assert selection.reference is not None
    reference_image = decode_image(selection.reference)
    reference_face = largest_face(analyser, reference_image, what=f"reference photo {selection.reference.name}")
    _, _, match = analyser.embedder(embedder)
    wanted = analyser.embed(reference_image, [reference_face], embedder)[0].vector
    scored = [(compare(e.vector, wanted, match)[0], face) for e, face in zip(analyser.embed(image, faces, embedder), faces, strict=True)]
    limit = match.threshold if selection.threshold is None else selection.threshold
    chosen = [face for score, face in scored if match.is_better(score, limit)]
    if not chosen:
        best = match.best(s for s, _ in scored)
        raise NoFaceError(
            f"No face matches the reference photo {selection.reference.name} "
            f"(best {match.metric} score {best:.3f}, limit {limit}).",
            "Use a clearer reference photo of the same person, or pass face indexes instead.",
        )
    return chosen


def largest_face(analyser: FaceAnalyser, image: np.ndarray, what: str, options: AnalysisOptions = AnalysisOptions()) -> Face:
    """The biggest face of an image (for reference and source photos)."""
    faces = analyser.analyze(image, options).faces
    if not faces:
        raise NoFaceError(f"No face was found in the {what}.", "Use a photo where the face is visible and at least ~80 px wide.")
    return max(faces, key=lambda face: face.width * face.height)
