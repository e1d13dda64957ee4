"""Batch runs for the CLI: inputs (files or folders) -> outputs, one report line per image.

A bad file is reported and skipped; the batch goes on. Ctrl-C stops after
the current image with the finished outputs kept; `skip_existing` resumes.
Outputs are written atomically, so an interrupted run never leaves a
half-written image.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from facekit.errors import FaceKitError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"})
EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class BatchItem:
    """One input and where its output goes (a file; jobs with several outputs derive names from it)."""

    input: Path
    output: Path


def collect_inputs(paths: list[str]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted, not recursive)."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise FaceKitError(f"Input not found: {path}.", "Check the path.")
    if not found:
        raise FaceKitError("No input images found.", f"Give image files or folders holding {', '.join(sorted(IMAGE_SUFFIXES))} files.")
    return found


def plan_outputs(inputs: list[Path], out: str, inputs_given: int) -> list[BatchItem]:
    """One input file and an OUT with an image suffix: write exactly OUT. Otherwise OUT is a folder of `<stem>.png`."""
    target = Path(out)
    if len(inputs) == 1 and inputs_given == 1 and target.suffix.lower() == ".png":
        return [BatchItem(inputs[0], target)]
    if target.suffix.lower() in IMAGE_SUFFIXES and not target.is_dir():
        if len(inputs) == 1:
            raise FaceKitError(
                f"-o {out}: FaceKit writes PNG files (they carry the AI-edited label).", f"Use -o {target.with_suffix('.png')}."
            )
        raise FaceKitError(f"-o {out} names a file, but there are {len(inputs)} inputs.", "Give a folder for -o.")
    items = [BatchItem(path, target / f"{path.stem}.png") for path in inputs]
    _check_unique_outputs(items)
    return items


def _check_unique_outputs(items: list[BatchItem]) -> None:
    seen: dict[Path, Path] = {}
    for item in items:
        if item.output in seen:
            raise FaceKitError(
                f"{seen[item.output]} and {item.input} would both be written to {item.output}.",
                "Rename one of them or run them separately.",
            )
        seen[item.output] = item.input


ProcessItem = Callable[[BatchItem], dict[str, object]]


def run_batch(
    items: list[BatchItem],
    process: ProcessItem,
    json_lines: bool,
    skip_existing: bool = False,
    show_progress: bool = True,
    stream: TextIO | None = None,
) -> int:
    """Run `process` on every item; print a line (or a JSON line) each; return the exit code."""
    out = stream or sys.stdout
    failures = 0
    for item in _progress(items, show_progress and not json_lines):
        if skip_existing and item.output.exists():
            _emit(out, json_lines, {"input": str(item.input), "output": str(item.output), "skipped": "output exists"})
            continue
        started = time.perf_counter()
        try:
            item.output.parent.mkdir(parents=True, exist_ok=True)
            record = {"input": str(item.input), "output": str(item.output), **process(item)}
        except FaceKitError as error:
            failures += 1
            record = {"input": str(item.input), "error": str(error)}
        except KeyboardInterrupt:
            print(f"interrupted at {item.input}; finished outputs are kept (rerun with --skip-existing)", file=sys.stderr)
            return EXIT_INTERRUPTED
        record.setdefault("seconds", round(time.perf_counter() - started, 3))
        _emit(out, json_lines, record)
    if failures:
        print(f"{failures} of {len(items)} input(s) failed; see the lines above.", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0


def _progress(items: list[BatchItem], enabled: bool) -> Iterator[BatchItem]:
    if not enabled or len(items) < 2:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, unit="image", file=sys.stderr)


def _emit(out: TextIO, json_lines: bool, record: dict[str, object]) -> None:
    if json_lines:
        print(json.dumps(record, default=str), file=out, flush=True)
        return
    if "error" in record:
        print(f"error: {record['input']}: {record['error']}", file=sys.stderr, flush=True)
    elif "skipped" in record:
        print(f"{record['input']}: skipped ({record['skipped']})", file=out, flush=True)
    else:
        faces = record.get("faces")
        count = len(faces) if isinstance(faces, list) else 0
        models = record.get("models") or {}
        used = ", ".join(f"{k}={v}" for k, v in models.items()) if isinstance(models, dict) else ""
        print(f"{record['input']} -> {record['output']}: {count} face(s), {record['seconds']} s [{used}]", file=out, flush=True)
