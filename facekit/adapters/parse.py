"""Face parsers: the BiSeNet family (CelebAMask-HQ's 19 classes) on ONNX Runtime.

``bisenet`` (both manifest entries, `face_parser_bisenet` and
`bisenet_resnet_34`): the face is warped onto `template` (FFHQ-512 by
default) at `size` (512) with bilinear resampling; pixels as `colour` (RGB),
normalised per channel with the ImageNet mean and std in 0..255 units
(123.675, 116.28, 103.53 / 58.395, 57.12, 57.375); one image input
[1,3,512,512]; the first output (or the one the entry's `io: {outputs: {classes: NAME}}` names)
holds [1,19,H,W] class scores; the class map is their argmax, resized
(nearest) to the crop when the model outputs another size. The result is a
:class:`facekit.face.mask.FaceParse`: the class map plus the image -> crop
matrix, so any other crop of the same image (or the image itself) can take
the map without parsing again.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from facekit.adapters import _session_checks as checks
from facekit.adapters import pixels
from facekit.adapters.base import Parser as Parser  # the contract lives in base.py
from facekit.adapters.registry import AdapterSpec, square_size
from facekit.face.align import warp
from facekit.face.mask import CELEBAMASK_CLASSES, FaceParse
from facekit.face.types import Face

DEFAULT_TEMPLATE = "ffhq_512"
DEFAULT_SIZE = 512
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


class BiSeNetParser:
    """BiSeNet face parsing (see the module docstring)."""

    def __init__(
        self,
        session: ort.InferenceSession,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
        colour: str = "rgb",
        template: str = DEFAULT_TEMPLATE,
        size: int = DEFAULT_SIZE,
        output: str | None = None,
        name: str | None = None,
    ) -> None:
        self.name = checks.model_label(session, name)
        self.template = template
        self.size = size
        self._session = session
        self._input, _ = checks.image_input(session, self.name, (size, size))
        self._output = self._class_output(session, output)
        self._mean = np.asarray(mean, dtype=np.float32)
        self._std = np.asarray(std, dtype=np.float32)
        self._colour = colour

    def _class_output(self, session: ort.InferenceSession, output: str | None) -> str:
        outputs = session.get_outputs()
        if output is not None:
            checks.require_outputs(session, self.name, [output])
            chosen = next(arg for arg in outputs if arg.name == output)
        else:
            chosen = outputs[0]
        classes = len(CELEBAMASK_CLASSES)
        if len(chosen.shape) != 4 or (checks.is_fixed(chosen.shape[1]) and chosen.shape[1] != classes):
            raise checks.mismatch(session, self.name, f"a class-score output {chosen.name}[1,{classes},H,W]")
        return chosen.name

    def encode(self, crop_bgr: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 BGR crop -> float32 [1,3,H,W], per-channel normalised."""
        return pixels.to_blob(crop_bgr, self._colour, self._mean, self._std)

    def classes(self, crop_bgr: np.ndarray) -> np.ndarray:
        """Class map (uint8, crop-sized) of an aligned crop."""
        scores = self._session.run([self._output], {self._input: self.encode(crop_bgr)})[0][0]
        labels = np.argmax(scores, axis=0).astype(np.uint8)
        height, width = crop_bgr.shape[:2]
        if labels.shape != (height, width):
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        return labels

    def parse(self, image_bgr: np.ndarray, face: Face) -> FaceParse:
        crop, matrix = warp(image_bgr, face.landmarks_5, self.template, self.size)
        return FaceParse(classes=self.classes(crop), matrix=matrix)


def build_bisenet(spec: AdapterSpec) -> BiSeNetParser:
    return BiSeNetParser(
        spec.open_session(),
        mean=spec.input.mean or IMAGENET_MEAN,
        std=spec.input.std or IMAGENET_STD,
        colour=spec.input.colour or "rgb",
        template=spec.input.template or DEFAULT_TEMPLATE,
        size=square_size(spec.input, DEFAULT_SIZE),
        output=spec.io.output_name("classes"),
        name=spec.model_id,
    )
