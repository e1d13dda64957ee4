"""The session pool: one ONNX Runtime session per (file hash, providers, options).

Sessions are created once even when many threads ask at the same time (one
lock per key), kept in LRU order and evicted past a configurable limit. The
pool reports the providers a session really got, and warns when a requested
accelerator was not used.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from facekit.errors import ModelLoadError, ProviderError
from facekit.hashing import sha256_of

log = logging.getLogger(__name__)

#: Short names users type, in the order `auto` prefers them.
PROVIDER_NAMES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_ALIASES = {"dml": "directml", "trt": "tensorrt"}
CPU = "CPUExecutionProvider"


def parse_providers(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Turn 'auto', 'cuda,cpu' or a list of names into ONNX Runtime provider names.

    Unknown names raise :class:`ProviderError`. The list is not yet filtered
    by what this onnxruntime build offers: see :func:`select_providers`.
    """
    items = [part.strip() for part in (spec.split(",") if isinstance(spec, str) else spec) if part.strip()]
    if not items:
        raise ProviderError("No execution provider given.", "Use 'auto' or a list such as 'cuda,cpu'.")
    if items == ["auto"]:
        return ("auto",)
    names: list[str] = []
    for item in items:
        key = _ALIASES.get(item.lower(), item.lower())
        full = PROVIDER_NAMES.get(key) or next((v for v in PROVIDER_NAMES.values() if v.lower() == item.lower()), None)
        if full is None:
            raise ProviderError(
                f"Unknown execution provider {item!r}.",
                f"Use 'auto' or some of: {', '.join(PROVIDER_NAMES)}.",
            )
        if full not in names:
            names.append(full)
    return tuple(names)


def select_providers(requested: tuple[str, ...], available: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """Providers to pass to ONNX Runtime, and a warning for each requested one that is missing.

    'auto' takes every accelerator this build offers in the preferred order,
    then the CPU. An explicit list keeps its order; missing providers are
    dropped with a warning; the CPU is always appended as the last resort.
    """
    if requested == ("auto",):
        chosen = [name for name in PROVIDER_NAMES.values() if name in available and name != CPU]
        return (*chosen, CPU), []
    warnings = [
        f"{name} was requested but this onnxruntime build does not offer it "
        f"(available: {', '.join(available)}); for CUDA install requirements-gpu.txt"
        for name in requested
        if name not in available
    ]
    chosen = [name for name in requested if name in available and name != CPU]
    return (*chosen, CPU), warnings


@dataclass(frozen=True)
class SessionOptions:
    """CPU thread counts and graph optimisation; part of the pool key."""

    intra_op_threads: int = 0  # 0 lets ONNX Runtime choose (one per core)
    inter_op_threads: int = 0
    graph_optimization: str = "all"  # disable | basic | extended | all

    def build(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = self.inter_op_threads
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.graph_optimization]
        options.log_severity_level = 3
        return options


@dataclass(frozen=True)
class PooledSession:
    """A session plus what it really runs on."""

    session: ort.InferenceSession
    path: Path
    sha256: str
    providers: tuple[str, ...]  # what the session got, best first
    requested: tuple[str, ...]
    bytes: int = 0  # size of the model file (what the byte limit counts)

    @property
    def on_accelerator(self) -> bool:
        return self.providers[0] != CPU


class FallbackSession:
    """Looks like an InferenceSession; a run that fails on an accelerator is retried on the CPU.

    A GPU out-of-memory error or a provider failure then costs one slow
    request and a warning, not a crashed app. Errors of CPU sessions (a wrong
    input, say) are raised as they are.
    """

    def __init__(self, pooled: PooledSession, cpu_session: Callable[[], ort.InferenceSession]) -> None:
        self._pooled = pooled
        self._cpu_session = cpu_session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pooled.session, name)

    @property
    def sha256(self) -> str:
        """The pool key of the session (the engine's cache ties adapters to it)."""
        return self._pooled.sha256

    def run(self, output_names: Any, input_feed: dict[str, Any], run_options: Any = None) -> list[Any]:
        try:
            return self._pooled.session.run(output_names, input_feed, run_options)
        except Exception as error:
            if not self._pooled.on_accelerator:
                raise
            log.warning(
                "%s failed on %s (%s); running this request on the CPU instead",
                self._pooled.path.name,
                self._pooled.providers[0],
                _first_line(error),
            )
            return self._cpu_session().run(output_names, input_feed, run_options)


_Key = tuple[str, tuple[str, ...], SessionOptions]


class SessionPool:
    """Thread-safe LRU cache of ONNX Runtime sessions, bounded by count and (optionally) by model bytes.

    `on_evict(sha256)` is called (outside the pool's lock) for every session
    the pool drops, so the owner can drop what holds it: the engine drops the
    adapters built on it, which is what frees the memory.
    """

    def __init__(
        self,
        providers: str | Sequence[str] = "auto",
        options: SessionOptions = SessionOptions(),
        max_sessions: int = 8,
        max_bytes: int | None = None,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.requested = parse_providers(providers)
        self.options = options
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes
        self._on_evict = on_evict
        self._sessions: OrderedDict[_Key, PooledSession] = OrderedDict()
        self._key_locks: dict[_Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._cpu: SessionPool | None = None

    def get(self, path: str | Path, sha256: str | None = None) -> PooledSession:
        """The session for an ONNX file, created on first use.

        `sha256` is the file's known hash (from the manifest); when omitted the
        file is hashed once and the result cached by (path, size, mtime).
        """
        path = Path(path).resolve()
        key: _Key = (sha256 or self.file_sha256(path), self.requested, self.options)
        with self._lock:
            pooled = self._sessions.get(key)
            if pooled is not None:
                self._sessions.move_to_end(key)
                return pooled
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                pooled = self._sessions.get(key)
                if pooled is not None:
                    self._sessions.move_to_end(key)
                    return pooled
            pooled = self._create(path, key[0])
            with self._lock:
                self._sessions[key] = pooled
                self._key_locks.pop(key, None)
                evicted = self._evict_over_limits()
            for gone in evicted:
                log.info("session pool: evicted %s", gone.path.name)
                if self._on_evict is not None:
                    self._on_evict(gone.sha256)
            return pooled

    def _evict_over_limits(self) -> list[PooledSession]:
        """Pop least-recently-used sessions past the count or byte limit (the newest always stays). Call with the lock held."""
        evicted: list[PooledSession] = []
        while len(self._sessions) > 1 and (
            len(self._sessions) > self.max_sessions
            or (self.max_bytes is not None and sum(p.bytes for p in self._sessions.values()) > self.max_bytes)
        ):
            evicted.append(self._sessions.popitem(last=False)[1])
        return evicted

    def touch(self, sha256s: frozenset[str] | set[str]) -> bool:
        """Mark the sessions with these keys most recently used; False if any of them is no longer loaded."""
        with self._lock:
            keys = [key for key in self._sessions if key[0] in sha256s]
            for key in keys:
                self._sessions.move_to_end(key)
            return {key[0] for key in keys} >= set(sha256s)

    def get_runnable(self, path: str | Path, sha256: str | None = None) -> FallbackSession:
        """Like :meth:`get`, wrapped so that accelerator failures fall back to a CPU session."""
        pooled = self.get(path, sha256)
        return FallbackSession(pooled, lambda: self._cpu_pool().get(pooled.path, pooled.sha256).session)

    def _cpu_pool(self) -> SessionPool:
        with self._lock:
            if self._cpu is None:
                self._cpu = SessionPool(providers="cpu", options=self.options, max_sessions=self.max_sessions)
            return self._cpu

    def clear(self) -> None:
        """Drop every session (frees their memory once no caller holds them)."""
        with self._lock:
            gone = list(self._sessions.values())
            self._sessions.clear()
            if self._cpu is not None:
                self._cpu.clear()
        for pooled in gone:
            if self._on_evict is not None:
                self._on_evict(pooled.sha256)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def loaded(self) -> list[PooledSession]:
        with self._lock:
            return list(self._sessions.values())

    def _create(self, path: Path, sha256: str) -> PooledSession:
        providers, warnings = select_providers(self.requested, ort.get_available_providers())
        for warning in warnings:
            log.warning("%s: %s", path.name, warning)
        try:
            session = ort.InferenceSession(str(path), sess_options=self.options.build(), providers=list(providers))
        except Exception as error:  # onnxruntime raises several unrelated types
            raise ModelLoadError(
                f"ONNX Runtime could not load {path}: {_first_line(error)}",
                "The file may be corrupt, truncated or not an ONNX model: verify it with `python -m facekit models verify`.",
                "Ask whoever runs this app to verify its model files, or choose another model (see the Models tab).",
            ) from error
        got = tuple(session.get_providers())
        self._warn_fallback(path, providers, got)
        size = path.stat().st_size
        return PooledSession(session=session, path=path, sha256=sha256, providers=got, requested=providers, bytes=size)

    def _warn_fallback(self, path: Path, wanted: tuple[str, ...], got: tuple[str, ...]) -> None:
        missing = [name for name in wanted if name != CPU and name not in got]
        if missing:
            log.warning(
                "%s: requested %s but the session runs on %s (the provider failed to initialise: "
                "check the CUDA/cuDNN versions this onnxruntime build needs)",
                path.name,
                ", ".join(missing),
                got[0] if got else "nothing",
            )

    def file_sha256(self, path: Path) -> str:
        """The file's sha256, hashed once per (path, size, mtime) for the pool's lifetime."""
        try:
            stat = path.stat()
        except OSError:
            raise ModelLoadError(f"Model file not found: {path}.", "Check the path.") from None
        marker = (str(path), stat.st_size, stat.st_mtime_ns)
        if marker not in self._hashes:
            self._hashes[marker] = sha256_of(path)
        return self._hashes[marker]


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
