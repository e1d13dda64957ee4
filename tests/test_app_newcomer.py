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


def test_model_dropdowns_offer_what_can_run_ready_first(tmp_path) -> None:
    """Long labels cut off, unavailable models selectable, the only ready model last (16.10)."""
    from app.model_picker import licence_line, model_choices

    offline = Engine(EngineConfig(models_dir=tmp_path / "off", offline=True))
    assert model_choices(offline, "restore") == [("classic · ready", "classic")]  # nothing offline-unavailable is offered
    line = licence_line(offline, "restore", None)
    assert line.startswith("Empty: `classic`, the best ready (licence MIT") and "Not available here: gfpgan_1.4" in line
    online = Engine(EngineConfig(models_dir=tmp_path / "on"))
    labels = [label for label, _ in model_choices(online, "restore")]
    assert labels[0] == "classic · ready" and labels[1] == "gfpgan_1.4 · download 324.5 MB"
    assert all(len(label) <= 45 for label in labels)
    assert "simswap_256_example" not in [value for _, value in model_choices(online, "swap")]  # no public weights
    assert "commercial use not allowed" in licence_line(online, "swap", "inswapper_128")
    assert licence_line(online, "restore", None, downloads_recommended=True).startswith("Empty: `gfpgan_1.4`, downloaded on first use")
    detector = [value for _, value in model_choices(online, "detect")]
    assert detector[0] == "dlib_hog"  # ready first, then the downloads in the manifest's order


def test_an_unavailable_model_named_by_a_client_gets_the_app_wording(newcomer_client) -> None:
    """Not Gradio's 'not in the list of choices', nor command-line advice (--mirror): the Models tab (16.6)."""
    from gradio_client import handle_file

    with pytest.raises(Exception) as caught:
        newcomer_client.predict(handle_file(str(insightface_image("Tom_Hanks_54745.png"))), "gfpgan_1.4", api_name="/restore")
    message = str(caught.value)
    assert "gfpgan_1.4.onnx" in message and "Models tab" in message and "--" not in message


def test_weight_store_hints_speak_to_each_audience(tmp_path) -> None:
    """One message, two wordings: flags for the command line, the app's controls in the app (16.6)."""
    from facekit.errors import FaceKitError, for_audience
    from facekit.masking import MaskOptions

    engine = Engine(EngineConfig(models_dir=tmp_path / "models", offline=True))
    with pytest.raises(FaceKitError) as caught:
        engine.weights.resolve("gfpgan_1.4")
    cli, app = caught.value.text("cli"), caught.value.text("app")
    assert "--mirror FOLDER" in cli and "--offline" in cli and str(caught.value) == cli
    assert "--" not in app and "Models tab" in app and "gfpgan_1.4.onnx" in app
    for name in ("mask_padding", "parser_needed", "one_source", "free_space"):
        cli_words, app_words = for_audience(f"{{control:{name}}}", "cli"), for_audience(f"{{control:{name}}}", "app")
        assert "--" in cli_words and "--" not in app_words, name
    with pytest.raises(FaceKitError) as caught:
        MaskOptions(padding=(0.0, 0.0, 200.0, 0.0))
    assert "--mask-padding" in caught.value.text("cli") and "box padding" in caught.value.text("app")


def test_a_group_source_photo_says_which_face_and_takes_an_index(newcomer_client) -> None:
    """A group photo as the swap source used one face silently; now the report says which, and the index picks (16.14)."""
    from gradio_client import handle_file

    group, single = handle_file(str(insightface_image("t1.jpg"))), handle_file(str(insightface_image("Tom_Hanks_54745.png")))
    _, rows, report, _ = newcomer_client.predict(group, single, consent=True, api_name="/swap")
    assert any("has 6 faces; the largest (face" in warning for warning in report["warnings"])
    assert rows["data"][0][1].startswith("source photo face ")  # the table says which
    _, rows, report, _ = newcomer_client.predict(group, single, consent=True, source_face="2", api_name="/swap")
    assert rows["data"][0][1] == "source photo face 2" and not any("largest" in w for w in report["warnings"])
    with pytest.raises(Exception, match="Face index 9 does not exist in the source photo"):
        newcomer_client.predict(group, single, consent=True, source_face="9", api_name="/swap")
    with pytest.raises(Exception, match="The source face must be 'largest' or a face index"):
        newcomer_client.predict(group, single, consent=True, source_face="left", api_name="/swap")


def test_user_errors_log_one_line_and_bugs_keep_their_traceback(caplog) -> None:
    """Every user mistake used to print a full traceback in the server log (16.14)."""
    import logging

    import gradio as gr

    from app.common import friendly_errors
    from facekit.errors import NoFaceError

    @friendly_errors
    def mistaken() -> None:
        raise NoFaceError("No face was found in the photo.", "Use a photo with a visible face.")

    @friendly_errors
    def buggy() -> None:
        raise ZeroDivisionError("a bug")

    caplog.set_level(logging.INFO, logger="app.common")
    with pytest.raises(gr.Error) as refused:
        mistaken()
    assert refused.value.print_exception is False  # Gradio prints no traceback for it either
    with pytest.raises(gr.Error, match="Something went wrong"):
        buggy()
    user, bug = caplog.records[-2:]
    assert user.levelno == logging.INFO and user.exc_info is None and "No face was found" in user.getMessage()
    assert bug.levelno == logging.ERROR and bug.exc_info is not None and bug.exc_info[0] is ZeroDivisionError


def test_status_lines_say_what_a_job_did() -> None:
    """The line under each Run button (seen on a phone when the result is below the fold, 16.14)."""
    from app.analyze_tab import analyzed
    from app.batch_tab import batch_done, batch_summary
    from app.status import faces_done

    report = {"faces": [{"index": 0}, {"index": 1, "skipped": "degenerate landmarks"}, {"index": 2}]}
    assert faces_done("restored")(report) == "**Done**: 2 faces restored (1 skipped: why is in the report) - see the result below."
    assert analyzed({"images": [{"image": "image", "faces": [{}] * 6}, {"image": "second", "faces": [{}]}]}) == (
        "**Done**: faces found: 6 in the photo, 1 in the second photo - see the result below."
    )
    batch = {"items": [{"input": "a.png"}, {"input": "wall.png", "error": "No face was found in the photo."}]}
    assert batch_done(batch).startswith("**Done**: 1 ok, 1 failed")
    assert batch_summary(batch) == "**1 ok, 1 failed**\n- wall.png - No face was found in the photo."  # above the raw report (16.12)
