"""The weight store against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import io
import multiprocessing
import socket
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from facekit.errors import DownloadError, HashMismatchError, ModelUnavailableError
from facekit.hashing import sha256_of
from facekit.manifest import parse_manifest
from facekit.weights import StoreConfig, WeightStore
from helpers import YUNET_FILE, YUNET_SHA256, leftovers, store, yunet_manifest


def test_download_verifies_and_reports_progress(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    seen: list[tuple[int, int | None]] = []
    path = weights.resolve("yunet_2023mar", progress=lambda label, done, total: seen.append((done, total)))
    assert path == (tmp_path / "models" / YUNET_FILE).resolve()
    assert sha256_of(path) == YUNET_SHA256
    assert seen[-1] == (len(yunet_bytes), len(yunet_bytes))
    assert weights.status("yunet_2023mar").ready
    assert leftovers(path.parent) == []
    # a second resolve uses the verified file without any request
    before = len(http_server.state.requests)
    assert weights.resolve("yunet_2023mar") == path
    assert len(http_server.state.requests) == before


def test_resume_after_a_cut_connection(tmp_path, http_server, yunet_bytes) -> None:
    state = http_server.state
    state.files[YUNET_FILE] = yunet_bytes
    state.cut_first_responses_after, state.cuts_left = 100_000, 1
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    path = weights.resolve("yunet_2023mar")
    assert sha256_of(path) == YUNET_SHA256
    ranges = [r for _, r in state.requests]
    assert ranges[0] is None
    assert ranges[1] is not None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0


def test_resume_survives_a_server_that_ignores_range(tmp_path, http_server, yunet_bytes) -> None:
    state = http_server.state
    state.files[YUNET_FILE] = yunet_bytes
    state.cut_first_responses_after, state.cuts_left, state.ignore_range = 50_000, 1, True
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    assert sha256_of(weights.resolve("yunet_2023mar")) == YUNET_SHA256


def test_wrong_hash_is_rejected_and_removed(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    wrong = "0" * 64
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"], sha256=wrong))
    with pytest.raises(HashMismatchError) as caught:
        weights.resolve("yunet_2023mar")
    message = str(caught.value)
    assert YUNET_FILE in message and wrong in message and YUNET_SHA256 in message
    assert "download" in message  # says what to do
    models = tmp_path / "models"
    assert not (models / YUNET_FILE).exists() and leftovers(models) == []


def test_404_gives_a_clear_error(tmp_path, http_server) -> None:
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    with pytest.raises(DownloadError, match="HTTP 404"):
        weights.resolve("yunet_2023mar")
    assert len(http_server.state.requests) == 1  # a 404 is not retried


def test_timeout_gives_a_clear_error(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    http_server.state.delay_seconds = 1.0
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]), read_timeout=0.2, retries=1)
    with pytest.raises(DownloadError, match="did not answer in time") as caught:
        weights.resolve("yunet_2023mar")
    assert "2 attempts" in str(caught.value)


def test_server_errors_are_retried_then_reported(tmp_path, http_server) -> None:
    http_server.state.fail_with_status = 503
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]), retries=2)
    with pytest.raises(DownloadError, match="HTTP 503"):
        weights.resolve("yunet_2023mar")
    assert len(http_server.state.requests) == 3


def test_second_url_is_tried_when_the_first_is_dead(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    dead = f"{http_server.url}/gone/{YUNET_FILE}"
    weights = store(tmp_path, yunet_manifest([dead, f"{http_server.url}/{YUNET_FILE}"]))
    assert sha256_of(weights.resolve("yunet_2023mar")) == YUNET_SHA256


def test_offline_mode_opens_no_socket(tmp_path, http_server, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline mode opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]), offline=True, mirrors=(http_server.url,))
    status = weights.status("yunet_2023mar")
    assert status.state == "unavailable" and "offline" in status.detail
    with pytest.raises(ModelUnavailableError) as caught:
        weights.resolve("yunet_2023mar")
    message = str(caught.value)
    assert YUNET_FILE in message and str(tmp_path / "models") in message and "--mirror" in message
    assert http_server.state.requests == []


def test_offline_mode_still_uses_a_folder_mirror(tmp_path, mirror_folder) -> None:
    weights = store(tmp_path, yunet_manifest(["http://127.0.0.1:9/never"]), offline=True, mirrors=(str(mirror_folder),))
    assert sha256_of(weights.resolve("yunet_2023mar")) == YUNET_SHA256


def test_mirror_url_is_tried_before_the_entry_urls(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    weights = store(tmp_path, yunet_manifest(["http://127.0.0.1:9/unreachable.onnx"]), mirrors=(http_server.url + "/",))
    assert sha256_of(weights.resolve("yunet_2023mar")) == YUNET_SHA256
    assert http_server.state.requests[0][0] == YUNET_FILE


def test_a_corrupt_mirror_copy_is_rejected(tmp_path, mirror_folder) -> None:
    corrupt = mirror_folder / YUNET_FILE
    data = bytearray(corrupt.read_bytes())
    data[1000] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    weights = store(tmp_path, yunet_manifest(["http://127.0.0.1:9/x.onnx"]), offline=True, mirrors=(str(mirror_folder),))
    with pytest.raises(HashMismatchError, match="mirror folder"):
        weights.resolve("yunet_2023mar")
    assert not (tmp_path / "models" / YUNET_FILE).exists()


def test_concurrent_threads_fetch_one_file_safely(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    results: list[Path] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            results.append(weights.resolve("yunet_2023mar"))
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
    assert sha256_of(results[0]) == YUNET_SHA256
    assert len(http_server.state.requests) == 1  # the lock made the others wait for the first


def _fetch_in_process(models_dir: str, url: str, queue: Any) -> None:
    weights = WeightStore(yunet_manifest([url]), StoreConfig(models_dir=Path(models_dir), backoff_seconds=0.01))
    queue.put(sha256_of(weights.resolve("yunet_2023mar")))


def test_concurrent_processes_fetch_one_file_safely(tmp_path, http_server, yunet_bytes) -> None:
    http_server.state.files[YUNET_FILE] = yunet_bytes
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    url = f"{http_server.url}/{YUNET_FILE}"
    processes = [context.Process(target=_fetch_in_process, args=(str(tmp_path / "models"), url, queue)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert {queue.get(timeout=5) for _ in processes} == {YUNET_SHA256}
    assert len(http_server.state.requests) == 1


def test_existing_file_with_wrong_hash_is_reported_not_deleted(tmp_path, http_server, yunet_bytes) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / YUNET_FILE).write_bytes(yunet_bytes[:-1] + b"\x00")
    weights = store(tmp_path, yunet_manifest([f"{http_server.url}/{YUNET_FILE}"]))
    with pytest.raises(HashMismatchError, match="Delete"):
        weights.resolve("yunet_2023mar")
    assert (models / YUNET_FILE).exists()
    ok, message = weights.verify("yunet_2023mar")
    assert not ok and "expected" in message
    http_server.state.files[YUNET_FILE] = yunet_bytes
    assert sha256_of(weights.resolve("yunet_2023mar", force=True)) == YUNET_SHA256


def test_verify_catches_a_corrupted_byte_after_a_good_download(tmp_path, mirror_folder) -> None:
    weights = store(tmp_path, yunet_manifest(["http://127.0.0.1:9/x.onnx"]), mirrors=(str(mirror_folder),))
    path = weights.resolve("yunet_2023mar")
    assert weights.verify("yunet_2023mar")[0]
    data = bytearray(path.read_bytes())
    data[5000] ^= 0x01
    path.write_bytes(bytes(data))
    assert weights.verify("yunet_2023mar")[0] is False


def _zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_archive_members_are_extracted_and_verified(tmp_path, http_server, yunet_bytes) -> None:
    import hashlib

    member_ok = b"det weights" * 100
    archive = _zip_with({"pack/det.onnx": member_ok, "pack/rec.onnx": b"rec weights"})
    http_server.state.files["pack.zip"] = archive
    licence = {"name": "test", "commercial": False}
    document = {
        "models": [
            {"id": "pack", "task": "bundle", "source": "url", "file": "pack.zip",
             "urls": [f"{http_server.url}/pack.zip"], "sha256": hashlib.sha256(archive).hexdigest(),
             "licence": licence, "author": "test"},
            {"id": "det", "task": "detect", "family": "scrfd", "source": "url", "archive": "pack", "file": "det.onnx",
             "sha256": hashlib.sha256(member_ok).hexdigest(), "licence": licence, "author": "test"},
            {"id": "rec", "task": "embed", "family": "arcface", "source": "url", "archive": "pack", "file": "rec.onnx",
             "sha256": "1" * 64, "licence": licence, "author": "test", "match": {"metric": "cosine", "threshold": 0.4}},
        ]
    }
    weights = store(tmp_path, parse_manifest(document))
    assert weights.status("det").state == "download"
    assert weights.resolve("det").read_bytes() == member_ok
    with pytest.raises(HashMismatchError, match="archive pack.zip"):
        weights.resolve("rec")
    assert not (tmp_path / "models" / "rec.onnx").exists()
    assert http_server.state.requests == [("pack.zip", None)]  # the archive was fetched once


def test_package_models_resolve_to_verified_installed_files(tmp_path) -> None:
    from facekit.manifest import load_manifest

    weights = WeightStore(load_manifest(), StoreConfig(models_dir=tmp_path, offline=True))
    path = weights.resolve("dlib_5")
    assert path.name == "shape_predictor_5_face_landmarks.dat" and path.exists()
    assert weights.status("dlib_68").ready and weights.status("classic").ready
