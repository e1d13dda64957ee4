"""The batch runner: listing, naming, failures of any kind, a full disk, --skip-existing, the results table."""

from __future__ import annotations

import csv
import errno
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from facekit.batch import EXIT_DISK_FULL, EXIT_INTERRUPTED, EXIT_SOME_FAILED, plan_items, run_batch
from facekit.batch.execute import RUN_KEY, is_finished_output
from facekit.batch.results import ResultsTable
from facekit.errors import FaceKitError
from facekit.imageio import write_image_atomic
from facekit.provenance import provenance_metadata

PIXELS = np.zeros((4, 4, 3), dtype=np.uint8)


def _inputs(tmp_path, names):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        write_image_atomic(folder / name, PIXELS)
    (folder / "notes.txt").write_text("not an image")  # ignored when a folder is expanded
    return folder


def _facekit_output(item) -> dict[str, object]:
    write_image_atomic(item.output, PIXELS, metadata=provenance_metadata("restore", {"restorer": "classic"}))
    return {"faces": []}


def test_interrupt_keeps_finished_outputs_and_skip_existing_resumes(tmp_path) -> None:
    folder = _inputs(tmp_path, ["a.png", "b.png", "c.png"])
    items = list(plan_items([str(folder)], str(tmp_path / "out")))
    calls: list[str] = []

    def interrupted_at_b(item):
        calls.append(item.name)
        if item.name == "b.png":
            raise KeyboardInterrupt
        return _facekit_output(item)

    assert run_batch(items, interrupted_at_b, json_lines=True, stream=io.StringIO()) == EXIT_INTERRUPTED
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]

    def finish(item):
        calls.append(item.name)
        return _facekit_output(item)

    out = io.StringIO()
    assert run_batch(items, finish, json_lines=True, skip_existing=True, stream=out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["skipped"] == "output exists" and records[0]["status"] == "skipped"
    assert calls == ["a.png", "b.png", "b.png", "c.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "c.png"]


def test_skip_existing_redoes_truncated_and_foreign_outputs(tmp_path) -> None:
    """Issue 18.14: only an output that decodes and carries FaceKit's provenance is skipped."""
    folder = _inputs(tmp_path, ["good.png", "cut.png", "plain.png"])
    items = list(plan_items([str(folder)], str(tmp_path / "out")))
    (tmp_path / "out").mkdir()
    for item in items:
        _facekit_output(item)
    cut = tmp_path / "out" / "cut.png"
    cut.write_bytes(cut.read_bytes()[:-20])  # truncated: the IEND chunk and part of the data are gone
    write_image_atomic(tmp_path / "out" / "plain.png", PIXELS)  # decodes, but not written by FaceKit
    assert is_finished_output(str(tmp_path / "out" / "good.png"))
    assert not is_finished_output(str(cut)) and not is_finished_output(str(tmp_path / "out" / "plain.png"))
    redone: list[str] = []

    def process(item):
        redone.append(item.name)
        return _facekit_output(item)

    assert run_batch(items, process, json_lines=True, skip_existing=True, stream=io.StringIO()) == 0
    assert sorted(redone) == ["cut.png", "plain.png"]
    assert all(is_finished_output(str(item.output)) for item in items)


def test_a_failing_item_of_any_kind_is_reported_and_the_batch_goes_on(tmp_path) -> None:
    """Issue 18.5: a bug on one file (not only FaceKit's errors) must not stop the batch."""
    folder = _inputs(tmp_path, ["a.png", "b.png", "c.png"])
    items = list(plan_items([str(folder)], str(tmp_path / "out")))

    def fail_on_a_and_b(item):
        if item.name == "a.png":
            raise FaceKitError("No face was found in the image.", "Use another photo.")
        if item.name == "b.png":
            raise ValueError("cv2.error: !dsize.empty()")
        return {"faces": [{"index": 0}]}

    out = io.StringIO()
    assert run_batch(items, fail_on_a_and_b, json_lines=True, stream=out) == EXIT_SOME_FAILED
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert "No face was found" in first["error"] and first["status"] == "error"
    assert "ValueError" in second["error"] and "dsize" in second["error"]
    assert third["faces"] == [{"index": 0}] and third["status"] == "ok"


def test_a_full_disk_stops_the_batch_cleanly(tmp_path, monkeypatch, capsys) -> None:
    """Issue 18.7: no traceback, one "no space left on DEVICE for FILE" line, finished outputs kept, no partial file."""
    from facekit.batch import jobs
    from facekit.batch.execute import process_item

    folder = _inputs(tmp_path, ["a.png", "b.png", "c.png"])
    items = list(plan_items([str(folder)], str(tmp_path / "out")))
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync_fills_the_disk(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fills_the_disk)

    def restore_like(item, image):
        return jobs.JobOutput([(item.output, image, provenance_metadata("restore", {}))], {"faces": []})

    prepared = jobs.PreparedJob("restore", restore_like)
    job = jobs.RestoreJob(options=None)
    seen: list[str] = []

    def process(item):
        seen.append(item.name)
        return process_item(prepared, job, item, "run1")

    assert run_batch(items, process, json_lines=True, stream=io.StringIO()) == EXIT_DISK_FULL
    err = capsys.readouterr().err
    assert "error: No space left on /" in err and "for b.png (needs" in err and "Traceback" not in err
    assert seen == ["a.png", "b.png"]  # stopped: c.png was not attempted
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]  # no temporary or partial file left
    assert Image.open(tmp_path / "out" / "a.png").text[RUN_KEY] == "run1"


def test_a_retried_frontalize_item_writes_each_face_file_once_per_run(tmp_path) -> None:
    """A Ray batch retried after a worker died: the face files this run already wrote are not written again."""
    from facekit.batch import jobs
    from facekit.batch.execute import WRITTEN_EARLIER, process_item

    folder = _inputs(tmp_path, ["group.png"])
    (item,) = plan_items([str(folder)], str(tmp_path / "out"))
    runs: list[str] = []

    def two_faces(item, image):  # frontalize's shape: one file per face, known only after the job ran
        runs.append(item.name)
        files = [(jobs.face_output(item, index, False), image, provenance_metadata("frontalize", {})) for index in (0, 1)]
        return jobs.JobOutput(files, {"files": [location for location, _, _ in files]})

    prepared, job = jobs.PreparedJob("frontalize", two_faces), jobs.FrontalizeJob(options=None)
    assert not job.single_output  # the path frontalize takes
    faces = [tmp_path / "out" / "group_face0.png", tmp_path / "out" / "group_face1.png"]

    def inodes() -> list[int | None]:
        return [face.stat().st_ino if face.exists() else None for face in faces]

    assert "note" not in process_item(prepared, job, item, "run1")
    first = inodes()
    assert None not in first and all(Image.open(face).text[RUN_KEY] == "run1" for face in faces)
    assert process_item(prepared, job, item, "run1")["note"] == f"2 of 2 file(s) {WRITTEN_EARLIER}"  # the retry
    assert inodes() == first  # neither file was replaced
    faces[1].unlink()  # the first attempt died between the two files
    assert process_item(prepared, job, item, "run1")["note"] == f"1 of 2 file(s) {WRITTEN_EARLIER}"
    after = inodes()
    assert after[0] == first[0] and after[1] is not None and Image.open(faces[1]).text[RUN_KEY] == "run1"
    assert "note" not in process_item(prepared, job, item, "run2")  # a new run (no --skip-existing) writes its own files
    assert all(Image.open(face).text[RUN_KEY] == "run2" for face in faces) and len(runs) == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["group_face0.png", "group_face1.png"]


def test_inputs_from_globs_list_files_and_folder_trees(tmp_path) -> None:
    folder = _inputs(tmp_path, ["a.png", "b.jpg"])
    (folder / "sub").mkdir()
    write_image_atomic(folder / "sub" / "c.png", PIXELS)
    out = str(tmp_path / "out")
    flat = [(item.name, os.path.relpath(item.output, out)) for item in plan_items([str(folder)], out)]
    assert flat == [("a.png", "a.png"), ("b.jpg", "b.png")]
    tree = [os.path.relpath(item.output, out) for item in plan_items([str(folder)], out, recursive=True)]
    assert tree == ["a.png", "b.png", os.path.join("sub", "c.png")]
    assert [item.name for item in plan_items([str(folder / "*.png")], out)] == ["a.png"]
    (tmp_path / "list.txt").write_text("in/a.png\n# a comment\n\nin/sub/c.png\n")
    assert [item.name for item in plan_items([str(tmp_path / "list.txt")], out)] == ["a.png", "c.png"]
    with (tmp_path / "list.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([["id", "path"], ["1", str(folder / "b.jpg")]])
    assert [item.name for item in plan_items([str(tmp_path / "list.csv")], out)] == ["b.jpg"]
    (tmp_path / "bad.csv").write_text("file\nx.png\n")
    with pytest.raises(FaceKitError, match="no 'path' column"):
        list(plan_items([str(tmp_path / "bad.csv")], out))


def test_parquet_list_file_and_results_table(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = _inputs(tmp_path, ["a.png", "b.png"])
    pq.write_table(pa.table({"path": [str(folder / "b.png"), str(folder / "a.png")]}), tmp_path / "list.parquet")
    items = list(plan_items([str(tmp_path / "list.parquet")], str(tmp_path / "out")))
    assert [item.name for item in items] == ["b.png", "a.png"]
    with ResultsTable(tmp_path / "results.parquet") as table:
        run_batch(items, lambda item: {"faces": [{"index": 0, "identity_distance": 0.25}]}, True, stream=io.StringIO(), results=table)
    rows = pq.read_table(tmp_path / "results.parquet").to_pylist()
    assert [(row["status"], row["faces"], row["identity_scores"]) for row in rows] == [("ok", 1, [0.25])] * 2
    assert rows[0]["worker"] and json.loads(rows[0]["report"])["input"] == str(folder / "b.png")


def test_output_planning(tmp_path) -> None:
    photo = _inputs(tmp_path, ["a.png"]) / "a.png"
    assert list(plan_items([str(photo)], str(tmp_path / "x.png")))[0].output == str(tmp_path / "x.png")
    with pytest.raises(FaceKitError, match="writes PNG"):
        list(plan_items([str(photo)], str(tmp_path / "x.jpg")))
    with pytest.raises(FaceKitError, match="not found"):
        list(plan_items([str(tmp_path / "missing.png")], str(tmp_path / "out")))
    (tmp_path / "two").mkdir()
    write_image_atomic(tmp_path / "two" / "a.png", PIXELS)
    with pytest.raises(FaceKitError, match="would both be written"):
        list(plan_items([str(photo), str(tmp_path / "two" / "a.png")], str(tmp_path / "out")))


def test_app_batch_keeps_the_good_results_when_one_file_raises_any_error(engine, tmp_path, monkeypatch) -> None:
    """Issue 18.5, the Batch tab: a bug on the middle file still returns a zip with the others' results."""
    import zipfile

    from app import batch_tab
    from app.results import ResultFolder
    from facekit.processors.common import JobResult

    photos = []
    for name in ("a.png", "b.png", "c.png"):
        write_image_atomic(tmp_path / name, PIXELS)
        photos.append(str(tmp_path / name))

    def run_job(engine, job, image, model, *options):
        if image is not None and run_job.calls == 1:
            run_job.calls += 1
            raise ZeroDivisionError("a bug deep in a model adapter")
        run_job.calls += 1
        return JobResult(image=image, faces=[], models={"restorer": "classic"}, seconds=0.0)

    run_job.calls = 0
    monkeypatch.setattr(batch_tab, "run_job", run_job)
    archive, report = batch_tab.batch_files(engine, ResultFolder(tmp_path / "results"), photos, "restore", None, lambda *a, **k: None)
    errors = [item.get("error") for item in report["items"]]
    assert errors[0] is None and errors[2] is None and "ZeroDivisionError" in errors[1]
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == ["000_a.png", "002_c.png", "report.json"]


def test_ray_flags_with_the_local_backend_are_refused(tmp_path, capsys) -> None:
    from facekit import cli

    folder = _inputs(tmp_path, ["a.png"])
    argv = ["--offline", "--models-dir", str(tmp_path / "m"), "restore", str(folder), "-o", str(tmp_path / "out"), "--workers", "4"]
    assert cli.main(argv) == 2
    assert "--workers only apply to --backend ray" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
