"""Resolve a model id to a verified local file.

Order of search for a downloadable (`source: url`) entry:

1. the models dir (default `<repo>/models`);
2. each mirror: a folder, or a base URL (files looked up by file name);
3. the entry's own URLs, in order;
4. for a member of an archive (`archive: buffalo_l`), the archive itself,
   resolved the same way, then the member extracted and verified.

Downloads stream into `<file>.part`, resume with an HTTP Range request after
a cut connection, retry with exponential backoff, report progress through a
callback, and are renamed into place only after the sha256 matched. A lock
file serialises fetches of one file across threads and processes. Offline,
no socket is opened: only the models dir and folder mirrors are used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import filelock
import requests

from facekit.disk import is_no_space, no_space_error
from facekit.errors import ASK_WHOEVER_RUNS_THE_APP, DownloadError, FaceKitError, HashMismatchError, ModelUnavailableError
from facekit.hashing import has_valid_stamp, remove_stamp, sha256_of, write_stamp
from facekit.manifest import Manifest, ModelEntry

#: progress(label, bytes_done, bytes_total or None)
ProgressCallback = Callable[[str, int, "int | None"], None]

def _default_models_dir() -> Path:
    """`<repo>/models` in a checkout; for an installed FaceKit, ~/.cache/facekit/models (or $XDG_CACHE_HOME/facekit/models)."""
    checkout = Path(__file__).resolve().parent.parent / "models"
    if checkout.is_dir():
        return checkout
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facekit" / "models"


DEFAULT_MODELS_DIR = _default_models_dir()
_CHUNK_BYTES = 1 << 20
_STREAM_CHUNK_BYTES = 64 * 1024  # small, so little is lost when a connection drops


@dataclass(frozen=True)
class StoreConfig:
    """Where weights live and how they are fetched."""

    models_dir: Path = DEFAULT_MODELS_DIR
    mirrors: tuple[str, ...] = ()
    offline: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 4
    backoff_seconds: float = 1.0
    lock_timeout: float = 3600.0


@dataclass(frozen=True)
class ModelStatus:
    """What a model needs before it can run: ready, a download, or nothing will help here."""

    state: Literal["ready", "download", "unavailable"]
    detail: str
    path: Path | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def format_bytes(count: int | None) -> str:
    if count is None:
        return "size unknown"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MB"
    return f"{count / 1024:.0f} KB"


class WeightStore:
    """Finds, fetches and verifies the files behind manifest entries."""

    def __init__(self, manifest: Manifest, config: StoreConfig, http: requests.Session | None = None) -> None:
        self.manifest = manifest
        self.config = config
        self._http = http
        self._verified: dict[tuple[str, int, int, int], str] = {}  # (path, size, mtime, ctime) -> sha256

    # ------------------------------------------------------------------ paths
    def local_path(self, entry: ModelEntry) -> Path:
        """Where a downloadable entry's file lives in the models dir."""
        if entry.file is None:
            raise FaceKitError(f"Model {entry.id!r} has no weights file.", "It is built in and needs no download.")
        models_dir = self.config.models_dir.resolve()
        path = (models_dir / entry.file).resolve()
        if path.parent != models_dir:
            raise FaceKitError(f"Model {entry.id!r} names a file outside the models dir: {entry.file!r}.", "Fix the manifest.")
        return path

    def package_path(self, entry: ModelEntry) -> Path | None:
        """The installed file of a `source: package` entry, or None when the package is missing."""
        assert entry.package is not None
        spec = importlib.util.find_spec(entry.package)
        if spec is None or spec.origin is None:
            return None
        root = Path(spec.origin).parent
        if entry.file is None:
            return root
        path = (root / entry.file).resolve()
        if root.resolve() not in path.parents:
            raise FaceKitError(f"Model {entry.id!r} names a file outside its package: {entry.file!r}.", "Fix the manifest.")
        return path

    # ----------------------------------------------------------------- status
    def status(self, model_id: str) -> ModelStatus:
        """Cheap status check (sizes and stamps; no hashing, no network)."""
        entry = self.manifest.get(model_id)
        if entry.source == "builtin":
            return ModelStatus("ready", "built in")
        if entry.source == "package":
            return self._package_status(entry)
        if entry.source == "user":
            return ModelStatus("unavailable", f"no public weights: use your own file with --model-file PATH --family {entry.family}")
        if entry.is_archive:
            return self._archive_status(entry)
        return self._url_status(entry)

    def _package_status(self, entry: ModelEntry) -> ModelStatus:
        path = self.package_path(entry)
        if path is None or not path.exists():
            return ModelStatus("unavailable", f"pip package {entry.package!r} is not installed (pip install -r requirements.txt)")
        return ModelStatus("ready", f"installed with {entry.package}", path)

    def _url_status(self, entry: ModelEntry) -> ModelStatus:
        path = self.local_path(entry)
        if path.exists():
            if entry.bytes is not None and path.stat().st_size != entry.bytes:
                detail = f"{path.name} on disk has the wrong size; download again ({format_bytes(entry.bytes)})"
                return ModelStatus("download", detail, path)
            return ModelStatus("ready", "downloaded", path)
        if self._folder_mirror_file(entry) is not None:
            return ModelStatus("download", f"copy from mirror ({format_bytes(entry.bytes)})")
        if entry.archive is not None:
            archive = self.manifest.get(entry.archive)
            if self.local_path(archive).exists():
                return ModelStatus("download", f"extract from {archive.file}")
            if self.config.offline and self._folder_mirror_file(archive) is None:
                return ModelStatus("unavailable", f"offline, and neither {entry.file} nor {archive.file} is in the models dir")
            return ModelStatus("download", f"download {archive.id} ({format_bytes(archive.bytes)}) and extract")
        if self.config.offline:
            return ModelStatus("unavailable", f"offline, and {entry.file} is not in the models dir")
        return ModelStatus("download", f"download {format_bytes(entry.bytes)}")

    def _archive_status(self, entry: ModelEntry) -> ModelStatus:
        members = self.manifest.members_of(entry.id)
        if members and all(self.local_path(member).exists() for member in members):
            return ModelStatus("ready", "members extracted")
        return self._url_status(entry)

    # ---------------------------------------------------------------- resolve
    def resolve(self, model_id: str, progress: ProgressCallback | None = None, force: bool = False) -> Path:
        """A verified local file for `model_id` (fetching it if needed and allowed).

        For `builtin` entries there is no file: asking raises. For an archive
        entry the archive's members are extracted and the models dir is returned.
        """
        entry = self.manifest.get(model_id)
        if entry.source == "builtin":
            raise FaceKitError(f"Model {model_id!r} is built in and has no weights file.", "Use it directly.")
        if entry.source == "package":
            return self._resolve_package(entry)
        if entry.source == "user":
            raise ModelUnavailableError(
                f"Model {model_id!r} has no public weights to download.",
                f"Use your own ONNX file: --model-file PATH --family {entry.family} (the entry's numbers feed it).",
                "This app cannot use it: choose another model (see the Models tab).",
            )
        if entry.is_archive:
            self._resolve_archive_members(entry, progress, force)
            return self.config.models_dir.resolve()
        return self._resolve_url_entry(entry, progress, force)

    def _resolve_package(self, entry: ModelEntry) -> Path:
        path = self.package_path(entry)
        if path is None or not path.exists():
            raise ModelUnavailableError(
                f"Model {entry.id!r} comes with the pip package {entry.package!r}, which is not installed.",
                f"Run `pip install -r requirements.txt` (or `pip install {(entry.package or '').replace('_', '-')}`).",
                ASK_WHOEVER_RUNS_THE_APP,
            )
        if entry.file is not None and entry.sha256 is not None:
            self._check_hash(entry, path, remove_on_mismatch=False, origin="installed package file")
        return path

    def _resolve_url_entry(self, entry: ModelEntry, progress: ProgressCallback | None, force: bool) -> Path:
        target = self.local_path(entry)
        if target.exists() and not force:  # reading a file that is in place needs no lock (read-only dirs work)
            self._check_hash(entry, target, remove_on_mismatch=False, origin="file in the models dir")
            return target
        _make_folder(target.parent)
        with self._lock(target, entry):
            if target.exists() and not force:  # another process fetched it while we waited
                self._check_hash(entry, target, remove_on_mismatch=False, origin="file in the models dir")
                return target
            if force:
                target.unlink(missing_ok=True)
                remove_stamp(target)
            self._fetch(entry, target, progress)
            return target

    def _resolve_archive_members(self, archive: ModelEntry, progress: ProgressCallback | None, force: bool) -> None:
        for member in self.manifest.members_of(archive.id):
            self._resolve_url_entry(member, progress, force)

    # ------------------------------------------------------------------ fetch
    def _fetch(self, entry: ModelEntry, target: Path, progress: ProgressCallback | None) -> None:
        """Bring `entry`'s file to `target` from the first source that delivers a verified copy."""
        failures: list[FaceKitError] = []
        for kind, location in self._sources(entry):
            try:
                self._fetch_from(kind, location, entry, target, progress)
                return
            except (DownloadError, HashMismatchError, ModelUnavailableError) as error:
                failures.append(error)
        raise self._no_source_error(entry, target, failures)

    def _fetch_from(self, kind: str, location: str, entry: ModelEntry, target: Path, progress: ProgressCallback | None) -> None:
        """One source; a full disk removes the partial file and says how much space the file needs."""
        try:
            if kind == "folder":
                self._copy_from_folder(entry, Path(location), target, progress)
            elif kind == "url":
                self._download(entry, location, target, progress)
            else:
                self._extract_from_archive(entry, target, progress)
        except OSError as error:
            if not is_no_space(error):
                raise
            _part_path(target).unlink(missing_ok=True)
            raise no_space_error(target, entry.bytes) from None

    def _sources(self, entry: ModelEntry) -> list[tuple[str, str]]:
        assert entry.file is not None
        sources: list[tuple[str, str]] = []
        for mirror in self.config.mirrors:
            if is_url(mirror):
                if not self.config.offline:
                    sources.append(("url", mirror.rstrip("/") + "/" + entry.file))
            elif (Path(mirror) / entry.file).is_file():
                sources.append(("folder", mirror))
        if not self.config.offline:
            sources.extend(("url", url) for url in entry.urls)
        if entry.archive is not None:
            sources.append(("archive", entry.archive))
        return sources

    def _folder_mirror_file(self, entry: ModelEntry) -> Path | None:
        for mirror in self.config.mirrors:
            if not is_url(mirror) and entry.file and (Path(mirror) / entry.file).is_file():
                return Path(mirror) / entry.file
        return None

    def _no_source_error(self, entry: ModelEntry, target: Path, failures: list[FaceKitError]) -> FaceKitError:
        mismatches = [f for f in failures if isinstance(f, HashMismatchError)]
        if mismatches and len(failures) == 1:
            return mismatches[0]
        if failures:
            reasons = " | ".join(f.message for f in failures)
            kind = HashMismatchError if len(mismatches) == len(failures) else DownloadError
            return kind(
                f"Could not fetch {entry.file} for model {entry.id!r}: every source failed: {reasons}",
                f"Place a verified copy at {target} or pass --mirror with a folder or URL that has it.",
                ASK_WHOEVER_RUNS_THE_APP,
            )
        if self.config.offline:
            return ModelUnavailableError(
                f"Model {entry.id!r} needs {entry.file} ({format_bytes(entry.bytes)}, sha256 {entry.sha256}), "
                f"which is not in the models dir {target.parent}; offline mode, so nothing was downloaded.",
                f"Copy the file to {target}, or pass --mirror FOLDER that holds it, or run without --offline.",
                ASK_WHOEVER_RUNS_THE_APP,
            )
        return ModelUnavailableError(
            f"Model {entry.id!r} has no source to fetch {entry.file} from.",
            f"Place the file at {target} or pass --mirror.",
            ASK_WHOEVER_RUNS_THE_APP,
        )

    def _copy_from_folder(self, entry: ModelEntry, folder: Path, target: Path, progress: ProgressCallback | None) -> None:
        assert entry.file is not None
        source = folder / entry.file
        part = _part_path(target)
        total = source.stat().st_size
        done = 0
        with open(source, "rb") as reader, open(part, "wb") as writer:
            while chunk := reader.read(_CHUNK_BYTES):
                writer.write(chunk)
                done += len(chunk)
                _report(progress, entry.file, done, total)
        self._finish(entry, part, target, origin=f"mirror folder {folder}")

    def _download(self, entry: ModelEntry, url: str, target: Path, progress: ProgressCallback | None) -> None:
        part = _part_path(target)
        last_error: Exception | None = None
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(self.config.backoff_seconds * 2 ** (attempt - 1))
            try:
                self._stream_to_part(entry, url, part, progress)
            except DownloadError:
                raise
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, _RetryableStatus) as error:
                last_error = error
                continue
            self._finish(entry, part, target, origin=url)
            return
        raise DownloadError(
            f"Downloading {entry.file} from {url} failed after {self.config.retries + 1} attempts: {_describe(last_error)}.",
            "Check the connection and run the same command again: it resumes where it stopped.",
            "Try again later: the download resumes where it stopped.",
        )

    def _stream_to_part(self, entry: ModelEntry, url: str, part: Path, progress: ProgressCallback | None) -> None:
        assert entry.file is not None
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        with self._session().get(url, stream=True, timeout=timeout, headers=headers) as response:
            if response.status_code == 416 and have:
                return  # the part file is already complete; the hash decides
            if response.status_code >= 500 or response.status_code == 429:
                raise _RetryableStatus(f"HTTP {response.status_code} {response.reason}")
            if response.status_code >= 400:
                raise DownloadError(
                    f"Downloading {entry.file} from {url} failed: HTTP {response.status_code} {response.reason}.",
                    "The link may be dead: try another --mirror, or place the file in the models dir by hand.",
                    ASK_WHOEVER_RUNS_THE_APP,
                )
            resumed = response.status_code == 206
            total = _total_size(response, have if resumed else 0) or entry.bytes
            done = have if resumed else 0
            with open(part, "ab" if resumed else "wb") as writer:
                _report(progress, entry.file, done, total)
                for chunk in response.iter_content(chunk_size=_STREAM_CHUNK_BYTES):
                    writer.write(chunk)
                    done += len(chunk)
                    _report(progress, entry.file, done, total)
            if total is not None and done < total:
                raise requests.exceptions.ChunkedEncodingError(f"connection closed at {done} of {total} bytes")

    def _extract_from_archive(self, entry: ModelEntry, target: Path, progress: ProgressCallback | None) -> None:
        assert entry.archive is not None and entry.file is not None
        archive_entry = self.manifest.get(entry.archive)
        archive_path = self._resolve_url_entry(archive_entry, progress, force=False)
        part = _part_path(target)
        with zipfile.ZipFile(archive_path) as archive:
            member = _find_member(archive, entry.file)
            if member is None:
                raise ModelUnavailableError(
                    f"{archive_entry.file} does not contain {entry.file} (needed by model {entry.id!r}).",
                    "The archive may be a different release: check the manifest's hashes.",
                )
            with archive.open(member) as reader, open(part, "wb") as writer:
                shutil.copyfileobj(reader, writer, _CHUNK_BYTES)
        self._finish(entry, part, target, origin=f"archive {archive_entry.file}")

    def _finish(self, entry: ModelEntry, part: Path, target: Path, origin: str) -> None:
        """Verify the part file; rename it into place only when its hash matches."""
        self._check_hash(entry, part, remove_on_mismatch=True, origin=origin)
        part.replace(target)
        assert entry.sha256 is not None
        write_stamp(target, entry.sha256)

    # ----------------------------------------------------------------- verify
    def _check_hash(self, entry: ModelEntry, path: Path, remove_on_mismatch: bool, origin: str) -> None:
        assert entry.sha256 is not None
        if self._known_good(path, entry.sha256):
            return
        actual = sha256_of(path)
        if actual != entry.sha256:
            if remove_on_mismatch:
                path.unlink(missing_ok=True)
            raise HashMismatchError(
                f"{path.name} ({origin}) has sha256 {actual}, but model {entry.id!r} expects {entry.sha256}"
                + (" (a hash claimed by public manifests)" if entry.claimed else "")
                + ("; the bad file was deleted." if remove_on_mismatch else "."),
                _mismatch_hint(entry, path, remove_on_mismatch),
                ASK_WHOEVER_RUNS_THE_APP,
            )
        self._remember(path, actual)

    def _known_good(self, path: Path, sha256: str) -> bool:
        stat = path.stat()
        if self._verified.get((str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)) == sha256:
            return True
        return path.suffix != ".part" and has_valid_stamp(path, sha256)

    def _remember(self, path: Path, sha256: str) -> None:
        stat = path.stat()
        self._verified[(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)] = sha256
        if path.suffix != ".part" and path.is_relative_to(self.config.models_dir.resolve()):
            write_stamp(path, sha256)

    def verify(self, model_id: str) -> tuple[bool, str]:
        """Re-hash what is on disk (ignoring stamps). Returns (ok, message); missing files are not errors."""
        entry = self.manifest.get(model_id)
        if entry.source == "builtin" or entry.sha256 is None:
            return True, "nothing to verify"
        if entry.is_archive and not self.local_path(entry).exists():
            return True, "archive not kept; its members are verified on their own"
        path = self.package_path(entry) if entry.source == "package" else self.local_path(entry)
        if path is None or not path.exists():
            return True, "not on disk"
        actual = sha256_of(path)
        if actual != entry.sha256:
            remove_stamp(path)
            return False, f"{path.name} has sha256 {actual}, expected {entry.sha256}"
        self._remember(path, actual)
        return True, f"ok ({path.name})"

    # ---------------------------------------------------------------- helpers
    @contextlib.contextmanager
    def _lock(self, target: Path, entry: ModelEntry) -> Iterator[None]:
        """Serialise fetches of one file across threads and processes; a lock that cannot be made is said plainly."""
        lock = filelock.FileLock(str(target) + ".lock", timeout=self.config.lock_timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise DownloadError(
                f"Another process has been fetching {target.name} for over {self.config.lock_timeout:.0f} s.",
                f"Wait for it, or delete {target}.lock if no FaceKit process is running.",
                "Another job is fetching it: try again in a minute.",
            ) from None
        except OSError as error:
            raise FaceKitError(
                f"Cannot create the lock file {target.name}.lock in {target.parent} ({error.strerror or error}): "
                f"model {entry.id!r} must be fetched there and the folder is not writable.",
                f"Make {target.parent} writable, use --models-dir with a writable folder, or place a verified {target.name} there.",
                ASK_WHOEVER_RUNS_THE_APP,
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _session(self) -> requests.Session:
        if self._http is None:
            self._http = requests.Session()
            self._http.headers["User-Agent"] = "FaceKit weight store"
        return self._http


class _RetryableStatus(Exception):
    """A server answer worth retrying (5xx, 429)."""


def _make_folder(folder: Path) -> None:
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FaceKitError(
            f"Cannot create the models dir {folder} ({error.strerror or error}).",
            "Use --models-dir (or FACEKIT_MODELS_DIR) with a folder you can write to.",
            ASK_WHOEVER_RUNS_THE_APP,
        ) from None


def _part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _report(progress: ProgressCallback | None, label: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(label, done, total)


def _total_size(response: requests.Response, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return int(length) + offset if length and length.isdigit() else None


def _describe(error: Exception | None) -> str:
    if isinstance(error, requests.Timeout):
        return "the server did not answer in time"
    if isinstance(error, requests.ConnectionError):
        return f"connection failed ({type(error).__name__})"
    return str(error) if error else "unknown error"


def _find_member(archive: zipfile.ZipFile, file_name: str) -> zipfile.ZipInfo | None:
    """The archive member whose base name is `file_name` (archives may nest a folder)."""
    for info in archive.infolist():
        if not info.is_dir() and Path(info.filename).name == file_name:
            return info
    return None


def _mismatch_hint(entry: ModelEntry, path: Path, removed: bool) -> str:
    if removed:
        return (
            f"Run `python -m facekit models download {entry.id}` again; "
            "if it keeps failing, the source serves a different file: try another --mirror."
        )
    return f"Delete {path} and run `python -m facekit models download {entry.id}`, or replace it with the right file."
