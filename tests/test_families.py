"""THE family table, the typed accessors, ModelRef and io roles (issue 11 items 1, 2, 4; 17.1)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facekit.adapters.families import FAMILIES, families_for, family_tasks
from facekit.adapters.registry import BUILDERS, mean_std
from facekit.adapters.restorers import PixelCoding
from facekit.commands.restore import RESTORE_FAMILIES
from facekit.commands.swap import SWAP_FAMILIES
from facekit.errors import FaceKitError, ManifestError
from facekit.face.align import RESAMPLING, TEMPLATES, crop_face
from facekit.manifest import DEFAULT_MANIFEST_PATH, FAMILY_TASKS, TEMPLATE_NAMES, InputSpec, load_manifest, parse_manifest
from facekit.model_ref import ModelRef
from facekit.processors.frontalize import FrontalizeOptions
from facekit.processors.restore import RestoreOptions
from facekit.processors.swap import SwapOptions

SHIPPED = load_manifest(DEFAULT_MANIFEST_PATH)


def test_every_list_derives_from_the_family_table() -> None:
    assert FAMILY_TASKS == family_tasks()
    assert BUILDERS == {name: family.builder for name, family in FAMILIES.items()}
    assert set(RESTORE_FAMILIES) == {"gfpgan", "codeformer"} == set(families_for("restore", model_file=True))
    assert set(SWAP_FAMILIES) == {"inswapper", "simswap"} == set(families_for("swap", model_file=True))
    assert TEMPLATE_NAMES == frozenset(TEMPLATES)
    assert "zip" not in FAMILIES and "bisenet" in FAMILIES


def test_every_manifest_family_is_in_the_table_and_archives_have_none() -> None:
    for entry in SHIPPED:
        if entry.is_archive:
            assert entry.family is None
        else:
            assert FAMILIES[entry.family or ""].task == entry.task


def test_learned_models_state_their_crop_resampling() -> None:
    """Issue 17.1: learned models get bilinear crops, as InsightFace / FaceFusion feed them."""
    for name in ("inswapper", "simswap", "gfpgan", "codeformer", "arcface"):
        assert FAMILIES[name].resampling == "bilinear"


def test_mean_std_keeps_every_channel() -> None:
    """Issue 11: a per-channel (ImageNet) mean/std in the manifest reaches all three channels."""
    imagenet = InputSpec(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
    mean, std = mean_std(imagenet, 127.5, 127.5)
    np.testing.assert_allclose(mean, [123.675, 116.28, 103.53], rtol=1e-6)
    np.testing.assert_allclose(std, [58.395, 57.12, 57.375], rtol=1e-6)
    mean, std = mean_std(InputSpec(), 127.5, 128.0)
    assert mean.shape == std.shape == (3,) and set(mean) == {127.5} and set(std) == {128.0}
    coding = PixelCoding(colour="rgb", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
    crop = np.full((4, 4, 3), (30, 60, 90), np.uint8)  # BGR
    blob = coding.encode(crop)
    np.testing.assert_allclose(blob[0, :, 0, 0], [(90 - 123.675) / 58.395, (60 - 116.28) / 57.12, (30 - 103.53) / 57.375], rtol=1e-5)
    assert np.array_equal(coding.decode(blob), crop)
    assert tuple(coding.decode(np.zeros_like(blob))[0, 0]) == (104, 116, 124)  # each channel's own mean, BGR


def _document(io: object, family: str = "codeformer") -> dict:
    entry = {
        "id": "m", "task": "restore", "family": family, "source": "url", "file": "m.onnx", "urls": ["https://example.org/m.onnx"],
        "sha256": "0" * 64, "licence": {"name": "MIT", "commercial": True}, "author": "x", "io": io,
    }
    return {"models": [entry]}


def test_io_names_roles_from_a_list_or_a_mapping() -> None:
    by_list = parse_manifest(_document({"inputs": ["in", "w"]})).get("m")
    by_map = parse_manifest(_document({"inputs": {"image": "in", "fidelity": "w"}})).get("m")
    assert by_list.io.inputs == by_map.io.inputs == {"image": "in", "fidelity": "w"}
    assert by_list.takes("fidelity")
    assert not parse_manifest(_document({}, family="gfpgan")).get("m").takes("fidelity")
    with pytest.raises(ManifestError, match="not a role of family 'codeformer'"):
        parse_manifest(_document({"inputs": {"image": "in", "strength": "w"}}))
    with pytest.raises(ManifestError, match="has 2 inputs"):
        parse_manifest(_document({"inputs": ["a", "b", "c"]}))


def test_model_ref_checks_once(tmp_path: Path) -> None:
    with pytest.raises(FaceKitError, match="Both a model id and a model file"):
        ModelRef(model_id="gfpgan_1.4", file=tmp_path / "x.onnx", family="gfpgan")
    assert ModelRef.of("", None, "gfpgan").is_best and ModelRef.of("", None, "gfpgan").family is None
    assert ModelRef.of(None, tmp_path / "x.onnx", "gfpgan").label == "file:x.onnx"
    with pytest.raises(FaceKitError, match="'inswapper' is a swap family, not a family of restore model files"):
        ModelRef.for_task("restore", file=tmp_path / "x.onnx", family="inswapper")
    with pytest.raises(FaceKitError, match="built-in family"):
        ModelRef.for_task("restore", file=tmp_path / "x.onnx", family="classic")


def test_options_validate_the_families_they_name(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    with pytest.raises(FaceKitError, match="'gfpgan' is a restore family, not a family of swap model files"):
        SwapOptions(model_file=model, family="gfpgan")
    with pytest.raises(FaceKitError, match="'inswapper' is a swap family, not a family of restore model files"):
        FrontalizeOptions(refine_file=model, refine_family="inswapper")
    with pytest.raises(FaceKitError, match="Use --family gfpgan or codeformer"):
        RestoreOptions(model_file=model, family="mesh")
    with pytest.raises(FaceKitError, match="Both a model id and a model file"):
        RestoreOptions(model="gfpgan_1.4", model_file=model)


def test_typed_accessors_check_the_task(engine) -> None:
    with pytest.raises(FaceKitError, match="does the task 'detect', not 'restore'"):
        engine.restorer("yunet_2023mar")
    with pytest.raises(FaceKitError, match="does the task 'swap', not 'restore'"):
        engine.restorer("mesh")
    assert engine.resolve("restore").model_id == "classic"  # the best ready one offline
    restorer = engine.restorer()
    assert restorer.template == "ffhq_512" and restorer.size == 512
    assert engine.swapper("mesh").resampling == "bicubic"
    assert engine.load("frontalize", "geometric") is engine.frontalizer(ModelRef(model_id="geometric"))


def test_learned_swapper_crop_is_bilinear_like_the_reference() -> None:
    """Issue 17.1: the inswapper input crop equals cv2.warpAffine with INTER_LINEAR (norm_crop2's default)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    angle = np.deg2rad(7.0)
    matrix = np.array([[0.61 * np.cos(angle), -0.61 * np.sin(angle), -40.3], [0.61 * np.sin(angle), 0.61 * np.cos(angle), -22.7]])
    crop = crop_face(image, matrix, (128, 128), RESAMPLING[FAMILIES["inswapper"].resampling])
    reference = cv2.warpAffine(image, matrix, (128, 128), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(crop, reference)
    bicubic = cv2.warpAffine(image, matrix, (128, 128), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    assert not np.array_equal(crop, bicubic)
