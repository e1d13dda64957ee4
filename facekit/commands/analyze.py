"""`analyze IMAGE...`: faces, landmarks, pose; similarity; drawings."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from facekit import __version__
from facekit.analysis import DEFAULT_MAX_FACES, AnalysisOptions, EmbedderChoice
from facekit.cli_support import add_global_flags
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.imageio import DEFAULT_MAX_PIXELS, decode_image, write_image_atomic
from facekit.processors.analyze import AnalysedImage, AnalyzePipeline, analysis_record, draw_analysis


def register(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser("analyze", help="detect faces, landmarks and pose; compare identities")
    add_global_flags(analyze, suppress=True)
    analyze.add_argument("images", nargs="+", metavar="IMAGE")
    analyze.add_argument("--detector", help="detect model id (default: best ready)")
    analyze.add_argument("--landmarks", help="68-point landmark model id (default: the detector's own, else best ready)")
    analyze.add_argument("--embedder", help="embed model id for --similarity (default: best ready)")
    analyze.add_argument("--embedder-file", help="your own ArcFace-style ONNX recogniser (112x112 input) for --similarity")
    analyze.add_argument("--score-threshold", type=float, default=0.5, help="minimum detection score, 0..1 (default 0.5)")
    analyze.add_argument(
        "--max-faces", type=int, default=DEFAULT_MAX_FACES,
        help=f"keep at most this many faces per image, the highest scores (default {DEFAULT_MAX_FACES}; a note says when capped)",
    )
    analyze.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 40 MP)")
    analyze.add_argument("--json", action="store_true", help="one JSON object per image (then the similarity object)")
    analyze.add_argument("--similarity", action="store_true", help="pairwise identity scores between all faces")
    analyze.add_argument("--draw", metavar="OUT", help="write annotated images: a file for one input, else a folder")
    analyze.set_defaults(run=run_analyze)


def run_analyze(engine: Engine, args: argparse.Namespace) -> int:
    options = AnalysisOptions(
        detector=args.detector, landmarks=args.landmarks, score_threshold=args.score_threshold, max_faces=args.max_faces
    )
    choice = EmbedderChoice(model_id=args.embedder, file=Path(args.embedder_file) if args.embedder_file else None)
    pipeline = AnalyzePipeline.from_engine(engine, options, choice)
    draw_target = _draw_target(args.draw, len(args.images))
    items: list[AnalysedImage] = []
    failures = 0
    for name in args.images:
        try:
            image = decode_image(name, max_pixels=args.max_pixels)
        except FaceKitError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        item = pipeline(name, image)
        items.append(item)
        if args.json:
            print(json.dumps(analysis_record(item)), flush=True)
        else:
            print(describe_analysis(item))
        if draw_target is not None:
            out = draw_target(name)
            write_image_atomic(out, draw_analysis(image, item.analysis), metadata={"Software": f"FaceKit {__version__} analyze"})
            if not args.json:
                print(f"  drawn: {out}")
    if args.similarity and items:
        matrix = pipeline.similarity(items)
        print(json.dumps({"similarity": matrix}) if args.json else describe_similarity(matrix))
    return 1 if failures else 0


def _draw_target(out: str | None, count: int) -> Callable[[str], Path] | None:
    if out is None:
        return None
    target = Path(out)
    if count == 1 and target.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"}:
        target.parent.mkdir(parents=True, exist_ok=True)
        return lambda name: target
    target.mkdir(parents=True, exist_ok=True)
    return lambda name: target / f"{Path(name).stem}_analysis.png"


def describe_analysis(item: AnalysedImage) -> str:
    analysis = item.analysis
    models = ", ".join(f"{k}={v}" for k, v in analysis.models.items())
    lines = [f"{item.name}: {analysis.width}x{analysis.height}, {len(analysis.faces)} face(s) [{models}]"]
    for face in analysis.faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        pose = face.pose
        pose_text = f" yaw {pose.yaw:+.1f} pitch {pose.pitch:+.1f} roll {pose.roll:+.1f}" if pose else ""
        lines.append(f"  #{face.index} box ({x1},{y1})-({x2},{y2}) score {face.score:.2f}{pose_text}")
    lines.extend(f"  note: {note}" for note in analysis.notes)
    return "\n".join(lines)


def describe_similarity(matrix: dict[str, object]) -> str:
    names = matrix["faces"]
    scores = matrix["matrix"]
    assert isinstance(names, list) and isinstance(scores, list)
    lines = [f"identity ({matrix['model']}, same person when {matrix['same_person_when']}):"]
    for i, name in enumerate(names):
        lines.append(f"  {name}: " + " ".join(f"{value:6.3f}" for value in scores[i]))
    return "\n".join(lines)
