"""Analyze tab: faces, landmarks, pose axes; similarity between faces or two photos."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.common import example_photos, friendly_errors, image_from_upload, model_choices, rgb
from app.mask_controls import mask_accordion, mask_options
from app.upload import image_upload
from facekit.analysis import AnalysisOptions, EmbedderChoice, FaceAnalyser
from facekit.engine import Engine
from facekit.masking import draw_masks, image_mask, load_masker
from facekit.processors.analyze import AnalysedImage, analysis_record, draw_analysis, similarity_matrix


def build_analyze_tab(engine: Engine) -> None:
    analyser = FaceAnalyser(engine)

    @friendly_errors
    def analyze(image: Any, second_image: Any, detector: str | None, score_threshold: float) -> tuple[Any, dict, dict[str, Any]]:
        """Detect faces with landmarks and pose; compare every face (and those of an optional second photo)."""
        options = AnalysisOptions(detector=detector or None, score_threshold=float(score_threshold))
        items = [_analysed("image", image_from_upload(image), analyser, options)]
        if second_image is not None:
            items.append(_analysed("second", image_from_upload(second_image, "second image"), analyser, options))
        records = [analysis_record(item) for item in items]
        table: dict[str, Any] = {"headers": ["face"], "data": []}
        if sum(len(item.analysis.faces) for item in items) >= 2:
            matrix = similarity_matrix(analyser, items, EmbedderChoice())
            names = list(matrix["faces"])  # type: ignore[arg-type]
            rows = [[name, *row] for name, row in zip(names, matrix["matrix"], strict=True)]  # type: ignore[arg-type]
            table = {"headers": [f"{matrix['model']} ({matrix['same_person_when']})", *names], "data": rows}
            records.append({"similarity": {k: v for k, v in matrix.items() if k != "matrix"}})
        return rgb(draw_analysis(items[0].image, items[0].analysis)), {"images": records}, table

    @friendly_errors
    def show_masks(
        image: Any, detector: str | None, score_threshold: float, types: list[str] | None, regions: list[str] | None,
        areas: list[str] | None, blur: float, padding: str | None, parser: str | None,
    ) -> tuple[Any, str]:
        """Each face's paste mask (as swap and restore would use it) over the photo: dark = kept as is, green = mask edge."""
        photo = image_from_upload(image)
        faces = analyser.analyze(photo, AnalysisOptions(detector=detector or None, score_threshold=float(score_threshold))).faces
        masker = load_masker(engine, mask_options(types, regions, areas, blur, padding, parser))
        masks = [image_mask(masker, photo, face) for face in faces]
        return rgb(draw_masks(photo, masks)), f"{len(faces)} face(s); masks: {masker.label}"

    with gr.Tab("Analyze", id="analyze"):
        gr.Markdown("Find faces, their landmarks and head pose, and how alike they are. Faces are numbered left to right from 0.")
        with gr.Row():
            with gr.Column():
                image = image_upload("Photo", "analyze-image")
                second = image_upload("Second photo (optional, to compare people)", "analyze-second")
                detector = gr.Dropdown(choices=model_choices(engine, "detect"), value=None, label="Detector (empty: best ready)")
                threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="Detection score threshold")
                run = gr.Button("Analyze", variant="primary", elem_id="analyze-run")
                with gr.Accordion("Mask debug: each face's paste mask", open=False):
                    mask = mask_accordion(engine, "analyze")
                    show = gr.Button("Show masks", elem_id="analyze-masks-run")
                gr.Examples(examples=[[photo] for photo in example_photos()], inputs=[image], cache_examples=False)
            with gr.Column():
                annotated = gr.Image(label="Faces", type="numpy", format="png", elem_id="analyze-result")
                matrix = gr.Dataframe(label="Identity scores between faces (see the rule in the JSON)", interactive=False)
                report = gr.JSON(label="Faces (JSON)")
                mask_image = gr.Image(label="Paste masks (dark: kept as is)", type="numpy", format="png", elem_id="analyze-masks")
                mask_label = gr.Textbox(label="Masks used", interactive=False)
    run.click(
        analyze,
        inputs=[image, second, detector, threshold],
        outputs=[annotated, report, matrix],
        api_name="analyze",
        concurrency_id="jobs",
    )
    show.click(
        show_masks,
        inputs=[image, detector, threshold, *mask.inputs()],
        outputs=[mask_image, mask_label],
        api_name="analyze_masks",
        concurrency_id="jobs",
    )


def _analysed(name: str, image: Any, analyser: FaceAnalyser, options: AnalysisOptions) -> AnalysedImage:
    return AnalysedImage(name=name, image=image, analysis=analyser.analyze(image, options))
