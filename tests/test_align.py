"""Alignment templates, warp/paste-back and masks, on synthetic data and t1.jpg."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facekit.face.align import (
    TEMPLATES,
    estimate_affine,
    landmarks_5_from_68,
    paste_back,
    template_points,
    transform_points,
    warp,
)
from facekit.face.mask import box_mask, combine_masks, landmark_hull_mask, swap_mask

dlib = pytest.importorskip("dlib")
face_recognition_models = pytest.importorskip("face_recognition_models")
insightface = pytest.importorskip("insightface")


@pytest.fixture(scope="module")
def predictor():
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


@pytest.fixture(scope="module")
def t1_photo() -> np.ndarray:
    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def _landmarks_68(rgb: np.ndarray, box, predictor) -> np.ndarray:
    return np.array([(p.x, p.y) for p in predictor(rgb, box).parts()], dtype=np.float32)


@pytest.fixture(scope="module")
def t1_dlib_points(t1_photo, predictor) -> list[np.ndarray]:
    """dlib 68 landmarks of every face dlib finds in t1.jpg, left to right."""
    rgb = cv2.cvtColor(t1_photo, cv2.COLOR_BGR2RGB)
    boxes = sorted(dlib.get_frontal_face_detector()(rgb, 0), key=lambda box: box.left())
    assert len(boxes) == 6
    return [_landmarks_68(rgb, box, predictor) for box in boxes]


def _asymmetry(landmarks_5: np.ndarray) -> float:
    """Nose offset from the eye midpoint along the eye line, over the eye distance."""
    eye_line = landmarks_5[1] - landmarks_5[0]
    distance = float(np.linalg.norm(eye_line))
    offset = landmarks_5[2] - (landmarks_5[0] + landmarks_5[1]) / 2
    return abs(float(np.dot(offset, eye_line))) / distance**2


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_are_five_normalised_points(name: str) -> None:
    points = TEMPLATES[name]
    assert points.shape == (5, 2) and points.dtype == np.float32
    assert np.all((points > 0) & (points < 1))
    left_eye, right_eye, nose, left_mouth, right_mouth = points
    assert left_eye[0] < nose[0] < right_eye[0]
    assert left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_templates_are_read_only() -> None:
    with pytest.raises(ValueError):
        TEMPLATES["ffhq_512"][0, 0] = 0.0


def test_unknown_template_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown alignment template"):
        template_points("nope", 112)


def test_landmarks_5_from_68_picks_eye_centres_nose_and_mouth_corners() -> None:
    points = np.arange(136, dtype=np.float32).reshape(68, 2)
    five = landmarks_5_from_68(points)
    np.testing.assert_allclose(five[0], points[36:42].mean(axis=0))
    np.testing.assert_allclose(five[1], points[42:48].mean(axis=0))
    np.testing.assert_allclose(five[2:], points[[30, 48, 54]])


def test_warp_is_exact_for_a_known_similarity() -> None:
    """Markers drawn at a similarity image of the template land on the template in the crop."""
    size = 256
    angle, scale, shift = np.radians(25.0), 1.6, np.array([90.0, 60.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = template_points("ffhq_512", size)
    landmarks = target @ rotation.T + shift
    image = np.zeros((600, 600, 3), dtype=np.uint8)
    for x, y in landmarks:
        cv2.circle(image, (round(x * 16), round(y * 16)), 5 * 16, (255, 255, 255), -1, cv2.LINE_AA, 4)

    crop, matrix = warp(image, landmarks, "ffhq_512", size)

    np.testing.assert_allclose(transform_points(landmarks, matrix), target, atol=1e-3)
    for expected in target:
        x, y = np.round(expected).astype(int)
        patch = crop[y - 12 : y + 13, x - 12 : x + 13, 0].astype(np.float64)
        rows, cols = np.mgrid[y - 12 : y + 13, x - 12 : x + 13]
        centroid = np.array([(patch * cols).sum(), (patch * rows).sum()]) / patch.sum()
        assert np.linalg.norm(centroid - expected) < 1.0


def test_t1_frontal_faces_land_on_template_and_crop_agrees(t1_photo, t1_dlib_points, predictor) -> None:
    size, name = 112, "arcface_112_v2"
    target = template_points(name, size)
    frontal = [face for face in t1_dlib_points if _asymmetry(landmarks_5_from_68(face)) < 0.1]
    assert len(frontal) == 2
    for landmarks_68 in frontal:
        landmarks_5 = landmarks_5_from_68(landmarks_68)
        crop, matrix = warp(t1_photo, landmarks_5, name, size)
        assert crop.shape == (size, size, 3)
        moved = transform_points(landmarks_5, matrix)
        # dlib eye centres vs the ArcFace template: measured 0.9-2.5 px at 112 px.
        assert np.linalg.norm(moved[:2] - target[:2], axis=1).max() < 2.5
        # Landmarks found again on the crop itself sit where the matrix put them.
        x, y, w, h = cv2.boundingRect(transform_points(landmarks_68, matrix))
        again = _landmarks_68(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), dlib.rectangle(x, y, x + w, y + h),
                              predictor)
        found = landmarks_5_from_68(again)
        assert np.linalg.norm(found[:2] - moved[:2], axis=1).max() < 2.0


def test_t1_every_face_aligns_within_a_loose_bound(t1_photo, t1_dlib_points) -> None:
    for landmarks_68 in t1_dlib_points:
        landmarks_5 = landmarks_5_from_68(landmarks_68)
        matrix = estimate_affine(landmarks_5, "ffhq_512", 512)
        error = np.linalg.norm(transform_points(landmarks_5, matrix) - template_points("ffhq_512", 512), axis=1)
        assert error.mean() < 0.06 * 512


def test_paste_back_of_unchanged_crop_restores_the_photo(t1_photo, t1_dlib_points) -> None:
    height, width = t1_photo.shape[:2]
    for landmarks_68 in t1_dlib_points:
        crop, matrix = warp(t1_photo, landmarks_5_from_68(landmarks_68), "ffhq_512", 512)
        mask = box_mask(512)
        pasted = paste_back(t1_photo, crop, matrix, mask)

        assert pasted.dtype == np.uint8 and pasted.shape == t1_photo.shape
        inverse = cv2.invertAffineTransform(matrix)
        face_region = cv2.warpAffine(mask, inverse, (width, height)) > 0.5
        assert face_region.sum() > 5000
        assert _psnr(pasted[face_region], t1_photo[face_region]) > 40.0

        corners = transform_points(np.array([[0, 0], [512, 0], [0, 512], [512, 512]]), inverse)
        x1, y1 = np.floor(corners.min(axis=0)).astype(int)
        x2, y2 = np.ceil(corners.max(axis=0)).astype(int) + 1
        outside = np.ones((height, width), dtype=bool)
        outside[max(y1, 0) : y2, max(x1, 0) : x2] = False
        assert np.array_equal(pasted[outside], t1_photo[outside])


def test_paste_back_replaces_the_face_and_leaves_the_input_alone(t1_photo, t1_dlib_points) -> None:
    original = t1_photo.copy()
    crop, matrix = warp(t1_photo, landmarks_5_from_68(t1_dlib_points[0]), "ffhq_512", 512)
    pasted = paste_back(t1_photo, np.zeros_like(crop), matrix, box_mask(512))
    assert np.array_equal(t1_photo, original)
    centre = transform_points(np.array([[256.0, 256.0]]), cv2.invertAffineTransform(matrix))[0]
    x, y = np.round(centre).astype(int)
    assert pasted[y, x].max() == 0
    assert not np.array_equal(pasted, t1_photo)


def test_paste_back_outside_the_image_changes_nothing() -> None:
    image = np.full((50, 60, 3), 7, dtype=np.uint8)
    matrix = np.array([[1.0, 0.0, 500.0], [0.0, 1.0, 500.0]])
    result = paste_back(image, np.zeros((32, 32, 3), np.uint8), matrix, np.ones((32, 32), np.float32))
    assert np.array_equal(result, image) and result is not image


def test_box_mask_is_feathered_and_padded() -> None:
    mask = box_mask(200)
    assert mask.shape == (200, 200) and mask.dtype == np.float32
    assert mask[100, 100] == pytest.approx(1.0, abs=1e-3)
    assert mask[0, 100] < 0.1 and mask[100, 0] < 0.1
    assert 0.2 < mask[100, 15] < 0.95
    assert np.all(np.diff(mask[100, :100]) >= 0)
    np.testing.assert_allclose(mask, mask[::-1, ::-1], atol=1e-6)

    padded = box_mask((200, 100), blur=0.0, padding=(10, 0, 0, 25))
    assert padded.shape == (100, 200)
    assert padded[:10].max() == 0 and padded[10:99, 50:199].min() == 1
    assert padded[:, :50].max() == 0 and padded[-1].max() == 0


def test_landmark_hull_masks_cover_their_regions(t1_photo, t1_dlib_points) -> None:
    crop, matrix = warp(t1_photo, landmarks_5_from_68(t1_dlib_points[0]), "ffhq_512", 512)
    points = transform_points(t1_dlib_points[0], matrix)
    face = landmark_hull_mask(512, points, "face", feather=0.0)
    lower = landmark_hull_mask(512, points, "lower_face")
    mouth = landmark_hull_mask(512, points, "mouth")
    nose_x, nose_y = np.round(points[30]).astype(int)
    mouth_x, mouth_y = np.round(points[[48, 54]].mean(axis=0)).astype(int)
    assert face[nose_y, nose_x] == 1 and face[5, 5] == 0
    assert mouth[mouth_y, mouth_x] > 0.9 and mouth[nose_y - 40, nose_x] < 0.05
    eye_x, eye_y = np.round(points[36:42].mean(axis=0)).astype(int)
    assert lower[mouth_y, mouth_x] > 0.9 and lower[eye_y, eye_x] < 0.1
    assert mouth.sum() < lower.sum() < face.sum()
    with pytest.raises(ValueError):
        landmark_hull_mask(512, points, "ears")  # type: ignore[arg-type]


def test_combine_masks_takes_the_minimum() -> None:
    a = np.array([[0.2, 0.9]], dtype=np.float32)
    b = np.array([[0.5, 0.1]], dtype=np.float32)
    np.testing.assert_allclose(combine_masks(a, b), [[0.2, 0.1]])
    with pytest.raises(ValueError):
        combine_masks(a, np.ones((2, 2), np.float32))
    with pytest.raises(ValueError):
        combine_masks()


# ------------------------------------------------------------------ least-squares fit (issue 17.2)
def _similarity(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return points @ (scale * np.array([[cos, sin], [-sin, cos]])) + np.array(shift)


def test_estimate_affine_is_the_least_squares_fit_and_keeps_every_point() -> None:
    transform = pytest.importorskip("skimage.transform")
    target = template_points("arcface_112_v2", 112).astype(np.float64)
    source = _similarity(target, 0.3, 1.7, (40.0, 25.0))
    source[3] += (9.0, -6.0)  # one point off by ~11 px: LMEDS treats it as an outlier and fits the other four
    matrix = estimate_affine(source, "arcface_112_v2", 112)
    reference = transform.SimilarityTransform.from_estimate(source, target)
    np.testing.assert_allclose(matrix, reference.params[:2], atol=1e-6)
    lmeds, _ = cv2.estimateAffinePartial2D(source.astype(np.float32), target.astype(np.float32), method=cv2.LMEDS)
    ours = np.linalg.norm(transform_points(source, matrix) - target, axis=1)
    dropped = np.linalg.norm(transform_points(source, lmeds) - target, axis=1)
    assert dropped.max() > 4.0 and np.sort(dropped)[:4].max() < 0.05  # LMEDS: four exact, one ignored
    assert ours.max() < 0.7 * dropped.max()  # least squares shares the error among all five
    assert (ours**2).sum() < (dropped**2).sum()


def test_estimate_affine_matches_skimage_on_detector_like_noise() -> None:
    transform = pytest.importorskip("skimage.transform")
    rng = np.random.default_rng(7)
    for template in TEMPLATES:
        target = template_points(template, 256).astype(np.float64)
        for _ in range(10):
            source = _similarity(target, rng.uniform(-1, 1), rng.uniform(0.3, 3), tuple(rng.uniform(-50, 500, 2)))
            source += rng.normal(0, 2.0, source.shape)
            reference = transform.SimilarityTransform.from_estimate(source, target)
            np.testing.assert_allclose(estimate_affine(source, template, 256), reference.params[:2], atol=1e-6)


@pytest.mark.parametrize(
    "points", [np.full((5, 2), 40.0), np.array([[1, 2], [3, 4], [np.nan, 1], [5, 5], [6, 6]], dtype=np.float64)]
)
def test_degenerate_landmarks_raise_a_facekit_error(points: np.ndarray) -> None:
    from facekit.errors import DegenerateFaceError, FaceKitError

    with pytest.raises(DegenerateFaceError) as raised:
        estimate_affine(points, "ffhq_512", 512)
    assert isinstance(raised.value, FaceKitError) and "skipped" in str(raised.value)


def test_swap_mask_is_the_box_cut_to_the_raised_face_hull(t1_photo, t1_dlib_points) -> None:
    crop, matrix = warp(t1_photo, landmarks_5_from_68(t1_dlib_points[0]), "arcface_128", 128)
    points = transform_points(t1_dlib_points[0], matrix)
    cut = swap_mask((128, 128), points)
    box = swap_mask((128, 128), None)
    np.testing.assert_array_equal(box, box_mask(128))
    assert np.all(cut <= box + 1e-6)
    nose_x, nose_y = np.round(points[30]).astype(int)
    assert cut[nose_y, nose_x] > 0.95 and cut[nose_y, 3] < 0.05
    big = swap_mask((512, 512), points * 4)  # drawn small and scaled up: same shape
    assert big.shape == (512, 512)
    np.testing.assert_allclose(cv2.resize(big, (128, 128), interpolation=cv2.INTER_AREA), cut, atol=0.15)
