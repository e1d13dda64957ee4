"""Result files the app hands out: labelled PNG, JPEG or WebP files in one folder, purged after a while."""

from __future__ import annotations

import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from facekit.image_encode import OutputFormat
from facekit.imageio import write_image_atomic
from facekit.processors.common import JobResult, PendingResult


class ResultFolder:
    """Writes results (PNG with provenance text chunks, or JPEG / WebP with it in XMP) and deletes those older than `max_age` s."""

    def __init__(self, root: Path | None = None, max_age: float = 3600.0) -> None:
        self.root = root or Path(tempfile.gettempdir()) / "facekit-results"
        self.max_age = max_age

    def write(self, image_bgr: np.ndarray, stem: str, metadata: dict[str, str], output_format: OutputFormat = OutputFormat()) -> str:
        path = self.new_path(stem, output_format.suffix)
        write_image_atomic(path, image_bgr, metadata=metadata, output_format=output_format)
        return str(path)

    def write_during(
        self, pending: PendingResult, image_bgr: np.ndarray, stem: str, metadata: dict[str, str], output_format: OutputFormat
    ) -> tuple[JobResult, str]:
        """Write `image_bgr` in a worker thread while the job's identity report runs; (the finished result, the file)."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(self.write, image_bgr, stem, metadata, output_format)
            result = pending.finish()
            return result, written.result()

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
