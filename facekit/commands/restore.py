"""`restore INPUT... -o OUT`: restore faces in images or folders (batch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facekit.adapters.families import families_for
from facekit.analysis import AnalysisOptions, EmbedderChoice
from facekit.batch.backend import add_backend_flags, backend_from_args, run_job_batch
from facekit.batch.jobs import RestoreJob
from facekit.cli_support import add_global_flags, tqdm_progress
from facekit.commands.mask_flags import add_mask_flags, mask_options_from_args
from facekit.commands.output_flags import add_output_flags, output_format_from_args
from facekit.engine import Engine
from facekit.imageio import DEFAULT_MAX_PIXELS
from facekit.processors.common import FaceSelection
from facekit.processors.restore import RestoreOptions

RESTORE_FAMILIES = families_for("restore", model_file=True)  # from the family table


def register(commands: argparse._SubParsersAction) -> None:
    restore = commands.add_parser("restore", help="restore faces (GFPGAN, CodeFormer, GPEN, RestoreFormer++ or the built-in classic)")
    add_global_flags(restore, suppress=True)
    restore.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    restore.add_argument("-o", "--output", required=True, metavar="OUT", help="output .png (.jpg, .webp) for one input, else a folder")
    restore.add_argument("--model", help="restore model id (default: the best ready one; `models list --task restore`)")
    restore.add_argument("--model-file", help="your own ONNX restorer file (with --family)")
    restore.add_argument("--family", default="gfpgan", choices=RESTORE_FAMILIES, help="family of --model-file (default gfpgan)")
    restore.add_argument("--fidelity", type=float, default=0.5, help="CodeFormer: 0 = quality .. 1 = identity (default 0.5)")
    restore.add_argument("--blend", type=float, default=0.8, help="strength of the restored face, 0..1 (default 0.8)")
    restore.add_argument("--faces", default="all", help="'all', indexes such as '0,2', or 'ref:PHOTO' (default all)")
    restore.add_argument("--upscale", type=float, default=1.0, help="scale the whole image by K first (default 1)")
    restore.add_argument("--upscale-method", default="lanczos", help="lanczos (default), cubic, linear or nearest")
    restore.add_argument("--diffusion", metavar="ID", help="diffusion model id for DifFace-style refinement")
    restore.add_argument("--diffusion-file", metavar="PATH", help="your own ONNX diffusion model: (x, t) -> eps")
    restore.add_argument("--steps", type=int, default=250, help="respaced diffusion steps (default 250)")
    restore.add_argument("--start", type=int, default=100, help="diffusion start step N = network calls per face (default 100)")
    restore.add_argument("--eta", type=float, default=0.5, help="DDIM eta, 0..1 (default 0.5)")
    restore.add_argument("--seed", type=int, default=0, help="diffusion noise seed (default 0)")
    restore.add_argument("--detector", help="detect model id (default: best ready)")
    restore.add_argument("--embedder", help="embed model id for the identity report (default: best ready)")
    restore.add_argument("--no-identity", action="store_true", help="skip the before/after identity report")
    restore.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 40 MP)")
    restore.add_argument("--skip-existing", action="store_true", help="leave inputs whose output is a finished FaceKit PNG")
    restore.add_argument("--json", action="store_true", help="one JSON line per image")
    add_mask_flags(restore)
    add_output_flags(restore)
    add_backend_flags(restore)
    restore.set_defaults(run=run_restore)


def options_from_args(args: argparse.Namespace) -> RestoreOptions:
    return RestoreOptions(
        model=args.model,
        model_file=Path(args.model_file) if args.model_file else None,
        family=args.family,
        fidelity=args.fidelity,
        blend=args.blend,
        faces=FaceSelection.parse(args.faces),
        upscale=args.upscale,
        upscale_method=args.upscale_method,
        embedder=EmbedderChoice(model_id=args.embedder),
        analysis=AnalysisOptions(detector=args.detector),
        identity=not args.no_identity,
        mask=mask_options_from_args(args),
        diffusion=args.diffusion,
        diffusion_file=Path(args.diffusion_file) if args.diffusion_file else None,
        diffusion_steps=args.steps,
        diffusion_start=args.start,
        diffusion_eta=args.eta,
        diffusion_seed=args.seed,
    )


def run_restore(engine: Engine, args: argparse.Namespace) -> int:
    options = options_from_args(args)
    _fetch_named_models(engine, options)
    job = RestoreJob(options, max_pixels=args.max_pixels, output_format=output_format_from_args(args))
    backend = backend_from_args(args)
    return run_job_batch(engine, job, args.inputs, args.output, backend, json_lines=args.json, skip_existing=args.skip_existing)


def _fetch_named_models(engine: Engine, options: RestoreOptions) -> None:
    """Download (with a progress bar) the weights of models named by id; offline, the store says what is missing."""
    for model_id in (options.model, options.diffusion):
        if model_id is not None and engine.manifest.get(model_id).has_weights:
            with tqdm_progress() as progress:
                engine.model_path(model_id, progress)
