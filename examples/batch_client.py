"""Restore every photo of a folder through a running FaceKit app (gradio_client).

    python launch.py &                      # in another terminal
    python examples/batch_client.py PHOTOS_DIR OUT_DIR [--url http://127.0.0.1:7860/] [--model classic] [--blend 0.8]

Each result is the app's labelled PNG download; a photo the app rejects is
reported and skipped. Exit code 1 when any photo failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from gradio_client import Client, handle_file

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def restore_folder(url: str, photos: Path, out: Path, model: str, blend: float) -> int:
    client = Client(url, verbose=False)
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in sorted(p for p in photos.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES):
        try:
            _, _, report, download = client.predict(handle_file(str(photo)), model, 0.5, blend, "all", 1, api_name="/restore")
        except Exception as error:  # the app's message for this photo
            failures += 1
            print(f"{photo.name}: failed: {error}", file=sys.stderr)
            continue
        target = out / f"{photo.stem}.png"
        shutil.copyfile(download, target)
        print(f"{photo.name} -> {target} ({len(report['faces'])} face(s), {report['seconds']} s, models {report['models']})")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--model", default="classic", help="a restore model id (see the Models tab)")
    parser.add_argument("--blend", type=float, default=0.8)
    args = parser.parse_args()
    return restore_folder(args.url, args.photos, args.out, args.model, args.blend)


if __name__ == "__main__":
    sys.exit(main())
