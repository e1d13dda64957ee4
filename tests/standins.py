"""Contract stand-ins: tiny ONNX files with a real model's exact inputs and outputs.

Used by tests and benchmarks to prove FaceKit's geometry, colour order and
normalisation without the large weights (design.md, "Testing without
downloadable weights").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save_model(path: Path, inputs: list, outputs: list, nodes: list, initializers: list | tuple = ()) -> Path:
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


def gfpgan_negative(path: Path, size: int = 512) -> Path:
    """GFPGAN's exact I/O with output = -input: a restorer whose every touched pixel visibly changes."""
    return save_model(path, [image_tensor("input", size)], [image_tensor("output", size)], [helper.make_node("Neg", ["input"], ["output"])])


def _bisenet_io(size: int = 512) -> tuple[list, list]:
    """BiSeNet's I/O: `input` [1,3,512,512] -> `output` [1,19,512,512] class scores (CelebAMask-HQ order)."""
    return [image_tensor("input", size)], [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 19, size, size])]


def position_classes(size: int = 512, block: int = 64) -> np.ndarray:
    """The class map `bisenet_position` outputs: class = (x // block + 8 * (y // block)) % 19."""
    ys, xs = np.mgrid[0:size, 0:size]
    return ((xs // block + 8 * (ys // block)) % 19).astype(np.uint8)


def bisenet_position(path: Path, size: int = 512, block: int = 64) -> Path:
    """BiSeNet's I/O; the scores are one-hot of `position_classes` (upsampled from one value per block) plus 0 x input."""
    cells = size // block
    small = position_classes(cells, 1)
    one_hot = (np.arange(19)[:, None, None] == small[None]).astype(np.float32)[None]  # [1,19,cells,cells]
    inputs, outputs = _bisenet_io(size)
    nodes = [
        helper.make_node("Resize", ["one_hot", "", "scales"], ["scores"], mode="nearest"),
        helper.make_node("ReduceMean", ["input"], ["level"], keepdims=1),
        helper.make_node("Mul", ["level", "zero"], ["nothing"]),
        helper.make_node("Add", ["scores", "nothing"], ["output"]),
    ]
    constants = (
        numpy_helper.from_array(one_hot, "one_hot"),
        numpy_helper.from_array(np.array([1, 1, block, block], np.float32), "scales"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    )
    return save_model(path, inputs, outputs, nodes, constants)


def bisenet_blue_is_background(path: Path, size: int = 512) -> Path:
    """BiSeNet's I/O: background (0) where the RGB input's blue exceeds its red by ~2 std units, skin (1) elsewhere.

    Scores: background = 2 (B - R) - 4 on the normalised channels 2 and 0, skin = 0, the other 17 classes = -10.
    A pure blue BGR (255, 0, 0) patch is background only if the adapter fed RGB.
    """
    inputs, outputs = _bisenet_io(size)
    nodes = [
        helper.make_node("Split", ["input", "split"], ["red", "green", "blue"], axis=1),
        helper.make_node("Sub", ["blue", "red"], ["blue_minus_red"]),
        helper.make_node("Mul", ["blue_minus_red", "two"], ["doubled"]),
        helper.make_node("Sub", ["doubled", "four"], ["background"]),
        helper.make_node("Mul", ["green", "zero"], ["skin"]),
        helper.make_node("Sub", ["skin", "ten"], ["other"]),
        helper.make_node("Concat", ["background", "skin"] + ["other"] * 17, ["output"], axis=1),
    ]
    constants = (
        numpy_helper.from_array(np.array([1, 1, 1], np.int64), "split"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(4.0, np.float32), "four"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(10.0, np.float32), "ten"),
    )
    return save_model(path, inputs, outputs, nodes, constants)


SIMSWAP_PROBE_GAIN = 10.0  # keeps unit-vector values inside 0..255 after decoding


def simswap_probe(path: Path, width: int = 512, size: int = 256) -> Path:
    """SimSwap's I/O (`target` [1,3,256,256], `source` [1,width] -> `output` [1,3,256,256]), outputs in the normalised space:
    channel 0 (R) = source * SIMSWAP_PROBE_GAIN laid out row by row, channel 1 (G) = target's channel 1, channel 2 (B) = 0.
    Decoding (x * std + mean per channel) then shows the latent, the per-channel normalisation and the colour order.
    """
    inputs = [image_tensor("target", size), helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, width])]
    constants = [
        numpy_helper.from_array(np.array([0, 0, 0, size * size - width], np.int64), "pads"),
        numpy_helper.from_array(np.array([1, 1, size, size], np.int64), "plane"),
        numpy_helper.from_array(np.array(SIMSWAP_PROBE_GAIN, np.float32), "gain"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "first"),
        numpy_helper.from_array(np.array([2], np.int64), "second"),
        numpy_helper.from_array(np.array([1], np.int64), "axis"),
    ]
    nodes = [
        helper.make_node("Mul", ["source", "gain"], ["scaled"]),
        helper.make_node("Pad", ["scaled", "pads"], ["padded"]),
        helper.make_node("Reshape", ["padded", "plane"], ["red"]),
        helper.make_node("Slice", ["target", "first", "second", "axis"], ["green"]),
        helper.make_node("Mul", ["green", "zero"], ["blue"]),
        helper.make_node("Concat", ["red", "green", "blue"], ["output"], axis=1),
    ]
    return save_model(path, inputs, [image_tensor("output", size)], nodes, constants)


# ------------------------------------------------------------------ inswapper and ArcFace (test_swap, test_video_jobs)
INSWAPPER_SIZE = 128


def swapper_io(width: int, dtype: int) -> tuple[list, list]:
    """inswapper's I/O: `target` [1,3,128,128], `source` [1,width] -> `output` [1,3,128,128]."""
    inputs = [
        helper.make_tensor_value_info("target", dtype, [1, 3, INSWAPPER_SIZE, INSWAPPER_SIZE]),
        helper.make_tensor_value_info("source", dtype, [1, width]),
    ]
    return inputs, [helper.make_tensor_value_info("output", dtype, [1, 3, INSWAPPER_SIZE, INSWAPPER_SIZE])]


def random_emap(width: int, seed: int = 0) -> np.ndarray:
    """Not orthogonal, so dividing by ||emb|| and by ||emb @ emap|| give different vectors."""
    return np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(width), (width, width)).astype(np.float32) * 1.7


def identity_swapper(path: Path, width: int = 512, float16: bool = False) -> Path:
    """Output = target; an unrelated initializer first and `emap` LAST, as in the real file."""
    dtype, np_type = (TensorProto.FLOAT16, np.float16) if float16 else (TensorProto.FLOAT, np.float32)
    inputs, outputs = swapper_io(width, dtype)
    other = numpy_helper.from_array(np.ones((4,), np_type), "unused_weight")
    emap = numpy_helper.from_array(random_emap(width), "emap")  # emap stays float32, as in the fp16 export
    return save_model(path, inputs, outputs, [helper.make_node("Identity", ["target"], ["output"])], [other, emap])


def fake_arcface(path: Path, width: int = 512) -> Path:
    """ArcFace's I/O (`input` [N,3,112,112] -> [N,width]): 8x8 average pooling and a fixed random projection."""
    pooled = 3 * 14 * 14
    projection = np.random.default_rng(2).normal(size=(pooled, width)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "projection"], ["embedding"]),
    ]
    return save_model(
        path,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", width])],
        nodes,
        [numpy_helper.from_array(projection, "projection")],
    )


# ------------------------------------------------------------------ the diffusion oracle (test_diffusion, test_app)
FULL_ALPHAS_CUMPROD = np.cumprod(1.0 - np.linspace(1e-4, 0.02, 1000))  # DDPM's linear betas 1e-4..0.02 over 1000 steps


def oracle_onnx(path: Path, x0: np.ndarray) -> Path:
    """The oracle as a real ONNX graph: inputs x [1,3,H,W] and t [1] float, output [1,6,H,W]."""
    size = list(x0.shape)
    tensors = [
        numpy_helper.from_array(np.sqrt(FULL_ALPHAS_CUMPROD).astype(np.float32), "sqrt_abar"),
        numpy_helper.from_array(np.sqrt(1.0 - FULL_ALPHAS_CUMPROD).astype(np.float32), "sqrt_one_minus_abar"),
        numpy_helper.from_array(x0.astype(np.float32), "x0"),
        numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "column"),
    ]
    nodes = [
        helper.make_node("Cast", ["t"], ["t_index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["sqrt_abar", "t_index"], ["a"]),
        helper.make_node("Gather", ["sqrt_one_minus_abar", "t_index"], ["b"]),
        helper.make_node("Reshape", ["a", "column"], ["a4"]),
        helper.make_node("Reshape", ["b", "column"], ["b4"]),
        helper.make_node("Mul", ["a4", "x0"], ["signal"]),
        helper.make_node("Sub", ["x", "signal"], ["noise"]),
        helper.make_node("Div", ["noise", "b4"], ["eps"]),
        helper.make_node("Concat", ["eps", "eps"], ["out"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "oracle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, size), helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 6, *size[2:]])],
        initializer=tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path
