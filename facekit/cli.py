"""`python -m facekit`: the command line.

User mistakes end with one line on stderr and a non-zero exit; tracebacks
are shown only for bugs (and with -v).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from facekit import __version__
from facekit.engine import Engine, EngineConfig, ModelInfo
from facekit.errors import FaceKitError
from facekit.imageio import DEFAULT_MAX_PIXELS, decode_image, write_image_atomic
from facekit.weights import ProgressCallback, format_bytes

EXIT_USER_ERROR = 2
EXIT_VERIFY_FAILED = 1

Command = Callable[[Engine, argparse.Namespace], int]


def add_global_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Flags accepted both before and after the sub-command."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--models-dir", default=default, help="where weights live (default: <repo>/models or $FACEKIT_MODELS_DIR)")
    parser.add_argument(
        "--mirror",
        action="append",
        default=default,
        help="a folder or base URL holding model files by name; repeatable ($FACEKIT_MIRROR, ';'-separated)",
    )
    flag_default = default if suppress else False
    parser.add_argument("--offline", action="store_true", default=flag_default, help="never use the network ($FACEKIT_OFFLINE=1)")
    parser.add_argument("--providers", default=default, help="'auto' or a list such as cuda,cpu ($FACEKIT_PROVIDERS)")
    parser.add_argument("--threads", type=int, default=default, help="CPU threads per session (0 = one per core)")
    parser.add_argument("-v", "--verbose", action="store_true", default=flag_default, help="log details")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facekit", description="FaceKit: face restoration, swapping and frontalization.")
    parser.add_argument("--version", action="version", version=f"facekit {__version__}")
    add_global_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    models = commands.add_parser("models", help="list, download and verify model weights")
    add_global_flags(models, suppress=True)
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = model_commands.add_parser("list", help="every model with its status, size and licence")
    add_global_flags(listing, suppress=True)
    listing.add_argument("--task", help="only this task (detect, restore, ...)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=run_models_list)

    download = model_commands.add_parser("download", help="fetch and verify models")
    add_global_flags(download, suppress=True)
    download.add_argument("ids", nargs="*", metavar="ID")
    download.add_argument("--all", action="store_true", help="every downloadable model")
    download.add_argument("--force", action="store_true", help="fetch again even if a file is present")
    download.set_defaults(run=run_models_download)

    verify = model_commands.add_parser("verify", help="re-hash files on disk; exit 1 on a mismatch")
    add_global_flags(verify, suppress=True)
    verify.add_argument("ids", nargs="*", metavar="ID", help="default: every model")
    verify.set_defaults(run=run_models_verify)

    analyze = commands.add_parser("analyze", help="detect faces, landmarks and pose; compare identities")
    add_global_flags(analyze, suppress=True)
    analyze.add_argument("images", nargs="+", metavar="IMAGE")
    analyze.add_argument("--detector", help="detect model id (default: best ready)")
    analyze.add_argument("--landmarks", help="68-point landmark model id (default: the detector's own, else best ready)")
    analyze.add_argument("--embedder", help="embed model id for --similarity (default: best ready)")
    analyze.add_argument("--embedder-file", help="your own ArcFace-style ONNX recogniser (112x112 input) for --similarity")
    analyze.add_argument("--score-threshold", type=float, default=0.5, help="minimum detection score, 0..1 (default 0.5)")
    analyze.add_argument("--max-faces", type=int, help="keep at most this many faces per image (highest scores)")
    analyze.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 40 MP)")
    analyze.add_argument("--json", action="store_true", help="one JSON object per image (then the similarity object)")
    analyze.add_argument("--similarity", action="store_true", help="pairwise identity scores between all faces")
    analyze.add_argument("--draw", metavar="OUT", help="write annotated images: a file for one input, else a folder")
    analyze.set_defaults(run=run_analyze)
    return parser


def engine_from_args(args: argparse.Namespace) -> Engine:
    config = EngineConfig.from_sources(
        models_dir=args.models_dir,
        mirrors=args.mirror,
        offline=args.offline,
        providers=args.providers,
        threads=args.threads,
    )
    return Engine(config)


# ------------------------------------------------------------------ commands
def run_models_list(engine: Engine, args: argparse.Namespace) -> int:
    infos = engine.models(args.task)
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2))
        return 0
    print(format_model_table(infos))
    if engine.config.offline:
        print("\noffline: nothing will be downloaded.")
    return 0


def format_model_table(infos: Sequence[ModelInfo]) -> str:
    header = ("id", "task", "family", "source", "status", "size", "licence")
    rows = [header] + [
        (
            info.entry.id,
            info.entry.task,
            info.entry.family,
            info.entry.source,
            info.status.state if info.status.ready else f"{info.status.state}: {info.status.detail}",
            format_bytes(info.entry.bytes) if info.entry.file else "-",
            info.entry.licence.name + ("" if info.entry.licence.commercial else " [non-commercial]"),
        )
        for info in infos
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in rows]
    return "\n".join(lines)


def run_models_download(engine: Engine, args: argparse.Namespace) -> int:
    ids = [e.id for e in engine.manifest if e.source == "url" and e.archive is None] if args.all else args.ids
    if not ids:
        raise FaceKitError("Name at least one model id, or pass --all.", "See `python -m facekit models list`.")
    for model_id in ids:
        entry = engine.manifest.get(model_id)
        if entry.source != "url":
            print(f"{model_id}: {entry.source} model, nothing to download ({engine.weights.status(model_id).detail})")
            continue
        with tqdm_progress() as progress:
            path = engine.weights.resolve(model_id, progress=progress, force=args.force)
        print(f"{model_id}: verified {path}")
    return 0


def run_models_verify(engine: Engine, args: argparse.Namespace) -> int:
    ids = args.ids or engine.manifest.ids
    failures = 0
    for model_id in ids:
        ok, message = engine.weights.verify(model_id)
        failures += not ok
        print(f"{model_id}: {'ok' if ok else 'MISMATCH'} - {message}", file=sys.stdout if ok else sys.stderr)
    if failures:
        print(f"{failures} file(s) failed verification; delete them and run `models download ID`.", file=sys.stderr)
        return EXIT_VERIFY_FAILED
    return 0


def run_analyze(engine: Engine, args: argparse.Namespace) -> int:
    from facekit.face.analyser import AnalysisOptions, EmbedderChoice, FaceAnalyser
    from facekit.processors.analyze import AnalysedImage, analysis_record, draw_analysis, similarity_matrix

    options = AnalysisOptions(
        detector=args.detector, landmarks=args.landmarks, score_threshold=args.score_threshold, max_faces=args.max_faces
    )
    choice = EmbedderChoice(model_id=args.embedder, file=Path(args.embedder_file) if args.embedder_file else None)
    analyser = FaceAnalyser(engine)
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
        item = AnalysedImage(name=name, image=image, analysis=analyser.analyse(image, options))
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
        matrix = similarity_matrix(analyser, items, choice)
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


def describe_analysis(item: object) -> str:
    from facekit.processors.analyze import AnalysedImage

    assert isinstance(item, AnalysedImage)
    analysis = item.analysis
    models = ", ".join(f"{k}={v}" for k, v in analysis.models.items())
    lines = [f"{item.name}: {analysis.width}x{analysis.height}, {len(analysis.faces)} face(s) [{models}]"]
    for face in analysis.faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        pose = face.pose
        pose_text = f" yaw {pose.yaw:+.1f} pitch {pose.pitch:+.1f} roll {pose.roll:+.1f}" if pose else ""
        lines.append(f"  #{face.index} box ({x1},{y1})-({x2},{y2}) score {face.score:.2f}{pose_text}")
    return "\n".join(lines)


def describe_similarity(matrix: dict[str, object]) -> str:
    names = matrix["faces"]
    scores = matrix["matrix"]
    assert isinstance(names, list) and isinstance(scores, list)
    lines = [f"identity ({matrix['model']}, same person when {matrix['same_person_when']}):"]
    for i, name in enumerate(names):
        lines.append(f"  {name}: " + " ".join(f"{value:6.3f}" for value in scores[i]))
    return "\n".join(lines)


class tqdm_progress:
    """A context manager giving a ProgressCallback that drives one tqdm bar per file."""

    def __init__(self) -> None:
        self._bars: dict[str, object] = {}

    def __enter__(self) -> ProgressCallback:
        from tqdm import tqdm

        def update(label: str, done: int, total: int | None) -> None:
            bar = self._bars.get(label)
            if bar is None:
                bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr, leave=True)
                self._bars[label] = bar
            bar.total = total
            bar.n = done
            bar.refresh()

        return update

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        engine = engine_from_args(args)
        return args.run(engine, args)
    except FaceKitError as error:
        if args.verbose:
            logging.exception("details")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
