"""The app on 127.0.0.1, driven through gradio_client as a script would."""

from __future__ import annotations

import pytest

from facekit.engine import Engine, EngineConfig
from helpers import YUNET_FILE


def test_models_endpoints(running_app) -> None:
    from gradio_client import Client

    url, engine = running_app
    client = Client(url, verbose=False)
    rows, listed = client.predict(api_name="/models")
    ids = [row["id"] for row in listed]
    assert ids == engine.manifest.ids
    assert {row["id"]: row["status"] for row in listed}["yunet_2023mar"] == "download"

    assert "not downloaded" in client.predict("yunet_2023mar", api_name="/verify_model")
    message = client.predict("yunet_2023mar", api_name="/download_model")
    assert "verified" in message
    rows, listed = client.predict(api_name="/models")
    assert {row["id"]: row["status"] for row in listed}["yunet_2023mar"] == "ready"
    assert ["yunet_2023mar", "detect", "ready"] == rows["data"][ids.index("yunet_2023mar")][:3]
    assert (engine.config.models_dir / YUNET_FILE).exists()
    assert "ok" in client.predict("yunet_2023mar", api_name="/verify_model")

    with pytest.raises(Exception, match="offline"):
        client.predict("gfpgan_1.4", api_name="/download_model")
    # the server still answers after a user error
    assert client.predict(api_name="/models")[1]


def test_analyze_endpoint_and_bad_upload(running_app, tmp_path) -> None:
    from gradio_client import Client, handle_file

    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    annotated, report, matrix = client.predict(
        handle_file(str(insightface_image("t1.jpg"))), None, None, 0.5, api_name="/analyze"
    )
    faces = report["images"][0]["faces"]
    assert len(faces) == 6 and all(face["pose"] is not None for face in faces)
    assert len(matrix["data"]) == 15 and len(matrix["headers"]) == 4  # every pair of six faces, four columns
    assert matrix["headers"][2] == "distance (lower = more alike)"
    scores = [row[2] for row in matrix["data"]]
    assert scores == sorted(scores)  # closest pairs first
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(Exception, match="not an image format FaceKit can read"):
        client.predict(handle_file(str(bad)), None, None, 0.5, api_name="/analyze")
    # still serving
    assert client.predict(api_name="/models")[1]


def test_restore_endpoint_labels_its_output(running_app) -> None:
    from gradio_client import Client, handle_file
    from PIL import Image

    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    slider, rows, report, download = client.predict(
        handle_file(str(insightface_image("t1.jpg"))), "classic", 0.5, 0.8, "0,2", 1, api_name="/restore"
    )
    assert report["models"]["restorer"] == "classic"
    assert [row[0] for row in rows["data"]] == [0, 2]
    assert rows["headers"][1] == "identity distance (lower = more alike)"  # dlib: a distance, not a similarity
    assert report["faces"][0]["identity_direction"] == "lower = more alike" and "identity_distance" in report["faces"][0]
    labels = Image.open(download).text
    assert labels["facekit:ai_edited"] == "true" and labels["facekit:job"] == "restore"
    after = Image.open(slider[1])
    assert after.size == (1280, 886) and after.text.get("facekit:job") == "restore"
    with pytest.raises(Exception, match="Face index 9 does not exist"):
        client.predict(handle_file(str(insightface_image("t1.jpg"))), "classic", 0.5, 0.8, "9", 1, api_name="/restore")


def test_frontalize_endpoint(running_app) -> None:
    from gradio_client import Client, handle_file

    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    gallery, rows, report, sheet = client.predict(handle_file(str(insightface_image("t1.jpg"))), "1", None, api_name="/frontalize")
    assert len(gallery) == 1 and rows["data"][0][0] == 1
    assert abs(rows["data"][0][3]) < 8 < abs(rows["data"][0][2])  # yaw re-measured on the output
    assert report["models"]["frontalizer"] == "geometric"


def test_batch_endpoint_zips_results_and_reports_bad_files(running_app, tmp_path) -> None:
    import zipfile

    from gradio_client import Client, handle_file

    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    files = [handle_file(str(insightface_image("Tom_Hanks_54745.png"))), handle_file(str(broken))]
    archive, report = client.predict(files, "restore", "classic", api_name="/batch")
    assert [("error" in item) for item in report["items"]] == [False, True]
    assert "broken.jpg" in report["items"][1]["input"]
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
    assert "report.json" in names and any(name.endswith("Tom_Hanks_54745.png") for name in names)


def test_example_batch_client_restores_a_folder(running_app, tmp_path) -> None:
    import shutil
    import subprocess
    import sys

    from PIL import Image

    from helpers import REPO, insightface_image

    url, _ = running_app
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(insightface_image("Tom_Hanks_54745.png"), photos / "hanks.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff nothing")
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / "batch_client.py"), str(photos), str(tmp_path / "out"), "--url", url],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stderr  # the broken file is reported
    assert "broken.jpg: failed" in run.stderr
    assert Image.open(tmp_path / "out" / "hanks.png").text["facekit:job"] == "restore"


def test_swap_endpoint_needs_consent_and_reports_identity(running_app) -> None:
    from gradio_client import Client, handle_file
    from PIL import Image

    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    t1 = handle_file(str(insightface_image("t1.jpg")))
    hanks = handle_file(str(insightface_image("Tom_Hanks_54745.png")))
    with pytest.raises(Exception, match="consent"):
        client.predict(hanks, t1, None, "all", "", 0.5, None, False, False, api_name="/swap")
    slider, rows, report, download = client.predict(hanks, t1, None, "4", "", 0.5, None, True, True, api_name="/swap")
    assert report["models"]["swapper"] == "mesh"
    assert report["models"]["swap_resolution"] == "128"  # the last API parameter, omitted: its default
    with pytest.raises(Exception, match="mesh does not support the swap resolution 256"):
        client.predict(hanks, t1, None, "4", "", 0.5, None, True, False, swap_resolution=256, api_name="/swap")
    face = rows["data"][0]
    assert face[0] == 4 and face[4] is True  # closer to the source than to the original person (its open mouth kept)
    _, plain, _, _ = client.predict(hanks, t1, None, "4", "", 0.5, None, True, False, keep_mouth="never", api_name="/swap")
    assert plain["data"][0][2] < face[2]  # the source's lips too: nearer the source still
    assert rows["headers"][2:4] == ["to source: distance (lower = more alike)", "to original: distance (lower = more alike)"]
    labels = Image.open(download).text
    assert labels["facekit:job"] == "swap" and '"visible_label": true' in labels["facekit:details"]


def test_restore_only_the_faces_like_a_reference_photo(running_app, tmp_path) -> None:
    from gradio_client import Client, handle_file
    from PIL import Image

    from helpers import insightface_image

    url, _ = running_app
    group = Image.open(insightface_image("t1.jpg"))
    reference = tmp_path / "person3.png"
    group.crop((680, 300, 890, 530)).save(reference)  # a crop around face 3 only
    client = Client(url, verbose=False)
    _, rows, _, _ = client.predict(
        handle_file(str(insightface_image("t1.jpg"))), "classic", 0.5, 0.8, "all", 1, handle_file(str(reference)), api_name="/restore"
    )
    assert [row[0] for row in rows["data"]] == [3]


def test_swap_with_extra_source_photos(running_app) -> None:
    from gradio_client import Client, handle_file

    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    hanks = str(insightface_image("Tom_Hanks_54745.png"))
    _, rows, report, _ = client.predict(
        handle_file(hanks), handle_file(str(insightface_image("t1.jpg"))), None, "2", "", 0.5, None, True, False,
        [handle_file(hanks)], api_name="/swap",
    )
    assert rows["data"][0][0] == 2
    assert any("other source photos were ignored" in warning for warning in report["warnings"])  # mesh uses one


def test_restore_with_a_diffusion_model_from_the_manifest(tmp_path, monkeypatch) -> None:
    """A manifest entry of task `diffusion` appears in the Restore tab and refines the restored faces."""
    import hashlib

    import numpy as np
    import yaml
    from gradio_client import Client, handle_file

    from facekit.manifest import DEFAULT_MANIFEST_PATH
    from helpers import insightface_image
    from standins import oracle_onnx

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    models = tmp_path / "models"
    models.mkdir()
    oracle = oracle_onnx(models / "grey_oracle.onnx", np.zeros((1, 3, 512, 512)))
    document = yaml.safe_load(DEFAULT_MANIFEST_PATH.read_text())
    document["models"].append({
        "id": "test_diffusion", "task": "diffusion", "family": "diffusion", "source": "url", "file": oracle.name,
        "urls": ["http://127.0.0.1:9/unused.onnx"], "sha256": hashlib.sha256(oracle.read_bytes()).hexdigest(),
        "licence": {"name": "test", "commercial": False}, "author": "test", "input": {"size": 512},
    })
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(document))
    from app import build_demo

    demo = build_demo(Engine(EngineConfig(models_dir=models, offline=True, manifest_path=manifest)))
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        _, rows, report, _ = client.predict(
            handle_file(str(insightface_image("Tom_Hanks_54745.png"))), "classic", 0.5, 1.0, "all", 2, None,
            "test_diffusion", 20, 4, 0.0, api_name="/restore",
        )
    finally:
        demo.close()
    assert report["models"]["diffusion"] == "test_diffusion"
    assert len(rows["data"]) == 1


def test_restore_and_frontalize_endpoints_take_an_output_format(running_app) -> None:
    """Issue 17.6: `output_format` / `quality` are optional API inputs (default png); the download has that format and suffix."""
    from gradio_client import Client, handle_file
    from PIL import Image

    from facekit.image_encode import read_provenance
    from helpers import insightface_image

    url, _ = running_app
    client = Client(url, verbose=False)
    tom = handle_file(str(insightface_image("Tom_Hanks_54745.png")))
    *_, download = client.predict(tom, "classic", api_name="/restore")
    assert download.endswith(".png") and Image.open(download).format == "PNG"
    *_, download = client.predict(tom, "classic", output_format="webp", quality=70, api_name="/restore")
    assert download.endswith(".webp") and Image.open(download).format == "WEBP"
    assert read_provenance(download)["facekit:job"] == "restore"
    *_, sheet = client.predict(tom, "all", None, output_format="jpeg", api_name="/frontalize")
    assert sheet.endswith(".jpg") and read_provenance(sheet)["facekit:job"] == "frontalize"
    with pytest.raises(Exception, match="less than minimum value 1"):  # the slider's own bounds
        client.predict(tom, "classic", output_format="jpeg", quality=0, api_name="/restore")
    with pytest.raises(Exception, match="gif"):
        client.predict(tom, "classic", output_format="gif", api_name="/restore")
