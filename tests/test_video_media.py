"""Video and animation I/O with PyAV: streamed copy, timestamps, rotation, audio, provenance tags, bad files."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image, ImageSequence

from clips import background, frame_times, moving_face_frames, write_audio_only, write_clip
from facekit.media.video import (
    Frame,
    MediaReader,
    MediaWriter,
    VideoError,
    VideoLimits,
    duration_of,
    part_path,
    probe,
    read_tags,
)

TAGS = {"Description": "AI-edited video: FaceKit test", "facekit:ai_edited": "true", "facekit:job": "restore"}


def copy(source, destination, change=None):
    """Read everything and write it back (the job's I/O loop without face work)."""
    with MediaReader(source) as reader, MediaWriter(destination, reader.info, TAGS, audio_stream=reader.audio_stream) as writer:
        for item in reader.events():
            if isinstance(item, Frame):
                writer.write(change(item.image) if change else item.image, item)
            else:
                writer.write_audio(item)
    return reader, writer


def test_copy_keeps_frames_rate_size_rotation_audio_and_tags(tmp_path) -> None:
    source = write_clip(tmp_path / "in.mp4", moving_face_frames(30), fps=25, audio_seconds=1.2, rotation=90)
    info = probe(source)
    assert (info.width, info.height, info.rotation) == (320, 240, 90)  # upright size; coded 240x320
    reader, writer = copy(source, tmp_path / "out.mp4")
    out = probe(tmp_path / "out.mp4")
    assert reader.stats.frames == writer.frames_written == 30 and out.frames == 30
    assert (out.width, out.height, out.rotation, out.fps) == (320, 240, 90, 25.0)
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(frame_times(source), abs=1e-3)
    assert out.audio == "aac"
    assert duration_of(tmp_path / "out.mp4", "audio") == pytest.approx(duration_of(source, "audio"), abs=0.03)
    assert duration_of(tmp_path / "out.mp4") == pytest.approx(duration_of(source), abs=1e-3)
    tags = read_tags(tmp_path / "out.mp4")
    assert tags["facekit_ai_edited"] == "true" and tags["facekit_job"] == "restore" and "AI-edited" in tags["comment"]
    assert not part_path(tmp_path / "out.mp4").exists()


def test_frames_come_out_upright_and_go_back_in_the_coded_orientation(tmp_path) -> None:
    upright = background(320, 240)
    upright[:40, :60] = (0, 0, 255)  # a red block top-left of the picture as displayed
    source = write_clip(tmp_path / "in.mp4", [upright] * 3, rotation=270)
    with MediaReader(source) as reader:
        first = next(reader.frames()).image
    assert first.shape == (240, 320, 3) and first[10, 10, 2] > 200 and first[200, 300, 2] < 200
    copy(source, tmp_path / "out.mp4")
    with MediaReader(tmp_path / "out.mp4") as reader:
        again = next(reader.frames()).image
    assert again[10, 10, 2] > 200


def test_variable_frame_rate_timestamps_are_carried(tmp_path) -> None:
    stamps = [0.0, 0.04, 0.12, 0.14, 0.30, 0.34, 0.50]
    source = write_clip(tmp_path / "vfr.mp4", (background(160, 120) for _ in stamps), times=lambda i: stamps[i])
    copy(source, tmp_path / "out.mp4")
    assert frame_times(tmp_path / "out.mp4") == pytest.approx(stamps, abs=1e-3)


def test_pcm_audio_is_reencoded_to_aac_for_mp4(tmp_path) -> None:
    path = tmp_path / "in.mkv"
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=25)
    video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
    audio = out.add_stream("pcm_s16le", rate=16000, layout="mono")
    for i in range(25):
        frame = av.VideoFrame.from_ndarray(background(160, 120), format="bgr24")
        frame.pts = i
        for packet in video.encode(frame):
            out.mux(packet)
    samples = (3000 * np.sin(np.arange(16000) / 5)).astype(np.int16)[None, :]
    sound = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    sound.sample_rate, sound.pts = 16000, 0
    for packet in [*audio.encode(sound), *audio.encode(), *video.encode()]:
        out.mux(packet)
    out.close()
    _, writer = copy(path, tmp_path / "out.mp4")
    assert any("re-encoded to AAC" in w for w in writer.warnings)
    assert probe(tmp_path / "out.mp4").audio == "aac"
    assert duration_of(tmp_path / "out.mp4", "audio") == pytest.approx(1.0, abs=0.08)


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png"])
def test_animation_in_gives_the_same_kind_out_with_its_durations(tmp_path, suffix) -> None:
    durations = [40, 80, 40, 120, 60]
    pictures = [Image.fromarray(np.full((64, 80, 3), 30 * i, np.uint8)) for i in range(5)]
    source = tmp_path / f"in{suffix}"
    pictures[0].save(source, save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    copy(source, tmp_path / f"out{suffix}")
    with Image.open(tmp_path / f"out{suffix}") as image:
        got = []
        for frame in ImageSequence.Iterator(image):
            frame.load()
            got.append(int(frame.info["duration"]))
    assert got == durations
    copy(source, tmp_path / "as.mp4")
    assert frame_times(tmp_path / "as.mp4") == pytest.approx([0, 0.04, 0.12, 0.16, 0.28], abs=1e-3)


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png"])
def test_animation_output_is_streamed_and_carries_its_provenance(tmp_path, suffix) -> None:
    """Frames go to the file as they come (memory does not grow with the count); the provenance is readable."""
    import tracemalloc

    pictures = [Image.fromarray(background(320, 240)), Image.fromarray(background(320, 240)[::-1].copy())]
    source = tmp_path / f"in{suffix}"
    pictures[0].save(source, save_all=True, append_images=pictures[1:], duration=[50, 50], loop=0)
    info = probe(source)

    def peak_while_writing(count: int) -> int:
        out = tmp_path / f"out_{count}{suffix}"
        tracemalloc.start()
        with MediaWriter(out, info, TAGS) as writer:
            for index in range(count):
                image = np.roll(background(320, 240), 7 * index, axis=1)
                writer.write(image, Frame(index=index, image=image, pts=50 * index, time_base=info.time_base, duration=50))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak_while_writing(5), peak_while_writing(40)
    assert large - small < 1_000_000, (small, large)  # 35 more 230 kB frames held would be 8 MB
    with Image.open(tmp_path / f"out_40{suffix}") as image:
        assert image.n_frames == 40 and image.size == (320, 240)
        meta = {"gif": image.info.get("comment", b"").decode(), "webp": image.info.get("xmp", b"").decode(),
                "apng": image.info.get("Description", "")}[info.kind]  # fmt: skip
        assert "AI-edited video: FaceKit test" in meta
        if info.kind == "apng":  # lossless: every frame comes back exactly
            assert image.info["facekit:job"] == "restore"
            image.seek(39)
            np.testing.assert_array_equal(np.asarray(image.convert("RGB"))[..., ::-1], np.roll(background(320, 240), 7 * 39, axis=1))


def test_odd_sizes_are_padded_for_h264_with_a_warning(tmp_path) -> None:
    source = write_clip(tmp_path / "in.mkv", [background(161, 121)] * 2, codec="mjpeg")
    _, writer = copy(source, tmp_path / "out.mp4")
    assert any("padded to 162x122" in w for w in writer.warnings)


def test_unreadable_truncated_audio_only_and_oversized_files_are_clear_errors(tmp_path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    with pytest.raises(VideoError, match="Cannot read notes.mp4"):
        probe(text)
    clip = write_clip(tmp_path / "clip.mp4", moving_face_frames(20))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # the index (moov) is at the end: gone
    with pytest.raises(VideoError, match="truncated"):
        probe(cut)
    with pytest.raises(VideoError, match="audio only"):
        probe(write_audio_only(tmp_path / "sound.m4a"))
    with pytest.raises(VideoError, match="more than the 0.1 MP"):
        probe(clip, VideoLimits(max_pixels=60_000))
    with pytest.raises(VideoError, match="longer than the 0.5 s"):
        probe(clip, VideoLimits(max_seconds=0.5))
    still = tmp_path / "photo.jpg"
    Image.fromarray(background(64, 48)).save(still)
    with pytest.raises(VideoError, match="still image"):
        probe(still)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="Cannot read empty.mp4"):
        probe(empty)


def test_a_cut_file_with_its_index_first_keeps_the_frames_it_has(tmp_path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", moving_face_frames(40))
    fast = tmp_path / "fast.mp4"
    copy(clip, fast)  # our writer puts the index first (faststart)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: int(fast.stat().st_size * 0.6)])
    with MediaReader(cut) as reader:
        count = sum(1 for _ in reader.frames())
    assert 0 < count < 40 and reader.stats.truncated and "truncated" in reader.stats.warnings[0]


def test_a_corrupt_frame_is_skipped_and_counted(tmp_path) -> None:
    clip = write_clip(tmp_path / "clip.mkv", (background(160, 120) for _ in range(20)), codec="mjpeg")
    data = bytearray(clip.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]  # JPEG starts, one per frame
    data[starts[10] + 2 : starts[10] + 300] = b"\xff" * 298  # frame 10's JPEG headers wiped: undecodable
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    reader, writer = copy(broken, tmp_path / "out.mp4")
    assert reader.stats.skipped == 1 and writer.frames_written == 19
    assert any("skipped" in w for w in reader.stats.warnings)


def test_all_frames_corrupt_is_a_clear_error_and_leaves_nothing(tmp_path) -> None:
    clip = write_clip(tmp_path / "clip.mkv", (background(160, 120) for _ in range(3)), codec="mjpeg")
    data = bytearray(clip.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    for start in starts:
        data[start + 2 : start + 300] = b"\xff" * 298
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="no video frame"):
        copy(broken, tmp_path / "out.mp4")
    assert list(tmp_path.glob("out*")) == []


def test_an_interrupted_write_leaves_no_output_file(tmp_path) -> None:
    source = write_clip(tmp_path / "in.mp4", moving_face_frames(10), audio_seconds=0.5)
    seen = []

    def interrupt(image):
        seen.append(1)
        if len(seen) == 5:
            raise KeyboardInterrupt
        return image

    with pytest.raises(KeyboardInterrupt):
        copy(source, tmp_path / "out.mp4", change=interrupt)
    assert list(tmp_path.glob("out*")) == []


def test_encode_options_and_output_names_are_checked(tmp_path) -> None:
    from facekit.media.video import EncodeOptions, output_kind

    with pytest.raises(VideoError, match="0..51"):
        EncodeOptions(crf=70)
    with pytest.raises(VideoError, match="preset"):
        EncodeOptions(preset="warp")
    with pytest.raises(VideoError, match=".mp4, .gif"):
        output_kind(tmp_path / "out.avi")
