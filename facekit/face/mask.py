"""Blend masks for face crops: float32 HxW in 0..1 (1 = take the processed pixel).

Kinds (FaceFusion's names): a feathered `box` over the crop, `area` masks
drawn from the 68 iBUG landmarks (face, upper_face, lower_face, mouth,
eyes), `region` masks from a face-parsing class map (CelebAMask-HQ's 19
classes, see :data:`CELEBAMASK_CLASSES`), and `occlusion` masks that are 0
where something covers the face - from the parser's classes, or, with no
parser, from the face's own robust skin-colour model. Masks combine by
pixel-wise minimum. Everything here is geometry on arrays: the parser's
network runs in `facekit.adapters.parse`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

MaskRegion = Literal["face", "lower_face", "mouth"]

FOREHEAD_LIFT = 0.12  # swap paste mask: brows raised by this fraction of the chin-to-brow distance
HULL_FEATHER = 0.04  # swap paste mask: hull edge Gaussian sigma, fraction of the face width
MASK_WORKING_SIDE = 160  # masks of larger crops are drawn at about this size and scaled up

# iBUG 68 indices whose convex hull outlines each region.
_REGION_POINTS: dict[str, tuple[int, ...]] = {
    "face": tuple(range(0, 27)),
    "lower_face": tuple(range(2, 15)) + tuple(range(29, 36)),
    "mouth": tuple(range(48, 60)),
}


def _width_height(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    width, height = size
    return int(width), int(height)


def box_mask(
    size: int | tuple[int, int],
    blur: float = 0.3,
    padding: tuple[float, float, float, float] = (0, 0, 0, 0),
) -> np.ndarray:
    """Feathered rectangle covering the crop (FaceFusion-style convention).

    `size` is an int or (width, height). `blur` is a fraction of half the crop
    width: the border band that is zeroed is half that many pixels (at least 1)
    and the Gaussian sigma is a quarter of it. `padding` is (top, right,
    bottom, left) in percent of the crop, zeroed when wider than the band.
    """
    width, height = _width_height(size)
    blur_px = int(width * 0.5 * blur)
    band = max(blur_px // 2, 1)
    top, right, bottom, left = (
        max(band, int(height * padding[0] / 100)),
        max(band, int(width * padding[1] / 100)),
        max(band, int(height * padding[2] / 100)),
        max(band, int(width * padding[3] / 100)),
    )
    mask: np.ndarray = np.zeros((height, width), dtype=np.float32)
    mask[top:height - bottom, left:width - right] = 1.0
    if blur_px > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur_px * 0.25)
    return mask


def landmark_hull_mask(
    size: int | tuple[int, int],
    landmarks_68_in_crop: np.ndarray,
    region: MaskRegion = "face",
    feather: float = 0.02,
) -> np.ndarray:
    """Convex hull of a landmark region, feathered by a Gaussian.

    `landmarks_68_in_crop` are iBUG 68 points already in crop pixels; `feather`
    is the Gaussian sigma as a fraction of the crop width (0 = hard edge).
    """
    if region not in _REGION_POINTS:
        raise ValueError(f"Unknown mask region {region!r}; known: {', '.join(_REGION_POINTS)}.")
    width, height = _width_height(size)
    points = np.asarray(landmarks_68_in_crop, dtype=np.float32).reshape(68, 2)
    selected = points[list(_REGION_POINTS[region])]
    hull = cv2.convexHull(np.rint(selected).astype(np.int32))
    mask: np.ndarray = np.zeros((height, width), dtype=np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA)
    sigma = feather * width
    if sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return np.clip(mask, 0.0, 1.0)


def combine_masks(*masks: np.ndarray) -> np.ndarray:
    """Pixel-wise minimum of same-sized masks."""
    if not masks:
        raise ValueError("combine_masks needs at least one mask.")
    shapes = {mask.shape for mask in masks}
    if len(shapes) != 1:
        raise ValueError(f"Masks differ in size: {sorted(shapes)}.")
    return np.minimum.reduce([mask.astype(np.float32) for mask in masks])


def swap_mask(size: tuple[int, int], points_68: np.ndarray | None, blur: float = 0.3) -> np.ndarray:
    """Feathered box mask, cut to the `face` area (brows raised a little) when 68 points are known.

    Large crops get their mask drawn at a reduced size and scaled up: it is
    smooth, and the wide Gaussian blurs would otherwise cost more than the swap.
    """
    shrink = max(1, round(min(size) / MASK_WORKING_SIDE))
    small = (max(1, round(size[0] / shrink)), max(1, round(size[1] / shrink)))
    mask = box_mask(small, blur=blur)
    if points_68 is not None:
        points = np.asarray(points_68, dtype=np.float32).reshape(68, 2) * np.float32(small[0] / size[0])
        mask = combine_masks(mask, area_mask(small, points, ("face",)))
    return mask if small == size else cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)


# ---------------------------------------------------------------- area masks
AREAS = ("face", "upper_face", "lower_face", "mouth", "eyes")
# Outlines in drawing order (FaceFusion's upper-face / lower-face polygons; iBUG 68 indices).
_UPPER_FACE = (0, 1, 2, 31, 32, 33, 34, 35, 14, 15, 16, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17)
_LOWER_FACE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 35, 34, 33, 32, 31)
INNER_PUSH = 2 * HULL_FEATHER  # `face` area: inner points pushed out by this fraction of the face width
_EYE_GROW = 0.35  # each eye's outline grown by this fraction of its width (lids and lashes)


def raised_face_points(points_68: np.ndarray, lift: float = FOREHEAD_LIFT) -> np.ndarray:
    """The 68 points with the brows raised by `lift` x the chin-to-brow distance (the forehead's lower part)."""
    points = np.asarray(points_68, dtype=np.float32).reshape(68, 2).copy()
    points[17:27] += lift * (points[17:27].mean(axis=0) - points[8])
    return points


def area_mask(size: tuple[int, int], points_68: np.ndarray, areas: Iterable[str] = ("face",), feather: float | None = None) -> np.ndarray:
    """Union of landmark areas, feathered (Gaussian sigma `feather` x crop width; None = HULL_FEATHER x face width).

    `face` is the hull of all 68 points with the brows raised a little (nose
    and lips stay inside on a turned face); `upper_face` / `lower_face` split it at the nose;
    `mouth` is the outer lips; `eyes` both eyes, grown a little.
    """
    wanted = tuple(areas)
    unknown = [a for a in wanted if a not in AREAS]
    if unknown or not wanted:
        raise ValueError(f"Unknown mask area(s) {unknown or wanted!r}; known: {', '.join(AREAS)}.")
    width, height = size
    points = np.asarray(points_68, dtype=np.float32).reshape(68, 2)
    mask: np.ndarray = np.zeros((height, width), dtype=np.float32)
    for area in wanted:
        for polygon in _area_polygons(points, area):
            cv2.fillPoly(mask, [np.rint(polygon).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    sigma = (HULL_FEATHER * float(np.ptp(points[:17, 0]))) if feather is None else feather * width
    if sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return np.clip(mask, 0.0, 1.0)


def _inner_pushed_out(points: np.ndarray) -> np.ndarray:
    """Inner points (nose, eyes, lips) moved outward by INNER_PUSH x the face width, so on a turned face the nose tip
    that makes the outline is inside the feathered edge, not on it."""
    pushed = points.copy()
    centre = points.mean(axis=0)
    offsets = points[27:] - centre
    lengths = np.maximum(np.linalg.norm(offsets, axis=1, keepdims=True), 1e-6)
    pushed[27:] += offsets / lengths * (INNER_PUSH * float(np.ptp(points[:17, 0])))
    return pushed


def _area_polygons(points: np.ndarray, area: str) -> list[np.ndarray]:
    if area == "face":
        return [cv2.convexHull(_inner_pushed_out(raised_face_points(points))).reshape(-1, 2)]
    if area == "upper_face":
        return [points[list(_UPPER_FACE)]]
    if area == "lower_face":
        return [points[list(_LOWER_FACE)]]
    if area == "mouth":
        return [cv2.convexHull(points[48:60]).reshape(-1, 2)]
    eyes = []
    for eye in (points[36:42], points[42:48]):
        centre = eye.mean(axis=0)
        eyes.append(cv2.convexHull(centre + (eye - centre) * (1.0 + _EYE_GROW)).reshape(-1, 2))
    return eyes


# ---------------------------------------------------------------- face parsing
#: CelebAMask-HQ's 19 classes in the order BiSeNet face parsers output them.
CELEBAMASK_CLASSES = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)
#: Region names a user picks -> class numbers.
REGION_CLASSES: dict[str, tuple[int, ...]] = {
    "skin": (1,),
    "brows": (2, 3),
    "eyes": (4, 5),
    "glasses": (6,),
    "ears": (7, 8),
    "nose": (10,),
    "mouth": (11,),
    "lips": (12, 13),
    "neck": (14,),
    "hair": (17,),
}
REGIONS = tuple(REGION_CLASSES)
DEFAULT_REGIONS = ("skin", "brows", "eyes", "glasses", "nose", "mouth", "lips")  # FaceFusion's default set
#: Classes that are the face itself; anything else inside the face outline occludes it.
FACE_CLASSES = (1, 2, 3, 4, 5, 10, 11, 12, 13)


@dataclass(frozen=True)
class FaceParse:
    """A parser's class map of one face: `classes` (HxW uint8) on an aligned crop that `matrix` (image -> crop) made."""

    classes: np.ndarray
    matrix: np.ndarray

    def in_crop(self, crop_matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The class map resampled (nearest) into another crop of the same image (`crop_matrix`: image -> that crop)."""
        to_parse = _compose(self.matrix, cv2.invertAffineTransform(np.asarray(crop_matrix, dtype=np.float64)))
        return cv2.warpAffine(
            self.classes, to_parse, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )

    def in_image(self, shape: tuple[int, ...]) -> np.ndarray:
        """The class map pasted back to image space (0 = background outside the parsed crop)."""
        return self.in_crop(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (int(shape[1]), int(shape[0])))


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine of `outer` after `inner`."""
    full = np.vstack([np.asarray(inner, dtype=np.float64), [0.0, 0.0, 1.0]])
    return (np.asarray(outer, dtype=np.float64) @ full)[:2]


def region_mask(classes: np.ndarray, regions: Sequence[str] = DEFAULT_REGIONS, blur_px: float = 0.0) -> np.ndarray:
    """1 where the class map holds one of `regions`, softened by a Gaussian of sigma `blur_px`."""
    unknown = [r for r in regions if r not in REGION_CLASSES]
    if unknown or not regions:
        raise ValueError(f"Unknown face region(s) {unknown or list(regions)!r}; known: {', '.join(REGIONS)}.")
    wanted = [c for region in regions for c in REGION_CLASSES[region]]
    return _soften(np.isin(classes, wanted).astype(np.float32), blur_px)


def parse_occlusion_mask(classes: np.ndarray, inside: np.ndarray, blur_px: float = 0.0) -> np.ndarray:
    """0 where a pixel `inside` the face (a 0..1 mask) is not face to the parser (hand, hair, glasses, ...); 1 elsewhere."""
    occluded = (~np.isin(classes, FACE_CLASSES)) & (inside > 0.5)
    return 1.0 - _soften(occluded.astype(np.float32), blur_px, grow=True)


def _soften(mask: np.ndarray, blur_px: float, grow: bool = False) -> np.ndarray:
    """Gaussian-soften a hard mask; with `grow` the soft edge lies outside the hard one.

    Grown, the hard part plus a 2 px safety ring (mixed pixels at the edge,
    bilinear paste-back) stays exactly 1, so an occluder comes back untouched.
    """
    if grow:
        hard = cv2.dilate(mask, _disc(2))
        if blur_px <= 0:
            return hard
        soft = cv2.GaussianBlur(cv2.dilate(mask, _disc(2 + int(np.ceil(2.0 * blur_px)))), (0, 0), blur_px)
        return np.clip(np.maximum(soft, hard), 0.0, 1.0)
    if blur_px <= 0:
        return mask
    return np.clip(cv2.GaussianBlur(mask, (0, 0), blur_px), 0.0, 1.0)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


# ---------------------------------------------------------------- offline occlusion
_SKIN_CHROMA_LIMIT = 4.0  # robust z-score in (Cr, Cb) towards grey above which a pixel is not this face's skin
_SKIN_HUE_LIMIT = 8.0  # ... and across that direction (redder lips, flushed or shadowed skin stay below)
_SKIN_BRIGHT_LIMIT = 4.0  # robust z-score of luma above which a pixel is brighter than any of its skin
_SKIN_SCALE_FLOOR = (6.0, 2.5, 2.5)  # smallest robust spread of Y, Cr, Cb (grey levels)
_OCCLUDER_MIN_AREA = 0.02  # occluders smaller than this fraction of the face are ignored (highlights, moles)
_OCCLUDER_OPEN = 0.02  # opening/closing radius, fraction of the face width
_OCCLUSION_LIFT = 0.3  # occluders are looked for up to this fraction of the chin-to-brow distance above the brows


def _filled_hull(size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(points).astype(np.int32)), 1)
    return mask > 0


def skin_occlusion_mask(crop_bgr: np.ndarray, points_68: np.ndarray, blur_px: float = 0.0) -> np.ndarray:
    """0 where a pixel inside the face outline (forehead included) disagrees with the face's own skin colour; 1 elsewhere.

    The skin model is the median and scaled MAD of YCrCb over the cheeks and
    the nose (its core skin, away from hair and lips). A pixel is flagged when its chroma moves far
    from the model towards grey (less skin-saturated: white, grey, black, blue, green) or to another hue,
    or it is much brighter than the skin (a white brim, a glove);
    eyes and mouth are never flagged, brows only when bright. Flags are
    cleaned by an opening and a closing and kept only in blobs of at least
    2% of the face. A colour model cannot see an occluder of the face's own
    colour (a bare hand of the same skin tone): that needs the parser.
    """
    height, width = crop_bgr.shape[:2]
    points = np.asarray(points_68, dtype=np.float32).reshape(68, 2)
    inside = _filled_hull((width, height), raised_face_points(points, _OCCLUSION_LIFT))
    eyes = area_mask((width, height), points, ("eyes",), feather=0.0) > 0.1
    mouth = area_mask((width, height), points, ("mouth",), feather=0.0) > 0.1
    face_width = max(float(np.ptp(points[:17, 0])), 8.0)
    brows = _brow_band(points, (width, height), face_width)
    sample = _skin_core((width, height), points) & ~eyes & ~mouth
    if sample.sum() < 64:
        return np.ones((height, width), dtype=np.float32)
    ycrcb = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32)
    values = ycrcb[sample]
    median = np.median(values, axis=0)
    scale = np.maximum(1.4826 * np.median(np.abs(values - median), axis=0), _SKIN_SCALE_FLOOR)
    z = (ycrcb - median) / scale
    towards_grey = (128.0 - median[1:]) / scale[1:]
    towards_grey /= max(float(np.hypot(*towards_grey)), 1e-6)
    along = z[..., 1] * towards_grey[0] + z[..., 2] * towards_grey[1]  # less skin-saturated: white, grey, black, blue, green
    across = np.abs(z[..., 1] * towards_grey[1] - z[..., 2] * towards_grey[0])  # another hue altogether
    chroma = (along > _SKIN_CHROMA_LIMIT) | (across > _SKIN_HUE_LIMIT)
    bright = z[..., 0] > _SKIN_BRIGHT_LIMIT
    flagged = ((chroma & ~brows) | bright) & inside & ~eyes & ~mouth
    occluded = _clean_blobs(flagged, face_width, float(inside.sum()))
    return 1.0 - _soften(occluded.astype(np.float32), blur_px, grow=True)


_CHEEKS_AND_NOSE = ((1, 2, 3, 4, 48, 31, 39, 40, 41, 36), (15, 14, 13, 12, 54, 35, 42, 47, 46, 45), (27, 31, 33, 35))


def _skin_core(size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    core = np.zeros((size[1], size[0]), dtype=np.uint8)
    for polygon in _CHEEKS_AND_NOSE:
        cv2.fillPoly(core, [np.rint(points[list(polygon)]).astype(np.int32)], 1)
    return core > 0


def _brow_band(points: np.ndarray, size: tuple[int, int], face_width: float) -> np.ndarray:
    band = np.zeros((size[1], size[0]), dtype=np.uint8)
    thickness = max(2, int(round(0.06 * face_width)))
    for brow in (points[17:22], points[22:27]):
        cv2.polylines(band, [np.rint(brow).astype(np.int32)], False, 1, thickness=thickness)
    return band > 0


def _clean_blobs(flagged: np.ndarray, face_width: float, face_area: float) -> np.ndarray:
    radius = max(1, int(round(_OCCLUDER_OPEN * face_width)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    opened = cv2.morphologyEx(flagged.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= _OCCLUDER_MIN_AREA * face_area
    return cv2.morphologyEx(keep[labels].astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
