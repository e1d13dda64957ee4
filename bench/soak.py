"""Soak test: start the app on 127.0.0.1, drive concurrent gradio_client clients, report.

    python bench/soak.py [--clients 8] [--requests 25] [--port 7990]

Each client sends `--requests` requests drawn in a fixed rotation from every
job endpoint the app offers, with good photos and bad uploads mixed in. The
script ends by itself: it stops the server and prints requests, failures
(expected errors for bad inputs counted apart from unexpected ones), p50/p95
latency per endpoint and the server's peak resident memory (VmHWM).
Traffic goes only to 127.0.0.1.

The server gets its own Gradio cache folder: Gradio keeps uploads at
content-addressed paths (/tmp/gradio/<hash>/<name> by default) and every
Gradio app deletes its files there when it closes, so another app on the same
machine (a test run uploading the same sample photo) would delete this
server's uploads under its running jobs ("No image file at ..."). Clients wait
up to --client-timeout seconds for each HTTP call (gradio_client's own default
is httpx's 5 s, shorter than any browser waits on a loaded machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import insightface

REPO = Path(__file__).resolve().parent.parent
IMAGES = Path(insightface.__file__).parent / "data" / "images"


@dataclass
class Outcome:
    endpoint: str
    seconds: float
    ok: bool
    expected_error: bool
    message: str = ""


Request = tuple[str, bool, Callable[[object], object]]  # (endpoint, expect an error?, call)


def requests_for(bad_file: Path, face: Path, group: Path) -> list[Request]:
    from gradio_client import handle_file

    return [
        ("/analyze", False, lambda c: c.predict(handle_file(str(group)), None, None, 0.5, api_name="/analyze")),
        ("/models", False, lambda c: c.predict(api_name="/models")),
        ("/analyze", True, lambda c: c.predict(handle_file(str(bad_file)), None, None, 0.5, api_name="/analyze")),
        ("/analyze", False, lambda c: c.predict(handle_file(str(face)), handle_file(str(group)), None, 0.5, api_name="/analyze")),
        ("/download_model", True, lambda c: c.predict("gfpgan_1.4", api_name="/download_model")),
        ("/restore", False, lambda c: c.predict(handle_file(str(group)), "classic", 0.5, 0.8, "all", 1, api_name="/restore")),
        ("/swap", False, lambda c: c.predict(handle_file(str(face)), handle_file(str(group)), None, "1,3", "", 0.5, None, True, True,
                                             api_name="/swap")),
        ("/swap", True, lambda c: c.predict(handle_file(str(face)), handle_file(str(group)), None, "all", "", 0.5, None, False, False,
                                            api_name="/swap")),  # no consent
        ("/frontalize", False, lambda c: c.predict(handle_file(str(group)), "all", None, api_name="/frontalize")),
        ("/restore", True, lambda c: c.predict(handle_file(str(bad_file)), "classic", 0.5, 0.8, "all", 1, api_name="/restore")),
    ]


def start_server(port: int, models_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    cache = models_dir.parent / "gradio-cache"  # this server's own uploads and results (see the module docstring)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(cache)}
    command = [sys.executable, str(REPO / "launch.py"), "--port", str(port), "--offline", "--models-dir", str(models_dir)]
    with open(log, "wb") as handle:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_until_up(url: str, seconds: float = 90.0) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not start within {seconds:.0f} s")


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_client(url: str, plan: list[Request], count: int, offset: int, timeout: float) -> list[Outcome]:
    from gradio_client import Client

    client = Client(url, verbose=False, httpx_kwargs={"timeout": timeout})
    outcomes = []
    for number in range(count):
        endpoint, expect_error, call = plan[(number + offset) % len(plan)]
        started = time.perf_counter()
        try:
            call(client)
            outcomes.append(Outcome(endpoint, time.perf_counter() - started, ok=not expect_error, expected_error=False))
        except Exception as error:  # noqa: BLE001 - every failure is classified below
            outcomes.append(
                Outcome(endpoint, time.perf_counter() - started, ok=False, expected_error=expect_error, message=str(error)[:160])
            )
    return outcomes


def print_report(outcomes: list[Outcome], seconds: float, peak_mb: float) -> None:
    unexpected = [o for o in outcomes if not o.ok and not o.expected_error]
    expected = [o for o in outcomes if o.expected_error]
    print(f"requests {len(outcomes)} in {seconds:.1f} s; ok {sum(o.ok for o in outcomes)}; "
          f"expected errors (bad input) {len(expected)}; unexpected failures {len(unexpected)}")
    print(f"server peak memory (VmHWM): {peak_mb:.0f} MB")
    print(f"{'endpoint':18} {'n':>4} {'p50 s':>8} {'p95 s':>8}")
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    for outcome in outcomes:
        by_endpoint[outcome.endpoint].append(outcome.seconds)
    for endpoint, times in sorted(by_endpoint.items()):
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        print(f"{endpoint:18} {len(times):4d} {statistics.median(times):8.2f} {p95:8.2f}")
    for outcome in unexpected[:5]:
        print(f"unexpected: {outcome.endpoint}: {outcome.message}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Soak the FaceKit app with concurrent clients (127.0.0.1 only).")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="requests per client")
    parser.add_argument("--port", type=int, default=7990)
    parser.add_argument("--client-timeout", type=float, default=60.0, help="seconds a client waits for one HTTP call (default 60)")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as scratch:
        bad_file = Path(scratch) / "broken.jpg"
        bad_file.write_bytes(b"\xff\xd8\xff\xe0 this is not a complete JPEG")
        server_log = Path(scratch) / "server.log"
        server = start_server(args.port, Path(scratch) / "models", server_log)
        url = f"http://127.0.0.1:{args.port}/"
        try:
            wait_until_up(url)
            plan = requests_for(bad_file, IMAGES / "Tom_Hanks_54745.png", IMAGES / "t1.jpg")
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                futures = [
                    pool.submit(run_client, url, plan, args.requests, offset, args.client_timeout) for offset in range(args.clients)
                ]
                outcomes = [outcome for future in futures for outcome in future.result()]
            peak = peak_memory_mb(server.pid)
            print_report(outcomes, time.perf_counter() - started, peak)
            print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")
            alive = server.poll() is None
            print(f"server still running at the end: {alive}")
            if not alive:
                print("server log (tail):\n" + server_log.read_text(errors="replace")[-3000:])
            return 0 if alive and all(o.ok or o.expected_error for o in outcomes) else 1
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
