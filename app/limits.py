"""Hosted-mode guards around the Gradio server: a per-client rate limit on uploads and job submissions,
and cancelling a job whose client went away.

Rate limit: a pure ASGI middleware counts, per client address, the POSTs
that upload files or start a job in a sliding one-minute window and answers
429 with a sentence beyond the limit. Behind a proxy (Hugging Face Spaces)
the client is the last X-Forwarded-For hop, the address the proxy saw.

Cancellation: when a client disconnects, Gradio marks its running jobs as no
longer alive (`Queue.clean_events`) but cannot stop a handler running in a
worker thread. FaceKit's jobs report progress between faces; `job_progress`
checks the flag there and stops the job (a waiting job is dropped by Gradio
itself). The flag is read from Gradio's queue, which is not public API: if a
Gradio release changes it, jobs simply run to the end as before.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from facekit.errors import FaceKitError
from facekit.processors.common import JobProgress

LIMITED_PATH_ENDS = ("/upload", "/queue/join")
MAX_TRACKED_CLIENTS = 10_000


class JobCancelled(FaceKitError):
    """The client that asked for a job disconnected; the job stopped at the next face."""


class RateLimit:
    """ASGI middleware: at most `per_minute` uploads + job submissions per client address per minute."""

    def __init__(self, app: Any, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("method") == "POST" and _limited(scope.get("path", "")):
            if not self.allow(client_address(scope)):
                await _too_many(send, self.per_minute)
                return
        await self.app(scope, receive, send)

    def allow(self, client: str) -> bool:
        now = self._clock()
        with self._lock:
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - 60.0:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            if len(self._seen) > MAX_TRACKED_CLIENTS:  # forget the quietest clients first
                for stale in [key for key, value in self._seen.items() if not value or value[-1] <= now - 60.0]:
                    del self._seen[stale]
            return True


def _limited(path: str) -> bool:
    return path.endswith(LIMITED_PATH_ENDS) or "/call/" in path


def client_address(scope: dict) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            return value.decode("latin-1").split(",")[-1].strip()
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _too_many(send: Any, per_minute: int) -> None:
    body = json.dumps(
        {
            "detail": f"Too many uploads or jobs from your address: this public demo takes at most {per_minute} a minute. "
            "Wait a minute and try again."
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"retry-after", b"60")]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def client_gone() -> bool:
    """True when Gradio marked the running event's client as disconnected."""
    try:
        from gradio.context import LocalContext

        blocks = LocalContext.blocks.get(None)
        event_id = LocalContext.event_id.get(None)
        job_sets = blocks._queue.active_jobs if blocks is not None and event_id else []
    except Exception:  # noqa: BLE001 - not public API: without it, jobs run to the end
        return False
    for job_set in job_sets:
        for job in job_set or ():
            if getattr(job, "_id", None) == event_id:
                return not getattr(job, "alive", True)
    return False


def job_progress(progress: Any) -> JobProgress:
    """A JobProgress driving gr.Progress that stops the job when its client has gone."""

    def update(fraction: float, message: str) -> None:
        if client_gone():
            raise JobCancelled("The client disconnected, so the job was cancelled.", "Run it again to get the result.")
        progress(fraction, desc=message)

    return update
