"""`video restore IN -o OUT.mp4` and `video swap IN --source PHOTO... -o OUT.mp4`: faces in videos and animations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from facekit.adapters.families import families_for
from facekit.analysis import AnalysisOptions, EmbedderChoice
from facekit.cli_support import add_global_flags
from facekit.commands.mask_flags import add_mask_flags, mask_options_from_args
from facekit.commands.swap import add_swap_resolution_flag, source_embedder_from_args
from facekit.engine import Engine
from facekit.imageio import decode_image
from facekit.media.video import X264_PRESETS, EncodeOptions, VideoLimits
from facekit.processors.restore import RestoreOptions
from facekit.processors.swap import DEFAULT_WEIGHT, SwapOptions
from facekit.processors.video import TrackSelection, VideoOptions, VideoProgress, VideoResult, restore_video, swap_video

DEFAULTS = VideoLimits()


def register(commands: argparse._SubParsersAction) -> None:
    video = commands.add_parser("video", help="restore or swap faces in a video or animation (MP4, MOV, MKV, WebM, GIF, WebP, APNG)")
    jobs = video.add_subparsers(dest="video_job", metavar="JOB", required=True)
    restore = jobs.add_parser("restore", help="restore the faces of every frame")
    _common(restore)
    restore.add_argument("--model", help="restore model id (default: the best ready one)")
    restore.add_argument("--model-file", help="your own ONNX restorer file (with --family)")
    restore.add_argument("--family", default="gfpgan", choices=families_for("restore", model_file=True), help="family of --model-file")
    restore.add_argument("--fidelity", type=float, default=0.5, help="CodeFormer: 0 = quality .. 1 = identity (default 0.5)")
    restore.add_argument("--blend", type=float, default=0.8, help="strength of the restored face, 0..1 (default 0.8)")
    restore.set_defaults(run=run_video_restore)
    swap = jobs.add_parser("swap", help="put the source person's face onto the faces of every frame")
    _common(swap)
    swap.add_argument("--source", action="append", required=True, metavar="PHOTO", help="source photo (repeat for more of the person)")
    swap.add_argument("--model", help="swap model id (default: the best ready one; mesh offline)")
    swap.add_argument("--model-file", help="your own ONNX swapper file (with --family)")
    swap.add_argument("--family", default="inswapper", choices=families_for("swap", model_file=True), help="family of --model-file")
    swap.add_argument("--source-index", type=int, help="which face of each source photo (default: its largest)")
    swap.add_argument("--weight", type=float, default=DEFAULT_WEIGHT, help="inswapper identity weight 0..1 (default 0.5)")
    add_swap_resolution_flag(swap)
    swap.add_argument("--restore", metavar="ID", help="restore the swapped faces with this restore model")
    swap.add_argument("--source-embedder", metavar="ID", help="ArcFace model feeding inswapper (default: best ready)")
    swap.add_argument("--source-embedder-file", metavar="PATH", help="your own ArcFace ONNX file feeding inswapper")
    swap.set_defaults(run=run_video_swap)


def _common(parser: argparse.ArgumentParser) -> None:
    add_global_flags(parser, suppress=True)
    parser.add_argument("input", metavar="IN", help="video or animated GIF/WebP/APNG")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.mp4 (H.264), or .gif/.webp/.png for an animation")
    parser.add_argument("--tracks", default="all", help="'all', track ids such as '0,2' (see --json), or 'ref:PHOTO' (default all)")
    parser.add_argument("--detect-every", type=int, default=1, help="run the detector every N frames, follow faces in between (default 1)")
    parser.add_argument("--smoothing", type=float, default=0.5, help="landmark smoothing 0..1 against jitter, 0 = off (default 0.5)")
    parser.add_argument("--identity-every", type=int, default=30, help="sample identity scores every K frames, 0 = never (default 30)")
    parser.add_argument("--no-identity", action="store_true", help="skip the identity scores")
    parser.add_argument("--embedder", help="embed model id for the identity scores (default: best ready)")
    parser.add_argument("--detector", help="detect model id (default: best ready; yunet_2023mar is fast)")
    parser.add_argument("--crf", type=int, default=20, help="H.264 quality 0..51, lower is better (default 20)")
    parser.add_argument("--preset", default="veryfast", choices=X264_PRESETS, help="x264 speed preset (default veryfast)")
    parser.add_argument("--label", action=argparse.BooleanOptionalAction, default=None,
                        help="burn a visible 'AI-edited' label into the corner (default: on for swaps with --hosted)")
    parser.add_argument("--hosted", action="store_true", help="the stricter limits of a public server (60 s, 1800 frames, 1080p)")
    parser.add_argument("--max-seconds", type=float, help=f"refuse longer inputs (default {DEFAULTS.max_seconds:g})")
    parser.add_argument("--max-frames", type=int, help=f"refuse inputs with more frames (default {DEFAULTS.max_frames})")
    parser.add_argument("--max-pixels", type=int, help=f"refuse larger frames (default {DEFAULTS.max_pixels})")
    parser.add_argument("--json", action="store_true", help="print the JSON report (frames, tracks, identity samples, seconds per stage)")
    parser.add_argument("--report", metavar="PATH", help="also write the JSON report to PATH")
    add_mask_flags(parser)


def video_options(args: argparse.Namespace, label_default: bool) -> VideoOptions:
    base = VideoLimits.hosted() if args.hosted else VideoLimits()
    limits = VideoLimits(
        max_seconds=args.max_seconds if args.max_seconds is not None else base.max_seconds,
        max_frames=args.max_frames if args.max_frames is not None else base.max_frames,
        max_pixels=args.max_pixels if args.max_pixels is not None else base.max_pixels,
    )
    return VideoOptions(
        detect_every=args.detect_every,
        smoothing=args.smoothing,
        tracks=TrackSelection.parse(args.tracks),
        identity_every=args.identity_every,
        label=label_default if args.label is None else args.label,
        encode=EncodeOptions(crf=args.crf, preset=args.preset),
        limits=limits,
        analysis=AnalysisOptions(detector=args.detector),
    )


def run_video_restore(engine: Engine, args: argparse.Namespace) -> int:
    restore = RestoreOptions(
        model=args.model,
        model_file=Path(args.model_file) if args.model_file else None,
        family=args.family,
        fidelity=args.fidelity,
        blend=args.blend,
        embedder=EmbedderChoice(model_id=args.embedder),
        identity=not args.no_identity,
        mask=mask_options_from_args(args),
    )
    options = video_options(args, label_default=False)
    with _progress_bar() as progress:
        result = restore_video(engine, args.input, args.output, restore, options, progress)
    return _finish(result, args)


def run_video_swap(engine: Engine, args: argparse.Namespace) -> int:
    swap = SwapOptions(
        model=args.model,
        model_file=Path(args.model_file) if args.model_file else None,
        family=args.family,
        source_index=args.source_index,
        weight=args.weight,
        swap_resolution=args.swap_resolution,
        restore=RestoreOptions(model=args.restore, identity=False) if args.restore else None,
        embedder=EmbedderChoice(model_id=args.embedder) if args.embedder else None,
        source_embedder=source_embedder_from_args(args),
        identity=not args.no_identity,
        mask=mask_options_from_args(args),
    )
    options = video_options(args, label_default=args.hosted)
    sources = [decode_image(path) for path in args.source]
    names = [Path(path).name for path in args.source]
    with _progress_bar() as progress:
        result = swap_video(engine, sources, args.input, args.output, swap, options, progress, names)
    return _finish(result, args)


def _finish(result: VideoResult, args: argparse.Namespace) -> int:
    text = json.dumps(result.report, indent=None if args.json else 2)
    if args.report:
        Path(args.report).write_text(text + "\n")
    if args.json:
        print(text)
    else:
        frames = result.report["frames"]
        print(f"wrote {result.output} ({frames['written']} frames, {len(result.report['tracks'])} track(s), {result.report['fps']} fps)")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


class _progress_bar:
    """A tqdm bar per frame (fps and ETA) as a VideoProgress."""

    bar: Any = None

    def __enter__(self) -> VideoProgress:
        from tqdm import tqdm

        def update(done: int, total: int | None) -> None:
            if self.bar is None:  # opened at the first frame, so an error about the file prints on a clean line
                self.bar = tqdm(total=total, unit="frame", desc="video", file=sys.stderr, leave=False, dynamic_ncols=True)
            self.bar.update(done - self.bar.n)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
