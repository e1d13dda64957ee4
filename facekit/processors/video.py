"""Video jobs: restore or swap the faces of every frame of a video or animation, tracked and smoothed.

Per frame (`VideoJob.run`):
  1. decode (a reader thread, `queue_size` frames ahead);
  2. find faces: detect every `detect_every` frames (the analyser: detector +
     68 landmarks); in between, follow each visible track: its predicted box
     goes to the 68-point landmarker and the box moves with the landmarks;
  3. track: detections are linked into tracks (facekit.face.track), with
     identity embeddings only where boxes alone could be ambiguous (several
     faces, a missed track, or a reference-photo selection);
  4. smooth each track's landmarks with a One-Euro filter (`smoothing`);
  5. select tracks (all, track ids, or the tracks like a reference photo);
  6. the photo job's per-face work (RestorePipeline.restore_faces / the swap's
     crop-and-swap), with the restorer, masker and swap source prepared once
     per job; the paste back through the photo jobs' masker (a face parser when
     one is ready or asked for, the mask options) is timed as its own stage;
  7. every `identity_every` frames, score each selected face's identity;
  8. optional visible label, then encode (a writer thread) into OUT.part.
The JSON report says frames read / written / skipped, each track's frame
range and sampled identity scores, and the seconds spent per stage.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from facekit.adapters.inswapper import weight_alpha
from facekit.analysis import AnalysisOptions, EmbedderChoice, FaceAnalyser, compare
from facekit.engine import Engine
from facekit.errors import FaceKitError, quote_prefix
from facekit.face.align import landmarks_5_from_68
from facekit.face.pose import estimate_pose
from facekit.face.track import Tracker, TrackerOptions, TrackSmoother, box_iou, identity_margin, move_box, similarity_fit
from facekit.face.types import Face
from facekit.imageio import decode_image
from facekit.media.pipeline import FramePipeline
from facekit.media.video import EncodeOptions, Frame, MediaReader, MediaWriter, VideoLimits
from facekit.processors.common import MAX_FACE_INDEX, MAX_SELECTION_CHARS, largest_face
from facekit.processors.restore import RestoreOptions, RestorePipeline
from facekit.processors.swap import PreparedSources, SwapOptions, paste_swapped, prepare_sources, report_embedder, swap_face_crop
from facekit.provenance import add_visible_label, provenance_metadata

#: progress(frames done, frames expected or None)
VideoProgress = Callable[[int, "int | None"], None]
#: the per-frame face work: (frame image, [(track id, face)]) -> new image
FaceWork = Callable[[np.ndarray, list[tuple[int, Face]]], np.ndarray]
#: identity sampling: (original frame, result frame, [(track id, face)]) -> {track id: score record}
IdentitySampler = Callable[[np.ndarray, np.ndarray, list[tuple[int, Face]]], dict[int, dict[str, object]]]


def no_video_progress(done: int, total: int | None) -> None:
    """A VideoProgress that ignores updates."""


@dataclass(frozen=True)
class TrackSelection:
    """Which tracks a video job touches: all, some track ids, or the tracks of the person in a reference photo."""

    mode: Literal["all", "ids", "reference"] = "all"
    ids: tuple[int, ...] = ()
    reference: Path | None = None

    @classmethod
    def parse(cls, spec: str | None, allow_reference: bool = True) -> TrackSelection:
        """'all', '0,2' (track ids, as the report lists them; repeats count once) or 'ref:PHOTO'.

        `allow_reference=False` (the app: a reference is an upload, never a server path) refuses 'ref:'.
        """
        text = (spec or "all").strip()
        if len(text) > MAX_SELECTION_CHARS:
            raise FaceKitError(
                f"The track selection is {len(text):,} characters long; at most {MAX_SELECTION_CHARS} are read.",
                "Use 'all' or a short list of track ids such as '0,2'.",
            )
        if text == "all":
            return cls()
        if text.startswith("ref:"):
            if not allow_reference:
                raise FaceKitError(
                    "The tracks box takes 'all' or track ids such as '0,2'; 'ref:PATH' is a command-line feature.",
                    "Pick the tracks by their ids from the report.",
                )
            return cls(mode="reference", reference=Path(text[4:]))
        try:
            ids = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise FaceKitError(
                f"Cannot read the track selection {quote_prefix(text)}.", "Use 'all', track ids such as '0,2', or 'ref:PHOTO'."
            ) from None
        if not ids or min(ids) < 0 or max(ids) > MAX_FACE_INDEX:
            raise FaceKitError(
                f"Track ids must be 0 to {MAX_FACE_INDEX}: {quote_prefix(text)}.", "Run once with --json to see the tracks and their ids."
            )
        return cls(mode="ids", ids=tuple(dict.fromkeys(ids)))


@dataclass(frozen=True)
class VideoOptions:
    """How a video is read, tracked and written (the face work has its own options)."""

    detect_every: int = 1  # run the detector every N frames; follow the faces by landmarks in between
    smoothing: float = 0.5  # One-Euro strength 0..1 (0 = off)
    tracks: TrackSelection = TrackSelection()
    identity_every: int = 30  # sample identity scores every K frames (0 = never)
    label: bool = False  # burn a visible "AI-edited" label into the corner
    encode: EncodeOptions = EncodeOptions()
    limits: VideoLimits = VideoLimits()
    analysis: AnalysisOptions = AnalysisOptions()
    tracker: TrackerOptions | None = None  # None = defaults with the embedder's same-person rule
    queue_size: int = 4  # frames buffered between decode, face work and encode (0 = one thread)

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise FaceKitError(f"--detect-every {self.detect_every} must be 1 or more.", "1 detects in every frame.")
        if not 0.0 <= self.smoothing <= 1.0:
            raise FaceKitError(f"Smoothing {self.smoothing} is outside 0..1.", "0 is off, 0.5 the default, 1 the smoothest.")
        if self.identity_every < 0 or self.queue_size < 0:
            raise FaceKitError("--identity-every and the queue size must be 0 or more.")


@dataclass
class VideoResult:
    """What a video job did: the output path and its report."""

    output: Path
    report: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        return list(self.report.get("warnings", []))


# ------------------------------------------------------------------ finding faces
@dataclass
class _TrackState:
    landmarks_68: np.ndarray
    score: float


class FaceFinder:
    """Steps 2-4: detected or followed faces, linked into tracks, landmarks smoothed; (track id, Face) per frame."""

    def __init__(self, engine: Engine, options: VideoOptions, timings: dict[str, float], always_embed: bool) -> None:
        self.analyser = FaceAnalyser(engine)
        self.options = options
        self.timings = timings
        self.always_embed = always_embed
        self.embedder = EmbedderChoice()
        _, self.embedder_label, match = self.analyser.embedder(self.embedder)
        self.tracker = Tracker(options.tracker or TrackerOptions(metric=match.metric, threshold=match.threshold))
        self.smoother = TrackSmoother(options.smoothing)
        self.landmarker: Any = None
        self.landmark_id = options.analysis.landmarks or engine.default_model("landmarks", accept=lambda e: e.input.points == 68).id
        if options.detect_every > 1:
            self.landmarker = engine.landmarker(self.landmark_id)
        self.states: dict[int, _TrackState] = {}
        self.models: dict[str, str] = {}
        self.warnings: list[str] = []

    def find(self, frame: Frame) -> list[tuple[int, Face]]:
        started = time.perf_counter()
        if frame.index % self.options.detect_every == 0:
            raw = self._detect(frame)  # times its own detect and track parts
        else:
            raw = self._follow(frame)
            self.timings["track"] += time.perf_counter() - started
        started = time.perf_counter()
        faces = [(track_id, self._smoothed(frame, track_id, face)) for track_id, face in raw]
        self.smoother.forget({track.id for track in self.tracker.live})
        self.timings["track"] += time.perf_counter() - started
        return faces

    def _detect(self, frame: Frame) -> list[tuple[int, Face]]:
        started = time.perf_counter()
        analysis = self.analyser.analyze(frame.image, self.options.analysis)
        self.timings["detect"] += time.perf_counter() - started
        self.models.update(analysis.models)
        faces = [face for face in analysis.faces if face.landmarks_68 is not None]
        started = time.perf_counter()
        embeddings: list[np.ndarray | None] = [None] * len(faces)
        if faces and self._ambiguous(faces):
            embeddings = [e.vector for e in self.analyser.embed(frame.image, faces, self.embedder)]
            self.models["track_embedder"] = self.embedder_label
        ids = self.tracker.update(frame.index, [face.box for face in faces], embeddings)
        self.timings["track"] += time.perf_counter() - started
        for track_id, face in zip(ids, faces, strict=True):
            assert face.landmarks_68 is not None
            self.states[track_id] = _TrackState(face.landmarks_68, face.score)
            if self.options.detect_every > 1:  # one source of 5 points, or they would jump at every detection
                face.landmarks_5 = landmarks_5_from_68(face.landmarks_68)
        return list(zip(ids, faces, strict=True))

    def _ambiguous(self, faces: list[Face]) -> bool:
        """Whether boxes alone may link wrongly, so identity embeddings are worth their cost this frame.

        A face appeared, went missing or is missing an embedding (needed for a
        reference-photo selection), or two faces' boxes touch (they may be
        crossing); separate faces are kept apart by their predicted boxes.
        """
        live = self.tracker.live
        if len(faces) != len(live) or any(track.misses for track in live):
            return True
        if self.always_embed and any(track.embedding is None for track in live):
            return True
        grown = [_grown(face.box, 1.1) for face in faces]
        return any(box_iou(a, b) > 0 for i, a in enumerate(grown) for b in grown[i + 1 :])

    def _follow(self, frame: Frame) -> list[tuple[int, Face]]:
        moved: dict[int, np.ndarray] = {}
        found = []
        for track in self.tracker.live:
            state = self.states.get(track.id)
            if track.misses or state is None:
                continue  # hidden: wait for the next detection
            probe = Face(box=track.predicted_box(frame.index), score=state.score, landmarks_5=np.zeros((5, 2), np.float32))
            points = np.asarray(self.landmarker.landmarks(frame.image, probe), dtype=np.float32)
            scale, shift = similarity_fit(state.landmarks_68, points)
            moved[track.id] = move_box(track.box, scale, shift)
            state.landmarks_68 = points
            face = Face(box=moved[track.id], score=state.score, landmarks_5=landmarks_5_from_68(points), landmarks_68=points)
            found.append((track.id, face))
        self.tracker.follow(frame.index, moved)
        return found

    def _smoothed(self, frame: Frame, track_id: int, face: Face) -> Face:
        width = max(face.width, 1.0)
        points_68 = self.smoother.smooth(track_id, "68", face.landmarks_68, frame.time, width)  # type: ignore[arg-type]
        points_5 = self.smoother.smooth(track_id, "5", face.landmarks_5, frame.time, width)
        height, image_width = frame.image.shape[:2]
        try:
            pose = estimate_pose(points_68, (image_width, height))
        except FaceKitError:
            pose = None
        return Face(box=face.box, score=face.score, landmarks_5=points_5, landmarks_68=points_68, pose=pose,
                    embeddings=face.embeddings, index=track_id)  # fmt: skip


def _grown(box: np.ndarray, factor: float) -> np.ndarray:
    centre = (box[:2] + box[2:]) / 2
    half = (box[2:] - box[:2]) * factor / 2
    return np.concatenate([centre - half, centre + half])


class TrackChooser:
    """Step 5: which tracks the job touches."""

    def __init__(self, finder: FaceFinder, selection: TrackSelection) -> None:
        self.finder = finder
        self.selection = selection
        self.reference: np.ndarray | None = None
        if selection.mode == "reference":
            assert selection.reference is not None
            image = decode_image(selection.reference)
            face = largest_face(finder.analyser, image, what=f"reference photo {selection.reference.name}")
            self.reference = finder.analyser.embed(image, [face], finder.embedder)[0].vector
        self.chosen: set[int] = set()

    def choose(self, faces: list[tuple[int, Face]]) -> list[tuple[int, Face]]:
        if self.selection.mode == "all":
            chosen = faces
        elif self.selection.mode == "ids":
            chosen = [(i, f) for i, f in faces if i in self.selection.ids]
        else:
            chosen = [(i, f) for i, f in faces if self._like_reference(i)]
        self.chosen.update(i for i, _ in chosen)
        return chosen

    def _like_reference(self, track_id: int) -> bool:
        track = next((t for t in self.finder.tracker.live if t.id == track_id), None)
        if track is None or track.embedding is None or self.reference is None:
            return False
        options = self.finder.tracker.options
        return identity_margin(track.embedding, self.reference, options.metric, options.threshold) > 0


# ------------------------------------------------------------------ the frame loop
@dataclass
class VideoJob:
    """One video through steps 1-8 with a given per-face work and identity sampler."""

    engine: Engine
    options: VideoOptions
    job: str
    work: FaceWork
    identity: IdentitySampler | None
    models: dict[str, str]
    details: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: seconds per stage; the face work adds its paste time to "paste" (it is taken out of "face_work")
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def run(self, source: str | Path, output: str | Path, progress: VideoProgress = no_video_progress) -> VideoResult:
        started = time.perf_counter()
        timings = self.timings
        timings.clear()
        finder = FaceFinder(self.engine, self.options, timings, always_embed=self.options.tracks.mode == "reference")
        chooser = TrackChooser(finder, self.options.tracks)
        samples: dict[int, list[dict[str, object]]] = defaultdict(list)
        with MediaReader(source, self.options.limits) as reader:
            metadata = provenance_metadata(self.job, {**self.models, "detector": self._detector_id()}, {
                **self.details, "input": reader.info.path.name, "visible_label": self.options.label})  # fmt: skip
            writer = MediaWriter(output, reader.info, metadata, self.options.encode, reader.audio_stream)
            pipe = FramePipeline(reader, writer, self.options.queue_size, timings)
            try:
                for frame in pipe.frames():
                    faces = finder.find(frame)
                    chosen = chooser.choose(faces)
                    image = self._process(frame, chosen, timings, samples)
                    pipe.put(image, frame)
                    progress(frame.index + 1, reader.info.frames)
                pipe.finish()
            except BaseException:
                pipe.abort()
                raise
        report = self._report(reader, writer, finder, chooser, samples, timings, time.perf_counter() - started)
        return VideoResult(output=Path(output), report=report)

    def _detector_id(self) -> str:
        return self.options.analysis.detector or self.engine.default_model("detect").id

    def _process(
        self, frame: Frame, chosen: list[tuple[int, Face]], timings: dict[str, float], samples: dict[int, list[dict[str, object]]]
    ) -> np.ndarray:
        started, pasting = time.perf_counter(), timings.get("paste", 0.0)
        image = self.work(frame.image, chosen) if chosen else frame.image
        timings["face_work"] += time.perf_counter() - started - (timings.get("paste", 0.0) - pasting)
        every = self.options.identity_every
        if self.identity is not None and every and chosen and frame.index % every == 0:
            started = time.perf_counter()
            for track_id, record in self.identity(frame.image, image, chosen).items():
                samples[track_id].append({"frame": frame.index, **record})
            timings["identity"] += time.perf_counter() - started
        if self.options.label:
            started = time.perf_counter()
            image = add_visible_label(image)
            timings["label"] += time.perf_counter() - started
        return image

    def _report(
        self,
        reader: MediaReader,
        writer: MediaWriter,
        finder: FaceFinder,
        chooser: TrackChooser,
        samples: dict[int, list[dict[str, object]]],
        timings: dict[str, float],
        wall: float,
    ) -> dict[str, Any]:
        tracks = []
        for track in finder.tracker.all_tracks():
            scores = [float(s["score"]) for s in samples.get(track.id, [])]  # type: ignore[arg-type]
            tracks.append({
                "id": track.id, "first_frame": track.first_frame, "last_frame": track.last_frame, "frames": track.hits,
                "selected": track.id in chooser.chosen, "identity": samples.get(track.id, []),
                "identity_mean": round(float(np.mean(scores)), 4) if scores else None,
            })  # fmt: skip
        stats = reader.stats
        return {
            "job": self.job,
            "input": reader.info.as_dict(),
            "output": str(writer.path),
            "frames": {"read": stats.frames, "written": writer.frames_written, "skipped": stats.skipped, "truncated": stats.truncated},
            "tracks": tracks,
            "models": {**self.models, **finder.models},
            "seconds": {name: round(value, 3) for name, value in sorted(timings.items())} | {"wall": round(wall, 3)},
            "fps": round(writer.frames_written / wall, 2) if wall > 0 else None,
            "warnings": [*self.warnings, *stats.warnings, *writer.warnings, *finder.warnings],
        }


# ------------------------------------------------------------------ the two jobs
def restore_video(
    engine: Engine,
    source: str | Path,
    output: str | Path,
    restore: RestoreOptions = RestoreOptions(),
    options: VideoOptions = VideoOptions(),
    progress: VideoProgress = no_video_progress,
) -> VideoResult:
    """Restore the selected tracks' faces in every frame."""
    if restore.upscale != 1.0:
        raise FaceKitError("Video restore keeps the frame size: --upscale is for photos.", "Scale the video separately.")
    timings: dict[str, float] = defaultdict(float)
    pipeline = replace(RestorePipeline.from_engine(engine, replace(restore, identity=False)), timings=timings)
    models = dict(pipeline.models)

    def work(image: np.ndarray, faces: list[tuple[int, Face]]) -> np.ndarray:
        result, _, used = pipeline.restore_faces(image, [face for _, face in faces])
        models.update(used)  # e.g. the classic restorer's in-place mask label
        return result

    sampler = _restore_identity(engine, restore.embedder) if restore.identity else None
    job = VideoJob(engine, options, "video restore", work, sampler, models,
                   {"blend": restore.blend, "fidelity": restore.fidelity}, timings=timings)  # fmt: skip
    return job.run(source, output, progress)


def _restore_identity(engine: Engine, choice: EmbedderChoice) -> IdentitySampler:
    analyser = FaceAnalyser(engine)
    adapter, label, match = analyser.embedder(choice)

    def sample(before: np.ndarray, after: np.ndarray, faces: list[tuple[int, Face]]) -> dict[int, dict[str, object]]:
        plain = [replace(face, embeddings={}) for _, face in faces]
        originals, restored = adapter.embed_faces(before, plain), adapter.embed_faces(after, plain)
        records: dict[int, dict[str, object]] = {}
        for (track_id, _), a, b in zip(faces, originals, restored, strict=True):
            score, same = compare(np.asarray(a), np.asarray(b), match)
            records[track_id] = {"score": round(score, 4), "same_person": bool(same), "metric": match.metric, "embedder": label}
        return records

    return sample


def swap_video(
    engine: Engine,
    sources: Sequence[np.ndarray],
    target: str | Path,
    output: str | Path,
    swap: SwapOptions = SwapOptions(),
    options: VideoOptions = VideoOptions(),
    progress: VideoProgress = no_video_progress,
    names: Sequence[str] | None = None,
) -> VideoResult:
    """Swap the source identity (computed once) onto the selected tracks' faces in every frame."""
    if swap.face_map:
        raise FaceKitError("Face maps are for photos: faces in a video are chosen by track.", "Use --tracks with track ids or ref:PHOTO.")
    prepared = prepare_sources(engine, sources, swap, names=names)
    assert prepared.identity is not None
    identity = prepared.identity
    timings: dict[str, float] = defaultdict(float)
    restorer = None
    if swap.restore is not None:
        restorer = replace(RestorePipeline.from_engine(engine, replace(swap.restore, identity=False)), timings=timings)
    target_embeddings: dict[int, np.ndarray | None] = {}
    analyser = FaceAnalyser(engine)

    def target_embedding(track_id: int, image: np.ndarray, face: Face) -> np.ndarray | None:
        """The target face's own embedding (the weight mixes it in), computed once per track."""
        if prepared.source_embedder is None or weight_alpha(swap.weight) == 0.0:
            return None
        if track_id not in target_embeddings:
            target_embeddings[track_id] = analyser.embed(image, [face], prepared.source_embedder)[0].vector
        return target_embeddings[track_id]

    def work(image: np.ndarray, faces: list[tuple[int, Face]]) -> np.ndarray:
        for track_id, face in faces:
            embedding = target_embedding(track_id, image, face)
            swapped, matrix, size = swap_face_crop(prepared.swapper, image, face, identity.swap, embedding, swap)
            started = time.perf_counter()
            image = paste_swapped(image, face, swapped, matrix, size, swap, prepared.masker)
            timings["paste"] += time.perf_counter() - started
        if restorer is not None:
            image, _, _ = restorer.restore_faces(image, [face for _, face in faces])
        return image

    sampler = _swap_identity(engine, swap, prepared) if swap.identity else None
    models = dict(prepared.models) | ({"restorer": swap.restore.model or "default"} if swap.restore is not None else {})
    job = VideoJob(engine, options, "video swap", work, sampler, models, {"weight": swap.weight, "sources": list(names or [])},
                   list(prepared.warnings), timings=timings)  # fmt: skip
    return job.run(target, output, progress)


def _swap_identity(engine: Engine, swap: SwapOptions, prepared: PreparedSources) -> IdentitySampler:
    analyser = FaceAnalyser(engine)
    choice, _ = report_embedder(engine, swap, prepared)
    adapter, label, match = analyser.embedder(choice)
    assert prepared.identity is not None
    members = prepared.identity.members
    source_vector = np.mean([analyser.embed(photo, [face], choice)[0].vector for photo, face in members], axis=0)

    def sample(before: np.ndarray, after: np.ndarray, faces: list[tuple[int, Face]]) -> dict[int, dict[str, object]]:
        swapped = adapter.embed_faces(after, [replace(face, embeddings={}) for _, face in faces])
        records: dict[int, dict[str, object]] = {}
        for (track_id, _), vector in zip(faces, swapped, strict=True):
            score, same = compare(np.asarray(vector), source_vector, match)
            records[track_id] = {"score": round(score, 4), "same_person_as_source": bool(same), "metric": match.metric,
                                 "embedder": label}  # fmt: skip
        return records

    return sample
