"""A one-line status under each Run button, so a result that lands below the fold (on a phone) is noticed.

"Working..." when the job starts, "Done: 6 faces restored - see the result below." when it ends, or
"Not done: ..." when it was refused (the reason is the message at the top of the page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

WORKING = "Working..."
FAILED = "**Not done**: the reason is in the message at the top of the page."


def status_line(elem_id: str) -> gr.Markdown:
    """The (empty) status line; place it right under the Run button."""
    return gr.Markdown("", elem_id=elem_id, elem_classes=["job-status"])


def face_count(report: Any) -> tuple[int, int]:
    """(faces done, faces skipped) from a job's report JSON."""
    faces = report.get("faces", []) if isinstance(report, dict) else []
    skipped = sum(1 for face in faces if "skipped" in face or face.get("status") == "skipped")
    return len(faces) - skipped, skipped


def faces_done(verb: str) -> Callable[[Any], str]:
    """The 'Done' sentence of a job whose report lists its faces: 'Done: 6 faces restored (1 skipped) - see the result below.'"""

    def sentence(report: Any) -> str:
        done, skipped = face_count(report)
        extra = f" ({skipped} skipped: why is in the report)" if skipped else ""
        return f"**Done**: {done} face{'s' if done != 1 else ''} {verb}{extra} - see the result below."

    return sentence


PRIVATE: dict[str, Any] = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}


def start(button: gr.Button, status: gr.Markdown) -> Any:
    """Say 'Working...' when `button` is pressed; chain the job on the returned event with `.then`, so the line is
    always set before the job's own outcome (a refusal can come back within milliseconds)."""
    return button.click(lambda: WORKING, outputs=status, **PRIVATE)


def finish(job: Any, status: gr.Markdown, result: gr.components.Component, done: Callable[[Any], str]) -> None:
    """After the job: `done(result's value)` when it succeeded, the failure line when it was refused or failed."""
    job.success(done, inputs=result, outputs=status, **PRIVATE)
    job.failure(lambda: FAILED, outputs=status, **PRIVATE)
