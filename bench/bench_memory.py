"""Memory when switching models: one cache with one lifetime (issue 11 item 7).

Builds six restore stand-ins of the GFPGAN family (GFPGAN's I/O, output =
input) that each carry `--megabytes` of weights the graph really reads, then
switches between them twice through `engine.restorer(...)` in a fresh
process per `max_sessions` setting, and prints the resident memory (RSS)
and how many sessions/adapters stay loaded. Run:

    python -m bench.bench_memory            # default: 40 MB models, max_sessions 2 and 8

Each setting runs in its own subprocess, so one setting's freed memory does
not hide the next one's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import gfpgan_ballast
from facekit.engine import Engine, EngineConfig
from facekit.model_ref import ModelRef

MODELS = 6


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def switch_models(folder: Path, max_sessions: int) -> dict[str, object]:
    """Switch between the six models twice; RSS before, at its peak, at the end, and what stayed loaded."""
    paths = sorted(folder.glob("restorer_*.onnx"))
    engine = Engine(EngineConfig(models_dir=folder / "models", offline=True, max_sessions=max_sessions))
    crop = np.zeros((512, 512, 3), np.uint8)
    start = rss_mb()
    samples = []
    for _ in range(2):
        for path in paths:
            engine.restorer(ModelRef(file=path, family="gfpgan")).restore(crop)
            samples.append(rss_mb())
    return {
        "max_sessions": max_sessions,
        "rss_start_mb": round(start),
        "rss_peak_mb": round(max(samples)),
        "rss_end_mb": round(samples[-1]),
        "sessions": len(engine.pool),
        "adapters": len(engine.loaded_adapters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=40, help="weights per model (default 40)")
    parser.add_argument("--max-sessions", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(switch_models(Path(args.child), args.max_sessions[0])))
        return
    with tempfile.TemporaryDirectory() as folder:
        for index in range(MODELS):
            gfpgan_ballast(Path(folder) / f"restorer_{index}.onnx", args.megabytes, seed=index)
        rows = []
        for limit in args.max_sessions:
            command = [sys.executable, "-m", "bench.bench_memory", "--child", folder, "--max-sessions", str(limit)]
            rows.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
    print(f"{MODELS} restore stand-ins of {args.megabytes} MB, each used twice in turn")
    print(f"{'max_sessions':>12} {'RSS start':>10} {'RSS peak':>9} {'RSS end':>8} {'sessions':>9} {'adapters':>9}")
    for row in rows:
        print(
            f"{row['max_sessions']:>12} {row['rss_start_mb']:>8} MB {row['rss_peak_mb']:>6} MB {row['rss_end_mb']:>5} MB"
            f" {row['sessions']:>9} {row['adapters']:>9}"
        )


if __name__ == "__main__":
    main()
