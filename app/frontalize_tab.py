"""Frontalize tab: a gallery of frontal faces with their report (pose before/after, identity, symmetry)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from app.common import (
    example_photos,
    friendly_errors,
    identity_header,
    image_from_upload,
    parse_faces,
    score_kind,
    show_notes,
)
from app.limits import job_progress
from app.model_picker import model_picker
from app.output_controls import format_from_controls, output_controls
from app.results import ResultFolder, labelled_image
from app.status import faces_done, finish, start, status_line
from app.upload import image_upload, on_new_upload
from facekit.analysis import AnalysisOptions
from facekit.engine import Engine
from facekit.image_encode import JPEG_QUALITY
from facekit.processors.frontalize import FrontalizeOptions, FrontalizePipeline
from facekit.processors.reports import FrontalizeFaceReport
from facekit.provenance import provenance_metadata

# symmetry and the share filled by symmetry are in the report JSON: the table keeps what fits at 1400 px
REPORT_COLUMNS = ["face", "status", "yaw before", "yaw after", "identity", "same person"]


def report_rows(faces: Sequence[FrontalizeFaceReport]) -> list[list[object]]:
    rows = []
    for face in faces:
        measure = face.measure
        identity = None if measure is None else measure.identity
        rows.append([
            face.index,
            face.status,  # the reason for 'poor' / 'skipped' is a warning beside the result and in the JSON
            None if face.pose_before is None else round(face.pose_before.yaw, 2),
            None if measure is None or measure.pose_after is None else round(measure.pose_after.yaw, 2),
            None if identity is None else round(identity.value, 4),
            None if identity is None else identity.same_person,
        ])
    return rows


def report_table(faces: Sequence[FrontalizeFaceReport]) -> dict[str, object]:
    """The Faces table; the identity header says whether it is a distance or a similarity."""
    kind = score_kind(face.measure.identity for face in faces if face.measure is not None)
    headers = list(REPORT_COLUMNS)
    if kind is not None:
        headers[4] = identity_header("identity", kind)
    return {"headers": headers, "data": report_rows(faces)}


def build_frontalize_tab(engine: Engine, results: ResultFolder, max_faces: int) -> None:
    @friendly_errors
    def frontalize(
        image: Any,
        faces: str = "all",
        refine: str | None = None,
        detection_threshold: float = 0.5,
        output_format: str = "png",
        quality: float = JPEG_QUALITY,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, Any, dict, Any]:
        """Turn each selected face to look straight at the camera (512x512 FFHQ-aligned crops). faces: 'all' or indexes
        such as '0,2'; refine: a restore model id run on each frontal face, or None; output_format: the sheet's format,
        'png' (default), 'jpeg' or 'webp'; quality: 1..100 for JPEG / WebP. Returns the gallery of frontal
        faces, the per-face table (pose before/after, identity, symmetry), the report and a labelled sheet file."""
        photo = image_from_upload(image, "photo")
        chosen_format = format_from_controls(output_format, quality)
        analysis = AnalysisOptions(max_faces=max_faces, score_threshold=float(detection_threshold))
        options = FrontalizeOptions(faces=parse_faces(faces), refine=refine or None, analysis=analysis)
        result = FrontalizePipeline.from_engine(engine, options)(photo, job_progress(progress))
        show_notes(result.warnings)
        metadata = provenance_metadata("frontalize", result.models)
        gallery = [(labelled_image(crop, metadata), name) for name, crop in result.extra_images.items()]
        sheet = results.write(result.image, "frontal-sheet", metadata, chosen_format)
        return gallery, report_table(result.faces), result.report(), sheet

    with gr.Tab("Frontalize", id="frontalize"):
        gr.Markdown(
            "Turn faces toward the camera with a 3D-guided warp (`geometric`, no download); what the head hid is filled from "
            "the mirrored side. Each face is re-measured on the output by a fresh detection, so the pose and identity numbers "
            "are honest. Faces turned beyond 60 degrees or smaller than 40 px are skipped with a reason."
        )
        with gr.Row():
            with gr.Column():
                image = image_upload("Photo", "frontalize-image")
                faces = gr.Textbox(value="all", label="Faces: all, or indexes such as 0,2")
                refine = model_picker(engine, "restore", "Refine with a restorer (optional)", "frontalize-refine", empty="no refinement")
                detection_threshold = gr.Slider(
                    0.05, 0.95, value=0.5, step=0.05, label="Detection score threshold (lower finds more faces; each is checked)"
                )
                format_choice, quality = output_controls()
                run = gr.Button("Frontalize", variant="primary", elem_id="frontalize-run")
                status = status_line("frontalize-status")
                gr.Examples(examples=[[photo] for photo in example_photos()], inputs=[image], cache_examples=False)
            with gr.Column():
                gallery = gr.Gallery(label="Frontal faces (512x512, FFHQ-aligned)", format="png", elem_id="frontalize-result")
                report = gr.Dataframe(headers=REPORT_COLUMNS, label="Faces", interactive=False, wrap=True, elem_id="frontalize-faces")
                sheet = gr.File(label="Download sheet (input | frontal), labelled as AI-edited")
                details = gr.JSON(label="Report")
    on_new_upload(image, [gallery, report, details, sheet, status])
    job = start(run, status).then(
        frontalize,
        inputs=[image, faces, refine, detection_threshold, format_choice, quality],
        outputs=[gallery, report, details, sheet],
        api_name="frontalize",
        concurrency_id="jobs",
    )
    finish(job, status, details, faces_done("turned to the front"))
