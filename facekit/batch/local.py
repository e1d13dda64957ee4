"""The local batch runner: every input in turn in this process, one report line (or JSON line) each.

A bad file of any kind is reported and skipped; the batch goes on. Ctrl-C
stops after the current image with the finished outputs kept, and a full
output disk stops the batch cleanly with one "no space left" line; in both
cases `--skip-existing` resumes. Outputs are written atomically, so an
interrupted run never leaves a half-written image.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

from facekit.batch import storage
from facekit.batch.execute import SKIPPED, finished_outputs, guarded, skipped_row
from facekit.batch.inputs import BatchItem
from facekit.batch.results import ResultsTable

EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_DISK_FULL = 3

ProcessItem = Callable[[BatchItem], dict[str, object]]
ExistingOutputs = Callable[[BatchItem], list[str]]


def single_existing(item: BatchItem) -> list[str]:
    return [item.output] if storage.exists(item.output) else []


def run_batch(
    items: Iterable[BatchItem],
    process: ProcessItem,
    json_lines: bool,
    skip_existing: bool = False,
    show_progress: bool = True,
    stream: TextIO | None = None,
    existing_outputs: ExistingOutputs = single_existing,
    results: ResultsTable | None = None,
) -> int:
    """Run `process` on every item; print a line (or a JSON line) each; return the exit code.

    With `skip_existing`, an item is skipped only when every output it has
    already decodes and carries FaceKit's provenance (a truncated or foreign
    file is redone).
    """
    out = stream or sys.stdout
    failures = done = 0
    for item in _progress(items, show_progress and not json_lines):
        done += 1
        finished = finished_outputs(existing_outputs(item)) if skip_existing else None
        if finished is not None:
            record_row(out, json_lines, skipped_row(item, finished), results)
            continue
        try:
            row = guarded(item, process)
        except storage.DiskFullError as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            print(f"stopped at {item.input}: finished outputs are kept (rerun with --skip-existing)", file=sys.stderr)
            return EXIT_DISK_FULL
        except KeyboardInterrupt:
            print(f"interrupted at {item.input}; finished outputs are kept (rerun with --skip-existing)", file=sys.stderr)
            return EXIT_INTERRUPTED
        failures += row["status"] == "error"
        record_row(out, json_lines, row, results)
    if failures:
        print(f"{failures} of {done} input(s) failed; see the lines above.", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0


def _progress(items: Iterable[BatchItem], enabled: bool) -> Iterator[BatchItem]:
    if not enabled:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, unit="image", file=sys.stderr, total=len(items) if isinstance(items, list) else None)


def record_row(out: TextIO, json_lines: bool, row: dict[str, object], results: ResultsTable | None) -> None:
    """Print a report row (JSON line or a human line) and add it to the results table."""
    if results is not None:
        results.add(row)
    printable = {key: value for key, value in row.items() if key != "worker"}
    if json_lines:
        print(json.dumps(printable, default=str), file=out, flush=True)
        return
    if row.get("status") == "error":
        print(f"error: {row['input']}: {row['error']}", file=sys.stderr, flush=True)
    elif row.get("status") == "skipped":
        print(f"{row['input']}: skipped ({row.get('skipped', SKIPPED)})", file=out, flush=True)
    else:
        faces = row.get("faces")
        count = len(faces) if isinstance(faces, list) else 0
        models = row.get("models") or {}
        used = ", ".join(f"{k}={v}" for k, v in models.items()) if isinstance(models, dict) else ""
        print(f"{row['input']} -> {row['output']}: {count} face(s), {row['seconds']} s [{used}]", file=out, flush=True)
