"""Errors FaceKit raises for problems a user can fix.

Every error carries a plain sentence saying what went wrong and a hint saying
what to do about it. Front ends (CLI, app) print ``str(error)``; they never
show a traceback for a :class:`FaceKitError`.
"""

from __future__ import annotations


def quote_prefix(text: object, limit: int = 40) -> str:
    """repr() of at most `limit` characters of `text`, so an error never echoes unbounded input."""
    value = str(text)
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


class FaceKitError(Exception):
    """Base class: a problem explained in one sentence plus a hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


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
