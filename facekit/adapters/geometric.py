"""The builtin `geometric` frontalizer: a 3D-guided warp with soft symmetry (no weights).

After Hassner et al., "Effective Face Frontalization in Unconstrained Images"
(CVPR 2015), as a sparse mesh (see shared/reference/frontalization.md):

1. Mesh (built once): InsightFace's symmetric 68x3 mean shape, 10 forehead
   points (the brows raised by 0.55 x the eye-to-chin height and pushed
   back), 14 cheek points (between the jaw and the eyes, nose and mouth,
   bulged like a round cheek) and 8 canvas border points, Delaunay-
   triangulated on the frontal template and wound so normals face the viewer.
   Triangles outside the face use a second copy of the jaw points: the jaw
   as detected (the silhouette), so the background beyond a turned-away
   cheek comes from beyond its outline.
2. Per face: head pose by solvePnP (:func:`facekit.face.pose.solve_head_pose`);
   the landmarks are lifted to 3D with the mean shape's depth, the far-side
   jaw (which slides along the silhouette) is replaced by the mirrored near
   side, and the shape is made left-right symmetric (weighted toward the side
   nearer the camera; partly below 40 degrees of yaw, so a near-frontal face
   keeps its own asymmetry). Its orthographic (x, y), placed by a similarity
   so the eye centres land on the output template (FFHQ-512 by default,
   mirror axis x = (W - 1) / 2), is the person's frontal template.
3. One affine per triangle (template -> photo) fills map_x / map_y through a
   triangle-id raster; one ``cv2.remap`` samples the photo (shrunk first when
   it is much larger than the output).
4. Visibility per triangle: v_n from the normal against the ray to it, v_z
   from the fraction that survives a far-to-near z-buffer drawn in the photo;
   pixels that fall off the photo count as unseen. Unseen parts take the
   mirror image with soft weights; detail switches sides over a narrow band,
   lighting over a wide one, and a low-frequency shading offset measured on
   the face where both sides were seen evens out the two sides' lighting.

Measured on this 2-core machine: 30 ms per face median (p90 35 ms) for a
512 output, 18 ms for 256 (bench/bench_frontalize.py). :class:`Frontalizer` is the seam a learned
frontalizer (an ONNX family) plugs into:
``frontalize(image_bgr, face, size) -> FrontalResult``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from facekit.adapters.base import FrontalResult
from facekit.adapters.registry import AdapterSpec, square_size
from facekit.errors import FaceKitError
from facekit.face.align import TEMPLATES
from facekit.face.piecewise import border_points, rasterise_triangles, sampling_maps, triangle_affines
from facekit.face.pose import MIRROR_68, HeadPose, far_jaw, mean_shape_3d, solve_head_pose
from facekit.face.types import Face

DEFAULT_TEMPLATE = "ffhq_512"
DEFAULT_SIZE = 512

_LANDMARKS = 68
_BROWS = tuple(range(17, 27))
_FOREHEAD_RAISE = 0.55  # forehead points sit this many eye-to-chin heights above the brows
_FOREHEAD_PUSHBACK = 0.3  # ... and this fraction of that raise further from the camera
# Cheek points: 0.4 of the way from a jaw point to an inner anchor, bulged outward and toward the
# viewer (a round cheek), so the cheek is not one flat triangle from the jaw to the eye.
_CHEEK_PAIRS_LEFT = ((1, 36), (2, 41), (3, 31), (4, 48), (5, 48), (6, 59), (7, 58))
_CHEEK_PAIRS = _CHEEK_PAIRS_LEFT + tuple((16 - jaw, MIRROR_68[anchor]) for jaw, anchor in _CHEEK_PAIRS_LEFT)
_CHEEK_FRACTION = 0.4
_CHEEK_BULGE = 0.15  # fraction of the jaw-to-anchor distance
_SURFACE_POINTS = _LANDMARKS + len(_BROWS) + len(_CHEEK_PAIRS)  # 92 points with a depth
_BORDER_POINTS = 8
_JAW = tuple(range(0, 17))
_JAW_SWAP_YAW = (10.0, 20.0)  # far-side jaw: detected below the first |yaw|, mirrored above the second
_FULL_SYMMETRY_YAW = 40.0  # the frontal template is made fully symmetric from this |yaw| on (partly below)
_NEAR_SIDE_SOFTNESS = 0.1  # mean-shape depth difference (units) that tips the symmetric template to one side
_NORMAL_VISIBLE = (0.10, 0.25)  # v_n = clip((cos - a) / b, 0, 1)
_ZBUFFER_VISIBLE = (0.3, 0.5)  # v_z = clip((f - a) / b, 0, 1)
_ZBUFFER_FACE_PX = 240  # the z-buffer is drawn with the face about this wide
_ANTIALIAS_RATIO = 1.5  # shrink the photo first when it is this much larger than the output
# Soft symmetry (sizes as fractions of the output width; computed on a 4x smaller grid).
_FILL_BLUR = 1.0 / 64.0  # visibility blur sigma
_MIRROR_MARGIN = 0.25  # the mirror is used in full only where it was seen this much better than the pixel itself
_LOW_BAND_BLUR = 1.0 / 48.0  # two-band blend: low band sigma
_WIDE_SHARE_BLUR = 1.0 / 24.0  # ... and the blur of the mirror share for that band
_SHADING_BLUR = 1.0 / 12.0  # spread of the shading offset
_SHADING_LIMIT = 60.0  # largest shading offset (grey levels)
_GRID_FACTOR = 4


# --------------------------------------------------------------------------- the seam


def build_geometric(spec: AdapterSpec) -> GeometricFrontalizer:
    template = spec.input.template or DEFAULT_TEMPLATE
    if template not in TEMPLATES:
        raise FaceKitError(
            f"Model {spec.model_id!r} asks for the alignment template {template!r}, which FaceKit does not know.",
            f"Use one of: {', '.join(TEMPLATES)}.",
        )
    return GeometricFrontalizer(template=template, size=square_size(spec.input, DEFAULT_SIZE))


# --------------------------------------------------------------------------- the mesh


@dataclass(frozen=True)
class FrontalMesh:
    """Triangles over 92 surface points, 8 canvas border points and 17 silhouette points.

    Template points: 0-67 landmarks, 68-77 forehead, 78-91 cheeks (all with a
    depth), 92-99 canvas border, 100-116 the jaw again as seen in the photo
    (the silhouette): triangles outside the face use those, so the background
    beyond a turned-away cheek comes from beyond the detected outline, while
    the face surface uses the jaw's 3D position, hidden behind the cheek.
    """

    mean_surface: np.ndarray  # 92x3, symmetric, OpenCV object frame
    mirror: np.ndarray  # 92 indices: each surface point's left-right partner
    triangles: np.ndarray  # Tx3 indices into the 117 template points
    surface: np.ndarray  # T bools: all three corners on the face surface


def surface_points(shape_68: np.ndarray) -> np.ndarray:
    """68x3 landmarks -> 92x3: the landmarks, 10 forehead points and 14 cheek points."""
    eye_y = shape_68[36:48, 1].mean()
    rise = _FOREHEAD_RAISE * (shape_68[8, 1] - eye_y)
    forehead = shape_68[list(_BROWS)] + np.array([0.0, -rise, _FOREHEAD_PUSHBACK * rise])
    return np.vstack([shape_68, forehead, cheek_points(shape_68)])


def cheek_points(shape_68: np.ndarray) -> np.ndarray:
    """Points between the jaw and the eyes, nose and mouth, bulged out in the x-z plane."""
    jaw = shape_68[[pair[0] for pair in _CHEEK_PAIRS]]
    anchor = shape_68[[pair[1] for pair in _CHEEK_PAIRS]]
    chord = anchor - jaw
    side = np.sign(jaw[:, 0] - anchor[:, 0])
    outward = np.column_stack([side * np.abs(chord[:, 2]), np.zeros(len(chord)), -np.abs(chord[:, 0])])
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-12)
    bulge = _CHEEK_BULGE * np.linalg.norm(chord, axis=1, keepdims=True)
    return jaw + _CHEEK_FRACTION * chord + bulge * outward


def surface_mirror() -> np.ndarray:
    """MIRROR_68 extended to the forehead points (which follow their brows) and the cheek points."""
    forehead = [_LANDMARKS + MIRROR_68[brow] - _BROWS[0] for brow in _BROWS]
    half = len(_CHEEK_PAIRS_LEFT)
    first_cheek = _LANDMARKS + len(_BROWS)
    cheeks = [first_cheek + (k + half) % (2 * half) for k in range(2 * half)]
    return np.array(list(MIRROR_68) + forehead + cheeks, dtype=np.intp)


def eye_targets(template: str, size: int) -> tuple[float, float, float]:
    """(axis x, eye y, eye distance) of `template` at `size`, made exactly left-right symmetric."""
    points = TEMPLATES[template].astype(np.float64) * size
    distance = float(np.linalg.norm(points[1] - points[0]))
    return (size - 1.0) / 2.0, float((points[0, 1] + points[1, 1]) / 2.0), distance


def place_frontal(surface: np.ndarray, template: str, size: int) -> np.ndarray:
    """Orthographic (x, y) of the surface points, scaled and shifted so the eye centres hit the template."""
    axis_x, eye_y, eye_distance = eye_targets(template, size)
    left, right = surface[36:42, :2].mean(axis=0), surface[42:48, :2].mean(axis=0)
    scale = eye_distance / float(np.linalg.norm(right - left))
    middle = (left + right) / 2.0
    return (surface[:, :2] - middle) * scale + np.array([axis_x, eye_y])


def delaunay(points: np.ndarray, size: int) -> np.ndarray:
    """Tx3 point indices of the Delaunay triangulation of points inside a `size` x `size` canvas."""
    subdivision = cv2.Subdiv2D((-1, -1, size + 2, size + 2))
    for x, y in points:
        subdivision.insert((float(x), float(y)))
    corners = np.asarray(subdivision.getTriangleList()).reshape(-1, 3, 2)
    inside = np.all((corners >= -1) & (corners <= size + 1), axis=(1, 2))  # drop the outer virtual vertices
    distances = np.linalg.norm(corners[inside][:, :, None, :] - points[None, None, :, :], axis=3)
    return np.argmin(distances, axis=2).astype(np.intp)


def build_frontal_mesh(template: str = DEFAULT_TEMPLATE) -> FrontalMesh:
    """Delaunay triangulation of the mean frontal template, wound so 3D normals face the viewer."""
    surface = surface_points(mean_shape_3d())
    size = DEFAULT_SIZE
    points = np.vstack([place_frontal(surface, template, size), border_points(size, size)])
    triangles = delaunay(points, size)
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    cross = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
    flip = cross > 0  # with y down, a negative 2D cross product gives a normal toward the camera (-z)
    triangles[flip] = triangles[flip][:, [0, 2, 1]]
    on_surface = np.all(triangles < _SURFACE_POINTS, axis=1)
    outside = triangles[~on_surface]
    on_jaw = outside < len(_JAW)
    outside[on_jaw] += _SURFACE_POINTS + _BORDER_POINTS  # jaw corners of outer triangles -> silhouette copies
    triangles[~on_surface] = outside
    surface.setflags(write=False)
    return FrontalMesh(mean_surface=surface, mirror=surface_mirror(), triangles=triangles, surface=on_surface)


# --------------------------------------------------------------------------- person-specific shape


@dataclass(frozen=True)
class FaceGeometry:
    """One face: its pose, the 3D points that sample the photo, and its frontal template."""

    head: HeadPose
    rotation: np.ndarray
    source_surface: np.ndarray  # 92x3 object points whose projections sample the photo
    frontal_surface: np.ndarray  # 92x3 symmetric person-specific shape


def lift_landmarks(landmarks_68: np.ndarray, head: HeadPose, rotation: np.ndarray) -> np.ndarray:
    """Back-project the landmarks at the mean shape's camera depth: Y = R^T (z K^-1 [u, v, 1] - t)."""
    depth = (mean_shape_3d() @ rotation.T + head.tvec)[:, 2]
    rays = np.column_stack([landmarks_68, np.ones(_LANDMARKS)]) @ np.linalg.inv(head.camera_matrix).T
    return (rays * depth[:, None] - head.tvec) @ rotation


def mirror_points(points: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Each point replaced by its partner reflected in the x = 0 plane."""
    return points[mirror] * np.array([-1.0, 1.0, 1.0])


def near_side_weights(rotation: np.ndarray) -> np.ndarray:
    """Weight of each point against its mirror partner: near 1 on the side nearer the camera, 0.5 on the midline."""
    depth = (mean_shape_3d() @ rotation.T)[:, 2]
    nearer_by = depth[list(MIRROR_68)] - depth
    return 1.0 / (1.0 + np.exp(-nearer_by / _NEAR_SIDE_SOFTNESS))


def face_geometry(landmarks_68: np.ndarray, image_size: tuple[int, int]) -> FaceGeometry:
    """Pose, lifted and jaw-corrected source points, and the symmetric frontal shape of one face."""
    head = solve_head_pose(landmarks_68, image_size)  # DegenerateFaceError for landmarks no pose fits
    rotation, _ = cv2.Rodrigues(head.rvec)
    lifted = lift_landmarks(np.asarray(landmarks_68, dtype=np.float64), head, rotation)
    mirror = np.asarray(MIRROR_68)
    mirrored = mirror_points(lifted, mirror)
    source = lifted.copy()
    swap = float(np.clip((abs(head.pose.yaw) - _JAW_SWAP_YAW[0]) / (_JAW_SWAP_YAW[1] - _JAW_SWAP_YAW[0]), 0.0, 1.0))
    jaw = list(far_jaw(rotation))
    source[jaw] = (1.0 - swap) * lifted[jaw] + swap * mirrored[jaw]
    weights = near_side_weights(rotation)[:, None]
    symmetric = weights * source + (1.0 - weights) * mirror_points(source, mirror)
    strength = min(abs(head.pose.yaw) / _FULL_SYMMETRY_YAW, 1.0)  # keep the person's own asymmetry when little is filled
    symmetric = (1.0 - strength) * source + strength * symmetric
    return FaceGeometry(
        head=head,
        rotation=rotation,
        source_surface=surface_points(source),
        frontal_surface=surface_points(symmetric),
    )


def project(points: np.ndarray, head: HeadPose) -> np.ndarray:
    projected, _ = cv2.projectPoints(points, head.rvec, head.tvec, head.camera_matrix, np.zeros(4))
    return projected.reshape(-1, 2)


def fit_affine(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 affine taking Nx2 `source` onto `target`."""
    design = np.column_stack([source, np.ones(len(source))])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return solution.T


# --------------------------------------------------------------------------- warp


def sample_photo(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, ratio: float) -> np.ndarray:
    """Remap the photo; when it is much larger than the output, shrink the needed region first (no aliasing)."""
    if ratio <= _ANTIALIAS_RATIO:
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    height, width = image.shape[:2]
    x1, y1 = max(int(np.floor(map_x.min())), 0), max(int(np.floor(map_y.min())), 0)
    x2, y2 = min(int(np.ceil(map_x.max())) + 2, width), min(int(np.ceil(map_y.max())) + 2, height)
    if x2 <= x1 or y2 <= y1:
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    region = image[y1:y2, x1:x2]
    small = cv2.resize(region, None, fx=1.0 / ratio, fy=1.0 / ratio, interpolation=cv2.INTER_AREA)
    scale_x, scale_y = small.shape[1] / region.shape[1], small.shape[0] / region.shape[0]
    return cv2.remap(
        small,
        ((map_x - x1 + 0.5) * scale_x - 0.5).astype(np.float32),
        ((map_y - y1 + 0.5) * scale_y - 0.5).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


# --------------------------------------------------------------------------- visibility


def inside_photo(map_x: np.ndarray, map_y: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """1 where an output pixel samples the photo, 0 where it falls off its edge (HxW float32)."""
    width, height = image_size
    inside = (map_x >= -0.5) & (map_x <= width - 0.5) & (map_y >= -0.5) & (map_y <= height - 0.5)
    return inside.astype(np.float32)


def normal_visibility(geometry: FaceGeometry, triangles: np.ndarray) -> np.ndarray:
    """v_n per surface triangle from the angle between its normal and the ray to it."""
    points = geometry.source_surface @ geometry.rotation.T + geometry.head.tvec  # camera frame
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    normals = np.cross(b - a, c - a)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    rays = (a + b + c) / 3.0
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    cosine = -np.sum(normals * rays, axis=1)
    low, span = _NORMAL_VISIBLE
    return np.clip((cosine - low) / span, 0.0, 1.0)


def zbuffer_visibility(geometry: FaceGeometry, source_points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """v_z per surface triangle: the fraction of it left after a far-to-near z-buffer in the photo."""
    points = source_points[:_SURFACE_POINTS]
    width = float(np.ptp(points[:, 0])) or 1.0
    scale = _ZBUFFER_FACE_PX / width
    origin = points.min(axis=0) - 2.0 / scale
    scaled = (points - origin) * scale
    canvas = (int(np.ceil(scaled[:, 0].max())) + 3, int(np.ceil(scaled[:, 1].max())) + 3)
    depth = (geometry.source_surface @ geometry.rotation.T + geometry.head.tvec)[:, 2]
    order = np.argsort(-depth[triangles].mean(axis=1), kind="stable")  # far first
    zbuffer = rasterise_triangles(scaled, triangles[order], canvas, fill=-1)
    survived = np.bincount(zbuffer[zbuffer >= 0].ravel(), minlength=len(order)).astype(np.float64)
    alone = own_pixel_counts(scaled, triangles[order])
    fraction = np.zeros(len(triangles))
    fraction[order] = survived / np.maximum(alone, 1.0)
    low, span = _ZBUFFER_VISIBLE
    return np.clip((fraction - low) / span, 0.0, 1.0)


def own_pixel_counts(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """How many pixels each triangle covers when drawn alone."""
    fixed = np.rint(points * 16.0).astype(np.int32)
    counts = np.zeros(len(triangles))
    for index, corners in enumerate(triangles):
        corner_points = fixed[corners]
        low = corner_points.min(axis=0) >> 4
        high = (corner_points.max(axis=0) >> 4) + 2
        patch = np.zeros((high[1] - low[1], high[0] - low[0]), dtype=np.uint8)
        cv2.fillConvexPoly(patch, corner_points - (low << 4), 1, lineType=cv2.LINE_8, shift=4)
        counts[index] = np.count_nonzero(patch)
    return counts


# --------------------------------------------------------------------------- soft symmetry


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def shading_offset(small: np.ndarray, both_seen: np.ndarray, sigma: float) -> np.ndarray:
    """Low-frequency (image - mirror image) where both sides were seen, spread smoothly everywhere."""
    spread_difference = _blur((small - small[:, ::-1]) * both_seen[..., None], sigma)
    spread_weight = _blur(both_seen, sigma)
    offset = spread_difference / np.maximum(spread_weight, 1e-3)[..., None]
    offset *= np.clip(spread_weight / 0.05, 0.0, 1.0)[..., None]  # fade out far from any evidence
    return np.clip(offset, -_SHADING_LIMIT, _SHADING_LIMIT)


def mirror_share(seen: np.ndarray, usable: np.ndarray | None = None) -> np.ndarray:
    """Share of the mirror image per pixel, from the blurred visibility V.

    w_own = V, w_mirror = (1 - V) * V_mirrored, the latter used only where the
    mirrored pixel was seen clearly better (two equally seen sides never mix).
    With `usable` (V times the face-content mask) a pixel is a mirror source
    only as far as it is the face's own skin, not hair or a hand over it.
    """
    seen_mirrored = (seen if usable is None else usable)[:, ::-1]
    mirror_weight = (1.0 - seen) * seen_mirrored * np.clip((seen_mirrored - seen) / _MIRROR_MARGIN, 0.0, 1.0)
    total = seen + mirror_weight
    return np.where(total >= 1e-3, mirror_weight / np.maximum(total, 1e-3), 0.0).astype(np.float32)


def soft_symmetric_fill(
    image: np.ndarray, visibility: np.ndarray, face_mask: np.ndarray, content: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(output, mirror share): hidden pixels taken from the mirror image, with no shading seam.

    With I the image, M its mirror, n the mirror share, w a wider blur of it,
    L a low-pass and o the shading offset (the low-frequency I - M measured on
    the face, never the background, where both sides were seen):
    out = I + n (M - I) + [(w - n) (L(M) - L(I)) + w o].
    Detail switches sides with n; lighting moves over the wider w. The
    bracket is smooth, so it is computed on a 4x smaller grid. `content`
    (0 on hair, hands, glasses over the face) keeps those from being mirrored.
    """
    size = image.shape[1]
    grid = size // _GRID_FACTOR
    small = cv2.resize(image, (grid, grid), interpolation=cv2.INTER_AREA).astype(np.float32)
    seen = _blur(cv2.resize(visibility, (grid, grid), interpolation=cv2.INTER_AREA), _FILL_BLUR * grid)
    usable, content_small = None, None
    if content is not None:
        content_small = np.clip(cv2.erode(cv2.resize(content, (grid, grid), interpolation=cv2.INTER_AREA), np.ones((3, 3), np.uint8)), 0, 1)
        usable = seen * content_small
    share_small = mirror_share(seen, usable)
    share = cv2.resize(share_small, (size, size), interpolation=cv2.INTER_LINEAR)
    wide = _blur(share_small, _WIDE_SHARE_BLUR * grid)
    if content_small is not None:
        wide *= content_small[:, ::-1]  # no lighting taken from a hand or hair on the other side either
    rows, columns = _touched(cv2.resize(np.maximum(share_small, wide), (size, size), interpolation=cv2.INTER_NEAREST))
    if rows.start >= rows.stop:
        return image.copy(), share
    mask = cv2.resize(face_mask, (grid, grid), interpolation=cv2.INTER_AREA)
    offset = shading_offset(small, seen * seen[:, ::-1] * mask * mask[:, ::-1], _SHADING_BLUR * grid)
    low = _blur(small, _LOW_BAND_BLUR * grid)
    lighting_small = (wide - share_small)[..., None] * (low[:, ::-1] - low) + wide[..., None] * offset
    lighting = cv2.resize(lighting_small, (size, size), interpolation=cv2.INTER_LINEAR)[rows, columns]
    region = image[rows, columns].astype(np.float32)
    detail = cv2.flip(image[rows, slice(size - columns.stop, size - columns.start)], 1).astype(np.float32)
    detail -= region
    detail *= cv2.merge([share[rows, columns]] * 3)
    region += detail
    region += lighting
    output = image.copy()
    output[rows, columns] = cv2.add(region, 0.0, dtype=cv2.CV_8U)
    return output, share


def _touched(weight: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of the box where `weight` is not negligible."""
    rows = np.flatnonzero((weight > 1e-3).any(axis=1))
    columns = np.flatnonzero((weight > 1e-3).any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(columns[0]), int(columns[-1]) + 1)


# --------------------------------------------------------------------------- the adapter


class GeometricFrontalizer:
    """3D-guided frontalization on `template` (FFHQ-512 by default); no model file."""

    def __init__(self, template: str = DEFAULT_TEMPLATE, size: int = DEFAULT_SIZE) -> None:
        self.template = template
        self.size = size
        self.mesh = build_frontal_mesh(template)
        self._grids: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def frontalize(
        self, image_bgr: np.ndarray, face: Face, size: int | None = None, face_content: np.ndarray | None = None
    ) -> FrontalResult:
        """`face_content` (image-sized 0..1, 0 on hair, hands, glasses, background over the face) keeps those
        pixels from being mirrored into the other half."""
        if face.landmarks_68 is None:
            raise FaceKitError(
                "Geometric frontalization needs the face's 68 landmarks, and this face has none.",
                "Use the dlib_hog detector or pick a 68-point landmark model (dlib_68, 1k3d68).",
            )
        size = size or self.size
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        height, width = image_bgr.shape[:2]
        geometry = face_geometry(face.landmarks_68, (width, height))
        clock = _lap(timings, "pose", clock)
        frontal = place_frontal(geometry.frontal_surface, self.template, size)
        target = np.vstack([frontal, border_points(size, size), frontal[list(_JAW)]])
        source_surface = project(geometry.source_surface, geometry.head)
        border = self._border_sources(frontal, source_surface, geometry, size)
        silhouette = np.asarray(face.landmarks_68, dtype=np.float64)[list(_JAW)]
        source = np.vstack([source_surface, border, silhouette])
        ids = rasterise_triangles(target, self.mesh.triangles, (size, size), fill=len(self.mesh.triangles))
        clock = _lap(timings, "template", clock)
        affines = triangle_affines(target, source, self.mesh.triangles)
        border_slice = slice(_SURFACE_POINTS, _SURFACE_POINTS + _BORDER_POINTS)
        outside = fit_affine(target[border_slice], source[border_slice]).T[None]
        map_x, map_y = sampling_maps(ids, np.concatenate([affines, outside]), self._grid(size))
        warped = sample_photo(image_bgr, map_x, map_y, self._photo_ratio(source, target))
        clock = _lap(timings, "warp", clock)
        triangle_visibility = self._triangle_visibility(geometry, source)
        visibility = np.take(np.append(triangle_visibility, 1.0).astype(np.float32), ids)
        visibility *= inside_photo(map_x, map_y, (width, height))
        clock = _lap(timings, "visibility", clock)
        face_mask = np.take(np.append(self.mesh.surface, False), ids).astype(np.float32)
        content = None
        if face_content is not None:
            content = cv2.remap(
                face_content.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1.0
            )
        image, share = soft_symmetric_fill(warped, visibility, face_mask, content)
        _lap(timings, "fill", clock)
        return FrontalResult(
            image=image,
            template=self.template,
            size=size,
            pose=geometry.head.pose,
            fill_fraction=float((share * face_mask).sum() / max(face_mask.sum(), 1.0)),
            face_mask=face_mask,
            landmarks_68=target[:_LANDMARKS].astype(np.float32),
            visibility=visibility,
            symmetric_fill=share,
            triangle_visibility=triangle_visibility,
            timings_ms=timings,
        )

    def _border_sources(self, target: np.ndarray, source_surface: np.ndarray, geometry: FaceGeometry, size: int) -> np.ndarray:
        """Border points follow an affine fitted on the inner landmarks (far-side jaw left out)."""
        hidden = set(far_jaw(geometry.rotation))
        inner = [i for i in range(_LANDMARKS) if i not in hidden]
        affine = fit_affine(target[inner], source_surface[inner])
        border = border_points(size, size)
        return border @ affine[:, :2].T + affine[:, 2]

    def _triangle_visibility(self, geometry: FaceGeometry, source: np.ndarray) -> np.ndarray:
        surface_triangles = self.mesh.triangles[self.mesh.surface]
        normal = normal_visibility(geometry, surface_triangles)
        occlusion = zbuffer_visibility(geometry, source, surface_triangles)
        visibility = np.ones(len(self.mesh.triangles))
        visibility[self.mesh.surface] = normal * occlusion
        return visibility

    def _grid(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if size not in self._grids:
            xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
            self._grids[size] = (xs, ys)
        return self._grids[size]

    @staticmethod
    def _photo_ratio(source: np.ndarray, target: np.ndarray) -> float:
        """How many photo pixels one output pixel spans (eye distance ratio)."""
        def eye_distance(points: np.ndarray) -> float:
            return float(np.linalg.norm(points[42:48].mean(axis=0) - points[36:42].mean(axis=0)))

        return eye_distance(source) / max(eye_distance(target), 1e-6)


def _lap(timings: dict[str, float], key: str, started: float) -> float:
    now = time.perf_counter()
    timings[key] = round((now - started) * 1000.0, 2)
    return now
