"""The restore job: analyse -> select faces -> align -> restorer (-> diffusion) -> paste back -> report.

Per face: the face is warped onto the restorer's template at its size, the
restorer (and, when asked, DifFace-style diffusion refinement) runs on the
crop, and the result is pasted back through a feathered box mask scaled by
`blend` (0 keeps the original, 1 takes the restored crop inside the mask).

Paste order: largest face first, smallest last (ties by face index), each
crop taken from the image as restored so far. A face's aligned crop covers
about twice its box, so a big face's crop often covers a small neighbour;
pasting the small face last keeps its own restoration on top, and the result
does not depend on detection order.

Identity report: for every restored face, its embedding before and after is
compared with the embedder's own metric (default dlib_resnet: Euclidean
distance, same person below 0.6) and reported with the embedder's id.

Upscale: with `upscale` > 1 the whole image is first scaled (Lanczos by
default) and the faces are then restored at the larger size, so the detail a
restorer adds at its 512 crop is not thrown away by pasting it into a small
face.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facekit.adapters.classic import MAX_UPSCALE, UPSCALE_METHODS, upscale_image
from facekit.adapters.diffusion import DEFAULT_ETA, DEFAULT_START, DEFAULT_STEPS, DiffusionRefiner
from facekit.adapters.restorers import Restorer
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.face.align import paste_back, warp
from facekit.face.analyser import AnalysisOptions, EmbedderChoice, FaceAnalyser, compare
from facekit.face.mask import box_mask
from facekit.face.types import Face
from facekit.manifest import FAMILY_TASKS
from facekit.processors.common import FaceSelection, JobProgress, JobResult, no_progress, select_faces

MASK_BLUR = 0.3


@dataclass(frozen=True)
class RestoreOptions:
    """Everything a restore job needs besides the image."""

    model: str | None = None  # a restore model id; None = the best ready one
    model_file: Path | None = None  # or your own ONNX file of `family`
    family: str = "gfpgan"
    fidelity: float = 0.5  # CodeFormer's weight: 0 = quality, 1 = identity
    blend: float = 0.8
    faces: FaceSelection = FaceSelection()
    upscale: float = 1.0
    embedder: EmbedderChoice = EmbedderChoice()
    analysis: AnalysisOptions = AnalysisOptions()
    identity: bool = True  # report identity similarity before/after per face
    upscale_method: str = "lanczos"
    diffusion: str | None = None  # a manifest model id of the diffusion task
    diffusion_file: Path | None = None  # or your own ONNX file (x, t) -> eps
    diffusion_steps: int = DEFAULT_STEPS
    diffusion_start: int = DEFAULT_START
    diffusion_eta: float = DEFAULT_ETA
    diffusion_seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.blend <= 1.0:
            raise FaceKitError(f"Blend {self.blend} is outside 0..1.", "Use e.g. --blend 0.8.")
        if not 0.0 <= self.fidelity <= 1.0:
            raise FaceKitError(f"Fidelity {self.fidelity} is outside 0..1.", "0 favours quality, 1 identity; default 0.5.")
        if not 1.0 <= self.upscale <= MAX_UPSCALE:
            raise FaceKitError(f"Upscale factor {self.upscale} is outside 1..{MAX_UPSCALE:g}.", "Use e.g. --upscale 2.")
        if self.upscale_method not in UPSCALE_METHODS:
            raise FaceKitError(f"Unknown upscale method {self.upscale_method!r}.", f"Use one of: {', '.join(UPSCALE_METHODS)}.")
        if self.model is not None and self.model_file is not None:
            raise FaceKitError("Both a model id and a model file were given.", "Use --model ID or --model-file PATH, not both.")
        if self.diffusion is not None and self.diffusion_file is not None:
            raise FaceKitError("Both a diffusion model id and a file were given.", "Use one of them.")
        if not 1 <= self.diffusion_steps <= 1000 or not 0 <= self.diffusion_start <= self.diffusion_steps:
            raise FaceKitError(
                f"Diffusion steps {self.diffusion_steps} / start {self.diffusion_start} are out of range.",
                "Use 1..1000 steps and a start between 0 and the step count (defaults 250 and 100).",
            )
        if not 0.0 <= self.diffusion_eta <= 1.0:
            raise FaceKitError(f"eta {self.diffusion_eta} is outside 0..1.", "Default 0.5.")

    @property
    def refines(self) -> bool:
        return self.diffusion is not None or self.diffusion_file is not None


def load_restorer(engine: Engine, options: RestoreOptions) -> tuple[Restorer, str]:
    """The restorer the options name (built once by the engine) and its label."""
    if options.model_file is not None:
        if FAMILY_TASKS.get(options.family) != "restore" or options.family == "classic":
            families = sorted(f for f, task in FAMILY_TASKS.items() if task == "restore" and f != "classic")
            raise FaceKitError(f"{options.family!r} is not a family of restore model files.", f"Use --family {' or '.join(families)}.")
        return engine.adapter_for_file(options.model_file, options.family), f"file:{Path(options.model_file).name}"
    model_id = options.model or engine.default_model("restore").id
    return engine.adapter(model_id, expected_task="restore"), model_id


def load_refiner(engine: Engine, options: RestoreOptions) -> tuple[DiffusionRefiner | None, str | None]:
    """The diffusion refiner the options name, if any, and its label."""
    if options.diffusion_file is not None:
        return engine.adapter_for_file(options.diffusion_file, "diffusion"), f"file:{Path(options.diffusion_file).name}"
    if options.diffusion is not None:
        return engine.adapter(options.diffusion, expected_task="diffusion"), options.diffusion
    return None, None


def paste_order(faces: list[Face]) -> list[Face]:
    """Largest face first, smallest last; ties by index (see the module notes)."""
    return sorted(faces, key=lambda face: (-face.width * face.height, face.index))


def restore_faces(
    engine: Engine,
    image_bgr: np.ndarray,
    faces: list[Face],
    options: RestoreOptions,
    progress: JobProgress = no_progress,
) -> tuple[np.ndarray, list[dict[str, object]], dict[str, str]]:
    """Restore exactly `faces` of the image (no detection); (image, per-face reports, models used)."""
    restorer, label = load_restorer(engine, options)
    refiner, refiner_label = load_refiner(engine, options)
    models = {"restorer": label}
    if refiner_label is not None:
        models["diffusion"] = refiner_label
    result = image_bgr.copy()
    mask = box_mask(restorer.size, blur=MASK_BLUR) * np.float32(options.blend)
    seconds: dict[int, float] = {}  # by id(face): indexes need not be unique
    ordered = paste_order(faces)
    for number, face in enumerate(ordered):
        started = time.perf_counter()
        step = _face_progress(progress, number, len(ordered))
        crop, affine_matrix = warp(result, face.landmarks_5, restorer.template, restorer.size)
        restored = restorer.restore(crop, options.fidelity)
        if refiner is not None:
            restored = refiner.refine(
                restored, options.diffusion_start, options.diffusion_steps, options.diffusion_eta, options.diffusion_seed, step
            )
        result = paste_back(result, restored, affine_matrix, mask)
        seconds[id(face)] = time.perf_counter() - started
        step(1.0, f"restored face {number + 1}/{len(ordered)}")
    reports = [_face_report(face, seconds[id(face)]) for face in faces]
    if options.identity and faces:
        models["embedder"] = _add_identity(engine, image_bgr, result, faces, options.embedder, reports)
    return result, reports, models


def _face_progress(progress: JobProgress, number: int, total: int) -> JobProgress:
    def update(fraction: float, message: str) -> None:
        progress((number + fraction) / total, f"face {number + 1}/{total}: {message}")

    return update


def _face_report(face: Face, seconds: float) -> dict[str, object]:
    return {"index": face.index, "box": [round(float(v), 1) for v in face.box], "seconds": round(seconds, 3)}


def _add_identity(
    engine: Engine, before: np.ndarray, after: np.ndarray, faces: list[Face], choice: EmbedderChoice, reports: list[dict[str, object]]
) -> str:
    """Add each face's before/after identity score to its report; return the embedder's label."""
    analyser = FaceAnalyser(engine)
    adapter, label, match = analyser.embedder(choice)
    originals = analyser.embed(before, faces, choice)  # cached on the faces
    restored = adapter.embed_faces(after, faces)  # not cached: these are the restored pixels
    for report, original, vector in zip(reports, originals, restored, strict=True):
        score, same = compare(original.vector, np.asarray(vector, dtype=np.float32), match)
        report.update(
            identity_similarity=round(score, 4),
            identity_metric=match.metric,
            identity_threshold=match.threshold,
            same_person=bool(same),
            embedder=label,
        )
    return label


def restore_image(engine: Engine, image_bgr: np.ndarray, options: RestoreOptions, progress: JobProgress = no_progress) -> JobResult:
    """Analyse, select faces, (upscale,) restore them.

    An image without a face raises NoFaceError, as every job does: an untouched
    image is never handed back as a restored (AI-edited) result.
    """
    started = time.perf_counter()
    analyser = FaceAnalyser(engine)
    analysis = analyser.analyse(image_bgr, options.analysis)
    progress(0.05, f"found {len(analysis.faces)} face(s)")
    warnings: list[str] = analysis.notes
    faces = select_faces(analyser, image_bgr, analysis, options.faces, options.embedder)  # no face: NoFaceError
    image = image_bgr
    models = dict(analysis.models)
    if options.upscale > 1.0:
        image = upscale_image(image_bgr, options.upscale, options.upscale_method)
        faces = [scaled_face(face, options.upscale) for face in faces]
        models["upscaler"] = f"{options.upscale_method} x{options.upscale:g}"
    image, reports, used = restore_faces(engine, image, faces, options, _tail(progress, 0.05))
    models.update(used)
    warnings.extend(_identity_warnings(reports))
    progress(1.0, "done")
    return JobResult(image=image, faces=reports, models=models, seconds=time.perf_counter() - started, warnings=warnings)


def scaled_face(face: Face, factor: float) -> Face:
    """A copy of `face` with its geometry in an image scaled by `factor` (embeddings dropped)."""
    return dataclasses.replace(
        face,
        box=np.asarray(face.box, dtype=np.float32) * factor,
        landmarks_5=np.asarray(face.landmarks_5, dtype=np.float32) * factor,
        landmarks_68=None if face.landmarks_68 is None else np.asarray(face.landmarks_68, dtype=np.float32) * factor,
        embeddings={},
    )


def _tail(progress: JobProgress, start: float) -> JobProgress:
    def update(fraction: float, message: str) -> None:
        progress(start + (1.0 - start) * fraction, message)

    return update


def _identity_warnings(reports: list[dict[str, object]]) -> list[str]:
    return [
        f"face {report['index']}: the restored face may not be the same person "
        f"({report['embedder']} {report['identity_metric']} score {report['identity_similarity']}, limit {report['identity_threshold']})."
        for report in reports
        if report.get("same_person") is False
    ]
