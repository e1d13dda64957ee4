"""Errors FaceKit raises for problems a user can fix.

Every error carries a plain sentence saying what went wrong and a hint saying
what to do about it. Front ends (CLI, app) print ``str(error)``; they never
show a traceback for a :class:`FaceKitError`.
"""

from __future__ import annotations

import re
from typing import Literal

Audience = Literal["cli", "app"]

#: controls a hint may name as ``{control:NAME}``: one message, worded for the command line or for the web app
CONTROLS: dict[str, dict[Audience, str]] = {
    "analyze": {"cli": "Run `python -m facekit analyze IMAGE`", "app": "Use the Analyze tab"},
    "reference": {"cli": "'ref:PHOTO'", "app": "a reference photo"},
    "models_list": {"cli": "Run `python -m facekit models list`", "app": "See the Models tab"},
    "mirror": {"cli": "pass --mirror FOLDER that holds it", "app": "ask whoever runs this app to put it in its models folder"},
    "max_pixels": {"cli": "raise --max-pixels if you trust it", "app": "this app's limit is fixed"},
    "max_bytes": {"cli": "raise max_bytes", "app": "this app's limit is fixed"},
    "mask_padding": {
        "cli": "Use --mask-padding 10 or 0,0,10,0 (top,right,bottom,left %)",
        "app": "Type one value such as 10, or four such as 0,0,10,0 (top,right,bottom,left %), in the Mask settings' box padding",
    },
    "parser_needed": {
        "cli": "Download one (`python -m facekit models download bisenet_resnet_34`) or use --mask box,area",
        "app": "Download one on the Models tab (bisenet_resnet_34), or tick only box and area in the Mask settings",
    },
    "one_source": {
        "cli": "Give one --source holding every mapped person",
        "app": "Upload one source photo holding every mapped person, and no extra source photos",
    },
    "free_space": {
        "cli": "Free some space there, or point the folder elsewhere (e.g. --models-dir), then run the same command again",
        "app": "Ask whoever runs this app to free some space on the server, then run the job again",
    },
    "format": {"cli": "--format", "app": "the Output format"},
    "quality": {"cli": "--quality", "app": "the Quality slider"},
}
_CONTROL = re.compile(r"\{control:(\w+)\}")
#: an absolute path of two or more parts (POSIX) or with a drive letter (Windows); not the path of a URL
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~\\-])(?:~?(?:/[^\s/'\"`,;()<>]+){2,}/?|[A-Za-z]:\\[^\s'\"`,;()<>]+)")
#: what the app says where the command line names a file to place or a folder to fix on the server
ASK_WHOEVER_RUNS_THE_APP = (
    "Ask whoever runs this app to place a verified copy in its models folder, or choose a model that is ready (see the Models tab)."
)


def hide_paths(text: str) -> str:
    """`text` with each absolute path cut to its last part, so a visitor of the app learns no folder of the server."""
    return _ABSOLUTE_PATH.sub(lambda m: re.split(r"[/\\]", m.group(0).rstrip("/\\"))[-1], text)


def for_audience(text: str, audience: Audience) -> str:
    """`text` with each ``{control:NAME}`` worded for `audience` (unknown names are left as they are).

    For the app, absolute paths are cut to their file names as well: a server's folders are not a visitor's business.
    """
    worded = _CONTROL.sub(lambda m: CONTROLS[m.group(1)][audience] if m.group(1) in CONTROLS else m.group(0), text)
    return hide_paths(worded) if audience == "app" else worded


def quote_prefix(text: object, limit: int = 40) -> str:
    """repr() of at most `limit` characters of `text`, so an error never echoes unbounded input."""
    value = str(text)
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


class FaceKitError(Exception):
    """Base class: a problem explained in one sentence plus a hint.

    A hint names a control as ``{control:NAME}`` (see CONTROLS): ``str(error)``
    words it for the command line, ``error.text("app")`` for the web app.
    Where the command line's hint is about the server's own files (place a
    model file, make a folder writable), `app_hint` says what a visitor can do.
    """

    def __init__(self, message: str, hint: str = "", app_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.app_hint = app_hint

    def text(self, audience: Audience = "cli") -> str:
        hint = self.app_hint if audience == "app" and self.app_hint is not None else self.hint
        return for_audience(f"{self.message} {hint}".strip(), audience)

    def __str__(self) -> str:
        return self.text("cli")


class ManifestError(FaceKitError):
    """The weights manifest is malformed (names the entry and field)."""


class UnknownModelError(FaceKitError):
    """A model id is not in the manifest."""


class ModelUnavailableError(FaceKitError):
    """A model cannot be used here (offline and missing, package not installed...)."""


class DownloadError(FaceKitError):
    """A download failed (HTTP error, timeout, connection cut too often)."""


class HashMismatchError(FaceKitError):
    """A file's sha256 does not match the manifest."""


class ProviderError(FaceKitError):
    """An execution provider name is unknown or cannot be used."""


class ModelLoadError(FaceKitError):
    """An ONNX file failed to load or its inputs/outputs do not match its entry."""


class ImageDecodeError(FaceKitError):
    """An input is not a readable image, or is too large."""


class NoFaceError(FaceKitError):
    """No face was found where one was needed."""


class FaceDataError(FaceKitError):
    """One face's data cannot be used (the job reports that face and goes on with the others)."""


class DegenerateFaceError(FaceDataError):
    """A face's landmarks are degenerate (coincident, not finite, or no pose fits them)."""
