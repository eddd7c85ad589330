"""The node's logic with a fake engine: dropping, batching, stamps, counters, shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from derain_seg_ros.ros.image_msg import ImageMessageError
from derain_seg_ros.ros.node_core import NodeCore, Result
from derain_seg_ros.runtime.engine import EngineOutput


class FakeEngine:
    """Inverts the image, labels every pixel with the frame's first byte; can be held to simulate a slow GPU."""

    name = "fake"

    def __init__(self, max_batch: int = 4, fail_on: int | None = None) -> None:
        self.max_batch = max_batch
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def infer(self, frames):
        self.entered.set()
        self.gate.wait(5)
        self.calls.append(len(frames))
        if self.fail_on is not None and any(f[0, 0, 0] == self.fail_on for f in frames):
            raise RuntimeError("engine exploded")
        batch = np.stack(frames)
        return EngineOutput(derained=255 - batch, labels=np.broadcast_to(batch[..., 0, 0, 0, None, None], batch.shape[:3]).copy())

    def close(self) -> None:
        pass


class Collector:
    def __init__(self) -> None:
        self.results: list[Result] = []
        self.lock = threading.Lock()

    def __call__(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)

    def wait(self, n: int, timeout: float = 5.0) -> list[Result]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.results) >= n:
                    return list(self.results)
            time.sleep(0.005)
        raise AssertionError(f"only {len(self.results)} of {n} results arrived")


def frame(value: int, h: int = 4, w: int = 6) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_a_new_frame_replaces_the_waiting_one_and_counts_the_drop() -> None:
    engine, out = FakeEngine(max_batch=1), Collector()
    core = NodeCore(engine, ["cam"], out)
    engine.gate.clear()
    core.submit("cam", lambda: frame(1), {"stamp": 1})
    assert engine.entered.wait(2)  # frame 1 is inside the (held) engine
    for value in (2, 3, 4):  # the slot keeps only the newest
        core.submit("cam", lambda v=value: frame(v), {"stamp": value})
    engine.gate.set()
    results = out.wait(2)
    core.shutdown()
    assert [r.header["stamp"] for r in results] == [1, 4]
    stats = core.summary()["cam"]
    assert (stats["received"], stats["processed"], stats["dropped"], stats["rejected"]) == (4, 2, 2, 0)
    assert stats["latency_max_ms"] >= stats["latency_p50_ms"] > 0


def test_waiting_frames_of_all_cameras_go_in_one_engine_call() -> None:
    engine, out = FakeEngine(max_batch=4), Collector()
    engine.gate.clear()
    core = NodeCore(engine, ["front", "rear", "side"], out)
    core.submit("side", lambda: frame(9), {"stamp": 0})
    assert engine.entered.wait(2)
    core.submit("front", lambda: frame(10), {"stamp": 11, "frame_id": "front_cam"})
    core.submit("rear", lambda: frame(20), {"stamp": 22, "frame_id": "rear_cam"})
    engine.gate.set()
    results = out.wait(3)
    core.shutdown()
    assert engine.calls == [1, 2]
    by_camera = {r.camera: r for r in results}
    assert by_camera["front"].header == {"stamp": 11, "frame_id": "front_cam"}
    assert by_camera["rear"].header["frame_id"] == "rear_cam"
    assert np.all(by_camera["rear"].derained == 235) and np.all(by_camera["rear"].labels == 20)
    assert by_camera["front"].color is not None and by_camera["front"].color.shape == (4, 6, 3)


def test_frames_of_different_sizes_are_batched_separately_and_resized_back() -> None:
    engine, out = FakeEngine(max_batch=4), Collector()
    engine.gate.clear()
    core = NodeCore(engine, ["a", "b", "c"], out, process_size=(8, 12))
    core.submit("c", lambda: frame(1, 16, 24), None)
    assert engine.entered.wait(2)
    core.submit("a", lambda: frame(5, 16, 24), None)
    core.submit("b", lambda: frame(6, 5, 7), None)
    engine.gate.set()
    results = out.wait(3)
    core.shutdown()
    assert engine.calls == [1, 2]  # both resized to 8x12 first, so one call
    shapes = {r.camera: r.derained.shape for r in results}
    assert shapes == {"a": (16, 24, 3), "b": (5, 7, 3), "c": (16, 24, 3)}


def test_bad_frames_and_engine_errors_are_counted_and_the_node_keeps_running() -> None:
    engine, out = FakeEngine(max_batch=1, fail_on=66), Collector()
    core = NodeCore(engine, ["cam"], out)

    def bad() -> np.ndarray:
        raise ImageMessageError("truncated")

    assert core.submit("cam", bad, None) is False
    core.submit("cam", lambda: frame(66), None)
    time.sleep(0.2)
    core.submit("cam", lambda: frame(7), {"stamp": 7})
    results = out.wait(1)
    core.shutdown()
    stats = core.summary()["cam"]
    assert results[0].header == {"stamp": 7}
    assert (stats["received"], stats["rejected"], stats["processed"]) == (3, 2, 1)


def test_shutdown_joins_the_worker() -> None:
    core = NodeCore(FakeEngine(), ["cam"], Collector())
    worker = core._worker
    assert worker.is_alive()
    core.shutdown(timeout=2)
    assert not worker.is_alive()


def test_needs_a_camera() -> None:
    with pytest.raises(ValueError):
        NodeCore(FakeEngine(), [], Collector())
