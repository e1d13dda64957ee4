"""File hashing and the small 'already verified' stamps kept beside weights."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 1 << 20


def sha256_of(path: Path, on_chunk: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path, sha256: str) -> str:
    stat = path.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}"


def has_valid_stamp(path: Path, sha256: str) -> bool:
    """True when a stamp says this exact file (size, mtime) already hashed to `sha256`.

    Size and mtime can be put back after an edit (`touch -r`), but the file's
    ctime cannot: a file changed (ctime) after its stamp was written is
    re-hashed.
    """
    stamp = _stamp_path(path)
    try:
        if stamp.stat().st_mtime_ns < path.stat().st_ctime_ns:
            return False
        return stamp.read_text(encoding="ascii").strip() == _fingerprint(path, sha256)
    except (OSError, UnicodeDecodeError):
        return False


def write_stamp(path: Path, sha256: str) -> None:
    """Record that `path` hashed to `sha256` (best effort: read-only folders are skipped)."""
    stamp = _stamp_path(path)
    temporary = stamp.with_name(stamp.name + f".{os.getpid()}.tmp")
    try:
        temporary.write_text(_fingerprint(path, sha256) + "\n", encoding="ascii")
        os.replace(temporary, stamp)
    except OSError:
        temporary.unlink(missing_ok=True)


def remove_stamp(path: Path) -> None:
    _stamp_path(path).unlink(missing_ok=True)
