from __future__ import annotations

import json

import numpy as np
from PIL import Image

from facekit.imageio import write_image_atomic
from facekit.provenance import add_visible_label, provenance_metadata


def test_metadata_round_trips_through_a_written_png(tmp_path) -> None:
    metadata = provenance_metadata("swap", {"swapper": "mesh", "detector": "dlib_hog"}, {"weight": 0.5})
    path = tmp_path / "out.png"
    write_image_atomic(path, np.zeros((8, 8, 3), dtype=np.uint8), metadata=metadata)
    text = Image.open(path).text
    assert text["facekit:ai_edited"] == "true" and text["facekit:job"] == "swap"
    assert json.loads(text["facekit:models"]) == {"swapper": "mesh", "detector": "dlib_hog"}
    assert "AI-edited" in text["Description"] and "mesh" in text["Description"]


def test_visible_label_changes_only_the_corner() -> None:
    image = np.full((400, 600, 3), 200, dtype=np.uint8)
    labelled = add_visible_label(image)
    changed = np.argwhere((labelled != image).any(axis=2))
    assert len(changed) > 100
    assert changed[:, 0].min() > 300 and changed[:, 1].min() > 300  # bottom-right only
    assert (image == 200).all()  # the input is not modified
