"""Building an adapter for a family. Numbers come from the manifest entry; code from the adapter.

Which builder serves which family is THE family table's business
(:mod:`facekit.adapters.families`); `BUILDERS` is derived from it.
A builder receives an :class:`AdapterSpec`: the model's id, family and input
spec, plus callables that open its ONNX session (from the engine's pool) or
give its file path. The same builders serve manifest models and a user's own
file (`--model-file PATH --family F`), whose input spec is taken from the
family's best manifest entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from facekit.adapters.families import FAMILIES, Family
from facekit.adapters.pixels import PerChannel as PerChannel  # a normalisation value, defined once in pixels
from facekit.errors import FaceKitError
from facekit.manifest import InputSpec, OnnxIO


@dataclass(frozen=True)
class AdapterSpec:
    """What a builder needs to make an adapter."""

    model_id: str
    family: str
    input: InputSpec
    open_session: Callable[[], ort.InferenceSession]
    file_path: Callable[[], Path]
    companion_path: Callable[[str], Path]  # the file of another model (e.g. dlib_68 for dlib_hog)
    io: OnnxIO = OnnxIO()

    @property
    def family_info(self) -> Family:
        """The family's row in the family table (roles, resampling, ...)."""
        return FAMILIES[self.family]

    def input_name(self, role: str) -> str | None:
        """The model's tensor name for an input role: the manifest's, else the family's default (None: not named)."""
        declared = self.family_info.input_role(role)
        return self.io.input_name(role, declared.default if declared is not None else None)

    def output_name(self, role: str) -> str | None:
        declared = self.family_info.output_role(role)
        return self.io.output_name(role, declared.default if declared is not None else None)


def square_size(spec: InputSpec, default: int) -> int:
    if spec.size is None:
        return default
    return spec.size if isinstance(spec.size, int) else spec.size[0]


def mean_std(spec: InputSpec, mean: PerChannel, std: PerChannel) -> tuple[np.ndarray, np.ndarray]:
    """The entry's per-channel mean and std (float32, shape (3,), the model's colour order); `mean`/`std` fill absent fields.

    Adapters subtract and divide HxWx3 pixels by these, so an ImageNet-style
    (123.675, 116.28, 103.53) mean reaches every channel (issue 11: it was
    once truncated to channel 0).
    """
    means = np.broadcast_to(np.asarray(spec.mean if spec.mean is not None else mean, dtype=np.float32), (3,)).copy()
    stds = np.broadcast_to(np.asarray(spec.std if spec.std is not None else std, dtype=np.float32), (3,)).copy()
    return means, stds


def build_dlib_hog(spec: AdapterSpec) -> Any:
    from facekit.adapters.dlib_models import DlibHogDetector

    return DlibHogDetector(spec.companion_path("dlib_68"), check_predictor_path=spec.companion_path("dlib_5"))


def build_yunet(spec: AdapterSpec) -> Any:
    from facekit.adapters.yunet import YuNetDetector

    return YuNetDetector(spec.open_session(), input_size=square_size(spec.input, 640), name=spec.model_id)


def build_scrfd(spec: AdapterSpec) -> Any:
    from facekit.adapters.scrfd import ScrfdDetector

    return ScrfdDetector(spec.open_session(), input_size=square_size(spec.input, 640), name=spec.model_id)


def build_dlib_shape(spec: AdapterSpec) -> Any:
    from facekit.adapters.landmarks import Dlib68Landmarker

    return Dlib68Landmarker(spec.file_path())


def build_insightface_2d106(spec: AdapterSpec) -> Any:
    from facekit.adapters.landmarks import InsightFace106Landmarker

    mean, std = mean_std(spec.input, 0.0, 1.0)
    return InsightFace106Landmarker(spec.open_session(), mean=mean, std=std, name=spec.model_id)


def build_insightface_3d68(spec: AdapterSpec) -> Any:
    from facekit.adapters.landmarks import InsightFace3d68Landmarker

    mean, std = mean_std(spec.input, 0.0, 1.0)
    return InsightFace3d68Landmarker(spec.open_session(), mean=mean, std=std, name=spec.model_id)


def build_dlib_resnet(spec: AdapterSpec) -> Any:
    from facekit.adapters.embed import DlibResnetEmbedder

    return DlibResnetEmbedder(spec.companion_path("dlib_5"), spec.file_path())


def build_arcface(spec: AdapterSpec) -> Any:
    from facekit.adapters.embed import ArcFaceEmbedder

    mean, std = mean_std(spec.input, 127.5, 127.5)
    return ArcFaceEmbedder(
        spec.open_session(),
        mean=mean,
        std=std,
        colour=spec.input.colour or "rgb",
        template=spec.input.template or "arcface_112_v2",
        size=square_size(spec.input, 112),
        name=spec.model_id,
    )


#: family -> "module:function", derived from THE family table (families.py). Imported on first use,
#: so starting FaceKit does not load every adapter's dependencies.
BUILDERS: dict[str, str] = {name: family.builder for name, family in FAMILIES.items()}


def build_adapter(spec: AdapterSpec) -> Any:
    family = FAMILIES.get(spec.family)
    if family is None:
        raise FaceKitError(
            f"Model {spec.model_id!r} names the family {spec.family!r}, which this FaceKit version does not know.",
            f"Known families: {', '.join(sorted(FAMILIES))}.",
        )
    module_name, function_name = family.builder.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise FaceKitError(
            f"Model {spec.model_id!r} (family {spec.family!r}) has no adapter in this FaceKit version yet.",
            "Pick another model of the same task (`python -m facekit models list`).",
        ) from None
    builder = getattr(module, function_name, None)
    if builder is None:
        raise FaceKitError(
            f"Model {spec.model_id!r} (family {spec.family!r}): the family's builder {family.builder} does not exist yet.",
            "Pick another model of the same task (`python -m facekit models list`).",
        )
    return builder(spec)
