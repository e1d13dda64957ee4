"""The contracts between jobs and adapters: one Protocol per task, plus the swap and frontalize data types.

The engine hands out adapters typed by these Protocols (`engine.detector(ref)`
-> :class:`Detector`, `engine.restorer(ref)` -> :class:`Restorer`, ...), after
checking that the model serves the task. Every image is a uint8 BGR array;
every crop is aligned to the adapter's `template` at `size` x `size` unless
the Protocol says otherwise. Nothing here imports an adapter module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from facekit.face.mask import FaceParse
from facekit.face.types import Face, Pose

DEFAULT_SWAP_WEIGHT = 0.5

#: (fraction 0..1, message) progress callback of a long adapter call.
StepProgress = Callable[[float, str], None]


@runtime_checkable
class Detector(Protocol):
    """Finds faces in a BGR uint8 image.

    Returns faces above `score_threshold` after non-maximum suppression at
    `nms_threshold` (IoU), at most `max_faces` of them (the highest scoring),
    ordered left to right. Boxes and 5 landmarks are in the input image's
    pixel coordinates. Scores are in 0..1.
    """

    def detect(
        self,
        image_bgr: np.ndarray,
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        max_faces: int | None = None,
    ) -> list[Face]: ...


@runtime_checkable
class Landmarker(Protocol):
    """Predicts a fixed number of landmarks (Kx2, image coordinates) for one face."""

    def landmarks(self, image_bgr: np.ndarray, face: Face) -> np.ndarray: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns each face of an image into an identity vector (one row per face)."""

    def embed(self, image_bgr: np.ndarray, face: Face) -> np.ndarray: ...

    def embed_faces(self, image_bgr: np.ndarray, faces: list[Face]) -> np.ndarray: ...

    def embed_batches(self, batches: list[tuple[np.ndarray, list[Face]]]) -> list[np.ndarray]:
        """Several (image, faces) pairs in as few model calls as possible; one array per pair."""
        ...


@runtime_checkable
class Restorer(Protocol):
    """Restores one aligned face crop (uint8 BGR, `size` x `size`, aligned to `template`).

    `fidelity` (0 = quality .. 1 = identity) is used by restorers whose model
    has a fidelity input (`takes_fidelity`), and ignored by the others.
    """

    template: str
    size: int
    takes_fidelity: bool

    def restore(self, crop_bgr: np.ndarray, fidelity: float = 0.5) -> np.ndarray: ...


@runtime_checkable
class Refiner(Protocol):
    """Refines a restored crop (same shape and dtype out), e.g. DifFace-style diffusion."""

    name: str

    def refine(
        self,
        crop_bgr: np.ndarray,
        start: int = ...,
        steps: int = ...,
        eta: float = ...,
        seed: int = 0,
        progress: StepProgress = ...,
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class SwapSource:
    """Who the source is: the photo and face it came from, and its identity vector when one was computed."""

    image: np.ndarray  # BGR uint8 photo holding `face`
    face: Face  # the chosen face, with 68 points when a landmarker ran
    embedding: np.ndarray | None = None  # L2-normalised vector of `Swapper.embedding_family` (mean of several photos, renormalised)
    face_mask: np.ndarray | None = None  # image-sized 0..1: 1 on the face's own pixels, 0 on occluders (texture swappers skip those)


MouthMode = Literal["open", "always", "never"]
MOUTH_MODES: tuple[MouthMode, ...] = ("open", "always", "never")


@dataclass(frozen=True)
class SwapTarget:
    """One target face, cropped by the swapper's `crop_transform` with its `resampling`."""

    crop: np.ndarray  # BGR uint8
    points_68: np.ndarray | None  # the face's 68 points in crop pixels, when known
    embedding: np.ndarray | None = None  # L2-normalised vector of the same family, given when the weight needs it
    pose: Pose | None = None  # the target face's head pose, when known
    keep_mouth: MouthMode = "open"  # the target's own mouth and expression: when open (default), always, or never


@runtime_checkable
class Swapper(Protocol):
    """What the swap job needs from a swap adapter.

    The job crops the target face with ``crop_transform`` (warped with
    ``resampling``, which the family table states), calls ``swap`` and pastes
    the result back through its mask.
    """

    name: str
    embedding_family: str | None  # SwapSource.embedding must come from this embed family (None: not needed)
    embedding_size: int | None  # ...and have this many values
    uses_weight: bool
    resampling: str  # "bilinear" | "bicubic": how the job warps the target crop
    pixel_boost: bool  # may the job run it on k*k interleaved 128 px sub-images of a k*128 crop (--swap-resolution)

    def crop_transform(self, face: Face) -> tuple[np.ndarray, tuple[int, int]]:
        """2x3 matrix from image to crop pixels, and the crop's (width, height)."""
        ...

    def swap(self, target: SwapTarget, source: SwapSource, weight: float = DEFAULT_SWAP_WEIGHT) -> np.ndarray:
        """The target crop with the source's identity (same shape, BGR uint8)."""
        ...


@dataclass(frozen=True)
class FrontalResult:
    """A frontal face on `template` at `size` x `size`, and what the frontalizer knows about it.

    `visibility` (HxW float32, 1 = seen in the photo, 0 = hidden) and
    `symmetric_fill` (HxW float32, the weight of the mirrored side in each
    output pixel) are None for frontalizers that cannot tell. `face_mask`
    (HxW float32) covers the face surface; `landmarks_68` are where the
    face's 68 points were placed in the output (the warp's own template, not
    a measurement). `fill_fraction` is the mean of `symmetric_fill` over the
    face mask.
    """

    image: np.ndarray
    template: str
    size: int
    pose: Pose
    fill_fraction: float
    face_mask: np.ndarray
    landmarks_68: np.ndarray | None = None
    visibility: np.ndarray | None = None
    symmetric_fill: np.ndarray | None = None
    triangle_visibility: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Frontalizer(Protocol):
    """Turns one face of a photo to a frontal view aligned to `template`."""

    template: str
    size: int

    def frontalize(
        self, image_bgr: np.ndarray, face: Face, size: int | None = None, face_content: np.ndarray | None = None
    ) -> FrontalResult:
        """`face_content` (image-sized 0..1; 0 on hair, hands, glasses over the face): pixels the symmetric fill must not mirror."""
        ...


@runtime_checkable
class Parser(Protocol):
    """Labels every pixel of one face with a CelebAMask-HQ class (the face warped onto `template` at `size`)."""

    name: str
    template: str
    size: int

    def parse(self, image_bgr: np.ndarray, face: Face) -> FaceParse: ...


#: task -> the Protocol its adapters satisfy (the engine's typed accessors check against it).
TASK_PROTOCOLS: dict[str, type] = {
    "detect": Detector,
    "landmarks": Landmarker,
    "embed": Embedder,
    "restore": Restorer,
    "diffusion": Refiner,
    "swap": Swapper,
    "frontalize": Frontalizer,
    "parse": Parser,
}
