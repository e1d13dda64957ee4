"""What the identity report costs: warm restore and swap on t1.jpg (6 faces, YuNet), with and without it.

Run from the repository root:  python -m bench.bench_identity [--runs 5]

Jobs (all warm: every model loaded by two warm-up runs first; median of
`--runs` runs, wall time of the whole job call, no file writing):

- restore: a GFPGAN-I/O pass-through network (`input` [1,3,512,512] ->
  `output`, built in a temporary folder: it costs ~nothing, so the rest of
  the job - detection, alignment, masks, paste-back - and the report show);
- swap: the builtin `mesh` swapper, Tom_Hanks_54745.png onto every face
  (sources prepared once, the batch path).

Identity report: off (`identity=False`), dlib ResNet (the offline default,
Euclidean), and the MobileFaceNet test model from ../shared/models as an
ArcFace-family recogniser (the "ArcFace is ready" case). The "report" column
is (with report - without) in CPU seconds of this process (all threads: robust when
other work shares the machine) and its share of the job's CPU time; wall time is printed too.
The API used here exists before and after the identity-report rework, so the
same script measures both commits.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import insightface
import onnxruntime as ort
from onnx import TensorProto, helper

from bench.common import save_graph
from facekit.analysis import AnalysisOptions, EmbedderChoice
from facekit.engine import Engine, EngineConfig
from facekit.processors.restore import RestoreOptions, restore_image
from facekit.processors.swap import SwapOptions, SwapPipeline, prepare_sources

SAMPLES = Path(insightface.__file__).parent / "data" / "images"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
YUNET = AnalysisOptions(detector="yunet_2023mar")


def median_seconds(step: Callable[[], object], runs: int, warmup: int = 2) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `step`; CPU is this process's, all threads (robust on a loaded machine)."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def pass_through_gfpgan(path: Path) -> Path:
    """GFPGAN's I/O names and shapes, output = input (the network costs nothing)."""
    tensor = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, 512, 512]) for name in ("input", "output")]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "gfpgan_pass", [tensor[0]], [tensor[1]])
    save_graph(graph, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    engine = Engine(EngineConfig(models_dir=folder / "models", mirrors=(str(SHARED_MODELS),), offline=True))
    t1 = cv2.imread(str(SAMPLES / "t1.jpg"))
    tom = cv2.imread(str(SAMPLES / "Tom_Hanks_54745.png"))
    restorer = pass_through_gfpgan(folder / "gfpgan_pass.onnx")
    arcface = EmbedderChoice(file=SHARED_MODELS / "mobilefacenet_test.onnx", family="arcface")
    reports: dict[str, EmbedderChoice | None] = {"off": None, "dlib_resnet": EmbedderChoice(), "mobilefacenet (ArcFace)": arcface}
    rows: list[tuple[str, str, tuple[float, float]]] = []
    for name, choice in reports.items():
        options = RestoreOptions(model_file=restorer, analysis=YUNET, identity=choice is not None, embedder=choice or EmbedderChoice())
        rows.append(("restore", name, median_seconds(lambda options=options: restore_image(engine, t1, options), args.runs)))
    prepared = prepare_sources(engine, [tom], SwapOptions(model="mesh", analysis=YUNET))
    for name, choice in reports.items():
        options = SwapOptions(model="mesh", analysis=YUNET, identity=choice is not None, embedder=choice)
        swap = SwapPipeline.from_prepared(engine, prepared, options)
        rows.append(("swap (mesh)", name, median_seconds(lambda swap=swap: swap(t1), args.runs)))
    print(f"FaceKit identity report benchmark: t1.jpg (6 faces, YuNet), warm, median of {args.runs}; onnxruntime {ort.__version__}")
    print(f"{'job':<12} {'identity report':<24} {'wall s':>7} {'CPU s':>7} {'report CPU s':>13} {'share (CPU)':>12}")
    for job, name, (wall, cpu) in rows:
        off = next(c for j, n, (_, c) in rows if j == job and n == "off")
        extra = "" if name == "off" else f"{cpu - off:13.3f}"
        share = "" if name == "off" else f"{100 * (cpu - off) / cpu:11.1f}%"
        print(f"{job:<12} {name:<24} {wall:7.3f} {cpu:7.3f} {extra:>13} {share:>12}")


if __name__ == "__main__":
    main()
