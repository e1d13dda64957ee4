"""Swap tab: consent first; before/after slider, identity report (to source and to target), labelled PNG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from app.common import friendly_errors, identity_header, image_from_upload, parse_faces, score_kind, show_notes, text_input
from app.limits import job_progress
from app.mask_controls import mask_accordion, mask_options
from app.model_picker import model_picker
from app.output_controls import format_from_controls, output_controls
from app.results import ResultFolder, labelled_image
from app.status import faces_done, finish, start, status_line
from app.upload import PhotoFiles, image_upload, on_new_upload
from facekit.analysis import AnalysisOptions
from facekit.engine import Engine
from facekit.face.identity import IdentityScore
from facekit.face.pixel_boost import RESOLUTIONS
from facekit.image_encode import JPEG_QUALITY
from facekit.masking import DEFAULT_BLUR
from facekit.processors.common import FaceSelection
from facekit.processors.reports import SwapFaceReport
from facekit.processors.restore import RestoreOptions
from facekit.processors.swap import MAX_SOURCE_PHOTOS, MOUTH_MODES, MouthMode, SwapOptions, SwapPipeline, parse_face_map
from facekit.provenance import add_visible_label, provenance_metadata

# the recogniser that scored each face is in the report JSON (identity_embedder): the table keeps what fits
REPORT_COLUMNS = ["face", "source", "score vs source", "score vs original", "closer to source"]
SOURCE_LARGEST = "largest"
CONSENT_TEXT = (
    "I have the consent of the people in these photos, and I will not use the result to deceive, harass or impersonate anyone."
)


def report_rows(faces: Sequence[SwapFaceReport]) -> list[list[object]]:
    return [
        [f.index, f.source, _value(f.to_source), _value(f.to_target), f.closer_to_source]
        for f in faces
    ]


def report_table(faces: Sequence[SwapFaceReport]) -> dict[str, object]:
    """The table of swapped faces; its headers say whether the scores are distances or similarities."""
    kind = score_kind(f.to_source for f in faces)
    headers = list(REPORT_COLUMNS)
    if kind is not None:
        headers[2:4] = [identity_header("to source:", kind), identity_header("to original:", kind)]
    return {"headers": headers, "data": report_rows(faces)}


def _resolution(value: int | str | None) -> int:
    """The dropdown's (or an API client's) swap resolution; None or empty = 128."""
    if value is None or value == "":
        return 128
    try:
        return int(value)
    except (TypeError, ValueError):
        raise gr.Error(f"The swap resolution must be one of {', '.join(map(str, RESOLUTIONS))}; got {value!r}.") from None


def _source_index(value: Any) -> int | None:
    """The source face box (or an API client's value): 'largest' or empty = None (the largest face), else a face index."""
    text = text_input(value, "source_face").strip().lower()
    if text in ("", SOURCE_LARGEST):
        return None
    if not text.isdigit() or len(text) > 3:
        raise gr.Error(f"The source face must be 'largest' or a face index such as 0 or 2; got {text[:20]!r}.")
    return int(text)


def _value(score: IdentityScore | None) -> float | None:
    return None if score is None else round(score.value, 4)


def _mouth_mode(value: str | None) -> MouthMode:
    for mode in MOUTH_MODES:
        if value == mode:
            return mode
    raise gr.Error(f"The mouth choice must be one of {', '.join(MOUTH_MODES)}; got {value!r}.")


def build_swap_tab(engine: Engine, results: ResultFolder, label_by_default: bool, max_faces: int, label_always: bool = False) -> None:
    """`label_always` (hosted mode): the visible AI label is on whatever the checkbox or an API call says."""
    @friendly_errors
    def swap(
        source: Any,
        target: Any,
        model: str | None = None,
        faces: str = "all",
        face_map: str = "",
        weight: float = 0.5,
        restore: str | None = None,
        consent: bool = False,
        visible_label: bool = False,
        more_sources: list[str] | None = None,
        mask_types: list[str] | None = None,
        mask_regions: list[str] | None = None,
        mask_areas: list[str] | None = None,
        mask_blur: float = DEFAULT_BLUR,
        mask_padding: str | None = None,
        mask_parser: str | None = None,
        detection_threshold: float = 0.5,
        swap_resolution: int | str = 128,
        output_format: str = "png",
        quality: float = JPEG_QUALITY,
        keep_mouth: str = "open",
        source_face: str = SOURCE_LARGEST,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, dict[str, object], dict[str, object], str]:
        """Put the source person's face onto the target photo's faces. consent must be True: you confirm the people shown
        agreed. model: a swap model id, or None for the best ready one; faces: 'all' or target indexes such as '0,2';
        face_map: source:target pairs such as '0:1,1:0' (a group source photo); weight: 0..1 (inswapper); restore: a
        restore model id for the swapped faces, or None; visible_label: add a visible 'AI-edited' corner label;
        more_sources: more photos of the same person (inswapper averages them); swap_resolution: 128 (default), or
        256/384/512 to run inswapper on 2x2/3x3/4x4 interleaved sub-images of a bigger crop (pixel boost; refused
        for mesh); output_format: the download's format, 'png' (default), 'jpeg' or 'webp'; quality: 1..100 for
        JPEG / WebP; keep_mouth: mesh keeps the target's own mouth and expression when it is 'open' (default),
        'always', or 'never'; source_face: 'largest' (default) or the index of the source photo's face to use (a group
        photo; the report's 'source' column says which face was used). Returns the before/after pair, the per-face
        identity table, the report and the labelled file."""
        if consent is not True:
            raise gr.Error("Tick the consent box first: FaceKit swaps faces only with the consent of the people shown.")
        sources = [image_from_upload(source, "source photo")]
        if len(more_sources or []) + 1 > MAX_SOURCE_PHOTOS:  # refused before decoding any of them
            count = len(more_sources or []) + 1
            raise gr.Error(f"{count} source photos is more than one identity uses ({MAX_SOURCE_PHOTOS}); upload fewer.")
        sources += [image_from_upload(path, f"extra source photo {number + 1}") for number, path in enumerate(more_sources or [])]
        target_image = image_from_upload(target, "target photo")
        chosen_format = format_from_controls(output_format, quality)
        options = SwapOptions(
            model=model or None,
            download_recommended=True,
            source_index=_source_index(source_face),
            faces=parse_faces(faces) if not face_map.strip() else FaceSelection(),
            face_map=parse_face_map(face_map) if face_map.strip() else (),
            weight=float(weight),
            restore=RestoreOptions(model=restore) if restore else None,
            analysis=AnalysisOptions(max_faces=max_faces, score_threshold=float(detection_threshold)),
            mask=mask_options(mask_types, mask_regions, mask_areas, mask_blur, mask_padding, mask_parser),
            swap_resolution=_resolution(swap_resolution),
            keep_mouth=_mouth_mode(keep_mouth),
        )
        pending = SwapPipeline.from_engine(engine, sources, options).start(target_image, job_progress(progress))
        visible_label = bool(visible_label) or label_always
        output = add_visible_label(pending.image) if visible_label else pending.image
        metadata = provenance_metadata("swap", pending.models, {"visible_label": bool(visible_label), "consent_confirmed": True})
        result, download = results.write_during(pending, output, "swapped", metadata, chosen_format)
        show_notes(result.warnings)
        return (labelled_image(target_image, {}), labelled_image(output, metadata)), report_table(result.faces), result.report(), download

    with gr.Tab("Swap", id="swap"):
        gr.Markdown(
            "Put one person's face onto the faces of another photo. `mesh` needs no download; `inswapper_128` looks more "
            "natural but needs an ArcFace model too (non-commercial licences). Every result is labelled as AI-edited in its "
            "file metadata. The scores say how much each new face resembles the source and the original person, measured "
            "with a different recogniser from the one that drove the swap (dlib: a distance, lower is more alike, under 0.6 is "
            "the same person)."
        )
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    source = image_upload("Source face", "swap-source")
                    target = image_upload("Target photo", "swap-target")
                more_sources = PhotoFiles(
                    label="More photos of the same person (optional; inswapper averages them)",
                    file_count="multiple",
                    file_types=["image"],
                    type="filepath",
                )
                model = model_picker(
                    engine, "swap", "Swap model (empty: best ready, or the recommended one downloaded now)", "swap-model",
                    downloads_recommended=True,
                )
                source_face = gr.Textbox(
                    value=SOURCE_LARGEST, elem_id="swap-source-face",
                    label="Source face: largest, or its index (a group source photo; numbered left to right from 0)",
                )
                faces = gr.Textbox(value="all", label="Target faces: all, or indexes such as 0,2")
                face_map = gr.Textbox(value="", label="Or a map source:target such as 0:1,1:0 (when the source has several people)")
                detection_threshold = gr.Slider(
                    0.05, 0.95, value=0.5, step=0.05, label="Detection score threshold (lower finds more faces; each is checked)"
                )
                weight = gr.Slider(0, 1, value=0.5, step=0.05, label="Swap weight (inswapper: higher keeps more of the source)")
                swap_resolution = gr.Dropdown(
                    choices=list(RESOLUTIONS), value=128,
                    label="Swap resolution (inswapper pixel boost: 256/384/512 are sharper and 4/9/16x slower; not for mesh)",
                )
                keep_mouth = gr.Radio(
                    choices=list(MOUTH_MODES), value="open",
                    label="Target's own mouth and expression (mesh): when open (default), always, or never (the source's lips)",
                )
                restore = model_picker(
                    engine, "restore", "Restore the swapped faces (optional)", "swap-restore", empty="the swapped faces are not restored"
                )
                mask = mask_accordion(engine, "swap")
                format_choice, quality = output_controls()
                consent = gr.Checkbox(value=False, label=CONSENT_TEXT, elem_id="swap-consent")
                visible_label = gr.Checkbox(
                    value=label_by_default or label_always,
                    interactive=not label_always,
                    label="Add a visible 'AI-edited' label in the corner" + (" (always on in this public demo)" if label_always else ""),
                )
                run = gr.Button("Swap", variant="primary", elem_id="swap-run")
                status = status_line("swap-status")
            with gr.Column():
                slider = gr.ImageSlider(label="Before / after", type="pil", format="png", elem_id="swap-result")
                report = gr.Dataframe(headers=REPORT_COLUMNS, label="Swapped faces", interactive=False, wrap=True, elem_id="swap-faces")
                download = gr.File(label="Download (labelled as AI-edited)")
                details = gr.JSON(label="Report")
    on_new_upload(source, [slider, report, details, download, status])
    on_new_upload(target, [slider, report, details, download, status])
    job = start(run, status).then(
        swap,
        inputs=[source, target, model, faces, face_map, weight, restore, consent, visible_label, more_sources, *mask.inputs()]
        + [detection_threshold, swap_resolution, format_choice, quality, keep_mouth, source_face],
        outputs=[slider, report, details, download],
        api_name="swap",
        concurrency_id="jobs",
    )
    finish(job, status, details, faces_done("swapped"))
