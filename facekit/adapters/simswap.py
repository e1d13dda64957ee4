"""The `simswap` family: SimSwap-style swappers (the worked example of adding a family, issue 11).

Conventions (numbers from the manifest entry, code here):

- ``target``: [1,3,S,S] (S = 256 for the SimSwap-256 export), the target face
  warped onto `arcface_112_v1` at S with a bilinear crop (the family table
  says so), RGB, normalised per channel with the ImageNet mean and std in
  0..255 units (123.675, 116.28, 103.53 / 58.395, 57.12, 57.375).
- ``source``: [1,D] identity latent. SimSwap's own converter is not an emap
  projection (inswapper's): the ArcFace vector is L2-normalised and fed as it
  is (:meth:`SimSwapper.source_latent`).
- output: [1,3,S,S] RGB in the same normalised space: pixels = x * std + mean.
- swap weight 0..1 as FaceFusion's `balance_source_embedding` for simswap:
  latent = (1 - alpha) * latent + alpha * unit target embedding.

No public SimSwap ONNX file with a published hash is known here, so the
manifest's `simswap_256_example` entry has no downloadable weights: use
your own export with `--model-file PATH --family simswap`.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.base import DEFAULT_SWAP_WEIGHT, SwapSource, SwapTarget
from facekit.adapters.inswapper import weight_alpha
from facekit.adapters.registry import AdapterSpec, PerChannel, mean_std, square_size
from facekit.errors import FaceKitError
from facekit.face.align import estimate_affine
from facekit.face.identity import l2_normalise
from facekit.face.types import Face

DEFAULT_SIZE = 256
DEFAULT_TEMPLATE = "arcface_112_v1"
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class SimSwapper:
    """A SimSwap-style swapper on a session: aligned crop + normalised ArcFace latent in, swapped crop out."""

    embedding_family = "arcface"
    uses_weight = True
    pixel_boost = False  # not contract-tested on sub-images: swaps at its own size

    def __init__(
        self,
        session: ort.InferenceSession,
        size: int = DEFAULT_SIZE,
        template: str = DEFAULT_TEMPLATE,
        mean: PerChannel = IMAGENET_MEAN,
        std: PerChannel = IMAGENET_STD,
        input_names: tuple[str, str] = ("target", "source"),
        name: str | None = None,
        resampling: str = "bilinear",
    ) -> None:
        self.name = checks.model_label(session, name)
        self.size = size
        self.template = template
        self.resampling = resampling
        self._session = session
        self._mean = np.asarray(mean, dtype=np.float32)
        self._std = np.asarray(std, dtype=np.float32)
        self._target_name, self._source_name = input_names
        self._target_type, self._source_type, self.embedding_size = self._check_inputs(session)
        self._output_name = self._check_output(session)

    def _check_inputs(self, session: ort.InferenceSession) -> tuple[type, type, int | None]:
        inputs = {arg.name: arg for arg in session.get_inputs()}
        wanted = f"inputs {self._target_name}[1,3,{self.size},{self.size}] and {self._source_name}[1,D] (float)"
        target, source = inputs.get(self._target_name), inputs.get(self._source_name)
        if len(inputs) != 2 or target is None or source is None or len(target.shape) != 4 or len(source.shape) != 2:
            raise checks.mismatch(session, self.name, wanted)
        if any(checks.is_fixed(d) and d != w for d, w in zip(target.shape[1:], (3, self.size, self.size), strict=True)):
            raise checks.mismatch(session, self.name, wanted)
        if target.type not in _FLOAT_TYPES or source.type not in _FLOAT_TYPES:
            raise checks.mismatch(session, self.name, wanted)
        width = source.shape[1]
        return _FLOAT_TYPES[target.type], _FLOAT_TYPES[source.type], width if isinstance(width, int) and width > 0 else None

    def _check_output(self, session: ort.InferenceSession) -> str:
        outputs = session.get_outputs()
        shape = outputs[0].shape if len(outputs) == 1 else []
        if len(shape) != 4 or any(checks.is_fixed(d) and d != w for d, w in zip(shape[1:], (3, self.size, self.size), strict=True)):
            raise checks.mismatch(session, self.name, f"one output [1,3,{self.size},{self.size}]")
        return outputs[0].name

    def crop_transform(self, face: Face) -> tuple[np.ndarray, tuple[int, int]]:
        return estimate_affine(face.landmarks_5, self.template, self.size), (self.size, self.size)

    def source_latent(
        self, embedding: np.ndarray, target_embedding: np.ndarray | None = None, weight: float = DEFAULT_SWAP_WEIGHT
    ) -> np.ndarray:
        """SimSwap's converter: the unit ArcFace vector (no emap), balanced with the unit target embedding; [1, D]."""
        latent = l2_normalise(np.ravel(embedding))
        if self.embedding_size is not None and latent.shape[0] != self.embedding_size:
            raise FaceKitError(
                f"{self.name} needs a {self.embedding_size}-d ArcFace embedding, but got {latent.shape[0]} values.",
                "Use an ArcFace model with that many outputs (arcface_w600k_r50: 512).",
            )
        alpha = weight_alpha(weight)
        if alpha != 0.0:
            if target_embedding is None:
                raise ValueError("a swap weight other than 0.5 needs the target face's embedding")
            latent = (1.0 - alpha) * latent + alpha * l2_normalise(np.ravel(target_embedding))
        return latent.reshape(1, -1).astype(np.float32)

    def swap(self, target: SwapTarget, source: SwapSource, weight: float = DEFAULT_SWAP_WEIGHT) -> np.ndarray:
        if source.embedding is None:
            raise ValueError("simswap needs SwapSource.embedding (an ArcFace vector)")
        return self.run(target.crop, self.source_latent(source.embedding, target.embedding, weight))

    def run(self, crop_bgr: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """One forward pass: aligned BGR crop and source latent -> swapped BGR crop (uint8, same shape)."""
        if crop_bgr.shape != (self.size, self.size, 3):
            raise ValueError(f"expected a {self.size}x{self.size} BGR crop, got {crop_bgr.shape}")
        blob: np.ndarray = pixels.to_blob(crop_bgr, "rgb", self._mean, self._std).astype(self._target_type)
        output = self._session.run([self._output_name], {self._target_name: blob, self._source_name: latent.astype(self._source_type)})[0]
        return pixels.from_blob(output, "rgb", self._mean, self._std)


def build_simswap(spec: AdapterSpec) -> SimSwapper:
    mean, std = mean_std(spec.input, IMAGENET_MEAN, IMAGENET_STD)
    return SimSwapper(
        spec.open_session(),
        size=square_size(spec.input, DEFAULT_SIZE),
        template=spec.input.template or DEFAULT_TEMPLATE,
        mean=mean,
        std=std,
        input_names=(spec.input_name("image") or "target", spec.input_name("source_embedding") or "source"),
        name=spec.model_id,
        resampling=spec.family_info.resampling,
    )
