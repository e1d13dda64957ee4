"""Typed, validated entries of `weights_manifest.yaml`.

Loading fails loudly: a bad entry raises :class:`ManifestError` naming the
entry (its id, or its position when the id itself is missing) and the field.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from facekit.adapters.families import FAMILIES, family_tasks
from facekit.errors import ManifestError, UnknownModelError
from facekit.face.align import TEMPLATES
from facekit.face.identity import Metric
from facekit.face.identity import metric as identity_metric

Task = Literal["detect", "landmarks", "embed", "restore", "swap", "frontalize", "diffusion", "parse", "bundle"]
Source = Literal["url", "package", "builtin", "user"]  # user: no public weights; the user brings the file (--model-file)

#: family -> task, derived from THE family table (facekit/adapters/families.py).
#: A family that is not there cannot appear in the manifest.
FAMILY_TASKS: dict[str, str] = family_tasks()

#: Alignment template names; the templates themselves live in facekit/face/align.py.
TEMPLATE_NAMES = frozenset(TEMPLATES)

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_SAFE_FILE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Licence(_Frozen):
    name: str
    commercial: bool
    url: str | None = None


class InputSpec(_Frozen):
    """Pre-processing numbers for an adapter; absent fields mean 'not applicable'."""

    size: int | tuple[int, int] | None = None
    template: str | None = None
    colour: Literal["rgb", "bgr"] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    dimension: int | None = None
    points: int | None = None

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str | None) -> str | None:
        if value is not None and value not in TEMPLATE_NAMES:
            raise ValueError(f"unknown template {value!r}; known: {', '.join(sorted(TEMPLATE_NAMES))}")
        return value

    @field_validator("std")
    @classmethod
    def _nonzero_std(cls, value: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if value is not None and any(v == 0 for v in value):
            raise ValueError("std values must be non-zero")
        return value


class Match(_Frozen):
    """When two embeddings of an `embed` model mean the same person."""

    metric: Literal["euclidean", "cosine"]
    threshold: float
    measured: str | None = None

    @property
    def scale(self) -> Metric:
        """The metric's direction (lower or higher = more alike), decided in facekit.face.identity."""
        return identity_metric(self.metric)

    def same_person(self, score: float) -> bool:
        return self.scale.same_person(score, self.threshold)

    def is_better(self, score: float, than: float) -> bool:
        return self.scale.is_better(score, than)

    def best(self, scores: Iterable[float]) -> float:
        return self.scale.best(scores)


class OnnxIO(_Frozen):
    """The model's tensor names by role (`{image: input, fidelity: weight}`); roles are the family's (families.py).

    A role that is not listed takes the family's default name (or, without
    one, the model's only/first tensor). In YAML a plain list names the
    family's roles in order.
    """

    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)

    def input_name(self, role: str, default: str | None = None) -> str | None:
        return self.inputs.get(role, default)

    def output_name(self, role: str, default: str | None = None) -> str | None:
        return self.outputs.get(role, default)


class ModelEntry(_Frozen):
    """One model: where it comes from, how to verify it, how to feed it."""

    id: str
    task: Task
    family: str | None = None  # None only for `task: bundle` (an archive is a way files arrive, not an adapter)
    source: Source
    file: str | None = None
    package: str | None = None
    archive: str | None = None
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    claimed: bool = False
    bytes: int | None = Field(default=None, gt=0)
    licence: Licence
    author: str
    priority: int = 0
    input: InputSpec = InputSpec()
    io: OnnxIO = OnnxIO()
    match: Match | None = None
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError("ids use letters, digits and _ . + - only")
        return value

    @field_validator("sha256")
    @classmethod
    def _valid_sha256(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256_PATTERN.match(value):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return value

    @field_validator("urls")
    @classmethod
    def _valid_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            parsed = urlparse(url)
            if parsed.scheme not in ("https", "http") or not parsed.netloc:
                raise ValueError(f"not an http(s) URL: {url!r}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _io_roles(cls, raw: Any) -> Any:
        """`io: {inputs: [a, b]}` names the family's input roles in order; a mapping must use the family's roles."""
        if not isinstance(raw, dict) or not isinstance(raw.get("io"), dict):
            return raw
        family = FAMILIES.get(str(raw.get("family")))
        if family is None:
            return raw  # the after-validator names the unknown family
        io = dict(raw["io"])
        for side, roles in (("inputs", family.inputs), ("outputs", family.outputs)):
            io[side] = _named_roles(side, io.get(side), tuple(role.name for role in roles), family.name)
        return {**raw, "io": io}

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.task == "bundle":
            if self.family is not None:
                raise ValueError("family: a bundle (an archive of other entries' files) has no family")
            if self.source != "url" or not (self.file or "").endswith(".zip"):
                raise ValueError("file: a bundle is a downloadable .zip file (source: url)")
        else:
            self._check_family()
        if self.task == "embed" and self.match is None:
            raise ValueError("match: embed models need {metric, threshold} saying when two faces are the same person")
        if self.source == "url":
            self._check_url_source()
        elif self.source == "package":
            self._check_package_source()
        elif self.source == "user":
            if self.urls or self.sha256 or self.file:
                raise ValueError("source: a `user` entry (no public weights) has no file, urls or sha256; never invent them")
        elif self.file or self.urls or self.sha256:
            raise ValueError("source: builtin entries have no file, urls or sha256")
        return self

    def _check_family(self) -> None:
        expected_task = FAMILY_TASKS.get(self.family or "")
        if expected_task is None:
            raise ValueError(f"family: unknown family {self.family!r}; known: {', '.join(sorted(FAMILY_TASKS))}")
        if expected_task != self.task:
            raise ValueError(f"task: family {self.family!r} serves task {expected_task!r}, not {self.task!r}")

    def _check_url_source(self) -> None:
        if not self.file:
            raise ValueError("file: required for source 'url'")
        if not _SAFE_FILE_PATTERN.match(self.file):
            raise ValueError(f"file: {self.file!r} must be a plain file name (no folders, no '..')")
        if not self.sha256:
            raise ValueError("sha256: required for source 'url' (never download without a hash)")
        if not self.urls and not self.archive:
            raise ValueError("urls: a downloadable entry needs at least one URL or an archive")

    def _check_package_source(self) -> None:
        if not self.package:
            raise ValueError("package: required for source 'package'")
        if self.file and not self.sha256:
            raise ValueError("sha256: required for a packaged file")
        if self.file and (Path(self.file).is_absolute() or ".." in Path(self.file).parts):
            raise ValueError(f"file: {self.file!r} must be a relative path inside the package")

    @property
    def has_weights(self) -> bool:
        return self.file is not None

    @property
    def is_archive(self) -> bool:
        """A zip that only carries other entries' files (`task: bundle`)."""
        return self.task == "bundle"

    def takes(self, role: str) -> bool:
        """Whether this model's family has an input of `role` (e.g. `fidelity`), known without loading it."""
        family = FAMILIES.get(self.family or "")
        return role in self.io.inputs or (family is not None and family.input_role(role) is not None)


class RecommendedSet(_Frozen):
    """A task's recommended models: `models` for the best results, `commercial` where the licence must allow it.

    The first id of each list does the task; the others are what it needs (a swapper's embedder).
    """

    models: tuple[str, ...]
    commercial: tuple[str, ...]

    def ids(self, commercial_only: bool = False) -> tuple[str, ...]:
        return self.commercial if commercial_only else self.models


@dataclass(frozen=True)
class Manifest:
    """All entries, by id, in file order, and the recommended set per task."""

    entries: tuple[ModelEntry, ...]
    recommended: dict[str, RecommendedSet] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id: dict[str, ModelEntry]
        object.__setattr__(self, "_by_id", {entry.id: entry for entry in self.entries})

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    @property
    def ids(self) -> list[str]:
        return [entry.id for entry in self.entries]

    def get(self, model_id: str) -> ModelEntry:
        try:
            return self._by_id[model_id]
        except KeyError:
            raise UnknownModelError(
                f"Unknown model id {model_id!r}.",
                "{control:models_list} for the ids this FaceKit knows.",
            ) from None

    def for_task(self, task: str) -> list[ModelEntry]:
        """Entries of one task, best (highest priority) first."""
        return sorted((e for e in self.entries if e.task == task), key=lambda e: -e.priority)

    def members_of(self, archive_id: str) -> list[ModelEntry]:
        return [entry for entry in self.entries if entry.archive == archive_id]

    def recommended_ids(self, commercial_only: bool = False, tasks: tuple[str, ...] | None = None) -> list[str]:
        """The recommended models of every task (or of `tasks`), without duplicates, in manifest order of tasks."""
        ids: list[str] = []
        for task, chosen in self.recommended.items():
            if tasks is None or task in tasks:
                ids.extend(model_id for model_id in chosen.ids(commercial_only) if model_id not in ids)
        return ids


def _default_manifest_path() -> Path:
    """The repository's manifest in a checkout; in an installed FaceKit, the copy pip put in <prefix>/share/facekit."""
    checkout = Path(__file__).resolve().parent.parent / "weights_manifest.yaml"
    if checkout.is_file():
        return checkout
    try:
        files = importlib.metadata.files("facekit") or []
    except importlib.metadata.PackageNotFoundError:
        return checkout
    installed = next((f for f in files if f.name == "weights_manifest.yaml"), None)
    return Path(str(installed.locate())).resolve() if installed is not None else checkout


DEFAULT_MANIFEST_PATH = _default_manifest_path()


def load_manifest(path: str | Path = DEFAULT_MANIFEST_PATH) -> Manifest:
    """Read and validate a manifest file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"Cannot read the weights manifest {path}: {error.strerror}.", "Check the path.") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"The weights manifest {path} is not valid YAML: {error}.", "Fix the file.") from None
    return parse_manifest(document, source=str(path))


def parse_manifest(document: Any, source: str = "manifest") -> Manifest:
    """Validate an already-parsed manifest document."""
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise ManifestError(f"{source}: expected a mapping with a 'models' list.", "See the schema at the top of weights_manifest.yaml.")
    entries = [_parse_entry(raw, position, source) for position, raw in enumerate(document["models"])]
    _check_unique_ids(entries, source)
    _check_archives(entries, source)
    recommended = _parse_recommended(document.get("recommended") or {}, {entry.id: entry for entry in entries}, source)
    return Manifest(tuple(entries), recommended)


def _parse_entry(raw: Any, position: int, source: str) -> ModelEntry:
    name = raw.get("id") if isinstance(raw, dict) else None
    label = f"entry {name!r}" if name else f"entry #{position + 1} (no id)"
    if not isinstance(raw, dict):
        raise ManifestError(f"{source}: {label} is not a mapping.", "Each model is a YAML mapping of fields.")
    try:
        return ModelEntry.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or _field_from_message(first["msg"])
        message = first["msg"].removeprefix("Value error, ")
        raise ManifestError(
            f"{source}: {label}, field '{field}': {message}.",
            "Fix that entry in weights_manifest.yaml.",
        ) from None


def _field_from_message(message: str) -> str:
    head = message.removeprefix("Value error, ").split(":", 1)[0]
    return head if head.isidentifier() else "(entry)"


def _check_unique_ids(entries: list[ModelEntry], source: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ManifestError(f"{source}: entry {entry.id!r}, field 'id': duplicate id.", "Ids must be unique.")
        seen.add(entry.id)


def _check_archives(entries: list[ModelEntry], source: str) -> None:
    by_id = {entry.id: entry for entry in entries}
    for entry in entries:
        if entry.archive is None:
            continue
        archive = by_id.get(entry.archive)
        if archive is None or not archive.is_archive:
            raise ManifestError(
                f"{source}: entry {entry.id!r}, field 'archive': {entry.archive!r} is not a zip entry of this manifest.",
                "Name the id of a `task: bundle` entry.",
            )


def _named_roles(side: str, value: Any, roles: tuple[str, ...], family: str) -> Any:
    """A YAML list of names -> {role: name} in the family's role order; a mapping is checked against the roles."""
    if value is None:
        return {}
    if isinstance(value, (list, tuple)):
        if len(value) > len(roles):
            raise ValueError(f"io: family {family!r} has {len(roles)} {side} ({', '.join(roles) or 'none'}), not {len(value)}")
        return dict(zip(roles, value, strict=False))
    if isinstance(value, dict):
        unknown = [role for role in value if role not in roles]
        if unknown:
            known = ", ".join(roles) or "none"
            raise ValueError(f"io: {side} {', '.join(map(str, unknown))} is not a role of family {family!r} (roles: {known})")
    return value


def _parse_recommended(raw: Any, by_id: dict[str, ModelEntry], source: str) -> dict[str, RecommendedSet]:
    """Validate the `recommended` mapping: known tasks, known ids, the first id of the task, commercial licences."""
    if not isinstance(raw, dict):
        raise ManifestError(f"{source}: 'recommended' must map tasks to {{models, commercial}}.", "See the schema at the top of the file.")
    sets: dict[str, RecommendedSet] = {}
    for task, value in raw.items():
        try:
            chosen = RecommendedSet.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            raise ManifestError(
                f"{source}: recommended.{task}, field '{'.'.join(str(p) for p in first['loc'])}': {first['msg']}.",
                "Each task lists `models` and `commercial` ids.",
            ) from None
        for kind in ("models", "commercial"):
            _check_recommended_list(task, kind, getattr(chosen, kind), by_id, source)
        sets[str(task)] = chosen
    return sets


def _check_recommended_list(task: str, kind: str, ids: tuple[str, ...], by_id: dict[str, ModelEntry], source: str) -> None:
    where = f"{source}: recommended.{task}.{kind}"
    if not ids:
        raise ManifestError(f"{where} is empty.", "Name at least the model that does the task (a builtin one if nothing else fits).")
    for model_id in ids:
        if model_id not in by_id:
            raise ManifestError(f"{where}: unknown model id {model_id!r}.", "Use ids of this manifest.")
        if kind == "commercial" and not by_id[model_id].licence.commercial:
            raise ManifestError(f"{where}: {model_id!r} does not allow commercial use.", "List only models whose licence allows it.")
    if by_id[ids[0]].task != task:
        first_task = by_id[ids[0]].task
        raise ManifestError(f"{where}: the first id {ids[0]!r} does the task {first_task!r}, not {task!r}.", "Put the task's model first.")
