"""A synthetic scene for the geometric frontalizer: its own mesh, one flat colour per triangle, at a known pose.

Used by bench/bench_frontalize.py and by the tests (through tests/helpers.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from facekit.adapters.geometric import GeometricFrontalizer, own_pixel_counts, place_frontal
from facekit.face.align import landmarks_5_from_68
from facekit.face.piecewise import rasterise_triangles
from facekit.face.pose import camera_matrix, line_of_sight_rotation, rotation_from_angles
from facekit.face.types import Face

PHOTO_SIZE = (640, 640)
OUTPUT = 512


class MeshScene:
    """The frontalizer's surface mesh with one random colour per triangle, and its frontal render."""

    def __init__(self, frontalizer: GeometricFrontalizer) -> None:
        mesh = frontalizer.mesh
        self.points_3d = mesh.mean_surface
        self.triangles = mesh.triangles[mesh.surface]
        self.colours = np.random.default_rng(0).integers(30, 226, size=(len(self.triangles), 3))
        template = place_frontal(self.points_3d, frontalizer.template, OUTPUT)
        self.ids = rasterise_triangles(template, self.triangles, (OUTPUT, OUTPUT), fill=-1)
        self.frontal = np.full((OUTPUT, OUTPUT, 3), 128, dtype=np.uint8)
        self.frontal[self.ids >= 0] = self.colours[self.ids[self.ids >= 0]]
        self.interior = self._interior(self.ids)
        self.pixels = np.bincount(self.ids[self.interior], minlength=len(self.triangles))

    @staticmethod
    def _interior(ids: np.ndarray) -> np.ndarray:
        """Pixels whose neighbours 2 px away carry the same triangle id."""
        same = ids >= 0
        for dy in (-2, 0, 2):
            for dx in (-2, 0, 2):
                same &= np.roll(ids, (dy, dx), axis=(0, 1)) == ids
        return same

    def render(self, yaw: float, pitch: float, face_px: float = 260.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(photo, 68 projected landmarks, visible triangles, hidden triangles)."""
        camera = camera_matrix(PHOTO_SIZE)
        distance = camera[0, 0] * float(np.linalg.norm(self.points_3d[16] - self.points_3d[0])) / face_px
        tvec = np.linalg.inv(camera) @ np.array([320.0, 330.0, 1.0]) * distance
        rotation = line_of_sight_rotation(tvec) @ rotation_from_angles(yaw, pitch, 0.0)
        points = self.points_3d @ rotation.T + tvec
        projected = points @ camera.T
        image_points = projected[:, :2] / projected[:, 2:]
        a, b, c = (points[self.triangles[:, k]] for k in range(3))
        normals = np.cross(b - a, c - a)
        rays = a + b + c
        cosine = -np.sum(normals * rays, axis=1) / (np.linalg.norm(normals, axis=1) * np.linalg.norm(rays, axis=1))
        photo = np.full((PHOTO_SIZE[1], PHOTO_SIZE[0], 3), 128, dtype=np.uint8)
        drawn = np.full(photo.shape[:2], -1, dtype=np.int32)
        fixed = np.rint(image_points * 16).astype(np.int32)
        for index in np.argsort(-points[self.triangles].mean(axis=1)[:, 2]):
            if cosine[index] > 0:
                cv2.fillConvexPoly(photo, fixed[self.triangles[index]], self.colours[index].tolist(), shift=4)
                cv2.fillConvexPoly(drawn, fixed[self.triangles[index]], int(index), shift=4)
        kept = np.bincount(drawn[drawn >= 0], minlength=len(self.triangles)) / np.maximum(
            own_pixel_counts(image_points, self.triangles), 1
        )
        visible = (cosine > 0.35) & (kept > 0.8) & (self.pixels > 0)
        hidden = ((cosine <= 0) | (kept < 0.05)) & (self.pixels > 0)
        return photo, image_points[:68], visible, hidden

    def agreeing(self, image: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Per triangle: do at least 70% of its interior pixels match `reference`?"""
        good = np.abs(image.astype(np.int32) - reference).max(axis=2) < 40
        matching = np.bincount(self.ids[self.interior], weights=good[self.interior], minlength=len(self.triangles))
        return matching / np.maximum(self.pixels, 1) > 0.7

    def mirror_visible(self, visible: np.ndarray) -> np.ndarray:
        """Per triangle: is its mirror image (about x = (W - 1) / 2) at least 80% visible?"""
        mirrored = self.ids[:, ::-1]
        usable = self.interior & (mirrored >= 0)
        seen = np.bincount(self.ids[usable], weights=visible[mirrored[usable]], minlength=len(self.triangles))
        return seen / np.maximum(np.bincount(self.ids[usable], minlength=len(self.triangles)), 1) > 0.8


def face_from_landmarks(landmarks_68: np.ndarray) -> Face:
    points = np.asarray(landmarks_68, dtype=np.float32)
    box = np.concatenate([points.min(axis=0), points.max(axis=0)])
    return Face(box=box, score=1.0, landmarks_5=landmarks_5_from_68(points), landmarks_68=points)


# --------------------------------------------------------------- weight store
