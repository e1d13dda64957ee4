"""Detection you can trust: HOG detections must pass the landmark face check; checked faces just under the threshold count.

See facekit/adapters/face_check.py for the measurements behind the limits.
"""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest
from skimage import data

from facekit.analysis import FaceAnalyser


def bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[..., ::-1])


def raw_hog_scores(image_bgr: np.ndarray, threshold: float) -> list[float]:
    """dlib's plain HOG detector at `threshold` (logistic of the margin), upsampled once: what it would return unchecked."""
    margin = float(np.log(threshold / (1 - threshold)))
    _, margins, _ = dlib.get_frontal_face_detector().run(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), 1, margin)
    return [float(1 / (1 + np.exp(-m))) for m in margins]


def tilted_face(t1: np.ndarray, analyser: FaceAnalyser, index: int, degrees: float) -> np.ndarray:
    face = analyser.analyze(t1).faces[index]
    x1, y1, x2, y2 = (int(v) for v in face.box)
    pad = x2 - x1
    crop = t1[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
    rotation = cv2.getRotationMatrix2D((crop.shape[1] / 2, crop.shape[0] / 2), degrees, 1.0)
    return cv2.warpAffine(crop, rotation, (crop.shape[1], crop.shape[0]), borderMode=cv2.BORDER_REFLECT)


def test_the_packaged_faces_pass_the_check(engine, t1) -> None:
    analyser = FaceAnalyser(engine)
    assert len(analyser.analyze(t1).faces) == 6
    assert len(analyser.analyze(bgr(data.astronaut())).faces) == 1


@pytest.mark.parametrize("name", ["rocket", "coffee", "background"])
def test_no_face_on_backgrounds_and_textures(engine, t1, name) -> None:
    """Images where unchecked HOG finds face-like candidates in the rescue band (0.4-0.5): the default path returns none."""
    if name == "background":
        image = cv2.resize(t1[0:170, 560:860], (600, 340))  # the wall and shelf above the group, no face
    else:
        image = bgr(getattr(data, name)())
    assert FaceAnalyser(engine).analyze(image).faces == []
    if name == "rocket":
        assert max(raw_hog_scores(image, 0.3)) > 0.4  # HOG alone does see a candidate the check must reject


def test_a_tilted_face_hog_misses_is_found(engine, t1) -> None:
    analyser = FaceAnalyser(engine)
    image = tilted_face(t1, analyser, 1, 15.0)
    assert all(score < 0.5 for score in raw_hog_scores(image, 0.3))  # plain HOG at its default threshold: nothing
    faces = analyser.analyze(image).faces
    assert len(faces) == 1 and 0.4 <= faces[0].score < 0.5


def test_app_tabs_take_a_detection_threshold(engine, tmp_path, monkeypatch) -> None:
    """Restore, Swap and Frontalize expose the threshold as Analyze does (the last API parameter)."""
    from gradio_client import Client, handle_file

    from app import build_demo
    from helpers import insightface_image

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    demo = build_demo(engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        _, rows, _, _ = client.predict(handle_file(str(insightface_image("t1.jpg"))), detection_threshold=0.85, api_name="/restore")
        names = [parameter["parameter_name"] for api in ("/swap", "/frontalize") for parameter in client.view_api(print_info=False,
                 return_format="dict")["named_endpoints"][api]["parameters"]]
    finally:
        demo.close()
    assert len(rows["data"]) == 3  # t1's faces scoring 0.89-0.92; the other three score 0.59-0.71
    assert names.count("detection_threshold") == 2
