"""The recommended model set: what to fetch, fetching it, and which model an empty choice means.

`weights_manifest.yaml` names, per task, the models that give the best first
results (`recommended.<task>.models`) and the ones whose licence allows
commercial use (`recommended.<task>.commercial`). This module turns those
lists into a download plan (what is missing and how big it is), fetches the
plan with progress, and answers "the user named no model: which one runs,
and why?".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.manifest import ModelEntry
from facekit.weights import ModelStatus, ProgressCallback, format_bytes

#: say(message): one line for a log or a progress bar
Say = Callable[[str], None]


@dataclass(frozen=True)
class PlannedModel:
    """One model of the recommended set and what it needs before it can run."""

    entry: ModelEntry
    status: ModelStatus

    @property
    def missing(self) -> bool:
        return not self.status.ready

    def describe(self) -> str:
        size = format_bytes(self.entry.bytes) if self.entry.file else "no file"
        return f"{self.entry.id} ({self.entry.task}, {size}, {self.entry.licence.name}): {self.status.state} - {self.status.detail}"


def plan(engine: Engine, commercial_only: bool = False, tasks: tuple[str, ...] | None = None) -> list[PlannedModel]:
    """The recommended models with their status (no network, no hashing)."""
    ids = engine.manifest.recommended_ids(commercial_only, tasks)
    return [PlannedModel(engine.manifest.get(model_id), engine.weights.status(model_id)) for model_id in ids]


def missing_bytes(planned: list[PlannedModel]) -> int:
    return sum(p.entry.bytes or 0 for p in planned if p.missing and p.entry.file)


def fetch(engine: Engine, planned: list[PlannedModel], progress: ProgressCallback | None = None, say: Say = print) -> list[str]:
    """Fetch and verify every model of the plan that has a file; return the ids now ready.

    Offline, nothing is fetched from the network (folder mirrors still work);
    a model that cannot be had raises the weight store's error, which names
    the file, its size and what to do.
    """
    ready: list[str] = []
    for item in planned:
        if item.entry.source == "builtin":
            say(f"{item.entry.id}: built in, nothing to download")
        elif item.entry.source == "package":
            engine.weights.resolve(item.entry.id)
            say(f"{item.entry.id}: installed with {item.entry.package}, verified")
        else:
            size = format_bytes(item.entry.bytes)
            say(f"{item.entry.id}: {'verifying' if item.status.ready else 'fetching'} {item.entry.file} ({size})")
            path = engine.weights.resolve(item.entry.id, progress=progress)
            say(f"{item.entry.id}: verified {path}")
        ready.append(item.entry.id)
    return ready


def offline_report(planned: list[PlannedModel]) -> str:
    """What is missing from the set and how big it is, for an offline start."""
    missing = [p for p in planned if p.missing]
    if not missing:
        return "every recommended model is on disk"
    lines = [f"missing {len(missing)} recommended model(s), {format_bytes(missing_bytes(planned))} in all:"]
    lines += [f"  {p.describe()}" for p in missing]
    return "\n".join(lines)


# ------------------------------------------------------------- empty choice
@dataclass(frozen=True)
class ModelChoice:
    """The model an empty choice resolved to, and the sentence saying why."""

    model_id: str
    reason: str


def choose(engine: Engine, task: str, allow_download: bool, progress: ProgressCallback | None = None) -> ModelChoice:
    """The model an empty choice means for `task`.

    1. The best ready model that is not built in (the manifest's priority).
    2. Else, when `allow_download` and the network is allowed, the task's
       first recommended model (with what it needs), downloaded and verified now.
    3. Else the best ready model (the builtin one), with the reason the learned one is not used.
    """
    best = engine.default_model(task)
    if best.source != "builtin":
        return ModelChoice(best.id, f"{best.id}: the best model on disk")
    recommended = engine.manifest.recommended.get(task)
    if recommended is None or recommended.models[0] == best.id:
        return ModelChoice(best.id, f"{best.id}: the recommended model for {task}")
    wanted = engine.manifest.get(recommended.models[0])
    if engine.config.offline:
        return ModelChoice(best.id, f"{best.id}: offline, no learned {task} model on disk ({wanted.id} needs {format_bytes(wanted.bytes)})")
    if not allow_download:
        return ModelChoice(best.id, f"{best.id}: no learned {task} model on disk (`models download --recommended` fetches {wanted.id})")
    try:
        fetch(engine, plan(engine, tasks=(task,)), progress, say=lambda message: None)
    except FaceKitError as error:
        return ModelChoice(best.id, f"{best.id}: downloading {wanted.id} failed ({error.message})")
    return ModelChoice(wanted.id, f"{wanted.id}: recommended for {task}, downloaded now ({format_bytes(wanted.bytes)}, sha256 verified)")
