"""Layering rules: facekit/face is a leaf, identity direction is decided once, the swap path loads no dlib, tests and benches
import no test module, and every fixture has one definition."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facekit.face.identity import METRICS, IdentityScore, metric, score_identity
from facekit.manifest import Match

REPO = Path(__file__).resolve().parent.parent
FACE_DIR = REPO / "facekit" / "face"
TESTS_DIR = REPO / "tests"
ABOVE_FACE = ("engine", "adapters", "processors", "pipelines", "commands", "weights", "sessions", "analysis", "batch", "media")


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, at the top or inside a function."""
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


def _test_modules_imported(path: Path) -> list[str]:
    """The test modules (tests/test_*.py, or conftest) that `path` imports, under any spelling (`test_x`, `tests.test_x`)."""
    stems = {module.stem for module in TESTS_DIR.glob("test_*.py")} | {"conftest"}
    names = [name.removeprefix("tests.") for name in _imports(path)]
    return [name for name in names if name.split(".")[0] in stems]


def _test_dir_modules_imported(path: Path) -> list[str]:
    """Any module of tests/ (helpers and stand-ins included) that `path` imports."""
    stems = {module.stem for module in TESTS_DIR.glob("*.py")}
    return [name for name in _imports(path) if name == "tests" or name.startswith("tests.") or name.split(".")[0] in stems]


def test_the_import_checks_see_an_import(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("import os\n\ndef f():\n    from test_swap import identity_swapper\n    import tests.standins\n")
    assert _test_modules_imported(module) == ["test_swap"]
    assert _test_dir_modules_imported(module) == ["test_swap", "tests.standins"]


@pytest.mark.parametrize("path", sorted(TESTS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_test_module_imports_another(path: Path) -> None:
    """Shared pieces live in tests/helpers.py, tests/standins.py, tests/family_standins.py, tests/clips.py or conftest fixtures."""
    assert _test_modules_imported(path) == [], f"{path.name} imports {_test_modules_imported(path)}"


@pytest.mark.parametrize("path", sorted((REPO / "bench").glob("*.py")), ids=lambda p: p.name)
def test_benches_do_not_import_tests(path: Path) -> None:
    """What a bench shares with tests lives in bench/ (bench/common.py, bench/scenes.py); tests may import those."""
    assert _test_dir_modules_imported(path) == [], f"bench/{path.name} imports {_test_dir_modules_imported(path)}"


def _fixture_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]


def test_every_fixture_name_has_one_definition() -> None:
    """A fixture shared by modules is defined once in conftest.py; a module's own variant has a name of its own."""
    places: dict[str, list[str]] = {}
    for path in sorted(TESTS_DIR.glob("*.py")):
        for name in _fixture_names(path):
            places.setdefault(name, []).append(path.name)
    assert {name: where for name, where in places.items() if len(where) > 1} == {}
    assert {"engine", "mirrored_engine", "t1", "t1_faces"} <= set(places)


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
