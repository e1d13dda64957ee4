"""Restore benchmarks on InsightFace's t1.jpg (1280x886, six faces), CPU.

Run from the repository root:
    python -m bench.bench_restore              # speed: classic warm; a GFPGAN-sized model cold vs warm
    python -m bench.bench_restore --quality    # classic PSNR/SSIM over the degradation suite of the packaged photos

Speed tables:
- `classic`: seconds per image for `restore_image` (detection, six faces,
  identity report), median of `--runs` warm runs, and its parts.
- A GFPGAN-sized stand-in: a random-weight 512x512 -> 512x512 ONNX network of
  about 300 MB (strided convs down to 16x16, 32 conv 3x3 512->512 layers,
  upsampling convs back, tanh), built with onnx.helper in a temporary folder
  and deleted afterwards. Per face: `cold` is the first face of a fresh engine
  (file hashing, session creation, first run), `warm` the median over the six
  faces of later runs. Overhead = everything but `session.run`: the warp,
  pre- and post-processing and the paste for restore_faces (target: under 15%
  of the model time), and additionally detection and the identity report for
  restore_image.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import insightface
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from bench.common import save_graph
from facekit.analysis import FaceAnalyser
from facekit.engine import Engine, EngineConfig
from facekit.metrics import SUITE, apply_steps, face_box_metrics
from facekit.processors.restore import RestoreOptions, RestorePipeline, restore_image

T1 = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"


# ----------------------------------------------------------------- stand-in
def _conv(nodes: list, weights: list, rng: np.random.Generator, source: str, name: str, channels: tuple[int, int], stride: int = 1) -> str:
    fan_in = channels[0] * 9
    kernel = rng.standard_normal((channels[1], channels[0], 3, 3), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    weights += [numpy_helper.from_array(kernel, f"{name}_w"), numpy_helper.from_array(np.zeros(channels[1], np.float32), f"{name}_b")]
    nodes.append(
        helper.make_node("Conv", [source, f"{name}_w", f"{name}_b"], [f"{name}_conv"], pads=[1, 1, 1, 1], strides=[stride, stride])
    )
    nodes.append(helper.make_node("Relu", [f"{name}_conv"], [name]))
    return name


def build_gfpgan_sized(path: Path, core_layers: int = 32, seed: int = 0) -> Path:
    """A random-weight image-to-image network with GFPGAN's I/O and about 300 MB of weights."""
    rng = np.random.default_rng(seed)
    nodes: list = []
    weights: list = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "twice")]
    x = "input"
    down = (3, 32, 64, 128, 256, 512)
    for i in range(len(down) - 1):
        x = _conv(nodes, weights, rng, x, f"down{i}", (down[i], down[i + 1]), stride=2)
    for i in range(core_layers):
        x = _conv(nodes, weights, rng, x, f"core{i}", (512, 512))
    up = (512, 256, 128, 64, 32)
    for i in range(len(up)):
        nodes.append(helper.make_node("Resize", [x, "", "twice"], [f"up{i}_big"], mode="nearest"))
        x = _conv(nodes, weights, rng, f"up{i}_big", f"up{i}", (up[i], up[i + 1] if i + 1 < len(up) else 16))
    final = rng.standard_normal((3, 16, 1, 1), dtype=np.float32) * np.float32(0.05)
    weights.append(numpy_helper.from_array(final, "out_w"))
    nodes += [helper.make_node("Conv", [x, "out_w"], ["out_conv"]), helper.make_node("Tanh", ["out_conv"], ["output"])]
    tensor = [1, 3, 512, 512]
    graph = helper.make_graph(
        nodes,
        "gfpgan_sized",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, tensor)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, tensor)],
        initializer=weights,
    )
    save_graph(graph, path)
    return path


class TimedSession:
    """Wraps a session and adds up the time spent in run()."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.seconds: list[float] = []

    def run(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            self.seconds.append(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


# -------------------------------------------------------------------- speed
def classic_speed(image: np.ndarray, runs: int) -> None:
    engine = Engine(EngineConfig(offline=True, models_dir=Path(tempfile.mkdtemp())))
    analyser = FaceAnalyser(engine)
    options = RestoreOptions(model="classic")
    restore_image(engine, image, options)  # warm-up: loads dlib, the restorer, the embedder
    whole, analysis, faces_only = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        restore_image(engine, image, options)
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        faces = analyser.analyze(image).faces
        analysis.append(time.perf_counter() - started)
        started = time.perf_counter()
        RestorePipeline.from_engine(engine, RestoreOptions(model="classic", identity=False)).restore_faces(image, faces)
        faces_only.append(time.perf_counter() - started)
    print(f"\nclassic on t1.jpg (6 faces), warm, median of {runs}:")
    print(f"  {'restore_image (detect + 6 faces + identity)':48s} {statistics.median(whole):7.2f} s/image")
    print(f"  {'  detection + landmarks (dlib HOG)':48s} {statistics.median(analysis):7.2f} s")
    faces_seconds = statistics.median(faces_only)
    print(f"  {'  restore_faces without identity':48s} {faces_seconds:7.2f} s ({faces_seconds / 6 * 1000:.0f} ms/face)")


def gfpgan_sized_speed(image: np.ndarray, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = build_gfpgan_sized(Path(folder) / "gfpgan_sized.onnx")
        print(f"\nGFPGAN-sized random stand-in: {path.stat().st_size / 1e6:.0f} MB, built in {time.perf_counter() - started:.1f} s")
        engine = Engine(EngineConfig(offline=True, models_dir=Path(folder)))
        faces = FaceAnalyser(engine).analyze(image).faces
        options = RestoreOptions(model_file=path, blend=0.8, identity=False)

        started = time.perf_counter()
        RestorePipeline.from_engine(engine, options).restore_faces(image, faces[:1])  # a fresh engine: hash, session, first run
        cold_face = time.perf_counter() - started
        restorer = engine.adapter_for_file(path, "gfpgan")
        timed = TimedSession(restorer._session)
        restorer._session = timed  # the bench reads the model's own time; nothing else changes

        face_totals, run_totals = [], []
        for _ in range(runs):
            timed.seconds.clear()
            started = time.perf_counter()
            RestorePipeline.from_engine(engine, options).restore_faces(image, faces)
            face_totals.append((time.perf_counter() - started) / len(faces))
            run_totals.append(sum(timed.seconds) / len(faces))
        per_face, per_run = statistics.median(face_totals), statistics.median(run_totals)

        whole: dict[bool, tuple[float, float]] = {}
        for identity in (False, True):
            timed.seconds.clear()
            started = time.perf_counter()
            restore_image(engine, image, RestoreOptions(model_file=path, blend=0.8, identity=identity))
            whole[identity] = (time.perf_counter() - started, sum(timed.seconds))

    overhead = per_face - per_run
    print(f"  {'cold: first face of a fresh engine':48s} {cold_face * 1000:8.0f} ms")
    print(f"  {'warm: per face, restore_faces':48s} {per_face * 1000:8.0f} ms (median of {runs} runs x {len(faces)} faces)")
    print(f"  {'warm: session.run per face':48s} {per_run * 1000:8.0f} ms")
    share = overhead / per_run * 100
    print(f"  {'warm: pipeline overhead per face':48s} {overhead * 1000:8.0f} ms = {share:.1f}% of model time (target < 15%)")
    for identity, (total, model) in whole.items():
        label = f"restore_image (detect, 6 faces{', identity report' if identity else ''})"
        share = (total - model) / model * 100
        print(f"  {label:48s} {total * 1000:8.0f} ms, model {model * 1000:.0f} ms, overhead {share:.1f}% of model time")


# ------------------------------------------------------------------ quality
def packaged_photos() -> dict[str, np.ndarray]:
    """The clean photos the suite degrades: t1.jpg (six faces), skimage's astronaut, the aligned Tom Hanks face."""
    from skimage import data

    folder = T1.parent
    return {
        "t1.jpg": cv2.imread(str(T1)),
        "astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
        "Tom_Hanks_54745.png": cv2.imread(str(folder / "Tom_Hanks_54745.png")),
    }


def classic_quality(image: np.ndarray | None = None) -> None:
    """Face-box PSNR/SSIM against the clean photo: degraded input vs classic at blend 0.8 and 1.0, per degradation."""
    engine = Engine(EngineConfig(offline=True, models_dir=Path(tempfile.mkdtemp())))
    photos = packaged_photos()
    faces = {name: FaceAnalyser(engine).analyze(photo).faces for name, photo in photos.items()}
    print(f"\nclassic on the face boxes of {', '.join(f'{n} ({len(f)})' for n, f in faces.items())} vs the clean photo")
    print("PSNR dB / SSIM, mean over all faces (100 dB = identical); gain = classic b=1.0 minus degraded")
    print(f"  {'degradation':26s} {'degraded':>16s} {'classic b=0.8':>16s} {'classic b=1.0':>16s} {'gain dB':>8s}")
    gains: dict[str, float] = {}
    for kind in ("clean", *SUITE):
        rows = []
        for name, photo in photos.items():
            degraded = photo if kind == "clean" else apply_steps(photo, SUITE[kind])
            cells = [face_box_metrics(photo, degraded, faces[name])]
            for blend in (0.8, 1.0):
                classic = RestorePipeline.from_engine(engine, RestoreOptions(model="classic", blend=blend, identity=False))
                restored = classic.restore_faces(degraded, faces[name])[0]
                cells.append(face_box_metrics(photo, restored, faces[name]))
            rows.extend([cells] * len(faces[name]))
        mean = np.mean(np.array(rows), axis=0)  # (3 columns, psnr/ssim), weighted by faces
        gains[kind] = float(mean[2][0] - mean[0][0])
        print(f"  {kind:26s} " + " ".join(f"{psnr:8.2f}/{ssim:.4f}" for psnr, ssim in mean) + f" {gains[kind]:+8.2f}")
    mixes = [gain for kind, gain in gains.items() if kind.startswith("mix:")]
    damaged = {kind: gain for kind, gain in gains.items() if kind != "clean"}
    worst = min(damaged, key=damaged.get)
    print(f"  mean gain over the mixes: {np.mean(mixes):+.2f} dB (target >= +1.0); worst: {worst} {damaged[worst]:+.2f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quality", action="store_true", help="print the classic quality table instead of timings")
    args = parser.parse_args()
    image = cv2.imread(str(T1))
    if args.quality:
        classic_quality()
        return
    classic_speed(image, args.runs)
    gfpgan_sized_speed(image, args.runs)


if __name__ == "__main__":
    main()
