"""Decode and encode beside the face work: a reader thread and a writer thread around the caller's loop.

`frames()` yields decoded frames (audio packets go straight on to the
writer, in file order); `put(image, frame)` hands a finished frame to the
writer; `finish()` flushes and moves the file into place; `abort()` stops
both threads and deletes the part file. Queues are bounded (`queue_size`
frames), so memory stays flat however long the video is; `queue_size` 0
does everything in the caller's thread. Seconds spent decoding and encoding
are added to `timings["decode"]` and `timings["encode"]`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from facekit.media.video import Frame, MediaReader, MediaWriter

_END = object()


class FramePipeline:
    """Decode and encode beside the face work, through bounded queues (memory stays flat); or inline with queue_size 0."""

    def __init__(self, reader: MediaReader, writer: MediaWriter, queue_size: int, timings: dict[str, float]) -> None:
        self.reader, self.writer, self.timings = reader, writer, timings
        self.threaded = queue_size > 0
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.decoded: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self.encoded: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self.threads: list[threading.Thread] = []
        if self.threaded:
            self.threads = [threading.Thread(target=self._decode, daemon=True), threading.Thread(target=self._encode, daemon=True)]
            for thread in self.threads:
                thread.start()

    def frames(self) -> Iterator[Frame]:
        """Frames for the face work; audio packets go straight on to the writer, in order."""
        source = self._queued() if self.threaded else self._timed_events()
        for item in source:
            if isinstance(item, Frame):
                yield item
            else:
                self._send(("audio", item))

    def _timed_events(self) -> Iterator[Any]:
        events = self.reader.events()
        while True:
            started = time.perf_counter()
            try:
                item = next(events)
            except StopIteration:
                return
            finally:
                self.timings["decode"] += time.perf_counter() - started
            yield item

    def _decode(self) -> None:
        try:
            for item in self._timed_events():
                if not self._put(self.decoded, item):
                    return
        except BaseException as error:  # handed to the face-work thread, which re-raises it
            self.errors.append(error)
        self._put(self.decoded, _END)

    def _queued(self) -> Iterator[Any]:
        while True:
            item = self.decoded.get()
            if item is _END:
                self._raise_errors()
                return
            yield item

    def put(self, image: np.ndarray, frame: Frame) -> None:
        self._send(("video", image, frame))

    def _send(self, item: tuple[Any, ...]) -> None:
        if not self.threaded:
            self._write(item)
            return
        self._raise_errors()
        if not self._put(self.encoded, item):
            self._raise_errors()

    def _write(self, item: tuple[Any, ...]) -> None:
        started = time.perf_counter()
        if item[0] == "video":
            self.writer.write(item[1], item[2])
        else:
            self.writer.write_audio(item[1])
        self.timings["encode"] += time.perf_counter() - started

    def _encode(self) -> None:
        while True:
            item = self.encoded.get()
            if item is _END:
                return
            if self.stop.is_set():
                continue  # aborting: drain without writing
            try:
                self._write(item)
            except BaseException as error:
                self.errors.append(error)
                self.stop.set()

    def _put(self, target: queue.Queue[Any], item: Any) -> bool:
        """Put unless the pipeline is stopping; False when it stopped first."""
        while True:
            if self.stop.is_set() and item is not _END:
                return False
            try:
                target.put(item, timeout=0.05)
                return True
            except queue.Full:
                if self.stop.is_set() and item is _END:
                    return False

    def _raise_errors(self) -> None:
        if self.errors:
            raise self.errors[0]

    def finish(self) -> None:
        """All frames sent: flush the encoder and move the file into place."""
        if self.threaded:
            self._put(self.encoded, _END)
            self.threads[1].join()
            self._raise_errors()
            started = time.perf_counter()
        else:
            started = time.perf_counter()
        self.writer.close()
        self.timings["encode"] += time.perf_counter() - started

    def abort(self) -> None:
        """Stop both threads and delete the part file."""
        self.stop.set()
        for target in (self.decoded, self.encoded):
            while not target.empty():
                try:
                    target.get_nowait()
                except queue.Empty:
                    break
        if self.threaded:
            try:
                self.encoded.put_nowait(_END)
            except queue.Full:
                pass
            for thread in self.threads:
                thread.join(timeout=10)
        self.writer.abort()
