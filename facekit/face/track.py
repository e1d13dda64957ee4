"""Face tracks across video frames and temporal smoothing (pure maths: numpy only).

Matching: every live track predicts its box for the new frame (constant
velocity), and each (track, detection) pair scores its box overlap (IoU)
plus, when both carry an identity embedding, `identity_weight` times an
identity margin (> 0 = the same person by the embedder's own rule, < 0 = not).
A pair may match on overlap (IoU >= `min_iou`, unless the identities
clearly disagree) or on identity alone (margin >= `reid_margin`), which is
how a face that was hidden or missed for up to `max_misses` frames gets its
old id back. Pairs are taken greedily, best score first; a detection left
over starts a new track.

Smoothing: a One-Euro filter (Casiez et al. 2012) per track on its
landmarks: a low-pass whose cut-off rises with speed, so a still face stops
jittering while a moving one does not lag. Speeds are measured in face
widths per second, so one setting fits small and large faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from facekit.face.identity import MetricName, metric


# ------------------------------------------------------------------ geometry
def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = float(width * height)
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def identity_margin(a: np.ndarray, b: np.ndarray, metric_name: MetricName, threshold: float) -> float:
    """How far two embeddings are on the same-person side of the embedder's rule: > 0 same, < 0 different, about -1..1."""
    scale = metric(metric_name)
    score = scale.score(a, b)
    room = threshold if scale.lower_is_better else 1.0 - threshold  # the distance from the rule to a perfect match
    gain = abs(score - threshold) / max(room, 1e-6)
    return gain if scale.same_person(score, threshold) else -gain


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Scale and shift (no rotation) taking point set `source` onto `target` in the least-squares sense."""
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    spread = float(np.sqrt(((source - source_centre) ** 2).sum(axis=1).mean()))
    scale = float(np.sqrt(((target - target_centre) ** 2).sum(axis=1).mean())) / spread if spread > 0 else 1.0
    return scale, target_centre - scale * source_centre


def move_box(box: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
    """A box carried by the scale-and-shift `similarity_fit` found for its landmarks."""
    corners = np.asarray(box, dtype=np.float64).reshape(2, 2) * scale + shift
    return corners.reshape(4).astype(np.float32)


# ------------------------------------------------------------------ smoothing
def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


@dataclass
class OneEuroFilter:
    """One-Euro low-pass for an array of coordinates; `scale` turns pixel speeds into face widths per second."""

    min_cutoff: float = 1.0  # Hz: the cut-off of a still face (lower = smoother)
    beta: float = 4.0  # how fast the cut-off rises with speed (higher = less lag when moving)
    d_cutoff: float = 1.0  # Hz: the cut-off of the speed estimate
    _value: np.ndarray | None = None
    _speed: np.ndarray | None = None
    _time: float | None = None

    def __call__(self, value: np.ndarray, time: float, scale: float = 1.0) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self._value is None or self._time is None or time <= self._time:
            self._value, self._speed, self._time = value, np.zeros_like(value), time
            return value.astype(np.float32)
        dt = time - self._time
        speed = (value - self._value) / dt / max(scale, 1e-6)
        assert self._speed is not None
        speed_hat = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(speed_hat)
        smoothed = self._value + _alpha(cutoff, dt) * (value - self._value)
        self._value, self._speed, self._time = smoothed, speed_hat, time
        return smoothed.astype(np.float32)


def smoothing_cutoff(strength: float) -> float | None:
    """The still-face cut-off for a smoothing strength 0..1 (0 = off; 0.5 = 1 Hz; 1 = 0.1 Hz)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength {strength} is outside 0..1")
    return None if strength == 0.0 else 10.0 ** (1.0 - 2.0 * strength)


# ------------------------------------------------------------------ tracks
@dataclass(frozen=True)
class TrackerOptions:
    """How detections are linked into tracks."""

    min_iou: float = 0.15
    identity_weight: float = 0.5
    reid_margin: float = 0.15  # match on identity alone above this margin
    veto_margin: float = -0.3  # never match on overlap when the identities disagree this much
    max_misses: int = 15  # frames a track survives without a matching detection
    metric: MetricName = "cosine"
    threshold: float = 0.35  # the embedder's same-person rule for `metric`


@dataclass
class Track:
    """One face followed through the video."""

    id: int
    box: np.ndarray
    first_frame: int
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # box change per frame
    embedding: np.ndarray | None = None  # running mean of the normalised embeddings seen
    hits: int = 1  # frames in which the face was detected or followed
    misses: int = 0

    def predicted_box(self, frame: int) -> np.ndarray:
        return (self.box + self.velocity * (frame - self.last_frame)).astype(np.float32)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


class Tracker:
    """Links per-frame detections into tracks with stable ids (see the module notes)."""

    def __init__(self, options: TrackerOptions = TrackerOptions()) -> None:
        self.options = options
        self.live: list[Track] = []
        self.ended: list[Track] = []
        self._next_id = 0

    def update(self, frame: int, boxes: list[np.ndarray], embeddings: list[np.ndarray | None] | None = None) -> list[int]:
        """Match this frame's detections to tracks; the track id of every detection, in order."""
        embeddings = embeddings if embeddings is not None else [None] * len(boxes)
        pairs = self._candidate_pairs(frame, boxes, embeddings)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for _, track_index, detection in sorted(pairs, key=lambda p: -p[0]):
            track = self.live[track_index]
            if detection in assigned or track.id in used:
                continue
            assigned[detection] = track
            used.add(track.id)
        ids = []
        for detection, box in enumerate(boxes):
            matched = assigned.get(detection)
            if matched is None:
                track = self._start(frame, box)
            else:
                track = matched
                self._extend(track, frame, box)
            _remember_identity(track, embeddings[detection])
            ids.append(track.id)
        self._age(frame, used | set(ids))
        return ids

    def _candidate_pairs(
        self, frame: int, boxes: list[np.ndarray], embeddings: list[np.ndarray | None]
    ) -> list[tuple[float, int, int]]:
        options = self.options
        pairs = []
        for track_index, track in enumerate(self.live):
            predicted = track.predicted_box(frame)
            for detection, (box, embedding) in enumerate(zip(boxes, embeddings, strict=True)):
                overlap = box_iou(predicted, np.asarray(box, dtype=np.float32))
                margin = None
                if embedding is not None and track.embedding is not None:
                    margin = identity_margin(track.embedding, embedding, options.metric, options.threshold)
                by_overlap = overlap >= options.min_iou and (margin is None or margin > options.veto_margin)
                by_identity = margin is not None and margin >= options.reid_margin
                if by_overlap or by_identity:
                    pairs.append((overlap + options.identity_weight * (margin or 0.0), track_index, detection))
        return pairs

    def _start(self, frame: int, box: np.ndarray) -> Track:
        track = Track(id=self._next_id, box=np.asarray(box, dtype=np.float32), first_frame=frame, last_frame=frame)
        self._next_id += 1
        self.live.append(track)
        return track

    def _extend(self, track: Track, frame: int, box: np.ndarray) -> None:
        box = np.asarray(box, dtype=np.float32)
        gap = max(1, frame - track.last_frame)
        track.velocity = (0.5 * track.velocity + 0.5 * (box - track.box) / gap).astype(np.float32)
        track.box, track.last_frame = box, frame
        track.hits += 1
        track.misses = 0

    def _age(self, frame: int, seen: set[int]) -> None:
        keep = []
        for track in self.live:
            if track.id not in seen:
                track.misses += 1
            if track.misses > self.options.max_misses:
                self.ended.append(track)
            else:
                keep.append(track)
        self.live = keep

    def follow(self, frame: int, boxes: dict[int, np.ndarray]) -> None:
        """A frame without detection: the given tracks moved to these boxes (followed by landmarks); the rest missed it."""
        for track in self.live:
            if track.id in boxes:
                self._extend(track, frame, boxes[track.id])
        self._age(frame, set(boxes))

    def all_tracks(self) -> list[Track]:
        return sorted(self.ended + self.live, key=lambda t: t.id)


def _remember_identity(track: Track, embedding: np.ndarray | None) -> None:
    """A running mean of the track's embeddings (robust to one bad frame)."""
    if embedding is None:
        return
    vector = np.asarray(embedding, dtype=np.float32)
    track.embedding = vector if track.embedding is None else (0.8 * track.embedding + 0.2 * vector).astype(np.float32)


class TrackSmoother:
    """One One-Euro filter per (track, point set): `smooth(track_id, "68", points, time, face_width)`."""

    def __init__(self, strength: float, beta: float = 4.0) -> None:
        self.cutoff = smoothing_cutoff(strength)
        self.beta = beta
        self._filters: dict[tuple[int, str], OneEuroFilter] = {}

    def smooth(self, track_id: int, name: str, points: np.ndarray, time: float, scale: float) -> np.ndarray:
        if self.cutoff is None:
            return np.asarray(points, dtype=np.float32)
        key = (track_id, name)
        if key not in self._filters:
            self._filters[key] = OneEuroFilter(min_cutoff=self.cutoff, beta=self.beta)
        return self._filters[key](points, time, scale)

    def forget(self, live_ids: set[int]) -> None:
        """Drop the filters of tracks that ended."""
        self._filters = {key: value for key, value in self._filters.items() if key[0] in live_ids}
