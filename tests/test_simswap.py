"""The SimSwap-style family (issue 11's worked example): crop, per-channel normalisation, its own embedding converter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facekit.adapters.base import SwapSource, SwapTarget
from facekit.adapters.families import FAMILIES
from facekit.adapters.inswapper import weight_alpha
from facekit.adapters.simswap import IMAGENET_MEAN, IMAGENET_STD, SimSwapper
from facekit.analysis import EmbedderChoice
from facekit.errors import FaceKitError, ModelLoadError, ModelUnavailableError
from facekit.face.align import RESAMPLING, TEMPLATES
from facekit.face.identity import l2_normalise
from facekit.face.types import Face
from facekit.processors.swap import SwapOptions, swap_image
from standins import SIMSWAP_PROBE_GAIN, simswap_probe

FACE = Face(box=np.zeros(4), score=1.0, landmarks_5=np.zeros((5, 2)))


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    return simswap_probe(tmp_path_factory.mktemp("simswap") / "simswap_probe.onnx")


def decode_latent(crop_bgr: np.ndarray, width: int) -> np.ndarray:
    red = crop_bgr[..., 2].astype(np.float64).ravel()[:width]
    return (red - IMAGENET_MEAN[0]) / IMAGENET_STD[0] / SIMSWAP_PROBE_GAIN


def test_the_family_and_the_example_entry(engine) -> None:
    family = FAMILIES["simswap"]
    assert family.task == "swap" and family.model_file and family.resampling == "bilinear" and "bilinear" in RESAMPLING
    entry = engine.manifest.get("simswap_256_example")
    assert entry.source == "user" and entry.sha256 is None and not entry.urls  # no invented weights
    assert entry.input.template == "arcface_112_v1" in TEMPLATES and entry.input.size == 256
    assert engine.weights.status(entry.id).state == "unavailable"
    with pytest.raises(ModelUnavailableError, match="--model-file PATH --family simswap"):
        engine.swapper("simswap_256_example")


def test_probe_sees_unit_embedding_and_per_channel_imagenet_numbers(engine, probe) -> None:
    swapper = engine.swapper(_file(probe))
    assert isinstance(swapper, SimSwapper) and swapper.embedding_size == 512 and swapper.template == "arcface_112_v1"
    rng = np.random.default_rng(1)
    embedding = rng.normal(size=512) * 7.0  # any scale: the converter normalises
    crop = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    out = swapper.swap(SwapTarget(crop=crop, points_68=None), SwapSource(image=crop, face=FACE, embedding=embedding))
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 1], crop[..., 1])  # G through encode/decode unchanged: per-channel numbers invert exactly
    assert np.all(out[..., 0] == round(IMAGENET_MEAN[2]))  # B = 0 in the normalised space decodes to channel 2's mean (104)...
    assert round(IMAGENET_MEAN[2]) != round(IMAGENET_MEAN[0])  # ...which a channel-0-only mean (124) would miss
    np.testing.assert_allclose(decode_latent(out, 512), l2_normalise(embedding), atol=1.5e-3)  # no emap: SimSwap's converter


@pytest.mark.parametrize("weight", [0.2, 0.5, 0.8])
def test_weight_balances_the_converted_latent(engine, probe, weight) -> None:
    swapper = engine.swapper(_file(probe))
    rng = np.random.default_rng(2)
    source, target = rng.normal(size=512), rng.normal(size=512) * 3.0
    alpha = weight_alpha(weight)
    expected = (1 - alpha) * l2_normalise(source) + alpha * l2_normalise(target)
    crop = np.zeros((256, 256, 3), np.uint8)
    out = swapper.swap(SwapTarget(crop=crop, points_68=None, embedding=target), SwapSource(image=crop, face=FACE, embedding=source), weight)
    np.testing.assert_allclose(decode_latent(out, 512), expected, atol=1.5e-3)  # one grey level is 1/(58.4 * gain)


def test_a_wrong_embedding_size_or_model_is_a_clear_error(engine, probe, shared_models) -> None:
    with pytest.raises(FaceKitError, match="needs a 512-d ArcFace embedding"):
        engine.swapper(_file(probe)).source_latent(np.ones(128))
    with pytest.raises(ModelLoadError, match="does not have the inputs/outputs"):
        engine.swapper(_file(shared_models / "mobilefacenet_test.onnx"))


def test_swap_job_runs_a_simswap_file_end_to_end(engine, tmp_path, shared_models, t1, tom) -> None:
    model = simswap_probe(tmp_path / "simswap_128d.onnx", width=128)  # 128 values: MobileFaceNet's vector
    embedder = EmbedderChoice(file=shared_models / "mobilefacenet_test.onnx", family="arcface")
    result = swap_image(engine, [tom], t1, SwapOptions(model_file=model, family="simswap", source_embedder=embedder, identity=False))
    assert result.models["swapper"] == "file:simswap_128d.onnx" and len(result.faces) == 6
    assert result.image.shape == t1.shape and not np.array_equal(result.image, t1)


def _file(path: Path):
    from facekit.model_ref import ModelRef

    return ModelRef(file=path, family="simswap")
