"""The restore job: analyze -> select faces -> align -> restorer (-> diffusion) -> paste back -> report.

Per face: the face is warped onto the restorer's template at its size, the
restorer (and, when asked, DifFace-style diffusion refinement) runs on the
crop, and the result is pasted back through the job's masks (facekit.masking) scaled by
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
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facekit import recommended
from facekit.adapters.base import Refiner, Restorer
from facekit.adapters.classic import MAX_UPSCALE, UPSCALE_METHODS, upscale_image
from facekit.adapters.diffusion import DEFAULT_ETA, DEFAULT_START, DEFAULT_STEPS
from facekit.analysis import AnalysisOptions, EmbedderChoice, FaceAnalyser
from facekit.engine import Engine
from facekit.errors import FaceDataError, FaceKitError
from facekit.face.align import paste_back, warp
from facekit.face.types import Face
from facekit.masking import FaceMasker, MaskOptions, load_masker
from facekit.model_ref import ModelRef
from facekit.processors.common import (
    FaceSelection,
    JobProgress,
    JobResult,
    PendingResult,
    download_progress,
    no_progress,
    select_faces,
)
from facekit.processors.identity import IdentityScorer
from facekit.processors.reports import RestoreFaceReport

DEFAULT_MAX_OUTPUT_PIXELS = 64_000_000  # a 16 MP photo upscaled 2x
HOSTED_MAX_OUTPUT_PIXELS = 16_000_000  # a public demo: a 4 MP photo upscaled 2x


@dataclass(frozen=True)
class RestoreOptions:
    """Everything a restore job needs besides the image."""

    model: str | None = None  # a restore model id; None = the best ready one (see facekit.recommended.choose)
    download_recommended: bool = False  # with model None: fetch the recommended restorer now when none is on disk
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
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS  # refuse (before any work) an upscale that would make more
    diffusion: str | None = None  # a manifest model id of the diffusion task
    diffusion_file: Path | None = None  # or your own ONNX file (x, t) -> eps
    diffusion_steps: int = DEFAULT_STEPS
    diffusion_start: int = DEFAULT_START
    diffusion_eta: float = DEFAULT_ETA
    diffusion_seed: int = 0
    mask: MaskOptions = MaskOptions()  # paste-back masks (default: box+region+occlusion with a parser, else box+area)

    def __post_init__(self) -> None:
        if not 0.0 <= self.blend <= 1.0:
            raise FaceKitError(f"Blend {self.blend} is outside 0..1.", "Use e.g. --blend 0.8.")
        if not 0.0 <= self.fidelity <= 1.0:
            raise FaceKitError(f"Fidelity {self.fidelity} is outside 0..1.", "0 favours quality, 1 identity; default 0.5.")
        if not 1.0 <= self.upscale <= MAX_UPSCALE:
            raise FaceKitError(f"Upscale factor {self.upscale} is outside 1..{MAX_UPSCALE:g}.", "Use e.g. --upscale 2.")
        if self.upscale_method not in UPSCALE_METHODS:
            raise FaceKitError(f"Unknown upscale method {self.upscale_method!r}.", f"Use one of: {', '.join(UPSCALE_METHODS)}.")
        self.restorer_ref.check_family("restore")  # also: not both a model id and a file
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

    @property
    def restorer_ref(self) -> ModelRef:
        return ModelRef.of(self.model, self.model_file, self.family)

    @property
    def diffusion_ref(self) -> ModelRef:
        return ModelRef.of(self.diffusion, self.diffusion_file, "diffusion")


def load_restorer_with_reason(
    engine: Engine, options: RestoreOptions, progress: JobProgress = no_progress
) -> tuple[Restorer, str, str | None]:
    """The restorer, its label and, when the options named none, why that one was chosen."""
    ref, reason = options.restorer_ref, None
    if ref.is_best:
        choice = recommended.choose(engine, "restore", options.download_recommended, download_progress(progress))
        ref, reason = ModelRef(model_id=choice.model_id), choice.reason
    ref = engine.resolve("restore", ref)
    return engine.restorer(ref), ref.label, reason


def load_refiner(engine: Engine, options: RestoreOptions) -> tuple[Refiner | None, str | None]:
    """The diffusion refiner the options name, if any, and its label."""
    if not options.refines:
        return None, None
    ref = engine.resolve("diffusion", options.diffusion_ref)
    return engine.refiner(ref), ref.label


def paste_order(faces: list[Face]) -> list[Face]:
    """Largest face first, smallest last; ties by index (see the module notes)."""
    return sorted(faces, key=lambda face: (-face.width * face.height, face.index))


@dataclass
class RestorePipeline:
    """The restore job with its components passed in; `from_engine` builds them from the options.

    A library user may pass any object with the Restorer shape (`template`,
    `size`, `restore(crop, fidelity)`) and their own analyser or scorer.
    """

    analyser: FaceAnalyser
    restorer: Restorer
    refiner: Refiner | None = None
    identity: IdentityScorer | None = None  # None: no before/after identity report
    masker: FaceMasker = field(default_factory=lambda: FaceMasker(options=MaskOptions(types=("box",)), types=("box",)))
    options: RestoreOptions = RestoreOptions()
    models: dict[str, str] = field(default_factory=dict)  # what each component is, for the report
    timings: dict[str, float] | None = None  # when set, seconds spent pasting faces back are added to timings["paste"]

    @classmethod
    def from_engine(cls, engine: Engine, options: RestoreOptions, progress: JobProgress = no_progress) -> RestorePipeline:
        """Load every component the options name (fails here, before any image, on a missing model)."""
        analyser = FaceAnalyser(engine)
        restorer, label, reason = load_restorer_with_reason(engine, options, progress)
        refiner, refiner_label = load_refiner(engine, options)
        masker = load_masker(engine, options.mask)
        models = {"restorer": label, "mask": masker.label}
        if reason is not None:
            models["restorer_choice"] = reason
        if refiner_label is not None:
            models["diffusion"] = refiner_label
        identity = IdentityScorer(analyser, options.embedder) if options.identity else None
        return cls(analyser, restorer, refiner, identity, masker, options, models)

    def __call__(self, image_bgr: np.ndarray, progress: JobProgress = no_progress) -> JobResult:
        """Analyse, select faces, (upscale,) restore them; an image without a face raises NoFaceError, as every job does."""
        return self.start(image_bgr, progress).finish()

    def start(self, image_bgr: np.ndarray, progress: JobProgress = no_progress) -> PendingResult:
        """The restored image and its models; `finish()` runs the before/after identity report and returns the result."""
        started = time.perf_counter()
        options = self.options
        check_output_size(image_bgr.shape, options)  # 0. refuse an oversized upscale before any work
        # 1. find the faces
        analysis = self.analyser.analyze(image_bgr, options.analysis)
        progress(0.05, f"found {len(analysis.faces)} face(s)")
        warnings = analysis.notes
        # 2. choose the faces to restore (none: NoFaceError - an untouched image is never handed back as restored)
        faces = select_faces(self.analyser, image_bgr, analysis, options.faces, options.embedder)
        # 3. upscale the whole image (faces follow)
        image, models = image_bgr, dict(analysis.models)
        if options.upscale > 1.0:
            image = upscale_image(image_bgr, options.upscale, options.upscale_method)
            faces = [scaled_face(face, options.upscale) for face in faces]
            models["upscaler"] = f"{options.upscale_method} x{options.upscale:g}"
        # 4. restore each face and paste it back
        restored, reports, used = self._restore_unscored(image, faces, _tail(progress, 0.05))
        models.update(used)
        if self.identity is not None and any(report.skipped is None for report in reports):
            models["embedder"] = self.identity.label
        warnings.extend(report.skipped for report in reports if report.skipped is not None)
        warnings.extend(self.masker.warnings(faces))

        def finish() -> JobResult:  # 5. score identities
            self._score(image, restored, reports, faces)
            warnings.extend(_identity_warnings(reports))
            progress(1.0, "done")
            return JobResult(image=restored, faces=reports, models=models, seconds=time.perf_counter() - started, warnings=warnings)

        return PendingResult(restored, models, reports, finish)

    def restore_faces(
        self, image_bgr: np.ndarray, faces: list[Face], progress: JobProgress = no_progress
    ) -> tuple[np.ndarray, list[RestoreFaceReport], dict[str, str]]:
        """Restore exactly `faces` of the image (no detection), scored; (image, per-face reports, models used)."""
        result, reports, models = self._restore_unscored(image_bgr, faces, progress)
        if self.identity is not None and self._score(image_bgr, result, reports, faces):
            models["embedder"] = self.identity.label
        return result, reports, models

    def _score(self, before: np.ndarray, after: np.ndarray, reports: list[RestoreFaceReport], faces: list[Face]) -> bool:
        """Each restored face's identity before vs after (on the report); whether any face was scored."""
        scored = [(report, face) for report, face in zip(reports, faces, strict=True) if report.skipped is None]
        if self.identity is None or not scored:
            return False
        for (report, _), score in zip(scored, self.identity.compare_faces(before, after, [f for _, f in scored]), strict=True):
            report.identity = score
        return True

    def _restore_unscored(
        self, image_bgr: np.ndarray, faces: list[Face], progress: JobProgress = no_progress
    ) -> tuple[np.ndarray, list[RestoreFaceReport], dict[str, str]]:
        options, masker = self.options, self.masker
        models = dict(self.models)
        result = image_bgr.copy()
        seconds: dict[int, float] = {}  # by id(face): indexes need not be unique
        repairs: dict[int, dict[str, object]] = {}
        ordered = paste_order(faces)
        skipped: dict[int, str] = {}
        for number, face in enumerate(ordered):
            started = time.perf_counter()
            step = _face_progress(progress, number, len(ordered))
            try:
                result, repair = self._restore_one(result, face, masker, step)
            except FaceDataError as error:  # this face's data is unusable (e.g. degenerate landmarks): skip it, go on
                skipped[id(face)] = f"Face {face.index} was not restored: {error}"
            else:
                if repair is not None:
                    repairs[id(face)] = repair
            seconds[id(face)] = time.perf_counter() - started
            step(1.0, f"restored face {number + 1}/{len(ordered)}")
        if repairs:
            models["mask"] = "face ellipse (classic repairs in place)" + ("" if options.mask == MaskOptions() else f" x {masker.label}")
        reports = [
            RestoreFaceReport(
                index=face.index, box=face.box, seconds=seconds[id(face)], repairs=repairs.get(id(face)), skipped=skipped.get(id(face))
            )
            for face in faces
        ]
        return result, reports, models


    def _restore_one(
        self, image: np.ndarray, face: Face, masker: FaceMasker, step: JobProgress
    ) -> tuple[np.ndarray, dict[str, object] | None]:
        """One face: (1. align, 2. restore, 3. refine, 4. paste back) or an in-place repair; (image, repair record)."""
        options, restorer = self.options, self.restorer
        in_place = getattr(restorer, "restore_region", None)
        if in_place is not None and self.refiner is None:  # classic: repairs the face in the photo's own pixels
            chosen_mask = None if options.mask == MaskOptions() else _window_mask(masker, image, face)  # asked-for masks only
            return in_place(image, face.box, options.blend, chosen_mask)
        crop, affine_matrix = warp(image, face.landmarks_5, restorer.template, restorer.size)
        restored = restorer.restore(crop, options.fidelity)
        if self.refiner is not None:
            restored = self.refiner.refine(
                restored, options.diffusion_start, options.diffusion_steps, options.diffusion_eta, options.diffusion_seed, step
            )
        started = time.perf_counter()
        mask = masker.crop_mask(image, face, affine_matrix, (restorer.size, restorer.size)) * np.float32(options.blend)
        pasted = paste_back(image, restored, affine_matrix, mask)
        if self.timings is not None:
            self.timings["paste"] = self.timings.get("paste", 0.0) + time.perf_counter() - started
        return pasted, None


def _window_mask(masker: FaceMasker, image_bgr: np.ndarray, face: Face) -> Callable[[tuple[int, int, int, int]], np.ndarray]:
    """The job's mask drawn over an image window (a pure translation of the photo), for in-place restorers."""

    def draw(window: tuple[int, int, int, int]) -> np.ndarray:
        left, top, right, bottom = window
        translation = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top]])
        return masker.crop_mask(image_bgr, face, translation, (right - left, bottom - top))

    return draw


def _face_progress(progress: JobProgress, number: int, total: int) -> JobProgress:
    def update(fraction: float, message: str) -> None:
        progress((number + fraction) / total, f"face {number + 1}/{total}: {message}")

    return update


def restore_image(engine: Engine, image_bgr: np.ndarray, options: RestoreOptions, progress: JobProgress = no_progress) -> JobResult:
    """Shorthand for `RestorePipeline.from_engine(engine, options, progress)(image_bgr, progress)`."""
    check_output_size(image_bgr.shape, options)  # before any model is loaded or downloaded
    return RestorePipeline.from_engine(engine, options, progress)(image_bgr, progress)


def check_output_size(shape: tuple[int, ...], options: RestoreOptions) -> None:
    """Refuse, before any work, an upscale whose output would exceed `options.max_output_pixels`."""
    height, width = shape[:2]
    out_width, out_height = round(width * options.upscale), round(height * options.upscale)
    if out_width * out_height <= options.max_output_pixels:
        return
    largest = math.floor(2 * math.sqrt(options.max_output_pixels / (width * height))) / 2  # in the slider's 0.5 steps
    hint = f"Use an upscale of {largest:g} or less for this image." if largest >= 1 else "Downscale the image first."
    raise FaceKitError(
        f"Upscaling this {width}x{height} image by {options.upscale:g} would make {out_width}x{out_height} "
        f"({out_width * out_height / 1e6:.0f} MP), over the limit of {options.max_output_pixels / 1e6:.0f} MP.",
        hint,
    )


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


def _identity_warnings(reports: list[RestoreFaceReport]) -> list[str]:
    return [
        f"face {report.index}: the restored face may not be the same person "
        f"({report.identity.model} {report.identity.kind} {report.identity.value:.4f}, {report.identity.direction}, "
        f"limit {report.identity.threshold})."
        for report in reports
        if report.identity is not None and not report.identity.same_person
    ]
