"""Errors FaceKit raises for problems a user can fix.

Every error carries a plain sentence saying what went wrong and a hint saying
what to do about it. Front ends (CLI, app) print ``str(error)``; they never
show a traceback for a :class:`FaceKitError`.
"""

from __future__ import annotations

import re
from typing import Literal

Audience = Literal["cli", "app"]

#: controls a hint may name as ``{control:NAME}`` or ``{control:NAME|ARG}`` (``{arg}`` in the wording is ARG, e.g. a
#: path or a model id): one message, worded for the command line or for the web app
CONTROLS: dict[str, dict[Audience, str]] = {
    "analyze": {"cli": "Run `python -m facekit analyze IMAGE`", "app": "Use the Analyze tab"},
    "reference": {"cli": "'ref:PHOTO'", "app": "a reference photo"},
    "models_list": {"cli": "Run `python -m facekit models list`", "app": "See the Models tab"},
    "mirror": {"cli": "pass --mirror FOLDER that holds it", "app": "ask whoever runs this app to put it in its models folder"},
    "max_pixels": {"cli": "raise --max-pixels if you trust it", "app": "this app's limit is fixed"},
    "max_bytes": {"cli": "raise max_bytes", "app": "this app's limit is fixed"},
    # the weight store's hints: an app user fetches models on the Models tab; files on the server are its owner's to place
    "place_copy": {
        "cli": "Place a verified copy at {arg} or pass --mirror with a folder or URL that has it",
        "app": "Try Download on the Models tab again later, or put a verified copy at {arg} on the server and press Refresh there",
    },
    "offline_copy": {
        "cli": "Copy the file to {arg}, or pass --mirror FOLDER that holds it, or run without --offline",
        "app": "This app runs offline: put the file at {arg} on the server (or start the app online), then press Refresh on the Models tab",
    },
    "place_file": {
        "cli": "Place the file at {arg} or pass --mirror",
        "app": "Put the file at {arg} on the server, then press Refresh on the Models tab",
    },
    "other_source": {
        "cli": "try another --mirror, or place the file in the models dir by hand",
        "app": "put the file in this app's models folder by hand, then press Refresh on the Models tab",
    },
    "download_again": {
        "cli": "Run `python -m facekit models download {arg}` again; if it keeps failing, the source serves a different file: "
        "try another --mirror",
        "app": "Press Download on the Models tab to fetch it again; if it keeps failing, the source serves a different file",
    },
    "download": {"cli": "run `python -m facekit models download {arg}`", "app": "press Download for {arg} on the Models tab"},
    "model_file": {
        "cli": "Use your own ONNX file: --model-file PATH --family {arg} (the entry's numbers feed it)",
        "app": "It has no public weights, so the app cannot offer it (the command line runs your own file with --model-file)",
    },
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
        "app": "Free some space on the server, then run the job again",
    },
    "models_dir": {"cli": "use --models-dir with a writable folder", "app": "start the app with a writable models folder"},
    "models_dir_start": {
        "cli": "Use --models-dir (or FACEKIT_MODELS_DIR) with a folder you can write to",
        "app": "Start the app with a models folder it can write to (--models-dir or FACEKIT_MODELS_DIR)",
    },
}
_CONTROL = re.compile(r"\{control:(\w+)(?:\|([^{}]*))?\}")


def for_audience(text: str, audience: Audience) -> str:
    """`text` with each ``{control:NAME}`` / ``{control:NAME|ARG}`` worded for `audience` (unknown names are left as they are)."""

    def worded(match: re.Match[str]) -> str:
        wording = CONTROLS.get(match.group(1))
        if wording is None:
            return match.group(0)
        return wording[audience].replace("{arg}", match.group(2) or "")

    return _CONTROL.sub(worded, text)


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
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def text(self, audience: Audience = "cli") -> str:
        return for_audience(f"{self.message} {self.hint}".strip(), audience)

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
