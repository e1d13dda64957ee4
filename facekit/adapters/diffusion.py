"""DifFace-style diffusion refinement: a numpy DDIM sampler around one ONNX session.

DifFace (Yue & Loy, "DifFace: Blind Face Restoration with Diffused Error
Contraction") refines a restorer's estimate of an FFHQ-aligned face: the
estimate x_hat (RGB scaled to [-1, 1]) is diffused to an intermediate step and
a pretrained face diffusion model denoises it back to step 0. Starting part
way keeps the result close to the estimate; the model removes what the
restorer got wrong.

Schedule and sampler (as published):

- linear betas from 1e-4 to 0.02 over 1000 training steps;
- respaced to `steps` evenly spaced training timesteps (250 by default:
  0, 4, ..., 996); the network is always fed the ORIGINAL timestep;
- start `N` (100 by default) means N network calls: x_hat is diffused to
  respaced index N-1, x = sqrt(abar) * x_hat + sqrt(1 - abar) * z, and DDIM
  runs indices N-1 .. 0. (With 250 steps and N = 100 that is training step
  396, abar 0.200; the DifFace notes quote step 400, abar 0.194 - one respaced
  step apart, which is the same choice counted from 1.) `start = 0` returns
  the input unchanged;
- DDIM step with abar_prev = 1 after the last index:
  x0 = clip((x - sqrt(1 - abar) * eps) / sqrt(abar), -1, 1);
  sigma = eta * sqrt((1 - abar_prev) / (1 - abar)) * sqrt(1 - abar / abar_prev);
  x = sqrt(abar_prev) * x0 + sqrt(1 - abar_prev - sigma^2) * eps + sigma * z
  (no noise on the last step). The noise comes from a seeded generator, so a
  run is reproducible.

The network: any ONNX file with inputs x [B,3,H,W] (float32) and t [B]
(float32 training timesteps) whose first output's channels 0-2 are the
predicted noise eps (improved-diffusion models output 6 channels: eps and the
learned variance, which DDIM does not use).

Getting a model: no public ONNX file of such a model exists, so FaceKit has no
manifest entry to download and no `diffusion` model is used unless you give
one with `--diffusion-file PATH` (library: `RestoreOptions(diffusion_file=...)`,
or `engine.adapter_for_file(PATH, "diffusion")`). The model DifFace uses is
an improved-diffusion UNetModel trained on FFHQ, published as a PyTorch
checkpoint with DifFace's code (github.com/zsyOAOA/DifFace; the 512 variant has
about 160M parameters, about 610 MB in fp32; licence NTU S-Lab 1.0,
non-commercial; check the repository for the current download links). FaceKit
ships no export script because none could be run and checked here. To export
it yourself, build the UNet with DifFace's own code and config, load the
checkpoint, and call
``torch.onnx.export(unet, (x, t), "difface_ffhq512.onnx", input_names=["x", "t"],
output_names=["out"], dynamic_axes={"x": {0: "batch"}, "t": {0: "batch"}, "out": {0: "batch"}})``
with x = torch.zeros(1, 3, 512, 512) and t = torch.zeros(1) (float32; the
UNet's timestep embedding accepts floats). The model costs about 190 GMAC per
call, so 100 calls are a GPU job; fewer steps (e.g. `--steps 50 --start 20`)
are faster, and their quality has to be judged, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.registry import AdapterSpec, PerChannel, mean_std
from facekit.errors import FaceKitError

TRAIN_STEPS = 1000
BETA_START = 1e-4
BETA_END = 0.02
DEFAULT_STEPS = 250
DEFAULT_START = 100
DEFAULT_ETA = 0.5

#: progress(fraction 0..1, message), called once per network call
StepProgress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    """A StepProgress that ignores updates."""


class SessionLike(Protocol):
    """What the sampler needs from an ONNX Runtime session (tests may pass a fake)."""

    def get_inputs(self) -> list[Any]: ...

    def get_outputs(self) -> list[Any]: ...

    def run(self, output_names: list[str] | None, input_feed: dict[str, np.ndarray]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class DiffusionSchedule:
    """A linear-beta schedule respaced to `len(timesteps)` steps."""

    timesteps: np.ndarray  # original training timestep of each respaced index, ascending
    alphas_cumprod: np.ndarray  # abar at each respaced index (float64)

    @classmethod
    def linear(
        cls, steps: int = DEFAULT_STEPS, train_steps: int = TRAIN_STEPS, beta_start: float = BETA_START, beta_end: float = BETA_END
    ) -> DiffusionSchedule:
        if not 1 <= steps <= train_steps:
            raise FaceKitError(f"Diffusion steps must be within 1..{train_steps}, got {steps}.", "Use e.g. --steps 250.")
        betas = np.linspace(beta_start, beta_end, train_steps, dtype=np.float64)
        alphas_cumprod = np.cumprod(1.0 - betas)
        timesteps = np.floor(np.arange(steps) * train_steps / steps).astype(np.int64)
        return cls(timesteps=timesteps, alphas_cumprod=alphas_cumprod[timesteps])

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def diffuse(self, x0: np.ndarray, index: int, noise: np.ndarray) -> np.ndarray:
        """x0 noised to respaced `index`: sqrt(abar) x0 + sqrt(1 - abar) noise."""
        abar = self.alphas_cumprod[index]
        return np.sqrt(abar) * x0 + np.sqrt(1.0 - abar) * noise

    def ddim_step(self, x: np.ndarray, eps: np.ndarray, index: int, eta: float, noise: np.ndarray | None) -> np.ndarray:
        """One DDIM update from respaced `index` to `index - 1` (to the clean image after index 0)."""
        abar = self.alphas_cumprod[index]
        abar_prev = self.alphas_cumprod[index - 1] if index > 0 else 1.0
        x0 = np.clip((x - np.sqrt(1.0 - abar) * eps) / np.sqrt(abar), -1.0, 1.0)
        sigma = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar)) * np.sqrt(1.0 - abar / abar_prev)
        direction = np.sqrt(max(1.0 - abar_prev - sigma**2, 0.0)) * eps
        result = np.sqrt(abar_prev) * x0 + direction
        if index > 0 and sigma > 0 and noise is not None:
            result = result + sigma * noise
        return result


EpsFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


def ddim_refine(
    eps_model: EpsFunction,
    x_hat: np.ndarray,
    schedule: DiffusionSchedule,
    start: int = DEFAULT_START,
    eta: float = DEFAULT_ETA,
    seed: int = 0,
    progress: StepProgress = _no_progress,
) -> np.ndarray:
    """Diffuse `x_hat` ([B,3,H,W] in [-1, 1]) to respaced index start-1 and run DDIM down to 0.

    `eps_model(x, t)` gets float32 x and float32 original timesteps t [B] and
    returns eps shaped like x. `start = 0` returns `x_hat` unchanged.
    """
    if not 0 <= start <= schedule.steps:
        raise FaceKitError(f"Diffusion start step {start} is outside 0..{schedule.steps}.", "Use a start at most the step count.")
    if not 0.0 <= eta <= 1.0:
        raise FaceKitError(f"eta {eta} is outside 0..1.", "Use 0 (deterministic DDIM) to 1 (DDPM-like).")
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if start == 0:
        return x_hat.copy()
    rng = np.random.default_rng(seed)
    x = schedule.diffuse(x_hat, start - 1, rng.standard_normal(x_hat.shape))
    batch = x_hat.shape[0]
    for done, index in enumerate(range(start - 1, -1, -1)):
        t = np.full((batch,), float(schedule.timesteps[index]), dtype=np.float32)
        eps = np.asarray(eps_model(x.astype(np.float32), t), dtype=np.float64)
        noise = rng.standard_normal(x.shape) if index > 0 and eta > 0 else None
        x = schedule.ddim_step(x, eps, index, eta, noise)
        progress((done + 1) / start, f"diffusion step {done + 1}/{start}")
    return x


class EpsModel:
    """An ONNX session (x [B,3,H,W], t [B]) -> eps = channels 0-2 of its first output."""

    def __init__(
        self, session: SessionLike, name: str, input_names: tuple[str, ...] | None = None, output_names: tuple[str, ...] | None = None
    ) -> None:
        self._session = session
        self._label = name
        self.x_name, self.t_name, self.size = self._check_inputs(input_names)
        self.output_name = self._check_output(output_names)

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        output = self._session.run([self.output_name], {self.x_name: x.astype(np.float32), self.t_name: t.astype(np.float32)})[0]
        return output[:, :3]

    def _check_inputs(self, names: tuple[str, ...] | None) -> tuple[str, str, tuple[int, int] | None]:
        inputs = list(self._session.get_inputs())
        wanted = "inputs x[B,3,H,W] and t[B] (float timesteps)"
        images = [arg for arg in inputs if len(arg.shape) == 4]
        steps = [arg for arg in inputs if len(arg.shape) == 1]
        if len(inputs) != 2 or len(images) != 1 or len(steps) != 1:
            raise checks.mismatch(self._session, self._label, wanted)
        image, step = images[0], steps[0]
        if names and (image.name, step.name) != tuple(names[:2]):
            raise checks.mismatch(self._session, self._label, f"inputs named {', '.join(names[:2])}")
        if checks.is_fixed(image.shape[1]) and image.shape[1] != 3:
            raise checks.mismatch(self._session, self._label, wanted)
        height, width = image.shape[2], image.shape[3]
        size = (height, width) if checks.is_fixed(height) and checks.is_fixed(width) else None
        return image.name, step.name, size

    def _check_output(self, names: tuple[str, ...] | None) -> str:
        outputs = list(self._session.get_outputs())
        chosen = next((arg for arg in outputs if arg.name == names[0]), None) if names else (outputs[0] if outputs else None)
        channels = chosen.shape[1] if chosen is not None and len(chosen.shape) == 4 else 0
        if chosen is None or len(chosen.shape) != 4 or (checks.is_fixed(channels) and channels < 3):
            raise checks.mismatch(self._session, self._label, "an output [B,C>=3,H,W] whose channels 0-2 are eps")
        return chosen.name


class DiffusionRefiner:
    """Refines a restored face crop (uint8 BGR) with DDIM around one cached model."""

    def __init__(
        self, model: EpsModel, colour: str = "rgb", mean: PerChannel = 127.5, std: PerChannel = 127.5, name: str = "diffusion"
    ) -> None:
        self.model = model
        self.name = name
        self._colour = colour
        self._mean = np.asarray(mean, dtype=np.float64)
        self._std = np.asarray(std, dtype=np.float64)

    def refine(
        self,
        crop_bgr: np.ndarray,
        start: int = DEFAULT_START,
        steps: int = DEFAULT_STEPS,
        eta: float = DEFAULT_ETA,
        seed: int = 0,
        progress: StepProgress = _no_progress,
    ) -> np.ndarray:
        """The crop diffused to `start` (of `steps` respaced steps) and denoised back; same shape and dtype."""
        pixels.check_bgr(crop_bgr)
        height, width = crop_bgr.shape[:2]
        model_height, model_width = self.model.size or (height, width)
        fitted = pixels.fit(crop_bgr, model_width, model_height)
        x_hat = self._encode(fitted)
        x0 = ddim_refine(self.model, x_hat, DiffusionSchedule.linear(steps), start=start, eta=eta, seed=seed, progress=progress)
        return pixels.fit(self._decode(x0), width, height)

    def _encode(self, crop_bgr: np.ndarray) -> np.ndarray:
        return pixels.to_blob(crop_bgr, self._colour, self._mean, self._std, dtype=np.float64)

    def _decode(self, x: np.ndarray) -> np.ndarray:
        return pixels.from_blob(x, self._colour, self._mean, self._std, dtype=np.float64)


def build_diffusion(spec: AdapterSpec) -> DiffusionRefiner:
    mean, std = mean_std(spec.input, 127.5, 127.5)
    named = (spec.io.input_name("image"), spec.io.input_name("timestep"))
    inputs = (named[0], named[1]) if named[0] and named[1] else None
    output = spec.io.output_name("noise")
    model = EpsModel(spec.open_session(), spec.model_id, inputs, (output,) if output else None)
    return DiffusionRefiner(model, colour=spec.input.colour or "rgb", mean=mean, std=std, name=spec.model_id)
