"""Head pose: mean shape, synthetic projections with noise, and t1.jpg."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from facekit.face.pose import (
    MIRROR_68,
    HeadPose,
    angles_from_rotation,
    estimate_pose,
    mean_shape_3d,
    project_mean_shape,
    rotation_from_angles,
    solve_head_pose,
)
from facekit.face.types import Pose

dlib = pytest.importorskip("dlib")
face_recognition_models = pytest.importorskip("face_recognition_models")
insightface = pytest.importorskip("insightface")

IMAGE_SIZE = (800, 600)


def test_mirror_permutation_is_an_involution_with_the_right_fixed_points() -> None:
    mirror = np.asarray(MIRROR_68)
    assert sorted(mirror) == list(range(68))
    assert np.array_equal(mirror[mirror], np.arange(68))
    fixed = {i for i in range(68) if mirror[i] == i}
    assert fixed == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}
    assert mirror[0] == 16 and mirror[36] == 45 and mirror[48] == 54 and mirror[17] == 26


def test_mean_shape_is_symmetric_and_faces_the_camera() -> None:
    shape = mean_shape_3d()
    assert shape.shape == (68, 3)
    np.testing.assert_allclose(shape[list(MIRROR_68)] * [-1, 1, 1], shape, atol=1e-12)
    assert shape[36, 0] < 0 < shape[45, 0]  # image-left eye has negative x
    assert shape[8, 1] > shape[27, 1]  # chin below the nose bridge (y down)
    assert shape[30, 2] < shape[0, 2]  # nose tip nearer the camera than the jaw
    with pytest.raises(ValueError):
        shape[0, 0] = 1.0


def test_angles_round_trip_through_rotation() -> None:
    for yaw, pitch, roll in [(10, -20, 5), (-50, 12, -30), (0, 0, 0)]:
        pose = angles_from_rotation(rotation_from_angles(yaw, pitch, roll))
        assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=1e-9)


def test_sign_conventions_on_projections() -> None:
    frontal = project_mean_shape(0, 0, 0, IMAGE_SIZE, 200, (400, 300))
    turned_right = project_mean_shape(30, 0, 0, IMAGE_SIZE, 200, (400, 300))
    looking_up = project_mean_shape(0, 15, 0, IMAGE_SIZE, 200, (400, 300))
    clockwise = project_mean_shape(0, 0, 10, IMAGE_SIZE, 200, (400, 300))
    nose = 30
    # yaw > 0: nose moves toward the image's right; pitch > 0: nose moves up.
    assert turned_right[nose, 0] > frontal[nose, 0] + 20
    assert looking_up[nose, 1] < frontal[nose, 1] - 10
    # roll > 0: clockwise in the image, so the image-right eye sits lower.
    assert clockwise[45, 1] > clockwise[36, 1] + 10
    assert estimate_pose(turned_right, IMAGE_SIZE).yaw > 25
    assert estimate_pose(looking_up, IMAGE_SIZE).pitch > 10
    assert estimate_pose(clockwise, IMAGE_SIZE).roll > 5


@pytest.mark.parametrize("pitch", [-15, 0, 15])
def test_noisy_synthetic_poses_are_recovered(pitch: int) -> None:
    rng = np.random.default_rng(1234 + pitch)
    worst = 0.0
    for yaw in (-45, -30, -15, 0, 15, 30, 45):
        points = project_mean_shape(yaw, pitch, 0, IMAGE_SIZE, 180, (400, 300))
        noisy = points + rng.normal(0.0, 1.0, points.shape)
        pose = estimate_pose(noisy, IMAGE_SIZE)
        assert pose.yaw == pytest.approx(yaw, abs=3.0)
        assert pose.pitch == pytest.approx(pitch, abs=3.0)
        assert pose.roll == pytest.approx(0.0, abs=3.0)
        worst = max(worst, abs(pose.yaw - yaw), abs(pose.pitch - pitch))
    assert worst < 3.0


def test_off_centre_faces_looking_at_the_lens_read_frontal() -> None:
    rng = np.random.default_rng(7)
    for centre, yaw, pitch, roll in itertools.product([(60, 50), (740, 560)], (-30, 20), (-10, 10), (-8,)):
        points = project_mean_shape(yaw, pitch, roll, IMAGE_SIZE, 150, centre)
        pose = estimate_pose(points + rng.normal(0.0, 1.0, points.shape), IMAGE_SIZE)
        assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=3.0)


def test_solve_head_pose_exposes_vectors_that_reproject() -> None:
    points = project_mean_shape(35, -10, 4, IMAGE_SIZE, 200, (420, 280))
    result = solve_head_pose(points, IMAGE_SIZE)
    assert isinstance(result, HeadPose) and isinstance(result.pose, Pose)
    assert result.rvec.shape == (3,) and result.tvec.shape == (3,) and result.tvec[2] > 0
    assert result.camera_matrix[0, 0] == max(IMAGE_SIZE)
    assert tuple(result.camera_matrix[:2, 2]) == (400.0, 300.0)
    reprojected, _ = cv2.projectPoints(mean_shape_3d(), result.rvec, result.tvec, result.camera_matrix, None)
    assert np.abs(reprojected.reshape(68, 2) - points).max() < 1e-3


def test_far_side_jaw_is_dropped_without_hurting_large_yaw() -> None:
    """Far-side jaw points dragged along the silhouette barely move the estimate."""
    rng = np.random.default_rng(3)
    for yaw in (-50, 50):
        points = project_mean_shape(yaw, 0, 0, IMAGE_SIZE, 200, (400, 300))
        far = list(range(9, 17)) if yaw > 0 else list(range(0, 8))
        points[far, 0] += np.sign(yaw) * rng.uniform(5, 15, len(far))
        assert estimate_pose(points, IMAGE_SIZE).yaw == pytest.approx(yaw, abs=1.0)


def test_t1_faces_have_plausible_poses() -> None:
    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    image = cv2.imread(str(path))
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    boxes = dlib.get_frontal_face_detector()(rgb, 0)
    assert len(boxes) == 6
    size = (image.shape[1], image.shape[0])
    poses = {}
    for box in boxes:
        landmarks = np.array([(p.x, p.y) for p in predictor(rgb, box).parts()], dtype=np.float64)
        poses[(box.left(), box.top())] = estimate_pose(landmarks, size)
    for pose in poses.values():
        assert abs(pose.yaw) < 60 and abs(pose.pitch) < 35 and abs(pose.roll) < 45
    # The man at the top right turns his face clearly toward the image's left.
    top_face = min(poses, key=lambda corner: corner[1])
    assert poses[top_face].yaw < -30
    # Most of the six look roughly toward the camera.
    assert sum(abs(pose.yaw) < 20 for pose in poses.values()) >= 3
