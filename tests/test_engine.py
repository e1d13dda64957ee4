from __future__ import annotations

import threading
import time

from facekit.engine import Engine, EngineConfig, SerializedAdapter


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
