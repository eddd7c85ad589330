"""A TensorRT build honours a stop request (SIGINT/SIGTERM in the node) between build steps.

TensorRT is faked at its Python API's edge (Builder, config, progress monitor): the build is a loop
of steps that asks the progress monitor after each one, as TensorRT 10 does; a False answer makes
``build_serialized_network`` return None, and nothing may be cached."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from derain_seg_ros.runtime import trt_engine
from derain_seg_ros.runtime.trt_engine import BuildCancelled, build_engine_bytes


class FakeMonitorBase:
    def __init__(self) -> None:
        pass


class FakeConfig:
    progress_monitor = None

    def set_memory_pool_limit(self, *args) -> None:
        pass

    def set_flag(self, flag) -> None:
        pass

    def create_timing_cache(self, data: bytes):
        return data

    def set_timing_cache(self, cache, ignore_mismatch: bool) -> None:
        pass

    def get_timing_cache(self):
        return SimpleNamespace(serialize=lambda: b"timing")


class FakeBuilder:
    steps = 10_000  # far longer than the test waits: only a cancel ends it early

    def __init__(self, logger) -> None:
        self.steps_run = 0

    def create_network(self, flags):
        return SimpleNamespace(get_input=lambda i: SimpleNamespace(shape=(1, 8, 8, 3), name="rainy"))

    def create_builder_config(self) -> FakeConfig:
        return FakeConfig()

    def build_serialized_network(self, network, config: FakeConfig):
        for step in range(self.steps):
            self.steps_run += 1
            if config.progress_monitor is not None and not config.progress_monitor.step_complete("tactics", step):
                return None  # TensorRT: a cancelled build returns no engine
        return b"engine"


@pytest.fixture
def fake_trt(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    trt = SimpleNamespace(
        __version__="10.9.0",
        IProgressMonitor=FakeMonitorBase,
        Builder=FakeBuilder,
        Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None}),
        NetworkDefinitionCreationFlag=SimpleNamespace(STRONGLY_TYPED=5),
        OnnxParser=lambda network, logger: SimpleNamespace(parse=lambda data: True, num_errors=0),
        MemoryPoolType=SimpleNamespace(WORKSPACE=0),
        BuilderFlag=SimpleNamespace(FP16=1, BF16=2),
    )
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return trt


def test_a_stop_request_cancels_the_build_within_a_step_and_caches_nothing(fake_trt, tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"graph")
    asked = threading.Event()
    polls = []

    def stop() -> bool:
        polls.append(1)
        if len(polls) == 50:
            asked.set()  # the signal arrives during the build
        return asked.is_set()

    with pytest.raises(BuildCancelled, match="stopped on request"):
        build_engine_bytes(onnx, "fp16", 1, tmp_path / "timing.cache", stop=stop)
    assert 50 <= len(polls) <= 52  # the next step saw it
    assert not (tmp_path / "timing.cache").exists()


def test_without_a_stop_request_the_build_runs_to_its_end(fake_trt, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(FakeBuilder, "steps", 20)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"graph")
    assert build_engine_bytes(onnx, "fp16", 1, tmp_path / "timing.cache", stop=lambda: False) == b"engine"
    assert (tmp_path / "timing.cache").read_bytes() == b"timing"


def test_the_spec_carries_the_stop_request_to_the_build_without_changing_its_key(monkeypatch, tmp_path: Path) -> None:
    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.runtime.engine_spec import EngineSpec

    plain = EngineSpec("tensorrt", config=PipelineConfig.small(), size=(8, 8), cache_dir=tmp_path)
    stop = lambda: False  # noqa: E731
    with_stop = plain.with_(stop=stop)
    assert with_stop == plain and hash(with_stop) == hash(plain) and "stop=" not in repr(with_stop)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"graph")
    received = []
    monkeypatch.setattr(trt_engine, "trt_version", lambda: "10.9.0")
    monkeypatch.setattr(trt_engine, "gpu_name", lambda: "Fake GPU")
    monkeypatch.setattr(trt_engine, "ensure_onnx", lambda spec, half=False: onnx)
    monkeypatch.setattr(trt_engine, "build_engine_bytes", lambda *a, stop=None: received.append(stop) or b"engine")
    monkeypatch.setattr(trt_engine.TensorRTEngine, "__init__", lambda self, engine_bytes: None)
    engine = trt_engine.TensorRTEngine.from_spec(with_stop)
    assert received == [stop] and engine.cache_state == f"built, cached in {tmp_path}"
    assert trt_engine.TensorRTEngine.from_spec(with_stop).cache_state == f"loaded from {tmp_path}"
