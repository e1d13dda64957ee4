"""Models tab: every manifest model with status and licence; download and verify."""

from __future__ import annotations

import gradio as gr

from app.common import friendly_errors
from facekit.engine import Engine, ModelInfo
from facekit.weights import format_bytes

COLUMNS = ["id", "task", "source", "status", "size", "licence", "commercial use"]


def model_rows(infos: list[ModelInfo]) -> list[list[str]]:
    return [
        [
            info.entry.id,
            info.entry.task,
            info.entry.source,
            info.status.state if info.status.ready else f"{info.status.state}: {info.status.detail}",
            format_bytes(info.entry.bytes) if info.entry.file else "-",
            info.entry.licence.name,
            "yes" if info.entry.licence.commercial else "no",
        ]
        for info in infos
    ]


def build_models_tab(engine: Engine) -> None:
    """Add the Models tab to the Blocks being built."""
    downloadable = [entry.id for entry in engine.manifest if entry.source == "url"]

    def list_models() -> tuple[list[list[str]], list[dict[str, object]]]:
        """Every model in the manifest: the table rows, and one record per model (id, task, status, bytes, licence,
        commercial_use, author, ...)."""
        infos = engine.models()
        return model_rows(infos), [info.as_dict() for info in infos]

    @friendly_errors
    def download(model_id: str, progress: gr.Progress = gr.Progress()) -> tuple[list[list[str]], list[dict[str, object]], str]:
        """Download one model by id (see /models for the ids) and verify its sha256. Returns the refreshed table, the
        model records and a message."""
        if not model_id:
            raise gr.Error("Choose a model to download first.")

        def report(label: str, done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=f"{label}: {format_bytes(done)}", unit="bytes")

        path = engine.weights.resolve(model_id, progress=report)
        rows, data = list_models()
        return rows, data, f"{model_id}: verified ({path.name})"

    @friendly_errors
    def verify(model_id: str) -> str:
        """Re-hash one downloaded model's file and compare it with the manifest's sha256. Returns a message."""
        if not model_id:
            raise gr.Error("Choose a model to verify first.")
        ok, message = engine.weights.verify(model_id)
        return f"{model_id}: {'ok' if ok else 'MISMATCH'} - {message}"

    with gr.Tab("Models", id="models"):
        if engine.config.offline:
            gr.Markdown("**Offline mode:** nothing will be downloaded. Models marked *unavailable* need their file in the models dir.")
        gr.Markdown(
            "Models live in the models dir (`--models-dir`; its path is not shown here, so a public app does not "
            "disclose server paths). Every download is checked against the sha256 in "
            "`weights_manifest.yaml`. Models whose licence says *commercial use: no* are for research and personal use only."
        )
        rows, data = list_models()
        table = gr.Dataframe(value=rows, headers=COLUMNS, interactive=False, wrap=True, elem_id="models-table")
        with gr.Row():
            choice = gr.Dropdown(choices=downloadable, label="Model", value=None, elem_id="models-choice")
            download_button = gr.Button("Download", variant="primary", elem_id="models-download")
            verify_button = gr.Button("Verify", elem_id="models-verify")
            refresh_button = gr.Button("Refresh", elem_id="models-refresh")
        message = gr.Textbox(label="Result", interactive=False, elem_id="models-message")
        with gr.Accordion("Raw model list (JSON)", open=False):
            raw = gr.JSON(value=data)

    refresh_button.click(list_models, outputs=[table, raw], api_name="models")
    download_button.click(download, inputs=choice, outputs=[table, raw, message], api_name="download_model")
    verify_button.click(verify, inputs=choice, outputs=message, api_name="verify_model")
