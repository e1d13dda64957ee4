"""Model dropdowns: short labels, ready models first, unavailable ones listed but not selectable, a licence line under each.

A label is the id, ready/download and the size ("gfpgan_1.4 · download 324.5 MB"). What a model's
licence allows is the line under the dropdown, which follows the choice; an empty choice says which
model it means now. Models that cannot run here (offline and not on disk, no public weights) are
named in that line, not offered.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from facekit.engine import Engine, ModelInfo
from facekit.weights import format_bytes

_STATE_ORDER = {"ready": 0, "download": 1}


class ModelDropdown(gr.Dropdown):
    """gr.Dropdown whose API value may be any model id: the engine, not Gradio, refuses one that is not on the list.

    The page offers only the listed choices. An API client naming a model that is unavailable here (or
    downloaded since the page was built) gets FaceKit's sentence about that model instead of Gradio's
    "not in the list of choices".
    """

    is_template = True  # Gradio's mechanism for subclasses: the front end renders the parent gr.Dropdown

    def preprocess(self, payload: Any) -> Any:
        if isinstance(payload, str) and not self.multiselect:
            return payload
        return super().preprocess(payload)


def download_size(engine: Engine, info: ModelInfo) -> int | None:
    """The bytes a download fetches: the model's file, or the whole archive it comes in."""
    if info.entry.archive is not None:
        return engine.manifest.get(info.entry.archive).bytes
    return info.entry.bytes


def choice_label(engine: Engine, info: ModelInfo) -> str:
    """'classic · ready', 'dlib_68 · ready · 95.1 MB' or 'gfpgan_1.4 · download 324.5 MB'."""
    if info.status.state == "download":
        return f"{info.entry.id} · download {format_bytes(download_size(engine, info))}"
    size = f" · {format_bytes(info.entry.bytes)}" if info.entry.bytes else ""
    return f"{info.entry.id} · ready{size}"


def model_choices(engine: Engine, task: str) -> list[tuple[str, str]]:
    """(label, id) pairs of the models that can run here: ready ones first, then those a download makes ready (best first in each)."""
    usable = [info for info in engine.models(task) if info.status.state in _STATE_ORDER]
    usable.sort(key=lambda info: _STATE_ORDER[info.status.state])  # stable: the manifest's priority within each group
    return [(choice_label(engine, info), info.entry.id) for info in usable]


def unavailable_models(engine: Engine, task: str) -> list[str]:
    return [info.entry.id for info in engine.models(task) if info.status.state not in _STATE_ORDER]


def licence_words(info: ModelInfo) -> str:
    licence = info.entry.licence
    return f"licence {licence.name}, commercial use {'allowed' if licence.commercial else 'not allowed'}"


def best_ready(engine: Engine, task: str) -> ModelInfo | None:
    return next((info for info in engine.models(task) if info.status.ready), None)


def empty_meaning(engine: Engine, task: str, downloads_recommended: bool) -> str:
    """What an empty choice runs now: the best ready model, or the recommended one a first run downloads."""
    best = best_ready(engine, task)
    if best is None:
        return "no model of this kind is ready"
    recommended = engine.manifest.recommended.get(task)
    if downloads_recommended and best.entry.source == "builtin" and recommended and not engine.config.offline:
        wanted = next(info for info in engine.models(task) if info.entry.id == recommended.models[0])
        if not wanted.status.ready and wanted.status.state == "download":
            return f"`{wanted.entry.id}`, downloaded on first use ({format_bytes(download_size(engine, wanted))}; {licence_words(wanted)})"
    return f"`{best.entry.id}`, the best ready ({licence_words(best)})"


def licence_line(engine: Engine, task: str, chosen: str | None, empty: str | None = None, downloads_recommended: bool = False) -> str:
    """The line under a model dropdown: the chosen model's licence, or what an empty choice means; then what is not offered."""
    infos = {info.entry.id: info for info in engine.models(task)}
    if chosen and chosen in infos:
        info = infos[chosen]
        line = f"`{chosen}`: {licence_words(info)}"
        if info.status.state == "download":
            line += f"; downloaded on first use ({format_bytes(download_size(engine, info))})"
    else:
        line = f"Empty: {empty or empty_meaning(engine, task, downloads_recommended)}"
    missing = unavailable_models(engine, task)
    if missing:
        line += f". Not available here: {', '.join(missing)} (why: see **Models**)"
    return line + "."


def model_picker(
    engine: Engine,
    task: str,
    label: str,
    elem_id: str,
    empty: str | None = None,
    downloads_recommended: bool = False,
) -> ModelDropdown:
    """A model dropdown (empty by default) with its licence line under it, kept up to date as the choice changes.

    `empty` says in words what an empty choice does when that is not "the best ready model" (e.g. "no refinement");
    `downloads_recommended`: the job fetches the task's recommended model when the choice is empty.
    """
    dropdown = ModelDropdown(choices=model_choices(engine, task), value=None, label=label, elem_id=elem_id)
    line = gr.Markdown(
        licence_line(engine, task, None, empty, downloads_recommended), elem_id=f"{elem_id}-licence", elem_classes=["model-licence"]
    )
    dropdown.change(
        lambda chosen: licence_line(engine, task, chosen, empty, downloads_recommended),
        inputs=dropdown, outputs=line, api_visibility="private", show_progress="hidden", queue=False,
    )
    return dropdown
