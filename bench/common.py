"""What the benchmarks share (tests may import it too; it imports no test module): saving a stand-in ONNX graph, the
ballast stand-in, a manifest where an ArcFace-family test model is ready."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper

from facekit.manifest import DEFAULT_MANIFEST_PATH


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


MOBILEFACENET_FILE = "mobilefacenet_test.onnx"  # in ../shared/models: tests and benches only, never in the shipped manifest
MOBILEFACENET_ENTRY: dict[str, Any] = {
    "id": "mobilefacenet_test",
    "task": "embed",
    "family": "arcface",
    "source": "url",
    "file": MOBILEFACENET_FILE,
    "urls": ["https://raw.githubusercontent.com/nytdevansh/V-Face/ce7dd1b29166b24b10dea100f2f802ced180ca5c/model/mobilefacenet.onnx"],
    "sha256": "85cdeb7368ed6a1e9cbaaa6f283c6b2439f1fa533c17450bfdc7f357d285d5d1",
    "bytes": 3998450,
    "author": "foamliu/MobileFaceNet weights (export in nytdevansh/V-Face)",
    "licence": {"name": "test model (see ../shared/models/README.md)", "commercial": False, "url": "https://github.com/foamliu/MobileFaceNet"},
    "priority": 25,  # above dlib_resnet (10), below arcface_w600k_r50 (30, whose numbers serve --model-file arcface files)
    "input": {"size": 112, "template": "arcface_112_v2", "colour": "rgb", "mean": [127.5] * 3, "std": [128.0] * 3, "dimension": 128},
    "match": {"metric": "cosine", "threshold": 0.35, "measured": "bench/test entry: threshold not measured"},
}


def manifest_with_test_arcface(folder: Path) -> Path:
    """The shipped manifest plus `mobilefacenet_test`, written into `folder`: an ArcFace-family recogniser that is
    ready offline (from the ../shared/models mirror), standing for a real ArcFace model on disk. Benches and tests only."""
    document = yaml.safe_load(DEFAULT_MANIFEST_PATH.read_text(encoding="utf-8"))
    document["models"].append(MOBILEFACENET_ENTRY)
    path = folder / "manifest_with_test_arcface.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def nudged_copy(source: Path, target: Path, scale: float = 1.001) -> Path:
    """`source` with its first weight tensor scaled by `scale`: another file (another hash) of the same network and cost."""
    model = onnx.load(str(source))
    first = model.graph.initializer[0]
    nudged = numpy_helper.to_array(first).astype(np.float32) * np.float32(scale)
    first.CopyFrom(numpy_helper.from_array(nudged.astype(numpy_helper.to_array(first).dtype), first.name))
    onnx.save(model, str(target))
    return target
