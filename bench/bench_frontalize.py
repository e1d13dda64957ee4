"""Frontalization: speed of the geometric frontalizer and a quality table per test face, CPU.

Run from the repository root:  python -m bench.bench_frontalize [--runs 10] [--refine classic] [--no-synthetic]

1. Speed: warm milliseconds per face for `geometric` (512 and 256 outputs)
   over the test faces (t1.jpg's six, Tom_Hanks_54745.png, skimage's
   astronaut), median and 90th percentile, with the median of each stage.
2. Quality per face: |yaw| before and after (after = detect + 68 landmarks
   again on the output), pitch, dlib ResNet identity distance output vs input
   (same person < 0.6), symmetry inside the face (1 = mirror image) before
   and after, the fraction filled from the mirrored side, the visible fraction.
3. Synthetic limit table (tests/test_geometric.py's renderer, 1.5 px landmark
   noise, both yaw signs x pitch -15/0/15): per yaw, the worst rate of visible
   triangles matching the frontal render, of hidden triangles (with a visible
   mirror) matching the mirrored render, the fill fraction, the yaw error.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import insightface
import numpy as np

from facekit.adapters.geometric import GeometricFrontalizer
from facekit.analysis import FaceAnalyser
from facekit.engine import Engine, EngineConfig
from facekit.face.types import Face
from facekit.imageio import decode_image
from facekit.processors.frontalize import FrontalizeOptions, FrontalizePipeline

IMAGES = Path(insightface.__file__).parent / "data" / "images"
TESTS = Path(__file__).resolve().parents[1] / "tests"


def test_faces(analyser: FaceAnalyser) -> list[tuple[str, np.ndarray, Face]]:
    """(label, image, face) for every test face."""
    photos: list[tuple[str, np.ndarray]] = [("t1", decode_image(IMAGES / "t1.jpg")), ("tom", decode_image(IMAGES / "Tom_Hanks_54745.png"))]
    try:
        from skimage import data

        photos.append(("astronaut", np.ascontiguousarray(data.astronaut()[..., ::-1])))
    except ImportError:
        pass
    found = []
    for label, image in photos:
        for face in analyser.analyze(image).faces:
            found.append((f"{label}#{face.index}", image, face))
    return found


def speed_table(frontalizer: GeometricFrontalizer, faces: list[tuple[str, np.ndarray, Face]], runs: int) -> None:
    print("\n## Speed: geometric, warm, ms per face (median / p90 over all faces x runs)")
    print("| output | median ms | p90 ms | pose | template | warp | visibility | fill |")
    print("|---|---|---|---|---|---|---|---|")
    for size in (512, 256):
        for _, image, face in faces:
            frontalizer.frontalize(image, face, size=size)
        totals: list[float] = []
        stages: dict[str, list[float]] = {}
        for _ in range(runs):
            for _, image, face in faces:
                started = time.perf_counter()
                result = frontalizer.frontalize(image, face, size=size)
                totals.append((time.perf_counter() - started) * 1000)
                for stage, value in result.timings_ms.items():
                    stages.setdefault(stage, []).append(value)
        p90 = float(np.percentile(totals, 90))
        columns = " | ".join(f"{statistics.median(stages[k]):.1f}" for k in ("pose", "template", "warp", "visibility", "fill"))
        print(f"| {size} | {statistics.median(totals):.1f} | {p90:.1f} | {columns} |")


def quality_table(engine: Engine, faces: list[tuple[str, np.ndarray, Face]], refine: str | None) -> None:
    title = f"geometric + refine {refine}" if refine else "geometric"
    print(f"\n## Quality per face ({title}, 512 output, re-measured on the output)")
    print("| face | width px | abs(yaw) before | abs(yaw) after | pitch before | pitch after | identity (dlib, <0.6) "
          "| symmetry before | symmetry after | fill | visible |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    options = FrontalizeOptions(refine=refine, max_yaw=90, min_face_px=0)
    for label, image, face in faces:
        report = FrontalizePipeline.from_engine(engine, options).frontalize_faces(image, [face]).reports[0]
        after = report.get("pose_after") or {}
        identity = report.get("identity") or {}
        print(
            f"| {label} | {face.width:.0f} | {abs(report['pose_before']['yaw']):.1f} | "
            f"{abs(after['yaw']):.1f} | {report['pose_before']['pitch']:+.1f} | {after['pitch']:+.1f} | "
            f"{identity.get('score', float('nan')):.3f} {'same' if identity.get('same_person') else 'DIFFERENT'} | "
            f"{report['symmetry_before']:.3f} | {report['symmetry']:.3f} | {report['fill_fraction']:.2f} | "
            f"{report['visible_fraction']:.2f} |"
            if after
            else f"| {label} | {face.width:.0f} | {abs(report['pose_before']['yaw']):.1f} | no face found on the output | | | | | | | |"
        )


def synthetic_table(frontalizer: GeometricFrontalizer) -> None:
    sys.path.insert(0, str(TESTS))
    from bench.scenes import MeshScene, face_from_landmarks

    scene = MeshScene(frontalizer)
    rng = np.random.default_rng(5)
    print("\n## Synthetic renders (1.5 px landmark noise; worst of 6 poses per yaw)")
    print("| abs(yaw) | visible triangles matching | hidden triangles mirrored correctly | fill fraction | max yaw error |")
    print("|---|---|---|---|---|")
    for yaw in (0, 15, 30, 45, 60, 70, 80):
        visible_rates, hidden_rates, fills, errors = [], [], [], []
        for sign in (1, -1):
            for pitch in (-15, 0, 15):
                photo, landmarks, visible, hidden = scene.render(sign * yaw, pitch)
                noisy = landmarks + rng.normal(0.0, 1.5, landmarks.shape)
                result = frontalizer.frontalize(photo, face_from_landmarks(noisy))
                visible_rates.append(scene.agreeing(result.image, scene.frontal)[visible].mean())
                fillable = hidden & scene.mirror_visible(visible)
                if fillable.sum() >= 5:
                    hidden_rates.append(scene.agreeing(result.image, scene.frontal[:, ::-1])[fillable].mean())
                fills.append(result.fill_fraction)
                errors.append(abs(result.pose.yaw - sign * yaw))
        hidden_text = f"{min(hidden_rates):.2f}" if hidden_rates else "(none)"
        print(f"| {yaw} | {min(visible_rates):.2f} | {hidden_text} | {min(fills):.2f}-{max(fills):.2f} | {max(errors):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--refine", help="also a quality table with this restorer run on the frontal crop (e.g. classic)")
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args()
    engine = Engine(EngineConfig(offline=True))
    frontalizer = GeometricFrontalizer()
    faces = test_faces(FaceAnalyser(engine))
    print(f"# bench_frontalize: {len(faces)} faces, OpenCV threads {cv2.getNumThreads()}")
    speed_table(frontalizer, faces, args.runs)
    quality_table(engine, faces, None)
    if args.refine:
        quality_table(engine, faces, args.refine)
    if not args.no_synthetic:
        synthetic_table(frontalizer)


if __name__ == "__main__":
    main()
