"""Shared fixtures, each defined once: the read-only test models in ../shared/models, engines, t1, a local HTTP server."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from facekit.analysis import FaceAnalyser
from facekit.engine import Engine, EngineConfig
from facekit.face.types import Face
from facekit.imageio import decode_image
from helpers import SHARED_MODELS, YUNET_FILE, insightface_image


@pytest.fixture(scope="session")
def shared_models() -> Path:
    if not (SHARED_MODELS / YUNET_FILE).exists():
        pytest.skip(f"test models not found in {SHARED_MODELS}")
    return SHARED_MODELS


@pytest.fixture(scope="session")
def models_dir(shared_models: Path) -> Path:
    """The read-only folder of small real test models (../shared/models)."""
    return shared_models


@dataclass
class ServerState:
    """What the test server serves and how it misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut_first_responses_after: int | None = None  # bytes sent before closing, for that many responses
    cuts_left: int = 0
    delay_seconds: float = 0.0
    fail_with_status: int | None = None
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        name = self.path.lstrip("/").split("?")[0]
        range_header = self.headers.get("Range")
        with state.lock:
            state.requests.append((name, range_header))
        if state.delay_seconds:
            threading.Event().wait(state.delay_seconds)
        if state.fail_with_status:
            self.send_error(state.fail_with_status)
            return
        body = state.files.get(name)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if range_header and not state.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with state.lock:
            cut = state.cut_first_responses_after if state.cuts_left > 0 else None
            if cut is not None:
                state.cuts_left -= 1
        if cut is not None:
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # drop the connection mid-body
            return
        self.wfile.write(payload)


@dataclass
class LocalServer:
    url: str
    state: ServerState


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    state = ServerState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = state  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield LocalServer(url=f"http://127.0.0.1:{server.server_address[1]}", state=state)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def yunet_bytes(shared_models: Path) -> bytes:
    return (shared_models / YUNET_FILE).read_bytes()


@pytest.fixture
def mirror_folder(tmp_path: Path, shared_models: Path) -> Path:
    """A writable copy of the YuNet file in a folder mirror (never write into ../shared)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    shutil.copy(shared_models / YUNET_FILE, folder / YUNET_FILE)
    return folder


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    """An offline engine with an empty models dir: the embedded defaults only (per test module)."""
    return Engine(EngineConfig(models_dir=tmp_path_factory.mktemp("models"), offline=True))


@pytest.fixture(scope="module")
def mirrored_engine(tmp_path_factory, shared_models: Path) -> Engine:
    """An offline engine whose mirror is ../shared/models: the small real test models are fetched from there (per test module)."""
    return Engine(EngineConfig(models_dir=tmp_path_factory.mktemp("models"), mirrors=(str(shared_models),), offline=True))


@pytest.fixture(scope="module")
def t1() -> np.ndarray:
    """InsightFace's six-person photo, through FaceKit's decoder (BGR)."""
    return decode_image(insightface_image("t1.jpg"))


@pytest.fixture(scope="module")
def t1_faces(engine: Engine, t1: np.ndarray) -> list[Face]:
    """The six faces of t1 as the default analysis (embedded models) finds them; found on the clean photo, so a test that
    degrades or edits t1 scores the same faces."""
    return FaceAnalyser(engine).analyze(t1).faces


@pytest.fixture(scope="module")
def tom() -> np.ndarray:
    """InsightFace's aligned 112x112 Tom Hanks face, through FaceKit's decoder (BGR)."""
    return decode_image(insightface_image("Tom_Hanks_54745.png"))


@pytest.fixture
def running_app(tmp_path, mirror_folder, monkeypatch) -> Iterator[tuple[str, Engine]]:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    from app import build_demo

    engine = Engine(EngineConfig(models_dir=tmp_path / "models", mirrors=(str(mirror_folder),), offline=True))
    demo = build_demo(engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield url, engine
    finally:
        demo.close()
