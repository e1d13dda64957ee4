"""Start the FaceKit Gradio app: `python launch.py [--host H] [--port P] [--share] ...`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping

from facekit import recommended
from facekit.cli_support import add_global_flags, engine_from_args
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.weights import ProgressCallback, format_bytes

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_UPLOAD = "25mb"  # photos; Gradio has one limit for every upload, so the Video tab's cap raises it (see upload_limit)
DOWNLOAD_CHOICES = ("none", "recommended", "commercial")


def upload_limit(hosted: bool) -> str:
    """Gradio's one upload limit: the Video tab's cap (photos stay limited by FaceKit's decoder, 50 MB and 40 MP)."""
    from app.video_tab import MAX_UPLOAD_MB

    return f"{max(int(MAX_UPLOAD.removesuffix('mb')), MAX_UPLOAD_MB[hosted])}mb"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Start the FaceKit web app.")
    parser.add_argument(
        "--host",
        default=None,
        help="address to bind (default 127.0.0.1; $GRADIO_SERVER_NAME is honoured, e.g. on Hugging Face Spaces)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="open a public gradio.live link (exposes the app to the internet)")
    parser.add_argument(
        "--hosted",
        action="store_true",
        default=bool(os.environ.get("SPACE_ID")),
        help="public-demo mode: visible 'AI-edited' labels on swaps by default (on automatically on Hugging Face Spaces)",
    )
    parser.add_argument(
        "--max-faces",
        type=int,
        default=None,
        help="work on at most this many faces per photo, the most confident (default 64; 20 with --hosted); a warning says when capped",
    )
    parser.add_argument(
        "--download",
        choices=DOWNLOAD_CHOICES,
        default=default_download(os.environ),
        help="fetch and verify a model set before serving: 'recommended' (best results), 'commercial' (licences that allow "
        "commercial use) or 'none' (default; on a Hugging Face Space 'recommended'; $FACEKIT_DOWNLOAD)",
    )
    add_global_flags(parser, suppress=False)
    return parser.parse_args(argv)


def default_download(environ: Mapping[str, str]) -> str:
    """$FACEKIT_DOWNLOAD, else 'recommended' on a Hugging Face Space (so its first request uses learned models), else 'none'."""
    chosen = environ.get("FACEKIT_DOWNLOAD", "").strip().lower()
    if chosen:
        return chosen
    return "recommended" if environ.get("SPACE_ID") else "none"


def prepare_models(engine: Engine, download: str, say: Callable[[str], None]) -> bool:
    """Fetch and verify the chosen set with progress lines; False (and why) when some of it could not be had.

    The app starts either way: what is missing falls back to the embedded defaults, and each result says which model ran.
    """
    if download == "none":
        return True
    planned = recommended.plan(engine, commercial_only=download == "commercial")
    say(f"--download {download}: {len(planned)} model(s); {recommended.offline_report(planned)}")
    try:
        recommended.fetch(engine, planned, log_progress(say), say)
    except FaceKitError as error:
        say(f"warning: the {download} set is incomplete: {error}")
        say(recommended.offline_report(recommended.plan(engine, commercial_only=download == "commercial")))
        return False
    return True


def log_progress(say: Callable[[str], None], step: float = 0.1) -> ProgressCallback:
    """A progress callback printing one line per file each `step` of its size."""
    reported: dict[str, float] = {}

    def update(label: str, done: int, total: int | None) -> None:
        if not total:
            return
        fraction = done / total
        if fraction >= reported.get(label, -1.0) + step or (done >= total and reported.get(label, 0.0) < 1.0):
            reported[label] = 1.0 if done >= total else fraction
            say(f"  {label}: {format_bytes(done)} of {format_bytes(total)} ({fraction:.0%})")

    return update


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.download not in DOWNLOAD_CHOICES:
        print(f"error: FACEKIT_DOWNLOAD={args.download!r} is not one of {', '.join(DOWNLOAD_CHOICES)}.", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    host = args.host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    if host not in LOCAL_HOSTS:
        print(f"warning: binding {host}: anyone who can reach this machine can use the app.", file=sys.stderr)
    if args.share:
        print("warning: --share publishes the app on a public URL; uploaded faces leave this machine.", file=sys.stderr)
    try:
        engine = engine_from_args(args)
    except FaceKitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prepare_models(engine, args.download, _say)
    from app import build_demo  # gradio is imported only by the app

    if args.max_faces is not None and args.max_faces < 1:
        print("error: --max-faces must be 1 or more.", file=sys.stderr)
        return 2
    demo = build_demo(engine, hosted=args.hosted, max_faces=args.max_faces)
    demo.launch(server_name=host, server_port=args.port, share=args.share, max_file_size=upload_limit(args.hosted), show_error=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
