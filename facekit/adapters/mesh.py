"""The builtin `mesh` swapper: a classical face swap from 68 landmarks, no weights.

1. Orientation: when the source face is turned the other way from the
   target, the source photo is mirrored (faces are nearly symmetric, and a
   visible cheek stretched over a hidden one looks far worse).
2. Geometry: the target's points, with the inner features (brows, eyes,
   nose, mouth) moved towards the source's after a similarity fit - the
   proportions of a face carry much of who it is. How far they move is
   `shape`, scaled down as the two head poses differ (a frontal face's
   proportions do not fit a turned one). The jaw line stays the target's.
3. Mesh and warp: those points, forehead points (the brows lifted along
   the chin-to-brow axis) and the crop's border points are triangulated
   (Delaunay); each triangle gets the affine onto the same triangle of the
   source face, and one `cv2.remap` samples the source photo through that
   piecewise-affine field (one resampling, at the target's resolution).
4. Far half: a strongly turned source face (|yaw| over 20 degrees) has its
   foreshortened half taken from its mirrored near half instead, blended
   across the midline.
5. Colour and light: the warped face's Lab mean and spread over the skin
   (the blend region without eyes, brows and lips) are moved to the
   target's; then its broad shading (lightness low-passed at 0.12 x the face
   width) is replaced by the target's, so the source brings its features and
   texture and the light stays the target photo's (Tom Hanks, lit from one
   side, onto t1's face 2: left-right lightness gap 1.6 in the target, -25.9
   without this step, -4.2 with it; tests/test_mesh_look.py). The correction
   is one smooth field (normalised convolution over the mask) applied to
   the whole crop, so it has no edge of its own. A greyscale target gives a
   greyscale result.
   Source pixels that are not face (its `face_mask`: a hat brim, hair,
   glasses) travel as a fourth channel through the warp and are cut out of
   the blend mask, so the target's own pixels show there.
6. Blend: Laplacian-pyramid (multi-band) blending inside the hull of the
   jaw and the (slightly raised) brows, pulled a little inside the
   outline, so the target's hair, ears and background stay: low
   frequencies (light, skin tone) mix over a wide band, fine detail
   switches sharply. Above the brows the mask's edge cuts through skin, so
   there the source fades in over a band (`forehead_feather` x the
   chin-to-brow distance) with the target's own pixels past the edge: the
   step that showed across the forehead (t1 face 0 from face 1) is gone
   (tests/test_mesh_look.py measures it). When the target's mouth is open
   its inner mouth is left out, so its own teeth and tongue show; and by
   default (`keep_mouth` "open"; "always", "never") its whole mouth stays:
   the mouth's points keep the target's places (its smile or speech) and
   the lips' outline, with a band around it, is left out of the blend.

Measured on t1.jpg with dlib's ResNet (tests/test_mesh.py: Tom Hanks onto
the six faces, and the six faces swapped with their neighbours): with this
blend all 12 swapped faces end nearer the source than the original person
(mean margin over 0.2); a Poisson blend (`cv2.seamlessClone`) in its place
left 2 of the 12 nearer the original and shrank the other margins; so did
turning the shape transfer off (2 of 12 not nearer the source).

The crop is the face's padded bounding box at 1:1 (an integer shift, no
resampling), scaled down only for faces larger than `max_side`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.spatial import Delaunay

from facekit.adapters.base import MouthMode
from facekit.adapters.inswapper import DEFAULT_WEIGHT, SwapSource, SwapTarget
from facekit.adapters.registry import AdapterSpec
from facekit.errors import FaceKitError
from facekit.face.align import transform_points
from facekit.face.piecewise import border_points, pixel_grid, rasterise_triangles, sampling_maps, triangle_affines
from facekit.face.pose import MIRROR_68
from facekit.face.types import Face, Pose

JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
INNER = np.arange(17, 68)  # brows, nose, eyes, mouth
INNER_LIPS = np.arange(60, 68)
MOUTH = np.arange(48, 68)
OUTER_LIPS = np.arange(48, 60)
UPPER_INNER_LIP = np.array([61, 62, 63])
LOWER_INNER_LIP = np.array([67, 66, 65])
FOREHEAD_FROM = np.array([17, 19, 21, 22, 24, 26])  # brow points lifted to make the forehead row


def forehead_points(points_68: np.ndarray, lift: float) -> np.ndarray:
    """Brow points moved up by `lift` x the chin-to-brow distance."""
    up = points_68[BROWS].mean(axis=0) - points_68[8]
    return points_68[FOREHEAD_FROM] + lift * up


def mouth_is_open(points_68: np.ndarray, ratio: float = 0.12) -> bool:
    """Inner lips apart by more than `ratio` x the mouth width."""
    gap = float(np.linalg.norm(points_68[UPPER_INNER_LIP] - points_68[LOWER_INNER_LIP], axis=1).mean())
    width = float(np.linalg.norm(points_68[54] - points_68[48]))
    return width > 0 and gap > ratio * width


def keeps_mouth(mode: MouthMode, points_68: np.ndarray) -> bool:
    """Whether the target's own mouth stays: "always", "never", or "open" (teeth, tongue, an open smile or speech)."""
    return mode == "always" or (mode == "open" and mouth_is_open(points_68))


def mirror_face(image: np.ndarray, points_68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo flipped left-right and its 68 points, renumbered so each keeps its meaning."""
    flipped = points_68.copy()
    flipped[:, 0] = image.shape[1] - 1 - flipped[:, 0]
    return np.ascontiguousarray(image[:, ::-1]), flipped[list(MIRROR_68)]


def should_mirror(source_pose: Pose | None, target_pose: Pose | None, min_gain: float = 10.0) -> bool:
    """Mirroring brings the source's yaw at least `min_gain` degrees closer to the target's."""
    if source_pose is None or target_pose is None:
        return False
    return abs(source_pose.yaw - target_pose.yaw) - abs(-source_pose.yaw - target_pose.yaw) >= min_gain


def hidden_side(points_68: np.ndarray, pose: Pose | None, start: float, span: float) -> tuple[float, bool]:
    """How much of a turned face's far half to replace (0..1), and whether that half is on the image's left.

    The far half is the narrower one (nose bridge to jaw); the amount grows
    with |yaw| from `start` degrees over `span` degrees (from the width ratio
    when the pose is unknown).
    """
    nose = float(points_68[27:31, 0].mean())
    left, right = nose - float(points_68[0:4, 0].mean()), float(points_68[13:17, 0].mean()) - nose
    if pose is not None:
        amount = (abs(pose.yaw) - start) / span
    else:
        ratio = min(left, right) / max(left, right, 1e-6)
        amount = (0.75 - ratio) / 0.35
    return float(np.clip(amount, 0.0, 1.0)), left < right


def half_face_weight(geometry: np.ndarray, size: tuple[int, int], left: bool, feather: float) -> np.ndarray:
    """1 on one side of the face's midline (brow centre, nose, lips, chin), 0 on the other, a `feather`-px ramp between."""
    midline = geometry[[27, 28, 29, 30, 33, 51, 62, 66, 57, 8]]
    order = np.argsort(midline[:, 1])
    width, height = size
    middle = np.interp(np.arange(height, dtype=np.float32), midline[order, 1], midline[order, 0])
    offset = (middle[:, None] - np.arange(width, dtype=np.float32)[None, :]) / max(feather, 1.0)
    weight = np.clip(0.5 + offset, 0.0, 1.0)
    return weight if left else 1.0 - weight


def hybrid_geometry(target_68: np.ndarray, source_68: np.ndarray, shape: float, keep_mouth: bool = False) -> np.ndarray:
    """The target's points with the inner features moved `shape` (0..1) of the way to the similarity-fitted source's.

    With `keep_mouth` the mouth's points stay the target's (its expression: a smile, an open mouth).
    """
    target = np.asarray(target_68, dtype=np.float32)
    if shape <= 0.0:
        return target.copy()
    fit, _ = cv2.estimateAffinePartial2D(np.asarray(source_68, dtype=np.float32), target, method=cv2.LMEDS)
    if fit is None:
        return target.copy()
    aligned = transform_points(source_68, fit)
    hybrid = target.copy()
    moved = INNER[INNER < MOUTH[0]] if keep_mouth else INNER
    hybrid[moved] += shape * (aligned[moved] - target[moved])
    return hybrid


def pose_agreement(source_pose: Pose | None, target_pose: Pose | None, falloff_degrees: float) -> float:
    """1 for the same yaw and pitch, falling linearly to 0 at `falloff_degrees` apart (1 when a pose is unknown)."""
    if source_pose is None or target_pose is None:
        return 1.0
    gap = math.hypot(source_pose.yaw - target_pose.yaw, source_pose.pitch - target_pose.pitch)
    return max(0.0, 1.0 - gap / falloff_degrees)


def transfer_lab_colour(image_bgr: np.ndarray, reference_bgr: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Move `image_bgr`'s Lab mean and spread inside `region` (uint8 mask) onto `reference_bgr`'s."""
    if cv2.countNonZero(region) < 16:
        return image_bgr
    image_lab = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2LAB)
    mean_image, std_image = (v.ravel() for v in cv2.meanStdDev(image_lab, mask=region))
    mean_reference, std_reference = (v.ravel() for v in cv2.meanStdDev(cv2.cvtColor(reference_bgr, cv2.COLOR_BGR2LAB), mask=region))
    spread = np.clip(std_reference / np.maximum(std_image, 1e-3), 0.5, 2.0)
    per_channel = np.zeros((3, 4), np.float64)
    per_channel[[0, 1, 2], [0, 1, 2]] = spread
    per_channel[:, 3] = mean_reference - spread * mean_image
    return cv2.cvtColor(cv2.transform(image_lab, per_channel), cv2.COLOR_LAB2BGR)  # saturating uint8


FEATURES = (np.arange(36, 42), np.arange(42, 48), np.arange(17, 22), np.arange(22, 27), np.arange(48, 60))  # eyes, brows, lips


def skin_region(region: np.ndarray, points_68: np.ndarray) -> np.ndarray:
    """`region` (uint8 mask) without the eyes, brows and lips (grown by a tenth of the eye distance): skin only."""
    skin = region.copy()
    eyes = float(np.linalg.norm(points_68[36:42].mean(axis=0) - points_68[42:48].mean(axis=0)))
    grow = max(1, int(round(0.1 * eyes)))
    features = np.zeros_like(region)
    for indexes in FEATURES:
        cv2.fillConvexPoly(features, cv2.convexHull(np.rint(points_68[indexes]).astype(np.int32)), 255)
    features = cv2.dilate(features, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    skin[features > 0] = 0
    return skin if cv2.countNonZero(skin) >= 16 else region


def masked_low_pass(channel: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution: the Gaussian (`sigma` px) mean of `channel` over `weight` (0..1), smooth everywhere.

    Pixels outside the weight do not pull the mean towards them, and the field continues smoothly past the
    weight's edge (it extends the nearby values), so a correction built from it has no step at the mask's edge.
    """
    spread = cv2.GaussianBlur(weight, (0, 0), sigma)
    return cv2.GaussianBlur(channel * weight, (0, 0), sigma) / np.maximum(spread, 1e-3)


def keep_target_shading(image_bgr: np.ndarray, target_bgr: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """The image's broad shading (Lab lightness, Gaussian low-pass at `sigma` px over `mask`) replaced by the target's.

    The source brings its identity detail (features, texture: the high frequencies); the light falling on the face
    (direction, stripes, shadows: the low frequencies) stays the target photo's. The correction is one smooth field
    over the whole crop (normalised convolution over the mask), applied everywhere, so it adds no edge of its own
    where the mask ends (a correction cut or faded at the mask's edge left a step across the forehead).
    """
    weight = (mask > 0).astype(np.float32)
    image_lab = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    target_l = cv2.cvtColor(target_bgr, cv2.COLOR_BGR2LAB)[..., 0].astype(np.float32)
    image_lab[..., 0] += masked_low_pass(target_l, weight, sigma) - masked_low_pass(image_lab[..., 0], weight, sigma)
    return cv2.cvtColor(np.clip(np.rint(image_lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def forehead_share(points_68: np.ndarray, size: tuple[int, int], start: float = 0.0, span: float = 0.06) -> np.ndarray:
    """Float map: 0 up to `start` x the chin-to-brow distance above the brows' mean level, 1 from `span` more above it."""
    brows = points_68[BROWS].mean(axis=0)
    up = brows - points_68[8]
    length = float(np.linalg.norm(up))
    if length < 1.0:
        return np.zeros((size[1], size[0]), np.float32)
    grid_x, grid_y = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    level = ((grid_x - brows[0]) * up[0] + (grid_y - brows[1]) * up[1]) / (length * length)
    ramp = np.clip((level - start) / span, 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def inner_ramp(mask: np.ndarray, reach: float) -> np.ndarray:
    """Float map: 0 on and outside the mask's edge, rising smoothly to 1 at `reach` px inside it."""
    inside = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 5)
    ramp = np.clip(inside / max(reach, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def mouth_weight(points_68: np.ndarray, size: tuple[int, int], reach: float) -> np.ndarray:
    """Float map: 1 inside the lips' outline, falling smoothly to 0 at `reach` x the mouth width outside it."""
    width, height = size
    lips: np.ndarray = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(lips, cv2.convexHull(np.rint(points_68[OUTER_LIPS]).astype(np.int32)), 255)
    outside = cv2.distanceTransform(255 - lips, cv2.DIST_L2, 5)
    scale = max(reach * float(np.linalg.norm(points_68[54] - points_68[48])), 1.0)
    ramp = np.clip(1.0 - outside / scale, 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def is_greyscale(image_bgr: np.ndarray, tolerance: float = 3.0) -> bool:
    """No pixel's channels differ by more than `tolerance` (0..255) at the 99th percentile: a black-and-white photo."""
    channels = image_bgr.astype(np.int16)
    spread = channels.max(axis=2) - channels.min(axis=2)
    return float(np.percentile(spread, 99)) <= tolerance


def to_greyscale(image_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def pyramid_blend(source_bgr: np.ndarray, destination_bgr: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    """Multi-band blend of two same-sized images through `mask` (float 0..1): each Laplacian band mixed by a blurred mask.

    Only the mask's bounding box, grown by the coarsest band's reach, is
    computed; elsewhere the destination comes back untouched.
    """
    ys, xs = np.nonzero(mask > 1e-3)
    if len(xs) == 0:
        return destination_bgr.copy()
    reach = 2 ** (levels + 1)
    height, width = mask.shape
    x1, y1 = max(int(xs.min()) - reach, 0), max(int(ys.min()) - reach, 0)
    x2, y2 = min(int(xs.max()) + reach + 1, width), min(int(ys.max()) + reach + 1, height)
    window = (slice(y1, y2), slice(x1, x2))
    result = destination_bgr.copy()
    result[window] = _blend_bands(source_bgr[window], destination_bgr[window], mask[window], levels)
    return result


def _blend_bands(source_bgr: np.ndarray, destination_bgr: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    source_level: np.ndarray = source_bgr.astype(np.float32)
    destination_level: np.ndarray = destination_bgr.astype(np.float32)
    mask_level: np.ndarray = mask
    bands: list[np.ndarray] = []
    for _ in range(levels):
        size = (source_level.shape[1], source_level.shape[0])
        smaller = cv2.pyrDown(source_level), cv2.pyrDown(destination_level), cv2.pyrDown(mask_level)
        source_band = source_level - cv2.pyrUp(smaller[0], dstsize=size)
        destination_band = destination_level - cv2.pyrUp(smaller[1], dstsize=size)
        bands.append(destination_band + (source_band - destination_band) * mask_level[..., None])
        source_level, destination_level, mask_level = smaller
    blended = destination_level + (source_level - destination_level) * mask_level[..., None]
    for band in reversed(bands):
        blended = cv2.pyrUp(blended, dstsize=(band.shape[1], band.shape[0])) + band
    return np.clip(blended + 0.5, 0, 255, out=blended).astype(np.uint8)


class MeshSwapper:
    """Classical landmark-mesh face swap (see the module docstring).

    `shape` (0..1) is how far the inner features move to the source's
    proportions for two faces in the same pose; `pose_falloff` (degrees of
    yaw/pitch difference) is where that reaches 0. `margin` pads the face
    box (fraction of the face's size), `forehead_lift` places the forehead
    row (fraction of the chin-to-brow distance above the brows), `inset`
    pulls the blend mask inside the face outline (fraction of the face
    width), `forehead_feather` is the band above the brows over which the
    source fades in (fraction of the chin-to-brow distance), `max_side`
    caps the crop so large faces stay fast.
    """

    name = "mesh"
    embedding_family = None
    embedding_size = None
    uses_weight = False
    pixel_boost = False  # a texture warp at the face resolution: --swap-resolution is refused
    resampling = "bicubic"  # the texture crop (families.py says so too)

    def __init__(
        self,
        shape: float = 1.0,
        pose_falloff: float = 90.0,
        margin: float = 0.15,
        forehead_lift: float = 0.3,
        inset: float = 0.02,
        brow_margin: float = 0.18,
        max_side: int = 768,
        hidden_start: float = 20.0,
        hidden_span: float = 20.0,
        shading_sigma: float = 0.12,
        forehead_feather: float = 0.11,
        mouth_reach: float = 0.25,
    ) -> None:
        self._mouth_reach = mouth_reach
        self._forehead_feather = forehead_feather
        self._shading_sigma = shading_sigma
        self._hidden_start = hidden_start
        self._hidden_span = hidden_span
        self._brow_margin = brow_margin
        self._shape = shape
        self._pose_falloff = pose_falloff
        self._margin = margin
        self._lift = forehead_lift
        self._inset = inset
        self._max_side = max_side

    def crop_transform(self, face: Face) -> tuple[np.ndarray, tuple[int, int]]:
        points_68 = _points_68(face, "target")
        points = np.vstack([points_68, forehead_points(points_68, self._lift)])
        low, high = points.min(axis=0), points.max(axis=0)
        pad = self._margin * float((high - low).max())
        x1, y1 = np.floor(low - pad)
        x2, y2 = np.ceil(high + pad)
        scale = min(1.0, self._max_side / max(x2 - x1, y2 - y1))
        matrix = np.array([[scale, 0.0, -x1 * scale], [0.0, scale, -y1 * scale]], dtype=np.float64)
        return matrix, (math.ceil((x2 - x1) * scale), math.ceil((y2 - y1) * scale))

    def swap(self, target: SwapTarget, source: SwapSource, weight: float = DEFAULT_WEIGHT) -> np.ndarray:
        if target.points_68 is None:
            raise FaceKitError("The mesh swapper needs 68 landmarks on every target face.", "Use a 68-point landmark model (dlib_68).")
        height, width = target.crop.shape[:2]
        source_image, source_68, source_pose = self.oriented_source(source, target.pose)
        shape = self._shape * pose_agreement(source_pose, target.pose, self._pose_falloff)
        keep_mouth = keeps_mouth(target.keep_mouth, np.asarray(target.points_68, dtype=np.float32))
        geometry = hybrid_geometry(target.points_68, source_68, shape, keep_mouth=keep_mouth)
        warped = self.warp_source(source_image, source_68, geometry, (width, height))
        warped = self.fill_hidden_half(warped, source_image, source_68, source_pose, geometry)
        mask = self.blend_mask(geometry, target.points_68, (width, height))
        own_pixels: np.ndarray | None = None
        if warped.shape[2] == 4:  # the source's own-pixel mask travelled as a fourth channel
            own_pixels = warped[..., 3] >= 128
            mask = np.where(own_pixels, mask, 0).astype(np.uint8)
            warped = np.ascontiguousarray(warped[..., :3])
        skin = skin_region(cv2.erode(mask, np.ones((5, 5), np.uint8)), geometry)
        coloured = transfer_lab_colour(warped, target.crop, skin)
        face_width = float(np.ptp(geometry[JAW, 0]))
        if self._shading_sigma > 0:
            coloured = keep_target_shading(coloured, target.crop, mask, self._shading_sigma * face_width)
        if own_pixels is not None:  # the target's own pixels stand in for the source's occluders, even in the blend's coarse bands
            coloured = np.where(own_pixels[..., None], coloured, target.crop)
        forehead = forehead_share(geometry, (width, height))
        # Above the brows the mask's edge cuts through skin: there the target's pixels stand in past the edge and
        # the source fades in over a band (no step across the forehead); along the jaw the edge stays crisp.
        coloured = np.where((mask[..., None] == 0) & (forehead[..., None] > 0.5), target.crop, coloured)
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(1.0, 0.01 * width))
        feather = self._forehead_feather * float(np.linalg.norm(geometry[BROWS].mean(axis=0) - geometry[8]))
        soft = soft + forehead * (inner_ramp(mask, feather) - soft)
        if keep_mouth:  # the target's own lips, teeth and smile, the source fading in around them
            soft *= 1.0 - mouth_weight(np.asarray(target.points_68, dtype=np.float32), (width, height), self._mouth_reach)
        blended = pyramid_blend(coloured, target.crop, soft, levels=_pyramid_levels(mask))
        return to_greyscale(blended) if is_greyscale(target.crop) else blended

    def oriented_source(self, source: SwapSource, target_pose: Pose | None) -> tuple[np.ndarray, np.ndarray, Pose | None]:
        """The source photo and points, mirrored when that turns the face the target's way.

        With a `face_mask` the photo gets it as a fourth channel (0 = not face:
        brim, hair, glasses), so it follows every warp and mirror of the pixels.
        """
        points = _points_68(source.face, "source")
        pose = source.face.pose
        image = source.image
        if source.face_mask is not None:
            content = np.clip(np.rint(source.face_mask * 255.0), 0, 255).astype(np.uint8)
            image = np.dstack([source.image, content])
        if not should_mirror(pose, target_pose):
            return image, points, pose
        assert pose is not None
        image, mirrored = mirror_face(image, points)
        return image, mirrored, Pose(yaw=-pose.yaw, pitch=pose.pitch, roll=-pose.roll)

    def fill_hidden_half(
        self, warped: np.ndarray, image: np.ndarray, source_68: np.ndarray, pose: Pose | None, geometry: np.ndarray
    ) -> np.ndarray:
        """For a turned source face, take its far (foreshortened) half from the mirrored near half."""
        amount, left = hidden_side(source_68, pose, self._hidden_start, self._hidden_span)
        if amount == 0.0:
            return warped
        height, width = warped.shape[:2]
        mirrored_image, mirrored_68 = mirror_face(image, source_68)
        from_mirror = self.warp_source(mirrored_image, mirrored_68, geometry, (width, height))
        feather = 0.08 * float(np.ptp(geometry[:17, 0]))
        weight = (amount * half_face_weight(geometry, (width, height), left, feather))[..., None]
        return np.clip(np.rint(warped + weight * (from_mirror.astype(np.float32) - warped)), 0, 255).astype(np.uint8)

    def warp_source(self, image: np.ndarray, source_68: np.ndarray, geometry: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The source face resampled onto the target geometry's mesh, in target-crop pixels."""
        to_source, _ = cv2.estimateAffinePartial2D(geometry, source_68, method=cv2.LMEDS)
        if to_source is None:
            raise FaceKitError("The source and target landmarks could not be matched.", "Use a clearer source photo.")
        border = border_points(*size).astype(np.float32)
        target_mesh = np.vstack([geometry, forehead_points(geometry, self._lift), border])
        source_mesh = np.vstack([source_68, forehead_points(source_68, self._lift), transform_points(border, to_source)])
        triangles = Delaunay(target_mesh).simplices
        affines = triangle_affines(target_mesh, source_mesh, triangles, fallback=to_source.T)
        table = np.concatenate([affines, to_source.T[None]])  # the last row: pixels no triangle covers
        ids = rasterise_triangles(target_mesh, triangles, size, fill=len(triangles))
        map_x, map_y = sampling_maps(ids, table, pixel_grid(*size))
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

    def blend_mask(self, geometry: np.ndarray, target_68: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """uint8 mask: the target's jaw with the new brows, pulled inside the outline, minus an open mouth's inside."""
        width, height = size
        outline = np.vstack([np.asarray(target_68, dtype=np.float32)[JAW], forehead_points(geometry, self._brow_margin)])
        mask: np.ndarray = np.zeros((height, width), dtype=np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(outline).astype(np.int32)), 255)
        inset = max(1, int(round(self._inset * float(np.ptp(outline[:, 0])))))
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1)))
        if mouth_is_open(np.asarray(target_68, dtype=np.float32)):
            cv2.fillPoly(mask, [np.rint(np.asarray(target_68)[INNER_LIPS]).astype(np.int32)], 0)
        return mask


def _pyramid_levels(mask: np.ndarray) -> int:
    """Enough bands that the coarsest one spans about a quarter of the face."""
    ys, xs = np.nonzero(mask)
    extent = max(int(np.ptp(xs)) if len(xs) else 0, 16)
    return int(np.clip(np.log2(extent / 8.0), 1, 6))


def _points_68(face: Face, role: str) -> np.ndarray:
    if face.landmarks_68 is None:
        raise FaceKitError(f"The mesh swapper needs 68 landmarks on the {role} face.", "Use a 68-point landmark model (dlib_68).")
    return np.asarray(face.landmarks_68, dtype=np.float32).reshape(68, 2)


def build_mesh_swapper(spec: AdapterSpec) -> MeshSwapper:
    swapper = MeshSwapper()
    swapper.resampling = spec.family_info.resampling
    return swapper
