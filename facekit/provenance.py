"""Labels saying that an image was made or changed by FaceKit (AI-edited), by which job and models."""

from __future__ import annotations

import json

import cv2
import numpy as np

from facekit import __version__


def provenance_metadata(job: str, models: dict[str, str], details: dict[str, object] | None = None) -> dict[str, str]:
    """Text chunks for a written PNG: read back with Pillow's `Image.open(path).text`."""
    metadata = {
        "Software": f"FaceKit {__version__}",
        "Description": f"AI-edited image: FaceKit {job} using {', '.join(sorted(set(models.values()))) or 'built-in algorithms'}.",
        "facekit:ai_edited": "true",
        "facekit:job": job,
        "facekit:models": json.dumps(models, sort_keys=True),
    }
    if details:
        metadata["facekit:details"] = json.dumps(details, sort_keys=True, default=str)
    return metadata


def add_visible_label(image_bgr: np.ndarray, text: str = "AI-edited with FaceKit") -> np.ndarray:
    """A copy of the image with a small readable label in the bottom-right corner."""
    labelled = image_bgr.copy()
    height, width = labelled.shape[:2]
    scale = max(0.35, min(width, height) / 900)
    thickness = max(1, round(scale * 1.5))
    (text_width, text_height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, round(6 * scale))
    x2, y2 = width - pad, height - pad
    x1, y1 = max(0, x2 - text_width - 2 * pad), max(0, y2 - text_height - baseline - 2 * pad)
    box = labelled[y1:y2, x1:x2].astype(np.float32)
    labelled[y1:y2, x1:x2] = (box * 0.35).astype(np.uint8)  # darken behind the text
    origin = (x1 + pad, y2 - pad - baseline // 2)
    cv2.putText(labelled, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return labelled
