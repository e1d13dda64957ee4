"""Helpers every tab shares: image conversion, model choices, plain-sentence errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np

from app.model_picker import model_choices as model_choices  # the Video tab's dropdowns
from facekit.errors import FaceKitError
from facekit.face.identity import IdentityScore
from facekit.imageio import decode_image
from facekit.processors.common import FaceSelection

log = logging.getLogger(__name__)
Handler = TypeVar("Handler", bound=Callable[..., Any])
NOTE_SECONDS = 30  # how long a warning toast stays (a person reads the result first)


def friendly_errors(handler: Handler) -> Handler:
    """Turn FaceKit errors into gr.Error sentences worded for the app; log anything else and say so plainly.

    A user's mistake is logged as one line (no traceback); tracebacks are kept for bugs.
    """

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error as error:
            log.info("refused in %s: %s", handler.__name__, error.message)
            error.print_exception = False
            raise
        except FaceKitError as error:
            log.info("refused in %s: %s", handler.__name__, error.text("cli"))
            raise gr.Error(error.text("app"), print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", handler.__name__)
            raise gr.Error("Something went wrong on the server while processing this image; it has been logged.") from None

    return wrapped  # type: ignore[return-value]


def show_notes(notes: Iterable[str]) -> None:
    """Show each note (a face cap, a skipped face, an ignored option) as a warning toast; call it when the result is ready."""
    for note in notes:
        gr.Warning(note, duration=NOTE_SECONDS)


def image_from_upload(upload: Any, what: str = "image") -> np.ndarray:
    """A BGR uint8 image from a gr.Image value (numpy RGB) or a file path; a clear error when missing."""
    if upload is None:
        raise gr.Error(f"Upload an {what} first.")
    if isinstance(upload, np.ndarray):
        return decode_image(upload, array_colour="rgb")
    return decode_image(upload)


def score_kind(scores: Iterable[IdentityScore | None]) -> str | None:
    """'distance' or 'similarity' when every score present is of that kind, else None."""
    kinds = {score.kind for score in scores if score is not None}
    return kinds.pop() if len(kinds) == 1 else None


def identity_header(what: str, kind: str) -> str:
    """A table header saying what an identity number is and which way means more alike."""
    direction = "lower = more alike" if kind == "distance" else "higher = more alike"
    return f"{what} {kind} ({direction})"


def rgb(image_bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_bgr[..., ::-1])


def example_photos() -> list[str]:
    """Sample photos shipped inside the insightface wheel (used as clickable examples)."""
    import insightface

    folder = Path(insightface.__file__).parent / "data" / "images"
    return [str(folder / name) for name in ("t1.jpg", "Tom_Hanks_54745.png") if (folder / name).exists()]


def text_input(value: Any, what: str) -> str:
    """A text box's value; anything but a string (null, a number, a list from an API call) is refused by name."""
    if not isinstance(value, str):
        raise gr.Error(f"{what} must be text (a string); got {'null' if value is None else type(value).__name__}.")
    return value


def parse_faces(faces: Any) -> FaceSelection:
    """'all' / '0,2' from the faces box. 'ref:PATH' is refused: in the app a reference is only ever an upload."""
    return FaceSelection.parse(text_input(faces, "faces"), allow_reference=False)


def face_selection(faces: Any, reference: str | None) -> FaceSelection:
    """'all' / '0,2' from a textbox, or the faces like an uploaded reference photo when one is given."""
    selection = parse_faces(faces)
    if reference:
        return FaceSelection(mode="reference", reference=Path(reference))
    return selection
