"""Family -> adapter builder. Numbers come from the manifest entry; code from the adapter.

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

import onnxruntime as ort

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


def square_size(spec: InputSpec, default: int) -> int:
    if spec.size is None:
        return default
    return spec.size if isinstance(spec.size, int) else spec.size[0]


def mean_std(spec: InputSpec, mean: float, std: float) -> tuple[float, float]:
    return (spec.mean[0] if spec.mean else mean), (spec.std[0] if spec.std else std)


def build_dlib_hog(spec: AdapterSpec) -> Any:
    from facekit.adapters.dlib_models import DlibHogDetector

    return DlibHogDetector(spec.companion_path("dlib_68"))


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


#: family -> "module:function". Imported on first use, so starting FaceKit
#: does not load every adapter's dependencies.
BUILDERS: dict[str, str] = {
    "dlib_hog": f"{__name__}:build_dlib_hog",
    "yunet": f"{__name__}:build_yunet",
    "scrfd": f"{__name__}:build_scrfd",
    "dlib_shape": f"{__name__}:build_dlib_shape",
    "insightface_2d106": f"{__name__}:build_insightface_2d106",
    "insightface_3d68": f"{__name__}:build_insightface_3d68",
    "dlib_resnet": f"{__name__}:build_dlib_resnet",
    "arcface": f"{__name__}:build_arcface",
    "gfpgan": "facekit.adapters.restorers:build_gfpgan",
    "codeformer": "facekit.adapters.restorers:build_codeformer",
    "diffusion": "facekit.adapters.diffusion:build_diffusion",
    "classic": "facekit.adapters.classic:build_classic",
    "inswapper": "facekit.adapters.inswapper:build_inswapper",
    "mesh": "facekit.adapters.mesh:build_mesh",
    "geometric": "facekit.adapters.geometric:build_geometric",
    "bisenet": "facekit.adapters.parse:build_bisenet",
}


def build_adapter(spec: AdapterSpec) -> Any:
    target = BUILDERS.get(spec.family)
    if target is None:
        raise FaceKitError(
            f"Model {spec.model_id!r} (family {spec.family!r}) has no adapter in this FaceKit version.",
            f"Families with adapters: {', '.join(sorted(BUILDERS))}.",
        )
    module_name, function_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise FaceKitError(
            f"Model {spec.model_id!r} (family {spec.family!r}) has no adapter in this FaceKit version yet.",
            "Pick another model of the same task (`python -m facekit models list`).",
        ) from None
    return getattr(module, function_name)(spec)
