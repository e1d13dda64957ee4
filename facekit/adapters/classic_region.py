"""The `classic` restorer's image-space path: measure each face's damage at its own resolution, repair only that.

A face is worked on in its own pixels (no warp, no resampling), in a window
around its box whose corner sits on the image's 8-pixel grid, so JPEG's
blocks line up with the analysis. Four measurements, each on that window:

- **JPEG blocking**: the quantisation step of the lowest AC coefficient of
  the luminance's 8x8 DCT on that grid (decoded JPEG coefficients sit on
  multiples of the step; the largest step whose multiples they fit is kept).
  t1.jpg itself (a good JPEG) measures 7; re-saved at quality 40: 14, 20: 31.
- **Noise**: per YCrCb channel, Immerkaer's Laplacian estimator over the
  quietest 10% of the window (local means), calibrated on Gaussian noise
  (the quietest tenth reads 0.52 x sigma).
- **Blur** (and upscaled low resolution): the strongest edges' gradient
  kept after a known extra Gaussian blur gives the edge's own width
  (blur sigma = s0 R / sqrt(1 - R^2)); sharp faces read 0.9-1.3 px.

and three repairs, each only above its threshold and as strong as measured:

1. **Deblocking / denoising** - shifted 8x8 DCT hard thresholding
   (coefficients under T dropped; 16 grid shifts averaged), per channel,
   T = 0.7 x the JPEG step or 2 x the noise sigma, whichever is larger.
2. **Deblurring** - a Wiener filter for a Gaussian blur of the measured
   excess width (sqrt(sigma^2 - 1.4^2)), its gain capped at 1.6 and
   tapered where the window's own spectrum is no stronger than the noise,
   so an upscaled face (no real detail beyond its old resolution) is
   sharpened only a little and never rings.

The repaired window is blended into the photo through a soft ellipse around
the face (not a box), so a clean face comes back bit-for-bit and a repaired
one has no edge. Numbers: `python -m bench.bench_restore --quality`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_QUIET_READING = 0.52  # the quietest tenth's Immerkaer reading / true Gaussian sigma (measured)


def _dct_matrix() -> np.ndarray:
    u, x = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    matrix = np.sqrt(2 / 8) * np.cos((2 * x + 1) * u * np.pi / 16)
    matrix[0] /= np.sqrt(2)
    return matrix.astype(np.float32)


DCT8 = _dct_matrix()


@dataclass(frozen=True)
class RegionSettings:
    margin: float = 0.35  # window: the box grown by this fraction of its width per side
    jpeg_min_step: int = 10  # quantisation steps below this are left alone (a good JPEG)
    jpeg_threshold: float = 0.7  # DCT threshold per unit of the JPEG step
    noise_min_sigma: float = 2.5  # estimated sigma (0..255) below which nothing is denoised
    noise_threshold: float = 2.0  # DCT threshold per unit of noise sigma
    chroma_jpeg_boost: float = 1.5  # chroma is quantised more coarsely (and subsampled)
    sharp_sigma: float = 1.4  # edge width of a sharp face (px); only the excess is deblurred
    min_deblur_sigma: float = 0.6  # excess widths below this are left alone
    deblur_gain_cap: float = 1.6
    reblur_sigma: float = 1.5  # the blur estimator's known extra blur
    shifts: int = 4  # DCT grid shifts per axis (step 8 / shifts)


@dataclass(frozen=True)
class Damage:
    """What was measured on one face and what was done about it."""

    jpeg_step: int
    noise_sigma: float
    blur_sigma: float
    deblocked: bool
    denoised: bool
    deblurred: bool

    def as_dict(self) -> dict[str, object]:
        done = [name for name, flag in (("deblock", self.deblocked), ("denoise", self.denoised), ("deblur", self.deblurred)) if flag]
        return {
            "jpeg_step": self.jpeg_step,
            "noise_sigma": round(self.noise_sigma, 2),
            "blur_sigma": round(self.blur_sigma, 2),
            "repairs": done or ["none needed"],
        }


# ------------------------------------------------------------ measurements
def jpeg_step(luma: np.ndarray) -> int:
    """The quantisation step of the (0,1)/(1,0) DCT coefficients on the window's 8-px grid (1 = none found)."""
    coefficients = block_dct(luma - 128.0)
    steps = []
    for u, v in ((0, 1), (1, 0)):
        values = coefficients[..., u, v].ravel()
        step = 1
        for candidate in range(2, 120):
            if np.mean(np.cos(2 * np.pi * values / candidate)) > 0.5:
                step = candidate
        steps.append(step)
    return min(steps)


def noise_sigma(channel: np.ndarray) -> float:
    """Gaussian noise sigma from the quietest tenth of the window (Immerkaer's estimator, calibrated)."""
    response = np.abs(cv2.filter2D(channel, -1, _IMMERKAER))[1:-1, 1:-1]
    local = cv2.blur(response, (7, 7))
    return float(np.sqrt(np.pi / 2) * np.percentile(local, 10) / 6 / _QUIET_READING)


def blur_sigma(luma: np.ndarray, reblur: float = 1.5) -> float:
    """Edge width (Gaussian sigma, px) from how much of the strongest edges' gradient survives a known blur."""

    def gradient(image: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))

    original = gradient(luma)
    strong = original > np.percentile(original, 90)
    kept = float(gradient(cv2.GaussianBlur(luma, (0, 0), reblur))[strong].sum() / max(float(original[strong].sum()), 1e-6))
    kept = min(kept, 0.999)
    return reblur * kept / np.sqrt(1 - kept * kept)


# ----------------------------------------------------------------- repairs
def block_dct(channel: np.ndarray) -> np.ndarray:
    """(rows, cols, 8, 8) orthonormal DCT of the channel's whole 8x8 blocks."""
    height, width = channel.shape[0] // 8 * 8, channel.shape[1] // 8 * 8
    blocks = channel[:height, :width].reshape(height // 8, 8, width // 8, 8).transpose(0, 2, 1, 3)
    return DCT8 @ blocks @ DCT8.T


def dct_threshold(channel: np.ndarray, threshold: float, shifts: int = 4) -> np.ndarray:
    """Shifted 8x8 DCT hard thresholding (the DC always kept), averaged over `shifts` x `shifts` grid offsets."""
    padded = np.pad(channel, 8, mode="reflect")
    total = np.zeros_like(padded)
    count = np.zeros_like(padded)
    step = 8 // shifts
    for dy in range(0, 8, step):
        for dx in range(0, 8, step):
            height, width = (padded.shape[0] - dy) // 8 * 8, (padded.shape[1] - dx) // 8 * 8
            coefficients = block_dct(padded[dy:, dx:])
            keep = np.abs(coefficients) >= threshold
            keep[..., 0, 0] = True
            blocks = DCT8.T @ (coefficients * keep) @ DCT8
            total[dy : dy + height, dx : dx + width] += blocks.transpose(0, 2, 1, 3).reshape(height, width)
            count[dy : dy + height, dx : dx + width] += 1
    return (total / np.maximum(count, 1))[8:-8, 8:-8]


def wiener_deblur(luma: np.ndarray, sigma: float, noise_sigma_value: float, gain_cap: float) -> np.ndarray:
    """Undo a Gaussian blur of `sigma` px, the gain tapered by the window's radial spectrum over its noise floor."""
    pad = 16
    padded = np.pad(luma, pad, mode="reflect")
    mean = float(padded.mean())
    height, width = padded.shape
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])
    transfer = np.exp(-2 * np.pi**2 * sigma**2 * radius**2)
    spectrum = np.fft.fft2(padded - mean)
    power = np.abs(spectrum) ** 2
    bins = np.minimum((radius / 0.71 * 64).astype(np.int64), 63)
    radial = np.bincount(bins.ravel(), power.ravel(), 64) / np.maximum(np.bincount(bins.ravel(), None, 64), 1)
    observed = radial[bins]
    noise_power = max(noise_sigma_value**2, 2.0) * height * width
    gain = np.maximum(observed - noise_power, 0) / np.maximum(observed, 1e-9) / np.maximum(transfer, 1e-6)
    restored = np.real(np.fft.ifft2(spectrum * np.clip(gain, 0.0, gain_cap))) + mean
    return restored[pad:-pad, pad:-pad].astype(np.float32)


# ------------------------------------------------------------------ region
def face_window(box: np.ndarray, shape: tuple[int, ...], margin: float) -> tuple[int, int, int, int]:
    """The box grown by `margin` x its width per side, its top-left corner on the 8-px grid, inside the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    pad = margin * max(x2 - x1, y2 - y1)
    left, top = max(0, int((x1 - pad) // 8 * 8)), max(0, int((y1 - pad) // 8 * 8))
    right, bottom = min(shape[1], int(np.ceil(x2 + pad))), min(shape[0], int(np.ceil(y2 + pad)))
    return left, top, right, bottom


def ellipse_weight(box: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """A soft ellipse around the face (covers the box's corners; fades over a tenth of the face width), window pixels."""
    left, top, right, bottom = window
    x1, y1, x2, y2 = (float(v) for v in box)
    centre_x, centre_y = (x1 + x2) / 2 - left, (y1 + y2) / 2 - top
    width = x2 - x1
    xs = (np.arange(right - left, dtype=np.float32)[None, :] - centre_x) / (0.75 * width)
    ys = (np.arange(bottom - top, dtype=np.float32)[:, None] - centre_y) / (0.8 * (y2 - y1))
    distance = np.sqrt(xs**2 + ys**2)
    feather = max(0.1 * width / (0.75 * width), 1e-3)
    return np.clip((1.0 - distance) / feather + 0.5, 0.0, 1.0).astype(np.float32)


def repair_window(window_bgr: np.ndarray, settings: RegionSettings) -> tuple[np.ndarray, Damage]:
    """Measure the window's damage and repair what needs it (float32 BGR result, same shape)."""
    ycc = cv2.cvtColor(window_bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32)
    step = jpeg_step(ycc[..., 0]) if min(ycc.shape[:2]) >= 16 else 1
    sigmas = [noise_sigma(ycc[..., k]) for k in range(3)]
    blocky = step >= settings.jpeg_min_step
    noisy = sigmas[0] >= settings.noise_min_sigma
    for k in range(3):
        jpeg_part = settings.jpeg_threshold * step * (1.0 if k == 0 else settings.chroma_jpeg_boost) if blocky else 0.0
        noise_part = settings.noise_threshold * sigmas[k] if noisy else 0.0
        if max(jpeg_part, noise_part) > 0:
            ycc[..., k] = dct_threshold(ycc[..., k], max(jpeg_part, noise_part), settings.shifts)
    measured_blur = blur_sigma(ycc[..., 0], settings.reblur_sigma)
    excess = float(np.sqrt(max(measured_blur**2 - settings.sharp_sigma**2, 0.0)))
    deblur = excess >= settings.min_deblur_sigma
    if deblur:
        residual_noise = 1.0 if noisy or blocky else 0.0
        ycc[..., 0] = wiener_deblur(ycc[..., 0], excess, max(residual_noise, 1.0), settings.deblur_gain_cap)
    repaired = cv2.cvtColor(np.clip(np.rint(ycc), 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2BGR)
    damage = Damage(step, sigmas[0], measured_blur, blocky, noisy, deblur)
    return repaired, damage


#: window_mask((left, top, right, bottom)) -> float mask 0..1 of the window's size (the job's mask options)
WindowMask = Callable[[tuple[int, int, int, int]], np.ndarray]


def restore_region(
    image_bgr: np.ndarray,
    box: np.ndarray,
    strength: float,
    window_mask: WindowMask | None = None,
    settings: RegionSettings = RegionSettings(),
) -> tuple[np.ndarray, Damage]:
    """The photo with one face repaired in place (only what it needs), blended by `strength` through a soft
    ellipse around the face, times `window_mask` when given."""
    window = face_window(box, image_bgr.shape, settings.margin)
    left, top, right, bottom = window
    original = image_bgr[top:bottom, left:right]
    repaired, damage = repair_window(original, settings)
    result = image_bgr.copy()
    if damage.deblocked or damage.denoised or damage.deblurred:
        weight = ellipse_weight(box, window) * np.float32(strength)
        if window_mask is not None:
            weight = np.minimum(weight, np.asarray(window_mask(window), dtype=np.float32) * np.float32(strength))
        weight = weight[..., None]
        mixed = original.astype(np.float32) + weight * (repaired.astype(np.float32) - original)
        result[top:bottom, left:right] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return result, damage
