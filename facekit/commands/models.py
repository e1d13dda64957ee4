"""`models list | download | verify`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from facekit import recommended
from facekit.cli_support import EXIT_VERIFY_FAILED, add_global_flags, tqdm_progress
from facekit.engine import Engine, ModelInfo
from facekit.errors import FaceKitError
from facekit.weights import format_bytes


def register(commands: argparse._SubParsersAction) -> None:
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
    download.add_argument(
        "--recommended", action="store_true", help="the recommended set (restore, swap + its embedder, detect; weights_manifest.yaml)"
    )
    download.add_argument(
        "--commercial-only", action="store_true", help="with --recommended: only models whose licence allows commercial use"
    )
    download.add_argument("--force", action="store_true", help="fetch again even if a file is present")
    download.set_defaults(run=run_models_download)

    verify = model_commands.add_parser("verify", help="re-hash files on disk; exit 1 on a mismatch")
    add_global_flags(verify, suppress=True)
    verify.add_argument("ids", nargs="*", metavar="ID", help="default: every model")
    verify.set_defaults(run=run_models_verify)


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
            info.entry.family or "-",
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
    if args.commercial_only and not args.recommended:
        raise FaceKitError("--commercial-only goes with --recommended.", "Run `models download --recommended --commercial-only`.")
    if args.recommended:
        return download_recommended(engine, args.commercial_only)
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


def download_recommended(engine: Engine, commercial_only: bool) -> int:
    """Fetch and verify the recommended set; offline, say what is missing and how big it is (exit 1)."""
    planned = recommended.plan(engine, commercial_only)
    if engine.config.offline and any(p.missing and p.status.state == "unavailable" for p in planned):
        print(recommended.offline_report(planned), file=sys.stderr)
        print("offline: nothing was downloaded; run without --offline, or pass --mirror FOLDER that holds these files.", file=sys.stderr)
        return EXIT_VERIFY_FAILED
    with tqdm_progress() as progress:
        recommended.fetch(engine, planned, progress)
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
