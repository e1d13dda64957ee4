"""The batch jobs, as picklable specs that build their per-image function on an engine.

A spec (RestoreJob, SwapJob, FrontalizeJob) holds only options and bytes,
so it travels to Ray actors; `prepare(engine)` loads the models once (and
fails before any image when one is missing) and returns the function that
turns one decoded image into the encoded files to write plus its report
record. The local runner and the Ray actors call exactly this function, so
both backends write the same files and the same rows.

Video jobs plug in here (helper V's commands/video.py): a spec with
`output_suffix = ".mp4"`, `input_suffixes = VIDEO_SUFFIXES` and a prepared
job with `reads_image=False`, whose `run(item, empty)` streams item.input
itself, writes item.output atomically itself (OUT.part renamed) and returns
`JobOutput([], record)`. Both backends then run it unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from facekit.batch import storage
from facekit.batch.inputs import BatchItem, stem
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.image_encode import OutputFormat
from facekit.imageio import DEFAULT_MAX_PIXELS, decode_image
from facekit.provenance import provenance_metadata

if TYPE_CHECKING:
    from facekit.processors.common import JobResult
    from facekit.processors.reports import FrontalizeFaceReport


@dataclass
class JobOutput:
    """What one input produced: (location, image, provenance metadata) to write, and its report record.

    `pending`, when set, computes the rest of the record (the identity report): the runner calls it
    while it encodes the files in a worker thread (issue 17.7).
    """

    files: list[tuple[str, np.ndarray, dict[str, str]]]
    record: dict[str, object]
    pending: Callable[[], dict[str, object]] | None = None


RunImage = Callable[[BatchItem, np.ndarray], JobOutput]


@dataclass
class PreparedJob:
    """A job ready to run on one engine: the per-image function."""

    name: str
    run: RunImage
    reads_image: bool = True  # False (video jobs): `run` gets the item and an empty array and reads the input itself


class BatchJob(Protocol):
    """A picklable job description (the batch runners need nothing else); the jobs are frozen dataclasses."""

    @property
    def name(self) -> str: ...

    @property
    def max_pixels(self) -> int: ...

    @property
    def single_output(self) -> bool:  # True: an item writes exactly item.output
        ...

    def prepare(self, engine: Engine) -> PreparedJob: ...

    def existing_outputs(self, item: BatchItem) -> list[str]: ...


def only_output(item: BatchItem) -> list[str]:
    """[item.output] when it exists."""
    return [item.output] if storage.exists(item.output) else []


def _labelled(image: np.ndarray, job: str, models: dict[str, str], details: dict[str, object]) -> tuple[np.ndarray, dict[str, str]]:
    return image, provenance_metadata(job, models, details)


def _record(result: JobResult) -> dict[str, object]:
    return {"faces": result.face_dicts(), "models": result.models, "warnings": result.warnings}


@dataclass(frozen=True)
class RestoreJob:
    options: object  # facekit.processors.restore.RestoreOptions (typed loosely: imported lazily)
    max_pixels: int = DEFAULT_MAX_PIXELS
    name: str = "restore"
    single_output: bool = True
    output_format: OutputFormat = OutputFormat()

    @property
    def output_suffix(self) -> str:
        return self.output_format.suffix

    def prepare(self, engine: Engine) -> PreparedJob:
        from facekit.processors.restore import RestoreOptions, RestorePipeline

        options = self.options
        assert isinstance(options, RestoreOptions)
        pipeline = RestorePipeline.from_engine(engine, options)  # fail once, before the batch, on a missing or mismatched model

        def run(item: BatchItem, image: np.ndarray) -> JobOutput:
            pending = pipeline.start(image)
            details: dict[str, object] = {
                "input": item.name, "blend": options.blend, "fidelity": options.fidelity, "upscale": options.upscale
            }
            labelled = _labelled(pending.image, "restore", pending.models, details)
            return JobOutput([(item.output, *labelled)], {}, lambda: _record(pending.finish()))

        return PreparedJob(self.name, run)

    def existing_outputs(self, item: BatchItem) -> list[str]:
        return only_output(item)


@dataclass(frozen=True)
class SwapJob:
    options: object  # facekit.processors.swap.SwapOptions
    sources: tuple[bytes, ...]  # encoded source photos (bytes travel to workers; paths may not exist there)
    source_names: tuple[str, ...]
    max_pixels: int = DEFAULT_MAX_PIXELS
    name: str = "swap"
    single_output: bool = True
    output_format: OutputFormat = OutputFormat()

    @property
    def output_suffix(self) -> str:
        return self.output_format.suffix

    def prepare(self, engine: Engine) -> PreparedJob:
        from facekit.processors.swap import SwapOptions, SwapPipeline

        options = self.options
        assert isinstance(options, SwapOptions)
        images = [decode_image(data, max_pixels=self.max_pixels) for data in self.sources]
        pipeline = SwapPipeline.from_engine(engine, images, options, names=list(self.source_names))  # fails once, before the batch
        names = list(self.source_names)

        def run(item: BatchItem, image: np.ndarray) -> JobOutput:
            pending = pipeline.start(image)
            details: dict[str, object] = {
                "input": item.name, "sources": names, "weight": options.weight, "faces": [f.index for f in pending.faces]
            }
            labelled = _labelled(pending.image, "swap", pending.models, details)
            return JobOutput([(item.output, *labelled)], {}, lambda: _record(pending.finish()))

        return PreparedJob(self.name, run)

    def existing_outputs(self, item: BatchItem) -> list[str]:
        return only_output(item)


@dataclass(frozen=True)
class FrontalizeJob:
    options: object  # facekit.processors.frontalize.FrontalizeOptions
    sheet: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    name: str = "frontalize"
    single_output: bool = False
    describe: Callable[[FrontalizeFaceReport], None] | None = field(default=None, compare=False)
    output_format: OutputFormat = OutputFormat()

    @property
    def output_suffix(self) -> str:
        return self.output_format.suffix

    def prepare(self, engine: Engine) -> PreparedJob:
        from facekit.processors.frontalize import FrontalizeOptions, FrontalizePipeline, side_by_side

        options = self.options
        assert isinstance(options, FrontalizeOptions)
        sheet, describe, suffix = self.sheet, self.describe, self.output_suffix
        pipeline = FrontalizePipeline.from_engine(engine, options)  # loads the models once, before any image

        def run(item: BatchItem, image: np.ndarray) -> JobOutput:
            frontal_run = pipeline(image, allow_none=True)  # the batch names the file when no face could be done
            files: list[tuple[str, np.ndarray, dict[str, str]]] = []
            for face in frontal_run.frontal:
                picture = side_by_side(face.original_crop, face.image) if sheet else face.image
                target = face_output(item, face.index, sheet, suffix)
                details: dict[str, object] = {"input": item.name, "face": face.report.as_dict()}
                files.append((target, *_labelled(picture, "frontalize", frontal_run.models, details)))
                face.report.file = target
            if describe is not None:
                for report in frontal_run.faces:
                    describe(report)
            if not files:
                reasons = " ".join(report.message or "" for report in frontal_run.faces)
                raise FaceKitError(f"No face in {item.name} could be frontalized. {reasons}")
            record: dict[str, object] = {
                "output": storage.parent(item.output),
                "files": [location for location, _, _ in files],
                "faces": frontal_run.face_dicts(),
                "models": frontal_run.models,
                "warnings": frontal_run.warnings,
            }
            return JobOutput(files, record)

        return PreparedJob(self.name, run)

    def existing_outputs(self, item: BatchItem) -> list[str]:
        return existing_face_outputs(item, self.output_suffix)


def face_output(item: BatchItem, index: int, sheet: bool, suffix: str = ".png") -> str:
    """OUT/<stem>_face<index>.png (or ..._sheet.png; .jpg / .webp with --format) next to the batch item's planned output."""
    kind = "_sheet" if sheet else ""
    return storage.join(storage.parent(item.output), f"{stem(item.output)}_face{index}{kind}{suffix}")


def existing_face_outputs(item: BatchItem, suffix: str = ".png") -> list[str]:
    """Face files an earlier run wrote for this input."""
    folder = storage.parent(item.output)
    if not storage.is_dir(folder):
        return []
    pattern = re.compile(rf"{re.escape(stem(item.output))}_face\d+(_sheet)?{re.escape(suffix)}")
    return [entry.location for entry in storage.list_dir(folder) if pattern.fullmatch(storage.basename(entry.location))]


def source_bytes(paths: Sequence[str], max_bytes: int) -> tuple[bytes, ...]:
    """The source photos' bytes, read once in the driver."""
    return tuple(storage.read_bytes(path, max_bytes) for path in paths)
