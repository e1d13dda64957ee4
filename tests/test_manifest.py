from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from facekit.errors import ManifestError, UnknownModelError
from facekit.manifest import DEFAULT_MANIFEST_PATH, FAMILY_TASKS, load_manifest, parse_manifest

REQUIRED_IDS = {
    "yunet_2023mar", "scrfd_2.5g", "buffalo_l", "det_10g", "w600k_r50", "2d106det", "1k3d68",
    "arcface_w600k_r50", "inswapper_128", "inswapper_128_fp16", "gfpgan_1.4", "codeformer",
    "gpen_bfr_512", "restoreformer_plus_plus", "face_parser_bisenet",
    "dlib_hog", "dlib_68", "dlib_5", "dlib_resnet", "classic", "mesh", "geometric",
}
SHIPPED = load_manifest()


def shipped_document() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_MANIFEST_PATH.read_text())


def test_shipped_manifest_has_every_required_id() -> None:
    assert REQUIRED_IDS <= set(SHIPPED.ids)


@pytest.mark.parametrize("entry", list(SHIPPED), ids=lambda e: e.id)
def test_every_entry_is_consistent(entry) -> None:
    if entry.is_archive:
        assert entry.family is None and entry.file and entry.file.endswith(".zip")
    else:
        assert FAMILY_TASKS[entry.family] == entry.task
    if entry.source == "url":
        assert entry.sha256 and entry.file and (entry.urls or entry.archive)
    if entry.source == "builtin":
        assert entry.file is None and not entry.urls
    assert entry.licence.name and entry.author


def test_each_task_orders_by_priority() -> None:
    detectors = [e.id for e in SHIPPED.for_task("detect")]
    assert detectors[-1] == "dlib_hog"  # the embedded default is the last resort
    assert [e.id for e in SHIPPED.members_of("buffalo_l")] == ["det_10g", "2d106det", "1k3d68", "w600k_r50"]


def test_unknown_id_names_the_fix() -> None:
    with pytest.raises(UnknownModelError, match="models list"):
        SHIPPED.get("no_such_model")


def _broken(entry_id: str, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(shipped_document())
    entry = next(e for e in document["models"] if e["id"] == entry_id)
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return document


@pytest.mark.parametrize(
    ("entry_id", "changes", "field", "phrase"),
    [
        ("gfpgan_1.4", {"sha256": None}, "sha256", "required"),
        ("gfpgan_1.4", {"sha256": "abc"}, "sha256", "64"),
        ("gfpgan_1.4", {"family": "nonsense"}, "family", "unknown family"),
        ("gfpgan_1.4", {"task": "swap"}, "task", "serves task"),
        ("gfpgan_1.4", {"urls": ["ftp://example.org/x.onnx"]}, "urls", "not an http"),
        ("gfpgan_1.4", {"urls": ["not a url"]}, "urls", "not an http"),
        ("gfpgan_1.4", {"file": "../../etc/passwd"}, "file", "plain file name"),
        ("gfpgan_1.4", {"licence": None}, "licence", "required"),
        ("gfpgan_1.4", {"bytes": -4}, "bytes", "greater than 0"),
        ("gfpgan_1.4", {"input": {"template": "ffhq_999"}}, "input.template", "unknown template"),
        ("gfpgan_1.4", {"colour_order": "rgb"}, "colour_order", "Extra inputs"),
        ("det_10g", {"archive": "gfpgan_1.4"}, "archive", "not a zip entry"),
        ("classic", {"file": "x.onnx"}, "source", "builtin"),
        ("dlib_resnet", {"match": None}, "match", "same person"),
    ],
)
def test_broken_entries_are_rejected_naming_entry_and_field(entry_id, changes, field, phrase) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(_broken(entry_id, **changes))
    message = str(caught.value)
    assert repr(entry_id) in message
    assert f"field '{field}'" in message
    assert phrase in message


def test_duplicate_ids_are_rejected() -> None:
    document = shipped_document()
    document["models"].append(copy.deepcopy(document["models"][0]))
    with pytest.raises(ManifestError, match="duplicate id"):
        parse_manifest(document)


def test_entry_without_id_is_named_by_position() -> None:
    document = shipped_document()
    del document["models"][2]["id"]
    with pytest.raises(ManifestError, match=r"entry #3 \(no id\)"):
        parse_manifest(document)


def test_unreadable_and_invalid_yaml_files(tmp_path) -> None:
    with pytest.raises(ManifestError, match="Cannot read"):
        load_manifest(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_manifest(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(ManifestError, match="'models' list"):
        load_manifest(bad)
