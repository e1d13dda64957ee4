"""Mask composition for paste-back: which masks a job uses, the parser behind them, and one crop's combined mask.

`MaskOptions` is what the user asks for (`--mask box,area,region,occlusion
--regions ... --mask-blur --mask-padding`); `load_masker` turns it into a
`FaceMasker` holding the parser when one is needed and ready. With no types
given the masker picks: box + region + occlusion when a parser is ready,
box + the landmark `face` area otherwise (the box cut to the face hull that
the swap job has always used); `FaceMasker.label` says which ran. The masks
themselves are drawn by :mod:`facekit.face.mask`, combined by minimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facekit.adapters.base import Parser
from facekit.engine import Engine
from facekit.errors import FaceKitError, ModelUnavailableError
from facekit.face.align import estimate_affine, transform_points
from facekit.face.mask import (
    AREAS,
    DEFAULT_REGIONS,
    FACE_CLASSES,
    MASK_WORKING_SIDE,
    REGIONS,
    FaceParse,
    area_mask,
    box_mask,
    combine_masks,
    parse_occlusion_mask,
    region_mask,
    skin_occlusion_mask,
)
from facekit.face.types import Face
from facekit.model_ref import ModelRef

MASK_TYPES = ("box", "area", "region", "occlusion")
DEFAULT_BLUR = 0.3
_EDGE_SIGMA = 0.01 / DEFAULT_BLUR  # region/occlusion edge: Gaussian sigma = blur x this x crop width (1% at 0.3)
_HULL_SCALE = 1.0 / DEFAULT_BLUR  # area feather scales with blur / 0.3


@dataclass(frozen=True)
class MaskOptions:
    """Which masks cut a face's paste-back (empty `types` = automatic, see the module docstring)."""

    types: tuple[str, ...] = ()
    regions: tuple[str, ...] = DEFAULT_REGIONS
    areas: tuple[str, ...] = ("face",)
    blur: float = DEFAULT_BLUR  # 0..1: box border as FaceFusion's blur; region/occlusion/area edges scale with it
    padding: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # box, % of the crop: top, right, bottom, left
    parser: str | None = None  # parse model id; None = best ready (when a region/occlusion mask wants one)
    parser_file: Path | None = None  # or your own BiSeNet ONNX file

    def __post_init__(self) -> None:
        _check_names("mask type", self.types, MASK_TYPES, "--mask box,area,region,occlusion")
        _check_names("face region", self.regions, REGIONS, "--regions skin,nose,...")
        _check_names("mask area", self.areas, AREAS, "--areas face,mouth,...")
        if not self.regions or not self.areas:
            raise FaceKitError("The region and area lists may not be empty.", f"Regions: {', '.join(REGIONS)}; areas: {', '.join(AREAS)}.")
        if not 0.0 <= self.blur <= 1.0:
            raise FaceKitError(f"Mask blur {self.blur} is outside 0..1.", f"Use e.g. --mask-blur {DEFAULT_BLUR}.")
        if len(self.padding) != 4 or not all(0.0 <= p <= 100.0 for p in self.padding):
            raise FaceKitError(
                f"Mask padding {self.padding} is not four values in 0..100.", "{control:mask_padding}."
            )
        if self.parser is not None and self.parser_file is not None:
            raise FaceKitError("Both a parser model id and a parser file were given.", "Use --parser ID or --parser-file PATH, not both.")

    @classmethod
    def from_text(
        cls,
        types: str | None = None,
        regions: str | None = None,
        areas: str | None = None,
        blur: float = DEFAULT_BLUR,
        padding: str | None = None,
        parser: str | None = None,
        parser_file: Path | None = None,
    ) -> MaskOptions:
        """The options from comma lists as the CLI and the app take them ('' or 'auto' = automatic types)."""
        type_list = () if types is None or types.strip() in ("", "auto") else _split(types)
        return cls(
            types=type_list,
            regions=_split(regions) if regions else DEFAULT_REGIONS,
            areas=_split(areas) if areas else ("face",),
            blur=blur,
            padding=parse_padding(padding),
            parser=parser or None,
            parser_file=parser_file,
        )


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip().replace("-", "_") for part in text.split(",") if part.strip())


def _check_names(what: str, names: tuple[str, ...], known: tuple[str, ...], hint: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise FaceKitError(f"Unknown {what} {unknown[0]!r}.", f"Known: {', '.join(known)} ({hint}).")


def parse_padding(text: str | None) -> tuple[float, float, float, float]:
    """'10' -> every side 10%; '0,0,10,0' -> top, right, bottom, left."""
    if text is None or not str(text).strip():
        return (0.0, 0.0, 0.0, 0.0)
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise FaceKitError(
            f"Cannot read the mask padding {text!r}.", "Use one number or four: top,right,bottom,left (% of the crop)."
        ) from None
    if len(values) == 1:
        values *= 4
    if len(values) != 4:
        raise FaceKitError(f"Mask padding {text!r} has {len(values)} values.", "Use one number or four: top,right,bottom,left.")
    return (values[0], values[1], values[2], values[3])


@dataclass
class FaceMasker:
    """The masks one job uses (resolved types), the parser behind them, and per-face parse maps."""

    options: MaskOptions
    types: tuple[str, ...]
    parser: Parser | None = None
    parser_label: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """e.g. 'box+region+occlusion (parser face_parser_bisenet)' or 'box+area (68 landmarks)'."""
        text = "+".join(self.types)
        if self.parser_label is not None:
            return f"{text} (parser {self.parser_label})"
        if "occlusion" in self.types:
            return f"{text} (occlusion from skin colour, no parser)"
        return text

    def warnings(self, faces: list[Face]) -> list[str]:
        """What could not be drawn as asked: area / skin-colour occlusion masks need 68 landmarks."""
        needs_points = "area" in self.types or ("occlusion" in self.types and self.parser is None)
        missing = [face.index for face in faces if face.landmarks_68 is None]
        if not needs_points or not missing:
            return []
        return [
            f"Face(s) {', '.join(map(str, missing))} have no 68 landmarks, so their {self.label} mask used the box only "
            "(pick a 68-point landmark model, or a face parser for region/occlusion masks)."
        ]

    def parse(self, image_bgr: np.ndarray, face: Face) -> FaceParse | None:
        """The face's class map when a parser is loaded."""
        if self.parser is None:
            return None
        return self.parser.parse(image_bgr, face)

    def crop_mask(self, image_bgr: np.ndarray, face: Face, crop_matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The combined paste mask (float32, crop-sized) of `face` in the crop `crop_matrix` (image -> crop) makes."""
        points = None if face.landmarks_68 is None else transform_points(face.landmarks_68, crop_matrix)
        parse = self.parse(image_bgr, face) if ("region" in self.types or "occlusion" in self.types) else None
        masks = []
        if "box" in self.types or "area" in self.types:
            masks.append(self._box_area(size, points))
        if parse is not None:
            classes = parse.in_crop(crop_matrix, size)
            sigma = self.options.blur * _EDGE_SIGMA * size[0]
            if "region" in self.types:
                masks.append(region_mask(classes, self.options.regions, sigma))
            if "occlusion" in self.types:
                masks.append(parse_occlusion_mask(classes, _inside(classes, points, size), sigma))
        elif "occlusion" in self.types and points is not None:
            crop = cv2.warpAffine(image_bgr, crop_matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            masks.append(skin_occlusion_mask(crop, points, self.options.blur * _EDGE_SIGMA * size[0]))
        if not masks:
            return box_mask(size, blur=self.options.blur, padding=self.options.padding)
        return combine_masks(*masks)

    def _box_area(self, size: tuple[int, int], points: np.ndarray | None) -> np.ndarray:
        """Box and/or landmark areas, drawn at about MASK_WORKING_SIDE and scaled up (they are smooth)."""
        shrink = max(1, round(min(size) / MASK_WORKING_SIDE))
        small = (max(1, round(size[0] / shrink)), max(1, round(size[1] / shrink)))
        masks = []
        if "box" in self.types:
            masks.append(box_mask(small, blur=self.options.blur, padding=self.options.padding))
        if "area" in self.types and points is not None:
            scaled = points * np.float32(small[0] / size[0])
            face_width = float(np.ptp(scaled[:17, 0]))
            feather = 0.04 * face_width * self.options.blur * _HULL_SCALE / small[0]
            masks.append(area_mask(small, scaled, self.options.areas, feather=feather))
        if not masks:  # area asked for, face without 68 points: fall back to the box
            masks.append(box_mask(small, blur=self.options.blur, padding=self.options.padding))
        mask = combine_masks(*masks)
        return mask if small == size else cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)

    def face_content(self, image_bgr: np.ndarray, face: Face) -> np.ndarray | None:
        """Image-sized float mask: 1 on the face's own pixels, 0 on what covers it (hat brim, hair, glasses, hand).

        From the parser when one is loaded, else from the skin-colour model
        inside the landmark outline (1 outside it); None when neither can tell.
        """
        height, width = image_bgr.shape[:2]
        parse = self.parse(image_bgr, face)
        if parse is not None:
            classes = parse.in_image(image_bgr.shape)
            points = None if face.landmarks_68 is None else np.asarray(face.landmarks_68, dtype=np.float32)
            inside = _inside(classes, points, (width, height))
            return parse_occlusion_mask(classes, inside)
        if face.landmarks_68 is None:
            return None
        matrix, size = _face_window(face, (width, height))
        crop = cv2.warpAffine(image_bgr, matrix, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        local = skin_occlusion_mask(crop, transform_points(face.landmarks_68, matrix))
        content = np.ones((height, width), dtype=np.float32)
        x, y = int(-matrix[0, 2]), int(-matrix[1, 2])
        x1, y1 = max(x, 0), max(y, 0)
        x2, y2 = min(x + size[0], width), min(y + size[1], height)
        content[y1:y2, x1:x2] = local[y1 - y : y2 - y, x1 - x : x2 - x]
        return content


def _face_window(face: Face, image_size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """A whole-pixel shift onto the face's 68-point box padded by a quarter."""
    points = np.asarray(face.landmarks_68, dtype=np.float32)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.25 * float((high - low).max())
    x1, y1 = (int(np.floor(v - pad)) for v in low)
    x2, y2 = (int(np.ceil(v + pad)) for v in high)
    return np.array([[1.0, 0.0, -x1], [0.0, 1.0, -y1]]), (x2 - x1, y2 - y1)


def _inside(classes: np.ndarray, points: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """Where occluders count: the landmark face outline, else the hull of the parser's face pixels."""
    if points is not None:
        return area_mask(size, points, ("face",), feather=0.0)
    ys, xs = np.nonzero(np.isin(classes, FACE_CLASSES))
    mask = np.zeros((size[1], size[0]), dtype=np.float32)
    if len(xs) >= 3:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.int32)), 1.0)
    return mask


def load_masker(engine: Engine, options: MaskOptions = MaskOptions()) -> FaceMasker:
    """Resolve the options: load the parser a region or occlusion mask wants, pick the automatic types."""
    explicit = options.types
    wants_parser = not explicit or "region" in explicit or "occlusion" in explicit or options.parser or options.parser_file
    parser, label = _load_parser(engine, options) if wants_parser else (None, None)
    if "region" in explicit and parser is None:
        raise ModelUnavailableError(
            "A region mask needs a face parser, and none is ready.",
            "{control:parser_needed}.",
        )
    if explicit:
        types = explicit
    else:
        types = ("box", "region", "occlusion") if parser is not None else ("box", "area")
    if parser is not None and not ({"region", "occlusion"} & set(types)):
        parser, label = None, None
    return FaceMasker(options=options, types=types, parser=parser, parser_label=label)


def _load_parser(engine: Engine, options: MaskOptions) -> tuple[Parser | None, str | None]:
    if options.parser_file is not None:
        return engine.parser(ModelRef(file=options.parser_file, family="bisenet")), f"file:{Path(options.parser_file).name}"
    if options.parser is not None:
        return engine.parser(ModelRef(model_id=options.parser)), options.parser
    try:
        entry = engine.default_model("parse")
    except ModelUnavailableError:
        return None, None
    return engine.parser(ModelRef(model_id=entry.id)), entry.id


def image_mask(masker: FaceMasker, image_bgr: np.ndarray, face: Face, template: str = "ffhq_512", size: int = 512) -> np.ndarray:
    """The face's combined paste mask in image space (float32 HxW): drawn on a `template` crop and warped back."""
    matrix = estimate_affine(face.landmarks_5, template, size)
    crop_mask = masker.crop_mask(image_bgr, face, matrix, (size, size))
    inverse = cv2.invertAffineTransform(matrix)
    height, width = image_bgr.shape[:2]
    return cv2.warpAffine(crop_mask, inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def draw_masks(image_bgr: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """A debug view: the photo darkened where no mask reaches, each mask's 0.5 edge outlined in green."""
    if not masks:
        return image_bgr.copy()
    union = np.maximum.reduce(masks)
    shown = (image_bgr.astype(np.float32) * (0.25 + 0.75 * union[..., None])).astype(np.uint8)
    for mask in masks:
        contours, _ = cv2.findContours((mask > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(shown, contours, -1, (0, 255, 0), 1, lineType=cv2.LINE_AA)
    return shown
