"""Photos per second of the batch backends on this machine: local vs Ray Data, 1 and 2 workers.

Run from the repository root (needs the `ray` extra):
    python -m bench.bench_scale [--photos 24] [--workers 1 2]

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

Two measures, at equal workers:
- wall: photos/s as a user sees them (on a shared machine this moves with
  the load average, printed with the table);
- CPU: seconds of CPU per photo summed over this process and every process
  under it (the local runner's processes; Ray's raylet, GCS, read tasks and
  actors), read from /proc before and after each run. Ray's overhead per
  photo = (Ray CPU - local CPU) / photos: what Ray adds, independent of how
  busy the machine is. Linux only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
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


def _cpu_ticks(pid: int) -> tuple[int, int]:
    """(parent pid, utime + stime + cutime + cstime) of a process from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(value) for value in fields[11:15])


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and all its living descendants, including their reaped children."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)], ticks[int(entry.name)] = _cpu_ticks(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0, [os.getpid()]
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / CLOCK_TICKS


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


def _local_run(list_file: str, out: str, models_dir: str, job_name: str = "restore") -> None:
    JOB["name"] = job_name
    engine = Engine(EngineConfig(models_dir=Path(models_dir), offline=True, intra_op_threads=1))
    import cv2

    cv2.setNumThreads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        run_job_batch(engine, _job(), [list_file], out, BackendOptions(), json_lines=True, skip_existing=False)


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


JOB = {"name": "restore"}


def _job() -> RestoreJob | DecodeOnlyJob:
    return DecodeOnlyJob() if JOB["name"] == "decode" else RestoreJob(RestoreOptions(model="classic"))


def time_local(paths: list[str], workers: int, out: Path, models_dir: str) -> tuple[float, float]:
    parts = [paths[i::workers] for i in range(workers)]
    lists = []
    for number, part in enumerate(parts):
        list_file = out.parent / f"local{workers}_{number}.txt"
        list_file.write_text("\n".join(part) + "\n")
        lists.append(str(list_file))
    cpu, started = tree_cpu_seconds(), time.perf_counter()
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_local_run, args=(name, str(out), models_dir, JOB["name"])) for name in lists]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return time.perf_counter() - started, tree_cpu_seconds() - cpu


def time_ray(paths: list[str], workers: int, out: Path, models_dir: str) -> tuple[float, float]:
    from facekit.batch.inputs import plan_items
    from facekit.batch.ray_backend import run_ray

    list_file = out.parent / f"ray{workers}.txt"
    list_file.write_text("\n".join(paths) + "\n")
    options = BackendOptions(backend="ray", min_workers=workers, max_workers=workers, cpus_per_worker=1.0, batch_size=4)
    config = EngineConfig(models_dir=Path(models_dir), offline=True, intra_op_threads=1)
    cpu, started = tree_cpu_seconds(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_ray(_job(), config, plan_items([str(list_file)], str(out)), options, json_lines=True, skip_existing=False)
    time.sleep(2.0)  # let Ray Data's finished actors exit and be reaped into their parents' counters
    return time.perf_counter() - started - 2.0, tree_cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--job", choices=("restore", "decode"), default="restore", help="decode: the runner's own cost per photo")
    args = parser.parse_args()
    JOB["name"] = args.job
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local benchmark instance
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "photos").mkdir()
        paths = make_photos(root / "photos", args.photos)
        models_dir = str(root / "models")
        load = os.getloadavg()[0]
        time_local(paths[:2], 1, root / "warmup_local", models_dir)  # file cache and imports warm, as for Ray: not timed
        local = {workers: time_local(paths, workers, root / f"local{workers}", models_dir) for workers in args.workers}  # before Ray exists
        started = time.perf_counter()
        ray.init(
            num_cpus=max(args.workers) + 1,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}},
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray_start = time.perf_counter() - started
        time_ray(paths[:2], 1, root / "warmup", models_dir)  # Ray's first job starts and fills its worker processes: not timed
        distributed = {workers: time_ray(paths, workers, root / f"ray{workers}", models_dir) for workers in args.workers}
        width, height = Image.open(paths[0]).size
        print(
            f"{args.photos} photos of {width}x{height}, job {args.job}; cores: {os.cpu_count()}, "
            f"load average at start: {load:.1f}; ray.init: {ray_start:.1f} s (once per cluster, not in the table)"
        )
        print("| workers | local photos/s | ray photos/s | local CPU s/photo | ray CPU s/photo | ray overhead per photo (CPU) |")
        print("|---|---|---|---|---|---|")
        count = args.photos
        for workers in args.workers:
            (local_wall, local_cpu), (ray_wall, ray_cpu) = local[workers], distributed[workers]
            extra = (ray_cpu - local_cpu) / count
            rates = f"{count / local_wall:.2f} | {count / ray_wall:.2f} | {local_cpu / count:.3f} | {ray_cpu / count:.3f}"
            overhead = f"{1000 * extra:+.0f} ms ({100 * extra * count / local_cpu:+.0f}%)"
            if ray_cpu <= 0:  # a Ray worker that exited unreaped took its CPU out of the measured process tree
                overhead = "n/a (Ray CPU not measurable: a worker left the process tree)"
            print(f"| {workers} | {rates} | {overhead} |", flush=True)
        ray.shutdown()
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
