"""Models tab: every manifest model with status and licence; download and verify."""

from __future__ import annotations

import gradio as gr

from app.common import friendly_errors
from facekit.engine import Engine, ModelInfo
from facekit.weights import format_bytes

COLUMNS = ["id", "task", "status", "licence", "commercial use"]  # source, file, hash, author and details: the JSON below
STATUS_WORDS = {"ready": "ready", "download": "not downloaded", "unavailable": "unavailable"}


def short_status(info: ModelInfo) -> str:
    """'ready', 'not downloaded (330.0 MB)' or 'unavailable'; the reason stays in the JSON (status_detail)."""
    words = STATUS_WORDS[info.status.state]
    if info.status.state == "download":
        return f"{words} ({format_bytes(info.entry.bytes)})"
    return words


def model_rows(infos: list[ModelInfo]) -> list[list[str]]:
    return [
        [info.entry.id, info.entry.task, short_status(info), info.entry.licence.name, "yes" if info.entry.licence.commercial else "no"]
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
    def download(model_id: str, progress: gr.Progress = gr.Progress()) -> str:
        """Download one model by id (see /models for the ids) and verify its sha256. Returns a message; call /models for
        the refreshed list."""
        if not model_id:
            raise gr.Error("Choose a model to download first.")

        def report(label: str, done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=f"{label}: {format_bytes(done)}", unit="bytes")

        engine.weights.resolve(model_id, progress=report)
        return f"{model_id}: downloaded and verified."

    @friendly_errors
    def verify(model_id: str) -> str:
        """Re-hash one downloaded model's file and compare it with the manifest's sha256. Returns a message."""
        if not model_id:
            raise gr.Error("Choose a model to verify first.")
        info = next(info for info in engine.models() if info.entry.id == model_id)
        if info.status.state != "ready":
            return f"{model_id}: not downloaded, so there is nothing to verify yet ({short_status(info)})."
        ok, message = engine.weights.verify(model_id)
        return f"{model_id}: ok, the sha256 matches." if ok else f"{model_id}: MISMATCH - {message}"

    with gr.Tab("Models", id="models"):
        if engine.config.offline:
            gr.Markdown("**Offline mode:** nothing will be downloaded. Models marked *unavailable* need their file in the models dir.")
        gr.Markdown(
            "Every download is checked against the sha256 in `weights_manifest.yaml`. Models whose licence says "
            "*commercial use: no* are for research and personal use only. Details (source, file, size, author, why a "
            "model is unavailable) are in the JSON under the table."
        )
        with gr.Row(equal_height=True):
            choice = gr.Dropdown(choices=downloadable, label="Model", value=None, elem_id="models-choice", scale=2)
            download_button = gr.Button("Download", variant="primary", elem_id="models-download", scale=1)
            verify_button = gr.Button("Verify", elem_id="models-verify", scale=1)
            refresh_button = gr.Button("Refresh", elem_id="models-refresh", scale=1)
            message = gr.Textbox(label="Result", interactive=False, elem_id="models-message", scale=3)
        rows, data = list_models()
        table = gr.Dataframe(
            value=rows, headers=COLUMNS, interactive=False, wrap=True, elem_id="models-table",
            column_widths=["24%", "10%", "20%", "34%", "12%"],
        )
        with gr.Accordion("All model details (JSON)", open=False):
            raw = gr.JSON(value=data)

    refresh_button.click(list_models, outputs=[table, raw], api_name="models")
    # the message box alone carries the download's progress and errors: a failed download leaves the table in place
    download_button.click(download, inputs=choice, outputs=message, api_name="download_model").then(
        list_models, outputs=[table, raw], api_visibility="private"
    )
    verify_button.click(verify, inputs=choice, outputs=message, api_name="verify_model")
