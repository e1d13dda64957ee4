"""The `inswapper` family (InsightFace inswapper_128 and its fp16 export).

Every swap adapter (this one and the builtin `mesh`) satisfies
:class:`facekit.adapters.base.Swapper`: the job crops the target face with
``crop_transform`` (bilinear for inswapper, as InsightFace's `norm_crop2` and
FaceFusion feed it: the family table says so), calls ``swap`` and pastes the
result back through its mask. What the adapter needs to know who the source
is travels in :class:`SwapSource`; ``embedding_family`` names the recogniser
family whose identity vector it must carry (None: the adapter uses the face itself).

inswapper conventions (see ../shared/reference/models.md):

- ``target``: [1,3,128,128], the target face warped onto `arcface_128` at
  128, RGB, (x - mean) / std with the manifest's numbers (0 and 255).
- ``source``: [1,D] = (raw ArcFace embedding @ emap) / ||raw embedding||,
  where emap is the graph's last initializer (512x512 in inswapper_128).
  ArcFace embeddings here are already L2-normalised, so that is
  ``unit_embedding @ emap``.
- output: [1,3,128,128] RGB in 0..1.
- swap weight 0..1 (FaceFusion's scale, default 0.5): alpha =
  interp(w, [0,1], [0.35,-0.35]); as FaceFusion's `balance_source_embedding`,
  the target is mixed in AFTER the emap projection of the source:
  latent = (1 - alpha) * (unit source @ emap) + alpha * unit target, the
  target being the normalised ArcFace embedding of the target face (not
  projected). At the default weight (alpha 0) that is the `source` input above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.base import DEFAULT_SWAP_WEIGHT, Swapper, SwapSource, SwapTarget
from facekit.adapters.registry import AdapterSpec, PerChannel, mean_std, square_size
from facekit.errors import FaceKitError, ModelLoadError
from facekit.face.align import TEMPLATES, estimate_affine
from facekit.face.identity import l2_normalise
from facekit.face.types import Face

DEFAULT_WEIGHT = DEFAULT_SWAP_WEIGHT
_WEIGHT_TO_ALPHA = ((0.0, 1.0), (0.35, -0.35))
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


#: The swap contract lives in facekit/adapters/base.py; these names stay importable from here.
FaceSwapper = Swapper


def weight_alpha(weight: float) -> float:
    """FaceFusion's swap weight -> how much of the target identity is mixed in (0.35 .. -0.35)."""
    if not 0.0 <= weight <= 1.0:
        raise FaceKitError(f"Swap weight {weight} is outside 0..1.", "Use 0.5 (default); higher keeps more of the source identity.")
    return float(np.interp(weight, *_WEIGHT_TO_ALPHA))


def read_emap(path: Path) -> np.ndarray:
    """The graph's last initializer: inswapper's embedding map."""
    try:
        model = onnx.load(str(path))
    except Exception as error:  # protobuf raises several types for a broken file
        raise ModelLoadError(f"{path.name} could not be read as an ONNX model: {error}", "Check that the file is complete.") from error
    if not model.graph.initializer:
        raise ModelLoadError(
            f"{path.name} has no initializers, so it carries no emap matrix.", "An inswapper model ends its initializers with emap."
        )
    return np.array(numpy_helper.to_array(model.graph.initializer[-1]), dtype=np.float32)


class InSwapper:
    """inswapper_128: an aligned 128 crop and an identity latent in, the swapped crop out."""

    embedding_family = "arcface"
    uses_weight = True
    pixel_boost = True  # a 128 px learned swapper: --swap-resolution 256/384/512 tile it
    resampling = "bilinear"  # as InsightFace / FaceFusion crop for it (families.py)

    def __init__(
        self,
        session: ort.InferenceSession,
        emap: np.ndarray,
        size: int = 128,
        template: str = "arcface_128",
        mean: PerChannel = 0.0,
        std: PerChannel = 255.0,
        input_names: tuple[str, str] = ("target", "source"),
        name: str | None = None,
        resampling: str = "bilinear",
    ) -> None:
        if template not in TEMPLATES:
            raise ValueError(f"unknown alignment template {template!r}")
        self.name = checks.model_label(session, name)
        self.resampling = resampling
        self._session = session
        self._target_name, self._source_name = input_names
        self._target_type, self._source_type = self._check_inputs(session, size, emap)
        self._output_name, self._output_float16 = self._check_output(session, size)
        self._emap = emap
        self.embedding_size = int(emap.shape[0])
        self.size = size
        self.template = template
        self._mean = np.asarray(mean, dtype=np.float32)
        self._std = np.asarray(std, dtype=np.float32)

    # ---------------------------------------------------------------- checks
    def _check_inputs(self, session: ort.InferenceSession, size: int, emap: np.ndarray) -> tuple[type, type]:
        inputs = {arg.name: arg for arg in session.get_inputs()}
        wanted = f"inputs {self._target_name}[1,3,{size},{size}] and {self._source_name}[1,D]"
        target, source = inputs.get(self._target_name), inputs.get(self._source_name)
        if len(inputs) != 2 or target is None or source is None:
            raise checks.mismatch(session, self.name, wanted)
        if len(target.shape) != 4 or any(checks.is_fixed(d) and d != w for d, w in zip(target.shape[1:], (3, size, size), strict=True)):
            raise checks.mismatch(session, self.name, wanted)
        if len(source.shape) != 2 or target.type not in _FLOAT_TYPES or source.type not in _FLOAT_TYPES:
            raise checks.mismatch(session, self.name, wanted + " (float or float16)")
        width = source.shape[1]
        if emap.ndim != 2 or (checks.is_fixed(width) and emap.shape[1] != width):
            raise ModelLoadError(
                f"{self.name}: the graph's last initializer has shape {list(emap.shape)}, but the source input "
                f"takes {width} values; it is not an inswapper emap.",
                "Use an inswapper model file (its last initializer is the emap matrix).",
            )
        return _FLOAT_TYPES[target.type], _FLOAT_TYPES[source.type]

    def _check_output(self, session: ort.InferenceSession, size: int) -> tuple[str, bool]:
        outputs = session.get_outputs()
        shape = outputs[0].shape if len(outputs) == 1 else []
        if len(shape) != 4 or any(checks.is_fixed(d) and d != w for d, w in zip(shape[1:], (3, size, size), strict=True)):
            raise checks.mismatch(session, self.name, f"one output [1,3,{size},{size}]")
        if outputs[0].type not in _FLOAT_TYPES:
            raise checks.mismatch(session, self.name, "a float or float16 output")
        return outputs[0].name, outputs[0].type == "tensor(float16)"

    @property
    def emap(self) -> np.ndarray:
        """The embedding map (a read-only view)."""
        view = self._emap.view()
        view.setflags(write=False)
        return view

    # ---------------------------------------------------------------- running
    def crop_transform(self, face: Face) -> tuple[np.ndarray, tuple[int, int]]:
        return estimate_affine(face.landmarks_5, self.template, self.size), (self.size, self.size)

    def source_latent(
        self, embedding: np.ndarray, target_embedding: np.ndarray | None = None, weight: float = DEFAULT_WEIGHT
    ) -> np.ndarray:
        """The `source` input, shape [1, D]: the unit identity projected by emap, then balanced with the target (see above)."""
        identity = l2_normalise(np.ravel(embedding))
        if identity.shape[0] != self.embedding_size:
            raise FaceKitError(
                f"{self.name} needs a {self.embedding_size}-d ArcFace embedding, but got {identity.shape[0]} values.",
                "Use the ArcFace model the swapper was trained with (arcface_w600k_r50 or w600k_r50).",
            )
        latent = identity @ self._emap
        alpha = weight_alpha(weight)
        if alpha != 0.0:
            if target_embedding is None:
                raise ValueError("a swap weight other than 0.5 needs the target face's embedding")
            target = l2_normalise(np.ravel(target_embedding))
            if target.shape != latent.shape:
                raise FaceKitError(
                    f"{self.name}: the target embedding has {target.shape[0]} values, the latent {latent.shape[0]}.",
                    "Use the same ArcFace model for the source and the target faces.",
                )
            latent = (1.0 - alpha) * latent + alpha * target
        return latent.reshape(1, -1).astype(np.float32)

    def swap(self, target: SwapTarget, source: SwapSource, weight: float = DEFAULT_WEIGHT) -> np.ndarray:
        if source.embedding is None:
            raise ValueError("inswapper needs SwapSource.embedding (an ArcFace vector)")
        latent = self.source_latent(source.embedding, target.embedding, weight)
        return self.run(target.crop, latent)

    def run(self, crop_bgr: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """One forward pass: aligned BGR crop and source latent -> swapped BGR crop."""
        if crop_bgr.shape != (self.size, self.size, 3):
            raise ValueError(f"expected a {self.size}x{self.size} BGR crop, got {crop_bgr.shape}")
        blob: np.ndarray = pixels.to_blob(crop_bgr, "rgb", self._mean, self._std).astype(self._target_type)
        feeds = {self._target_name: blob, self._source_name: np.asarray(latent).astype(self._source_type)}
        output = self._session.run([self._output_name], feeds)[0]
        return pixels.from_blob(output, "rgb", 0.0, 255.0)  # the output is RGB in 0..1, whatever the input's normalisation


def build_inswapper(spec: AdapterSpec) -> InSwapper:
    mean, std = mean_std(spec.input, 0.0, 255.0)
    names = (spec.input_name("image") or "target", spec.input_name("source_embedding") or "source")
    return InSwapper(
        spec.open_session(),
        read_emap(spec.file_path()),
        size=square_size(spec.input, 128),
        template=spec.input.template or "arcface_128",
        mean=mean,
        std=std,
        input_names=(names[0], names[1]),
        name=spec.model_id,
        resampling=spec.family_info.resampling,
    )
