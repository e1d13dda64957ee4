"""Helpers the tests share (import them: `from helpers import ...`; tests never import conftest or each other).

Paths of the read-only test models and sample photos, a plain ONNX session,
PNG byte builders for decoder tests, the weight-store builders, and the
synthetic mesh scene the frontalizer tests render (kept in bench/scenes.py,
which the frontalize benchmark uses too: benchmarks never import tests).
"""

from __future__ import annotations

import copy
import struct
import zlib
from pathlib import Path
from typing import Any

import insightface
import onnxruntime as ort
import pytest
import yaml

from bench.scenes import MeshScene, face_from_landmarks  # noqa: F401  (re-exported: the frontalize benchmark uses it too)
from facekit.errors import ImageDecodeError
from facekit.imageio import decode_image
from facekit.manifest import DEFAULT_MANIFEST_PATH, Manifest, parse_manifest
from facekit.weights import StoreConfig, WeightStore

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models"
YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"

SAMPLES = Path(insightface.__file__).parent / "data" / "images"


def insightface_image(name: str) -> Path:
    """A sample photo shipped in the insightface wheel (t1.jpg, Tom_Hanks_54745.png, ...)."""
    return SAMPLES / name


def open_session(models_dir: Path, file_name: str) -> ort.InferenceSession:
    """A plain CPU session on a test model (adapter tests that bypass the engine)."""
    return ort.InferenceSession(str(models_dir / file_name), providers=["CPUExecutionProvider"])


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose valid IHDR claims width x height but whose data is tiny."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def decode_error_message(source, **options) -> str:
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(source, **options)
    assert caught.value.hint, "every decode error carries a hint"
    return str(caught.value)


def yunet_manifest(urls: list[str], sha256: str = YUNET_SHA256) -> Manifest:
    document = yaml.safe_load(DEFAULT_MANIFEST_PATH.read_text())
    entry = copy.deepcopy(next(e for e in document["models"] if e["id"] == "yunet_2023mar"))
    entry["urls"] = urls
    entry["sha256"] = sha256
    return parse_manifest({"models": [entry]})


def store(tmp_path: Path, manifest: Manifest, **options: Any) -> WeightStore:
    settings = {"models_dir": tmp_path / "models", "retries": 3, "backoff_seconds": 0.01, "read_timeout": 2.0, "connect_timeout": 2.0}
    settings.update(options)
    return WeightStore(manifest, StoreConfig(**settings))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".part")
