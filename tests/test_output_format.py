"""Issue 17.6: PNG, JPEG or WebP results as a user option (library, CLI, batch, app API), each carrying the provenance."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facekit.batch.execute import RUN_KEY, is_finished_output
from facekit.cli import main
from facekit.errors import FaceKitError
from facekit.image_encode import OutputFormat, is_complete_image, read_provenance
from facekit.imageio import decode_image
from facekit.provenance import provenance_metadata
from helpers import SHARED_MODELS, insightface_image

METADATA = provenance_metadata("restore", {"restorer": "classic"}, {"blend": 0.8})
TOM = insightface_image("Tom_Hanks_54745.png")
PILLOW_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@pytest.mark.parametrize("kind", ["png", "jpeg", "webp"])
def test_each_format_decodes_close_to_the_pixels_and_carries_the_provenance(t1, kind) -> None:
    data = OutputFormat(kind).encode(t1, METADATA)
    assert read_provenance(data) == METADATA
    assert Image.open(io.BytesIO(data)).format == PILLOW_NAMES[kind]
    decoded = decode_image(data)
    error = np.abs(decoded.astype(np.int16) - t1).mean()
    assert error == 0 if kind == "png" else 0 < error < 3
    assert is_complete_image(data) and not is_complete_image(data[: len(data) * 2 // 3])


def test_quality_changes_the_lossy_file() -> None:
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for kind in ("jpeg", "webp"):
        low, high = (len(OutputFormat(kind, quality).encode(noisy)) for quality in (20, 95))
        assert low < high / 1.5


@pytest.mark.parametrize(
    ("kind", "quality", "cli_words", "app_words"),
    [
        ("gif", None, "Choose --format png, jpeg, webp", "Choose the Output format png, jpeg, webp"),
        ("jpeg", 0, "Give --quality a whole number from 1 to 100", "Give the Quality slider a whole number"),
        ("webp", 101, "--quality", "the Quality slider"),
        ("png", 80, "PNG is lossless and takes no quality. Leave --quality out", "Leave the Quality slider out"),
    ],
)
def test_bad_values_are_refused_in_each_audiences_words(kind, quality, cli_words, app_words) -> None:
    with pytest.raises(FaceKitError) as refused:
        OutputFormat(kind, quality)
    assert cli_words in refused.value.text("cli") and app_words in refused.value.text("app")


def _restore(tmp_path: Path, *flags: str) -> int:
    base = ["--offline", "--models-dir", str(tmp_path / "models"), "--mirror", str(SHARED_MODELS)]
    return main([*base, "restore", str(TOM), "--model", "classic", "--detector", "yunet_2023mar", *flags])


@pytest.mark.parametrize(("flags", "name", "kind"), [
    (["--format", "jpeg", "--quality", "80"], "out", "jpeg"),  # a folder: <stem>.jpg
    (["--format", "webp"], "out", "webp"),
    ([], "x.webp", "webp"),  # no --format: the suffix of -o names it
    ([], "x.jpeg", "jpeg"),
])
def test_cli_format_writes_that_format_with_provenance_and_skip_existing_knows_it(tmp_path, capsys, flags, name, kind) -> None:
    out = tmp_path / name
    assert _restore(tmp_path, *flags, "-o", str(out), "--no-identity") == 0
    written = out / f"Tom_Hanks_54745{OutputFormat(kind).suffix}" if name == "out" else out
    assert Image.open(written).format == PILLOW_NAMES[kind]
    provenance = read_provenance(written)
    assert provenance["facekit:job"] == "restore" and provenance["facekit:ai_edited"] == "true" and provenance[RUN_KEY]
    assert is_finished_output(str(written))
    capsys.readouterr()
    assert _restore(tmp_path, *flags, "-o", str(out), "--no-identity", "--skip-existing", "--json") == 0
    assert '"status": "skipped"' in capsys.readouterr().out


def test_cli_refuses_a_mismatched_suffix_and_bad_quality_with_one_line(tmp_path, capsys) -> None:
    assert _restore(tmp_path, "--format", "jpeg", "-o", str(tmp_path / "x.png")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: -o {tmp_path / 'x.png'}: FaceKit writes JPEG files here (they carry the AI-edited label). "
                   f"Use -o {tmp_path / 'x'}.jpg, or choose the format with --format."]
    assert _restore(tmp_path, "--format", "webp", "--quality", "150", "-o", str(tmp_path / "out")) == 2
    assert "Give --quality a whole number from 1 to 100" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _restore(tmp_path, "--format", "gif", "-o", str(tmp_path / "out"))
    assert "invalid choice: 'gif'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.png").exists()


def test_frontalize_face_files_take_the_format(tmp_path) -> None:
    base = ["--offline", "--models-dir", str(tmp_path / "models"), "--mirror", str(SHARED_MODELS)]
    out = tmp_path / "frontal"
    assert main([*base, "frontalize", str(TOM), "-o", str(out), "--no-measure", "--format", "webp", "--quality", "70"]) == 0
    files = sorted(path.name for path in out.iterdir())
    assert files == ["Tom_Hanks_54745_face0.webp"]
    assert read_provenance(out / files[0])["facekit:job"] == "frontalize"


def test_restore_with_the_identity_report_encodes_while_scoring_and_keeps_the_report(tmp_path, capsys) -> None:
    """Issue 17.7: the report runs while the file is encoded in a worker thread; the row still has the scores."""
    import json

    assert _restore(tmp_path, "-o", str(tmp_path / "r.jpg"), "--json") == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["status"] == "ok" and row["faces"] and "identity_distance" in row["faces"][0]
    assert row["models"]["embedder"] == "dlib_resnet"
    assert read_provenance(tmp_path / "r.jpg")["facekit:job"] == "restore"
