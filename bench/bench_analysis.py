"""Time the analysis adapters on InsightFace's t1.jpg (1280x886, six people), CPU.

Run from the repository root:  python -m bench.bench_analysis [--runs 10]

Prints, per step, the median warm time over `--runs` runs (after two
warm-up runs): detectors per image; landmarks and embeddings per face
(each run handles all six faces, the time is divided by six).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import face_recognition_models
import insightface
import onnxruntime as ort

from facekit.adapters.dlib_models import DlibHogDetector
from facekit.adapters.embed import ArcFaceEmbedder, DlibResnetEmbedder
from facekit.adapters.landmarks import Dlib68Landmarker
from facekit.adapters.scrfd import ScrfdDetector
from facekit.adapters.yunet import YuNetDetector
from facekit.analysis import AnalysisOptions, FaceAnalyser
from facekit.engine import Engine, EngineConfig

SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
T1 = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"


def median_ms(step: Callable[[], object], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def session(file_name: str) -> ort.InferenceSession:
    return ort.InferenceSession(str(SHARED_MODELS / file_name), providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs

    image = cv2.imread(str(T1))
    detectors = {
        "dlib HOG (68-pt landmarks incl.)": DlibHogDetector(face_recognition_models.pose_predictor_model_location()),
        "YuNet 2023mar (640)": YuNetDetector(session("face_detection_yunet_2023mar.onnx")),
        "SCRFD 2.5g kps (640)": ScrfdDetector(session("scrfd_2.5g_kps_test.onnx")),
    }
    rows = [(f"detect: {name}", "image", median_ms(lambda d=d: d.detect(image), runs)) for name, d in detectors.items()]

    faces = detectors["SCRFD 2.5g kps (640)"].detect(image)
    count = len(faces)
    landmarker = Dlib68Landmarker(face_recognition_models.pose_predictor_model_location())
    dlib_resnet = DlibResnetEmbedder(
        face_recognition_models.pose_predictor_five_point_model_location(),
        face_recognition_models.face_recognition_model_location(),
    )
    mobilefacenet = ArcFaceEmbedder(session("mobilefacenet_test.onnx"), mean=127.5, std=128.0)
    per_face = {
        "landmarks: dlib 68": lambda: [landmarker.landmarks(image, face) for face in faces],
        "embed: dlib ResNet (5-pt align)": lambda: dlib_resnet.embed_faces(image, faces),
        "embed: MobileFaceNet (warp + batch)": lambda: mobilefacenet.embed_faces(image, faces),
    }
    rows += [(name, "face", median_ms(step, runs) / count) for name, step in per_face.items()]
    rows += pipeline_rows(image, runs)

    print(f"t1.jpg {image.shape[1]}x{image.shape[0]}, {count} faces; {os.cpu_count()} CPUs; onnxruntime {ort.__version__} CPU")
    print(f"median of {runs} warm runs")
    print(f"{'step':40} {'per':>6} {'ms':>8}")
    for name, per, ms in rows:
        print(f"{name:40} {per:>6} {ms:8.1f}")


def pipeline_rows(image, runs: int) -> list[tuple[str, str, float]]:
    """Whole analysis through the engine: detect + 68 landmarks + pose (targets: 250 ms default, 120 ms YuNet)."""
    with tempfile.TemporaryDirectory() as models_dir:
        engine = Engine(EngineConfig(models_dir=Path(models_dir), mirrors=(str(SHARED_MODELS),), offline=True))
        analyser = FaceAnalyser(engine)
        pipelines = {
            "pipeline: dlib_hog + dlib 68 + pose": AnalysisOptions(),
            "pipeline: YuNet + dlib 68 + pose": AnalysisOptions(detector="yunet_2023mar"),
        }
        return [(name, "image", median_ms(lambda o=o: analyser.analyze(image, o), runs)) for name, o in pipelines.items()]


if __name__ == "__main__":
    main()
