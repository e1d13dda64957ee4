"""Family -> adapter builder. Numbers come from the manifest entry; code from the adapter.

A builder receives an :class:`AdapterSpec`: the model's id, family and input
spec, plus callables that open its ONNX session (from the engine's pool) or
give its file path. The same builders serve manifest models and a user's own
file (`--model-file PATH --family F`), whose input spec is taken from the
family's best manifest entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from facekit.adapters.dlib_models import DlibHogDetector
from facekit.adapters.embed import ArcFaceEmbedder, DlibResnetEmbedder
from facekit.adapters.landmarks import Dlib68Landmarker, InsightFace3d68Landmarker, InsightFace106Landmarker
from facekit.adapters.scrfd import ScrfdDetector
from facekit.adapters.yunet import YuNetDetector
from facekit.errors import FaceKitError
from facekit.manifest import InputSpec


@dataclass(frozen=True)
class AdapterSpec:
    """What a builder needs to make an adapter."""

    model_id: str
    family: str
    input: InputSpec
    open_session: Callable[[], ort.InferenceSession]
    file_path: Callable[[], Path]
    companion_path: Callable[[str], Path]  # the file of another model (e.g. dlib_68 for dlib_hog)


def _square_size(spec: InputSpec, default: int) -> int:
    if spec.size is None:
        return default
    return spec.size if isinstance(spec.size, int) else spec.size[0]


def _mean_std(spec: InputSpec, mean: float, std: float) -> tuple[float, float]:
    return (spec.mean[0] if spec.mean else mean), (spec.std[0] if spec.std else std)


def _dlib_hog(spec: AdapterSpec) -> DlibHogDetector:
    return DlibHogDetector(spec.companion_path("dlib_68"))


def _yunet(spec: AdapterSpec) -> YuNetDetector:
    return YuNetDetector(spec.open_session(), input_size=_square_size(spec.input, 640), name=spec.model_id)


def _scrfd(spec: AdapterSpec) -> ScrfdDetector:
    return ScrfdDetector(spec.open_session(), input_size=_square_size(spec.input, 640), name=spec.model_id)


def _dlib_shape(spec: AdapterSpec) -> Dlib68Landmarker:
    return Dlib68Landmarker(spec.file_path())


def _insightface_2d106(spec: AdapterSpec) -> InsightFace106Landmarker:
    mean, std = _mean_std(spec.input, 0.0, 1.0)
    return InsightFace106Landmarker(spec.open_session(), mean=mean, std=std, name=spec.model_id)


def _insightface_3d68(spec: AdapterSpec) -> InsightFace3d68Landmarker:
    mean, std = _mean_std(spec.input, 0.0, 1.0)
    return InsightFace3d68Landmarker(spec.open_session(), mean=mean, std=std, name=spec.model_id)


def _dlib_resnet(spec: AdapterSpec) -> DlibResnetEmbedder:
    return DlibResnetEmbedder(spec.companion_path("dlib_5"), spec.file_path())


def _arcface(spec: AdapterSpec) -> ArcFaceEmbedder:
    mean, std = _mean_std(spec.input, 127.5, 127.5)
    return ArcFaceEmbedder(
        spec.open_session(),
        mean=mean,
        std=std,
        colour=spec.input.colour or "rgb",
        template=spec.input.template or "arcface_112_v2",
        size=_square_size(spec.input, 112),
        name=spec.model_id,
    )


BUILDERS: dict[str, Callable[[AdapterSpec], Any]] = {
    "dlib_hog": _dlib_hog,
    "yunet": _yunet,
    "scrfd": _scrfd,
    "dlib_shape": _dlib_shape,
    "insightface_2d106": _insightface_2d106,
    "insightface_3d68": _insightface_3d68,
    "dlib_resnet": _dlib_resnet,
    "arcface": _arcface,
}


def build_adapter(spec: AdapterSpec) -> Any:
    builder = BUILDERS.get(spec.family)
    if builder is None:
        raise FaceKitError(
            f"Model {spec.model_id!r} (family {spec.family!r}) has no adapter in this FaceKit version yet.",
            f"Families with adapters: {', '.join(sorted(BUILDERS))}.",
        )
    return builder(spec)
