"""Contract stand-ins: tiny ONNX files with a real model's exact inputs and outputs.

Used by tests and benchmarks to prove FaceKit's geometry, colour order and
normalisation without the large weights (design.md, "Testing without
downloadable weights").
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def save_model(path: Path, inputs: list, outputs: list, nodes: list, initializers: tuple = ()) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def image_tensor(name: str, size: int = 512) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, size, size])


def gfpgan_identity(path: Path, size: int = 512) -> Path:
    """GFPGAN's exact I/O: `input` [1,3,512,512] -> `output` [1,3,512,512]; output = input."""
    return save_model(
        path, [image_tensor("input", size)], [image_tensor("output", size)], [helper.make_node("Identity", ["input"], ["output"])]
    )
