"""Weight store hardening (issue 18 items 6, 7, 14): read-only models dirs, a full disk, edited files behind a stamp."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path

import filelock
import pytest

from facekit.errors import FaceKitError, HashMismatchError
from helpers import YUNET_FILE, leftovers, store, yunet_manifest


@pytest.fixture
def downloaded(tmp_path, http_server, yunet_bytes) -> Path:
    """The YuNet file downloaded and verified (stamped) into tmp_path/models."""
    http_server.state.files[YUNET_FILE] = yunet_bytes
    return store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"])).resolve("yunet_2023mar")


def _read_only(monkeypatch) -> None:
    """What a read-only models dir does to the two writes a fetch needs (root ignores chmod, so fake it)."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(filelock.FileLock, "acquire", refuse)
    monkeypatch.setattr(Path, "mkdir", refuse)


def test_a_verified_model_in_a_read_only_dir_needs_no_lock(tmp_path, http_server, downloaded, monkeypatch) -> None:
    _read_only(monkeypatch)
    fresh = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    assert fresh.resolve("yunet_2023mar") == downloaded


def test_a_lock_that_cannot_be_made_is_said_plainly(tmp_path, http_server, yunet_bytes, monkeypatch) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    (tmp_path / "models").mkdir()
    _read_only(monkeypatch)
    with pytest.raises(FaceKitError, match=r"Cannot create the lock file .*onnx\.lock .*Read-only file system.*not writable"):
        store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"])).resolve("yunet_2023mar")


def _disk_full_after(monkeypatch, limit: int) -> None:
    """Writes to *.part files fail with ENOSPC once `limit` bytes were written."""
    real_open = builtins.open

    class FullDisk:
        def __init__(self, handle) -> None:
            self._handle, self._written = handle, 0

        def write(self, data) -> int:
            if self._written + len(data) > limit:
                raise OSError(errno.ENOSPC, "No space left on device")
            self._written += len(data)
            return self._handle.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._handle.close()

    def fake_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return FullDisk(handle) if str(file).endswith(".part") and "b" in mode and "r" not in mode else handle

    import facekit.weights

    monkeypatch.setattr(facekit.weights, "open", fake_open, raising=False)


def test_disk_full_during_a_download(tmp_path, http_server, yunet_bytes, monkeypatch) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    _disk_full_after(monkeypatch, 100_000)
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    with pytest.raises(FaceKitError, match=rf"No space left on /\S* for {YUNET_FILE} \(needs 0\.2 MB\)") as caught:
        weights.resolve("yunet_2023mar")
    assert "Traceback" not in str(caught.value)
    assert leftovers(tmp_path / "models") == [] and not (tmp_path / "models" / YUNET_FILE).exists()


def test_disk_full_while_copying_from_a_mirror_folder(tmp_path, mirror_folder, monkeypatch) -> None:
    _disk_full_after(monkeypatch, 0)
    weights = store(tmp_path, yunet_manifest(["http://127.0.0.1:9/unused"]), mirrors=(str(mirror_folder),), offline=True)
    with pytest.raises(FaceKitError, match="No space left on"):
        weights.resolve("yunet_2023mar")
    assert leftovers(tmp_path / "models") == []


def _flip_a_byte_keeping_size_and_mtime(path: Path) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_flipped_byte_behind_a_restored_mtime_is_caught(tmp_path, http_server, downloaded) -> None:
    _flip_a_byte_keeping_size_and_mtime(downloaded)
    fresh = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    with pytest.raises(HashMismatchError):
        fresh.resolve("yunet_2023mar")


def test_models_verify_always_rehashes(tmp_path, http_server, downloaded) -> None:
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    assert weights.verify("yunet_2023mar")[0]
    _flip_a_byte_keeping_size_and_mtime(downloaded)
    ok, message = weights.verify("yunet_2023mar")
    assert not ok and "expected" in message
