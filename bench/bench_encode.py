"""What writing a result costs: PNG before (Pillow, default level 6) and after (OpenCV level 1 + text chunks), JPEG, WebP.

Run from the repository root:  python -m bench.bench_encode [--runs 9]

Image: InsightFace's t1.jpg (1280x886), decoded once. Each row encodes it
with FaceKit's provenance metadata, median of `--runs` runs (one warm-up),
and checks that the metadata reads back.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from facekit.image_encode import encode_lossy, encode_png, read_provenance
from facekit.imageio import decode_image
from facekit.provenance import provenance_metadata


def _pillow_png(image_bgr: np.ndarray, metadata: dict[str, str], level: int | None) -> bytes:
    """FaceKit's writer before issue 17.6: Pillow's PNG encoder (default level 6 when `level` is None)."""
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    options = {} if level is None else {"compress_level": level}
    Image.fromarray(np.ascontiguousarray(image_bgr[..., ::-1])).save(buffer, format="PNG", pnginfo=info, **options)
    return buffer.getvalue()


def _median_seconds(encode: Callable[[], bytes], runs: int) -> tuple[float, bytes]:
    data = encode()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        data = encode()
        times.append(time.perf_counter() - started)
    return statistics.median(times), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    image = decode_image(path)
    metadata = provenance_metadata("restore", {"restorer": "classic", "detector": "yunet_2023mar"})
    rows = [
        ("PNG, Pillow level 6 (before)", lambda: _pillow_png(image, metadata, None)),
        ("PNG, Pillow level 1", lambda: _pillow_png(image, metadata, 1)),
        ("PNG, FaceKit encode_png (after: OpenCV level 1)", lambda: encode_png(image, metadata)),
        ("JPEG q92 + XMP/EXIF", lambda: encode_lossy(image, "JPEG", metadata)),
        ("WebP q90 + XMP/EXIF", lambda: encode_lossy(image, "WEBP", metadata)),
    ]
    print(f"image: {path.name} {image.shape[1]}x{image.shape[0]}, median of {args.runs} runs")
    print(f"| {'encoder':<48} | {'ms':>7} | {'KB':>6} | provenance read back |")
    print(f"|{'-' * 50}|{'-' * 9}|{'-' * 8}|{'-' * 22}|")
    for name, encode in rows:
        seconds, data = _median_seconds(encode, args.runs)
        ok = read_provenance(data).get("facekit:ai_edited") == "true"
        print(f"| {name:<48} | {seconds * 1000:7.1f} | {len(data) / 1024:6.0f} | {'yes' if ok else 'NO':<20} |")


if __name__ == "__main__":
    main()
