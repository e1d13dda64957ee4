"""Photos per second of the batch backends on this machine: local vs Ray Data, 1 and 2 workers.

Run from the repository root (needs the `ray` extra):
    python -m bench.bench_scale [--photos 48] [--workers 1 2] [--rounds 1] [--batch-size 4]

Job: `restore --model classic` (detection, six faces, identity report) on
1 MP photos: shifted and mirrored copies of InsightFace's t1.jpg (1280x886),
written as JPEG to a temporary folder. Every worker runs one thread (ONNX
Runtime and OpenCV), so "N workers" means N cores' worth of work on both
backends. Local with 2 workers = two local runner processes on halves of
the list. Ray: one local instance (started once, its start time shown
apart, with one logical CPU more than the largest pool so the read stage fits), N actors of 1 CPU. Wall times include
building the engine / starting the actors, as a user's run would.
`--job decode` runs a job that only reads and decodes each photo (no faces,
nothing written): the difference between the backends is then Ray's own
per-image cost (listing block, read task, object-store transfer of the
bytes, actor call, report row), without the restorer's time around it.

Two measures, at equal workers (local and Ray runs interleaved, so the
machine's load weighs on both alike):
- wall: photos/s as a user sees them (on a shared machine this moves with
  the load average, printed with the table);
- CPU: seconds of CPU per photo. Local: each runner process reports its own
  time.process_time() (all threads, imports and model loading included) at
  its end, plus this process's. Ray: every process under this one (raylet,
  GCS, read tasks, this driver) by its own ticks in /proc before and after,
  except the actors, which report their process's CPU time to an
  ActorRegistry (facekit.batch.ray_backend) after every batch; summed over
  actors. Ray's overhead per photo = (Ray CPU - local CPU) / photos: what
  Ray adds, less dependent on how busy the machine is. Linux only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import insightface
from PIL import Image, ImageOps

from facekit.batch.backend import BackendOptions, run_job_batch
from facekit.batch.inputs import BatchItem
from facekit.batch.jobs import JobOutput, PreparedJob, RestoreJob
from facekit.engine import Engine, EngineConfig
from facekit.imageio import DEFAULT_MAX_PIXELS
from facekit.processors.restore import RestoreOptions

T1 = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> tuple[int, int, int]:
    """(parent pid, utime + stime, cutime + cstime) of a process from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def process_tree() -> dict[int, tuple[int, int]]:
    """pid -> (own ticks, reaped children's ticks) for this process and all its living descendants."""
    table: dict[int, tuple[int, int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                table[int(entry.name)] = _cpu_ticks(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    tree, stack = {}, [os.getpid()]
    while stack:
        pid = stack.pop()
        if pid in table:
            tree[pid] = table[pid][1:]
        stack.extend(children.get(pid, []))
    return tree


def ray_cpu_seconds(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]], actors: dict[int, float]) -> tuple[float, float]:
    """(all, actors') CPU seconds of a Ray run: the tree's processes but the actors by their own ticks, plus the actors' reports.

    Actors exit (or are reaped, or not) at Ray's pace, so their CPU is taken from
    their own report (time.process_time at their last batch); a pooled worker
    that became an actor keeps only what it spent after `before`. Own ticks
    only (no reaped children's), so nothing is counted twice.
    """
    others = sum(own - before.get(pid, (0, 0))[0] for pid, (own, _) in after.items() if pid not in actors) / CLOCK_TICKS
    workers = sum(seconds - before.get(pid, (0, 0))[0] / CLOCK_TICKS for pid, seconds in actors.items())
    return others + workers, workers


def ray_idle_cpu(seconds: float = 10.0) -> float:
    """CPU seconds per second that the started Ray instance (raylet, GCS, idle workers, this driver) uses with no job."""
    before, started = process_tree(), time.perf_counter()
    time.sleep(seconds)
    after = process_tree()
    spent = sum(own - before.get(pid, (0, 0))[0] for pid, (own, _) in after.items()) / CLOCK_TICKS
    return spent / (time.perf_counter() - started)


def make_photos(folder: Path, count: int) -> list[str]:
    """`count` distinct ~1.1 MP photos (t1.jpg shifted by a few pixels, every other one mirrored)."""
    base = Image.open(T1).convert("RGB")
    paths = []
    for number in range(count):
        shifted = ImageOps.expand(base, border=number % 8, fill=(128, 128, 128)).crop((0, 0, base.width, base.height))
        photo = ImageOps.mirror(shifted) if number % 2 else shifted
        path = folder / f"photo{number:03d}.jpg"
        photo.save(path, quality=92)
        paths.append(str(path))
    return paths


def _local_run(list_file: str, out: str, models_dir: str, job_name: str, cpu_file: str) -> None:
    JOB["name"] = job_name
    engine = Engine(EngineConfig(models_dir=Path(models_dir), offline=True, intra_op_threads=1))
    import cv2

    cv2.setNumThreads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        run_job_batch(engine, _job(), [list_file], out, BackendOptions(), json_lines=True, skip_existing=False)
    Path(cpu_file).write_text(str(time.process_time()))  # this process's CPU, all threads, imports and models included


@dataclass(frozen=True)
class DecodeOnlyJob:
    """A batch job that stops after decoding: measures the runner around a job, not the job."""

    name: str = "decode"
    max_pixels: int = DEFAULT_MAX_PIXELS
    single_output: bool = True

    def prepare(self, engine: Engine) -> PreparedJob:
        return PreparedJob(self.name, lambda item, image: JobOutput([], {"faces": [], "pixels": int(image.size)}))

    def existing_outputs(self, item: BatchItem) -> list[str]:
        return []


Timing = tuple[float, float, float]  # wall seconds, CPU seconds of everything, CPU seconds of the workers (processes / actors)
JOB = {"name": "restore"}
DRIVER_CPU: dict[int, list[float]] = {}  # workers -> this process's CPU seconds in each timed Ray run (Ray Data's executor runs here)
BATCH = {"size": 4}


def _job() -> RestoreJob | DecodeOnlyJob:
    return DecodeOnlyJob() if JOB["name"] == "decode" else RestoreJob(RestoreOptions(model="classic"))


def time_local(paths: list[str], workers: int, out: Path, models_dir: str) -> Timing:
    parts = [paths[i::workers] for i in range(workers)]
    lists = []
    for number, part in enumerate(parts):
        list_file = out.parent / f"local{workers}_{number}.txt"
        list_file.write_text("\n".join(part) + "\n")
        lists.append(str(list_file))
    cpu, started = time.process_time(), time.perf_counter()
    context = multiprocessing.get_context("spawn")
    reports = [f"{name}.cpu" for name in lists]
    processes = [
        context.Process(target=_local_run, args=(name, str(out), models_dir, JOB["name"], report))
        for name, report in zip(lists, reports, strict=True)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    wall = time.perf_counter() - started
    workers_cpu = sum(float(Path(report).read_text()) for report in reports)
    return wall, time.process_time() - cpu + workers_cpu, workers_cpu


def time_ray(paths: list[str], workers: int, out: Path, models_dir: str) -> Timing:
    import ray

    from facekit.batch.inputs import plan_items
    from facekit.batch.ray_backend import run_ray, start_registry

    list_file = out.parent / f"ray{workers}.txt"
    list_file.write_text("\n".join(paths) + "\n")
    name = f"bench-workers-{out.name}"
    registry = start_registry(ray, name)  # each actor reports its process's CPU time there
    options = BackendOptions(
        backend="ray", min_workers=workers, max_workers=workers, cpus_per_worker=1.0, batch_size=BATCH["size"], actor_registry=name
    )
    config = EngineConfig(models_dir=Path(models_dir), offline=True, intra_op_threads=1)
    before, started, driver = process_tree(), time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        run_ray(_job(), config, plan_items([str(list_file)], str(out)), options, json_lines=True, skip_existing=False)
    wall, after = time.perf_counter() - started, process_tree()
    DRIVER_CPU.setdefault(workers, []).append(time.process_time() - driver)
    time.sleep(0.5)  # the actors' last CPU reports are one-way calls: let them arrive
    actors = {int(worker.rsplit(":", 1)[1]): seconds for worker, seconds in ray.get(registry.cpu_seconds.remote()).items()}
    ray.kill(registry)
    return (wall, *ray_cpu_seconds(before, after, actors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=4, help="Ray images per batch")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1, help="local/ray pairs per worker count (the median is shown)")
    parser.add_argument("--job", choices=("restore", "decode"), default="restore", help="decode: the runner's own cost per photo")
    args = parser.parse_args()
    JOB["name"] = args.job
    BATCH["size"] = args.batch_size
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local benchmark instance
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "photos").mkdir()
        paths = make_photos(root / "photos", args.photos)
        models_dir = str(root / "models")
        load = os.getloadavg()[0]
        started = time.perf_counter()
        ray.init(
            num_cpus=max(args.workers) + 1,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}},
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray_start = time.perf_counter() - started
        time_local(paths[:2], 1, root / "warmup_local", models_dir)  # file cache and imports warm: not timed
        time_ray(paths[:2], 1, root / "warmup", models_dir)  # Ray's first job starts its worker processes: not timed
        idle = ray_idle_cpu()
        DRIVER_CPU.clear()  # the warm-up run is not in the table
        runs: dict[tuple[str, int], list[Timing]] = {}
        for number in range(args.rounds):  # local and Ray interleaved, so the machine's load weighs on both alike
            for workers in args.workers:
                runs.setdefault(("local", workers), []).append(time_local(paths, workers, root / f"local{workers}_{number}", models_dir))
                runs.setdefault(("ray", workers), []).append(time_ray(paths, workers, root / f"ray{workers}_{number}", models_dir))
        ray.shutdown()
        width, height = Image.open(paths[0]).size
        print(
            f"{args.photos} photos of {width}x{height}, job {args.job}, Ray batch size {args.batch_size}, {args.rounds} round(s); "
            f"cores: {os.cpu_count()}, load average at start: {load:.1f}; ray.init: {ray_start:.1f} s (once per cluster, not in the table)"
        )
        print_table(args.photos, args.workers, runs)
        driver = ", ".join(f"{workers} worker(s): {statistics.median(DRIVER_CPU[workers]) / args.photos:.3f}" for workers in args.workers)
        print(f"Ray driver's own CPU s/photo (Ray Data's executor loop runs in this process): {driver}")
        print(f"Ray's processes idle (no job): {idle:.3f} CPU s per second (a cost per second, paid while a run lasts, not per photo)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def print_table(count: int, worker_counts: list[int], runs: dict[tuple[str, int], list[Timing]]) -> None:
    print("CPU s/photo: all processes (of which the workers: local runner processes / Ray actors)")
    print(
        "| workers | local photos/s | ray photos/s | ray wall overhead | local CPU s/photo | ray CPU s/photo | ray CPU overhead per photo |"
    )
    print("|---|---|---|---|---|---|---|")
    for workers in worker_counts:
        local_wall, local_cpu, local_workers = (statistics.median(values) for values in zip(*runs["local", workers], strict=True))
        ray_wall, ray_cpu, ray_workers = (statistics.median(values) for values in zip(*runs["ray", workers], strict=True))
        extra = (ray_cpu - local_cpu) / count
        print(
            f"| {workers} | {count / local_wall:.2f} | {count / ray_wall:.2f} | {100 * (ray_wall / local_wall - 1):+.0f}% "
            f"| {local_cpu / count:.3f} ({local_workers / count:.3f}) | {ray_cpu / count:.3f} ({ray_workers / count:.3f}) "
            f"| {1000 * extra:+.0f} ms ({100 * extra * count / local_cpu:+.0f}%) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
