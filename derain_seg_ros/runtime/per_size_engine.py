"""An ``Engine`` for frames of any size, for offline tools that meet sizes as they come.

ONNX-based engines are compiled for one frame size (their graphs are static, so TensorRT can plan
every kernel), while the torch engine takes any size. Offline tools (``derain-seg infer``,
``derain-seg bag``) do not know their sizes up front: from a checkpoint this builds one engine per
size on first sight, through the factory and its cache, and lets a torch engine serve every size.
An exported ONNX file has only its own size: frames are resized to it and results back, as the
node does with its processing size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from derain_seg_ros.runtime.engine import Engine, EngineOutput, check_frames
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import build_engine
from derain_seg_ros.runtime.resize import resize_back, resize_for_engine
from derain_seg_ros.runtime.small_frames import SmallFrameEngine, spec_smallest_side

log = logging.getLogger(__name__)


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


class FixedSizeEngine:
    """Runs an engine compiled for one size on frames of any size (area-shrunk in, resized back)."""

    def __init__(self, engine: Engine, size: tuple[int, int], source: str) -> None:
        self.engine, self.size, self.source = engine, size, source
        self.name, self.max_batch = engine.name, engine.max_batch
        self._told: set[tuple[int, int]] = set()

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        shape = check_frames(frames).shape[1:3]
        if shape != self.size and shape not in self._told:
            self._told.add(shape)
            log.info(
                "%s has a fixed size of %dx%d: %dx%d frames are resized to it and the results back",
                self.source,
                *self.size,
                *shape,
            )
        out = self.engine.infer([resize_for_engine(f, self.size) for f in frames])
        back = [resize_back(d, lab, shape) for d, lab in zip(out.derained, out.labels)]
        return EngineOutput(np.stack([d for d, _ in back]), np.stack([lab for _, lab in back]))

    def close(self) -> None:
        self.engine.close()


def engine_for_any_size(spec: EngineSpec) -> Engine:
    """What the offline tools run: per-size engines from a checkpoint, or one fixed-size ONNX file.

    After the first build, later sizes go straight to the backend and precision that were chosen,
    so a skipped backend is neither retried nor reported again for every new size.
    """
    if spec.is_onnx_file:
        engine, resolved = build_engine(spec)
        return FixedSizeEngine(engine, resolved.size, spec.checkpoint.name)
    settled: list[EngineSpec] = []

    def build(height: int, width: int) -> Engine:
        engine, resolved = build_engine((settled[0] if settled else spec).with_(size=(height, width)))
        if not settled:
            settled.append(resolved)
        return engine

    # Frames below the networks' smallest size are padded up and cropped back (one size for them all).
    return SmallFrameEngine(PerSizeEngine(build), side_fn=lambda: spec_smallest_side(spec))
