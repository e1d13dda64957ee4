"""`--backend ray` against `--backend local` on one local Ray instance (num_cpus=2): same files, same rows, faults.

Ray is the optional `ray` extra (tools/setup_tests.sh installs it); without
it these tests are skipped, except the one that checks the install message.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from facekit import cli
from facekit.batch.backend import BackendOptions
from facekit.batch.inputs import plan_items
from facekit.batch.jobs import RestoreJob
from facekit.engine import EngineConfig
from facekit.processors.restore import RestoreOptions
from helpers import REPO, insightface_image

BAD = {"truncated.jpg", "text.png", "empty.jpg"}
VOLATILE = {"seconds", "worker", "note"}
WITH_FACES = ("photo03.jpg", "photo05.jpg", "photo07.jpg", "photo08.png", "photo10.jpg", "photo11.jpg")  # one face each


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # local tests only: no token prompt
    address = os.environ.pop("RAY_ADDRESS", None)  # always a private local instance, never a cluster the shell points at
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()
    if address is not None:
        os.environ["RAY_ADDRESS"] = address
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """17 photos cut from t1.jpg (0-2 faces each, two sizes; a crop without a face is an error row) and 3 bad files."""
    folder = tmp_path_factory.mktemp("photos")
    t1 = Image.open(insightface_image("t1.jpg")).convert("RGB")
    for number in range(17):
        x, y = (number * 67) % 1000, 40 + (number % 3) * 120
        crop = t1.crop((x, y, x + 280, y + 280))
        if number % 2:
            crop = crop.resize((200, 200))
        crop.save(folder / f"photo{number:02d}.{'png' if number % 4 == 0 else 'jpg'}", quality=92)
    jpeg = (folder / "photo01.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "text.png").write_text("this is not an image")
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def _run(capsys, *argv: str) -> tuple[int, list[dict]]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _stable(row: dict, root: str) -> dict:
    """A row without its timing/worker fields and with the output folder replaced, for comparison."""
    clean = {key: value for key, value in row.items() if key not in VOLATILE}
    if "output" in clean:
        clean["output"] = os.path.relpath(clean["output"], root)
    if "faces" in clean:
        clean["faces"] = [{k: v for k, v in face.items() if k != "seconds"} for face in clean["faces"]]
    return clean


def test_ray_and_local_write_the_same_files_and_rows_and_skip_existing_resumes(ray_local, photos, tmp_path, capsys) -> None:
    common = ["--offline", "--models-dir", str(tmp_path / "models"), "restore", str(photos), "--model", "classic", "--json"]
    local_out, ray_out = str(tmp_path / "local"), str(tmp_path / "ray")
    code_local, rows_local = _run(capsys, *common, "-o", local_out)
    ray_flags = ["--backend", "ray", "--workers", "2", "--cpus-per-worker", "0.5", "--batch-size", "3"]
    code_ray, rows_ray = _run(capsys, *common, "-o", ray_out, *ray_flags, "--results", str(tmp_path / "ray.jsonl"))
    assert code_local == code_ray == 1  # three bad files
    assert len(rows_local) == len(rows_ray) == 20
    by_input_local = {row["input"]: _stable(row, local_out) for row in rows_local}
    by_input_ray = {row["input"]: _stable(row, ray_out) for row in rows_ray}
    assert by_input_ray == by_input_local  # same statuses, errors, faces, identity scores and models
    errors = {os.path.basename(row["input"]) for row in rows_ray if row["status"] == "error"}
    assert BAD <= errors and len(errors) <= 10  # the bad files, and crops where no face was found (6 today)
    assert by_input_ray[str(photos / "text.png")]["error"].startswith("text.png is not an image")  # the file is named
    assert sum(len(row.get("faces", [])) for row in rows_ray) >= 10
    names = sorted(os.listdir(ray_out))
    assert names == sorted(os.listdir(local_out)) and len(names) == 20 - len(errors) >= 10
    for name in names:  # the same code ran on the same bytes: pixel-equal
        ray_pixels, local_pixels = (np.asarray(Image.open(os.path.join(folder, name))) for folder in (ray_out, local_out))
        np.testing.assert_array_equal(ray_pixels, local_pixels)
    table = [json.loads(line) for line in (tmp_path / "ray.jsonl").read_text().splitlines()]
    assert len(table) == 20 and {row["status"] for row in table} == {"ok", "error"}
    assert all(row["worker"] for row in table) and len({row["worker"] for row in table}) == 2  # both actors worked

    redo = names[0]
    os.remove(os.path.join(ray_out, redo))
    one_worker = ["--backend", "ray", "--workers", "1", "--cpus-per-worker", "0.5", "--batch-size", "4"]
    code, rows = _run(capsys, *common, "-o", ray_out, *one_worker, "--skip-existing")
    statuses = {os.path.basename(row["input"]): row["status"] for row in rows}
    assert code == 1 and [status for name, status in statuses.items() if name.startswith(redo[:-4] + ".")] == ["ok"]
    assert {name for name, status in statuses.items() if status == "error"} == errors
    assert sum(status == "skipped" for status in statuses.values()) == len(names) - 1


class OutputWatcher:
    """Polls a folder every 20 ms and keeps every inode each finished (non-temporary) file name had: a rewrite shows as two."""

    def __init__(self, folder: str) -> None:
        self.folder, self.inodes, self._stop = folder, defaultdict(set), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.look()
            time.sleep(0.02)

    def look(self) -> None:
        with contextlib.suppress(FileNotFoundError), os.scandir(self.folder) as entries:
            for entry in entries:
                if not entry.name.startswith("."):  # write_file_atomic's temporary files are .NAME.*.tmp
                    with contextlib.suppress(FileNotFoundError):
                        self.inodes[entry.name].add(entry.inode())

    def stop(self) -> dict[str, set[int]]:
        self._stop.set()
        self._thread.join()
        self.look()
        return dict(self.inodes)


def test_an_actor_killed_with_ray_kill_is_restarted_and_every_output_is_written_once(ray_local, photos, tmp_path) -> None:
    from facekit.batch.ray_backend import iter_rows, start_registry

    out = str(tmp_path / "out")
    os.makedirs(out)
    registry = start_registry(ray_local, "facekit-test-workers")
    job = RestoreJob(RestoreOptions(model="classic", identity=False))
    options = BackendOptions(
        backend="ray", min_workers=1, max_workers=1, cpus_per_worker=0.5, batch_size=2, actor_registry="facekit-test-workers"
    )
    config = EngineConfig(models_dir=tmp_path / "models", offline=True)
    inputs = [str(photos / name) for name in WITH_FACES]
    rows, killed = [], None
    watcher = OutputWatcher(out)
    try:
        for row in iter_rows(job, config, plan_items(inputs, out), options, skip_existing=False):
            rows.append(row)
            if killed is None:  # the actor has further batches in flight: kill it as a crash would (Ray may restart it)
                (handle,) = ray_local.get(registry.handles.remote())
                killed = row["worker"]
                ray_local.kill(handle, no_restart=False)
    finally:
        seen = watcher.stop()
        ray_local.kill(registry)
    assert sorted(row["input"] for row in rows) == sorted(inputs)  # every input reported exactly once
    assert {row["status"] for row in rows} == {"ok"} and killed is not None
    assert all(row["faces"] and row["models"] for row in rows)  # a retried item's row is complete too
    assert any(row["worker"] != killed for row in rows)  # the restarted actor (a new process) finished the run
    assert sorted(os.listdir(out)) == sorted(os.path.basename(row["output"]) for row in rows)  # no temporary files left
    assert sorted(seen) == sorted(os.listdir(out))
    assert all(len(inodes) == 1 for inodes in seen.values()), seen  # written once: a retry found this run's id and skipped it
    for row in rows:
        Image.open(row["output"]).load()


def test_backend_ray_without_ray_says_how_to_install_it(tmp_path, photos, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as when the extra is missing
    monkeypatch.setitem(sys.modules, "ray.data", None)
    argv = ["--offline", "--models-dir", str(tmp_path), "restore", str(photos), "-o", str(tmp_path / "out"), "--backend", "ray"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "needs Ray" in err and "pip install -r requirements-ray.txt" in err and 'facekit[ray]' in err


def test_a_broken_model_fails_once_in_the_driver_before_ray_starts(tmp_path, photos, capsys) -> None:
    pytest.importorskip("ray")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx file")
    argv = ["--offline", "--models-dir", str(tmp_path), "restore", str(photos), "-o", str(tmp_path / "out"),
            "--model-file", str(broken), "--backend", "ray"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "could not load" in err and "Traceback" not in err and not (tmp_path / "out").exists()
