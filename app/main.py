"""build_demo(engine) -> gr.Blocks: one tab per module."""

from __future__ import annotations

import gradio as gr

from app.analyze_tab import build_analyze_tab
from app.batch_tab import build_batch_tab
from app.frontalize_tab import build_frontalize_tab
from app.models_tab import build_models_tab
from app.restore_tab import build_restore_tab
from app.results import ResultFolder
from app.swap_tab import build_swap_tab
from app.validation import FaceKitBlocks
from app.video_tab import build_video_tab
from facekit import __version__
from facekit.analysis import DEFAULT_MAX_FACES
from facekit.engine import Engine
from facekit.processors.restore import DEFAULT_MAX_OUTPUT_PIXELS, HOSTED_MAX_OUTPUT_PIXELS

HOSTED_REQUESTS_PER_MINUTE = 30  # uploads + job submissions per client address (hosted mode)
UPLOAD_PURGE = (3600, 3600)  # every hour, delete uploads and results older than an hour
HOSTED_MAX_FACES = 20  # a public demo works on fewer faces per photo (a crowd photo would hold a job slot for minutes)


def build_demo(engine: Engine, results: ResultFolder | None = None, hosted: bool = False, max_faces: int | None = None) -> gr.Blocks:
    """The whole app. `hosted` (a public demo, e.g. a Hugging Face Space) turns visible swap labels on by default.

    `max_faces` caps the faces every job works on per photo (the most confident are kept, and a warning says so);
    default 64, or 20 when hosted.
    """
    results = results or ResultFolder(max_age=UPLOAD_PURGE[1])
    max_faces = max_faces or (HOSTED_MAX_FACES if hosted else DEFAULT_MAX_FACES)
    with FaceKitBlocks(title="FaceKit", delete_cache=UPLOAD_PURGE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# FaceKit {__version__}\nFace restoration, swapping and frontalization on ONNX Runtime. "
            "Every model, its licence and its status is listed under **Models**."
        )
        with gr.Tabs():
            build_restore_tab(engine, results, max_faces, HOSTED_MAX_OUTPUT_PIXELS if hosted else DEFAULT_MAX_OUTPUT_PIXELS)
            build_swap_tab(engine, results, label_by_default=hosted, max_faces=max_faces, label_always=hosted)
            build_video_tab(engine, results, hosted=hosted)
            build_frontalize_tab(engine, results, max_faces)
            build_analyze_tab(engine, max_faces)
            build_batch_tab(engine, results, max_faces)
            build_models_tab(engine)
    if hosted:
        demo.rate_limit_per_minute = HOSTED_REQUESTS_PER_MINUTE
    # every job event shares the "jobs" pool: at most 2 images in work at once, 32 waiting
    demo.queue(default_concurrency_limit=2, max_size=32)
    return demo
