"""Where a batch runs: `--backend local` (this process, the default) or `--backend ray` (Ray Data).

Both backends read the same inputs, call the same per-image function
(facekit.batch.execute), write the same files under the same names and
report the same rows; `--results FILE` keeps them as a table.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from facekit.batch.execute import new_run_id, process_item
from facekit.batch.inputs import IMAGE_SUFFIXES, BatchItem, plan_items, suffix
from facekit.batch.jobs import BatchJob
from facekit.batch.local import run_batch
from facekit.batch.results import ResultsTable
from facekit.batch.storage import is_uri
from facekit.disk import check_folder_path
from facekit.engine import Engine
from facekit.errors import FaceKitError

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class BackendOptions:
    """How and where to run a batch."""

    backend: str = "local"
    ray_address: str | None = None  # None: $RAY_ADDRESS, else start a local Ray instance
    min_workers: int = 1
    max_workers: int = 1
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    batch_size: int = 8
    results: str | None = None
    recursive: bool = False
    actor_registry: str | None = None  # tests/debugging only (no flag): a named Ray actor each worker sends its own handle to

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise FaceKitError(f"Unknown backend {self.backend!r}.", "Use --backend local or --backend ray.")
        if not 1 <= self.min_workers <= self.max_workers:
            raise FaceKitError(
                f"--workers {self.min_workers}-{self.max_workers} is not a valid range.", "Use N or MIN-MAX with 1 <= MIN <= MAX."
            )
        if self.gpus_per_worker < 0 or self.cpus_per_worker <= 0:
            raise FaceKitError("--gpus-per-worker must be >= 0 and --cpus-per-worker > 0.", "Fractions are fine, e.g. 0.5.")
        if self.batch_size < 1:
            raise FaceKitError(f"--batch-size {self.batch_size} must be at least 1.", "e.g. --batch-size 8")

    @property
    def address(self) -> str | None:
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None


def parse_workers(text: str) -> tuple[int, int]:
    """'4' -> (4, 4); '2-8' -> (2, 8) for an autoscaling pool."""
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got {text!r}") from None


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every batch command shares."""
    group = parser.add_argument_group("batch backend")
    group.add_argument("--backend", choices=BACKENDS, default="local", help="local: this process (default); ray: Ray Data")
    group.add_argument("--ray-address", metavar="ADDR", help="Ray cluster to join (default $RAY_ADDRESS; none = start a local Ray)")
    group.add_argument("--workers", type=parse_workers, default=(1, 1), metavar="N|MIN-MAX", help="Ray actors, or an autoscaling range")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="F", help="GPUs per Ray actor, fractions share a GPU")
    group.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="F", help="CPUs per Ray actor (default 1; fractions allowed)")
    group.add_argument("--batch-size", type=int, default=8, metavar="N", help="images per Ray batch (default 8)")
    group.add_argument("--results", metavar="FILE", help="write the results table to FILE (.jsonl or .parquet)")
    group.add_argument("--recursive", action="store_true", help="walk input folders' sub-folders (mirrored under OUT)")


def backend_from_args(args: argparse.Namespace) -> BackendOptions:
    low, high = args.workers
    if args.backend == "local":
        ray_only = [
            flag
            for flag, given in (
                ("--ray-address", args.ray_address),
                ("--workers", (low, high) != (1, 1)),
                ("--gpus-per-worker", args.gpus_per_worker),
                ("--cpus-per-worker", args.cpus_per_worker != 1.0),
            )
            if given
        ]
        if ray_only:
            raise FaceKitError(f"{', '.join(ray_only)} only apply to --backend ray.", "Add --backend ray, or leave them out.")
    return BackendOptions(
        backend=args.backend,
        ray_address=args.ray_address,
        min_workers=low,
        max_workers=high,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        batch_size=args.batch_size,
        results=args.results,
        recursive=args.recursive,
    )


def run_job_batch(
    engine: Engine, job: BatchJob, inputs: list[str], out: str, options: BackendOptions, json_lines: bool, skip_existing: bool
) -> int:
    """Run `job` on every input with the chosen backend; the exit code."""
    if not is_uri(out):  # -o below a file: one error line before any work (issue 18.12)
        check_folder_path(Path(out).parent if suffix(out) in IMAGE_SUFFIXES else Path(out), "-o")
    items = plan_items(
        inputs,
        out,
        options.recursive,
        output_suffix=getattr(job, "output_suffix", ".png"),
        wanted=getattr(job, "input_suffixes", IMAGE_SUFFIXES),
    )
    results = ResultsTable(options.results) if options.results else None
    try:
        if options.backend == "ray":
            from facekit.batch.ray_backend import import_ray, run_ray

            import_ray()  # says how to install it before any work
            job.prepare(engine)  # a missing or broken model fails here once, not in every actor after retries
            return run_ray(job, engine.config, items, options, json_lines=json_lines, skip_existing=skip_existing, results=results)
        return run_local(engine, job, items, json_lines=json_lines, skip_existing=skip_existing, results=results)
    finally:
        if results is not None:
            results.close()


def run_local(
    engine: Engine, job: BatchJob, items: Iterator[BatchItem], json_lines: bool, skip_existing: bool, results: ResultsTable | None = None
) -> int:
    prepared = job.prepare(engine)  # fails once, before the batch, on a missing model
    run_id = new_run_id()
    first = next(items, None)  # plan errors (nothing found, a name clash in OUT) surface before any work
    if first is None:
        return 0

    def process(item: BatchItem) -> dict[str, object]:
        return process_item(prepared, job, item, run_id)

    return run_batch(
        _chain(first, items),
        process,
        json_lines=json_lines,
        skip_existing=skip_existing,
        existing_outputs=job.existing_outputs,
        results=results,
    )


def _chain(first: BatchItem, rest: Iterator[BatchItem]) -> Iterator[BatchItem]:
    yield first
    yield from rest
