"""What a batch reads and where each result goes.

Inputs are image files, folders (walked one folder at a time, never listing
a whole tree into memory), glob patterns, or list files: `.txt` / `.lst`
(one path per line), `.csv` (a `path` column) or `.parquet` (a `path`
column, read in row batches). Any of them may be a local path or a URI of a
pyarrow filesystem (`s3://bucket/photos/`).

Naming (the same for every backend): one input file and an OUT ending in
`.png` writes exactly OUT; otherwise OUT is a folder of `<stem>.png`, with a
walked folder's sub-folders mirrored under it (`--recursive`). With
`--format jpeg` / `webp` the same holds for `.jpg` (or `.jpeg`) / `.webp`.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from facekit.batch import storage
from facekit.errors import FaceKitError
from facekit.image_encode import OutputFormat

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"})
LIST_SUFFIXES = frozenset({".txt", ".lst", ".csv", ".parquet"})
PATH_COLUMN = "path"
GLOB_CHARACTERS = frozenset("*?[")
_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}


@dataclass(frozen=True)
class BatchItem:
    """One input and where its output goes (a file; jobs with several outputs derive names from it)."""

    input: str
    output: str

    @property
    def name(self) -> str:
        return storage.basename(self.input)


@dataclass(frozen=True)
class InputRef:
    """A found input and its path relative to what was given (sub-folders of a walked folder)."""

    location: str
    relative_dir: str = ""


def suffix(location: str) -> str:
    return os.path.splitext(storage.basename(location))[1].lower()


def stem(location: str) -> str:
    return os.path.splitext(storage.basename(location))[0]


def iter_inputs(specs: Iterable[str], recursive: bool = False, wanted: frozenset[str] = IMAGE_SUFFIXES) -> Iterator[InputRef]:
    """Every input the specs name, streamed; a FaceKitError for a spec that names nothing.

    `wanted`: the suffixes a walked folder contributes (images; a video job passes its own).
    """
    for spec in specs:
        if GLOB_CHARACTERS & set(spec):
            yield from _glob(spec)
        elif storage.is_dir(spec):
            yield from _walk(spec, "", recursive, wanted)
        elif suffix(spec) in LIST_SUFFIXES and storage.exists(spec):
            yield from (InputRef(location) for location in iter_list_file(spec))
        elif storage.exists(spec):
            yield InputRef(spec)
        else:
            raise FaceKitError(f"Input not found: {spec}.", "Check the path.")


def _walk(folder: str, relative_dir: str, recursive: bool, wanted: frozenset[str]) -> Iterator[InputRef]:
    """A folder's images, then (recursive) its sub-folders': one folder's listing in memory at a time."""
    folders: list[str] = []
    for entry in storage.list_dir(folder):
        name = storage.basename(entry.location)
        if entry.is_dir:
            if recursive and not name.startswith("."):
                folders.append(entry.location)
        elif suffix(name) in wanted:
            yield InputRef(entry.location, relative_dir)
    for sub in folders:
        yield from _walk(sub, os.path.join(relative_dir, storage.basename(sub)), recursive, wanted)


def _glob(pattern: str) -> Iterator[InputRef]:
    if not storage.is_uri(pattern):
        for path in sorted(glob.iglob(pattern, recursive=True)):
            if os.path.isfile(path):
                yield InputRef(path)
        return
    prefix = pattern[: min(pattern.index(c) for c in GLOB_CHARACTERS if c in pattern)]
    folder = prefix if prefix.endswith("/") else storage.parent(prefix)
    for entry in storage.list_dir(folder):
        if not entry.is_dir and fnmatch.fnmatch(entry.location, pattern):
            yield InputRef(entry.location)


def iter_list_file(location: str) -> Iterator[str]:
    """The paths a list file names, in order (relative paths are taken relative to the list file)."""
    base = storage.parent(location)
    kind = suffix(location)
    if kind == ".parquet":
        rows: Iterable[str] = _parquet_paths(location)
    else:
        text = storage.read_bytes(location, max_bytes=1 << 40).decode("utf-8")
        rows = _csv_paths(text, location) if kind == ".csv" else (line.strip() for line in text.splitlines())
    for row in rows:
        if row and not row.startswith("#"):
            yield row if storage.is_uri(row) or os.path.isabs(row) else storage.join(base, row)


def _csv_paths(text: str, location: str) -> Iterator[str]:
    reader = csv.DictReader(io.StringIO(text))
    if PATH_COLUMN not in (reader.fieldnames or []):
        raise FaceKitError(
            f"{storage.basename(location)} has no '{PATH_COLUMN}' column.", f"Name the column of input paths '{PATH_COLUMN}'."
        )
    for row in reader:
        yield (row[PATH_COLUMN] or "").strip()


def _parquet_paths(location: str) -> Iterator[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise FaceKitError("Parquet list files need pyarrow.", "pip install -r requirements-ray.txt") from None
    if storage.is_uri(location):
        filesystem, path = storage._filesystem(location)
        parquet = pq.ParquetFile(filesystem.open_input_file(path))
    else:
        parquet = pq.ParquetFile(storage.local_path(location))
    if PATH_COLUMN not in parquet.schema_arrow.names:
        raise FaceKitError(
            f"{storage.basename(location)} has no '{PATH_COLUMN}' column.", f"Name the column of input paths '{PATH_COLUMN}'."
        )
    for batch in parquet.iter_batches(columns=[PATH_COLUMN], batch_size=4096):
        yield from (str(value) for value in batch.column(0).to_pylist() if value is not None)


def plan_items(
    specs: list[str], out: str, recursive: bool = False, output_suffix: str = ".png", wanted: frozenset[str] = IMAGE_SUFFIXES
) -> Iterator[BatchItem]:
    """Stream (input, output) pairs; a FaceKitError when nothing is found or two inputs share an output.

    `output_suffix`: ".png" for photo jobs; a video job names its container (".mp4").
    """
    single = _single_output(specs, out, output_suffix)
    if single is not None:
        yield single
        return
    if suffix(out) in IMAGE_SUFFIXES and not storage.is_dir(out):
        raise FaceKitError(f"-o {out} names a file, but the inputs are several files or a folder.", "Give a folder for -o.")
    top: dict[str, str] = {}  # outputs directly in OUT (given files, list entries, a folder's top level)
    group: dict[str, str] = {}  # outputs of the sub-folder being walked (its files come together)
    found = False
    for ref in iter_inputs(specs, recursive, wanted):
        found = True
        name = f"{stem(ref.location)}{output_suffix}"
        output = storage.join(out, ref.relative_dir, name) if ref.relative_dir else storage.join(out, name)
        seen = top if not ref.relative_dir else group
        if seen is group and group and storage.parent(next(iter(group))) != storage.parent(output):
            group.clear()
        if output in seen:
            raise FaceKitError(
                f"{seen[output]} and {ref.location} would both be written to {output}.", "Rename one of them or run them separately."
            )
        seen[output] = ref.location
        yield BatchItem(ref.location, output)
    if not found:
        raise FaceKitError("No input images found.", f"Give image files or folders holding {', '.join(sorted(IMAGE_SUFFIXES))} files.")


def _single_output(specs: list[str], out: str, output_suffix: str = ".png") -> BatchItem | None:
    """One plain input file and an OUT with an image suffix: exactly OUT (whose suffix must name the format written)."""
    if len(specs) != 1 or GLOB_CHARACTERS & set(specs[0]) or suffix(specs[0]) in LIST_SUFFIXES or storage.is_dir(specs[0]):
        return None
    if suffix(out) not in IMAGE_SUFFIXES | {output_suffix} or storage.is_dir(out):
        return None
    if not storage.exists(specs[0]):
        raise FaceKitError(f"Input not found: {specs[0]}.", "Check the path.")
    written = OutputFormat.for_suffix(output_suffix)
    if written is not None and suffix(out) not in written.suffixes:
        hint = f"Use -o {os.path.splitext(out)[0]}{output_suffix}, or choose the format with {{control:format}}."
        raise FaceKitError(f"-o {out}: FaceKit writes {_FORMAT_NAMES[written.kind]} files here (they carry the AI-edited label).", hint)
    return BatchItem(specs[0], out)
