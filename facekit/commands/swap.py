"""`swap --source IMAGE TARGET... -o OUT`: put the source identity onto target faces (batch)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from facekit.adapters.families import families_for
from facekit.analysis import AnalysisOptions, EmbedderChoice
from facekit.batch.backend import add_backend_flags, backend_from_args, run_job_batch
from facekit.batch.jobs import SwapJob, source_bytes
from facekit.cli_support import add_global_flags, tqdm_progress
from facekit.commands.mask_flags import add_mask_flags, mask_options_from_args
from facekit.commands.output_flags import add_output_flags, output_format_from_args
from facekit.engine import Engine
from facekit.face.pixel_boost import RESOLUTIONS
from facekit.imageio import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from facekit.processors.common import FaceSelection
from facekit.processors.swap import DEFAULT_WEIGHT, MOUTH_MODES, SwapOptions, parse_face_map

if TYPE_CHECKING:
    from facekit.processors.restore import RestoreOptions

SWAP_FAMILIES = families_for("swap", model_file=True)  # from the family table


def register(commands: argparse._SubParsersAction) -> None:
    swap = commands.add_parser("swap", help="swap faces (inswapper, or the built-in mesh swap)")
    add_global_flags(swap, suppress=True)
    swap.add_argument("targets", nargs="+", metavar="TARGET", help="target image files or folders")
    swap.add_argument("--source", action="append", required=True, metavar="IMAGE",
                      help="source photo; repeat with more photos of the same person to use their mean identity")
    swap.add_argument("-o", "--output", required=True, metavar="OUT", help="output .png (.jpg, .webp) for one target, else a folder")
    swap.add_argument("--model", help="swap model id (default: the best ready one; `models list --task swap`)")
    swap.add_argument("--model-file", help="your own ONNX swapper file (with --family)")
    swap.add_argument("--family", default="inswapper", choices=SWAP_FAMILIES, help="family of --model-file (default inswapper)")
    swap.add_argument("--source-index", type=int, help="which face of each source photo (default: its largest)")
    swap.add_argument("--faces", default="all", help="target faces: 'all', indexes such as '0,2', or 'ref:PHOTO' (default all)")
    swap.add_argument("--threshold", type=float, help="ref: selection score limit (default: the embedder's same-person rule)")
    swap.add_argument("--map", dest="face_map", metavar="S:T,...", help="source face S onto target face T, e.g. 0:1,1:0 (one source photo)")
    swap.add_argument("--weight", type=float, default=DEFAULT_WEIGHT,
                      help="inswapper identity weight 0..1, higher keeps more of the source (default 0.5)")
    add_swap_resolution_flag(swap)
    swap.add_argument("--keep-mouth", default="open", choices=MOUTH_MODES,
                      help="mesh: keep the target's own mouth and expression when it is open (default), always, or never")
    swap.add_argument("--restore", metavar="ID", help="restore the swapped faces with this restore model afterwards")
    swap.add_argument("--source-embedder", metavar="ID", help="ArcFace model feeding inswapper (default: best ready)")
    swap.add_argument("--source-embedder-file", metavar="PATH", help="your own ArcFace ONNX file feeding inswapper")
    swap.add_argument("--embedder", help="embed model id for the identity report (default: one that did not feed the swapper)")
    swap.add_argument("--no-identity", action="store_true", help="skip the identity report (faster)")
    swap.add_argument("--detector", help="detect model id (default: best ready)")
    swap.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 40 MP)")
    swap.add_argument("--skip-existing", action="store_true", help="leave targets whose output is a finished FaceKit PNG")
    swap.add_argument("--json", action="store_true",
                      help="one JSON line per image; faces carry source_distance and target_distance (dlib_resnet, "
                           "lower = more alike) or source_similarity and target_similarity (ArcFace, higher = more alike)")
    add_mask_flags(swap)
    add_output_flags(swap)
    add_backend_flags(swap)
    swap.set_defaults(run=run_swap)


def add_swap_resolution_flag(parser: argparse.ArgumentParser) -> None:
    """--swap-resolution 128|256|384|512 (pixel boost; shared by `swap` and `video swap`)."""
    parser.add_argument("--swap-resolution", type=int, default=128, choices=RESOLUTIONS, metavar="{128,256,384,512}",
                        help="inswapper crop size: 256/384/512 swap 2x2/3x3/4x4 interleaved 128 px sub-images "
                             "(pixel boost, sharper, 4/9/16x the network time); refused for mesh (default 128)")


def options_from_args(args: argparse.Namespace) -> SwapOptions:
    return SwapOptions(
        model=args.model,
        model_file=Path(args.model_file) if args.model_file else None,
        family=args.family,
        source_index=args.source_index,
        faces=FaceSelection.parse(args.faces, args.threshold),
        face_map=parse_face_map(args.face_map) if args.face_map else (),
        weight=args.weight,
        swap_resolution=args.swap_resolution,
        keep_mouth=args.keep_mouth,
        restore=_restore_options(args.restore),
        embedder=EmbedderChoice(model_id=args.embedder) if args.embedder else None,
        source_embedder=source_embedder_from_args(args),
        analysis=AnalysisOptions(detector=args.detector),
        identity=not args.no_identity,
        mask=mask_options_from_args(args),
    )


def run_swap(engine: Engine, args: argparse.Namespace) -> int:
    options = options_from_args(args)
    _fetch_named_models(engine, options)
    names = tuple(Path(path).name for path in args.source)
    sources = source_bytes(args.source, DEFAULT_MAX_BYTES)
    job = SwapJob(options, sources, names, max_pixels=args.max_pixels, output_format=output_format_from_args(args))
    backend = backend_from_args(args)
    return run_job_batch(engine, job, args.targets, args.output, backend, json_lines=args.json, skip_existing=args.skip_existing)


def _restore_options(model_id: str | None) -> RestoreOptions | None:
    """Restore options for --restore ID (the restore module is imported only when asked for)."""
    if model_id is None:
        return None
    from facekit.processors.restore import RestoreOptions

    return RestoreOptions(model=model_id)


def source_embedder_from_args(args: argparse.Namespace) -> EmbedderChoice | None:
    """The ArcFace model feeding the swapper from --source-embedder-file / --source-embedder (None: best ready)."""
    if args.source_embedder_file:
        return EmbedderChoice(file=Path(args.source_embedder_file), family="arcface")
    if args.source_embedder:
        return EmbedderChoice(model_id=args.source_embedder)
    return None


def _fetch_named_models(engine: Engine, options: SwapOptions) -> None:
    """Download (with a progress bar) the weights of models named by id; offline, the store says what is missing."""
    named = [options.model, options.restore.model if options.restore is not None else None]
    for model_id in named:
        if model_id is not None and engine.manifest.get(model_id).has_weights:
            with tqdm_progress() as progress:
                engine.model_path(model_id, progress)
