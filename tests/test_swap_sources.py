"""Issue 18.13: source photos a swapper does not use are not analysed, and their count is capped."""

from __future__ import annotations

import pytest

from facekit.analysis import FaceAnalyser
from facekit.errors import FaceKitError
from facekit.processors.swap import MAX_SOURCE_PHOTOS, SwapOptions, prepare_sources


def test_mesh_analyses_only_the_source_photo_it_uses(engine, tom, monkeypatch) -> None:
    calls = []
    real = FaceAnalyser.analyze

    def counted(self, image, *args, **kwargs):
        calls.append(image.shape)
        return real(self, image, *args, **kwargs)

    monkeypatch.setattr(FaceAnalyser, "analyze", counted)
    prepared = prepare_sources(engine, [tom] * 5, SwapOptions(model="mesh"))
    assert len(calls) == 1
    assert "used only source photo 1" in prepared.warnings[0]


def test_too_many_source_photos_are_refused_before_any_analysis(engine, tom, monkeypatch) -> None:
    monkeypatch.setattr(FaceAnalyser, "analyze", lambda *a, **k: pytest.fail("analysed"))
    with pytest.raises(FaceKitError, match=f"at most {MAX_SOURCE_PHOTOS} are used"):
        prepare_sources(engine, [tom] * (MAX_SOURCE_PHOTOS + 1), SwapOptions(model="mesh"))
