"""The built-in `classic` restorer (no weights) and the whole-image upscaler.

The restore job uses `ClassicRestorer.restore_region`: each face measured and
repaired in the photo's own pixels, only as much as it needs
(:mod:`facekit.adapters.classic_region`). The aligned-crop pipeline below
serves callers that only have a crop (frontalize's `--refine classic`, and
the restore job when diffusion refinement follows).

The restorer works on one aligned face crop (FFHQ template, 512 px by
default) in four steps, each driven by what it measures in the crop:

1. **Noise** - the noise level is estimated (Immerkaer's fast Laplacian
   estimator) on a copy at a quarter of the crop's size: faces in ordinary
   photos are upsampled about 3-4x into the crop, so at that scale their noise
   is close to white and the estimate is meaningful. Above a floor, non-local
   means runs at that scale with a filter strength equal to the estimate; the
   finer band (crop minus its quarter-size copy) is put back, attenuated as
   the estimated noise grows. A clean crop skips this step.
2. **Colour (JPEG chroma blocks)** - Cr and Cb are filtered by a guided filter
   whose guide is the luminance: chroma keeps the edges that luminance has
   (lips, eyes) and loses the blocky 16x16 steps that JPEG's subsampled,
   coarsely quantised chroma leaves. Faces carry little chroma detail, so this
   costs a clean face little.
3. **Luminance de-ringing** - a small self-guided filter flattens the
   low-amplitude ripples of JPEG ringing and the residue of denoising while
   keeping edges.
4. **Detail and local contrast** - luminance is split into octave bands
   (difference of Gaussians at 1, 2, 4, 8 and 16 px of a 512 crop). In sharp
   faces each band carries a steady fraction of the next coarser band's
   energy (measured on t1.jpg's six faces, skimage's astronaut and the aligned
   Tom Hanks photo: 0.55-0.60, 0.44-0.51, 0.57-0.63, 0.66-0.69 from fine to
   coarse); blur and upsampling lower those fractions. Each band, coarse to
   fine, is amplified just enough to bring its fraction back to a
   conservative target (at most 3x), using the energies of the input crop
   (so noise, which inflates fine bands, is never amplified). The coarsest
   band and the base are untouched: no global tone or exposure change.

Measured on t1.jpg's six face boxes against the clean photo (default blend
0.8; `python -m bench.bench_restore --quality`), PSNR dB / SSIM degraded ->
restored: Gaussian blur sigma 2: 28.50/0.881 -> 30.10/0.905; Gaussian noise
sigma 15: 24.69/0.552 -> 32.13/0.885; JPEG quality 20: 31.08/0.886 ->
31.74/0.906; x4 down-and-up scale: 29.52/0.895 -> 29.93/0.898 (the settings
were tuned on these faces; skimage's astronaut face, not used for tuning,
gains on all four too). On the clean t1.jpg the face boxes stay at 44 dB
(astronaut's larger, sharper face: 38 dB).

Every size in this module is relative to the crop size, so other crop
sizes work the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facekit.adapters import pixels
from facekit.adapters.classic_region import WindowMask, restore_region
from facekit.adapters.registry import AdapterSpec, square_size
from facekit.errors import FaceKitError

DEFAULT_TEMPLATE = "ffhq_512"
DEFAULT_SIZE = 512
_REFERENCE_SIZE = 512.0  # the crop size the pixel settings below are written for
_IMMERKAER_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
UPSCALE_METHODS: dict[str, int] = {
    "lanczos": cv2.INTER_LANCZOS4,
    "cubic": cv2.INTER_CUBIC,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
}
MAX_UPSCALE = 8.0


@dataclass(frozen=True)
class ClassicSettings:
    """Tuning of the classic pipeline; pixel values are for a 512 crop and scale with it."""

    analysis_fraction: float = 0.25  # denoising scale, as a fraction of the crop size
    noise_floor: float = 1.5  # estimated sigma (0..255) below which nothing is denoised
    noise_ramp: float = 1.0  # sigma range over which denoising fades in fully
    nlm_template: int = 5
    nlm_search: int = 15
    nlm_chroma_ratio: float = 1.5  # NLM colour strength relative to luminance
    fine_band_cut: float = 0.7  # share of the fine band dropped at full noise
    chroma_radius: float = 6.0
    chroma_eps: float = 25.0
    luma_radius: float = 2.0
    luma_eps: float = 9.0
    band_sigmas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    band_ratios: tuple[float, ...] = (0.525, 0.44, 0.58, 0.65)  # band k / band k+1 wanted, fine to coarse
    max_band_gain: float = 3.0
    face_region: tuple[float, float, float, float] = (0.25, 0.875, 0.22, 0.78)  # top, bottom, left, right


@dataclass(frozen=True)
class ClassicMeasurements:
    """What the pipeline measured on a crop and what it did about it."""

    noise_sigma: float
    denoise_strength: float  # 0 = skipped, 1 = full
    band_gains: tuple[float, ...]


class ClassicRestorer:
    """Denoise, chroma clean-up, de-ringing and band-wise detail recovery on an aligned face."""

    takes_fidelity = False

    def __init__(self, template: str = DEFAULT_TEMPLATE, size: int = DEFAULT_SIZE, settings: ClassicSettings = ClassicSettings()) -> None:
        self.template = template
        self.size = size
        self.name = "classic"
        self._settings = settings

    def restore_region(
        self, image_bgr: np.ndarray, box: np.ndarray, strength: float, window_mask: WindowMask | None = None
    ) -> tuple[np.ndarray, dict[str, object]]:
        """The photo with the face in `box` repaired in place, only as much as it needs (see classic_region)."""
        result, damage = restore_region(image_bgr, box, strength, window_mask)
        return result, damage.as_dict()

    def restore(self, crop_bgr: np.ndarray, fidelity: float = 0.5) -> np.ndarray:
        """The restored crop (same shape and dtype); `fidelity` is not used by this pipeline."""
        return self.restore_with_measurements(crop_bgr)[0]

    def restore_with_measurements(self, crop_bgr: np.ndarray) -> tuple[np.ndarray, ClassicMeasurements]:
        _check_crop(crop_bgr)
        settings = self._settings
        scale = crop_bgr.shape[1] / _REFERENCE_SIZE
        sigma = estimate_noise_sigma(crop_bgr, settings.analysis_fraction)
        strength = float(np.clip((sigma - settings.noise_floor) / settings.noise_ramp, 0.0, 1.0))
        denoised = denoise(crop_bgr, sigma, strength, settings) if strength > 0 else crop_bgr.astype(np.float32)
        ycc = cv2.cvtColor(np.clip(np.rint(denoised), 0, 255).astype(np.uint8), cv2.COLOR_BGR2YCrCb).astype(np.float32)
        luma = ycc[..., 0]
        chroma_radius = max(1, round(settings.chroma_radius * scale))
        for channel in (1, 2):
            ycc[..., channel] = guided_filter(luma, ycc[..., channel], chroma_radius, settings.chroma_eps)
        luma = guided_filter(luma, luma, max(1, round(settings.luma_radius * scale)), settings.luma_eps)
        input_luma = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.float32)
        gains = band_gains(input_luma, settings, scale)
        ycc[..., 0] = apply_band_gains(luma, gains, settings, scale)
        restored = cv2.cvtColor(np.clip(np.rint(ycc), 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2BGR)
        return restored, ClassicMeasurements(noise_sigma=sigma, denoise_strength=strength, band_gains=gains)


def _check_crop(crop_bgr: np.ndarray) -> None:
    pixels.check_bgr(crop_bgr)
    if min(crop_bgr.shape[:2]) < 32:
        raise ValueError(f"the crop is too small for the classic restorer: {crop_bgr.shape[1]}x{crop_bgr.shape[0]} (at least 32x32)")


def _analysis_size(crop: np.ndarray, fraction: float) -> tuple[int, int]:
    return max(16, round(crop.shape[1] * fraction)), max(16, round(crop.shape[0] * fraction))


def estimate_noise_sigma(crop_bgr: np.ndarray, fraction: float = 0.25) -> float:
    """Immerkaer's noise estimate (0..255 units) of the luminance at `fraction` of the crop's size."""
    small = pixels.fit(crop_bgr, *_analysis_size(crop_bgr, fraction))
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    response = cv2.filter2D(grey, -1, _IMMERKAER_KERNEL)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2.0) * np.abs(response).mean() / 6.0)


def denoise(crop_bgr: np.ndarray, sigma: float, strength: float, settings: ClassicSettings) -> np.ndarray:
    """Non-local means at the analysis scale, plus the finer band attenuated by `strength` (float32 result)."""
    height, width = crop_bgr.shape[:2]
    small = pixels.fit(crop_bgr, *_analysis_size(crop_bgr, settings.analysis_fraction))
    h = sigma * strength
    cleaned = cv2.fastNlMeansDenoisingColored(small, None, h, h * settings.nlm_chroma_ratio, settings.nlm_template, settings.nlm_search)
    base = pixels.fit(small.astype(np.float32), width, height)
    fine = crop_bgr.astype(np.float32) - base
    keep = 1.0 - settings.fine_band_cut * strength
    return pixels.fit(cleaned.astype(np.float32), width, height) + keep * fine


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (box windows of 2*radius+1), float32 in and out."""
    window = (2 * radius + 1, 2 * radius + 1)
    mean_guide = cv2.boxFilter(guide, -1, window)
    mean_source = cv2.boxFilter(source, -1, window)
    covariance = cv2.boxFilter(guide * source, -1, window) - mean_guide * mean_source
    variance = cv2.boxFilter(guide * guide, -1, window) - mean_guide * mean_guide
    slope = covariance / (variance + eps)
    offset = mean_source - slope * mean_guide
    return cv2.boxFilter(slope, -1, window) * guide + cv2.boxFilter(offset, -1, window)


def luminance_bands(luma: np.ndarray, sigmas: tuple[float, ...]) -> tuple[list[np.ndarray], np.ndarray]:
    """Difference-of-Gaussian bands, finest first, and the remaining low-pass base."""
    bands: list[np.ndarray] = []
    previous = luma
    for sigma in sigmas:
        blurred = cv2.GaussianBlur(luma, (0, 0), sigma)
        bands.append(previous - blurred)
        previous = blurred
    return bands, previous


def _face_region(shape: tuple[int, ...], region: tuple[float, float, float, float]) -> tuple[slice, slice]:
    height, width = shape[:2]
    top, bottom, left, right = region
    return slice(round(top * height), round(bottom * height)), slice(round(left * width), round(right * width))


def band_gains(luma: np.ndarray, settings: ClassicSettings, scale: float = 1.0) -> tuple[float, ...]:
    """Per-band gains (finest first) that restore each band's energy fraction of the next coarser band."""
    bands, _ = luminance_bands(luma, tuple(s * scale for s in settings.band_sigmas))
    region = _face_region(luma.shape, settings.face_region)
    energy = [float(np.sqrt(np.mean(band[region] ** 2))) for band in bands]
    gains = [1.0] * len(bands)
    wanted_coarser = energy[-1]
    for k in range(len(bands) - 2, -1, -1):
        target = settings.band_ratios[k] * wanted_coarser
        gains[k] = float(np.clip(target / max(energy[k], 1e-3), 1.0, settings.max_band_gain))
        wanted_coarser = energy[k] * gains[k]
    return tuple(gains)


def apply_band_gains(luma: np.ndarray, gains: tuple[float, ...], settings: ClassicSettings, scale: float = 1.0) -> np.ndarray:
    bands, base = luminance_bands(luma, tuple(s * scale for s in settings.band_sigmas))
    result = base.copy()
    for gain, band in zip(gains, bands, strict=True):
        result += np.float32(gain) * band
    return result


def upscale_image(image_bgr: np.ndarray, factor: float, method: str = "lanczos") -> np.ndarray:
    """The whole image scaled by `factor` (1..8) with Lanczos (default), cubic, linear or nearest."""
    if method not in UPSCALE_METHODS:
        raise FaceKitError(f"Unknown upscale method {method!r}.", f"Use one of: {', '.join(UPSCALE_METHODS)}.")
    if not 1.0 <= factor <= MAX_UPSCALE:
        raise FaceKitError(f"Upscale factor {factor} is outside 1..{MAX_UPSCALE:g}.", "Use a factor such as 2.")
    if factor == 1.0:
        return image_bgr.copy()
    height, width = image_bgr.shape[:2]
    size = (round(width * factor), round(height * factor))
    return cv2.resize(image_bgr, size, interpolation=UPSCALE_METHODS[method])


def build_classic(spec: AdapterSpec) -> ClassicRestorer:
    return ClassicRestorer(template=spec.input.template or DEFAULT_TEMPLATE, size=square_size(spec.input, DEFAULT_SIZE))
