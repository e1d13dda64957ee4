"""One input through a prepared job, the same on every backend: read -> decode -> job -> encode -> atomic write.

`guarded` turns any per-file failure into a row with its error (FaceKit's
sentence, or the exception's type and message for a bug), so one bad file
never stops a batch. Only a full disk (DiskFullError) and Ctrl-C stop it.

Every written image (PNG, or JPEG / WebP with `--format`) carries
`facekit:batch_run` (the run's id) beside the job's provenance. A retried
batch (a Ray worker restarted mid-batch) runs the item again (so its report
row is complete) but writes only the files that do not carry this run's id
yet: restore's one output, or the face files of frontalize, known only after
the job ran.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from facekit.batch import storage
from facekit.batch.inputs import BatchItem
from facekit.batch.jobs import BatchJob, PreparedJob
from facekit.errors import FaceKitError, ImageDecodeError
from facekit.image_encode import OutputFormat, is_complete_image, read_provenance
from facekit.imageio import DEFAULT_MAX_BYTES, decode_image

log = logging.getLogger(__name__)

RUN_KEY = "facekit:batch_run"
MAX_ERROR_CHARS = 300
SKIPPED = "output exists"
WRITTEN_EARLIER = "written earlier in this run (the batch was retried after a worker restart)"


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def output_provenance(location: str) -> dict[str, str] | None:
    """The provenance of a complete, decodable PNG / JPEG / WebP at `location`; None when it is missing, cut or not one."""
    try:
        data = storage.read_bytes(location, DEFAULT_MAX_BYTES * 4)
        if not is_complete_image(data):  # Pillow decodes a file cut after its pixel data without complaint
            return None
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every pixel: a truncated or corrupted file fails here
        return read_provenance(data)
    except Exception:  # noqa: BLE001 - any failure means "not a finished output"
        return None


def is_finished_output(location: str) -> bool:
    """An earlier FaceKit output: it decodes entirely and carries FaceKit's provenance chunks."""
    text = output_provenance(location)
    return text is not None and text.get("facekit:ai_edited") == "true" and "facekit:job" in text


def finished_outputs(existing: list[str]) -> list[str] | None:
    """`existing` when there is some and all of it is finished (--skip-existing skips the item), else None."""
    if existing and all(is_finished_output(location) for location in existing):
        return existing
    return None


def written_by_run(location: str, run_id: str) -> bool:
    text = output_provenance(location)
    return text is not None and text.get(RUN_KEY) == run_id


def process_item(prepared: PreparedJob, job: BatchJob, item: BatchItem, run_id: str, data: bytes | None = None) -> dict[str, object]:
    """Run the job on one input and write its outputs; raises on failure (see `guarded`)."""
    image = np.zeros((0, 0, 3), np.uint8)
    if prepared.reads_image:
        if data is None:
            data = storage.read_bytes(item.input, DEFAULT_MAX_BYTES)
        try:
            image = decode_image(data, max_pixels=job.max_pixels)
        except ImageDecodeError as error:  # bytes carry no name: say which file, as decoding the path would
            raise ImageDecodeError(error.message.replace("The image data", item.name, 1), error.hint) from None
    output = prepared.run(item, image)
    output_format = getattr(job, "output_format", None) or OutputFormat()
    labelled = [(location, picture, {**metadata, RUN_KEY: run_id}) for location, picture, metadata in output.files]
    fresh = [file for file in labelled if not written_by_run(file[0], run_id)]  # a retried batch: this run wrote the rest
    record = output.record
    if output.pending is None:
        encoded = [output_format.encode(picture, metadata) for _, picture, metadata in fresh]
    else:  # encode in a worker thread while the identity report runs here (both release the GIL in native code)
        with ThreadPoolExecutor(max_workers=1) as pool:
            futures = [pool.submit(output_format.encode, picture, metadata) for _, picture, metadata in fresh]
            record = {**record, **output.pending()}
            encoded = [future.result() for future in futures]
    for (location, _, _), data in zip(fresh, encoded, strict=True):
        storage.write_bytes_atomic(location, data)
    earlier = len(labelled) - len(fresh)
    if earlier:
        return {**record, "note": f"{earlier} of {len(labelled)} file(s) {WRITTEN_EARLIER}"}
    return record


def guarded(item: BatchItem, process: Callable[[BatchItem], dict[str, object]]) -> dict[str, object]:
    """`process(item)` as a report row; any failure but a full disk or Ctrl-C becomes a row with its error."""
    started = time.perf_counter()
    row: dict[str, object] = {"input": item.input, "output": item.output}
    try:
        if not storage.is_uri(item.output):
            os.makedirs(storage.parent(item.output) or ".", exist_ok=True)
        row.update({"status": "ok", **process(item)})
    except storage.DiskFullError:
        raise
    except FaceKitError as error:
        row = {"input": item.input, "status": "error", "error": _bounded(str(error))}
    except Exception as error:  # noqa: BLE001 - a bug on one file must not lose the rest of the batch
        log.exception("unexpected error on %s", item.input)
        row = {"input": item.input, "status": "error", "error": _bounded(f"FaceKit failed on this file ({type(error).__name__}: {error}).")}
    row.setdefault("seconds", round(time.perf_counter() - started, 3))
    row["worker"] = worker_name()
    return row


def skipped_row(item: BatchItem, existing: list[str]) -> dict[str, object]:
    """The row of an item --skip-existing left alone (jobs with several outputs list them)."""
    row: dict[str, object] = {"input": item.input, "output": item.output, "status": "skipped", "skipped": SKIPPED}
    if existing != [item.output]:
        row.update(skipped="outputs exist", files=existing)
    return {**row, "seconds": 0.0, "worker": worker_name()}


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
