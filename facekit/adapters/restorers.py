"""Face restorers: the `Restorer` interface and the GAN families on ONNX Runtime.

Every restorer takes a uint8 BGR crop already aligned to its `template` at
`size` x `size` and returns a restored crop of the same shape and dtype.

Families (numbers from the manifest entry, code here):

- ``gfpgan`` - GFPGAN 1.2/1.3/1.4, RestoreFormer++, GPEN-BFR-512: one image
  input [1,3,S,S]; pixels as ``colour`` (RGB), normalised (x - mean) / std
  (mean = std = 127.5, i.e. /255 then (x - 0.5) / 0.5); the first output (or
  the one the entry's `io.outputs` names) is clipped to the normalised range of
  0..255 (= [-1, 1]) and mapped back with x * std + mean, then to BGR.
- ``codeformer`` - the same plus a fidelity input `weight` (double, shape [1]):
  0 favours quality, 1 favours identity. A model without that input still
  works; its `takes_fidelity` is then False and the value is ignored.

Inputs and outputs are checked once, when the adapter is built; a mismatch
raises :class:`ModelLoadError` saying what was expected and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.registry import AdapterSpec, mean_std, square_size
from facekit.errors import ModelLoadError

DEFAULT_TEMPLATE = "ffhq_512"
DEFAULT_SIZE = 512
FIDELITY_INPUT = "weight"
_ONNX_FLOATS = {"tensor(double)": np.float64, "tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclass(frozen=True)
class PixelCoding:
    """How crop pixels become the model's tensor and back."""

    colour: str = "rgb"
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5)  # per channel, in `colour` order
    std: tuple[float, float, float] = (127.5, 127.5, 127.5)

    def encode(self, crop_bgr: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 BGR -> float32 [1,3,H,W]."""
        return pixels.to_blob(crop_bgr, self.colour, self.mean, self.std)

    def decode(self, tensor: np.ndarray) -> np.ndarray:
        """[1,3,H,W] (or [3,H,W]) in the normalised range -> uint8 HxWx3 BGR (clipped to 0..255)."""
        return pixels.from_blob(tensor, self.colour, self.mean, self.std)


@dataclass(frozen=True)
class RestorerSignature:
    """The names the adapter feeds and reads, found by checking the session against the entry."""

    image_input: str
    output: str
    fidelity_input: str | None = None
    fidelity_dtype: type = np.float64
    image_dtype: type = np.float32  # float16 exports get a float16 tensor


def read_signature(
    session: ort.InferenceSession,
    label: str,
    size: int,
    image_input: str | None,
    fidelity_input: str | None,
    output: str | None,
    fidelity: bool,
) -> RestorerSignature:
    """Check the session against the entry: an image input [N,3,size,size], optional fidelity input, an image output."""
    inputs = {arg.name: arg for arg in session.get_inputs()}
    image_name = _image_input_name(session, label, size, image_input)
    extra = [name for name in inputs if name != image_name]
    fidelity_name: str | None = None
    if fidelity and extra:
        wanted = fidelity_input or FIDELITY_INPUT
        if wanted not in inputs or len(extra) != 1 or _ONNX_FLOATS.get(inputs[wanted].type) is None:
            raise checks.mismatch(session, label, f"inputs {image_name}[1,3,{size},{size}] and {wanted}[1] (a float fidelity value)")
        fidelity_name = wanted
    elif extra:
        raise checks.mismatch(session, label, f"exactly one input {image_name}[1,3,{size},{size}]")
    output_name = _image_output_name(session, label, size, output)
    dtype = _ONNX_FLOATS[inputs[fidelity_name].type] if fidelity_name else np.float64
    image_dtype = _ONNX_FLOATS.get(inputs[image_name].type)
    if image_dtype is None:
        raise checks.mismatch(session, label, f"a float image input {image_name}[1,3,{size},{size}]")
    return RestorerSignature(
        image_input=image_name, output=output_name, fidelity_input=fidelity_name, fidelity_dtype=dtype, image_dtype=image_dtype
    )


def _image_input_name(session: ort.InferenceSession, label: str, size: int, name: str | None) -> str:
    inputs = session.get_inputs()
    wanted = f"an image input {name or ''}[1,3,{size},{size}]"
    candidates = [arg for arg in inputs if (name is None or arg.name == name) and len(arg.shape) == 4]
    if len(candidates) != 1:
        raise checks.mismatch(session, label, wanted)
    shape = candidates[0].shape
    if checks.is_fixed(shape[1]) and shape[1] != 3:
        raise checks.mismatch(session, label, wanted)
    for dim in shape[2:]:
        if checks.is_fixed(dim) and dim != size:
            raise checks.mismatch(session, label, wanted)
    return candidates[0].name


def _image_output_name(session: ort.InferenceSession, label: str, size: int, name: str | None) -> str:
    outputs = session.get_outputs()
    if name:
        checks.require_outputs(session, label, [name])
        chosen = next(arg for arg in outputs if arg.name == name)
    else:
        chosen = outputs[0]
    shape = chosen.shape
    wanted = f"an image output {chosen.name}[1,3,H,W]"
    if len(shape) != 4 or (checks.is_fixed(shape[1]) and shape[1] != 3):
        raise checks.mismatch(session, label, wanted)
    return chosen.name


class GanRestorer:
    """A GAN face restorer: one image input and one image output, plus CodeFormer's fidelity input when the model has one."""

    def __init__(
        self,
        session: ort.InferenceSession,
        signature: RestorerSignature,
        coding: PixelCoding,
        template: str = DEFAULT_TEMPLATE,
        size: int = DEFAULT_SIZE,
        name: str | None = None,
    ) -> None:
        self.template = template
        self.size = size
        self.name = checks.model_label(session, name)
        self.takes_fidelity = signature.fidelity_input is not None
        self._session = session
        self._signature = signature
        self._coding = coding

    def restore(self, crop_bgr: np.ndarray, fidelity: float = 0.5) -> np.ndarray:
        """The restored crop (same shape); `fidelity` (0 = quality, 1 = identity) reaches a model with a fidelity input."""
        pixels.check_bgr(crop_bgr)
        signature = self._signature
        blob: np.ndarray = self._coding.encode(pixels.fit(crop_bgr, self.size, self.size)).astype(signature.image_dtype, copy=False)
        feed = {signature.image_input: blob}
        if signature.fidelity_input is not None:
            if not 0.0 <= fidelity <= 1.0:
                raise ValueError(f"fidelity must be within 0..1, got {fidelity}")
            feed[signature.fidelity_input] = np.array([fidelity], dtype=signature.fidelity_dtype)
        output = self._session.run([signature.output], feed)[0]
        return pixels.fit(self._coding.decode(output), crop_bgr.shape[1], crop_bgr.shape[0])


def _build(spec: AdapterSpec, fidelity: bool) -> GanRestorer:
    size = square_size(spec.input, DEFAULT_SIZE)
    mean, std = mean_std(spec.input, 127.5, 127.5)
    session = spec.open_session()
    try:
        signature = read_signature(
            session, spec.model_id, size, spec.io.input_name("image"), spec.input_name("fidelity"), spec.io.output_name("image"), fidelity
        )
    except ModelLoadError as error:
        raise ModelLoadError(error.message, f"{spec.family} models need a {size}x{size} face input. {error.hint}", error.app_hint) from None
    coding = PixelCoding(colour=spec.input.colour or "rgb", mean=_triple(mean), std=_triple(std))
    return GanRestorer(session, signature, coding, template=spec.input.template or DEFAULT_TEMPLATE, size=size, name=spec.model_id)


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    first, second, third = (float(v) for v in values)
    return first, second, third


def build_gfpgan(spec: AdapterSpec) -> GanRestorer:
    return _build(spec, fidelity=False)


def build_codeformer(spec: AdapterSpec) -> GanRestorer:
    return _build(spec, fidelity=True)
