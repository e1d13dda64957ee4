"""Time the swap job on CPU: the builtin `mesh` per face, and an inswapper-sized stand-in cold vs warm.

Run from the repository root:  python -m bench.bench_swap [--runs 10] [--skip-inswapper]

mesh: median warm times over `--runs` runs (after two warm-up runs) on
1-megapixel photos - a t1.jpg face region and skimage's astronaut, each
upscaled to 1000x1000 / 1024x1024 - and on t1.jpg itself (six ~100 px
faces). "swap step" is one face's crop + mesh swap + paste back (what the
mesh itself costs); "job" adds detection, 68 points and pose of the target;
"job + report" adds the dlib identity report (two dlib ResNet passes per
face). Sources are analysed once (the batch path).

inswapper stand-in: the real inswapper_128 cannot be downloaded here, so a
graph of the same I/O and a similar size is built in a temporary folder
(deleted afterwards, never committed): encoder 3->128->256->512->1024
channels down to 32x32, six style blocks of two 3x3 1024->1024 convolutions
each modulated by Gemm(source) (AdaIN-like), decoder back to 128, the 512x512
emap as the last initializer; about 550 MB of random float32 weights. Its
layer layout is an approximation, not the real graph; the numbers show the
cold/warm behaviour and the share of per-face time spent outside the
network (crop, latent, paste back, mask).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import insightface
import numpy as np
import onnxruntime as ort
import skimage
from onnx import TensorProto, helper, numpy_helper

from bench.common import save_graph
from facekit.adapters.inswapper import InSwapper, SwapSource, read_emap
from facekit.analysis import AnalysisOptions, FaceAnalyser
from facekit.engine import Engine, EngineConfig
from facekit.face.types import Face
from facekit.processors.swap import SwapOptions, SwapPipeline, crop_face, prepare_sources, swap_one_face

SAMPLES = Path(insightface.__file__).parent / "data" / "images"
ASTRONAUT = Path(skimage.__file__).parent / "data" / "astronaut.png"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"  # YuNet for the fast-detector column


def median_ms(step: Callable[[], object], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def one_megapixel_photos() -> dict[str, np.ndarray]:
    t1 = cv2.imread(str(SAMPLES / "t1.jpg"))
    portrait = cv2.resize(t1[290:550, 650:910], (1000, 1000), interpolation=cv2.INTER_CUBIC)  # face 3, ~400 px wide
    astronaut = cv2.resize(cv2.imread(str(ASTRONAUT)), (1024, 1024), interpolation=cv2.INTER_CUBIC)  # ~190 px face
    return {"t1 face 3 region, 1000x1000": portrait, "astronaut, 1024x1024": astronaut, "t1.jpg 1280x886 (6 faces)": t1}


def bench_mesh(runs: int) -> list[tuple[str, str]]:
    mirrors = (str(SHARED_MODELS),) if (SHARED_MODELS / "face_detection_yunet_2023mar.onnx").exists() else ()
    engine = Engine(EngineConfig(models_dir=Path(tempfile.mkdtemp()), mirrors=mirrors, offline=True))
    analyser = FaceAnalyser(engine)
    source = cv2.imread(str(SAMPLES / "Tom_Hanks_54745.png"))
    options = SwapOptions(model="mesh")
    prepared = prepare_sources(engine, [source], options)
    assert prepared.identity is not None
    quiet = SwapOptions(model="mesh", identity=False)
    fast = SwapOptions(model="mesh", identity=False, analysis=AnalysisOptions(detector="yunet_2023mar")) if mirrors else None
    rows = []
    for name, photo in one_megapixel_photos().items():
        faces = analyser.analyze(photo).faces
        count = len(faces)
        swap_step = partial(_swap_faces, prepared.swapper, photo, faces, prepared.identity.swap, options)
        step = median_ms(swap_step, runs)
        job = median_ms(partial(SwapPipeline.from_prepared(engine, prepared, quiet), photo), max(3, runs // 2))
        full = median_ms(partial(SwapPipeline.from_prepared(engine, prepared, options), photo), max(3, runs // 3), warmup=1)
        yunet = ""
        if fast is not None:
            yunet_ms = median_ms(partial(SwapPipeline.from_prepared(engine, prepared, fast), photo), max(3, runs // 2))
            yunet = f" | job, YuNet detector {yunet_ms:.0f} ms"
        width = max(int(face.width) for face in faces)
        rows.append((f"mesh: {name}, face box up to {width} px", f"swap step {step / count:.1f} ms/face | "
                     f"job {job:.0f} ms{yunet} | job + report {full:.0f} ms ({count} face(s))"))
    return rows


def _swap_faces(swapper, photo: np.ndarray, faces: list[Face], source: SwapSource, options: SwapOptions) -> np.ndarray:
    image = photo
    for face in faces:
        image = swap_one_face(swapper, image, face, source, None, options)
    return image


# ---------------------------------------------------------------- inswapper stand-in
def _conv(name: str, x: str, c_in: int, c_out: int, k: int, stride: int, rng: np.random.Generator, weights: list) -> list:
    w = (rng.standard_normal((c_out, c_in, k, k), dtype=np.float32) * np.float32(np.sqrt(2.0 / (c_in * k * k)))).astype(np.float32)
    weights += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(np.zeros(c_out, np.float32), f"{name}.b")]
    return [helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [name], pads=[k // 2] * 4, strides=[stride, stride])]


def _style(name: str, x: str, channels: int, rng: np.random.Generator, weights: list, width: int = 512) -> list:
    """InstanceNorm(x) * (1 + Gemm(source)) + Gemm(source): the AdaIN-like modulation."""
    nodes = [helper.make_node("InstanceNormalization", [x, "ones", "zeros"], [f"{name}.n"])]
    for part in ("g", "b"):
        w = (rng.standard_normal((width, channels), dtype=np.float32) * np.float32(0.01)).astype(np.float32)
        weights.append(numpy_helper.from_array(w, f"{name}.{part}.w"))
        nodes += [
            helper.make_node("MatMul", ["source", f"{name}.{part}.w"], [f"{name}.{part}.v"]),
            helper.make_node("Reshape", [f"{name}.{part}.v", "as_map"], [f"{name}.{part}"]),
        ]
    nodes += [
        helper.make_node("Add", [f"{name}.g", "one"], [f"{name}.scale"]),
        helper.make_node("Mul", [f"{name}.n", f"{name}.scale"], [f"{name}.m"]),
        helper.make_node("Add", [f"{name}.m", f"{name}.b"], [name]),
    ]
    return nodes


def build_inswapper_standin(path: Path, blocks: int = 6, channels: int = 1024, width: int = 512) -> int:
    """The stand-in described above; `width` = the source latent size (512 as inswapper_128, 128 for a MobileFaceNet)."""
    rng = np.random.default_rng(0)
    weights: list = [
        numpy_helper.from_array(np.ones(channels, np.float32), "ones"),
        numpy_helper.from_array(np.zeros(channels, np.float32), "zeros"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([1, channels, 1, 1], np.int64), "as_map"),
        numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], np.float32), "twice"),
    ]
    nodes: list = []
    x = "target"
    for name, c_in, c_out, k, stride in (("e1", 3, 128, 7, 1), ("e2", 128, 256, 3, 2), ("e3", 256, 512, 3, 2), ("e4", 512, channels, 3, 1)):
        nodes += _conv(name, x, c_in, c_out, k, stride, rng, weights) + [helper.make_node("Relu", [name], [f"{name}.r"])]
        x = f"{name}.r"
    for block in range(blocks):
        for half in ("a", "b"):
            name = f"s{block}{half}"
            nodes += _conv(name, x, channels, channels, 3, 1, rng, weights) + _style(f"{name}.st", name, channels, rng, weights, width)
            x = f"{name}.st"
    for name, c_in, c_out in (("d1", channels, 256), ("d2", 256, 128)):
        nodes.append(helper.make_node("Resize", [x, "", "twice"], [f"{name}.u"], mode="nearest"))
        nodes += _conv(name, f"{name}.u", c_in, c_out, 3, 1, rng, weights) + [helper.make_node("Relu", [name], [f"{name}.r"])]
        x = f"{name}.r"
    nodes += _conv("out", x, 128, 3, 7, 1, rng, weights) + [helper.make_node("Sigmoid", ["out"], ["output"])]
    emap = rng.standard_normal((width, width), dtype=np.float32) / np.float32(np.sqrt(width))
    weights.append(numpy_helper.from_array(emap, "emap"))
    graph = helper.make_graph(
        nodes,
        "inswapper_standin",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        initializer=weights,
    )
    save_graph(graph, path)
    return path.stat().st_size


def bench_inswapper(runs: int) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "inswapper_standin.onnx"
        started = time.perf_counter()
        size = build_inswapper_standin(path)
        rows.append(("inswapper stand-in: built", f"{size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s (temp dir)"))
        started = time.perf_counter()
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        rows.append(("  cold: InferenceSession alone", f"{(time.perf_counter() - started) * 1000:.0f} ms"))
        started = time.perf_counter()
        read_emap(path)
        rows.append(("  cold: emap read (onnx.load)", f"{(time.perf_counter() - started) * 1000:.0f} ms"))
        engine = Engine(EngineConfig(models_dir=Path(folder) / "models", offline=True))
        started = time.perf_counter()
        swapper = engine.adapter_for_file(path, "inswapper")
        cold = (time.perf_counter() - started) * 1000
        rows.append(("  cold: engine adapter (hash + session + emap)", f"{cold:.0f} ms"))
        started = time.perf_counter()
        engine.adapter_for_file(path, "inswapper")
        rows.append(("  warm: engine adapter again (cached)", f"{(time.perf_counter() - started) * 1000:.3f} ms"))
        rows += _inswapper_per_face(engine, swapper, Path(folder), runs)
    return rows


def _inswapper_per_face(engine: Engine, swapper: InSwapper, folder: Path, runs: int) -> list[tuple[str, str]]:
    """Network time on the big stand-in; everything else timed on a same-I/O model whose network is free."""
    t1 = cv2.imread(str(SAMPLES / "t1.jpg"))
    face = FaceAnalyser(engine).analyze(t1).faces[3]
    embedding = np.random.default_rng(1).normal(size=512).astype(np.float32)
    source = SwapSource(image=t1, face=face, embedding=embedding)
    options = SwapOptions()
    crop = crop_face(t1, *swapper.crop_transform(face))
    latent = swapper.source_latent(embedding)
    started = time.perf_counter()
    swapper.run(crop, latent)
    first = (time.perf_counter() - started) * 1000
    with_network = median_ms(lambda: swapper.run(crop, latent), runs, warmup=1)
    free = engine.adapter_for_file(_identity_standin(folder / "free_network.onnx", swapper), "inswapper")
    network = with_network - median_ms(lambda: free.run(crop, latent), 50)  # blob and output conversion taken out
    overhead = median_ms(lambda: swap_one_face(free, t1, face, source, None, options), max(runs, 20))
    total = network + overhead
    return [
        ("  first run (cold session)", f"{first:.0f} ms"),
        ("  warm: network alone (session.run)", f"{network:.0f} ms"),
        ("  warm: per-face work outside the network", f"{overhead:.2f} ms (crop, emap latent, blob, output, mask, paste back)"),
        ("  per-face overhead share", f"{100 * overhead / total:.2f}% of {total:.0f} ms"),
    ]


def _identity_standin(path: Path, like: InSwapper) -> Path:
    """The same I/O and emap as `like`, output = target: a network that costs nothing."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["target"], ["output"])],
        "free_network",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        initializer=[numpy_helper.from_array(np.array(like.emap), "emap")],
    )
    save_graph(graph, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-inswapper", action="store_true", help="only the mesh rows (no 550 MB stand-in)")
    args = parser.parse_args()
    rows = bench_mesh(args.runs)
    if not args.skip_inswapper:
        rows += bench_inswapper(max(3, args.runs // 2))
    width = max(len(name) for name, _ in rows)
    print(f"FaceKit swap benchmark, onnxruntime {ort.__version__}, CPU threads: default")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
