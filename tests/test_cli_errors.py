"""Issue 18.12: unusable --models-dir / -o paths end in one `error:` line (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from facekit.cli import main
from helpers import insightface_image


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0\n")
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_models_dir_that_is_a_file(a_file, capsys) -> None:
    assert main(["--offline", "--models-dir", str(a_file), "models", "download", "yunet_2023mar"]) == 2
    assert "is a file, not a folder" in _one_error_line(capsys)


def test_models_dir_below_a_file(a_file, capsys) -> None:
    assert main(["--offline", "--models-dir", str(a_file / "models"), "models", "list"]) == 2
    assert str(a_file) in _one_error_line(capsys)


@pytest.mark.parametrize("command", ["restore", "frontalize"])
def test_output_below_a_file(a_file, tmp_path, capsys, command) -> None:
    models = tmp_path / "models"
    photo = str(insightface_image("Tom_Hanks_54745.png"))
    assert main(["--offline", "--models-dir", str(models), command, photo, "-o", str(a_file / "x.png")]) == 2
    assert "not a folder" in _one_error_line(capsys)


def test_cli_face_indexes_count_once_and_a_huge_selection_is_refused_briefly(tmp_path, capsys) -> None:
    """Issue 18.2 on the command line: the same parser as the app (repeated indexes once; a capped, unechoed string)."""
    from facekit.processors.common import FaceSelection

    assert FaceSelection.parse(",".join(["0"] * 40)).indexes == (0,)
    assert FaceSelection.parse("2,0,2,0").indexes == (2, 0)
    photo = str(insightface_image("Tom_Hanks_54745.png"))
    output = str(tmp_path / "o.png")
    code = main(["--offline", "--models-dir", str(tmp_path / "models"), "restore", photo, "--faces", "0," * 500_000, "-o", output])
    line = _one_error_line(capsys)
    assert code != 0 and "characters long" in line and len(line) < 300
    assert not (tmp_path / "o.png").exists()
