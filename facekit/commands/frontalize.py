"""`frontalize INPUT... -o OUT`: one frontal face image (or sheet) per selected face."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facekit.adapters.families import families_for
from facekit.analysis import EmbedderChoice
from facekit.batch.backend import add_backend_flags, backend_from_args, run_job_batch
from facekit.batch.jobs import FrontalizeJob
from facekit.cli_support import add_global_flags
from facekit.commands.output_flags import add_output_flags, output_format_from_args
from facekit.engine import Engine
from facekit.imageio import DEFAULT_MAX_PIXELS
from facekit.processors.common import FaceSelection
from facekit.processors.frontalize import DEFAULT_MAX_YAW, DEFAULT_MIN_FACE_PX, FrontalizeOptions
from facekit.processors.reports import FrontalizeFaceReport


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "frontalize",
        help="turn faces to a frontal view (3D-guided warp + soft symmetry), with pose and identity scores",
        description="Writes OUT/<name>_face<N>.png (.jpg, .webp with --format) for each selected face (N = its index, left to right).",
    )
    add_global_flags(parser, suppress=True)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (or a .png name base for one input)")
    parser.add_argument("--faces", default="all", help="'all', indexes such as '0,2', or 'ref:PHOTO' (faces like that person)")
    parser.add_argument("--model", help="frontalize model id (default: best ready, i.e. geometric)")
    parser.add_argument("--refine", metavar="ID", help="restore model run on each frontal face: classic, gfpgan_1.4, codeformer, ...")
    parser.add_argument("--refine-file", metavar="PATH", help="your own restorer ONNX file for --refine (see --refine-family)")
    parser.add_argument(
        "--refine-family", default="gfpgan", choices=families_for("restore", model_file=True), help="family of --refine-file"
    )
    parser.add_argument("--fidelity", type=float, default=0.5, help="CodeFormer fidelity 0..1 for --refine (default 0.5)")
    parser.add_argument("--size", type=int, default=512, help="output size in pixels on the FFHQ template (default 512)")
    parser.add_argument(
        "--max-yaw", type=float, default=DEFAULT_MAX_YAW, help=f"skip faces turned more (degrees, default {DEFAULT_MAX_YAW:g})"
    )
    parser.add_argument(
        "--min-face-px", type=float, default=DEFAULT_MIN_FACE_PX, help=f"skip narrower faces (default {DEFAULT_MIN_FACE_PX:g} px)"
    )
    parser.add_argument("--embedder", help="embed model id for the identity score and ref: (default: best ready)")
    parser.add_argument("--no-measure", action="store_true", help="skip re-detecting the output (no pose-after / identity scores)")
    parser.add_argument("--sheet", action="store_true", help="write side-by-side sheets (aligned input | frontal) instead")
    parser.add_argument("--skip-existing", action="store_true", help="skip inputs whose face files exist as finished FaceKit PNGs")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 40 MP)")
    parser.add_argument("--json", action="store_true", help="one JSON line per input")
    add_output_flags(parser)
    add_backend_flags(parser)
    parser.set_defaults(run=run_frontalize)


def options_from_args(args: argparse.Namespace) -> FrontalizeOptions:
    return FrontalizeOptions(
        faces=FaceSelection.parse(args.faces),
        model=args.model,
        refine=args.refine,
        refine_file=Path(args.refine_file) if args.refine_file else None,
        refine_family=args.refine_family,
        fidelity=args.fidelity,
        size=args.size,
        max_yaw=args.max_yaw,
        min_face_px=args.min_face_px,
        embedder=EmbedderChoice(model_id=args.embedder),
        measure=not args.no_measure,
    )


def run_frontalize(engine: Engine, args: argparse.Namespace) -> int:
    options = options_from_args(args)
    backend = backend_from_args(args)
    describe = print_face if not args.json and backend.backend == "local" else None
    output_format = output_format_from_args(args)
    job = FrontalizeJob(options, sheet=args.sheet, max_pixels=args.max_pixels, describe=describe, output_format=output_format)
    return run_job_batch(engine, job, args.inputs, args.output, backend, json_lines=args.json, skip_existing=args.skip_existing)


def print_face(report: FrontalizeFaceReport) -> None:
    print(describe_face(report), file=sys.stdout if report.ok else sys.stderr)


def describe_face(face: FrontalizeFaceReport) -> str:
    """One human-readable line per face."""
    if face.status == "skipped":
        return f"  face {face.index}: skipped: {face.message}"
    before_yaw = face.pose_before.yaw if face.pose_before is not None else 0.0
    parts = [f"  face {face.index}: yaw {before_yaw:+.1f}"]
    measure = face.measure
    if measure is not None and measure.pose_after is not None:
        parts.append(f" -> {measure.pose_after.yaw:+.1f}")
    elif measure is not None:
        parts.append(" -> (no face found on the output)")
    if measure is not None and measure.identity is not None:
        identity = measure.identity
        verdict = "same person" if identity.same_person else "NOT the same person"
        parts.append(f", identity {identity.kind} {identity.value:.3f} ({identity.model}, {identity.direction}: {verdict})")
    parts.append(f", symmetry {face.symmetry or 0.0:.3f}, mirrored fill {100 * (face.fill_fraction or 0.0):.0f}%")
    if face.file is not None:
        parts.append(f" -> {face.file}")
    if face.status == "poor":
        parts.append(f" [{face.message}]")
    return "".join(parts)
