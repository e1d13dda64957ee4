"""What the benchmarks share (and tests may import; it imports no FaceKit and no test): stand-in ONNX graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save_graph(graph: onnx.GraphProto, path: Path) -> Path:
    """Save `graph` as an opset-17, IR-8 model (what onnxruntime here loads) and return its path."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def gfpgan_ballast(path: Path, megabytes: int, seed: int, size: int = 512) -> Path:
    """GFPGAN's I/O (`input` [1,3,size,size] -> `output`, output = input), carrying `megabytes` of random weights the
    graph really reads (a Gather on an index computed from the input, so ONNX Runtime cannot fold it away): a loaded
    session costs about that much memory. Each seed gives a different file (and hash), i.e. a different model for the
    session pool.
    """
    image = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, size, size]) for name in ("input", "output")]
    ballast = np.random.default_rng(seed).random(megabytes * 2**20 // 4, dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMin", ["input"], ["low"], keepdims=0),
        helper.make_node("Mul", ["low", "zero"], ["nothing"]),
        helper.make_node("Cast", ["nothing"], ["index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["ballast", "index"], ["picked"]),
        helper.make_node("Mul", ["picked", "zero"], ["none"]),
        helper.make_node("Add", ["input", "none"], ["output"]),
    ]
    weights = [numpy_helper.from_array(ballast, "ballast"), numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    return save_graph(helper.make_graph(nodes, path.stem, image[:1], image[1:], initializer=weights), path)
