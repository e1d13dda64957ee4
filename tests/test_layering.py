"""Layering rules: facekit/face is a leaf, identity direction is decided once, the swap path loads no dlib."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facekit.face.identity import METRICS, IdentityScore, metric, score_identity
from facekit.manifest import Match

FACE_DIR = Path(__file__).resolve().parent.parent / "facekit" / "face"
ABOVE_FACE = ("engine", "adapters", "processors", "pipelines", "commands", "weights", "sessions", "analysis", "batch", "media")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(FACE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_face_modules_import_nothing_above_them(path: Path) -> None:
    above = [name for name in _imports(path) if name.startswith("facekit.") and name.split(".")[1] in ABOVE_FACE]
    assert above == [], f"{path.name} imports {above}"


def test_importing_the_swap_and_restore_paths_does_not_load_dlib() -> None:
    code = (
        "import sys; import facekit.processors.swap, facekit.processors.restore, facekit.analysis, facekit.adapters.inswapper;"
        " print('dlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"


def test_metric_direction_is_decided_in_one_place() -> None:
    distance, cosine = metric("euclidean"), metric("cosine")
    assert distance.is_better(0.3, 0.5) and not cosine.is_better(0.3, 0.5)
    assert distance.best([0.7, 0.2, 0.5]) == 0.2 and cosine.best([0.7, 0.2, 0.5]) == 0.7
    assert (distance.kind, cosine.kind) == ("distance", "similarity")
    rule = Match(metric="euclidean", threshold=0.6)
    assert rule.same_person(0.59) and not rule.same_person(0.61) and rule.best([0.9, 0.4]) == 0.4
    assert Match(metric="cosine", threshold=0.5).same_person(0.6)
    assert set(METRICS) == {"euclidean", "cosine"}


def test_identity_score_reads_itself() -> None:
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.8, 0.6, 0.0])
    near = score_identity(a, b, Match(metric="euclidean", threshold=0.6), "dlib_resnet")
    assert isinstance(near, IdentityScore) and near.kind == "distance" and near.direction == "lower = more alike"
    assert near.value == pytest.approx(np.hypot(0.2, 0.6)) and not near.same_person
    cosine = score_identity(a, b, Match(metric="cosine", threshold=0.5), "arcface")
    assert cosine.value == pytest.approx(0.8) and cosine.same_person and cosine.kind == "similarity"
    far = score_identity(a, -a, Match(metric="cosine", threshold=0.5), "arcface")
    assert cosine.is_better(far) and not far.is_better(cosine)
