"""The frontalize job: each selected face turned to a frontal view, with scores measured independently.

Per face: check the limits (68 landmarks, width, |yaw|) -> frontalizer
(`geometric` by default, or any family that satisfies
:class:`facekit.adapters.geometric.Frontalizer`) -> optional restorer run on
the frontal crop (`refine`) -> measurement. The measurement never reuses the
landmarks that drove the warp: it detects the face again on the output and
fits its 68 landmarks from scratch, then reports the pose found there, the
identity distance to the input face, the output's left-right symmetry inside
the face, and how much of the face was filled from the mirrored side.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facekit.adapters.base import Frontalizer, FrontalResult, Restorer
from facekit.analysis import AnalysisOptions, EmbedderChoice, FaceAnalyser
from facekit.engine import Engine
from facekit.errors import FaceKitError, NoFaceError
from facekit.face.align import estimate_affine, paste_back, template_points, warp
from facekit.face.mask import box_mask
from facekit.face.pose import estimate_pose
from facekit.face.types import Face, Pose
from facekit.masking import FaceMasker, MaskOptions, load_masker
from facekit.model_ref import ModelRef
from facekit.processors.common import FaceSelection, JobProgress, JobResult, no_progress, select_faces
from facekit.processors.identity import IdentityScorer
from facekit.processors.reports import FrontalizeFaceReport, FrontalMeasure

#: Limits (bench/bench_frontalize.py). Yaw: on synthetic renders with exact or 1.5 px-noisy landmarks the
#: geometry holds to 80 degrees (visible triangles >= 0.96 correct, hidden ones mirrored 0.50-0.82 correct);
#: on photos the 68-point detector is the limit: t1.jpg's face at 48 degrees still passes (identity 0.51)
#: but looks visibly worse, and dlib's landmarks stop following the far side of the face beyond that.
#: Size: a quarter-size t1.jpg (faces 25-31 px) still frontalized, but at 37 px one face's pose was
#: misread by 28 degrees (too few pixels for its landmarks), so faces under 40 px are refused.
DEFAULT_MAX_YAW = 60.0
MAX_FRONTAL_YAW = 12.0  # a frontalized face still turned more than this (re-measured) is "poor"; t1's six measure under 2
# More of the face filled from its mirror than this is "poor": on t1.jpg faces 1 and 4 (yaw -37 and -48, filled 22% and
# 29%) show a seam down the middle and a doubled ear; faces filled 2-7.5% look right (docs/quality/frontalize.jpg).
MAX_FILL_FRACTION = 0.15
DEFAULT_MIN_FACE_PX = 40.0
_MEASURE_SIDE = 256  # the output is re-analysed at this size (pose is scale-free; dlib HOG is 4x faster than at 512)
_SIZE_RANGE = (64, 2048)
_SHEET_GAP = 8


@dataclass(frozen=True)
class FrontalizeOptions:
    """What to frontalize, with which models, and where the method's limits are."""

    faces: FaceSelection = FaceSelection()
    model: str | None = None  # frontalize model id; None = best ready (geometric)
    model_file: Path | None = None  # a learned frontalizer of `family` (ONNX), when such a family exists
    family: str = "geometric"
    refine: str | None = None  # restore model id run on the frontal crop (classic, gfpgan_1.4, codeformer, ...)
    refine_file: Path | None = None  # or a restorer ONNX file of `refine_family`
    refine_family: str = "gfpgan"
    fidelity: float = 0.5  # for restorers that take it (CodeFormer)
    size: int = 512
    max_yaw: float = DEFAULT_MAX_YAW
    min_face_px: float = DEFAULT_MIN_FACE_PX
    embedder: EmbedderChoice = EmbedderChoice()
    measure: bool = True  # re-detect the output and score pose, identity and symmetry
    analysis: AnalysisOptions = AnalysisOptions()  # detection on the input (threshold, face cap)
    sheet_poor: bool = False  # also put faces whose checks failed ("poor") on the sheet
    mask: MaskOptions = MaskOptions()  # what the symmetric fill may mirror: the face's own pixels (parser, else skin colour)

    def __post_init__(self) -> None:
        low, high = _SIZE_RANGE
        if not low <= self.size <= high:
            raise FaceKitError(f"Output size {self.size} is outside {low}..{high}.", "Use --size 512 (the FFHQ-512 restorers' size).")
        if not 0.0 < self.max_yaw <= 90.0:
            raise FaceKitError(f"max_yaw {self.max_yaw} is outside 0..90 degrees.", f"Use a value such as {DEFAULT_MAX_YAW:g}.")
        if self.min_face_px < 0:
            raise FaceKitError(f"min_face_px {self.min_face_px} is negative.", f"Use a value such as {DEFAULT_MIN_FACE_PX:g}.")
        if not 0.0 <= self.fidelity <= 1.0:
            raise FaceKitError(f"fidelity {self.fidelity} is outside 0..1.", "Use 0.5.")
        self.frontalizer_ref.check_family("frontalize")
        self.refine_ref.check_family("restore")  # a swapper named as the refiner is an error here, not a crash later

    @property
    def frontalizer_ref(self) -> ModelRef:
        return ModelRef.of(self.model, self.model_file, self.family)

    @property
    def refine_ref(self) -> ModelRef:
        return ModelRef.of(self.refine, self.refine_file, self.refine_family)


@dataclass
class FrontalFace:
    """One frontalized face: the output crop, the input's aligned crop, and the report."""

    index: int
    image: np.ndarray
    original_crop: np.ndarray
    report: FrontalizeFaceReport
    result: FrontalResult


@dataclass
class FrontalizeRun:
    """Every selected face of one image: the frontal ones and the reports (skipped faces included)."""

    frontal: list[FrontalFace] = field(default_factory=list)
    reports: list[FrontalizeFaceReport] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def skip(self, face: Face, pose: Pose | None, message: str) -> None:
        """Report a face that is not frontalized, and why; the run goes on."""
        self.reports.append(FrontalizeFaceReport(index=face.index, status="skipped", box=face.box, pose_before=pose, message=message))
        self.warnings.append(message)


# --------------------------------------------------------------------------- models


def load_frontalizer(engine: Engine, options: FrontalizeOptions) -> tuple[Frontalizer, str]:
    """The frontalizer adapter and the label the report uses for it."""
    ref = engine.resolve("frontalize", options.frontalizer_ref)
    return engine.frontalizer(ref), ref.label


def load_frontal_restorer(engine: Engine, options: FrontalizeOptions) -> tuple[Restorer, str] | None:
    """The restorer run on frontal crops (None when no refinement was asked for)."""
    if options.refine is None and options.refine_file is None:
        return None
    ref = engine.resolve("restore", options.refine_ref)
    return engine.restorer(ref), ref.label


def refine_frontal(restorer: Any, image: np.ndarray, template: str, fidelity: float) -> np.ndarray:
    """Run a Restorer on a frontal crop aligned to `template`, moving it to the restorer's template and size if they differ."""
    size = image.shape[0]
    if restorer.template == template and restorer.size == size:
        return restorer.restore(image, fidelity)
    matrix = estimate_affine(template_points(template, size), restorer.template, restorer.size)
    crop = cv2.warpAffine(image, matrix, (restorer.size, restorer.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    restored = restorer.restore(crop, fidelity)
    return paste_back(image, restored, matrix, box_mask(restorer.size, blur=0.1))


# --------------------------------------------------------------------------- limits


def limit_message(face: Face, pose: Pose | None, options: FrontalizeOptions) -> str | None:
    """Why a face cannot be frontalized well, or None when it is within the method's limits."""
    if face.landmarks_68 is None or pose is None:
        return (
            f"Face {face.index} has no 68-point landmarks, which frontalization needs. "
            "Use the dlib_hog detector or a 68-point landmark model (dlib_68, 1k3d68)."
        )
    if face.width < options.min_face_px:
        return (
            f"Face {face.index} is {face.width:.0f} px wide, below the {options.min_face_px:g} px minimum: "
            "too few pixels to rebuild a frontal view. Use a larger photo of this face."
        )
    if abs(pose.yaw) > options.max_yaw:
        return (
            f"Face {face.index} is turned {abs(pose.yaw):.0f} degrees (limit {options.max_yaw:g}): too far from frontal "
            "to rebuild the hidden side. Use a photo where the face is turned less."
        )
    return None


# --------------------------------------------------------------------------- measurement


def symmetry_score(image_bgr: np.ndarray, face_mask: np.ndarray) -> float:
    """1 - mean |grey - mirrored grey| / 255 over the face mask and its mirror (1 = perfectly symmetric)."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    weight = face_mask * face_mask[:, ::-1]
    total = float(weight.sum())
    if total < 1.0:
        return float("nan")
    return 1.0 - float((np.abs(grey - grey[:, ::-1]) * weight).sum() / total) / 255.0


def _main_face(faces: list[Face], size: int) -> Face | None:
    """The re-detected face nearest the crop's centre."""
    if not faces:
        return None
    centre = (size - 1) / 2.0
    return min(faces, key=lambda f: float(np.hypot((f.box[0] + f.box[2]) / 2 - centre, (f.box[1] + f.box[3]) / 2 - centre)))


def poor_reason(measure: FrontalMeasure | None, max_yaw: float | None = None, fill_fraction: float | None = None) -> str | None:
    """Why a frontalized face is not good enough to call "ok" (None when its checks pass, or when nothing was measured).

    Checks: a face is detected again on the output, the recogniser still calls it the same person as the input face,
    the re-measured |yaw| is at most `max_yaw` degrees (default MAX_FRONTAL_YAW), and at most MAX_FILL_FRACTION of
    the face had to be filled from its mirrored side (beyond that the seam and a doubled ear show).
    """
    max_yaw = MAX_FRONTAL_YAW if max_yaw is None else max_yaw
    if fill_fraction is not None and fill_fraction > MAX_FILL_FRACTION:
        return (
            f"poor: {100 * fill_fraction:.0f}% of the face was hidden and filled from its mirrored side "
            f"(limit {100 * MAX_FILL_FRACTION:.0f}%): expect a seam and doubled features"
        )
    if measure is None:
        return None
    if measure.note is not None:
        return f"poor: {measure.note}"
    assert measure.pose_after is not None and measure.identity is not None
    if not measure.identity.same_person:
        identity = measure.identity
        score = f"{identity.kind} {identity.value:.3f}, limit {identity.threshold}"
        return f"poor: the output is not the same person by {identity.model} ({score})"
    if abs(measure.pose_after.yaw) > max_yaw:
        return f"poor: still turned {measure.pose_after.yaw:+.1f} degrees after frontalizing (limit {max_yaw:g})"
    return None


def measure_frontal(scorer: IdentityScorer, image: np.ndarray, face: Face, frontal: np.ndarray) -> FrontalMeasure:
    """Pose and identity of the output, measured by detecting its face and 68 landmarks again."""
    side = min(_MEASURE_SIDE, frontal.shape[0])
    small = cv2.resize(frontal, (side, side), interpolation=cv2.INTER_AREA)
    analysis = scorer.analyser.analyze(small, AnalysisOptions())
    found = _main_face(analysis.faces, side)
    if found is None or found.landmarks_68 is None:
        return FrontalMeasure(note="no face was detected on the output")
    pose = found.pose or estimate_pose(found.landmarks_68, (side, side))
    (identity,) = scorer.compare_faces(image, small, [face], [found])
    return FrontalMeasure(pose_after=pose, identity=identity)


# --------------------------------------------------------------------------- the job


@dataclass
class FrontalizeResult(JobResult):
    """A JobResult whose image is the (aligned input | frontal) sheet, plus each frontal face and its input crop."""

    faces: Sequence[FrontalizeFaceReport]  # narrowed from JobResult's Sequence[FaceReport]
    frontal: list[FrontalFace] = field(default_factory=list)


@dataclass
class FrontalizePipeline:
    """The frontalize job with its components passed in; `from_engine` builds them from the options."""

    analyser: FaceAnalyser
    frontalizer: Frontalizer
    refiner: Any | None = None  # a Restorer run on each frontal crop
    identity: IdentityScorer | None = None  # None: the output is not re-measured (no pose-after / identity)
    masker: FaceMasker | None = None  # what is the face's own content (not mirrored); None: every pixel
    options: FrontalizeOptions = FrontalizeOptions()
    models: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_engine(cls, engine: Engine, options: FrontalizeOptions) -> FrontalizePipeline:
        analyser = FaceAnalyser(engine)
        frontalizer, label = load_frontalizer(engine, options)
        refiner = load_frontal_restorer(engine, options)
        masker = load_masker(engine, options.mask)
        models = {"frontalizer": label, "mirror_mask": _mirror_mask_label(masker)}
        models |= {"refiner": refiner[1]} if refiner is not None else {}
        identity = IdentityScorer(analyser, options.embedder) if options.measure else None
        return cls(analyser, frontalizer, refiner[0] if refiner is not None else None, identity, masker, options, models)

    def __call__(self, image_bgr: np.ndarray, progress: JobProgress = no_progress, allow_none: bool = False) -> FrontalizeResult:
        """Analyse, select faces, frontalize each; one frontal image per face in `extra_images` ("face0", ...).

        The result's main image is a sheet of (aligned input | frontal) rows. When no face could be
        frontalized, NoFaceError says why for each face (with `allow_none`, the batch path, the result
        comes back with the input as its image and the reasons in its reports).
        """
        started = time.perf_counter()
        # 1. find the faces; 2. choose them
        progress(0.0, "detecting faces")
        analysis = self.analyser.analyze(image_bgr, self.options.analysis)
        faces = select_faces(self.analyser, image_bgr, analysis, self.options.faces, self.options.embedder)
        # 3. frontalize (and measure) each face
        run = self.frontalize_faces(image_bgr, faces, progress)
        warnings = analysis.notes + run.warnings
        if not run.frontal and not allow_none:
            raise NoFaceError(f"No face could be frontalized: {' '.join(run.warnings)}", "Use a photo with a less turned, larger face.")
        # 4. the sheet: the faces that are "ok" (all of them with sheet_poor, or when every one is poor)
        good = [f for f in run.frontal if f.report.status == "ok" or self.options.sheet_poor] or run.frontal
        if run.frontal and not any(f.report.status == "ok" or self.options.sheet_poor for f in run.frontal):
            warnings.append("Every frontalized face is poor (see each face's reason); the sheet shows them anyway.")
        sheet = contact_sheet([(f.original_crop, f.image) for f in good]) if good else image_bgr.copy()
        return FrontalizeResult(
            image=sheet,
            faces=run.reports,
            models={**analysis.models, **run.models},
            seconds=time.perf_counter() - started,
            warnings=warnings,
            extra_images={f"face{f.index}": f.image for f in run.frontal},
            frontal=run.frontal,
        )

    def frontalize_faces(self, image_bgr: np.ndarray, faces: list[Face], progress: JobProgress = no_progress) -> FrontalizeRun:
        """Frontalize exactly the given faces of an image (no detection); skipped faces get a message."""
        options = self.options
        run = FrontalizeRun(models=dict(self.models))
        height, width = image_bgr.shape[:2]
        for position, face in enumerate(faces):
            progress(position / max(len(faces), 1), f"frontalizing face {face.index}")
            pose = face.pose
            try:
                if pose is None and face.landmarks_68 is not None:
                    pose = estimate_pose(face.landmarks_68, (width, height))
                message = limit_message(face, pose, options)
                if message is not None:
                    run.skip(face, pose, message)
                    continue
                frontal = _frontalize_one(self.identity, image_bgr, face, pose, self.frontalizer, self.refiner, options, self.masker)
            except FaceKitError as error:  # a problem with this face (e.g. DegenerateFaceError), not the job
                run.skip(face, pose, f"Face {face.index} could not be frontalized: {error}")
                continue
            run.frontal.append(frontal)
            run.reports.append(frontal.report)
        if self.identity is not None and run.frontal:
            run.models["embedder"] = self.identity.label
        progress(1.0, "done")
        return run


def _frontalize_one(
    scorer: IdentityScorer | None,
    image_bgr: np.ndarray,
    face: Face,
    pose: Pose | None,
    frontalizer: Frontalizer,
    refiner: Any | None,
    options: FrontalizeOptions,
    masker: FaceMasker | None,
) -> FrontalFace:
    started = time.perf_counter()
    content = masker.face_content(image_bgr, face) if masker is not None else None  # hair, hands, glasses are not mirrored
    result = frontalizer.frontalize(image_bgr, face, size=options.size, face_content=content)
    frontalize_ms = (time.perf_counter() - started) * 1000.0
    output = result.image
    if refiner is not None:
        output = refine_frontal(refiner, output, result.template, options.fidelity)
    original_crop, _ = warp(image_bgr, face.landmarks_5, result.template, result.size)
    report = FrontalizeFaceReport(
        index=face.index,
        status="ok",
        box=face.box,
        pose_before=pose,
        fill_fraction=result.fill_fraction,
        visible_fraction=_visible_fraction(result),
        symmetry=symmetry_score(output, result.face_mask),
        symmetry_before=symmetry_score(original_crop, result.face_mask),
        size=result.size,
        template=result.template,
        frontalize_ms=frontalize_ms,
        measure=measure_frontal(scorer, image_bgr, face, output) if scorer is not None else None,
    )
    reason = poor_reason(report.measure, fill_fraction=result.fill_fraction)
    if reason is not None:
        report.status, report.message = "poor", reason
    return FrontalFace(index=face.index, image=output, original_crop=original_crop, report=report, result=result)


def _mirror_mask_label(masker: FaceMasker) -> str:
    """What decides which pixels the symmetric fill may mirror."""
    return f"parser {masker.parser_label}" if masker.parser_label is not None else "skin colour (no parser)"


def _visible_fraction(result: FrontalResult) -> float | None:
    if result.visibility is None:
        return None
    mask_total = max(float(result.face_mask.sum()), 1.0)
    return round(float((result.visibility * result.face_mask).sum() / mask_total), 4)


# --------------------------------------------------------------------------- sheets


def side_by_side(original_crop: np.ndarray, frontal: np.ndarray) -> np.ndarray:
    """The aligned input crop and the frontal face next to each other (same height), a white gap between."""
    height = frontal.shape[0]
    if original_crop.shape[0] != height:
        original_crop = cv2.resize(original_crop, (height, height), interpolation=cv2.INTER_AREA)
    gap = np.full((height, _SHEET_GAP, 3), 255, dtype=np.uint8)
    return np.hstack([original_crop, gap, frontal])


def contact_sheet(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rows of :func:`side_by_side`, one per face."""
    rows = [side_by_side(original, frontal) for original, frontal in pairs]
    width = rows[0].shape[1]
    gap = np.full((_SHEET_GAP, width, 3), 255, dtype=np.uint8)
    stacked: list[np.ndarray] = []
    for row in rows:
        stacked.extend([row, gap])
    return np.vstack(stacked[:-1])
