"""Paste masks compared (issue 17.4): seam energy along the mask border and preservation outside the faces.

Run from the repository root:  python -m bench.bench_masks

On the packaged photos (t1.jpg, six faces; Tom_Hanks_54745.png, one), each
face is swapped with an inswapper stand-in (the real file cannot be
downloaded) whose output is the target crop with a colour cast (+25/+15/+5
grey levels in R/G/B) - like a learned swapper it changes the whole crop,
background included - and restored with a GFPGAN stand-in doing the same. The swapped/restored crops are pasted through each mask:

- swap: `box` (FaceFusion's default), `box+area` (FaceKit's default: the box
  cut to the landmark face area) and `legacy` (the hull-cut box main shipped
  before the masks work: jaw+brows hull and mouth hull, no nose push-out);
- restore: `box` (the old restore mask) and `box+area` (the new default).

Columns: seam = mean added gradient energy |grad result|^2 - |grad original|^2
over the band where the image-space paste weight is 0.05..0.95 (lower is
better; 0 = the border is invisible), as the band's mean and its sum per face; outside = PSNR over the pixels inside the
pasted crops but outside every face (68-point hull with the forehead, grown by
10% of the face width; higher is better, 100 = untouched).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import insightface
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facekit.adapters.inswapper import SwapSource
from facekit.analysis import FaceAnalyser
from facekit.engine import Engine, EngineConfig
from facekit.face.align import paste_face
from facekit.face.mask import FOREHEAD_LIFT, HULL_FEATHER, box_mask, combine_masks, landmark_hull_mask
from facekit.face.types import Face
from facekit.masking import FaceMasker, MaskOptions, image_mask, load_masker
from facekit.metrics import face_regions, outside_psnr, seam_energy
from facekit.processors.restore import RestoreOptions, RestorePipeline
from facekit.processors.swap import SwapOptions, swap_one_face

SAMPLES = Path(insightface.__file__).parent / "data" / "images"
PHOTOS = ("t1.jpg", "Tom_Hanks_54745.png")
TINT = np.array([0.1, 0.06, 0.02], np.float32)  # RGB, 0..1 units: about +25/+15/+5 grey levels


def _save(path: Path, inputs: list, outputs: list, nodes: list, initializers: list) -> Path:
    model = helper.make_model(helper.make_graph(nodes, path.stem, inputs, outputs, initializer=initializers),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _tint_nodes(source: str, output: str, offset: np.ndarray) -> tuple[list, list]:
    """output = source + offset per channel (a colour cast: warmer, brighter)."""
    nodes = [helper.make_node("Add", [source, "offset"], [output])]
    return nodes, [numpy_helper.from_array(np.asarray(offset, np.float32).reshape(1, 3, 1, 1), "offset")]


def tinted_swapper(path: Path) -> Path:
    """inswapper's I/O (`target` [1,3,128,128], `source` [1,512] -> `output`), emap last; output = target + a colour cast."""
    nodes, constants = _tint_nodes("target", "output", TINT)
    emap = numpy_helper.from_array(np.eye(512, dtype=np.float32), "emap")
    inputs = [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
              helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])]
    return _save(path, inputs, [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])], nodes, [*constants, emap])


def tinted_restorer(path: Path) -> Path:
    """GFPGAN's I/O (`input` -> `output` [1,3,512,512], in -1..1); output = input + the same colour cast."""
    nodes, constants = _tint_nodes("input", "output", TINT * 2)  # -1..1 units
    image = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, 512, 512]) for name in ("input", "output")]
    return _save(path, image[:1], image[1:], nodes, constants)


class LegacyMasker:
    """The swap paste mask as main shipped it before the masks work (db0814a `processors/swap.py:swap_mask`)."""

    label = "legacy"

    def crop_mask(self, image: np.ndarray, face: Face, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        from facekit.face.align import transform_points

        shrink = max(1, round(min(size) / 160))
        small = (max(1, round(size[0] / shrink)), max(1, round(size[1] / shrink)))
        points = transform_points(face.landmarks_68, matrix) * np.float32(small[0] / size[0])
        raised = points.copy()
        raised[17:27] += FOREHEAD_LIFT * (points[17:27].mean(axis=0) - points[8])
        feather = HULL_FEATHER * float(np.ptp(points[:17, 0])) / small[0]
        hull = np.maximum(landmark_hull_mask(small, raised, "face", feather), landmark_hull_mask(small, points, "mouth", feather))
        mask = combine_masks(box_mask(small, blur=0.3), hull)
        return mask if small == size else cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)


def swap_with(
    masker: object, swapper: object, image: np.ndarray, faces: list[Face], source: SwapSource
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(result, paste weight, crop footprint) of swapping every face through `masker`."""
    result, weight, footprint = image, np.zeros(image.shape[:2], np.float32), np.zeros(image.shape[:2], bool)
    white = np.full_like(image, 255)
    for face in faces:
        matrix, size = swapper.crop_transform(face)  # type: ignore[attr-defined]
        mask = masker.crop_mask(result, face, matrix, size)  # type: ignore[attr-defined]
        result = swap_one_face(swapper, result, face, source, None, SwapOptions(), masker)  # type: ignore[arg-type]
        crop_white = np.full((size[1], size[0], 3), 255, np.uint8)
        weight = np.maximum(weight, paste_face(np.zeros_like(image), crop_white, matrix, mask)[..., 0] / 255.0)
        footprint |= paste_face(np.zeros_like(white), crop_white, matrix, np.ones(mask.shape, np.float32))[..., 0] > 0
    return result, weight, footprint


def restore_with(
    engine: Engine, model: Path, types: tuple[str, ...], image: np.ndarray, faces: list[Face]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    options = RestoreOptions(model_file=model, blend=0.8, identity=False, mask=MaskOptions(types=types))
    result, _, _ = RestorePipeline.from_engine(engine, options).restore_faces(image, faces)
    masker = load_masker(engine, options.mask)
    weights = [image_mask(masker, image, face) * 0.8 for face in faces]
    footprint = np.maximum.reduce([image_mask(FaceMasker(MaskOptions(), ("box",)), image, face) for face in faces]) > 0
    return result, np.maximum.reduce(weights), footprint


def scores(image: np.ndarray, result: np.ndarray, weight: np.ndarray, outside: np.ndarray, faces: int) -> tuple[float, float, float]:
    """(seam mean, seam total per face, outside PSNR)."""
    total = seam_energy(image, result, weight, total=True) / max(faces, 1)
    return seam_energy(image, result, weight), total, outside_psnr(image, result, outside)


def main() -> None:
    engine = Engine(EngineConfig(models_dir=Path(tempfile.mkdtemp()), offline=True))
    analyser = FaceAnalyser(engine)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        swapper = engine.adapter_for_file(tinted_swapper(Path(folder) / "tinted_swapper.onnx"), "inswapper")
        restorer = tinted_restorer(Path(folder) / "tinted_restorer.onnx")
        for name in PHOTOS:
            image = cv2.imread(str(SAMPLES / name))
            faces = analyser.analyze(image).faces
            source = SwapSource(image=image, face=faces[0], embedding=np.full(512, 512 ** -0.5, np.float32))
            outside_faces = ~face_regions(image.shape, faces)
            for label, masker in (("box", FaceMasker(MaskOptions(), ("box",))), ("box+area", FaceMasker(MaskOptions(), ("box", "area"))),
                                  ("legacy", LegacyMasker())):
                result, weight, footprint = swap_with(masker, swapper, image, faces, source)
                rows.append(("swap", name, label, *scores(image, result, weight, footprint & outside_faces, len(faces))))
                cv2.imwrite(f"{tempfile.gettempdir()}/bench_masks_swap_{label}_{Path(name).stem}.png", result)
            for types in (("box",), ("box", "area")):
                result, weight, footprint = restore_with(engine, restorer, types, image, faces)
                rows.append(("restore", name, "+".join(types), *scores(image, result, weight, footprint & outside_faces, len(faces))))
    print(f"{'job':8} {'photo':22} {'mask':9} {'seam mean':>10} {'seam total/face':>16} {'outside dB':>11}")
    for job, name, label, seam, seam_total, outside in rows:
        print(f"{job:8} {name:22} {label:9} {seam:10.1f} {seam_total:16.3g} {outside:11.2f}")


if __name__ == "__main__":
    main()
