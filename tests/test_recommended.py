"""The recommended model set: manifest lists, `models download --recommended`, `launch.py --download`, empty choices.

Large files cannot be downloaded here, so a test manifest gives the
recommended entries the sha256 and size of stand-in files served by a local
HTTP server on 127.0.0.1 (the mirror); the code paths are the real ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

import launch
from facekit import recommended
from facekit.cli import main
from facekit.engine import Engine, EngineConfig
from facekit.errors import ManifestError
from facekit.manifest import DEFAULT_MANIFEST_PATH, load_manifest, parse_manifest
from facekit.processors.restore import RestoreOptions, restore_image
from helpers import YUNET_FILE, insightface_image
from standins import gfpgan_identity

DEAD_URL = "http://127.0.0.1:9/"  # nothing listens there: a test never reaches the internet


def standin_manifest(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """The shipped manifest with the entries of `files` (id -> content) pointing at those bytes' hash and size."""
    document = yaml.safe_load(DEFAULT_MANIFEST_PATH.read_text())
    for entry in document["models"]:
        if entry["id"] in files:
            content = files[entry["id"]]
            entry.update(sha256=hashlib.sha256(content).hexdigest(), bytes=len(content), urls=[DEAD_URL + entry["file"]])
            entry.pop("claimed", None)
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def standin_files(tmp_path: Path, yunet_bytes: bytes) -> dict[str, bytes]:
    """Content per recommended id: the GFPGAN identity stand-in, the real YuNet, placeholder bytes for the swap pair."""
    gfpgan = gfpgan_identity(tmp_path / "gfpgan_standin.onnx").read_bytes()
    return {
        "gfpgan_1.4": gfpgan,
        "yunet_2023mar": yunet_bytes,
        "inswapper_128": b"inswapper stand-in " * 100,
        "arcface_w600k_r50": b"arcface stand-in " * 100,
    }


def serve(http_server, manifest_path: Path, files: dict[str, bytes]) -> None:
    manifest = load_manifest(manifest_path)
    for model_id, content in files.items():
        http_server.state.files[manifest.get(model_id).file] = content


# ------------------------------------------------------------------ manifest
def test_shipped_recommended_sets() -> None:
    manifest = load_manifest()
    assert manifest.recommended["restore"].models[0] == "gfpgan_1.4"
    assert manifest.recommended["swap"].models == ("inswapper_128", "arcface_w600k_r50")
    assert manifest.recommended["detect"].models[0] == "yunet_2023mar"
    assert all(manifest.get(i).licence.commercial for i in manifest.recommended_ids(commercial_only=True))
    assert "inswapper_128" not in manifest.recommended_ids(commercial_only=True)


@pytest.mark.parametrize(
    "recommended_set, phrase",
    [
        ({"restore": {"models": ["nope"], "commercial": ["classic"]}}, "unknown model id 'nope'"),
        ({"restore": {"models": ["gfpgan_1.4"], "commercial": ["codeformer"]}}, "does not allow commercial use"),
        ({"swap": {"models": ["arcface_w600k_r50"], "commercial": ["mesh"]}}, "does the task 'embed', not 'swap'"),
        ({"restore": {"models": ["gfpgan_1.4"]}}, "commercial"),
    ],
)
def test_bad_recommended_sets_are_rejected(recommended_set, phrase) -> None:
    document = yaml.safe_load(DEFAULT_MANIFEST_PATH.read_text())
    document["recommended"] = recommended_set
    with pytest.raises(ManifestError, match=phrase):
        parse_manifest(document)


# ----------------------------------------------------------------------- CLI
def test_cli_download_recommended_offline_says_what_is_missing_and_how_big(tmp_path, capsys) -> None:
    assert main(["models", "download", "--recommended", "--offline", "--models-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "gfpgan_1.4" in err and "324.5 MB" in err and "inswapper_128" in err and "offline" in err
    assert main(["models", "download", "--recommended", "--commercial-only", "--offline", "--models-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "gfpgan_1.4" in err and "inswapper_128" not in err


def test_cli_download_recommended_from_a_local_mirror(tmp_path, http_server, standin_files, capsys) -> None:
    manifest = standin_manifest(tmp_path, standin_files)
    serve(http_server, manifest, standin_files)
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", mirrors=(http_server.url,), manifest_path=manifest))
    from facekit.commands.models import download_recommended

    assert download_recommended(engine, commercial_only=True) == 0
    assert "mesh: built in" in capsys.readouterr().out
    assert engine.weights.status("gfpgan_1.4").ready and engine.weights.status("yunet_2023mar").ready
    assert not engine.weights.status("inswapper_128").ready  # not in the commercial set


# -------------------------------------------------------------------- launch
def test_launch_download_recommended_fetches_and_verifies_the_set(tmp_path, http_server, standin_files) -> None:
    manifest = standin_manifest(tmp_path, standin_files)
    serve(http_server, manifest, standin_files)
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", mirrors=(http_server.url,), manifest_path=manifest))
    lines: list[str] = []
    assert launch.prepare_models(engine, "recommended", lines.append)
    log = "\n".join(lines)
    for model_id in ("gfpgan_1.4", "inswapper_128", "arcface_w600k_r50", "yunet_2023mar"):
        assert engine.weights.status(model_id).ready
        assert f"{model_id}: verified" in log
    assert f"{YUNET_FILE}: 227 KB of 227 KB (100%)" in log  # progress lines in the log
    fetched = {name for name, _ in http_server.state.requests}
    assert fetched == {engine.manifest.get(i).file for i in standin_files}


def test_launch_download_offline_says_what_is_missing(tmp_path, standin_files) -> None:
    manifest = standin_manifest(tmp_path, standin_files)
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", offline=True, manifest_path=manifest))
    lines: list[str] = []
    assert not launch.prepare_models(engine, "recommended", lines.append)
    log = "\n".join(lines)
    assert "missing 4 recommended model(s)" in log and "offline" in log and "gfpgan_1.4 (restore" in log


def test_launch_download_default_follows_space_and_variable() -> None:
    assert launch.default_download({}) == "none"
    assert launch.default_download({"SPACE_ID": "user/facekit"}) == "recommended"
    assert launch.default_download({"SPACE_ID": "user/facekit", "FACEKIT_DOWNLOAD": "commercial"}) == "commercial"
    assert launch.parse_args(["--download", "commercial"]).download == "commercial"


# -------------------------------------------------------------- empty choice
def test_empty_choice_offline_runs_classic_and_says_why(engine, tom) -> None:
    result = restore_image(engine, tom, RestoreOptions(identity=False, download_recommended=True))
    assert result.models["restorer"] == "classic"
    assert "offline, no learned restore model on disk" in result.models["restorer_choice"]


def test_fresh_app_restores_with_the_recommended_model_on_its_first_request(tmp_path, http_server, standin_files, monkeypatch) -> None:
    """Network allowed, nothing on disk, no model named: the first request fetches GFPGAN (verified) and uses it."""
    from gradio_client import Client, handle_file

    from app import build_demo

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    manifest = standin_manifest(tmp_path, standin_files)
    serve(http_server, manifest, {"gfpgan_1.4": standin_files["gfpgan_1.4"]})
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", mirrors=(http_server.url,), manifest_path=manifest))
    demo = build_demo(engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        _, rows, report, _ = client.predict(
            handle_file(str(insightface_image("Tom_Hanks_54745.png"))), None, 0.5, 0.8, "all", 1, api_name="/restore"
        )
    finally:
        demo.close()
    assert report["models"]["restorer"] == "gfpgan_1.4"
    assert "downloaded now" in report["models"]["restorer_choice"] and "verified" in report["models"]["restorer_choice"]
    assert len(rows["data"]) == 1
    assert [name for name, _ in http_server.state.requests] == ["gfpgan_1.4.onnx"]
    assert recommended.choose(engine, "restore", allow_download=False).model_id == "gfpgan_1.4"  # now on disk: best ready
