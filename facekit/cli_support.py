"""Pieces every CLI command shares: global flags, the engine they build, progress bars."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from facekit.disk import check_folder_path
from facekit.engine import Engine, EngineConfig
from facekit.weights import ProgressCallback

EXIT_USER_ERROR = 2
EXIT_VERIFY_FAILED = 1


def add_global_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Flags accepted both before and after the sub-command."""
    default = argparse.SUPPRESS if suppress else None
    flag_default = default if suppress else False
    parser.add_argument("--models-dir", default=default, help="where weights live (default: <repo>/models or $FACEKIT_MODELS_DIR)")
    parser.add_argument(
        "--mirror",
        action="append",
        default=default,
        help="a folder or base URL holding model files by name; repeatable ($FACEKIT_MIRROR, ';'-separated)",
    )
    parser.add_argument("--offline", action="store_true", default=flag_default, help="never use the network ($FACEKIT_OFFLINE=1)")
    parser.add_argument("--providers", default=default, help="'auto' or a list such as cuda,cpu ($FACEKIT_PROVIDERS)")
    parser.add_argument("--threads", type=int, default=default, help="CPU threads per session (0 = one per core)")
    parser.add_argument("-v", "--verbose", action="store_true", default=flag_default, help="log details")


def engine_from_args(args: argparse.Namespace) -> Engine:
    config = EngineConfig.from_sources(
        models_dir=args.models_dir,
        mirrors=args.mirror,
        offline=args.offline,
        providers=args.providers,
        threads=args.threads,
    )
    check_folder_path(Path(config.models_dir), "--models-dir")
    return Engine(config)


class tqdm_progress:
    """A context manager giving a ProgressCallback that drives one tqdm bar per file."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}  # label -> tqdm bar

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
            bar.close()
