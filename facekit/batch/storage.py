"""Reading, listing and atomically writing files on the local disk or any pyarrow filesystem.

A location is a local path or a URI with a scheme pyarrow knows (`s3://`,
`gs://`, `hdfs://`, ...). Local paths need nothing beyond the standard
library; URIs need pyarrow (installed with the `ray` extra).

Writes are atomic: locally a temporary file in the same folder is fsynced
and renamed over the target; on object stores one PUT makes the object
appear whole or not at all. A full disk raises DiskFullError naming the
mount point, the file and the size it needed, with the partial file removed.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facekit.disk import is_no_space, no_space_error, write_file_atomic
from facekit.errors import FaceKitError


class DiskFullError(FaceKitError):
    """The output location has no space left; a batch stops here, keeping what it finished."""


@dataclass(frozen=True)
class Entry:
    """One listed file or folder."""

    location: str
    is_dir: bool


def is_uri(location: str) -> bool:
    """True for `scheme://...` locations other than plain local files."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.isalnum() and scheme.lower() != "file"


def local_path(location: str) -> str:
    return location[len("file://") :] if location.startswith("file://") else location


def _filesystem(location: str) -> tuple[Any, str]:
    try:
        from pyarrow import fs as pafs
    except ImportError:
        raise FaceKitError(
            f"Reading {location} needs pyarrow.",
            'Install the Ray extra: pip install -r requirements-ray.txt (or pip install "facekit[ray]").',
        ) from None
    try:
        return pafs.FileSystem.from_uri(location)
    except Exception as error:  # pyarrow raises ArrowInvalid / OSError for unknown schemes or credentials
        raise FaceKitError(f"Cannot open {location}: {error}", "Check the URI and the filesystem's credentials.") from None


def join(folder: str, *parts: str) -> str:
    if is_uri(folder):
        return posixpath.join(folder, *parts)
    return os.path.join(local_path(folder), *parts)


def parent(location: str) -> str:
    return posixpath.dirname(location) if is_uri(location) else os.path.dirname(local_path(location))


def basename(location: str) -> str:
    return posixpath.basename(location.rstrip("/"))


def is_dir(location: str) -> bool:
    if not is_uri(location):
        return os.path.isdir(local_path(location))
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(location)
    return filesystem.get_file_info(path).type == pafs.FileType.Directory


def exists(location: str) -> bool:
    if not is_uri(location):
        return os.path.exists(local_path(location))
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(location)
    return filesystem.get_file_info(path).type != pafs.FileType.NotFound


def list_dir(location: str) -> Iterator[Entry]:
    """The entries of one folder (not recursive), sorted by name; one folder's listing at a time."""
    if not is_uri(location):
        with os.scandir(local_path(location)) as scan:
            entries = sorted((entry.name, entry.is_dir()) for entry in scan)
        for name, directory in entries:
            yield Entry(os.path.join(local_path(location), name), directory)
        return
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(location)
    scheme = location.split("://", 1)[0]
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=False))
    for info in sorted(infos, key=lambda item: item.path):
        yield Entry(f"{scheme}://{info.path}", info.type == pafs.FileType.Directory)


def read_bytes(location: str, max_bytes: int) -> bytes:
    """The file's bytes; a FaceKitError when it is missing or larger than `max_bytes`."""
    if not is_uri(location):
        path = Path(local_path(location))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise FaceKitError(f"No file at {location}.", "Check the path.") from None
        if size > max_bytes:
            raise FaceKitError(f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit.", "Use a smaller file.")
        return path.read_bytes()
    filesystem, remote = _filesystem(location)
    try:
        with filesystem.open_input_stream(remote) as stream:
            data = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise FaceKitError(f"No file at {location}.", "Check the path.") from None
    if len(data) > max_bytes:
        raise FaceKitError(f"{basename(location)} is over the {max_bytes / 1e6:.0f} MB limit.", "Use a smaller file.")
    return data


def write_bytes_atomic(location: str, data: bytes) -> None:
    """Write `data` so `location` is either absent/old or complete; DiskFullError on a full disk."""
    try:
        if is_uri(location):
            filesystem, path = _filesystem(location)
            filesystem.create_dir(posixpath.dirname(path), recursive=True)
            with filesystem.open_output_stream(path) as stream:
                stream.write(data)
            return
        _write_local(Path(local_path(location)), data)
    except OSError as error:
        if is_no_space(error):
            raise disk_full(location, len(data)) from None
        raise


def _write_local(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(target, data)


def disk_full(location: str, needed: int) -> DiskFullError:
    """The error for a write of `needed` bytes that found no space (the partial file is already removed)."""
    if is_uri(location):
        message = f"No space left on {location} (needs {needed / (1 << 20):.1f} MB)."
    else:
        message = no_space_error(Path(local_path(location)), needed).message
    return DiskFullError(message, "Free some space (or write elsewhere) and rerun with --skip-existing: finished outputs are kept.")
