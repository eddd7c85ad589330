"""The node's logic without ROS: latest-frame slots, batching, two stages, counters, shutdown.

A stale camera frame is worth nothing to a car, so each camera has one slot: a new frame
replaces a waiting one (and the replaced frame is counted as dropped). A frame is decoded (JPEG,
Bayer, YUV) only once the inference thread takes it from its slot, so frames that are replaced
cost nothing but their arrival, and the executor thread never decodes. The inference thread takes
the waiting frames of all cameras and runs them as one batch when the engine batches; a second
thread finishes a batch (resize back, overlay, publish) while the engine already runs the next.
Only the outputs someone wants are computed (``wanted``); a frame no output wants is not inferred
at all (counted ``idle``). Frames that never arrived are estimated from stamp gaps (``lost``).
After ``shutdown`` returns, ``publish`` is never called again, even if an inference is still
running: the node can then destroy its publishers and the ROS context safely, within launch's 5 s.
A thread that dies of an unexpected error calls ``on_crash``: the node must not run on as a
zombie that receives but never publishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from derain_seg_ros.ros.diagnostics import COUNTERS
from derain_seg_ros.ros.drops import StampGaps
from derain_seg_ros.ros.image_msg import ImageMessageError
from derain_seg_ros.ros.outputs import LABEL_RAW, OUTPUT_TOPICS, finish
from derain_seg_ros.runtime.engine import Engine, EngineOutput
from derain_seg_ros.runtime.resize import resize_for_engine


class Logger(Protocol):
    """What both ``logging.Logger`` and rclpy's node logger offer."""

    def warning(self, message: str) -> Any: ...

    def error(self, message: str) -> Any: ...


@dataclass
class Frame:
    camera: str
    decode: Callable[[], np.ndarray]  # called in the inference thread, only for a frame that is kept
    header: Any  # passed through untouched: stamp and frame_id go out as they came in
    received: float
    rgb: np.ndarray | None = None  # once decoded


@dataclass
class Inferred:
    frames: list[Frame]
    out: EngineOutput
    raw_labels: np.ndarray | None  # the segmenter on the rainy frames, when someone wants label_raw


@dataclass
class Result:
    camera: str
    header: Any
    images: dict[str, np.ndarray]  # output topic -> image at the input's size, only the wanted ones
    latency_s: float


@dataclass
class CameraStats:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    latencies: deque = field(default_factory=lambda: deque(maxlen=2000))  # (time done, seconds) from arrival
    ages: deque = field(default_factory=lambda: deque(maxlen=2000))  # (time done, seconds) from the header stamp

    def summary(self) -> dict[str, float]:
        lat = np.array([s for _, s in self.latencies], dtype=np.float64) * 1000
        timing = (
            {
                "latency_mean_ms": float(lat.mean()),
                "latency_p50_ms": float(np.percentile(lat, 50)),
                "latency_p99_ms": float(np.percentile(lat, 99)),
                "latency_max_ms": float(lat.max()),
            }
            if lat.size
            else {}
        )
        age = np.array([s for _, s in self.ages], dtype=np.float64) * 1000
        if age.size:
            timing.update({"age_p50_ms": float(np.percentile(age, 50)), "age_max_ms": float(age.max())})
        return {**self.counts, **timing}


def describe_exception(exc: BaseException) -> str:
    """One line: type, message and the innermost place it was raised (``RuntimeError: boom at node.py:12``)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    place = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else ""
    text = " ".join(str(exc).split())  # one line, whatever the message held
    return f"{type(exc).__name__}: {text}{place}"


class Throttle:
    """At most one message per ``key`` every ``period_s``; the next one says how many were held back.

    A bad camera can send 30 broken frames a second: the log (and /rosout) gets one line."""

    def __init__(self, logger: Logger, period_s: float, clock: Callable[[], float]) -> None:
        self.logger, self.period_s, self.clock = logger, period_s, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, level: str, key: str, message: str) -> bool:
        now = self.clock()
        with self._lock:
            if key in self._last and now - self._last[key] < self.period_s:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held = self._held.pop(key, 0)
        suffix = f" ({held} more like it in the last {self.period_s:g} s)" if held else ""
        getattr(self.logger, level)(message + suffix)
        return True


class NodeCore:
    def __init__(
        self,
        engine: Engine,
        cameras: list[str],
        publish: Callable[[Result], None],
        *,
        process_size: tuple[int, int] | None = None,
        overlay_alpha: float = 0.5,
        wanted: Callable[[str], Collection[str]] = lambda camera: OUTPUT_TOPICS,
        logger: Logger | None = None,
        log_period_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        stamp_ns: Callable[[Any], int] | None = None,
        age: Callable[[Any], float] | None = None,
        segment_rainy: Callable[[list[np.ndarray]], np.ndarray] | None = None,
        on_crash: Callable[[str], None] | None = None,
    ) -> None:
        """``stamp_ns(header)``: the header's stamp, to count frames lost before they arrived;
        ``age(header)``: seconds from the header's stamp to now (end-to-end latency, on the node's clock);
        ``segment_rainy``: the segmenter on rainy frames, for ``label_raw``; ``on_crash``: a thread died."""
        if not cameras:
            raise ValueError("NodeCore needs at least one camera")
        self.engine, self.publish, self.wanted, self.clock = engine, publish, wanted, clock
        self.process_size, self.overlay_alpha = process_size, overlay_alpha
        self.stamp_ns, self.age, self.segment_rainy, self.on_crash = stamp_ns, age, segment_rainy, on_crash
        self.log = Throttle(logger or logging.getLogger(__name__), log_period_s, clock)
        self.stats = {cam: CameraStats() for cam in cameras}
        self.gaps = {cam: StampGaps() for cam in cameras}
        self.engine_calls = 0
        self.crashed: str | None = None  # why a thread died
        self._slots: dict[str, Frame | None] = {cam: None for cam in cameras}
        # One lock, three conditions, so that a frame arriving (30 times a second per camera) wakes only the
        # inference thread, and only when it waits for a frame: ``_cond`` for the counters (``wait_for``),
        # ``_work`` for the inference thread's frames, ``_handover`` between the inference and post threads.
        lock = threading.RLock()
        self._cond = threading.Condition(lock)
        self._work = threading.Condition(lock)
        self._handover = threading.Condition(lock)
        self._stop = False
        # Inference -> post-processing: one inferred batch waits here while the next one is inferred.
        self._inferred: Inferred | None = None
        self._infer_done = False
        self._publish_lock = threading.Lock()
        self._closed = False  # set holding the publish lock: no publish and no hand-over after it
        self._infer_thread = threading.Thread(target=self._infer_loop, name="derain-seg-infer", daemon=True)
        self._post_thread = threading.Thread(target=self._post_loop, name="derain-seg-post", daemon=True)
        self._infer_thread.start()
        self._post_thread.start()

    def _count(self, camera: str, counter: str, n: int = 1) -> None:
        with self._cond:
            self.stats[camera].counts[counter] += n
            self._cond.notify_all()

    def _wake_all(self) -> None:
        """Called holding the lock, for what every thread must see (stop, close, a thread ended)."""
        for cond in (self._cond, self._work, self._handover):
            cond.notify_all()

    def submit(
        self, camera: str, decode: Callable[[], np.ndarray], header: Any, check: Callable[[], None] | None = None
    ) -> bool:
        """Queue one frame, undecoded; True if it waits for the engine. Never raises for a bad message:
        ``check`` (cheap: the message's fields) runs now, and a frame it refuses is counted as rejected without
        taking the slot of a good one; ``decode`` runs later, in the inference thread, and a failure there is
        counted as rejected too."""
        now = self.clock()
        stamp = self.stamp_ns(header) if self.stamp_ns is not None else None
        bad = self._refused(check)
        # no subscriber to any output: no inference (asked outside the lock: it may ask DDS)
        wanted = bad is None and self.wanted(camera)
        # One lock hold per message: received moves with idle, dropped or rejected, a snapshot never sees one alone.
        with self._cond:
            if self._stop:
                return False
            counts = self.stats[camera].counts
            counts["received"] += 1
            if stamp is not None:
                counts["lost"] += self.gaps[camera].observe(stamp)
            if bad is not None:
                counts["rejected"] += 1
            elif not wanted:
                counts["idle"] += 1
            else:
                if self._slots[camera] is not None:
                    counts["dropped"] += 1  # the inference thread is busy: it is not waiting, nothing to wake
                else:
                    self._work.notify()
                self._slots[camera] = Frame(camera, decode, header, now)
            self._cond.notify_all()  # wait_for callers only (the worker threads wait on their own conditions)
        if bad is not None:
            self._warn_rejected(camera, bad)
        return bool(wanted)

    @staticmethod
    def _refused(check: Callable[[], None] | None) -> Exception | None:
        """Why ``check`` refuses the frame, or None. Any exception counts (as in decoding): it runs in the
        subscription callback, where one escaping would stop the executor, i.e. the node, for one bad message."""
        if check is None:
            return None
        try:
            check()
        except Exception as exc:
            return exc
        return None

    def _warn_rejected(self, camera: str, exc: Exception) -> None:
        why = str(exc) if isinstance(exc, ImageMessageError) else f"{type(exc).__name__}: {exc}"
        self.log("warning", f"bad-frame/{camera}", f"{camera}: rejected a bad frame: {why}")

    def _decoded(self, frame: Frame) -> np.ndarray | None:
        """The frame at the processing size, or None (counted, logged) for a message that cannot be decoded."""
        try:
            frame.rgb = frame.decode()
            return resize_for_engine(frame.rgb, self.process_size)
        except Exception as exc:  # ImageMessageError, and whatever OpenCV's decoders raise (cv2.error)
            self._count(frame.camera, "rejected")
            self._warn_rejected(frame.camera, exc)
            return None

    def _crashed(self, where: str, exc: BaseException) -> None:
        self.crashed = f"the {where} thread died: {describe_exception(exc)}"
        with self._cond:
            self._stop = True
            self._wake_all()
        if self.on_crash is not None:
            self.on_crash(self.crashed)
        else:
            self.log("error", "crash", self.crashed)

    def _take(self) -> list[Frame] | None:
        with self._work:
            while not self._stop and all(f is None for f in self._slots.values()):
                self._work.wait()
            if self._stop:
                return None
            frames = [f for f in self._slots.values() if f is not None]
            self._slots = {cam: None for cam in self._slots}
            return frames

    def _infer_loop(self) -> None:
        try:
            while (frames := self._take()) is not None:
                groups: dict[tuple[int, ...], list[tuple[Frame, np.ndarray]]] = {}
                for frame in frames:
                    if (ready := self._decoded(frame)) is not None:
                        groups.setdefault(ready.shape, []).append((frame, ready))
                for group in groups.values():
                    step = max(1, self.engine.max_batch)
                    for start in range(0, len(group), step):
                        self._infer(group[start : start + step])
        except Exception as exc:  # a bug, not a bad frame: the node must end and say so, not run on deaf
            self._crashed("inference", exc)
        finally:
            with self._cond:
                self._infer_done = True
                self._wake_all()

    def _infer(self, batch: list[tuple[Frame, np.ndarray]]) -> None:
        try:
            out = self.engine.infer([ready for _, ready in batch])
            raw = None
            if self.segment_rainy is not None and any(LABEL_RAW in self.wanted(frame.camera) for frame, _ in batch):
                raw = self.segment_rainy([ready for _, ready in batch])
        except Exception as exc:  # a failing engine must not kill the node: count, log, go on
            for frame, _ in batch:
                self._count(frame.camera, "failed")
            self.log("error", "engine", f"engine failed on {len(batch)} frame(s): {type(exc).__name__}: {exc}")
            return
        with self._handover:
            self.engine_calls += 1
            self._handover.wait_for(lambda: self._inferred is None or self._closed)
            self._inferred = Inferred([frame for frame, _ in batch], out, raw)
            self._handover.notify_all()
            self._cond.notify_all()

    def _next_inferred(self) -> Inferred | None:
        with self._handover:
            self._handover.wait_for(lambda: self._inferred is not None or self._infer_done or self._closed)
            item, self._inferred = (None, self._inferred) if self._closed else (self._inferred, None)
            self._handover.notify_all()
            return item

    def _post_loop(self) -> None:
        try:
            while (item := self._next_inferred()) is not None:
                for i, frame in enumerate(item.frames):
                    raw = item.raw_labels[i] if item.raw_labels is not None else None
                    if not self._finish_one(frame, item.out.derained[i], item.out.labels[i], raw):
                        return
        except Exception as exc:
            self._crashed("post-processing", exc)

    def _finish_one(
        self, frame: Frame, derained: np.ndarray, labels: np.ndarray, raw_labels: np.ndarray | None
    ) -> bool:
        """Post-process and publish one frame; False once the core is closed."""
        try:
            images = finish(
                derained, labels, frame.rgb.shape[:2], self.overlay_alpha, self.wanted(frame.camera), raw_labels
            )
        except Exception as exc:
            self._count(frame.camera, "failed")
            self.log("error", f"post/{frame.camera}", f"{frame.camera}: post-processing failed: {exc}")
            return True
        latency = self.clock() - frame.received
        age = self.age(frame.header) if self.age is not None else None
        with self._publish_lock:
            if self._closed:
                return False
            try:
                self.publish(Result(frame.camera, frame.header, images, latency))
            except Exception as exc:
                self._count(frame.camera, "failed")
                self.log("error", f"publish/{frame.camera}", f"{frame.camera}: publishing failed: {exc}")
                return True
        with self._cond:
            self.stats[frame.camera].counts["processed"] += 1
            self.stats[frame.camera].latencies.append((self.clock(), latency))
            if age is not None:
                self.stats[frame.camera].ages.append((self.clock(), age))
            self._cond.notify_all()
        return True

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` (called under the core's lock) holds, or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def snapshot(self) -> dict[str, tuple[dict[str, int], list[tuple[float, float]], list[tuple[float, float]]]]:
        """Per camera: the cumulative counters, the recent (time done, latency) and (time done, age) pairs."""
        with self._cond:
            return {cam: (dict(s.counts), list(s.latencies), list(s.ages)) for cam, s in self.stats.items()}

    def summary(self) -> dict[str, dict[str, float]]:
        with self._cond:
            return {cam: s.summary() for cam, s in self.stats.items()}

    def shutdown(self, timeout: float = 3.0) -> bool:
        """Stop both threads, waiting at most ``timeout`` for an inference in flight; afterwards
        ``publish`` is never called again. True if both threads ended in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._stop = True
            self._wake_all()
        self._infer_thread.join(max(0.0, deadline - time.monotonic()))
        self._post_thread.join(max(0.0, deadline - time.monotonic()))  # publishes what was inferred in time
        locked = self._publish_lock.acquire(timeout=max(0.1, deadline - time.monotonic()))
        with self._cond:
            self._closed = True
            self._wake_all()
        if not locked:
            self.log("error", "shutdown", "a publish call did not return in time; closing anyway")
            return False
        self._publish_lock.release()
        done = not (self._infer_thread.is_alive() or self._post_thread.is_alive())
        if not done:
            self.log(
                "error", "shutdown", f"an inference was still running after {timeout:.1f} s; its result is dropped"
            )
        return done
