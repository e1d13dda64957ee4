"""Test clips generated at test time (no video is ever committed): moving faces, crossings, sine audio."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from facekit.imageio import decode_image
from helpers import insightface_image

PATCHES = ((402, 250, 220), (688, 321, 190))  # (x, y, side) around faces 2 and 3 of t1.jpg, with margin


def face_patch(size: int = 180, person: int = 0) -> np.ndarray:
    """A square crop around one face of InsightFace's t1.jpg (a real photo), resized to `size`."""
    photo = decode_image(insightface_image("t1.jpg"))
    x, y, side = PATCHES[person]
    return cv2.resize(photo[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)


def place(canvas: np.ndarray, patch: np.ndarray, centre: tuple[float, float], scale: float = 1.0, angle: float = 0.0) -> None:
    """Paste `patch` onto `canvas` (in place) centred, scaled and rotated (degrees)."""
    h, w = patch.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += np.array(centre) - np.array([w / 2, h / 2])
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, canvas.shape[1::-1])
    warped = cv2.warpAffine(patch, matrix, canvas.shape[1::-1], flags=cv2.INTER_LINEAR)
    canvas[mask > 127] = warped[mask > 127]


def background(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([90 + 40 * np.sin(x / 50.0), 110 + 30 * np.cos(y / 40.0), 100 + 0 * x], axis=-1)
    return base.astype(np.uint8)


def moving_face_frames(count: int, width: int = 320, height: int = 240, patch_size: int = 120) -> Iterable[np.ndarray]:
    """One face drifting right, growing a little and turning a few degrees."""
    patch = face_patch(patch_size)
    for i in range(count):
        t = i / max(1, count - 1)
        frame = background(width, height)
        place(frame, patch, (width * (0.35 + 0.3 * t), height * 0.5), scale=0.9 + 0.2 * t, angle=-8 + 16 * t)
        yield frame


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    audio_seconds: float | None = None,
    rotation: int = 0,
    codec: str = "libx264",
    times: Callable[[int], float] | None = None,
    container_format: str | None = None,
) -> Path:
    """Encode BGR frames (upright; turned to the coded orientation when `rotation` is set), optional sine audio."""
    out = av.open(str(path), "w", format=container_format)
    frames = iter(frames)
    first = next(frames)
    coded_first = _coded(first, rotation)
    video = out.add_stream(codec, rate=fps)
    video.height, video.width = coded_first.shape[:2]
    video.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    if times is not None:
        video.codec_context.time_base = video.time_base = Fraction(1, 1000)
    if rotation:
        video.set_display_rotation(rotation)
    audio = out.add_stream("aac", rate=44100, layout="mono") if audio_seconds else None
    for index, image in enumerate([first, *frames]):
        frame = av.VideoFrame.from_ndarray(_coded(image, rotation), format="bgr24")
        frame.pts = round(times(index) * 1000) if times is not None else index
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
    if audio is not None:
        _sine(out, audio, audio_seconds)
    out.close()
    return path


def _coded(image: np.ndarray, rotation: int) -> np.ndarray:
    turn = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(image, turn[rotation]) if rotation else image


def _sine(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float, rate: int = 44100) -> None:
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        chunk = samples[start : start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    out = av.open(str(path), "w")
    _sine(out, out.add_stream("aac", rate=44100, layout="mono"), seconds)
    out.close()
    return path


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def crossing_frames(count: int, width: int = 400, height: int = 240, patch_size: int = 110) -> Iterable[np.ndarray]:
    """Two different people: A walks left to right in front, B right to left a little higher; they cross mid-clip."""
    person_a, person_b = face_patch(patch_size, 0), face_patch(patch_size, 1)
    for i in range(count):
        t = i / max(1, count - 1)
        frame = background(width, height)
        place(frame, person_b, (width * (0.82 - 0.64 * t), height * 0.42))
        place(frame, person_a, (width * (0.18 + 0.64 * t), height * 0.58))
        yield frame


def still_face_frames(count: int, seed: int = 0, width: int = 320, height: int = 240) -> Iterable[np.ndarray]:
    """A face that does not move, under fresh sensor noise every frame (the detector's boxes and points jitter)."""
    rng = np.random.default_rng(seed)
    still = background(width, height)
    place(still, face_patch(120), (width / 2, height / 2))
    for _ in range(count):
        noise = rng.normal(0, 7.0, still.shape)
        yield np.clip(still.astype(np.float32) + noise, 0, 255).astype(np.uint8)
