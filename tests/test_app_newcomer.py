"""What a newcomer met in the app (issue 16), checked through gradio_client on one app for the module."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from facekit.engine import Engine, EngineConfig
from helpers import insightface_image

APP_MAX_FACES = 8


@pytest.fixture(scope="module")
def newcomer_client(tmp_path_factory) -> Iterator[object]:
    from gradio_client import Client

    from app import build_demo

    base = tmp_path_factory.mktemp("newcomer")
    engine = Engine(EngineConfig(models_dir=base / "models", offline=True))
    demo = build_demo(engine, max_faces=APP_MAX_FACES)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def blank_photo(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("blank") / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 180, np.uint8)).save(path)
    return str(path)


def test_the_lowest_threshold_stays_usable(newcomer_client) -> None:
    """0.05 used to give ~480 'faces', a 2 MB JSON and a 478-column table; now capped, with a note, four columns."""
    from gradio_client import handle_file

    drawn, report, pairs = newcomer_client.predict(handle_file(str(insightface_image("t1.jpg"))), None, None, 0.05, api_name="/analyze")
    record = report["images"][0]
    assert len(record["faces"]) == APP_MAX_FACES
    assert record["notes"] and f"More than {APP_MAX_FACES} faces" in record["notes"][0]
    assert len(pairs["headers"]) == 4 and len(pairs["data"]) <= 30
    assert len(json.dumps(report)) < 200_000
    assert len(drawn) == 1


def test_analyze_draws_both_photos(newcomer_client) -> None:
    from gradio_client import handle_file

    drawn, report, pairs = newcomer_client.predict(
        handle_file(str(insightface_image("t1.jpg"))), handle_file(str(insightface_image("Tom_Hanks_54745.png"))), api_name="/analyze"
    )
    assert [Image.open(item["image"]).size for item in drawn] == [(1280, 886), (112, 112)]
    faces = {name for row in pairs["data"] for name in row[:2]}
    assert "second#0" in faces


def test_no_face_is_one_rule_for_every_job(newcomer_client, blank_photo) -> None:
    """Restore used to hand back the untouched photo labelled as AI-edited; Batch zipped those copies."""
    from gradio_client import handle_file

    with pytest.raises(Exception, match="No face was found"):
        newcomer_client.predict(handle_file(blank_photo), api_name="/restore")
    with pytest.raises(Exception, match="No face was found"):
        newcomer_client.predict(handle_file(blank_photo), api_name="/frontalize")
    for job in ("restore", "frontalize"):
        archive, report = newcomer_client.predict(
            [handle_file(str(insightface_image("Tom_Hanks_54745.png"))), handle_file(blank_photo)], job, api_name="/batch"
        )
        assert "error" not in report["items"][0] and "No face" in report["items"][1]["error"], job
        with zipfile.ZipFile(archive) as opened:
            assert not any("wall" in name for name in opened.namelist()), job


def test_every_optional_input_may_be_omitted(newcomer_client) -> None:
    """gradio_client used to reject /swap without restore=None; every optional input now has a default."""
    from gradio_client import handle_file

    api = newcomer_client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    must_give = {"image", "source", "target", "files", "model_id", "video"}  # what a call is about
    for name, endpoint in api.items():
        if name.startswith("/video"):
            continue  # the Video tab's own endpoints (issue 12) are not covered here
        assert endpoint["description"], f"{name} has no description"
        for parameter in endpoint["parameters"]:
            assert parameter["parameter_has_default"] or parameter["parameter_name"] in must_give, (name, parameter["parameter_name"])
    _, rows, report, _ = newcomer_client.predict(
        handle_file(str(insightface_image("Tom_Hanks_54745.png"))), handle_file(str(insightface_image("t1.jpg"))),
        faces="4", consent=True, api_name="/swap",
    )
    assert rows["data"][0][0] == 4 and report["models"]["swapper"] == "mesh"
    _, rows, _, _ = newcomer_client.predict(handle_file(str(insightface_image("Tom_Hanks_54745.png"))), api_name="/restore")
    assert len(rows["data"]) == 1


def test_api_examples_are_a_photo_with_faces(newcomer_client) -> None:
    api = newcomer_client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/restore", "/analyze", "/frontalize", "/swap", "/batch"):
        examples = [p["example_input"] for p in api[name]["parameters"] if p["component"] in ("Image", "Imageupload", "File", "Photofiles")]
        assert examples, name
        for example in examples:
            files = example if isinstance(example, list) else [example]
            assert all(item["url"].endswith("t1.jpg") for item in files), (name, example)
