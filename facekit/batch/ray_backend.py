"""`--backend ray`: the same batch on Ray Data, on a laptop or a cluster.

Pipeline: the driver streams the planned (input, output) pairs into the
object store in chunks (it never holds the whole listing) -> a read stage
(Ray tasks, a tenth of a CPU each) reads each input's bytes through the
local disk or pyarrow (and answers --skip-existing there, without reading)
-> `map_batches` with an actor pool (`ActorPoolStrategy`), one Engine per
actor built from the driver's EngineConfig (models dir, mirrors, offline,
providers), so models load once per actor and downloads take the weight
store's lock once per node -> decode + job + encode + atomic write in the
actor, by facekit.batch.execute (the local runner's code) -> report rows
streamed back to the driver, printed and added to the results table.

Faults: a bad image is a row with its error. A dead actor is restarted
(`max_restarts`) and its batch retried (`max_task_retries`); outputs the
dead actor had already written carry this run's id, so the retry does not
write them again. A full output disk stops the run with one line.

Ray Data hands out no actor handles; for tests and debugging,
`BackendOptions.actor_registry` names an ActorRegistry actor (start_registry)
to which every worker sends its own handle once built, so a caller can
`ray.kill` one mid-run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import cv2

from facekit.batch import storage
from facekit.batch.backend import BackendOptions
from facekit.batch.execute import finished_outputs, guarded, new_run_id, process_item, skipped_row, worker_name
from facekit.batch.inputs import BatchItem
from facekit.batch.jobs import BatchJob
from facekit.batch.local import EXIT_DISK_FULL, EXIT_SOME_FAILED, record_row
from facekit.batch.results import ResultsTable
from facekit.engine import Engine, EngineConfig
from facekit.errors import FaceKitError
from facekit.imageio import DEFAULT_MAX_BYTES

INSTALL_HINT = 'Install it with: pip install -r requirements-ray.txt (or pip install "facekit[ray]"), or use --backend local.'
READ_CPUS = 0.1  # the read stage's share, so actors cannot take every CPU and starve it
RESTARTS = 4  # per actor and per batch: a file that kills its worker every time ends the run instead of looping
DISK_FULL = "disk_full"


def import_ray() -> Any:
    """The `ray` module with Ray Data, or a FaceKitError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise FaceKitError("--backend ray needs Ray (ray[data]), which is not installed.", INSTALL_HINT) from None
    return ray


def read_stage(batch: Any, job: BatchJob, skip_existing: bool) -> Any:
    """Add each input's bytes (or why it could not be read, or that it is skipped) to a pyarrow batch."""
    import pyarrow as pa

    data: list[bytes] = []
    notes: list[str] = []
    for source, target in zip(batch.column("input").to_pylist(), batch.column("output").to_pylist(), strict=True):
        item = BatchItem(source, target)
        note, payload = "", b""
        finished = finished_outputs(job.existing_outputs(item)) if skip_existing else None
        if finished is not None:
            note = "skip:" + json.dumps(finished)
        elif getattr(job, "reads_image", True):
            try:
                payload = storage.read_bytes(source, DEFAULT_MAX_BYTES)
            except FaceKitError as error:
                note = f"error:{error}"
        data.append(payload)
        notes.append(note)
    return batch.append_column("data", pa.array(data, pa.binary())).append_column("note", pa.array(notes, pa.string()))


class FaceKitWorker:
    """A Ray actor: one Engine, the prepared job, and the local runner's per-item code."""

    def __init__(self, job: BatchJob, engine_config: EngineConfig, run_id: str, threads: int, registry: str | None = None) -> None:
        self.job = job
        self.run_id = run_id
        if engine_config.intra_op_threads == 0:  # "one per core" would oversubscribe a node shared by several actors
            engine_config = dataclasses.replace(engine_config, intra_op_threads=threads)
        cv2.setNumThreads(engine_config.intra_op_threads)
        self.prepared = job.prepare(Engine(engine_config))
        self.registry = register_self(registry) if registry is not None else None

    def __call__(self, batch: Any) -> dict[str, list[str]]:
        rows: list[str] = []
        for source, target, payload, note in zip(
            batch.column("input").to_pylist(),
            batch.column("output").to_pylist(),
            batch.column("data").to_pylist(),
            batch.column("note").to_pylist(),
            strict=True,
        ):
            rows.append(json.dumps(self._row(BatchItem(source, target), payload, note), default=str))
        if self.registry is not None:  # the process's CPU so far (all its threads): bench/bench_scale.py sums it per worker
            self.registry.report_cpu.remote(worker_name(), time.process_time())
        return {"row": rows}

    def _row(self, item: BatchItem, payload: bytes, note: str) -> dict[str, object]:
        if note.startswith("skip:"):
            return skipped_row(item, json.loads(note[len("skip:") :]))
        if note.startswith("error:"):
            return guarded(item, lambda _: _raise(note[len("error:") :]))
        try:
            return guarded(item, lambda it: process_item(self.prepared, self.job, it, self.run_id, data=payload or None))
        except storage.DiskFullError as error:
            return {"input": item.input, "status": DISK_FULL, "error": str(error)}


class ActorRegistry:
    """Tests and debugging: the workers' own handles (see register_self) and each worker process's CPU seconds."""

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}
        self._cpu: dict[str, float] = {}

    def add(self, actor_id: str, handle: Any) -> None:
        self._handles[actor_id] = handle  # a restarted worker sends the same id again

    def handles(self) -> list[Any]:
        return list(self._handles.values())

    def report_cpu(self, worker: str, seconds: float) -> None:
        self._cpu[worker] = max(seconds, self._cpu.get(worker, 0.0))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds per worker process (host:pid), as the process last reported them."""
        return dict(self._cpu)


def start_registry(ray: Any, name: str) -> Any:
    """A named ActorRegistry on the connected Ray (no CPU, so it never takes a worker's place); pass `name` as actor_registry."""
    return ray.remote(ActorRegistry).options(name=name, num_cpus=0).remote()


def register_self(registry: str) -> Any:
    """Send this actor's own handle to the named ActorRegistry (inside a Ray actor only); the registry's handle."""
    import ray

    context = ray.get_runtime_context()
    handle = ray.get_actor(registry)
    ray.get(handle.add.remote(context.get_actor_id(), context.current_actor))
    return handle


def _raise(message: str) -> dict[str, object]:
    raise FaceKitError(message)


def _listing_refs(ray: Any, items: Iterator[BatchItem], rows_per_block: int) -> list[Any]:
    """The planned pairs as object-store blocks of one batch each (the driver holds only the refs).

    One block per batch lets every actor get work at once (Ray Data hands
    an actor whole blocks); the driver keeps ~100 bytes per block.
    """
    import pyarrow as pa

    refs: list[Any] = []
    chunk: list[BatchItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == rows_per_block:
            refs.append(ray.put(pa.table({"input": [i.input for i in chunk], "output": [i.output for i in chunk]})))
            chunk = []
    if chunk:
        refs.append(ray.put(pa.table({"input": [i.input for i in chunk], "output": [i.output for i in chunk]})))
    return refs


def connect(ray: Any, options: BackendOptions) -> bool:
    """Join the cluster at options.address, or start a local Ray; True when this call started it."""
    if ray.is_initialized():
        return False
    if options.address:
        ray.init(address=options.address, log_to_driver=False)
    else:
        package_root = str(Path(__file__).resolve().parents[2])  # workers import facekit even when it is not pip-installed
        ray.init(include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": package_root}})
    return True


def check_resources(ray: Any, options: BackendOptions) -> None:
    """Refuse a pool that would take every CPU (or more GPUs than exist): it would hang, not fail."""
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    needed = options.max_workers * options.cpus_per_worker + READ_CPUS
    if needed > cpus + 1e-9:
        raise FaceKitError(
            f"{options.max_workers} worker(s) of {options.cpus_per_worker:g} CPU plus the read stage need {needed:g} CPUs; "
            f"the Ray cluster has {cpus:g} (Ray would wait forever).",
            f"Use --cpus-per-worker {max(0.1, (cpus - READ_CPUS) / options.max_workers):.2g} or fewer --workers.",
        )
    if options.gpus_per_worker and options.min_workers * options.gpus_per_worker > gpus + 1e-9:
        raise FaceKitError(
            f"{options.min_workers} worker(s) of {options.gpus_per_worker:g} GPU need more GPUs than the cluster's {gpus:g}.",
            "Lower --gpus-per-worker (fractions share a GPU) or --workers.",
        )


def build_dataset(
    ray: Any, job: BatchJob, engine_config: EngineConfig, refs: list[Any], options: BackendOptions, skip_existing: bool
) -> Any:
    """read -> actor pool; rows come back as JSON strings in column `row`."""
    run_id = new_run_id()
    dataset = ray.data.from_arrow_refs(refs)
    dataset = dataset.map_batches(
        read_stage,
        fn_kwargs={"job": job, "skip_existing": skip_existing},
        batch_size=options.batch_size,
        batch_format="pyarrow",
        num_cpus=READ_CPUS,
    )
    with warnings.catch_warnings():
        # Ray 2.60 deprecates ray_remote_args without a named replacement for max_restarts / max_task_retries;
        # its own default is -1 (forever), which would loop on a file that crashes its worker every time.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _actor_stage(ray, dataset, job, engine_config, run_id, options)


def _actor_stage(ray: Any, dataset: Any, job: BatchJob, engine_config: EngineConfig, run_id: str, options: BackendOptions) -> Any:
    return dataset.map_batches(
        FaceKitWorker,
        fn_constructor_kwargs={
            "job": job,
            "engine_config": engine_config,
            "run_id": run_id,
            "threads": max(1, round(options.cpus_per_worker)),
            "registry": options.actor_registry,
        },
        compute=ray.data.ActorPoolStrategy(min_size=options.min_workers, max_size=options.max_workers),
        batch_size=options.batch_size,
        batch_format="pyarrow",
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker or None,
        max_restarts=RESTARTS,
        max_task_retries=RESTARTS,
    )


def iter_rows(
    job: BatchJob, engine_config: EngineConfig, items: Iterator[BatchItem], options: BackendOptions, skip_existing: bool
) -> Generator[dict, None, None]:
    """Report rows as they finish (any order), on the connected Ray."""
    ray = import_ray()
    started = connect(ray, options)
    try:
        check_resources(ray, options)
        refs = _listing_refs(ray, items, options.batch_size)
        if not refs:
            return
        dataset = build_dataset(ray, job, engine_config, refs, options, skip_existing)
        try:
            for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
                for text in batch.column("row").to_pylist():
                    yield json.loads(text)
        except Exception as error:  # Ray wraps what an actor raised; show FaceKit's own sentence when there is one
            cause = facekit_cause(error)
            if cause is None:
                raise
            raise cause from None
    finally:
        if started:
            ray.shutdown()


def facekit_cause(error: BaseException) -> FaceKitError | None:
    """The FaceKitError inside a Ray error (task or actor-creation failure), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, FaceKitError):
            return current
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
    return None


def run_ray(
    job: BatchJob,
    engine_config: EngineConfig,
    items: Iterator[BatchItem],
    options: BackendOptions,
    json_lines: bool,
    skip_existing: bool,
    results: ResultsTable | None = None,
) -> int:
    """The Ray backend's CLI run: print every row, stop on a full disk; the exit code."""
    ray = import_ray()
    if json_lines:
        ray.data.DataContext.get_current().enable_progress_bars = False
    failures = done = 0
    rows = iter_rows(job, engine_config, items, options, skip_existing)
    try:
        for row in rows:
            if row.get("status") == DISK_FULL:
                print(f"error: {row['error']}", file=sys.stderr, flush=True)
                print("stopped: finished outputs are kept (rerun with --skip-existing)", file=sys.stderr)
                return EXIT_DISK_FULL
            done += 1
            failures += row.get("status") == "error"
            record_row(sys.stdout, json_lines, row, results)
    finally:
        rows.close()
    if failures:
        print(f"{failures} of {done} input(s) failed; see the lines above.", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0
