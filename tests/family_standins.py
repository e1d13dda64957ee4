"""One stand-in factory per family of THE family table (facekit/adapters/families.py), for the family contract test.

A factory returns the ModelRef the contract test loads: a manifest id for
built-in and packaged families (their real models are here), the small real
ONNX models of ../shared/models where they exist, else a contract stand-in
with the family's exact inputs and outputs. `identity` says the stand-in
returns its input, so the battery can check identity in -> identity out.
A family added to the table without a factory here fails the contract test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from facekit.model_ref import ModelRef
from standins import bisenet_position, gfpgan_identity, image_tensor, save_model


@dataclass(frozen=True)
class FamilyStandIn:
    make: Callable[[Path, Path], ModelRef]  # (scratch folder, shared models folder) -> what to load
    identity: bool = False  # the model returns its input unchanged


def _manifest(model_id: str) -> Callable[[Path, Path], ModelRef]:
    return lambda folder, shared: ModelRef(model_id=model_id)


def _shared(file_name: str, family: str) -> Callable[[Path, Path], ModelRef]:
    return lambda folder, shared: ModelRef(file=shared / file_name, family=family)


def _file(family: str, build: Callable[[Path], Path]) -> Callable[[Path, Path], ModelRef]:
    return lambda folder, shared: ModelRef(file=build(folder / f"{family}_standin.onnx"), family=family)


def insightface_landmarks(path: Path, width: int) -> Path:
    """`data` [1,3,192,192] -> `fc1` [1,width] = 0: every point at the crop centre (the box centre in the image)."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["data"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["fc1"]),
    ]
    weights = numpy_helper.from_array(np.zeros((3, width), np.float32), "weights")
    outputs = [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, width])]
    return save_model(path, [image_tensor("data", 192)], outputs, nodes, (weights,))


def codeformer_identity(path: Path) -> Path:
    """CodeFormer's I/O: `input` [1,3,512,512] and `weight` [1] (double) -> `output` = input."""
    inputs = [image_tensor("input"), helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1])]
    return save_model(path, inputs, [image_tensor("output")], [helper.make_node("Identity", ["input"], ["output"])])


def diffusion_zero_eps(path: Path, size: int = 64) -> Path:
    """An eps model's I/O: `x` [B,3,S,S], `t` [B] -> `out` [B,6,S,S] = 0 (a noise prediction of 0)."""
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, size, size]),
        helper.make_tensor_value_info("t", TensorProto.FLOAT, ["B"]),
    ]
    nodes = [
        helper.make_node("Concat", ["x", "x"], ["both"], axis=1),
        helper.make_node("Mul", ["both", "zero"], ["out"]),
    ]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["B", 6, size, size])]
    return save_model(path, inputs, outputs, nodes, (numpy_helper.from_array(np.array(0.0, np.float32), "zero"),))


def swapper_identity(path: Path, size: int, width: int = 512, emap: bool = True) -> Path:
    """A swapper's I/O: `target` [1,3,S,S], `source` [1,width] -> `output` = target; `emap` last initializer (inswapper)."""
    inputs = [image_tensor("target", size), helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, width])]
    initializers = (numpy_helper.from_array(np.eye(width, dtype=np.float32), "emap"),) if emap else ()
    return save_model(path, inputs, [image_tensor("output", size)], [helper.make_node("Identity", ["target"], ["output"])], initializers)


def wrong_signature(path: Path) -> Path:
    """No family's contract: one input `x` [1,7] -> `y` [1,7]."""
    tensor = helper.make_tensor_value_info
    return save_model(path, [tensor("x", TensorProto.FLOAT, [1, 7])], [tensor("y", TensorProto.FLOAT, [1, 7])],
                      [helper.make_node("Identity", ["x"], ["y"])])


FACTORIES: dict[str, FamilyStandIn] = {
    "dlib_hog": FamilyStandIn(_manifest("dlib_hog")),
    "yunet": FamilyStandIn(_shared("face_detection_yunet_2023mar.onnx", "yunet")),
    "scrfd": FamilyStandIn(_shared("scrfd_2.5g_kps_test.onnx", "scrfd")),
    "dlib_shape": FamilyStandIn(_manifest("dlib_68")),
    "insightface_2d106": FamilyStandIn(_file("insightface_2d106", lambda p: insightface_landmarks(p, 212))),
    "insightface_3d68": FamilyStandIn(_file("insightface_3d68", lambda p: insightface_landmarks(p, 3309))),
    "dlib_resnet": FamilyStandIn(_manifest("dlib_resnet")),
    "arcface": FamilyStandIn(_shared("mobilefacenet_test.onnx", "arcface")),
    "classic": FamilyStandIn(_manifest("classic")),
    "gfpgan": FamilyStandIn(_file("gfpgan", gfpgan_identity), identity=True),
    "codeformer": FamilyStandIn(_file("codeformer", codeformer_identity), identity=True),
    "diffusion": FamilyStandIn(_file("diffusion", diffusion_zero_eps)),
    "mesh": FamilyStandIn(_manifest("mesh")),
    "inswapper": FamilyStandIn(_file("inswapper", lambda p: swapper_identity(p, 128)), identity=True),
    "simswap": FamilyStandIn(_file("simswap", lambda p: swapper_identity(p, 256, emap=False)), identity=True),
    "geometric": FamilyStandIn(_manifest("geometric")),
    "bisenet": FamilyStandIn(_file("bisenet", bisenet_position)),
}
