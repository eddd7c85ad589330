"""An ``Engine`` for frames of any size, for offline tools that meet sizes as they come.

ONNX-based engines are compiled for one frame size (their graphs are static, so TensorRT can plan
every kernel), while the torch engine takes any size. Offline tools (``derain-seg infer``,
``derain-seg bag``) do not know their sizes up front: this builds one engine per size on first
sight, through ``make_engine`` and its cache, and lets a torch engine serve every size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from derain_seg_ros.runtime.engine import Engine, EngineOutput


class PerSizeEngine:
    """``build(height, width)`` makes the engine for one size (normally a ``make_engine`` call)."""

    def __init__(self, build: Callable[[int, int], Engine]) -> None:
        self._build = build
        self._engines: dict[tuple[int, int], Engine] = {}
        self._any_size: Engine | None = None  # a torch engine, once one was built (fallback or choice)

    @property
    def name(self) -> str:
        names = sorted({e.name for e in self.engines()})
        return "+".join(names) if names else "not built yet"

    @property
    def max_batch(self) -> int:
        return min((e.max_batch for e in self.engines()), default=1)

    def engines(self) -> list[Engine]:
        return [self._any_size] if self._any_size else list(self._engines.values())

    def engine_for(self, height: int, width: int) -> Engine:
        if self._any_size is not None:
            return self._any_size
        engine = self._engines.get((height, width))
        if engine is None:
            engine = self._build(height, width)
            if engine.name == "torch":
                self._any_size = engine
            else:
                self._engines[(height, width)] = engine
        return engine

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        if len(frames) == 0:
            raise ValueError("infer() needs at least one frame")
        height, width = np.asarray(frames[0]).shape[:2]  # the engine itself checks the whole batch
        return self.engine_for(height, width).infer(frames)

    def close(self) -> None:
        for engine in self.engines():
            engine.close()
        self._engines.clear()
        self._any_size = None
