"""The built-in `classic` restorer measurably improves degraded faces.

Measured on t1.jpg's six faces (face boxes, against the clean photo; default
blend 0.8; `python -m bench.bench_restore --quality` prints the same table):

    degradation         degraded PSNR/SSIM   pass-through model   classic
    blur (sigma 2)      28.50 / 0.8811       28.42 / 0.8795       30.10 / 0.9053
    noise (sigma 15)    24.69 / 0.5522       26.32 / 0.6200       32.13 / 0.8851
    JPEG quality 20     31.08 / 0.8857       31.26 / 0.8906       31.74 / 0.9064
    down x4, cubic up   29.52 / 0.8948       29.45 / 0.8938       29.93 / 0.8980

("pass-through model": an identity ONNX restorer through the same warp and
paste, which alone smooths noise a little.)

The margins asserted below are about 60% of those gains (the SSIM gain for
down x4 is small: +0.0032, asserted > 0.0015), and classic must also beat
the pass-through model.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from facekit.adapters.classic import ClassicRestorer, estimate_noise_sigma, upscale_image
from facekit.analysis import FaceAnalyser
from facekit.errors import FaceKitError
from facekit.face.types import Face
from facekit.metrics import degrade, face_box_metrics
from facekit.processors.restore import RestoreOptions, restore_faces, restore_image
from standins import gfpgan_identity

# degradation: (PSNR gain, SSIM gain, PSNR gain over the pass-through) the restorer must at least reach
MARGINS = {
    "blur": (1.0, 0.015, 1.0),
    "noise": (4.5, 0.2, 3.0),
    "jpeg": (0.4, 0.012, 0.3),
    "down4": (0.25, 0.0015, 0.25),
}






@pytest.fixture(scope="module")
def faces(engine, t1) -> list[Face]:
    return FaceAnalyser(engine).analyze(t1).faces  # found on the clean photo, so every degradation is scored on the same faces


@pytest.fixture(scope="module")
def pass_through(tmp_path_factory) -> Path:
    return gfpgan_identity(tmp_path_factory.mktemp("standin") / "pass_through.onnx")


@pytest.mark.parametrize("kind", list(MARGINS))
def test_classic_improves_degraded_faces(engine, t1, faces, pass_through, kind: str) -> None:
    degraded = degrade(t1, kind)
    restored, _, models = restore_faces(engine, degraded, faces, RestoreOptions(model="classic", identity=False))
    copied, _, _ = restore_faces(engine, degraded, faces, RestoreOptions(model_file=pass_through, identity=False))
    assert models == {"restorer": "classic"}
    before_psnr, before_ssim = face_box_metrics(t1, degraded, faces)
    after_psnr, after_ssim = face_box_metrics(t1, restored, faces)
    copied_psnr, _ = face_box_metrics(t1, copied, faces)
    psnr_margin, ssim_margin, over_copy = MARGINS[kind]
    assert after_psnr - before_psnr > psnr_margin, (before_psnr, after_psnr)
    assert after_ssim - before_ssim > ssim_margin, (before_ssim, after_ssim)
    assert after_psnr - copied_psnr > over_copy, (copied_psnr, after_psnr)


def test_classic_on_the_clean_photo_keeps_size_and_identity(engine, t1) -> None:
    result = restore_image(engine, t1, RestoreOptions())  # classic is the embedded default
    assert result.models["restorer"] == "classic"
    assert result.image.shape == t1.shape and result.image.dtype == np.uint8
    assert len(result.faces) == 6 and peak_signal_noise_ratio(t1, result.image) > 40.0
    assert all(face["same_person"] and face["identity_similarity"] < 0.25 for face in result.faces)


def test_classic_measures_what_it_does(t1, faces) -> None:
    from facekit.face.align import warp

    restorer = ClassicRestorer()
    clean = warp(t1, faces[0].landmarks_5, "ffhq_512", 512)[0]
    for kind, denoised, sharpened in (("noise", True, False), ("blur", False, True), ("jpeg", False, False)):
        crop = warp(degrade(t1, kind), faces[0].landmarks_5, "ffhq_512", 512)[0]
        restored, measured = restorer.restore_with_measurements(crop)
        assert restored.shape == crop.shape and restored.dtype == np.uint8
        assert (measured.denoise_strength > 0.9) is denoised and (measured.denoise_strength == 0.0) is not denoised
        assert (max(measured.band_gains) > 1.5) is sharpened
    assert estimate_noise_sigma(warp(degrade(t1, "noise"), faces[0].landmarks_5, "ffhq_512", 512)[0]) > 2 * estimate_noise_sigma(clean)


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
