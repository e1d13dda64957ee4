"""The Engine: built once, owns the manifest, the weight store and the session pool."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from facekit.adapters.base import (
    TASK_PROTOCOLS,
    Detector,
    Embedder,
    Frontalizer,
    Landmarker,
    Parser,
    Refiner,
    Restorer,
    Swapper,
)
from facekit.adapters.families import FAMILIES, families_for
from facekit.errors import FaceKitError, ModelLoadError, ModelUnavailableError
from facekit.manifest import DEFAULT_MANIFEST_PATH, InputSpec, Manifest, ModelEntry, OnnxIO, load_manifest
from facekit.model_ref import ModelRef
from facekit.sessions import FallbackSession, PooledSession, SessionOptions, SessionPool, parse_providers
from facekit.weights import DEFAULT_MODELS_DIR, ModelStatus, ProgressCallback, StoreConfig, WeightStore

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class EngineConfig:
    """Everything that shapes an Engine; built from flags and FACEKIT_* variables."""

    models_dir: Path = DEFAULT_MODELS_DIR
    mirrors: tuple[str, ...] = ()
    offline: bool = False
    providers: tuple[str, ...] = ("auto",)
    max_sessions: int = 8  # loaded models (sessions, and the adapters holding them) kept at once
    max_session_bytes: int | None = None  # ...and at most this many bytes of model files (None: no byte limit)
    intra_op_threads: int = 0
    manifest_path: Path = DEFAULT_MANIFEST_PATH

    @classmethod
    def from_sources(
        cls,
        environ: Mapping[str, str] | None = None,
        models_dir: str | Path | None = None,
        mirrors: Sequence[str] | None = None,
        offline: bool | None = None,
        providers: str | None = None,
        threads: int | None = None,
    ) -> EngineConfig:
        """Explicit arguments win over FACEKIT_* variables, which win over defaults."""
        env = os.environ if environ is None else environ
        env_mirrors = tuple(m for m in env.get("FACEKIT_MIRROR", "").split(";") if m.strip())
        return cls(
            models_dir=Path(models_dir or env.get("FACEKIT_MODELS_DIR") or DEFAULT_MODELS_DIR).expanduser(),
            mirrors=tuple(mirrors) if mirrors else env_mirrors,
            offline=offline if offline else env.get("FACEKIT_OFFLINE", "").strip().lower() in _TRUE,
            providers=parse_providers(providers or env.get("FACEKIT_PROVIDERS") or "auto"),
            intra_op_threads=threads if threads is not None else int(env.get("FACEKIT_THREADS", "0") or 0),
        )

    def store_config(self) -> StoreConfig:
        return StoreConfig(models_dir=self.models_dir, mirrors=self.mirrors, offline=self.offline)


@dataclass(frozen=True)
class ModelInfo:
    """A manifest entry with its status, as the model list shows it."""

    entry: ModelEntry
    status: ModelStatus

    def as_dict(self) -> dict[str, object]:
        entry = self.entry
        return {
            "id": entry.id,
            "task": entry.task,
            "family": entry.family,
            "source": entry.source,
            "status": self.status.state,
            "status_detail": self.status.detail,
            "file": entry.file,
            "bytes": entry.bytes,
            "sha256": entry.sha256,
            "licence": entry.licence.name,
            "commercial_use": entry.licence.commercial,
            "author": entry.author,
            "priority": entry.priority,
        }


@dataclass
class Engine:
    """One per process; passed to the CLI commands and the app's tabs."""

    config: EngineConfig = field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        self.manifest: Manifest = load_manifest(self.config.manifest_path)
        self.weights = WeightStore(self.manifest, self.config.store_config())
        self.pool = SessionPool(
            providers=self.config.providers,
            options=SessionOptions(intra_op_threads=self.config.intra_op_threads),
            max_sessions=self.config.max_sessions,
            max_bytes=self.config.max_session_bytes,
            on_evict=self._on_session_evicted,
        )
        self._adapters: dict[tuple[str, ...], _CachedAdapter] = {}
        self._adapters_lock = threading.Lock()

    def models(self, task: str | None = None) -> list[ModelInfo]:
        """Every entry (or one task's, best first) with its current status."""
        entries = self.manifest.for_task(task) if task else list(self.manifest)
        return [ModelInfo(entry, self.weights.status(entry.id)) for entry in entries]

    def default_model(self, task: str, accept: Callable[[ModelEntry], bool] = lambda entry: True) -> ModelEntry:
        """The highest-priority model of a task that is ready to run now (and that `accept` takes)."""
        for info in self.models(task):
            if info.status.ready and accept(info.entry):
                return info.entry
        raise ModelUnavailableError(
            f"No model for task {task!r} is ready.",
            "{control:models_list} to see what each needs.",
        )

    def model_path(self, model_id: str, progress: ProgressCallback | None = None) -> Path:
        """A verified local file for a model (downloaded when allowed)."""
        return self.weights.resolve(model_id, progress=progress)

    def session(self, model_id: str, progress: ProgressCallback | None = None) -> PooledSession:
        """The pooled ONNX Runtime session of a manifest model."""
        entry = self.manifest.get(model_id)
        path = self.model_path(model_id, progress)
        try:
            return self.pool.get(path, sha256=entry.sha256)
        except ModelLoadError as error:
            raise ModelLoadError(f"Model {model_id!r}: {error.message}", error.hint, error.app_hint) from error

    def runnable_session(self, model_id: str, progress: ProgressCallback | None = None) -> FallbackSession:
        """The session adapters use: pooled, and retried on the CPU if an accelerator fails mid-run."""
        self.session(model_id, progress)  # load (and name the model in any load error)
        entry = self.manifest.get(model_id)
        return self.pool.get_runnable(self.model_path(model_id), sha256=entry.sha256)

    def session_for_file(self, path: str | Path) -> PooledSession:
        """A pooled session for a user's own ONNX file (`--model-file`)."""
        return self.pool.get(Path(path))

    # ---------------------------------------------------------------- adapters
    def load(self, task: str, ref: ModelRef | str | None = None) -> Any:
        """The adapter for `task` that `ref` names (a manifest id, a file + family, or the best ready model).

        Checks that the model serves the task and that the adapter satisfies
        the task's Protocol; built once and cached with its sessions (see
        :meth:`_cached_adapter`). Prefer the typed accessors below.
        """
        resolved = self.resolve(task, ref)
        if resolved.file is not None:
            adapter = self._file_adapter(resolved.file, resolved.family or "")
        else:
            adapter = self._model_adapter(resolved.model_id or "")
        _check_protocol(task, adapter, resolved.label)
        return adapter

    def resolve(self, task: str, ref: ModelRef | str | None = None) -> ModelRef:
        """`ref` made concrete: the best ready model gets its id; a model id or file is checked against the task."""
        ref = _as_ref(ref)
        if ref.file is not None:
            ref.check_family(task)
            return ref
        if ref.model_id is None:
            return ModelRef(model_id=self.default_model(task).id)
        entry = self.manifest.get(ref.model_id)
        if entry.task != task:
            raise FaceKitError(
                f"Model {ref.model_id!r} does the task {entry.task!r}, not {task!r}.",
                f"Pick one of: {', '.join(e.id for e in self.manifest.for_task(task))}.",
            )
        return ref

    def detector(self, ref: ModelRef | str | None = None) -> Detector:
        return cast(Detector, self.load("detect", ref))

    def landmarker(self, ref: ModelRef | str | None = None) -> Landmarker:
        return cast(Landmarker, self.load("landmarks", ref))

    def embedder(self, ref: ModelRef | str | None = None) -> Embedder:
        return cast(Embedder, self.load("embed", ref))

    def restorer(self, ref: ModelRef | str | None = None) -> Restorer:
        return cast(Restorer, self.load("restore", ref))

    def refiner(self, ref: ModelRef | str | None = None) -> Refiner:
        """A diffusion refiner (task `diffusion`)."""
        return cast(Refiner, self.load("diffusion", ref))

    def swapper(self, ref: ModelRef | str | None = None) -> Swapper:
        return cast(Swapper, self.load("swap", ref))

    def frontalizer(self, ref: ModelRef | str | None = None) -> Frontalizer:
        return cast(Frontalizer, self.load("frontalize", ref))

    def parser(self, ref: ModelRef | str | None = None) -> Parser:
        return cast(Parser, self.load("parse", ref))

    def adapter(self, model_id: str, expected_task: str | None = None) -> Any:
        """The adapter of a manifest model (untyped; `load(task, ref)` and the typed accessors check the task)."""
        if expected_task is not None:
            return self.load(expected_task, ModelRef(model_id=model_id))
        return self._model_adapter(model_id)

    def adapter_for_file(self, path: str | Path, family: str) -> Any:
        """An adapter around a user's own ONNX file of `family`, fed with the family's manifest numbers."""
        known = FAMILIES.get(family)
        if known is None:
            raise FaceKitError(f"Unknown family {family!r}.", f"Known families: {', '.join(sorted(FAMILIES))}.")
        return self.load(known.task, ModelRef(file=Path(path), family=family))

    def family_entry(self, family: str) -> ModelEntry | None:
        """The family's highest-priority manifest entry (its numbers serve `--model-file`)."""
        return max((e for e in self.manifest if e.family == family), key=lambda e: e.priority, default=None)

    def loaded_adapters(self) -> list[str]:
        """Labels of the adapters the cache holds now (for tests, benchmarks and the models tab)."""
        with self._adapters_lock:
            return [key[1] for key in self._adapters]

    def clear(self) -> None:
        """Drop every cached adapter and session (their memory is freed once no caller holds them)."""
        with self._adapters_lock:
            self._adapters.clear()
        self.pool.clear()

    def _model_adapter(self, model_id: str) -> Any:
        entry = self.manifest.get(model_id)
        if entry.family is None:
            raise FaceKitError(f"{model_id!r} is an archive of other models, not a model.", "Use one of the models it carries.")
        from facekit.adapters.registry import AdapterSpec

        spec = AdapterSpec(
            model_id=entry.id,
            family=entry.family,
            input=entry.input,
            open_session=lambda: self.runnable_session(entry.id),
            file_path=lambda: self.model_path(entry.id),
            companion_path=self.model_path,
            io=entry.io,
        )
        return self._cached_adapter(("model", model_id), spec)

    def _file_adapter(self, path: Path, family: str) -> Any:
        file_path = Path(path).expanduser().resolve()
        if not file_path.is_file():
            raise FaceKitError(f"Model file not found: {file_path}.", "Check the path given to --model-file.")
        from facekit.adapters.registry import AdapterSpec

        family_entry = self.family_entry(family)
        spec = AdapterSpec(
            model_id=f"file:{file_path.name}",
            family=family,
            input=family_entry.input if family_entry is not None else InputSpec(),
            open_session=lambda: self.pool.get_runnable(file_path),
            file_path=lambda: file_path,
            companion_path=self.model_path,
            io=family_entry.io if family_entry is not None else OnnxIO(),
        )
        return self._cached_adapter(("file", f"file:{file_path.name}", str(file_path), family), spec)

    def _cached_adapter(self, key: tuple[str, ...], spec: Any) -> Any:
        """One cache, one lifetime: an adapter lives exactly as long as the pooled sessions it opened.

        The session pool is the LRU (by count, and by bytes where known); when
        it evicts a session, every adapter that opened it is dropped too
        (:meth:`_on_session_evicted`), so its memory is freed. A cache hit
        touches the adapter's sessions, so pool order is adapter order.
        Adapters without sessions (built-in and dlib models) are bounded by
        the manifest's entries of that kind.
        """
        from facekit.adapters.registry import build_adapter

        with self._adapters_lock:
            cached = self._adapters.get(key)
        if cached is not None and self.pool.touch(cached.sessions):
            return cached.adapter
        opened: list[str] = []
        recording = _recording_spec(spec, opened)
        adapter = build_adapter(recording)  # outside the lock: may download and load for seconds
        if not getattr(adapter, "thread_safe", True):
            adapter = SerializedAdapter(adapter)
        sessions = frozenset(opened)
        with self._adapters_lock:
            if not self.pool.touch(sessions):  # evicted while building: hand it out uncached
                return adapter
            entry = self._adapters.setdefault(key, _CachedAdapter(adapter, sessions))
            return entry.adapter

    def _on_session_evicted(self, sha256: str) -> None:
        with self._adapters_lock:
            for key in [k for k, cached in self._adapters.items() if sha256 in cached.sessions]:
                del self._adapters[key]


@dataclass(frozen=True)
class _CachedAdapter:
    adapter: Any
    sessions: frozenset[str]  # sha256 keys of the pooled sessions the adapter opened


def _recording_spec(spec: Any, opened: list[str]) -> Any:
    """The spec with `open_session` wrapped to remember which pooled sessions the builder opened."""

    def open_session() -> Any:
        session = spec.open_session()
        opened.append(session.sha256)
        return session

    return dataclasses.replace(spec, open_session=open_session)


def _as_ref(ref: ModelRef | str | None) -> ModelRef:
    if ref is None:
        return ModelRef()
    if isinstance(ref, str):
        return ModelRef(model_id=ref or None)
    return ref


def _check_protocol(task: str, adapter: Any, label: str) -> None:
    protocol = TASK_PROTOCOLS.get(task)
    if protocol is not None and not isinstance(adapter, protocol):
        raise ModelLoadError(
            f"{label}: its family's adapter is not a {protocol.__name__} (the {task} contract).",
            f"Use a model of a {task} family: {', '.join(families_for(task))}.",
        )


class SerializedAdapter:
    """Wraps an adapter that must not run on two threads at once (dlib's models): one call at a time.

    ONNX Runtime sessions are safe to share between threads; dlib's detectors,
    shape predictors and networks keep working buffers in the object, and two
    concurrent calls corrupt memory (seen as crashes under the soak test).
    """

    def __init__(self, adapter: Any) -> None:
        self._adapter = adapter
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._adapter, name)
        if not callable(value):
            return value

        def serialised(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return serialised
