"""Restore tab: before/after slider, per-face identity report, labelled PNG / JPEG / WebP download."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from app.common import (
    example_photos,
    face_selection,
    friendly_errors,
    identity_header,
    image_from_upload,
    score_kind,
    show_notes,
)
from app.limits import job_progress
from app.mask_controls import mask_accordion, mask_options
from app.model_picker import model_picker
from app.output_controls import format_from_controls, output_controls
from app.results import ResultFolder, labelled_image
from app.status import faces_done, finish, start, status_line
from app.upload import image_upload, on_new_upload
from facekit.analysis import AnalysisOptions
from facekit.engine import Engine
from facekit.image_encode import JPEG_QUALITY
from facekit.masking import DEFAULT_BLUR
from facekit.processors.reports import RestoreFaceReport
from facekit.processors.restore import DEFAULT_MAX_OUTPUT_PIXELS, RestoreOptions, RestorePipeline, check_output_size
from facekit.provenance import provenance_metadata

REPORT_COLUMNS = ["face", "identity before vs after", "same person", "embedder", "seconds"]


def takes_fidelity(engine: Engine, model_id: str | None) -> bool:
    """Whether a restore model's family has a `fidelity` input role (from the manifest, without loading it)."""
    if not model_id:
        return False
    return engine.manifest.get(model_id).takes("fidelity")


def report_rows(faces: Sequence[RestoreFaceReport]) -> list[list[object]]:
    return [
        [
            face.index,
            None if face.identity is None else round(face.identity.value, 4),
            face.same_person,
            None if face.identity is None else face.identity.model,
            round(face.seconds, 3),
        ]
        for face in faces
    ]


def report_table(faces: Sequence[RestoreFaceReport]) -> dict[str, object]:
    """The Faces table with its headers saying whether the identity column is a distance or a similarity."""
    kind = score_kind(face.identity for face in faces)
    headers = [REPORT_COLUMNS[0], identity_header("identity", kind) if kind else REPORT_COLUMNS[1], *REPORT_COLUMNS[2:]]
    return {"headers": headers, "data": report_rows(faces)}


def build_restore_tab(
    engine: Engine, results: ResultFolder, max_faces: int, max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS
) -> None:
    @friendly_errors
    def restore(
        image: Any,
        model: str | None = None,
        fidelity: float = 0.5,
        blend: float = 0.8,
        faces: str = "all",
        upscale: float = 1.0,
        reference: str | None = None,
        diffusion: str | None = None,
        diffusion_steps: int = 250,
        diffusion_start: int = 100,
        diffusion_eta: float = 0.5,
        mask_types: list[str] | None = None,
        mask_regions: list[str] | None = None,
        mask_areas: list[str] | None = None,
        mask_blur: float = DEFAULT_BLUR,
        mask_padding: str | None = None,
        mask_parser: str | None = None,
        detection_threshold: float = 0.5,
        output_format: str = "png",
        quality: float = JPEG_QUALITY,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, dict[str, object], dict[str, object], str]:
        """Restore the faces of a photo. model: a restore model id, or None for the best ready one; fidelity: CodeFormer only
        (0 = quality, 1 = identity); blend: 0..1; faces: 'all' or indexes such as '0,2' (left to right from 0); upscale: 1..4;
        reference: a photo of one person, to restore only the faces like it; diffusion: a diffusion model id or None;
        output_format: the download's format, 'png' (default), 'jpeg' or 'webp'; quality: 1..100 for JPEG / WebP.
        Returns the before/after pair, the per-face table, the report (models, timings, warnings) and the labelled file."""
        photo = image_from_upload(image, "image to restore")
        chosen_format = format_from_controls(output_format, quality)
        options = RestoreOptions(
            max_output_pixels=max_output_pixels,
            model=model or None,
            download_recommended=True,
            fidelity=float(fidelity),
            blend=float(blend),
            faces=face_selection(faces, reference),
            upscale=float(upscale),
            diffusion=diffusion or None,
            diffusion_steps=int(diffusion_steps),
            diffusion_start=int(diffusion_start),
            diffusion_eta=float(diffusion_eta),
            analysis=AnalysisOptions(max_faces=max_faces, score_threshold=float(detection_threshold)),
            mask=mask_options(mask_types, mask_regions, mask_areas, mask_blur, mask_padding, mask_parser),
        )
        check_output_size(photo.shape, options)  # before any model is loaded or downloaded
        report_progress = job_progress(progress)
        pending = RestorePipeline.from_engine(engine, options, report_progress).start(photo, report_progress)
        metadata = provenance_metadata("restore", pending.models, {"blend": blend, "fidelity": fidelity, "upscale": upscale})
        result, download = results.write_during(pending, pending.image, "restored", metadata, chosen_format)
        show_notes(result.warnings)
        before = labelled_image(photo, {})
        return (before, labelled_image(result.image, metadata)), report_table(result.faces), result.report(), download

    with gr.Tab("Restore", id="restore"):
        gr.Markdown(
            "Restore blurry, noisy or compressed faces. `classic` needs no download; the learned models download on first use "
            "(see **Models** for their licences). The identity score compares each face before and after, so you can see "
            "whether restoration changed who it is (with the default dlib recogniser it is a distance: lower is more alike, "
            "under 0.6 is the same person)."
        )
        with gr.Row():
            with gr.Column():
                image = image_upload("Photo", "restore-image")
                model = model_picker(
                    engine, "restore", "Model (empty: best ready, or the recommended one downloaded now)", "restore-model",
                    downloads_recommended=True,
                )
                fidelity = gr.Slider(0, 1, value=0.5, step=0.05, label="Fidelity (0 = quality, 1 = identity)", visible=False)
                blend = gr.Slider(0, 1, value=0.8, step=0.05, label="Blend (how much of the restored face to use)")
                faces = gr.Textbox(value="all", label="Faces: all, or indexes such as 0,2")
                with gr.Accordion("Only the faces of one person (optional)", open=False):
                    reference = image_upload("Reference photo of that person", "restore-reference")
                upscale = gr.Slider(
                    1, 4, value=1, step=0.5, label=f"Upscale the whole image (the result may have up to {max_output_pixels / 1e6:.0f} MP)"
                )
                detection_threshold = gr.Slider(
                    0.05, 0.95, value=0.5, step=0.05, label="Detection score threshold (lower finds more faces; each is checked)"
                )
                # shown only when the manifest lists a diffusion model (none is published as ONNX; the README says how)
                listed = bool(engine.models("diffusion"))
                with gr.Accordion("Diffusion refinement (DifFace style, slow on CPU)", open=False, visible=listed):
                    diffusion = model_picker(
                        engine, "diffusion", "Diffusion model (empty: none)", "restore-diffusion", empty="no diffusion refinement"
                    )
                    diffusion_steps = gr.Slider(10, 1000, value=250, step=10, label="Respaced steps")
                    diffusion_start = gr.Slider(1, 250, value=100, step=1, label="Start step N (network calls)")
                    diffusion_eta = gr.Slider(0, 1, value=0.5, step=0.05, label="DDIM eta")
                mask = mask_accordion(engine, "restore")
                format_choice, quality = output_controls()
                run = gr.Button("Restore", variant="primary", elem_id="restore-run")
                status = status_line("restore-status")
                gr.Examples(examples=[[photo] for photo in example_photos()], inputs=[image], cache_examples=False)
            with gr.Column():
                slider = gr.ImageSlider(label="Before / after", type="pil", format="png", elem_id="restore-result")
                report = gr.Dataframe(
                    headers=REPORT_COLUMNS, label="Faces", interactive=False, wrap=True, elem_id="restore-faces",
                    column_widths=["10%", "34%", "18%", "22%", "16%"],
                )
                download = gr.File(label="Download (labelled as AI-edited)")
                details = gr.JSON(label="Report (models used, timings)")
    on_new_upload(image, [slider, report, details, download, status])
    on_new_upload(reference, [])
    model.change(lambda chosen: gr.update(visible=takes_fidelity(engine, chosen)), inputs=model, outputs=fidelity, api_visibility="private")
    job = start(run, status).then(
        restore,
        inputs=[image, model, fidelity, blend, faces, upscale, reference, diffusion, diffusion_steps, diffusion_start, diffusion_eta,
                *mask.inputs(), detection_threshold, format_choice, quality],
        outputs=[slider, report, details, download],
        api_name="restore",
        concurrency_id="jobs",
    )
    finish(job, status, details, faces_done("restored"))
