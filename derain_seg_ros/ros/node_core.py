"""The node's logic without ROS: latest-frame slots, batching, stamps, counters, latency.

A stale camera frame is worth nothing to a car, so each camera has one slot: a new frame
replaces a waiting one (and the replaced frame is counted as dropped). One worker takes the
waiting frames of all cameras and runs them as one batch when the engine batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derain_seg_ros.ros.image_msg import ImageMessageError
from derain_seg_ros.runtime.engine import Engine
from derain_seg_ros.runtime.postprocess import overlay
from derain_seg_ros.runtime.resize import resize_back, resize_for_engine

log = logging.getLogger(__name__)


@dataclass
class Frame:
    camera: str
    rgb: np.ndarray
    header: Any  # passed through untouched: stamp and frame_id go out as they came in
    received: float


@dataclass
class Result:
    camera: str
    header: Any
    derained: np.ndarray  # uint8 H x W x 3 RGB, at the input's size
    labels: np.ndarray  # uint8 H x W trainIds
    color: np.ndarray | None  # overlay for rviz
    latency_s: float


@dataclass
class CameraStats:
    received: int = 0
    processed: int = 0
    dropped: int = 0
    rejected: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=500))

    def summary(self) -> dict[str, float]:
        lat = np.array(self.latencies, dtype=np.float64) * 1000
        timing = {"latency_mean_ms": float(lat.mean()), "latency_p50_ms": float(np.percentile(lat, 50)),
                  "latency_p99_ms": float(np.percentile(lat, 99)), "latency_max_ms": float(lat.max())} if lat.size else {}
        return {"received": self.received, "processed": self.processed, "dropped": self.dropped,
                "rejected": self.rejected, **timing}


class NodeCore:
    def __init__(self, engine: Engine, cameras: list[str], publish: Callable[[Result], None], *,
                 process_size: tuple[int, int] | None = None, overlay_alpha: float = 0.5, with_color: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not cameras:
            raise ValueError("NodeCore needs at least one camera")
        self.engine, self.publish, self.clock = engine, publish, clock
        self.process_size, self.overlay_alpha, self.with_color = process_size, overlay_alpha, with_color
        self.stats = {cam: CameraStats() for cam in cameras}
        self._slots: dict[str, Frame | None] = {cam: None for cam in cameras}
        self._cond = threading.Condition()
        self._stop = False
        self.engine_calls = 0
        self._worker = threading.Thread(target=self._run, name="derain-seg-worker", daemon=True)
        self._worker.start()

    def submit(self, camera: str, decode: Callable[[], np.ndarray], header: Any) -> bool:
        """Decode and queue one frame; a bad message is counted as rejected, never raised."""
        now = self.clock()
        with self._cond:
            self.stats[camera].received += 1
        try:
            rgb = decode()
        except ImageMessageError as exc:
            with self._cond:
                self.stats[camera].rejected += 1
            log.warning("%s: dropped a bad frame: %s", camera, exc)
            return False
        with self._cond:
            if self._slots[camera] is not None:
                self.stats[camera].dropped += 1
            self._slots[camera] = Frame(camera, rgb, header, now)
            self._cond.notify()
        return True

    def _take(self) -> list[Frame] | None:
        with self._cond:
            while not self._stop and all(f is None for f in self._slots.values()):
                self._cond.wait()
            if self._stop:
                return None
            frames = [f for f in self._slots.values() if f is not None]
            self._slots = {cam: None for cam in self._slots}
            return frames

    def _run(self) -> None:
        while (frames := self._take()) is not None:
            groups: dict[tuple[int, ...], list[tuple[Frame, np.ndarray]]] = {}
            for frame in frames:
                ready = resize_for_engine(frame.rgb, self.process_size)
                groups.setdefault(ready.shape, []).append((frame, ready))
            for group in groups.values():
                step = max(1, self.engine.max_batch)
                for start in range(0, len(group), step):
                    self._infer(group[start:start + step])

    def _infer(self, batch: list[tuple[Frame, np.ndarray]]) -> None:
        try:
            out = self.engine.infer([ready for _, ready in batch])
            self.engine_calls += 1
        except Exception as exc:  # a failing engine must not kill the node: count, log, go on
            with self._cond:
                for frame, _ in batch:
                    self.stats[frame.camera].rejected += 1
            log.error("engine failed on %d frame(s): %s", len(batch), exc)
            return
        for i, (frame, _) in enumerate(batch):
            derained, labels = resize_back(out.derained[i], out.labels[i], frame.rgb.shape[:2])
            color = overlay(derained, labels, self.overlay_alpha) if self.with_color else None
            latency = self.clock() - frame.received
            try:
                self.publish(Result(frame.camera, frame.header, derained, labels, color, latency))
            except Exception as exc:
                log.error("%s: publishing failed: %s", frame.camera, exc)
                with self._cond:
                    self.stats[frame.camera].rejected += 1
                continue
            with self._cond:
                self.stats[frame.camera].processed += 1
                self.stats[frame.camera].latencies.append(latency)

    def summary(self) -> dict[str, dict[str, float]]:
        with self._cond:
            return {cam: s.summary() for cam, s in self.stats.items()}

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._worker.join(timeout)
        if self._worker.is_alive():
            log.error("worker did not stop within %.1f s", timeout)
