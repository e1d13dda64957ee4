"""The Video tab's endpoints through gradio_client: preview, restore, swap (consent, labels, sound), own queue slot."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageSequence

from clips import face_patch, moving_face_frames, write_clip
from facekit.media.video import duration_of, probe, read_tags


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", moving_face_frames(10), fps=10, audio_seconds=1.0)


def test_video_endpoints_preview_swap_and_refuse_without_consent(running_app, clip, tmp_path) -> None:  # noqa: F811
    from gradio_client import Client, handle_file

    url, _ = running_app
    client = Client(url, verbose=False)
    client.predict("yunet_2023mar", api_name="/download_model")  # from the test mirror
    source = tmp_path / "source.png"
    cv2.imwrite(str(source), cv2.resize(face_patch(220, 1), (300, 300)))
    preview = client.predict(handle_file(str(clip)), "swap", [handle_file(str(source))], 0.5, None, "mesh", "yunet_2023mar",
                             api_name="/video_preview")  # fmt: skip
    assert cv2.imread(preview).shape == (240, 320, 3)
    with pytest.raises(Exception, match="consent"):
        client.predict(handle_file(str(clip)), [handle_file(str(source))], False, "mesh", api_name="/video_swap")
    video, animation, download, report = client.predict(
        handle_file(str(clip)), [handle_file(str(source))], True, "mesh", "all", 0.5, "yunet_2023mar", 2, 0.5, 23, True,
        api_name="/video_swap",
    )
    path = video["video"] if isinstance(video, dict) else video
    assert animation is None and Path(download).suffix == ".mp4"
    info = probe(path)
    assert (info.width, info.height, info.frames, info.audio) == (320, 240, 10, "aac")
    assert duration_of(path, "audio") == pytest.approx(duration_of(clip, "audio"), abs=0.03)
    tags = read_tags(path)
    assert tags["facekit_job"] == "video swap" and '"visible_label": true' in tags["facekit_details"]
    assert report["frames"]["written"] == 10 and report["tracks"][0]["selected"]
    bad = tmp_path / "bad.mp4"
    bad.write_text("no video here")
    with pytest.raises(Exception, match="Cannot read bad.mp4"):
        client.predict(handle_file(str(bad)), None, api_name="/video_restore")
    assert client.predict(api_name="/models")[1]  # still serving


def test_optional_inputs_can_be_left_out_and_an_animation_comes_back_as_one(running_app, clip, tmp_path) -> None:
    """Only the video (and for a swap its sources and consent) are needed; a GIF in gives a GIF out, or an MP4 if asked."""
    from gradio_client import Client, handle_file

    url, _ = running_app
    client = Client(url, verbose=False)
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name, needed in (("/video_restore", {"video"}), ("/video_swap", {"video", "sources"}), ("/video_preview", {"video"})):
        required = {p["parameter_name"] for p in info[name]["parameters"] if not p["parameter_has_default"]}
        assert required == needed, name
    examples = {p["parameter_name"]: p["example_input"] for p in info["/video_swap"]["parameters"]}
    assert examples["video"]["orig_name"] == "phone_clip.mp4" and examples["sources"][0]["orig_name"] == "t1.jpg"
    assert cv2.imread(client.predict(handle_file(str(clip)), api_name="/video_preview")).shape == (240, 320, 3)
    video, animation, _, report = client.predict(handle_file(str(clip)), api_name="/video_restore")
    assert animation is None and probe(video["video"] if isinstance(video, dict) else video).frames == 10
    assert report["models"]["restorer"] == "classic" and "classic" in report["models"]["mask"]
    frames = [Image.fromarray(np.ascontiguousarray(image[..., ::-1])) for image in moving_face_frames(4)]
    gif = tmp_path / "clip.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=[100, 200, 100, 300], loop=0)
    source = tmp_path / "source.png"
    cv2.imwrite(str(source), cv2.resize(face_patch(220, 1), (300, 300)))
    video, animation, download, report = client.predict(
        video=handle_file(str(gif)), sources=[handle_file(str(source))], consent=True, api_name="/video_swap"
    )
    assert video is None and Path(download).suffix == ".gif" and report["frames"]["written"] == 4
    with Image.open(download) as image:
        durations = [int(frame.info["duration"]) for frame in ImageSequence.Iterator(image)]
    assert durations == [100, 200, 100, 300]
    video, animation, download, _ = client.predict(handle_file(str(gif)), output="mp4", api_name="/video_restore")
    assert animation is None and Path(download).suffix == ".mp4" and probe(download).frames == 4
    with pytest.raises(Exception, match="avi"):  # the radio refuses it (the handler would too)
        client.predict(handle_file(str(gif)), output="avi", api_name="/video_restore")


def test_video_jobs_have_their_own_queue_slot(tmp_path) -> None:
    from app import build_demo
    from facekit.engine import Engine, EngineConfig

    demo = build_demo(Engine(EngineConfig(models_dir=tmp_path / "models", offline=True)))
    by_name = {fn.api_name: fn for fn in demo.fns.values()}
    for name in ("video_restore", "video_swap"):
        assert by_name[name].concurrency_id == "video" and by_name[name].concurrency_limit == 1
    assert by_name["restore"].concurrency_id == "jobs"


def test_uploads_over_the_cap_are_refused(tmp_path, monkeypatch) -> None:
    import gradio as gr

    from app import video_tab

    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 2_000_000)
    monkeypatch.setitem(video_tab.MAX_UPLOAD_MB, True, 1)
    with pytest.raises(gr.Error, match="up to 1 MB"):
        video_tab.check_upload(str(big), hosted=True)
    assert video_tab.check_upload(str(big), hosted=False) == big


def test_the_servers_upload_limit_lets_videos_through() -> None:
    import launch

    assert launch.upload_limit(hosted=False) == "500mb" and launch.upload_limit(hosted=True) == "50mb"


def test_video_model_dropdowns_carry_the_licence_line(running_app) -> None:
    """The Video tab's model dropdowns have short ready-first labels and a licence line under each, as the photo tabs (16.10)."""
    import requests

    url, _ = running_app
    config = requests.get(url.rstrip("/") + "/config", timeout=30).json()
    by_id = {c.get("props", {}).get("elem_id"): c["props"] for c in config["components"] if c.get("props", {}).get("elem_id")}
    for elem_id in ("video-restore-model", "video-swap-model", "video-detector"):
        assert elem_id in by_id, elem_id
        assert by_id[f"{elem_id}-licence"]["value"].startswith("Empty: "), elem_id
        labels = [choice[0] for choice in by_id[elem_id]["choices"]]
        assert labels and all(" · " in label for label in labels), labels
