"""The node's logic with a fake engine: dropping, batching, two stages, lazy outputs, stamps,
counters, throttled logs and a bounded shutdown. Every wait is on an event or a condition."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from derain_seg_ros.ros import outputs
from derain_seg_ros.ros.drops import StampGaps
from derain_seg_ros.ros.image_msg import ImageMessageError
from derain_seg_ros.ros.node_core import NodeCore, Result, Throttle
from derain_seg_ros.ros.outputs import COLOR, DERAINED, LABEL, LABEL_RAW, OUTPUT_TOPICS
from derain_seg_ros.runtime.engine import EngineOutput


class FakeEngine:
    """Inverts the image, labels every pixel with the frame's first byte; ``gate`` holds it (a slow GPU)."""

    name = "fake"

    def __init__(self, max_batch: int = 4, fail_on: int | None = None) -> None:
        self.max_batch = max_batch
        self.calls: list[list[int]] = []  # first byte of every frame, per call
        self.done = threading.Condition()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def infer(self, frames):
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        try:
            if self.fail_on is not None and any(f[0, 0, 0] == self.fail_on for f in frames):
                raise RuntimeError("engine exploded")
            batch = np.stack(frames)
            return EngineOutput(
                derained=255 - batch, labels=np.broadcast_to(batch[..., 0, 0, 0, None, None], batch.shape[:3]).copy()
            )
        finally:
            with self.done:
                self.calls.append([int(f[0, 0, 0]) for f in frames])
                self.done.notify_all()

    def wait_calls(self, n: int, timeout: float = 5.0) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.calls) >= n, timeout), f"{len(self.calls)} of {n} engine calls"

    def close(self) -> None:
        pass


class Collector:
    def __init__(self) -> None:
        self.results: list[Result] = []
        self.cond = threading.Condition()

    def __call__(self, result: Result) -> None:
        with self.cond:
            self.results.append(result)
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 5.0) -> list[Result]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.results) >= n, timeout), (
                f"only {len(self.results)} of {n} results"
            )
            return list(self.results)


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
    assert [len(c) for c in engine.calls] == [1, 2]
    by_camera = {r.camera: r for r in results}
    assert by_camera["front"].header == {"stamp": 11, "frame_id": "front_cam"}
    assert by_camera["rear"].header["frame_id"] == "rear_cam"
    assert np.all(by_camera["rear"].images[DERAINED] == 235) and np.all(by_camera["rear"].images[LABEL] == 20)
    assert by_camera["front"].images[COLOR].shape == (4, 6, 3)


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
    assert [len(c) for c in engine.calls] == [1, 2]  # both resized to 8x12 first, so one call
    shapes = {r.camera: {t: img.shape for t, img in r.images.items()} for r in results}
    assert shapes["b"] == {DERAINED: (5, 7, 3), LABEL: (5, 7), COLOR: (5, 7, 3)}
    assert shapes["a"][DERAINED] == shapes["c"][DERAINED] == (16, 24, 3)


def test_bad_frames_and_engine_errors_are_counted_and_the_node_keeps_running() -> None:
    engine, out = FakeEngine(max_batch=1, fail_on=66), Collector()
    core = NodeCore(engine, ["cam"], out)

    def bad() -> np.ndarray:
        raise ImageMessageError("truncated")

    core.submit("cam", bad, None)  # queued undecoded; the inference thread finds it bad
    assert core.wait_for(lambda: core.stats["cam"].counts["rejected"] == 1, 5)
    core.submit("cam", lambda: frame(66), None)
    engine.wait_calls(1)  # the failing frame went through the engine before the next one arrives
    core.submit("cam", lambda: frame(7), {"stamp": 7})
    results = out.wait(1)
    core.shutdown()
    stats = core.summary()["cam"]
    assert results[0].header == {"stamp": 7}
    assert (stats["received"], stats["rejected"], stats["failed"], stats["processed"]) == (3, 1, 1, 1)


def test_post_processing_of_one_frame_overlaps_inference_of_the_next() -> None:
    engine, publishing, release = FakeEngine(max_batch=1), threading.Event(), threading.Event()
    published: list[int] = []

    def slow_publish(result: Result) -> None:
        publishing.set()
        assert release.wait(5)
        published.append(result.header)

    core = NodeCore(engine, ["cam"], slow_publish)
    core.submit("cam", lambda: frame(1), 1)
    assert publishing.wait(2)  # frame 1 is being published (held)...
    core.submit("cam", lambda: frame(2), 2)
    engine.wait_calls(2)  # ...while frame 2 goes through the engine
    assert published == []
    release.set()
    assert core.wait_for(lambda: core.stats["cam"].counts["processed"] == 2, 5)
    core.shutdown()
    assert published == [1, 2]


def test_outputs_nobody_wants_are_not_computed(monkeypatch) -> None:
    overlays: list[int] = []
    real_overlay = outputs.overlay
    monkeypatch.setattr(outputs, "overlay", lambda *a, **k: overlays.append(1) or real_overlay(*a, **k))
    wanted = {"cam": {DERAINED}}
    engine, out = FakeEngine(max_batch=1), Collector()
    core = NodeCore(engine, ["cam"], out, wanted=lambda cam: wanted[cam])
    core.submit("cam", lambda: frame(1), 1)
    first = out.wait(1)[0]
    overlays_for_first = len(overlays)
    wanted["cam"] = set(OUTPUT_TOPICS)
    core.submit("cam", lambda: frame(2), 2)
    second = out.wait(2)[1]
    core.shutdown()
    assert set(first.images) == {DERAINED} and overlays_for_first == 0
    assert set(second.images) == set(OUTPUT_TOPICS) and len(overlays) == 1


def test_finish_computes_only_the_wanted_outputs_at_the_camera_size() -> None:
    derained, labels = np.zeros((8, 12, 3), np.uint8), np.full((8, 12), 7, np.uint8)
    assert outputs.finish(derained, labels, (16, 24), wanted=()) == {}
    only_labels = outputs.finish(derained, labels, (16, 24), wanted={LABEL})
    assert list(only_labels) == [LABEL] and only_labels[LABEL].shape == (16, 24) and np.all(only_labels[LABEL] == 7)
    everything = outputs.finish(derained, labels, (16, 24), overlay_alpha=1.0)
    assert list(everything) == list(OUTPUT_TOPICS)
    assert not np.array_equal(everything[COLOR], everything[DERAINED])  # class 7's colour over black


def test_shutdown_is_bounded_and_nothing_is_published_afterwards() -> None:
    engine, out = FakeEngine(max_batch=1), Collector()
    engine.gate.clear()
    core = NodeCore(engine, ["cam"], out)
    core.submit("cam", lambda: frame(1), 1)
    assert engine.entered.wait(2)  # an inference that will not end before the deadline
    started = time.monotonic()
    assert core.shutdown(timeout=0.3) is False
    assert time.monotonic() - started < 1.5
    engine.gate.set()  # the inference ends after shutdown: its result must not be published
    engine.wait_calls(1)
    core._infer_thread.join(2)
    assert not core._infer_thread.is_alive() and out.results == []
    assert core.submit("cam", lambda: frame(2), 2) is False  # and no frame is taken any more


def test_shutdown_joins_both_threads() -> None:
    core = NodeCore(FakeEngine(), ["cam"], Collector())
    threads = (core._infer_thread, core._post_thread)
    assert all(t.is_alive() for t in threads)
    assert core.shutdown(timeout=2) is True
    assert not any(t.is_alive() for t in threads)


def test_a_burst_of_bad_frames_logs_one_line_per_period() -> None:
    lines: list[str] = []

    class Log:
        def warning(self, message: str) -> None:
            lines.append(message)

        error = warning

    now = [100.0]
    throttle = Throttle(Log(), period_s=5.0, clock=lambda: now[0])
    sent = [throttle("warning", "front", "bad frame") for _ in range(30)]
    assert sent[0] and not any(sent[1:]) and lines == ["bad frame"]
    assert throttle("warning", "rear", "bad frame") is True  # another key is not held back
    now[0] += 5.0
    throttle("warning", "front", "bad frame")
    assert lines[-1] == "bad frame (29 more like it in the last 5 s)"


def test_needs_a_camera() -> None:
    with pytest.raises(ValueError):
        NodeCore(FakeEngine(), [], Collector())


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str) -> None:
        self.lines.append(message)

    error = warning


def test_an_opencv_error_while_decoding_is_a_rejected_frame_not_a_dead_thread() -> None:
    engine, out, log = FakeEngine(max_batch=1), Collector(), Log()
    core = NodeCore(engine, ["cam"], out, logger=log)

    def corrupt_jpeg() -> np.ndarray:  # what cv2 raises on some damaged inputs instead of returning None
        return cv2.cvtColor(np.zeros((4, 6, 5), np.uint8), cv2.COLOR_BGR2RGB)

    core.submit("cam", corrupt_jpeg, {"stamp": 1})
    assert core.wait_for(lambda: core.stats["cam"].counts["rejected"] == 1, 5)
    core.submit("cam", lambda: frame(7), {"stamp": 2})
    results = out.wait(1)
    core.shutdown()
    assert results[0].header == {"stamp": 2} and core.crashed is None
    assert len(log.lines) == 1 and "rejected a bad frame: error:" in log.lines[0]


def test_a_frame_refused_on_arrival_is_rejected_at_once_and_keeps_no_good_frame_from_the_engine() -> None:
    """A malformed frame arriving while the engine is busy must not take the waiting good frame's slot: else,
    under load, bad frames were counted as dropped (not rejected) and the good one was lost for them."""
    engine, out, log = FakeEngine(max_batch=1), Collector(), Log()
    engine.gate.clear()
    core = NodeCore(engine, ["cam"], out, logger=log)
    core.submit("cam", lambda: frame(1), 1)
    assert engine.entered.wait(2)  # the engine is busy with frame 1
    core.submit("cam", lambda: frame(2), 2)  # waits in the slot

    def refuse() -> None:
        raise ImageMessageError("data holds 10 bytes, step x height = 30")

    def never_decoded() -> np.ndarray:
        raise AssertionError("a refused frame was decoded")

    assert [core.submit("cam", never_decoded, 3 + i, refuse) for i in range(3)] == [False] * 3
    counts = core.stats["cam"].counts
    assert (counts["received"], counts["rejected"], counts["dropped"]) == (5, 3, 0)  # counted now, engine busy
    engine.gate.set()
    results = out.wait(2)
    core.shutdown()
    assert [r.header for r in results] == [1, 2]
    assert len(log.lines) == 1 and "cam: rejected a bad frame: data holds 10 bytes" in log.lines[0]


def test_a_check_that_fails_on_a_foreign_message_rejects_the_frame_and_does_not_raise_into_the_callback() -> None:
    engine, out, log = FakeEngine(max_batch=1), Collector(), Log()
    core = NodeCore(engine, ["cam"], out, logger=log)

    def foreign() -> None:  # e.g. a field that is not a number
        int("not a height")

    assert core.submit("cam", lambda: frame(1), 1, foreign) is False
    core.submit("cam", lambda: frame(2), 2)
    results = out.wait(1)
    core.shutdown()
    assert [r.header for r in results] == [2] and core.summary()["cam"]["rejected"] == 1
    assert len(log.lines) == 1 and "cam: rejected a bad frame: ValueError: invalid literal" in log.lines[0]


def test_only_the_frame_that_is_kept_is_decoded_and_in_the_inference_thread() -> None:
    engine, out = FakeEngine(max_batch=1), Collector()
    engine.gate.clear()
    core = NodeCore(engine, ["cam"], out)
    decoded: list[tuple[int, str]] = []

    def decode(value: int):
        return lambda: decoded.append((value, threading.current_thread().name)) or frame(value)

    core.submit("cam", decode(1), 1)
    assert engine.entered.wait(2)
    for value in range(2, 10):  # eight frames while the engine is busy: seven are replaced undecoded
        core.submit("cam", decode(value), value)
    engine.gate.set()
    out.wait(2)
    core.shutdown()
    assert decoded == [(1, "derain-seg-infer"), (9, "derain-seg-infer")]
    assert core.summary()["cam"]["dropped"] == 7


def test_no_inference_while_no_output_has_a_subscriber() -> None:
    wanted: dict[str, set[str]] = {"cam": set()}
    engine, out = FakeEngine(max_batch=1), Collector()
    core = NodeCore(engine, ["cam"], out, wanted=lambda cam: wanted[cam])
    decoded: list[int] = []
    for value in range(5):
        assert core.submit("cam", lambda v=value: decoded.append(v) or frame(v), value) is False
    wanted["cam"] = {LABEL}
    core.submit("cam", lambda: frame(9), 9)
    results = out.wait(1)
    core.shutdown()
    assert engine.calls == [[9]] and decoded == [] and set(results[0].images) == {LABEL}
    stats = core.summary()["cam"]
    assert (stats["received"], stats["idle"], stats["processed"]) == (6, 5, 1)


def test_a_worker_thread_that_dies_says_so_through_on_crash() -> None:
    class BrokenEngine(FakeEngine):
        @property
        def max_batch(self) -> int:
            raise RuntimeError("batch size lost")

        @max_batch.setter
        def max_batch(self, value: int) -> None:
            pass

    crashes: list[str] = []
    done = threading.Event()
    core = NodeCore(BrokenEngine(), ["cam"], Collector(), on_crash=lambda m: crashes.append(m) or done.set())
    core.submit("cam", lambda: frame(1), 1)
    assert done.wait(5)
    core.shutdown(1.0)
    assert len(crashes) == 1 and crashes[0].startswith("the inference thread died: RuntimeError: batch size lost at ")
    assert "\n" not in crashes[0]


def test_frames_lost_before_they_arrived_are_counted_from_stamp_gaps() -> None:
    core = NodeCore(FakeEngine(), ["cam"], Collector(), stamp_ns=lambda header: header, wanted=lambda cam: ())
    period = 33_333_333
    sent = [i for i in range(40) if i not in (10, 11, 20, 30, 31, 32)]  # six frames lost on the way
    for i in sent:
        core.submit("cam", lambda: frame(0), 1_000_000_000 + i * period)
    core.shutdown()
    assert core.summary()["cam"]["lost"] == 6


def test_stamp_gaps_follow_a_camera_that_changes_its_rate_and_restart_on_a_jump() -> None:
    gaps = StampGaps()
    assert sum(gaps.observe(10**9 + i * 10**8) for i in range(20)) == 0  # 10 Hz, none lost
    slow = [gaps.observe(3 * 10**9 + i * 2 * 10**8) for i in range(20)]  # the driver drops to 5 Hz
    assert sum(slow[10:]) == 0  # learnt within the history
    assert gaps.observe(10**12) == 0 and gaps.observe(10**12 + 10**8) == 0  # a bag replayed from elsewhere: no loss


def test_label_raw_is_the_segmenter_on_the_rainy_frame_when_wanted() -> None:
    engine, out = FakeEngine(max_batch=2), Collector()
    calls: list[int] = []

    def segment_rainy(frames):
        calls.append(len(frames))
        return np.stack([np.full(f.shape[:2], 3, np.uint8) for f in frames])

    wanted = {"cam": {LABEL, LABEL_RAW}}
    core = NodeCore(
        engine, ["cam"], out, wanted=lambda cam: wanted[cam], process_size=(2, 3), segment_rainy=segment_rainy
    )
    core.submit("cam", lambda: frame(5), 1)
    first = out.wait(1)[0]
    wanted["cam"] = {LABEL}
    core.submit("cam", lambda: frame(6), 2)
    second = out.wait(2)[1]
    core.shutdown()
    assert set(first.images) == {LABEL, LABEL_RAW} and first.images[LABEL_RAW].shape == (4, 6)
    assert np.all(first.images[LABEL_RAW] == 3) and np.all(first.images[LABEL] == 5)
    assert set(second.images) == {LABEL} and calls == [1]  # not computed when nobody wants it


class CountingCondition:
    """Wraps one of the core's conditions and counts its notifications (the waits pass through)."""

    def __init__(self, cond: threading.Condition) -> None:
        self.cond, self.notified = cond, 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        self.cond.notify(n)

    def notify_all(self) -> None:
        self.notified += 1
        self.cond.notify_all()

    def __getattr__(self, name: str):
        return getattr(self.cond, name)

    def __enter__(self):
        return self.cond.__enter__()

    def __exit__(self, *exc):
        return self.cond.__exit__(*exc)


def test_a_frame_that_arrives_wakes_neither_the_post_thread_nor_a_busy_inference_thread() -> None:
    """30 frames a second per camera: an arrival wakes the inference thread only when its slot was empty
    (it may be waiting for it); replacing a waiting frame, or an idle frame, wakes no worker thread."""
    engine, out = FakeEngine(max_batch=1), Collector()
    engine.gate.clear()
    wanted = {"cam": set(OUTPUT_TOPICS)}
    core = NodeCore(engine, ["cam"], out, wanted=lambda cam: wanted[cam])
    core.submit("cam", lambda: frame(1), 1)
    assert engine.entered.wait(2)  # the inference thread is busy with frame 1
    work, handover = CountingCondition(core._work), CountingCondition(core._handover)
    core._work, core._handover = work, handover
    for value in range(2, 12):  # frame 2 fills the empty slot, 3..11 replace it
        assert core.submit("cam", lambda v=value: frame(v), value)
    wanted["cam"] = set()
    assert core.submit("cam", lambda: frame(12), 12) is False  # nobody listens: idle
    assert (work.notified, handover.notified) == (1, 0)
    counts = core.summary()["cam"]
    assert (counts["received"], counts["dropped"], counts["idle"]) == (12, 9, 1)
    engine.gate.set()
    wanted["cam"] = set(OUTPUT_TOPICS)
    assert [r.header for r in out.wait(2)] == [1, 11]  # the waiting frame still goes through
    core.shutdown()


def test_stamp_gaps_take_the_median_period_as_numpy_does() -> None:
    """The per-message median is plain Python (numpy's costs ~10 us a message): the same value, even and odd."""
    from derain_seg_ros.ros.drops import median

    rng = np.random.default_rng(3)
    for n in range(1, 17):
        for _ in range(50):
            values = [int(v) for v in rng.integers(1, 10**10, n)]
            assert median(values) == float(np.median(values))
    assert median([4, 1, 3, 2]) == 2.5 and median([5, 1, 3]) == 3.0


def test_overlay_and_colours_are_exactly_the_plain_numpy_definition() -> None:
    """The fast OpenCV paths (per-channel LUTs, a masked copy) give the same pixels as the obvious numpy code."""
    from derain_seg_ros.labels import IGNORE_ID, TRAIN_ID_TO_COLOR, colorize
    from derain_seg_ros.runtime.postprocess import overlay

    rng = np.random.default_rng(4)
    for shape in [(1, 1), (4, 1), (1, 4), (7, 5), (48, 64)]:
        rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        labels = rng.integers(0, 22, shape).astype(np.uint8)
        labels[labels >= 19] = IGNORE_ID
        labels.flat[0] = IGNORE_ID
        assert np.array_equal(colorize(labels), TRAIN_ID_TO_COLOR[labels])
        assert np.array_equal(colorize(labels[:, ::2]), TRAIN_ID_TO_COLOR[labels[:, ::2]])  # not contiguous
        for alpha in (0.0, 0.3, 1.0):
            expected = cv2.addWeighted(rgb, 1 - alpha, TRAIN_ID_TO_COLOR[labels], alpha, 0.0)
            expected[labels == IGNORE_ID] = rgb[labels == IGNORE_ID]
            assert np.array_equal(overlay(rgb, labels, alpha), expected)
        before = rgb.copy()
        overlay(rgb, labels)
        assert np.array_equal(rgb, before)  # the input is never written
