"""The swap job: source identity -> target faces -> align, swap, paste back -> optional restore -> report.

Source identity: one face of the source photo (the largest, or the one
`source_index` names), or the same person over several source photos - the
normalised mean of their ArcFace embeddings for embedding-driven swappers
(inswapper); the `mesh` swapper copies a face's texture and geometry, so it
uses the first photo's face and the result says so. With `face_map`
(source face index -> target face index) one source photo holding several
people swaps each onto its own target face.

Identity report: each swapped face is scored against the source identity and
against the original target face with a recogniser that did NOT feed the
swapper whenever another one is ready, so the numbers are not the swapper
grading its own input: another ArcFace-family model first (a few ms per
face), else another family (dlib ResNet, ~100 ms per face on CPU). The
swapped faces are scored at the geometry they were pasted at (no second
detection), in one batched recogniser call with any original face whose
embedding the job has not computed yet.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facekit import recommended
from facekit.adapters.base import MOUTH_MODES, MouthMode
from facekit.adapters.inswapper import DEFAULT_WEIGHT, FaceSwapper, SwapSource, SwapTarget, weight_alpha
from facekit.analysis import Analysis, AnalysisOptions, EmbedderChoice, FaceAnalyser
from facekit.engine import Engine
from facekit.errors import ASK_WHOEVER_RUNS_THE_APP, FaceDataError, FaceKitError, ModelUnavailableError, NoFaceError, quote_prefix
from facekit.face.align import RESAMPLING, crop_face, paste_face, transform_points
from facekit.face.identity import mean_identity
from facekit.face.pixel_boost import BASE_SIZE as BASE_RESOLUTION
from facekit.face.pixel_boost import RESOLUTIONS, boost_factor, explode, implode
from facekit.face.types import Face
from facekit.manifest import ModelEntry
from facekit.masking import FaceMasker, MaskOptions, load_masker
from facekit.model_ref import ModelRef
from facekit.processors.common import (
    MAX_FACE_INDEX,
    MAX_SELECTION_CHARS,
    FaceSelection,
    JobProgress,
    JobResult,
    PendingResult,
    no_progress,
    select_faces,
)
from facekit.processors.identity import IdentityScorer
from facekit.processors.reports import RestoreFaceReport, SwapFaceReport

if TYPE_CHECKING:
    from facekit.processors.restore import RestoreOptions, RestorePipeline


MAX_SOURCE_PHOTOS = 8  # photos averaged into one identity; more add little and cost an analysis each


@dataclass(frozen=True)
class SwapOptions:
    """Everything a swap needs besides the images."""

    model: str | None = None  # swap model id; None = best ready (mesh offline; see facekit.recommended.choose)
    download_recommended: bool = False  # with model None: fetch the recommended swapper and its embedder when none is on disk
    model_file: Path | None = None  # a user's ONNX file of `family`
    family: str = "inswapper"
    source_index: int | None = None  # face of each source photo; None = its largest
    faces: FaceSelection = FaceSelection()  # target faces (ignored when face_map is given)
    face_map: tuple[tuple[int, int], ...] = ()  # (source face index, target face index) pairs, one source photo
    weight: float = DEFAULT_WEIGHT  # 0..1, FaceFusion's scale; higher keeps more of the source identity
    restore: RestoreOptions | None = None  # restore the swapped faces afterwards
    embedder: EmbedderChoice | None = None  # identity report (and ref: selection); None = not the one feeding the swapper
    source_embedder: EmbedderChoice | None = None  # what feeds an embedding-driven swapper; None = best ready of its family
    analysis: AnalysisOptions = AnalysisOptions()
    mask: MaskOptions = MaskOptions()  # paste-back masks (default: box+region+occlusion with a parser, else box+area)
    identity: bool = True  # score each swapped face against the source and the original face
    keep_mouth: MouthMode = "open"  # the target's own mouth and expression (mesh): when open, always, never
    swap_resolution: int = 128  # pixel boost: 256/384/512 swap a k*128 crop as k*k interleaved 128 px sub-images (inswapper)

    def __post_init__(self) -> None:
        object.__setattr__(self, "face_map", tuple((int(s), int(t)) for s, t in self.face_map))
        weight_alpha(self.weight)  # validates 0..1
        if self.swap_resolution not in RESOLUTIONS:
            raise FaceKitError(
                f"The swap resolution must be one of {', '.join(map(str, RESOLUTIONS))}; got {self.swap_resolution}.",
                "Use 128 (the model's own size, fastest) or 256/384/512 for a sharper inswapper face (pixel boost).",
            )
        if self.keep_mouth not in MOUTH_MODES:
            raise FaceKitError(
                f"The mouth mode must be one of {', '.join(MOUTH_MODES)}; got {self.keep_mouth!r}.",
                "Use open (the target's mouth when it is open), always, or never (the source's lips too).",
            )
        if len({t for _, t in self.face_map}) != len(self.face_map):
            raise FaceKitError("The face map names a target face twice.", "Map each target face once.")
        if self.face_map and self.faces.mode != "all":
            raise FaceKitError("Give either a face map or a face selection, not both.", "A map already names every target face.")
        self.swapper_ref.check_family("swap")  # also: not both a model id and a file; the family is a swap family
        if self.source_index is not None and self.face_map:
            raise FaceKitError("Give either a source face index or a face map, not both.", "The map names the source faces.")


    @property
    def swapper_ref(self) -> ModelRef:
        return ModelRef.of(self.model, self.model_file, self.family)


def parse_face_map(text: str) -> tuple[tuple[int, int], ...]:
    """'0:1,1:0' -> ((0, 1), (1, 0))."""
    if len(text) > MAX_SELECTION_CHARS:
        raise FaceKitError(
            f"The face map is {len(text):,} characters long; at most {MAX_SELECTION_CHARS} are read.", "Map a few faces, e.g. 0:1,1:0."
        )
    pairs = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            source, target = (int(v) for v in part.split(":"))
        except ValueError:
            raise FaceKitError(
                f"Cannot read the face map entry {quote_prefix(part)}.", "Use SOURCE:TARGET face indexes, e.g. 0:1,1:0."
            ) from None
        if not (0 <= source <= MAX_FACE_INDEX and 0 <= target <= MAX_FACE_INDEX):
            raise FaceKitError(
                f"Face indexes must be 0 to {MAX_FACE_INDEX}: {quote_prefix(part)}.", "Faces are numbered left to right from 0."
            )
        pairs.append((source, target))
    if not pairs:
        raise FaceKitError("The face map is empty.", "Use SOURCE:TARGET face indexes, e.g. 0:1,1:0.")
    return tuple(pairs)


# ------------------------------------------------------------------ sources
@dataclass
class SourceIdentity:
    """One identity to swap in: what the swapper gets and the faces it was built from."""

    swap: SwapSource
    members: list[tuple[np.ndarray, Face]]  # (photo, face) pairs that make up the identity
    label: str


@dataclass
class PreparedSources:
    """Source identities, computed once and reused for every target of a batch."""

    swapper: FaceSwapper
    swapper_label: str
    identity: SourceIdentity | None  # the identity for every selected face (no face map)
    by_index: dict[int, SourceIdentity]  # face map: source face index -> identity
    source_embedder: EmbedderChoice | None
    source_embedder_label: str | None
    source_embedder_family: str | None
    models: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    masker: FaceMasker | None = None  # paste-back masks (and the source-side occluder mask of a texture swapper)


def prepare_sources(
    engine: Engine,
    sources: Sequence[np.ndarray],
    options: SwapOptions,
    names: Sequence[str] | None = None,
) -> PreparedSources:
    """Load the swapper, find the source faces and compute what the swapper needs to know about them."""
    if not sources:
        raise FaceKitError("No source photo was given.", "Pass at least one --source IMAGE.")
    if options.face_map and len(sources) > 1:
        raise FaceKitError("A face map needs exactly one source photo.", "{control:one_source}.")
    if len(sources) > MAX_SOURCE_PHOTOS:
        raise FaceKitError(
            f"{len(sources)} source photos were given; at most {MAX_SOURCE_PHOTOS} are used for one identity.",
            "Give the few clearest photos of the person.",
        )
    numbered = [f"source photo {i + 1}" for i in range(len(sources))] if len(sources) > 1 else ["source photo"]
    labels = list(names) if names is not None else numbered
    swapper, swapper_label, choice_reason = load_swapper_with_reason(engine, options)
    _check_pixel_boost(swapper, swapper_label, options)
    masker = load_masker(engine, options.mask)
    warnings: list[str] = []
    if swapper.embedding_family is None and len(sources) > 1:  # before any analysis: unused photos cost nothing
        warnings.append(f"{swapper_label} copies one face's look, so it used only {labels[0]}; the other source photos were ignored.")
        sources, labels = sources[:1], labels[:1]
    analyser = FaceAnalyser(engine)
    photo_faces = [_source_faces(analyser, image, label, options) for image, label in zip(sources, labels, strict=True)]
    members_by_key = _identity_members(sources, photo_faces, labels, options)
    warnings += _largest_face_notes(photo_faces, labels, options)
    choice, embedder_label, embedder_family = None, None, None
    if swapper.embedding_family is not None:
        choice, embedder_label, embedder_family = source_embedder(engine, options, swapper)
    identities = {key: _source_identity(analyser, members, choice) for key, members in members_by_key.items()}
    if swapper.embedding_family is None:  # a texture swapper: keep the source's occluders out of the transfer
        identities = {key: _with_face_content(identity, masker) for key, identity in identities.items()}
    models = {"swapper": swapper_label, "mask": masker.label, "swap_resolution": _resolution_label(options.swap_resolution)}
    if choice_reason is not None:
        models["swapper_choice"] = choice_reason
    if embedder_label is not None:
        models["source_embedder"] = embedder_label
    return PreparedSources(
        swapper=swapper,
        swapper_label=swapper_label,
        identity=identities.get(None),
        by_index={key: value for key, value in identities.items() if key is not None},
        source_embedder=choice,
        source_embedder_label=embedder_label,
        source_embedder_family=embedder_family,
        models=models,
        warnings=warnings,
        masker=masker,
    )


def _check_pixel_boost(swapper: FaceSwapper, label: str, options: SwapOptions) -> None:
    """A swap resolution above 128 needs a swapper that takes 128 px crops and can be run on sub-images."""
    if options.swap_resolution != BASE_RESOLUTION and not swapper.pixel_boost:
        raise FaceKitError(
            f"{label} does not support the swap resolution {options.swap_resolution}: pixel boost tiles a 128 px "
            "learned swapper (inswapper); this swapper works at its own resolution.",
            "Use swap resolution 128 with this model, or choose an inswapper model.",
        )


def _resolution_label(resolution: int) -> str:
    k = boost_factor(resolution)
    return str(resolution) if k == 1 else f"{resolution} (pixel boost, {k}x{k} sub-images of 128)"


def _with_face_content(identity: SourceIdentity, masker: FaceMasker) -> SourceIdentity:
    """The identity with its source face's own-pixel mask (hat brim, hair, glasses -> 0) for the swapper."""
    source = identity.swap
    content = masker.face_content(source.image, source.face)
    return replace(identity, swap=replace(source, face_mask=content))


def load_swapper_with_reason(engine: Engine, options: SwapOptions) -> tuple[FaceSwapper, str, str | None]:
    """The swap adapter, its label and, when the options named none, why that one was chosen."""
    ref, reason = options.swapper_ref, None
    if ref.is_best:
        choice = recommended.choose(engine, "swap", options.download_recommended)
        ref, reason = ModelRef(model_id=choice.model_id), choice.reason
    ref = engine.resolve("swap", ref)
    return engine.swapper(ref), ref.label, reason


def source_embedder(engine: Engine, options: SwapOptions, swapper: FaceSwapper) -> tuple[EmbedderChoice, str, str]:
    """The recogniser that feeds an embedding-driven swapper: the user's choice or the best ready of its family."""
    family = swapper.embedding_family
    assert family is not None
    if options.source_embedder is not None and (options.source_embedder.file or options.source_embedder.model_id):
        choice = options.source_embedder
        chosen_family = choice.family if choice.file is not None else engine.manifest.get(choice.model_id or "").family
        if chosen_family != family:
            raise FaceKitError(
                f"{swapper.name} needs a source embedding from the {family} family; {choice.label} is a {chosen_family} model.",
                f"Use one of: {', '.join(_family_ids(engine, family))}.",
            )
        return choice, choice.label, family
    try:
        entry = engine.default_model("embed", accept=lambda e: e.family == family)
    except ModelUnavailableError:
        return _fetch_family_embedder(engine, swapper, family)
    return EmbedderChoice(model_id=entry.id), entry.id, family


def _fetch_family_embedder(engine: Engine, swapper: FaceSwapper, family: str) -> tuple[EmbedderChoice, str, str]:
    """No model of the family is ready: fetch the best one (the weight store says why it cannot, e.g. offline)."""
    ids = _family_ids(engine, family)
    if not ids:
        raise FaceKitError(f"{swapper.name} needs a {family} embedding, and the manifest lists no {family} model.")
    try:
        engine.embedder(ids[0])
    except FaceKitError as error:
        raise ModelUnavailableError(
            f"{swapper.name} needs a source embedding from the {family} family, and no {family} model is ready ({error.message})",
            f"Download one: `python -m facekit models download {ids[0]}` (or {', '.join(ids[1:]) or 'another'}); {error.hint}".strip(),
            error.app_hint if error.app_hint is not None else ASK_WHOEVER_RUNS_THE_APP,
        ) from error
    return EmbedderChoice(model_id=ids[0]), ids[0], family


def _family_ids(engine: Engine, family: str) -> list[str]:
    return [entry.id for entry in engine.manifest.for_task("embed") if entry.family == family]


def _source_faces(analyser: FaceAnalyser, image: np.ndarray, label: str, options: SwapOptions) -> list[Face]:
    faces = analyser.analyze(image, options.analysis).faces
    if not faces:
        raise NoFaceError(f"No face was found in the {label}.", "Use a source photo where the face is visible and at least ~80 px wide.")
    return faces


def _identity_members(
    sources: Sequence[np.ndarray], photo_faces: list[list[Face]], labels: list[str], options: SwapOptions
) -> dict[int | None, list[tuple[np.ndarray, Face, str]]]:
    """Which (photo, face) pairs make up each identity: key None = the one identity; ints = face-map sources."""
    if options.face_map:
        faces = photo_faces[0]
        members: dict[int | None, list[tuple[np.ndarray, Face, str]]] = {}
        for source_index, _ in options.face_map:
            _check_index(source_index, len(faces), f"the {labels[0]}")
            members[source_index] = [(sources[0], faces[source_index], f"{labels[0]} face {source_index}")]
        return members
    chosen = []
    for image, faces, label in zip(sources, photo_faces, labels, strict=True):
        if options.source_index is None:
            face = max(faces, key=lambda f: f.width * f.height)
        else:
            _check_index(options.source_index, len(faces), f"the {label}")
            face = faces[options.source_index]
        chosen.append((image, face, f"{label} face {face.index}"))
    return {None: chosen}


def _largest_face_notes(photo_faces: list[list[Face]], labels: list[str], options: SwapOptions) -> list[str]:
    """Say which face of a group source photo was used when no index chose one (a group photo used to pick silently)."""
    if options.face_map or options.source_index is not None:
        return []
    notes = []
    for faces, label in zip(photo_faces, labels, strict=True):
        if len(faces) > 1:
            used = max(faces, key=lambda f: f.width * f.height)
            notes.append(
                f"The {label} has {len(faces)} faces; the largest (face {used.index}, numbered left to right from 0) was used. "
                "To use another, give its index as the source face."
            )
    return notes


def _check_index(index: int, count: int, where: str) -> None:
    if not 0 <= index < count:
        raise FaceKitError(
            f"Face index {index} does not exist in {where}: it has {count} face(s), numbered 0 to {count - 1}.",
            "{control:analyze} to see the numbering.",
        )


def _source_identity(
    analyser: FaceAnalyser, members: list[tuple[np.ndarray, Face, str]], choice: EmbedderChoice | None
) -> SourceIdentity:
    """The first member's photo and face, plus (when a swapper needs one) the normalised mean embedding of all members."""
    image, face, _ = members[0]
    embedding = None
    if choice is not None:
        vectors = [analyser.embed(photo, [member], choice)[0].vector for photo, member, _ in members]
        embedding = mean_identity(vectors)
    return SourceIdentity(
        swap=SwapSource(image=image, face=face, embedding=embedding),
        members=[(photo, member) for photo, member, _ in members],
        label=", ".join(label for _, _, label in members),
    )


# ------------------------------------------------------------------- swap
@dataclass
class SwapPipeline:
    """The swap job with its components passed in; `from_engine` builds them from the options.

    `sources` holds the swapper and the source identities (computed once, reused for every
    target); `identity` scores the result (None: no report); `restore` runs on the swapped faces.
    """

    analyser: FaceAnalyser
    sources: PreparedSources
    identity: IdentityScorer | None = None
    restore: RestorePipeline | None = None
    options: SwapOptions = SwapOptions()
    report_choice: EmbedderChoice = EmbedderChoice()  # the recogniser for `ref:` target selection
    report_warning: str | None = None  # e.g. the scores come from the recogniser that fed the swapper

    @classmethod
    def from_engine(
        cls, engine: Engine, sources: Sequence[np.ndarray], options: SwapOptions, names: Sequence[str] | None = None
    ) -> SwapPipeline:
        """Load the swapper, prepare the source identities, pick the report's recogniser (fails here, before any target)."""
        return cls.from_prepared(engine, prepare_sources(engine, sources, options, names=names), options)

    @classmethod
    def from_prepared(cls, engine: Engine, prepared: PreparedSources, options: SwapOptions) -> SwapPipeline:
        analyser = FaceAnalyser(engine)
        report_choice, report_warning = report_embedder(engine, options, prepared)
        identity = IdentityScorer(analyser, report_choice) if options.identity else None
        restore = _restore_pipeline(engine, options.restore) if options.restore is not None else None
        return cls(analyser, prepared, identity, restore, options, report_choice, report_warning)

    def __call__(self, target: np.ndarray, progress: JobProgress = no_progress) -> JobResult:
        """Swap the source identity onto the target image's selected (or mapped) faces."""
        return self.start(target, progress).finish()

    def start(self, target: np.ndarray, progress: JobProgress = no_progress) -> PendingResult:
        """The swapped (and restored) image and its models; `finish()` runs the identity report and returns the result."""
        started = time.perf_counter()
        options, prepared = self.options, self.sources
        # 1. find and choose the target faces
        progress(0.1, "finding the target faces")
        analysis = self.analyser.analyze(target, options.analysis)
        pairs = _target_pairs(self.analyser, target, analysis, options, prepared, self.report_choice)
        # 2. swap each face and paste it back
        target_embeddings = _target_embeddings(self.analyser, target, pairs, options, prepared)
        image, skipped = target, {}
        for number, ((identity, face), target_embedding) in enumerate(zip(pairs, target_embeddings, strict=True)):
            progress(0.2 + 0.6 * number / len(pairs), f"swapping face {face.index}")
            try:
                image = swap_one_face(prepared.swapper, image, face, identity.swap, target_embedding, options, prepared.masker)
            except FaceDataError as error:  # this face's data is unusable (e.g. degenerate landmarks): skip it, go on
                skipped[id(face)] = f"Face {face.index} was not swapped: {error}"
        swapped = [(identity, face) for identity, face in pairs if id(face) not in skipped]
        models = {**analysis.models, **prepared.models}
        # 3. restore the swapped faces
        restore_reports: dict[int, RestoreFaceReport] = {}
        if self.restore is not None:
            progress(0.8, "restoring the swapped faces")
            fresh = [replace(face, embeddings={}) for _, face in swapped]
            image, reports, restore_models = self.restore.restore_faces(image, fresh)
            restore_reports = {report.index: report for report in reports}
            models.update({key if key.startswith("restore") else f"restore_{key}": value for key, value in restore_models.items()})
        if self.identity is not None and swapped:
            models["identity_embedder"] = self.identity.label
        faces = face_reports(pairs)
        for report, (_, face) in zip(faces, pairs, strict=True):
            report.skipped = skipped.get(id(face))
            report.restore = restore_reports.get(report.index)
        warnings = [*analysis.notes, *prepared.warnings, *([self.report_warning] if self.report_warning else []), *skipped.values()]
        if prepared.masker is not None:
            warnings.extend(prepared.masker.warnings([face for _, face in swapped]))
        if not prepared.swapper.uses_weight and options.weight != DEFAULT_WEIGHT:
            warnings.append(f"{prepared.swapper_label} has no identity weight; the weight {options.weight} was ignored.")

        def finish() -> JobResult:  # 4. score identities
            progress(0.9, "scoring identities")
            if self.identity is not None and swapped:
                score_swapped_faces(self.identity, target, image, swapped, [r for r in faces if r.skipped is None])
            progress(1.0, "done")
            return JobResult(image=image, faces=faces, models=models, seconds=time.perf_counter() - started, warnings=warnings)

        return PendingResult(image, models, faces, finish)


def swap_image(
    engine: Engine,
    sources: Sequence[np.ndarray],
    target: np.ndarray,
    options: SwapOptions = SwapOptions(),
    progress: JobProgress = no_progress,
) -> JobResult:
    """Shorthand for `SwapPipeline.from_engine(engine, sources, options)(target, progress)` (time includes the sources)."""
    started = time.perf_counter()
    progress(0.0, "finding the source face")
    result = SwapPipeline.from_engine(engine, sources, options)(target, progress)
    result.seconds = time.perf_counter() - started
    return result


def _restore_pipeline(engine: Engine, options: RestoreOptions) -> RestorePipeline:
    from facekit.processors.restore import RestorePipeline  # imported only when a swap restores

    return RestorePipeline.from_engine(engine, options)


def _target_pairs(
    analyser: FaceAnalyser,
    target: np.ndarray,
    analysis: Analysis,
    options: SwapOptions,
    prepared: PreparedSources,
    report_choice: EmbedderChoice,
) -> list[tuple[SourceIdentity, Face]]:
    faces = analysis.faces
    if not faces:
        raise NoFaceError("No face was found in the target image.", "Use a photo where the face is visible and at least ~80 px wide.")
    if options.face_map:
        for _, target_index in options.face_map:
            _check_index(target_index, len(faces), "the target image")
        return [(prepared.by_index[s], faces[t]) for s, t in options.face_map]
    assert prepared.identity is not None
    chosen = select_faces(analyser, target, analysis, options.faces, report_choice)
    return [(prepared.identity, face) for face in chosen]


def _target_embeddings(
    analyser: FaceAnalyser,
    target: np.ndarray,
    pairs: list[tuple[SourceIdentity, Face]],
    options: SwapOptions,
    prepared: PreparedSources,
) -> list[np.ndarray | None]:
    """The target faces' own embeddings, needed only when the weight mixes them in."""
    if prepared.source_embedder is None or weight_alpha(options.weight) == 0.0:
        return [None] * len(pairs)
    return [e.vector for e in analyser.embed(target, [face for _, face in pairs], prepared.source_embedder)]


def swap_one_face(
    swapper: FaceSwapper,
    image: np.ndarray,
    face: Face,
    source: SwapSource,
    target_embedding: np.ndarray | None,
    options: SwapOptions,
    masker: FaceMasker | None = None,
) -> np.ndarray:
    """Crop the face as the swapper wants, swap, and paste back through the face mask (the masker's; box+area without one).

    With a swap resolution of k*128 (pixel boost) the crop is warped at k times the swapper's size with the same
    template (the similarity fit scales with the template, so the matrix is k times the swapper's), swapped as k*k
    interleaved sub-images of the swapper's size, re-interleaved and pasted back at the big size.
    """
    swapped, matrix, size = swap_face_crop(swapper, image, face, source, target_embedding, options)
    return paste_swapped(image, face, swapped, matrix, size, options, masker)


def swap_face_crop(
    swapper: FaceSwapper,
    image: np.ndarray,
    face: Face,
    source: SwapSource,
    target_embedding: np.ndarray | None,
    options: SwapOptions,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The swap half of `swap_one_face`: (swapped crop, crop matrix, crop size), nothing pasted yet."""
    matrix, size = swapper.crop_transform(face)
    points = None if face.landmarks_68 is None else transform_points(face.landmarks_68, matrix)
    k = boost_factor(options.swap_resolution)
    if k > 1:
        matrix, size = matrix * float(k), (size[0] * k, size[1] * k)
    crop = crop_face(image, matrix, size, RESAMPLING[swapper.resampling])  # the family table says which (17.1)
    def run(part: np.ndarray) -> np.ndarray:
        swap_target = SwapTarget(crop=part, points_68=points, embedding=target_embedding, pose=face.pose, keep_mouth=options.keep_mouth)
        return swapper.swap(swap_target, source, options.weight)

    swapped = run(crop) if k == 1 else implode(np.stack([run(tile) for tile in explode(crop, k)]), k)
    return swapped, matrix, size


def paste_swapped(
    image: np.ndarray,
    face: Face,
    swapped: np.ndarray,
    matrix: np.ndarray,
    size: tuple[int, int],
    options: SwapOptions,
    masker: FaceMasker | None = None,
) -> np.ndarray:
    """The paste half of `swap_one_face`: the swapped crop back into the image through the face mask."""
    masker = masker if masker is not None else FaceMasker(options=options.mask, types=options.mask.types or ("box", "area"))
    return paste_face(image, swapped, matrix, masker.crop_mask(image, face, matrix, size))


# ----------------------------------------------------------------- report
def face_reports(pairs: list[tuple[SourceIdentity, Face]]) -> list[SwapFaceReport]:
    """Which face got which identity (scores are added by :func:`score_swapped_faces`)."""
    return [SwapFaceReport(index=face.index, box=face.box, source=identity.label) for identity, face in pairs]


def report_embedder(engine: Engine, options: SwapOptions, prepared: PreparedSources) -> tuple[EmbedderChoice, str | None]:
    """The recogniser that scores the result: not the one that fed the swapper when another is ready."""
    if options.embedder is not None:
        if prepared.source_embedder is not None and options.embedder == prepared.source_embedder:
            return options.embedder, "Identity scores come from the same recogniser that fed the swapper, so they flatter the swap."
        return options.embedder, None
    if prepared.source_embedder is None:
        return EmbedderChoice(), None
    ready = [info.entry for info in engine.models("embed") if info.status.ready]  # best first
    fed = prepared.source_embedder_label
    other_fast = [e for e in ready if e.family == prepared.source_embedder_family and not _same_model(engine, e, fed, prepared)]
    other_family = [e for e in ready if e.family != prepared.source_embedder_family]
    if other_fast or other_family:  # another ArcFace-family model first: ms per face instead of ~100 with dlib
        return EmbedderChoice(model_id=(other_fast or other_family)[0].id), None
    return prepared.source_embedder, "No other recogniser is ready, so identity scores come from the one that fed the swapper."


def _same_model(engine: Engine, entry: ModelEntry, fed: str | None, prepared: PreparedSources) -> bool:
    """Whether `entry` is the recogniser that fed the swapper: the same id, hash, or (a user's file) the same bytes."""
    if entry.id == fed:
        return True
    if fed is not None and fed in engine.manifest:
        return entry.sha256 is not None and entry.sha256 == engine.manifest.get(fed).sha256
    file = prepared.source_embedder.file if prepared.source_embedder is not None else None
    if file is None or entry.sha256 is None or entry.bytes is None or not file.is_file() or file.stat().st_size != entry.bytes:
        return False  # a different size: different bytes, without reading the file
    return engine.pool.file_sha256(file) == entry.sha256  # the pool hashed it already when it loaded the file


def score_swapped_faces(
    scorer: IdentityScorer,
    original: np.ndarray,
    result: np.ndarray,
    pairs: list[tuple[SourceIdentity, Face]],
    reports: list[SwapFaceReport],
) -> None:
    """Per swapped face: how close the result is to the source identity and to the original face.

    The swapped faces are scored where they were pasted (the target's geometry, no second detection); the
    original faces' embeddings are reused when the job already computed them with this recogniser.
    """
    faces = [face for _, face in pairs]
    originals, swapped = scorer.before_and_after(original, result, faces, [replace(face, embeddings={}) for face in faces])
    sources: dict[int, np.ndarray] = {}
    for report, (identity, _), swapped_vector, original_vector in zip(reports, pairs, swapped, originals, strict=True):
        if id(identity) not in sources:
            sources[id(identity)] = _identity_vector(scorer, identity)
        report.to_source = scorer.score(swapped_vector, sources[id(identity)])
        report.to_target = scorer.score(swapped_vector, original_vector)


def _identity_vector(scorer: IdentityScorer, identity: SourceIdentity) -> np.ndarray:
    vectors = [scorer.embeddings(image, [face])[0] for image, face in identity.members]
    return np.mean(vectors, axis=0)
