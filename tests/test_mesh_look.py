"""The mesh swap looks like the target's photo: its lighting, its colour statistics over skin, its black and white."""

from __future__ import annotations

import cv2
import numpy as np

from facekit.processors.common import FaceSelection
from facekit.processors.swap import SwapOptions, swap_image


def face_window(face) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(v) for v in face.box)
    return slice(y1, y2), slice(x1, x2)


def test_a_greyscale_target_stays_greyscale(engine, t1, tom) -> None:
    grey = cv2.cvtColor(cv2.cvtColor(t1, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    result = swap_image(engine, [tom], grey, SwapOptions(faces=FaceSelection.parse("2"), identity=False))
    assert not np.array_equal(result.image, grey)  # the face was swapped
    channels = result.image.astype(np.int16)
    assert int((channels.max(axis=2) - channels.min(axis=2)).max()) <= 1


def test_the_target_lighting_stays(engine, t1, tom) -> None:
    """The Tom Hanks photo is lit from the right (its left half about 70 levels darker): the swapped face keeps the target's light."""
    lit = tom
    result = swap_image(engine, [lit], t1, SwapOptions(faces=FaceSelection.parse("2"), identity=False))
    rows, cols = face_window(result.faces[0])
    middle = (cols.start + cols.stop) // 2

    def left_minus_right(image: np.ndarray) -> float:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)[rows]
        return float(grey[:, cols.start : middle].mean() - grey[:, middle : cols.stop].mean())

    grey_source = cv2.cvtColor(lit, cv2.COLOR_BGR2GRAY).astype(np.float32)[20:100, 20:92]
    source_gap = float(grey_source[:, :36].mean() - grey_source[:, 36:].mean())
    assert abs(source_gap) > 40
    assert abs(left_minus_right(result.image) - left_minus_right(t1)) < 0.2 * abs(source_gap)
