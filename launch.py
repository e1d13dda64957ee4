"""Start the FaceKit Gradio app: `python launch.py [--host H] [--port P] [--share] ...`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from facekit.cli_support import add_global_flags, engine_from_args
from facekit.errors import FaceKitError

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_UPLOAD = "25mb"


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
    add_global_flags(parser, suppress=False)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    from app import build_demo  # gradio is imported only by the app

    if args.max_faces is not None and args.max_faces < 1:
        print("error: --max-faces must be 1 or more.", file=sys.stderr)
        return 2
    demo = build_demo(engine, hosted=args.hosted, max_faces=args.max_faces)
    demo.launch(server_name=host, server_port=args.port, share=args.share, max_file_size=MAX_UPLOAD, show_error=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
