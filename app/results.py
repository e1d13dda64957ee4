"""Result files the app hands out: labelled PNGs in one folder, purged after a while."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from facekit.imageio import write_image_atomic


class ResultFolder:
    """Writes PNG results (with provenance text chunks) and deletes those older than `max_age` seconds."""

    def __init__(self, root: Path | None = None, max_age: float = 3600.0) -> None:
        self.root = root or Path(tempfile.gettempdir()) / "facekit-results"
        self.max_age = max_age

    def write(self, image_bgr: np.ndarray, stem: str, metadata: dict[str, str]) -> str:
        path = self.new_path(stem, ".png")
        write_image_atomic(path, image_bgr, metadata=metadata)
        return str(path)

    def new_path(self, stem: str, suffix: str) -> Path:
        """A fresh, unique path in the folder (older results are purged first)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._purge()
        return self.root / f"{stem}-{uuid.uuid4().hex[:12]}{suffix}"

    def _purge(self) -> None:
        cutoff = time.time() - self.max_age
        for old in self.root.iterdir():
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:
                pass


def labelled_image(image_bgr: np.ndarray, metadata: dict[str, str]) -> Image.Image:
    """A Pillow RGB image carrying `metadata`, which Gradio keeps as PNG text chunks when it saves it.

    Each image also gets a unique `facekit:result_id`. Gradio stores served
    images under a hash of their bytes and rewrites that file in place, so
    two identical results of concurrent requests shared one file, and one
    client's download was cut short while the other rewrote it (seen in the
    soak test). Unique bytes give every result its own file.
    """
    picture = Image.fromarray(np.ascontiguousarray(image_bgr[..., ::-1]))
    picture.info.update(metadata)
    picture.info["facekit:result_id"] = uuid.uuid4().hex
    return picture
