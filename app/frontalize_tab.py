"""Frontalize tab: a gallery of frontal faces with their report (pose before/after, identity, symmetry)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.common import example_photos, friendly_errors, image_from_upload, model_choices, parse_faces
from app.results import ResultFolder, labelled_image
from app.upload import image_upload
from facekit.engine import Engine
from facekit.processors.frontalize import FrontalizeOptions, frontalize_image
from facekit.provenance import provenance_metadata

REPORT_COLUMNS = ["face", "status", "yaw before", "yaw after", "identity", "same person", "symmetry", "filled by symmetry"]


def report_rows(faces: list[dict[str, Any]]) -> list[list[object]]:
    rows = []
    for face in faces:
        identity = face.get("identity") or {}
        rows.append([
            face.get("index"),
            face.get("status") if face.get("status") == "ok" else face.get("message", face.get("status")),
            (face.get("pose_before") or {}).get("yaw"),
            (face.get("pose_after") or {}).get("yaw"),
            identity.get("score"),
            identity.get("same_person"),
            face.get("symmetry"),
            face.get("fill_fraction"),
        ])
    return rows


def build_frontalize_tab(engine: Engine, results: ResultFolder) -> None:
    @friendly_errors
    def frontalize(image: Any, faces: str, refine: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, dict, Any]:
        """Turn each selected face to look straight at the camera (FFHQ-512 crops). faces: 'all' or '0,2'."""
        photo = image_from_upload(image, "photo")
        options = FrontalizeOptions(faces=parse_faces(faces), refine=refine or None)
        result = frontalize_image(engine, photo, options, progress=lambda fraction, message: progress(fraction, desc=message))
        metadata = provenance_metadata("frontalize", result.models)
        gallery = [(labelled_image(crop, metadata), name) for name, crop in result.extra_images.items()]
        sheet = results.write(result.image, "frontal-sheet", metadata)
        return gallery, report_rows(result.faces), result.report(), sheet

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
                refine = gr.Dropdown(choices=model_choices(engine, "restore"), value=None, label="Refine with a restorer (optional)")
                run = gr.Button("Frontalize", variant="primary", elem_id="frontalize-run")
                gr.Examples(examples=[[photo] for photo in example_photos()], inputs=[image], cache_examples=False)
            with gr.Column():
                gallery = gr.Gallery(label="Frontal faces (512x512, FFHQ-aligned)", format="png", elem_id="frontalize-result")
                report = gr.Dataframe(headers=REPORT_COLUMNS, label="Faces", interactive=False)
                sheet = gr.File(label="Download sheet (input | frontal), labelled as AI-edited")
                details = gr.JSON(label="Report")
    run.click(
        frontalize, inputs=[image, faces, refine], outputs=[gallery, report, details, sheet], api_name="frontalize", concurrency_id="jobs"
    )
