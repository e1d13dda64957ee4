"""Head pose from 68 landmarks by solvePnP against InsightFace's 3D mean shape.

Camera model: pinhole, focal length f = max(width, height) pixels, principal
point at the image centre, no distortion. Object frame (OpenCV): x toward the
image's right, y down, z away from the camera; a frontal face has R = I.

Angle conventions (degrees; same as :class:`facekit.face.types.Pose`):
- yaw   > 0: the face is turned toward the image's right side (the nose moves right);
- pitch > 0: the face looks up (the nose moves up);
- roll  > 0: the head is tilted clockwise in the image (the eye on the image's
  right sits lower than the one on the image's left).
Angles are measured against the line of sight through the face, not the
optical axis: a face looking straight into the lens reads (0, 0, 0) wherever
it sits in the frame (off-centre faces would otherwise read up to ~25 degrees
of yaw at the edges with f = max(w, h)). With R the object-to-camera rotation
from solvePnP and V the rotation taking the optical axis onto the ray to the
face, V^T R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch): the head yaws about the
vertical, then nods about its own left-right axis. :class:`HeadPose` keeps
the raw rvec/tvec for projection.
"""

from __future__ import annotations

import functools
import importlib.resources
import pickle
from dataclasses import dataclass

import cv2
import numpy as np

from facekit.errors import DegenerateFaceError
from facekit.face.types import Pose


def _mirror_permutation() -> tuple[int, ...]:
    """Index of each iBUG 68 point's left-right partner."""
    pairs = [(i, 16 - i) for i in range(8)]
    pairs += [(17 + i, 26 - i) for i in range(5)]
    pairs += [(31, 35), (32, 34)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    mirror = list(range(68))
    for a, b in pairs:
        mirror[a], mirror[b] = b, a
    return tuple(mirror)


# MIRROR_68[i] is the point that mirrors point i across the face's midline.
MIRROR_68: tuple[int, ...] = _mirror_permutation()

_JAW_IMAGE_LEFT = tuple(range(0, 8))  # jaw points on the image's left when frontal
_JAW_IMAGE_RIGHT = tuple(range(9, 17))
_JAW_DROP_YAW_DEGREES = 20.0
_DEGENERATE_HINT = "The face is skipped; its landmarks are degenerate."


@dataclass(frozen=True)
class HeadPose:
    """solvePnP result: rotation/translation vectors, intrinsics and angles."""

    rvec: np.ndarray
    tvec: np.ndarray
    camera_matrix: np.ndarray
    pose: Pose


def _load_insightface_mean_shape() -> np.ndarray:
    """The raw 68x3 mean shape shipped in the installed insightface wheel."""
    resource = importlib.resources.files("insightface") / "data" / "objects" / "meanshape_68.pkl"
    with resource.open("rb") as handle:
        shape = pickle.load(handle)  # a file from the installed package, not user input
    return np.asarray(shape, dtype=np.float64).reshape(68, 3)


@functools.cache
def mean_shape_3d() -> np.ndarray:
    """Symmetric 68x3 object points in OpenCV's frame (read-only; about 1.3 units wide).

    Loaded once on first use: z flipped (insightface's z points at the viewer),
    then averaged with its mirror image so left and right match exactly.
    """
    shape = _load_insightface_mean_shape() * np.array([1.0, 1.0, -1.0])
    mirrored = shape[list(MIRROR_68)] * np.array([-1.0, 1.0, 1.0])
    symmetric = (shape + mirrored) / 2.0
    symmetric.setflags(write=False)
    return symmetric


def camera_matrix(image_size: tuple[int, int]) -> np.ndarray:
    """Intrinsics for an image of (width, height): f = max(w, h), centred principal point."""
    width, height = image_size
    focal = float(max(width, height))
    return np.array(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], dtype=np.float64
    )


def _axis_rotations(yaw: float, pitch: float, roll: float) -> tuple[np.ndarray, ...]:
    """Rotations about the camera's y, x and z axes for the documented angle signs."""
    about_y, about_x, about_z = np.radians([-yaw, -pitch, roll])
    cy, sy = np.cos(about_y), np.sin(about_y)
    cx, sx = np.cos(about_x), np.sin(about_x)
    cz, sz = np.cos(about_z), np.sin(about_z)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return ry, rx, rz


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch) (OpenCV axes; y down, z forward)."""
    ry, rx, rz = _axis_rotations(yaw, pitch, roll)
    return rz @ ry @ rx


def angles_from_rotation(rotation: np.ndarray) -> Pose:
    """Inverse of :func:`rotation_from_angles` (yaw kept within +-90 degrees)."""
    about_y = np.arcsin(np.clip(-rotation[2, 0], -1.0, 1.0))
    about_x = np.arctan2(rotation[2, 1], rotation[2, 2])
    about_z = np.arctan2(rotation[1, 0], rotation[0, 0])
    yaw, pitch, roll = np.degrees([-about_y, -about_x, about_z])
    return Pose(yaw=float(yaw), pitch=float(pitch), roll=float(roll))


def line_of_sight_rotation(tvec: np.ndarray) -> np.ndarray:
    """Smallest rotation taking the optical axis (0, 0, 1) onto the ray toward `tvec`."""
    ray = np.asarray(tvec, dtype=np.float64).reshape(3)
    ray = ray / np.linalg.norm(ray)
    axis = np.cross([0.0, 0.0, 1.0], ray)
    sine = float(np.linalg.norm(axis))
    if sine < 1e-12:
        return np.eye(3)
    angle = np.arctan2(sine, ray[2])
    rotation, _ = cv2.Rodrigues(axis / sine * angle)
    return rotation


def pose_from_vectors(rvec: np.ndarray, tvec: np.ndarray) -> Pose:
    """Yaw/pitch/roll of a solvePnP result, relative to the line of sight."""
    rotation, _ = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64))
    return angles_from_rotation(line_of_sight_rotation(tvec).T @ rotation)


def _solve(
    object_points: np.ndarray, image_points: np.ndarray, camera: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """EPnP start refined by Levenberg-Marquardt (SOLVEPNP_ITERATIVE)."""
    no_distortion = np.zeros(4)
    ok, rvec, tvec = cv2.solvePnP(
        object_points, image_points, camera, no_distortion, flags=cv2.SOLVEPNP_EPNP
    )
    if not ok:
        raise DegenerateFaceError("No head pose fits this face's landmarks (solvePnP failed).", _DEGENERATE_HINT)
    ok, rvec, tvec = cv2.solvePnP(
        object_points, image_points, camera, no_distortion, rvec, tvec,
        useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        raise DegenerateFaceError("No head pose fits this face's landmarks (refinement failed).", _DEGENERATE_HINT)
    return rvec.reshape(3), tvec.reshape(3)


def far_jaw(rotation: np.ndarray) -> tuple[int, ...]:
    """The jaw points (0-7 or 9-16) on the side turned away from the camera, for an object-to-camera `rotation` (3x3)."""
    depth = (mean_shape_3d() @ np.asarray(rotation).T)[:, 2]  # the translation adds the same depth to both sides
    left_depth = depth[list(_JAW_IMAGE_LEFT)].mean()
    right_depth = depth[list(_JAW_IMAGE_RIGHT)].mean()
    return _JAW_IMAGE_LEFT if left_depth > right_depth else _JAW_IMAGE_RIGHT


def solve_head_pose(landmarks_68: np.ndarray, image_size: tuple[int, int]) -> HeadPose:
    """Full pose fit; `image_size` is (width, height).

    If |yaw| exceeds 20 degrees the fit is repeated without the far-side jaw
    points, which slide along the silhouette instead of following the bone.
    """
    image_points = np.asarray(landmarks_68, dtype=np.float64).reshape(68, 2)
    if not np.isfinite(image_points).all() or float(np.ptp(image_points, axis=0).max()) < 1.0:
        raise DegenerateFaceError("The face's 68 landmarks are not finite or sit on one spot.", _DEGENERATE_HINT)
    object_points = mean_shape_3d()
    camera = camera_matrix(image_size)
    rvec, tvec = _solve(object_points, image_points, camera)
    pose = pose_from_vectors(rvec, tvec)
    if abs(pose.yaw) > _JAW_DROP_YAW_DEGREES:
        dropped = set(far_jaw(cv2.Rodrigues(rvec)[0]))
        keep = [index for index in range(68) if index not in dropped]
        rvec, tvec = _solve(object_points[keep], image_points[keep], camera)
        pose = pose_from_vectors(rvec, tvec)
    return HeadPose(rvec=rvec, tvec=tvec, camera_matrix=camera, pose=pose)


def estimate_pose(landmarks_68: np.ndarray, image_size: tuple[int, int]) -> Pose:
    """Yaw, pitch and roll in degrees (conventions in the module docstring)."""
    return solve_head_pose(landmarks_68, image_size).pose


def project_mean_shape(
    yaw: float,
    pitch: float,
    roll: float,
    image_size: tuple[int, int],
    face_width_px: float,
    centre: tuple[float, float],
) -> np.ndarray:
    """68x2 image points of the mean shape at a known pose, with the same camera.

    The shape's origin projects to `centre` (x, y); its jaw (points 0 to 16)
    spans about `face_width_px` pixels when facing the lens. Angles follow
    the module's conventions (relative to the line of sight).
    """
    shape = mean_shape_3d()
    camera = camera_matrix(image_size)
    jaw_width = float(np.linalg.norm(shape[16] - shape[0]))
    distance = camera[0, 0] * jaw_width / face_width_px
    ray = np.linalg.inv(camera) @ np.array([centre[0], centre[1], 1.0])
    tvec = ray * distance
    rotation = line_of_sight_rotation(tvec) @ rotation_from_angles(yaw, pitch, roll)
    rvec, _ = cv2.Rodrigues(rotation)
    points, _ = cv2.projectPoints(shape, rvec, tvec, camera, np.zeros(4))
    return points.reshape(68, 2)
