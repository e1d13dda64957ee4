"""DDIM refinement checked against an oracle: a model that returns the true noise of a known x0."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from facekit.adapters.diffusion import DiffusionRefiner, DiffusionSchedule, EpsModel, ddim_refine
from facekit.errors import FaceKitError, ModelLoadError
from facekit.face.types import Face
from facekit.processors.restore import RestoreOptions, RestorePipeline
from standins import FULL_ALPHAS_CUMPROD, oracle_onnx

Arg = namedtuple("Arg", "name shape type")


class OracleSession:
    """A stand-in with onnxruntime's run() API: eps = (x - sqrt(abar_t) x0) / sqrt(1 - abar_t), 6 channels."""

    def __init__(self, x0: np.ndarray) -> None:
        self.x0 = x0
        self.calls: list[float] = []

    def get_inputs(self) -> list[Arg]:
        return [Arg("x", [1, 3, *self.x0.shape[2:]], "tensor(float)"), Arg("t", [1], "tensor(float)")]

    def get_outputs(self) -> list[Arg]:
        return [Arg("out", [1, 6, *self.x0.shape[2:]], "tensor(float)")]

    def run(self, names: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        x, t = feed["x"], feed["t"]
        self.calls.append(float(t[0]))
        abar = FULL_ALPHAS_CUMPROD[t.astype(np.int64)].reshape(-1, 1, 1, 1)
        eps = (x.astype(np.float64) - np.sqrt(abar) * self.x0) / np.sqrt(1.0 - abar)
        return [np.concatenate([eps, np.zeros_like(eps)], axis=1).astype(np.float32)]


def known_x0(size: int = 16, seed: int = 1) -> np.ndarray:
    return np.clip(np.random.default_rng(seed).normal(0.0, 0.5, (1, 3, size, size)), -1.0, 1.0)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_with_an_oracle_recovers_x0(eta: float) -> None:
    x0 = known_x0()
    model = EpsModel(OracleSession(x0), "oracle")
    start_from = np.zeros_like(x0) + 0.3  # a poor restorer estimate
    for steps, start in ((250, 100), (50, 50), (1000, 7)):
        result = ddim_refine(model, start_from, DiffusionSchedule.linear(steps), start=start, eta=eta, seed=5)
        assert np.abs(result - x0).max() < 1e-4


def test_start_zero_returns_the_input_and_calls_nothing() -> None:
    session = OracleSession(known_x0())
    x_hat = known_x0(seed=9)
    assert np.array_equal(ddim_refine(EpsModel(session, "oracle"), x_hat, DiffusionSchedule.linear(250), start=0), x_hat)
    crop = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.array_equal(DiffusionRefiner(EpsModel(session, "oracle")).refine(crop, start=0), crop)
    assert session.calls == []


def test_network_gets_original_timesteps_and_progress_is_per_step() -> None:
    session = OracleSession(known_x0())
    seen: list[float] = []
    ddim_refine(EpsModel(session, "oracle"), known_x0(seed=3), DiffusionSchedule.linear(250), start=5, progress=lambda f, m: seen.append(f))
    assert session.calls == [16.0, 12.0, 8.0, 4.0, 0.0]
    assert seen == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_schedule_matches_the_published_numbers_and_checks_its_range() -> None:
    schedule = DiffusionSchedule.linear(250)
    assert list(schedule.timesteps[:3]) == [0, 4, 8] and schedule.timesteps[-1] == 996
    assert schedule.alphas_cumprod[99] == pytest.approx(0.19992, abs=1e-4)  # start 100: training step 396
    with pytest.raises(FaceKitError):
        DiffusionSchedule.linear(0)
    with pytest.raises(FaceKitError, match="start step"):
        ddim_refine(lambda x, t: x, np.zeros((1, 3, 4, 4)), schedule, start=251)


def test_a_ddim_step_keeps_the_marginal_of_the_previous_step() -> None:
    schedule = DiffusionSchedule.linear(250)
    rng = np.random.default_rng(7)
    x0 = np.clip(rng.normal(0.0, 0.5, 200_000), -1.0, 1.0)
    z = rng.standard_normal(x0.shape)
    for index in (1, 99, 249):  # eta 0: the same noise direction, one step less noisy
        stepped = schedule.ddim_step(schedule.diffuse(x0, index, z), z, index, 0.0, None)
        assert np.allclose(stepped, schedule.diffuse(x0, index - 1, z))
    assert np.allclose(schedule.ddim_step(schedule.diffuse(x0, 0, z), z, 0, 1.0, rng.standard_normal(x0.shape)), x0)
    for eta in (0.5, 1.0):  # fresh noise mixed in: the noise level stays that of index - 1
        stepped = schedule.ddim_step(schedule.diffuse(x0, 99, z), z, 99, eta, rng.standard_normal(x0.shape))
        abar, abar_prev = schedule.alphas_cumprod[99], schedule.alphas_cumprod[98]
        residual = stepped - np.sqrt(abar_prev) * x0
        assert np.std(residual) == pytest.approx(np.sqrt(1.0 - abar_prev), rel=0.01)
        sigma = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar)) * np.sqrt(1.0 - abar / abar_prev)  # the published DDIM sigma
        kept = np.mean(residual * z) / np.mean(z * z)  # how much of the old noise direction survives
        assert kept == pytest.approx(np.sqrt(1.0 - abar_prev - sigma**2), abs=0.0015)


def test_noise_is_seeded() -> None:
    wrong = EpsModel(OracleSession(np.zeros((1, 3, 8, 8))), "oracle")
    wrong_eps = lambda x, t: wrong(x, t) * 0.5  # noqa: E731 - a model that is off, so the noise shows
    x_hat = known_x0(8)
    first = ddim_refine(wrong_eps, x_hat, DiffusionSchedule.linear(20), start=10, eta=1.0, seed=1)
    assert np.array_equal(first, ddim_refine(wrong_eps, x_hat, DiffusionSchedule.linear(20), start=10, eta=1.0, seed=1))
    assert not np.allclose(first, ddim_refine(wrong_eps, x_hat, DiffusionSchedule.linear(20), start=10, eta=1.0, seed=2))





def rgb_tensor(image_bgr: np.ndarray) -> np.ndarray:
    return (image_bgr[..., ::-1].astype(np.float64) / 127.5 - 1.0).transpose(2, 0, 1)[np.newaxis]


def test_onnx_oracle_through_the_engine_returns_the_known_face(engine, tmp_path) -> None:
    target = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    refiner = engine.adapter_for_file(oracle_onnx(tmp_path / "oracle.onnx", rgb_tensor(target)), "diffusion")
    assert refiner.model.size == (32, 32)
    estimate = np.clip(target.astype(int) + np.random.default_rng(5).integers(-40, 41, target.shape), 0, 255).astype(np.uint8)
    for eta in (0.0, 0.5):
        refined = refiner.refine(estimate, start=30, steps=100, eta=eta, seed=0)
        assert np.abs(refined.astype(int) - target.astype(int)).max() <= 1  # colour order and scaling round-trip too
    bigger = refiner.refine(np.zeros((64, 64, 3), np.uint8), start=10, steps=50)  # resized to the model's 32x32 and back
    assert bigger.shape == (64, 64, 3)


def test_a_model_without_a_timestep_input_is_rejected(engine, tmp_path) -> None:
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [image], [out]))
    model.opset_import[0].version = 17
    model.ir_version = 8
    onnx.save(model, tmp_path / "one_input.onnx")
    with pytest.raises(ModelLoadError, match=r"t\[B\]"):
        engine.adapter_for_file(tmp_path / "one_input.onnx", "diffusion")


def test_restore_applies_diffusion_to_the_restored_crop(engine, tmp_path) -> None:
    grey = np.full((1, 3, 512, 512), 0.0)  # the oracle's "clean face" is flat grey (pixel 127.5)
    oracle = oracle_onnx(tmp_path / "grey_oracle.onnx", grey)
    image = np.random.default_rng(6).integers(0, 256, (600, 600, 3), dtype=np.uint8)
    landmarks = np.array([[250, 280], [350, 280], [300, 340], [260, 390], [340, 390]], np.float32)
    face = Face(box=np.array([220, 220, 380, 420], np.float32), score=1.0, landmarks_5=landmarks)
    options = RestoreOptions(model="classic", blend=1.0, identity=False, diffusion_file=oracle, diffusion_steps=20, diffusion_start=4)
    progress: list[str] = []

    def record(fraction: float, message: str) -> None:
        progress.append(message)

    result, _, models = RestorePipeline.from_engine(engine, options, record).restore_faces(image, [face], record)
    assert models["restorer"] == "classic" and models["diffusion"] == "file:grey_oracle.onnx"
    assert np.abs(result[290:330, 280:320].astype(int) - 127.5).max() <= 1
    assert sum("diffusion step" in message for message in progress) == 4
