"""Hostile and awkward inputs against every job endpoint of the running app; the server keeps answering.

The decoder itself is covered case by case in test_imageio.py and fuzzed in
test_fuzz_decoder.py; here each kind of file travels the whole way
(upload -> Gradio -> FaceKit decoder -> job) and must come back as a clear
sentence or a correct result.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from facekit.engine import Engine, EngineConfig
from helpers import insightface_image, png_header_only


def _save(image: Image.Image, path: Path, image_format: str, **options: object) -> Path:
    image.save(path, format=image_format, **options)
    return path


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    face = Image.open(insightface_image("t1.jpg")).convert("RGB")
    jpeg = io.BytesIO()
    face.save(jpeg, format="JPEG")
    files = {
        "zero_bytes": folder / "zero.jpg",
        "random_bytes": folder / "random.png",
        "truncated_jpeg": folder / "truncated.jpg",
        "bomb_png": folder / "bomb.png",
    }
    files["zero_bytes"].write_bytes(b"")
    files["random_bytes"].write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    files["truncated_jpeg"].write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    files["bomb_png"].write_bytes(png_header_only(30000, 30000))
    files["one_pixel"] = _save(Image.new("RGB", (1, 1), (90, 60, 30)), folder / "one.png", "PNG")
    files["no_face"] = _save(Image.new("RGB", (320, 240), (30, 120, 200)), folder / "sky.png", "PNG")
    files["cmyk_jpeg"] = _save(face.convert("CMYK"), folder / "cmyk.jpg", "JPEG")
    files["rgba_png"] = _save(face.convert("RGBA"), folder / "rgba.png", "PNG")
    files["palette_gif"] = _save(face.convert("P"), folder / "palette.gif", "GIF")
    sixteen = np.asarray(face.convert("L"), dtype=np.uint16) * 257
    files["sixteen_bit_png"] = _save(Image.fromarray(sixteen), folder / "grey16.png", "PNG")
    rotated = face.transpose(Image.Transpose.ROTATE_90)  # stored sideways, EXIF says turn it back
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif_rotated_jpeg"] = _save(rotated, folder / "exif.jpg", "JPEG", exif=exif.tobytes())
    return files


UNREADABLE = {
    "zero_bytes": "empty",
    "random_bytes": "not an image format",
    "truncated_jpeg": "truncated",
    "bomb_png": "too large",
}
READABLE_WITH_FACES = ("cmyk_jpeg", "rgba_png", "palette_gif", "sixteen_bit_png", "exif_rotated_jpeg")


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def hostile_client(models_folder) -> Iterator[tuple[object, str]]:
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from app import build_demo

    engine = Engine(EngineConfig(models_dir=models_folder, offline=True))
    demo = build_demo(engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False), url
    finally:
        demo.close()


def call(client, endpoint: str, path: Path):
    from gradio_client import handle_file

    photo = handle_file(str(path))
    hanks = handle_file(str(insightface_image("Tom_Hanks_54745.png")))
    arguments = {
        "/analyze": (photo, None, None, 0.5),
        "/restore": (photo, "classic", 0.5, 0.8, "all", 1),
        "/swap": (hanks, photo, None, "all", "", 0.5, None, True, False),
        "/frontalize": (photo, "all", None),
    }[endpoint]
    return client.predict(*arguments, api_name=endpoint)


ENDPOINTS = ("/analyze", "/restore", "/swap", "/frontalize")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_unreadable_uploads_get_a_clear_sentence(hostile_client, hostile_files, endpoint, kind) -> None:
    app_client, _ = hostile_client
    with pytest.raises(Exception, match=UNREADABLE[kind]):
        call(app_client, endpoint, hostile_files[kind])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", ["one_pixel", "no_face"])
def test_images_without_a_face(hostile_client, hostile_files, endpoint, kind) -> None:
    app_client, _ = hostile_client
    if endpoint in ("/swap", "/frontalize", "/restore"):  # one rule: a job with no face is an error
        with pytest.raises(Exception, match="No face was found"):
            call(app_client, endpoint, hostile_files[kind])
    else:
        _, report, _ = call(app_client, endpoint, hostile_files[kind])
        assert report["images"][0]["faces"] == []


@pytest.mark.parametrize("kind", READABLE_WITH_FACES)
def test_awkward_formats_are_analysed_upright(hostile_client, hostile_files, kind) -> None:
    app_client, _ = hostile_client
    _, report, _ = call(app_client, "/analyze", hostile_files[kind])
    record = report["images"][0]
    assert (record["width"], record["height"]) == (1280, 886)  # EXIF rotation undone
    assert len(record["faces"]) >= 5
    assert all(abs(face["pose"]["roll"]) < 45 for face in record["faces"])  # upright faces


def test_forty_faces_are_handled(hostile_client, tmp_path) -> None:
    path = _crowd(tmp_path / "crowd.png")
    app_client, _ = hostile_client
    _, report, _ = call(app_client, "/analyze", path)
    assert len(report["images"][0]["faces"]) == 40
    _, rows, _, _ = call(app_client, "/restore", path)
    assert len(rows["data"]) == 40


def test_the_api_cannot_read_server_files(hostile_client) -> None:
    _, url = hostile_client
    direct = requests.get(url + "gradio_api/file=/etc/passwd", timeout=10)
    assert direct.status_code == 403 and "root:" not in direct.text
    posted = requests.post(
        url + "gradio_api/call/analyze",
        json={"data": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, None, None, 0.5]},
        timeout=10,
    )
    if posted.ok:  # accepted into the queue: the event must end in an error, without the file's content
        stream = requests.get(url + f"gradio_api/call/analyze/{posted.json()['event_id']}", timeout=60)
        assert "event: error" in stream.text and "root:" not in stream.text
    else:
        assert "root:" not in posted.text


@pytest.mark.parametrize("model_id", ["../../etc/passwd", "/etc/passwd", "gfpgan_1.4/../../x", "nope"])
def test_model_ids_cannot_escape_the_manifest(hostile_client, model_id) -> None:
    """Refused by the dropdown's choices and, behind it, by the manifest lookup."""
    app_client, _ = hostile_client
    with pytest.raises(Exception, match="Unknown model id|not in the list of choices"):
        app_client.predict(model_id, api_name="/download_model")
    with pytest.raises(Exception, match="Unknown model id|not in the list of choices"):
        app_client.predict(model_id, api_name="/verify_model")


def test_the_server_still_answers(hostile_client) -> None:
    app_client, _ = hostile_client
    _, listed = app_client.predict(api_name="/models")
    assert any(row["id"] == "classic" for row in listed)


@pytest.mark.parametrize("model_id", ["../../etc/passwd", "/etc/passwd", "gfpgan_1.4/../../x"])
def test_the_engine_refuses_path_like_model_ids(tmp_path, model_id) -> None:
    from facekit.errors import UnknownModelError

    engine = Engine(EngineConfig(models_dir=tmp_path, offline=True))
    with pytest.raises(UnknownModelError):
        engine.weights.resolve(model_id)
    with pytest.raises(UnknownModelError):
        engine.adapter(model_id)


# ---------------------------------------------------------------- issue 18: security and clear refusals
def _photo():
    from gradio_client import handle_file

    return handle_file(str(insightface_image("Tom_Hanks_54745.png")))


def _faces_call(app_client, endpoint: str, faces: str):
    photo = _photo()
    arguments = {
        "/restore": (photo, "classic", 0.5, 0.8, faces, 1),
        "/frontalize": (photo, faces, None),
        "/swap": (photo, photo, None, faces, "", 0.5, None, True, False),
    }[endpoint]
    return app_client.predict(*arguments, api_name=endpoint)


SERVER_PATHS = ["/etc/passwd", "/nonexistent/x.png", "/etc", str(insightface_image("t1.jpg"))]


@pytest.mark.parametrize("endpoint", ["/restore", "/frontalize", "/swap"])
@pytest.mark.parametrize("path", SERVER_PATHS)
def test_ref_paths_in_the_faces_box_are_refused(hostile_client, endpoint, path) -> None:
    """No existence/type oracle and no server image as input: the same sentence whatever the path."""
    app_client, _ = hostile_client
    with pytest.raises(Exception, match="command-line feature") as caught:
        _faces_call(app_client, endpoint, f"ref:{path}")
    assert "passwd" not in str(caught.value) and "No image file" not in str(caught.value)


def _with_defaults(url: str, endpoint: str, data: list) -> list:
    """`data` followed by the default values of the endpoint's remaining inputs (as the page would send them)."""
    config = requests.get(url + "config", timeout=10).json()
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == endpoint)
    values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    return data + [values.get(i) for i in dependency["inputs"][len(data):]]


def _raw_call(url: str, endpoint: str, data: list, complete: bool = True) -> str:
    data = _with_defaults(url, endpoint, data) if complete else data
    posted = requests.post(url + f"gradio_api/call/{endpoint}", json={"data": data}, timeout=10)
    if not posted.ok:
        return posted.text
    return requests.get(url + f"gradio_api/call/{endpoint}/{posted.json()['event_id']}", timeout=120).text


def _file_data(path: str) -> dict:
    return {"path": path, "url": path if path.startswith("http") else None, "meta": {"_type": "gradio.FileData"}}


def _uploaded(url: str) -> dict:
    with open(insightface_image("Tom_Hanks_54745.png"), "rb") as handle:
        return _file_data(requests.post(url + "gradio_api/upload", files={"files": handle}, timeout=10).json()[0])


@pytest.mark.parametrize("server_file", [str(insightface_image("t1.jpg")), "/etc/passwd", "http://127.0.0.1:9/x.png"])
def test_file_inputs_naming_server_paths_or_urls_are_refused_by_name(hostile_client, server_file) -> None:
    _, url = hostile_client
    photo = _uploaded(url)
    restore = _raw_call(url, "restore", [photo, "classic", 0.5, 0.8, "all", 1, _file_data(server_file)])
    assert "event: error" in restore and "reference (" in restore and "not uploaded to this app" in restore
    swap = _raw_call(url, "swap", [photo, photo, None, "all", "", 0.5, None, True, False, [_file_data(server_file)]])
    assert "event: error" in swap and "more_sources (" in swap and "not uploaded to this app" in swap
    assert "root:" not in restore + swap


@pytest.mark.parametrize("endpoint", ["/restore", "/frontalize"])
def test_repeated_face_indexes_count_once(hostile_client, endpoint) -> None:
    app_client, _ = hostile_client
    result = _faces_call(app_client, endpoint, ",".join(["0"] * 40))
    rows = result[1]["data"]
    assert len(rows) == 1


def test_a_huge_faces_string_is_refused_without_echoing_it(hostile_client) -> None:
    app_client, _ = hostile_client
    with pytest.raises(Exception, match="characters long") as caught:
        _faces_call(app_client, "/restore", "0," * 500_000)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(
    ("endpoint", "arguments", "expected"),
    [
        ("/restore", (123, "classic", 0.5, 0.8, "all", 1), r"image \(Photo\) must be an uploaded image file"),
        ("/restore", ([1, 2], "classic", 0.5, 0.8, "all", 1), r"image \(Photo\) must be .*got a list"),
        ("/restore", ("PHOTO", "classic", 0.5, "abc", "all", 1), r"blend \(.*\) must be a number from 0 to 1; got 'abc'"),
        ("/restore", ("PHOTO", ["classic"], 0.5, 0.8, "all", 1), r"model \(.*\) must be one model id"),
        ("/restore", ("PHOTO", "classic", 0.5, 0.8, None, 1), r"faces \(.*\) must be text"),
        ("/analyze", ("PHOTO", None, None, None), r"score_threshold \(.*\) must be a number from 0.05 to 0.95; got null"),
        ("/swap", ("PHOTO", "PHOTO", None, "all", None, 0.5, None, True, False), r"face_map \(.*\) must be text"),
    ],
)
def test_wrong_typed_api_inputs_get_a_sentence(hostile_client, endpoint, arguments, expected) -> None:
    app_client, _ = hostile_client
    arguments = tuple(_photo() if value == "PHOTO" else value for value in arguments)
    with pytest.raises(Exception, match=expected):
        app_client.predict(*arguments, api_name=endpoint)


def test_missing_inputs_are_named(hostile_client) -> None:
    _, url = hostile_client
    answer = _raw_call(url, "restore", [_uploaded(url)], complete=False)
    assert "event: error" in answer and "restore takes" in answer and "blend" in answer


def _server_folders(*extra: Path) -> set[str]:
    """Folders of this server whose names must not reach a visitor: temp, Gradio's cache, home, Python, the repo."""
    import sys
    import tempfile

    from gradio.utils import get_upload_folder

    from helpers import REPO

    folders = {tempfile.gettempdir(), get_upload_folder(), str(Path.home()), sys.prefix, sys.base_prefix, str(REPO)}
    folders |= {str(path) for path in extra}
    return {folder.rstrip("/") for folder in folders if folder.rstrip("/")}


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _disclosed(config: dict, folders: set[str]) -> list[str]:
    return [text[:120] for text in _strings(config) if "file=" in text or any(folder in text for folder in folders)]


def test_config_discloses_no_server_paths(hostile_client, models_folder) -> None:
    """No server path anywhere in /config: not the models dir, nor Gradio's cached copies of the example photos."""
    _, url = hostile_client
    config = requests.get(url + "config", timeout=10).json()
    assert _disclosed(config, _server_folders(models_folder, Path(models_folder).parent)) == []


def test_config_discloses_no_server_paths_in_hosted_mode(hosted) -> None:
    config = requests.get(hosted.url + "config", timeout=10).json()
    assert _disclosed(config, _server_folders(hosted.results)) == []


def test_examples_still_show_and_load(hostile_client) -> None:
    """The example photos are thumbnails inside /config and, clicked, load the photo itself into the upload box."""
    _, url = hostile_client
    config = requests.get(url + "config", timeout=10).json()
    datasets = [c for c in config["components"] if c.get("type") == "dataset" and c["props"].get("samples")]
    assert datasets
    for dataset in datasets:
        for sample in dataset["props"]["samples"]:
            assert sample[0]["url"].startswith("data:image/jpeg;base64,")
    click = next(d for d in config["dependencies"] if d["targets"] and d["targets"][0][0] == datasets[0]["id"])
    answer = requests.post(
        url + "gradio_api/run/predict",
        json={"data": [0], "fn_index": click["id"], "session_hash": "examples", "event_data": None, "trigger_id": None},
        timeout=30,
    )
    assert answer.ok, answer.text
    loaded = answer.json()["data"][0]["value"]
    photo = requests.get(url + "gradio_api/file=" + loaded["path"], timeout=10)
    assert photo.ok and Image.open(io.BytesIO(photo.content)).size == Image.open(insightface_image("t1.jpg")).size


def test_a_missing_model_is_explained_without_server_paths(hostile_client, models_folder) -> None:
    """Offline app, model file absent: the visitor learns the file's name and what to do, not the models dir."""
    app_client, _ = hostile_client
    with pytest.raises(Exception, match="gfpgan_1.4.onnx") as caught:
        app_client.predict(_photo(), "gfpgan_1.4", 0.5, 0.8, "all", 1, api_name="/restore")
    message = str(caught.value)
    assert [folder for folder in _server_folders(models_folder) if folder in message] == []
    assert "Ask whoever runs this app" in message and "--mirror" not in message and "--offline" not in message


def test_model_errors_keep_paths_on_the_command_line_only(tmp_path) -> None:
    """The same errors: the CLI names the path to fix, the app names the file alone."""
    from facekit.errors import FaceKitError
    from facekit.sessions import SessionPool

    broken = tmp_path / "models" / "broken.onnx"
    broken.parent.mkdir()
    broken.write_bytes(b"this is not a protobuf")
    with pytest.raises(FaceKitError) as load_error:
        SessionPool().get(broken)
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", offline=True))
    with pytest.raises(FaceKitError) as missing:
        engine.model_path("gfpgan_1.4")
    for caught in (load_error, missing):
        assert str(tmp_path) in caught.value.text("cli")
        app_text = caught.value.text("app")
        assert str(tmp_path) not in app_text and "/models/" not in app_text, app_text
        assert ("broken.onnx" in app_text) or ("gfpgan_1.4.onnx" in app_text)


def test_hide_paths_cuts_absolute_paths_and_leaves_urls() -> None:
    from facekit.errors import hide_paths

    assert hide_paths("Cannot write /srv/app/out/x.png: no space.") == "Cannot write x.png: no space."
    assert hide_paths("load C:\\Users\\me\\m.onnx failed") == "load m.onnx failed"
    assert hide_paths("in ~/models/a/b.onnx.") == "in b.onnx."
    kept = "from https://example.org/a/b.onnx, api /restore, 0/1 and/or"
    assert hide_paths(kept) == kept


# ---------------------------------------------------------------- hosted mode (issue 18.14)
@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    from types import SimpleNamespace

    from gradio_client import Client

    from app import build_demo
    from app.results import ResultFolder

    engine = Engine(EngineConfig(models_dir=tmp_path_factory.mktemp("hosted-models"), offline=True))
    results = ResultFolder(root=tmp_path_factory.mktemp("hosted-results"))
    demo = build_demo(engine, results=results, hosted=True)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield SimpleNamespace(client=Client(url, verbose=False), url=url, results=results.root, demo=demo)
    finally:
        demo.close()


def test_the_visible_label_cannot_be_switched_off_in_hosted_mode(hosted) -> None:
    photo = _photo()
    *_, download = hosted.client.predict(photo, photo, None, "all", "", 0.5, None, True, False, api_name="/swap")
    details = json.loads(Image.open(download).text["facekit:details"])
    assert details["visible_label"] is True


def test_hosted_mode_limits_uploads_per_client(hosted) -> None:
    """A fake proxy address gets its own bucket, so the other tests' client is not blocked."""
    from app.main import HOSTED_REQUESTS_PER_MINUTE

    answers = []
    for _ in range(HOSTED_REQUESTS_PER_MINUTE + 1):
        with open(insightface_image("Tom_Hanks_54745.png"), "rb") as handle:
            answers.append(
                requests.post(
                    hosted.url + "gradio_api/upload", files={"files": handle}, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10
                )
            )
    assert all(answer.ok for answer in answers[:-1])
    assert answers[-1].status_code == 429 and "at most" in answers[-1].json()["detail"]
    with open(insightface_image("Tom_Hanks_54745.png"), "rb") as handle:  # another address is unaffected
        assert requests.post(hosted.url + "gradio_api/upload", files={"files": handle}, timeout=10).ok


def test_the_rate_limit_window_slides() -> None:
    from app.limits import RateLimit

    now = [0.0]
    limit = RateLimit(app=None, per_minute=2, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a") and limit.allow("b")
    now[0] = 61.0
    assert limit.allow("a")


def _crowd(path: Path) -> Path:
    tile = Image.open(insightface_image("Tom_Hanks_54745.png")).convert("RGB")
    padded = Image.new("RGB", (192, 192), tile.getpixel((0, 0)))
    padded.paste(tile, (40, 40))
    padded = padded.resize((160, 160))
    grid = Image.new("RGB", (160 * 8, 160 * 5))
    for row in range(5):
        for column in range(8):
            grid.paste(padded, (column * 160, row * 160))
    return _save(grid, path, "PNG")


def test_a_job_whose_client_disconnects_is_cancelled(hosted, tmp_path) -> None:
    import time
    import uuid

    config = requests.get(hosted.url + "config", timeout=10).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "restore")
    with open(_crowd(tmp_path / "crowd.png"), "rb") as handle:
        uploaded = requests.post(hosted.url + "gradio_api/upload", files={"files": handle}, timeout=10).json()[0]
    session = uuid.uuid4().hex
    data = _with_defaults(hosted.url, "restore", [_file_data(uploaded), "classic", 0.5, 0.8, "all", 1])
    joined = requests.post(
        hosted.url + "gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
        timeout=10,
    )
    assert joined.ok, joined.text
    stream = requests.get(hosted.url + f"gradio_api/queue/data?session_hash={session}", stream=True, timeout=60)
    for line in stream.iter_lines():
        if b"progress" in line:  # the job is working on faces: hang up
            break
    stream.close()
    deadline = time.monotonic() + 120
    while any(job_set for job_set in hosted.demo._queue.active_jobs) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(job_set for job_set in hosted.demo._queue.active_jobs)
    assert not list(Path(hosted.results).glob("restored-*.png")), "the cancelled job still wrote its result"


def test_hosted_upscale_is_capped_before_working(hosted, tmp_path) -> None:
    from gradio_client import handle_file

    photo = _save(Image.new("RGB", (1100, 1100), (90, 120, 150)), tmp_path / "square.png", "PNG")
    with pytest.raises(Exception, match=r"over the limit of 16 MP\. Use an upscale of 3.5 or less"):
        hosted.client.predict(handle_file(str(photo)), "classic", 0.5, 0.8, "all", 4, api_name="/restore")
