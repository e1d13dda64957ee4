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
MAX_PSNR = 100.0  # dB reported for identical regions

#: The restore quality suite: name -> steps applied in order ((kind, amount); see `apply_steps`).
Step = tuple[str, float]
SUITE: dict[str, tuple[Step, ...]] = {
    **{f"blur{s}": (("blur", s),) for s in (1, 2, 3)},
    **{f"noise{s}": (("noise", s),) for s in (5, 15, 25)},
    **{f"jpeg{q}": (("jpeg", q),) for q in (10, 20, 40)},
    **{f"down{f}": (("down", f),) for f in (2, 4, 8)},
    "mix:down4+jpeg20": (("down", 4), ("jpeg", 20)),
    "mix:blur2+noise10": (("blur", 2), ("noise", 10)),
    "mix:noise10+jpeg30": (("noise", 10), ("jpeg", 30)),
    "mix:down2+noise5+jpeg40": (("down", 2), ("noise", 5), ("jpeg", 40)),
    "mix:blur1.5+jpeg30": (("blur", 1.5), ("jpeg", 30)),
}


def apply_steps(image: np.ndarray, steps: tuple[Step, ...], seed: int = 0) -> np.ndarray:
    """Gaussian blur (sigma), Gaussian noise (sigma), JPEG (quality) or down-by-f-then-bicubic-up, in order."""
    out = image
    for kind, amount in steps:
        if kind == "blur":
            out = cv2.GaussianBlur(out, (0, 0), float(amount))
        elif kind == "noise":
            out = np.clip(out + np.random.default_rng(seed).normal(0.0, float(amount), out.shape), 0, 255).astype(np.uint8)
        elif kind == "jpeg":
            out = jpeg_round_trip(out, int(amount))
        elif kind == "down":
            height, width = out.shape[:2]
            small = cv2.resize(out, (width // int(amount), height // int(amount)), interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        else:
            raise ValueError(f"unknown degradation step {kind!r}")
    return out


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """The image encoded as JPEG at `quality` and decoded again."""
    decoded = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("OpenCV could not decode its own JPEG")
    return np.asarray(decoded)


def degrade(image: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Gaussian blur σ2, Gaussian noise σ15, JPEG q=20, or x4 down then bicubic up."""
    if kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), 2.0)
    if kind == "noise":
        noisy = image + np.random.default_rng(seed).normal(0.0, 15.0, image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        return jpeg_round_trip(image, 20)
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
        identical = np.array_equal(a, b)  # PSNR is infinite: reported as MAX_PSNR
        psnr = MAX_PSNR if identical else min(peak_signal_noise_ratio(a, b), MAX_PSNR)
        scores.append((psnr, structural_similarity(a, b, channel_axis=2)))
    psnr, ssim = np.mean(scores, axis=0)
    return float(psnr), float(ssim)


def seam_energy(
    original: np.ndarray, result: np.ndarray, weight: np.ndarray, low: float = 0.05, high: float = 0.95, total: bool = False
) -> float:
    """Gradient energy of the change a paste made, along its mask border: mean |grad (result - original)|^2 (summed
    over colour channels) over the band where the image-space paste weight is between `low` and `high`.

    The original's own edges cancel; what is left is the step the blend
    draws (mask slope x how different the pasted pixels are) plus the
    resampling of the crop. Lower is a less visible seam; 0 = no change.
    With `total` the band's sum (a longer or wider border counts more) instead of its mean.
    """
    band = (weight > low) & (weight < high)
    if not band.any():
        return 0.0
    change = result.astype(np.float32) - original.astype(np.float32)
    energy = cv2.Sobel(change, cv2.CV_32F, 1, 0, ksize=3) ** 2 + cv2.Sobel(change, cv2.CV_32F, 0, 1, ksize=3) ** 2
    values = energy.sum(axis=2)[band]
    return float(values.sum() if total else values.mean())


def face_regions(shape: tuple[int, ...], faces: list[Face], lift: float = 0.3, grow: float = 0.1) -> np.ndarray:
    """bool HxW: each face's 68-point hull with the brows raised `lift` x chin-to-brow (the forehead), grown by `grow` x its width."""
    region = np.zeros(shape[:2], dtype=np.uint8)
    for face in faces:
        if face.landmarks_68 is None:
            continue
        points = np.asarray(face.landmarks_68, dtype=np.float32).copy()
        points[17:27] += lift * (points[17:27].mean(axis=0) - points[8])
        hull = np.zeros_like(region)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.rint(points).astype(np.int32)), 1)
        radius = max(1, int(grow * float(np.ptp(points[:17, 0]))))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        region |= np.asarray(cv2.dilate(hull, kernel), dtype=region.dtype)
    return region > 0


def outside_psnr(original: np.ndarray, result: np.ndarray, where: np.ndarray) -> float:
    """PSNR (dB, MAX_PSNR when identical) of `result` against `original` over the pixels `where` is True."""
    a, b = original[where], result[where]
    if a.size == 0 or np.array_equal(a, b):
        return MAX_PSNR
    return float(min(peak_signal_noise_ratio(a, b, data_range=255), MAX_PSNR))
