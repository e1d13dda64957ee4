"""Analyze tab: faces, landmarks, pose axes; similarity between faces or two photos."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.common import example_photos, friendly_errors, image_from_upload, rgb, show_notes
from app.mask_controls import mask_accordion, mask_options
from app.model_picker import model_picker
from app.status import finish, start, status_line
from app.upload import image_upload, on_new_upload
from facekit.analysis import AnalysisOptions, EmbedderChoice, FaceAnalyser
from facekit.engine import Engine
from facekit.masking import draw_masks, image_mask, load_masker
from facekit.processors.analyze import AnalysedImage, analysis_record, draw_analysis, similarity_matrix

#: the score table lists this many pairs at most (closest first); the JSON holds the whole (capped) matrix
MAX_TABLE_PAIRS = 30
PHOTO_NAMES = {"image": "photo", "second": "second photo"}


def pair_table(matrix: dict[str, Any]) -> dict[str, Any]:
    """The closest pairs of faces as rows (face, face, score, same person): four columns, however many faces."""
    names: list[str] = matrix["faces"]
    scores: list[list[float]] = matrix["matrix"]
    same: list[list[bool]] = matrix["same_person"]
    pairs = [(scores[i][j], names[i], names[j], same[i][j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    pairs.sort(key=lambda pair: pair[0], reverse=matrix["metric"] != "euclidean")
    shown = pairs[:MAX_TABLE_PAIRS]
    score_header = "distance (lower = more alike)" if matrix["metric"] == "euclidean" else "similarity (higher = more alike)"
    return {
        "headers": ["face", "face", score_header, f"same ({matrix['same_person_when'].split()[-2]} {matrix['threshold']})"],
        "data": [[a, b, score, "yes" if alike else "no"] for score, a, b, alike in shown],
    }


def analyzed(report: Any) -> str:
    """The status line under the button: how many faces each photo has."""
    images = report.get("images", []) if isinstance(report, dict) else []
    photos = [record for record in images if "faces" in record]
    counts = [f"{len(record['faces'])} in the {PHOTO_NAMES.get(record.get('image', ''), 'photo')}" for record in photos]
    return f"**Done**: faces found: {', '.join(counts) or 'none'} - see the result below."


def build_analyze_tab(engine: Engine, max_faces: int) -> None:
    analyser = FaceAnalyser(engine)

    @friendly_errors
    def analyze(
        image: Any, second_image: Any = None, detector: str | None = None, score_threshold: float = 0.5
    ) -> tuple[list[tuple[Any, str]], dict, dict[str, Any]]:
        """Detect faces with landmarks and pose in a photo (and an optional second photo); score how alike every two faces
        are. Returns the annotated photos, the faces as JSON, and the closest pairs of faces."""
        options = AnalysisOptions(detector=detector or None, score_threshold=float(score_threshold), max_faces=max_faces)
        items = [_analysed("image", image_from_upload(image), analyser, options)]
        if second_image is not None:
            items.append(_analysed("second", image_from_upload(second_image, "second photo"), analyser, options))
        records = [analysis_record(item) for item in items]
        table: dict[str, Any] = {"headers": ["face", "face", "score", "same person"], "data": []}
        if sum(len(item.analysis.faces) for item in items) >= 2:
            matrix = similarity_matrix(analyser, items, EmbedderChoice())
            table = pair_table(matrix)
            records.append({"similarity": matrix})
        show_notes(note for item in items for note in item.analysis.notes)
        show_notes(f"No face was found in the {PHOTO_NAMES[item.name]}." for item in items if not item.analysis.faces)
        drawn = [(rgb(draw_analysis(item.image, item.analysis)), f"{item.name}: {len(item.analysis.faces)} face(s)") for item in items]
        return drawn, {"images": records}, table

    @friendly_errors
    def show_masks(
        image: Any, detector: str | None = None, score_threshold: float = 0.5, types: list[str] | None = None,
        regions: list[str] | None = None, areas: list[str] | None = None, blur: float | None = None, padding: str | None = None,
        parser: str | None = None,
    ) -> tuple[Any, str]:
        """Each face's paste mask (as swap and restore would use it) over the photo: dark = kept as is, green = mask edge."""
        photo = image_from_upload(image)
        options = AnalysisOptions(detector=detector or None, score_threshold=float(score_threshold), max_faces=max_faces)
        faces = analyser.analyze(photo, options).faces
        masker = load_masker(engine, mask_options(types, regions, areas, blur, padding, parser))
        masks = [image_mask(masker, photo, face) for face in faces]
        return rgb(draw_masks(photo, masks)), f"{len(faces)} face(s); masks: {masker.label}"

    with gr.Tab("Analyze", id="analyze"):
        gr.Markdown("Find faces, their landmarks and head pose, and how alike they are. Faces are numbered left to right from 0.")
        with gr.Row():
            with gr.Column():
                image = image_upload("Photo", "analyze-image")
                second = image_upload("Second photo (optional, to compare people)", "analyze-second")
                detector = model_picker(engine, "detect", "Detector (empty: best ready)", "analyze-detector")
                threshold = gr.Slider(
                    0.05, 0.95, value=0.5, step=0.05, label=f"Detection score threshold (at most {max_faces} faces per photo)",
                    elem_id="analyze-threshold",
                )
                run = gr.Button("Analyze", variant="primary", elem_id="analyze-run")
                status = status_line("analyze-status")
                with gr.Accordion("Mask debug: each face's paste mask", open=False):
                    mask = mask_accordion(engine, "analyze")
                    show = gr.Button("Show masks", elem_id="analyze-masks-run")
                gr.Examples(examples=[[photo] for photo in example_photos()], inputs=[image], cache_examples=False)
            with gr.Column():
                annotated = gr.Gallery(
                    label="Faces", format="png", columns=2, height="auto", object_fit="contain", interactive=False,
                    elem_id="analyze-result",
                )
                matrix = gr.Dataframe(
                    label=f"Closest pairs of faces (at most {MAX_TABLE_PAIRS}; every pair is in the JSON)",
                    interactive=False,
                    column_widths=["17%", "17%", "40%", "26%"],
                    elem_id="analyze-pairs",
                )
                report = gr.JSON(label="Faces (JSON)", open=True, elem_id="analyze-json")
                mask_image = gr.Image(label="Paste masks (dark: kept as is)", type="numpy", format="png", elem_id="analyze-masks")
                mask_label = gr.Textbox(label="Masks used", interactive=False)
    on_new_upload(image, [annotated, report, matrix, mask_image, mask_label, status])
    on_new_upload(second, [annotated, report, matrix, status])
    job = start(run, status).then(
        analyze,
        inputs=[image, second, detector, threshold],
        outputs=[annotated, report, matrix],
        api_name="analyze",
        concurrency_id="jobs",
    )
    finish(job, status, report, analyzed)
    show.click(
        show_masks,
        inputs=[image, detector, threshold, *mask.inputs()],
        outputs=[mask_image, mask_label],
        api_name="analyze_masks",
        concurrency_id="jobs",
    )


def _analysed(name: str, image: Any, analyser: FaceAnalyser, options: AnalysisOptions) -> AnalysedImage:
    return AnalysedImage(name=name, image=image, analysis=analyser.analyze(image, options))
