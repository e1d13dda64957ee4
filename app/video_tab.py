"""Video tab: upload a video or animation, preview one frame, then restore or swap every frame.

A video comes out as an MP4 with its sound; an animated GIF / WebP / APNG
comes out as the same kind of animation (or as an MP4 when asked), like the
CLI's `-o` suffix. Paste-back masks are the photo tabs' (the Mask accordion:
automatic = a face parser when one is ready, else box + face area).
Video jobs run in their own queue slot ("video", one at a time), so a long
video never holds up the photo tabs' "jobs" pool. Uploads are capped by size
here and by duration / frames / pixels in facekit.media (stricter hosted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app.common import friendly_errors, rgb, text_input
from app.mask_controls import mask_accordion, mask_options
from app.model_picker import model_picker
from app.results import ResultFolder
from app.swap_tab import CONSENT_TEXT
from app.upload import PhotoFiles
from facekit.analysis import AnalysisOptions
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.imageio import decode_image
from facekit.masking import DEFAULT_BLUR, MaskOptions
from facekit.media.video import EncodeOptions, MediaReader, VideoLimits, probe
from facekit.processors.restore import RestoreOptions, restore_image
from facekit.processors.swap import SwapOptions, swap_image
from facekit.processors.video import TrackSelection, VideoOptions, VideoProgress, restore_video, swap_video

VIDEO_TYPES = ["video", ".gif", ".webp", ".apng", ".png", ".mkv", ".mov", ".webm", ".avi"]
MAX_UPLOAD_MB = {False: 500, True: 50}  # local, hosted
#: the output of an animation upload: the same kind (GIF -> GIF...) or an MP4; a video always gives an MP4
OUTPUT_CHOICES = [("Same kind as the input (an animation stays a GIF / WebP / APNG)", "same"), ("MP4", "mp4")]
ANIMATION_SUFFIXES = {"gif": ".gif", "webp": ".webp", "apng": ".png"}
#: the API page's example for the video input: a placeholder name (gr.File's own example is a PDF)
EXAMPLE_VIDEO = {"path": "phone_clip.mp4", "url": "phone_clip.mp4", "orig_name": "phone_clip.mp4", "meta": {"_type": "gradio.FileData"}}

RESTORE_API = (
    "Restore the faces of every frame of a video (MP4 with its sound out) or an animated GIF/WebP/APNG (the same kind out, "
    "or MP4 with output='mp4'). Only `video` is required. model: a restore model id (None = the best ready one); tracks: "
    "'all' or track ids such as '0,2' (listed in the report); blend 0..1; fidelity 0..1 (CodeFormer); detector: a detect "
    "model id (None = best ready); detect_every: run the detector every N frames; smoothing 0..1 against jitter; crf: H.264 "
    "quality (lower = better); label: burn a visible 'AI-edited' label; mask_*: the paste-back masks as in /restore. "
    "Returns (MP4 or None, animation or None, the file to download, the report)."
)
SWAP_API = (
    "Swap the person of the source photos onto the faces of every frame of a video or animation. `video` and `sources` "
    "are required and consent must be True (you confirm the people shown agreed). model: a swap model id (None = the best "
    "ready one; mesh needs no download); weight 0..1 (inswapper); the other options as in /video_restore. Returns (MP4 or "
    "None, animation or None, the file to download, the report)."
)
PREVIEW_API = (
    "One frame (the first shown at or after `seconds`) through the photo restore or swap, to check the settings before a "
    "full run. job: 'restore' or 'swap' (swap needs `sources`); the models, detector and mask_* as in the video endpoints."
)


class VideoUpload(gr.File):
    """gr.File for one video or animation, whose API example is a video file name (gr.File's is a PDF)."""

    is_template = True

    def example_inputs(self) -> Any:
        return EXAMPLE_VIDEO


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

    def output_path(source: Path, stem: str, output: str | None) -> Path:
        """An MP4, or for an animation upload the same kind of animation unless `output` is 'mp4'."""
        if output not in (None, "same", "mp4"):
            raise gr.Error(f"output must be 'same' or 'mp4'; got {output!r}.")
        kind = probe(source, limits).kind
        suffix = ANIMATION_SUFFIXES.get(kind, ".mp4") if output != "mp4" else ".mp4"
        return results.new_path(stem, suffix)

    def shown(output: Path, report: dict[str, Any]) -> tuple[str | None, str | None, str, dict[str, Any]]:
        """(gr.Video value, animation image value, download, report): an MP4 plays in the video box, an animation shows as an image."""
        if output.suffix == ".mp4":
            return str(output), None, str(output), report
        return None, str(output), str(output), report

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
        model: str | None = None,
        tracks: str = "all",
        blend: float = 0.8,
        fidelity: float = 0.5,
        detector: str | None = None,
        detect_every: float = 1,
        smoothing: float = 0.5,
        crf: float = 20,
        label: bool = False,
        output: str = "same",
        mask_types: list[str] | None = None,
        mask_regions: list[str] | None = None,
        mask_areas: list[str] | None = None,
        mask_blur: float = DEFAULT_BLUR,
        mask_padding: str | None = None,
        mask_parser: str | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str | None, str | None, str, dict[str, Any]]:
        """Restore the faces of every frame (see RESTORE_API)."""
        source = check_upload(video, hosted)
        path = output_path(source, "restored", output)
        mask = mask_options(mask_types, mask_regions, mask_areas, mask_blur, mask_padding, mask_parser)
        restore = RestoreOptions(model=model or None, blend=float(blend), fidelity=float(fidelity), mask=mask)
        options = video_options(tracks, detector, detect_every, smoothing, crf, label)
        result = restore_video(engine, source, path, restore, options, bar(progress))
        return shown(path, result.report)

    @friendly_errors
    def video_swap(
        video: str | None,
        sources: list[str] | None,
        consent: bool = False,
        model: str | None = None,
        tracks: str = "all",
        weight: float = 0.5,
        detector: str | None = None,
        detect_every: float = 1,
        smoothing: float = 0.5,
        crf: float = 20,
        label: bool = hosted,
        output: str = "same",
        mask_types: list[str] | None = None,
        mask_regions: list[str] | None = None,
        mask_areas: list[str] | None = None,
        mask_blur: float = DEFAULT_BLUR,
        mask_padding: str | None = None,
        mask_parser: str | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str | None, str | None, str, dict[str, Any]]:
        """Swap the source person onto the faces of every frame; consent must be True (see SWAP_API)."""
        if consent is not True:
            raise gr.Error("Tick the consent box first: FaceKit swaps faces only with the consent of the people shown.")
        source = check_upload(video, hosted)
        photos, names = sources_of(sources)
        path = output_path(source, "swapped", output)
        mask = mask_options(mask_types, mask_regions, mask_areas, mask_blur, mask_padding, mask_parser)
        swap = SwapOptions(model=model or None, weight=float(weight), mask=mask)
        options = video_options(tracks, detector, detect_every, smoothing, crf, label)
        result = swap_video(engine, photos, source, path, swap, options, bar(progress), names)
        return shown(path, result.report)

    @friendly_errors
    def video_preview(
        video: str | None,
        job: str = "restore",
        sources: list[str] | None = None,
        seconds: float = 0.0,
        restore_model: str | None = None,
        swap_model: str | None = None,
        detector: str | None = None,
        mask_types: list[str] | None = None,
        mask_regions: list[str] | None = None,
        mask_areas: list[str] | None = None,
        mask_blur: float = DEFAULT_BLUR,
        mask_padding: str | None = None,
        mask_parser: str | None = None,
    ) -> np.ndarray:
        """One frame (at `seconds`) through the photo job (see PREVIEW_API)."""
        if job not in ("restore", "swap"):
            raise gr.Error(f"job must be 'restore' or 'swap'; got {job!r}.")
        frame = frame_at(check_upload(video, hosted), float(seconds), limits)
        analysis = AnalysisOptions(detector=detector or None)
        mask: MaskOptions = mask_options(mask_types, mask_regions, mask_areas, mask_blur, mask_padding, mask_parser)
        try:
            if job == "swap":
                photos, _ = sources_of(sources)
                swap = SwapOptions(model=swap_model or None, analysis=analysis, identity=False, mask=mask)
                result = swap_image(engine, photos, frame, swap)
            else:
                restore = RestoreOptions(model=restore_model or None, analysis=analysis, identity=False, mask=mask)
                result = restore_image(engine, frame, restore)
        except FaceKitError as error:
            raise gr.Error(f"Preview at {float(seconds):.1f} s: {error.text('app')}") from None
        return rgb(result.image)

    with gr.Tab("Video", id="video"):
        gr.Markdown(
            "Restore or swap the faces of a video (MP4, MOV, MKV, WebM...) or an animated GIF/WebP/APNG. Faces are tracked "
            "across frames and their landmarks smoothed so the new face does not jitter; sound, frame rate and rotation are kept. "
            f"Limits here: {limits.max_seconds:g} s, {limits.max_pixels / 1e6:.1f} MP per frame, {MAX_UPLOAD_MB[hosted]} MB. "
            "An animation comes out as the same kind (or MP4, if you choose). The result is tagged as AI-edited in its "
            "metadata. Preview one frame first: a full run takes a while."
        )
        with gr.Row():
            with gr.Column():
                video = VideoUpload(label="Video or animation", file_types=VIDEO_TYPES, type="filepath", elem_id="video-input")
                sources = PhotoFiles(label="Source photos of the person to swap in (swap only)", file_count="multiple",
                                     file_types=["image"], type="filepath", elem_id="video-sources")  # fmt: skip
                job = gr.Radio(["restore", "swap"], value="restore", label="Job", elem_id="video-job")
                with gr.Row():
                    with gr.Column():
                        restore_model = model_picker(engine, "restore", "Restore model (empty: best ready)", "video-restore-model")
                    with gr.Column():
                        swap_model = model_picker(engine, "swap", "Swap model (empty: best ready)", "video-swap-model")
                detector = model_picker(engine, "detect", "Detector (empty: best ready)", "video-detector")
                tracks = gr.Textbox(value="all", label="Tracks: all, or track ids such as 0,2 (listed in the report)")
                with gr.Row():
                    detect_every = gr.Slider(1, 10, value=1, step=1, label="Detect every N frames (faster; follows faces between)")
                    smoothing = gr.Slider(0, 1, value=0.5, step=0.05, label="Smoothing (against jitter; 0 = off)")
                with gr.Row():
                    blend = gr.Slider(0, 1, value=0.8, step=0.05, label="Restore blend")
                    fidelity = gr.Slider(0, 1, value=0.5, step=0.05, label="CodeFormer fidelity")
                    weight = gr.Slider(0, 1, value=0.5, step=0.05, label="Swap weight (inswapper)")
                crf = gr.Slider(12, 35, value=20, step=1, label="H.264 quality (CRF: lower = better, bigger)")
                output = gr.Radio(OUTPUT_CHOICES, value="same", label="Output for an animation upload (a video always gives an MP4)",
                                  elem_id="video-output")  # fmt: skip
                mask = mask_accordion(engine, "video")
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
                animation = gr.Image(label="Result (animation)", type="filepath", interactive=False, elem_id="video-animation")
                download = gr.File(label="Download (tagged as AI-edited)")
                report = gr.JSON(label="Report: frames, tracks, identity samples, seconds per stage")
    shared = [detector, detect_every, smoothing, crf, label, output, *mask.inputs()]
    outputs = [result, animation, download, report]
    preview_button.click(
        video_preview, inputs=[video, job, sources, seconds, restore_model, swap_model, detector, *mask.inputs()], outputs=preview,
        api_name="video_preview", api_description=PREVIEW_API, concurrency_id="jobs",
    )  # fmt: skip
    restore_button.click(
        video_restore, inputs=[video, restore_model, tracks, blend, fidelity, *shared], outputs=outputs,
        api_name="video_restore", api_description=RESTORE_API, concurrency_id="video", concurrency_limit=1,
    )  # fmt: skip
    swap_button.click(
        video_swap, inputs=[video, sources, consent, swap_model, tracks, weight, *shared], outputs=outputs,
        api_name="video_swap", api_description=SWAP_API, concurrency_id="video", concurrency_limit=1,
    )  # fmt: skip
