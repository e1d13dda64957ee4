"""THE family table: every adapter family FaceKit knows, declared once.

A family is the code that runs one kind of model: which task it serves, the
builder that makes its adapter (imported on first use, as "module:function",
so starting FaceKit loads no adapter's dependencies), the roles its ONNX
inputs and outputs may have (the manifest's `io` maps each role to the
model's own tensor name), whether a user's own file may use it
(`--model-file PATH --family F`) and which resampling its input crop expects.

Every other list derives from this table: the manifest's family -> task check
(`manifest.FAMILY_TASKS`), the builders (`registry.BUILDERS`), the CLI's
`--family` choices and the processors' family checks. Adding a family is one
entry here, one adapter module, a manifest entry and a stand-in.

This module imports nothing heavy: the manifest reads it at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Resampling = Literal["bilinear", "bicubic", "none"]


@dataclass(frozen=True)
class Role:
    """One input or output of a family's model: what it means, and the tensor name it has unless the manifest says otherwise."""

    name: str  # the role: image, fidelity, source_embedding, timestep, ...
    default: str | None = None  # the ONNX tensor name the family's reference models use (None: take the only/first one)
    required: bool = True  # False: a model without it still works (CodeFormer's fidelity)


@dataclass(frozen=True)
class Family:
    """What FaceKit knows about one family (see the module docstring)."""

    name: str
    task: str
    builder: str  # "module:function", called with an AdapterSpec
    inputs: tuple[Role, ...] = ()  # roles of the model's inputs, in the model's order (empty: no ONNX model)
    outputs: tuple[Role, ...] = ()
    model_file: bool = False  # may `--model-file PATH --family NAME` use it
    resampling: Resampling = "none"  # how the job warps the input crop for it ("none": the adapter crops itself)
    summary: str = ""

    def input_role(self, role: str) -> Role | None:
        return next((r for r in self.inputs if r.name == role), None)

    def output_role(self, role: str) -> Role | None:
        return next((r for r in self.outputs if r.name == role), None)


_REGISTRY = "facekit.adapters.registry"
_IMAGE = Role("image")
_IMAGE_OUT = Role("image")

_TABLE: tuple[Family, ...] = (
    # ------------------------------------------------------------------ detect
    Family("dlib_hog", "detect", f"{_REGISTRY}:build_dlib_hog", summary="dlib HOG + SVM detector (no ONNX)"),
    Family(
        "yunet", "detect", f"{_REGISTRY}:build_yunet", inputs=(_IMAGE,), model_file=True,
        summary="OpenCV zoo YuNet; score = sqrt(cls * obj) as OpenCV computes it",
    ),
    Family(
        "scrfd", "detect", f"{_REGISTRY}:build_scrfd", inputs=(_IMAGE,), model_file=True,
        summary="InsightFace SCRFD, fed RGB (InsightFace's own decoder)",
    ),
    # --------------------------------------------------------------- landmarks
    Family("dlib_shape", "landmarks", f"{_REGISTRY}:build_dlib_shape", summary="dlib shape predictor (.dat)"),
    Family(
        "insightface_2d106", "landmarks", f"{_REGISTRY}:build_insightface_2d106", inputs=(_IMAGE,), model_file=True,
        summary="InsightFace 2d106det (box crop, no rotation)",
    ),
    Family(
        "insightface_3d68", "landmarks", f"{_REGISTRY}:build_insightface_3d68", inputs=(_IMAGE,), model_file=True,
        summary="InsightFace 1k3d68 (box crop, no rotation)",
    ),
    # ------------------------------------------------------------------- embed
    Family("dlib_resnet", "embed", f"{_REGISTRY}:build_dlib_resnet", summary="dlib ResNet descriptor (.dat)"),
    Family(
        "arcface", "embed", f"{_REGISTRY}:build_arcface", inputs=(_IMAGE,), model_file=True, resampling="bilinear",
        summary="ArcFace-style recogniser on a 5-point aligned crop",
    ),
    # ----------------------------------------------------------------- restore
    Family("classic", "restore", "facekit.adapters.classic:build_classic", resampling="bilinear", summary="built-in classic restorer"),
    Family(
        "gfpgan", "restore", "facekit.adapters.restorers:build_gfpgan",
        inputs=(_IMAGE,), outputs=(_IMAGE_OUT,), model_file=True, resampling="bilinear",
        summary="GFPGAN / GPEN / RestoreFormer++: image in, image out",
    ),
    Family(
        "codeformer", "restore", "facekit.adapters.restorers:build_codeformer",
        inputs=(_IMAGE, Role("fidelity", default="weight", required=False)), outputs=(_IMAGE_OUT,),
        model_file=True, resampling="bilinear",
        summary="CodeFormer: image and a fidelity weight (0 quality .. 1 identity)",
    ),
    # --------------------------------------------------------------- diffusion
    Family(
        "diffusion", "diffusion", "facekit.adapters.diffusion:build_diffusion",
        inputs=(Role("image", default="x"), Role("timestep", default="t")), outputs=(Role("noise"),), model_file=True,
        summary="DifFace-style eps model refining a restored crop",
    ),
    # -------------------------------------------------------------------- swap
    Family("mesh", "swap", "facekit.adapters.mesh:build_mesh_swapper", resampling="bicubic", summary="built-in landmark-mesh swap"),
    Family(
        "inswapper", "swap", "facekit.adapters.inswapper:build_inswapper",
        inputs=(Role("image", default="target"), Role("source_embedding", default="source")), outputs=(_IMAGE_OUT,),
        model_file=True, resampling="bilinear",
        summary="InsightFace inswapper: aligned crop + emap-projected ArcFace latent (bilinear crop as InsightFace/FaceFusion)",
    ),
    Family(
        "simswap", "swap", "facekit.adapters.simswap:build_simswap",
        inputs=(Role("image", default="target"), Role("source_embedding", default="source")), outputs=(_IMAGE_OUT,),
        model_file=True, resampling="bilinear",
        summary="SimSwap-style: arcface_112_v1 crop, ImageNet mean/std, raw ArcFace vector (worked example)",
    ),
    # -------------------------------------------------------------- frontalize
    Family(
        "geometric", "frontalize", "facekit.adapters.geometric:build_geometric", resampling="bilinear",
        summary="3D-guided warp + soft symmetry (no weights)",
    ),
    # ------------------------------------------------------------------- parse
    Family(
        "bisenet", "parse", "facekit.adapters.parse:build_bisenet", inputs=(_IMAGE,), outputs=(Role("classes"),),
        model_file=True, resampling="bilinear",
        summary="BiSeNet face parsing (19 CelebAMask-HQ classes)",
    ),
)

#: name -> Family, in declaration order.
FAMILIES: Mapping[str, Family] = MappingProxyType({family.name: family for family in _TABLE})

#: Every task a family can serve, plus `bundle` (an archive that only carries other entries' files).
TASKS: tuple[str, ...] = ("detect", "landmarks", "embed", "restore", "swap", "frontalize", "diffusion", "parse", "bundle")


def family_tasks() -> dict[str, str]:
    """family name -> task."""
    return {name: family.task for name, family in FAMILIES.items()}


def families_for(task: str, model_file: bool | None = None) -> tuple[str, ...]:
    """Names of the families serving `task` (only those `--model-file` may use, with model_file=True)."""
    return tuple(
        name for name, family in FAMILIES.items() if family.task == task and (model_file is None or family.model_file == model_file)
    )


def get_family(name: str) -> Family | None:
    return FAMILIES.get(name)
