"""The restore job by contract: stand-in ONNX restorers with the real models' I/O, the CLI batch."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from facekit.analysis import FaceAnalyser
from facekit.commands.restore import register
from facekit.engine import Engine
from facekit.errors import FaceKitError, ModelLoadError, ModelUnavailableError, NoFaceError
from facekit.face.types import Face
from facekit.masking import MaskOptions
from facekit.processors.restore import RestoreOptions, RestorePipeline, load_restorer_with_reason, paste_order, restore_image
from standins import gfpgan_identity, image_tensor, save_model


def gfpgan_without_red(path: Path) -> Path:
    """Output = input with the model's channel 0 set to -1 (pixel 0): red if the adapter feeds RGB."""
    scale = numpy_helper.from_array(np.array([0, 1, 1], np.float32).reshape(1, 3, 1, 1), "scale")
    shift = numpy_helper.from_array(np.array([-1, 0, 0], np.float32).reshape(1, 3, 1, 1), "shift")
    nodes = [helper.make_node("Mul", ["input", "scale"], ["scaled"]), helper.make_node("Add", ["scaled", "shift"], ["output"])]
    return save_model(path, [image_tensor("input")], [image_tensor("output")], nodes, (scale, shift))


def codeformer_flat(path: Path) -> Path:
    """CodeFormer's I/O (`input` + `weight` double [1]); output is a flat image of value 2*weight-1 (pixel weight*255)."""
    weight = helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1])
    constants = [numpy_helper.from_array(np.array(v, np.float32), n) for v, n in ((0.0, "zero"), (2.0, "two"), (1.0, "one"))]
    nodes = [
        helper.make_node("Cast", ["weight"], ["weight_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["weight_f", "two"], ["doubled"]),
        helper.make_node("Sub", ["doubled", "one"], ["level"]),
        helper.make_node("Mul", ["input", "zero"], ["blank"]),
        helper.make_node("Add", ["blank", "level"], ["output"]),
    ]
    return save_model(path, [image_tensor("input"), weight], [image_tensor("output")], nodes, constants)


@pytest.fixture(scope="module")
def restore_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("standins")
    return {
        "identity": gfpgan_identity(folder / "gfpgan_identity.onnx"),
        "no_red": gfpgan_without_red(folder / "gfpgan_no_red.onnx"),
        "codeformer": codeformer_flat(folder / "codeformer_flat.onnx"),
        "small": gfpgan_identity(folder / "gfpgan_256.onnx", size=256),
    }


def face_centres(faces: list[Face]) -> list[tuple[int, int]]:
    return [(int(face.landmarks_5[2][1]), int(face.landmarks_5[2][0])) for face in faces]  # (row, col) of each nose tip


def box_psnr(reference: np.ndarray, image: np.ndarray, face: Face) -> float:
    x1, y1, x2, y2 = (int(v) for v in face.box)
    return peak_signal_noise_ratio(reference[y1:y2, x1:x2], image[y1:y2, x1:x2])


def test_identity_standin_returns_the_photo(engine, restore_models, t1) -> None:
    result = restore_image(engine, t1, RestoreOptions(model_file=restore_models["identity"], blend=1.0))
    assert result.image.shape == t1.shape
    assert peak_signal_noise_ratio(t1, result.image) > 40.0
    assert len(result.faces) == 6
    analysis_faces = FaceAnalyser(engine).analyze(t1).faces
    assert min(box_psnr(t1, result.image, face) for face in analysis_faces) > 40.0  # where the pasting happened
    assert result.models["restorer"] == "file:gfpgan_identity.onnx"
    assert {"detector", "landmarks", "restorer", "embedder"} <= set(result.models)
    for face in result.face_dicts():
        assert face["embedder"] == "dlib_resnet" and face["identity_metric"] == "euclidean"
        assert face["identity_direction"] == "lower = more alike" and "identity_similarity" not in face
        assert face["identity_distance"] < 0.15 and face["same_person"] is True  # same pixels: same person


def test_colour_order_and_normalisation_reach_the_model(engine, restore_models, t1, t1_faces) -> None:
    options = RestoreOptions(model_file=restore_models["no_red"], blend=1.0, identity=False, mask=MaskOptions(types=("box",)))
    # box: the whole crop pasted, nose tips of turned faces too
    image, reports, used = RestorePipeline.from_engine(engine, options).restore_faces(t1, t1_faces)
    assert used == {"restorer": "file:gfpgan_no_red.onnx", "mask": "box"} and [r.index for r in reports] == list(range(6))
    for row, col in face_centres(t1_faces):
        patch, original = image[row - 3 : row + 4, col - 3 : col + 4].astype(int), t1[row - 3 : row + 4, col - 3 : col + 4].astype(int)
        assert patch[..., 2].max() <= 1  # red (BGR index 2) is gone: the model saw RGB and pixel 0 = -1
        assert np.abs(patch[..., :2] - original[..., :2]).mean() < 3  # green and blue came back unchanged


def test_codeformer_fidelity_reaches_the_model(engine, restore_models, t1, t1_faces) -> None:
    restorer = engine.adapter_for_file(restore_models["codeformer"], "codeformer")
    assert restorer.takes_fidelity and restorer.size == 512 and restorer.template == "ffhq_512"
    crop = np.full((512, 512, 3), 50, np.uint8)
    for fidelity in (0.2, 0.5, 0.9):
        assert abs(float(restorer.restore(crop, fidelity).mean()) - fidelity * 255) < 1.0
    options = RestoreOptions(model_file=restore_models["codeformer"], family="codeformer", fidelity=0.8, blend=1.0, identity=False)
    image, _, _ = RestorePipeline.from_engine(engine, options).restore_faces(t1, t1_faces[:1])
    row, col = face_centres(t1_faces)[0]
    assert np.abs(image[row - 2 : row + 3, col - 2 : col + 3].astype(int) - 204).max() <= 2


def test_gfpgan_file_as_codeformer_has_no_fidelity(engine, restore_models) -> None:
    restorer = engine.adapter_for_file(restore_models["identity"], "codeformer")
    assert restorer.takes_fidelity is False
    crop = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    assert np.array_equal(restorer.restore(crop, 0.1), crop)


def test_wrong_input_size_is_rejected_clearly(engine, restore_models) -> None:
    with pytest.raises(ModelLoadError) as caught:
        engine.adapter_for_file(restore_models["small"], "gfpgan")
    message = str(caught.value)
    assert "[1,3,512,512]" in message and "input[1,3,256,256]" in message and "512x512" in message
    with pytest.raises(ModelLoadError, match="exactly one input"):
        engine.adapter_for_file(restore_models["codeformer"], "gfpgan")  # a second input is not a gfpgan model


def test_a_model_that_needs_a_download_offline_says_what_to_do(engine) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        load_restorer_with_reason(engine, RestoreOptions(model="gfpgan_1.4"))
    assert "gfpgan_1.4.onnx" in str(caught.value) and "offline" in str(caught.value) and "--mirror" in str(caught.value)
    with pytest.raises(FaceKitError, match="task 'swap'"):
        load_restorer_with_reason(engine, RestoreOptions(model="mesh"))


def test_options_are_checked() -> None:
    with pytest.raises(FaceKitError, match="Blend"):
        RestoreOptions(blend=1.5)
    with pytest.raises(FaceKitError, match="not both"):
        RestoreOptions(model="classic", model_file=Path("x.onnx"))
    with pytest.raises(FaceKitError, match="start"):
        RestoreOptions(diffusion_steps=50, diffusion_start=60)


def test_paste_order_is_largest_first_then_index() -> None:
    def face(index: int, size: float) -> Face:
        return Face(box=np.array([0, 0, size, size], np.float32), score=1.0, landmarks_5=np.zeros((5, 2), np.float32), index=index)

    faces = [face(0, 50), face(1, 120), face(2, 50), face(3, 80)]
    assert [f.index for f in paste_order(faces)] == [1, 3, 0, 2]


def test_upscale_restores_faces_at_the_larger_size(engine, restore_models, t1) -> None:
    crop = t1[250:480, 0:620]  # faces 0 and 2
    result = restore_image(engine, crop, RestoreOptions(model_file=restore_models["identity"], upscale=2.0, blend=1.0, identity=False))
    assert result.image.shape == (460, 1240, 3)
    assert result.models["upscaler"] == "lanczos x2"
    assert len(result.faces) == 2 and result.faces[0].box[2] > 2 * 150  # boxes are in the upscaled image


def test_image_without_faces_is_refused(engine) -> None:
    """One rule for every job: no face found is an error, never the untouched image labelled as restored."""
    grey = np.full((120, 160, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="No face was found"):
        restore_image(engine, grey, RestoreOptions(model="classic"))


def cli(engine: Engine, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["restore", *argv])
    return args.run(engine, args)


def test_batch_cli_writes_the_good_images_and_reports_the_bad_one(engine, restore_models, t1, tmp_path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(t1[250:480, 0:620, ::-1]).save(inputs / "left.jpg", quality=95)
    Image.fromarray(t1[60:320, 820:1280, ::-1]).save(inputs / "right.png")
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    out = tmp_path / "out"
    code = cli(engine, str(inputs), "-o", str(out), "--model-file", str(restore_models["identity"]), "--json")
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {Path(line["input"]).name: line for line in lines}
    assert set(by_name) == {"left.jpg", "right.png", "broken.jpg"}
    assert "error" in by_name["broken.jpg"] and not (out / "broken.png").exists()
    for name in ("left", "right"):
        record = by_name[f"{name}.{'jpg' if name == 'left' else 'png'}"]
        assert record["output"] == str(out / f"{name}.png") and record["models"]["restorer"] == "file:gfpgan_identity.onnx"
        assert len(record["faces"]) >= 1 and "identity_distance" in record["faces"][0] and record["seconds"] > 0
        written = Image.open(out / f"{name}.png")
        assert written.text["facekit:job"] == "restore" and "gfpgan_identity" in written.text["facekit:models"]


def test_cli_skip_existing_and_offline_download_error(engine, restore_models, t1, tmp_path, capsys) -> None:
    source = tmp_path / "one.png"
    Image.fromarray(t1[250:480, 0:620, ::-1]).save(source)
    target = tmp_path / "restored.png"
    shutil.copy(source, target)  # a file FaceKit did not write is redone, not trusted
    assert cli(engine, str(source), "-o", str(target), "--model", "classic", "--skip-existing") == 0
    assert "skipped" not in capsys.readouterr().out and Image.open(target).text["facekit:job"] == "restore"
    assert cli(engine, str(source), "-o", str(target), "--model", "classic", "--skip-existing") == 0
    assert "skipped" in capsys.readouterr().out
    with pytest.raises(ModelUnavailableError, match="codeformer.onnx"):
        cli(engine, str(source), "-o", str(tmp_path / "x.png"), "--model", "codeformer")


def test_a_face_with_degenerate_landmarks_is_skipped_and_the_others_restored(engine, restore_models, t1, t1_faces) -> None:
    import dataclasses

    bad = dataclasses.replace(t1_faces[1], landmarks_5=np.full((5, 2), 300.0, np.float32), embeddings={})
    options = RestoreOptions(model_file=restore_models["identity"], blend=1.0, identity=False)
    _, reports, _ = RestorePipeline.from_engine(engine, options).restore_faces(t1, [t1_faces[0], bad])
    assert reports[0].skipped is None
    assert reports[1].skipped is not None and reports[1].skipped.startswith("Face 1 was not restored")
    assert "degenerate" in reports[1].skipped or "one spot" in reports[1].skipped
    assert reports[1].as_dict()["skipped"] == reports[1].skipped
