"""PerSizeEngine: one compiled engine per frame size, one torch engine for all sizes."""

from __future__ import annotations

import numpy as np
import pytest

from derain_seg_ros.runtime.engine import EngineOutput
from derain_seg_ros.runtime.per_size_engine import PerSizeEngine


class FakeEngine:
    def __init__(self, name: str, height: int, width: int) -> None:
        self.name, self.max_batch, self.size, self.closed = name, 2, (height, width), False

    def infer(self, frames):
        assert frames[0].shape[:2] == self.size or self.name == "torch"
        n, (h, w) = len(frames), frames[0].shape[:2]
        return EngineOutput(np.zeros((n, h, w, 3), np.uint8), np.full((n, h, w), len(self.name), np.uint8))

    def close(self) -> None:
        self.closed = True


def frame(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def test_one_compiled_engine_per_size() -> None:
    built: list[tuple[int, int]] = []

    def build(h: int, w: int) -> FakeEngine:
        built.append((h, w))
        return FakeEngine("onnxruntime", h, w)

    engine = PerSizeEngine(build)
    assert engine.name == "not built yet"
    for h, w in [(8, 12), (8, 12), (16, 12), (8, 12), (16, 12)]:
        out = engine.infer([frame(h, w)])
        assert out.derained.shape == (1, h, w, 3)
    assert built == [(8, 12), (16, 12)]
    assert engine.name == "onnxruntime" and engine.max_batch == 2
    inner = engine.engines()
    engine.close()
    assert all(e.closed for e in inner) and engine.engines() == []


def test_a_torch_engine_serves_every_size() -> None:
    built: list[tuple[int, int]] = []

    def build(h: int, w: int) -> FakeEngine:  # what make_engine does when it falls back to torch
        built.append((h, w))
        return FakeEngine("torch", h, w)

    engine = PerSizeEngine(build)
    for h, w in [(8, 12), (16, 20), (4, 4)]:
        engine.infer([frame(h, w)])
    assert built == [(8, 12)] and engine.name == "torch"


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        PerSizeEngine(lambda h, w: FakeEngine("x", h, w)).infer([])


def test_later_sizes_go_straight_to_the_backend_chosen_first(monkeypatch, caplog) -> None:
    """auto skips an unavailable backend once, not again for every new frame size (and its log line)."""
    import logging

    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.runtime import factory
    from derain_seg_ros.runtime.engine import BackendUnavailable
    from derain_seg_ros.runtime.engine_spec import EngineSpec
    from derain_seg_ros.runtime.per_size_engine import engine_for_any_size

    tried: list[str] = []

    class Unavailable:
        @staticmethod
        def resolve(spec):
            tried.append(spec.backend)
            raise BackendUnavailable("not here")

    class Compiled:
        @staticmethod
        def resolve(spec):
            tried.append(spec.backend)
            return spec, None

        @staticmethod
        def from_spec(spec):
            return FakeEngine("onnxruntime", *spec.size)

    monkeypatch.setattr(factory, "ENGINES", {"tensorrt": Unavailable, "onnxruntime": Compiled, "torch": Unavailable})
    engine = engine_for_any_size(EngineSpec("auto", config=PipelineConfig.small()))
    with caplog.at_level(logging.INFO):
        for h, w in [(8, 12), (16, 12), (8, 20)]:
            engine.infer([frame(h, w)])
    assert tried == ["tensorrt", "onnxruntime", "onnxruntime", "onnxruntime"]
    assert sum("not here" in r.getMessage() for r in caplog.records) == 1
