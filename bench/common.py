"""What the benchmarks share: saving a stand-in ONNX graph."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import helper


def save_graph(graph: onnx.GraphProto, path: Path) -> Path:
    """Save `graph` as an opset-17, IR-8 model (what onnxruntime here loads) and return its path."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path
