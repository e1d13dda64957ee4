from __future__ import annotations

import logging
import threading

import onnxruntime as ort
import pytest

from facekit.errors import ModelLoadError, ProviderError
from facekit.sessions import CPU, SessionPool, parse_providers, select_providers
from helpers import YUNET_FILE, YUNET_SHA256


def test_same_key_returns_the_same_session(shared_models) -> None:
    pool = SessionPool(providers="cpu")
    first = pool.get(shared_models / YUNET_FILE)
    second = pool.get(shared_models / YUNET_FILE, sha256=YUNET_SHA256)
    assert first is second
    assert first.sha256 == YUNET_SHA256  # hashed once when not given
    assert first.providers == (CPU,)
    assert len(pool) == 1


def test_eight_threads_create_one_session(shared_models, monkeypatch) -> None:
    created: list[str] = []
    real = ort.InferenceSession

    def counting(*args, **kwargs):
        created.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", counting)
    pool = SessionPool()
    barrier = threading.Barrier(8)
    got = []

    def ask() -> None:
        barrier.wait()
        got.append(pool.get(shared_models / YUNET_FILE, sha256=YUNET_SHA256))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert len({id(pooled) for pooled in got}) == 1


def test_lru_eviction_and_clear(shared_models) -> None:
    pool = SessionPool(max_sessions=2)
    files = ["face_detection_yunet_2023mar.onnx", "yunet_s_dynamic.onnx", "mobilefacenet_test.onnx"]
    first = pool.get(shared_models / files[0])
    pool.get(shared_models / files[1])
    pool.get(shared_models / files[0])  # touch: files[1] is now least recently used
    pool.get(shared_models / files[2])
    assert [p.path.name for p in pool.loaded()] == [files[0], files[2]]
    assert pool.get(shared_models / files[0]) is first
    pool.clear()
    assert len(pool) == 0
    assert pool.get(shared_models / files[0]) is not first


def test_providers_are_part_of_the_key(shared_models) -> None:
    auto, cpu_only = SessionPool("auto"), SessionPool("cpu")
    assert auto.get(shared_models / YUNET_FILE).session is not cpu_only.get(shared_models / YUNET_FILE).session


def test_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(ProviderError, match="Unknown execution provider 'cudaa'") as caught:
        parse_providers("cudaa,cpu")
    assert "cuda" in str(caught.value)  # lists what is valid
    with pytest.raises(ProviderError):
        SessionPool(providers="")


def test_provider_names_parse() -> None:
    assert parse_providers("auto") == ("auto",)
    assert parse_providers("CUDA, cpu") == ("CUDAExecutionProvider", CPU)
    assert parse_providers(["dml", "CPUExecutionProvider"]) == ("DmlExecutionProvider", CPU)


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (["CPUExecutionProvider"], (CPU,)),
        (["CUDAExecutionProvider", "CPUExecutionProvider"], ("CUDAExecutionProvider", CPU)),
        (
            ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
            ("TensorrtExecutionProvider", "CUDAExecutionProvider", CPU),
        ),
        (
            ["OpenVINOExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider"],
            ("CoreMLExecutionProvider", "OpenVINOExecutionProvider", CPU),
        ),
        (["ROCMExecutionProvider", "DmlExecutionProvider", "CPUExecutionProvider"], ("DmlExecutionProvider", "ROCMExecutionProvider", CPU)),
    ],
)
def test_auto_prefers_accelerators_in_order(available, expected) -> None:
    assert select_providers(("auto",), available) == (expected, [])


def test_explicit_missing_gpu_provider_warns_and_keeps_cpu() -> None:
    chosen, warnings = select_providers(("CUDAExecutionProvider",), ["CPUExecutionProvider"])
    assert chosen == (CPU,)
    assert len(warnings) == 1 and "CUDAExecutionProvider" in warnings[0] and "requirements-gpu.txt" in warnings[0]


def test_fallback_to_cpu_is_logged(shared_models, monkeypatch, caplog) -> None:
    """A GPU build that offers CUDA but cannot start it: the session runs on CPU, with a warning."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    real = ort.InferenceSession

    def cpu_only_session(path, sess_options=None, providers=None):
        assert providers == ["CUDAExecutionProvider", CPU]  # the pool asked for the GPU first
        return real(path, sess_options=sess_options, providers=[CPU])

    monkeypatch.setattr(ort, "InferenceSession", cpu_only_session)
    with caplog.at_level(logging.WARNING, logger="facekit.sessions"):
        pooled = SessionPool("auto").get(shared_models / YUNET_FILE)
    assert pooled.providers == (CPU,) and not pooled.on_accelerator
    assert any("requested CUDAExecutionProvider" in record.message for record in caplog.records)


def test_a_corrupt_file_gives_a_load_error(tmp_path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelLoadError, match="could not load") as caught:
        SessionPool().get(broken)
    assert "models verify" in str(caught.value)
    with pytest.raises(ModelLoadError, match="not found"):
        SessionPool().get(tmp_path / "missing.onnx")


def test_a_failing_accelerator_run_falls_back_to_cpu(shared_models, caplog) -> None:
    import numpy as np

    from facekit.sessions import FallbackSession, PooledSession

    pool = SessionPool("cpu")
    real = pool.get(shared_models / YUNET_FILE)

    class OutOfMemory:
        def run(self, *args, **kwargs):
            raise RuntimeError("CUDA failure 2: out of memory")

        def get_inputs(self):
            return real.session.get_inputs()

    gpu = PooledSession(OutOfMemory(), real.path, real.sha256, ("CUDAExecutionProvider", CPU), ("CUDAExecutionProvider", CPU))
    fallback = FallbackSession(gpu, lambda: real.session)
    feed = {fallback.get_inputs()[0].name: np.zeros((1, 3, 640, 640), dtype=np.float32)}
    with caplog.at_level(logging.WARNING, logger="facekit.sessions"):
        outputs = fallback.run(None, feed)
    assert len(outputs) == len(real.session.get_outputs())
    assert any("out of memory" in r.message and "CPU" in r.message for r in caplog.records)
    cpu_only = FallbackSession(real, lambda: real.session)
    with pytest.raises(ValueError, match="Required inputs"):  # a CPU session's own errors are not hidden
        cpu_only.run(None, {"wrong": np.zeros(1, dtype=np.float32)})


def test_get_runnable_wraps_the_pooled_session(shared_models) -> None:
    pool = SessionPool("cpu")
    runnable = pool.get_runnable(shared_models / YUNET_FILE)
    assert runnable.get_inputs()[0].shape == [1, 3, 640, 640]
    assert runnable.get_providers() == [CPU]
