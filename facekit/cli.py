"""`python -m facekit`: the command line.

User mistakes end with one line on stderr and a non-zero exit; tracebacks
are shown only for bugs (and with -v). Each command lives in
`facekit/commands/<name>.py` and registers its own parser.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from facekit import __version__
from facekit.cli_support import EXIT_USER_ERROR, add_global_flags, engine_from_args
from facekit.commands import analyze, frontalize, models, restore, swap, video
from facekit.disk import os_error_sentence
from facekit.errors import FaceKitError

COMMAND_MODULES = (models, analyze, restore, swap, frontalize, video)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facekit", description="FaceKit: face restoration, swapping and frontalization.")
    parser.add_argument("--version", action="version", version=f"facekit {__version__}")
    add_global_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        engine = engine_from_args(args)
        return args.run(engine, args)
    except FaceKitError as error:
        return _user_error(error, args.verbose)
    except OSError as error:
        if error.filename is None:  # not about a path the user gave: a bug, shown with its traceback
            raise
        return _user_error(os_error_sentence(error), args.verbose)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _user_error(error: FaceKitError, verbose: bool) -> int:
    if verbose:
        logging.exception("details")
    print(f"error: {error}", file=sys.stderr)
    return EXIT_USER_ERROR
