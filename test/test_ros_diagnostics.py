"""Windowed camera health, without ROS: rates as diagnostic_updater's FrequencyStatus, STALE, ageing out."""

from __future__ import annotations

import pytest

from derain_seg_ros.ros.diagnostics import ERROR, OK, STALE, WARN, CameraMonitor


def counts(received: int, processed: int, dropped: int = 0, rejected: int = 0, failed: int = 0) -> dict[str, int]:
    return {"received": received, "processed": processed, "dropped": dropped, "rejected": rejected, "failed": failed}


def test_a_camera_that_never_sent_is_stale() -> None:
    status = CameraMonitor(start=0.0).update(1.0, counts(0, 0))
    assert (status.level, status.message) == (STALE, "no input yet")


def test_rates_are_events_in_the_window_over_its_duration() -> None:
    monitor = CameraMonitor(start=0.0, window=4)
    for t in range(1, 9):  # 10 frames in, 8 out per second
        status = monitor.update(float(t), counts(10 * t, 8 * t, dropped=2 * t), [(t - 0.5, 0.020), (t - 0.25, 0.040)])
    assert status.level == OK
    assert float(status.values["input rate (Hz)"]) == pytest.approx(10.0)
    assert float(status.values["output rate (Hz)"]) == pytest.approx(8.0)
    assert status.values["window (s)"] == "4.000"
    assert status.values["dropped in window"] == "8" and status.values["dropped since start"] == "16"
    assert float(status.values["latency p50 (ms)"]) == pytest.approx(30.0)
    assert float(status.values["latency max (ms)"]) == pytest.approx(40.0)


def test_one_bad_frame_warns_for_one_window_then_ages_out() -> None:
    monitor = CameraMonitor(start=0.0, window=3)
    levels = []
    for t in range(1, 8):
        levels.append(monitor.update(float(t), counts(10 * t, 10 * t, rejected=1 if t >= 2 else 0)).level)
    assert levels == [OK, WARN, WARN, WARN, OK, OK, OK]


def test_a_camera_that_goes_silent_turns_stale() -> None:
    monitor = CameraMonitor(start=0.0, window=2)
    assert monitor.update(1.0, counts(10, 10)).level == OK
    monitor.update(2.0, counts(10, 10))
    status = monitor.update(3.0, counts(10, 10))
    assert (status.level, status.message) == (STALE, "no input for 2.0 s")


def test_engine_failures_are_errors_and_a_low_rate_warns() -> None:
    assert CameraMonitor(start=0.0).update(1.0, counts(10, 9, failed=1)).level == ERROR
    slow = CameraMonitor(start=0.0, min_rate_hz=5.0).update(1.0, counts(10, 2))
    assert slow.level == WARN and "below the minimum 5 Hz" in slow.message
