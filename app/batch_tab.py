"""Batch tab: several photos in, one zip of labelled results (and a report) out."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import gradio as gr

from app.common import friendly_errors
from app.model_picker import model_picker
from app.results import ResultFolder
from app.status import finish, start, status_line
from app.upload import PhotoFiles
from facekit.analysis import DEFAULT_MAX_FACES, AnalysisOptions
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.imageio import decode_image, encode_png
from facekit.processors.common import JobResult
from facekit.processors.frontalize import FrontalizeOptions, FrontalizePipeline
from facekit.processors.restore import RestoreOptions, RestorePipeline
from facekit.provenance import provenance_metadata

log = logging.getLogger(__name__)

MAX_FILES = 50
JOBS = ("restore", "frontalize")


def run_job(engine: Engine, job: str, image: Any, model: str | None, max_faces: int) -> JobResult:
    analysis = AnalysisOptions(max_faces=max_faces)
    if job == "restore":
        return RestorePipeline.from_engine(engine, RestoreOptions(model=model or None, analysis=analysis))(image)
    return FrontalizePipeline.from_engine(engine, FrontalizeOptions(refine=model or None, analysis=analysis))(image)


def batch_files(
    engine: Engine,
    results: ResultFolder,
    files: list[str],
    job: str,
    model: str | None,
    progress: Any,
    max_faces: int = DEFAULT_MAX_FACES,
) -> tuple[str, dict]:
    """Run `job` on every file into one zip (PNGs + report.json); a file that fails, for any reason, is a report item."""
    archive_path = results.new_path(f"{job}-batch", ".zip")
    report: dict[str, Any] = {"job": job, "items": []}
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, file in enumerate(files):
            name = Path(file).name
            progress(number / len(files), desc=f"{name} ({number + 1}/{len(files)})")
            report["items"].append(_one(engine, archive, job, model, Path(file), number, max_faces))
        archive.writestr("report.json", json.dumps(report, indent=2, default=str))
    progress(1.0, desc="done")
    return str(archive_path), report


def batch_summary(report: dict[str, Any] | None) -> str:
    """'7 ok, 1 failed' and one line per failed file (name - reason), for above the raw report."""
    if not report or not report.get("items"):
        return ""
    failed = [item for item in report["items"] if "error" in item]
    lines = [f"**{len(report['items']) - len(failed)} ok, {len(failed)} failed**"]
    lines += [f"- {item['input']} - {item['error']}" for item in failed]
    return "\n".join(lines)


def batch_done(report: dict[str, Any] | None) -> str:
    """The status line under the button: '**Done**: 7 ok, 1 failed - the zip and the report are below.'"""
    items = (report or {}).get("items", [])
    failed = sum(1 for item in items if "error" in item)
    return f"**Done**: {len(items) - failed} ok, {failed} failed - the zip and the report are below."


def build_batch_tab(engine: Engine, results: ResultFolder, max_faces: int) -> None:
    @friendly_errors
    def batch(
        files: list[str] | None, job: str = "restore", model: str | None = None, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, dict]:
        """Run one job ('restore' or 'frontalize') on up to 50 photos. model: the restore model (or the frontalize
        refiner), None for the default. Returns a zip of labelled PNGs with report.json, and the report."""
        if not files:
            raise gr.Error("Upload one or more photos first.")
        if len(files) > MAX_FILES:
            raise gr.Error(f"{len(files)} files is more than this app takes at once ({MAX_FILES}); split the batch.")
        if job not in JOBS:
            raise gr.Error(f"Unknown job {job!r}; choose one of {', '.join(JOBS)}.")
        return batch_files(engine, results, files, job, model, progress, max_faces)

    with gr.Tab("Batch", id="batch"):
        gr.Markdown(
            f"Run one job on up to {MAX_FILES} photos; get a zip of labelled PNGs and a `report.json`. A bad file is reported, not fatal."
        )
        with gr.Row():
            with gr.Column():
                files = PhotoFiles(label="Photos", file_count="multiple", file_types=["image"], type="filepath", elem_id="batch-files")
                job = gr.Radio(choices=list(JOBS), value="restore", label="Job")
                model = model_picker(
                    engine, "restore", "Restore / refine model (empty: default)", "batch-model",
                    empty="restore with the best ready model; frontalize without refining",
                )
                run = gr.Button("Run batch", variant="primary", elem_id="batch-run")
                status = status_line("batch-status")
            with gr.Column():
                archive = gr.File(label="Results (zip)", elem_id="batch-result")
                summary = gr.Markdown(elem_id="batch-summary")
                report = gr.JSON(label="Report")
    event = start(run, status).then(batch, inputs=[files, job, model], outputs=[archive, report], api_name="batch", concurrency_id="jobs")
    event.then(batch_summary, inputs=report, outputs=summary, api_visibility="private")
    finish(event, status, report, batch_done)


def _one(
    engine: Engine, archive: zipfile.ZipFile, job: str, model: str | None, path: Path, number: int, max_faces: int
) -> dict[str, Any]:
    stem = f"{number:03d}_{path.stem}"
    try:
        result = run_job(engine, job, decode_image(path), model, max_faces)
    except FaceKitError as error:
        return {"input": path.name, "error": error.text("app")}
    except Exception as error:  # noqa: BLE001 - one bad file must not lose the other results (issue 18.5)
        log.exception("batch item %s failed", path.name)
        return {"input": path.name, "error": f"FaceKit could not process this file ({type(error).__name__}); the error has been logged."}
    metadata = provenance_metadata(job, result.models)
    written = [f"{stem}.png"]
    archive.writestr(written[0], encode_png(result.image, metadata))
    for name, extra in result.extra_images.items():
        written.append(f"{stem}_{name}.png")
        archive.writestr(written[-1], encode_png(extra, metadata))
    return {"input": path.name, "outputs": written, **result.report()}
