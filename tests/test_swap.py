"""The swap job by contract: inswapper stand-in ONNX files with the real model's I/O, errors, and the CLI batch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from facekit.adapters.inswapper import InSwapper, SwapSource, SwapTarget, weight_alpha
from facekit.analysis import EmbedderChoice, FaceAnalyser
from facekit.cli_support import add_global_flags, engine_from_args
from facekit.commands.swap import register
from facekit.engine import Engine, EngineConfig
from facekit.errors import FaceKitError, ModelLoadError, ModelUnavailableError, NoFaceError
from facekit.face.identity import l2_normalise
from facekit.face.types import Face
from facekit.processors.common import FaceSelection
from facekit.processors.swap import SwapOptions, parse_face_map, prepare_sources, swap_image
from helpers import insightface_image
from standins import INSWAPPER_SIZE, fake_arcface, gfpgan_negative, identity_swapper, random_emap, save_model, swapper_io

T1 = insightface_image("t1.jpg")
TOM = insightface_image("Tom_Hanks_54745.png")
SIZE = INSWAPPER_SIZE


# ------------------------------------------------------------------ stand-in models
def probe_swapper(path: Path, width: int, float16: bool = False) -> Path:
    """Output channel 0 (R) = 0.5 + source/2 laid out row by row; channel 1 (G) = input channel 0; channel 2 (B) = 0."""
    dtype, np_type = (TensorProto.FLOAT16, np.float16) if float16 else (TensorProto.FLOAT, np.float32)
    inputs, outputs = swapper_io(width, dtype)
    constants = [
        numpy_helper.from_array(np.array([0, 0, 0, SIZE * SIZE - width], np.int64), "pads"),
        numpy_helper.from_array(np.array([1, 1, SIZE, SIZE], np.int64), "plane"),
        numpy_helper.from_array(np.array(0.5, np_type), "half"),
        numpy_helper.from_array(np.array(0.0, np_type), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "first"),
        numpy_helper.from_array(np.array([1], np.int64), "second"),
        numpy_helper.from_array(np.array([1], np.int64), "axis"),
        numpy_helper.from_array(random_emap(width, seed=1), "emap"),
    ]
    nodes = [
        helper.make_node("Pad", ["source", "pads"], ["padded"]),
        helper.make_node("Reshape", ["padded", "plane"], ["flat"]),
        helper.make_node("Mul", ["flat", "half"], ["scaled"]),
        helper.make_node("Add", ["scaled", "half"], ["red"]),
        helper.make_node("Slice", ["target", "first", "second", "axis"], ["green"]),
        helper.make_node("Mul", ["green", "zero"], ["blue"]),
        helper.make_node("Concat", ["red", "green", "blue"], ["output"], axis=1),
    ]
    return save_model(path, inputs, outputs, nodes, constants)


def decode_probe(crop_bgr: np.ndarray, width: int) -> np.ndarray:
    """The `source` vector the probe model saw, read back from its output's red channel."""
    return (crop_bgr[..., 2].astype(np.float64).ravel()[:width] / 255.0 - 0.5) * 2.0


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def swap_models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("swap_models")
    identity_swapper(folder / "identity_128.onnx", width=128)
    identity_swapper(folder / "identity_512.onnx", width=512)
    identity_swapper(folder / "identity_512_fp16.onnx", width=512, float16=True)
    probe_swapper(folder / "probe_128.onnx", width=128)
    probe_swapper(folder / "probe_512_fp16.onnx", width=512, float16=True)
    fake_arcface(folder / "fake_arcface_512.onnx")
    return folder


@pytest.fixture(scope="module")
def mobilefacenet_choice(shared_models) -> EmbedderChoice:
    return EmbedderChoice(file=shared_models / "mobilefacenet_test.onnx", family="arcface")


def inswapper_options(model: Path, embedder: EmbedderChoice, **kwargs) -> SwapOptions:
    return SwapOptions(model_file=model, family="inswapper", source_embedder=embedder, **kwargs)


def face_boxes_psnr(original: np.ndarray, result: np.ndarray, faces: list) -> float:
    regions = []
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        regions.append((original[y1:y2, x1:x2], result[y1:y2, x1:x2]))
    before = np.concatenate([r[0].reshape(-1, 3) for r in regions])
    after = np.concatenate([r[1].reshape(-1, 3) for r in regions])
    return float(peak_signal_noise_ratio(before, after, data_range=255))


# ------------------------------------------------------------------ inswapper contract
@pytest.mark.parametrize(
    ("model", "embedder"),
    [
        ("identity_128.onnx", "mobilefacenet"),
        ("identity_512.onnx", "fake_arcface_512.onnx"),
        ("identity_512_fp16.onnx", "fake_arcface_512.onnx"),
    ],
)
def test_identity_standin_returns_the_target_nearly_unchanged(
    mirrored_engine, swap_models, mobilefacenet_choice, t1, tom, model, embedder
) -> None:
    choice = mobilefacenet_choice if embedder == "mobilefacenet" else EmbedderChoice(file=swap_models / embedder, family="arcface")
    result = swap_image(mirrored_engine, [tom], t1, inswapper_options(swap_models / model, choice))
    assert len(result.faces) == 6
    assert result.models["swapper"] == f"file:{model}"
    assert result.models["identity_embedder"] == "dlib_resnet"  # not the ArcFace model that fed the swapper
    # Measured with the bilinear crop inswapper was trained on (InsightFace/FaceFusion, issue 17.1) and a bilinear
    # paste back: 39.96-40.71 dB per face box at 128 (bicubic crops gave 42.6-43.8 dB, but not the model's input).
    psnrs = [face_boxes_psnr(t1, result.image, [face]) for face in result.faces]
    print("identity stand-in face-box PSNR dB:", [round(v, 2) for v in psnrs])
    assert min(psnrs) > 39.0
    for face in result.face_dicts():
        assert face["source_distance"] > 0.6  # dlib distance (measured 0.72-0.85): still the original person...
        assert face["target_distance"] < 0.15  # ...nearly identical to itself (measured 0.05-0.09)
        assert face["closer_to_source"] is False


def test_probe_standin_sees_emb_times_emap_over_norm(mirrored_engine, swap_models, mobilefacenet_choice, tom) -> None:
    swapper = mirrored_engine.adapter_for_file(swap_models / "probe_128.onnx", "inswapper")
    assert isinstance(swapper, InSwapper) and swapper.embedding_size == 128
    analyser = FaceAnalyser(mirrored_engine)
    face = analyser.analyze(tom).faces[0]
    raw = analyser.embed(tom, [face], mobilefacenet_choice)[0].vector * 3.0  # any scale: the conversion divides by ||emb||
    emap = numpy_helper.to_array(onnx.load(swap_models / "probe_128.onnx").graph.initializer[-1])
    expected = raw @ emap / np.linalg.norm(raw)
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    seen = decode_probe(swapper.swap(SwapTarget(crop=crop, points_68=None), SwapSource(image=tom, face=face, embedding=raw)), 128)
    assert np.abs(seen - expected).max() < 0.005  # 8-bit output: 1/255 per step of 2/255
    wrong = raw @ emap / np.linalg.norm(raw @ emap)  # InsightFace's own normalisation differs measurably here
    assert np.abs(seen - wrong).max() > 0.05


def test_weight_mixes_the_target_in_after_the_emap_projection_as_facefusion(mirrored_engine, swap_models) -> None:
    """Issue 17.3: latent = (1 - a) * (unit source @ emap) + a * unit target (FaceFusion's balance_source_embedding)."""
    swapper = mirrored_engine.adapter_for_file(swap_models / "probe_128.onnx", "inswapper")
    emap = numpy_helper.to_array(onnx.load(swap_models / "probe_128.onnx").graph.initializer[-1])
    rng = np.random.default_rng(5)
    source, target = rng.normal(size=128) * 0.2, rng.normal(size=128) * 4.0  # any scales: both are normalised
    assert weight_alpha(0.0) == pytest.approx(0.35) and weight_alpha(0.5) == 0.0 and weight_alpha(1.0) == pytest.approx(-0.35)
    face = Face(box=np.zeros(4), score=1.0, landmarks_5=np.zeros((5, 2)))
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    for weight in (0.2, 0.5, 0.8):
        alpha = weight_alpha(weight)
        after = (1 - alpha) * (l2_normalise(source) @ emap) + alpha * l2_normalise(target)  # FaceFusion
        before = ((1 - alpha) * l2_normalise(source) + alpha * l2_normalise(target)) @ emap  # FaceKit until issue 17
        latent = swapper.source_latent(source, target, weight)
        assert latent.shape == (1, 128) and latent.dtype == np.float32
        np.testing.assert_allclose(latent[0], after, atol=1e-5)
        # ...and that is what the network is fed (read back through the probe stand-in's output)
        target_crop = SwapTarget(crop=crop, points_68=None, embedding=target)
        seen = decode_probe(swapper.swap(target_crop, SwapSource(image=crop, face=face, embedding=source), weight), 128)
        assert np.abs(seen - after).max() < 0.005  # 8-bit output: 1/255 per step of 2/255
        if weight != 0.5:
            assert np.abs(seen - before).max() > 0.05  # the two conventions differ measurably away from the default
    with pytest.raises(FaceKitError, match="outside 0..1"):
        swapper.source_latent(source, target, 1.5)


def test_fp16_model_gets_float16_inputs_and_gives_float32_pixels(mirrored_engine, swap_models) -> None:
    swapper = mirrored_engine.adapter_for_file(swap_models / "probe_512_fp16.onnx", "inswapper")
    embedding = l2_normalise(np.random.default_rng(3).normal(size=512))
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    crop[...] = (10, 100, 200)  # BGR
    face = Face(box=np.zeros(4), score=1.0, landmarks_5=np.zeros((5, 2)))
    out = swapper.swap(SwapTarget(crop=crop, points_68=None), SwapSource(image=crop, face=face, embedding=embedding))
    assert out.dtype == np.uint8 and out.shape == crop.shape
    emap = numpy_helper.to_array(onnx.load(swap_models / "probe_512_fp16.onnx").graph.initializer[-1])
    assert np.abs(decode_probe(out, 512) - embedding @ emap).max() < 0.01  # fp16 + 8 bits
    assert np.abs(out[..., 1].astype(int) - 200).max() <= 1  # the model's channel 0 is the crop's red: RGB in
    assert out[..., 0].max() == 0  # the model's channel 2 comes back as blue: RGB out


def test_mean_of_several_source_photos_is_the_normalised_mean(mirrored_engine, swap_models, mobilefacenet_choice, t1, tom) -> None:
    mirrored = np.ascontiguousarray(tom[:, ::-1])
    prepared = prepare_sources(mirrored_engine, [tom, mirrored], inswapper_options(swap_models / "identity_128.onnx", mobilefacenet_choice))
    assert prepared.identity is not None and len(prepared.identity.members) == 2
    analyser = FaceAnalyser(mirrored_engine)
    vectors = [analyser.embed(image, [face], mobilefacenet_choice)[0].vector for image, face in prepared.identity.members]
    expected = l2_normalise(l2_normalise(vectors[0]) + l2_normalise(vectors[1]))
    np.testing.assert_allclose(prepared.identity.swap.embedding, expected, atol=1e-6)
    assert prepared.models["source_embedder"] == "file:mobilefacenet_test.onnx"


def test_embedding_size_mismatch_is_a_clear_error(mirrored_engine, swap_models, mobilefacenet_choice, t1, tom) -> None:
    with pytest.raises(FaceKitError, match="needs a 512-d ArcFace embedding, but got 128"):
        swap_image(mirrored_engine, [tom], t1, inswapper_options(swap_models / "identity_512.onnx", mobilefacenet_choice))


def test_missing_arcface_names_the_model_to_download(mirrored_engine, swap_models, t1, tom) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        swap_image(mirrored_engine, [tom], t1, SwapOptions(model_file=swap_models / "identity_512.onnx"))
    message = str(caught.value)
    assert "needs a source embedding from the arcface family" in message and "models download arcface_w600k_r50" in message
    assert "offline" in message  # the weight store's reason
    options = SwapOptions(model_file=swap_models / "identity_512.onnx", source_embedder=EmbedderChoice("dlib_resnet"))
    with pytest.raises(FaceKitError, match="dlib_resnet is a dlib_resnet model"):
        swap_image(mirrored_engine, [tom], t1, options)


def test_a_model_that_is_not_an_inswapper_is_rejected(mirrored_engine, shared_models) -> None:
    with pytest.raises(ModelLoadError, match="expected inputs target"):
        mirrored_engine.adapter_for_file(shared_models / "mobilefacenet_test.onnx", "inswapper")


def test_an_emap_that_does_not_fit_the_source_input_is_rejected(tmp_path) -> None:
    path = identity_swapper(tmp_path / "bad.onnx", width=128)
    model = onnx.load(path)
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((3, 3), np.float32), "late"))
    onnx.save(model, path)
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", offline=True))
    with pytest.raises(ModelLoadError, match="not an inswapper emap"):
        engine.adapter_for_file(path, "inswapper")


# ------------------------------------------------------------------ selection and errors
def test_face_map_swaps_each_mapped_face_only(mirrored_engine, swap_models, mobilefacenet_choice, t1) -> None:
    options = inswapper_options(swap_models / "identity_128.onnx", mobilefacenet_choice, face_map=((0, 1), (1, 0)))
    result = swap_image(mirrored_engine, [t1], t1, options)
    assert [(f.index, f.source) for f in result.faces] == [(1, "source photo face 0"), (0, "source photo face 1")]


def test_map_index_out_of_range_is_a_clear_error(mirrored_engine, swap_models, mobilefacenet_choice, t1, tom) -> None:
    options = inswapper_options(swap_models / "identity_128.onnx", mobilefacenet_choice, face_map=((0, 9),))
    with pytest.raises(FaceKitError, match="Face index 9 does not exist in the target image: it has 6 face"):
        swap_image(mirrored_engine, [tom], t1, options)
    options = inswapper_options(swap_models / "identity_128.onnx", mobilefacenet_choice, face_map=((3, 0),))
    with pytest.raises(FaceKitError, match="Face index 3 does not exist in the source photo: it has 1 face"):
        swap_image(mirrored_engine, [tom], t1, options)
    with pytest.raises(FaceKitError, match="names a target face twice"):
        SwapOptions(face_map=parse_face_map("0:1,1:1"))
    with pytest.raises(FaceKitError, match="Cannot read the face map entry"):
        parse_face_map("0-1")


def test_source_without_a_face_is_a_clear_error(mirrored_engine, t1) -> None:
    blank = np.full((300, 400, 3), 127, np.uint8)
    with pytest.raises(NoFaceError, match="No face was found in the source photo"):
        swap_image(mirrored_engine, [blank], t1)


def test_target_without_a_face_is_a_clear_error(mirrored_engine, tom) -> None:
    with pytest.raises(NoFaceError, match="No face was found in the target image"):
        swap_image(mirrored_engine, [tom], np.full((300, 400, 3), 90, np.uint8))


def test_reference_selection_picks_the_right_face(mirrored_engine, swap_models, mobilefacenet_choice, t1, tmp_path) -> None:
    # Reference: face 3 of t1 cut out, mirrored and rescaled, so it is not a pixel copy.
    reference = cv2.resize(np.ascontiguousarray(t1[300:540, 670:900, ::-1][:, ::-1]), None, fx=0.8, fy=0.8)
    path = tmp_path / "reference.png"
    Image.fromarray(reference).save(path)
    options = inswapper_options(swap_models / "identity_128.onnx", mobilefacenet_choice, faces=FaceSelection.parse(f"ref:{path}"))
    result = swap_image(mirrored_engine, [t1], t1, options)
    assert [face.index for face in result.faces] == [3]


def test_options_refuse_contradictions() -> None:
    with pytest.raises(FaceKitError, match="either a face map or a face selection"):
        SwapOptions(face_map=((0, 0),), faces=FaceSelection.parse("ref:x.png"))
    with pytest.raises(FaceKitError, match="outside 0..1"):
        SwapOptions(weight=-0.1)


def test_restore_touches_the_swapped_faces_only(mirrored_engine, t1, tom, tmp_path) -> None:
    from facekit.processors.restore import RestoreOptions

    # A restorer that visibly changes every pixel it touches (the classic one now leaves clean faces alone).
    negative = RestoreOptions(model_file=gfpgan_negative(tmp_path / "negative.onnx"), family="gfpgan")
    result = swap_image(mirrored_engine, [tom], t1, SwapOptions(faces=FaceSelection.parse("1"), restore=negative))
    assert result.models["restorer"] == "file:negative.onnx" and result.models["swapper"] == "mesh"
    assert [face.index for face in result.faces] == [1]
    assert "identity_distance" in result.face_dicts()[0]["restore"]
    plain = swap_image(mirrored_engine, [tom], t1, SwapOptions(faces=FaceSelection.parse("1"), identity=False))
    x1, y1, x2, y2 = (int(v) for v in result.faces[0].box)
    assert np.abs(result.image[y1:y2, x1:x2].astype(int) - plain.image[y1:y2, x1:x2].astype(int)).mean() > 0.3  # restored
    changed = np.any(result.image != t1, axis=2)
    for other in FaceAnalyser(mirrored_engine).analyze(t1).faces:
        if other.index != 1:
            bx1, by1, bx2, by2 = (int(v) for v in other.box)
            assert not changed[by1:by2, bx1:bx2].any()


# ------------------------------------------------------------------ CLI
def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_global_flags(parser, suppress=False)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(engine_from_args(args), args)


def test_cli_batch_writes_outputs_with_provenance_and_json(tmp_path, shared_models, swap_models, capsys) -> None:
    targets = tmp_path / "targets"
    targets.mkdir()
    Image.open(T1).resize((800, 554)).save(targets / "t1.png")
    Image.open(T1).resize((640, 443)).save(targets / "small.jpg")
    (targets / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    flags = ["--models-dir", str(tmp_path / "models"), "--mirror", str(shared_models), "--offline"]
    argv = [*flags, "swap", "--source", str(TOM), str(targets), "-o", str(out), "--faces", "0,3", "--json"]
    code = run_cli(argv)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # the broken file fails, the others are written
    by_name = {Path(line["input"]).name: line for line in lines}
    assert "error" in by_name["broken.png"]
    for name in ("t1.png", "small.jpg"):
        record = by_name[name]
        assert [face["index"] for face in record["faces"]] == [0, 3]
        for face in record["faces"]:
            assert {"source_distance", "target_distance", "identity_embedder", "identity_direction"} <= set(face)
        assert record["models"]["swapper"] == "mesh"
        written = Image.open(record["output"])
        assert written.text["facekit:job"] == "swap" and written.text["facekit:ai_edited"] == "true"
    assert run_cli([*argv, "--skip-existing"]) == 1
    skipped = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum("skipped" in line for line in skipped) == 2


def test_cli_inswapper_file_with_map(tmp_path, shared_models, swap_models, capsys) -> None:
    out = tmp_path / "swapped.png"
    flags = ["--models-dir", str(tmp_path / "models"), "--mirror", str(shared_models), "--offline"]
    argv = [
        *flags, "swap", "--source", str(T1), str(T1), "-o", str(out), "--model-file", str(swap_models / "identity_128.onnx"),
        "--source-embedder-file", str(shared_models / "mobilefacenet_test.onnx"), "--map", "0:2,2:0", "--json",
    ]  # fmt: skip
    assert run_cli(argv) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert [face["index"] for face in record["faces"]] == [2, 0]
    assert record["models"]["source_embedder"] == "file:mobilefacenet_test.onnx"
    assert out.exists()


def test_cli_user_errors_raise_facekit_errors(tmp_path, shared_models) -> None:
    flags = ["--models-dir", str(tmp_path / "models"), "--mirror", str(shared_models), "--offline"]
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    with pytest.raises(NoFaceError, match="No face was found in the blank.png"):
        run_cli([*flags, "swap", "--source", str(blank), str(T1), "-o", str(tmp_path / "o.png")])
    with pytest.raises(FaceKitError, match="exactly one source photo"):
        run_cli([*flags, "swap", "--source", str(TOM), "--source", str(TOM), str(T1), "-o", str(tmp_path / "o.png"), "--map", "0:0"])


# ------------------------------------------------------------------ pixel boost (issue 17.8)
@pytest.mark.parametrize("resolution", [128, 256, 384, 512])
def test_pixel_boost_runs_k_by_k_128_sub_images_and_returns_the_target(
    mirrored_engine, swap_models, mobilefacenet_choice, t1, tom, resolution, monkeypatch
) -> None:
    seen: list[tuple[int, ...]] = []
    run = InSwapper.run

    def counting_run(self, crop_bgr, latent):
        seen.append(crop_bgr.shape)
        return run(self, crop_bgr, latent)

    monkeypatch.setattr(InSwapper, "run", counting_run)
    options = inswapper_options(swap_models / "identity_128.onnx", mobilefacenet_choice, swap_resolution=resolution, identity=False)
    result = swap_image(mirrored_engine, [tom], t1, options)
    k = resolution // 128
    assert len(seen) == 6 * k * k and set(seen) == {(128, 128, 3)}  # every network call is one 128 px sub-image
    assert result.models["swap_resolution"].startswith(str(resolution))
    psnrs = [face_boxes_psnr(t1, result.image, [face]) for face in result.faces]
    print(f"pixel boost {resolution}: identity stand-in face-box PSNR dB:", [round(v, 2) for v in psnrs])
    assert min(psnrs) > 39.0


def test_swap_resolution_outside_the_choices_is_a_clear_error() -> None:
    with pytest.raises(FaceKitError, match="swap resolution must be one of 128, 256, 384, 512; got 200"):
        SwapOptions(swap_resolution=200)


def test_mesh_refuses_a_boosted_resolution(mirrored_engine, t1, tom) -> None:
    with pytest.raises(FaceKitError, match="mesh does not support the swap resolution 256"):
        swap_image(mirrored_engine, [tom], t1, SwapOptions(model="mesh", swap_resolution=256, identity=False))
    assert swap_image(mirrored_engine, [tom], t1, SwapOptions(model="mesh", identity=False)).models["swap_resolution"] == "128"


def test_cli_swap_resolution_flag(tmp_path, shared_models, swap_models, capsys) -> None:
    out = tmp_path / "boosted.png"
    flags = ["--models-dir", str(tmp_path / "models"), "--mirror", str(shared_models), "--offline"]
    argv = [
        *flags, "swap", "--source", str(TOM), str(T1), "-o", str(out), "--model-file", str(swap_models / "identity_128.onnx"),
        "--source-embedder-file", str(shared_models / "mobilefacenet_test.onnx"), "--faces", "0", "--no-identity",
        "--swap-resolution", "384", "--json",
    ]  # fmt: skip
    assert run_cli(argv) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["models"]["swap_resolution"] == "384 (pixel boost, 3x3 sub-images of 128)"
    assert out.exists()
    with pytest.raises(SystemExit):
        run_cli([*argv[:-2], "200"])
    assert "invalid choice: 200" in capsys.readouterr().err
