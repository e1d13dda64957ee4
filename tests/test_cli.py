from __future__ import annotations

import json
import subprocess
import sys

from facekit.cli import main
from facekit.manifest import load_manifest
from helpers import REPO, YUNET_FILE


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "facekit", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_models_list_json_includes_every_manifest_id(tmp_path) -> None:
    result = run_cli("models", "list", "--json", "--models-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [row["id"] for row in listed] == load_manifest().ids
    statuses = {row["id"]: row["status"] for row in listed}
    assert statuses["dlib_hog"] == statuses["classic"] == "ready"
    assert statuses["gfpgan_1.4"] == "download"
    assert {row["id"]: row["commercial_use"] for row in listed}["codeformer"] is False


def test_models_list_table_and_task_filter(tmp_path, capsys) -> None:
    assert main(["models", "list", "--task", "restore", "--models-dir", str(tmp_path), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "gfpgan_1.4" in out and "yunet_2023mar" not in out
    assert "[non-commercial]" in out and "offline" in out


def test_download_from_a_mirror_then_verify_catches_a_corrupted_byte(tmp_path, mirror_folder, capsys) -> None:
    models = tmp_path / "models"
    assert main(["models", "download", "yunet_2023mar", "--mirror", str(mirror_folder), "--models-dir", str(models)]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["--models-dir", str(models), "models", "verify", "yunet_2023mar"]) == 0
    target = models / YUNET_FILE
    data = bytearray(target.read_bytes())
    data[12345] ^= 0x20
    target.write_bytes(bytes(data))
    assert main(["models", "verify", "--models-dir", str(models)]) == 1
    assert "MISMATCH" in capsys.readouterr().err


def test_user_errors_are_one_line_without_traceback(tmp_path) -> None:
    result = run_cli("models", "download", "scrfd_2.5g", "--offline", "--models-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "scrfd_2.5g.onnx" in result.stderr and "--mirror" in result.stderr
    unknown = run_cli("models", "download", "nope", "--models-dir", str(tmp_path))
    assert unknown.returncode == 2 and "Unknown model id 'nope'" in unknown.stderr
    bad_provider = run_cli("--providers", "warp9", "models", "list")
    assert bad_provider.returncode == 2 and "Unknown execution provider" in bad_provider.stderr


def test_download_needs_an_id() -> None:
    assert main(["models", "download"]) == 2
