"""Video restore and swap jobs on generated clips: frames, timing and audio kept, tracks, smoothing, selection, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from clips import (
    background,
    crossing_frames,
    face_patch,
    frame_times,
    moving_face_frames,
    place,
    still_face_frames,
    write_audio_only,
    write_clip,
)
from facekit.analysis import AnalysisOptions, EmbedderChoice
from facekit.face.types import Face
from facekit.imageio import decode_image
from facekit.masking import MaskOptions
from facekit.media.video import VideoError, duration_of, probe, read_tags
from facekit.processors.restore import RestoreOptions
from facekit.processors.swap import SwapOptions
from facekit.processors.video import TrackSelection, VideoJob, VideoOptions, restore_video, swap_video
from helpers import insightface_image
from standins import bisenet_blue_is_background, fake_arcface, gfpgan_identity, identity_swapper

YUNET = AnalysisOptions(detector="yunet_2023mar")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "moving": write_clip(folder / "moving.mp4", moving_face_frames(24), fps=24, audio_seconds=1.0, rotation=90),
        "crossing": write_clip(folder / "crossing.mp4", crossing_frames(36), fps=24),
    }


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    return gfpgan_identity(tmp_path_factory.mktemp("standin") / "gfpgan_identity.onnx")


@pytest.fixture(scope="module")
def other_person(tmp_path_factory) -> np.ndarray:
    """A source photo of someone else than the clip's person (t1.jpg's face 3, enlarged)."""
    return cv2.resize(face_patch(220, 1), (300, 300))


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def test_restore_keeps_frames_timing_size_rotation_and_audio_and_the_identity_standin_changes_nothing(
    mirrored_engine, clips, standin, tmp_path
) -> None:
    source = clips["moving"]
    out = tmp_path / "restored.mp4"
    result = restore_video(mirrored_engine, source, out, RestoreOptions(model_file=standin, blend=1.0), VideoOptions(analysis=YUNET))
    info, original = probe(out), probe(source)
    assert (info.width, info.height, info.rotation, info.frames, info.fps) == (320, 240, 90, 24, 24.0)
    assert frame_times(out) == pytest.approx(frame_times(source), abs=1e-3)
    assert duration_of(out, "audio") == pytest.approx(duration_of(source, "audio"), abs=0.03) and info.audio == original.audio
    report = result.report
    assert report["frames"] == {"read": 24, "written": 24, "skipped": 0, "truncated": False}
    assert [(t["id"], t["first_frame"], t["last_frame"]) for t in report["tracks"]] == [(0, 0, 23)]
    assert report["tracks"][0]["identity"] and report["tracks"][0]["identity"][0]["same_person"] is True
    assert {"decode", "detect", "track", "face_work", "paste", "encode", "wall"} <= set(report["seconds"])
    tags = read_tags(out)
    assert tags["facekit_ai_edited"] == "true" and tags["facekit_job"] == "video restore"
    assert "gfpgan_identity.onnx" in tags["facekit_models"]
    before, after = decoded(source), decoded(out)
    psnr = [cv2.PSNR(a, b) for a, b in zip(before, after, strict=True)]
    assert min(psnr) > 33  # identity restorer: only the H.264 round trip and the paste resampling differ


def test_mesh_swap_changes_the_face_and_the_label_is_burned_in(mirrored_engine, clips, other_person, tmp_path) -> None:
    out = tmp_path / "swapped.mp4"
    options = VideoOptions(analysis=YUNET, detect_every=3, label=True, identity_every=12)
    result = swap_video(mirrored_engine, [other_person], clips["moving"], out, SwapOptions(model="mesh"), options, names=["other.png"])
    before, after = decoded(clips["moving"]), decoded(out)
    assert len(after) == 24
    for index in (0, 11, 23):
        cv2.imwrite(str(tmp_path / f"swap_{index}.png"), np.hstack([before[index], after[index]]))
    changed = [float(np.abs(a.astype(int) - b.astype(int)).mean()) for a, b in zip(before, after, strict=True)]
    assert min(changed) > 2.0  # every frame's face was replaced (and labelled)
    corner = after[0][-20:, :20]  # coded orientation: the label sits in the displayed bottom-right corner
    assert corner.mean() < before[0][-20:, :20].mean()
    track = result.report["tracks"][0]
    assert [s["frame"] for s in track["identity"]] == [0, 12]
    assert result.report["models"]["swapper"] == "mesh" and read_tags(out)["facekit_job"] == "video swap"


def test_learned_swapper_standin_runs_through_the_video_job(mirrored_engine, clips, other_person, tmp_path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    swapper = identity_swapper(models / "inswapper_standin.onnx", width=512)
    arcface = EmbedderChoice(file=fake_arcface(models / "arcface_standin.onnx"), family="arcface")
    swap = SwapOptions(model_file=swapper, family="inswapper", source_embedder=arcface, weight=0.7)
    out = tmp_path / "swapped.mp4"
    result = swap_video(mirrored_engine, [other_person], clips["moving"], out, swap, VideoOptions(analysis=YUNET, detect_every=2))
    assert result.report["frames"]["written"] == 24
    assert result.report["models"]["source_embedder"] == "file:arcface_standin.onnx"
    before, after = decoded(clips["moving"]), decoded(out)
    assert min(cv2.PSNR(a, b) for a, b in zip(before, after, strict=True)) > 28  # output = target crop: nearly unchanged


@pytest.mark.slow  # ~20 s on 2 busy cores: identity embeddings on every frame where the faces are close
def test_track_ids_stay_stable_while_two_faces_cross(mirrored_engine, clips, standin, tmp_path) -> None:
    out = tmp_path / "crossed.mp4"
    result = restore_video(mirrored_engine, clips["crossing"], out, RestoreOptions(model_file=standin, identity=False),
                           VideoOptions(analysis=YUNET, detect_every=1))  # fmt: skip
    tracks = result.report["tracks"]
    assert len(tracks) == 2, tracks
    assert all(t["first_frame"] == 0 and t["last_frame"] == 35 for t in tracks)


@pytest.mark.slow  # ~17 s on 2 busy cores
def test_reference_photo_selects_one_persons_track(mirrored_engine, clips, standin, tmp_path) -> None:
    reference = tmp_path / "person_b.png"
    cv2.imwrite(str(reference), cv2.resize(face_patch(220, 1), (300, 300)))
    options = VideoOptions(analysis=YUNET, tracks=TrackSelection.parse(f"ref:{reference}"))
    restore = RestoreOptions(model_file=standin, identity=False)
    result = restore_video(mirrored_engine, clips["crossing"], tmp_path / "out.mp4", restore, options)
    selected = [t for t in result.report["tracks"] if t["selected"]]
    assert len(result.report["tracks"]) == 2 and len(selected) == 1


def test_video_swap_pastes_through_the_photo_jobs_masker_and_a_parser_keeps_a_hand(mirrored_engine, other_person, tmp_path) -> None:
    """The parser stand-in of test_masks (blue = not face): with it the blue "hand" on the cheek stays; without, it is swapped."""
    patch = face_patch(120)
    cv2.ellipse(patch, (44, 74), (16, 11), 20, 0, 360, (255, 0, 0), -1)  # BGR blue over the left cheek
    frames = []
    for i in range(8):
        frame = background(320, 240)
        place(frame, patch, (150 + 4 * i, 120))
        frames.append(frame)
    clip = write_clip(tmp_path / "hand.mp4", frames, fps=8)
    before = decoded(clip)
    hands = [cv2.erode(((f[..., 0] > 200) & (f[..., 2] < 60)).astype(np.uint8), np.ones((5, 5))) > 0 for f in before]
    assert min(int(h.sum()) for h in hands) > 150
    parser = bisenet_blue_is_background(tmp_path / "bisenet_blue.onnx")

    def hand_change(mask: MaskOptions, name: str) -> tuple[float, dict]:
        out = tmp_path / f"{name}.mp4"
        result = swap_video(mirrored_engine, [other_person], clip, out, SwapOptions(model="mesh", mask=mask, identity=False),
                            VideoOptions(analysis=YUNET))  # fmt: skip
        after = decoded(out)
        cv2.imwrite(str(tmp_path / f"{name}_3.png"), np.hstack([before[3], after[3]]))
        change = np.mean([np.abs(a.astype(int) - b.astype(int))[h].mean() for a, b, h in zip(before, after, hands, strict=True)])
        return float(change), result.report

    kept, with_parser = hand_change(MaskOptions(parser_file=parser), "parser")
    swapped, without = hand_change(MaskOptions(), "auto")
    assert with_parser["models"]["mask"] == "box+region+occlusion (parser file:bisenet_blue.onnx)"
    assert without["models"]["mask"].startswith("box+area")  # no parser is ready offline: the automatic fallback
    assert kept < 6.0 < swapped, (kept, swapped)
    assert with_parser["seconds"]["paste"] > 0 and with_parser["frames"]["written"] == 8


def test_smoothing_lowers_the_jitter_of_the_pasted_face(mirrored_engine, tmp_path) -> None:
    clip = write_clip(tmp_path / "still.mp4", still_face_frames(30), fps=30)

    def jitter(strength: float) -> float:
        centres: list[np.ndarray] = []

        def record(image: np.ndarray, faces: list[tuple[int, Face]]) -> np.ndarray:
            centres.append(faces[0][1].landmarks_5.mean(axis=0))  # the points the paste-back affine is fitted to
            return image

        options = VideoOptions(analysis=YUNET, smoothing=strength, queue_size=0)
        VideoJob(mirrored_engine, options, "test", record, None, {}).run(clip, tmp_path / f"out_{strength}.mp4")
        steps = np.linalg.norm(np.diff(np.array(centres), axis=0), axis=1)
        return float(steps[5:].mean())

    raw, smooth = jitter(0.0), jitter(0.7)
    assert raw > 0.05  # the detector does jitter on this clip
    assert smooth < 0.5 * raw, (raw, smooth)


def test_an_interrupted_job_leaves_no_output_file(mirrored_engine, clips, standin, tmp_path) -> None:
    def interrupt(done: int, total: int | None) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        restore_video(mirrored_engine, clips["moving"], tmp_path / "out.mp4", RestoreOptions(model_file=standin, identity=False),
                      VideoOptions(analysis=YUNET), progress=interrupt)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_cli_video_swap_writes_the_report_and_user_errors_are_one_line(clips, other_person, shared_models, tmp_path, capsys) -> None:
    from facekit.cli import main

    source = tmp_path / "source.png"
    cv2.imwrite(str(source), other_person)
    out = tmp_path / "out.mp4"
    common = ["--mirror", str(shared_models), "--offline", "--models-dir", str(tmp_path / "models")]
    code = main(["video", "swap", str(clips["moving"]), "--source", str(source), "-o", str(out), "--model", "mesh",
                 "--detector", "yunet_2023mar", "--detect-every", "4", "--no-identity", "--json", "--label", *common])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"]["written"] == 24 and report["input"]["rotation"] == 90 and out.exists()
    sound = write_audio_only(tmp_path / "sound.m4a")
    assert main(["video", "restore", str(sound), "-o", str(tmp_path / "x.mp4"), *common]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "audio only" in error and "\n" not in error
    assert main(["video", "restore", str(clips["moving"]), "-o", str(tmp_path / "x.mp4"), "--max-seconds", "0.5", *common]) == 2
    assert "longer than the 0.5 s" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_video_errors_are_clear(mirrored_engine, clips, standin, tmp_path) -> None:
    with pytest.raises(VideoError, match="more than the 0.1 MP"):
        from facekit.media.video import VideoLimits

        restore_video(mirrored_engine, clips["moving"], tmp_path / "o.mp4", RestoreOptions(model_file=standin),
                      VideoOptions(limits=VideoLimits(max_pixels=60_000)))  # fmt: skip
    with pytest.raises(Exception, match="Face maps are for photos"):
        swap_video(mirrored_engine, [decode_image(insightface_image("t1.jpg"))], clips["moving"], tmp_path / "o.mp4",
                   SwapOptions(model="mesh", face_map=((0, 0),)))  # fmt: skip
    with pytest.raises(Exception, match="track ids"):
        TrackSelection.parse("one,two")
