"""Face masks: BiSeNet parse stand-ins (position- and colour-driven), region/occlusion masks after warp and paste-back,
occluders kept through swap and restore, the mesh swap's source-side occluders, and the offline skin-colour estimate."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest
from onnx import helper, numpy_helper

from facekit.adapters.inswapper import SwapSource, SwapTarget
from facekit.adapters.mesh import MeshSwapper
from facekit.adapters.parse import BiSeNetParser
from facekit.analysis import FaceAnalyser
from facekit.errors import FaceKitError, ModelUnavailableError
from facekit.face.align import transform_points
from facekit.face.mask import FACE_CLASSES, REGION_CLASSES, FaceParse, area_mask
from facekit.face.types import Face
from facekit.masking import MaskOptions, load_masker, parse_padding
from facekit.processors.common import FaceSelection
from facekit.processors.restore import RestoreOptions, RestorePipeline
from facekit.processors.swap import SwapOptions, swap_image
from standins import bisenet_blue_is_background, bisenet_position, image_tensor, position_classes, save_model

BLUE = (255, 0, 0)  # BGR: the colour stand-in's "not face"


def restorer_without_red(path):
    """GFPGAN's I/O; output = input with channel 0 (red, when fed RGB) at pixel 0: shows where a paste landed."""
    scale = numpy_helper.from_array(np.array([0, 1, 1], np.float32).reshape(1, 3, 1, 1), "scale")
    shift = numpy_helper.from_array(np.array([-1, 0, 0], np.float32).reshape(1, 3, 1, 1), "shift")
    nodes = [helper.make_node("Mul", ["input", "scale"], ["scaled"]), helper.make_node("Add", ["scaled", "shift"], ["output"])]
    return save_model(path, [image_tensor("input")], [image_tensor("output")], nodes, (scale, shift))


@pytest.fixture(scope="module")
def mask_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mask_models")
    return {
        "position": bisenet_position(folder / "bisenet_position.onnx"),
        "blue": bisenet_blue_is_background(folder / "bisenet_blue.onnx"),
        "no_red": restorer_without_red(folder / "gfpgan_no_red.onnx"),
    }


def hand_over(image: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """The image with an opaque blue ellipse over the face's left cheek and nose side; (image, hand mask bool)."""
    points = np.asarray(face.landmarks_68)
    centre = (points[2] * 0.45 + points[30] * 0.55).astype(int)
    axes = (int(0.2 * face.width), int(0.14 * face.height))
    hand = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(hand, tuple(int(v) for v in centre), axes, 20, 0, 360, 255, -1)
    covered = image.copy()
    covered[hand > 0] = BLUE
    return covered, hand > 0


# ------------------------------------------------------------------ the adapter
def test_parser_feeds_rgb_with_per_channel_imagenet_numbers(engine, mask_models) -> None:
    parser = engine.adapter_for_file(mask_models["position"], "bisenet")
    assert isinstance(parser, BiSeNetParser) and parser.size == 512 and parser.template == "ffhq_512"
    pixel = np.array([[[10, 100, 200]]], np.uint8)  # BGR
    expected = (np.array([200, 100, 10]) - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]
    np.testing.assert_allclose(parser.encode(pixel)[0, :, 0, 0], expected, rtol=1e-5)


def test_a_model_without_19_class_scores_is_refused(engine, tmp_path) -> None:
    wrong = save_model(tmp_path / "wrong.onnx", [image_tensor("input")], [image_tensor("output")],
                       [helper.make_node("Identity", ["input"], ["output"])])
    with pytest.raises(FaceKitError, match="19"):
        engine.adapter_for_file(wrong, "bisenet")


def test_class_map_pasted_back_follows_the_crop_geometry(engine, mask_models, t1, t1_faces) -> None:
    parser = engine.adapter_for_file(mask_models["position"], "bisenet")
    face = t1_faces[0]
    parse = parser.parse(t1, face)
    np.testing.assert_array_equal(parse.classes, position_classes())
    in_image = parse.in_image(t1.shape)
    ys, xs = np.mgrid[0 : t1.shape[0], 0 : t1.shape[1]]
    where = transform_points(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32), parse.matrix)
    inside = (where >= 1).all(axis=1) & (where <= 510).all(axis=1)
    blocks = np.floor(where[inside] / 64).astype(int)
    expected = (blocks[:, 0] + 8 * blocks[:, 1]) % 19
    away = (np.abs(where[inside] / 64 - np.rint(where[inside] / 64)) > 0.05).all(axis=1)  # not on a block edge
    assert away.sum() > 10_000
    np.testing.assert_array_equal(in_image.ravel()[inside][away], expected[away])


# ------------------------------------------------------------------ masks after warp and paste-back
def pasted_weight(original: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Where the no-red restorer's crop landed: 1 - red_after / red_before (where red was bright)."""
    return 1.0 - result[..., 2].astype(np.float32) / np.maximum(original[..., 2].astype(np.float32), 1.0)


@pytest.mark.parametrize("kind", ["region", "occlusion"])
def test_region_and_occlusion_masks_equal_the_known_class_map_after_paste_back(engine, mask_models, t1, t1_faces, kind) -> None:
    face = t1_faces[0]
    mask = MaskOptions(types=(kind,), regions=("skin", "nose", "hair"), blur=0.0, parser_file=mask_models["position"])
    options = RestoreOptions(model_file=mask_models["no_red"], blend=1.0, identity=False, mask=mask)
    result, _, used = RestorePipeline.from_engine(engine, options).restore_faces(t1, [face])
    assert used["mask"] == f"{kind} (parser file:bisenet_position.onnx)"
    parse = engine.adapter_for_file(mask_models["position"], "bisenet").parse(t1, face)
    classes = parse.in_image(t1.shape)
    if kind == "region":
        expected = np.isin(classes, [c for r in ("skin", "nose", "hair") for c in REGION_CLASSES[r]])
    else:
        inside = area_mask((t1.shape[1], t1.shape[0]), face.landmarks_68, ("face",), feather=0.0) > 0.5
        expected = ~(inside & ~np.isin(classes, FACE_CLASSES))
    crop_window = FaceParse(np.ones((512, 512), np.uint8), parse.matrix).in_image(t1.shape) > 0
    steady = cv2.erode(expected.astype(np.uint8), np.ones((5, 5))) | ~cv2.dilate(expected.astype(np.uint8), np.ones((5, 5))).astype(bool)
    check = crop_window & steady.astype(bool) & (t1[..., 2] > 40)
    assert check.sum() > 5_000
    weight = pasted_weight(t1, result)
    np.testing.assert_array_equal(weight[check] > 0.5, expected[check])


# ------------------------------------------------------------------ occluders stay
def test_a_hand_the_parser_calls_not_face_stays_pixel_identical_through_restore_and_swap(engine, mask_models, t1, t1_faces) -> None:
    face = t1_faces[0]
    covered, hand = hand_over(t1, face)
    mask = MaskOptions(parser_file=mask_models["blue"])  # automatic types: box+region+occlusion with a parser
    restore = RestoreOptions(model_file=mask_models["no_red"], blend=1.0, identity=False, mask=mask)
    restored, _, used = RestorePipeline.from_engine(engine, restore).restore_faces(covered, [face])
    assert used["mask"].startswith("box+region+occlusion")
    np.testing.assert_array_equal(restored[hand], covered[hand])
    cheek = (area_mask((t1.shape[1], t1.shape[0]), face.landmarks_68, ("face",), feather=0.0) > 0.5) & ~cv2.dilate(
        hand.astype(np.uint8), np.ones((15, 15))).astype(bool)
    assert (restored[cheek][:, 2] < covered[cheek][:, 2]).mean() > 0.9  # the rest of the face was restored
    swap = SwapOptions(faces=FaceSelection(mode="indexes", indexes=(0,)), mask=mask, identity=False)
    swapped = swap_image(engine, [t1], covered, swap)
    assert swapped.models["mask"].startswith("box+region+occlusion") and len(swapped.faces) == 1
    np.testing.assert_array_equal(swapped.image[hand], covered[hand])
    assert np.abs(swapped.image[cheek].astype(int) - covered[cheek]).mean() > 3  # the face itself was swapped


def test_region_mask_without_a_parser_says_what_to_do(engine) -> None:
    with pytest.raises(ModelUnavailableError, match="parser"):
        load_masker(engine, MaskOptions(types=("region",)))
    assert load_masker(engine, MaskOptions()).label == "box+area"


def test_mask_options_are_checked() -> None:
    assert parse_padding("10") == (10, 10, 10, 10) and parse_padding("0,5,10,0") == (0, 5, 10, 0)
    assert MaskOptions.from_text("box,area", "skin,nose", "face,mouth", 0.2, "5").areas == ("face", "mouth")
    for bad in (dict(types=("blob",)), dict(regions=("toes",)), dict(blur=2.0), dict(padding=(0, 0, 0, 120))):
        with pytest.raises(FaceKitError):
            MaskOptions(**bad)
    with pytest.raises(FaceKitError):
        parse_padding("1,2")


# ------------------------------------------------------------------ mesh swap: source occluders
def with_brim(image: np.ndarray, face: Face) -> np.ndarray:
    """A bright hat brim: a near-white band from just below the brows' top up over the forehead (lower hides the face from dlib)."""
    points = np.asarray(face.landmarks_68)
    brows = points[17:27]
    height = abs(float((brows.mean(axis=0) - points[8])[1]))
    bottom = float(brows[:, 1].min()) + 0.03 * height
    x1, x2 = points[:, 0].min() - 0.2 * face.width, points[:, 0].max() + 0.2 * face.width
    brimmed = image.copy()
    brimmed[int(bottom - 0.5 * height) : int(bottom), int(x1) : int(x2)] = (245, 250, 252)
    return brimmed


def forehead_band(face: Face, shape: tuple[int, ...]) -> np.ndarray:
    """The target's brows and lower forehead: from 5% below to 12% of the chin-to-brow distance above the brows."""
    points = np.asarray(face.landmarks_68)
    brows = points[17:27]
    up = brows.mean(axis=0) - points[8]
    band = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(band, [np.rint(np.vstack([brows - 0.05 * up, (brows + 0.12 * up)[::-1]])).astype(np.int32)], 1)
    return band > 0


def brighter(image: np.ndarray, reference: np.ndarray, where: np.ndarray) -> float:
    """Fraction of `where` over 25 grey levels brighter than `reference` (e.g. the same swap from the brim-less source)."""
    grey = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY).astype(int)  # noqa: E731
    return float(((grey(image) - grey(reference))[where] > 25).mean())


def test_mesh_swap_carries_no_hat_brim_from_the_source(engine, t1, t1_faces) -> None:
    target_face = t1_faces[0]
    brimmed = with_brim(t1, t1_faces[1])
    options = SwapOptions(source_index=1, faces=FaceSelection(mode="indexes", indexes=(0,)), identity=False)
    clean = swap_image(engine, [t1], t1, options).image
    result = swap_image(engine, [brimmed], t1, options)
    assert result.models["swapper"] == "mesh"
    band = forehead_band(target_face, t1.shape)
    # Where the brim hides the source's forehead the target's own forehead shows (the intended fill), which may be
    # brighter than the brim-less swap: a carried brim is brighter than both that swap and the target's own pixels.
    brim_lit = np.maximum(clean, t1)
    assert brighter(result.image, brim_lit, band) < 0.02, "brim pixels reached the target's forehead"  # measured 0.012
    # Without the source-side mask the same swap does carry the brim, so the test can see one.
    source_face = FaceAnalyser(engine).analyze(brimmed).faces[1]
    swapper = MeshSwapper()
    matrix, size = swapper.crop_transform(target_face)
    target = SwapTarget(
        crop=cv2.warpAffine(t1, matrix, size), points_68=transform_points(target_face.landmarks_68, matrix), embedding=None,
        pose=target_face.pose,
    )
    plain = swapper.swap(target, SwapSource(image=brimmed, face=source_face))
    band_crop = cv2.warpAffine(band.astype(np.uint8), matrix, size) > 0
    clean_crop = cv2.warpAffine(clean, matrix, size)
    assert brighter(plain, np.maximum(clean_crop, cv2.warpAffine(t1, matrix, size)), band_crop) > 0.05


# ------------------------------------------------------------------ offline occlusion estimate
def test_offline_occlusion_costs_under_0_3_db_without_occluders(engine, t1, t1_faces) -> None:
    from facekit.metrics import degrade, face_box_metrics

    # Face-box PSNR against the clean photo, classic restore: measured blur 30.340 vs 30.336 dB, noise 30.081 vs 30.081
    # (also jpeg 31.759 = 31.759, down4 29.830 vs 29.832; Tom_Hanks_54745.png: equal to 0.001 dB in all four).
    for kind in ("blur", "noise"):
        damaged = degrade(t1, kind)
        scores = {}
        for types in (("box", "area"), ("box", "area", "occlusion")):
            options = RestoreOptions(model="classic", blend=1.0, identity=False, mask=MaskOptions(types=types))
            restored, _, used = RestorePipeline.from_engine(engine, options).restore_faces(damaged, t1_faces)
            scores[types] = face_box_metrics(t1, restored, t1_faces)[0]
        assert used["mask"].endswith("box+area+occlusion (occlusion from skin colour, no parser)")
        assert scores[("box", "area")] > face_box_metrics(t1, damaged, t1_faces)[0] + 0.5  # the restore did something
        assert abs(scores[("box", "area")] - scores[("box", "area", "occlusion")]) < 0.3, (kind, scores)


def test_offline_occlusion_keeps_most_of_a_hand(engine, mask_models, t1, t1_faces) -> None:
    kept = []
    for face in t1_faces:
        covered, hand = hand_over(t1, face)
        mask = MaskOptions(types=("box", "area", "occlusion"))
        options = RestoreOptions(model_file=mask_models["no_red"], blend=1.0, identity=False, mask=mask)
        restored, _, _ = RestorePipeline.from_engine(engine, options).restore_faces(covered, [face])
        kept.append(float((restored[hand] == covered[hand]).all(axis=1).mean()))
    assert np.mean(kept) > 0.8, kept  # measured 1.0, 0.981, 1.0, 0.967, 0.965, 0.988 of each hand pixel-identical


# ------------------------------------------------------------------ CLI
def run_cli(engine, command: str, *argv: str) -> int:
    from facekit.commands.restore import register as register_restore
    from facekit.commands.swap import register as register_swap

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    register_restore(commands)
    register_swap(commands)
    args = parser.parse_args([command, *argv])
    return args.run(engine, args)


def test_cli_mask_flags_reach_restore_and_swap(engine, mask_models, t1, tmp_path, capsys) -> None:
    photo = tmp_path / "t1.png"
    cv2.imwrite(str(photo), t1[250:480, 0:620])
    flags = ("--mask", "box,region,occlusion", "--regions", "skin,nose", "--mask-blur", "0.2", "--mask-padding", "5",
             "--parser-file", str(mask_models["blue"]), "--no-identity", "--json")
    assert run_cli(engine, "restore", str(photo), "-o", str(tmp_path / "r.png"), "--model-file", str(mask_models["no_red"]), *flags) == 0
    assert run_cli(engine, "swap", str(photo), "--source", str(photo), "-o", str(tmp_path / "s.png"), *flags) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["models"]["mask"] for line in lines] == ["box+region+occlusion (parser file:bisenet_blue.onnx)"] * 2
    assert (tmp_path / "r.png").exists() and (tmp_path / "s.png").exists()
    with pytest.raises(FaceKitError, match="mask type"):
        run_cli(engine, "restore", str(photo), "-o", str(tmp_path / "x.png"), "--mask", "box,blob")


# ------------------------------------------------------------------ frontalization's symmetric fill
def test_frontalize_does_not_mirror_a_hand_into_the_hidden_half(engine, mask_models, t1, t1_faces) -> None:
    from facekit.adapters.geometric import GeometricFrontalizer
    from facekit.processors.frontalize import FrontalizeOptions, FrontalizePipeline

    face = max(t1_faces, key=lambda f: abs(f.pose.yaw))  # t1's face 4, yaw about -48 degrees
    points = np.asarray(face.landmarks_68)
    near_cheek = points[2] if points[30, 0] - points[0:4, 0].mean() > points[13:17, 0].mean() - points[30, 0] else points[14]
    covered, hand = t1.copy(), np.zeros(t1.shape[:2], np.uint8)
    axes = (int(0.12 * face.width), int(0.1 * face.height))
    cv2.ellipse(hand, tuple(int(v) for v in (near_cheek + points[30]) / 2), axes, 0, 0, 360, 255, -1)
    covered[hand > 0] = BLUE
    options = FrontalizeOptions(mask=MaskOptions(parser_file=mask_models["blue"]), measure=False)
    run = FrontalizePipeline.from_engine(engine, options).frontalize_faces(covered, [face])
    assert run.models["mirror_mask"] == "parser file:bisenet_blue.onnx"
    frontal = run.frontal[0]
    blue = lambda image: image[..., 0].astype(int) - image[..., 2] > 120  # noqa: E731
    mirrored = frontal.result.symmetric_fill > 0.3
    assert blue(frontal.image).sum() > 500 and (blue(frontal.image) & mirrored).sum() == 0  # measured 0 of 1887 blue pixels
    plain = GeometricFrontalizer().frontalize(covered, face, size=512)
    assert (blue(plain.image) & (plain.symmetric_fill > 0.3)).sum() > 500  # without the content mask the hand is mirrored


# ------------------------------------------------------------------ seams (issue 17.4; bench/bench_masks.py prints the table)
def test_seam_does_not_grow_against_the_masks_main_shipped(engine, t1, t1_faces, tmp_path) -> None:
    import sys

    from helpers import REPO

    sys.path.insert(0, str(REPO))
    from bench import bench_masks
    from facekit.masking import FaceMasker
    from facekit.metrics import face_regions

    swapper = engine.adapter_for_file(bench_masks.tinted_swapper(tmp_path / "tinted_swapper.onnx"), "inswapper")
    source = SwapSource(image=t1, face=t1_faces[0], embedding=np.full(512, 512 ** -0.5, np.float32))
    outside = ~face_regions(t1.shape, t1_faces)
    scores = {}
    for label, masker in (("default", FaceMasker(MaskOptions(), ("box", "area"))), ("legacy", bench_masks.LegacyMasker()),
                          ("box", FaceMasker(MaskOptions(), ("box",)))):
        result, weight, footprint = bench_masks.swap_with(masker, swapper, t1, t1_faces, source)
        scores[label] = bench_masks.scores(t1, result, weight, footprint & outside, len(t1_faces))
    # (seam mean, seam total per face, outside-the-faces PSNR), measured: default 571.6 / 2.82e6 / 63.6 dB,
    # legacy 627.6 / 3.10e6 / 100 dB, box 467.1 / 5.23e6 / 27.5 dB.
    assert scores["default"][0] <= scores["legacy"][0] and scores["default"][1] <= scores["legacy"][1]
    assert scores["default"][1] < scores["box"][1] and scores["default"][2] > scores["box"][2] + 20
    restorer = bench_masks.tinted_restorer(tmp_path / "tinted_restorer.onnx")
    restored = {types: bench_masks.restore_with(engine, restorer, types, t1, t1_faces) for types in (("box",), ("box", "area"))}
    totals = {types: bench_masks.scores(t1, *restored[types][:2], restored[types][2] & outside, 6) for types in restored}
    # restore: the old box 115.8 / 3.93e6 / 28.6 dB, the new box+area 206.8 / 2.36e6 / 68.9 dB (a narrower border: more
    # energy per border pixel, less in all, and the background kept)
    assert totals[("box", "area")][1] < totals[("box",)][1] and totals[("box", "area")][2] > totals[("box",)][2] + 20


def test_a_face_without_68_points_gets_the_box_and_a_warning(engine) -> None:
    from facekit.masking import FaceMasker

    face = Face(box=np.array([10, 10, 60, 60], np.float32), score=1.0, landmarks_5=np.zeros((5, 2), np.float32), index=3)
    masker = FaceMasker(MaskOptions(), ("box", "area"))
    mask = masker.crop_mask(np.zeros((100, 100, 3), np.uint8), face, np.eye(2, 3), (64, 64))
    box_only = FaceMasker(MaskOptions(), ("box",)).crop_mask(np.zeros((100, 100, 3), np.uint8), face, np.eye(2, 3), (64, 64))
    np.testing.assert_allclose(mask, box_only)
    assert masker.warnings([face]) == [
        "Face(s) 3 have no 68 landmarks, so their box+area mask used the box only "
        "(pick a 68-point landmark model, or a face parser for region/occlusion masks)."
    ]
