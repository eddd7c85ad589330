"""Per-camera health over a sliding window, the way diagnostic_updater's FrequencyStatus keeps it.

A ring of the last ``window`` snapshots of the cumulative counters: counts and rates are the
differences between the newest and the oldest snapshot over the time between them. So one bad
frame warns for one window and then ages out, and a camera that went silent turns STALE instead
of staying OK on its old totals. ROS-free: the node turns ``Status`` into a DiagnosticStatus.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# diagnostic_msgs/DiagnosticStatus levels
OK, WARN, ERROR, STALE = 0, 1, 2, 3
COUNTERS = ("received", "processed", "dropped", "rejected", "failed")


@dataclass(frozen=True)
class Status:
    level: int
    message: str
    values: dict[str, str]


def _fmt(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class CameraMonitor:
    """``window`` snapshots (diagnostic periods) back; ``min_rate_hz`` > 0 warns below that output rate."""

    def __init__(self, start: float, window: int = 5, min_rate_hz: float = 0.0) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1 snapshot, got {window}")
        self.min_rate_hz = min_rate_hz
        self._history: deque[tuple[float, dict[str, int]]] = deque([(start, dict.fromkeys(COUNTERS, 0))], maxlen=window + 1)

    def update(self, now: float, counts: Mapping[str, int], latencies: Sequence[tuple[float, float]] = ()) -> Status:
        """``counts``: cumulative counters; ``latencies``: (time done, seconds) of recent frames."""
        self._history.append((now, {k: int(counts.get(k, 0)) for k in COUNTERS}))
        (t0, old), (t1, new) = self._history[0], self._history[-1]
        span = max(t1 - t0, 1e-9)
        window = {k: new[k] - old[k] for k in COUNTERS}
        in_hz, out_hz = window["received"] / span, window["processed"] / span
        lat = np.array([s for t, s in latencies if t0 < t <= t1], dtype=np.float64) * 1000.0
        values: dict[str, float | int] = {
            "window (s)": span, "input rate (Hz)": in_hz, "output rate (Hz)": out_hz,
            **{f"{k} in window": v for k, v in window.items()},
            **{f"{k} since start": new[k] for k in COUNTERS},
        }
        if lat.size:
            values.update({"latency mean (ms)": float(lat.mean()), "latency p50 (ms)": float(np.percentile(lat, 50)),
                           "latency p99 (ms)": float(np.percentile(lat, 99)), "latency max (ms)": float(lat.max())})
        level, message = self._judge(window, span, out_hz, new["received"])
        return Status(level, message, {k: _fmt(v) for k, v in values.items()})

    def _judge(self, window: dict[str, int], span: float, out_hz: float, ever: int) -> tuple[int, str]:
        if window["received"] == 0:
            return STALE, f"no input for {span:.1f} s" if ever else "no input yet"
        if window["failed"]:
            return ERROR, f"engine failed on {window['failed']} frame(s) in the last {span:.1f} s"
        if window["rejected"]:
            return WARN, f"{window['rejected']} bad frame(s) rejected in the last {span:.1f} s"
        if self.min_rate_hz > 0 and out_hz < self.min_rate_hz:
            return WARN, f"output rate {out_hz:.1f} Hz below the minimum {self.min_rate_hz:g} Hz"
        return OK, f"{out_hz:.1f} Hz out of {window['received'] / span:.1f} Hz in"
