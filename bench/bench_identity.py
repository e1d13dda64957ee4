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
is (with report - without) and its share of the job's time.
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
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from facekit.analysis import AnalysisOptions, EmbedderChoice
from facekit.engine import Engine, EngineConfig
from facekit.processors.restore import RestoreOptions, restore_image
from facekit.processors.swap import SwapOptions, prepare_sources, swap_prepared

SAMPLES = Path(insightface.__file__).parent / "data" / "images"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
YUNET = AnalysisOptions(detector="yunet_2023mar")


def median_seconds(step: Callable[[], object], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def pass_through_gfpgan(path: Path) -> Path:
    """GFPGAN's I/O names and shapes, output = input (the network costs nothing)."""
    tensor = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, 512, 512]) for name in ("input", "output")]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "gfpgan_pass", [tensor[0]], [tensor[1]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
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
    rows: list[tuple[str, str, float]] = []
    for name, choice in reports.items():
        options = RestoreOptions(model_file=restorer, analysis=YUNET, identity=choice is not None, embedder=choice or EmbedderChoice())
        rows.append(("restore", name, median_seconds(lambda options=options: restore_image(engine, t1, options), args.runs)))
    prepared = prepare_sources(engine, [tom], SwapOptions(model="mesh", analysis=YUNET))
    for name, choice in reports.items():
        options = SwapOptions(model="mesh", analysis=YUNET, identity=choice is not None, embedder=choice)
        rows.append(("swap (mesh)", name, median_seconds(lambda options=options: swap_prepared(engine, prepared, t1, options), args.runs)))
    print(f"FaceKit identity report benchmark: t1.jpg (6 faces, YuNet), warm, median of {args.runs}; onnxruntime {ort.__version__}")
    print(f"{'job':<12} {'identity report':<24} {'job s':>7} {'report s':>9} {'share':>6}")
    for job, name, seconds in rows:
        off = next(s for j, n, s in rows if j == job and n == "off")
        extra = seconds - off
        share = "" if name == "off" else f"{100 * extra / seconds:5.1f}%"
        print(f"{job:<12} {name:<24} {seconds:7.3f} {'' if name == 'off' else f'{extra:9.3f}':>9} {share:>6}")


if __name__ == "__main__":
    main()
