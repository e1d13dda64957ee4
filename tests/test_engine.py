from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bench.common import gfpgan_ballast
from facekit.engine import Engine, EngineConfig, SerializedAdapter
from facekit.model_ref import ModelRef


class _Unsafe:
    thread_safe = False
    name = "unsafe"

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0

    def work(self) -> int:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.01)
        self.inside -= 1
        return 7


def test_serialized_adapter_runs_one_call_at_a_time() -> None:
    unsafe = _Unsafe()
    wrapped = SerializedAdapter(unsafe)
    threads = [threading.Thread(target=wrapped.work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unsafe.most_inside == 1
    assert wrapped.work() == 7 and wrapped.name == "unsafe"


def test_engine_serialises_dlib_adapters_but_not_onnx_ones(tmp_path, shared_models) -> None:
    engine = Engine(EngineConfig(models_dir=tmp_path, mirrors=(str(shared_models),), offline=True))
    assert isinstance(engine.adapter("dlib_68"), SerializedAdapter)
    assert isinstance(engine.adapter("dlib_resnet"), SerializedAdapter)
    assert not isinstance(engine.adapter("yunet_2023mar"), SerializedAdapter)
    assert engine.adapter("dlib_68") is engine.adapter("dlib_68")  # built once


# ------------------------------------------------------------------ one cache, one lifetime (issue 11 item 7)
BALLAST_MB = 40  # per model: above glibc's largest mmap threshold, so a freed session's memory goes back to the system


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc")
def test_switching_six_restore_models_keeps_two_loaded_and_memory_bounded(tmp_path) -> None:
    paths = [gfpgan_ballast(tmp_path / f"restorer_{i}.onnx", BALLAST_MB, seed=i) for i in range(6)]
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", offline=True, max_sessions=2))
    crop = np.zeros((512, 512, 3), np.uint8)
    samples = []
    for _ in range(2):
        for path in paths:
            restored = engine.restorer(ModelRef(file=path, family="gfpgan")).restore(crop)
            assert np.array_equal(restored, crop)
            assert len(engine.pool) <= 2 and len(engine.loaded_adapters()) <= 2  # adapters go with their sessions
            samples.append(_rss_mb())
    print("RSS MB after each switch:", [round(v) for v in samples])
    # Two models loaded: after the first two loads, RSS may wobble but never grows by another model's worth.
    # (Before issue 11 it grew by about 40 MB per model, to 6 loaded: 400 MB vs 232 MB in bench/bench_memory.py.)
    assert max(samples[2:]) - samples[1] < 1.5 * BALLAST_MB
    assert set(engine.loaded_adapters()) == {f"file:{paths[4].name}", f"file:{paths[5].name}"}


def test_a_cache_hit_keeps_the_adapter_and_eviction_drops_it(tmp_path) -> None:
    paths = [gfpgan_ballast(tmp_path / f"small_{i}.onnx", 1, seed=i) for i in range(3)]  # three different files
    engine = Engine(EngineConfig(models_dir=tmp_path / "models", offline=True, max_sessions=2))
    first = engine.load("restore", ModelRef(file=paths[0], family="gfpgan"))
    engine.load("restore", ModelRef(file=paths[1], family="gfpgan"))
    assert engine.load("restore", ModelRef(file=paths[0], family="gfpgan")) is first  # hit: touches its session too
    engine.load("restore", ModelRef(file=paths[2], family="gfpgan"))  # evicts paths[1], the least recently used
    assert set(engine.loaded_adapters()) == {f"file:{paths[0].name}", f"file:{paths[2].name}"}
    engine.clear()
    assert engine.loaded_adapters() == [] and len(engine.pool) == 0
