"""Issue 17.7/17.9: the identity report uses a ready ArcFace-family recogniser that did not feed the job (ms per face, not dlib's ~100)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.common import MOBILEFACENET_ENTRY, MOBILEFACENET_FILE, manifest_with_test_arcface, nudged_copy
from facekit.analysis import EmbedderChoice, FaceAnalyser
from facekit.engine import Engine, EngineConfig
from facekit.processors.identity import IdentityScorer
from facekit.processors.swap import SwapOptions, report_embedder


@pytest.fixture
def arcface_engine(tmp_path: Path, models_dir: Path) -> Engine:
    config = EngineConfig(
        models_dir=tmp_path / "models", mirrors=(str(models_dir),), offline=True, manifest_path=manifest_with_test_arcface(tmp_path)
    )
    return Engine(config)


def _fed_by(choice: EmbedderChoice) -> SimpleNamespace:
    """The three fields of PreparedSources that report_embedder reads."""
    return SimpleNamespace(source_embedder=choice, source_embedder_label=choice.label, source_embedder_family="arcface")


def test_a_ready_arcface_model_that_did_not_feed_the_swap_scores_it(arcface_engine, tmp_path, models_dir) -> None:
    other_file = EmbedderChoice(file=nudged_copy(models_dir / MOBILEFACENET_FILE, tmp_path / "feeder.onnx"), family="arcface")
    # mobilefacenet_test not on disk yet: dlib_resnet scores the report
    assert report_embedder(arcface_engine, SwapOptions(), _fed_by(other_file)) == (EmbedderChoice(model_id="dlib_resnet"), None)
    arcface_engine.model_path(MOBILEFACENET_ENTRY["id"])
    assert report_embedder(arcface_engine, SwapOptions(), _fed_by(other_file)) == (EmbedderChoice(model_id="mobilefacenet_test"), None)
    # fed by that very model, by id or as a file with its bytes: the report goes to another recogniser
    by_id = EmbedderChoice(model_id="mobilefacenet_test")
    same_bytes = EmbedderChoice(file=Path(shutil.copy(models_dir / MOBILEFACENET_FILE, tmp_path / "copy.onnx")), family="arcface")
    for fed in (by_id, same_bytes):
        assert report_embedder(arcface_engine, SwapOptions(), _fed_by(fed)) == (EmbedderChoice(model_id="dlib_resnet"), None)


def test_restore_scores_with_the_ready_arcface_model_by_default(arcface_engine) -> None:
    assert IdentityScorer(FaceAnalyser(arcface_engine)).label == "dlib_resnet"  # the only recogniser on disk
    arcface_engine.model_path(MOBILEFACENET_ENTRY["id"])
    assert IdentityScorer(FaceAnalyser(arcface_engine)).label == "mobilefacenet_test"
