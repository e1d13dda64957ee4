"""The builtin `mesh` swapper on real photos: identity moves to the source (dlib), the rest of the image stays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from facekit.adapters.inswapper import SwapSource, SwapTarget
from facekit.adapters.mesh import MeshSwapper, forehead_points, half_face_weight, hidden_side, mirror_face, mouth_is_open
from facekit.errors import FaceKitError
from facekit.face.align import transform_points
from facekit.face.types import Face
from facekit.processors.common import FaceSelection
from facekit.processors.swap import SwapOptions, swap_image

# Every face of t1 gets its neighbour's identity.
NEIGHBOURS = ((0, 1), (1, 0), (2, 3), (3, 2), (4, 5), (5, 4))


# The identity checks take the source's mouth too (keep_mouth="never"): by default the target's own mouth stays where
# it is open (t1 faces 1, 3 and 4), which keeps part of the original person (test_open_mouths_stay_the_targets).
@pytest.fixture(scope="module")
def tom_on_t1(engine, t1, tom):
    return swap_image(engine, [tom], t1, SwapOptions(keep_mouth="never"))


@pytest.fixture(scope="module")
def t1_shuffled(engine, t1):
    return swap_image(engine, [t1], t1, SwapOptions(face_map=NEIGHBOURS, keep_mouth="never"))


def test_mesh_is_the_offline_default_and_reports_dlib(tom_on_t1) -> None:
    assert tom_on_t1.models["swapper"] == "mesh"
    assert tom_on_t1.models["identity_embedder"] == "dlib_resnet"
    assert [face.index for face in tom_on_t1.faces] == list(range(6))
    assert all(face["identity_metric"] == "euclidean" for face in tom_on_t1.face_dicts())


@pytest.mark.parametrize("case", ["tom_on_t1", "t1_shuffled"])
def test_each_swapped_face_is_nearer_the_source_than_the_original(case, request) -> None:
    # dlib Euclidean distances, measured (source - target): Tom on t1 -0.08, -0.32, -0.10, -0.20, -0.36, -0.44;
    # t1 faces swapped with their neighbours -0.07, -0.07, -0.07, -0.14, -0.32, -0.33. Before the swap every
    # pair of different people in t1 is 0.65-0.90 apart (embed.py). (A Poisson blend in place of
    # the multi-band one left 2 of these 12 nearer the original; so did no shape transfer.)
    faces = request.getfixturevalue(case).face_dicts()
    for face in faces:
        assert face["source_distance"] < face["target_distance"], face
        assert face["closer_to_source"] is True
    gaps = [face["target_distance"] - face["source_distance"] for face in faces]
    assert np.mean(gaps) > 0.1


def allowed_region(shape: tuple[int, ...], faces: list[Face]) -> np.ndarray:
    """Face hulls with a forehead band (brows raised 20% of chin-to-brow), grown by 15% of the face width."""
    region = np.zeros(shape[:2], np.uint8)
    for face in faces:
        points = face.landmarks_68
        raised = points[17:27] + 0.2 * (points[17:27].mean(axis=0) - points[8])
        hull = cv2.convexHull(np.rint(np.vstack([points, raised])).astype(np.int32))
        grow = int(0.15 * np.ptp(points[:17, 0]))
        face_region = np.zeros_like(region)
        cv2.fillConvexPoly(face_region, hull, 1)
        region |= cv2.dilate(face_region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return region.astype(bool)


def test_pixels_outside_the_faces_are_unchanged(t1, t1_faces, tom_on_t1) -> None:
    changed = np.any(tom_on_t1.image != t1, axis=2)
    allowed = allowed_region(t1.shape, t1_faces)
    assert not (changed & ~allowed).any()
    assert changed.sum() > 0.4 * allowed.sum()  # measured 0.68 of the allowed region changed
    for face in t1_faces:  # and the inner face (eye corners to lower lip) changed a lot: mean |diff| 25.6-46.7
        points = face.landmarks_68
        inner = (slice(int(points[[36, 45], 1].min()), int(points[57, 1])), slice(int(points[36, 0]), int(points[45, 0])))
        assert np.abs(tom_on_t1.image[inner].astype(int) - t1[inner].astype(int)).mean() > 12


def test_swapping_a_face_onto_itself_changes_almost_nothing(engine, t1, t1_faces) -> None:
    swapper = MeshSwapper()
    face = t1_faces[3]
    matrix, size = swapper.crop_transform(face)
    crop = cv2.warpAffine(t1, matrix, size)
    points = transform_points(face.landmarks_68, matrix)
    swapped = swapper.swap(SwapTarget(crop=crop, points_68=points, pose=face.pose), SwapSource(image=t1, face=face))
    # Measured 58.1 dB: the piecewise-affine field is the identity, so only rounding remains.
    assert peak_signal_noise_ratio(crop, swapped) > 45.0


def test_crop_is_an_integer_shift_for_normal_faces(t1_faces) -> None:
    matrix, (width, height) = MeshSwapper().crop_transform(t1_faces[0])
    assert matrix[0, 0] == 1.0 and matrix[1, 1] == 1.0 and np.all(matrix[:, 2] == np.round(matrix[:, 2]))
    assert 100 < width < 300 and 100 < height < 300


def test_mirroring_keeps_each_point_on_its_side(t1, t1_faces) -> None:
    points = t1_faces[4].landmarks_68
    image, mirrored = mirror_face(t1, points)
    assert image.shape == t1.shape
    assert mirrored[36:42, 0].mean() < mirrored[42:48, 0].mean()  # left eye still on the image's left
    assert mirrored[0, 0] < mirrored[16, 0] and mirrored[48, 0] < mirrored[54, 0]
    np.testing.assert_allclose(np.sort(mirrored[:, 1]), np.sort(points[:, 1]))


def test_open_mouth_keeps_the_targets_inner_mouth(t1_faces) -> None:
    points = t1_faces[3].landmarks_68.copy()
    points -= points.min(axis=0) - 20
    size = tuple(int(v) for v in points.max(axis=0) + 20)
    closed = points.copy()
    closed[65:68] = closed[[63, 62, 61]]
    opened = points.copy()
    opened[65:68, 1] += 0.4 * np.ptp(points[48:60, 0])
    opened[56:59, 1] += 0.4 * np.ptp(points[48:60, 0])
    assert not mouth_is_open(closed) and mouth_is_open(opened)
    swapper = MeshSwapper()
    inside = tuple(np.rint(opened[[62, 66]].mean(axis=0)).astype(int))
    assert swapper.blend_mask(opened, opened, size)[inside[1], inside[0]] == 0
    assert swapper.blend_mask(closed, closed, size)[inside[1], inside[0]] == 255


def test_far_half_of_a_turned_face_is_found(t1_faces) -> None:
    turned, frontal = t1_faces[4], t1_faces[0]  # yaw -48 (nose towards the image's left) and yaw 0.6
    amount, left = hidden_side(turned.landmarks_68, turned.pose, start=20.0, span=20.0)
    assert amount == 1.0 and left
    assert hidden_side(turned.landmarks_68, None, start=20.0, span=20.0)[1]  # the widths alone agree
    assert hidden_side(frontal.landmarks_68, frontal.pose, start=20.0, span=20.0)[0] == 0.0
    size = (int(turned.landmarks_68[:, 0].max()) + 10, int(turned.landmarks_68[:, 1].max()) + 10)
    weight = half_face_weight(turned.landmarks_68, size, left=True, feather=4.0)
    y, x = np.rint(turned.landmarks_68[30, ::-1]).astype(int)
    assert weight[y, 0] == 1.0 and weight[y, -1] == 0.0 and 0.0 < weight[y, x] < 1.0  # the ramp runs through the nose


def test_forehead_row_sits_above_the_brows(t1_faces) -> None:
    points = t1_faces[0].landmarks_68
    up = points[17:27].mean(axis=0) - points[8]
    lifted = forehead_points(points, 0.3)
    assert np.all((lifted - points[[17, 19, 21, 22, 24, 26]]) @ up > 0)


def test_several_sources_use_the_first_and_say_so(engine, t1, tom) -> None:
    result = swap_image(engine, [tom, t1], t1, SwapOptions(faces=FaceSelection.parse("5")))
    assert [face.index for face in result.faces] == [5]
    assert any("used only source photo" in warning for warning in result.warnings)
    assert result.faces[0].source == "source photo 1 face 0"


def test_weight_is_reported_as_ignored(engine, t1, tom) -> None:
    result = swap_image(engine, [tom], t1, SwapOptions(faces=FaceSelection.parse("2"), weight=0.8, identity=False))
    assert any("the weight 0.8 was ignored" in warning for warning in result.warnings)
    assert "source_distance" not in result.face_dicts()[0]


def test_missing_landmarks_are_a_clear_error(tom) -> None:
    face = Face(box=np.array([0, 0, 50, 50], np.float32), score=1.0, landmarks_5=np.zeros((5, 2), np.float32))
    with pytest.raises(FaceKitError, match="needs 68 landmarks on the target face"):
        MeshSwapper().crop_transform(face)




def mouth_box(points: np.ndarray) -> tuple[slice, slice]:
    (x1, y1), (x2, y2) = points[48:68].min(axis=0), points[48:68].max(axis=0)
    return slice(int(y1), int(y2) + 1), slice(int(x1), int(x2) + 1)


def test_open_mouths_stay_the_targets(engine, t1, t1_faces, t1_shuffled) -> None:
    """By default an open mouth (teeth, tongue, a wide smile) stays the target's; a closed one takes the source's lips.

    Mouth-box PSNR against the target, t1's faces swapped with their neighbours (measured): open mouths (faces 1, 3,
    4) 29.5, 34.3, 34.0 dB kept, 18.6, 19.6, 18.2 dB with keep_mouth="never"; closed mouths 14.1-15.1 dB either way.
    The price is identity: dlib distance to the source on those three faces 0.48, 0.68, 0.53 (never: 0.48, 0.59, 0.45).
    """
    kept = swap_image(engine, [t1], t1, SwapOptions(face_map=NEIGHBOURS, identity=False))
    for index, face in enumerate(t1_faces):
        box = mouth_box(face.landmarks_68)
        with_mouth = peak_signal_noise_ratio(t1[box], kept.image[box])
        without = peak_signal_noise_ratio(t1[box], t1_shuffled.image[box])
        if mouth_is_open(face.landmarks_68):
            assert with_mouth > 25.0 and with_mouth > without + 6.0, (index, with_mouth, without)
        else:
            assert np.array_equal(kept.image[box], t1_shuffled.image[box]), index
    assert sum(mouth_is_open(face.landmarks_68) for face in t1_faces) == 3


def test_always_keeps_even_a_closed_mouth(engine, t1, t1_faces, t1_shuffled) -> None:
    kept = swap_image(engine, [t1], t1, SwapOptions(face_map=NEIGHBOURS, keep_mouth="always", identity=False))
    box = mouth_box(t1_faces[0].landmarks_68)  # a closed mouth: 14.1 dB with the source's lips, 25.1 dB kept (measured)
    assert peak_signal_noise_ratio(t1[box], kept.image[box]) > peak_signal_noise_ratio(t1[box], t1_shuffled.image[box]) + 6.0


def test_an_unknown_mouth_mode_is_refused() -> None:
    with pytest.raises(FaceKitError, match="mouth mode"):
        SwapOptions(keep_mouth="sometimes")  # type: ignore[arg-type]
