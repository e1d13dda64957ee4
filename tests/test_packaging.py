"""pyproject.toml stays in step with the requirements files, and its entry points exist (issue 11 item 11).

`pip install .` in a fresh venv giving a working `facekit` was checked by hand (see the README); it takes minutes,
so it is not part of the suite.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")


def _requirements(name: str) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in (REPO / name).read_text().splitlines())
    return {line for line in lines if line and not line.startswith("-r")}


def _names(requirements: set[str] | list[str]) -> set[str]:
    return {re.split(r"[<>=\[;~! ]", item, maxsplit=1)[0].lower() for item in requirements}


def test_runtime_dependencies_match_requirements_txt() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(project["dependencies"]) == _requirements("requirements-base.txt") | _requirements("requirements.txt")
    assert _names(project["optional-dependencies"]["gpu"]) == {"onnxruntime-gpu"}
    assert {"pytest", "ruff", "mypy"} <= _names(project["optional-dependencies"]["dev"])
    assert _names(_requirements("requirements-dev.txt")) >= _names(project["optional-dependencies"]["dev"])


def test_console_scripts_point_at_functions() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"facekit", "facekit-app"}
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function))
