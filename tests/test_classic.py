"""The built-in `classic` restorer measurably improves degraded faces and leaves clean ones alone.

Measured on t1.jpg's six faces (face boxes, against the clean photo; default
blend 0.8), PSNR dB / SSIM gain over the degraded input; the whole suite over
all packaged photos: `python -m bench.bench_restore --quality`:

    blur sigma 2              +2.05 / +0.031
    noise sigma 15            +8.75 / +0.340
    JPEG quality 20           +0.88 / +0.030
    down x4, cubic up         +0.46 / +0.004
    blur 2 + noise 10         +3.91 / +0.263
    noise 10 + JPEG 30        +1.22 / +0.039
    down x4 + JPEG 20         +0.60 / +0.031

The margins asserted below are about 60% of those gains; classic must also
beat an identity ONNX restorer through the warp-and-paste path ("pass-through").
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from facekit.adapters.classic import ClassicRestorer, estimate_noise_sigma, upscale_image
from facekit.adapters.classic_region import RegionSettings, repair_window
from facekit.analysis import FaceAnalyser
from facekit.errors import FaceKitError
from facekit.metrics import SUITE, apply_steps, degrade, face_box_metrics
from facekit.processors.restore import RestoreOptions, RestorePipeline, restore_image
from standins import gfpgan_identity

# degradation: (PSNR gain, SSIM gain) the restorer must at least reach, about 60% of the measured gains
MARGINS = {
    "blur2": (1.2, 0.018),
    "noise15": (5.2, 0.2),
    "jpeg20": (0.5, 0.018),
    "down4": (0.27, 0.0024),
    "mix:blur2+noise10": (2.3, 0.15),
    "mix:noise10+jpeg30": (0.7, 0.023),
    "mix:down4+jpeg20": (0.36, 0.018),
}


@pytest.fixture(scope="module")
def pass_through(tmp_path_factory) -> Path:
    return gfpgan_identity(tmp_path_factory.mktemp("standin") / "pass_through.onnx")


@pytest.mark.parametrize("kind", list(MARGINS))
def test_classic_improves_degraded_faces(engine, t1, t1_faces, pass_through, kind: str) -> None:
    degraded = apply_steps(t1, SUITE[kind])
    classic = RestorePipeline.from_engine(engine, RestoreOptions(model="classic", identity=False))
    restored, reports, models = classic.restore_faces(degraded, t1_faces)
    passed = RestorePipeline.from_engine(engine, RestoreOptions(model_file=pass_through, identity=False))
    copied, _, _ = passed.restore_faces(degraded, t1_faces)
    assert models["restorer"] == "classic" and "ellipse" in models["mask"]
    before_psnr, before_ssim = face_box_metrics(t1, degraded, t1_faces)
    after_psnr, after_ssim = face_box_metrics(t1, restored, t1_faces)
    copied_psnr, _ = face_box_metrics(t1, copied, t1_faces)
    psnr_margin, ssim_margin = MARGINS[kind]
    assert after_psnr - before_psnr > psnr_margin, (before_psnr, after_psnr)
    assert after_ssim - before_ssim > ssim_margin, (before_ssim, after_ssim)
    assert after_psnr > copied_psnr, (copied_psnr, after_psnr)
    assert all(report.repairs["repairs"] != ["none needed"] for report in reports)


def test_classic_leaves_the_clean_packaged_photos_unchanged(engine, t1, tom) -> None:
    from skimage import data

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    for photo in (t1, tom, astronaut):
        found = FaceAnalyser(engine).analyze(photo).faces
        classic = RestorePipeline.from_engine(engine, RestoreOptions(model="classic", identity=False))
        restored, reports, _ = classic.restore_faces(photo, found)
        assert face_box_metrics(photo, restored, found)[0] >= 40.0
        assert all(report.repairs["repairs"] == ["none needed"] for report in reports)
        assert np.array_equal(restored, photo)  # nothing needed, nothing touched: no box edge, no softening


def test_repair_blends_through_an_ellipse_not_a_box(engine, t1, t1_faces) -> None:
    """Noise everywhere: the repaired face fades out towards the window's corners (no rectangle edge)."""
    noisy = apply_steps(t1, SUITE["noise15"])
    face = t1_faces[0]
    restored, _, _ = RestorePipeline.from_engine(engine, RestoreOptions(model="classic", identity=False)).restore_faces(noisy, [face])
    x1, y1, x2, y2 = (int(v) for v in face.box)
    centre = (slice((y1 + y2) // 2 - 5, (y1 + y2) // 2 + 5), slice((x1 + x2) // 2 - 5, (x1 + x2) // 2 + 5))
    corner = (slice(y1 - 20, y1 - 10), slice(x1 - 20, x1 - 10))  # outside the ellipse, inside the window
    changed = np.abs(restored.astype(np.float32) - noisy)
    assert changed[centre].mean() > 5.0 and changed[corner].mean() < 0.5


def test_measurements_name_the_damage(t1, t1_faces) -> None:
    x1, y1, x2, y2 = (int(v) for v in t1_faces[2].box)
    window = (slice(y1 // 8 * 8, y2), slice(x1 // 8 * 8, x2))
    expected = {"jpeg20": "deblock", "noise15": "denoise", "blur2": "deblur"}
    for kind, repair in expected.items():
        _, damage = repair_window(apply_steps(t1, SUITE[kind])[window], RegionSettings())
        assert damage.as_dict()["repairs"] == [repair], (kind, damage)


def test_classic_on_the_clean_photo_keeps_size_and_identity(engine, t1) -> None:
    result = restore_image(engine, t1, RestoreOptions())  # classic is the embedded default
    assert result.models["restorer"] == "classic"
    assert result.image.shape == t1.shape and result.image.dtype == np.uint8
    assert len(result.faces) == 6 and peak_signal_noise_ratio(t1, result.image) > 40.0
    assert all(face.same_person and face.identity.value < 0.25 for face in result.faces)


def test_classic_measures_what_it_does(t1, t1_faces) -> None:
    from facekit.face.align import warp

    restorer = ClassicRestorer()
    clean = warp(t1, t1_faces[0].landmarks_5, "ffhq_512", 512)[0]
    for kind, denoised, sharpened in (("noise", True, False), ("blur", False, True), ("jpeg", False, False)):
        crop = warp(degrade(t1, kind), t1_faces[0].landmarks_5, "ffhq_512", 512)[0]
        restored, measured = restorer.restore_with_measurements(crop)
        assert restored.shape == crop.shape and restored.dtype == np.uint8
        assert (measured.denoise_strength > 0.9) is denoised and (measured.denoise_strength == 0.0) is not denoised
        assert (max(measured.band_gains) > 1.5) is sharpened
    assert estimate_noise_sigma(warp(degrade(t1, "noise"), t1_faces[0].landmarks_5, "ffhq_512", 512)[0]) > 2 * estimate_noise_sigma(clean)


def test_classic_works_at_other_crop_sizes() -> None:
    crop = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert ClassicRestorer().restore(crop).shape == (256, 256, 3)
    with pytest.raises(ValueError):
        ClassicRestorer().restore(np.zeros((16, 16, 3), np.uint8))


def test_upscale_image() -> None:
    image = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert upscale_image(image, 2.0).shape == (60, 80, 3)
    assert upscale_image(image, 1.5, "cubic").shape == (45, 60, 3)
    assert np.array_equal(upscale_image(image, 1.0), image)
    smooth = cv2.GaussianBlur(image, (0, 0), 3)
    back = cv2.resize(upscale_image(smooth, 2.0), (40, 30), interpolation=cv2.INTER_AREA)
    assert peak_signal_noise_ratio(smooth, back) > 35
    with pytest.raises(FaceKitError):
        upscale_image(image, 0.5)
    with pytest.raises(FaceKitError):
        upscale_image(image, 2.0, "magic")
