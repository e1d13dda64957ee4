"""Labels saying that an image was made or changed by FaceKit (AI-edited), by which job and models."""

from __future__ import annotations

import json

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
