from __future__ import annotations

import io
import json

import numpy as np
import pytest

from facekit.batch import EXIT_INTERRUPTED, EXIT_SOME_FAILED, collect_inputs, plan_outputs, run_batch
from facekit.errors import FaceKitError
from facekit.imageio import write_image_atomic


def _inputs(tmp_path, names):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        write_image_atomic(folder / name, np.zeros((4, 4, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")  # ignored when a folder is expanded
    return folder


def test_interrupt_keeps_finished_outputs_and_skip_existing_resumes(tmp_path) -> None:
    folder = _inputs(tmp_path, ["a.png", "b.png", "c.png"])
    items = plan_outputs(collect_inputs([str(folder)]), str(tmp_path / "out"), 1)
    calls: list[str] = []

    def interrupted_at_b(item):
        calls.append(item.input.name)
        if item.input.name == "b.png":
            raise KeyboardInterrupt
        write_image_atomic(item.output, np.zeros((4, 4, 3), dtype=np.uint8))
        return {"faces": []}

    assert run_batch(items, interrupted_at_b, json_lines=True, stream=io.StringIO()) == EXIT_INTERRUPTED
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]

    def finish(item):
        calls.append(item.input.name)
        write_image_atomic(item.output, np.zeros((4, 4, 3), dtype=np.uint8))
        return {"faces": []}

    out = io.StringIO()
    assert run_batch(items, finish, json_lines=True, skip_existing=True, stream=out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["skipped"] == "output exists"
    assert calls == ["a.png", "b.png", "b.png", "c.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "c.png"]


def test_a_failing_item_is_reported_and_the_batch_goes_on(tmp_path) -> None:
    folder = _inputs(tmp_path, ["a.png", "b.png"])
    items = plan_outputs(collect_inputs([str(folder)]), str(tmp_path / "out"), 1)

    def fail_on_a(item):
        if item.input.name == "a.png":
            raise FaceKitError("No face was found in the image.", "Use another photo.")
        return {"faces": [{"index": 0}]}

    out = io.StringIO()
    assert run_batch(items, fail_on_a, json_lines=True, stream=out) == EXIT_SOME_FAILED
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert "No face was found" in first["error"] and second["faces"] == [{"index": 0}]


def test_output_planning(tmp_path) -> None:
    photo = _inputs(tmp_path, ["a.png"]) / "a.png"
    assert plan_outputs([photo], str(tmp_path / "x.png"), 1)[0].output == tmp_path / "x.png"
    with pytest.raises(FaceKitError, match="writes PNG"):
        plan_outputs([photo], str(tmp_path / "x.jpg"), 1)
    with pytest.raises(FaceKitError, match="not found"):
        collect_inputs([str(tmp_path / "missing.png")])
    twins = [tmp_path / "one" / "a.png", tmp_path / "two" / "a.png"]
    with pytest.raises(FaceKitError, match="would both be written"):
        plan_outputs(twins, str(tmp_path / "out"), 2)
