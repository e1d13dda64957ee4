"""Face tracks (box overlap + identity, stable ids across misses and crossings) and One-Euro smoothing, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from facekit.face.track import (
    OneEuroFilter,
    Tracker,
    TrackerOptions,
    box_iou,
    identity_margin,
    move_box,
    similarity_fit,
    smoothing_cutoff,
)


def box_at(x: float, y: float, side: float = 80.0) -> np.ndarray:
    return np.array([x - side / 2, y - side / 2, x + side / 2, y + side / 2], np.float32)


def test_iou_and_identity_margin() -> None:
    assert box_iou(box_at(0, 0), box_at(0, 0)) == pytest.approx(1.0)
    assert box_iou(box_at(0, 0), box_at(40, 0)) == pytest.approx(1 / 3)
    assert box_iou(box_at(0, 0), box_at(100, 0)) == 0.0
    same, other = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert identity_margin(same, same, "cosine", 0.35) == pytest.approx(1.0)
    assert identity_margin(same, other, "cosine", 0.35) < 0
    assert identity_margin(same, same + 0.1, "euclidean", 0.6) > 0 > identity_margin(same, same + 1.0, "euclidean", 0.6)


def test_landmark_fit_carries_the_box() -> None:
    points = np.array([[10, 10], [30, 10], [20, 30]], np.float64)
    scale, shift = similarity_fit(points, points * 2 + 5)
    assert scale == pytest.approx(2.0) and shift == pytest.approx([5, 5])
    assert move_box(np.array([0, 0, 10, 10]), scale, shift) == pytest.approx([5, 5, 25, 25])


def crossing(frames: int = 40) -> list[tuple[np.ndarray, np.ndarray]]:
    """Person A moves left to right, B right to left, a little lower; they overlap in the middle."""
    per_frame = []
    for i in range(frames):
        t = i / (frames - 1)
        per_frame.append((box_at(60 + 280 * t, 100), box_at(340 - 280 * t, 120)))
    return per_frame


@pytest.mark.parametrize("with_identity", [True, False])
def test_ids_stay_with_their_person_through_a_crossing(with_identity) -> None:
    person_a, person_b = np.eye(8)[0], np.eye(8)[1]
    tracker = Tracker(TrackerOptions())
    history = {"a": set(), "b": set()}
    for frame, (a, b) in enumerate(crossing()):
        boxes = [b, a] if frame % 2 else [a, b]  # detection order changes; ids must not
        embeddings = ([person_b, person_a] if frame % 2 else [person_a, person_b]) if with_identity else None
        ids = tracker.update(frame, boxes, embeddings)
        history["a"].add(ids[1] if frame % 2 else ids[0])
        history["b"].add(ids[0] if frame % 2 else ids[1])
    assert len(history["a"]) == 1 and len(history["b"]) == 1 and history["a"] != history["b"]


def test_a_hidden_face_keeps_its_id_for_short_misses_and_gets_a_new_one_after_long_ones() -> None:
    tracker = Tracker(TrackerOptions(max_misses=5))
    first = [tracker.update(frame, [box_at(100 + 2 * frame, 100)])[0] for frame in range(10)]
    for frame in range(10, 14):  # hidden for 4 frames
        tracker.update(frame, [])
    back = tracker.update(14, [box_at(128, 100)])[0]
    assert set(first) == {back}
    for frame in range(15, 25):  # hidden for 10 frames: the track ends
        tracker.update(frame, [])
    assert tracker.update(25, [box_at(150, 100)])[0] != back
    ranges = [(t.id, t.first_frame, t.last_frame) for t in tracker.all_tracks()]
    assert ranges == [(0, 0, 14), (1, 25, 25)]


def test_identity_brings_a_face_back_where_boxes_do_not_overlap() -> None:
    person = np.eye(8)[3]
    tracker = Tracker(TrackerOptions(max_misses=10))
    old = tracker.update(0, [box_at(60, 100)], [person])[0]
    assert tracker.update(3, [box_at(300, 100)], [person])[0] == old  # jumped across the frame (a cut) but same person
    assert tracker.update(4, [box_at(300, 100)], [np.eye(8)[5]])[0] != old  # someone else in the same place


def test_one_euro_removes_jitter_from_a_still_face_and_follows_a_moving_one() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(120) / 30.0
    still = 100 + rng.normal(0, 2.0, (120, 5, 2))
    smooth = OneEuroFilter(min_cutoff=smoothing_cutoff(0.5))
    filtered = np.array([smooth(points, t, scale=80.0) for points, t in zip(still, times, strict=True)])
    assert np.std(np.diff(filtered[30:], axis=0)) < 0.3 * np.std(np.diff(still[30:], axis=0))
    moving = 100 + 160 * times[:, None, None] + np.zeros((120, 5, 2))  # 2 face widths per second
    follow = OneEuroFilter(min_cutoff=smoothing_cutoff(0.5))
    tracked = np.array([follow(points, t, scale=80.0) for points, t in zip(moving, times, strict=True)])
    assert np.abs(tracked[30:] - moving[30:]).max() < 8.0  # lags under a tenth of the face width


def test_smoothing_strength_maps_to_a_cutoff() -> None:
    assert smoothing_cutoff(0.0) is None
    assert smoothing_cutoff(0.5) == pytest.approx(1.0)
    assert smoothing_cutoff(1.0) < smoothing_cutoff(0.5) < smoothing_cutoff(0.1)
    with pytest.raises(ValueError):
        smoothing_cutoff(1.5)
