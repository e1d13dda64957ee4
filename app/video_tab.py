"""Video tab: upload a video or animation, preview one frame, then restore or swap every frame (MP4 with sound out).

Video jobs run in their own queue slot ("video", one at a time), so a long
video never holds up the photo tabs' "jobs" pool. Uploads are capped by size
here and by duration / frames / pixels in facekit.media (stricter hosted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app.common import friendly_errors, model_choices, rgb, text_input
from app.results import ResultFolder
from app.swap_tab import CONSENT_TEXT
from facekit.analysis import AnalysisOptions
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.imageio import decode_image
from facekit.media.video import EncodeOptions, MediaReader, VideoLimits
from facekit.processors.restore import RestoreOptions, restore_image
from facekit.processors.swap import SwapOptions, swap_image
from facekit.processors.video import TrackSelection, VideoOptions, VideoProgress, restore_video, swap_video

VIDEO_TYPES = ["video", ".gif", ".webp", ".apng", ".png", ".mkv", ".mov", ".webm", ".avi"]
MAX_UPLOAD_MB = {False: 500, True: 50}  # local, hosted


def check_upload(path: str | None, hosted: bool) -> Path:
    """The uploaded file's path, refused when missing or over the size cap."""
    if not path:
        raise gr.Error("Upload a video or an animated GIF/WebP/APNG first.")
    file = Path(path)
    megabytes = file.stat().st_size / 1e6
    if megabytes > MAX_UPLOAD_MB[hosted]:
        raise gr.Error(f"The upload is {megabytes:.0f} MB; this server takes videos up to {MAX_UPLOAD_MB[hosted]} MB. Cut or compress it.")
    return file


def frame_at(path: Path, seconds: float, limits: VideoLimits) -> np.ndarray:
    """The first frame shown at or after `seconds` (the last one if the clip is shorter)."""
    last = None
    with MediaReader(path, limits) as reader:
        for frame in reader.frames():
            last = frame.image
            if frame.time >= seconds:
                break
    assert last is not None  # the reader raises when there is no frame
    return last


def build_video_tab(engine: Engine, results: ResultFolder, hosted: bool = False) -> None:
    limits = VideoLimits.hosted() if hosted else VideoLimits()

    def video_options(tracks: str, detector: str | None, detect_every: float, smoothing: float, crf: float, label: bool) -> VideoOptions:
        return VideoOptions(
            detect_every=int(detect_every),
            smoothing=float(smoothing),
            tracks=TrackSelection.parse(text_input(tracks, "tracks"), allow_reference=False),
            label=bool(label) or hosted,  # the visible AI label is always on in hosted mode
            encode=EncodeOptions(crf=int(crf)),
            limits=limits,
            analysis=AnalysisOptions(detector=detector or None),
        )

    def sources_of(paths: list[str] | None) -> tuple[list[np.ndarray], list[str]]:
        if not paths:
            raise gr.Error("Add at least one source photo of the person to swap in.")
        return [decode_image(path) for path in paths], [Path(path).name for path in paths]

    def bar(progress: gr.Progress) -> VideoProgress:
        def update(done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=f"frame {done}" + (f" of {total}" if total else ""), unit="frames")

        return update

    @friendly_errors
    def video_restore(
        video: str | None,
        model: str | None,
        tracks: str = "all",
        blend: float = 0.8,
        fidelity: float = 0.5,
        detector: str | None = None,
        detect_every: float = 1,
        smoothing: float = 0.5,
        crf: float = 20,
        label: bool = False,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str, dict[str, Any]]:
        """Restore the faces of every frame. tracks: 'all' or track ids '0,2' (from the report). Returns (MP4, download, report)."""
        source = check_upload(video, hosted)
        output = results.new_path("restored", ".mp4")
        restore = RestoreOptions(model=model or None, blend=float(blend), fidelity=float(fidelity))
        options = video_options(tracks, detector, detect_every, smoothing, crf, label)
        result = restore_video(engine, source, output, restore, options, bar(progress))
        return str(output), str(output), result.report

    @friendly_errors
    def video_swap(
        video: str | None,
        sources: list[str] | None,
        consent: bool,
        model: str | None = None,
        tracks: str = "all",
        weight: float = 0.5,
        detector: str | None = None,
        detect_every: float = 1,
        smoothing: float = 0.5,
        crf: float = 20,
        label: bool = hosted,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str, dict[str, Any]]:
        """Swap the source person onto the faces of every frame; consent must be true. Returns (MP4, download, report)."""
        if consent is not True:
            raise gr.Error("Tick the consent box first: FaceKit swaps faces only with the consent of the people shown.")
        source = check_upload(video, hosted)
        photos, names = sources_of(sources)
        output = results.new_path("swapped", ".mp4")
        swap = SwapOptions(model=model or None, weight=float(weight))
        options = video_options(tracks, detector, detect_every, smoothing, crf, label)
        result = swap_video(engine, photos, source, output, swap, options, bar(progress), names)
        return str(output), str(output), result.report

    @friendly_errors
    def video_preview(
        video: str | None,
        job: str,
        sources: list[str] | None,
        seconds: float = 0.0,
        restore_model: str | None = None,
        swap_model: str | None = None,
        detector: str | None = None,
    ) -> np.ndarray:
        """One frame (at `seconds`) through the photo job, to check the settings before the full run. job: 'restore' or 'swap'."""
        frame = frame_at(check_upload(video, hosted), float(seconds), limits)
        analysis = AnalysisOptions(detector=detector or None)
        try:
            if job == "swap":
                photos, _ = sources_of(sources)
                result = swap_image(engine, photos, frame, SwapOptions(model=swap_model or None, analysis=analysis, identity=False))
            else:
                result = restore_image(engine, frame, RestoreOptions(model=restore_model or None, analysis=analysis, identity=False))
        except FaceKitError as error:
            raise gr.Error(f"Preview at {float(seconds):.1f} s: {error.text('app')}") from None
        return rgb(result.image)

    with gr.Tab("Video", id="video"):
        gr.Markdown(
            "Restore or swap the faces of a video (MP4, MOV, MKV, WebM...) or an animated GIF/WebP/APNG. Faces are tracked "
            "across frames and their landmarks smoothed so the new face does not jitter; sound, frame rate and rotation are kept. "
            f"Limits here: {limits.max_seconds:g} s, {limits.max_pixels / 1e6:.1f} MP per frame, {MAX_UPLOAD_MB[hosted]} MB. "
            "The MP4 is tagged as AI-edited in its metadata. Preview one frame first: a full run takes a while."
        )
        with gr.Row():
            with gr.Column():
                video = gr.File(label="Video or animation", file_types=VIDEO_TYPES, type="filepath", elem_id="video-input")
                sources = gr.File(label="Source photos of the person to swap in (swap only)", file_count="multiple",
                                  file_types=["image"], type="filepath", elem_id="video-sources")  # fmt: skip
                job = gr.Radio(["restore", "swap"], value="restore", label="Job", elem_id="video-job")
                with gr.Row():
                    restore_model = gr.Dropdown(choices=model_choices(engine, "restore"), value=None, label="Restore model (empty: best)")
                    swap_model = gr.Dropdown(choices=model_choices(engine, "swap"), value=None, label="Swap model (empty: best)")
                detector = gr.Dropdown(choices=model_choices(engine, "detect"), value=None, label="Detector (empty: best ready)")
                tracks = gr.Textbox(value="all", label="Tracks: all, or track ids such as 0,2 (listed in the report)")
                with gr.Row():
                    detect_every = gr.Slider(1, 10, value=1, step=1, label="Detect every N frames (faster; follows faces between)")
                    smoothing = gr.Slider(0, 1, value=0.5, step=0.05, label="Smoothing (against jitter; 0 = off)")
                with gr.Row():
                    blend = gr.Slider(0, 1, value=0.8, step=0.05, label="Restore blend")
                    fidelity = gr.Slider(0, 1, value=0.5, step=0.05, label="CodeFormer fidelity")
                    weight = gr.Slider(0, 1, value=0.5, step=0.05, label="Swap weight (inswapper)")
                crf = gr.Slider(12, 35, value=20, step=1, label="H.264 quality (CRF: lower = better, bigger)")
                consent = gr.Checkbox(value=False, label=CONSENT_TEXT, elem_id="video-consent")
                label = gr.Checkbox(value=hosted, label="Burn a visible 'AI-edited' label into the corner")
                with gr.Row():
                    seconds = gr.Number(value=0.0, label="Preview at (seconds)", minimum=0)
                    preview_button = gr.Button("Preview one frame", elem_id="video-preview")
                with gr.Row():
                    restore_button = gr.Button("Restore video", variant="primary", elem_id="video-restore")
                    swap_button = gr.Button("Swap video", variant="primary", elem_id="video-swap")
            with gr.Column():
                preview = gr.Image(label="Preview frame", type="numpy", format="png", interactive=False, elem_id="video-preview-image")
                result = gr.Video(label="Result", interactive=False, elem_id="video-result")
                download = gr.File(label="Download MP4 (tagged as AI-edited)")
                report = gr.JSON(label="Report: frames, tracks, identity samples, seconds per stage")
    video_slot = {"concurrency_id": "video", "concurrency_limit": 1}
    shared = [detector, detect_every, smoothing, crf, label]
    preview_button.click(
        video_preview, inputs=[video, job, sources, seconds, restore_model, swap_model, detector], outputs=preview,
        api_name="video_preview", concurrency_id="jobs",
    )  # fmt: skip
    restore_button.click(
        video_restore, inputs=[video, restore_model, tracks, blend, fidelity, *shared], outputs=[result, download, report],
        api_name="video_restore", **video_slot,
    )  # fmt: skip
    swap_button.click(
        video_swap, inputs=[video, sources, consent, swap_model, tracks, weight, *shared], outputs=[result, download, report],
        api_name="video_swap", **video_slot,
    )  # fmt: skip
