"""The Engine: built once, owns the manifest, the weight store and the session pool."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facekit.errors import FaceKitError, ModelLoadError, ModelUnavailableError
from facekit.manifest import DEFAULT_MANIFEST_PATH, FAMILY_TASKS, InputSpec, Manifest, ModelEntry, OnnxIO, load_manifest
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
    max_sessions: int = 8
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
        )
        self._adapters: dict[tuple[str, ...], Any] = {}
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
            "Run `python -m facekit models list` to see what each needs.",
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
            raise ModelLoadError(f"Model {model_id!r}: {error.message}", error.hint) from error

    def runnable_session(self, model_id: str, progress: ProgressCallback | None = None) -> FallbackSession:
        """The session adapters use: pooled, and retried on the CPU if an accelerator fails mid-run."""
        self.session(model_id, progress)  # load (and name the model in any load error)
        entry = self.manifest.get(model_id)
        return self.pool.get_runnable(self.model_path(model_id), sha256=entry.sha256)

    def session_for_file(self, path: str | Path) -> PooledSession:
        """A pooled session for a user's own ONNX file (`--model-file`)."""
        return self.pool.get(Path(path))

    # ---------------------------------------------------------------- adapters
    def adapter(self, model_id: str, expected_task: str | None = None) -> Any:
        """The adapter of a manifest model, built once (its weights fetched if needed)."""
        entry = self.manifest.get(model_id)
        if expected_task is not None and entry.task != expected_task:
            raise FaceKitError(
                f"Model {model_id!r} does the task {entry.task!r}, not {expected_task!r}.",
                f"Pick one of: {', '.join(e.id for e in self.manifest.for_task(expected_task))}.",
            )
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

    def adapter_for_file(self, path: str | Path, family: str) -> Any:
        """An adapter around a user's own ONNX file, fed with the family's manifest numbers."""
        if family not in FAMILY_TASKS:
            raise FaceKitError(f"Unknown family {family!r}.", f"Known families: {', '.join(sorted(FAMILY_TASKS))}.")
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
        return self._cached_adapter(("file", str(file_path), family), spec)

    def family_entry(self, family: str) -> ModelEntry | None:
        """The family's highest-priority manifest entry (its numbers serve `--model-file`)."""
        return max((e for e in self.manifest if e.family == family), key=lambda e: e.priority, default=None)

    def _cached_adapter(self, key: tuple[str, ...], spec: Any) -> Any:
        from facekit.adapters.registry import build_adapter

        with self._adapters_lock:
            if key in self._adapters:
                return self._adapters[key]
        adapter = build_adapter(spec)  # outside the lock: may download and load for seconds
        if not getattr(adapter, "thread_safe", True):
            adapter = SerializedAdapter(adapter)
        with self._adapters_lock:
            return self._adapters.setdefault(key, adapter)


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
