"""Plain sentences for file-system failures: a full disk, a path that is not a folder, no permission."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from facekit.errors import FaceKitError


def mount_point(path: Path) -> Path:
    """The mount point holding `path` (the 'device' a user recognises), from the nearest existing parent."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def no_space_error(path: Path, needed_bytes: int | None) -> FaceKitError:
    """'No space left on DEVICE for FILE (needs N MB).'"""
    needs = f" (needs {needed_bytes / (1 << 20):.1f} MB)" if needed_bytes else ""
    return FaceKitError(
        f"No space left on {mount_point(path)} for {Path(path).name}{needs}; the partial file was removed.",
        "{control:free_space}.",
    )


def is_no_space(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


def os_error_sentence(error: OSError) -> FaceKitError:
    """A FaceKitError naming the path and the reason of a file-system error (for the CLI's one `error:` line)."""
    path = error.filename or "a file"
    reason = error.strerror or type(error).__name__
    if error.errno == errno.EEXIST or error.errno == errno.ENOTDIR:
        return FaceKitError(
            f"Cannot use {path}: a part of that path is a file, not a folder ({reason}).", "Choose a folder path for it."
        )
    if is_no_space(error):
        return FaceKitError(f"No space left on {mount_point(Path(path))} for {path} ({reason}).", "Free some space and try again.")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return FaceKitError(f"Cannot write {path}: {reason}.", "Choose a folder you can write to, or fix its permissions.")
    return FaceKitError(f"Cannot use {path}: {reason}.", "Check the path and its permissions.")


def check_folder_path(path: Path, flag: str) -> None:
    """Raise a FaceKitError when `path` (or one of its parents) exists and is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise FaceKitError(f"{flag} {path}: {candidate} is a file, not a folder.", f"Give {flag} a folder path.")
            return


def write_file_atomic(target: Path, data: bytes) -> None:
    """Write `data` so `target` is either the old file or the complete new one.

    A temporary file in the same folder is written, fsynced and os.replace()d
    over `target` (new files get mode 0644, an existing file keeps its mode);
    on any failure the temporary file is removed.
    """
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
