"""Image-quality measurements: controlled degradations and PSNR/SSIM over face regions.

Used by the restoration tests and benchmark to show, with numbers, that a
restorer improves a face it did not see clean.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from facekit.face.types import Face

DEGRADATIONS = ("blur", "noise", "jpeg", "down4")


def degrade(image: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Gaussian blur σ2, Gaussian noise σ15, JPEG q=20, or x4 down then bicubic up."""
    if kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), 2.0)
    if kind == "noise":
        noisy = image + np.random.default_rng(seed).normal(0.0, 15.0, image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_COLOR)
    if kind == "down4":
        height, width = image.shape[:2]
        small = cv2.resize(image, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    raise ValueError(f"unknown degradation {kind!r}; known: {', '.join(DEGRADATIONS)}")


def face_box_metrics(reference: np.ndarray, image: np.ndarray, faces: list[Face]) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of `image` against `reference` over the faces' boxes."""
    scores = []
    for face in faces:
        x1, y1, x2, y2 = (int(v) for v in face.box)
        a, b = reference[y1:y2, x1:x2], image[y1:y2, x1:x2]
        scores.append((peak_signal_noise_ratio(a, b), structural_similarity(a, b, channel_axis=2)))
    psnr, ssim = np.mean(scores, axis=0)
    return float(psnr), float(ssim)
